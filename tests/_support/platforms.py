"""Another platform, simulated on this Linux machine (nothing here runs on macOS or Windows).

:func:`os_module` stands in for the ``os`` module of one toolkit module, so that module sees
Windows' ``os.name`` (or misses a POSIX-only function) while pathlib, tempfile and the test
itself keep the real one: setting ``os.name`` itself would make every ``Path()`` a
``WindowsPath``, which cannot be made on Linux.
"""

from __future__ import annotations

import os
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
