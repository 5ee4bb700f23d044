"""``kmskit snapshot copy`` as an operator uses it: what stdout and stderr say, interruptions,
timeouts, a second run with another key, and the errors that must name what to fix."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from moto import mock_aws

from kmskit.cli import main
from kmskit.commands import snapshot as snapshot_command
from kmskit.errors import Terminated
from kmskit.snapshots.engine import CopyResult, SnapshotEngine, SnapshotInfo
from kmskit.snapshots.model import TAG_COPY_KEY, TAG_SOURCE_ACCOUNT, Origin, SnapshotRef, tag_list

SOURCE_REGION = "eu-west-1"
TARGET_REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=SOURCE_REGION)
        volume = ec2.create_volume(AvailabilityZone=f"{SOURCE_REGION}a", Size=8)["VolumeId"]
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        kms = boto3.client("kms", region_name=TARGET_REGION)
        key = kms.create_key()["KeyMetadata"]["Arn"]
        other_key = kms.create_key()["KeyMetadata"]["Arn"]
        yield {"snapshot": snapshot, "key": key, "other_key": other_key}


def copy_args(aws: dict[str, str], *extra: str, key: str | None = None) -> list[str]:
    return [
        "snapshot",
        "copy",
        aws["snapshot"],
        "--region",
        SOURCE_REGION,
        "--to-region",
        TARGET_REGION,
        "--kms-key",
        key or aws["key"],
        "--poll-seconds",
        "0.01",
        *extra,
    ]


def target_copies(region: str = TARGET_REGION) -> list[dict[str, Any]]:
    ec2 = boto3.client("ec2", region_name=region)
    only_kmskit = [{"Name": "tag:kmskit:managed-by", "Values": ["kmskit-snapshots"]}]
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=only_kmskit)["Snapshots"]


def copy_arn(snapshot_id: str) -> str:
    return f"arn:aws:ec2:{TARGET_REGION}::snapshot/{snapshot_id}"


# --- stdout is the copy's ARN, status on stderr --------------------------------------------------


def test_stdout_is_the_copy_arn_alone_and_the_status_goes_to_stderr(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # It printed "started copy ARN" and "copy ARN is available" on stdout: a script that did
    # ARN=$(kmskit snapshot copy ...) got two lines of prose.
    assert main(copy_args(aws, "--wait")) == 0
    out, err = capsys.readouterr()
    (copy,) = target_copies()
    arn = copy_arn(copy["SnapshotId"])
    assert out == f"{arn}\n"
    assert err == (
        f"kmskit: started copy {arn} of arn:aws:ec2:{SOURCE_REGION}::snapshot/{aws['snapshot']}\n"
        f"kmskit: copy {arn} is available\n"
    )
    # Running it again prints the same ARN: the same copy, not a second one.
    assert main(copy_args(aws, "--quiet")) == 0
    out, err = capsys.readouterr()
    assert (out, err) == (f"{arn}\n", "")
    assert len(target_copies()) == 1


def test_the_share_instructions_go_to_stderr(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(copy_args(aws, "--to-account", "333333333333")) == 0
    out, err = capsys.readouterr()
    (copy,) = target_copies()
    arn = copy_arn(copy["SnapshotId"])
    assert out == f"{arn}\n"
    assert (
        f"kmskit: shared {arn} with 333333333333; in that account run: kmskit snapshot copy "
        f"{arn} --region {TARGET_REGION}" in err
    )
    # Nothing unshares it later (a replicator leaves a copy of kmskit-cli alone): the command
    # says so, and how.
    assert (
        f"kmskit: {arn} stays shared with 333333333333 until you unshare it; once that account "
        "has its copy, run: aws ec2 modify-snapshot-attribute --region "
        f"{TARGET_REGION} --snapshot-id {copy['SnapshotId']} --attribute createVolumePermission "
        "--operation-type remove --user-ids 333333333333\n" in err
    )


# --- a second run with another key ---------------------------------------------------------------


def test_a_second_run_with_another_key_is_a_conflict_naming_both_keys(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # It reported "found existing copy" (exit 0): the copy under the first key, not the one asked.
    assert main(copy_args(aws, "--quiet")) == 0
    (copy,) = target_copies()
    capsys.readouterr()
    assert main(copy_args(aws, "--quiet", key=aws["other_key"])) == 7
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{copy_arn(copy['SnapshotId'])}, encrypted with {aws['key']}" in err
    assert f"not with --kms-key {aws['other_key']}: no second copy is made" in err
    assert len(target_copies()) == 1


# --- arguments -----------------------------------------------------------------------------------


def test_a_snapshot_arn_needs_no_region(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The docs' own RDS example gives no --region: it failed with "'--region' is needed".
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    arn = f"arn:aws:ec2:{SOURCE_REGION}::snapshot/{aws['snapshot']}"
    args = ["snapshot", "copy", arn, "--to-region", TARGET_REGION, "--kms-key", aws["key"]]
    assert main([*args, "--quiet"]) == 0
    (copy,) = target_copies()
    assert capsys.readouterr().out == f"{copy_arn(copy['SnapshotId'])}\n"


def test_a_region_that_contradicts_the_snapshot_arn_is_refused(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    arn = f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:snapshot:orders"
    args = ["snapshot", "copy", arn, "--region", "us-east-1", "--to-region", TARGET_REGION]
    assert main([*args, "--kms-key", aws["key"]]) == 2
    assert capsys.readouterr().err == (
        f"kmskit: error: '--region' us-east-1 is not the Region of SNAPSHOT {arn} "
        f"({SOURCE_REGION}): leave --region out or give {SOURCE_REGION}\n"
    )


def test_to_account_that_is_this_account_is_refused(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # It made a staging copy, "shared" it with its own account and told that account to copy it.
    assert main(copy_args(aws, "--to-account", ACCOUNT)) == 2
    assert capsys.readouterr().err == (
        f"kmskit: error: '--to-account' {ACCOUNT} is this account: leave --to-account out to "
        "copy within it\n"
    )
    assert target_copies() == []


def test_a_copy_that_would_change_nothing_is_refused(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Same Region, same account, same key: it made a second, identical snapshot.
    key = boto3.client("kms", region_name=SOURCE_REGION).create_key()["KeyMetadata"]["Arn"]
    ec2 = boto3.client("ec2", region_name=SOURCE_REGION)
    encrypted = ec2.copy_snapshot(
        SourceRegion=SOURCE_REGION, SourceSnapshotId=aws["snapshot"], Encrypted=True, KmsKeyId=key
    )["SnapshotId"]
    args = ["snapshot", "copy", encrypted, "--region", SOURCE_REGION]
    assert main([*args, "--to-region", SOURCE_REGION, "--kms-key", key]) == 2
    err = capsys.readouterr().err
    assert f"'SNAPSHOT' arn:aws:ec2:{SOURCE_REGION}::snapshot/{encrypted} is already in " in err
    assert f"encrypted with --kms-key {key}: a copy would change nothing" in err
    assert target_copies(SOURCE_REGION) == []


@pytest.mark.parametrize("value", ["alias/backup", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/backup"])
def test_an_alias_is_refused_saying_how_to_find_its_key(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(copy_args(aws, key=value)) == 2
    assert capsys.readouterr().err == (
        "kmskit: error: '--kms-key' must be a KMS key ARN "
        f"(arn:aws:kms:REGION:ACCOUNT:key/KEY-ID). Received: {value!r}; an alias is not taken, "
        "look up its key in the destination Region: aws kms describe-key --key-id alias/backup "
        f"--region {TARGET_REGION} --query KeyMetadata.Arn\n"
    )


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_timeout_must_be_a_positive_number(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], value: str
) -> None:
    assert main(copy_args(aws, "--timeout", value)) == 2
    assert capsys.readouterr().err == (
        f"kmskit: error: '--timeout' must be a number of seconds, more than 0. Received: "
        f"{value!r}\n"
    )


# --- waiting: timeout, Ctrl-C, SIGTERM -----------------------------------------------------------


def pending_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every copy stays pending (moto completes them at once), on a fast clock."""
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    original_copy, original_wait = SnapshotEngine.copy, SnapshotEngine.wait

    def copy(self: SnapshotEngine, *args: Any, **kwargs: Any) -> CopyResult:
        result = original_copy(self, *args, **kwargs)
        made = ec2_backends[ACCOUNT][TARGET_REGION].snapshots[result.info.ref.id]
        made.status = "pending"  # (moto reports every snapshot at 100%)
        return result

    ticks = itertools.count(step=60.0)

    def wait(self: SnapshotEngine, ref: SnapshotRef, **kwargs: Any) -> SnapshotInfo:
        return original_wait(self, ref, sleep=lambda _: None, clock=lambda: next(ticks), **kwargs)

    monkeypatch.setattr(SnapshotEngine, "copy", copy)
    monkeypatch.setattr(SnapshotEngine, "wait", wait)


def test_timeout_stops_the_wait_with_exit_6_saying_the_copy_goes_on(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pending_copies(monkeypatch)
    assert main(copy_args(aws, "--timeout", "300", "--quiet")) == 6
    out, err = capsys.readouterr()
    (copy,) = target_copies()
    arn = copy_arn(copy["SnapshotId"])
    assert out == f"{arn}\n"  # the ARN is known before the wait
    assert err == (
        f"kmskit: error: {arn} is still pending (100%) after --timeout 300 seconds; the copy "
        f"{arn} goes on in AWS: run the same command again to find it and wait\n"
    )


@pytest.mark.parametrize(
    ("signal", "code", "last"),
    [(KeyboardInterrupt, 130, "kmskit: interrupted"), (Terminated, 143, "kmskit: terminated")],
)
def test_ctrl_c_during_the_wait_says_the_copy_goes_on_and_how_to_find_it(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    signal: type[BaseException],
    code: int,
    last: str,
) -> None:
    # It said only "kmskit: interrupted": nothing about the copy that goes on in AWS.
    def interrupted(self: SnapshotEngine, ref: SnapshotRef, **kwargs: Any) -> SnapshotInfo:
        raise signal

    monkeypatch.setattr(SnapshotEngine, "wait", interrupted)
    assert main(copy_args(aws, "--to-account", "333333333333", "--quiet")) == code
    out, err = capsys.readouterr()
    (copy,) = target_copies()
    arn = copy_arn(copy["SnapshotId"])
    assert out == f"{arn}\n"
    assert err == (
        f"kmskit: stopped waiting; the copy {arn} goes on in AWS: run the same command again "
        f"to find it and wait for it, then share it with 333333333333\n{last}\n"
    )


# --- errors that must name what to fix (Stubber: moto does not model them) -----------------------


def stubbed_cli(monkeypatch: pytest.MonkeyPatch, service: str) -> Stubber:
    return stubbed_clients(monkeypatch, service)[service]


def stubbed_clients(monkeypatch: pytest.MonkeyPatch, *services: str) -> dict[str, Stubber]:
    """Stubbed clients of ``services`` (one per service, whatever the Region) for the CLI,
    whose sts answers the caller's identity."""
    clients: dict[str, Any] = {}
    stubbers: dict[str, Stubber] = {}
    for name in ("sts", *services):
        clients[name] = boto3.client(
            name, region_name=SOURCE_REGION, config=Config(retries={"max_attempts": 1})
        )
        stubbers[name] = Stubber(clients[name])
        stubbers[name].activate()
    monkeypatch.setattr(
        snapshot_command, "client_factory", lambda settings: lambda s, r: clients[s]
    )
    stubbers["sts"].add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/u"}
    )
    return stubbers


KEY = f"arn:aws:kms:{TARGET_REGION}:{ACCOUNT}:key/backup"
SOURCE_KEY = f"arn:aws:kms:{SOURCE_REGION}:{ACCOUNT}:key/source"
SAME_REGION_KEY = f"arn:aws:kms:{SOURCE_REGION}:{ACCOUNT}:key/backup"
ORDERS = f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:snapshot:orders"
RDS_ARGS = ["snapshot", "copy", ORDERS, "--to-region", TARGET_REGION, "--kms-key", KEY, "-q"]


def describe_orders(rds: Stubber) -> None:
    rds.add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {
                    "DBSnapshotIdentifier": "orders",
                    "DBSnapshotArn": ORDERS,
                    "Status": "available",
                    "Encrypted": True,
                    "KmsKeyId": SOURCE_KEY,
                }
            ]
        },
        {"DBSnapshotIdentifier": "orders", "IncludeShared": False},
    )


@pytest.fixture
def key_refused(monkeypatch: pytest.MonkeyPatch) -> tuple[Stubber, Stubber]:
    """Stubbed RDS, which refuses the copy with KMSKeyNotAccessibleFault (it does not say
    why), and stubbed KMS, to be told the keys' states: ``(rds, kms)``."""
    stubbers = stubbed_clients(monkeypatch, "rds", "kms")
    refuse_rds_copy_for_a_key(stubbers["rds"])
    return stubbers["rds"], stubbers["kms"]


def refuse_rds_copy_for_a_key(rds: Stubber) -> None:
    """RDS refuses the copy with KMSKeyNotAccessibleFault, which does not say why."""
    describe_orders(rds)
    rds.add_client_error(
        "copy_db_snapshot",
        service_error_code="KMSKeyNotAccessibleFault",
        service_message="The specified KMS key is not accessible",
        http_status_code=400,
        expected_params={
            "SourceDBSnapshotIdentifier": ORDERS,
            "TargetDBSnapshotIdentifier": ANY,
            "KmsKeyId": KEY,
            "Tags": ANY,
            "SourceRegion": SOURCE_REGION,
        },
    )


def key_state(kms: Stubber, key: str, state: str) -> None:
    kms.add_response(
        "describe_key",
        {"KeyMetadata": {"KeyId": key.rsplit("/", 1)[1], "Arn": key, "KeyState": state}},
        {"KeyId": key},
    )


def test_rds_key_not_accessible_names_both_keys_exit_3(
    capsys: pytest.CaptureFixture[str], key_refused: tuple[Stubber, Stubber]
) -> None:
    # It named only --kms-key, but RDS answers the same when the source's key refuses.
    rds, kms = key_refused
    # Both keys are enabled (asked to tell a disabled key from a refused one): access denied.
    key_state(kms, KEY, "Enabled")
    key_state(kms, SOURCE_KEY, "Enabled")
    assert main(RDS_ARGS) == 3
    err = capsys.readouterr().err
    assert "KMSKeyNotAccessibleFault: The specified KMS key is not accessible" in err
    assert (
        f"the keys it uses: --kms-key {KEY} (encrypts the copy) and the source's key "
        f"{SOURCE_KEY} (decrypts it)\n" in err
    )
    rds.assert_no_pending_responses()
    kms.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("key", "state", "remedy"),
    [
        ("copy", "Disabled", "enable it (aws kms enable-key)"),
        (
            "source",
            "PendingDeletion",
            "cancel its deletion (aws kms cancel-key-deletion), then enable it",
        ),
        ("copy", "PendingImport", "import its key material (kmskit key import-material)"),
        (
            "source",
            "Unavailable",
            "connect its custom key store (aws kms connect-custom-key-store)",
        ),
        ("copy", "Updating", "wait until it is Enabled"),
    ],
)
def test_rds_key_not_accessible_for_a_key_not_enabled_says_so_exit_7(
    capsys: pytest.CaptureFixture[str],
    key_refused: tuple[Stubber, Stubber],
    key: str,
    state: str,
    remedy: str,
) -> None:
    # KMSKeyNotAccessibleFault does not say why; it exited 3 with "check its key policy" for a
    # key that was only disabled or pending deletion. KMS says which key and its state.
    _, kms = key_refused
    key_state(kms, KEY, state if key == "copy" else "Enabled")
    key_state(kms, SOURCE_KEY, state if key == "source" else "Enabled")
    assert main(RDS_ARGS) == 7
    named = KEY if key == "copy" else SOURCE_KEY
    err = capsys.readouterr().err
    assert err.endswith(
        "KMSKeyNotAccessibleFault: The specified KMS key is not accessible "
        f"({named} is {state}: {remedy}; then run the command again)\n"
    )
    kms.assert_no_pending_responses()


def test_rds_key_not_accessible_when_kms_will_not_describe_the_keys_stays_exit_3(
    capsys: pytest.CaptureFixture[str], key_refused: tuple[Stubber, Stubber]
) -> None:
    _, kms = key_refused
    for _ in range(2):
        kms.add_client_error("describe_key", "AccessDeniedException", "no", 400)
    assert main(RDS_ARGS) == 3
    assert "(the KMS key cannot be used: check its key policy)" in capsys.readouterr().err


def test_rds_key_not_accessible_when_kms_cannot_be_reached_stays_exit_3(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    key_refused: tuple[Stubber, Stubber],
) -> None:
    # Asking KMS is best effort: a connection error there leaves the copy's own error (exit 3,
    # both keys named), not a network error in its place.
    _, kms = key_refused
    asked: list[str] = []

    def unreachable(*, KeyId: str) -> dict[str, Any]:  # noqa: N803 (the API's parameter)
        asked.append(KeyId)
        raise EndpointConnectionError(endpoint_url="https://kms.eu-central-1.amazonaws.com")

    monkeypatch.setattr(kms.client, "describe_key", unreachable)
    assert main(RDS_ARGS) == 3
    assert asked == [KEY, SOURCE_KEY]
    err = capsys.readouterr().err
    assert "KMSKeyNotAccessibleFault: The specified KMS key is not accessible" in err
    assert "(the KMS key cannot be used: check its key policy)" in err
    assert err.endswith(
        f"the keys it uses: --kms-key {KEY} (encrypts the copy) and the source's key "
        f"{SOURCE_KEY} (decrypts it)\n"
    )


def test_access_denied_on_the_source_names_it_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rds = stubbed_cli(monkeypatch, "rds")
    rds.add_client_error(
        "describe_db_snapshots", service_error_code="AccessDenied", http_status_code=403
    )
    assert main(RDS_ARGS) == 3
    assert f"kmskit: error: describe {ORDERS}: AccessDenied" in capsys.readouterr().err


def test_throttling_after_the_retries_exits_6(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rds = stubbed_cli(monkeypatch, "rds")
    describe_orders(rds)
    rds.add_client_error(
        "copy_db_snapshot",
        service_error_code="Throttling",
        service_message="Rate exceeded",
        http_status_code=400,
    )
    assert main(RDS_ARGS) == 6
    assert "Throttling: Rate exceeded. Try again later" in capsys.readouterr().err


# --- a copy followed by --wait (Stubber: EC2's eventual consistency, asynchronous failures) ------

EBS_SOURCE = "snap-0aaaa1111bbbb2222"
EBS_COPY = "snap-0bbbb3333cccc4444"
EBS_COPY_ARN = f"arn:aws:ec2:{TARGET_REGION}::snapshot/{EBS_COPY}"
EBS_ARGS = ["snapshot", "copy", EBS_SOURCE, "--region", SOURCE_REGION, "--to-region"]
EBS_ARGS += [TARGET_REGION, "--kms-key", KEY, "--wait", "--poll-seconds", "0.01", "-q"]


def start_ebs_copy(ec2: Stubber) -> None:
    """EC2 describes the source (encrypted with SOURCE_KEY), finds no copy of it, makes
    EBS_COPY and, right after, does not find it by its tag yet."""
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": EBS_SOURCE,
                    "OwnerId": ACCOUNT,
                    "State": "completed",
                    "Encrypted": True,
                    "KmsKeyId": SOURCE_KEY,
                }
            ]
        },
        {"SnapshotIds": [EBS_SOURCE]},
    )
    by_key = {"OwnerIds": ["self"], "Filters": ANY}
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_key)
    ec2.add_response(
        "copy_snapshot",
        {"SnapshotId": EBS_COPY},
        {
            "SourceRegion": SOURCE_REGION,
            "SourceSnapshotId": EBS_SOURCE,
            "Encrypted": True,
            "KmsKeyId": KEY,
            "Description": ANY,
            "TagSpecifications": ANY,
        },
    )
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_key)


def ebs_copy_is(ec2: Stubber, state: str | None, message: str = "") -> None:
    """The wait's next describe of EBS_COPY: in ``state`` (with ``message``), or not found."""
    if state is None:
        ec2.add_client_error(
            "describe_snapshots",
            "InvalidSnapshot.NotFound",
            f"The snapshot '{EBS_COPY}' does not exist.",
            400,
            expected_params={"SnapshotIds": [EBS_COPY]},
        )
        return
    row = {"SnapshotId": EBS_COPY, "OwnerId": ACCOUNT, "State": state, "Encrypted": True}
    row |= {"KmsKeyId": KEY, "Progress": "100%" if state == "completed" else "0%"}
    if message:
        row["StateMessage"] = message
    ec2.add_response("describe_snapshots", {"Snapshots": [row]}, {"SnapshotIds": [EBS_COPY]})


def test_an_ebs_copy_ec2_does_not_show_yet_is_waited_for(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Right after CopySnapshot EC2 answered InvalidSnapshot.NotFound: the command reported
    # "no longer exists" (exit 1) for a copy that went on, and a second run could copy again.
    ec2 = stubbed_clients(monkeypatch, "ec2")["ec2"]
    start_ebs_copy(ec2)
    ebs_copy_is(ec2, None)
    ebs_copy_is(ec2, None)
    ebs_copy_is(ec2, "pending")
    ebs_copy_is(ec2, "completed")
    assert main(EBS_ARGS) == 0
    assert capsys.readouterr() == (f"{EBS_COPY_ARN}\n", "")
    ec2.assert_no_pending_responses()


def test_an_ebs_copy_deleted_while_waited_for_is_not_found_exit_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ec2 = stubbed_clients(monkeypatch, "ec2")["ec2"]
    start_ebs_copy(ec2)
    ebs_copy_is(ec2, "pending")
    ebs_copy_is(ec2, None)  # seen once: gone, not "not visible yet"
    assert main(EBS_ARGS) == 4
    assert capsys.readouterr().err == (
        f"kmskit: error: the copy {EBS_COPY_ARN} no longer exists: it was deleted before it was "
        "available; run the same command again to copy again\n"
    )
    ec2.assert_no_pending_responses()


@pytest.fixture
def ebs_copy_failed_for_a_key(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """The EBS copy fails once started, saying only "Given key ID is not accessible"; the
    stubbed KMS, to be told the keys' states, is returned."""
    stubbers = stubbed_clients(monkeypatch, "ec2", "kms")
    start_ebs_copy(stubbers["ec2"])
    ebs_copy_is(stubbers["ec2"], "error", "Given key ID is not accessible")
    return stubbers["kms"]


@pytest.mark.parametrize(
    ("source_key", "code", "said"),
    [
        # Only --kms-key was asked for; the source's disabled key went unnamed (exit 3).
        (
            "Disabled",
            7,
            f" ({SOURCE_KEY} is Disabled: enable it (aws kms enable-key); then run the command "
            "again)",
        ),
        (
            "Enabled",
            3,
            f"; the keys it uses: --kms-key {KEY} (encrypts the copy) and the source's key "
            f"{SOURCE_KEY} (decrypts it)",
        ),
    ],
)
def test_an_ebs_copy_failed_for_a_key_names_the_source_key_too(
    capsys: pytest.CaptureFixture[str],
    ebs_copy_failed_for_a_key: Stubber,
    source_key: str,
    code: int,
    said: str,
) -> None:
    kms = ebs_copy_failed_for_a_key
    key_state(kms, KEY, "Enabled")
    key_state(kms, SOURCE_KEY, source_key)
    assert main(EBS_ARGS) == code
    assert capsys.readouterr().err == (
        f"kmskit: error: copy {EBS_COPY_ARN} failed: Given key ID is not accessible{said}\n"
    )
    kms.assert_no_pending_responses()


RDS_COPY = "kmskit-r-orders-0123456789abcdef"
RDS_COPY_ARN = f"arn:aws:rds:{TARGET_REGION}:{ACCOUNT}:snapshot:{RDS_COPY}"


@pytest.mark.parametrize("source_key", ["Enabled", "PendingDeletion"])
def test_an_rds_copy_failed_while_waited_for_exits_7_saying_where_rds_tells_why(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, source_key: str
) -> None:
    # It said "failed: failed" (exit 1, undocumented) and asked no key's state.
    stubbers = stubbed_clients(monkeypatch, "rds", "kms")
    rds, kms = stubbers["rds"], stubbers["kms"]
    describe_orders(rds)
    row = {"DBSnapshotIdentifier": RDS_COPY, "DBSnapshotArn": RDS_COPY_ARN, "Encrypted": True}
    row |= {"KmsKeyId": KEY, "PercentProgress": 0}
    rds.add_response(
        "copy_db_snapshot",
        {"DBSnapshot": {**row, "Status": "pending"}},
        {
            "SourceDBSnapshotIdentifier": ORDERS,
            "TargetDBSnapshotIdentifier": ANY,
            "KmsKeyId": KEY,
            "Tags": ANY,
            "SourceRegion": SOURCE_REGION,
        },
    )
    rds.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [{**row, "Status": "failed"}]},
        {"DBSnapshotIdentifier": RDS_COPY, "IncludeShared": False},
    )
    key_state(kms, KEY, "Enabled")
    key_state(kms, SOURCE_KEY, source_key)
    assert main([*RDS_ARGS, "--wait", "--poll-seconds", "0.01"]) == 7
    err = capsys.readouterr().err
    events = (
        f"aws rds describe-events --region {TARGET_REGION} --source-type db-snapshot "
        f"--source-identifier {RDS_COPY} --duration 20160"
    )
    failed = (
        f"kmskit: error: copy {RDS_COPY_ARN} failed: status 'failed', RDS gives no reason in the "
        f"snapshot's description; its events do: {events}"
    )
    if source_key == "Enabled":
        assert err == (
            f"{failed}; the keys it uses: --kms-key {KEY} (encrypts the copy) and the source's "
            f"key {SOURCE_KEY} (decrypts it)\n"
        )
    else:
        assert err == (
            f"{failed} ({SOURCE_KEY} is PendingDeletion: cancel its deletion (aws kms "
            "cancel-key-deletion), then enable it; then run the command again)\n"
        )
    rds.assert_no_pending_responses()
    kms.assert_no_pending_responses()
    with mock_aws():
        run_as_the_aws_cli(events)  # a command the AWS CLI takes


# --- a snapshot another account shared ----------------------------------------------------------


def test_a_shared_ebs_snapshot_claiming_another_accounts_origin_is_copied_as_its_own(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The origin in the description was taken as it was, though its owner writes it: a sharer
    # could have the copy tagged as another account's backup (its kmskit:copy-key), which that
    # account's receiver then finds instead of copying its real staging snapshot. The receiver
    # refuses such an origin; the command now takes the snapshot's own, as for any snapshot.
    owner, claimed = "999999999999", "111111111111"
    ec2 = stubbed_clients(monkeypatch, "ec2")["ec2"]
    shared = SnapshotRef("EBS", "snap-0eeee5555ffff6666", SOURCE_REGION, owner)
    lie = Origin("EBS", "snap-0real", SOURCE_REGION, claimed, "2026-12-01T00:00:00Z")
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": shared.id,
                    "OwnerId": owner,
                    "State": "completed",
                    "Encrypted": True,
                    "KmsKeyId": f"arn:aws:kms:{SOURCE_REGION}:{owner}:key/x",
                    "Description": lie.description(),
                }
            ]
        },
        {"SnapshotIds": [shared.id]},
    )
    own = Origin.of(shared, None)
    engine = SnapshotEngine(lambda s, r: None, account=ACCOUNT)
    tags = engine.copy_tags(own, region=SOURCE_REGION, role="received", destination_account=None)
    by_key = {
        "OwnerIds": ["self"],
        "Filters": [{"Name": f"tag:{TAG_COPY_KEY}", "Values": [tags[TAG_COPY_KEY]]}],
    }
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_key)
    ec2.add_response(
        "copy_snapshot",
        {"SnapshotId": "snap-0copy"},
        {
            "SourceRegion": SOURCE_REGION,
            "SourceSnapshotId": shared.id,
            "Encrypted": True,
            "KmsKeyId": SAME_REGION_KEY,
            "Description": own.description(),
            "TagSpecifications": [{"ResourceType": "snapshot", "Tags": tag_list(tags)}],
        },
    )
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_key)
    args = ["snapshot", "copy", shared.id, "--region", SOURCE_REGION, "--to-region"]
    assert main([*args, SOURCE_REGION, "--kms-key", SAME_REGION_KEY, "-q"]) == 0
    assert capsys.readouterr().out == f"arn:aws:ec2:{SOURCE_REGION}::snapshot/snap-0copy\n"
    assert tags[TAG_SOURCE_ACCOUNT] == owner
    ec2.assert_no_pending_responses()


# RDS's SnapshotQuotaExceeded is both its copy limit and the Region's manual snapshot quota (the
# messages RDS gives for each): only the first frees up by waiting.
@pytest.mark.parametrize(
    ("message", "code", "said"),
    [
        (
            "Cannot create more than 100 manual snapshots",
            7,
            "SnapshotQuotaExceeded: Cannot create more than 100 manual snapshots (the Region's "
            "quota of manual RDS snapshots, 100 by default: 'Manual DB instance snapshots' or "
            "'Manual DB cluster snapshots' in Service Quotas; waiting does not free it",
        ),
        (
            "Cannot copy more than 5 snapshots across regions",
            6,
            "SnapshotQuotaExceeded: Cannot copy more than 5 snapshots across regions. Try again "
            "later",
        ),
    ],
)
def test_the_manual_snapshot_quota_is_no_copy_limit_to_wait_for(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    message: str,
    code: int,
    said: str,
) -> None:
    # The quota answered "Try again later" (exit 6): trying again later fails the same way.
    rds = stubbed_cli(monkeypatch, "rds")
    describe_orders(rds)
    rds.add_client_error(
        "copy_db_snapshot",
        service_error_code="SnapshotQuotaExceeded",
        service_message=message,
        http_status_code=400,
    )
    assert main(RDS_ARGS) == code
    assert said in capsys.readouterr().err


# --- the unshare command of an RDS or Aurora staging copy ----------------------------------------


def run_as_the_aws_cli(command: str) -> None:
    """Run ``aws SERVICE OPERATION --region R --option value ...`` as the AWS CLI maps it onto
    the service model: the operation and each option are the model's names in hyphenated form
    (``botocore.xform_name``), a list member takes the value as its one item. An option the
    operation does not have fails the test (KeyError), as the CLI would refuse it."""
    words = shlex.split(command)
    assert words[0] == "aws"
    service, operation, options = words[1], words[2], words[3:]
    values = dict(zip(options[::2], options[1::2], strict=True))
    client = boto3.client(service, region_name=values.pop("--region"))
    model = client.meta.service_model
    (name,) = [n for n in model.operation_names if xform_name(n, "-") == operation]
    shape = model.operation_model(name).input_shape
    members = {xform_name(m, "-"): m for m in shape.members}
    params: dict[str, Any] = {}
    for option, value in values.items():
        member = members[option.removeprefix("--")]
        kind = shape.members[member].type_name
        params[member] = [value] if kind == "list" else int(value) if kind == "integer" else value
    getattr(client, xform_name(name))(**params)


def _unshare_command(err: str, copy: str) -> str:
    """The command the last line of ``err`` gives for unsharing ``copy``."""
    line = f"kmskit: {copy} stays shared with 333333333333 until you unshare it; once that "
    (found,) = [x for x in err.splitlines() if x.startswith(line)]
    return found.split("once that account has its copy, run: ", 1)[1]


def test_the_unshare_command_of_an_ebs_staging_copy_unshares_it(
    aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(copy_args(aws, "--to-account", "333333333333")) == 0
    out, err = capsys.readouterr()
    ec2 = boto3.client("ec2", region_name=TARGET_REGION)
    (copy,) = target_copies()

    def shared() -> list[dict[str, str]]:
        return ec2.describe_snapshot_attribute(
            SnapshotId=copy["SnapshotId"], Attribute="createVolumePermission"
        )["CreateVolumePermissions"]

    assert shared() == [{"UserId": "333333333333"}]
    run_as_the_aws_cli(_unshare_command(err, out.strip()))
    assert shared() == []


def _encrypted_key() -> str:
    return str(boto3.client("kms", region_name=SOURCE_REGION).create_key()["KeyMetadata"]["Arn"])


def _encrypted_db_snapshot(kind: str) -> str:
    """An encrypted manual RDS DB snapshot (``kind`` RDS) or Aurora cluster snapshot; its
    identifier."""
    rds = boto3.client("rds", region_name=SOURCE_REGION)
    database = {
        "MasterUsername": "admin_user",
        "MasterUserPassword": "not-a-real-password-1",
        "StorageEncrypted": True,
        "KmsKeyId": _encrypted_key(),
    }
    if kind == "RDS":
        rds.create_db_instance(
            DBInstanceIdentifier="orders",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            AllocatedStorage=20,
            **database,
        )
        rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-manual")
        return "orders-manual"
    rds.create_db_cluster(DBClusterIdentifier="ledger", Engine="aurora-postgresql", **database)
    rds.create_db_cluster_snapshot(
        DBClusterIdentifier="ledger", DBClusterSnapshotIdentifier="ledger-manual"
    )
    return "ledger-manual"


def _restorable_by(kind: str, identifier: str) -> list[str]:
    """The accounts an RDS (``kind`` RDS) or Aurora snapshot is shared with."""
    rds = boto3.client("rds", region_name=SOURCE_REGION)
    if kind == "RDS":
        result = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=identifier)[
            "DBSnapshotAttributesResult"
        ]["DBSnapshotAttributes"]
    else:
        result = rds.describe_db_cluster_snapshot_attributes(
            DBClusterSnapshotIdentifier=identifier
        )["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
    (restore,) = result
    assert restore["AttributeName"] == "restore"
    return list(restore["AttributeValues"])


@pytest.mark.parametrize(
    ("kind", "arn_type", "operation", "option"),
    [
        ("RDS", "snapshot", "modify-db-snapshot-attribute", "--db-snapshot-identifier"),
        (
            "AURORA",
            "cluster-snapshot",
            "modify-db-cluster-snapshot-attribute",
            "--db-cluster-snapshot-identifier",
        ),
    ],
)
def test_the_unshare_command_of_an_rds_or_aurora_staging_copy_unshares_it(
    aws: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    kind: str,
    arn_type: str,
    operation: str,
    option: str,
) -> None:
    # Only the EBS form was checked. moto copies RDS snapshots within one Region only: the
    # staging copy is made in the source's Region.
    args = copy_args(aws, "--to-account", "333333333333", key=_encrypted_key())
    args[2] = _encrypted_db_snapshot(kind)
    args[args.index("--to-region") + 1] = SOURCE_REGION
    assert main(args) == 0
    out, err = capsys.readouterr()
    copy = out.strip()
    identifier = copy.rsplit(":", 1)[-1]
    assert copy == f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:{arn_type}:{identifier}"
    assert (
        f"kmskit: {copy} stays shared with 333333333333 until you unshare it; once that account "
        f"has its copy, run: aws rds {operation} --region {SOURCE_REGION} {option} "
        f"{identifier} --attribute-name restore --values-to-remove 333333333333\n" in err
    )
    # The command does what it says: the staging copy is shared with that account until it runs.
    assert _restorable_by(kind, identifier) == ["333333333333"]
    run_as_the_aws_cli(_unshare_command(err, copy))
    assert _restorable_by(kind, identifier) == []
