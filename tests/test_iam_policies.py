"""Every IAM policy the toolkit synthesizes is valid against AWS's IAM definitions.

parliament (its bundled copy of the Service Authorization Reference, read offline) checks every
role, trust, managed, key, bucket, queue, topic and bus policy of every App under test
(tests/_support/apps/): each action exists, each condition key is one its actions have (in the
operator's type), each resource is of a type the action takes. A finding fails the test unless
:data:`ALLOWED` explains it; docs/compliance.md lists the same entries with the same reasons.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests._support.apps import app_names
from tests._support.compliance_doc import COMPLIANCE_DOC, table_rows
from tests._support.iam_policies import (
    Finding,
    Resolver,
    parliament_findings,
    policy_documents,
    resources_with_unread_statements,
)
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]


@dataclass(frozen=True)
class Allowed:
    """A parliament finding that is not a bug: its issue, its subject (the action, or the
    operator and condition key, as :class:`Finding` names it), where (``fnmatch`` over
    ``<logical id>/<Sid>``) and why."""

    issue: str
    subject: str
    where: str
    reason: str

    def allows(self, finding: Finding) -> bool:
        return (
            finding.issue == self.issue
            and finding.subject == self.subject
            and fnmatch.fnmatchcase(f"{finding.logical_id}/{finding.sid}", self.where)
        )


_ENCRYPTION_CONTEXT_ARN = (
    "parliament's rule, not a bug: the Service Authorization Reference types "
    "kms:EncryptionContext:<key> as String and parliament takes only String operators for it; "
    "IAM compares this value, an ARN, with an ARN operator, as AWS's own policies do "
    "(CloudWatchLogsAPIKeyAccess: ArnLike on kms:EncryptionContext:aws:logs:arn)"
)
_INVENTORY_READS = (
    "Deliberate: the role kmskit key inventory assumes reads every key of its account, whose "
    "IDs it learns from ListKeys at run time (KeyInventoryRole; acknowledged for cdk-nag too)"
)
_ASSET_ROLE_BUILDS = (
    "Deliberate: aws-cdk-lib's asset-publishing role gets CodeBuild build actions on *; the "
    "NoOtherBuilds Deny of the same policy takes them away (stacks/pipeline_stack.py)"
)
ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "MISMATCHED_TYPE",
        "s3:TlsVersion",
        "*Policy*/",
        "Wrong data: parliament's Numeric pattern takes whole numbers only; S3 compares "
        "s3:TlsVersion as a number, 1.2 in AWS's own example (aws-cdk-lib's "
        "minimum_tls_version=1.2 writes the same)",
    ),
    Allowed(
        "MISMATCHED_TYPE",
        "ArnLike kms:EncryptionContext:aws:logs:arn",
        "*/AllowCloudWatchLogs*",
        _ENCRYPTION_CONTEXT_ARN,
    ),
    Allowed(
        "MISMATCHED_TYPE",
        "ArnLike kms:EncryptionContext:aws:sns:topicArn",
        "*/Allow*SNS*",
        _ENCRYPTION_CONTEXT_ARN,
    ),
    Allowed(
        "MISMATCHED_TYPE",
        "ArnLike kms:EncryptionContext:aws:sqs:arn",
        "*/Allow*SQS*",
        _ENCRYPTION_CONTEXT_ARN,
    ),
    Allowed(
        "MISMATCHED_TYPE_BUT_USABLE",
        "StringNotEquals s3:x-amz-server-side-encryption-aws-kms-key-id",
        "*/DenyOtherKmsKeys",
        "Deliberate: S3's own examples require a key with StringNotEquals on this ARN-typed "
        "key; the value is the key's full ARN, compared exactly",
    ),
    Allowed(
        "RESOURCE_STAR",
        "codebuild:BatchGetBuilds",
        "PipelineAssetsFileRoleDefaultPolicy*/",
        _ASSET_ROLE_BUILDS,
    ),
    Allowed(
        "RESOURCE_STAR",
        "codebuild:StartBuild",
        "PipelineAssetsFileRoleDefaultPolicy*/",
        _ASSET_ROLE_BUILDS,
    ),
    Allowed(
        "RESOURCE_STAR",
        "codebuild:StopBuild",
        "PipelineAssetsFileRoleDefaultPolicy*/",
        _ASSET_ROLE_BUILDS,
    ),
    Allowed(
        "RESOURCE_STAR",
        "s3:ListBucket",
        "PipelineUpdatePipelineSelfMutationRoleDefaultPolicy*/",
        "Deliberate: aws-cdk-lib's self-mutation role lists buckets and describes stacks on * "
        "as cdk deploy does (read-only; acknowledged for cdk-nag too)",
    ),
    Allowed("RESOURCE_STAR", "kms:DescribeKey", "*Policy*/KeyInventory", _INVENTORY_READS),
    Allowed("RESOURCE_STAR", "kms:GetKeyPolicy", "*Policy*/KeyInventory", _INVENTORY_READS),
    Allowed("RESOURCE_STAR", "kms:GetKeyRotationStatus", "*Policy*/KeyInventory", _INVENTORY_READS),
    Allowed("RESOURCE_STAR", "kms:ListGrants", "*Policy*/KeyInventory", _INVENTORY_READS),
    Allowed(
        "RESOURCE_MISMATCH",
        "codestar-connections:UseConnection",
        "PipelineRoleGrantsPolicy*/",
        "Deliberate: aws-cdk-lib's source action grants codestar-connections:UseConnection on "
        "the connection whatever its prefix, and IAM wants the action's prefix to be the "
        "ARN's; the pipeline adds codeconnections:UseConnection for a codeconnections ARN",
    ),
    Allowed(
        "UNKNOWN_ACTION",
        "kms:GetKeyLastUsage",
        "*",
        "Stale data: parliament 1.6.4's definitions predate KMS GetKeyLastUsage, which "
        "botocore's KMS model has (1.44.0 on) with 'Required permissions: kms:GetKeyLastUsage "
        "(key policy)'; the key administrators get it so that kmskit key schedule-deletion can "
        "read it",
    ),
)


def allowance(finding: Finding) -> Allowed | None:
    return next((entry for entry in ALLOWED if entry.allows(finding)), None)


@pytest.fixture(scope="module")
def findings(synthesized: Synth) -> dict[str, list[Finding]]:
    """parliament's findings on every App under test, by App."""
    return {name: parliament_findings(synthesized(name)) for name in app_names()}


@pytest.mark.parametrize("app_name", app_names())
def test_parliament_finds_nothing_unexplained(
    findings: dict[str, list[Finding]], app_name: str
) -> None:
    unexplained = [str(finding) for finding in findings[app_name] if allowance(finding) is None]
    assert unexplained == [], "fix the policy, or add an entry to ALLOWED saying why it is right"


def test_every_allowance_is_still_needed(findings: dict[str, list[Finding]]) -> None:
    found = [finding for app in findings.values() for finding in app]
    stale = [entry for entry in ALLOWED if not any(entry.allows(f) for f in found)]
    assert stale == []


def test_every_allowance_is_documented() -> None:
    documented = {
        (issue.strip("`"), subject.strip("`"), where.strip("`"), " ".join(reason.split()))
        for issue, subject, where, reason in table_rows("IAM policy validity", 4)
    }
    allowed = {(entry.issue, entry.subject, entry.where, entry.reason) for entry in ALLOWED}
    assert documented == allowed, f"the table in {COMPLIANCE_DOC.name} and ALLOWED differ"


@pytest.mark.parametrize("app_name", app_names())
def test_every_policy_document_is_read(synthesized: Synth, app_name: str) -> None:
    templates = synthesized(app_name).templates
    unread = {
        stack: resources_with_unread_statements(template) for stack, template in templates.items()
    }
    assert {stack: ids for stack, ids in unread.items() if ids} == {}
    assert any(any(policy_documents(template)) for template in templates.values())


# The gate on hand-made templates: each kind of mistake it is there to catch.

ACCOUNT = "111111111111"
REGION = "eu-west-1"


def one_stack(resources: dict[str, Any], **other_stacks: dict[str, Any]) -> SynthResult:
    templates = {"Stack": {"Resources": resources}, **other_stacks}
    return SynthResult(
        name="handmade",
        outdir=Path("unused"),
        templates=templates,
        environments={stack: f"aws://{ACCOUNT}/{REGION}" for stack in templates},
    )


def role_with_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "Inline",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
                    }
                ],
            },
        },
    }


BUCKET_ARN = {"Fn::GetAtt": ["Bucket", "Arn"]}
OBJECTS = {"Fn::Join": ["", [BUCKET_ARN, "/*"]]}
KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}


def issues(*statements: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (f.issue, f.subject, f.location)
        for f in parliament_findings(one_stack(role_with_policy(*statements)))
    ]


def test_the_gate_names_a_misspelled_action() -> None:
    statement = {
        "Sid": "Copy",
        "Effect": "Allow",
        "Action": ["ec2:CopySnapshots"],
        "Resource": "arn:aws:ec2:*::snapshot/*",
    }
    assert issues(statement) == [("UNKNOWN_ACTION", "ec2:CopySnapshots", "Policies[0]")]


def test_the_gate_names_an_object_action_on_a_bucket_arn() -> None:
    statement = {
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": BUCKET_ARN,
    }
    assert issues(statement) == [("RESOURCE_MISMATCH", "s3:GetObject", "Policies[0]")]
    assert issues({**statement, "Resource": [BUCKET_ARN, OBJECTS]}) == []


def in_encryption_context(*key_actions: str) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": list(key_actions),
        "Resource": KEY_ARN,
        "Condition": {"StringEquals": {"kms:EncryptionContext:app": "orders"}},
    }


def test_the_gate_names_a_condition_key_the_action_lacks() -> None:
    assert issues(in_encryption_context("kms:Decrypt", "kms:DescribeKey")) == [
        ("UNKNOWN_CONDITION_FOR_ACTION", "kms:DescribeKey kms:EncryptionContext:app", "Policies[0]")
    ]


def test_a_wildcard_is_named_only_when_nothing_it_covers_fits() -> None:
    # s3:List* on a bucket is about s3:ListBucket; IAM ignores s3:ListAllMyBuckets there.
    assert issues({"Effect": "Allow", "Action": "s3:List*", "Resource": BUCKET_ARN}) == []
    # No Describe action has an encryption context: kms:Describe* allows nothing here.
    assert issues(in_encryption_context("kms:Decrypt*", "kms:Describe*")) == [
        ("UNKNOWN_CONDITION_FOR_ACTION", "kms:Describe* kms:EncryptionContext:app", "Policies[0]")
    ]


def test_a_key_policy_reads_star_as_the_key() -> None:
    def key_policy(*key_actions: str) -> list[tuple[str, str]]:
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": list(key_actions),
            "Resource": "*",
        }
        key = {"KeyPolicy": {"Version": "2012-10-17", "Statement": [statement]}}
        result = one_stack({"Key": {"Type": "AWS::KMS::Key", "Properties": key}})
        return [(f.issue, f.subject) for f in parliament_findings(result)]

    # The key's half of an alias operation belongs in its key policy; listing aliases does not.
    assert key_policy("kms:*", "kms:CreateAlias", "kms:Decrypt") == []
    assert key_policy("kms:ListAliases") == [("RESOURCE_MISMATCH", "kms:ListAliases")]


def test_the_resolver_gives_each_reference_its_resource_shape() -> None:
    resources = {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "data-bucket"}},
        "Key": {"Type": "AWS::KMS::Key"},
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alarms"}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/platform/"}},
    }
    keys = {
        "Resources": {"DataKey": {"Type": "AWS::KMS::Key"}},
        "Outputs": {"DataKeyArn": {"Value": {"Fn::GetAtt": ["DataKey", "Arn"]}}},
    }
    resolver = Resolver(one_stack(resources, Keys=keys), "Stack")
    resolved = resolver.resolve(
        [
            {"Ref": "Bucket"},
            {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
            {"Fn::GetAtt": ["Key", "Arn"]},
            {"Ref": "Queue"},
            {"Ref": "Topic"},
            {"Fn::GetAtt": ["Role", "Arn"]},
            {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*"},
            {"Fn::GetStackOutput": {"StackName": "Keys", "OutputName": "DataKeyArn"}},
        ]
    )
    patterns = [
        "data-bucket",
        "arn:aws:s3:::data-bucket/*",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*-*-*-*-*",
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/Stack-Queue",
        f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms",
        f"arn:aws:iam::{ACCOUNT}:role/platform/Stack-Role",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:*",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*-*-*-*-*",
    ]
    assert len(resolved) == len(patterns)
    assert all(fnmatch.fnmatchcase(v, p) for v, p in zip(resolved, patterns, strict=True)), resolved
    assert resolved[2] != resolved[7]  # each key its own ID


def test_the_resolver_refuses_what_it_cannot_stand_in_for() -> None:
    resolver = Resolver(one_stack({"Table": {"Type": "AWS::DynamoDB::Table"}}), "Stack")
    with pytest.raises(KeyError, match="AWS::DynamoDB::Table"):
        resolver.resolve({"Fn::GetAtt": ["Table", "Arn"]})
    with pytest.raises(KeyError, match="Fn::ImportValue"):
        resolver.resolve({"Fn::ImportValue": "SharedKeyArn"})
