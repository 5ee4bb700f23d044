"""``kmskit snapshot copy``: the CLI on the shared engine (moto for EBS, Stubber for progress)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from kmskit.cli import main
from kmskit.commands import snapshot as snapshot_command
from kmskit.snapshots.engine import RECENT_SECONDS, SnapshotEngine, SnapshotInfo
from kmskit.snapshots.model import TAG_COPY_KEY, TAG_SOURCE_ID, Origin, SnapshotRef, copy_key
from kmskit.snapshots.outcomes import (
    COPY_FAILED,
    COPY_NOT_FOUND,
    DeadLetterError,
    LimitReachedError,
    RetryableError,
    StepError,
)
from tests.kmskit.conftest import COPY_REGION as TARGET_REGION
from tests.kmskit.conftest import SNAPSHOT_REGION as SOURCE_REGION
from tests.kmskit.test_key_rotation import FakeTime


def copy_args(aws: dict[str, str], *extra: str) -> list[str]:
    return [
        "snapshot",
        "copy",
        aws["snapshot"],
        "--region",
        SOURCE_REGION,
        "--to-region",
        TARGET_REGION,
        "--kms-key",
        aws["key"],
        "--quiet",
        "--poll-seconds",
        "0.01",
        *extra,
    ]


def target_copies() -> list[dict[str, Any]]:
    ec2 = boto3.client("ec2", region_name=TARGET_REGION)
    only_kmskit = [{"Name": "tag:kmskit:managed-by", "Values": ["kmskit-snapshots"]}]
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=only_kmskit)["Snapshots"]


def test_copy_and_wait(aws: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(copy_args(aws, "--wait")) == 0
    out = capsys.readouterr().out
    (copy,) = target_copies()
    # stdout: the copy's ARN alone (--quiet: no status lines on stderr).
    assert out == f"arn:aws:ec2:{TARGET_REGION}::snapshot/{copy['SnapshotId']}\n"
    assert copy["Encrypted"] is True
    assert copy["KmsKeyId"] == aws["key"]
    assert {t["Key"]: t["Value"] for t in copy["Tags"]}[TAG_SOURCE_ID] == aws["snapshot"]


def test_tags_given_are_on_the_copy_beside_kmskits_own(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # In the copy request itself: an SCP that requires aws:RequestTag/CostCenter on
    # ec2:CopySnapshot refuses a copy tagged afterwards.
    args = copy_args(aws, "--tag", "CostCenter=cc-1234", "--tag", "Owner=platform team")
    assert main(args) == 0
    (copy,) = target_copies()
    tags = {t["Key"]: t["Value"] for t in copy["Tags"]}
    assert (tags["CostCenter"], tags["Owner"]) == ("cc-1234", "platform team")
    assert tags[TAG_SOURCE_ID] == aws["snapshot"]


def test_a_tag_with_an_empty_value_is_on_the_copy(aws: dict[str, str]) -> None:
    # KEY= is an empty value, which EC2 and RDS accept (KEY alone is refused: no '=').
    assert main(copy_args(aws, "--tag", "Backup=")) == 0
    (copy,) = target_copies()
    assert {"Key": "Backup", "Value": ""} in copy["Tags"]


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["CostCenter"], "'--tag' must be KEY=VALUE. Received: 'CostCenter'"),
        (
            ["Owner=a", "Owner=b"],
            "'--tag' names the key 'Owner' twice. Received: 'Owner=b'",
        ),
        (
            ["kmskit:role=replica"],
            "'--tag' must not have a tag key starting with 'aws:' (reserved by AWS) or 'kmskit:' "
            "(the toolkit's own tags, which find, share and delete its copies). Received: "
            "'kmskit:role'",
        ),
        (["Owner=a", "owner=b"], "'--tag' must not have the tag key 'owner' beside 'Owner'"),
        ([f"Tag{n}=x" for n in range(40)], "'--tag' must have at most 39 tags"),
    ],
)
def test_bad_tags_are_refused_naming_the_option_before_any_aws_call(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tags: list[str],
    message: str,
) -> None:
    no_aws_call(monkeypatch)
    args = copy_args(aws, *[part for tag in tags for part in ("--tag", tag)])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kmskit: error: {message}")
    assert err.count("\n") == 1


def test_running_it_again_makes_no_second_copy(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(copy_args(aws)) == 0
    first = capsys.readouterr().out
    args = [a for a in copy_args(aws) if a != "--quiet"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert out == first
    assert f"kmskit: found existing copy {first.strip()}" in err
    assert len(target_copies()) == 1


def test_to_account_shares_the_copy(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(copy_args(aws, "--to-account", "333333333333")) == 0
    (copy,) = target_copies()
    permissions = boto3.client("ec2", region_name=TARGET_REGION).describe_snapshot_attribute(
        SnapshotId=copy["SnapshotId"], Attribute="createVolumePermission"
    )["CreateVolumePermissions"]
    assert permissions == [{"UserId": "333333333333"}]
    assert capsys.readouterr().out == (
        f"arn:aws:ec2:{TARGET_REGION}::snapshot/{copy['SnapshotId']}\n"
    )


def test_a_staging_copy_made_by_an_older_version_is_found_again(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(copy_args(aws, "--to-account", "333333333333")) == 0
    (copy,) = target_copies()
    account = boto3.client("sts", region_name=SOURCE_REGION).get_caller_identity()["Account"]
    # Before the copy key named the account shared with, a staging copy's key did not.
    origin = Origin("EBS", aws["snapshot"], SOURCE_REGION, account, "unknown")
    older = copy_key(origin, region=TARGET_REGION, account=account, role="staging")
    boto3.client("ec2", region_name=TARGET_REGION).create_tags(
        Resources=[copy["SnapshotId"]], Tags=[{"Key": TAG_COPY_KEY, "Value": older}]
    )
    capsys.readouterr()
    assert main(copy_args(aws, "--to-account", "333333333333")) == 0
    assert capsys.readouterr().out == (
        f"arn:aws:ec2:{TARGET_REGION}::snapshot/{copy['SnapshotId']}\n"
    )
    assert len(target_copies()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--to-account", "12"], "'--to-account' must be a 12-digit account ID. Received: '12'"),
        (
            ["--to-account", "333333333333\n"],
            "'--to-account' must be a 12-digit account ID. Received: '333333333333\\n'",
        ),
    ],
)
def test_bad_arguments_exit_2(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert main(copy_args(aws, *extra)) == 2
    assert message in capsys.readouterr().err


def test_key_in_another_region_is_refused(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = copy_args(aws)
    args[args.index("--kms-key") + 1] = "arn:aws:kms:us-east-1:123456789012:key/k"
    assert main(args) == 2
    assert "'--kms-key' must be a key in --to-region eu-central-1" in capsys.readouterr().err


def test_missing_snapshot_exits_4(aws: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    args = copy_args(aws)
    args[2] = "snap-0000000000000dead"
    assert main(args) == 4
    assert "no snapshot 'snap-0000000000000dead'" in capsys.readouterr().err


def stubbed_engine(service: str) -> tuple[SnapshotEngine, Stubber]:
    client = boto3.client(
        service, region_name=TARGET_REGION, config=Config(retries={"max_attempts": 1})
    )
    stubber = Stubber(client)
    stubber.activate()
    return SnapshotEngine(lambda s, r: client, account="111111111111"), stubber


def test_wait_reports_ebs_progress() -> None:
    engine, stubber = stubbed_engine("ec2")
    for state, progress in (("pending", "10%"), ("pending", "60%"), ("completed", "100%")):
        stubber.add_response(
            "describe_snapshots",
            {"Snapshots": [{"SnapshotId": "snap-1", "State": state, "Progress": progress}]},
            {"SnapshotIds": ["snap-1"]},
        )
    seen: list[float] = []

    def record(info: SnapshotInfo) -> None:
        seen.append(info.progress)

    ref = SnapshotRef("EBS", "snap-1", TARGET_REGION, "111111111111")
    info = engine.wait(ref, on_progress=record, poll_seconds=0, sleep=lambda _: None)
    assert info.state == "available"
    assert seen == [10.0, 60.0, 100.0]


def test_wait_reports_rds_percent_progress_and_failure() -> None:
    engine, stubber = stubbed_engine("rds")
    for status, percent in (("creating", 5), ("copying", 70), ("failed", 70)):
        stubber.add_response(
            "describe_db_snapshots",
            {
                "DBSnapshots": [
                    {"DBSnapshotIdentifier": "db1", "Status": status, "PercentProgress": percent}
                ]
            },
            {"DBSnapshotIdentifier": "db1", "IncludeShared": False},
        )
    seen: list[float] = []
    ref = SnapshotRef("RDS", "db1", TARGET_REGION, "111111111111")
    with pytest.raises(DeadLetterError, match="failed"):
        engine.wait(ref, on_progress=lambda i: seen.append(i.progress), sleep=lambda _: None)
    assert seen == [5.0, 70.0, 70.0]


def ebs_copy_not_found(stubber: Stubber, snapshot_id: str = "snap-1") -> None:
    stubber.add_client_error(
        "describe_snapshots",
        "InvalidSnapshot.NotFound",
        f"The snapshot '{snapshot_id}' does not exist.",
        400,
        expected_params={"SnapshotIds": [snapshot_id]},
    )


def ebs_copy_row(stubber: Stubber, state: str, progress: str = "0%") -> None:
    stubber.add_response(
        "describe_snapshots",
        {"Snapshots": [{"SnapshotId": "snap-1", "State": state, "Progress": progress}]},
        {"SnapshotIds": ["snap-1"]},
    )


EBS_COPY = SnapshotRef("EBS", "snap-1", TARGET_REGION, "111111111111")


def test_wait_takes_a_copy_not_found_yet_for_a_pending_one_asking_again_sooner() -> None:
    # Right after CopySnapshot EC2 may not know the new ID yet (the eventual consistency the
    # engine's memory of recent copies covers): the wait said "no longer exists" at once.
    engine, stubber = stubbed_engine("ec2")
    time_ = FakeTime()
    for _ in range(3):
        ebs_copy_not_found(stubber)
    ebs_copy_row(stubber, "pending", "30%")
    ebs_copy_row(stubber, "completed", "100%")
    info = engine.wait(EBS_COPY, poll_seconds=15, sleep=time_.sleep, clock=time_.monotonic)
    assert info.state == "available"
    # Asked again after 1, 2, 4 seconds while not found, then every poll_seconds.
    assert time_.slept == [1.0, 2.0, 4.0, 15.0]
    stubber.assert_no_pending_responses()


def test_wait_gives_up_on_a_copy_never_found_after_the_recent_seconds() -> None:
    engine, stubber = stubbed_engine("ec2")
    time_ = FakeTime()
    for _ in range(12):  # 1 + 2 + 4 + ... + 256 > 300 seconds: found on none of the asks
        ebs_copy_not_found(stubber)
    with pytest.raises(DeadLetterError) as raised:
        engine.wait(EBS_COPY, poll_seconds=600, sleep=time_.sleep, clock=time_.monotonic)
    assert raised.value.code == COPY_NOT_FOUND
    assert raised.value.reason == (
        f"the copy {EBS_COPY.arn} was not found for {RECENT_SECONDS:.0f} seconds after it was "
        "started: it was deleted, or never made"
    )
    assert time_.slept == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]
    assert sum(time_.slept) >= RECENT_SECONDS


@pytest.mark.parametrize("seen", [False, True])
def test_wait_reports_a_copy_gone_once_it_was_seen_at_once(seen: bool) -> None:
    # Found once (by this wait, or by the copy call that found it), not found means deleted.
    engine, stubber = stubbed_engine("ec2")
    time_ = FakeTime()
    if not seen:
        ebs_copy_row(stubber, "pending", "10%")
    ebs_copy_not_found(stubber)
    with pytest.raises(DeadLetterError) as raised:
        engine.wait(EBS_COPY, seen=seen, poll_seconds=5, sleep=time_.sleep, clock=time_.monotonic)
    assert raised.value.code == COPY_NOT_FOUND
    assert raised.value.reason == (
        f"the copy {EBS_COPY.arn} no longer exists: it was deleted before it was available"
    )
    assert time_.slept == ([] if seen else [5.0])


def test_wait_timeout_applies_while_a_copy_is_not_found_yet() -> None:
    engine, stubber = stubbed_engine("ec2")
    time_ = FakeTime()
    for _ in range(3):
        ebs_copy_not_found(stubber)
    with pytest.raises(RetryableError) as raised:
        engine.wait(
            EBS_COPY, timeout_seconds=3, poll_seconds=15, sleep=time_.sleep, clock=time_.monotonic
        )
    assert raised.value.reason.startswith(f"{EBS_COPY.arn} is not found yet")
    assert time_.slept == [1.0, 2.0]


@pytest.mark.parametrize(
    ("kind", "operation", "rows", "source_type"),
    [
        ("RDS", "describe_db_snapshots", "DBSnapshots", "db-snapshot"),
        ("AURORA", "describe_db_cluster_snapshots", "DBClusterSnapshots", "db-cluster-snapshot"),
    ],
)
def test_a_failed_rds_or_aurora_copy_says_where_rds_tells_why(
    kind: str, operation: str, rows: str, source_type: str
) -> None:
    # RDS reports only the status: the reason read "failed: failed".
    engine, stubber = stubbed_engine("rds")
    name = "kmskit-r-orders-0123456789abcdef"
    id_field = "DBSnapshotIdentifier" if kind == "RDS" else "DBClusterSnapshotIdentifier"
    stubber.add_response(
        operation,
        {rows: [{id_field: name, "Status": "failed"}]},
        {id_field: name, "IncludeShared": False},
    )
    ref = SnapshotRef(kind, name, TARGET_REGION, "111111111111")  # type: ignore[arg-type]
    with pytest.raises(DeadLetterError) as raised:
        engine.wait(ref, sleep=lambda _: None)
    assert raised.value.code == COPY_FAILED
    assert raised.value.reason == (
        f"copy {ref.arn} failed: status 'failed', RDS gives no reason in the snapshot's "
        f"description; its events do: aws rds describe-events --region {TARGET_REGION} "
        f"--source-type {source_type} --source-identifier {name} --duration 20160"
    )


def test_delete_refuses_snapshots_the_tool_did_not_make() -> None:
    engine, stubber = stubbed_engine("ec2")
    foreign = SnapshotInfo(
        ref=SnapshotRef("EBS", "snap-users", TARGET_REGION, "111111111111"),
        state="available",
        progress=100,
        encrypted=True,
        kms_key_id=None,
        created=None,
        tags={"backup": "replicate"},
    )
    assert engine.delete(foreign) is False
    stubber.assert_no_pending_responses()


def test_an_unencrypted_aurora_snapshot_is_refused_with_the_reason(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rds = boto3.client("rds", region_name=SOURCE_REGION)
    rds.create_db_cluster(
        DBClusterIdentifier="orders",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password-1",
        StorageEncrypted=False,
    )
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-plain"
    )
    args = copy_args(aws)
    args[2] = "orders-plain"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "is an unencrypted Aurora cluster snapshot, which cannot be encrypted on copy" in err
    assert "orders-plain" in err
    copies = boto3.client("rds", region_name=TARGET_REGION).describe_db_cluster_snapshots()
    assert copies["DBClusterSnapshots"] == []


@pytest.mark.parametrize(
    ("problem", "code", "message"),
    [
        (
            LimitReachedError("copy x: ResourceLimitExceeded: too many", "ResourceLimitExceeded"),
            6,
            "ResourceLimitExceeded: too many. Try again later",
        ),
        (
            DeadLetterError(
                "copy x: KMSKeyNotAccessibleFault: no (the KMS key cannot be used)",
                "KMSKeyNotAccessibleFault",
            ),
            3,
            "KMSKeyNotAccessibleFault",
        ),
        (DeadLetterError("copy x: InvalidParameterValue: bad", "InvalidParameterValue"), 1, "bad"),
        # Another replicator's failed copy holds the copy's name: a conflict, as the docs say.
        (
            DeadLetterError(
                "the previous copy x failed (boom) and was made by Source-Replicate, not "
                "kmskit-cli: delete it, then copy again",
                "PreviousCopyFailed",
            ),
            7,
            "made by Source-Replicate, not kmskit-cli: delete it, then copy again",
        ),
    ],
)
def test_copy_problems_exit_with_their_code(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    problem: StepError,
    code: int,
    message: str,
) -> None:
    def refuse(self: SnapshotEngine, *args: Any, **kwargs: Any) -> Any:
        raise problem

    monkeypatch.setattr(SnapshotEngine, "copy", refuse)
    assert main(copy_args(aws)) == code
    assert message in capsys.readouterr().err
    assert target_copies() == []


def test_a_snapshot_in_progress_is_not_copied_yet(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    ec2_backends["123456789012"][SOURCE_REGION].snapshots[aws["snapshot"]].status = "pending"
    assert main(copy_args(aws)) == 6
    assert "is pending; copy it once it is available" in capsys.readouterr().err
    assert target_copies() == []


def test_a_snapshot_in_the_error_state_is_a_conflict_naming_it_and_its_state(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    # It never becomes available: not "try again later" (exit 6) as for a pending snapshot.
    ec2_backends["123456789012"][SOURCE_REGION].snapshots[aws["snapshot"]].status = "error"
    assert main(copy_args(aws)) == 7
    err = capsys.readouterr().err
    assert (
        f"the source snapshot arn:aws:ec2:{SOURCE_REGION}::snapshot/{aws['snapshot']} is in "
        "state 'error'" in err
    )
    assert "Try again later" not in err
    assert target_copies() == []


def test_the_receiving_account_copies_a_shared_staging_copy_under_its_origin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Run in the target account on what the source account shared: the copy keeps the origin
    # the staging copy's description names (the same copy key as the receiver Lambda's copy).
    source, target = "111111111111", "333333333333"
    origin = Origin("EBS", "snap-0origin", "eu-west-1", source, "2026-11-20T10:00:00Z")
    key_arn = f"arn:aws:kms:{TARGET_REGION}:{target}:key/backup"
    clients: dict[str, Any] = {}
    stubbers: dict[str, Stubber] = {}
    for service in ("sts", "ec2"):
        clients[service] = boto3.client(
            service, region_name=TARGET_REGION, config=Config(retries={"max_attempts": 1})
        )
        stubbers[service] = Stubber(clients[service])
        stubbers[service].activate()
    monkeypatch.setattr(
        snapshot_command, "client_factory", lambda settings: lambda s, r: clients[s]
    )
    stubbers["sts"].add_response(
        "get_caller_identity", {"Account": target, "Arn": "arn:aws:iam::333333333333:user/u"}
    )
    ec2 = stubbers["ec2"]
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0shared",
                    "OwnerId": source,
                    "State": "completed",
                    "Encrypted": True,
                    "Description": origin.description(),
                }
            ]
        },
        {"SnapshotIds": ["snap-0shared"]},
    )
    key = copy_key(origin, region=TARGET_REGION, account=target, role="received")
    by_key = {"OwnerIds": ["self"], "Filters": [{"Name": f"tag:{TAG_COPY_KEY}", "Values": [key]}]}
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_key)
    ec2.add_response(
        "copy_snapshot",
        {"SnapshotId": "snap-0mine"},
        {
            "SourceRegion": TARGET_REGION,
            "SourceSnapshotId": "snap-0shared",
            "Encrypted": True,
            "KmsKeyId": key_arn,
            "Description": origin.description(),
            "TagSpecifications": ANY,
        },
    )
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_key)
    args = ["snapshot", "copy", "snap-0shared", "--region", TARGET_REGION]
    args += ["--to-region", TARGET_REGION, "--kms-key", key_arn, "--quiet"]
    assert main(args) == 0
    assert capsys.readouterr().out == f"arn:aws:ec2:{TARGET_REGION}::snapshot/snap-0mine\n"
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()


# --- arguments refused before any AWS call (the CLI probe in /tmp/cliprobe/b7.py) ---------------


def no_aws_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS client was made before the arguments were checked")

    monkeypatch.setattr(snapshot_command, "client_factory", refuse)


@pytest.mark.parametrize("value", ["-1", "0", "nan", "NaN", "inf", "1e400", "3601", "x"])
def test_poll_seconds_must_be_positive_finite_and_at_most_an_hour(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    # -1 and nan made time.sleep fail (ValueError), inf overflowed, once a copy was pending.
    no_aws_call(monkeypatch)
    args = copy_args(aws, "--wait")
    args[args.index("--poll-seconds") + 1] = value
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "kmskit: error: '--poll-seconds' must be a number of seconds, more than 0 and at most "
        f"3600. Received: {value!r}\n"
    )
    assert target_copies() == []


def test_poll_seconds_up_to_an_hour_are_taken(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    def wait(self: SnapshotEngine, ref: SnapshotRef, **kwargs: Any) -> SnapshotInfo:
        waits.append(kwargs["poll_seconds"])
        info = self.describe(ref)
        assert info is not None
        return info

    monkeypatch.setattr(SnapshotEngine, "wait", wait)
    args = copy_args(aws, "--wait")
    args[args.index("--poll-seconds") + 1] = "3600"
    assert main(args) == 0
    assert waits == [3600.0]


@pytest.mark.parametrize(
    "value",
    [
        "arn:kms:",
        "arn:x:kms:",
        "alias/backup",
        "arn:aws:kms:eu-central-1:123456789012:alias/backup",
        "arn:aws:kms:eu-central-1:1234:key/k",
        "arn:aws:kms:eu-central-1:123456789012:key/k\n",
    ],
)
def test_kms_key_that_is_no_key_arn_is_refused_naming_it(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
) -> None:
    # "arn:kms:" was an IndexError traceback (the Region read as split(":")[3]).
    no_aws_call(monkeypatch)
    args = copy_args(aws)
    args[args.index("--kms-key") + 1] = value
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "kmskit: error: '--kms-key' must be a KMS key ARN "
        f"(arn:aws:kms:REGION:ACCOUNT:key/KEY-ID). Received: {value!r}"
    )
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "must be an EBS snapshot ID"),
        ("snap-", "must be an EBS snapshot ID"),
        ("orders/2026", "must be an EBS snapshot ID"),
        ("arn:aws:rds:eu-west-1:111111111111:snapshot:", "not an RDS snapshot ARN"),
    ],
)
def test_a_snapshot_argument_that_names_no_snapshot_is_refused(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    problem: str,
) -> None:
    # An empty identifier made RDS list every snapshot: the first was copied (and shared).
    no_aws_call(monkeypatch)
    args = copy_args(aws, "--to-account", "444444444444")
    args[2] = value
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "'SNAPSHOT'" in err
    assert problem in err
    assert repr(value) in err


def test_describe_returns_only_the_snapshot_asked_for() -> None:
    engine, stubber = stubbed_engine("rds")
    other = {
        "DBSnapshotIdentifier": "payroll-final",
        "DBSnapshotArn": "arn:aws:rds:eu-central-1:111111111111:snapshot:payroll-final",
        "Status": "available",
    }
    stubber.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [other]},
        {"DBSnapshotIdentifier": "orders-final", "IncludeShared": False},
    )
    assert (
        engine.describe(SnapshotRef("RDS", "orders-final", TARGET_REGION, "111111111111")) is None
    )


def test_to_region_that_is_no_region_is_refused_naming_it(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was exit 6 ("Try again later") from the failed copy in a Region that does not exist.
    no_aws_call(monkeypatch)
    args = copy_args(aws)
    args[args.index("--to-region") + 1] = "not a region"
    args[args.index("--kms-key") + 1] = "arn:aws:kms:not a region:123456789012:key/x"
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "kmskit: error: '--to-region' must be an AWS Region name. Received: 'not a region'\n"
    )
