"""Replication benchmark: 500 snapshot events through the copier, with faults, on a virtual clock.

    python benchmarks/replication.py [--events 500] [--seed 7]

The real runtime (``lambda_src/snapshot_replicator``: parsing, workflow, the ``kmskit.snapshots``
engine, retries and dead-lettering) runs against an in-memory fake of EC2, RDS, SQS and
EventBridge at the boto3-client level. The fake enforces the copy limits (20 concurrent copies
per destination Region, 5 for Aurora cluster snapshots), takes 30-120 virtual minutes per copy,
and the benchmark injects:

* duplicate deliveries (30% of events twice, 10% three times, some in the same batch);
* throttling (``ThrottlingException`` on 5% of EC2/RDS calls);
* lost events (3% of RDS events never arrive; the hourly sweep must find those sources).

It reports copies made, lost and duplicated (target 500 / 0 / 0; duplicated counts every copy
started beyond the first of a source, also one the sweep has deleted again), the ``CopiesStarted``
and ``CopiesCompleted`` metrics the copier emitted (target: each equal to the copies made, however
often an event was delivered), messages dead-lettered, and AWS API calls per copied snapshot, as a
ratio to a fault-free baseline run in the same process.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmskit.snapshots.model import TAG_COPY_KEY, TAG_MANAGED_BY  # noqa: E402
from lambda_src.snapshot_replicator.config import Config  # noqa: E402
from lambda_src.snapshot_replicator.handler import Runtime  # noqa: E402
from lambda_src.snapshot_replicator.logs import JsonLogger  # noqa: E402
from lambda_src.snapshot_replicator.sweep import sweep  # noqa: E402

ACCOUNT = "111111111111"
SOURCE_REGION = "eu-west-1"
DEST_REGION = "eu-central-1"
DEST_KEY = f"arn:aws:kms:{DEST_REGION}:{ACCOUNT}:key/dest"
LIMITS = {"EBS": 20, "RDS": 20, "AURORA": 5}
QUEUE_VISIBILITY = 720
MAX_RECEIVES = 24


@dataclass
class Snap:
    kind: str
    id: str
    region: str
    tags: dict[str, str]
    created: datetime
    done_at: float  # virtual second the copy completes (0: already complete)
    kms_key: str | None = None


@dataclass
class Faults:
    throttle: float = 0.0
    duplicate_twice: float = 0.0
    duplicate_thrice: float = 0.0
    lost_rds_events: float = 0.0


@dataclass
class World:
    """The fake AWS: snapshots by Region, the queue, counters."""

    rng: random.Random
    faults: Faults
    now: float = 0.0
    snaps: dict[str, Snap] = field(default_factory=dict)
    calls: int = 0
    queue: list[dict[str, Any]] = field(default_factory=list)
    dead: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    started: Counter[str] = field(default_factory=Counter)
    """Copies ever started, by ``kmskit:copy-key``: the sweep deletes extra copies, so the
    copies left at the end cannot show a duplicate that was made and removed again."""

    def state(self, snap: Snap) -> str:
        return "pending" if self.now < snap.done_at else "available"

    def pending(self, kind: str, region: str) -> int:
        return sum(
            1
            for s in self.snaps.values()
            if s.kind == kind and s.region == region and self.now < s.done_at
        )

    def call(self, operation: str, throttle: bool = True) -> None:
        self.calls += 1
        if throttle and self.rng.random() < self.faults.throttle:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation
            )


def error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeEc2:
    def __init__(self, world: World, region: str) -> None:
        self.world, self.region = world, region

    def can_paginate(self, operation: str) -> bool:
        return False

    def _row(self, s: Snap) -> dict[str, Any]:
        pending = self.world.state(s) == "pending"
        return {
            "SnapshotId": s.id,
            "OwnerId": ACCOUNT,
            "State": "pending" if pending else "completed",
            "Progress": "50%" if pending else "100%",
            "Encrypted": True,
            "KmsKeyId": s.kms_key,
            "StartTime": s.created,
            "Tags": [{"Key": k, "Value": v} for k, v in s.tags.items()],
        }

    def describe_snapshots(self, **params: Any) -> dict[str, Any]:
        self.world.call("DescribeSnapshots")
        rows = [s for s in self.world.snaps.values() if s.kind == "EBS" and s.region == self.region]
        if "SnapshotIds" in params:
            rows = [s for s in rows if s.id in params["SnapshotIds"]]
        for f in params.get("Filters", []):
            key = f["Name"].removeprefix("tag:")
            rows = [s for s in rows if s.tags.get(key) in f["Values"]]
        return {"Snapshots": [self._row(s) for s in rows]}

    def copy_snapshot(self, **params: Any) -> dict[str, Any]:
        self.world.call("CopySnapshot")
        if self.world.pending("EBS", self.region) >= LIMITS["EBS"]:
            raise error("ResourceLimitExceeded", "CopySnapshot")
        tags = {t["Key"]: t["Value"] for t in params["TagSpecifications"][0]["Tags"]}
        snap = new_snap(self.world, "EBS", self.region, tags, copying=True)
        snap.kms_key = params["KmsKeyId"]
        return {"SnapshotId": snap.id}

    def delete_snapshot(self, **params: Any) -> dict[str, Any]:
        self.world.call("DeleteSnapshot", throttle=False)
        self.world.snaps.pop(params["SnapshotId"], None)
        return {}


class FakeRds:
    def __init__(self, world: World, region: str) -> None:
        self.world, self.region = world, region

    def can_paginate(self, operation: str) -> bool:
        return False

    def _row(self, s: Snap) -> dict[str, Any]:
        cluster = s.kind == "AURORA"
        kind = "cluster-snapshot" if cluster else "snapshot"
        prefix = "DBClusterSnapshot" if cluster else "DBSnapshot"
        return {
            f"{prefix}Identifier": s.id,
            f"{prefix}Arn": f"arn:aws:rds:{s.region}:{ACCOUNT}:{kind}:{s.id}",
            "Status": "creating" if self.world.state(s) == "pending" else "available",
            # The engine refuses unencrypted Aurora sources; every fake source is encrypted.
            "StorageEncrypted" if cluster else "Encrypted": True,
            "SnapshotCreateTime": s.created,
            "TagList": [{"Key": k, "Value": v} for k, v in s.tags.items()],
        }

    def _find(self, kind: str, ident: str) -> list[Snap]:
        ident = ident.rsplit(":", 1)[-1] if ident.startswith("arn:") else ident
        return [
            s
            for s in self.world.snaps.values()
            if s.kind == kind and s.region == self.region and s.id.rsplit(":", 1)[-1] == ident
        ]

    def _list(self, kind: str, params: dict[str, Any]) -> list[Snap]:
        key = "DBClusterSnapshotIdentifier" if kind == "AURORA" else "DBSnapshotIdentifier"
        if key in params:
            return self._find(kind, params[key])
        return [s for s in self.world.snaps.values() if s.kind == kind and s.region == self.region]

    def describe_db_snapshots(self, **params: Any) -> dict[str, Any]:
        self.world.call("DescribeDBSnapshots")
        return {"DBSnapshots": [self._row(s) for s in self._list("RDS", params)]}

    def describe_db_cluster_snapshots(self, **params: Any) -> dict[str, Any]:
        self.world.call("DescribeDBClusterSnapshots")
        return {"DBClusterSnapshots": [self._row(s) for s in self._list("AURORA", params)]}

    def _copy(self, kind: str, target: str, params: dict[str, Any]) -> Snap:
        self.world.call(f"Copy{kind}")
        if self._find(kind, target):
            exists = "DBSnapshotAlreadyExists"
            if kind == "AURORA":
                exists = "DBClusterSnapshotAlreadyExistsFault"
            raise error(exists, "Copy")
        if self.world.pending(kind, self.region) >= LIMITS[kind]:
            raise error("SnapshotQuotaExceeded", "Copy")
        tags = {t["Key"]: t["Value"] for t in params["Tags"]}
        snap = new_snap(self.world, kind, self.region, tags, copying=True, ident=target)
        snap.kms_key = params["KmsKeyId"]
        return snap

    def copy_db_snapshot(self, **params: Any) -> dict[str, Any]:
        snap = self._copy("RDS", params["TargetDBSnapshotIdentifier"], params)
        return {"DBSnapshot": self._row(snap)}

    def copy_db_cluster_snapshot(self, **params: Any) -> dict[str, Any]:
        snap = self._copy("AURORA", params["TargetDBClusterSnapshotIdentifier"], params)
        return {"DBClusterSnapshot": self._row(snap)}


class FakeSqs:
    def __init__(self, world: World) -> None:
        self.world = world

    def send_message_batch(self, **params: Any) -> dict[str, Any]:
        self.world.call("SendMessageBatch", throttle=False)
        for entry in params["Entries"]:
            enqueue(self.world, entry["MessageBody"], delay=entry.get("DelaySeconds", 0))
        return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}

    def send_message(self, **params: Any) -> dict[str, Any]:
        self.world.call("SendMessage", throttle=False)
        self.world.dead.append(params)
        return {"MessageId": "dead"}

    def change_message_visibility(self, **params: Any) -> dict[str, Any]:
        self.world.call("ChangeMessageVisibility", throttle=False)
        for message in self.world.queue:
            if message["receiptHandle"] == params["ReceiptHandle"]:
                message["visible_at"] = self.world.now + params["VisibilityTimeout"]
        return {}


def new_snap(
    world: World,
    kind: str,
    region: str,
    tags: dict[str, str],
    *,
    copying: bool,
    ident: str | None = None,
) -> Snap:
    number = next(world.ids)
    if ident is None:
        ident = f"snap-{number:017x}" if kind == "EBS" else f"db-{number}"
    done = world.now + world.rng.uniform(1800, 7200) if copying else 0.0
    if copying:
        world.started[tags.get(TAG_COPY_KEY, ident)] += 1
    snap = Snap(kind, ident, region, tags, datetime.now(UTC), done)
    world.snaps[ident] = snap
    return snap


def enqueue(world: World, body: str, delay: float = 0) -> None:
    world.queue.append(
        {"body": body, "visible_at": world.now + delay, "receives": 0, "receiptHandle": ""}
    )


def source_event(snap: Snap) -> dict[str, Any]:
    if snap.kind == "EBS":
        arn = f"arn:aws:ec2::{SOURCE_REGION}:snapshot/{snap.id}"
        return {
            "version": "0",
            "id": f"evt-{snap.id}",
            "detail-type": "EBS Snapshot Notification",
            "source": "aws.ec2",
            "account": ACCOUNT,
            "region": SOURCE_REGION,
            "time": "2026-11-20T10:00:00Z",
            "resources": [arn],
            "detail": {"event": "createSnapshot", "result": "succeeded", "snapshot_id": arn},
        }
    cluster = snap.kind == "AURORA"
    kind = "cluster-snapshot" if cluster else "snapshot"
    arn = f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:{kind}:{snap.id}"
    return {
        "version": "0",
        "id": f"evt-{snap.id}",
        "detail-type": "RDS DB Cluster Snapshot Event" if cluster else "RDS DB Snapshot Event",
        "source": "aws.rds",
        "account": ACCOUNT,
        "region": SOURCE_REGION,
        "time": "2026-11-20T10:00:00Z",
        "resources": [arn],
        "detail": {
            "EventID": "RDS-EVENT-0075" if cluster else "RDS-EVENT-0042",
            "SourceArn": arn,
            "SourceIdentifier": snap.id,
            "SourceType": "SNAPSHOT",
        },
    }


@dataclass
class Result:
    sources: int
    made: int
    lost: int
    duplicated: int
    dead_lettered: int
    calls: int
    virtual_hours: float
    batches: int
    metrics: Counter[str] = field(default_factory=Counter)

    @property
    def calls_per_copy(self) -> float:
        return self.calls / max(self.made, 1)


def run(events: int, faults: Faults, seed: int) -> Result:
    world = World(rng=random.Random(seed), faults=faults)
    clients: dict[tuple[str, str], Any] = {}

    def factory(service: str, region: str) -> Any:
        if (service, region) not in clients:
            fake = {"ec2": FakeEc2, "rds": FakeRds}.get(service)
            clients[(service, region)] = fake(world, region) if fake else FakeSqs(world)
        return clients[(service, region)]

    config = Config.from_mapping(
        {
            "mode": "replicator",
            "replicator_id": "bench",
            "account": ACCOUNT,
            "region": SOURCE_REGION,
            "resource_types": ["EBS", "RDS", "AURORA"],
            "queue_url": "queue",
            "dead_letter_queue_url": "dlq",
            "max_receive_count": MAX_RECEIVES,
            "selection_tag": ["backup", "replicate"],
            "destinations": [{"region": DEST_REGION, "kms_key_arn": DEST_KEY}],
            "retention_days": 14,
            "sweep_window_days": 1,
        }
    )
    log = JsonLogger(io.StringIO())
    log.lines = []
    runtime = Runtime(config=config, clients=factory, log=log, clock=lambda: world.now)
    kinds = ["EBS"] * 6 + ["RDS"] * 3 + ["AURORA"]
    selected = {"backup": "replicate"}
    sources = [
        new_snap(world, kinds[i % len(kinds)], SOURCE_REGION, selected, copying=False)
        for i in range(events)
    ]
    rng = world.rng
    for snap in sources:
        if snap.kind != "EBS" and rng.random() < faults.lost_rds_events:
            continue  # RDS events are best effort: this one never arrives
        body = json.dumps(source_event(snap))
        copies = 1
        roll = rng.random()
        if roll < faults.duplicate_thrice:
            copies = 3
        elif roll < faults.duplicate_thrice + faults.duplicate_twice:
            copies = 2
        for n in range(copies):
            enqueue(world, body, delay=0 if n == 0 else rng.choice([0, 0, 30, 600]))

    batches = 0
    next_sweep = 3600.0
    limit = 7 * 86400
    while world.now < limit:
        visible = [m for m in world.queue if m["visible_at"] <= world.now]
        if not visible:
            pending = [s.done_at for s in world.snaps.values() if s.done_at > world.now]
            upcoming = [m["visible_at"] for m in world.queue] + pending + [next_sweep]
            world.now = min(upcoming) if world.queue or pending else next_sweep
            if not world.queue and not pending and world.now > 4 * 3600:
                break
        else:
            batch = visible[:10]
            records = []
            for index, message in enumerate(batch):
                message["receives"] += 1
                message["receiptHandle"] = f"h-{batches}-{index}"
                message["visible_at"] = world.now + QUEUE_VISIBILITY
                records.append(
                    {
                        "messageId": message["receiptHandle"],
                        "receiptHandle": message["receiptHandle"],
                        "body": message["body"],
                        "attributes": {"ApproximateReceiveCount": str(message["receives"])},
                    }
                )
            response = runtime.process(records)
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            for message in batch:
                if message["receiptHandle"] not in failed:
                    world.queue.remove(message)
                elif message["receives"] >= MAX_RECEIVES:
                    world.queue.remove(message)  # the queue's redrive policy
                    world.dead.append({"MessageBody": message["body"]})
            batches += 1
            world.now += 1
        if world.now >= next_sweep:
            sweep(runtime)
            next_sweep += 3600

    made, duplicated = tally(world)
    return Result(
        sources=events,
        made=made,
        lost=events - made,
        duplicated=duplicated,
        dead_lettered=len(world.dead),
        calls=world.calls,
        virtual_hours=world.now / 3600,
        batches=batches,
        metrics=metric_counts(log.lines),
    )


def metric_counts(lines: list[dict[str, Any]]) -> Counter[str]:
    """How often each metric was emitted (CloudWatch embedded metric format lines)."""
    counts: Counter[str] = Counter()
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                counts[metric["Name"]] += int(line.get(metric["Name"], 1))
    return counts


def tally(world: World) -> tuple[int, int]:
    """Sources with a copy in the destination Region at the end, and copies made beyond the
    first of each source (including those the sweep has deleted since)."""
    present = {
        snap.tags[TAG_COPY_KEY]
        for snap in world.snaps.values()
        if snap.region == DEST_REGION and snap.tags.get(TAG_MANAGED_BY)
    }
    return len(present), sum(n - 1 for n in world.started.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    baseline = run(args.events, Faults(), args.seed)
    faulty = run(
        args.events,
        Faults(throttle=0.05, duplicate_twice=0.30, duplicate_thrice=0.10, lost_rds_events=0.03),
        args.seed,
    )
    print(f"replication benchmark: {args.events} snapshot events, seed {args.seed}")
    print(
        f"{'run':<10} {'made':>5} {'lost':>5} {'dup':>5} {'started':>8} {'completed':>10} "
        f"{'dead':>5} {'API calls':>10} {'calls/copy':>11} {'ratio':>6} {'virtual h':>10}"
    )
    for name, result in (("baseline", baseline), ("faults", faulty)):
        print(
            f"{name:<10} {result.made:>5} {result.lost:>5} {result.duplicated:>5} "
            f"{result.metrics['CopiesStarted']:>8} {result.metrics['CopiesCompleted']:>10} "
            f"{result.dead_lettered:>5} {result.calls:>10} {result.calls_per_copy:>11.2f} "
            f"{result.calls_per_copy / baseline.calls_per_copy:>6.2f} {result.virtual_hours:>10.1f}"
        )
    ok = faulty.made == args.events and faulty.lost == 0 and faulty.duplicated == 0
    counted = all(
        result.metrics["CopiesStarted"] == result.made == result.metrics["CopiesCompleted"]
        for result in (baseline, faulty)
    )
    print(f"target {args.events}/0/0:", "met" if ok else "MISSED")
    print("metrics: each copy started and completed counted once:", "yes" if counted else "NO")
    ok = ok and counted
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
