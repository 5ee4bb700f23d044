"""The role ``kmskit key inventory`` assumes in an account (``KeyInventoryRole``), held to the
gates.

``KeyInventoryShowcase`` (222222222222, eu-west-1), an account the inventory reads:

* ``Inventory``: the default ``KmskitKeyInventory``, trusted by ``platform-inventory`` of
  111111111111, with an external ID;
* ``Caller``, a role of this stack, and ``CallerInventory``, a role named ``LocalInventory`` that
  trusts it by its ARN, a token.
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


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk import aws_iam as iam  # noqa: PLC0415

    from constructs_lib import KeyInventoryRole  # noqa: PLC0415
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    KeyInventoryRole(stack, "Inventory", caller_role_arn=CALLER_ARN, external_id=EXTERNAL_ID)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    KeyInventoryRole(
        stack, "CallerInventory", caller_role_arn=caller.role_arn, role_name="LocalInventory"
    )
    return app
