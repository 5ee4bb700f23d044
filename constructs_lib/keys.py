"""Customer managed KMS keys: symmetric, asymmetric, HMAC, multi-Region and imported material.

``CustomerManagedKey`` wraps ``aws_kms.Key`` so that ``.key`` works with every CDK construct, and
adds what the L2 leaves to the user: spec/usage/rotation checks, alias checks, the choice
between the AWS default policy and a policy of named roles, lock-out and wildcard checks on the
final policy, and one :meth:`grant` that every ``grant_*`` method goes through.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation

from constructs_lib import _kms_actions as actions
from constructs_lib._validation import check_account_id, check_range, require
from constructs_lib.key_policy import (
    ExternalAccount,
    KeyContext,
    KeyPolicy,
    KeyServicePrincipal,
    external_account_statements,
    policy_problems,
    user_actions,
)
from kmskit.pricing import KeyCost, key_monthly_cost

# Key spec -> usages KMS accepts for it (APIReference/API_CreateKey.html).
USAGES_BY_SPEC: dict[str, tuple[str, ...]] = {
    "SYMMETRIC_DEFAULT": ("ENCRYPT_DECRYPT",),
    "RSA_2048": ("ENCRYPT_DECRYPT", "SIGN_VERIFY"),
    "RSA_3072": ("ENCRYPT_DECRYPT", "SIGN_VERIFY"),
    "RSA_4096": ("ENCRYPT_DECRYPT", "SIGN_VERIFY"),
    "ECC_NIST_P256": ("SIGN_VERIFY", "KEY_AGREEMENT"),
    "ECC_NIST_P384": ("SIGN_VERIFY", "KEY_AGREEMENT"),
    "ECC_NIST_P521": ("SIGN_VERIFY", "KEY_AGREEMENT"),
    "ECC_SECG_P256K1": ("SIGN_VERIFY",),
    "ECC_NIST_EDWARDS25519": ("SIGN_VERIFY",),
    "HMAC_224": ("GENERATE_VERIFY_MAC",),
    "HMAC_256": ("GENERATE_VERIFY_MAC",),
    "HMAC_384": ("GENERATE_VERIFY_MAC",),
    "HMAC_512": ("GENERATE_VERIFY_MAC",),
    "SM2": ("ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"),
    "ML_DSA_44": ("SIGN_VERIFY",),
    "ML_DSA_65": ("SIGN_VERIFY",),
    "ML_DSA_87": ("SIGN_VERIFY",),
}
ORIGINS = ("AWS_KMS", "EXTERNAL")
ALIAS_PATTERN = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")
MAX_ALIAS_LENGTH = 256
ROTATION_DAYS = (90, 2560)
PENDING_WINDOW_DAYS = (7, 30)

# Aliases already used per stack, to refuse a repeat at construct time.
_aliases_by_stack: weakref.WeakKeyDictionary[Stack, set[str]] = weakref.WeakKeyDictionary()


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _check_alias(scope: Construct, alias: str) -> str:
    require(isinstance(alias, str), "alias", "must be a string", alias)
    require(alias.startswith("alias/"), "alias", "must start with 'alias/'", alias)
    require(
        not alias.startswith("alias/aws/"),
        "alias",
        "must not start with 'alias/aws/', which is reserved for AWS managed keys",
        alias,
    )
    require(
        len(alias) <= MAX_ALIAS_LENGTH,
        "alias",
        f"must be at most {MAX_ALIAS_LENGTH} characters",
        alias,
    )
    require(
        bool(ALIAS_PATTERN.match(alias)),
        "alias",
        "may only contain letters, digits, '/', '_' and '-' after 'alias/'",
        alias,
    )
    used = _aliases_by_stack.setdefault(Stack.of(scope), set())
    require(alias not in used, "alias", "must be unique within the stack", alias)
    used.add(alias)
    return alias


def resolve_spec_and_usage(key_spec: Any, key_usage: Any) -> tuple[str, str]:
    """Check a key spec/usage pair; default the usage where the spec allows only one."""
    spec = _enum_name(key_spec)
    require(spec in USAGES_BY_SPEC, "key_spec", "must be a KMS key spec", spec)
    allowed = USAGES_BY_SPEC[spec]
    if key_usage is None:
        require(
            len(allowed) == 1,
            "key_usage",
            f"must be given for key_spec {spec} (one of {', '.join(allowed)})",
            None,
        )
        return spec, allowed[0]
    usage = _enum_name(key_usage)
    require(
        usage in allowed,
        "key_usage",
        f"must be one of {', '.join(allowed)} for key_spec {spec}",
        usage,
    )
    return spec, usage


def _days(prop: str, value: Duration, bounds: tuple[int, int]) -> int:
    require(isinstance(value, Duration), prop, "must be a Duration", value)
    return check_range(prop, int(value.to_days()), bounds[0], bounds[1], "days")


@jsii.implements(IValidation)
class _KeyPolicyValidation:
    """At synth, once every grant has been added: lock-out, bare wildcards and size."""

    def __init__(self, owner: _KeyBase) -> None:
        self._owner = owner

    def validate(self) -> list[str]:
        resolved = Stack.of(self._owner).resolve(self._owner.policy_document)
        return policy_problems(resolved or {})


class _KeyBase(Construct):
    """What primary and replica keys share: the policy document and the grant methods."""

    key: kms.IKey
    key_usage: str
    key_spec: str
    policy: KeyPolicy
    policy_document: iam.PolicyDocument
    _context: KeyContext

    def _start_policy(self, policy: KeyPolicy | None, ctx: KeyContext) -> None:
        require(
            policy is None or isinstance(policy, KeyPolicy),
            "policy",
            "must be KeyPolicy.default() or KeyPolicy.custom(...)",
            policy,
        )
        self.policy = policy or KeyPolicy.default()
        self._context = ctx
        self.policy_document = iam.PolicyDocument(statements=self.policy.render(ctx))
        self.node.add_validation(_KeyPolicyValidation(self))

    @property
    def key_arn(self) -> str:
        """The key's ARN."""
        return self.key.key_arn

    @property
    def key_id(self) -> str:
        """The key's ID (``mrk-...`` for multi-Region keys)."""
        return self.key.key_id

    def add_service_principal(self, service: KeyServicePrincipal) -> None:
        """Let an AWS service use the key, with the conditions AWS documents for it."""
        for statement in service.render(self._context):
            self.policy_document.add_statements(statement)

    def add_to_key_policy(self, statement: iam.PolicyStatement) -> None:
        """Add a statement to the key policy (checked for wildcards and lock-out at synth)."""
        self.policy_document.add_statements(statement)

    def grant(
        self,
        grantee: iam.IGrantable,
        *key_actions: str,
        conditions: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> iam.Grant:
        """Give ``grantee`` the ``key_actions`` on this key. Every ``grant_*`` method ends here.

        With the default policy the account root delegates to IAM, so a principal of the same
        account only needs an identity policy. Otherwise (custom policy, or a principal of
        another account) the key policy names the principal; for a principal in the key's own
        environment the identity policy is added as well.
        """
        require(bool(key_actions), "key_actions", "must name at least one kms: action", key_actions)
        for action in key_actions:
            require(action.startswith("kms:"), "key_actions", "must be kms: actions", action)
        principal = grantee.grant_principal
        same_account = self._same_account(principal)
        if self.policy.delegates_to_iam and same_account:
            return iam.Grant.add_to_principal(
                grantee=grantee,
                actions=list(key_actions),
                resource_arns=[self.key_arn],
                conditions=conditions,
            )
        self.policy_document.add_statements(
            iam.PolicyStatement(
                principals=[principal],
                actions=list(key_actions),
                resources=["*"],
                conditions=dict(conditions) if conditions else None,
            )
        )
        if same_account:
            return iam.Grant.add_to_principal(
                grantee=grantee,
                actions=list(key_actions),
                resource_arns=[self.key_arn],
                conditions=conditions,
            )
        # The other account's own IAM policy must delegate too; that lives in its app.
        return iam.Grant.drop(grantee, f"use of {self.node.path} (key policy only)")

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Encrypt, decrypt, re-encrypt and (symmetric keys) generate data keys."""
        self._require_usage("grant_encrypt_decrypt", "ENCRYPT_DECRYPT")
        return self.grant(grantee, *user_actions(self.key_usage, self.key_spec))

    def grant_encrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Encrypt only (includes generating data keys and re-encrypting to this key)."""
        self._require_usage("grant_encrypt", "ENCRYPT_DECRYPT")
        return self.grant(grantee, *actions.ENCRYPT_ACTIONS)

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Decrypt only."""
        self._require_usage("grant_decrypt", "ENCRYPT_DECRYPT")
        return self.grant(grantee, *actions.DECRYPT_ACTIONS)

    def grant_sign_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        """Sign, verify and read the public key."""
        self._require_usage("grant_sign_verify", "SIGN_VERIFY")
        return self.grant(grantee, *actions.SIGN_VERIFY_ACTIONS)

    def grant_generate_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        """Generate and verify HMACs."""
        self._require_usage("grant_generate_mac", "GENERATE_VERIFY_MAC")
        return self.grant(grantee, *actions.GENERATE_VERIFY_MAC_ACTIONS)

    def grant_for_aws_resources(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create, list and revoke grants for AWS resources (EBS, RDS acting for ``grantee``)."""
        return self.grant(
            grantee, *actions.GRANT_ACTIONS, conditions=actions.GRANT_FOR_AWS_RESOURCE_CONDITION
        )

    def grant_to_account(
        self,
        account: ExternalAccount | str,
    ) -> None:
        """Let another account use the key: the user statement and the grant statement.

        ``account`` is an account ID, a principal ARN of that account, or an
        :class:`ExternalAccount` for ``kms:ViaService``/``kms:CallerAccount`` narrowing. That
        account's IAM policies must allow its principals as well (both sides are needed).
        """
        external = ExternalAccount.parse(account)
        for statement in external_account_statements(external, self._context):
            self.policy_document.add_statements(statement)

    def _require_usage(self, method: str, usage: str) -> None:
        require(
            self.key_usage == usage,
            method,
            f"needs a key with key_usage {usage}; {self.node.path} has key_usage {self.key_usage}",
            self.key_usage,
        )

    def _same_account(self, principal: iam.IPrincipal) -> bool:
        other = principal.principal_account
        mine = Stack.of(self).account
        if other is None or Token.is_unresolved(other) or Token.is_unresolved(mine):
            return True
        return bool(other == mine)


class CustomerManagedKey(_KeyBase):
    """A customer managed KMS key with validated props and a policy you can read.

    Args:
        alias: ``alias/...`` name. Default: no alias.
        description: Default: ``"<construct path> (<key_spec>, <key_usage>)"``.
        key_spec: Default: ``kms.KeySpec.SYMMETRIC_DEFAULT``.
        key_usage: Default: the only usage the spec allows; required for RSA, ECC NIST and SM2.
        enable_key_rotation: Default: True for symmetric encryption keys with AWS_KMS origin,
            False otherwise (KMS cannot rotate asymmetric, HMAC or imported keys: asking for it
            is an error).
        rotation_period: 90-2560 days. Default: 365 days (the KMS default) when rotation is on.
        pending_window: 7-30 days between ScheduleKeyDeletion and deletion. Default: 30 days.
        multi_region: make a multi-Region primary key (see :class:`ReplicaKey`). Default: False.
        removal_policy: Default: ``RemovalPolicy.RETAIN`` (a deleted key destroys all data
            encrypted under it).
        policy: Default: ``KeyPolicy.default()`` (the AWS default policy).
        origin: ``"AWS_KMS"`` or ``"EXTERNAL"`` (material imported later with
            ``kmskit key import-material``). Default: ``"AWS_KMS"``.

    Attributes:
        key: the ``aws_kms.Key`` (an ``IKey`` every CDK construct accepts).
        alias: the ``aws_kms.Alias``, or None.
        policy_document: the key policy; grants add to it.
        monthly_cost: what the key costs per month in the KMS price list.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alias: str | None = None,
        description: str | None = None,
        key_spec: kms.KeySpec | str = kms.KeySpec.SYMMETRIC_DEFAULT,
        key_usage: kms.KeyUsage | str | None = None,
        enable_key_rotation: bool | None = None,
        rotation_period: Duration | None = None,
        pending_window: Duration | None = None,
        multi_region: bool = False,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        policy: KeyPolicy | None = None,
        origin: str = "AWS_KMS",
    ) -> None:
        super().__init__(scope, id)
        spec, usage = resolve_spec_and_usage(key_spec, key_usage)
        require(origin in ORIGINS, "origin", f"must be one of {', '.join(ORIGINS)}", origin)
        rotatable = spec == "SYMMETRIC_DEFAULT" and origin == "AWS_KMS"
        if enable_key_rotation is None:
            enable_key_rotation = rotatable
        require(
            not enable_key_rotation or rotatable,
            "enable_key_rotation",
            "can only be True for SYMMETRIC_DEFAULT keys with AWS_KMS origin "
            f"(this key: key_spec {spec}, origin {origin})",
            enable_key_rotation,
        )
        rotation_days = None
        if rotation_period is not None:
            require(
                bool(enable_key_rotation),
                "rotation_period",
                "needs enable_key_rotation=True",
                rotation_period.to_human_string(),
            )
            rotation_days = _days("rotation_period", rotation_period, ROTATION_DAYS)
        pending_days = (
            _days("pending_window", pending_window, PENDING_WINDOW_DAYS)
            if pending_window is not None
            else PENDING_WINDOW_DAYS[1]
        )
        if alias is not None:
            _check_alias(self, alias)
        require(
            isinstance(multi_region, bool), "multi_region", "must be True or False", multi_region
        )

        self.key_spec = spec
        self.key_usage = usage
        self.origin = origin
        self.multi_region = multi_region
        self.rotation_enabled = bool(enable_key_rotation)
        self._start_policy(
            policy, KeyContext.of(Stack.of(self), key_usage=usage, key_spec=spec, origin=origin)
        )

        self.key = kms.Key(
            self,
            "Key",
            description=description or f"{self.node.path} ({spec}, {usage})",
            key_spec=kms.KeySpec(spec),
            key_usage=kms.KeyUsage(usage),
            enable_key_rotation=self.rotation_enabled,
            rotation_period=Duration.days(rotation_days) if rotation_days else None,
            pending_window=Duration.days(pending_days),
            multi_region=multi_region or None,
            removal_policy=removal_policy,
            policy=self.policy_document,
        )
        cfn_key = self.key.node.default_child
        assert isinstance(cfn_key, kms.CfnKey)
        if origin == "EXTERNAL":
            cfn_key.origin = "EXTERNAL"
        self.monthly_cost: KeyCost = key_monthly_cost(rotation_enabled=self.rotation_enabled)
        cfn_key.add_metadata("kmskit:cost", self.monthly_cost.as_metadata())

        self.alias: kms.Alias | None = (
            kms.Alias(self, "Alias", alias_name=alias, target_key=self.key) if alias else None
        )


class ReplicaKey(_KeyBase):
    """A replica of a multi-Region primary key, in another Region of the same account.

    The replica shares the primary's key material, spec, usage and rotation; its policy, alias
    and tags are its own.

    Args:
        primary_key_arn: ARN of the multi-Region primary (``.../key/mrk-...``). A literal ARN is
            checked to be a multi-Region key of this account in another Region.
        alias: Default: no alias.
        policy: Default: ``KeyPolicy.default()``.
        description: Default: ``"<construct path> (replica of <primary>)"``.
        key_spec / key_usage: must match the primary (used to choose user actions).
            Default: ``SYMMETRIC_DEFAULT`` / its only usage.
        pending_window: 7-30 days. Default: 30 days.
        removal_policy: Default: ``RemovalPolicy.RETAIN``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        primary_key_arn: str,
        alias: str | None = None,
        policy: KeyPolicy | None = None,
        description: str | None = None,
        key_spec: kms.KeySpec | str = kms.KeySpec.SYMMETRIC_DEFAULT,
        key_usage: kms.KeyUsage | str | None = None,
        pending_window: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        _check_primary_arn(primary_key_arn, stack)
        spec, usage = resolve_spec_and_usage(key_spec, key_usage)
        pending_days = (
            _days("pending_window", pending_window, PENDING_WINDOW_DAYS)
            if pending_window is not None
            else PENDING_WINDOW_DAYS[1]
        )
        if alias is not None:
            _check_alias(self, alias)
        self.key_spec = spec
        self.key_usage = usage
        self.primary_key_arn = primary_key_arn
        self._start_policy(
            policy, KeyContext.of(stack, key_usage=usage, key_spec=spec, origin="AWS_KMS")
        )

        self.resource = kms.CfnReplicaKey(
            self,
            "Resource",
            primary_key_arn=primary_key_arn,
            key_policy=self.policy_document,
            description=description or f"{self.node.path} (replica of a multi-Region key)",
            pending_window_in_days=pending_days,
        )
        self.resource.apply_removal_policy(removal_policy)
        self.monthly_cost = key_monthly_cost(rotation_enabled=False, replica=True)
        self.resource.add_metadata("kmskit:cost", self.monthly_cost.as_metadata())
        self.key = kms.Key.from_key_arn(self, "Imported", self.resource.attr_arn)
        self.alias = (
            kms.CfnAlias(self, "Alias", alias_name=alias, target_key_id=self.resource.attr_key_id)
            if alias
            else None
        )


def _check_primary_arn(arn: str, stack: Stack) -> None:
    require(isinstance(arn, str), "primary_key_arn", "must be a key ARN", arn)
    if Token.is_unresolved(arn):
        return
    parts = arn.split(":")
    require(
        len(parts) == 6 and parts[2] == "kms" and parts[5].startswith("key/mrk-"),
        "primary_key_arn",
        "must be the ARN of a multi-Region key (arn:aws:kms:<region>:<account>:key/mrk-...)",
        arn,
    )
    region, account = parts[3], parts[4]
    check_account_id("primary_key_arn", account)
    if not Token.is_unresolved(stack.region):
        require(
            region != stack.region,
            "primary_key_arn",
            f"must be in another Region than the replica ({stack.region})",
            arn,
        )
    if not Token.is_unresolved(stack.account):
        require(
            account == stack.account,
            "primary_key_arn",
            f"must be in the replica's account ({stack.account})",
            arn,
        )
