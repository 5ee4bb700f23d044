"""Early warning before KMS throttles the account: request rate as a percentage of the quota.

KMS publishes the account's request count per minute to ``AWS/Usage`` (``CallCount`` with
Service ``KMS``, Type ``API``, Class ``None`` and a Resource such as
``CryptographicOperationsSymmetric``), and CloudWatch metric math can read the matching quota
with ``SERVICE_QUOTA()``. The quotas are per second, so the alarm compares

    100 * (CallCount / PERIOD(CallCount)) / SERVICE_QUOTA(CallCount)

(average requests per second over the period, as a percentage of the quota) with a threshold.
Calls that AWS services make for the account (S3, EBS, Secrets Manager, ...) count too.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib import _durations as durations
from constructs_lib._validation import ConstructPropError, check_alarm_name, require
from constructs_lib.alarm_topic import AlarmTopic, given_or_new_topic, reserve_alarm_name
from constructs_lib.keys import CustomerManagedKey, ReplicaKey

DEFAULT_RESOURCE = "CryptographicOperationsSymmetric"
KNOWN_RESOURCES = (
    "CryptographicOperationsSymmetric",
    "CryptographicOperationsRsa",
    "CryptographicOperationsEcc",
)
"""The shared cryptographic-operation quotas (:data:`SHARED_QUOTA_OPERATIONS`)."""
REQUEST_QUOTA_OPERATIONS = (
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "GetKeyLastUsage",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
)
"""The KMS API operations with a request quota of their own, each an ``AWS/Usage`` Resource
named as the operation (KMS developer guide, "Request quotas": "<operation> request rate")."""
SHARED_QUOTA_OPERATIONS = {
    **dict.fromkeys(
        (
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateMac",
            "GenerateRandom",
            "VerifyMac",
        ),
        "CryptographicOperationsSymmetric",
    ),
    **dict.fromkeys(
        ("Decrypt", "Encrypt", "ReEncrypt"),
        "CryptographicOperationsSymmetric (CryptographicOperationsRsa with RSA keys)",
    ),
    **dict.fromkeys(
        ("Sign", "Verify"),
        "CryptographicOperationsRsa or CryptographicOperationsEcc (by the key's type)",
    ),
    "DeriveSharedSecret": "CryptographicOperationsEcc",
}
"""Cryptographic operations that count against a shared quota rather than one of their own:
SERVICE_QUOTA() has no quota for them, and an alarm on them would never fire."""
MAX_WINDOW_SHORT_PERIODS = 86_400
"""Longest period x evaluation_periods CloudWatch accepts for periods under an hour (s)."""
MAX_WINDOW = 604_800
"""Longest period x evaluation_periods CloudWatch accepts otherwise (s)."""


class KmsRequestQuotaAlarm(Construct):
    """A CloudWatch alarm on the account's KMS request rate against its Service Quota.

    Give either ``alarm_topic`` (an existing :class:`AlarmTopic`) or ``encryption_key`` (an
    AlarmTopic encrypted with it is created), not both.

    Args:
        alarm_topic: the topic the alarm publishes to. Default: a new AlarmTopic.
        encryption_key: symmetric CMK for the new topic (a :class:`CustomerManagedKey` or
            :class:`ReplicaKey`, or its ``.key``). Default: none (give ``alarm_topic``).
        resource: the ``AWS/Usage`` Resource dimension, i.e. which quota: one of
            :data:`KNOWN_RESOURCES` or a KMS API operation with a quota of its own
            (:data:`REQUEST_QUOTA_OPERATIONS`: ``DescribeKey``, ``CreateGrant``, ...). Anything
            else is refused (a misspelled Resource has no data, and an operation of a shared
            quota, such as ``Decrypt``, has no quota of its own: the alarm would never fire),
            an operation of :data:`SHARED_QUOTA_OPERATIONS` naming its shared quota. Default:
            ``CryptographicOperationsSymmetric`` (Encrypt, Decrypt, GenerateDataKey*, ...
            with symmetric keys, shared by the whole account and Region).
        threshold_percent: alarm at this percentage of the quota, more than 0 and at most 100.
            Default: 80.
        period: averaging window, a whole number of minutes (usage is published per minute).
            Default: 1 minute.
        evaluation_periods: periods looked at; period x evaluation_periods at most one day
            (periods under an hour) or seven days. Default: 5.
        datapoints_to_alarm: of those, how many must breach. Default: 3 (a sustained rise, not
            one busy minute).
        alarm_name: 1-255 characters without ASCII control characters, unique in the account
            and Region (another construct of the App with that name in the same environment is
            refused). Default: generated by CloudFormation.

    Attributes:
        alarm: the ``aws_cloudwatch.Alarm``.
        topic: the :class:`AlarmTopic` it notifies (on ALARM and on OK).
        utilization: the ``aws_cloudwatch.MathExpression`` (percent of the quota).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alarm_topic: AlarmTopic | None = None,
        encryption_key: CustomerManagedKey | ReplicaKey | kms.IKey | None = None,
        resource: str = DEFAULT_RESOURCE,
        threshold_percent: float = 80,
        period: Duration | None = None,
        evaluation_periods: int = 5,
        datapoints_to_alarm: int = 3,
        alarm_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        shared = SHARED_QUOTA_OPERATIONS.get(resource) if isinstance(resource, str) else None
        require(
            shared is None,
            "resource",
            f"must be a Resource with a quota of its own: '{resource}' counts against {shared}, "
            "a shared quota; give that instead",
            resource,
        )
        require(
            isinstance(resource, str)
            and (resource in KNOWN_RESOURCES or resource in REQUEST_QUOTA_OPERATIONS),
            "resource",
            "must be an AWS/Usage Resource of KMS: one of the shared quotas "
            f"{', '.join(KNOWN_RESOURCES)}, or a KMS API operation with a quota of its own "
            f"({', '.join(REQUEST_QUOTA_OPERATIONS)})",
            resource,
        )
        # The numbers' checks word a deploy-time number as its token only when they fail (one
        # jsii round trip): a number token encodes as about -1.9e289, which no check accepts.
        if not (_is_number(threshold_percent) and 0 < threshold_percent <= 100):
            raise ConstructPropError(
                "threshold_percent",
                "must be a percentage of the quota, more than 0 and at most 100",
                durations.shown_number(threshold_percent),
            )
        period = period if period is not None else durations.minutes(1)
        if not isinstance(period, Duration):  # worded only then: a number token is a round trip
            raise ConstructPropError("period", "must be a Duration", durations.shown_number(period))
        seconds = durations.literal_amount("period", period, "seconds")
        if seconds < 60 or seconds % 60 != 0:
            raise ConstructPropError(
                "period",
                "must be a whole number of minutes (AWS/Usage is published per minute)",
                period.to_human_string(),
            )
        if not (
            isinstance(evaluation_periods, int)
            and not isinstance(evaluation_periods, bool)
            and evaluation_periods >= 1
        ):
            raise ConstructPropError(
                "evaluation_periods",
                "must be a whole number of at least 1",
                durations.shown_number(evaluation_periods),
            )
        # PutMetricAlarm: period x evaluation periods at most one day for periods under an
        # hour, at most seven days otherwise.
        window = MAX_WINDOW_SHORT_PERIODS if seconds < 3600 else MAX_WINDOW
        if seconds * evaluation_periods > window:
            # Worded here only: to_human_string() is a jsii round-trip.
            raise ConstructPropError(
                "evaluation_periods",
                f"must be at most {int(window // seconds)} with a period of "
                f"{period.to_human_string()} (CloudWatch evaluates at most {window:,} seconds: "
                f"{'one day for periods under an hour' if seconds < 3600 else 'seven days'})",
                evaluation_periods,
            )
        if not (
            isinstance(datapoints_to_alarm, int)
            and not isinstance(datapoints_to_alarm, bool)
            and 1 <= datapoints_to_alarm <= evaluation_periods
        ):
            raise ConstructPropError(
                "datapoints_to_alarm",
                f"must be 1-{evaluation_periods} (evaluation_periods)",
                durations.shown_number(datapoints_to_alarm),
            )
        check_alarm_name("alarm_name", alarm_name)

        self.topic = given_or_new_topic(
            self,
            "Topic",
            alarm_topic=alarm_topic,
            encryption_key=encryption_key,
            display_name="KMS request quota",
        )
        calls = cloudwatch.Metric(
            namespace="AWS/Usage",
            metric_name="CallCount",
            dimensions_map={
                "Service": "KMS",
                "Type": "API",
                "Class": "None",
                "Resource": resource,
            },
            statistic="Sum",
            period=period,
        )
        self.utilization = cloudwatch.MathExpression(
            expression="100 * (calls / PERIOD(calls)) / SERVICE_QUOTA(calls)",
            using_metrics={"calls": calls},
            label=f"KMS {resource} requests, % of quota",
            period=period,
        )
        reserve_alarm_name(self, "alarm_name", alarm_name)
        self.alarm = self.utilization.create_alarm(
            self,
            "Alarm",
            alarm_name=alarm_name,
            alarm_description=(
                f"KMS {resource} request rate is at {threshold_percent}% or more of the "
                "account's quota in this Region: find the caller (CloudTrail), cache data keys, "
                "or request a higher quota before KMS throttles (ThrottlingException)"
            ),
            threshold=threshold_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.topic.notify(self.alarm)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
