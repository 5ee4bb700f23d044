"""KeyMaterialExpiryAlarm: AWS/KMS SecondsUntilKeyMaterialExpiration of one key, to an AlarmTopic.

The wiring is read from the synthesized ``keys_showcase`` (held to the gates in
tests/test_gates.py); the other cases build a throwaway App and never synthesize.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from constructs_lib import (
    AlarmTopic,
    ConstructPropError,
    CustomerManagedKey,
    KeyMaterialExpiryAlarm,
    KmsRequestQuotaAlarm,
    ReplicaKey,
)
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
STACK = "KeysShowcase"
ACCOUNT = "111111111111"
REGION = "eu-west-1"


def logical(resources: dict[str, Any], prefix: str, resource_type: str) -> str:
    (name,) = [
        n for n, r in resources.items() if n.startswith(prefix) and r["Type"] == resource_type
    ]
    return name


def test_the_alarm_watches_the_time_left_to_the_keys_imported_material(
    synthesized: Synth,
) -> None:
    resources = synthesized("keys_showcase").template(STACK)["Resources"]
    key = logical(resources, "ImportedKey", "AWS::KMS::Key")
    topic = logical(resources, "KmsQuotaTopic", "AWS::SNS::Topic")
    alarm = resources[logical(resources, "ImportedExpiryAlarm", "AWS::CloudWatch::Alarm")]
    assert alarm["Properties"] == {
        "Namespace": "AWS/KMS",
        "MetricName": "SecondsUntilKeyMaterialExpiration",
        "Dimensions": [{"Name": "KeyId", "Value": {"Ref": key}}],
        # The smallest time left in the hour (the statistic the KMS developer guide names).
        "Statistic": "Minimum",
        "Period": 3600,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "LessThanThreshold",
        "Threshold": 30 * 86_400,
        # Nothing published: material that does not expire, none yet, or deleted at expiry
        # (the alarm then stays in ALARM).
        "TreatMissingData": "ignore",
        "AlarmActions": [{"Ref": topic}],
        "OKActions": [{"Ref": topic}],
        "AlarmDescription": (
            "The imported key material of KeysShowcase/Imported expires in less than 30 days: "
            "KMS then deletes it and the key cannot be used until the same material is "
            "imported again. Import it again with a later expiry (kmskit key import-material "
            "KEY --material FILE --expires 365d)"
        ),
    }
    assert "Unit" not in alarm["Properties"]  # a unit would ignore data published without one


def stack(app: cdk.App, id: str = "S", region: str = REGION) -> cdk.Stack:
    return cdk.Stack(app, id, env=cdk.Environment(account=ACCOUNT, region=region))


def topic_in(scope: cdk.Stack) -> AlarmTopic:
    return AlarmTopic(scope, "Alarms", encryption_key=CustomerManagedKey(scope, "TopicKey"))


def test_a_replica_has_an_alarm_of_its_own_and_the_props_are_taken() -> None:
    app = cdk.App()
    home = stack(app, "Home")
    primary = CustomerManagedKey(home, "Global", multi_region=True, origin="EXTERNAL")
    away = stack(app, "Away", region="eu-central-1")
    replica = ReplicaKey(away, "GlobalReplica", primary=primary)
    made = KeyMaterialExpiryAlarm(
        away,
        "Expiry",
        key=replica.key,
        alarm_topic=topic_in(away),
        warn_before=cdk.Duration.days(7),
        alarm_name="imported-material-expiry",
    )
    assert made.key is replica
    (alarm,) = Template.from_stack(away).find_resources("AWS::CloudWatch::Alarm").values()
    properties = alarm["Properties"]
    assert (properties["Threshold"], properties["AlarmName"]) == (
        7 * 86_400,
        "imported-material-expiry",
    )
    # The replica's own key ID (its material and expiry are its own).
    assert away.resolve(made.metric.dimensions["KeyId"]) == away.resolve(replica.key_id)


def refused_in(build: Callable[[cdk.Stack], dict[str, Any]]) -> str:
    app = cdk.App()
    here = stack(app)
    defaults: dict[str, Any] = {
        "key": CustomerManagedKey(here, "Imported", origin="EXTERNAL"),
        "alarm_topic": topic_in(here),
    }
    with pytest.raises(ConstructPropError) as error:
        KeyMaterialExpiryAlarm(here, "Expiry", **{**defaults, **build(here)})
    return str(error.value)


def test_refuses_a_key_without_imported_material_or_no_key_construct() -> None:
    assert refused_in(lambda s: {"key": CustomerManagedKey(s, "Plain")}) == (
        "'key' must have imported key material (origin EXTERNAL; S/Plain has origin AWS_KMS, "
        "whose material KMS keeps and never expires). Received: 'S/Plain'"
    )
    assert refused_in(lambda s: {"key": "alias/imported"}).startswith(
        "'key' must be a CustomerManagedKey or ReplicaKey, or its .key"
    )


def test_refuses_a_key_or_topic_of_another_region() -> None:
    def elsewhere(here: cdk.Stack) -> dict[str, Any]:
        other = stack(here.node.scope, "Other", region="eu-central-1")  # type: ignore[arg-type]
        return {"key": CustomerManagedKey(other, "Imported", origin="EXTERNAL")}

    assert refused_in(elsewhere) == (
        "'key' must be in this construct's Region (eu-west-1; this key: eu-central-1): KMS "
        "publishes the metric in the key's own account and Region. Received: 'Other/Imported'"
    )

    def topic_elsewhere(here: cdk.Stack) -> dict[str, Any]:
        other = stack(here.node.scope, "Other", region="eu-central-1")  # type: ignore[arg-type]
        return {"alarm_topic": topic_in(other)}

    assert refused_in(topic_elsewhere).startswith(
        "'alarm_topic' must be an AlarmTopic in the Region of its alarms (eu-west-1)"
    )
    assert refused_in(lambda s: {"alarm_topic": "arn:aws:sns:eu-west-1:111111111111:t"}) == (
        "'alarm_topic' must be an AlarmTopic. Received: 'arn:aws:sns:eu-west-1:111111111111:t'"
    )


@pytest.mark.parametrize(
    ("warn_before", "message"),
    [
        (cdk.Duration.days(0), "'warn_before' must be 1-365 days. Received: 0"),
        (cdk.Duration.days(366), "'warn_before' must be 1-365 days. Received: 366"),
        (
            cdk.Duration.hours(36),
            "'warn_before' must be a whole number of days. Received: '1 day 12 hours'",
        ),
        (30, "'warn_before' must be a Duration such as Duration.days(30). Received: 30"),
    ],
)
def test_refuses_a_warning_kms_could_not_honour(warn_before: Any, message: str) -> None:
    assert refused_in(lambda s: {"warn_before": warn_before}) == message


@pytest.mark.parametrize(
    "alarm_name",
    ["x" * 256, "", "bad\nname", "bad\tname", "bad\x7fname", "bad\ud800name"],
    ids=["long", "empty", "newline", "tab", "delete", "lone-surrogate"],
)
def test_refuses_an_alarm_name_cloudwatch_refuses(alarm_name: str) -> None:
    # "bad\nname" was accepted here while KmsRequestQuotaAlarm refused it.
    assert refused_in(lambda s: {"alarm_name": alarm_name}) == (
        "'alarm_name' must be a string of 1-255 characters without ASCII control characters. "
        f"Received: {alarm_name!r}"
    )


@pytest.mark.parametrize(
    "alarm_name",
    ["kms\u00a0expiry", "kms\u200dexpiry", "kms-expiry-\u00e9t\u00e9", "\U0001f511 expiry"],
    ids=["no-break-space", "zero-width-joiner", "accented", "emoji"],
)
def test_takes_an_alarm_name_cloudwatch_takes(alarm_name: str) -> None:
    """PutMetricAlarm's AlarmName refuses ASCII control characters only: isprintable() refused a
    no-break space or a zero-width joiner, which CloudWatch takes."""
    here = stack(cdk.App())
    alarm = KeyMaterialExpiryAlarm(
        here,
        "Expiry",
        key=CustomerManagedKey(here, "Imported", origin="EXTERNAL"),
        alarm_topic=topic_in(here),
        alarm_name=alarm_name,
    )
    assert here.resolve(alarm.alarm.node.default_child.alarm_name) == alarm_name  # type: ignore[union-attr]


def test_refuses_an_alarm_name_another_alarm_holds() -> None:
    # Was accepted: the second alarm of one name in an account and Region failed the deploy.
    def taken(here: cdk.Stack) -> dict[str, Any]:
        KmsRequestQuotaAlarm(
            here, "Quota", encryption_key=CustomerManagedKey(here, "QK"), alarm_name="kms-alarm"
        )
        return {"alarm_name": "kms-alarm"}

    assert refused_in(taken) == (
        "'alarm_name' must be unique within account 111111111111 in eu-west-1: S/Quota already "
        "names its alarm so (CloudWatch alarm names are unique in an account and Region). "
        "Received: 'kms-alarm'"
    )


def test_refuses_a_topic_cloudwatch_may_not_publish_to() -> None:
    def events_only(here: cdk.Stack) -> dict[str, Any]:
        topic = AlarmTopic(
            here,
            "Events",
            encryption_key=CustomerManagedKey(here, "EventsKey"),
            publishers=["events.amazonaws.com"],
        )
        return {"alarm_topic": topic}

    assert refused_in(events_only) == (
        "'alarm_topic' must be an AlarmTopic that CloudWatch alarms may publish to, with "
        "'cloudwatch.amazonaws.com' in its publishers (this topic's publishers: "
        "['events.amazonaws.com']): without it neither its topic policy nor its key's policy "
        "lets CloudWatch publish, and every alarm notification would be dropped. Add it to the "
        "topic's publishers, or give another topic. Received: 'S/Events'"
    )
