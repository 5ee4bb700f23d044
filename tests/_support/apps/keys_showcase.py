"""Every kind of key the toolkit makes, held to the gates.

* ``KeysShowcase`` (111111111111, eu-west-1): a symmetric key with the AWS default policy; a
  symmetric key with a custom policy using every role (admins, users, service users, three kinds
  of external account, CloudTrail, CloudWatch Logs, an alarm publisher, an extra statement); RSA
  encryption, ECC signing, HMAC and ECC key-agreement keys; a multi-Region primary; a key for
  imported material, with its expiry alarm; the KMS request-quota alarm.
* ``KeysShowcaseReplica`` (111111111111, eu-central-1): the replica of the multi-Region primary,
  its custom policy naming the primary's roles by ARN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ACCOUNT = "111111111111"
REGION = "eu-west-1"
REPLICA_REGION = "eu-central-1"
PARTNER_ACCOUNT = "222222222222"
BACKUP_ACCOUNT = "333333333333"
READER_ARN = "arn:aws:iam::444444444444:role/Reader"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/organisation"
AUDITOR_ARN = f"arn:aws:iam::{ACCOUNT}:role/Auditor"
KEY_ADMIN_NAME = "KeysShowcaseKeyAdmin"
APP_ROLE_NAME = "KeysShowcaseApp"


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk import aws_iam as iam  # noqa: PLC0415
    from aws_cdk import aws_kms as kms  # noqa: PLC0415

    from constructs_lib import (  # noqa: PLC0415
        CustomerManagedKey,
        ExternalAccount,
        KeyMaterialExpiryAlarm,
        KeyPolicy,
        KeyServicePrincipal,
        KmsRequestQuotaAlarm,
        ReplicaKey,
    )
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    stack = cdk.Stack(app, "KeysShowcase", env=cdk.Environment(account=ACCOUNT, region=REGION))
    # Named, so that the replica's policy (in another Region) can name them by ARN.
    admin = iam.Role(
        stack, "KeyAdmin", role_name=KEY_ADMIN_NAME, assumed_by=iam.AccountRootPrincipal()
    )
    app_role = iam.Role(
        stack, "App", role_name=APP_ROLE_NAME, assumed_by=iam.AccountRootPrincipal()
    )

    CustomerManagedKey(stack, "Data", alias="alias/app-data")

    shared = CustomerManagedKey(
        stack,
        "Shared",
        alias="alias/shared",
        policy=KeyPolicy.custom(
            admins=[admin],
            users=[app_role],
            service_users=[app_role],
            external_accounts=[
                PARTNER_ACCOUNT,
                ExternalAccount(
                    account_id=BACKUP_ACCOUNT,
                    via_services=("ec2", "rds"),
                    require_caller_account=True,
                ),
                READER_ARN,
            ],
            service_principals=[
                KeyServicePrincipal.cloudtrail(trail_arn=TRAIL_ARN),
                KeyServicePrincipal.cloudwatch_logs(log_group_name="/app/*"),
            ],
            statements=[
                iam.PolicyStatement(
                    sid="AuditorsReadKeyPolicy",
                    principals=[iam.ArnPrincipal(AUDITOR_ARN)],
                    actions=["kms:DescribeKey", "kms:GetKeyPolicy"],
                    resources=["*"],
                )
            ],
        ),
    )

    def named_roles() -> KeyPolicy:
        return KeyPolicy.custom(admins=[admin], users=[app_role])

    CustomerManagedKey(
        stack,
        "RsaEncryption",
        alias="alias/rsa-encryption",
        key_spec=kms.KeySpec.RSA_3072,
        key_usage=kms.KeyUsage.ENCRYPT_DECRYPT,
        policy=named_roles(),
    )
    CustomerManagedKey(
        stack,
        "Signer",
        alias="alias/signer",
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        policy=named_roles(),
    )
    CustomerManagedKey(
        stack,
        "Mac",
        alias="alias/mac",
        key_spec=kms.KeySpec.HMAC_256,
        policy=named_roles(),
    )
    CustomerManagedKey(
        stack,
        "Agreement",
        alias="alias/agreement",
        key_spec=kms.KeySpec.ECC_NIST_P384,
        key_usage=kms.KeyUsage.KEY_AGREEMENT,
        policy=named_roles(),
    )
    primary = CustomerManagedKey(
        stack, "Global", alias="alias/global", multi_region=True, policy=named_roles()
    )
    imported = CustomerManagedKey(
        stack,
        "Imported",
        alias="alias/imported",
        origin="EXTERNAL",
        pending_window=cdk.Duration.days(7),
        policy=named_roles(),
    )
    quota = KmsRequestQuotaAlarm(stack, "KmsQuota", encryption_key=shared, threshold_percent=75)
    KeyMaterialExpiryAlarm(stack, "ImportedExpiry", key=imported, alarm_topic=quota.topic)

    replica_stack = cdk.Stack(
        app,
        "KeysShowcaseReplica",
        env=cdk.Environment(account=ACCOUNT, region=REPLICA_REGION),
        cross_region_references=True,
    )
    # The primary's policy names the roles of its stack, which the replica's stack would reach
    # only through a reference across Regions: the replica names the same roles by ARN.
    ReplicaKey(
        replica_stack,
        "GlobalReplica",
        primary=primary,
        alias="alias/global",
        policy=KeyPolicy.custom(
            admins=[f"arn:aws:iam::{ACCOUNT}:role/{KEY_ADMIN_NAME}"],
            users=[f"arn:aws:iam::{ACCOUNT}:role/{APP_ROLE_NAME}"],
        ),
    )
    return app
