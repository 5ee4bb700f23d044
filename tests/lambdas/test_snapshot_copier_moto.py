"""The copier against moto: a cross-Region EBS copy in one account, end to end through SQS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ec2.models import ec2_backends

from kmskit.snapshots.engine import RECENT_SECONDS, SnapshotEngine
from kmskit.snapshots.model import (
    TAG_COPY_KEY,
    TAG_MANAGED_BY,
    TAG_SOURCE_ID,
    TAG_SOURCE_REGION,
    SnapshotRef,
)
from kmskit.snapshots.outcomes import DeadLetterError, RetryableError
from lambda_src.snapshot_replicator.handler import ACCESS_DENIED_RECEIVES, Runtime
from lambda_src.snapshot_replicator.messages import Created, Task, parse
from tests.lambdas._support import (
    OTHER,
    REGION,
    SOURCE,
    fixture,
    metrics,
    moto_clients,
    receiver_config,
    record,
    replica_copy_task,
    replicator_config,
    runtime,
)


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="replication")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="replication-dlq")["QueueUrl"]
        key = boto3.client("kms", region_name=OTHER).create_key()["KeyMetadata"]["Arn"]
        volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
        snapshot = ec2.create_snapshot(
            VolumeId=volume,
            TagSpecifications=[
                {"ResourceType": "snapshot", "Tags": [{"Key": "backup", "Value": "replicate"}]}
            ],
        )["SnapshotId"]
        config = replicator_config(
            queue_url=queue,
            dead_letter_queue_url=dlq,
            destinations=[{"region": OTHER, "kms_key_arn": key}],
        )
        yield {
            "runtime": runtime(config, moto_clients()),
            "snapshot": snapshot,
            "key": key,
            "queue": queue,
            "dlq": dlq,
        }


MOTO_ACCOUNT = "123456789012"  # the account moto owns every resource in


def created_event(snapshot: str) -> dict[str, Any]:
    arn = f"arn:aws:ec2::{REGION}:snapshot/{snapshot}"
    return fixture("ebs_create_snapshot", detail={"snapshot_id": arn}, resources=[arn])


def drain(rt: Runtime, queue: str) -> list[dict[str, Any]]:
    """Feed every queued message (delays ignored) to the copier until the queue is empty."""
    sqs = boto3.client("sqs", region_name=REGION)
    handled: list[dict[str, Any]] = []
    for _ in range(50):
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            _release_delayed(sqs, queue)
            messages = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]
            ).get("Messages", [])
            if not messages:
                return handled
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
            }
            for m in messages
        ]
        response = rt.process(records)
        assert response == {"batchItemFailures": []}
        for m in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            handled.append(json.loads(m["Body"]))
    raise AssertionError("the queue never drained")


def _release_delayed(sqs: Any, queue: str) -> None:
    """moto honours DelaySeconds; the test does not wait 15 minutes for watch tasks."""
    from moto.backends import get_backend  # noqa: PLC0415

    backend = get_backend("sqs")["123456789012"][REGION]
    for q in backend.queues.values():
        for message in q._messages:
            message.delayed_until = 0


def copies(key: str | None = None) -> list[dict[str, Any]]:
    filters = [{"Name": f"tag:{TAG_MANAGED_BY}", "Values": ["kmskit-snapshots"]}]
    if key:
        filters.append({"Name": f"tag:{TAG_COPY_KEY}", "Values": [key]})
    ec2 = boto3.client("ec2", region_name=OTHER)
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=filters)["Snapshots"]


def test_cross_region_ebs_copy_is_made_encrypted_and_tagged(aws: dict[str, Any]) -> None:
    rt = aws["runtime"]
    response = rt.process([record(created_event(aws["snapshot"]))])
    assert response == {"batchItemFailures": []}
    handled = drain(rt, aws["queue"])
    assert [m["action"] for m in handled] == ["copy", "watch"]
    (copy,) = copies()
    tags = {t["Key"]: t["Value"] for t in copy["Tags"]}
    assert copy["Encrypted"] is True
    assert copy["KmsKeyId"] == aws["key"]
    assert tags[TAG_SOURCE_ID] == aws["snapshot"]
    assert tags[TAG_SOURCE_REGION] == REGION
    assert metrics(rt, "CopiesStarted") == 1
    assert metrics(rt, "CopiesCompleted") == 1


def test_the_same_event_three_times_makes_one_copy(aws: dict[str, Any]) -> None:
    rt = aws["runtime"]
    event = created_event(aws["snapshot"])
    for _ in range(3):
        assert rt.process([record(event)]) == {"batchItemFailures": []}
        drain(rt, aws["queue"])
    assert len(copies()) == 1
    assert metrics(rt, "CopiesStarted") == 1


def test_a_copy_every_delivery_of_its_event_sees_done_is_counted_once(
    aws: dict[str, Any],
) -> None:
    # The event delivered again after the copy completed: its copy task finds the copy done
    # and does the next step again (idempotent); the copy was made and completed once.
    rt = aws["runtime"]
    event = created_event(aws["snapshot"])
    for _ in range(3):
        assert rt.process([record(event)]) == {"batchItemFailures": []}
        drain(rt, aws["queue"])
    assert len(copies()) == 1
    assert metrics(rt, "CopiesStarted") == 1
    assert metrics(rt, "CopiesCompleted") == 1


def test_a_source_in_the_error_state_is_dead_lettered_with_the_reason(
    aws: dict[str, Any],
) -> None:
    # It never becomes available: dead-lettered on its first receive, not retried for a day.
    ec2_backends[MOTO_ACCOUNT][REGION].snapshots[aws["snapshot"]].status = "error"
    rt = aws["runtime"]
    assert rt.process([record(created_event(aws["snapshot"]))]) == {"batchItemFailures": []}
    (dead,) = dead_letters(aws["dlq"])
    attributes = dead["MessageAttributes"]
    assert attributes["error_code"]["StringValue"] == "SourceSnapshotFailed"
    assert (
        f"the source snapshot arn:aws:ec2:{REGION}::snapshot/{aws['snapshot']} is in state "
        "'error'" in attributes["reason"]["StringValue"]
    )
    assert drain(rt, aws["queue"]) == []
    assert copies() == []


def test_three_deliveries_in_one_batch_make_one_copy(aws: dict[str, Any]) -> None:
    rt = aws["runtime"]
    event = created_event(aws["snapshot"])
    assert rt.process([record(event), record(event), record(event)]) == {"batchItemFailures": []}
    drain(rt, aws["queue"])
    assert len(copies()) == 1


def test_a_fresh_process_finds_the_copy_by_its_tags(aws: dict[str, Any]) -> None:
    event = created_event(aws["snapshot"])
    first = aws["runtime"]
    first.process([record(event)])
    drain(first, aws["queue"])
    # A new container has no memory of the first copy: only the tags can tell.
    second = runtime(first.config, moto_clients())
    second.process([record(event)])
    drain(second, aws["queue"])
    assert len(copies()) == 1
    assert metrics(second, "CopiesStarted") == 0


def test_untagged_snapshots_are_not_replicated(aws: dict[str, Any]) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.delete_tags(Resources=[aws["snapshot"]], Tags=[{"Key": "backup"}])
    rt = aws["runtime"]
    assert rt.process([record(created_event(aws["snapshot"]))]) == {"batchItemFailures": []}
    assert drain(rt, aws["queue"]) == []
    assert copies() == []


def test_copies_are_never_replicated_again(aws: dict[str, Any]) -> None:
    rt = aws["runtime"]
    rt.process([record(created_event(aws["snapshot"]))])
    drain(rt, aws["queue"])
    (copy,) = copies()
    # Even tagged for replication, a kmskit copy is never a source.
    boto3.client("ec2", region_name=OTHER).create_tags(
        Resources=[copy["SnapshotId"]], Tags=[{"Key": "backup", "Value": "replicate"}]
    )
    event = fixture(
        "ebs_create_snapshot",
        region=OTHER,
        detail={"snapshot_id": f"arn:aws:ec2::{OTHER}:snapshot/{copy['SnapshotId']}"},
    )
    other_queue = boto3.client("sqs", region_name=OTHER).create_queue(QueueName="other")
    config = replicator_config(
        region=OTHER,
        queue_url=other_queue["QueueUrl"],
        destinations=[{"region": REGION, "kms_key_arn": aws["key"]}],
    )
    other = runtime(config, moto_clients())
    assert other.process([record(event)]) == {"batchItemFailures": []}
    lines = [line.get("message", "") for line in other.log.lines or []]
    assert (
        f"ignored: arn:aws:ec2:{OTHER}::snapshot/{copy['SnapshotId']} is a copy made by kmskit"
        in (lines)
    )
    left = boto3.client("sqs", region_name=OTHER).receive_message(
        QueueUrl=other_queue["QueueUrl"], MaxNumberOfMessages=10
    )
    assert left.get("Messages", []) == []


def copy_task(aws: dict[str, Any]) -> Task:
    source = SnapshotRef("EBS", aws["snapshot"], REGION, SOURCE)
    return replica_copy_task(source, aws["key"], None)


def fail_copy(snapshot_id: str) -> None:
    """Make a copy fail the way an unusable key does (moto completes copies at once)."""
    ec2_backends[MOTO_ACCOUNT][OTHER].snapshots[snapshot_id].status = "error"


def dead_letters(dlq: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    found = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [dict(m) for m in found.get("Messages", [])]


def test_a_redriven_failed_copy_is_made_again_by_the_same_warm_copier(aws: dict[str, Any]) -> None:
    rt = aws["runtime"]
    task = copy_task(aws)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    (first,) = copies()
    fail_copy(first["SnapshotId"])
    watch = task.with_action("watch", SnapshotRef("EBS", first["SnapshotId"], OTHER, SOURCE))
    assert rt.process([record(watch.to_json())]) == {"batchItemFailures": []}
    (dead,) = dead_letters(aws["dlq"])
    # The operator fixed the key policy and redrives the copy task to the same (warm) copier.
    assert rt.process([record(dead["Body"])]) == {"batchItemFailures": []}
    (second,) = copies()
    assert second["SnapshotId"] != first["SnapshotId"]  # the failed copy is gone
    assert second["State"] != "error"
    assert metrics(rt, "CopiesStarted") == 2


def test_a_remembered_copy_that_was_deleted_is_forgotten_after_a_while(
    aws: dict[str, Any],
) -> None:
    now = [1000.0]
    engine = SnapshotEngine(moto_clients(), account=SOURCE, replicator="r", clock=lambda: now[0])
    task = copy_task(aws)
    args = {"region": OTHER, "kms_key_arn": aws["key"], "role": "replica", "origin": task.origin}
    first = engine.copy(task.source, **args)
    boto3.client("ec2", region_name=OTHER).delete_snapshot(SnapshotId=first.info.ref.id)
    now[0] += RECENT_SECONDS
    again = engine.copy(task.source, **args)
    assert again.created is True
    assert again.info.ref.id != first.info.ref.id
    assert [c["SnapshotId"] for c in copies()] == [again.info.ref.id]


def set_event(*snapshots: str) -> dict[str, Any]:
    """A multi-volume set (CreateSnapshots, DLM instance policies) of ``snapshots``, completed."""
    arns = [f"arn:aws:ec2::{REGION}:snapshot/{s}" for s in snapshots]
    entries = [
        {"snapshot_id": arn, "source": f"arn:aws:ec2::{REGION}:volume/vol-0", "status": "completed"}
        for arn in arns
    ]
    return fixture("ebs_create_snapshots", detail={"snapshots": entries}, resources=arns)


def another_snapshot(tags: dict[str, str]) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
    specs = [
        {"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    ]
    return str(ec2.create_snapshot(VolumeId=volume, TagSpecifications=specs)["SnapshotId"])


def test_each_selected_snapshot_of_a_multi_volume_set_is_copied(aws: dict[str, Any]) -> None:
    # Before the createSnapshots pattern and parser, such a set waited for the hourly sweep.
    rt = aws["runtime"]
    second = another_snapshot({"backup": "replicate"})
    untagged = another_snapshot({"team": "orders"})
    event = set_event(aws["snapshot"], second, untagged)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    drain(rt, aws["queue"])
    made = copies()
    # The selection applies to each snapshot as to a createSnapshot event's.
    sources = sorted({t["Value"] for c in made for t in c["Tags"] if t["Key"] == TAG_SOURCE_ID})
    assert sources == sorted([aws["snapshot"], second])
    assert all(c["Encrypted"] and c["KmsKeyId"] == aws["key"] for c in made)
    lines = [line.get("message", "") for line in rt.log.lines or []]
    assert any("is not tagged backup=replicate" in line and untagged in line for line in lines)
    assert metrics(rt, "CopiesStarted") == 2
    assert metrics(rt, "CopiesCompleted") == 2
    # Delivered again (EventBridge delivers at least once): no second copy.
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    drain(rt, aws["queue"])
    assert len(copies()) == 2
    assert metrics(rt, "CopiesStarted") == 2


def take(queue: str) -> list[dict[str, Any]]:
    """Every message now on ``queue`` (delays ignored), taken off it, as SQS records."""
    sqs = boto3.client("sqs", region_name=REGION)
    _release_delayed(sqs, queue)
    taken: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for m in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            taken.append(record(m["Body"]))
    return taken


def source_of(body: str) -> str:
    """The snapshot ID a queued snapshot of a set (or a task) names."""
    return str(json.loads(body)["source"]["id"])


def copy_tasks(handled: list[dict[str, Any]]) -> list[str]:
    """The sources of the copy tasks among ``handled`` messages (``drain``'s), one per task."""
    return sorted(m["source"]["id"] for m in handled if m.get("action") == "copy")


def test_a_set_is_queued_one_message_per_snapshot(aws: dict[str, Any]) -> None:
    rt = aws["runtime"]
    second = another_snapshot({"backup": "replicate"})
    assert rt.process([record(set_event(aws["snapshot"], second))]) == {"batchItemFailures": []}
    queued = take(aws["queue"])
    # Each is read as a createSnapshot's Created, and goes through Workflow.created as one.
    assert [parse(r["body"]) for r in queued] == [
        Created(SnapshotRef("EBS", s, REGION, SOURCE)) for s in (aws["snapshot"], second)
    ]
    assert copies() == []


def test_a_throttled_snapshot_of_a_set_is_retried_alone(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, the whole set was handed back (every other snapshot described again, none of
    # their copies queued until every snapshot of the set could be read at once).
    rt = aws["runtime"]
    second = another_snapshot({"backup": "replicate"})
    describe = rt.engine.describe
    throttling = [True]

    def throttled(ref: SnapshotRef) -> Any:
        if ref.id == second and throttling[0]:
            raise RetryableError("Rate exceeded", "RequestLimitExceeded")
        return describe(ref)

    monkeypatch.setattr(rt.engine, "describe", throttled)
    assert rt.process([record(set_event(aws["snapshot"], second))]) == {"batchItemFailures": []}
    queued = take(aws["queue"])
    (failed,) = rt.process(queued)["batchItemFailures"]
    (retried,) = [r for r in queued if r["messageId"] == failed["itemIdentifier"]]
    assert source_of(retried["body"]) == second
    # The other snapshot is copied meanwhile.
    handled = drain(rt, aws["queue"])
    (copy,) = copies()
    assert {t["Key"]: t["Value"] for t in copy["Tags"]}[TAG_SOURCE_ID] == aws["snapshot"]
    # The retry handles the throttled snapshot only: nothing is queued twice.
    throttling[0] = False
    assert rt.process([record(retried["body"], receive_count=2)]) == {"batchItemFailures": []}
    handled += drain(rt, aws["queue"])
    assert copy_tasks(handled) == sorted([aws["snapshot"], second])
    assert len(copies()) == 2
    assert metrics(rt, "CopiesStarted") == 2


def test_a_failed_snapshot_of_a_set_is_dead_lettered_alone(aws: dict[str, Any]) -> None:
    rt = aws["runtime"]
    broken = another_snapshot({"backup": "replicate"})
    ec2_backends[MOTO_ACCOUNT][REGION].snapshots[broken].status = "error"
    assert rt.process([record(set_event(broken, aws["snapshot"]))]) == {"batchItemFailures": []}
    handled = drain(rt, aws["queue"])
    # The failed snapshot goes to the dead-letter queue on its own, with a reason naming it ...
    (dead,) = dead_letters(aws["dlq"])
    attributes = dead["MessageAttributes"]
    assert attributes["error_code"]["StringValue"] == "SourceSnapshotFailed"
    reason = attributes["reason"]["StringValue"]
    assert f"arn:aws:ec2:{REGION}::snapshot/{broken} is in state 'error'" in reason
    assert aws["snapshot"] not in reason
    assert source_of(dead["Body"]) == broken
    # ... and the other snapshot of the set is copied all the same.
    (copy,) = copies()
    assert {t["Key"]: t["Value"] for t in copy["Tags"]}[TAG_SOURCE_ID] == aws["snapshot"]
    assert copy_tasks(handled) == [aws["snapshot"]]
    # A redrive of the dead letter handles that snapshot again, and queues nothing for the others.
    assert rt.process([record(dead["Body"])]) == {"batchItemFailures": []}
    assert drain(rt, aws["queue"]) == []
    (again,) = dead_letters(aws["dlq"])
    assert source_of(again["Body"]) == broken


@pytest.mark.parametrize("denied_first", [True, False])
def test_a_refused_snapshot_of_a_set_keeps_its_grace_whatever_the_order(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, denied_first: bool
) -> None:
    # Before, a set whose failed snapshot came first was dead-lettered at once, refused
    # snapshot included: a permission just deployed got no time to be in effect.
    rt = aws["runtime"]
    broken = another_snapshot({"backup": "replicate"})
    ec2_backends[MOTO_ACCOUNT][REGION].snapshots[broken].status = "error"
    refused = another_snapshot({"backup": "replicate"})
    describe = rt.engine.describe

    def denied(ref: SnapshotRef) -> Any:
        if ref.id == refused:
            raise DeadLetterError("describe: UnauthorizedOperation", "UnauthorizedOperation")
        return describe(ref)

    monkeypatch.setattr(rt.engine, "describe", denied)
    order = (refused, broken) if denied_first else (broken, refused)
    assert rt.process([record(set_event(*order))]) == {"batchItemFailures": []}
    queued = take(aws["queue"])
    (failed,) = rt.process(queued)["batchItemFailures"]
    (retried,) = [r for r in queued if r["messageId"] == failed["itemIdentifier"]]
    assert source_of(retried["body"]) == refused  # retried, like throttling
    (dead,) = dead_letters(aws["dlq"])
    assert source_of(dead["Body"]) == broken
    # Still refused on its last receive of grace: dead-lettered then, saying so.
    last = record(retried["body"], receive_count=ACCESS_DENIED_RECEIVES)
    assert rt.process([last]) == {"batchItemFailures": []}
    (dead,) = dead_letters(aws["dlq"])
    assert source_of(dead["Body"]) == refused
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith(
        f"refused on receive {ACCESS_DENIED_RECEIVES}"
    )


def test_the_completed_snapshots_of_a_failed_set_are_copied(aws: dict[str, Any]) -> None:
    # Before, a failed set was ignored whatever it listed: its completed snapshots waited for
    # the sweep.
    rt = aws["runtime"]
    second = another_snapshot({"backup": "replicate"})
    event = set_event(aws["snapshot"], "snap-0bad0000", second)
    event["detail"]["result"] = "failed"
    event["detail"]["cause"] = "Snapshot snap-0bad0000 is in status error"
    event["detail"]["snapshots"][1]["status"] = "error"
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    handled = drain(rt, aws["queue"])
    assert copy_tasks(handled) == sorted([aws["snapshot"], second])
    assert len(copies()) == 2
    (warning,) = [
        line
        for line in rt.log.lines or []
        if line.get("message", "").startswith("multi-volume snapshot set: entries not copied")
    ]
    assert warning["set_failed"] == "Snapshot snap-0bad0000 is in status error"
    assert warning["skipped"] == [
        f"arn:aws:ec2:{REGION}::snapshot/snap-0bad0000 is 'error', not completed"
    ]


def test_a_receiver_queues_nothing_for_a_set_of_its_own(aws: dict[str, Any]) -> None:
    rt = runtime(
        receiver_config(queue_url=aws["queue"], dead_letter_queue_url=aws["dlq"]), moto_clients()
    )
    second = another_snapshot({"backup": "replicate"})
    event = set_event(aws["snapshot"], second)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert take(aws["queue"]) == []


def test_an_entry_of_a_set_naming_no_snapshot_is_logged_and_the_rest_copied(
    aws: dict[str, Any],
) -> None:
    rt = aws["runtime"]
    event = set_event(aws["snapshot"])
    event["detail"]["snapshots"].append({"snapshot_id": "snap-0", "status": "completed"})
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    drain(rt, aws["queue"])
    assert len(copies()) == 1
    (warning,) = [
        line
        for line in rt.log.lines or []
        if line.get("message", "").startswith("multi-volume snapshot set: entries not copied")
    ]
    assert warning["skipped"] == [
        'entry 1 names no EBS snapshot: {"snapshot_id": "snap-0", "status": "completed"}'
    ]
