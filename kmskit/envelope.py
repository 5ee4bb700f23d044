"""Envelope encryption with a KMS key, in the AWS Encryption SDK message format.

Each message gets a fresh data key from KMS (``GenerateDataKey``); the data is encrypted locally
with it in frames, and the message carries the encrypted copy of the data key next to the
ciphertext. Decryption asks KMS to decrypt that copy. The format is the one the AWS Encryption
SDK writes (``aws-encryption-sdk`` does the work here), so ``aws-encryption-cli`` and the SDKs
for other languages read what :class:`Envelope` writes, and :class:`Envelope` reads theirs.

Defaults, and why (measured figures: ``benchmarks/envelope.py``, docs/envelope.md):

* algorithm suite ``0x0478`` (AES-256-GCM, HKDF-SHA512, key commitment, **no** ECDSA
  signature): every frame is authenticated with the data key. Choose :attr:`Suite.SIGNED`
  (``0x0578``, the SDK default) when the people who decrypt must not be able to forge
  messages: with an unsigned suite anyone who can decrypt a message could also have written it.
* 1 MiB frames instead of the SDK's 4 KiB: the SDK's per-frame cost is in Python, so large
  frames are several times faster; a frame is the unit of buffering (three to four frames are
  held at once, a few MiB).
* commitment policy ``REQUIRE_ENCRYPT_REQUIRE_DECRYPT``; messages with more than
  :data:`MAX_ENCRYPTED_DATA_KEYS` encrypted data keys or frames larger than
  :data:`MAX_FRAME_LENGTH` are refused on decrypt (they are how a hostile message costs a
  decryptor KMS calls or memory).

The encryption context is required on encrypt. On decrypt, the pairs the caller expects are
checked against the ones stored in the message *before* KMS is asked for the data key.
"""

from __future__ import annotations

import contextlib
import enum
import io
import logging
import math
import os
import re
import shutil
import struct
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aws_encryption_sdk
from aws_encryption_sdk.exceptions import (
    ActionNotAllowedError,
    AWSEncryptionSDKClientError,
    CacheKeyError,
    CustomMaximumValueExceeded,
    DecryptKeyError,
    EncryptKeyError,
    GenerateKeyError,
    InvalidKeyIdError,
    MasterKeyProviderError,
    MaxEncryptedDataKeysExceeded,
    UnknownRegionError,
)
from aws_encryption_sdk.identifiers import USER_AGENT_SUFFIX, Algorithm, CommitmentPolicy
from aws_encryption_sdk.key_providers.kms import (
    DiscoveryAwsKmsMasterKeyProvider,
    DiscoveryFilter,
    MRKAwareDiscoveryAwsKmsMasterKeyProvider,
    MRKAwareStrictAwsKmsMasterKeyProvider,
    StrictAwsKmsMasterKeyProvider,
)
from aws_encryption_sdk.materials_managers.base import CryptoMaterialsManager
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    InvalidRegionError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import UnknownRegionError as BotocoreUnknownRegionError
from botocore.utils import validate_region_name
from cryptography.exceptions import InvalidSignature, InvalidTag

from kmskit._io import atomic_output, input_size, open_input, writes_in_place
from kmskit._text import is_utf8
from kmskit.audit import KEY_ARN, key_reference_region, resolve_key
from kmskit.aws_names import check_accounts, check_regions
from kmskit.clients import ClientSettings, kms_client, settings_for_call
from kmskit.errors import (
    ConflictError,
    CredentialsRefusedError,
    IntegrityError,
    KmskitError,
    UsageError,
    WrongContextError,
    from_botocore_error,
    from_client_error,
    reworded,
)
from kmskit.progress import progress_bar

KIB = 1024
MIB = 1024 * KIB

DEFAULT_FRAME_LENGTH = 1 * MIB
"""Plaintext bytes per frame. The SDK default is 4 KiB."""
MIN_FRAME_LENGTH = 4 * KIB
MAX_FRAME_LENGTH = 64 * MIB
"""Largest frame (or non-framed body) accepted on encrypt and on decrypt."""
MAX_ENCRYPTED_DATA_KEYS = 10
"""Messages with more encrypted data keys are refused (each could cost a KMS call)."""
KMS_PROVIDER_ID = "aws-kms"
"""Provider ID of data keys encrypted under a KMS key, in every AWS Encryption SDK."""
RESERVED_CONTEXT_PREFIX = "aws-crypto-"
"""The SDK keeps context keys with this prefix for itself (the signing suite's public key)."""


class Suite(enum.Enum):
    """The two algorithm suites kmskit writes. Both commit the data key to the message."""

    COMMITTED = "committed"
    """0x0478: AES-256-GCM + HKDF-SHA512 + key commitment. Default."""
    SIGNED = "signed"
    """0x0578: the same plus an ECDSA P-384 signature over the whole message (SDK default)."""

    @property
    def algorithm(self) -> Any:
        if self is Suite.SIGNED:
            return Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
        return Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY


@dataclass(frozen=True)
class CacheLimits:
    """Data key caching: reuse one data key for several messages.

    Fewer ``GenerateDataKey`` (and ``Decrypt``) calls and lower KMS cost, but one data key then
    protects more data, and it stays in this process's memory: it is not used after
    ``max_age``, but the SDK's cache drops it only when the cache is next used, or when the
    Envelope is closed (:meth:`Envelope.close`). A cached key is dropped when any limit is
    reached. Each Envelope has a cache of its own: Envelopes never share a data key.

    Args:
        max_age: seconds a data key may be used. Default 60.
        max_messages: messages encrypted under one data key. Default 100.
        max_bytes: plaintext bytes encrypted under one data key. Default 64 MiB. A single
            message at least this large is never cached.
        capacity: data keys held at once for encrypting (one per encryption context), and as
            many decrypted data keys (one per data key), in a cache of their own. Default 100.
    """

    max_age: float = 60.0
    max_messages: int = 100
    max_bytes: int = 64 * MIB
    capacity: int = 100

    def __post_init__(self) -> None:
        # Checked here, not where the SDK first uses them: 1.5 messages or "60" seconds fail
        # there with a TypeError, and an infinite max_age means a data key that never expires.
        max_age: object = self.max_age
        if not (
            isinstance(max_age, (int, float))
            and not isinstance(max_age, bool)
            and math.isfinite(max_age)
            and max_age > 0
        ):
            raise UsageError(
                f"'max_age' must be a finite number of seconds, more than 0. Received: {max_age!r}"
            )
        # 2**32 messages per data key is the SDK's hard limit.
        _check_count("max_messages", self.max_messages, 1, 2**32, "1-2**32")
        _check_count("max_bytes", self.max_bytes, 0, 2**63 - 1, "0-2**63-1")
        _check_count("capacity", self.capacity, 1, None, "at least 1")


_SUITE_IDS = frozenset(suite.algorithm_id for suite in Algorithm)


def looks_like_message(data: bytes) -> bool:
    """Whether ``data`` starts as an AWS Encryption SDK message does (``kmskit encrypt``'s
    output): version 2 (byte 0x02, then a known algorithm suite ID such as 0x0478), or version 1
    (0x01, then message type 0x80). For hints only (a KMS ciphertext blob starts otherwise, but
    its format is not documented): never a reason to refuse data."""
    if data[:1] == b"\x02":
        return int.from_bytes(data[1:3], "big") in _SUITE_IDS
    return data[:2] == b"\x01\x80"


def _check_count(name: str, value: object, low: int, high: int | None, allowed: str) -> None:
    """Raise unless ``value`` is an int (not a bool) from ``low`` to ``high`` (None: no limit)."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        raise UsageError(f"'{name}' must be a whole number, {allowed}. Received: {value!r}")


@dataclass(frozen=True)
class MessageInfo:
    """What a message header says: its encryption context (without the SDK's own
    ``aws-crypto-*`` pairs), the KMS keys its data key is encrypted under, and its suite."""

    context: dict[str, str]
    key_ids: tuple[str, ...]
    suite_id: int
    signed: bool
    frame_length: int

    @classmethod
    def from_header(cls, header: Any) -> MessageInfo:
        return cls(
            context={
                k: v
                for k, v in header.encryption_context.items()
                if not k.startswith(RESERVED_CONTEXT_PREFIX)
            },
            key_ids=tuple(sorted(_edk_key_ids(header.encrypted_data_keys))),
            suite_id=int(header.algorithm.algorithm_id),
            signed=header.algorithm.signing_algorithm_info is not None,
            frame_length=int(header.frame_length),
        )


def check_context(
    context: Mapping[str, str], *, required: bool, empty_values: bool = False
) -> dict[str, str]:
    """Validate an encryption context; ``required`` means it must have at least one pair.

    Keys and values must be non-empty strings of UTF-8 text, as KMS takes them: a string
    holding lone surrogates (how Python decodes bytes that are not UTF-8, in command-line
    arguments and file names, or a JSON ``"\\udcff"``) is refused before any KMS call.
    ``empty_values`` accepts an empty value: give it when *decrypting* only (see below)."""
    if not isinstance(context, Mapping):
        # A "purpose=backup" string (the CLI's form) would fail deep inside with AttributeError.
        raise UsageError(
            "the encryption context must be a mapping of strings, such as "
            f"{{'purpose': 'backup'}}. Received: {type(context).__name__} {context!r:.80}"
        )
    if required and not context:
        raise UsageError(
            "an encryption context is required (at least one --context key=value pair, e.g. "
            "purpose=backup): it binds the ciphertext to its use and shows in CloudTrail"
        )
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            rule = (
                "keys must be non-empty strings, and values strings"
                if empty_values
                else "keys and values must be non-empty strings"
            )
            raise UsageError(f"encryption context {rule}. Received: {key!r}={value!r}")
        if not value and not empty_values:
            # Refused when encrypting. Decrypting accepts an empty value (empty_values): data
            # encrypted with one (by kmskit before it refused them, or by another SDK) needs
            # exactly that context to decrypt, and refusing it would strand that data.
            raise UsageError(
                "encryption context keys and values must be non-empty strings. "
                f"Received: {key!r}={value!r}"
            )
        if not is_utf8(key) or not is_utf8(value):
            raise UsageError(
                "encryption context keys and values must be UTF-8 text. "
                f"Received: {key!r}={value!r}"
            )
        if key.startswith(RESERVED_CONTEXT_PREFIX):
            raise UsageError(
                f"encryption context key '{key}' is reserved: keys starting with "
                f"'{RESERVED_CONTEXT_PREFIX}' belong to the AWS Encryption SDK"
            )
    return dict(context)


def parse_context(pairs: Sequence[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` (from ``--context``) as a dict; every key once."""
    context: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"'--context' must be key=value. Received: {pair!r}")
        if not key or not value:
            # `purpose=` is how `--context purpose=$UNSET` arrives.
            raise UsageError(
                f"'--context' must be key=value with a non-empty key and value. Received: {pair!r}"
            )
        if key in context:
            raise UsageError(f"'--context' names the key '{key}' twice. Received: {pair!r}")
        context[key] = value
    return check_context(context, required=False)


def kms_call(client: Any, operation: str, doing: str, **params: Any) -> dict[str, Any]:
    """Call ``client.<operation>(**params)``; a ``ClientError`` becomes a :class:`KmskitError`."""
    try:
        response: dict[str, Any] = getattr(client, operation)(**params)
    except ClientError as error:
        raise from_client_error(error, doing) from error
    except BotoCoreError as error:  # no credentials, a connection error, ...
        raise from_botocore_error(error) from error
    return response


def kms_call_with_settings(
    settings: ClientSettings | None, operation: str, doing: str, **params: Any
) -> dict[str, Any]:
    """:func:`kms_call` with the KMS client ``settings`` keep (left open, the caller's), or with
    ``settings`` None with the client of a ``ClientSettings()`` made for this one call and closed
    before it returns or raises (:func:`~kmskit.clients.settings_for_call`). An unknown profile
    or no Region is :class:`~kmskit.errors.UsageError` (:func:`~kmskit.clients.kms_client`)."""
    with settings_for_call(settings) as used:
        return kms_call(kms_client(used), operation, doing, **params)


def resolve_key_arn(key: str, settings: ClientSettings) -> str:
    """The key ARN for a key ARN, key ID, alias name or alias ARN: :func:`kmskit.audit.resolve_key`
    with clients from ``settings`` (``DescribeKey`` in an alias ARN's own Region)."""
    try:
        return resolve_key(key, lambda region: settings.client("kms", region=region))
    except BotoCoreError as error:  # an unknown profile, no credentials, ...
        raise from_botocore_error(error) from error


def partition_of(region: str | None, settings: ClientSettings) -> str:
    """The AWS partition of ``region`` (``aws``, ``aws-us-gov``, ``aws-cn``, ...) from botocore's
    bundled endpoint data, without a network call; ``aws`` when the Region is unknown. An unknown
    profile is :class:`~kmskit.errors.UsageError`."""
    if not region:
        return "aws"
    try:
        partition: str = settings.session().get_partition_for_region(region)
    except BotocoreUnknownRegionError:
        return "aws"
    except ProfileNotFound as error:
        raise from_botocore_error(error) from error
    return partition


def _edk_key_ids(encrypted_data_keys: Any) -> list[str]:
    """The KMS key ARNs of a message's encrypted data keys (provider ID ``aws-kms``).

    Data keys of other providers (an SDK's raw AES or RSA wrapping keys, say) are skipped, as
    the SDK's KMS providers skip them: their key info is binary (a key name, then an IV).
    """
    ids = []
    for edk in encrypted_data_keys:
        provider = edk.key_provider
        provider_id = provider.provider_id
        if isinstance(provider_id, bytes):
            provider_id = provider_id.decode("utf-8", "replace")
        if provider_id != KMS_PROVIDER_ID:
            continue
        info = provider.key_info
        ids.append(info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info))
    return ids


def _as_text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _invalid_region(key_id: str, region: str) -> str:
    return (
        f"could not decrypt: the message's encrypted data key names the key ARN {key_id!r}, whose "
        f"Region {region!r} is not a valid Region name: the message is corrupt or tampered with"
    )


def _damaged_data_key(encrypted_data_keys: Any) -> str | None:
    """Why the message's encrypted data keys can only be damaged ones (None: they may be fine).

    * A KMS data key (provider ID ``aws-kms``) whose key ARN names a Region that is not a valid
      Region name (``eu,west-1``: one flipped bit), as the SDK reads the Region (the fourth
      ``:`` field); no KMS key has such an ARN, and botocore refuses to make its client.
    * No KMS data key, but one whose key info is exactly a KMS key ARN under another provider
      ID (``aws-kmt``): a KMS data key whose provider ID changed. Provider IDs starting with
      ``aws-kms-`` belong to other KMS keyrings (``aws-kms-rsa``, ``aws-kms-hierarchy``), and a
      raw key's info is its name (an AES key's, then binary), not a key ARN: those messages are
      for keys kmskit does not use (wrong key, exit 7), not damaged ones.
    """
    kms_key_ids = _edk_key_ids(encrypted_data_keys)
    for key_id in kms_key_ids:
        fields = key_id.split(":", 4)
        if len(fields) > 3:
            try:
                validate_region_name(fields[3])
            except InvalidRegionError:
                return _invalid_region(key_id, fields[3])
    if kms_key_ids:
        return None
    for edk in encrypted_data_keys:
        provider_id = _as_text(edk.key_provider.provider_id)
        key_info = _as_text(edk.key_provider.key_info)
        if not provider_id.startswith(f"{KMS_PROVIDER_ID}-") and KEY_ARN.match(key_info):
            return (
                "could not decrypt: no encrypted data key in the message is a KMS one kmskit can "
                f"use: the data key of {key_info!r} has the provider ID {provider_id!r}, not "
                f"'{KMS_PROVIDER_ID}'; the message is corrupt or tampered with"
            )
    return None


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _KmsFailures(threading.local):
    """KMS errors seen by one thread during one operation (the SDK drops them)."""

    def __init__(self) -> None:
        self.errors: list[ClientError] = []
        # (Region, error) of each Decrypt call whose Region could not be reached: that copy
        # of the data key is skipped for the next one (_KmskitClientsMixin._wrap_client).
        self.unreachable: list[tuple[str, BotoCoreError]] = []
        # Whether the KMS request of the current attempt was signed (its credentials fetched):
        # a connection error after that, carrying no endpoint URL (a proxy's, botocore's
        # catch-all HTTPClientError), is of the KMS request itself (_endpoint_failed).
        self.signed = False

    def clear(self) -> None:
        self.errors = []
        self.unreachable = []


def _endpoint_failed(error: BotoCoreError, client: Any, signed: bool) -> bool:
    """Whether ``error`` is a connection error (or a timeout) of ``client``'s own endpoint,
    not of another one reached during its call (STS or SSO fetching a profile's credentials
    while the request is signed). An error naming no endpoint (a proxy refusing the tunnel:
    ``ProxyConnectionError``; botocore's catch-all ``HTTPClientError``) is the KMS request's
    when it came after the request was ``signed``, so its credentials were fetched."""
    if not isinstance(error, (BotocoreConnectionError, HTTPClientError)):
        return False
    failed = error.kwargs.get("endpoint_url")
    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None)
    if not isinstance(failed, str):
        return signed
    if not isinstance(endpoint, str):
        return False
    return urllib.parse.urlsplit(failed)[:2] == urllib.parse.urlsplit(endpoint)[:2]


def _unreachable_text(unreachable: Sequence[tuple[str, BotoCoreError]]) -> str:
    """'KMS in REGIONS could not be reached', and/or 'did not answer in time' for the Regions
    whose KMS was reached but did not answer (a read timeout)."""
    down = dict.fromkeys(r for r, e in unreachable if not isinstance(e, ReadTimeoutError))
    slow = dict.fromkeys(r for r, e in unreachable if isinstance(e, ReadTimeoutError))
    parts = [f"KMS in {', '.join(down)} could not be reached"] if down else []
    if slow:
        parts.append(f"KMS in {', '.join(slow)} did not answer in time")
    return " and ".join(parts)


# The SDK's logger for the KMS key providers, which logs a client dropped (_wrap_client).
_SDK_KMS_LOGGER = logging.getLogger("aws_encryption_sdk.key_providers.kms")
# Tries of a key provider's _client when other threads' connection errors keep dropping it.
_CLIENT_ATTEMPTS = 3


class _KmskitClientsMixin:
    """Every regional KMS client of an SDK key provider comes from :class:`ClientSettings`
    (retry mode, attempts, ``AWS_ENDPOINT_URL``), records its errors, and is closed once
    (:meth:`close_clients`), not left to the garbage collector."""

    _regional_clients: dict[str, Any]
    _register_client: Callable[[Any, str], None]
    config: Any  # the SDK provider's configuration (KMSMasterKeyProviderConfig)
    _kmskit_settings: ClientSettings
    _kmskit_failures: _KmsFailures
    _kmskit_lock: threading.Lock  # guards the three below and _regional_clients' additions
    _kmskit_clients: list[Any]  # made and not closed yet, those the SDK dropped included
    _kmskit_users: int  # messages being encrypted or decrypted with them (begin_use)
    _kmskit_closed: bool

    # The SDK builds its configuration in MasterKeyProvider.__new__ from the keyword arguments,
    # and calls add_regional_client from __init__: the settings must be in place before that.
    def __new__(cls, *, settings: ClientSettings, failures: _KmsFailures, **kwargs: Any) -> Any:
        instance = super().__new__(cls, **kwargs)
        instance._kmskit_settings = settings
        instance._kmskit_failures = failures
        instance._kmskit_lock = threading.Lock()
        instance._kmskit_clients = []
        instance._kmskit_users = 0
        instance._kmskit_closed = False
        return instance

    def __init__(self, **kwargs: Any) -> None:
        # The SDK makes clients here (the configured Region's, each key ARN's) and may then
        # fail (a key ARN's Region botocore refuses, ...): the provider is never handed out, so
        # nothing else could close them.
        try:
            super().__init__(**kwargs)
        except BaseException:
            self.close_clients()
            raise

    def add_regional_client(self, region_name: str) -> None:
        if region_name in self._regional_clients:
            return
        # A client of its own: the handler registered below holds this provider (and its
        # failures), which a client kept by the settings would keep alive for ever. Made
        # outside the lock (the settings take their own, and a caller's session may run code).
        client = self._kmskit_settings.client(
            "kms", region=region_name, new=True, user_agent_extra=USER_AGENT_SUFFIX
        )
        with self._kmskit_lock:
            spare = region_name in self._regional_clients  # another thread made one first
            if not spare:
                # Closed by close_clients also once the SDK drops it from _regional_clients
                # (after a connection error), while a master key may still hold it.
                self._kmskit_clients.append(client)
                client.meta.events.register("after-call.kms", self._record_failure)
                # Around botocore's signer (request-created), once per attempt.
                client.meta.events.register_first("request-created.kms", self._signing)
                client.meta.events.register_last("request-created.kms", self._signed)
                self._register_client(client, region_name)
                self._regional_clients[region_name] = client
        if spare:
            client.close()  # never used

    def begin_use(self) -> None:
        """A message starts being encrypted or decrypted with this provider: its clients stay
        open until it ends (:meth:`end_use`), even if :meth:`close_clients` comes first."""
        with self._kmskit_lock:
            self._kmskit_users += 1

    def end_use(self) -> None:
        """The message of a :meth:`begin_use` ended (returned or raised): the last one to end
        after :meth:`close_clients` closes the clients, those made after it included."""
        with self._kmskit_lock:
            self._kmskit_users -= 1
            clients = self._clients_to_close()
        for client in clients:
            client.close()

    def close_clients(self) -> None:
        """Close the connections of the KMS clients this provider made (its own, which no
        :class:`ClientSettings` keeps), each once: now, or while messages are still being
        encrypted or decrypted with them (:meth:`begin_use`) when the last of those ends, with
        any client one of them made meanwhile (for the Region of another key ARN)."""
        with self._kmskit_lock:
            self._kmskit_closed = True
            clients = self._clients_to_close()
        for client in clients:
            client.close()

    def _clients_to_close(self) -> list[Any]:
        """The clients to close now (none until closed and unused), forgotten; under the lock."""
        if not self._kmskit_closed or self._kmskit_users:
            return []
        clients, self._kmskit_clients = self._kmskit_clients, []
        return clients

    def _signing(self, **_: Any) -> None:
        self._kmskit_failures.signed = False

    def _signed(self, **_: Any) -> None:
        self._kmskit_failures.signed = True

    def _wrap_client(self, region_name: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        # The SDK's own drops the Region's client after botocore's error (a connection error)
        # with a bare pop: under threads, a second message failing with the same client raised
        # KeyError instead of its error, and one failing after a new client had replaced it
        # dropped the new one. Only that client is dropped, once.
        try:
            return method(*args, **kwargs)
        except BotoCoreError as error:
            with self._kmskit_lock:
                if self._regional_clients.get(region_name) is getattr(method, "__self__", None):
                    del self._regional_clients[region_name]
                    _SDK_KMS_LOGGER.error(
                        'Removing regional client "%s" from cache due to BotoCoreError on %s call',
                        region_name,
                        getattr(method, "__name__", method),
                    )
            # A Region that cannot be reached fails one copy of the data key, as a KMS error
            # does (the SDK only turns ClientError into DecryptKeyError): the SDK goes on to the
            # message's next copy (a key of another Region, as docs/envelope.md advises for
            # disaster recovery), and the error is reported if no copy decrypts.
            # Only KMS's own endpoint: credentials fetched while signing (a role profile's
            # AssumeRole, SSO) fail with their endpoint's error, which is not the Region's.
            if getattr(method, "__name__", None) == "decrypt" and _endpoint_failed(
                error, getattr(method, "__self__", None), self._kmskit_failures.signed
            ):
                self._kmskit_failures.unreachable.append((region_name, error))
                raise DecryptKeyError(_unreachable_text([(region_name, error)])) from error
            raise

    def _client(self, key_id: str) -> Any:
        # The SDK's adds the Region's client, then reads it back: another thread's connection
        # error (_wrap_client) may drop it in between (KeyError). Add it again, then.
        for _ in range(_CLIENT_ATTEMPTS - 1):
            try:
                return super()._client(key_id)  # type: ignore[misc]
            except KeyError:
                continue
        return super()._client(key_id)  # type: ignore[misc]

    def master_key_for_decrypt(self, key_info: bytes) -> Any:
        # The SDK calls this on decrypt (discovery mode) with the key ARN read from the message,
        # and makes a client in that ARN's Region: a Region botocore refuses there comes from a
        # damaged message, not from the caller's settings (those are checked when the provider
        # is made, outside this method).
        # A key the discovery filter refuses is skipped, as one the SDK has no master key for
        # (InvalidKeyIdError), without a KMS call: the SDK's own check raises an error that
        # ends decryption, so a message with a copy of its data key under an allowed key too
        # failed whenever the SDK (in the message's random order) tried the other copy first.
        # kmskit's up-front check (_check_keys) refuses a message with no allowed copy.
        allowed = self.config.discovery_filter
        key_arn = _as_text(key_info)
        if allowed is not None and not _of_accounts(
            key_arn, allowed.account_ids, allowed.partition
        ):
            raise InvalidKeyIdError(
                f"{key_arn} is not a key of the discovery accounts "
                f"({', '.join(allowed.account_ids)}) in partition {allowed.partition}"
            )
        try:
            return super().master_key_for_decrypt(key_info)  # type: ignore[misc]
        except InvalidRegionError as error:
            region = str(error.kwargs.get("region_name"))
            raise IntegrityError(_invalid_region(_as_text(key_info), region)) from error

    def _record_failure(
        self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any
    ) -> None:
        if http_response is not None and http_response.status_code >= 300:
            self._kmskit_failures.errors.append(ClientError(parsed, model.name))  # type: ignore[arg-type]


class _StrictProvider(_KmskitClientsMixin, StrictAwsKmsMasterKeyProvider):  # type: ignore[misc]
    pass


class _DiscoveryProvider(_KmskitClientsMixin, DiscoveryAwsKmsMasterKeyProvider):  # type: ignore[misc]
    pass


class _MrkStrictProvider(_KmskitClientsMixin, MRKAwareStrictAwsKmsMasterKeyProvider):  # type: ignore[misc]
    """Strict decryption when a key is a multi-Region key: a data key encrypted under any of its
    related keys (:func:`same_key_for_decrypt`) is decrypted with the key named, in its Region."""

    def validate_unique_mrks(self) -> None:
        # The SDK refuses related multi-Region keys in one provider. kmskit's keys also encrypt,
        # where a copy under a primary and one under its replica are deliberate, and an Envelope
        # must decrypt what it encrypted: allowed. For each data key of a message the SDK tries
        # the keys in the order given, so the first key named is the first one called.
        return


class _MrkDiscoveryProvider(_KmskitClientsMixin, MRKAwareDiscoveryAwsKmsMasterKeyProvider):  # type: ignore[misc]
    """Discovery with a discovery Region: the SDK calls a multi-Region key the message names in
    that Region (its replica there), if the key is of that Region's partition (where its
    replicas are); kmskit uses any other key only if it is in that Region."""

    discovery_partition = "aws"  # of the discovery Region; set by Envelope

    def _new_master_key_impl(self, key_id: Any) -> Any:
        # The SDK would call a single-Region key in its own Region, in a disaster the one that
        # is unavailable (its MRK discovery keyring does not: the same rule as here). The SDK
        # skips a data key whose master key raises InvalidKeyIdError, without a KMS call.
        region = self.config.discovery_region
        if not _usable_in_region(_as_text(key_id), region, self.discovery_partition):
            raise InvalidKeyIdError(
                f"{_as_text(key_id)} is neither a multi-Region key of the partition of the "
                f"discovery Region {region} nor a key of that Region"
            )
        return super()._new_master_key_impl(key_id)


@dataclass(frozen=True)
class _DecryptPolicy:
    expected_context: dict[str, str]
    require_signed: bool
    allowed_key_arns: tuple[str, ...]
    allowed_accounts: tuple[str, ...]
    partition: str = "aws"  # of the allowed accounts' keys
    discovery_region: str | None = None


class _LocksByKey:
    """A lock per key, kept only while a thread holds or waits for it: threads with one key
    take turns, threads with different keys never wait for each other."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, list[int]]] = {}

    @contextlib.contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if not users[0]:
                    del self._locks[key]

    def __len__(self) -> int:
        """How many keys are held or waited for now."""
        with self._guard:
            return len(self._locks)


class _DataKeyCache(aws_encryption_sdk.LocalCryptoMaterialsCache):  # type: ignore[misc]
    """The SDK's local cache, whose :meth:`remove` of an entry already gone is a no-op.

    The SDK's caching manager looks an entry up, lets the cache's lock go, and removes the
    entry if it is too old; meanwhile another thread's message may have evicted it (the cache
    full) or :meth:`Envelope.close` cleared the cache. The SDK's remove() then raised
    CacheKeyError, which failed the message as not intact (exit 5). The entry is gone, as
    the removal wanted: the message goes on to KMS for its data key.
    """

    def remove(self, value: Any) -> None:
        with contextlib.suppress(CacheKeyError):
            super().remove(value)


class _CheckedMaterials(CryptoMaterialsManager):  # type: ignore[misc]
    """Wraps the SDK's materials manager: checks a message's context, suite and keys before
    any KMS call, and turns the KMS failures behind SDK errors into kmskit errors."""

    def __init__(
        self,
        inner: Any,
        failures: _KmsFailures,
        policy: _DecryptPolicy | None,
        cache_lock: threading.Lock | None = None,
        decrypt_locks: _LocksByKey | None = None,
    ) -> None:
        self._inner = inner
        self._failures = failures
        self._policy = policy
        self._cache_lock = cache_lock
        self._decrypt_locks = decrypt_locks

    def get_encryption_materials(self, request: Any) -> Any:
        self._failures.clear()
        # With the data key cache, threads that miss it at once would each generate a data key
        # and each put it in the cache, replacing the others' (one GenerateDataKey per thread,
        # not per max_messages). Requests the cache takes (known length) are served one at a
        # time: a hit is a dictionary lookup, a miss one KMS call that the others then reuse.
        # A message of unknown length bypasses the cache: no lock. One of at least max_bytes
        # gets its own data key from the backing manager, without the lock and without the
        # cache, which the SDK's caching manager would still look the message up in and then
        # remove the entry it found over the limit: racing a cached message that removes it
        # too (CacheKeyError), or removing the fresh entry that message just put there.
        inner = self._inner
        length = request.plaintext_length
        limit = getattr(inner, "max_bytes_encrypted", None)
        lock = None
        if limit is not None and length is not None:
            if length < limit:
                lock = self._cache_lock
            else:
                inner = inner.backing_materials_manager
        with lock or contextlib.nullcontext():
            try:
                return inner.get_encryption_materials(request)
            except (GenerateKeyError, EncryptKeyError) as error:
                raise self._kms_error("generate a data key", error) from error
            except BotoCoreError as error:  # no credentials, ... (the SDK passes them on)
                raise from_botocore_error(error) from error

    def decrypt_materials(self, request: Any) -> Any:
        if self._policy is not None:
            self._check(request)
        self._failures.clear()
        # With the cache, threads that miss it together for one data key would each call
        # Decrypt; requests for the same data keys are served one at a time, so the first
        # fills the cache and the others hit it. Other data keys do not wait.
        held: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if self._decrypt_locks is not None:
            data_keys = frozenset(
                (edk.key_provider.provider_id, edk.key_provider.key_info, edk.encrypted_data_key)
                for edk in request.encrypted_data_keys
            )
            held = self._decrypt_locks.hold(data_keys)
        try:
            with held:
                return self._inner.decrypt_materials(request)
        except DecryptKeyError as error:
            in_message = _edk_key_ids(request.encrypted_data_keys)
            keys = ", ".join(in_message) or "none"
            failure = self._kms_error(f"decrypt the data key (message keys: {keys})", error)
            failure = self._with_unreachable(failure, in_message)
            self._set_discovery_regions(failure, in_message)
            raise self._with_replica_hint(failure, request) from error
        except BotoCoreError as error:  # no credentials, ... (the SDK passes them on)
            failure = from_botocore_error(error)
            if isinstance(error, (BotocoreConnectionError, HTTPClientError)):
                failure = self._with_replica_hint(failure, request)
            raise failure from error

    def _with_unreachable(self, error: KmskitError, message_keys: Sequence[str]) -> KmskitError:
        """``error`` (no copy of the data key decrypted), with the Regions that could not be
        reached (:attr:`_KmsFailures.unreachable`): the connection error itself when no KMS
        call failed otherwise, as botocore words it for a message with one key."""
        unreachable = self._failures.unreachable
        if not unreachable:
            return error
        regions = _unreachable_text(unreachable)
        connection = from_botocore_error(unreachable[-1][1])
        if len(message_keys) < 2 and not self._failures.errors:
            return connection
        if self._failures.errors:
            return reworded(error, f"{error}; {regions} ({connection})")
        return reworded(
            connection,
            f"could not decrypt the data key (message keys: {', '.join(message_keys)}): "
            f"{regions} ({connection}), and no copy of the data key was "
            f"decrypted. {self._unreachable_advice(message_keys)}",
        )

    def _unreachable_advice(self, message_keys: Sequence[str]) -> str:
        """What to do when no Region of a message's keys could be reached: name a key of
        another Region, unless every key of the message is a single-Region key of a Region
        that could not be reached (nothing else decrypts it); in discovery mode, give a
        discovery Region, or another one than the Region given."""
        down = {region for region, _ in self._failures.unreachable}
        stranded = all(
            key_reference_region(key) in down and _multi_region_identity(key) is None
            for key in message_keys
        )
        advice = [] if stranded else ["Name a key of a Region that can be reached ('keys' / --key)"]
        policy = self._policy
        if policy is not None and not policy.allowed_key_arns and not stranded:
            if policy.discovery_region:
                advice.append(
                    "give another Region to call ('discovery_region' / --discovery-region; "
                    f"{policy.discovery_region}, the one given, could not be reached)"
                )
            else:
                advice.append("give the Region to call ('discovery_region' / --discovery-region)")
        if not advice:
            return (
                "Every key of the message is a single-Region key of those Regions, which nothing "
                "else can decrypt: run again when KMS there answers"
            )
        return ", or ".join(advice)

    def _with_replica_hint(self, error: KmskitError, request: Any) -> KmskitError:
        """``error``, saying that a replica could decrypt, when KMS failed in discovery mode
        without a discovery Region for a message under a multi-Region key."""
        policy = self._policy
        if policy is None or policy.allowed_key_arns or policy.discovery_region:
            return error
        hint = _replica_hint(_edk_key_ids(request.encrypted_data_keys))
        return reworded(error, f"{error}. {hint}") if hint else error

    def _set_discovery_regions(self, error: KmskitError, message_keys: Sequence[str]) -> None:
        """When KMS refused the credentials (:class:`CredentialsRefusedError`) in discovery
        mode, set the Regions it was called in as the error's ``regions``: the discovery Region
        if there is one, else the Region of each key ARN the message names (of the discovery
        accounts, if given) that discovery calls KMS in. Only the message tells them (the
        command line's opt-in Region hint would otherwise go by ``--region``); with keys named
        (strict mode) they are those keys' Regions, which the caller knows. Unchanged when no
        key ARN names a Region (the SDK then calls the configured Region)."""
        policy = self._policy
        if not isinstance(error, CredentialsRefusedError) or policy is None:
            return
        if policy.allowed_key_arns:
            return
        if policy.discovery_region:
            error.regions = (policy.discovery_region,)
            return
        regions = [
            region
            for key in message_keys
            if not policy.allowed_accounts or _arn_account(key) in policy.allowed_accounts
            if (region := key_reference_region(key))
        ]
        if regions:
            error.regions = tuple(dict.fromkeys(regions))

    def _check(self, request: Any) -> None:
        policy = self._policy
        if policy is None:
            return
        algorithm = request.algorithm
        if policy.require_signed and algorithm.signing_algorithm_info is None:
            raise IntegrityError(
                f"the message is not signed (algorithm suite 0x{algorithm.algorithm_id:04x}) but a "
                "signed message was required: anyone able to decrypt it could have written it"
            )
        stored = request.encryption_context
        for key, value in policy.expected_context.items():
            if key not in stored:
                raise WrongContextError(
                    f"wrong encryption context: expected {key}={value}, but the message has no "
                    f"'{key}' (it has: {_format_context(stored)})",
                    key=key,
                )
            if stored[key] != value:
                raise WrongContextError(
                    f"wrong encryption context: expected {key}={value}, the message has "
                    f"{key}={stored[key]}",
                    key=key,
                    found=stored[key],
                )
        # Before the key checks: a damaged data key is no wrong key, in any mode.
        damage = _damaged_data_key(request.encrypted_data_keys)
        if damage is not None:
            raise IntegrityError(damage)
        _check_keys(policy, request.encrypted_data_keys)

    def _kms_error(self, doing: str, error: AWSEncryptionSDKClientError) -> KmskitError:
        if self._failures.errors:
            return from_client_error(self._failures.errors[-1], doing)
        # No KMS call failed: the credentials did, as botocore obtained them for one (IAM
        # Identity Center's or STS's refusal of the profile's), which the SDK wrapped as it
        # wraps KMS's: their error, not a conflict of keys.
        cause = _client_error_in_chain(error)
        if cause is not None:
            return from_client_error(cause, doing)
        return ConflictError(f"could not {doing}: {error}")


def _client_error_in_chain(error: BaseException) -> ClientError | None:
    """The first ``ClientError`` among the exceptions ``error`` was raised from or during."""
    seen: set[int] = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ClientError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _check_keys(policy: _DecryptPolicy, encrypted_data_keys: Any) -> None:
    """Refuse a message none of whose data keys ``policy`` lets kmskit decrypt (no KMS call)."""
    if policy.allowed_key_arns:
        in_message = _edk_key_ids(encrypted_data_keys)
        if not any(
            same_key_for_decrypt(key, allowed)
            for key in in_message
            for allowed in policy.allowed_key_arns
        ):
            hint = _replica_hint(in_message)
            raise ConflictError(
                f"wrong key: the message's data key is encrypted under "
                f"{', '.join(in_message) or 'no KMS key'}, not under "
                f"{', '.join(policy.allowed_key_arns)}" + (f". {hint}" if hint else "")
            )
    if policy.allowed_accounts:
        in_message = _edk_key_ids(encrypted_data_keys)
        accounts = {_arn_account(arn) for arn in in_message}
        if not accounts & set(policy.allowed_accounts):
            under = (
                f"keys of account(s) {', '.join(sorted(accounts))}"
                if accounts
                else "no KMS key, so of no account(s)"
            )
            raise ConflictError(
                f"wrong key: the message's data key is encrypted under {under}, not of "
                f"{', '.join(policy.allowed_accounts)}"
            )
        if not any(
            _of_accounts(arn, policy.allowed_accounts, policy.partition) for arn in in_message
        ):
            where = "discovery" if policy.discovery_region else "configured"
            raise ConflictError(
                "wrong key: the message's data key is encrypted under "
                f"{', '.join(in_message)}, not under a key of partition {policy.partition} "
                f"(the partition of the {where} Region, to which discovery accounts are "
                "limited)"
            )
    if policy.discovery_region:
        in_message = _edk_key_ids(encrypted_data_keys)
        region = policy.discovery_region
        if not any(_usable_in_region(key, region, policy.partition) for key in in_message):
            elsewhere = [key for key in in_message if _multi_region_identity(key) is not None]
            if elsewhere:
                theirs = elsewhere[0].split(":")[1]
                raise ConflictError(
                    "wrong key: the message's data key is encrypted under "
                    f"{', '.join(elsewhere)}, a multi-Region key of partition {theirs}, not of "
                    f"{policy.partition}, the partition of the discovery Region {region}: a "
                    "multi-Region key has replicas in its own partition only. Name the key to "
                    f"use ('keys' / --key), or give a discovery Region of partition {theirs}"
                )
            raise ConflictError(
                "wrong key: the message's data key is encrypted under "
                f"{', '.join(in_message) or 'no KMS key'}, not under a multi-Region key: "
                f"with the discovery Region {region} only a multi-Region key (called in "
                f"{region}, where its replica must be) or a key of {region} is used. Name "
                "the key to use ('keys' / --key), or decrypt without a discovery Region"
            )


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else "(not a KMS key ARN)"


def _of_accounts(arn: str, accounts: Sequence[str], partition: str) -> bool:
    """Whether the key ARN ``arn`` is of one of ``accounts`` in ``partition`` (the discovery
    filter's rule)."""
    return arn.split(":")[1:2] == [partition] and _arn_account(arn) in accounts


def _multi_region_identity(key_arn: str) -> tuple[str, str, str] | None:
    """(partition, account, key ID) of a multi-Region key's ARN (key ID ``mrk-...``), the same
    for a primary and each of its replicas; None for any other key ARN or string."""
    match = KEY_ARN.match(key_arn)
    if match is None or not match.group(3).startswith("mrk-"):
        return None
    return key_arn.split(":", 2)[1], match.group(2), match.group(3)


def same_key_for_decrypt(message_key: str, named_key: str) -> bool:
    """Whether a data key encrypted under the key ARN ``message_key`` may be decrypted with the
    key ARN ``named_key``: the same ARN, or two multi-Region keys of one partition and account
    with the same ``mrk-`` key ID (a primary and its replicas, in any Regions), as the
    Encryption SDK's "MRK match for decrypt". A single-Region key matches only itself."""
    if message_key == named_key:
        return True
    identity = _multi_region_identity(message_key)
    return identity is not None and identity == _multi_region_identity(named_key)


def configured_region(settings: ClientSettings) -> str | None:
    """The Region of ``settings``, or of the profile's configuration (None: none), where a KMS
    client of ``settings`` calls. An unknown profile is :class:`~kmskit.errors.UsageError`."""
    try:
        region: str | None = settings.region or settings.session().region_name
    except ProfileNotFound as error:
        raise from_botocore_error(error) from error
    return region


def key_for_decrypt_in(key_arn: str, region: str | None) -> str:
    """The key ARN to name in a ``Decrypt`` called in ``region`` for a data key encrypted under
    ``key_arn``: for a multi-Region key, its related key in ``region`` (same partition, account
    and ``mrk-`` key ID: :func:`same_key_for_decrypt`), which KMS uses there when it is a
    replica; for any other key (or ``region`` None), ``key_arn`` itself: a single-Region key is
    only in its own Region."""
    if region is None or _multi_region_identity(key_arn) is None:
        return key_arn
    fields = key_arn.split(":")
    fields[3] = region
    return ":".join(fields)


def _usable_in_region(key_arn: str, region: str, partition: str) -> bool:
    """Whether discovery with the discovery Region ``region`` (of ``partition``) uses
    ``key_arn``: a multi-Region key of ``partition`` (called in ``region``; its replicas are in
    its own partition), or a key of ``region``."""
    identity = _multi_region_identity(key_arn)
    if identity is not None:
        return identity[0] == partition
    match = KEY_ARN.match(key_arn)
    return match is not None and match.group(1) == region


def _replica_hint(message_keys: Sequence[str]) -> str:
    """What to do about a message under a multi-Region key, for an error about it; "" when the
    message has no multi-Region key."""
    for key in message_keys:
        identity = _multi_region_identity(key)
        if identity is not None:
            region = key.split(":")[3]
            return (
                f"The message's key {key} is a multi-Region key of {region}: a replica of it in "
                f"another Region (account {identity[1]}, key ID {identity[2]}), if there is one, "
                "can decrypt it. "
                "Name the replica ('keys' / --key), or name no key and give the Region to call "
                "('discovery_region' / --discovery-region)"
            )
    return ""


def _format_context(context: Mapping[str, str]) -> str:
    shown = [
        f"{k}={v}" for k, v in sorted(context.items()) if not k.startswith(RESERVED_CONTEXT_PREFIX)
    ]
    return ", ".join(shown) or "no pairs"


class _ReadCounter:
    """A readable stream that reports how many bytes were read (for progress bars)."""

    def __init__(self, raw: Any, on_read: Callable[[int], object]) -> None:
        self._raw = raw
        self._on_read = on_read
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._raw.read(size)
        if data:
            self._on_read(len(data))
        return data

    def tell(self) -> int:
        position: int = self._raw.tell()
        return position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position: int = self._raw.seek(offset, whence)
        return position


def remaining_length(source: Any) -> int | None:
    """Bytes from the current position of ``source`` to its end; None if it cannot seek."""
    try:
        start: int = source.tell()
        source.seek(0, os.SEEK_END)
        end: int = source.tell()
        source.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return max(end - start, 0)


@contextlib.contextmanager
def _encrypt_errors(source_length: int | None = None) -> Iterator[None]:
    """SDK errors on encrypt are about the request (context too large, ...)."""
    try:
        yield
    except MaxEncryptedDataKeysExceeded as error:
        raise _too_many_data_keys("encrypt", error) from error
    except CustomMaximumValueExceeded as error:
        raise ConflictError(
            f"could not encrypt: the input grew while it was encrypted (it held {source_length} "
            "bytes when encryption began); with data key caching that size is counted against "
            "'max_bytes' up front, so the input must not change: encrypt a copy of it"
        ) from error
    except AWSEncryptionSDKClientError as error:
        raise UsageError(f"could not encrypt: {error}") from error


def _found_value(error: CustomMaximumValueExceeded) -> str | None:
    """The value the SDK found over its limit, which it puts in its message only ("...: 11 >
    10"); None if the message has no such part."""
    found = re.search(r"(\d+) > \d+", str(error))
    return found.group(1) if found else None


def _too_many_data_keys(doing: str, error: MaxEncryptedDataKeysExceeded) -> ConflictError:
    """A message with more encrypted data keys than kmskit accepts: not damage, but more than
    kmskit's limit allows (each data key could cost a KMS call), so a conflict (exit 7), as a
    message under keys kmskit does not use is. (On encrypt, Envelope refuses more keys first.)"""
    counted = _found_value(error)
    has = f"{counted} encrypted data keys" if counted else "too many encrypted data keys"
    return ConflictError(
        f"could not {doing}: the message has {has}; kmskit accepts at most "
        f"{MAX_ENCRYPTED_DATA_KEYS} (each could cost a KMS call). It is not damaged: decrypt it "
        "with an AWS Encryption SDK configured with a higher max_encrypted_data_keys, or have "
        "it encrypted under fewer keys"
    )


def _too_large_frames(doing: str, error: CustomMaximumValueExceeded) -> ConflictError:
    """A message whose frames (or non-framed body) are larger than :data:`MAX_FRAME_LENGTH`:
    the format allows them, and another SDK may have written them, so a conflict with kmskit's
    limit (exit 7), as :func:`_too_many_data_keys`, not damage. Refused before any KMS call
    (frames: from the header) or before any plaintext (a non-framed body's length)."""
    found = _found_value(error)
    what = "a non-framed body" if "Non-framed" in str(error) else "frames"
    size = f"{what} of {found} bytes" if found else f"{what} that are too large"
    return ConflictError(
        f"could not {doing}: the message has {size}; kmskit accepts at most {MAX_FRAME_LENGTH} "
        "(64 MiB: a frame is held in memory). A message written that way is not damaged: "
        "decrypt it with an AWS Encryption SDK without that limit, or have it encrypted with "
        "smaller frames"
    )


@contextlib.contextmanager
def _closed_after(decryptor: Any) -> Iterator[Any]:
    """The SDK's StreamDecryptor, closed however decryption ends, which the SDK's own ``with``
    does not do: its close() refuses a decryptor that has not read the message's footer
    (SerializationError "Footer not read"), as after a refused message, and leaves it open. The
    garbage collector then finalizes it, io.IOBase calls close() again, and Python 3.13 and later
    print "Exception ignored in: <...StreamDecryptor...>" and the traceback on stderr, after
    kmskit's own error (3.11 and 3.12 drop errors of the finalizer's close() silently). A
    decryptor holds nothing to release (the source is the caller's): one without a footer is
    marked closed by io.IOBase.close, which is all the SDK's close() does after its check.
    """
    try:
        yield decryptor
    finally:
        if hasattr(decryptor, "footer"):
            decryptor.close()
        else:
            io.IOBase.close(decryptor)


@contextlib.contextmanager
def _message_errors(doing: str) -> Iterator[None]:
    """Turn SDK and cryptography errors about the message itself into IntegrityError."""
    try:
        yield
    except KmskitError:
        raise
    except MasterKeyProviderError as error:
        # Raised for a failed key commitment check (the discovery filter's refusals never reach
        # the SDK's check: _KmskitClientsMixin.master_key_for_decrypt skips those keys).
        if "commitment" in str(error):
            raise IntegrityError(
                f"could not {doing}: the message header does not match its data key (key "
                "commitment check failed): the header was tampered with or corrupted"
            ) from error
        raise IntegrityError(f"could not {doing}: {error}") from error
    except MaxEncryptedDataKeysExceeded as error:
        raise _too_many_data_keys(doing, error) from error
    except CustomMaximumValueExceeded as error:  # after its subclass above
        raise _too_large_frames(doing, error) from error
    except ActionNotAllowedError as error:
        raise IntegrityError(
            f"could not {doing}: the message uses an algorithm suite without key commitment, "
            "which the commitment policy REQUIRE_ENCRYPT_REQUIRE_DECRYPT refuses (decrypt it once "
            "with an SDK that allows it and re-encrypt it with kmskit)"
        ) from error
    except (InvalidTag, InvalidSignature) as error:
        raise IntegrityError(
            f"could not {doing}: the message was tampered with or corrupted "
            f"({type(error).__name__}: authentication failed)"
        ) from error
    except UnicodeDecodeError as error:  # the SDK decodes provider and key IDs as UTF-8
        raise IntegrityError(
            f"could not {doing}: not an intact AWS Encryption SDK message: the provider or key "
            f"ID of an encrypted data key is not text, it is corrupted or tampered with ({error})"
        ) from error
    except (AWSEncryptionSDKClientError, struct.error) as error:
        detail = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
        raise IntegrityError(
            f"could not {doing}: not an intact AWS Encryption SDK message, it is truncated, "
            f"corrupted or tampered with ({type(error).__name__}: {detail})"
        ) from error


class Envelope:
    """Encrypt and decrypt with one or more KMS keys, in the AWS Encryption SDK format.

    Args:
        keys: KMS keys (key ARN, key ID, alias name or alias ARN). Encryption uses all of them
            (the first generates the data key; each encrypts a copy; a message encrypted with a
            multi-Region replica names the replica). Decryption, if given, is limited to these
            keys (the SDK's strict mode; names are resolved to ARNs with ``DescribeKey``): a
            key must match the message's exactly, except that a multi-Region key also decrypts
            what any of its related keys (same partition, account and ``mrk-`` key ID, another
            Region) encrypted, with KMS called in the named key's Region. Default: none, so
            encryption is refused and decryption uses any key the message names that the
            caller may use (discovery mode).
        settings: client settings (Region, profile, retries). Default: ``ClientSettings()``.
        suite: :attr:`Suite.COMMITTED` (default) or :attr:`Suite.SIGNED`.
        frame_length: plaintext bytes per frame, a multiple of 4 KiB from 4 KiB to 64 MiB.
            Default 1 MiB.
        cache: :class:`CacheLimits` to reuse data keys (opt-in). Default None: one data key
            per message.
        discovery_accounts: in discovery mode, only keys of these AWS accounts (12-digit IDs;
            one may be given as a plain string), in the partition of the configured Region
            (``aws``, ``aws-us-gov``, ``aws-cn``), may decrypt (the SDK's discovery filter).
            Default: any account, so the message chooses the key: give accounts, or ``keys``,
            when messages may come from someone you do not trust.
        discovery_region: in discovery mode, call a multi-Region key the message names in this
            Region instead of its own (its replica there: disaster recovery when the Region
            it was encrypted in is unavailable); a single-Region key is then used only if it is
            in this Region, and ``discovery_accounts`` are those of this Region's partition.
            Default None: each key in its own Region.

    No client is created, and KMS is not called, until the first encryption or decryption.
    :meth:`close` (or the end of a ``with`` block) drops the cached data keys and closes the
    connections of the clients the Envelope made (not those of the ``settings`` given).
    The arguments are read-only attributes of the same names (``cache`` as ``cache_limits``):
    the key providers and the data key cache are built from them on first use, so assigning
    one raises ``AttributeError``; make a new Envelope for other keys or settings.
    """

    def __init__(
        self,
        keys: Sequence[str] = (),
        *,
        settings: ClientSettings | None = None,
        suite: Suite = Suite.COMMITTED,
        frame_length: int = DEFAULT_FRAME_LENGTH,
        cache: CacheLimits | None = None,
        discovery_accounts: Sequence[str] = (),
        discovery_region: str | None = None,
    ) -> None:
        if isinstance(keys, str):
            keys = [keys]
        if len(keys) > MAX_ENCRYPTED_DATA_KEYS:
            raise UsageError(
                f"'keys' must name at most {MAX_ENCRYPTED_DATA_KEYS} keys. Received: {len(keys)}"
            )
        if any(not k for k in keys):
            raise UsageError(f"'keys' must not contain an empty key name. Received: {list(keys)}")
        if (
            not MIN_FRAME_LENGTH <= frame_length <= MAX_FRAME_LENGTH
            or frame_length % MIN_FRAME_LENGTH
        ):
            raise UsageError(
                "'frame_length' must be a multiple of 4096 from 4 KiB to 64 MiB. "
                f"Received: {frame_length}"
            )
        if isinstance(discovery_accounts, str):
            discovery_accounts = [discovery_accounts]
        check_accounts(discovery_accounts, "discovery_accounts")
        if keys and discovery_accounts:
            raise UsageError(
                "'discovery_accounts' applies only in discovery mode, when no key is named. "
                f"Received keys {list(keys)} and accounts {list(discovery_accounts)}"
            )
        if discovery_region is not None:
            check_regions([discovery_region], "discovery_region")
            if keys:
                raise UsageError(
                    "'discovery_region' applies only in discovery mode, when no key is named. "
                    f"Received keys {list(keys)} and Region {discovery_region!r}"
                )
        self._keys = tuple(keys)
        self._settings = settings or ClientSettings()
        self._owns_settings = settings is None  # close() closes its clients too
        self._suite = suite
        self._frame_length = frame_length
        self._cache_limits = cache
        self._discovery_accounts = tuple(discovery_accounts)
        self._discovery_region = discovery_region
        self._sdk = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
            max_encrypted_data_keys=MAX_ENCRYPTED_DATA_KEYS,
        )
        self._failures = _KmsFailures()
        # Data keys for encrypting and decrypted ones in caches of their own, each of
        # 'capacity': decrypting many messages must not evict the keys that encrypt.
        self._cache = self._new_cache()
        self._decrypt_cache = self._new_cache()
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock() if cache else None
        self._decrypt_locks = _LocksByKey() if cache else None
        self._encrypt_materials: Any = None
        self._decrypt_materials: Any = None
        self._providers: list[Any] = []  # built since the last close(), each with its clients
        self._discovery_partition = "aws"

    # -- configuration (read-only) ----------------------------------------------------------

    _READ_ONLY = frozenset(
        {
            "keys",
            "settings",
            "suite",
            "frame_length",
            "cache_limits",
            "discovery_accounts",
            "discovery_region",
        }
    )

    def __setattr__(self, name: str, value: Any) -> None:
        # The key providers, the data key cache and the decrypt checks are built from these on
        # first use, so a later change would be ignored, silently (keys, settings, cache) or
        # only partly (suite and frame_length are read per message, unchecked).
        if name in self._READ_ONLY:
            raise AttributeError(
                f"'{name}' is read-only: an Envelope keeps the configuration it was made with "
                "(its key providers and data key cache are built from it on first use); make a "
                f"new Envelope instead. Received: {value!r}"
            )
        super().__setattr__(name, value)

    @property
    def keys(self) -> tuple[str, ...]:
        """The KMS keys, as given (names are resolved to ARNs on the first decryption)."""
        return self._keys

    @property
    def settings(self) -> ClientSettings:
        """The client settings of every client this Envelope makes."""
        return self._settings

    @property
    def suite(self) -> Suite:
        """The algorithm suite of the messages it writes."""
        return self._suite

    @property
    def frame_length(self) -> int:
        """Plaintext bytes per frame of the messages it writes."""
        return self._frame_length

    @property
    def cache_limits(self) -> CacheLimits | None:
        """The data key cache's limits (the ``cache`` argument); None: no cache."""
        return self._cache_limits

    @property
    def discovery_accounts(self) -> tuple[str, ...]:
        """The accounts whose keys may decrypt in discovery mode; empty: any account."""
        return self._discovery_accounts

    @property
    def discovery_region(self) -> str | None:
        """Where discovery calls a multi-Region key the message names; None: in its own Region."""
        return self._discovery_region

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Drop the data keys this Envelope cached and the key providers it built, and close
        the connections of the clients it made.

        With a cache, the plaintext data keys (for encrypting and decrypting) stay in the cache
        until they expire *and* the cache is next used; this drops them at once, so a
        long-lived process can end their life when it stops encrypting. Python cannot overwrite
        the key bytes (see docs/envelope.md): their memory is freed, not cleared. Without a
        cache there is nothing to drop but the providers. The KMS clients the providers made
        (one per Region, the Envelope's own) are closed, and so are the clients of the
        settings when the Envelope made them itself (``settings`` not given); the
        ``settings`` given, and the clients they keep, stay the caller's, open. The Envelope
        stays usable: the next call builds new providers (with new clients) and asks KMS for a
        new data key. Safe to call more than once (each client is closed once), and from
        another thread: a message already being encrypted or decrypted finishes with its key
        and its provider's clients, which are closed when the last such message ends (returns
        or raises), with any client it made meanwhile (a discovery decrypt's, for the Region of
        the key ARN the message names). The clients a key provider made before failing to be
        built are closed at once. ``with Envelope(...) as envelope:`` calls it at the end of
        the block.
        """
        with self._lock:
            self._encrypt_materials = None
            self._decrypt_materials = None
            providers, self._providers = self._providers, []
            # A new cache for the providers built from now on: a message still being encrypted
            # or decrypted may put its data key into the old one after clear(), where nothing
            # reads it and it goes with that message's materials manager.
            dropped = (self._cache, self._decrypt_cache)
            self._cache, self._decrypt_cache = self._new_cache(), self._new_cache()
        for cache in dropped:
            if cache is not None:
                cache.clear()
        for provider in providers:
            provider.close_clients()
        if self._owns_settings:
            self._settings.close()

    def _new_cache(self) -> Any:
        limits = self.cache_limits
        if limits is None:
            return None
        return _DataKeyCache(capacity=limits.capacity)

    def __enter__(self) -> Envelope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- materials managers (built on first use) ------------------------------------------

    def _provider(self, cls: type[Any], **kwargs: Any) -> Any:
        region = configured_region(self.settings)
        if region:
            kwargs["region_names"] = [region]
        try:
            provider = cls(settings=self.settings, failures=self._failures, **kwargs)
        except (ProfileNotFound, NoRegionError) as error:  # clients are made here
            raise from_botocore_error(error) from error
        except UnknownRegionError as error:
            raise UsageError(
                f"no AWS Region for key {kwargs.get('key_ids') or '(discovery)'}: use a key ARN, "
                "--region or AWS_REGION"
            ) from error
        except InvalidRegionError as error:
            # The provider makes its clients here, in the configured Region and in the Region
            # of each key ARN given: both come from the caller.
            raise UsageError(
                f"the Region {error.kwargs.get('region_name')!r} (of a key ARN or the configured "
                "Region) is not a valid Region name. Received: keys "
                f"{list(kwargs.get('key_ids') or [])}, Region {region!r}"
            ) from error
        self._providers.append(provider)  # under self._lock, as its callers hold it
        return provider

    def _wrap(self, provider: Any, cache: Any) -> Any:
        if self.cache_limits is None:
            return aws_encryption_sdk.DefaultCryptoMaterialsManager(master_key_provider=provider)
        return aws_encryption_sdk.CachingCryptoMaterialsManager(
            master_key_provider=provider,
            cache=cache,
            max_age=float(self.cache_limits.max_age),
            max_messages_encrypted=self.cache_limits.max_messages,
            max_bytes_encrypted=self.cache_limits.max_bytes,
        )

    @contextlib.contextmanager
    def _in_use(
        self, materials: Callable[[], tuple[Any, tuple[str, ...]]]
    ) -> Iterator[tuple[Any, tuple[str, ...]]]:
        """``materials()``, the materials manager of one message and the key ARNs decryption
        is limited to, built if need be, with its key provider in use until the block ends
        (:meth:`_KmskitClientsMixin.begin_use`): a :meth:`close` meanwhile leaves its clients
        open for the message, and the block's end (return or raise) closes them, with any it
        made for the message after the close. Both under the Envelope's lock, which
        :meth:`close` takes, so no close comes between them."""
        with self._lock:
            manager, arns = materials()
            provider = manager.master_key_provider
            provider.begin_use()
        try:
            yield manager, arns
        finally:
            provider.end_use()

    def _materials_for_encrypt(self) -> tuple[Any, tuple[str, ...]]:
        """The encrypting materials manager (no key ARNs to limit decryption to); the caller
        holds the lock (:meth:`_in_use`)."""
        if not self.keys:
            raise UsageError("encryption needs at least one KMS key ('keys' / --key)")
        if self._encrypt_materials is None:
            provider = self._provider(_StrictProvider, key_ids=list(self.keys))
            self._encrypt_materials = self._wrap(provider, self._cache)
        return self._encrypt_materials, ()

    def _materials_for_decrypt(self) -> tuple[Any, tuple[str, ...]]:
        """The decrypting materials manager and the key ARNs decryption is limited to (strict
        mode; none: discovery); the caller holds the lock (:meth:`_in_use`)."""
        if self._decrypt_materials is None:
            arns = tuple(resolve_key_arn(k, self.settings) for k in self.keys)
            if arns:
                # Multi-Region matching only with a multi-Region key: other keys match
                # exactly either way.
                multi_region = any(_multi_region_identity(arn) for arn in arns)
                strict = _MrkStrictProvider if multi_region else _StrictProvider
                provider = self._provider(strict, key_ids=list(arns))
            else:
                extra: dict[str, Any] = {}
                if self.discovery_accounts or self.discovery_region:
                    region = self.discovery_region or configured_region(self.settings)
                    self._discovery_partition = partition_of(region, self.settings)
                if self.discovery_accounts:
                    extra["discovery_filter"] = DiscoveryFilter(
                        account_ids=list(self.discovery_accounts),
                        partition=self._discovery_partition,
                    )
                discovery: type[Any] = _DiscoveryProvider
                if self.discovery_region:
                    discovery = _MrkDiscoveryProvider
                    extra["discovery_region"] = self.discovery_region
                provider = self._provider(discovery, **extra)
                if self.discovery_region:
                    provider.discovery_partition = self._discovery_partition
            self._decrypt_materials = (self._wrap(provider, self._decrypt_cache), arns)
        materials: tuple[Any, tuple[str, ...]] = self._decrypt_materials
        return materials

    # -- streams ----------------------------------------------------------------------------

    def encrypt_stream(
        self,
        source: Readable,
        sink: Writable,
        context: Mapping[str, str],
        *,
        on_read: Callable[[int], object] | None = None,
    ) -> MessageInfo:
        """Encrypt everything ``source`` holds into one message written to ``sink``.

        ``context`` is required (at least one pair; keys and values non-empty). When
        ``source`` is seekable its length is known up front, which data key caching needs;
        pipes are encrypted without the cache.
        With the cache, a seekable ``source`` that grows while it is read raises
        :class:`ConflictError` (the bytes beyond the length counted against ``max_bytes`` are
        not written). ``on_read`` is called with the size of each read from ``source``;
        default None.
        """
        context = check_context(context, required=True)
        with self._in_use(self._materials_for_encrypt) as (materials, _):
            cmm = _CheckedMaterials(materials, self._failures, None, self._cache_lock)
            reader: Any = _ReadCounter(source, on_read) if on_read else source
            extra: dict[str, Any] = {}
            if self.cache_limits is not None:
                # The cache counts this length against max_bytes before encrypting; stated to
                # the SDK, it also stops encryption past it (otherwise a growing file escapes
                # the limit).
                extra["source_length"] = remaining_length(source)
            with (
                _encrypt_errors(extra.get("source_length")),
                self._sdk.stream(
                    mode="e",
                    source=reader,
                    materials_manager=cmm,
                    encryption_context=context,
                    algorithm=self.suite.algorithm,
                    frame_length=self.frame_length,
                    **extra,
                ) as encryptor,
            ):
                # One frame per read: the SDK's read() copies what it returns, and asking for
                # many frames at once makes it re-slice its plaintext buffer once per frame.
                while chunk := encryptor.read(self.frame_length):
                    sink.write(chunk)
                return MessageInfo.from_header(encryptor.header)

    def decrypt_stream(
        self,
        source: Readable,
        sink: Writable,
        context: Mapping[str, str] | None = None,
        *,
        require_signed: bool = False,
        on_read: Callable[[int], object] | None = None,
    ) -> MessageInfo:
        """Decrypt one message from ``source`` into ``sink``.

        Every pair of ``context`` must be in the message with the same value (the message may
        hold more pairs); a value may be empty, as one in a message written elsewhere may be.
        Default None: no check. ``require_signed`` refuses messages without an ECDSA
        signature; default False. ``on_read`` is called with the size of each read from
        ``source``; default None.

        Plaintext is written frame by frame as each frame is authenticated; the end of the
        message (the final frame and, for signed messages, the signature over the whole
        message) is checked last. If this raises, discard what ``sink`` received:
        :meth:`decrypt_file` does that for you.
        """
        expected = check_context(context or {}, required=False, empty_values=True)
        with self._in_use(self._materials_for_decrypt) as (materials, arns):
            policy = _DecryptPolicy(
                expected,
                require_signed,
                arns,
                self.discovery_accounts,
                self._discovery_partition,
                self.discovery_region,
            )
            cmm = _CheckedMaterials(
                materials, self._failures, policy, decrypt_locks=self._decrypt_locks
            )
            reader: Any = _ReadCounter(source, on_read) if on_read else source
            with (
                _message_errors("decrypt"),
                _closed_after(
                    self._sdk.stream(
                        mode="d",
                        source=reader,
                        materials_manager=cmm,
                        max_body_length=MAX_FRAME_LENGTH,
                    )
                ) as decryptor,
            ):
                # One of the message's frames per read (see encrypt_stream); reading several
                # small frames at once makes the SDK grow its output by concatenation, once per
                # frame.
                read_size = decryptor.header.frame_length or DEFAULT_FRAME_LENGTH
                while chunk := decryptor.read(read_size):
                    sink.write(chunk)
                if not hasattr(decryptor, "footer"):
                    raise IntegrityError(
                        "could not decrypt: the message ended before its last frame"
                    )
                info = MessageInfo.from_header(decryptor.header)
            if source.read(1):
                raise IntegrityError(
                    "could not decrypt: there is unexpected data after the message"
                )
            return info

    # -- bytes --------------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        """One message holding ``plaintext``."""
        check_bytes("plaintext", plaintext)
        sink = _ChunkSink()
        self.encrypt_stream(io.BytesIO(plaintext), sink, context)
        return sink.value()

    def decrypt(
        self,
        message: bytes,
        context: Mapping[str, str] | None = None,
        *,
        require_signed: bool = False,
    ) -> bytes:
        """The plaintext of ``message`` (see :meth:`decrypt_stream` for the checks and the
        defaults: ``context`` None, ``require_signed`` False)."""
        check_bytes("message", message)
        sink = _ChunkSink()
        self.decrypt_stream(io.BytesIO(message), sink, context, require_signed=require_signed)
        return sink.value()

    # -- files (``-`` = stdin / stdout) ----------------------------------------------------------

    def encrypt_file(
        self,
        source: str | os.PathLike[str],
        target: str | os.PathLike[str],
        context: Mapping[str, str],
        *,
        show_progress: bool | None = None,
        exclusive: bool = False,
    ) -> MessageInfo:
        """Encrypt a file; ``target`` appears only once the whole message is written.

        ``show_progress``: a progress bar on stderr (None: only when stderr is a terminal).
        ``exclusive``: never replace an existing ``target`` file (:class:`UsageError`), also one
        that appears while encrypting (see :func:`kmskit._io.atomic_output`). Default: replace.
        """
        context = check_context(context, required=True)
        with (
            open_input(source) as reader,
            file_progress(source, "encrypt", show_progress) as bar,
            atomic_output(target, exclusive=exclusive) as writer,
        ):
            return self.encrypt_stream(reader, writer, context, on_read=bar.update)

    def decrypt_file(
        self,
        source: str | os.PathLike[str],
        target: str | os.PathLike[str],
        context: Mapping[str, str] | None = None,
        *,
        require_signed: bool = False,
        show_progress: bool | None = None,
        buffer_streams: bool = True,
        exclusive: bool = False,
    ) -> MessageInfo:
        """Decrypt a file; ``target`` appears only once the whole message is verified.

        With ``target`` ``-`` (stdout) or another output written in place (a device, FIFO or
        socket, ``/dev/stdout``: see :func:`kmskit._io.writes_in_place`) the plaintext is held
        in an unnamed temporary file (in memory up to 8 MiB, then in ``TMPDIR``) and written
        only after the message verified, unless ``buffer_streams`` is False (then a failure
        can leave part of the plaintext with the reader: it must discard it when the exit code
        is not 0). ``exclusive``: as for :meth:`encrypt_file`. Defaults: ``context`` None and
        ``require_signed`` False (see :meth:`decrypt_stream`), ``show_progress`` None (a bar
        only when stderr is a terminal), ``buffer_streams`` True, ``exclusive`` False.
        """
        with open_input(source) as reader, file_progress(source, "decrypt", show_progress) as bar:
            return write_verified(
                target,
                lambda sink: self.decrypt_stream(
                    reader, sink, context, require_signed=require_signed, on_read=bar.update
                ),
                buffer_streams=buffer_streams,
                exclusive=exclusive,
            )


def check_bytes(name: str, value: object) -> None:
    """Refuse anything but bytes: ``io.BytesIO(None)`` is empty, so ``encrypt(None, ...)``
    would otherwise write a valid message of nothing."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise UsageError(
            f"'{name}' must be bytes (bytes, bytearray or memoryview; encode text first). "
            f"Received: {type(value).__name__}"
        )


def write_verified(
    target: str | os.PathLike[str],
    produce: Callable[[Writable], MessageInfo],
    *,
    buffer_streams: bool = True,
    exclusive: bool = False,
) -> MessageInfo:
    """Run ``produce(sink)`` so that ``target`` only ever gets output that ``produce`` finished.

    A file appears (by rename) only on success. An output written in place (``-``, a device,
    FIFO or socket, ``/dev/stdout``), where a reader would see every byte as it is written, gets
    the output from an unnamed temporary file (memory up to 8 MiB, then ``TMPDIR``) after
    success, unless ``buffer_streams`` is False. ``exclusive``: never replace an existing file
    (see :func:`kmskit._io.atomic_output`).
    """
    if buffer_streams and writes_in_place(target):
        spool = tempfile.SpooledTemporaryFile(max_size=8 * MIB)  # noqa: SIM115 - closed below
        try:
            info = produce(_SpoolWriter(spool))
            with _spool_errors():  # the last buffered bytes are written to the file now
                spool.flush()
                spool.seek(0)
            with atomic_output(target, exclusive=exclusive) as writer:
                shutil.copyfileobj(spool, writer, DEFAULT_FRAME_LENGTH)
            return info
        finally:
            # Closing flushes what a failed write left buffered, failing again: that would
            # replace the error saying what to do, and the unnamed file is dropped anyway.
            with contextlib.suppress(OSError):
                spool.close()
    with atomic_output(target, exclusive=exclusive) as writer:
        return produce(writer)


@contextlib.contextmanager
def _spool_errors() -> Iterator[None]:
    """A file error writing :func:`write_verified`'s temporary file (TMPDIR full, not
    writable, over the file size limit) is a :class:`KmskitError` saying where and what to do,
    not a bare ``OSError`` that reads as if the output had failed."""
    try:
        yield
    except OSError as error:
        raise KmskitError(
            "could not hold the output until it is verified in a temporary file in TMPDIR "
            f"({tempfile.gettempdir()}): {error.strerror or error}. Set TMPDIR to a "
            "directory with room, write to a file instead of a stream, or stream it before "
            "it is verified (decrypt --unbuffered; buffer_streams=False)"
        ) from error


class _SpoolWriter:
    """Writes to :func:`write_verified`'s temporary file, its errors as :func:`_spool_errors`."""

    def __init__(self, spool: Any) -> None:
        self._spool = spool

    def write(self, data: bytes) -> int:
        with _spool_errors():
            written: int = self._spool.write(data)
        return written


@contextlib.contextmanager
def file_progress(
    path: str | os.PathLike[str], description: str, show: bool | None
) -> Iterator[Any]:
    """A progress bar sized to ``path`` (no total for stdin); ``show=None``: only on a tty."""
    with progress_bar(total=input_size(path), description=description, enabled=show) as bar:
        yield bar


@dataclass
class _ChunkSink:
    """Collects written chunks and joins them once (appending to one buffer copies more)."""

    chunks: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> int:
        self.chunks.append(data)
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)
