"""Every kind of key the toolkit makes, in one stack, held to the gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ACCOUNT = "111111111111"
REGION = "eu-west-1"


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415

    from constructs_lib import CustomerManagedKey, add_compliance_checks  # noqa: PLC0415
    from stacks.config import cdk_json_context  # noqa: PLC0415

    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    stack = cdk.Stack(app, "KeysShowcase", env=cdk.Environment(account=ACCOUNT, region=REGION))
    CustomerManagedKey(stack, "Data", alias="alias/app-data")
    add_compliance_checks(app)
    return app
