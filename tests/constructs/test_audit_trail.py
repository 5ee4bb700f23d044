"""AuditTrail and AuditBucket: trail, key policy, bucket policy, log group, topic and alarms."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from constructs_lib import (
    AuditBucket,
    AuditTrail,
    BucketReplication,
    CentralAuditBucket,
    ConstructPropError,
    CustomerManagedKey,
    EncryptedBucket,
    KeyServicePrincipal,
    TrailSource,
)
from constructs_lib.audit_alarms import CLOUDTRAIL_SELECTORS_CHANGED
from tests._support.apps.audit_showcase import (
    CENTRAL_BUCKET,
    DR_BUCKET,
    DR_KEY_ARN,
    DR_REGION,
    MANAGEMENT,
    MEMBER_TRAIL,
    ORGANIZATION_ID,
    ORGANIZATION_TRAIL,
    SECURITY,
    WORKLOAD,
    WORKLOAD_TRAIL,
)
from tests._support.deploy_quotas import deployed, oversized_policies
from tests._support.keys import custom_policy_key
from tests._support.snapshots import normalized
from tests._support.synth import SynthResult
from tests.constructs.test_encrypted_bucket import (
    arn,
    bucket_policy,
    encryption_statements,
    logical_id,
    objects,
    role_policy,
    tls_statements,
)

Synth = Callable[[str], SynthResult]
DEFAULT_TRAIL = "AuditDefault-Audit-3CCC6E1C"
CIS_KMS_PATTERN = (
    "{($.eventSource=kms.amazonaws.com) && "
    "(($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"
)
CLOUDTRAIL = {"Service": "cloudtrail.amazonaws.com"}


def trail_arn(account: str, name: str) -> str:
    return f"arn:aws:cloudtrail:eu-west-1:{account}:trail/{name}"


@pytest.fixture(scope="module")
def showcase(synthesized: Synth) -> SynthResult:
    return synthesized("audit_showcase")


def trail_key_statements(account: str, name: str, key_owner_statement: bool = True) -> list[Any]:
    """What every AuditTrail key policy holds, in order."""
    source = trail_arn(account, name)
    statements: list[Any] = []
    if key_owner_statement:
        statements.append(
            {
                "Action": "kms:*",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Resource": "*",
                "Sid": "EnableIAMUserPermissions",
            }
        )
    statements += [
        {
            "Action": "kms:GenerateDataKey*",
            "Condition": {
                "StringEquals": {"aws:SourceArn": source},
                "StringLike": {
                    "kms:EncryptionContext:aws:cloudtrail:arn": (
                        f"arn:aws:cloudtrail:*:{account}:trail/*"
                    )
                },
            },
            "Effect": "Allow",
            "Principal": CLOUDTRAIL,
            "Resource": "*",
            "Sid": "AllowCloudTrailToEncryptLogs",
        },
        {
            "Action": "kms:DescribeKey",
            "Condition": {"StringEquals": {"aws:SourceArn": source}},
            "Effect": "Allow",
            "Principal": CLOUDTRAIL,
            "Resource": "*",
            "Sid": "AllowCloudTrailToDescribeKey",
        },
        {
            "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
            "Condition": {
                "StringEquals": {"kms:CallerAccount": account},
                "Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"},
            },
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Resource": "*",
            "Sid": "AllowCloudTrailLogDecryption",
        },
        # Every AuditBucket has an S3 Bucket Key: CreateTrail needs CloudTrail to decrypt.
        {
            "Action": "kms:Decrypt",
            "Condition": {"StringEqualsIfExists": {"aws:SourceArn": source}},
            "Effect": "Allow",
            "Principal": CLOUDTRAIL,
            "Resource": "*",
            "Sid": "AllowCloudTrailToDecryptWithS3BucketKey",
        },
        {
            "Action": ["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:aws:logs:eu-west-1:{account}:log-group:/aws/cloudtrail/{name}"
                    )
                }
            },
            "Effect": "Allow",
            "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
            "Resource": "*",
            "Sid": "AllowCloudWatchLogs",
        },
    ]
    return statements


def alarm_publisher_statement(account: str) -> dict[str, Any]:
    return {
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {
                "aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{account}:*",
                "kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:eu-west-1:{account}:*",
            },
        },
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Resource": "*",
        "Sid": "AllowCloudwatchSNS",
    }


def key_policy(template: Any, description: str, statements: list[Any]) -> None:
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "Description": description,
            "KeyPolicy": Match.object_equals({"Version": "2012-10-17", "Statement": statements}),
        },
    )


# --- the default trail ------------------------------------------------------------------------


def test_default_trail_settings(showcase: SynthResult) -> None:
    template = showcase.template("AuditDefault")
    trail = template["Resources"][logical_id(template, "AWS::CloudTrail::Trail", "AuditTrail")]
    key = logical_id(template, "AWS::KMS::Key", "AuditKey")
    bucket = logical_id(template, "AWS::S3::Bucket", "AuditBucketStorageBucket")
    assert trail["Properties"] == {
        "CloudWatchLogsLogGroupArn": arn(logical_id(template, "AWS::Logs::LogGroup", "Audit")),
        "CloudWatchLogsRoleArn": arn(logical_id(template, "AWS::IAM::Role", "AuditLogsRole")),
        "EnableLogFileValidation": True,
        "EventSelectors": [{"IncludeManagementEvents": True, "ReadWriteType": "All"}],
        "IncludeGlobalServiceEvents": True,
        "IsLogging": True,
        "IsMultiRegionTrail": True,
        "IsOrganizationTrail": False,
        "KMSKeyId": arn(key),
        "S3BucketName": {"Ref": bucket},
        "TrailName": DEFAULT_TRAIL,
    }
    # CloudTrail checks bucket policy and role permissions when the trail is created.
    assert sorted(trail["DependsOn"]) == sorted(
        [
            logical_id(template, "AWS::S3::BucketPolicy", "AuditBucketStorageBucketPolicy"),
            logical_id(template, "AWS::IAM::ManagedPolicy", "AuditLogsPolicy"),
        ]
    )


def test_default_trail_makes_its_own_rotated_key(showcase: SynthResult) -> None:
    assertions = showcase.assertions("AuditDefault")
    assertions.resource_count_is("AWS::KMS::Key", 1)
    assertions.has_resource_properties(
        "AWS::KMS::Alias", {"AliasName": f"alias/audit/{DEFAULT_TRAIL}"}
    )
    key_policy(
        assertions,
        f"CloudTrail trail {DEFAULT_TRAIL}: log files, log group and alarm topic",
        [*trail_key_statements(SECURITY, DEFAULT_TRAIL), alarm_publisher_statement(SECURITY)],
    )
    assertions.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def acl_check_statement(bucket: str, trail_arns: list[str]) -> dict[str, Any]:
    return {
        "Action": "s3:GetBucketAcl",
        "Condition": {"StringEquals": {"aws:SourceArn": trail_arns}},
        "Effect": "Allow",
        "Principal": CLOUDTRAIL,
        "Resource": arn(bucket),
        "Sid": "AllowCloudTrailAclCheck",
    }


def write_statement(source_arn: str, resource: Any, sid: str) -> dict[str, Any]:
    return {
        "Action": "s3:PutObject",
        "Condition": {
            "StringEquals": {
                "s3:x-amz-acl": "bucket-owner-full-control",
                "aws:SourceArn": source_arn,
            }
        },
        "Effect": "Allow",
        "Principal": CLOUDTRAIL,
        "Resource": resource,
        "Sid": sid,
    }


def cloudtrail_bucket_statements(
    bucket: str, account: str, name: str, prefix: str = ""
) -> list[dict[str, Any]]:
    source = trail_arn(account, name)
    return [
        acl_check_statement(bucket, [source]),
        write_statement(
            source, objects(bucket, f"/{prefix}AWSLogs/{account}/*"), "AllowCloudTrailWrite"
        ),
    ]


def test_default_trail_bucket_policy(showcase: SynthResult) -> None:
    template = showcase.template("AuditDefault")
    bucket = logical_id(template, "AWS::S3::Bucket", "AuditBucketStorageBucket")
    key = logical_id(template, "AWS::KMS::Key", "AuditKey")
    bucket_policy(
        showcase.assertions("AuditDefault"),
        bucket,
        [
            *tls_statements(bucket),
            *encryption_statements(bucket, arn(key), ["cloudtrail.amazonaws.com"]),
            *cloudtrail_bucket_statements(bucket, SECURITY, DEFAULT_TRAIL),
        ],
    )


def test_default_trail_bucket_is_an_encrypted_bucket(showcase: SynthResult) -> None:
    template = showcase.template("AuditDefault")
    bucket = template["Resources"][
        logical_id(template, "AWS::S3::Bucket", "AuditBucketStorageBucket")
    ]
    key = logical_id(template, "AWS::KMS::Key", "AuditKey")
    assert bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "KMSMasterKeyID": arn(key),
                "SSEAlgorithm": "aws:kms",
            },
        }
    ]
    # CIS: access logging on the CloudTrail bucket.
    assert bucket["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {
            "Ref": logical_id(template, "AWS::S3::Bucket", "AuditBucketStorageAccessLogs")
        },
        "LogFilePrefix": "Storage/",
    }
    assert bucket["DeletionPolicy"] == "Retain"
    # Object Lock is opt-in (bucket_props={"object_lock": ...}).
    assert "ObjectLockEnabled" not in bucket["Properties"]
    assert "ObjectLockConfiguration" not in bucket["Properties"]


def test_log_group_is_encrypted_with_a_set_retention(showcase: SynthResult) -> None:
    template = showcase.template("AuditDefault")
    key = logical_id(template, "AWS::KMS::Key", "AuditKey")
    group = template["Resources"][logical_id(template, "AWS::Logs::LogGroup", "Audit")]
    assert group["Properties"] == {
        "KmsKeyId": arn(key),
        "LogGroupName": f"/aws/cloudtrail/{DEFAULT_TRAIL}",
        "RetentionInDays": 365,
    }
    assert group["DeletionPolicy"] == "Retain"


def test_logs_role_trusts_cloudtrail_and_writes_to_this_trail_only(
    showcase: SynthResult,
) -> None:
    template = showcase.template("AuditDefault")
    role = logical_id(template, "AWS::IAM::Role", "AuditLogsRole")
    assertions = showcase.assertions("AuditDefault")
    # Without aws:SourceArn or aws:SourceAccount: CloudTrail does not send them when it assumes
    # the CloudWatch Logs role (its user guide), and with them the trail fails to create.
    assert template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": CLOUDTRAIL}],
    }
    role_policy(
        assertions,
        role,
        [
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": (
                    f"arn:aws:logs:eu-west-1:{SECURITY}:log-group:/aws/cloudtrail/"
                    f"{DEFAULT_TRAIL}:log-stream:{SECURITY}_CloudTrail_*"
                ),
                "Sid": "WriteTrailLogStreams",
            }
        ],
    )
    assert "Policies" not in template["Resources"][role]["Properties"]


ALARMS_OF_SECURITY_ACCOUNT = f"arn:aws:cloudwatch:eu-west-1:{SECURITY}:alarm:*"


def test_alarm_topic_is_encrypted_and_tls_only(showcase: SynthResult) -> None:
    template = showcase.template("AuditDefault")
    key = logical_id(template, "AWS::KMS::Key", "AuditKey")
    topic = logical_id(template, "AWS::SNS::Topic", "AuditAlarmTopic")
    assertions = showcase.assertions("AuditDefault")
    assertions.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": arn(key)})
    assertions.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic}],
            "PolicyDocument": Match.object_equals(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Action": "sns:Publish",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            "Effect": "Deny",
                            "Principal": "*",
                            "Resource": {"Ref": topic},
                            "Sid": "AllowPublishThroughSSLOnly",
                        },
                        {
                            "Action": "sns:Publish",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": SECURITY},
                                "ArnLike": {"aws:SourceArn": ALARMS_OF_SECURITY_ACCOUNT},
                            },
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Resource": {"Ref": topic},
                            "Sid": "AllowCloudwatchPublish",
                        },
                    ],
                }
            ),
        },
    )


ALARMS = {
    "KmsKeyDisabledOrScheduledForDeletion": CIS_KMS_PATTERN,
    # The KMS developer guide's pattern, as it prints it (spaces included).
    "KmsKeyPendingDeletionUsed": (
        '{ $.eventSource = kms* && $.errorMessage = "* is pending deletion."}'
    ),
    "KmsKeyPolicyChanged": (
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=PutKeyPolicy) || "
        f'(($.eventName=CreateGrant) && ($.userIdentity.accountId!="{SECURITY}")))}}'
    ),
    "UnauthorizedApiCalls": (
        '{(($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")) && '
        '($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket")}'
    ),
    "CloudTrailConfigurationChanged": (
        "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
        "($.eventName=StartLogging) || ($.eventName=StopLogging)}"
    ),
}


def alarm_properties(metric: str, namespace: str, topic: str) -> dict[str, Any]:
    """Every property of an AuditTrail (or KmsAuditAlarms) alarm but its description."""
    return {
        "AlarmActions": [{"Ref": topic}],
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1,
        "MetricName": metric,
        "Namespace": namespace,
        "Period": 300,
        "Statistic": "Sum",
        "Threshold": 1,
        "TreatMissingData": "notBreaching",
    }


@pytest.mark.parametrize(("metric", "pattern"), ALARMS.items())
def test_metric_filter_and_alarm(showcase: SynthResult, metric: str, pattern: str) -> None:
    template = showcase.template("AuditDefault")
    group = logical_id(template, "AWS::Logs::LogGroup", "Audit")
    topic = logical_id(template, "AWS::SNS::Topic", "AuditAlarmTopic")
    namespace = f"AuditTrail/{DEFAULT_TRAIL}"
    assertions = showcase.assertions("AuditDefault")
    assertions.has_resource_properties(
        "AWS::Logs::MetricFilter",
        Match.object_equals(
            {
                "FilterPattern": pattern,
                "LogGroupName": {"Ref": group},
                "MetricTransformations": [
                    {"MetricName": metric, "MetricNamespace": namespace, "MetricValue": "1"}
                ],
            }
        ),
    )
    assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm", alarm_properties(metric, namespace, topic)
    )


def test_cis_kms_pattern_is_exact(showcase: SynthResult) -> None:
    template = showcase.template("AuditDefault")
    patterns = [
        r["Properties"]["FilterPattern"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::MetricFilter"
    ]
    assert CIS_KMS_PATTERN in patterns
    # One filter per alarm, and CloudTrailConfigurationChanged's second (event selectors).
    assert len(patterns) == len(ALARMS) + 1
    assert CLOUDTRAIL_SELECTORS_CHANGED in patterns


# --- given key, bucket props, data events ----------------------------------------------------


def test_given_key_gets_the_trail_statements(showcase: SynthResult) -> None:
    assertions = showcase.assertions("AuditWorkload")
    assertions.resource_count_is("AWS::KMS::Key", 2)  # the data key and the given trail key
    key_policy(
        assertions,
        "AuditWorkload/TrailKey (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
        [*trail_key_statements(WORKLOAD, WORKLOAD_TRAIL), alarm_publisher_statement(WORKLOAD)],
    )


def test_data_events_for_chosen_buckets(showcase: SynthResult) -> None:
    template = showcase.template("AuditWorkload")
    trail = template["Resources"][logical_id(template, "AWS::CloudTrail::Trail", "AuditTrail")]
    data = logical_id(template, "AWS::S3::Bucket", "DataBucket")
    reports = logical_id(template, "AWS::S3::Bucket", "ReportsBucket")
    assert trail["Properties"]["EventSelectors"] == [
        {"IncludeManagementEvents": True, "ReadWriteType": "All"},
        {
            "DataResources": [
                {"Type": "AWS::S3::Object", "Values": [objects(data, "/"), objects(reports, "/")]}
            ],
            "IncludeManagementEvents": False,
            "ReadWriteType": "All",
        },
    ]
    assert trail["Properties"]["S3KeyPrefix"] == "trail"
    assert trail["Properties"]["TrailName"] == WORKLOAD_TRAIL


def test_bucket_props_and_key_prefix_reach_the_trail_bucket(showcase: SynthResult) -> None:
    template = showcase.template("AuditWorkload")
    bucket = logical_id(template, "AWS::S3::Bucket", "AuditBucketStorageBucket")
    props = template["Resources"][bucket]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 365}
    # bucket_props={"object_lock": ...}: the log files and digest files are locked.
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
    }
    key = logical_id(template, "AWS::KMS::Key", "TrailKey")
    bucket_policy(
        showcase.assertions("AuditWorkload"),
        bucket,
        [
            *tls_statements(bucket),
            *encryption_statements(bucket, arn(key), ["cloudtrail.amazonaws.com"]),
            *cloudtrail_bucket_statements(bucket, WORKLOAD, WORKLOAD_TRAIL, "trail/"),
        ],
    )


# --- central audit account ---------------------------------------------------------------------


def test_central_bucket_policy_names_each_trail(showcase: SynthResult) -> None:
    template = showcase.template("AuditCentral")
    bucket = logical_id(template, "AWS::S3::Bucket", "CentralAuditStorageBucket")
    key = logical_id(template, "AWS::KMS::Key", "AuditKey")
    member = trail_arn(WORKLOAD, MEMBER_TRAIL)
    organization = trail_arn(MANAGEMENT, ORGANIZATION_TRAIL)
    props = template["Resources"][bucket]["Properties"]
    assert props["BucketName"] == CENTRAL_BUCKET
    # AuditBucket(object_lock=...): a year of COMPLIANCE retention, and noncurrent versions kept
    # as long by default (S3 could not delete them sooner).
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}},
    }
    rules = props["LifecycleConfiguration"]["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 365}
    bucket_policy(
        showcase.assertions("AuditCentral"),
        bucket,
        [
            *tls_statements(bucket),
            *encryption_statements(bucket, arn(key), ["cloudtrail.amazonaws.com"]),
            acl_check_statement(bucket, [member, organization]),
            write_statement(
                member, objects(bucket, f"/AWSLogs/{WORKLOAD}/*"), "AllowCloudTrailWrite1"
            ),
            write_statement(
                organization,
                [
                    objects(bucket, f"/AWSLogs/{MANAGEMENT}/*"),
                    objects(bucket, f"/AWSLogs/{ORGANIZATION_ID}/*"),
                ],
                "AllowCloudTrailWrite2",
            ),
        ],
    )


def test_central_key_is_not_opened_to_cloudtrail(showcase: SynthResult) -> None:
    """Trails encrypt with their own keys; the central key only encrypts by default."""
    key_policy(
        showcase.assertions("AuditCentral"),
        "AuditCentral/AuditKey (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
        [
            {
                "Action": "kms:*",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SECURITY}:root"},
                "Resource": "*",
                "Sid": "EnableIAMUserPermissions",
            }
        ],
    )


def central_reader_statement(account: str) -> dict[str, Any]:
    return {
        "Action": "kms:Decrypt",
        "Condition": {
            "StringEquals": {"kms:CallerAccount": SECURITY},
            "StringLike": {
                "kms:EncryptionContext:aws:cloudtrail:arn": (
                    f"arn:aws:cloudtrail:*:{account}:trail/*"
                )
            },
        },
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{SECURITY}:root"},
        "Resource": "*",
        "Sid": "AllowCentralAuditAccountToDecryptLogs",
    }


def test_member_trail_delivers_to_the_central_bucket(showcase: SynthResult) -> None:
    assertions = showcase.assertions("AuditMember")
    assertions.resource_count_is("AWS::S3::Bucket", 0)
    assertions.resource_count_is("AWS::S3::BucketPolicy", 0)
    assertions.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {"S3BucketName": CENTRAL_BUCKET, "TrailName": MEMBER_TRAIL, "IsOrganizationTrail": False},
    )
    key_policy(
        assertions,
        f"CloudTrail trail {MEMBER_TRAIL}: log files, log group and alarm topic",
        [
            *trail_key_statements(WORKLOAD, MEMBER_TRAIL),
            central_reader_statement(WORKLOAD),
            alarm_publisher_statement(WORKLOAD),
        ],
    )


def _key_policy_changed_filter(template: dict[str, Any]) -> str:
    filters = [
        resource["Properties"]["FilterPattern"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Logs::MetricFilter"
        and resource["Properties"]["MetricTransformations"][0]["MetricName"]
        == "KmsKeyPolicyChanged"
    ]
    assert len(filters) == 1
    return str(filters[0])


def test_an_organization_trail_alarms_on_grants_from_outside_the_accounts_listed_only(
    showcase: SynthResult,
) -> None:
    # Its log group holds every member account's events: "a caller of another account than the
    # trail's" would fire for each grant a member account makes on its own keys.
    assert _key_policy_changed_filter(showcase.template("AuditOrganization")) == (
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=PutKeyPolicy) || "
        f'(($.eventName=CreateGrant) && ((($.recipientAccountId="{MANAGEMENT}") && '
        f'($.userIdentity.accountId!="{MANAGEMENT}")) || (($.recipientAccountId="{SECURITY}") && '
        f'($.userIdentity.accountId!="{SECURITY}")))))}}'
    )


def test_an_organization_trail_watches_the_management_accounts_keys_by_default() -> None:
    stack = _stack()
    AuditTrail(
        stack,
        "Audit",
        trail_name="org",
        organization_id=ORGANIZATION_ID,
        central_bucket=CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account=WORKLOAD),
    )
    template = Template.from_stack(stack).to_json()
    assert _key_policy_changed_filter(template) == (
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=PutKeyPolicy) || "
        f'(($.eventName=CreateGrant) && ((($.recipientAccountId="{SECURITY}") && '
        f'($.userIdentity.accountId!="{SECURITY}")))))}}'
    )


def test_organization_trail(showcase: SynthResult) -> None:
    template = showcase.template("AuditOrganization")
    assertions = showcase.assertions("AuditOrganization")
    assertions.has_resource_properties(
        "AWS::CloudTrail::Trail",
        {
            "IsOrganizationTrail": True,
            "IsMultiRegionTrail": True,
            "S3BucketName": CENTRAL_BUCKET,
            "TrailName": ORGANIZATION_TRAIL,
        },
    )
    policy = template["Resources"][
        logical_id(template, "AWS::IAM::ManagedPolicy", "AuditLogsPolicy")
    ]
    group = f"arn:aws:logs:eu-west-1:{MANAGEMENT}:log-group:/aws/cloudtrail/{ORGANIZATION_TRAIL}"
    assert policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"] == [
        f"{group}:log-stream:{MANAGEMENT}_CloudTrail_*",
        f"{group}:log-stream:{ORGANIZATION_ID}_*",
    ]
    key_policy(
        assertions,
        f"CloudTrail trail {ORGANIZATION_TRAIL}: log files, log group and alarm topic",
        [
            *trail_key_statements(MANAGEMENT, ORGANIZATION_TRAIL),
            central_reader_statement(MANAGEMENT),
            alarm_publisher_statement(MANAGEMENT),
        ],
    )


def test_trails_sharing_a_key_name_each_central_account_once_with_numbered_sids() -> None:
    # KMS refuses a key policy that repeats a Sid: a second central account gets Sid ...2, as a
    # second trail's CloudTrail statements do; the same central account again adds nothing.
    app = cdk.App(context={"@aws-cdk/core:enablePartitionLiterals": True})
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))
    key = CustomerManagedKey(stack, "TrailKey")
    for trail, central in (
        ("to-security", SECURITY),
        ("to-management", MANAGEMENT),
        ("to-security-again", SECURITY),
    ):
        AuditTrail(
            stack,
            trail,
            trail_name=trail,
            encryption_key=key,
            central_bucket=CentralAuditBucket(bucket_name=f"audit-{central}", account=central),
        )
    readers = [
        s
        for s in stack.resolve(key.policy_document)["Statement"]
        if s.get("Sid", "").startswith("AllowCentralAuditAccount")
    ]
    second = central_reader_statement(WORKLOAD)
    second["Sid"] += "2"
    second["Condition"]["StringEquals"]["kms:CallerAccount"] = MANAGEMENT
    second["Principal"] = {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"}
    assert readers == [central_reader_statement(WORKLOAD), second]
    Template.from_stack(stack)  # synthesizes: no Sid is repeated


@pytest.mark.parametrize(
    ("account", "trail_account", "named"),
    [("12345", WORKLOAD, "'account'"), (SECURITY, "workload", "'trail_account'")],
)
def test_a_log_reader_needs_account_ids(account: str, trail_account: str, named: str) -> None:
    with pytest.raises(ConstructPropError, match=f"{named} must be a 12-digit AWS account ID"):
        KeyServicePrincipal.cloudtrail_log_reader(account=account, trail_account=trail_account)


@pytest.mark.parametrize(
    "stack", ["AuditDefault", "AuditCentral", "AuditMember", "AuditOrganization"]
)  # AuditWorkload: tests/constructs/test_encrypted_bucket.py
def test_snapshot(showcase: SynthResult, snapshot_json: Any, stack: str) -> None:
    assert normalized(showcase.template(stack)) == snapshot_json


# --- synth-time checks --------------------------------------------------------------------------


def _synth_errors(change: Callable[[AuditTrail], None]) -> str:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=SECURITY, region="eu-west-1"))
    trail = AuditTrail(stack, "Audit", trail_name="audit")
    change(trail)
    with pytest.raises(Exception) as error:  # noqa: PT011 - jsii raises RuntimeError
        app.synth()
    return str(error.value)


def test_excluding_kms_events_fails_synth() -> None:
    def exclude_kms(trail: AuditTrail) -> None:
        trail.trail.add_event_selector(
            cloudtrail.DataResourceType.S3_OBJECT,
            ["arn:aws:s3:::other/"],
            exclude_management_event_sources=[cloudtrail.ManagementEventSources.KMS],
        )

    message = _synth_errors(exclude_kms)
    assert "'exclude_management_event_sources' must not exclude kms.amazonaws.com" in message


def test_write_only_management_events_fail_synth() -> None:
    def write_only(trail: AuditTrail) -> None:
        cfn = trail.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        cfn.event_selectors = [
            cloudtrail.CfnTrail.EventSelectorProperty(
                include_management_events=True, read_write_type="WriteOnly"
            )
        ]

    assert "'management_events' must record Read and Write events" in _synth_errors(write_only)


def test_single_region_trail_fails_synth() -> None:
    def single_region(trail: AuditTrail) -> None:
        cfn = trail.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        cfn.is_multi_region_trail = False

    assert "'is_multi_region_trail' must stay True" in _synth_errors(single_region)


@pytest.mark.parametrize(
    ("prop", "value"),
    [("enable_log_file_validation", False), ("include_global_service_events", False)],
)
def test_turning_off_a_cis_setting_fails_synth(prop: str, value: bool) -> None:
    def turn_off(trail: AuditTrail) -> None:
        cfn = trail.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        setattr(cfn, prop, value)

    assert f"'{prop}' must stay True on an AuditTrail. Received: False" in _synth_errors(turn_off)


OTHER_KEY_ARN = f"arn:aws:kms:eu-west-1:{SECURITY}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
OTHER_LOG_GROUP = f"arn:aws:logs:eu-west-1:{SECURITY}:log-group:other:*"


@pytest.mark.parametrize(
    ("prop", "value", "message"),
    [
        # A stopped trail logs nothing: every alarm stays quiet and the audit reads no log file.
        ("is_logging", False, "'is_logging' must stay True on an AuditTrail. Received: False"),
        (
            "kms_key_id",
            None,
            "'kms_key_id' must stay the trail's key (key) on an AuditTrail. Received: None",
        ),
        (
            "kms_key_id",
            OTHER_KEY_ARN,
            f"'kms_key_id' must stay the trail's key (key) on an AuditTrail. Received: "
            f"'{OTHER_KEY_ARN}'",
        ),
        (
            "cloud_watch_logs_log_group_arn",
            OTHER_LOG_GROUP,
            "'cloud_watch_logs_log_group_arn' must stay the trail's log group (log_group, "
            f"which its metric filters watch) on an AuditTrail. Received: '{OTHER_LOG_GROUP}'",
        ),
        (
            "cloud_watch_logs_role_arn",
            None,
            "'cloud_watch_logs_role_arn' must stay the trail's role for CloudWatch Logs "
            "(logs_role) on an AuditTrail. Received: None",
        ),
    ],
)
def test_changing_logging_key_or_log_group_on_the_l1_fails_synth(
    prop: str, value: Any, message: str
) -> None:
    """The validation said it caught any change made through the L1 but checked four
    properties: a stopped trail, or one whose log files lost their key, synthesized."""

    def change(trail: AuditTrail) -> None:
        cfn = trail.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        setattr(cfn, prop, value)

    assert message in _synth_errors(change)


def test_advanced_event_selectors_fail_synth() -> None:
    # They replace the basic event selectors, the one that records every KMS call included.
    def advanced(trail: AuditTrail) -> None:
        cfn = trail.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        cfn.advanced_event_selectors = [
            cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                field_selectors=[
                    cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(
                        field="eventCategory", equal_to=["Data"]
                    )
                ]
            )
        ]

    assert "'advanced_event_selectors' must not be set on an AuditTrail" in _synth_errors(advanced)


def test_dropping_management_events_fails_synth() -> None:
    def data_events_only(trail: AuditTrail) -> None:
        cfn = trail.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        cfn.event_selectors = [
            cloudtrail.CfnTrail.EventSelectorProperty(
                include_management_events=False, read_write_type="All"
            )
        ]

    assert "'management_events' must record Read and Write events" in _synth_errors(
        data_events_only
    )


# --- bad input ----------------------------------------------------------------------------------


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=SECURITY, region="eu-west-1"))


def _key(stack: cdk.Stack) -> CustomerManagedKey:
    return CustomerManagedKey(stack, "K")


def _bucket_for(name: str, prefix: str | None = "logs") -> Callable[[cdk.Stack], AuditBucket]:
    def make(stack: cdk.Stack) -> AuditBucket:
        return AuditBucket(
            stack,
            "Shared",
            encryption_key=_key(stack),
            sources=[TrailSource(account=SECURITY, trail_name=name, region="eu-west-1")],
            s3_key_prefix=prefix,
        )

    return make


CASES: list[tuple[dict[str, Any], str]] = [
    ({"trail_name": "ab"}, "'trail_name' must be 3-128 letters, digits"),
    ({"trail_name": "my..trail"}, "Received: 'my..trail'"),
    ({"trail_name": "-trail"}, "Received: '-trail'"),
    ({"trail_name": "trail_-x"}, "Received: 'trail_-x'"),
    ({"trail_name": cdk.Aws.STACK_NAME}, "'trail_name' must be a literal name"),
    # CloudTrail's InvalidTrailNameException: "Not be in IP address format".
    (
        {"trail_name": "192.168.5.4"},
        "'trail_name' must not be formatted as an IP address (CloudTrail refuses such names). "
        "Received: '192.168.5.4'",
    ),
    (
        {"organization_id": "org-1"},
        "'organization_id' must be an AWS Organizations organization ID, o- and 10-32",
    ),
    (
        {"grant_alarm_accounts": [WORKLOAD]},
        "'grant_alarm_accounts' is for an organization trail (organization_id): one account's "
        f"trail watches grants on its own keys. Received: ['{WORKLOAD}']",
    ),
    (
        {
            "organization_id": ORGANIZATION_ID,
            "grant_alarm_accounts": [f"{n:012d}" for n in range(1, 402)],
        },
        "'grant_alarm_accounts' must fit KmsKeyPolicyChanged's filter patterns in at most 40 "
        "metric filters of CloudWatch Logs' 1,024 characters each (a log group takes 100 in "
        "all): 401 accounts need 41",
    ),
    (
        {"organization_id": ORGANIZATION_ID, "grant_alarm_accounts": ["12345"]},
        "'grant_alarm_accounts' must be a 12-digit AWS account ID. Received: '12345'",
    ),
    (
        {"encryption_key": _key, "key_alias": "alias/trail"},
        "'key_alias' is for the key this construct makes; it must not be given together with "
        "encryption_key",
    ),
    (
        {"encryption_key": lambda s: kms.Key(s, "Raw")},
        "'encryption_key' must be a CustomerManagedKey (the trail adds CloudTrail and CloudWatch "
        "Logs statements to its key policy)",
    ),
    (
        {
            "encryption_key": lambda s: CustomerManagedKey(
                s, "Rsa", key_spec="RSA_4096", key_usage="ENCRYPT_DECRYPT"
            )
        },
        "'encryption_key' must be a symmetric encryption key",
    ),
    (
        {"bucket": _bucket_for("audit"), "bucket_props": {"bucket_name": "x"}},
        "'bucket_props' are for the bucket this construct makes; they must not be given together "
        "with bucket",
    ),
    (
        {
            "central_bucket": CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account=WORKLOAD),
            "bucket_props": {"noncurrent_version_retention_days": 10},
        },
        "'central_bucket' delivers to another account's bucket",
    ),
    ({"bucket": lambda s: "bucket"}, "'bucket' must be an AuditBucket"),
    ({"bucket": _bucket_for("other")}, "'bucket' must list this trail (audit in 111111111111/"),
    # The bucket's policy would not let an organization trail write under AWSLogs/<org id>/.
    (
        {"bucket": _bucket_for("audit"), "organization_id": ORGANIZATION_ID},
        f"'bucket' must list this trail with organization_id '{ORGANIZATION_ID}'. Received: None",
    ),
    (
        {"bucket": _bucket_for("audit"), "s3_key_prefix": "trail"},
        "'s3_key_prefix' must match the bucket's s3_key_prefix ('logs'); leave it out to use the "
        "bucket's. Received: 'trail'",
    ),
    # The bucket's policy names its own prefix only: another one fails CreateTrail at deploy
    # (InsufficientS3BucketPolicyException), even where the bucket has no prefix at all.
    (
        {"bucket": _bucket_for("audit", prefix=None), "s3_key_prefix": "logs"},
        "'s3_key_prefix' must match the bucket's s3_key_prefix (None); leave it out to use the "
        "bucket's. Received: 'logs'",
    ),
    (
        {
            "central_bucket": CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account=WORKLOAD),
            "s3_key_prefix": "trail",
        },
        "'s3_key_prefix' must match the bucket's s3_key_prefix (None)",
    ),
    ({"s3_key_prefix": "/logs"}, "'s3_key_prefix' must be an S3 key prefix"),
    (
        {"log_retention": logs.RetentionDays.INFINITE},
        "'log_retention' must be a RetentionDays other than INFINITE",
    ),
    (
        {"bucket": _bucket_for("audit"), "data_event_buckets": "own"},
        "'data_event_buckets' must not include the trail's own bucket",
    ),
    (
        {"bucket": _bucket_for("audit"), "data_event_buckets": "access_logs"},
        "'data_event_buckets' must not include the access-log bucket of the trail's bucket "
        "(each log delivery would log itself). Received: 'S/Shared/Storage/AccessLogs'",
    ),
    ({"data_event_buckets": "twice"}, "'data_event_buckets' must not repeat a bucket"),
    # By name too: a reference to the trail's bucket was another object, and the trail logged
    # the data events of its own bucket, each delivery logging itself.
    (
        {
            "bucket_props": {"bucket_name": "my-audit-logs-444444444444"},
            "data_event_buckets": lambda s: [
                s3.Bucket.from_bucket_name(s, "Same", "my-audit-logs-444444444444")
            ],
        },
        "'data_event_buckets' must not include the trail's own bucket (each delivery would log "
        "itself). Received: 'S/Same (my-audit-logs-444444444444)'",
    ),
    (
        {
            "central_bucket": CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account=WORKLOAD),
            "data_event_buckets": lambda s: [
                s3.Bucket.from_bucket_arn(s, "Central", f"arn:aws:s3:::{CENTRAL_BUCKET}")
            ],
        },
        "'data_event_buckets' must not include the trail's own bucket (each delivery would log "
        f"itself). Received: 'S/Central ({CENTRAL_BUCKET})'",
    ),
    (
        {
            "data_event_buckets": lambda s: [
                s3.Bucket.from_bucket_name(s, "Data", "app-data-444444444444"),
                s3.Bucket(s, "Named", bucket_name="app-data-444444444444"),
            ]
        },
        "'data_event_buckets' must not repeat a bucket. Received: 'S/Named "
        "(app-data-444444444444)'",
    ),
    ({"data_event_buckets": ["arn:aws:s3:::data"]}, "'data_event_buckets' must hold aws_s3"),
    # The key this construct makes: was refused naming 'alias', a prop AuditTrail does not have.
    ({"key_alias": "audit"}, "'key_alias' must start with 'alias/'. Received: 'audit'"),
    # Wrong types: were a ValueError, a TypeError ("'Bucket' object is not iterable"), a string
    # read one character at a time ("Received: 'a'"), or a jsii error from the log group.
    (
        {"bucket_props": ["bucket_name"]},
        "'bucket_props' must be a mapping of AuditBucket props (access_log_retention_days, "
        "bucket_name, noncurrent_version_retention_days, object_lock, removal_policy, "
        "replication). Received: ['bucket_name']",
    ),
    (
        {"data_event_buckets": "arn:aws:s3:::data"},
        "'data_event_buckets' must be a list or tuple of aws_s3.IBucket or EncryptedBucket "
        "values. Received: 'arn:aws:s3:::data'",
    ),
    (
        {"removal_policy": "retain"},
        "'removal_policy' must be an aws_cdk.RemovalPolicy. Received: 'retain'",
    ),
    (
        {"removal_policy": cdk.RemovalPolicy.SNAPSHOT},
        "'removal_policy' must not be RemovalPolicy.SNAPSHOT: CloudFormation cannot snapshot a "
        "log group",
    ),
    (
        {"bucket_props": {"encryption_key": "k", "sources": []}},
        "'bucket_props' may only set access_log_retention_days, bucket_name, "
        "noncurrent_version_retention_days, object_lock, removal_policy, replication. "
        "Received: ['encryption_key', 'sources']",
    ),
    # The bucket's errors named the inner prop: 'removal_policy' read as the trail's own (the
    # log group's), which was fine.
    (
        {"bucket_props": {"removal_policy": cdk.RemovalPolicy.SNAPSHOT}},
        """'bucket_props["removal_policy"]' must not be RemovalPolicy.SNAPSHOT (CloudFormation """
        "cannot snapshot an S3 bucket). Received: RemovalPolicy.SNAPSHOT",
    ),
    (
        {"bucket_props": {"noncurrent_version_retention_days": 0}},
        """'bucket_props["noncurrent_version_retention_days"]' must be a whole number of days, """
        "at least 1. Received: 0",
    ),
    (
        {"bucket_props": {"object_lock": "GOVERNANCE"}},
        """'bucket_props["object_lock"]' must be a BucketObjectLock. Received: 'GOVERNANCE'""",
    ),
    (
        {"bucket_props": {"bucket_name": "Audit_Logs"}},
        """'bucket_props["bucket_name"]' must be 3-63 lowercase letters""",
    ),
    (
        {
            "bucket_props": {
                "replication": BucketReplication(
                    bucket_name=DR_BUCKET, encryption_key_arn=DR_KEY_ARN, region="eu-west-1"
                )
            }
        },
        """'bucket_props["replication"].region' must be another Region than the source """
        "bucket's (eu-west-1). Received: 'eu-west-1'",
    ),
]


@pytest.mark.parametrize(("props", "message"), CASES)
def test_bad_props_name_the_prop_and_value(props: dict[str, Any], message: str) -> None:
    stack = _stack()
    kwargs = {"trail_name": "audit", **props}
    for name in ("encryption_key", "bucket", "data_event_buckets"):
        if callable(kwargs.get(name)):
            kwargs[name] = kwargs[name](stack)
    if kwargs.get("data_event_buckets") == "own":
        kwargs["data_event_buckets"] = [kwargs["bucket"].bucket]
    elif kwargs.get("data_event_buckets") == "access_logs":
        kwargs["data_event_buckets"] = [kwargs["bucket"].access_log_bucket]
    elif kwargs.get("data_event_buckets") == "twice":
        data = EncryptedBucket(stack, "Data", encryption_key=_key(stack))
        kwargs["data_event_buckets"] = [data, data.bucket]
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(stack, "Audit", **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: TrailSource(account="12", trail_name="t-1", region="eu-west-1"),
            "'sources.account' must be a 12-digit AWS account ID. Received: '12'",
        ),
        (
            lambda: TrailSource(account=SECURITY, trail_name="t", region="eu-west-1"),
            "'sources.trail_name' must be 3-128 letters",
        ),
        (
            lambda: TrailSource(account=SECURITY, trail_name="10.0.0.1", region="eu-west-1"),
            "'sources.trail_name' must not be formatted as an IP address",
        ),
        # A trailing newline (a value read from a file) passed "$"; CloudTrail refuses it.
        (
            lambda: TrailSource(account=SECURITY, trail_name="trail\n", region="eu-west-1"),
            "'sources.trail_name' must be 3-128 letters",
        ),
        (
            lambda: TrailSource(
                account=SECURITY,
                trail_name="trail",
                region="eu-west-1",
                organization_id=f"{ORGANIZATION_ID}\n",
            ),
            "'sources.organization_id' must be an AWS Organizations organization ID, o- and 10-32",
        ),
        (
            lambda: CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account=SECURITY + "\n"),
            "'central_bucket.account' must be a 12-digit AWS account ID",
        ),
        (
            lambda: CentralAuditBucket(
                bucket_name=CENTRAL_BUCKET, account=SECURITY, s3_key_prefix="logs\n"
            ),
            "'central_bucket.s3_key_prefix' must be an S3 key prefix without leading or trailing",
        ),
        (
            lambda: TrailSource(account=SECURITY, trail_name="trail", region="moon"),
            "'sources.region' must be an AWS Region name",
        ),
        (
            lambda: TrailSource(
                account=SECURITY, trail_name="trail", region="eu-west-1", organization_id="o-1"
            ),
            "'sources.organization_id' must be an AWS Organizations organization ID, o- and 10-32",
        ),
        (
            lambda: CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account="1"),
            "'central_bucket.account' must be a 12-digit AWS account ID",
        ),
        # CloudTrail refuses the trail at deploy (InvalidS3BucketNameException).
        (
            lambda: CentralAuditBucket(bucket_name="Kmskit_Audit", account=SECURITY),
            "'central_bucket.bucket_name' must be 3-63 lowercase letters, digits, '.' or '-', "
            "starting and ending with a letter or digit. Received: 'Kmskit_Audit'",
        ),
        (
            lambda: CentralAuditBucket(bucket_name="audit-logs--ol-s3", account=SECURITY),
            "'central_bucket.bucket_name' must not end with '--ol-s3', which S3 reserves",
        ),
        (
            lambda: AuditBucket(_stack(), "B", encryption_key=_key(_stack()), sources=[]),
            "'sources' must name at least one trail",
        ),
        # One source, not in a list: was a TypeError ("'TrailSource' object is not iterable").
        (
            lambda: AuditBucket(
                _stack(),
                "B",
                encryption_key=_key(_stack()),
                sources=TrailSource(account=SECURITY, trail_name="trail", region="eu-west-1"),
            ),
            "'sources' must be a list or tuple of TrailSource. Received: TrailSource(account=",
        ),
        (
            lambda: AuditBucket(
                _stack(),
                "B",
                encryption_key=CustomerManagedKey(_stack(), "K"),
                sources=[
                    TrailSource(account=SECURITY, trail_name="trail", region="eu-west-1"),
                    TrailSource(account=SECURITY, trail_name="trail", region="eu-west-1"),
                ],
            ),
            "'sources' must not repeat a trail",
        ),
    ],
)
def test_bad_sources_name_the_prop_and_value(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConstructPropError) as error:
        make()
    assert message in str(error.value)


def test_a_trail_whose_derived_name_is_no_trail_name_asks_for_trail_name() -> None:
    # The id "Default" drops out of the path: the name made from it was the stack's, 'S'.
    stack = _stack()
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(stack, "Default")
    assert str(error.value) == (
        "'trail_name' must be given: the name made from the construct path is not a valid trail "
        "name (3-128 letters, digits, '.', '_' or '-'). Received: 'S'"
    )


def test_a_trail_whose_key_alias_is_taken_names_the_trail_name() -> None:
    # Dots become dashes in the key alias: "col.x" and "col-x" make the same one. The error
    # named 'alias', a prop the user never passed.
    stack = _stack()
    AuditTrail(stack, "First", trail_name="col.x")
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(stack, "Second", trail_name="col-x")
    assert str(error.value) == (
        "'trail_name' must give a key alias (alias/audit/col-x, dots as dashes) that no other "
        "key of the account and Region has; or give key_alias. Received: 'col-x'"
    )


def test_existing_audit_bucket_is_used_as_given() -> None:
    stack = _stack()
    shared = _bucket_for("audit")(stack)
    trail = AuditTrail(stack, "Audit", trail_name="audit", bucket=shared)
    assert trail.audit_bucket is shared
    assert trail.bucket is shared.bucket
    cfn = trail.trail.node.default_child
    assert isinstance(cfn, cloudtrail.CfnTrail)
    assert cfn.s3_key_prefix == "logs"
    # Every created resource is exposed.
    assert set(trail.alarms) == set(trail.metric_filters) == set(ALARMS)
    assert trail.trail_arn.endswith(":cloudtrail:eu-west-1:111111111111:trail/audit")
    assert isinstance(trail.key, CustomerManagedKey)
    assert trail.log_group.node.id == "LogGroup"
    assert trail.logs_role.node.id == "LogsRole"
    assert trail.alarm_topic.topic is not None


def test_an_audit_bucket_of_another_region_is_refused() -> None:
    """CloudTrail user guide: "The key that you choose must be in the same region as the S3
    bucket that receives your log files"; the trail's key is in the trail's Region."""
    app = cdk.App()
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=SECURITY, region="us-east-1"))
    trail_stack = cdk.Stack(
        app,
        "Trail",
        env=cdk.Environment(account=SECURITY, region="eu-west-1"),
        cross_region_references=True,
    )
    shared = _bucket_for("audit")(central)
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared)
    assert error.value.prop == "bucket"
    assert str(error.value) == (
        "'bucket' must be in the trail's Region (eu-west-1): CloudTrail encrypts the log files "
        "with the trail's key, which must be in the bucket's Region. "
        "Received: 'Central/Shared in us-east-1'"
    )


@pytest.mark.parametrize("replicated", [False, True], ids=["plain", "replicated"])
def test_a_bucket_of_another_account_is_refused_for_central_bucket(replicated: bool) -> None:
    """It was accepted: the trail's key policy then lacked the central account's reader
    statement (central_bucket adds it), so the bucket's owner could not decrypt the log files;
    with replication, synth failed with a raw CDK error (CannotUseCrossEnvironment). The advice
    names the bucket's prefix, and says that a generated name cannot be given."""
    app = cdk.App()
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=SECURITY, region="eu-west-1"))
    trail_stack = cdk.Stack(app, "Trail", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))
    shared = (
        _replicating_bucket(central, _key(central)) if replicated else _bucket_for("audit")(central)
    )
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared)
    assert error.value.prop == "bucket"
    prefix = "" if replicated else ", s3_key_prefix='logs'"
    assert str(error.value) == (
        f"'bucket' must be an AuditBucket of the trail's account ({WORKLOAD}): for a bucket of "
        f"another account add TrailSource(account='{WORKLOAD}', trail_name='audit', "
        "region='eu-west-1') to that AuditBucket's sources (its policy lets only the trails "
        "listed there write; CloudTrail refuses a bucket it may not write to), then "
        "give the AuditBucket a bucket_name (CloudTrail is given the bucket's "
        "name, and a name CloudFormation generates cannot be written in another account's "
        "stack), then central_bucket=CentralAuditBucket(bucket_name='<its name>', "
        f"account='{SECURITY}'{prefix}), which lets that account read the trail's log files. "
        f"Received: 'Central/Shared in {SECURITY}'"
    )


def _named_bucket(stack: cdk.Stack, trail_account: str, prefix: str | None = None) -> AuditBucket:
    """An AuditBucket named CENTRAL_BUCKET for the trail "audit" of ``trail_account``."""
    return AuditBucket(
        stack,
        "Shared",
        encryption_key=_key(stack),
        bucket_name=CENTRAL_BUCKET,
        sources=[TrailSource(account=trail_account, trail_name="audit", region="eu-west-1")],
        s3_key_prefix=prefix,
    )


def _central_and_trail_stacks() -> tuple[cdk.Stack, cdk.Stack]:
    app = cdk.App()
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=SECURITY, region="eu-west-1"))
    trail_stack = cdk.Stack(app, "Trail", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))
    return central, trail_stack


def test_the_central_bucket_advice_as_written_delivers_under_the_buckets_prefix() -> None:
    """The advice read central_bucket=CentralAuditBucket(bucket_name=..., account=...):
    followed as written, the trail had no S3KeyPrefix while the central bucket lets CloudTrail
    write under its own prefix only, so CreateTrail failed at deploy."""
    central, trail_stack = _central_and_trail_stacks()
    shared = _named_bucket(central, WORKLOAD, "logs")
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared)
    # Followed as written: the call is read from the message, not written again here.
    match = re.search(
        r"give (central_bucket=CentralAuditBucket\(.*?\)), which lets", str(error.value)
    )
    assert match is not None, str(error.value)
    call = ast.parse(match.group(1).split("=", 1)[1], mode="eval").body
    assert isinstance(call, ast.Call)
    assert not call.args
    followed = CentralAuditBucket(
        **{k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg is not None}
    )
    _, trail_stack = _central_and_trail_stacks()
    trail = AuditTrail(trail_stack, "Audit", trail_name="audit", central_bucket=followed)
    # The trail writes where the central bucket's policy lets it.
    cfn = trail.trail.node.default_child
    assert isinstance(cfn, cloudtrail.CfnTrail)
    assert cfn.s3_key_prefix == shared.s3_key_prefix == "logs"
    assert cfn.s3_bucket_name == CENTRAL_BUCKET


def test_a_bucket_of_another_account_and_region_gets_no_central_bucket_advice() -> None:
    """The other-account refusal advised central_bucket for a bucket in another Region too,
    where no central bucket works (the trail's key must be in the bucket's Region)."""
    app = cdk.App()
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=SECURITY, region="us-east-1"))
    trail_stack = cdk.Stack(app, "Trail", env=cdk.Environment(account=WORKLOAD, region="eu-west-1"))
    shared = _named_bucket(central, WORKLOAD, "logs")
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared)
    assert str(error.value) == (
        "'bucket' must be in the trail's Region (eu-west-1): CloudTrail encrypts the log files "
        "with the trail's key, which must be in the bucket's Region. "
        "Received: 'Central/Shared in us-east-1'"
    )


def test_a_bucket_of_another_account_that_does_not_list_the_trail_says_what_to_add() -> None:
    """The central_bucket advice alone, followed, failed CreateTrail at deploy: the central
    bucket's policy lets only the trails of its sources write. The source to add is named."""
    central, trail_stack = _central_and_trail_stacks()
    shared = _named_bucket(central, SECURITY, "logs")  # lists "audit" of another account
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared)
    assert str(error.value) == (
        f"'bucket' must be an AuditBucket of the trail's account ({WORKLOAD}): for a bucket of "
        f"another account add TrailSource(account='{WORKLOAD}', trail_name='audit', "
        "region='eu-west-1') to that AuditBucket's sources (its policy lets only the trails "
        "listed there write; CloudTrail refuses a bucket it may not write to), then give "
        f"central_bucket=CentralAuditBucket(bucket_name='{CENTRAL_BUCKET}', "
        f"account='{SECURITY}', s3_key_prefix='logs'), which lets that account read the "
        f"trail's log files. Received: 'Central/Shared in {SECURITY}'"
    )


def test_a_bucket_that_is_no_audit_bucket_is_refused_pointing_to_central_bucket() -> None:
    """An imported bucket (of another account, say) was refused as "must be an AuditBucket"
    only, without the way to deliver to another account's bucket."""
    stack = _stack()
    imported = s3.Bucket.from_bucket_name(stack, "Central", CENTRAL_BUCKET)
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(stack, "Audit", trail_name="audit", bucket=imported)
    assert str(error.value) == (
        "'bucket' must be an AuditBucket (it carries the CloudTrail bucket policy); for a "
        "bucket of another account, an AuditBucket made there that lists this trail, give "
        f"central_bucket=CentralAuditBucket(bucket_name='{CENTRAL_BUCKET}', "
        "account='<its account>', s3_key_prefix='<its s3_key_prefix>') (its s3_key_prefix left "
        "out only if it has none). Received: 'S/Central'"
    )


def _stacks_one_agnostic(agnostic: str) -> tuple[cdk.Stack, cdk.Stack]:
    """The bucket's stack and the trail's, of one account and Region but ``agnostic`` ("trail"
    or "bucket") environment-agnostic."""
    app = cdk.App()
    known = cdk.Environment(account=SECURITY, region="eu-west-1")
    central = cdk.Stack(app, "Central", env=None if agnostic == "bucket" else known)
    trail_stack = cdk.Stack(app, "Trail", env=None if agnostic == "trail" else known)
    return central, trail_stack


@pytest.mark.parametrize("agnostic", ["trail", "bucket"])
def test_an_environment_agnostic_stack_may_take_a_named_bucket_of_any_stack(agnostic: str) -> None:
    """Only two known accounts that differ are refused: either side a token is left to deploy.
    The bucket is named from the other environment by its literal name."""
    central, trail_stack = _stacks_one_agnostic(agnostic)
    shared = _named_bucket(central, SECURITY)
    trail = AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared)
    assert trail.audit_bucket is shared
    # Synthesized (the whole App): CDK names the bucket of the other environment by its name.
    resources = Template.from_stack(trail_stack).to_json()["Resources"]
    (cfn_trail,) = [r for r in resources.values() if r["Type"] == "AWS::CloudTrail::Trail"]
    assert cfn_trail["Properties"]["S3BucketName"] == CENTRAL_BUCKET


@pytest.mark.parametrize("agnostic", ["trail", "bucket"])
@pytest.mark.parametrize("replicated", [False, True], ids=["generated-name", "replicated"])
def test_a_bucket_of_another_environment_that_cdk_cannot_name_is_refused(
    agnostic: str, replicated: bool
) -> None:
    """Synth failed with CDK's raw CannotUseCrossEnvironment (a test said such a trail was
    accepted, and never synthesized it): the trail names the bucket by a name CloudFormation
    generates, or a replicating bucket's role, from a stack of another environment."""
    central, trail_stack = _stacks_one_agnostic(agnostic)
    shared = (
        _replicating_bucket(central, _key(central)) if replicated else _bucket_for("audit")(central)
    )
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared)
    requirement = (
        "must be in the trail's environment: the trail lets the bucket's replication role read "
        "its log files, and CDK cannot name that role from a stack of another environment. Put "
        "both stacks in one environment"
        if replicated
        else "must have a literal bucket_name when its stack is of another environment than the "
        "trail's: CDK names a bucket of another environment only by a name given in code. Give "
        "the AuditBucket a bucket_name, or put both stacks in one environment"
    )
    trail_env, bucket_env = "environment-agnostic", "111111111111/eu-west-1"
    if agnostic == "bucket":
        trail_env, bucket_env = bucket_env, trail_env
    assert str(error.value) == (
        f"'bucket' {requirement} (the same account and Region, both given or both left out; the "
        f"trail's: {trail_env}). Received: 'Central/Shared in {bucket_env}'"
    )


@pytest.mark.parametrize("agnostic", ["trail", "bucket"])
@pytest.mark.parametrize("replicated", [False, True], ids=["plain", "replicated"])
def test_a_key_shared_with_a_bucket_of_a_stack_without_region_is_refused(
    agnostic: str, replicated: bool
) -> None:
    """Documented as working (a replicating bucket under the trail's key), synth failed with
    CDK's raw CrossRegionReferencesRequireExplicitRegion: the key is referenced from one stack
    in the other, which CDK does only between stacks that both give a Region."""
    central, trail_stack = _stacks_one_agnostic(agnostic)
    shared = (
        _replicating_bucket(central, _key(central))
        if replicated
        else _named_bucket(central, SECURITY)
    )
    key = shared.encrypted_bucket.encryption_key  # the bucket's key, Central/K
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared, encryption_key=key)
    trail_env, bucket_env = "environment-agnostic", "111111111111/eu-west-1"
    if agnostic == "bucket":
        trail_env, bucket_env = bucket_env, trail_env
    assert str(error.value) == (
        "'encryption_key' must not be the key of a bucket whose stack is of another environment "
        "than the trail's when either stack has no Region: CDK references the key from one "
        "stack in the other only between stacks that both give a Region. Give both stacks the "
        "same Region, or give the trail and the bucket a key each (the trail's stack Trail: "
        f"{trail_env}; the bucket's stack Central: {bucket_env}). Received: 'Central/K'"
    )


def test_a_key_shared_with_a_replicating_bucket_of_the_same_region_synthesizes() -> None:
    """What docs/audit.md now promises: the same Region given on both sides (one stack's
    account left to deploy), a replicating bucket under the trail's key is accepted."""
    app = cdk.App()
    central = cdk.Stack(app, "Central", env=cdk.Environment(account=SECURITY, region="eu-west-1"))
    trail_stack = cdk.Stack(app, "Trail", env=cdk.Environment(region="eu-west-1"))
    key = _key(central)
    shared = _replicating_bucket(central, key, CENTRAL_BUCKET)
    AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared, encryption_key=key)
    resources = Template.from_stack(trail_stack).to_json()["Resources"]
    assert [r for r in resources.values() if r["Type"] == "AWS::CloudTrail::Trail"]


def test_trail_takes_the_given_buckets_prefix_or_none() -> None:
    """Left out (or repeated), the prefix is the bucket's, even when the bucket has none."""
    for given in (None, "logs"):
        stack = _stack()
        trail = AuditTrail(
            stack,
            "Audit",
            trail_name="audit",
            bucket=_bucket_for("audit")(stack),
            s3_key_prefix=given,
        )
        cfn = trail.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        assert cfn.s3_key_prefix == "logs"
    stack = _stack()
    trail = AuditTrail(
        stack, "Audit", trail_name="audit", bucket=_bucket_for("audit", prefix=None)(stack)
    )
    cfn = trail.trail.node.default_child
    assert isinstance(cfn, cloudtrail.CfnTrail)
    assert cfn.s3_key_prefix is None


def _replicating_bucket(
    stack: cdk.Stack, key: CustomerManagedKey, bucket_name: str | None = None
) -> AuditBucket:
    """An AuditBucket under ``key`` replicating to DR_BUCKET, named ``bucket_name`` (default:
    generated)."""
    return AuditBucket(
        stack,
        "Shared",
        encryption_key=key,
        bucket_name=bucket_name,
        sources=[TrailSource(account=SECURITY, trail_name="audit", region="eu-west-1")],
        replication=BucketReplication(
            bucket_name=DR_BUCKET,
            encryption_key_arn=DR_KEY_ARN.replace(WORKLOAD, SECURITY),
            region=DR_REGION,
        ),
    )


def _decrypt_statements(bucket: AuditBucket) -> dict[str, Any]:
    policy = bucket.encrypted_bucket.replication_policy
    assert policy is not None
    document = Stack.of(policy).resolve(policy.document)
    return {
        s["Sid"]: s for s in document["Statement"] if s["Sid"].startswith("DecryptSourceObjects")
    }


def test_a_replicating_bucket_may_decrypt_the_log_files_of_a_trail_with_its_own_key() -> None:
    # CloudTrail writes log files under the trail's key; S3 replicates an SSE-KMS object only
    # when the replication role may decrypt it (S3 user guide, replicating encrypted objects).
    stack = _stack()
    shared = _replicating_bucket(stack, _key(stack))
    trail_key = CustomerManagedKey(stack, "TrailKey")
    AuditTrail(stack, "Audit", trail_name="audit", bucket=shared, encryption_key=trail_key)
    statements = _decrypt_statements(shared)
    assert sorted(statements) == ["DecryptSourceObjects", "DecryptSourceObjects2"]
    extra = statements["DecryptSourceObjects2"]
    assert extra["Resource"] == stack.resolve(trail_key.key_arn)
    assert extra["Action"] == "kms:Decrypt"
    assert extra["Condition"] == statements["DecryptSourceObjects"]["Condition"]


def test_a_trail_with_the_buckets_key_adds_no_decrypt_statement() -> None:
    stack = _stack()
    key = _key(stack)
    shared = _replicating_bucket(stack, key)
    AuditTrail(stack, "Audit", trail_name="audit", bucket=shared, encryption_key=key)
    shared.encrypted_bucket.allow_replication_of_objects_under(key.key)
    assert sorted(_decrypt_statements(shared)) == ["DecryptSourceObjects"]


def test_a_custom_trail_key_policy_names_the_replication_role() -> None:
    stack = _stack()
    shared = _replicating_bucket(stack, _key(stack))
    trail_key = custom_policy_key(stack, "TrailKey", account=SECURITY)
    AuditTrail(stack, "Audit", trail_name="audit", bucket=shared, encryption_key=trail_key)
    role = shared.encrypted_bucket.replication_role
    assert role is not None
    named = [
        s
        for s in stack.resolve(trail_key.policy_document)["Statement"]
        if s.get("Principal") == {"AWS": stack.resolve(role.role_arn)}
    ]
    assert [(s["Action"], s["Condition"]) for s in named] == [
        ("kms:Decrypt", _decrypt_statements(shared)["DecryptSourceObjects2"]["Condition"])
    ]


def test_a_replicating_bucket_of_another_stack_may_decrypt_the_trails_log_files() -> None:
    # A bucket stack shared by trail stacks (valid on AWS): the permission is a managed policy in
    # the trail's stack, attached to the replication role, and the custom key policy there names
    # the role; only the trail's stack depends on the bucket's.
    app = cdk.App()
    env = cdk.Environment(account=SECURITY, region="eu-west-1")
    bucket_stack = cdk.Stack(app, "Buckets", env=env)
    shared = _replicating_bucket(bucket_stack, _key(bucket_stack))
    trail_stack = cdk.Stack(app, "Trails", env=env)
    trail_key = custom_policy_key(trail_stack, "TrailKey", account=SECURITY)
    AuditTrail(trail_stack, "Audit", trail_name="audit", bucket=shared, encryption_key=trail_key)
    assert sorted(_decrypt_statements(shared)) == ["DecryptSourceObjects"]
    app.synth()
    assert bucket_stack.dependencies == []
    assert [s.node.path for s in trail_stack.dependencies] == ["Buckets"]
    template = Template.from_stack(trail_stack).to_json()["Resources"]
    (statement,) = [
        s
        for r in template.values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid", "").startswith("DecryptSourceObjects")
    ]
    assert statement["Action"] == "kms:Decrypt"
    assert statement["Resource"] == trail_stack.resolve(trail_key.key_arn)
    condition = statement["Condition"]["StringLike"]
    assert condition["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"
    assert len(condition["kms:EncryptionContext:aws:s3:arn"]) == 2
    key_id = statement["Resource"]["Fn::GetAtt"][0]
    named = [
        s
        for s in template[key_id]["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid", "").startswith("AllowS3ReplicationToDecrypt")
    ]
    assert [(s["Action"], s["Condition"]) for s in named] == [
        ("kms:Decrypt", statement["Condition"])
    ]


def test_a_custom_trail_key_of_another_stack_is_refused_for_a_replicating_bucket() -> None:
    # The trail key's policy would have to name the bucket stack's replication role, and that
    # stack already names the key (the trail's KMSKeyId): a DependencyCycle without this error.
    app = cdk.App()
    env = cdk.Environment(account=SECURITY, region="eu-west-1")
    trail_key = custom_policy_key(cdk.Stack(app, "Keys", env=env), "TrailKey", account=SECURITY)
    audit = cdk.Stack(app, "Audit", env=env)
    shared = _replicating_bucket(audit, _key(audit))
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(audit, "Audit", trail_name="audit", bucket=shared, encryption_key=trail_key)
    assert str(error.value).startswith(
        "'encryption_key' must be in the bucket's stack (Audit) when its key policy does not "
        "delegate to IAM (KeyPolicy.custom)"
    )
    assert str(error.value).endswith("Received: 'Keys/TrailKey in stack Keys'")
    # Nothing was added for it before the error.
    assert sorted(_decrypt_statements(shared)) == ["DecryptSourceObjects"]


def test_a_custom_trail_key_of_a_third_stack_is_refused_for_a_bucket_of_another_stack() -> None:
    # Its policy would make the key's stack depend on the bucket's, which usually depends on it.
    app = cdk.App()
    env = cdk.Environment(account=SECURITY, region="eu-west-1")
    trail_key = custom_policy_key(cdk.Stack(app, "Keys", env=env), "TrailKey", account=SECURITY)
    bucket_stack = cdk.Stack(app, "Buckets", env=env)
    shared = _replicating_bucket(bucket_stack, _key(bucket_stack))
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(
            cdk.Stack(app, "Trails", env=env),
            "Audit",
            trail_name="audit",
            bucket=shared,
            encryption_key=trail_key,
        )
    assert str(error.value).startswith(
        "'encryption_key' must be in the bucket's stack (Buckets) or the stack that uses it "
        "(Trails) when its key policy does not delegate to IAM"
    )
    assert str(error.value).endswith("Received: 'Keys/TrailKey in stack Keys'")


def _workload_trails(count: int) -> list[TrailSource]:
    return [
        TrailSource(account=f"2{index:011d}", trail_name=f"workload{index:03d}", region="eu-west-1")
        for index in range(count)
    ]


def _audit_bucket_policy(stack: cdk.Stack) -> dict[str, Any]:
    (policy,) = [
        policy
        for logical_id, policy in Template.from_stack(stack)
        .find_resources("AWS::S3::BucketPolicy")
        .items()
        if logical_id.startswith("BStorageBucketPolicy")
    ]
    return dict(policy)


def _cloudtrail_statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        statement["Sid"]: statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid", "").startswith("AllowCloudTrail")
    }


def test_a_few_trails_each_write_only_to_their_own_folder() -> None:
    stack = _stack()
    AuditBucket(stack, "B", encryption_key=_key(stack), sources=_workload_trails(3))
    statements = _cloudtrail_statements(_audit_bucket_policy(stack))
    assert sorted(statements) == [
        "AllowCloudTrailAclCheck",
        "AllowCloudTrailWrite1",
        "AllowCloudTrailWrite2",
        "AllowCloudTrailWrite3",
    ]
    write = statements["AllowCloudTrailWrite2"]
    assert deployed(write["Condition"]["StringEquals"]["aws:SourceArn"]) == (
        "arn:aws:cloudtrail:eu-west-1:200000000001:trail/workload001"
    )
    assert write["Resource"]["Fn::Join"][1][1] == "/AWSLogs/200000000001/*"


def test_many_trails_share_one_write_statement_within_the_bucket_policy_quota() -> None:
    # 75 per-trail statements would take about 36,000 characters; S3 takes 20,480.
    stack = _stack()
    trails = _workload_trails(75)
    AuditBucket(stack, "B", encryption_key=_key(stack), sources=trails)
    policy = _audit_bucket_policy(stack)
    statements = _cloudtrail_statements(policy)
    assert sorted(statements) == ["AllowCloudTrailAclCheck", "AllowCloudTrailWrite"]
    arns = [trail.trail_arn("aws") for trail in trails]
    write = statements["AllowCloudTrailWrite"]
    assert deployed(write["Condition"]["StringEquals"]) == {
        "s3:x-amz-acl": "bucket-owner-full-control",
        "aws:SourceArn": arns,
    }
    assert write["Resource"]["Fn::Join"][1][1] == "/AWSLogs/*"
    assert deployed(statements["AllowCloudTrailAclCheck"]["Condition"]["StringEquals"]) == {
        "aws:SourceArn": arns
    }
    assert oversized_policies({"Resources": {"Policy": policy}}) == []


def test_too_many_trails_for_one_bucket_policy_are_refused() -> None:
    stack = _stack()
    with pytest.raises(ConstructPropError) as error:
        AuditBucket(stack, "B", encryption_key=_key(stack), sources=_workload_trails(150))
    assert str(error.value).startswith(
        "'sources' must fit CloudTrail's statements in S3's bucket policy quota: 150 trails need "
        "about "
    )
    assert str(error.value).endswith(
        "(deliver through an organization trail, TrailSource.organization_id). "
        "Received: '150 trails'"
    )


def test_a_trail_name_is_taken_once_per_account_and_region() -> None:
    app = cdk.App()
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    AuditTrail(cdk.Stack(app, "One", env=env), "Trail", trail_name="audit")
    AuditTrail(
        cdk.Stack(
            app, "Elsewhere", env=cdk.Environment(account="111111111111", region="us-east-1")
        ),
        "Trail",
        trail_name="audit",
    )
    with pytest.raises(ConstructPropError) as error:
        AuditTrail(cdk.Stack(app, "Two", env=env), "Trail", trail_name="audit")
    assert str(error.value) == (
        "'trail_name' must be unique within account 111111111111 in eu-west-1 (the trail and "
        "its log group /aws/cloudtrail/audit bear it): One/Trail already has it. "
        "Received: 'audit'"
    )
