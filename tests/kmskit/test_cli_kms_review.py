"""Review of the direct KMS commands (sign / verify, pubkey, encrypt-small, datakey) with bad and
edge inputs: what the user sees (exit code, one error line naming the option and value, output
written whole or not at all).

Offline cases use locally made keys and ``--public-key`` (no AWS at all); KMS errors moto does
not model (GetPublicKey of a symmetric key) come from a botocore Stubber, which checks every
request against the real KMS API model."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from moto import mock_aws

from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.envelope_asymmetric import PublicKey, public_encrypt
from kmskit.errors import EXIT_CONFLICT, EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE, UsageError
from tests.kmskit.envelope_support import REGION, FakeTerminal, one_error_line

KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = ["--context", "purpose=test"]


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def public_pem(rsa_private: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    path = tmp_path / "public.pem"
    path.write_bytes(
        rsa_private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture
def stubbed_kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Every KMS client kmskit makes is this one client, answered by a Stubber."""
    client = boto3.client(
        "kms",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stub = Stubber(client)

    def stubbed(self: ClientSettings, service: str, **_: Any) -> Any:
        assert service == "kms"
        return client

    monkeypatch.setattr(ClientSettings, "client", stubbed)
    with stub:
        yield stub
    stub.assert_no_pending_responses()


# -- datakey: a plaintext data key never goes to a terminal -----------------------------------


PLAINTEXT_KEY_TO_STDOUT = [
    ["datakey", "new", "--key", KEY_ARN, *CONTEXT],  # OUTPUT defaults to stdout
    ["datakey", "new", "--key", KEY_ARN, *CONTEXT, "-"],
    ["datakey", "decrypt", "IN.json"],  # (IN.json: see in_document)
]


@pytest.fixture
def in_document(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``IN.json``, a datakey document, in ``tmp_path``, the working directory."""
    monkeypatch.chdir(tmp_path)
    document = tmp_path / "IN.json"
    document.write_text('{"CiphertextBlob": "AAAA"}')
    return document


@pytest.mark.parametrize("argv", PLAINTEXT_KEY_TO_STDOUT)
@pytest.mark.usefixtures("in_document")
def test_a_plaintext_data_key_is_not_printed_on_a_terminal(
    argv: list[str],
    no_aws: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: 'OUTPUT' would show the plaintext data key on the terminal: give a file "
        "(written with mode 0600), redirect standard output to a file only you may read or "
        "pipe it into the program that uses the key (or use --for-later). Received: - "
        "(standard output is a terminal)"
    )
    terminal.flush()
    assert terminal.written.getvalue() == b""
    assert no_aws == []


def test_a_terminal_device_given_as_output_is_refused_too(
    no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    leader, follower = os.openpty()  # Linux, as CI: a pseudo-terminal is always available
    try:
        device = os.ttyname(follower)
        assert main(["datakey", "new", "--key", KEY_ARN, *CONTEXT, device]) == EXIT_USAGE
        line = one_error_line(capsys)
        assert line.startswith("kmskit: error: 'OUTPUT' would show the plaintext data key")
        assert line.endswith(f"Received: {device} (a terminal)")
    finally:
        os.close(leader)
        os.close(follower)
    assert no_aws == []


@pytest.mark.parametrize("argv", PLAINTEXT_KEY_TO_STDOUT)
def test_a_plaintext_data_key_is_not_written_to_a_file_others_may_read(
    argv: list[str],
    no_aws: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    in_document: Path,
) -> None:
    # Before: `kmskit datakey new ... > key.json` under umask 022 wrote the plaintext key
    # into a file with mode 0644 (the shell makes it before kmskit runs).
    shared = in_document.parent / "key.json"
    shared.touch()
    shared.chmod(0o640)
    with shared.open("w") as redirected:
        monkeypatch.setattr(sys, "stdout", redirected)
        assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: 'OUTPUT' would put the plaintext data key in a file whose mode gives "
        "group or others access to it: give a file (written with mode 0600), pipe it into the "
        "program that uses the key (or use --for-later), or make the file private first "
        "(chmod 600 FILE, or umask 077 before redirecting). Received: - (standard output is a "
        "file with mode 0640, -rw-r-----)"
    )
    assert shared.read_bytes() == b""
    assert no_aws == []


def test_a_plaintext_data_key_goes_to_a_private_file_and_not_through_dev_fd_to_a_shared_one(
    stubbed_kms: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    private, shared = tmp_path / "private.json", tmp_path / "shared.json"
    for path, mode in ((private, 0o600), (shared, 0o604)):
        path.touch()
        path.chmod(mode)
    descriptor = os.open(shared, os.O_WRONLY)
    try:
        argv = ["datakey", "new", "-q", "--key", KEY_ARN, *CONTEXT, f"/dev/fd/{descriptor}"]
        assert main(argv) == EXIT_USAGE
        assert "(it is a file with mode 0604, -rw----r--)" in one_error_line(capsys)
    finally:
        os.close(descriptor)
    stubbed_kms.add_response(
        "generate_data_key",
        {"KeyId": KEY_ARN, "CiphertextBlob": b"encrypted-copy", "Plaintext": bytes(32)},
        {"KeyId": KEY_ARN, "KeySpec": "AES_256", "EncryptionContext": {"purpose": "test"}},
    )
    with private.open("w") as redirected:
        monkeypatch.setattr(sys, "stdout", redirected)
        assert main(["datakey", "new", "-q", "--key", KEY_ARN, *CONTEXT]) == EXIT_OK
    assert '"Plaintext": "' in private.read_text()
    assert shared.read_bytes() == b""


def test_the_encrypted_copy_alone_may_go_to_a_terminal(
    stubbed_kms: Stubber, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed_kms.add_response(
        "generate_data_key_without_plaintext",
        {"KeyId": KEY_ARN, "CiphertextBlob": b"encrypted-copy"},
        {"KeyId": KEY_ARN, "KeySpec": "AES_256", "EncryptionContext": {"purpose": "test"}},
    )
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["datakey", "new", "-q", "--for-later", "--key", KEY_ARN, *CONTEXT]) == EXIT_OK
    terminal.flush()
    assert b'"CiphertextBlob": "ZW5jcnlwdGVkLWNvcHk="' in terminal.written.getvalue()
    assert b"Plaintext" not in terminal.written.getvalue()
    assert capsys.readouterr().err == ""


# -- datakey decrypt: the document's KeyId is the key KMS is asked for ------------------------

OTHER_ARN = "arn:aws:kms:eu-west-1:444455556666:key/0987dcba-09fe-87dc-65ba-0987654321ba"
MRK_ID = "mrk-1234abcd12ab34cd56ef1234567890ab"


def _datakey_document(path: Path, key_id: Any, blob: bytes) -> None:
    path.write_text(
        json.dumps(
            {
                "KeyId": key_id,
                "CiphertextBlob": base64.b64encode(blob).decode(),
                "EncryptionContext": {"purpose": "test"},
            }
        )
    )


def test_a_blob_swapped_into_a_datakey_document_is_refused_by_kms(
    stubbed_kms: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: Decrypt was sent without KeyId, so a CiphertextBlob under anyone's key (one
    # whose key policy lets you decrypt) gave a data key they hold, exit 0, no warning.
    document, out = tmp_path / "k.json", tmp_path / "k.plain.json"
    _datakey_document(document, KEY_ARN, b"blob under another key")
    stubbed_kms.add_client_error(
        "decrypt",
        service_error_code="IncorrectKeyException",
        service_message="The key ID in the request does not identify a CMK that can perform "
        "this operation.",
        http_status_code=400,
        expected_params={
            "CiphertextBlob": b"blob under another key",
            "EncryptionContext": {"purpose": "test"},
            "KeyId": KEY_ARN,
        },
    )
    assert main(["datakey", "decrypt", "-q", str(document), str(out)]) == EXIT_CONFLICT
    assert "IncorrectKeyException" in one_error_line(capsys)
    assert not out.exists()


def test_datakey_decrypt_without_key_warns_that_the_document_chose_it(
    stubbed_kms: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "k.json"
    _datakey_document(document, KEY_ARN, b"blob")
    params = {"CiphertextBlob": b"blob", "EncryptionContext": {"purpose": "test"}}
    reply = {"KeyId": KEY_ARN, "Plaintext": bytes(32)}
    stubbed_kms.add_response("decrypt", reply, {**params, "KeyId": KEY_ARN})
    assert main(["datakey", "decrypt", "-q", str(document), str(tmp_path / "a.json")]) == EXIT_OK
    assert capsys.readouterr().err == (
        f"kmskit: warning: no --key: the document chose its KMS key ({KEY_ARN}), and any key "
        "you may use is accepted, also one of another account whose key policy lets you "
        "decrypt, so anyone who may write the input could have written it. Name the key "
        "(--key)\n"
    )
    # --key overrides the document's KeyId (KMS checks the blob against it), no warning.
    stubbed_kms.add_response("decrypt", reply, {**params, "KeyId": "alias/app"})
    argv = ["datakey", "decrypt", "-q", "--key", "alias/app", str(document), str(tmp_path / "b")]
    assert main(argv) == EXIT_OK
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("region", [["--region", REGION], []], ids=["region", "profiles-region"])
def test_datakey_decrypt_names_a_multi_region_key_by_its_key_in_the_region_called(
    region: list[str], stubbed_kms: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Made under the primary in us-east-1, decrypted in eu-west-1 (REGION) with its replica:
    # the us-east-1 ARN would be refused there. Without --region, the profile's Region
    # (AWS_DEFAULT_REGION: REGION) is the one called, as in a recovery after the primary's
    # Region failed: not the primary's Region.
    primary = f"arn:aws:kms:us-east-1:111122223333:key/{MRK_ID}"
    replica = f"arn:aws:kms:{REGION}:111122223333:key/{MRK_ID}"
    document = tmp_path / "k.json"
    _datakey_document(document, primary, b"blob")
    stubbed_kms.add_response(
        "decrypt",
        {"KeyId": replica, "Plaintext": bytes(32)},
        {"CiphertextBlob": b"blob", "EncryptionContext": {"purpose": "test"}, "KeyId": replica},
    )
    argv = ["datakey", "decrypt", "-q", *region, str(document), str(tmp_path / "o")]
    assert main(argv) == EXIT_OK
    assert json.loads((tmp_path / "o").read_text())["KeyId"] == replica


def test_datakey_decrypt_calls_kms_in_the_region_of_the_documents_key_arn(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: without --key the clients were made in --region or the profile's Region only:
    # with none configured, exit 2 "You must specify a region"; with another, exit 4 NotFound.
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    document, out = tmp_path / "k.json", tmp_path / "k.plain.json"
    with mock_aws():
        arn = boto3.client("kms", region_name="eu-central-1").create_key()["KeyMetadata"]["Arn"]
        new = ["datakey", "new", "-q", "--for-later", "--key", arn, *CONTEXT, str(document)]
        assert main(new) == EXIT_OK
        assert main(["datakey", "decrypt", "-q", str(document), str(out)]) == EXIT_OK
    assert json.loads(out.read_text())["KeyId"] == arn
    capsys.readouterr()
    # A --region that contradicts the KeyId's ARN is refused as it is for --key's.
    argv = ["datakey", "decrypt", "--region", "us-east-1", str(document), str(tmp_path / "o")]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '--region' must be the Region of 'KeyId of {document}' (eu-central-1), "
        "or be left out: KMS is called in the key's Region. Received: --region 'us-east-1' and "
        f"KeyId of {document} {arn!r}"
    )


def test_a_multi_region_key_arn_in_another_region_than_region_names_its_replica(
    no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # --key names one key: the command does not act on another (its replica) unasked, as a
    # datakey document's KeyId (any related key decrypts) is; the refusal names the replica.
    primary = f"arn:aws:kms:us-east-1:111122223333:key/{MRK_ID}"
    assert main(["key", "rotate", "--region", "eu-west-1", primary]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--region' must be the Region of 'KEY' (us-east-1), or be left out: "
        "KMS is called in the key's Region: name the replica there if it has one: "
        f"arn:aws:kms:eu-west-1:111122223333:key/{MRK_ID}. Received: --region 'eu-west-1' and "
        f"KEY {primary!r}"
    )
    assert no_aws == []


@pytest.mark.parametrize(
    ("argv", "argument", "region"),
    [
        (["datakey", "new", "--key", "arn:aws:kms:1:111122223333:key/k", *CONTEXT], "--key", "1"),
        (["key", "rotate", "arn:aws:kms:eu-west:111122223333:alias/app"], "KEY", "eu-west"),
    ],
)
def test_the_region_of_a_key_arn_must_be_a_region_name(
    argv: list[str],
    argument: str,
    region: str,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: the clients were made in that Region, and botocore failed on the call (exit 1).
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{argument}' must be an AWS Region name. Received: {region!r}"
    )
    assert no_aws == []


def test_the_help_of_key_says_only_ids_and_alias_names_are_looked_up_in_region(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: "key ID, key ARN, alias name or alias ARN (in --region)".
    with pytest.raises(SystemExit):
        main(["key", "rotate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "key ARN or alias ARN (KMS is called in its Region), or key ID or alias name (in --region)"
        in text
    )


@pytest.mark.parametrize("key_id", ["app", "arn:aws:kms:eu-west-1:1:key/k", 7, "", "alias/\udce9"])
def test_a_datakey_document_whose_key_id_is_no_key_reference_is_refused(
    key_id: Any, no_aws: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "k.json"
    document.write_text(json.dumps({"KeyId": key_id, "CiphertextBlob": "eA=="}))
    assert main(["datakey", "decrypt", str(document), str(tmp_path / "o")]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{document}' is not a JSON document from `kmskit datakey new` with a "
        "base64 CiphertextBlob: its KeyId must be a key ARN, a key ID, an alias name "
        f"(alias/...) or an alias ARN. Received: {key_id!r}"
    )
    assert no_aws == []


@pytest.mark.parametrize(
    "key_id",
    [
        "arn:aws:kms:eu-west-1:111122223333:alias/app",
        "alias/app",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        MRK_ID,
    ],
    ids=["alias-arn", "alias-name", "key-id", "multi-region-key-id"],
)
def test_a_datakey_document_may_name_its_key_as_decrypt_takes_it_and_it_is_sent_as_is(
    key_id: str, stubbed_kms: Stubber, tmp_path: Path
) -> None:
    # Before: refused (exit 2) unless a key ARN, though such documents decrypted before the
    # KeyId was sent. Only a multi-Region key ARN is mapped to the Region called.
    _decrypted(stubbed_kms, tmp_path, key_id, key_id, "--region", "eu-west-1")


@pytest.mark.parametrize("key_id", ["made-by-another-tool", 7])
def test_datakey_decrypt_key_replaces_a_key_id_it_would_not_send(
    key_id: Any, stubbed_kms: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the KeyId was refused before --key was looked at, so the documented override
    # could not be reached for a document whose KeyId is no key reference.
    _decrypted(stubbed_kms, tmp_path, key_id, KEY_ARN, "--key", KEY_ARN)
    assert capsys.readouterr().err == ""


def _decrypted(stub: Stubber, tmp_path: Path, key_id: Any, sent: str, *options: str) -> None:
    """``datakey decrypt *options`` of a document whose KeyId is ``key_id`` succeeds, KMS's
    Decrypt having been asked for the key ``sent``."""
    document, out = tmp_path / "k.json", tmp_path / "k.plain.json"
    _datakey_document(document, key_id, b"blob")
    stub.add_response(
        "decrypt",
        {"KeyId": KEY_ARN, "Plaintext": bytes(32)},
        {"CiphertextBlob": b"blob", "EncryptionContext": {"purpose": "test"}, "KeyId": sent},
    )
    assert main(["datakey", "decrypt", "-q", *options, str(document), str(out)]) == EXIT_OK
    assert json.loads(out.read_text())["KeyId"] == KEY_ARN


# -- pubkey --------------------------------------------------------------------------------------


def test_pubkey_encrypt_refuses_an_empty_input(
    public_pem: Path, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    output = tmp_path / "out.rsa"
    argv = ["pubkey", "encrypt", "--public-key", str(public_pem), str(empty), str(output)]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: 'INPUT' is empty; RSAES_OAEP_SHA_256 with a RSA_2048 key needs 1-190 "
        f"bytes. Received: '{empty}' (0 bytes)"
    )
    assert not output.exists()
    assert no_aws == []


def test_public_encrypt_refuses_empty_plaintext(rsa_private: rsa.RSAPrivateKey) -> None:
    der = rsa_private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = PublicKey(key_spec="RSA_2048", der=der)
    with pytest.raises(UsageError, match=r"^'plaintext' is empty; .* needs 1-190 bytes"):
        public_encrypt(public, b"")


def test_pubkey_encrypt_names_the_limit_of_the_key_before_writing_anything(
    public_pem: Path, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "secret"
    data.write_bytes(b"x" * 191)
    output = tmp_path / "out.rsa"
    argv = ["pubkey", "encrypt", "--public-key", str(public_pem), str(data), str(output)]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: RSAES_OAEP_SHA_256 with a RSA_2048 key takes at most 190 bytes; "
        f"'{data}' holds 191 bytes. Use envelope encryption for larger data: `kmskit encrypt` "
        "with a symmetric key."
    )
    assert not output.exists()


def test_pubkey_export_of_a_symmetric_key_is_a_conflict_and_writes_nothing(
    stubbed_kms: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed_kms.add_client_error(
        "get_public_key",
        "UnsupportedOperationException",
        f"{KEY_ARN} key usage is ENCRYPT_DECRYPT and key spec is SYMMETRIC_DEFAULT",
        400,
        expected_params={"KeyId": KEY_ARN},
    )
    output = tmp_path / "key.pem"
    assert main(["pubkey", "export", "--key", KEY_ARN, str(output)]) == EXIT_CONFLICT
    assert one_error_line(capsys) == (
        f"kmskit: error: could not get the public key of {KEY_ARN}: "
        f"UnsupportedOperationException: {KEY_ARN} key usage is ENCRYPT_DECRYPT and key spec "
        "is SYMMETRIC_DEFAULT"
    )
    assert not output.exists()


# -- verify: a mismatch is exit 5 and says what else it may be ----------------------------------


def _pss_signature(private: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """RSASSA_PSS_SHA_256 as KMS makes it (salt as long as the digest)."""
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    return private.sign(data, pss, hashes.SHA256())


def test_a_base64_signature_is_a_mismatch_that_says_so(
    rsa_private: rsa.RSAPrivateKey,
    public_pem: Path,
    tmp_path: Path,
    no_aws: list[str],
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    data = tmp_path / "release.tar"
    data.write_bytes(b"release" * 1000)  # over 4096 bytes: KMS would be sent its digest
    signature = tmp_path / "release.sig"
    # What `aws kms sign ... --query Signature --output text` prints.
    signature.write_bytes(base64.b64encode(_pss_signature(rsa_private, data.read_bytes())) + b"\n")
    argv = ["verify", "--public-key", str(public_pem), "--signature", str(signature), str(data)]
    assert main(argv) == EXIT_INTEGRITY
    captured = capsysbinary.readouterr()
    assert captured.out == b""
    assert captured.err.decode().splitlines() == [
        "kmskit: error: the signature does not match the data (RSASSA_PSS_SHA_256, key "
        "RSA_2048): the data or the signature was changed, or another key signed it; "
        "'--signature' holds base64 text, and verify reads the raw signature bytes that "
        "`kmskit sign` writes: decode it first (base64 -d); RSASSA_PSS_SHA_256 is the default "
        "for RSA keys: a signature made with another algorithm verifies only with that "
        "--algorithm"
    ]
    signature.write_bytes(base64.b64decode(signature.read_bytes()))
    assert main(argv) == EXIT_OK


def test_a_pkcs1_signature_checked_with_the_default_algorithm_points_to_algorithm(
    rsa_private: rsa.RSAPrivateKey,
    public_pem: Path,
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"payload")
    signature = tmp_path / "data.sig"
    signature.write_bytes(rsa_private.sign(b"payload", padding.PKCS1v15(), hashes.SHA256()))
    argv = ["verify", "--public-key", str(public_pem), "--signature", str(signature), str(data)]
    assert main(argv) == EXIT_INTEGRITY
    line = one_error_line(capsys)
    assert "holds base64 text" not in line
    assert line.endswith(
        "; RSASSA_PSS_SHA_256 is the default for RSA keys: a signature made with another "
        "algorithm verifies only with that --algorithm"
    )
    assert main([*argv, "--algorithm", "RSASSA_PKCS1_V1_5_SHA_256"]) == EXIT_OK
    capsys.readouterr()
    # With the algorithm given, a mismatch carries no hint about it.
    signature.write_bytes(bytes(256))
    assert main([*argv, "--algorithm", "RSASSA_PKCS1_V1_5_SHA_256"]) == EXIT_INTEGRITY
    assert one_error_line(capsys).endswith("or another key signed it")


def test_an_algorithm_of_the_other_family_is_refused_naming_the_option(
    public_pem: Path, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"payload")
    signature = tmp_path / "data.sig"
    signature.write_bytes(bytes(256))
    argv = ["verify", "--public-key", str(public_pem), "--signature", str(signature)]
    assert main([*argv, "--algorithm", "ECDSA_SHA_256", str(data)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--algorithm' does not fit a RSA_2048 key: ECDSA_SHA_256 needs an ECDSA "
        "(ECC_NIST_P256/P384/P521 or ECC_SECG_P256K1) key. Received: ECDSA_SHA_256"
    )
