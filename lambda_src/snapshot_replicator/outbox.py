"""Messages the copier sends: next steps on its own queue, dead letters with their reason, and
kmskit notices on another account's event bus."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kmskit.snapshots.engine import ClientFactory
from kmskit.snapshots.model import EVENT_SOURCE
from kmskit.snapshots.outcomes import (
    RETRY_CODES,
    DeadLetterError,
    RetryableError,
    StepError,
    classify,
)

from .messages import Task

MAX_DELAY_SECONDS = 900  # SQS DelaySeconds limit
SQS_BATCH = 10
# PutEvents entry errors worth retrying: the two PutEventsResultEntry.ErrorCode documents as
# retryable (InternalFailure, ThrottlingException), InternalException (EventBridge's name for the
# same internal error when a whole call fails), and an entry without a code. Every other entry
# code is permanent (the documented AccessDeniedException, InvalidAccountIdException,
# InvalidArgument, MalformedDetail, RedactionFailure, NotAuthorizedForSourceException,
# NotAuthorizedForDetailTypeException, or one not documented yet), except the throttling and
# transient codes of RETRY_CODES (ServiceUnavailable ...).
RETRYABLE_ENTRY_CODES = frozenset(
    {"InternalFailure", "InternalException", "ThrottlingException", ""}
)


class Outbox:
    """Send to the work queue and the dead-letter queue; put kmskit events on buses.

    Between :meth:`begin` and :meth:`flush` (one SQS batch), next steps are buffered and sent
    in batches of ten; :meth:`flush` names the records whose next steps could not be sent, so
    the copier reports those records as failed and SQS delivers them again.
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
        self._buffer: list[tuple[str, Task, int]] | None = None
        self._record = ""

    def begin(self) -> None:
        self._buffer = []

    def for_record(self, record_id: str) -> None:
        self._record = record_id

    def discard(self, record_id: str) -> None:
        """Drop what a record queued (it failed and will be delivered again)."""
        if self._buffer is not None:
            self._buffer = [item for item in self._buffer if item[0] != record_id]

    def flush(self) -> set[str]:
        """Send the buffered steps; the IDs of records some of whose steps were not sent.

        A record is named only if one of its own entries failed (the rest of a batch that SQS
        accepted in part stays sent), so a record is not delivered again for another's failure.
        """
        buffered, self._buffer = self._buffer or [], None
        failed: set[str] = set()
        for delay in sorted({item[2] for item in buffered}):
            group = [item for item in buffered if item[2] == delay]
            for start in range(0, len(group), SQS_BATCH):
                chunk = group[start : start + SQS_BATCH]
                try:
                    unsent, _ = self._send_batch([task for _, task, _ in chunk], delay)
                except StepError:
                    unsent = list(range(len(chunk)))
                failed.update(chunk[index][0] for index in unsent)
        return failed

    def _sqs(self) -> Any:
        return self._clients("sqs", self.region)

    def send(self, tasks: Sequence[Task], *, delay_seconds: int = 0) -> None:
        """Queue ``tasks`` (buffered within a batch); raises :class:`RetryableError` if they
        could not be queued."""
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        if self._buffer is not None:
            self._buffer.extend((self._record, task, delay) for task in tasks)
            return
        self._send_now(tasks, delay)

    def _send_now(self, tasks: Sequence[Task], delay: int) -> None:
        """Send every batch, then raise :class:`RetryableError` if any entry was not queued."""
        unsent = 0
        first: StepError | None = None
        for start in range(0, len(tasks), SQS_BATCH):
            try:
                failed, problem = self._send_batch(tasks[start : start + SQS_BATCH], delay)
            except StepError as error:
                failed, problem = list(range(len(tasks[start : start + SQS_BATCH]))), error
            unsent += len(failed)
            first = first or problem
        if first is not None:
            # Retryable unless SQS refused the call itself for good (access denied, say).
            kind = DeadLetterError if isinstance(first, DeadLetterError) else RetryableError
            reason = f"could not queue {unsent} of {len(tasks)} next step(s): {first.reason}"
            raise kind(reason, first.code) from first

    def _send_batch(self, chunk: Sequence[Task], delay: int) -> tuple[list[int], StepError | None]:
        """One SendMessageBatch (at most ten entries): the indices SQS did not queue, and why.
        Raises :class:`StepError` when the call as a whole failed."""
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
        failures = response.get("Failed") or []
        if not failures:
            return [], None
        ids = [str(f.get("Id", "")) for f in failures]
        unsent = sorted({int(i) for i in ids if i.isdigit() and int(i) < len(chunk)})
        if len(unsent) < len(set(ids)):
            unsent = list(range(len(chunk)))  # an entry SQS names by an ID we did not send
        entry = failures[0]
        problem = RetryableError(
            f"{entry.get('Code')}: {entry.get('Message', '')}", str(entry.get("Code", ""))
        )
        return unsent, problem

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
            raise classify(error, f"notify {bus_arn}") from error
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            code = str(entry.get("ErrorCode", ""))
            reason = f"notify {bus_arn}: {code}: {entry.get('ErrorMessage', '')}"
            # The rest (AccessDeniedException, NotAuthorizedForSourceException, InvalidArgument
            # ...) fail again however often they are retried: RETRYABLE_ENTRY_CODES.
            if code in RETRYABLE_ENTRY_CODES or code in RETRY_CODES:
                raise RetryableError(reason, code)
            raise DeadLetterError(reason, code)
