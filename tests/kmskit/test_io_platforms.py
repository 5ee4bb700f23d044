"""kmskit's file output on macOS and Windows, simulated on Linux (nothing here ran on them).

What the other platforms lack is taken away from ``os`` (tests/_support/platforms.py):
``O_TMPFILE`` (Linux only), ``/proc`` (macOS, Windows, some containers), ``fchmod`` (Windows
before Python 3.13), ``geteuid``, ``O_NOCTTY``, ``O_NONBLOCK`` and ``O_DIRECTORY`` (Windows);
and Windows' refusal to replace a file another program holds open is raised where it would
be. The output must still be written whole, 0600 where modes exist, or refused with a message
naming the path, leaving nothing behind. The other atomic_output tests
(tests/kmskit/test_cli_files.py) run on these simulated platforms too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from kmskit import _io
from kmskit.errors import AccessDeniedError
from tests._support.platforms import FILE_OUTPUT_PLATFORMS, remove_from_os


@pytest.fixture(params=sorted(FILE_OUTPUT_PLATFORMS))
def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    FILE_OUTPUT_PLATFORMS[request.param](monkeypatch)
    return str(request.param)


@pytest.mark.parametrize("exclusive", [False, True])
def test_the_output_is_written_whole_and_private_by_a_named_partial_file(
    tmp_path: Path, platform: str, exclusive: bool
) -> None:
    assert _io._unnamed_file(tmp_path, 0o600) is None
    target = tmp_path / "plain.txt"
    with _io.atomic_output(target, exclusive=exclusive) as out:
        out.write(b"secret")
        out.flush()
        partial = [p.name for p in tmp_path.iterdir()]
        assert len(partial) == 1
        assert partial[0].startswith(".plain.txt.")
        assert partial[0].endswith(".partial")
    assert target.read_bytes() == b"secret"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["plain.txt"]


@pytest.mark.parametrize(
    ("winerror", "strerror"),
    [
        (5, "Access is denied"),
        (32, "The process cannot access the file because it is being used by another process"),
    ],
)
def test_windows_refusing_to_replace_an_open_file_names_it_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, winerror: int, strerror: str
) -> None:
    # Windows' MoveFileEx fails while another program (an editor, a virus scanner) holds the
    # target open; Python raises PermissionError (errno EACCES) for both errors.
    FILE_OUTPUT_PLATFORMS["windows"](monkeypatch)
    target = tmp_path / "out.bin"
    target.write_bytes(b"before")

    def replace(source: str, destination: str) -> None:
        raise PermissionError(errno.EACCES, strerror, source, winerror, destination)

    monkeypatch.setattr(os, "replace", replace)

    def write() -> None:
        with _io.atomic_output(target) as out:
            out.write(b"after")

    with pytest.raises(AccessDeniedError) as error:
        write()
    assert str(error.value) == f"could not write '{target}': {strerror}"
    assert target.read_bytes() == b"before"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("exclusive", [False, True])
def test_windows_syncs_the_file_but_does_not_open_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exclusive: bool
) -> None:
    # No O_DIRECTORY there: a folder cannot be opened to be flushed, so only the file is.
    FILE_OUTPUT_PLATFORMS["windows"](monkeypatch)
    fsync = os.fsync
    synced: list[bool] = []

    def recording(descriptor: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(descriptor).st_mode))
        fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    target = tmp_path / "out.bin"
    with _io.atomic_output(target, exclusive=exclusive) as out:
        out.write(b"after")
    assert target.read_bytes() == b"after"
    assert synced == [False]


def test_a_symbolic_link_is_followed_where_there_are_no_user_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows has symbolic links (developer mode) but no os.geteuid nor sticky directories.
    FILE_OUTPUT_PLATFORMS["windows"](monkeypatch)
    real = tmp_path / "real.bin"
    real.write_bytes(b"before")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    with _io.atomic_output(link) as out:
        out.write(b"after")
    assert link.is_symlink()
    assert real.read_bytes() == b"after"


def test_terminal_detection_without_o_noctty_and_o_nonblock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leader, follower = os.openpty()  # Linux, as CI: a pseudo-terminal is always available
    try:
        device = os.ttyname(follower)
        remove_from_os(monkeypatch, "O_NOCTTY", "O_NONBLOCK")
        assert _io.is_terminal(device)
        assert not _io.is_terminal(os.devnull)  # a character device, not a terminal
    finally:
        os.close(leader)
        os.close(follower)
