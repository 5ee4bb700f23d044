"""Errors that the CLI turns into a message and an exit code.

Exit codes (documented in README.md and docs/):

====  =====================================================================
0     success
1     failure not covered below
2     bad usage: a missing or invalid argument
3     access denied (IAM or key policy), or credentials AWS refused (expired, unknown, bad secret)
      or that cannot be used (an expired SSO session, a failing credential_process)
4     not found: key, object, snapshot or file
5     integrity: tampered ciphertext, wrong encryption context, bad signature, CloudTrail log
      files that fail ``kmskit audit --verify``
6     throttled: KMS or another service kept throttling after every retry
      or a wait ran out of time (``snapshot copy --timeout``, ``key rotate --timeout``: the
      operation goes on in AWS)
7     conflict: the resource is in a state that does not allow the operation
8     findings: ``kmskit key inventory --fail-on`` found a key (or an account it could not read)
      with one of the codes given
130   interrupted (Ctrl-C)
143   terminated (SIGTERM, e.g. ``timeout`` or a container stopping; Ctrl-Break on Windows),
      after the same clean-up as Ctrl-C: no partial output file, no unfinished multipart upload
141   output cut short: the reader of stdout (or of an output FIFO) went away
      (``kmskit ... | head``); no message, as a shell reports a command that SIGPIPE ended
      (128 + 13). Not for stderr: when its reader goes away (or it is closed), messages are
      dropped and the exit code is the command's own
====  =====================================================================
"""

from __future__ import annotations

import functools
import json
import os

import botocore.exceptions
import botocore.loaders
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    InvalidConfigError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    RefreshWithMFAUnsupportedError,
    SSOError,
    TokenRetrievalError,
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_ACCESS_DENIED = 3
EXIT_NOT_FOUND = 4
EXIT_INTEGRITY = 5
EXIT_THROTTLED = 6
EXIT_CONFLICT = 7
EXIT_FINDINGS = 8
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_BROKEN_PIPE = 141


class Terminated(KeyboardInterrupt):
    """SIGTERM (or Ctrl-Break's SIGBREAK on Windows), raised in the main thread by the CLI's
    handler. A ``KeyboardInterrupt``, so that everything that cleans up after Ctrl-C (temporary
    output files, multipart uploads) cleans up after SIGTERM too."""


class KmskitError(Exception):
    """Base class: a failure the user can act on, with a message that says how."""

    exit_code = EXIT_FAILURE


class UsageError(KmskitError):
    exit_code = EXIT_USAGE


class AccessDeniedError(KmskitError):
    exit_code = EXIT_ACCESS_DENIED


class CredentialsRefusedError(AccessDeniedError):
    """AWS refused the credentials of a call (expired, unknown, or not valid in the call's
    Region): exit 3 as access denied. The CLI adds what to check in an opt-in Region
    (:func:`kmskit.aws_names.opt_in_hint`) among :attr:`regions`."""

    regions: tuple[str, ...] | None = None
    """The Regions the refused call went to, where the code that raised it knows (an
    ``AssumeRole`` sent to one STS Region; a discovery decrypt's ``Decrypt``, sent to the Region
    of the key ARN the message names, or to the discovery Region); None (the default): any
    Region the command works in."""


class NotFoundError(KmskitError):
    exit_code = EXIT_NOT_FOUND


class IntegrityError(KmskitError):
    exit_code = EXIT_INTEGRITY


class WrongContextError(IntegrityError):
    """A message whose encryption context lacks a pair the caller expected, or holds another
    value for its key: :attr:`key`, and :attr:`found`, the message's value (None: the message
    has no such key), for code that explains the refusal (kmskit get's hints)."""

    def __init__(self, message: str, *, key: str = "", found: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.found = found


class ThrottledError(KmskitError):
    exit_code = EXIT_THROTTLED


class ConflictError(KmskitError):
    exit_code = EXIT_CONFLICT


_ACCESS_DENIED_CODES = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "KMSAccessDeniedException",
    "NotAuthorized",  # common errors: "You do not have permission to perform this action"
}
CREDENTIALS_HINT = "(refresh or check the AWS credentials)"
# AWS's common errors for credentials it refuses (the services' "Common Errors" pages; S3 and EC2
# name them their own way). The credentials were found, so this is not bad usage (2): the caller
# is not authenticated, which scripts handle as they handle access denied.
_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidAccessKeyId",  # S3
    "SignatureDoesNotMatch",  # S3
    "InvalidToken",  # S3
    "InvalidSignatureException",  # KMS and other JSON services: a wrong secret key
    "AuthFailure",  # EC2
}
_NOT_FOUND_CODES = {
    "NotFoundException",
    "NoSuchKey",
    "NoSuchBucket",
    "NoSuchVersion",  # S3 GetObject with the VersionId of no version of the object
    "InvalidSnapshot.NotFound",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
}
_THROTTLED_CODES = {
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
}
_INTEGRITY_CODES = {"InvalidCiphertextException", "KMSInvalidSignatureException"}
_CONFLICT_CODES = {
    "DisabledException",
    "KMSInvalidStateException",
    "KeyUnavailableException",
    "IncorrectKeyException",
    "InvalidKeyUsageException",
    "UnsupportedOperationException",  # e.g. GetPublicKey on a symmetric key
    # ImportKeyMaterial: material other than the key's own, or an import token that expired.
    "IncorrectKeyMaterialException",
    "ExpiredImportTokenException",
    # RotateKeyOnDemand while a rotation of the key runs or is due within 20 minutes.
    "ConflictException",
}

_ERROR_CLASS_BY_CODE: dict[str, type[KmskitError]] = {
    **dict.fromkeys(_ACCESS_DENIED_CODES, AccessDeniedError),
    **dict.fromkeys(_CREDENTIAL_CODES, CredentialsRefusedError),
    **dict.fromkeys(_NOT_FOUND_CODES, NotFoundError),
    **dict.fromkeys(_INTEGRITY_CODES, IntegrityError),
    **dict.fromkeys(_CONFLICT_CODES, ConflictError),
}


def reworded(error: KmskitError, text: str) -> KmskitError:
    """An error of ``error``'s class (so of its exit code) with the message ``text``: ``error``
    named or explained further. The Regions a :class:`CredentialsRefusedError` carries
    (:attr:`CredentialsRefusedError.regions`) go with it, so that the command line's opt-in
    Region hint still covers them, and so do a :class:`WrongContextError`'s ``key`` and
    ``found``, for the code that explains the refusal."""
    copy = type(error)(text)
    if isinstance(error, CredentialsRefusedError) and isinstance(copy, CredentialsRefusedError):
        copy.regions = error.regions
    if isinstance(error, WrongContextError) and isinstance(copy, WrongContextError):
        copy.key, copy.found = error.key, error.found
    return copy


def is_credentials_refused(code: str) -> bool:
    """Whether ``code`` is one AWS answers for credentials it refuses (the snapshot engine's
    errors carry the code, not the ``ClientError``)."""
    return code in _CREDENTIAL_CODES


def is_access_denied(error: ClientError) -> bool:
    """Whether AWS refused the call for want of permission (IAM or key policy): not for
    credentials it refused, which fail every later call too."""
    return error.response.get("Error", {}).get("Code") in _ACCESS_DENIED_CODES


def from_os_error(error: OSError, doing: str) -> KmskitError:
    """Map a file error (``OSError``) to the matching :class:`KmskitError`.

    ``doing`` names the file ("read 'in.txt'"), so the message reads: ``could not read
    'in.txt': No such file or directory``. A missing file or directory is *not found* (4), a
    permission error *access denied* (3), a directory where a file is expected (or the reverse)
    *bad usage* (2); anything else is a plain failure (1).
    """
    return os_error_class(error)(f"could not {doing}: {error.strerror or error}")


def os_error_class(error: OSError) -> type[KmskitError]:
    """The :class:`KmskitError` class for a file error (see :func:`from_os_error`)."""
    if isinstance(error, FileNotFoundError):
        return NotFoundError
    if isinstance(error, PermissionError):
        return AccessDeniedError
    if isinstance(error, (IsADirectoryError, NotADirectoryError)):
        return UsageError
    return KmskitError


# The snapshot functions' asset holds this module, and the Lambda runtime's botocore may be older
# than LoginError (botocore 1.40.40 has none): imported, it would fail every cold start.
_LOGIN_ERROR: type[BotoCoreError] | None = getattr(botocore.exceptions, "LoginError", None)
UNUSABLE_CREDENTIALS: tuple[type[BotoCoreError], ...] = (
    SSOError,
    TokenRetrievalError,
    CredentialRetrievalError,
    *((_LOGIN_ERROR,) if _LOGIN_ERROR is not None else ()),
    RefreshWithMFAUnsupportedError,
)
"""What botocore raises, before any request is sent, when credentials were found but cannot be
used: an IAM Identity Center (SSO) session expired or logged out (``TokenRetrievalError``,
``UnauthorizedSSOTokenError``, ``SSOTokenLoadError``), a failing ``credential_process`` or
container endpoint (``CredentialRetrievalError``), an ``aws login`` session to renew
(``LoginError``), or a profile's role assumed with MFA, which botocore cannot renew
(``RefreshWithMFAUnsupportedError``). Raised when the credentials are first loaded and again
whenever botocore renews them."""


EXPIRED_ON_RENEWAL = "Credentials were refreshed, but the refreshed credentials are still expired."
"""The message of the plain ``RuntimeError`` botocore raises (botocore/credentials.py,
``RefreshableCredentials``) when a renewal gives credentials that have already expired by this
machine's clock: a clock set ahead, or a ``credential_process`` (or credentials cache) handing
out stale credentials. Raised, as :data:`UNUSABLE_CREDENTIALS` are, before any request is
sent."""


def is_expired_on_renewal(error: BaseException) -> bool:
    """Whether ``error`` is botocore's :data:`EXPIRED_ON_RENEWAL` ``RuntimeError``, and not
    any other ``RuntimeError`` (a bug, which must not pass for the credentials)."""
    return type(error) is RuntimeError and str(error) == EXPIRED_ON_RENEWAL


def expired_on_renewal_text(error: BaseException) -> str:
    """How :data:`EXPIRED_ON_RENEWAL` (``error``) failed the credentials, for a message."""
    return (
        "botocore renewed them and got credentials that had already expired by this "
        f"machine's clock ({str(error).rstrip('.')})"
    )


_WEB_IDENTITY_VARIABLE = "AWS_WEB_IDENTITY_TOKEN_FILE"


def _raised_by_credential_provider(error: BaseException) -> bool:
    """Whether a botocore credential provider (or its SSO token provider) raised ``error``."""
    # Imported when an error is met: not on the import path of constructs_lib's synth.
    from botocore.credentials import CredentialProvider  # noqa: PLC0415
    from botocore.tokens import SSOTokenProvider  # noqa: PLC0415

    return any(
        isinstance(raiser, (CredentialProvider, SSOTokenProvider)) for raiser in _raised_by(error)
    )


def from_credentials_loading_error(error: BaseException) -> KmskitError | None:
    """What botocore raises, not as a ``BotoCoreError``, while it loads (or renews) the
    caller's credentials, before any request is sent, as exit 3 with a message naming the
    setting to check; None for any other ``error`` (a bug, or a file of the command's own).

    * a ``credential_process`` that printed something that is not JSON (an expired SAML or
      vault helper printing a prompt): botocore's ``json.JSONDecodeError`` (or a
      ``UnicodeDecodeError``), or JSON that is not an object of credentials; any other
      ``ValueError`` on its output (an ``Expiration`` that is not a date) is worded generally;
    * a ``credential_process`` whose quoting ``shlex`` cannot split (a ``ValueError`` before
      it runs): a :class:`UsageError` (exit 2) naming the profile, whose configuration is wrong;
    * a ``credential_process`` that could not be run (an ``OSError``: no such program);
    * a ``web_identity_token_file`` (or ``AWS_WEB_IDENTITY_TOKEN_FILE``) that cannot be read (an
      ``OSError``, raised as the first request is signed);
    * an ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` (EKS Pod Identity, container credentials)
      that cannot be read (an ``OSError``).

    Told by where it was raised: botocore's ``ProcessProvider``, ``ContainerProvider`` or
    ``FileWebIdentityTokenLoader`` on ``error``'s traceback. The command line maps it for every
    command (:func:`kmskit.cli.run`); code that tells the caller's credentials failing from
    other errors (:func:`kmskit.clients.assume_role`) can call it too."""
    # Imported when an error is met: not on the import path of constructs_lib's synth.
    from botocore.credentials import ContainerProvider, ProcessProvider  # noqa: PLC0415
    from botocore.utils import FileWebIdentityTokenLoader  # noqa: PLC0415

    raisers = _raised_by(error)
    if any(isinstance(raiser, ProcessProvider) for raiser in raisers):
        return _from_credential_process_error(error)
    if not isinstance(error, OSError):
        return None
    if any(isinstance(raiser, ContainerProvider) for raiser in raisers):
        setting = (
            "the container credentials' authorization token file "
            f"({ContainerProvider.ENV_VAR_AUTH_TOKEN_FILE}; EKS Pod Identity, ECS)"
        )
    elif any(isinstance(raiser, FileWebIdentityTokenLoader) for raiser in raisers):
        variable = (
            _WEB_IDENTITY_VARIABLE
            if os.environ.get(_WEB_IDENTITY_VARIABLE) == error.filename
            else "web_identity_token_file of the profile"
        )
        setting = f"the web identity token file ({variable})"
    else:
        return None
    return AccessDeniedError(
        f"could not read{_quoted_file(error)}, {setting}: {error.strerror or error} "
        f"{CREDENTIALS_HINT}"
    )


def _from_credential_process_error(error: BaseException) -> KmskitError | None:
    """:func:`from_credentials_loading_error` for ``error`` raised by botocore's
    ``ProcessProvider``."""
    if isinstance(error, OSError):
        return AccessDeniedError(
            f"could not run{_quoted_file(error)}, the profile's credential_process: "
            f"{error.strerror or error} {CREDENTIALS_HINT}"
        )
    if isinstance(error, ValueError) and _raised_in(error, "botocore.compat"):
        # shlex (botocore's compat_shell_split) could not split the command line: a
        # configuration error, found before the helper runs.
        profile = _profile_named_by(error)
        return UsageError(
            f"the credential_process of the AWS profile{f' {profile!r}' if profile else ''} "
            f"is not a command line that can be split into its arguments ({error}): fix its "
            "quoting in the AWS config file, or choose another profile with --profile or "
            "AWS_PROFILE"
        )
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
        said = "is not JSON"
    elif isinstance(error, (AttributeError, TypeError)):  # a JSON list, string, ...
        said = "is not a JSON object of credentials"
    elif isinstance(error, ValueError):  # an "Expiration" that is not a date, ...
        return AccessDeniedError(
            f"credential_process output could not be used ({error}): it must print "
            '{"Version": 1, "AccessKeyId": ..., "Expiration": "<ISO 8601 time>"} '
            f"{CREDENTIALS_HINT}"
        )
    else:
        return None
    return AccessDeniedError(
        f"credential_process output {said} ({error}): an expired login may have made it "
        'print a prompt; it must print {"Version": 1, "AccessKeyId": ...} '
        f"{CREDENTIALS_HINT}"
    )


def _quoted_file(error: OSError) -> str:
    return f" '{error.filename}'" if error.filename is not None else ""


def _profile_named_by(error: BaseException) -> str | None:
    """The profile of the innermost botocore credential provider on ``error``'s traceback
    (the one whose configuration failed), if it names one."""
    for raiser in reversed(_raised_by(error)):
        profile = getattr(raiser, "_profile_name", None)
        if isinstance(profile, str):
            return profile
    return None


def _raised_in(error: BaseException, module: str) -> bool:
    """Whether a function of ``module`` (its ``__name__``) is on ``error``'s traceback."""
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_globals.get("__name__") == module:
            return True
        trace = trace.tb_next
    return False


def _raised_by(error: BaseException) -> list[object]:
    """The objects whose methods are on ``error``'s traceback, outermost first."""
    raisers: list[object] = []
    trace = error.__traceback__
    while trace is not None:
        raiser = trace.tb_frame.f_locals.get("self")
        if raiser is not None:
            raisers.append(raiser)
        trace = trace.tb_next
    return raisers


def is_throttled(code: str) -> bool:
    """Whether ``code`` is one AWS answers for a call it throttled."""
    return code in _THROTTLED_CODES


IDENTITY_CENTER_CALL = "GetRoleCredentials"
"""IAM Identity Center's call that botocore's SSO credential provider makes for a profile's
credentials as a client's first request (or a renewal) is signed. No kmskit command calls it
itself: its refusal, raised from whichever call needed the credentials, is of the
credentials. botocore turns only ``UnauthorizedException`` into its own error
(``UnauthorizedSSOTokenError``); ``ForbiddenException`` (the permission set no longer assigned
to the user for that account) comes through as a ``ClientError``."""


def assignment_hint(permission_set: str, account: str, profile: str) -> str:
    """What to do when IAM Identity Center refuses a profile's ``permission_set`` for
    ``account`` (``ForbiddenException``): each argument as the message should name it."""
    return (
        f"Check that the {permission_set} is assigned to the caller's user for {account} "
        "(IAM Identity Center's account assignments; aws sso list-account-roles lists the "
        "user's): ask an administrator to assign it again, or set sso_account_id and "
        f"sso_role_name of {profile} to an assignment the user has; then run again"
    )


def client_error_text(error: ClientError) -> str:
    """``CODE: message`` of an AWS error, as every kmskit message quotes it."""
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", str(error))
    return f"{code}: {message}"


def botocore_error_text(error: BotoCoreError) -> str:
    """botocore's message of ``error`` on one line (parameter validation spans lines, a
    ``credential_process``'s standard error may)."""
    return " ".join(str(error).split())


def from_client_error(error: ClientError, doing: str) -> KmskitError:
    """Map a botocore ``ClientError`` to the matching :class:`KmskitError`.

    ``doing`` says what was attempted ("decrypt the data key with alias/app"), so the message
    reads: ``could not decrypt the data key with alias/app: AccessDeniedException: ...``.
    """
    code = error.response.get("Error", {}).get("Code", "Unknown")
    text = f"could not {doing}: {client_error_text(error)}"
    if error.operation_name == IDENTITY_CENTER_CALL:
        return _identity_center_error(error, code, doing)
    if is_throttled(code):
        attempts = error.response.get("ResponseMetadata", {}).get("RetryAttempts")
        retried = f" (after {attempts} retries)" if attempts is not None else ""
        return ThrottledError(
            f"{text}{retried}. Raise --max-attempts, use --retry-mode adaptive, or "
            + _quota_advice(error.operation_name)
        )
    if code in _CREDENTIAL_CODES:
        text += f" {CREDENTIALS_HINT}"
    return _ERROR_CLASS_BY_CODE.get(code, KmskitError)(text)


# The services kmskit calls, in the order their operation names are looked up (KMS's first: most
# calls are KMS's), each with the name its quota goes by.
_SERVICES_BY_QUOTA_NAME = {
    "kms": "KMS",
    "sts": "STS",
    "s3": "S3",
    "cloudtrail": "CloudTrail",
    "organizations": "Organizations",
    "rds": "RDS",
    "ec2": "EC2 API",
}


@functools.lru_cache(maxsize=64)
def _service_of(operation: str) -> str | None:
    """The service of ``operation`` among :data:`_SERVICES_BY_QUOTA_NAME`, from botocore's own
    models (a ``ClientError`` names the operation, not the service); None if none has it."""
    loader = botocore.loaders.create_loader()
    for service in _SERVICES_BY_QUOTA_NAME:
        if operation in loader.load_service_model(service, "service-2")["operations"]:
            return service
    return None


def _quota_advice(operation: str) -> str:
    """The last resort for a throttled ``operation``: the quota of its own service (a throttled
    ``AssumeRole`` of the profile's role or ``CopySnapshot`` is no KMS quota's doing)."""
    service = _service_of(operation)
    if service == "s3":
        return "spread the requests over more key prefixes (S3's request rates are per prefix)"
    if service is None:
        return f"ask for a higher request quota for {operation}"
    return f"ask for a higher {_SERVICES_BY_QUOTA_NAME[service]} request quota"


def _identity_center_error(error: ClientError, code: str, doing: str) -> KmskitError:
    """IAM Identity Center's answer to botocore's own ``GetRoleCredentials``, met while it
    obtained the profile's credentials for the call of ``doing``: throttling (retried as the
    clients' calls are: :meth:`kmskit.clients.ClientSettings.session`), or a refusal of the
    credentials."""
    text = f"could not {doing}: {client_error_text(error)}"
    if is_throttled(code):
        return ThrottledError(
            f"{text} (IAM Identity Center throttled obtaining the profile's credentials). Raise "
            "--max-attempts, use --retry-mode adaptive, or wait and run again"
        )
    refused = f"could not {doing}: IAM Identity Center refused the profile's credentials"
    return AccessDeniedError(
        f"{refused}: {client_error_text(error).rstrip('.')}. "
        + (
            assignment_hint(
                "permission set of the profile (sso_role_name)",
                "its account (sso_account_id)",
                "the profile",
            )
            if code == "ForbiddenException"
            else "Refresh or check the AWS credentials (aws sso login)"
        )
    )


def from_botocore_error(error: BotoCoreError) -> KmskitError:
    """Map a botocore error raised before any request reached AWS (configuration, credentials,
    connection) to the matching :class:`KmskitError`: an unknown profile, a profile configured
    wrong (``InvalidConfigError``: a ``source_profile`` that does not exist, ...;
    ``PartialCredentialsError``: a role without ``source_profile``, a key ID without its
    secret; the message names the profile), any other setting that is not valid
    (``InvalidConfigError`` raised outside the credential and SSO token providers: a blank
    ``AWS_CA_BUNDLE``, ...) or no credentials or Region is bad usage (2),
    credentials that cannot be used access denied (3)."""
    text = botocore_error_text(error)
    if isinstance(error, ProfileNotFound):
        return UsageError(
            "'--profile' (or AWS_PROFILE) must name a profile of the AWS configuration. "
            f"Received: {error.kwargs.get('profile')!r}"
        )
    if isinstance(error, InvalidConfigError) and not _raised_by_credential_provider(error):
        # Not the credentials' (AWS_CA_BUNDLE blank, a bad AWS_ACCOUNT_ID_ENDPOINT_MODE or
        # request_min_compression_size_bytes, ...): the configuration must be fixed all the same.
        return UsageError(
            f"the AWS configuration is not valid: {text.rstrip('.')}. Fix the AWS_* environment "
            "variables or the profile's settings"
        )
    if isinstance(error, (InvalidConfigError, PartialCredentialsError)):
        # A role without a source, a source_profile that does not exist, a key ID without its
        # secret: the configuration must be fixed, as for an unknown profile.
        profile = _profile_named_by(error)
        where = (
            "the AWS_* environment variables"
            if error.kwargs.get("provider") == "env"
            else f"the AWS profile{f' {profile!r}' if profile else ''} (AWS config and "
            "credentials files), or choose another with --profile or AWS_PROFILE"
        )
        return UsageError(
            f"the AWS credentials are not configured right: {text.rstrip('.')}. Fix {where}"
        )
    if isinstance(error, UNUSABLE_CREDENTIALS):
        # Credentials found but not usable (an expired SSO session, a failing credential
        # process): as credentials AWS refuses, exit 3.
        return AccessDeniedError(f"{text} {CREDENTIALS_HINT}")
    if isinstance(error, (NoRegionError, NoCredentialsError)):
        missing = (
            "(give one: --region, region=; or set AWS_DEFAULT_REGION, or region in the profile)"
            if isinstance(error, NoRegionError)
            else "(configure AWS credentials)"
        )
        return UsageError(f"{text} {missing}")
    return KmskitError(text)
