"""KmsRequestQuotaAlarm: AWS/Usage CallCount against SERVICE_QUOTA, published to an AlarmTopic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import botocore.loaders
import pytest
from aws_cdk.assertions import Match, Template

from constructs_lib import AlarmTopic, ConstructPropError, CustomerManagedKey, KmsRequestQuotaAlarm
from constructs_lib.quota_alarm import REQUEST_QUOTA_OPERATIONS, SHARED_QUOTA_OPERATIONS
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
STACK = "KeysShowcase"


def usage_metric(resource: str = "CryptographicOperationsSymmetric") -> dict[str, Any]:
    return {
        "Id": "calls",
        "MetricStat": {
            "Metric": {
                "Dimensions": [
                    {"Name": "Class", "Value": "None"},
                    {"Name": "Resource", "Value": resource},
                    {"Name": "Service", "Value": "KMS"},
                    {"Name": "Type", "Value": "API"},
                ],
                "MetricName": "CallCount",
                "Namespace": "AWS/Usage",
            },
            "Period": 60,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def test_alarm_compares_request_rate_with_the_service_quota(synthesized: Synth) -> None:
    result = synthesized("keys_showcase")
    template = result.template(STACK)
    (topic,) = [n for n, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    result.assertions(STACK).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 75,
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": topic}],
            "OKActions": [{"Ref": topic}],
            "Metrics": [
                {
                    "Expression": "100 * (calls / PERIOD(calls)) / SERVICE_QUOTA(calls)",
                    "Id": "expr_1",
                    "Label": "KMS CryptographicOperationsSymmetric requests, % of quota",
                    "ReturnData": True,
                },
                usage_metric(),
            ],
        },
    )


def test_alarm_topic_is_encrypted_with_the_given_key_and_tls_only(synthesized: Synth) -> None:
    result = synthesized("keys_showcase")
    template = result.template(STACK)
    (shared_key,) = [n for n in template["Resources"] if n.startswith("SharedKey")]
    assertions = result.assertions(STACK)
    assertions.has_resource_properties(
        "AWS::SNS::Topic",
        {"KmsMasterKeyId": {"Fn::GetAtt": [shared_key, "Arn"]}},
    )
    assertions.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sns:Publish",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        ),
                        Match.object_like(
                            {
                                "Sid": "AllowCloudwatchPublish",
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": "111111111111"},
                                    # Only alarms of this account and Region publish.
                                    "ArnLike": {
                                        "aws:SourceArn": (
                                            "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:*"
                                        )
                                    },
                                },
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_defaults_and_an_existing_topic() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    topic = AlarmTopic(stack, "Alarms", encryption_key=CustomerManagedKey(stack, "K"))
    alarm = KmsRequestQuotaAlarm(
        stack, "Rsa", alarm_topic=topic, resource="CryptographicOperationsRsa"
    )
    assert alarm.topic is topic
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": 80,
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "Metrics": Match.array_with([usage_metric("CryptographicOperationsRsa")]),
        },
    )


def test_longest_evaluation_windows_cloudwatch_accepts() -> None:
    # PutMetricAlarm: period x evaluation periods at most one day under an hour, else 7 days.
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    key = CustomerManagedKey(stack, "K")
    KmsRequestQuotaAlarm(stack, "Day", encryption_key=key, evaluation_periods=1440)
    KmsRequestQuotaAlarm(
        stack,
        "Week",
        encryption_key=key,
        period=cdk.Duration.hours(1),
        evaluation_periods=168,
    )
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"EvaluationPeriods": 1440})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"EvaluationPeriods": 168})


QUOTA_TOKEN = cdk.Fn.import_value("QuotaMinutes")


@pytest.mark.parametrize(
    ("props", "message"),
    [
        # A trailing newline passed "$" in the Resource pattern; CloudWatch has no such Resource.
        (
            {"resource": "CryptographicOperationsSymmetric\n"},
            "'resource' must be an AWS/Usage Resource of KMS: one of the shared quotas "
            "CryptographicOperationsSymmetric, CryptographicOperationsRsa, "
            "CryptographicOperationsEcc, or a KMS API operation with a quota of its own "
            "(CancelKeyDeletion, ConnectCustomKeyStore, ",
        ),
        # Was accepted: no data under that Resource, so the alarm (NOT_BREACHING) never fired.
        (
            {"resource": "CryptographicOperationSymmetric"},
            ", DescribeKey, ",
        ),
        (
            {"resource": "CryptographicOperationSymmetric"},
            "UpdatePrimaryRegion). Received: 'CryptographicOperationSymmetric'",
        ),
        # Were accepted: no quota of their own, so SERVICE_QUOTA() had none and the alarm never
        # fired.
        (
            {"resource": "Decrypt"},
            "'resource' must be a Resource with a quota of its own: 'Decrypt' counts against "
            "CryptographicOperationsSymmetric (CryptographicOperationsRsa with RSA keys), a shared "
            "quota; give that instead. Received: 'Decrypt'",
        ),
        (
            {"resource": "GenerateDataKey"},
            "'resource' must be a Resource with a quota of its own: 'GenerateDataKey' counts "
            "against CryptographicOperationsSymmetric, a shared quota; give that instead. "
            "Received: 'GenerateDataKey'",
        ),
        (
            {"resource": "Sign"},
            "'resource' must be a Resource with a quota of its own: 'Sign' counts against "
            "CryptographicOperationsRsa or CryptographicOperationsEcc (by the key's type), a "
            "shared quota; give that instead. Received: 'Sign'",
        ),
        (
            {"resource": "GenerateDataKeyPair"},
            "UpdatePrimaryRegion). Received: 'GenerateDataKeyPair'",
        ),
        # Was a raw jsii MustBeDurationSpecifiedDuration error.
        (
            {"period": cdk.Duration.minutes(cdk.Token.as_number(QUOTA_TOKEN))},
            "'period' must be a literal duration (not a deploy-time value). "
            f"Received: 'Duration.minutes({QUOTA_TOKEN})'",
        ),
        # Was "must be a whole number of minutes", showing '<token> seconds'.
        (
            {"period": cdk.Duration.seconds(cdk.Token.as_number(QUOTA_TOKEN))},
            "'period' must be a literal duration (not a deploy-time value). "
            f"Received: 'Duration.seconds({QUOTA_TOKEN})'",
        ),
        (
            {"period": cdk.Token.as_number(QUOTA_TOKEN)},
            f"'period' must be a Duration. Received: '{QUOTA_TOKEN}'",
        ),
        # The three numbers showed the number encoding the token (-1.8881545897087e+289).
        (
            {"threshold_percent": cdk.Token.as_number(QUOTA_TOKEN)},
            "'threshold_percent' must be a percentage of the quota, more than 0 and at most 100. "
            f"Received: '{QUOTA_TOKEN}'",
        ),
        (
            {"evaluation_periods": cdk.Token.as_number(QUOTA_TOKEN)},
            f"'evaluation_periods' must be a whole number of at least 1. Received: '{QUOTA_TOKEN}'",
        ),
        (
            {"datapoints_to_alarm": cdk.Token.as_number(QUOTA_TOKEN)},
            f"'datapoints_to_alarm' must be 1-5 (evaluation_periods). Received: '{QUOTA_TOKEN}'",
        ),
        (
            {"threshold_percent": 101},
            "'threshold_percent' must be a percentage of the quota, more than 0 and at most 100. "
            "Received: 101",
        ),
    ],
    ids=[
        "resource-newline",
        "resource-misspelled-lists-operations",
        "resource-misspelled-named",
        "resource-shared-symmetric",
        "resource-shared-generate-data-key",
        "resource-shared-sign",
        "resource-per-key-spec-quotas",
        "period-token-minutes",
        "period-token-seconds",
        "period-number-token",
        "threshold-number-token",
        "evaluation-periods-number-token",
        "datapoints-number-token",
        "threshold-over-100",
    ],
)
def test_bad_props_name_the_prop_and_value(props: dict[str, Any], message: str) -> None:
    stack = cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    with pytest.raises(ConstructPropError) as error:
        KmsRequestQuotaAlarm(stack, "Quota", encryption_key=CustomerManagedKey(stack, "K"), **props)
    assert message in str(error.value)


def test_the_quota_lists_name_kms_operations() -> None:
    """Each listed operation is one of botocore's KMS model (a misspelling would refuse a real
    Resource); the operations of neither list are those whose quotas are per key spec
    (GenerateDataKeyPair*) or not listed in KMS's request quotas at all."""
    model = botocore.loaders.create_loader().load_service_model("kms", "service-2")
    operations = set(model["operations"])
    assert set(REQUEST_QUOTA_OPERATIONS) <= operations
    assert set(SHARED_QUOTA_OPERATIONS) <= operations
    assert not set(REQUEST_QUOTA_OPERATIONS) & set(SHARED_QUOTA_OPERATIONS)
    assert list(REQUEST_QUOTA_OPERATIONS) == sorted(REQUEST_QUOTA_OPERATIONS)


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        # Was AttributeError: 'str' object has no attribute 'node'.
        (
            lambda stack: "arn:aws:sns:eu-west-1:111111111111:alarms",
            "'alarm_topic' must be an AlarmTopic. "
            "Received: 'arn:aws:sns:eu-west-1:111111111111:alarms'",
        ),
        (
            lambda stack: (
                AlarmTopic(stack, "Alarms", encryption_key=CustomerManagedKey(stack, "T")).topic
            ),
            "'alarm_topic' must be an AlarmTopic. Received: 'S/Alarms/Topic'",
        ),
    ],
    ids=["arn-string", "sns-topic"],
)
def test_alarm_topic_that_is_not_an_alarm_topic_is_refused(
    topic: Callable[[cdk.Stack], Any], message: str
) -> None:
    stack = cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    key, value = CustomerManagedKey(stack, "K"), topic(stack)
    with pytest.raises(ConstructPropError) as error:
        KmsRequestQuotaAlarm(stack, "WithKey", alarm_topic=value, encryption_key=key)
    assert str(error.value) == message
    with pytest.raises(ConstructPropError) as error:
        KmsRequestQuotaAlarm(stack, "TopicOnly", alarm_topic=value)
    assert str(error.value) == message


def test_a_single_api_quota_is_named_as_its_operation() -> None:
    stack = cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    made = KmsRequestQuotaAlarm(
        stack, "Describe", encryption_key=CustomerManagedKey(stack, "K"), resource="DescribeKey"
    )
    assert made.utilization.label == "KMS DescribeKey requests, % of quota"


@pytest.mark.parametrize("publishers", [["events.amazonaws.com"], []], ids=["events", "none"])
def test_a_topic_cloudwatch_may_not_publish_to_is_refused(publishers: list[str]) -> None:
    # Was accepted: AlarmActions pointed at a topic whose topic and key policies let no
    # CloudWatch alarm publish, so every notification was dropped.
    stack = cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    topic = AlarmTopic(
        stack, "Events", encryption_key=CustomerManagedKey(stack, "K"), publishers=publishers
    )
    with pytest.raises(ConstructPropError) as error:
        KmsRequestQuotaAlarm(stack, "Quota", alarm_topic=topic)
    assert str(error.value) == (
        "'alarm_topic' must be an AlarmTopic that CloudWatch alarms may publish to, with "
        f"'cloudwatch.amazonaws.com' in its publishers (this topic's publishers: {publishers}): "
        "without it neither its topic policy nor its key's policy lets CloudWatch publish, and "
        "every alarm notification would be dropped. Add it to the topic's publishers, or give "
        "another topic. Received: 'S/Events'"
    )


def test_an_alarm_name_is_taken_once_per_account_and_region() -> None:
    # Was accepted: the second alarm of one name failed the deploy ("already exists").
    app = cdk.App()
    here = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    beside = cdk.Stack(app, "T", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    away = cdk.Stack(app, "U", env=cdk.Environment(account="111111111111", region="us-east-1"))
    KmsRequestQuotaAlarm(
        here, "Quota", encryption_key=CustomerManagedKey(here, "K"), alarm_name="kms-quota"
    )
    KmsRequestQuotaAlarm(
        away, "Quota", encryption_key=CustomerManagedKey(away, "K"), alarm_name="kms-quota"
    )
    with pytest.raises(ConstructPropError) as error:
        KmsRequestQuotaAlarm(
            beside, "Quota", encryption_key=CustomerManagedKey(beside, "K"), alarm_name="kms-quota"
        )
    assert str(error.value) == (
        "'alarm_name' must be unique within account 111111111111 in eu-west-1: S/Quota already "
        "names its alarm so (CloudWatch alarm names are unique in an account and Region). "
        "Received: 'kms-quota'"
    )
