"""Arguments as each command reads them: every --key has the form of a key reference before any
AWS call; each command's --context help says what its pairs do; an empty INPUT is named with
its path; a datakey document's stored context must be an object of strings; a message with
more data keys than kmskit accepts is not called tampered; --quiet says what it hides."""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import pytest
from aws_encryption_sdk.identifiers import CommitmentPolicy

from kmskit.audit import key_reference
from kmskit.cli import build_parser, main
from kmskit.envelope_kms import new_data_key_for_later
from kmskit.errors import EXIT_CONFLICT, EXIT_OK, EXIT_USAGE
from tests.kmskit.envelope_support import (
    ALIAS,
    REGION,
    KmsWorld,
    emulate_asymmetric_kms,
    one_error_line,
    probe_clients,
)

CONTEXT = ["--context", "purpose=test"]


def leaf_parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(command, parser) of every subcommand that runs something."""

    def walk(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, Any]]:
        children = [
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        ]
        if not children:
            yield prefix, parser
        for action in children:
            for name, child in action.choices.items():
                yield from walk(child, f"{prefix} {name}".strip())

    yield from walk(build_parser(), "")


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


# --- --key: the same form check everywhere, before any AWS call -----------------------------------

# Every command with --key, "IN" standing for an existing file and "OUT" for a new one.
KEY_COMMANDS = [
    ["encrypt", *CONTEXT, "IN", "OUT"],
    ["decrypt", "IN", "OUT"],
    ["put", "IN", "s3://bucket/object"],
    ["get", "s3://bucket/object", "OUT"],
    ["datakey", "new", *CONTEXT, "OUT"],
    ["datakey", "decrypt", "IN", "OUT"],
    ["encrypt-small", *CONTEXT, "IN", "OUT"],
    ["decrypt-small", "IN", "OUT"],
    ["pubkey", "export", "OUT"],
    ["pubkey", "encrypt", "IN", "OUT"],
    ["pubkey", "decrypt", "IN", "OUT"],
    ["sign", "IN", "OUT"],
    ["verify", "--signature", "IN", "IN"],
    ["audit", "s3://bucket"],
]


def with_key(argv: list[str], key: str, tmp_path: Path) -> list[str]:
    source = tmp_path / "in.bin"
    source.write_bytes(b"x")
    paths = {"IN": str(source), "OUT": str(tmp_path / "out.bin")}
    words = 2 if argv[0] in ("datakey", "pubkey") else 1
    return [*argv[:words], "--key", key, *(paths.get(a, a) for a in argv[words:])]


@pytest.mark.parametrize("argv", KEY_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
@pytest.mark.parametrize("key", ["bad key", "app-data", "alia/app-data", "1234"])
def test_a_malformed_key_is_refused_before_any_aws_call(
    argv: list[str],
    key: str,
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # It used to reach KMS on encrypt, put and datakey new (NotFoundException, exit 4).
    assert main(with_key(argv, key, tmp_path)) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--key' must be a key ARN, a key ID, an alias name (alias/...) or an "
        f"alias ARN. Received: {key!r}"
    )
    assert no_aws == []
    assert not (tmp_path / "out.bin").exists()


def test_every_key_option_checks_the_form_and_every_one_is_tested_above() -> None:
    with_key_option = set()
    for command, parser in leaf_parsers():
        action = option(parser, "--key")
        if action is not None and command != "key import-material":
            with_key_option.add(command)
            assert action.type is key_reference, command
    tested = {
        " ".join(argv[: 2 if argv[0] in ("datakey", "pubkey") else 1]) for argv in KEY_COMMANDS
    }
    assert tested == with_key_option


@pytest.mark.parametrize("command", ["decrypt", "audit"])
def test_a_second_malformed_key_is_refused_before_the_first_is_looked_up(
    command: str, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # decrypt and audit resolve each --key with DescribeKey in turn: a bad second one was
    # refused after a call.
    source = tmp_path / "in.bin"
    source.write_bytes(b"x")
    keys = ["--key", ALIAS, "--key", "bad key"]
    paths = [str(source), str(tmp_path / "out")] if command == "decrypt" else ["s3://bucket"]
    assert main([command, *keys, *paths, "--region", REGION]) == EXIT_USAGE
    assert "Received: 'bad key'" in one_error_line(capsys)
    assert no_aws == []


@pytest.mark.parametrize("key", ["bad key", "app-data", "1234"])
def test_a_malformed_sse_kms_key_is_refused_before_anything_is_encrypted(
    key: str, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # It was sent as S3's SSEKMSKeyId as given: the upload failed after the file was encrypted.
    source = tmp_path / "in.bin"
    source.write_bytes(b"x")
    argv = ["put", "--key", ALIAS, "--sse-kms-key", key, str(source), "s3://bucket/object"]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--sse-kms-key' must be a key ARN, a key ID, an alias name (alias/...) "
        f"or an alias ARN. Received: {key!r}"
    )
    assert no_aws == []


@pytest.mark.parametrize(
    "key",
    [
        ALIAS,
        "arn:aws:kms:eu-west-1:111122223333:alias/app-data",
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
    ],
)
def test_every_form_of_key_reference_passes(key: str) -> None:
    assert key_reference(key) == key


# --- a key ARN's Region --------------------------------------------------------------------------

ARN_ELSEWHERE = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# Every command that calls KMS for one key (--key or KEY; "KEY" stands for it), as for KEY_COMMANDS.
SINGLE_KEY_COMMANDS = [
    ["encrypt-small", "--key", "KEY", *CONTEXT, "IN", "OUT"],
    ["decrypt-small", "--key", "KEY", "IN", "OUT"],
    ["datakey", "new", "--key", "KEY", *CONTEXT, "OUT"],
    ["datakey", "decrypt", "--key", "KEY", "DOCUMENT", "OUT"],
    ["pubkey", "export", "--key", "KEY", "OUT"],
    ["pubkey", "encrypt", "--key", "KEY", "IN", "OUT"],
    ["pubkey", "decrypt", "--key", "KEY", "IN", "OUT"],
    ["sign", "--key", "KEY", "IN", "OUT"],
    ["verify", "--key", "KEY", "--signature", "IN", "IN"],
    ["key", "rotate", "KEY"],
    ["key", "rotations", "KEY"],
    ["key", "import-material", "KEY", "--generate", "--save-material", "OUT"],
    ["key", "schedule-deletion", "KEY", "--logs", "s3://bucket/trail"],
]


def single_key_argv(argv: list[str], key: str, tmp_path: Path) -> list[str]:
    source = tmp_path / "in.bin"
    source.write_bytes(b"x")
    document = tmp_path / "key.json"
    document.write_text(json.dumps({"CiphertextBlob": base64.b64encode(b"blob").decode()}))
    paths = {
        "IN": str(source),
        "OUT": str(tmp_path / "out.bin"),
        "DOCUMENT": str(document),
        "KEY": key,
    }
    return [paths.get(arg, arg) for arg in argv]


@pytest.mark.parametrize("argv", SINGLE_KEY_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_a_region_other_than_the_key_arns_is_refused_before_any_aws_call(
    argv: list[str], tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """KMS is called in a key ARN's Region. Before: encrypt-small, pubkey, sign, key ... called
    it in --region, where the key is not (NotFoundException, exit 4)."""
    argument = "KEY" if argv[0] == "key" else "--key"
    code = main([*single_key_argv(argv, ARN_ELSEWHERE, tmp_path), "--region", "us-east-1"])
    assert code == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '--region' must be the Region of '{argument}' (eu-west-1), or be left "
        "out: KMS is called in the key's Region. Received: --region 'us-east-1' and "
        f"{argument} {ARN_ELSEWHERE!r}"
    )
    assert no_aws == []
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize("configured", [None, "us-east-1"])
def test_kms_is_called_in_the_key_arns_region(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    configured: str | None,
) -> None:
    """Before: with no Region configured, exit 2 ("You must specify a region") though the ARN
    names it; with another Region configured, exit 4 (KMS there has no such key)."""
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    if configured:
        monkeypatch.setenv("AWS_DEFAULT_REGION", configured)
    plain, blob, back = tmp_path / "plain", tmp_path / "blob", tmp_path / "back"
    plain.write_bytes(b"secret")
    encrypt = ["encrypt-small", "--key", world.arn, *CONTEXT, str(plain), str(blob)]
    assert main(encrypt) == EXIT_OK
    assert main(["decrypt-small", "--key", world.arn, *CONTEXT, str(blob), str(back)]) == EXIT_OK
    assert back.read_bytes() == b"secret"
    assert main(["key", "rotations", world.arn, "--region", REGION]) == EXIT_OK
    assert world.arn in capsys.readouterr().out


# --- --context help -------------------------------------------------------------------------------


def context_help(command: str) -> str:
    parser = dict(leaf_parsers())[command]
    action = option(parser, "--context")
    assert action is not None
    assert action.help is not None
    return action.help


@pytest.mark.parametrize("command", ["encrypt", "put"])
def test_context_help_of_commands_that_encrypt_a_message(command: str) -> None:
    text = context_help(command)
    assert "stored in the message" in text
    assert "never put secrets in it" in text
    assert "must be in the message" not in text  # the wording of decrypt's check


def test_context_help_of_put_names_the_location_pair() -> None:
    assert "kmskit:s3-object=s3://BUCKET/KEY" in context_help("put")


@pytest.mark.parametrize("command", ["decrypt", "get"])
def test_context_help_of_commands_that_check_a_subset(command: str) -> None:
    assert "each pair given must be in the message with that value" in context_help(command)


@pytest.mark.parametrize("command", ["decrypt-small", "datakey decrypt"])
def test_context_help_of_kms_decrypt_asks_for_exactly_the_context(command: str) -> None:
    # KMS Decrypt needs the whole context: a subset fails.
    text = context_help(command)
    assert "exactly the pairs used to encrypt" in text
    assert "KMS refuses a subset" in text
    assert "must be in the message" not in text


def test_context_help_of_datakey_decrypt_says_the_stored_context_is_the_default() -> None:
    assert "default: the EncryptionContext stored in INPUT" in context_help("datakey decrypt")


@pytest.mark.parametrize("command", ["encrypt-small", "datakey new"])
def test_context_help_of_kms_encrypt_says_decrypting_needs_the_pairs_again(command: str) -> None:
    text = context_help(command)
    assert "decrypting needs exactly these pairs again" in text
    assert "never put secrets in it" in text


# --- an empty INPUT ------------------------------------------------------------------------------

EMPTY_INPUT = [
    (["encrypt-small", "--key", ALIAS, *CONTEXT, "IN", "OUT"], "KMS Encrypt needs 1-4096 bytes"),
    (
        ["decrypt-small", "IN", "OUT"],
        "KMS Decrypt needs the ciphertext blob `encrypt-small` wrote",
    ),
    (
        ["pubkey", "decrypt", "--key", ALIAS, "IN", "OUT"],
        "KMS Decrypt needs the RSA ciphertext `pubkey encrypt` wrote",
    ),
    (["sign", "--key", ALIAS, "IN", "OUT"], "there is nothing to sign"),
    (
        ["sign", "--key", ALIAS, "--algorithm", "ECDSA_SHA_256", "IN", "OUT"],
        "there is nothing to sign",
    ),
    (["verify", "--key", ALIAS, "--signature", "SIG", "IN"], "there is nothing to verify"),
    (["verify", "--kms", "--key", ALIAS, "--signature", "SIG", "IN"], "there is nothing to verify"),
]


@pytest.mark.parametrize(("argv", "needs"), EMPTY_INPUT, ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_an_empty_input_is_named_with_its_path_before_any_aws_call(
    argv: list[str],
    needs: str,
    stdin: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    signature = tmp_path / "data.sig"
    signature.write_bytes(b"s" * 64)
    given = "-" if stdin else str(empty)
    if stdin:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    paths = {"IN": given, "OUT": str(tmp_path / "out.bin"), "SIG": str(signature)}
    assert main([paths.get(arg, arg) for arg in argv]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: 'INPUT' is empty; {needs}. Received: '{given}' (0 bytes)"
    )
    assert no_aws == []
    assert not (tmp_path / "out.bin").exists()


def test_an_input_read_as_a_stream_is_passed_on_whole(
    world: KmsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first byte is read early (to refuse an empty INPUT): the signature still covers all.
    probe = probe_clients(monkeypatch)
    emulate_asymmetric_kms(probe)  # moto hashes a DIGEST message again
    key = world.new_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
    data = b"a" + bytes(range(256)) * 40  # more than KMS's 4096-byte RAW limit: a digest
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    signature = tmp_path / "data.sig"
    assert main(["sign", "-q", "--key", key, "-", str(signature)]) == EXIT_OK
    source = tmp_path / "data"
    source.write_bytes(data)
    assert main(["verify", "-q", "--key", key, "--signature", str(signature), str(source)]) == 0
    source.write_bytes(data[1:])  # without the byte read first: another message
    assert main(["verify", "-q", "--key", key, "--signature", str(signature), str(source)]) == 5
    assert probe.calls["Sign"] == 1


# --- a datakey document's stored context ---------------------------------------------------------


def datakey_document(path: Path, context: Any, blob: str = "eA==") -> None:
    # No KeyId: the blob names its key (a KeyId must be a key ARN, see test_cli_kms_review).
    path.write_text(json.dumps({"CiphertextBlob": blob, "EncryptionContext": context}))


@pytest.mark.parametrize(
    "stored",
    [{"purpose": 5}, {"purpose": None}, {"purpose": ["a"]}, ["purpose", "x"], None, "purpose=x", 7],
    ids=repr,
)
def test_a_stored_context_that_is_not_an_object_of_strings_is_refused(
    stored: Any, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # It was coerced with str() ({"purpose": 5} became purpose=5) and sent to KMS.
    document = tmp_path / "k.json"
    datakey_document(document, stored)
    assert main(["datakey", "decrypt", str(document), str(tmp_path / "out.json")]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{document}' is not a JSON document from `kmskit datakey new` with a "
        "base64 CiphertextBlob: its EncryptionContext must be an object of strings. "
        f"Received: {stored!r}"
    )
    assert no_aws == []
    assert not (tmp_path / "out.json").exists()


def test_a_stored_context_is_refused_also_when_context_is_given(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "k.json"
    datakey_document(document, {"purpose": 5})
    assert main(["datakey", "decrypt", *CONTEXT, str(document)]) == EXIT_USAGE
    assert "its EncryptionContext must be an object of strings" in one_error_line(capsys)
    assert no_aws == []


def test_an_empty_ciphertext_blob_names_the_document(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "k.json"
    datakey_document(document, {"purpose": "x"}, blob="")
    assert main(["datakey", "decrypt", str(document)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{document}' is not a JSON document from `kmskit datakey new` with a "
        "base64 CiphertextBlob: its CiphertextBlob is empty"
    )
    assert no_aws == []


def test_a_stored_context_with_an_empty_value_still_decrypts(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Made elsewhere (kmskit now refuses an empty value when it encrypts): keep it decryptable.
    made = world.kms.generate_data_key_without_plaintext(
        KeyId=world.arn, KeySpec="AES_256", EncryptionContext={"purpose": ""}
    )
    document = tmp_path / "k.json"
    datakey_document(
        document, {"purpose": ""}, blob=base64.b64encode(made["CiphertextBlob"]).decode()
    )
    assert main(["datakey", "decrypt", "-q", str(document)]) == EXIT_OK
    decrypted = json.loads(capsys.readouterr().out)
    assert decrypted["EncryptionContext"] == {"purpose": ""}
    assert len(base64.b64decode(decrypted["Plaintext"])) == 32


def test_a_stored_context_of_strings_is_used(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = new_data_key_for_later(ALIAS, {"purpose": "x", "team": "y"})
    document = tmp_path / "k.json"
    datakey_document(
        document, {"purpose": "x", "team": "y"}, blob=base64.b64encode(later.encrypted).decode()
    )
    assert main(["datakey", "decrypt", "-q", str(document)]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["KeyId"] == world.arn


# --- a message with more data keys than kmskit accepts -------------------------------------------


def test_cli_a_message_with_eleven_data_keys_exits_7_and_says_why(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys = [world.arn, *(world.new_key() for _ in range(10))]
    message, _ = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    ).encrypt(
        source=b"payload",
        key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=keys),
        encryption_context={"purpose": "test"},
    )
    source = tmp_path / "many.enc"
    source.write_bytes(message)
    probe = probe_clients(monkeypatch)
    assert main(["decrypt", "--region", REGION, str(source), str(tmp_path / "out")]) == (
        EXIT_CONFLICT
    )
    line = one_error_line(capsys)
    assert line == (
        "kmskit: error: could not decrypt: the message has 11 encrypted data keys; kmskit "
        "accepts at most 10 (each could cost a KMS call). It is not damaged: decrypt it with an "
        "AWS Encryption SDK configured with a higher max_encrypted_data_keys, or have it "
        "encrypted under fewer keys"
    )
    assert "tampered" not in line
    assert probe.calls["Decrypt"] == 0
    assert not (tmp_path / "out").exists()


# --- --quiet --------------------------------------------------------------------------------------


def test_quiet_help_says_it_also_hides_the_summary_line() -> None:
    seen = 0
    for command, parser in leaf_parsers():
        action = option(parser, "--quiet")
        if action is None:
            continue
        seen += 1
        assert action.help is not None
        assert "no progress bars" in action.help, command
        assert "summary line" in action.help, command
    assert seen > 10


def test_quiet_hides_the_summary_line_but_not_errors(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"x")
    argv = ["encrypt-small", "--key", ALIAS, *CONTEXT, str(source)]
    assert main([*argv, str(tmp_path / "loud")]) == EXIT_OK
    assert capsys.readouterr().err == f"kmskit: encrypted 1 bytes with {ALIAS}\n"
    assert main([*argv, "-q", str(tmp_path / "quiet")]) == EXIT_OK
    assert capsys.readouterr().err == ""
    assert main([*argv, "-q", str(tmp_path / "quiet")]) == EXIT_USAGE  # it exists now
    assert "exists: give --force" in one_error_line(capsys)


# --- options a command takes: cost's, an unknown one, --region given twice ---------------------


def test_cost_takes_no_aws_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """cost makes no AWS call. Before: it listed --region, --profile, --max-attempts and
    --retry-mode, and ignored them (`cost --max-attempts 0` exited 0)."""
    parsers = dict(leaf_parsers())
    flags = {flag for action in parsers["cost"]._actions for flag in action.option_strings}
    assert flags == {"-h", "--help", "-q", "--quiet", "--format"}
    assert main(["cost", "--max-attempts", "0", str(tmp_path)]) == EXIT_USAGE
    assert "unrecognized arguments: --max-attempts" in one_error_line(capsys)


def test_every_other_command_takes_the_aws_options() -> None:
    for command, parser in leaf_parsers():
        flags = {flag for action in parser._actions for flag in action.option_strings}
        if command != "cost":
            assert {"--region", "--profile", "--max-attempts", "--retry-mode"} <= flags, command


@pytest.mark.parametrize("argv", [["--versio"], ["--versio", "cost", "cdk.out"], ["-x"]])
def test_an_unknown_option_before_the_command_is_named(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "the following arguments are required: COMMAND" for `kmskit --versio`.
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: unrecognized arguments: {argv[0]} (see 'kmskit --help')"
    )


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--region", "us-east-1", "encrypt-small"], "--region"),
        (["--profile=dev", "key", "rotate", "alias/app"], "--profile"),
        (["-q", "cost", "cdk.out"], "-q"),
        (["--waiting-days", "7", "key", "schedule-deletion"], "--waiting-days"),
    ],
)
def test_an_option_of_the_commands_before_the_command_says_where_it_goes(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "argument COMMAND: invalid choice: 'us-east-1'" (its value taken as the command).
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{option}' goes after the command: kmskit COMMAND {option} ... (see "
        "'kmskit --help')"
    )


def test_no_command_is_still_named_missing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: the following arguments are required: COMMAND (see 'kmskit --help')"
    )


def test_region_given_twice_to_a_single_region_command_is_refused(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the last --region was used, silently.
    source = tmp_path / "in.bin"
    source.write_bytes(b"x")
    argv = ["encrypt-small", "--key", ALIAS, *CONTEXT, str(source), str(tmp_path / "out.bin")]
    assert main([*argv, "--region", "eu-west-1", "--region", "us-east-1"]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: argument --region: given twice ('eu-west-1', then 'us-east-1'): this "
        "command works in one Region; give it once (see 'kmskit encrypt-small --help')"
    )
    assert no_aws == []


def test_region_may_still_be_repeated_where_a_command_reads_several() -> None:
    args = build_parser().parse_args(
        ["key", "inventory", "--region", "eu-west-1", "--region", "us-east-1"]
    )
    assert args.regions == ["eu-west-1", "us-east-1"]
