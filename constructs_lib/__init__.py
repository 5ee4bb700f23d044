"""Reusable AWS CDK constructs for KMS: keys, audit trails, encrypted buckets, snapshot replication.

Import the public API from here::

    from constructs_lib import CustomerManagedKey, KeyPolicy, ReplicaKey
"""

from constructs_lib._validation import ConstructPropError
from constructs_lib.alarm_topic import AlarmTopic
from constructs_lib.compliance import acknowledge, add_compliance_checks
from constructs_lib.key_policy import ExternalAccount, KeyPolicy, KeyServicePrincipal
from constructs_lib.keys import CustomerManagedKey, ReplicaKey
from constructs_lib.snapshot_replication import (
    ReplicationDestination,
    SnapshotReceiver,
    SnapshotReplicator,
)

__all__ = [
    "AlarmTopic",
    "ConstructPropError",
    "CustomerManagedKey",
    "ExternalAccount",
    "KeyPolicy",
    "KeyServicePrincipal",
    "ReplicaKey",
    "ReplicationDestination",
    "SnapshotReceiver",
    "SnapshotReplicator",
    "acknowledge",
    "add_compliance_checks",
]
