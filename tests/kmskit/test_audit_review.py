"""kmskit audit: what a review that tried to break the audit found (each test failed first).

The CloudTrail records and the bucket are those of tests/kmskit/test_audit.py."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from kmskit.audit import (
    AuditReader,
    DateRange,
    LogLocation,
    RecordFilter,
    UsageSummary,
    is_archived,
    principal_of,
)
from kmskit.cli import build_parser, main
from kmskit.errors import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    AccessDeniedError,
    ConflictError,
    UsageError,
)
from tests.kmskit import test_audit as base
from tests.kmskit.test_audit_org import KeyOrder

aws = base.aws  # the module's bucket, made once


def no_client(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("an AWS client was made before the arguments were checked")


# --- --key is a key reference when the arguments are parsed -------------------------------------


@pytest.mark.parametrize(
    "reference", ["app-data", "arn:aws:kms:eu-west-1:222222222222:key/1234-..."]
)
def test_key_form_is_checked_while_the_arguments_are_parsed(reference: str) -> None:
    """Like every other --key of the CLI (type=key_reference): refused by the parser itself,
    naming --key and the value, so a documented command with a placeholder fails to parse
    instead of passing the parse-only document check and failing when run."""
    with pytest.raises(UsageError) as error:
        build_parser().parse_args(["audit", "s3://audit-logs", "--key", reference])
    assert str(error.value) == (
        "'--key' must be a key ARN, a key ID, an alias name (alias/...) or an alias ARN. "
        f"Received: {reference!r}"
    )


def test_key_form_is_refused_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("kmskit.clients.ClientSettings.client", no_client)
    code = main(["audit", "s3://audit-logs", "--key", "alias/app-data", "--key", "app-data"])
    assert code == EXIT_USAGE
    assert "'--key' must be a key ARN" in capsys.readouterr().err


# --- who: a caller known by its account ----------------------------------------------------------


def aws_account_via_service(account: str, service: str) -> dict[str, Any]:
    """The key owner's copy of a call that a service made for another account's principal:
    type AWSAccount ("the request was made by another AWS account"), the caller's account and
    principal ID, and invokedBy naming the service."""
    return {
        "type": "AWSAccount",
        "principalId": "AROAEXAMPLE:etl",
        "accountId": account,
        "invokedBy": service,
    }


def test_a_caller_known_only_by_its_account_is_that_account_even_through_a_service() -> None:
    """The summary must show that another account used the key: ``s3.amazonaws.com`` alone
    reads as the owner's own S3 use (docs/audit.md: reported as ``AWSAccount:<account>``).
    ``--principal s3.amazonaws.com`` still finds the call."""
    record = base.kms_record(
        "GenerateDataKey",
        "2026-11-04T11:00:00Z",
        aws_account_via_service(base.PARTNER, "s3.amazonaws.com"),
        base.DATA_KEY,
    )
    assert principal_of(record) == f"AWSAccount:{base.PARTNER}"
    by_service = RecordFilter(principals=frozenset({"s3.amazonaws.com"}))
    assert by_service.keys_matched(record) == [base.DATA_KEY]
    by_account = RecordFilter(principals=frozenset({f"AWSAccount:{base.PARTNER}"}))
    assert by_account.keys_matched(record) == [base.DATA_KEY]


def test_an_aws_service_for_its_own_account_is_still_the_service() -> None:
    service = base.kms_record(
        "GenerateDataKey", "t", base.aws_service("s3.amazonaws.com"), base.DATA_KEY
    )
    assert principal_of(service) == "s3.amazonaws.com"
    rotation = {"userIdentity": {"accountId": base.OWNER, "invokedBy": "AWS Internal"}}
    assert principal_of(rotation) == "AWS Internal"


def test_held_copy_through_a_service_is_reported_as_the_account() -> None:
    bucket = "audit-logs-account-via-service"
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        record = base.kms_record(
            "GenerateDataKey",
            "2026-11-04T11:00:00Z",
            aws_account_via_service(base.PARTNER, "s3.amazonaws.com"),
            base.DATA_KEY,
        )
        record["sharedEventID"] = "5f3b4a1e-0000-4000-8000-000000000001"
        key = base.log_key(base.OWNER, "eu-west-1", "2026-11-04", "owner")
        base.put_log(s3, key, [record], bucket=bucket)
        summary = UsageSummary()
        AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, base.PREFIX), base.WEEK, RecordFilter(), summary.add
        )
    assert {k: row.count for k, row in summary.rows.items()} == {
        (base.DATA_KEY, f"AWSAccount:{base.PARTNER}", "GenerateDataKey"): 1
    }


# --- filters that can never match ----------------------------------------------------------------


@pytest.mark.parametrize("event", ["decrypt", "Decrypt ", "kms:Decrypt", "Decrypt,Encrypt"])
def test_an_event_name_cloudtrail_never_writes_is_refused(
    event: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--event decrypt`` matched nothing and reported that no one decrypted: an audit must
    not answer "no use" to a typo."""
    monkeypatch.setattr("kmskit.clients.ClientSettings.client", no_client)
    assert main(["audit", "s3://audit-logs", "--quiet", "--event", event]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        "kmskit: error: '--event' must be an event name as CloudTrail writes it, such as "
        f"Decrypt or GenerateDataKey. Received: {event!r}\n"
    )


def test_event_names_as_cloudtrail_writes_them_are_accepted() -> None:
    args = build_parser().parse_args(
        ["audit", "s3://b", "--event", "Decrypt", "--event", "GenerateDataKeyPairWithoutPlaintext"]
    )
    assert args.event == ["Decrypt", "GenerateDataKeyPairWithoutPlaintext"]


def test_log_region_with_no_logs_is_not_found(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """As an --account with no logs: a --log-region the trail never wrote to is an error, not
    an empty report of no use."""
    argv = ["audit", f"s3://{base.BUCKET}/{base.PREFIX}", "--quiet", "--days", "3"]
    assert main([*argv, "--log-region", "ap-south-2"]) == EXIT_NOT_FOUND
    err = capsys.readouterr().err
    assert f"no CloudTrail logs of Region ap-south-2 under s3://{base.BUCKET}/{base.PREFIX}/" in err


def test_given_log_regions_are_read_where_they_exist(aws: Any) -> None:
    """One of the given Regions with logs is enough (as for --account), and only the accounts
    that have a folder of it are listed."""
    calls = base.listed_prefixes(aws)
    summary = base.summarize(aws, regions=["us-east-1", "ap-south-2"])
    day_listings = {c["Prefix"] for c in calls if "Delimiter" not in c}
    assert day_listings
    assert all(f"/{base.OWNER}/CloudTrail/us-east-1/" in p for p in day_listings)
    assert summary.count(base.TRAIL_KEY, "cloudtrail.amazonaws.com", "GenerateDataKey") == 2


# --- days ----------------------------------------------------------------------------------------


def test_since_in_the_future_says_until_is_today(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("kmskit.clients.ClientSettings.client", no_client)
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    assert main(["audit", "s3://audit-logs", "--since", tomorrow.isoformat()]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"kmskit: error: '--since' must not be after '--until' (default: today, {today} UTC). "
        f"Received: {tomorrow} > {today}\n"
    )


def test_reversed_days_name_both_values(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["audit", "s3://audit-logs", "--since", "2026-11-05", "--until", "2026-11-01"]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err == (
        "kmskit: error: '--since' must not be after '--until'. Received: 2026-11-05 > 2026-11-01\n"
    )
    assert date(2026, 11, 5) > date(2026, 11, 1)


# --- huge log sets: the object listing streams too -----------------------------------------------


def test_log_files_are_read_while_later_day_folders_are_still_to_be_listed() -> None:
    """Every key of the range was listed (and held in memory, ~150 bytes each: a year of an
    organization trail is millions) before the first file was read. The listing now runs a
    bounded window ahead of the reading, in the same key order."""
    bucket = "audit-logs-streamed-listing"
    days = 40
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        for n in range(days):
            day = date(2026, 10, 1) + timedelta(days=n)
            record = base.kms_record(
                "Decrypt", f"{day}T10:00:00Z", base.iam_user(base.ALICE), base.DATA_KEY
            )
            key = base.log_key(base.OWNER, "eu-west-1", day.isoformat(), "d")
            base.put_log(s3, key, [record], bucket=bucket)
        calls = base.listed_prefixes(s3)
        listed_when_read: list[int] = []

        def sink(record: dict[str, Any], keys: list[str]) -> None:
            listed_when_read.append(sum("Delimiter" not in c for c in calls))

        stats = AuditReader(s3, workers=1, progress=False).run(
            LogLocation(bucket, base.PREFIX),
            DateRange(date(2026, 10, 1), date(2026, 10, 1) + timedelta(days=days - 1)),
            RecordFilter(),
            sink,
        )
    assert stats.objects == days == len(listed_when_read)
    # The first file is read after a few listings, not 41 (one more: the first day folder's
    # first page, looked at for archived log files before anything is read).
    assert listed_when_read[0] <= 5
    assert listed_when_read == sorted(listed_when_read)


def test_listing_errors_still_fail_the_run(aws: Any) -> None:
    class ListingDenied:
        def __init__(self, s3: Any) -> None:
            self.s3 = s3
            self.meta = s3.meta

        def get_paginator(self, name: str) -> Any:
            paginator = self.s3.get_paginator(name)
            original = paginator.paginate

            def paginate(**params: Any) -> Any:
                if "Delimiter" not in params and params["Prefix"].endswith("/2026/11/04/"):
                    error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
                    raise ClientError(error, "ListObjectsV2")  # type: ignore[arg-type]
                return original(**params)

            paginator.paginate = paginate
            return paginator

        def get_object(self, **params: Any) -> Any:
            return self.s3.get_object(**params)

    with pytest.raises(AccessDeniedError, match="could not list s3://"):
        AuditReader(ListingDenied(aws), workers=2, progress=False).run(
            base.LOCATION, base.WEEK, RecordFilter(), lambda r, k: None
        )


# --- output --------------------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["table", "json", "csv", "jsonl"])
def test_an_existing_output_is_refused_before_any_aws_call_unless_forced(
    aws: Any,
    tmp_path: Any,
    output_format: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "usage.out"
    out.write_text("last week's report\n")
    argv = ["audit", f"s3://{base.BUCKET}/{base.PREFIX}", "--quiet", "--format", output_format]
    argv += ["--since", "2026-11-02", "--until", "2026-11-02", "-o", str(out)]
    with monkeypatch.context() as patch:
        patch.setattr("kmskit.clients.ClientSettings.client", no_client)
        assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"kmskit: error: '--output' ('{out}') exists: give --force to replace it\n"
    )
    assert out.read_text() == "last week's report\n"
    assert main([*argv, "--force"]) == 0
    assert out.read_text() != "last week's report\n"
    assert list(tmp_path.iterdir()) == [out]


# --- "no use" that is only a trail that logged no KMS read event --------------------------------

NO_READS_BUCKET = "audit-logs-no-kms-reads"  # not the module's: its mock may be active
WRITE_ONLY_WARNING = (
    f"kmskit: warning: the log files read under s3://{NO_READS_BUCKET}/{base.PREFIX} hold no KMS "
    "read event (a Decrypt, a DescribeKey, ...) from 2026-11-02 to 2026-11-08: the trail may "
    "exclude KMS events or log write events only, so whether a key was used is unknown"
)
NO_LOGS_WARNING = (
    f"kmskit: warning: no log file of 2026-11-02 to 2026-11-08 was read under "
    f"s3://{NO_READS_BUCKET}/{base.PREFIX}: the trail may have been stopped or deleted, or deliver "
    "elsewhere (another bucket or prefix), so whether a key was used is unknown"
)


def audit_week(s3_records: dict[str, list[dict[str, Any]]], *args: str) -> int:
    """``kmskit audit`` of the test week (--quiet) on a bucket holding ``s3_records`` (log
    files by day, one file each, of the owner's account in eu-west-1)."""
    files = {
        base.log_key(base.OWNER, "eu-west-1", day, "a"): records
        for day, records in s3_records.items()
    }
    return audit_week_of(files, *args)


def audit_week_of(files: dict[str, list[dict[str, Any]]], *args: str) -> int:
    """``kmskit audit`` of the test week (--quiet) on a bucket holding ``files`` (the records
    of each log file by key), removed after (a mock started by the module's fixture outlives
    this one)."""
    with mock_aws():
        s3 = base.new_audit_bucket(NO_READS_BUCKET)
        keys = list(files)
        for key, records in files.items():
            base.put_log(s3, key, records, bucket=NO_READS_BUCKET)
        try:
            return main(
                ["audit", f"s3://{NO_READS_BUCKET}/{base.PREFIX}", "--since", "2026-11-02",
                 "--until", "2026-11-08", "--region", "eu-west-1", "--quiet", *args]
            )  # fmt: skip
        finally:
            for key in keys:
                s3.delete_object(Bucket=NO_READS_BUCKET, Key=key)
            s3.delete_bucket(Bucket=NO_READS_BUCKET)


def write_only_week() -> dict[str, list[dict[str, Any]]]:
    """A trail that logs write events only: a CreateGrant on the key, no Decrypt ever."""
    grant = base.kms_record(
        "CreateGrant", "2026-11-05T10:00:00Z", base.assumed_role(base.APP_ROLE, "s"), base.DATA_KEY
    )
    return {"2026-11-05": [{**grant, "readOnly": False}]}


@pytest.mark.parametrize("output_format", ["table", "json", "csv", "jsonl"])
def test_a_trail_without_kms_read_events_is_warned_about_in_every_format(
    output_format: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """It reported an empty table (exit 0, no word of warning) for --event Decrypt on a trail
    that logs write events only: "nobody decrypted" when the trail could not have shown it."""
    out = tmp_path / "usage.out"
    code = audit_week(
        write_only_week(), "--event", "Decrypt", "--format", output_format, "-o", str(out)
    )
    assert code == 0
    assert capsys.readouterr().err.splitlines() == [WRITE_ONLY_WARNING]
    if output_format == "table":
        assert out.read_text().splitlines()[1:] == [
            f"kmsReadEvents: 0: {WRITE_ONLY_WARNING.removeprefix('kmskit: warning: ')}"
        ]
    elif output_format == "json":
        report = json.loads(out.read_text())
        assert (report["rows"], report["objectsRead"], report["kmsReadEvents"]) == ([], 1, 0)


def organization_week(member_org: str | None = base.ORG) -> dict[str, list[dict[str, Any]]]:
    """An organization's bucket: the owner's files (in the organization trail's folder) hold a
    KMS read event, the member's write events only, in two Regions (in the organization trail's
    folder, or with ``member_org`` None in its own account trail's folder), and the partner's
    (an account trail) logged nothing of the week (a file in the folder of the day after it, of
    that day's calls)."""
    decrypt = base.kms_record(
        "Decrypt", "2026-11-05T10:00:00Z", base.assumed_role(base.APP_ROLE, "s"), base.DATA_KEY
    )
    grant = base.kms_record(
        "CreateGrant", "2026-11-05T11:00:00Z", base.assumed_role(base.MEMBER_ROLE, "m"),
        base.MEMBER_KEY,
    )  # fmt: skip
    later = base.kms_record(
        "Decrypt", "2026-11-09T00:20:00Z", base.assumed_role(base.PARTNER_ROLE, "p"), None
    )
    return {
        base.log_key(base.OWNER, "eu-west-1", "2026-11-05", "a", org=base.ORG): [decrypt],
        base.log_key(base.MEMBER, "eu-west-1", "2026-11-05", "a", org=member_org): [
            {**grant, "readOnly": False}
        ],
        base.log_key(base.MEMBER, "us-east-1", "2026-11-06", "a", org=member_org): [
            {**grant, "eventTime": "2026-11-06T09:00:00Z", "readOnly": False}
        ],
        base.log_key(base.PARTNER, "eu-west-1", "2026-11-09", "a"): [later],
    }


def without_reads(folder: str) -> str:
    """The warning about one trail folder (``account ID``, ``organization o-...``) of the test
    week without a KMS read event, every Region read."""
    return (
        f"the log files read under s3://{NO_READS_BUCKET}/{base.PREFIX} in the trail folder of "
        f"{folder} hold no KMS read event (a Decrypt, a DescribeKey, ...) from 2026-11-02 to "
        "2026-11-08: the trail may exclude KMS events or log write events only, so whether a "
        "key was used is unknown"
    )


MEMBER_WITHOUT_READS = without_reads(f"account {base.MEMBER}")


@pytest.mark.parametrize("output_format", ["table", "json", "csv", "jsonl"])
def test_an_account_trail_that_logs_no_kms_read_event_is_named_in_an_organization_bucket(
    output_format: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The KMS read events were counted across the whole bucket: the organization trail's
    Decrypt hid that the member's own account trail logs write events only, and the audit of
    the member's key reported "no use" without a word. Each trail folder with log files of the
    range and no KMS read event (in any of its Regions) is named once; the partner's, with no
    record of the range, is not."""
    out = tmp_path / "usage.out"
    code = audit_week_of(
        organization_week(member_org=None), "--key", base.MEMBER_KEY, "--event", "Decrypt",
        "--format", output_format, "-o", str(out),
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().err.splitlines() == [f"kmskit: warning: {MEMBER_WITHOUT_READS}"]
    if output_format == "table":
        assert out.read_text().splitlines()[1:] == [
            f"trailFoldersWithoutKmsReadEvents: 1: {MEMBER_WITHOUT_READS}"
        ]
    elif output_format == "json":
        report = json.loads(out.read_text())
        assert (report["rows"], report["objectsRead"], report["kmsReadEvents"]) == ([], 4, 1)
        assert report["trailFoldersWithoutKmsReadEvents"] == [{"account": base.MEMBER}]


@pytest.mark.parametrize("output_format", ["table", "json"])
def test_an_idle_member_of_an_organization_trail_that_logs_kms_reads_is_not_warned_about(
    output_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One organization trail, one set of event selectors for every member account: once one
    member's files hold a KMS read event, the trail logs them, and a member with none made
    none. Naming it ("the trail may exclude KMS events") was a false alarm for every idle
    account of the organization."""
    assert audit_week_of(organization_week(), "--format", output_format) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    if output_format == "json":
        assert json.loads(captured.out)["trailFoldersWithoutKmsReadEvents"] == []
    else:
        assert "KmsReadEvents" not in captured.out


def test_an_organization_trail_without_kms_read_events_is_named_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An organization trail's folder that holds no KMS read event of any member is named by
    its organization ID, once, beside the account trails'."""
    week = organization_week()
    # The owner's Decrypt moves to the owner's own account trail.
    decrypt = week.pop(base.log_key(base.OWNER, "eu-west-1", "2026-11-05", "a", org=base.ORG))
    week[base.log_key(base.OWNER, "eu-west-1", "2026-11-05", "a")] = decrypt
    assert audit_week_of(week, "--format", "json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["trailFoldersWithoutKmsReadEvents"] == [
        {"organization": base.ORG}
    ]
    assert captured.err.splitlines() == [
        f"kmskit: warning: {without_reads(f'organization {base.ORG}')}"
    ]


def test_a_region_where_nobody_called_kms_is_not_warned_about(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A trail's event selectors apply in each of its Regions: a trail that logged a KMS read
    in one Region logs them all, and a quiet Region (write events only, such as a CreateGrant)
    is no sign of a trail that leaves KMS's reads out."""
    week = organization_week(member_org=None)
    grant = week[base.log_key(base.MEMBER, "eu-west-1", "2026-11-05", "a")]
    week[base.log_key(base.OWNER, "us-east-1", "2026-11-05", "a", org=base.ORG)] = grant
    assert audit_week_of(week, "--format", "json") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["trailFoldersWithoutKmsReadEvents"] == [
        {"account": base.MEMBER}
    ]
    assert captured.err.splitlines() == [f"kmskit: warning: {MEMBER_WITHOUT_READS}"]


def member_reading_in_europe_only() -> dict[str, list[dict[str, Any]]]:
    """:func:`organization_week` with the member's own account trail, which logged a Decrypt
    in eu-west-1 (none in us-east-1), and a Decrypt in us-east-1 in the organization trail's
    folder."""
    week = organization_week(member_org=None)
    member = base.assumed_role(base.MEMBER_ROLE, "m")
    app = base.assumed_role(base.APP_ROLE, "s")
    week[base.log_key(base.MEMBER, "eu-west-1", "2026-11-06", "b")] = [
        base.kms_record("Decrypt", "2026-11-06T10:00:00Z", member, base.MEMBER_KEY)
    ]
    week[base.log_key(base.OWNER, "us-east-1", "2026-11-06", "b", org=base.ORG)] = [
        base.kms_record("Decrypt", "2026-11-06T11:00:00Z", app, base.DATA_KEY)
    ]
    return week


def test_with_log_region_a_trail_folder_without_kms_reads_there_is_not_blamed_on_the_trail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--log-region us-east-1: the member's trail logs KMS's reads (in eu-west-1, not read),
    and nobody called KMS in us-east-1 there. The warning said "the trail may exclude KMS
    events" of a trail that logs them; it now says which Regions were read."""
    week = member_reading_in_europe_only()
    assert audit_week_of(week, "--format", "json") == 0  # every Region: nothing to say
    captured = capsys.readouterr()
    assert (captured.err, json.loads(captured.out)["trailFoldersWithoutKmsReadEvents"]) == (
        "",
        [],
    )
    assert audit_week_of(week, "--format", "json", "--log-region", "us-east-1") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["trailFoldersWithoutKmsReadEvents"] == [
        {"account": base.MEMBER}
    ]
    assert captured.err.splitlines() == [
        f"kmskit: warning: the log files read under s3://{NO_READS_BUCKET}/{base.PREFIX} in the "
        f"trail folder of account {base.MEMBER} hold no KMS read event (a Decrypt, a "
        "DescribeKey, ...) in the Regions read (us-east-1) from 2026-11-02 to 2026-11-08: nobody "
        "may have called KMS there (other Regions were not read), so whether a key was used is "
        "unknown; read every Region (kmskit audit without --log-region) to tell whether the "
        "trail logs KMS's read events"
    ]


def limited_without_reads(where: str, read: str, nouns: str, options: str) -> str:
    """The warning about ``where`` (log files of the test week) without a KMS read event in
    the accounts or Regions read (``read``: ``the accounts read (...)``, ...), of a run limited
    with ``options``."""
    plural = " and ".join(noun + "s" for noun in nouns.split(" and "))
    return (
        f"kmskit: warning: the log files read under s3://{NO_READS_BUCKET}/{base.PREFIX}{where} "
        f"hold no KMS read event (a Decrypt, a DescribeKey, ...) in {read} from 2026-11-02 to "
        f"2026-11-08: nobody may have called KMS there (other {plural} were not read), so "
        f"whether a key was used is unknown; read every {nouns} (kmskit audit without "
        f"{options}) to tell whether the trail logs KMS's read events"
    )


def test_with_account_idle_members_of_an_organization_trail_are_not_blamed_on_the_trail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--account naming idle members of an organization trail: the trail logs KMS's reads
    (the owner's Decrypt, in an account not read). The warnings, run-wide and per trail folder,
    said "the trail may exclude KMS events"; they now say which accounts were read."""
    assert audit_week_of(organization_week(), "--format", "json", "--account", base.MEMBER) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["kmsReadEvents"] == 0
    assert captured.err.splitlines() == [
        limited_without_reads("", f"the accounts read ({base.MEMBER})", "account", "--account")
    ]
    # The partner's own account trail logs a Decrypt: only the organization's folder is named.
    week = organization_week()
    partner = base.assumed_role(base.PARTNER_ROLE, "p")
    week[base.log_key(base.PARTNER, "eu-west-1", "2026-11-05", "z")] = [
        base.kms_record("Decrypt", "2026-11-05T10:00:00Z", partner, base.DATA_KEY)
    ]
    args = ("--account", base.MEMBER, "--account", base.PARTNER, "--log-region", "eu-west-1")
    assert audit_week_of(week, "--format", "json", *args) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["trailFoldersWithoutKmsReadEvents"] == [
        {"organization": base.ORG}
    ]
    assert captured.err.splitlines() == [
        limited_without_reads(
            f" in the trail folder of organization {base.ORG}",
            f"the accounts read ({', '.join(sorted((base.MEMBER, base.PARTNER)))}) and the "
            "Regions read (eu-west-1)",
            "account and Region",
            "--account and --log-region",
        )
    ]
    # Every account read: the owner's Decrypt shows the organization trail logs KMS's reads.
    assert audit_week_of(week, "--format", "json") == 0
    assert capsys.readouterr().err == ""


def test_with_log_region_no_kms_read_event_at_all_is_not_blamed_on_the_trail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--log-region us-east-1 on a week whose only Decrypt is in eu-west-1: the run-wide
    warning (kmsReadEvents: 0) said "the trail may exclude KMS events"; it now says which
    Regions were read."""
    week = organization_week(member_org=None)
    assert audit_week_of(week, "--format", "json", "--log-region", "us-east-1") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["kmsReadEvents"] == 0
    assert captured.err.splitlines() == [
        limited_without_reads("", "the Regions read (us-east-1)", "Region", "--log-region")
    ]


def test_many_trail_folders_without_kms_read_events_are_named_up_to_ten(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The warning is one line however many trail folders it is about; --format json lists
    them all."""
    week = organization_week(member_org=None)
    grant = week[base.log_key(base.MEMBER, "eu-west-1", "2026-11-05", "a")]
    members = [f"{n:012d}" for n in range(1, 13)]
    for member in members:
        week[base.log_key(member, "eu-west-1", "2026-11-05", "a")] = grant
    assert audit_week_of(week, "--format", "json") == 0
    captured = capsys.readouterr()
    (warning,) = captured.err.splitlines()
    named = ", ".join(f"account {member}" for member in members[:10])
    assert f" in the trail folders of {named} and 3 more (all in --format json, " in warning
    assert len(json.loads(captured.out)["trailFoldersWithoutKmsReadEvents"]) == 13


def test_a_trail_stopped_before_the_range_is_warned_about(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Logs of October only, a week of November audited: "rows": [] and exit 0 was all it said
    (the reviewer's run had --verify too, which has nothing to verify then)."""
    assert audit_week(october_only(), "--format", "json") == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [NO_LOGS_WARNING]
    report = json.loads(captured.out)
    assert (report["rows"], report["objectsRead"], report["kmsReadEvents"]) == ([], 0, 0)


def october_only() -> dict[str, list[dict[str, Any]]]:
    before = base.kms_record(
        "Decrypt", "2026-10-01T10:00:00Z", base.assumed_role(base.APP_ROLE, "s"), base.DATA_KEY
    )
    return {"2026-10-01": [before]}


def test_the_table_says_why_no_log_file_was_read(capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_week(october_only(), "--key", base.DATA_KEY) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == (
        f"objectsRead: 0: {NO_LOGS_WARNING.removeprefix('kmskit: warning: ')}"
    )
    assert captured.err.splitlines() == [NO_LOGS_WARNING]


def test_kms_read_events_are_counted_and_then_no_warning(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every KMS record of the test week is a read event, kept or not: Alice's refused Decrypt,
    the ListAliases, the partner's own copies and the other keys' calls count too (17); the S3
    record, the calls of the day before --since and after --until and the Insights file do
    not."""
    argv = ["audit", f"s3://{base.BUCKET}/{base.PREFIX}", "--key", base.DATA_KEY,
            "--since", "2026-11-02", "--until", "2026-11-08", "--format", "json"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["kmsReadEvents"] == 17
    assert "warning" not in captured.err


# --- archived log files ---------------------------------------------------------------------------


def archived_bucket(bucket: str, storage: dict[str, str]) -> Any:
    """Inside ``mock_aws``: ``bucket`` with a log file a day, each of the storage class
    ``storage`` gives its day (default STANDARD). (A name per test: the module's mock_aws may
    be on, holding the buckets of the tests before.)"""
    s3 = base.new_audit_bucket(bucket)
    for day in ("2026-11-04", "2026-11-05", "2026-11-06"):
        record = base.kms_record(
            "Decrypt", f"{day}T10:00:00Z", base.assumed_role(base.APP_ROLE, "s"), base.DATA_KEY
        )
        s3.put_object(
            Bucket=bucket,
            Key=base.log_key(base.OWNER, "eu-west-1", day, "a"),
            Body=gzip.compress(json.dumps({"Records": [record]}).encode()),
            StorageClass=storage.get(day, "STANDARD"),
        )
    return s3


def read_keys(s3: Any) -> list[str]:
    """The key of every GetObject made with ``s3`` from now on."""
    keys: list[str] = []
    s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: keys.append(params["Key"])
    )
    return keys


def audit_archive(bucket: str) -> int:
    return main(
        ["audit", f"s3://{bucket}/{base.PREFIX}", "--since", "2026-11-04", "--until",
         "2026-11-06", "--region", "eu-west-1", "--quiet"]
    )  # fmt: skip


def test_archived_log_files_are_named_before_they_are_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3 Glacier Flexible Retrieval and Deep Archive objects cannot be read until restored:
    the audit failed when it reached the first one (hours into a long range), 'could not read
    ...: InvalidObjectState', exit 1. The listing names them (StorageClass): the run stops
    before reading any of them, counts them all and says what to do, exit 7."""
    with mock_aws():
        bucket = "audit-logs-archived"
        s3 = archived_bucket(bucket, {"2026-11-05": "GLACIER", "2026-11-06": "DEEP_ARCHIVE"})
        monkeypatch.setattr("kmskit.clients.ClientSettings.client", lambda *a, **k: s3)
        keys = read_keys(s3)
        assert audit_archive(bucket) == EXIT_CONFLICT
    err = capsys.readouterr().err
    first = f"s3://{bucket}/{base.log_key(base.OWNER, 'eu-west-1', '2026-11-05', 'a')}"
    last = f"s3://{bucket}/{base.log_key(base.OWNER, 'eu-west-1', '2026-11-06', 'a')}"
    assert err == (
        "kmskit: error: 2 CloudTrail log files to read are archived (S3 Glacier Flexible "
        f"Retrieval or Deep Archive, not restored): GetObject cannot read them; the first {first}, "
        f"the last {last}. Restore them (S3 RestoreObject, or S3 Batch Operations for many; it "
        "takes minutes to hours) and run again, or leave their days out (--since, --until; "
        "--account, --log-region)\n"
    )
    assert not [key for key in keys if "/2026/11/05/" in key or "/2026/11/06/" in key]


MEMBER_DAYS = (
    ("2026-11-04", "GLACIER"),
    ("2026-11-05", "DEEP_ARCHIVE"),
    ("2026-11-06", "STANDARD"),
)


def organization_archive(
    bucket: str, member_days: tuple[tuple[str, str], ...] = MEMBER_DAYS
) -> Any:
    """Inside ``mock_aws``: the owner's account trail's log files of 2026-11-04 to 06 in S3
    Standard, and the organization trail's of the member, a log file for each day of
    ``member_days`` in its storage class (default: a lifecycle rule on its folder archived the
    two oldest)."""
    s3 = archived_bucket(bucket, {})
    for day, storage in member_days:
        record = base.kms_record(
            "Decrypt", f"{day}T10:00:00Z", base.assumed_role(base.MEMBER_ROLE, "m"), base.MEMBER_KEY
        )
        s3.put_object(
            Bucket=bucket,
            Key=base.log_key(base.MEMBER, "eu-west-1", day, "m", org=base.ORG),
            Body=gzip.compress(json.dumps({"Records": [record]}).encode()),
            StorageClass=storage,
        )
    return s3


@pytest.mark.parametrize("empty_first_day", [False, True])
def test_archived_log_files_of_another_account_are_named_before_any_is_read(
    empty_first_day: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the folder being read was checked: the owner's log files of the first day were
    read (and with --verify every day of the owner's, one account after the other) before the
    member's first folder told that its files were archived. The oldest files of the range of
    every account and Region are looked at before anything is read. Then only the --since
    day folder's first page was: when the member's is empty (no delivery that day, an account
    that joined later), its archived files of the next day were found when their folder was
    read, after the owner's files of the days before. The probe lists the Region's folder from
    the --since folder on (StartAfter): the oldest files on or after that day, whatever day
    they are of, one request as before."""
    with mock_aws():
        bucket = "audit-logs-archived-org" + ("-empty-since" if empty_first_day else "")
        # nothing on the 4th, with empty_first_day
        s3 = organization_archive(bucket, MEMBER_DAYS[empty_first_day:])
        monkeypatch.setattr("kmskit.clients.ClientSettings.client", lambda *a, **k: s3)
        keys = read_keys(s3)
        assert audit_archive(bucket) == EXIT_CONFLICT

    def uri(day: str) -> str:
        return f"s3://{bucket}/{base.log_key(base.MEMBER, 'eu-west-1', day, 'm', org=base.ORG)}"

    named = (
        f"1 CloudTrail log files to read are archived (S3 Glacier Flexible Retrieval or Deep "
        f"Archive, not restored): GetObject cannot read them; the first {uri('2026-11-05')}."
        if empty_first_day
        else "2 CloudTrail log files to read are archived (S3 Glacier Flexible Retrieval or "
        f"Deep Archive, not restored): GetObject cannot read them; the first "
        f"{uri('2026-11-04')}, the last {uri('2026-11-05')}."
    )
    assert capsys.readouterr().err.startswith(f"kmskit: error: {named} Restore them")
    assert keys == []


def test_archived_log_files_are_named_before_any_is_read_in_key_order() -> None:
    """In key order (--verify), every day of the owner's folders was read before the member's
    first folder was listed."""
    with mock_aws():
        s3 = organization_archive("audit-logs-archived-key-order")
        keys = read_keys(s3)
        with pytest.raises(ConflictError, match=r"^2 CloudTrail log files to read are archived"):
            AuditReader(s3, workers=2, progress=False).run(
                LogLocation("audit-logs-archived-key-order", base.PREFIX),
                DateRange(date(2026, 11, 4), date(2026, 11, 6)),
                RecordFilter(),
                UsageSummary().add,
                observer=KeyOrder(),
            )
    assert keys == []


def test_archived_log_files_after_the_range_are_not_counted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The probe's page may reach past the range (the Region folder is listed from --since on):
    an archived file of a day after the last folder read is none of the run's."""
    with mock_aws():
        bucket = "audit-logs-archived-after"
        s3 = archived_bucket(bucket, {"2026-11-06": "GLACIER"})
        monkeypatch.setattr("kmskit.clients.ClientSettings.client", lambda *a, **k: s3)
        code = main(
            ["audit", f"s3://{bucket}/{base.PREFIX}", "--since", "2026-11-04", "--until",
             "2026-11-04", "--region", "eu-west-1", "--quiet", "--format", "json"]
        )  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)["objectsRead"] == 2  # the 4th's and 5th's


def paged_archive(bucket: str, files: dict[str, tuple[str, ...]]) -> Any:
    """Inside ``mock_aws``: the owner's log files ``files`` (day -> the storage class of each
    of its files, named a, b, c...)."""
    s3 = base.new_audit_bucket(bucket)
    for day, classes in files.items():
        for name, storage in zip("abcdefgh", classes, strict=False):
            record = base.kms_record(
                "Decrypt", f"{day}T10:00:00Z", base.assumed_role(base.APP_ROLE, "s"), base.DATA_KEY
            )
            s3.put_object(
                Bucket=bucket,
                Key=base.log_key(base.OWNER, "eu-west-1", day, name),
                Body=gzip.compress(json.dumps({"Records": [record]}).encode()),
                StorageClass=storage,
            )
    return s3


def test_an_archived_log_file_past_the_probes_first_page_is_named_before_any_is_read() -> None:
    """The probe read one ListObjectsV2 page (1,000 files) of each account and Region from the
    --since folder on: an archived file past it (more than a page of older files, or archived
    out of age order) was met only when its folder was listed to be read, after the days
    before it were read. The probe lists the range to its last day folder (pages of 2 here)."""
    with mock_aws():
        bucket = "audit-logs-archived-second-page"
        s3 = paged_archive(
            bucket,
            {
                "2026-11-04": ("STANDARD", "STANDARD", "STANDARD"),
                "2026-11-05": ("STANDARD", "GLACIER"),
                "2026-11-06": ("STANDARD",),
            },
        )
        calls = base.listed_prefixes(s3)
        keys = read_keys(s3)
        with pytest.raises(ConflictError) as error:
            AuditReader(s3, workers=2, page_size=2, progress=False).run(
                LogLocation(bucket, base.PREFIX),
                DateRange(date(2026, 11, 4), date(2026, 11, 5)),
                RecordFilter(),
                UsageSummary().add,
                regions=["eu-west-1"],
            )
    archived = base.log_key(base.OWNER, "eu-west-1", "2026-11-05", "b")
    assert str(error.value).startswith(
        "1 CloudTrail log files to read are archived (S3 Glacier Flexible Retrieval or Deep "
        f"Archive, not restored): GetObject cannot read them; the first s3://{bucket}/{archived}."
    )
    assert keys == []
    # Three pages of the probe (04/a-b, 04/c-05/a, 05/b), the third stopping at the archived file.
    probes = [c for c in calls if "StartAfter" in c]
    assert [("ContinuationToken" in c) for c in probes] == [False, True, True]


def test_the_probe_stops_at_the_first_page_past_the_range() -> None:
    """The probe lists the Region's folder up to the page that goes past the last day folder
    read (--until's and the day after, for late deliveries), not the days after it."""
    with mock_aws():
        bucket = "audit-logs-probe-stops"
        s3 = paged_archive(
            bucket,
            {
                "2026-11-04": ("STANDARD", "STANDARD"),
                "2026-11-05": ("STANDARD", "STANDARD"),
                "2026-11-06": ("STANDARD", "STANDARD"),
                "2026-11-07": ("STANDARD", "GLACIER", "GLACIER", "GLACIER"),
            },
        )
        calls = base.listed_prefixes(s3)
        stats = AuditReader(s3, workers=2, page_size=2, progress=False).run(
            LogLocation(bucket, base.PREFIX),
            DateRange(date(2026, 11, 4), date(2026, 11, 5)),
            RecordFilter(),
            UsageSummary().add,
            regions=["eu-west-1"],
        )
    assert stats.objects == 6  # the 4th's, 5th's and 6th's
    # 04/a-b, 05/a-b, 06/a-b, then 07/a-b: past the 6th, the last folder read; not 07/c-d.
    probes = [c for c in calls if "StartAfter" in c]
    assert len(probes) == 4


@pytest.mark.parametrize(
    ("listed", "archived"),
    [
        ({"StorageClass": "GLACIER"}, True),
        ({"StorageClass": "DEEP_ARCHIVE", "RestoreStatus": {"IsRestoreInProgress": True}}, True),
        (
            {
                "StorageClass": "GLACIER",
                "RestoreStatus": {
                    "IsRestoreInProgress": False,
                    "RestoreExpiryDate": datetime(2026, 12, 1, tzinfo=UTC),
                },
            },
            False,
        ),
        ({"StorageClass": "GLACIER_IR"}, False),
        ({"StorageClass": "STANDARD"}, False),
        ({"StorageClass": "INTELLIGENT_TIERING"}, False),  # only GetObject tells
        ({}, False),
    ],
)
def test_which_listed_objects_are_archived(listed: dict[str, Any], archived: bool) -> None:
    assert is_archived(listed) is archived


def test_a_restored_archived_log_file_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A restored copy reads: the listing asks for RestoreStatus (which moto does not give:
    added here, as S3 lists it)."""
    with mock_aws():
        bucket = "audit-logs-restored"
        s3 = archived_bucket(bucket, {"2026-11-05": "GLACIER"})
        key = base.log_key(base.OWNER, "eu-west-1", "2026-11-05", "a")
        s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": 1})
        asked: list[Any] = []

        def restored(params: dict[str, Any], **_: Any) -> None:
            asked.append(params.get("OptionalObjectAttributes"))

        def listed(parsed: dict[str, Any], **_: Any) -> None:
            for entry in parsed.get("Contents", []):
                if entry["Key"] == key:
                    entry["RestoreStatus"] = {
                        "IsRestoreInProgress": False,
                        "RestoreExpiryDate": datetime(2026, 12, 1, tzinfo=UTC),
                    }

        s3.meta.events.register("provide-client-params.s3.ListObjectsV2", restored)
        s3.meta.events.register("after-call.s3.ListObjectsV2", listed)
        summary = UsageSummary()
        AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, base.PREFIX),
            DateRange(date(2026, 11, 4), date(2026, 11, 6)),
            RecordFilter(),
            summary.add,
        )
    assert sum(row.count for row in summary.rows.values()) == 3
    assert ["RestoreStatus"] in asked


def test_a_log_file_archived_after_it_was_listed_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An S3 Intelligent-Tiering object in an archive access tier lists as INTELLIGENT_TIERING
    (as does one moved since it was listed): its GetObject's InvalidObjectState was exit 1;
    it is exit 7, naming the file and what to do."""
    with mock_aws():
        bucket = "audit-logs-tiering"
        s3 = archived_bucket(bucket, {"2026-11-05": "GLACIER"})

        def tiering(parsed: dict[str, Any], **_: Any) -> None:
            for entry in parsed.get("Contents", []):
                entry["StorageClass"] = "INTELLIGENT_TIERING"

        s3.meta.events.register("after-call.s3.ListObjectsV2", tiering)
        monkeypatch.setattr("kmskit.clients.ClientSettings.client", lambda *a, **k: s3)
        assert audit_archive(bucket) == EXIT_CONFLICT
    err = capsys.readouterr().err
    key = base.log_key(base.OWNER, "eu-west-1", "2026-11-05", "a")
    assert err.startswith(
        f"kmskit: error: could not read s3://{bucket}/{key}: InvalidObjectState: "
    )
    assert err.endswith(
        ": it is archived; restore it (S3 RestoreObject) and run again, or leave its day out "
        "(--since, --until; --account, --log-region)\n"
    )


def test_with_account_an_account_trails_folder_is_still_blamed_on_the_trail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An account trail's folder is read whole for the account given: other accounts' trails
    could not show whether this one logs KMS's reads, so --account does not soften it."""
    week = organization_week()
    grant = base.kms_record(
        "CreateGrant", "2026-11-05T11:00:00Z", base.assumed_role(base.PARTNER_ROLE, "p"), None
    )
    week[base.log_key(base.PARTNER, "eu-west-1", "2026-11-05", "z")] = [
        {**grant, "readOnly": False}
    ]
    assert audit_week_of(week, "--format", "json", "--account", base.PARTNER) == 0
    (warning,) = capsys.readouterr().err.splitlines()
    assert "the trail may exclude KMS events or log write events only" in warning
    assert "accounts read" not in warning
