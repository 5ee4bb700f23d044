"""What the copy engine talks about: snapshot references, origins, tags and deterministic names.

Every copy this toolkit makes carries the tags below. They make a copy traceable to its source
(``kmskit:source-*``), make every step idempotent (``kmskit:copy-key`` is a hash of the source and
the destination, so a second request finds the first copy instead of making another), and mark
what the tool may later delete (``kmskit:managed-by`` and ``kmskit:replicator``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from kmskit.aws_names import ACCOUNT_ID, REGION
from kmskit.aws_tags import MAX_TAGS_PER_RESOURCE, tag_key_problem, valid_tag_value

Kind = Literal["EBS", "RDS", "AURORA"]
KINDS: tuple[Kind, ...] = ("EBS", "RDS", "AURORA")
Role = Literal["replica", "staging", "received"]
ROLES: tuple[Role, ...] = ("replica", "staging", "received")

MANAGED_BY = "kmskit-snapshots"
TAG_MANAGED_BY = "kmskit:managed-by"
TAG_REPLICATOR = "kmskit:replicator"
TAG_COPY_KEY = "kmskit:copy-key"
TAG_ROLE = "kmskit:role"
TAG_SOURCE_ID = "kmskit:source-id"
TAG_SOURCE_REGION = "kmskit:source-region"
TAG_SOURCE_ACCOUNT = "kmskit:source-account"
TAG_SOURCE_TIME = "kmskit:source-time"
TAG_SOURCE_KIND = "kmskit:source-kind"
TAG_DESTINATION_ACCOUNT = "kmskit:destination-account"
TAG_STAGING_ARN = "kmskit:staging-arn"
TAG_REPLY_REGION = "kmskit:reply-region"
TAG_DELIVERED = "kmskit:delivered"

# Tags a user may put on copies (``copy_tags``): as AWS allows them (kmskit.aws_tags), never
# starting with one of RESERVED_TAG_PREFIXES (the toolkit's own or AWS's), in any case.
# RDS refuses tag values starting with these (in any case).
RDS_RESERVED_VALUE_PREFIXES = ("aws:", "rds:")
# The toolkit's own tags on a copy as it is made, in the same request (SnapshotEngine.copy_tags,
# and the workflow for a received copy): the copiers' IAM policies allow tagging on create with
# these keys and the configured copy_tags only (aws:TagKeys). Every copy gets COPY_TAG_KEYS; a
# staging copy (for another account) STAGING_TAG_KEYS too, a received copy RECEIVED_TAG_KEYS.
# TAG_DELIVERED is the one tag put on later (SnapshotEngine.mark_delivered, on a staging copy).
COPY_TAG_KEYS = (
    TAG_MANAGED_BY,
    TAG_REPLICATOR,
    TAG_COPY_KEY,
    TAG_ROLE,
    TAG_SOURCE_KIND,
    TAG_SOURCE_ID,
    TAG_SOURCE_REGION,
    TAG_SOURCE_ACCOUNT,
    TAG_SOURCE_TIME,
)
STAGING_TAG_KEYS = (TAG_DESTINATION_ACCOUNT,)
RECEIVED_TAG_KEYS = (TAG_STAGING_ARN, TAG_REPLY_REGION)
# The most toolkit tags one copy carries (11): those above, and on a staging copy delivered too.
MAX_TOOLKIT_TAGS = len(COPY_TAG_KEYS) + max(len(STAGING_TAG_KEYS) + 1, len(RECEIVED_TAG_KEYS))
MAX_COPY_TAGS = MAX_TAGS_PER_RESOURCE - MAX_TOOLKIT_TAGS

# EventBridge buses that carry "shared" and "received" notices between accounts.
RECEIVER_BUS_NAME = "kmskit-snapshot-receiver"
REPLICATOR_BUS_NAME = "kmskit-snapshot-replicator"
EVENT_SOURCE = "kmskit.snapshots"
DETAIL_SHARED = "kmskit Snapshot Shared"
DETAIL_RECEIVED = "kmskit Snapshot Received"

# RDS DB cluster snapshot identifiers allow 63 characters (DB snapshots 255): use the smaller.
MAX_RDS_IDENTIFIER = 63
# A staging EBS copy's description carries its origin, because tags are not visible to the
# account it is shared with.
DESCRIPTION_MARKER = "kmskit:v1"

_RDS_INVALID = re.compile(r"[^a-z0-9-]+")
_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>ec2|rds):(?P<a>[^:]*):(?P<b>[^:]*):(?P<rest>.+)$"
)


# A snapshot's ID (EBS) or identifier (RDS, Aurora: letters, digits and hyphens, with the service
# prefix of automated and AWS Backup snapshots, "rds:" or "awsbackup:"), checked loosely: the
# point is to refuse what names no snapshot (an empty one lists them all).
EBS_SNAPSHOT_ID = re.compile(r"^snap-[0-9a-z]{1,64}\Z")
RDS_SNAPSHOT_ID = re.compile(r"^(?:[a-z]+:)?[A-Za-z0-9][A-Za-z0-9_.-]{0,254}\Z")
# RDS refuses tag values that begin with "aws:" or "rds:", as automated snapshot identifiers do;
# such a value is tagged with this marker in front (identifiers never hold "=").
_ESCAPED_TAG_VALUE = "id="


class SnapshotError(ValueError):
    """A snapshot reference or message that cannot be understood."""


def copy_tags_problem(tags: object) -> tuple[str, object] | None:
    """Why ``tags`` cannot be put on every copy, as ``(requirement, the value at fault)``, or None.

    The one check of ``copy_tags``, made by the constructs at synth time and by the Lambda when
    it reads its configuration: string keys and values as AWS allows them, no key starting with
    'aws:' or 'kmskit:' (so the toolkit's own tags are never overridden), no two keys that differ
    only in case, no value RDS refuses, and at most :data:`MAX_COPY_TAGS` (with the toolkit's
    own :data:`MAX_TOOLKIT_TAGS`, AWS's limit of ``MAX_TAGS_PER_RESOURCE`` per snapshot). The
    rules every tag follows are :mod:`kmskit.aws_tags`'; the value and count rules are its own.
    """
    if not isinstance(tags, Mapping):
        return "must be a mapping of tag keys to tag values", tags
    seen: dict[str, str] = {}  # lowercase key -> key as written
    for key, value in tags.items():
        problem = _copy_tag_problem(key, value, seen)
        if problem is not None:
            return problem
        seen[key.lower()] = key
    if len(tags) > MAX_COPY_TAGS:
        return (
            f"must have at most {MAX_COPY_TAGS} tags: a copy also carries up to "
            f"{MAX_TOOLKIT_TAGS} of the toolkit's own, and AWS allows {MAX_TAGS_PER_RESOURCE} "
            f"per snapshot, not {len(tags)}",
            sorted(str(k) for k in tags),
        )
    return None


def _copy_tag_problem(
    key: object, value: object, seen: dict[str, str]
) -> tuple[str, object] | None:
    problem = tag_key_problem(key, seen)
    if problem == "pattern":
        return "must have tag keys of 1-128 letters, digits, spaces and _ . : / = + - @", key
    if problem == "reserved":
        return (
            "must not have a tag key starting with 'aws:' (reserved by AWS) or 'kmskit:' "
            "(the toolkit's own tags, which find, share and delete its copies)",
            key,
        )
    assert isinstance(key, str)
    if problem == "case":
        return (
            f"must not have the tag key {key!r} beside {seen[key.lower()]!r}, which differs "
            "only in case (some services compare tag keys without case and refuse both)",
            key,
        )
    if not valid_tag_value(value):
        return (
            "must have tag values of at most 256 letters, digits, spaces and _ . : / = + - @ "
            f"(tag {key!r})",
            value,
        )
    assert isinstance(value, str)
    if value.lower().startswith(RDS_RESERVED_VALUE_PREFIXES):
        return (
            f"must not have a tag value starting with 'aws:' or 'rds:', which RDS refuses "
            f"(tag {key!r})",
            value,
        )
    return None


def valid_snapshot_id(kind: Kind, ident: str) -> bool:
    """Whether ``ident`` can name a snapshot of ``kind`` (an ID or identifier, not an ARN)."""
    return bool((EBS_SNAPSHOT_ID if kind == "EBS" else RDS_SNAPSHOT_ID).match(ident))


def _tag_value(value: str) -> str:
    return _ESCAPED_TAG_VALUE + value if value[:4].lower() in ("aws:", "rds:") else value


def _from_tag_value(value: str) -> str:
    return value.removeprefix(_ESCAPED_TAG_VALUE)


@dataclass(frozen=True)
class SnapshotRef:
    """One snapshot: kind, identifier, Region and owning account."""

    kind: Kind
    id: str
    region: str
    account: str
    partition: str = "aws"

    @property
    def arn(self) -> str:
        if self.kind == "EBS":
            return f"arn:{self.partition}:ec2:{self.region}::snapshot/{self.id}"
        resource = "snapshot" if self.kind == "RDS" else "cluster-snapshot"
        return f"arn:{self.partition}:rds:{self.region}:{self.account}:{resource}:{self.id}"

    @property
    def automated(self) -> bool:
        """RDS automated snapshots are named ``rds:...`` and cannot be shared."""
        return self.kind != "EBS" and self.id.startswith("rds:")

    @classmethod
    def from_arn(cls, arn: str, *, account: str | None = None) -> SnapshotRef:
        """Parse an EC2 or RDS snapshot ARN.

        EBS ARNs carry no account (and EventBridge writes them as
        ``arn:aws:ec2::us-west-2:snapshot/snap-...``, the Region in the account field), so
        ``account`` supplies the owner for them.
        """
        match = _ARN.match(arn)
        if not match:
            raise SnapshotError(f"not a snapshot ARN: {arn!r}")
        partition, service, a, b, rest = match.group("partition", "service", "a", "b", "rest")
        if service == "ec2":
            region = a if REGION.match(a) else b
            if not rest.startswith("snapshot/") or not REGION.match(region or ""):
                raise SnapshotError(f"not an EBS snapshot ARN: {arn!r}")
            owner = b if ACCOUNT_ID.match(b) else (account or "")
            if not valid_snapshot_id("EBS", rest.removeprefix("snapshot/")):
                raise SnapshotError(f"not an EBS snapshot ARN: {arn!r}")
            return cls("EBS", rest.removeprefix("snapshot/"), region, owner, partition)
        kind: Kind
        if rest.startswith("snapshot:"):
            kind, ident = "RDS", rest.removeprefix("snapshot:")
        elif rest.startswith("cluster-snapshot:"):
            kind, ident = "AURORA", rest.removeprefix("cluster-snapshot:")
        else:
            raise SnapshotError(f"not an RDS snapshot ARN: {arn!r}")
        if not REGION.match(a) or not ACCOUNT_ID.match(b) or not valid_snapshot_id(kind, ident):
            raise SnapshotError(f"not an RDS snapshot ARN: {arn!r}")
        return cls(kind, ident, a, b, partition)


@dataclass(frozen=True)
class Origin:
    """The snapshot a chain of copies started from; every copy in the chain is tagged with it."""

    kind: Kind
    id: str
    region: str
    account: str
    time: str

    @classmethod
    def of(cls, ref: SnapshotRef, created: datetime | None) -> Origin:
        return cls(ref.kind, ref.id, ref.region, ref.account, iso(created))

    @property
    def key(self) -> str:
        """A stable hash of the origin (16 hex digits)."""
        return _digest(self.kind, self.account, self.region, self.id)

    def tags(self) -> dict[str, str]:
        return {
            TAG_SOURCE_KIND: self.kind,
            TAG_SOURCE_ID: _tag_value(self.id),
            TAG_SOURCE_REGION: self.region,
            TAG_SOURCE_ACCOUNT: self.account,
            TAG_SOURCE_TIME: self.time,
        }

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Origin | None:
        try:
            kind = tags[TAG_SOURCE_KIND]
            if kind not in KINDS:
                return None
            return cls(
                kind,
                _from_tag_value(tags[TAG_SOURCE_ID]),
                tags[TAG_SOURCE_REGION],
                tags[TAG_SOURCE_ACCOUNT],
                tags[TAG_SOURCE_TIME],
            )
        except KeyError:
            return None

    def description(self) -> str:
        """EBS description of a staging copy; the receiving account reads the origin from it."""
        return (
            f"{DESCRIPTION_MARKER} kind={self.kind} id={self.id} region={self.region} "
            f"account={self.account} time={self.time}"
        )

    @classmethod
    def from_description(cls, text: str) -> Origin | None:
        parts = text.split()
        if not parts or parts[0] != DESCRIPTION_MARKER:
            return None
        fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        return cls.from_tags(
            {
                TAG_SOURCE_KIND: fields.get("kind", ""),
                TAG_SOURCE_ID: fields.get("id", ""),
                TAG_SOURCE_REGION: fields.get("region", ""),
                TAG_SOURCE_ACCOUNT: fields.get("account", ""),
                TAG_SOURCE_TIME: fields.get("time", ""),
            }
        )


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def copy_key(
    origin: Origin,
    *,
    region: str,
    account: str,
    role: Role,
    destination_account: str | None = None,
) -> str:
    """The idempotency key of one copy: the same origin, place, role and destination account
    give the same key. ``account`` owns the copy; ``destination_account`` is the account a
    staging copy is shared with (default: None, a copy that is not shared), so two accounts in
    one Region get a staging copy each."""
    if destination_account is None:
        return _digest(origin.key, region, account, role)
    return _digest(origin.key, region, account, role, destination_account)


def rds_identifier(origin: Origin, key: str, role: Role) -> str:
    """A deterministic RDS/Aurora identifier for a copy (letters, digits, single hyphens)."""
    base = _RDS_INVALID.sub("-", origin.id.lower().removeprefix("rds:")).strip("-")
    base = re.sub(r"-{2,}", "-", base)
    prefix = f"kmskit-{role[0]}-"
    room = MAX_RDS_IDENTIFIER - len(prefix) - len(key) - 1
    stem = base[:room].strip("-")
    return f"{prefix}{stem}-{key}" if stem else f"{prefix}{key}"


def iso(value: datetime | None) -> str:
    """UTC timestamp as ``2026-11-20T10:00:00Z`` (``unknown`` when not known)."""
    if value is None:
        return "unknown"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or [] if "Key" in t and "Value" in t}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
