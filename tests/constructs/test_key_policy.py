"""Every statement of every key policy role, read from the synthesized showcase.

The expected action lists are written out here on purpose: a change to the toolkit's action
tables must show up as a failing test, not pass silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from constructs_lib import (
    SNAPSHOT_KEY_ACTIONS,
    AlarmTopic,
    AuditTrail,
    ConstructPropError,
    CustomerManagedKey,
    ExternalAccount,
    KeyPolicy,
    KeyServicePrincipal,
)
from constructs_lib.key_policy import stack_facts, stack_of
from stacks.config import cdk_json_context
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
STACK = "KeysShowcase"
ACCOUNT = "111111111111"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
EXEC_ROLE = f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-eu-west-1"

ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyLastUsage",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReplicateKey",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
]
SYMMETRIC_USER = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
]
GRANTS = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]
FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def logical_id(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    (found,) = [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type and name.startswith(prefix)
    ]
    return found


def role(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(template, "AWS::IAM::Role", prefix), "Arn"]}


def key_policy(template: dict[str, Any], name: str, stack: str = STACK) -> list[dict[str, Any]]:
    (key,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
        and r["Properties"]["Description"].startswith(f"{stack}/{name} ")
    ]
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def assert_statement(synthesized: Synth, name: str, statement: dict[str, Any]) -> None:
    """``Template.has_resource_properties``: the key described as ``name`` has ``statement``."""
    synthesized("keys_showcase").assertions(STACK).has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": Match.string_like_regexp(f"^{STACK}/{name} "),
            "KeyPolicy": {"Statement": Match.array_with([Match.exact(statement)])},
        },
    )


def allow(
    sid: str, principal: Any, actions: list[str] | str, condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": actions,
        "Resource": "*",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


def deployment(role_arn: str = EXEC_ROLE) -> dict[str, Any]:
    return allow(
        "KeyDeployment",
        {"AWS": ROOT},
        ADMIN_ACTIONS,
        {"ArnLike": {"aws:PrincipalArn": role_arn}},
    )


def template(synthesized: Synth) -> dict[str, Any]:
    return synthesized("keys_showcase").template(STACK)


def test_default_policy_is_the_aws_default_and_nothing_else(synthesized: Synth) -> None:
    expected = [allow("EnableIAMUserPermissions", {"AWS": ROOT}, "kms:*")]
    assert key_policy(template(synthesized), "Data") == expected


def test_the_replica_of_a_custom_policy_primary_has_a_custom_policy(synthesized: Synth) -> None:
    # Given explicitly in the showcase (the primary's names roles of its own stack); never the
    # default policy, which would open the primary's key material to the account's IAM policies.
    replica = synthesized("keys_showcase").template("KeysShowcaseReplica")
    assert [
        s["Sid"] for s in key_policy(replica, "GlobalReplica", stack="KeysShowcaseReplica")
    ] == [
        "KeyDeployment",
        "KeyAdministration",
        "KeyUsage",
    ]


def test_custom_policy_has_exactly_the_statements_of_its_roles(synthesized: Synth) -> None:
    sids = [s["Sid"] for s in key_policy(template(synthesized), "Shared")]
    assert sids == [
        "KeyDeployment",
        "KeyAdministration",
        "KeyUsage",
        "GrantsForAwsResources",
        "ExternalUse222222222222",
        "ExternalGrants222222222222",
        "ExternalUse333333333333",
        "ExternalGrants333333333333",
        "ExternalUse444444444444",
        "ExternalGrants444444444444",
        "AllowCloudTrailToEncryptLogs",
        "AllowCloudTrailToDescribeKey",
        "AllowCloudTrailLogDecryption",
        "AllowCloudTrailToDecryptWithS3BucketKey",
        "AllowCloudWatchLogs",
        "AuditorsReadKeyPolicy",
        "AllowCloudwatchSNS",
    ]


def test_no_custom_policy_gives_the_account_root_kms_star(synthesized: Synth) -> None:
    for stack in ("KeysShowcase", "KeysShowcaseReplica"):
        resources = synthesized("keys_showcase").template(stack)["Resources"].values()
        for key in resources:
            if key["Type"] not in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey"):
                continue
            statements = key["Properties"]["KeyPolicy"]["Statement"]
            blanket = [
                s for s in statements if s["Action"] in ("kms:*", "*") or "kms:*" in s["Action"]
            ]
            if key["Properties"]["Description"].split(" ")[0] == "KeysShowcase/Data":
                assert len(blanket) == 1  # the default policy, and only there
            else:
                assert blanket == [], key["Properties"]["Description"]


def test_deployer_manages_but_never_uses_the_key(synthesized: Synth) -> None:
    assert_statement(synthesized, "Shared", deployment())
    assert not {"kms:Encrypt", "kms:Decrypt", "kms:Sign", "kms:CreateGrant"} & set(ADMIN_ACTIONS)


def test_multi_region_primary_lets_the_deployer_of_every_region_replicate(
    synthesized: Synth,
) -> None:
    assert_statement(
        synthesized,
        "Global",
        deployment(f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{ACCOUNT}-*"),
    )


def test_admins_manage_the_key_including_put_key_policy(synthesized: Synth) -> None:
    admin = {"AWS": role(template(synthesized), "KeyAdmin")}
    assert_statement(synthesized, "Shared", allow("KeyAdministration", admin, ADMIN_ACTIONS))
    assert "kms:PutKeyPolicy" in ADMIN_ACTIONS
    # Listing aliases takes no resource: a key policy cannot grant it (an IAM policy on "*" can).
    granted = [statement["Action"] for statement in key_policy(template(synthesized), "Shared")]
    assert not [actions for actions in granted if "kms:ListAliases" in actions]


def test_admins_of_an_imported_material_key_also_manage_the_import(synthesized: Synth) -> None:
    admin = {"AWS": role(template(synthesized), "KeyAdmin")}
    expected = sorted(
        [
            *ADMIN_ACTIONS,
            "kms:DeleteImportedKeyMaterial",
            "kms:GetParametersForImport",
            "kms:ImportKeyMaterial",
        ]
    )
    assert_statement(synthesized, "Imported", allow("KeyAdministration", admin, expected))


@pytest.mark.parametrize(
    ("key_name", "actions"),
    [
        ("Shared", SYMMETRIC_USER),
        (
            "RsaEncryption",
            ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GetPublicKey", "kms:ReEncrypt*"],
        ),
        ("Signer", ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"]),
        ("Mac", ["kms:GenerateMac", "kms:VerifyMac"]),
        ("Agreement", ["kms:DeriveSharedSecret", "kms:GetPublicKey"]),
    ],
)
def test_users_get_the_actions_of_the_key_usage(
    synthesized: Synth, key_name: str, actions: list[str]
) -> None:
    user = {"AWS": role(template(synthesized), "App")}
    assert_statement(synthesized, key_name, allow("KeyUsage", user, actions))


def test_service_users_may_create_grants_only_for_aws_resources(synthesized: Synth) -> None:
    user = {"AWS": role(template(synthesized), "App")}
    assert_statement(
        synthesized, "Shared", allow("GrantsForAwsResources", user, GRANTS, FOR_AWS_RESOURCE)
    )


def test_external_account_root_gets_user_and_grant_statements(synthesized: Synth) -> None:
    partner = {"AWS": "arn:aws:iam::222222222222:root"}
    assert_statement(
        synthesized, "Shared", allow("ExternalUse222222222222", partner, SYMMETRIC_USER)
    )
    assert_statement(
        synthesized,
        "Shared",
        allow("ExternalGrants222222222222", partner, GRANTS, FOR_AWS_RESOURCE),
    )


def test_external_account_narrowed_by_via_service_and_caller_account(synthesized: Synth) -> None:
    backup = {"AWS": "arn:aws:iam::333333333333:root"}
    narrowing = {
        "StringEquals": {
            "kms:ViaService": ["ec2.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"],
            "kms:CallerAccount": "333333333333",
        }
    }
    assert_statement(
        synthesized,
        "Shared",
        allow("ExternalUse333333333333", backup, SYMMETRIC_USER, narrowing),
    )
    assert_statement(
        synthesized,
        "Shared",
        allow(
            "ExternalGrants333333333333",
            backup,
            GRANTS,
            {**narrowing, **FOR_AWS_RESOURCE},
        ),
    )


def test_external_principal_arn_is_named_instead_of_the_account(synthesized: Synth) -> None:
    reader = {"AWS": "arn:aws:iam::444444444444:role/Reader"}
    assert_statement(
        synthesized, "Shared", allow("ExternalUse444444444444", reader, SYMMETRIC_USER)
    )
    assert_statement(
        synthesized,
        "Shared",
        allow("ExternalGrants444444444444", reader, GRANTS, FOR_AWS_RESOURCE),
    )


def test_cloudtrail_statements_are_the_documented_ones(synthesized: Synth) -> None:
    trail = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/organisation"
    service = {"Service": "cloudtrail.amazonaws.com"}
    assert_statement(
        synthesized,
        "Shared",
        allow(
            "AllowCloudTrailToEncryptLogs",
            service,
            "kms:GenerateDataKey*",
            {
                "StringEquals": {"aws:SourceArn": trail},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": (
                        f"arn:aws:cloudtrail:*:{ACCOUNT}:trail/*"
                    )
                },
            },
        ),
    )
    assert_statement(
        synthesized,
        "Shared",
        allow(
            "AllowCloudTrailToDescribeKey",
            service,
            "kms:DescribeKey",
            {"StringEquals": {"aws:SourceArn": trail}},
        ),
    )
    assert_statement(
        synthesized,
        "Shared",
        allow(
            "AllowCloudTrailLogDecryption",
            {"AWS": ROOT},
            ["kms:Decrypt", "kms:ReEncryptFrom"],
            {
                "StringEquals": {"kms:CallerAccount": ACCOUNT},
                "Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"},
            },
        ),
    )


def test_cloudwatch_logs_is_limited_to_its_log_groups(synthesized: Synth) -> None:
    assert_statement(
        synthesized,
        "Shared",
        allow(
            "AllowCloudWatchLogs",
            {"Service": "logs.eu-west-1.amazonaws.com"},
            # Every action here carries the encryption context the condition names: no
            # kms:Describe*, which never would (so the statement would never allow it).
            ["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/app/*"
                    )
                }
            },
        ),
    )


def test_alarm_publisher_is_limited_to_this_account_and_sns(synthesized: Synth) -> None:
    assert_statement(
        synthesized,
        "Shared",
        allow(
            "AllowCloudwatchSNS",
            {"Service": "cloudwatch.amazonaws.com"},
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {
                    "aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:*",
                    "kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:*",
                },
            },
        ),
    )


def test_extra_statements_are_added_as_given(synthesized: Synth) -> None:
    assert_statement(
        synthesized,
        "Shared",
        allow(
            "AuditorsReadKeyPolicy",
            {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Auditor"},
            ["kms:DescribeKey", "kms:GetKeyPolicy"],
        ),
    )


def test_each_stack_names_its_own_account_root_and_services() -> None:
    """One principal object serves every statement of the process (constructs_lib/_principals.py);
    each stack must still render its own account, and each Region its own service name."""
    app = cdk.App()
    stacks = {
        (account, region): cdk.Stack(
            app, f"S{account}{region}", env=cdk.Environment(account=account, region=region)
        )
        for account, region in (("111111111111", "eu-west-1"), ("222222222222", "us-east-1"))
    }
    for stack in stacks.values():
        key = CustomerManagedKey(stack, "Key")
        key.add_service_principal(KeyServicePrincipal.cloudwatch_logs())
    for (account, region), stack in stacks.items():
        resources = Template.from_stack(stack).find_resources("AWS::KMS::Key")
        ((_, key_resource),) = resources.items()
        statements = {s["Sid"]: s for s in key_resource["Properties"]["KeyPolicy"]["Statement"]}
        assert statements["EnableIAMUserPermissions"]["Principal"] == {
            "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{account}:root"]]}
        }
        assert statements["AllowCloudWatchLogs"]["Principal"] == {
            "Service": f"logs.{region}.amazonaws.com"
        }


def custom_policy_app(**policy: Any) -> cdk.App:
    """An App whose stack "S" holds one key "Key" with a custom policy: an Admin role plus
    ``policy``."""
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    CustomerManagedKey(
        stack,
        "Key",
        policy=KeyPolicy.custom(admins=[f"arn:aws:iam::{ACCOUNT}:role/Admin"], **policy),
    )
    return app


def test_external_account_without_grants_gets_the_user_statement_only() -> None:
    # allow_grants=False: the account may use the key itself, but no AWS service may create
    # grants for it (no EBS/RDS copies of shared snapshots).
    app = custom_policy_app(
        external_accounts=[ExternalAccount(account_id="222222222222", allow_grants=False)]
    )
    statements = key_policy(app.synth().get_stack_by_name("S").template, "Key", stack="S")
    external = [s for s in statements if s["Sid"].startswith("External")]
    assert external == [
        allow("ExternalUse222222222222", {"AWS": "arn:aws:iam::222222222222:root"}, SYMMETRIC_USER)
    ]


def test_external_account_use_actions_narrow_the_user_statement() -> None:
    # A key shared only so that EBS and RDS can copy snapshots in the other account: what they
    # call, never kms:Encrypt.
    app = custom_policy_app(
        external_accounts=[
            ExternalAccount(account_id="222222222222", use_actions=SNAPSHOT_KEY_ACTIONS)
        ]
    )
    statements = key_policy(app.synth().get_stack_by_name("S").template, "Key", stack="S")
    use = next(s for s in statements if s["Sid"] == "ExternalUse222222222222")
    assert use["Action"] == [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ]


@pytest.mark.parametrize(
    ("use_actions", "message"),
    [
        (["kms:*"], "'use_actions' must hold kms: actions without wildcards"),
        ("kms:Decrypt", "'use_actions' must be a list or tuple of kms: actions"),
        (("kms:Sign",), "'use_actions' must be among the actions of a ENCRYPT_DECRYPT"),
    ],
)
def test_external_account_use_actions_are_checked(use_actions: Any, message: str) -> None:
    with pytest.raises(ConstructPropError, match=re.escape(message)):
        custom_policy_app(
            external_accounts=[ExternalAccount(account_id="222222222222", use_actions=use_actions)]
        ).synth()


def one_key_stack() -> tuple[cdk.App, cdk.Stack, CustomerManagedKey]:
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    return app, stack, CustomerManagedKey(stack, "Key")


def statements_by_sid(app: cdk.App) -> dict[str, dict[str, Any]]:
    return {
        s["Sid"]: s for s in key_policy(app.synth().get_stack_by_name("S").template, "Key", "S")
    }


def test_eventbridge_publishes_to_an_encrypted_topic_without_source_conditions() -> None:
    """SNS developer guide: "Adding the aws:SourceAccount and aws:SourceArn to a AWS KMS policy
    is not supported for EventBridge-to-encrypted topics": with them, no event reaches the topic.
    CloudWatch alarms keep them."""
    app, stack, key = one_key_stack()
    AlarmTopic(
        stack,
        "Topic",
        encryption_key=key,
        publishers=["cloudwatch.amazonaws.com", "events.amazonaws.com"],
    )
    statements = statements_by_sid(app)
    topics = {"kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:*"}
    assert statements["AllowEventsSNS"] == allow(
        "AllowEventsSNS",
        {"Service": "events.amazonaws.com"},
        ["kms:Decrypt", "kms:GenerateDataKey*"],
        {"ArnLike": topics},
    )
    assert statements["AllowCloudwatchSNS"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:*", **topics},
    }


def test_publishers_whose_arns_have_no_region_or_account_get_source_arns_that_match() -> None:
    """S3 bucket ARNs name neither Region nor account (arn:aws:s3:::bucket), budgets' no Region
    (arn:aws:budgets::111111111111:budget/b): arn:aws:s3:eu-west-1:111111111111:* never
    matched, and S3 or Budgets could never encrypt to the topic."""
    app, stack, key = one_key_stack()
    AlarmTopic(
        stack,
        "Topic",
        encryption_key=key,
        publishers=["s3.amazonaws.com", "budgets.amazonaws.com", "costalerts.amazonaws.com"],
    )
    statements = statements_by_sid(app)
    sources = {
        sid: statements[sid]["Condition"]["ArnLike"]["aws:SourceArn"]
        for sid in ("AllowS3SNS", "AllowBudgetsSNS", "AllowCostalertsSNS")
    }
    assert sources == {
        "AllowS3SNS": "arn:aws:s3:::*",
        "AllowBudgetsSNS": f"arn:aws:budgets::{ACCOUNT}:*",
        # Cost Anomaly Detection's ARNs are Cost Explorer's (ce), not costalerts'.
        "AllowCostalertsSNS": f"arn:aws:ce::{ACCOUNT}:*",
    }
    # The account still limits each (an S3 bucket's ARN names no account).
    assert {
        statements[sid]["Condition"]["StringEquals"]["aws:SourceAccount"] for sid in sources
    } == {ACCOUNT}


def test_publishers_of_the_regional_arn_shape_keep_their_regional_source_arn() -> None:
    """Only the services of PUBLISHER_SOURCE_ARNS have another ARN shape: SNS fanning out to
    an encrypted queue and CloudTrail publishing to a topic were refused ("'source_arn_pattern'
    must be given"), though arn:aws:<service>:<region>:<account>:* matches their resources."""
    app, _, key = one_key_stack()
    key.add_service_principal(
        KeyServicePrincipal.publisher(service="sns.amazonaws.com", destination="sqs")
    )
    key.add_service_principal(
        KeyServicePrincipal.publisher(service="cloudtrail.amazonaws.com", destination="sns")
    )
    statements = statements_by_sid(app)
    assert statements["AllowSnsSQS"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {
            "aws:SourceArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:*",
            "kms:EncryptionContext:aws:sqs:arn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:*",
        },
    }
    assert (
        statements["AllowCloudtrailSNS"]["Condition"]["ArnLike"]["aws:SourceArn"]
        == f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:*"
    )


def test_rds_event_notifications_publish_as_events_rds_with_their_own_sid() -> None:
    """RDS event notifications publish as events.rds.amazonaws.com, aws:SourceArn the RDS
    resource (RDS user guide, USER_Events.GrantingPermissions). Sids were built from the first
    label only: events.rds and events were both AllowEventsSNS, and the policy was refused.
    Single-label Sids are unchanged."""
    app, stack, key = one_key_stack()
    AlarmTopic(
        stack,
        "Topic",
        encryption_key=key,
        publishers=[
            "cloudwatch.amazonaws.com",
            "events.amazonaws.com",
            "events.rds.amazonaws.com",
            "codestar-notifications.amazonaws.com",
        ],
        publisher_source_arns={
            "events.rds.amazonaws.com": f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:prod-*"
        },
    )
    key.add_service_principal(
        KeyServicePrincipal.publisher(service="events.rds.amazonaws.com", destination="sqs")
    )
    statements = statements_by_sid(app)
    assert {
        "AllowCloudwatchSNS",
        "AllowEventsSNS",
        "AllowEventsRdsSNS",
        "AllowCodestarNotificationsSNS",
        "AllowEventsRdsSQS",
    } <= set(statements)
    assert statements["AllowEventsRdsSNS"]["Principal"] == {"Service": "events.rds.amazonaws.com"}
    assert (
        statements["AllowEventsRdsSNS"]["Condition"]["ArnLike"]["aws:SourceArn"]
        == f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:prod-*"
    )
    # Without a pattern: any RDS resource of the account and Region (RDS's ARNs, not events').
    assert (
        statements["AllowEventsRdsSQS"]["Condition"]["ArnLike"]["aws:SourceArn"]
        == f"arn:aws:rds:eu-west-1:{ACCOUNT}:*"
    )
    # The topic policy: the given pattern, and Sids of single labels as before.
    topic_policy = next(
        r
        for r in app.synth().get_stack_by_name("S").template["Resources"].values()
        if r["Type"] == "AWS::SNS::TopicPolicy"
    )
    by_sid = {s["Sid"]: s for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]}
    assert {
        "AllowCloudwatchPublish",
        "AllowEventsPublish",
        "AllowEventsRdsPublish",
        "AllowCodestar-NotificationsPublish",
    } <= set(by_sid)
    assert by_sid["AllowEventsRdsPublish"]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:prod-*"
    }


def test_cloudtrail_log_readers_of_another_account_are_not_held_to_the_key_account() -> None:
    """kms:CallerAccount is the reader's own account: with the key's account in it, a reader
    of a security account would never decrypt. AWS documents the Null condition alone."""
    app, _, key = one_key_stack()
    auditor = "arn:aws:iam::222222222222:role/Auditor"
    key.add_service_principal(
        KeyServicePrincipal.cloudtrail(
            trail_arn=f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/org", log_readers=[auditor]
        )
    )
    assert statements_by_sid(app)["AllowCloudTrailLogDecryption"] == allow(
        "AllowCloudTrailLogDecryption",
        {"AWS": auditor},
        ["kms:Decrypt", "kms:ReEncryptFrom"],
        {"Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"}},
    )


def test_environment_agnostic_multi_region_primary_lets_every_region_replicate() -> None:
    """Each Region's stack deploys with that Region's CloudFormation role, and the replica's
    stack calls ReplicateKey on the primary: the role of one Region only would refuse it."""
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "S")
    CustomerManagedKey(
        stack,
        "Key",
        multi_region=True,
        policy=KeyPolicy.custom(admins=[f"arn:aws:iam::{ACCOUNT}:role/Admin"]),
    )
    statements = {
        s["Sid"]: s for s in key_policy(app.synth().get_stack_by_name("S").template, "Key", "S")
    }
    role_arn = statements["KeyDeployment"]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    parts = role_arn["Fn::Join"][1]
    assert parts[-2:] == [{"Ref": "AWS::AccountId"}, "-*"]
    assert {"Ref": "AWS::Region"} not in parts


def test_a_custom_policy_key_in_a_nested_stack_names_the_top_level_deploy_role() -> None:
    # A nested stack has its own synthesizer (NestedStackSynthesizer), which names no role: the
    # key asked for deployer= as if the user had given the stack a synthesizer.
    app = cdk.App(context=cdk_json_context())
    parent = cdk.Stack(app, "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    nested = cdk.NestedStack(parent, "Nested")
    CustomerManagedKey(
        nested, "Key", policy=KeyPolicy.custom(admins=[f"arn:aws:iam::{ACCOUNT}:role/Admin"])
    )
    template = Template.from_stack(nested).to_json()
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    condition = statements["KeyDeployment"]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert condition == EXEC_ROLE


def test_two_trails_sharing_a_key_get_statements_with_distinct_sids() -> None:
    """KMS refuses a key policy that repeats a Sid (MalformedPolicyDocumentException): the
    second trail's statements are numbered, each limited to its own trail."""
    app, stack, key = one_key_stack()
    AuditTrail(stack, "Management", trail_name="management", encryption_key=key)
    AuditTrail(stack, "Data", trail_name="data", encryption_key=key)
    statements = key_policy(app.synth().get_stack_by_name("S").template, "Key", "S")
    sids = [s["Sid"] for s in statements]
    assert len(sids) == len(set(sids))
    trails = {
        sid: statements_by_sid(app)[sid]["Condition"]["StringEquals"]["aws:SourceArn"]
        for sid in ("AllowCloudTrailToEncryptLogs", "AllowCloudTrailToEncryptLogs2")
    }
    assert trails == {
        "AllowCloudTrailToEncryptLogs": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/management",
        "AllowCloudTrailToEncryptLogs2": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/data",
    }
    assert {"AllowCloudWatchLogs", "AllowCloudWatchLogs2"} <= set(sids)


def test_the_same_service_principal_twice_is_in_the_key_policy_once() -> None:
    app, stack, key = one_key_stack()
    for topic in ("One", "Two"):
        AlarmTopic(stack, topic, encryption_key=key, publishers=["cloudwatch.amazonaws.com"])
    trail = KeyServicePrincipal.cloudtrail(
        trail_arn=f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/audit"
    )
    key.add_service_principal(trail)
    key.add_service_principal(trail)
    sids = sorted(statements_by_sid(app))
    assert [
        sid for sid in sids if sid.startswith(("AllowCloudwatch", "AllowCloudTrailToEncrypt"))
    ] == [
        "AllowCloudTrailToEncryptLogs",
        "AllowCloudwatchSNS",
    ]


def test_a_custom_policy_numbers_the_sids_of_a_second_service_principal_of_a_kind() -> None:
    app = custom_policy_app(
        service_principals=[
            KeyServicePrincipal.cloudwatch_logs(log_group_name="/app/one"),
            KeyServicePrincipal.cloudwatch_logs(log_group_name="/app/two"),
        ]
    )
    groups = {
        sid: s["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
        for sid, s in statements_by_sid(app).items()
        if sid.startswith("AllowCloudWatchLogs")
    }
    assert groups == {
        "AllowCloudWatchLogs": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/app/one",
        "AllowCloudWatchLogs2": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/app/two",
    }


@pytest.mark.parametrize(
    ("account", "region"),
    [
        ("111111111111", "eu-west-1"),
        ("111111111111", "cn-north-1"),  # another stack of the same account: roots shared
        ("111111111111", None),
        (None, "eu-west-1"),
        (None, None),
    ],
    ids=["concrete", "same-account-other-region", "no-region", "no-account", "env-agnostic"],
)
def test_stack_facts_are_what_the_stack_reads_one_by_one(
    account: str | None, region: str | None
) -> None:
    # stack_facts reads the environment in one call and shares a literal account's root forms
    # between stacks; the facts must be those read from the stack itself.
    app = cdk.App()
    cdk.Stack(app, "First", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    stack = cdk.Stack(app, "Stack", env=cdk.Environment(account=account, region=region))
    facts = stack_facts(stack)
    assert (facts.account, facts.region, facts.partition) == (
        stack.account,
        stack.region,
        stack.partition,
    )
    root_forms = [cdk.Fn.join("", ["arn:", stack.partition, ":iam::", stack.account, ":root"])]
    expected = stack.resolve([*root_forms, *root_forms, stack.account])
    assert list(facts.account_roots) == expected


def test_stack_of_is_stack_of_for_stacks_nested_stacks_and_their_constructs() -> None:
    from constructs import Construct  # noqa: PLC0415

    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    nested = cdk.NestedStack(stack, "Nested")
    inner = Construct(Construct(nested, "Outer"), "Inner")
    for construct in (stack, nested, inner, Construct(stack, "Plain")):
        assert stack_of(construct) is cdk.Stack.of(construct)
        assert stack_of(construct) is stack_of(construct)  # asked once, then remembered
    with pytest.raises(RuntimeError, match="no Stack found"):
        stack_of(Construct(app, "NotInAStack"))
