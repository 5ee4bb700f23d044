"""How a failed AWS call is handled: retried later, or dead-lettered with its reason.

One table for the Lambda and the CLI. A copy that hits a service limit or throttling waits and
is retried; a copy that can never succeed as asked (the key is unusable, the source is gone,
access is denied) stops with a reason an operator can act on.
"""

from __future__ import annotations

from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from kmskit.aws_names import opt_in_hint
from kmskit.errors import is_credentials_refused

# Limits and throttling: the same request succeeds later.
RETRY_CODES = frozenset(
    {
        "ResourceLimitExceeded",  # EC2: 20 concurrent copies per destination Region
        "SnapshotQuotaExceeded",  # RDS: copies in progress (manual snapshot quota: see below)
        "SnapshotCreationPerVolumeRateExceeded",
        "PendingSnapshotLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
        # The rest of botocore's own throttling and transient codes (retries/standard.py):
        # SQS answers RequestThrottled, EC2 EC2ThrottledException, S3-style services SlowDown.
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "EC2ThrottledException",
        "SlowDown",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        # SQS (JSON protocol): its KMS throttling by the modeled name; with the query-compatible
        # header botocore surfaces KMS.ThrottlingException (see is_retry_code).
        "KmsThrottled",
        # The source is still being created or copied: try again once it is available.
        "IncorrectState",
        "InvalidDBSnapshotState",
        "InvalidDBClusterSnapshotStateFault",
        "InvalidDBClusterStateFault",
    }
)
# HTTP statuses botocore treats as throttling (429) or transient (5xx): whatever the error code
# (EventBridge InternalException, KMSInternalException, ...), the same request succeeds later.
RETRY_STATUS_CODES = frozenset({429, 500, 502, 503, 504})
# Copy limits: the copy waits for a slot (20 per destination Region, 5 for Aurora clusters).
LIMIT_CODES = frozenset(
    {
        "ResourceLimitExceeded",
        "SnapshotQuotaExceeded",
        "SnapshotCreationPerVolumeRateExceeded",
        "PendingSnapshotLimitExceeded",
    }
)
# RDS answers SnapshotQuotaExceeded both for its copies in progress ("Cannot copy more than 5
# snapshots across regions", a slot frees up when a copy completes) and for the Region's quota of
# manual snapshots ("Cannot create more than 100 manual snapshots", from CopyDBSnapshot and
# CopyDBClusterSnapshot alike: every copy is a manual snapshot), which waiting does not free. Only
# the message tells them apart; a message that names no manual snapshots is taken as a copy limit.
MANUAL_SNAPSHOT_QUOTA = "ManualSnapshotQuotaExceeded"
MANUAL_SNAPSHOT_QUOTA_HINT = (
    "(the Region's quota of manual RDS snapshots, 100 by default: 'Manual DB instance snapshots' "
    "or 'Manual DB cluster snapshots' in Service Quotas; waiting does not free it: delete manual "
    "snapshots no longer needed or ask for a higher quota, then copy again)"
)


def is_manual_snapshot_quota(code: str, message: str) -> bool:
    """Whether RDS's ``SnapshotQuotaExceeded`` is the manual snapshot quota (see above)."""
    return code == "SnapshotQuotaExceeded" and "manual snapshot" in message.lower()


# The destination (or source) key cannot be used: retrying does not help.
KEY_CODES = frozenset(
    {
        "KMSKeyNotAccessibleFault",  # RDS (the AWS SDK for Java's KMSKeyNotAccessibleException)
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSInvalidStateException",
        "KMSNotFoundException",
        "InvalidKMSKey.InvalidState",
        "InvalidKmsKey.NotFound",
        "DisabledException",
        "KeyUnavailableException",
        # SQS on a queue encrypted with a key it cannot use: the codes botocore surfaces with the
        # query-compatible header (x-amzn-query-error), and the modeled names without it.
        "KMS.AccessDeniedException",
        "KMS.DisabledException",
        "KMS.InvalidKeyUsageException",
        "KMS.KMSInvalidStateException",
        "KMS.NotFoundException",
        "KMS.OptInRequired",
        "KmsAccessDenied",
        "KmsDisabled",
        "KmsInvalidKeyUsage",
        "KmsInvalidState",
        "KmsNotFound",
        "KmsOptInRequired",
    }
)
# Refusals by IAM or by a key policy. A permission a deployment has just added can take a minute
# or more to be in effect everywhere (IAM and KMS are eventually consistent), so the Lambda
# retries these for a few minutes before it dead-letters them (the CLI stops at once).
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",  # RDS, SQS
        "AccessDeniedException",  # KMS, EventBridge
        "UnauthorizedOperation",  # EC2
        "KMSAccessDeniedException",
        "KMSKeyNotAccessibleFault",
        "KMS.AccessDeniedException",
        "KmsAccessDenied",
    }
)
# Added to the reason of a KEY_CODES error (the Lambda's dead letters carry it as it is).
KEY_HINT = "(the KMS key cannot be used: check its key policy)"
# A copy call refused because of its source's state: the source is still being created or
# copied (retried), or it failed (EBS error, RDS failed), which the copier tells apart by
# describing the source only when the copy call answers one of these.
SOURCE_STATE_CODES = frozenset(
    {"IncorrectState", "InvalidDBSnapshotState", "InvalidDBClusterSnapshotStateFault"}
)
# A source snapshot in a failed state (EBS error, RDS failed): it never becomes available.
SOURCE_FAILED = "SourceSnapshotFailed"
# A copy that failed after it was started (EBS error, RDS/Aurora failed): the engine's wait.
COPY_FAILED = "CopyFailed"
# A copy not found while it was waited for: deleted, or never visible (see the engine's wait).
COPY_NOT_FOUND = "CopyNotFound"
# Failure messages of an asynchronous copy that mean the key is unusable.
KEY_FAILURE_MESSAGES = ("Given key ID is not accessible", "KMS key", "kms key")


class StepError(Exception):
    """Base: a step could not be done now. ``code`` is the AWS error code, if any."""

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class RetryableError(StepError):
    """A limit or throttling: the same step succeeds later (the message is delayed, not lost)."""


class LimitReachedError(RetryableError):
    """A copy limit: the copy waits for a free slot (it is not a failure of the message)."""


class DeadLetterError(StepError):
    """Retrying cannot help: the message goes to the dead-letter queue with this reason."""


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def is_retry_code(code: str) -> bool:
    """A throttling or transient code: one of :data:`RETRY_CODES`, also behind a prefix as the
    query-compatible services write them (SQS: ``KMS.ThrottlingException``,
    ``AWS.SimpleQueueService.RequestThrottled``)."""
    return code in RETRY_CODES or code.rsplit(".", 1)[-1] in RETRY_CODES


def _status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def classify(error: Exception, doing: str, *, regions: Iterable[str | None] = ()) -> StepError:
    """Turn an exception from an AWS call into a retryable or a dead-letter error.

    ``regions``: where the call went (a copy: its source's Region and its own); default none.
    When AWS refused the credentials (:func:`kmskit.errors.is_credentials_refused`) and one of
    them is an opt-in Region, the reason carries what to check there
    (:func:`kmskit.aws_names.opt_in_hint`, the hint the CLI gives for any command): a Region
    the account has not enabled answers so, which reads as bad credentials."""
    if isinstance(error, ClientError):
        return _classify_client_error(error, doing, regions)
    if isinstance(error, BotoCoreError):
        # Connection errors and timeouts outlived botocore's own retries: try again later. A
        # request botocore refused before sending it (ParamValidationError: a parameter its model
        # does not know, an SDK older than the code, see lambda_src/snapshot_replicator/sdk.py)
        # is refused again however often it is retried.
        kind = DeadLetterError if isinstance(error, ParamValidationError) else RetryableError
        return kind(f"{doing}: {type(error).__name__}: {error}", type(error).__name__)
    return DeadLetterError(f"{doing}: {type(error).__name__}: {error}", type(error).__name__)


def _classify_client_error(
    error: ClientError, doing: str, regions: Iterable[str | None]
) -> StepError:
    """:func:`classify` for an error AWS answered."""
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message", "")
    text = f"{doing}: {code}: {message}".rstrip(": ")
    hint = opt_in_hint(regions) if is_credentials_refused(code) else None
    if hint is not None:
        text = f"{text} ({hint})"
    if is_manual_snapshot_quota(code, message):
        return DeadLetterError(f"{text} {MANUAL_SNAPSHOT_QUOTA_HINT}", MANUAL_SNAPSHOT_QUOTA)
    if code in LIMIT_CODES:
        return LimitReachedError(text, code)
    if is_retry_code(code) or _status(error) in RETRY_STATUS_CODES:
        return RetryableError(text, code)
    if code in KEY_CODES:
        return DeadLetterError(f"{text} {KEY_HINT}", code)
    return DeadLetterError(text, code)


def is_key_failure(message: str) -> bool:
    return any(text in message for text in KEY_FAILURE_MESSAGES)
