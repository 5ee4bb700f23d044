"""What arrives on the queue: EventBridge events (EBS, RDS, kmskit notices) and our own tasks.

:func:`parse` turns a message body into one typed message, or None for an unknown shape (which
the copier logs and drops: retrying it could never succeed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from kmskit.snapshots.model import (
    DETAIL_RECEIVED,
    DETAIL_SHARED,
    EVENT_SOURCE,
    KINDS,
    ROLES,
    Kind,
    Origin,
    Role,
    SnapshotError,
    SnapshotRef,
    copy_key,
)

TASK_MARKER = "kmskit-snapshot-task/1"
CREATED_MARKER = "kmskit-snapshot-task/2"
"""The marker of a queued :class:`Created` (one snapshot of a multi-volume set), the message
version 2 added: a copier of version 1 (after a rollback) dead-letters it as a task of another
version (:func:`unreadable_reason`), to redrive once upgraded again, rather than as a version 1
task it cannot read. Read besides the :data:`TASK_MARKER` of tasks, and of the queued
:class:`Created` that copiers wrote under it before."""
READ_MARKERS = (TASK_MARKER, CREATED_MARKER)
# RDS event IDs (aws-facts.md): created, and copy finished.
RDS_CREATED = {"RDS-EVENT-0042", "RDS-EVENT-0091"}
AURORA_CREATED = {"RDS-EVENT-0075", "RDS-EVENT-0169"}
RDS_COPY_FINISHED = {"RDS-EVENT-0060", "RDS-EVENT-0197"}
EBS_DETAIL_TYPE = "EBS Snapshot Notification"
# CreateSnapshots (multi-volume, crash-consistent sets; Data Lifecycle Manager instance policies).
EBS_MULTI_VOLUME_DETAIL_TYPE = "EBS Multi-Volume Snapshots Completion Status"
RDS_DETAIL_TYPE = "RDS DB Snapshot Event"
AURORA_DETAIL_TYPE = "RDS DB Cluster Snapshot Event"

Action = Literal["copy", "watch", "cleanup"]
# The action of a queued Created (one snapshot of a multi-volume set): not a Task of its own.
CREATED_ACTION = "created"


@dataclass(frozen=True)
class Task:
    """One step for one source and one destination; the body of messages we send ourselves.

    ``copy`` copies ``source`` into ``region`` with ``kms_key_arn``; ``watch`` polls the copy
    ``copy`` until it is available or failed; ``cleanup`` unshares and deletes a staging copy.
    """

    action: Action
    role: Role
    source: SnapshotRef
    origin: Origin
    region: str
    kms_key_arn: str
    destination_account: str | None = None
    copy: SnapshotRef | None = None
    reply_region: str | None = None
    waits: int = 0
    """How often this copy already waited for a free copy slot."""
    counts_completion: bool = False
    """A watch queued by the request that made the copy: it alone counts ``CopiesCompleted``.
    Every other path to the same copy (a duplicate or redelivered copy task that found it, the
    watch that task queued, the copy's completion event in its Region) does the next step too,
    which is idempotent, but does not count it again."""

    def to_json(self) -> str:
        return json.dumps({"kmskit": TASK_MARKER, **asdict(self)}, sort_keys=True)

    def copy_key(self, account: str) -> str:
        """The ``kmskit:copy-key`` of this task's copy, made by ``account``."""
        return copy_key(
            self.origin,
            region=self.region,
            account=account,
            role=self.role,
            destination_account=self.destination_account,
        )

    def with_action(
        self, action: Action, copy: SnapshotRef | None = None, *, counts_completion: bool = False
    ) -> Task:
        return replace(
            self,
            action=action,
            copy=copy if copy is not None else self.copy,
            counts_completion=counts_completion,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        action = data["action"]
        role = data["role"]
        if action not in ("copy", "watch", "cleanup") or role not in ROLES:
            raise SnapshotError(f"not a task: action {action!r}, role {role!r}")
        return cls(
            action=action,
            role=role,
            source=_ref(data["source"]),
            origin=_origin(data["origin"]),
            region=str(data["region"]),
            kms_key_arn=str(data["kms_key_arn"]),
            destination_account=data.get("destination_account"),
            copy=_ref(data["copy"]) if data.get("copy") else None,
            reply_region=data.get("reply_region"),
            waits=int(data.get("waits", 0)),
            # Absent from an older version's tasks: a watch it queued does not count (at most
            # once: it cannot tell whether it made the copy).
            counts_completion=data.get("counts_completion") is True,
        )


def _kind(value: Any) -> Kind:
    if value not in KINDS:
        raise SnapshotError(f"not a snapshot kind: {value!r}")
    kind: Kind = value
    return kind


def _ref(data: dict[str, Any]) -> SnapshotRef:
    return SnapshotRef(
        kind=_kind(data["kind"]),
        id=str(data["id"]),
        region=str(data["region"]),
        account=str(data["account"]),
        partition=str(data.get("partition", "aws")),
    )


def _origin(data: dict[str, Any]) -> Origin:
    return Origin(
        kind=_kind(data["kind"]),
        id=str(data["id"]),
        region=str(data["region"]),
        account=str(data["account"]),
        time=str(data["time"]),
    )


@dataclass(frozen=True)
class Created:
    """A source snapshot became available (EBS createSnapshot, RDS 0042/0091, Aurora 0075/0169),
    or one snapshot of a multi-volume set, which the copier queues for itself
    (:meth:`to_json`)."""

    ref: SnapshotRef

    def to_json(self) -> str:
        """The body of this message on the copier's own queue: a task (``action`` ``created``,
        marker :data:`CREATED_MARKER`) that :func:`parse` reads back as this :class:`Created`."""
        return json.dumps(
            {"kmskit": CREATED_MARKER, "action": CREATED_ACTION, "source": asdict(self.ref)},
            sort_keys=True,
        )


@dataclass(frozen=True)
class CreatedSet:
    """A multi-volume snapshot set completed (EBS createSnapshots): each snapshot in ``refs`` is
    handled as the :class:`Created` of a createSnapshot event. ``skipped`` says, for the log,
    which entries of the event name no completed snapshot (none: empty). ``failure`` is the
    event's ``cause`` when the set's ``result`` is ``failed`` (its completed snapshots are
    copied all the same); default None, a set that succeeded."""

    refs: tuple[SnapshotRef, ...]
    skipped: tuple[str, ...] = ()
    failure: str | None = None


@dataclass(frozen=True)
class CopyFinished:
    """A copy in this Region finished (EBS copySnapshot, RDS-EVENT-0060/0197)."""

    ref: SnapshotRef
    failed: bool
    cause: str


@dataclass(frozen=True)
class Shared:
    """A snapshot was shared with this account (EBS shareSnapshot, or a kmskit notice)."""

    ref: SnapshotRef
    sender: str
    reply_region: str | None


@dataclass(frozen=True)
class Received:
    """A receiving account finished its copy of our staging snapshot (kmskit notice)."""

    staging: SnapshotRef
    sender: str


@dataclass(frozen=True)
class Ignored:
    """A known event that needs nothing from us (a failed createSnapshot, say)."""

    why: str


Message = Task | Created | CreatedSet | CopyFinished | Shared | Received | Ignored
Queued = Task | Created
"""What the copier queues for itself: next steps, and the snapshots of a multi-volume set."""


def _json_object(body: str) -> dict[str, Any] | None:
    """``body`` decoded, when it is a JSON object."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError, RecursionError):  # RecursionError: nested too deeply
        return None
    return data if isinstance(data, dict) else None


def parse(body: str) -> Message | None:
    """The message in an SQS body, or None if its shape is unknown."""
    data = _json_object(body)
    if data is None:
        return None
    try:
        marker = data.get("kmskit")
        if marker in READ_MARKERS and data.get("action") == CREATED_ACTION:
            # TASK_MARKER too: a Created queued before the upgrade, by the version before.
            return Created(_ref(data["source"]))
        if marker == TASK_MARKER:
            return Task.from_dict(data)
        if "detail-type" in data and isinstance(data.get("detail"), dict):
            return _event(data)
    except (KeyError, TypeError, ValueError, ArithmeticError, SnapshotError):
        # ArithmeticError: a number JSON allows but int() refuses (1e999 reads as infinity).
        return None
    return None


def unreadable_reason(body: str) -> str | None:
    """Why ``body``, a message kmskit itself wrote (a task, or a kmskit notice), cannot be read;
    None if it can be, or if it is not kmskit's (an AWS event of unknown shape).

    :func:`parse` returns None for both. An unknown AWS event can be dropped, but a kmskit
    message that does not parse (another version's task: a redrive after an upgrade, or a notice
    from an account running another version) is work: it belongs in the dead-letter queue with
    this reason, not in the log.
    """
    data = _json_object(body)
    if data is None:
        return None
    marker = data.get("kmskit")
    ours = (isinstance(marker, str) and marker.startswith("kmskit-snapshot-task/")) or (
        data.get("source") == EVENT_SOURCE
    )
    if not ours or parse(body) is not None:
        return None
    if isinstance(marker, str) and marker not in READ_MARKERS:
        reads = " and ".join(READ_MARKERS)
        return f"task of another version ({marker}; this copier reads {reads})"
    kind = "task" if marker else f"{data.get('detail-type', 'kmskit')} notice"
    return f"{kind} this copier cannot read ({marker or TASK_MARKER})"


def _event(event: dict[str, Any]) -> Message | None:
    source = event.get("source")
    detail_type = event.get("detail-type")
    detail: dict[str, Any] = event["detail"]
    account = str(event["account"])
    region = str(event["region"])
    if source == "aws.ec2" and detail_type == EBS_DETAIL_TYPE:
        return _ebs_event(detail, account, region)
    if source == "aws.ec2" and detail_type == EBS_MULTI_VOLUME_DETAIL_TYPE:
        return _ebs_multi_volume_event(detail, account)
    if source == "aws.rds" and detail_type in (RDS_DETAIL_TYPE, AURORA_DETAIL_TYPE):
        return _rds_event(detail, detail_type == AURORA_DETAIL_TYPE)
    if source == EVENT_SOURCE and detail_type == DETAIL_SHARED:
        ref = SnapshotRef.from_arn(str(detail["snapshot_arn"]), account=account)
        return Shared(ref=ref, sender=account, reply_region=detail.get("reply_region"))
    if source == EVENT_SOURCE and detail_type == DETAIL_RECEIVED:
        staging = SnapshotRef.from_arn(str(detail["staging_arn"]), account=detail.get("owner"))
        return Received(staging=staging, sender=account)
    return None


def _ebs_event(detail: dict[str, Any], account: str, region: str) -> Message | None:
    name = detail.get("event")
    result = detail.get("result")
    if name not in ("createSnapshot", "copySnapshot", "shareSnapshot") or result not in (
        "succeeded",
        "failed",
    ):
        return None
    arn = str(detail["snapshot_id"])
    if name == "shareSnapshot":
        owner = _account_id(detail.get("source", ""))
        if result == "failed":
            return Ignored(f"shareSnapshot failed for {arn}")
        ref = SnapshotRef.from_arn(arn, account=owner)
        return Shared(ref=ref, sender=owner, reply_region=None)
    ref = SnapshotRef.from_arn(arn, account=account)
    if name == "createSnapshot":
        if result == "failed":
            return Ignored(f"createSnapshot failed for {arn}: {detail.get('cause', '')}")
        return Created(ref)
    return CopyFinished(ref=ref, failed=result == "failed", cause=str(detail.get("cause", "")))


def _ebs_multi_volume_event(detail: dict[str, Any], account: str) -> Message | None:
    """A createSnapshots event: one :class:`Created` per completed snapshot of the set, as a
    :class:`CreatedSet`. An entry that names no EBS snapshot ARN, or one not ``completed``, is
    skipped (and said so). A failed set is a :class:`CreatedSet` of the snapshots it lists as
    ``completed``, if any (with ``failure``, its cause), else Ignored; a succeeded set with no
    snapshot to copy and some entry not understood is of unknown shape."""
    name = detail.get("event")
    result = detail.get("result")
    entries = detail.get("snapshots")
    if name != "createSnapshots" or result not in ("succeeded", "failed"):
        return None
    failure = str(detail.get("cause", "")) if result == "failed" else None
    if not isinstance(entries, list) or not entries:
        return None if failure is None else Ignored(f"createSnapshots failed: {failure}")
    refs: dict[SnapshotRef, None] = {}  # in the event's order, each once
    skipped: list[str] = []
    not_understood = False
    for index, entry in enumerate(entries):
        try:
            ref = SnapshotRef.from_arn(str(entry["snapshot_id"]), account=account)
        except (KeyError, TypeError, SnapshotError):
            not_understood = True
            skipped.append(f"entry {index} names no EBS snapshot: {json.dumps(entry)[:200]}")
            continue
        status = entry.get("status")
        if status != "completed":
            skipped.append(f"{ref.arn} is {status!r}, not completed")
            continue
        refs[ref] = None
    if not refs and failure is not None:
        return Ignored(f"createSnapshots failed: {failure}")
    if not refs and not_understood:
        return None
    if not refs:
        return Ignored(f"createSnapshots with no completed snapshot: {'; '.join(skipped)}")
    return CreatedSet(refs=tuple(refs), skipped=tuple(skipped), failure=failure)


def _account_id(value: Any) -> str:
    """The sharing account of a shareSnapshot event. AWS documents ``source`` as a bare number
    (``"source": 012345678901``); read as a JSON number, an ID with leading zeros loses them."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return f"{value:012d}"
    return str(value)


def _rds_event(detail: dict[str, Any], cluster: bool) -> Message | None:
    event_id = detail.get("EventID")
    arn = str(detail["SourceArn"])
    ref = SnapshotRef.from_arn(arn)
    if (cluster and ref.kind != "AURORA") or (not cluster and ref.kind != "RDS"):
        return None
    if event_id in (AURORA_CREATED if cluster else RDS_CREATED):
        return Created(ref)
    if event_id in RDS_COPY_FINISHED:
        return CopyFinished(ref=ref, failed=False, cause="")
    return None
