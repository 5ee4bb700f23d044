"""Key policies for customer managed keys: the AWS default, or named roles with no blanket root.

A :class:`KeyPolicy` is plain data until a key renders it with :meth:`KeyPolicy.render`, which
knows the key's usage (which user actions apply), its origin (import actions for administrators)
and its environment (account, Region, partition for the service-principal conditions, and the
CloudFormation role that deploys the key).
"""

from __future__ import annotations

import collections
import json
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar

from aws_cdk import DefaultStackSynthesizer, Stack
from aws_cdk import aws_iam as iam

from constructs_lib import _kms_actions as actions
from constructs_lib import _principals as principals
from constructs_lib._validation import (
    ConstructPropError,
    Shown,
    as_list,
    check_account_id,
    check_sequence,
    check_sequence_of,
    has_wildcard,
    is_token,
    require,
)
from kmskit.aws_names import ACCOUNT_ID
from kmskit.policy_conditions import (
    CALLER_CONDITION_RULE,
    SOURCE_CONDITION_RULE,
    account_of,
    caller_limits,
    holds_wildcard,
    limits_source,
    names_everyone,
    services_named,
)

ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}):")
# A trail's ARN, as CloudTrail puts it in aws:SourceArn (its home Region, account and name).
# Trail names: 3-128 letters, digits, '.', '_' and '-' (CloudTrail's rules).
TRAIL_ARN = re.compile(
    r"^arn:aws[a-z-]*:cloudtrail:[a-z]{2,}(?:-[a-z]+)+-[0-9]+:[0-9]{12}:trail/[\w.-]{3,128}\Z"
)
# Partition and account may be tokens (``arn:${AWS::Partition}:iam::${AWS::AccountId}:group/Ops``).
GROUP_ARN = re.compile(r"^arn:[^:]+:iam::[^:]+:group/")
# What KMS takes as an "AWS" principal: an IAM or STS ARN (any other ARN is an invalid principal).
# The account is 12 digits; wildcards are let through here to be refused with their own message.
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[\w+=,.@/*?-]+\Z")
# An account as a principal: its root (arn:aws:iam::111111111111:root) or its ID.
ROOT_OR_ACCOUNT = re.compile(r"^(arn:aws[a-z-]*:iam::[0-9]{12}:root|[0-9]{12})\Z")
# What _locked_out calls the key's own account (a principal known only at deploy time is of it).
OWN_ACCOUNT = object()
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com\Z")
# The ARNs of the resources each service publishes to SNS topics and SQS queues for, as it puts
# them in aws:SourceArn (Service Authorization Reference, "Resource types"), with {partition},
# {region} and {account} the key's: KeyServicePrincipal.publisher's default aws:SourceArn for the
# services whose ARNs are not arn:<partition>:<first label of the principal>:<region>:<account>:
# (that default, PUBLISHER_REGIONAL_SOURCE_ARN, fits CloudWatch, EventBridge, SNS, CloudTrail,
# Backup, SES, ...). An S3 bucket's ARN has neither Region nor account, a budget's no Region;
# Cost Anomaly Detection (costalerts) names its ARNs after Cost Explorer (ce), RDS event
# notifications (events.rds) after RDS: a pattern of another shape would never match.
PUBLISHER_SOURCE_ARNS = {
    "budgets.amazonaws.com": "arn:{partition}:budgets::{account}:*",
    "costalerts.amazonaws.com": "arn:{partition}:ce::{account}:*",
    "events.rds.amazonaws.com": "arn:{partition}:rds:{region}:{account}:*",
    # A bucket's ARN names neither: aws:SourceAccount (the bucket owner) limits it.
    "s3.amazonaws.com": "arn:{partition}:s3:::*",
}
PUBLISHER_REGIONAL_SOURCE_ARN = "arn:{partition}:{service}:{region}:{account}:*"
# Principals that look like a publisher's but are not the one that publishes: RDS event
# notifications come from events.rds.amazonaws.com (RDS user guide,
# USER_Events.GrantingPermissions); rds.amazonaws.com is RDS itself.
NOT_PUBLISHERS = {"rds.amazonaws.com": "events.rds.amazonaws.com"}
MAX_KEY_POLICY_BYTES = 32_768
DNSSEC_SERVICE = "dnssec-route53.amazonaws.com"
DNSSEC_REGION = "us-east-1"
"""The only Region whose keys Route 53 signs hosted zones with (Route 53 developer guide,
"Working with customer managed keys for DNSSEC")."""
DNSSEC_KEY_SPEC = "ECC_NIST_P256"
DNSSEC_KEY_USAGE = "SIGN_VERIFY"
# A Route 53 hosted zone ID as Route 53 assigns it: 'Z' and upper-case letters and digits, at
# most 32 characters (CloudFormation's pattern for HostedZoneId is ^[A-Z0-9]{1,32}$).
HOSTED_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}\Z")
AUTOSCALING_SLR_PATH = "aws-service-role/autoscaling.amazonaws.com/"
AUTOSCALING_SLR_NAME = "AWSServiceRoleForAutoScaling"
# CreateServiceLinkedRole's custom suffix, within IAM's 64-character role names:
# AWSServiceRoleForAutoScaling_<suffix> leaves 35 characters of [\w+=,.@-].
AUTOSCALING_SLR_SUFFIX = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,35}\Z")
STACK_DEPLOYER = "stack-deployer"
EVENTBRIDGE = "events.amazonaws.com"
# What a prop of several values takes: a list or a tuple; check_sequence refuses anything else
# (a str, read one character at a time, above all) at construct time. Typed as a Sequence, as
# aws-cdk-lib types its own, because list is invariant: a list[str] variable would not
# type-check as a list of str or principals.
_T = TypeVar("_T")
ListOrTuple: TypeAlias = Sequence[_T]
"""``KeyPolicy.custom(deployer=...)`` default: the CloudFormation execution role of the key's
stack synthesizer (``cdk-<qualifier>-cfn-exec-role-<account>-<region>``)."""


def check_publisher(prop: str, service: Any, requirement: str) -> str:
    """Refuse ``service`` under ``prop`` unless it is a service principal (``requirement`` worded
    by the caller) that publishes to SNS and SQS; ``rds.amazonaws.com`` is refused naming the
    principal RDS event notifications publish as (``events.rds.amazonaws.com``)."""
    require(
        isinstance(service, str) and bool(SERVICE_PRINCIPAL.match(service)),
        prop,
        requirement,
        service,
    )
    publisher = NOT_PUBLISHERS.get(service)
    require(
        publisher is None,
        prop,
        f"must name the principal the service publishes as: use {publisher} (RDS event "
        "notifications are published by events.rds.amazonaws.com, for aws:SourceArn the RDS "
        "resource; rds.amazonaws.com never publishes to SNS or SQS)",
        service,
    )
    return str(service)


def publisher_source_arn(service: str, *, partition: str, region: str, account: str) -> str:
    """The ``aws:SourceArn`` pattern of any resource ``service`` publishes for in ``account``
    (and ``region``, where its ARNs have one): :data:`PUBLISHER_SOURCE_ARNS` for the services
    whose ARN shape differs, else ``arn:<partition>:<first label of service>:<region>:
    <account>:*``."""
    pattern = PUBLISHER_SOURCE_ARNS.get(service, PUBLISHER_REGIONAL_SOURCE_ARN)
    return pattern.format(
        partition=partition, service=service.split(".", 1)[0], region=region, account=account
    )


def service_sid_name(service: str, *, keep_hyphens: bool = False) -> str:
    """A service principal as statement IDs name it: each label before ``.amazonaws.com``
    title-cased and joined (``events.rds.amazonaws.com``: ``EventsRds``; ``cloudwatch``:
    ``Cloudwatch``), so two principals never share a Sid. Each label's hyphenated parts are
    joined too (``CodestarNotifications``) unless ``keep_hyphens`` (AlarmTopic's topic policy
    Sids have always kept them: ``Codestar-Notifications``)."""
    labels = service.removesuffix(".amazonaws.com").split(".")
    if keep_hyphens:
        return "".join(label.title() for label in labels)
    return "".join(part.title() for label in labels for part in label.split("-"))


@dataclass(frozen=True)
class KeyContext:
    """What a policy needs to know about the key it is rendered for."""

    account: str
    region: str
    partition: str
    key_usage: str
    key_spec: str
    origin: str
    multi_region: bool = False
    deployer_role_arn: str | None = None
    """ARN of the role CloudFormation deploys the stack with, when the synthesizer names one."""
    deployer_unknown: str = ""
    """Why the synthesizer's role is unknown (set when ``deployer_role_arn`` is None)."""

    @classmethod
    def of(
        cls,
        stack: Stack,
        *,
        key_usage: str,
        key_spec: str,
        origin: str,
        multi_region: bool = False,
    ) -> KeyContext:
        facts = stack_facts(stack)
        return cls(
            account=facts.account,
            region=facts.region,
            partition=facts.partition,
            key_usage=key_usage,
            key_spec=key_spec,
            origin=origin,
            multi_region=multi_region,
            deployer_role_arn=facts.deployer_role_arn,
            deployer_unknown=facts.deployer_unknown,
        )


@dataclass(frozen=True)
class StackFacts:
    """What keys need to know about their stack, read from it once (see :func:`stack_facts`)."""

    account: str
    region: str
    partition: str
    deployer_role_arn: str | None
    """The CloudFormation execution role of the stack's synthesizer, when it names one."""
    account_roots: tuple[Any, ...]
    """The ways a resolved policy can name the account root (ARN forms and the bare ID)."""
    deployer_unknown: str = ""
    """Why ``deployer_role_arn`` is None, naming the synthesizer (see :func:`_deployer_unknown`)."""


# A stack's environment never changes once it exists; reading it once per stack rather than once
# per key saves about ten jsii round-trips per key (benchmarks/synth.py).
_facts_by_stack: weakref.WeakKeyDictionary[Stack, StackFacts] = weakref.WeakKeyDictionary()


_stack_by_construct: weakref.WeakKeyDictionary[Any, Stack] = weakref.WeakKeyDictionary()


def stack_of(construct: Any) -> Stack:
    """``Stack.of(construct)``, asked of jsii once per construct made in Python (a stack is its
    own): a construct's stack never changes, and each ``Stack.of`` is a round trip. A new
    construct's stack is its scope's: ``stack_of(scope)``."""
    if isinstance(construct, Stack):
        return construct
    stack = _stack_by_construct.get(construct)
    if stack is None:
        stack = _stack_by_construct[construct] = Stack.of(construct)
    return stack


def stack_facts(stack: Stack) -> StackFacts:
    """The :class:`StackFacts` of ``stack``, read through jsii on the first call only."""
    facts = _facts_by_stack.get(stack)
    if facts is None:
        account, region = _account_and_region(stack)
        partition = stack.partition
        # A nested stack is deployed by its top-level stack's deploy role.
        deploying, parent = stack, stack.nested_stack_parent
        while parent is not None:
            deploying, parent = parent, parent.nested_stack_parent
        deployer = _deployer_role_arn(deploying.synthesizer)
        if deployer is not None:
            # The ARN keeps CloudFormation-style placeholders for the artifact manifest.
            deployer = (
                deployer.replace("${AWS::Partition}", partition)
                .replace("${AWS::AccountId}", account)
                .replace("${AWS::Region}", region)
            )
        roots = _account_roots.get((account, partition))
        if roots is None:
            # One resolve for the three forms (each jsii call is a round-trip).
            forms = [principals.account_root().arn, iam.AccountPrincipal(account).arn, account]
            roots = tuple(stack.resolve(forms))
            if not is_token(account):
                _account_roots[account, partition] = roots
        facts = _facts_by_stack[stack] = StackFacts(
            account,
            region,
            partition,
            deployer,
            roots,
            _deployer_unknown(deploying.synthesizer) if deployer is None else "",
        )
    return facts


# The account root's forms depend only on a literal account ID and the stack's partition, so
# every stack of an account shares them: four round trips fewer for each stack after the first.
_account_roots: dict[tuple[str, str], tuple[Any, ...]] = {}
_UNKNOWN_ENVIRONMENT_PARTS = ("unknown-account", "unknown-region")


def _account_and_region(stack: Stack) -> tuple[str, str]:
    """The stack's account and Region, in one read of ``aws://<account>/<region>`` where both
    are literal; each is read on its own (a token) otherwise."""
    account, _, region = str(stack.environment).removeprefix("aws://").partition("/")
    if account in _UNKNOWN_ENVIRONMENT_PARTS or region in _UNKNOWN_ENVIRONMENT_PARTS:
        return stack.account, stack.region
    return account, region


def _deployer_role_arn(synthesizer: object) -> str | None:
    """The CloudFormation execution role ARN of a DefaultStackSynthesizer; None for other
    synthesizers, and for one given to the stack as ``synthesizer=DefaultStackSynthesizer(...)``:
    the stack binds a copy of it, and jsii hands Python back the unbound original, whose getter
    throws (``CloudFormationExecutionRoleArnGetterOnlyCalled``)."""
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        return None
    try:
        return synthesizer.cloud_formation_execution_role_arn
    except RuntimeError:
        return None


def _deployer_unknown(synthesizer: object) -> str:
    """Why the role of ``synthesizer`` cannot be read, naming the setting that made it so."""
    if isinstance(synthesizer, DefaultStackSynthesizer):
        return (
            "its DefaultStackSynthesizer was given explicitly, as Stack(synthesizer=...) or "
            "App(default_stack_synthesizer=...): the stack binds a copy of it and jsii hands "
            "Python back the unbound original, whose role it cannot read; set a bootstrap "
            "qualifier through the '@aws-cdk/core:bootstrapQualifier' context instead, or pass "
            "deployer="
        )
    return (
        f"its synthesizer, {type(synthesizer).__name__}, names no CloudFormation execution role; "
        "pass deployer="
    )


def user_actions(key_usage: str, key_spec: str) -> tuple[str, ...]:
    """The actions a key user needs, chosen from the key's usage (and spec, for RSA)."""
    if key_usage == "ENCRYPT_DECRYPT":
        if key_spec == "SYMMETRIC_DEFAULT":
            return actions.ENCRYPT_DECRYPT_ACTIONS
        return actions.ASYMMETRIC_ENCRYPT_DECRYPT_ACTIONS
    if key_usage == "SIGN_VERIFY":
        return actions.SIGN_VERIFY_ACTIONS
    if key_usage == "GENERATE_VERIFY_MAC":
        return actions.GENERATE_VERIFY_MAC_ACTIONS
    if key_usage == "KEY_AGREEMENT":
        return actions.KEY_AGREEMENT_ACTIONS
    raise ConstructPropError("key_usage", "is not a KMS key usage", key_usage)


def admin_actions(origin: str) -> tuple[str, ...]:
    """Management actions; keys with imported material add the import actions."""
    if origin == "EXTERNAL":
        return tuple(sorted(actions.ADMIN_ACTIONS + actions.IMPORT_ADMIN_ACTIONS))
    return actions.ADMIN_ACTIONS


WILDCARD_PRINCIPAL = (
    "must not hold a wildcard principal, with conditions or without (name the roles, or add a "
    "statement for '*' through 'statements' with a condition that limits the caller, such as "
    "aws:PrincipalOrgID)"
)
WILDCARD_USER = (
    "must not hold a wildcard principal without "
    + CALLER_CONDITION_RULE
    + " (name the roles, or give '*' such a condition: iam.OrganizationPrincipal('o-...'), "
    "iam.AnyPrincipal().with_conditions(...))"
)
MIXED_CONDITIONS = (
    "must hold principals with the same conditions: they share one statement, whose Condition "
    "applies to all of them, compared as CDK compares them, key order included (give the "
    "others a statement of their own through 'statements', or write the conditions in one order)"
)
WILDCARD_IN_DENY = (
    "must not hold wildcards ('*' or '?') in the principal ARNs of a Deny statement: IAM does "
    "not match them in a Principal (Access Analyzer: 'Unsupported wildcard in principal'), so "
    "the Deny would not deny the principals the pattern seems to name (name each role, or deny "
    "'*' with an ArnLike condition on aws:PrincipalArn)"
)
GROUP_PRINCIPAL = (
    'must not name an IAM group: KMS refuses a key policy naming one ("IAM user groups are '
    'not a valid principal in any policy type"); name its roles or users, or attach an IAM '
    "policy to the group for a key with KeyPolicy.default()"
)
WILDCARD_IN_ARN = (
    "must not hold wildcards ('*' or '?') in principal ARNs: IAM does not match them in a "
    "Principal (name each role, or add a statement for the account root with an ArnLike "
    "condition on aws:PrincipalArn through 'statements')"
)

SERVICE_ADMIN = (
    "must not hold an AWS service principal: the statement gives management of the key "
    "(kms:PutKeyPolicy among it), which no service needs (name the roles that administer the "
    "key; give a service use of it through service_principals=[KeyServicePrincipal...])"
)
SERVICE_WITHOUT_SOURCE = (
    "must not let an AWS service principal in without "
    + SOURCE_CONDITION_RULE
    + ": without one the service uses the key for any customer who points it at a resource "
    "encrypted under it (the confused deputy)."
)


# How an EventBridge target on a topic or queue encrypted under the key needs no key policy
# statement for the service: the refusal of a direct grant and the warning about CDK's own say it.
_EVENTS_TARGET_REMEDY = (
    "targets.SnsTopic(topic, authorize_using_role=True) (the rule's role, not the service, uses "
    "the key), or for targets.SqsQueue the feature flag "
    "@aws-cdk/aws-events:eventsTargetQueueSameAccount (aws:SourceAccount)"
)


def unlimited_service_remedies(services: Sequence[str]) -> str:
    """What to do about an Allow for ``services`` without a source condition, per service where
    the toolkit knows one that does not stop delivery (its :class:`KeyServicePrincipal`
    helpers), else the generic advice: never a condition the service's KMS requests may not
    carry (EventBridge's to an encrypted SNS topic carry neither aws:SourceAccount nor
    aws:SourceArn)."""
    remedies: list[str] = []
    for service in dict.fromkeys(services):
        prefix = service.split(".", 1)[0]
        if service == EVENTBRIDGE:
            remedy = (
                "for events.amazonaws.com: KeyServicePrincipal.publisher(service="
                "'events.amazonaws.com', destination='sns' or 'sqs') in service_principals "
                "(encryption context of the key's topics or queues; EventBridge's KMS requests "
                "for an encrypted topic carry no aws:SourceAccount or aws:SourceArn), "
                + _EVENTS_TARGET_REMEDY
            )
        elif service == "cloudtrail.amazonaws.com":
            remedy = f"for {service}: KeyServicePrincipal.cloudtrail(trail_arn=...)"
        elif prefix == "logs":
            remedy = f"for {service}: KeyServicePrincipal.cloudwatch_logs(log_group_name=...)"
        elif service == DNSSEC_SERVICE:
            remedy = f"for {service}: KeyServicePrincipal.route53_dnssec(hosted_zone_ids=...)"
        else:
            remedy = (
                f"for {service}: KeyServicePrincipal.publisher(service='{service}', "
                "destination='sns' or 'sqs', source_arn_pattern=...) if it publishes to the "
                "key's topics or queues, or a condition its KMS requests carry (its "
                "documentation says which: aws:SourceArn, aws:SourceAccount or an encryption "
                "context)"
            )
        remedies.append(remedy)
    return (
        "Use " + "; ".join(remedies or ["the KeyServicePrincipal of the service"]) + ", in "
        "service_principals=[...] or add_service_principal(...), which write the conditions AWS "
        "documents, or give the principal such a condition "
        "(iam.ServicePrincipal(...).with_conditions(...), grant(..., conditions=...))"
    )


def cdk_grant_remedies(services: Sequence[str]) -> str:
    """What takes away a statement aws-cdk-lib's own construct wrote through ``.key`` for
    ``services`` with no source condition (the user cannot add one to its call): for EventBridge
    targets, the rule's role or the feature flag; for any other service, nothing aws-cdk-lib
    offers: review it and acknowledge the warning."""
    remedies = []
    for service in dict.fromkeys(services):
        if service == EVENTBRIDGE:
            remedies.append(f"for events.amazonaws.com: {_EVENTS_TARGET_REMEDY}")
        else:
            remedies.append(
                f"for {service}: aws-cdk-lib's construct takes no condition for it; if the key "
                "is only used for resources of this account, review the statement and "
                "acknowledge the warning: Annotations.of(key).acknowledge_warning("
                "'kmskit:serviceWithoutSource', '<reason>')"
            )
    return (
        "Use "
        + "; ".join(remedies)
        + ". A KeyServicePrincipal statement of the key does not take it away: it may be "
        "limited to another topic, queue or source than the one CDK granted for"
    )


def shown_principal(principal: iam.IPrincipal) -> str:
    """A principal as CDK writes it for people (``ServicePrincipal(s3.amazonaws.com)``): the
    service of a ``ServicePrincipal`` is a token in what it renders."""
    to_string = getattr(principal, "to_string", None)
    return str(to_string()) if callable(to_string) else repr(principal)


def check_service_source(
    prop: str, principals: Sequence[iam.IPrincipal], principal: Any, condition: Any
) -> None:
    """Refuse an Allow for an AWS service whose ``condition`` does not limit its source
    (:func:`kmskit.policy_conditions.limits_source`), naming ``prop`` and ``principals`` (the
    statement's principal objects). ``principal``: what they render (CDK's ``principal_json``,
    or a statement's ``Principal``)."""
    if services_named(principal) and not limits_source(condition):
        named = [str(s) for p in principals for s in _services_of(p)]
        raise ConstructPropError(
            prop,
            f"{SERVICE_WITHOUT_SOURCE} {unlimited_service_remedies(named)}",
            ", ".join(map(shown_principal, principals))
            + " with "
            + (f"Condition {json.dumps(condition, default=str)}" if condition else "no Condition"),
        )


def _services_of(principal: iam.IPrincipal) -> list[str]:
    """The services a principal object names by name (a ``ServicePrincipal``, also inside a
    ``CompositePrincipal`` or wrapped with conditions); what it renders holds tokens."""
    service = getattr(principal, "service", None)
    if isinstance(service, str):
        return [service]
    inner = getattr(principal, "principals", None) or []
    wrapped = getattr(principal, "wrapped", None)
    return [
        s for p in [*inner, *([wrapped] if wrapped is not None else [])] for s in _services_of(p)
    ]


def check_statement_sources(prop: str, statement: iam.PolicyStatement) -> None:
    """:func:`check_service_source` for the principals of an Allow ``statement``."""
    rendered = statement.to_statement_json()
    if rendered.get("Effect") == "Allow":
        check_service_source(
            prop, statement.principals, rendered.get("Principal"), rendered.get("Condition")
        )


def to_principal(
    prop: str,
    value: iam.IPrincipal | str,
    *,
    conditioned_wildcard: bool = False,
    administers: bool = False,
    item: str | None = None,
) -> iam.IPrincipal:
    """A principal object, or an IAM ARN string (``arn:aws:iam::111111111111:role/Admin``).

    Wildcards are refused: ``*`` (anyone) here, and ``*``/``?`` inside an ARN, which IAM does
    not match in a ``Principal`` (Access Analyzer: "Unsupported wildcard in principal").
    ``conditioned_wildcard`` (users, service users): ``*`` is taken with conditions of its own
    that limit the caller (:func:`kmskit.policy_conditions.caller_limits`), such as
    ``iam.OrganizationPrincipal``'s ``aws:PrincipalOrgID``. Default: False (administrators and
    the deployer: never ``*``). An AWS service principal is refused when ``administers``
    (administrators, the deployer; default: False), and otherwise taken only with conditions
    of its own that limit its source (:func:`check_service_source`). ``item``: what the
    service-principal errors name, such as ``users[2]``. Default: ``prop``.
    """
    wildcard = WILDCARD_USER if conditioned_wildcard else WILDCARD_PRINCIPAL
    if isinstance(value, str):
        require(value != "*", prop, wildcard, value)
        require(
            is_token(value) or bool(PRINCIPAL_ARN.match(value)),
            prop,
            "must hold IAM principals or principal ARNs",
            value,
        )
        require(not has_wildcard(value), prop, WILDCARD_IN_ARN, value)
        require(not is_group_arn(value), prop, GROUP_PRINCIPAL, value)
        return iam.ArnPrincipal(value)
    require(
        hasattr(value, "policy_fragment"),  # jsii interfaces are not runtime-checkable
        prop,
        "must hold IAM principals or principal ARNs",
        value,
    )
    # Decided on what the principal renders, not its class: a wrapped AnyPrincipal
    # (AnyPrincipal().with_conditions(...)) is "*" all the same.
    fragment = value.policy_fragment
    rendered = fragment.principal_json
    if services_named(rendered):
        if administers:
            raise ConstructPropError(item or prop, SERVICE_ADMIN, shown_principal(value))
        check_service_source(item or prop, [value], rendered, fragment.conditions)
    if names_everyone(rendered):
        conditions = fragment.conditions
        if conditioned_wildcard and caller_limits(conditions) is not None:
            return value
        raise ConstructPropError(
            prop,
            wildcard,
            f"* with conditions {json.dumps(conditions, default=str)}" if conditions else "*",
        )
    arn = None
    if isinstance(value, iam.AccountPrincipal):  # its ARN is a token: check the account itself
        account = value.account_id
        require(
            not (isinstance(account, str) and (account == "*" or has_wildcard(account))),
            prop,
            wildcard,
            account,
        )
    if isinstance(value, iam.ArnPrincipal):  # also AccountPrincipal, whose ARN is a token
        arn = value.arn  # one jsii read, for ArnPrincipal objects only
        require(arn != "*", prop, wildcard, arn)
        require(not (isinstance(arn, str) and has_wildcard(arn)), prop, WILDCARD_IN_ARN, arn)
    if isinstance(value, iam.CompositePrincipal):
        for inner in value.principals:
            to_principal(
                prop,
                inner,
                conditioned_wildcard=conditioned_wildcard,
                administers=administers,
                item=item,
            )
    group = group_named_by(value, arn)
    require(group is None, prop, GROUP_PRINCIPAL, group)
    return value


def _check_same_conditions(prop: str, listed: Sequence[iam.IPrincipal]) -> None:
    """Refuse principals of one statement with different conditions (CDK would fail at synth:
    "All principals in a PolicyStatement must have the same Conditions"). Compared as CDK
    compares them, as JSON text: the same conditions in another key order differ."""
    conditions = [json.dumps(p.policy_fragment.conditions, default=str) for p in listed]
    for condition in conditions[1:]:
        require(
            condition == conditions[0], prop, MIXED_CONDITIONS, f"{conditions[0]} and {condition}"
        )


def is_group_arn(value: Any) -> bool:
    """True for an IAM group ARN (``arn:aws:iam::111111111111:group/Ops``), its partition or
    account possibly tokens; a group ARN that is a token as a whole is not known."""
    return isinstance(value, str) and bool(GROUP_ARN.match(value))


def group_named_by(principal: iam.IPrincipal, arn: Any = None) -> Any:
    """What names an IAM group in ``principal`` (no key policy may name one), or None: a group
    construct's ARN (its path, when the ARN is a token), or a group ARN that an
    :class:`aws_iam.ArnPrincipal` (``arn``: its ARN, when the caller has read it already) or a
    :class:`aws_iam.CompositePrincipal` holds."""
    if hasattr(principal, "group_arn"):  # iam.Group, or one imported by ARN
        group_arn = principal.group_arn
        if is_token(group_arn) and hasattr(principal, "node"):
            return principal.node.path
        return group_arn
    if isinstance(principal, iam.ArnPrincipal):
        arns = [principal.arn if arn is None else arn]
    elif isinstance(principal, iam.CompositePrincipal):
        named = principal.policy_fragment.principal_json.get("AWS", [])
        arns = list(named) if isinstance(named, list) else [named]
    else:
        arns = []
    return next((a for a in arns if is_group_arn(a)), None)


@dataclass(frozen=True)
class KeyPermission:
    """One statement's worth of permission: a Sid, actions and conditions (principals apart)."""

    sid: str
    actions: tuple[str, ...]
    conditions: Mapping[str, Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class ExternalAccount:
    """Another account (or named principals in it) allowed to use the key.

    Args:
        account_id: the 12-digit account ID.
        principal_arns: principals of that account to name in the key policy. Default: the
            account's root, which delegates the decision to that account's IAM policies.
        via_services: service prefixes such as ``"ec2"`` or ``"rds"``; when given, use is only
            allowed through those services in the key's Region (``kms:ViaService``). Default: any.
        require_caller_account: add ``kms:CallerAccount`` = ``account_id``. Default: False.
        allow_grants: also allow CreateGrant/ListGrants/RevokeGrant for AWS resources, which
            EBS and RDS need to copy or restore a shared snapshot. Default: True.
        use_actions: the ``kms:`` actions of the use statement, a subset of what the key's usage
            allows (e.g. ``SNAPSHOT_KEY_ACTIONS``: what EBS and RDS call to copy a shared
            snapshot, no ``kms:Encrypt``). Default: every use action of the key's usage and spec.

    ``require_caller_account`` and ``allow_grants`` must be True or False.
    """

    account_id: str
    principal_arns: tuple[str, ...] = ()
    via_services: tuple[str, ...] = ()
    require_caller_account: bool = False
    allow_grants: bool = True
    use_actions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_account_id("external_accounts", self.account_id)
        # A string would be read one character at a time; a list would make the value unhashable.
        arns = check_sequence("principal_arns", self.principal_arns, "principal ARN strings")
        services = check_sequence("via_services", self.via_services, "service prefixes")
        use = check_sequence("use_actions", self.use_actions, "kms: actions")
        object.__setattr__(self, "principal_arns", arns)
        object.__setattr__(self, "via_services", services)
        object.__setattr__(self, "use_actions", use)
        for action in use:
            require(
                isinstance(action, str) and action.startswith("kms:") and "*" not in action,
                "use_actions",
                "must hold kms: actions without wildcards, such as 'kms:Decrypt'",
                action,
            )
        # Any truthy value would do for a flag: allow_grants="no" would allow grants.
        for name in ("require_caller_account", "allow_grants"):
            value = getattr(self, name)
            require(isinstance(value, bool), name, "must be True or False", value)
        for arn in arns:
            require(isinstance(arn, str), "principal_arns", "must hold principal ARN strings", arn)
            match = ARN_ACCOUNT.match(arn)
            require(
                is_token(arn) or (match is not None and match.group(2) == self.account_id),
                "external_accounts",
                f"principal ARNs must belong to account {self.account_id}",
                arn,
            )
            require(not has_wildcard(arn), "external_accounts", WILDCARD_IN_ARN, arn)
            require(not is_group_arn(arn), "external_accounts", GROUP_PRINCIPAL, arn)
        for service in self.via_services:
            require(
                isinstance(service, str) and bool(re.fullmatch(r"[a-z0-9-]+", service)),
                "via_services",
                "must hold service prefixes such as 'ec2' or 'rds'",
                service,
            )

    @classmethod
    def parse(
        cls,
        value: ExternalAccount | iam.AccountPrincipal | str,
        prop: str = "external_accounts",
    ) -> ExternalAccount:
        """Accept an ExternalAccount, an account ID, a principal ARN or an AccountPrincipal."""
        if isinstance(value, ExternalAccount):
            return value
        if isinstance(value, iam.AccountPrincipal):
            return cls(account_id=check_account_id(prop, value.account_id))
        if isinstance(value, str):
            match = ARN_ACCOUNT.match(value)
            if match:
                return cls(account_id=match.group(2), principal_arns=(value,))
            return cls(account_id=check_account_id(prop, value))
        raise ConstructPropError(
            prop, "must hold account IDs, principal ARNs or ExternalAccount", value
        )

    def principals(self) -> list[iam.IPrincipal]:
        """The principals the key policy names: the given ARNs, or the account's root."""
        if self.principal_arns:
            return [iam.ArnPrincipal(arn) for arn in self.principal_arns]
        return [iam.AccountPrincipal(self.account_id)]

    def conditions(self, ctx: KeyContext) -> dict[str, dict[str, Any]]:
        string_equals: dict[str, Any] = {}
        if self.via_services:
            string_equals["kms:ViaService"] = [
                f"{service}.{ctx.region}.amazonaws.com" for service in self.via_services
            ]
        if self.require_caller_account:
            string_equals["kms:CallerAccount"] = self.account_id
        return {"StringEquals": string_equals} if string_equals else {}

    def permissions(self, ctx: KeyContext, index: int = 0) -> list[KeyPermission]:
        """AWS's documented pair for another account: the user statement and the grant one.

        The Sids end with the account ID, or with ``index`` (the account's place in
        ``external_accounts``) when the ID is a token, so that each Sid is unique.
        """
        conditions = self.conditions(ctx)
        suffix = self.account_id if not is_token(self.account_id) else str(index)
        allowed = user_actions(ctx.key_usage, ctx.key_spec)
        for action in self.use_actions:
            require(
                action in actions.explicit(allowed),
                "use_actions",
                f"must be among the actions of a {ctx.key_usage} {ctx.key_spec} key "
                f"({', '.join(allowed)})",
                action,
            )
        result = [
            KeyPermission(
                sid=f"ExternalUse{suffix}",
                actions=self.use_actions or allowed,
                conditions=conditions or None,
            )
        ]
        if self.allow_grants:
            result.append(
                KeyPermission(
                    sid=f"ExternalGrants{suffix}",
                    actions=actions.GRANT_ACTIONS,
                    conditions={**conditions, **actions.GRANT_FOR_AWS_RESOURCE_CONDITION},
                )
            )
        return result


def _check_one_entry_per_account(externals: Sequence[ExternalAccount]) -> None:
    """Each account once: two entries would repeat its statement Sids (KMS wants them unique)."""
    seen: set[str] = set()
    for external in externals:
        account = external.account_id
        if is_token(account):
            continue  # unknown until deploy; its Sids carry its index instead
        require(
            account not in seen,
            "external_accounts",
            "must name each account once (several principals of one account go in one "
            "ExternalAccount(account_id=..., principal_arns=(...)))",
            account,
        )
        seen.add(account)


# Called with the key's context and a suffix for the statements' Sids ("" for the first
# principal of its kind on a key, "2", "3", ... for the next).
StatementFactory = Callable[[KeyContext, str], list[iam.PolicyStatement]]


@dataclass(frozen=True)
class KeyServicePrincipal:
    """An AWS service allowed to use the key, with the conditions AWS documents for it (or,
    :meth:`cloudtrail_log_reader`, another account reading what CloudTrail encrypted).

    Build one with the class methods. ``kind`` names the statements' Sids (the same for two
    trails), ``identity`` the arguments: a key renders each identity once, and a second one of
    the same kind with numbered Sids (KMS refuses a key policy that repeats a Sid).
    """

    service: str
    render: StatementFactory = field(compare=False, repr=False)
    kind: str = field(default="", compare=False)
    identity: tuple[Any, ...] = field(default=(), compare=False)

    @classmethod
    def cloudtrail(
        cls,
        *,
        trail_arn: str,
        log_readers: ListOrTuple[iam.IPrincipal | str] = (),
    ) -> KeyServicePrincipal:
        """CloudTrail encrypting log files for one trail (``aws:SourceArn``).

        CloudTrail also gets ``kms:Decrypt``, which it needs to create or update a trail that
        delivers to a bucket with an S3 Bucket Key ("If you are using an existing S3 bucket with
        an S3 Bucket Key, kms:Decrypt permissions are required to create or update a trail with
        SSE-KMS encryption enabled", CloudTrail user guide, "Configure AWS KMS key policies for
        CloudTrail"); every :class:`~constructs_lib.encrypted_bucket.EncryptedBucket` has one.
        AWS documents that statement without conditions; ``aws:SourceArn``, where the request
        carries it, limits it to this trail.

        Args:
            trail_arn: the trail's ARN (``arn:aws:cloudtrail:<region>:<account>:trail/<name>``,
                no wildcards: it is matched with StringEquals). Build it from the trail name
                (CloudFormation would otherwise see a cycle: the trail needs the key, the key
                policy the trail).
            log_readers: principals that may decrypt the log files, of any account (that
                account's IAM policy must allow them too). Default: the key's own account root
                with ``kms:CallerAccount`` of that account, so IAM policies in the account
                decide. Either way limited to CloudTrail encryption context.
        """
        require(
            isinstance(trail_arn, str)
            and (is_token(trail_arn) or bool(TRAIL_ARN.match(trail_arn))),
            "trail_arn",
            "must be a trail ARN (arn:aws:cloudtrail:<region>:<account>:trail/<name>)",
            trail_arn,
        )
        check_sequence("log_readers", log_readers, "IAM principals or ARNs")

        def render(ctx: KeyContext, suffix: str) -> list[iam.PolicyStatement]:
            trail_context = f"arn:{ctx.partition}:cloudtrail:*:{ctx.account}:trail/*"
            service = principals.service("cloudtrail.amazonaws.com")
            readers = [
                to_principal("log_readers", r)
                for r in check_sequence("log_readers", log_readers, "IAM principals or ARNs")
            ]
            reader_conditions: dict[str, dict[str, Any]] = {
                "Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"}
            }
            if not readers:
                # kms:CallerAccount is the reader's own account: only the default (this
                # account's root) may be held to the key's account; a named reader of another
                # account would never match.
                readers = [principals.account_root()]
                reader_conditions = {
                    "StringEquals": {"kms:CallerAccount": ctx.account},
                    **reader_conditions,
                }
            # (Sid, principals, actions, conditions) of each statement, on every key resource.
            statements: list[tuple[str, list[Any], Sequence[str], dict[str, Any]]] = [
                (
                    "AllowCloudTrailToEncryptLogs",
                    [service],
                    actions.CLOUDTRAIL_ENCRYPT_ACTIONS,
                    {
                        "StringEquals": {"aws:SourceArn": trail_arn},
                        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context},
                    },
                ),
                (
                    "AllowCloudTrailToDescribeKey",
                    [service],
                    actions.CLOUDTRAIL_DESCRIBE_ACTIONS,
                    {"StringEquals": {"aws:SourceArn": trail_arn}},
                ),
                (
                    "AllowCloudTrailLogDecryption",
                    readers,
                    actions.CLOUDTRAIL_LOG_READER_ACTIONS,
                    reader_conditions,
                ),
                (
                    "AllowCloudTrailToDecryptWithS3BucketKey",
                    [service],
                    actions.CLOUDTRAIL_BUCKET_KEY_ACTIONS,
                    {"StringEqualsIfExists": {"aws:SourceArn": trail_arn}},
                ),
            ]
            return [
                iam.PolicyStatement(
                    sid=sid + suffix,
                    principals=who,
                    actions=list(what),
                    resources=["*"],
                    conditions=conditions,
                )
                for sid, who, what, conditions in statements
            ]

        return cls(
            service="cloudtrail.amazonaws.com",
            render=render,
            kind="cloudtrail",
            identity=(trail_arn, *log_readers),
        )

    @classmethod
    def cloudtrail_log_reader(cls, *, account: str, trail_account: str) -> KeyServicePrincipal:
        """Another account (a central audit account) decrypting the CloudTrail log files of
        ``trail_account``'s trails, and nothing else: its root, held to ``kms:CallerAccount`` of
        that account (its IAM policies decide who), limited to CloudTrail's encryption context.

        Each account once per key; a second one gets a numbered Sid
        (``AllowCentralAuditAccountToDecryptLogs2``).
        """
        check_account_id("account", account)
        check_account_id("trail_account", trail_account)

        def render(ctx: KeyContext, suffix: str) -> list[iam.PolicyStatement]:
            return [
                iam.PolicyStatement(
                    sid=f"AllowCentralAuditAccountToDecryptLogs{suffix}",
                    principals=[iam.ArnPrincipal(f"arn:{ctx.partition}:iam::{account}:root")],
                    actions=list(actions.CENTRAL_LOG_READER_ACTIONS),
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:CallerAccount": account},
                        "StringLike": {
                            "kms:EncryptionContext:aws:cloudtrail:arn": (
                                f"arn:{ctx.partition}:cloudtrail:*:{trail_account}:trail/*"
                            )
                        },
                    },
                )
            ]

        return cls(
            service="cloudtrail.amazonaws.com",
            render=render,
            kind="cloudtrail-log-reader",
            identity=(account, trail_account),
        )

    @classmethod
    def cloudwatch_logs(cls, *, log_group_name: str | None = None) -> KeyServicePrincipal:
        """CloudWatch Logs in the key's Region: one log group, or (default) any in the account.

        ``log_group_name`` is a non-empty name, which may end in ``*`` for a set of groups.
        """
        require(
            log_group_name is None or (isinstance(log_group_name, str) and bool(log_group_name)),
            "log_group_name",
            "must be a log group name (or None for any log group of the account)",
            log_group_name,
        )

        def render(ctx: KeyContext, suffix: str) -> list[iam.PolicyStatement]:
            group = log_group_name if log_group_name is not None else "*"
            return [
                iam.PolicyStatement(
                    sid=f"AllowCloudWatchLogs{suffix}",
                    principals=[principals.service(f"logs.{ctx.region}.amazonaws.com")],
                    actions=list(actions.CLOUDWATCH_LOGS_ACTIONS),
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account}:log-group:{group}"
                            )
                        }
                    },
                )
            ]

        return cls(
            service="logs.amazonaws.com", render=render, kind="logs", identity=(log_group_name,)
        )

    @classmethod
    def publisher(
        cls,
        *,
        service: str,
        destination: str,
        source_arn_pattern: str | None = None,
    ) -> KeyServicePrincipal:
        """An AWS service publishing to an encrypted SNS topic or SQS queue in the key's account.

        Args:
            service: the publishing service principal, e.g. ``cloudwatch.amazonaws.com`` (alarms)
                or ``events.amazonaws.com`` (EventBridge rules).
            destination: ``"sns"`` or ``"sqs"``; selects the encryption-context key
                (``aws:sns:topicArn`` / ``aws:sqs:arn``) limited to the key's account and Region.
            source_arn_pattern: ``aws:SourceArn`` pattern for the publishing resources. Default:
                any resource of that service in the key's account (and Region, where its ARNs
                have one): :func:`publisher_source_arn` (``arn:aws:<service>:<region>:<account>:*``,
                or the shape of :data:`PUBLISHER_SOURCE_ARNS` for S3 buckets, budgets, Cost
                Anomaly Detection and RDS event notifications).

        EventBridge publishing to an SNS topic is the exception: its KMS requests carry neither
        ``aws:SourceAccount`` nor ``aws:SourceArn`` (SNS developer guide, "Adding the
        aws:SourceAccount and aws:SourceArn to a AWS KMS policy is not supported for
        EventBridge-to-encrypted topics"), so that statement is limited by the encryption
        context alone, and a ``source_arn_pattern`` for it is refused.
        """
        require(destination in ("sns", "sqs"), "destination", "must be 'sns' or 'sqs'", destination)
        check_publisher(
            "service", service, "must be a service principal ending in '.amazonaws.com'"
        )
        require(
            source_arn_pattern is None
            or (isinstance(source_arn_pattern, str) and bool(source_arn_pattern)),
            "source_arn_pattern",
            "must be an ARN pattern such as 'arn:aws:cloudwatch:eu-west-1:111111111111:alarm:*', "
            "or None",
            source_arn_pattern,
        )
        source_conditions = not (service == EVENTBRIDGE and destination == "sns")
        require(
            source_conditions or source_arn_pattern is None,
            "source_arn_pattern",
            "must be None for events.amazonaws.com publishing to SNS: the KMS requests of "
            "EventBridge-to-encrypted topics carry no aws:SourceArn, so the statement would "
            "never match",
            source_arn_pattern,
        )

        def render(ctx: KeyContext, suffix: str) -> list[iam.PolicyStatement]:
            source = source_arn_pattern or publisher_source_arn(
                service, partition=ctx.partition, region=ctx.region, account=ctx.account
            )
            context_key = "aws:sns:topicArn" if destination == "sns" else "aws:sqs:arn"
            resource = f"arn:{ctx.partition}:{destination}:{ctx.region}:{ctx.account}:*"
            sid = "Allow" + service_sid_name(service) + destination.upper() + suffix
            conditions: dict[str, dict[str, Any]] = {
                "ArnLike": {f"kms:EncryptionContext:{context_key}": resource}
            }
            if source_conditions:
                conditions = {
                    "StringEquals": {"aws:SourceAccount": ctx.account},
                    "ArnLike": {"aws:SourceArn": source, **conditions["ArnLike"]},
                }
            return [
                iam.PolicyStatement(
                    sid=sid,
                    principals=[principals.service(service)],
                    actions=list(actions.PUBLISHER_ACTIONS),
                    resources=["*"],
                    conditions=conditions,
                )
            ]

        return cls(
            service=service,
            render=render,
            kind=f"publisher:{service}:{destination}",
            identity=(source_arn_pattern,),
        )

    @classmethod
    def route53_dnssec(cls, *, hosted_zone_ids: ListOrTuple[str] = ()) -> KeyServicePrincipal:
        """Route 53 signing hosted zones with this key (DNSSEC key-signing keys).

        Two statements, as the Route 53 developer guide documents them ("Route 53 customer
        managed key permissions required for DNSSEC signing"): ``dnssec-route53.amazonaws.com``
        may ``kms:DescribeKey``, ``kms:GetPublicKey`` and ``kms:Sign`` for hosted zones of the
        key's account (``StringEquals aws:SourceAccount`` and ``ArnLike aws:SourceArn``
        ``arn:<partition>:route53:::hostedzone/<id>``), and ``kms:CreateGrant`` with
        ``kms:GrantIsForAWSResource``.

        The key must be ``ECC_NIST_P256`` with ``SIGN_VERIFY`` usage in ``us-east-1``: any other
        key is refused when the statements are added (an env-agnostic stack's Region is known
        only at deploy time, when ``CreateKeySigningKey`` would refuse a key of another Region).

        Args:
            hosted_zone_ids: the zones (``Z...``, or tokens such as ``zone.hosted_zone_id``)
                that may sign with the key. Default: any hosted zone of the key's account.
        """
        zones = check_sequence("hosted_zone_ids", hosted_zone_ids, "hosted zone IDs")
        for zone in zones:
            check_hosted_zone_id("hosted_zone_ids", zone)
        require(
            len(set(zones)) == len(zones),
            "hosted_zone_ids",
            "must name each hosted zone once",
            list(zones),
        )

        def render(ctx: KeyContext, suffix: str) -> list[iam.PolicyStatement]:
            require_dnssec_key(ctx)
            zone_arns = [
                f"arn:{ctx.partition}:route53:::hostedzone/{zone}" for zone in zones or ("*",)
            ]
            source_arn: str | list[str] = zone_arns[0] if len(zone_arns) == 1 else zone_arns
            service = principals.service(DNSSEC_SERVICE)
            return [
                iam.PolicyStatement(
                    sid=f"AllowRoute53DnssecService{suffix}",
                    principals=[service],
                    actions=list(actions.DNSSEC_SIGNING_ACTIONS),
                    resources=["*"],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": ctx.account},
                        "ArnLike": {"aws:SourceArn": source_arn},
                    },
                ),
                _grants_for_aws_resources(f"AllowRoute53DnssecToCreateGrant{suffix}", service),
            ]

        return cls(
            service=DNSSEC_SERVICE,
            render=render,
            kind="route53-dnssec",
            identity=tuple(zones),
        )

    @classmethod
    def autoscaling_service_linked_role(cls, *, suffix: str | None = None) -> KeyServicePrincipal:
        """EC2 Auto Scaling's service-linked role launching instances whose EBS volumes this key
        encrypts (EC2 Auto Scaling user guide, "Required AWS KMS key policy for use with
        encrypted volumes", example 1).

        The role, ``arn:<partition>:iam::<key's account>:role/aws-service-role/
        autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling[_<suffix>]``, gets two
        statements: use of the key (``kms:Encrypt``, ``kms:Decrypt``, ``kms:ReEncrypt*``,
        ``kms:GenerateDataKey*``, ``kms:DescribeKey``) and ``kms:CreateGrant`` with
        ``kms:GrantIsForAWSResource``, which EC2 needs to attach the volumes. A service-linked
        role's own policy cannot be changed, so the key policy must name it, whichever policy
        the key has. KMS refuses a key policy naming a role that does not exist yet: the role
        must exist before the key's policy names it (Auto Scaling creates the default one with
        the account's first Auto Scaling group; ``aws iam create-service-linked-role
        --aws-service-name autoscaling.amazonaws.com`` creates it beforehand).

        The key must be ``SYMMETRIC_DEFAULT`` (EBS encrypts with symmetric keys only): any other
        key is refused when the statements are added.

        Args:
            suffix: the custom suffix of a role created with ``--custom-suffix``: 1-35 letters,
                digits and ``_+=,.@-``. Default: none (the account's default
                ``AWSServiceRoleForAutoScaling``).
        """
        role_name = autoscaling_slr_name(suffix)

        def render(ctx: KeyContext, sid_suffix: str) -> list[iam.PolicyStatement]:
            require(
                ctx.key_spec == "SYMMETRIC_DEFAULT",
                "key_spec",
                "must be SYMMETRIC_DEFAULT for Auto Scaling's encrypted EBS volumes (EBS does "
                "not support asymmetric or HMAC keys)",
                ctx.key_spec,
            )
            role = iam.ArnPrincipal(
                f"arn:{ctx.partition}:iam::{ctx.account}:role/{AUTOSCALING_SLR_PATH}{role_name}"
            )
            return [
                iam.PolicyStatement(
                    sid=f"AllowAutoScalingServiceLinkedRoleUse{sid_suffix}",
                    principals=[role],
                    actions=list(actions.AUTOSCALING_KEY_ACTIONS),
                    resources=["*"],
                ),
                _grants_for_aws_resources(
                    f"AllowAutoScalingServiceLinkedRoleGrants{sid_suffix}", role
                ),
            ]

        return cls(
            service="autoscaling.amazonaws.com",
            render=render,
            kind="autoscaling-service-linked-role",
            identity=(suffix,),
        )


def _grants_for_aws_resources(sid: str, principal: iam.IPrincipal) -> iam.PolicyStatement:
    """``kms:CreateGrant`` for ``principal``, only for grants to AWS resources (the statement a
    service that attaches the key to its own resources needs)."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[principal],
        actions=list(actions.CREATE_GRANT_ACTIONS),
        resources=["*"],
        conditions=actions.GRANT_FOR_AWS_RESOURCE_CONDITION,
    )


def autoscaling_slr_name(suffix: Any) -> str:
    """The name of EC2 Auto Scaling's service-linked role with ``suffix`` (the ``suffix``
    prop, checked): ``AWSServiceRoleForAutoScaling`` or ``..._<suffix>``."""
    require(
        suffix is None or (isinstance(suffix, str) and bool(AUTOSCALING_SLR_SUFFIX.match(suffix))),
        "suffix",
        "must be 1-35 letters, digits and '_+=,.@-' (IAM role names are at most 64 "
        f"characters: {AUTOSCALING_SLR_NAME}_<suffix>), or None for the default role",
        suffix,
    )
    return AUTOSCALING_SLR_NAME + (f"_{suffix}" if suffix is not None else "")


def check_hosted_zone_id(prop: str, value: Any) -> str:
    """A Route 53 hosted zone ID (``Z0123456789ABCDEFGHIJ``); tokens pass through."""
    require(
        isinstance(value, str) and (is_token(value) or bool(HOSTED_ZONE_ID.match(value))),
        prop,
        "must hold Route 53 hosted zone IDs: 'Z' and 1-31 upper-case letters and digits, "
        "such as 'Z0123456789ABCDEFGHIJ' (not the zone's name or ARN)",
        value,
    )
    return str(value)


def require_dnssec_key(ctx: KeyContext) -> None:
    """Refuse a key Route 53 cannot sign hosted zones with (Route 53 developer guide, "Working
    with customer managed keys for DNSSEC"): ECC_NIST_P256, SIGN_VERIFY, in us-east-1. A Region
    known only at deploy time (an env-agnostic stack) is not checked."""
    require(
        ctx.key_spec == DNSSEC_KEY_SPEC,
        "key_spec",
        f"must be {DNSSEC_KEY_SPEC} for DNSSEC",
        ctx.key_spec,
    )
    require(
        ctx.key_usage == DNSSEC_KEY_USAGE,
        "key_usage",
        f"must be {DNSSEC_KEY_USAGE} for DNSSEC",
        ctx.key_usage,
    )
    require(
        is_token(ctx.region) or ctx.region == DNSSEC_REGION,
        "region",
        f"must be {DNSSEC_REGION} for DNSSEC: Route 53 signs only with keys in US East "
        "(N. Virginia); put the key's stack there",
        ctx.region,
    )


class ServiceStatements:
    """The service principals' statements of one key: each identity once, Sids unique."""

    def __init__(self) -> None:
        self._identities: dict[str, list[tuple[Any, ...]]] = {}

    def render(self, service: KeyServicePrincipal, ctx: KeyContext) -> list[iam.PolicyStatement]:
        """``service``'s statements, or none if the key already has them."""
        identities = self._identities.setdefault(service.kind or service.service, [])
        if service.identity in identities:
            return []
        identities.append(service.identity)
        return service.render(ctx, "" if len(identities) == 1 else str(len(identities)))


@dataclass(frozen=True)
class KeyPolicy:
    """Who may do what with a key. Build it with :meth:`default` or :meth:`custom`."""

    delegates_to_iam: bool
    admins: tuple[iam.IPrincipal, ...] = ()
    users: tuple[iam.IPrincipal, ...] = ()
    service_users: tuple[iam.IPrincipal, ...] = ()
    external_accounts: tuple[ExternalAccount, ...] = ()
    service_principals: tuple[KeyServicePrincipal, ...] = ()
    statements: tuple[iam.PolicyStatement, ...] = ()
    deployer: iam.IPrincipal | str | None = None

    @classmethod
    def default(cls) -> KeyPolicy:
        """The AWS default key policy: the owning account's root gets ``kms:*``.

        Everyone in the account whom IAM allows can use and manage the key.
        """
        return cls(delegates_to_iam=True)

    @classmethod
    def custom(
        cls,
        *,
        admins: ListOrTuple[iam.IPrincipal | str] = (),
        users: ListOrTuple[iam.IPrincipal | str] = (),
        service_users: ListOrTuple[iam.IPrincipal | str] = (),
        external_accounts: ListOrTuple[ExternalAccount | iam.AccountPrincipal | str] = (),
        service_principals: ListOrTuple[KeyServicePrincipal] = (),
        statements: ListOrTuple[iam.PolicyStatement] = (),
        deployer: iam.IPrincipal | str | None = STACK_DEPLOYER,
    ) -> KeyPolicy:
        """Named roles and no blanket root ``kms:*``.

        Args:
            admins: manage the key (including ``kms:PutKeyPolicy``) without use actions; with
                ``kms:PutKeyPolicy`` (and ``kms:ReplicateKey``) they can still give themselves
                use, which only an SCP or a permissions boundary prevents. No AWS service
                principal. Default: none.
            users: use the key; actions follow its usage. An AWS service principal only with
                conditions of its own that limit its source (see ``statements``). Default: none.
            service_users: may create grants for AWS resources (EBS, RDS, ...); a service
                principal as in ``users``. Default: none.
            external_accounts: other accounts or their principals: user and grant statements,
                optionally narrowed by ``kms:ViaService``/``kms:CallerAccount``
                (see :class:`ExternalAccount`). Default: none.
            service_principals: AWS services with their documented conditions. Default: none.
            statements: extra statements, added last. An Allow for an AWS service principal
                must carry a condition that limits its source
                (:data:`kmskit.policy_conditions.SOURCE_CONDITION_RULE`: the confused deputy);
                :class:`KeyServicePrincipal` writes the ones AWS documents. Default: none.
            deployer: who deploys the key with CloudFormation. KMS refuses to create a key
                whose policy would not let the caller call ``kms:PutKeyPolicy`` later, and
                CloudFormation updates the policy with the same role, so that role gets the
                management actions (never use of the key). Default: the CloudFormation
                execution role of the stack's ``DefaultStackSynthesizer`` (for a multi-Region
                key, that role in every Region, which creates the replicas). A principal or
                ARN names someone else; None adds nobody (then ``admins`` or ``statements`` must
                keep ``kms:PutKeyPolicy`` for the deploying principal).
        """
        if deployer is not None and deployer != STACK_DEPLOYER:
            deployer = to_principal("deployer", deployer, administers=True)
        principal_lists = {
            prop: tuple(
                to_principal(
                    prop,
                    p,
                    conditioned_wildcard=prop != "admins",
                    administers=prop == "admins",
                    item=f"{prop}[{index}]",
                )
                for index, p in enumerate(
                    check_sequence(prop, value, "IAM principals or principal ARNs")
                )
            )
            for prop, value in (
                ("admins", admins),
                ("users", users),
                ("service_users", service_users),
            )
        }
        for prop, listed in principal_lists.items():
            _check_same_conditions(prop, listed)
        externals = tuple(
            ExternalAccount.parse(a)
            for a in check_sequence(
                "external_accounts",
                external_accounts,
                "account IDs, principal ARNs or ExternalAccount",
            )
        )
        _check_one_entry_per_account(externals)
        services = check_sequence_of(
            "service_principals",
            service_principals,
            KeyServicePrincipal,
            "KeyServicePrincipal",
            "must hold KeyServicePrincipal objects (KeyServicePrincipal.cloudtrail(...), ...)",
        )
        extra = check_sequence_of(
            "statements",
            statements,
            iam.PolicyStatement,
            "aws_iam.PolicyStatement",
            "must hold aws_iam.PolicyStatement objects",
        )
        for index, statement in enumerate(extra):
            check_statement_sources(f"statements[{index}]", statement)
        return cls(
            delegates_to_iam=False,
            admins=principal_lists["admins"],
            users=principal_lists["users"],
            service_users=principal_lists["service_users"],
            external_accounts=externals,
            service_principals=services,
            statements=extra,
            deployer=deployer,
        )

    def render(
        self, ctx: KeyContext, services: ServiceStatements | None = None
    ) -> list[iam.PolicyStatement]:
        """The statements of this policy for a key described by ``ctx``; ``services`` keeps
        the key's service principals (default: a new one), for those added later."""
        services = services if services is not None else ServiceStatements()
        result: list[iam.PolicyStatement] = []
        if self.delegates_to_iam:
            result.append(
                iam.PolicyStatement(
                    sid="EnableIAMUserPermissions",
                    principals=[principals.account_root()],
                    actions=["kms:*"],
                    resources=["*"],
                )
            )
        deployment = self._deployer_statement(ctx)
        if deployment is not None:
            result.append(deployment)
        if self.admins:
            result.append(
                iam.PolicyStatement(
                    sid="KeyAdministration",
                    principals=list(self.admins),
                    actions=list(admin_actions(ctx.origin)),
                    resources=["*"],
                )
            )
        if self.users:
            result.append(
                iam.PolicyStatement(
                    sid="KeyUsage",
                    principals=list(self.users),
                    actions=list(user_actions(ctx.key_usage, ctx.key_spec)),
                    resources=["*"],
                )
            )
        if self.service_users:
            result.append(
                iam.PolicyStatement(
                    sid="GrantsForAwsResources",
                    principals=list(self.service_users),
                    actions=list(actions.GRANT_ACTIONS),
                    resources=["*"],
                    conditions=actions.GRANT_FOR_AWS_RESOURCE_CONDITION,
                )
            )
        for index, account in enumerate(self.external_accounts, start=1):
            for permission in account.permissions(ctx, index):
                result.append(
                    iam.PolicyStatement(
                        sid=permission.sid,
                        principals=account.principals(),
                        actions=list(permission.actions),
                        resources=["*"],
                        conditions=dict(permission.conditions) if permission.conditions else None,
                    )
                )
        for service in self.service_principals:
            result.extend(services.render(service, ctx))
        result.extend(self.statements)
        return result

    def _deployer_statement(self, ctx: KeyContext) -> iam.PolicyStatement | None:
        if self.delegates_to_iam or self.deployer is None:
            return None
        if not isinstance(self.deployer, str):
            return iam.PolicyStatement(
                sid="KeyDeployment",
                principals=[self.deployer],
                actions=list(actions.ADMIN_ACTIONS),
                resources=["*"],
            )
        # self.deployer is STACK_DEPLOYER, the default: show what was (not) given, not the marker.
        require(
            ctx.deployer_role_arn is not None,
            "deployer",
            "must name the principal that deploys the key",
            Shown(
                "(not given: the stack's CloudFormation execution role could not be determined: "
                f"{ctx.deployer_unknown or 'its synthesizer names none'})"
            ),
        )
        role_arn = str(ctx.deployer_role_arn)
        suffix = f"-{ctx.region}"
        if ctx.multi_region and role_arn.endswith(suffix):
            # Replicas are created by the same bootstrap role in their own Region.
            role_arn = role_arn[: -len(suffix)] + "-*"
        # The account root plus aws:PrincipalArn: the role need not exist when the policy is
        # checked, and it is still the only principal this statement lets in.
        return iam.PolicyStatement(
            sid="KeyDeployment",
            principals=[principals.account_root()],
            actions=list(actions.ADMIN_ACTIONS),
            resources=["*"],
            conditions={"ArnLike": {"aws:PrincipalArn": role_arn}},
        )


def policy_problems(
    document: dict[str, Any],
    *,
    custom: bool = False,
    account_roots: Sequence[Any] = (),
) -> list[str]:
    """Problems in a resolved key policy: lock-out, bare wildcards, root ``kms:*``, a Sid
    repeated, size.

    ``document`` is the policy as CloudFormation will receive it (``Stack.resolve`` output).
    ``account_roots`` are the resolved forms of the key's own account root principal, used to
    refuse ``kms:*`` for the root in a custom policy.
    """
    problems: list[str] = []
    statements = document.get("Statement", [])
    deniers = _locked_out(statements, account_roots)
    if deniers is not None:
        problems.append(
            "'policy' must leave at least one principal with kms:PutKeyPolicy, or the key is "
            "locked out for good (give it admins=[...] or a deployer). Received: "
            + (
                f"Deny statements without conditions ({', '.join(map(repr, deniers))}) take it "
                "from every principal an Allow gives it to (a Deny for '*' from everyone, one "
                "for an account root from every principal of that account)"
                if deniers
                else "no Allow statement for an IAM principal includes kms:PutKeyPolicy"
            )
        )
    for number, statement in enumerate(statements, 1):
        # IAM does not match wildcards inside a principal ARN: a Deny for
        # arn:aws:iam::111111111111:role/temp-* denies nobody, not the roles it seems to name.
        if statement.get("Effect") == "Deny" and (patterns := _wildcard_arns(statement)):
            name = _statement_name(statement, number)
            problems.append(
                f"'policy' {WILDCARD_IN_DENY}. Received: statement {name!r} with Principal "
                f"{json.dumps(patterns[0])}"
            )
        # A Deny for everyone (a guard rail such as Deny * kms:ScheduleKeyDeletion) opens nothing.
        # An Allow for everyone needs the condition on the caller that `kmskit key inventory`
        # asks of it too (one rule: kmskit.policy_conditions), or the inventory reports it PUBLIC.
        if (
            statement.get("Effect") == "Allow"
            and _has_wildcard_principal(statement)
            and caller_limits(statement.get("Condition")) is None
        ):
            element = "NotPrincipal" if "NotPrincipal" in statement else "Principal"
            condition = statement.get("Condition")
            problems.append(
                f"'policy' must not allow a wildcard principal without {CALLER_CONDITION_RULE}. "
                f"Received: statement {statement.get('Sid', '(no Sid)')!r} with {element} "
                f"{json.dumps(statement.get(element))} and "
                + (f"Condition {json.dumps(condition)}" if condition else "no Condition")
            )
        if custom and _gives_root_everything(statement, account_roots):
            problems.append(
                "'policy' KeyPolicy.custom(...) must not give the account root kms:* (that is "
                "KeyPolicy.default()). Received: statement "
                f"{statement.get('Sid', '(no Sid)')!r} with Action "
                f"{json.dumps(statement.get('Action'))}"
            )
    sids = collections.Counter(s["Sid"] for s in statements if isinstance(s.get("Sid"), str))
    for sid, count in sorted(sids.items()):
        if count > 1:
            problems.append(
                f"'policy' must not repeat a statement Sid (KMS refuses the policy with "
                f"MalformedPolicyDocumentException). Received: Sid {sid!r} in {count} statements"
            )
    size = len(json.dumps(document, separators=(",", ":")).encode())
    if size > MAX_KEY_POLICY_BYTES:
        problems.append(
            f"'policy' must be at most {MAX_KEY_POLICY_BYTES} bytes (a KMS limit that cannot be "
            f"raised). Received: {size} bytes"
        )
    return problems


def _locked_out(
    statements: Sequence[dict[str, Any]], account_roots: Sequence[Any]
) -> list[str] | None:
    """None while a principal keeps ``kms:PutKeyPolicy``; otherwise the names (Sid, or ``#N``)
    of the Deny statements that took it from the principals Allow statements give it to (none
    when no Allow statement for an IAM principal covers it). ``Action`` patterns and
    ``NotAction`` are read as IAM reads them; only Deny statements without conditions count.
    A Deny for ``*`` takes it from everyone; one for an account root (or account ID) from every
    principal of that account; one for another principal from that principal (one whose ARN
    holds a wildcard from nobody: IAM does not match it, and :func:`policy_problems` refuses
    it). ``account_roots`` are the resolved forms of the key's own account root; a principal
    known only at deploy time (a role of the key's stack) is of the key's account."""
    own_ids = {r for r in account_roots if isinstance(r, str) and ACCOUNT_ID.match(r)}

    def account(principal: Any) -> Any:
        if not isinstance(principal, str) or principal in account_roots:
            return OWN_ACCOUNT
        named = account_of(principal)
        return OWN_ACCOUNT if named in own_ids else named

    allowed = [
        principal
        for statement in statements
        if statement.get("Effect") == "Allow" and actions.covers(statement, actions.PUT_KEY_POLICY)
        for principal in _aws_principals(statement)
    ]
    kept = list(allowed)
    deniers: list[str] = []
    for number, statement in enumerate(statements, 1):
        if (
            statement.get("Effect") != "Deny"
            or statement.get("Condition")
            or "NotPrincipal" in statement  # a Deny for everyone *but* some leaves those
            or not actions.covers(statement, actions.PUT_KEY_POLICY)
        ):
            continue
        named = _aws_principals(statement)
        denied_accounts = {
            account(p)
            for p in named
            if p in account_roots or (isinstance(p, str) and ROOT_OR_ACCOUNT.match(p))
        }
        remaining = [
            p
            for p in kept
            if "*" not in named and p not in named and account(p) not in denied_accounts
        ]
        if len(remaining) < len(kept):
            deniers.append(_statement_name(statement, number))
        kept = remaining
    return None if kept else deniers


def _statement_name(statement: dict[str, Any], number: int) -> str:
    """A statement's Sid, or ``#N`` (its position, from 1) when it has none."""
    return str(statement.get("Sid") or f"#{number}")


def _aws_principals(statement: dict[str, Any]) -> list[Any]:
    """The ``AWS`` principals of a statement's ``Principal`` (resolved: strings, or
    CloudFormation intrinsics for ARNs known at deploy time)."""
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    return as_list(principal.get("AWS", []))


def _has_wildcard_principal(statement: dict[str, Any]) -> bool:
    """Anyone (``"*"`` under any principal key: ``AWS``, ``Federated``, ``Service``...), an
    ARN with a wildcard (``arn:aws:iam::*:root``, also in an intrinsic as it will be deployed:
    ``AccountPrincipal("*")`` renders ``{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
    ":iam::*:root"]]}``), or NotPrincipal (everyone but the principals it names)."""
    if "NotPrincipal" in statement:
        return True
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return names_everyone(principal) or any(map(holds_wildcard, _aws_principals(statement)))
    return False


def _wildcard_arns(statement: dict[str, Any]) -> list[Any]:
    """The ``AWS`` principals of a statement's ``Principal`` that hold a wildcard (``*`` or
    ``?``) in an ARN as they may be deployed: in an intrinsic's literal text, in a value
    substituted into it, in a branch of an ``Fn::If`` (:func:`kmskit.policy_conditions.
    holds_wildcard`); ``"*"`` itself is not one."""
    return [named for named in _aws_principals(statement) if holds_wildcard(named, everyone=False)]


def _gives_root_everything(statement: dict[str, Any], account_roots: Sequence[Any]) -> bool:
    if statement.get("Effect") != "Allow" or statement.get("Condition"):
        return False
    principal = statement.get("Principal")
    if not isinstance(principal, dict):
        return False
    named = as_list(principal.get("AWS", []))
    granted = {a for a in as_list(statement.get("Action", [])) if isinstance(a, str)}
    return bool(granted & {"*", "kms:*"}) and any(p in account_roots for p in named)
