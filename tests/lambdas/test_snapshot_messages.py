"""Parsing the AWS documentation's events, and deterministic names."""

from __future__ import annotations

import json
import re

import pytest

from kmskit.snapshots.model import (
    TAG_SOURCE_ID,
    Origin,
    SnapshotError,
    SnapshotRef,
    copy_key,
    rds_identifier,
)
from lambda_src.snapshot_replicator.messages import (
    CopyFinished,
    Created,
    CreatedSet,
    Ignored,
    Shared,
    Task,
    parse,
    unreadable_reason,
)
from tests.lambdas._support import fixture

ACCOUNT = "111111111111"
RDS_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "ebs_create_snapshot",
            Created(SnapshotRef("EBS", "snap-01234567", "eu-west-1", ACCOUNT)),
        ),
        (
            "ebs_copy_snapshot_failed",
            CopyFinished(
                SnapshotRef("EBS", "snap-0aaaa1111bbbb2222", "eu-central-1", "111111111111"),
                failed=True,
                cause="Given key ID is not accessible",
            ),
        ),
        (
            "ebs_share_snapshot",
            Shared(
                SnapshotRef("EBS", "snap-0cccc3333dddd4444", "eu-west-1", "111111111111"),
                sender="111111111111",
                reply_region=None,
            ),
        ),
        (
            "rds_automated_snapshot_created",
            Created(SnapshotRef("RDS", "rds:orders-db-2026-11-20-12-24", "eu-west-1", ACCOUNT)),
        ),
        (
            "rds_copy_finished",
            CopyFinished(
                SnapshotRef(
                    "RDS",
                    "kmskit-r-orders-before-upgrade-0123456789abcdef",
                    "eu-central-1",
                    "111111111111",
                ),
                failed=False,
                cause="",
            ),
        ),
        (
            "aurora_manual_snapshot_created",
            Created(SnapshotRef("AURORA", "ledger-nightly", "eu-west-1", "111111111111")),
        ),
    ],
)
def test_documented_events_parse(name: str, expected: object) -> None:
    assert parse(json.dumps(fixture(name))) == expected


def test_failed_create_snapshot_is_ignored() -> None:
    message = parse(json.dumps(fixture("ebs_create_snapshot", detail={"result": "failed"})))
    assert isinstance(message, Ignored)


def _set_entry(snapshot: str, status: str = "completed") -> dict[str, str]:
    return {
        "snapshot_id": f"arn:aws:ec2::eu-west-1:snapshot/{snapshot}",
        "source": "arn:aws:ec2::eu-west-1:volume/vol-01234567",
        "status": status,
    }


def _ebs(snapshot: str) -> SnapshotRef:
    return SnapshotRef("EBS", snapshot, "eu-west-1", ACCOUNT)


def test_a_multi_volume_set_is_one_selection_per_snapshot() -> None:
    # AWS's createSnapshots example: each snapshot is a source, as a createSnapshot's is.
    assert parse(json.dumps(fixture("ebs_create_snapshots"))) == CreatedSet(
        (_ebs("snap-01234567"), _ebs("snap-012345678"))
    )


def test_a_multi_volume_set_copies_only_its_completed_snapshots() -> None:
    entries = [
        _set_entry("snap-0aaa1111"),
        _set_entry("snap-0bbb2222", status="error"),
        _set_entry("snap-0ccc3333"),
        _set_entry("snap-0aaa1111"),  # the same snapshot twice: one selection
    ]
    message = parse(json.dumps(fixture("ebs_create_snapshots", detail={"snapshots": entries})))
    assert message == CreatedSet(
        (_ebs("snap-0aaa1111"), _ebs("snap-0ccc3333")),
        skipped=("arn:aws:ec2:eu-west-1::snapshot/snap-0bbb2222 is 'error', not completed",),
    )


def test_a_malformed_entry_is_skipped_and_named() -> None:
    entries = [
        _set_entry("snap-0aaa1111"),
        {"snapshot_id": "arn:aws:ec2::eu-west-1:volume/vol-01234567", "status": "completed"},
        {"status": "completed"},
        "snap-0ddd4444",
    ]
    message = parse(json.dumps(fixture("ebs_create_snapshots", detail={"snapshots": entries})))
    assert isinstance(message, CreatedSet)
    assert message.refs == (_ebs("snap-0aaa1111"),)
    assert [s.split(":")[0] for s in message.skipped] == [
        "entry 1 names no EBS snapshot",
        "entry 2 names no EBS snapshot",
        "entry 3 names no EBS snapshot",
    ]
    assert '"snapshot_id": "arn:aws:ec2::eu-west-1:volume/vol-01234567"' in message.skipped[0]


@pytest.mark.parametrize(
    "snapshots",
    [
        None,
        [],
        "arn:aws:ec2::eu-west-1:snapshot/snap-0aaa1111",
        [{"snapshot_id": "snap-0aaa1111", "status": "completed"}],  # an ID, not an ARN
        [{"snapshot_id": 7, "status": "completed"}],
    ],
)
def test_a_multi_volume_event_naming_no_snapshot_is_of_unknown_shape(snapshots: object) -> None:
    # Logged and dropped like every AWS event of unknown shape; the sweep is the backstop.
    body = json.dumps(fixture("ebs_create_snapshots", detail={"snapshots": snapshots}))
    assert parse(body) is None
    assert unreadable_reason(body) is None


def _failed_set(*entries: dict[str, str]) -> str:
    """A failed createSnapshots event listing ``entries``, snap-0bbb2222 its cause."""
    cause = "Snapshot snap-0bbb2222 is in status error"
    detail = {"result": "failed", "cause": cause, "snapshots": list(entries)}
    return json.dumps(fixture("ebs_create_snapshots", detail=detail))


def test_a_failed_or_unfinished_multi_volume_set_is_ignored() -> None:
    message = parse(_failed_set(_set_entry("snap-0bbb2222", status="error")))
    assert message == Ignored("createSnapshots failed: Snapshot snap-0bbb2222 is in status error")
    pending = fixture("ebs_create_snapshots", detail={"snapshots": [_set_entry("snap-1", "x")]})
    assert isinstance(parse(json.dumps(pending)), Ignored)


def test_the_completed_snapshots_of_a_failed_multi_volume_set_are_copied() -> None:
    # Before, a failed set was Ignored whatever its entries said.
    failed = _failed_set(_set_entry("snap-0aaa1111"), _set_entry("snap-0bbb2222", status="error"))
    assert parse(failed) == CreatedSet(
        (_ebs("snap-0aaa1111"),),
        skipped=("arn:aws:ec2:eu-west-1::snapshot/snap-0bbb2222 is 'error', not completed",),
        failure="Snapshot snap-0bbb2222 is in status error",
    )
    no_entries = fixture("ebs_create_snapshots", detail={"result": "failed", "snapshots": None})
    assert parse(json.dumps(no_entries)) == Ignored("createSnapshots failed: ")


def test_a_queued_snapshot_of_a_set_reads_back_as_created() -> None:
    # The copier queues each snapshot of a multi-volume set as a message of its own.
    created = Created(_ebs("snap-0aaa1111"))
    assert parse(created.to_json()) == created
    # One this copier cannot read (another version's) is kmskit's work: dead-lettered, not dropped.
    data = json.loads(created.to_json())
    data["source"]["kind"] = "EFS"
    body = json.dumps(data)
    assert parse(body) is None
    assert unreadable_reason(body) == "task this copier cannot read (kmskit-snapshot-task/2)"


def test_a_queued_snapshot_of_a_set_is_another_version_to_a_copier_of_version_1() -> None:
    # A rollback to a copier that reads only kmskit-snapshot-task/1: it dead-lettered the
    # message as a version 1 task it cannot read; its marker now tells it is another version's.
    # The queued snapshots the version before wrote under kmskit-snapshot-task/1 still read.
    created = Created(_ebs("snap-0aaa1111"))
    data = json.loads(created.to_json())
    assert data["kmskit"] == "kmskit-snapshot-task/2"
    old = {**data, "kmskit": "kmskit-snapshot-task/1"}
    assert parse(json.dumps(old)) == created
    assert unreadable_reason(json.dumps({**data, "kmskit": "kmskit-snapshot-task/3"})) == (
        "task of another version (kmskit-snapshot-task/3; this copier reads "
        "kmskit-snapshot-task/1 and kmskit-snapshot-task/2)"
    )
    # Version 2's marker on a copy task is not a task this copier reads.
    task = {**json.loads(_task().to_json()), "kmskit": "kmskit-snapshot-task/2"}
    assert parse(json.dumps(task)) is None
    assert unreadable_reason(json.dumps(task)) == (
        "task this copier cannot read (kmskit-snapshot-task/2)"
    )


def test_other_multi_volume_events_are_of_unknown_shape() -> None:
    for detail in ({"event": "createSnapshot"}, {"result": "pending"}):
        assert parse(json.dumps(fixture("ebs_create_snapshots", detail=detail))) is None


def test_tasks_round_trip() -> None:
    source = SnapshotRef("AURORA", "ledger", "eu-west-1", "111111111111")
    task = Task(
        "copy",
        "staging",
        source,
        Origin(source.kind, source.id, source.region, source.account, "2026-11-20T10:00:00Z"),
        "eu-central-1",
        "arn:aws:kms:eu-central-1:111111111111:key/k",
        "333333333333",
    )
    assert parse(task.to_json()) == task


def test_only_the_watch_of_the_request_that_made_the_copy_counts_its_completion() -> None:
    source = SnapshotRef("EBS", "snap-1", "eu-west-1", "111111111111")
    origin = Origin(source.kind, source.id, source.region, source.account, "2026-11-20T10:00:00Z")
    task = Task("copy", "replica", source, origin, "eu-central-1", "arn:aws:kms:x:1:key/k")
    copy = SnapshotRef("EBS", "snap-2", "eu-central-1", "111111111111")
    watch = task.with_action("watch", copy, counts_completion=True)
    assert parse(watch.to_json()) == watch
    # Whatever comes of the watch again (a copy task to redrive or to copy once more) does not.
    assert watch.with_action("copy").counts_completion is False
    # An older version's watch does not say: it does not count (never twice).
    older = json.loads(watch.to_json())
    del older["counts_completion"]
    parsed = parse(json.dumps(older))
    assert isinstance(parsed, Task)
    assert parsed.counts_completion is False


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:ec2::eu-west-1:snapshot/snap-1",  # as EventBridge writes it
        "arn:aws:ec2:eu-west-1::snapshot/snap-1",  # as IAM writes it
    ],
)
def test_both_ebs_arn_forms(arn: str) -> None:
    ref = SnapshotRef.from_arn(arn, account="111111111111")
    assert (ref.id, ref.region, ref.account) == ("snap-1", "eu-west-1", "111111111111")


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws-eusc:ec2:eusc-de-east-1::snapshot/snap-1",
            ("EBS", "snap-1", "eusc-de-east-1", "111111111111", "aws-eusc"),
        ),
        (
            "arn:aws-eusc:rds:eusc-de-east-1:222222222222:snapshot:db1",
            ("RDS", "db1", "eusc-de-east-1", "222222222222", "aws-eusc"),
        ),
        (
            "arn:aws-iso-b:ec2:us-isob-east-1::snapshot/snap-2",
            ("EBS", "snap-2", "us-isob-east-1", "111111111111", "aws-iso-b"),
        ),
    ],
)
def test_arns_of_every_partitions_regions(arn: str, expected: tuple[str, ...]) -> None:
    # Region names as botocore knows them, the European Sovereign Cloud's included.
    ref = SnapshotRef.from_arn(arn, account="111111111111")
    assert (ref.kind, ref.id, ref.region, ref.account, ref.partition) == expected


@pytest.mark.parametrize(
    "arn",
    [
        "snap-1",
        "arn:aws:s3:::bucket",
        "arn:aws:rds:eu-west-1:1:db:x",
        # "$" matches before a final newline: neither field may end in one.
        "arn:aws:rds:eu-west-1:111111111111\n:snapshot:x",
        "arn:aws:rds:eu-west-1\n:111111111111:snapshot:x",
        # No identifier: RDS would list every snapshot for it (and EC2 fail).
        "arn:aws:rds:eu-west-1:111111111111:snapshot:",
        "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:",
        "arn:aws:ec2:eu-west-1::snapshot/",
        "arn:aws:ec2:eu-west-1::snapshot/snap-",
        "arn:aws:rds:eu-west-1:111111111111:snapshot:orders db",
    ],
)
def test_bad_arns_are_refused(arn: str) -> None:
    with pytest.raises(SnapshotError):
        SnapshotRef.from_arn(arn)


@pytest.mark.parametrize(
    "source_id",
    [
        "rds:orders-db-2026-11-20-12-24",
        "Orders__DB..final",
        "x" * 200,
        "rds:--a--",
        "9-lives",
        "orders--db",
        "a" * 36 + "-cut-here",  # the cut after 37 characters ends in a hyphen
    ],
)
def test_rds_identifiers_are_valid_and_deterministic(source_id: str) -> None:
    origin = Origin("RDS", source_id, "eu-west-1", "111111111111", "2026-11-20T10:00:00Z")
    key = copy_key(origin, region="eu-central-1", account="111111111111", role="replica")
    name = rds_identifier(origin, key, "replica")
    assert RDS_IDENTIFIER.match(name), name
    assert len(name) <= 63
    assert name == rds_identifier(origin, key, "replica")


def test_an_automated_snapshots_identifier_is_tagged_in_a_form_rds_accepts() -> None:
    # RDS refuses tag values beginning with "rds:" or "aws:", as automated snapshots' do.
    origin = Origin("RDS", "rds:orders-2026-11-20-12-24", "eu-west-1", "111111111111", "t")
    tags = origin.tags()
    assert [v for v in tags.values() if v[:4].lower() in ("rds:", "aws:")] == []
    assert tags[TAG_SOURCE_ID] == "id=rds:orders-2026-11-20-12-24"
    assert Origin.from_tags(tags) == origin
    # A copy tagged before (if RDS took it) reads back the same.
    assert Origin.from_tags({**tags, TAG_SOURCE_ID: "rds:orders-2026-11-20-12-24"}) == origin
    manual = Origin("RDS", "orders-final", "eu-west-1", "111111111111", "t")
    assert manual.tags()[TAG_SOURCE_ID] == "orders-final"


def test_copy_keys_differ_by_destination_and_role() -> None:
    origin = Origin("EBS", "snap-1", "eu-west-1", "111111111111", "t")
    keys = {
        copy_key(origin, region=region, account=account, role=role)
        for region in ("eu-west-1", "eu-central-1")
        for account in ("111111111111", "333333333333")
        for role in ("replica", "staging", "received")
    }
    assert len(keys) == 12


def test_share_snapshot_source_as_a_bare_number_keeps_leading_zeros() -> None:
    # AWS documents the sharing account as a JSON number ("source": 012345678901); an ID with
    # leading zeros arrives without them.
    event = fixture("ebs_share_snapshot", detail={"source": 12345678901})
    message = parse(json.dumps(event))
    assert isinstance(message, Shared)
    assert (message.sender, message.ref.account) == ("012345678901", "012345678901")


def _task() -> Task:
    source = SnapshotRef("EBS", "snap-1", "eu-west-1", ACCOUNT)
    origin = Origin("EBS", "snap-1", "eu-west-1", ACCOUNT, "2026-11-20T10:00:00Z")
    return Task("copy", "replica", source, origin, "eu-central-1", "arn:aws:kms:x:1:key/k")


def test_a_task_of_another_version_is_unreadable_not_unknown() -> None:
    body = json.loads(_task().to_json())
    body["kmskit"] = "kmskit-snapshot-task/3"
    assert parse(json.dumps(body)) is None
    reason = unreadable_reason(json.dumps(body))
    assert reason is not None
    assert "kmskit-snapshot-task/3" in reason


def test_a_task_missing_a_field_is_unreadable() -> None:
    body = json.loads(_task().to_json())
    del body["origin"]
    assert unreadable_reason(json.dumps(body)) is not None


def test_readable_messages_and_aws_events_of_unknown_shape_are_not_unreadable() -> None:
    assert unreadable_reason(_task().to_json()) is None
    assert unreadable_reason(json.dumps(fixture("ebs_create_snapshot"))) is None
    unknown = fixture("ebs_create_snapshot", detail={"event": "lockSnapshot"})
    assert parse(json.dumps(unknown)) is None
    assert unreadable_reason(json.dumps(unknown)) is None
    assert unreadable_reason("not json") is None


def test_an_ebs_arn_with_an_account_names_its_owner() -> None:
    ref = SnapshotRef.from_arn(
        "arn:aws:ec2:eu-west-1:333333333333:snapshot/snap-1", account=ACCOUNT
    )
    assert (ref.region, ref.account) == ("eu-west-1", "333333333333")


def test_a_failed_share_is_ignored() -> None:
    event = fixture("ebs_share_snapshot", detail={"result": "failed"})
    assert isinstance(parse(json.dumps(event)), Ignored)


def test_a_cluster_snapshot_in_a_db_snapshot_event_is_not_read() -> None:
    event = fixture("rds_manual_snapshot_created")
    event["detail"]["SourceArn"] = "arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:c1"
    assert parse(json.dumps(event)) is None
