"""The benchmarks' own machinery: what they count and how they run a child process."""

from __future__ import annotations

import io
import random
import sys
import threading

from benchmarks._measure import Run, run_once
from benchmarks.audit_read import LatencyS3
from benchmarks.audit_read import run as read_logs
from benchmarks.replication import (
    DEST_REGION,
    FakeEc2,
    Faults,
    World,
    metric_counts,
    new_snap,
    tally,
)
from kmskit.snapshots.model import TAG_COPY_KEY, TAG_MANAGED_BY
from lambda_src.snapshot_replicator.logs import JsonLogger


def test_a_duplicate_the_sweep_deleted_still_counts() -> None:
    world = World(rng=random.Random(1), faults=Faults())
    tags = {TAG_MANAGED_BY: "kmskit-snapshots", TAG_COPY_KEY: "k1"}
    first = new_snap(world, "EBS", DEST_REGION, dict(tags), copying=True)
    second = new_snap(world, "EBS", DEST_REGION, dict(tags), copying=True)
    new_snap(world, "EBS", DEST_REGION, {**tags, TAG_COPY_KEY: "k2"}, copying=True)
    assert first.id != second.id
    FakeEc2(world, DEST_REGION).delete_snapshot(SnapshotId=second.id)  # the sweep's clean-up
    assert tally(world) == (2, 1)


def test_metrics_are_counted_from_the_lines_the_copier_emits() -> None:
    log = JsonLogger(io.StringIO())
    log.lines = []
    log.metric("CopiesCompleted", "bench")
    log.info("copy started", snapshot="snap-1")
    log.metric("CopiesCompleted", "bench")
    log.metric("CopiesStarted", "bench", 3)
    assert metric_counts(log.lines) == {"CopiesCompleted": 2, "CopiesStarted": 3}


def test_run_once_survives_a_child_that_writes_much_to_stderr() -> None:
    # More than a pipe holds (64 KiB): with stderr on an unread pipe the child never exits.
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('x' * 300_000)"]
    result: list[Run] = []
    worker = threading.Thread(target=lambda: result.append(run_once(argv)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert result, "run_once did not return within 30 s"
    assert result[0].seconds > 0


def test_the_audit_read_benchmark_reads_every_record_of_every_file() -> None:
    # Its S3 stand-in must behave as the reader needs (a body read in chunks, then closed):
    # run() raises when a file or a record is missing.
    assert read_logs(LatencyS3(objects=5, records=7, latency=0.0), workers=2) > 0
