"""The CLI contract for file problems, retry settings and a closed stdout pipe: one line on
stderr starting with ``kmskit: error:``, naming the argument and the path, the documented exit
code, no traceback, and no AWS call before the paths were checked."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import kmskit.envelope_s3
from kmskit import _io
from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    NotFoundError,
    UsageError,
)
from tests._support.platforms import FILE_OUTPUT_PLATFORMS
from tests.kmskit.envelope_support import ROOT, one_error_line

KEY = "alias/app-data"
CONTEXT = ["--context", "purpose=test"]


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    path = tmp_path / "plain.txt"
    path.write_bytes(b"hello")
    return path


# Every command that writes a file: its argv up to the output path ("IN" stands for an existing
# input file), and the name of the output argument in messages.
OUTPUT_COMMANDS = [
    (["encrypt", "--key", KEY, *CONTEXT, "IN"], "OUTPUT"),
    (["decrypt", "IN"], "OUTPUT"),
    (["encrypt-small", "--key", KEY, *CONTEXT, "IN"], "OUTPUT"),
    (["decrypt-small", "IN"], "OUTPUT"),
    (["datakey", "new", "--key", KEY, *CONTEXT], "OUTPUT"),
    (["pubkey", "export", "--key", KEY], "OUTPUT"),
    (["pubkey", "decrypt", "--key", KEY, "IN"], "OUTPUT"),
    (["sign", "--key", KEY, "IN"], "SIGNATURE"),
    (["get", "s3://bucket/object"], "OUTPUT"),
    (["audit", "s3://bucket", "--key", KEY, "-o"], "--output"),
    (["key", "import-material", KEY, "--generate", "--save-material"], "--save-material"),
]
OUTPUT_IDS = [" ".join(argv[:2]) for argv, _ in OUTPUT_COMMANDS]


def with_input(argv: list[str], plain: Path) -> list[str]:
    return [str(plain) if arg == "IN" else arg for arg in argv]


@pytest.mark.parametrize(("argv", "name"), OUTPUT_COMMANDS, ids=OUTPUT_IDS)
def test_output_in_a_missing_directory_is_refused_before_any_aws_call(
    argv: list[str],
    name: str,
    plain: Path,
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = with_input(argv, plain)
    target = tmp_path / "no-such-dir" / "out.bin"
    assert main([*argv, str(target)]) == EXIT_NOT_FOUND
    line = one_error_line(capsys)
    assert line == (
        f"kmskit: error: '{name}' must be in an existing directory. Received: '{target}' "
        f"('{target.parent}': No such file or directory)"
    )
    assert no_aws == []


@pytest.mark.parametrize(("argv", "name"), OUTPUT_COMMANDS, ids=OUTPUT_IDS)
def test_output_that_is_a_directory_is_refused_before_any_aws_call(
    argv: list[str],
    name: str,
    plain: Path,
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = with_input(argv, plain)
    folder = tmp_path / "folder"
    folder.mkdir()
    assert main([*argv, str(folder)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{name}' must be a file, not a directory. Received: '{folder}'"
    )
    assert no_aws == []
    assert list(folder.iterdir()) == []


def test_output_under_a_file_is_bad_usage(
    plain: Path, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    target = plain / "out.bin"  # plain.txt is a file, not a directory
    assert main(["encrypt", "--key", KEY, *CONTEXT, str(plain), str(target)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: 'OUTPUT' must be in a directory. Received: '{target}' "
        f"('{plain}' is not a directory)"
    )


def test_output_in_a_read_only_directory_is_access_denied(
    plain: Path,
    tmp_path: Path,
    no_aws: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    target = locked / "out.bin"
    if os.geteuid() == 0:  # root may write anywhere: make the check see what a user would
        real_access = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda path, mode: (
                False if Path(path) == locked and mode & os.W_OK else real_access(path, mode)
            ),
        )
    assert main(["encrypt", "--key", KEY, *CONTEXT, str(plain), str(target)]) == (
        EXIT_ACCESS_DENIED
    )
    assert "'OUTPUT' must be in a directory you may write to" in one_error_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["encrypt", "--key", KEY, *CONTEXT],
        ["decrypt"],
        ["encrypt-small", "--key", KEY, *CONTEXT],
        ["decrypt-small"],
        ["datakey", "decrypt"],
        ["pubkey", "decrypt", "--key", KEY],
        ["sign", "--key", KEY],
    ],
)
def test_missing_input_is_not_found_before_any_aws_call(
    argv: list[str], tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.txt"
    assert main([*argv, str(missing), str(tmp_path / "out")]) == EXIT_NOT_FOUND
    assert one_error_line(capsys) == (
        f"kmskit: error: 'INPUT' must be a readable file. Received: '{missing}' "
        "(No such file or directory)"
    )
    assert no_aws == []
    assert list(tmp_path.iterdir()) == []


def test_missing_input_of_put_and_verify(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.txt"
    assert main(["put", "--key", KEY, str(missing), "s3://bucket/object"]) == EXIT_NOT_FOUND
    assert f"'INPUT' must be a readable file. Received: '{missing}'" in one_error_line(capsys)
    signature = tmp_path / "sig"
    signature.write_bytes(b"x")
    argv = ["verify", "--key", KEY, "--signature", str(signature), str(missing)]
    assert main(argv) == EXIT_NOT_FOUND
    assert f"'INPUT' must be a readable file. Received: '{missing}'" in one_error_line(capsys)


def test_input_that_is_a_directory_is_bad_usage(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["encrypt", "--key", KEY, *CONTEXT, str(tmp_path), str(tmp_path / "out")]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: 'INPUT' must be a readable file, not a directory. Received: '{tmp_path}'"
    )


def test_public_key_that_is_a_directory_is_bad_usage(
    plain: Path, tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["pubkey", "encrypt", "--public-key", str(tmp_path), str(plain), str(tmp_path / "o")]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '--public-key' must be a readable file. Received: '{tmp_path}' "
        "(Is a directory)"
    )


def test_any_other_file_error_is_one_line_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(_: Path) -> None:
        raise PermissionError(13, "Permission denied", "/data/cdk.out/A.template.json")

    monkeypatch.setattr("kmskit.commands.cost.summarize", fail)
    assert main(["cost", "cdk.out"]) == EXIT_ACCESS_DENIED
    assert one_error_line(capsys) == (
        "kmskit: error: could not use '/data/cdk.out/A.template.json': Permission denied"
    )


# --- atomic_output, the library side ------------------------------------------------------------


@pytest.fixture(params=["unnamed", "named", *FILE_OUTPUT_PLATFORMS])
def temporary_files(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each atomic_output test runs with Linux's unnamed temporary files (O_TMPFILE), with
    the named ``.partial`` file used where there are none, and on macOS, a Linux without /proc
    and Windows as simulated here (tests/_support/platforms.py)."""
    if request.param == "named":
        monkeypatch.setattr(_io, "_unnamed_file", lambda folder, mode: None)
    elif request.param in FILE_OUTPUT_PLATFORMS:
        FILE_OUTPUT_PLATFORMS[request.param](monkeypatch)
    return str(request.param)


@pytest.mark.skipif(sys.platform != "linux", reason="unnamed files are Linux's O_TMPFILE")
def test_the_output_has_no_name_until_it_is_complete(tmp_path: Path) -> None:
    # A process killed outright (SIGKILL, the OOM killer) while writing leaves nothing behind.
    probe = _io._unnamed_file(tmp_path, 0o600)
    assert probe is not None, "this Linux file system has no O_TMPFILE"
    probe.close()
    target = tmp_path / "plain.txt"
    with _io.atomic_output(target) as out:
        out.write(b"secret")
        out.flush()
        assert list(tmp_path.iterdir()) == []
    assert target.read_bytes() == b"secret"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["plain.txt"]


def test_atomic_output_replaces_a_file_and_leaves_nothing_on_failure(
    tmp_path: Path, temporary_files: str
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"before")

    def fail_mid_write() -> None:
        with _io.atomic_output(target) as out:
            out.write(b"half")
            raise RuntimeError("failed mid-write")

    with pytest.raises(RuntimeError):
        fail_mid_write()
    assert target.read_bytes() == b"before"
    with _io.atomic_output(target) as out:
        out.write(b"after")
    assert target.read_bytes() == b"after"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_output_names_a_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "gone" / "out.bin"
    with pytest.raises(NotFoundError) as error, _io.atomic_output(target):
        raise AssertionError("atomic_output must fail before the body runs")
    assert f"Received: '{target}'" in str(error.value)


def test_atomic_output_rename_failure_is_an_error_and_leaves_nothing(
    tmp_path: Path, temporary_files: str
) -> None:
    target = tmp_path / "out.bin"

    def write() -> None:
        with _io.atomic_output(target) as out:
            out.write(b"data")
            target.mkdir()  # appears while the output is written: os.replace cannot replace it

    with pytest.raises(UsageError) as error:
        write()
    assert str(error.value) == f"could not write '{target}': Is a directory"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert target.is_dir()


def write_ours(target: Path, *, theirs: bytes | None = None) -> None:
    """Write b"ours" to ``target`` the way key material is saved (exclusive atomic_output).
    ``theirs``: what another run writes to ``target`` meanwhile (default None: nothing)."""
    with _io.atomic_output(target, exclusive=True) as out:
        out.write(b"ours")
        if theirs is not None:
            target.write_bytes(theirs)


def test_exclusive_atomic_output_never_replaces_a_file_that_appeared_meanwhile(
    tmp_path: Path, temporary_files: str
) -> None:
    # Saved key material may be the only copy: another run's file at the same path must survive.
    target = tmp_path / "material.bin"
    with pytest.raises(UsageError) as error:
        write_ours(target, theirs=b"theirs")
    assert str(error.value) == (
        f"could not write '{target}': the file appeared while this command ran; "
        "it was left as it is"
    )
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["material.bin"]


def test_exclusive_atomic_output_writes_a_new_file_private(
    tmp_path: Path, temporary_files: str
) -> None:
    target = tmp_path / "material.bin"
    write_ours(target)
    assert target.read_bytes() == b"ours"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["material.bin"]


def record_fsyncs(monkeypatch: pytest.MonkeyPatch, target: Path) -> list[tuple[str, bool]]:
    """Record each fsync(2) as (the path of the descriptor, whether ``target`` existed then)."""
    fsync = os.fsync
    synced: list[tuple[str, bool]] = []

    def recording(descriptor: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{descriptor}"), target.exists()))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    return synced


@pytest.mark.skipif(sys.platform != "linux", reason="reads descriptor paths from /proc/self/fd")
@pytest.mark.parametrize("temporary", ["unnamed", "named"])
@pytest.mark.parametrize("exclusive", [False, True])
def test_the_directory_is_synced_after_the_file_is_put_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temporary: str, exclusive: bool
) -> None:
    # The file's own fsync does not make its name durable: saved key material is imported
    # right after, so a crash then must not lose the directory entry (fsync(2), NOTES).
    if temporary == "named":
        monkeypatch.setattr(_io, "_unnamed_file", lambda folder, mode: None)
    target = tmp_path / "material.bin"
    synced = record_fsyncs(monkeypatch, target)
    with _io.atomic_output(target, exclusive=exclusive) as out:
        out.write(b"ours")
    assert target.read_bytes() == b"ours"
    # First the file (not yet in place), last its directory, once the file is there.
    assert not synced[0][1]
    assert synced[-1] == (str(tmp_path), True)


def fail_directory_syncs(monkeypatch: pytest.MonkeyPatch, code: int = errno.EIO) -> None:
    """fsync(2) of a directory fails with ``code`` (default EIO: a failing disk); of a file it
    works."""
    fsync = os.fsync

    def fail_directories(descriptor: int) -> None:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise OSError(code, os.strerror(code))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fail_directories)


@pytest.mark.parametrize("refusal", [errno.EINVAL, errno.EBADF, errno.EACCES])
def test_a_directory_that_cannot_be_synced_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusal: int
) -> None:
    # Some file systems cannot fsync a directory (EINVAL), and a directory one may write in but
    # not read cannot be opened to (EACCES): the file is then written as before.
    fail_directory_syncs(monkeypatch, refusal)
    target = tmp_path / "material.bin"
    write_ours(target)
    assert target.read_bytes() == b"ours"
    assert [p.name for p in tmp_path.iterdir()] == ["material.bin"]


@pytest.mark.parametrize("temporary", ["unnamed", "named"])
@pytest.mark.parametrize("exclusive", [False, True])
def test_a_directory_that_fails_to_sync_is_an_error_saying_the_file_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temporary: str, exclusive: bool
) -> None:
    # The fsync of the folder comes after the file is in place: "could not write" was untrue
    # (and said an existing target was left as it was, while it had been replaced).
    if temporary == "named":
        monkeypatch.setattr(_io, "_unnamed_file", lambda folder, mode: None)
    fail_directory_syncs(monkeypatch)
    target = tmp_path / "out.bin"
    if not exclusive:
        target.write_bytes(b"old")
    with (
        pytest.raises(_io.FolderNotFlushedError) as error,
        _io.atomic_output(target, exclusive=exclusive) as out,
    ):
        out.write(b"new")
    assert str(error.value) == (
        f"'{target}' was written but its folder could not be flushed (Input/output error): the "
        "new name may not survive a crash"
    )
    assert error.value.exit_code == EXIT_FAILURE
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary file left


def no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without hard links (FAT/exFAT, as on a USB stick, some network shares):
    link() fails with EPERM there (link(2)), while rename() works."""

    def link(src: str, dst: str, **_: Any) -> None:
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), src, None, dst)

    monkeypatch.setattr(os, "link", link)


def test_exclusive_atomic_output_works_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temporary_files: str
) -> None:
    # Saved key material is meant to go offline, often to a FAT-formatted stick.
    no_hard_links(monkeypatch)
    target = tmp_path / "material.bin"
    write_ours(target)
    assert target.read_bytes() == b"ours"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["material.bin"]


def test_atomic_output_works_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temporary_files: str
) -> None:
    # An unnamed file is then copied to a named one, with its mode, before the rename.
    no_hard_links(monkeypatch)
    target = tmp_path / "plain.txt"
    target.write_bytes(b"before")
    with _io.atomic_output(target, mode=0o640) as out:
        out.write(b"x" * 3_000_000)
    assert target.read_bytes() == b"x" * 3_000_000
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["plain.txt"]


@pytest.mark.parametrize("exclusive", [False, True])
def test_an_unnamed_file_that_cannot_be_linked_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exclusive: bool
) -> None:
    # Some sandboxes mount a /proc whose descriptor links cannot be linked (EXDEV).
    def cannot_link(descriptor: int, name: Path) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(_io, "_link_descriptor", cannot_link)
    target = tmp_path / "material.bin"
    with _io.atomic_output(target, exclusive=exclusive) as out:
        out.write(b"ours")
    assert target.read_bytes() == b"ours"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["material.bin"]


def test_exclusive_atomic_output_without_hard_links_still_keeps_a_file_that_appeared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temporary_files: str
) -> None:
    no_hard_links(monkeypatch)
    target = tmp_path / "material.bin"
    with pytest.raises(UsageError) as error:
        write_ours(target, theirs=b"theirs")
    assert "the file appeared while this command ran; it was left as it is" in str(error.value)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["material.bin"]


# --- retry settings -----------------------------------------------------------------------------


def test_max_attempts_zero_is_bad_usage(
    plain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["encrypt", "--max-attempts", "0", "--key", KEY, *CONTEXT, str(plain), "-"]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--max-attempts' must be at least 1. Received: 0"
    )


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5"])
def test_bad_kmskit_max_attempts_is_bad_usage(
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KMSKIT_MAX_ATTEMPTS", value)
    message = f"'KMSKIT_MAX_ATTEMPTS' must be a whole number of at least 1. Received: {value!r}"
    with pytest.raises(UsageError) as error:
        ClientSettings().botocore_config()
    assert str(error.value) == message
    assert main(["audit", "s3://bucket", "--quiet", "--region", "eu-west-1"]) == EXIT_USAGE
    assert one_error_line(capsys) == f"kmskit: error: {message}"


def test_kmskit_max_attempts_is_used_and_a_flag_overrides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KMSKIT_MAX_ATTEMPTS", "5")
    from_env: dict[str, Any] = ClientSettings().botocore_config().retries  # type: ignore[attr-defined]
    assert from_env["total_max_attempts"] == 5
    monkeypatch.setenv("KMSKIT_MAX_ATTEMPTS", "abc")
    from_flag: dict[str, Any] = ClientSettings(max_attempts=2).botocore_config().retries  # type: ignore[attr-defined]
    assert from_flag["total_max_attempts"] == 2


def use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """An AWS configuration file holding ``text``, for every session made from now on."""
    config = tmp_path / "config"
    config.write_text(text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))


def retries_of(settings: ClientSettings) -> tuple[int, str]:
    """The total attempts and the retry mode of ``settings``' clients."""
    retries: dict[str, Any] = settings.botocore_config().retries  # type: ignore[attr-defined]
    return retries["total_max_attempts"], retries["mode"]


def test_the_profiles_and_aws_retry_settings_apply_below_kmskit_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # --max-attempts > KMSKIT_MAX_ATTEMPTS > AWS_MAX_ATTEMPTS > the profile's > 8; --retry-mode
    # > AWS_RETRY_MODE > the profile's > standard. Before, AWS's and the profile's were ignored.
    use_config(tmp_path, monkeypatch, "[profile tuned]\nmax_attempts = 4\nretry_mode = adaptive\n")
    assert retries_of(ClientSettings()) == (8, "standard")
    assert retries_of(ClientSettings(profile="tuned")) == (4, "adaptive")
    # botocore's own clients (a profile role's STS) retry the same way.
    assert (
        ClientSettings(profile="tuned").session()._session.get_config_variable("max_attempts") == 4
    )
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "6")
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    assert retries_of(ClientSettings(profile="tuned")) == (6, "legacy")
    monkeypatch.setenv("KMSKIT_MAX_ATTEMPTS", "5")
    assert retries_of(ClientSettings(profile="tuned")) == (5, "legacy")
    flags = ClientSettings(profile="tuned", max_attempts=2, retry_mode="standard")
    assert retries_of(flags) == (2, "standard")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "AWS_RETRY_MODE",
            "bogus",
            "'AWS_RETRY_MODE' must be one of standard, adaptive, legacy. Received: 'bogus'",
        ),
        (
            "AWS_MAX_ATTEMPTS",
            "many",
            "'AWS_MAX_ATTEMPTS' must be a whole number of at least 1. Received: 'many'",
        ),
    ],
)
def test_a_bad_aws_retry_setting_is_bad_usage(
    variable: str,
    value: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["audit", "s3://bucket", "--quiet", "--region", "eu-west-1"]) == EXIT_USAGE
    assert one_error_line(capsys) == f"kmskit: error: {message}"


def test_a_bad_retry_mode_of_the_profile_is_bad_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_config(tmp_path, monkeypatch, "[profile typo]\nretry_mode = standart\n")
    with pytest.raises(UsageError) as error:
        ClientSettings(profile="typo").client("kms")
    assert str(error.value) == (
        "'retry_mode' of profile typo must be one of standard, adaptive, legacy. Received: "
        "'standart'"
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"max_attempts": 0},
            "'max_attempts' must be a whole number of at least 1. Received: 0",
        ),
        (
            {"max_attempts": -1},
            "'max_attempts' must be a whole number of at least 1. Received: -1",
        ),
        (
            {"max_attempts": 2.5},
            "'max_attempts' must be a whole number of at least 1. Received: 2.5",
        ),
        (
            {"retry_mode": "bogus"},
            "'retry_mode' must be one of standard, adaptive, legacy. Received: 'bogus'",
        ),
    ],
)
def test_a_bad_library_retry_setting_is_refused_when_the_settings_are_made(
    given: dict[str, Any], message: str
) -> None:
    # Before, max_attempts=0 silently became 8, and -1 or 'bogus' came out of botocore later.
    with pytest.raises(UsageError) as error:
        ClientSettings(**given)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AWS_DEFAULT_REGION", "eu_west_1"),
        ("AWS_DEFAULT_REGION", "EU-WEST-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1x"),
    ],
)
def test_a_bad_region_from_the_environment_is_bad_usage_naming_it(
    variable: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before, botocore's own message (exit 1), or the name sent to AWS as it was.
    monkeypatch.setenv(variable, value)
    assert main(["audit", "s3://bucket", "--quiet"]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{variable}' must be an AWS Region name. Received: {value!r}"
    )
    # --region (or region=) is the one used: the environment's is not checked then.
    assert ClientSettings(region="eu-west-1").client("kms").meta.region_name == "eu-west-1"


def test_an_empty_region_variable_is_named_not_the_profile(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A CI variable set but left blank: botocore uses the empty value; it was blamed on the
    # profile's region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "")
    assert main(["audit", "s3://bucket", "--quiet"]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: 'AWS_DEFAULT_REGION' (set but empty: unset it or set a Region) must be "
        "an AWS Region name. Received: ''"
    )


def test_a_bad_region_of_the_profile_is_bad_usage_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_config(tmp_path, monkeypatch, "[profile typo]\nregion = eu_west_1\n")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(UsageError) as error:
        ClientSettings(profile="typo").client("kms")
    assert str(error.value) == (
        "'region' of profile typo must be an AWS Region name. Received: 'eu_west_1'"
    )


def test_no_region_at_all_says_so_without_credentials_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert main(["key", "rotations", "alias/any"]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: You must specify a region. (give one: --region, region=; or set "
        "AWS_DEFAULT_REGION, or region in the profile)"
    )


# --- AWS errors no command mapped ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exit_code"),
    # RegionDisabledException: STS in a Region the account has not enabled (no table maps it).
    [("RegionDisabledException", EXIT_FAILURE), ("AccessDenied", EXIT_ACCESS_DENIED)],
)
def test_an_aws_error_a_command_did_not_map_is_one_line(
    code: str,
    exit_code: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An AWS error on the first call of `snapshot copy` (its STS call): the error code and the
    operation on one line with the mapped exit code, not a botocore traceback."""
    stubs: list[Stubber] = []

    def failing_client(self: ClientSettings, service: str, **_: Any) -> Any:
        client = boto3.client(  # type: ignore[call-overload]
            service,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        stub = Stubber(client)
        stub.add_client_error("get_caller_identity", code, "STS said no", 403)
        stub.activate()
        stubs.append(stub)
        return client

    monkeypatch.setattr(ClientSettings, "client", failing_client)
    key = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    argv = [
        "snapshot", "copy", "snap-0123456789abcdef0", "--region", "eu-west-1",
        "--to-region", "eu-central-1", "--kms-key", key,
    ]  # fmt: skip
    assert main(argv) == exit_code
    line = one_error_line(capsys)
    assert line == (
        "kmskit: error: could not look up this account (sts:GetCallerIdentity): "
        f"{code}: STS said no"
    )


def test_a_botocore_error_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """botocore's parameter validation message spans lines; the CLI prints it on one."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # kmskit refuses this bucket name itself (exit 2) before botocore sees it: let it through.
    monkeypatch.setattr(kmskit.envelope_s3, "VALID_BUCKET", re.compile(".*"))
    argv = ["get", "s3://bad:bucket/object", str(tmp_path / "out"), "--region", "eu-west-1"]
    assert main(argv) == EXIT_FAILURE
    line = one_error_line(capsys)
    assert 'Parameter validation failed: Invalid bucket name "bad:bucket"' in line


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_an_unknown_profile_is_bad_usage_naming_it(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    argv = ["audit", "s3://bucket", "--quiet"]
    if how == "flag":
        argv += ["--profile", "opps"]
    else:
        monkeypatch.setenv("AWS_PROFILE", "opps")
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--profile' (or AWS_PROFILE) must name a profile of the AWS "
        "configuration. Received: 'opps'"
    )


# --- a closed stdout pipe -----------------------------------------------------------------------


def test_closed_stdout_pipe_exits_141_quietly(tmp_path: Path) -> None:
    """`kmskit cost cdk.out | head -0`: the output was cut short, so not exit 0; no message."""
    resources = {f"Key{n}": {"Type": "AWS::KMS::Key", "Properties": {}} for n in range(3)}
    (tmp_path / "App.template.json").write_text(json.dumps({"Resources": resources}))
    child = subprocess.Popen(
        [sys.executable, "-m", "kmskit", "cost", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert child.stdout is not None
    assert child.stderr is not None
    child.stdout.close()  # the reader goes away before kmskit writes
    err = child.stderr.read()
    assert child.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert err == b""


# --- a closed stderr pipe, a closed stdout or stdin ---------------------------------------------


class _GoneReader:
    """stderr whose reader went away: every write and flush raises ``BrokenPipeError``."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def isatty(self) -> bool:
        return False


def test_an_error_keeps_its_exit_code_when_stderr_is_a_closed_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: reporting the error raised BrokenPipeError: exit 1 (a traceback), not 4.
    monkeypatch.setattr(sys, "stderr", _GoneReader())
    assert main(["cost", str(tmp_path / "no-cdk-out")]) == EXIT_NOT_FOUND


def test_a_success_exits_0_when_stderr_is_a_closed_pipe(
    world: Any, plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the summary line on stderr raised BrokenPipeError: exit 141, which says that
    # the reader of stdout went away, though the output was written whole.
    monkeypatch.setattr(sys, "stderr", _GoneReader())
    out = tmp_path / "out.bin"
    assert main(["encrypt-small", "--key", KEY, *CONTEXT, str(plain), str(out)]) == 0
    assert out.stat().st_size > 0


@pytest.mark.skipif(os.name == "nt", reason="a closed pipe on stderr, as POSIX shells make")
def test_a_closed_stderr_pipe_ends_the_process_with_the_commands_exit_code(
    tmp_path: Path,
) -> None:
    """End to end: nothing fails again at exit (Python's own flush of stderr, exit 120)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        child = subprocess.run(
            [sys.executable, "-m", "kmskit", "cost", str(tmp_path / "no-cdk-out")],
            stdout=subprocess.DEVNULL,
            stderr=write_end,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert child.returncode == EXIT_NOT_FOUND


def test_stderr_closed_keeps_messages_out_of_stdout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # With no sys.stderr (2>&-), print(..., file=sys.stderr) prints to stdout: before, the
    # error line went into the command's output.
    monkeypatch.setattr(sys, "stderr", None)
    assert main(["cost", str(tmp_path / "no-cdk-out")]) == EXIT_NOT_FOUND
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["encrypt-small", "--key", KEY, *CONTEXT, "IN", "-"],
        ["datakey", "new", "--key", KEY, *CONTEXT],
        ["key", "rotations", KEY],
        ["key", "rotate", KEY],
        ["cost", "IN"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_closed_stdout_is_refused_before_any_aws_call(
    argv: list[str],
    plain: Path,
    no_aws: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `kmskit ... >&-`: Python has no sys.stdout. Before: a traceback (AttributeError), for
    # encrypt-small after KMS Encrypt was called.
    monkeypatch.setattr(sys, "stdout", None)
    assert main(with_input(argv, plain)) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: standard output is closed (started with >&-): kmskit writes its output "
        "or report there; give it one (>/dev/null discards it) or an OUTPUT file"
    )
    assert no_aws == []


@pytest.mark.parametrize(
    "argv",
    [
        ["encrypt", "--key", "SYMMETRIC", *CONTEXT, "IN", "OUT"],
        ["encrypt-small", "--key", "SYMMETRIC", *CONTEXT, "IN", "OUT"],
        ["datakey", "new", "--for-later", "--key", "SYMMETRIC", *CONTEXT, "OUT"],
        ["sign", "--key", "SIGNING", "IN", "OUT"],
        ["pubkey", "export", "--key", "SIGNING", "OUT"],
        ["key", "inventory", "--region", "eu-west-1", "-o", "OUT"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_closed_stdout_is_no_matter_to_a_command_that_writes_only_files(
    argv: list[str],
    plain: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: refused (exit 2, "kmskit writes its output or report there"), though nothing
    # goes to stdout: the output is the file OUT, written whole.
    out = tmp_path / "out"
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        keys = {
            "SYMMETRIC": kms.create_key()["KeyMetadata"]["Arn"],
            "SIGNING": kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")[
                "KeyMetadata"
            ]["Arn"],
        }
        named = [keys.get(arg, str(out) if arg == "OUT" else arg) for arg in argv]
        monkeypatch.setattr(sys, "stdout", None)
        assert main(with_input(named, plain)) == 0
    assert out.stat().st_size > 0
    assert "standard output is closed" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["encrypt-small", "--key", KEY, *CONTEXT, "-", "OUT"], "INPUT"),
        (["encrypt", "--key", KEY, *CONTEXT, "-", "OUT"], "INPUT"),
        (["put", "--key", KEY, "-", "s3://bucket/object"], "INPUT"),
        (["verify", "--key", KEY, "--signature", "-", "IN"], "--signature"),
        (["key", "import-material", KEY, "--material", "-"], "--material"),
    ],
    ids=lambda value: " ".join(value[:2]) if isinstance(value, list) else value,
)
def test_a_closed_stdin_given_as_input_is_refused_before_any_aws_call(
    argv: list[str],
    name: str,
    plain: Path,
    tmp_path: Path,
    no_aws: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `kmskit ... - <&-`: Python has no sys.stdin. Before: a traceback (AttributeError).
    monkeypatch.setattr(sys, "stdin", None)
    argv = [str(tmp_path / "out.bin") if arg == "OUT" else arg for arg in with_input(argv, plain)]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: '{name}' is - (standard input), but standard input is closed "
        "(started with <&-): give a file, or open standard input"
    )
    assert no_aws == []
    assert not (tmp_path / "out.bin").exists()
