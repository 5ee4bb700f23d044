"""The roles of ``kmskit key inventory`` across accounts (``KeyInventoryRole``,
``KeyInventoryCaller``), held to the gates.

``KeyInventoryShowcase`` (222222222222, eu-west-1), an account the inventory reads:

* ``Inventory``: the default ``KmskitKeyInventory``, trusted by ``platform-inventory`` of
  111111111111, with an external ID;
* ``Caller``, a role of this stack, and ``CallerInventory``, a role named ``LocalInventory`` that
  trusts it by its ARN, a token;
* ``PathInventory``: ``PathInventory`` with the path ``/kmskit/``, trusted by
  ``/teams/platform/path-inventory`` of 111111111111.

``KeyInventoryCallerShowcase`` (111111111111, eu-west-1), the account that runs the report:

* ``Caller``: ``platform-inventory``, assumed by an IAM Identity Center role, that reads
  ``Inventory`` of 222222222222 and this account (with the external ID), and every account of an
  organization;
* ``PathCaller``: ``path-inventory`` with the path ``/teams/platform/``, assumed through the
  account root, that reads ``PathInventory`` of 222222222222 only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ACCOUNT = "222222222222"
CALLER_ACCOUNT = "111111111111"
REGION = "eu-west-1"
CALLER_ARN = f"arn:aws:iam::{CALLER_ACCOUNT}:role/platform-inventory"
EXTERNAL_ID = "example-org:kms-inventory"
STACK = "KeyInventoryShowcase"
CALLER_STACK = "KeyInventoryCallerShowcase"
ORGANIZATION_ID = "o-a1b2c3d4e5"
SSO_ROLE_ARN = (
    f"arn:aws:iam::{CALLER_ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_PlatformInventory_0123456789abcdef"
)
PATH_INVENTORY = ("PathInventory", "/kmskit/")
PATH_CALLER = ("path-inventory", "/teams/platform/")


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk import aws_iam as iam  # noqa: PLC0415

    from constructs_lib import KeyInventoryCaller, KeyInventoryRole  # noqa: PLC0415
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    caller_stack = cdk.Stack(
        app, CALLER_STACK, env=cdk.Environment(account=CALLER_ACCOUNT, region=REGION)
    )
    KeyInventoryCaller(
        caller_stack,
        "Caller",
        caller_role_name="platform-inventory",
        trusted_principal_arns=[SSO_ROLE_ARN],
        accounts=[ACCOUNT, CALLER_ACCOUNT],
        organization_id=ORGANIZATION_ID,
        external_id=EXTERNAL_ID,
    )
    path_caller = KeyInventoryCaller(
        caller_stack,
        "PathCaller",
        caller_role_name=PATH_CALLER[0],
        caller_role_path=PATH_CALLER[1],
        trusted_principal_arns=[f"arn:aws:iam::{CALLER_ACCOUNT}:root"],
        accounts=[ACCOUNT],
        inventory_role_name=PATH_INVENTORY[0],
        inventory_role_path=PATH_INVENTORY[1],
    )

    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    KeyInventoryRole(stack, "Inventory", caller_role_arn=CALLER_ARN, external_id=EXTERNAL_ID)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    KeyInventoryRole(
        stack, "CallerInventory", caller_role_arn=caller.role_arn, role_name="LocalInventory"
    )
    KeyInventoryRole(
        stack,
        "PathInventory",
        caller_role_arn=path_caller.role_arn,
        role_name=PATH_INVENTORY[0],
        role_path=PATH_INVENTORY[1],
    )
    return app
