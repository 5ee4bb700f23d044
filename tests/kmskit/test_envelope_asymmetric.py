"""Asymmetric keys against moto: encrypt with the public key outside AWS, decrypt through KMS;
sign with KMS, verify locally and with KMS.

moto 5.2 lacks pieces of asymmetric KMS (RSA decryption, Sign with MessageType=DIGEST, and
RSASSA-PSS with KMS's salt length): ``emulate_asymmetric_kms`` performs them as the KMS
documentation describes, with moto's own private keys, so every request kmskit sends still goes
through a real botocore client."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from kmskit.cli import main
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
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_USAGE,
    ConflictError,
    IntegrityError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    RSA_OAEP,
    ClientProbe,
    KmsWorld,
    OneCall,
    check_callers_client_reused_and_open,
    check_own_client_closed_once,
    emulate_asymmetric_kms,
    kms_world,
    moto_private_key,
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


@pytest.mark.parametrize("spec", ["ECC_NIST_EDWARDS25519", "ML_DSA_65", "SM2"])
def test_key_specs_kmskit_does_not_sign_with_are_named(
    world: KmsWorld, probe: ClientProbe, spec: str
) -> None:
    # botocore's KeySpec has SIGN_VERIFY specs kmskit cannot sign or verify with: the error
    # names the specs it can (an Ed25519 key is "ECC_NIST_EDWARDS25519", so "ECC keys" misled).
    arn = signing_key(world, "ECC_NIST_P256")
    der = get_public_key(arn).der
    answer = {"KeyId": arn, "PublicKey": der, "KeySpec": spec, "KeyUsage": "SIGN_VERIFY"}
    probe.respond("GetPublicKey", lambda _: (200, dict(answer)))
    with pytest.raises(UsageError) as caught:
        sign(arn, io.BytesIO(b"x"))
    assert str(caught.value) == (
        "kmskit signs with RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_SECG_P256K1, "
        f"ECC_NIST_P384, ECC_NIST_P521 keys (not ML-DSA, Ed25519 or SM2); {arn} is {spec}. "
        f"Received: {spec}"
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
