"""A KMS-encrypted SNS topic that CloudWatch alarms and EventBridge rules can publish to.

SNS encrypts with the topic's CMK, so every publishing service needs ``kms:GenerateDataKey*`` and
``kms:Decrypt`` in the key policy. The statements are limited to this account and Region by
``aws:SourceAccount``, ``aws:SourceArn`` and the SNS encryption context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib import _names as names
from constructs_lib import _principals as principals
from constructs_lib._validation import (
    ConstructPropError,
    check_alarm_name,
    check_mapping,
    check_sequence,
    is_token,
    require,
    require_one_of,
    shown,
)
from constructs_lib.key_policy import (
    EVENTBRIDGE,
    KeyServicePrincipal,
    ListOrTuple,
    check_publisher,
    service_sid_name,
    stack_facts,
    stack_of,
)
from constructs_lib.keys import (
    CustomerManagedKey,
    ReplicaKey,
    key_construct,
    require_key_environment,
)

CLOUDWATCH = "cloudwatch.amazonaws.com"
DEFAULT_PUBLISHERS = (CLOUDWATCH,)
# The resources each publisher publishes for (``aws:SourceArn`` in the topic policy, as the
# CloudWatch and EventBridge guides document against the confused deputy): {partition},
# {region} and {account} are this stack's. Other publishers get ``aws:SourceAccount`` only.
SOURCE_ARN_PATTERNS = {
    "cloudwatch.amazonaws.com": "arn:{partition}:cloudwatch:{region}:{account}:alarm:*",
    "events.amazonaws.com": "arn:{partition}:events:{region}:{account}:rule/*",
}
MAX_DISPLAY_NAME_LENGTH = 100  # SNS (and aws_sns.Topic) refuse a longer display name


def require_key_in_region(
    prop: str, key: CustomerManagedKey | ReplicaKey, region: str, service: str
) -> None:
    """SNS and SQS encrypt only with a key of their own Region: refuse ``key`` of another
    Region for ``service`` in ``region`` (env-agnostic stacks are not known until deploy)."""
    _require_same_region(
        prop,
        key,
        key.region,
        region,
        f"must be a key in the Region of its {service} ({region}): SNS and SQS encrypt only "
        "with a key of their own Region (use a ReplicaKey of a multi-Region key there)",
    )


def require_alarm_topic(prop: str, value: Any) -> None:
    """Refuse ``value`` unless it is an :class:`AlarmTopic` (``'<prop>' must be an AlarmTopic.
    Received: ...``) that CloudWatch alarms may publish to: one whose ``publishers`` hold
    ``cloudwatch.amazonaws.com``. Without it neither the topic policy nor the key policy lets
    CloudWatch publish, and every notification of the alarms would be dropped unseen. A topic
    for other publishers only (EventBridge rules) is left as it is: only wiring alarms to it is
    refused."""
    if not isinstance(value, AlarmTopic):
        raise ConstructPropError(prop, "must be an AlarmTopic", shown(value))
    if CLOUDWATCH not in value.publishers:
        raise ConstructPropError(
            prop,
            f"must be an AlarmTopic that CloudWatch alarms may publish to, with '{CLOUDWATCH}' "
            f"in its publishers (this topic's publishers: {list(value.publishers)}): without it "
            "neither its topic policy nor its key's policy lets CloudWatch publish, and every "
            "alarm notification would be dropped. Add it to the topic's publishers, or give "
            "another topic",
            value.node.path,
        )


def reserve_alarm_name(holder: Construct, prop: str, alarm_name: Any) -> None:
    """Check ``alarm_name`` (:func:`check_alarm_name`; None: CloudFormation generates one) and
    take it for ``holder``: CloudWatch alarm names are unique in an account and Region, and a
    second alarm of one name fails the deploy ("already exists")."""
    if check_alarm_name(prop, alarm_name) is None:
        return
    stack = stack_of(holder)
    other, where = names.reserve(stack, stack_facts(stack), "alarm", alarm_name, holder)
    require(
        other is None,
        prop,
        f"must be unique within {where}: {other} already names its alarm so "
        "(CloudWatch alarm names are unique in an account and Region)",
        alarm_name,
    )


def given_or_new_topic(
    scope: Construct,
    id: str,
    *,
    alarm_topic: Any,
    encryption_key: Any,
    display_name: str | None = None,
) -> AlarmTopic:
    """The :class:`AlarmTopic` of a construct that takes either ``alarm_topic`` (an existing
    topic, in ``scope``'s Region) or ``encryption_key`` (a new AlarmTopic ``id`` encrypted with
    it is made under ``scope``), not both and not neither; the errors name the prop given."""
    if alarm_topic is not None:
        # Before the either/or check, which would read a string's .node.
        require_alarm_topic("alarm_topic", alarm_topic)
    require_one_of("alarm_topic", alarm_topic, "encryption_key", encryption_key)
    if encryption_key is not None:
        return AlarmTopic(scope, id, encryption_key=encryption_key, display_name=display_name)
    assert isinstance(alarm_topic, AlarmTopic)  # exactly one is given, and checked above
    require_topic_in_region("alarm_topic", alarm_topic, stack_facts(stack_of(scope)).region)
    return alarm_topic


def require_topic_in_region(prop: str, topic: AlarmTopic, region: str) -> None:
    """CloudWatch alarm actions publish only to a topic of the alarm's own Region. The topic
    is in its key's Region (AlarmTopic checks that), which is read without a round trip."""
    _require_same_region(
        prop,
        topic,
        topic.encryption_key.region,
        region,
        f"must be an AlarmTopic in the Region of its alarms ({region}): CloudWatch alarm "
        "actions publish only to a topic of their own Region",
    )


def _require_same_region(
    prop: str, given: Construct, given_region: str, region: str, requirement: str
) -> None:
    if is_token(region) or is_token(given_region) or given_region == region:
        return
    # Worded only now: the construct's path is a jsii round trip.
    raise ConstructPropError(prop, requirement, f"{given.node.path} in {given_region}")


class AlarmTopic(Construct):
    """An SNS topic for alarms, encrypted with a customer managed key, TLS only.

    Args:
        encryption_key: the CMK (or multi-Region replica) that encrypts messages; a symmetric
            encryption key: a :class:`CustomerManagedKey` or :class:`ReplicaKey`, or its ``.key``.
        publishers: service principals allowed to publish (``cloudwatch.amazonaws.com``,
            ``events.amazonaws.com``, ``s3.amazonaws.com``, ``events.rds.amazonaws.com``, ...).
            Alarms (of this toolkit's constructs, or :meth:`notify`) may be wired to the topic
            only with ``cloudwatch.amazonaws.com`` among them. Default: CloudWatch alarms only.
        publisher_source_arns: an ``aws:SourceArn`` pattern for some of ``publishers``, e.g.
            ``{"events.rds.amazonaws.com": "arn:aws:rds:eu-west-1:111111111111:db:prod-*"}``,
            in both the key policy and the topic policy (not for ``events.amazonaws.com``,
            whose KMS requests carry no aws:SourceArn). Default: none; each publisher's key
            statement then takes any of its resources in the account (and Region, where its
            ARNs have one: :func:`~constructs_lib.key_policy.publisher_source_arn`), and its
            topic statement ``aws:SourceAccount`` only (CloudWatch: its alarms; EventBridge:
            its rules).
        display_name: at most 100 characters. Default: none.

    Attributes:
        topic: the ``aws_sns.Topic``.
        encryption_key: the key it encrypts with.
        publishers: the service principals allowed to publish (a tuple).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey,
        publishers: ListOrTuple[str] = DEFAULT_PUBLISHERS,
        publisher_source_arns: Mapping[str, str] | None = None,
        display_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        encryption_key = key_construct(
            "encryption_key",
            encryption_key,
            "the topic adds the publishers' statements to its key policy",
        )
        require(
            encryption_key.key_spec == "SYMMETRIC_DEFAULT",
            "encryption_key",
            "must be a symmetric encryption key (SNS encrypts with SYMMETRIC_DEFAULT keys only)",
            encryption_key.key_spec,
        )
        facts = stack_facts(stack_of(scope))
        require_key_in_region("encryption_key", encryption_key, facts.region, "SNS topic")
        require_key_environment(
            "encryption_key",
            facts,
            encryption_key,
            must_be="in",
            why=": the publishers' statements in its key policy hold the key's account "
            "(aws:SourceAccount, aws:SourceArn and the topic ARN of the encryption context), "
            "which must be the topic's for any message to be published",
        )
        publishers = check_sequence("publishers", publishers, "service principals")
        for service in publishers:
            check_publisher(
                "publishers",
                service,
                "must hold service principals such as 'cloudwatch.amazonaws.com'",
            )
        source_arns = check_mapping(
            "publisher_source_arns",
            publisher_source_arns,
            "must be a mapping of publisher to aws:SourceArn pattern, or None",
        )
        for service, pattern in source_arns.items():
            require(
                service in publishers and service != EVENTBRIDGE,
                "publisher_source_arns",
                f"must have keys among publishers ({', '.join(publishers)}), other than "
                f"{EVENTBRIDGE} (the KMS requests of EventBridge-to-encrypted topics carry no "
                "aws:SourceArn)",
                service,
            )
            require(
                isinstance(pattern, str) and bool(pattern),
                "publisher_source_arns",
                f"must map {service} to an ARN pattern such as "
                "'arn:aws:rds:eu-west-1:111111111111:db:*'",
                pattern,
            )
        require(
            display_name is None
            or (isinstance(display_name, str) and len(display_name) <= MAX_DISPLAY_NAME_LENGTH),
            "display_name",
            f"must be a string of at most {MAX_DISPLAY_NAME_LENGTH} characters",
            display_name,
        )
        self.encryption_key: CustomerManagedKey | ReplicaKey = encryption_key
        self.publishers: tuple[str, ...] = tuple(publishers)
        self._alarm_action: cloudwatch.IAlarmAction | None = None
        self.topic = sns.Topic(
            self,
            "Topic",
            master_key=encryption_key.key,
            enforce_ssl=True,
            display_name=display_name,
        )
        topic_arn = self.topic.topic_arn
        for service in publishers:
            given = source_arns.get(service)
            encryption_key.add_service_principal(
                KeyServicePrincipal.publisher(
                    service=service, destination="sns", source_arn_pattern=given
                )
            )
            conditions: dict[str, dict[str, str]] = {
                "StringEquals": {"aws:SourceAccount": facts.account}
            }
            default = SOURCE_ARN_PATTERNS.get(service)
            source = given or (
                default
                and default.format(
                    partition=facts.partition, region=facts.region, account=facts.account
                )
            )
            if source:
                conditions["ArnLike"] = {"aws:SourceArn": source}
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Allow{service_sid_name(service, keep_hyphens=True)}Publish",
                    principals=[principals.service(service)],
                    actions=["sns:Publish"],
                    resources=[topic_arn],
                    conditions=conditions,
                )
            )

    def notify(self, alarm: cloudwatch.Alarm, *, ok: bool = True) -> None:
        """Publish ``alarm``'s changes to ALARM to this topic, and back to OK unless ``ok`` is
        False. One SNS alarm action serves every alarm of the topic. Refused, as
        :func:`require_alarm_topic` refuses it for the constructs that take an ``alarm_topic``,
        when ``cloudwatch.amazonaws.com`` is not among the topic's publishers."""
        require_alarm_topic("alarm_topic", self)
        if self._alarm_action is None:
            self._alarm_action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(self._alarm_action)
        if ok:
            alarm.add_ok_action(self._alarm_action)
