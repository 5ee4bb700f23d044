"""Import key material into a KMS key created with ``origin="EXTERNAL"``.

The steps AWS documents (developerguide/importing-keys.html), done locally with ``cryptography``:

1. ``DescribeKey``: the key must have origin EXTERNAL; its spec decides the material and the
   wrapping algorithm.
2. ``GetParametersForImport`` with an RSA_4096 wrapping key and

   * ``RSAES_OAEP_SHA_256`` for symmetric and HMAC material (raw bytes, encrypted directly);
   * ``RSA_AES_KEY_WRAP_SHA_256`` for RSA and ECC private keys (PKCS#8 DER): a fresh AES-256
     key wraps the material with AES key wrap with padding (RFC 5649), the RSA public key
     encrypts that AES key with OAEP SHA-256, and KMS receives the two concatenated, the
     encrypted AES key first.

3. ``ImportKeyMaterial`` with the import token, and ``ValidTo`` when the material expires.

Material for symmetric and HMAC keys can be generated here with :mod:`secrets` (SYMMETRIC_DEFAULT:
32 bytes, 16 in the China Regions, where the spec is SM4); RSA and ECC private keys with
``cryptography``. Plaintext material is never written to disk unless the
caller asks for a copy (the CLI's ``--save-material``).

KMS does not copy imported material between related multi-Region keys: the same material must be
imported into the primary and into each replica (developerguide/multi-region-keys-import.html).
:func:`check_generate` therefore refuses to generate material for a replica, and for a primary
unless a copy is kept; it also refuses a key that already has material, which takes only that
material again unless new material is asked for (:func:`check_new_material`: symmetric keys,
not replicas).
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from kmskit._io import STDIO
from kmskit._text import utc_text
from kmskit.clients import answer_lost, key_metadata, lost_answer_text
from kmskit.errors import ConflictError, KmskitError, UsageError, from_client_error

WRAPPING_KEY_SPEC = "RSA_4096"
RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
RSA_AES_KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"
SYMMETRIC_MATERIAL_BYTES = 32
CHINA_SYMMETRIC_MATERIAL_BYTES = 16
"""In the China Regions (partition ``aws-cn``) SYMMETRIC_DEFAULT "creates a 128-bit symmetric key
that uses SM4 encryption" (APIReference/API_CreateKey.html, KeySpec)."""
# Imported HMAC material: at least the digest size, at most the hash block size (bytes).
HMAC_MATERIAL_BYTES: dict[str, tuple[int, int]] = {
    "HMAC_224": (28, 64),
    "HMAC_256": (32, 64),
    "HMAC_384": (48, 128),
    "HMAC_512": (64, 128),
}
RSA_BITS: dict[str, int] = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
EC_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
SUPPORTED_SPECS = ("SYMMETRIC_DEFAULT", *HMAC_MATERIAL_BYTES, *RSA_BITS, *EC_CURVES)
KEY_STATES_WITH_MATERIAL = ("Enabled", "Disabled")
"""Key states in which an EXTERNAL-origin key holds imported material."""
MAX_VALIDITY = timedelta(days=365)
"""ImportKeyMaterial accepts a ValidTo at most 365 days after the request."""

PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
"""The first line of a PEM private key: ``PRIVATE KEY`` (PKCS#8), ``RSA``/``EC``/``ENCRYPTED``/
``OPENSSH PRIVATE KEY``, ..."""

_OAEP_SHA_256 = padding.OAEP(
    mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
)


@dataclass(frozen=True)
class ImportTarget:
    """What DescribeKey says about the key the material goes into."""

    key_arn: str
    key_spec: str
    key_state: str
    multi_region: bool = False
    multi_region_key_type: str | None = None
    """``PRIMARY`` or ``REPLICA`` for a multi-Region key, else None."""
    current_key_material_id: str | None = None
    """DescribeKey's ``CurrentKeyMaterialId``: reported for symmetric encryption keys once
    material was imported, and kept while it is expired or deleted (``PendingImport``). Default
    None: no key material ID reported (never imported, or KMS reports none for this key: a key
    of another spec; not checked for multi-Region replicas, docs/keys.md)."""

    @property
    def partition(self) -> str:
        """``aws``, ``aws-cn``, ``aws-us-gov``, ... from the key ARN."""
        return self.key_arn.split(":")[1]


@dataclass(frozen=True)
class ImportResult:
    key_arn: str
    key_spec: str
    wrapping_algorithm: str
    valid_to: datetime | None
    key_material_id: str | None


def wrapping_algorithm(key_spec: str) -> str:
    """The wrapping algorithm for material of ``key_spec`` keys."""
    if key_spec == "SYMMETRIC_DEFAULT" or key_spec in HMAC_MATERIAL_BYTES:
        return RSAES_OAEP_SHA_256
    if key_spec in RSA_BITS or key_spec in EC_CURVES:
        return RSA_AES_KEY_WRAP_SHA_256
    raise UsageError(
        f"kmskit imports material into {', '.join(SUPPORTED_SPECS)} keys. Received: a "
        f"{key_spec} key"
    )


def symmetric_material_bytes(partition: str) -> int:
    """Bytes of SYMMETRIC_DEFAULT material: 32 (AES-256), 16 in the China Regions (SM4)."""
    return CHINA_SYMMETRIC_MATERIAL_BYTES if partition == "aws-cn" else SYMMETRIC_MATERIAL_BYTES


def generate_material(key_spec: str, *, partition: str = "aws") -> bytes:
    """Fresh material for a ``key_spec`` key: random bytes, or a PKCS#8 DER private key.

    ``partition``: of the key (its ARN's second field), which sizes SYMMETRIC_DEFAULT material
    (:func:`symmetric_material_bytes`). Default ``aws``.
    """
    if key_spec == "SYMMETRIC_DEFAULT":
        return secrets.token_bytes(symmetric_material_bytes(partition))
    if key_spec in HMAC_MATERIAL_BYTES:
        return secrets.token_bytes(HMAC_MATERIAL_BYTES[key_spec][0])
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if key_spec in RSA_BITS:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS[key_spec])
    elif key_spec in EC_CURVES:
        private_key = ec.generate_private_key(EC_CURVES[key_spec]())
    else:
        wrapping_algorithm(key_spec)  # raises: not a spec kmskit can import into
        raise UsageError(f"cannot generate material for a {key_spec} key")
    return private_key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def prepare_material(
    key_spec: str, material: bytes, *, partition: str = "aws", source: str | None = None
) -> bytes:
    """Check ``material`` fits a ``key_spec`` key; private keys may be PEM and become DER.

    ``partition``: as for :func:`generate_material`. Default ``aws``. ``source``: the file the
    material came from (``--material``), named in the errors; default: none named. Raises
    :class:`UsageError` naming ``--material`` and what was received.
    """
    if key_spec == "SYMMETRIC_DEFAULT":
        size = symmetric_material_bytes(partition)
        if len(material) != size:
            where = " in the China Regions (SM4)" if partition == "aws-cn" else ""
            raise UsageError(
                f"'--material' must hold exactly {size} bytes for a SYMMETRIC_DEFAULT key"
                f"{where}. Received: {_received(source, f'{len(material)} bytes')}"
            )
        return material
    if key_spec in HMAC_MATERIAL_BYTES:
        low, high = HMAC_MATERIAL_BYTES[key_spec]
        if not low <= len(material) <= high:
            raise UsageError(
                f"'--material' must hold {low}-{high} bytes for a {key_spec} key. "
                f"Received: {_received(source, f'{len(material)} bytes')}"
            )
        return material
    wrapping_algorithm(key_spec)  # refuses specs kmskit cannot import into
    private_key = _load_private_key(material, source)
    if key_spec in RSA_BITS:
        if not isinstance(private_key, rsa.RSAPrivateKey) or (
            private_key.key_size != RSA_BITS[key_spec]
        ):
            raise UsageError(
                f"'--material' must be an RSA {RSA_BITS[key_spec]}-bit private key for a "
                f"{key_spec} key. Received: {_received(source, _describe(private_key))}"
            )
    elif not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, EC_CURVES[key_spec]
    ):
        raise UsageError(
            f"'--material' must be an EC private key on {EC_CURVES[key_spec].name} for a "
            f"{key_spec} key. Received: {_received(source, _describe(private_key))}"
        )
    return private_key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def check_material(material: bytes, *, source: str) -> None:
    """What can be refused in ``material`` before the key spec is known (before any AWS call).

    ``source``: the file it was read from (``-``: stdin), named in the error. No key spec takes
    empty material; a PEM private key must be one unencrypted key (as :func:`prepare_material`
    requires). Raises :class:`UsageError` naming ``--material``; the spec's own checks are
    :func:`prepare_material`'s.
    """
    if not material:
        raise UsageError(f"'--material' must not be empty. Received: '{source}' (0 bytes)")
    if PEM_PRIVATE_KEY.search(material):
        _load_private_key(material, source)


def _load_private_key(material: bytes, source: str | None = None) -> PrivateKeyTypes:
    """The one private key in ``material``: PEM wherever a PEM header appears (after a byte
    order mark, or the attributes ``openssl pkcs12`` writes first), else DER."""
    keys = len(PEM_PRIVATE_KEY.findall(material))
    if keys > 1:
        # cryptography would take the first silently; asymmetric material is final in KMS.
        raise UsageError(
            "'--material' must hold one private key. Received: "
            f"{_received(source, f'{keys} PEM private keys')}"
        )
    try:
        if b"-----BEGIN" in material:
            return serialization.load_pem_private_key(material, password=None)
        return serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError) as error:
        raise UsageError(
            "'--material' must be an unencrypted private key (PKCS#8 DER, or PEM) for an "
            "asymmetric key. Received: "
            f"{_received(source, f'{len(material)} bytes that are not one: {error}')}"
        ) from error


def _received(source: str | None, what: str) -> str:
    """``'FILE' (what)`` when the file is known, else ``what``: the value an error received."""
    return f"'{source}' ({what})" if source is not None else what


def _describe(private_key: PrivateKeyTypes) -> str:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return f"an RSA {private_key.key_size}-bit key"
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return f"an EC key on {private_key.curve.name}"
    return f"a {type(private_key).__name__}"


def wrap_material(material: bytes, wrapping_public_key: bytes, algorithm: str) -> bytes:
    """Encrypt ``material`` for KMS under the DER wrapping public key it handed out."""
    public_key = serialization.load_der_public_key(wrapping_public_key)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise UsageError("KMS returned a wrapping key that is not RSA")
    if algorithm == RSAES_OAEP_SHA_256:
        return public_key.encrypt(material, _OAEP_SHA_256)
    if algorithm == RSA_AES_KEY_WRAP_SHA_256:
        aes_key = secrets.token_bytes(32)
        return public_key.encrypt(aes_key, _OAEP_SHA_256) + aes_key_wrap_with_padding(
            aes_key, material
        )
    raise UsageError(f"unsupported wrapping algorithm. Received: {algorithm!r}")


def check_valid_to(
    valid_to: datetime, *, now: datetime | None = None, given: str | None = None
) -> datetime:
    """A timezone-aware expiry after ``now`` and at most :data:`MAX_VALIDITY` (365 days) after
    it, both ends exact: ``now + 365 days`` is accepted, a microsecond later is not; ``now`` is
    not. ``now``: default the current time. ``given``: what the user typed, for the errors
    (default: ``valid_to`` in ISO 8601). Raises :class:`UsageError` naming ``--expires``.

    KMS measures its limit from the ImportKeyMaterial request, which comes later than any check
    made here: an expiry accepted here can only get nearer to that limit, never past it.
    """
    shown = given or valid_to.isoformat()
    if valid_to.tzinfo is None:
        raise UsageError(
            f"'--expires' must carry a timezone, e.g. 2027-01-31T00:00:00Z. Received: {shown}"
        )
    now = now or datetime.now(UTC)
    if valid_to <= now:
        raise UsageError(
            "'--expires' must be in the future (KMS deletes the material at that time). "
            f"Received: {shown} (now is {utc_text(now)})"
        )
    if valid_to > now + MAX_VALIDITY:
        ahead = timedelta(seconds=math.ceil((valid_to - now).total_seconds()))
        raise UsageError(
            "'--expires' must be at most 365 days from now, KMS's limit for ValidTo (until "
            f"{utc_text(now + MAX_VALIDITY)}). Received: {shown} ({ahead} from now)"
        )
    return valid_to


def describe_target(kms: Any, key: str) -> ImportTarget:
    """DescribeKey, refusing keys that cannot take imported material: origin not EXTERNAL or a
    spec kmskit does not import into (:class:`UsageError`), pending deletion
    (:class:`ConflictError`). ``key``: as the user gave it (``KEY``), named in the errors."""
    metadata = key_metadata(kms, key)
    if metadata.get("Origin") != "EXTERNAL":
        raise UsageError(
            f"'KEY' must be a key created for imported material (origin EXTERNAL). Received: "
            f"{metadata['Arn']} with origin {metadata.get('Origin')}; create one with "
            'CustomerManagedKey(..., origin="EXTERNAL")'
        )
    if metadata.get("KeyState") in ("PendingDeletion", "PendingReplicaDeletion"):
        raise ConflictError(
            f"'KEY' must not be pending deletion. Received: {key} ({metadata['Arn']}, state "
            f"{metadata['KeyState']}): cancel the deletion first (aws kms cancel-key-deletion "
            f"--key-id {metadata['Arn']})"
        )
    key_spec = metadata.get("KeySpec", "SYMMETRIC_DEFAULT")
    if key_spec not in SUPPORTED_SPECS:
        raise UsageError(
            "'KEY' must be a key whose material kmskit can import: "
            f"{', '.join(SUPPORTED_SPECS)}. Received: {key} ({metadata['Arn']}, key spec "
            f"{key_spec})"
        )
    multi_region = bool(metadata.get("MultiRegion"))
    key_type = (metadata.get("MultiRegionConfiguration") or {}).get("MultiRegionKeyType")
    return ImportTarget(
        key_arn=metadata["Arn"],
        key_spec=key_spec,
        key_state=metadata.get("KeyState", ""),
        multi_region=multi_region,
        multi_region_key_type=str(key_type) if multi_region and key_type else None,
        current_key_material_id=metadata.get("CurrentKeyMaterialId"),
    )


UNCONFIRMED_COPY = (
    "a copy written to standard output cannot be confirmed kept (the material fits in a pipe's "
    "buffer, so the import would go on even if the reader exited without storing it)"
)
"""Why ``--save-material -`` does not count as a kept copy where one is required."""


def material_expired_or_deleted(target: ImportTarget) -> bool:
    """Whether ``target`` is back in ``PendingImport`` after its material expired or was
    deleted: DescribeKey still reports its ``CurrentKeyMaterialId``. Such a key takes only that
    material again (neither generated nor new material)."""
    return target.key_state == "PendingImport" and bool(target.current_key_material_id)


def check_generate(target: ImportTarget, *, saved: str | None, new_material: bool = False) -> None:
    """Refuse to generate material that KMS or related multi-Region keys could never accept.

    A key that has material (Enabled or Disabled) takes only that same material again unless
    ``new_material`` (default False) asks for a further one: KMS defaults ImportType to
    EXISTING_KEY_MATERIAL after the first import (APIReference/API_ImportKeyMaterial.html).
    KMS does not copy imported material to replicas: a replica needs its primary's material
    (generating new material for it would make it useless), and material generated for a primary
    must be kept so that it can be imported into each replica: ``saved`` is where the copy goes
    (the CLI's ``--save-material``; None: nowhere, ``-``: standard output, which is refused for a
    primary as it cannot be confirmed kept, :data:`UNCONFIRMED_COPY`).
    A key in ``PendingImport`` whose material expired or was deleted (DescribeKey still reports
    its ``CurrentKeyMaterialId``, :func:`material_expired_or_deleted`) takes only that material
    again, so generated material could never make it usable: refused before any is generated.
    """
    if material_expired_or_deleted(target):
        raise UsageError(
            f"'--generate' cannot be used for key {target.key_arn} (state PendingImport): its "
            f"key material {target.current_key_material_id} expired or was deleted, and KMS "
            "takes only that same material again (generated material would never make the key "
            "usable). Re-import its material (the copy kept from its first import) with "
            "--material FILE"
        )
    if target.key_state in KEY_STATES_WITH_MATERIAL and not new_material:
        raise UsageError(
            f"'--generate' cannot be used for key {target.key_arn}, which already has key "
            f"material (state {target.key_state}): KMS accepts only the same material again. "
            "Re-import it with --material FILE, or add further material to a SYMMETRIC_DEFAULT "
            "key with --new-material"
        )
    if not target.multi_region:
        return
    if target.multi_region_key_type == "REPLICA":
        raise UsageError(
            f"'--generate' cannot be used for multi-Region replica key {target.key_arn}: KMS "
            "does not copy imported material between related multi-Region keys, and a replica "
            "must get the same material as its primary. Import the primary's material with "
            "--material FILE"
        )
    if not saved:
        raise UsageError(
            f"'--generate' for multi-Region key {target.key_arn} needs --save-material FILE: "
            "KMS does not copy imported material to replica keys, so the same material must be "
            "imported into each replica, and without a saved copy it could not be"
        )
    if saved == STDIO:
        raise UsageError(
            f"'--generate' for multi-Region key {target.key_arn} needs --save-material FILE, "
            f"not standard output: {UNCONFIRMED_COPY}, and the same material must be imported "
            "into each replica. Received: --save-material -"
        )


def check_new_material(target: ImportTarget) -> None:
    """Refuse ``--new-material`` (ImportType NEW_KEY_MATERIAL) where KMS would reject it.

    Only symmetric encryption keys take further material; a multi-Region key takes it in its
    primary, and each replica then gets the same material as existing material
    (APIReference/API_ImportKeyMaterial.html). A key in ``PendingImport`` whose material expired
    or was deleted (DescribeKey still reports its ``CurrentKeyMaterialId``) stays unusable until
    that material is imported again: new material would only wait for a rotation (it is not
    current at once as a key's first material is), so it is refused too.
    """
    if target.key_spec != "SYMMETRIC_DEFAULT":
        raise UsageError(
            f"'--new-material' only goes with SYMMETRIC_DEFAULT keys: KMS cannot change the "
            f"material of HMAC or asymmetric keys after the first import. Received: "
            f"{target.key_spec} key {target.key_arn}"
        )
    if target.multi_region_key_type == "REPLICA":
        raise UsageError(
            f"'--new-material' cannot be used for multi-Region replica key {target.key_arn}: "
            "import new material into the primary with --new-material, then the same material "
            "into each replica without it"
        )
    if material_expired_or_deleted(target):
        raise UsageError(
            f"'--new-material' cannot be used for key {target.key_arn} (state PendingImport): "
            f"its key material {target.current_key_material_id} expired or was deleted, and "
            "the key stays unusable until that material is imported again (new material would "
            "only wait for a rotation). Re-import its material with --material FILE"
        )


def import_material(
    kms: Any,
    target: ImportTarget,
    material: bytes,
    *,
    valid_to: datetime | None = None,
    new_material: bool = False,
) -> ImportResult:
    """Wrap ``material`` (already checked with :func:`prepare_material`) and import it.

    ``valid_to``: the material expires then. Default: it does not expire.
    ``new_material``: send ImportType NEW_KEY_MATERIAL (a further material for a symmetric
    key or a multi-Region primary, made current by RotateKeyOnDemand; refused, before any call,
    where :func:`check_new_material` says KMS would reject it; sent once, and a lost answer is
    :class:`~kmskit.errors.KmskitError` saying the material may have been imported). Default:
    KMS decides, except for a symmetric multi-Region replica, which always gets
    EXISTING_KEY_MATERIAL (its primary's material).
    """
    algorithm = wrapping_algorithm(target.key_spec)
    if new_material:
        check_new_material(target)
    try:
        parameters = kms.get_parameters_for_import(
            KeyId=target.key_arn,
            WrappingAlgorithm=algorithm,
            WrappingKeySpec=WRAPPING_KEY_SPEC,
        )
    except ClientError as error:
        raise from_client_error(
            error, f"get the wrapping key and import token for {target.key_arn}"
        ) from error
    request: dict[str, Any] = {
        "KeyId": target.key_arn,
        "ImportToken": parameters["ImportToken"],
        "EncryptedKeyMaterial": wrap_material(material, parameters["PublicKey"], algorithm),
        # KMS defaults to KEY_MATERIAL_EXPIRES, which then needs ValidTo: always say which.
        "ExpirationModel": "KEY_MATERIAL_EXPIRES" if valid_to else "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
    if valid_to is not None:
        request["ValidTo"] = valid_to
    if new_material:
        request["ImportType"] = "NEW_KEY_MATERIAL"
    elif target.key_spec == "SYMMETRIC_DEFAULT" and target.multi_region_key_type == "REPLICA":
        # "The import type for the replica Region key should be EXISTING_KEY_MATERIAL": left
        # out, it defaults to NEW_KEY_MATERIAL for a key that never had material
        # (APIReference/API_ImportKeyMaterial.html; ImportType is for symmetric keys only).
        request["ImportType"] = "EXISTING_KEY_MATERIAL"
    if valid_to is not None:
        # Checked again as late as possible: an expiry that was a few seconds away when the
        # command started may have passed during DescribeKey and GetParametersForImport.
        check_valid_to(valid_to)
    try:
        response = kms.import_key_material(**request)
    except (ClientError, BotoCoreError) as error:
        if new_material and answer_lost(error):
            raise _new_material_lost(error, target) from error
        if isinstance(error, ClientError):
            raise _import_error(error, target, algorithm, new_material=new_material) from error
        raise
    return ImportResult(
        key_arn=target.key_arn,
        key_spec=target.key_spec,
        wrapping_algorithm=algorithm,
        valid_to=valid_to,
        key_material_id=response.get("KeyMaterialId"),
    )


def _new_material_lost(error: ClientError | BotoCoreError, target: ImportTarget) -> KmskitError:
    """ImportKeyMaterial of new material (sent once: :data:`~kmskit.clients.NOT_RESENT_WHEN`)
    whose answer was lost: KMS may have added the material, and the same material again would
    be refused as already associated."""
    doing = f"import new key material into {target.key_arn}"
    return KmskitError(
        f"{lost_answer_text(error, doing, 'KMS')}; KMS may have imported the material: check "
        f"with kmskit key rotations {target.key_arn} (new material is listed as "
        "PENDING_ROTATION) before running the command again"
    )


class IncorrectMaterialError(ConflictError):
    """KMS refused the material as not this key's (``IncorrectKeyMaterialException``): a key
    that has had material takes only that same material again."""


def _incorrect_material_advice(target: ImportTarget, new_material: bool) -> str:
    """What to do when KMS refused material for ``target`` (IncorrectKeyMaterialException)."""
    if new_material:
        return (
            f"'--new-material' was given, and KMS found this material already associated with "
            f"key {target.key_arn} (or unfit for a {target.key_spec} key): to re-import "
            "material the key already has, leave out --new-material"
        )
    if material_expired_or_deleted(target):
        # Neither new nor generated material is taken (check_new_material, check_generate).
        return (
            f"KMS refused this material for key {target.key_arn} ({target.key_spec}, state "
            f"PendingImport): its key material {target.current_key_material_id} expired or was "
            "deleted, and the key takes only that same material again, byte for byte (a "
            "multi-Region replica: its primary's): import the file it came from (the copy kept "
            "from its first import) with --material FILE"
        )
    return (
        f"KMS refused this material for key {target.key_arn} ({target.key_spec}, state "
        f"{target.key_state}). A key that has had material takes only that same material "
        "again, byte for byte (a multi-Region replica: its primary's): import the file it came "
        "from with --material FILE, or add different material to a SYMMETRIC_DEFAULT key with "
        "--new-material. A key that never had material refused it as unfit for a "
        f"{target.key_spec} key"
    )


def _import_error(
    error: ClientError, target: ImportTarget, algorithm: str, *, new_material: bool
) -> KmskitError:
    """ImportKeyMaterial's refusals, with what the operator can do about each.

    The material was wrapped moments before, locally, with the public key, the import token and
    the wrapping algorithm of one GetParametersForImport answer: KMS failing to unwrap it
    (``InvalidCiphertextException``, which from Decrypt means tampered data, exit 5) or
    refusing the token says nothing about the material or its integrity. Running the command
    again fetches a fresh set; it is a failure (exit 1), not integrity. An expired token stays a
    conflict (exit 7), as documented. Material that is not the key's own is a conflict (exit 7).
    """
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", "")
    text = f"could not import key material into {target.key_arn}: {code}: {message}".rstrip()
    text = text.rstrip(".:")
    if code == "InvalidCiphertextException":
        return KmskitError(
            f"{text}. KMS could not unwrap the material, which kmskit had just wrapped "
            f"({algorithm}) under the public key of the GetParametersForImport answer whose "
            "import token it sent: the material itself was not at fault. Run the command again "
            "(it fetches a fresh public key and import token). If it fails again, the import "
            "parameters and the import did not reach the same KMS: check AWS_ENDPOINT_URL and "
            "any proxy between kmskit and KMS"
        )
    if code == "InvalidImportTokenException":
        return KmskitError(
            f"{text}. KMS did not take the import token of the GetParametersForImport call "
            f"kmskit had just made for {target.key_arn}. Run the command again (it fetches a "
            "fresh public key and import token)"
        )
    if code == "ExpiredImportTokenException":
        return ConflictError(
            f"{text}. The import token from GetParametersForImport (valid 24 hours) expired "
            "before KMS got the material. Run the command again (it fetches a fresh public key "
            "and import token)"
        )
    if code == "IncorrectKeyMaterialException":
        return IncorrectMaterialError(f"{text}. {_incorrect_material_advice(target, new_material)}")
    return from_client_error(error, f"import key material into {target.key_arn}")
