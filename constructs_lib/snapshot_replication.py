"""Snapshot replication between Regions and accounts: EBS, RDS and Aurora.

:class:`SnapshotReplicator` (in the source account) copies every snapshot tagged with
``selection_tag`` to each destination Region, re-encrypted with that Region's key. For a
destination in another account it makes a *staging* copy in the destination Region with a
sharing key of this account, shares it, and announces it on the target account's receiver bus.
:class:`SnapshotReceiver` (in the target account) copies what a source account shared,
re-encrypting it with its own key (and, optionally, on to other Regions), then tells the source
to unshare the staging copy.

Both run the same Lambda package (``lambda_src/snapshot_replicator``) with the copy engine of
``kmskit.snapshots``; the asset is staged here, deterministically and without Docker. See
docs/snapshots.md.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Aws, Duration, Names, Reference, RemovalPolicy, Tokenization
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from constructs_lib import _durations as durations
from constructs_lib import _lambda_assets as lambda_assets
from constructs_lib import _names as names
from constructs_lib import _principals as principals
from constructs_lib._kms_actions import QUEUE_KEY_ACTIONS, SNAPSHOT_KEY_ACTIONS
from constructs_lib._validation import (
    RECEIVER_MIN_RETENTION_DAYS,
    RECEIVER_RETENTION_REASON,
    REPLICATION_RETENTION_DAYS,
    ConstructPropError,
    check_account_id,
    check_range,
    check_region,
    check_sequence,
    check_unique,
    is_token,
    require,
    shown,
    stack_label,
    token_shape,
)
from constructs_lib.alarm_topic import (
    AlarmTopic,
    require_alarm_topic,
    require_key_in_region,
    require_topic_in_region,
)
from constructs_lib.compliance import acknowledge, acknowledge_all
from constructs_lib.iam import split_statements
from constructs_lib.key_policy import KeyServicePrincipal, StackFacts, stack_facts, stack_of
from constructs_lib.keys import CustomerManagedKey, ReplicaKey, key_construct
from kmskit.aws_names import partition as aws_partition
from kmskit.aws_tags import tag_key_problem, valid_tag_value
from kmskit.snapshots.model import (
    COPY_TAG_KEYS,
    EVENT_SOURCE,
    KINDS,
    RECEIVED_TAG_KEYS,
    RECEIVER_BUS_NAME,
    REPLICATOR_BUS_NAME,
    STAGING_TAG_KEYS,
    TAG_DELIVERED,
    TAG_REPLICATOR,
    copy_tags_problem,
)

ROOT = lambda_assets.ROOT
PACKAGE = "snapshot_replicator"
# What the Lambda asset holds: the handler package and the kmskit engine modules it imports.
ASSET_SOURCES: tuple[tuple[Path, str], ...] = (
    (ROOT / "lambda_src" / PACKAGE, PACKAGE),
    (ROOT / "kmskit" / "__init__.py", "kmskit/__init__.py"),
    (ROOT / "kmskit" / "clients.py", "kmskit/clients.py"),
    (ROOT / "kmskit" / "errors.py", "kmskit/errors.py"),  # clients.py raises its UsageError
    (ROOT / "kmskit" / "aws_names.py", "kmskit/aws_names.py"),  # snapshots.model's patterns
    (ROOT / "kmskit" / "aws_tags.py", "kmskit/aws_tags.py"),  # and its tag rules
    (ROOT / "kmskit" / "snapshots", "kmskit/snapshots"),
)
RUNTIME = lambda_assets.RUNTIME
ARCHITECTURE = lambda_assets.ARCHITECTURE

# The exact EventBridge patterns AWS documents for these events (docs/snapshots.md). The EBS
# rule matches both EBS detail types: "EBS Snapshot Notification" (createSnapshot, copySnapshot,
# shareSnapshot) and "EBS Multi-Volume Snapshots Completion Status" (createSnapshots: the sets
# CreateSnapshots and Data Lifecycle Manager instance policies make). No event of one detail type
# carries an event name of the other, so one rule is the union of the two documented patterns.
EBS_PATTERN: dict[str, Any] = {
    "source": ["aws.ec2"],
    "detail-type": ["EBS Snapshot Notification", "EBS Multi-Volume Snapshots Completion Status"],
    "detail": {
        "event": ["createSnapshot", "createSnapshots", "copySnapshot", "shareSnapshot"],
        "result": ["succeeded", "failed"],
    },
}
RDS_PATTERN: dict[str, Any] = {
    "source": ["aws.rds"],
    "detail-type": ["RDS DB Snapshot Event"],
    "detail": {"EventID": ["RDS-EVENT-0042", "RDS-EVENT-0091", "RDS-EVENT-0060", "RDS-EVENT-0197"]},
}
AURORA_PATTERN: dict[str, Any] = {
    "source": ["aws.rds"],
    "detail-type": ["RDS DB Cluster Snapshot Event"],
    "detail": {"EventID": ["RDS-EVENT-0075", "RDS-EVENT-0169"]},
}
# \Z, not $: "$" also matches before a final newline, which no key ID or tag key holds.
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):key/[A-Za-z0-9-]+\Z")
# A key ARN with deploy-time parts, each token written as <token> (token_shape); the literal
# Region or account is checked, a <token> one is not (it passes _check_key_place).
_TOKEN_KEY_ARN = re.compile(
    r"^arn:(?:<token>|aws[a-z-]*):kms:(<token>|[a-z0-9-]+):(<token>|[0-9]{12}):key/\S+\Z"
)
MAX_DESTINATIONS = 10
COPIER_TIMEOUT_MINUTES = 2
COPIER_TIMEOUT = durations.minutes(COPIER_TIMEOUT_MINUTES)
COPIER_CONCURRENCY = 2  # SQS event sources need at least 2
DEFAULT_RETENTION = durations.days(14)
# CloudWatch evaluates an alarm with hourly periods over at most 7 days (PutMetricAlarm: Period
# times EvaluationPeriods at most 604,800 seconds).
MAX_HOURLY_PERIODS = 168
DEFAULT_SWEEP_INTERVAL = durations.hours(1)
DEFAULT_SWEEP_WINDOW = durations.days(1)
DEFAULT_MAX_MESSAGE_AGE = durations.hours(6)


@dataclass(frozen=True)
class ReplicationDestination:
    """Where copies go.

    Args:
        region: the destination Region.
        kms_key_arn: a key of the replicator's account in ``region``. Same account: the copies
            are encrypted with it. Another ``account``: the staging copy that is shared with
            that account is encrypted with it, so its key policy must let that account in
            (``KeyPolicy.custom(external_accounts=[ExternalAccount(...)])``); the receiver then
            re-encrypts with its own key. Required.
        account: the destination account. Default: the replicator's own account.
    """

    region: str
    kms_key_arn: str | None = None
    account: str | None = None


def _stage_asset() -> str:
    """The snapshot functions' staged asset folder (:func:`constructs_lib._lambda_assets.stage`)."""
    return lambda_assets.stage(PACKAGE, ASSET_SOURCES)


# The functions' policy statements are IAM JSON until the policy is made: one call into the jsii
# runtime per policy (PolicyDocument.from_json) instead of several per statement, and the wildcard
# acknowledgments read the resources here rather than back from the runtime.
_Statement = dict[str, Any]


def _statement(
    *,
    sid: str,
    actions: list[str],
    resources: list[str],
    conditions: dict[str, Any] | None = None,
) -> _Statement:
    """An Allow statement, as IAM JSON (the keywords of ``iam.PolicyStatement``)."""
    statement: _Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    }
    if conditions:
        statement["Condition"] = conditions
    return statement


def _document(statements: Sequence[_Statement]) -> iam.PolicyDocument:
    return iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": list(statements)})


def _granting(statements: Sequence[_Statement]) -> list[_Statement]:
    """``statements`` without those a subset of ``resource_types`` left with no action or no
    resource."""
    return [s for s in statements if s["Action"] and s["Resource"]]


def _db_actions(kinds: Sequence[str], rds: str, aurora: str) -> list[str]:
    """The RDS action ``rds`` for DB snapshots and ``aurora`` for cluster snapshots, of the
    configured ``kinds``."""
    return [action for kind, action in (("RDS", rds), ("AURORA", aurora)) if kind in kinds]


def _db_arns(kinds: Sequence[str], prefix: str, name: str) -> list[str]:
    """``prefix:snapshot:name`` (RDS) and ``prefix:cluster-snapshot:name`` (Aurora), of the
    configured ``kinds``."""
    return [
        f"{prefix}:{resource}:{name}"
        for kind, resource in (("RDS", "snapshot"), ("AURORA", "cluster-snapshot"))
        if kind in kinds
    ]


def _via_services(kinds: Sequence[str], regions: Sequence[str]) -> list[str]:
    """kms:ViaService values for the snapshot services of ``kinds`` in ``regions``: EC2 for
    EBS, RDS for RDS and Aurora."""
    services = [
        service
        for service, wanted in (("ec2", {"EBS"}), ("rds", {"RDS", "AURORA"}))
        if wanted & set(kinds)
    ]
    return sorted(f"{service}.{region}.amazonaws.com" for service in services for region in regions)


def _ebs_share_conditions(accounts: Sequence[str]) -> dict[str, Any]:
    """EBS copies are shared only with ``accounts``, and never made public.

    EC2 names the accounts and groups a ModifySnapshotAttribute request adds in the multivalued
    keys ec2:Add/userId and ec2:Add/group; requests that only remove (unsharing a delivered
    copy) carry neither. RDS has no such key: its sharing is limited by the
    runtime only (docs/snapshots.md)."""
    if not accounts:
        return {"Null": {"ec2:Add/userId": "true", "ec2:Add/group": "true"}}
    return {
        "ForAllValues:StringEquals": {"ec2:Add/userId": sorted(accounts)},
        "Null": {"ec2:Add/group": "true"},
    }


def _only_tag_keys(keys: Iterable[str]) -> dict[str, Any]:
    """A tagging request may carry only ``keys`` (``aws:TagKeys``, each as written).

    StringEquals compares the keys with case, so a key that differs from one of them only in
    case (``KMSKIT:Replicator``) is refused, although IAM matches the tag key of an
    ``aws:RequestTag/<key>`` condition without case. ForAllValues holds for a request with no
    tags at all: the statements that use this also require a tag they name to be present."""
    return {"ForAllValues:StringEquals": {"aws:TagKeys": sorted(set(keys))}}


def _copy_conditions(regions: Iterable[str], tag_keys: Sequence[str]) -> dict[str, Any]:
    """A copy (``ec2:CopySnapshot``, ``rds:CopyDBSnapshot``, ``rds:CopyDBClusterSnapshot``) is
    made in ``regions`` and may request ``tag_keys`` only (:func:`_only_tag_keys`, the keys of
    the tag-on-create statements: a copy requesting any other key is refused by the copy action
    itself, not only by its tagging).

    EC2 and RDS both take ``aws:TagKeys`` (and ``aws:RequestTag/<key>``) on these actions
    (Service Authorization Reference); the statements that use this cover the source snapshot
    as well as the new one, which a request tag condition would have to hold for. ForAllValues
    does for either: with no request tags in the source's context it holds (an empty set), with
    the request's tags they are the copy's. So nothing here requires a tag to be present: a copy
    without tags passes, and the tag-on-create statements require ``kmskit:replicator``."""
    return {
        "StringEquals": {"aws:RequestedRegion": sorted(set(regions))},
        **_only_tag_keys(tag_keys),
    }


def _tag_rds_copies_statement(
    partition: str,
    account: str,
    regions: list[str],
    replicator_id: str,
    kinds: Sequence[str],
    *,
    tag_keys: Sequence[str],
) -> _Statement:
    """Tag the RDS and Aurora copies this replicator makes (kmskit-* identifiers) as they are
    created, with its own ``kmskit:replicator`` value and ``tag_keys`` only (those its copies
    are created with: see :meth:`_ReplicationBase._creation_tag_keys`).

    RDS has no condition key for tagging on create (EC2's ``ec2:CreateAction``), so the tags a
    copy is created with are authorized as ``rds:AddTagsToResource`` on the new snapshot. An
    untagged snapshot is the closest IAM gets to "new": without ``Null`` on the existing tag,
    a copier could put its own ``kmskit:replicator`` value on another replicator's copy and then
    delete it (``DeleteOwnRdsCopies`` goes by that tag)."""
    return _statement(
        sid="TagRdsCopiesOnCreate",
        actions=["rds:AddTagsToResource"],
        resources=_db_arns(kinds, f"arn:{partition}:rds:*:{account}", "kmskit-*"),
        conditions={
            "StringEquals": {
                "aws:RequestedRegion": regions,
                f"aws:RequestTag/{TAG_REPLICATOR}": replicator_id,
            },
            **_only_tag_keys(tag_keys),
            "Null": {f"aws:ResourceTag/{TAG_REPLICATOR}": "true"},
        },
    )


@jsii.implements(events.IRuleTarget)
class _QueueTarget:
    """EventBridge -> encrypted SQS queue, allowed only for the rules that target it.

    ``targets.SqsQueue`` would add an unconditioned key-policy grant for EventBridge; here the key
    policy gets the documented publisher statement, and :meth:`allow_rules` gives each queue one
    statement naming every rule bound to it.
    """

    def __init__(self, queue: sqs.Queue, dead_letter_queue: sqs.Queue) -> None:
        self.queue = queue
        self.dead_letter_queue = dead_letter_queue
        # Read once: every bind returns them, and each read is a call into the jsii runtime.
        self._queue_arn = queue.queue_arn
        self._dead_letter_queue_arn = dead_letter_queue.queue_arn

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self._queue_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self._dead_letter_queue_arn
            ),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=86400, maximum_retry_attempts=185
            ),
            target_resource=self.queue,
        )

    def allow_rules(self, rules: Sequence[events.Rule]) -> None:
        """Let EventBridge send to both queues for ``rules`` (call once, with every rule that
        targets them)."""
        rule_arns = [rule.rule_arn for rule in rules]
        for queue, arn in (
            (self.queue, self._queue_arn),
            (self.dead_letter_queue, self._dead_letter_queue_arn),
        ):
            queue.add_to_resource_policy(
                iam.PolicyStatement.from_json(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
                    }
                )
            )


_NAG_TOKENS = {
    Aws.PARTITION: "<AWS::Partition>",
    Aws.ACCOUNT_ID: "<AWS::AccountId>",
    Aws.REGION: "<AWS::Region>",
}
# Why each kind of wildcard resource is needed: (marker in the ARN, mode or "", reason). First
# match wins; every reason is a row of docs/compliance.md.
_WILDCARD_REASONS: tuple[tuple[str, str, str], ...] = (
    (
        "",
        "*",
        "{describe} and X-Ray trace writes have no resource-level permissions; describe is "
        "limited to the replication Regions by aws:RequestedRegion",
    ),
    (
        ":ec2:*::snapshot/*",
        "",
        "EBS snapshot IDs are assigned when a copy starts; copy and tag-on-create are limited "
        "to the replication Regions, delete (and, for the replicator, share and tag) to "
        "snapshots tagged with this replicator's kmskit:replicator value, sharing to its "
        "destination accounts (ec2:Add/userId, never public), and copying and tagging to the "
        "tag keys the functions send (aws:TagKeys)",
    ),
    (
        "snapshot:kmskit-s-*",
        "",
        "staging copies shared by the source accounts get deterministic kmskit-s-* identifiers "
        "at run time; the receiver may only copy them, in its own Region and with the tag keys "
        "its functions send (aws:TagKeys)",
    ),
    (
        "snapshot:kmskit-*",
        "",
        "RDS and Aurora copies get deterministic kmskit-* identifiers at run time; copy is "
        "limited to that prefix and the replication Regions, tagging on create to untagged new "
        "copies given this replicator's kmskit:replicator value, share, tag and delete to copies "
        "already tagged with it, and copying and tagging to the tag keys the functions send "
        "(aws:TagKeys)",
    ),
    (
        "snapshot:*",
        "",
        "any DB or cluster snapshot of this account in the source Region may carry the "
        "selection tag at run time; the replicator only reads it as the source of a copy",
    ),
    (
        ":key/*",
        "replicator",
        "a selected snapshot may be encrypted with any key of this account in its Region "
        "({managed_keys} included); use is limited to {services} in that Region by "
        "kms:ViaService",
    ),
    (
        ":key/*",
        "receiver",
        "the source accounts' sharing keys are chosen in their accounts; use is limited to "
        "{services} in this Region by kms:ViaService, and their key policies must name this "
        "account",
    ),
    (
        ":event-bus/",
        "",
        "the receiver learns the replicator's Region from each notice; PutEvents is limited to "
        "the kmskit-snapshot-replicator bus of the source accounts",
    ),
)


def _wildcard_reason(resource: str, mode: str, kinds: Sequence[str]) -> str:
    for marker, scope, reason in _WILDCARD_REASONS:
        if scope == "*":
            if resource == "*":
                return _for_kinds(reason, kinds)
            continue
        if marker in resource and scope in ("", mode):
            return _for_kinds(reason, kinds)
    raise ValueError(f"no reason recorded for the wildcard resource {resource}")


def _for_kinds(reason: str, kinds: Sequence[str]) -> str:
    """``reason`` naming only the services, describe actions and AWS managed keys of ``kinds``
    (an EBS-only replicator's acknowledgment does not speak of RDS)."""
    rds_describe = "/".join(
        action
        for kind, action in (
            ("RDS", "DescribeDBSnapshots"),
            ("AURORA", "DescribeDBClusterSnapshots"),
        )
        if kind in kinds
    )
    has_ebs, has_rds = "EBS" in kinds, bool(rds_describe)
    pairs = (
        (has_ebs, "EC2", "ec2:DescribeSnapshots", "aws/ebs"),
        (has_rds, "RDS", f"rds:{rds_describe}", "aws/rds"),
    )
    used = [(service, describe, key) for wanted, service, describe, key in pairs if wanted]
    return reason.format(
        services=" and ".join(service for service, _, _ in used),
        describe=", ".join(describe for _, describe, _ in used),
        managed_keys=" and ".join(key for _, _, key in used),
    )


def _acknowledge_wildcards(
    policy: iam.ManagedPolicy, statements: Sequence[_Statement], mode: str, kinds: Sequence[str]
) -> None:
    """Acknowledge AwsSolutions-IAM5 for each wildcard resource of ``policy``, with its reason."""
    rules_by_reason: dict[str, list[str]] = {}
    for statement in statements:
        for resource in statement["Resource"]:
            if "*" not in resource:
                continue
            rule_resource = resource
            for token, placeholder in _NAG_TOKENS.items():
                rule_resource = rule_resource.replace(token, placeholder)
            rules = rules_by_reason.setdefault(_wildcard_reason(resource, mode, kinds), [])
            rule = f"AwsSolutions-IAM5[Resource::{rule_resource}]"
            if rule not in rules:
                rules.append(rule)
    if rules_by_reason:
        acknowledge_all(policy, [(rules, reason) for reason, rules in rules_by_reason.items()])


def _check_kinds(resource_types: Sequence[str]) -> tuple[str, ...]:
    require(
        isinstance(resource_types, list | tuple) and len(resource_types) > 0,
        "resource_types",
        "must be a non-empty list of 'EBS', 'RDS' and 'AURORA'",
        resource_types,
    )
    for kind in resource_types:
        require(kind in KINDS, "resource_types", "must hold only 'EBS', 'RDS' and 'AURORA'", kind)
    check_unique("resource_types", resource_types)
    return tuple(resource_types)


def _whole_duration(prop: str, value: Any, unit: str) -> int:
    """A Duration of a whole number of ``unit`` (``"minutes"`` or ``"seconds"``), in that unit.

    One jsii call, as ``to_minutes()`` was; ``to_human_string`` only to word an error.
    """
    require(
        isinstance(value, Duration), prop, "must be a Duration such as Duration.hours(1)", value
    )
    amount = durations.literal_amount(prop, value, unit)  # refuses a deploy-time value
    if not float(amount).is_integer():
        raise ConstructPropError(prop, f"must be a whole number of {unit}", value.to_human_string())
    return int(amount)


def _check_key_arn(
    prop: str,
    arn: Any,
    *,
    region: str,
    account: str | None,
    partition: str | None = None,
    where: str = "the destination Region",
) -> str:
    """A key ARN in ``region`` and ``account`` (None: of any account), and of ``partition``
    when known (default None: not checked; a token is not checked either)."""
    require(arn is not None, prop, "must be given (the key copies are encrypted with)", arn)
    require(isinstance(arn, str), prop, "must be a KMS key ARN", arn)
    if is_token(arn):
        check_token_key_arn(prop, arn, region=region, account=account, where=where)
        return str(arn)
    match = KEY_ARN.match(arn)
    require(
        match is not None,
        prop,
        "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias)",
        arn,
    )
    assert match is not None
    key_region = match.group(1)
    if not is_token(key_region):
        require(
            arn.split(":")[1] == aws_partition(key_region),
            prop,
            f"must be a key ARN of the partition of its Region ({key_region} is in "
            f"{aws_partition(key_region)}): no such key can exist",
            arn,
        )
    if partition is not None and not is_token(partition):
        require(
            arn.split(":")[1] == partition,
            prop,
            f"must be a key ARN of this stack's partition {partition} (a key of another "
            "partition cannot be used from here)",
            arn,
        )
    _check_key_place(
        prop, match.group(1), match.group(2), arn, region=region, account=account, where=where
    )
    return str(arn)


def _known_partition(region: str) -> str | None:
    """The partition of a stack's Region, None when the Region is known only at deploy time
    (``Stack.partition`` is a token either way)."""
    return None if is_token(region) else aws_partition(region)


def _check_key_place(
    prop: str,
    key_region: str | None,
    key_account: str | None,
    received: Any,
    *,
    region: str,
    account: str | None,
    where: str,
) -> None:
    """The key is in ``region`` and ``account``, each checked where both sides are known
    (``None``: a part of the key's ARN known only at deploy time; an ``account`` of None takes
    any)."""
    if key_region is not None and not is_token(region) and not is_token(key_region):
        require(key_region == region, prop, f"must be a key in {where} {region}", received)
    if (
        account is not None
        and key_account is not None
        and not is_token(account)
        and not is_token(key_account)
    ):
        require(
            key_account == account,
            prop,
            f"must be a key of this stack's account {account}",
            received,
        )


def check_token_key_arn(
    prop: str, arn: str, *, region: str, account: str | None, where: str
) -> None:
    """A key ARN known only at deploy time, checked as far as synth can.

    ``key.key_arn`` of a key made in this App is one reference to its ``AWS::KMS::Key`` (or
    ``ReplicaKey``): its stack gives the key's Region and account, also across stacks and
    Regions (``cross_region_references``). ``key.key_id`` refers to the same resource by ``Ref``
    and an alias's ``key_arn`` is the alias ARN: EC2 and RDS would refuse either only when a
    copy runs. Other deploy-time values (parameters, imports) pass. The string's shape is read
    here; jsii is asked only for a string that is a single token.
    """
    shape = token_shape(arn)
    if shape == "<token>":
        fragments = Tokenization.reverse_string(arn)
        (token,) = fragments.tokens
        if not isinstance(token, Reference):
            return
        target = token.target
        if isinstance(target, kms.CfnAlias):
            raise ConstructPropError(
                prop, "must be a KMS key ARN (key.key_arn), not an alias", target.node.path
            )
        if not isinstance(target, kms.CfnKey | kms.CfnReplicaKey):
            return
        if token.display_name != "Arn":  # Ref: the key ID
            raise ConstructPropError(
                prop,
                "must be a KMS key ARN (key.key_arn), not a key ID (key.key_id)",
                target.node.path,
            )
        facts = stack_facts(stack_of(target))
        if (is_token(region) or is_token(facts.region) or facts.region == region) and (
            account is None
            or is_token(account)
            or is_token(facts.account)
            or facts.account == account
        ):
            return  # the same test as _check_key_place's, before the path (a round trip)
        _check_key_place(
            prop,
            facts.region,
            facts.account,
            f"{target.node.path} (account {facts.account}, {facts.region})",
            region=region,
            account=account,
            where=where,
        )
        return
    match = _TOKEN_KEY_ARN.match(shape)
    require(
        match is not None,
        prop,
        "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias: an alias's "
        "key_arn is its alias ARN, pass the key's key_arn; <token>: known at deploy time)",
        shape,
    )
    assert match is not None
    key_region, key_account = (None if part == "<token>" else part for part in match.groups())
    _check_key_place(
        prop, key_region, key_account, shape, region=region, account=account, where=where
    )


def _check_copy_tags(copy_tags: Mapping[str, str] | None) -> dict[str, str]:
    """``copy_tags`` as the Lambda gets it: literal (a token would reach the function's
    configuration unchecked) and accepted by :func:`kmskit.snapshots.model.copy_tags_problem`,
    the check the Lambda makes again when it starts."""
    if copy_tags is None:
        return {}
    if isinstance(copy_tags, Mapping):
        for key, value in copy_tags.items():
            for part in (key, value):
                require(
                    not (isinstance(part, str) and is_token(part)),
                    "copy_tags",
                    "must have literal tag keys and values, not deploy-time values",
                    part,
                )
    problem = copy_tags_problem(copy_tags)
    if problem is not None:
        raise ConstructPropError("copy_tags", *problem)
    return dict(copy_tags)


def _check_destinations(
    prop: str,
    destinations: Any,
    facts: StackFacts,
    *,
    allow_cross_account: bool,
) -> tuple[ReplicationDestination, ...]:
    require(
        isinstance(destinations, list | tuple),
        prop,
        "must be a list of ReplicationDestination",
        destinations,
    )
    require(
        len(destinations) <= MAX_DESTINATIONS,
        prop,
        f"must hold at most {MAX_DESTINATIONS} destinations",
        len(destinations),
    )
    checked = []
    for index, destination in enumerate(destinations):
        field = f"{prop}[{index}]"
        require(
            isinstance(destination, ReplicationDestination),
            field,
            "must be a ReplicationDestination",
            destination,
        )
        region = check_region(f"{field}.region", destination.region)
        account = destination.account
        if account is not None:
            require(
                allow_cross_account,
                f"{field}.account",
                "must be left out: a receiver copies only within its own account",
                account,
            )
            check_account_id(f"{field}.account", account)
            require(
                is_token(facts.account) or account != facts.account,
                f"{field}.account",
                "must be another account (leave it out for this stack's account)",
                account,
            )
        if not is_token(region) and not is_token(facts.region):
            require(
                aws_partition(region) == aws_partition(facts.region),
                f"{field}.region",
                f"must be in this stack's partition {aws_partition(facts.region)} (Region "
                f"{facts.region}): snapshots are not copied across partitions",
                region,
            )
        if account is None and not is_token(region) and not is_token(facts.region):
            require(
                region != facts.region,
                f"{field}.region",
                f"must differ from this stack's Region {facts.region} for a same-account copy",
                region,
            )
        _check_key_arn(
            f"{field}.kms_key_arn",
            destination.kms_key_arn,
            region=region,
            account=facts.account,
            partition=_known_partition(facts.region),
        )
        checked.append(destination)
    check_unique(prop, [(d.region, d.account) for d in checked])
    return tuple(checked)


class _ReplicationBase(Construct):
    """Queue, dead-letter queue, copier, sweeper, alarms: what replicator and receiver share."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        # Read once for the whole construct: each Stack.of, and each read of the stack's account,
        # Region, partition or of the node path, is a jsii round-trip.
        self._stack = stack_of(scope)
        self._facts = stack_facts(self._stack)
        self._path = self.node.path

    def _build(
        self,
        *,
        mode: str,
        resource_types: tuple[str, ...],
        encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey | None,
        alarm_topic: AlarmTopic | None,
        sweep_interval: Duration,
        max_receive_count: int,
        max_message_age: Duration,
        copy_tags: Mapping[str, str] | None,
        config: dict[str, Any],
    ) -> None:
        stack, facts = self._stack, self._facts
        self.copy_tags = _check_copy_tags(copy_tags)
        interval_minutes = check_range(
            "sweep_interval",
            _whole_duration("sweep_interval", sweep_interval, "minutes"),
            5,
            1440,
            "minutes",
        )
        self.max_receive_count = check_range(
            "max_receive_count", max_receive_count, 5, 100, "receives"
        )
        age_seconds = check_range(
            "max_message_age",
            _whole_duration("max_message_age", max_message_age, "seconds"),
            300,
            1_209_600,
            "seconds",
        )
        self.resource_types = resource_types
        self.replicator_mode = mode
        self.replicator_id = Names.unique_resource_name(self, max_length=64)
        self.encryption_key = self._queue_key(encryption_key)
        if alarm_topic is not None:
            require_alarm_topic("alarm_topic", alarm_topic)
            require_topic_in_region("alarm_topic", alarm_topic, facts.region)
        self.alarm_topic = alarm_topic or AlarmTopic(
            self, "Alarms", encryption_key=self.encryption_key
        )

        key = self.encryption_key.key
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=durations.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=durations.days(14),
            visibility_timeout=durations.minutes(COPIER_TIMEOUT_MINUTES * 6),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=self.max_receive_count, queue=self.dead_letter_queue
            ),
        )
        self.encryption_key.add_service_principal(
            KeyServicePrincipal.publisher(service="events.amazonaws.com", destination="sqs")
        )

        full_config = {
            **config,
            # Only when given: a replicator without copy tags keeps its configuration as before.
            **({"copy_tags": self.copy_tags} if self.copy_tags else {}),
            "mode": mode,
            "replicator_id": self.replicator_id,
            "account": facts.account,
            "region": facts.region,
            "partition": facts.partition,
            "resource_types": list(resource_types),
            "queue_url": self.queue.queue_url,
            "dead_letter_queue_url": self.dead_letter_queue.queue_url,
            "max_receive_count": self.max_receive_count,
            "sweep_interval_minutes": interval_minutes,
        }
        environment = {"KMSKIT_SNAPSHOT_CONFIG": stack.to_json_string(full_config)}
        code = lambda_.Code.from_asset(_stage_asset())

        self.copier_role = self._function_role(
            "CopierRole", "copies, shares and cleans up snapshots"
        )
        self.sweeper_role = self._function_role(
            "SweeperRole", "finds missed snapshots, applies retention"
        )
        self._grant_queue_key(self.copier_role, self.sweeper_role)
        self._log_prefix = f"/kmskit/snapshot-replication/{self.node.addr[:16]}"
        self.encryption_key.add_service_principal(
            KeyServicePrincipal.cloudwatch_logs(log_group_name=f"{self._log_prefix}/*")
        )
        self.copier_log_group = self._log_group("CopierLogs", "copier")
        self.sweeper_log_group = self._log_group("SweeperLogs", "sweeper")
        self.copier = self._function(
            "Copier",
            handler="handler",
            role=self.copier_role,
            log_group=self.copier_log_group,
            timeout=COPIER_TIMEOUT,
            concurrency=COPIER_CONCURRENCY,
            description="SQS copier",
            code=code,
            environment=environment,
        )
        self.event_source = event_sources.SqsEventSource(
            self.queue,
            batch_size=10,
            report_batch_item_failures=True,
            max_concurrency=COPIER_CONCURRENCY,
        )
        self.copier.add_event_source(self.event_source)
        mapping = next(
            c for c in self.copier.node.children if isinstance(c, lambda_.EventSourceMapping)
        )
        acknowledge(
            mapping,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings cannot have an on-failure destination; failed snapshot "
            "messages are dead-lettered with their reason by the copier or by the queue's "
            "redrive policy",
        )
        self.sweeper = self._function(
            "Sweeper",
            handler="sweep",
            role=self.sweeper_role,
            log_group=self.sweeper_log_group,
            timeout=durations.minutes(10),
            concurrency=1,
            description="reconciliation sweep",
            code=code,
            environment=environment,
        )
        for function in (self.copier, self.sweeper):
            acknowledge(
                function,
                (
                    "NIST.800.53.R5-LambdaInsideVPC",
                    "HIPAA.Security-LambdaInsideVPC",
                    "PCI.DSS.321-LambdaInsideVPC",
                ),
                "the snapshot copier and sweeper only call regional AWS APIs (EC2, RDS, SQS, "
                "EventBridge) in several Regions and never handle snapshot data; a VPC would "
                "need interface endpoints per service and Region and would add no data path "
                "to protect",
            )
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "this is the dead-letter queue of the snapshot replication queue; messages wait here "
            "with their failure reason until an operator redrives them, so it has no redrive "
            "policy of its own",
        )
        self.schedule = events.Rule(
            self,
            "SweepSchedule",
            schedule=events.Schedule.rate(durations.minutes(interval_minutes)),
            description="kmskit snapshot replication: reconciliation sweep",
        )
        self.schedule.add_target(
            targets.LambdaFunction(
                self.sweeper,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=2,
            )
        )
        self.rules: list[events.Rule] = []
        self._queue_target = _QueueTarget(self.queue, self.dead_letter_queue)
        self._alarms(age_seconds)

    def _queue_key(
        self, encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey | None
    ) -> CustomerManagedKey | ReplicaKey:
        """The key of the queues, log groups and alarm topic: ``encryption_key`` checked (the
        documented ``.key`` of a CustomerManagedKey or ReplicaKey stands for its owner, whose
        key policy gets the SQS, CloudWatch Logs and EventBridge statements), or a new one."""
        if encryption_key is None:
            return CustomerManagedKey(
                self,
                "Key",
                description=f"{self._path}: snapshot replication queues, logs and alarms",
            )
        stack = self._stack
        owner = key_construct(
            "encryption_key",
            encryption_key,
            "the construct adds the SQS, CloudWatch Logs and EventBridge statements to its key "
            "policy",
        )
        if not owner.policy.delegates_to_iam:
            key_stack = stack_of(owner)
            if key_stack is not stack:
                raise ConstructPropError(
                    "encryption_key",
                    f"must be in this construct's stack ({stack_label(stack)}) when it has a "
                    "custom KeyPolicy: its key policy names the copier and sweeper roles, and "
                    f"naming them from stack {stack_label(key_stack)} would make the two stacks "
                    "depend on each other. Make the key in this stack, or use one with "
                    "KeyPolicy.default()",
                    owner.node.path,
                )
        require(
            owner.key_spec == "SYMMETRIC_DEFAULT",
            "encryption_key",
            "must be a symmetric encryption key (SQS and SNS encrypt with SYMMETRIC_DEFAULT "
            "keys only)",
            owner.key_spec,
        )
        require_key_in_region("encryption_key", owner, self._facts.region, "SQS queues")
        return owner

    def allow_in_key_policy(self, key: CustomerManagedKey | ReplicaKey) -> None:
        """Name the copier in ``key``'s policy: for a key whose policy does not delegate to IAM
        (``KeyPolicy.custom``), such as a sharing key. Use is limited to the services of
        ``resource_types`` (EC2 for EBS, RDS for RDS and Aurora) in the key's Region
        (``kms:ViaService``), grants to grants for AWS resources.

        ``key`` (a :class:`CustomerManagedKey` or a :class:`ReplicaKey`) must be in this
        construct's stack: its policy names the copier role, which a key of another stack
        cannot name without the two stacks depending on each other (nor at all from another
        Region). For a key in another stack use ``KeyPolicy.default()`` (the copier's IAM policy
        names the key) and let the target account in with ``grant_to_account``.
        """
        require(
            isinstance(key, CustomerManagedKey | ReplicaKey),
            "key",
            "must be a CustomerManagedKey or a ReplicaKey",
            shown(key),
        )
        key_stack, stack = stack_of(key), self._stack
        if key_stack is not stack:
            raise ConstructPropError(
                "key",
                f"must be in the replicator's stack ({stack_label(stack)}): {key.node.path} is "
                f"in stack {stack_label(key_stack)}, and naming the copier role in its key "
                "policy would make the two stacks depend on each other (from another Region it "
                "cannot name the role at all); for a key in another stack use the default "
                "policy (KeyPolicy.default(): the copier's IAM policy names the key) and let the "
                "target account in with key.grant_to_account(ExternalAccount(account, "
                "via_services=('ec2', 'rds')))",
                key.node.path,
            )
        region = stack_facts(stack_of(key)).region
        via = {"kms:ViaService": _via_services(self.resource_types, [region])}
        sid = f"SnapshotCopier{self.node.addr[:8]}"
        key.add_to_key_policy(
            iam.PolicyStatement(
                sid=f"{sid}Use",
                principals=[self.copier_role],
                actions=list(SNAPSHOT_KEY_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": via},
            )
        )
        key.add_to_key_policy(
            iam.PolicyStatement(
                sid=f"{sid}Grants",
                principals=[self.copier_role],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={
                    "StringEquals": via,
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            )
        )

    # ------------------------------------------------------------------ pieces
    def _reserve_bus(self, bus_name: str, prop: str, requirement: str, received: Any) -> None:
        """Take the fixed event bus name in this account and Region, or refuse, naming ``prop``
        and the construct that holds the bus (a second bus of the name fails at deploy time)."""
        other, where = names.reserve(self._stack, self._facts, "event bus", bus_name, self)
        require(
            other is None,
            prop,
            f"{requirement}: {other} already holds {bus_name} within {where}",
            received,
        )

    def _grant_queue_key(self, *roles: iam.Role) -> None:
        """Let ``roles`` use the queues' key for SQS: the sweeper queues tasks, the copier
        receives, queues next steps and dead-letters, and Lambda sends a failed asynchronous
        invocation to the dead-letter queue with either role. A producer of an SSE-KMS queue
        needs ``kms:GenerateDataKey`` and ``kms:Decrypt``, a consumer ``kms:Decrypt``.

        Through the key's own grant path, so that a custom ``KeyPolicy`` names each role (with
        the default policy IAM decides, and nothing is added). The identity side is the
        ``QueueKey`` statement of each role's managed policy: the grant goes to the role
        without policy updates, so it writes no inline policy."""
        if self.encryption_key.policy.delegates_to_iam:
            return  # the roles' managed policies suffice; skip the round trips of a no-op grant
        via_sqs = {"StringEquals": {"kms:ViaService": f"sqs.{self._facts.region}.amazonaws.com"}}
        for role in roles:
            self.encryption_key.grant(
                role.without_policy_updates(), *QUEUE_KEY_ACTIONS, conditions=via_sqs
            )

    def _function_role(self, id: str, purpose: str) -> iam.Role:
        return iam.Role(
            self,
            id,
            assumed_by=principals.service("lambda.amazonaws.com"),
            description=f"{self._path}: {purpose}",
        )

    def _function(
        self,
        id: str,
        *,
        handler: str,
        role: iam.Role,
        log_group: logs.LogGroup,
        timeout: Duration,
        concurrency: int,
        description: str,
        code: lambda_.Code,
        environment: dict[str, str],
    ) -> lambda_.Function:
        """One of the two functions (copier, sweeper): same package, runtime and settings.
        ``handler`` names the module of lambda_src/snapshot_replicator whose ``handler`` runs."""
        return lambda_.Function(
            self,
            id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"{PACKAGE}.{handler}.handler",
            code=code,
            role=role.without_policy_updates(),
            environment=environment,
            timeout=timeout,
            memory_size=256,
            reserved_concurrent_executions=concurrency,
            log_group=log_group,
            dead_letter_queue=self.dead_letter_queue,
            tracing=lambda_.Tracing.ACTIVE,
            description=f"kmskit snapshot replication: {description}",
        )

    def _log_group(self, id: str, name: str) -> logs.LogGroup:
        log_group_name = f"{self._log_prefix}/{name}"
        return logs.LogGroup(
            self,
            id,
            log_group_name=log_group_name,
            encryption_key=self.encryption_key.key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _rule(
        self, id: str, pattern: dict[str, Any], bus: events.IEventBus | None = None
    ) -> events.Rule:
        rule = events.Rule(
            self,
            id,
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=pattern.get("source"),
                detail_type=pattern.get("detail-type"),
                detail=pattern.get("detail"),
                account=pattern.get("account"),
            ),
            targets=[self._queue_target],
        )
        self.rules.append(rule)
        return rule

    def _service_rules(self) -> None:
        kinds = self.resource_types
        self.ebs_rule = self._rule("EbsEvents", EBS_PATTERN) if "EBS" in kinds else None
        self.rds_rule = self._rule("RdsEvents", RDS_PATTERN) if "RDS" in kinds else None
        self.aurora_rule = self._rule("AuroraEvents", AURORA_PATTERN) if "AURORA" in kinds else None

    def _alarms(self, age_seconds: int) -> None:
        five_minutes = durations.minutes(5)
        self.dead_letter_alarm = self._alarm(
            "DeadLettersAlarm",
            "Snapshot replication messages are in the dead-letter queue: read their 'reason' "
            "attribute, fix the cause, then redrive (docs/snapshots.md).",
            self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=five_minutes, statistic="Maximum"
            ),
        )
        self.copy_failed_alarm = self._alarm(
            "CopyFailedAlarm",
            "A snapshot copy failed (for example 'Given key ID is not accessible'); the copy task "
            "is in the dead-letter queue with the reason.",
            self._metric("CopyFailed", five_minutes),
        )
        self.oldest_message_alarm = self._alarm(
            "OldestMessageAlarm",
            "A message has been in the snapshot replication queue too long (throttling or a stuck "
            "copier). Copies waiting for a copy slot are queued again every 15 minutes as new "
            "messages: WaitingForCopySlotAlarm watches those.",
            self.queue.metric_approximate_age_of_oldest_message(
                period=five_minutes, statistic="Maximum"
            ),
            threshold=age_seconds,
            evaluation_periods=3,
        )
        # A copy waiting for a slot counts WaitingForCopySlot at each wait (every 15 minutes): a
        # count in every hour for max_message_age (at least one hour; at most the 7 days an
        # alarm with hourly periods can evaluate) means copies have waited that long.
        hours = min(max(1, math.ceil(age_seconds / 3600)), MAX_HOURLY_PERIODS)
        self.waiting_for_copy_slot_alarm = self._alarm(
            "WaitingForCopySlotAlarm",
            f"Snapshot copies have waited for a copy slot in every hour for {hours} hours (EBS "
            "or RDS copy limits of a destination Region: many copies at once, or copies that "
            "do not complete). Each copy is dead-lettered after 2 days of waiting.",
            self._metric("WaitingForCopySlot", durations.hours(1)),
            evaluation_periods=hours,
        )
        self.alarms = [
            self.dead_letter_alarm,
            self.copy_failed_alarm,
            self.oldest_message_alarm,
            self.waiting_for_copy_slot_alarm,
        ]

    def _metric(self, name: str, period: Duration) -> cloudwatch.Metric:
        """The sum over ``period`` of a metric the functions emit (``kmskit/Snapshots``,
        dimension ``Replicator``: ``lambda_src/snapshot_replicator/logs.py``)."""
        return cloudwatch.Metric(
            namespace="kmskit/Snapshots",
            metric_name=name,
            dimensions_map={"Replicator": self.replicator_id},
            period=period,
            statistic="Sum",
        )

    def _alarm(
        self,
        id: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float = 1,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        """An alarm at or above ``threshold`` that notifies the alarm topic on ALARM and OK."""
        alarm = cloudwatch.Alarm(
            self,
            id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm_topic.notify(alarm)
        return alarm

    # ------------------------------------------------------------------ IAM
    def _creation_tag_keys(self, own: Sequence[str]) -> list[str]:
        """The tag keys this construct's copies are created with (the runtime's tag-on-create
        requests carry no others): the toolkit's COPY_TAG_KEYS, ``own`` (those of its kind of
        copy: STAGING_TAG_KEYS, RECEIVED_TAG_KEYS) and the keys of ``copy_tags``."""
        return sorted({*COPY_TAG_KEYS, *own, *self.copy_tags})

    def _policies(
        self,
        *,
        copy_regions: Sequence[str],
        read_regions: Sequence[str],
        copy_statements: list[_Statement],
        creation_tag_keys: Sequence[str],
        share_with: Sequence[str] = (),
    ) -> None:
        """Customer managed policies per role, as many as IAM's size quota needs (no inline
        policies). ``creation_tag_keys``: the keys the copies are tagged with as they are made
        (:meth:`_creation_tag_keys`). ``share_with``: the accounts a replicator may share its
        copies with (none: it may not share, unshare or mark any)."""
        p, region, account = self._facts.partition, self._facts.region, self._facts.account
        kinds = self.resource_types
        ebs = "EBS" in kinds
        # EC2 snapshot ARNs carry no account; with EBS left out, the EBS statements are dropped.
        ebs_arns = [f"arn:{p}:ec2:*::snapshot/*"] if ebs else []
        own_db_copies = _db_arns(kinds, f"arn:{p}:rds:*:{account}", "kmskit-*")
        regions = sorted(set(read_regions) | set(copy_regions))
        in_regions = {"StringEquals": {"aws:RequestedRegion": regions}}
        ours = {
            "StringEquals": {
                f"aws:ResourceTag/{TAG_REPLICATOR}": self.replicator_id,
                "aws:RequestedRegion": regions,
            }
        }
        queue_key = _statement(
            sid="QueueKey",
            actions=list(QUEUE_KEY_ACTIONS),
            resources=[self.encryption_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}},
        )
        describe = _statement(
            sid="DescribeSnapshots",
            actions=[
                *(["ec2:DescribeSnapshots"] if ebs else []),
                *_db_actions(kinds, "rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"),
            ],
            resources=["*"],
            conditions=in_regions,
        )
        delete_ours = _statement(
            sid="DeleteOwnCopies",
            actions=["ec2:DeleteSnapshot"],
            resources=ebs_arns,
            conditions=ours,
        )
        delete_ours_rds = _statement(
            sid="DeleteOwnRdsCopies",
            actions=_db_actions(kinds, "rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"),
            resources=own_db_copies,
            conditions=ours,
        )

        def logs_statement(group: logs.LogGroup) -> _Statement:
            return _statement(
                sid="WriteLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[group.log_group_arn],
            )

        tracing = _statement(
            sid="Tracing",
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            resources=["*"],
        )
        sweeper_statements = [
            logs_statement(self.sweeper_log_group),
            tracing,
            _statement(
                sid="QueueTasks",
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn, self.dead_letter_queue.queue_arn],
            ),
            queue_key,
            describe,
            delete_ours,
            delete_ours_rds,
        ]
        # Only a replicator with destinations in other accounts shares staging copies and tags
        # them delivered; a receiver never does, nor does a replicator that copies only within
        # its own account (RDS has no condition key on the account a snapshot is shared with,
        # so this statement would let its copier share, or make public, any RDS copy it made).
        # Marking a delivered staging copy: kmskit:delivered, sent with copy_tags (their values
        # unchanged, for an SCP that requires request tags on every tagging call) and nothing
        # else, so a copier cannot rewrite the kmskit:* tags its delete and share go by.
        mark = {
            **ours,
            **_only_tag_keys([TAG_DELIVERED, *self.copy_tags]),
            "Null": {f"aws:RequestTag/{TAG_DELIVERED}": "false"},
        }
        share_and_mark = (
            [
                _statement(
                    sid="ShareOwnEbsCopies",
                    actions=["ec2:ModifySnapshotAttribute"],
                    resources=ebs_arns,
                    conditions={**ours, **_ebs_share_conditions(share_with)},
                ),
                _statement(
                    sid="MarkOwnEbsCopiesDelivered",
                    actions=["ec2:CreateTags"],
                    resources=ebs_arns,
                    conditions=mark,
                ),
                _statement(
                    sid="ShareOwnRdsCopies",
                    actions=_db_actions(
                        kinds,
                        "rds:ModifyDBSnapshotAttribute",
                        "rds:ModifyDBClusterSnapshotAttribute",
                    ),
                    resources=own_db_copies,
                    conditions=ours,
                ),
                _statement(
                    sid="MarkOwnRdsCopiesDelivered",
                    actions=["rds:AddTagsToResource"],
                    resources=own_db_copies,
                    conditions=mark,
                ),
            ]
            if self.replicator_mode == "replicator" and share_with
            else []
        )
        copier_statements = [
            logs_statement(self.copier_log_group),
            tracing,
            _statement(
                sid="ConsumeQueue",
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility",
                    "sqs:SendMessage",
                ],
                resources=[self.queue.queue_arn],
            ),
            _statement(
                sid="DeadLetter",
                actions=["sqs:SendMessage"],
                resources=[self.dead_letter_queue.queue_arn],
            ),
            queue_key,
            describe,
            _statement(
                sid="CopyEbs",
                actions=["ec2:CopySnapshot"],
                resources=ebs_arns,
                conditions=_copy_conditions(copy_regions, creation_tag_keys),
            ),
            _statement(
                sid="TagEbsCopiesOnCreate",
                actions=["ec2:CreateTags"],
                resources=ebs_arns,
                # Its own replicator value only: a copy tagged with another replicator's would
                # be that one's to share, mark and delete (as TagRdsCopiesOnCreate). And only
                # the keys its copies are made with.
                conditions={
                    "StringEquals": {
                        "ec2:CreateAction": "CopySnapshot",
                        "aws:RequestedRegion": sorted(set(copy_regions)),
                        f"aws:RequestTag/{TAG_REPLICATOR}": self.replicator_id,
                    },
                    **_only_tag_keys(creation_tag_keys),
                },
            ),
            *share_and_mark,
            delete_ours,
            delete_ours_rds,
            *copy_statements,
        ]
        self.sweeper_policies = self._managed_policies(
            "SweeperPolicy", self.sweeper_role, _granting(sweeper_statements)
        )
        self.copier_policies = self._managed_policies(
            "CopierPolicy", self.copier_role, _granting(copier_statements)
        )
        self.sweeper_policy = self.sweeper_policies[0]
        self.copier_policy = self.copier_policies[0]
        for function, policies in (
            (self.copier, self.copier_policies),
            (self.sweeper, self.sweeper_policies),
        ):
            # The function references the role already; what it must wait for is the policy
            # (the SQS event source is checked against the role's permissions when created).
            cfn_function = function.node.default_child
            assert isinstance(cfn_function, lambda_.CfnFunction)
            depends_on = []
            for policy in policies:
                cfn_policy = policy.node.default_child
                assert isinstance(cfn_policy, iam.CfnManagedPolicy)
                depends_on.append(self._stack.get_logical_id(cfn_policy))
            cfn_function.add_override("DependsOn", depends_on)

    def _managed_policies(
        self, id: str, role: iam.IRole, statements: Sequence[_Statement]
    ) -> list[iam.ManagedPolicy]:
        """``statements`` in as many managed policies of IAM's size quota as they need (``id``,
        ``id2``, ...: one source account adds about 300 characters to a receiver's copier
        policy), each attached to ``role`` and with its wildcards acknowledged."""
        policies = []
        for number, group in enumerate(split_statements(statements), start=1):
            policy = iam.ManagedPolicy(
                self,
                id if number == 1 else f"{id}{number}",
                roles=[role],
                document=_document(group),
            )
            _acknowledge_wildcards(policy, group, self.replicator_mode, self.resource_types)
            policies.append(policy)
        return policies

    def _kms_statement(
        self, sid: str, key_arns: Sequence[str], regions: Sequence[str], *, grants: bool
    ) -> _Statement:
        """Use of ``key_arns`` only through the services of ``resource_types`` (EC2 for EBS,
        RDS for RDS and Aurora) in ``regions`` (kms:ViaService)."""
        via = _via_services(self.resource_types, regions)
        if grants:
            return _statement(
                sid=sid,
                actions=["kms:CreateGrant"],
                resources=list(key_arns),
                conditions={
                    "StringEquals": {"kms:ViaService": via},
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                },
            )
        return _statement(
            sid=sid,
            actions=list(SNAPSHOT_KEY_ACTIONS),
            resources=list(key_arns),
            conditions={"StringEquals": {"kms:ViaService": via}},
        )


class SnapshotReplicator(_ReplicationBase):
    """Copy tagged EBS, RDS and Aurora snapshots to other Regions and accounts.

    Args:
        destinations: where copies go (at most 10, each Region/account once). Required.
        resource_types: any of ``"EBS"``, ``"RDS"``, ``"AURORA"``. Default: all three.
        selection_tag: ``(key, value)`` a source snapshot must carry to be replicated.
            Default: ``("backup", "replicate")``.
        retention: copies this replicator made are deleted this long after their source was
            taken (2-3650 days, longer than ``sweep_window``). Nothing else is ever deleted.
            Default: 14 days.
        encryption_key: the CMK for the queues, log groups and alarm topic: a
            :class:`CustomerManagedKey` or :class:`ReplicaKey` of this Region, or its ``.key``
            (``encryption_key`` is then the key construct itself). With a custom
            ``KeyPolicy`` its policy names the copier and sweeper roles (``kms:Decrypt``,
            ``kms:GenerateDataKey`` through SQS), and it must be in this construct's stack.
            Default: a new rotated key (default policy).
        alarm_topic: where alarms go. Default: a new :class:`AlarmTopic` with ``encryption_key``.
        sweep_interval: how often the reconciliation sweep runs (5 minutes - 24 hours).
            Default: 1 hour.
        sweep_window: how far back the sweep looks for missed sources (1-7 days); delivered
            staging copies are deleted once their source is older. Default: 1 day.
        max_receive_count: deliveries of one message before it is dead-lettered (5-100; retry
            delays grow from 1 minute to 1 hour). Default: 24 (about 19 hours).
        max_message_age: alarm when the oldest waiting message is this old
            (``oldest_message_alarm``), and when copies have waited for a copy slot in every
            hour for this long, rounded up to whole hours, 1-168 (``waiting_for_copy_slot_alarm``:
            a wait is queued again as a new message, which the first alarm does not see).
            Default: 6 hours.
        copy_tags: tags (key to value) put on every copy this replicator makes, in the create
            request itself (``TagSpecifications`` of ``ec2:CopySnapshot``, ``Tags`` of
            ``rds:CopyDBSnapshot`` and ``rds:CopyDBClusterSnapshot``), staging copies included:
            for cost allocation, and for organisations whose SCPs require request tags
            (``aws:RequestTag/<key>``) on those calls. Literal strings as AWS allows them, keys
            not starting with ``aws:`` or ``kmskit:`` (the toolkit's own tags, which always keep
            their values), no two keys differing only in case, no value starting with ``aws:``
            or ``rds:`` (RDS refuses those), at most 39 (a copy carries up to 11 toolkit tags;
            AWS allows 50). Source snapshots' own tags are never copied. Default: None (only the
            toolkit's own ``kmskit:*`` tags).
        source_key_arns: keys of other accounts, in this stack's Region, that selected source
            snapshots are encrypted with (a central key account's, for one): the copier may use
            them as it uses this account's own keys, through EC2 and RDS in this Region only
            (``kms:ViaService``) and grants only for AWS resources. Each key's own policy must
            also admit the copier role, which only the key's account can do. Key ARNs only (no
            aliases, no key IDs), each once. Default: none (only this account's keys, every one
            of which the copier may use).

    Attributes:
        queue, dead_letter_queue, copier, sweeper, copier_role, sweeper_role, copier_policy,
        sweeper_policy (the first of ``copier_policies`` and ``sweeper_policies``: statements are
        split across several managed policies past IAM's 6,144-character quota),
        copier_log_group, sweeper_log_group, rules (``ebs_rule``, ``rds_rule``,
        ``aurora_rule``, ``received_rule``), schedule, event_bus (None without cross-account
        destinations), alarms (``dead_letter_alarm``, ``copy_failed_alarm``,
        ``oldest_message_alarm``, ``waiting_for_copy_slot_alarm``), encryption_key,
        alarm_topic, replicator_id, copy_tags (a dict, empty without ``copy_tags``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        destinations: Sequence[ReplicationDestination],
        resource_types: Sequence[str] = KINDS,
        selection_tag: tuple[str, str] = ("backup", "replicate"),
        retention: Duration = DEFAULT_RETENTION,
        encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey | None = None,
        alarm_topic: AlarmTopic | None = None,
        sweep_interval: Duration = DEFAULT_SWEEP_INTERVAL,
        sweep_window: Duration = DEFAULT_SWEEP_WINDOW,
        max_receive_count: int = 24,
        max_message_age: Duration = DEFAULT_MAX_MESSAGE_AGE,
        copy_tags: Mapping[str, str] | None = None,
        source_key_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        facts = self._facts
        kinds = _check_kinds(resource_types)
        # Any account's: this account's keys are all usable already (UseSourceKeys).
        self.source_key_arns = tuple(
            _check_key_arn(
                f"source_key_arns[{index}]",
                arn,
                region=facts.region,
                account=None,
                partition=_known_partition(facts.region),
                where="this stack's Region",
            )
            for index, arn in enumerate(
                check_sequence("source_key_arns", source_key_arns, "KMS key ARNs")
            )
        )
        check_unique("source_key_arns", self.source_key_arns)
        require(
            isinstance(selection_tag, tuple | list)
            and len(selection_tag) == 2
            and all(isinstance(part, str) for part in selection_tag),
            "selection_tag",
            "must be a (key, value) pair of strings",
            selection_tag,
        )
        tag_key, tag_value = selection_tag
        require(
            tag_key_problem(tag_key, {}) is None,
            "selection_tag",
            "must have a tag key of 1-128 letters, digits, spaces or _.:/=+-@ that does not "
            "start with 'aws:' or 'kmskit:'",
            selection_tag,
        )
        require(
            valid_tag_value(tag_value),
            "selection_tag",
            "must have a value of at most 256 letters, digits, spaces or _.:/=+-@",
            selection_tag,
        )
        self.destinations = _check_destinations(
            "destinations", destinations, facts, allow_cross_account=True
        )
        require(len(self.destinations) > 0, "destinations", "must name at least one", destinations)
        window_days = durations.check_days("sweep_window", sweep_window, 1, 7)
        retention_days = durations.check_days("retention", retention, *REPLICATION_RETENTION_DAYS)
        if retention_days <= window_days:
            raise ConstructPropError(
                "retention",
                f"must be longer than sweep_window ({window_days} days), or the sweep would copy "
                "expired snapshots again",
                retention.to_human_string(),
            )
        self.retention = retention
        self.selection_tag = (tag_key, tag_value)
        self._build(
            mode="replicator",
            resource_types=kinds,
            encryption_key=encryption_key,
            alarm_topic=alarm_topic,
            sweep_interval=sweep_interval,
            max_receive_count=max_receive_count,
            max_message_age=max_message_age,
            copy_tags=copy_tags,
            config={
                "selection_tag": [tag_key, tag_value],
                "destinations": [
                    {k: v for k, v in vars(d).items() if v is not None} for d in self.destinations
                ],
                "retention_days": retention_days,
                "sweep_window_days": window_days,
            },
        )
        self._service_rules()
        targets_accounts = sorted({d.account for d in self.destinations if d.account})
        self.event_bus: events.EventBus | None = None
        self.received_rule: events.Rule | None = None
        if targets_accounts:
            self._reserve_bus(
                REPLICATOR_BUS_NAME,
                "destinations",
                "in another account need the event bus that only one SnapshotReplicator per "
                "account and Region may hold",
                [d.account for d in self.destinations if d.account],
            )
            self.event_bus = events.EventBus(self, "Bus", event_bus_name=REPLICATOR_BUS_NAME)
            self.event_bus.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="DestinationAccountsReportReceipt",
                    principals=[iam.AccountPrincipal(a) for a in targets_accounts],
                    actions=["events:PutEvents"],
                    resources=[self.event_bus.event_bus_arn],
                )
            )
            self.received_rule = self._rule(
                "ReceivedNotices",
                {
                    "source": [EVENT_SOURCE],
                    "detail-type": ["kmskit Snapshot Received"],
                    "account": targets_accounts,
                },
                bus=self.event_bus,
            )
        self._queue_target.allow_rules(self.rules)

        p, region, account = facts.partition, facts.region, facts.account
        dest_regions = sorted({d.region for d in self.destinations})
        dest_keys = sorted({str(d.kms_key_arn) for d in self.destinations})
        source_keys = [f"arn:{p}:kms:{region}:{account}:key/*", *self.source_key_arns]
        # Staging copies (for another account) also carry the account they are for.
        creation_tag_keys = self._creation_tag_keys(STAGING_TAG_KEYS if targets_accounts else ())
        copy_statements = [
            _statement(
                sid="CopyRdsSnapshots",
                actions=_db_actions(kinds, "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"),
                resources=[
                    *_db_arns(kinds, f"arn:{p}:rds:{region}:{account}", "*"),
                    *_db_arns(kinds, f"arn:{p}:rds:*:{account}", "kmskit-*"),
                ],
                conditions=_copy_conditions([region, *dest_regions], creation_tag_keys),
            ),
            _tag_rds_copies_statement(
                p, account, dest_regions, self.replicator_id, kinds, tag_keys=creation_tag_keys
            ),
            self._kms_statement("UseDestinationKeys", dest_keys, dest_regions, grants=False),
            self._kms_statement("GrantDestinationKeys", dest_keys, dest_regions, grants=True),
            # The source may be under any key of this account in its Region (aws/ebs included),
            # or under one of source_key_arns.
            self._kms_statement("UseSourceKeys", source_keys, [region], grants=False),
            self._kms_statement("GrantSourceKeys", source_keys, [region], grants=True),
        ]
        if targets_accounts:
            copy_statements.append(
                _statement(
                    sid="AnnounceSharedSnapshots",
                    actions=["events:PutEvents"],
                    resources=sorted(
                        {
                            f"arn:{p}:events:{d.region}:{d.account}:event-bus/{RECEIVER_BUS_NAME}"
                            for d in self.destinations
                            if d.account
                        }
                    ),
                )
            )
        self._policies(
            copy_regions=dest_regions,
            read_regions=[region],
            copy_statements=copy_statements,
            creation_tag_keys=creation_tag_keys,
            share_with=targets_accounts,
        )


class SnapshotReceiver(_ReplicationBase):
    """Copy snapshots that source accounts share with this account, with this account's key.

    Deploy it in each account and Region that a :class:`SnapshotReplicator` names as a
    cross-account destination. It creates the event bus ``kmskit-snapshot-receiver`` that only
    ``source_accounts`` may put events on.

    Args:
        source_accounts: accounts whose shared snapshots are copied (others are ignored). Required.
        kms_key: this account's key in this Region (a key, not an alias); every received copy
            is encrypted with it. Its key policy must allow this account's IAM policies (the AWS
            default policy does). Required.
        destinations: same-account onward copies to other Regions (``account`` left out).
            Default: none.
        resource_types: Default: ``"EBS"``, ``"RDS"`` and ``"AURORA"``.
        retention: delete received copies this long after their source was taken (14-3650
            days: a source can reach the receiver up to the replicator's ``sweep_window``, 7 days
            at most, plus copy-slot waits, retries of throttled steps (about 4 days on each side
            with ``max_receive_count`` 100: choose a longer retention then) and copy time after
            it was taken; a staging copy whose source is already past it is not copied, and its
            Shared notice is dead-lettered with code ``PastRetention``). Default: None (kept
            until you delete them).
        encryption_key / alarm_topic / sweep_interval / max_receive_count / max_message_age:
            as for :class:`SnapshotReplicator`.
        copy_tags: tags put on every copy this receiver makes (received copies and onward
            copies), as for :class:`SnapshotReplicator`. Default: None (only the toolkit's own
            ``kmskit:*`` tags).

    Attributes:
        as for :class:`SnapshotReplicator`, with ``event_bus`` (always) and ``shared_rule``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_accounts: Sequence[str],
        kms_key: kms.IKey,
        destinations: Sequence[ReplicationDestination] = (),
        resource_types: Sequence[str] = KINDS,
        retention: Duration | None = None,
        encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey | None = None,
        alarm_topic: AlarmTopic | None = None,
        sweep_interval: Duration = DEFAULT_SWEEP_INTERVAL,
        max_receive_count: int = 24,
        max_message_age: Duration = DEFAULT_MAX_MESSAGE_AGE,
        copy_tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        facts = self._facts
        kinds = _check_kinds(resource_types)
        require(
            isinstance(source_accounts, list | tuple) and len(source_accounts) > 0,
            "source_accounts",
            "must be a non-empty list of account IDs",
            source_accounts,
        )
        for account_id in source_accounts:
            # Literal IDs: each names an acknowledged resource and a rule of its own at synth.
            require(
                not (isinstance(account_id, str) and is_token(account_id)),
                "source_accounts",
                "must be literal account IDs, not deploy-time values",
                account_id,
            )
            check_account_id("source_accounts", account_id)
            require(
                is_token(facts.account) or account_id != facts.account,
                "source_accounts",
                "must not include this stack's own account",
                account_id,
            )
        check_unique("source_accounts", source_accounts)
        require(
            hasattr(kms_key, "key_arn") and not isinstance(kms_key, CustomerManagedKey),
            "kms_key",
            "must be an aws_kms.IKey (for a CustomerManagedKey pass its .key)",
            kms_key,
        )
        # Received copies are made in this Region under this key: an alias ARN or a key of
        # another Region or account would fail every copy at run time. A literal ARN names its
        # Region; a key made in the App is in its stack's (read from the reference to it too).
        key_arn = kms_key.key_arn
        check_arn = functools.partial(
            _check_key_arn,
            "kms_key",
            key_arn,
            region=facts.region,
            account=facts.account,
            where="the receiver's Region",
        )
        if not is_token(key_arn):
            check_arn()  # a literal ARN names its Region: checked first
        key_region = kms_key.env.region
        require(
            is_token(key_region) or is_token(facts.region) or key_region == facts.region,
            "kms_key",
            f"must be a key in this stack's Region {facts.region}",
            f"{kms_key.node.path} in {key_region}",
        )
        if is_token(key_arn):
            check_arn()  # a reference to a key of the App, or a deploy-time value
        self.source_accounts = tuple(source_accounts)
        self.kms_key = kms_key
        self.destinations = _check_destinations(
            "destinations", destinations, facts, allow_cross_account=False
        )
        retention_days = (
            durations.check_days(
                "retention",
                retention,
                RECEIVER_MIN_RETENTION_DAYS,
                3650,
                reason=RECEIVER_RETENTION_REASON,
            )
            if retention is not None
            else None
        )
        self.retention = retention
        self._build(
            mode="receiver",
            resource_types=kinds,
            encryption_key=encryption_key,
            alarm_topic=alarm_topic,
            sweep_interval=sweep_interval,
            max_receive_count=max_receive_count,
            max_message_age=max_message_age,
            copy_tags=copy_tags,
            config={
                "source_accounts": list(self.source_accounts),
                "kms_key_arn": kms_key.key_arn,
                "destinations": [
                    {"region": d.region, "kms_key_arn": d.kms_key_arn} for d in self.destinations
                ],
                "retention_days": retention_days,
            },
        )
        self._service_rules()
        self._reserve_bus(
            RECEIVER_BUS_NAME,
            "scope",
            "may hold one SnapshotReceiver per account and Region (its event bus has a fixed name)",
            self.node.path,
        )
        self.event_bus = events.EventBus(self, "Bus", event_bus_name=RECEIVER_BUS_NAME)
        self.event_bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SourceAccountsAnnounceSharedSnapshots",
                principals=[iam.AccountPrincipal(a) for a in self.source_accounts],
                actions=["events:PutEvents"],
                resources=[self.event_bus.event_bus_arn],
            )
        )
        self.shared_rule = self._rule(
            "SharedNotices",
            {
                "source": [EVENT_SOURCE],
                "detail-type": ["kmskit Snapshot Shared"],
                "account": list(self.source_accounts),
            },
            bus=self.event_bus,
        )
        self._queue_target.allow_rules(self.rules)

        p, region, account = facts.partition, facts.region, facts.account
        onward_regions = sorted({d.region for d in self.destinations})
        copy_regions = sorted({region, *onward_regions})
        own_keys = sorted({kms_key.key_arn, *(str(d.kms_key_arn) for d in self.destinations)})
        sharing_keys = [f"arn:{p}:kms:{region}:{a}:key/*" for a in self.source_accounts]
        # Received copies also carry the staging copy they were made from and where to report.
        creation_tag_keys = self._creation_tag_keys(RECEIVED_TAG_KEYS)
        copy_statements = [
            _statement(
                sid="CopyRdsSnapshots",
                actions=_db_actions(kinds, "rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"),
                resources=[
                    *(
                        f"arn:{p}:rds:{region}:{a}:snapshot:kmskit-s-*"
                        for a in self.source_accounts
                        if "RDS" in kinds
                    ),
                    *(
                        f"arn:{p}:rds:{region}:{a}:cluster-snapshot:kmskit-s-*"
                        for a in self.source_accounts
                        if "AURORA" in kinds
                    ),
                    *_db_arns(kinds, f"arn:{p}:rds:*:{account}", "kmskit-*"),
                ],
                conditions=_copy_conditions(copy_regions, creation_tag_keys),
            ),
            _tag_rds_copies_statement(
                p, account, copy_regions, self.replicator_id, kinds, tag_keys=creation_tag_keys
            ),
            self._kms_statement("UseOwnKeys", own_keys, copy_regions, grants=False),
            self._kms_statement("GrantOwnKeys", own_keys, copy_regions, grants=True),
            # The source accounts' sharing keys (their key policies must name this account).
            self._kms_statement("UseSharingKeys", sharing_keys, [region], grants=False),
            self._kms_statement("GrantSharingKeys", sharing_keys, [region], grants=True),
            _statement(
                sid="ReportReceipt",
                actions=["events:PutEvents"],
                resources=[
                    f"arn:{p}:events:*:{a}:event-bus/{REPLICATOR_BUS_NAME}"
                    for a in self.source_accounts
                ],
            ),
        ]
        self._policies(
            copy_regions=copy_regions,
            read_regions=[region],
            copy_statements=copy_statements,
            creation_tag_keys=creation_tag_keys,
        )


__all__ = [
    "ReplicationDestination",
    "SnapshotReceiver",
    "SnapshotReplicator",
]
