"""CloudWatch metric filters and alarms on a log group that receives CloudTrail events.

:class:`~constructs_lib.AuditTrail` makes its own trail and log group and watches it with
:func:`add_trail_alarms`. :class:`KmsAuditAlarms` adds the same metric filters and five alarms
to a log group that already receives CloudTrail events: the organization trail of AWS Control
Tower (``aws-controltower/CloudTrailLogs`` in the management account) or any other trail a
platform team runs, so that no second trail (and no second bill for the same management events)
is needed.

The patterns:

* ``KmsKeyDisabledOrScheduledForDeletion``: exactly the CIS AWS Foundations pattern (v1.4-v3.0).
* ``KmsKeyPendingDeletionUsed``: the KMS developer guide's, verbatim.
* ``KmsKeyPolicyChanged``: ``PutKeyPolicy`` on any key, or ``CreateGrant`` called from another
  account. A log group of one account's trail holds only that account's events (AuditTrail's
  pattern: the caller is not this account); an organization trail's holds every member
  account's, where "another account" must be read per record: KMS records a cross-account
  ``CreateGrant`` in the key owner's account (``recipientAccountId``) with the caller's
  account in ``userIdentity.accountId``. A filter pattern cannot compare two fields, so
  :func:`grant_from_another_account_pattern` lists the accounts whose keys are watched; ten fit
  one pattern, and :func:`key_policy_changed_patterns` spreads more over several filters that
  count into the one metric, each record in at most one of them.
* ``UnauthorizedApiCalls`` and ``CloudTrailConfigurationChanged``: CIS 3.1 / 4.1 and 3.5 / 4.5.
  The CIS pattern of ``CloudTrailConfigurationChanged`` stays exact (scanners compare the
  string); a second filter, ``CloudTrailConfigurationChangedFilter2``, counts into the same
  metric the calls that CIS leaves out and that change what a trail records:
  ``PutEventSelectors`` (a write-only trail, or one excluding ``kms.amazonaws.com``, loses every
  KMS Read event) and ``PutInsightSelectors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib import _durations as durations
from constructs_lib import _names as names
from constructs_lib._validation import (
    ConstructPropError,
    check_account_id,
    check_sequence,
    check_unique,
    is_token,
    require,
    shown,
)
from constructs_lib.alarm_topic import AlarmTopic, given_or_new_topic
from constructs_lib.key_policy import stack_facts, stack_of
from constructs_lib.keys import CustomerManagedKey, ReplicaKey

# The exact CIS AWS Foundations pattern (v1.4-v3.0, "CMK disabled or scheduled for deletion").
KMS_KEY_DISABLED_OR_DELETED = (
    "{($.eventSource=kms.amazonaws.com) && "
    "(($.eventName=DisableKey) || ($.eventName=ScheduleKeyDeletion))}"
)
UNAUTHORIZED_API_CALLS = (
    '{(($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")) && '
    '($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket")}'
)
# The KMS developer guide's pattern, verbatim ("Create an alarm that detects use of a KMS key
# pending deletion"): KMS refuses a cryptographic operation on such a key with the message
# "<key ARN> is pending deletion.", so the alarm fires while the deletion can still be cancelled.
KMS_KEY_PENDING_DELETION_USED = (
    '{ $.eventSource = kms* && $.errorMessage = "* is pending deletion."}'
)
CLOUDTRAIL_CONFIGURATION_CHANGED = (
    "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || "
    "($.eventName=StartLogging) || ($.eventName=StopLogging)}"
)
# What CIS's pattern leaves out: replacing a trail's event selectors (which can make it
# write-only or exclude kms.amazonaws.com, dropping every KMS Read event) or Insights selectors.
# CloudTrail API reference: PutEventSelectors, PutInsightSelectors. None of these event names is
# in CLOUDTRAIL_CONFIGURATION_CHANGED, so no record counts twice in the metric.
CLOUDTRAIL_SELECTORS_CHANGED = (
    "{($.eventSource=cloudtrail.amazonaws.com) && "
    "(($.eventName=PutEventSelectors) || ($.eventName=PutInsightSelectors))}"
)
MAX_FILTER_PATTERN_LENGTH = 1024
"""The longest filter pattern CloudWatch Logs accepts (PutMetricFilter ``filterPattern``)."""
MAX_KEY_POLICY_CHANGED_FILTERS = 40
"""The most metric filters ``KmsKeyPolicyChanged`` may take (ten accounts each). With the other
four alarms' six that is 46 of the 100 CloudWatch Logs allows on one log group: the rest stay
free for the filters others put on a shared log group (Control Tower's, for one)."""
NAMESPACE_PREFIX = "KmsAuditAlarms/"
"""KmsAuditAlarms' metric namespaces; AuditTrail's are ``AuditTrail/<trail name>``."""
MAX_NAMESPACE_LENGTH = 255
"""The longest metric namespace CloudWatch accepts (a log group name may have 512 characters)."""

# (metric name, description); the patterns are in trail_alarm_patterns().
ALARMS = (
    (
        "KmsKeyDisabledOrScheduledForDeletion",
        "A KMS key was disabled or scheduled for deletion (CIS 3.7 / 4.7).",
    ),
    (
        "KmsKeyPendingDeletionUsed",
        "A KMS key pending deletion was asked to encrypt, decrypt, sign or generate a data "
        "key: something still uses it. The trail's log names the key and the caller; "
        "cancel the deletion (aws kms cancel-key-deletion) before the waiting period ends "
        "if it is still needed.",
    ),
    (
        "KmsKeyPolicyChanged",
        "A key policy was replaced, or another account created a grant on a key.",
    ),
    (
        "UnauthorizedApiCalls",
        "API calls were refused as unauthorized (CIS 3.1 / 4.1).",
    ),
    (
        "CloudTrailConfigurationChanged",
        "A trail was created, changed, deleted, started or stopped (CIS 3.5 / 4.5), or its "
        "event or Insights selectors were replaced.",
    ),
)


def _key_policy_changed(grant_caller: str) -> str:
    """PutKeyPolicy on any key, or CreateGrant whose record meets ``grant_caller``."""
    return (
        "{($.eventSource=kms.amazonaws.com) && (($.eventName=PutKeyPolicy) || "
        f"(($.eventName=CreateGrant) && {grant_caller}))}}"
    )


def _grant_only(grant_caller: str) -> str:
    """CreateGrant whose record meets ``grant_caller`` (no PutKeyPolicy: the first filter of
    :func:`key_policy_changed_patterns` counts those, once)."""
    return f"{{($.eventSource=kms.amazonaws.com) && ($.eventName=CreateGrant) && {grant_caller}}}"


def key_policy_changed_pattern(account: str) -> str:
    """PutKeyPolicy on any key, or CreateGrant called from an account other than ``account``
    (AuditTrail's: every record of its log group is ``account``'s, or its organization's)."""
    return _key_policy_changed(f'($.userIdentity.accountId!="{account}")')


def grant_from_another_account_pattern(accounts: Sequence[str], *, key_policy: bool = True) -> str:
    """PutKeyPolicy on any key, or CreateGrant recorded for one of ``accounts``
    (``recipientAccountId``: the key owner's copy of a cross-account call) and called from
    another account (``userIdentity.accountId``). For one account's own trail this is
    :func:`key_policy_changed_pattern`; in an organization trail's log group it leaves out the
    grants each member account makes on its own keys, and a member account's grant on a key of
    another account (recorded for both) fires through the key owner's record when that account
    is listed. ``key_policy=False`` leaves PutKeyPolicy out (the CreateGrant part alone)."""
    clauses = " || ".join(
        f'(($.recipientAccountId="{account}") && ($.userIdentity.accountId!="{account}"))'
        for account in accounts
    )
    return (_key_policy_changed if key_policy else _grant_only)(f"({clauses})")


def key_policy_changed_patterns(accounts: Sequence[str]) -> tuple[str, ...]:
    """``KmsKeyPolicyChanged``'s filter patterns for ``accounts``: as few as hold them within
    :data:`MAX_FILTER_PATTERN_LENGTH` characters each, in the order given. The first is
    :func:`grant_from_another_account_pattern` of the accounts it holds; each further one is
    its CreateGrant part alone for the next accounts. An account is in one pattern only and a
    record names one ``recipientAccountId``, so a record matches at most one pattern: the
    filters count into one metric without counting a record twice."""
    patterns: list[str] = []
    held: list[str] = []
    for account in accounts:
        grown = grant_from_another_account_pattern([*held, account], key_policy=not patterns)
        if held and len(grown) > MAX_FILTER_PATTERN_LENGTH:
            patterns.append(grant_from_another_account_pattern(held, key_policy=not patterns))
            held = [account]
        else:
            held.append(account)
    patterns.append(grant_from_another_account_pattern(held, key_policy=not patterns))
    return tuple(patterns)


def watched_accounts_pattern(
    prop: str, accounts: Sequence[str] | None, account: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``accounts`` checked (``prop`` names them in errors; None: ``account``, the stack's) and
    their :func:`key_policy_changed_patterns`, at most
    :data:`MAX_KEY_POLICY_CHANGED_FILTERS` (400 accounts)."""
    if accounts is None:
        watched: tuple[str, ...] = (account,)
    else:
        given = check_sequence(prop, accounts, "12-digit AWS account IDs")
        require(bool(given), prop, "must name at least one account", list(given))
        for item in given:
            check_account_id(prop, item)
        check_unique(prop, given)
        watched = tuple(str(item) for item in given)
    patterns = key_policy_changed_patterns(watched)
    if len(patterns) > MAX_KEY_POLICY_CHANGED_FILTERS:
        raise ConstructPropError(
            prop,
            f"must fit KmsKeyPolicyChanged's filter patterns in at most "
            f"{MAX_KEY_POLICY_CHANGED_FILTERS} metric filters of CloudWatch Logs' "
            f"{MAX_FILTER_PATTERN_LENGTH:,} characters each (a log group takes 100 in all): "
            f"{len(watched)} accounts need {len(patterns)} (list the accounts whose keys "
            "matter most)",
            list(watched),
        )
    return watched, patterns


def trail_alarm_patterns(key_policy_changed: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The filter patterns of each alarm, by metric name: one each, but ``KmsKeyPolicyChanged``'s
    are ``key_policy_changed`` (they depend on whose events the log group receives, and an
    organization's may take several filters: :func:`key_policy_changed_patterns`), and
    ``CloudTrailConfigurationChanged`` has CIS's pattern and
    :data:`CLOUDTRAIL_SELECTORS_CHANGED`."""
    return {
        "KmsKeyDisabledOrScheduledForDeletion": (KMS_KEY_DISABLED_OR_DELETED,),
        "KmsKeyPendingDeletionUsed": (KMS_KEY_PENDING_DELETION_USED,),
        "KmsKeyPolicyChanged": tuple(key_policy_changed),
        "UnauthorizedApiCalls": (UNAUTHORIZED_API_CALLS,),
        "CloudTrailConfigurationChanged": (
            CLOUDTRAIL_CONFIGURATION_CHANGED,
            CLOUDTRAIL_SELECTORS_CHANGED,
        ),
    }


TrailAlarms = tuple[
    dict[str, logs.MetricFilter], dict[str, cloudwatch.Alarm], tuple[logs.MetricFilter, ...]
]
"""What :func:`add_trail_alarms` made: the first filter and the alarm of each metric, and every
filter of ``KmsKeyPolicyChanged``."""


def add_trail_alarms(
    scope: Construct,
    *,
    log_group: logs.ILogGroup,
    namespace: str,
    key_policy_changed: Sequence[str],
    alarm_topic: AlarmTopic,
    source: str,
) -> TrailAlarms:
    """Add the metric filters (``<metric>Filter``; a further pattern of a metric is
    ``<metric>Filter2``, ``3``, ...: ``KmsKeyPolicyChanged``'s of ``key_policy_changed`` and
    ``CloudTrailConfigurationChangedFilter2``) and the five alarms
    (``<metric>Alarm``) under ``scope`` on ``log_group``, each metric in ``namespace``; every
    alarm notifies ``alarm_topic`` on ALARM (not on OK: each is one event). ``source`` ends each
    alarm's description (``Trail audit``)."""
    patterns = trail_alarm_patterns(key_policy_changed)
    metric_filters: dict[str, logs.MetricFilter] = {}
    alarms: dict[str, cloudwatch.Alarm] = {}
    key_policy_changed_filters: list[logs.MetricFilter] = []
    for metric_name, description in ALARMS:
        filters = [
            logs.MetricFilter(
                scope,
                f"{metric_name}Filter{number if number > 1 else ''}",
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(pattern),
                metric_namespace=namespace,
                metric_name=metric_name,
                metric_value="1",
            )
            for number, pattern in enumerate(patterns[metric_name], start=1)
        ]
        # The filters of one metric count into it together: the alarm watches the metric.
        alarm = cloudwatch.Alarm(
            scope,
            f"{metric_name}Alarm",
            alarm_description=f"{description} {source}.",
            metric=filters[0].metric(statistic="Sum", period=durations.minutes(5)),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm_topic.notify(alarm, ok=False)
        metric_filters[metric_name] = filters[0]
        alarms[metric_name] = alarm
        if metric_name == "KmsKeyPolicyChanged":
            key_policy_changed_filters = filters
    return metric_filters, alarms, tuple(key_policy_changed_filters)


def is_log_group(value: Any) -> bool:
    """True for an ``aws_logs.ILogGroup`` (a LogGroup, or one from ``LogGroup.from_...``)."""
    return (
        hasattr(value, "node")
        and isinstance(getattr(value, "log_group_arn", None), str)
        and isinstance(getattr(value, "log_group_name", None), str)
    )


class KmsAuditAlarms(Construct):
    """The KMS and CloudTrail alarms of :class:`~constructs_lib.AuditTrail`, on a log group that
    already receives CloudTrail events (AWS Control Tower's ``aws-controltower/CloudTrailLogs``,
    an organization trail's or an account trail's).

    Five metric filters on ``log_group`` (metrics in the namespace
    ``KmsAuditAlarms/<log group name>``, apart from any AuditTrail's ``AuditTrail/<trail>``) and
    an alarm on each (``Sum`` of 5 minutes at least 1, missing data not breaching), notifying
    the :class:`AlarmTopic` on ALARM. Give either ``alarm_topic`` or ``encryption_key``.

    Args:
        log_group: the ``aws_logs.ILogGroup`` the trail delivers to, e.g.
            ``logs.LogGroup.from_log_group_name(stack, "Trail", "aws-controltower/CloudTrailLogs")``
            for AWS Control Tower; in this stack's account and Region (CloudWatch Logs makes a
            metric filter in its log group's account and Region, and the alarms are there too).
            Required.
        accounts: the accounts whose keys ``KmsKeyPolicyChanged`` watches for grants created
            from another account: a ``CreateGrant`` recorded for one of them
            (``recipientAccountId``) whose caller (``userIdentity.accountId``) is another
            account. For an organization trail, list the accounts whose keys matter: ten fit
            one filter pattern (CloudWatch Logs takes 1,024 characters), more take further
            filters (``KmsKeyPolicyChangedFilter2``, ...) counting into the same metric, at most
            40 (400 accounts). ``PutKeyPolicy`` fires for every account's keys whatever this
            says. Default: this stack's account.
        alarm_topic: an existing :class:`AlarmTopic` in this Region. Default: none (give
            ``encryption_key``).
        encryption_key: a symmetric CMK (a :class:`CustomerManagedKey` or :class:`ReplicaKey`,
            or its ``.key``) for a new AlarmTopic. Default: none (give ``alarm_topic``).

    Attributes:
        log_group: the log group watched.
        namespace: the metric namespace.
        accounts: the accounts ``KmsKeyPolicyChanged`` watches for grants.
        alarm_topic: the :class:`AlarmTopic` (made or given).
        metric_filters / alarms: by metric name, as AuditTrail's.
        key_policy_changed_filters: every filter of ``KmsKeyPolicyChanged``, the first being
            ``metric_filters["KmsKeyPolicyChanged"]``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        log_group: logs.ILogGroup,
        accounts: Sequence[str] | None = None,
        alarm_topic: AlarmTopic | None = None,
        encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = stack_of(self)
        facts = stack_facts(stack)
        if not is_log_group(log_group):  # worded only now: a construct's path is a round trip
            raise ConstructPropError(
                "log_group",
                "must be an aws_logs.ILogGroup (e.g. logs.LogGroup.from_log_group_name(...))",
                shown(log_group),
            )
        self._check_environment(log_group, facts.account, facts.region)
        watched, key_policy_changed = watched_accounts_pattern("accounts", accounts, facts.account)
        name = log_group.log_group_name
        self.namespace = f"{NAMESPACE_PREFIX}{name}"
        require(
            is_token(name) or len(self.namespace) <= MAX_NAMESPACE_LENGTH,
            "log_group",
            f"must have a name of at most {MAX_NAMESPACE_LENGTH - len(NAMESPACE_PREFIX)} "
            f"characters: the metrics' namespace is {NAMESPACE_PREFIX}<log group name>, and "
            f"CloudWatch takes namespaces of at most {MAX_NAMESPACE_LENGTH}",
            name,
        )
        other, where = names.reserve(stack, facts, "kms-audit-alarms", self.namespace, self)
        require(
            other is None,
            "log_group",
            f"must have one KmsAuditAlarms within {where} (its metrics would count twice): "
            f"{other} already watches it",
            name,
        )
        try:
            self.alarm_topic = given_or_new_topic(
                self,
                "AlarmTopic",
                alarm_topic=alarm_topic,
                encryption_key=encryption_key,
                display_name="KMS audit alarms",
            )
        except ConstructPropError:
            names.release(stack, facts, "kms-audit-alarms", self.namespace, self)
            raise
        self.log_group = log_group
        self.accounts: tuple[str, ...] = watched
        self.metric_filters, self.alarms, self.key_policy_changed_filters = add_trail_alarms(
            self,
            log_group=log_group,
            namespace=self.namespace,
            key_policy_changed=key_policy_changed,
            alarm_topic=self.alarm_topic,
            source=f"Log group {name}",
        )

    @staticmethod
    def _check_environment(log_group: logs.ILogGroup, account: str, region: str) -> None:
        env = log_group.env
        for what, mine, its in (("account", account, env.account), ("Region", region, env.region)):
            if not is_token(mine) and not is_token(its) and mine != its:
                raise ConstructPropError(
                    "log_group",
                    f"must be in this stack's {what} ({mine}; this log group: {its}): CloudWatch "
                    "Logs makes a metric filter in its log group's account and Region",
                    f"{log_group.log_group_name} in {env.account}/{env.region}",
                )
