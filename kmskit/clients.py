"""Every AWS client kmskit uses is made here, on demand (never at import time).

Clients use botocore's ``standard`` retry mode (jittered exponential backoff that retries
``ThrottlingException``) unless told otherwise (:func:`resolve_retries`), send the calls of
:data:`NOT_RESENT` once, and use the endpoint boto3 is configured with, so
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_KMS``) points every command at a local stand-in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    RefreshableCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
)
from botocore.exceptions import ConnectionError as BotoCoreConnectionError

from kmskit.aws_names import REGION
from kmskit.errors import (
    CREDENTIALS_HINT,
    IDENTITY_CENTER_CALL,
    UNUSABLE_CREDENTIALS,
    AccessDeniedError,
    CredentialsRefusedError,
    UsageError,
    assignment_hint,
    botocore_error_text,
    client_error_text,
    expired_on_renewal_text,
    from_botocore_error,
    from_client_error,
    from_credentials_loading_error,
    is_access_denied,
    is_credentials_refused,
    is_expired_on_renewal,
    is_throttled,
)

RetryMode = Literal["standard", "adaptive", "legacy"]
DEFAULT_MAX_ATTEMPTS = 8
RETRY_MODES: tuple[RetryMode, ...] = ("standard", "adaptive", "legacy")
DEFAULT_RETRY_MODE: RetryMode = "standard"


def _env_max_attempts() -> int | None:
    """``KMSKIT_MAX_ATTEMPTS`` (a whole number, at least 1), or None when it is unset."""
    value = os.environ.get("KMSKIT_MAX_ATTEMPTS")
    if value is None or not value.strip():
        return None
    return _whole_attempts(value, "'KMSKIT_MAX_ATTEMPTS'")


def _whole_attempts(value: Any, where: str) -> int:
    """``value`` as a number of attempts (a whole number, at least 1); otherwise a
    :class:`UsageError` naming ``where`` it came from."""
    try:
        attempts = 0 if isinstance(value, (bool, float)) else int(value)
    except (TypeError, ValueError):
        attempts = 0
    if attempts < 1:
        raise UsageError(f"{where} must be a whole number of at least 1. Received: {value!r}")
    return attempts


def _aws_setting(core: botocore.session.Session, name: str, variable: str) -> tuple[Any, str]:
    """The value botocore's own configuration gives ``name`` (``max_attempts``,
    ``retry_mode``) and where it comes from, as botocore looks: a value set on the session
    (``set_config_variable``), the environment ``variable``, the profile's configuration; (None,
    "") when none sets it."""
    value = core.instance_variables().get(name)
    if value is not None:
        return value, f"the session's '{name}'"
    value = os.environ.get(variable)
    if value is not None and value.strip():
        return value, f"'{variable}'"
    value = core.get_scoped_config().get(name)
    if value is not None:
        profile = core.get_config_variable("profile") or "default"
        return value, f"'{name}' of profile {profile}"
    return None, ""


def resolve_retries(
    core: botocore.session.Session, max_attempts: int | None, retry_mode: RetryMode | None
) -> tuple[int, RetryMode]:
    """Total attempts per call (first one included) and the retry mode, for the botocore
    session ``core``: ``max_attempts`` (``--max-attempts``), else ``KMSKIT_MAX_ATTEMPTS``, else
    botocore's own (``AWS_MAX_ATTEMPTS``, the profile's ``max_attempts``), else
    :data:`DEFAULT_MAX_ATTEMPTS`; ``retry_mode`` (``--retry-mode``), else botocore's own
    (``AWS_RETRY_MODE``, the profile's ``retry_mode``), else ``standard``. A value that is not
    one is :class:`UsageError` naming where it came from (an unknown profile: botocore's
    ``ProfileNotFound``)."""
    attempts = (
        _env_max_attempts()
        if max_attempts is None
        else _whole_attempts(max_attempts, "'max_attempts'")
    )
    if attempts is None:
        value, where = _aws_setting(core, "max_attempts", "AWS_MAX_ATTEMPTS")
        attempts = DEFAULT_MAX_ATTEMPTS if value is None else _whole_attempts(value, where)
    mode = None if retry_mode is None else _retry_mode(retry_mode, "'retry_mode'")
    if mode is None:
        value, where = _aws_setting(core, "retry_mode", "AWS_RETRY_MODE")
        mode = DEFAULT_RETRY_MODE if value is None else _retry_mode(value, where)
    return attempts, mode


def _retry_mode(value: Any, where: str) -> RetryMode:
    for mode in RETRY_MODES:
        if value == mode:
            return mode
    raise UsageError(f"{where} must be one of {', '.join(RETRY_MODES)}. Received: {value!r}")


NOT_RESENT: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "ec2": frozenset({"CopySnapshot"}),
        "kms": frozenset({"RotateKeyOnDemand", "ScheduleKeyDeletion"}),
    }
)
"""The calls (by service) that every client of :class:`ClientSettings` sends once, unless AWS
refused them unseen: KMS or EC2 may have carried out a request whose answer was lost (a 5xx
answer, a connection that dropped or timed out after the request went out), and sending it again
would do it twice (``RotateKeyOnDemand``: a second rotation, of a capped number) or fail for
what the first did (``ScheduleKeyDeletion``: ``KMSInvalidStateException`` for a key now pending
deletion; ``CopySnapshot``, which has no client token: a second full copy). Only a throttling
answer (:func:`~kmskit.errors.is_throttled`, HTTP 429) and a connection that could not be made
(no request went out) are retried, as botocore retries any call. Whoever makes such a call
checks, after a lost answer (:func:`answer_lost`), whether it took effect.

Every other call kmskit makes is retried as botocore retries it: reads; calls that do nothing
twice (``CreateTags``, ``ModifySnapshotAttribute``, ``AbortMultipartUpload``;
``ImportKeyMaterial`` of a key's existing material, which KMS takes again, unlike new material:
:data:`NOT_RESENT_WHEN`); calls whose repeat is recognised (``CopyDBSnapshot`` and
``CopyDBClusterSnapshot``, refused as ``...AlreadyExists`` for their one name, which the
snapshot engine takes for the copy; a delete, whose repeat finds nothing; an exclusive
``PutObject`` or ``CompleteMultipartUpload``, which :mod:`kmskit.envelope_s3` tells from
another's object)."""

NOT_RESENT_WHEN: Mapping[str, Mapping[str, tuple[str, str]]] = MappingProxyType(
    {"kms": MappingProxyType({"ImportKeyMaterial": ("ImportType", "NEW_KEY_MATERIAL")})}
)
"""The calls (by service) sent once as :data:`NOT_RESENT` are, when one of their parameters has
one value (operation: (parameter, value)): ``ImportKeyMaterial`` with ImportType
``NEW_KEY_MATERIAL`` adds a material, and its repeat is refused
(``IncorrectKeyMaterialException``: already associated) for the material the first one added."""

# The request context key send_once sets for a NOT_RESENT_WHEN call that is to be sent once.
_SEND_ONCE = "kmskit_send_once"

# Errors botocore raises when no connection could be made: the request never went out.
_NOT_SENT: tuple[type[Exception], ...] = (EndpointConnectionError, ConnectTimeoutError)


def send_once(client: Any) -> Any:
    """Make ``client`` send each of its service's :data:`NOT_RESENT` calls, and its
    :data:`NOT_RESENT_WHEN` calls with the parameter value named there, once (a
    ``needs-retry`` handler on them, which ends botocore's retries by raising what the call
    would raise without them: the error answered, or the connection error); ``client``.
    :meth:`ClientSettings.client` does it for every client it makes; call it on a client made
    otherwise (a test's, a benchmark's) before handing it to kmskit. Calling it again does
    nothing more."""
    model = client.meta.service_model
    service_id = model.service_id.hyphenize()
    when = NOT_RESENT_WHEN.get(model.service_name, {})
    for operation in sorted(NOT_RESENT.get(model.service_name, frozenset()) | set(when)):
        client.meta.events.register(
            f"needs-retry.{service_id}.{operation}",
            partial(_end_retries, client),
            unique_id=f"kmskit-send-once-{service_id}-{operation}",
        )
    for operation, (parameter, value) in sorted(when.items()):
        client.meta.events.register(
            f"before-parameter-build.{service_id}.{operation}",
            partial(_mark_send_once, parameter, value),
            unique_id=f"kmskit-send-once-mark-{service_id}-{operation}",
        )
    return client


def _mark_send_once(
    parameter: str, value: str, *, params: dict[str, Any], context: dict[str, Any], **_: Any
) -> None:
    """The ``before-parameter-build`` handler of :func:`send_once` for a
    :data:`NOT_RESENT_WHEN` call: marks the request to be sent once when ``params`` give
    ``parameter`` that ``value``."""
    context[_SEND_ONCE] = params.get(parameter) == value


def _end_retries(
    client: Any,
    *,
    response: tuple[Any, dict[str, Any]] | None,
    caught_exception: Exception | None,
    attempts: int,
    request_dict: dict[str, Any],
    operation: Any,
    **_: Any,
) -> None:
    """The ``needs-retry`` handler of :func:`send_once`: None (botocore's own retry handler
    decides) for a success, a throttling answer or a connection never made; otherwise it
    raises, before botocore's handler runs, the error the call then raises. A
    :data:`NOT_RESENT_WHEN` call not marked to be sent once is left to botocore's handler."""
    if request_dict.get("context", {}).get(_SEND_ONCE) is False:
        return
    if caught_exception is not None:
        if isinstance(caught_exception, _NOT_SENT):
            return
        raise caught_exception
    if response is None:
        return
    http, parsed = response
    metadata = parsed.setdefault("ResponseMetadata", {})
    # S3's and others' errors in a 200 answer are set here (botocore's _update_status_code).
    status = metadata.get("HTTPStatusCode", http.status_code)
    if status < 300:
        return
    code = request_dict.get("context", {}).get("error_code_override") or parsed.get(
        "Error", {}
    ).get("Code", "")
    if is_throttled(code) or status == 429:
        return
    metadata["RetryAttempts"] = attempts - 1
    raise client.exceptions.from_code(code)(parsed, operation.name)


def answer_lost(error: BaseException) -> bool:
    """Whether ``error``, raised by an AWS call, leaves unknown whether AWS carried the call
    out: a 5xx answer (``KMSInternalException``, ``ServiceUnavailable`` ...), or a connection
    that dropped or timed out once the request could have gone out. Not for an answer that
    refuses the call (4xx: access denied, throttling, ...), nor for a connection never made
    or an error before any request (credentials, parameters)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = error.response.get("Error", {}).get("Code", "")
        # EC2 answers RequestLimitExceeded with a 503: throttled, so not carried out.
        return isinstance(status, int) and status >= 500 and not is_throttled(code)
    return isinstance(error, (BotoCoreConnectionError, HTTPClientError)) and not isinstance(
        error, _NOT_SENT
    )


@dataclass(frozen=True)
class ClientSettings:
    """How clients are built.

    Args:
        region: Default: boto3's own resolution (``AWS_DEFAULT_REGION``, profile, ...).
        profile: Default: boto3's own resolution.
        max_attempts: total attempts per call, first one included; with the session kmskit
            makes (no ``boto3_session``), also per call fetching the profile's credentials
            (a role's STS ``AssumeRole``, IAM Identity Center's ``GetRoleCredentials``).
            Default: ``KMSKIT_MAX_ATTEMPTS``, else botocore's ``AWS_MAX_ATTEMPTS`` or the
            profile's ``max_attempts``, else 8 (:func:`resolve_retries`). A value that is not
            a whole number of at least 1 is refused (:class:`UsageError`) here.
        retry_mode: ``standard``, ``adaptive`` (adds client-side rate limiting) or ``legacy``,
            applied as ``max_attempts`` is. Default: ``AWS_RETRY_MODE``, else the profile's
            ``retry_mode``, else ``standard``; a value that is none of them is refused
            (:class:`UsageError`): given here, here; from the environment or profile, when the
            first client is made.
        boto3_session: a ``boto3.session.Session`` of the caller's (assumed-role credentials, a
            botocore config with endpoints or FIPS): every client is made from it, and
            :func:`assume_role`'s clients with its configuration. Not with ``profile``.
            Default: None, a new session of boto3's own resolution (made once per
            ``ClientSettings``).

    A ``ClientSettings`` makes its session once and each client (service, Region, options)
    once, and hands the same client out again (boto3 clients are thread-safe): reuse one
    ``ClientSettings`` across calls, as a new one costs a session, a client and a credential
    lookup (on EC2, ECS and Lambda a call to the metadata endpoint) on its first call.

    :meth:`close` (or ``with ClientSettings(...) as settings:``) closes the kept clients'
    connections when the caller is done with them.
    """

    region: str | None = None
    profile: str | None = None
    max_attempts: int | None = None
    retry_mode: RetryMode | None = None
    boto3_session: boto3.session.Session | None = None
    _cache: dict[Any, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False, hash=False
    )

    def _retries(self) -> tuple[int, RetryMode]:
        """Total attempts per call (first one included) and the retry mode
        (:func:`resolve_retries` for :meth:`session`)."""
        return resolve_retries(self.session()._session, self.max_attempts, self.retry_mode)

    def botocore_config(self, **extra: Any) -> Config:
        attempts, mode = self._retries()
        # botocore's "max_attempts" counts retries only; "total_max_attempts" counts every call.
        return Config(retries={"mode": mode, "total_max_attempts": attempts}, **extra)

    def __post_init__(self) -> None:
        if self.boto3_session is not None and self.profile is not None:
            raise UsageError(
                "'profile' and 'boto3_session' exclude each other: the session has its own "
                f"profile. Received: profile {self.profile!r} and {self.boto3_session!r}"
            )
        if self.max_attempts is not None:
            _whole_attempts(self.max_attempts, "'max_attempts'")
        if self.retry_mode is not None:
            _retry_mode(self.retry_mode, "'retry_mode'")

    def session(self) -> boto3.session.Session:
        """``boto3_session`` if given, otherwise one session made on first use and kept."""
        if self.boto3_session is not None:
            return self.boto3_session
        with self._lock:
            session: boto3.session.Session | None = self._cache.get("session")
            if session is None:
                core = botocore.session.Session()
                made = boto3.session.Session(
                    botocore_session=core, profile_name=self.profile, region_name=self.region
                )
                # botocore makes the STS or SSO client that fetches a profile's credentials
                # (a role's AssumeRole, IAM Identity Center's GetRoleCredentials) from the
                # session's configuration, not from a client's: it retries as the clients do.
                # (The session's "max_attempts", like AWS_MAX_ATTEMPTS, counts every call.)
                attempts, mode = resolve_retries(core, self.max_attempts, self.retry_mode)
                core.set_config_variable("max_attempts", attempts)
                core.set_config_variable("retry_mode", mode)
                session = self._cache["session"] = made
            return session

    def client(
        self, service: str, *, region: str | None = None, new: bool = False, **config: Any
    ) -> Any:
        """A client for ``service`` (in ``region`` if given) with these retry settings, made
        from :meth:`session` on first use and kept for the same arguments. ``new``: a client
        of its own, not kept (for a caller that registers event handlers on it, which a kept
        client would keep, and run, for every later user). Default False. Its
        :data:`NOT_RESENT` calls are sent once (:func:`send_once`). With neither ``region`` nor
        the settings' own, the session's Region (``AWS_DEFAULT_REGION``, the profile's
        ``region``) must be a Region name: otherwise :class:`UsageError` naming where
        it came from (botocore would send a name such as ``EU-WEST-1`` as it is)."""
        session = self.session()
        if region is None and self.region is None:
            check_session_region(session)
        key = (service, region or self.region, tuple(sorted(config.items())))
        botocore_config = self.botocore_config(**config)  # before the lock: it reads session()
        # A boto3 session is not thread-safe: clients are made from it one at a time.
        with self._lock:
            client = None if new else self._cache.get(key)
            if client is None:
                client = send_once(
                    session.client(  # type: ignore[call-overload]
                        service, region_name=region or self.region, config=botocore_config
                    )
                )
                if not new:
                    self._cache[key] = client
            return client

    def close(self) -> None:
        """Close the connections of every client kept so far and forget the clients and the
        session kmskit made (``boto3_session`` stays the caller's, open). The next call makes
        new ones, so closing early is safe; a client handed out before reconnects if used
        again."""
        with self._lock:
            clients = [c for key, c in self._cache.items() if key != "session"]
            self._cache.clear()
        for client in clients:
            client.close()

    def __enter__(self) -> ClientSettings:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def lost_answer_text(error: ClientError | BotoCoreError, doing: str, service: str) -> str:
    """The start of the message for a :data:`NOT_RESENT` call whose answer was lost
    (:func:`answer_lost`): ``could not <doing>: <service>'s answer was lost (<error>) and the
    request was not sent again``; the caller adds what it found out since."""
    text = (
        client_error_text(error) if isinstance(error, ClientError) else botocore_error_text(error)
    )
    return (
        f"could not {doing}: {service}'s answer was lost ({text}) and the request was not sent "
        "again"
    )


def check_session_region(session: boto3.session.Session) -> None:
    """Raise :class:`UsageError` unless ``session``'s Region (None: none, left to botocore's
    ``NoRegionError``) is a Region name, naming where it came from: ``AWS_DEFAULT_REGION`` or
    the profile's ``region``."""
    region = session.region_name
    if region is None or REGION.match(region):
        return
    core = session._session
    # botocore reads AWS_DEFAULT_REGION, not AWS_REGION (the newer SDKs' variable).
    if core.instance_variables().get("region") is not None:
        where = "the session's 'region'"
    elif "AWS_DEFAULT_REGION" in os.environ:  # set, if empty (a CI variable left blank)
        where = "'AWS_DEFAULT_REGION'" + (
            " (set but empty: unset it or set a Region)" if not region else ""
        )
    else:
        where = f"'region' of profile {core.get_config_variable('profile') or 'default'}"
    raise UsageError(f"{where} must be an AWS Region name. Received: {region!r}")


KMS_CLIENT_WITHOUT_SETTINGS = (
    "kms_client() without settings is deprecated: its client is the only one of a "
    "ClientSettings() made for it, which nothing closes. Pass the settings: "
    "'with ClientSettings() as settings: kms = kms_client(settings)' closes the client at the "
    "end of the block (kmskit.clients.ClientSettings; settings_for_call() for one call)"
)
"""The ``DeprecationWarning`` of :func:`kms_client` called without settings."""


def kms_client(settings: ClientSettings | None = None) -> Any:
    """The KMS client ``settings`` keep (:meth:`ClientSettings.client`: made on first use,
    handed out again): the settings own it, and their :meth:`ClientSettings.close` (or the end
    of ``with ClientSettings(...) as settings:``) closes its connections. An unknown profile or
    no Region is :class:`UsageError` (not botocore's error).

    ``settings`` default: None, deprecated (a ``DeprecationWarning``,
    :data:`KMS_CLIENT_WITHOUT_SETTINGS`): the client of a new ``ClientSettings()`` made for it
    and held by nothing else, so the caller owns it and must close it (``kms.close()``, or
    ``with contextlib.closing(kms_client()) as kms:``), else its connections stay open until
    the garbage collector frees it. Pass the settings instead (for one call, those of
    :func:`settings_for_call`, which closes the ones it makes)."""
    if settings is None:
        warnings.warn(KMS_CLIENT_WITHOUT_SETTINGS, DeprecationWarning, stacklevel=2)
        settings = ClientSettings()
    try:
        return settings.client("kms")
    except BotoCoreError as error:
        raise from_botocore_error(error) from error


@contextlib.contextmanager
def settings_for_call(settings: ClientSettings | None = None) -> Iterator[ClientSettings]:
    """The settings for one call of a function that takes ``settings: ClientSettings | None``,
    for a ``with`` block: ``settings`` themselves, left open (the caller's, to reuse and to
    close), or with ``settings`` None (the default) a new ``ClientSettings()`` whose clients
    are closed at the end of the block, also when the block raises. No client is made here:
    an argument checked inside the block is still refused before any client is made."""
    if settings is not None:
        yield settings
        return
    with ClientSettings() as made:
        yield made


def key_metadata(kms: Any, key: str) -> dict[str, Any]:
    """DescribeKey's ``KeyMetadata`` for ``key`` as the user gave it (``KEY``: key ID, key ARN,
    alias name or alias ARN); KMS's refusal as a :class:`~kmskit.errors.KmskitError` naming it."""
    try:
        metadata: dict[str, Any] = kms.describe_key(KeyId=key)["KeyMetadata"]
    except ClientError as error:
        raise from_client_error(error, f"describe key {key}") from error
    return metadata


class RoleRefusedError(AccessDeniedError):
    """STS refused ``AssumeRole`` with access denied (the role does not exist, its trust policy
    does not name the caller or wants another external ID, or the caller may not
    ``sts:AssumeRole`` it) or because STS is not activated in the Region for the role's
    account (``RegionDisabledException``). Not raised for credentials STS refuses (expired,
    unknown): those fail every other call too."""


class CallerCredentialsFailedError(CredentialsRefusedError):
    """The caller's own credentials failed at an STS ``AssumeRole`` of :func:`assume_role`:
    STS refused them (expired, unknown: the codes of
    :class:`~kmskit.errors.CredentialsRefusedError`), or botocore could not obtain or use them
    before sending it (:data:`~kmskit.errors.UNUSABLE_CREDENTIALS`: an IAM Identity Center
    session that expired, a failing ``credential_process``, ...; botocore's
    :data:`~kmskit.errors.EXPIRED_ON_RENEWAL`: credentials already expired when renewed, by
    this machine's clock; IAM Identity Center refusing the profile's permission set
    (``ForbiddenException``); STS refusing the role of the caller's own profile, ``role_arn``
    with ``source_profile``). Made by :func:`caller_credentials_failed`: at a renewal of a
    role's credentials (:class:`RenewalCredentialsRefusedError`), at the first ``AssumeRole``
    of :func:`assume_role` when no request was sent (the role is named, with its account), and
    by :func:`~kmskit.key_inventory.organization_inventory` at the first ``AssumeRole`` of an
    account after the first. Neither the role nor the Region of the call is the cause: every
    later call and renewal fails too until the caller renews them (``aws sso login``, ...), and
    the command line adds no opt-in Region hint (STS took them in that Region before, or was
    not asked). Exit 3. STS refusing them at the first ``AssumeRole`` of :func:`assume_role`
    is the plain error instead (the credentials may never have worked, and an opt-in Region
    may be the cause); a role's side refusing is :class:`RoleRefusedError`."""


class RenewalCredentialsRefusedError(CallerCredentialsFailedError):
    """The caller's own credentials failed when :func:`assume_role` renewed a role's
    credentials near their expiry, partway through a run (see
    :class:`CallerCredentialsFailedError`), raised from the client call that needed them. A
    renewal refused on the role's side (access denied, STS not activated) is
    :class:`RoleRefusedError`, as the first ``AssumeRole``'s."""


RENEW_CALLER_HINT = (
    "Renew the caller's own credentials (aws sso login for an IAM Identity Center profile; "
    "otherwise new keys, a new session or a working credential_process) and run again"
)
"""What to do when the caller's own credentials failed partway through a run."""

CLOCK_HINT = (
    "Check this machine's clock (botocore compares the credentials' expiry with it: set it "
    "right, with NTP) and the caller's credential source (a credential_process or a "
    "credentials cache that hands out expired credentials), then run again"
)
"""What to do when botocore renewed the caller's credentials and got expired ones."""


@dataclass(frozen=True)
class CallerSource:
    """Where the caller's own credentials come from, as the caller's session says: its
    ``profile`` and, from that profile, its own role (``role_arn``, assumed with its
    ``source_profile`` or ``credential_source``) and its IAM Identity Center account and
    permission set (``sso_account_id``, ``sso_role_name``); None where the session does not
    say (default)."""

    profile: str | None = None
    role_arn: str | None = None
    sso_account: str | None = None
    sso_role: str | None = None

    @classmethod
    def of(cls, session: boto3.session.Session) -> CallerSource:
        """The source of ``session``'s credentials, read from its profile's configuration."""
        try:
            config: dict[str, Any] = session._session.get_scoped_config()
        except BotoCoreError:  # an unknown profile: nothing to name
            config = {}
        return cls(
            profile=session.profile_name,
            role_arn=config.get("role_arn"),
            sso_account=config.get("sso_account_id"),
            sso_role=config.get("sso_role_name"),
        )


# The operations that botocore's credential providers call to obtain the caller's credentials
# when the profile names a role of its own (AssumeRoleProvider, web identity) or a permission
# set of IAM Identity Center (SSOProvider: it turns UnauthorizedException into
# UnauthorizedSSOTokenError, and lets any other error through as a ClientError).
_PROFILE_ROLE_CALLS = ("AssumeRole", "AssumeRoleWithWebIdentity")


def caller_credentials_failed(
    role_arn: str,
    error: BaseException | None,
    *,
    renewal: bool = False,
    source: CallerSource | None = None,
) -> CallerCredentialsFailedError | None:
    """The error of the caller's own credentials failing at an ``AssumeRole`` of ``role_arn``
    (a renewal of its credentials if ``renewal``, default False: its first), ``error`` being
    what was raised: STS's refusal of them in answer to that ``AssumeRole`` (a ``ClientError``
    with a code of :func:`~kmskit.errors.is_credentials_refused`), or botocore's error before
    any request (:data:`~kmskit.errors.UNUSABLE_CREDENTIALS`,
    :data:`~kmskit.errors.EXPIRED_ON_RENEWAL`). With ``source`` (default None), ``error`` was
    raised while botocore obtained the caller's credentials (from that source), so a
    ``ClientError`` is the answer to its provider's call: IAM Identity Center's
    (``GetRoleCredentials``) or STS's to the role of the caller's profile; any of those but
    throttling is the caller's failure. Its message names the role and its account, how the
    credentials failed and what to do (:data:`RENEW_CALLER_HINT`, :data:`CLOCK_HINT`, or what
    to check of the profile's permission set or role). None for any other ``error``: the
    role's refusal, or not the caller's credentials."""
    said = _how_caller_failed(error, source)
    if said is None:
        return None
    how, hint = said
    parts = role_arn.split(":")
    account = f" of account {parts[4]}" if len(parts) > 5 and parts[4] else ""
    failed, doing = (
        (RenewalCredentialsRefusedError, "renew the credentials of")
        if renewal
        else (CallerCredentialsFailedError, "assume")
    )
    return failed(f"could not {doing} role {role_arn}{account}: {how.rstrip('.')}. {hint}")


def _how_caller_failed(
    error: BaseException | None, source: CallerSource | None
) -> tuple[str, str] | None:
    """How the caller's credentials failed (``error``, raised obtaining them from ``source``
    if given) and what to do, for :func:`caller_credentials_failed`; None if not theirs."""
    if isinstance(error, ClientError) and source is not None:
        return _provider_refused(error, source)
    if isinstance(error, ClientError) and is_credentials_refused(
        error.response.get("Error", {}).get("Code", "")
    ):
        return f"STS refused the caller's own credentials: {client_error_text(error)}", (
            RENEW_CALLER_HINT
        )
    unusable = "the caller's own credentials could not be used (no request was sent)"
    if isinstance(error, UNUSABLE_CREDENTIALS):
        return f"{unusable}: {botocore_error_text(error)}", RENEW_CALLER_HINT
    if error is not None and is_expired_on_renewal(error):
        return f"{unusable}: {expired_on_renewal_text(error)}", CLOCK_HINT
    # A credential_process printing a prompt, or a token file gone, raise plain Python errors.
    loading = from_credentials_loading_error(error) if error is not None else None
    if loading is not None:
        said = str(loading).removesuffix(CREDENTIALS_HINT).rstrip()
        return f"the caller's own credentials could not be loaded: {said}", RENEW_CALLER_HINT
    return None


def _provider_refused(error: ClientError, source: CallerSource) -> tuple[str, str] | None:
    """How the call of the caller's credential provider (``source``) was refused, and what
    to do; None for throttling, which is no failure of the credentials."""
    code = error.response.get("Error", {}).get("Code", "")
    if is_throttled(code):
        return None
    text = client_error_text(error)
    profile = f"profile {source.profile}" if source.profile else "the caller's profile"
    if error.operation_name == IDENTITY_CENTER_CALL:
        how = f"IAM Identity Center refused the caller's own credentials: {text}"
        if code != "ForbiddenException":
            return how, RENEW_CALLER_HINT
        permission_set = (
            f"permission set {source.sso_role}"
            if source.sso_role
            else f"permission set of {profile} (sso_role_name)"
        )
        account = "its account (sso_account_id)"
        if source.sso_account:
            account = f"account {source.sso_account}"
        return how, assignment_hint(permission_set, account, profile)
    if error.operation_name in _PROFILE_ROLE_CALLS:
        role = f"role {source.role_arn}" if source.role_arn else "role"
        how = f"STS refused the caller's own {role} (role_arn of {profile}): {text}"
        if is_credentials_refused(code):  # the credentials of the profile's source
            return how, RENEW_CALLER_HINT
        return how, (
            f"Check that role: its trust policy must trust the source of {profile} "
            "(source_profile, credential_source or web_identity_token_file), which must be "
            "allowed to assume it; then run again"
        )
    return f"the caller's own credentials could not be obtained: {text}", RENEW_CALLER_HINT


# The plain Python errors botocore raises while it loads the caller's credentials (a
# credential_process printing a prompt, a token file gone): only those that
# from_credentials_loading_error names are the credentials' failure; any other goes on as it is.
CREDENTIALS_LOADING_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    AttributeError,
    TypeError,
    OSError,
)

# What obtaining the caller's credentials raises that _renew_caller_credentials tells apart: its
# provider's call refused, botocore's errors before any request, and botocore's RuntimeError
# of EXPIRED_ON_RENEWAL (any other RuntimeError goes on as it is).
_CALLER_FAILURES: tuple[type[Exception], ...] = (
    ClientError,
    RuntimeError,
    *UNUSABLE_CREDENTIALS,
    *CREDENTIALS_LOADING_ERRORS,
)


def _renew_caller_credentials(
    credentials: Credentials | None,
    session: boto3.session.Session,
    role_arn: str,
    *,
    renewal: bool,
) -> None:
    """Renew the caller's ``credentials`` (of ``session``) now if botocore would renew them to
    sign the next request, so that what fails there is told as theirs: raised while the
    ``AssumeRole`` of ``role_arn`` is signed, an error of the profile's own ``AssumeRole`` (or
    IAM Identity Center's) would read as STS's answer to it, the role's refusal."""
    if credentials is None:
        return
    try:
        credentials.get_frozen_credentials()
    except _CALLER_FAILURES as error:
        source = CallerSource.of(session) if isinstance(error, ClientError) else None
        failed = caller_credentials_failed(role_arn, error, renewal=renewal, source=source)
        if failed is not None:
            raise failed from error
        if isinstance(error, ClientError):  # throttled
            raise from_client_error(error, "obtain the caller's own credentials") from error
        raise  # another error: not the credentials'


# STS's answer when the account asked for credentials has deactivated STS in the Region called
# (IAM, Account settings): that account cannot be read there; the caller's others can.
_STS_REGION_DISABLED = "RegionDisabledException"
# What an STS call of assume_role raises that it tells apart: STS's answer, or botocore's error
# for the caller's credentials that cannot be used (no request sent).
_STS_FAILURES: tuple[type[Exception], ...] = (
    ClientError,
    *UNUSABLE_CREDENTIALS,
    *CREDENTIALS_LOADING_ERRORS,
)


class _AssumedRoleProvider(CredentialProvider):
    """The one credential provider of an assumed role's botocore session."""

    METHOD = "kmskit-assume-role"

    def __init__(self, credentials: RefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RefreshableCredentials:
        return self._credentials


def assume_role(
    settings: ClientSettings,
    role_arn: str,
    *,
    session_name: str,
    external_id: str | None = None,
    region: str | None = None,
) -> ClientSettings:
    """Client settings (those of ``settings``: its retry settings, its Region, and its
    session's configuration, the caller's ``boto3_session``'s included) whose clients act as the
    role ``role_arn``: STS ``AssumeRole`` is called at once, with the caller's credentials
    (``settings``' STS client in ``region``; default: ``settings.region``), as
    ``session_name`` and with ``external_id`` if given (default: None, none sent), and again
    whenever the credentials come near their expiry (botocore refreshes them), so a long run
    keeps working. Event handlers registered on the caller's session are not carried over:
    a copy of them would hold boto3's own, which boto3 registers again on the role's session,
    and twice registered they make every S3 client fail; register yours on the settings'
    session (``assumed.session().events.register(...)``).

    Access denied, or STS not activated in the Region for the role's account, is
    :class:`RoleRefusedError`; any other refusal the
    :class:`~kmskit.errors.KmskitError` of :func:`~kmskit.errors.from_client_error`. So is a
    renewal's, raised from the client call that needed it, except the caller's own credentials
    failing, refused by STS (expired, unknown) or not obtained or usable before any request was
    sent (an expired IAM Identity Center session, ...:
    :data:`~kmskit.errors.UNUSABLE_CREDENTIALS`; credentials already expired when botocore
    renewed them, :data:`~kmskit.errors.EXPIRED_ON_RENEWAL`; IAM Identity Center or STS
    refusing the permission set or the role of the caller's own profile):
    :class:`RenewalCredentialsRefusedError`, which tells them from the credentials of that
    call refused. Those that fail before the first ``AssumeRole`` is sent are
    :class:`CallerCredentialsFailedError`, naming the role; STS refusing the caller's
    credentials in answer to it is the plain error of
    :func:`~kmskit.errors.from_client_error`. The caller's credentials are renewed, when due,
    before each ``AssumeRole`` is signed, so that a refusal met in renewing them (the role of
    the caller's profile refused) is not taken for the refusal of ``role_arn``.
    botocore logs a refused renewal, with its traceback,
    on the ``botocore.credentials`` logger (a warning) before the call raises it: kmskit adds
    no handler there, so it goes where the application's logging sends it (with none
    configured, nowhere: botocore's own ``NullHandler`` on ``botocore`` keeps it from Python's
    last-resort handler, for the ``kmskit`` command line too). The caller closes the settings
    returned (:meth:`ClientSettings.close`) when done with them."""
    try:
        sts = settings.client("sts", region=region)
    except UNUSABLE_CREDENTIALS as error:  # a credential_process failing as they are loaded
        failed = caller_credentials_failed(role_arn, error)
        raise (failed or from_botocore_error(error)) from error
    except BotoCoreError as error:  # an unknown profile, no Region, ...
        raise from_botocore_error(error) from error
    # The credentials the STS client signs with: the session's, loaded as the client was made
    # (None: none found; the AssumeRole reports it, NoCredentialsError).
    caller = settings.session()
    caller_credentials = caller.get_credentials()
    request: dict[str, str] = {"RoleArn": role_arn, "RoleSessionName": session_name}
    if external_id is not None:
        request["ExternalId"] = external_id

    def fetch(*, renewal: bool = False) -> dict[str, Any]:
        _renew_caller_credentials(caller_credentials, caller, role_arn, renewal=renewal)
        try:
            answer = sts.assume_role(**request)["Credentials"]
        except _STS_FAILURES as error:
            # STS refusing the caller's credentials in answer to the first AssumeRole is the
            # plain error (below): they may never have worked, and in an opt-in Region the
            # Region may be the cause.
            failed = caller_credentials_failed(role_arn, error, renewal=renewal)
            if failed is not None and (renewal or not isinstance(error, ClientError)):
                raise failed from error
            if not isinstance(error, ClientError):
                raise
            refused = from_client_error(error, f"assume role {role_arn}")
            if is_access_denied(error):
                raise RoleRefusedError(str(refused)) from error
            if error.response.get("Error", {}).get("Code") == _STS_REGION_DISABLED:
                raise RoleRefusedError(
                    f"{refused} (activate STS in {sts.meta.region_name} for the role's account: "
                    "IAM console, Account settings; or assume the role in another Region)"
                ) from error
            raise refused from error
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    try:
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(),
            refresh_using=partial(fetch, renewal=True),
            method=_AssumedRoleProvider.METHOD,
        )
        # boto3 exposes the botocore session behind a boto3 session only as its private
        # _session (unchanged since boto3 1.0; test_assume_role fails if a release drops it).
        session = _configured_like(settings.session()._session)
        session.register_component(
            "credential_provider", CredentialResolver([_AssumedRoleProvider(credentials)])
        )
        role_session = boto3.session.Session(botocore_session=session)
    except BotoCoreError as error:
        raise from_botocore_error(error) from error
    return dataclasses.replace(settings, profile=None, boto3_session=role_session)


def _configured_like(caller: botocore.session.Session) -> botocore.session.Session:
    """A new botocore session with the configuration of the caller's, ``caller``, and none of
    its credentials: what was set on it (profile, Region, endpoint, FIPS, dual-stack, ... given
    to ``boto3.session.Session`` or ``set_config_variable``), its default client config (a
    botocore ``Config`` of timeouts, retries, user agent, ...) and its user agent, so that the
    role's clients are made as the caller's are."""
    session = botocore.session.Session()
    for name, value in caller.instance_variables().items():
        session.set_config_variable(name, value)
    session.set_default_client_config(caller.get_default_client_config())
    session.user_agent_name = caller.user_agent_name
    session.user_agent_version = caller.user_agent_version
    session.user_agent_extra = caller.user_agent_extra
    return session
