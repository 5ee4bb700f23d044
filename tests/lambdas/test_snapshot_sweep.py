"""The reconciliation sweep against moto: missed sources, retention by tag, duplicates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ec2.models import ec2_backends

from kmskit.snapshots.model import (
    TAG_COPY_KEY,
    TAG_DELIVERED,
    TAG_DESTINATION_ACCOUNT,
    TAG_MANAGED_BY,
    TAG_REPLICATOR,
    TAG_ROLE,
    TAG_SOURCE_ACCOUNT,
    TAG_SOURCE_ID,
    TAG_SOURCE_KIND,
    TAG_SOURCE_REGION,
    TAG_SOURCE_TIME,
    SnapshotRef,
    copy_key,
    iso,
    tag_list,
)
from lambda_src.snapshot_replicator.config import Destination
from lambda_src.snapshot_replicator.handler import Runtime
from lambda_src.snapshot_replicator.messages import Task, parse
from lambda_src.snapshot_replicator.sweep import sweep
from tests.lambdas._support import (
    OTHER,
    REGION,
    SOURCE,
    moto_clients,
    receiver_config,
    replicator_config,
    runtime,
)

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


def made_by(replicator_id: str, role: str = "replica") -> dict[str, str]:
    """The tags by which a sweep finds a copy of ``replicator_id`` (role default replica)."""
    return {TAG_MANAGED_BY: "kmskit-snapshots", TAG_REPLICATOR: replicator_id, TAG_ROLE: role}


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
    ours = made_by(rt.config.replicator_id)
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


def test_copies_of_a_same_id_replicator_in_another_region_are_left_to_it(
    env: dict[str, Any],
) -> None:
    # The same stack IDs deployed to two Regions of one account give both replicators one
    # replicator_id; both copy into OTHER. Only copies of this replicator's sources expire here.
    rt = env["runtime"]
    old = iso(datetime.now(UTC) - timedelta(days=30))
    ours = {
        **made_by(rt.config.replicator_id),
        TAG_SOURCE_KIND: "EBS",
        TAG_SOURCE_ID: "snap-0123456789abcdef0",
        TAG_SOURCE_TIME: old,
    }
    origin = {TAG_SOURCE_ACCOUNT: MOTO_ACCOUNT, TAG_SOURCE_REGION: REGION}
    mine = snapshot(OTHER, {**ours, **origin, TAG_COPY_KEY: "a"})
    twin_region = snapshot(OTHER, {**ours, **origin, TAG_SOURCE_REGION: "us-east-1"})
    twin_account = snapshot(OTHER, {**ours, **origin, TAG_SOURCE_ACCOUNT: "210987654321"})
    twins = {
        **ours,
        **origin,
        TAG_SOURCE_REGION: "us-east-1",
        TAG_SOURCE_TIME: iso(datetime.now(UTC)),
    }
    first, second = sorted([snapshot(OTHER, {**twins, TAG_COPY_KEY: "k"}) for _ in range(2)])
    report = sweep(rt)
    assert (report.deleted, report.duplicates_removed) == (1, 0)
    assert not exists(OTHER, mine)
    assert all(exists(OTHER, s) for s in (twin_region, twin_account, first, second))


def two_copies_of_one_source(rt: Runtime) -> tuple[str, str]:
    """Two replica copies of this replicator under one copy key, lower ID first."""
    tags = {
        **made_by(rt.config.replicator_id),
        TAG_COPY_KEY: "same-key",
        TAG_SOURCE_TIME: iso(datetime.now(UTC)),
    }
    first, second = sorted([snapshot(OTHER, tags), snapshot(OTHER, tags)])
    return first, second


def test_extra_copies_of_one_source_are_removed(env: dict[str, Any]) -> None:
    rt = env["runtime"]
    first, second = two_copies_of_one_source(rt)
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
        **made_by(rt.config.replicator_id),
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


def staging_copy(rt: Any, source_time: datetime, *, delivered: bool) -> str:
    tags = {
        **made_by(rt.config.replicator_id, role="staging"),
        TAG_COPY_KEY: f"staging-{source_time.isoformat()}-{delivered}",
        TAG_DESTINATION_ACCOUNT: "333333333333",
        TAG_SOURCE_KIND: "EBS",
        TAG_SOURCE_ID: "snap-0123456789abcdef0",
        TAG_SOURCE_REGION: REGION,
        TAG_SOURCE_ACCOUNT: MOTO_ACCOUNT,
        TAG_SOURCE_TIME: iso(source_time),
    }
    if delivered:
        tags[TAG_DELIVERED] = iso(source_time + timedelta(hours=1))
    return snapshot(OTHER, tags)


def test_a_delivered_staging_copy_is_deleted_once_its_source_left_the_window(
    env: dict[str, Any],
) -> None:
    rt = env["runtime"]
    now = datetime.now(UTC)
    done = staging_copy(rt, now - timedelta(days=2), delivered=True)
    recent = staging_copy(rt, now - timedelta(hours=2), delivered=True)
    report = sweep(rt)
    assert report.deleted == 1
    assert not exists(OTHER, done)
    # Still inside the window: deleting it would let the sweep copy its source again.
    assert exists(OTHER, recent)


def test_only_undelivered_staging_copies_are_announced_again(env: dict[str, Any]) -> None:
    rt = env["runtime"]
    now = datetime.now(UTC)
    waiting = staging_copy(rt, now - timedelta(hours=2), delivered=False)
    staging_copy(rt, now - timedelta(hours=3), delivered=True)
    report = sweep(rt)
    assert report.queued == 1
    (body,) = queued(env["queue"])
    task = json.loads(body)
    assert (task["action"], task["copy"]["id"]) == ("watch", waiting)
    assert task["destination_account"] == "333333333333"


def test_a_source_with_a_copy_or_outside_the_window_is_not_queued(env: dict[str, Any]) -> None:
    rt = env["runtime"]
    snapshot(REGION, {"backup": "replicate"})
    assert sweep(rt).queued == 1
    (body,) = queued(env["queue"])
    task = parse(body)
    assert isinstance(task, Task)
    snapshot(OTHER, {**made_by(rt.config.replicator_id), TAG_COPY_KEY: task.copy_key(MOTO_ACCOUNT)})
    assert sweep(rt).queued == 0  # its copy exists
    boto3.client("sqs", region_name=REGION).purge_queue(QueueUrl=env["queue"])
    snapshot(REGION, {"backup": "replicate"})  # a second source, never copied ...
    later = datetime.now(UTC) + timedelta(days=rt.config.sweep_window_days, hours=1)
    assert sweep(rt, now=lambda: later).queued == 0  # ... but older than the window


def test_a_failed_copy_never_stands_in_for_a_live_one(env: dict[str, Any]) -> None:
    rt = env["runtime"]
    failed, live = two_copies_of_one_source(rt)
    ec2_backends[MOTO_ACCOUNT][OTHER].snapshots[failed].status = "error"
    # The failed copy has the lower ID: were it counted, the live copy would be the "extra" one.
    assert sweep(rt).duplicates_removed == 0
    assert exists(OTHER, live)


def test_a_staging_copy_made_under_the_older_copy_key_is_not_made_again(
    env: dict[str, Any],
) -> None:
    # Before the copy key named the destination account, a staging copy's key was the hash of
    # its source, Region, account and role only: the sweep must still see it after an upgrade.
    rt = env["runtime"]
    rt.config = replace(
        rt.config,
        destinations=(Destination(OTHER, rt.config.destinations[0].kms_key_arn, "333333333333"),),
    )
    rt.workflow.config = rt.config
    source = snapshot(REGION, {"backup": "replicate"})
    (task,) = rt.workflow.tasks_for(rt.engine.describe(SnapshotRef("EBS", source, REGION, "")))
    older_key = copy_key(task.origin, region=OTHER, account=MOTO_ACCOUNT, role="staging")
    assert older_key != task.copy_key(MOTO_ACCOUNT)
    snapshot(
        OTHER,
        {
            **rt.engine.copy_tags(
                task.origin, region=OTHER, role="staging", destination_account="333333333333"
            ),
            TAG_COPY_KEY: older_key,
        },
    )
    report = sweep(rt)
    assert report.queued == 1  # the announcement of that staging copy, not a second copy
    (body,) = queued(env["queue"])
    assert json.loads(body)["action"] == "watch"


def test_a_receiver_expires_the_copies_of_every_account_and_region_it_receives(
    env: dict[str, Any],
) -> None:
    """Its copies' origins are the source accounts' and Regions, never its own."""
    config = receiver_config(
        queue_url=env["queue"],
        dead_letter_queue_url=env["dlq"],
        resource_types=["EBS"],
        account=MOTO_ACCOUNT,
        retention_days=7,
    )
    rt = runtime(config, moto_clients())
    old = iso(datetime.now(UTC) - timedelta(days=30))
    received = snapshot(
        REGION,
        {
            **made_by(config.replicator_id),
            TAG_SOURCE_KIND: "EBS",
            TAG_SOURCE_ID: "snap-0123456789abcdef0",
            TAG_SOURCE_ACCOUNT: SOURCE,
            TAG_SOURCE_REGION: OTHER,
            TAG_SOURCE_TIME: old,
            TAG_COPY_KEY: "r",
        },
    )
    assert sweep(rt).deleted == 1
    assert not exists(REGION, received)
