"""Ctrl-C and SIGTERM in the middle of a command: the documented exit code, a one-line message,
and no partial output file left behind (end to end, in a subprocess against a moto server)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from kmskit.errors import EXIT_INTERRUPTED, EXIT_TERMINATED
from tests.kmskit.envelope_support import ROOT

FRAME = 4096


def _default_sigint() -> None:
    # A child inherits an ignored SIGINT (as under some CI runners), and Python then leaves it
    # ignored: restore the default so that the child's interpreter installs KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _writer(fifo: Path, reader: subprocess.Popen[bytes]) -> BinaryIO:
    """``fifo`` opened for writing once ``reader`` has opened it (fails if it exits first)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            _, stderr = (b"", b"") if reader.poll() is None else reader.communicate()
            assert reader.poll() is None, f"kmskit exited: {stderr.decode()}"
            assert time.monotonic() < deadline, "kmskit never opened its input"
            time.sleep(0.05)
            continue
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "wb")


def _partials(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.partial"))


def _writing_output(process: subprocess.Popen[bytes], folder: Path) -> bool:
    """Whether ``process`` holds an output file open in ``folder``: a ``.partial`` file, or an
    unnamed one (O_TMPFILE, shown by /proc as ``folder/#inode (deleted)``)."""
    descriptors = Path(f"/proc/{process.pid}/fd")
    with_names = []
    for descriptor in descriptors.iterdir() if descriptors.is_dir() else []:
        with contextlib.suppress(OSError):
            with_names.append(os.readlink(descriptor))
    return bool(_partials(folder)) or any(
        name.startswith(f"{folder}/#") or name.startswith(f"{folder}/.") for name in with_names
    )


def _encrypting_from_a_fifo(server: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    source = folder / "plain.fifo"
    os.mkfifo(source)
    argv = ["encrypt", "-q", "--key", "alias/e2e", "--context", "env=ci"]
    argv += ["--frame-length", str(FRAME)]
    return subprocess.Popen(
        [sys.executable, "-m", "kmskit", *argv, str(source), str(folder / "plain.enc")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server,
        cwd=ROOT,
        preexec_fn=_default_sigint,  # noqa: PLW1509 - no threads start before the exec
    )


def _signal_mid_write(process: subprocess.Popen[bytes], folder: Path, signum: int) -> bytes:
    """Feed ``process`` a few frames and keep its input open, so that it is blocked reading
    more when ``signum`` arrives; its stderr."""
    try:
        with _writer(folder / "plain.fifo", process) as writer:
            writer.write(os.urandom(5 * FRAME))
            writer.flush()
            deadline = time.monotonic() + 60
            while not _writing_output(process, folder) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _writing_output(process, folder), "kmskit never started writing its output"
            time.sleep(0.5)  # let it encrypt what it was given and block on the FIFO
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return stderr


@pytest.mark.parametrize(
    ("signum", "exit_code", "message"),
    [
        (signal.SIGTERM, EXIT_TERMINATED, "kmskit: terminated"),
        (signal.SIGINT, EXIT_INTERRUPTED, "kmskit: interrupted"),
    ],
)
def test_a_signal_mid_write_leaves_no_partial_file(
    server: dict[str, str],
    tmp_path: Path,
    signum: int,
    exit_code: int,
    message: str,
) -> None:
    process = _encrypting_from_a_fifo(server, tmp_path)
    stderr = _signal_mid_write(process, tmp_path, signum)
    assert process.returncode == exit_code, stderr
    assert stderr.decode().strip().splitlines() == [message]
    assert [p.name for p in tmp_path.iterdir()] == ["plain.fifo"]


@pytest.mark.skipif(sys.platform != "linux", reason="unnamed files are Linux's O_TMPFILE")
def test_sigkill_mid_write_leaves_nothing_either(server: dict[str, str], tmp_path: Path) -> None:
    # No clean-up runs under SIGKILL (or the OOM killer): the output had no name yet.
    process = _encrypting_from_a_fifo(server, tmp_path)
    _signal_mid_write(process, tmp_path, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.iterdir()] == ["plain.fifo"]
