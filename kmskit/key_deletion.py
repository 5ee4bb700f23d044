"""Schedule a KMS key's deletion only after checking that nothing uses it.

Deleting a key makes every ciphertext made under it unrecoverable. The KMS developer guide
("Determining past usage of a KMS key") advises finding the key's use in CloudTrail and its
grants before scheduling the deletion. :func:`check_deletion` does both, from the trail's log
files in S3 (:mod:`kmskit.audit`'s reader) and KMS ``ListGrants``:

* **use**: every call of :data:`USE_EVENTS` that names the key in the log files of the key's
  account and Region over the days checked, failed calls included (a caller that was refused
  still depends on the key);
* **gaps**, by the hour where digest files allow: while log file validation is on, CloudTrail
  delivers a digest file every hour per account and Region, even when the Region had no event,
  and each says which period it covers (``digestStartTime`` to ``digestEndTime``; one starts
  where the one before it ended while the trail logs). On a day the digests cover in part, a
  period that none covers is a gap: the trail was stopped (the first digest after it starts a
  new chain) or its digests are gone (the next digest continues the chain). The hours up to
  :data:`~kmskit.audit_integrity.DIGEST_DUE` before now are not checked: their digests may not
  be delivered yet. A period at the first or last hours of a day with log files, next to a day
  with log files and no digest, is judged by the day, as that day is: log file validation was
  turned on or off then. A day without digest files keeps the rule by day: a day before today
  with no log file is a gap (the key's use that day is unknown), and today is not checked.
  Without log file validation every quiet day is a gap;
* **unreadable digest files** (gone when read, not gzip or JSON, lacking a field): the hours
  they cover are unknown;
* **blind spots**: a log file listed but gone when read, and log files without a single KMS
  read event (a trail excluding KMS events, or logging write events only, has log files every
  day and never a Decrypt);
* **grants**: a grant is a standing permission (EBS and RDS, among other AWS services, keep
  grants for the resources they encrypt) that appears in no log until it is used;
* **KMS's own record** (``GetKeyLastUsage``): the key's last successful cryptographic operation,
  kept by KMS whatever the trails log. One within the days checked stops the deletion too; an
  older one, or none, is reported. AWS says not to rely on it alone, and it needs
  ``kms:GetKeyLastUsage``: when KMS refuses it, the report says so and the trail decides.

Any of them stops :func:`schedule_deletion` being called by the CLI unless forced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmskit._text import utc_text
from kmskit.audit import (
    AuditReader,
    AuditStats,
    DateRange,
    LogLocation,
    RecordFilter,
    UsageSummary,
    no_kms_read_events,
)
from kmskit.audit_integrity import DIGEST_DUE, DigestSpan, IntegrityProblem, read_coverage
from kmskit.clients import answer_lost, key_metadata, lost_answer_text
from kmskit.errors import (
    ConflictError,
    KmskitError,
    UsageError,
    from_client_error,
)

# The KMS operations that use a key's material or hand it to someone who will (CloudTrail event
# names). Management calls (DescribeKey, ListGrants, GetKeyPolicy), which AWS Config and
# consoles make all the time, are not use.
USE_EVENTS: frozenset[str] = frozenset(
    {
        "CreateGrant",
        "Decrypt",
        "Decapsulate",
        "DeriveSharedSecret",
        "Encapsulate",  # ML-KEM; the encapsulated secret is recovered only by Decapsulate
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetPublicKey",  # the public key may encrypt or verify outside KMS from now on
        "ReEncrypt",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)
# ScheduleKeyDeletion's PendingWindowInDays.
MIN_WAITING_DAYS = 7
MAX_WAITING_DAYS = 30
DEFAULT_WAITING_DAYS = 30
DEFAULT_CHECK_DAYS = 90
PENDING_STATES = ("PendingDeletion", "PendingReplicaDeletion")
# .../CloudTrail/<region>/YYYY/MM/DD/<file>: the delivery day of a log file.
_DELIVERY_DAY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/[^/]+\Z")
# A digest starts at the second the one before it ended while the trail logs; a period no
# digest covers is a gap when it is longer than this (clock jitter between the digests of two
# trails, rounding). A stop shorter than this is not seen by the hour (its StopLogging and
# StartLogging are in the log files: kmskit audit shows them).
DIGEST_TOLERANCE = timedelta(minutes=1)
# How far from now + waiting days the deletion date of a key found pending deletion after a
# lost ScheduleKeyDeletion answer may be and still be that request's (clocks, time in flight).
LOST_SCHEDULE_TOLERANCE = timedelta(days=1)


def check_whole_days(value: Any, argument: str, low: int, high: int, why: str) -> int:
    """``value`` if it is a whole number of days from ``low`` to ``high``; otherwise a
    :class:`~kmskit.errors.UsageError` naming ``argument`` and the value, with ``why`` the range
    is what it is."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"'{argument}' must be a whole number of days. Received: {value!r}")
    if not low <= value <= high:
        raise UsageError(f"'{argument}' must be {low}-{high} days ({why}). Received: {value}")
    return value


def check_waiting_days(value: Any) -> int:
    """``value`` if it is a whole number of days KMS accepts as the waiting period (7-30);
    otherwise a :class:`~kmskit.errors.UsageError` naming ``--waiting-days``."""
    return check_whole_days(
        value,
        "--waiting-days",
        MIN_WAITING_DAYS,
        MAX_WAITING_DAYS,
        "KMS's waiting period before it deletes a key",
    )


@dataclass(frozen=True)
class DeletionTarget:
    """The key as DescribeKey shows it."""

    key_arn: str
    key_id: str
    account: str
    region: str
    key_state: str
    multi_region_key_type: str | None = None  # PRIMARY or REPLICA
    replica_arns: tuple[str, ...] = ()


def describe_deletion_target(kms: Any, key: str) -> DeletionTarget:
    """DescribeKey, refusing what cannot or need not be scheduled: an AWS managed key
    (:class:`UsageError`), a key already pending deletion (:class:`ConflictError`, naming its
    deletion date and how to cancel). ``key``: as the user gave it (``KEY``)."""
    metadata = key_metadata(kms, key)
    arn = str(metadata["Arn"])
    if metadata.get("KeyManager") == "AWS":
        raise UsageError(
            "'KEY' must be a customer managed key: KMS deletes no AWS managed key. Received: "
            f"{key} ({arn})"
        )
    state = str(metadata.get("KeyState", ""))
    if state in PENDING_STATES:
        when = metadata.get("DeletionDate")
        deletion = f", deletion on {utc_text(when)}" if isinstance(when, datetime) else ""
        raise ConflictError(
            f"'KEY' is already pending deletion. Received: {key} ({arn}, state {state}"
            f"{deletion}); cancel with: aws kms cancel-key-deletion --key-id {arn}"
        )
    multi = metadata.get("MultiRegionConfiguration") or {}
    parts = arn.split(":")
    return DeletionTarget(
        key_arn=arn,
        key_id=str(metadata["KeyId"]),
        account=parts[4],
        region=parts[3],
        key_state=state,
        multi_region_key_type=multi.get("MultiRegionKeyType"),
        replica_arns=tuple(str(r["Arn"]) for r in multi.get("ReplicaKeys", ())),
    )


@dataclass
class _DaysWithLogs:
    """A :class:`kmskit.audit.ReadObserver` that notes the delivery days of the log files read."""

    days: set[date] = field(default_factory=set)

    def begin(self, prefixes: Sequence[str]) -> None:
        """Nothing to do before the files."""

    def log_file(
        self, key: str, last_modified: datetime | None, sha256: str | None, in_range: bool
    ) -> None:
        found = _DELIVERY_DAY.search(key)
        if found and sha256 is not None:  # None: listed, but gone when read
            self.days.add(date(*(int(part) for part in found.groups())))

    def end(self) -> None:
        """Nothing to do after the files."""


@dataclass(frozen=True)
class LastUsage:
    """KMS's record of the key's last successful cryptographic operation (``GetKeyLastUsage``).

    ``operation``/``when``/``event_id``: that operation (None: none since ``tracking_since``);
    ``tracking_since``: when KMS began recording for this key; ``created``: the key's creation;
    ``refused``: why the record could not be read (then the rest is None)."""

    operation: str | None = None
    when: datetime | None = None
    event_id: str | None = None
    tracking_since: datetime | None = None
    created: datetime | None = None
    refused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ``YYYY-MM-DDTHH:MM:SSZ``, absent ones None."""
        return {
            "operation": self.operation,
            "time": utc_text(self.when) if self.when else None,
            "cloudTrailEventId": self.event_id,
            "trackingSince": utc_text(self.tracking_since) if self.tracking_since else None,
            "keyCreated": utc_text(self.created) if self.created else None,
            "refused": self.refused,
        }

    def text(self) -> str:
        if self.refused:
            return f"not read ({self.refused})"
        if self.operation and self.when:
            event = f", CloudTrail event {self.event_id}" if self.event_id else ""
            return f"{self.operation} at {utc_text(self.when)}{event}"
        since = utc_text(self.tracking_since) if self.tracking_since else "tracking began"
        if self.created and self.tracking_since and self.created >= self.tracking_since:
            return "never used since its creation"
        return f"not used since {since} (KMS keeps no record before that)"


def read_last_usage(kms: Any, target: DeletionTarget) -> LastUsage:
    """GetKeyLastUsage; a refusal (access denied, a Region or key store without it) is kept as
    ``refused`` with KMS's code, not raised: the trail's logs remain the authority."""
    try:
        answer = kms.get_key_last_usage(KeyId=target.key_arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        return LastUsage(refused=f"{code}: {error.response.get('Error', {}).get('Message', '')}")
    used = answer.get("KeyLastUsage") or {}
    return LastUsage(
        operation=used.get("Operation"),
        when=used.get("Timestamp"),
        event_id=used.get("CloudTrailEventId"),
        tracking_since=answer.get("TrackingStartDate"),
        created=answer.get("KeyCreationDate"),
    )


@dataclass
class DeletionCheck:
    """What :func:`check_deletion` found. ``blockers`` says why deleting is not safe (empty:
    nothing found)."""

    target: DeletionTarget
    date_range: DateRange
    usage: UsageSummary
    stats: AuditStats
    days_with_logs: set[date]
    grants: list[dict[str, Any]]

    days_with_digests_only: set[date] = field(default_factory=set)
    """Quiet days: no log file, but digest files show the trail was logging."""
    last_usage: LastUsage = field(default_factory=LastUsage)
    periods_without_digests: list[tuple[datetime, datetime]] = field(default_factory=list)
    """Gaps by the hour: periods (UTC, start to end) of days with digest files that no digest
    file covers (:func:`periods_without_digests`)."""
    unreadable_digests: list[IntegrityProblem] = field(default_factory=list)
    """Digest files that could not be read: the hours they cover are unknown."""
    digest_files: int = 0
    """The digest files of the account and Region found in the days read."""
    hours_checked_until: datetime | None = None
    """Where the check by the hour stops (:func:`hours_checked`; None: not checked)."""

    @property
    def days_without_logs(self) -> list[date]:
        """The days before today (UTC) of the range with neither log nor digest files."""
        return [
            day
            for day in _days_before_today(self.date_range)
            if day not in self.days_with_logs and day not in self.days_with_digests_only
        ]

    def as_dict(self) -> dict[str, Any]:
        """What was found, JSON-ready (``kmskit key schedule-deletion --format json``)."""
        target = self.target
        return {
            "keyArn": target.key_arn,
            "keyState": target.key_state,
            "account": target.account,
            "region": target.region,
            "since": self.date_range.since.isoformat(),
            "until": self.date_range.until.isoformat(),
            "logFiles": self.stats.objects,
            "kmsReadEvents": self.stats.kms_reads,
            "use": [row.as_dict() for row in self.usage.sorted_rows()],
            "daysWithoutLogs": [day.isoformat() for day in self.days_without_logs],
            "digestFiles": self.digest_files,
            "hoursCheckedUntil": (
                utc_text(self.hours_checked_until) if self.hours_checked_until else None
            ),
            "periodsWithoutDigests": [
                {"start": utc_text(start), "end": utc_text(end)}
                for start, end in self.periods_without_digests
            ],
            "unreadableDigestFiles": [problem.as_dict() for problem in self.unreadable_digests],
            "skippedLogFiles": list(self.stats.skipped),
            "kmsLastUse": self.last_usage.as_dict(),
            "grants": [
                {
                    "grantId": grant.get("GrantId"),
                    "granteePrincipal": grant.get("GranteePrincipal"),
                    "operations": list(grant.get("Operations", [])),
                    "name": grant.get("Name") or None,
                }
                for grant in self.grants
            ],
            "replicaArns": list(target.replica_arns),
            "blockers": self.blockers,
        }

    @property
    def blockers(self) -> list[str]:
        found: list[str] = []
        rows = self.usage.sorted_rows()
        if rows:
            calls = sum(row.count for row in rows)
            seen = [row.last_seen for row in rows if row.last_seen is not None]
            last = f", the last at {utc_text(max(seen))}" if seen else ""
            found.append(
                f"{calls} call(s) used the key from {self.date_range.since} to "
                f"{self.date_range.until}{last}"
            )
        missing = self.days_without_logs
        if missing:
            found.append(
                f"{len(missing)} of the days checked have no log or digest file of account "
                f"{self.target.account}, Region {self.target.region} (the first "
                f"{missing[0]}), so the key's use then is unknown"
            )
        periods = self.periods_without_digests
        if periods:
            start, end = periods[0]
            found.append(
                f"{len(periods)} period(s) of the days checked are covered by no digest file of "
                f"account {self.target.account}, Region {self.target.region} (the first "
                f"{utc_text(start)}..{utc_text(end)}): the trail was stopped or its digest files "
                "are gone, so the key's use then is unknown"
            )
        if self.unreadable_digests:
            first = self.unreadable_digests[0]
            found.append(
                f"{len(self.unreadable_digests)} digest file(s) could not be read (the first: "
                f"{first.uri} {first.detail}), so whether the trail logged in the hours they "
                "cover is unknown"
            )
        if self.stats.skipped:
            found.append(
                f"{len(self.stats.skipped)} log file(s) were listed but gone when read (deleted "
                "meanwhile), so the key's use in them is unknown"
            )
        if not self.stats.kms_reads:
            # The one account and Region read (check_deletion): worded as such, not as a
            # trail that leaves KMS's reads out, which one quiet key's Region cannot show.
            stats = self.stats
            found.append(
                no_kms_read_events(
                    "the log files", self.date_range, stats.regions, stats.limiting_accounts()
                )
            )
        if self.grants:
            found.append(f"the key has {len(self.grants)} grant(s)")
        used = self.last_usage
        if used.when is not None and self.date_range.contains(used.when):
            found.append(f"KMS records its last use in the days checked: {used.text()}")
        return found


def check_deletion(
    kms: Any,
    reader: AuditReader,
    location: LogLocation,
    target: DeletionTarget,
    date_range: DateRange,
    *,
    now: datetime | None = None,
) -> DeletionCheck:
    """Read the trail's log and digest files of the key's account and Region for
    ``date_range`` and the key's grants (the module docstring says what counts). ``now``: when
    the check by the hour stops (:func:`hours_checked`; default: the clock). A location without
    log files of that account and Region is :class:`~kmskit.errors.NotFoundError` (from the
    reader)."""
    usage = UsageSummary()
    days = _DaysWithLogs()
    stats = reader.run(
        location,
        date_range,
        RecordFilter(key_arns=frozenset({target.key_arn}), event_names=USE_EVENTS),
        usage.add,
        accounts=[target.account],
        regions=[target.region],
        observer=days,
    )
    # Every trail's digests under the location (an organization trail's member folder too):
    # the reader reads all their log files, as log file names do not name the trail.
    coverage = read_coverage(
        reader,
        location,
        [account.digest_prefix(location) for account in stats.account_paths],
        account=target.account,
        region=target.region,
        days=date_range.folder_days(),
    )
    covered = _merged(coverage.spans)
    digest_days = _days_covered(covered)
    window = hours_checked(date_range, now or datetime.now(UTC))
    return DeletionCheck(
        target=target,
        date_range=date_range,
        usage=usage,
        stats=stats,
        days_with_logs=days.days,
        grants=list_grants(kms, target),
        # A digest covers part of the day: CloudTrail was logging the Region that day.
        days_with_digests_only={
            day
            for day in _days_before_today(date_range)
            if day not in days.days and day in digest_days
        },
        last_usage=read_last_usage(kms, target),
        periods_without_digests=_periods_without_digests(covered, digest_days, window, days.days),
        unreadable_digests=coverage.problems,
        digest_files=coverage.files,
        hours_checked_until=window[1],
    )


def hours_checked(date_range: DateRange, now: datetime) -> tuple[datetime, datetime]:
    """The period checked by the hour: from the range's first midnight to the whole hour
    :data:`~kmskit.audit_integrity.DIGEST_DUE` (2 hours) before ``now``, or the range's end if
    sooner. CloudTrail writes the digest of an hour at its end and delivers it within about an
    hour (``kmskit audit --verify`` calls a log file pending for as long): an hour later, a
    period without a digest is no longer one still to come."""
    start, end = date_range.bounds()
    due = (now - DIGEST_DUE).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return start, max(start, min(end, due))


def periods_without_digests(
    spans: Iterable[DigestSpan], window: tuple[datetime, datetime], days_with_logs: Set[date]
) -> list[tuple[datetime, datetime]]:
    """The periods of ``window`` (:func:`hours_checked`) that no digest of ``spans`` covers and
    that are gaps, as the module docstring says, joined where they touch, in time order.
    ``days_with_logs``: the delivery days of the log files read (a day next to one with log
    files and no digest is where log file validation was turned on or off)."""
    covered = _merged(spans)
    return _periods_without_digests(covered, _days_covered(covered), window, days_with_logs)


@dataclass(frozen=True)
class _Covered:
    """A period digests cover without a break; ``chain_start``: the digest it begins with
    starts a chain (the first after logging or validation was (re)started)."""

    start: datetime
    end: datetime
    chain_start: bool


def _merged(spans: Iterable[DigestSpan]) -> list[_Covered]:
    """The digests' periods joined where they touch (within :data:`DIGEST_TOLERANCE`), in time
    order. Of digests starting together, one that continues a chain begins the period."""
    merged: list[_Covered] = []
    for span in sorted(spans, key=lambda s: (s.start, s.chain_start)):
        if merged and span.start <= merged[-1].end + DIGEST_TOLERANCE:
            if span.end > merged[-1].end:
                merged[-1] = replace(merged[-1], end=span.end)
        else:
            merged.append(_Covered(span.start, span.end, span.chain_start))
    return merged


def _days_covered(covered: Iterable[_Covered]) -> set[date]:
    """The days some of whose time ``covered`` covers."""
    days: set[date] = set()
    for period in covered:
        if period.end > period.start:
            day, last = period.start.date(), (period.end - timedelta(microseconds=1)).date()
            while day <= last:
                days.add(day)
                day += timedelta(days=1)
    return days


def _periods_without_digests(
    covered: Sequence[_Covered],
    digest_days: Set[date],
    window: tuple[datetime, datetime],
    days_with_logs: Set[date],
) -> list[tuple[datetime, datetime]]:
    """:func:`periods_without_digests` of ``covered`` (:func:`_merged`), whose days
    (:func:`_days_covered`) are ``digest_days``."""
    gaps: list[tuple[datetime, datetime]] = []
    for start, end, following in _uncovered(covered, *window):
        if end - start <= DIGEST_TOLERANCE:
            continue
        if following is not None and not following.chain_start:
            # The next digest continues the chain: the trail logged with validation on all
            # along, and this period's digests are gone. A gap, whatever the days show.
            gaps.append((start, end))
            continue
        gaps += [
            (part_start, part_end)
            for part_start, part_end in _by_day(start, end)
            if part_start.date() in digest_days  # a day without digests goes by the day
            and part_end - part_start > DIGEST_TOLERANCE
            and not _validation_turned(part_start, part_end, digest_days, days_with_logs)
        ]
    joined: list[tuple[datetime, datetime]] = []
    for start, end in gaps:
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined


def _uncovered(
    covered: Sequence[_Covered], start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, _Covered | None]]:
    """The periods from ``start`` to ``end`` that ``covered`` (in time order) leaves out, each
    with the covered period after it (which may begin after ``end``; None: none)."""
    cursor = start
    for period in covered:
        if cursor >= end:
            return
        if period.end <= cursor:
            continue
        if period.start > cursor:
            yield cursor, min(period.start, end), period
        cursor = max(cursor, period.end)
    if cursor < end:
        yield cursor, end, None


def _by_day(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """``start`` to ``end`` cut at each midnight (UTC)."""
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), time.min, tzinfo=UTC)
        yield start, min(end, midnight)
        start = midnight


def _validation_turned(
    start: datetime, end: datetime, digest_days: Set[date], days_with_logs: Set[date]
) -> bool:
    """Whether a part of a day with log files that no digest covers is its first or last hours,
    next to a day with log files and no digest: log file validation was turned on (the digest
    after it starts a chain) or off then, and the part goes by the day."""
    day = start.date()
    midnight = datetime.combine(day, time.min, tzinfo=UTC)
    if start == midnight:
        neighbour = day - timedelta(days=1)
    elif end == midnight + timedelta(days=1):
        neighbour = day + timedelta(days=1)
    else:
        return False
    return day in days_with_logs and neighbour in days_with_logs and neighbour not in digest_days


def _days_before_today(date_range: DateRange) -> list[date]:
    last = min(date_range.until, datetime.now(UTC).date() - timedelta(days=1))
    return [date_range.since + timedelta(days=n) for n in range((last - date_range.since).days + 1)]


def grants_of(kms: Any, key: str) -> Iterator[dict[str, Any]]:
    """Every grant of ``key`` (ListGrants, all pages, read as they are needed); a
    ``ClientError`` is raised as it is."""
    for page in kms.get_paginator("list_grants").paginate(KeyId=key):
        yield from page.get("Grants", [])


def list_grants(kms: Any, target: DeletionTarget) -> list[dict[str, Any]]:
    """Every grant of the key (ListGrants, all pages)."""
    try:
        return list(grants_of(kms, target.key_arn))
    except ClientError as error:
        raise from_client_error(error, f"list the grants of {target.key_arn}") from error


def deletion_when(deletion_date: datetime | None, waiting_days: int | None) -> str:
    """When KMS deletes a key scheduled for deletion, in words: ``on <date>``, or, for a
    multi-Region primary with replicas (no date, ``PendingReplicaDeletion``), ``<N> days after
    its last replica is deleted`` (``waiting_days``: its waiting period, which starts then; None
    where unknown, then without the number)."""
    if deletion_date is not None:
        return f"on {utc_text(deletion_date)}"
    after = "after its last replica is deleted"
    return f"{waiting_days} days {after}" if waiting_days is not None else after


def schedule_deletion(kms: Any, target: DeletionTarget, waiting_days: int) -> datetime | None:
    """ScheduleKeyDeletion with a waiting period of ``waiting_days`` (7-30): the deletion date,
    or None for a multi-Region primary with replicas, which waits in ``PendingReplicaDeletion``
    until its last replica is deleted (KMS gives no date then; the waiting period starts
    after).

    The request is sent once (:data:`~kmskit.clients.NOT_RESENT`: KMS refuses a second for the
    key the first scheduled, ``KMSInvalidStateException``). When its answer is lost
    (:func:`~kmskit.clients.answer_lost`: a 5xx, a connection dropped), DescribeKey tells: a key
    now pending deletion was scheduled by this call (its ``DeletionDate`` is returned);
    otherwise :class:`~kmskit.errors.KmskitError` with the key's state, or saying that
    reading it failed too."""
    check_waiting_days(waiting_days)
    try:
        # The key ID, not the ARN: the key is in the caller's account and Region (KMS schedules
        # no other account's key), and moto 5 finds keys only by ID here.
        response = kms.schedule_key_deletion(KeyId=target.key_id, PendingWindowInDays=waiting_days)
    except (ClientError, BotoCoreError) as error:
        if answer_lost(error):
            return _scheduled_after_lost_answer(kms, target, waiting_days, error)
        if isinstance(error, ClientError):
            doing = f"schedule the deletion of {target.key_arn}"
            raise from_client_error(error, doing) from error
        raise
    deletion = response.get("DeletionDate")
    return deletion if isinstance(deletion, datetime) else None


def _scheduled_after_lost_answer(
    kms: Any, target: DeletionTarget, waiting_days: int, error: ClientError | BotoCoreError
) -> datetime | None:
    """:func:`schedule_deletion`'s deletion date read with DescribeKey after the answer to
    ScheduleKeyDeletion was lost (``error``), or the error saying what is known. A deletion
    date more than :data:`LOST_SCHEDULE_TOLERANCE` from ``waiting_days`` from now is not this
    request's (someone else scheduled the key)."""
    lost = lost_answer_text(error, f"schedule the deletion of {target.key_arn}", "KMS")
    try:
        metadata = key_metadata(kms, target.key_arn)
    except (KmskitError, BotoCoreError) as unread:
        raise KmskitError(
            f"{lost}; whether KMS scheduled it is unknown, as reading the key failed too "
            f"({unread}): check its state (aws kms describe-key --key-id {target.key_arn}) "
            "before running the command again"
        ) from error
    state = metadata.get("KeyState")
    if state in PENDING_STATES:
        deletion = metadata.get("DeletionDate")
        if not isinstance(deletion, datetime):
            return None
        asked = datetime.now(UTC) + timedelta(days=waiting_days)
        if abs(deletion - asked) <= LOST_SCHEDULE_TOLERANCE:
            return deletion
        raise KmskitError(
            f"{lost}; the key is in state {state} with deletion on {utc_text(deletion)}, which "
            f"this request ({waiting_days} days, about {utc_text(asked)}) did not ask for: "
            "someone else may have scheduled it. Check its state (aws kms describe-key "
            f"--key-id {target.key_arn}); to keep the key, cancel the deletion (aws kms "
            "cancel-key-deletion)"
        ) from error
    raise KmskitError(
        f"{lost}; the key is still in state {state}, so KMS most likely did not schedule it: "
        "run the command again"
    ) from error
