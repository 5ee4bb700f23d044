"""A posture report of the KMS keys of an account, Region by Region (``kmskit key inventory``).

For each key :func:`inventory` reads what KMS says of it (``DescribeKey``; the aliases from one
``ListAliases`` per Region; ``GetKeyRotationStatus`` where KMS answers it, ``GetKeyPolicy``
``default``, the number of grants from ``ListGrants``) and names what deserves a look as
:class:`Finding` codes (:data:`FINDINGS`):

* ``ROTATION_OFF``: an enabled symmetric encryption key (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) of
  AWS_KMS origin without automatic rotation. KMS rotates no other kind of key automatically
  (asymmetric, HMAC, imported material, custom key stores), so none of those is named. The
  rotation status (with an on-demand rotation in progress) is read for imported material too,
  which KMS rotates on demand. A multi-Region replica shares its primary's rotation, which is
  set on the primary only: its reason names the primary.
* ``PENDING_DELETION``: the key is scheduled for deletion (its date; a multi-Region primary
  waiting for its replicas has none: its waiting period starts after its last replica is
  deleted).
* ``DISABLED``: the key is disabled.
* ``NO_MATERIAL``: a key for imported material (origin EXTERNAL) in state ``PendingImport``: its
  material expired, was deleted, or was never imported, and every cryptographic use fails. For
  a symmetric encryption key the reason tells which: DescribeKey reports the
  ``CurrentKeyMaterialId`` of material that expired or was deleted, none before the first
  import; KMS reports none for other key specs, whose reason names all three.
* ``MATERIAL_EXPIRES``: imported key material (origin EXTERNAL) that expires within the days
  given (``ValidTo``), or has expired (KMS then deletes it, and the key shows ``NO_MATERIAL``).
* ``EXTERNAL_ACCESS``: an Allow statement of the key policy names another account: as a
  principal (account ID, ``arn:aws:iam::ID:root``, or a role, user or session of it), or, for a
  ``"*"`` principal, in a condition limiting the caller (``aws:PrincipalAccount``,
  ``kms:CallerAccount``, ``aws:SourceAccount``, ``aws:PrincipalArn``).
* ``PUBLIC``: an Allow statement for ``"*"`` (``{"AWS": "*"}``, or a ``NotPrincipal``) without a
  condition that limits the caller (:data:`kmskit.policy_conditions.CALLER_KEYS`, under an
  operator that needs the key present, not ``...IfExists``, ``Null`` or a negation, and no
  wildcard in the part of a value naming the caller:
  :data:`kmskit.policy_conditions.CALLER_CONDITION_RULE`): the rule the constructs apply at
  synth.
* ``SERVICE_UNLIMITED``: an Allow statement for an AWS service principal without a condition that
  limits its source (:func:`kmskit.policy_conditions.limits_source`, the rule the constructs
  apply at construct time and ``tests/test_service_principals.py`` to the project's Apps): the
  service uses the key for any customer who points it at a resource encrypted under it (the
  confused deputy). The two statements AWS documents without one
  (:data:`kmskit.policy_conditions.SOURCE_EXEMPTIONS`) are not named.
* ``UNREADABLE``: KMS refused a call with access denied; the key is reported with what could be
  read, and which call was refused. The run goes on.
* ``ACCOUNT_UNREADABLE`` (:func:`organization_inventory` only): STS refused to let the caller
  assume the inventory role of an account, or to renew its credentials partway through the
  account; the account is reported (:class:`AccountReport`) without keys, or with the keys read
  before the refusal, and the run goes on with the next account.
* ``REGION_UNREADABLE`` (:func:`organization_inventory` only): KMS refused the credentials of an
  account's role in an opt-in Region (one the account has not enabled); the account's keys of
  that Region are missing (those read before a refusal partway through the Region are
  reported), and the run goes on with its other Regions and the next account.

:func:`inventory` reads the account of the KMS clients it is given: every call takes the key's
ID in the Region's client. :func:`organization_inventory` reads other accounts, each through a
role it assumes there (:data:`DEFAULT_ROLE_NAME` unless told), with :func:`inventory`; the
accounts may come from AWS Organizations (:func:`organization_accounts`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from kmskit._text import utc_text
from kmskit.audit import DEFAULT_WORKERS, check_workers, inert_cell, ordered_map
from kmskit.aws_names import check_accounts, opt_in, opt_in_hint, partition
from kmskit.clients import (
    CallerCredentialsFailedError,
    ClientSettings,
    RenewalCredentialsRefusedError,
    RoleRefusedError,
    assume_role,
    caller_credentials_failed,
)
from kmskit.errors import (
    CredentialsRefusedError,
    KmskitError,
    NotFoundError,
    UsageError,
    from_client_error,
    is_access_denied,
)
from kmskit.inventory_role import (
    DEFAULT_ROLE_NAME,
    EXTERNAL_ID_PATTERN,
    EXTERNAL_ID_RULE,
    MAX_ROLE_PATH,
    ROLE_NAME_PATTERN,
    ROLE_SESSION_NAME,
    valid_role_path,
)
from kmskit.inventory_role import role_arn as inventory_role_arn
from kmskit.key_deletion import PENDING_STATES, check_whole_days, deletion_when, grants_of
from kmskit.policy_conditions import (
    account_of,
    caller_limits,
    names_everyone,
    unlimited_services,
)

FINDINGS: dict[str, str] = {
    "ROTATION_OFF": "a symmetric encryption key of AWS_KMS origin, enabled, not rotated",
    "PENDING_DELETION": "the key is scheduled for deletion",
    "DISABLED": "the key is disabled",
    "NO_MATERIAL": "imported key material is missing (expired, deleted, or never imported)",
    "MATERIAL_EXPIRES": "imported key material expires within --expiry-days (or has expired)",
    "EXTERNAL_ACCESS": "the key policy allows another account",
    "PUBLIC": "the key policy allows '*' without a condition on the caller",
    "SERVICE_UNLIMITED": "the key policy allows an AWS service without a condition that limits "
    "its source (confused deputy)",
    "UNREADABLE": "KMS refused a call with access denied: the report is incomplete",
    "ACCOUNT_UNREADABLE": "the account's inventory role could not be assumed (or renewed): its "
    "keys (or those after the refusal) are missing",
    "REGION_UNREADABLE": "an opt-in Region refused the account's credentials: its keys there (or "
    "those after the refusal) are missing",
}
"""Each finding code and what it means, in the order reports list them. ACCOUNT_UNREADABLE and
REGION_UNREADABLE are an account's (:class:`AccountReport`), the others a key's."""
ACCOUNT_FINDINGS: frozenset[str] = frozenset({"ACCOUNT_UNREADABLE", "REGION_UNREADABLE"})
"""The codes of :data:`FINDINGS` that an account has, not a key."""

DEFAULT_EXPIRY_DAYS = 30
MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 1, 365  # ImportKeyMaterial's ValidTo: at most 365 days ahead


def check_expiry_days(value: Any) -> int:
    """``value`` if it is a whole number of days from 1 to 365; otherwise a
    :class:`~kmskit.errors.UsageError` naming ``--expiry-days``."""
    return check_whole_days(
        value,
        "--expiry-days",
        MIN_WINDOW_DAYS,
        MAX_WINDOW_DAYS,
        "imported material expires at most 365 days after its import",
    )


def check_finding_codes(codes: Iterable[str], argument: str = "--fail-on") -> list[str]:
    """``codes`` (each may hold several, comma-separated) as a list of :data:`FINDINGS` codes,
    in the order given, without repeats; an unknown code is a
    :class:`~kmskit.errors.UsageError` naming ``argument`` and the code."""
    found: list[str] = []
    for given in codes:
        for part in given.split(","):
            code = part.strip()
            if code not in FINDINGS:
                raise UsageError(
                    f"'{argument}' must be finding codes ({', '.join(FINDINGS)}), separated "
                    f"by commas. Received: {code!r}"
                )
            if code not in found:
                found.append(code)
    return found


def check_role_name(value: Any, argument: str = "--role-name") -> str:
    """``value`` if it is an IAM role name (1-64 letters, digits and ``+=,.@_-``), optionally
    after the role's IAM path without its first and last ``/`` (``teams/platform/Reader``: path
    ``/teams/platform/``, segments of those characters, at most 512 characters with its
    slashes); otherwise a :class:`~kmskit.errors.UsageError` naming ``argument``."""
    if isinstance(value, str):
        *segments, name = value.split("/")
        path = "/" + "".join(f"{segment}/" for segment in segments)
        if ROLE_NAME_PATTERN.match(name) and valid_role_path(path):
            return value
    raise UsageError(
        f"'{argument}' must be an IAM role name: 1-64 letters, digits and +=,.@_-, after its "
        "IAM path if it has one (path/to/NAME: segments of the same characters, at most "
        f"{MAX_ROLE_PATH} characters with the path's first and last '/'; no leading or trailing "
        f"'/', no '//'). Received: {value!r}"
    )


def check_external_id(value: Any, argument: str = "--external-id") -> str:
    """``value`` if STS takes it as an ``ExternalId`` (2-1224 letters, digits and
    ``+=,.@:/_-``); otherwise a :class:`~kmskit.errors.UsageError` naming ``argument``."""
    if not isinstance(value, str) or not EXTERNAL_ID_PATTERN.match(value):
        raise UsageError(f"'{argument}' {EXTERNAL_ID_RULE}. Received: {value!r}")
    return value


def check_one_partition(regions: Sequence[str], argument: str = "--region") -> str:
    """The partition (``aws``, ``aws-cn``, ...) of ``regions``: a role is assumed in one
    partition, so Regions of several are a :class:`~kmskit.errors.UsageError` naming
    ``argument``."""
    partitions = {region: partition(region) for region in regions}
    if len(set(partitions.values())) > 1:
        shown = ", ".join(f"{region} ({name})" for region, name in partitions.items())
        raise UsageError(
            f"'{argument}' must name Regions of one partition to read other accounts (a role "
            f"is assumed in one partition). Received: {shown}"
        )
    return partition(regions[0])


def role_arn(account: str, role_name: str, region: str) -> str:
    """The ARN of ``role_name`` (its path first if it has one, as :func:`check_role_name`
    takes it) in ``account``, in the partition of ``region``."""
    return inventory_role_arn(partition(region), account, role_name)


def organization_accounts(organizations: Any) -> list[str]:
    """The IDs of the ACTIVE accounts of the caller's organization, in ListAccounts' order (all
    pages): suspended accounts, accounts pending closure or activation, and closed ones are
    left out. An account's ``State`` is read (``Status``, which AWS retires, where there is no
    ``State``). A refusal is the :class:`~kmskit.errors.KmskitError` of
    :func:`~kmskit.errors.from_client_error` (access denied: exit 3)."""
    found: list[str] = []
    try:
        for page in organizations.get_paginator("list_accounts").paginate():
            for account in page.get("Accounts", []):
                if (account.get("State") or account.get("Status")) == "ACTIVE":
                    found.append(str(account["Id"]))
    except ClientError as error:
        raise from_client_error(error, "list the accounts of the organization") from error
    return found


@dataclass(frozen=True)
class Finding:
    """One finding: its code (a key of :data:`FINDINGS`) and why, in one line."""

    code: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class Rotation:
    """``GetKeyRotationStatus``: whether KMS rotates the key, every how many days
    (``period_days``) and when next (``next_rotation``), and when an on-demand rotation still
    in progress started (``on_demand_started``); None where KMS did not say."""

    enabled: bool
    period_days: int | None = None
    next_rotation: datetime | None = None
    on_demand_started: datetime | None = None

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> Rotation:
        """The status in a ``GetKeyRotationStatus`` answer."""
        return cls(
            enabled=bool(answer.get("KeyRotationEnabled")),
            period_days=answer.get("RotationPeriodInDays"),
            next_rotation=answer.get("NextRotationDate"),
            on_demand_started=answer.get("OnDemandRotationStartDate"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "periodDays": self.period_days,
            "nextRotation": utc_text(self.next_rotation) if self.next_rotation else None,
            "onDemandStarted": (
                utc_text(self.on_demand_started) if self.on_demand_started else None
            ),
        }

    def text(self) -> str:
        """The text report's ROTATION cell: ``rotating`` while an on-demand rotation is in
        progress, else the automatic rotation: its period (``365d``), ``on`` or ``off``."""
        if self.on_demand_started is not None:
            return "rotating"
        if not self.enabled:
            return "off"
        return f"{self.period_days}d" if self.period_days else "on"


@dataclass(frozen=True)
class PolicyAnalysis:
    """What the key policy allows beyond the key's account.

    ``external_accounts``: the other accounts its Allow statements name (sorted);
    ``public_statements``: the Allow statements for ``"*"`` without a condition on the caller,
    each by its Sid (or ``#N``, its position from 1); ``unlimited_service_statements``: the
    Allow statements for an AWS service without a condition that limits its source, each as
    ``<Sid or #N> (<service>)``."""

    external_accounts: tuple[str, ...] = ()
    public_statements: tuple[str, ...] = ()
    unlimited_service_statements: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "externalAccounts": list(self.external_accounts),
            "publicStatements": list(self.public_statements),
            "unlimitedServiceStatements": list(self.unlimited_service_statements),
        }


def analyze_policy(policy: str | dict[str, Any], account: str) -> PolicyAnalysis:
    """The accounts other than ``account`` and the public statements (see the module docstring)
    of a key policy (its JSON text or the parsed document). Deny statements allow nothing and
    are not read; a document that is not JSON is a :class:`~kmskit.errors.UsageError`."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as error:
            raise UsageError(f"the key policy is not JSON: {error}") from error
    if not isinstance(policy, dict):
        raise UsageError(f"the key policy is not a JSON object: {str(policy)[:80]!r}")
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    external: set[str] = set()
    public: list[str] = []
    services: list[str] = []
    for number, statement in enumerate(statements, 1):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        name = str(statement.get("Sid") or f"#{number}")
        services.extend(f"{name} ({service})" for service in unlimited_services(statement))
        named = _aws_principals(statement.get("Principal"))
        everyone = (
            "NotPrincipal" in statement
            or "*" in named
            or names_everyone(statement.get("Principal"))
        )
        external.update(a for a in map(account_of, named) if a and a != account)
        if everyone:
            limits = caller_limits(statement.get("Condition"))
            if limits is None:
                public.append(name)
            else:
                external.update(a for a in limits if a != account)
    return PolicyAnalysis(tuple(sorted(external)), tuple(public), tuple(services))


def _aws_principals(principal: Any) -> list[str]:
    """The AWS principals of a statement's ``Principal`` (``"*"`` stands for everyone);
    service, federated and canonical-user principals are not accounts."""
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    named = principal.get("AWS", [])
    return [named] if isinstance(named, str) else [str(p) for p in named]


@dataclass
class KeyReport:
    """One key as :func:`inventory` read it, with its findings. A field KMS refused to give
    (``refused`` names the call) or that does not apply is None."""

    key_id: str
    key_arn: str
    region: str
    aliases: tuple[str, ...] | None = None
    key_state: str | None = None
    key_spec: str | None = None
    key_usage: str | None = None
    origin: str | None = None
    key_manager: str | None = None
    multi_region: str | None = None  # PRIMARY or REPLICA
    primary_arn: str | None = field(default=None, repr=False)
    """A multi-Region replica's primary (named in ROTATION_OFF's reason; not in as_dict)."""
    pending_window_days: int | None = field(default=None, repr=False)
    """The waiting period of a primary in PendingReplicaDeletion, which starts once its last
    replica is deleted (named in PENDING_DELETION's reason; not in as_dict)."""
    current_key_material_id: str | None = field(default=None, repr=False)
    """DescribeKey's ``CurrentKeyMaterialId`` (symmetric encryption keys only; named in
    NO_MATERIAL's reason; not in as_dict)."""
    created: datetime | None = None
    description: str | None = None
    rotation: Rotation | None = None
    deletion_date: datetime | None = None
    valid_to: datetime | None = None
    grant_count: int | None = None
    policy: PolicyAnalysis | None = None
    refused: list[str] = field(default_factory=list)
    """The calls KMS refused with access denied, as ``kms:GetKeyPolicy``."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def account(self) -> str:
        return self.key_arn.split(":")[4]

    def codes(self) -> list[str]:
        return [finding.code for finding in self.findings]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ``YYYY-MM-DDTHH:MM:SSZ``, absent ones None."""

        def when(moment: datetime | None) -> str | None:
            return utc_text(moment) if moment else None

        return {
            "keyId": self.key_id,
            "keyArn": self.key_arn,
            "region": self.region,
            "account": self.account,
            "aliases": list(self.aliases) if self.aliases is not None else None,
            "keyState": self.key_state,
            "keySpec": self.key_spec,
            "keyUsage": self.key_usage,
            "origin": self.origin,
            "keyManager": self.key_manager,
            "multiRegion": self.multi_region,
            "created": when(self.created),
            "description": self.description,
            "rotation": self.rotation.as_dict() if self.rotation else None,
            "deletionDate": when(self.deletion_date),
            "materialValidTo": when(self.valid_to),
            "grantCount": self.grant_count,
            "policy": self.policy.as_dict() if self.policy else None,
            "refused": list(self.refused),
            "findings": [finding.as_dict() for finding in self.findings],
        }


def findings_of(report: KeyReport, *, expiry_days: int, now: datetime) -> list[Finding]:
    """The findings of ``report`` (the module docstring says when each applies), in the order
    of :data:`FINDINGS`. Imported material counts as expiring when its ``ValidTo`` is at most
    ``expiry_days`` after ``now``."""
    found: list[Finding] = []
    if (
        _rotatable(report)
        and report.key_state == "Enabled"
        and report.rotation is not None
        and not report.rotation.enabled
    ):
        found.append(Finding("ROTATION_OFF", _rotation_off(report)))
    if report.key_state in PENDING_STATES:
        when = deletion_when(report.deletion_date, report.pending_window_days)
        found.append(Finding("PENDING_DELETION", f"{report.key_state}: KMS deletes it {when}"))
    if report.key_state == "Disabled":
        found.append(Finding("DISABLED", "the key is disabled: every use of it fails"))
    if report.origin == "EXTERNAL" and report.key_state == "PendingImport":
        found.append(Finding("NO_MATERIAL", _no_material(report)))
    if report.valid_to is not None and report.valid_to <= now + timedelta(days=expiry_days):
        verb = "expired" if report.valid_to <= now else "expires"
        found.append(
            Finding(
                "MATERIAL_EXPIRES",
                f"imported key material {verb} {utc_text(report.valid_to)} (KMS then deletes "
                "it: re-import the same material to keep the key usable)",
            )
        )
    policy = report.policy
    if policy is not None and policy.external_accounts:
        found.append(
            Finding(
                "EXTERNAL_ACCESS",
                "the key policy allows account(s) " + ", ".join(policy.external_accounts),
            )
        )
    if policy is not None and policy.public_statements:
        found.append(
            Finding(
                "PUBLIC",
                "the key policy allows '*' without a condition on the caller: statement(s) "
                + ", ".join(policy.public_statements),
            )
        )
    if policy is not None and policy.unlimited_service_statements:
        found.append(
            Finding(
                "SERVICE_UNLIMITED",
                "the key policy allows an AWS service without a condition that limits its "
                "source (confused deputy): statement(s) "
                + ", ".join(policy.unlimited_service_statements),
            )
        )
    if report.refused:
        found.append(
            Finding(
                "UNREADABLE",
                f"access denied to {', '.join(report.refused)}: what they read is missing",
            )
        )
    return found


def _rotation_off(report: KeyReport) -> str:
    """ROTATION_OFF's reason. KMS takes EnableKeyRotation only on a multi-Region primary, and
    its replicas share its rotation: a replica's reason names the primary to turn it on."""
    if report.multi_region != "REPLICA":
        return "automatic rotation is off (EnableKeyRotation)"
    primary = report.primary_arn or "its primary"
    return (
        f"automatic rotation is off: it is set on the primary, {primary} (EnableKeyRotation "
        "there; KMS refuses it on a replica)"
    )


def _rotatable(report: KeyReport) -> bool:
    """Whether KMS rotates a key of this kind automatically: symmetric encryption
    (SYMMETRIC_DEFAULT, whose only usage is ENCRYPT_DECRYPT) with material of KMS's own (origin
    AWS_KMS)."""
    return report.key_spec == "SYMMETRIC_DEFAULT" and report.origin == "AWS_KMS"


def _rotates_on_demand(report: KeyReport) -> bool:
    """Whether KMS rotates a key of this kind on demand (RotateKeyOnDemand): the keys it rotates
    automatically, and symmetric encryption keys with imported material (origin EXTERNAL), whose
    new material ``kmskit key import-material --new-material`` imports first."""
    return report.key_spec == "SYMMETRIC_DEFAULT" and report.origin in ("AWS_KMS", "EXTERNAL")


def list_keys(kms: Any) -> Iterator[tuple[str, str]]:
    """The ID and ARN of every key of the client's account and Region (ListKeys, all pages,
    read as they are needed)."""
    try:
        for page in kms.get_paginator("list_keys").paginate():
            for key in page.get("Keys", []):
                yield str(key["KeyId"]), str(key["KeyArn"])
    except ClientError as error:
        raise from_client_error(error, f"list the keys of {kms.meta.region_name}") from error


def aliases_by_key(kms: Any) -> dict[str, list[str]] | None:
    """Alias names by target key ID in the client's Region (ListAliases, all pages); None if
    KMS refuses it with access denied (any other error is raised)."""
    found: dict[str, list[str]] = {}
    try:
        for page in kms.get_paginator("list_aliases").paginate():
            for alias in page.get("Aliases", []):
                if alias.get("TargetKeyId"):
                    found.setdefault(str(alias["TargetKeyId"]), []).append(str(alias["AliasName"]))
    except ClientError as error:
        if is_access_denied(error):
            return None
        raise from_client_error(error, f"list the aliases of {kms.meta.region_name}") from error
    return found


class _RefusedError(Exception):
    """A call KMS refused with access denied (recorded in the report, not raised further)."""


def _call(kms: Any, action: str, doing: str, call: Callable[[], Any]) -> Any:
    """``call()``; access denied raises :class:`_RefusedError`, any other error the
    :class:`~kmskit.errors.KmskitError` of :func:`~kmskit.errors.from_client_error`."""
    try:
        return call()
    except ClientError as error:
        if is_access_denied(error):
            raise _RefusedError(action) from error
        raise from_client_error(error, doing) from error


@dataclass(frozen=True)
class _Region:
    """What the keys of one Region share: its client and its aliases (None: refused), and its
    position among the Regions of the run."""

    name: str
    kms: Any
    aliases: dict[str, list[str]] | None
    index: int


@dataclass(frozen=True)
class _Refusal:
    """KMS refused the credentials in the Region at ``index`` of the run (named ``name``)."""

    index: int
    name: str
    error: CredentialsRefusedError


def describe(
    kms: Any,
    key_id: str,
    key_arn: str,
    *,
    aliases: dict[str, list[str]] | None,
    include_aws_managed: bool = False,
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
    now: datetime | None = None,
) -> KeyReport | None:
    """One key's :class:`KeyReport` (``kms``: a client of its Region; ``key_id`` and ``key_arn``
    as ListKeys gives them), or None for a key that is
    AWS managed (unless ``include_aws_managed``; default False) or was deleted meanwhile.
    ``aliases``: :func:`aliases_by_key`'s answer (None: refused, so unknown). ``expiry_days``
    (default 30) and ``now`` (default: the current time) decide MATERIAL_EXPIRES."""
    region = str(kms.meta.region_name)
    report = KeyReport(key_id=key_id, key_arn=key_arn, region=region)
    if aliases is None:
        report.refused.append("kms:ListAliases")
    else:
        report.aliases = tuple(sorted(aliases.get(key_id, ())))
    try:
        metadata = _call(
            kms,
            "kms:DescribeKey",
            f"describe key {key_id} in {region}",
            lambda: kms.describe_key(KeyId=key_id)["KeyMetadata"],
        )
    except _RefusedError as refused:
        report.refused.append(str(refused))
    except NotFoundError:  # deleted since ListKeys
        return None
    else:
        if metadata.get("KeyManager") == "AWS" and not include_aws_managed:
            return None
        _take_metadata(report, metadata)
    for action, read in (
        ("kms:GetKeyRotationStatus", _read_rotation),
        ("kms:GetKeyPolicy", _read_policy),
        ("kms:ListGrants", _read_grant_count),
    ):
        try:
            read(kms, report)
        except _RefusedError:
            report.refused.append(action)
        except NotFoundError:  # deleted meanwhile
            return None
    report.findings = findings_of(report, expiry_days=expiry_days, now=now or datetime.now(UTC))
    return report


def _no_material(report: KeyReport) -> str:
    """NO_MATERIAL's reason: which of expired or deleted, or never imported, where DescribeKey
    tells (``CurrentKeyMaterialId``, reported for symmetric encryption keys only). A symmetric
    key without one is taken as never imported, but only as far as KMS reports the ID (not
    checked for multi-Region replicas, docs/keys.md): the reason says so."""
    if report.current_key_material_id:
        return (
            f"imported key material {report.current_key_material_id} expired or was deleted: "
            "every cryptographic use fails until the same material is imported again (kmskit "
            "key import-material --material FILE)"
        )
    if report.key_spec == "SYMMETRIC_DEFAULT":
        return (
            "no key material ID reported (never imported, or KMS reports none for this key): "
            "every cryptographic use fails until material is imported (kmskit key "
            "import-material; the same material again if the key had some)"
        )
    return (
        "imported key material missing (expired, deleted, or never imported): every "
        "cryptographic use fails until it is imported (kmskit key import-material; the "
        "same material again if the key had some)"
    )


def _take_metadata(report: KeyReport, metadata: dict[str, Any]) -> None:
    report.key_arn = str(metadata.get("Arn", report.key_arn))
    report.key_state = metadata.get("KeyState")
    report.key_spec = metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec")
    report.key_usage = metadata.get("KeyUsage")
    report.origin = metadata.get("Origin")
    report.key_manager = metadata.get("KeyManager")
    multi = metadata.get("MultiRegionConfiguration") or {}
    report.multi_region = multi.get("MultiRegionKeyType")
    if report.multi_region == "REPLICA":
        report.primary_arn = (multi.get("PrimaryKey") or {}).get("Arn")
    report.pending_window_days = metadata.get("PendingDeletionWindowInDays")
    report.current_key_material_id = metadata.get("CurrentKeyMaterialId")
    report.created = metadata.get("CreationDate")
    report.description = metadata.get("Description")
    report.deletion_date = metadata.get("DeletionDate")
    if metadata.get("ExpirationModel") == "KEY_MATERIAL_EXPIRES":
        report.valid_to = metadata.get("ValidTo")


def _read_rotation(kms: Any, report: KeyReport) -> None:
    """GetKeyRotationStatus, for the keys KMS rotates automatically or on demand (symmetric
    encryption, AWS_KMS or EXTERNAL origin): KMS refuses it for the others
    (UnsupportedOperationException), and for a key in a state that does not allow it
    (KMSInvalidStateException); either leaves the rotation unknown."""
    if not _rotates_on_demand(report):
        return
    try:
        answer = kms.get_key_rotation_status(KeyId=report.key_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("UnsupportedOperationException", "KMSInvalidStateException"):
            return
        if is_access_denied(error):
            raise _RefusedError("kms:GetKeyRotationStatus") from error
        raise from_client_error(error, f"read the rotation status of {report.key_arn}") from error
    report.rotation = Rotation.from_answer(answer)


def _read_policy(kms: Any, report: KeyReport) -> None:
    answer = _call(
        kms,
        "kms:GetKeyPolicy",
        f"read the key policy of {report.key_arn}",
        lambda: kms.get_key_policy(KeyId=report.key_id, PolicyName="default"),
    )
    report.policy = analyze_policy(answer.get("Policy") or "{}", report.account)


def _read_grant_count(kms: Any, report: KeyReport) -> None:
    report.grant_count = _call(
        kms,
        "kms:ListGrants",
        f"list the grants of {report.key_arn}",
        lambda: sum(1 for _ in grants_of(kms, report.key_id)),
    )


def inventory(
    kms_of: Callable[[str], Any],
    regions: Iterable[str],
    *,
    include_aws_managed: bool = False,
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
    workers: int = DEFAULT_WORKERS,
    now: datetime | None = None,
    on_opt_in_refused: Callable[[str, CredentialsRefusedError], None] | None = None,
) -> Iterator[KeyReport]:
    """The :class:`KeyReport` of every customer managed key (and the AWS managed ones too if
    ``include_aws_managed``; default False) of each Region of ``regions`` in turn, in ListKeys'
    order, described ``workers`` at a time (1-64, default 8) and yielded as they come: only the
    keys in flight are held. ``kms_of(region)``: a KMS client of that Region (give it
    ``max_pool_connections`` of at least ``workers``). ``expiry_days`` (1-365, default 30) and
    ``now`` (default: the current time) decide MATERIAL_EXPIRES.

    ListKeys refused or failing, or another error than access denied on a key, stops the run
    (:class:`~kmskit.errors.KmskitError`); access denied on a key's call is its UNREADABLE.
    ``on_opt_in_refused(region, error)``, if given (default None), is told instead when KMS
    refuses the credentials in an opt-in Region (ListAliases, any page of ListKeys, or a key's
    call), and the run goes on with the next Region. The keys of that Region before the refused
    call, in ListKeys' order, have been yielded by then; none after it is yielded, and the rest
    of the Region is not listed. STS refusing the caller's own credentials when an assumed
    role's are renewed (:class:`~kmskit.clients.RenewalCredentialsRefusedError`) is no refusal
    of the Region: it stops the run, in any Region."""
    workers = check_workers(workers)
    check_expiry_days(expiry_days)
    moment = now or datetime.now(UTC)
    ended: set[int] = set()  # the Regions (positions) a refusal of credentials ended

    def tolerated(region: str, refused: CredentialsRefusedError) -> bool:
        # A renewal of an assumed role's credentials refused for the caller's own is no
        # refusal of the Region: it ends the run.
        return (
            on_opt_in_refused is not None
            and opt_in(region)
            and not isinstance(refused, RenewalCredentialsRefusedError)
        )

    def keys() -> Iterator[tuple[_Region, str, str] | _Refusal]:
        for index, name in enumerate(regions):
            kms = kms_of(name)
            try:
                region = _Region(name, kms, aliases_by_key(kms), index)
                for key_id, key_arn in list_keys(kms):
                    if index in ended:  # a key's call was refused: the rest is not read
                        break
                    yield region, key_id, key_arn
            except CredentialsRefusedError as refused:
                if not tolerated(name, refused):
                    raise
                yield _Refusal(index, name, refused)  # told in order, after the keys before

    def read(item: tuple[_Region, str, str] | _Refusal) -> KeyReport | _Refusal | None:
        if isinstance(item, _Refusal):
            return item
        region, key_id, key_arn = item
        try:
            return describe(
                region.kms,
                key_id,
                key_arn,
                aliases=region.aliases,
                include_aws_managed=include_aws_managed,
                expiry_days=expiry_days,
                now=moment,
            )
        except CredentialsRefusedError as refused:
            if not tolerated(region.name, refused):
                raise
            return _Refusal(region.index, region.name, refused)

    for item, result in ordered_map(read, keys(), workers):
        if isinstance(result, _Refusal):
            if result.index not in ended and on_opt_in_refused is not None:
                ended.add(result.index)
                on_opt_in_refused(result.name, result.error)
        elif result is not None and not (isinstance(item, tuple) and item[0].index in ended):
            yield result  # not a key of a Region ended, read after the refused call


def inventory_kms_client(settings: ClientSettings, region: str | None, workers: int) -> Any:
    """The KMS client :func:`inventory` needs for ``region`` (None: the settings' own), with a
    connection for each of ``workers``."""
    return settings.client("kms", region=region, max_pool_connections=max(10, workers))


@dataclass(frozen=True)
class AccountReport:
    """One account :func:`organization_inventory` read (``refused`` None), or could not read:
    ``refused`` then says why STS refused to let the caller assume ``role_arn`` (or to renew
    its credentials, partway through the account). ``regions_refused``: the opt-in Regions of
    the account whose KMS refused the role's credentials, each with why (default: none).
    ``keys_by_region``: how many of the account's keys were reported in each Region, in the
    order read (default: none; a Region without keys may be left out): the keys read before a
    refusal."""

    account: str
    role_arn: str
    refused: str | None = None
    regions_refused: tuple[tuple[str, str], ...] = ()
    keys_by_region: tuple[tuple[str, int], ...] = ()

    @property
    def findings(self) -> list[Finding]:
        """ACCOUNT_UNREADABLE (if ``refused``), then a REGION_UNREADABLE per Region refused;
        each says how many keys read before its refusal are reported."""
        reported = dict(self.keys_by_region)
        found: list[Finding] = []
        if self.refused is not None:
            left = _account_left_out(sum(reported.values()))
            found.append(Finding("ACCOUNT_UNREADABLE", f"{self.refused}: {left}"))
        for region, refused in self.regions_refused:
            left = _left_out(
                reported.get(region, 0),
                f"none of its keys in {region} is reported",
                f"its keys in {region}",
            )
            found.append(
                Finding(
                    "REGION_UNREADABLE", f"{region}: {refused}: {left} ({opt_in_hint([region])})"
                )
            )
        return found

    def codes(self) -> list[str]:
        return [finding.code for finding in self.findings]

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "roleArn": self.role_arn,
            "findings": [finding.as_dict() for finding in self.findings],
        }


def _account_left_out(reported: int, cause: str = "the refusal") -> str:
    """What ``cause`` (default: a refusal) partway through an account left out of the report,
    ``reported`` of its keys being in it (:func:`_left_out`)."""
    return _left_out(reported, "none of its keys is reported", "its keys", cause)


def _left_out(reported: int, none: str, rest: str, cause: str = "the refusal") -> str:
    """What ``cause`` (default: a refusal) left out of the report: ``none`` when no key was
    reported before it; otherwise the number reported, and that the rest of ``rest`` is not."""
    if not reported:
        return none
    return f"{reported} key(s) read before {cause} are reported; the rest of {rest} are not"


def organization_inventory(
    settings: ClientSettings,
    accounts: Iterable[str],
    regions: Sequence[str],
    *,
    role_name: str = DEFAULT_ROLE_NAME,
    external_id: str | None = None,
    include_aws_managed: bool = False,
    expiry_days: int = DEFAULT_EXPIRY_DAYS,
    workers: int = DEFAULT_WORKERS,
    now: datetime | None = None,
) -> Iterator[AccountReport | KeyReport]:
    """:func:`inventory` of ``regions`` in each of ``accounts`` in turn (12-digit IDs; a repeat
    is read once), each through the role ``role_name`` (default :data:`DEFAULT_ROLE_NAME`; its
    IAM path first if it has one, ``teams/platform/Reader``) that the caller (``settings``)
    assumes there, in the partition of ``regions`` (one partition), as
    :data:`ROLE_SESSION_NAME`, with ``external_id`` if given (default: None, none sent).

    Each account's keys' :class:`KeyReport` come first, then its :class:`AccountReport`. An
    account whose role STS refuses with access denied is reported with ACCOUNT_UNREADABLE and
    no keys, and the run goes on; so is one whose credentials STS refuses to renew partway,
    with the keys read before (in ListKeys' order, Region by Region). In an opt-in Region
    (:func:`~kmskit.aws_names.opt_in`) whose KMS refuses the role's credentials (a Region the
    account has not enabled), the account has REGION_UNREADABLE for it, with the keys of the
    Region read before the refusal if it came partway, and the run goes on with its next
    Region. The role is assumed with STS in the first Region of ``regions`` that is not an
    opt-in Region (the first one if all are): an opt-in Region one account has not enabled
    decides for that account only. Any other error stops the run, as in :func:`inventory`:
    the caller's own credentials failing too, refused by STS or not obtained or usable before
    botocore sends any request (an IAM Identity Center session that expired during the run, or
    whose permission set is no longer assigned; the role of the caller's own profile refused;
    credentials already expired by this machine's clock), as they would fail every account
    after it. At the first account's ``AssumeRole`` that is the error of
    :func:`~kmskit.clients.assume_role` (nothing was read; the credentials may never have
    worked): STS's refusal plain, a failure before any request a
    :class:`~kmskit.clients.CallerCredentialsFailedError` naming the role and its account. At a
    later account's ``AssumeRole`` (the session expired between two accounts) it
    is a :class:`~kmskit.clients.CallerCredentialsFailedError`, and at a renewal partway through
    an account (in an opt-in Region as in any other) a
    :class:`~kmskit.clients.RenewalCredentialsRefusedError`, whose message also says at which
    account the run stopped and what was reported before (the accounts before it, the keys of
    that account read before the credentials failed) and that the accounts after it are not
    read. The other arguments (defaults: customer managed keys only, 30 days, 8 workers, the
    current time) are :func:`inventory`'s. Arguments are checked before any AWS call
    (:class:`~kmskit.errors.UsageError`)."""
    accounts = list(dict.fromkeys(accounts))
    check_accounts(accounts, "accounts")
    regions = list(dict.fromkeys(regions))
    if not regions:
        raise UsageError("'regions' must name at least one Region. Received: []")
    check_one_partition(regions, "regions")
    check_role_name(role_name, "role_name")
    if external_id is not None:
        check_external_id(external_id, "external_id")
    workers = check_workers(workers)
    check_expiry_days(expiry_days)
    moment = now or datetime.now(UTC)
    sts_region = next((region for region in regions if not opt_in(region)), regions[0])
    for position, account in enumerate(accounts):
        arn = role_arn(account, role_name, regions[0])
        try:
            assumed = assume_role(
                settings,
                arn,
                session_name=ROLE_SESSION_NAME,
                external_id=external_id,
                region=sts_region,
            )
        except RoleRefusedError as refused:
            yield AccountReport(account, arn, refused=str(refused))
            continue
        except CallerCredentialsFailedError as unusable:  # before any request: the end
            if not position:
                raise
            stopped = _run_stopped(unusable, account, position, len(accounts), 0)
            raise stopped from unusable.__cause__
        except KmskitError as error:
            # The caller's own credentials, which STS took for the accounts before: the end of
            # the run, told as at a renewal. At the first account they may never have worked.
            failed = caller_credentials_failed(arn, error.__cause__) if position else None
            if failed is None:
                if isinstance(error, CredentialsRefusedError):
                    error.regions = (sts_region,)  # refused there, whatever --region holds
                raise
            raise _run_stopped(failed, account, position, len(accounts), 0) from error.__cause__
        regions_refused: list[tuple[str, str]] = []
        reported: dict[str, int] = {}
        renewal_refused: str | None = None
        with assumed:  # its clients' connections are closed once its keys are read
            try:
                for report in inventory(
                    partial(inventory_kms_client, assumed, workers=workers),
                    regions,
                    include_aws_managed=include_aws_managed,
                    expiry_days=expiry_days,
                    workers=workers,
                    now=moment,
                    on_opt_in_refused=partial(_note_refused, regions_refused),
                ):
                    reported[report.region] = reported.get(report.region, 0) + 1
                    yield report
            except RoleRefusedError as refused:  # renewing the credentials, partway
                renewal_refused = str(refused)
            except RenewalCredentialsRefusedError as failed:  # the caller's own: the end
                stopped = _run_stopped(
                    failed, account, position, len(accounts), sum(reported.values())
                )
                raise stopped from failed.__cause__
        yield AccountReport(
            account,
            arn,
            refused=renewal_refused,
            regions_refused=tuple(regions_refused),
            keys_by_region=tuple(reported.items()),
        )


def _run_stopped(
    failed: CallerCredentialsFailedError, account: str, position: int, count: int, reported: int
) -> CallerCredentialsFailedError:
    """``failed`` (the caller's own credentials failed), of the same class, its message saying
    where a run over ``count`` accounts stopped: at ``account``, the one at ``position`` (from
    0), ``reported`` of its keys being in the report. The accounts before it are in the report
    (read, or ACCOUNT_UNREADABLE); those after it are not read. A part with no account is left
    out."""
    parts = [f"{failed}. The run stopped at account {account} ({position + 1} of {count}): "]
    if position:
        parts.append(f"the {position} account(s) before it are reported; ")
    parts.append(_account_left_out(reported, "the caller's credentials failed"))
    if count - position - 1:
        parts.append(f"; the {count - position - 1} account(s) after it are not read")
    return type(failed)("".join(parts))


def _note_refused(into: list[tuple[str, str]], region: str, error: Exception) -> None:
    into.append((region, str(error)))


CSV_FIELDS: tuple[str, ...] = (
    "account",
    "region",
    "keyId",
    "keyArn",
    "aliases",
    "keyState",
    "keySpec",
    "keyUsage",
    "origin",
    "keyManager",
    "multiRegion",
    "created",
    "description",
    "rotationEnabled",
    "rotationPeriodDays",
    "nextRotation",
    "onDemandRotationStarted",
    "deletionDate",
    "materialValidTo",
    "grantCount",
    "externalAccounts",
    "publicStatements",
    "unlimitedServiceStatements",
    "refused",
    "findings",
)
"""The columns of the CSV report: :meth:`KeyReport.as_dict`'s fields, ``rotation`` and
``policy`` spread over columns of their own."""


def csv_row(report: KeyReport | AccountReport) -> dict[str, str]:
    """One row of the CSV report (:data:`CSV_FIELDS`): a key's fields as its JSON has them, an
    empty cell for null, lists joined with ``;``, ``true``/``false``, and the findings as
    ``CODE: reason`` joined with ``; ``. An account with findings is a row of its own: its
    account and its ACCOUNT_UNREADABLE or REGION_UNREADABLE findings. A cell a spreadsheet
    would run as a formula gets a leading ``'`` (:func:`~kmskit.audit.inert_cell`)."""
    fields = report.as_dict()
    rotation = fields.pop("rotation", None) or {}
    policy = fields.pop("policy", None) or {}
    fields.update(
        rotationEnabled=rotation.get("enabled"),
        rotationPeriodDays=rotation.get("periodDays"),
        nextRotation=rotation.get("nextRotation"),
        onDemandRotationStarted=rotation.get("onDemandStarted"),
        externalAccounts=policy.get("externalAccounts"),
        publicStatements=policy.get("publicStatements"),
        unlimitedServiceStatements=policy.get("unlimitedServiceStatements"),
        findings="; ".join(f"{f['code']}: {f['reason']}" for f in fields["findings"]),
    )

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ";".join(str(item) for item in value)
        return str(value)

    return {name: inert_cell(cell(fields.get(name))) for name in CSV_FIELDS}


@dataclass
class InventorySummary:
    """Counts over the reports: keys, keys with findings, and findings per code: for a key's
    code the keys that have it, for ACCOUNT_UNREADABLE the accounts, for REGION_UNREADABLE the
    Regions of accounts (an account refused in two Regions counts 2)."""

    keys: int = 0
    keys_with_findings: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    accounts: int = 0
    """Accounts :func:`organization_inventory` tried (0: :func:`inventory`, its caller's)."""

    def add(self, report: KeyReport | AccountReport) -> None:
        # A key has each code once; an account one ACCOUNT_UNREADABLE at most and a
        # REGION_UNREADABLE per Region refused: each finding counts.
        codes = report.codes()
        if isinstance(report, AccountReport):
            self.accounts += 1
        else:
            self.keys += 1
            if codes:
                self.keys_with_findings += 1
        for code in codes:
            self.by_code[code] = self.by_code.get(code, 0) + 1

    def failing(self, fail_on: Iterable[str]) -> list[str]:
        """The codes of ``fail_on`` that some key (or account) has, in :data:`FINDINGS` order."""
        wanted = set(fail_on)
        return [code for code in FINDINGS if code in wanted and self.by_code.get(code)]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; ``accounts`` and ``accountsUnreadable`` only when accounts were read
        (:func:`organization_inventory`)."""
        counts: dict[str, Any] = {"keys": self.keys}
        if self.accounts:
            counts["accounts"] = self.accounts
            counts["accountsUnreadable"] = self.by_code.get("ACCOUNT_UNREADABLE", 0)
        return {
            **counts,
            "keysWithFindings": self.keys_with_findings,
            "findings": {code: self.by_code[code] for code in FINDINGS if code in self.by_code},
        }
