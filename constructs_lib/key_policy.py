"""Key policies for customer managed keys: the AWS default, or named roles with no blanket root.

A :class:`KeyPolicy` is plain data until a key renders it with :meth:`KeyPolicy.render`, which
knows the key's usage (which user actions apply), its origin (import actions for administrators)
and its environment (account, Region, partition for the service-principal conditions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam

from constructs_lib import _kms_actions as actions
from constructs_lib._validation import ConstructPropError, check_account_id, require

ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(iam|sts)::(\d{12}):")
MAX_KEY_POLICY_BYTES = 32_768


@dataclass(frozen=True)
class KeyContext:
    """What a policy needs to know about the key it is rendered for."""

    account: str
    region: str
    partition: str
    key_usage: str
    key_spec: str
    origin: str

    @classmethod
    def of(cls, stack: Stack, *, key_usage: str, key_spec: str, origin: str) -> KeyContext:
        return cls(
            account=stack.account,
            region=stack.region,
            partition=stack.partition,
            key_usage=key_usage,
            key_spec=key_spec,
            origin=origin,
        )


def user_actions(key_usage: str, key_spec: str) -> tuple[str, ...]:
    """The actions a key user needs, chosen from the key's usage (and spec, for RSA)."""
    if key_usage == "ENCRYPT_DECRYPT":
        if key_spec == "SYMMETRIC_DEFAULT":
            return actions.ENCRYPT_DECRYPT_ACTIONS
        return actions.ASYMMETRIC_ENCRYPT_DECRYPT_ACTIONS
    if key_usage == "SIGN_VERIFY":
        return actions.SIGN_VERIFY_ACTIONS
    if key_usage == "GENERATE_VERIFY_MAC":
        return actions.GENERATE_VERIFY_MAC_ACTIONS
    if key_usage == "KEY_AGREEMENT":
        return actions.KEY_AGREEMENT_ACTIONS
    raise ConstructPropError("key_usage", "is not a KMS key usage", key_usage)


def admin_actions(origin: str) -> tuple[str, ...]:
    """Management actions; keys with imported material add the import actions."""
    if origin == "EXTERNAL":
        return tuple(sorted(actions.ADMIN_ACTIONS + actions.IMPORT_ADMIN_ACTIONS))
    return actions.ADMIN_ACTIONS


def to_principal(prop: str, value: iam.IPrincipal | str) -> iam.IPrincipal:
    """A principal object, or an IAM ARN string (``arn:aws:iam::111111111111:role/Admin``)."""
    if isinstance(value, str):
        require(
            Token.is_unresolved(value) or value.startswith("arn:"),
            prop,
            "must hold IAM principals or principal ARNs",
            value,
        )
        return iam.ArnPrincipal(value)
    return value


@dataclass(frozen=True)
class ExternalAccount:
    """Another account (or named principals in it) allowed to use the key.

    Args:
        account_id: the 12-digit account ID.
        principal_arns: principals of that account to name in the key policy. Default: the
            account's root, which delegates the decision to that account's IAM policies.
        via_services: service prefixes such as ``"ec2"`` or ``"rds"``; when given, use is only
            allowed through those services in the key's Region (``kms:ViaService``). Default: any.
        require_caller_account: add ``kms:CallerAccount`` = ``account_id``. Default: False.
        allow_grants: also allow CreateGrant/ListGrants/RevokeGrant for AWS resources, which
            EBS and RDS need to copy or restore a shared snapshot. Default: True.
    """

    account_id: str
    principal_arns: tuple[str, ...] = ()
    via_services: tuple[str, ...] = ()
    require_caller_account: bool = False
    allow_grants: bool = True

    def __post_init__(self) -> None:
        check_account_id("external_accounts", self.account_id)
        for arn in self.principal_arns:
            match = ARN_ACCOUNT.match(arn)
            require(
                Token.is_unresolved(arn)
                or (match is not None and match.group(2) == self.account_id),
                "external_accounts",
                f"principal ARNs must belong to account {self.account_id}",
                arn,
            )

    @classmethod
    def parse(cls, value: ExternalAccount | iam.AccountPrincipal | str) -> ExternalAccount:
        """Accept an ExternalAccount, an account ID, a principal ARN or an AccountPrincipal."""
        if isinstance(value, ExternalAccount):
            return value
        if isinstance(value, iam.AccountPrincipal):
            return cls(account_id=str(value.account_id))
        if isinstance(value, str):
            match = ARN_ACCOUNT.match(value)
            if match:
                return cls(account_id=match.group(2), principal_arns=(value,))
            return cls(account_id=check_account_id("external_accounts", value))
        raise ConstructPropError(
            "external_accounts", "must hold account IDs, principal ARNs or ExternalAccount", value
        )

    def principals(self, partition: str) -> list[iam.IPrincipal]:
        if self.principal_arns:
            return [iam.ArnPrincipal(arn) for arn in self.principal_arns]
        return [iam.ArnPrincipal(f"arn:{partition}:iam::{self.account_id}:root")]

    def conditions(self, ctx: KeyContext) -> dict[str, dict[str, Any]]:
        string_equals: dict[str, Any] = {}
        if self.via_services:
            string_equals["kms:ViaService"] = [
                f"{service}.{ctx.region}.amazonaws.com" for service in self.via_services
            ]
        if self.require_caller_account:
            string_equals["kms:CallerAccount"] = self.account_id
        return {"StringEquals": string_equals} if string_equals else {}


StatementFactory = Callable[[KeyContext], list[iam.PolicyStatement]]


@dataclass(frozen=True)
class KeyServicePrincipal:
    """An AWS service allowed to use the key, with the conditions AWS documents for it.

    Build one with the class methods; ``render`` is called with the key's context.
    """

    service: str
    render: StatementFactory = field(compare=False, repr=False)

    @classmethod
    def cloudtrail(
        cls,
        *,
        trail_arn: str,
        log_readers: Sequence[iam.IPrincipal | str] = (),
    ) -> KeyServicePrincipal:
        """CloudTrail encrypting log files for one trail (``aws:SourceArn``).

        Args:
            trail_arn: the trail's ARN. Build it from the trail name (CloudFormation would
                otherwise see a cycle: the trail needs the key, the key policy the trail).
            log_readers: principals that may decrypt the log files. Default: the key's own
                account root, so IAM policies in the account decide, limited to CloudTrail
                encryption context.
        """

        def render(ctx: KeyContext) -> list[iam.PolicyStatement]:
            trail_context = f"arn:{ctx.partition}:cloudtrail:*:{ctx.account}:trail/*"
            service = iam.ServicePrincipal("cloudtrail.amazonaws.com")
            readers = [to_principal("log_readers", r) for r in log_readers] or [
                iam.AccountRootPrincipal()
            ]
            return [
                iam.PolicyStatement(
                    sid="AllowCloudTrailToEncryptLogs",
                    principals=[service],
                    actions=list(actions.CLOUDTRAIL_ENCRYPT_ACTIONS),
                    resources=["*"],
                    conditions={
                        "StringEquals": {"aws:SourceArn": trail_arn},
                        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_context},
                    },
                ),
                iam.PolicyStatement(
                    sid="AllowCloudTrailToDescribeKey",
                    principals=[service],
                    actions=list(actions.CLOUDTRAIL_DESCRIBE_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceArn": trail_arn}},
                ),
                iam.PolicyStatement(
                    sid="AllowCloudTrailLogDecryption",
                    principals=readers,
                    actions=list(actions.CLOUDTRAIL_LOG_READER_ACTIONS),
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:CallerAccount": ctx.account},
                        "Null": {"kms:EncryptionContext:aws:cloudtrail:arn": "false"},
                    },
                ),
            ]

        return cls(service="cloudtrail.amazonaws.com", render=render)

    @classmethod
    def cloudwatch_logs(cls, *, log_group_name: str | None = None) -> KeyServicePrincipal:
        """CloudWatch Logs in the key's Region: one log group, or (default) any in the account."""

        def render(ctx: KeyContext) -> list[iam.PolicyStatement]:
            group = log_group_name if log_group_name is not None else "*"
            return [
                iam.PolicyStatement(
                    sid="AllowCloudWatchLogs",
                    principals=[iam.ServicePrincipal(f"logs.{ctx.region}.amazonaws.com")],
                    actions=list(actions.CLOUDWATCH_LOGS_ACTIONS),
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account}:log-group:{group}"
                            )
                        }
                    },
                )
            ]

        return cls(service="logs.amazonaws.com", render=render)

    @classmethod
    def publisher(
        cls,
        *,
        service: str,
        destination: str,
        source_arn_pattern: str | None = None,
    ) -> KeyServicePrincipal:
        """An AWS service publishing to an encrypted SNS topic or SQS queue in the key's account.

        Args:
            service: the publishing service principal, e.g. ``cloudwatch.amazonaws.com`` (alarms)
                or ``events.amazonaws.com`` (EventBridge rules).
            destination: ``"sns"`` or ``"sqs"``; selects the encryption-context key
                (``aws:sns:topicArn`` / ``aws:sqs:arn``) limited to the key's account and Region.
            source_arn_pattern: ``aws:SourceArn`` pattern for the publishing resources. Default:
                any resource of that service in the key's account and Region.
        """
        require(destination in ("sns", "sqs"), "destination", "must be 'sns' or 'sqs'", destination)
        require(
            service.endswith(".amazonaws.com"),
            "service",
            "must be a service principal ending in '.amazonaws.com'",
            service,
        )

        def render(ctx: KeyContext) -> list[iam.PolicyStatement]:
            prefix = service.split(".", 1)[0]
            source = (
                source_arn_pattern or f"arn:{ctx.partition}:{prefix}:{ctx.region}:{ctx.account}:*"
            )
            context_key = "aws:sns:topicArn" if destination == "sns" else "aws:sqs:arn"
            resource = f"arn:{ctx.partition}:{destination}:{ctx.region}:{ctx.account}:*"
            sid = (
                "Allow" + "".join(part.title() for part in prefix.split("-")) + destination.upper()
            )
            return [
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=list(actions.PUBLISHER_ACTIONS),
                    resources=["*"],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": ctx.account},
                        "ArnLike": {
                            "aws:SourceArn": source,
                            f"kms:EncryptionContext:{context_key}": resource,
                        },
                    },
                )
            ]

        return cls(service=service, render=render)


@dataclass(frozen=True)
class KeyPolicy:
    """Who may do what with a key. Build it with :meth:`default` or :meth:`custom`."""

    delegates_to_iam: bool
    admins: tuple[iam.IPrincipal, ...] = ()
    users: tuple[iam.IPrincipal, ...] = ()
    service_users: tuple[iam.IPrincipal, ...] = ()
    external_accounts: tuple[ExternalAccount, ...] = ()
    service_principals: tuple[KeyServicePrincipal, ...] = ()
    statements: tuple[iam.PolicyStatement, ...] = ()

    @classmethod
    def default(cls) -> KeyPolicy:
        """The AWS default key policy: the owning account's root gets ``kms:*``.

        Everyone in the account whom IAM allows can use and manage the key.
        """
        return cls(delegates_to_iam=True)

    @classmethod
    def custom(
        cls,
        *,
        admins: Iterable[iam.IPrincipal | str] = (),
        users: Iterable[iam.IPrincipal | str] = (),
        service_users: Iterable[iam.IPrincipal | str] = (),
        external_accounts: Iterable[ExternalAccount | iam.AccountPrincipal | str] = (),
        service_principals: Iterable[KeyServicePrincipal] = (),
        statements: Iterable[iam.PolicyStatement] = (),
    ) -> KeyPolicy:
        """Named roles and no blanket root ``kms:*``.

        Args:
            admins: manage the key (including ``kms:PutKeyPolicy``) but not use it. Default: none;
                then some statement must keep ``kms:PutKeyPolicy`` or the key is refused.
            users: use the key; actions follow its usage. Default: none.
            service_users: may create grants for AWS resources (EBS, RDS, ...). Default: none.
            external_accounts: other accounts or their principals: user and grant statements,
                optionally narrowed by ``kms:ViaService``/``kms:CallerAccount``
                (see :class:`ExternalAccount`). Default: none.
            service_principals: AWS services with their documented conditions. Default: none.
            statements: extra statements, added last. Default: none.
        """
        return cls(
            delegates_to_iam=False,
            admins=tuple(to_principal("admins", p) for p in admins),
            users=tuple(to_principal("users", p) for p in users),
            service_users=tuple(to_principal("service_users", p) for p in service_users),
            external_accounts=tuple(ExternalAccount.parse(a) for a in external_accounts),
            service_principals=tuple(service_principals),
            statements=tuple(statements),
        )

    def render(self, ctx: KeyContext) -> list[iam.PolicyStatement]:
        """The statements of this policy for a key described by ``ctx``."""
        result: list[iam.PolicyStatement] = []
        if self.delegates_to_iam:
            result.append(
                iam.PolicyStatement(
                    sid="EnableIAMUserPermissions",
                    principals=[iam.AccountRootPrincipal()],
                    actions=["kms:*"],
                    resources=["*"],
                )
            )
        if self.admins:
            result.append(
                iam.PolicyStatement(
                    sid="KeyAdministration",
                    principals=list(self.admins),
                    actions=list(admin_actions(ctx.origin)),
                    resources=["*"],
                )
            )
        if self.users:
            result.append(
                iam.PolicyStatement(
                    sid="KeyUsage",
                    principals=list(self.users),
                    actions=list(user_actions(ctx.key_usage, ctx.key_spec)),
                    resources=["*"],
                )
            )
        if self.service_users:
            result.append(
                iam.PolicyStatement(
                    sid="GrantsForAwsResources",
                    principals=list(self.service_users),
                    actions=list(actions.GRANT_ACTIONS),
                    resources=["*"],
                    conditions=actions.GRANT_FOR_AWS_RESOURCE_CONDITION,
                )
            )
        for account in self.external_accounts:
            result.extend(external_account_statements(account, ctx))
        for service in self.service_principals:
            result.extend(service.render(ctx))
        result.extend(self.statements)
        return result


def external_account_statements(
    account: ExternalAccount, ctx: KeyContext
) -> list[iam.PolicyStatement]:
    """The user statement, and the grant statement, for another account (AWS's documented pair)."""
    conditions = account.conditions(ctx)
    suffix = account.account_id if not Token.is_unresolved(account.account_id) else ""
    result = [
        iam.PolicyStatement(
            sid=f"ExternalUse{suffix}",
            principals=account.principals(ctx.partition),
            actions=list(user_actions(ctx.key_usage, ctx.key_spec)),
            resources=["*"],
            conditions=conditions or None,
        )
    ]
    if account.allow_grants:
        grant_conditions: dict[str, dict[str, Any]] = {
            **conditions,
            **actions.GRANT_FOR_AWS_RESOURCE_CONDITION,
        }
        result.append(
            iam.PolicyStatement(
                sid=f"ExternalGrants{suffix}",
                principals=account.principals(ctx.partition),
                actions=list(actions.GRANT_ACTIONS),
                resources=["*"],
                conditions=grant_conditions,
            )
        )
    return result


def policy_problems(document: dict[str, Any]) -> list[str]:
    """Problems in a resolved key policy document: lock-out, bare wildcard principals, size.

    ``document`` is the policy as CloudFormation will receive it (``Stack.resolve`` output).
    """
    problems: list[str] = []
    statements = document.get("Statement", [])
    if not any(_keeps_put_key_policy(s) for s in statements):
        problems.append(
            "'policy' must leave at least one principal with kms:PutKeyPolicy, or the key is "
            "locked out for good (give it admins=[...]). Received: a policy in which no Allow "
            "statement for an IAM principal includes kms:PutKeyPolicy"
        )
    for statement in statements:
        if _has_wildcard_principal(statement) and not statement.get("Condition"):
            problems.append(
                "'policy' must not allow a wildcard principal without a condition. Received: "
                f"statement {statement.get('Sid', '(no Sid)')!r} with Principal "
                f"{json.dumps(statement.get('Principal'))}"
            )
    size = len(json.dumps(document, separators=(",", ":")).encode())
    if size > MAX_KEY_POLICY_BYTES:
        problems.append(
            f"'policy' must be at most {MAX_KEY_POLICY_BYTES} bytes (a KMS limit that cannot be "
            f"raised). Received: {size} bytes"
        )
    return problems


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _keeps_put_key_policy(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    if not isinstance(principal, dict) or "AWS" not in principal:
        return False
    granted = {a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)}
    return bool(granted & actions.PUT_KEY_POLICY_COVERED_BY)


def _has_wildcard_principal(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return "*" in _as_list(principal.get("AWS", []))
    return False
