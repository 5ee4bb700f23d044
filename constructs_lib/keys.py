"""Customer managed KMS keys: symmetric, asymmetric, HMAC, multi-Region and imported material.

``CustomerManagedKey`` wraps ``aws_kms.Key`` so that ``.key`` works with every CDK construct, and
adds what the L2 leaves to the user: spec/usage/rotation checks, alias checks, the choice
between the AWS default policy and a policy of named roles, lock-out and wildcard checks on the
final policy, and one :meth:`grant` that every ``grant_*`` method goes through (including the
``grant*`` methods of ``.key`` that other CDK constructs call).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any, cast

import jsii
from aws_cdk import Annotations, Duration, RemovalPolicy, Resource, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.interfaces.aws_kms import KeyReference
from constructs import Construct, IValidation

from constructs_lib import _durations as durations
from constructs_lib import _kms_actions as actions
from constructs_lib import _names as names
from constructs_lib._validation import (
    ConstructPropError,
    check_account_id,
    is_token,
    require,
    require_one_of,
    shown,
    stack_label,
)
from constructs_lib.compliance import acknowledge
from constructs_lib.key_policy import (
    ARN_ACCOUNT,
    GROUP_PRINCIPAL,
    ExternalAccount,
    KeyContext,
    KeyPolicy,
    KeyServicePrincipal,
    ServiceStatements,
    StackFacts,
    admin_actions,
    cdk_grant_remedies,
    check_service_source,
    check_statement_sources,
    group_named_by,
    policy_problems,
    shown_principal,
    stack_facts,
    stack_of,
    user_actions,
)
from kmskit.policy_conditions import limits_source, services_named
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
# \Z, not $ ("$" also matches before a final newline, which is no alias character).
ALIAS_PATTERN = re.compile(r"^alias/[a-zA-Z0-9/_-]+\Z")
KMS_ACTION = re.compile(r"^kms:[A-Za-z*?]+\Z")
PRIMARY_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z]{2,}(?:-[a-z]+)+-[0-9]+:[0-9]+:key/mrk-[0-9a-f]{32}\Z"
)
MAX_ALIAS_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 8192
ROTATION_DAYS = (90, 2560)
PENDING_WINDOW_DAYS = (7, 30)

# cdk-nag rules that want automatic rotation, which KMS does not offer for imported material.
EXTERNAL_ROTATION_RULES = (
    "AwsSolutions-KMS5",
    "NIST.800.53.R5-KMSBackingKeyRotationEnabled",
    "PCI.DSS.321-KMSBackingKeyRotationEnabled",
)
EXTERNAL_ROTATION_REASON = (
    "KMS offers no automatic rotation for keys with imported (EXTERNAL) key material; the key "
    "owner rotates by importing new material and calling RotateKeyOnDemand, or by moving the "
    "data to a new key (docs/keys.md, Imported key material)"
)


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def check_alias(alias: Any, prop: str = "alias") -> str:
    """The alias's form. A token alias (``f"alias/{Aws.STACK_NAME}-data"``) is checked only as
    far as its literal start shows; its characters and length are known at deploy time.
    ``prop``: the name errors give it (``key_alias`` of a construct that makes the key)."""
    require(isinstance(alias, str), prop, "must be a string", alias)
    token = is_token(alias)
    # The literal text before the first token (the whole alias when there is none).
    shown = alias.split("${Token[", 1)[0] if token else alias
    require(
        shown.startswith("alias/") or (token and "alias/".startswith(shown)),
        prop,
        "must start with 'alias/'",
        alias,
    )
    require(
        not shown.lower().startswith("alias/aws/"),  # KMS and CDK refuse it in any case
        prop,
        "must not start with 'alias/aws/', which is reserved for AWS managed keys",
        alias,
    )
    if token:
        require(
            len(shown) < len("alias/")
            or bool(ALIAS_PATTERN.match(shown + "x")),  # the literal text
            prop,
            "may only contain letters, digits, '/', '_' and '-' after 'alias/'",
            alias,
        )
        return str(alias)
    require(
        len(alias) <= MAX_ALIAS_LENGTH,
        prop,
        f"must be at most {MAX_ALIAS_LENGTH} characters",
        alias,
    )
    require(
        bool(ALIAS_PATTERN.match(alias)),
        prop,
        "may only contain letters, digits, '/', '_' and '-' after 'alias/'",
        alias,
    )
    return str(alias)


def _reserve_alias(
    stack: Stack, facts: StackFacts, alias: str, holder: Construct, prop: str = "alias"
) -> None:
    """Take ``alias`` in its account and Region (see :mod:`constructs_lib._names`).

    Called once every other check of the key has passed, so a refused key reserves nothing.
    """
    other, where = names.reserve(stack, facts, "alias", alias, holder)
    require(other is None, prop, f"must be unique within {where}", alias)


def _added_alias_id(alias_name: str, made: int) -> str:
    """The construct ID of an alias added with ``add_alias`` (the ``alias`` prop's is "Alias").

    From the name, so that adding or removing another alias replaces nothing: alias names
    cannot contain ':', so two names never share an ID. A token name is numbered instead.
    """
    if is_token(alias_name):
        return f"Alias{made + 1}"
    return "Alias:" + alias_name.removeprefix("alias/").replace("/", ":")


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


def _check_spec_region(spec: str, stack: Stack) -> None:
    """KMS offers SM2 keys in the China Regions only (API reference: "The SM2 key spec is only
    available in China Regions"); elsewhere CreateKey fails at deploy time."""
    region = stack_facts(stack).region
    if spec == "SM2" and not is_token(region):
        require(
            region.startswith("cn-"),
            "key_spec",
            f"must not be SM2 outside the China Regions (cn-*): this stack is in {region}",
            spec,
        )


def _pending_days(pending_window: Any) -> int:
    if pending_window is None:
        return PENDING_WINDOW_DAYS[1]
    return durations.check_days("pending_window", pending_window, *PENDING_WINDOW_DAYS)


def _check_common(description: Any, removal_policy: Any) -> None:
    require(
        description is None
        or (isinstance(description, str) and len(description) <= MAX_DESCRIPTION_LENGTH),
        "description",
        f"must be a string of at most {MAX_DESCRIPTION_LENGTH} characters",
        description,
    )
    require(
        isinstance(removal_policy, RemovalPolicy),
        "removal_policy",
        "must be an aws_cdk.RemovalPolicy",
        removal_policy,
    )
    require(
        removal_policy != RemovalPolicy.SNAPSHOT,
        "removal_policy",
        "must not be RemovalPolicy.SNAPSHOT: CloudFormation cannot snapshot a KMS key",
        removal_policy,
    )


def _grantee_identity(grantee: iam.IGrantable) -> object:
    """What makes two grantees the same for the grant memo: the jsii kernel's reference to the
    object.

    An object made in Node (CDK Pipelines' imported deployment roles) reaches Python as a new
    proxy object at every call, each holding the same reference (``aws-cdk-lib.Resource@10002``;
    the kernel never reuses one), which Python reads without a round trip. An object the kernel
    has no reference for yet (a Python object never passed to Node) is known by itself.
    """
    reference = getattr(grantee, "__jsii_ref__", None)
    return ("ref", reference.ref) if reference is not None else grantee


def _grants_for_aws_resources_only(
    conditions: dict[str, dict[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """``conditions`` plus ``kms:GrantIsForAWSResource``: a key-policy statement that lets a
    principal call ``kms:CreateGrant`` unconditionally lets it grant itself any use of the key.
    aws-cdk-lib's L2s (``ec2.Volume.grant_attach_volume``) ask for a bare ``kms:CreateGrant`` and
    add their conditions afterwards, to the identity statement only."""
    merged = {operator: dict(body) for operator, body in (conditions or {}).items()}
    for operator, body in actions.GRANT_FOR_AWS_RESOURCE_CONDITION.items():
        merged.setdefault(operator, {}).update(body)
    return merged


@jsii.implements(IValidation)
class _KeyPolicyValidation:
    """At synth, once every grant has been added: lock-out, bare wildcards, root, size."""

    def __init__(self, owner: _KeyBase) -> None:
        self._owner = owner

    def validate(self) -> list[str]:
        stack = self._owner._stack
        resolved = stack.resolve(self._owner.policy_document)
        return policy_problems(
            resolved or {},
            custom=not self._owner.policy.delegates_to_iam,
            account_roots=stack_facts(stack).account_roots,
        )


@jsii.implements(iam.IResourceWithPolicy)
class _KeyBase(Resource):
    """What primary and replica keys share: the policy document and the grant methods.

    The construct is itself the resource with a policy that :class:`aws_iam.Grant` writes to:
    its key policy.
    """

    key: kms.IKey
    key_usage: str
    key_spec: str
    origin: str
    policy: KeyPolicy
    policy_document: iam.PolicyDocument
    _context: KeyContext
    _grants: dict[tuple[object, tuple[str, ...], str, bool], iam.Grant]
    _policy_owner: kms.CfnKey | kms.CfnReplicaKey

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        # Read once: every jsii property read is a round-trip.
        self._stack = stack_of(scope)
        self._node = self.node
        # True while aws-cdk-lib's constructs grant through .key (see _granting_for_aws_cdk_lib).
        self._by_aws_cdk_lib = False

    @contextlib.contextmanager
    def _granting_for_aws_cdk_lib(self) -> Iterator[None]:
        """While aws-cdk-lib's own code grants through ``.key`` (:class:`_RoutedKey`): a grant to
        an AWS service without a source condition, which the user cannot add to CDK's call, is
        not refused (see :meth:`_unlimited_services`)."""
        before, self._by_aws_cdk_lib = self._by_aws_cdk_lib, True
        try:
            yield
        finally:
            self._by_aws_cdk_lib = before

    def _start_policy(self, policy: Any, ctx: KeyContext) -> None:
        require(
            policy is None or isinstance(policy, KeyPolicy),
            "policy",
            "must be KeyPolicy.default() or KeyPolicy.custom(...)",
            policy,
        )
        self.policy = policy or KeyPolicy.default()
        self._context = ctx
        self._grants = {}
        for account in self.policy.external_accounts:
            self._require_other_account("external_accounts", account)
        self._service_statements = ServiceStatements()
        self.policy_document = iam.PolicyDocument(
            statements=self.policy.render(ctx, self._service_statements)
        )
        self._node.add_validation(_KeyPolicyValidation(self))

    @property
    def region(self) -> str:
        """The Region of the key's stack (a token in an environment-agnostic stack)."""
        return stack_facts(self._stack).region

    @functools.cached_property
    def key_arn(self) -> str:
        """The key's ARN (read once: each read of ``key.key_arn`` is a jsii round-trip)."""
        return self.key.key_arn

    @property
    def key_id(self) -> str:
        """The key's ID (``mrk-...`` for multi-Region keys)."""
        return self.key.key_id

    def add_to_resource_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToResourcePolicyResult:
        """Add a statement to the key policy (``aws_iam.IResourceWithPolicy``)."""
        self.policy_document.add_statements(statement)
        return iam.AddToResourcePolicyResult(
            statement_added=True, policy_dependable=self._policy_owner
        )

    def add_to_key_policy(self, statement: iam.PolicyStatement) -> None:
        """Add a statement to the key policy (checked for wildcards and lock-out at synth; an
        Allow for an AWS service without a condition that limits its source is refused now, as
        in ``KeyPolicy.custom(statements=[...])``)."""
        check_statement_sources("statement", statement)
        self.add_to_resource_policy(statement)

    def _take_added_alias(self, alias_name: str, made: int) -> str:
        """Check and reserve an alias of ``add_alias`` (``made`` aliases before it); its
        construct ID."""
        check_alias(alias_name, "alias_name")
        _reserve_alias(self._stack, stack_facts(self._stack), alias_name, self, "alias_name")
        return _added_alias_id(alias_name, made)

    def add_service_principal(self, service: KeyServicePrincipal) -> None:
        """Let an AWS service use the key, with the conditions AWS documents for it.

        The same service principal twice adds nothing; a second one of its kind (a second
        trail) adds its statements with numbered Sids."""
        require(
            isinstance(service, KeyServicePrincipal),
            "service",
            "must be a KeyServicePrincipal (such as KeyServicePrincipal.cloudwatch_logs())",
            service,
        )
        statements = self._service_statements.render(service, self._context)
        if statements:
            self.policy_document.add_statements(*statements)

    def grant(
        self,
        grantee: iam.IGrantable,
        *key_actions: str,
        conditions: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> iam.Grant:
        """Give ``grantee`` the ``key_actions`` on this key. Every ``grant_*`` method ends here.

        An AWS service principal (which the key policy names) is refused unless the statement's
        ``conditions``, or the principal's own (``ServicePrincipal(...).with_conditions(...)``),
        limit its source (:func:`~constructs_lib.key_policy.check_service_source`).

        * Default policy, principal of this account: an identity policy is enough (the key
          policy delegates to IAM).
        * Custom policy: the key policy names the principal, and a principal of this account
          also gets the identity policy.
        * Principal of another account, or one that cannot hold an identity policy (an AWS
          service): the key policy names it. The other account's IAM policy must allow the
          use too; that lives in that account.
        * Grantee made in another stack, named in the key policy: never the bare root of its
          account (see ``_other_stack_principal``; with a custom policy, a role known only at
          deploy time is refused).
        """
        # jsii interfaces are not runtime-checkable, and reading grant_principal is a round
        # trip: refuse what is plain data.
        require(
            grantee is not None and not isinstance(grantee, str | bytes | int | float | Mapping),
            "grantee",
            "must be an IGrantable (a role, a user, a function...)",
            grantee,
        )
        return self._checked_grant("grant", grantee, key_actions, conditions)

    def _checked_grant(
        self,
        method: str,
        grantee: iam.IGrantable,
        key_actions: tuple[str, ...],
        conditions: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> iam.Grant:
        """:meth:`grant`, whose errors about a service grantee name ``method``."""
        require(bool(key_actions), "key_actions", "must name at least one kms: action", key_actions)
        for action in key_actions:
            require(
                isinstance(action, str) and bool(KMS_ACTION.match(action)),
                "key_actions",
                "must be kms: actions (such as 'kms:Decrypt' or 'kms:GenerateDataKey*')",
                action,
            )
        misspelled = actions.unknown(key_actions)
        if misspelled:  # IAM would take it, and it would allow nothing
            meant = actions.closest(misspelled[0])
            raise ConstructPropError(
                "key_actions",
                "must name KMS actions"
                + (f" (did you mean '{meant}'?)" if meant else " (see the KMS API reference)"),
                misspelled[0],
            )
        require(
            conditions is None
            or (
                isinstance(conditions, Mapping)
                and all(isinstance(body, Mapping) for body in conditions.values())
            ),
            "conditions",
            "must map condition operators to {key: value} mappings, such as "
            "{'Bool': {'aws:SecureTransport': 'true'}}",
            conditions,
        )
        condition_dict = {op: dict(body) for op, body in conditions.items()} if conditions else None
        key_actions = tuple(actions.explicit(key_actions))
        refused = actions.unusable(key_actions, self.key_usage, self.key_spec)
        if refused:  # the message reads the construct path, a round trip
            raise ConstructPropError(
                "key_actions",
                f"must be usable on {self._node.path} (key_spec {self.key_spec}, key_usage "
                f"{self.key_usage}): KMS refuses {', '.join(refused)} on it",
                list(key_actions),
            )
        # CDK constructs grant the same thing again and again (CDK Pipelines: the pipeline role,
        # once per action); the policies would be the same, so the first Grant is returned.
        try:
            memo = (
                _grantee_identity(grantee),
                key_actions,
                json.dumps(condition_dict, sort_keys=True),
                self._by_aws_cdk_lib,  # a direct grant of the same is still refused
            )
        except TypeError:  # a condition value that is not plain data (a token object)
            return self._grant(method, grantee, key_actions, condition_dict)
        previous = self._grants.get(memo)
        if previous is None:
            previous = self._grants[memo] = self._grant(
                method, grantee, key_actions, condition_dict
            )
        return previous

    def _grant(
        self,
        method: str,
        grantee: iam.IGrantable,
        key_actions: tuple[str, ...],
        condition_dict: dict[str, dict[str, Any]] | None,
    ) -> iam.Grant:
        principal = grantee.grant_principal
        self._refuse_group(principal)
        services = self._unlimited_services(method, principal, condition_dict)
        if services:
            # Kept as CDK writes it: a KeyServicePrincipal statement of the key cannot stand in
            # for it (it may be limited to another topic, queue or source than CDK's grant is
            # for, or carry keys the service's requests do not), and refusing it would leave the
            # CDK construct unusable with the key.
            self._warn_unlimited_services(services, key_actions)
        named: iam.IPrincipal | None = None
        statement_conditions = condition_dict
        if not self.policy.delegates_to_iam:
            # Before the identity policy, so that a refused grantee is left unchanged.
            named, statement_conditions = self._other_stack_principal(
                grantee, principal, condition_dict, custom=True
            )
        identity: iam.Grant | None = None
        if self._same_account(principal):
            identity = iam.Grant.add_to_principal(
                grantee=grantee,
                actions=list(key_actions),
                resource_arns=[self.key_arn],
                conditions=condition_dict,
            )
            if identity.success and self.policy.delegates_to_iam:
                return identity
        if named is None:
            named, statement_conditions = self._other_stack_principal(
                grantee, principal, condition_dict, custom=False
            )
        if condition_dict is None and "kms:CreateGrant" in key_actions:
            statement_conditions = _grants_for_aws_resources_only(statement_conditions)
        statement = iam.PolicyStatement(
            principals=[named],
            actions=list(key_actions),
            resources=["*"],
            conditions=statement_conditions,
        )
        in_key_policy = iam.Grant.add_statement_to_resource_policy(
            grantee=grantee,
            actions=list(key_actions),
            resource_arns=[self.key_arn],
            resource=self,
            statement=statement,
        )
        if identity is not None and identity.success:
            return identity.combine(in_key_policy)
        return in_key_policy

    def _grant_for_usage(
        self, method: str, usage: str, grantee: iam.IGrantable, key_actions: tuple[str, ...]
    ) -> iam.Grant:
        """``grant(grantee, *key_actions)`` for a ``grant_*`` method that needs ``usage``."""
        self._require_usage(method, usage)
        return self._checked_grant(method, grantee, key_actions)

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Encrypt, decrypt, re-encrypt and (symmetric keys) generate data keys; also
        ``kms:DescribeKey``, and (RSA keys) ``kms:GetPublicKey``: the key policy's user actions."""
        return self._grant_for_usage(
            "grant_encrypt_decrypt",
            "ENCRYPT_DECRYPT",
            grantee,
            user_actions(self.key_usage, self.key_spec),
        )

    def grant_encrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Encrypt and re-encrypt; symmetric keys also generate data keys, RSA keys (which
        cannot) give ``kms:GetPublicKey`` instead, to encrypt outside AWS."""
        symmetric = self.key_spec == "SYMMETRIC_DEFAULT"
        return self._grant_for_usage(
            "grant_encrypt",
            "ENCRYPT_DECRYPT",
            grantee,
            actions.ENCRYPT_ACTIONS if symmetric else actions.ASYMMETRIC_ENCRYPT_ACTIONS,
        )

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        """Decrypt only."""
        return self._grant_for_usage(
            "grant_decrypt", "ENCRYPT_DECRYPT", grantee, actions.DECRYPT_ACTIONS
        )

    def grant_sign_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        """Sign, verify, read the public key and describe the key."""
        return self._grant_for_usage(
            "grant_sign_verify", "SIGN_VERIFY", grantee, actions.SIGN_VERIFY_ACTIONS
        )

    def grant_sign(self, grantee: iam.IGrantable) -> iam.Grant:
        """Sign only (``kms:Sign``, as aws-cdk-lib's ``grant_sign``)."""
        return self._grant_for_usage("grant_sign", "SIGN_VERIFY", grantee, actions.SIGN_ACTIONS)

    def grant_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        """Verify only (``kms:Verify``, as aws-cdk-lib's ``grant_verify``)."""
        return self._grant_for_usage("grant_verify", "SIGN_VERIFY", grantee, actions.VERIFY_ACTIONS)

    def grant_generate_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        """Generate and verify HMACs (``.key.grant_generate_mac``, which aws-cdk-lib's
        constructs call, generates only)."""
        return self._grant_for_usage(
            "grant_generate_mac",
            "GENERATE_VERIFY_MAC",
            grantee,
            actions.GENERATE_VERIFY_MAC_ACTIONS,
        )

    def grant_verify_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        """Verify HMACs only (``kms:VerifyMac``, as aws-cdk-lib's ``grant_verify_mac``)."""
        return self._grant_for_usage(
            "grant_verify_mac", "GENERATE_VERIFY_MAC", grantee, actions.VERIFY_MAC_ACTIONS
        )

    def grant_key_agreement(self, grantee: iam.IGrantable) -> iam.Grant:
        """Derive shared secrets (ECDH) and read the public key."""
        return self._grant_for_usage(
            "grant_key_agreement", "KEY_AGREEMENT", grantee, actions.KEY_AGREEMENT_ACTIONS
        )

    def grant_admin(self, grantee: iam.IGrantable) -> iam.Grant:
        """What the key policy's ``admins`` get: the management actions (import actions too
        for an ``EXTERNAL`` key), no use actions; ``kms:PutKeyPolicy`` among them, with which
        an administrator can still give themselves use (docs/keys.md)."""
        return self._checked_grant("grant_admin", grantee, admin_actions(self.origin))

    def grant_for_aws_resources(self, grantee: iam.IGrantable) -> iam.Grant:
        """Create, list and revoke grants for AWS resources (EBS, RDS acting for ``grantee``)."""
        return self._checked_grant(
            "grant_for_aws_resources",
            grantee,
            actions.GRANT_ACTIONS,
            conditions=actions.GRANT_FOR_AWS_RESOURCE_CONDITION,
        )

    def grant_to_account(self, account: ExternalAccount | iam.AccountPrincipal | str) -> iam.Grant:
        """Let another account use the key: the user statement and the grant statement.

        ``account`` is an account ID, a principal ARN of that account, or an
        :class:`ExternalAccount` for ``kms:ViaService``/``kms:CallerAccount`` narrowing. That
        account's IAM policies must allow its principals as well (both sides are needed).
        """
        external = ExternalAccount.parse(account, prop="account")
        self._require_other_account("account", external)
        grants = [
            self.grant(principal, *permission.actions, conditions=permission.conditions)
            for permission in external.permissions(self._context)
            for principal in external.principals()
        ]
        return functools.reduce(lambda a, b: a.combine(b), grants)

    def _unlimited_services(
        self,
        method: str,
        principal: iam.IPrincipal,
        conditions: dict[str, dict[str, Any]] | None,
    ) -> list[str]:
        """An AWS service principal (named in the key policy, as it cannot hold an identity
        policy) whose statement would not limit its source: refused, naming ``method``'s
        grantee; but when aws-cdk-lib grants through ``.key`` (:meth:`_granting_for_aws_cdk_lib`:
        the user cannot add a condition to its call), the services it names, for
        :meth:`_grant` to keep it with a warning. ``[]`` for a
        statement that limits its source. A role or user (the usual grantee, never a service)
        is not read, which would be a round trip per grant."""
        if isinstance(principal, iam.Role | iam.User | iam.ArnPrincipal):
            return []
        fragment = principal.policy_fragment
        merged = {op: dict(body) for op, body in (conditions or {}).items()}
        for op, body in (fragment.conditions or {}).items():
            merged.setdefault(op, {}).update(body)
        if not self._by_aws_cdk_lib:
            check_service_source(f"{method}(grantee)", [principal], fragment.principal_json, merged)
            return []
        if limits_source(merged):
            return []
        return [str(s) for s in services_named(self._stack.resolve(fragment.principal_json))]

    def _warn_unlimited_services(self, services: list[str], key_actions: tuple[str, ...]) -> None:
        """A synth-time warning for a grant aws-cdk-lib made through ``.key`` to ``services``
        without a source condition, kept as CDK wrote it (refusing it would leave the CDK
        construct unusable with the key), with the remedies."""
        Annotations.of(self).add_warning_v2(
            "kmskit:serviceWithoutSource",
            f"aws-cdk-lib granted {', '.join(services)} {', '.join(key_actions)} on "
            f"{self._node.path} through .key with no condition that limits the source: the key "
            "policy allows the service to use the key for any customer who points it at a "
            "resource encrypted under it (the confused deputy). " + cdk_grant_remedies(services),
        )

    def _refuse_group(self, principal: iam.IPrincipal) -> None:
        """An IAM group the key policy would have to name (KMS refuses the policy at deploy
        time). A group construct of the key's account under the default policy only gets an
        identity policy, which works."""
        group = group_named_by(principal)
        if group is not None:
            require(
                hasattr(principal, "group_arn")
                and self.policy.delegates_to_iam
                and self._same_account(principal),
                "grantee",
                GROUP_PRINCIPAL,
                group,
            )

    def _require_usage(self, method: str, usage: str) -> None:
        require(
            self.key_usage == usage,
            method,
            f"needs a key with key_usage {usage}; {self.node.path} has key_usage {self.key_usage}",
            self.key_usage,
        )

    def _require_other_account(self, prop: str, account: ExternalAccount) -> None:
        mine = self._context.account
        require(
            is_token(mine) or account.account_id != mine,
            prop,
            f"must name another account than the key's own ({mine}); use users=[...] or "
            "grant_* for principals of this account",
            account.account_id,
        )

    def _same_account(self, principal: iam.IPrincipal) -> bool:
        other = principal.principal_account
        if other is None and isinstance(principal, iam.ArnPrincipal):
            match = ARN_ACCOUNT.match(principal.arn) if not is_token(principal.arn) else None
            other = match.group(2) if match else None
        mine = self._context.account
        if other is None or is_token(other) or is_token(mine):
            return True
        return bool(other == mine)

    def _key_policy_principal(
        self, grantee: iam.IGrantable, principal: iam.IPrincipal
    ) -> iam.IPrincipal:
        """Default policy, grantee's ARN known only at deploy time: as aws_kms.Key does, a
        grantee in a stack that already depends on the key's stack is named by its account, or
        the key policy would point back at it (a dependency cycle). Such a grantee is of the
        key's account (a role of another account needs a physical name), whose root already
        has kms:* here, so nothing widens."""
        if isinstance(grantee, Construct):
            grantee_stack = stack_of(grantee)
            key_stack = self._stack
            if grantee_stack is not key_stack and key_stack in grantee_stack.dependencies:
                return iam.AccountPrincipal(grantee_stack.account)
        return principal

    def _other_stack_principal(
        self,
        grantee: iam.IGrantable,
        principal: iam.IPrincipal,
        conditions: dict[str, dict[str, Any]] | None,
        *,
        custom: bool,
    ) -> tuple[iam.IPrincipal, dict[str, dict[str, Any]] | None]:
        """Who the key policy names for a grantee, never a bare account root of another account.

        A grantee made in another stack of this App (a construct of Python) is checked:

        * its ARN is a reference to that stack (a role made there, same environment): naming
          it would make the key's stack depend on the grantee's, which already depends on the
          key's (its identity policy names the key). A custom policy refuses this with what to
          do, unless the key's stack is nested in the grantee's (the ARN is then a parameter of
          the nested stack: no cycle); the default policy names it as
          ``_key_policy_principal`` says;
        * its ARN is known at synth (a role with a physical name): the key policy names the
          principal's account root limited by ``ArnEquals aws:PrincipalArn`` to that ARN (as the
          deployer statement does). KMS refuses a principal that does not exist yet, and
          whether the grantee's stack deploys first is not known when the grant is made
          (dependencies from references appear only at synth); this form is right either way.

        Principals that are not constructs of Python (ARNs, accounts, services, the imported
        roles of CDK Pipelines) are named as they are.
        """
        # The principal when it is a construct (a role), else the grantee (a construct whose
        # principal is, e.g., a role imported in Node).
        owner = principal if isinstance(principal, Construct) else grantee
        if not isinstance(owner, Construct):
            return principal, conditions
        grantee_stack = stack_of(owner)
        key_stack = self._stack
        if grantee_stack is key_stack:
            return principal, conditions
        fragment = principal.policy_fragment
        principal_json = fragment.principal_json
        if _names_a_resource(key_stack.resolve(principal_json)):
            if not custom:
                return self._key_policy_principal(grantee, principal), conditions
            if _nested_within(key_stack, grantee_stack):
                # The key's stack is nested in the grantee's: CloudFormation passes the ARN in
                # as a parameter of the nested stack, created after the principal, and the
                # grantee's identity policy (its own resource) reads the key's ARN from the
                # nested stack's outputs. Neither stack depends on the other, so the key policy
                # names the principal itself.
                return principal, conditions
            raise ConstructPropError(
                "grantee",
                f"must be in the key's stack ({stack_label(key_stack)}) when the key has a custom "
                f"policy and the grantee's ARN is known only at deploy time: "
                f"{owner.node.path} is in stack {stack_label(grantee_stack)}, and naming it in "
                f"the key policy of {self._node.path} would make the two stacks depend on each "
                "other. Grant to a principal of the key's stack, or give the role a fixed name "
                "and allow it by ARN in the key's KeyPolicy.custom(users=[...]) (if the role "
                "is created after the key: statements=[...] naming the account root with an "
                "ArnEquals condition on aws:PrincipalArn)",
                owner.node.path,
            )
        arns = list(principal_json.get("AWS", []))
        if not arns or set(principal_json) != {"AWS"}:
            return principal, conditions  # a service principal exists before any stack
        account = principal.principal_account or grantee_stack.account
        merged = {op: dict(body) for op, body in (conditions or {}).items()}
        for op, body in (fragment.conditions or {}).items():
            merged.setdefault(op, {}).update(body)
        arn_equals = merged.setdefault("ArnEquals", {})
        require(
            "aws:PrincipalArn" not in arn_equals,
            "conditions",
            "must not set ArnEquals aws:PrincipalArn for a grantee of another stack (the key "
            "policy limits its account root to the grantee's ARN with it)",
            conditions,
        )
        arn_equals["aws:PrincipalArn"] = arns[0] if len(arns) == 1 else list(arns)
        return iam.AccountPrincipal(account), merged


def _nested_within(stack: Stack, ancestor: Stack) -> bool:
    """True when ``stack`` is a nested stack of ``ancestor`` (at any depth)."""
    parent = stack.nested_stack_parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.nested_stack_parent
    return False


def owning_key(value: Any) -> CustomerManagedKey | ReplicaKey | None:
    """The :class:`CustomerManagedKey` or :class:`ReplicaKey` that ``value`` is, or whose
    ``.key`` it is (the ``aws_kms.IKey`` the documentation tells users to hand to CDK
    constructs); None for anything else (an ``aws_kms.Key`` of its own, an imported key)."""
    if isinstance(value, CustomerManagedKey | ReplicaKey):
        return value
    if isinstance(value, _RoutedKey):
        return value._owner
    node = getattr(value, "node", None) if hasattr(value, "key_arn") else None
    scope = node.scope if node is not None else None
    if isinstance(scope, ReplicaKey) and scope.key is value:
        return scope
    return None


def require_key_environment(
    prop: str, here: StackFacts, key: Construct, *, must_be: str, why: str
) -> None:
    """Refuse ``key``, a key construct of another account or Region than ``here`` (both known
    at synth): ``'<prop>' must be <must_be> this construct's Region (<here>; this key:
    <there>)<why>. Received: <key's path>``."""
    there = stack_facts(stack_of(key))
    for what, mine, its in (
        ("account", here.account, there.account),
        ("Region", here.region, there.region),
    ):
        if not is_token(mine) and not is_token(its) and mine != its:
            raise ConstructPropError(
                prop,
                f"must be {must_be} this construct's {what} ({mine}; this key: {its}){why}",
                key.node.path,
            )


def key_construct(prop: str, value: Any, use: str) -> CustomerManagedKey | ReplicaKey:
    """:func:`owning_key` of ``value``, or a refusal naming ``prop`` and the value received (a
    construct by its path): the caller adds to the key's policy, which ``use`` says why."""
    owner = owning_key(value)
    if owner is None:  # worded only now: a construct's path is a jsii round trip
        raise ConstructPropError(
            prop, f"must be a CustomerManagedKey or ReplicaKey, or its .key ({use})", shown(value)
        )
    return owner


def _names_a_resource(resolved: Any) -> bool:
    """True when a resolved value refers to a resource or an output of a stack (``Fn::GetAtt``,
    ``Ref`` other than a pseudo parameter, ``Fn::ImportValue``, ``Fn::GetStackOutput``)."""
    if isinstance(resolved, dict):
        for name, value in resolved.items():
            if name in ("Fn::GetAtt", "Fn::ImportValue", "Fn::GetStackOutput"):
                return True
            if name == "Ref" and not (isinstance(value, str) and value.startswith("AWS::")):
                return True
            if _names_a_resource(value):
                return True
        return False
    if isinstance(resolved, list):
        return any(_names_a_resource(item) for item in resolved)
    return False


def _called_from_jsii() -> bool:
    """Whether the nearest caller outside this module is jsii's kernel: aws-cdk-lib's code
    (JavaScript) calling an overridden method, not the user's Python."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    if frame is None:
        return False
    # jsii's own package, not any module whose name starts so (a user's jsii_helpers.py).
    name = str(frame.f_globals.get("__name__", ""))
    return name == "jsii" or name.startswith("jsii.")


def _aws_cdk_call() -> FrameType | None:
    """The call into aws-cdk-lib's Python bindings whose JavaScript is calling back into this
    module: the nearest frame past this module's and jsii's, if it is of a module of
    ``aws_cdk`` (None when another module's frame comes first)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if name == "aws_cdk" or name.startswith("aws_cdk."):
            return frame
        if name not in (__name__, "jsii") and not name.startswith("jsii."):
            return None
        frame = frame.f_back
    return None


def _aws_kms_call(methods: frozenset[str]) -> FrameType | None:
    """The call into aws-cdk-lib (:func:`_aws_cdk_call`) when it is one of ``methods`` of
    ``aws_cdk.aws_kms``'s bindings; else None."""
    call = _aws_cdk_call()
    if (
        call is not None
        and call.f_globals.get("__name__") == "aws_cdk.aws_kms"
        and call.f_code.co_name in methods
    ):
        return call
    return None


def _shown_grantee(grantee: Any) -> Any:
    """A grantee for an error: a construct by its path, a principal as CDK writes it for
    people (``ServicePrincipal(events.amazonaws.com)``)."""
    if grantee is None or hasattr(grantee, "node"):
        return shown(grantee)
    return shown_principal(grantee)


# The grant methods of aws_kms.Key and of aws_kms.KeyGrants, as the Python bindings name them.
_KEY_GRANT_METHODS = frozenset(
    (
        "grant", "grant_admin", "grant_decrypt", "grant_encrypt", "grant_encrypt_decrypt",
        "grant_sign", "grant_verify", "grant_sign_verify", "grant_generate_mac",
        "grant_verify_mac",
    )
)  # fmt: skip
_KEY_GRANTS_METHODS = frozenset(
    (
        "actions", "admin", "decrypt", "encrypt", "encrypt_decrypt", "sign", "verify",
        "sign_verify", "generate_mac", "verify_mac",
    )
)  # fmt: skip
# What aws-cdk-lib's own grant code on .key skips, for the refusals of _RoutedKey.
_UNCHECKED = (
    "key usage, the key policy's half of the grant under a custom policy, and the source "
    "condition an AWS service principal needs"
)


class _RoutedKey(kms.Key):
    """``aws_kms.Key`` whose ``grant*`` methods go through the owning construct's ``grant()``.

    CDK constructs that receive ``.key`` (Lambda, SQS, Secrets Manager, ...) call these, so a
    key with a custom policy gets the key-policy half of their grants too. So does ``.grants``
    read from Python (aws-cdk-lib's ``KeyGrants`` methods), whose own methods would write only
    the identity policy of a grantee of the key's account.

    aws-cdk-lib's own grant code run on ``.key`` cannot be routed (a ``KeyGrants`` jsii object
    is made only by aws-cdk-lib, and its methods never call back into Python), so it is
    refused when it starts, naming the call and what to call instead: ``aws_kms.Key``'s
    methods called unbound (``kms.Key.grant_decrypt(key.key, role)`` runs aws-cdk-lib's
    ``grantDecrypt``, which reads ``.grants`` in JavaScript), any other read of ``.grants``
    from JavaScript, and ``aws_kms.KeyGrants.from_key(key.key)``'s methods called from Python
    (which read ``.key_ref`` first). aws-cdk-lib's constructs that call ``KeyGrants.fromKey``
    themselves (Glue tables, grants on L1 queues and topics) are let through, as documented
    in docs/keys.md.
    """

    _owner: CustomerManagedKey

    @property
    def grants(self) -> kms.KeyGrants:
        if _called_from_jsii():
            call = _aws_kms_call(_KEY_GRANT_METHODS)
            if call is not None and call.f_locals.get("self") is self:
                name = call.f_code.co_name
                arguments = "grantee, *actions" if name == "grant" else "grantee"
                raise self._refusal(
                    call,
                    f"aws_kms.Key.{name}(key.key, {arguments})",
                    "unbound method grants through its own KeyGrants",
                    f"key.key.{name}({arguments})",
                )
            raise self._unrouted_grants(_aws_cdk_call())
        return cast(kms.KeyGrants, _RoutedKeyGrants(self))

    @property
    def key_ref(self) -> KeyReference:
        if _called_from_jsii():
            call = _aws_kms_call(_KEY_GRANTS_METHODS)
            if call is not None and isinstance(call.f_locals.get("self"), kms.KeyGrants):
                name = call.f_code.co_name
                raise self._refusal(
                    call,
                    f"aws_kms.KeyGrants.from_key(key.key).{name}(grantee)",
                    "KeyGrants grants on its own",
                    f"key.key.grants.{name}(...)",
                )
        return cast(KeyReference, kms.Key.key_ref.fget(self))  # type: ignore[attr-defined]

    def _refusal(self, call: FrameType, named: str, how: str, instead: str) -> ConstructPropError:
        """The refusal of aws-cdk-lib's grant code that ``call`` (the user's call of it,
        ``named``) runs on this key: aws-cdk-lib's ``how``, and the routed call ``instead``."""
        path = self._owner._node.path
        return ConstructPropError(
            named,
            f"must not be called on {path}.key: aws-cdk-lib's {how}, past {path}'s checks "
            f"({_UNCHECKED}); call {instead} instead (the same method, checked)",
            _shown_grantee(call.f_locals.get("grantee")),
        )

    def _unrouted_grants(self, call: FrameType | None) -> ConstructPropError:
        """The refusal of a read of ``.grants`` from JavaScript by aws-cdk-lib's code other
        than an unbound ``aws_kms.Key`` method, which ``call`` (:func:`_aws_cdk_call`)
        started."""
        path = self._owner._node.path
        caller = (
            f"{call.f_globals.get('__name__')}.{type(call.f_locals.get('self')).__name__}."
            f"{call.f_code.co_name}"
            if call is not None
            else "aws-cdk-lib's JavaScript"
        )
        return ConstructPropError(
            f"{path}.key.grants",
            f"cannot be used by aws-cdk-lib's own code (called through {caller}): its grants "
            f"would not go through {path}'s checks ({_UNCHECKED}); grant on the key with "
            "key.grant_*(...) yourself, or give that construct a key of its own",
            caller,
        )

    def _routed(self, method: Callable[..., iam.Grant], *args: Any) -> iam.Grant:
        """``method`` of the owning construct; called by aws-cdk-lib's code (through jsii),
        under ``_granting_for_aws_cdk_lib``. A call from Python (``key.key.grant_decrypt(...)``)
        is the user's own, checked as ``key.grant_decrypt(...)`` is."""
        if not _called_from_jsii():
            return method(*args)
        with self._owner._granting_for_aws_cdk_lib():
            return method(*args)

    def grant(self, grantee: iam.IGrantable, *key_actions: str) -> iam.Grant:
        return self._routed(self._owner.grant, grantee, *key_actions)

    def grant_admin(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_admin, grantee)

    def grant_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_decrypt, grantee)

    def grant_encrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_encrypt, grantee)

    def grant_encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_encrypt_decrypt, grantee)

    def grant_sign(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_sign, grantee)

    def grant_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_verify, grantee)

    def grant_sign_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_sign_verify, grantee)

    def grant_generate_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        # kms:GenerateMac alone, as aws-cdk-lib's: the constructs calling it expect no more
        # (the construct's own grant_generate_mac adds kms:VerifyMac).
        return self._routed(
            self._owner._grant_for_usage,
            "grant_generate_mac",
            "GENERATE_VERIFY_MAC",
            grantee,
            actions.GENERATE_MAC_ACTIONS,
        )

    def grant_verify_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._routed(self._owner.grant_verify_mac, grantee)

    def add_alias(self, alias_name: str) -> kms.Alias:
        return self._owner.add_alias(alias_name)


class _RoutedKeyGrants:
    """``.grants`` of a :class:`_RoutedKey`: the methods of ``aws_kms.KeyGrants``, each through
    the key's ``grant*`` methods (and so the owning construct's ``grant()``)."""

    def __init__(self, key: _RoutedKey) -> None:
        self._key = key

    def actions(self, grantee: iam.IGrantable, *key_actions: str) -> iam.Grant:
        return self._key.grant(grantee, *key_actions)

    def admin(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_admin(grantee)

    def decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_decrypt(grantee)

    def encrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_encrypt(grantee)

    def encrypt_decrypt(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_encrypt_decrypt(grantee)

    def sign(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_sign(grantee)

    def verify(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_verify(grantee)

    def sign_verify(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_sign_verify(grantee)

    def generate_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_generate_mac(grantee)

    def verify_mac(self, grantee: iam.IGrantable) -> iam.Grant:
        return self._key.grant_verify_mac(grantee)


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
        key: the ``aws_kms.Key`` (an ``IKey`` every CDK construct accepts; its ``grant*``
            methods and those of its ``grants`` go through :meth:`grant`).
        alias: the ``aws_kms.Alias`` of the ``alias`` prop, or None.
        aliases: every ``aws_kms.Alias`` of the key: ``alias`` first, then those of
            :meth:`add_alias`.
        policy_document: the key policy; grants add to it.
        monthly_cost: what the key costs per month in the commercial (``aws``) partition's KMS
            price list, in USD (``kmskit cost`` leaves keys of other partitions unpriced).
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
        _check_spec_region(spec, self._stack)
        require(origin in ORIGINS, "origin", f"must be one of {', '.join(ORIGINS)}", origin)
        require(
            enable_key_rotation is None or isinstance(enable_key_rotation, bool),
            "enable_key_rotation",
            "must be True, False or None (the default for the key spec)",
            enable_key_rotation,
        )
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
                enable_key_rotation,
                "rotation_period",
                "needs enable_key_rotation=True (a rotated SYMMETRIC_DEFAULT key with AWS_KMS "
                f"origin; this key: key_spec {spec}, origin {origin})",
                rotation_period.to_human_string()
                if isinstance(rotation_period, Duration)
                else rotation_period,
            )
            rotation_days = durations.check_days("rotation_period", rotation_period, *ROTATION_DAYS)
        pending_days = _pending_days(pending_window)
        require(
            isinstance(multi_region, bool), "multi_region", "must be True or False", multi_region
        )
        _check_common(description, removal_policy)
        if alias is not None:
            check_alias(alias)

        self.key_spec = spec
        self.key_usage = usage
        self.origin = origin
        self.multi_region = multi_region
        self.rotation_enabled = enable_key_rotation
        self._start_policy(
            policy,
            KeyContext.of(
                self._stack,
                key_usage=usage,
                key_spec=spec,
                origin=origin,
                multi_region=multi_region,
            ),
        )

        routed = _RoutedKey(
            self,
            "Key",
            description=description or f"{self._node.path} ({spec}, {usage})",
            key_spec=kms.KeySpec(spec),
            key_usage=kms.KeyUsage(usage),
            enable_key_rotation=self.rotation_enabled,
            rotation_period=durations.days(rotation_days) if rotation_days else None,
            pending_window=durations.days(pending_days),
            multi_region=multi_region or None,
            removal_policy=removal_policy,
            policy=self.policy_document,
        )
        routed._owner = self
        self.key = routed
        cfn_key = routed.node.default_child
        assert isinstance(cfn_key, kms.CfnKey)
        self._policy_owner = cfn_key
        if origin == "EXTERNAL":
            cfn_key.origin = "EXTERNAL"
            if spec == "SYMMETRIC_DEFAULT":
                acknowledge(cfn_key, EXTERNAL_ROTATION_RULES, EXTERNAL_ROTATION_REASON)
        self.monthly_cost: KeyCost = key_monthly_cost(rotation_enabled=self.rotation_enabled)
        cfn_key.add_metadata("kmskit:cost", self.monthly_cost.as_metadata())

        self.alias: kms.Alias | None = None
        self.aliases: list[kms.Alias] = []
        if alias is not None:
            self.alias = kms.Alias(self, "Alias", alias_name=alias, target_key=self.key)
            # Reserved once made: a key that failed does not keep its alias from a retry.
            _reserve_alias(self._stack, stack_facts(self._stack), alias, self)
            self.aliases.append(self.alias)

    def add_alias(self, alias_name: str) -> kms.Alias:
        """Add another alias to the key (``key.add_alias`` comes here too).

        Checked like the ``alias`` prop and unique within the account and Region of the App.
        Its construct ID comes from the name (``Alias:team:data`` for ``alias/team/data``), so
        adding or removing another alias leaves it in place. Returns the ``aws_kms.Alias``,
        which is also appended to ``aliases``.
        """
        made = kms.Alias(
            self,
            self._take_added_alias(alias_name, len(self.aliases)),
            alias_name=alias_name,
            target_key=self.key,
        )
        self.aliases.append(made)
        return made


class ReplicaKey(_KeyBase):
    """A replica of a multi-Region primary key, in another Region of the same account.

    The replica shares the primary's key material, spec, usage and rotation; its policy, alias
    and tags are its own. Give the primary either as the construct (``primary``; its stack is
    in another Region, and aws-cdk-lib resolves the reference across Regions whether or not the
    replica's stack sets ``cross_region_references``) or as an ARN (``primary_key_arn``, e.g. of
    a key deployed earlier), not both.

    Args:
        primary_key_arn: ARN of the multi-Region primary (``.../key/mrk-...``). A literal ARN is
            checked to be a multi-Region key of this account in another Region. Default: the
            ARN of ``primary``.
        primary: the primary :class:`CustomerManagedKey` (``multi_region=True``); spec, usage,
            origin and rotation are taken from it. Default: none (give ``primary_key_arn``).
        alias: Default: no alias.
        policy: Default: with ``primary``, the primary's :class:`KeyPolicy` (as given to it:
            grants and service principals added to the primary later are its own), rendered
            for the replica's stack; refused when it names constructs of another stack or
            refers to another stack's resources (give ``policy`` then; ``KeyPolicy.default()``
            is taken when chosen on purpose). With ``primary_key_arn``: ``KeyPolicy.default()``
            (the primary's policy is not known).
        description: Default: ``"<construct path> (replica of a multi-Region key)"``.
        key_spec / key_usage: must match the primary (they choose the user actions). Default:
            the primary's, or ``SYMMETRIC_DEFAULT`` / its only usage with ``primary_key_arn``.
        origin: ``"AWS_KMS"`` or ``"EXTERNAL"``; must match the primary. A replica of a primary
            with imported material starts without material (``PendingImport``), and its
            administrators get the import actions to import the primary's material. Default:
            the primary's, or ``"AWS_KMS"`` with ``primary_key_arn``.
        pending_window: 7-30 days. Default: 30 days.
        removal_policy: Default: ``RemovalPolicy.RETAIN``.

    Attributes:
        resource: the ``aws_kms.CfnReplicaKey``.
        key: an ``aws_kms.IKey`` for the replica (its own grants only write identity policies:
            use :meth:`grant` and the ``grant_*`` methods of this construct; its ``add_alias``
            is this construct's).
        alias: the ``aws_kms.CfnAlias`` of the ``alias`` prop, or None.
        aliases: every ``aws_kms.CfnAlias`` of the replica: ``alias`` first, then those of
            :meth:`add_alias`.
        monthly_cost: what the replica costs per month (commercial price list, USD).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        primary_key_arn: str | None = None,
        primary: CustomerManagedKey | None = None,
        alias: str | None = None,
        policy: KeyPolicy | None = None,
        description: str | None = None,
        key_spec: kms.KeySpec | str | None = None,
        key_usage: kms.KeyUsage | str | None = None,
        origin: str | None = None,
        pending_window: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        stack = self._stack
        require(
            origin is None or origin in ORIGINS,
            "origin",
            f"must be one of {', '.join(ORIGINS)}",
            origin,
        )
        require_one_of("primary", primary, "primary_key_arn", primary_key_arn)
        if primary is not None:
            _check_primary_key(primary, stack)
            spec, usage = _matching_spec(primary, key_spec, key_usage)
            require(
                origin is None or origin == primary.origin,
                "origin",
                f"must match the primary's ({primary.origin})",
                origin,
            )
            origin = primary.origin
            rotation = primary.rotation_enabled
            arn = primary.key_arn
        else:
            _check_primary_arn(primary_key_arn, stack)
            spec, usage = resolve_spec_and_usage(key_spec or "SYMMETRIC_DEFAULT", key_usage)
            _check_spec_region(spec, stack)
            origin = origin or "AWS_KMS"
            # Unknown primary: price the replica as if it rotated (an upper bound); KMS does not
            # rotate imported material.
            rotation = spec == "SYMMETRIC_DEFAULT" and origin == "AWS_KMS"
            arn = str(primary_key_arn)
        pending_days = _pending_days(pending_window)
        _check_common(description, removal_policy)
        if alias is not None:
            check_alias(alias)
        _reserve_replica(stack, primary if primary is not None else arn, self)
        self.key_spec = spec
        self.key_usage = usage
        self.origin = origin
        self.primary_key_arn = arn
        context = KeyContext.of(
            stack, key_usage=usage, key_spec=spec, origin=origin, multi_region=True
        )
        if policy is None and primary is not None:
            policy = _policy_of_primary(primary, stack, context)
        self._start_policy(policy, context)

        self.resource = kms.CfnReplicaKey(
            self,
            "Resource",
            primary_key_arn=arn,
            key_policy=self.policy_document,
            description=description or f"{self._node.path} (replica of a multi-Region key)",
            pending_window_in_days=pending_days,
        )
        self._policy_owner = self.resource
        self.resource.apply_removal_policy(removal_policy)
        self.monthly_cost = key_monthly_cost(rotation_enabled=rotation, replica=True)
        self.resource.add_metadata("kmskit:cost", self.monthly_cost.as_metadata())
        self.key = kms.Key.from_key_arn(self, "Imported", self.resource.attr_arn)
        # key.add_alias comes to add_alias, checked and reserved, as a CustomerManagedKey's does
        # (the imported key's own would make an alias that nothing checks).
        self.key.add_alias = self.add_alias  # type: ignore[method-assign, assignment]
        self.alias: kms.CfnAlias | None = None
        self.aliases: list[kms.CfnAlias] = []
        if alias is not None:
            _reserve_alias(stack, stack_facts(stack), alias, self)
            self.alias = kms.CfnAlias(
                self, "Alias", alias_name=alias, target_key_id=self.resource.attr_key_id
            )
            self.aliases.append(self.alias)

    def add_alias(self, alias_name: str) -> kms.CfnAlias:
        """Add another alias to the replica, checked and named like
        :meth:`CustomerManagedKey.add_alias`. Returns the ``aws_kms.CfnAlias``, which is also
        appended to ``aliases``."""
        made = kms.CfnAlias(
            self,
            self._take_added_alias(alias_name, len(self.aliases)),
            alias_name=alias_name,
            target_key_id=self.resource.attr_key_id,
        )
        self.aliases.append(made)
        return made


def _policy_of_primary(primary: CustomerManagedKey, stack: Stack, ctx: KeyContext) -> KeyPolicy:
    """``policy`` of a replica of ``primary`` when none is given: the primary's own.

    The replica holds the primary's key material, so the default key policy (every principal of
    the account whom IAM allows) would open what a custom policy keeps to named roles. The
    primary's :class:`KeyPolicy` is reused when it renders for the replica's stack: rendered
    there, it may name no construct of another stack, nor refer to another stack's resources
    (each would need a reference across Regions, from the primary's stack to the replica's)."""
    inherited = primary.policy
    if inherited.delegates_to_iam:
        return inherited
    ask = (
        "must be given for a replica of a primary with a custom policy that does not render in "
        "the replica's stack ({}). The replica holds the primary's key material, so it does "
        "not fall back to KeyPolicy.default(): pass policy=KeyPolicy.custom(...) naming the "
        "principals by ARN, or policy=KeyPolicy.default() on purpose"
    )
    try:
        statements = inherited.render(ctx)
    except ConstructPropError as error:
        raise ConstructPropError("policy", ask.format(error), primary.node.path) from error
    foreign = sorted(
        {
            principal.node.path
            for statement in statements
            for principal in statement.principals
            if isinstance(principal, Construct) and stack_of(principal) is not stack
        }
    )
    if foreign:
        raise ConstructPropError(
            "policy",
            ask.format(f"it names constructs of another stack: {', '.join(foreign)}"),
            primary.node.path,
        )
    for statement in statements:
        resolved = stack.resolve(statement.to_statement_json())
        if _names_a_resource(resolved):
            raise ConstructPropError(
                "policy",
                ask.format(
                    f"statement {resolved.get('Sid', '(no Sid)')!r} refers to a resource of "
                    f"another stack: {json.dumps(resolved, default=str)}"
                ),
                primary.node.path,
            )
    return inherited


def _reserve_replica(stack: Stack, primary: CustomerManagedKey | str, holder: Construct) -> None:
    """Refuse a second replica of one primary in one account and Region of the App (KMS holds
    one per Region: the second ReplicateKey fails at deploy time). A primary given by an ARN is
    known by its account and key ID; one known only at deploy time is not checked."""
    if isinstance(primary, str):
        if is_token(primary):
            return
        # Checked by _check_primary_arn: arn:<partition>:kms:<region>:<account>:key/mrk-...
        name, shown, prop = ":".join(primary.split(":")[4:6]), primary, "primary_key_arn"
    else:
        path = primary._node.path
        name, shown, prop = path, path, "primary"
    other, where = names.reserve(stack, stack_facts(stack), "replica of", name, holder)
    require(
        other is None,
        prop,
        f"must have one replica per Region: {other} already replicates it within {where}",
        shown,
    )


def _check_primary_key(primary: Any, stack: Stack) -> None:
    require(
        isinstance(primary, CustomerManagedKey),
        "primary",
        "must be a CustomerManagedKey (an ARN goes in 'primary_key_arn')",
        primary,
    )
    # The messages read the primary's path only when a check fails (each read is a round trip).
    if not primary.multi_region:
        raise ConstructPropError(
            "primary",
            "must be a multi-Region key (CustomerManagedKey(..., multi_region=True))",
            primary.node.path,
        )
    primary_facts, facts = stack_facts(stack_of(primary)), stack_facts(stack)
    regions = (primary_facts.region, facts.region)
    if not any(is_token(region) for region in regions) and regions[0] == regions[1]:
        raise ConstructPropError(
            "primary",
            f"must be in another Region than the replica ({facts.region})",
            primary.node.path,
        )
    accounts = (primary_facts.account, facts.account)
    if not any(is_token(account) for account in accounts) and accounts[0] != accounts[1]:
        raise ConstructPropError(
            "primary",
            f"must be in the replica's account ({facts.account})",
            primary.node.path,
        )


def _matching_spec(primary: CustomerManagedKey, key_spec: Any, key_usage: Any) -> tuple[str, str]:
    if key_spec is not None:
        require(
            _enum_name(key_spec) == primary.key_spec,
            "key_spec",
            f"must match the primary's ({primary.key_spec})",
            _enum_name(key_spec),
        )
    if key_usage is not None:
        require(
            _enum_name(key_usage) == primary.key_usage,
            "key_usage",
            f"must match the primary's ({primary.key_usage})",
            _enum_name(key_usage),
        )
    return primary.key_spec, primary.key_usage


def _check_primary_arn(arn: Any, stack: Stack) -> None:
    require(isinstance(arn, str), "primary_key_arn", "must be a key ARN", arn)
    if is_token(arn):
        return
    parts = arn.split(":")
    require(
        bool(PRIMARY_KEY_ARN.match(arn)),
        "primary_key_arn",
        "must be the ARN of a multi-Region key (arn:aws:kms:<region>:<account>:key/mrk-...)",
        arn,
    )
    region, account = parts[3], parts[4]
    check_account_id("primary_key_arn", account)
    if not is_token(stack.region):
        require(
            region != stack.region,
            "primary_key_arn",
            f"must be in another Region than the replica ({stack.region})",
            arn,
        )
    if not is_token(stack.account):
        require(
            account == stack.account,
            "primary_key_arn",
            f"must be in the replica's account ({stack.account})",
            arn,
        )
