"""Asymmetric keys against moto: encrypt with the public key outside AWS, decrypt through KMS;
sign with KMS, verify locally and with KMS.

moto 5.2 lacks pieces of asymmetric KMS (RSA decryption, Sign with MessageType=DIGEST, and
RSASSA-PSS with KMS's salt length): ``emulate_asymmetric_kms`` performs them as the KMS
documentation describes, with moto's own private keys, so every request kmskit sends still goes
through a real botocore client."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, padding, utils

from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.envelope_asymmetric import (
    RAW_MESSAGE_LIMIT,
    PublicKey,
    get_public_key,
    load_public_key,
    private_decrypt,
    public_encrypt,
    sign,
    verify_local,
    verify_with_kms,
)
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_USAGE,
    ConflictError,
    IntegrityError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    ED25519_PH_STAND_IN,
    RSA_OAEP,
    ClientProbe,
    KmsWorld,
    LocalSigningKeys,
    OneCall,
    check_callers_client_reused_and_open,
    check_own_client_closed_once,
    emulate_asymmetric_kms,
    emulate_local_signing_keys,
    kms_world,
    moto_private_key,
    one_error_line,
    probe_clients,
)


@pytest.fixture(scope="module")
def world() -> Iterator[KmsWorld]:
    """One moto KMS for the module (tests add keys; none deletes or disables one)."""
    with kms_world() as kms:
        yield kms


@pytest.fixture
def probe(world: KmsWorld, monkeypatch: pytest.MonkeyPatch) -> ClientProbe:
    probe = probe_clients(monkeypatch)
    emulate_asymmetric_kms(probe)
    return probe


def rsa_encryption_key(world: KmsWorld, spec: str = "RSA_2048") -> str:
    return world.new_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")


def signing_key(world: KmsWorld, spec: str) -> str:
    return world.new_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")


@pytest.mark.parametrize(
    ("spec", "limit"), [("RSA_2048", 190), ("RSA_3072", 318), ("RSA_4096", 446)]
)
def test_public_key_encryption_round_trip_up_to_the_oaep_limit(
    world: KmsWorld, probe: ClientProbe, spec: str, limit: int
) -> None:
    arn = rsa_encryption_key(world, spec)
    public = get_public_key(arn)
    assert (public.key_spec, public.key_usage, public.max_plaintext) == (
        spec,
        "ENCRYPT_DECRYPT",
        limit,
    )
    data = os.urandom(limit)
    ciphertext = public_encrypt(public, data)
    assert private_decrypt(arn, ciphertext) == data
    decrypts = [r for op, r in probe.requests if op == "Decrypt"]
    assert decrypts[-1]["EncryptionAlgorithm"] == RSA_OAEP
    with pytest.raises(
        UsageError, match=f"{limit + 1} bytes; .* at most {limit} bytes.*kmskit encrypt"
    ):
        public_encrypt(public, data + b"x")


def test_exported_public_key_encrypts_without_any_aws_call(
    world: KmsWorld, probe: ClientProbe, tmp_path: Path
) -> None:
    arn = rsa_encryption_key(world)
    pem = tmp_path / "key.pem"
    assert main(["pubkey", "export", "--key", arn, str(pem)]) == 0
    assert pem.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    calls_before = sum(probe.calls.values())
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"db password")
    sealed = tmp_path / "secret.rsa"
    assert main(["pubkey", "encrypt", "--public-key", str(pem), str(secret), str(sealed)]) == 0
    assert sum(probe.calls.values()) == calls_before
    opened = tmp_path / "opened.txt"
    assert main(["pubkey", "decrypt", "--key", arn, str(sealed), str(opened)]) == 0
    assert opened.read_bytes() == b"db password"
    assert load_public_key(pem).der == get_public_key(arn).der


def test_cli_public_key_encryption_names_the_limit_of_the_key(
    world: KmsWorld, probe: ClientProbe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = rsa_encryption_key(world, "RSA_2048")
    limit = get_public_key(arn).max_plaintext
    secret = tmp_path / "secret.txt"
    secret.write_bytes(os.urandom(500))  # more than RSA 2048 and less than RSA 4096 takes
    capsys.readouterr()
    argv = ["pubkey", "encrypt", "--key", arn, str(secret), str(tmp_path / "sealed")]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"RSAES_OAEP_SHA_256 with a RSA_2048 key takes at most {limit} bytes" in err
    assert f"'{secret}' holds 500 bytes" in err
    assert not (tmp_path / "sealed").exists()


def test_tampered_rsa_ciphertext_is_an_integrity_error(world: KmsWorld, probe: ClientProbe) -> None:
    arn = rsa_encryption_key(world)
    ciphertext = bytearray(public_encrypt(get_public_key(arn), b"x"))
    ciphertext[10] ^= 1
    with pytest.raises(IntegrityError, match="InvalidCiphertextException"):
        private_decrypt(arn, bytes(ciphertext))


def test_public_key_encryption_refuses_signing_and_symmetric_keys(world: KmsWorld) -> None:
    with pytest.raises(
        ConflictError, match="is a SIGN_VERIFY key: encryption needs an ENCRYPT_DECRYPT"
    ):
        public_encrypt(get_public_key(signing_key(world, "RSA_2048")), b"x")
    with pytest.raises(UsageError, match="ECC_NIST_P256 key: only RSA keys encrypt"):
        public_encrypt(load_public_key_of(world, "ECC_NIST_P256"), b"x")


def sm2_public_key_der() -> bytes:
    """A public key as KMS returns it for an SM2 key (China Regions): an EC SubjectPublicKeyInfo
    on the SM2 curve (OID 1.2.156.10197.1.301), which ``cryptography`` cannot load."""
    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    p256_oid, sm2_oid = bytes.fromhex("06082a8648ce3d030107"), bytes.fromhex("06082a811ccf5501822d")
    return p256.replace(p256_oid, sm2_oid)


def test_sm2_public_key_exports_and_is_refused_in_one_line(
    world: KmsWorld, probe: ClientProbe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = rsa_encryption_key(world)  # answered as an SM2 key below (moto has no real SM2)
    der = sm2_public_key_der()
    sm2 = {"KeyId": arn, "PublicKey": der, "KeySpec": "SM2", "KeyUsage": "ENCRYPT_DECRYPT"}
    probe.respond("GetPublicKey", lambda request: (200, dict(sm2)))
    pem = tmp_path / "sm2.pem"
    assert main(["pubkey", "export", "--key", arn, str(pem)]) == 0
    assert b"".join(pem.read_bytes().splitlines()[1:-1]) == base64.b64encode(der)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"x")
    capsys.readouterr()
    argv = ["pubkey", "encrypt", "--key", arn, str(secret), str(tmp_path / "out")]
    assert main(argv) == EXIT_USAGE
    assert f"{arn}' is a SM2 key: only RSA keys encrypt" in capsys.readouterr().err
    argv = ["pubkey", "encrypt", "--public-key", str(pem), str(secret), str(tmp_path / "out")]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"'{pem}' holds a public key kmskit cannot use" in err
    assert "Curve 1.2.156.10197.1.301 is not supported" in err
    assert not (tmp_path / "out").exists()


def load_public_key_of(world: KmsWorld, spec: str) -> object:
    public = get_public_key(signing_key(world, spec))
    return type(public)(key_spec=public.key_spec, der=public.der)


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256"),
        ("ECC_NIST_P384", "ECDSA_SHA_384"),
        ("ECC_NIST_P521", "ECDSA_SHA_512"),
        ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ],
)
@pytest.mark.parametrize("size", [100, RAW_MESSAGE_LIMIT, RAW_MESSAGE_LIMIT + 1, 3 * 2**20])
def test_sign_then_verify_locally(
    world: KmsWorld, probe: ClientProbe, spec: str, algorithm: str, size: int
) -> None:
    arn = signing_key(world, spec)
    data = os.urandom(size)
    signature = sign(arn, io.BytesIO(data))
    assert signature.algorithm == algorithm
    sent = [r for op, r in probe.requests if op == "Sign"][-1]
    assert sent["MessageType"] == ("RAW" if size <= RAW_MESSAGE_LIMIT else "DIGEST")
    public = get_public_key(arn)
    assert verify_local(public, io.BytesIO(data), signature.signature) == algorithm
    changed = bytearray(data)
    changed[-1] ^= 1
    with pytest.raises(IntegrityError, match="the signature does not match the data") as caught:
        verify_local(public, io.BytesIO(bytes(changed)), signature.signature)
    assert caught.value.exit_code == EXIT_INTEGRITY


@pytest.mark.parametrize("algorithm", ["RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_512"])
def test_explicit_rsa_signing_algorithms_verify(
    world: KmsWorld, probe: ClientProbe, algorithm: str
) -> None:
    arn = signing_key(world, "RSA_3072")
    signature = sign(arn, io.BytesIO(b"release 1.2.3"), algorithm=algorithm)
    public = get_public_key(arn)
    verify_local(public, io.BytesIO(b"release 1.2.3"), signature.signature, algorithm=algorithm)
    assert (
        verify_with_kms(arn, io.BytesIO(b"release 1.2.3"), signature.signature, algorithm=algorithm)
        == algorithm
    )


@pytest.mark.parametrize("algorithm", ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_512"])
def test_local_verify_takes_only_the_salt_length_kms_uses(
    world: KmsWorld, probe: ClientProbe, algorithm: str
) -> None:
    # KMS's RSASSA_PSS_SHA_<n> has "a <n>-bit salt": a PSS signature with another salt length
    # (made with the private half of imported key material, say) is one KMS Verify refuses, so
    # verifying locally must refuse it too.
    arn = signing_key(world, "RSA_2048")
    _, private_key = moto_private_key(arn)
    digest = hashes.Hash(hashes.SHA256() if algorithm.endswith("256") else hashes.SHA512())
    digest.update(b"release 1.2.3")
    mgf = padding.MGF1(digest.algorithm)
    prehashed = utils.Prehashed(digest.algorithm)
    value = digest.finalize()
    kms_like = private_key.sign(value, padding.PSS(mgf, padding.PSS.DIGEST_LENGTH), prehashed)
    longest_salt = private_key.sign(value, padding.PSS(mgf, padding.PSS.MAX_LENGTH), prehashed)
    public = get_public_key(arn)
    message = b"release 1.2.3"
    assert verify_local(public, io.BytesIO(message), kms_like, algorithm=algorithm) == algorithm
    assert verify_with_kms(arn, io.BytesIO(message), kms_like, algorithm=algorithm) == algorithm
    with pytest.raises(IntegrityError, match="the signature does not match the data"):
        verify_local(public, io.BytesIO(message), longest_salt, algorithm=algorithm)
    with pytest.raises(IntegrityError):
        verify_with_kms(arn, io.BytesIO(message), longest_salt, algorithm=algorithm)


def test_ecdsa_hash_that_does_not_fit_the_curve_is_a_usage_error(
    world: KmsWorld, probe: ClientProbe
) -> None:
    # KMS signs with a P-384 key only with ECDSA_SHA_384: another --algorithm is the caller's
    # mistake (exit 2), not a changed file or signature (exit 5).
    arn = signing_key(world, "ECC_NIST_P384")
    signature = sign(arn, io.BytesIO(b"artifact")).signature
    with pytest.raises(UsageError) as caught:
        verify_local(
            get_public_key(arn), io.BytesIO(b"artifact"), signature, algorithm="ECDSA_SHA_256"
        )
    assert str(caught.value) == (
        "'--algorithm' does not fit a ECC_NIST_P384 key, which KMS signs with ECDSA_SHA_384 "
        "only. Received: ECDSA_SHA_256"
    )
    assert caught.value.exit_code == EXIT_USAGE


def test_kms_verify_refuses_a_wrong_signature(world: KmsWorld, probe: ClientProbe) -> None:
    arn = signing_key(world, "ECC_NIST_P256")
    signature = sign(arn, io.BytesIO(b"artifact")).signature
    assert verify_with_kms(arn, io.BytesIO(b"artifact"), signature) == "ECDSA_SHA_256"
    with pytest.raises(IntegrityError, match="does not match"):
        verify_with_kms(arn, io.BytesIO(b"artefact"), signature)


def test_a_key_spec_kmskit_does_not_sign_with_is_named(world: KmsWorld, probe: ClientProbe) -> None:
    # botocore's KeySpec has a SIGN_VERIFY spec kmskit cannot sign or verify with (SM2, which
    # cryptography cannot load): the error names the specs it can.
    arn = signing_key(world, "ECC_NIST_P256")
    der = get_public_key(arn).der
    answer = {"KeyId": arn, "PublicKey": der, "KeySpec": "SM2", "KeyUsage": "SIGN_VERIFY"}
    probe.respond("GetPublicKey", lambda _: (200, dict(answer)))
    with pytest.raises(UsageError) as caught:
        sign(arn, io.BytesIO(b"x"))
    assert str(caught.value) == (
        "kmskit signs with RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_SECG_P256K1, "
        "ECC_NIST_P384, ECC_NIST_P521, ECC_NIST_EDWARDS25519, ML_DSA_44, ML_DSA_65, ML_DSA_87 "
        f"keys (not SM2); {arn} is SM2. Received: SM2"
    )
    assert probe.calls["Sign"] == 0


def test_signing_with_an_encryption_key_is_refused(world: KmsWorld, probe: ClientProbe) -> None:
    with pytest.raises(ConflictError, match="ENCRYPT_DECRYPT key: signing needs a SIGN_VERIFY key"):
        sign(rsa_encryption_key(world), io.BytesIO(b"x"))
    assert probe.calls["Sign"] == 0


def test_a_key_of_the_wrong_usage_exits_7_whether_kms_or_kmskit_notices(
    world: KmsWorld, probe: ClientProbe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # docs/envelope.md: "7 conflict: ... key of the wrong type or usage". With --algorithm kmskit
    # asks KMS straight away, which answers InvalidKeyUsageException (exit 7); without it,
    # kmskit finds the usage with GetPublicKey first, and must exit the same way.
    encryption_key, signer = rsa_encryption_key(world), signing_key(world, "RSA_2048")
    ecc_signer = signing_key(world, "ECC_NIST_P256")
    data, sig = tmp_path / "data", tmp_path / "data.sig"
    data.write_bytes(b"artifact")
    sig.write_bytes(b"s" * 256)
    commands = [
        ["sign", "--key", encryption_key, "--algorithm", "RSASSA_PSS_SHA_256", str(data), "-"],
        ["sign", "--key", encryption_key, "--force", str(data), str(sig)],
        ["verify", "--key", encryption_key, "--signature", str(sig), str(data)],
        # an explicit algorithm skips the default's look-up, not the usage check
        [
            "verify",
            "--key",
            encryption_key,
            "--algorithm",
            "RSASSA_PSS_SHA_256",
            "--signature",
            str(sig),
            str(data),
        ],
        ["verify", "--kms", "--key", encryption_key, "--signature", str(sig), str(data)],
        ["pubkey", "encrypt", "--key", signer, str(data), str(tmp_path / "data.rsa")],
        ["pubkey", "encrypt", "--key", ecc_signer, str(data), str(tmp_path / "data.rsa")],
    ]
    for argv in commands:
        assert main(argv) == EXIT_CONFLICT, argv
        assert "key" in capsys.readouterr().err
    assert probe.calls["Sign"] == 1  # only the first command got as far as KMS


def test_cli_sign_and_verify_exit_codes(
    world: KmsWorld, probe: ClientProbe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = signing_key(world, "ECC_NIST_P384")
    artifact = tmp_path / "app.tar"
    artifact.write_bytes(os.urandom(10_000))
    sig = tmp_path / "app.sig"
    pem = tmp_path / "signer.pem"
    assert main(["sign", "--key", arn, str(artifact), str(sig)]) == 0
    assert main(["pubkey", "export", "--key", arn, str(pem)]) == 0
    assert main(["verify", "--public-key", str(pem), "--signature", str(sig), str(artifact)]) == 0
    assert main(["verify", "--key", arn, "--signature", str(sig), str(artifact)]) == 0
    artifact.write_bytes(b"changed")
    assert (
        main(["verify", "--public-key", str(pem), "--signature", str(sig), str(artifact)])
        == EXIT_INTEGRITY
    )
    assert "the signature does not match the data" in capsys.readouterr().err
    argv = ["verify", "--public-key", str(pem), "--kms", "--signature", str(sig), str(artifact)]
    assert main(argv) == EXIT_USAGE
    assert "'--kms' needs --key" in capsys.readouterr().err


# -- ML-DSA and Ed25519 keys: moto 5.2 has neither, a stand-in KMS answers with local keys -------


@pytest.fixture
def local_keys(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> tuple[LocalSigningKeys, ClientProbe]:
    keys = LocalSigningKeys()
    probe = probe_clients(monkeypatch)
    emulate_local_signing_keys(probe, keys)
    return keys, probe


class ChunkedOnly(io.BytesIO):
    """A source that refuses to be read whole (``read()`` or ``read(-1)``) or in reads over
    1 MiB: signing and verifying files of any size must hold only a chunk at a time."""

    def read(self, size: int | None = -1, /) -> bytes:
        assert size is not None
        assert 0 < size <= 2**20, size
        return super().read(size)


def fips_204_mu(public_key: Any, data: bytes) -> bytes:
    """mu = SHAKE256(SHAKE256(pk, 64) || 0x00 || len(ctx)=0x00 || ctx="" || M, 64), FIPS 204
    section 6.2 (ML-DSA.Sign, external mu) with the empty context that KMS signs with."""
    public_key_hash = hashlib.shake_256(public_key.public_bytes_raw()).digest(64)
    return hashlib.shake_256(public_key_hash + b"\x00\x00" + data).digest(64)


def last_request(probe: ClientProbe, operation: str) -> dict[str, Any]:
    return [request for op, request in probe.requests if op == operation][-1]


@pytest.mark.parametrize("spec", ["ML_DSA_44", "ML_DSA_65", "ML_DSA_87"])
@pytest.mark.parametrize("size", [1, RAW_MESSAGE_LIMIT, RAW_MESSAGE_LIMIT + 1, 3 * 2**20 + 7])
def test_ml_dsa_signs_the_data_or_its_mu_and_verifies_as_plain_ml_dsa(
    local_keys: tuple[LocalSigningKeys, ClientProbe], spec: str, size: int
) -> None:
    # KMS takes at most 4,096 bytes as the message itself (RAW); beyond, kmskit sends ML-DSA's
    # representative mu (EXTERNAL_MU), computed from the public key and the data in chunks.
    # Either way the signature is plain ML-DSA over the data, with the empty context.
    keys, probe = local_keys
    arn = keys.add(spec)
    public = keys.keys[arn].public_key()
    data = os.urandom(size)
    signature = sign(arn, ChunkedOnly(data))
    assert signature.algorithm == "ML_DSA_SHAKE_256"
    sent = last_request(probe, "Sign")
    if size <= RAW_MESSAGE_LIMIT:
        assert (sent["MessageType"], base64.b64decode(sent["Message"])) == ("RAW", data)
    else:
        expected = ("EXTERNAL_MU", fips_204_mu(public, data))
        assert (sent["MessageType"], base64.b64decode(sent["Message"])) == expected
    public.verify(signature.signature, data)  # plain ML-DSA, context None: no exception
    fetched = get_public_key(arn)
    assert verify_local(fetched, ChunkedOnly(data), signature.signature) == "ML_DSA_SHAKE_256"
    assert verify_with_kms(arn, ChunkedOnly(data), signature.signature) == "ML_DSA_SHAKE_256"
    assert last_request(probe, "Verify")["MessageType"] == sent["MessageType"]
    assert last_request(probe, "Verify")["Message"] == sent["Message"]
    changed = bytearray(data)
    changed[-1] ^= 1
    with pytest.raises(IntegrityError, match="the signature does not match the data"):
        verify_local(fetched, io.BytesIO(bytes(changed)), signature.signature)
    with pytest.raises(IntegrityError, match="KMSInvalidSignatureException"):
        verify_with_kms(arn, io.BytesIO(bytes(changed)), signature.signature)


def test_ml_dsa_with_its_algorithm_given_fetches_the_public_key_only_for_a_mu(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
) -> None:
    keys, probe = local_keys
    arn = keys.add("ML_DSA_65")
    small = sign(arn, io.BytesIO(b"x" * RAW_MESSAGE_LIMIT), algorithm="ML_DSA_SHAKE_256")
    assert (probe.calls["GetPublicKey"], probe.calls["Sign"]) == (0, 1)
    data = b"y" * (RAW_MESSAGE_LIMIT + 1)
    large = sign(arn, io.BytesIO(data), algorithm="ML_DSA_SHAKE_256")
    assert (probe.calls["GetPublicKey"], probe.calls["Sign"]) == (1, 2)
    public = keys.keys[arn].public_key()
    public.verify(small.signature, b"x" * RAW_MESSAGE_LIMIT)
    public.verify(large.signature, data)
    verify_with_kms(arn, io.BytesIO(data), large.signature, algorithm="ML_DSA_SHAKE_256")
    assert probe.calls["GetPublicKey"] == 2
    # The caller's public key serves the mu: no GetPublicKey.
    fetched = get_public_key(arn)
    verify_with_kms(arn, io.BytesIO(data), large.signature, public_key=fetched)
    assert probe.calls["GetPublicKey"] == 3


def test_an_ml_dsa_mu_made_with_another_public_key_is_refused_not_returned(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
) -> None:
    # Before: KMS signed the mu of the stale key's public key and sign() returned a signature
    # that no verifier accepts (the mu hashes the public key), with no error.
    keys, probe = local_keys
    arn, stale = keys.add("ML_DSA_65"), keys.add("ML_DSA_65")
    data = os.urandom(RAW_MESSAGE_LIMIT + 1)
    with pytest.raises(ConflictError) as caught:
        sign(arn, io.BytesIO(data), public_key=get_public_key(stale))
    assert str(caught.value).startswith(f"'public_key' is not the public key of {arn}: ")
    assert str(caught.value).endswith(f"Received: the public key of {stale} (ML_DSA_65)")
    assert probe.calls["Sign"] == 1
    # Its own public key, and data KMS signs itself (RAW: no mu), are not refused.
    own = sign(arn, io.BytesIO(data), public_key=get_public_key(arn))
    keys.keys[arn].public_key().verify(own.signature, data)
    small = b"x" * RAW_MESSAGE_LIMIT
    sign(arn, io.BytesIO(small), public_key=get_public_key(stale))


def test_cli_sign_with_a_stale_ml_dsa_public_key_exits_7_and_writes_nothing(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys, _ = local_keys
    keys.add("ML_DSA_65", alias="alias/pq")
    keys.add("ML_DSA_65", alias="alias/old")
    artifact, sig, pem = tmp_path / "app.tar", tmp_path / "app.sig", tmp_path / "old.pem"
    artifact.write_bytes(os.urandom(10_000))
    assert main(["pubkey", "export", "-q", "--key", "alias/old", str(pem)]) == 0
    argv = ["sign", "--key", "alias/pq", "--public-key", str(pem), str(artifact), str(sig)]
    assert main(argv) == EXIT_CONFLICT
    line = one_error_line(capsys)
    assert line.startswith("kmskit: error: '--public-key' is not the public key of alias/pq: ")
    assert line.endswith("Received: the public key of a file (ML_DSA_65)")
    assert not sig.exists()


def test_an_ml_dsa_algorithm_for_another_key_is_refused_before_kms_signs(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
) -> None:
    # The mu needs the public key: with it at hand, an Ed25519 key is named, not sent to KMS.
    keys, probe = local_keys
    arn = keys.add("ECC_NIST_EDWARDS25519")
    with pytest.raises(UsageError) as caught:
        sign(arn, io.BytesIO(os.urandom(10_000)), algorithm="ML_DSA_SHAKE_256")
    assert str(caught.value) == (
        "'--algorithm' does not fit a ECC_NIST_EDWARDS25519 key: ML_DSA_SHAKE_256 needs an "
        "ML-DSA key. Received: ML_DSA_SHAKE_256"
    )
    assert caught.value.exit_code == EXIT_USAGE
    assert probe.calls["Sign"] == 0


@pytest.mark.parametrize("size", [1, RAW_MESSAGE_LIMIT])
def test_ed25519_signs_the_data_itself(
    local_keys: tuple[LocalSigningKeys, ClientProbe], size: int
) -> None:
    keys, probe = local_keys
    arn = keys.add("ECC_NIST_EDWARDS25519")
    data = os.urandom(size)
    signature = sign(arn, io.BytesIO(data))
    assert signature.algorithm == "ED25519_SHA_512"
    sent = last_request(probe, "Sign")
    assert (sent["MessageType"], base64.b64decode(sent["Message"])) == ("RAW", data)
    keys.keys[arn].public_key().verify(signature.signature, data)
    public = get_public_key(arn)
    assert verify_local(public, io.BytesIO(data), signature.signature) == "ED25519_SHA_512"
    assert verify_with_kms(arn, io.BytesIO(data), signature.signature) == "ED25519_SHA_512"
    tampered = bytes([data[0] ^ 1]) + data[1:]
    with pytest.raises(IntegrityError, match="the signature does not match the data"):
        verify_local(public, io.BytesIO(tampered), signature.signature)
    with pytest.raises(IntegrityError, match="KMSInvalidSignatureException"):
        verify_with_kms(arn, io.BytesIO(tampered), signature.signature)


@pytest.mark.parametrize("size", [RAW_MESSAGE_LIMIT + 1, 3 * 2**20])
def test_ed25519_refuses_more_than_kms_takes_as_the_message_itself(
    local_keys: tuple[LocalSigningKeys, ClientProbe], size: int
) -> None:
    # ED25519_SHA_512 takes MessageType RAW only (at most 4,096 bytes): larger data is refused
    # with the limit and what to do instead, before KMS is asked and without reading the rest
    # of the data just to count it.
    keys, probe = local_keys
    arn = keys.add("ECC_NIST_EDWARDS25519")
    expected = (
        "the data to sign or verify is too large for ED25519_SHA_512, which takes the message "
        "itself, at most 4,096 bytes (KMS MessageType RAW). For larger data give --algorithm "
        "ED25519_PH_SHA_512 (KMS signs the data's SHA-512 digest; verify it with --kms), or sign "
        "with an ML-DSA, ECC or RSA key. Received: more than 4,096 bytes"
    )
    public = get_public_key(arn)
    for call in (
        lambda source: sign(arn, source),
        lambda source: verify_local(public, source, b"s" * 64),
        lambda source: verify_with_kms(arn, source, b"s" * 64),
    ):
        source = ChunkedOnly(b"x" * size)
        with pytest.raises(UsageError) as caught:
            call(source)
        assert str(caught.value) == expected
        assert source.tell() <= min(size, 2**20)  # the first chunk, no further
    assert probe.calls["Sign"] == probe.calls["Verify"] == 0


@pytest.mark.parametrize("size", [1, 3 * 2**20])
def test_ed25519ph_signs_the_sha512_digest_and_only_kms_verifies_it(
    local_keys: tuple[LocalSigningKeys, ClientProbe], size: int
) -> None:
    # KMS requires MessageType DIGEST (a SHA-512 digest, whatever the size) and hashes it once
    # more (Ed25519ph); cryptography has no Ed25519ph, so local verification is refused, before
    # the data is read, pointing to KMS Verify.
    keys, probe = local_keys
    arn = keys.add("ECC_NIST_EDWARDS25519")
    data = os.urandom(size)
    signature = sign(arn, ChunkedOnly(data), algorithm="ED25519_PH_SHA_512")
    sent = last_request(probe, "Sign")
    digest = hashlib.sha512(data).digest()
    assert (sent["MessageType"], base64.b64decode(sent["Message"])) == ("DIGEST", digest)
    keys.keys[arn].public_key().verify(signature.signature, ED25519_PH_STAND_IN + digest)
    assert (
        verify_with_kms(arn, ChunkedOnly(data), signature.signature, algorithm="ED25519_PH_SHA_512")
        == "ED25519_PH_SHA_512"
    )
    assert last_request(probe, "Verify")["Message"] == sent["Message"]
    with pytest.raises(IntegrityError, match="KMSInvalidSignatureException"):
        verify_with_kms(
            arn, io.BytesIO(data + b"x"), signature.signature, algorithm="ED25519_PH_SHA_512"
        )
    unread = io.BytesIO(data)
    with pytest.raises(UsageError) as caught:
        verify_local(
            get_public_key(arn), unread, signature.signature, algorithm="ED25519_PH_SHA_512"
        )
    assert str(caught.value) == (
        "'--algorithm' ED25519_PH_SHA_512 cannot be verified locally (the cryptography library "
        "has no Ed25519ph): verify with KMS Verify instead (`kmskit verify --kms --key KEY`, "
        "verify_with_kms). Received: ED25519_PH_SHA_512"
    )
    assert unread.tell() == 0


def test_cli_ml_dsa_sign_and_verify(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # ML-DSA-87 signatures are 4,627 bytes, the largest KMS makes: `verify` reads them whole.
    keys, _ = local_keys
    keys.add("ML_DSA_87", alias="alias/pq-signing")
    artifact, sig, pem = tmp_path / "app.tar", tmp_path / "app.sig", tmp_path / "pq.pem"
    artifact.write_bytes(os.urandom(100_000))
    assert main(["sign", "--key", "alias/pq-signing", str(artifact), str(sig)]) == 0
    assert len(sig.read_bytes()) == 4627
    assert main(["pubkey", "export", "--key", "alias/pq-signing", str(pem)]) == 0
    assert load_public_key(pem).key_spec == "ML_DSA_87"
    verify = ["verify", "--signature", str(sig), str(artifact)]
    capsys.readouterr()
    assert main([*verify, "--public-key", str(pem)]) == 0
    assert main([*verify, "--key", "alias/pq-signing"]) == 0
    assert main([*verify, "--key", "alias/pq-signing", "--kms"]) == 0
    err = capsys.readouterr().err
    assert err.count("signature valid (ML_DSA_SHAKE_256, verified locally)") == 2
    assert "signature valid (KMS Verify, ML_DSA_SHAKE_256)" in err
    artifact.write_bytes(artifact.read_bytes()[:-1])
    for argv in (
        [*verify, "--public-key", str(pem)],
        [*verify, "--key", "alias/pq-signing", "--kms"],
    ):
        assert main(argv) == EXIT_INTEGRITY
        err = capsys.readouterr().err
        assert "does not match" in err or "KMSInvalidSignatureException" in err
        assert "--algorithm" not in err  # no hint of another algorithm: ML-DSA has one
    argv = [*verify, "--public-key", str(pem), "--algorithm", "ECDSA_SHA_256"]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--algorithm' does not fit a ML_DSA_87 key: ECDSA_SHA_256 needs an ECDSA "
        "(ECC_NIST_P256/P384/P521 or ECC_SECG_P256K1) key. Received: ECDSA_SHA_256"
    )


@pytest.mark.parametrize(
    ("algorithm", "family"),
    [
        ("ML_DSA_SHAKE_256", "an ML-DSA"),
        ("ED25519_SHA_512", "an Ed25519"),
        ("ED25519_PH_SHA_512", "an Ed25519"),
    ],
)
def test_an_ml_dsa_or_ed25519_algorithm_for_another_key_exits_2_before_reading_input(
    world: KmsWorld,
    probe: ClientProbe,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    algorithm: str,
    family: str,
) -> None:
    rsa_key = signing_key(world, "RSA_2048")
    expected = (
        f"'--algorithm' does not fit a RSA_2048 key: {algorithm} needs {family} key. "
        f"Received: {algorithm}"
    )
    unread = io.BytesIO(b"artifact")
    with pytest.raises(UsageError) as caught:
        verify_local(get_public_key(rsa_key), unread, b"s" * 256, algorithm=algorithm)
    assert (str(caught.value), unread.tell()) == (expected, 0)
    pem, sig, data = tmp_path / "rsa.pem", tmp_path / "sig", tmp_path / "data"
    assert main(["pubkey", "export", "--key", rsa_key, str(pem)]) == 0
    sig.write_bytes(b"s" * 256)
    data.write_bytes(b"artifact")
    capsys.readouterr()
    for source in (["--key", rsa_key], ["--public-key", str(pem)]):
        argv = ["verify", *source, "--algorithm", algorithm, "--signature", str(sig), str(data)]
        assert main(argv) == EXIT_USAGE, argv
        assert one_error_line(capsys) == f"kmskit: error: {expected}"


def test_cli_ed25519_sign_verify_and_its_refusals(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys, probe = local_keys
    keys.add("ECC_NIST_EDWARDS25519", alias="alias/ed25519-signing")
    key = ["--key", "alias/ed25519-signing"]
    small, large = tmp_path / "manifest.json", tmp_path / "app.tar"
    small.write_bytes(b'{"release": "1.2.3"}')
    large.write_bytes(os.urandom(10_000))
    sig, ph_sig, pem = tmp_path / "manifest.sig", tmp_path / "app.sig", tmp_path / "ed.pem"
    assert main(["sign", *key, str(small), str(sig)]) == 0
    assert main(["pubkey", "export", *key, str(pem)]) == 0
    assert load_public_key(pem).key_spec == "ECC_NIST_EDWARDS25519"
    assert main(["verify", "--public-key", str(pem), "--signature", str(sig), str(small)]) == 0
    assert main(["verify", *key, "--kms", "--signature", str(sig), str(small)]) == 0
    capsys.readouterr()
    assert main(["sign", *key, str(large), str(ph_sig)]) == EXIT_USAGE
    assert "Received: more than 4,096 bytes" in one_error_line(capsys)
    assert not ph_sig.exists()
    ph = ["--algorithm", "ED25519_PH_SHA_512"]
    assert main(["sign", *key, *ph, str(large), str(ph_sig)]) == 0
    assert main(["verify", *key, *ph, "--kms", "--signature", str(ph_sig), str(large)]) == 0
    capsys.readouterr()
    argv = ["verify", "--public-key", str(pem), *ph, "--signature", str(ph_sig), str(large)]
    assert main(argv) == EXIT_USAGE
    assert "verify with KMS Verify instead (`kmskit verify --kms --key KEY`" in one_error_line(
        capsys
    )
    # A small file signed with ED25519_PH_SHA_512, verified with the default: the hint says so.
    assert main(["sign", *key, *ph, "--force", str(small), str(ph_sig)]) == 0
    capsys.readouterr()
    argv = ["verify", "--public-key", str(pem), "--signature", str(ph_sig), str(small)]
    assert main(argv) == EXIT_INTEGRITY
    assert one_error_line(capsys).endswith(
        "; ED25519_SHA_512 is the default for Ed25519 keys: a signature made with "
        "ED25519_PH_SHA_512 verifies only with --algorithm ED25519_PH_SHA_512 --kms"
    )
    assert probe.calls["Sign"] == 3


# -- clients: the one a call made for itself is closed; the caller's is reused, open ---------------


def each_function(world: KmsWorld) -> dict[str, tuple[list[str], OneCall]]:
    """Each function that calls KMS: the operations it calls, in order, and a call with given
    settings (ciphertext and signature made beforehand, with no client of kmskit's)."""
    signer = signing_key(world, "ECC_NIST_P256")
    arn, private = moto_private_key(signer)
    signature = private.sign(b"release", ec.ECDSA(hashes.SHA256()))
    decrypter = rsa_encryption_key(world)
    der = world.kms.get_public_key(KeyId=decrypter)["PublicKey"]
    ciphertext = public_encrypt(PublicKey(key_spec="RSA_2048", der=der), b"secret")
    return {
        "get_public_key": (["GetPublicKey"], lambda s: get_public_key(arn, settings=s)),
        "private_decrypt": (
            ["Decrypt"],
            lambda s: private_decrypt(decrypter, ciphertext, settings=s),
        ),
        "sign": (["GetPublicKey", "Sign"], lambda s: sign(arn, io.BytesIO(b"release"), settings=s)),
        "sign with an algorithm": (
            ["Sign"],
            lambda s: sign(arn, io.BytesIO(b"release"), algorithm="ECDSA_SHA_256", settings=s),
        ),
        "verify_with_kms": (
            ["GetPublicKey", "Verify"],
            lambda s: verify_with_kms(arn, io.BytesIO(b"release"), signature, settings=s),
        ),
    }


FUNCTIONS = [
    "get_public_key",
    "private_decrypt",
    "sign",
    "sign with an algorithm",
    "verify_with_kms",
]


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "kms-fails"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_without_settings_the_client_made_for_the_call_is_closed_once(
    world: KmsWorld, probe: ClientProbe, monkeypatch: pytest.MonkeyPatch, function: str, fails: bool
) -> None:
    # Before: each call made a ClientSettings, a session and a client whose connection pool
    # stayed open until the garbage collector took it; sign and verify_with_kms without an
    # algorithm made two (one for GetPublicKey).
    operations, call = each_function(world)[function]
    check_own_client_closed_once(monkeypatch, probe, operations, call, fails=fails)


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "kms-fails"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_callers_settings_client_is_reused_and_left_open(
    world: KmsWorld, probe: ClientProbe, monkeypatch: pytest.MonkeyPatch, function: str, fails: bool
) -> None:
    operations, call = each_function(world)[function]
    check_callers_client_reused_and_open(monkeypatch, probe, operations, call, fails=fails)


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "kms-fails"])
@pytest.mark.parametrize("own", [True, False], ids=["own-client", "callers-client"])
def test_the_public_key_for_an_ml_dsa_mu_comes_through_the_calls_client(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
    monkeypatch: pytest.MonkeyPatch,
    own: bool,
    fails: bool,
) -> None:
    # With ML_DSA_SHAKE_256 given, sign asks for the public key only once the data is larger
    # than KMS takes as the message itself: with the same client as Sign, closed (or left open)
    # as for any other call.
    keys, probe = local_keys
    arn = keys.add("ML_DSA_44")
    data = os.urandom(RAW_MESSAGE_LIMIT + 1)

    def call(settings: ClientSettings | None) -> object:
        return sign(arn, io.BytesIO(data), algorithm="ML_DSA_SHAKE_256", settings=settings)

    check = check_own_client_closed_once if own else check_callers_client_reused_and_open
    check(monkeypatch, probe, ["GetPublicKey", "Sign"], call, fails=fails)


def test_sign_without_get_public_key_given_the_public_key_file(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A signer allowed kms:Sign only (grant_sign, a KMS grant of Sign): GetPublicKey is refused.
    # Without it, signing an ML-DSA file over 4 KiB (the mu) or without --algorithm (the key's
    # spec) failed saying only that the public key could not be read; the error now says why it
    # was needed and what to do, and `sign --public-key FILE` needs no GetPublicKey at all.
    keys, probe = local_keys
    keys.add("ML_DSA_65", alias="alias/pq-signing")
    artifact, sig, pem = tmp_path / "app.tar", tmp_path / "app.sig", tmp_path / "pq.pem"
    artifact.write_bytes(os.urandom(RAW_MESSAGE_LIMIT + 1))
    assert main(["pubkey", "export", "--key", "alias/pq-signing", str(pem)]) == 0
    refused = {"Code": "AccessDeniedException", "Message": "not authorized: kms:GetPublicKey"}
    probe.respond("GetPublicKey", lambda request: (400, {"Error": refused}))
    capsys.readouterr()
    sign_argv = ["sign", "--key", "alias/pq-signing", str(artifact), str(sig)]
    for extra, why in (
        ([], "signing without an algorithm takes the key's spec from it"),
        (
            ["--algorithm", "ML_DSA_SHAKE_256"],
            "signing ML-DSA data over 4,096 bytes sends KMS its mu, computed with the key's "
            "public key",
        ),
    ):
        assert main([*sign_argv, *extra]) == EXIT_ACCESS_DENIED
        assert one_error_line(capsys).endswith(
            f"not authorized: kms:GetPublicKey. {why}: allow kms:GetPublicKey on the key, or give "
            "its public key (--public-key FILE, from kmskit pubkey export; public_key=)"
        )
    calls = probe.calls["GetPublicKey"]
    assert main([*sign_argv, "--public-key", str(pem)]) == 0
    assert probe.calls["GetPublicKey"] == calls
    assert main(["verify", "--public-key", str(pem), "--signature", str(sig), str(artifact)]) == 0
    # Given the public key, an algorithm of another family is refused before KMS is asked.
    capsys.readouterr()
    signs = probe.calls["Sign"]
    wrong = ["--force", "--public-key", str(pem), "--algorithm", "ED25519_SHA_512"]
    assert main([*sign_argv, *wrong]) == EXIT_USAGE
    assert "'--algorithm' does not fit a ML_DSA_65 key" in one_error_line(capsys)
    assert probe.calls["Sign"] == signs


def test_expired_credentials_at_get_public_key_get_no_permission_advice(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Credentials that expire between two runs fail GetPublicKey too: that is no missing
    # kms:GetPublicKey, and neither a permission nor a public key file helps.
    keys, probe = local_keys
    keys.add("ML_DSA_65", alias="alias/pq-signing")
    artifact = tmp_path / "app.tar"
    artifact.write_bytes(b"release")
    expired = {
        "Code": "ExpiredTokenException",
        "Message": "The security token included in the request is expired",
    }
    probe.respond("GetPublicKey", lambda request: (400, {"Error": expired}))
    argv = ["sign", "--key", "alias/pq-signing", str(artifact), str(tmp_path / "app.sig")]
    assert main(argv) == EXIT_ACCESS_DENIED
    line = one_error_line(capsys)
    assert line.endswith(
        "ExpiredTokenException: The security token included in the request is expired "
        "(refresh or check the AWS credentials)"
    )
    assert "allow kms:GetPublicKey" not in line


def test_a_base64_ml_dsa_87_signature_file_is_named_as_base64(
    local_keys: tuple[LocalSigningKeys, ClientProbe],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # ML-DSA-87's 4,627-byte signature as base64 text (aws kms sign --output text) is 6,172
    # characters: refused as "too large" without the base64 hint the smaller ones get; it is
    # refused saying to decode it.
    keys, _ = local_keys
    keys.add("ML_DSA_87", alias="alias/pq-signing")
    data, sig = tmp_path / "data", tmp_path / "data.sig"
    data.write_bytes(b"release 1.2.3")
    assert main(["sign", "--key", "alias/pq-signing", str(data), str(sig)]) == 0
    sig.write_bytes(base64.encodebytes(sig.read_bytes()))
    capsys.readouterr()
    assert main(["verify", "--key", "alias/pq-signing", "--signature", str(sig), str(data)]) == (
        EXIT_USAGE
    )
    assert one_error_line(capsys) == (
        f"kmskit: error: '--signature' holds base64 text ({sig.stat().st_size} bytes), not the "
        "raw signature that kmskit sign writes and KMS returns (aws kms sign --output text "
        f"prints base64): decode it first (base64 -d). Received: '{sig}'"
    )


def test_no_mu_hasher_in_cryptography_is_one_line_naming_what_is_needed(
    local_keys: tuple[LocalSigningKeys, ClientProbe], monkeypatch: pytest.MonkeyPatch
) -> None:
    # cryptography defines MLDSAMuHasher only when its OpenSSL has ML-DSA: without it, an ML-DSA
    # file over 4 KiB was an AttributeError (a traceback); it is a UsageError naming the need.
    keys, _ = local_keys
    arn = keys.add("ML_DSA_44")
    monkeypatch.delattr(mldsa, "MLDSAMuHasher")
    with pytest.raises(UsageError, match=r"needs cryptography's MLDSAMuHasher \(cryptography 50"):
        sign(arn, io.BytesIO(b"x" * (RAW_MESSAGE_LIMIT + 1)))
    assert sign(arn, io.BytesIO(b"x" * RAW_MESSAGE_LIMIT)).algorithm == "ML_DSA_SHAKE_256"
