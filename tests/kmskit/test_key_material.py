"""kmskit key import-material, against botocore's Stubber (moto has no import APIs).

The stubbed GetParametersForImport hands out the public half of an RSA-4096 key made here, so
each test can unwrap what ImportKeyMaterial received and compare it with the material.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.commands.key import parse_expiry
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
)
from kmskit.key_material import (
    check_valid_to,
    describe_target,
    generate_material,
    import_material,
    prepare_material,
)
from tests.kmskit.envelope_support import FakeTerminal
from tests.kmskit.test_cli_files import fail_directory_syncs

KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
CHINA_KEY_ARN = "arn:aws-cn:kms:cn-north-1:111111111111:key/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
TOKEN = b"import-token-from-kms"
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
RSA_4096_CIPHERTEXT_BYTES = 512


@pytest.fixture(scope="module")
def wrapping_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


@dataclass
class FakeKms:
    """A real botocore KMS client with a Stubber, and the ImportKeyMaterial request it got."""

    client: Any
    stubber: Stubber
    wrapping_key: rsa.RSAPrivateKey
    imported: dict[str, Any] = field(default_factory=dict)

    def describe(
        self,
        key_spec: str,
        origin: str = "EXTERNAL",
        state: str = "PendingImport",
        multi_region: str | None = None,
        arn: str = KEY_ARN,
        material_id: str | None = None,
    ) -> None:
        """``multi_region``: None (single-Region), ``PRIMARY`` or ``REPLICA``. ``material_id``:
        the ``CurrentKeyMaterialId`` DescribeKey reports (None: none, as before a first
        import)."""
        metadata: dict[str, Any] = {
            "KeyId": arn.rsplit("/", 1)[1],
            "Arn": arn,
            "KeySpec": key_spec,
            "Origin": origin,
            "KeyState": state,
            "MultiRegion": multi_region is not None,
        }
        if multi_region is not None:
            metadata["MultiRegionConfiguration"] = {"MultiRegionKeyType": multi_region}
        if material_id is not None:
            metadata["CurrentKeyMaterialId"] = material_id
        self.stubber.add_response(
            "describe_key", {"KeyMetadata": metadata}, {"KeyId": "alias/imported"}
        )

    def parameters(self, algorithm: str, arn: str = KEY_ARN) -> None:
        public_der = self.wrapping_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.stubber.add_response(
            "get_parameters_for_import",
            {
                "KeyId": arn,
                "ImportToken": TOKEN,
                "PublicKey": public_der,
                "ParametersValidTo": datetime(2030, 1, 1, tzinfo=UTC),
            },
            {"KeyId": arn, "WrappingAlgorithm": algorithm, "WrappingKeySpec": "RSA_4096"},
        )

    def accepts_import(self) -> None:
        self.stubber.add_response("import_key_material", {"KeyId": KEY_ARN})

    def fails(self, operation: str, code: str, message: str = "") -> None:
        """The next ``operation`` call gets KMS error ``code`` (HTTP 400) with ``message``."""
        self.stubber.add_client_error(
            operation, service_error_code=code, service_message=message, http_status_code=400
        )

    def unwrap(self) -> bytes:
        """What KMS would recover from the EncryptedKeyMaterial it was sent."""
        sent: bytes = self.imported["EncryptedKeyMaterial"]
        if len(sent) == RSA_4096_CIPHERTEXT_BYTES:  # RSAES_OAEP_SHA_256: the material itself
            return self.wrapping_key.decrypt(sent, OAEP)
        # RSA_AES_KEY_WRAP_SHA_256: RSA-encrypted AES key, then the AES-KWP-wrapped material.
        aes_key = self.wrapping_key.decrypt(sent[:RSA_4096_CIPHERTEXT_BYTES], OAEP)
        return aes_key_unwrap_with_padding(aes_key, sent[RSA_4096_CIPHERTEXT_BYTES:])


@pytest.fixture
def kms(wrapping_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKms]:
    client = ClientSettings(region="eu-west-1").client("kms")
    fake = FakeKms(client=client, stubber=Stubber(client), wrapping_key=wrapping_key)

    def capture(params: dict[str, Any], **_: Any) -> None:
        fake.imported.update(params)

    client.meta.events.register("before-parameter-build.kms.ImportKeyMaterial", capture)
    monkeypatch.setattr(ClientSettings, "client", lambda self, service, **kw: client)
    with fake.stubber:
        yield fake
        fake.stubber.assert_no_pending_responses()


def private_der(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_library_imports_symmetric_material_with_oaep(kms: FakeKms) -> None:
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    material = generate_material("SYMMETRIC_DEFAULT")
    target = describe_target(kms.client, "alias/imported")
    result = import_material(kms.client, target, prepare_material(target.key_spec, material))
    assert len(material) == 32
    assert kms.unwrap() == material
    assert kms.imported["ImportToken"] == TOKEN
    assert kms.imported["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in kms.imported
    assert "ImportType" not in kms.imported
    assert (result.key_arn, result.wrapping_algorithm) == (KEY_ARN, "RSAES_OAEP_SHA_256")


def test_cli_imports_hmac_material_from_a_file(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    material = bytes(range(48))
    path = tmp_path / "hmac.bin"
    path.write_bytes(material)
    kms.describe("HMAC_384")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == EXIT_OK
    assert kms.unwrap() == material
    assert capsys.readouterr().out.strip() == (
        f"imported HMAC_384 key material into {KEY_ARN} "
        "(wrapping key RSA_4096, RSAES_OAEP_SHA_256; does not expire)"
    )


def test_cli_generates_an_rsa_private_key_wraps_it_with_aes_and_saves_a_copy(
    kms: FakeKms, tmp_path: Path
) -> None:
    saved = tmp_path / "material.der"
    kms.describe("RSA_2048")
    kms.parameters("RSA_AES_KEY_WRAP_SHA_256")
    kms.accepts_import()
    code = main(
        ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    )
    assert code == EXIT_OK
    arrived = kms.unwrap()
    assert arrived == saved.read_bytes()
    private_key = serialization.load_der_private_key(arrived, password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 2048
    assert saved.stat().st_mode & 0o777 == 0o600


def test_cli_imports_a_pem_ec_key_as_pkcs8_der(kms: FakeKms, tmp_path: Path) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "signer.pem"
    path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    kms.describe("ECC_NIST_P256")
    kms.parameters("RSA_AES_KEY_WRAP_SHA_256")
    kms.accepts_import()
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == EXIT_OK
    assert kms.unwrap() == private_der(private_key)


def test_cli_sets_the_expiry(kms: FakeKms, tmp_path: Path) -> None:
    path = tmp_path / "key.bin"
    path.write_bytes(b"k" * 32)
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    code = main(
        [
            "key",
            "import-material",
            "alias/imported",
            "--material",
            str(path),
            "--expires",
            expires.isoformat().replace("+00:00", "Z"),
        ]
    )
    assert code == EXIT_OK
    assert kms.imported["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert kms.imported["ValidTo"] == expires


def test_cli_sets_an_expiry_in_days_from_now(kms: FakeKms, tmp_path: Path) -> None:
    path = tmp_path / "key.bin"
    path.write_bytes(b"k" * 32)
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    before = datetime.now(UTC)
    code = main(
        ["key", "import-material", "alias/imported", "--material", str(path), "--expires", "365d"]
    )
    after = datetime.now(UTC)
    assert code == EXIT_OK
    assert kms.imported["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert before + timedelta(days=365) <= kms.imported["ValidTo"] <= after + timedelta(days=365)


def test_generated_material_is_not_written_anywhere_unless_asked(
    kms: FakeKms, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_OK
    assert list(tmp_path.iterdir()) == []
    assert len(kms.unwrap()) == 32


@pytest.mark.parametrize(
    ("key_spec", "generated_bytes"),
    [("HMAC_224", 28), ("HMAC_256", 32), ("HMAC_384", 48), ("HMAC_512", 64)],
)
def test_generated_hmac_material_has_the_digest_size(key_spec: str, generated_bytes: int) -> None:
    material = generate_material(key_spec)
    assert len(material) == generated_bytes
    assert prepare_material(key_spec, material) == material


def test_symmetric_material_is_128_bits_in_the_china_regions(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # API_CreateKey, KeySpec: SYMMETRIC_DEFAULT "creates a KMS key with a 256-bit AES-GCM key
    # [...] except in China Regions, where it creates a 128-bit symmetric key that uses SM4".
    kms.describe("SYMMETRIC_DEFAULT", arn=CHINA_KEY_ARN)
    kms.parameters("RSAES_OAEP_SHA_256", arn=CHINA_KEY_ARN)
    kms.accepts_import()
    saved = tmp_path / "sm4.bin"
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_OK
    assert len(kms.unwrap()) == 16
    assert kms.unwrap() == saved.read_bytes()
    capsys.readouterr()
    aes = tmp_path / "aes.bin"
    aes.write_bytes(bytes(32))
    kms.describe("SYMMETRIC_DEFAULT", arn=CHINA_KEY_ARN)
    assert main(["key", "import-material", "alias/imported", "--material", str(aes)]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: '--material' must hold exactly 16 bytes for a SYMMETRIC_DEFAULT key in "
        f"the China Regions (SM4). Received: '{aes}' (32 bytes)"
    )


def test_non_external_key_is_refused_before_any_import_call(
    kms: FakeKms, capsys: pytest.CaptureFixture[str]
) -> None:
    kms.describe("SYMMETRIC_DEFAULT", origin="AWS_KMS", state="Enabled")
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: 'KEY' must be a key created for imported material (origin EXTERNAL). "
        f"Received: {KEY_ARN} with origin AWS_KMS; create one with "
        'CustomerManagedKey(..., origin="EXTERNAL")'
    )


def test_key_pending_deletion_is_a_conflict(kms: FakeKms) -> None:
    kms.describe("SYMMETRIC_DEFAULT", state="PendingDeletion")
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_CONFLICT


def test_access_denied_on_the_import_parameters_exits_3(
    kms: FakeKms, capsys: pytest.CaptureFixture[str]
) -> None:
    kms.describe("SYMMETRIC_DEFAULT")
    kms.fails(
        "get_parameters_for_import",
        "AccessDeniedException",
        "User is not authorized to perform: kms:GetParametersForImport",
    )
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_ACCESS_DENIED
    err = capsys.readouterr().err
    assert f"could not get the wrapping key and import token for {KEY_ARN}" in err
    assert "AccessDeniedException" in err
    assert kms.imported == {}


def test_access_denied_on_describe_key_exits_3(kms: FakeKms) -> None:
    kms.fails("describe_key", "AccessDeniedException")
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_ACCESS_DENIED


@pytest.mark.parametrize(
    ("key_spec", "material", "message"),
    [
        (
            "SYMMETRIC_DEFAULT",
            b"x" * 16,
            "'--material' must hold exactly 32 bytes for a SYMMETRIC_DEFAULT key. "
            "Received: '{path}' (16 bytes)",
        ),
        (
            "HMAC_256",
            b"x" * 65,
            "'--material' must hold 32-64 bytes for a HMAC_256 key. Received: '{path}' (65 bytes)",
        ),
        (
            "RSA_3072",
            b"not a key",
            "'--material' must be an unencrypted private key (PKCS#8 DER, or PEM) for an "
            "asymmetric key. Received: '{path}' (9 bytes that are not one: ",
        ),
        (
            "ECC_NIST_P384",
            "p256",
            "'--material' must be an EC private key on secp384r1 for a ECC_NIST_P384 key. "
            "Received: '{path}' (an EC key on secp256r1)",
        ),
        (
            "ML_DSA_65",
            b"x" * 32,
            "'KEY' must be a key whose material kmskit can import: SYMMETRIC_DEFAULT, "
            "HMAC_224, HMAC_256, HMAC_384, HMAC_512, RSA_2048, RSA_3072, RSA_4096, "
            "ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1. Received: "
            f"alias/imported ({KEY_ARN}, key spec ML_DSA_65)",
        ),
    ],
)
def test_unfit_material_is_refused_before_any_import_call(
    kms: FakeKms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key_spec: str,
    material: bytes | str,
    message: str,
) -> None:
    if material == "p256":
        material = private_der(ec.generate_private_key(ec.SECP256R1()))
    path = tmp_path / "material"
    path.write_bytes(material if isinstance(material, bytes) else b"")
    kms.describe(key_spec)
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == (
        EXIT_USAGE
    )
    assert message.format(path=path) in capsys.readouterr().err


def test_generate_refuses_specs_it_cannot_make(kms: FakeKms) -> None:
    kms.describe("ECC_NIST_EDWARDS25519")
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_USAGE


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--generate", "--expires", "2099-01-01T00:00:00Z"],
            "'--expires' must be at most 365 days from now, KMS's limit for ValidTo (until ",
        ),
        (
            ["--generate", "--expires", "2020-01-01T00:00:00Z"],
            "'--expires' must be in the future (KMS deletes the material at that time). "
            "Received: 2020-01-01T00:00:00Z (now is ",
        ),
        (
            ["--generate", "--expires", "2027-01-01T00:00:00"],
            "'--expires' must carry a timezone, e.g. 2027-01-31T00:00:00Z. "
            "Received: 2027-01-01T00:00:00",
        ),
        (
            ["--generate", "--expires", "next tuesday"],
            "'--expires' must be a number of days from now such as 90d, or an ISO 8601 date "
            "and time such as 2027-01-31T00:00:00Z. Received: 'next tuesday'",
        ),
        (
            ["--generate", "--expires", "366d"],
            "'--expires' in days must be 1d to 365d (365 days is KMS's limit for ValidTo). "
            "Received: 366d",
        ),
        (
            ["--generate", "--expires", "0d"],
            "'--expires' in days must be 1d to 365d (365 days is KMS's limit for ValidTo). "
            "Received: 0d",
        ),
        (
            ["--generate", "--expires=-5d"],
            "'--expires' must be a number of days from now such as 90d",
        ),
        (
            ["--material", "m.bin", "--save-material", "copy.bin"],
            "'--save-material' only goes with --generate",
        ),
    ],
)
def test_bad_options_are_refused_before_any_aws_call(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    # No Stubber here: an AWS call would fail on the fake credentials instead of exiting 2.
    assert main(["key", "import-material", "alias/imported", *extra]) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_generated_material_that_expires_needs_a_saved_copy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    code = main(["key", "import-material", "alias/imported", "--generate", "--expires", expires])
    assert code == EXIT_USAGE
    assert "'--expires' with --generate needs --save-material FILE" in capsys.readouterr().err


def test_generated_material_that_expires_refuses_a_copy_on_stdout_before_any_aws_call(
    no_aws: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    # Expired material only comes back from a copy, and one sent down a pipe may be lost.
    args = ["key", "import-material", "alias/imported", "--generate", "--expires", "90d"]
    assert main([*args, "--save-material", "-"]) == EXIT_USAGE
    captured = capsysbinary.readouterr()
    assert captured.out == b""
    assert captured.err.decode().strip() == (
        "kmskit: error: '--expires' with --generate needs --save-material FILE, not standard "
        "output: expired material can only be re-imported from a copy, and a copy written to "
        "standard output cannot be confirmed kept (the material fits in a pipe's buffer, so "
        "the import would go on even if the reader exited without storing it). "
        "Received: --save-material - with --expires 90d"
    )
    assert no_aws == []


@pytest.mark.parametrize(
    ("state", "report_ends"),
    [
        # Further material waits in PENDING_ROTATION: the report says how to make it current.
        ("Enabled", f"; make it current with: kmskit key rotate {KEY_ARN}"),
        # A key that never had material makes its first material current at once: kmskit key
        # rotate would fail there, with no material pending rotation.
        (
            "PendingImport",
            "; the key never had material (PendingImport), so this material is current at once",
        ),
    ],
)
def test_new_material_is_imported_as_such(
    kms: FakeKms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    state: str,
    report_ends: str,
) -> None:
    path = tmp_path / "second.bin"
    path.write_bytes(b"n" * 32)
    kms.describe("SYMMETRIC_DEFAULT", state=state)
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    args = ["key", "import-material", "alias/imported", "--material", str(path), "--new-material"]
    assert main(args) == EXIT_OK
    assert kms.imported["ImportType"] == "NEW_KEY_MATERIAL"
    assert kms.unwrap() == b"n" * 32
    out = capsys.readouterr().out.rstrip()
    assert out.endswith(report_ends)
    assert out.count("kmskit key rotate") == (state == "Enabled")


@pytest.mark.parametrize("source", [["--generate"], ["--material", "new.bin"]])
def test_new_material_is_refused_for_a_key_whose_material_expired_or_was_deleted(
    kms: FakeKms,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: list[str],
) -> None:
    # Back in PendingImport, but DescribeKey still names the material: the key stays unusable
    # until that material comes back, and new material would only wait for a rotation.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "new.bin").write_bytes(b"n" * 32)
    kms.describe("SYMMETRIC_DEFAULT", material_id="a" * 64)
    saved = tmp_path / "saved.bin"
    args = ["key", "import-material", "alias/imported", *source, "--new-material"]
    assert main([*args, "--save-material", str(saved)] if "--generate" in source else args) == (
        EXIT_USAGE
    )
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: '--new-material' cannot be used for key {KEY_ARN} (state "
        f"PendingImport): its key material {'a' * 64} expired or was deleted, and the key stays "
        "unusable until that material is imported again (new material would only wait for a "
        "rotation). Re-import its material with --material FILE"
    )
    assert not saved.exists()  # nothing generated
    kms.stubber.assert_no_pending_responses()  # nothing asked of KMS after DescribeKey


def test_material_that_is_not_new_is_not_pointed_at_rotation(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "first.bin"
    path.write_bytes(b"f" * 32)
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == EXIT_OK
    assert "kmskit key rotate" not in capsys.readouterr().out


def test_save_material_never_overwrites_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "material.bin"
    existing.write_bytes(b"the only copy of another key")
    args = ["key", "import-material", "alias/imported", "--generate"]
    assert main([*args, "--save-material", str(existing)]) == EXIT_USAGE
    assert "'--save-material' must name a new file" in capsys.readouterr().err
    assert existing.read_bytes() == b"the only copy of another key"


def test_missing_material_file_exits_4_before_any_aws_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.bin"
    assert main(["key", "import-material", "alias/imported", "--material", str(missing)]) == (
        EXIT_NOT_FOUND
    )
    assert f"'--material' must be a readable file. Received: '{missing}'" in capsys.readouterr().err


def test_material_saved_to_stdout_keeps_the_report_on_stderr(
    kms: FakeKms, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    kms.describe("HMAC_256")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    args = ["key", "import-material", "alias/imported", "--generate", "--save-material", "-"]
    assert main(args) == EXIT_OK
    captured = capsysbinary.readouterr()
    assert captured.out == kms.unwrap()
    assert len(captured.out) == 32
    assert captured.err.startswith(b"imported HMAC_256 key material")


# -- multi-Region keys: KMS does not copy imported material to replicas -------------------------


def test_generate_is_refused_for_a_multi_region_replica(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kms.describe("SYMMETRIC_DEFAULT", multi_region="REPLICA")
    saved = tmp_path / "material.bin"
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: '--generate' cannot be used for multi-Region replica key {KEY_ARN}: KMS "
        "does not copy imported material between related multi-Region keys, and a replica must "
        "get the same material as its primary. Import the primary's material with "
        "--material FILE"
    )
    assert not saved.exists()  # refused before any material was made or import call


def test_generate_for_a_multi_region_primary_needs_a_saved_copy(
    kms: FakeKms, capsys: pytest.CaptureFixture[str]
) -> None:
    kms.describe("SYMMETRIC_DEFAULT", multi_region="PRIMARY")
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: '--generate' for multi-Region key {KEY_ARN} needs --save-material FILE: "
        "KMS does not copy imported material to replica keys, so the same material must be "
        "imported into each replica, and without a saved copy it could not be"
    )


def test_generate_for_a_multi_region_primary_refuses_a_copy_on_stdout(
    kms: FakeKms, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    # A pipe's reader may exit without keeping the 32 bytes (they fit in the pipe's buffer, so
    # the write succeeds): every replica needs this material, so only a FILE counts as a copy.
    kms.describe("SYMMETRIC_DEFAULT", multi_region="PRIMARY")
    args = ["key", "import-material", "alias/imported", "--generate", "--save-material", "-"]
    assert main(args) == EXIT_USAGE
    captured = capsysbinary.readouterr()
    assert captured.out == b""  # refused before anything was generated or written
    assert captured.err.decode().strip() == (
        f"kmskit: error: '--generate' for multi-Region key {KEY_ARN} needs --save-material "
        "FILE, not standard output: a copy written to standard output cannot be confirmed kept "
        "(the material fits in a pipe's buffer, so the import would go on even if the reader "
        "exited without storing it), and the same material must be imported into each "
        "replica. Received: --save-material -"
    )
    assert kms.imported == {}


def test_generate_for_a_multi_region_primary_with_a_saved_copy(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT", multi_region="PRIMARY")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_OK
    assert kms.unwrap() == saved.read_bytes()
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("; multi-Region key: import the same material into its primary and every replica")
    )


@pytest.mark.parametrize(
    ("key_spec", "import_type"),
    # API_ImportKeyMaterial: "The import type for the replica Region key should be
    # EXISTING_KEY_MATERIAL" (left out, it defaults to NEW_KEY_MATERIAL for a key that never had
    # material), and ImportType is "only usable with symmetric encryption keys".
    [("SYMMETRIC_DEFAULT", "EXISTING_KEY_MATERIAL"), ("HMAC_256", None)],
)
def test_a_replica_takes_its_primarys_material_from_a_file(
    kms: FakeKms, tmp_path: Path, key_spec: str, import_type: str | None
) -> None:
    material = bytes(range(32))
    path = tmp_path / "primary.bin"
    path.write_bytes(material)
    kms.describe(key_spec, multi_region="REPLICA")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == EXIT_OK
    assert kms.unwrap() == material
    assert kms.imported.get("ImportType") == import_type


# -- which keys take new material (APIReference/API_ImportKeyMaterial.html, ImportType) ---------


@pytest.mark.parametrize("key_spec", ["HMAC_256", "RSA_2048", "ECC_NIST_P256"])
def test_new_material_is_refused_for_keys_that_cannot_change_material(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str], key_spec: str
) -> None:
    path = tmp_path / "material"
    path.write_bytes(generate_material(key_spec))
    kms.describe(key_spec, state="Enabled")
    argv = ["key", "import-material", "alias/imported", "--material", str(path), "--new-material"]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: '--new-material' only goes with SYMMETRIC_DEFAULT keys: KMS cannot "
        "change the material of HMAC or asymmetric keys after the first import. Received: "
        f"{key_spec} key {KEY_ARN}"
    )
    assert kms.imported == {}


def test_new_material_is_refused_for_a_multi_region_replica(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "primary-second.bin"
    path.write_bytes(bytes(32))
    kms.describe("SYMMETRIC_DEFAULT", state="Enabled", multi_region="REPLICA")
    argv = ["key", "import-material", "alias/imported", "--material", str(path), "--new-material"]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: '--new-material' cannot be used for multi-Region replica key {KEY_ARN}: "
        "import new material into the primary with --new-material, then the same material into "
        "each replica without it"
    )
    assert kms.imported == {}


def test_library_refuses_new_material_for_an_hmac_key_before_any_call(kms: FakeKms) -> None:
    kms.describe("HMAC_384", state="Enabled")
    target = describe_target(kms.client, "alias/imported")
    with pytest.raises(UsageError, match="'--new-material' only goes with SYMMETRIC_DEFAULT"):
        import_material(kms.client, target, bytes(48), new_material=True)


HAS_MATERIAL = (
    ", which already has key material (state {state}): KMS accepts only the same material again. "
    "Re-import it with --material FILE, or add further material to a SYMMETRIC_DEFAULT key with "
    "--new-material"
)


@pytest.mark.parametrize(
    ("state", "material_id", "reason"),
    [
        ("Enabled", "a" * 64, HAS_MATERIAL),
        ("Disabled", "a" * 64, HAS_MATERIAL),
        # Back in PendingImport, but DescribeKey still names the material: the key takes back
        # only that material. Generated material was imported, refused by KMS, and the error
        # pointed at --new-material, which is refused too.
        (
            "PendingImport",
            "a" * 64,
            f" (state PendingImport): its key material {'a' * 64} expired or was deleted, and KMS "
            "takes only that same material again (generated material would never make the key "
            "usable). Re-import its material (the copy kept from its first import) with "
            "--material FILE",
        ),
    ],
)
def test_generate_is_refused_for_a_key_that_has_material(
    kms: FakeKms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    state: str,
    material_id: str,
    reason: str,
) -> None:
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT", state=state, material_id=material_id)
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: '--generate' cannot be used for key {KEY_ARN}" + reason.format(state=state)
    )
    assert not saved.exists()  # no useless copy left behind
    kms.stubber.assert_no_pending_responses()  # nothing asked of KMS after DescribeKey
    assert kms.imported == {}


def test_generate_new_material_for_a_symmetric_key_that_has_material(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "second.bin"
    kms.describe("SYMMETRIC_DEFAULT", state="Enabled", multi_region="PRIMARY")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    argv = ["key", "import-material", "alias/imported", "--generate", "--new-material"]
    assert main([*argv, "--save-material", str(saved)]) == EXIT_OK
    assert kms.imported["ImportType"] == "NEW_KEY_MATERIAL"
    assert kms.unwrap() == saved.read_bytes()
    assert (
        capsys.readouterr()
        .out.rstrip()
        .endswith(
            "; multi-Region key: import the same material into its primary and every replica; "
            f"make it current once every replica has it with: kmskit key rotate {KEY_ARN}"
        )
    )


def test_a_failed_import_after_saving_says_how_to_finish_with_the_saved_copy(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Re-running the same command is refused (the file exists): the message must say the file
    # holds material KMS never got, and how to import it, instead of generating a second one.
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT")
    kms.fails("get_parameters_for_import", "AccessDeniedException", "not authorized")
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_ACCESS_DENIED
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: could not get the wrapping key and import token for {KEY_ARN}: "
        f"AccessDeniedException: not authorized. The generated material was saved to '{saved}' "
        f"but not imported: once fixed, import it with --material {saved}"
    )
    assert len(saved.read_bytes()) == 32


def test_material_other_than_the_keys_own_is_a_conflict(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Re-importing into a key accepts only the material it had; anything else is the key's state
    # refusing the operation (exit 7), not a generic failure (exit 1).
    material = tmp_path / "material.bin"
    material.write_bytes(b"m" * 32)
    kms.describe("SYMMETRIC_DEFAULT", state="PendingImport")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails(
        "import_key_material",
        "IncorrectKeyMaterialException",
        "The key material in the request is not the same as before.",
    )
    argv = ["key", "import-material", "alias/imported", "--material", str(material)]
    assert main(argv) == EXIT_CONFLICT
    assert "IncorrectKeyMaterialException" in capsys.readouterr().err


def test_an_import_cut_off_by_the_network_after_saving_says_how_to_finish(
    kms: FakeKms,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A connection lost on ImportKeyMaterial (after botocore's retries) is a BotoCoreError, not
    # a ClientError: the saved file must be named all the same, as docs/keys.md says.
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://kms.eu-west-1.amazonaws.com/")

    monkeypatch.setattr(kms.client, "import_key_material", unreachable)
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_FAILURE
    assert capsys.readouterr().err.strip() == (
        'kmskit: error: Could not connect to the endpoint URL: "https://kms.eu-west-1.amazonaws.'
        f"com/\". The generated material was saved to '{saved}' but not imported: once fixed, "
        f"import it with --material {saved}"
    )
    assert len(saved.read_bytes()) == 32


@pytest.mark.parametrize("new_material", [[], ["--new-material"]])
def test_saved_material_whose_folder_cannot_be_flushed_is_not_imported(
    kms: FakeKms,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    new_material: list[str],
) -> None:
    # The file holds the material, but its name may not survive a crash: "could not write"
    # was untrue, and importing then could leave the key with material of which no copy is
    # left. The file is kept, nothing is imported, and the message says how to finish.
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT", state="Enabled" if new_material else "PendingImport")
    fail_directory_syncs(monkeypatch)
    argv = ["key", "import-material", "alias/imported", "--generate", *new_material]
    assert main([*argv, "--save-material", str(saved)]) == EXIT_FAILURE
    again = " --new-material" if new_material else ""
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: '{saved}' was written but its folder could not be flushed (Input/output "
        "error): the new name may not survive a crash. Nothing was imported: check the disk, "
        f"copy '{saved}' somewhere safe, then import it with --material {saved}{again}"
    )
    assert len(saved.read_bytes()) == 32
    kms.stubber.assert_no_pending_responses()  # DescribeKey only: no GetParametersForImport


# -- bad inputs found in review: refused early, with the argument and the value named -----------


def rsa_pem(key_size: int = 2048) -> bytes:
    """A fresh unencrypted RSA private key in PKCS#8 PEM."""
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize("source", ["file", "/dev/null"])
def test_empty_material_is_refused_before_any_aws_call(
    no_aws: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    # No key spec takes 0 bytes: a file written as empty (a failed `openssl ... > file`) is known
    # to be wrong before DescribeKey.
    path = tmp_path / "material.bin"
    path.write_bytes(b"")
    given = str(path) if source == "file" else source
    assert main(["key", "import-material", "alias/imported", "--material", given]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: '--material' must not be empty. Received: '{given}' (0 bytes)"
    )
    assert no_aws == []


@pytest.mark.parametrize(
    "prefix",
    [
        b"\xef\xbb\xbf",  # a UTF-8 byte order mark (a file saved by a Windows editor)
        # `openssl pkcs12 -in bundle.p12 -nodes -nocerts` writes attributes before the key
        b"Bag Attributes\n    localKeyID: 01 02 03\nKey Attributes: <No Attributes>\n",
    ],
)
def test_pem_material_with_text_before_the_key_is_read_as_pem(
    kms: FakeKms, tmp_path: Path, prefix: bytes
) -> None:
    pem = rsa_pem()
    path = tmp_path / "signer.pem"
    path.write_bytes(prefix + pem)
    kms.describe("RSA_2048")
    kms.parameters("RSA_AES_KEY_WRAP_SHA_256")
    kms.accepts_import()
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == EXIT_OK
    expected = serialization.load_pem_private_key(pem, password=None)
    assert kms.unwrap() == private_der(expected)  # type: ignore[arg-type]


def test_a_pem_file_with_two_private_keys_is_refused_before_any_aws_call(
    no_aws: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # cryptography would take the first key silently; asymmetric material can never be changed
    # after the import, so a file holding two keys (two files concatenated) is refused.
    path = tmp_path / "keys.pem"
    path.write_bytes(rsa_pem() + rsa_pem())
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == (
        EXIT_USAGE
    )
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: '--material' must hold one private key. Received: "
        f"'{path}' (2 PEM private keys)"
    )
    assert no_aws == []


def test_an_encrypted_pem_private_key_is_refused_before_any_aws_call(
    no_aws: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "locked.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == (
        EXIT_USAGE
    )
    err = capsys.readouterr().err
    assert "'--material' must be an unencrypted private key (PKCS#8 DER, or PEM)" in err
    assert "private key is encrypted" in err
    assert no_aws == []


def test_save_material_refuses_a_dangling_link_before_any_aws_call(
    no_aws: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A dangling link is something at that path (atomic_output refuses it too, but only after
    # DescribeKey): refused with the other existing files.
    link = tmp_path / "material.bin"
    link.symlink_to(tmp_path / "elsewhere.bin")
    args = ["key", "import-material", "alias/imported", "--generate"]
    assert main([*args, "--save-material", str(link)]) == EXIT_USAGE
    assert "'--save-material' must name a new file" in capsys.readouterr().err
    assert no_aws == []
    assert not (tmp_path / "elsewhere.bin").exists()


def test_expiry_without_a_timezone_is_reported_as_given(
    no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["key", "import-material", "alias/imported", "--generate", "--expires", "2027-01-31"]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: '--expires' must carry a timezone, e.g. 2027-01-31T00:00:00Z. "
        "Received: 2027-01-31"
    )


@pytest.mark.parametrize("state", ["PendingDeletion", "PendingReplicaDeletion"])
def test_key_pending_deletion_names_the_key_argument_and_its_state(
    kms: FakeKms, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    kms.describe("SYMMETRIC_DEFAULT", state=state)
    assert main(["key", "import-material", "alias/imported", "--generate"]) == EXIT_CONFLICT
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: 'KEY' must not be pending deletion. Received: alias/imported "
        f"({KEY_ARN}, state {state}): cancel the deletion first "
        f"(aws kms cancel-key-deletion --key-id {KEY_ARN})"
    )
    assert kms.imported == {}


@pytest.mark.parametrize("state", ["PendingImport", "Enabled"])
def test_a_key_spec_kmskit_cannot_import_into_is_refused_naming_the_key(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    # Refused as soon as DescribeKey answers, before advice that does not apply to it (an
    # Enabled key "already has key material: re-import it or use --new-material").
    saved = tmp_path / "material.bin"
    kms.describe("ML_DSA_65", state=state)
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: 'KEY' must be a key whose material kmskit can import: "
        "SYMMETRIC_DEFAULT, HMAC_224, HMAC_256, HMAC_384, HMAC_512, RSA_2048, RSA_3072, "
        "RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1. Received: "
        f"alias/imported ({KEY_ARN}, key spec ML_DSA_65)"
    )
    assert not saved.exists()
    assert kms.imported == {}


@pytest.mark.parametrize(
    ("key_spec", "content", "received"),
    [
        ("SYMMETRIC_DEFAULT", b"x" * 33, "(33 bytes)"),
        ("HMAC_512", b"x" * 63, "(63 bytes)"),
        ("RSA_4096", "rsa2048", "(an RSA 2048-bit key)"),
        ("ECC_NIST_P256", b"\x30\x03\x02\x01\x00", "(5 bytes that are not one: "),
    ],
)
def test_material_unfit_for_the_key_spec_names_the_file(
    kms: FakeKms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key_spec: str,
    content: bytes | str,
    received: str,
) -> None:
    # A script importing several files must learn which one was wrong, not only its size.
    path = tmp_path / "batch-07.bin"
    path.write_bytes(content if isinstance(content, bytes) else rsa_pem())
    kms.describe(key_spec)
    assert main(["key", "import-material", "alias/imported", "--material", str(path)]) == (
        EXIT_USAGE
    )
    assert f"Received: '{path}' {received}" in capsys.readouterr().err
    assert kms.imported == {}


def test_an_expired_import_token_is_a_conflict_and_the_material_stays_out_of_the_message(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    material = bytes(range(100, 132))
    path = tmp_path / "material.bin"
    path.write_bytes(material)
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails("import_key_material", "ExpiredImportTokenException", "The import token expired.")
    argv = ["key", "import-material", "alias/imported", "--material", str(path)]
    assert main(argv) == EXIT_CONFLICT
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"kmskit: error: could not import key material into {KEY_ARN}: "
        "ExpiredImportTokenException: The import token expired. The import token from "
        "GetParametersForImport (valid 24 hours) expired before KMS got the material. Run the "
        "command again (it fetches a fresh public key and import token)"
    )
    for shown in (material.hex(), repr(material)[2:-1]):
        assert shown not in captured.err + captured.out


# -- import refusals: what each means for an import, and what to do ------------------------------


def material_file(tmp_path: Path, content: bytes = b"m" * 32) -> Path:
    path = tmp_path / "material.bin"
    path.write_bytes(content)
    return path


def test_kms_failing_to_unwrap_the_material_is_a_failure_to_retry_not_integrity(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # From Decrypt, InvalidCiphertextException means tampered data (exit 5); from
    # ImportKeyMaterial it means KMS could not unwrap what kmskit wrapped moments before with
    # the parameters it had just fetched: nothing the operator's material did, so exit 1 and
    # say to run again (fresh parameters), then what else could be between kmskit and KMS.
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails("import_key_material", "InvalidCiphertextException", "")
    argv = ["key", "import-material", "alias/imported", "--material", str(material_file(tmp_path))]
    assert main(argv) == EXIT_FAILURE
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: could not import key material into {KEY_ARN}: "
        "InvalidCiphertextException. KMS could not unwrap the material, which kmskit had just "
        "wrapped (RSAES_OAEP_SHA_256) under the public key of the GetParametersForImport answer "
        "whose import token it sent: the material itself was not at fault. Run the command "
        "again (it fetches a fresh public key and import token). If it fails again, the import "
        "parameters and the import did not reach the same KMS: check AWS_ENDPOINT_URL and any "
        "proxy between kmskit and KMS"
    )


def test_kms_failing_to_unwrap_generated_material_names_the_saved_copy(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails("import_key_material", "InvalidCiphertextException", "")
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "Run the command again (it fetches a fresh public key and import token)" in err
    assert err.strip().endswith(
        f"The generated material was saved to '{saved}' but not imported: once fixed, "
        f"import it with --material {saved}"
    )
    assert saved.read_bytes() == kms.unwrap()


def test_an_import_token_kms_does_not_take_says_to_run_again(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kms.describe("HMAC_256")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails("import_key_material", "InvalidImportTokenException", "Invalid import token.")
    argv = ["key", "import-material", "alias/imported", "--material", str(material_file(tmp_path))]
    assert main(argv) == EXIT_FAILURE
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: could not import key material into {KEY_ARN}: "
        "InvalidImportTokenException: Invalid import token. KMS did not take the import token "
        f"of the GetParametersForImport call kmskit had just made for {KEY_ARN}. Run the "
        "command again (it fetches a fresh public key and import token)"
    )


@pytest.mark.parametrize(
    ("material_id", "advice"),
    [
        # No material ID reported: DescribeKey cannot tell an expired key from a new one, so
        # KMS's refusal must say what to import either way.
        (
            None,
            ". A key that has had material takes only that same material again, byte for byte "
            "(a multi-Region replica: its primary's): import the file it came from with "
            "--material FILE, or add different material to a SYMMETRIC_DEFAULT key with "
            "--new-material. A key that never had material refused it as unfit for a "
            "SYMMETRIC_DEFAULT key",
        ),
        # DescribeKey names the expired or deleted material: --new-material would be refused
        # (check_new_material), so the advice is the key's own material only.
        (
            "a" * 64,
            f": its key material {'a' * 64} expired or was deleted, and the key takes only that "
            "same material again, byte for byte (a multi-Region replica: its primary's): import "
            "the file it came from (the copy kept from its first import) with --material FILE",
        ),
    ],
)
def test_other_material_than_the_keys_own_names_the_key_and_the_same_material_rule(
    kms: FakeKms,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    material_id: str | None,
    advice: str,
) -> None:
    kms.describe("SYMMETRIC_DEFAULT", state="PendingImport", material_id=material_id)
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails(
        "import_key_material",
        "IncorrectKeyMaterialException",
        "The key material in the request is not the same as before.",
    )
    argv = ["key", "import-material", "alias/imported", "--material", str(material_file(tmp_path))]
    assert main(argv) == EXIT_CONFLICT
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: could not import key material into {KEY_ARN}: "
        "IncorrectKeyMaterialException: The key material in the request is not the same as "
        f"before. KMS refused this material for key {KEY_ARN} (SYMMETRIC_DEFAULT, state "
        f"PendingImport){advice}"
    )


@pytest.mark.parametrize(
    ("spec", "later"),
    [
        (
            "SYMMETRIC_DEFAULT",
            "KMS takes it for this key only as further material (--material FILE "
            "--new-material), never in place of the key's own",
        ),
        (
            "HMAC_256",
            "KMS will never take it for this HMAC_256 key, whose material cannot change after "
            "the first import",
        ),
    ],
)
def test_generated_material_refused_as_not_the_keys_own_is_not_offered_for_import(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, later: str
) -> None:
    # PendingImport after its material expired or was deleted: the key takes back only that
    # material, so "import it with --material <the generated file>" would fail the same way.
    saved = tmp_path / "material.bin"
    kms.describe(spec, state="PendingImport")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails(
        "import_key_material",
        "IncorrectKeyMaterialException",
        "The key material in the request is not the same as before.",
    )
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_CONFLICT
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        f"The generated material saved to '{saved}' is not this key's material and was not "
        f"imported: {later}. To make the key usable again, import the material it had (the "
        "copy kept from its first import) with --material FILE"
    )
    assert f"import it with --material {saved}" not in err
    assert saved.read_bytes() == kms.unwrap()  # kept all the same: never lose material


def test_generated_new_material_refused_is_offered_for_import_as_new_material(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An Enabled key adding further material: the generated copy is new to the key, so the
    # advice is to import it as new material once fixed, not to "import the material it had".
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT", state="Enabled")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails("import_key_material", "IncorrectKeyMaterialException", "Already associated.")
    argv = ["key", "import-material", "alias/imported", "--generate", "--new-material"]
    assert main([*argv, "--save-material", str(saved)]) == EXIT_CONFLICT
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        f"The generated material was saved to '{saved}' but not imported: once fixed, import "
        f"it with --material {saved} --new-material"
    )
    assert "the material it had" not in err
    assert saved.read_bytes() == kms.unwrap()


def test_new_material_the_key_already_has_says_to_leave_out_new_material(
    kms: FakeKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kms.describe("SYMMETRIC_DEFAULT", state="Enabled")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.fails("import_key_material", "IncorrectKeyMaterialException", "Already associated.")
    argv = ["key", "import-material", "alias/imported", "--material", str(material_file(tmp_path))]
    assert main([*argv, "--new-material"]) == EXIT_CONFLICT
    assert capsys.readouterr().err.strip() == (
        f"kmskit: error: could not import key material into {KEY_ARN}: "
        "IncorrectKeyMaterialException: Already associated. '--new-material' was given, and "
        f"KMS found this material already associated with key {KEY_ARN} (or unfit for a "
        "SYMMETRIC_DEFAULT key): to re-import material the key already has, leave out "
        "--new-material"
    )


# -- --expires: both ends exact, refused when parsed, naming the option and the value -----------

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "valid_to",
    [NOW + timedelta(microseconds=1), NOW + timedelta(days=365)],
    ids=["just after now", "exactly 365 days"],
)
def test_expiry_boundaries_that_are_accepted(valid_to: datetime) -> None:
    assert check_valid_to(valid_to, now=NOW) == valid_to


@pytest.mark.parametrize(
    ("valid_to", "message"),
    [
        (
            NOW,
            "'--expires' must be in the future (KMS deletes the material at that time). "
            "Received: 2026-03-01T12:00:00+00:00 (now is 2026-03-01T12:00:00Z)",
        ),
        (
            NOW + timedelta(days=365, microseconds=1),
            "'--expires' must be at most 365 days from now, KMS's limit for ValidTo (until "
            "2027-03-01T12:00:00Z). Received: 2027-03-01T12:00:00.000001+00:00 "
            "(365 days, 0:00:01 from now)",
        ),
        (
            NOW.replace(tzinfo=None) + timedelta(days=1),
            "'--expires' must carry a timezone, e.g. 2027-01-31T00:00:00Z. "
            "Received: 2026-03-02T12:00:00",
        ),
    ],
    ids=["now", "365 days and a microsecond", "no timezone"],
)
def test_expiry_boundaries_that_are_refused(valid_to: datetime, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        check_valid_to(valid_to, now=NOW)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1d", NOW + timedelta(days=1)),
        ("365d", NOW + timedelta(days=365)),
        ("0365d", NOW + timedelta(days=365)),
        ("2026-09-01T00:00:00+05:30", datetime(2026, 8, 31, 18, 30, tzinfo=UTC)),
    ],
)
def test_expiry_forms_that_are_accepted(given: str, expected: datetime) -> None:
    assert check_valid_to(parse_expiry(given, now=NOW), now=NOW, given=given) == expected


@pytest.mark.parametrize("given", ["0d", "366d", "10000d", "9" * 5000 + "d"])
def test_days_out_of_range_are_refused_naming_the_value(given: str) -> None:
    # 10000d used to be "not a number of days"; thousands of digits a ValueError from int().
    with pytest.raises(UsageError) as raised:
        parse_expiry(given, now=NOW)
    assert str(raised.value) == (
        "'--expires' in days must be 1d to 365d (365 days is KMS's limit for ValidTo). "
        f"Received: {given}"
    )


def test_an_expiry_that_passes_while_the_command_runs_is_refused_before_the_import(
    kms: FakeKms,
) -> None:
    # Accepted when parsed, then DescribeKey and GetParametersForImport took longer: KMS would
    # answer with a ValidationException (exit 1); refuse it naming --expires before sending.
    kms.describe("SYMMETRIC_DEFAULT")
    target = describe_target(kms.client, "alias/imported")
    kms.parameters("RSAES_OAEP_SHA_256")
    past = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(UsageError, match=r"^'--expires' must be in the future"):
        import_material(kms.client, target, b"k" * 32, valid_to=past)
    assert kms.imported == {}


# -- --save-material: never on a terminal, never over a file, 0600, complete or absent ----------


def test_material_to_stdout_is_refused_on_a_terminal_before_any_aws_call(
    no_aws: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    args = ["key", "import-material", "alias/imported", "--generate", "--save-material", "-"]
    assert main(args) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: '--save-material -' would print the plaintext key material on the "
        "terminal: redirect standard output to a file only you may read or a program, or "
        "give a FILE. Received: - (standard output is a terminal)"
    )
    terminal.flush()
    assert terminal.written.getvalue() == b""
    assert no_aws == []


def test_material_to_stdout_is_refused_in_a_file_others_may_read(
    no_aws: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # Before: `... --save-material - > material.bin` under umask 022 wrote the plaintext
    # material into a file with mode 0644.
    shared = tmp_path / "material.bin"
    shared.touch(mode=0o644)
    shared.chmod(0o644)
    with shared.open("w") as redirected:
        monkeypatch.setattr(sys, "stdout", redirected)
        args = ["key", "import-material", "alias/imported", "--generate", "--save-material", "-"]
        assert main(args) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: '--save-material -' would put the plaintext key material in a file "
        "whose mode gives group or others access to it: give a FILE (written with mode 0600) "
        "or send standard output to a program, or make the file private first (chmod 600 "
        "FILE, or umask 077 before redirecting). Received: - (standard output is a file with "
        "mode 0644, -rw-r--r--)"
    )
    assert shared.read_bytes() == b""
    assert no_aws == []


def test_a_failed_import_after_writing_material_to_stdout_says_so(
    kms: FakeKms, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    kms.describe("SYMMETRIC_DEFAULT")
    kms.fails("get_parameters_for_import", "AccessDeniedException", "not authorized")
    args = ["key", "import-material", "alias/imported", "--generate", "--save-material", "-"]
    assert main(args) == EXIT_ACCESS_DENIED
    captured = capsysbinary.readouterr()
    assert len(captured.out) == 32
    assert (
        captured.err.decode()
        .strip()
        .endswith(
            "not authorized. The generated material was written to standard output but not "
            "imported: once fixed, import that copy with --material FILE"
        )
    )


def test_an_existing_save_material_file_is_refused_saying_there_is_no_force(
    no_aws: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "material.bin"
    existing.write_bytes(b"the only copy of another key")
    args = ["key", "import-material", "alias/imported", "--generate"]
    assert main([*args, "--save-material", str(existing)]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "kmskit: error: '--save-material' must name a new file: an existing one may hold the "
        "only copy of other key material, so it is never replaced (there is no --force here; "
        f"move it away or choose another name). Received: {existing}"
    )
    assert existing.read_bytes() == b"the only copy of another key"
    assert no_aws == []


def test_saved_material_is_0600_whatever_the_umask(kms: FakeKms, tmp_path: Path) -> None:
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT")
    kms.parameters("RSAES_OAEP_SHA_256")
    kms.accepts_import()
    previous = os.umask(0)
    try:
        argv = ["key", "import-material", "alias/imported", "--generate"]
        assert main([*argv, "--save-material", str(saved)]) == EXIT_OK
    finally:
        os.umask(previous)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert saved.read_bytes() == kms.unwrap()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["material.bin"]


def test_material_that_cannot_be_saved_whole_leaves_no_file_and_is_not_imported(
    kms: FakeKms,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Written to a temporary file and put in place only once complete: a full disk leaves
    # neither a partial copy (which would look like the material) nor a temporary file.
    saved = tmp_path / "material.bin"
    kms.describe("SYMMETRIC_DEFAULT")

    def disk_full(_: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    argv = ["key", "import-material", "alias/imported", "--generate", "--save-material", str(saved)]
    assert main(argv) == EXIT_FAILURE
    assert f"could not write '{saved}': No space left on device" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert kms.imported == {}
