"""SQS copier: ``snapshot_replicator.handler.handler`` (event source mapping with
``ReportBatchItemFailures``).

Each record is handled on its own:

* done, or an unknown shape (logged and dropped: retrying cannot help) -> deleted from the queue;
  a kmskit task or notice it cannot read (another version's) is dead-lettered with the reason;
* a copy limit (``ResourceLimitExceeded``, ``SnapshotQuotaExceeded`` other than the manual
  snapshot quota, which is dead-lettered at once) -> the copy task (also the
  one a receiver makes from a Shared event) is queued again with a 15-minute delay and a wait
  counter, and the record is deleted: waiting for a copy slot is normal and must not use up the
  record's receives (after ``MAX_WAITS`` waits, about two days, it is dead-lettered with the
  reason);
* :class:`RetryableError` (throttling, a source not yet available) -> hidden for a growing delay
  and reported as a batch item failure, so SQS delivers it again later; on its last allowed
  receive it goes to the dead-letter queue with the reason instead of being dropped by the
  redrive policy;
* :class:`DeadLetterError` (unusable key, failed copy, a source in a failed state) -> sent to
  the dead-letter queue with the reason at once; a refusal by IAM or a key policy
  (``ACCESS_DENIED_CODES``) only on the record's third receive, retried like throttling before:
  a permission just deployed may not be in effect everywhere yet;
* anything else (a bug, also one outside the workflow, in reading the message) -> batch item
  failure of that record only (never of the whole batch), retried like throttling.

A record handed back without a decision of its own (not started for lack of time, its next
steps not taken by SQS for now, a duplicate of a failed record) is dead-lettered with that reason
when it is on its last allowed receive, rather than moved there without one by the redrive
policy. A record whose next steps SQS refuses for good (an entry with ``SenderFault``, access
denied, a queue that does not exist, the queue's KMS key refused) is dead-lettered at once with
SQS's code and message: delivering it again would only fail the same way.

If even the dead-letter send fails the record is reported as failed, so it is never lost.

SDK: the functions run on the Lambda runtime's own boto3/botocore. On a cold start the
runtime's botocore models are checked for every operation, parameter, paginator and response
member the functions use (:mod:`.sdk`); if one is missing, no record is started: each goes to the
dead-letter queue with a reason naming the botocore version, what it lacks and the fix (code
``SdkTooOld``), and the sweep fails with that reason, instead of every copy failing on its own
with ``ParamValidationError``.

Time: the function's clients make at most ``LAMBDA_MAX_ATTEMPTS`` attempts per call with short
connect/read timeouts (the CLI keeps its generous retries), and the copier takes no new record
once less than ``RESERVE_MILLIS`` of the invocation is left: the records it did not start are
reported as batch item failures (SQS delivers them again, their receive count goes up by one),
so a slow batch rarely times out as a whole (a record started just above the reserve can
still overrun it: it makes several calls; if it does, SQS delivers the batch again).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kmskit.clients import ClientSettings
from kmskit.snapshots.engine import ClientFactory, SnapshotEngine, client_factory
from kmskit.snapshots.outcomes import (
    ACCESS_DENIED_CODES,
    DeadLetterError,
    LimitReachedError,
    RetryableError,
    StepError,
)

from .config import Config
from .logs import JsonLogger
from .messages import Message, Task, parse, unreadable_reason
from .outbox import Outbox
from .sdk import SDK_TOO_OLD, check, services_for, too_old
from .workflow import CopyLimitError, DeadLetterTaskError, Workflow

BASE_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 3600
LIMIT_WAIT_SECONDS = 900
MAX_WAITS = 192  # 192 x 15 minutes = 2 days
# A task re-queued to wait reappears after LIMIT_WAIT_SECONDS; until then it stands for its copy.
WAITING_MEMORY = LIMIT_WAIT_SECONDS - 60
UNREADABLE_MESSAGE = "UnreadableMessage"
# Why a record handed back to the queue on its last allowed receive was dead-lettered.
NEXT_STEPS_NOT_QUEUED = "NextStepsNotQueued"
OUT_OF_TIME = "OutOfTime"
FAILED_DUPLICATE = "FailedDuplicate"
# A step refused by IAM or a key policy (ACCESS_DENIED_CODES) is retried like throttling until
# this receive (after 1 and 2 minutes), then dead-lettered: a permission the deployment that
# just ran added may not be in effect everywhere yet.
ACCESS_DENIED_RECEIVES = 3
# The retry budget of one call: 3 attempts with 3 s to connect and 10 s to read is about 40 s
# at worst (standard mode's backoff included); throttling beyond that is retried through SQS.
LAMBDA_MAX_ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 10
# No new record is started with less than this left: the worst case of one call, plus sending
# the batch's next steps.
RESERVE_MILLIS = 45_000


def retry_delay(receive_count: int) -> int:
    """Visibility timeout before the next try: 1, 2, 4 ... minutes, at most an hour."""
    return int(min(BASE_RETRY_SECONDS * 2 ** max(receive_count - 1, 0), MAX_RETRY_SECONDS))


@dataclass
class Runtime:
    """Everything one warm Lambda container reuses between invocations."""

    config: Config
    clients: ClientFactory
    log: JsonLogger = field(default_factory=JsonLogger)
    clock: Callable[[], float] = time.monotonic
    sdk_problem: str | None = None
    """Why the runtime's SDK cannot run these functions (:func:`.sdk.too_old`); default None."""

    def __post_init__(self) -> None:
        # copy-key -> when a task for it was last queued to wait for a slot (this container).
        self._waiting: dict[str, float] = {}
        self._waits_in_batch: dict[str, str] = {}
        self._record_id = ""
        # record ID -> metrics counted once that record is done (None: not in a batch).
        self._metrics_when_done: dict[str, list[str]] | None = None
        self.engine = SnapshotEngine(
            self.clients,
            account=self.config.account,
            replicator=self.config.replicator_id,
            partition=self.config.partition,
        )
        self.outbox = Outbox(
            self.clients,
            region=self.config.region,
            queue_url=self.config.queue_url,
            dead_letter_queue_url=self.config.dead_letter_queue_url,
        )
        self.workflow = Workflow(
            self.config,
            self.engine,
            self.outbox,
            self.log,
            clock=self.clock,
            count_when_done=self._count_when_done,
        )

    @classmethod
    def from_env(cls, *, max_attempts: int | None = LAMBDA_MAX_ATTEMPTS) -> Runtime:
        """``max_attempts`` per call; None: the kmskit default (the sweep has time for it).
        The runtime's SDK is checked here, once per container, with the clients it makes."""
        config = Config.from_env()
        clients = lambda_clients(config.region, max_attempts)
        problems = check(clients, config.region, services_for(config.resource_types))
        return cls(config=config, clients=clients, sdk_problem=too_old(problems))

    def process(
        self,
        records: list[dict[str, Any]],
        remaining_millis: Callable[[], int] | None = None,
    ) -> dict[str, list[dict[str, str]]]:
        """Handle an SQS batch; returns the partial batch failure response.

        ``remaining_millis`` (the Lambda context's ``get_remaining_time_in_millis``): once it
        is below ``RESERVE_MILLIS``, the records not yet started are reported as failed.
        """
        if self.sdk_problem is not None:
            return self._refuse(records, self.sdk_problem)
        first_of: dict[str, str] = {}
        outcome: dict[str, bool] = {}
        started: set[str] = set()
        self.outbox.begin()
        self._waits_in_batch = {}
        self._metrics_when_done = {}
        for index, record in enumerate(records):
            message_id = record["messageId"]
            if remaining_millis is not None and remaining_millis() < RESERVE_MILLIS:
                for late in records[index:]:
                    late_id = late["messageId"]
                    late_digest = hashlib.sha256(late.get("body", "").encode()).hexdigest()
                    # A duplicate of a record handled above shares its outcome; the rest go back.
                    first_of[late_id] = first_of.get(late_digest, late_id)
                    outcome.setdefault(late_id, False)
                self.log.warning(
                    "too little time left: records handed back to the queue",
                    records=len(records) - index,
                    remaining_millis=remaining_millis(),
                )
                break
            body = record.get("body", "")
            digest = hashlib.sha256(body.encode()).hexdigest()
            if digest in first_of:
                # The same body twice in one batch (a duplicate delivery): one outcome for both.
                first_of[message_id] = first_of[digest]
                continue
            first_of[digest] = first_of[message_id] = message_id
            self.outbox.for_record(message_id)
            self._record_id = message_id
            try:
                outcome[message_id] = self._process_one(record, body)
            except Exception as error:
                # A bug outside the workflow fails this record only, never the whole batch
                # (that would redo every record and lose the waits queued for them).
                outcome[message_id] = self._unexpected(record, body, error)
            started.add(message_id)
            if not outcome[message_id]:
                self.outbox.discard(message_id)
        unsent = self.outbox.flush()
        for record_id, key in self._waits_in_batch.items():
            if record_id in unsent:
                self._waiting.pop(key, None)  # its wait was not queued: not waiting after all
        failed = self._failures(records, first_of, outcome, started, unsent)
        self._count_done(outcome, unsent)
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    def _refuse(
        self, records: list[dict[str, Any]], reason: str
    ) -> dict[str, list[dict[str, str]]]:
        """The runtime's SDK lacks what the copier uses: no record is started, each goes to the
        dead-letter queue with ``reason`` (a redrive runs it again once the function runs on a
        newer SDK), or back to the queue if even that send fails."""
        self.log.error("the runtime's AWS SDK is too old: no record started", reason=reason)
        failed: list[str] = []
        for record in records:
            receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            log = self.log.bind(message_id=record["messageId"], receive_count=receive_count)
            problem = DeadLetterError(reason, SDK_TOO_OLD)
            if not self.dead_letter(log, record.get("body", ""), problem, receive_count):
                failed.append(record["messageId"])
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    def _count_when_done(self, name: str) -> None:
        """Count metric ``name`` for the record being handled once it is done (outside a batch:
        at once)."""
        if self._metrics_when_done is None:
            self.log.metric(name, self.config.replicator_id)
            return
        self._metrics_when_done.setdefault(self._record_id, []).append(name)

    def _count_done(self, outcome: dict[str, bool], unsent: dict[str, StepError]) -> None:
        """Count the metrics of the records that are done: deleted from the queue with every
        next step queued. A record handed back is handled again and counts then, once."""
        waiting, self._metrics_when_done = self._metrics_when_done or {}, None
        for record_id, names in waiting.items():
            if outcome.get(record_id) and record_id not in unsent:
                for name in names:
                    self.log.metric(name, self.config.replicator_id)

    def _failures(
        self,
        records: list[dict[str, Any]],
        first_of: dict[str, str],
        outcome: dict[str, bool],
        started: set[str],
        unsent: dict[str, StepError],
    ) -> list[str]:
        """The records to hand back. A record whose next steps SQS refused for good is
        dead-lettered at once with SQS's reason (a duplicate of it is then done too); those
        handed back without a decision of their own on their last allowed receive are
        dead-lettered with the reason instead."""
        failed: list[str] = []
        dead_lettered: set[str] = set()
        for record in records:
            record_id = record["messageId"]
            first = first_of[record_id]
            if outcome[first] and first not in unsent:
                continue
            if first in dead_lettered:
                continue  # a duplicate of a record now in the dead-letter queue: one is enough
            if first in unsent:
                problem = unsent[first]
                if isinstance(problem, DeadLetterError) and first == record_id:
                    if self._dead_letter_unqueued(record, problem):
                        dead_lettered.add(record_id)
                    else:
                        failed.append(record_id)
                    continue
                handed_back = (
                    NEXT_STEPS_NOT_QUEUED,
                    f"its next steps could not be queued: {problem.reason}",
                )
            elif record_id not in started and first == record_id:
                handed_back = (OUT_OF_TIME, "not started: the invocation was running out of time")
            elif first != record_id:
                handed_back = (
                    FAILED_DUPLICATE,
                    f"a duplicate of record {first}, which went back to the queue",
                )
            else:
                failed.append(record_id)  # its own retry or dead letter, decided above
                continue
            if not self._dead_letter_on_last_receive(record, *handed_back):
                failed.append(record_id)
        return failed

    def _dead_letter_unqueued(self, record: dict[str, Any], problem: StepError) -> bool:
        """SQS refused a record's next steps for good (an entry with ``SenderFault``, access
        denied, no such queue, its KMS key refused): delivering the record again would fail the
        same way until its receives run out, so it goes to the dead-letter queue now with SQS's
        code and message (a redrive does the record's step again, which is idempotent)."""
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        log = self.log.bind(message_id=record["messageId"], receive_count=receive_count)
        reason = (
            f"its next steps could not be queued, and SQS refuses them for good: {problem.reason}"
        )
        final = DeadLetterError(reason, problem.code or NEXT_STEPS_NOT_QUEUED)
        return self.dead_letter(log, record.get("body", ""), final, receive_count)

    def _dead_letter_on_last_receive(self, record: dict[str, Any], code: str, reason: str) -> bool:
        """A record handed back on its last allowed receive goes to the dead-letter queue now,
        with ``reason`` (the redrive policy would move it there without one). True when it did."""
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        if receive_count < self.config.max_receive_count:
            return False
        log = self.log.bind(message_id=record["messageId"], receive_count=receive_count)
        reason = f"handed back on its last allowed receive ({receive_count}): {reason}"
        problem = DeadLetterError(reason, code)
        return self.dead_letter(log, record.get("body", ""), problem, receive_count)

    def _process_one(self, record: dict[str, Any], body: str) -> bool:
        """True when the record may be deleted from the queue."""
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        log = self.log.bind(message_id=record["messageId"], receive_count=receive_count)
        message = parse(body)
        if message is None:
            unreadable = unreadable_reason(body)
            if unreadable is not None:
                # kmskit's own work in a shape this version cannot read: keep it, with the reason.
                return self.dead_letter(
                    log, body, DeadLetterError(unreadable, UNREADABLE_MESSAGE), receive_count
                )
            log.warning("unknown message shape: dropped", body=body[:2000])
            return True
        try:
            outcome = self.workflow.handle(message)
        except Exception as error:
            return self._after_problem(
                log, record, body, message, error, receive_count=receive_count
            )
        log.info(outcome, message_type=type(message).__name__)
        return True

    def _after_problem(
        self,
        log: JsonLogger,
        record: dict[str, Any],
        body: str,
        message: Message,
        error: Exception,
        *,
        receive_count: int,
    ) -> bool:
        """Dead-letter, wait for a copy slot, or retry: True when the record may be deleted."""
        if isinstance(error, DeadLetterTaskError):
            return self.dead_letter(log, error.body, error, receive_count, metric=error.metric)
        if isinstance(error, DeadLetterError):
            return self._after_dead_letter_error(log, record, body, error, receive_count)
        if isinstance(error, CopyLimitError):
            return self._wait_for_slot(log, error.task, error, receive_count)
        if isinstance(error, LimitReachedError) and isinstance(message, Task):
            return self._wait_for_slot(log, message, error, receive_count)
        if isinstance(error, RetryableError):
            return self._retry(log, record, body, error, receive_count)
        return self._unexpected(record, body, error)

    def _after_dead_letter_error(
        self,
        log: JsonLogger,
        record: dict[str, Any],
        body: str,
        problem: DeadLetterError,
        receive_count: int,
    ) -> bool:
        """Dead-lettered, except a refusal by IAM or a key policy, which is retried until
        :data:`ACCESS_DENIED_RECEIVES` and then dead-lettered saying so."""
        if problem.code not in ACCESS_DENIED_CODES:
            return self.dead_letter(log, body, problem, receive_count)
        if receive_count < ACCESS_DENIED_RECEIVES:
            return self._retry(log, record, body, problem, receive_count)
        reason = (
            f"refused on receive {receive_count} (a refusal is retried until receive "
            f"{ACCESS_DENIED_RECEIVES}, a few minutes, in case a permission just deployed was "
            f"not in effect yet): {problem.reason}"
        )
        return self.dead_letter(log, body, DeadLetterError(reason, problem.code), receive_count)

    def _unexpected(self, record: dict[str, Any], body: str, error: Exception) -> bool:
        """A bug must not lose the message either: retried, then dead-lettered with it."""
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        log = self.log.bind(message_id=record["messageId"], receive_count=receive_count)
        log.error("unexpected error", error=str(error), kind=type(error).__name__)
        unexpected = RetryableError(f"{type(error).__name__}: {error}", type(error).__name__)
        return self._retry(log, record, body, unexpected, receive_count)

    def _wait_for_slot(
        self, log: JsonLogger, task: Task, problem: StepError, receive_count: int
    ) -> bool:
        if task.waits >= MAX_WAITS:
            reason = f"waited {task.waits} times for a copy slot: {problem.reason}"
            final = DeadLetterError(reason, problem.code)
            return self.dead_letter(log, task.to_json(), final, receive_count)
        key = task.copy_key(self.config.account)
        now = self.clock()
        self._waiting = {k: t for k, t in self._waiting.items() if now - t < WAITING_MEMORY}
        if key in self._waiting:
            # Another task for the same copy (a duplicate event, or the sweep) is already
            # queued to wait: that one is enough.
            log.info("already waiting for a copy slot", copy_key=key)
            return True
        self._waiting[key] = now
        self._waits_in_batch[self._record_id] = key
        self.outbox.send([replace(task, waits=task.waits + 1)], delay_seconds=LIMIT_WAIT_SECONDS)
        self.log.metric("WaitingForCopySlot", self.config.replicator_id)
        log.info("waiting for a copy slot", reason=problem.reason, waits=task.waits + 1)
        return True

    def _retry(
        self,
        log: JsonLogger,
        record: dict[str, Any],
        body: str,
        problem: StepError,
        receive_count: int,
    ) -> bool:
        if receive_count >= self.config.max_receive_count:
            reason = f"gave up after {receive_count} attempts: {problem.reason}"
            final = DeadLetterError(reason, problem.code)
            return self.dead_letter(log, body, final, receive_count)
        delay = retry_delay(receive_count)
        log.warning("retry later", reason=problem.reason, code=problem.code, delay_seconds=delay)
        try:
            self.outbox.delay(record["receiptHandle"], delay)
        except Exception as error:
            # The message still comes back after the queue's visibility timeout.
            log.warning("could not delay the message", error=str(error))
        return False

    def dead_letter(
        self,
        log: JsonLogger,
        body: str,
        problem: StepError,
        receive_count: int,
        *,
        metric: str | None = None,
    ) -> bool:
        """Send ``body`` to the dead-letter queue with the reason; True when it is there.
        ``metric`` (``CopyFailed``) is counted with ``DeadLettered``, only once it is."""
        try:
            self.outbox.dead_letter(
                body, reason=problem.reason, code=problem.code, receive_count=receive_count
            )
        except Exception as error:
            log.error("could not dead-letter the message", error=str(error), reason=problem.reason)
            return False
        self.log.metric("DeadLettered", self.config.replicator_id)
        if metric:
            self.log.metric(metric, self.config.replicator_id)
        log.error("dead-lettered", reason=problem.reason, code=problem.code)
        return True


def lambda_clients(region: str, max_attempts: int | None = LAMBDA_MAX_ATTEMPTS) -> ClientFactory:
    """Cached clients with short timeouts and ``max_attempts`` per call (module docstring)."""
    return client_factory(
        ClientSettings(region=region, max_attempts=max_attempts),
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )


_runtime: Runtime | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point (SQS batch)."""
    global _runtime  # noqa: PLW0603 - one Runtime per warm container, built on first use
    if _runtime is None:
        _runtime = Runtime.from_env()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return _runtime.process(event.get("Records", []), remaining)
