"""Declared KMS grants (``KeyGrant``), held to the gates.

``GrantsShowcase`` (111111111111, eu-west-1), the key owner:

* ``Data``: a default-policy key; ``ReaderGrant`` lets the ``Reader`` role decrypt with it when
  the encryption context holds ``app=orders``;
* ``Shared``: a custom-policy key; ``WriterGrant`` (named, RETAIN, a retiring principal) lets a
  role of the account encrypt with exactly ``app=orders, stage=prod``: the key policy names the
  provider's role.

``GrantsShowcaseAsg`` (222222222222, eu-west-1), the Auto Scaling group's account: ``EbsGrant``
creates, on ``Shared`` given by its ARN, the grant that Auto Scaling's service-linked role of that
account needs to launch instances with encrypted EBS volumes (docs/keys.md, Declared grants).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ACCOUNT = "111111111111"
ASG_ACCOUNT = "222222222222"
REGION = "eu-west-1"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
WRITER_ARN = f"arn:aws:iam::{ACCOUNT}:role/OrdersWriter"
RETIRER_ARN = f"arn:aws:iam::{ACCOUNT}:role/GrantRetirer"
SHARED_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STACK = "GrantsShowcase"
ASG_STACK = "GrantsShowcaseAsg"


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk import RemovalPolicy  # noqa: PLC0415
    from aws_cdk import aws_iam as iam  # noqa: PLC0415

    from constructs_lib import (  # noqa: PLC0415
        AUTOSCALING_GRANT_OPERATIONS,
        CustomerManagedKey,
        KeyGrant,
        KeyPolicy,
        ManagedPolicyRole,
    )
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))
    data = CustomerManagedKey(stack, "Data", alias="alias/orders")
    reader = ManagedPolicyRole(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    KeyGrant(
        stack,
        "ReaderGrant",
        key=data,
        grantee_principal=reader,
        operations=["Decrypt", "DescribeKey"],
        encryption_context_subset={"app": "orders"},
    )
    shared = CustomerManagedKey(stack, "Shared", policy=KeyPolicy.custom(admins=[ADMIN_ARN]))
    KeyGrant(
        stack,
        "WriterGrant",
        key=shared.key,
        grantee_principal=WRITER_ARN,
        operations=("Encrypt", "GenerateDataKey"),
        encryption_context_equals={"app": "orders", "stage": "prod"},
        retiring_principal=RETIRER_ARN,
        name="orders-writer",
        removal_policy=RemovalPolicy.RETAIN,
    )

    asg = cdk.Stack(app, ASG_STACK, env=cdk.Environment(account=ASG_ACCOUNT, region=REGION))
    KeyGrant(
        asg,
        "EbsGrant",
        key=SHARED_KEY_ARN,
        grantee_principal=KeyGrant.autoscaling_service_linked_role(asg),
        operations=AUTOSCALING_GRANT_OPERATIONS,
    )
    return app
