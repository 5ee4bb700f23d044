"""SQS copier: ``snapshot_replicator.handler.handler`` (event source mapping with
``ReportBatchItemFailures``).

Each record is handled on its own:

* done, or an unknown shape (logged and dropped: retrying cannot help) -> deleted from the queue;
* :class:`RetryableError` (limits, throttling) -> hidden for a growing delay and reported as a batch
  item failure, so SQS delivers it again later; on its last allowed receive it goes to the
  dead-letter queue with the reason instead of being dropped by the redrive policy;
* :class:`DeadLetterError` (unusable key, failed copy, access denied) -> sent to the dead-letter
  queue with the reason at once;
* anything else (a bug) -> batch item failure, retried like a limit.

If even the dead-letter send fails the record is reported as failed, so it is never lost.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from kmskit.clients import ClientSettings
from kmskit.snapshots.engine import ClientFactory, SnapshotEngine, client_factory
from kmskit.snapshots.outcomes import DeadLetterError, RetryableError, StepError

from .config import Config
from .logs import JsonLogger
from .messages import parse
from .outbox import Outbox
from .workflow import DeadLetterTaskError, Workflow

BASE_RETRY_SECONDS = 60
MAX_RETRY_SECONDS = 3600


def retry_delay(receive_count: int) -> int:
    """Visibility timeout before the next try: 1, 2, 4 ... minutes, at most an hour."""
    return int(min(BASE_RETRY_SECONDS * 2 ** max(receive_count - 1, 0), MAX_RETRY_SECONDS))


@dataclass
class Runtime:
    """Everything one warm Lambda container reuses between invocations."""

    config: Config
    clients: ClientFactory
    log: JsonLogger = field(default_factory=JsonLogger)

    def __post_init__(self) -> None:
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
        self.workflow = Workflow(self.config, self.engine, self.outbox, self.log)

    @classmethod
    def from_env(cls) -> Runtime:
        config = Config.from_env()
        return cls(config=config, clients=client_factory(ClientSettings(region=config.region)))

    def process(self, records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
        """Handle an SQS batch; returns the partial batch failure response."""
        failures: list[dict[str, str]] = []
        done: dict[str, bool] = {}
        for record in records:
            message_id = record["messageId"]
            body = record.get("body", "")
            digest = hashlib.sha256(body.encode()).hexdigest()
            if digest in done:
                # The same body twice in one batch (a duplicate delivery): one outcome for both.
                if not done[digest]:
                    failures.append({"itemIdentifier": message_id})
                continue
            ok = self._process_one(record, body)
            done[digest] = ok
            if not ok:
                failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}

    def _process_one(self, record: dict[str, Any], body: str) -> bool:
        """True when the record may be deleted from the queue."""
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        log = self.log.bind(message_id=record["messageId"], receive_count=receive_count)
        message = parse(body)
        if message is None:
            log.warning("unknown message shape: dropped", body=body[:2000])
            return True
        try:
            outcome = self.workflow.handle(message)
        except DeadLetterTaskError as problem:
            return self._dead_letter(log, problem.body, problem, receive_count)
        except DeadLetterError as problem:
            return self._dead_letter(log, body, problem, receive_count)
        except RetryableError as problem:
            return self._retry(log, record, body, problem, receive_count)
        except Exception as error:  # a bug must not lose the message either
            unexpected = RetryableError(f"{type(error).__name__}: {error}", type(error).__name__)
            log.error("unexpected error", error=str(error), kind=type(error).__name__)
            return self._retry(log, record, body, unexpected, receive_count)
        log.info(outcome, message_type=type(message).__name__)
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
            return self._dead_letter(log, body, final, receive_count)
        delay = retry_delay(receive_count)
        log.warning("retry later", reason=problem.reason, code=problem.code, delay_seconds=delay)
        try:
            self.outbox.delay(record["receiptHandle"], delay)
        except Exception as error:
            # The message still comes back after the queue's visibility timeout.
            log.warning("could not delay the message", error=str(error))
        return False

    def _dead_letter(
        self, log: JsonLogger, body: str, problem: StepError, receive_count: int
    ) -> bool:
        try:
            self.outbox.dead_letter(
                body, reason=problem.reason, code=problem.code, receive_count=receive_count
            )
        except Exception as error:
            log.error("could not dead-letter the message", error=str(error), reason=problem.reason)
            return False
        self.log.metric("DeadLettered", self.config.replicator_id)
        log.error("dead-lettered", reason=problem.reason, code=problem.code)
        return True


_runtime: Runtime | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda entry point (SQS batch)."""
    global _runtime  # noqa: PLW0603 - one Runtime per warm container, built on first use
    if _runtime is None:
        _runtime = Runtime.from_env()
    return _runtime.process(event.get("Records", []))
