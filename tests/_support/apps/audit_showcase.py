"""Every form of AuditTrail and EncryptedBucket, held to the gates.

* ``AuditDefault``: ``AuditTrail(stack, "Audit")`` with nothing else given.
* ``AuditWorkload``: a trail with a given key, its own bucket props (a GOVERNANCE Object Lock in
  days among them) and S3 data events for a data bucket; data buckets with and without
  cross-Region replication.
* ``AuditCentral``: the central audit bucket of the security account, for a member trail and an
  organization trail of other accounts, with a COMPLIANCE Object Lock in years (WORM log
  archive).
* ``AuditMember`` / ``AuditOrganization``: trails delivering to that central bucket.
* ``AuditExistingTrail``: KmsAuditAlarms in the management account on AWS Control Tower's
  log group (a new alarm topic, three accounts watched for grants) and on another trail's log
  group (an existing alarm topic, the stack's account).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECURITY = "111111111111"
WORKLOAD = "222222222222"
MANAGEMENT = "333333333333"
REGION = "eu-west-1"
DR_REGION = "eu-central-1"
ORGANIZATION_ID = "o-a1b2c3d4e5"
CENTRAL_BUCKET = "kmskit-audit-111111111111"
MEMBER_TRAIL = "workload-to-central"
ORGANIZATION_TRAIL = "organization-audit"
WORKLOAD_TRAIL = "workload-audit"
# The disaster-recovery Region's key (made there by the DR account set-up).
DR_KEY_ARN = f"arn:aws:kms:{DR_REGION}:{WORKLOAD}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
DR_BUCKET = "workload-data-dr-222222222222"
CONTROL_TOWER_LOG_GROUP = "aws-controltower/CloudTrailLogs"
OTHER_TRAIL_LOG_GROUP = "/aws/cloudtrail/platform-trail"


def build(outdir: Path) -> Any:
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk import aws_logs as logs  # noqa: PLC0415
    from aws_cdk import aws_s3 as s3  # noqa: PLC0415

    from constructs_lib import (  # noqa: PLC0415
        AlarmTopic,
        AuditBucket,
        AuditTrail,
        BucketObjectLock,
        BucketReplication,
        CentralAuditBucket,
        CustomerManagedKey,
        EncryptedBucket,
        KmsAuditAlarms,
        TrailSource,
    )
    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)

    def env(account: str) -> cdk.Environment:
        return cdk.Environment(account=account, region=REGION)

    default = cdk.Stack(app, "AuditDefault", env=env(SECURITY))
    AuditTrail(default, "Audit")

    workload = cdk.Stack(app, "AuditWorkload", env=env(WORKLOAD))
    data_key = CustomerManagedKey(workload, "DataKey", alias="alias/workload/data")
    replicated = EncryptedBucket(
        workload,
        "Data",
        encryption_key=data_key.key,
        replication=BucketReplication(
            bucket_name=DR_BUCKET, encryption_key_arn=DR_KEY_ARN, region=DR_REGION
        ),
    )
    reports = EncryptedBucket(
        workload,
        "Reports",
        encryption_key=data_key,
        noncurrent_version_retention_days=30,
        access_log_retention_days=90,
    )
    trail_key = CustomerManagedKey(workload, "TrailKey", alias="alias/workload/audit")
    AuditTrail(
        workload,
        "Audit",
        trail_name=WORKLOAD_TRAIL,
        encryption_key=trail_key,
        data_event_buckets=[replicated, reports.bucket],
        bucket_props={
            "noncurrent_version_retention_days": 365,
            "object_lock": BucketObjectLock(s3.ObjectLockMode.GOVERNANCE, days=365),
        },
        s3_key_prefix="trail",
    )

    central = cdk.Stack(app, "AuditCentral", env=env(SECURITY))
    AuditBucket(
        central,
        "CentralAudit",
        encryption_key=CustomerManagedKey(central, "AuditKey", alias="alias/security/audit"),
        bucket_name=CENTRAL_BUCKET,
        object_lock=BucketObjectLock(s3.ObjectLockMode.COMPLIANCE, years=1),
        sources=[
            TrailSource(account=WORKLOAD, trail_name=MEMBER_TRAIL, region=REGION),
            TrailSource(
                account=MANAGEMENT,
                trail_name=ORGANIZATION_TRAIL,
                region=REGION,
                organization_id=ORGANIZATION_ID,
            ),
        ],
    )

    member = cdk.Stack(app, "AuditMember", env=env(WORKLOAD))
    AuditTrail(
        member,
        "Audit",
        trail_name=MEMBER_TRAIL,
        central_bucket=CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account=SECURITY),
    )

    organization = cdk.Stack(app, "AuditOrganization", env=env(MANAGEMENT))
    AuditTrail(
        organization,
        "Audit",
        trail_name=ORGANIZATION_TRAIL,
        organization_id=ORGANIZATION_ID,
        grant_alarm_accounts=[MANAGEMENT, SECURITY],
        central_bucket=CentralAuditBucket(bucket_name=CENTRAL_BUCKET, account=SECURITY),
    )

    existing = cdk.Stack(app, "AuditExistingTrail", env=env(MANAGEMENT))
    alarm_key = CustomerManagedKey(existing, "AlarmKey", alias="alias/security/audit-alarms")
    KmsAuditAlarms(
        existing,
        "ControlTowerAlarms",
        log_group=logs.LogGroup.from_log_group_name(
            existing, "ControlTowerLogs", CONTROL_TOWER_LOG_GROUP
        ),
        accounts=[MANAGEMENT, SECURITY, WORKLOAD],
        encryption_key=alarm_key,
    )
    KmsAuditAlarms(
        existing,
        "PlatformTrailAlarms",
        log_group=logs.LogGroup.from_log_group_name(
            existing, "PlatformTrailLogs", OTHER_TRAIL_LOG_GROUP
        ),
        alarm_topic=AlarmTopic(existing, "SecurityAlarms", encryption_key=alarm_key),
    )

    return app
