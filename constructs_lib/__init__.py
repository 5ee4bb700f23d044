"""Reusable AWS CDK constructs for KMS: keys, declared grants, audit trails, encrypted buckets,
snapshot replication.

Import the public API from here::

    from constructs_lib import CustomerManagedKey, KeyPolicy, ReplicaKey

Each name is loaded on first use, so an app that only makes keys never imports the Lambda,
EventBridge or CloudTrail modules of aws-cdk-lib (each a Python module of several MB that takes
0.1-0.4 s to import).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

_CDK_MODULES = {"aws_cdk": "aws-cdk-lib", "constructs": "constructs", "cdk_nag": "cdk-nag"}
"""What the constructs import -> the distribution of the "cdk" extra that provides it."""


def _require_the_cdk_extra() -> None:
    # A base install is only the kmskit CLI; say which extra to install instead of failing later
    # with a bare "No module named 'aws_cdk'". find_spec imports nothing, so use_direct_channel()
    # still runs before jsii starts.
    missing = [name for name in _CDK_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        absent = ", ".join(_CDK_MODULES[name] for name in missing)
        raise ModuleNotFoundError(
            f"constructs_lib needs the AWS CDK: {absent} "
            f"{'is' if len(missing) == 1 else 'are'} not installed. Install the toolkit with its "
            "'cdk' extra from the source you got it from (it is not on PyPI: never install the "
            "name kms-toolkit from a public index), e.g. pip install '/path/to/kms-toolkit[cdk]' "
            "or pip install 'kms-toolkit[cdk] @ git+https://<your-git-host>/<org>/kms-toolkit@<tag>'",
            name=missing[0],
        )


_require_the_cdk_extra()

_EXPORTS = {
    "AlarmTopic": "alarm_topic",
    "AuditBucket": "audit_trail",
    "AUTOSCALING_GRANT_OPERATIONS": "_kms_actions",
    "AuditTrail": "audit_trail",
    "BucketObjectLock": "encrypted_bucket",
    "BucketReplication": "encrypted_bucket",
    "CentralAuditBucket": "audit_trail",
    "ConstructPropError": "_validation",
    "CustomerManagedKey": "keys",
    "DnssecSigningKey": "dnssec",
    "EncryptedBucket": "encrypted_bucket",
    "ExternalAccount": "key_policy",
    "KeyGrant": "key_grant",
    "KeyInventoryCaller": "key_inventory_role",
    "KeyInventoryRole": "key_inventory_role",
    "KeyMaterialExpiryAlarm": "key_material_alarm",
    "KeyPolicy": "key_policy",
    "KeyServicePrincipal": "key_policy",
    "KmsAuditAlarms": "audit_alarms",
    "KmsRequestQuotaAlarm": "quota_alarm",
    "ManagedPolicyRole": "iam",
    "ReplicaKey": "keys",
    "ReplicationDestination": "snapshot_replication",
    "SNAPSHOT_KEY_ACTIONS": "_kms_actions",
    "SnapshotReceiver": "snapshot_replication",
    "SnapshotReplicator": "snapshot_replication",
    "TrailSource": "audit_trail",
    "acknowledge": "compliance",
    "acknowledge_all": "compliance",
    "add_compliance_checks": "compliance",
}
"""Public name -> the module of this package that defines it."""

__all__ = [
    "AUTOSCALING_GRANT_OPERATIONS",
    "SNAPSHOT_KEY_ACTIONS",
    "AlarmTopic",
    "AuditBucket",
    "AuditTrail",
    "BucketObjectLock",
    "BucketReplication",
    "CentralAuditBucket",
    "ConstructPropError",
    "CustomerManagedKey",
    "DnssecSigningKey",
    "EncryptedBucket",
    "ExternalAccount",
    "KeyGrant",
    "KeyInventoryCaller",
    "KeyInventoryRole",
    "KeyMaterialExpiryAlarm",
    "KeyPolicy",
    "KeyServicePrincipal",
    "KmsAuditAlarms",
    "KmsRequestQuotaAlarm",
    "ManagedPolicyRole",
    "ReplicaKey",
    "ReplicationDestination",
    "SnapshotReceiver",
    "SnapshotReplicator",
    "TrailSource",
    "acknowledge",
    "acknowledge_all",
    "add_compliance_checks",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"constructs_lib.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from constructs_lib._kms_actions import AUTOSCALING_GRANT_OPERATIONS, SNAPSHOT_KEY_ACTIONS
    from constructs_lib._validation import ConstructPropError
    from constructs_lib.alarm_topic import AlarmTopic
    from constructs_lib.audit_alarms import KmsAuditAlarms
    from constructs_lib.audit_trail import AuditBucket, AuditTrail, CentralAuditBucket, TrailSource
    from constructs_lib.compliance import acknowledge, acknowledge_all, add_compliance_checks
    from constructs_lib.dnssec import DnssecSigningKey
    from constructs_lib.encrypted_bucket import (
        BucketObjectLock,
        BucketReplication,
        EncryptedBucket,
    )
    from constructs_lib.iam import ManagedPolicyRole
    from constructs_lib.key_grant import KeyGrant
    from constructs_lib.key_inventory_role import KeyInventoryCaller, KeyInventoryRole
    from constructs_lib.key_material_alarm import KeyMaterialExpiryAlarm
    from constructs_lib.key_policy import ExternalAccount, KeyPolicy, KeyServicePrincipal
    from constructs_lib.keys import CustomerManagedKey, ReplicaKey
    from constructs_lib.quota_alarm import KmsRequestQuotaAlarm
    from constructs_lib.snapshot_replication import (
        ReplicationDestination,
        SnapshotReceiver,
        SnapshotReplicator,
    )
