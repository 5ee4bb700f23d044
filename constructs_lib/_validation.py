"""Input checks shared by every construct.

Each check raises :class:`ConstructPropError` naming the prop and the value received, in the style
of aws-cdk-lib: ``'pending_window' must be 7-30 days. Received: 3``. Checks run when a construct
is created, so a bad prop fails ``cdk synth`` long before CloudFormation sees it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from constructs import Construct

from kmskit.aws_names import ACCOUNT_ID, ORGANIZATION_ID, ORGANIZATION_ID_RULE

# Commercial, GovCloud, China, ISO and European Sovereign Cloud partitions: eu-west-1,
# us-gov-west-1, cn-north-1, us-isob-east-1, eusc-de-east-1.
REGION_PATTERN = re.compile(
    r"^((us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso[a-z]?)?|eusc-[a-z]{2})"
    r"-(central|(north|south)?(east|west)|north|south)-[0-9]{1,2}\Z"
)

# S3's general purpose bucket naming rules reserve these prefixes ("Bucket naming rules", S3 user
# guide): CreateBucket refuses them, so a clean synth would fail only at deploy. The bucket
# names made here, and the organisation name that starts them, are checked against it.
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")

# SnapshotReplicator's selection tag may not start with kmskit.aws_tags's
# RESERVED_TAG_PREFIXES (AWS reserves 'aws:', the replicator's own tags start 'kmskit:'), and its
# retention must outlast its sweep window (at least 1 day): the organisation config
# checks both, so that its errors name its own fields.
REPLICATION_RETENTION_DAYS = (2, 3650)

# SnapshotReceiver's retention counts from the time the source was taken, and a source can reach
# the receiver late: a replicator's sweep queues a source up to its sweep_window (at most 7 days)
# after it was taken, a copy waits for a copy slot for up to 2 days (the copier's MAX_WAITS) at
# the replicator and again at the receiver, a throttled step is retried max_receive_count times
# at up to an hour apart (the copier's retry_delay: with the default 24 receives about 18 hours
# on each side, with the most, 100, about 4 days on each side), and each of the two copies
# (staging, received) can take hours (RDS). With the default receives: 7 + 2 + 2 + 0.75 + 0.75
# days and a day for the copies is 13.5; the floor is two weeks, which is also how long the
# dead-letter queues keep a message. With 100 receives on both sides a source can arrive after
# about 20 days: the floor does not cover that (a retention that long is the operator's choice),
# and a Shared notice of such a source is dead-lettered at the receiver (code PastRetention), not
# dropped. A shorter retention deletes a received copy at the receiver's first sweep after it is
# made, once its staging copy was unshared: the backup account keeps nothing. The organisation
# config checks it too, so that its error names its own field.
RECEIVER_MIN_RETENTION_DAYS = 14
RECEIVER_RETENTION_REASON = (
    "a source reaches the receiver up to the replicator's sweep_window (at most 7 days) plus "
    "copy-slot waits (up to 2 days on each side), retries of throttled steps (about 18 hours on "
    "each side with the default max_receive_count of 24, up to about 4 days with 100: choose a "
    "longer retention then) and copy time after it was taken, and a received copy older than "
    "the retention is deleted at the receiver's next sweep, leaving no copy"
)
RECEIVER_RETENTION_REQUIREMENT = (
    f"must be at least {RECEIVER_MIN_RETENTION_DAYS} days: {RECEIVER_RETENTION_REASON}"
)

# S3 Object Lock default retention (AWS::S3::Bucket DefaultRetention, S3 API DefaultRetention):
# a mode, and a period of Days or Years, not both; at most 100 years (S3 user guide, "Managing
# Object Lock"), so 1-36,500 days or 1-100 years (PutObjectLockConfiguration refuses 0 and more
# with InvalidArgument / InvalidRetentionPeriod, at deploy). EncryptedBucket and the
# organisation config (audit.object_lock) check both with check_object_lock_period.
OBJECT_LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")
OBJECT_LOCK_RETENTION_DAYS = (1, 36_500)
OBJECT_LOCK_RETENTION_YEARS = (1, 100)


class ConstructPropError(ValueError):
    """A construct prop (or configuration field) holds a value the toolkit cannot accept."""

    def __init__(self, prop: str, requirement: str, received: Any) -> None:
        self.prop = prop
        self.requirement = requirement
        self.received = received
        super().__init__(f"'{prop}' {requirement}. Received: {received!r}")


@contextmanager
def props_of(outer: str, given: Collection[str]) -> Iterator[None]:
    """Within it, a :class:`ConstructPropError` about one of ``given`` (the keys of the mapping
    prop ``outer``, handed on as the props of another construct) names it as the user wrote it:
    ``bucket_props["removal_policy"]``, not the ``removal_policy`` of the construct that takes
    ``outer``; a field of it too (``bucket_props["replication"].region``). Other errors pass
    unchanged."""
    try:
        yield
    except ConstructPropError as error:
        name, dot, field = error.prop.partition(".")
        if name not in given:
            raise
        raise ConstructPropError(
            f'{outer}["{name}"]{dot}{field}', error.requirement, error.received
        ) from error


def require(condition: bool, prop: str, requirement: str, received: Any) -> None:
    """Raise :class:`ConstructPropError` unless ``condition`` holds."""
    if not condition:
        raise ConstructPropError(prop, requirement, received)


def require_one_of(prop: str, value: Any, other: str, other_value: Any) -> None:
    """Exactly one of ``prop`` and ``other`` is given (not ``None``); the error names which way
    it failed and shows ``prop``'s value."""
    if (value is None) != (other_value is None):
        return
    outcome = "not both" if value is not None else "and neither was"
    raise ConstructPropError(prop, f"or '{other}' must be given, {outcome}", shown(value))


# aws-cdk-lib's string token encoding (core/lib/private/encoding.ts): ``${Token[NAME.123]}``,
# or a stringified number token, in a string that contains "Token[" at all.
NUMBER_TOKEN_SHAPE = re.compile(r"-1\.\d{10,16}e\+289")
"""A number token written into a string (the same encoding, core/lib/private/encoding.ts)."""
_STRING_TOKEN = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}|" + NUMBER_TOKEN_SHAPE.pattern)


def check_no_number_token(prop: str, value: str) -> None:
    """Refuse a string holding a stringified number token's shape (:data:`NUMBER_TOKEN_SHAPE`,
    what ``str(Token.as_number(...))`` gives): synth resolves every string of a template and
    fails with a raw ``UnrecognizedTokenKey`` on a number token it did not make, and IAM's name
    and path patterns, say, let one through (``-1.8881545897087626e+289``)."""
    require(
        NUMBER_TOKEN_SHAPE.search(value) is None,
        prop,
        "must not hold '-1.<10 to 16 digits>e+289', which aws-cdk-lib takes for a number token "
        "and fails to resolve at synth",
        value,
    )


def token_shape(value: str) -> str:
    """``value`` with each token written as ``<token>`` (what of it is known at synth)."""
    return _STRING_TOKEN.sub("<token>", value)


def is_token(value: Any) -> bool:
    """True for an unresolved CDK token (a value known only at deploy time).

    Strings, by far the most frequent case, are matched here against aws-cdk-lib's token
    encoding, which spares a jsii round-trip per check (``Token.is_unresolved`` does the same
    test in Node; tests/constructs/test_validation.py holds the two to the same answers).
    Numbers still ask aws-cdk-lib, imported lazily so that modules using the plain checks never
    pull in the CDK.
    """
    if isinstance(value, str):
        return "Token[" in value and _STRING_TOKEN.search(value) is not None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # NaN and the infinities are no token (a number token is a finite, very large negative
    # number), and jsii cannot send them: Node's JSON.parse fails on the request and the jsii
    # kernel exits, so every later CDK call in the process fails too. Python's json reads
    # ``NaN`` and ``Infinity`` in a configuration file.
    if isinstance(value, float) and not math.isfinite(value):
        return False
    from aws_cdk import Token  # noqa: PLC0415

    return Token.is_unresolved(value)


def as_list(value: Any) -> list[Any]:
    """A policy JSON value that may be one item or a list, as a list (``None``: empty)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def check_account_id(prop: str, value: Any) -> str:
    """A 12-digit AWS account ID (tokens such as ``Aws.ACCOUNT_ID`` pass through)."""
    if isinstance(value, str) and is_token(value):
        return value
    require(
        isinstance(value, str) and bool(ACCOUNT_ID.match(value)),
        prop,
        "must be a 12-digit AWS account ID",
        value,
    )
    return str(value)


def check_organization_id(prop: str, value: Any) -> str:
    """An AWS Organizations organization ID such as ``o-a1b2c3d4e5`` (:data:`ORGANIZATION_ID`)."""
    require(
        isinstance(value, str) and bool(ORGANIZATION_ID.match(value)),
        prop,
        ORGANIZATION_ID_RULE,
        value,
    )
    return str(value)


def check_region(prop: str, value: Any) -> str:
    """An AWS Region name such as ``eu-west-1`` (tokens pass through)."""
    if isinstance(value, str) and is_token(value):
        return value
    require(
        isinstance(value, str) and bool(REGION_PATTERN.match(value)),
        prop,
        "must be an AWS Region name such as 'eu-west-1'",
        value,
    )
    return str(value)


MAX_ALARM_NAME_LENGTH = 255
"""Longest alarm name CloudWatch accepts (PutMetricAlarm's AlarmName)."""


ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""What PutMetricAlarm's AlarmName must not hold ("can't contain ASCII control characters")."""


def check_alarm_name(prop: str, value: Any) -> str | None:
    """A CloudWatch alarm name as PutMetricAlarm takes it: 1-255 UTF-8 characters without ASCII
    control characters (a newline, a tab, ...; other characters, such as a no-break space, are
    CloudWatch's to take), or None for a generated one; a token passes."""
    require(
        value is None
        or (
            isinstance(value, str)
            and (
                is_token(value)
                or (
                    1 <= len(value) <= MAX_ALARM_NAME_LENGTH
                    and not ASCII_CONTROL.search(value)
                    and _is_utf8(value)
                )
            )
        ),
        prop,
        f"must be a string of 1-{MAX_ALARM_NAME_LENGTH} characters without ASCII control "
        "characters",
        value,
    )
    return None if value is None else str(value)


def _is_utf8(value: str) -> bool:
    """False for a string with a lone surrogate, which no UTF-8 request can carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_range(
    prop: str,
    value: Any,
    low: int,
    high: int,
    unit: str,
    *,
    as_written: Any = None,
    reason: str | None = None,
) -> int:
    """An integer between ``low`` and ``high`` inclusive. ``as_written``: the value to show in
    the error when ``value`` was converted from it (default: ``value``). ``reason``: why the
    range is what it is, added to the error (default: none)."""
    require(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        prop,
        f"must be {low}-{high} {unit}" + (f": {reason}" if reason else ""),
        value if as_written is None else as_written,
    )
    return int(value)


def check_object_lock_period(
    prop: str, days: Any, years: Any, *, as_written: tuple[Any, Any] = (None, None)
) -> tuple[int | None, int | None]:
    """An S3 Object Lock retention period: ``days`` (1-36,500) or ``years`` (1-100), exactly one
    of them; errors name ``<prop>.days`` or ``<prop>.years``. ``as_written``: the values to show
    when ``days`` and ``years`` were converted from them (default: the values)."""
    require_one_of(f"{prop}.days", days, f"{prop}.years", years)
    if days is not None:
        low, high = OBJECT_LOCK_RETENTION_DAYS
        return check_range(f"{prop}.days", days, low, high, "days", as_written=as_written[0]), None
    low, high = OBJECT_LOCK_RETENTION_YEARS
    return None, check_range(f"{prop}.years", years, low, high, "years", as_written=as_written[1])


def check_unique(prop: str, values: Iterable[Any]) -> None:
    """No value appears twice."""
    seen: set[Any] = set()
    for value in values:
        require(value not in seen, prop, "must not repeat a value", value)
        seen.add(value)


def check_sequence(prop: str, value: Any, what: str) -> tuple[Any, ...]:
    """A list or tuple of ``what``, as a tuple.

    A string (which would otherwise be read one character at a time) or a single object is
    refused, showing the whole value.
    """
    require(isinstance(value, list | tuple), prop, f"must be a list or tuple of {what}", value)
    return tuple(value)


def check_mapping(prop: str, value: Any, requirement: str) -> dict[Any, Any]:
    """``value``, a mapping or None (an empty one), as a dict; anything else is refused with
    ``requirement``, showing the whole value."""
    require(value is None or isinstance(value, Mapping), prop, requirement, value)
    return dict(value or {})


def check_sequence_of(
    prop: str, value: Any, kind: type, what: str, requirement: str
) -> tuple[Any, ...]:
    """:func:`check_sequence` of ``what``, every item a ``kind``; ``requirement`` words the
    error for an item that is not (``"must hold aws_iam.PolicyStatement objects"``)."""
    items = check_sequence(prop, value, what)
    for item in items:
        require(isinstance(item, kind), prop, requirement, item)
    return items


def has_wildcard(value: str) -> bool:
    """True for a literal string holding an IAM wildcard (``*`` or ``?``); tokens never match."""
    return ("*" in value or "?" in value) and not is_token(value)


class Shown:
    """A value as an error message shows it: its ``repr`` is ``text`` (for a value with no
    useful repr, or for a prop that was not given at all)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def shown(value: Any) -> Any:
    """What an error shows of ``value``: a construct's path (its repr only says ``<... object at
    0x...>``), also of one made in Node (``Key.from_key_arn``, a jsii proxy that is no Python
    ``Construct``), anything else as it is."""
    if isinstance(value, Construct):
        return value.node.path
    if type(value).__module__.startswith("jsii"):
        path = getattr(getattr(value, "node", None), "path", None)
        if isinstance(path, str):
            return path
    return value


def stack_label(stack: Any) -> str:
    """A stack's name for an error message: its construct path where the name is known only at
    deploy time (a nested stack's). Read only to word an error: each read is a jsii round trip."""
    name = stack.stack_name
    return str(stack.node.path) if is_token(name) else str(name)
