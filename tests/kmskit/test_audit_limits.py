"""kmskit audit: the limits on what it reads and accepts.

- a log file is decompressed as it is downloaded, never past a limit (a gzip bomb);
- ``--days`` is 1 to ten years, checked while the arguments are parsed;
- ``--principal`` has the form of a principal the report prints, checked while parsed;
- a log file deleted between listing and reading is skipped, named and counted.

Each test of a new behaviour failed before it; the others (every principal the report prints
is accepted, ten years of --days are, other read errors still fail) keep the checks from
refusing or skipping more than they should. The CloudTrail records and the bucket are those of
tests/kmskit/test_audit.py."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from kmskit.audit import (
    MAX_DAYS,
    MAX_LOG_FILE_BYTES,
    AuditReader,
    DateRange,
    ListedObject,
    LogLocation,
    RecordFilter,
    UsageSummary,
    gunzip_into,
    principal_of,
)
from kmskit.cli import build_parser, main
from kmskit.errors import (
    EXIT_INTEGRITY,
    EXIT_OK,
    EXIT_USAGE,
    AccessDeniedError,
    IntegrityError,
    UsageError,
)
from tests.kmskit import test_audit as base

aws = base.aws  # the module's bucket, made once
MIB = 1024 * 1024


def no_client(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("an AWS client was made before the arguments were checked")


# --- a log file is never decompressed past the limit ---------------------------------------------


def gzip_bomb(decompressed_mib: int) -> bytes:
    """A gzip file that decompresses to ``decompressed_mib`` MiB of valid (if empty) CloudTrail
    JSON, ``{"Records": []}`` padded with blanks, from about a thousandth of that: one member
    of a MiB of blanks repeated (gzip members follow one another, RFC 1952)."""
    blanks = gzip.compress(b" " * MIB, compresslevel=9)
    head = gzip.compress(b'{"Records": [')
    tail = gzip.compress(b"]}")
    return head + blanks * decompressed_mib + tail


def test_a_gzip_bomb_is_not_decompressed_past_the_limit(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was downloaded whole and decompressed whole (gzip.decompress, then decoded to text by
    json.loads): a few MB in the bucket, gigabytes in memory, times the number of workers. Now
    the reading stops once the decompressed bytes pass the limit."""
    monkeypatch.setattr("kmskit.audit.MAX_LOG_FILE_BYTES", 1 * MIB)
    key = base.log_key(base.OWNER, "eu-west-1", "2026-10-21", "bomb")
    aws.put_object(Bucket=base.BUCKET, Key=key, Body=gzip_bomb(64))
    reader = AuditReader(aws, progress=False)
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError) as error:
            reader.read_records(base.LOCATION, key)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        aws.delete_object(Bucket=base.BUCKET, Key=key)
    assert str(error.value) == (
        f"s3://{base.BUCKET}/{key} decompresses to more than 1 MiB, the limit for a CloudTrail "
        "log file: CloudTrail did not write it (a gzip bomb?). Find out who did; --since/--until, "
        "--account or --log-region can leave it out of the audit"
    )
    assert peak < 8 * MIB  # the limit, read buffers and the client's own, not 64 MiB


def test_cli_a_gzip_bomb_fails_the_audit_naming_the_object_and_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 5 like any file that is not a CloudTrail log file, and no partial report: an audit
    that left the file out would report less use than there was."""
    monkeypatch.setattr("kmskit.audit.MAX_LOG_FILE_BYTES", 2 * MIB)
    bucket = "audit-logs-gzip-bomb"
    out = tmp_path / "usage.json"
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        alice = base.iam_user(base.ALICE)
        used = base.kms_record("Decrypt", "2026-11-03T10:00:00Z", alice, base.DATA_KEY)
        base.put_log(s3, base.log_key(base.OWNER, "eu-west-1", "2026-11-03", "a"), [used], bucket)
        key = base.log_key(base.OWNER, "eu-west-1", "2026-11-03", "b")
        s3.put_object(Bucket=bucket, Key=key, Body=gzip_bomb(32))
        argv = ["audit", f"s3://{bucket}/{base.PREFIX}", "--quiet", "--since", "2026-11-03",
                "--until", "2026-11-03", "--format", "json", "-o", str(out)]  # fmt: skip
        code = main(argv)
    assert code == EXIT_INTEGRITY
    err = capsys.readouterr().err
    assert err.startswith(
        f"kmskit: error: s3://{bucket}/{key} decompresses to more than 2 MiB, the limit for a "
        "CloudTrail log file"
    )
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [0, 1])
def test_a_log_file_of_exactly_the_limit_is_read_and_one_byte_more_is_not(extra: int) -> None:
    document = json.dumps({"Records": [base.s3_record("2026-11-03T10:00:00Z")]}).encode()
    limit = len(document) + 100
    padded = document + b" " * (100 + extra)
    data = bytearray()
    whole = gunzip_into(io.BytesIO(gzip.compress(padded)), limit, data.extend)
    assert whole is (extra == 0)
    assert data == (padded if extra == 0 else b"")  # the chunk past the limit is not passed on


def test_the_limit_is_256_mib_and_reading_still_catches_what_is_not_gzip() -> None:
    assert MAX_LOG_FILE_BYTES == 256 * MIB
    with pytest.raises(gzip.BadGzipFile):
        gunzip_into(io.BytesIO(b"not gzip"), MIB, lambda chunk: None)
    with pytest.raises(EOFError):
        gunzip_into(io.BytesIO(gzip.compress(b"{}" * 1000)[:-20]), MIB, lambda chunk: None)
    corrupt = bytearray(gzip.compress(b'{"Records": []}'))
    corrupt[12] ^= 0xFF
    with pytest.raises((zlib.error, gzip.BadGzipFile)):
        gunzip_into(io.BytesIO(bytes(corrupt)), MIB, lambda chunk: None)


# --- --days: 1 to ten years, when the arguments are parsed ---------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0", "0"),
        ("-3", "-3"),
        (str(MAX_DAYS + 1), str(MAX_DAYS + 1)),
        ("70000", "70000"),  # 7 days with a few zeros too many: 190 years of empty folders
        ("10000000", "10000000"),
        ("seven", "'seven'"),
        ("1.5", "'1.5'"),
    ],
)
def test_days_out_of_range_are_refused_while_the_arguments_are_parsed(
    value: str, shown: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message = (
        f"'--days' must be 1-{MAX_DAYS} (ten years; give --since for a longer range). "
        f"Received: {shown}"
    )
    with pytest.raises(UsageError) as error:
        build_parser().parse_args(["audit", "s3://audit-logs", "--days", value])
    assert str(error.value) == message
    monkeypatch.setattr("kmskit.clients.ClientSettings.client", no_client)
    assert main(["audit", "s3://audit-logs", "--quiet", "--days", value]) == EXIT_USAGE
    assert capsys.readouterr().err == f"kmskit: error: {message}\n"


def test_days_up_to_ten_years_are_read_and_since_reads_any_range() -> None:
    assert MAX_DAYS == 3660
    for days in ("1", "7", str(MAX_DAYS)):
        args = build_parser().parse_args(["audit", "s3://audit-logs", "--days", days])
        assert args.days == int(days)
    assert DateRange.last_days(MAX_DAYS, until=base.WEEK.until).since.year == 2016
    longer = DateRange(since=base.WEEK.until.replace(year=2013), until=base.WEEK.until)
    assert len(longer.folder_days()) > MAX_DAYS


def test_days_are_checked_by_the_library_too() -> None:
    with pytest.raises(UsageError, match=rf"Received: {MAX_DAYS + 1}\Z"):
        DateRange.last_days(MAX_DAYS + 1)
    with pytest.raises(UsageError, match=r"Received: True\Z"):
        DateRange.last_days(True)


# --- --principal: a principal as the report prints it --------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        "AppRole",  # the role's name, not its ARN
        "role/AppRole",
        "alice",
        f"arn:aws:iam::{base.OWNER[:-1]}:role/AppRole",  # 11 digits
        f"arn:aws:iam:{base.OWNER}:role/AppRole",  # one colon short
        f"arn:aws:sts::{base.OWNER}:role/AppRole",  # a role ARN is IAM's
        f"arn:aws:iam::{base.OWNER}:assumed-role/AppRole/session-a",  # a session ARN is STS's
        f"arn:aws:sts::{base.OWNER}:assumed-role/AppRole",  # a session without its name
        f"arn:aws:iam::{base.OWNER}:role/AppRole ",  # a blank pasted along
        f"arn:aws:iam::{base.OWNER}:group/Admins",  # groups make no calls
        base.DATA_KEY,  # the key, not who used it
        "S3",
        "S3.amazonaws.com",
        "s3.amazonaws.com.",
        "kms:Decrypt",
        "AWSAccount:4444-5555-6666",
        f"awsaccount:{base.PARTNER}",
        "AWSAcount",
    ],
)
def test_a_principal_the_report_never_prints_is_refused_while_the_arguments_are_parsed(
    principal: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It matched no record and reported that no one used the key."""
    message = (
        "'--principal' must be a principal as the report prints it: an IAM role, user or root "
        "ARN, an STS assumed-role or federated-user ARN, an AWS service name such as "
        "s3.amazonaws.com (or 'AWS Internal'), or AWSAccount:<12-digit account ID>. "
        f"Received: {principal!r}"
    )
    with pytest.raises(UsageError) as error:
        build_parser().parse_args(["audit", "s3://audit-logs", "--principal", principal])
    assert str(error.value) == message
    monkeypatch.setattr("kmskit.clients.ClientSettings.client", no_client)
    argv = ["audit", "s3://audit-logs", "--quiet", "--principal", base.ALICE]
    assert main([*argv, "--principal", principal]) == EXIT_USAGE
    assert capsys.readouterr().err == f"kmskit: error: {message}\n"


def every_identity() -> list[dict[str, Any]]:
    """The records of tests/kmskit/test_audit.py and test_audit_review.py, and one of each
    identity the report names otherwise."""
    records: list[dict[str, Any]] = list(base.DOCUMENTED_RECORDS)
    identities = [
        base.iam_user(base.ALICE),
        base.assumed_role(base.APP_ROLE, "session-a"),
        base.assumed_role("arn:aws:iam::111122223333:role/service-role/path/Lambda", "fn"),
        base.assumed_role("arn:aws-us-gov:iam::111122223333:role/Gov", "s"),
        base.assumed_role("arn:aws-eusc:iam::111122223333:role/Eusc", "s"),
        base.federated_user("Bob", base.ALICE),
        base.aws_service("cloudtrail.amazonaws.com"),
        base.aws_service("dynamodb.application-autoscaling.amazonaws.com"),
        base.aws_account(base.PARTNER, "AROAEXAMPLE:etl"),
        {"type": "AWSAccount", "accountId": base.PARTNER, "invokedBy": "s3.amazonaws.com"},
        {"type": "Root", "arn": f"arn:aws:iam::{base.OWNER}:root", "accountId": base.OWNER},
        {"type": "IdentityCenterUser", "accountId": base.OWNER},
        {"type": "AWSService"},
        {},
    ]
    records += [base.kms_record("Decrypt", "t", identity, base.DATA_KEY) for identity in identities]
    return records


def test_every_principal_the_report_prints_or_matches_is_accepted() -> None:
    parser = build_parser()
    for record in every_identity():
        identity = record.get("userIdentity") or {}
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        names = {principal_of(record), identity.get("arn"), identity.get("invokedBy")}
        names |= {issuer.get("arn")} if issuer.get("type") == "Role" else set()
        for name in names - {None}:
            args = parser.parse_args(["audit", "s3://audit-logs", "--principal", name])
            assert args.principal == [name]
            if record["eventSource"] == "kms.amazonaws.com":
                assert RecordFilter(principals=frozenset(args.principal)).keys_matched(record)


def test_cli_each_principal_of_the_summary_finds_its_calls(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every principal of the week's table, given back as --principal, is accepted and finds
    that principal's calls."""
    summary = base.summarize(aws)
    principals = {principal for _, principal, _ in summary.rows}
    assert len(principals) == 6
    for n, principal in enumerate(sorted(principals)):
        out = tmp_path / f"{n}.json"
        code = base.cli(
            "--principal", principal, "--since", "2026-11-02", "--until", "2026-11-08",
            "--format", "json", "-o", str(out),
        )  # fmt: skip
        assert code == EXIT_OK, capsys.readouterr().err
        rows = json.loads(out.read_text())["rows"]
        assert {row["principal"] for row in rows} == {principal}


# --- a log file deleted between listing and reading ----------------------------------------------


def expiring_bucket(bucket: str) -> tuple[Any, str]:
    """Inside ``mock_aws``: two days of Alice's calls in ``bucket``; an S3 client and the key
    of the first day's log file."""
    s3 = base.new_audit_bucket(bucket)
    keys = []
    for day in ("2026-11-02", "2026-11-03"):
        alice = base.iam_user(base.ALICE)
        call = base.kms_record("Decrypt", f"{day}T10:00:00Z", alice, base.DATA_KEY)
        keys.append(base.log_key(base.OWNER, "eu-west-1", day, "d"))
        base.put_log(s3, keys[-1], [call], bucket=bucket)
    return s3, keys[0]


def expire_after_listing(monkeypatch: pytest.MonkeyPatch, s3: Any, key: str) -> None:
    """``key`` is deleted (a lifecycle rule expiring it) right after its folder is listed."""
    listed = AuditReader.list_entries

    def list_then_expire(
        reader: AuditReader, location: LogLocation, prefix: str
    ) -> list[ListedObject]:
        entries = listed(reader, location, prefix)
        if key in [entry.key for entry in entries]:
            s3.delete_object(Bucket=location.bucket, Key=key)
        return entries

    monkeypatch.setattr(AuditReader, "list_entries", list_then_expire)


def test_a_log_file_gone_when_read_is_skipped_named_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = "audit-logs-expiring"
    with mock_aws():
        s3, expired = expiring_bucket(bucket)
        expire_after_listing(monkeypatch, s3, expired)
        warnings: list[str] = []
        summary = UsageSummary()
        stats = AuditReader(s3, workers=2, progress=False, warn=warnings.append).run(
            LogLocation(bucket, base.PREFIX), base.WEEK, RecordFilter(), summary.add
        )
    uri = f"s3://{bucket}/{expired}"
    assert stats.skipped == [uri]
    assert warnings == [
        f"{uri} was listed but is gone (deleted since, e.g. expired by a lifecycle rule): "
        "skipped, its records are not in the report"
    ]
    assert (stats.objects, stats.records) == (1, 1)
    assert summary.count(base.DATA_KEY, base.ALICE, "Decrypt") == 1


@pytest.mark.parametrize("quiet", [True, False])
def test_cli_a_log_file_gone_when_read_is_reported_and_the_audit_completes(
    quiet: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It failed the whole audit with exit 4 (NoSuchKey). The file no longer exists: an audit
    started a moment later would not have listed it. The report says what was skipped: a
    warning naming each file on stderr (also with --quiet), the count in the summary line, and
    objectsSkipped / skippedObjects in --format json."""
    bucket = f"audit-logs-expiring-{'quiet' if quiet else 'verbose'}"
    out = tmp_path / "usage.json"
    with mock_aws():
        s3, expired = expiring_bucket(bucket)
        expire_after_listing(monkeypatch, s3, expired)
        argv = ["audit", f"s3://{bucket}/{base.PREFIX}", "--since", "2026-11-02",
                "--until", "2026-11-08", "--format", "json", "-o", str(out)]  # fmt: skip
        code = main([*argv, "--quiet"] if quiet else argv)
    assert code == EXIT_OK
    uri = f"s3://{bucket}/{expired}"
    report = json.loads(out.read_text())
    assert (report["objectsRead"], report["objectsSkipped"]) == (1, 1)
    assert report["skippedObjects"] == [uri]
    assert [row["count"] for row in report["rows"]] == [1]
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"kmskit: warning: {uri} was listed but is gone (deleted since, e.g. expired by a "
        "lifecycle rule): skipped, its records are not in the report"
    )
    if quiet:
        assert len(err) == 1
    else:
        assert err[-1].startswith("kmskit: 2026-11-02..2026-11-08: read 1 log files (1 records)")
        assert err[-1].endswith("; 1 log files skipped (listed, but gone when read)")


def test_a_run_with_nothing_skipped_says_so_in_json(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "usage.json"
    code = base.cli(
        "--since", "2026-11-02", "--until", "2026-11-02", "--format", "json", "-o", str(out)
    )
    assert code == EXIT_OK
    report = json.loads(out.read_text())
    assert (report["objectsSkipped"], report["skippedObjects"]) == (0, [])


def test_other_errors_reading_a_log_file_still_fail_the_run(aws: Any) -> None:
    """Only NoSuchKey (deleted since listed) is skipped: access denied still fails."""

    class Denied:
        def __init__(self, s3: Any) -> None:
            self.s3 = s3
            self.meta = s3.meta

        def get_paginator(self, name: str) -> Any:
            return self.s3.get_paginator(name)

        def get_object(self, **params: Any) -> Any:
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise ClientError(error, "GetObject")  # type: ignore[arg-type]

    with pytest.raises(AccessDeniedError, match="could not read s3://"):
        AuditReader(Denied(aws), workers=2, progress=False).run(
            base.LOCATION, base.WEEK, RecordFilter(), lambda r, k: None
        )
