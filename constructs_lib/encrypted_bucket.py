"""S3 buckets encrypted with a customer managed KMS key, locked down as CIS and the nag packs ask.

``EncryptedBucket`` makes an ``aws_s3.Bucket`` with SSE-KMS under the given key (S3 Bucket Key on),
a bucket policy that refuses uploads naming another key or another kind of encryption, TLS 1.2 or
later only, no public access, no ACLs, versioning with a noncurrent-version lifecycle rule, server
access logs in a dedicated log bucket and, optionally, replication to a bucket in another Region
encrypted with that Region's key, and S3 Object Lock with a default retention.

Server access logs: Amazon S3 delivers them only to buckets whose default encryption is SSE-S3
("Default server-side encryption with AWS KMS keys (SSE-KMS) is not supported" in the S3 user
guide, "Enabling Amazon S3 server access logging"). The log bucket therefore uses SSE-S3; it is
otherwise locked down like the data bucket and only the S3 logging service may write to it. The
three nag rules that ask for SSE-KMS on it are acknowledged on the log bucket alone.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, Reference, RemovalPolicy, Stack, Tokenization
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib import _durations as durations
from constructs_lib import _principals as principals
from constructs_lib._validation import (
    RESERVED_BUCKET_PREFIXES,
    ConstructPropError,
    Shown,
    check_mapping,
    check_object_lock_period,
    check_region,
    check_sequence,
    check_sequence_of,
    is_token,
    require,
    stack_label,
    token_shape,
)
from constructs_lib.compliance import acknowledge, acknowledge_all
from constructs_lib.key_policy import stack_facts, stack_of
from constructs_lib.keys import CustomerManagedKey, ReplicaKey
from constructs_lib.snapshot_replication import check_token_key_arn

MIN_TLS_VERSION = 1.2
# The TLS versions S3 accepts (s3:TlsVersion); bucket_props may raise the minimum to the later one.
TLS_VERSIONS = (1.2, 1.3)
PUBLIC_ACCESS_FLAGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)
DEFAULT_NONCURRENT_VERSION_RETENTION_DAYS = 90
DEFAULT_ACCESS_LOG_RETENTION_DAYS = 365
ABORT_INCOMPLETE_UPLOADS_DAYS = 7
# \Z, not $: "$" also matches before a final newline, which S3 and KMS refuse.
KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):(key|alias)/(.+)\Z")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
IP_ADDRESS = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}\Z")
# An ARN built with a token (``arn:${Token[AWS.Partition.8]}:kms:...``, as an imported alias's
# key_arn is) still ends in a literal ``:alias/<name>``.
ALIAS_ARN_TAIL = re.compile(r":alias/[^:${}]+\Z")


# Every EncryptedBucket sets these; bucket_props may repeat them only with the same value (or,
# for minimum_tls_version, a later TLS version).
REQUIRED_BUCKET_PROPS: Mapping[str, Any] = {
    "encryption": s3.BucketEncryption.KMS,
    "bucket_key_enabled": True,
    "enforce_ssl": True,
    "minimum_tls_version": MIN_TLS_VERSION,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    "versioned": True,
}
# Computed by EncryptedBucket from its own props; bucket_props must not set them.
COMPUTED_BUCKET_PROPS = frozenset(
    {
        "encryption_key",
        "removal_policy",
        "server_access_logs_bucket",
        "server_access_logs_prefix",
        "replication_role",
        "replication_rules",
        "blocked_encryption_types",
    }
)

S3_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
SSE_HEADER = "s3:x-amz-server-side-encryption"
SSE_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"
SSE_C_HEADER = "s3:x-amz-server-side-encryption-customer-algorithm"

# Acknowledgment reasons (each also a row of docs/compliance.md).
REASON_LOG_BUCKET_SSE_S3 = (
    "S3 server access logs can only be delivered to a bucket whose default encryption is SSE-S3 "
    "(the S3 user guide says SSE-KMS is not supported for log target buckets), so this "
    "dedicated access-log bucket uses SSE-S3; the data bucket it logs uses SSE-KMS with a CMK."
)
REASON_LOG_BUCKET_NOT_LOGGED = (
    "This is the dedicated server access log bucket of an EncryptedBucket; logging its own "
    "accesses into itself would create a log record for every log delivery, without end."
)
REASON_LOG_BUCKET_NOT_REPLICATED = (
    "Server access logs are operational records of the data bucket, kept versioned for a set "
    "retention; they are not replicated to a second Region (the data bucket can be)."
)
REASON_NOT_REPLICATED = (
    "Cross-Region replication of an EncryptedBucket is opt-in (replication=BucketReplication"
    "(...)); this bucket was configured without a replica Region and relies on versioning and a "
    "RETAIN removal policy."
)
REASON_REPLICATION_OBJECTS = (
    "S3 replication reads and writes object versions, whose ARNs can only be written as the "
    "bucket ARN followed by /*; the statement names the exact source or destination bucket."
)


def _flatten_reference(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag flattens it into finding IDs (cdk-nag
    ``utils/flatten-cfn-reference``): ``{"Fn::GetAtt": ["B", "Arn"]}`` becomes ``<B.Arn>``."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if not isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    flat: str
    if value.get("Fn::Join"):
        delimiter, items = value["Fn::Join"]
        flat = str(delimiter).join(_flatten_reference(item) for item in items)
    elif value.get("Fn::Sub") or value.get("Fn::ImportValue"):
        flat = _flatten_reference(value.get("Fn::Sub") or value["Fn::ImportValue"])
    elif value.get("Fn::GetAtt"):
        resource, attribute = value["Fn::GetAtt"]
        flat = f"<{_flatten_reference(resource)}.{_flatten_reference(attribute)}>"
    elif value.get("Ref"):
        flat = f"<{_flatten_reference(value['Ref'])}>"
    else:
        flat = json.dumps(value, separators=(",", ":"))
    return flat


def acknowledge_wildcard_resources(policy: iam.ManagedPolicy, reason: str) -> list[str]:
    """Acknowledge ``AwsSolutions-IAM5`` for each wildcard resource in ``policy`` as it stands.

    cdk-nag reports one finding per wildcard resource (``AwsSolutions-IAM5[Resource::...]``);
    each is acknowledged by its exact ID on this policy only. Statements added later are not
    covered. Returns the rule IDs acknowledged.
    """
    document = stack_of(policy).resolve(policy.document)
    rule_ids: list[str] = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            flat = _flatten_reference(resource)
            rule_id = f"AwsSolutions-IAM5[Resource::{flat}]"
            if "*" in flat and rule_id not in rule_ids:
                rule_ids.append(rule_id)
    if rule_ids:
        acknowledge(policy, rule_ids, reason)
    return rule_ids


@dataclass(frozen=True)
class BucketReplication:
    """A bucket in another Region of the same account that receives replicas.

    Args:
        bucket_name: the destination bucket (versioned, e.g. another EncryptedBucket).
        encryption_key_arn: ARN of the symmetric CMK in the destination Region that encrypts the
            replicas (``arn:aws:kms:<region>:<account>:key/<id>``; an alias ARN is refused because
            IAM cannot scope permissions to it). For an EncryptedBucket destination, its own key:
            its bucket policy refuses replicas under another key, and S3 then fails each
            SSE-KMS object's replication with no error at deploy. When that EncryptedBucket is in
            the same App (``bucket_name`` literal on both sides), another literal key ARN, or
            another key made in the App, is an error, whichever of the two is made first; one
            that cannot be compared at synth (a literal ARN and a key made in the App, a
            deploy-time value, or a ``kms.Key.from_lookup`` key before its lookup is in
            cdk.context.json) is a warning, ``kmskit:replicaKeyUnchecked``, on the source
            bucket. A key made in the App must be in ``region`` and this account, as a literal
            ARN must.
        region: the destination Region; must differ from the source bucket's Region.
        storage_class: storage class of the replicas (an ``aws_s3.StorageClass``). Default: the
            source object's class.
        replicate_delete_markers: True or False. Default: False (a delete in the source Region
            does not hide the replica).
    """

    bucket_name: str
    encryption_key_arn: str
    region: str
    storage_class: s3.StorageClass | None = None
    replicate_delete_markers: bool = False


@dataclass(frozen=True)
class BucketObjectLock:
    """S3 Object Lock with a default retention: S3 locks every object version written to the
    bucket (write once, read many) for the retention period, counted from the version's
    creation. Nobody can overwrite a version: a new version is written beside it.

    Args:
        mode: ``aws_s3.ObjectLockMode.GOVERNANCE``: a principal allowed
            ``s3:BypassGovernanceRetention`` may still delete a locked version or shorten its
            retention, sending ``x-amz-bypass-governance-retention: true``; nobody else can.
            ``aws_s3.ObjectLockMode.COMPLIANCE``: nobody, the account's root user included, can
            delete a locked version or shorten its retention until it ends, and AWS cannot undo it
            either: the bucket and those versions stay (and are billed) until then.
        days: the retention in days, 1-36,500. Give ``days`` or ``years``, not both.
        years: the retention in years, 1-100 (S3's limit is 100 years). S3 counts calendar
            years, so a year may be 366 days.

    A ``ConstructPropError`` names the field and value of a bad one when it is made.
    (``aws_s3.ObjectLockRetention`` is not used: it renders days only, and checks its range in
    its own constructor, without naming a prop.)
    """

    mode: s3.ObjectLockMode
    days: int | None = None
    years: int | None = None

    def __post_init__(self) -> None:
        require(
            isinstance(self.mode, s3.ObjectLockMode),
            "object_lock.mode",
            "must be aws_s3.ObjectLockMode.GOVERNANCE or aws_s3.ObjectLockMode.COMPLIANCE",
            self.mode,
        )
        check_object_lock_period("object_lock", self.days, self.years)

    @property
    def retention_days(self) -> int:
        """The retention in days, a year counted as 365: the shortest the retention lasts. A
        lifecycle expiry at least this long acts on no version still locked, but for a leap day:
        S3 then deletes that version at its next lifecycle run, a day later."""
        return self.days if self.days is not None else 365 * int(self.years or 0)

    def __str__(self) -> str:
        if self.days is not None:
            return f"{self.mode.value} for {self.days} days"
        return f"{self.mode.value} for {self.years} years ({self.retention_days} days)"


@dataclass(frozen=True)
class _KeyFacts:
    key: kms.IKey
    spec: str | None
    usage: str | None
    construct: CustomerManagedKey | ReplicaKey | None


def key_facts(prop: str, value: Any, scope: Construct) -> _KeyFacts:
    """Check that ``value`` is a symmetric encryption key usable by S3 in ``scope``'s Region.

    A :class:`CustomerManagedKey`, a :class:`ReplicaKey` or the ``aws_kms.Key`` inside one is
    checked against its declared spec and usage. A plain ``aws_kms.Key`` made in this app is
    checked against its CloudFormation properties. An imported key (``Key.from_key_arn``) has no
    spec known at synth time: it is accepted when its ARN names a key (not an alias) in the
    bucket's Region, and S3 itself refuses an asymmetric key when the stack deploys.
    """
    if isinstance(value, CustomerManagedKey | ReplicaKey):
        facts = _KeyFacts(value.key, value.key_spec, value.key_usage, value)
    elif isinstance(value, kms.Alias) or _is_alias(value):
        raise ConstructPropError(
            prop,
            "must be a KMS key, not an alias (the bucket policy names the key ARN)",
            _alias_name(value),
        )
    elif isinstance(value, kms.Key):
        owner = value.node.scope
        if isinstance(owner, CustomerManagedKey) and owner.key is value:
            facts = _KeyFacts(value, owner.key_spec, owner.key_usage, owner)
        else:
            cfn = value.node.default_child
            assert isinstance(cfn, kms.CfnKey)
            facts = _KeyFacts(
                value, cfn.key_spec or "SYMMETRIC_DEFAULT", cfn.key_usage or "ENCRYPT_DECRYPT", None
            )
    elif is_key(value):
        facts = _KeyFacts(value, None, None, None)
    else:
        raise ConstructPropError(
            prop, "must be a CustomerManagedKey, a ReplicaKey or an aws_kms.IKey", value
        )
    if facts.spec is not None:
        require(
            facts.spec == "SYMMETRIC_DEFAULT" and facts.usage == "ENCRYPT_DECRYPT",
            prop,
            "must be a symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT); S3 "
            "encrypts with no other kind",
            f"{facts.spec} ({facts.usage})",
        )
    region = stack_of(scope).region
    arn = facts.key.key_arn
    if not is_token(arn):
        match = KEY_ARN.match(arn)
        require(match is not None, prop, "must have a KMS key ARN", arn)
        assert match is not None
        require(match.group(3) == "key", prop, "must be a KMS key, not an alias", arn)
        require(
            is_token(region) or match.group(1) == region,
            prop,
            f"must be in the bucket's Region ({region})",
            arn,
        )
    elif ALIAS_ARN_TAIL.search(arn):
        raise ConstructPropError(prop, "must be a KMS key, not an alias", arn)
    elif facts.construct is not None:
        key_region = stack_facts(stack_of(facts.construct)).region
        if not (is_token(region) or is_token(key_region) or key_region == region):
            raise ConstructPropError(
                prop,
                f"must be in the bucket's Region ({region})",
                f"{facts.construct.node.path} in {key_region}",  # read only on failure
            )
    return facts


def _is_alias(value: Any) -> bool:
    """True for an ``aws_kms.IAlias`` such as ``Alias.from_alias_name`` gives (an IKey too)."""
    return hasattr(value, "node") and isinstance(getattr(value, "alias_name", None), str)


def _alias_name(alias: Any) -> str:
    """An alias's name as written (an ``aws_kms.Alias`` made here names itself with a token)."""
    name: str = alias.alias_name
    cfn = alias.node.default_child
    if is_token(name) and isinstance(cfn, kms.CfnAlias) and not is_token(cfn.alias_name):
        name = cfn.alias_name
    return name


def is_key(value: Any) -> bool:
    """True for an ``aws_kms.IKey`` (jsii interfaces cannot be used with isinstance)."""
    return hasattr(value, "node") and isinstance(getattr(value, "key_arn", None), str)


def is_bucket(value: Any) -> bool:
    """True for an ``aws_s3.IBucket``."""
    return hasattr(value, "node") and isinstance(getattr(value, "bucket_arn", None), str)


def literal_bucket_name(bucket: s3.IBucket) -> str | None:
    """``bucket``'s name when it is known at synth time: an imported bucket's
    (``Bucket.from_bucket_name``, ``from_bucket_arn``, ``from_bucket_attributes``), or the
    literal ``bucket_name`` a bucket of this app was made with; None when CloudFormation names
    the bucket or the name is a token."""
    name = bucket.bucket_name
    if not is_token(name):
        return name
    cfn = bucket.node.default_child if isinstance(bucket, s3.Bucket) else None
    given = cfn.bucket_name if isinstance(cfn, s3.CfnBucket) else None
    return given if isinstance(given, str) and not is_token(given) else None


def _default_sse_algorithm(bucket: s3.IBucket) -> str | None:
    """The ``SSEAlgorithm`` of a bucket made in this app (``AES256``, ``aws:kms``,
    ``aws:kms:dsse``), or None when it is not known at synth time (an imported bucket, or one
    left to S3's SSE-S3 default). ``BucketEncryption.KMS_MANAGED`` and ``DSSE_MANAGED`` leave
    ``encryption_key`` unset, so that attribute alone does not tell."""
    if not isinstance(bucket, s3.Bucket):
        return None
    cfn = bucket.node.default_child
    if not isinstance(cfn, s3.CfnBucket):
        return None
    resolved = stack_of(bucket).resolve(cfn.bucket_encryption) or {}
    for rule in resolved.get("serverSideEncryptionConfiguration") or []:
        algorithm = (rule.get("serverSideEncryptionByDefault") or {}).get("sseAlgorithm")
        if isinstance(algorithm, str):
            return algorithm
    return None


def _object_lock_enabled(bucket: s3.IBucket) -> bool:
    """True for a bucket of this app made with S3 Object Lock (unknown, so False, for others)."""
    cfn = bucket.node.default_child if isinstance(bucket, s3.Bucket) else None
    if not isinstance(cfn, s3.CfnBucket):
        return False
    return stack_of(bucket).resolve(cfn.object_lock_enabled) is True


# S3 bucket names are global: one App must not name two buckets alike (root -> name -> holder).
_bucket_names: weakref.WeakKeyDictionary[Any, dict[str, Construct]] = weakref.WeakKeyDictionary()


def _check_and_reserve_bucket_name(name: str | None, holder: Construct) -> None:
    """``bucket_name`` (None: CloudFormation names it) checked, and taken for ``holder``."""
    if name is None:
        return
    check_bucket_name("bucket_name", name)
    if is_token(name):
        return
    names = _bucket_names.setdefault(holder.node.root, {})
    other = names.get(name)
    if other is not None:  # worded only now: a construct's path is a jsii round trip
        raise ConstructPropError(
            "bucket_name",
            f"must be unique: S3 bucket names are global, and {other.node.path} has it already",
            name,
        )
    names[name] = holder


# Replications into a bucket named literally (root -> destination name -> [(source, replication)]),
# held against the key of an EncryptedBucket of that name in the same App, whichever comes first.
_replications_into: weakref.WeakKeyDictionary[
    Any, dict[str, list[tuple[EncryptedBucket, BucketReplication]]]
] = weakref.WeakKeyDictionary()

REPLICA_KEY_UNCHECKED = "kmskit:replicaKeyUnchecked"


def _match_replications(bucket: EncryptedBucket, replication: BucketReplication | None) -> None:
    """Hold ``bucket``'s ``replication`` against the EncryptedBucket of the App it replicates
    into, and the replications of the App into ``bucket`` against its key (see
    :func:`_check_replica_key`); one made later is matched when it is made."""
    root = bucket.node.root
    if replication is not None and not is_token(replication.bucket_name):
        into = _replications_into.setdefault(root, {})
        into.setdefault(replication.bucket_name, []).append((bucket, replication))
        destination = _bucket_names.get(root, {}).get(replication.bucket_name)
        if isinstance(destination, EncryptedBucket) and destination is not bucket:
            _check_replica_key(bucket, replication, destination)
    name = bucket._bucket_name
    if name is not None and not is_token(name):
        for source, into_this in _replications_into.get(root, {}).get(name, []):
            if source is not bucket:
                _check_replica_key(source, into_this, bucket)


def _check_replica_key(
    source: EncryptedBucket, replication: BucketReplication, destination: EncryptedBucket
) -> None:
    """``source``'s ``replication.encryption_key_arn`` must be the key of ``destination``, the
    EncryptedBucket it replicates into: the destination's policy refuses every replica under
    another key (``DenyOtherKmsKeys``), and S3 reports that only in the replication status of
    each object (FAILED), never at deploy. Two literal ARNs that differ, or two keys made in the
    App that differ, are an error; where the two cannot be compared at synth (a literal ARN and
    a key of the App, a deploy-time value, or a key of ``kms.Key.from_lookup``, whose ARN is a
    placeholder until the lookup is in cdk.context.json), a warning
    (``kmskit:replicaKeyUnchecked``) says so."""
    given = replication.encryption_key_arn
    key = destination.encryption_key
    held = key.key_arn
    if given == held:
        return
    given_key, held_key = _key_path(given), _key_path(held)
    if given_key is not None and given_key == held_key:
        return  # two tokens of the same key's ARN
    looked_up = kms.Key.is_lookup_dummy(key) or given.endswith(
        f":key/{kms.Key.DEFAULT_DUMMY_KEY_ID}"
    )
    under = key.node.path if is_token(held) or looked_up else held
    what = (
        f"the key of the destination bucket {replication.bucket_name!r} (the EncryptedBucket "
        f"{destination.node.path}, under {under})"
    )
    effect = (
        "its bucket policy refuses replicas under any other key (DenyOtherKmsKeys), so S3 would "
        f"fail to replicate every SSE-KMS object of {source.node.path}, with no error at deploy"
    )
    if not looked_up and (
        (not is_token(given) and not is_token(held))
        or (given_key is not None and held_key is not None)
    ):
        raise ConstructPropError(
            "replication.encryption_key_arn",
            f"must be {what}: {effect}",
            Shown(given_key) if given_key is not None else given,
        )
    if given_key is not None:
        shown = f"the key {given_key}"
    elif is_token(given):
        shown = "a value known only at deploy"
    else:
        shown = given
    Annotations.of(source).add_warning_v2(
        REPLICA_KEY_UNCHECKED,
        f"replication.encryption_key_arn ({shown}) cannot be compared at synth with {what}: "
        f"make sure it is that key's ARN; {effect}",
    )


def _key_path(arn: str) -> str | None:
    """The construct path of the key whose ``key_arn`` ``arn`` is (a reference to an
    ``AWS::KMS::Key`` or ``ReplicaKey`` of this App, shown as its L2 construct), else None."""
    if not is_token(arn) or token_shape(arn) != "<token>":
        return None
    token = Tokenization.reverse_string(arn).first_token
    if not isinstance(token, Reference) or token.display_name != "Arn":
        return None
    target = token.target
    if not isinstance(target, kms.CfnKey | kms.CfnReplicaKey):
        return None
    scope = target.node.scope
    if target.node.id == "Resource" and scope is not None:
        return scope.node.path
    return target.node.path


def check_bucket_name(prop: str, value: Any) -> None:
    """S3's naming rules for a general purpose bucket (a token is left to deploy time)."""
    if isinstance(value, str) and is_token(value):
        return
    require(
        isinstance(value, str) and bool(BUCKET_NAME.match(value)) and ".." not in value,
        prop,
        "must be 3-63 lowercase letters, digits, '.' or '-', starting and ending with a "
        "letter or digit",
        value,
    )
    require(
        ".-" not in value and "-." not in value,
        prop,
        "must not have a '.' next to a '-'",
        value,
    )
    require(not IP_ADDRESS.match(value), prop, "must not be formatted as an IP address", value)
    for prefix in RESERVED_BUCKET_PREFIXES:
        require(
            not value.startswith(prefix),
            prop,
            f"must not start with '{prefix}', which S3 reserves",
            value,
        )
    for suffix in RESERVED_BUCKET_SUFFIXES:
        require(
            not value.endswith(suffix),
            prop,
            f"must not end with '{suffix}', which S3 reserves",
            value,
        )


@functools.cache
def _bucket_prop_names() -> frozenset[str]:
    """The keyword props of ``aws_s3.Bucket`` (read from its Python signature, no jsii call)."""
    names = inspect.signature(s3.Bucket.__init__).parameters
    return frozenset(names) - {"self", "scope", "id"}


def _lifecycle_rules(value: Any) -> tuple[s3.LifecycleRule, ...]:
    """``bucket_props["lifecycle_rules"]``: a list or tuple of ``aws_s3.LifecycleRule``."""
    if value is None:
        return ()
    return check_sequence_of(
        "bucket_props",
        value,
        s3.LifecycleRule,
        "aws_s3.LifecycleRule for 'lifecycle_rules'",
        "must give 'lifecycle_rules' as aws_s3.LifecycleRule values",
    )


def _data_lifecycle_rules(
    user_props: dict[str, Any], noncurrent_days: int, lock: BucketObjectLock | None
) -> list[s3.LifecycleRule]:
    """The data bucket's lifecycle rules: ``ExpireNoncurrentVersions``, then those of
    ``bucket_props`` (taken out of it), checked against ``lock``."""
    user_rules = _lifecycle_rules(user_props.pop("lifecycle_rules", None))
    if lock is not None:
        _check_locked_lifecycle(user_rules, lock)
    lifecycle_rules = [
        s3.LifecycleRule(
            id="ExpireNoncurrentVersions",
            noncurrent_version_expiration=durations.days(noncurrent_days),
            abort_incomplete_multipart_upload_after=durations.days(ABORT_INCOMPLETE_UPLOADS_DAYS),
            expired_object_delete_marker=True,
        ),
        *user_rules,
    ]
    if len(lifecycle_rules) > 1:
        # S3 refuses a lifecycle configuration whose rule IDs repeat, at deploy time.
        ids = [rule.id for rule in lifecycle_rules if rule.id is not None]
        require(
            len(set(ids)) == len(ids),
            "bucket_props",
            "must not repeat a lifecycle rule ID (ExpireNoncurrentVersions is this "
            "construct's own)",
            sorted({i for i in ids if ids.count(i) > 1}),
        )
    return lifecycle_rules


def _check_locked_lifecycle(rules: Sequence[s3.LifecycleRule], lock: BucketObjectLock) -> None:
    """``bucket_props["lifecycle_rules"]`` against ``object_lock``: no enabled rule may expire
    current objects or noncurrent versions before the retention ends.

    An error, not a warning: S3 accepts such a configuration at deploy and then does something
    neither setting says. It cannot delete a locked version, so a noncurrent-version expiry
    shorter than the retention does nothing until the lock ends (the versions are kept, and
    billed, longer than the rule reads); and a current-object expiry adds a delete marker
    that hides a log file still locked from every reader of current objects (``kmskit audit``
    among them). The fix is always in the same props: a longer expiry, or a shorter retention.
    A warning would pass ``cdk synth`` among many others.
    """
    locked = lock.retention_days
    for index, rule in enumerate(rules):
        if rule.enabled is False:
            continue
        name = rule.id if rule.id is not None else f"lifecycle_rules[{index}]"
        require(
            rule.expiration_date is None,
            "bucket_props",
            f"must not expire current objects on a date with object_lock ({lock}): the objects "
            "written in the retention before it would be hidden behind delete markers while "
            "still locked",
            {name: f"expiration_date {rule.expiration_date}"},
        )
        for field, what, effect in (
            (
                "expiration",
                "current objects",
                "a delete marker would hide each one while S3 still keeps it locked",
            ),
            (
                "noncurrent_version_expiration",
                "noncurrent versions",
                "S3 cannot delete a locked version, so the rule would do nothing until then",
            ),
        ):
            duration = getattr(rule, field)
            if duration is None:
                continue
            if durations.literal_amount("bucket_props", duration, "days") < locked:
                raise ConstructPropError(  # worded only now: to_human_string is a round trip
                    "bucket_props",
                    f"must not expire {what} before their Object Lock retention ends "
                    f"(object_lock: {lock}): {effect}",
                    {name: f"{field} {duration.to_human_string()}"},
                )


def _noncurrent_days(given: Any, lock: BucketObjectLock | None) -> tuple[int, int]:
    """``noncurrent_version_retention_days`` for the data bucket and for its dedicated log
    bucket: ``given``, or by default 90 (the data bucket: at least ``lock``'s retention). With
    ``lock`` (checked to be a BucketObjectLock), a given value shorter than its retention is
    refused."""
    require(
        lock is None or isinstance(lock, BucketObjectLock),
        "object_lock",
        "must be a BucketObjectLock",
        lock,
    )
    days = _positive_days(
        "noncurrent_version_retention_days",
        DEFAULT_NONCURRENT_VERSION_RETENTION_DAYS if given is None else given,
    )
    if lock is None:
        return days, days
    locked = lock.retention_days
    require(
        given is None or days >= locked,
        "noncurrent_version_retention_days",
        f"must be at least the Object Lock retention (object_lock: {lock}): S3 cannot delete a "
        "locked version, so the lifecycle rule would do nothing until then",
        days,
    )
    return max(days, locked), days


def _check_lock_props(user_props: Mapping[str, Any], lock: BucketObjectLock | None) -> None:
    """``bucket_props`` leaves Object Lock's default retention to ``object_lock``, and does not
    empty a bucket with Object Lock on deletion (whether ``object_lock`` or
    ``bucket_props["object_lock_enabled"]`` turns it on: a version under a legal hold or a
    per-object retention is locked without a default retention too)."""
    if "object_lock_default_retention" in user_props:
        raise ConstructPropError(
            "bucket_props",
            "must not set 'object_lock_default_retention': give object_lock="
            "BucketObjectLock(...), whose retention is checked against the lifecycle rules",
            {"object_lock_default_retention": Shown("ObjectLockRetention(...)")},
        )
    if user_props.get("auto_delete_objects") is not True:
        return
    if lock is not None:
        locked_by = f"object_lock ({lock})"
    elif user_props.get("object_lock_enabled") is True:
        locked_by = "'object_lock_enabled': True (S3 Object Lock, for legal holds and retention)"
    else:
        return
    raise ConstructPropError(
        "bucket_props",
        f"must not set 'auto_delete_objects' with {locked_by}: S3 refuses to delete a locked "
        "version, so emptying the bucket would fail, and the stack's deletion with it",
        {"auto_delete_objects": True},
    )


def _positive_days(prop: str, value: Any) -> int:
    require(
        isinstance(value, int) and not isinstance(value, bool) and value >= 1,
        prop,
        "must be a whole number of days, at least 1",
        value,
    )
    return int(value)


def _public_access_flags(value: Any) -> tuple[bool, ...] | None:
    """The four settings of an ``aws_s3.BlockPublicAccess`` (unset is off, as S3 has it), or
    None for another value. Each jsii read of ``BLOCK_ALL`` is a new object, so two equal
    settings are told apart by their flags, not by ``==``."""
    if not isinstance(value, s3.BlockPublicAccess):
        return None
    return tuple(bool(getattr(value, flag)) for flag in PUBLIC_ACCESS_FLAGS)


def _shown(value: Any) -> Any:
    """``value`` for an error message: a ``BlockPublicAccess`` by its four settings (its repr
    is only an object address), anything else as it is."""
    flags = _public_access_flags(value)
    if flags is None:
        return value
    settings = ", ".join(
        f"{name}={flag}" for name, flag in zip(PUBLIC_ACCESS_FLAGS, flags, strict=True)
    )
    return Shown(f"BlockPublicAccess({settings})")


def _check_tls_version(prop: str, value: Any, required: float) -> None:
    """``bucket_props["minimum_tls_version"]``: a number, not below ``required``, and one of
    :data:`TLS_VERSIONS`; each failure is its own error naming ``prop`` and the value."""
    versions = ", ".join(map(str, TLS_VERSIONS))
    name = "minimum_tls_version"
    require(
        isinstance(value, int | float) and not isinstance(value, bool),
        prop,
        f"must give '{name}' as a number, one of {versions} (not {type(value).__name__})",
        {name: value},
    )
    require(
        value >= required,
        prop,
        f"must not lower '{name}' (required: {required} or later, one of {versions})",
        {name: value},
    )
    require(
        value in TLS_VERSIONS,
        prop,
        f"must give '{name}' as a TLS version S3 accepts, one of {versions}",
        {name: value},
    )


def _meets(name: str, value: Any, required: Any) -> bool:
    """True when a ``bucket_props`` value is the required one (a ``BlockPublicAccess`` with the
    same four settings is the same value)."""
    flags = _public_access_flags(required)
    if flags is not None:
        return _public_access_flags(value) == flags
    return bool(value == required)


def refuse_computed(prop: str, user: Mapping[str, Any], computed: frozenset[str]) -> None:
    """A ``user`` prop the construct computes itself is an error naming it (the first, in the
    order given)."""
    for name, value in user.items():
        require(
            name not in computed,
            prop,
            f"must not set {name!r}, which is set from this construct's own props",
            {name: value},
        )


def merge_props(
    prop: str,
    defaults: Mapping[str, Any],
    user: Mapping[str, Any],
    required: Mapping[str, Any],
    computed: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``defaults`` <- ``user`` <- ``required``; a user value that contradicts a required one, or
    sets a computed prop, is an error naming it. A user value may repeat a required one (a
    ``BlockPublicAccess`` with the same four settings is the same value) or, for
    ``minimum_tls_version``, be stricter (1.3): that value is kept."""
    merged = {**defaults, **user, **required}
    refuse_computed(prop, user, computed)
    for name, value in user.items():
        if name not in required:
            continue
        if name == "minimum_tls_version":
            _check_tls_version(prop, value, required[name])
            merged[name] = value
            continue
        require(
            _meets(name, value, required[name]),
            prop,
            f"must not change {name!r} (required: {_shown(required[name])!r})",
            {name: _shown(value)},
        )
    return merged


# The actions that write an object with encryption headers: an upload, and a replica that S3
# replication writes into the bucket (S3 Service Authorization Reference: s3:ReplicateObject takes
# s3:x-amz-server-side-encryption, -aws-kms-key-id and -customer-algorithm, as s3:PutObject does).
PUT_AND_REPLICATE = ("s3:PutObject", "s3:ReplicateObject")


def _deny_put(
    sid: str,
    objects_arn: str,
    conditions: dict[str, dict[str, Any]],
    exempt_services: Sequence[str],
    actions: Sequence[str] = ("s3:PutObject",),
) -> iam.PolicyStatement:
    if exempt_services:
        conditions = {
            **conditions,
            "StringNotEqualsIfExists": {"aws:PrincipalServiceName": list(exempt_services)},
        }
    return iam.PolicyStatement(
        sid=sid,
        effect=iam.Effect.DENY,
        principals=[principals.anyone()],
        actions=list(actions),
        resources=[objects_arn],
        conditions=conditions,
    )


def add_bucket_statements(bucket: s3.IBucket, statements: Sequence[iam.PolicyStatement]) -> None:
    """Add ``statements`` to the bucket policy, as ``add_to_resource_policy`` does one by one.

    One call for all of them when the policy exists (``enforce_ssl`` makes it with the bucket):
    each ``add_to_resource_policy`` is three jsii round-trips, the call and the two fields of its
    result, which jsii reads back even when nobody uses them.
    """
    policy = bucket.policy
    if policy is None:
        for statement in statements:
            bucket.add_to_resource_policy(statement)
        return
    policy.document.add_statements(*statements)


def encryption_statements(
    bucket: s3.IBucket, key_arn: str, exempt_services: Sequence[str] = ()
) -> list[iam.PolicyStatement]:
    """Deny uploads that ask for another kind of encryption or another key.

    Uploads without encryption headers get the bucket default (SSE-KMS with ``key_arn``). A
    request for ``aws:kms`` (or DSSE-KMS, ``aws:kms:dsse``) without a key ID would be encrypted
    with the AWS managed key ``aws/s3`` (S3 PutObject API reference), so it is refused as well.

    Replicas that S3 replication writes in (``s3:ReplicateObject``) are held to the key too: one
    under another KMS key, under ``aws:kms`` or ``aws:kms:dsse`` without a key ID, under DSSE-KMS
    (which uploads may not use either), or SSE-C is refused, so a replication configured from
    elsewhere cannot put objects here under a key or encryption this bucket does not name. (A
    BucketReplication to this bucket names its key, ``encryption_key_arn``.) An SSE-S3 replica is
    not refused: a rule's replica key is for SSE-KMS objects, S3 may write the replica of an
    SSE-S3 object as SSE-S3, and an AuditBucket's digest files are SSE-S3 (CloudTrail writes them
    so); refusing it could keep them out of a bucket of this toolkit.
    """
    objects_arn = bucket.arn_for_objects("*")
    return [
        _deny_put(
            "DenyOtherEncryptionTypes",
            objects_arn,
            {"StringNotEquals": {SSE_HEADER: "aws:kms"}, "Null": {SSE_HEADER: "false"}},
            exempt_services,
        ),
        _deny_put(
            "DenyOtherReplicaEncryptionTypes",
            objects_arn,
            {
                "StringNotEquals": {SSE_HEADER: ["aws:kms", "AES256"]},
                "Null": {SSE_HEADER: "false"},
            },
            exempt_services,
            ("s3:ReplicateObject",),
        ),
        _deny_put(
            "DenyOtherKmsKeys",
            objects_arn,
            {"StringNotEquals": {SSE_KEY_HEADER: key_arn}, "Null": {SSE_KEY_HEADER: "false"}},
            exempt_services,
            PUT_AND_REPLICATE,
        ),
        _deny_put(
            "DenyKmsWithoutKeyId",
            objects_arn,
            {
                "StringEquals": {SSE_HEADER: ["aws:kms", "aws:kms:dsse"]},
                "Null": {SSE_KEY_HEADER: "true"},
            },
            exempt_services,
            PUT_AND_REPLICATE,
        ),
        _deny_put(
            "DenyCustomerProvidedKeys",
            objects_arn,
            {"Null": {SSE_C_HEADER: "false"}},
            (),
            PUT_AND_REPLICATE,
        ),
    ]


def _check_removal_props(user_props: Mapping[str, Any], removal_policy: RemovalPolicy) -> None:
    """Checked before the log bucket is made, which takes ``auto_delete_objects``: aws-cdk-lib's
    own check ("Cannot use 'autoDeleteObjects' property on a bucket without setting removal
    policy to 'DESTROY'") names neither ``removal_policy`` nor ``bucket_props``."""
    refuse_computed("bucket_props", user_props, COMPUTED_BUCKET_PROPS)
    require(
        user_props.get("auto_delete_objects") is not True
        or removal_policy is RemovalPolicy.DESTROY,
        "bucket_props",
        "must not set 'auto_delete_objects' unless removal_policy=RemovalPolicy.DESTROY (a "
        "RemovalPolicies Aspect comes too late: the buckets check it when they are made)",
        {"auto_delete_objects": True},
    )


class EncryptedBucket(Construct):
    """An S3 bucket encrypted with a customer managed key, TLS-only, private, versioned and logged.

    Args:
        encryption_key: the symmetric CMK for SSE-KMS: a :class:`CustomerManagedKey`, a
            :class:`ReplicaKey` or an ``aws_kms.IKey`` (see :func:`key_facts` for what is
            checked).
        bucket_name: Default: generated by CloudFormation. A literal name also names this
            bucket in a custom key policy's replication statement and in the ``aws:SourceArn``
            of the replication role's trust and of a log bucket of another stack.
        noncurrent_version_retention_days: days a replaced or deleted version is kept before
            the lifecycle rule removes it (at least 1; with ``object_lock``, at least its
            retention in days, a year counted as 365: S3 cannot delete a locked version
            sooner). Default: 90, or with ``object_lock`` its retention when that is longer (the
            dedicated log bucket, which has no Object Lock, keeps 90).
        access_log_bucket: an existing bucket for the server access logs (SSE-S3, in this
            bucket's Region and account, without S3 Object Lock; a bucket of this app with
            SSE-KMS, ``KMS_MANAGED`` or ``DSSE_MANAGED`` encryption, or Object Lock, is refused,
            as is one known to be in another Region or account). One of this app in another
            stack gets the log delivery statement with ``aws:SourceAccount``, and
            ``aws:SourceArn`` only with a literal ``bucket_name``. Default: a dedicated log
            bucket is made.
        access_log_retention_days: days the dedicated log bucket keeps logs (at least 1; only
            for the bucket this construct makes, so not together with ``access_log_bucket``).
            Default: 365.
        access_log_prefix: key prefix of the log objects. Default: ``"<construct id>/"``.
        replication: replicate every object to a bucket in another Region, encrypted there with
            that Region's key. With S3 Object Lock on this bucket (``object_lock``), the
            destination bucket must have Object Lock enabled too, and the replication role may
            read each version's retention and legal hold. Default: no replication.
        object_lock: a :class:`BucketObjectLock`: S3 Object Lock on, with a default retention
            (GOVERNANCE or COMPLIANCE mode, in days or years) for every version written.
            Object Lock cannot be turned off again once the bucket has it. Lifecycle rules in
            ``bucket_props`` must not expire current objects or noncurrent versions before the
            retention ends, and ``auto_delete_objects`` is refused (S3 refuses to delete a locked
            version, so emptying the bucket fails, and the stack's deletion with it). The bucket
            cannot be an ``access_log_bucket`` (S3 cannot deliver server access logs to it; an
            EncryptedBucket is SSE-KMS anyway); its own log bucket has no Object Lock.
            Default: None, no Object Lock (``bucket_props={"object_lock_enabled": True}`` alone
            turns it on without a default retention, for legal holds and per-object retention;
            ``auto_delete_objects`` is refused with it too).
        removal_policy: for the bucket and the log bucket. Default: ``RemovalPolicy.RETAIN``.
            With ``RemovalPolicy.DESTROY`` and ``auto_delete_objects=True`` in ``bucket_props``,
            the dedicated log bucket is emptied on deletion too (a full log bucket would
            otherwise fail the stack's deletion).
        service_writers: service principals (``cloudtrail.amazonaws.com``) that write with their
            own encryption settings and are exempt from the encryption-header denies; an Allow
            statement with ``aws:SourceArn`` must still let them write. Default: none.
        bucket_props: further ``aws_s3.Bucket`` props (``lifecycle_rules``, ``cors``,
            ``event_bridge_enabled``, ...). They may repeat the required settings but not weaken
            them; ``minimum_tls_version`` may be raised from 1.2 to 1.3 (a number: a string
            or a version S3 does not know is refused as such). Lifecycle rule IDs must
            not repeat (``ExpireNoncurrentVersions`` is taken). ``object_lock_default_retention``
            is refused: give ``object_lock``. Default: none.

    Attributes:
        bucket: the ``aws_s3.Bucket``.
        access_log_bucket: the bucket receiving server access logs (made or given).
        encryption_key: the ``aws_kms.IKey`` that encrypts the bucket.
        replication_role: the role S3 replicates with, or None.
        replication_policy: its managed policy, or None.
        object_lock: the :class:`BucketObjectLock` given, or None.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey,
        bucket_name: str | None = None,
        noncurrent_version_retention_days: int | None = None,
        access_log_bucket: s3.IBucket | None = None,
        access_log_retention_days: int | None = None,
        access_log_prefix: str | None = None,
        replication: BucketReplication | None = None,
        object_lock: BucketObjectLock | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        service_writers: Sequence[str] = (),
        bucket_props: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        # Log delivery through a bucket policy (not the LogDeliveryWrite ACL, which object
        # ownership BucketOwnerEnforced forbids), whatever the app's feature flags say.
        self.node.set_context(S3_LOGS_USE_BUCKET_POLICY, True)
        facts = key_facts("encryption_key", encryption_key, self)
        noncurrent_days, log_noncurrent_days = _noncurrent_days(
            noncurrent_version_retention_days, object_lock
        )
        require(
            access_log_bucket is None or access_log_retention_days is None,
            "access_log_retention_days",
            "applies only to the log bucket this construct makes; it must not be given together "
            "with an existing access_log_bucket",
            access_log_retention_days,
        )
        log_days = _positive_days(
            "access_log_retention_days",
            DEFAULT_ACCESS_LOG_RETENTION_DAYS
            if access_log_retention_days is None
            else access_log_retention_days,
        )
        if access_log_bucket is not None:
            require(
                is_bucket(access_log_bucket),
                "access_log_bucket",
                "must be an aws_s3.IBucket",
                access_log_bucket,
            )
            algorithm = _default_sse_algorithm(access_log_bucket)
            require(
                access_log_bucket.encryption_key is None and algorithm in (None, "AES256"),
                "access_log_bucket",
                "must use SSE-S3 default encryption (S3 server access logging cannot deliver to "
                "SSE-KMS or DSSE-KMS buckets, the AWS managed key aws/s3 included)",
                access_log_bucket.node.path + (f" ({algorithm})" if algorithm else ""),
            )
            # S3 user guide, "Enabling Amazon S3 server access logging": the destination bucket
            # is in the source bucket's Region and account, and has no S3 Object Lock.
            stack = stack_of(self)
            log_env = access_log_bucket.env
            for place, ours, theirs in (
                ("Region", stack.region, log_env.region),
                ("account", stack.account, log_env.account),
            ):
                require(
                    is_token(ours) or is_token(theirs) or ours == theirs,
                    "access_log_bucket",
                    f"must be in the bucket's {place} ({ours}): S3 delivers server access logs "
                    "only to a bucket in the source bucket's Region and account",
                    f"{access_log_bucket.node.path} in {theirs}",
                )
            require(
                not _object_lock_enabled(access_log_bucket),
                "access_log_bucket",
                "must not have S3 Object Lock enabled (S3 cannot deliver server access logs to "
                "such a bucket)",
                access_log_bucket.node.path,
            )
        _check_and_reserve_bucket_name(bucket_name, self)
        require(
            access_log_prefix is None or isinstance(access_log_prefix, str),
            "access_log_prefix",
            "must be a string (an S3 key prefix such as 'data/')",
            access_log_prefix,
        )
        service_writers = check_sequence(
            "service_writers", service_writers, "service principal strings"
        )
        for service in service_writers:
            require(
                isinstance(service, str) and service.endswith(".amazonaws.com"),
                "service_writers",
                "must hold service principals such as 'cloudtrail.amazonaws.com'",
                service,
            )
        require(
            isinstance(removal_policy, RemovalPolicy),
            "removal_policy",
            "must be a RemovalPolicy",
            removal_policy,
        )
        # CloudFormation refuses DeletionPolicy Snapshot on an S3 bucket, at deploy time.
        require(
            removal_policy is not RemovalPolicy.SNAPSHOT,
            "removal_policy",
            "must not be RemovalPolicy.SNAPSHOT (CloudFormation cannot snapshot an S3 bucket)",
            Shown(f"RemovalPolicy.{removal_policy.name}"),
        )
        user_props = check_mapping(
            "bucket_props",
            bucket_props,
            "must be a mapping of aws_s3.Bucket props, such as {'event_bridge_enabled': True}",
        )
        unknown = sorted(set(user_props) - _bucket_prop_names())
        require(not unknown, "bucket_props", "must hold only aws_s3.Bucket props", unknown)
        require(
            "bucket_name" not in user_props,
            "bucket_props",
            "must not set 'bucket_name' (use the bucket_name prop)",
            user_props.get("bucket_name"),
        )
        _check_removal_props(user_props, removal_policy)
        _check_lock_props(user_props, object_lock)
        self.encryption_key: kms.IKey = facts.key
        self.object_lock = object_lock
        self._key_construct = facts.construct
        self._bucket_name = bucket_name

        self._made_log_bucket = access_log_bucket is None
        self.access_log_bucket: s3.IBucket = access_log_bucket or self._make_log_bucket(
            log_days,
            log_noncurrent_days,
            removal_policy,
            # A stack deleted with the bucket emptied would still fail on a full log bucket.
            auto_delete_objects=user_props.get("auto_delete_objects") is True,
        )
        lifecycle_rules = _data_lifecycle_rules(user_props, noncurrent_days, object_lock)
        props = merge_props(
            "bucket_props",
            {},
            user_props,
            REQUIRED_BUCKET_PROPS
            if object_lock is None
            else {**REQUIRED_BUCKET_PROPS, "object_lock_enabled": True},
            COMPUTED_BUCKET_PROPS,
        )
        self.replication_role: iam.Role | None = None
        self.replication_policy: iam.ManagedPolicy | None = None
        self._extra_source_keys: list[kms.IKey] = []
        replication_props: dict[str, Any] = {}
        if replication is not None:
            self._check_key_policy_can_name_role("encryption_key", facts.construct)
            replication_props = self._replication_props(replication, bucket_name)

        log_prefix = access_log_prefix if access_log_prefix is not None else f"{id}/"
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **props,
            bucket_name=bucket_name,
            encryption_key=facts.key,
            removal_policy=removal_policy,
            server_access_logs_bucket=self._log_target(log_prefix),
            server_access_logs_prefix=log_prefix,
            blocked_encryption_types=[s3.BlockedEncryptionType.SSE_C],
            lifecycle_rules=lifecycle_rules,
            **replication_props,
        )
        self._lock(object_lock)
        add_bucket_statements(
            self.bucket, encryption_statements(self.bucket, facts.key.key_arn, service_writers)
        )
        self._finish_replication(replication)

    def _finish_replication(self, replication: BucketReplication | None) -> None:
        """The replication role's grants (or the acknowledgment that there is none), and the
        replications of the App into and out of this bucket held to their destination's key."""
        if replication is not None:
            self._grant_replication(replication)
        else:
            acknowledge(self.bucket, _REPLICATION_RULES, REASON_NOT_REPLICATED)
        _match_replications(self, replication)

    def _lock(self, lock: BucketObjectLock | None) -> None:
        """The default retention (None: none), on the L1: the L2's
        ``object_lock_default_retention`` renders days only, and S3's years are calendar years."""
        if lock is None:
            return
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.object_lock_configuration = s3.CfnBucket.ObjectLockConfigurationProperty(
            object_lock_enabled="Enabled",
            rule=s3.CfnBucket.ObjectLockRuleProperty(
                default_retention=s3.CfnBucket.DefaultRetentionProperty(
                    mode=lock.mode.value, days=lock.days, years=lock.years
                )
            ),
        )

    def _log_target(self, prefix: str) -> s3.IBucket:
        """The log bucket as the data bucket's logging configuration names it (logs go under
        ``prefix``).

        For a log bucket of this app in another stack, aws-cdk-lib would add the Allow for
        ``logging.s3.amazonaws.com`` without ``aws:SourceArn`` and ``aws:SourceAccount`` (the
        data bucket's ARN in the log bucket's stack would make each stack depend on the other),
        so any bucket of any account could deliver records under the prefix. Such a bucket is
        named through a reference, on which aws-cdk-lib adds nothing, and
        :meth:`_allow_log_delivery_across_stacks` adds the statement with its conditions.
        """
        logs = self.access_log_bucket
        # A log bucket made here is in this stack: skip the round trips of asking.
        if (
            self._made_log_bucket
            or not isinstance(logs, s3.Bucket)
            or stack_of(logs) is stack_of(self)
        ):
            return logs
        self._allow_log_delivery_across_stacks(prefix)
        return s3.Bucket.from_bucket_attributes(
            self, "AccessLogTarget", bucket_name=logs.bucket_name
        )

    def _allow_log_delivery_across_stacks(self, prefix: str) -> None:
        """Let S3 server access logging of this bucket write under ``prefix`` in a log bucket of
        another stack: ``aws:SourceAccount`` always (S3 delivers only within one account), and
        ``aws:SourceArn`` when ``bucket_name`` is a literal, as an ARN built from that name."""
        stack = stack_of(self)
        conditions: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": stack.account}}
        name = self._bucket_name
        if name is not None and not is_token(name):
            conditions["ArnLike"] = {"aws:SourceArn": f"arn:{stack.partition}:s3:::{name}"}
        self.access_log_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_log_bucket.arn_for_objects(f"{prefix}*" if prefix else "*")],
                conditions=conditions,
            )
        )
        # aws-cdk-lib's warning that it could not add this statement on the reference.
        Annotations.of(self).acknowledge_warning(
            "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
            "EncryptedBucket adds the log delivery statement to the log bucket's policy itself",
        )

    def _make_log_bucket(
        self,
        retention_days: int,
        noncurrent_days: int,
        removal_policy: RemovalPolicy,
        *,
        auto_delete_objects: bool,
    ) -> s3.Bucket:
        log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=MIN_TLS_VERSION,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            blocked_encryption_types=[s3.BlockedEncryptionType.SSE_C],
            versioned=True,
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete_objects,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=durations.days(retention_days),
                    noncurrent_version_expiration=durations.days(noncurrent_days),
                    abort_incomplete_multipart_upload_after=durations.days(
                        ABORT_INCOMPLETE_UPLOADS_DAYS
                    ),
                )
            ],
        )
        # Only the S3 logging service writes here: nobody can forge or overwrite a log record.
        add_bucket_statements(
            log_bucket,
            [
                iam.PolicyStatement(
                    sid="DenyWritesExceptS3ServerAccessLogging",
                    effect=iam.Effect.DENY,
                    principals=[principals.anyone()],
                    # Nor does S3 replication (s3:ReplicateObject) bring objects in.
                    actions=list(PUT_AND_REPLICATE),
                    resources=[log_bucket.arn_for_objects("*")],
                    conditions={
                        "StringNotEqualsIfExists": {
                            "aws:PrincipalServiceName": "logging.s3.amazonaws.com"
                        }
                    },
                )
            ],
        )
        acknowledge_all(
            log_bucket,
            [
                (_SSE_KMS_RULES, REASON_LOG_BUCKET_SSE_S3),
                (_LOGGING_RULES, REASON_LOG_BUCKET_NOT_LOGGED),
                (_REPLICATION_RULES, REASON_LOG_BUCKET_NOT_REPLICATED),
            ],
        )
        return log_bucket

    def _replication_props(
        self, destination: BucketReplication, source_name: str | None
    ) -> dict[str, Any]:
        require(
            isinstance(destination, BucketReplication),
            "replication",
            "must be a BucketReplication",
            destination,
        )
        stack = stack_of(self)
        check_region("replication.region", destination.region)
        require(
            is_token(stack.region) or destination.region != stack.region,
            "replication.region",
            f"must be another Region than the source bucket's ({stack.region})",
            destination.region,
        )
        name = destination.bucket_name
        require(isinstance(name, str), "replication.bucket_name", "must be an S3 bucket name", name)
        if not is_token(name):
            require(
                bool(BUCKET_NAME.match(name)),
                "replication.bucket_name",
                "must be an S3 bucket name",
                name,
            )
            check_bucket_name("replication.bucket_name", name)
            require(
                name != source_name,
                "replication.bucket_name",
                "must not be the source bucket",
                name,
            )
        arn = destination.encryption_key_arn
        require(
            isinstance(arn, str),
            "replication.encryption_key_arn",
            "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
            arn,
        )
        require(
            destination.storage_class is None
            or isinstance(destination.storage_class, s3.StorageClass),
            "replication.storage_class",
            "must be an aws_s3.StorageClass, or None",
            destination.storage_class,
        )
        require(
            isinstance(destination.replicate_delete_markers, bool),
            "replication.replicate_delete_markers",
            "must be True or False",
            destination.replicate_delete_markers,
        )
        if not is_token(arn):
            match = KEY_ARN.match(arn)
            require(
                match is not None and match.group(3) == "key",
                "replication.encryption_key_arn",
                "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
                arn,
            )
            assert match is not None
            require(
                match.group(1) == destination.region,
                "replication.encryption_key_arn",
                f"must be a key in the destination Region ({destination.region})",
                arn,
            )
            require(
                is_token(stack.account) or match.group(2) == stack.account,
                "replication.encryption_key_arn",
                f"must belong to this account ({stack.account}): cross-account replication is "
                "not supported by EncryptedBucket",
                arn,
            )
        else:  # a key of this App: its stack's Region and account
            check_token_key_arn(
                "replication.encryption_key_arn",
                arn,
                region=destination.region,
                account=stack.account,
                where="the destination Region",
            )
        self._destination_bucket = s3.Bucket.from_bucket_attributes(
            self,
            "ReplicaBucket",
            bucket_name=name,
            account=stack.account,
            region=destination.region,
        )
        self._destination_key = kms.Key.from_key_arn(self, "ReplicaKey", arn)
        trust: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": stack.account}}
        if source_name is not None and not is_token(source_name):
            # Only with a literal name: the bucket's ARN token would make a cycle (the bucket
            # names the role).
            trust["ArnLike"] = {"aws:SourceArn": f"arn:{stack.partition}:s3:::{source_name}"}
        self.replication_role = iam.Role(
            self,
            "ReplicationRole",
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com", conditions=trust),
            description=f"S3 replication of {self.node.path} to {destination.region}",
        )
        return {
            "replication_role": self.replication_role,
            "replication_rules": [
                s3.ReplicationRule(
                    destination=self._destination_bucket,
                    id="ReplicateEverything",
                    priority=1,
                    kms_key=self._destination_key,
                    sse_kms_encrypted_objects=True,
                    storage_class=destination.storage_class,
                    delete_marker_replication=destination.replicate_delete_markers,
                )
            ],
        }

    def _grant_replication(self, destination: BucketReplication) -> None:
        """Least privilege for the replication role, as the S3 user guide lists it for SSE-KMS.

        With S3 Bucket Keys the encryption context is the bucket ARN, so both the bucket ARN and
        its objects are allowed as context; ``kms:ViaService`` keeps the key use inside S3. A
        source bucket with S3 Object Lock also needs ``s3:GetObjectRetention`` and
        ``s3:GetObjectLegalHold`` (S3 user guide, "Using S3 Object Lock with replication").
        """
        assert self.replication_role is not None
        source = self.bucket
        target = self._destination_bucket
        object_lock = (
            ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]
            if _object_lock_enabled(source)
            else []
        )
        statements = [
            iam.PolicyStatement(
                sid="ReadReplicationConfiguration",
                actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                resources=[source.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="ReadSourceVersions",
                actions=[
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                    *object_lock,
                ],
                resources=[source.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="WriteReplicas",
                actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                resources=[target.arn_for_objects("*")],
            ),
            self._decrypt_source_statement("DecryptSourceObjects", self.encryption_key.key_arn),
            iam.PolicyStatement(
                sid="EncryptReplicas",
                actions=["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
                resources=[destination.encryption_key_arn],
                conditions={
                    "StringLike": {
                        "kms:ViaService": f"s3.{destination.region}.amazonaws.com",
                        "kms:EncryptionContext:aws:s3:arn": [
                            target.bucket_arn,
                            target.arn_for_objects("*"),
                        ],
                    }
                },
            ),
        ]
        self.replication_policy = iam.ManagedPolicy(
            self,
            "ReplicationPolicy",
            description=f"Least privilege for S3 replication of {self.node.path}",
            statements=statements,
            roles=[self.replication_role],
        )
        acknowledge_wildcard_resources(self.replication_policy, REASON_REPLICATION_OBJECTS)
        # One Sid per bucket: several replicating buckets may share one key.
        self._name_role_in_key_policy(
            self._key_construct,
            f"AllowS3ReplicationToDecrypt{self.node.addr[:8]}",
            self._own_key_policy_conditions(),
        )

    def _own_key_policy_conditions(self) -> dict[str, Any]:
        """The conditions of the bucket's own key's policy statement for the replication role.

        That key is in the bucket's stack and the bucket names it, so the key policy must not
        name the bucket's ``Fn::GetAtt Arn``: CloudFormation would refuse the circular
        dependency (cfn-lint E3004). With a literal ``bucket_name`` the encryption context is
        the ARN built from that name, exactly as narrow as the role's own policy. Without one,
        ``kms:ViaService`` (S3 in this Region) and the principal (this bucket's replication role,
        which only S3 of this account may assume, and whose policy lets S3 read this bucket's
        objects only) limit the statement.
        """
        stack = stack_of(self)
        conditions: dict[str, Any] = {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}
        name = self._bucket_name
        if name is not None and not is_token(name):
            bucket_arn = f"arn:{stack.partition}:s3:::{name}"
            conditions["kms:EncryptionContext:aws:s3:arn"] = [bucket_arn, f"{bucket_arn}/*"]
        return {"StringLike": conditions}

    def allow_replication_of_objects_under(
        self,
        key: CustomerManagedKey | ReplicaKey | kms.IKey,
        *,
        prop: str = "key",
        scope: Construct | None = None,
    ) -> None:
        """Let S3 replication read objects that a service writes under ``key``, a key other than
        the bucket's own (CloudTrail writes each trail's log files under the trail's key; S3
        cannot replicate an object whose key the replication role may not decrypt with).

        Nothing changes without ``replication``, or for the bucket's own key or one already
        allowed. ``key`` is checked as ``encryption_key`` is; a key of this app whose policy
        does not delegate to IAM must be in the bucket's stack or in ``scope``'s.

        Args:
            prop: the name errors give ``key``. Default: ``"key"``.
            scope: a construct of the stack that uses ``key`` (a trail's). In another stack
                than the bucket's, the permission is a managed policy there, attached to the
                replication role, so that the bucket's stack does not depend on that stack.
                Default: the bucket's replication policy.
        """
        facts = key_facts(prop, key, self)
        if self.replication_policy is None or any(
            facts.key is known for known in (self.encryption_key, *self._extra_source_keys)
        ):
            return
        assert self.replication_role is not None
        home = stack_of(scope if scope is not None else self)
        self._check_key_policy_can_name_role(prop, facts.construct, home)
        self._extra_source_keys.append(facts.key)
        number = len(self._extra_source_keys) + 1
        statement = self._decrypt_source_statement(
            f"DecryptSourceObjects{number}", facts.key.key_arn
        )
        if scope is None or home.node.path == stack_of(self).node.path:
            self.replication_policy.add_statements(statement)
        else:
            iam.ManagedPolicy(
                scope,
                f"ReplicationDecrypt{self.node.addr[:8]}",
                description=f"S3 replication of {self.node.path} reads objects under this key",
                statements=[statement],
                roles=[self.replication_role],
            )
        self._name_role_in_key_policy(
            facts.construct,
            f"AllowS3ReplicationToDecrypt{self.node.addr[:8]}",
            statement.conditions,
        )

    def _decrypt_source_statement(self, sid: str, key_arn: str) -> iam.PolicyStatement:
        """Decrypt under ``key_arn`` through S3 in this Region, for this bucket's objects only.

        With S3 Bucket Keys the encryption context is the bucket ARN, so both the bucket ARN and
        its objects are allowed as context.
        """
        return iam.PolicyStatement(
            sid=sid,
            actions=["kms:Decrypt"],
            resources=[key_arn],
            conditions={
                "StringLike": {
                    "kms:ViaService": f"s3.{stack_of(self).region}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": [
                        self.bucket.bucket_arn,
                        self.bucket.arn_for_objects("*"),
                    ],
                }
            },
        )

    def _check_key_policy_can_name_role(
        self,
        prop: str,
        owner: CustomerManagedKey | ReplicaKey | None,
        policy_stack: Stack | None = None,
    ) -> None:
        """A key policy that must name the replication role is in the bucket's stack or in the
        stack of the role's policy that names the key (``policy_stack``, default the bucket's):
        from any other stack it would reference the role and the bucket while a stack that
        names the key is referenced by it."""
        if owner is None or owner.policy.delegates_to_iam:
            return
        ours, theirs = stack_of(self), stack_of(owner)
        if theirs is ours or theirs is policy_stack:
            return
        allowed = [f"the bucket's stack ({stack_label(ours)})"]
        if policy_stack is not None and policy_stack is not ours:
            allowed.append(f"the stack that uses it ({stack_label(policy_stack)})")
        raise ConstructPropError(
            prop,
            f"must be in {' or '.join(allowed)} when its key "
            "policy does not delegate to IAM (KeyPolicy.custom): that policy must name the "
            "replication role, and from another stack the two stacks would depend on each "
            "other. Make the key in the bucket's stack or give it KeyPolicy.default()",
            f"{owner.node.path} in stack {stack_label(theirs)}",
        )

    def _name_role_in_key_policy(
        self,
        owner: CustomerManagedKey | ReplicaKey | None,
        sid: str,
        conditions: Mapping[str, Any],
    ) -> None:
        """A key policy that does not delegate to IAM must name the replication role itself."""
        if owner is None or owner.policy.delegates_to_iam:
            return
        assert self.replication_role is not None
        owner.add_to_key_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ArnPrincipal(self.replication_role.role_arn)],
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions=dict(conditions),
            )
        )


_SSE_KMS_RULES = (
    "NIST.800.53.R5-S3DefaultEncryptionKMS",
    "HIPAA.Security-S3DefaultEncryptionKMS",
    "PCI.DSS.321-S3DefaultEncryptionKMS",
)
_LOGGING_RULES = (
    "AwsSolutions-S1",
    "NIST.800.53.R5-S3BucketLoggingEnabled",
    "HIPAA.Security-S3BucketLoggingEnabled",
    "PCI.DSS.321-S3BucketLoggingEnabled",
)
_REPLICATION_RULES = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
    "PCI.DSS.321-S3BucketReplicationEnabled",
)
