"""The role ``kmskit key inventory --account/--accounts-from-organization`` assumes in each
account (docs/keys.md, "The inventory role and the caller's permissions").

Its permission policy allows the read-only KMS calls the inventory makes
(:data:`kmskit.inventory_role.INVENTORY_ACTIONS`) and nothing else; its trust policy lets one role
of the account that runs the report assume it, under the inventory's session name
(:data:`kmskit.inventory_role.ROLE_SESSION_NAME`), with an external ID if one is given.
"""

from __future__ import annotations

import re

from aws_cdk import Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib._validation import is_token, require
from constructs_lib.compliance import acknowledge
from kmskit.inventory_role import (
    DEFAULT_ROLE_NAME,
    EXTERNAL_ID_PATTERN,
    EXTERNAL_ID_RULE,
    INVENTORY_ACTIONS,
    ROLE_NAME_PATTERN,
    ROLE_NAME_RULE,
    ROLE_PATH_SEGMENT,
    ROLE_SESSION_NAME,
)

# arn:<partition>:iam::<account>:role/<path/><name>, IAM's characters for paths and names
# (the path rule --role-name checks too).
ROLE_ARN = re.compile(
    rf"^arn:(aws[a-z-]*):iam::([0-9]{{12}}):role/(?:{ROLE_PATH_SEGMENT}/)*[\w+=,.@-]{{1,64}}\Z",
    re.ASCII,
)
ROLE_ARN_FORM = "arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>"
WILDCARD_REASON = (
    "kms:ListKeys and kms:ListAliases act on no resource, and the key inventory reads every key "
    "of the account, whose IDs it learns from ListKeys, with DescribeKey, GetKeyRotationStatus, "
    "GetKeyPolicy and ListGrants: the policy allows these read-only calls and nothing else"
)
"""The reason of this construct's ``AwsSolutions-IAM5[Resource::*]`` acknowledgment."""


class KeyInventoryRole(Construct):
    """The role ``kmskit key inventory`` assumes in this account to read its keys.

    Args:
        caller_role_arn: the ARN of the role that runs ``kmskit key inventory --account`` (or
            ``--accounts-from-organization``), such as
            ``arn:aws:iam::111111111111:role/platform-inventory``; its account's root is the
            trust policy's principal, limited by ``aws:PrincipalArn`` to this role. A token (a
            role made in the same App) is taken as it is, its partition and account read from
            it at deploy time. Required.
        role_name: the role's name, the ``--role-name`` given to the inventory (1-64 letters,
            digits and ``+=,.@_-``). Default: ``KmskitKeyInventory``, the inventory's default.
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
        external_id: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        caller_root = _caller_root(caller_role_arn)
        require(
            isinstance(role_name, str) and bool(ROLE_NAME_PATTERN.match(role_name)),
            "role_name",
            ROLE_NAME_RULE,
            role_name,
        )
        require(
            external_id is None
            or (isinstance(external_id, str) and bool(EXTERNAL_ID_PATTERN.match(external_id))),
            "external_id",
            EXTERNAL_ID_RULE,
            external_id,
        )
        conditions = {
            "aws:PrincipalArn": caller_role_arn,
            "sts:RoleSessionName": ROLE_SESSION_NAME,
        }
        if external_id is not None:
            conditions["sts:ExternalId"] = external_id
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Read-only KMS access for kmskit key inventory",
            assumed_by=iam.ArnPrincipal(caller_root).with_conditions({"StringEquals": conditions}),
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


def _caller_root(caller_role_arn: object) -> str:
    """The ARN of the root of ``caller_role_arn``'s account, in its partition; for a token,
    written so that CloudFormation reads both from the ARN at deploy time."""
    if isinstance(caller_role_arn, str) and is_token(caller_role_arn):
        parts = Fn.split(":", caller_role_arn)
        return Fn.join("", ["arn:", Fn.select(1, parts), ":iam::", Fn.select(4, parts), ":root"])
    match = ROLE_ARN.match(caller_role_arn) if isinstance(caller_role_arn, str) else None
    require(
        match is not None,
        "caller_role_arn",
        f"must be an IAM role ARN, {ROLE_ARN_FORM}",
        caller_role_arn,
    )
    assert match is not None
    partition, account = match.groups()
    return f"arn:{partition}:iam::{account}:root"
