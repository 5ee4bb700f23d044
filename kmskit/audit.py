"""Key usage from CloudTrail log files in S3: who used which KMS key, how often, and when.

CloudTrail writes gzip-compressed JSON objects under::

    [prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/<name>.json.gz

each holding ``{"Records": [...]}``. :class:`AuditReader` turns a date range into exactly those
per-account, per-Region, per-day prefixes (discovering accounts and Regions from the bucket when
they are not given), lists them with ``ListObjectsV2`` pagination and reads the objects with a
bounded thread pool: day by day (each day's folders in key order), or in key order, one account
and Region after the other, for a :class:`ReadObserver` (``--verify``).

A record counts as use of a key when its ``eventSource`` is ``kms.amazonaws.com`` and the key's
ARN is in ``resources[].ARN``. ``requestParameters.keyId`` is never used: it holds whatever the
caller sent (key ID, key ARN, alias name or alias ARN), and symmetric ``Decrypt`` calls often send
none at all.

CloudTrail delivers a log file within about 15 minutes of the calls in it, into the folder of its
delivery date, so calls from the last minutes of a day sit in the next day's folder. A range
``since..until`` therefore reads the folders ``since`` to ``until + 1 day`` and keeps the records
whose ``eventTime`` falls inside the range.

A log file is decompressed as it is downloaded, never past :data:`MAX_LOG_FILE_BYTES`: one that
decompresses to more is not a CloudTrail log file (a gzip bomb decompresses to gigabytes) and
fails the run (:class:`~kmskit.errors.IntegrityError`). It is hashed (``--verify``) and decoded
as it is decompressed, one record at a time, and only the records the audit keeps are kept, so
reading it takes the memory of a chunk and a record, not of the file. A log file that is listed
but gone when it is read (expired by a lifecycle rule during a long audit) is skipped, reported
to ``warn`` and counted in :attr:`AuditStats.skipped`.

The same call can be in the bucket more than once: KMS logs a cross-account call in the caller's
account and in the key owner's account (two records, one ``sharedEventID``, two ``eventID`` values),
and an organization trail and an account trail delivering to the same bucket write the same
record twice (same ``eventID``), and CloudTrail may deliver a record again, days later.
:meth:`AuditReader.run` keeps the first record of each ``sharedEventID`` (else ``eventID``)
and counts the others in :attr:`AuditStats.duplicates`, however late they come (it holds the
identities of two days of calls in memory, and those of older calls on disk),
except that a copy naming the caller by ARN is preferred to the key owner's copy that may name
only the caller's account (``userIdentity`` type ``AWSAccount``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import json
import logging
import re
import sqlite3
import sys
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, NamedTuple, Protocol, TextIO, TypeVar

from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from tqdm import tqdm

from kmskit._json_stream import JsonText, RecordsStream
from kmskit._text import utc_text
from kmskit.aws_names import ACCOUNT_ID, ORGANIZATION_ID, REGION, check_accounts, check_regions
from kmskit.errors import (
    ConflictError,
    IntegrityError,
    KmskitError,
    NotFoundError,
    UsageError,
    from_client_error,
)
from kmskit.progress import progress_bar

KMS_EVENT_SOURCE = "kms.amazonaws.com"
# \Z, not $: "$" also matches before a final newline, so "<key ARN>\n" passed for a key ARN
# and then matched no record. [0-9], not \d: \d also matches other scripts' digits.
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):key/([A-Za-z0-9-]+)\Z")
ALIAS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):alias/.+\Z")
KEY_ID = re.compile(
    r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\Z"
)
# What botocore accepts as a bucket name (legacy us-east-1 names may have capitals and _).
BUCKET_NAME = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}\Z")
MIN_WORKERS, MAX_WORKERS = 1, 64
DEFAULT_WORKERS = 8
LIST_PAGE_SIZE = 1000  # the ListObjectsV2 maximum
# Calls from the last minutes of a day are delivered into the next day's folder.
DELIVERY_SLACK = timedelta(days=1)
# botocore retries a request that failed, not a body that broke off while it was read
# (boto/boto3#4111): such a log file is fetched again, as often as the client tries a call.
BODY_ERRORS = (IncompleteReadError, ReadTimeoutError, ResponseStreamingError)
DEFAULT_READ_ATTEMPTS = 3  # botocore's standard retry mode
# Held-back records (see AuditReader.run) move from memory to a temporary file beyond this.
HOLD_IN_MEMORY = 8 * 1024 * 1024
# The identities of kept calls of older days go to a temporary SQLite database (see
# AuditReader.run); SQLite keeps at most this many KiB of its pages in memory.
SPILL_CACHE_KIB = 2048
MIB = 1024 * 1024
# A CloudTrail log file holds a few minutes of one account's calls in one Region, far less than
# this uncompressed; one that decompresses to more is not CloudTrail's (a gzip bomb turns a few
# MB into gigabytes). A worker holds a chunk of a file at a time, never all of it (docs/audit.md).
MAX_LOG_FILE_BYTES = 256 * MIB
READ_CHUNK = MIB  # decompressed bytes taken from a log file at a time
# --days: more than ten years back is a typo (7000 for 700); --since reads any range.
MAX_DAYS = 3660
# The S3 storage classes whose objects GetObject refuses (InvalidObjectState) until they are
# restored: S3 Glacier Flexible Retrieval and S3 Glacier Deep Archive. S3 Glacier Instant
# Retrieval (GLACIER_IR) reads as any other; an S3 Intelligent-Tiering object in an archive
# access tier lists as INTELLIGENT_TIERING, and only its GetObject tells.
ARCHIVED_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

CSV_FIELDS = (
    "eventTime",
    "eventName",
    "keyArn",
    "principal",
    "userIdentityType",
    "userIdentityArn",
    "callerAccount",
    "recipientAccountId",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "requestKeyId",
    "encryptionContext",
    "errorCode",
    "eventID",
    # Added at the end, so a consumer reading the columns above by position is not broken.
    "sourceKeyId",
    "destinationKeyId",
    "sourceEncryptionContext",
    "destinationEncryptionContext",
    "granteePrincipal",
    "retiringPrincipal",
    "operations",
    "grantId",
    "constraints",
    "invokedBy",
    "sourceIdentity",
)
"""The columns of ``kmskit audit --format csv``, each a field of the record (docs/audit.md):
``requestKeyId`` and ``encryptionContext`` are ``requestParameters.keyId`` and
``.encryptionContext`` as logged (so empty for a ReEncrypt, whose keys and contexts are in the
source and destination columns); ``grantId`` is ``responseElements.grantId`` (CreateGrant),
else ``requestParameters.grantId`` (RevokeGrant), else ``additionalEventData.grantId``
(RetireGrant)."""


@dataclass(frozen=True)
class LogLocation:
    """Where a trail delivers: a bucket and the trail's ``s3_key_prefix`` (may be empty)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, value: str, argument: str = "location") -> LogLocation:
        """``s3://bucket[/prefix]`` or ``bucket[/prefix]``; ``argument`` names the option in
        the error for anything else."""
        text = value.removeprefix("s3://").strip("/")
        bucket, _, prefix = text.partition("/")
        if not BUCKET_NAME.match(bucket):
            raise UsageError(f"'{argument}' must be s3://BUCKET[/PREFIX]. Received: {value!r}")
        return cls(bucket=bucket, prefix=prefix.strip("/"))

    @property
    def logs_root(self) -> str:
        return f"{self.prefix}/AWSLogs/" if self.prefix else "AWSLogs/"

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    @property
    def trail_uri(self) -> str:
        """``s3://BUCKET[/PREFIX]``, as :meth:`parse` takes it."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


DIGEST_FOLDER = "CloudTrail-Digest"  # beside CloudTrail/ in an account's folder


@dataclass(frozen=True)
class AccountPath:
    """An account's folder: ``AWSLogs/<account>/`` or, for an organization trail,
    ``AWSLogs/<organization id>/<account>/``."""

    account: str
    organization_id: str | None = None

    def cloudtrail_prefix(self, location: LogLocation) -> str:
        return f"{self._root(location)}CloudTrail/"

    def digest_prefix(self, location: LogLocation) -> str:
        """Where the account's digest files are (``.../<account>/CloudTrail-Digest/``)."""
        return f"{self._root(location)}{DIGEST_FOLDER}/"

    def _root(self, location: LogLocation) -> str:
        org = f"{self.organization_id}/" if self.organization_id else ""
        return f"{location.logs_root}{org}{self.account}/"


@dataclass(frozen=True)
class DateRange:
    """Days ``since`` to ``until``, both included, in UTC."""

    since: date
    until: date

    def __post_init__(self) -> None:
        if self.until >= date.max:  # the day after --until is read too
            raise UsageError(f"'--until' must be before {date.max}. Received: {self.until}")
        if self.since > self.until:
            raise UsageError(
                f"'--since' must not be after '--until'. Received: {self.since} > {self.until}"
            )

    @classmethod
    def last_days(cls, days: int, *, until: date | None = None) -> DateRange:
        """The ``days`` days up to and including ``until`` (default: today, UTC); ``days`` is
        1 to :data:`MAX_DAYS` (:func:`check_days`)."""
        check_days(days)
        end = until or datetime.now(UTC).date()
        try:
            since = end - timedelta(days=days - 1)
        except OverflowError:
            raise UsageError(f"'--days' reaches back before {date.min}. Received: {days}") from None
        return cls(since=since, until=end)

    def folder_days(self) -> list[date]:
        """The delivery folders to read: ``since`` .. ``until`` + 1 day."""
        last = self.until + DELIVERY_SLACK
        return [self.since + timedelta(days=n) for n in range((last - self.since).days + 1)]

    def bounds(self) -> tuple[datetime, datetime]:
        """``since`` 00:00 UTC, included, to the midnight after ``until``, excluded."""
        return (
            datetime.combine(self.since, time.min, tzinfo=UTC),
            datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=UTC),
        )

    def contains(self, moment: datetime) -> bool:
        start, end = self.bounds()
        return start <= moment < end


def check_days(days: Any) -> int:
    """``days`` if it is a number of days 1 to :data:`MAX_DAYS`; otherwise a
    :class:`~kmskit.errors.UsageError` naming ``--days`` and the value."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise UsageError(
            f"'--days' must be 1-{MAX_DAYS} (ten years; give --since for a longer range). "
            f"Received: {days!r}"
        )
    return days


def day_count(value: str) -> int:
    """The ``type`` of ``--days``: a whole number 1 to :data:`MAX_DAYS`, refused with a
    :class:`~kmskit.errors.UsageError` naming ``--days`` while the arguments are parsed."""
    try:
        days = int(value)
    except ValueError:
        return check_days(value)  # raises, showing the text received
    return check_days(days)


def day_prefixes(
    location: LogLocation,
    accounts: Iterable[AccountPath],
    regions_by_account: Mapping[AccountPath, Sequence[str]],
    date_range: DateRange,
    *,
    by_day: bool = False,
) -> list[str]:
    """One prefix per account, Region and delivery day, in key order; with ``by_day``
    (default False) day by day, each day's folders in key order."""
    prefixes = [
        f"{account.cloudtrail_prefix(location)}{region}/{day:%Y/%m/%d}/"
        for account in accounts
        for region in regions_by_account[account]
        for day in date_range.folder_days()
    ]
    return sorted(prefixes, key=lambda p: (folder_day(p), p)) if by_day else sorted(prefixes)


def folder_account_region(key: str) -> tuple[str, str]:
    """The account and Region of a day folder (``.../<account>/CloudTrail/<region>/YYYY/MM/DD/``)
    or of a log file in it, as the path gives them (an organization trail's member account
    folder, ``.../<organization id>/<account>/...``, is its account's)."""
    parts = key.split("/")
    return parts[-7], parts[-5]


def day_folder_parent(folder: str) -> str:
    """The folder of a day folder's Region (``.../<region>/`` of ``.../<region>/YYYY/MM/DD/``)."""
    return "/".join(folder.rstrip("/").split("/")[:-3]) + "/"


def folder_spans(folders: Iterable[str]) -> list[tuple[str, str]]:
    """The first and last of ``folders`` (day folders, ``.../<region>/YYYY/MM/DD/``) of each
    Region folder (an account's, or its digest folder's), in the order first met."""
    spans: dict[str, tuple[str, str]] = {}
    for folder in folders:
        parent = day_folder_parent(folder)
        first, last = spans.get(parent, (folder, folder))
        spans[parent] = (min(first, folder), max(last, folder))
    return list(spans.values())


def folder_day(key: str) -> date:
    """The delivery day of a day folder (``.../YYYY/MM/DD/``) or of a log file in it: the one
    reader of a folder's date (the audit's day-by-day order, ``--verify``'s groups)."""
    year, month, day = key.split("/")[-4:-1]
    return date(int(year), int(month), int(day))


# The fields of a KMS record that the audit reads: each absent, null or of this type. A log file
# with a record of another shape is not a CloudTrail log file (IntegrityError naming it).
_RECORD_FIELDS: tuple[tuple[str, type], ...] = (
    ("eventSource", str),
    ("eventName", str),
    ("eventTime", str),
    ("eventID", str),
    ("sharedEventID", str),
    ("errorCode", str),
    ("resources", list),
    ("userIdentity", dict),
    ("requestParameters", dict),
)
_IDENTITY_FIELDS: tuple[tuple[str, type], ...] = (
    ("type", str),
    ("arn", str),
    ("accountId", str),
    ("invokedBy", str),
    ("sessionContext", dict),
)
_ISSUER_FIELDS: tuple[tuple[str, type], ...] = (("type", str), ("arn", str))


_KINDS: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}


def _wrong_field(
    container: dict[str, Any], fields: Iterable[tuple[str, type]], path: str
) -> str | None:
    for name, kind in fields:
        value = container.get(name)
        if value is not None and not isinstance(value, kind):
            shown = repr(value)
            shown = shown if len(shown) <= 80 else f"{shown[:77]}..."
            return f"'{path}{name}' must be {_KINDS[kind]}. Received: {shown}"
    return None


def record_shape_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a KMS record (``eventSource`` ``kms.amazonaws.com``), as
    ``'field' must be ...``; None when each field the audit reads is absent, null or of its
    CloudTrail type. Records of other services are not read, so not checked."""
    if record.get("eventSource") != KMS_EVENT_SOURCE:
        return None
    problem = _wrong_field(record, _RECORD_FIELDS, "")
    identity = record.get("userIdentity")
    if problem is None and identity:
        problem = _wrong_field(identity, _IDENTITY_FIELDS, "userIdentity.")
        context = identity.get("sessionContext")
        if problem is None and context:
            path = "userIdentity.sessionContext."
            problem = _wrong_field(context, [("sessionIssuer", dict)], path)
            issuer = context.get("sessionIssuer")
            if problem is None and issuer:
                problem = _wrong_field(issuer, _ISSUER_FIELDS, f"{path}sessionIssuer.")
    return problem


def parse_event_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)  # CloudTrail: 2026-11-05T10:00:00Z
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def record_keys(record: dict[str, Any]) -> list[str]:
    """The KMS key ARNs a record acted on, from ``resources[].ARN`` only."""
    if record.get("eventSource") != KMS_EVENT_SOURCE:
        return []
    keys: list[str] = []
    for resource in record.get("resources") or []:
        arn = resource.get("ARN") if isinstance(resource, dict) else None
        if isinstance(arn, str) and KEY_ARN.match(arn) and arn not in keys:
            keys.append(arn)
    return keys


def _object(container: dict[str, Any], name: str) -> dict[str, Any]:
    """``container[name]`` if it is a JSON object, else an empty one."""
    value = container.get(name)
    return value if isinstance(value, dict) else {}


def _identity(record: dict[str, Any]) -> dict[str, Any]:
    return _object(record, "userIdentity")


def _session_role(identity: dict[str, Any]) -> str | None:
    """The role of an assumed-role session (``sessionContext.sessionIssuer`` of type ``Role``).

    A federated user's ``sessionIssuer`` is the IAM user or root that called
    ``GetFederationToken`` (CloudTrail userIdentity element): not the caller, so not used."""
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
    if not isinstance(issuer, dict) or issuer.get("type", "Role") != "Role":
        return None
    arn = issuer.get("arn")
    return arn if isinstance(arn, str) and arn else None


def names_principal(record: dict[str, Any]) -> bool:
    """Whether the record names the caller by ARN. The key owner's copy of a cross-account
    call may not: its ``userIdentity`` can be of type ``AWSAccount``, with only the caller's
    ``accountId`` and ``principalId``."""
    identity = _identity(record)
    arn = identity.get("arn")
    return bool(_session_role(identity) or (isinstance(arn, str) and arn))


def _may_be_named_elsewhere(record: dict[str, Any]) -> bool:
    """A copy of a call logged in two accounts (``sharedEventID``) that names neither the
    caller nor the AWS service that called: the other account's copy may name the caller."""
    identity = _identity(record)
    return (
        bool(record.get("sharedEventID"))
        and identity.get("type") != "AWSService"
        and not names_principal(record)
    )


def principal_of(record: dict[str, Any]) -> str:
    """Who made the call, grouped the way people ask about it.

    Assumed-role sessions count as their role (``sessionContext.sessionIssuer.arn``), so a
    Lambda function's many sessions are one principal; IAM users, federated users and roots by
    their ARN; AWS services by their name (``userIdentity.invokedBy``); otherwise the identity
    type and account (``AWSAccount:<id>``). A caller of type ``AWSAccount`` ("the request was
    made by another AWS account") with no ARN is that account even when ``invokedBy`` names
    the service that called for it: the service's name alone would read as the key owner's own
    use of that service and hide the other account.
    """
    identity = _identity(record)
    invoked_by = None if identity.get("type") == "AWSAccount" else identity.get("invokedBy")
    for candidate in (_session_role(identity), identity.get("arn"), invoked_by):
        if isinstance(candidate, str) and candidate:
            return candidate
    if identity.get("accountId"):
        return f"{identity.get('type', 'Unknown')}:{identity['accountId']}"
    return str(identity.get("type") or "Unknown")


# What principal_of prints, and what RecordFilter matches a --principal against:
# - an identity ARN (userIdentity.arn): IAM user or root, assumed-role session, federated user;
#   a role's ARN (sessionContext.sessionIssuer.arn) for all its sessions. IAM names and paths
#   are printable ASCII without blanks, and a role name has no "/";
_IAM_NAME = r"[!-.0-~]+"
_IAM_PATH_NAME = r"[!-~]+"
PRINCIPAL_ARN = re.compile(
    r"^arn:aws[a-z-]*:(?:"
    rf"iam::[0-9]{{12}}:(?:root|user/{_IAM_PATH_NAME}|role/{_IAM_PATH_NAME})"
    rf"|sts::[0-9]{{12}}:(?:assumed-role/{_IAM_NAME}/{_IAM_PATH_NAME}"
    rf"|federated-user/{_IAM_PATH_NAME})"
    r")\Z"
)
# - an AWS service (userIdentity.invokedBy), by its DNS-like name such as s3.amazonaws.com, or
#   "AWS Internal" (CloudTrail's name for AWS itself, as in key rotation records);
SERVICE_NAME = re.compile(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+\Z")
AWS_INTERNAL = "AWS Internal"
# - a caller with no ARN: <identity type>:<account>, such as AWSAccount:444455556666, or the
#   identity type alone when the record has no account either (CloudTrail userIdentity types).
TYPED_ACCOUNT = re.compile(r"^[A-Z][A-Za-z]*:[0-9]{12}\Z")
IDENTITY_TYPES = frozenset(
    {
        "Root", "IAMUser", "AssumedRole", "Role", "FederatedUser", "Directory", "AWSAccount",
        "AWSService", "IdentityCenterUser", "SAMLUser", "WebIdentityUser", "Unknown",
    }
)  # fmt: skip


def principal_reference(value: str, argument: str = "--principal") -> str:
    """``value`` if it has the form of a principal the audit reports (:func:`principal_of`)
    and matches (:class:`RecordFilter`); otherwise a :class:`~kmskit.errors.UsageError` naming
    ``argument``. The ``type`` of ``--principal``: a role name, a key ARN or ``S3`` in its place
    would match no record and report that no one used the key."""
    if (
        PRINCIPAL_ARN.match(value)
        or SERVICE_NAME.match(value)
        or value == AWS_INTERNAL
        or TYPED_ACCOUNT.match(value)
        or value in IDENTITY_TYPES
    ):
        return value
    raise UsageError(
        f"'{argument}' must be a principal as the report prints it: an IAM role, user or root "
        "ARN, an STS assumed-role or federated-user ARN, an AWS service name such as "
        "s3.amazonaws.com (or 'AWS Internal'), or AWSAccount:<12-digit account ID>. "
        f"Received: {value!r}"
    )


def caller_account(record: dict[str, Any]) -> str | None:
    account = _identity(record).get("accountId")
    return account if isinstance(account, str) else None


@dataclass(frozen=True)
class RecordFilter:
    """Which records to keep. Empty sets keep everything.

    Args:
        key_arns: key ARNs (resolve aliases and key IDs with :func:`resolve_key` first).
        principals: ARNs matched against the session's role, the identity ARN or the AWS
            service name, or principals as :func:`principal_of` prints them (check their form
            with :func:`principal_reference`).
        event_names: e.g. ``Decrypt``, ``GenerateDataKey``.
        caller_accounts: accounts of the callers (``userIdentity.accountId``).
    """

    key_arns: frozenset[str] = frozenset()
    principals: frozenset[str] = frozenset()
    event_names: frozenset[str] = frozenset()
    caller_accounts: frozenset[str] = frozenset()

    def keys_matched(self, record: dict[str, Any]) -> list[str]:
        """The record's keys that pass the filter; empty when the record does not."""
        keys = record_keys(record)
        if self.key_arns:
            keys = [key for key in keys if key in self.key_arns]
        if not keys:
            return []
        if self.event_names and record.get("eventName") not in self.event_names:
            return []
        if self.caller_accounts and caller_account(record) not in self.caller_accounts:
            return []
        if self.principals:
            identity = _identity(record)
            names = {
                _session_role(identity),
                identity.get("arn"),
                identity.get("invokedBy"),
                principal_of(record),
            }
            if not names & self.principals:
                return []
        return keys


@dataclass
class UsageRow:
    key_arn: str
    principal: str
    event_name: str
    count: int = 0
    failed: int = 0  # of count: calls with an errorCode (denied, wrong key, ...)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "keyArn": self.key_arn,
            "principal": self.principal,
            "eventName": self.event_name,
            "count": self.count,
            "failed": self.failed,
            "firstSeen": _iso(self.first_seen),
            "lastSeen": _iso(self.last_seen),
        }


def _iso(moment: datetime | None) -> str | None:
    return utc_text(moment) if moment else None


@dataclass
class UsageSummary:
    """Counts per key x principal x event name, with first and last time seen."""

    rows: dict[tuple[str, str, str], UsageRow] = field(default_factory=dict)

    def add(self, record: dict[str, Any], keys: Sequence[str]) -> None:
        moment = parse_event_time(record.get("eventTime"))
        principal = principal_of(record)
        event_name = str(record.get("eventName", ""))
        failed = bool(record.get("errorCode"))
        for key in keys:
            row = self.rows.setdefault(
                (key, principal, event_name), UsageRow(key, principal, event_name)
            )
            row.count += 1
            row.failed += int(failed)
            if moment is not None:
                row.first_seen = min(filter(None, (row.first_seen, moment)))
                row.last_seen = max(filter(None, (row.last_seen, moment)))

    def sorted_rows(self) -> list[UsageRow]:
        """By key, then most-used first."""
        return sorted(
            self.rows.values(), key=lambda r: (r.key_arn, -r.count, r.principal, r.event_name)
        )

    def count(self, key_arn: str, principal: str, event_name: str) -> int:
        row = self.rows.get((key_arn, principal, event_name))
        return row.count if row else 0


def event_identity(record: dict[str, Any]) -> str | None:
    """What makes two records the same call: ``sharedEventID`` (one call logged in two
    accounts), else ``eventID`` (one record delivered by two trails); None when neither is set."""
    for name in ("sharedEventID", "eventID"):
        value = record.get(name)
        if isinstance(value, str) and value:
            return f"{name}:{value}"
    return None


class TrailFolder(NamedTuple):
    """The folder one trail delivers to (:func:`trail_folder`): an organization trail's
    ``AWSLogs/<organization id>/`` (``kind`` ``organization``), holding a folder per member
    account, or an account trail's ``AWSLogs/<account>/`` (``kind`` ``account``). One trail has
    one set of event selectors for every account and Region it logs."""

    kind: str
    id: str

    def as_dict(self) -> dict[str, str]:
        """``{"organization": "o-..."}`` or ``{"account": "111122223333"}``."""
        return {self.kind: self.id}

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


def trail_folder(key: str) -> TrailFolder:
    """The :class:`TrailFolder` of a day folder or log file
    (``...AWSLogs/[<organization id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/...``)."""
    parts = key.split("/")
    above = parts[-8]  # AWSLogs, or an organization trail's organization ID
    if ORGANIZATION_ID.match(above):
        return TrailFolder("organization", above)
    return TrailFolder("account", parts[-7])


@dataclass
class AuditStats:
    """What a run read: the account folders (``account_paths``) and day prefixes listed,
    objects and records read, records kept
    (``matched``, each call once), copies of an already kept call skipped (``duplicates``),
    the ``s3://`` URIs of log files listed but gone when read (``skipped``: not in the
    report) and the KMS read-only records of the range, kept or not (``kms_reads``: none means
    the trail may not log KMS read events at all). Per trail folder (:func:`trail_folder`):
    those with a log file holding a record of the range (``folders_read``) and those with a KMS
    read event of the range (``folders_with_kms_reads``): an account trail that logs no KMS
    read event beside an organization trail that does is told apart
    (:meth:`folders_without_kms_reads`). Per trail folder, not per account or Region: a trail's
    event selectors apply to each account and Region it logs, so a member account or a Region
    where nobody called KMS is no sign of a trail that leaves KMS's reads out. These hold an ID
    per trail folder, not per log file. ``regions`` and ``accounts``: the Regions and accounts
    read, when the run was limited to some (``--log-region``, ``--account``; default empty:
    every Region and account found): an organization trail's Decrypt may be in an account or
    Region not read."""

    account_paths: list[AccountPath] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    objects: int = 0
    records: int = 0
    matched: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)
    kms_reads: int = 0
    folders_read: set[TrailFolder] = field(default_factory=set)
    folders_with_kms_reads: set[TrailFolder] = field(default_factory=set)
    regions: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()

    def folders_without_kms_reads(self) -> list[TrailFolder]:
        """The trail folders whose log files hold records of the range but not a single KMS
        read event, sorted."""
        return sorted(self.folders_read - self.folders_with_kms_reads)

    def limiting_accounts(self, folders: Iterable[TrailFolder] | None = None) -> tuple[str, ...]:
        """:attr:`accounts` (``--account``) where limiting them leaves a trail's KMS reads
        unseen: only in an organization trail's folder among ``folders`` (default: every folder
        read), whose other member accounts were not read; an account trail's folder is read
        whole. Empty otherwise."""
        read = self.folders_read if folders is None else folders
        return self.accounts if any(f.kind == "organization" for f in read) else ()


class ListedObject(NamedTuple):
    """An object of a ListObjectsV2 page: its key, when S3 stored it (None if not given) and
    whether it is archived (:func:`is_archived`: GetObject cannot read it)."""

    key: str
    last_modified: datetime | None
    archived: bool = False


def is_archived(listed: Mapping[str, Any]) -> bool:
    """Whether GetObject cannot read the object of a ListObjectsV2 ``Contents`` entry: its
    ``StorageClass`` is one of :data:`ARCHIVED_STORAGE_CLASSES` and it has no restored copy
    (``RestoreStatus``, listed when asked for with ``OptionalObjectAttributes``: a restore done,
    ``IsRestoreInProgress`` false with a ``RestoreExpiryDate``)."""
    if listed.get("StorageClass") not in ARCHIVED_STORAGE_CLASSES:
        return False
    restore = listed.get("RestoreStatus") or {}
    return restore.get("IsRestoreInProgress") is not False or not restore.get("RestoreExpiryDate")


def archived_error(
    location: LogLocation,
    listed: Sequence[ListedObject],
    more: Iterable[Sequence[ListedObject]] = (),
    *,
    what: str = "log files",
) -> ConflictError:
    """The error for the archived objects of ``listed`` and of the listings ``more`` (taken
    one at a time: only the count, the first and the last are kept), ``what`` they are
    ("log files", "digest files"), met before any of them is read: exit 7, naming the first
    and the last and saying what to do."""
    count, first, last = 0, "", ""
    for entries in itertools.chain((listed,), more):
        for entry in entries:
            if entry.archived:
                count, first, last = count + 1, first or entry.key, entry.key
    where = f"the first {location.uri(first)}" + (
        f", the last {location.uri(last)}" if last != first else ""
    )
    return ConflictError(
        f"{count} CloudTrail {what} to read are archived (S3 Glacier Flexible Retrieval or "
        f"Deep Archive, not restored): GetObject cannot read them; {where}. Restore them (S3 "
        "RestoreObject, or S3 Batch Operations for many; it takes minutes to hours) and run "
        "again, or leave their days out (--since, --until; --account, --log-region)"
    )


class FetchedObject(NamedTuple):
    """A gzip object as :meth:`AuditReader.fetch_object` read it: decompressed, and its user
    metadata (``x-amz-meta-*`` without the prefix, as boto3 gives it)."""

    data: bytearray
    metadata: dict[str, str]


C_co = TypeVar("C_co", covariant=True)


class ObjectContent(Protocol[C_co]):
    """Takes an object's decompressed content a chunk at a time (:meth:`AuditReader.read_object`
    makes one for each attempt at reading it)."""

    def feed(self, chunk: bytes) -> None:
        """The next chunk."""

    def result(self) -> C_co:
        """What the content gives, once every chunk was fed; raises what is wrong with it."""


class _WholeContent:
    """The content whole (a digest file: small)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk

    def result(self) -> bytearray:
        return self._data


class RecordSelection(Protocol):
    """Takes the records of one log file that are JSON objects, in file order."""

    def add(self, record: dict[str, Any]) -> None: ...


S = TypeVar("S", bound=RecordSelection)


class LogRead(NamedTuple, Generic[S]):
    """What a :class:`RecordSelection` took of a log file, and the hex SHA-256 of the file's
    decompressed content (None when it was not asked for)."""

    selection: S
    sha256: str | None


@dataclass
class _AllRecords:
    """Every record (:meth:`AuditReader.read_records`)."""

    kept: list[dict[str, Any]] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        self.kept.append(record)


class _LogContent(Generic[S]):
    """One reading of a log file's decompressed content, in bounded memory: hashed (with
    ``hashing``, default False) and decoded as it arrives, each element of its ``Records``
    array decoded on its own (:class:`~kmskit._json_stream.RecordsStream`) and, if it is an
    object, checked (:func:`record_shape_problem`) and given to a ``select()``, then let go.
    What is held is a chunk of text, the record being decoded and what the selection keeps.
    :meth:`result` raises the :class:`~kmskit.errors.IntegrityError` that reading the whole
    file with :func:`json.loads` would (its JSON problems first, then a missing ``Records``
    list, then a record of the wrong shape), so a file that is not CloudTrail's fails however
    it breaks; the last ``Records`` member counts, as with :func:`json.loads`."""

    def __init__(self, uri: str, select: Callable[[], S], *, hashing: bool = False) -> None:
        self._uri = uri
        self._hash = hashlib.sha256() if hashing else None
        self._text = JsonText()
        self._records = _RecordsList(select)
        # The stream calls _records, which does not refer back: no reference cycle keeps a
        # file's records alive until the garbage collector runs.
        self._stream = RecordsStream(self._records.found, self._records.element)

    def feed(self, chunk: bytes) -> None:
        if self._hash is not None:
            self._hash.update(chunk)
        # Decoded even once the JSON is known bad: json.loads decodes it all first, so a byte
        # that is not UTF-8 anywhere is the error it names.
        self._stream.feed(self._text.decode(chunk))

    def result(self) -> LogRead[S]:
        self._stream.feed(self._text.decode(b"", final=True))
        self._stream.close()
        bad = f"{self._uri} is not a gzip-compressed CloudTrail log file"
        if self._text.error is not None:
            raise IntegrityError(f"{bad}: {self._text.error}")
        if self._stream.too_deep:
            raise IntegrityError(f"{bad}: its JSON is nested too deep")
        if self._stream.error is not None:
            raise IntegrityError(f"{bad}: {self._stream.error}")
        selection = self._records.selection
        if not self._stream.top_is_object or selection is None:
            raise IntegrityError(f"{self._uri} has no 'Records' list")
        if self._records.problem is not None:
            raise IntegrityError(
                f"{self._uri} is not a CloudTrail log file: {self._records.problem}"
            )
        digest = self._hash.hexdigest() if self._hash is not None else None
        return LogRead(selection, digest)


class _RecordsList(Generic[S]):
    """The records of a log file's ``Records`` list that are objects, given to a new
    ``select()`` for each such list (:func:`json.loads` keeps the last), until one has the
    wrong shape (:attr:`problem`: the first, with its number)."""

    def __init__(self, select: Callable[[], S]) -> None:
        self._select = select
        self.selection: S | None = None  # None: no Records list (yet)
        self.problem: str | None = None

    def found(self, is_list: bool) -> None:
        """A ``Records`` member: a list, or not."""
        self.selection = self._select() if is_list else None
        self.problem = None

    def element(self, number: int, record: Any) -> None:
        if self.selection is None or self.problem is not None or not isinstance(record, dict):
            return
        problem = record_shape_problem(record)
        if problem is not None:
            self.problem = f"in record {number}, {problem}"
        else:
            self.selection.add(record)


class ReadObserver(Protocol):
    """Told about every log file :meth:`AuditReader.run` reads (``--verify`` checks them
    against CloudTrail's digest files: :class:`kmskit.audit_integrity.DigestVerifier`)."""

    def begin(self, prefixes: Sequence[str]) -> None:
        """The day folders of the run, in key order, before any log file is read."""

    def log_file(
        self, key: str, last_modified: datetime | None, sha256: str | None, in_range: bool
    ) -> None:
        """One log file, in key order: the hex SHA-256 of its decompressed content (None: it
        was gone when read) and whether it holds a record of the audited days."""

    def end(self) -> None:
        """Every log file was read."""


T = TypeVar("T")
R = TypeVar("R")
RecordSink = Callable[[dict[str, Any], list[str]], None]


_LOGGER = logging.getLogger(__name__)


def log_warning(text: str) -> None:
    """A warning on the ``kmskit.audit`` logger (the library's default; the CLI prints)."""
    _LOGGER.warning("%s", text)


def warn_on_stderr(text: str) -> None:
    """``kmskit: warning: <text>`` on stderr, above a progress bar if one is shown."""
    tqdm.write(f"kmskit: warning: {text}", file=sys.stderr)


class AuditReader:
    """Reads CloudTrail log objects from S3 with a bounded pool of ``workers`` threads.

    Args:
        s3: a boto3 S3 client (thread-safe; give it ``max_pool_connections >= workers``).
        workers: 1-64 concurrent S3 requests. Default: 8.
        page_size: keys per ``ListObjectsV2`` page. Default: 1000 (the S3 maximum).
        progress: show a progress bar on stderr (None: only when stderr is a terminal).
            Default: False (a library prints nothing; the CLI passes None).
        warn: called with the message of each warning: a log file skipped (listed, but gone
            when read), a given account without logs, a folder inside a day folder (not read).
            The last is told by the thread that lists the folder, one of the ``workers``: give
            a callable that may be called from several threads at once. Default:
            :func:`log_warning`, a warning on the ``kmskit.audit`` logger (the CLI passes
            :func:`warn_on_stderr`).
    """

    def __init__(
        self,
        s3: Any,
        *,
        workers: int = DEFAULT_WORKERS,
        page_size: int = LIST_PAGE_SIZE,
        progress: bool | None = False,
        warn: Callable[[str], None] = log_warning,
    ) -> None:
        self.s3 = s3
        self.workers = check_workers(workers)
        self.page_size = page_size
        self.progress = progress
        self.warn = warn

    # --- discovery -------------------------------------------------------------------------

    def _common_prefixes(self, location: LogLocation, prefix: str) -> list[str]:
        """The next path segment under ``prefix`` (ListObjectsV2 with a ``/`` delimiter)."""
        names: list[str] = []
        try:
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(
                Bucket=location.bucket,
                Prefix=prefix,
                Delimiter="/",
                PaginationConfig={"PageSize": self.page_size},
            ):
                for entry in page.get("CommonPrefixes", []):
                    names.append(entry["Prefix"][len(prefix) :].rstrip("/"))
        except ClientError as error:
            raise from_client_error(error, f"list {location.uri(prefix)}") from error
        return names

    def account_paths(
        self, location: LogLocation, accounts: Sequence[str] = ()
    ) -> list[AccountPath]:
        """Every account folder (organization trails included), or those of ``accounts``;
        :class:`~kmskit.errors.NotFoundError` when there is none."""
        top = self._common_prefixes(location, location.logs_root)
        organizations = sorted(name for name in top if ORGANIZATION_ID.match(name))
        found = [AccountPath(name) for name in top if ACCOUNT_ID.match(name)]
        for org in organizations:
            members = self._common_prefixes(location, f"{location.logs_root}{org}/")
            found += [AccountPath(name, org) for name in members if ACCOUNT_ID.match(name)]
        if accounts:
            found = [path for path in found if path.account in accounts]
        if not found:
            raise _no_logs(location, accounts, "" if top else self._location_hint(location))
        return found

    def _location_hint(self, location: LogLocation) -> str:
        """Where the logs may be when there is no ``AWSLogs/`` folder at ``location``: ``""``
        or a sentence for the error. AWS Control Tower's log archive bucket keeps them under
        the organization ID (``o-ID/AWSLogs/o-ID/<account>/...``), and a location inside
        ``AWSLogs/`` is an account's or organization's folder, not the trail's prefix."""
        parts = location.prefix.split("/")
        if "AWSLogs" in parts:
            above = LogLocation(location.bucket, "/".join(parts[: parts.index("AWSLogs")]))
            return (
                f"; {location.trail_uri} is inside the logs: give the trail's bucket and S3 key "
                f"prefix, {above.trail_uri}, and choose accounts with --account"
            )
        try:
            names = self._common_prefixes(location, f"{location.prefix}/".lstrip("/"))
        except KmskitError:
            return ""
        organizations = [name for name in names if ORGANIZATION_ID.match(name)]
        if not organizations:
            return ""
        uris = " or ".join(
            LogLocation(location.bucket, f"{location.prefix}/{o}".strip("/")).trail_uri
            for o in organizations
        )
        return f"; AWS Control Tower keeps an organization's logs under its ID: give {uris}"

    def regions(
        self, location: LogLocation, account: AccountPath, *, digests: bool = False
    ) -> list[str]:
        """The Regions of ``account``'s log folders; with ``digests`` (default False) also those
        of its digest folders: a Region whose log files were all deleted has only those."""
        prefix = account.cloudtrail_prefix(location)
        names = self._common_prefixes(location, prefix)
        if digests:
            digests_at = account.digest_prefix(location)
            names = sorted({*names, *self._common_prefixes(location, digests_at)})
        return [name for name in names if REGION.match(name)]

    # --- listing and reading ---------------------------------------------------------------

    def list_objects(self, location: LogLocation, prefix: str) -> list[str]:
        """Every ``.json.gz`` key in the folder ``prefix`` (:meth:`list_entries`)."""
        return [entry.key for entry in self.list_entries(location, prefix)]

    def list_entries(self, location: LogLocation, prefix: str) -> list[ListedObject]:
        """Every ``.json.gz`` object in the folder ``prefix``, with the time S3 stored it and
        whether it is archived, across all ListObjectsV2 pages: the one lister of log and
        digest files. CloudTrail
        writes its files directly in a day folder: a folder inside one is not read, with a
        warning naming it (its objects would otherwise count as the trail's)."""
        entries: list[ListedObject] = []
        inner: dict[str, None] = {}  # folders inside, in listing order
        try:
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(
                Bucket=location.bucket,
                Prefix=prefix,
                # whether an archived object was restored (is_archived)
                OptionalObjectAttributes=["RestoreStatus"],
                PaginationConfig={"PageSize": self.page_size},
            ):
                for listed in page.get("Contents", []):
                    key = listed["Key"]
                    name = key[len(prefix) :]
                    if "/" in name:
                        inner[prefix + name.split("/", 1)[0] + "/"] = None
                    elif key.endswith(".json.gz"):
                        entries.append(
                            ListedObject(key, listed.get("LastModified"), is_archived(listed))
                        )
        except ClientError as error:
            raise from_client_error(error, f"list {location.uri(prefix)}") from error
        for folder in inner:
            self.warn(
                f"{location.uri(folder)}: a folder inside a CloudTrail day folder, not read "
                "(CloudTrail writes its files directly in the day folder; nothing it wrote is "
                "in there)"
            )
        return entries

    def check_not_archived(
        self,
        location: LogLocation,
        spans: Sequence[tuple[str, str]],
        folders: Iterable[str],
        *,
        what: str = "log files",
    ) -> None:
        """Before any of ``folders`` is read: list the range of each account and Region
        (``spans``: its first and last day folder to read, :func:`folder_spans`) for archived
        objects (:func:`is_archived`), and, if one is, list ``folders`` (every folder to read;
        not read) and raise the :func:`archived_error` counting all their archived ``what``.
        Each range is listed in one run of ListObjectsV2 pages through the Region's folder,
        from just after the first day folder's name on (``StartAfter``) until a page goes past
        the last day folder (or the first archived object of the range): the whole range,
        whatever day each object is of, so an object archived out of age order (a lifecycle
        rule with a size filter, an object copied into S3 Glacier) or past the first page
        (1,000 objects, under four days of a busy account's folder) is found before anything
        is read, and an empty first day folder (no delivery that day, an account that joined
        later) hides nothing. One request per 1,000 objects of the range and one more at most
        (the page that goes past it), each page let go once looked at: memory does not grow
        with the range. The folders are listed again to be read (their listings are not held
        from the probe: a year of an organization trail is millions of keys), which adds a
        request per 1,000 log files to the GetObject per log file of the reading."""
        with closing(
            ordered_map(lambda span: self._lists_archived(location, *span), spans, self.workers)
        ) as probe:
            found = any(archived for _, archived in probe)
        if found:
            listings = ordered_map(lambda f: self.list_entries(location, f), folders, self.workers)
            with closing(listings):
                raise archived_error(location, (), (entries for _, entries in listings), what=what)

    def _lists_archived(self, location: LogLocation, first: str, last: str) -> bool:
        """Whether the Region folder of day folders ``first`` to ``last`` holds an archived
        object of those days: its ListObjectsV2 pages from ``first`` on (``StartAfter``), until
        the first archived object of those days or the first page that goes past ``last``."""
        region_folder = day_folder_parent(first)
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=location.bucket,
                Prefix=region_folder,
                StartAfter=first,
                OptionalObjectAttributes=["RestoreStatus"],
                PaginationConfig={"PageSize": self.page_size},
            )
            # A page is requested only when the one before left the range unfinished.
            for page in pages:
                for listed in page.get("Contents", []):
                    if listed["Key"][: len(last)] > last:
                        return False
                    if is_archived(listed):
                        return True
        except ClientError as error:
            raise from_client_error(error, f"list {location.uri(region_folder)}") from error
        return False

    def read_attempts(self) -> int:
        """Times a log file is fetched when its body breaks off: the client's total attempts
        per call (``--max-attempts``), else botocore's standard 3."""
        config = getattr(getattr(self.s3, "meta", None), "config", None)
        retries = getattr(config, "retries", None) or {}
        attempts = retries.get("total_max_attempts")
        return attempts if isinstance(attempts, int) and attempts >= 1 else DEFAULT_READ_ATTEMPTS

    def read_records(self, location: LogLocation, key: str) -> list[dict[str, Any]] | None:
        """The ``Records`` of one log object (each a JSON object: other elements are left
        out); None when it is gone (``NoSuchKey``: deleted since it was listed, e.g. expired by
        a lifecycle rule).

        The object is decompressed and decoded as it is downloaded, and never past
        :data:`MAX_LOG_FILE_BYTES`: beyond that it is refused
        (:class:`~kmskit.errors.IntegrityError` naming the object and the limit)."""
        read = self.read_object(location, key, lambda: _LogContent(location.uri(key), _AllRecords))
        return None if read is None else read[0].selection.kept

    def _read_log(
        self, location: LogLocation, key: str, select: Callable[[], S], *, hashing: bool
    ) -> LogRead[S] | None:
        """What ``select()`` takes of the records of one log object (a new one for each
        attempt), and with ``hashing`` the hex SHA-256 of the decompressed content (what a
        CloudTrail digest records for the file), from the same download; None when it is
        gone."""
        read = self.read_object(
            location, key, lambda: _LogContent(location.uri(key), select, hashing=hashing)
        )
        return None if read is None else read[0]

    def fetch_object(
        self, location: LogLocation, key: str, *, what: str = "CloudTrail log file"
    ) -> FetchedObject | None:
        """A gzip object decompressed whole, at most :data:`MAX_LOG_FILE_BYTES`, with its user
        metadata (:meth:`read_object`; for digest files, which are small); None when it is
        gone."""
        read = self.read_object(location, key, _WholeContent, what=what)
        return None if read is None else FetchedObject(*read)

    def read_object(
        self,
        location: LogLocation,
        key: str,
        content: Callable[[], ObjectContent[R]],
        *,
        what: str = "CloudTrail log file",
    ) -> tuple[R, dict[str, str]] | None:
        """A gzip object passed to ``content()`` a decompressed chunk at a time as it is
        downloaded (:func:`gunzip_into`, at most :data:`MAX_LOG_FILE_BYTES`), and its
        :meth:`~ObjectContent.result`, with the object's user metadata; None when it is gone
        (``NoSuchKey``). A body that breaks off is fetched again, up to :meth:`read_attempts`
        times, into a new ``content()``: nothing read before counts. An object that is not
        gzip, or decompresses past the limit, is an :class:`~kmskit.errors.IntegrityError`
        naming it as ``what`` (before anything ``result()`` raises); one S3 cannot read until it
        is restored (``InvalidObjectState``: archived) a :class:`~kmskit.errors.ConflictError`
        naming it. The one reader of log and digest files."""
        attempts = self.read_attempts()
        limit = MAX_LOG_FILE_BYTES
        doing = f"read {location.uri(key)}"
        for attempt in range(1, attempts + 1):
            try:
                response = self.s3.get_object(Bucket=location.bucket, Key=key)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code == "NoSuchKey":
                    return None
                if code == "InvalidObjectState":
                    # archived after it was listed, or in an Intelligent-Tiering archive tier
                    raise ConflictError(
                        f"{from_client_error(error, doing)}: it is archived; restore it (S3 "
                        "RestoreObject) and run again, or leave its day out (--since, --until; "
                        "--account, --log-region)"
                    ) from error
                raise from_client_error(error, doing) from error
            reading = content()
            try:
                with closing(response["Body"]) as body:
                    whole = gunzip_into(body, limit, reading.feed)
                break
            except BODY_ERRORS as error:  # before OSError: ReadTimeoutError is one
                if attempt == attempts:
                    raise KmskitError(
                        f"could not read {location.uri(key)}: {error} (tried {attempts} times)"
                    ) from error
            except (OSError, EOFError, zlib.error) as error:
                raise IntegrityError(
                    f"{location.uri(key)} is not a gzip-compressed {what}: {error}"
                ) from error
        if not whole:
            advice = (
                ": CloudTrail did not write it (a gzip bomb?). Find out who did; --since/--until, "
                "--account or --log-region can leave it out of the audit"
            )
            raise IntegrityError(
                f"{location.uri(key)} decompresses to more than {_size(limit)}, the limit "
                f"for a {what}{advice}"
            )
        metadata = response.get("Metadata")
        return reading.result(), dict(metadata) if isinstance(metadata, dict) else {}

    def _log_folders(
        self,
        location: LogLocation,
        accounts: Sequence[str],
        regions: Sequence[str],
        *,
        digests: bool,
    ) -> tuple[list[AccountPath], dict[AccountPath, list[str]]]:
        """The account folders of ``accounts`` (every one, when empty) and the Regions of each
        to read (``regions``, or every one found; with ``digests`` also those with digest files
        only). :class:`~kmskit.errors.NotFoundError` when none has a log folder; a warning
        names the ``accounts`` that have none."""
        paths = self.account_paths(location, accounts)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            # --verify: also the Regions with digest files only (every log file deleted).
            found = pool.map(lambda p: self.regions(location, p, digests=digests), paths)
            by_account = dict(zip(paths, found, strict=True))
            if regions:
                by_account = {
                    path: [name for name in names if name in regions]
                    for path, names in by_account.items()
                }
                if not any(by_account.values()):
                    raise NotFoundError(
                        f"no CloudTrail logs of Region {', '.join(regions)} under "
                        f"{location.uri(location.logs_root)} (check --log-region, --account and "
                        "the Regions the trail logs)"
                    )
        # An account folder may hold no CloudTrail/ folder (AWS Config's, in Control Tower's
        # log archive bucket): such an account has no logs to read.
        with_logs = {path.account for path, names in by_account.items() if names}
        if not with_logs:
            raise _no_logs(location, accounts)
        missing = sorted(set(accounts) - with_logs)
        if missing:
            of_regions = f" of Region {', '.join(regions)}" if regions else ""
            self.warn(
                f"no CloudTrail logs{of_regions} of account {', '.join(missing)} under "
                f"{location.uri(location.logs_root)}: not in the report"
            )
        return paths, by_account

    def run(
        self,
        location: LogLocation,
        date_range: DateRange,
        record_filter: RecordFilter,
        sink: RecordSink,
        *,
        accounts: Sequence[str] = (),
        regions: Sequence[str] = (),
        observer: ReadObserver | None = None,
    ) -> AuditStats:
        """Read every log object of the range and pass each kept record, with its matched
        keys, to ``sink`` (records in file order; log files day by day, each day's folders in
        key order, or, with an ``observer``, in key order: one account folder and Region after
        the other, as :class:`~kmskit.audit_integrity.DigestVerifier` checks them). The day
        folders are listed a bounded window ahead of the reading, not all before it, so memory
        does not grow with the number of log files in the range.

        Each call is passed once: a record whose ``sharedEventID`` (else ``eventID``) was
        already kept is counted in ``duplicates`` and skipped (see :func:`event_identity`).
        Worker threads download and decode objects a record at a time and keep the records of
        the range that pass ``record_filter`` (the others are let go as they are decoded);
        de-duplication and ``sink`` run on the calling thread, in reading order, so the first
        copy read is the one kept and the map of seen identities needs no lock. Every copy read
        counts once, however many days after its call it was delivered (redelivered, or a log
        file delivered late into a later day's folder): the identities of kept records are held
        in memory for the calls of the day before the folder being read and later (nearly
        every copy of a call is in the folder of its day or the next, :data:`DELIVERY_SLACK`),
        and those of older calls in a temporary SQLite database on disk
        (:class:`_EarlierCalls`; SQLite keeps at most :data:`SPILL_CACHE_KIB` KiB of it in
        memory), looked up only for a copy of such a call. So memory grows with the calls of
        two days, not with the range, in either order (with an ``observer``, of two days of the
        account folder and Region being read: the identities of the one before go to disk when
        the run moves on to it).

        One exception to the first copy: the key owner's copy of a cross-account call may name
        only the caller's account (:func:`names_principal`; a caller of type ``AWSService`` is
        never held, while a copy of type ``AWSAccount`` is held even when ``invokedBy`` names the
        service that called for that account's principal). Such a copy is held back, in a
        temporary file beyond :data:`HOLD_IN_MEMORY` bytes, until a copy that names the caller
        is read (which is then passed instead) or, failing that, until the end of the run,
        when the held copies are passed in the order they were read.

        ``accounts`` and ``regions`` limit the log folders read (account IDs, Region names);
        default empty: every account and Region found under ``location``. No log folder to read
        is :class:`~kmskit.errors.NotFoundError` (an account folder without ``CloudTrail/``,
        such as AWS Config's, has none); each of ``accounts`` without one is named to
        ``warn``. An archived log file (:func:`is_archived`) is a
        :class:`~kmskit.errors.ConflictError` counting them all (the rest of the range is
        listed, not read): raised before any log file is read, the range of each account and
        Region having been listed for them (:meth:`check_not_archived`); one archived while
        the run reads (a lifecycle rule's transition) is met when its folder is listed to be
        read, before that folder is read. ``observer``, if
        given (default None), is told about each log file read, with the SHA-256 of its
        decompressed content, computed from the same download (see :class:`ReadObserver`)."""
        check_accounts(accounts, "--account")
        check_regions(regions, "--log-region")
        paths, by_account = self._log_folders(
            location, accounts, regions, digests=observer is not None
        )
        # Day by day, unless an observer checks one account and Region after the other. The
        # copies of a call are nearly all in the folders of its day and the next
        # (DELIVERY_SLACK): the identities of older calls go to disk (_OncePerCall.spill_before).
        by_day = observer is None
        stats = AuditStats(
            account_paths=paths,
            prefixes=day_prefixes(location, paths, by_account, date_range, by_day=by_day),
            regions=tuple(regions),
            # The accounts given whose logs are read (one with no log folder was warned about).
            accounts=tuple(sorted({path.account for path in paths})) if accounts else (),
        )
        # Archived log files are named before any is read: the range of each account and
        # Region is listed for them first (one archived since is met by listed_keys, below).
        self.check_not_archived(location, folder_spans(stats.prefixes), stats.prefixes)
        # Day folders are listed a bounded window ahead of the reading (never the whole range
        # at once: a year of an organization trail is millions of keys); the bar counts them.
        bar = progress_bar(
            total=len(stats.prefixes),
            description="CloudTrail day folders",
            unit="folder",
            enabled=self.progress,
        )
        listings = ordered_map(
            lambda p: self.list_entries(location, p), stats.prefixes, self.workers
        )

        def listed_keys() -> Iterator[tuple[ListedObject, bool, date]]:
            """Each object, whether it is the last of its day folder, and the folder's day. A
            folder with an archived object is not read: the rest of the range is listed (not
            read) to count them all, and that is the error."""
            for prefix, listed in listings:
                if any(entry.archived for entry in listed):
                    raise archived_error(location, listed, (rest for _, rest in listings))
                day = folder_day(prefix)
                for number, entry in enumerate(listed, start=1):
                    yield entry, number == len(listed), day
                if not listed:
                    bar.update(1)

        hashing = observer is not None
        bounds = date_range.bounds()
        reading = ordered_map(
            lambda k: self._read_log(
                location, k[0].key, lambda: _InRange(bounds, record_filter), hashing=hashing
            ),
            listed_keys(),
            self.workers,
        )
        if observer is not None:
            observer.begin(stats.prefixes)
        with bar, closing(listings), closing(reading), _OncePerCall(sink, stats) as once:
            for (entry, last_of_folder, day), read in reading:
                key = entry.key
                once.reading(day)
                if read is None:
                    uri = location.uri(key)
                    stats.skipped.append(uri)
                    self.warn(
                        f"{uri} was listed but is gone (deleted since, e.g. expired by a "
                        "lifecycle rule): skipped, its records are not in the report"
                    )
                else:
                    taken = read.selection
                    stats.objects += 1
                    stats.records += taken.records
                    stats.kms_reads += taken.kms_reads
                    folder = trail_folder(key)
                    if taken.in_range:
                        stats.folders_read.add(folder)
                    if taken.kms_reads:
                        stats.folders_with_kms_reads.add(folder)
                    for record, matched, call_day in taken.kept:
                        once.offer(record, matched, call_day)
                if observer is not None:
                    sha256, in_range = (
                        (None, False) if read is None else (read.sha256, taken.in_range)
                    )
                    observer.log_file(key, entry.last_modified, sha256, in_range)
                if last_of_folder:
                    bar.update(1)
            once.pass_held()
            if observer is not None:
                observer.end()
        return stats


@dataclass
class _InRange:
    """What :meth:`AuditReader.run` takes of one log file, on the worker that reads it: the
    records within ``bounds`` (:meth:`DateRange.bounds`) that pass ``record_filter``, each with
    its matched keys and the UTC day of its call (the rest are let go as they are read), a
    count of the records, whether any was within ``bounds`` and how many of those were KMS
    read events."""

    bounds: tuple[datetime, datetime]
    record_filter: RecordFilter
    records: int = 0
    in_range: bool = False
    kms_reads: int = 0
    kept: list[tuple[dict[str, Any], list[str], date]] = field(default_factory=list)

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        start, end = self.bounds
        moment = parse_event_time(record.get("eventTime"))
        if moment is None or not start <= moment < end:
            return
        self.in_range = True
        if record.get("eventSource") == KMS_EVENT_SOURCE and record.get("readOnly") is True:
            self.kms_reads += 1
        matched = self.record_filter.keys_matched(record)
        if matched:
            self.kept.append((record, matched, moment.astimezone(UTC).date()))


class _OncePerCall:
    """Passes each call to ``sink`` once, as :meth:`AuditReader.run` describes, counting in
    ``stats``. Held-back copies are JSON lines in a temporary file that stays in memory up to
    :data:`HOLD_IN_MEMORY` bytes, so memory stays bounded however many there are. The
    identities of kept calls are held in memory until :meth:`spill_before` their day, then in
    an :class:`_EarlierCalls` on disk until the end of the run: a copy delivered any number of
    days after its call is still known."""

    def __init__(self, sink: RecordSink, stats: AuditStats) -> None:
        self._sink = sink
        self._stats = stats
        # identity -> True while the kept copy is held back for naming no principal
        self._seen: dict[str, bool] = {}
        # the identities in _seen by the UTC day of the call (eventTime)
        self._kept_on: dict[date, list[str]] = {}
        # Made at the first spill_before that moves an identity; closed by __exit__.
        self._earlier: _EarlierCalls | None = None
        # Every identity in _earlier is of a call made before this day (UTC).
        self._spilled_below = date.min
        self._reading = date.min  # the day of the folder being read
        # Closed by __exit__: the file lives as long as the run.
        self._held = tempfile.SpooledTemporaryFile(max_size=HOLD_IN_MEMORY)  # noqa: SIM115

    def __enter__(self) -> _OncePerCall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._held.close()
        if self._earlier is not None:
            self._earlier.close()

    def offer(self, record: dict[str, Any], keys: list[str], day: date) -> None:
        """``record``, a call made on ``day`` (UTC), with the keys it matched."""
        identity = event_identity(record)
        if identity is None:
            self._stats.matched += 1
            self._sink(record, keys)
            return
        held = self._held_state(identity, day)
        if held is None:
            self._stats.matched += 1
            hold = _may_be_named_elsewhere(record)
            self._seen[identity] = hold
            self._kept_on.setdefault(day, []).append(identity)
            if hold:
                line = json.dumps([record, keys], separators=(",", ":"))
                self._held.write(line.encode() + b"\n")
            else:
                self._sink(record, keys)
        else:
            self._stats.duplicates += 1
            if held and names_principal(record):
                # this copy replaces the held one
                if identity in self._seen:
                    self._seen[identity] = False
                elif self._earlier is not None:
                    self._earlier.release(identity)
                self._sink(record, keys)

    def _held_state(self, identity: str, day: date | None) -> bool | None:
        """Whether the kept copy of the call ``identity`` is held back; None when no copy was
        kept. ``day``: the call's (UTC), to look on disk only for a call of a day spilled
        (None: look there anyway)."""
        held = self._seen.get(identity)
        if (
            held is None
            and self._earlier is not None
            and (day is None or day < self._spilled_below)
        ):
            held = self._earlier.held(identity)
        return held

    def reading(self, day: date) -> None:
        """A log file of the folder of ``day`` is read next: the identities of the calls made
        before the day before it go to disk (:meth:`spill_before`; a copy of a call is nearly
        always in the folder of its day or the next, :data:`DELIVERY_SLACK`), and all of them
        when the run went back to an earlier day (in key order, with an observer: the next
        account folder or Region), so memory does not grow with the account folders and
        Regions read either."""
        self.spill_before(date.max if day < self._reading else day - DELIVERY_SLACK)
        self._reading = day

    def spill_before(self, day: date) -> None:
        """Move the identities of the calls made before ``day`` (UTC) from memory to disk
        (:class:`_EarlierCalls`), where a copy read later, however late, still finds them."""
        old = sorted(kept_on for kept_on in self._kept_on if kept_on < day)
        if not old:
            return
        if self._earlier is None:
            self._earlier = _EarlierCalls()
        for kept_on in old:
            identities = self._kept_on.pop(kept_on)
            self._earlier.add((identity, self._seen.pop(identity)) for identity in identities)
        self._spilled_below = max(self._spilled_below, old[-1] + timedelta(days=1))

    def pass_held(self) -> None:
        """Pass the held copies that no copy naming the caller replaced, in reading order."""
        self._held.seek(0)
        for line in self._held:
            record, keys = json.loads(line)
            if self._held_state(str(event_identity(record)), None):
                self._sink(record, keys)


class _EarlierCalls:
    """The identities of kept calls that :meth:`_OncePerCall.spill_before` moved out of
    memory, each with whether its kept copy is held back: a private temporary SQLite database
    (in SQLite's temporary directory: ``SQLITE_TMPDIR``, else ``TMPDIR``, else ``/var/tmp``,
    ``/usr/tmp`` or ``/tmp``; on Windows the user's temporary folder; deleted when it is
    closed), of which SQLite keeps at most :data:`SPILL_CACHE_KIB` KiB in memory. Used on the
    calling thread only."""

    def __init__(self) -> None:
        # "": a private temporary database on disk (SQLite: "In-Memory Databases", temporary
        # databases); no journal, no fsync: nothing outlives the run.
        self._db = sqlite3.connect("")
        try:
            self._db.execute(f"PRAGMA cache_size = -{SPILL_CACHE_KIB}")
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute(
                "CREATE TABLE kept (identity TEXT PRIMARY KEY, held INTEGER NOT NULL) WITHOUT ROWID"
            )
        except BaseException:
            self._db.close()
            raise

    def add(self, identities: Iterable[tuple[str, bool]]) -> None:
        """Identities, each with whether its kept copy is held back. One added before keeps
        what it had: records of one ID whose ``eventTime`` falls on different days (not how
        CloudTrail writes a record again) are each kept in memory under their own day, and
        both come here."""
        self._db.executemany("INSERT OR IGNORE INTO kept VALUES (?, ?)", identities)
        self._db.commit()

    def held(self, identity: str) -> bool | None:
        """Whether the kept copy of ``identity`` is held back; None: not added."""
        row = self._db.execute("SELECT held FROM kept WHERE identity = ?", (identity,)).fetchone()
        return None if row is None else bool(row[0])

    def release(self, identity: str) -> None:
        """A copy naming the caller replaced the held one of ``identity``."""
        self._db.execute("UPDATE kept SET held = 0 WHERE identity = ?", (identity,))
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def gunzip_into(stream: Any, limit: int, consume: Callable[[bytes], None]) -> bool:
    """Decompress the gzip data read from ``stream`` (its members one after the other, as
    :func:`gzip.decompress`) a chunk of at most :data:`READ_CHUNK` bytes at a time as it is
    read, passing each chunk to ``consume``; whether it all fit in ``limit`` bytes: False as
    soon as it holds more, having decompressed at most ``limit + 1`` (and read only the
    compressed bytes those need; the chunk past the limit is not passed). Raises what
    :mod:`gzip` raises for data that is not gzip, and what ``stream.read`` raises."""
    count = 0
    with gzip.GzipFile(fileobj=stream, mode="rb") as gunzip:
        while chunk := gunzip.read(min(READ_CHUNK, limit + 1 - count)):
            count += len(chunk)
            if count > limit:
                return False
            consume(chunk)
    return True


def _size(count: int) -> str:
    return f"{count // MIB} MiB" if count % MIB == 0 else f"{count} bytes"


def _no_logs(location: LogLocation, accounts: Sequence[str], hint: str = "") -> NotFoundError:
    """The error for no log folder of ``accounts`` (any, when empty) at ``location``, ending
    with ``hint`` (default none: :meth:`AuditReader._location_hint`)."""
    of = f" of account {', '.join(accounts)}" if accounts else ""
    return NotFoundError(
        f"no CloudTrail logs{of} under {location.uri(location.logs_root)} (check the "
        f"bucket, the trail's S3 key prefix and --account){hint}"
    )


def s3_pool_size(workers: int, *, digests: bool = False) -> int:
    """The connections an S3 client needs for an :class:`AuditReader` of ``workers``: day
    folders are listed on ``workers`` threads while log files are read on as many others (and,
    with ``digests``, ``--verify``'s digest files on a third pool), so up to two (three) times
    ``workers`` requests are in flight; botocore's default of 10 at the least."""
    return max(10, workers * (3 if digests else 2))


def check_workers(workers: Any) -> int:
    if (
        not isinstance(workers, int)
        or isinstance(workers, bool)
        or not MIN_WORKERS <= workers <= MAX_WORKERS
    ):
        raise UsageError(f"'--workers' must be {MIN_WORKERS}-{MAX_WORKERS}. Received: {workers!r}")
    return workers


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int
) -> Generator[tuple[T, R], None, None]:
    """``fn`` over ``items`` on ``workers`` threads, yielded in input order, with at most
    ``2 * workers`` results waiting (memory stays bounded however many objects there are).
    ``items`` is consumed as results are taken, on the calling thread: it may be a generator,
    itself fed by another ``ordered_map``."""
    window = max(1, 2 * workers)
    pool = ThreadPoolExecutor(max_workers=workers)
    pending: deque[tuple[T, Future[R]]] = deque()
    source = iter(items)

    def submit_next() -> None:
        for item in source:
            pending.append((item, pool.submit(fn, item)))
            return

    try:
        while len(pending) < window:
            before = len(pending)
            submit_next()
            if len(pending) == before:
                break
        while pending:
            item, future = pending.popleft()
            result = future.result()
            submit_next()
            yield item, result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


KEY_REFERENCE_FORMS = "a key ARN, a key ID, an alias name (alias/...) or an alias ARN"
"""What :func:`is_key_reference` accepts, for messages."""


def is_key_reference(reference: str) -> bool:
    """Whether ``reference`` has the form of a key ARN, key ID, alias name or alias ARN: what
    KMS takes as a ``KeyId``. No AWS call."""
    return bool(
        KEY_ARN.match(reference)
        or ALIAS_ARN.match(reference)
        or reference.startswith("alias/")
        or KEY_ID.match(reference)
    )


def key_reference(reference: str, argument: str = "--key") -> str:
    """``reference`` if it has the form of a key ARN, key ID, alias name or alias ARN;
    otherwise a :class:`~kmskit.errors.UsageError` naming ``argument``. No AWS call: it is the
    ``type`` of every ``--key`` option, so a malformed one never reaches KMS, and
    :func:`resolve_key` checks with it."""
    if not is_key_reference(reference):
        raise UsageError(f"'{argument}' must be {KEY_REFERENCE_FORMS}. Received: {reference!r}")
    return reference


def key_reference_region(reference: str) -> str | None:
    """The Region a key ARN or alias ARN names, where KMS is called for it; None for a key ID
    or an alias name (the client's own Region)."""
    arn = KEY_ARN.match(reference) or ALIAS_ARN.match(reference)
    return arn.group(1) if arn else None


def resolve_key(
    reference: str, kms_client: Callable[[str | None], Any], *, argument: str = "--key"
) -> str:
    """The key ARN for a key ARN, key ID, alias name or alias ARN.

    A key ARN is returned as given (no call: it may name a key in another account, or a deleted
    one). Anything else is resolved with KMS ``DescribeKey`` in the alias ARN's Region, or the
    configured Region. ``kms_client(region)`` returns a KMS client (``region`` None: the
    configured one). ``argument`` names the option in the error for what is not a key reference.
    The one implementation for every command (:func:`kmskit.envelope.resolve_key_arn` uses it).
    """
    if KEY_ARN.match(key_reference(reference, argument)):
        return reference
    region = key_reference_region(reference)
    try:
        metadata = kms_client(region).describe_key(KeyId=reference)["KeyMetadata"]
    except ClientError as error:
        raise from_client_error(error, f"look up key '{reference}'") from error
    return str(metadata["Arn"])


# --- output -----------------------------------------------------------------------------------


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection);
# callers choose their user agent, so a record could carry =HYPERLINK(...) to an auditor.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(cell: str) -> str:
    """``cell`` with a leading ``'`` if a spreadsheet would run it as a formula (every CSV
    report of kmskit writes its cells through this)."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def csv_report_writer(stream: TextIO, fields: Sequence[str]) -> csv.DictWriter[str]:
    """The writer of a kmskit CSV report of the columns ``fields`` on ``stream`` (opened with
    ``newline=""``), its header written: rows end with CRLF (RFC 4180), and the csv module
    quotes a cell holding any character of the row end, so a caller-chosen value with a bare CR
    in it stays one cell. Its callers pass every cell through :func:`inert_cell`."""
    writer = csv.DictWriter(stream, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    return writer


def csv_row(record: dict[str, Any], keys: Sequence[str]) -> dict[str, str]:
    """One CSV row; a cell a spreadsheet would run as a formula gets a leading ``'``."""
    return {name: inert_cell(cell) for name, cell in _csv_cells(record, keys).items()}


def _cell(value: Any) -> str:
    """A CSV cell of a record's field: empty when absent or null (or an empty object), an
    object as sorted JSON, a list joined with ``;``, anything else as text."""
    if value is None or value == {}:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list):
        return ";".join(_cell(item) for item in value)
    return str(value)


def _csv_cells(record: dict[str, Any], keys: Sequence[str]) -> dict[str, str]:
    identity = _identity(record)
    request = _object(record, "requestParameters")
    grant_id = next(
        (
            found
            for found in (
                _object(record, "responseElements").get("grantId"),
                request.get("grantId"),
                _object(record, "additionalEventData").get("grantId"),
            )
            if found
        ),
        None,
    )
    return {
        "eventTime": str(record.get("eventTime", "")),
        "eventName": str(record.get("eventName", "")),
        "keyArn": ";".join(keys),
        "principal": principal_of(record),
        "userIdentityType": str(identity.get("type", "")),
        "userIdentityArn": str(identity.get("arn", "")),
        "callerAccount": caller_account(record) or "",
        "recipientAccountId": str(record.get("recipientAccountId", "")),
        "awsRegion": str(record.get("awsRegion", "")),
        "sourceIPAddress": str(record.get("sourceIPAddress", "")),
        "userAgent": str(record.get("userAgent", "")),
        "requestKeyId": str(request.get("keyId", "")),
        "encryptionContext": _cell(request.get("encryptionContext")),
        "errorCode": str(record.get("errorCode", "")),
        "eventID": str(record.get("eventID", "")),
        "sourceKeyId": _cell(request.get("sourceKeyId")),
        "destinationKeyId": _cell(request.get("destinationKeyId")),
        "sourceEncryptionContext": _cell(request.get("sourceEncryptionContext")),
        "destinationEncryptionContext": _cell(request.get("destinationEncryptionContext")),
        "granteePrincipal": _cell(request.get("granteePrincipal")),
        "retiringPrincipal": _cell(request.get("retiringPrincipal")),
        "operations": _cell(request.get("operations")),
        "grantId": _cell(grant_id),
        "constraints": _cell(request.get("constraints")),
        "invokedBy": _cell(identity.get("invokedBy")),
        "sourceIdentity": _cell(_object(identity, "sessionContext").get("sourceIdentity")),
    }


class CsvSink:
    """Writes one CSV row per kept record to a text stream opened with ``newline=""``
    (:func:`csv_report_writer`, as ``key inventory --format csv``)."""

    def __init__(self, stream: TextIO) -> None:
        self._writer = csv_report_writer(stream, CSV_FIELDS)

    def __call__(self, record: dict[str, Any], keys: list[str]) -> None:
        self._writer.writerow(csv_row(record, keys))


class JsonLinesSink:
    """Writes each kept record, unchanged, as one JSON line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, record: dict[str, Any], keys: list[str]) -> None:
        self._stream.write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")


def no_kms_read_events(
    where: str, date_range: DateRange, regions: Sequence[str] = (), accounts: Sequence[str] = ()
) -> str:
    """Why log files without a single KMS read event cannot show that a key was not used:
    ``where`` (the log files read, such as ``the log files of account A``) hold none of the
    days of ``date_range``, as with a trail that excludes KMS events or logs write events only
    (KMS's Decrypt, Encrypt, GenerateDataKey are read events). With ``regions`` or ``accounts``
    (the Regions and accounts read, when only some were: ``--log-region``, ``--account``, or
    the one account and Region ``key schedule-deletion`` reads; default empty: every one)
    nobody may have called KMS in those while the trail logs KMS's reads in others (an
    organization trail logs every member account), and the text says so instead of blaming
    the trail. The one wording of this advice: ``kmskit audit`` warns with it,
    ``key schedule-deletion`` reports it."""
    read = []
    nouns = []
    options = []
    if accounts:
        read.append(f"the accounts read ({', '.join(accounts)})")
        nouns.append("account")
        options.append("--account")
    if regions:
        read.append(f"the Regions read ({', '.join(regions)})")
        nouns.append("Region")
        options.append("--log-region")
    if read:
        return (
            f"{where} hold no KMS read event (a Decrypt, a DescribeKey, ...) in "
            f"{' and '.join(read)} from {date_range.since} to {date_range.until}: nobody may "
            f"have called KMS there (other {' and '.join(n + 's' for n in nouns)} were not "
            f"read), so whether a key was used is unknown; read every {' and '.join(nouns)} "
            f"(kmskit audit without {' and '.join(options)}) to tell whether the trail logs "
            "KMS's read events"
        )
    return (
        f"{where} hold no KMS read event (a Decrypt, a DescribeKey, ...) from "
        f"{date_range.since} to {date_range.until}: the trail may exclude KMS events or log "
        "write events only, so whether a key was used is unknown"
    )


# Trail folders named in the text of unseen_use; --format json lists them all.
MAX_FOLDERS_NAMED = 10


class UnseenUse(NamedTuple):
    """Why a run's report could not show a use of a key (:func:`unseen_use`): the field of the
    JSON summary that shows it (``name``), the value the table's last line gives it (``number``:
    0, or how many trail folders) and the reason, the warning's text."""

    name: str
    number: int
    reason: str


def unseen_use(stats: AuditStats, date_range: DateRange, location: LogLocation) -> UnseenUse | None:
    """Why a run's report could not show a use of a key: no log file read at all (the trail
    stopped, deleted, or delivering elsewhere: ``objectsRead``), or log files without a KMS read
    event (:func:`no_kms_read_events`): all of them (``kmsReadEvents``), or those of some trail
    folders (:func:`trail_folder`; ``trailFoldersWithoutKmsReadEvents``, naming the first
    :data:`MAX_FOLDERS_NAMED`): in one bucket an account trail may log write events only while
    an organization trail (or another account's trail) logs KMS's reads. An organization
    trail's folder is one: a member account without KMS read events beside one with some made
    none. None when every trail folder whose log files hold records of the range has KMS read
    events: then a key missing from the report was not used, as far as the trail logged. With
    the Regions or accounts limited (``stats.regions``, ``stats.accounts``) the text says that
    only those were read."""
    if not stats.objects:
        return UnseenUse(
            "objectsRead",
            0,
            f"no log file of {date_range.since} to {date_range.until} was read under "
            f"{location.trail_uri}: the trail may have been stopped or deleted, or deliver "
            "elsewhere (another bucket or prefix), so whether a key was used is unknown",
        )
    if not stats.kms_reads:
        where = f"the log files read under {location.trail_uri}"
        return UnseenUse(
            "kmsReadEvents",
            0,
            no_kms_read_events(where, date_range, stats.regions, stats.limiting_accounts()),
        )
    missing = stats.folders_without_kms_reads()
    if not missing:
        return None
    named = ", ".join(str(folder) for folder in missing[:MAX_FOLDERS_NAMED])
    if len(missing) > MAX_FOLDERS_NAMED:
        named += (
            f" and {len(missing) - MAX_FOLDERS_NAMED} more (all in --format json, "
            "trailFoldersWithoutKmsReadEvents)"
        )
    folders = "trail folders" if len(missing) > 1 else "trail folder"
    where = f"the log files read under {location.trail_uri} in the {folders} of {named}"
    return UnseenUse(
        "trailFoldersWithoutKmsReadEvents",
        len(missing),
        no_kms_read_events(where, date_range, stats.regions, stats.limiting_accounts(missing)),
    )


def summary_table(
    summary: UsageSummary, stats: AuditStats | None = None, unseen: UnseenUse | None = None
) -> str:
    """A fixed-width table: key, principal, event, count, failed, first and last seen.

    With ``stats`` of a run that skipped log files (listed, but gone when read), a last line
    says how many, under the name of the JSON summary's count (``objectsSkipped: 2 ...``): the
    table does not show their records, also when it is saved with ``-o`` and stderr is not.
    Likewise ``unseen`` (:func:`unseen_use`; default None), as ``kmsReadEvents: 0: ...`` (or
    ``trailFoldersWithoutKmsReadEvents: 2: ...``).
    """
    header = ("KEY", "PRINCIPAL", "EVENT", "COUNT", "FAILED", "FIRST SEEN", "LAST SEEN")
    rows = [
        (
            r.key_arn,
            r.principal,
            r.event_name,
            str(r.count),
            str(r.failed),
            _iso(r.first_seen) or "",
            _iso(r.last_seen) or "",
        )
        for r in summary.sorted_rows()
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    out = io.StringIO()
    for row in [header, *rows]:
        cells = [
            cell.rjust(widths[i]) if i in (3, 4) else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        out.write("  ".join(cells).rstrip() + "\n")
    skipped = len(stats.skipped) if stats is not None else 0
    if skipped:
        files = "log file" if skipped == 1 else "log files"
        out.write(
            f"objectsSkipped: {skipped} {files} listed but gone when read (deleted meanwhile): "
            "their records are not in this table\n"
        )
    if unseen is not None:
        out.write(f"{unseen.name}: {unseen.number}: {unseen.reason}\n")
    return out.getvalue()


def summary_json(
    summary: UsageSummary, stats: AuditStats, integrity: Mapping[str, Any] | None = None
) -> str:
    """The summary as a JSON document, ending with a newline like the table; with
    ``integrity`` (``--verify``; default None) under ``"integrity"``."""
    document: dict[str, Any] = {
        "rows": [row.as_dict() for row in summary.sorted_rows()],
        "objectsRead": stats.objects,
        "recordsRead": stats.records,
        "kmsReadEvents": stats.kms_reads,
        "trailFoldersWithoutKmsReadEvents": [
            folder.as_dict() for folder in stats.folders_without_kms_reads()
        ],
        "recordsMatched": stats.matched,
        "duplicatesSkipped": stats.duplicates,
        "objectsSkipped": len(stats.skipped),
        "skippedObjects": stats.skipped,
    }
    if integrity is not None:
        document["integrity"] = dict(integrity)
    return json.dumps(document, indent=2) + "\n"
