"""Asymmetric KMS keys: encrypt outside AWS with the public key, sign and verify.

* Encryption (``ENCRYPT_DECRYPT`` RSA keys): :func:`public_encrypt` uses the key's public key
  (from ``GetPublicKey`` or a PEM/DER file exported earlier) with ``RSAES_OAEP_SHA_256``, locally
  with ``cryptography``: whoever encrypts needs no AWS credentials. Only KMS can decrypt
  (:func:`private_decrypt`). RSA-OAEP encrypts little: 190 / 318 / 446 bytes for RSA 2048 /
  3072 / 4096 keys.
* Signing (``SIGN_VERIFY`` RSA, ECC, ML-DSA or Ed25519 keys): :func:`sign` reads the data once,
  in chunks, and asks KMS to sign it: the message itself when it is at most 4,096 bytes,
  otherwise its digest (RSA, ECDSA) or its ML-DSA representative mu (FIPS 204 section 6.2,
  computed locally with the public key); either way the signature verifies the same, as the
  algorithm over the data. Ed25519 (``ED25519_SHA_512``) signs only the message itself, at most
  4,096 bytes; ``ED25519_PH_SHA_512`` signs the data's SHA-512 digest (KMS hashes it once more:
  Ed25519ph over the digest). :func:`verify_local` checks a signature against the public key
  without calling AWS (not ``ED25519_PH_SHA_512``: ``cryptography`` has no Ed25519ph);
  :func:`verify_with_kms` asks KMS ``Verify`` instead.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import __version__ as cryptography_version
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils

from kmskit.clients import ClientSettings, settings_for_call
from kmskit.envelope import Readable, kms_call_with_settings
from kmskit.errors import (
    AccessDeniedError,
    ConflictError,
    CredentialsRefusedError,
    IntegrityError,
    NotFoundError,
    UsageError,
    os_error_class,
    reworded,
)

RSA_OAEP = "RSAES_OAEP_SHA_256"
RAW_MESSAGE_LIMIT = 4096
"""KMS Sign/Verify take a RAW message of at most this many bytes; larger data goes as a digest
(or, for ML-DSA, as its representative mu)."""
ML_DSA = "ML_DSA_SHAKE_256"
ED25519 = "ED25519_SHA_512"
ED25519_PH = "ED25519_PH_SHA_512"
_READ_SIZE = 1024 * 1024

_DEFAULT_SIGNING = {
    "RSA_2048": "RSASSA_PSS_SHA_256",
    "RSA_3072": "RSASSA_PSS_SHA_256",
    "RSA_4096": "RSASSA_PSS_SHA_256",
    "ECC_NIST_P256": "ECDSA_SHA_256",
    "ECC_SECG_P256K1": "ECDSA_SHA_256",
    "ECC_NIST_P384": "ECDSA_SHA_384",
    "ECC_NIST_P521": "ECDSA_SHA_512",
    "ECC_NIST_EDWARDS25519": ED25519,
    "ML_DSA_44": ML_DSA,
    "ML_DSA_65": ML_DSA,
    "ML_DSA_87": ML_DSA,
}
SIGNING_ALGORITHMS = (
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    ML_DSA,
    ED25519,
    ED25519_PH,
)
_CURVE_SPECS = {"secp256r1": "ECC_NIST_P256", "secp256k1": "ECC_SECG_P256K1",
                "secp384r1": "ECC_NIST_P384", "secp521r1": "ECC_NIST_P521"}  # fmt: skip
_ML_DSA_KEYS = (mldsa.MLDSA44PublicKey, mldsa.MLDSA65PublicKey, mldsa.MLDSA87PublicKey)
_ML_DSA_SPECS = ("ML_DSA_44", "ML_DSA_65", "ML_DSA_87")  # of _ML_DSA_KEYS, in order
# Each family of signing algorithms (by the algorithm's prefix): the keys that sign with it.
_FAMILIES: dict[str, tuple[str, tuple[type, ...]]] = {
    "RSASSA_": ("an RSA", (rsa.RSAPublicKey,)),
    "ECDSA_": (
        "an ECDSA (ECC_NIST_P256/P384/P521 or ECC_SECG_P256K1)",
        (ec.EllipticCurvePublicKey,),
    ),
    "ML_DSA_": ("an ML-DSA", _ML_DSA_KEYS),
    "ED25519_": ("an Ed25519", (ed25519.Ed25519PublicKey,)),
}


@dataclass(frozen=True)
class PublicKey:
    """The public half of an asymmetric KMS key.

    ``key_id`` is the key ARN when it came from KMS, None when loaded from a file;
    ``key_usage`` is ``ENCRYPT_DECRYPT``, ``SIGN_VERIFY`` or None (from a file: unknown).
    """

    key_spec: str
    der: bytes
    key_id: str | None = None
    key_usage: str | None = None

    @property
    def pem(self) -> bytes:
        """The DER SubjectPublicKeyInfo as PEM, without parsing it: every key spec exports,
        also those ``cryptography`` cannot load (SM2)."""
        b64 = base64.b64encode(self.der).decode("ascii")
        lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        return "\n".join(
            ["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----\n"]
        ).encode()

    def _loaded(self) -> Any:
        try:
            return serialization.load_der_public_key(self.der)
        except UnsupportedAlgorithm as error:
            raise UsageError(
                f"'{self.key_id or self.key_spec}' is a {self.key_spec} key, which kmskit "
                f"cannot use locally: {error}"
            ) from None

    def _require_usage(self, usage: str, doing: str) -> None:
        """Raise :class:`ConflictError` (exit 7, as KMS's own InvalidKeyUsageException is when
        kmskit lets KMS find out) unless KMS says the key has ``usage``; a key loaded from a
        file has no known usage and passes."""
        if self.key_usage not in (None, usage):
            raise ConflictError(
                f"{self.key_id} is {_a(self.key_usage)} key: {doing} needs {_a(usage)} key"
            )

    @property
    def max_plaintext(self) -> int:
        """Largest plaintext RSAES_OAEP_SHA_256 encrypts with this key (k - 2*32 - 2 bytes)."""
        self._require_usage("ENCRYPT_DECRYPT", "encryption")
        key = self._loaded() if self.key_spec.startswith("RSA_") else None
        if not isinstance(key, rsa.RSAPublicKey):
            raise UsageError(
                f"'{self.key_id or self.key_spec}' is a {self.key_spec} key: only RSA keys encrypt"
            )
        return key.key_size // 8 - 2 * hashes.SHA256.digest_size - 2

    def default_signing_algorithm(self) -> str:
        """RSASSA_PSS_SHA_256 for RSA keys, the curve's ECDSA for ECC keys, ML_DSA_SHAKE_256
        for ML-DSA keys and ED25519_SHA_512 for Ed25519 keys."""
        self._require_usage("SIGN_VERIFY", "signing")
        try:
            return _DEFAULT_SIGNING[self.key_spec]
        except KeyError:
            raise UsageError(
                f"kmskit signs with {', '.join(_DEFAULT_SIGNING)} keys (not SM2); "
                f"{self.key_id or 'the key'} is {self.key_spec}. Received: {self.key_spec}"
            ) from None

    def _signing_key(self, algorithm: str, doing: str) -> Any:
        """The loaded key, once ``algorithm`` is known to fit it: a :class:`ConflictError` for
        a key KMS says is not a ``SIGN_VERIFY`` key (``doing`` needs one), a
        :class:`UsageError` naming ``--algorithm`` for an algorithm of another family, or
        another ECDSA hash than the one KMS signs with on this curve."""
        self._require_usage("SIGN_VERIFY", doing)
        family, wanted = _family(algorithm)
        # Each ECC key spec has one ECDSA hash in KMS: another can only be a wrong --algorithm.
        curve_algorithm = _DEFAULT_SIGNING.get(self.key_spec, "")
        if (
            algorithm.startswith("ECDSA")
            and curve_algorithm.startswith("ECDSA")
            and algorithm != curve_algorithm
        ):
            raise UsageError(
                f"'--algorithm' does not fit a {self.key_spec} key, which KMS signs with "
                f"{curve_algorithm} only. Received: {algorithm}"
            )
        key = self._loaded()
        if not isinstance(key, wanted):
            raise UsageError(
                f"'--algorithm' does not fit a {self.key_spec} key: {algorithm} needs "
                f"{family} key. Received: {algorithm}"
            )
        return key


def _a(usage: str) -> str:
    """``usage`` with its article: "an ENCRYPT_DECRYPT", "a SIGN_VERIFY"."""
    return f"{'an' if usage[0] in 'AEIOU' else 'a'} {usage}"


def get_public_key(key: str, *, settings: ClientSettings | None = None) -> PublicKey:
    """``GetPublicKey`` of an asymmetric KMS key (ARN, ID or alias). ``settings``: default
    None, a new ``ClientSettings()`` (a new session) for this call, closed before it returns:
    pass one to reuse its client, which is left open."""
    response = kms_call_with_settings(
        settings, "get_public_key", f"get the public key of {key}", KeyId=key
    )
    return PublicKey(
        key_spec=response.get("KeySpec") or response.get("CustomerMasterKeySpec", ""),
        der=response["PublicKey"],
        key_id=response["KeyId"],
        key_usage=response.get("KeyUsage"),
    )


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    """A public key from a PEM or DER file (as written by ``kmskit pubkey export``)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"no public key file at '{path}'") from None
    except OSError as error:
        raise os_error_class(error)(
            f"'--public-key' must be a readable file. Received: '{path}' "
            f"({error.strerror or error})"
        ) from None
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----BEGIN")
            else serialization.load_der_public_key(data)
        )
    except ValueError as error:
        raise UsageError(f"'{path}' is not a PEM or DER public key: {error}") from None
    except UnsupportedAlgorithm as error:
        raise UsageError(
            f"'{path}' holds a public key kmskit cannot use (RSA, ECC, ML-DSA and Ed25519 keys "
            f"only): {error}"
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        spec = f"RSA_{key.key_size}"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        spec = _CURVE_SPECS.get(key.curve.name, key.curve.name)
    elif isinstance(key, ed25519.Ed25519PublicKey):
        spec = "ECC_NIST_EDWARDS25519"
    elif isinstance(key, _ML_DSA_KEYS):
        spec = next(
            spec
            for kind, spec in zip(_ML_DSA_KEYS, _ML_DSA_SPECS, strict=True)
            if isinstance(key, kind)
        )
    else:
        raise UsageError(
            f"'{path}' holds a {type(key).__name__}: kmskit handles RSA, ECC, ML-DSA and "
            "Ed25519 keys"
        )
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(key_spec=spec, der=der)


def public_encrypt(public_key: PublicKey, plaintext: bytes) -> bytes:
    """RSAES_OAEP_SHA_256 with the public key, locally. Decrypt with :func:`private_decrypt`."""
    limit = public_key.max_plaintext  # refuses keys of another usage, and not RSA
    if len(plaintext) > limit:
        raise UsageError(
            f"'plaintext' is {len(plaintext)} bytes; {RSA_OAEP} with a {public_key.key_spec} key "
            f"encrypts at most {limit} bytes. Use envelope encryption for larger data: "
            "`kmskit encrypt` with a symmetric key"
        )
    if not plaintext:
        raise UsageError(
            f"'plaintext' is empty; {RSA_OAEP} with a {public_key.key_spec} key needs 1-{limit} "
            "bytes. Received: 0 bytes"
        )
    key: rsa.RSAPublicKey = public_key._loaded()
    return key.encrypt(
        plaintext,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )


def private_decrypt(
    key: str, ciphertext: bytes, *, settings: ClientSettings | None = None
) -> bytes:
    """KMS ``Decrypt`` of an RSAES_OAEP_SHA_256 ciphertext (the private key never leaves KMS).
    ``settings``: default None, a ``ClientSettings()`` of the call's own, closed before it
    returns."""
    if not ciphertext:
        raise UsageError("the ciphertext is empty. Received: 0 bytes")
    response = kms_call_with_settings(
        settings,
        "decrypt",
        f"decrypt with {key}",
        KeyId=key,
        CiphertextBlob=ciphertext,
        EncryptionAlgorithm=RSA_OAEP,
    )
    plaintext: bytes = response["Plaintext"]
    return plaintext


@dataclass(frozen=True)
class Signature:
    key_id: str
    algorithm: str
    signature: bytes


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in SIGNING_ALGORITHMS:
        raise UsageError(
            f"'--algorithm' must be one of {', '.join(SIGNING_ALGORITHMS)}. Received: {algorithm}"
        )


def _family(algorithm: str) -> tuple[str, tuple[type, ...]]:
    """The family of key (its name, with the article, and its ``cryptography`` classes) that
    signs with ``algorithm``."""
    _check_algorithm(algorithm)
    return next(family for prefix, family in _FAMILIES.items() if algorithm.startswith(prefix))


def _hash_for(algorithm: str) -> hashes.HashAlgorithm:
    """The hash that ``algorithm`` (RSA, ECDSA or ED25519_PH_SHA_512) applies to the data."""
    _check_algorithm(algorithm)
    bits = algorithm.rsplit("_", 1)[1]
    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[bits]


class _Hashing(Protocol):
    """A running hash of the data: ``hashes.Hash`` or ``mldsa.MLDSAMuHasher``."""

    def update(self, data: bytes, /) -> None: ...

    def finalize(self) -> bytes: ...


@dataclass(frozen=True)
class _Message:
    """The data, read once: what KMS is sent (``message_type`` and ``message``) and what local
    verification checks: ``raw``, the data itself when it is at most ``RAW_MESSAGE_LIMIT``
    bytes, else None; ``digest``, the hash (RSA, ECDSA, ED25519_PH_SHA_512) or the ML-DSA mu of
    the data where one was computed, else None."""

    message_type: str
    message: bytes
    raw: bytes | None
    digest: bytes | None

    def kms_params(self) -> dict[str, Any]:
        return {"Message": self.message, "MessageType": self.message_type}


def _chunks(source: Readable) -> Iterator[bytes]:
    while chunk := source.read(_READ_SIZE):
        yield chunk


MlDsaKey = Callable[[], Any]
"""Gives the loaded ML-DSA public key whose mu (FIPS 204 section 6.2) signs or verifies data
larger than ``RAW_MESSAGE_LIMIT``; called at most once, and only for such data."""


def _read_message(source: Readable, algorithm: str, ml_dsa_key: MlDsaKey) -> _Message:
    """Read ``source`` once, in chunks (memory: one chunk and ``RAW_MESSAGE_LIMIT`` bytes),
    into what KMS is sent for ``algorithm``:

    * RSA and ECDSA: the data itself (RAW) up to ``RAW_MESSAGE_LIMIT`` bytes, else its digest
      (DIGEST); the digest is always computed, for local verification.
    * ML_DSA_SHAKE_256: the data itself (RAW) up to ``RAW_MESSAGE_LIMIT`` bytes, else its mu
      (EXTERNAL_MU, with an empty context: what signing the data itself gives).
    * ED25519_SHA_512: the data itself (RAW) only; larger data is refused after its first
      chunk, naming the limit.
    * ED25519_PH_SHA_512: the data's SHA-512 digest (DIGEST), whatever its size, as KMS
      requires; KMS applies Ed25519ph's own SHA-512 prehash on top of it.
    """
    hashing: _Hashing | None = (
        None if algorithm in (ML_DSA, ED25519) else hashes.Hash(_hash_for(algorithm))
    )
    head = bytearray()  # the first RAW_MESSAGE_LIMIT + 1 bytes: all of the data until then
    size = 0
    for chunk in _chunks(source):
        if hashing is None and size + len(chunk) > RAW_MESSAGE_LIMIT:
            if algorithm == ED25519:
                # Refused at once: the rest of the data is not read just to count it.
                raise _too_large_for_ed25519()
            hashing = _mu_hasher(ml_dsa_key())
            hashing.update(bytes(head))
        size += len(chunk)
        if hashing is not None:
            hashing.update(chunk)
        if len(head) <= RAW_MESSAGE_LIMIT:
            head += chunk[: RAW_MESSAGE_LIMIT + 1 - len(head)]
    if not head:
        raise UsageError("the data to sign or verify is empty. Received: 0 bytes")
    raw = bytes(head) if len(head) <= RAW_MESSAGE_LIMIT else None
    digest = hashing.finalize() if hashing is not None else None
    if algorithm == ED25519_PH or raw is None:
        assert digest is not None  # computed for every algorithm that allows data this large
        return _Message("DIGEST" if algorithm != ML_DSA else "EXTERNAL_MU", digest, raw, digest)
    return _Message("RAW", raw, raw, digest)


def _mu_hasher(public_key: Any) -> _Hashing:
    """The running mu of FIPS 204 section 6.2 for ``public_key``, with the empty context KMS
    signs with. ``cryptography`` defines ``MLDSAMuHasher`` only when the OpenSSL it was built
    with has ML-DSA (its wheels do; a build against an older system OpenSSL does not)."""
    hasher = getattr(mldsa, "MLDSAMuHasher", None)
    if hasher is None:
        raise UsageError(
            f"signing or verifying ML-DSA data over {RAW_MESSAGE_LIMIT:,} bytes needs "
            "cryptography's MLDSAMuHasher (cryptography 50 or later, built with an OpenSSL that "
            "has ML-DSA, as its wheels are): install such a cryptography, or sign at most "
            f"{RAW_MESSAGE_LIMIT:,} bytes (a digest of the data, for example). "
            f"Received: cryptography {cryptography_version}"
        )
    made: _Hashing = hasher(public_key)
    return made


def _too_large_for_ed25519() -> UsageError:
    return UsageError(
        f"the data to sign or verify is too large for {ED25519}, which takes the message "
        f"itself, at most {RAW_MESSAGE_LIMIT:,} bytes (KMS MessageType RAW). For larger data give "
        f"--algorithm {ED25519_PH} (KMS signs the data's SHA-512 digest; verify it with "
        f"--kms), or sign with an ML-DSA, ECC or RSA key. Received: more than "
        f"{RAW_MESSAGE_LIMIT:,} bytes"
    )


def _ml_dsa_key(
    key: str, public: PublicKey | None, settings: ClientSettings, doing: str
) -> MlDsaKey:
    """The ML-DSA public key of ``key`` for :func:`_read_message`: ``public`` if already
    fetched, else from ``GetPublicKey`` (with ``settings``' client) once it is needed; refused
    as :meth:`PublicKey._signing_key` refuses it (``doing``: what needs a SIGN_VERIFY key)."""

    def loaded() -> Any:
        fetched = public or _public_key_for(
            key,
            settings,
            f"{doing} ML-DSA data over {RAW_MESSAGE_LIMIT:,} bytes sends KMS its mu, computed "
            "with the key's public key",
        )
        return fetched._signing_key(ML_DSA, doing)

    return loaded


def _public_key_for(key: str, settings: ClientSettings, why: str) -> PublicKey:
    """``GetPublicKey`` of ``key``; refused (access denied), the error says ``why`` it was
    needed and what to do instead: allow ``kms:GetPublicKey``, or give the public key. Refused
    credentials (expired, unknown: :class:`~kmskit.errors.CredentialsRefusedError`, an
    ``AccessDeniedError`` too) are raised as they are: no permission or public key helps."""
    try:
        return get_public_key(key, settings=settings)
    except CredentialsRefusedError:
        raise
    except AccessDeniedError as error:
        raise reworded(
            error,
            f"{str(error).rstrip('.')}. {why}: allow kms:GetPublicKey on the key, or give its "
            "public key (--public-key FILE, from kmskit pubkey export; public_key=)",
        ) from error


def _kms_message(
    key: str,
    source: Readable,
    algorithm: str | None,
    *,
    public: PublicKey | None,
    settings: ClientSettings,
    doing: str,
) -> tuple[str, _Message]:
    """The algorithm (``algorithm``, else the key's default, from ``public`` or
    ``GetPublicKey``) and what KMS ``Sign`` or ``Verify`` (``doing``: "signing", "verifying")
    is sent of ``source`` for it."""
    if algorithm is None:
        public = public or _public_key_for(
            key, settings, f"{doing} without an algorithm takes the key's spec from it"
        )
        algorithm = public.default_signing_algorithm()
    return algorithm, _read_message(source, algorithm, _ml_dsa_key(key, public, settings, doing))


def sign(
    key: str,
    source: Readable,
    *,
    algorithm: str | None = None,
    public_key: PublicKey | None = None,
    settings: ClientSettings | None = None,
) -> Signature:
    """Sign what ``source`` holds with a ``SIGN_VERIFY`` KMS key.

    ``algorithm`` defaults to RSASSA_PSS_SHA_256 for RSA keys, the curve's ECDSA for ECC keys,
    ML_DSA_SHAKE_256 for ML-DSA keys and ED25519_SHA_512 (at most 4,096 bytes) for Ed25519 keys
    (the key spec comes from ``GetPublicKey``; with ML_DSA_SHAKE_256 given and more than 4,096
    bytes, ``GetPublicKey`` is called for the mu). ``public_key``: default None; the key's
    public key (:func:`load_public_key` of a file ``kmskit pubkey export`` wrote), which spares
    every ``GetPublicKey`` (so ``kms:GetPublicKey`` is not needed) and has an ``algorithm`` of
    another key family refused before anything is read; with it, an ML-DSA signature of a mu
    (data over 4,096 bytes) is checked with it before it is returned, and refused
    (:class:`ConflictError`) when it does not verify: a mu computed with another key's public
    key makes a signature no verifier accepts. ``settings``: default None, a
    ``ClientSettings()`` of the call's own (one client for ``GetPublicKey`` and ``Sign``),
    closed before it returns.
    """
    if public_key is not None and algorithm is not None:
        public_key._signing_key(algorithm, "signing")  # before anything is read or asked
    with settings_for_call(settings) as used:
        algorithm, message = _kms_message(
            key, source, algorithm, public=public_key, settings=used, doing="signing"
        )
        response = kms_call_with_settings(
            used,
            "sign",
            f"sign with {key}",
            KeyId=key,
            SigningAlgorithm=algorithm,
            **message.kms_params(),
        )
    signature: bytes = response["Signature"]
    if public_key is not None and message.message_type == "EXTERNAL_MU":
        _check_mu_signed(key, public_key, message.message, signature)
    return Signature(key_id=response["KeyId"], algorithm=algorithm, signature=signature)


def _check_mu_signed(key: str, public_key: PublicKey, mu: bytes, signature: bytes) -> None:
    """Refuse the ``signature`` KMS made of ``mu`` (computed with the caller's ``public_key``)
    unless it verifies with that key: the mu of FIPS 204 hashes the public key, so the mu of
    another key's public key (a stale or wrong file) gets a signature that no verifier
    accepts. KMS cannot notice (it signs any 64 bytes it is sent); this does, before the
    signature is handed out."""
    try:
        public_key._signing_key(ML_DSA, "signing").verify_mu(signature, mu)
    except InvalidSignature:
        raise ConflictError(
            f"'public_key' is not the public key of {key}: the ML-DSA mu sent to KMS for data "
            f"over {RAW_MESSAGE_LIMIT:,} bytes is computed with it, and the signature KMS made "
            "does not verify with it, so no verifier would accept it. "
            "Give the key's own public key (kmskit pubkey export), or none (GetPublicKey). "
            f"Received: the public key of {public_key.key_id or 'a file'} ({public_key.key_spec})"
        ) from None


def verify_local(
    public_key: PublicKey, source: Readable, signature: bytes, *, algorithm: str | None = None
) -> str:
    """Check ``signature`` over ``source`` with the public key, without AWS; returns the
    algorithm used. Raises :class:`IntegrityError` when it does not match, and
    :class:`ConflictError` for a key KMS says is not a ``SIGN_VERIFY`` key (also with an explicit
    ``algorithm``, as KMS ``Verify`` refuses it). ``algorithm``: default None, the key's
    default as for :func:`sign`. ``ED25519_PH_SHA_512`` is refused (:class:`UsageError`):
    ``cryptography`` has no Ed25519ph, and only KMS (:func:`verify_with_kms`) verifies it."""
    public_key._require_usage("SIGN_VERIFY", "verifying")
    algorithm = algorithm or public_key.default_signing_algorithm()
    # Checked before the data is read (and hashed) at all.
    key = public_key._signing_key(algorithm, "verifying")
    if algorithm == ED25519_PH:
        raise UsageError(
            f"'--algorithm' {ED25519_PH} cannot be verified locally (the cryptography library "
            "has no Ed25519ph): verify with KMS Verify instead (`kmskit verify --kms --key "
            f"KEY`, verify_with_kms). Received: {algorithm}"
        )
    message = _read_message(source, algorithm, lambda: key)
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message.message)  # RAW: the data itself
        elif isinstance(key, _ML_DSA_KEYS):
            if message.raw is not None:
                key.verify(signature, message.raw)
            else:
                key.verify_mu(signature, message.message)
        else:
            digest, hash_algorithm = message.digest, _hash_for(algorithm)
            assert digest is not None  # RSA and ECDSA always hash the data
            prehashed = utils.Prehashed(hash_algorithm)
            if isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, digest, ec.ECDSA(prehashed))
            else:
                pad: padding.AsymmetricPadding = (
                    # KMS's RSASSA_PSS_SHA_<n> uses "a <n>-bit salt" (symm-asymm-choose.html),
                    # and so does KMS Verify: a signature with another salt length is not one
                    # of them.
                    padding.PSS(
                        mgf=padding.MGF1(hash_algorithm), salt_length=padding.PSS.DIGEST_LENGTH
                    )
                    if algorithm.startswith("RSASSA_PSS")
                    else padding.PKCS1v15()
                )
                key.verify(signature, digest, pad, prehashed)
    except InvalidSignature:
        raise IntegrityError(
            f"the signature does not match the data ({algorithm}, key "
            f"{public_key.key_id or public_key.key_spec}): the data or the signature was changed, "
            "or another key signed it"
        ) from None
    return algorithm


def verify_with_kms(
    key: str,
    source: Readable,
    signature: bytes,
    *,
    algorithm: str | None = None,
    public_key: PublicKey | None = None,
    settings: ClientSettings | None = None,
) -> str:
    """KMS ``Verify``; returns the algorithm. Raises :class:`IntegrityError` on a mismatch.
    Defaults: ``algorithm`` None (the key's default, as for :func:`sign`), ``public_key`` None
    (``GetPublicKey`` when the default algorithm or an ML-DSA mu needs it; give the key's
    public key if you have it), ``settings`` None (a ``ClientSettings()`` of the call's own,
    one client for ``GetPublicKey`` and ``Verify``, closed before it returns)."""
    with settings_for_call(settings) as used:
        algorithm, message = _kms_message(
            key, source, algorithm, public=public_key, settings=used, doing="verifying"
        )
        response = kms_call_with_settings(
            used,
            "verify",
            f"verify the signature with {key}",
            KeyId=key,
            Signature=signature,
            SigningAlgorithm=algorithm,
            **message.kms_params(),
        )
    if not response.get("SignatureValid"):
        raise IntegrityError(f"KMS says the signature does not match the data ({algorithm}, {key})")
    return algorithm
