"""cdk.json runs app.py with ``python -O``; an optimized synth that would recompile aws-cdk-lib on
every run says so (stacks/optimized_python.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.optimized_python import RECOMPILING_WARNING

ROOT = Path(__file__).resolve().parents[2]
PROBE = "from stacks.optimized_python import warn_if_recompiling; warn_if_recompiling()"


def probe(tmp_path: Path, *flags: str, write_bytecode: bool) -> str:
    """stderr of the start of app.py, with an empty bytecode cache (``tmp_path``)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(tmp_path)}
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [sys.executable, *flags, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stderr


def test_cdk_json_runs_the_app_optimized() -> None:
    command = json.loads((ROOT / "cdk.json").read_text())["app"].split()
    assert command[-2:] == ["-O", "app.py"]


def test_an_optimized_synth_that_cannot_write_its_bytecode_warns(tmp_path: Path) -> None:
    stderr = probe(tmp_path, "-O", write_bytecode=False)
    assert RECOMPILING_WARNING in stderr
    assert "make setup" in stderr


@pytest.mark.parametrize(
    ("flags", "write_bytecode"),
    [((), False), (("-O",), True)],
    ids=["not optimized", "bytecode written on the first synth"],
)
def test_no_warning_otherwise(tmp_path: Path, flags: tuple[str, ...], write_bytecode: bool) -> None:
    assert probe(tmp_path, *flags, write_bytecode=write_bytecode) == ""


SYNTH_RECORDING_COMPILES = """
import importlib._bootstrap_external as external, json, sys
compiled = []
original = external.SourceLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return original(self, data, path, *args, **kwargs)
external.SourceLoader.source_to_code = source_to_code
from constructs_lib.jsii_channel import use_direct_channel
use_direct_channel()
from stacks.app_builder import build_app
build_app(outdir=sys.argv[1]).synth()
print(json.dumps(compiled))
"""


def test_setup_writes_the_bytecode_of_every_module_a_synth_imports(tmp_path: Path) -> None:
    cache = tmp_path / "bytecode"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(cache)}
    subprocess.run(
        [sys.executable, "-O", "-m", "stacks.optimized_python"], env=env, check=True, cwd=ROOT
    )
    synth = subprocess.run(
        [sys.executable, "-O", "-c", SYNTH_RECORDING_COMPILES, str(tmp_path / "cdk.out")],
        env=env | {"PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    compiled = json.loads(synth.stdout.splitlines()[-1])
    # The standard library is compiled by the Python installation itself, outside the cache.
    ours_or_installed = [
        path for path in compiled if "site-packages" in path or path.startswith(str(ROOT))
    ]
    assert ours_or_installed == []
