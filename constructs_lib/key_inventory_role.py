"""The roles of ``kmskit key inventory --account/--accounts-from-organization`` (docs/keys.md,
"The inventory role and the caller's permissions"): :class:`KeyInventoryRole`, the role it
assumes in each account, and :class:`KeyInventoryCaller`, the role that runs it.

The inventory role's permission policy allows the read-only KMS calls the inventory makes
(:data:`kmskit.inventory_role.INVENTORY_ACTIONS`) and nothing else; its trust policy lets one role
of the account that runs the report assume it, under the inventory's session name
(:data:`kmskit.inventory_role.ROLE_SESSION_NAME`), with an external ID if one is given. The
caller's policy allows ``sts:AssumeRole`` on those roles only, under the same session name and
external ID, and ``organizations:ListAccounts`` only for ``--accounts-from-organization``.

IAM role names are unique in an account whatever their path, and not told apart by case: two of
these roles with one name in one account of an App are refused at construct time, naming both
(``constructs_lib._names``; a role of another construct is not seen).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib import _names as names
from constructs_lib._validation import (
    check_account_id,
    check_no_number_token,
    check_organization_id,
    is_token,
    require,
)
from constructs_lib.compliance import acknowledge, acknowledge_all
from constructs_lib.key_policy import stack_facts, stack_of
from kmskit.aws_names import partition
from kmskit.inventory_role import (
    DEFAULT_ROLE_NAME,
    EXTERNAL_ID_PATTERN,
    EXTERNAL_ID_RULE,
    INVENTORY_ACTIONS,
    PRINCIPAL_ARN_RULE,
    ROLE_ARN_FORM,
    ROLE_ARN_RULE,
    ROLE_NAME_PATTERN,
    ROLE_NAME_RULE,
    ROLE_PATH_RULE,
    ROLE_SESSION_NAME,
    ROOT_ARN_FORM,
    principal_arn,
    role_arn,
    valid_role_path,
)

WILDCARD_REASON = (
    "kms:ListKeys and kms:ListAliases act on no resource, and the key inventory reads every key "
    "of the account, whose IDs it learns from ListKeys, with DescribeKey, GetKeyRotationStatus, "
    "GetKeyPolicy and ListGrants: the policy allows these read-only calls and nothing else"
)
"""The reason of this construct's ``AwsSolutions-IAM5[Resource::*]`` acknowledgment."""
LIST_ACCOUNTS_REASON = (
    "organizations:ListAccounts acts on no resource: kmskit key inventory "
    "--accounts-from-organization calls it once to learn the accounts to read, and the caller's "
    "policy allows it only when organization mode is asked for (organization_id)"
)
"""The reason of :class:`KeyInventoryCaller`'s ``AwsSolutions-IAM5[Resource::*]``
acknowledgment (organization mode only)."""
ORGANIZATION_ROLES_REASON = (
    "In organization mode the caller reads every account of the organization, which the "
    "template cannot list: sts:AssumeRole is allowed on the inventory role's name in any "
    "account, only where aws:ResourceOrgID is the given organization and only under the "
    "inventory's session name"
)
"""The reason of :class:`KeyInventoryCaller`'s acknowledgment of the account wildcard in its
``sts:AssumeRole`` resource (organization mode only)."""
ROLE_KIND = "IAM role"
"""The kind of name (``constructs_lib._names``) these roles reserve in their account."""


class KeyInventoryRole(Construct):
    """The role ``kmskit key inventory`` assumes in this account to read its keys.

    Args:
        caller_role_arn: the ARN of the role that runs ``kmskit key inventory --account`` (or
            ``--accounts-from-organization``), such as
            ``arn:aws:iam::111111111111:role/platform-inventory``; its account's root is the
            trust policy's principal, limited by ``aws:PrincipalArn`` to this role. A token (a
            role made in the same App) is taken as it is, its partition and account read from
            it at deploy time. Required.
        role_name: the role's name (1-64 letters, digits and ``+=,.@_-``). Default:
            ``KmskitKeyInventory``, the inventory's default ``--role-name``.
        role_path: the role's IAM path, ``/`` or ``/<segment>/.../`` (segments of the same
            characters, at most 512 characters with the slashes). ``--role-name`` then takes
            the path without its first ``/``, then the name
            (:func:`kmskit.inventory_role.cli_role_name`: ``teams/KmskitKeyInventory``).
            Default: ``/``, no path.
        external_id: the ``sts:ExternalId`` the trust policy asks for, given to the inventory as
            ``--external-id`` (2-1224 letters, digits and ``+=,.@:/_-``). Default: None, no
            external ID asked for.

    Attributes:
        role: the ``aws_iam.Role``.
        policy: its permission policy (an ``aws_iam.ManagedPolicy``; the NIST, HIPAA and PCI
            packs refuse inline policies), where ``AwsSolutions-IAM5[Resource::*]`` is
            acknowledged.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        caller_role_arn: str,
        role_name: str = DEFAULT_ROLE_NAME,
        role_path: str = "/",
        external_id: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        caller_root = _account_root("caller_role_arn", caller_role_arn, roots=False)[0]
        _check_role(role_name, role_path, "role_name", "role_path")
        _check_external_id(external_id)
        conditions = {"aws:PrincipalArn": caller_role_arn, **_session_conditions(external_id)}
        self.role = _named_role(
            self,
            stack_of(scope),
            ("role_name", role_name, role_path),
            "Read-only KMS access for kmskit key inventory",
            iam.ArnPrincipal(caller_root).with_conditions({"StringEquals": conditions}),
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="The KMS calls of kmskit key inventory",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="KeyInventory", actions=list(INVENTORY_ACTIONS), resources=["*"]
                )
            ],
        )
        acknowledge(self.policy, "AwsSolutions-IAM5[Resource::*]", WILDCARD_REASON)


class KeyInventoryCaller(Construct):
    """The role that runs ``kmskit key inventory --account`` (or
    ``--accounts-from-organization``): it may assume the :class:`KeyInventoryRole` of the
    accounts it reads, and nothing else.

    Deploy it in the account that runs the report, and give its ARN (:attr:`role_arn`) to
    each account's :class:`KeyInventoryRole` as ``caller_role_arn``.

    Args:
        caller_role_name: the role's name (1-64 letters, digits and ``+=,.@_-``), such as
            ``platform-inventory``. Required.
        caller_role_path: the role's IAM path, ``/`` or ``/<segment>/.../``. Default: ``/``,
            no path.
        trusted_principal_arns: who may assume this role: IAM role ARNs (an IAM Identity Center
            permission set's role,
            ``arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Inventory_0123456789abcdef``,
            is one), each trusted through its account's root limited by ``aws:PrincipalArn``
            to it, or account roots (``arn:aws:iam::111111111111:root``), which leave it to the
            IAM policies of that account. No wildcard. A token (a role made in the same App) is
            taken as a role ARN. Required, at least one.
        accounts: the 12-digit IDs of the accounts whose inventory role it may assume
            (``--account``), each by the role's exact ARN, in the partition of this stack's
            Region. Default: none (then ``organization_id`` is required).
        organization_id: the ID of the AWS Organization (``o-...``) whose every account it
            may read (``--accounts-from-organization``): ``sts:AssumeRole`` on the inventory
            role's name in any account, where ``aws:ResourceOrgID`` is this organization, and
            ``organizations:ListAccounts``. Default: None, no organization mode: the exact
            ARNs of ``accounts`` only, and no ``organizations:ListAccounts``.
        inventory_role_name: the name of the inventory roles it assumes (``role_name`` of their
            :class:`KeyInventoryRole`). Default: ``KmskitKeyInventory``.
        inventory_role_path: their IAM path (``role_path`` of their :class:`KeyInventoryRole`).
            Default: ``/``, no path.
        external_id: the external ID their trust asks for (``external_id`` of their
            :class:`KeyInventoryRole`, and ``--external-id``): this role may assume them only
            with it. Default: None: the policy has no condition on the external ID (this role
            may assume them with or without one; their trust policies decide).

    Attributes:
        role: the ``aws_iam.Role``.
        policy: its permission policy (an ``aws_iam.ManagedPolicy``): ``sts:AssumeRole`` on the
            inventory roles, under the inventory's session name
            (:data:`kmskit.inventory_role.ROLE_SESSION_NAME`), and
            ``organizations:ListAccounts`` in organization mode.
        role_arn: the role's ARN, as each :class:`KeyInventoryRole`'s ``caller_role_arn``
            names it (its path included).
        inventory_role_arns: the exact inventory role ARNs of ``accounts``, in their order.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        caller_role_name: str,
        trusted_principal_arns: Sequence[str],
        caller_role_path: str = "/",
        accounts: Sequence[str] = (),
        organization_id: str | None = None,
        inventory_role_name: str = DEFAULT_ROLE_NAME,
        inventory_role_path: str = "/",
        external_id: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        _check_role(caller_role_name, caller_role_path, "caller_role_name", "caller_role_path")
        _check_role(
            inventory_role_name, inventory_role_path, "inventory_role_name", "inventory_role_path"
        )
        _check_external_id(external_id)
        require(
            isinstance(trusted_principal_arns, Sequence)
            and not isinstance(trusted_principal_arns, str)
            and len(trusted_principal_arns) > 0,
            "trusted_principal_arns",
            f"must be a non-empty list of IAM role ARNs ({ROLE_ARN_FORM}) or account roots "
            f"({ROOT_ARN_FORM})",
            trusted_principal_arns,
        )
        trusted = [
            (arn, *_account_root("trusted_principal_arns", arn, roots=True))
            for arn in trusted_principal_arns
        ]
        require(
            isinstance(accounts, Sequence) and not isinstance(accounts, str),
            "accounts",
            "must be a list of 12-digit AWS account IDs",
            accounts,
        )
        accounts = list(dict.fromkeys(check_account_id("accounts", a) for a in accounts))
        if organization_id is not None:
            check_organization_id("organization_id", organization_id)
        require(
            bool(accounts) or organization_id is not None,
            "accounts",
            "must name at least one account unless organization_id is given (the caller could "
            "assume no role)",
            accounts,
        )
        stack = stack_of(scope)  # a new construct's stack is its scope's (one round trip less)
        facts = stack_facts(stack)
        # The partition of the stack's Region, written out when the Region is (one place writes
        # a role's ARN: kmskit.inventory_role.role_arn), else read at deploy time.
        partition_name = Aws.PARTITION if is_token(facts.region) else partition(facts.region)
        self.role_arn = role_arn(partition_name, facts.account, caller_role_name, caller_role_path)
        self.inventory_role_arns = [
            role_arn(partition_name, account, inventory_role_name, inventory_role_path)
            for account in accounts
        ]

        # A role is trusted through its account's root, limited to it by aws:PrincipalArn (as
        # KeyInventoryRole trusts the caller: the trust survives the role being made anew, as
        # IAM Identity Center does with its roles); an account root as it is.
        role_arns = [arn for arn, _, is_role in trusted if is_role]
        role_roots = list(dict.fromkeys(root for _, root, is_role in trusted if is_role))
        roots = list(dict.fromkeys(root for _, root, is_role in trusted if not is_role))
        by_roots = [iam.ArnPrincipal(root) for root in roots]
        assumed_by: iam.IPrincipal = (
            iam.CompositePrincipal(
                *(iam.ArnPrincipal(root) for root in role_roots)
            ).with_conditions({"StringEquals": {"aws:PrincipalArn": _one_or_list(role_arns)}})
            if role_arns
            else iam.CompositePrincipal(*by_roots)
        )
        self.role = _named_role(
            self,
            stack,
            ("caller_role_name", caller_role_name, caller_role_path),
            "Runs kmskit key inventory across accounts",
            assumed_by,
        )
        if role_arns and by_roots:
            trust = self.role.assume_role_policy
            assert trust is not None
            trust.add_statements(
                iam.PolicyStatement(actions=["sts:AssumeRole"], principals=by_roots)
            )

        conditions = _session_conditions(external_id)
        policy_statements = []
        if self.inventory_role_arns:
            policy_statements.append(
                iam.PolicyStatement(
                    sid="AssumeInventoryRoles",
                    actions=["sts:AssumeRole"],
                    resources=self.inventory_role_arns,
                    conditions={"StringEquals": conditions},
                )
            )
        organization_resource = role_arn(
            partition_name, "*", inventory_role_name, inventory_role_path
        )
        if organization_id is not None:
            policy_statements += [
                iam.PolicyStatement(
                    sid="AssumeOrganizationInventoryRoles",
                    actions=["sts:AssumeRole"],
                    resources=[organization_resource],
                    conditions={
                        "StringEquals": {**conditions, "aws:ResourceOrgID": organization_id}
                    },
                ),
                iam.PolicyStatement(
                    sid="ListOrganizationAccounts",
                    actions=["organizations:ListAccounts"],
                    resources=["*"],
                ),
            ]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="What kmskit key inventory needs to read other accounts",
            roles=[self.role],
            statements=policy_statements,
        )
        if organization_id is not None:
            shown = organization_resource.replace(Aws.PARTITION, "<AWS::Partition>")
            acknowledge_all(
                self.policy,
                [
                    ("AwsSolutions-IAM5[Resource::*]", LIST_ACCOUNTS_REASON),
                    (f"AwsSolutions-IAM5[Resource::{shown}]", ORGANIZATION_ROLES_REASON),
                ],
            )


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _check_role(name: object, path: object, name_prop: str, path_prop: str) -> None:
    """A role's name and IAM path, refused naming ``name_prop`` or ``path_prop`` (also where
    IAM's rules let a stringified number token through, which synth would fail on)."""
    require(
        isinstance(name, str) and bool(ROLE_NAME_PATTERN.match(name)),
        name_prop,
        ROLE_NAME_RULE,
        name,
    )
    check_no_number_token(name_prop, str(name))
    require(valid_role_path(path), path_prop, ROLE_PATH_RULE, path)
    check_no_number_token(path_prop, str(path))


def _session_conditions(external_id: str | None) -> dict[str, str]:
    """The ``StringEquals`` conditions of assuming an inventory role, which its trust asks for
    and the caller's policy allows: the inventory's session name, and ``external_id`` if any."""
    conditions = {"sts:RoleSessionName": ROLE_SESSION_NAME}
    if external_id is not None:
        conditions["sts:ExternalId"] = external_id
    return conditions


def _check_external_id(external_id: object) -> None:
    require(
        external_id is None
        or (isinstance(external_id, str) and bool(EXTERNAL_ID_PATTERN.match(external_id))),
        "external_id",
        EXTERNAL_ID_RULE,
        external_id,
    )


def _named_role(
    holder: Construct,
    stack: Stack,
    named: tuple[str, str, str],
    description: str,
    assumed_by: iam.IPrincipal,
) -> iam.Role:
    """``holder``'s role ``Role``, ``named`` ``(prop, name, path)``: the name is first taken in
    the account of ``holder``'s ``stack`` (IAM role names are unique in an account whatever
    their path, and not told apart by case), or refused naming ``prop``, the construct that has
    it and ``holder``. A path of ``/`` (IAM's default) is left out of the template."""
    prop, name, path = named
    other, where = names.reserve(
        stack, stack_facts(stack), ROLE_KIND, name.lower(), holder, account_wide=True
    )
    require(
        other is None,
        prop,
        f"must be unique within {where} (IAM role names are, whatever their path and case): "
        f"{other} already has it, and {holder.node.path} asks for it too (path {path})",
        name,
    )
    return iam.Role(
        holder,
        "Role",
        role_name=name,
        path=None if path == "/" else path,
        description=description,
        assumed_by=assumed_by,
    )


def _account_root(prop: str, arn: object, *, roots: bool) -> tuple[str, bool]:
    """The ARN of the root of ``arn``'s account, in its partition, and whether ``arn`` is a role
    (else an account root, taken only if ``roots``); for a token, taken as a role ARN, written
    so that CloudFormation reads both from the ARN at deploy time."""
    if isinstance(arn, str) and is_token(arn):
        parts = Fn.split(":", arn)
        root = Fn.join("", ["arn:", Fn.select(1, parts), ":iam::", Fn.select(4, parts), ":root"])
        return root, True
    principal = principal_arn(arn, roots=roots)
    require(principal is not None, prop, PRINCIPAL_ARN_RULE if roots else ROLE_ARN_RULE, arn)
    assert principal is not None
    return principal.root, principal.is_role
