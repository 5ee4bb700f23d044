"""The constructs composed as a consuming team composes them in its own App (not the example's).

Each test is a defect found by composing ``constructs_lib`` the way README.md, docs/deploy.md and
docs/keys.md describe: the toolkit's constructs given the ``.key`` the documentation hands to
"any CDK construct", errors naming the value received, and a custom-policy key in a
``NestedStack`` granted to a role of its parent stack.
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from constructs_lib import (
    AlarmTopic,
    AuditTrail,
    ConstructPropError,
    CustomerManagedKey,
    EncryptedBucket,
    KeyPolicy,
    KmsRequestQuotaAlarm,
    ManagedPolicyRole,
    ReplicaKey,
)
from stacks.config import cdk_json_context

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="eu-west-1")
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
OBJECT_REPR = re.compile(r"object at 0x[0-9a-f]+")


def new_stack(name: str = "Consumer") -> cdk.Stack:
    return cdk.Stack(cdk.App(context=cdk_json_context()), name, env=ENV)


def key_logical_id(stack: cdk.Stack, key: CustomerManagedKey) -> str:
    cfn = key.key.node.default_child
    assert isinstance(cfn, kms.CfnKey)
    return str(stack.get_logical_id(cfn))


def key_policy(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = template["Resources"][logical_id]["Properties"]["KeyPolicy"][
        "Statement"
    ]
    return statements


# -- the documented .key is taken by the toolkit's own constructs --------------------------------


def test_alarm_topic_and_quota_alarm_take_the_documented_dot_key() -> None:
    # docs/keys.md: "data.key  # an aws_kms.IKey that any CDK construct accepts". EncryptedBucket
    # took it; AlarmTopic and KmsRequestQuotaAlarm refused it with "Received: <... object at
    # 0x...>", which names neither the key nor what to pass instead.
    stack = new_stack()
    data = CustomerManagedKey(stack, "Data", alias="alias/consumer/data")
    topic = AlarmTopic(stack, "Alarms", encryption_key=data.key)
    quota = KmsRequestQuotaAlarm(stack, "Quota", encryption_key=data.key)
    assert topic.encryption_key is data
    assert quota.topic.encryption_key is data

    template = Template.from_stack(stack).to_json()
    key_id = key_logical_id(stack, data)
    topics = [r for r in template["Resources"].values() if r["Type"] == "AWS::SNS::Topic"]
    assert len(topics) == 2
    for resource in topics:
        assert resource["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    # The publisher's statement reached the key's own policy (added once for both topics).
    sids = [s.get("Sid") for s in key_policy(template, key_id)]
    assert sids.count("AllowCloudwatchSNS") == 1


def test_alarm_topic_takes_the_dot_key_of_a_replica() -> None:
    app = cdk.App(context=cdk_json_context())
    home = cdk.Stack(app, "Home", env=ENV)
    away = cdk.Stack(
        app,
        "Away",
        env=cdk.Environment(account=ACCOUNT, region="eu-central-1"),
        cross_region_references=True,
    )
    primary = CustomerManagedKey(home, "Global", multi_region=True)
    replica = ReplicaKey(away, "GlobalReplica", primary=primary)
    topic = AlarmTopic(away, "Alarms", encryption_key=replica.key)
    assert topic.encryption_key is replica


def test_audit_trail_takes_the_documented_dot_key() -> None:
    stack = new_stack()
    data = CustomerManagedKey(stack, "AuditKey", alias="alias/consumer/audit")
    trail = AuditTrail(stack, "Trail", trail_name="consumer-trail", encryption_key=data.key)
    assert trail.key is data
    template = Template.from_stack(stack)
    # The trail made no key of its own: the given one encrypts it and names CloudTrail.
    template.resource_count_is("AWS::KMS::Key", 1)
    key_id = key_logical_id(stack, data)
    template.has_resource_properties(
        "AWS::CloudTrail::Trail", {"KMSKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
    )
    sids = {s.get("Sid") for s in key_policy(template.to_json(), key_id)}
    assert {"AllowCloudTrailToEncryptLogs", "AllowCloudWatchLogs"} <= sids


# -- refusals name the value received --------------------------------------------------------


def test_alarm_topic_refusing_a_key_it_cannot_extend_names_it_by_path() -> None:
    stack = new_stack()
    imported = kms.Key.from_key_arn(
        stack,
        "Imported",
        f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    with pytest.raises(ConstructPropError) as error:
        AlarmTopic(stack, "Alarms", encryption_key=imported)
    assert error.value.prop == "encryption_key"
    assert str(error.value).endswith("Received: 'Consumer/Imported'")
    assert ".key" in str(error.value)
    assert not OBJECT_REPR.search(str(error.value))


def test_audit_trail_refusals_name_the_construct_received() -> None:
    stack = new_stack()
    data = CustomerManagedKey(stack, "Data")
    bucket = EncryptedBucket(stack, "Logs", encryption_key=data)
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(stack, "Trail", trail_name="consumer-trail", bucket=bucket)  # type: ignore[arg-type]
    assert str(error.value).startswith(
        "'bucket' must be an AuditBucket (it carries the CloudTrail bucket policy); "
    )
    assert str(error.value).endswith("Received: 'Consumer/Logs'")
    raw = kms.Key(stack, "Raw")
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(stack, "Trail2", trail_name="consumer-trail2", encryption_key=raw)
    assert error.value.prop == "encryption_key"
    assert str(error.value).endswith("Received: 'Consumer/Raw'")


def test_audit_trail_refusing_a_central_bucket_names_the_construct_received() -> None:
    stack = new_stack()
    central = s3.Bucket(stack, "Central")
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(stack, "Trail", trail_name="consumer-trail", central_bucket=central)  # type: ignore[arg-type]
    assert str(error.value) == (
        "'central_bucket' must be a CentralAuditBucket. Received: 'Consumer/Central'"
    )


# -- a custom-policy key in a nested stack, granted to a role of its parent ------------------------


def test_custom_policy_key_in_a_nested_stack_grants_a_role_of_the_parent_stack() -> None:
    # CloudFormation passes the role's ARN to the nested stack as a parameter (the role exists
    # before the key, as KMS requires), and the role's policy reads the key's ARN from the
    # nested stack's outputs: no dependency cycle, where the grant used to be refused as one.
    parent = new_stack("Platform")
    nested = cdk.NestedStack(parent, "Keys")
    reader = ManagedPolicyRole(
        parent, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    key = CustomerManagedKey(nested, "Data", policy=KeyPolicy.custom(admins=[ADMIN]))
    key.grant_decrypt(reader)

    nested_template = Template.from_stack(nested).to_json()
    (parameter,) = nested_template["Parameters"]
    statements = key_policy(nested_template, key_logical_id(nested, key))
    (usage,) = [s for s in statements if "Sid" not in s]
    assert usage["Principal"] == {"AWS": {"Ref": parameter}}
    assert usage["Action"] == "kms:Decrypt"
    parent_template = Template.from_stack(parent).to_json()
    (nested_resource,) = [
        r
        for r in parent_template["Resources"].values()
        if r["Type"] == "AWS::CloudFormation::Stack"
    ]
    reader_id = parent.get_logical_id(reader.node.default_child)  # type: ignore[arg-type]
    assert nested_resource["Properties"]["Parameters"][parameter] == {
        "Fn::GetAtt": [reader_id, "Arn"]
    }


def test_custom_policy_key_in_a_nested_stack_keeps_the_grants_conditions() -> None:
    # Named itself (not through its account root), the parent's role is still limited by the
    # grant's conditions.
    parent = new_stack("Platform")
    nested = cdk.NestedStack(parent, "Keys")
    reader = ManagedPolicyRole(
        parent, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    key = CustomerManagedKey(nested, "Data", policy=KeyPolicy.custom(admins=[ADMIN]))
    through_s3 = {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    key.grant(reader, "kms:Decrypt", conditions=through_s3)

    nested_template = dict(Template.from_stack(nested).to_json())
    (parameter,) = nested_template["Parameters"]
    statements = key_policy(nested_template, key_logical_id(nested, key))
    (usage,) = [s for s in statements if s.get("Principal") == {"AWS": {"Ref": parameter}}]
    assert usage["Action"] == "kms:Decrypt"
    assert usage["Condition"] == through_s3


def test_custom_policy_key_nested_two_levels_down_grants_a_role_of_the_top_stack() -> None:
    # The ARN is passed down as a parameter of each nested stack: still no cycle, at any depth.
    parent = new_stack("Platform")
    nested = cdk.NestedStack(cdk.NestedStack(parent, "Shared"), "Keys")
    reader = ManagedPolicyRole(
        parent, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    key = CustomerManagedKey(nested, "Data", policy=KeyPolicy.custom(admins=[ADMIN]))
    key.grant_decrypt(reader)

    nested_template = dict(Template.from_stack(nested).to_json())
    (parameter,) = nested_template["Parameters"]
    statements = key_policy(nested_template, key_logical_id(nested, key))
    (usage,) = [s for s in statements if "Sid" not in s]
    assert usage["Principal"] == {"AWS": {"Ref": parameter}}
    assert usage["Action"] == "kms:Decrypt"


def test_custom_policy_key_of_a_parent_stack_still_refuses_a_role_of_its_nested_stack() -> None:
    # The other way round is a real cycle: the key policy would read the nested stack's output,
    # and the nested stack the key's ARN.
    parent = new_stack("Platform")
    nested = cdk.NestedStack(parent, "Apps")
    reader = ManagedPolicyRole(
        nested, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    key = CustomerManagedKey(parent, "Data", policy=KeyPolicy.custom(admins=[ADMIN]))
    with pytest.raises(ConstructPropError) as error:
        key.grant_decrypt(reader)
    assert error.value.prop == "grantee"
    assert error.value.received == "Platform/Apps/Reader"


# -- a bucket made to be destroyed takes its log bucket with it ------------------------------------


def test_auto_deleted_bucket_empties_its_dedicated_log_bucket_too() -> None:
    # With DESTROY and auto_delete_objects, the data bucket was emptied on deletion but its log
    # bucket, full of the logs of every request, was not: deleting the stack failed.
    stack = new_stack()
    key = CustomerManagedKey(stack, "Key")
    bucket = EncryptedBucket(
        stack,
        "Scratch",
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        bucket_props={"auto_delete_objects": True},
    )
    template = Template.from_stack(stack).to_json()
    emptied = sorted(
        resource["Properties"]["BucketName"]["Ref"]
        for resource in template["Resources"].values()
        if resource["Type"] == "Custom::S3AutoDeleteObjects"
    )
    buckets = [bucket.bucket, bucket.access_log_bucket]
    assert emptied == sorted(
        stack.get_logical_id(b.node.default_child)  # type: ignore[arg-type]
        for b in buckets
    )


def test_retained_bucket_leaves_its_log_bucket_alone() -> None:
    stack = new_stack()
    EncryptedBucket(stack, "Kept", encryption_key=CustomerManagedKey(stack, "Key"))
    template = Template.from_stack(stack).to_json()
    assert not any(
        resource["Type"] == "Custom::S3AutoDeleteObjects"
        for resource in template["Resources"].values()
    )


@pytest.mark.parametrize("props", [{}, {"auto_delete_objects": False}], ids=["unset", "false"])
def test_destroyed_bucket_not_auto_deleted_leaves_its_log_bucket_alone(
    props: dict[str, Any],
) -> None:
    # DESTROY without auto_delete_objects deletes only an empty bucket: its access logs are
    # kept, not emptied by a custom resource the user did not ask for.
    stack = new_stack()
    EncryptedBucket(
        stack,
        "Scratch",
        encryption_key=CustomerManagedKey(stack, "Key"),
        removal_policy=cdk.RemovalPolicy.DESTROY,
        bucket_props=props,
    )
    template = Template.from_stack(stack).to_json()
    assert not any(
        resource["Type"] == "Custom::S3AutoDeleteObjects"
        for resource in template["Resources"].values()
    )
