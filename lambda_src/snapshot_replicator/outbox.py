"""Messages the copier sends: next steps on its own queue, dead letters with their reason, and
kmskit notices on another account's event bus."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kmskit.snapshots.engine import ClientFactory
from kmskit.snapshots.model import EVENT_SOURCE
from kmskit.snapshots.outcomes import (
    DeadLetterError,
    RetryableError,
    StepError,
    classify,
    is_retry_code,
)

from .messages import Queued

MAX_DELAY_SECONDS = 900  # SQS DelaySeconds limit
SQS_BATCH = 10
# PutEvents entry errors worth retrying: the two PutEventsResultEntry.ErrorCode documents as
# retryable (InternalFailure, ThrottlingException), InternalException (EventBridge's name for the
# same internal error when a whole call fails), and an entry without a code. Every other entry
# code is permanent (the documented AccessDeniedException, InvalidAccountIdException,
# InvalidArgument, MalformedDetail, RedactionFailure, NotAuthorizedForSourceException,
# NotAuthorizedForDetailTypeException, or one not documented yet), except the throttling and
# transient codes of is_retry_code (ServiceUnavailable ...).
RETRYABLE_ENTRY_CODES = frozenset(
    {"InternalFailure", "InternalException", "ThrottlingException", ""}
)


def entry_problem(entry: dict[str, Any]) -> StepError:
    """Why SendMessageBatch did not queue one entry (a ``BatchResultErrorEntry``).

    ``SenderFault: true`` is the caller's fault (a message too large, an invalid attribute or
    delay, the queue's KMS key refused ...): sending the same entry again fails again, so it is a
    :class:`DeadLetterError`, unless its code is a throttling one (``KMS.ThrottlingException``).
    ``SenderFault: false`` (SQS's own ``InternalError``) or no flag: retried.
    """
    code = str(entry.get("Code", ""))
    reason = f"queue the next steps: SQS refused an entry: {code}: {entry.get('Message', '')}"
    if entry.get("SenderFault") is True and not is_retry_code(code):
        return DeadLetterError(reason, code)
    return RetryableError(reason, code)


def worse(known: StepError | None, new: StepError) -> StepError:
    """The problem that decides a record's fate: one that retrying cannot help wins."""
    if known is None or (
        isinstance(new, DeadLetterError) and not isinstance(known, DeadLetterError)
    ):
        return new
    return known


class Outbox:
    """Send to the work queue and the dead-letter queue; put kmskit events on buses.

    Between :meth:`begin` and :meth:`flush` (one SQS batch), next steps are buffered and sent
    in batches of ten; :meth:`flush` names the records whose next steps could not be sent, with
    why: the copier dead-letters a record that SQS refused for good at once, and reports the
    others as failed, so SQS delivers them again.
    """

    def __init__(
        self,
        clients: ClientFactory,
        *,
        region: str,
        queue_url: str,
        dead_letter_queue_url: str,
    ) -> None:
        self._clients = clients
        self.region = region
        self.queue_url = queue_url
        self.dead_letter_queue_url = dead_letter_queue_url
        self._buffer: list[tuple[str, Queued, int]] | None = None
        self._record = ""

    def begin(self) -> None:
        self._buffer = []

    def for_record(self, record_id: str) -> None:
        self._record = record_id

    def discard(self, record_id: str) -> None:
        """Drop what a record queued (it failed and will be delivered again)."""
        if self._buffer is not None:
            self._buffer = [item for item in self._buffer if item[0] != record_id]

    def flush(self) -> dict[str, StepError]:
        """Send the buffered steps; the records some of whose steps were not sent, each with
        why: a :class:`DeadLetterError` when SQS refused one of them for good (an entry with
        ``SenderFault``, a call denied or naming a queue that does not exist: sending again
        cannot help), else a :class:`RetryableError`.

        A record is named only if one of its own entries failed (the rest of a batch that SQS
        accepted in part stays sent), so a record is not delivered again for another's failure.
        """
        buffered, self._buffer = self._buffer or [], None
        failed: dict[str, StepError] = {}
        for delay in sorted({item[2] for item in buffered}):
            group = [item for item in buffered if item[2] == delay]
            for start in range(0, len(group), SQS_BATCH):
                chunk = group[start : start + SQS_BATCH]
                try:
                    unsent = self._send_batch([task for _, task, _ in chunk], delay)
                except StepError as error:
                    unsent = dict.fromkeys(range(len(chunk)), error)
                for index, problem in unsent.items():
                    record = chunk[index][0]
                    failed[record] = worse(failed.get(record), problem)
        return failed

    def _sqs(self) -> Any:
        return self._clients("sqs", self.region)

    def send(self, tasks: Sequence[Queued], *, delay_seconds: int = 0) -> None:
        """Queue ``tasks`` (next steps, or the snapshots of a multi-volume set; buffered within a
        batch); raises :class:`RetryableError` if they could not be queued."""
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        if self._buffer is not None:
            self._buffer.extend((self._record, task, delay) for task in tasks)
            return
        self._send_now(tasks, delay)

    def _send_now(self, tasks: Sequence[Queued], delay: int) -> None:
        """Send every batch, then raise if any entry was not queued: :class:`DeadLetterError`
        when SQS refused one for good, else :class:`RetryableError`."""
        unsent = 0
        first: StepError | None = None
        for start in range(0, len(tasks), SQS_BATCH):
            chunk = tasks[start : start + SQS_BATCH]
            try:
                failed = self._send_batch(chunk, delay)
            except StepError as error:
                failed = dict.fromkeys(range(len(chunk)), error)
            unsent += len(failed)
            for problem in failed.values():
                first = worse(first, problem)
        if first is not None:
            kind = DeadLetterError if isinstance(first, DeadLetterError) else RetryableError
            reason = f"could not queue {unsent} of {len(tasks)} next step(s): {first.reason}"
            raise kind(reason, first.code) from first

    def _send_batch(self, chunk: Sequence[Queued], delay: int) -> dict[int, StepError]:
        """One SendMessageBatch (at most ten entries): the indices SQS did not queue, each with
        why (:func:`entry_problem`). Raises :class:`StepError` when the call as a whole failed
        (:func:`classify`: access denied, a queue that does not exist, its KMS key refused ...
        are dead letters; throttling and 5xx are retried)."""
        try:
            response = self._sqs().send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": t.to_json(), "DelaySeconds": delay}
                    for i, t in enumerate(chunk)
                ],
            )
        except Exception as error:
            raise classify(error, "queue the next steps") from error
        problems: dict[int, StepError] = {}
        unknown: StepError | None = None
        for entry in response.get("Failed") or []:
            entry_id = str(entry.get("Id", ""))
            problem = entry_problem(entry)
            if entry_id.isdigit() and int(entry_id) < len(chunk):
                problems[int(entry_id)] = worse(problems.get(int(entry_id)), problem)
            else:
                unknown = worse(unknown, problem)
        if unknown is not None:
            # An entry SQS names by an ID we did not send: none of the batch is known to be sent.
            for index in range(len(chunk)):
                problems[index] = worse(problems.get(index), unknown)
        return problems

    def dead_letter(self, body: str, *, reason: str, code: str, receive_count: int) -> None:
        """Put ``body`` on the dead-letter queue with why it failed (message attributes)."""
        self._sqs().send_message(
            QueueUrl=self.dead_letter_queue_url,
            MessageBody=body,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:4000] or "unknown"},
                "error_code": {"DataType": "String", "StringValue": code or "none"},
                "receive_count": {"DataType": "Number", "StringValue": str(receive_count)},
            },
        )

    def delay(self, receipt_handle: str, seconds: int) -> None:
        """Hide a failed message for ``seconds`` before SQS delivers it again."""
        self._sqs().change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )

    def notify(self, *, bus_arn: str, detail_type: str, detail: dict[str, Any]) -> None:
        """Put one kmskit event on ``bus_arn`` (a bus in another account or Region)."""
        region = bus_arn.split(":")[3]
        try:
            response = self._clients("events", region).put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail, sort_keys=True),
                        "EventBusName": bus_arn,
                    }
                ]
            )
        except Exception as error:
            raise classify(error, f"notify {bus_arn}", regions=[region]) from error
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            code = str(entry.get("ErrorCode", ""))
            reason = f"notify {bus_arn}: {code}: {entry.get('ErrorMessage', '')}"
            # The rest (AccessDeniedException, NotAuthorizedForSourceException, InvalidArgument
            # ...) fail again however often they are retried: RETRYABLE_ENTRY_CODES.
            if code in RETRYABLE_ENTRY_CODES or is_retry_code(code):
                raise RetryableError(reason, code)
            raise DeadLetterError(reason, code)
