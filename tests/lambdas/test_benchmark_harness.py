"""The benchmarks' own machinery: what they count and how they run a child process."""

from __future__ import annotations

import io
import json
import random
import sys
import threading
from collections import Counter
from pathlib import Path

import aws_cdk as cdk
import pytest

from benchmarks._measure import Run, run_once
from benchmarks.audit_read import LatencyS3
from benchmarks.audit_read import run as read_logs
from benchmarks.l1_vs_l2 import PIECES, Build
from benchmarks.replication import (
    DEST_REGION,
    FakeEc2,
    Faults,
    World,
    metric_counts,
    new_snap,
    tally,
)
from benchmarks.synth import rebuild_templates
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


def test_the_template_floor_rebuilds_every_template_with_its_resources(tmp_path: Path) -> None:
    # The template floor is only a floor if it makes the same resources, nested assemblies too.
    resources = {
        "Queue4A7E3555": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}},
        "QueuePolicy25439813": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "Queue4A7E3555"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": []},
            },
        },
        "Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"},
    }
    (tmp_path / "assembly-Stage").mkdir()
    (tmp_path / "assembly-Stage" / "A.template.json").write_text(
        json.dumps({"Resources": resources})
    )
    handle = {"Other": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
    (tmp_path / "B.template.json").write_text(json.dumps({"Resources": handle}))
    outdir = tmp_path / "out"
    app = cdk.App(outdir=str(outdir))
    assert rebuild_templates(app, str(tmp_path)) == 2
    app.synth()
    # Sorted by path: B.template.json, then assembly-Stage/A.template.json.
    rebuilt = [
        json.loads((outdir / f"Template{index}.template.json").read_text())["Resources"]
        for index in range(2)
    ]
    assert rebuilt == [handle, resources]


def _resource_types(build: Build, tmp_path: Path) -> Counter[str]:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Piece")
    build(stack)
    app.synth()
    template = json.loads((tmp_path / "Piece.template.json").read_text())
    return Counter(resource["Type"] for resource in template["Resources"].values())


@pytest.mark.parametrize("piece", list(PIECES))
def test_each_typed_l1_piece_makes_the_resources_of_its_l2_piece(
    piece: str, tmp_path: Path
) -> None:
    # Otherwise the ratio compares different amounts of work.
    with_l2, with_l1 = PIECES[piece]
    assert _resource_types(with_l1, tmp_path / "l1") == _resource_types(with_l2, tmp_path / "l2")
