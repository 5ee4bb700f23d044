"""KmsAuditAlarms: AuditTrail's metric filters and five alarms on a log group that already
receives CloudTrail events (AWS Control Tower's, an organization trail's)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from constructs_lib import AlarmTopic, ConstructPropError, CustomerManagedKey, KmsAuditAlarms
from constructs_lib.audit_alarms import (
    CLOUDTRAIL_CONFIGURATION_CHANGED,
    CLOUDTRAIL_SELECTORS_CHANGED,
    KMS_KEY_DISABLED_OR_DELETED,
    KMS_KEY_PENDING_DELETION_USED,
    MAX_FILTER_PATTERN_LENGTH,
    MAX_KEY_POLICY_CHANGED_FILTERS,
    UNAUTHORIZED_API_CALLS,
    grant_from_another_account_pattern,
    key_policy_changed_pattern,
    key_policy_changed_patterns,
    trail_alarm_patterns,
)
from tests._support.apps.audit_showcase import (
    CONTROL_TOWER_LOG_GROUP,
    MANAGEMENT,
    OTHER_TRAIL_LOG_GROUP,
    SECURITY,
    WORKLOAD,
)
from tests._support.filter_patterns import matches
from tests._support.snapshots import normalized
from tests._support.synth import SynthResult
from tests.constructs.test_audit_trail import ALARMS as AUDIT_TRAIL_PATTERNS
from tests.constructs.test_audit_trail import alarm_properties
from tests.constructs.test_encrypted_bucket import arn, logical_id

Synth = Callable[[str], SynthResult]
STACK = "AuditExistingTrail"
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def showcase(synthesized: Synth) -> SynthResult:
    return synthesized("audit_showcase")


def grant_clause(*accounts: str) -> str:
    return " || ".join(
        f'(($.recipientAccountId="{a}") && ($.userIdentity.accountId!="{a}"))' for a in accounts
    )


def key_policy_changed(*accounts: str) -> str:
    return (
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=PutKeyPolicy) || "
        f"(($.eventName=CreateGrant) && ({grant_clause(*accounts)})))}}"
    )


# The four patterns that do not depend on whose events the log group holds: AuditTrail's.
SHARED = {k: v for k, v in AUDIT_TRAIL_PATTERNS.items() if k != "KmsKeyPolicyChanged"}
CONTROL_TOWER = {
    **SHARED,
    "KmsKeyPolicyChanged": key_policy_changed(MANAGEMENT, SECURITY, WORKLOAD),
}
OTHER_TRAIL = {**SHARED, "KmsKeyPolicyChanged": key_policy_changed(MANAGEMENT)}


@pytest.mark.parametrize(
    ("construct", "group", "topic", "patterns"),
    [
        *(
            ("ControlTowerAlarms", CONTROL_TOWER_LOG_GROUP, "ControlTowerAlarmsAlarmTopic", p)
            for p in CONTROL_TOWER.items()
        ),
        *(
            ("PlatformTrailAlarms", OTHER_TRAIL_LOG_GROUP, "SecurityAlarmsTopic", p)
            for p in OTHER_TRAIL.items()
        ),
    ],
)
def test_metric_filter_and_alarm_on_the_given_log_group(
    showcase: SynthResult, construct: str, group: str, topic: str, patterns: tuple[str, str]
) -> None:
    metric, pattern = patterns
    template = showcase.template(STACK)
    resources = template["Resources"]
    namespace = f"KmsAuditAlarms/{group}"
    (metric_filter,) = [
        resource
        for name, resource in resources.items()
        if re.fullmatch(f"{construct}{metric}Filter[0-9A-F]{{8}}", name)
    ]
    assert metric_filter["Properties"] == {
        "FilterPattern": pattern,
        "LogGroupName": group,
        "MetricTransformations": [
            {"MetricName": metric, "MetricNamespace": namespace, "MetricValue": "1"}
        ],
    }
    alarm = resources[logical_id(template, "AWS::CloudWatch::Alarm", construct + metric)]
    properties = dict(alarm["Properties"])
    description = properties.pop("AlarmDescription")
    assert description.endswith(f" Log group {group}.")
    assert properties == alarm_properties(
        metric, namespace, logical_id(template, "AWS::SNS::Topic", topic)
    )


def test_six_filters_and_five_alarms_per_log_group(showcase: SynthResult) -> None:
    assertions = showcase.assertions(STACK)
    # CloudTrailConfigurationChanged: CIS's pattern, and PutEventSelectors / PutInsightSelectors.
    assertions.resource_count_is("AWS::Logs::MetricFilter", 12)
    assertions.resource_count_is("AWS::CloudWatch::Alarm", 10)
    assertions.resource_count_is("AWS::Logs::LogGroup", 0)  # the log groups exist already
    assertions.resource_count_is("AWS::CloudTrail::Trail", 0)  # and so does the trail


def test_the_alarms_descriptions_are_audit_trails(showcase: SynthResult) -> None:
    def descriptions(stack: str, source: str) -> set[str]:
        return {
            r["Properties"]["AlarmDescription"].removesuffix(f" {source}.")
            for r in showcase.template(stack)["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        }

    trail = "AuditDefault-Audit-3CCC6E1C"
    existing = descriptions(STACK, f"Log group {CONTROL_TOWER_LOG_GROUP}")
    existing &= descriptions(STACK, f"Log group {OTHER_TRAIL_LOG_GROUP}")
    assert len(existing) == 5
    assert existing == descriptions("AuditDefault", f"Trail {trail}")


def test_a_new_alarm_topic_is_encrypted_with_the_given_key(showcase: SynthResult) -> None:
    template = showcase.template(STACK)
    key = logical_id(template, "AWS::KMS::Key", "AlarmKey")
    topic = logical_id(template, "AWS::SNS::Topic", "ControlTowerAlarmsAlarmTopic")
    assertions = showcase.assertions(STACK)
    assertions.resource_count_is("AWS::SNS::Topic", 2)  # the new one and the one given
    assertions.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": arn(key), "DisplayName": "KMS audit alarms"}
    )
    assertions.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "Topics": [{"Ref": topic}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "sns:Publish",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": MANAGEMENT},
                                "ArnLike": {
                                    "aws:SourceArn": (
                                        f"arn:aws:cloudwatch:{REGION}:{MANAGEMENT}:alarm:*"
                                    )
                                },
                            },
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Resource": {"Ref": topic},
                            "Sid": "AllowCloudwatchPublish",
                        }
                    ]
                )
            },
        },
    )


def test_snapshot(showcase: SynthResult, snapshot_json: Any) -> None:
    assert normalized(showcase.template(STACK)) == snapshot_json


# --- constructed directly --------------------------------------------------------------------


def new_stack(account: str | None = MANAGEMENT, region: str | None = REGION) -> cdk.Stack:
    env = cdk.Environment(account=account, region=region) if account else None
    return cdk.Stack(cdk.App(), "S", env=env)


def control_tower(stack: cdk.Stack, id: str = "Group") -> logs.ILogGroup:
    return logs.LogGroup.from_log_group_name(stack, id, CONTROL_TOWER_LOG_GROUP)


def test_attributes() -> None:
    stack = new_stack()
    topic = AlarmTopic(stack, "Topic", encryption_key=CustomerManagedKey(stack, "Key"))
    group = control_tower(stack)
    alarms = KmsAuditAlarms(stack, "Alarms", log_group=group, alarm_topic=topic)
    assert alarms.alarm_topic is topic
    assert alarms.log_group is group
    assert alarms.accounts == (MANAGEMENT,)
    assert alarms.namespace == f"KmsAuditAlarms/{CONTROL_TOWER_LOG_GROUP}"
    assert set(alarms.metric_filters) == set(alarms.alarms) == set(CONTROL_TOWER)


def test_an_environment_agnostic_stack_watches_the_deploying_account() -> None:
    stack = new_stack(account=None)
    KmsAuditAlarms(
        stack,
        "Alarms",
        log_group=control_tower(stack),
        encryption_key=CustomerManagedKey(stack, "Key"),
    )
    filters = Template.from_stack(stack).find_resources(
        "AWS::Logs::MetricFilter",
        {"Properties": {"MetricTransformations": [{"MetricName": "KmsKeyPolicyChanged"}]}},
    )
    (pattern,) = [f["Properties"]["FilterPattern"] for f in filters.values()]
    account = {"Ref": "AWS::AccountId"}
    assert pattern == {
        "Fn::Join": [
            "",
            [
                "{($.eventSource=kms.amazonaws.com) && (($.eventName=PutKeyPolicy) || "
                '(($.eventName=CreateGrant) && ((($.recipientAccountId="',
                account,
                '") && ($.userIdentity.accountId!="',
                account,
                '")))))}',
            ],
        ]
    }


def test_the_pattern_of_one_account_is_audit_trails_for_that_accounts_own_log_group() -> None:
    # In one account's trail every record has recipientAccountId = that account, so the added
    # condition holds for every record and the two patterns match the same records.
    ours = grant_from_another_account_pattern([MANAGEMENT])
    recipient = f'($.recipientAccountId="{MANAGEMENT}") && '
    assert ours.replace(recipient, "").replace("((($", "($").replace(")))))}", ")))}") == (
        AUDIT_TRAIL_PATTERNS["KmsKeyPolicyChanged"].replace(SECURITY, MANAGEMENT)
    )


def accounts_of(count: int) -> list[str]:
    return [f"{index:012d}" for index in range(1, count + 1)]


def most_accounts() -> int:
    count = 1
    while len(grant_from_another_account_pattern(accounts_of(count + 1))) <= 1024:
        count += 1
    return count


def test_a_log_group_name_as_long_as_a_namespace_takes_is_accepted() -> None:
    stack = new_stack()
    name = "/a" * 120
    group = logs.LogGroup.from_log_group_name(stack, "Group", name)
    alarms = KmsAuditAlarms(stack, "Alarms", log_group=group, encryption_key=key_of(stack))
    assert alarms.namespace == f"KmsAuditAlarms/{name}"
    assert len(alarms.namespace) == 255


def key_of(stack: cdk.Stack) -> CustomerManagedKey:
    return CustomerManagedKey(stack, "Key")


def kms_record(event: str, *, recipient: str, caller: str, **more: Any) -> dict[str, Any]:
    """A CloudTrail record of a KMS call, as the organization trail's log group holds it."""
    return {
        "eventSource": "kms.amazonaws.com",
        "eventName": event,
        "recipientAccountId": recipient,
        "userIdentity": {"type": "AssumedRole", "accountId": caller},
        **more,
    }


@pytest.mark.parametrize(
    ("pattern", "record", "expected"),
    [
        (
            KMS_KEY_DISABLED_OR_DELETED,
            kms_record("DisableKey", recipient=SECURITY, caller=SECURITY),
            True,
        ),
        (
            KMS_KEY_DISABLED_OR_DELETED,
            kms_record("EnableKey", recipient=SECURITY, caller=SECURITY),
            False,
        ),
        (
            KMS_KEY_PENDING_DELETION_USED,
            kms_record(
                "Decrypt",
                recipient=SECURITY,
                caller=WORKLOAD,
                errorMessage="arn:aws:kms:eu-west-1:1:key/k is pending deletion.",
            ),
            True,
        ),
        (
            KMS_KEY_PENDING_DELETION_USED,
            kms_record("Decrypt", recipient=SECURITY, caller=SECURITY),
            False,
        ),
        (
            UNAUTHORIZED_API_CALLS,
            {"errorCode": "AccessDenied", "eventName": "GetObject", "sourceIPAddress": "10.0.0.1"},
            True,
        ),
        (
            UNAUTHORIZED_API_CALLS,
            {"errorCode": "AccessDenied", "eventName": "HeadBucket", "sourceIPAddress": "10.0.0.1"},
            False,
        ),
        (CLOUDTRAIL_CONFIGURATION_CHANGED, {"eventName": "StopLogging"}, True),
        (CLOUDTRAIL_CONFIGURATION_CHANGED, {"eventName": "LookupEvents"}, False),
        (
            CLOUDTRAIL_SELECTORS_CHANGED,
            {"eventSource": "cloudtrail.amazonaws.com", "eventName": "PutInsightSelectors"},
            True,
        ),
        (
            CLOUDTRAIL_SELECTORS_CHANGED,
            {"eventSource": "cloudtrail.amazonaws.com", "eventName": "GetEventSelectors"},
            False,
        ),
    ],
)
def test_the_pattern_matcher_reads_the_alarm_patterns_as_cloudwatch_logs_does(
    pattern: str, record: dict[str, Any], expected: bool
) -> None:
    # The matcher that the test below counts with, held to the patterns' documented meaning.
    assert matches(pattern, record) is expected


def trail_record(event: str, **request: Any) -> dict[str, Any]:
    """A CloudTrail record of a call to CloudTrail itself, as a trail's log group holds it."""
    return {
        "eventVersion": "1.09",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": event,
        "awsRegion": REGION,
        "userIdentity": {
            "type": "AssumedRole",
            "accountId": SECURITY,
            "arn": f"arn:aws:sts::{SECURITY}:assumed-role/Admin/someone",
        },
        "requestParameters": {"trailName": "audit", **request},
        "readOnly": event.startswith(("Get", "Describe", "List", "Lookup")),
        "recipientAccountId": SECURITY,
    }


def test_a_trail_made_blind_to_kms_reads_fires_the_configuration_alarm_once() -> None:
    """CIS's pattern missed PutEventSelectors: a trail made write-only, or excluding
    kms.amazonaws.com, stopped recording every KMS Read event, and no alarm fired."""
    patterns = trail_alarm_patterns([key_policy_changed_pattern(SECURITY)])
    counted = {
        "write only": (
            trail_record(
                "PutEventSelectors",
                eventSelectors=[{"readWriteType": "WriteOnly", "includeManagementEvents": True}],
            ),
            1,
        ),
        "kms excluded": (
            trail_record(
                "PutEventSelectors",
                eventSelectors=[
                    {
                        "readWriteType": "All",
                        "includeManagementEvents": True,
                        "excludeManagementEventSources": ["kms.amazonaws.com"],
                    }
                ],
            ),
            1,
        ),
        "advanced selectors": (
            trail_record(
                "PutEventSelectors",
                advancedEventSelectors=[
                    {
                        "fieldSelectors": [
                            {"field": "eventCategory", "equals": ["Management"]},
                            {"field": "readOnly", "equals": ["false"]},
                        ]
                    }
                ],
            ),
            1,
        ),
        "insights": (
            trail_record("PutInsightSelectors", insightSelectors=[]),
            1,
        ),
        # CIS's own events, counted once although the metric has two filters now.
        "stopped": (trail_record("StopLogging"), 1),
        "updated": (trail_record("UpdateTrail", isMultiRegionTrail=False), 1),
        "read": (trail_record("GetEventSelectors"), 0),
    }
    for what, (record, expected) in counted.items():
        fired = {
            metric: sum(matches(pattern, record) for pattern in metric_patterns)
            for metric, metric_patterns in patterns.items()
        }
        assert fired == {
            **dict.fromkeys(patterns, 0),
            "CloudTrailConfigurationChanged": expected,
        }, what


def test_more_accounts_than_fit_one_pattern_take_more_filters_that_count_each_record_once() -> None:
    accounts = accounts_of(25)
    patterns = key_policy_changed_patterns(accounts)
    assert len(patterns) == 3
    assert all(len(pattern) <= MAX_FILTER_PATTERN_LENGTH for pattern in patterns)
    assert patterns[0] == grant_from_another_account_pattern(accounts[:10])
    unlisted = "999999999999"
    counted = {
        # PutKeyPolicy on any key: once, not once per filter.
        "policy": (kms_record("PutKeyPolicy", recipient=unlisted, caller=unlisted), 1),
        # A grant from another account on a key of a listed account, in each filter's share.
        **{
            f"grant on {account}": (
                kms_record("CreateGrant", recipient=account, caller=unlisted),
                1,
            )
            for account in (accounts[0], accounts[12], accounts[24])
        },
        "own grant": (kms_record("CreateGrant", recipient=accounts[24], caller=accounts[24]), 0),
        "unlisted": (kms_record("CreateGrant", recipient=unlisted, caller=accounts[3]), 0),
        "other call": (kms_record("Decrypt", recipient=accounts[12], caller=unlisted), 0),
    }
    for what, (record, expected) in counted.items():
        assert sum(matches(pattern, record) for pattern in patterns) == expected, what


def test_the_filters_of_many_accounts_count_into_one_metric_and_alarm() -> None:
    stack = new_stack()
    alarms = KmsAuditAlarms(
        stack,
        "Alarms",
        log_group=control_tower(stack),
        accounts=accounts_of(25),
        encryption_key=key_of(stack),
    )
    assert len(alarms.key_policy_changed_filters) == 3
    assert alarms.key_policy_changed_filters[0] is alarms.metric_filters["KmsKeyPolicyChanged"]
    template = Template.from_stack(stack).to_json()
    filters = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Logs::MetricFilter"
        and resource["Properties"]["MetricTransformations"][0]["MetricName"]
        == "KmsKeyPolicyChanged"
    }
    # The first keeps the logical ID of one filter's: upgrading adds filters, replaces none.
    assert sorted(name[: -len("ABCD1234")] for name in filters) == [
        "AlarmsKmsKeyPolicyChangedFilter",
        "AlarmsKmsKeyPolicyChangedFilter2",
        "AlarmsKmsKeyPolicyChangedFilter3",
    ]
    assert sorted(p["FilterPattern"] for p in filters.values()) == sorted(
        key_policy_changed_patterns(accounts_of(25))
    )
    assert {
        (t["MetricNamespace"], t["MetricValue"])
        for p in filters.values()
        for t in p["MetricTransformations"]
    } == {(f"KmsAuditAlarms/{CONTROL_TOWER_LOG_GROUP}", "1")}
    alarms_of_metric = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and resource["Properties"]["MetricName"] == "KmsKeyPolicyChanged"
    ]
    assert len(alarms_of_metric) == 1


@pytest.mark.parametrize(("filters", "accounts"), [(1, 10), (MAX_KEY_POLICY_CHANGED_FILTERS, 400)])
def test_as_many_accounts_as_the_filters_hold_are_accepted(filters: int, accounts: int) -> None:
    # The numbers docs/audit.md and the docstrings give: ten per filter pattern, 400 in all.
    assert MAX_FILTER_PATTERN_LENGTH == 1024
    assert filters * most_accounts() == accounts
    assert len(key_policy_changed_patterns(accounts_of(accounts))) == filters
    stack = new_stack()
    alarms = KmsAuditAlarms(
        stack,
        "Alarms",
        log_group=control_tower(stack),
        accounts=accounts_of(accounts),
        encryption_key=key_of(stack),
    )
    assert alarms.accounts == tuple(accounts_of(accounts))
    assert len(alarms.key_policy_changed_filters) == filters


def test_the_docs_give_the_accounts_the_filters_hold() -> None:
    """docs/audit.md's table of props said 1 to 10 accounts, its text (and the code) 400."""
    text = (Path(__file__).parents[2] / "docs" / "audit.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| `accounts` |")]
    most = MAX_KEY_POLICY_CHANGED_FILTERS * most_accounts()
    assert f"1 to {most} 12-digit IDs, none repeated (ten fit one metric filter" in row


BAD_PROPS: list[tuple[Callable[[cdk.Stack], dict[str, Any]], str]] = [
    (
        lambda s: {"log_group": CONTROL_TOWER_LOG_GROUP, "encryption_key": key_of(s)},
        "'log_group' must be an aws_logs.ILogGroup (e.g. logs.LogGroup.from_log_group_name(...))."
        " Received: 'aws-controltower/CloudTrailLogs'",
    ),
    (
        lambda s: {
            "log_group": logs.LogGroup.from_log_group_arn(
                s, "G", f"arn:aws:logs:us-east-1:{MANAGEMENT}:log-group:trail:*"
            ),
            "encryption_key": key_of(s),
        },
        f"'log_group' must be in this stack's Region ({REGION}; this log group: us-east-1): "
        "CloudWatch Logs makes a metric filter in its log group's account and Region. "
        f"Received: 'trail in {MANAGEMENT}/us-east-1'",
    ),
    (
        lambda s: {
            "log_group": logs.LogGroup.from_log_group_arn(
                s, "G", f"arn:aws:logs:{REGION}:{SECURITY}:log-group:trail:*"
            ),
            "encryption_key": key_of(s),
        },
        f"'log_group' must be in this stack's account ({MANAGEMENT}; this log group: "
        f"{SECURITY}): CloudWatch Logs makes a metric filter in its log group's account and "
        f"Region. Received: 'trail in {SECURITY}/{REGION}'",
    ),
    (
        lambda s: {
            "log_group": logs.LogGroup.from_log_group_name(s, "G", "/a" * 121),
            "encryption_key": key_of(s),
        },
        "'log_group' must have a name of at most 240 characters: the metrics' namespace is "
        "KmsAuditAlarms/<log group name>, and CloudWatch takes namespaces of at most 255. "
        f"Received: {'/a' * 121!r}",
    ),
    (
        lambda s: {
            "log_group": control_tower(s),
            "accounts": SECURITY,
            "encryption_key": key_of(s),
        },
        f"'accounts' must be a list or tuple of 12-digit AWS account IDs. Received: '{SECURITY}'",
    ),
    (
        lambda s: {"log_group": control_tower(s), "accounts": [], "encryption_key": key_of(s)},
        "'accounts' must name at least one account. Received: []",
    ),
    (
        lambda s: {
            "log_group": control_tower(s),
            "accounts": [SECURITY, "12345"],
            "encryption_key": key_of(s),
        },
        "'accounts' must be a 12-digit AWS account ID. Received: '12345'",
    ),
    (
        lambda s: {
            "log_group": control_tower(s),
            "accounts": [SECURITY, WORKLOAD, SECURITY],
            "encryption_key": key_of(s),
        },
        f"'accounts' must not repeat a value. Received: '{SECURITY}'",
    ),
    (
        lambda s: {
            "log_group": control_tower(s),
            "accounts": accounts_of(401),
            "encryption_key": key_of(s),
        },
        "'accounts' must fit KmsKeyPolicyChanged's filter patterns in at most 40 metric filters "
        "of CloudWatch Logs' 1,024 characters each (a log group takes 100 in all): 401 accounts "
        f"need 41 (list the accounts whose keys matter most). Received: {accounts_of(401)!r}",
    ),
    (
        lambda s: {
            "log_group": control_tower(s),
            "alarm_topic": AlarmTopic(s, "Topic", encryption_key=key_of(s)),
            "encryption_key": s.node.find_child("Key"),
        },
        "'alarm_topic' or 'encryption_key' must be given, not both. Received: 'S/Topic'",
    ),
    (
        lambda s: {"log_group": control_tower(s)},
        "'alarm_topic' or 'encryption_key' must be given, and neither was. Received: None",
    ),
    (
        lambda s: {
            "log_group": control_tower(s),
            "alarm_topic": f"arn:aws:sns:{REGION}:{MANAGEMENT}:alarms",
        },
        f"'alarm_topic' must be an AlarmTopic. Received: 'arn:aws:sns:{REGION}:{MANAGEMENT}:"
        "alarms'",
    ),
]


@pytest.mark.parametrize(("props", "message"), BAD_PROPS)
def test_bad_props_name_the_prop_and_value(
    props: Callable[[cdk.Stack], dict[str, Any]], message: str
) -> None:
    stack = new_stack()
    given = props(stack)
    with pytest.raises(ConstructPropError) as error:
        KmsAuditAlarms(stack, "Alarms", **given)
    assert str(error.value) == message


def test_an_alarm_topic_of_another_region_is_refused() -> None:
    app = cdk.App()
    east = cdk.Stack(app, "East", env=cdk.Environment(account=MANAGEMENT, region="us-east-1"))
    topic = AlarmTopic(east, "Topic", encryption_key=CustomerManagedKey(east, "Key"))
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=MANAGEMENT, region=REGION))
    with pytest.raises(ConstructPropError, match="'alarm_topic' must be an AlarmTopic in the"):
        KmsAuditAlarms(stack, "Alarms", log_group=control_tower(stack), alarm_topic=topic)


def test_a_log_group_is_watched_once_per_account_and_region() -> None:
    app = cdk.App()
    env = cdk.Environment(account=MANAGEMENT, region=REGION)
    first = cdk.Stack(app, "First", env=env)
    KmsAuditAlarms(first, "Alarms", log_group=control_tower(first), encryption_key=key_of(first))
    second = cdk.Stack(app, "Second", env=env)
    with pytest.raises(ConstructPropError) as error:
        KmsAuditAlarms(
            second, "Alarms", log_group=control_tower(second), encryption_key=key_of(second)
        )
    assert str(error.value) == (
        f"'log_group' must have one KmsAuditAlarms within account {MANAGEMENT} in {REGION} (its "
        "metrics would count twice): First/Alarms already watches it. Received: "
        f"'{CONTROL_TOWER_LOG_GROUP}'"
    )


def test_a_refused_construct_leaves_the_log_group_free() -> None:
    stack = new_stack()
    with pytest.raises(ConstructPropError, match="'alarm_topic' or 'encryption_key'"):
        KmsAuditAlarms(stack, "Refused", log_group=control_tower(stack))
    alarms = KmsAuditAlarms(
        stack, "Alarms", log_group=control_tower(stack, "Again"), encryption_key=key_of(stack)
    )
    assert len(alarms.alarms) == 5


def test_a_log_group_made_in_the_stack_is_watched_by_its_deploy_time_name() -> None:
    stack = new_stack()
    key = key_of(stack)
    group = logs.LogGroup(stack, "Trail", retention=logs.RetentionDays.ONE_YEAR)
    KmsAuditAlarms(stack, "Alarms", log_group=group, encryption_key=key)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Logs::MetricFilter", 6)
    template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "LogGroupName": {"Ref": Match.string_like_regexp("^Trail")},
            "MetricTransformations": [
                {
                    "MetricName": "UnauthorizedApiCalls",
                    "MetricNamespace": {
                        "Fn::Join": ["", ["KmsAuditAlarms/", {"Ref": Match.any_value()}]]
                    },
                    "MetricValue": "1",
                }
            ],
        },
    )
