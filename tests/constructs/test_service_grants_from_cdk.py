"""Grants aws-cdk-lib's own constructs make to an AWS service through ``.key``, with no condition
the user could add: kept as CDK writes them with a synth-time warning
(``kmskit:serviceWithoutSource``), also next to a ``KeyServicePrincipal`` statement for the
service (which may be limited to another topic, queue or source). The same grant made directly
is still refused.

Each case builds the real L2 construct and synthesizes a one-key App.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_backup as backup
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from constructs_lib import (
    AlarmTopic,
    ConstructPropError,
    CustomerManagedKey,
    KeyPolicy,
    KeyServicePrincipal,
)
from kmskit.policy_conditions import limits_source

ACCOUNT = "111111111111"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Admin"
WARNING = "kmskit:serviceWithoutSource"

Build = Callable[[cdk.Stack, CustomerManagedKey], Any]


def hourly_rule(stack: cdk.Stack) -> events.Rule:
    return events.Rule(stack, "R", schedule=events.Schedule.rate(cdk.Duration.hours(1)))


def events_to_topic(stack: cdk.Stack, key: CustomerManagedKey) -> None:
    topic = sns.Topic(stack, "T", master_key=key.key)
    hourly_rule(stack).add_target(targets.SnsTopic(topic))


def backup_vault_notifications(stack: cdk.Stack, key: CustomerManagedKey) -> None:
    topic = sns.Topic(stack, "T", master_key=key.key)
    backup.BackupVault(stack, "V", notification_topic=topic)


def codestar_notifications(stack: cdk.Stack, key: CustomerManagedKey) -> None:
    topic = sns.Topic(stack, "T", master_key=key.key)
    repository = codecommit.Repository(stack, "Repo", repository_name="r")
    repository.notify_on_pull_request_created("N", topic)


def events_to_queue(stack: cdk.Stack, key: CustomerManagedKey) -> None:
    queue = sqs.Queue(stack, "Q", encryption_master_key=key.key)
    hourly_rule(stack).add_target(targets.SqsQueue(queue))


def synth(
    build: Build, *publishers: KeyServicePrincipal, custom: bool = True
) -> tuple[list[dict[str, Any]], list[str]]:
    """The key policy's statements and the key's warnings (with their ids) after ``build``."""
    app = cdk.App()  # no feature flags: targets.SqsQueue writes no condition
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    policy = (
        KeyPolicy.custom(admins=[ADMIN_ROLE], service_principals=list(publishers))
        if custom
        else None
    )
    key = CustomerManagedKey(stack, "K", policy=policy)
    for publisher in publishers if not custom else ():
        key.add_service_principal(publisher)
    build(stack, key)
    artifact = app.synth().get_stack_by_name("S")
    (resource,) = [
        r for r in artifact.template["Resources"].values() if r["Type"] == "AWS::KMS::Key"
    ]
    warnings = [
        str(message.entry.data)
        for message in artifact.messages
        if message.entry.type == "aws:cdk:warning" and message.id == "/S/K"
    ]
    return resource["Properties"]["KeyPolicy"]["Statement"], warnings


def unconditioned(statements: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [
        s
        for s in statements
        if s.get("Principal") == {"Service": service} and not limits_source(s.get("Condition"))
    ]


CASES = [
    pytest.param(events_to_topic, "events.amazonaws.com", "sns", id="events-to-sns-topic"),
    pytest.param(
        backup_vault_notifications, "backup.amazonaws.com", "sns", id="backup-vault-topic"
    ),
    pytest.param(
        codestar_notifications,
        "codestar-notifications.amazonaws.com",
        "sns",
        id="codestar-notifications",
    ),
    pytest.param(events_to_queue, "events.amazonaws.com", "sqs", id="events-to-sqs-queue"),
]


@pytest.mark.parametrize("custom", [True, False], ids=["custom-policy", "default-policy"])
@pytest.mark.parametrize(("build", "service", "destination"), CASES)
def test_a_cdk_grant_without_a_source_is_kept_with_a_warning(
    build: Build, service: str, destination: str, custom: bool
) -> None:
    statements, warnings = synth(build, custom=custom)
    assert len(unconditioned(statements, service)) == 1
    (warning,) = [w for w in warnings if WARNING in w]
    assert f"aws-cdk-lib granted {service} kms:Decrypt" in warning
    assert "with no condition that limits the source" in warning
    assert "A KeyServicePrincipal statement of the key does not take it away" in warning
    if service == "events.amazonaws.com":
        assert "authorize_using_role=True" in warning
        assert "@aws-cdk/aws-events:eventsTargetQueueSameAccount" in warning
    else:
        assert "acknowledge_warning('kmskit:serviceWithoutSource'" in warning


@pytest.mark.parametrize(
    "publisher",
    [
        # For SQS, not the SNS topic CDK granted for: dropping CDK's statement for it broke
        # delivery to the topic.
        KeyServicePrincipal.publisher(service="events.amazonaws.com", destination="sqs"),
        KeyServicePrincipal.publisher(service="events.amazonaws.com", destination="sns"),
    ],
    ids=["publisher-for-sqs", "publisher-for-sns"],
)
def test_a_publisher_statement_does_not_take_the_place_of_cdks_grant(
    publisher: KeyServicePrincipal,
) -> None:
    statements, warnings = synth(events_to_topic, publisher)
    assert len(unconditioned(statements, "events.amazonaws.com")) == 1
    assert [w for w in warnings if WARNING in w] != []


def test_backup_notifications_keep_cdks_grant_next_to_a_publisher_for_another_vault() -> None:
    publisher = KeyServicePrincipal.publisher(
        service="backup.amazonaws.com",
        destination="sns",
        source_arn_pattern=f"arn:aws:backup:eu-west-1:{ACCOUNT}:backup-vault:OtherVault",
    )
    statements, warnings = synth(backup_vault_notifications, publisher)
    assert len(unconditioned(statements, "backup.amazonaws.com")) == 1
    assert [w for w in warnings if WARNING in w] != []


def test_an_events_target_through_the_rules_role_needs_no_key_statement() -> None:
    def build(stack: cdk.Stack, key: CustomerManagedKey) -> None:
        topic = AlarmTopic(stack, "Alarms", encryption_key=key, publishers=["events.amazonaws.com"])
        hourly_rule(stack).add_target(targets.SnsTopic(topic.topic, authorize_using_role=True))

    statements, warnings = synth(build)
    assert unconditioned(statements, "events.amazonaws.com") == []
    assert [w for w in warnings if WARNING in w] == []


@pytest.mark.parametrize(
    "grant",
    [
        lambda key: key.grant_decrypt(iam.ServicePrincipal("events.amazonaws.com")),
        lambda key: key.key.grant_decrypt(iam.ServicePrincipal("events.amazonaws.com")),
        lambda key: key.key.grants.decrypt(iam.ServicePrincipal("events.amazonaws.com")),
    ],
    ids=["construct", "l2-key-from-python", "l2-key-grants-from-python"],
)
def test_the_same_grant_made_in_python_is_still_refused(
    grant: Callable[[CustomerManagedKey], Any],
) -> None:
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    key = CustomerManagedKey(stack, "K")
    events_to_topic(stack, key)  # the CDK grant first: it must not make the direct one pass
    with pytest.raises(ConstructPropError, match="'grant_decrypt\\(grantee\\)' must not let"):
        grant(key)


def test_a_user_module_named_like_jsii_is_still_the_users(tmp_path: Any, monkeypatch: Any) -> None:
    """Only jsii's own package counts as aws-cdk-lib calling: a helper module of the user's
    named ``jsii_helpers`` made a direct grant pass as CDK's, with a warning."""
    (tmp_path / "jsii_helpers.py").write_text(
        "def give(key, principal):\n    return key.key.grant_decrypt(principal)\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    jsii_helpers = importlib.import_module("jsii_helpers")

    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    key = CustomerManagedKey(stack, "K")
    with pytest.raises(ConstructPropError, match="'grant_decrypt\\(grantee\\)' must not let"):
        jsii_helpers.give(key, iam.ServicePrincipal("events.amazonaws.com"))
