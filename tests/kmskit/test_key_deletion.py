"""``kmskit key schedule-deletion``: a key is scheduled for deletion only when the trail's logs
and its grants show nothing depends on it (kmskit/key_deletion.py).

moto holds the key, its grants and the trail's bucket; the log files are written as CloudTrail
writes them (tests/kmskit/test_audit.py's helpers). What moto does not model (an AWS managed
key, a multi-Region primary's answer without a deletion date) goes through botocore's Stubber,
which checks each request against the KMS API model.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from kmskit.audit import AuditReader, DateRange, LogLocation
from kmskit.audit_integrity import DigestSpan
from kmskit.cli import main
from kmskit.errors import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    ConflictError,
    UsageError,
)
from kmskit.key_deletion import (
    USE_EVENTS,
    DeletionCheck,
    DeletionTarget,
    LastUsage,
    check_deletion,
    describe_deletion_target,
    list_grants,
    periods_without_digests,
    read_last_usage,
    schedule_deletion,
)
from tests.kmskit.conftest import KmsAnswers, refuse
from tests.kmskit.test_audit import (
    APP_ROLE,
    BUCKET,
    PREFIX,
    assumed_role,
    iam_user,
    kms_record,
    listed_prefixes,
    log_key,
    new_audit_bucket,
    put_log,
)
from tests.kmskit.test_audit_integrity import Trail
from tests.kmskit.test_audit_limits import expire_after_listing

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/Admin"


@dataclass
class World:
    kms: Any
    s3: Any
    key_arn: str
    today: date
    trails: dict[tuple[str | None, str], Trail] = field(default_factory=dict)

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def at(self, days_ago: int, hour: int = 0, minute: int = 0) -> datetime:
        """``hour``:``minute`` UTC ``days_ago`` days ago (hour 24: the next midnight)."""
        midnight = datetime.combine(self.day(days_ago), datetime.min.time(), tzinfo=UTC)
        return midnight + timedelta(hours=hour, minutes=minute)

    def log(
        self, days_ago: int, *records: dict[str, Any], name: str = "a", org: str | None = None
    ) -> None:
        """A log file of the key's account and Region delivered ``days_ago`` days ago (by an
        organization trail of ``org``, if given)."""
        day = self.day(days_ago).isoformat()
        put_log(self.s3, log_key(ACCOUNT, REGION, day, name, org=org), list(records))

    def digest(self, days_ago: int, org: str | None = None) -> None:
        """The digest files of the key's account and Region covering the day ``days_ago``
        days ago, one an hour (by an organization trail of ``org``, if given)."""
        self.digests(self.at(days_ago), self.at(days_ago, 24), org=org)

    def digests(
        self,
        start: datetime,
        end: datetime,
        *,
        restart: bool = False,
        org: str | None = None,
        trail: str = "audit-trail",
    ) -> list[str]:
        """The digest files of ``trail`` logging the key's account and Region from ``start``
        to ``end`` with log file validation on, as CloudTrail writes and signs them: one an
        hour, each starting where the one before ended and naming it; the first starts a new
        chain (previous fields null) when ``restart`` (logging started again) or when it is
        the trail's first. Their keys, in time order."""
        writer = self.trails.setdefault(
            (org, trail), Trail(self.s3, account=ACCOUNT, org=org, bucket=BUCKET, name=trail)
        )
        keys: list[str] = []
        while start < end:
            stop = min(start + timedelta(hours=1), end)
            keys.append(writer.digest(stop, [], start=start, restart=restart and not keys))
            start = stop
        return keys

    def call(self, event: str, days_ago: int, **kwargs: Any) -> dict[str, Any]:
        when = f"{self.day(days_ago).isoformat()}T10:00:00Z"
        return kms_record(event, when, assumed_role(APP_ROLE, "app"), self.key_arn, **kwargs)

    def management(self, days_ago: int) -> dict[str, Any]:
        """A DescribeKey by an administrator: not use of the key."""
        when = f"{self.day(days_ago).isoformat()}T09:00:00Z"
        return kms_record("DescribeKey", when, iam_user(ADMIN), self.key_arn)

    def every_day_logged(self, days: int) -> None:
        for days_ago in range(days + 1):
            self.log(days_ago, self.management(days_ago), name=f"m{days_ago}")

    def check_since_yesterday(self, *, now: datetime) -> DeletionCheck:
        """``check_deletion`` of the key over yesterday and today, as at ``now``."""
        return check_deletion(
            self.kms,
            AuditReader(self.s3, workers=2),
            LogLocation(BUCKET, PREFIX),
            describe_deletion_target(self.kms, self.key_arn),
            DateRange(since=self.day(1), until=self.today),
            now=now,
        )

    def state(self) -> dict[str, Any]:
        metadata: dict[str, Any] = self.kms.describe_key(KeyId=self.key_arn)["KeyMetadata"]
        return metadata


@dataclass
class LastUsageAnswers:
    """What GetKeyLastUsage answers (moto 5 does not model it): ``answer``, or ``error``, a
    KMS error code. Each request is checked against the KMS API model and kept in ``requests``."""

    answer: dict[str, Any]
    error: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def last_usage(kms_answers: KmsAnswers) -> LastUsageAnswers:
    now = datetime.now(UTC)
    answers = LastUsageAnswers({"KeyId": "k", "TrackingStartDate": now, "KeyCreationDate": now})

    def answer(params: dict[str, Any], moto: Any) -> Any:
        answers.requests.append(params)
        if answers.error:
            raise refuse("GetKeyLastUsage", answers.error)
        return answers.answer

    kms_answers.answers["GetKeyLastUsage"] = answer
    return answers


@pytest.fixture
def world(last_usage: LastUsageAnswers) -> Iterator[World]:
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key(Description="retiring")["KeyMetadata"]["Arn"]
        yield World(kms, new_audit_bucket(BUCKET), key_arn, datetime.now(UTC).date())


def schedule(key: str, *args: str) -> int:
    return main(
        [
            "key",
            "schedule-deletion",
            key,
            "--logs",
            f"s3://{BUCKET}/{PREFIX}",
            "--region",
            REGION,
            "--quiet",
            *args,
        ]
    )


def test_an_unused_key_is_scheduled_with_the_waiting_period_given(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(3)
    assert schedule(world.key_arn, "--days", "3", "--waiting-days", "7") == EXIT_OK
    state = world.state()
    assert state["KeyState"] == "PendingDeletion"
    assert abs(state["DeletionDate"] - (datetime.now(UTC) + timedelta(days=7))) < timedelta(
        minutes=5
    )
    out = capsys.readouterr().out
    assert f"key:    {world.key_arn} (Enabled)" in out
    assert "use:    none" in out
    assert "gaps:   none" in out
    assert "grants: none" in out
    assert f"scheduled {world.key_arn} for deletion on " in out
    assert f"cancel-key-deletion --key-id {world.key_arn} --region {REGION}" in out


def test_a_key_used_in_the_days_checked_is_not_scheduled(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(3)
    world.log(1, world.call("Decrypt", 1), world.call("Decrypt", 1), name="use")
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    assert world.state()["KeyState"] == "Enabled"
    captured = capsys.readouterr()
    assert "use:    2" in captured.out
    last = f"{world.day(1).isoformat()}T10:00:00Z"
    assert f"  Decrypt by {APP_ROLE}: 2 (0 failed), last {last}" in captured.out
    assert "kmskit: error: not scheduled: 2 call(s) used the key" in captured.err
    assert f"the last at {last}" in captured.err
    assert f"(kmskit audit s3://{BUCKET}/{PREFIX} --key {world.key_arn})" in captured.err
    # Three days' files and the one with the calls; the fourth day's is before the range.
    assert f"logs:   s3://{BUCKET}/{PREFIX}: 4 log file(s) of account {ACCOUNT}" in captured.out


def test_a_refused_call_still_counts_as_use(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    world.log(0, world.call("GenerateDataKey", 0, error="AccessDeniedException"), name="use")
    assert schedule(world.key_arn, "--days", "2") == EXIT_CONFLICT
    assert f"  GenerateDataKey by {APP_ROLE}: 1 (1 failed)" in capsys.readouterr().out
    assert world.state()["KeyState"] == "Enabled"


def test_use_before_the_days_checked_does_not_count(world: World) -> None:
    world.every_day_logged(2)
    world.log(5, world.call("Decrypt", 5), name="old")
    assert schedule(world.key_arn, "--days", "2") == EXIT_OK
    assert world.state()["KeyState"] == "PendingDeletion"


def test_a_grant_stops_the_deletion_and_is_listed(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    world.kms.create_grant(
        KeyId=world.key_arn, GranteePrincipal=APP_ROLE, Operations=["Decrypt"], Name="volume"
    )
    assert schedule(world.key_arn, "--days", "2") == EXIT_CONFLICT
    captured = capsys.readouterr()
    assert "grants: 1" in captured.out
    assert f" to {APP_ROLE}: Decrypt (name volume)" in captured.out
    assert "the key has 1 grant(s)" in captured.err
    assert world.state()["KeyState"] == "Enabled"


def test_a_day_without_logs_is_a_gap_unless_digests_show_it_was_quiet(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(5)
    for days_ago in (2, 3, 4):
        world.s3.delete_object(
            Bucket=BUCKET,
            Key=log_key(ACCOUNT, REGION, world.day(days_ago).isoformat(), f"m{days_ago}"),
        )
    world.digest(3)  # the trail was logging that day: nothing happened in the Region
    assert schedule(world.key_arn, "--days", "5") == EXIT_CONFLICT
    captured = capsys.readouterr()
    gaps = f"{world.day(4)}, {world.day(2)}"
    assert f"gaps:   2 day(s) without log or digest files: {gaps}" in captured.out
    assert (
        f"2 of the days checked have no log or digest file of account {ACCOUNT}, Region "
        f"{REGION} (the first {world.day(4)}), so the key's use then is unknown"
    ) in captured.err


def test_today_is_not_a_gap_before_its_files_arrive(world: World) -> None:
    for days_ago in (1, 2):
        world.log(days_ago, world.management(days_ago), name=f"m{days_ago}")
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_OK


def test_force_schedules_despite_what_was_found(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(1)
    world.log(0, world.call("Encrypt", 0), name="use")
    assert schedule(world.key_arn, "--days", "1", "--force") == EXIT_OK
    assert "use:    1" in capsys.readouterr().out
    assert world.state()["KeyState"] == "PendingDeletion"


def test_dry_run_reports_and_schedules_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_OK
    assert "dry run: nothing scheduled (would wait 30 days)" in capsys.readouterr().out
    assert world.state()["KeyState"] == "Enabled"


def test_management_calls_are_not_use(world: World) -> None:
    world.every_day_logged(2)  # a DescribeKey of the key every day
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_OK


def test_a_key_pending_deletion_is_refused_naming_how_to_cancel(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id = world.key_arn.rsplit("/", 1)[1]
    world.kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert schedule(world.key_arn) == EXIT_CONFLICT
    err = capsys.readouterr().err
    assert "'KEY' is already pending deletion. Received: " in err
    assert f"cancel with: aws kms cancel-key-deletion --key-id {world.key_arn}" in err


def test_no_logs_of_the_keys_region_is_not_found(world: World) -> None:
    put_log(world.s3, log_key(ACCOUNT, "us-east-1", world.today.isoformat(), "elsewhere"), [])
    assert schedule(world.key_arn, "--days", "2") == EXIT_NOT_FOUND
    assert world.state()["KeyState"] == "Enabled"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "3",
            "'--waiting-days' must be 7-30 days (KMS's waiting period before it deletes a "
            "key). Received: 3",
        ),
        ("31", "Received: 31"),
        ("a week", "'--waiting-days' must be a whole number of days. Received: 'a week'"),
    ],
)
def test_a_waiting_period_kms_refuses_is_refused_before_any_call(
    no_aws: list[str], capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    assert schedule("alias/old", "--waiting-days", value) == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert no_aws == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["", "--logs", "s3://trail-bucket"],
            "'KEY' must be a key ARN, a key ID, an alias name (alias/...) or an alias ARN. "
            "Received: ''",
        ),
        (["app-data", "--logs", "s3://trail-bucket"], "Received: 'app-data'"),
        (
            ["alias/old", "--logs", "s3://bad bucket"],
            "'--logs' must be s3://BUCKET[/PREFIX]. Received: 's3://bad bucket'",
        ),
    ],
)
def test_a_malformed_key_or_trail_location_is_refused_naming_it_before_any_call(
    no_aws: list[str], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["key", "schedule-deletion", *args, "--region", REGION]) == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert no_aws == []


def test_logs_are_required(no_aws: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["key", "schedule-deletion", "alias/old"]) == EXIT_USAGE
    assert "--logs" in capsys.readouterr().err


# --- what moto does not model: Stubber, checked against the KMS API model ---------------------


def stubbed_kms() -> tuple[Any, Stubber]:
    kms = boto3.client("kms", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    return kms, Stubber(kms)


def test_an_aws_managed_key_is_refused() -> None:
    kms, stub = stubbed_kms()
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b2b1b1e-0000-4000-8000-000000000001"
    stub.add_response(
        "describe_key",
        {"KeyMetadata": {"KeyId": arn.rsplit("/", 1)[1], "Arn": arn, "KeyManager": "AWS"}},
        {"KeyId": "alias/aws/ebs"},
    )
    with stub, pytest.raises(UsageError) as error:
        describe_deletion_target(kms, "alias/aws/ebs")
    assert str(error.value) == (
        "'KEY' must be a customer managed key: KMS deletes no AWS managed key. Received: "
        f"alias/aws/ebs ({arn})"
    )


def test_a_primary_with_replicas_waits_for_them_without_a_date() -> None:
    kms, stub = stubbed_kms()
    key_id = "mrk-1234abcd12ab34cd56ef1234567890ab"
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    replica = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}"
    stub.add_response(
        "describe_key",
        {
            "KeyMetadata": {
                "KeyId": key_id,
                "Arn": arn,
                "KeyManager": "CUSTOMER",
                "KeyState": "Enabled",
                "MultiRegion": True,
                "MultiRegionConfiguration": {
                    "MultiRegionKeyType": "PRIMARY",
                    "PrimaryKey": {"Arn": arn, "Region": REGION},
                    "ReplicaKeys": [{"Arn": replica, "Region": "us-east-1"}],
                },
            }
        },
        {"KeyId": arn},
    )
    stub.add_response(
        "schedule_key_deletion",
        {"KeyId": arn, "KeyState": "PendingReplicaDeletion", "PendingWindowInDays": 30},
        {"KeyId": key_id, "PendingWindowInDays": 30},
    )
    with stub:
        target = describe_deletion_target(kms, arn)
        assert target == DeletionTarget(
            key_arn=arn,
            key_id=key_id,
            account=ACCOUNT,
            region=REGION,
            key_state="Enabled",
            multi_region_key_type="PRIMARY",
            replica_arns=(replica,),
        )
        assert schedule_deletion(kms, target, 30) is None
    stub.assert_no_pending_responses()


# --- what the logs cannot show: the check says so rather than "nothing found" ---------------


def test_a_log_file_gone_when_read_stops_the_deletion(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log file listed but gone when read (a lifecycle rule expiring it) may have held the
    key's use: its day still has another log file, so only the skipped file tells."""
    world.every_day_logged(2)
    world.log(1, world.call("Decrypt", 1), name="use")
    expire_after_listing(
        monkeypatch, world.s3, log_key(ACCOUNT, REGION, world.day(1).isoformat(), "use")
    )
    assert schedule(world.key_arn, "--days", "2") == EXIT_CONFLICT
    captured = capsys.readouterr()
    assert "use:    none" in captured.out
    assert "skipped: 1 log file(s) listed but gone when read" in captured.out
    assert (
        "1 log file(s) were listed but gone when read (deleted meanwhile), so the key's use "
        "in them is unknown"
    ) in captured.err
    assert world.state()["KeyState"] == "Enabled"


def other_service_record(when: str) -> dict[str, Any]:
    """A record of another service: the trail logs the Region, but says nothing of KMS."""
    return {
        "eventVersion": "1.11",
        "eventTime": when,
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": REGION,
        "eventID": f"ec2-{when}",
        "readOnly": True,
        "userIdentity": iam_user(ADMIN),
    }


@pytest.mark.parametrize("write_only", [False, True])
def test_logs_without_any_kms_read_event_stop_the_deletion(
    world: World, capsys: pytest.CaptureFixture[str], write_only: bool
) -> None:
    """A trail that excludes KMS events (ExcludeManagementEventSources) or logs write events
    only has log files every day but could not show a Decrypt: "no use" would be a guess."""
    for days_ago in range(3):
        when = f"{world.day(days_ago).isoformat()}T08:00:00Z"
        records = [other_service_record(when)]
        if write_only:
            write = kms_record("CreateAlias", when, iam_user(ADMIN), world.key_arn)
            records.append({**write, "readOnly": False})
        world.log(days_ago, *records, name=f"o{days_ago}")
    assert schedule(world.key_arn, "--days", "2") == EXIT_CONFLICT
    captured = capsys.readouterr()
    assert "gaps:   none" in captured.out
    assert "kms:    the log files hold no KMS read event (a Decrypt, a DescribeKey, ...)" in (
        captured.out
    )
    # The one Region read: worded as such (other Regions were not read), not as a trail that
    # leaves KMS's reads out; the account's own trail folder is read whole, so the account is
    # not named as limited. It still stops the deletion.
    assert (
        f"the log files hold no KMS read event (a Decrypt, a DescribeKey, ...) in the Regions "
        f"read ({REGION}) from "
    ) in captured.err
    assert "the trail may exclude KMS events" not in captured.out + captured.err
    assert world.state()["KeyState"] == "Enabled"


# --- what counts as use, and the days checked (each test kills a mutant of key_deletion.py) ---


# Which operations are use is held against botocore's KMS model below
# (test_every_kms_operation_is_either_use_or_named_as_not_use); here each of them, logged as
# CloudTrail names it, must stop the deletion.
@pytest.mark.parametrize("event", sorted(USE_EVENTS))
def test_every_cryptographic_call_counts_as_use(
    world: World, capsys: pytest.CaptureFixture[str], event: str
) -> None:
    world.every_day_logged(2)
    world.log(1, world.call(event, 1), name="use")
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_CONFLICT
    assert f"  {event} by {APP_ROLE}: 1 (0 failed)" in capsys.readouterr().out


def test_a_key_that_is_the_destination_of_a_reencrypt_is_in_use(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """ReEncrypt's record names the source key, then the destination key (KMS developer guide,
    ReEncrypt log entry): both are in use."""
    world.every_day_logged(2)
    source = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b2b1b1e-0000-4000-8000-00000000000a"
    record = kms_record(
        "ReEncrypt", f"{world.day(1)}T10:00:00Z", assumed_role(APP_ROLE, "app"), source
    )
    record["resources"].append({**record["resources"][0], "ARN": world.key_arn})
    world.log(1, record, name="use")
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_CONFLICT
    assert f"  ReEncrypt by {APP_ROLE}: 1 (0 failed)" in capsys.readouterr().out


def test_another_keys_use_does_not_count(world: World) -> None:
    world.every_day_logged(2)
    other = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b2b1b1e-0000-4000-8000-00000000000b"
    when = f"{world.day(1)}T10:00:00Z"
    world.log(1, kms_record("Decrypt", when, assumed_role(APP_ROLE, "app"), other), name="use")
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_OK


def test_the_last_use_is_the_latest_call(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.every_day_logged(4)
    world.log(3, world.call("Encrypt", 3), name="early")
    world.log(1, world.call("Decrypt", 1), name="late")
    assert schedule(world.key_arn, "--days", "4") == EXIT_CONFLICT
    last = f"{world.day(1).isoformat()}T10:00:00Z"
    captured = capsys.readouterr()
    assert f"  Decrypt by {APP_ROLE}: 1 (0 failed), last {last}" in captured.out
    assert f"2 call(s) used the key from {world.day(3)} to {world.today}, the last at {last}" in (
        captured.err
    )


def test_yesterday_without_files_is_a_gap(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.every_day_logged(3)
    key = log_key(ACCOUNT, REGION, world.day(1).isoformat(), "m1")
    world.s3.delete_object(Bucket=BUCKET, Key=key)
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    assert f"gaps:   1 day(s) without log or digest files: {world.day(1)}" in (
        capsys.readouterr().out
    )


def test_a_day_whose_only_log_file_is_gone_when_read_is_a_gap(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    key = log_key(ACCOUNT, REGION, world.day(1).isoformat(), "m1")
    expire_after_listing(monkeypatch, world.s3, key)
    assert schedule(world.key_arn, "--days", "2") == EXIT_CONFLICT
    assert f"gaps:   1 day(s) without log or digest files: {world.day(1)}" in (
        capsys.readouterr().out
    )


def test_a_replica_pending_deletion_is_refused() -> None:
    kms, stub = stubbed_kms()
    key_id = "mrk-1234abcd12ab34cd56ef1234567890ab"
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    metadata = {"KeyId": key_id, "Arn": arn, "KeyState": "PendingReplicaDeletion"}
    stub.add_response("describe_key", {"KeyMetadata": metadata}, {"KeyId": arn})
    with stub, pytest.raises(ConflictError) as error:
        describe_deletion_target(kms, arn)
    assert f"Received: {arn} ({arn}, state PendingReplicaDeletion)" in str(error.value)


def test_every_page_of_grants_is_read() -> None:
    kms, stub = stubbed_kms()
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b2b1b1e-0000-4000-8000-00000000000c"
    target = DeletionTarget(arn, arn.rsplit("/", 1)[1], ACCOUNT, REGION, "Enabled")
    grant = {"KeyId": arn, "GranteePrincipal": APP_ROLE, "Operations": ["Decrypt"]}
    first = {"Grants": [{**grant, "GrantId": "1"}], "NextMarker": "m", "Truncated": True}
    second = {"Grants": [{**grant, "GrantId": "2"}], "Truncated": False}
    stub.add_response("list_grants", first, {"KeyId": arn})
    stub.add_response("list_grants", second, {"KeyId": arn, "Marker": "m"})
    with stub:
        assert [g["GrantId"] for g in list_grants(kms, target)] == ["1", "2"]


def test_an_organization_trail_shows_the_use_and_its_digest_files_a_quiet_day(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """An organization trail delivers under AWSLogs/<organization id>/<account>/, its digest
    files too (CloudTrail user guide, digest file location)."""
    org = "o-a1b2c3d4e5"
    for days_ago in (0, 2):
        world.log(days_ago, world.management(days_ago), name=f"m{days_ago}", org=org)
    world.log(2, world.call("Decrypt", 2), name="use", org=org)
    world.digest(1, org=org)
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    out = capsys.readouterr().out
    assert f"  Decrypt by {APP_ROLE}: 1 (0 failed)" in out
    assert "gaps:   none" in out


# --- KMS's own record: GetKeyLastUsage -----------------------------------------------------------


def test_kms_record_of_a_use_in_the_days_checked_stops_the_deletion(
    world: World, last_usage: LastUsageAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    """The trail shows nothing (it may log elsewhere, or miss the call), KMS does."""
    world.every_day_logged(3)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    last_usage.answer["KeyLastUsage"] = {
        "Operation": "Decrypt",
        "Timestamp": yesterday,
        "CloudTrailEventId": "11111111-2222-3333-4444-555555555555",
    }
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    captured = capsys.readouterr()
    shown = f"Decrypt at {yesterday:%Y-%m-%dT%H:%M:%SZ}, CloudTrail event 1111"
    assert f"kms last use: {shown}" in captured.out
    assert f"KMS records its last use in the days checked: {shown}" in captured.err
    assert last_usage.requests == [{"KeyId": world.key_arn}]
    assert world.state()["KeyState"] == "Enabled"


def test_kms_record_of_an_older_use_is_reported_only(
    world: World, last_usage: LastUsageAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(3)
    long_ago = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    last_usage.answer["KeyLastUsage"] = {"Operation": "Encrypt", "Timestamp": long_ago}
    assert schedule(world.key_arn, "--days", "3") == EXIT_OK
    assert "kms last use: Encrypt at 2026-01-02T03:04:05Z\n" in capsys.readouterr().out
    assert world.state()["KeyState"] == "PendingDeletion"


@pytest.mark.parametrize(
    ("created_days_before_tracking", "shown"),
    [
        (0, "never used since its creation"),
        (400, "not used since {tracking} (KMS keeps no record before that)"),
    ],
)
def test_no_kms_record_of_use_says_since_when(
    world: World,
    last_usage: LastUsageAnswers,
    capsys: pytest.CaptureFixture[str],
    created_days_before_tracking: int,
    shown: str,
) -> None:
    world.every_day_logged(2)
    tracking = datetime(2026, 6, 1, tzinfo=UTC)
    last_usage.answer.update(
        TrackingStartDate=tracking,
        KeyCreationDate=tracking - timedelta(days=created_days_before_tracking),
        KeyLastUsage={},
    )
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_OK
    expected = shown.format(tracking="2026-06-01T00:00:00Z")
    assert f"kms last use: {expected}\n" in capsys.readouterr().out


def test_a_refused_kms_record_is_reported_and_the_trail_decides(
    world: World, last_usage: LastUsageAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    last_usage.error = "AccessDeniedException"
    assert schedule(world.key_arn, "--days", "2") == EXIT_OK
    assert "kms last use: not read (AccessDeniedException: refused)" in capsys.readouterr().out
    assert world.state()["KeyState"] == "PendingDeletion"


def test_last_usage_reads_what_the_kms_api_model_answers() -> None:
    kms, stub = stubbed_kms()
    target = DeletionTarget(
        key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
        account=ACCOUNT,
        region=REGION,
        key_state="Enabled",
    )
    when = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    stub.add_response(
        "get_key_last_usage",
        {
            "KeyId": target.key_id,
            "KeyLastUsage": {
                "Operation": "Sign",
                "Timestamp": when,
                "CloudTrailEventId": "e-1",
                "KmsRequestId": "r-1",
            },
            "TrackingStartDate": datetime(2026, 6, 1, tzinfo=UTC),
            "KeyCreationDate": datetime(2025, 1, 1, tzinfo=UTC),
        },
        {"KeyId": target.key_arn},
    )
    with stub:
        assert read_last_usage(kms, target) == LastUsage(
            operation="Sign",
            when=when,
            event_id="e-1",
            tracking_since=datetime(2026, 6, 1, tzinfo=UTC),
            created=datetime(2025, 1, 1, tzinfo=UTC),
        )
    stub.assert_no_pending_responses()


# Every other KMS operation, and why it is not use of the key.
NOT_USE = {
    # Management: reads and changes of the key's metadata, policy, aliases, grants, rotation.
    "CancelKeyDeletion", "CreateAlias", "CreateKey", "DeleteAlias", "DeleteImportedKeyMaterial",
    "DescribeKey", "DisableKey", "DisableKeyRotation", "EnableKey", "EnableKeyRotation",
    "GetKeyLastUsage", "GetKeyPolicy", "GetKeyRotationStatus", "GetParametersForImport",
    "ImportKeyMaterial", "ListAliases", "ListGrants", "ListKeyPolicies", "ListKeyRotations",
    "ListKeys", "ListResourceTags", "ListRetirableGrants", "PutKeyPolicy", "ReplicateKey",
    "RetireGrant", "RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion", "TagResource",
    "UntagResource", "UpdateAlias", "UpdateKeyDescription", "UpdatePrimaryRegion",
    # Custom key stores, not keys.
    "ConnectCustomKeyStore", "CreateCustomKeyStore", "DeleteCustomKeyStore",
    "DescribeCustomKeyStores", "DisconnectCustomKeyStore", "UpdateCustomKeyStore",
    # Random bytes: no key.
    "GenerateRandom",
}  # fmt: skip


def test_every_kms_operation_is_either_use_or_named_as_not_use() -> None:
    """A new KMS operation fails this until someone decides whether it uses the key."""
    model = botocore.session.get_session().get_service_model("kms")
    operations = set(model.operation_names)
    assert operations == USE_EVENTS | NOT_USE
    assert not USE_EVENTS & NOT_USE


# --- --format json -------------------------------------------------------------------------------


def test_json_report_of_a_blocked_key_lists_what_was_found(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    world.log(1, world.call("Decrypt", 1), name="use")
    world.kms.create_grant(KeyId=world.key_arn, GranteePrincipal=APP_ROLE, Operations=["Decrypt"])
    assert schedule(world.key_arn, "--days", "2", "--format", "json") == EXIT_CONFLICT
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["keyArn"] == world.key_arn
    assert report["logs"] == f"s3://{BUCKET}/{PREFIX}"
    assert report["since"] == world.day(1).isoformat()
    assert report["until"] == world.today.isoformat()
    assert [(row["eventName"], row["principal"], row["count"]) for row in report["use"]] == [
        ("Decrypt", APP_ROLE, 1)
    ]
    assert [grant["granteePrincipal"] for grant in report["grants"]] == [APP_ROLE]
    assert report["daysWithoutLogs"] == []
    assert report["kmsLastUse"]["refused"] is None
    assert len(report["blockers"]) == 2
    assert report["blockers"][0].startswith("1 call(s) used the key")
    assert report["scheduled"] is None
    assert "kmskit: error: not scheduled: 1 call(s) used the key" in captured.err
    assert world.state()["KeyState"] == "Enabled"


def test_json_report_of_a_scheduled_key_gives_its_deletion_date(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    assert schedule(world.key_arn, "--days", "2", "--waiting-days", "8", "--format", "json") == (
        EXIT_OK
    )
    report = json.loads(capsys.readouterr().out)
    deletion = world.state()["DeletionDate"]
    assert report["scheduled"] == {
        "deletionDate": deletion.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "waitingDays": 8,
    }
    assert report["blockers"] == []
    assert report["use"] == []


def test_json_dry_run_schedules_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.every_day_logged(2)
    assert schedule(world.key_arn, "--days", "2", "--format", "json", "--dry-run") == EXIT_OK
    assert json.loads(capsys.readouterr().out)["scheduled"] is None
    assert world.state()["KeyState"] == "Enabled"


# --- gaps by the hour: the digest files (one an hour while log file validation is on) ------------


def uri(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


@pytest.mark.parametrize("org", [None, "o-a1b2c3d4e5"])
def test_a_trail_stopped_for_six_hours_of_a_day_with_log_files_is_a_gap_named_by_the_hour(
    world: World, capsys: pytest.CaptureFixture[str], org: str | None
) -> None:
    """The day has log files (by day it was logged), but no digest covers 10:00-16:00: the
    trail was stopped, and a Decrypt then would be in no log file. The first digest after the
    stop starts a new chain. An organization trail's digest files count the same."""
    for days_ago in range(3):
        world.log(days_ago, world.management(days_ago), name=f"m{days_ago}", org=org)
    world.digests(world.at(2), world.at(2, 10), org=org)
    world.digests(world.at(2, 16), world.at(2, 24), restart=True, org=org)
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    captured = capsys.readouterr()
    period = f"{world.day(2)}T10:00:00Z..{world.day(2)}T16:00:00Z"
    assert f"gaps:   1 period(s) no digest file covers: {period}\n" in captured.out
    assert "digests: 18 digest file(s); gaps by the hour up to " in captured.out
    assert (
        f"1 period(s) of the days checked are covered by no digest file of account {ACCOUNT}, "
        f"Region {REGION} (the first {period}): the trail was stopped or its digest files are "
        "gone, so the key's use then is unknown"
    ) in captured.err
    assert world.state()["KeyState"] == "Enabled"


def test_a_stop_across_days_names_the_hours_of_the_days_with_digests_and_the_days_between(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stopped from 20:00 three days ago to 03:30 yesterday: the day between, without any
    file, is a day gap as before; the hours without digests of the days either side, which
    have log files, are periods."""
    world.every_day_logged(3)
    world.s3.delete_object(
        Bucket=BUCKET, Key=log_key(ACCOUNT, REGION, world.day(2).isoformat(), "m2")
    )
    world.digests(world.at(3), world.at(3, 20))
    world.digests(world.at(1, 3, 30), world.at(1, 24), restart=True)
    assert schedule(world.key_arn, "--days", "4") == EXIT_CONFLICT
    out = capsys.readouterr().out
    assert f"gaps:   1 day(s) without log or digest files: {world.day(2)}\n" in out
    assert (
        f"        2 period(s) no digest file covers: {world.day(3)}T20:00:00Z.."
        f"{world.day(2)}T00:00:00Z, {world.day(1)}T00:00:00Z..{world.day(1)}T03:30:00Z\n"
    ) in out


Moment = tuple[int, ...]  # World.at's days_ago, hour[, minute]


@pytest.mark.parametrize(
    ("runs", "period"),
    [
        # Stopped 10:00-10:40: the digests' names end at 10:00 and 11:00, an hour apart as
        # ever; only the first digest after the restart says that it starts at 10:40.
        (
            [((1, 0), (1, 10), False), ((1, 10, 40), (1, 11), True), ((1, 11), (1, 24), False)],
            ((1, 10), (1, 10, 40)),
        ),
        # Stopped 22:00-02:00: one period across midnight.
        ([((2, 0), (2, 22), False), ((1, 2), (1, 24), True)], ((2, 22), (1, 2))),
    ],
    ids=["40-minutes", "across-midnight"],
)
def test_a_stop_is_named_from_where_the_digests_end_to_where_they_start_again(
    world: World,
    capsys: pytest.CaptureFixture[str],
    runs: list[tuple[Moment, Moment, bool]],
    period: tuple[Moment, Moment],
) -> None:
    world.every_day_logged(3)
    for start, end, restart in runs:
        world.digests(world.at(*start), world.at(*end), restart=restart)
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    named = "..".join(f"{world.at(*moment):%Y-%m-%dT%H:%M:%SZ}" for moment in period)
    assert f"gaps:   1 period(s) no digest file covers: {named}\n" in capsys.readouterr().out


def test_continuous_digests_with_a_quiet_day_are_not_a_gap(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Digests every hour, chained, and a day without a single event (no log file)."""
    world.every_day_logged(3)
    world.s3.delete_object(
        Bucket=BUCKET, Key=log_key(ACCOUNT, REGION, world.day(2).isoformat(), "m2")
    )
    world.digests(world.at(2), world.at(1, 24))
    assert schedule(world.key_arn, "--days", "3", "--dry-run") == EXIT_OK
    out = capsys.readouterr().out
    assert "gaps:   none\n" in out
    assert "digests: 48 digest file(s); gaps by the hour up to " in out


def test_digests_gone_inside_a_chain_are_a_gap_even_on_a_day_with_log_files(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The digest after them continues the chain (it names its previous digest): the trail
    logged with validation on all along, and whoever deleted a day's digests may have deleted
    its log files of those hours too. By the day, a day with log files and no digest would be
    a day with validation off."""
    world.every_day_logged(3)
    keys = world.digests(world.at(3), world.at(1, 24))
    for key in keys[24:48]:  # the digests ending on 2 days ago 01:00..yesterday 00:00
        world.s3.delete_object(Bucket=BUCKET, Key=key)
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    period = f"{world.day(2)}T00:00:00Z..{world.day(1)}T00:00:00Z"
    assert f"gaps:   1 period(s) no digest file covers: {period}\n" in capsys.readouterr().out


def test_a_period_one_trail_missed_is_covered_by_another_trails_digests(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two trails deliver to the same bucket and prefix: the reader reads both trails' log
    files (a log file's name does not name its trail), so either trail's digests cover."""
    world.every_day_logged(3)
    world.digests(world.at(2), world.at(2, 10))
    world.digests(world.at(2, 16), world.at(1, 24), restart=True)
    world.digests(world.at(2), world.at(1, 24), trail="second-trail")
    assert schedule(world.key_arn, "--days", "3", "--dry-run") == EXIT_OK
    assert "gaps:   none\n" in capsys.readouterr().out


def test_backfill_digests_do_not_cover_a_period(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backfill digest lists log files a regular digest missed; it does not show that the
    trail was logging in between."""
    world.every_day_logged(3)
    world.digests(world.at(2), world.at(2, 10))
    writer = world.trails[(None, "audit-trail")]
    writer.digest(world.at(2, 16), [], start=world.at(2, 10), backfill=True)
    world.digests(world.at(2, 16), world.at(2, 24), restart=True)
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    out = capsys.readouterr().out
    assert f"1 period(s) no digest file covers: {world.day(2)}T10:00:00Z.." in out
    assert "digests: 19 digest file(s)" in out


@pytest.mark.parametrize("neighbour_logged", [True, False])
@pytest.mark.parametrize("turned", ["on", "off"])
def test_validation_turned_on_or_off_in_a_day_goes_by_the_day(
    world: World, capsys: pytest.CaptureFixture[str], turned: str, neighbour_logged: bool
) -> None:
    """Log file validation turned on at 15:00 yesterday (the day before had log files and no
    digest), or off at 15:00 two days ago (the day after too): the hours without digests of
    that day go by the day. When the day next to it has no log file either, the trail was
    stopped: a gap."""
    world.every_day_logged(3)
    neighbour = 2 if turned == "on" else 1
    if not neighbour_logged:
        world.s3.delete_object(
            Bucket=BUCKET,
            Key=log_key(ACCOUNT, REGION, world.day(neighbour).isoformat(), f"m{neighbour}"),
        )
    if turned == "on":
        world.digests(world.at(1, 15), world.at(1, 24), restart=True)
        period = f"{world.day(1)}T00:00:00Z..{world.day(1)}T15:00:00Z"
    else:
        world.digests(world.at(2), world.at(2, 15))
        period = f"{world.day(2)}T15:00:00Z..{world.day(1)}T00:00:00Z"
    code = schedule(world.key_arn, "--days", "3", "--dry-run")
    out = capsys.readouterr().out
    if neighbour_logged:
        assert code == EXIT_OK
        assert "gaps:   none\n" in out
    else:
        assert code == EXIT_CONFLICT
        assert f"gaps:   1 day(s) without log or digest files: {world.day(neighbour)}\n" in out
        assert f"        1 period(s) no digest file covers: {period}\n" in out


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"not gzip", "is not a gzip-compressed CloudTrail digest file: "),
        (gzip.compress(b"{"), "is not JSON: "),
        (gzip.compress(b"[]"), "is not a JSON object"),
        (gzip.compress(json.dumps({"digestEndTime": "x"}).encode()), "lacks digestStartTime, "),
        (
            gzip.compress(
                json.dumps(
                    {
                        "digestStartTime": "2026-11-05T10:00:00Z",
                        "digestEndTime": "2026-11-05T09:00:00Z",
                        "digestS3Bucket": BUCKET,
                        "digestS3Object": "k",
                        "digestPublicKeyFingerprint": "f",
                        "previousDigestSignature": None,
                    }
                ).encode()
            ),
            "covers no period: digestStartTime '2026-11-05T10:00:00Z', digestEndTime "
            "'2026-11-05T09:00:00Z'",
        ),
        (None, "was listed but is gone when read (deleted meanwhile)"),
    ],
    ids=["not-gzip", "not-json", "not-an-object", "lacking-fields", "no-period", "gone"],
)
def test_an_unreadable_digest_file_stops_the_deletion(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: bytes | None,
    detail: str,
) -> None:
    """A second trail's digest that cannot be read: the first trail's digests cover every
    hour, but the check cannot tell what the unreadable one says, so it does not guess."""
    world.every_day_logged(3)
    world.digests(world.at(2), world.at(1, 24))
    broken = world.digests(world.at(1, 5), world.at(1, 6), trail="second-trail")[0]
    if body is None:
        expire_after_listing(monkeypatch, world.s3, broken)
    else:
        world.s3.put_object(Bucket=BUCKET, Key=broken, Body=body)
    assert schedule(world.key_arn, "--days", "3") == EXIT_CONFLICT
    captured = capsys.readouterr()
    assert "gaps:   none\n" in captured.out
    assert f"unreadable: 1 digest file(s): {uri(broken)} {detail}" in captured.out
    assert (
        f"1 digest file(s) could not be read (the first: {uri(broken)} {detail}"
    ) in captured.err
    assert "so whether the trail logged in the hours they cover is unknown" in captured.err


def test_a_file_in_the_digest_folders_that_is_not_a_digest_is_unreadable(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    world.digests(world.at(1), world.at(1, 24))
    misnamed = (
        f"{PREFIX}/AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{world.day(1):%Y/%m/%d}/x.json.gz"
    )
    world.s3.put_object(Bucket=BUCKET, Key=misnamed, Body=gzip.compress(b"{}"))
    assert schedule(world.key_arn, "--days", "2", "--dry-run") == EXIT_CONFLICT
    out = capsys.readouterr().out
    assert f"unreadable: 1 digest file(s): {uri(misnamed)} is not named as CloudTrail " in out


@pytest.mark.parametrize(("digests_until", "gap"), [(10, False), (9, True)])
def test_the_last_hours_are_not_checked_before_their_digests_are_due(
    world: World, digests_until: int, gap: bool
) -> None:
    """At 12:30 the check by the hour stops at 10:00 (2 hours before, to the whole hour): the
    digests of the hours after may not be delivered yet. Digests up to 09:00 leave 09:00-10:00
    uncovered."""
    world.every_day_logged(1)
    world.digests(world.at(1), world.at(0, digests_until))
    check = world.check_since_yesterday(now=world.at(0, 12, 30))
    assert check.hours_checked_until == world.at(0, 10)
    expected = [(world.at(0, 9), world.at(0, 10))] if gap else []
    assert check.periods_without_digests == expected
    assert bool(check.blockers) is gap


def test_the_account_folders_are_listed_once_for_log_and_digest_files(world: World) -> None:
    """The logs and the digests are read under the same account folders: the check lists them
    (the bucket's top level and each organization's) once, not once per kind of file."""
    org = "o-a1b2c3d4e5"
    world.log(0, world.management(0), name="m0", org=org)
    world.digests(world.at(1), world.at(0, 10), org=org)
    listed = listed_prefixes(world.s3)
    check = world.check_since_yesterday(now=world.at(0, 12, 30))
    assert check.digest_files > 0
    top_levels = [
        call["Prefix"]
        for call in listed
        if call["Prefix"] in (f"{PREFIX}/AWSLogs/", f"{PREFIX}/AWSLogs/{org}/")
    ]
    assert sorted(top_levels) == [f"{PREFIX}/AWSLogs/", f"{PREFIX}/AWSLogs/{org}/"]


def test_json_report_names_the_periods_without_digests(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.every_day_logged(2)
    world.digests(world.at(1), world.at(1, 10))
    world.digests(world.at(1, 16), world.at(1, 24), restart=True)
    assert schedule(world.key_arn, "--days", "2", "--format", "json") == EXIT_CONFLICT
    report = json.loads(capsys.readouterr().out)
    assert report["periodsWithoutDigests"] == [
        {"start": f"{world.day(1)}T10:00:00Z", "end": f"{world.day(1)}T16:00:00Z"}
    ]
    assert report["digestFiles"] == 18
    assert report["hoursCheckedUntil"].endswith(":00:00Z")
    assert report["unreadableDigestFiles"] == []
    assert report["daysWithoutLogs"] == []
    assert report["blockers"][0].startswith("1 period(s) of the days checked are covered by no")


# periods_without_digests itself: the rules the tests above go through, to the minute.
DAY = date(2026, 11, 5)


def t(hour: int, minute: int = 0, second: int = 0, days: int = 0) -> datetime:
    """``hour``:``minute``:``second`` UTC on ``DAY`` (``days`` later; hour 24: midnight)."""
    midnight = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    return midnight + timedelta(days=days, hours=hour, minutes=minute, seconds=second)


def span(start: datetime, end: datetime, *, chain_start: bool = False) -> DigestSpan:
    return DigestSpan(f"{start:%H%M}", start, end, chain_start)


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([span(t(0), t(24))], []),
        # Digests an hour apart, each starting at the second the one before ended.
        ([span(t(h, 1, 31), t(h + 1, 1, 31)) for h in range(-1, 24)], []),
        # Jitter up to a minute between two digests is not a gap; more is.
        ([span(t(0), t(10)), span(t(10, 1), t(24))], []),
        ([span(t(0), t(10)), span(t(10, 1, 1), t(24))], [(t(10), t(10, 1, 1))]),
        # A restart (a new chain), and a chain that continues after its digests are gone.
        ([span(t(0), t(10)), span(t(16), t(24), chain_start=True)], [(t(10), t(16))]),
        ([span(t(0), t(10)), span(t(16), t(24))], [(t(10), t(16))]),
        # Validation turned on at 15:00 (the day before logged without digests) or off (the
        # day after did).
        ([span(t(15), t(24), chain_start=True)], []),
        ([span(t(0), t(15))], []),
        # ... but a digest continuing a chain at 15:00 had predecessors: they are gone (also
        # when another trail's digest starts a chain then).
        ([span(t(15), t(24))], [(t(0), t(15))]),
        ([span(t(15), t(24), chain_start=True), span(t(15), t(24))], [(t(0), t(15))]),
        # Hours without digests inside the day are never validation turned on or off.
        ([span(t(0), t(8)), span(t(15), t(24), chain_start=True)], [(t(8), t(15))]),
        # Two trails: either's digests cover.
        ([span(t(0), t(10)), span(t(16), t(24), chain_start=True), span(t(0), t(24))], []),
    ],
)
def test_periods_without_digests_by_rule(
    spans: list[DigestSpan], expected: list[tuple[datetime, datetime]]
) -> None:
    logged = {DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)}
    assert periods_without_digests(spans, (t(0), t(24)), logged) == expected


@pytest.mark.parametrize(
    ("logged", "expected"),
    [
        ([-1, 0, 1, 2], []),
        ([0, 1, 2], [(t(0), t(15))]),  # the day before: no log file either
        ([-1, 1, 2], [(t(0), t(15))]),  # the day itself: no log file
        ([-1, 0, 1], [(t(9, days=1), t(0, days=2))]),  # the day after: no log file either
    ],
)
def test_the_first_and_last_hours_go_by_the_day_only_next_to_a_day_with_log_files(
    logged: list[int], expected: list[tuple[datetime, datetime]]
) -> None:
    """Digests from 15:00 (a new chain) to 09:00 the next day."""
    spans = [span(t(15), t(24), chain_start=True), span(t(0, days=1), t(9, days=1))]
    days = {DAY + timedelta(days=n) for n in logged}
    assert periods_without_digests(spans, (t(0), t(0, days=2)), days) == expected
