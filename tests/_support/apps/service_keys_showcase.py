"""Keys that AWS services use for the account, held to the gates.

``ServiceKeysShowcase`` (111111111111, us-east-1, where Route 53 signs with KMS keys):

* ``Dnssec``: DNSSEC signing of a public hosted zone with a key the construct makes (alias,
  default policy) and both DNSSEC alarms on an ``AlarmTopic``;
* ``ImportedZoneDnssec``: signing of a zone imported by ID with an existing custom-policy key
  and a named key-signing key, without alarms;
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
    from aws_cdk import aws_route53 as route53  # noqa: PLC0415

    from constructs_lib import (  # noqa: PLC0415
        AlarmTopic,
        CustomerManagedKey,
        DnssecSigningKey,
        KeyPolicy,
        KeyServicePrincipal,
    )
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    stack = cdk.Stack(app, STACK, env=cdk.Environment(account=ACCOUNT, region=REGION))

    zone = route53.PublicHostedZone(stack, "Zone", zone_name="example.com")
    alarms = AlarmTopic(stack, "DnssecAlarms", encryption_key=CustomerManagedKey(stack, "AlarmKey"))
    DnssecSigningKey(
        stack, "Dnssec", hosted_zone=zone, key_alias="alias/dnssec", alarm_topic=alarms
    )

    signer = CustomerManagedKey(
        stack,
        "ExistingSigner",
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        policy=KeyPolicy.custom(admins=[ADMIN_ARN]),
    )
    DnssecSigningKey(
        stack,
        "ImportedZoneDnssec",
        hosted_zone=route53.HostedZone.from_hosted_zone_id(stack, "Imported", IMPORTED_ZONE_ID),
        key=signer,
        key_signing_key_name="ksk_2026",
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
