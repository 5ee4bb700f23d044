"""AlarmTopic: its publishers, its key's environment, and the alarms wired to it.

The refusals build a throwaway App and never synthesize. Each consumer that takes an
``alarm_topic`` is held to the CloudWatch-publisher check in its own test module
(test_key_quota_alarm.py, test_key_material_alarm.py, test_dnssec.py).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs_lib import AlarmTopic, ConstructPropError, CustomerManagedKey, KmsRequestQuotaAlarm

ACCOUNT = "111111111111"
REGION = "eu-west-1"


def stack(app: cdk.App, name: str = "S", account: str = ACCOUNT) -> cdk.Stack:
    return cdk.Stack(app, name, env=cdk.Environment(account=account, region=REGION))


def cloudwatch_refused(path: str, publishers: list[str]) -> str:
    """The refusal of alarms wired to a topic CloudWatch may not publish to."""
    return (
        "'alarm_topic' must be an AlarmTopic that CloudWatch alarms may publish to, with "
        f"'cloudwatch.amazonaws.com' in its publishers (this topic's publishers: {publishers}): "
        "without it neither its topic policy nor its key's policy lets CloudWatch publish, and "
        "every alarm notification would be dropped. Add it to the topic's publishers, or give "
        f"another topic. Received: '{path}'"
    )


@pytest.mark.parametrize(
    ("publisher", "message"),
    [
        # Passed the endswith(".amazonaws.com") check, then failed inside
        # KeyServicePrincipal.publisher as "'service' must be ...": AlarmTopic has no 'service'.
        (
            "*.amazonaws.com",
            "'publishers' must hold service principals such as 'cloudwatch.amazonaws.com'. "
            "Received: '*.amazonaws.com'",
        ),
        (
            "cloudwatch.amazonaws.com\n",
            "'publishers' must hold service principals such as 'cloudwatch.amazonaws.com'. "
            "Received: 'cloudwatch.amazonaws.com\\n'",
        ),
        # rds.amazonaws.com is RDS itself: its event notifications publish as events.rds.
        (
            "rds.amazonaws.com",
            "'publishers' must name the principal the service publishes as: use "
            "events.rds.amazonaws.com (RDS event notifications are published by "
            "events.rds.amazonaws.com, for aws:SourceArn the RDS resource; rds.amazonaws.com "
            "never publishes to SNS or SQS). Received: 'rds.amazonaws.com'",
        ),
    ],
    ids=["wildcard", "trailing-newline", "rds-not-events-rds"],
)
def test_each_publisher_is_a_service_principal_that_publishes(publisher: str, message: str) -> None:
    here = stack(cdk.App())
    with pytest.raises(ConstructPropError) as error:
        AlarmTopic(here, "T", encryption_key=CustomerManagedKey(here, "K"), publishers=[publisher])
    assert str(error.value) == message


def test_any_regional_publisher_is_taken() -> None:
    """Every service outside the table of other ARN shapes was refused, though the regional
    aws:SourceArn default fits most (CloudTrail, SNS, Backup, ...)."""
    here = stack(cdk.App())
    topic = AlarmTopic(
        here,
        "T",
        encryption_key=CustomerManagedKey(here, "K"),
        publishers=["cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com"],
    )
    assert topic.publishers == ("cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com")


@pytest.mark.parametrize(
    ("source_arns", "message"),
    [
        (
            ["arn:aws:rds:eu-west-1:111111111111:db:*"],
            "'publisher_source_arns' must be a mapping of publisher to aws:SourceArn pattern, or "
            "None. Received: ['arn:aws:rds:eu-west-1:111111111111:db:*']",
        ),
        (
            {"events.rds.amazonaws.com": "arn:aws:rds:eu-west-1:111111111111:db:*"},
            "'publisher_source_arns' must have keys among publishers (cloudwatch.amazonaws.com, "
            "events.amazonaws.com), other than events.amazonaws.com (the KMS requests of "
            "EventBridge-to-encrypted topics carry no aws:SourceArn). "
            "Received: 'events.rds.amazonaws.com'",
        ),
        (
            {"events.amazonaws.com": "arn:aws:events:eu-west-1:111111111111:rule/*"},
            "'publisher_source_arns' must have keys among publishers (cloudwatch.amazonaws.com, "
            "events.amazonaws.com), other than events.amazonaws.com (the KMS requests of "
            "EventBridge-to-encrypted topics carry no aws:SourceArn). "
            "Received: 'events.amazonaws.com'",
        ),
        (
            {"cloudwatch.amazonaws.com": ""},
            "'publisher_source_arns' must map cloudwatch.amazonaws.com to an ARN pattern such as "
            "'arn:aws:rds:eu-west-1:111111111111:db:*'. Received: ''",
        ),
    ],
    ids=["not-a-mapping", "not-a-publisher", "eventbridge", "empty-pattern"],
)
def test_publisher_source_arns_are_checked(source_arns: Any, message: str) -> None:
    here = stack(cdk.App())
    with pytest.raises(ConstructPropError) as error:
        AlarmTopic(
            here,
            "T",
            encryption_key=CustomerManagedKey(here, "K"),
            publishers=["cloudwatch.amazonaws.com", "events.amazonaws.com"],
            publisher_source_arns=source_arns,
        )
    assert str(error.value) == message


def test_a_key_of_another_account_is_refused() -> None:
    """The publishers' key statements hold the key's account (aws:SourceAccount, aws:SourceArn,
    the topic ARN of the encryption context): a topic of account 222222222222 with a key of
    111111111111 got conditions that never matched, and every alarm was dropped."""
    app = cdk.App()
    key = CustomerManagedKey(stack(app, "A"), "K")
    elsewhere = stack(app, "B", account="222222222222")
    message = (
        "'encryption_key' must be in this construct's account (222222222222; this key: "
        "111111111111): the publishers' statements in its key policy hold the key's account "
        "(aws:SourceAccount, aws:SourceArn and the topic ARN of the encryption context), which "
        "must be the topic's for any message to be published. Received: 'A/K'"
    )
    with pytest.raises(ConstructPropError) as error:
        AlarmTopic(elsewhere, "T", encryption_key=key)
    assert str(error.value) == message
    # The topic a construct makes for its encryption_key is held to it too.
    with pytest.raises(ConstructPropError) as error:
        KmsRequestQuotaAlarm(elsewhere, "Q", encryption_key=key)
    assert str(error.value) == message


def test_a_topic_for_events_only_is_kept_but_takes_no_alarm() -> None:
    here = stack(cdk.App())
    key = CustomerManagedKey(here, "K")
    events = AlarmTopic(here, "Events", encryption_key=key, publishers=["events.amazonaws.com"])
    assert events.publishers == ("events.amazonaws.com",)
    alarm = cloudwatch.Alarm(
        here,
        "Alarm",
        metric=cloudwatch.Metric(namespace="App", metric_name="Errors"),
        threshold=1,
        evaluation_periods=1,
    )
    with pytest.raises(ConstructPropError) as error:
        events.notify(alarm)
    assert str(error.value) == cloudwatch_refused("S/Events", ["events.amazonaws.com"])
    AlarmTopic(here, "Alarms", encryption_key=key).notify(alarm)
    resolved: Any = here.resolve(alarm.node.default_child.alarm_actions)  # type: ignore[union-attr]
    assert len(resolved) == 1
