"""The example organisation against the AWS Security Hub controls of its resources.

Each check below is the rule of one Security Hub control (FSBP, and a few CIS v3.0 / NIST 800-53
controls), written against the synthesized template: the property the control's AWS Config rule
reads, not merely that a resource exists. docs/compliance.md ("Security Hub controls") lists every
control with its result; this module holds the table to the templates:

* a control documented as passing has a check here, and no resource of the example
  organisation fails it;
* a control documented as failing fails on exactly the resources the table names (by pattern),
  so the row goes stale the day the toolkit fixes it or fails somewhere new.

Account-level controls (S3.1, IAM.3-8, Config.1, ...) and run-time ones (KMS.3) have no template
to read; the table says so.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests._support.apps import app_names
from tests._support.compliance_doc import table_rows
from tests._support.iam_policies import as_list, is_everyone
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
Resource = dict[str, Any]
Template = dict[str, Any]

APP = "example_org"

# Lambda.2's parameter is AWS's list of supported runtimes; the toolkit's functions use the
# newest Python the installed aws-cdk-lib knows (cdk-nag AwsSolutions-L1 asks the same).
SUPPORTED_PYTHON_RUNTIMES = frozenset({"python3.14", "python3.13", "python3.12", "python3.11"})

# S3.6: the actions a bucket policy must not allow to other accounts.
S3_6_BLOCKED_ACTIONS = (
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutObjectAcl",
)
# KMS.1 / KMS.2: the decryption actions no IAM policy may allow on every key.
KMS_DECRYPT_ACTIONS = ("kms:Decrypt", "kms:ReEncryptFrom")


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document.get("Statement", []))


def _allows(statement: dict[str, Any], action: str) -> bool:
    """True when an Allow statement's Action covers ``action`` (IAM matches case-insensitively)."""
    return statement.get("Effect") == "Allow" and any(
        fnmatch.fnmatchcase(action.lower(), pattern.lower())
        for pattern in as_list(statement.get("Action", []))
        if isinstance(pattern, str)
    )


def _public_without_condition(document: dict[str, Any]) -> bool:
    """An Allow to anyone with no condition: what Security Hub's "public access" controls
    (KMS.5, SNS.4, SQS.3, S3.2/S3.3) flag. tests/test_service_principals.py holds every such
    statement to a stricter rule (a condition on the caller)."""
    return any(
        s.get("Effect") == "Allow" and is_everyone(s.get("Principal")) and not s.get("Condition")
        for s in _statements(document)
    )


def _key_arn_patterns(resource: Any) -> list[str]:
    """The key ARNs a Resource entry can stand for, as text; a reference to a resource of the
    template or another stack's output names one key."""
    if isinstance(resource, str):
        return [resource]
    if isinstance(resource, dict) and "Fn::Join" in resource:
        parts = resource["Fn::Join"][1]
        return ["".join(p if isinstance(p, str) else "<ref>" for p in parts)]
    return ["<ref>"]


def _all_keys(resource: Any) -> bool:
    """True for a Resource that covers keys of any account or any Region. AWS's guidance for
    KMS.1/KMS.2 is to allow decryption "only on keys in a particular Region for your account":
    ``arn:aws:kms:<region>:<account>:key/*`` is such a scope."""
    for text in _key_arn_patterns(resource):
        if text == "*":
            return True
        parts = text.split(":")
        if len(parts) < 6 or parts[2] not in ("kms", "*"):
            continue
        region, account = parts[3], parts[4]
        if "*" in region or "*" in account or not region or not account:
            return True
    return False


def _decrypts_all_keys(document: dict[str, Any]) -> bool:
    return any(
        any(_allows(s, action) for action in KMS_DECRYPT_ACTIONS)
        and any(_all_keys(r) for r in as_list(s.get("Resource", [])))
        for s in _statements(document)
    )


def _bucket_policy(template: Template, bucket_id: str) -> dict[str, Any] | None:
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::S3::BucketPolicy" and resource["Properties"]["Bucket"] == {
            "Ref": bucket_id
        }:
            document: dict[str, Any] = resource["Properties"]["PolicyDocument"]
            return document
    return None


def _covers_bucket_and_objects(resources: list[Any], bucket_id: str) -> bool:
    text = [json.dumps(r) for r in resources]
    arn = json.dumps({"Fn::GetAtt": [bucket_id, "Arn"]})
    return arn in text and any(arn in t and "/*" in t for t in text)


# Each check: (resource types, rule). A rule returns True when the resource passes.
Rule = Callable[[str, Resource, Template], bool]


def _s3_5(bucket_id: str, _: Resource, template: Template) -> bool:
    policy = _bucket_policy(template, bucket_id)
    return policy is not None and any(
        s.get("Effect") == "Deny"
        and is_everyone(s.get("Principal"))
        and "s3:*" in as_list(s.get("Action"))
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        and _covers_bucket_and_objects(as_list(s.get("Resource")), bucket_id)
        for s in _statements(policy)
    )


def _other_account_principals(statement: dict[str, Any], account: str) -> bool:
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return principal == "*"
    return any(
        not (isinstance(p, str) and f":{account}:" in p) and "AWS::AccountId" not in json.dumps(p)
        for p in as_list(principal.get("AWS", []))
    )


def _s3_6(bucket_id: str, _: Resource, template: Template) -> bool:
    policy = _bucket_policy(template, bucket_id)
    account = template.get("_account", "")
    return policy is None or not any(
        _other_account_principals(s, account) and _allows(s, action)
        for s in _statements(policy)
        for action in S3_6_BLOCKED_ACTIONS
    )


def _s3_public(bucket_id: str, _: Resource, template: Template) -> bool:
    policy = _bucket_policy(template, bucket_id)
    return policy is None or not _public_without_condition(policy)


def _s3_8(_: str, bucket: Resource, __: Template) -> bool:
    block = bucket["Properties"].get("PublicAccessBlockConfiguration", {})
    return all(
        block.get(k) is True
        for k in (
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        )
    )


def _s3_9(_: str, bucket: Resource, __: Template) -> bool:
    return "DestinationBucketName" in bucket["Properties"].get("LoggingConfiguration", {})


def _s3_12(_: str, bucket: Resource, __: Template) -> bool:
    rules = bucket["Properties"].get("OwnershipControls", {}).get("Rules", [])
    return "AccessControl" not in bucket["Properties"] and rules == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]


def _s3_13(_: str, bucket: Resource, __: Template) -> bool:
    rules = bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    return any(r.get("Status") == "Enabled" for r in rules)


def _s3_14(_: str, bucket: Resource, __: Template) -> bool:
    return bool(bucket["Properties"].get("VersioningConfiguration") == {"Status": "Enabled"})


def _s3_15(_: str, bucket: Resource, __: Template) -> bool:
    return bucket["Properties"].get("ObjectLockEnabled") is True


def _s3_17(_: str, bucket: Resource, __: Template) -> bool:
    rules = (
        bucket["Properties"]
        .get("BucketEncryption", {})
        .get("ServerSideEncryptionConfiguration", [])
    )
    return bool(rules) and all(
        r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        in ("aws:kms", "aws:kms:dsse")
        and "KMSMasterKeyID" in r["ServerSideEncryptionByDefault"]
        for r in rules
    )


def _kms_4(_: str, key: Resource, __: Template) -> bool:
    """Symmetric encryption keys rotate; asymmetric and HMAC keys cannot and are not evaluated.
    A key with imported (EXTERNAL) material cannot rotate automatically: it counts as failing."""
    props = key["Properties"]
    symmetric = props.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    return not symmetric or props.get("EnableKeyRotation") is True


def _kms_5(_: str, key: Resource, __: Template) -> bool:
    return not _public_without_condition(key["Properties"]["KeyPolicy"])


def _inline_documents(resource: Resource) -> list[dict[str, Any]]:
    if resource["Type"] == "AWS::IAM::Policy":
        return [resource["Properties"]["PolicyDocument"]]
    return [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]


def _kms_1(_: str, policy: Resource, __: Template) -> bool:
    return not _decrypts_all_keys(policy["Properties"]["PolicyDocument"])


def _kms_2(_: str, resource: Resource, __: Template) -> bool:
    return not any(_decrypts_all_keys(d) for d in _inline_documents(resource))


def _iam_1(_: str, policy: Resource, __: Template) -> bool:
    return not any(
        s.get("Effect") == "Allow"
        and "*" in as_list(s.get("Action"))
        and "*" in as_list(s.get("Resource"))
        for s in _statements(policy["Properties"]["PolicyDocument"])
    )


def _iam_21(_: str, policy: Resource, __: Template) -> bool:
    return not any(
        s.get("Effect") == "Allow"
        and any(
            isinstance(a, str) and (a == "*" or a.endswith(":*")) for a in as_list(s.get("Action"))
        )
        for s in _statements(policy["Properties"]["PolicyDocument"])
    )


def _sqs_1(_: str, queue: Resource, __: Template) -> bool:
    return "KmsMasterKeyId" in queue["Properties"]


def _sns_1(_: str, topic: Resource, __: Template) -> bool:
    return "KmsMasterKeyId" in topic["Properties"]


def _resource_policy_not_public(_: str, resource: Resource, __: Template) -> bool:
    return not _public_without_condition(resource["Properties"]["PolicyDocument"])


def _lambda_1(_: str, permission: Resource, __: Template) -> bool:
    props = permission["Properties"]
    principal = props["Principal"]
    if principal == "*":
        return False
    service = isinstance(principal, str) and principal.endswith(".amazonaws.com")
    return not service or "SourceArn" in props or "SourceAccount" in props


def _lambda_2(_: str, function: Resource, __: Template) -> bool:
    return function["Properties"].get("Runtime") in SUPPORTED_PYTHON_RUNTIMES


def _lambda_3(_: str, function: Resource, __: Template) -> bool:
    return "VpcConfig" in function["Properties"]


def _lambda_5(_: str, function: Resource, __: Template) -> bool:
    subnets = function["Properties"].get("VpcConfig", {}).get("SubnetIds")
    return subnets is None or len(subnets) > 1


def _lambda_7(_: str, function: Resource, __: Template) -> bool:
    return bool(function["Properties"].get("TracingConfig") == {"Mode": "Active"})


def _trail(rule: Callable[[dict[str, Any]], bool]) -> Rule:
    return lambda _, trail, __: rule(trail["Properties"])


def _cloudtrail_1(props: dict[str, Any]) -> bool:
    selectors = props.get("EventSelectors")
    management = selectors is None or any(
        s.get("IncludeManagementEvents", True)
        and s.get("ReadWriteType", "All") == "All"
        and not s.get("ExcludeManagementEventSources")
        for s in selectors
    )
    return props.get("IsMultiRegionTrail") is True and props.get("IsLogging") is True and management


def _cloudtrail_7(_: str, trail: Resource, template: Template) -> bool:
    """The trail's bucket, in this template (a Ref) or another (a name), logs its accesses."""
    target = trail["Properties"]["S3BucketName"]
    if isinstance(target, dict):
        bucket = template["Resources"][target["Ref"]]
    else:
        bucket = template["_buckets_by_name"][target]
    return _s3_9("", bucket, template)


def _s3_data_events(read_write: str) -> Rule:
    """CIS S3.22 (write) / S3.23 (read): the trail records that kind of S3 object-level event
    for every bucket (a data resource of type AWS::S3::Object on ``arn:<partition>:s3``)."""

    def rule(_: str, trail: Resource, __: Template) -> bool:
        return any(
            s.get("ReadWriteType", "All") in ("All", read_write)
            and any(
                d.get("Type") == "AWS::S3::Object"
                and any(v in ("arn:aws:s3", "arn:aws:s3:::") for v in as_list(d.get("Values", [])))
                for d in s.get("DataResources", [])
            )
            for s in trail["Properties"].get("EventSelectors", [])
        )

    return rule


def _codebuild_2(_: str, project: Resource, __: Template) -> bool:
    variables = project["Properties"].get("Environment", {}).get("EnvironmentVariables", [])
    return not any(
        v.get("Name") in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        and v.get("Type", "PLAINTEXT") == "PLAINTEXT"
        for v in variables
    )


def _codebuild_1(_: str, project: Resource, __: Template) -> bool:
    source = project["Properties"].get("Source", {})
    location = str(source.get("Location", ""))
    return "@" not in location.split("://", 1)[-1].split("/", 1)[0]


def _codebuild_3(_: str, project: Resource, __: Template) -> bool:
    s3_logs = project["Properties"].get("LogsConfig", {}).get("S3Logs", {})
    return s3_logs.get("EncryptionDisabled") is not True


def _codebuild_4(_: str, project: Resource, __: Template) -> bool:
    # With no LogsConfig, CodeBuild sends build logs to CloudWatch Logs (ENABLED by default).
    logs = project["Properties"].get("LogsConfig", {})
    cloudwatch: bool = logs.get("CloudWatchLogs", {}).get("Status", "ENABLED") == "ENABLED"
    s3_logs: bool = logs.get("S3Logs", {}).get("Status", "DISABLED") == "ENABLED"
    return cloudwatch or s3_logs


def _codebuild_5(_: str, project: Resource, __: Template) -> bool:
    return project["Properties"].get("Environment", {}).get("PrivilegedMode") is not True


def _cloudwatch_15(_: str, alarm: Resource, __: Template) -> bool:
    return bool(alarm["Properties"].get("AlarmActions"))


def _cloudwatch_16(_: str, group: Resource, __: Template) -> bool:
    days = group["Properties"].get("RetentionInDays")
    return days is None or days >= 365


def _cloudwatch_17(_: str, alarm: Resource, __: Template) -> bool:
    return alarm["Properties"].get("ActionsEnabled", True) is True


def _eventbridge_3(bus_id: str, _: Resource, template: Template) -> bool:
    return any(
        r["Type"] == "AWS::Events::EventBusPolicy"
        and r["Properties"].get("EventBusName")
        in ({"Ref": bus_id}, {"Fn::GetAtt": [bus_id, "Name"]})
        for r in template["Resources"].values()
    )


CHECKS: dict[str, tuple[tuple[str, ...], Rule]] = {
    "CloudTrail.1": (("AWS::CloudTrail::Trail",), _trail(_cloudtrail_1)),
    "CloudTrail.2": (("AWS::CloudTrail::Trail",), _trail(lambda p: "KMSKeyId" in p)),
    "CloudTrail.4": (
        ("AWS::CloudTrail::Trail",),
        _trail(lambda p: p.get("EnableLogFileValidation") is True),
    ),
    "CloudTrail.5": (
        ("AWS::CloudTrail::Trail",),
        _trail(lambda p: "CloudWatchLogsLogGroupArn" in p),
    ),
    "CloudTrail.7": (("AWS::CloudTrail::Trail",), _cloudtrail_7),
    "CloudWatch.15": (("AWS::CloudWatch::Alarm",), _cloudwatch_15),
    "CloudWatch.16": (("AWS::Logs::LogGroup",), _cloudwatch_16),
    "CloudWatch.17": (("AWS::CloudWatch::Alarm",), _cloudwatch_17),
    "CodeBuild.1": (("AWS::CodeBuild::Project",), _codebuild_1),
    "CodeBuild.2": (("AWS::CodeBuild::Project",), _codebuild_2),
    "CodeBuild.3": (("AWS::CodeBuild::Project",), _codebuild_3),
    "CodeBuild.4": (("AWS::CodeBuild::Project",), _codebuild_4),
    "CodeBuild.5": (("AWS::CodeBuild::Project",), _codebuild_5),
    "EventBridge.3": (("AWS::Events::EventBus",), _eventbridge_3),
    "IAM.1": (("AWS::IAM::ManagedPolicy",), _iam_1),
    "IAM.21": (("AWS::IAM::ManagedPolicy",), _iam_21),
    "KMS.1": (("AWS::IAM::ManagedPolicy",), _kms_1),
    "KMS.2": (("AWS::IAM::Policy", "AWS::IAM::Role"), _kms_2),
    "KMS.4": (("AWS::KMS::Key",), _kms_4),
    "KMS.5": (("AWS::KMS::Key",), _kms_5),
    "Lambda.1": (("AWS::Lambda::Permission",), _lambda_1),
    "Lambda.2": (("AWS::Lambda::Function",), _lambda_2),
    "Lambda.3": (("AWS::Lambda::Function",), _lambda_3),
    "Lambda.5": (("AWS::Lambda::Function",), _lambda_5),
    "Lambda.7": (("AWS::Lambda::Function",), _lambda_7),
    "S3.2": (("AWS::S3::Bucket",), _s3_public),
    "S3.3": (("AWS::S3::Bucket",), _s3_public),
    "S3.5": (("AWS::S3::Bucket",), _s3_5),
    "S3.6": (("AWS::S3::Bucket",), _s3_6),
    "S3.8": (("AWS::S3::Bucket",), _s3_8),
    "S3.9": (("AWS::S3::Bucket",), _s3_9),
    "S3.12": (("AWS::S3::Bucket",), _s3_12),
    "S3.13": (("AWS::S3::Bucket",), _s3_13),
    "S3.14": (("AWS::S3::Bucket",), _s3_14),
    "S3.15": (("AWS::S3::Bucket",), _s3_15),
    "S3.17": (("AWS::S3::Bucket",), _s3_17),
    "S3.22": (("AWS::CloudTrail::Trail",), _s3_data_events("WriteOnly")),
    "S3.23": (("AWS::CloudTrail::Trail",), _s3_data_events("ReadOnly")),
    "SNS.1": (("AWS::SNS::Topic",), _sns_1),
    "SNS.4": (("AWS::SNS::TopicPolicy",), _resource_policy_not_public),
    "SQS.1": (("AWS::SQS::Queue",), _sqs_1),
    "SQS.3": (("AWS::SQS::QueuePolicy",), _resource_policy_not_public),
}


def _resources(
    result: SynthResult, types: tuple[str, ...]
) -> Iterator[tuple[str, str, Resource, Template]]:
    buckets_by_name = {
        r["Properties"]["BucketName"]: r
        for t in result.templates.values()
        for r in t["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket" and isinstance(r["Properties"].get("BucketName"), str)
    }
    for stack, template in result.templates.items():
        account = result.environments[stack].removeprefix("aws://").split("/")[0]
        annotated = {**template, "_account": account, "_buckets_by_name": buckets_by_name}
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] in types:
                yield stack, logical_id, resource, annotated


def evaluated_and_failing(result: SynthResult, control: str) -> tuple[list[str], list[str]]:
    """``<stack>/<logical id>`` of each resource ``control`` evaluates in ``result``, and of
    each one that fails it."""
    types, rule = CHECKS[control]
    evaluated: list[str] = []
    failures: list[str] = []
    for stack, logical_id, resource, template in _resources(result, types):
        evaluated.append(f"{stack}/{logical_id}")
        if not rule(logical_id, resource, template):
            failures.append(f"{stack}/{logical_id}")
    return sorted(evaluated), sorted(failures)


def failing(result: SynthResult, control: str) -> tuple[int, list[str]]:
    """How many resources ``control`` evaluates in ``result``, and ``<stack>/<logical id>`` of
    each one that fails it."""
    evaluated, failures = evaluated_and_failing(result, control)
    return len(evaluated), failures


@dataclass(frozen=True)
class Documented:
    """One control's row of the table: its result (``passes``, ``fails``, ``account``, ``run``
    or ``not``), the pattern of the resources documented as failing, and whether the row names
    FSBP among its standards."""

    result: str
    pattern: str
    fsbp: bool


def documented_controls() -> dict[str, Documented]:
    """Every control of the table "Security Hub controls" in docs/compliance.md.

    Rows look like ``| `S3.9` | FSBP, NIST | buckets | fails: `*AccessLogs*` | why |``; a row may
    name several controls (```S3.2`, `S3.3```), each taking the row's result.
    """
    controls: dict[str, Documented] = {}
    for cell, standards, _, result, _ in table_rows("Security Hub controls", 5):
        if result.startswith("fails:"):
            row = Documented("fails", result.removeprefix("fails:").strip().strip("`"), False)
        else:
            row = Documented(result.split()[0] if result else "", "", False)
        row = Documented(row.result, row.pattern, "FSBP" in standards.split(", "))
        for name in re.findall(r"`([^`]+)`", cell):
            assert name not in controls, f"{name} is listed twice under 'Security Hub controls'"
            controls[name] = row
    return controls


def _holds(control: str, row: Documented, result: SynthResult) -> list[str]:
    """The resources of ``result`` that contradict ``row``: any failing resource of a control
    documented as passing; for one documented as failing, any failing resource outside its
    pattern and any resource inside it that passes (the row names exactly those that fail)."""
    evaluated, failures = evaluated_and_failing(result, control)
    if row.result == "passes":
        return failures
    outside = [f for f in failures if not fnmatch.fnmatchcase(f, row.pattern)]
    passing = [
        f"{name} (passes)"
        for name in evaluated
        if fnmatch.fnmatchcase(name, row.pattern) and name not in failures
    ]
    return outside + passing


CHECKED = sorted(c for c, row in documented_controls().items() if row.result in ("passes", "fails"))


def test_every_check_is_documented() -> None:
    documented = documented_controls()
    assert sorted(set(CHECKS) - set(documented)) == []


@pytest.mark.parametrize("control", CHECKED)
def test_documented_result_holds_for_the_example_organisation(
    synthesized: Synth, control: str
) -> None:
    row = documented_controls()[control]
    assert control in CHECKS, f"{control} is documented as {row.result!r} without a check here"
    evaluated, failures = failing(synthesized(APP), control)
    assert evaluated > 0, f"{control}: no resource of the types it checks in {APP}"
    assert _holds(control, row, synthesized(APP)) == []
    if row.result == "fails":
        assert failures, f"{control} is documented as failing on {row.pattern!r} but passes"


@pytest.mark.parametrize("app_name", app_names())
def test_fsbp_results_hold_for_every_app_under_test(synthesized: Synth, app_name: str) -> None:
    """The constructs as the showcases configure them draw no FSBP finding the table does not
    name either (the other standards' rows describe the example organisation only)."""
    result = synthesized(app_name)
    contradictions = {
        control: found
        for control, row in documented_controls().items()
        if row.fsbp and control in CHECKS
        for found in [_holds(control, row, result)]
        if found
    }
    assert contradictions == {}


# The rules themselves: each rejects what its control flags.


@pytest.mark.parametrize(
    ("resource", "all_keys"),
    [
        ("*", True),
        ("arn:aws:kms:*:111111111111:key/*", True),
        ("arn:aws:kms:eu-west-1:*:key/*", True),
        ("arn:aws:kms:eu-west-1:111111111111:key/*", False),
        ({"Fn::GetAtt": ["Key", "Arn"]}, False),
        (
            {"Fn::Join": ["", ["arn:aws:kms:", {"Ref": "AWS::Region"}, ":111111111111:key/*"]]},
            False,
        ),
    ],
)
def test_kms_1_counts_a_wildcard_account_or_region_as_every_key(
    resource: Any, all_keys: bool
) -> None:
    statement = {"Effect": "Allow", "Action": ["kms:Decrypt*"], "Resource": resource}
    policy = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": {"Statement": [statement]}},
    }
    assert _kms_1("Policy", policy, {}) is not all_keys


def test_s3_5_needs_the_tls_deny_on_the_bucket_and_its_objects() -> None:
    bucket_arn = {"Fn::GetAtt": ["Bucket", "Arn"]}
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
    }

    def template(*statements: dict[str, Any]) -> Template:
        policy = {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Statement": list(statements)}}
        return {"Resources": {"Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": policy}}}

    assert _s3_5("Bucket", {}, template(deny))
    assert not _s3_5("Bucket", {}, template())
    assert not _s3_5("Bucket", {}, template({**deny, "Resource": [bucket_arn]}))
    assert not _s3_5("Bucket", {}, template({**deny, "Action": "s3:GetObject"}))


def test_lambda_1_wants_a_source_condition_on_a_service_permission() -> None:
    def permission(**props: Any) -> Resource:
        return {"Properties": {"Principal": "events.amazonaws.com", **props}}

    assert _lambda_1("P", permission(SourceArn="arn:aws:events:eu-west-1:1:rule/r"), {})
    assert not _lambda_1("P", permission(), {})
    assert not _lambda_1("P", permission(Principal="*", SourceArn="x"), {})


def test_s3_6_flags_a_policy_change_allowed_to_another_account() -> None:
    def template(principal: str, action: str) -> Template:
        statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action}
        policy = {"Bucket": {"Ref": "B"}, "PolicyDocument": {"Statement": [statement]}}
        resources = {"P": {"Type": "AWS::S3::BucketPolicy", "Properties": policy}}
        return {"Resources": resources, "_account": "111111111111"}

    assert _s3_6("B", {}, template("arn:aws:iam::222222222222:root", "s3:GetObject"))
    assert not _s3_6("B", {}, template("arn:aws:iam::222222222222:root", "s3:PutBucket*"))
    assert _s3_6("B", {}, template("arn:aws:iam::111111111111:root", "s3:PutBucketPolicy"))


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}])
def test_public_access_rules_flag_everyone_without_a_condition(principal: Any) -> None:
    def policy(**statement: Any) -> Resource:
        allow = {"Effect": "Allow", "Principal": principal, "Action": "sns:Publish", **statement}
        return {"Properties": {"PolicyDocument": {"Statement": [allow]}}}

    assert not _resource_policy_not_public("P", policy(), {})
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    assert _resource_policy_not_public("P", policy(Condition=condition), {})
