"""Snapshot replication as a platform team deploys it, held to the gates.

* ``Source`` (111111111111, eu-west-1): a replicator copying EBS, RDS and Aurora snapshots to
  eu-central-1 in the same account, and to eu-west-1 of the backup account 333333333333 through
  a sharing key whose policy lets that account in.
* ``Backup`` (333333333333, eu-west-1): the receiver, re-encrypting with the backup account's key
  and copying on to eu-central-1.

Both put cost-allocation tags on their copies (``copy_tags``).

``build(outdir, custom_queue_keys=True)`` gives the replicator and the receiver a queue key
(``encryption_key``) with a custom ``KeyPolicy`` each, which names no root to delegate to IAM;
``build(outdir, resource_types=("EBS",))`` has both replicate only those kinds
(``tests/lambdas/test_snapshot_iam.py`` runs the scenario on each variant).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

SOURCE_ACCOUNT = "111111111111"
BACKUP_ACCOUNT = "333333333333"
REGION = "eu-west-1"
OTHER_REGION = "eu-central-1"
SOURCE_KEY_CENTRAL = (
    f"arn:aws:kms:{OTHER_REGION}:{SOURCE_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)
BACKUP_KEY_CENTRAL = (
    f"arn:aws:kms:{OTHER_REGION}:{BACKUP_ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
)
ALL_KINDS = ("EBS", "RDS", "AURORA")
# Cost-allocation tags on every copy (``copy_tags``): the copiers' tagging statements name these
# keys (aws:TagKeys), and tests/lambdas/test_snapshot_iam.py checks the runtime sends them.
REPLICATOR_COPY_TAGS = {"CostCenter": "cc-1234", "Owner": "platform-team"}
RECEIVER_COPY_TAGS = {"CostCenter": "cc-9999"}


def build(
    outdir: Path, *, custom_queue_keys: bool = False, resource_types: Sequence[str] = ALL_KINDS
) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415

    from constructs_lib import (  # noqa: PLC0415
        CustomerManagedKey,
        ExternalAccount,
        KeyPolicy,
        ReplicationDestination,
        SnapshotReceiver,
        SnapshotReplicator,
    )
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    source = cdk.Stack(app, "Source", env=cdk.Environment(account=SOURCE_ACCOUNT, region=REGION))
    sharing_key = CustomerManagedKey(
        source,
        "SharingKey",
        alias="alias/snapshot-sharing",
        policy=KeyPolicy.custom(
            admins=[f"arn:aws:iam::{SOURCE_ACCOUNT}:role/KeyAdmin"],
            external_accounts=[
                ExternalAccount(BACKUP_ACCOUNT, via_services=("ec2", "rds")),
            ],
        ),
    )

    def queue_key(stack: cdk.Stack, account: str) -> CustomerManagedKey | None:
        if not custom_queue_keys:
            return None  # the construct makes one with the default policy
        return CustomerManagedKey(
            stack,
            "QueueKey",
            policy=KeyPolicy.custom(admins=[f"arn:aws:iam::{account}:role/KeyAdmin"]),
        )

    replicator = SnapshotReplicator(
        source,
        "Replicate",
        encryption_key=queue_key(source, SOURCE_ACCOUNT),
        resource_types=list(resource_types),
        selection_tag=("backup", "replicate"),
        destinations=[
            ReplicationDestination(region=OTHER_REGION, kms_key_arn=SOURCE_KEY_CENTRAL),
            ReplicationDestination(
                region=REGION, account=BACKUP_ACCOUNT, kms_key_arn=sharing_key.key_arn
            ),
        ],
        retention=cdk.Duration.days(14),
        copy_tags=REPLICATOR_COPY_TAGS,
    )
    # The sharing key's policy names no root: let the copier in, through EC2 and RDS only.
    replicator.allow_in_key_policy(sharing_key)

    backup = cdk.Stack(app, "Backup", env=cdk.Environment(account=BACKUP_ACCOUNT, region=REGION))
    backup_key = CustomerManagedKey(backup, "BackupKey", alias="alias/snapshot-backup")
    SnapshotReceiver(
        backup,
        "Receive",
        source_accounts=[SOURCE_ACCOUNT],
        resource_types=list(resource_types),
        kms_key=backup_key.key,
        encryption_key=queue_key(backup, BACKUP_ACCOUNT),
        destinations=[ReplicationDestination(region=OTHER_REGION, kms_key_arn=BACKUP_KEY_CENTRAL)],
        retention=cdk.Duration.days(35),
        copy_tags=RECEIVER_COPY_TAGS,
    )
    return app
