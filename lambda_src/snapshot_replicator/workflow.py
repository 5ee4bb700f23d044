"""What the copier does with each message: the replication state machine.

Replicator (source account):
    Created -> one ``copy`` task per destination.
    CreatedSet (a multi-volume set) -> one Created message per snapshot on the queue, each
        handled (retried, dead-lettered) on its own; a set of one is handled as its Created.
    copy (replica) -> copy into the destination Region with its key -> ``watch``.
    copy (staging, cross-account) -> copy into the destination Region with the sharing key
        (a CMK of this account that the target account may use) -> ``watch``.
    watch -> available: replica done; staging shared with the target account and announced on
        its receiver bus (``CopiesCompleted`` is counted by the watch of the request that made
        the copy only, see :attr:`Task.counts_completion`). failed: ``CopyFailed`` metric and
        dead letter with the reason. gone:
        done if another live copy of the same source exists (a lost race, a duplicate the sweep
        removed, a redrive that replaced a failed copy), else the copy task is queued again.
    Received (from the target account) -> unshare the staging copy, tag it delivered (the notice
        that tags it counts ``Delivered``, once its message is done; one that finds it tagged
        only unshares again); the sweep deletes it once its source is older than the sweep
        window.
Receiver (target account):
    Shared (EBS shareSnapshot event, kmskit notice, or the sweep) -> ``copy`` (received) with
        the receiver's own key -> ``watch`` -> available: onward copies to the receiver's
        destinations, and a Received notice back to the replicator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kmskit.snapshots.engine import (
    SnapshotEngine,
    SnapshotInfo,
    copy_failure,
    copy_refusal,
    shared_origin,
    source_failure,
)
from kmskit.snapshots.model import (
    DETAIL_RECEIVED,
    DETAIL_SHARED,
    RECEIVER_BUS_NAME,
    REPLICATOR_BUS_NAME,
    TAG_DELIVERED,
    TAG_DESTINATION_ACCOUNT,
    TAG_REPLICATOR,
    TAG_REPLY_REGION,
    TAG_ROLE,
    TAG_STAGING_ARN,
    Origin,
    SnapshotError,
    SnapshotRef,
    iso,
    parse_iso,
)
from kmskit.snapshots.outcomes import (
    COPY_FAILED,
    SOURCE_FAILED,
    SOURCE_STATE_CODES,
    DeadLetterError,
    LimitReachedError,
    RetryableError,
    StepError,
    is_key_failure,
)

from .config import Config
from .logs import JsonLogger
from .messages import (
    CopyFinished,
    Created,
    CreatedSet,
    Ignored,
    Message,
    Received,
    Shared,
    Task,
)
from .outbox import Outbox

WATCH_DELAY_SECONDS = 900
UNENCRYPTED_AURORA = "UnencryptedAuroraSnapshot"
# A Shared notice of a staging copy whose source is past the receiver's retention.
PAST_RETENTION = "PastRetention"
# After a copy limit, other copies of the same kind into the same Region wait without asking.
SATURATED_SECONDS = 60.0


def past_retention(start: datetime | None, retention_days: int | None, now: datetime) -> bool:
    """Whether a copy whose source was taken at ``start`` is past ``retention_days`` at ``now``:
    the sweep deletes such a copy (None: no retention, or no time known, never past)."""
    return (
        retention_days is not None
        and start is not None
        and now - start > timedelta(days=retention_days)
    )


class DeadLetterTaskError(DeadLetterError):
    """Dead-letter ``body`` (a task that a redrive runs again) instead of the current message;
    ``metric`` is counted once it is in the dead-letter queue."""

    def __init__(self, reason: str, code: str, body: str, metric: str | None = None) -> None:
        super().__init__(reason, code)
        self.body = body
        self.metric = metric


class CopyLimitError(LimitReachedError):
    """``task`` met a copy limit: the copier queues it to wait for a slot, also when the message
    being handled is an event (a Shared notice at a receiver), not the task itself."""

    def __init__(self, reason: str, code: str, task: Task) -> None:
        super().__init__(reason, code)
        self.task = task


class Workflow:
    def __init__(
        self,
        config: Config,
        engine: SnapshotEngine,
        outbox: Outbox,
        log: JsonLogger,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
        count_when_done: Callable[[str], None] | None = None,
    ) -> None:
        """``count_when_done(name)`` counts the metric ``name`` for the message being handled
        once it is done (the copier: deleted from the queue with its next steps queued, so a
        message delivered again does not count twice). Default: counted at once."""
        self.config = config
        self.engine = engine
        self.outbox = outbox
        self.log = log
        self.now = now
        self.clock = clock
        self._count_when_done = count_when_done
        self._saturated: dict[tuple[str, str], float] = {}

    def count_when_done(self, name: str) -> None:
        """Count metric ``name`` for the message being handled (see ``__init__``)."""
        if self._count_when_done is not None:
            self._count_when_done(name)
        else:
            self.log.metric(name, self.config.replicator_id)

    def handle(self, message: Message) -> str:
        """Do one step; returns what was done. Raises RetryableError or DeadLetterError."""
        match message:
            case Task(action="copy"):
                outcome = self.copy(message)
            case Task(action="watch"):
                outcome = self.watch(message)
            case Task():
                outcome = self.cleanup(message.copy or message.source, message.destination_account)
            case Created():
                outcome = self.created(message.ref)
            case CreatedSet():
                outcome = self.created_set(message)
            case CopyFinished():
                outcome = self.copy_finished(message)
            case Shared():
                outcome = self.shared(message.ref, message.sender, message.reply_region)
            case Received():
                outcome = self.received(message)
            case Ignored():
                outcome = f"ignored: {message.why}"
        return outcome

    # ------------------------------------------------------------------ replicator
    def created(self, ref: SnapshotRef) -> str:
        not_ours = self.not_a_source(ref)
        if not_ours:
            return f"ignored: {not_ours}"
        info = self.engine.describe(ref)
        if info is None:
            return f"ignored: {ref.arn} no longer exists"
        problem = self.selection_problem(info)
        if problem:
            return f"ignored: {problem}"
        refusal = copy_refusal(info)
        if refusal:
            raise DeadLetterError(refusal, UNENCRYPTED_AURORA)
        failure = source_failure(info)
        if failure:
            # A failed snapshot never becomes available: waiting would only retry for a day.
            raise DeadLetterError(failure, SOURCE_FAILED)
        if info.state != "available":
            raise RetryableError(f"{ref.arn} is {info.state}; it is copied once available")
        tasks = self.tasks_for(info)
        self.outbox.send(tasks)
        return f"queued {len(tasks)} copies"

    def not_a_source(self, ref: SnapshotRef) -> str | None:
        """Why ``ref`` is no source of this copier, known without a call (a receiver, a kind not
        replicated, another account or Region); None if it may be one."""
        cfg = self.config
        if cfg.mode != "replicator":
            return "receivers do not replicate their own snapshots"
        if ref.kind not in cfg.resource_types:
            return f"{ref.kind} is not replicated"
        if ref.region != cfg.region or ref.account not in ("", cfg.account):
            return f"{ref.arn} is not in {cfg.account}/{cfg.region}"
        return None

    def created_set(self, message: CreatedSet) -> str:
        """A multi-volume set: each of its snapshots is queued as a :class:`Created` message of
        its own, which :meth:`created` handles exactly as a createSnapshot event's. So each
        snapshot is retried, given its grace for a refusal, and dead-lettered on its own (with
        a reason naming it; a redrive handles that one snapshot again), and none is described
        twice because another could not be handled. The messages are queued only once this one
        is done (with the batch's next steps): if they cannot be, the set is delivered again,
        and a copy task finds a copy already made. A set of one snapshot is handled at once;
        a set that is no source of this copier (:meth:`not_a_source`) is not queued."""
        cfg = self.config
        if (message.skipped or message.failure is not None) and cfg.mode == "replicator":
            self.log.warning(
                "multi-volume snapshot set: entries not copied (the sweep finds their snapshots "
                "once completed; a snapshot in the error state is never copied)",
                skipped=list(message.skipped),
                set_failed=message.failure,
            )
        if len(message.refs) == 1:
            return self.created(message.refs[0])
        # The snapshots of one event share its account, kind and Region: all are ignored or none.
        sources = [Created(ref) for ref in message.refs if self.not_a_source(ref) is None]
        if not sources:
            return f"ignored: {self.not_a_source(message.refs[0])}"
        self.outbox.send(sources)
        ids = ", ".join(created.ref.id for created in sources)
        return f"queued the set's {len(sources)} snapshots one by one: {ids}"

    def selection_problem(self, info: SnapshotInfo) -> str | None:
        if info.managed:
            return f"{info.ref.arn} is a copy made by kmskit"
        tag = self.config.selection_tag
        if tag and info.tags.get(tag[0]) != tag[1]:
            return f"{info.ref.arn} is not tagged {tag[0]}={tag[1]}"
        return None

    def tasks_for(self, info: SnapshotInfo) -> list[Task]:
        origin = Origin.of(info.ref, info.created)
        return [
            Task(
                action="copy",
                role="staging" if d.cross_account else "replica",
                source=info.ref,
                origin=origin,
                region=d.region,
                kms_key_arn=d.kms_key_arn,
                destination_account=d.account,
            )
            for d in self.config.destinations
        ]

    def received(self, message: Received) -> str:
        allowed = {d.account for d in self.config.destinations if d.account}
        if self.config.mode != "replicator" or message.sender not in allowed:
            return f"ignored: Received notice from {message.sender}, not a destination account"
        return self.cleanup(message.staging, message.sender)

    def cleanup(self, staging: SnapshotRef, account: str | None) -> str:
        ref = SnapshotRef(
            staging.kind, staging.id, staging.region, self.config.account, staging.partition
        )
        info = self.engine.describe(ref)
        if info is None:
            return f"{ref.arn} already removed"
        if (
            not info.managed
            or info.tags.get(TAG_ROLE) != "staging"
            or info.tags.get(TAG_REPLICATOR) != self.config.replicator_id
            or info.tags.get(TAG_DESTINATION_ACCOUNT) != account
            or account is None
        ):
            return f"ignored: {ref.arn} is not a staging copy of this replicator for {account}"
        self.engine.unshare(info.ref, account)
        if TAG_DELIVERED in info.tags:
            # A notice delivered twice or again (the receiver's watch and its copy's completion
            # event both report, SQS delivers at least once): unshared again, which is
            # idempotent, but tagged and counted by the first only.
            return f"unshared {ref.arn} from {account} (already delivered)"
        self.engine.mark_delivered(info, iso(self.now()), dict(self.config.copy_tags))
        # Once per staging copy: only the notice that tagged it delivered counts, once its
        # message is done.
        self.count_when_done("Delivered")
        return f"unshared {ref.arn} from {account}"

    # ------------------------------------------------------------------ receiver
    def shared(self, ref: SnapshotRef, sender: str, reply_region: str | None) -> str:
        cfg = self.config
        if cfg.mode != "receiver":
            return "ignored: only receivers copy shared snapshots"
        if sender not in cfg.source_accounts or ref.account not in ("", sender):
            self.log.warning("snapshot shared by an account that is not a source", sender=sender)
            return f"ignored: {sender} is not a source account"
        ref = SnapshotRef(ref.kind, ref.id, ref.region, sender, ref.partition)
        if ref.region != cfg.region or ref.kind not in cfg.resource_types:
            return f"ignored: {ref.arn} is not a {cfg.resource_types} snapshot in {cfg.region}"
        info = self.engine.describe(ref)
        task = self._receivable(ref, info, sender, reply_region)
        if isinstance(task, str):
            return f"ignored: {task}"
        failure = source_failure(info) if info is not None else None
        if failure:
            raise DeadLetterError(failure, SOURCE_FAILED)
        return self.copy(task)

    def _receivable(
        self, ref: SnapshotRef, info: SnapshotInfo | None, sender: str, reply_region: str | None
    ) -> Task | str:
        """The copy task for a snapshot ``sender`` says it shared, or why it is not copied.
        Raises :class:`DeadLetterError` (code ``PastRetention``) when its source is past this
        receiver's retention: not copied (the sweep would delete the copy), and not dropped
        either, so the dead-letter queue's alarm says a source reached the backup account too
        late (the sweep's hourly listing only logs it: it would count the same one every run)."""
        if info is None:
            return f"{ref.arn} is not visible (unshared or deleted)"
        if info.ref.account != sender:
            # EC2 describes by ID any snapshot this account can see, public ones and those shared
            # by anyone: only the owner EC2 reports (OwnerId), never the description's origin
            # (the sender writes it), proves the snapshot is the sender's.
            self.log.warning(
                "shared snapshot not owned by its sender: not copied",
                snapshot=info.ref.arn,
                owner=info.ref.account,
                sender=sender,
            )
            return f"{ref.arn} belongs to {info.ref.account}, not to the sender {sender}"
        task = self.received_task(info, reply_region)
        if task is None:
            return f"{ref.arn} is not a kmskit staging copy"
        if self.task_past_retention(task, self.now()):
            raise DeadLetterError(
                f"{ref.arn} is not copied: its source, {task.origin.id} of account "
                f"{task.origin.account} in {task.origin.region}, was taken at "
                f"{task.origin.time}, past this receiver's retention of "
                f"{self.config.retention_days} days (the sweep would delete the copy). Copy it "
                "by hand if it is still needed, and make the retention longer than the time a "
                "source takes to reach the receiver",
                PAST_RETENTION,
            )
        return task

    def task_past_retention(self, task: Task, now: datetime) -> bool:
        """Whether a copy for ``task`` would be past this copier's retention at ``now`` (its
        origin's time is its age): the sweep would delete it at its next run, and copying it
        again after that would loop (copy, delete, copy ...). Logged when so."""
        if not past_retention(parse_iso(task.origin.time), self.config.retention_days, now):
            return False
        self.log.warning(
            "past the retention: not copied",
            source=task.source.arn,
            source_time=task.origin.time,
            retention_days=self.config.retention_days,
        )
        return True

    def received_task(self, info: SnapshotInfo, reply_region: str | None) -> Task | None:
        """The copy task for a snapshot a source account shared with this receiver."""
        ref = info.ref
        if ref.kind == "EBS":
            origin = shared_origin(info)
            if origin is None:
                return None
            reply = reply_region or origin.region
        else:
            if not ref.id.startswith("kmskit-s-"):
                return None
            # RDS shows no tags across accounts; the staging identifier is deterministic.
            origin = Origin(ref.kind, ref.id, ref.region, ref.account, iso(info.created))
            reply = reply_region or info.copied_from_region or ref.region
        if self.config.kms_key_arn is None:
            raise SnapshotError("a receiver needs kms_key_arn")
        return Task(
            action="copy",
            role="received",
            source=ref,
            origin=origin,
            region=self.config.region,
            kms_key_arn=self.config.kms_key_arn,
            reply_region=reply,
        )

    # ------------------------------------------------------------------ both
    def copy(self, task: Task) -> str:
        slot = (task.source.kind, task.region)
        if self._saturated.get(slot, 0.0) > self.clock():
            raise CopyLimitError(
                f"{task.source.kind} copies into {task.region} are at their limit",
                "Saturated",
                task,
            )
        try:
            return self._copy(task)
        except LimitReachedError as error:
            self._saturated[slot] = self.clock() + SATURATED_SECONDS
            raise CopyLimitError(error.reason, error.code, task) from error

    def _copy(self, task: Task) -> str:
        # The configured copy tags on every copy (staging, replica, received); the engine puts
        # the toolkit's own kmskit:* tags over them (copy_tags can hold none of those anyway).
        extra = dict(self.config.copy_tags)
        if task.role == "received":
            extra |= {TAG_STAGING_ARN: task.source.arn, TAG_REPLY_REGION: task.reply_region or ""}
        try:
            result = self.engine.copy(
                task.source,
                region=task.region,
                kms_key_arn=task.kms_key_arn,
                role=task.role,
                origin=task.origin,
                destination_account=task.destination_account,
                extra_tags=extra or None,
            )
        except RetryableError as error:
            if not isinstance(error, LimitReachedError) and error.code in SOURCE_STATE_CODES:
                self._source_failed(task, error)
            raise
        if result.created:
            # At once: a retry of this task finds the copy (created False) and does not count.
            self.log.metric("CopiesStarted", self.config.replicator_id)
        # Only the request that made the copy counts its completion (once, whatever else sees it).
        watch = task.with_action("watch", result.info.ref, counts_completion=result.created)
        if result.info.state == "available":
            return self.advance(watch, result.info)
        if result.info.state == "failed":
            return self.failed(watch, result.info)
        self.outbox.send([watch], delay_seconds=WATCH_DELAY_SECONDS)
        verb = "started" if result.created else "already exists"
        return f"copy {result.info.ref.arn} {verb}"

    def _source_failed(self, task: Task, error: RetryableError) -> None:
        """The copy call refused the source's state (``IncorrectState``,
        ``InvalidDBSnapshotState`` ...): a source still being created is retried (``error``
        propagates), but one that failed since its task was queued (a redrive, a wait for a copy
        slot) never becomes available, so the task is dead-lettered at once, naming the source
        and its state. The source is described only then, never on a copy that succeeds."""
        try:
            info = self.engine.describe(task.source)
        except StepError as problem:
            # Not known to have failed: retried like the state error itself.
            self.log.warning("could not describe the source", reason=problem.reason)
            return
        failure = source_failure(info) if info is not None else None
        if failure:
            raise DeadLetterError(
                f"{failure}; the copy was refused: {error.reason}", SOURCE_FAILED
            ) from error

    def watch(self, task: Task) -> str:
        if task.copy is None:
            raise DeadLetterError("a watch task without a copy")
        info = self.engine.describe(task.copy)
        if info is None:
            return self.vanished(task, task.copy)
        if info.state == "available":
            return self.advance(task, info)
        if info.state == "failed":
            return self.failed(task, info)
        self.outbox.send([task], delay_seconds=WATCH_DELAY_SECONDS)
        return f"copy {info.ref.arn} is {info.progress:.0f}% done"

    def vanished(self, task: Task, gone: SnapshotRef) -> str:
        """The watched copy no longer exists: finish if another copy of the same source is
        alive (it has its own watch), else queue the copy again."""
        other = self.engine.other_copy(gone, task.copy_key(self.config.account))
        if other is not None:
            return f"{gone.arn} is gone; {other.ref.arn} is the copy of {task.source.arn}"
        if self.task_past_retention(task, self.now()):
            # Past the retention the sweep would delete a new copy too: copying again would loop.
            self.log.warning("copy disappeared past its retention: not copied again", copy=gone.arn)
            return (
                f"{gone.arn} is gone and {task.source.arn} is past the retention; not copied again"
            )
        self.outbox.send([task.with_action("copy")])
        self.log.warning("copy disappeared before it completed", copy=gone.arn)
        return f"{gone.arn} disappeared before it completed; the copy is queued again"

    def copy_finished(self, event: CopyFinished) -> str:
        ref = SnapshotRef(
            event.ref.kind, event.ref.id, event.ref.region, self.config.account, event.ref.partition
        )
        info = self.engine.describe(ref)
        if info is None or info.tags.get(TAG_REPLICATOR) != self.config.replicator_id:
            return f"ignored: {ref.arn} is not a copy of this replicator"
        task = self.task_from_copy(info)
        if task is None:
            return f"ignored: {ref.arn} has incomplete kmskit tags"
        if event.failed or info.state == "failed":
            message = event.cause or info.message
            info = SnapshotInfo(**{**info.__dict__, "state": "failed", "message": message})
            return self.failed(task, info)
        if info.state != "available":
            return f"{ref.arn} is {info.state}; its watch task follows it"
        return self.advance(task, info)

    def task_from_copy(self, info: SnapshotInfo) -> Task | None:
        """Rebuild the watch task of a copy from its tags (events carry only its ID)."""
        origin = Origin.from_tags(info.tags)
        role = info.tags.get(TAG_ROLE)
        if origin is None or role not in ("replica", "staging", "received"):
            return None
        if role == "received":
            staging = info.tags.get(TAG_STAGING_ARN, "")
            try:
                source = SnapshotRef.from_arn(staging, account=origin.account)
            except SnapshotError:
                return None
        else:
            source = SnapshotRef(
                origin.kind, origin.id, origin.region, origin.account, info.ref.partition
            )
        return Task(
            action="watch",
            role=role,  # type: ignore[arg-type]
            source=source,
            origin=origin,
            region=info.ref.region,
            kms_key_arn=info.kms_key_id or "",
            destination_account=info.tags.get(TAG_DESTINATION_ACCOUNT),
            copy=info.ref,
            reply_region=info.tags.get(TAG_REPLY_REGION) or None,
        )

    def failed(self, task: Task, info: SnapshotInfo) -> str:
        reason = copy_failure(info)
        code = "KeyNotAccessible" if is_key_failure(reason) else COPY_FAILED
        self.log.error("copy failed", copy=info.ref.arn, reason=reason, code=code)
        raise DeadLetterTaskError(
            f"copy {info.ref.arn} of {task.source.arn} failed: {reason}",
            code,
            task.with_action("copy").to_json(),
            metric="CopyFailed",
        )

    def advance(self, task: Task, info: SnapshotInfo) -> str:
        """The copy is available: do what comes next for its role (idempotent)."""
        cfg = self.config
        if task.role == "replica":
            self._completed(task)
            return f"copy {info.ref.arn} is available"
        if task.role == "staging":
            account = task.destination_account
            if account is None:
                raise DeadLetterError("a staging copy without a destination account")
            self.engine.share(info.ref, account)
            self.outbox.notify(
                bus_arn=f"arn:{cfg.partition}:events:{info.ref.region}:{account}:event-bus/"
                f"{RECEIVER_BUS_NAME}",
                detail_type=DETAIL_SHARED,
                detail={
                    "snapshot_arn": info.ref.arn,
                    "reply_region": cfg.region,
                    "origin": task.origin.tags(),
                },
            )
            return f"shared {info.ref.arn} with {account}"
        onward = [
            Task(
                action="copy",
                role="replica",
                source=info.ref,
                origin=task.origin,
                region=d.region,
                kms_key_arn=d.kms_key_arn,
            )
            for d in cfg.destinations
        ]
        if onward:
            self.outbox.send(onward)
        reply_region = task.reply_region or task.source.region
        self.outbox.notify(
            bus_arn=f"arn:{cfg.partition}:events:{reply_region}:{task.source.account}:event-bus/"
            f"{REPLICATOR_BUS_NAME}",
            detail_type=DETAIL_RECEIVED,
            detail={"staging_arn": task.source.arn, "owner": task.source.account},
        )
        self._completed(task)
        return f"received {info.ref.arn}; {len(onward)} onward copies queued"

    def _completed(self, task: Task) -> None:
        """Count ``CopiesCompleted`` once per copy: a replica or received copy (a staging copy
        completes in the receiving account) seen available by the watch of the request that
        made it, and only once that message is done."""
        if task.counts_completion:
            self.count_when_done("CopiesCompleted")


__all__ = ["CopyLimitError", "DeadLetterTaskError", "Ignored", "Workflow", "past_retention"]
