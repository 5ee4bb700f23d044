"""Input and output that never leaves a half-written file.

:func:`atomic_output` writes to a temporary file next to the target and renames it into place
only when the writer finished without an exception; ``-`` means standard output.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

STDIO = "-"


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it becomes ``path``, on failure nothing is left behind.

    The new file gets permissions ``mode`` (default owner read/write only: outputs are often
    plaintext or key material).
    """
    if str(path) == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed on success
        dir=target.parent if str(target.parent) else ".",
        prefix=f".{target.name}.",
        suffix=".partial",
        delete=False,
    )
    try:
        os.chmod(handle.name, mode)
        with handle:
            yield handle  # type: ignore[misc]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``path`` for binary reading; ``-`` means standard input."""
    if str(path) == STDIO:
        yield sys.stdin.buffer
        return
    with open(path, "rb") as handle:
        yield handle


def input_size(path: str | os.PathLike[str]) -> int | None:
    """The size of ``path`` in bytes, or None for standard input and pipes."""
    if str(path) == STDIO:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None
