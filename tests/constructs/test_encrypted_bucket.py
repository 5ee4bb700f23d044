"""EncryptedBucket: SSE-KMS under a CMK, the bucket policy, the log bucket and replication."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from constructs_lib import (
    AuditTrail,
    BucketObjectLock,
    BucketReplication,
    ConstructPropError,
    CustomerManagedKey,
    EncryptedBucket,
)
from tests._support.apps.audit_showcase import DR_BUCKET, DR_KEY_ARN, DR_REGION, WORKLOAD
from tests._support.cfn_lint import cfn_lint_problems
from tests._support.keys import custom_policy_key
from tests._support.snapshots import normalized
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
STACK = "AuditWorkload"
TO_DR = BucketReplication(bucket_name=DR_BUCKET, encryption_key_arn=DR_KEY_ARN, region=DR_REGION)


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))


def logical_id(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    """The one resource of ``resource_type`` whose logical ID starts with ``prefix``."""
    (found,) = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type and name.startswith(prefix)
    ]
    return str(found)


def arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def objects(logical: str, suffix: str = "/*") -> dict[str, Any]:
    return {"Fn::Join": ["", [arn(logical), suffix]]}


def tls_statements(bucket: str) -> list[dict[str, Any]]:
    both = [arn(bucket), objects(bucket)]
    return [
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": both,
        },
        {
            "Action": "s3:*",
            "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": both,
        },
    ]


def encryption_statements(
    bucket: str, key: dict[str, Any], exempt: list[str] | None = None
) -> list[dict[str, Any]]:
    def deny(
        sid: str,
        condition: dict[str, Any],
        exemptable: bool = True,
        action: str | tuple[str, ...] = ("s3:PutObject", "s3:ReplicateObject"),
    ) -> dict[str, Any]:
        if exempt and exemptable:
            condition = {
                **condition,
                "StringNotEqualsIfExists": {"aws:PrincipalServiceName": exempt},
            }
        return {
            # Replicas too (s3:ReplicateObject), but for SSE-S3 ones (an AuditBucket's digests).
            "Action": action if isinstance(action, str) else list(action),
            "Condition": condition,
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": objects(bucket),
            "Sid": sid,
        }

    sse = "s3:x-amz-server-side-encryption"
    key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    return [
        deny(
            "DenyOtherEncryptionTypes",
            {"StringNotEquals": {sse: "aws:kms"}, "Null": {sse: "false"}},
            action="s3:PutObject",
        ),
        deny(
            "DenyOtherReplicaEncryptionTypes",
            {"StringNotEquals": {sse: ["aws:kms", "AES256"]}, "Null": {sse: "false"}},
            action="s3:ReplicateObject",
        ),
        deny("DenyOtherKmsKeys", {"StringNotEquals": {key_id: key}, "Null": {key_id: "false"}}),
        deny(
            "DenyKmsWithoutKeyId",
            {"StringEquals": {sse: ["aws:kms", "aws:kms:dsse"]}, "Null": {key_id: "true"}},
        ),
        deny(
            "DenyCustomerProvidedKeys",
            {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
            exemptable=False,
        ),
    ]


def log_bucket_statements(log_bucket: str, source: str, prefix: str) -> list[dict[str, Any]]:
    return [
        *tls_statements(log_bucket),
        {
            "Action": ["s3:PutObject", "s3:ReplicateObject"],
            "Condition": {
                "StringNotEqualsIfExists": {"aws:PrincipalServiceName": "logging.s3.amazonaws.com"}
            },
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": objects(log_bucket),
            "Sid": "DenyWritesExceptS3ServerAccessLogging",
        },
        {
            "Action": "s3:PutObject",
            "Condition": {
                "ArnLike": {"aws:SourceArn": arn(source)},
                "StringEquals": {"aws:SourceAccount": WORKLOAD},
            },
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Resource": objects(log_bucket, f"/{prefix}*"),
        },
    ]


def bucket_policy(template: Any, bucket: str, statements: list[dict[str, Any]]) -> None:
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": Match.object_equals(
                {"Version": "2012-10-17", "Statement": statements}
            ),
        },
    )


def role_policy(template: Any, role: str, statements: list[dict[str, Any]]) -> None:
    """``role`` has a managed policy of exactly ``statements``."""
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "Roles": [{"Ref": role}],
            "PolicyDocument": Match.object_equals(
                {"Version": "2012-10-17", "Statement": statements}
            ),
        },
    )


def trust_policy(template: Any, statements: list[dict[str, Any]]) -> None:
    """A role trusts exactly ``statements``."""
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_equals(
                {"Version": "2012-10-17", "Statement": statements}
            )
        },
    )


@pytest.fixture(scope="module")
def workload(synthesized: Synth) -> SynthResult:
    return synthesized("audit_showcase")


def test_data_bucket_encryption_and_lockdown(workload: SynthResult) -> None:
    template = workload.template(STACK)
    bucket = logical_id(template, "AWS::S3::Bucket", "ReportsBucket")
    logs = logical_id(template, "AWS::S3::Bucket", "ReportsAccessLogs")
    key = logical_id(template, "AWS::KMS::Key", "DataKey")
    workload.assertions(STACK).has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_equals(
                {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {
                                "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
                                "BucketKeyEnabled": True,
                                "ServerSideEncryptionByDefault": {
                                    "KMSMasterKeyID": arn(key),
                                    "SSEAlgorithm": "aws:kms",
                                },
                            }
                        ]
                    },
                    "LifecycleConfiguration": {
                        "Rules": [
                            {
                                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                                "ExpiredObjectDeleteMarker": True,
                                "Id": "ExpireNoncurrentVersions",
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                                "Status": "Enabled",
                            }
                        ]
                    },
                    "LoggingConfiguration": {
                        "DestinationBucketName": {"Ref": logs},
                        "LogFilePrefix": "Reports/",
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "VersioningConfiguration": {"Status": "Enabled"},
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    assert bucket in template["Resources"]


def test_data_bucket_policy_statements(workload: SynthResult) -> None:
    template = workload.template(STACK)
    bucket = logical_id(template, "AWS::S3::Bucket", "ReportsBucket")
    key = logical_id(template, "AWS::KMS::Key", "DataKey")
    bucket_policy(
        workload.assertions(STACK),
        bucket,
        [*tls_statements(bucket), *encryption_statements(bucket, arn(key))],
    )


def test_log_bucket_is_sse_s3_versioned_and_only_the_logging_service_writes(
    workload: SynthResult,
) -> None:
    template = workload.template(STACK)
    logs = logical_id(template, "AWS::S3::Bucket", "ReportsAccessLogs")
    source = logical_id(template, "AWS::S3::Bucket", "ReportsBucket")
    resource = template["Resources"][logs]
    assert resource["Properties"] == {
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {
                    "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
                    "ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                }
            ]
        },
        "LifecycleConfiguration": {
            "Rules": [
                {
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                    "ExpirationInDays": 90,
                    "Id": "ExpireAccessLogs",
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                    "Status": "Enabled",
                }
            ]
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "VersioningConfiguration": {"Status": "Enabled"},
    }
    assert resource["DeletionPolicy"] == "Retain"
    bucket_policy(workload.assertions(STACK), logs, log_bucket_statements(logs, source, "Reports/"))


def test_replication_to_the_destination_regions_key(workload: SynthResult) -> None:
    template = workload.template(STACK)
    bucket = logical_id(template, "AWS::S3::Bucket", "DataBucket")
    role = logical_id(template, "AWS::IAM::Role", "DataReplicationRole")
    assert template["Resources"][bucket]["Properties"]["ReplicationConfiguration"] == {
        "Role": arn(role),
        "Rules": [
            {
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "Destination": {
                    "Bucket": f"arn:aws:s3:::{DR_BUCKET}",
                    "EncryptionConfiguration": {"ReplicaKmsKeyID": DR_KEY_ARN},
                },
                "Filter": {"Prefix": ""},
                "Id": "ReplicateEverything",
                "Priority": 1,
                "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                "Status": "Enabled",
            }
        ],
    }


def _denied_by(statements: list[dict[str, Any]], action: str, keys: dict[str, str]) -> list[str]:
    """The Sids of the Deny ``statements`` that refuse ``action`` for a request with the
    condition ``keys`` it carries (a principal that is no service: aws:PrincipalServiceName is
    absent). Only the operators these statements use; every object resource is matched."""

    def holds(operator: str, key: str, values: Any) -> bool:
        wanted = values if isinstance(values, list) else [values]
        present = key in keys
        if operator == "Null":
            return present is (wanted == ["false"])
        if operator == "StringEquals":
            return present and keys[key] in wanted
        if operator in ("StringNotEquals", "StringNotEqualsIfExists"):
            return not present or keys[key] not in wanted
        raise AssertionError(f"operator {operator} not modelled")

    return [
        statement.get("Sid", "")
        for statement in statements
        if statement["Effect"] == "Deny"
        and action in (a if isinstance(a := statement["Action"], list) else [a])
        and all(
            holds(operator, key, values)
            for operator, condition in statement.get("Condition", {}).items()
            for key, values in condition.items()
        )
    ]


def _source_and_dr_stacks(
    context: dict[str, Any] | None = None,
) -> tuple[cdk.Stack, cdk.Stack]:
    """A replicating bucket's stack and its destination's, of one App (of ``context``, default
    none) and account."""
    app = cdk.App(context=context)
    source = cdk.Stack(app, "Source", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))
    dr = cdk.Stack(app, "Dr", env=cdk.Environment(account=WORKLOAD, region=DR_REGION))
    return source, dr


def test_replicas_are_held_to_the_destination_buckets_key() -> None:
    """Replicas that S3 replication writes (s3:ReplicateObject) escaped the encryption denies,
    which named s3:PutObject only: any replication could bring objects in under another key.
    The replicas a BucketReplication writes (its encryption_key_arn, the destination's key), and
    SSE-S3 replicas (an AuditBucket's digest files), still get in."""
    source, dr = _source_and_dr_stacks()
    EncryptedBucket(
        source, "Data", encryption_key=CustomerManagedKey(source, "K"), replication=TO_DR
    )
    EncryptedBucket(
        dr,
        "Replica",
        bucket_name=DR_BUCKET,
        encryption_key=kms.Key.from_key_arn(dr, "DrKey", DR_KEY_ARN),
    )
    (rule,) = [
        r["Properties"]["ReplicationConfiguration"]["Rules"][0]
        for r in Template.from_stack(source).to_json()["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket" and "ReplicationConfiguration" in r["Properties"]
    ]
    replica_key = rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in Template.from_stack(dr).to_json()["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy"
    ]
    (data,) = [p for p in policies if any(s.get("Sid") == "DenyOtherKmsKeys" for s in p)]
    (logs,) = [p for p in policies if p is not data]
    sse = "s3:x-amz-server-side-encryption"
    key_id = "s3:x-amz-server-side-encryption-aws-kms-key-id"
    other_key = DR_KEY_ARN.replace("0f1e2d3c", "ffffffff")
    replicas = {
        "BucketReplication's": ({sse: "aws:kms", key_id: replica_key}, []),
        "SSE-S3 (digest files)": ({sse: "AES256"}, []),
        "another key": ({sse: "aws:kms", key_id: other_key}, ["DenyOtherKmsKeys"]),
        "aws/s3": ({sse: "aws:kms"}, ["DenyKmsWithoutKeyId"]),
        # DSSE-KMS, which uploads may not use either (DenyOtherEncryptionTypes): they got in.
        "DSSE-KMS under aws/s3": (
            {sse: "aws:kms:dsse"},
            ["DenyOtherReplicaEncryptionTypes", "DenyKmsWithoutKeyId"],
        ),
        "DSSE-KMS under this key": (
            {sse: "aws:kms:dsse", key_id: replica_key},
            ["DenyOtherReplicaEncryptionTypes"],
        ),
        "DSSE-KMS under another key": (
            {sse: "aws:kms:dsse", key_id: other_key},
            ["DenyOtherReplicaEncryptionTypes", "DenyOtherKmsKeys"],
        ),
        "SSE-C": (
            {"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"},
            ["DenyCustomerProvidedKeys"],
        ),
    }
    for what, (keys, refused) in replicas.items():
        assert _denied_by(data, "s3:ReplicateObject", keys) == refused, what
    # The two literal ARNs are the same key: nothing to warn about.
    Annotations.from_stack(source).has_no_warning("*", Match.any_value())
    # Only S3 server access logging writes to the log bucket, and no replication.
    assert _denied_by(logs, "s3:ReplicateObject", {sse: "AES256"}) == [
        "DenyWritesExceptS3ServerAccessLogging"
    ]


@pytest.mark.parametrize("keys", ["literal", "app"])
@pytest.mark.parametrize("destination_first", [False, True], ids=["source", "destination"])
def test_a_replication_under_another_key_than_its_destination_bucket_is_refused(
    destination_first: bool, keys: str
) -> None:
    """It was accepted at synth, and the destination's policy (DenyOtherKmsKeys) then refused
    every SSE-KMS replica, which S3 reports only in each object's replication status (FAILED).
    Refused whichever of the two EncryptedBuckets of the App is made first. Two keys made in
    the App ("app": ARN tokens) were only warned about as "cannot be compared at synth" (they
    can: they are two keys), with the raw token shown: the value is shown as its key's path."""
    source, dr = _source_and_dr_stacks()
    if keys == "literal":
        other_key, shown = DR_KEY_ARN.replace("0f1e2d3c", "ffffffff"), None
    else:
        other_key, shown = CustomerManagedKey(dr, "OtherDrKey").key_arn, "Dr/OtherDrKey/Key"

    def replicated() -> None:
        EncryptedBucket(
            source,
            "Data",
            encryption_key=CustomerManagedKey(source, "K"),
            replication=BucketReplication(
                bucket_name=DR_BUCKET, encryption_key_arn=other_key, region=DR_REGION
            ),
        )

    def destination() -> None:
        key = (
            kms.Key.from_key_arn(dr, "DrKey", DR_KEY_ARN)
            if keys == "literal"
            else CustomerManagedKey(dr, "DrKey")
        )
        EncryptedBucket(dr, "Replica", bucket_name=DR_BUCKET, encryption_key=key)

    first, second = (destination, replicated) if destination_first else (replicated, destination)
    first()
    with pytest.raises(ConstructPropError) as error:
        second()
    under = DR_KEY_ARN if keys == "literal" else "Dr/DrKey/Key"
    assert str(error.value) == (
        f"'replication.encryption_key_arn' must be the key of the destination bucket "
        f"'{DR_BUCKET}' (the EncryptedBucket Dr/Replica, under {under}): its bucket policy "
        "refuses replicas under any other key (DenyOtherKmsKeys), so S3 would fail to replicate "
        "every SSE-KMS object of Source/Data, with no error at deploy. "
        f"Received: {shown or repr(other_key)}"
    )


@pytest.mark.parametrize("destination_key", ["app", "lookup"])
def test_a_replication_into_a_bucket_whose_key_cannot_be_compared_is_warned_about(
    destination_key: str,
) -> None:
    """A key made in the App ("app") has an ARN token, which a literal encryption_key_arn
    cannot be compared with at synth: a warning says so (nothing did), naming both. Until the
    lookup is in cdk.context.json, a ``kms.Key.from_lookup`` key's ARN ("lookup") is CDK's
    placeholder, which looked like a literal ARN: the replication naming the real key was
    refused, and the error stopped the App before the missing lookup was written, so a fresh
    checkout never synthesized; it is warned about as well. (The partition is literal, as in
    cdk.json: the placeholder ARN then has no token at all.)"""
    source, dr = _source_and_dr_stacks({"@aws-cdk/core:enablePartitionLiterals": True})
    key = (
        CustomerManagedKey(dr, "DrKey")
        if destination_key == "app"
        else kms.Key.from_lookup(dr, "DrKey", alias_name="alias/dr-data")
    )
    EncryptedBucket(dr, "Replica", bucket_name=DR_BUCKET, encryption_key=key)
    EncryptedBucket(
        source, "Data", encryption_key=CustomerManagedKey(source, "K"), replication=TO_DR
    )
    under = "Dr/DrKey/Key" if destination_key == "app" else "Dr/DrKey"  # the kms.Key
    annotations = Annotations.from_stack(source)
    annotations.has_warning(
        "/Source/Data",
        Match.string_like_regexp(
            f"^replication.encryption_key_arn \\({DR_KEY_ARN}\\) cannot be compared at synth "
            f"with the key of the destination bucket '{DR_BUCKET}' \\(the EncryptedBucket "
            f"Dr/Replica, under {under}\\): make sure it is that key's ARN; .*"
            "\\[ack: kmskit:replicaKeyUnchecked\\]$"
        ),
    )
    assert len(annotations.find_warning("*", Match.any_value())) == 1
    if destination_key == "lookup":  # the lookup is written for the CLI to make
        app = source.node.root
        assert isinstance(app, cdk.App)
        manifest = json.loads((Path(app.synth().directory) / "manifest.json").read_text())
        assert [m["provider"] for m in manifest["missing"]] == ["key-provider"]


def test_a_replication_under_the_destination_buckets_own_key_of_the_app_passes() -> None:
    """The destination's key, given by its ARN token: no error and nothing to warn about."""
    source, dr = _source_and_dr_stacks()
    key = CustomerManagedKey(dr, "DrKey")
    EncryptedBucket(dr, "Replica", bucket_name=DR_BUCKET, encryption_key=key)
    EncryptedBucket(
        source,
        "Data",
        encryption_key=CustomerManagedKey(source, "K"),
        replication=BucketReplication(
            bucket_name=DR_BUCKET, encryption_key_arn=key.key_arn, region=DR_REGION
        ),
    )
    Annotations.from_stack(source).has_no_warning("/Source/Data", Match.any_value())


def test_a_replication_under_a_key_of_the_app_in_another_region_is_refused() -> None:
    """A key made in the App had its Region checked only when its ARN was literal: the source
    bucket's own key (another Region) passed, and S3 could not use it for the replicas."""
    source, _ = _source_and_dr_stacks()
    key = CustomerManagedKey(source, "K")
    with pytest.raises(ConstructPropError) as error:
        EncryptedBucket(
            source,
            "Data",
            encryption_key=key,
            replication=BucketReplication(
                bucket_name=DR_BUCKET, encryption_key_arn=key.key_arn, region=DR_REGION
            ),
        )
    assert str(error.value) == (
        f"'replication.encryption_key_arn' must be a key in the destination Region {DR_REGION}. "
        f"Received: 'Source/K/Key/Resource (account {WORKLOAD}, eu-west-1)'"
    )


def test_replication_role_is_least_privilege(workload: SynthResult) -> None:
    template = workload.template(STACK)
    bucket = logical_id(template, "AWS::S3::Bucket", "DataBucket")
    role = logical_id(template, "AWS::IAM::Role", "DataReplicationRole")
    key = logical_id(template, "AWS::KMS::Key", "DataKey")
    assertions = workload.assertions(STACK)
    trust_policy(
        assertions,
        [
            {
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": WORKLOAD}},
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
            }
        ],
    )
    dr_objects = f"arn:aws:s3:::{DR_BUCKET}/*"
    role_policy(
        assertions,
        role,
        [
            {
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Effect": "Allow",
                "Resource": arn(bucket),
                "Sid": "ReadReplicationConfiguration",
            },
            {
                "Action": [
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionTagging",
                ],
                "Effect": "Allow",
                "Resource": objects(bucket),
                "Sid": "ReadSourceVersions",
            },
            {
                "Action": [
                    "s3:ReplicateDelete",
                    "s3:ReplicateObject",
                    "s3:ReplicateTags",
                ],
                "Effect": "Allow",
                "Resource": dr_objects,
                "Sid": "WriteReplicas",
            },
            {
                "Action": "kms:Decrypt",
                "Condition": {
                    "StringLike": {
                        "kms:ViaService": "s3.eu-west-1.amazonaws.com",
                        "kms:EncryptionContext:aws:s3:arn": [
                            arn(bucket),
                            objects(bucket),
                        ],
                    }
                },
                "Effect": "Allow",
                "Resource": arn(key),
                "Sid": "DecryptSourceObjects",
            },
            {
                "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                "Condition": {
                    "StringLike": {
                        "kms:ViaService": f"s3.{DR_REGION}.amazonaws.com",
                        "kms:EncryptionContext:aws:s3:arn": [
                            f"arn:aws:s3:::{DR_BUCKET}",
                            dr_objects,
                        ],
                    }
                },
                "Effect": "Allow",
                "Resource": DR_KEY_ARN,
                "Sid": "EncryptReplicas",
            },
        ],
    )
    # The role has no inline policy (NIST/HIPAA/PCI IAMNoInlinePolicy).
    assert "Policies" not in template["Resources"][role]["Properties"]


def test_data_key_policy_is_left_to_iam(workload: SynthResult) -> None:
    """The default key policy delegates to IAM: the bucket and the replication role add nothing."""
    workload.assertions(STACK).has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": "AuditWorkload/DataKey (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
            "KeyPolicy": Match.object_equals(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Action": "kms:*",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{WORKLOAD}:root"},
                            "Resource": "*",
                            "Sid": "EnableIAMUserPermissions",
                        }
                    ],
                }
            ),
        },
    )


def _custom_key_replication(
    tmp_path: Path, bucket_name: str | None
) -> tuple[cdk.App, cdk.Stack, EncryptedBucket, dict[str, Any]]:
    """A replicating bucket under a custom-policy key of its own stack, and the key policy's
    statement for the replication role."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))
    key = custom_policy_key(stack, "K", account=WORKLOAD)
    bucket = EncryptedBucket(
        stack, "B", encryption_key=key, bucket_name=bucket_name, replication=TO_DR
    )
    (statement,) = [
        s
        for s in stack.resolve(key.policy_document)["Statement"]
        if s.get("Sid") == f"AllowS3ReplicationToDecrypt{bucket.node.addr[:8]}"
    ]
    assert bucket.replication_role is not None
    assert statement["Principal"] == {"AWS": stack.resolve(bucket.replication_role.role_arn)}
    assert statement["Action"] == "kms:Decrypt"
    return app, stack, bucket, statement


def test_custom_key_policy_names_the_replication_role_without_a_cycle(tmp_path: Path) -> None:
    """A key whose policy does not delegate to IAM gets the role's decrypt statement itself. The
    key is in the bucket's stack and the bucket names it: a statement naming the bucket's
    Fn::GetAtt Arn made a circular dependency that CloudFormation refuses (cfn-lint E3004).
    Without a bucket name, S3 in this Region and the role itself limit the statement."""
    app, _, _, statement = _custom_key_replication(tmp_path, None)
    assert statement["Condition"] == {
        "StringLike": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }
    app.synth()
    assert cfn_lint_problems([tmp_path / "S.template.json"]) == []


def test_custom_key_policy_names_a_named_buckets_objects_only(tmp_path: Path) -> None:
    """With a bucket name, the statement is as narrow as the role's own policy: through S3, for
    this bucket's objects only, the ARN built from the name (no reference, so no cycle)."""
    name = "workload-data-222222222222"
    app, stack, bucket, statement = _custom_key_replication(tmp_path, name)
    assert statement["Condition"] == {
        "StringLike": {
            "kms:ViaService": "s3.eu-west-1.amazonaws.com",
            "kms:EncryptionContext:aws:s3:arn": [
                {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{name}{suffix}"]]}
                for suffix in ("", "/*")
            ],
        }
    }
    assert bucket.replication_policy is not None
    document = stack.resolve(bucket.replication_policy.document)
    (decrypt,) = [s for s in document["Statement"] if s.get("Sid") == "DecryptSourceObjects"]
    assert decrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [
        stack.resolve(bucket.bucket.bucket_arn),
        stack.resolve(bucket.bucket.arn_for_objects("*")),
    ]
    app.synth()
    assert cfn_lint_problems([tmp_path / "S.template.json"]) == []


def test_audit_trail_with_a_custom_key_and_replication_has_no_cycle(tmp_path: Path) -> None:
    # AuditTrail's own AuditBucket is an EncryptedBucket under the trail's key: the same path.
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))
    AuditTrail(
        stack,
        "Audit",
        trail_name="audit",
        encryption_key=custom_policy_key(stack, "K", account=WORKLOAD),
        bucket_props={"replication": TO_DR},
    )
    app.synth()
    assert cfn_lint_problems([tmp_path / "S.template.json"]) == []


@pytest.mark.parametrize(
    "lock_props",
    [
        {"bucket_props": {"object_lock_enabled": True}},
        {"object_lock": BucketObjectLock(s3.ObjectLockMode.GOVERNANCE, days=30)},
        {"object_lock": BucketObjectLock(s3.ObjectLockMode.COMPLIANCE, years=1)},
    ],
    ids=["enabled", "governance-days", "compliance-years"],
)
def test_replication_of_an_object_lock_bucket_may_read_retention_and_legal_hold(
    lock_props: dict[str, Any],
) -> None:
    """S3 user guide, "Using S3 Object Lock with replication": the role needs
    s3:GetObjectRetention and s3:GetObjectLegalHold on the source; a bucket without Object Lock
    does not get them."""
    stack = _stack()
    key = CustomerManagedKey(stack, "K")
    locked = EncryptedBucket(stack, "Locked", encryption_key=key, replication=TO_DR, **lock_props)
    plain = EncryptedBucket(stack, "Plain", encryption_key=key, replication=TO_DR)

    def read_actions(bucket: EncryptedBucket) -> list[str]:
        assert bucket.replication_policy is not None
        document = stack.resolve(bucket.replication_policy.document)
        (read,) = [s for s in document["Statement"] if s.get("Sid") == "ReadSourceVersions"]
        assert read["Resource"] == stack.resolve(bucket.bucket.arn_for_objects("*"))
        return sorted(read["Action"])

    base = [
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionTagging",
    ]
    assert read_actions(locked) == sorted([*base, "s3:GetObjectLegalHold", "s3:GetObjectRetention"])
    assert read_actions(plain) == base


def test_replicating_buckets_sharing_a_custom_policy_key_get_a_statement_each() -> None:
    # IAM refuses a policy whose statement IDs repeat; each bucket's role gets its own Sid.
    stack = _stack()
    key = custom_policy_key(stack, "K", account=WORKLOAD)
    buckets = [
        EncryptedBucket(
            stack,
            name,
            encryption_key=key,
            replication=BucketReplication(
                bucket_name=f"{DR_BUCKET}-{name.lower()}",
                encryption_key_arn=DR_KEY_ARN,
                region=DR_REGION,
            ),
        )
        for name in ("A", "B")
    ]
    resolved = stack.resolve(key.policy_document)
    sids = [s.get("Sid") for s in resolved["Statement"] if s.get("Sid")]
    assert len(sids) == len(set(sids))
    replication = [
        s
        for s in resolved["Statement"]
        if str(s.get("Sid", "")).startswith("AllowS3ReplicationToDecrypt")
    ]
    assert [s["Principal"] for s in replication] == [
        {"AWS": stack.resolve(b.replication_role.role_arn)}
        for b in buckets
        if b.replication_role is not None
    ]


def test_custom_key_policy_of_another_stack_is_refused_with_replication() -> None:
    # Its policy would name the role and bucket of the bucket's stack, which names the key: a
    # DependencyCycle at synth. The error says which key and what to do instead.
    app = cdk.App()
    env = cdk.Environment(account=WORKLOAD, region="eu-west-1")
    key = custom_policy_key(cdk.Stack(app, "Keys", env=env), "K", account=WORKLOAD)
    with pytest.raises(ConstructPropError) as error:
        EncryptedBucket(
            cdk.Stack(app, "Data", env=env),
            "B",
            encryption_key=key,
            replication=TO_DR,
        )
    assert str(error.value) == (
        "'encryption_key' must be in the bucket's stack (Data) when its key policy does not "
        "delegate to IAM (KeyPolicy.custom): that policy must name the replication role, and "
        "from another stack the two stacks would depend on each other. Make the key in the "
        "bucket's stack or give it KeyPolicy.default(). Received: 'Keys/K in stack Keys'"
    )


def test_keys_of_another_stack_that_delegate_to_iam_replicate_across_stacks() -> None:
    # Only the role's own policy (in the bucket's stack) names them: both stacks synthesize.
    app = cdk.App()
    env = cdk.Environment(account=WORKLOAD, region="eu-west-1")
    keys = cdk.Stack(app, "Keys", env=env)
    data = cdk.Stack(app, "Data", env=env)
    bucket = EncryptedBucket(
        data,
        "B",
        encryption_key=CustomerManagedKey(keys, "K"),
        replication=TO_DR,
    )
    bucket.allow_replication_of_objects_under(CustomerManagedKey(keys, "Other"))
    app.synth()
    assert [d.node.path for d in data.dependencies] == ["Keys"]


def test_replication_role_trusts_the_named_source_bucket_only() -> None:
    stack = _stack()
    bucket = EncryptedBucket(
        stack,
        "B",
        encryption_key=CustomerManagedKey(stack, "K"),
        bucket_name="workload-data-222222222222",
        replication=TO_DR,
    )
    assert bucket.replication_role is not None
    assert bucket.replication_role.assume_role_policy is not None
    trust = stack.resolve(bucket.replication_role.assume_role_policy.to_json())
    (statement,) = trust["Statement"]
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": WORKLOAD},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":s3:::workload-data-222222222222"],
                ]
            }
        },
    }


def test_attributes_expose_every_resource() -> None:
    stack = _stack()
    key = CustomerManagedKey(stack, "K")
    plain = EncryptedBucket(stack, "Plain", encryption_key=key.key)
    assert isinstance(plain.bucket, s3.Bucket)
    assert isinstance(plain.access_log_bucket, s3.Bucket)
    assert plain.encryption_key is key.key
    assert plain.replication_role is None
    assert plain.replication_policy is None
    shared = EncryptedBucket(
        stack, "Shared", encryption_key=key, access_log_bucket=plain.access_log_bucket
    )
    assert shared.access_log_bucket is plain.access_log_bucket
    # No second log bucket was made for it.
    assert [c.node.id for c in shared.node.children] == ["Bucket"]


def test_log_bucket_of_another_stack_admits_this_accounts_logging_only() -> None:
    """aws-cdk-lib leaves aws:SourceArn and aws:SourceAccount out of the log delivery statement
    for a log bucket of another stack: any bucket of any account could then write (forge) log
    records under the prefix. The statement carries aws:SourceAccount, and aws:SourceArn built
    from the bucket's name when it has one (the ARN token would make the stacks a cycle)."""
    app = cdk.App()
    env = cdk.Environment(account=WORKLOAD, region="eu-west-1")
    logs = cdk.Stack(app, "Logs", env=env)
    central = EncryptedBucket(logs, "Central", encryption_key=CustomerManagedKey(logs, "K"))
    data = cdk.Stack(app, "Data", env=env)
    for name, bucket_name in (("B", None), ("N", "workload-data-222222222222")):
        EncryptedBucket(
            data,
            name,
            encryption_key=CustomerManagedKey(data, f"Key{name}"),
            bucket_name=bucket_name,
            access_log_bucket=central.access_log_bucket,
        )
    template = Template.from_stack(logs).to_json()
    log_bucket = logical_id(template, "AWS::S3::Bucket", "CentralAccessLogs")
    delivery = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    account = {"StringEquals": {"aws:SourceAccount": WORKLOAD}}
    source_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::" + bucket_name]]}
    assert [(s["Resource"], s["Condition"]) for s in delivery[1:]] == [
        (objects(log_bucket, "/B/*"), account),
        (objects(log_bucket, "/N/*"), {**account, "ArnLike": {"aws:SourceArn": source_arn}}),
    ]
    assert {(s["Effect"], s["Action"]) for s in delivery} == {("Allow", "s3:PutObject")}
    # aws-cdk-lib's "Unable to add necessary logging permissions" does not apply.
    Annotations.from_stack(data).has_no_warning(
        "*", Match.string_like_regexp("accessLogsPolicyNotAdded")
    )
    assert [d.node.path for d in data.dependencies] == ["Logs"]
    assert logs.dependencies == []


def test_sse_s3_log_bucket_and_distinct_lifecycle_rules_are_accepted() -> None:
    stack = _stack()
    key = CustomerManagedKey(stack, "K")
    for index, encryption in enumerate((s3.BucketEncryption.S3_MANAGED, None)):
        logs = s3.Bucket(stack, f"Logs{index}", encryption=encryption)
        bucket = EncryptedBucket(
            stack,
            f"B{index}",
            encryption_key=key,
            access_log_bucket=logs,
            bucket_props={
                "lifecycle_rules": [
                    s3.LifecycleRule(id="Archive", expiration=cdk.Duration.days(400)),
                    s3.LifecycleRule(expiration=cdk.Duration.days(800), prefix="tmp/"),
                ]
            },
        )
        assert bucket.access_log_bucket is logs
    buckets = Template.from_stack(stack).find_resources("AWS::S3::Bucket")
    for index in (0, 1):
        (rules,) = [
            resource["Properties"]["LifecycleConfiguration"]["Rules"]
            for name, resource in buckets.items()
            if name.startswith(f"B{index}Bucket")
        ]
        assert [rule.get("Id") for rule in rules] == ["ExpireNoncurrentVersions", "Archive", None]


@pytest.mark.parametrize(
    ("bucket_props", "tls"),
    [
        ({"block_public_access": s3.BlockPublicAccess.BLOCK_ALL}, 1.2),
        (
            {
                "block_public_access": s3.BlockPublicAccess(
                    block_public_acls=True,
                    block_public_policy=True,
                    ignore_public_acls=True,
                    restrict_public_buckets=True,
                )
            },
            1.2,
        ),
        ({"minimum_tls_version": 1.3}, 1.3),
    ],
    ids=["block-all", "all-four-flags", "tls-1.3"],
)
def test_bucket_props_may_repeat_or_tighten_required_settings(
    bucket_props: dict[str, Any], tls: float
) -> None:
    # Each jsii read of BLOCK_ALL is a new object: repeating it was refused as a change, and so
    # was a stricter TLS minimum. A stricter one is kept in the bucket policy.
    stack = _stack()
    EncryptedBucket(
        stack, "B", encryption_key=CustomerManagedKey(stack, "K"), bucket_props=bucket_props
    )
    template = Template.from_stack(stack).to_json()["Resources"]
    bucket = logical_id({"Resources": template}, "AWS::S3::Bucket", "BBucket")
    assert template[bucket]["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert [
        s["Condition"]["NumericLessThan"]
        for s in policy
        if "NumericLessThan" in s.get("Condition", {})
    ] == [{"s3:TlsVersion": tls}]


def test_imported_key_in_the_buckets_region_is_accepted() -> None:
    """An imported key's spec is unknown at synth: its ARN is checked, S3 checks the rest."""
    stack = _stack()
    key = kms.Key.from_key_arn(
        stack,
        "Imported",
        f"arn:aws:kms:eu-west-1:{WORKLOAD}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    bucket = EncryptedBucket(stack, "B", encryption_key=key)
    assert bucket.encryption_key is key


@pytest.mark.parametrize(
    "policy",
    [
        cdk.RemovalPolicy.RETAIN,
        cdk.RemovalPolicy.DESTROY,
        cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    ],
)
def test_removal_policies_cloudformation_accepts_for_a_bucket(policy: cdk.RemovalPolicy) -> None:
    stack = _stack()
    EncryptedBucket(
        stack, "B", encryption_key=CustomerManagedKey(stack, "K"), removal_policy=policy
    )
    buckets = Template.from_stack(stack).find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2  # the bucket and its access-log bucket
    deletion = {
        cdk.RemovalPolicy.RETAIN: "Retain",
        cdk.RemovalPolicy.DESTROY: "Delete",
        cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE: "RetainExceptOnCreate",
    }[policy]
    # The access-log bucket is removed or kept with the bucket whose logs it holds.
    assert [b["DeletionPolicy"] for b in buckets.values()] == [deletion, deletion]


def _asymmetric(stack: cdk.Stack) -> Any:
    return CustomerManagedKey(stack, "Rsa", key_spec="RSA_2048", key_usage="SIGN_VERIFY")


def _hmac(stack: cdk.Stack) -> Any:
    return CustomerManagedKey(stack, "Hmac", key_spec="HMAC_256").key


def _raw_rsa(stack: cdk.Stack) -> Any:
    return kms.Key(
        stack, "Raw", key_spec=kms.KeySpec.RSA_2048, key_usage=kms.KeyUsage.ENCRYPT_DECRYPT
    )


def _alias(stack: cdk.Stack) -> Any:
    return kms.Alias(stack, "Alias", alias_name="alias/data", target_key=kms.Key(stack, "T"))


def _imported_alias(stack: cdk.Stack) -> Any:
    # An IAlias is an IKey too: its key_arn (arn:${Partition}:kms:...:alias/data) is a token.
    return kms.Alias.from_alias_name(stack, "Imported", "alias/data")


def _alias_arn_with_partition_token(stack: cdk.Stack) -> Any:
    return kms.Key.from_key_arn(
        stack, "I", f"arn:{cdk.Aws.PARTITION}:kms:eu-west-1:{WORKLOAD}:alias/data"
    )


def _alias_arn(stack: cdk.Stack) -> Any:
    return kms.Key.from_key_arn(stack, "I", f"arn:aws:kms:eu-west-1:{WORKLOAD}:alias/data")


def _other_region(stack: cdk.Stack) -> Any:
    return kms.Key.from_key_arn(stack, "I", f"arn:aws:kms:us-east-1:{WORKLOAD}:key/abc")


def _symmetric(stack: cdk.Stack) -> Any:
    return CustomerManagedKey(stack, "Data")


def _key_of_another_region_stack(stack: cdk.Stack) -> Any:
    app = stack.node.root
    assert isinstance(app, cdk.App)
    other = cdk.Stack(app, "Virginia", env=cdk.Environment(account=WORKLOAD, region="us-east-1"))
    return CustomerManagedKey(other, "Data")


def _kms_log_bucket(stack: cdk.Stack) -> Any:
    return s3.Bucket(stack, "Logs", encryption_key=kms.Key(stack, "LogKey"))


def _aws_managed_kms_log_bucket(stack: cdk.Stack) -> Any:
    # SSE-KMS with aws/s3: the bucket has no encryption_key, and S3 still cannot log into it.
    return s3.Bucket(stack, "Logs", encryption=s3.BucketEncryption.KMS_MANAGED)


def _dsse_log_bucket(stack: cdk.Stack) -> Any:
    return s3.Bucket(stack, "Logs", encryption=s3.BucketEncryption.DSSE_MANAGED)


def _other_region_log_bucket(stack: cdk.Stack) -> Any:
    return s3.Bucket.from_bucket_attributes(
        stack, "Logs", bucket_name="logs-us-east-1", region="us-east-1"
    )


def _other_account_log_bucket(stack: cdk.Stack) -> Any:
    return s3.Bucket.from_bucket_attributes(
        stack, "Logs", bucket_name="logs-elsewhere", account="999999999999"
    )


def _other_stack_log_bucket(stack: cdk.Stack) -> Any:
    app = stack.node.root
    assert isinstance(app, cdk.App)
    other = cdk.Stack(
        app,
        "Virginia",
        env=cdk.Environment(account=WORKLOAD, region="us-east-1"),
    )
    return s3.Bucket(other, "Logs", encryption=s3.BucketEncryption.S3_MANAGED)


def _object_lock_log_bucket(stack: cdk.Stack) -> Any:
    return s3.Bucket(
        stack, "Logs", encryption=s3.BucketEncryption.S3_MANAGED, object_lock_enabled=True
    )


REPLICA = {"bucket_name": DR_BUCKET, "encryption_key_arn": DR_KEY_ARN, "region": DR_REGION}


@pytest.mark.parametrize(
    ("key", "props", "message"),
    [
        (
            _asymmetric,
            {},
            "'encryption_key' must be a symmetric encryption key (SYMMETRIC_DEFAULT, "
            "ENCRYPT_DECRYPT); S3 encrypts with no other kind. Received: 'RSA_2048 (SIGN_VERIFY)'",
        ),
        (_hmac, {}, "Received: 'HMAC_256 (GENERATE_VERIFY_MAC)'"),
        (_raw_rsa, {}, "Received: 'RSA_2048 (ENCRYPT_DECRYPT)'"),
        (_alias, {}, "'encryption_key' must be a KMS key, not an alias"),
        # Shown by the name it was given, not by the token an aws_kms.Alias names itself with.
        (
            _alias,
            {},
            "'encryption_key' must be a KMS key, not an alias (the bucket policy names the key "
            "ARN). Received: 'alias/data'",
        ),
        # Was accepted: KMSMasterKeyID and DenyOtherKmsKeys named the alias.
        (
            _imported_alias,
            {},
            "'encryption_key' must be a KMS key, not an alias (the bucket policy names the key "
            "ARN). Received: 'alias/data'",
        ),
        (
            _alias_arn_with_partition_token,
            {},
            "'encryption_key' must be a KMS key, not an alias. Received: 'arn:${Token[",
        ),
        (_alias_arn, {}, "'encryption_key' must be a KMS key, not an alias. Received: 'arn:aws"),
        (_other_region, {}, "'encryption_key' must be in the bucket's Region (eu-west-1)"),
        (
            _key_of_another_region_stack,
            {},
            "'encryption_key' must be in the bucket's Region (eu-west-1). "
            "Received: 'Virginia/Data in us-east-1'",
        ),
        (
            lambda stack: "alias/data",
            {},
            "'encryption_key' must be a CustomerManagedKey, a ReplicaKey or an aws_kms.IKey. "
            "Received: 'alias/data'",
        ),
        (
            _symmetric,
            {"noncurrent_version_retention_days": 0},
            "'noncurrent_version_retention_days' must be a whole number of days, at least 1. "
            "Received: 0",
        ),
        (
            _symmetric,
            {"noncurrent_version_retention_days": 1.5},
            "'noncurrent_version_retention_days' must be a whole number of days, at least 1. "
            "Received: 1.5",
        ),
        (
            _symmetric,
            {"access_log_retention_days": -3},
            "'access_log_retention_days' must be a whole number of days, at least 1. Received: -3",
        ),
        (
            _symmetric,
            {"access_log_retention_days": 30, "access_log_bucket": "logs"},
            "'access_log_retention_days' applies only to the log bucket this construct makes",
        ),
        (
            _symmetric,
            {"access_log_bucket": _kms_log_bucket},
            "'access_log_bucket' must use SSE-S3 default encryption",
        ),
        (
            _symmetric,
            {"access_log_bucket": _aws_managed_kms_log_bucket},
            "'access_log_bucket' must use SSE-S3 default encryption (S3 server access logging "
            "cannot deliver to SSE-KMS or DSSE-KMS buckets, the AWS managed key aws/s3 "
            "included). Received: 'S/Logs (aws:kms)'",
        ),
        (
            _symmetric,
            {"access_log_bucket": _dsse_log_bucket},
            "Received: 'S/Logs (aws:kms:dsse)'",
        ),
        # S3 user guide: the log bucket is in the source bucket's Region and account, without
        # Object Lock; otherwise PutBucketLogging fails at deploy.
        (
            _symmetric,
            {"access_log_bucket": _other_region_log_bucket},
            "'access_log_bucket' must be in the bucket's Region (eu-west-1): S3 delivers server "
            "access logs only to a bucket in the source bucket's Region and account. "
            "Received: 'S/Logs in us-east-1'",
        ),
        (
            _symmetric,
            {"access_log_bucket": _other_stack_log_bucket},
            "'access_log_bucket' must be in the bucket's Region (eu-west-1): S3 delivers server "
            "access logs only to a bucket in the source bucket's Region and account. "
            "Received: 'Virginia/Logs in us-east-1'",
        ),
        (
            _symmetric,
            {"access_log_bucket": _other_account_log_bucket},
            "'access_log_bucket' must be in the bucket's account (222222222222): S3 delivers "
            "server access logs only to a bucket in the source bucket's Region and account. "
            "Received: 'S/Logs in 999999999999'",
        ),
        (
            _symmetric,
            {"access_log_bucket": _object_lock_log_bucket},
            "'access_log_bucket' must not have S3 Object Lock enabled (S3 cannot deliver server "
            "access logs to such a bucket). Received: 'S/Logs'",
        ),
        # S3 refuses a lifecycle configuration whose rule IDs repeat, at deploy time.
        (
            _symmetric,
            {
                "bucket_props": {
                    "lifecycle_rules": [
                        s3.LifecycleRule(
                            id="ExpireNoncurrentVersions", expiration=cdk.Duration.days(30)
                        )
                    ]
                }
            },
            "'bucket_props' must not repeat a lifecycle rule ID (ExpireNoncurrentVersions is "
            "this construct's own). Received: ['ExpireNoncurrentVersions']",
        ),
        (
            _symmetric,
            {
                "bucket_props": {
                    "lifecycle_rules": [
                        s3.LifecycleRule(id="Archive", expiration=cdk.Duration.days(30)),
                        s3.LifecycleRule(id="Archive", expiration=cdk.Duration.days(60)),
                    ]
                }
            },
            "'bucket_props' must not repeat a lifecycle rule ID",
        ),
        (
            _symmetric,
            {"bucket_props": {"encryption": s3.BucketEncryption.S3_MANAGED}},
            "'bucket_props' must not change 'encryption'",
        ),
        (
            _symmetric,
            {"bucket_props": {"versioned": False}},
            "'bucket_props' must not change 'versioned' (required: True)",
        ),
        # Rendered by its four settings, not as "<...BlockPublicAccess object at 0x...>".
        (
            _symmetric,
            {"bucket_props": {"block_public_access": s3.BlockPublicAccess(block_public_acls=True)}},
            "'bucket_props' must not change 'block_public_access' (required: BlockPublicAccess("
            "block_public_acls=True, block_public_policy=True, ignore_public_acls=True, "
            "restrict_public_buckets=True)). Received: {'block_public_access': BlockPublicAccess("
            "block_public_acls=True, block_public_policy=False, ignore_public_acls=False, "
            "restrict_public_buckets=False)}",
        ),
        (
            _symmetric,
            {"bucket_props": {"minimum_tls_version": 1.1}},
            "'bucket_props' must not lower 'minimum_tls_version' (required: 1.2 or later, one of "
            "1.2, 1.3). Received: {'minimum_tls_version': 1.1}",
        ),
        # A string, or a version S3 does not know, was reported as lowering the minimum.
        (
            _symmetric,
            {"bucket_props": {"minimum_tls_version": "1.3"}},
            "'bucket_props' must give 'minimum_tls_version' as a number, one of 1.2, 1.3 (not "
            "str). Received: {'minimum_tls_version': '1.3'}",
        ),
        (
            _symmetric,
            {"bucket_props": {"minimum_tls_version": True}},
            "'bucket_props' must give 'minimum_tls_version' as a number, one of 1.2, 1.3 (not "
            "bool). Received: {'minimum_tls_version': True}",
        ),
        (
            _symmetric,
            {"bucket_props": {"minimum_tls_version": 1.4}},
            "'bucket_props' must give 'minimum_tls_version' as a TLS version S3 accepts, one of "
            "1.2, 1.3. Received: {'minimum_tls_version': 1.4}",
        ),
        (
            _symmetric,
            {"bucket_props": {"enforce_ssl": False}},
            "'bucket_props' must not change 'enforce_ssl'",
        ),
        (
            _symmetric,
            {"bucket_props": {"removal_policy": cdk.RemovalPolicy.DESTROY}},
            "'bucket_props' must not set 'removal_policy', which is set from this construct's "
            "own props",
        ),
        (
            _symmetric,
            {"bucket_props": {"bucket_name": "data"}},
            "'bucket_props' must not set 'bucket_name' (use the bucket_name prop)",
        ),
        (_symmetric, {"bucket_name": "Data_Bucket"}, "'bucket_name' must be 3-63 lowercase"),
        (_symmetric, {"bucket_name": "data..bucket"}, "'bucket_name' must be 3-63 lowercase"),
        (
            _symmetric,
            {"bucket_name": "192.168.5.4"},
            "'bucket_name' must not be formatted as an IP address. Received: '192.168.5.4'",
        ),
        # Were raw jsii errors ("Invalid S3 bucket name") from aws_s3.Bucket.
        (
            _symmetric,
            {"bucket_name": "a.-b"},
            "'bucket_name' must not have a '.' next to a '-'. Received: 'a.-b'",
        ),
        (
            _symmetric,
            {"bucket_name": "data-.bucket"},
            "'bucket_name' must not have a '.' next to a '-'. Received: 'data-.bucket'",
        ),
        # CloudFormation refuses DeletionPolicy Snapshot on an S3 bucket, at deploy time.
        (
            _symmetric,
            {"removal_policy": cdk.RemovalPolicy.SNAPSHOT},
            "'removal_policy' must not be RemovalPolicy.SNAPSHOT (CloudFormation cannot snapshot "
            "an S3 bucket). Received: RemovalPolicy.SNAPSHOT",
        ),
        # S3's reserved prefixes and suffixes: CreateBucket refuses them at deploy.
        *(
            (
                _symmetric,
                {"bucket_name": name},
                f"'bucket_name' must not {rule}, which S3 reserves. Received: '{name}'",
            )
            for name, rule in [
                ("xn--data-bucket", "start with 'xn--'"),
                ("sthree-data", "start with 'sthree-'"),
                ("sthree-configurator-data", "start with 'sthree-'"),
                ("amzn-s3-demo-data", "start with 'amzn-s3-demo-'"),
                ("data-s3alias", "end with '-s3alias'"),
                ("data--ol-s3", "end with '--ol-s3'"),
                ("data.mrap", "end with '.mrap'"),
                ("data--x-s3", "end with '--x-s3'"),
                ("data--table-s3", "end with '--table-s3'"),
            ]
        ),
        (
            _symmetric,
            {"service_writers": ["cloudtrail"]},
            "'service_writers' must hold service principals such as 'cloudtrail.amazonaws.com'",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "region": "eu-west-1"}},
            "'replication.region' must be another Region than the source bucket's (eu-west-1)",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "region": "mars-1"}},
            "'replication.region' must be an AWS Region name",
        ),
        (
            _symmetric,
            {
                "replication": {
                    **REPLICA,
                    "encryption_key_arn": f"arn:aws:kms:{DR_REGION}:{WORKLOAD}:alias/dr",
                }
            },
            "'replication.encryption_key_arn' must be a KMS key ARN",
        ),
        (
            _symmetric,
            {
                "replication": {
                    **REPLICA,
                    "encryption_key_arn": DR_KEY_ARN.replace(DR_REGION, "eu-north-1"),
                }
            },
            "'replication.encryption_key_arn' must be a key in the destination Region "
            "(eu-central-1)",
        ),
        (
            _symmetric,
            {
                "replication": {
                    **REPLICA,
                    "encryption_key_arn": DR_KEY_ARN.replace(WORKLOAD, "999999999999"),
                }
            },
            "'replication.encryption_key_arn' must belong to this account (222222222222)",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "bucket_name": "DR"}},
            "'replication.bucket_name' must be an S3 bucket name. Received: 'DR'",
        ),
        # The destination name gets the bucket_name checks: the first two were raw jsii errors,
        # the third was accepted and failed at deploy.
        (
            _symmetric,
            {"replication": {**REPLICA, "bucket_name": "192.168.1.1"}},
            "'replication.bucket_name' must not be formatted as an IP address. "
            "Received: '192.168.1.1'",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "bucket_name": "a..b"}},
            "'replication.bucket_name' must be 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit. Received: 'a..b'",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "bucket_name": "xn--ab"}},
            "'replication.bucket_name' must not start with 'xn--', which S3 reserves. "
            "Received: 'xn--ab'",
        ),
        # A trailing newline (a value read from a file) passed "$"; S3 and KMS refuse it.
        (
            _symmetric,
            {"bucket_name": "data-bucket\n"},
            "'bucket_name' must be 3-63 lowercase letters, digits, '.' or '-', starting and "
            "ending with a letter or digit. Received: 'data-bucket\\n'",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "bucket_name": f"{DR_BUCKET}\n"}},
            f"'replication.bucket_name' must be an S3 bucket name. Received: '{DR_BUCKET}\\n'",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "encryption_key_arn": f"{DR_KEY_ARN}\n"}},
            "'replication.encryption_key_arn' must be a KMS key ARN",
        ),
        # Wrong types: without these checks, a TypeError or a jsii deserialization error (the
        # app runs with python -O, where jsii's own type checks are off).
        (
            _symmetric,
            {"replication": {**REPLICA, "bucket_name": None}},
            "'replication.bucket_name' must be an S3 bucket name. Received: None",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "encryption_key_arn": 5}},
            "'replication.encryption_key_arn' must be a KMS key ARN "
            "(arn:aws:kms:<region>:<account>:key/<id>). Received: 5",
        ),
        (
            _symmetric,
            {"replication": {**REPLICA, "storage_class": "GLACIER"}},
            "'replication.storage_class' must be an aws_s3.StorageClass, or None. "
            "Received: 'GLACIER'",
        ),
        # Any truthy value would have been passed on: "no" would replicate delete markers.
        (
            _symmetric,
            {"replication": {**REPLICA, "replicate_delete_markers": "no"}},
            "'replication.replicate_delete_markers' must be True or False. Received: 'no'",
        ),
        (
            _symmetric,
            {"access_log_prefix": 5},
            "'access_log_prefix' must be a string (an S3 key prefix such as 'data/'). Received: 5",
        ),
        # A string would be read one character at a time ("Received: 'c'").
        (
            _symmetric,
            {"service_writers": "cloudtrail.amazonaws.com"},
            "'service_writers' must be a list or tuple of service principal strings. "
            "Received: 'cloudtrail.amazonaws.com'",
        ),
        (
            _symmetric,
            {"service_writers": None},
            "'service_writers' must be a list or tuple of service principal strings. "
            "Received: None",
        ),
        (
            _symmetric,
            {"bucket_props": ["versioned"]},
            "'bucket_props' must be a mapping of aws_s3.Bucket props, such as "
            "{'event_bridge_enabled': True}. Received: ['versioned']",
        ),
        (
            _symmetric,
            {"bucket_props": {"event_bridge_enable": True}},
            "'bucket_props' must hold only aws_s3.Bucket props. Received: ['event_bridge_enable']",
        ),
        (
            _symmetric,
            {"bucket_props": {"lifecycle_rules": s3.LifecycleRule(id="Archive", enabled=True)}},
            "'bucket_props' must be a list or tuple of aws_s3.LifecycleRule for "
            "'lifecycle_rules'. Received: LifecycleRule(enabled=True, id='Archive')",
        ),
        (
            _symmetric,
            {"bucket_props": {"lifecycle_rules": [{"id": "Archive"}]}},
            "'bucket_props' must give 'lifecycle_rules' as aws_s3.LifecycleRule values. "
            "Received: {'id': 'Archive'}",
        ),
    ],
)
def test_bad_props_name_the_prop_and_value(
    key: Callable[[cdk.Stack], Any], props: dict[str, Any], message: str
) -> None:
    stack = _stack()
    kwargs = dict(props)
    if callable(kwargs.get("access_log_bucket")):
        kwargs["access_log_bucket"] = kwargs["access_log_bucket"](stack)
    elif kwargs.get("access_log_bucket") == "logs":
        kwargs["access_log_bucket"] = s3.Bucket(stack, "Logs")
    if isinstance(kwargs.get("replication"), dict):
        kwargs["replication"] = BucketReplication(**kwargs["replication"])
    with pytest.raises(ConstructPropError) as error:
        EncryptedBucket(stack, "Bucket", encryption_key=key(stack), **kwargs)
    assert message in str(error.value)


def test_snapshot(workload: SynthResult, snapshot_json: Any) -> None:
    assert normalized(workload.template(STACK)) == snapshot_json


def test_a_bucket_name_is_taken_once_in_an_app() -> None:
    # S3 names are global: two buckets alike, even in two accounts' stacks, fail at deploy time.
    app = cdk.App()
    first = cdk.Stack(app, "A", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    second = cdk.Stack(app, "B", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    EncryptedBucket(
        first, "Data", encryption_key=CustomerManagedKey(first, "K"), bucket_name="team-data-1"
    )
    with pytest.raises(ConstructPropError) as error:
        EncryptedBucket(
            second,
            "Data",
            encryption_key=CustomerManagedKey(second, "K"),
            bucket_name="team-data-1",
        )
    assert str(error.value) == (
        "'bucket_name' must be unique: S3 bucket names are global, and A/Data has it already. "
        "Received: 'team-data-1'"
    )


# S3 Object Lock (object_lock=BucketObjectLock(...)).

GOVERNANCE_YEAR = BucketObjectLock(s3.ObjectLockMode.GOVERNANCE, days=365)


def _buckets(stack: cdk.Stack) -> dict[str, Any]:
    """The stack's buckets by logical ID: ``Locked...`` for the data bucket, ``...AccessLogs...``
    for its log bucket."""
    resources = Template.from_stack(stack).to_json()["Resources"]
    return {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket"}


def _noncurrent_days(bucket: dict[str, Any]) -> list[int]:
    rules = bucket["LifecycleConfiguration"]["Rules"]
    return [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules]


@pytest.mark.parametrize(
    ("lock", "retention", "noncurrent_days"),
    [
        (GOVERNANCE_YEAR, {"Mode": "GOVERNANCE", "Days": 365}, 365),
        # S3 counts calendar years: Years is rendered as such, not as 365-day days.
        (
            BucketObjectLock(s3.ObjectLockMode.COMPLIANCE, years=7),
            {"Mode": "COMPLIANCE", "Years": 7},
            7 * 365,
        ),
        # Shorter than the 90-day default: the default stays.
        (
            BucketObjectLock(s3.ObjectLockMode.GOVERNANCE, days=30),
            {"Mode": "GOVERNANCE", "Days": 30},
            90,
        ),
    ],
    ids=["governance-days", "compliance-years", "shorter-than-default"],
)
def test_object_lock_sets_the_default_retention_and_keeps_noncurrent_versions_as_long(
    lock: BucketObjectLock, retention: dict[str, Any], noncurrent_days: int
) -> None:
    """Object Lock on the data bucket only (S3 cannot deliver access logs to a locked bucket);
    the default noncurrent-version expiry is the retention when that is longer than 90 days."""
    stack = _stack()
    bucket = EncryptedBucket(
        stack, "Locked", encryption_key=CustomerManagedKey(stack, "K"), object_lock=lock
    )
    assert bucket.object_lock is lock
    buckets = _buckets(stack)
    (data,) = [b for name, b in buckets.items() if name.startswith("LockedBucket")]
    assert data["ObjectLockEnabled"] is True
    assert data["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": retention},
    }
    assert data["VersioningConfiguration"] == {"Status": "Enabled"}
    assert _noncurrent_days(data) == [noncurrent_days]
    (logs,) = [b for name, b in buckets.items() if "AccessLogs" in name]
    assert "ObjectLockEnabled" not in logs
    assert "ObjectLockConfiguration" not in logs
    assert _noncurrent_days(logs) == [90]


def test_lifecycle_rules_that_outlast_the_retention_are_accepted() -> None:
    # At least the retention (a year counted as 365 days), or a disabled rule: nothing to say.
    stack = _stack()
    EncryptedBucket(
        stack,
        "Locked",
        encryption_key=CustomerManagedKey(stack, "K"),
        object_lock=BucketObjectLock(s3.ObjectLockMode.COMPLIANCE, years=2),
        noncurrent_version_retention_days=730,
        bucket_props={
            "lifecycle_rules": [
                s3.LifecycleRule(
                    id="ExpireOldLogs",
                    expiration=cdk.Duration.days(730),
                    noncurrent_version_expiration=cdk.Duration.days(800),
                ),
                s3.LifecycleRule(id="Paused", enabled=False, expiration=cdk.Duration.days(1)),
                s3.LifecycleRule(
                    id="Archive",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(30),
                        )
                    ],
                ),
            ]
        },
    )
    (data,) = [b for name, b in _buckets(stack).items() if name.startswith("LockedBucket")]
    assert [r["Id"] for r in data["LifecycleConfiguration"]["Rules"]] == [
        "ExpireNoncurrentVersions",
        "ExpireOldLogs",
        "Paused",
        "Archive",
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"mode": "GOVERNANCE", "days": 30},
            "'object_lock.mode' must be aws_s3.ObjectLockMode.GOVERNANCE or "
            "aws_s3.ObjectLockMode.COMPLIANCE. Received: 'GOVERNANCE'",
        ),
        (
            {"mode": s3.ObjectLockMode.GOVERNANCE},
            "'object_lock.days' or 'object_lock.years' must be given, and neither was. "
            "Received: None",
        ),
        (
            {"mode": s3.ObjectLockMode.GOVERNANCE, "days": 30, "years": 1},
            "'object_lock.days' or 'object_lock.years' must be given, not both. Received: 30",
        ),
        # S3's limits: 1-36,500 days or 1-100 years.
        (
            {"mode": s3.ObjectLockMode.GOVERNANCE, "days": 0},
            "'object_lock.days' must be 1-36500 days. Received: 0",
        ),
        (
            {"mode": s3.ObjectLockMode.COMPLIANCE, "days": 36_501},
            "'object_lock.days' must be 1-36500 days. Received: 36501",
        ),
        (
            {"mode": s3.ObjectLockMode.COMPLIANCE, "years": 0},
            "'object_lock.years' must be 1-100 years. Received: 0",
        ),
        (
            {"mode": s3.ObjectLockMode.COMPLIANCE, "years": 101},
            "'object_lock.years' must be 1-100 years. Received: 101",
        ),
        (
            {"mode": s3.ObjectLockMode.COMPLIANCE, "days": 1.5},
            "'object_lock.days' must be 1-36500 days. Received: 1.5",
        ),
        (
            {"mode": s3.ObjectLockMode.COMPLIANCE, "years": True},
            "'object_lock.years' must be 1-100 years. Received: True",
        ),
    ],
)
def test_a_bad_object_lock_names_the_field_and_value(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConstructPropError) as error:
        BucketObjectLock(**fields)
    assert str(error.value) == message


def test_the_limits_of_the_retention_are_accepted() -> None:
    for fields in ({"days": 1}, {"days": 36_500}, {"years": 1}, {"years": 100}):
        BucketObjectLock(s3.ObjectLockMode.COMPLIANCE, **fields)


def _expiring(**rule: Any) -> dict[str, Any]:
    return {"bucket_props": {"lifecycle_rules": [s3.LifecycleRule(**rule)]}}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"object_lock": s3.ObjectLockRetention.governance(cdk.Duration.days(30))},
            "'object_lock' must be a BucketObjectLock. "
            "Received: <aws_cdk.aws_s3.ObjectLockRetention",
        ),
        (
            {"object_lock": GOVERNANCE_YEAR, "noncurrent_version_retention_days": 364},
            "'noncurrent_version_retention_days' must be at least the Object Lock retention "
            "(object_lock: GOVERNANCE for 365 days): S3 cannot delete a locked version, so the "
            "lifecycle rule would do nothing until then. Received: 364",
        ),
        # A year counts as 365 days (the shortest a year of retention lasts).
        (
            {
                "object_lock": BucketObjectLock(s3.ObjectLockMode.COMPLIANCE, years=7),
                "noncurrent_version_retention_days": 2554,
            },
            "'noncurrent_version_retention_days' must be at least the Object Lock retention "
            "(object_lock: COMPLIANCE for 7 years (2555 days)): S3 cannot delete a locked "
            "version, so the lifecycle rule would do nothing until then. Received: 2554",
        ),
        (
            {
                "object_lock": GOVERNANCE_YEAR,
                **_expiring(id="ExpireOldLogs", expiration=cdk.Duration.days(30)),
            },
            "'bucket_props' must not expire current objects before their Object Lock retention "
            "ends (object_lock: GOVERNANCE for 365 days): a delete marker would hide each one "
            "while S3 still keeps it locked. Received: {'ExpireOldLogs': 'expiration 30 days'}",
        ),
        (
            {
                "object_lock": GOVERNANCE_YEAR,
                **_expiring(noncurrent_version_expiration=cdk.Duration.days(364)),
            },
            "'bucket_props' must not expire noncurrent versions before their Object Lock "
            "retention ends (object_lock: GOVERNANCE for 365 days): S3 cannot delete a locked "
            "version, so the rule would do nothing until then. "
            "Received: {'lifecycle_rules[0]': 'noncurrent_version_expiration 364 days'}",
        ),
        (
            {
                "object_lock": GOVERNANCE_YEAR,
                **_expiring(id="Once", expiration_date=datetime(2030, 1, 1, tzinfo=UTC)),
            },
            "'bucket_props' must not expire current objects on a date with object_lock "
            "(GOVERNANCE for 365 days): the objects written in the retention before it would be "
            "hidden behind delete markers while still locked. "
            "Received: {'Once': 'expiration_date 2030-01-01 00:00:00+00:00'}",
        ),
        (
            {"object_lock": GOVERNANCE_YEAR, "bucket_props": {"object_lock_enabled": False}},
            "'bucket_props' must not change 'object_lock_enabled' (required: True). "
            "Received: {'object_lock_enabled': False}",
        ),
        # The raw way is refused: its retention escaped every check above.
        (
            {
                "bucket_props": {
                    "object_lock_default_retention": s3.ObjectLockRetention.governance(
                        cdk.Duration.days(30)
                    )
                }
            },
            "'bucket_props' must not set 'object_lock_default_retention': give object_lock="
            "BucketObjectLock(...), whose retention is checked against the lifecycle rules. "
            "Received: {'object_lock_default_retention': ObjectLockRetention(...)}",
        ),
        # The custom resource that empties the bucket cannot delete locked versions.
        (
            {
                "object_lock": GOVERNANCE_YEAR,
                "removal_policy": cdk.RemovalPolicy.DESTROY,
                "bucket_props": {"auto_delete_objects": True},
            },
            "'bucket_props' must not set 'auto_delete_objects' with object_lock (GOVERNANCE for "
            "365 days): S3 refuses to delete a locked version, so emptying the bucket would fail, "
            "and the stack's deletion with it. Received: {'auto_delete_objects': True}",
        ),
        # Object Lock without a default retention locks a version under a legal hold or a
        # retention of its own just as well: was accepted, and the stack's deletion then failed.
        (
            {
                "removal_policy": cdk.RemovalPolicy.DESTROY,
                "bucket_props": {"object_lock_enabled": True, "auto_delete_objects": True},
            },
            "'bucket_props' must not set 'auto_delete_objects' with 'object_lock_enabled': True "
            "(S3 Object Lock, for legal holds and retention): S3 refuses to delete a locked "
            "version, so emptying the bucket would fail, and the stack's deletion with it. "
            "Received: {'auto_delete_objects': True}",
        ),
    ],
    ids=[
        "not-a-bucket-object-lock",
        "noncurrent-days",
        "noncurrent-days-years",
        "expiration",
        "noncurrent-expiration",
        "expiration-date",
        "object-lock-enabled-false",
        "raw-default-retention",
        "auto-delete-objects",
        "auto-delete-objects-object-lock-enabled",
    ],
)
def test_object_lock_conflicts_name_the_prop_and_value(props: dict[str, Any], message: str) -> None:
    stack = _stack()
    with pytest.raises(ConstructPropError) as error:
        EncryptedBucket(stack, "Locked", encryption_key=CustomerManagedKey(stack, "K"), **props)
    assert str(error.value).startswith(message)


def test_a_locked_bucket_is_refused_as_an_access_log_bucket() -> None:
    # S3 cannot deliver server access logs to a bucket with Object Lock (nor to SSE-KMS).
    stack = _stack()
    key = CustomerManagedKey(stack, "K")
    locked = EncryptedBucket(stack, "Locked", encryption_key=key, object_lock=GOVERNANCE_YEAR)
    with pytest.raises(ConstructPropError) as error:
        EncryptedBucket(stack, "Data", encryption_key=key, access_log_bucket=locked.bucket)
    assert str(error.value).startswith("'access_log_bucket' must use SSE-S3 default encryption")
