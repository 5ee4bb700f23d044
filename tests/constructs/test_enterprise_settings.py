"""The constructs under the CDK settings that platform teams impose on every App.

``tests/_support/apps/enterprise_settings.py`` is one App with all of them at once (a custom
bootstrap qualifier, a permissions boundary, organisation tags, a role path and name Aspect,
termination protection), held to the gates like every App configuration; the settings that need
an App of their own (other synthesizers, the boundary Aspect, RemovalPolicies, strong
cross-Region references) are built here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from constructs_lib import (
    AuditTrail,
    ConstructPropError,
    CustomerManagedKey,
    EncryptedBucket,
    KeyPolicy,
    ReplicaKey,
    ReplicationDestination,
    SnapshotReplicator,
)
from stacks.config import cdk_json_context
from tests._support.apps.enterprise_settings import (
    BACKUP_ACCOUNT,
    QUALIFIER,
    REGION,
    ROLE_NAME_PREFIX,
    ROLE_PATH,
    SOURCE_ACCOUNT,
    SOURCE_KEY_CENTRAL,
    TAGS,
    key_admin,
)
from tests._support.synth import SynthResult

APP = "enterprise_settings"
ENV = cdk.Environment(account=SOURCE_ACCOUNT, region=REGION)
BOUNDARY = "arn:aws:iam::{account}:policy/cdk-abc123xyz-permissions-boundary"
# Every resource type of the enterprise App that CloudFormation tags.
TAGGED_TYPES = (
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::CloudTrail::Trail",
    "AWS::Logs::LogGroup",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::Lambda::Function",
    "AWS::Events::EventBus",
    "AWS::Events::Rule",
    "AWS::CloudWatch::Alarm",
    "AWS::IAM::Role",
)


@pytest.fixture(scope="module")
def enterprise(synthesized: Callable[[str], SynthResult]) -> SynthResult:
    return synthesized(APP)


def resources_of(result: SynthResult, type_name: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(stack, logical ID, resource)`` of every resource of one type."""
    for stack, template in sorted(result.templates.items()):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == type_name:
                yield stack, logical_id, resource


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def account_of(result: SynthResult, stack: str) -> str:
    return result.environments[stack].removeprefix("aws://").split("/")[0]


# -- 1. a custom bootstrap qualifier ---------------------------------------------------------------


def test_key_policies_name_the_execution_role_that_deploys_with_the_custom_qualifier(
    enterprise: SynthResult,
) -> None:
    # A custom key policy keeps kms:PutKeyPolicy for the CloudFormation execution role; with
    # `cdk bootstrap --qualifier abc123xyz` that role is cdk-abc123xyz-cfn-exec-role-*, and a
    # policy naming the default's (hnb659fds) would leave the stack unable to update its key.
    manifest = json.loads((enterprise.outdir / "manifest.json").read_text())
    deploying = {
        artifact["properties"].get("stackName", name): (
            artifact["properties"]["cloudFormationExecutionRoleArn"].replace(
                "${AWS::Partition}", "aws"
            )
        )
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    named = {}
    for stack, logical_id, resource in resources_of(enterprise, "AWS::KMS::Key"):
        for statement in resource["Properties"]["KeyPolicy"]["Statement"]:
            if statement.get("Sid") == "KeyDeployment":
                named[stack, logical_id] = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert sorted(named.values()) == sorted(
        [
            # SharingKey, and the multi-Region GlobalKey in every Region (replicas)
            f"arn:aws:iam::{SOURCE_ACCOUNT}:role/cdk-{QUALIFIER}-cfn-exec-role-"
            f"{SOURCE_ACCOUNT}-{REGION}",
            f"arn:aws:iam::{SOURCE_ACCOUNT}:role/cdk-{QUALIFIER}-cfn-exec-role-{SOURCE_ACCOUNT}-*",
            f"arn:aws:iam::{BACKUP_ACCOUNT}:role/cdk-{QUALIFIER}-cfn-exec-role-"
            f"{BACKUP_ACCOUNT}-{REGION}",
        ]
    )
    for (stack, _), role in named.items():
        # What the policy names is the role the CDK CLI hands CloudFormation for that stack.
        assert deploying[stack] == role.replace("-*", f"-{REGION}")
    # Nothing of the App names the default qualifier's roles, buckets or version parameter.
    for path in sorted(enterprise.outdir.glob("*.json")):
        assert "hnb659fds" not in path.read_text(), path.name


def stack_with(synthesizer: cdk.IStackSynthesizer | None, app: cdk.App | None = None) -> cdk.Stack:
    app = app or cdk.App(context=cdk_json_context())
    return cdk.Stack(app, "Consumer", env=ENV, synthesizer=synthesizer)


@pytest.mark.parametrize(
    ("make_stack", "named"),
    [
        pytest.param(
            lambda: stack_with(cdk.DefaultStackSynthesizer(qualifier=QUALIFIER)),
            "its DefaultStackSynthesizer was given explicitly, as Stack(synthesizer=...) or "
            "App(default_stack_synthesizer=...)",
            id="stack-synthesizer",
        ),
        pytest.param(
            lambda: stack_with(
                None,
                cdk.App(
                    context=cdk_json_context(),
                    default_stack_synthesizer=cdk.DefaultStackSynthesizer(qualifier=QUALIFIER),
                ),
            ),
            "its DefaultStackSynthesizer was given explicitly, as Stack(synthesizer=...) or "
            "App(default_stack_synthesizer=...)",
            id="app-default-stack-synthesizer",
        ),
        pytest.param(
            lambda: stack_with(cdk.CliCredentialsStackSynthesizer()),
            "its synthesizer, CliCredentialsStackSynthesizer, names no CloudFormation "
            "execution role",
            id="cli-credentials",
        ),
        pytest.param(
            lambda: stack_with(cdk.LegacyStackSynthesizer()),
            "its synthesizer, LegacyStackSynthesizer, names no CloudFormation execution role",
            id="legacy",
        ),
    ],
)
def test_a_custom_policy_key_names_the_synthesizer_whose_role_it_cannot_read(
    make_stack: Callable[[], cdk.Stack], named: str
) -> None:
    # The key cannot know who deploys it: refused at construct time (never a policy that would
    # lock the deploying role out), naming the setting that made it so and what to do.
    stack = make_stack()
    with pytest.raises(ConstructPropError) as raised:
        CustomerManagedKey(stack, "K", policy=KeyPolicy.custom(admins=[key_admin(SOURCE_ACCOUNT)]))
    message = str(raised.value)
    assert message.startswith(
        "'deployer' must name the principal that deploys the key. Received: (not given: the "
        f"stack's CloudFormation execution role could not be determined: {named}"
    )
    assert message.endswith("deployer=)")
    assert "stack-deployer" not in message


def test_the_constructs_work_under_cli_credentials_given_the_deployer() -> None:
    # Everything else needs no role from the synthesizer: only a custom key policy asks.
    stack = stack_with(cdk.CliCredentialsStackSynthesizer())
    deployer = f"arn:aws:iam::{SOURCE_ACCOUNT}:role/PlatformDeployer"
    key = CustomerManagedKey(
        stack,
        "K",
        policy=KeyPolicy.custom(admins=[key_admin(SOURCE_ACCOUNT)], deployer=deployer),
    )
    AuditTrail(stack, "Audit")
    EncryptedBucket(stack, "Data", encryption_key=key)
    SnapshotReplicator(
        stack,
        "Replicate",
        destinations=[
            ReplicationDestination(region="eu-central-1", kms_key_arn=SOURCE_KEY_CENTRAL)
        ],
    )
    template = Template.from_stack(stack).to_json()
    (policy,) = [
        r["Properties"]["KeyPolicy"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::KMS::Key" and "KeyDeployment" in json.dumps(r)
    ]
    (deployment,) = [s for s in policy["Statement"] if s.get("Sid") == "KeyDeployment"]
    assert deployment["Principal"] == {"AWS": deployer}
    assert "cfn-exec-role" not in json.dumps(template)


# -- 2. permissions boundaries ---------------------------------------------------------------------


def test_every_role_gets_the_boundary_of_the_context_with_the_custom_qualifier(
    enterprise: SynthResult,
) -> None:
    roles = list(resources_of(enterprise, "AWS::IAM::Role"))
    # The trail's CloudWatch Logs role, S3 replication and the snapshot functions of both sides:
    # none is made where the boundary misses it.
    assert len(roles) == 6
    for stack, logical_id, role in roles:
        boundary = BOUNDARY.format(account=account_of(enterprise, stack))
        assert role["Properties"].get("PermissionsBoundary") == boundary, (stack, logical_id)


def test_the_permissions_boundary_aspect_reaches_every_role_the_constructs_make() -> None:
    app = cdk.App(context=cdk_json_context())
    stack = stack_with(None, app)
    key = CustomerManagedKey(stack, "K")
    AuditTrail(stack, "Audit")
    EncryptedBucket(
        stack,
        "Data",
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        bucket_props={"auto_delete_objects": True},
    )
    SnapshotReplicator(
        stack,
        "Replicate",
        destinations=[
            ReplicationDestination(region="eu-central-1", kms_key_arn=SOURCE_KEY_CENTRAL)
        ],
    )
    boundary = f"arn:aws:iam::{SOURCE_ACCOUNT}:policy/org-boundary"
    iam.PermissionsBoundary.of(app).apply(
        iam.ManagedPolicy.from_managed_policy_arn(stack, "Boundary", boundary)
    )
    roles = Template.from_stack(stack).find_resources("AWS::IAM::Role")
    # The trail's logs role, the replicator's two function roles and S3's auto-delete provider.
    assert len(roles) == 4
    assert any("AutoDeleteObjects" in logical_id for logical_id in roles)
    for logical_id, role in roles.items():
        assert role["Properties"].get("PermissionsBoundary") == boundary, logical_id


def test_strong_cross_region_references_make_roles_that_no_boundary_reaches() -> None:
    # docs/keys.md: CDK makes the SSM export writer and reader of a strong cross-Region
    # reference (its default) after Aspects have run, so neither the boundary context nor the
    # Aspect reaches their roles; the weak references of this project's cdk.json make none.
    def roles(context: dict[str, Any]) -> dict[str, Any]:
        app = cdk.App(
            context={**context, "@aws-cdk/core:permissionsBoundary": {"name": "org-boundary"}}
        )
        primary = cdk.Stack(app, "Primary", env=ENV)
        key = CustomerManagedKey(primary, "Global", multi_region=True)
        replica = cdk.Stack(
            app,
            "Replica",
            env=cdk.Environment(account=SOURCE_ACCOUNT, region="eu-central-1"),
            cross_region_references=True,
        )
        ReplicaKey(replica, "Replica", primary=key)
        found = {}
        for stack in (primary, replica):
            for logical_id, role in (
                Template.from_stack(stack).find_resources("AWS::IAM::Role").items()
            ):
                found[logical_id] = role["Properties"].get("PermissionsBoundary")
        return found

    strong = roles({})
    assert sorted(strong) == [
        "CustomCrossRegionExportReaderCustomResourceProviderRole10531BBD",
        "CustomCrossRegionExportWriterCustomResourceProviderRoleC951B1E1",
    ]
    assert set(strong.values()) == {None}
    assert roles(cdk_json_context()) == {}


# -- 3. tags ---------------------------------------------------------------------------------------


def test_every_taggable_resource_carries_the_organisation_tags(enterprise: SynthResult) -> None:
    for type_name in TAGGED_TYPES:
        found = list(resources_of(enterprise, type_name))
        assert found, f"no {type_name} in the App: the test would check nothing"
        for stack, logical_id, resource in found:
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            assert tags.items() >= TAGS.items(), (stack, logical_id, tags)


def test_the_auto_delete_provider_takes_the_boundary_but_not_the_tags() -> None:
    # EncryptedBucket(removal_policy=DESTROY, bucket_props={"auto_delete_objects": True}) gets
    # CDK's S3 auto-delete provider: a role and a function made as plain CfnResource. The
    # boundary context and an Aspect matching AWS::IAM::Role reach its role; Tags.of skips both
    # (aws/aws-cdk#13851): README.md says to tag the stacks for those.
    app = cdk.App(
        context={
            **cdk_json_context(),
            "@aws-cdk/core:bootstrapQualifier": QUALIFIER,
            "@aws-cdk/core:permissionsBoundary": {"name": "cdk-${Qualifier}-permissions-boundary"},
        }
    )
    stack = stack_with(None, app)
    EncryptedBucket(
        stack,
        "Scratch",
        encryption_key=CustomerManagedKey(stack, "K"),
        removal_policy=cdk.RemovalPolicy.DESTROY,
        bucket_props={"auto_delete_objects": True},
    )
    cdk.Tags.of(app).add("cost-center", "cc-1234")
    resources = Template.from_stack(stack).to_json()["Resources"]
    role = resources["CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092"]
    assert role["Properties"]["PermissionsBoundary"] == BOUNDARY.format(account=SOURCE_ACCOUNT)
    untagged = sorted(
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] in TAGGED_TYPES and "Tags" not in resource["Properties"]
    )
    assert untagged == [
        "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F",
        "CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092",
    ]


def test_a_kmskit_tag_on_every_resource_leaves_the_replication_conditions_alone(
    enterprise: SynthResult,
) -> None:
    # The copiers' IAM conditions are on tags of snapshots (aws:ResourceTag, aws:RequestTag),
    # which CloudFormation tags never reach: each names its own replicator's value, not the
    # organisation's kmskit:replicator tag.
    conditions = [
        value
        for _, _, policy in resources_of(enterprise, "AWS::IAM::ManagedPolicy")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for operator in statement.get("Condition", {}).values()
        for key, value in operator.items()
        if key.endswith("Tag/kmskit:replicator")
    ]
    assert conditions
    assert TAGS["kmskit:replicator"] not in [v for c in conditions for v in strings_in(c)]


# -- 4. role names and paths -----------------------------------------------------------------------


def test_roles_renamed_and_moved_by_an_aspect_are_still_the_roles_policies_name(
    enterprise: SynthResult,
) -> None:
    roles = {
        logical_id: role["Properties"]
        for _, logical_id, role in resources_of(enterprise, "AWS::IAM::Role")
    }
    for logical_id, props in roles.items():
        assert props["Path"] == ROLE_PATH, logical_id
        assert props["RoleName"].startswith(ROLE_NAME_PREFIX), logical_id
    # Nothing builds a role ARN from a role name: every role ARN written out is a bootstrap
    # role of the configured qualifier or a role the App was given; the App's own roles are
    # named by reference (GetAtt), which follows a new name or path.
    for stack, template in enterprise.templates.items():
        for text in strings_in(template["Resources"]):
            if ":role/" in text:
                assert ":role/KeyAdmin" in text or f":role/cdk-{QUALIFIER}-" in text, (stack, text)
    sharing = json.dumps(enterprise.template("Source")["Resources"])
    assert '{"Fn::GetAtt": ["ReplicateCopierRoleD7106B71", "Arn"]}' in sharing


# -- 5. termination protection, RemovalPolicies --------------------------------------------------


def test_termination_protection_reaches_the_cloud_assembly(enterprise: SynthResult) -> None:
    manifest = json.loads((enterprise.outdir / "manifest.json").read_text())
    protected = {
        name: artifact["properties"].get("terminationProtection")
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert protected == {"Source": True, "Backup": True}


def test_a_removal_policies_aspect_overrides_the_retain_of_keys_buckets_and_log_groups(
    tmp_path: Path,
) -> None:
    # docs/keys.md: an organisation's RemovalPolicies Aspect wins over the constructs' Retain.
    stack = stack_with(None)
    key = CustomerManagedKey(stack, "K")
    EncryptedBucket(stack, "Data", encryption_key=key)
    AuditTrail(stack, "Audit")
    cdk.RemovalPolicies.of(stack).destroy(
        apply_to_resource_types=["AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup"]
    )
    resources = Template.from_stack(stack).to_json()["Resources"].values()
    kept = [r for r in resources if r["Type"] in ("AWS::KMS::Key", "AWS::S3::Bucket")]
    assert len(kept) >= 4
    for resource in kept:
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Delete", "Delete")


@pytest.mark.parametrize(
    ("bucket_props", "message"),
    [
        pytest.param(
            {"auto_delete_objects": True},
            "'bucket_props' must not set 'auto_delete_objects' unless "
            "removal_policy=RemovalPolicy.DESTROY (a RemovalPolicies Aspect comes too late: the "
            "buckets check it when they are made). Received: {'auto_delete_objects': True}",
            id="auto-delete-with-retain",
        ),
        pytest.param(
            {"removal_policy": cdk.RemovalPolicy.DESTROY, "auto_delete_objects": True},
            "'bucket_props' must not set 'removal_policy', which is set from this construct's "
            "own props. Received: {'removal_policy': <RemovalPolicy.DESTROY: 'DESTROY'>}",
            id="removal-policy-in-bucket-props",
        ),
    ],
)
def test_auto_delete_without_destroy_is_refused_naming_the_props(
    bucket_props: dict[str, Any], message: str
) -> None:
    # A sandbox App emptying its buckets on deletion with a RemovalPolicies.destroy() Aspect
    # met aws-cdk-lib's "Cannot use 'autoDeleteObjects' property on a bucket without setting
    # removal policy to 'DESTROY'" from the log bucket, naming neither prop.
    stack = stack_with(None)
    key = CustomerManagedKey(stack, "K")
    with pytest.raises(ConstructPropError) as raised:
        EncryptedBucket(stack, "Data", encryption_key=key, bucket_props=bucket_props)
    assert str(raised.value) == message
