"""Progress bars on standard error, shown only to a person at a terminal.

Every long-running command (large files, many log objects, snapshot copies) reports through
:func:`progress_bar`, so ``--quiet`` and non-interactive runs behave the same everywhere.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def progress_bar(
    *,
    total: float | None,
    description: str,
    unit: str = "B",
    enabled: bool | None = None,
    **options: Any,
) -> tqdm[Any]:
    """A tqdm bar on stderr. ``enabled=None`` shows it only when stderr is a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    byte_units = unit == "B"
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=byte_units,
        unit_divisor=1024 if byte_units else 1000,
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        **options,
    )
