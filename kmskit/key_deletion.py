"""Schedule a KMS key's deletion only after checking that nothing uses it.

Deleting a key makes every ciphertext made under it unrecoverable. The KMS developer guide
("Determining past usage of a KMS key") advises finding the key's use in CloudTrail and its
grants before scheduling the deletion. :func:`check_deletion` does both, from the trail's log
files in S3 (:mod:`kmskit.audit`'s reader) and KMS ``ListGrants``:

* **use**: every call of :data:`USE_EVENTS` that names the key in the log files of the key's
  account and Region over the days checked, failed calls included (a caller that was refused
  still depends on the key);
* **gaps**: a day before today with neither a log file nor a digest file of that account and
  Region. CloudTrail delivers a digest file every hour while log file validation is on, even
  when the Region had no event (a quiet day, not a gap), so a gap means the trail was not
  logging or the files were deleted, and the key's use that day is unknown. Today is not
  checked for gaps: its files may not be delivered yet. Without log file validation every
  quiet day is a gap;
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from kmskit._text import utc_text
from kmskit.audit import AuditReader, AuditStats, DateRange, LogLocation, RecordFilter, UsageSummary
from kmskit.errors import ConflictError, UsageError, from_client_error

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
    try:
        metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
    except ClientError as error:
        raise from_client_error(error, f"describe key {key}") from error
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
        if self.stats.skipped:
            found.append(
                f"{len(self.stats.skipped)} log file(s) were listed but gone when read (deleted "
                "meanwhile), so the key's use in them is unknown"
            )
        if not self.stats.kms_reads:
            found.append(
                f"the log files of account {self.target.account}, Region {self.target.region} "
                f"hold no KMS read event (a Decrypt, a DescribeKey, ...) from "
                f"{self.date_range.since} to {self.date_range.until}: the trail may exclude KMS "
                "events or log write events only, so the key's use is unknown"
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
) -> DeletionCheck:
    """Read the trail's log files of the key's account and Region for ``date_range`` and the
    key's grants (the module docstring says what counts). A location without log files of
    that account and Region is :class:`~kmskit.errors.NotFoundError` (from the reader)."""
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
    accounts = reader.account_paths(location, [target.account])
    quiet = {
        day
        for day in _days_before_today(date_range)
        if day not in days.days
        and any(
            # A digest file: CloudTrail was logging the Region that day.
            reader.list_entries(
                location, f"{account.digest_prefix(location)}{target.region}/{day:%Y/%m/%d}/"
            )
            for account in accounts
        )
    }
    return DeletionCheck(
        target=target,
        date_range=date_range,
        usage=usage,
        stats=stats,
        days_with_logs=days.days,
        grants=list_grants(kms, target),
        days_with_digests_only=quiet,
        last_usage=read_last_usage(kms, target),
    )


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


def schedule_deletion(kms: Any, target: DeletionTarget, waiting_days: int) -> datetime | None:
    """ScheduleKeyDeletion with a waiting period of ``waiting_days`` (7-30): the deletion date,
    or None for a multi-Region primary with replicas, which waits in ``PendingReplicaDeletion``
    until its last replica is deleted (KMS gives no date then; the waiting period starts
    after)."""
    check_waiting_days(waiting_days)
    try:
        # The key ID, not the ARN: the key is in the caller's account and Region (KMS schedules
        # no other account's key), and moto 5 finds keys only by ID here.
        response = kms.schedule_key_deletion(KeyId=target.key_id, PendingWindowInDays=waiting_days)
    except ClientError as error:
        raise from_client_error(error, f"schedule the deletion of {target.key_arn}") from error
    deletion = response.get("DeletionDate")
    return deletion if isinstance(deletion, datetime) else None
