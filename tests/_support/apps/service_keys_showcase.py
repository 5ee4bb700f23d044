"""Keys that AWS services use for the account, held to the gates.

``ServiceKeysShowcase`` (111111111111, us-east-1, where Route 53 signs with KMS keys):

* ``ExistingSigner``: a custom-policy signing key for one hosted zone, given by ID;
* ``AnyZoneSigner``: a custom-policy signing key for any hosted zone of the account;
* ``Ebs``: a custom-policy key that Auto Scaling's default service-linked role uses for the
  EBS volumes of the instances it launches;
* ``EbsWeb``: a default-policy key given the role with a custom suffix afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ACCOUNT = "111111111111"
REGION = "us-east-1"
ADMIN_ARN = f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"
IMPORTED_ZONE_ID = "Z0123456789ABCDEFGHIJ"
STACK = "ServiceKeysShowcase"


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk import aws_kms as kms  # noqa: PLC0415

    from constructs_lib import (  # noqa: PLC0415
        CustomerManagedKey,
        KeyPolicy,
        KeyServicePrincipal,
    )
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))

    signer = CustomerManagedKey(
        stack,
        "ExistingSigner",
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        policy=KeyPolicy.custom(admins=[ADMIN_ARN]),
    )
    signer.add_service_principal(
        KeyServicePrincipal.route53_dnssec(hosted_zone_ids=[IMPORTED_ZONE_ID])
    )
    CustomerManagedKey(
        stack,
        "AnyZoneSigner",
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        policy=KeyPolicy.custom(
            admins=[ADMIN_ARN], service_principals=[KeyServicePrincipal.route53_dnssec()]
        ),
    )

    CustomerManagedKey(
        stack,
        "Ebs",
        alias="alias/ebs",
        policy=KeyPolicy.custom(
            admins=[ADMIN_ARN],
            service_principals=[KeyServicePrincipal.autoscaling_service_linked_role()],
        ),
    )
    web = CustomerManagedKey(stack, "EbsWeb")
    web.add_service_principal(KeyServicePrincipal.autoscaling_service_linked_role(suffix="web"))
    return app
