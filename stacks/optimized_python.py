"""``python -O`` for synth: cdk.json runs app.py optimized.

Optimized, the code jsii generates for aws-cdk-lib skips its runtime type checks (typeguard on
every argument of every construct, method and struct): about 10% of the synth time per stack
(docs/synth-performance.md). This toolkit's own code is type-checked by mypy in CI instead, and
validates every prop with an error naming it.

Python loads optimized bytecode from separate files (``*.opt-1.pyc``), which ``pip install`` does
not write. ``make setup`` writes them for every module a synth imports
(``python -O -m stacks.optimized_python``, a few seconds), and again whenever the toolkit's own
modules change (a module they start to import needs its bytecode too); without them, and where
Python may not write them either (``PYTHONDONTWRITEBYTECODE``), every optimized synth would
recompile aws-cdk-lib's modules (several seconds), so app.py warns.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from pathlib import Path

RECOMPILING_WARNING = (
    "python -O finds no optimized bytecode of aws-cdk-lib and may not write it "
    "(PYTHONDONTWRITEBYTECODE is set), so every synth recompiles it (several seconds): run "
    "`make setup` once, or run app.py without -O"
)


# Every module a synth of the example organisation imports: these, and what they import
# (aws-cdk-lib imports aws_codebuild and cx_api while it synthesizes; stacks.config imports
# region_info when it checks the Regions).
SYNTH_MODULES = (
    "stacks.app_builder",
    "stacks.organisation",
    "aws_cdk.aws_codebuild",
    "aws_cdk.cx_api",
    "aws_cdk.region_info",
)


def recompiles_every_synth() -> bool:
    """Whether this process runs optimized without aws-cdk-lib's optimized bytecode and may not
    write it. Looks for the file only: call it before anything imports ``aws_cdk``."""
    if not sys.flags.optimize or not sys.dont_write_bytecode:
        return False
    spec = importlib.util.find_spec("aws_cdk")
    if spec is None or spec.origin is None:
        return False
    return not Path(importlib.util.cache_from_source(spec.origin)).exists()


def warn_if_recompiling() -> None:
    """Warn (to stderr) when :func:`recompiles_every_synth`."""
    if recompiles_every_synth():
        warnings.warn(RECOMPILING_WARNING, RuntimeWarning, stacklevel=2)


def write_optimized_bytecode() -> None:
    """Import :data:`SYNTH_MODULES`, so that an optimized Python writes their bytecode (run with
    ``-O`` and without ``PYTHONDONTWRITEBYTECODE``, as ``make setup`` does)."""
    if not sys.flags.optimize or sys.dont_write_bytecode:
        raise SystemExit(
            "write_optimized_bytecode: run as `python -O -m stacks.optimized_python`, without "
            f"PYTHONDONTWRITEBYTECODE (optimize={sys.flags.optimize}, "
            f"dont_write_bytecode={sys.dont_write_bytecode})"
        )
    # Start jsii's kernel as app.py does (this imports what finding the Node binary needs).
    from constructs_lib.jsii_channel import use_direct_channel  # noqa: PLC0415

    use_direct_channel()
    for module in SYNTH_MODULES:
        importlib.import_module(module)


if __name__ == "__main__":
    write_optimized_bytecode()
