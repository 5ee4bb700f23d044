"""Ending a command on Windows, simulated on Linux: Windows sends no SIGTERM between processes,
but Ctrl-Break in a console raises SIGBREAK, which must clean up as SIGTERM does elsewhere (no
partial output, exit 143). SIGUSR1 stands in for SIGBREAK, which Linux does not have."""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from kmskit import _io, cli
from kmskit.errors import EXIT_TERMINATED


@pytest.fixture
def sigbreak(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)
    # Caught and ignored outside the command, so that a command that does not handle it goes
    # on (and fails the test) rather than ending pytest.
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    yield signal.SIGUSR1
    signal.signal(signal.SIGUSR1, previous)


def test_ctrl_break_mid_write_ends_the_command_as_sigterm_does_and_leaves_nothing(
    sigbreak: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"before")
    before = signal.getsignal(sigbreak)

    def handler(args: argparse.Namespace) -> int:
        with _io.atomic_output(target) as out:
            out.write(b"half")
            os.kill(os.getpid(), sigbreak)
            out.write(b"never")
        return 0

    assert cli.run(argparse.Namespace(handler=handler)) == EXIT_TERMINATED
    assert capsys.readouterr().err == "kmskit: terminated\n"
    assert target.read_bytes() == b"before"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert signal.getsignal(sigbreak) is before  # restored once the command ended


def test_terminating_signals_are_those_the_platform_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(signal, "SIGBREAK", raising=False)
    assert cli._terminating_signals() == [signal.SIGTERM]  # Linux, macOS
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
    assert cli._terminating_signals() == [signal.SIGTERM, 21]  # Windows
