"""kmskit encrypt / decrypt on the command line: flags, exit codes, '-' for stdin/stdout, and
never a half-written output. In-process against moto, and end to end in a subprocess
(``python -m kmskit``) against a ThreadedMotoServer through AWS_ENDPOINT_URL."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from kmskit.cli import main
from kmskit.envelope import Envelope
from kmskit.errors import EXIT_CONFLICT, EXIT_INTEGRITY, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from tests.kmskit.envelope_support import ALIAS, REGION, KmsWorld, kms_world

ROOT = Path(__file__).resolve().parents[2]
FRAME = 4096


@pytest.fixture
def world() -> Iterator[KmsWorld]:
    with kms_world() as kms:
        yield kms


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


def test_existing_output_is_kept_when_decrypt_fails(world: KmsWorld, tmp_path: Path) -> None:
    encrypted = encrypt_file(tmp_path, b"new")
    out = tmp_path / "out.txt"
    out.write_text("previous version")
    assert (
        main(["decrypt", "-q", "--context", "purpose=x", str(encrypted), str(out)])
        == EXIT_INTEGRITY
    )
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
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == EXIT_USAGE
    assert f"unrecognized arguments: {abbreviation}" in capsys.readouterr().err


def test_encrypt_usage_errors(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    source.write_bytes(b"x")
    with pytest.raises(SystemExit) as missing:
        main(["encrypt", "--key", ALIAS, str(source), str(tmp_path / "out")])
    assert missing.value.code == EXIT_USAGE
    assert "--context" in capsys.readouterr().err
    argv = ["encrypt", "--key", ALIAS, "--context", "a=b", "--frame-length", "1000"]
    assert main([*argv, str(source), str(tmp_path / "out")]) == EXIT_USAGE
    assert "'frame_length' must be a multiple of 4096" in capsys.readouterr().err
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


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, str]]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    kms = boto3.client("kms", region_name=REGION, endpoint_url=endpoint)
    key = kms.create_key(Description="cli end to end")["KeyMetadata"]
    kms.create_alias(AliasName="alias/e2e", TargetKeyId=key["KeyId"])
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "PYTHONPATH": str(ROOT),
    }
    yield env
    moto.stop()


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
    # --unbuffered streams authenticated frames as they come: the earlier frames are out
    # before the last one fails, which is why the exit code must be checked.
    streamed = kmskit(server, "decrypt", "--unbuffered", "-", "-", stdin=bytes(message))
    assert streamed.returncode == EXIT_INTEGRITY
    assert streamed.stdout == data[: 49 * FRAME]


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
