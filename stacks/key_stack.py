"""KeyStack: the keys of one account in one Region."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib import (
    SNAPSHOT_KEY_ACTIONS,
    CustomerManagedKey,
    ExternalAccount,
    KmsRequestQuotaAlarm,
    ReplicaKey,
)
from stacks.config import Destination, Environment, Organisation


class KeyStack(Stack):
    """The keys of one account in one Region.

    * ``data_key``: symmetric, rotated, AWS default policy; the account's buckets use it.
    * ``signing_key``: ECC NIST P-256 for SIGN_VERIFY.
    * ``global_key``: a multi-Region primary in the home Region, or its replica elsewhere
      (``global_primary`` is the home Region's KeyStack key).
    * ``snapshot_key`` (workload accounts): encrypts the snapshots shared with each backup
      account that ``replication.destinations`` names in this Region, whose principals may use
      it through EC2 and RDS only.
    * ``quota_alarm``: KMS request rate against the account's quota in this Region.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organisation: Organisation,
        environment: Environment,
        global_primary: CustomerManagedKey | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, cross_region_references=global_primary is not None, **kwargs)
        prefix = f"alias/{organisation.name}"
        where = f"{environment.account.alias} in {environment.region}"
        self.data_key = CustomerManagedKey(
            self, "DataKey", alias=f"{prefix}/data", description=f"Data key of {where}"
        )
        self.signing_key = CustomerManagedKey(
            self,
            "SigningKey",
            alias=f"{prefix}/signing",
            description=f"Signing key of {where}",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
        )
        self.global_key: CustomerManagedKey | ReplicaKey
        if global_primary is None:
            self.global_key = CustomerManagedKey(
                self,
                "GlobalKey",
                alias=f"{prefix}/global",
                description=f"Multi-Region key of {environment.account.alias} (primary)",
                multi_region=True,
            )
        else:
            self.global_key = ReplicaKey(
                self,
                "GlobalKey",
                primary=global_primary,
                alias=f"{prefix}/global",
                description=f"Multi-Region key of {environment.account.alias} (replica)",
            )
        self.snapshot_key: CustomerManagedKey | None = None
        if environment.account.role == "workload":
            self.snapshot_key = CustomerManagedKey(
                self,
                "SnapshotKey",
                alias=f"{prefix}/snapshots",
                description=f"Snapshots of {where} shared with the backup account",
            )
            # The staging copies shared with a backup account are encrypted with the snapshot
            # key of the destination's Region: only those accounts, and only there.
            for backup in organisation.accounts_with_role("backup"):
                if Destination(environment.region, backup) in organisation.replication.destinations:
                    self.snapshot_key.grant_to_account(
                        ExternalAccount(
                            account_id=backup.id,
                            via_services=("ec2", "rds"),
                            use_actions=SNAPSHOT_KEY_ACTIONS,
                        )
                    )
        self.quota_alarm = KmsRequestQuotaAlarm(self, "KmsQuota", encryption_key=self.data_key)
