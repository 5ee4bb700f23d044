"""The example organisation exactly as `make synth` builds it (cdk.json context)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build(outdir: Path) -> Any:
    from stacks.app_builder import build_app  # noqa: PLC0415

    return build_app(outdir=outdir)
