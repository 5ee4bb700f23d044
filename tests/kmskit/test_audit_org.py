"""kmskit audit at organisation scale: an organization trail's central bucket
(``[prefix/]AWSLogs/o-ID/<account>/CloudTrail/<region>/YYYY/MM/DD/``, Control Tower's
``aws-controltower-logs-...`` bucket holding ``Config/`` folders beside them), how many
ListObjectsV2 calls a run makes, and the memory of a summary over many days."""

from __future__ import annotations

import gzip
import io
import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
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
    s3_pool_size,
)
from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.errors import EXIT_ACCESS_DENIED, EXIT_NOT_FOUND, NotFoundError
from tests.kmskit import test_audit as base

ORG = "o-a1b2c3d4e5"
CONFIG_ONLY = "222233334444"  # an account folder with AWS Config files only (Control Tower)


# --- a generated organization bucket -----------------------------------------------------------


def org_key(account: str, region: str, day: date, name: str) -> str:
    return (
        f"{base.PREFIX}/AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{day:%Y%m%d}T0000Z_{name}.json.gz"
    )


def member_key(account: str) -> str:
    return f"arn:aws:kms:eu-west-1:{account}:key/11112222-3333-4444-5555-{account}"


ACCOUNTS = [f"1000000000{n:02d}" for n in range(4)]
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]
FIRST = date(2026, 11, 2)


@pytest.fixture(scope="module")
def org_bucket() -> Iterator[Any]:
    """4 member accounts x 3 Regions x 4 days of an organization trail, one log file each, and
    Control Tower's Config folders beside them (account folders with no CloudTrail folder)."""
    with mock_aws():
        s3 = base.new_audit_bucket(base.BUCKET)
        for account in ACCOUNTS:
            role = base.assumed_role(f"arn:aws:iam::{account}:role/App", "s")
            for region in REGIONS:
                for n in range(4):
                    day = FIRST + timedelta(days=n)
                    record = base.kms_record(
                        "Decrypt", f"{day}T12:00:00Z", role, member_key(account)
                    )
                    base.put_log(s3, org_key(account, region, day, "a"), [record])
        for account in (CONFIG_ONLY, ACCOUNTS[0]):
            s3.put_object(
                Bucket=base.BUCKET,
                Key=f"{base.PREFIX}/AWSLogs/{account}/Config/eu-west-1/2026/11/2/"
                "ConfigSnapshot/snapshot.json.gz",
                Body=gzip.compress(b"{}"),
            )
        yield s3


def run(s3: Any, days: int = 2, **kwargs: Any) -> tuple[UsageSummary, list[dict[str, Any]]]:
    calls = base.listed_prefixes(s3)
    summary = UsageSummary()
    AuditReader(s3, workers=4, progress=False).run(
        LogLocation(base.BUCKET, base.PREFIX),
        DateRange(FIRST, FIRST + timedelta(days=days - 1)),
        RecordFilter(),
        summary.add,
        **kwargs,
    )
    s3.meta.events.unregister("provide-client-params.s3.ListObjectsV2")
    return summary, calls


def test_an_organization_trail_is_found_and_every_member_account_read(org_bucket: Any) -> None:
    summary, calls = run(org_bucket)
    assert {(key, row.count) for (key, _, _), row in summary.rows.items()} == {
        (member_key(account), 2 * len(REGIONS)) for account in ACCOUNTS
    }
    # Discovery: AWSLogs/, the organization's folder, then each account folder's Regions
    # (the Config-only folders hold no CloudTrail/ folder and add no day folder).
    root = f"{base.PREFIX}/AWSLogs/"
    discovery = [c["Prefix"] for c in calls if c.get("Delimiter") == "/"]
    assert sorted(discovery) == sorted(
        [root, f"{root}{ORG}/"]
        + [f"{root}{CONFIG_ONLY}/CloudTrail/", f"{root}{ACCOUNTS[0]}/CloudTrail/"]
        + [f"{root}{ORG}/{account}/CloudTrail/" for account in ACCOUNTS]
    )
    # One listing per account, Region and day folder: 2 days and the day after; and before
    # anything is read, the first page of each Region folder from the first day folder on
    # (archived log files).
    listings = [c for c in calls if "Delimiter" not in c]
    day_folders = [c["Prefix"] for c in listings if "StartAfter" not in c]
    assert len(day_folders) == len(set(day_folders)) == len(ACCOUNTS) * len(REGIONS) * 3
    probes = listings[: len(ACCOUNTS) * len(REGIONS)]
    assert sorted((c["Prefix"], c["StartAfter"]) for c in probes) == sorted(
        (folder.removesuffix("2026/11/02/"), folder)
        for folder in day_folders
        if folder.endswith("/2026/11/02/")
    )


def test_account_and_region_filters_list_only_their_folders(org_bucket: Any) -> None:
    summary, calls = run(org_bucket, accounts=[ACCOUNTS[2]], regions=["us-east-1"])
    assert {key for key, _, _ in summary.rows} == {member_key(ACCOUNTS[2])}
    root = f"{base.PREFIX}/AWSLogs/"
    region = f"{root}{ORG}/{ACCOUNTS[2]}/CloudTrail/us-east-1/"
    assert [c["Prefix"] for c in calls] == [
        root,
        f"{root}{ORG}/",
        f"{root}{ORG}/{ACCOUNTS[2]}/CloudTrail/",
        region,  # looked at for archived log files first, from the first day folder on
        *(f"{region}2026/11/{day:02d}/" for day in (2, 3, 4)),
    ]
    assert calls[3]["StartAfter"] == f"{region}2026/11/02/"


def test_an_account_folder_with_no_cloudtrail_folder_is_not_found(
    org_bucket: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Control Tower's log archive bucket has AWSLogs/<account>/Config/ folders too: an
    account with only those has no CloudTrail logs, and an empty report would say no one used
    its keys."""
    with pytest.raises(NotFoundError, match=f"no CloudTrail logs of account {CONFIG_ONLY} under"):
        run(org_bucket, accounts=[CONFIG_ONLY])
    argv = ["audit", f"s3://{base.BUCKET}/{base.PREFIX}", "--quiet", "--account", CONFIG_ONLY]
    assert main([*argv, "--since", "2026-11-02", "--until", "2026-11-03"]) == EXIT_NOT_FOUND
    assert f"no CloudTrail logs of account {CONFIG_ONLY}" in capsys.readouterr().err


def test_a_given_account_with_no_logs_is_named_in_a_warning(org_bucket: Any) -> None:
    """--account 100000000001 --account 999988887777 (a typo, or an account outside the
    trail): the report covers the first only, and says so."""
    warnings: list[str] = []
    summary = UsageSummary()
    AuditReader(org_bucket, workers=2, progress=False, warn=warnings.append).run(
        LogLocation(base.BUCKET, base.PREFIX),
        DateRange(FIRST, FIRST),
        RecordFilter(),
        summary.add,
        accounts=[ACCOUNTS[1], "999988887777", CONFIG_ONLY],
    )
    assert {key for key, _, _ in summary.rows} == {member_key(ACCOUNTS[1])}
    assert warnings == [
        "no CloudTrail logs of account 222233334444, 999988887777 under "
        f"s3://{base.BUCKET}/{base.PREFIX}/AWSLogs/: not in the report"
    ]


def test_cli_an_account_prefix_denied_fails_the_run_naming_it_and_writes_nothing(
    org_bucket: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A central bucket's policy that lets the auditor list some accounts' prefixes only: the
    run fails (exit 3) naming the prefix, before any log file is read, and leaves no report
    that would show less use than there was."""
    denied = f"{base.PREFIX}/AWSLogs/{ORG}/{ACCOUNTS[3]}/"
    got: list[str] = []

    def deny(params: dict[str, Any], **_: Any) -> None:
        if params["Prefix"].startswith(denied):
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise ClientError(error, "ListObjectsV2")  # type: ignore[arg-type]

    def count(params: dict[str, Any], **_: Any) -> None:
        got.append(params["Key"])

    real_client = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = real_client(self, service, **kwargs)
        if service == "s3":
            made.meta.events.register("provide-client-params.s3.ListObjectsV2", deny)
            made.meta.events.register("provide-client-params.s3.GetObject", count)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    out = tmp_path / "usage.json"
    argv = ["audit", f"s3://{base.BUCKET}/{base.PREFIX}", "--quiet", "--format", "json"]
    code = main([*argv, "--since", "2026-11-02", "--until", "2026-11-03", "-o", str(out)])
    assert code == EXIT_ACCESS_DENIED
    assert f"s3://{base.BUCKET}/{denied}CloudTrail/" in capsys.readouterr().err
    assert got == []
    assert not out.exists()


class KeyOrder:
    """A :class:`~kmskit.audit.ReadObserver` that checks nothing: with an observer the run
    reads in key order, one account and Region after the other, as ``--verify`` does."""

    def begin(self, prefixes: Any) -> None:
        pass

    def log_file(self, *args: Any) -> None:
        pass

    def end(self) -> None:
        pass


# --- memory -------------------------------------------------------------------------------------


class GeneratedS3:
    """An S3 stand-in that makes an organization trail's log files as they are read (so it
    holds nothing itself): ``per_day`` records a day in each of ``accounts`` x 1 Region, in
    files of ``per_file`` records, each record a call of its own (its own eventID)."""

    def __init__(self, accounts: list[str], days: int, per_day: int, per_file: int) -> None:
        self.accounts = accounts
        self.days = [FIRST + timedelta(days=n) for n in range(days)]
        self.files = per_day // per_file
        self.per_file = per_file

    def get_paginator(self, name: str) -> Any:
        return self

    def paginate(
        self,
        *,
        Prefix: str,  # noqa: N803
        Delimiter: str | None = None,  # noqa: N803
        StartAfter: str = "",  # noqa: N803
        PaginationConfig: dict[str, int] | None = None,  # noqa: N803
        **_: Any,
    ) -> Any:
        root = f"{base.PREFIX}/AWSLogs/"
        if Delimiter:
            rest = Prefix[len(root) :]
            names = (
                [ORG]
                if not rest
                else self.accounts
                if rest == f"{ORG}/"
                else ["eu-west-1"]
                if rest.endswith("/CloudTrail/")
                else []
            )
            yield {"CommonPrefixes": [{"Prefix": f"{Prefix}{n}/"} for n in names]}
            return
        # As S3 lists: the keys under Prefix (a day folder, or a Region's folder for the
        # archived-file probe) after StartAfter, in key order, a page at a time (made as the
        # pages are asked for: the probe asks for one).
        account = Prefix.split("/")[3]
        size = (PaginationConfig or {}).get("PageSize", 1000)
        page: list[dict[str, str]] = []
        pages = 0
        for day in self.days:
            folder = org_key(account, "eu-west-1", day, "").rsplit("/", 1)[0] + "/"
            if not folder.startswith(Prefix) or folder + "\U0010ffff" <= StartAfter:
                continue
            for n in range(self.files):
                key = org_key(account, "eu-west-1", day, f"{n:04d}")
                if key > StartAfter:
                    page.append({"Key": key})
                if len(page) == size:
                    yield {"Contents": page}
                    page, pages = [], pages + 1
        if page or not pages:  # S3 answers an empty listing with one page
            yield {"Contents": page}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        account = Key.split("/")[3]
        day = Key.split("_")[-2][:8]
        records = [
            {
                "eventTime": f"{day[:4]}-{day[4:6]}-{day[6:]}T10:00:00Z",
                "eventSource": "kms.amazonaws.com",
                "eventName": "Decrypt",
                "eventID": f"{account}-{day}-{Key[-12:-8]}-{n:08d}",
                "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/a"},
                "resources": [{"ARN": member_key(account)}],
            }
            for n in range(self.per_file)
        ]
        body = gzip.compress(json.dumps({"Records": records}).encode(), compresslevel=1)
        return {"Body": io.BytesIO(body)}


def summary_peak(days: int, *, key_order: bool = False, accounts: int = 2) -> tuple[int, int]:
    """Peak traced memory of a summary of ``days`` days (600 calls a day in each of
    ``accounts``, default 2), and the calls; read day by day, or with ``key_order`` (default
    False) as ``--verify`` reads."""
    members = [f"2000000000{n:02d}" for n in range(accounts)]
    s3 = GeneratedS3(members, days, per_day=600, per_file=200)
    summary = UsageSummary()
    tracemalloc.start()
    try:
        AuditReader(s3, workers=1, progress=False).run(
            LogLocation(base.BUCKET, base.PREFIX),
            DateRange(FIRST, FIRST + timedelta(days=days - 1)),
            RecordFilter(),
            summary.add,
            observer=KeyOrder() if key_order else None,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, sum(row.count for row in summary.rows.values())


@pytest.mark.parametrize("key_order", [False, True], ids=["day-by-day", "key-order"])
def test_summary_memory_does_not_grow_with_the_days_read(key_order: bool) -> None:
    """The IDs of kept calls (for the once-per-call rule) were held for the whole run: about
    150 bytes a call, gigabytes for a month of an organization; in key order (``--verify``)
    they still were. A call's copies are nearly all in its day's folder or the next, so the
    IDs of older days go to disk, in either order.

    The peak of one run moves by about 0.3 MiB on a 2 MiB base (where the garbage collector
    happens to run), so 15 days against 3 at 1.3x failed by chance under load (in key order
    the 15 days' peak is 1.1-1.2 times the 3 days'). Holding every ID adds about 0.16 MiB a
    day: 30 days against 3 is then 2.8-3.1 times, where without it the 30 days' peak stays
    within 1.0-1.3 times (plus the noise): 2x tells the two apart in either direction."""
    short_peak, short_calls = summary_peak(3, key_order=key_order)
    long_peak, long_calls = summary_peak(30, key_order=key_order)
    assert (short_calls, long_calls) == (3 * 1200, 30 * 1200)
    assert long_peak < short_peak * 2, (short_peak, long_peak)


def test_key_order_memory_does_not_grow_with_the_accounts_read() -> None:
    """In key order (``--verify``) the run goes back to the first day for each account folder
    and Region: the IDs of the last two days of every account read before stayed in memory,
    growing with the accounts. They go to disk when the run moves on to the next one.

    The peak of one run moves by about 0.3 MiB on a 2 MiB base (where the garbage collector
    happens to run): 18 more accounts keeping two days of IDs each would add about 3 MiB, so
    twenty accounts against two, at 1.5x, tell the two apart (ten at 1.3x failed by chance
    under load)."""
    few_peak, few_calls = summary_peak(4, key_order=True, accounts=2)
    many_peak, many_calls = summary_peak(4, key_order=True, accounts=20)
    assert (few_calls, many_calls) == (2 * 4 * 600, 20 * 4 * 600)
    assert many_peak < few_peak * 1.5, (few_peak, many_peak)


# --- each call once, day by day -----------------------------------------------------------------


def later_days(s3: Any, bucket: str, first: date, days: int) -> None:
    """An Encrypt by Alice on each of ``days`` days from ``first``, so the run moves on."""
    for n in range(days):
        day = first + timedelta(days=n)
        later = base.kms_record(
            "Encrypt", f"{day}T10:00:00Z", base.iam_user(base.ALICE), base.DATA_KEY
        )
        base.put_log(s3, org_key(base.OWNER, "eu-west-1", day, "later"), [later], bucket=bucket)


def partner_decrypt(when: str) -> dict[str, Any]:
    """A Decrypt of the owner's DATA_KEY by the partner account's PartnerReader role."""
    return base.kms_record(
        "Decrypt", when, base.assumed_role(base.PARTNER_ROLE, "etl"), base.DATA_KEY
    )


def test_copies_of_a_call_across_midnight_count_once_when_read_day_by_day() -> None:
    """A call at 23:59 in the folder of its day in one account trail's folders and in the next
    day's folder in the organization trail's (or in the other account's, for a cross-account
    call): read day by day, the identities of the calls of a day are kept while the next day's
    folders are read, and let go after."""
    bucket = "audit-logs-midnight"
    owner, partner = base.OWNER, base.PARTNER
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        alice = base.iam_user(base.ALICE)
        both_trails = base.kms_record("Decrypt", "2026-11-02T23:59:00Z", alice, base.DATA_KEY)
        partner_call = partner_decrypt("2026-11-02T23:58:00Z")
        copy = base.caller_copy(partner_call)
        d2, d3 = date(2026, 11, 2), date(2026, 11, 3)
        account_trail = f"{base.PREFIX}/AWSLogs/{owner}/CloudTrail/eu-west-1/2026/11/02/"
        base.put_log(s3, f"{account_trail}{owner}_a.json.gz", [both_trails], bucket=bucket)
        base.put_log(s3, org_key(owner, "eu-west-1", d3, "late"), [both_trails], bucket=bucket)
        base.put_log(s3, org_key(owner, "eu-west-1", d3, "owner"), [partner_call], bucket=bucket)
        base.put_log(s3, org_key(partner, "eu-west-1", d2, "caller"), [copy], bucket=bucket)
        later_days(s3, bucket, d2 + timedelta(days=2), 4)
        summary = UsageSummary()
        stats = AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, base.PREFIX),
            DateRange(d2, date(2026, 11, 7)),
            RecordFilter(),
            summary.add,
        )
    assert {(p, e): row.count for (_, p, e), row in summary.rows.items()} == {
        (base.ALICE, "Decrypt"): 1,
        (base.PARTNER_ROLE, "Decrypt"): 1,
        (base.ALICE, "Encrypt"): 4,
    }
    assert stats.duplicates == 2
    # Day by day: every folder of a day before any of the next day's.
    assert [p.split("CloudTrail/eu-west-1/")[1] for p in stats.prefixes][:3] == ["2026/11/02/"] * 3


def late_copies_run(
    s3: Any, bucket: str, observer: KeyOrder | None, **filters: Any
) -> tuple[UsageSummary, Any]:
    """A week of ``bucket`` read day by day (``observer`` None) or in key order."""
    summary = UsageSummary()
    stats = AuditReader(s3, workers=2, progress=False).run(
        LogLocation(bucket, base.PREFIX),
        DateRange(date(2026, 11, 2), date(2026, 11, 8)),
        RecordFilter(**filters),
        summary.add,
        observer=observer,
    )
    return summary, stats


@pytest.mark.parametrize("observer", [None, KeyOrder()], ids=["day-by-day", "key-order"])
@pytest.mark.parametrize("late", [2, 5])
def test_a_copy_delivered_days_after_its_call_counts_once(
    observer: KeyOrder | None, late: int
) -> None:
    """CloudTrail delivers a record again days later (redelivery, or a log file delivered late
    into a later day's folder): the account trail's copy is in the folder of the call's day,
    the organization trail's ``late`` days later. The identities of the calls of older days
    were let go after the next day's folders: the late copy counted again."""
    bucket = f"audit-logs-late-{late}-{'by-day' if observer is None else 'key-order'}"
    d2 = date(2026, 11, 2)
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        call = base.kms_record(
            "Decrypt", "2026-11-02T10:00:00Z", base.iam_user(base.ALICE), base.DATA_KEY
        )
        account_trail = f"{base.PREFIX}/AWSLogs/{base.OWNER}/CloudTrail/eu-west-1/2026/11/02/"
        base.put_log(s3, f"{account_trail}{base.OWNER}_a.json.gz", [call], bucket=bucket)
        base.put_log(
            s3,
            org_key(base.OWNER, "eu-west-1", d2 + timedelta(days=late), "re"),
            [call],
            bucket=bucket,
        )
        later_days(s3, bucket, d2 + timedelta(days=1), 6)
        summary, stats = late_copies_run(s3, bucket, observer)
    assert {(p, e): row.count for (_, p, e), row in summary.rows.items()} == {
        (base.ALICE, "Decrypt"): 1,
        (base.ALICE, "Encrypt"): 6,
    }
    assert (stats.matched, stats.duplicates) == (7, 1)


@pytest.mark.parametrize("observer", [None, KeyOrder()], ids=["day-by-day", "key-order"])
@pytest.mark.parametrize("named_first", [True, False], ids=["named-first", "owner-first"])
def test_a_cross_account_copy_delivered_days_later_counts_once_as_the_caller(
    observer: KeyOrder | None, named_first: bool
) -> None:
    """The two copies of a cross-account call (one ``sharedEventID``), three days apart: the
    key owner's, naming only the caller's account, and the caller's, naming its role. Either
    way round the call counts once, as the role: the owner's copy delivered late was counted
    again (as ``AWSAccount:<id>``) once the named copy's identity was let go."""
    bucket = f"audit-logs-late-{named_first}-{observer is None}".lower()
    d2 = date(2026, 11, 2)
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        owners = partner_decrypt("2026-11-02T10:00:00Z")
        callers = base.caller_copy(owners)
        owners["userIdentity"] = base.aws_account(base.PARTNER, "AROAEXAMPLE:etl")
        first, second = (callers, owners) if named_first else (owners, callers)
        accounts = (base.PARTNER, base.OWNER) if named_first else (base.OWNER, base.PARTNER)
        for copy, account, day in zip(
            (first, second), accounts, (d2, d2 + timedelta(days=3)), strict=True
        ):
            base.put_log(s3, org_key(account, "eu-west-1", day, "copy"), [copy], bucket=bucket)
        later_days(s3, bucket, d2 + timedelta(days=1), 6)
        summary, stats = late_copies_run(s3, bucket, observer, event_names=frozenset({"Decrypt"}))
    assert {p: row.count for (_, p, _), row in summary.rows.items()} == {base.PARTNER_ROLE: 1}
    assert (stats.matched, stats.duplicates) == (1, 1)


def test_cli_jsonl_records_come_day_by_day(org_bucket: Any, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    argv = ["audit", f"s3://{base.BUCKET}/{base.PREFIX}", "--quiet", "--format", "jsonl"]
    assert main([*argv, "--since", "2026-11-02", "--until", "2026-11-04", "-o", str(out)]) == 0
    times = [json.loads(line)["eventTime"] for line in out.read_text().splitlines()]
    assert len(times) == len(ACCOUNTS) * len(REGIONS) * 3
    assert times == sorted(times)  # one call a day in each folder


def test_held_copies_outlive_their_day_until_the_end_of_the_run() -> None:
    """The key owner's copy of a cross-account call that names only the caller's account is
    held back: replaced by the caller's copy in the next day's folder, or, when none comes,
    reported as the account at the end, however many days later."""
    bucket = "audit-logs-held"
    owner, partner = base.OWNER, base.PARTNER
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        d2 = date(2026, 11, 2)
        owner_copies = []
        for minute, named_too in ((58, True), (59, False)):
            named = partner_decrypt(f"2026-11-02T23:{minute}:00Z")
            caller = base.caller_copy(named)  # named is now the owner's copy: anonymize it
            named["userIdentity"] = base.aws_account(partner, "AROAEXAMPLE:etl")
            owner_copies.append(named)
            if named_too:
                key = org_key(partner, "eu-west-1", d2 + timedelta(days=1), "caller")
                base.put_log(s3, key, [caller], bucket=bucket)
        base.put_log(s3, org_key(owner, "eu-west-1", d2, "owner"), owner_copies, bucket=bucket)
        later_days(s3, bucket, d2 + timedelta(days=2), 4)
        summary = UsageSummary()
        stats = AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, base.PREFIX),
            DateRange(d2, date(2026, 11, 7)),
            RecordFilter(event_names=frozenset({"Decrypt"})),
            summary.add,
        )
    assert {p: row.count for (_, p, _), row in summary.rows.items()} == {
        base.PARTNER_ROLE: 1,
        f"AWSAccount:{partner}": 1,
    }
    assert stats.duplicates == 1


# --- where the logs are -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "advice"),
    [
        (
            "",
            f"; AWS Control Tower keeps an organization's logs under its ID: give s3://{{b}}/{ORG}",
        ),
        (
            f"{ORG}/AWSLogs/{ORG}",
            f"; s3://{{b}}/{ORG}/AWSLogs/{ORG} is inside the logs: give the trail's bucket and S3 "
            f"key prefix, s3://{{b}}/{ORG}, and choose accounts with --account",
        ),
        ("other", ""),
    ],
)
def test_a_location_with_no_awslogs_folder_says_where_the_logs_are(
    given: str, advice: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """AWS Control Tower's log archive bucket (aws-controltower-logs-<account>-<region>) keeps
    the organization trail's files under o-ID/AWSLogs/o-ID/<account>/CloudTrail/."""
    bucket = f"aws-controltower-logs-99999999999{len(given) % 10}-eu-west-1"
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        role = base.assumed_role(f"arn:aws:iam::{ACCOUNTS[0]}:role/App", "s")
        record = base.kms_record("Decrypt", "2026-11-02T12:00:00Z", role, member_key(ACCOUNTS[0]))
        key = f"{ORG}/AWSLogs/{ORG}/{ACCOUNTS[0]}/CloudTrail/eu-west-1/2026/11/02/x.json.gz"
        base.put_log(s3, key, [record], bucket=bucket)
        argv = ["audit", f"s3://{bucket}/{given}".rstrip("/"), "--quiet"]
        assert main([*argv, "--since", "2026-11-02", "--until", "2026-11-02"]) == EXIT_NOT_FOUND
        err = capsys.readouterr().err
        assert err.rstrip("\n").endswith(f"--account){advice}".format(b=bucket)), err
        assert main([*argv[:1], f"s3://{bucket}/{ORG}", *argv[2:], "--days", "1",
                     "--until", "2026-11-02"]) == 0  # fmt: skip


# --- connections --------------------------------------------------------------------------------


class InFlight(GeneratedS3):
    """:class:`GeneratedS3` answering each request after 10 ms, counting how many are in flight
    at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.now = self.most = 0

    def _request(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.01)
        with self.lock:
            self.now -= 1

    def paginate(self, **params: Any) -> Any:
        self._request()
        yield from super().paginate(**params)

    def get_object(self, **params: Any) -> dict[str, Any]:
        self._request()
        return super().get_object(**params)


def test_listing_and_reading_run_at_once_on_connections_for_both() -> None:
    """Day folders are listed on ``workers`` threads while log files are read on as many
    others: up to twice ``workers`` requests at once. The S3 client had ``workers``
    connections (urllib3 opens one more per request beyond them and throws it away, warning
    'Connection pool is full' on stderr)."""
    s3 = InFlight(ACCOUNTS, days=6, per_day=2, per_file=1)
    AuditReader(s3, workers=2, progress=False).run(
        LogLocation(base.BUCKET, base.PREFIX),
        DateRange(FIRST, FIRST + timedelta(days=5)),
        RecordFilter(),
        UsageSummary().add,
    )
    assert 2 < s3.most <= 2 * 2


@pytest.mark.parametrize(("verify", "connections"), [(False, 24), (True, 36)])
def test_cli_s3_client_has_a_connection_per_request_in_flight(
    org_bucket: Any, monkeypatch: pytest.MonkeyPatch, verify: bool, connections: int
) -> None:
    made: list[dict[str, Any]] = []
    real_client = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        if service == "s3":
            made.append(kwargs)
        return real_client(self, service, **kwargs)

    monkeypatch.setattr(ClientSettings, "client", client)
    argv = ["audit", f"s3://{base.BUCKET}/{base.PREFIX}", "--quiet", "--workers", "12"]
    main([*argv, "--days", "1", "--until", "2026-11-02", *(["--verify"] if verify else [])])
    assert made == [{"max_pool_connections": connections}]
    assert s3_pool_size(12, digests=verify) == connections


# --- --account and --caller-account -------------------------------------------------------------


def test_account_reads_where_a_call_was_logged_caller_account_filters_who_made_it(
    tmp_path: Path,
) -> None:
    """A role of member B calls member A's key: KMS logs the call in A's folder and in B's
    (one sharedEventID). --account A finds it with A's key (the owner's copy), --account B
    finds it too (the caller's copy), and --caller-account B keeps it among all of A's
    calls; read together, the call counts once."""
    bucket = "audit-logs-org-cross-account"
    owner, caller = ACCOUNTS[0], ACCOUNTS[1]
    caller_role = f"arn:aws:iam::{caller}:role/Reader"
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        day = FIRST
        owners_copy = base.kms_record(
            "Decrypt", f"{day}T09:00:00Z", base.assumed_role(caller_role, "r"), member_key(owner)
        )
        callers_copy = base.caller_copy(owners_copy)
        own_use = base.kms_record(
            "Decrypt",
            f"{day}T09:01:00Z",
            base.assumed_role(f"arn:aws:iam::{owner}:role/App", "a"),
            member_key(owner),
        )
        base.put_log(s3, org_key(owner, "eu-west-1", day, "o"), [owners_copy, own_use], bucket)
        base.put_log(s3, org_key(caller, "eu-west-1", day, "c"), [callers_copy], bucket)

        def audit(*options: str) -> dict[str, int]:
            out = tmp_path / f"{len(list(tmp_path.iterdir()))}.json"
            argv = ["audit", f"s3://{bucket}/{base.PREFIX}", "--quiet", "--format", "json"]
            argv += ["--days", "1", "--until", str(day), "-o", str(out), *options]
            assert main(argv) == 0
            rows = json.loads(out.read_text())["rows"]
            return {row["principal"]: row["count"] for row in rows}

        owner_app = f"arn:aws:iam::{owner}:role/App"
        assert audit("--account", owner) == {caller_role: 1, owner_app: 1}
        assert audit("--account", caller) == {caller_role: 1}
        assert audit("--account", owner, "--caller-account", caller) == {caller_role: 1}
        assert audit("--caller-account", caller) == {caller_role: 1}
        assert audit() == {caller_role: 1, owner_app: 1}


@pytest.mark.parametrize("observer", [None, KeyOrder()], ids=["day-by-day", "key-order"])
def test_copies_of_one_id_with_different_days_do_not_stop_the_run(
    observer: KeyOrder | None,
) -> None:
    """Two records of one ``eventID`` whose ``eventTime`` falls on different days (not how
    CloudTrail writes a record again, but what a bucket may hold): the identity of the first
    went to disk with its day, the second was kept in memory under the other day, and moving
    it to disk as well failed the run with sqlite3.IntegrityError (UNIQUE constraint)."""
    bucket = f"audit-logs-id-twice-{'by-day' if observer is None else 'key-order'}"
    d2 = date(2026, 11, 2)
    with mock_aws():
        s3 = base.new_audit_bucket(bucket)
        alice = base.iam_user(base.ALICE)
        first = base.kms_record("Decrypt", "2026-11-02T10:00:00Z", alice, base.DATA_KEY)
        second = {**first, "eventTime": "2026-11-04T10:00:00Z"}
        for record, day in ((first, d2), (second, d2 + timedelta(days=2))):
            base.put_log(s3, org_key(base.OWNER, "eu-west-1", day, "id"), [record], bucket=bucket)
        later_days(s3, bucket, d2 + timedelta(days=1), 6)
        summary, stats = late_copies_run(s3, bucket, observer)
    assert {(p, e): row.count for (_, p, e), row in summary.rows.items()} == {
        (base.ALICE, "Decrypt"): 2,
        (base.ALICE, "Encrypt"): 6,
    }
    assert (stats.matched, stats.duplicates) == (8, 0)
