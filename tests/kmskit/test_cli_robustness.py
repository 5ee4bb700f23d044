"""The CLI against what scripts and operators actually hand it: outputs that are not regular files
(a device, a FIFO, a symbolic link, /dev/fd/N), options given an empty value (an unset shell
variable), a malformed --region or AWS_ENDPOINT_URL, inputs far too large (/dev/zero), replies
that are not AWS's. Each gets one line on stderr and the documented exit code, and
never a replaced device or a leftover temporary file."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import threading
import tty
from pathlib import Path
from typing import IO, Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from kmskit import _io
from kmskit.cli import _Parser, build_parser, main
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    AccessDeniedError,
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

CONTEXT = ["--context", "purpose=test"]


def partials(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir() if p.name.endswith(".partial")]


def encrypted(tmp_path: Path, data: bytes) -> Path:
    source = tmp_path / "plain.bin"
    source.write_bytes(data)
    message = tmp_path / "plain.bin.enc"
    assert main(["encrypt", "-q", "--key", ALIAS, *CONTEXT, str(source), str(message)]) == 0
    source.unlink()
    return message


# -- outputs that are not regular files -----------------------------------------------------------


def test_decrypt_into_a_fifo_writes_through_it_and_keeps_the_fifo(
    world: KmsWorld, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    message = encrypted(tmp_path, data)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    assert main(["decrypt", "-q", str(message), str(fifo)]) == EXIT_OK
    reader.join(timeout=30)
    assert not reader.is_alive(), "the FIFO's reader never saw the end of the output"
    assert received == [data]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert partials(tmp_path) == []


def test_decrypt_into_a_terminal_writes_through_the_device(world: KmsWorld, tmp_path: Path) -> None:
    # A pseudo-terminal is a character device any user may open: no root needed.
    message = encrypted(tmp_path, b"secret plaintext")
    controller, terminal = os.openpty()
    try:
        tty.setraw(terminal)
        assert main(["decrypt", "-q", str(message), os.ttyname(terminal)]) == EXIT_OK
        assert os.read(controller, 1024) == b"secret plaintext"
    finally:
        os.close(controller)
        os.close(terminal)


# Only root may make a device node (CI runs as root); the pseudo-terminal test above covers the
# same path for everyone else.
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mknod needs root")
def test_decrypt_into_a_character_device_keeps_the_device(world: KmsWorld, tmp_path: Path) -> None:
    message = encrypted(tmp_path, b"secret plaintext")
    null = tmp_path / "fakenull"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # as /dev/null
    assert main(["decrypt", "-q", str(message), str(null)]) == EXIT_OK
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert null.read_bytes() == b""  # still /dev/null, not a file of plaintext
    assert partials(tmp_path) == []


def test_output_through_a_symlink_writes_its_target_and_keeps_the_link(
    world: KmsWorld, tmp_path: Path
) -> None:
    message = encrypted(tmp_path, b"new plaintext")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = elsewhere / "current.txt"
    real.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    # The link names an existing file: replacing it takes --force (see test_cli_outputs.py).
    assert main(["decrypt", "-q", "--force", str(message), str(link)]) == EXIT_OK
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_bytes() == b"new plaintext"
    assert partials(tmp_path, elsewhere) == []


def test_output_through_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "link.bin"
    link.symlink_to(elsewhere / "new.bin")
    with _io.atomic_output(link) as out:
        out.write(b"data")
    assert link.is_symlink()
    assert (elsewhere / "new.bin").read_bytes() == b"data"
    assert partials(tmp_path, elsewhere) == []


SHARED = stat.S_ISVTX | 0o777  # like /tmp: world-writable and sticky


@pytest.mark.parametrize(
    ("link_owner", "directory_mode", "directory_owner", "allowed"),
    [
        (2000, SHARED, 0, False),  # another user's link in /tmp
        (1000, SHARED, 0, True),  # the user's own link
        (0, SHARED, 0, True),  # the directory owner's link
        (2000, 0o777, 0, True),  # world-writable, not sticky
        (2000, stat.S_ISVTX | 0o775, 0, True),  # sticky, not world-writable
        (2000, 0o755, 2000, True),  # an ordinary directory
    ],
)
def test_links_are_followed_by_the_kernels_protected_symlinks_rule(
    link_owner: int, directory_mode: int, directory_owner: int, allowed: bool
) -> None:
    assert _io.may_follow_link(link_owner, directory_mode, directory_owner, 1000) is allowed


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's link needs root")
def test_another_users_link_in_a_shared_directory_is_not_followed(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # In /tmp, user nobody points shared/report.txt at a file of ours; kmskit resolves links
    # itself (to rename onto the target), so it must refuse what the kernel would refuse.
    shared, home = tmp_path / "shared", tmp_path / "home"
    shared.mkdir()
    shared.chmod(SHARED)
    home.mkdir()
    victim = home / "authorized_keys"
    victim.write_bytes(b"ssh-ed25519 AAAA ours")
    link = shared / "report.txt"
    link.symlink_to(victim)
    os.lchown(link, 65534, 65534)
    source = tmp_path / "in.txt"
    source.write_bytes(b"theirs")
    argv = ["encrypt-small", "--key", ALIAS, "--context", "a=b", str(source), str(link)]
    assert main(argv) == EXIT_ACCESS_DENIED
    assert "must not be a symbolic link that another user (uid 65534) made in the shared" in (
        one_error_line(capsys)
    )
    assert no_aws == []
    assert victim.read_bytes() == b"ssh-ed25519 AAAA ours"
    with pytest.raises(AccessDeniedError), _io.atomic_output(link) as out:
        out.write(b"theirs")
    assert victim.read_bytes() == b"ssh-ed25519 AAAA ours"
    assert partials(shared, home) == []


def test_a_failed_write_through_a_symlink_keeps_the_target(tmp_path: Path) -> None:
    real = tmp_path / "real.bin"
    real.write_bytes(b"precious")
    link = tmp_path / "link.bin"
    link.symlink_to(real)

    def fail_halfway() -> None:
        with _io.atomic_output(link) as out:
            out.write(b"half")
            raise RuntimeError("failed")

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert real.read_bytes() == b"precious"
    assert link.is_symlink()
    assert partials(tmp_path) == []


def test_output_to_an_open_file_descriptor_is_written_in_place(tmp_path: Path) -> None:
    """/dev/fd/N (and /dev/stdout): no temporary file, no rename of /dev/fd's entry."""
    read_end, write_end = os.pipe()
    try:
        with _io.atomic_output(f"/dev/fd/{write_end}") as out:
            out.write(b"through the pipe")
        os.close(write_end)
        write_end = -1
        with os.fdopen(read_end, "rb") as reader:
            read_end = -1
            assert reader.read() == b"through the pipe"
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)


def test_output_that_must_be_new_refuses_an_existing_fifo(tmp_path: Path) -> None:
    # Generated key material (refuse_special): not even written into a FIFO someone made.
    fifo = tmp_path / "material.fifo"
    os.mkfifo(fifo)
    with (
        pytest.raises(UsageError, match="it exists"),
        _io.atomic_output(fifo, exclusive=True, refuse_special=True),
    ):
        pass
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_exclusive_output_still_writes_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "material.bin"
    with _io.atomic_output(target, exclusive=True) as out:
        out.write(b"key")
    assert target.read_bytes() == b"key"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


# -- options given the empty string ---------------------------------------------------------------

EMPTY_OPTIONS = [
    (["key", "import-material", "KEY", "--material", "IN", "--expires", ""], "--expires"),
    (["key", "import-material", "KEY", "--generate", "--save-material", ""], "--save-material"),
    (["key", "import-material", "KEY", "--material", ""], "--material"),
    (["put", "--key", "alias/k", "--sse-kms-key", "", "IN", "s3://b/k"], "--sse-kms-key"),
    (["put", "--key", "alias/k", "--sse-kms-key=", "IN", "s3://b/k"], "--sse-kms-key"),
    (["decrypt-small", "--key", "", "IN", "OUT"], "--key"),
    (["datakey", "decrypt", "--key", "", "IN"], "--key"),
    (["encrypt-small", "--key", "", *CONTEXT, "IN", "OUT"], "--key"),
    (["datakey", "new", "--key", "", *CONTEXT], "--key"),
    (["sign", "--key", "", "IN", "OUT"], "--key"),
    (["pubkey", "export", "--key", ""], "--key"),
    (["pubkey", "decrypt", "--key", "", "IN", "OUT"], "--key"),
    (["pubkey", "encrypt", "--public-key", "", "IN", "OUT"], "--public-key"),
    (["verify", "--key", "alias/k", "--signature", "", "IN"], "--signature"),
    (["encrypt", "--key", "alias/k", "--context", "", "IN", "OUT"], "--context"),
    (["encrypt", "--key", "alias/k", *CONTEXT, "--region", "", "IN", "OUT"], "--region"),
    (["decrypt", "--profile", "", "IN", "OUT"], "--profile"),
    (["decrypt", "--max-attempts", "", "IN", "OUT"], "--max-attempts"),
    (["audit", "s3://bucket", "--output", ""], "--output"),
    (["audit", "s3://bucket", "--key", ""], "--key"),
]


@pytest.mark.parametrize(("argv", "option"), EMPTY_OPTIONS)
@pytest.mark.parametrize("value", ["", "  "])
def test_an_option_given_an_empty_value_is_bad_usage_naming_it(
    argv: list[str],
    option: str,
    value: str,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if f"{option}=" in argv:
        argv = [f"{option}={value}" if a == f"{option}=" else a for a in argv]
    else:
        at = argv.index(option) + 1
        argv = [*argv[:at], value, *argv[at + 1 :]]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{option}' must not be empty. Received: {value!r}"
    )
    assert no_aws == []


def test_every_subcommand_parser_refuses_empty_values() -> None:
    """The check lives in _Parser: every subcommand's parser must be one."""
    parser = build_parser()
    children = list(subparsers_of(parser))
    assert len(children) > 10
    assert all(isinstance(child, _Parser) for child in [parser, *children])


# -- --region and AWS_ENDPOINT_URL ------------------------------------------------------------


@pytest.mark.parametrize("region", ["eu west 1", "EU-WEST-1", "eu-west-1\n"])
def test_a_malformed_region_is_bad_usage_naming_it(
    region: str, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.txt"
    source.write_text("x")
    argv = ["encrypt", "--key", "alias/k", *CONTEXT, "--region", region, str(source), "-"]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '--region' must be an AWS Region name. Received: {region!r}"
    )
    assert no_aws == []


def test_a_malformed_endpoint_url_is_bad_usage_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    source = tmp_path / "in.txt"
    source.write_text("x")
    argv = ["encrypt-small", "--key", "alias/k", *CONTEXT, "--region", REGION, str(source), "-"]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: 'AWS_ENDPOINT_URL' must be a URL such as "
        "https://kms.eu-west-1.amazonaws.com. Received: 'not a url'"
    )


def test_another_value_error_is_not_taken_for_an_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr("kmskit.commands.small.encrypt_small", broken)
    source = tmp_path / "in.txt"
    source.write_text("x")
    with pytest.raises(ValueError, match="a bug"):
        main(["encrypt-small", "--key", "alias/k", *CONTEXT, str(source), str(tmp_path / "out")])


# -- replies that are not AWS's, and AWS messages over several lines -----------------------------


def test_a_reply_botocore_cannot_parse_is_one_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def proxy_page(*_: Any, **__: Any) -> Any:
        raise ResponseParserError(
            "Unable to parse response (syntax error: line 1, column 0), invalid XML received. "
            "Further retries may succeed:\nb'<html>\\n<body>502 Bad Gateway</body>\\n</html>'"
        )

    monkeypatch.setattr("kmskit.commands.small.encrypt_small", proxy_page)
    source = tmp_path / "in.txt"
    source.write_text("x")
    argv = ["encrypt-small", "--key", "alias/k", *CONTEXT, str(source), str(tmp_path / "out")]
    assert main(argv) == EXIT_FAILURE
    line = one_error_line(capsys)
    assert "could not read the response to an AWS call" in line
    assert "502 Bad Gateway" in line


def test_an_aws_message_over_several_lines_is_printed_on_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(*_: Any, **__: Any) -> Any:
        error = {"Code": "ValidationException", "Message": "first line\n  second line\r\nthird"}
        raise ClientError({"Error": error}, "Encrypt")

    monkeypatch.setattr("kmskit.commands.small.encrypt_small", refused)
    source = tmp_path / "in.txt"
    source.write_text("x")
    argv = ["encrypt-small", "--key", "alias/k", *CONTEXT, str(source), str(tmp_path / "out")]
    assert main(argv) == EXIT_FAILURE
    assert one_error_line(capsys) == (
        "kmskit: error: could not call Encrypt: ValidationException: first line second line third"
    )


# -- inputs far too large ---------------------------------------------------------------------


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    limit = 1536 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def kmskit_limited(
    tmp_path: Path, *argv: str, stdin: IO[bytes] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m kmskit`` with 1.5 GiB of address space: reading /dev/zero whole fails fast."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never reached: refused before any call
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return subprocess.run(
        [sys.executable, "-m", "kmskit", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=120,
        preexec_fn=_limit_memory,
        stdin=stdin,
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["verify", "--public-key", "k.pem", "--signature", "/dev/zero", "data"], "--signature"),
        (["verify", "--public-key", "/dev/zero", "--signature", "sig", "data"], "--public-key"),
        (["pubkey", "encrypt", "--public-key", "/dev/zero", "data", "out"], "--public-key"),
        (["key", "import-material", "alias/x", "--material", "/dev/zero"], "--material"),
    ],
)
def test_an_endless_input_is_refused_without_reading_it_whole(
    argv: list[str], option: str, tmp_path: Path
) -> None:
    for name in ("k.pem", "sig", "data"):
        (tmp_path / name).write_bytes(b"x")
    done = kmskit_limited(tmp_path, *argv)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr.startswith(f"kmskit: error: '{option}' must "), done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "k.pem", "sig"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_signature_on_stdin_is_refused_without_reading_it_whole(
    tmp_path: Path,
) -> None:
    # `verify --signature - < /dev/zero`: stdin is read as far as a signature can go, as the
    # file named by --signature is.
    for name in ("k.pem", "data"):
        (tmp_path / name).write_bytes(b"x")
    argv = ["verify", "--public-key", "k.pem", "--signature", "-", "data"]
    with Path("/dev/zero").open("rb") as zeros:
        done = kmskit_limited(tmp_path, *argv, stdin=zeros)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr == (
        "kmskit: error: '--signature' must hold 1-4627 bytes. Received: more than 4627 bytes\n"
    )


def test_a_large_public_key_file_is_refused_by_its_size(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.pem"
    with big.open("wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: refused by its size, never read
    data = tmp_path / "data"
    data.write_bytes(b"x")
    argv = ["pubkey", "encrypt", "--public-key", str(big), str(data), str(tmp_path / "out")]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--public-key' must be a public key file (PEM or DER) of at most 16384 "
        f"bytes. Received: '{big}' ({3 * 2**30} bytes)"
    )


def test_a_public_key_from_a_pipe_is_read_once(tmp_path: Path, world: KmsWorld) -> None:
    """`--public-key <(...)`: the pipe is read once, and the key in it is used."""
    arn = world.new_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    pem = tmp_path / "key.pem"
    assert main(["pubkey", "export", "-q", "--key", arn, str(pem)]) == EXIT_OK
    data = tmp_path / "data"
    data.write_bytes(b"secret")
    read_end, write_end = os.pipe()
    os.write(write_end, pem.read_bytes())
    os.close(write_end)
    out = tmp_path / "out"
    try:
        argv = ["pubkey", "encrypt", "-q", "--public-key", f"/dev/fd/{read_end}", str(data)]
        assert main([*argv, str(out)]) == EXIT_OK
    finally:
        os.close(read_end)
    assert len(out.read_bytes()) == 256  # RSA 2048
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "key.pem", "out"]


def test_a_garbled_public_key_from_a_pipe_names_the_pipe(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"x")
    read_end, write_end = os.pipe()
    os.write(write_end, b"not a key")
    os.close(write_end)
    try:
        argv = ["pubkey", "encrypt", "--public-key", f"/dev/fd/{read_end}", str(data), "-"]
        assert main(argv) == EXIT_USAGE
    finally:
        os.close(read_end)
    line = one_error_line(capsys)
    assert line.startswith(f"kmskit: error: '/dev/fd/{read_end}' is not a PEM or DER public key")
