"""Running the example app outside make: cdk.json's ``python3`` is the shell's, so the app and the
docs say how to get this project's virtualenv (README, docs/deploy.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACTIVATE = "source .venv/bin/activate"
# Commands that exist only in .venv/bin (kmskit) or that run app.py with .venv's python3.
NEEDS_VENV = re.compile(r"^\s*(npx cdk|kmskit)\b", re.MULTILINE)
SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_app_without_its_dependencies_says_how_to_run_it() -> None:
    # -S: no site-packages, as with the machine's python3 that `npx cdk` finds outside make.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-S", "-O", "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{sys.executable} cannot import aws_cdk" in done.stderr
    assert ACTIVATE in done.stderr


@pytest.mark.parametrize("doc", ["README.md", "docs/deploy.md"])
def test_docs_activate_the_virtualenv_before_cdk_and_kmskit_commands(doc: str) -> None:
    text = (ROOT / doc).read_text()
    blocks = [m for m in SHELL_BLOCK.finditer(text) if NEEDS_VENV.search(m.group(1))]
    assert blocks, f"{doc} has no npx cdk or kmskit command block"
    for block in blocks:
        commands = block.group(1)
        first = NEEDS_VENV.search(commands)
        assert first is not None
        before = text[: block.start()] + commands[: first.start()]
        assert ACTIVATE in before, f"{doc}: {commands.splitlines()[0]!r} runs before {ACTIVATE}"
