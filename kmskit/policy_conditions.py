"""Which conditions of a policy statement limit who the caller is, or what an AWS service acts for.

One rule for both sides of the toolkit: ``kmskit key inventory`` reports an Allow for ``"*"``
without such a condition as ``PUBLIC`` (:func:`kmskit.key_inventory.analyze_policy`), and the
constructs refuse the same statement at synth (``constructs_lib.key_policy.policy_problems``).
Likewise one rule for an Allow to an AWS service (:func:`limits_source`, the confused deputy):
the constructs refuse one without it at construct time, and ``tests/test_service_principals.py``
holds every App under test to it. Plain data only (no AWS client, no CDK), so that all of them
can import it.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kmskit.aws_names import ACCOUNT_ID

# Condition keys that limit who the caller is (or the network or resource it calls from), so
# that an Allow for "*" under one of them is not open to every AWS account.
_CALLER_KEY_NAMES = (
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "kms:CallerAccount",
)
# Compared without regard to case, as IAM compares condition keys.
CALLER_KEYS: frozenset[str] = frozenset(key.lower() for key in _CALLER_KEY_NAMES)
# Condition keys that name the resource or account an AWS service acts for (its source), so that
# an Allow for a service principal under one of them does not let the service act for any
# customer who points it at the resource. A name ending in ':' stands for every key it starts
# (kms:EncryptionContext:aws:cloudtrail:arn...).
_SOURCE_KEY_NAMES = (
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "kms:EncryptionContext:",
    "kms:ViaService",
    "kms:CallerAccount",
)
SOURCE_KEYS: tuple[str, ...] = tuple(key.lower() for key in _SOURCE_KEY_NAMES)
# The keys among them whose values name accounts (or ARNs of an account).
_ACCOUNT_KEYS = frozenset(
    key.lower() for key in ("aws:PrincipalAccount", "aws:SourceAccount", "kms:CallerAccount")
)
_ARN_KEYS = frozenset(key.lower() for key in ("aws:PrincipalArn",))
# The keys whose values are ARNs, and those naming an organization path.
_ARN_VALUED_KEYS = frozenset(key.lower() for key in ("aws:PrincipalArn", "aws:SourceArn"))
_ORG_PATH_KEYS = frozenset(key.lower() for key in ("aws:PrincipalOrgPaths", "aws:SourceOrgPaths"))
# Operators whose values match with * and ? (IAM's ArnEquals matches wildcards as ArnLike does).
_WILDCARD_OPERATORS = frozenset(("stringlike", "arnlike", "arnequals"))
_ARN_OPERATORS = frozenset(("arnlike", "arnequals"))
_WILDCARD = re.compile(r"[*?]")
# What a value known at deploy time stands for when matched: the account a 12-digit ID, the
# partition "aws", anything else a placeholder without wildcards (never an account ID).
_DEPLOY_TIME_ACCOUNT = "000000000000"
_DEPLOY_TIME_VALUES = {"AWS::AccountId": _DEPLOY_TIME_ACCOUNT, "AWS::Partition": "aws"}
_DEPLOY_TIME_OTHER = "x"
# ${Name} of an Fn::Sub template (not ${!Literal}), and a CDK token in a string not yet
# resolved ("${Token[AWS.AccountId.9]}": Aws.ACCOUNT_ID, an env-agnostic stack's account).
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]*)\}")
_CDK_TOKEN = re.compile(r"\$\{Token\[([^\]]*?)(?:\.[0-9]+)?\]\}")
_CDK_PSEUDO = {"AWS.AccountId": "AWS::AccountId", "AWS.Partition": "AWS::Partition"}
_ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")

CALLER_CONDITION_RULE = (
    f"a condition that limits the caller ({', '.join(_CALLER_KEY_NAMES)}) under an operator "
    "that needs the key present (not ...IfExists, Null, ForAllValues: or a negation), and under "
    "StringLike, ArnLike or ArnEquals with no wildcard in the part of a value naming the caller "
    "(an account, organization or VPC (endpoint) ID; an organization path's o-... ID; an ARN's "
    "account); an ARN with no account field (an S3 bucket's, arn:aws:s3:::name) names no caller "
    "with any operator"
)
"""What :func:`caller_limits` asks of a condition, in words, for the errors that refuse one."""

SOURCE_CONDITION_RULE = (
    f"a condition that limits the source ({', '.join(_SOURCE_KEY_NAMES[:4])}, "
    "kms:EncryptionContext:<key>, kms:ViaService, kms:CallerAccount) under an operator that needs "
    "the key present (not ...IfExists, Null, ForAllValues: or a negation), with a value other "
    "than '*', and under StringLike, ArnLike or ArnEquals no wildcard in an account, "
    "organization ID or kms:ViaService, an organization path's o-... ID, or an ARN's account "
    "(aws:SourceArn, an encryption context holding an ARN); an ARN with no account field (an S3 "
    "bucket's, arn:aws:s3:::name) counts only without wildcards; every Fn::If branch must pass"
)
"""What :func:`limits_source` asks of a condition, in words, for the errors that refuse one."""


@dataclass(frozen=True)
class SourceExemption:
    """An Allow for an AWS service that AWS documents without a source condition, allowed
    without one: the service, the statement's Sid (an ``fnmatch`` pattern), the only actions it
    may allow, and why. Shared by ``tests/test_service_principals.py`` (the gate) and ``kmskit
    key inventory`` (``SERVICE_UNLIMITED``); docs/compliance.md lists each."""

    service: str
    sid: str
    actions: tuple[str, ...]
    reason: str

    def covers(self, service: str, statement: dict[str, Any]) -> bool:
        """Whether ``statement`` (an Allow for ``service``) is this one: its Sid matches and it
        allows no action but :attr:`actions` (no ``NotAction``)."""
        listed = statement.get("Action", [])
        listed = [listed] if isinstance(listed, str) else list(listed or ())
        allowed = {action.lower() for action in self.actions}
        return (
            service == self.service
            and "NotAction" not in statement
            and fnmatch.fnmatchcase(str(statement.get("Sid", "")), self.sid)
            and bool(listed)
            and all(isinstance(a, str) and a.lower() in allowed for a in listed)
        )


SOURCE_EXEMPTIONS: tuple[SourceExemption, ...] = (
    SourceExemption(
        "cloudtrail.amazonaws.com",
        "AllowCloudTrailToDecryptWithS3BucketKey*",
        ("kms:Decrypt",),
        "AWS documents this statement (CloudTrail needs kms:Decrypt to create or update a "
        "trail that delivers to a bucket with an S3 Bucket Key, and every AuditBucket has "
        "one) without any condition, and does not say what the request carries; "
        "aws:SourceArn limits it to this trail wherever the request carries the key "
        "(StringEqualsIfExists), while a condition CloudTrail's call might not meet would "
        "stop the trail at deploy time. kms:Decrypt only",
    ),
    SourceExemption(
        "dnssec-route53.amazonaws.com",
        "AllowRoute53DnssecToCreateGrant",
        ("kms:CreateGrant",),
        "As the Route 53 developer guide writes this statement (Working with customer managed "
        "keys for DNSSEC), without a source condition: CreateGrant only for an AWS resource "
        "(kms:GrantIsForAWSResource); the key's other Route 53 statement (DescribeKey, "
        "GetPublicKey, Sign) carries aws:SourceAccount and aws:SourceArn",
    ),
)
"""The statements the source rule lets through: the two AWS documents without a condition."""


def unlimited_services(
    statement: Any, exemptions: tuple[SourceExemption, ...] = SOURCE_EXEMPTIONS
) -> list[str]:
    """The AWS services an Allow ``statement`` (a policy statement as a dict) lets in without
    a condition that limits their source (:func:`limits_source`), but for ``exemptions``;
    ``[]`` for a Deny or a statement that limits it."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return []
    services = [str(s) for s in services_named(statement.get("Principal"))]
    if not services or limits_source(statement.get("Condition")):
        return []
    return [s for s in services if not any(e.covers(s, statement) for e in exemptions)]


def account_of(principal: str) -> str | None:
    """The account of an account ID or an IAM or STS ARN; None otherwise (``*``, a unique ID)."""
    if ACCOUNT_ID.match(principal):
        return principal
    parts = principal.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] in ("iam", "sts"):
        return parts[4] if ACCOUNT_ID.match(parts[4]) else None
    return None


def names_everyone(principal: Any) -> bool:
    """True when a ``Principal`` element as a dict (``{"AWS": "*"}``, ``{"Federated": ["*"]}``;
    also CDK's ``policy_fragment.principal_json``: ``{"AWS": ["*"]}`` of ``AnyPrincipal``,
    ``{"*": ["*"]}`` of ``StarPrincipal``) holds ``"*"`` under any key."""
    return isinstance(principal, dict) and any(
        key == "*" or "*" in ([named] if isinstance(named, str) else list(named or ()))
        for key, named in principal.items()
    )


def services_named(principal: Any) -> list[Any]:
    """The AWS services a ``Principal`` element names (``{"Service": "s3.amazonaws.com"}``, or
    CDK's ``policy_fragment.principal_json``: ``{"Service": ["s3.amazonaws.com"]}``)."""
    if not isinstance(principal, dict):
        return []
    named = principal.get("Service", [])
    return [s for s in ([named] if isinstance(named, str | dict) else list(named or ())) if s]


def limits_source(condition: Any) -> bool:
    """Whether ``condition`` (a statement's ``Condition``) ties an Allow for an AWS service to
    a resource or account (:data:`SOURCE_CONDITION_RULE`): a test of one of
    :data:`SOURCE_KEYS` (a key ending in ``:`` standing for every key it starts) under an
    operator that needs the key present, each of whose values, as it may be matched
    (:func:`matched_texts`: every ``Fn::If`` branch), names a source (:func:`_names_source`).
    A value that may be removed at deploy time (:func:`_may_be_absent`) names none."""
    return any(
        _is_source_key(key)
        and all(
            _names_source(
                key,
                text,
                wildcards=name in _WILDCARD_OPERATORS,
                arn_fields=name in _ARN_OPERATORS,
            )
            for v in values
            for text in matched_texts(v)
        )
        for name, key, values in _required_tests(condition)
    )


def _required_tests(condition: Any) -> Iterator[tuple[str, str, list[Any]]]:
    """Each test of ``condition`` (a statement's ``Condition``) that holds only for a request
    with its key: its operator (lower case, without ``ForAnyValue:``), its key (lower case) and
    its values (:func:`_values`), under an operator that needs the key present
    (:func:`_needs_key`), with at least one value and none that may be removed at deploy time
    (:func:`_may_be_absent`)."""
    if not isinstance(condition, dict):
        return
    for operator, tests in condition.items():
        name = str(operator).lower().removeprefix("foranyvalue:")
        # Only string and ARN operators compare a caller or source as named: a Numeric, Date,
        # Bool, IpAddress or Binary test of such a key matches no name (NumericGreaterThan
        # aws:SourceAccount "0" would let in every account, if it matched at all).
        if (
            not isinstance(tests, dict)
            or not _needs_key(str(operator))
            or not name.startswith(("string", "arn"))
        ):
            continue
        for given, value in tests.items():
            values = _values(value)
            if values and not _may_be_absent(value):
                yield name, str(given).lower(), values


def _is_source_key(key: str) -> bool:
    """Whether ``key`` (lower case) is one of :data:`SOURCE_KEYS`."""
    return any(
        key == wanted or (wanted.endswith(":") and key.startswith(wanted)) for wanted in SOURCE_KEYS
    )


def _names_source(key: str, text: str | None, *, wildcards: bool, arn_fields: bool) -> bool:
    """Whether ``text`` (a value of source key ``key`` as it may be matched; None: known only at
    deploy time as a whole, literal) keeps the part naming the source literal: the caller
    rule's (:func:`_text_names_caller`) for account and organization IDs, organization paths,
    ``kms:ViaService`` and ARNs (``aws:SourceArn``, an encryption context whose value is an
    ARN), except that an ARN with no account field (an S3 bucket's) names a source when it
    holds no wildcard: AWS documents ``aws:SourceArn`` with the bucket's ARN, and a service
    acting for that bucket acts for whoever owns it, which the name fixes today. ``"*"`` names
    none under any operator."""
    if text is None:
        return True
    if text == "*":
        return False
    as_arn = key in _ARN_VALUED_KEYS or (
        key.startswith("kms:encryptioncontext:") and text.startswith("arn:")
    )
    if as_arn and _accountless_arn(text):
        return not (wildcards and _WILDCARD.search(text))
    return _text_names_caller(
        "aws:sourcearn" if as_arn else key, text, wildcards=wildcards, arn_fields=arn_fields
    )


def _needs_key(operator: str) -> bool:
    """Whether a condition operator is false for a request without its key: not
    ``...IfExists``, ``Null``, ``ForAllValues:`` (true when the key is absent) or a negation
    (``StringNotEquals``, ``ArnNotLike``, ``NotIpAddress``...); ``ForAnyValue:`` is."""
    name = operator.lower().removeprefix("foranyvalue:")
    return not (
        name.startswith("forallvalues:")
        or name.endswith("ifexists")
        or name == "null"
        or "not" in name
    )


def caller_limits(condition: Any) -> set[str] | None:
    """None if ``condition`` (a statement's ``Condition``) does not limit the caller (see
    :data:`CALLER_CONDITION_RULE`); otherwise the accounts it names (none for an organization or
    a VPC endpoint, say). A value known at deploy time is matched as it will be (see
    `matched_texts`); one known only then as a whole (a ``Ref``, ``Fn::GetAtt``,
    ``Fn::ImportValue``) counts as literal. Values are alternatives: one that matches any
    caller (such as ``StringLike aws:PrincipalOrgID "o-*"``) leaves the condition limiting
    nobody, and so does a value that may be removed at deploy time (:func:`_may_be_absent`)."""
    limited = False
    accounts: set[str] = set()
    for name, key, values in _required_tests(condition):
        if key not in CALLER_KEYS:
            continue
        if not all(
            _names_caller(
                key,
                v,
                wildcards=name in _WILDCARD_OPERATORS,
                arn_fields=name in _ARN_OPERATORS,
            )
            for v in values
        ):
            continue  # a value matches callers of any account, organization or network
        limited = True
        if key in _ACCOUNT_KEYS:
            accounts.update(v for v in values if isinstance(v, str) and ACCOUNT_ID.match(v))
        elif key in _ARN_KEYS:
            accounts.update(a for v in values if isinstance(v, str) and (a := account_of(v)))
    return accounts if limited else None


def _names_caller(key: str, value: Any, *, wildcards: bool, arn_fields: bool) -> bool:
    """Whether ``value`` keeps the part of ``key``'s value that names the caller literal (see
    :data:`CALLER_CONDITION_RULE`). An ARN whose account field is empty (an S3 bucket's,
    ``arn:aws:s3:::my-bucket``) names no caller, wildcards or not: a bucket of that name can
    belong to another account, or be created by one once it is deleted. ``wildcards``: matched
    with ``*`` and ``?`` (StringLike, ArnLike, ArnEquals); ``arn_fields``: matched field by
    field (ArnLike, ArnEquals), so a wildcard in another field cannot reach into the account
    field. A value known only at deploy time as a whole counts as literal."""
    return all(
        _text_names_caller(key, text, wildcards=wildcards, arn_fields=arn_fields)
        for text in matched_texts(value)
    )


def _text_names_caller(key: str, value: str | None, *, wildcards: bool, arn_fields: bool) -> bool:
    """:func:`_names_caller` for one text ``value`` may be matched as (None: known only at
    deploy time as a whole)."""
    if value is None:
        return True
    if key in _ARN_VALUED_KEYS and _accountless_arn(value):
        return False
    if not wildcards or not _WILDCARD.search(value):
        return True
    if key in _ORG_PATH_KEYS:
        prefix = _WILDCARD.split(value, maxsplit=1)[0]
        return "/" in prefix and _ORGANIZATION_ID.fullmatch(prefix.split("/", 1)[0]) is not None
    if key in _ARN_VALUED_KEYS:
        # Matched as a string, a wildcard before the account field may span its colons.
        fields = (value if arn_fields else _WILDCARD.split(value, maxsplit=1)[0]).split(":")
        return len(fields) >= 6 and fields[0] == "arn" and ACCOUNT_ID.match(fields[4]) is not None
    return False  # account, organization and VPC (endpoint) IDs: no wildcard at all


_NO_VALUE = {"Ref": "AWS::NoValue"}


def _may_be_absent(value: Any) -> bool:
    """Whether CloudFormation may remove a condition key's ``value`` (and with it the test):
    ``AWS::NoValue``, an ``Fn::If`` with such a branch, or a list whose every item may be
    removed (an empty list). A test that may be gone limits nobody."""
    if value == _NO_VALUE:
        return True
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        argument = value["Fn::If"]
        return (
            isinstance(argument, list)
            and len(argument) == 3
            and any(_may_be_absent(branch) for branch in argument[1:])
        )
    if isinstance(value, list):
        return all(_may_be_absent(item) for item in value)
    return False


def _accountless_arn(value: str) -> bool:
    """Whether ``value`` is an ARN (or ARN pattern) whose account field is empty:
    ``arn:aws:s3:::my-bucket``, ``arn:aws:route53:::hostedzone/Z1``."""
    fields = value.split(":", 5)
    return len(fields) == 6 and fields[0] == "arn" and fields[4] == ""


def holds_wildcard(value: Any, *, everyone: bool = True) -> bool:
    """Whether ``value`` (a string, or an intrinsic known at deploy time) holds ``*`` or ``?`` as
    it may be matched (see :func:`matched_texts`): ``{"Fn::Sub": ["arn:aws:iam::${A}:root",
    {"A": "*"}]}`` does, and an ``Fn::If`` with such a branch. ``everyone`` (default True):
    whether ``"*"`` alone counts (False: only a pattern such as ``arn:aws:iam::*:root``). A
    value known only at deploy time as a whole does not."""
    return any(
        text is not None and _WILDCARD.search(text) is not None and (everyone or text != "*")
        for text in matched_texts(value)
    )


def matched_texts(value: Any) -> list[str | None]:
    """Each text a condition value or principal may be matched as, its parts known at deploy
    time replaced: ``AWS::AccountId`` (``Ref``, ``${...}`` of an ``Fn::Sub``, CDK's unresolved
    ``${Token[AWS.AccountId.N]}``) by a 12-digit ID, ``AWS::Partition`` by ``aws``, any other by
    a placeholder without wildcards; so that ``{"Fn::Join": ["", ["arn:", {"Ref":
    "AWS::Partition"}, ":iam::*:role/*"]]}`` is matched as ``arn:aws:iam::*:role/*``, in a
    template resolved or not. One text, or one per choice of each ``Fn::If`` (both branches are
    known at synth; ``AWS::NoValue`` is none: :func:`_may_be_absent`), or of each item of a
    list; past :data:`_MAX_ALTERNATIVES`, ``"*"`` stands
    for the rest, so that a check reads the value as matching anyone. None for a value known
    only at deploy time as a whole."""
    if isinstance(value, str):
        return [_detokenized(value)]
    if isinstance(value, list):  # a branch of an Fn::If that is a list of values
        return _capped([text for item in value for text in matched_texts(item)]) or [None]
    if not isinstance(value, dict) or len(value) != 1:
        return [None]
    ((function, argument),) = value.items()
    return _intrinsic_texts(str(function), argument)


def _intrinsic_texts(function: str, argument: Any) -> list[str | None]:
    """:func:`matched_texts` of ``{function: argument}``."""
    if function == "Ref" and argument in _DEPLOY_TIME_VALUES:
        return [_DEPLOY_TIME_VALUES[argument]]
    if function == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
        branches = [b for b in argument[1:] if b != {"Ref": "AWS::NoValue"}]
        return _capped([t for branch in branches for t in matched_texts(branch)]) or [None]
    # Fn::Join items that are a list known at deploy time as a whole: unknown.
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        delimiter, items = argument
        if isinstance(items, list):
            options = _choices([_part_texts(item) for item in items])
            return [str(delimiter).join(parts) for parts in options]
    if function == "Fn::Sub":
        return _substituted(argument)
    return [None]


# More choices than this (Fn::If inside Fn::If, joined) stand for a value that matches anyone.
_MAX_ALTERNATIVES = 64


def _capped(texts: list[Any]) -> list[Any]:
    """``texts``, or, past :data:`_MAX_ALTERNATIVES`, its first ones and ``"*"``."""
    return texts if len(texts) <= _MAX_ALTERNATIVES else [*texts[:_MAX_ALTERNATIVES], "*"]


def _choices(options: list[list[str]]) -> list[list[str]]:
    """Each way to take one of each of ``options``; past :data:`_MAX_ALTERNATIVES` ways, only
    ``["*"]`` (a value that matches anyone)."""
    chosen: list[list[str]] = [[]]
    for texts in options:
        chosen = [[*before, text] for before in chosen for text in texts]
        if len(chosen) > _MAX_ALTERNATIVES:
            return [["*"]]
    return chosen


def _detokenized(value: str) -> str | None:
    """A string holding CDK tokens not yet resolved as it will be matched; None for one token
    as a whole (other than the account or partition)."""
    whole = _CDK_TOKEN.fullmatch(value)
    if whole and whole.group(1) not in _CDK_PSEUDO:
        return None
    return _CDK_TOKEN.sub(lambda m: _deploy_time(_CDK_PSEUDO.get(m.group(1), "")), value)


def _substituted(argument: Any) -> list[str | None]:
    """An ``Fn::Sub`` (a template, or a template and its variables) as it may be matched."""
    template, variables = [*argument, {}][:2] if isinstance(argument, list) else (argument, {})
    if not isinstance(template, str):
        return [None]
    given = variables if isinstance(variables, dict) else {}
    names = list(dict.fromkeys(m.group(1) for m in _SUB_VARIABLE.finditer(template)))
    options = [_part_texts(given[n]) if n in given else [_deploy_time(n)] for n in names]
    texts: list[str | None] = []
    for chosen in _choices(options):
        if len(chosen) != len(names):
            texts.append("*")  # past the cap
            continue
        values = dict(zip(names, chosen, strict=True))
        texts.append(_SUB_VARIABLE.sub(functools.partial(_variable, values), template))
    return [t.replace("${!", "${") if t is not None else t for t in texts]


def _variable(values: dict[str, str], match: re.Match[str]) -> str:
    """The text an ``Fn::Sub`` variable is given (``values``: by name)."""
    return values[match.group(1)]


def _part_texts(value: Any) -> list[str]:
    """A part of a joined or substituted value as it may be matched (see
    :func:`matched_texts`)."""
    return [_DEPLOY_TIME_OTHER if text is None else text for text in matched_texts(value)]


def _deploy_time(name: str) -> str:
    """What the pseudo parameter (or other name known at deploy time) ``name`` is matched as."""
    return _DEPLOY_TIME_VALUES.get(name, _DEPLOY_TIME_OTHER)


def _values(value: Any) -> list[Any]:
    """A condition's value as a list: a string, an intrinsic (a dict) or a list of them."""
    if isinstance(value, str | dict):
        return [value]
    if isinstance(value, list | tuple):
        return [v if isinstance(v, dict) else str(v) for v in value]
    return [] if value is None else [str(value)]
