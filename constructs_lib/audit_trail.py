"""A CIS-aligned CloudTrail trail: every KMS call recorded, encrypted with a CMK, watched by alarms.

``AuditTrail`` wraps the ``aws_cloudtrail.Trail`` L2 and closes what it leaves open:

* The L2 writes a bucket policy for CloudTrail *without* ``aws:SourceArn`` (``s3:GetBucketAcl``
  and ``s3:PutObject``; aws-cdk-lib ``aws-cloudtrail/lib/cloudtrail.ts``), and adds nothing to the
  key policy. Here the L2 receives a *reference* to the delivery bucket, on which it cannot add
  statements, and :class:`AuditBucket` writes the bucket policy with ``aws:SourceArn`` for each
  named trail; the key policy gets the CloudTrail statements through
  ``KeyServicePrincipal.cloudtrail`` (``aws:SourceArn`` plus the CloudTrail encryption context,
  and ``kms:Decrypt``, which the S3 Bucket Key of every AuditBucket requires).
  The trail ARN is built from an explicit trail name, so neither policy depends on the trail.
* The L2's CloudWatch Logs role gets an inline policy. Here the role has a managed policy
  limited to this trail's log streams (its trust names CloudTrail without ``aws:SourceArn``:
  CloudTrail's user guide says the role for CloudWatch Logs does not support it), and the log
  group is encrypted with the CMK and has a set retention.
* KMS ``Encrypt``/``Decrypt``/``GenerateDataKey`` are *Read* management events: the trail records
  Read and Write management events, and a synth-time check refuses any event selector that drops
  Read events or excludes ``kms.amazonaws.com``.
* Metric filters and alarms (to a KMS-encrypted :class:`AlarmTopic`) for the CIS benchmarks: KMS
  keys disabled or scheduled for deletion, key policy changes and grants from other accounts,
  unauthorized API calls, CloudTrail configuration changes; and, from the KMS developer guide,
  the use of a key pending deletion.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

import jsii
from aws_cdk import Names, RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IValidation

from constructs_lib import _names as names
from constructs_lib import _principals as principals
from constructs_lib._validation import (
    ConstructPropError,
    check_account_id,
    check_organization_id,
    check_region,
    check_sequence,
    is_token,
    props_of,
    require,
    shown,
)
from constructs_lib.alarm_topic import AlarmTopic
from constructs_lib.audit_alarms import (
    add_trail_alarms,
    key_policy_changed_pattern,
    watched_accounts_pattern,
)
from constructs_lib.encrypted_bucket import (
    IP_ADDRESS,
    BucketObjectLock,
    BucketReplication,
    EncryptedBucket,
    acknowledge_wildcard_resources,
    add_bucket_statements,
    check_bucket_name,
    is_bucket,
    key_facts,
    literal_bucket_name,
)
from constructs_lib.key_policy import KeyServicePrincipal, StackFacts, stack_facts, stack_of
from constructs_lib.keys import CustomerManagedKey, check_alias, owning_key

CLOUDTRAIL = "cloudtrail.amazonaws.com"
KMS_EVENT_SOURCE = "kms.amazonaws.com"
# CloudTrail: 3-128 characters; letters, digits, '.', '_', '-'; starts and ends with a letter or
# digit; no two of '.', '_', '-' side by side; not in IP address format such as 192.168.5.4
# (API_CreateTrail.html, InvalidTrailNameException).
TRAIL_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?![._-])){1,126}[A-Za-z0-9]\Z")
KEY_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{1,200}\Z")
MAX_DATA_EVENT_BUCKETS = 250
# What AuditTrail(bucket_props=...) may pass on to the AuditBucket it makes.
AUDIT_BUCKET_PROPS = frozenset(
    {
        "bucket_name",
        "noncurrent_version_retention_days",
        "access_log_retention_days",
        "replication",
        "object_lock",
        "removal_policy",
    }
)

REASON_LOG_STREAMS = (
    "CloudTrail creates one log stream per account and Region of a multi-Region trail "
    "(ACCOUNT_CloudTrail_REGION), so the role names this trail's log group and the "
    "stream-name prefixes of its account (and organization), not each stream."
)


@dataclass(frozen=True)
class TrailSource:
    """A trail allowed to deliver to an :class:`AuditBucket`.

    Args:
        account: the account the trail belongs to (for an organization trail: the management
            account).
        trail_name: the trail's name (its ARN is built from it).
        region: the trail's home Region.
        organization_id: ``o-...`` for an organization trail, which also writes the member
            accounts' logs under ``AWSLogs/<organization id>/``. Default: not an organization
            trail.
    """

    account: str
    trail_name: str
    region: str
    organization_id: str | None = None

    def __post_init__(self) -> None:
        check_account_id("sources.account", self.account)
        check_trail_name("sources.trail_name", self.trail_name)
        check_region("sources.region", self.region)
        if self.organization_id is not None:
            check_organization_id("sources.organization_id", self.organization_id)

    def trail_arn(self, partition: str) -> str:
        return f"arn:{partition}:cloudtrail:{self.region}:{self.account}:trail/{self.trail_name}"


@dataclass(frozen=True)
class CentralAuditBucket:
    """A bucket in another (central audit) account that a trail delivers to.

    Make it there with :class:`AuditBucket`, listing the trail in its ``sources``.

    Args:
        bucket_name: the central bucket's name.
        account: the central account; it may read this trail's log files (the trail's key
            policy lets it decrypt them, limited to the CloudTrail encryption context).
        s3_key_prefix: must match the AuditBucket's. Default: none.
    """

    bucket_name: str
    account: str
    s3_key_prefix: str | None = None

    def __post_init__(self) -> None:
        check_account_id("central_bucket.account", self.account)
        require(
            isinstance(self.bucket_name, str) and bool(self.bucket_name),
            "central_bucket.bucket_name",
            "must be the central bucket's name",
            self.bucket_name,
        )
        # CloudTrail refuses another name at deploy (InvalidS3BucketNameException).
        check_bucket_name("central_bucket.bucket_name", self.bucket_name)
        check_key_prefix("central_bucket.s3_key_prefix", self.s3_key_prefix)


def central_bucket_call(
    bucket_name: str | None, account: str | None, s3_key_prefix: str | EllipsisType | None
) -> str:
    """``central_bucket=CentralAuditBucket(...)`` as it must be written for a bucket of another
    account: each value known here as a literal, a placeholder saying what it is otherwise
    (``...`` for an ``s3_key_prefix`` not known; None for a bucket that has none)."""
    args = [
        f"bucket_name={bucket_name!r}" if bucket_name is not None else "bucket_name='<its name>'",
        f"account={account!r}" if account is not None else "account='<its account>'",
    ]
    if s3_key_prefix is ...:
        args.append("s3_key_prefix='<its s3_key_prefix>'")
    elif s3_key_prefix is not None:
        args.append(f"s3_key_prefix={s3_key_prefix!r}")
    return f"central_bucket=CentralAuditBucket({', '.join(args)})"


def _environment(facts: StackFacts) -> str:
    """A stack's environment for a message: ``<account>/<region>``, a part left to deploy time
    (a token) shown as such."""
    if is_token(facts.account) and is_token(facts.region):
        return "environment-agnostic"
    account = "(account at deploy)" if is_token(facts.account) else facts.account
    region = "(Region at deploy)" if is_token(facts.region) else facts.region
    return f"{account}/{region}"


def check_trail_name(prop: str, value: Any) -> str:
    if isinstance(value, str) and is_token(value):
        raise ConstructPropError(
            prop, "must be a literal name (policies build the trail ARN from it)", value
        )
    require(
        isinstance(value, str) and bool(TRAIL_NAME.match(value)),
        prop,
        "must be 3-128 letters, digits, '.', '_' or '-', start and end with a letter or digit, "
        "and have no two of '.', '_', '-' side by side",
        value,
    )
    require(
        not IP_ADDRESS.match(value),
        prop,
        "must not be formatted as an IP address (CloudTrail refuses such names)",
        value,
    )
    return str(value)


def check_key_prefix(prop: str, value: Any) -> str | None:
    if value is None:
        return None
    require(
        isinstance(value, str)
        and bool(KEY_PREFIX.match(value))
        and not value.startswith("/")
        and not value.endswith("/"),
        prop,
        "must be an S3 key prefix without leading or trailing '/'",
        value,
    )
    return str(value)


# S3 caps a bucket policy at 20,480 characters. The TLS and encryption-header denies of an
# EncryptedBucket take about 3,000 of them (with the longest bucket ARN), CloudTrail's statements
# get the rest, with room to spare.
CLOUDTRAIL_STATEMENTS_BUDGET = 16_000
_LONGEST_BUCKET_ARN = "arn:aws-us-gov:s3:::" + "b" * 63


def cloudtrail_bucket_statements(
    bucket: s3.IBucket,
    sources: Sequence[TrailSource],
    s3_key_prefix: str | None,
    partition: str,
) -> list[iam.PolicyStatement]:
    """The bucket policy CloudTrail needs, each statement limited by ``aws:SourceArn``.

    ``s3:GetBucketAcl`` on the bucket for every source trail, and per trail ``s3:PutObject`` on
    ``[prefix/]AWSLogs/<account>/*`` (and ``AWSLogs/<organization id>/*`` for an organization
    trail) with ``s3:x-amz-acl = bucket-owner-full-control``.

    Each trail takes about 470 characters that way, so past about 30 trails the statements would
    not fit S3's bucket policy quota. Then one ``s3:PutObject`` statement on
    ``[prefix/]AWSLogs/*`` lets every listed trail write (CloudTrail itself puts the trail's
    account, or its organization, after ``AWSLogs/``, so a trail still writes only to its own
    folder): about 150 characters a trail, for up to about 100 trails. More raise
    :class:`~constructs_lib.ConstructPropError` (deliver through an organization trail instead).
    """
    require(bool(sources), "sources", "must name at least one trail", list(sources))
    prefix = f"{s3_key_prefix}/" if s3_key_prefix else ""
    bucket_arn = bucket.bucket_arn

    def size(statements: list[dict[str, Any]]) -> int:
        # The bucket ARN (usually known only at deploy time) counts as the longest possible.
        text = json.dumps(statements, separators=(",", ":"))
        return len(text.replace(bucket_arn, _LONGEST_BUCKET_ARN))

    statements = _cloudtrail_statements(bucket_arn, sources, prefix, partition, per_trail=True)
    if size(statements) > CLOUDTRAIL_STATEMENTS_BUDGET:
        statements = _cloudtrail_statements(bucket_arn, sources, prefix, partition, per_trail=False)
        require(
            size(statements) <= CLOUDTRAIL_STATEMENTS_BUDGET,
            "sources",
            f"must fit CloudTrail's statements in S3's bucket policy quota: {len(sources)} trails "
            f"need about {size(statements)} of the {CLOUDTRAIL_STATEMENTS_BUDGET} characters "
            "left for them (deliver through an organization trail, TrailSource.organization_id)",
            f"{len(sources)} trails",
        )
    return [iam.PolicyStatement.from_json(statement) for statement in statements]


def _cloudtrail_statements(
    bucket_arn: str,
    sources: Sequence[TrailSource],
    prefix: str,
    partition: str,
    *,
    per_trail: bool,
) -> list[dict[str, Any]]:
    """The statements of :func:`cloudtrail_bucket_statements` as policy JSON."""
    trail_arns = [source.trail_arn(partition) for source in sources]

    def write(sid: str, folders: list[str], source_arn: str | list[str]) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL},
            "Action": "s3:PutObject",
            "Resource": [f"{bucket_arn}/{prefix}AWSLogs/{folder}" for folder in folders],
            "Condition": {
                "StringEquals": {
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": source_arn,
                }
            },
        }

    statements = [
        {
            "Sid": "AllowCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDTRAIL},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arns}},
        }
    ]
    if per_trail:
        statements += [
            write(
                "AllowCloudTrailWrite" + (str(index) if len(sources) > 1 else ""),
                _log_folders(source),
                trail_arn,
            )
            for index, (source, trail_arn) in enumerate(zip(sources, trail_arns, strict=True), 1)
        ]
    else:
        statements.append(write("AllowCloudTrailWrite", ["*"], trail_arns))
    return statements


def _log_folders(source: TrailSource) -> list[str]:
    """The ``AWSLogs/<owner>/*`` folders ``source`` writes to."""
    owners = [source.account] + ([source.organization_id] if source.organization_id else [])
    return [f"{owner}/*" for owner in owners]


class AuditBucket(Construct):
    """The bucket trails deliver to: an :class:`EncryptedBucket` with the CloudTrail policy.

    Use it on its own in a central audit (security) account for trails of other accounts;
    :class:`AuditTrail` makes one for itself when it is not given a bucket. CloudTrail writes log
    files encrypted with each trail's own key and digest files with SSE-S3, so CloudTrail is
    exempt from the bucket's encryption-header denies (and only from those), on every object: a
    listed trail of another toolkit that delivers without its key may write SSE-S3 log files
    (docs/audit.md, "What that exemption leaves open").

    Args:
        encryption_key: the CMK for the bucket's default encryption.
        sources: the trails allowed to deliver here (each by account, name and home Region).
        s3_key_prefix: the trails' ``s3_key_prefix``. Default: none.
        bucket_name: Default: generated (give one when trails in other accounts deliver here).
        noncurrent_version_retention_days: Default: 90, or the ``object_lock`` retention when
            that is longer (see :class:`EncryptedBucket`).
        access_log_retention_days: Default: 365.
        replication: Default: none (see :class:`EncryptedBucket`). Log files are encrypted with
            each trail's own key: an :class:`AuditTrail` given this bucket lets the replication
            role decrypt with its key; for trails of other accounts, add their keys with
            ``encrypted_bucket.allow_replication_of_objects_under`` and let this account's
            replication role use them in their key policies.
        object_lock: a :class:`BucketObjectLock`: S3 Object Lock with a default retention on
            the bucket (see :class:`EncryptedBucket`), so the log files *and* the digest files
            CloudTrail writes beside them are locked, write once, read many, for the retention:
            nobody (COMPLIANCE), or nobody without ``s3:BypassGovernanceRetention``
            (GOVERNANCE), can delete or overwrite a version before it ends. What
            ``kmskit audit --verify`` reports deleted or modified is then still in the bucket
            as a locked version (docs/audit.md). Default: None, no Object Lock.
        removal_policy: Default: ``RemovalPolicy.RETAIN``.

    Attributes:
        encrypted_bucket: the :class:`EncryptedBucket`.
        bucket: the ``aws_s3.Bucket``.
        access_log_bucket: its server access log bucket.
        sources: the trails named in the policy.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: CustomerManagedKey | kms.IKey,
        sources: Sequence[TrailSource],
        s3_key_prefix: str | None = None,
        bucket_name: str | None = None,
        noncurrent_version_retention_days: int | None = None,
        access_log_retention_days: int | None = None,
        replication: BucketReplication | None = None,
        object_lock: BucketObjectLock | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        sources = list(check_sequence("sources", sources, "TrailSource"))
        require(bool(sources), "sources", "must name at least one trail", sources)
        for source in sources:
            require(
                isinstance(source, TrailSource), "sources", "must hold TrailSource values", source
            )
        arns = [(s.account, s.region, s.trail_name) for s in sources]
        require(len(set(arns)) == len(arns), "sources", "must not repeat a trail", arns)
        self.s3_key_prefix = check_key_prefix("s3_key_prefix", s3_key_prefix)
        self.sources: tuple[TrailSource, ...] = tuple(sources)
        self.encrypted_bucket = EncryptedBucket(
            self,
            "Storage",
            encryption_key=encryption_key,
            bucket_name=bucket_name,
            noncurrent_version_retention_days=noncurrent_version_retention_days,
            access_log_retention_days=access_log_retention_days,
            replication=replication,
            object_lock=object_lock,
            removal_policy=removal_policy,
            service_writers=[CLOUDTRAIL],
        )
        self.bucket = self.encrypted_bucket.bucket
        self.access_log_bucket = self.encrypted_bucket.access_log_bucket
        add_bucket_statements(
            self.bucket,
            cloudtrail_bucket_statements(
                self.bucket, self.sources, self.s3_key_prefix, stack_of(self).partition
            ),
        )


def _pascal_keys(value: Any) -> Any:
    """L1 properties resolve with camelCase keys before rendering; compare in CFN's PascalCase."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: _pascal_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal_keys(v) for v in value]
    return value


@jsii.implements(IValidation)
class _TrailValidation:
    """At synth, after any change made through ``.trail`` or its L1 properties: the CIS settings
    still hold (multi-Region, log file validation, global service events, logging on), the log
    files are still encrypted with the trail's key, the trail still delivers to its log group
    with its role (the alarms watch that log group), and the event selectors still record every
    KMS call. (A raw ``add_property_override`` bypasses every construct check, this one too.)"""

    def __init__(self, owner: AuditTrail) -> None:
        self._owner = owner

    def validate(self) -> list[str]:
        cfn = self._owner.trail.node.default_child
        assert isinstance(cfn, cloudtrail.CfnTrail)
        stack = stack_of(self._owner)
        problems: list[str] = []
        for name, value in (
            ("is_multi_region_trail", cfn.is_multi_region_trail),
            ("enable_log_file_validation", cfn.enable_log_file_validation),
            ("include_global_service_events", cfn.include_global_service_events),
            ("is_logging", cfn.is_logging),
        ):
            if stack.resolve(value) is not True:
                problems.append(f"'{name}' must stay True on an AuditTrail. Received: {value!r}")
        owner = self._owner
        for prop, current, expected, what in (
            ("kms_key_id", cfn.kms_key_id, owner.key.key.key_arn, "the trail's key (key)"),
            (
                "cloud_watch_logs_log_group_arn",
                cfn.cloud_watch_logs_log_group_arn,
                owner.log_group.log_group_arn,
                "the trail's log group (log_group, which its metric filters watch)",
            ),
            (
                "cloud_watch_logs_role_arn",
                cfn.cloud_watch_logs_role_arn,
                owner.logs_role.role_arn,
                "the trail's role for CloudWatch Logs (logs_role)",
            ),
        ):
            resolved = stack.resolve(current)
            if resolved != stack.resolve(expected):
                problems.append(
                    f"'{prop}' must stay {what} on an AuditTrail. Received: {resolved!r}"
                )
        if cfn.advanced_event_selectors is not None:
            problems.append(
                "'advanced_event_selectors' must not be set on an AuditTrail (they replace the "
                "event selectors that record every KMS call). Received: advanced event selectors"
            )
        selectors = [_pascal_keys(s) for s in stack.resolve(cfn.event_selectors) or []]
        management = [s for s in selectors if s.get("IncludeManagementEvents", True)]
        if not any(s.get("ReadWriteType", "All") == "All" for s in management):
            problems.append(
                "'management_events' must record Read and Write events (KMS Encrypt, Decrypt and "
                f"GenerateDataKey are Read events). Received: {selectors!r}"
            )
        for selector in selectors:
            excluded = selector.get("ExcludeManagementEventSources") or []
            if KMS_EVENT_SOURCE in excluded:
                problems.append(
                    "'exclude_management_event_sources' must not exclude kms.amazonaws.com on an "
                    f"AuditTrail. Received: {excluded!r}"
                )
        return problems


class AuditTrail(Construct):
    """A multi-Region CloudTrail trail to CIS standard, encrypted with a customer managed key.

    Args:
        trail_name: the trail's name (policies build its ARN from it): 3-128 letters, digits,
            '.', '_', '-', not in IP address format. Default: a name unique to this construct's
            path.
        encryption_key: a symmetric :class:`CustomerManagedKey` (or its ``.key``) for the log
            files, the log group and the alarm topic; CloudTrail and CloudWatch statements are
            added to its policy.
            Default: a new key (rotated, AWS default policy) with alias ``key_alias``.
        key_alias: alias of the key this construct makes. Default:
            ``alias/audit/<trail name>`` (dots replaced by dashes). Not with ``encryption_key``.
        bucket: an existing :class:`AuditBucket` of this account and Region (CloudTrail needs
            the trail's key in the bucket's Region) that lists this trail in its ``sources``;
            one of another known Region is refused. One of another known account is refused,
            and so is a bucket that is no AuditBucket, each naming the
            ``central_bucket=CentralAuditBucket(...)`` to give instead, with the bucket's name
            and ``s3_key_prefix`` where known (and the ``TrailSource(...)`` to add to its
            ``sources`` when they do not list this trail). From a stack of another environment
            (one of the two stacks environment-agnostic) it needs a literal ``bucket_name`` and
            no replication of objects under another key than the trail's (CDK cannot name them
            there); either is refused. A bucket under the trail's key (``encryption_key``) in a
            stack of another environment needs the same Region given on both stacks (CDK
            references the key across stacks only then): refused otherwise. Default: a new
            AuditBucket (see ``bucket_props``).
        bucket_props: props for the AuditBucket this construct makes (``bucket_name``,
            ``noncurrent_version_retention_days``, ``access_log_retention_days``,
            ``replication``, ``object_lock``, ``removal_policy``): ``object_lock`` locks the
            log files and digest files for its retention (WORM; see :class:`AuditBucket`).
            Default: none. Not with ``bucket`` or ``central_bucket``.
        central_bucket: deliver to a bucket in a central audit account instead (no bucket is
            made here; the central account gets decrypt access to the log files). The bucket
            must be in this stack's Region, as the trail's key is. Default: none.
        s3_key_prefix: Default: none. With ``bucket`` or ``central_bucket`` the trail takes that
            bucket's prefix (whose policy names no other); give it only to repeat it.
        log_retention: retention of the CloudWatch Logs copy. Default: one year. INFINITE is
            refused (CIS and the nag packs ask for a set retention).
        data_event_buckets: buckets whose S3 object-level (data) events are recorded, Read and
            Write; not the trail's own bucket or its access-log bucket (as objects, or by a
            name known at synth time, such as ``Bucket.from_bucket_name`` of the trail's
            bucket), and no bucket twice. Default: none.
        organization_id: make an organization trail for this AWS Organization (deploy it in the
            management account). Default: not an organization trail.
        grant_alarm_accounts: with ``organization_id`` only: the accounts whose keys
            ``KmsKeyPolicyChanged`` watches for grants created from another account (a
            ``CreateGrant`` recorded for one of them, ``recipientAccountId``, whose caller is
            another account), 1-400 12-digit IDs, as :class:`KmsAuditAlarms`' ``accounts``: the
            organization trail's log group holds every member account's events, where "a grant
            from another account than the trail's" would fire for each grant a member account
            makes on its own keys. Default: this stack's account (the management account).
        removal_policy: for the log group (the buckets keep their own). Default: RETAIN.

    Attributes:
        trail: the ``aws_cloudtrail.Trail``.
        trail_arn: its ARN, built from the trail name.
        key: the :class:`CustomerManagedKey` (made or given).
        bucket: the ``aws_s3.IBucket`` the trail delivers to.
        audit_bucket: the :class:`AuditBucket` made or given, or None for a central bucket.
        log_group: the encrypted ``aws_logs.LogGroup``.
        logs_role: the role CloudTrail writes to the log group with.
        alarm_topic: the :class:`AlarmTopic` the alarms publish to.
        metric_filters / alarms: by name (``KmsKeyDisabledOrScheduledForDeletion``,
            ``KmsKeyPendingDeletionUsed``, ``KmsKeyPolicyChanged``, ``UnauthorizedApiCalls``,
            ``CloudTrailConfigurationChanged``); the first filter of each.
        key_policy_changed_filters: every filter of ``KmsKeyPolicyChanged`` (more than one
            only for more ``grant_alarm_accounts`` than fit one filter pattern).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        trail_name: str | None = None,
        encryption_key: CustomerManagedKey | kms.IKey | None = None,
        key_alias: str | None = None,
        bucket: AuditBucket | None = None,
        bucket_props: Mapping[str, Any] | None = None,
        central_bucket: CentralAuditBucket | None = None,
        s3_key_prefix: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        data_event_buckets: Sequence[s3.IBucket | EncryptedBucket] = (),
        organization_id: str | None = None,
        grant_alarm_accounts: Sequence[str] | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = stack_of(scope)
        name = self._trail_name(trail_name)
        if organization_id is not None:
            check_organization_id("organization_id", organization_id)
        key_policy_changed = self._key_policy_changed(
            organization_id, grant_alarm_accounts, stack.account
        )
        self._check_exclusive(encryption_key, key_alias, bucket, bucket_props, central_bucket)
        if key_alias is not None:
            check_alias(key_alias, "key_alias")
        require(
            isinstance(removal_policy, RemovalPolicy),
            "removal_policy",
            "must be an aws_cdk.RemovalPolicy",
            removal_policy,
        )
        require(
            removal_policy != RemovalPolicy.SNAPSHOT,
            "removal_policy",
            "must not be RemovalPolicy.SNAPSHOT: CloudFormation cannot snapshot a log group",
            removal_policy,
        )
        data_event_buckets = check_sequence(
            "data_event_buckets", data_event_buckets, "aws_s3.IBucket or EncryptedBucket values"
        )
        prefix = self._resolve_prefix(s3_key_prefix, bucket, central_bucket)
        require(
            isinstance(log_retention, logs.RetentionDays)
            and log_retention != logs.RetentionDays.INFINITE,
            "log_retention",
            "must be a RetentionDays other than INFINITE (CIS and the nag packs ask for a set "
            "retention)",
            log_retention,
        )
        other, where = names.reserve(stack, stack_facts(stack), "trail", name, self)
        require(
            other is None,
            "trail_name",
            f"must be unique within {where} (the trail and its log group /aws/cloudtrail/{name} "
            f"bear it): {other} already has it",
            name,
        )
        self.trail_name = name
        self.trail_arn = (
            f"arn:{stack.partition}:cloudtrail:{stack.region}:{stack.account}:trail/{name}"
        )
        log_group_name = f"/aws/cloudtrail/{name}"

        self.key = self._key(encryption_key, key_alias, name)
        self.key.add_service_principal(KeyServicePrincipal.cloudtrail(trail_arn=self.trail_arn))
        self.key.add_service_principal(
            KeyServicePrincipal.cloudwatch_logs(log_group_name=log_group_name)
        )

        self.audit_bucket: AuditBucket | None
        delivery: s3.IBucket
        if central_bucket is not None:
            self.audit_bucket = None
            delivery = s3.Bucket.from_bucket_attributes(
                self,
                "CentralBucket",
                bucket_name=central_bucket.bucket_name,
                account=central_bucket.account,
            )
            self._allow_central_reader(central_bucket.account)
        else:
            self.audit_bucket = bucket or self._make_bucket(
                name, prefix, organization_id, dict(bucket_props or {})
            )
            self._check_listed(self.audit_bucket, name, organization_id)
            self._let_replication_read_logs(self.audit_bucket)
            # A reference on which the Trail L2 cannot add its SourceArn-less statements.
            delivery = s3.Bucket.from_bucket_attributes(
                self, "DeliveryBucket", bucket_name=self.audit_bucket.bucket.bucket_name
            )
        self.bucket: s3.IBucket = (
            self.audit_bucket.bucket if self.audit_bucket is not None else delivery
        )

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            encryption_key=self.key.key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.logs_role, logs_policy = self._logs_role(log_group_name, organization_id)

        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=name,
            bucket=delivery,
            s3_key_prefix=prefix,
            encryption_key=self.key.key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            management_events=cloudtrail.ReadWriteType.ALL,
            send_to_cloud_watch_logs=False,
            is_organization_trail=organization_id is not None,
            org_id=organization_id,
        )
        cfn_trail = self.trail.node.default_child
        assert isinstance(cfn_trail, cloudtrail.CfnTrail)
        cfn_trail.cloud_watch_logs_log_group_arn = self.log_group.log_group_arn
        cfn_trail.cloud_watch_logs_role_arn = self.logs_role.role_arn
        # CloudTrail checks bucket, key and role when the trail is created.
        cfn_trail.node.add_dependency(logs_policy)
        if self.audit_bucket is not None and self.audit_bucket.bucket.policy is not None:
            cfn_trail.node.add_dependency(self.audit_bucket.bucket.policy)
        self._add_data_events(data_event_buckets)
        self.node.add_validation(_TrailValidation(self))

        self.alarm_topic = AlarmTopic(self, "AlarmTopic", encryption_key=self.key)
        self.metric_filters, self.alarms, self.key_policy_changed_filters = add_trail_alarms(
            self,
            log_group=self.log_group,
            namespace=f"AuditTrail/{name}",
            key_policy_changed=key_policy_changed,
            alarm_topic=self.alarm_topic,
            source=f"Trail {name}",
        )

    def _make_bucket(
        self,
        name: str,
        prefix: str | None,
        organization_id: str | None,
        bucket_props: dict[str, Any],
    ) -> AuditBucket:
        """The AuditBucket this trail delivers to, made with ``bucket_props``: an error about one
        of them names it ``bucket_props["<prop>"]`` (``removal_policy`` alone would read as the
        trail's own, the log group's)."""
        stack = stack_of(self)
        with props_of("bucket_props", bucket_props):
            return AuditBucket(
                self,
                "Bucket",
                encryption_key=self.key,
                sources=[
                    TrailSource(
                        account=stack.account,
                        trail_name=name,
                        region=stack.region,
                        organization_id=organization_id,
                    )
                ],
                s3_key_prefix=prefix,
                **bucket_props,
            )

    @staticmethod
    def _key_policy_changed(
        organization_id: str | None, grant_alarm_accounts: Sequence[str] | None, account: str
    ) -> tuple[str, ...]:
        """KmsKeyPolicyChanged's patterns: for one account's trail, a grant from another account
        than the trail's; for an organization trail, one recorded for ``grant_alarm_accounts``
        (every member account's events are in its log group)."""
        require(
            grant_alarm_accounts is None or organization_id is not None,
            "grant_alarm_accounts",
            "is for an organization trail (organization_id): one account's trail watches grants "
            "on its own keys",
            grant_alarm_accounts,
        )
        if organization_id is None:
            return (key_policy_changed_pattern(account),)
        _, patterns = watched_accounts_pattern(
            "grant_alarm_accounts", grant_alarm_accounts, account
        )
        return patterns

    @staticmethod
    def _check_exclusive(
        encryption_key: Any,
        key_alias: Any,
        bucket: Any,
        bucket_props: Any,
        central_bucket: Any,
    ) -> None:
        require(
            encryption_key is None or key_alias is None,
            "key_alias",
            "is for the key this construct makes; it must not be given together with "
            "encryption_key",
            key_alias,
        )
        require(
            bucket is None or bucket_props is None,
            "bucket_props",
            "are for the bucket this construct makes; they must not be given together with bucket",
            bucket_props,
        )
        require(
            bucket_props is None or isinstance(bucket_props, Mapping),
            "bucket_props",
            f"must be a mapping of AuditBucket props ({', '.join(sorted(AUDIT_BUCKET_PROPS))})",
            bucket_props,
        )
        require(
            central_bucket is None or (bucket is None and bucket_props is None),
            "central_bucket",
            "delivers to another account's bucket; it must not be given together with bucket or "
            "bucket_props",
            central_bucket,
        )
        unknown = sorted(set(bucket_props or {}) - AUDIT_BUCKET_PROPS)
        require(
            not unknown,
            "bucket_props",
            f"may only set {', '.join(sorted(AUDIT_BUCKET_PROPS))}",
            unknown,
        )
        if bucket is not None and not isinstance(bucket, AuditBucket):
            # Worded only now: a construct's path is a jsii round trip.
            central = central_bucket_call(
                literal_bucket_name(bucket) if is_bucket(bucket) else None, None, ...
            )
            raise ConstructPropError(
                "bucket",
                "must be an AuditBucket (it carries the CloudTrail bucket policy); for a bucket "
                f"of another account, an AuditBucket made there that lists this trail, give "
                f"{central} (its s3_key_prefix left out only if it has none)",
                shown(bucket),
            )
        require(
            central_bucket is None or isinstance(central_bucket, CentralAuditBucket),
            "central_bucket",
            "must be a CentralAuditBucket",
            shown(central_bucket),
        )

    @staticmethod
    def _resolve_prefix(
        s3_key_prefix: str | None,
        bucket: AuditBucket | None,
        central_bucket: CentralAuditBucket | None,
    ) -> str | None:
        given = check_key_prefix("s3_key_prefix", s3_key_prefix)
        if bucket is not None:
            existing = bucket.s3_key_prefix
        elif central_bucket is not None:
            existing = central_bucket.s3_key_prefix
        else:
            return given
        # The bucket's policy lets CloudTrail write under its own prefix only: a trail with
        # another prefix (or one where the bucket has none) fails CreateTrail with
        # InsufficientS3BucketPolicyException at deploy.
        require(
            given is None or given == existing,
            "s3_key_prefix",
            f"must match the bucket's s3_key_prefix ({existing!r}); leave it out to use the "
            "bucket's",
            given,
        )
        return existing

    def _trail_name(self, trail_name: str | None) -> str:
        if trail_name is not None:
            return check_trail_name("trail_name", trail_name)
        derived = Names.unique_resource_name(self, max_length=64, separator="-")
        try:
            return check_trail_name("trail_name", derived)
        except ConstructPropError as error:  # e.g. the id "Default", which drops out of paths
            raise ConstructPropError(
                "trail_name",
                "must be given: the name made from the construct path is not a valid trail name "
                "(3-128 letters, digits, '.', '_' or '-')",
                derived,
            ) from error

    def _key(
        self, encryption_key: CustomerManagedKey | kms.IKey | None, key_alias: str | None, name: str
    ) -> CustomerManagedKey:
        if encryption_key is None:
            alias = key_alias if key_alias is not None else f"alias/audit/{name.replace('.', '-')}"
            try:
                return CustomerManagedKey(
                    self,
                    "Key",
                    alias=alias,
                    description=f"CloudTrail trail {name}: log files, log group and alarm topic",
                )
            except ConstructPropError as error:
                if key_alias is not None or error.prop != "alias":
                    raise
                # The user gave no alias: name what they gave, and how to choose another.
                raise ConstructPropError(
                    "trail_name",
                    f"must give a key alias ({alias}, dots as dashes) that no other key of "
                    "the account and Region has; or give key_alias",
                    name,
                ) from error
        owner = owning_key(encryption_key)
        if not isinstance(owner, CustomerManagedKey):  # worded only now (a path is a round trip)
            raise ConstructPropError(
                "encryption_key",
                "must be a CustomerManagedKey (the trail adds CloudTrail and CloudWatch Logs "
                "statements to its key policy), or its .key",
                shown(encryption_key),
            )
        key_facts("encryption_key", owner, self)
        return owner

    def _check_listed(self, bucket: AuditBucket, name: str, organization_id: str | None) -> None:
        facts = stack_facts(stack_of(self))  # read once per stack
        bucket_facts = stack_facts(stack_of(bucket))
        # "The key that you choose must be in the same region as the S3 bucket that receives
        # your log files" (CloudTrail user guide); the trail's key is in the trail's Region.
        # Checked first: no bucket of another Region works, central_bucket's neither.
        bucket_region = bucket_facts.region
        require(
            is_token(facts.region) or is_token(bucket_region) or bucket_region == facts.region,
            "bucket",
            f"must be in the trail's Region ({facts.region}): CloudTrail encrypts the log files "
            "with the trail's key, which must be in the bucket's Region",
            f"{bucket.node.path} in {bucket_region}",
        )
        listed = [
            s
            for s in bucket.sources
            if s.trail_name == name
            and (is_token(facts.account) or s.account == facts.account)
            and (is_token(facts.region) or s.region == facts.region)
        ]
        # A bucket of another account is a central bucket: the trail's key policy must let that
        # account read the log files (central_bucket does), and a replicating bucket's role
        # cannot be named from this account's stack.
        bucket_account = bucket_facts.account
        if not (
            is_token(facts.account) or is_token(bucket_account) or bucket_account == facts.account
        ):
            bucket_name = literal_bucket_name(bucket.bucket)
            central = central_bucket_call(bucket_name, bucket_account, bucket.s3_key_prefix)
            # Its policy lets only the trails of its sources write: CreateTrail fails otherwise.
            region = repr(facts.region) if not is_token(facts.region) else "'<its Region>'"
            source = (
                f"TrailSource(account={facts.account!r}, trail_name={name!r}, region={region}"
                + (f", organization_id={organization_id!r})" if organization_id else ")")
            )
            raise ConstructPropError(  # worded only now: a construct's path is a jsii round trip
                "bucket",
                f"must be an AuditBucket of the trail's account ({facts.account}): for a bucket "
                "of another account "
                + (
                    ""
                    if listed
                    else f"add {source} to that AuditBucket's sources (its policy lets only "
                    "the trails listed there write; CloudTrail refuses a bucket it may not "
                    "write to), then "
                )
                + "give "
                + (
                    central
                    if bucket_name is not None
                    else "the AuditBucket a bucket_name (CloudTrail is given the bucket's name, "
                    "and a name CloudFormation generates cannot be written in another "
                    f"account's stack), then {central}"
                )
                + ", which lets that account read the trail's log files",
                f"{bucket.node.path} in {bucket_account}",
            )
        if (bucket_account, bucket_region) != (facts.account, facts.region):
            self._check_other_environment(bucket, facts, bucket_facts)
        require(
            bool(listed),
            "bucket",
            f"must list this trail ({name} in {facts.account}/{facts.region}) in its sources",
            [f"{s.trail_name} in {s.account}/{s.region}" for s in bucket.sources],
        )
        require(
            listed[0].organization_id == organization_id,
            "bucket",
            f"must list this trail with organization_id {organization_id!r}",
            listed[0].organization_id,
        )

    def _check_other_environment(
        self, bucket: AuditBucket, facts: StackFacts, bucket_facts: StackFacts
    ) -> None:
        """``bucket``'s stack is of another environment than the trail's (one of them
        environment-agnostic, or both of the same account and Region but one written as a
        token): CDK names a resource of such a stack only by a physical name given in code, so
        the trail needs the bucket's literal name, and cannot name a replication role that must
        read its log files (see :meth:`_let_replication_read_logs`). Each is refused here,
        naming ``bucket``, rather than by CDK's CannotUseCrossEnvironment at synth. A key
        shared by the trail and the bucket is referenced from one stack to the other, which CDK
        does only when both stacks give a Region (CrossRegionReferencesRequireExplicitRegion):
        refused here when either does not, naming both stacks."""
        encrypted = bucket.encrypted_bucket
        if encrypted.encryption_key is self.key.key and (
            is_token(facts.region) or is_token(bucket_facts.region)
        ):
            raise ConstructPropError(  # worded only now: a construct's path is a jsii round trip
                "encryption_key",
                "must not be the key of a bucket whose stack is of another environment than the "
                "trail's when either stack has no Region: CDK references the key from one stack "
                "in the other only between stacks that both give a Region. Give both stacks the "
                "same Region, or give the trail and the bucket a key each (the trail's stack "
                f"{stack_of(self).node.path}: {_environment(facts)}; the bucket's stack "
                f"{stack_of(bucket).node.path}: {_environment(bucket_facts)})",
                self.key.node.path,
            )
        replicates = (
            encrypted.replication_policy is not None
            and encrypted.encryption_key is not self.key.key
        )
        if literal_bucket_name(bucket.bucket) is not None and not replicates:
            return
        requirement = (
            "must have a literal bucket_name when its stack is of another environment than the "
            "trail's: CDK names a bucket of another environment only by a name given in code. "
            "Give the AuditBucket a bucket_name, or put both stacks in one environment"
            if not replicates
            else "must be in the trail's environment: the trail lets the bucket's replication "
            "role read its log files, and CDK cannot name that role from a stack of another "
            "environment. Put both stacks in one environment"
        )
        raise ConstructPropError(  # worded only now: a construct's path is a jsii round trip
            "bucket",
            f"{requirement} (the same account and Region, both given or both left out; the "
            f"trail's: {_environment(facts)})",
            f"{bucket.node.path} in {_environment(bucket_facts)}",
        )

    def _let_replication_read_logs(self, bucket: AuditBucket) -> None:
        """The log files are under this trail's key: a replicating bucket must be able to read
        them (S3 replicates an SSE-KMS object only if its role may decrypt it)."""
        encrypted = bucket.encrypted_bucket
        if encrypted.replication_policy is None or encrypted.encryption_key is self.key.key:
            return
        # From another stack, the permission lives in this trail's stack (no dependency cycle).
        encrypted.allow_replication_of_objects_under(self.key, prop="encryption_key", scope=self)

    def _allow_central_reader(self, account: str) -> None:
        """The central account may decrypt this trail's log files, and nothing else (each
        central account once per key, however many trails share it)."""
        trail_account = stack_facts(stack_of(self)).account  # read once per stack
        self.key.add_service_principal(
            KeyServicePrincipal.cloudtrail_log_reader(account=account, trail_account=trail_account)
        )

    def _logs_role(
        self, log_group_name: str, organization_id: str | None
    ) -> tuple[iam.Role, iam.ManagedPolicy]:
        facts = stack_facts(stack_of(self))
        group = (
            f"arn:{facts.partition}:logs:{facts.region}:{facts.account}:log-group:{log_group_name}"
        )
        streams = [f"{group}:log-stream:{facts.account}_CloudTrail_*"]
        if organization_id is not None:
            streams.append(f"{group}:log-stream:{organization_id}_*")
        # No aws:SourceArn in the trust: "The role policy doesn't support the use of
        # aws:SourceArn and aws:SourceAccount" (CloudTrail user guide, "Role policy document for
        # CloudTrail to use CloudWatch Logs for monitoring"); with it CloudTrail could not assume
        # the role and the trail would fail to create. The role can only write to this trail's
        # log streams.
        role = iam.Role(
            self,
            "LogsRole",
            assumed_by=principals.service(CLOUDTRAIL),
            description=f"CloudTrail delivery of {self.trail_name} to {log_group_name}",
        )
        policy = iam.ManagedPolicy(
            self,
            "LogsPolicy",
            description=f"CloudTrail {self.trail_name} writes to {log_group_name} only",
            statements=[
                iam.PolicyStatement(
                    sid="WriteTrailLogStreams",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=streams,
                )
            ],
            roles=[role],
        )
        acknowledge_wildcard_resources(policy, REASON_LOG_STREAMS)
        return role, policy

    def _add_data_events(self, buckets: Sequence[s3.IBucket | EncryptedBucket]) -> None:
        resolved: list[s3.IBucket] = []
        # Each log delivery writes a server access log record to the access-log bucket, whose
        # data event the trail would deliver again: a loop as endless as logging the trail bucket.
        # A bucket is that bucket when it is the same object or bears the same literal name (an
        # imported reference to it, Bucket.from_bucket_name).
        refused = [(self.bucket, "the trail's own bucket (each delivery would log itself)")]
        if self.audit_bucket is not None:
            refused.append(
                (
                    self.audit_bucket.access_log_bucket,
                    "the access-log bucket of the trail's bucket (each log delivery would log "
                    "itself)",
                )
            )
        for item in buckets:
            target = item.bucket if isinstance(item, EncryptedBucket) else item
            require(
                is_bucket(target),
                "data_event_buckets",
                "must hold aws_s3.IBucket or EncryptedBucket values",
                item,
            )
            name = literal_bucket_name(target)
            shown_target = target.node.path if name is None else f"{target.node.path} ({name})"
            for bucket, what in refused:
                require(
                    not _same_bucket(target, name, bucket),
                    "data_event_buckets",
                    f"must not include {what}",
                    shown_target,
                )
            require(
                not any(_same_bucket(target, name, other) for other in resolved),
                "data_event_buckets",
                "must not repeat a bucket",
                shown_target,
            )
            resolved.append(target)
        require(
            len(resolved) <= MAX_DATA_EVENT_BUCKETS,
            "data_event_buckets",
            f"must hold at most {MAX_DATA_EVENT_BUCKETS} buckets (one event selector)",
            len(resolved),
        )
        if resolved:
            self.trail.add_s3_event_selector(
                [cloudtrail.S3EventSelector(bucket=b) for b in resolved],
                include_management_events=False,
                read_write_type=cloudtrail.ReadWriteType.ALL,
            )


def _same_bucket(bucket: s3.IBucket, name: str | None, other: s3.IBucket) -> bool:
    """Whether ``bucket`` (of literal name ``name``, None if unknown: :func:`literal_bucket_name`)
    is ``other``: the same object, or the same literal name."""
    return bucket is other or (name is not None and name == literal_bucket_name(other))
