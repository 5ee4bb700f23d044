"""The function's configuration: one JSON document in ``KMSKIT_SNAPSHOT_CONFIG``, written by the
construct at synth time (``constructs_lib/snapshot_replication.py``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kmskit.snapshots.model import KINDS, Kind, SnapshotError, copy_tags_problem

ENV_VAR = "KMSKIT_SNAPSHOT_CONFIG"
Mode = Literal["replicator", "receiver"]


@dataclass(frozen=True)
class Destination:
    region: str
    kms_key_arn: str
    account: str | None = None

    @property
    def cross_account(self) -> bool:
        return self.account is not None


@dataclass(frozen=True)
class Config:
    """What one replicator or receiver does.

    ``destinations``: where copies go (a receiver's are same-account onward copies).
    ``retention_days``: copies this replicator made are deleted after this many days (None:
    kept). ``sweep_window_days``: how far back the sweep looks for sources that were missed.
    ``sweep_interval_minutes``: how often the sweep runs. ``copy_tags``: tags put on every copy
    besides the toolkit's own (checked as the construct checks them: a configuration the
    construct would refuse stops the function instead of losing tags).
    """

    mode: Mode
    replicator_id: str
    account: str
    region: str
    partition: str
    resource_types: tuple[Kind, ...]
    queue_url: str
    dead_letter_queue_url: str
    max_receive_count: int
    destinations: tuple[Destination, ...] = ()
    selection_tag: tuple[str, str] | None = None
    retention_days: int | None = None
    sweep_window_days: int = 1
    sweep_interval_minutes: int = 60
    source_accounts: tuple[str, ...] = ()
    kms_key_arn: str | None = None
    copy_tags: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Config:
        mode = data["mode"]
        if mode not in ("replicator", "receiver"):
            raise SnapshotError(f"'mode' must be replicator or receiver. Received: {mode!r}")
        kinds: list[Kind] = []
        for kind in data["resource_types"]:
            if kind not in KINDS:
                raise SnapshotError(f"'resource_types' holds an unknown kind. Received: {kind!r}")
            kinds.append(kind)
        tag = data.get("selection_tag")
        copy_tags = data.get("copy_tags", {})
        problem = copy_tags_problem(copy_tags)
        if problem is not None:
            requirement, received = problem
            raise SnapshotError(f"'copy_tags' {requirement}. Received: {received!r}")
        return cls(
            mode=mode,
            replicator_id=str(data["replicator_id"]),
            account=str(data["account"]),
            region=str(data["region"]),
            partition=str(data.get("partition", "aws")),
            resource_types=tuple(kinds),
            queue_url=str(data["queue_url"]),
            dead_letter_queue_url=str(data["dead_letter_queue_url"]),
            max_receive_count=int(data["max_receive_count"]),
            destinations=tuple(
                Destination(
                    region=str(d["region"]),
                    kms_key_arn=str(d["kms_key_arn"]),
                    account=d.get("account"),
                )
                for d in data.get("destinations", [])
            ),
            selection_tag=(str(tag[0]), str(tag[1])) if tag else None,
            retention_days=data.get("retention_days"),
            sweep_window_days=int(data.get("sweep_window_days", 1)),
            sweep_interval_minutes=int(data.get("sweep_interval_minutes", 60)),
            source_accounts=tuple(str(a) for a in data.get("source_accounts", [])),
            kms_key_arn=data.get("kms_key_arn"),
            copy_tags=tuple(sorted(copy_tags.items())),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        raw = (environ if environ is not None else os.environ).get(ENV_VAR)
        if not raw:
            raise SnapshotError(f"{ENV_VAR} is not set")
        return cls.from_mapping(json.loads(raw))
