"""Snapshot copy engine shared by ``kmskit snapshot`` and the replication Lambda.

Standard library and boto3 only; no client is created at import time. The Lambda asset ships
this package next to its handler (``constructs_lib/snapshot_replication.py`` stages it).

Import from the modules: :mod:`kmskit.snapshots.model` (names, tags, identifiers; no boto3, so
the constructs can use it at synth without loading boto3), :mod:`kmskit.snapshots.engine` and
:mod:`kmskit.snapshots.outcomes`.
"""
