"""The reconciliation sweep against moto: missed sources, retention by tag, duplicates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmskit.snapshots.model import (
    TAG_COPY_KEY,
    TAG_MANAGED_BY,
    TAG_REPLICATOR,
    TAG_ROLE,
    TAG_SOURCE_TIME,
    iso,
    tag_list,
)
from lambda_src.snapshot_replicator.sweep import sweep
from tests.lambdas._support import OTHER, REGION, moto_clients, replicator_config, runtime

MOTO_ACCOUNT = "123456789012"  # the account moto owns every resource in


@pytest.fixture
def env() -> Iterator[dict[str, Any]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="replication")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="replication-dlq")["QueueUrl"]
        key = boto3.client("kms", region_name=OTHER).create_key()["KeyMetadata"]["Arn"]
        config = replicator_config(
            queue_url=queue,
            dead_letter_queue_url=dlq,
            resource_types=["EBS"],
            account=MOTO_ACCOUNT,
            destinations=[{"region": OTHER, "kms_key_arn": key}],
        )
        yield {"runtime": runtime(config, moto_clients()), "queue": queue, "dlq": dlq}


def snapshot(region: str, tags: dict[str, str]) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8)["VolumeId"]
    spec = [{"ResourceType": "snapshot", "Tags": tag_list(tags)}]
    return str(ec2.create_snapshot(VolumeId=volume, TagSpecifications=spec)["SnapshotId"])


def queued(queue: str) -> list[str]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    return [m["Body"] for m in messages]


def exists(region: str, snapshot_id: str) -> bool:
    ec2 = boto3.client("ec2", region_name=region)
    found = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return any(s["SnapshotId"] == snapshot_id for s in found)


def test_a_missed_source_is_queued_once(env: dict[str, Any]) -> None:
    source = snapshot(REGION, {"backup": "replicate"})
    snapshot(REGION, {"backup": "no"})
    report = sweep(env["runtime"])
    assert report.queued == 1
    (body,) = queued(env["queue"])
    assert source in body
    assert '"action": "copy"' in body


def test_retention_deletes_only_expired_copies_of_this_replicator(env: dict[str, Any]) -> None:
    rt = env["runtime"]
    old = iso(datetime.now(UTC) - timedelta(days=30))
    recent = iso(datetime.now(UTC) - timedelta(days=2))
    ours = {TAG_MANAGED_BY: "kmskit-snapshots", TAG_REPLICATOR: rt.config.replicator_id}
    ours[TAG_ROLE] = "replica"
    expired = snapshot(OTHER, {**ours, TAG_SOURCE_TIME: old, TAG_COPY_KEY: "a"})
    fresh = snapshot(OTHER, {**ours, TAG_SOURCE_TIME: recent, TAG_COPY_KEY: "b"})
    other_replicator = snapshot(
        OTHER,
        {**ours, TAG_REPLICATOR: "Someone-Else", TAG_SOURCE_TIME: old, TAG_COPY_KEY: "c"},
    )
    not_ours = snapshot(OTHER, {TAG_SOURCE_TIME: old})
    report = sweep(rt)
    assert report.deleted == 1
    assert not exists(OTHER, expired)
    assert exists(OTHER, fresh)
    assert exists(OTHER, other_replicator)
    assert exists(OTHER, not_ours)


def test_extra_copies_of_one_source_are_removed(env: dict[str, Any]) -> None:
    rt = env["runtime"]
    tags = {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: rt.config.replicator_id,
        TAG_COPY_KEY: "same-key",
        TAG_ROLE: "replica",
        TAG_SOURCE_TIME: iso(datetime.now(UTC)),
    }
    first, second = sorted([snapshot(OTHER, tags), snapshot(OTHER, tags)])
    report = sweep(rt)
    assert report.duplicates_removed == 1
    assert exists(OTHER, first)
    assert not exists(OTHER, second)


def aurora_snapshot(name: str, *, encrypted: bool) -> str:
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password-1",
        StorageEncrypted=encrypted,
    )
    return str(
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier=name,
            DBClusterSnapshotIdentifier=f"{name}-snap",
            Tags=[{"Key": "backup", "Value": "replicate"}],
        )["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"]
    )


def aurora_only(rt: Any) -> Any:
    """``rt`` replicating Aurora cluster snapshots only."""
    rt.config = replace(rt.config, resource_types=("AURORA",))
    rt.workflow.config = rt.config
    return rt


def test_an_unencrypted_aurora_source_is_dead_lettered_with_the_reason(
    env: dict[str, Any],
) -> None:
    rt = aurora_only(env["runtime"])
    encrypted = aurora_snapshot("ledger", encrypted=True)
    plain = aurora_snapshot("legacy", encrypted=False)
    report = sweep(rt)
    # The encrypted one is queued for copy; the unencrypted one can never be copied encrypted.
    assert report.queued == 1
    (body,) = queued(env["queue"])
    assert encrypted in body
    assert report.dead_lettered == 1
    sqs = boto3.client("sqs", region_name=REGION)
    (dead,) = sqs.receive_message(
        QueueUrl=env["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert plain in dead["Body"]
    reason = dead["MessageAttributes"]["reason"]["StringValue"]
    assert "unencrypted Aurora cluster snapshot" in reason
    assert "restore it into an encrypted cluster" in reason


def test_an_unencrypted_aurora_source_is_dead_lettered_by_one_run_only(
    env: dict[str, Any],
) -> None:
    rt = aurora_only(env["runtime"])
    aurora_snapshot("legacy", encrypted=False)
    assert sweep(rt).dead_lettered == 1
    # Every later run within the sweep window sees it again, and leaves the reported one alone.
    later = datetime.now(UTC) + timedelta(minutes=rt.config.sweep_interval_minutes + 10)
    assert sweep(rt, now=lambda: later).dead_lettered == 0
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=env["dlq"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"


def test_retention_leaves_a_pending_copy_to_finish(
    env: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deleting it would only make its watch copy it again, and the next sweep delete that too.
    rt = env["runtime"]
    old = iso(datetime.now(UTC) - timedelta(days=30))
    ours = {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: rt.config.replicator_id,
        TAG_ROLE: "replica",
        TAG_SOURCE_TIME: old,
        TAG_COPY_KEY: "late",
    }
    pending = snapshot(OTHER, ours)
    listed = rt.engine.managed_copies

    def still_pending(kind: Any, region: str) -> list[Any]:
        return [
            replace(info, state="pending") if info.ref.id == pending else info
            for info in listed(kind, region)
        ]

    monkeypatch.setattr(rt.engine, "managed_copies", still_pending)
    assert sweep(rt).deleted == 0
    assert exists(OTHER, pending)
    monkeypatch.setattr(rt.engine, "managed_copies", listed)
    assert sweep(rt).deleted == 1  # once available, it is past the retention
    assert not exists(OTHER, pending)
