"""Data keys (now / later) and small data (KMS Encrypt up to 4,096 bytes) against moto."""

from __future__ import annotations

import array
import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmskit.cli import main
from kmskit.envelope_kms import (
    SMALL_DATA_LIMIT,
    DataKey,
    decrypt_data_key,
    decrypt_small,
    encrypt_small,
    new_data_key,
    new_data_key_for_later,
)
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_USAGE,
    AccessDeniedError,
    ConflictError,
    IntegrityError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    ALIAS,
    KmsWorld,
    OneCall,
    check_callers_client_reused_and_open,
    check_own_client_closed_once,
    kms_world,
    one_error_line,
    probe_clients,
)

CONTEXT = {"purpose": "tokens"}


@pytest.fixture(scope="module")
def world() -> Iterator[KmsWorld]:
    """One moto KMS for the module (tests add keys; none deletes or disables one)."""
    with kms_world() as kms:
        yield kms


def test_data_key_now_gives_a_plaintext_that_kms_gives_back(world: KmsWorld) -> None:
    with new_data_key(ALIAS, CONTEXT) as key:
        buffer = key.plaintext
        assert isinstance(buffer, bytearray)
        assert len(buffer) == 32
        assert key.key_id == world.arn
        plaintext = bytes(buffer)
        direct = world.kms.decrypt(CiphertextBlob=key.encrypted, EncryptionContext=CONTEXT)
        assert direct["Plaintext"] == plaintext
    # The with block overwrote the very buffer it handed out.
    assert key.plaintext is buffer
    assert buffer == bytearray(32)
    assert "plaintext" not in repr(key)


def test_data_key_for_later_decrypts_when_needed(world: KmsWorld) -> None:
    later = new_data_key_for_later(world.arn, CONTEXT, key_spec="AES_128")
    assert not hasattr(later, "plaintext")
    nonce = os.urandom(12)
    with decrypt_data_key(later.encrypted, CONTEXT) as key:
        assert len(key.plaintext) == 16
        ciphertext = AESGCM(key.plaintext).encrypt(nonce, b"row 42", None)
    with decrypt_data_key(later.encrypted, CONTEXT, key=world.arn) as again:
        assert AESGCM(again.plaintext).decrypt(nonce, ciphertext, None) == b"row 42"


def test_data_key_with_the_wrong_context_is_an_integrity_error(world: KmsWorld) -> None:
    later = new_data_key_for_later(ALIAS, CONTEXT)
    with pytest.raises(IntegrityError, match="encryption context differs") as caught:
        decrypt_data_key(later.encrypted, {"purpose": "other"})
    assert caught.value.exit_code == EXIT_INTEGRITY


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: new_data_key(ALIAS, {}), "an encryption context is required"),
        (lambda: new_data_key(ALIAS, CONTEXT, key_spec="AES_512"), "Received: AES_512"),
        (lambda: new_data_key_for_later(ALIAS, {}), "an encryption context is required"),
    ],
)
def test_data_key_arguments_are_checked_before_kms(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, call: object, message: str
) -> None:
    probe = probe_clients(monkeypatch)
    with pytest.raises(UsageError, match=message):
        call()
    assert sum(probe.calls.values()) == 0


def test_wipe_is_in_place() -> None:
    key = DataKey(key_id="k", encrypted=b"e", plaintext=bytearray(b"\x07" * 32))
    buffer = key.plaintext
    key.wipe()
    assert buffer == bytearray(32)


# -- small data ------------------------------------------------------------------------------------


def test_small_data_round_trip_at_the_4096_byte_limit(world: KmsWorld) -> None:
    data = os.urandom(SMALL_DATA_LIMIT)
    blob = encrypt_small(ALIAS, data, CONTEXT)
    assert decrypt_small(blob, CONTEXT) == data
    assert decrypt_small(blob, CONTEXT, key=world.arn) == data


def test_4097_bytes_are_refused_without_calling_kms(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    with pytest.raises(
        UsageError, match=r"is 4097 bytes; KMS Encrypt takes at most 4096.*kmskit encrypt"
    ):
        encrypt_small(ALIAS, b"x" * 4097, CONTEXT)
    assert probe.calls["Encrypt"] == 0


def test_small_data_takes_any_bytes_like_plaintext_counted_in_bytes(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a memoryview passed the check but botocore refused it (ParamValidationError),
    and one of wider items was measured in items (1,025 four-byte items passed as 1,025)."""
    for plaintext in (bytearray(b"pin"), memoryview(b"pin")):
        assert decrypt_small(encrypt_small(ALIAS, plaintext, CONTEXT), CONTEXT) == b"pin"
    probe = probe_clients(monkeypatch)
    wide = memoryview(array.array("I", [0] * 1025))
    with pytest.raises(UsageError, match=r"'plaintext' is 4100 bytes"):
        encrypt_small(ALIAS, wide, CONTEXT)  # type: ignore[arg-type]
    assert probe.calls["Encrypt"] == 0


def test_small_data_needs_a_context_and_some_data(world: KmsWorld) -> None:
    with pytest.raises(UsageError, match="an encryption context is required"):
        encrypt_small(ALIAS, b"x", {})
    with pytest.raises(UsageError, match="'plaintext' is empty"):
        encrypt_small(ALIAS, b"", CONTEXT)


def test_small_data_wrong_context_and_tampering_are_integrity_errors(world: KmsWorld) -> None:
    blob = encrypt_small(ALIAS, b"pin 1234", CONTEXT)
    with pytest.raises(IntegrityError, match="InvalidCiphertextException"):
        decrypt_small(blob, {"purpose": "other"})
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    with pytest.raises(IntegrityError, match="tampered with"):
        decrypt_small(bytes(tampered), CONTEXT)


def test_small_data_wrong_key(world: KmsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = encrypt_small(ALIAS, b"pin", CONTEXT)
    other = world.new_key()
    # moto answers a key mismatch with AccessDeniedException ...
    with pytest.raises(AccessDeniedError) as denied:
        decrypt_small(blob, CONTEXT, key=other)
    assert denied.value.exit_code == EXIT_ACCESS_DENIED
    # ... KMS itself with IncorrectKeyException.
    probe_clients(monkeypatch).fail("Decrypt", "IncorrectKeyException", "wrong key")
    with pytest.raises(ConflictError, match="IncorrectKeyException") as wrong:
        decrypt_small(blob, CONTEXT, key=other)
    assert wrong.value.exit_code == EXIT_CONFLICT


@pytest.mark.parametrize("function", ["new_data_key", "new_data_key_for_later", "encrypt_small"])
def test_encrypting_refuses_an_empty_context_value_before_any_kms_call(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    probe = probe_clients(monkeypatch)
    context = {"purpose": ""}
    calls = {
        "new_data_key": lambda: new_data_key(ALIAS, context),
        "new_data_key_for_later": lambda: new_data_key_for_later(ALIAS, context),
        "encrypt_small": lambda: encrypt_small(ALIAS, b"pin", context),
    }
    with pytest.raises(UsageError) as caught:
        calls[function]()
    assert str(caught.value) == (
        "encryption context keys and values must be non-empty strings. Received: 'purpose'=''"
    )
    assert sum(probe.calls.values()) == 0


def test_decrypting_accepts_an_empty_context_value(world: KmsWorld) -> None:
    # Data encrypted with one elsewhere needs exactly that context: refusing it would strand it.
    context = {"purpose": ""}
    blob = world.kms.encrypt(KeyId=world.arn, Plaintext=b"pin", EncryptionContext=context)
    assert decrypt_small(blob["CiphertextBlob"], context) == b"pin"
    made = world.kms.generate_data_key(
        KeyId=world.arn, KeySpec="AES_256", EncryptionContext=context
    )
    with decrypt_data_key(made["CiphertextBlob"], context) as key:
        assert bytes(key.plaintext) == made["Plaintext"]


# -- clients: the one a call made for itself is closed; the caller's is reused, open ---------------


def each_function(world: KmsWorld) -> dict[str, tuple[list[str], OneCall]]:
    """Each function that calls KMS: the operations it calls, and a call with given settings
    (the blobs to decrypt made beforehand, with no client of kmskit's)."""
    later = world.kms.generate_data_key_without_plaintext(
        KeyId=ALIAS, KeySpec="AES_256", EncryptionContext=CONTEXT
    )
    small = world.kms.encrypt(KeyId=ALIAS, Plaintext=b"pin", EncryptionContext=CONTEXT)
    return {
        "new_data_key": (
            ["GenerateDataKey"],
            lambda s: new_data_key(ALIAS, CONTEXT, settings=s).wipe(),
        ),
        "new_data_key_for_later": (
            ["GenerateDataKeyWithoutPlaintext"],
            lambda s: new_data_key_for_later(ALIAS, CONTEXT, settings=s),
        ),
        "decrypt_data_key": (
            ["Decrypt"],
            lambda s: decrypt_data_key(later["CiphertextBlob"], CONTEXT, settings=s).wipe(),
        ),
        "encrypt_small": (["Encrypt"], lambda s: encrypt_small(ALIAS, b"pin", CONTEXT, settings=s)),
        "decrypt_small": (
            ["Decrypt"],
            lambda s: decrypt_small(small["CiphertextBlob"], CONTEXT, settings=s),
        ),
    }


FUNCTIONS = [
    "new_data_key",
    "new_data_key_for_later",
    "decrypt_data_key",
    "encrypt_small",
    "decrypt_small",
]


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "kms-fails"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_without_settings_the_client_made_for_the_call_is_closed_once(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, function: str, fails: bool
) -> None:
    # Before: each call made a ClientSettings, a session and a client whose connection pool
    # stayed open until the garbage collector took it (one per call in a loop).
    operations, call = each_function(world)[function]
    probe = probe_clients(monkeypatch)
    check_own_client_closed_once(monkeypatch, probe, operations, call, fails=fails)


@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "kms-fails"])
@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_callers_settings_client_is_reused_and_left_open(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, function: str, fails: bool
) -> None:
    operations, call = each_function(world)[function]
    probe = probe_clients(monkeypatch)
    check_callers_client_reused_and_open(monkeypatch, probe, operations, call, fails=fails)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_without_settings_no_region_is_a_usage_error(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, function: str
) -> None:
    _, call = each_function(world)[function]
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # The Region alone is named: credentials are there (the suite's).
    with pytest.raises(UsageError, match=r"You must specify a region\. \(give one: --region, "):
        call(None)


@pytest.mark.parametrize(("size", "code"), [(4096, 0), (4097, EXIT_USAGE)])
def test_cli_encrypt_small_boundary(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str], size: int, code: int
) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(size))
    target = tmp_path / "out.bin"
    argv = [
        "encrypt-small",
        "--key",
        ALIAS,
        "--context",
        "purpose=tokens",
        str(source),
        str(target),
    ]
    assert main(argv) == code
    if code:
        err = capsys.readouterr().err
        assert "KMS Encrypt takes at most 4096 bytes; " in err
        assert "holds 4097 bytes. Use envelope encryption" in err
        assert not target.exists()
        return
    back = tmp_path / "back.bin"
    assert main(["decrypt-small", "--context", "purpose=tokens", str(target), str(back)]) == 0
    assert back.read_bytes() == source.read_bytes()


def test_cli_decrypt_small_without_key_warns_that_the_blob_chose_it(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: no warning, unlike decrypt and get in discovery mode.
    source, blob, back = tmp_path / "in", tmp_path / "blob", tmp_path / "back"
    source.write_bytes(b"token")
    assert (
        main(["encrypt-small", "-q", "--key", ALIAS, "--context", "p=t", str(source), str(blob)])
        == 0
    )
    argv = ["decrypt-small", "-q", "--force", "--context", "p=t", str(blob), str(back)]
    assert main(argv) == 0
    assert capsys.readouterr().err == (
        f"kmskit: warning: no --key: the blob chose its KMS key ({world.arn}), and any key you "
        "may use is accepted, also one of another account whose key policy lets you decrypt, "
        "so anyone who may write the input could have written it. Name the key (--key)\n"
    )
    assert main([*argv, "--key", ALIAS]) == 0
    assert capsys.readouterr().err == ""
    assert back.read_bytes() == b"token"


def test_decrypt_small_takes_what_kms_decrypt_takes(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: up to 8,192 bytes were read and sent, which botocore then refused (exit 1).
    model = botocore.session.get_session().get_service_model("kms")
    limit = model.operation_model("Decrypt").input_shape.members["CiphertextBlob"].metadata["max"]
    assert limit == 6144
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(limit + 1))
    argv = ["decrypt-small", "--context", "p=t", str(blob), str(tmp_path / "out")]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: KMS Decrypt takes at most 6144 bytes; '{blob}' holds 6145 bytes. Is it "
        "an AWS Encryption SDK message (what `kmskit encrypt` writes)? Decrypt that with "
        "`kmskit decrypt`."
    )


@pytest.mark.parametrize("signed", [False, True])
def test_decrypt_small_of_an_encryption_sdk_message_says_to_use_decrypt(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str], signed: bool
) -> None:
    source, message = tmp_path / "in", tmp_path / "in.enc"
    source.write_bytes(b"token")
    encrypt = ["encrypt", "-q", "--key", world.arn, "--context", "p=t", str(source), str(message)]
    assert main([*encrypt, "--signed"] if signed else encrypt) == 0
    argv = ["decrypt-small", "--context", "p=t", str(message), str(tmp_path / "out")]
    assert main(argv) == EXIT_INTEGRITY
    assert one_error_line(capsys).endswith(
        f". '{message}' looks like an AWS Encryption SDK message (what `kmskit encrypt` "
        "writes), not a KMS ciphertext blob: decrypt it with `kmskit decrypt`"
    )
    # A KMS blob that KMS refuses (wrong context) gets no such hint.
    blob = tmp_path / "blob"
    assert (
        main(
            ["encrypt-small", "-q", "--key", world.arn, "--context", "p=t", str(source), str(blob)]
        )
        == 0
    )
    assert main(["decrypt-small", "--context", "p=x", str(blob), str(tmp_path / "o")]) == (
        EXIT_INTEGRITY
    )
    assert "kmskit decrypt" not in one_error_line(capsys)


def test_cli_datakey_new_now_and_for_later(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datakey", "new", "--key", ALIAS, "--context", "purpose=tokens", "-q"]) == 0
    now = json.loads(capsys.readouterr().out)
    assert set(now) == {"KeyId", "CiphertextBlob", "Plaintext", "EncryptionContext"}
    assert len(base64.b64decode(now["Plaintext"])) == 32

    later_file = tmp_path / "later.json"
    argv = ["datakey", "new", "--for-later", "--key", ALIAS, "--context", "purpose=tokens"]
    assert main([*argv, str(later_file)]) == 0
    later = json.loads(later_file.read_text())
    assert "Plaintext" not in later
    assert oct(later_file.stat().st_mode & 0o777) == "0o600"

    # The stored context is used when --context is not given.
    assert main(["datakey", "decrypt", "-q", str(later_file)]) == 0
    decrypted = json.loads(capsys.readouterr().out)
    assert len(base64.b64decode(decrypted["Plaintext"])) == 32
    assert decrypted["CiphertextBlob"] == later["CiphertextBlob"]

    assert main(["datakey", "decrypt", "--context", "purpose=x", str(later_file)]) == EXIT_INTEGRITY


def test_cli_encrypt_small_of_an_empty_input_names_input(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # The library says 'plaintext' (its parameter); the user gave the file INPUT.
    source = tmp_path / "empty.txt"
    source.write_bytes(b"")
    argv = ["encrypt-small", "--key", ALIAS, "--context", "purpose=tokens"]
    assert main([*argv, str(source), str(tmp_path / "out")]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: 'INPUT' is empty; KMS Encrypt needs 1-4096 bytes. Received: '{source}' "
        "(0 bytes)"
    )
    assert no_aws == []
    assert not (tmp_path / "out").exists()


def test_cli_datakey_decrypt_refuses_a_stored_context_that_is_not_utf8(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # JSON can hold a lone surrogate ("\udcff"): the stored context must not reach KMS either.
    later = new_data_key_for_later(ALIAS, CONTEXT)
    document = tmp_path / "later.json"
    document.write_text(
        json.dumps(
            {
                "KeyId": later.key_id,
                "CiphertextBlob": base64.b64encode(later.encrypted).decode(),
                "EncryptionContext": {"purpose": "tokens\udcff"},
            }
        )
    )
    probe = probe_clients(monkeypatch)
    assert main(["datakey", "decrypt", str(document)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: encryption context keys and values must be UTF-8 text. "
        "Received: 'purpose'='tokens\\udcff'"
    )
    assert sum(probe.calls.values()) == 0
