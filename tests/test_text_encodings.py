"""Text files the toolkit reads are UTF-8 whatever the locale says.

Python reads a text file in the locale's encoding unless told otherwise: on Windows (before
Python 3.15, PEP 686) that is the ANSI code page, such as cp1252, while the CDK writes the
cloud assembly in UTF-8. Simulated here in a child Python whose locale encoding is ASCII (the
C locale, without UTF-8 mode or locale coercion): a reader that leaves the encoding to the
locale fails on the first non-ASCII byte, as it would decode it wrongly on Windows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTION = "Schlüssel, ключ, 鍵"  # 鍵 is E9 8D B5 in UTF-8: 0x8D is no cp1252 character


def _run_with_ascii_locale(code: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))},
        "LC_ALL": "C",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONUTF8": "0",
    }
    return subprocess.run(
        [sys.executable, "-X", "utf8=0", "-c", code, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    """A cloud assembly of one stack whose template holds non-ASCII text."""
    template = {
        "Description": DESCRIPTION,
        "Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {}}},
    }
    (tmp_path / "Keys.template.json").write_text(
        json.dumps(template, ensure_ascii=False), encoding="utf-8"
    )
    manifest = {
        "artifacts": {
            "Keys": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://111111111111/eu-west-1",
                "properties": {"templateFile": "Keys.template.json", "stackName": "Keys"},
            }
        }
    }
    (tmp_path / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False), encoding="utf-8"
    )
    return tmp_path


def test_the_child_python_really_reads_text_as_ascii() -> None:
    result = _run_with_ascii_locale("import locale; print(locale.getpreferredencoding(False))")
    assert result.stdout.strip() in {"ANSI_X3.4-1968", "ascii", "US-ASCII"}, result


def test_the_architecture_doc_generator_reads_the_assembly_as_utf8(assembly: Path) -> None:
    code = (
        "import sys, pathlib; from stacks.architecture import summarize; "
        "print(ascii(summarize(pathlib.Path(sys.argv[1]))[0].description))"
    )
    result = _run_with_ascii_locale(code, str(assembly))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ascii(DESCRIPTION)


def test_kmskit_cost_reads_the_assembly_as_utf8(assembly: Path) -> None:
    code = "import sys; from kmskit.cli import main; sys.exit(main(sys.argv[1:]))"
    result = _run_with_ascii_locale(code, "cost", str(assembly), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["templates"]["Keys"]["keys"] == 1
