"""What a command does with the file it writes: an existing OUTPUT is refused (exit 2, the file
left byte for byte) unless --force, before any AWS call, and also when the file appears while
the command runs; stdout, devices and FIFOs are written as always; writing a file in place
works with --force. A file error while the output is written (a full disk, /dev/full) names
the output, in one line."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kmskit import _io
from kmskit.cli import build_parser, main
from kmskit.commands import datakey
from kmskit.envelope import Envelope
from kmskit.envelope_kms import new_data_key_for_later
from kmskit.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, KmskitError, UsageError
from tests.kmskit.envelope_support import ALIAS, ROOT, KmsWorld, one_error_line

KEY = ALIAS
CONTEXT = ["--context", "purpose=test"]

# Every command that writes a file given on the command line: its argv up to that path ("IN"
# is an existing input file, "PEM" a public key file), and the argument's name in messages.
WRITERS = [
    (["encrypt", "--key", KEY, *CONTEXT, "IN"], "OUTPUT"),
    (["decrypt", "IN"], "OUTPUT"),
    (["encrypt-small", "--key", KEY, *CONTEXT, "IN"], "OUTPUT"),
    (["decrypt-small", "IN"], "OUTPUT"),
    (["datakey", "new", "--key", KEY, *CONTEXT], "OUTPUT"),
    (["datakey", "new", "--for-later", "--key", KEY, *CONTEXT], "OUTPUT"),
    (["datakey", "decrypt", "IN"], "OUTPUT"),
    (["pubkey", "export", "--key", KEY], "OUTPUT"),
    (["pubkey", "encrypt", "--key", KEY, "IN"], "OUTPUT"),
    (["pubkey", "encrypt", "--public-key", "PEM", "IN"], "OUTPUT"),
    (["pubkey", "decrypt", "--key", KEY, "IN"], "OUTPUT"),
    (["sign", "--key", KEY, "IN"], "SIGNATURE"),
    (["get", "s3://bucket/object"], "OUTPUT"),
    (["audit", "s3://bucket", "--key", KEY, "-o"], "--output"),
    (["key", "inventory", "--region", "eu-west-1", "--format", "csv", "-o"], "--output"),
]
WRITER_IDS = [" ".join(argv[:3]) for argv, _ in WRITERS]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"hello")
    pem = tmp_path / "public.pem"
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return {"IN": plain, "PEM": pem}


def argv_with(argv: list[str], files: dict[str, Path]) -> list[str]:
    return [str(files[arg]) if arg in files else arg for arg in argv]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def leaf_parsers() -> Iterator[tuple[str, Any]]:
    """(command, parser) of every subcommand that runs something."""

    def walk(parser: Any, prefix: str) -> Iterator[tuple[str, Any]]:
        found = False
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                found = True
                for name, child in action.choices.items():
                    yield from walk(child, f"{prefix} {name}".strip())
        if not found:
            yield prefix, parser

    yield from walk(build_parser(), "")


# --- an existing output ---------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "name"), WRITERS, ids=WRITER_IDS)
def test_an_existing_output_is_refused_before_any_aws_call_and_left_as_it_is(
    argv: list[str],
    name: str,
    files: dict[str, Path],
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "keep.json"
    target.write_bytes(b"the only encrypted copy of a data key")
    before = listing(tmp_path)
    assert main([*argv_with(argv, files), str(target)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{name}' ('{target}') exists: give --force to replace it"
    )
    assert no_aws == []
    assert target.read_bytes() == b"the only encrypted copy of a data key"
    assert listing(tmp_path) == before


def test_every_command_that_writes_a_file_takes_force_and_is_tested_above() -> None:
    writers = set()
    for command, parser in leaf_parsers():
        writes = any(
            "--output" in action.option_strings
            or (not action.option_strings and action.metavar in ("OUTPUT", "SIGNATURE"))
            for action in parser._actions
        )
        if writes:
            writers.add(command)
            assert "force" in {action.dest for action in parser._actions}, command
    # key import-material --save-material never replaces a file (it may hold other material).
    assert "key import-material" not in writers
    assert writers == {
        "encrypt",
        "decrypt",
        "encrypt-small",
        "decrypt-small",
        "datakey new",
        "datakey decrypt",
        "pubkey export",
        "pubkey encrypt",
        "pubkey decrypt",
        "sign",
        "get",
        "audit",
        "key inventory",
    }
    two_words = ("datakey", "pubkey", "key")
    tested = {" ".join(argv[: 2 if argv[0] in two_words else 1]) for argv, _ in WRITERS}
    assert tested == writers


@pytest.mark.parametrize("dangling", [False, True], ids=["link to a file", "dangling link"])
def test_a_symbolic_link_at_output_counts_as_existing(
    files: dict[str, Path], tmp_path: Path, no_aws: list[str], dangling: bool
) -> None:
    real = tmp_path / "real.txt"
    if not dangling:
        real.write_bytes(b"precious")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    argv = ["pubkey", "encrypt", "--public-key", str(files["PEM"]), str(files["IN"]), str(link)]
    assert main(argv) == EXIT_USAGE
    assert link.is_symlink()
    assert real.exists() is not dangling
    if not dangling:
        assert real.read_bytes() == b"precious"
    # With --force the link is followed: its target gets the output, the link stays.
    assert main([*argv[:-1], "--force", str(link)]) == EXIT_OK
    assert link.is_symlink()
    assert len(real.read_bytes()) == 256  # RSA 2048 ciphertext


def test_rerunning_datakey_new_for_later_keeps_the_first_key(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keep = tmp_path / "keep.json"
    argv = ["datakey", "new", "-q", "--for-later", "--key", ALIAS, *CONTEXT, str(keep)]
    assert main(argv) == EXIT_OK
    first = keep.read_bytes()
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: 'OUTPUT' ('{keep}') exists: give --force to replace it"
    )
    assert keep.read_bytes() == first
    # --force replaces it (a new data key), privately as before.
    assert main([*argv[:-1], "--force", str(keep)]) == EXIT_OK
    assert json.loads(keep.read_bytes())["CiphertextBlob"] != json.loads(first)["CiphertextBlob"]
    assert stat.S_IMODE(keep.stat().st_mode) == 0o600
    assert listing(tmp_path) == ["keep.json"]


def test_encrypt_with_swapped_arguments_leaves_the_plaintext(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, message = tmp_path / "notes.txt", tmp_path / "notes.enc"
    plain.write_bytes(b"plaintext")
    base = ["encrypt", "-q", "--key", ALIAS, *CONTEXT]
    assert main([*base, str(plain), str(message)]) == EXIT_OK
    sealed = message.read_bytes()
    assert main([*base, str(message), str(plain)]) == EXIT_USAGE  # swapped
    assert f"'OUTPUT' ('{plain}') exists" in one_error_line(capsys)
    assert plain.read_bytes() == b"plaintext"
    assert message.read_bytes() == sealed


def test_writing_a_file_in_place_needs_force_and_works_with_it(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    encrypt = ["encrypt", "-q", "--key", ALIAS, *CONTEXT, "--frame-length", "4096"]
    assert main([*encrypt, str(path), str(path)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: 'OUTPUT' ('{path}') exists: give --force to replace it"
    )
    assert path.read_bytes() == data
    assert main([*encrypt, "--force", str(path), str(path)]) == EXIT_OK
    assert path.read_bytes() != data
    assert main(["decrypt", "-q", "--force", *CONTEXT, str(path), str(path)]) == EXIT_OK
    assert path.read_bytes() == data
    small = tmp_path / "pin.txt"
    small.write_bytes(b"1234")
    assert main(["encrypt-small", "--force", "--key", ALIAS, *CONTEXT, str(small), str(small)]) == 0
    assert main(["decrypt-small", "--force", *CONTEXT, str(small), str(small)]) == EXIT_OK
    assert small.read_bytes() == b"1234"
    assert listing(tmp_path) == ["data.bin", "pin.txt"]


def test_a_file_that_appears_during_the_aws_calls_is_left_as_it_is(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The check before the AWS calls found no file; another run wrote one meanwhile.
    keep = tmp_path / "keep.json"

    def and_another_run_meanwhile(*args: Any, **kwargs: Any) -> Any:
        made = new_data_key_for_later(*args, **kwargs)
        keep.write_bytes(b"the other run's key")
        return made

    monkeypatch.setattr(datakey, "new_data_key_for_later", and_another_run_meanwhile)
    argv = ["datakey", "new", "-q", "--for-later", "--key", ALIAS, *CONTEXT, str(keep)]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write '{keep}': it exists; it was left as it is"
    )
    assert keep.read_bytes() == b"the other run's key"
    assert listing(tmp_path) == ["keep.json"]


@pytest.mark.parametrize("temporary", ["unnamed", "named"])
def test_a_file_that_appears_while_the_output_is_written_is_left_as_it_is(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    temporary: str,
) -> None:
    # The finished output is linked into place, which never replaces a file (no check-then-
    # rename race).
    if temporary == "named":
        monkeypatch.setattr(_io, "_unnamed_file", lambda folder, mode: None)
    source, target = tmp_path / "plain.txt", tmp_path / "plain.enc"
    source.write_bytes(b"plaintext")
    original = Envelope.encrypt_stream

    def and_another_run_meanwhile(self: Envelope, *args: Any, **kwargs: Any) -> Any:
        info = original(self, *args, **kwargs)
        target.write_bytes(b"the other run's message")
        return info

    monkeypatch.setattr(Envelope, "encrypt_stream", and_another_run_meanwhile)
    argv = ["encrypt", "-q", "--key", ALIAS, *CONTEXT, str(source), str(target)]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write '{target}': the file appeared while this command ran; "
        "it was left as it is"
    )
    assert target.read_bytes() == b"the other run's message"
    assert listing(tmp_path) == ["plain.enc", "plain.txt"]


def test_stdout_and_outputs_that_are_not_regular_files_are_not_refused(
    files: dict[str, Path], tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    base = ["pubkey", "encrypt", "-q", "--public-key", str(files["PEM"]), str(files["IN"])]
    assert main([*base, "-"]) == EXIT_OK
    assert len(capsysbinary.readouterr().out) == 256
    assert main([*base, os.devnull]) == EXIT_OK
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main([*base, str(fifo)]) == EXIT_OK
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert [len(r) for r in received] == [256]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_atomic_output_exclusive_refuses_an_existing_file_before_the_body_runs(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"precious")
    ran = []
    with pytest.raises(UsageError) as caught, _io.atomic_output(target, exclusive=True):
        ran.append(True)
    assert str(caught.value) == f"could not write '{target}': it exists; it was left as it is"
    assert ran == []
    assert target.read_bytes() == b"precious"
    assert _io.existing_output(target)
    assert not _io.existing_output(tmp_path / "new.bin")
    assert not _io.existing_output("-")
    assert not _io.existing_output(os.devnull)


def test_atomic_output_exclusive_writes_an_existing_fifo_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with _io.atomic_output(fifo, exclusive=True) as out:
        out.write(b"through the FIFO")
    reader.join(timeout=30)
    assert received == [b"through the FIFO"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- a file error while the output is written ----------------------------------------------------


class FullDisk(io.RawIOBase):
    """A file on a full disk: every write fails with ENOSPC."""

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.name = name

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def full_disk(monkeypatch: pytest.MonkeyPatch, temporary: str) -> None:
    """Make atomic_output's new file (unnamed, or the named .partial one) one on a full disk."""
    if temporary == "unnamed":
        monkeypatch.setattr(
            _io, "_unnamed_file", lambda folder, mode: io.BufferedWriter(FullDisk())
        )
        return

    def named(folder: Path, name: str) -> Any:
        partial = folder / f".{name}.test.partial"
        partial.write_bytes(b"")
        return io.BufferedWriter(FullDisk(str(partial)))

    monkeypatch.setattr(_io, "_unnamed_file", lambda folder, mode: None)
    monkeypatch.setattr(_io, "_named_temporary_file", named)


@pytest.mark.parametrize("temporary", ["unnamed", "named"])
def test_a_full_disk_names_the_output_and_keeps_the_old_file(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    temporary: str,
) -> None:
    source, target = tmp_path / "big.bin", tmp_path / "big.enc"
    source.write_bytes(os.urandom(300_000))
    target.write_bytes(b"previous message")
    full_disk(monkeypatch, temporary)
    argv = ["encrypt", "-q", "--force", "--key", ALIAS, *CONTEXT, "--frame-length", "65536"]
    assert main([*argv, str(source), str(target)]) == EXIT_FAILURE
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write '{target}': No space left on device"
    )
    assert target.read_bytes() == b"previous message"
    assert listing(tmp_path) == ["big.bin", "big.enc"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_dev_full_as_output_is_named(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(300_000))
    for argv in (
        ["encrypt", "-q", "--key", ALIAS, *CONTEXT, "--frame-length", "65536", str(source)],
        ["datakey", "new", "-q", "--for-later", "--key", ALIAS, *CONTEXT],  # written at once
    ):
        assert main([*argv, "/dev/full"]) == EXIT_FAILURE, argv
        assert one_error_line(capsys) == (
            "kmskit: error: could not write '/dev/full': No space left on device"
        )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_stdout_on_a_full_device_is_named(files: dict[str, Path]) -> None:
    # No AWS call: pubkey encrypt with a public key file.
    argv = ["pubkey", "encrypt", "-q", "--public-key", str(files["PEM"]), str(files["IN"]), "-"]
    with open("/dev/full", "wb") as full:
        child = subprocess.run(
            [sys.executable, "-m", "kmskit", *argv],
            stdout=full,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
    assert child.returncode == EXIT_FAILURE
    assert child.stderr == (
        b"kmskit: error: could not write standard output: No space left on device\n"
    )


def test_a_full_tmpdir_while_holding_the_plaintext_for_stdout_says_what_to_do(
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: "could not use a file: File too large", as if the input or output had failed.
    message = tmp_path / "message.bin"
    message.write_bytes(Envelope([ALIAS]).encrypt(b"payload", {"purpose": "test"}))

    def full(self: Any, data: bytes) -> int:
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "write", full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["decrypt", "-q", "--key", ALIAS, str(message), "-"]) == EXIT_FAILURE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "kmskit: error: could not hold the output until it is verified in a temporary file in "
        f"TMPDIR ({tmp_path}): File too large. Set TMPDIR to a directory with room, write to a "
        "file instead of a stream, or stream it before it is verified (decrypt --unbuffered; "
        "buffer_streams=False)\n"
    )


_LAST_BYTES_OVER_THE_FILE_SIZE_LIMIT = """
import resource, sys
from kmskit.envelope import write_verified
from kmskit.errors import KmskitError
MIB = 2**20
# 9 MiB go to the file (the spool rolled over at 8 MiB); the last 6,000 bytes stay in its
# write buffer until write_verified reads the file back, and the limit falls in them.
resource.setrlimit(resource.RLIMIT_FSIZE, (9 * MIB + 2000, 9 * MIB + 2000))
def produce(sink):
    for _ in range(9 * MIB // 4096):
        sink.write(b"x" * 4096)
    sink.write(b"x" * 4096)
    sink.write(b"x" * 1904)
    return "info"
try:
    write_verified("/dev/null", produce)
except KmskitError as error:
    sys.exit(f"KmskitError: {error}")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_FSIZE")
def test_tmpdir_failing_as_the_last_buffered_bytes_are_written_says_what_to_do(
    tmp_path: Path,
) -> None:
    # Before: the write that failed was the temporary file's final flush (reading it back),
    # outside the TMPDIR wording: a bare OSError 'File too large'.
    child = subprocess.run(
        [sys.executable, "-c", _LAST_BYTES_OVER_THE_FILE_SIZE_LIMIT],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert child.stderr.decode() == (
        "KmskitError: could not hold the output until it is verified in a temporary file in "
        f"TMPDIR ({tmp_path}): File too large. Set TMPDIR to a directory with room, write to a "
        "file instead of a stream, or stream it before it is verified (decrypt --unbuffered; "
        "buffer_streams=False)\n"
    )


def test_an_error_of_the_writer_itself_is_not_taken_for_a_write_error(tmp_path: Path) -> None:
    # Only what is written to the output is named as the output's error: a failed read of
    # the input inside the block stays the input's.
    target = tmp_path / "out.bin"

    def read_fails_while_writing() -> None:
        with _io.atomic_output(target) as out:
            out.write(b"x")
            raise OSError(errno.EIO, "Input/output error", "in.bin")

    with pytest.raises(OSError, match="Input/output error") as caught:
        read_fails_while_writing()
    assert not isinstance(caught.value, KmskitError)
    assert caught.value.filename == "in.bin"
    assert listing(tmp_path) == []
