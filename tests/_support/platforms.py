"""Another platform, simulated on this Linux machine (nothing here runs on macOS or Windows).

:func:`os_module` stands in for the ``os`` module of one toolkit module, so that module sees
Windows' ``os.name`` (or misses a POSIX-only function) while pathlib, tempfile and the test
itself keep the real one: setting ``os.name`` itself would make every ``Path()`` a
``WindowsPath``, which cannot be made on Linux. :data:`FILE_OUTPUT_PLATFORMS` takes from the
real ``os`` (for one test) what kmskit's file output would use and a platform lacks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

ABSENT = object()
"""An :func:`os_module` override: the attribute does not exist (``os.getuid`` on Windows)."""


class _OsModule:
    def __init__(self, overrides: dict[str, Any]) -> None:
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            value = self._overrides[name]
            if value is ABSENT:
                raise AttributeError(f"module 'os' has no attribute {name!r}")
            return value
        return getattr(os, name)


def os_module(**overrides: Any) -> Any:
    """The ``os`` module with ``overrides`` (a value, or :data:`ABSENT`)."""
    return _OsModule(overrides)


WINDOWS_OS = {"name": "nt", "getuid": ABSENT, "geteuid": ABSENT}
"""What :func:`os_module` changes for Windows: ``os.name``, and no user IDs."""


def remove_from_os(monkeypatch: Any, *names: str) -> None:
    """Take ``names`` out of the real ``os`` module for the test (``monkeypatch``)."""
    for name in names:
        monkeypatch.delattr(os, name, raising=False)


def no_proc(monkeypatch: Any) -> None:
    """No /proc/self/fd (macOS, Windows; a container without /proc)."""
    isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: str(p) != "/proc/self/fd" and isdir(p))


MISSING_ON_WINDOWS = ("O_TMPFILE", "fchmod", "geteuid", "O_NOCTTY", "O_NONBLOCK", "O_DIRECTORY")
"""What kmskit's file output could use that Windows lacks (fchmod: before Python 3.13)."""


def _macos(monkeypatch: Any) -> None:
    remove_from_os(monkeypatch, "O_TMPFILE")
    no_proc(monkeypatch)


def _windows(monkeypatch: Any) -> None:
    remove_from_os(monkeypatch, *MISSING_ON_WINDOWS)
    no_proc(monkeypatch)


FILE_OUTPUT_PLATFORMS: dict[str, Callable[[Any], None]] = {
    "macos": _macos,
    "linux-without-proc": no_proc,
    "windows": _windows,
}
"""How each platform differs for :func:`kmskit._io.atomic_output`, applied with a
``pytest.MonkeyPatch``: no unnamed temporary files (``O_TMPFILE``), no ``/proc``, and on
Windows no ``fchmod``, ``geteuid``, ``O_NOCTTY``, ``O_NONBLOCK`` or ``O_DIRECTORY`` either."""
