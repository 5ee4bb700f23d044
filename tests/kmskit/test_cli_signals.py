"""Ctrl-C and SIGTERM in the middle of a command: the documented exit code, a one-line message,
and no partial output file left behind (end to end, in a subprocess against a moto server)."""

from __future__ import annotations

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
    source = tmp_path / "plain.fifo"
    os.mkfifo(source)
    target = tmp_path / "plain.enc"
    argv = ["encrypt", "-q", "--key", "alias/e2e", "--context", "env=ci"]
    argv += ["--frame-length", str(FRAME)]
    process = subprocess.Popen(
        [sys.executable, "-m", "kmskit", *argv, str(source), str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server,
        cwd=ROOT,
        preexec_fn=_default_sigint,  # noqa: PLW1509 - no threads start before the exec
    )
    try:
        # A few frames, and the writer stays open, so kmskit is blocked reading more when the
        # signal arrives.
        with _writer(source, process) as writer:
            writer.write(os.urandom(5 * FRAME))
            writer.flush()
            deadline = time.monotonic() + 60
            while not _partials(tmp_path) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _partials(tmp_path), "kmskit never started writing its output"
            time.sleep(0.5)  # let it encrypt what it was given and block on the FIFO
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, stderr
    assert stderr.decode().strip().splitlines() == [message]
    assert _partials(tmp_path) == []
    assert not target.exists()
