"""Direct KMS calls: data keys ("now" and "later") and small data (at most 4,096 bytes).

Data keys, for code that does its own local encryption:

* **now**: :func:`new_data_key` (``GenerateDataKey``) returns the plaintext key and an encrypted
  copy. Use the plaintext at once, keep only the encrypted copy, and let the ``with`` block wipe
  the plaintext::

      with new_data_key("alias/app", {"purpose": "backup"}) as key:
          ciphertext = AESGCM(key.plaintext).encrypt(nonce, data, None)
          store(key.encrypted, nonce, ciphertext)

* **later**: :func:`new_data_key_for_later` (``GenerateDataKeyWithoutPlaintext``) returns only
  the encrypted copy, for a system that creates keys now and encrypts later (or elsewhere);
  :func:`decrypt_data_key` turns it into a plaintext key when it is needed.

Python cannot promise that a key leaves no copy in memory: botocore decodes the response into
an immutable ``bytes`` object (and a base64 string before that) that kmskit cannot overwrite and
the garbage collector frees without clearing. :class:`DataKey` keeps the key in a ``bytearray``,
overwrites it with zeros on :meth:`DataKey.wipe` (and at the end of a ``with`` block) and drops
its reference to the response; that shortens the key's life in memory, it does not guarantee it.

Small data: :func:`encrypt_small` / :func:`decrypt_small` call KMS ``Encrypt`` / ``Decrypt``
directly (KMS's limit is 4,096 bytes of plaintext); anything larger gets a :class:`UsageError`
that points to envelope encryption (:class:`kmskit.envelope.Envelope`, ``kmskit encrypt``).

Clients: each function takes ``settings``. Default None: a new ``ClientSettings()`` for that one
call (a session, a KMS client and a credential lookup), whose client is closed before the
function returns or raises. For more than one call pass one
:class:`~kmskit.clients.ClientSettings`: its kept client is reused, and left open for the
caller to close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from kmskit.clients import ClientSettings
from kmskit.envelope import check_bytes, check_context, kms_call_with_settings
from kmskit.errors import IntegrityError, UsageError

SMALL_DATA_LIMIT = 4096
"""Bytes of plaintext KMS ``Encrypt`` accepts."""
DataKeySpec = Literal["AES_256", "AES_128"]
DATA_KEY_SPECS: tuple[DataKeySpec, ...] = ("AES_256", "AES_128")


@dataclass(frozen=True)
class EncryptedDataKey:
    """A data key encrypted under ``key_id`` (store it next to what it protects)."""

    key_id: str
    encrypted: bytes


@dataclass(eq=False)
class DataKey:
    """A plaintext data key and its encrypted copy. Wiped at the end of a ``with`` block."""

    key_id: str
    encrypted: bytes
    plaintext: bytearray = field(repr=False)

    def wipe(self) -> None:
        """Overwrite the plaintext key with zeros, in place."""
        self.plaintext[:] = bytes(len(self.plaintext))

    def __enter__(self) -> DataKey:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.wipe()


def _check_spec(key_spec: str) -> None:
    if key_spec not in DATA_KEY_SPECS:
        raise UsageError(
            f"'key_spec' must be one of {', '.join(DATA_KEY_SPECS)}. Received: {key_spec}"
        )


def _plaintext_key(response: dict[str, Any]) -> bytearray:
    key = bytearray(response["Plaintext"])
    # Drop the response's reference to the immutable copy so it can be freed sooner.
    response["Plaintext"] = b""
    return key


def new_data_key(
    key: str,
    context: Mapping[str, str],
    *,
    key_spec: DataKeySpec = "AES_256",
    settings: ClientSettings | None = None,
) -> DataKey:
    """``GenerateDataKey``: a plaintext data key to use now, and its encrypted copy.

    Args:
        key: KMS key ARN, key ID or alias.
        context: encryption context (required, at least one pair); the same pairs are needed
            to decrypt the encrypted copy.
        key_spec: ``AES_256`` (default) or ``AES_128``.
        settings: client settings, whose kept KMS client is used and left open. Default:
            None, a new ``ClientSettings()`` for this call, closed before it returns.
    """
    context = check_context(context, required=True)
    _check_spec(key_spec)
    response = kms_call_with_settings(
        settings,
        "generate_data_key",
        f"generate a data key with {key}",
        KeyId=key,
        KeySpec=key_spec,
        EncryptionContext=context,
    )
    return DataKey(
        key_id=response["KeyId"],
        encrypted=response["CiphertextBlob"],
        plaintext=_plaintext_key(response),
    )


def new_data_key_for_later(
    key: str,
    context: Mapping[str, str],
    *,
    key_spec: DataKeySpec = "AES_256",
    settings: ClientSettings | None = None,
) -> EncryptedDataKey:
    """``GenerateDataKeyWithoutPlaintext``: only the encrypted copy of a new data key.

    Same arguments and defaults as :func:`new_data_key` (``key_spec`` ``AES_256``,
    ``settings`` None: a ``ClientSettings()`` of the call's own, closed before it returns);
    decrypt it with :func:`decrypt_data_key`.
    """
    context = check_context(context, required=True)
    _check_spec(key_spec)
    response = kms_call_with_settings(
        settings,
        "generate_data_key_without_plaintext",
        f"generate a data key with {key}",
        KeyId=key,
        KeySpec=key_spec,
        EncryptionContext=context,
    )
    return EncryptedDataKey(key_id=response["KeyId"], encrypted=response["CiphertextBlob"])


def decrypt_data_key(
    encrypted: bytes,
    context: Mapping[str, str],
    *,
    key: str | None = None,
    settings: ClientSettings | None = None,
) -> DataKey:
    """``Decrypt`` an encrypted data key (from either function above) into a :class:`DataKey`.

    ``context`` must be the one used to create it; ``key``, if given, must be the key it was
    encrypted under (KMS refuses otherwise). Defaults: ``key`` None (the key the blob names),
    ``settings`` None (a ``ClientSettings()`` of the call's own, closed before it returns).
    """
    plaintext, key_id = _decrypt(encrypted, context, key, settings, "decrypt the data key")
    return DataKey(key_id=key_id, encrypted=encrypted, plaintext=plaintext)


def encrypt_small(
    key: str,
    plaintext: bytes,
    context: Mapping[str, str],
    *,
    settings: ClientSettings | None = None,
) -> bytes:
    """KMS ``Encrypt`` of 1-4,096 bytes; the ciphertext blob names the key.

    ``context`` is required (at least one pair) and needed again to decrypt. ``settings``:
    default None, a ``ClientSettings()`` of the call's own, closed before it returns (pass one
    to reuse its client across calls).
    """
    check_bytes("plaintext", plaintext)  # a str would be counted in characters
    context = check_context(context, required=True)
    size = memoryview(plaintext).nbytes  # len() counts a memoryview's items, not its bytes
    if size > SMALL_DATA_LIMIT:
        raise UsageError(
            f"'plaintext' is {size} bytes; KMS Encrypt takes at most {SMALL_DATA_LIMIT} bytes. "
            "Use envelope encryption for larger data: `kmskit encrypt` or "
            "kmskit.envelope.Envelope.encrypt"
        )
    if size == 0:
        raise UsageError("'plaintext' is empty; KMS Encrypt needs 1-4096 bytes. Received: 0 bytes")
    response = kms_call_with_settings(
        settings,
        "encrypt",
        f"encrypt with {key}",
        KeyId=key,
        Plaintext=bytes(plaintext),  # botocore refuses a memoryview
        EncryptionContext=context,
    )
    blob: bytes = response["CiphertextBlob"]
    return blob


def decrypt_small(
    ciphertext: bytes,
    context: Mapping[str, str],
    *,
    key: str | None = None,
    settings: ClientSettings | None = None,
) -> bytes:
    """KMS ``Decrypt`` of a blob from :func:`encrypt_small` (or any symmetric KMS ``Encrypt``).

    ``context``: exactly the one used to encrypt. Defaults: ``key`` None (the key the blob
    names; if given, KMS refuses a blob of another key), ``settings`` None (a
    ``ClientSettings()`` of the call's own, closed before it returns).
    """
    plaintext, _ = decrypt_small_with_key(ciphertext, context, key=key, settings=settings)
    return plaintext


def decrypt_small_with_key(
    ciphertext: bytes,
    context: Mapping[str, str],
    *,
    key: str | None = None,
    settings: ClientSettings | None = None,
) -> tuple[bytes, str]:
    """:func:`decrypt_small`, and the ARN of the KMS key that decrypted the blob (the one it
    names: without ``key``, the caller learns which it was). Same arguments and defaults."""
    plaintext, key_id = _decrypt(ciphertext, context, key, settings, "decrypt")
    return bytes(plaintext), key_id


def _decrypt(
    blob: bytes,
    context: Mapping[str, str],
    key: str | None,
    settings: ClientSettings | None,
    doing: str,
) -> tuple[bytearray, str]:
    # An empty value is accepted: data encrypted with one needs exactly that context.
    context = check_context(context, required=False, empty_values=True)
    if not blob:
        raise UsageError("the ciphertext is empty. Received: 0 bytes")
    params: dict[str, Any] = {"CiphertextBlob": blob, "EncryptionContext": context}
    if key:
        params["KeyId"] = key
    try:
        response = kms_call_with_settings(settings, "decrypt", f"{doing} with KMS", **params)
    except IntegrityError as error:
        raise IntegrityError(
            f"{error} (the ciphertext was tampered with, or the encryption context differs from "
            "the one used to encrypt)"
        ) from error
    return _plaintext_key(response), response["KeyId"]
