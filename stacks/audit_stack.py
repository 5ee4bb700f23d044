"""AuditStack: one per account, in the home Region.

Every account's trail delivers to the central audit bucket in the security account. The bucket's
name is derived from the organisation (trails in other accounts cannot reference it), and its
policy lists every trail by ARN (``aws:SourceArn``). With ``key_inventory`` configured, the stack
also holds the account's ``kmskit key inventory`` role (IAM is global: one per account), and in
``key_inventory.account``, with ``caller_trusted_principal_arns``, the caller role that assumes
them (every account's of the organisation by its exact ARN, and with ``organization_id`` every
account's of that AWS Organization); both under the IAM paths the configuration gives.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib import (
    AuditBucket,
    AuditTrail,
    BucketObjectLock,
    CentralAuditBucket,
    CustomerManagedKey,
    KeyInventoryCaller,
    KeyInventoryRole,
    TrailSource,
)
from kmskit.aws_names import partition
from stacks.config import LOG_RETENTION_DAYS, Account, Organisation


def trail_name(organisation: Organisation, account: Account) -> str:
    return f"{organisation.name}-{account.alias}"


def central_bucket_name(organisation: Organisation) -> str:
    security = organisation.security_account
    return f"{organisation.name}-audit-{security.id}-{organisation.home_region}"


class AuditStack(Stack):
    """The account's CIS trail; in the security account also the central audit bucket (with S3
    Object Lock when the configuration has ``audit.object_lock``).

    Attributes:
        trail: the :class:`AuditTrail`.
        central_bucket: the :class:`AuditBucket` (security account only, else None).
        key_inventory_role: the :class:`KeyInventoryRole` that ``kmskit key inventory`` assumes
            in this account (None without ``key_inventory`` in the configuration).
        key_inventory_caller: the :class:`KeyInventoryCaller` that assumes every account's
            inventory role (in ``key_inventory.account`` with
            ``key_inventory.caller_trusted_principal_arns`` only, else None).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organisation: Organisation,
        account: Account,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        retention = logs.RetentionDays[LOG_RETENTION_DAYS[organisation.log_retention_days]]
        name = trail_name(organisation, account)
        self.central_bucket: AuditBucket | None = None
        if account.role == "security":
            bucket_key = CustomerManagedKey(
                self,
                "AuditBucketKey",
                alias=f"alias/{organisation.name}/audit-bucket",
                description="Central audit bucket of the organisation",
            )
            lock = organisation.audit_object_lock
            self.central_bucket = AuditBucket(
                self,
                "CentralBucket",
                encryption_key=bucket_key,
                bucket_name=central_bucket_name(organisation),
                object_lock=None
                if lock is None
                else BucketObjectLock(
                    s3.ObjectLockMode[lock.mode], days=lock.days, years=lock.years
                ),
                sources=[
                    TrailSource(
                        account=member.id,
                        trail_name=trail_name(organisation, member),
                        region=organisation.home_region,
                    )
                    for member in organisation.accounts
                ],
            )
            self.trail = AuditTrail(
                self,
                "Trail",
                trail_name=name,
                bucket=self.central_bucket,
                log_retention=retention,
            )
        else:
            self.trail = AuditTrail(
                self,
                "Trail",
                trail_name=name,
                central_bucket=CentralAuditBucket(
                    bucket_name=central_bucket_name(organisation),
                    account=organisation.security_account.id,
                ),
                log_retention=retention,
            )
        self.key_inventory_role: KeyInventoryRole | None = None
        self.key_inventory_caller: KeyInventoryCaller | None = None
        inventory = organisation.key_inventory
        if inventory is not None:
            self.key_inventory_role = KeyInventoryRole(
                self,
                "KeyInventoryRole",
                caller_role_arn=inventory.caller_role_arn(partition(organisation.home_region)),
                role_path=inventory.inventory_role_path,
            )
            if inventory.account == account and inventory.caller_trusted_principal_arns:
                self.key_inventory_caller = KeyInventoryCaller(
                    self,
                    "KeyInventoryCaller",
                    caller_role_name=inventory.caller_role_name,
                    caller_role_path=inventory.caller_role_path,
                    trusted_principal_arns=list(inventory.caller_trusted_principal_arns),
                    accounts=[member.id for member in organisation.accounts],
                    organization_id=inventory.organization_id,
                    inventory_role_path=inventory.inventory_role_path,
                )
