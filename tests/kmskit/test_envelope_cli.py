"""kmskit encrypt / decrypt on the command line: flags, exit codes, '-' for stdin/stdout, and
never a half-written output. In-process against moto, and end to end in a subprocess
(``python -m kmskit``) against a ThreadedMotoServer through AWS_ENDPOINT_URL."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kmskit.cli import FILE_ARGUMENTS, build_parser, main
from kmskit.envelope import Envelope
from kmskit.envelope_cli import named_as_typed
from kmskit.errors import (
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    NotFoundError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    ALIAS,
    REGION,
    ROOT,
    KmsWorld,
    one_error_line,
    subparsers_of,
)

FRAME = 4096


def encrypt_file(tmp_path: Path, data: bytes, *extra: str) -> Path:
    source = tmp_path / "plain.bin"
    source.write_bytes(data)
    target = tmp_path / "plain.bin.enc"
    argv = ["encrypt", "-q", "--key", ALIAS, "--context", "purpose=backup", "--context", "team=x"]
    assert main([*argv, *extra, str(source), str(target)]) == EXIT_OK
    source.unlink()
    return target


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_encrypt_decrypt_files(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = os.urandom(3 * 2**20 + 11)
    message = encrypt_file(tmp_path, data)
    out = tmp_path / "restored.bin"
    argv = ["decrypt", "--context", "purpose=backup", str(message), str(out)]
    assert main(argv) == EXIT_OK
    assert out.read_bytes() == data
    err = capsys.readouterr().err
    assert f"suite 0x0478 (not signed), key {world.arn}, context purpose=backup, team=x" in err
    assert listing(tmp_path) == ["plain.bin.enc", "restored.bin"]


def test_signed_flag_and_require_signed(world: KmsWorld, tmp_path: Path) -> None:
    message = encrypt_file(tmp_path, b"payload", "--signed")
    out = tmp_path / "out"
    assert main(["decrypt", "-q", "--require-signed", str(message), str(out)]) == EXIT_OK
    unsigned = tmp_path / "unsigned.enc"
    unsigned.write_bytes(Envelope([ALIAS]).encrypt(b"payload", {"a": "b"}))
    refused = tmp_path / "refused"
    assert (
        main(["decrypt", "-q", "--require-signed", str(unsigned), str(refused)]) == EXIT_INTEGRITY
    )
    assert not refused.exists()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--context", "purpose=restore"], EXIT_INTEGRITY, "wrong encryption context"),
        (["--key", "alias/other"], EXIT_CONFLICT, "wrong key"),
        (["--key", "alias/missing"], EXIT_NOT_FOUND, "look up key 'alias/missing'"),
        (["--context", "novalue"], EXIT_USAGE, "'--context' must be key=value"),
    ],
)
def test_decrypt_failures_exit_codes_and_no_output(
    world: KmsWorld,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    world.kms.create_alias(AliasName="alias/other", TargetKeyId=world.new_key())
    encrypted = encrypt_file(tmp_path, os.urandom(10_000))
    out = tmp_path / "out.bin"
    assert main(["decrypt", *argv, str(encrypted), str(out)]) == code
    assert message in capsys.readouterr().err
    assert listing(tmp_path) == ["plain.bin.enc"]


def test_tampered_last_frame_leaves_no_partial_file(world: KmsWorld, tmp_path: Path) -> None:
    # 40 frames: the first 39 are decrypted and written to the temporary file before the
    # tampered last one fails; the temporary file must go, and OUTPUT must never appear.
    encrypted = encrypt_file(tmp_path, os.urandom(40 * FRAME - 100), "--frame-length", str(FRAME))
    tampered = bytearray(encrypted.read_bytes())
    tampered[-20] ^= 1
    encrypted.write_bytes(bytes(tampered))
    out = tmp_path / "out.bin"
    assert main(["decrypt", "-q", str(encrypted), str(out)]) == EXIT_INTEGRITY
    assert listing(tmp_path) == ["plain.bin.enc"]


def _decrypt_into_fifo(fifo: Path, argv: list[str]) -> tuple[int, bytes]:
    """``main(argv)`` writing to the FIFO ``fifo``: its exit code, and what a reader of the
    FIFO received."""
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    try:
        code = main(argv)
    finally:
        reader.join(timeout=2)
        while reader.is_alive():
            # kmskit never opened the FIFO (nothing to write): let the reader see its end.
            with contextlib.suppress(OSError):  # ENXIO: the reader is not in open() yet
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(timeout=0.1)
    return code, received[0]


@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_fifo_reader_gets_no_plaintext_before_the_message_verified(
    world: KmsWorld, tmp_path: Path, unbuffered: bool
) -> None:
    # A FIFO (or a device, /dev/stdout) is written in place, where a reader sees each byte as it
    # is written: like stdout, it gets the plaintext only after the last frame verified, unless
    # --unbuffered asks for the frames as they are authenticated.
    data = os.urandom(40 * FRAME - 100)
    encrypted = encrypt_file(tmp_path, data, "--frame-length", str(FRAME))
    flags = ["--unbuffered"] if unbuffered else []
    argv = ["decrypt", "-q", *flags, str(encrypted)]
    assert _decrypt_into_fifo(tmp_path / "good.fifo", [*argv, str(tmp_path / "good.fifo")]) == (
        EXIT_OK,
        data,
    )
    tampered = bytearray(encrypted.read_bytes())
    tampered[-20] ^= 1
    encrypted.write_bytes(bytes(tampered))
    code, received = _decrypt_into_fifo(tmp_path / "bad.fifo", [*argv, str(tmp_path / "bad.fifo")])
    assert code == EXIT_INTEGRITY
    assert received == (data[: 39 * FRAME] if unbuffered else b"")


def test_a_signed_message_whose_signature_fails_shows_no_plaintext(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    # Every frame authenticates (the data key is right) and only the signature over the whole
    # message fails, as for frames forged by someone who may decrypt but holds no signing key.
    # The SDK hands out each frame's plaintext before it checks the signature: kmskit must not.
    data = os.urandom(40 * FRAME - 100)
    encrypted = encrypt_file(tmp_path, data, "--signed", "--frame-length", str(FRAME))
    tampered = bytearray(encrypted.read_bytes())
    tampered[-2] ^= 1  # in the ECDSA signature, after the last frame
    encrypted.write_bytes(bytes(tampered))
    argv = ["decrypt", "-q", "--key", ALIAS, str(encrypted)]
    # A file: never appears (nor its temporary file).
    assert main([*argv, str(tmp_path / "out.bin")]) == EXIT_INTEGRITY
    assert listing(tmp_path) == ["plain.bin.enc"]
    assert b"InvalidSignature" in capsysbinary.readouterr().err
    # Stdout and a FIFO: nothing, unless --unbuffered asked for frames as they authenticate.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(bytes(tampered))))
    assert main(["decrypt", "-q", "--key", ALIAS, "-", "-"]) == EXIT_INTEGRITY
    assert capsysbinary.readouterr().out == b""
    assert _decrypt_into_fifo(tmp_path / "a.fifo", [*argv, str(tmp_path / "a.fifo")]) == (
        EXIT_INTEGRITY,
        b"",
    )
    unbuffered = [*argv[:2], "--unbuffered", *argv[2:], str(tmp_path / "b.fifo")]
    code, received = _decrypt_into_fifo(tmp_path / "b.fifo", unbuffered)
    assert (code, received) == (EXIT_INTEGRITY, data[: 39 * FRAME])


def test_discovery_account_filters_and_unfiltered_discovery_warns(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = world.arn.split(":")[4]
    encrypted = encrypt_file(tmp_path, b"payload")
    out = tmp_path / "out"

    def decrypt(*options: str) -> int:
        with contextlib.suppress(FileNotFoundError):
            out.unlink()
        return main(["decrypt", "-q", "--force", *options, str(encrypted), str(out)])

    # Discovery without a filter: the message chose the key, and a warning says so (with -q).
    assert decrypt() == EXIT_OK
    assert capsys.readouterr().err == (
        f"kmskit: warning: no --key or --discovery-account: the message chose its KMS key "
        f"({world.arn}), and any key you may use is accepted, also one of another account "
        "whose key policy lets you decrypt, so anyone who may write the input could have "
        "written it. Name the key (--key) or the accounts whose keys you trust "
        "(--discovery-account)\n"
    )
    # Named key, or the account filter: no warning.
    assert decrypt("--key", ALIAS) == EXIT_OK
    assert decrypt("--discovery-account", "999999999999", "--discovery-account", account) == 0
    assert out.read_bytes() == b"payload"
    assert capsys.readouterr().err == ""
    # A key of another account is refused (before any KMS call), and no output appears.
    out.unlink()
    assert decrypt("--discovery-account", "999999999999") == EXIT_CONFLICT
    assert one_error_line(capsys) == (
        "kmskit: error: wrong key: the message's data key is encrypted under keys of "
        f"account(s) {account}, not of 999999999999"
    )
    assert not out.exists()
    # Bad values name the option.
    assert decrypt("--discovery-account", "12345") == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--discovery-account' must be a 12-digit account ID. Received: '12345'"
    )
    # The message names the options typed, not the library's parameters ('keys').
    assert decrypt("--key", ALIAS, "--discovery-account", account) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--discovery-account' applies only in discovery mode, when no key is "
        f"named. Received keys [{ALIAS!r}] and accounts [{account!r}]"
    )


def test_existing_output_is_kept_when_decrypt_fails(world: KmsWorld, tmp_path: Path) -> None:
    encrypted = encrypt_file(tmp_path, b"new")
    out = tmp_path / "out.txt"
    out.write_text("previous version")
    argv = ["decrypt", "-q", "--force", "--context", "purpose=x", str(encrypted), str(out)]
    assert main(argv) == EXIT_INTEGRITY
    assert out.read_text() == "previous version"


@pytest.mark.parametrize(
    ("argv", "abbreviation"),
    [
        (["decrypt", "--contex", "purpose=x", "in", "out"], "--contex"),
        (["datakey", "new", "--for", "--key", ALIAS, "--context", "a=b", "out"], "--for"),
        (["encrypt", "--key", ALIAS, "--context", "a=b", "--qui", "in", "out"], "--qui"),
    ],
    ids=["subcommand", "nested subcommand", "common option"],
)
def test_an_abbreviated_option_is_bad_usage(
    argv: list[str], abbreviation: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Scripts keep working only if the flags they spell out never change meaning: an
    # abbreviation would turn ambiguous the day an option sharing its prefix appeared.
    assert main(argv) == EXIT_USAGE
    line = one_error_line(capsys)
    assert line.startswith(f"kmskit: error: unrecognized arguments: {abbreviation}")
    assert line.endswith("(see 'kmskit --help')")


def test_encrypt_usage_errors(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    source.write_bytes(b"x")
    # argparse's own errors are one line too, pointing at the help rather than printing usage.
    assert main(["encrypt", "--key", ALIAS, str(source), str(tmp_path / "out")]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: the following arguments are required: --context "
        "(see 'kmskit encrypt --help')"
    )
    argv = ["encrypt", "--key", ALIAS, "--context", "a=b", "--frame-length", "1000"]
    assert main([*argv, str(source), str(tmp_path / "out")]) == EXIT_USAGE
    assert "'--frame-length' must be a multiple of 4096" in capsys.readouterr().err
    missing_input = tmp_path / "nope"
    code = main(
        ["encrypt", "--key", ALIAS, "--context", "a=b", str(missing_input), str(tmp_path / "o")]
    )
    assert code == EXIT_NOT_FOUND
    assert capsys.readouterr().err == (
        f"kmskit: error: 'INPUT' must be a readable file. Received: '{missing_input}' "
        "(No such file or directory)\n"
    )
    assert listing(tmp_path) == ["in"]


ELEVEN_KEYS = [arg for n in range(11) for arg in ("--key", f"alias/k{n}")]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["encrypt", "--key", ALIAS, "--context", "a=b", "--frame-length", "0"],
            "'--frame-length' must be a multiple of 4096 from 4 KiB to 64 MiB. Received: 0",
        ),
        (
            ["encrypt", "--key", ALIAS, "--context", "a=b", "--frame-length", "1000"],
            "'--frame-length' must be a multiple of 4096 from 4 KiB to 64 MiB. Received: 1000",
        ),
        (
            ["encrypt", "--key", ALIAS, "--context", "a=b", "--frame-length", str(2**26 + 4096)],
            "'--frame-length' must be a multiple of 4096 from 4 KiB to 64 MiB. "
            f"Received: {2**26 + 4096}",
        ),
        (
            ["encrypt", *ELEVEN_KEYS, "--context", "a=b"],
            "'--key' must name at most 10 keys. Received: 11",
        ),
        (["decrypt", *ELEVEN_KEYS], "'--key' must name at most 10 keys. Received: 11"),
    ],
    ids=["frame 0", "frame 1000", "frame over 64 MiB", "encrypt 11 keys", "decrypt 11 keys"],
)
def test_a_bad_option_is_named_as_typed_not_as_the_library_parameter(
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    message: str,
) -> None:
    # The library says 'frame_length' and 'keys' (its Python parameters); the user typed
    # --frame-length and --key.
    source = tmp_path / "in"
    source.write_bytes(b"x")
    assert main([*command, str(source), str(tmp_path / "out")]) == EXIT_USAGE
    assert one_error_line(capsys) == f"kmskit: error: {message}"
    assert no_aws == []
    assert listing(tmp_path) == ["in"]


def test_named_as_typed_rewrites_only_the_parameters_it_is_given() -> None:
    with pytest.raises(UsageError) as renamed, named_as_typed("frame_length"):
        raise UsageError("'frame_length' must be a multiple of 4096. Received: 0")
    assert str(renamed.value) == "'--frame-length' must be a multiple of 4096. Received: 0"
    assert renamed.value.exit_code == EXIT_USAGE
    # Another parameter, a file that happens to be called like one, another error: unchanged.
    for error in (
        UsageError("'keys' must name at most 10 keys. Received: 11"),
        UsageError("'frame_length.pem' is not a PEM or DER public key"),
        NotFoundError("'frame_length' not found"),
    ):
        with pytest.raises(type(error)) as kept, named_as_typed("frame_length"):
            raise error
        assert kept.value is error


# -- encryption context that is not UTF-8 ---------------------------------------------------------

# Every command that takes an encryption context (--context), with placeholders for the rest:
# the value must be refused while the arguments are parsed, before any file or AWS call.
CONTEXT_COMMANDS = {
    "encrypt": ["encrypt", "--key", "alias/k", "--context", "{}", "IN", "OUT"],
    "decrypt": ["decrypt", "--context", "{}", "IN", "OUT"],
    "datakey new": ["datakey", "new", "--key", "alias/k", "--context", "{}"],
    "datakey decrypt": ["datakey", "decrypt", "--context", "{}", "IN"],
    "encrypt-small": ["encrypt-small", "--key", "alias/k", "--context", "{}", "IN", "OUT"],
    "decrypt-small": ["decrypt-small", "--context", "{}", "IN", "OUT"],
    "put": ["put", "--key", "alias/k", "--context", "a=b", "--context", "{}", "IN", "s3://b/k"],
    "get": ["get", "--context", "{}", "s3://b/k", "OUT"],
}
NOT_UTF8 = "'--context' must be UTF-8 text (the argument holds bytes that are not UTF-8). Received:"


@pytest.mark.parametrize("command", CONTEXT_COMMANDS)
# What Python makes of the argv bytes b"k=\xff", b"\xff=v" and b"team=caf\xe9" (Latin-1) on POSIX.
@pytest.mark.parametrize("value", ["k=\udcff", "\udcff=v", "team=caf\udce9"])
def test_a_context_that_is_not_utf8_is_refused_before_anything_else(
    command: str, value: str, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [value if arg == "{}" else arg for arg in CONTEXT_COMMANDS[command]]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == f"kmskit: error: {NOT_UTF8} {value!r}"
    assert no_aws == []


@pytest.mark.parametrize("command", CONTEXT_COMMANDS)
# `purpose=` is what `--context purpose=$UNSET` passes; check_context wants both non-empty.
@pytest.mark.parametrize("value", ["purpose=", "=backup"])
def test_a_context_with_an_empty_key_or_value_is_bad_usage(
    command: str,
    value: str,
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in"  # good enough for every command: datakey decrypt reads it first
    source.write_text('{"KeyId": "k", "CiphertextBlob": "eA==", "EncryptionContext": {}}')
    places = {"{}": value, "IN": str(source), "OUT": str(tmp_path / "out")}
    argv = [places.get(arg, arg) for arg in CONTEXT_COMMANDS[command]]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--context' must be key=value with a non-empty key and value. "
        f"Received: {value!r}"
    )
    assert no_aws == []
    assert listing(tmp_path) == ["in"]


def _arguments() -> list[tuple[str, argparse.ArgumentParser, argparse.Action]]:
    """(command, its parser, argument) for every argument of every subcommand that takes a
    value."""
    root = build_parser()
    return [
        (parser.prog.removeprefix("kmskit "), parser, action)
        for parser in [root, *subparsers_of(root)]
        for action in parser._actions
        if action.nargs not in (0, argparse.PARSER)
        and not isinstance(action, argparse._VersionAction)
    ]


def test_every_argument_but_file_names_must_be_utf8() -> None:
    """What a user types for a key, context, Region, account or s3:// location reaches AWS and
    must be UTF-8 text; a file name may hold any bytes. The parser checks every argument, so a
    new option cannot skip the check."""
    arguments = _arguments()
    with_context = {command for command, _, action in arguments if action.dest == "context"}
    assert with_context == set(CONTEXT_COMMANDS)
    assert {action.dest for _, _, action in arguments} >= FILE_ARGUMENTS
    for command, parser, action in arguments:
        name = max(action.option_strings, key=len) if action.option_strings else action.metavar
        if action.dest in FILE_ARGUMENTS:
            continue
        with pytest.raises(UsageError) as refused:
            parser._get_values(action, ["x\udcff"])
        assert str(refused.value).startswith(f"'{name or action.dest.upper()}' must be UTF-8"), (
            command
        )


@pytest.mark.parametrize(
    "argv",
    [
        ["encrypt", "--key", "alias/\udcff", "--context", "a=b", "IN", "OUT"],
        [
            "put",
            "--key",
            "alias/k",
            "--context",
            "a=b",
            "--sse-kms-key",
            "k\udcff",
            "IN",
            "s3://b/k",
        ],
        ["decrypt", "--region", "eu-west-1\udcff", "IN", "OUT"],
        ["snapshot", "copy", "snap-\udcff", "--to-region", "eu-west-1"],
    ],
)
def test_other_arguments_that_are_not_utf8_are_refused_before_aws(
    argv: list[str], no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_USAGE
    assert "must be UTF-8 text" in one_error_line(capsys)
    assert no_aws == []


def test_file_names_that_are_not_utf8_are_accepted(world: KmsWorld, tmp_path: Path) -> None:
    # A file name is bytes on POSIX: Latin-1 names are legal and must work.
    source = tmp_path / "caf\udce9.txt"
    source.write_bytes(b"data")
    target = tmp_path / "caf\udce9.enc"
    argv = ["encrypt", "-q", "--key", ALIAS, "--context", "a=b", str(source), str(target)]
    assert main(argv) == EXIT_OK
    assert target.stat().st_size > 0


def test_a_utf8_context_beyond_ascii_is_accepted(world: KmsWorld, tmp_path: Path) -> None:
    # UTF-8 beyond ASCII is text: only bytes that are not UTF-8 are refused.
    message = encrypt_file(tmp_path, b"data", "--context", "city=caf\u00e9-\u6771\u4eac")
    out = tmp_path / "out"
    argv = ["decrypt", "-q", "--context", "city=caf\u00e9-\u6771\u4eac", str(message), str(out)]
    assert main(argv) == EXIT_OK
    assert out.read_bytes() == b"data"


def test_subprocess_context_bytes_that_are_not_utf8_are_refused(tmp_path: Path) -> None:
    # The bytes themselves in argv, as a shell passes them ($'k=\xff'). Nothing may reach AWS:
    # the endpoint is a closed port, and an AWS call would fail with another message.
    source = tmp_path / "in"
    source.write_bytes(b"secret")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUTF8": "1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
    }
    argv: list[str | bytes] = [sys.executable, "-m", "kmskit", "encrypt", "--key", "alias/x"]
    done = subprocess.run(
        [*argv, "--context", b"k=\xff", str(source), "-"],
        capture_output=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == EXIT_USAGE
    assert done.stdout == b""
    assert done.stderr.decode() == f"kmskit: error: {NOT_UTF8} 'k=\\udcff'\n"


def test_stdin_to_stdout_in_process(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    data = os.urandom(100_000)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert main(["encrypt", "-q", "--key", ALIAS, "--context", "a=b", "-", "-"]) == EXIT_OK
    message = capsysbinary.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(message)))
    assert main(["decrypt", "-q", "--context", "a=b", "-", "-"]) == EXIT_OK
    assert capsysbinary.readouterr().out == data


# -- end to end: a subprocess against a moto server -------------------------------------------


def kmskit(
    env: dict[str, str], *argv: str, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kmskit", *argv],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def test_subprocess_pipe_round_trip_through_the_endpoint(server: dict[str, str]) -> None:
    data = os.urandom(2 * 2**20 + 7)
    encrypted = kmskit(
        server, "encrypt", "--key", "alias/e2e", "--context", "env=ci", "-", "-", stdin=data
    )
    assert encrypted.returncode == EXIT_OK, encrypted.stderr
    assert encrypted.stdout[:2] == b"\x02\x04"  # message format version 2, suite 0x0478
    decrypted = kmskit(server, "decrypt", "--context", "env=ci", "-", "-", stdin=encrypted.stdout)
    assert decrypted.returncode == EXIT_OK, decrypted.stderr
    assert decrypted.stdout == data
    assert b"decrypted - -> -: suite 0x0478 (not signed)" in decrypted.stderr


def test_subprocess_failure_writes_nothing_to_stdout(
    server: dict[str, str], tmp_path: Path
) -> None:
    data = os.urandom(50 * FRAME - 100)
    argv = [
        "encrypt",
        "-q",
        "--key",
        "alias/e2e",
        "--context",
        "env=ci",
        "--frame-length",
        str(FRAME),
    ]
    message = bytearray(kmskit(server, *argv, "-", "-", stdin=data).stdout)
    message[-30] ^= 1  # the last frame
    buffered = kmskit(server, "decrypt", "-", "-", stdin=bytes(message))
    assert buffered.returncode == EXIT_INTEGRITY
    assert buffered.stdout == b""
    assert b"tampered with" in buffered.stderr
    # The error, one line, and nothing after it: Python 3.13 printed the traceback of the SDK's
    # decryptor, left open, when it was finalized ("Exception ignored in: ...").
    assert buffered.stderr.startswith(b"kmskit: error: ")
    assert buffered.stderr.count(b"\n") == 1, buffered.stderr.decode()
    # --unbuffered streams authenticated frames as they come: the earlier frames are out
    # before the last one fails, which is why the exit code must be checked.
    streamed = kmskit(server, "decrypt", "--unbuffered", "-", "-", stdin=bytes(message))
    assert streamed.returncode == EXIT_INTEGRITY
    assert streamed.stdout == data[: 49 * FRAME]
    assert streamed.stderr == buffered.stderr


def test_subprocess_files_and_wrong_context(server: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "db.dump"
    source.write_bytes(os.urandom(300_000))
    encrypted = tmp_path / "db.dump.enc"
    done = kmskit(
        server,
        "encrypt",
        "--key",
        "alias/e2e",
        "--context",
        "db=orders",
        str(source),
        str(encrypted),
    )
    assert done.returncode == EXIT_OK, done.stderr
    wrong = kmskit(
        server, "decrypt", "--context", "db=users", str(encrypted), str(tmp_path / "out")
    )
    assert wrong.returncode == EXIT_INTEGRITY
    assert wrong.stderr.decode().startswith(
        "kmskit: error: wrong encryption context: expected db=users"
    )
    assert listing(tmp_path) == ["db.dump", "db.dump.enc"]
