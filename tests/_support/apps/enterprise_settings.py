"""The constructs under the CDK settings that platform teams impose on every App, held to the gates.

* the bootstrap qualifier ``abc123xyz`` through CDK's ``@aws-cdk/core:bootstrapQualifier``
  context (every account bootstrapped with ``cdk bootstrap --qualifier abc123xyz``);
* a permissions boundary through the ``@aws-cdk/core:permissionsBoundary`` context, named with
  the ``${Qualifier}`` placeholder (``cdk bootstrap --custom-permissions-boundary``'s convention);
* tags on everything (``cdk.Tags.of(app)``), one of them with the toolkit's own tag key;
* an Aspect giving every IAM role a path and a name prefix, matching roles as CloudFormation
  sees them (``AWS::IAM::Role``, so the roles CDK makes as plain ``CfnResource`` too);
* termination protection on every stack.

``Source`` (111111111111) holds every construct: keys with the default and a custom policy (one
multi-Region), an audit trail, a replicated bucket, an alarm topic with the quota alarm, a
snapshot replicator;
``Backup`` (333333333333) the receiver with a custom-policy key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SOURCE_ACCOUNT = "111111111111"
BACKUP_ACCOUNT = "333333333333"
REGION = "eu-west-1"
OTHER_REGION = "eu-central-1"
QUALIFIER = "abc123xyz"
BOUNDARY_NAME = "cdk-${Qualifier}-permissions-boundary"
ROLE_PATH = "/platform/"
ROLE_NAME_PREFIX = "platform-"
TAGS = {"cost-center": "cc-1234", "kmskit:replicator": "org-wide"}
SOURCE_KEY_CENTRAL = (
    f"arn:aws:kms:{OTHER_REGION}:{SOURCE_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)
BACKUP_KEY_CENTRAL = (
    f"arn:aws:kms:{OTHER_REGION}:{BACKUP_ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
)


def key_admin(account: str) -> str:
    return f"arn:aws:iam::{account}:role/KeyAdmin"


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415
    import jsii  # noqa: PLC0415
    from constructs import IConstruct  # noqa: PLC0415

    from constructs_lib import (  # noqa: PLC0415
        AlarmTopic,
        AuditTrail,
        BucketReplication,
        CustomerManagedKey,
        EncryptedBucket,
        ExternalAccount,
        KeyPolicy,
        KmsRequestQuotaAlarm,
        ReplicationDestination,
        SnapshotReceiver,
        SnapshotReplicator,
    )
    from stacks.app_builder import new_app  # noqa: PLC0415
    from stacks.config import cdk_json_context  # noqa: PLC0415

    app = new_app(
        context={
            **cdk_json_context(),
            "@aws-cdk/core:bootstrapQualifier": QUALIFIER,
            "@aws-cdk/core:permissionsBoundary": {"name": BOUNDARY_NAME},
        },
        outdir=outdir,
    )

    def stack(name: str, account: str) -> cdk.Stack:
        return cdk.Stack(
            app,
            name,
            env=cdk.Environment(account=account, region=REGION),
            termination_protection=True,
        )

    source = stack("Source", SOURCE_ACCOUNT)
    data_key = CustomerManagedKey(source, "DataKey", alias="alias/enterprise/data")
    sharing_key = CustomerManagedKey(
        source,
        "SharingKey",
        alias="alias/enterprise/sharing",
        policy=KeyPolicy.custom(
            admins=[key_admin(SOURCE_ACCOUNT)],
            external_accounts=[ExternalAccount(BACKUP_ACCOUNT, via_services=("ec2", "rds"))],
        ),
    )
    CustomerManagedKey(
        source,
        "GlobalKey",
        alias="alias/enterprise/global",
        multi_region=True,
        policy=KeyPolicy.custom(admins=[key_admin(SOURCE_ACCOUNT)]),
    )
    AuditTrail(source, "Audit")
    EncryptedBucket(
        source,
        "Data",
        encryption_key=data_key,
        replication=BucketReplication(
            bucket_name=f"workload-data-dr-{SOURCE_ACCOUNT}",
            encryption_key_arn=SOURCE_KEY_CENTRAL,
            region=OTHER_REGION,
        ),
    )
    topic = AlarmTopic(source, "Alarms", encryption_key=sharing_key)
    KmsRequestQuotaAlarm(source, "Quota", alarm_topic=topic)
    replicator = SnapshotReplicator(
        source,
        "Replicate",
        destinations=[
            ReplicationDestination(region=OTHER_REGION, kms_key_arn=SOURCE_KEY_CENTRAL),
            ReplicationDestination(
                region=REGION, account=BACKUP_ACCOUNT, kms_key_arn=sharing_key.key_arn
            ),
        ],
    )
    replicator.allow_in_key_policy(sharing_key)

    backup = stack("Backup", BACKUP_ACCOUNT)
    backup_key = CustomerManagedKey(
        backup,
        "BackupKey",
        alias="alias/enterprise/backup",
        policy=KeyPolicy.custom(admins=[key_admin(BACKUP_ACCOUNT)]),
    )
    SnapshotReceiver(
        backup,
        "Receive",
        source_accounts=[SOURCE_ACCOUNT],
        kms_key=backup_key.key,
        destinations=[ReplicationDestination(region=OTHER_REGION, kms_key_arn=BACKUP_KEY_CENTRAL)],
    )

    for key, value in TAGS.items():
        cdk.Tags.of(app).add(key, value)

    @jsii.implements(cdk.IAspect)
    class RolePathAndName:
        """An organisation's rule for roles, as CloudFormation sees them: CDK makes some roles
        (custom-resource providers, such as S3's auto-delete) as plain CfnResource, which an
        Aspect matching ``iam.CfnRole`` would miss."""

        def visit(self, node: IConstruct) -> None:
            if isinstance(node, cdk.CfnResource) and node.cfn_resource_type == "AWS::IAM::Role":
                node.add_property_override("Path", ROLE_PATH)
                name = ROLE_NAME_PREFIX + cdk.Names.unique_resource_name(node, max_length=50)
                node.add_property_override("RoleName", name)

    cdk.Aspects.of(app).add(RolePathAndName())
    return app
