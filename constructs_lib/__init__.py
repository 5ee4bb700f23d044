"""Reusable AWS CDK constructs for KMS: keys, audit trails, encrypted buckets, snapshot replication.

Import the public API from here::

    from constructs_lib import CustomerManagedKey, KeyPolicy, ReplicaKey
"""

from constructs_lib._validation import ConstructPropError
from constructs_lib.alarm_topic import AlarmTopic
from constructs_lib.audit_trail import AuditBucket, AuditTrail, CentralAuditBucket, TrailSource
from constructs_lib.compliance import acknowledge, add_compliance_checks
from constructs_lib.encrypted_bucket import BucketReplication, EncryptedBucket
from constructs_lib.iam import ManagedPolicyRole
from constructs_lib.key_policy import ExternalAccount, KeyPolicy, KeyServicePrincipal
from constructs_lib.keys import CustomerManagedKey, ReplicaKey
from constructs_lib.quota_alarm import KmsRequestQuotaAlarm
from constructs_lib.snapshot_replication import (
    ReplicationDestination,
    SnapshotReceiver,
    SnapshotReplicator,
)

__all__ = [
    "AlarmTopic",
    "AuditBucket",
    "AuditTrail",
    "BucketReplication",
    "CentralAuditBucket",
    "ConstructPropError",
    "CustomerManagedKey",
    "EncryptedBucket",
    "ExternalAccount",
    "KeyPolicy",
    "KeyServicePrincipal",
    "KmsRequestQuotaAlarm",
    "ManagedPolicyRole",
    "ReplicaKey",
    "ReplicationDestination",
    "SnapshotReceiver",
    "SnapshotReplicator",
    "TrailSource",
    "acknowledge",
    "add_compliance_checks",
]
