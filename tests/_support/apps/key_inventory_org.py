"""The example organisation's ``key_inventory`` with IAM paths and organization mode, held to
the gates: the Audit stack of every account of cdk.json's organisation (the stacks that
``key_inventory`` changes), built from a configuration whose ``key_inventory`` has

* ``caller_role_path`` ``/platform/``: the caller ``platform-inventory`` of the security
  account, assumed by an IAM Identity Center role;
* ``inventory_role_path`` ``/platform/kms/``: every account's ``KmskitKeyInventory``;
* ``organization_id``: the caller may read every account of that AWS Organization.

The two paths differ, so that a test can tell which role took which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORGANIZATION_ID = "o-a1b2c3d4e5"
CALLER_ROLE_PATH = "/platform/"
INVENTORY_ROLE_PATH = "/platform/kms/"
SSO_ROLE_ARN = (
    "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_PlatformInventory_0123456789abcdef"
)
KEY_INVENTORY = {
    "account": "security",
    "caller_role_name": "platform-inventory",
    "caller_role_path": CALLER_ROLE_PATH,
    "caller_trusted_principal_arns": [SSO_ROLE_ARN],
    "inventory_role_path": INVENTORY_ROLE_PATH,
    "organization_id": ORGANIZATION_ID,
}


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415

    from stacks.app_builder import new_app  # noqa: PLC0415
    from stacks.audit_stack import AuditStack  # noqa: PLC0415
    from stacks.config import (  # noqa: PLC0415
        ORGANISATION_CONTEXT_KEY,
        cdk_json_context,
        load_organisation,
    )

    context = cdk_json_context()
    context[ORGANISATION_CONTEXT_KEY] = {
        **context[ORGANISATION_CONTEXT_KEY],
        "key_inventory": KEY_INVENTORY,
    }
    app = new_app(context=context, outdir=outdir)
    organisation = load_organisation(context[ORGANISATION_CONTEXT_KEY])
    for account in organisation.accounts:
        AuditStack(
            app,
            f"{account.stage_id}-Audit",
            organisation=organisation,
            account=account,
            env=cdk.Environment(account=account.id, region=organisation.home_region),
        )
    return app
