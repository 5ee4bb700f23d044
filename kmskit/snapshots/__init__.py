"""Snapshot copy engine shared by ``kmskit snapshot`` and the replication Lambda.

Standard library and boto3 only; no client is created at import time. The Lambda asset ships
this package next to its handler (``constructs_lib/snapshot_replication.py`` stages it).
"""

from kmskit.snapshots.engine import (
    ClientFactory,
    CopyResult,
    SnapshotEngine,
    SnapshotInfo,
    client_factory,
)
from kmskit.snapshots.model import Origin, SnapshotError, SnapshotRef
from kmskit.snapshots.outcomes import DeadLetterError, RetryableError, StepError

__all__ = [
    "ClientFactory",
    "CopyResult",
    "DeadLetterError",
    "Origin",
    "RetryableError",
    "SnapshotEngine",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotRef",
    "StepError",
    "client_factory",
]
