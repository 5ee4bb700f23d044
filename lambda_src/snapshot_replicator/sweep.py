"""Scheduled reconciliation sweep: ``snapshot_replicator.sweep.handler``.

RDS events are best effort and any event can be missed, so every run:

* replicator: queues a copy for every selected source younger than the sweep window that has no
  copy yet in a destination (an unencrypted Aurora source, which can never be copied encrypted,
  is dead-lettered with that reason instead, by the runs within the sweep interval (plus 5
  minutes) of its creation: later runs only log it, so the dead-letter queue does not get it on
  every run of the window);
  re-announces staging copies not yet delivered; deletes (by tag, and only copies this
  replicator made) copies older than the retention, delivered staging copies whose source left
  the window, and extra copies of the same source (a lost race);
* receiver: queues a copy for every kmskit staging snapshot that a source account shares with
  this account; applies its retention, if any.

The sweep never copies itself: it queues tasks, so limits and retries work as for events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kmskit.snapshots.engine import SnapshotInfo, copy_refusal
from kmskit.snapshots.model import (
    TAG_COPY_KEY,
    TAG_DELIVERED,
    TAG_ROLE,
    TAG_SOURCE_TIME,
    Origin,
    parse_iso,
)
from kmskit.snapshots.outcomes import DeadLetterError

from .config import Config
from .handler import Runtime
from .messages import Task
from .sdk import SdkTooOldError
from .workflow import UNENCRYPTED_AURORA, past_retention

# EventBridge starts a scheduled rule within about a minute of its time; a source made just
# before a late run is still reported by the next one.
REPORT_SLACK_MINUTES = 5


@dataclass
class SweepReport:
    queued: int = 0
    deleted: int = 0
    duplicates_removed: int = 0
    dead_lettered: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "deleted": self.deleted,
            "duplicates_removed": self.duplicates_removed,
            "dead_lettered": self.dead_lettered,
            "errors": self.errors,
        }


def _age_start(info: SnapshotInfo) -> datetime | None:
    return parse_iso(info.tags.get(TAG_SOURCE_TIME, "")) or info.created


def sweep(runtime: Runtime, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> SweepReport:
    cfg = runtime.config
    report = SweepReport()
    moment = now()
    window_start = moment - timedelta(days=cfg.sweep_window_days)
    regions = sorted({d.region for d in cfg.destinations} | {cfg.region})
    tasks: list[Task] = []
    for kind in cfg.resource_types:
        copies: dict[str, list[SnapshotInfo]] = {}
        for region in regions:
            try:
                listed = runtime.engine.managed_copies(kind, region)
            except Exception as error:
                report.errors.append(f"list {kind} copies in {region}: {error}")
                listed = []
            copies[region] = [info for info in listed if _made_by_this_replicator(cfg, info)]
        for region_copies in copies.values():
            report.duplicates_removed += _remove_duplicates(runtime, region_copies, report)
            for info in region_copies:
                start = _age_start(info)
                if start is None:
                    continue
                # A pending copy is left to finish (its watch would only copy it again); a
                # later run deletes it once available if it is still past the retention.
                expired = info.state != "pending" and past_retention(
                    start, cfg.retention_days, moment
                )
                delivered_done = TAG_DELIVERED in info.tags and start < window_start
                if expired or delivered_done:
                    report.deleted += _delete(runtime, info, report)
                elif info.tags.get(TAG_ROLE) == "staging" and info.state == "available":
                    task = runtime.workflow.task_from_copy(info)
                    if task is not None and TAG_DELIVERED not in info.tags:
                        tasks.append(task)
        if cfg.mode == "replicator" and cfg.selection_tag:
            tasks.extend(
                _missing_copies(
                    runtime, kind, copies, window_start=window_start, moment=moment, report=report
                )
            )
        if cfg.mode == "receiver":
            tasks.extend(_shared_with_us(runtime, kind, moment, report))
    if tasks:
        runtime.outbox.send(tasks)
    report.queued = len(tasks)
    runtime.log.info("sweep finished", **report.as_dict())
    return report


def _made_by_this_replicator(cfg: Config, info: SnapshotInfo) -> bool:
    """Whether a copy tagged with this ``replicator_id`` is of this replicator's own sources.

    The id derives from the construct path, so an App synthesized once per Region with the same
    IDs gives the replicators of two Regions of one account the same id. A replicator's sources are
    its own account's in its own Region: a copy whose origin tags name another is the other
    replicator's, for its retention to keep or delete. A copy without origin tags is kept in, as
    before. A receiver copies what several accounts and Regions send it, so it keeps them all.
    """
    if cfg.mode != "replicator":
        return True
    origin = Origin.from_tags(info.tags)
    return origin is None or (origin.account, origin.region) == (cfg.account, cfg.region)


def _remove_duplicates(runtime: Runtime, copies: list[SnapshotInfo], report: SweepReport) -> int:
    by_key: dict[str, list[SnapshotInfo]] = defaultdict(list)
    for info in copies:
        if info.state != "failed" and TAG_COPY_KEY in info.tags:
            by_key[info.tags[TAG_COPY_KEY]].append(info)
    removed = 0
    for group in by_key.values():
        for extra in sorted(group, key=lambda i: i.ref.id)[1:]:
            removed += _delete(runtime, extra, report)
    return removed


def _delete(runtime: Runtime, info: SnapshotInfo, report: SweepReport) -> int:
    try:
        return int(runtime.engine.delete(info))
    except Exception as error:
        report.errors.append(f"delete {info.ref.arn}: {error}")
        return 0


def _missing_copies(
    runtime: Runtime,
    kind: Any,
    copies: dict[str, list[SnapshotInfo]],
    *,
    window_start: datetime,
    moment: datetime,
    report: SweepReport,
) -> list[Task]:
    cfg = runtime.config
    # Sources made since the previous run (a few minutes' slack for the schedule's jitter).
    new_since = moment - timedelta(minutes=cfg.sweep_interval_minutes + REPORT_SLACK_MINUTES)
    assert cfg.selection_tag is not None
    present = {c.tags.get(TAG_COPY_KEY) for region in copies.values() for c in region}
    # A staging copy made before the copy key named its destination account carries an older
    # key: the key its tags give now counts too, so an upgrade does not copy it again.
    rebuilt = (runtime.workflow.task_from_copy(c) for region in copies.values() for c in region)
    present |= {task.copy_key(cfg.account) for task in rebuilt if task is not None}
    try:
        sources = runtime.engine.sources(kind, cfg.region, cfg.selection_tag)
    except Exception as error:
        report.errors.append(f"list {kind} sources in {cfg.region}: {error}")
        return []
    tasks = []
    for info in sources:
        if info.created is None or info.created < window_start:
            continue
        refusal = copy_refusal(info)
        if refusal:
            if info.created >= new_since:
                _dead_letter(runtime, runtime.workflow.tasks_for(info), refusal, report)
            else:
                runtime.log.info("not copied (dead-lettered before)", reason=refusal)
            continue
        for task in runtime.workflow.tasks_for(info):
            if task.copy_key(cfg.account) not in present:
                tasks.append(task)
    return tasks


def _dead_letter(runtime: Runtime, tasks: list[Task], reason: str, report: SweepReport) -> None:
    if not tasks:
        return
    problem = DeadLetterError(reason, UNENCRYPTED_AURORA)
    if runtime.dead_letter(runtime.log, tasks[0].to_json(), problem, receive_count=0):
        report.dead_lettered += 1
    else:
        report.errors.append(f"dead-letter {tasks[0].source.arn}: the send failed (logged)")


def _shared_with_us(
    runtime: Runtime, kind: Any, moment: datetime, report: SweepReport
) -> list[Task]:
    """A copy task for each staging copy shared with this receiver, except those whose source is
    already past the receiver's retention: their copy would be deleted by this sweep's next run,
    and queued again by the run after (a staging copy stays shared when its Received notice was
    dead-lettered, or when ``kmskit snapshot copy --to-account`` made it)."""
    cfg = runtime.config
    try:
        shared = runtime.engine.shared_with_me(kind, cfg.region, cfg.source_accounts)
    except Exception as error:
        report.errors.append(f"list {kind} snapshots shared with {cfg.account}: {error}")
        return []
    tasks = []
    for info in shared:
        task = runtime.workflow.received_task(info, None)
        if task is not None and not runtime.workflow.task_past_retention(task, moment):
            tasks.append(task)
    return tasks


_runtime: Runtime | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (EventBridge schedule). Raises if nothing could be listed at all, or
    if the runtime's SDK lacks what the sweep uses (:class:`SdkTooOldError`, before any call), so
    the failed invocation is retried and then lands in the function's dead-letter queue."""
    global _runtime  # noqa: PLW0603 - one Runtime per warm container, built on first use
    if _runtime is None:
        _runtime = Runtime.from_env(max_attempts=None)
    if _runtime.sdk_problem is not None:
        _runtime.log.error("the runtime's AWS SDK is too old", reason=_runtime.sdk_problem)
        raise SdkTooOldError(_runtime.sdk_problem)
    report = sweep(_runtime)
    if report.errors and not (report.queued or report.deleted or report.dead_lettered):
        raise RuntimeError(f"sweep failed: {report.errors[:3]}")
    return report.as_dict()
