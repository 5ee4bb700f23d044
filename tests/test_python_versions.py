"""What `make pythons` relies on: the plugin that fails a test on a deprecation warning raised
by the toolkit's own code (tests/_support/deprecations.py), and pyproject.toml's classifiers
naming the Python versions tested, from the lowest that requires-python admits."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]

PROBE = textwrap.dedent(
    """
    import warnings

    import pytest

    @pytest.mark.parametrize(
        "module",
        [
            "lambda_src.snapshot_replicator.handler",
            "lambda_src",
            "kmskit.envelope",
            "constructs_lib.keys",
            "stacks.pipeline_stack",
        ],
    )
    @pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning])
    def test_own(module, category):
        warnings.warn_explicit("an old API", category, "probe.py", 1, module=module)

    @pytest.mark.parametrize("module", ["botocore.client", "kmskit_probe", "tests.kmskit.x"])
    def test_other(module):
        warnings.warn_explicit("an old API", DeprecationWarning, "probe.py", 1, module=module)

    def test_own_user_warning():
        warnings.warn_explicit("a warning", UserWarning, "probe.py", 1, module="kmskit.audit")
    """
)


def test_the_plugin_fails_deprecations_raised_by_the_toolkit_only(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-p", "tests._support.deprecations", "-c", str(tmp_path / "pytest.ini")),
            str(tmp_path / "test_probe.py"),
        ],
        cwd=ROOT,  # `python -m` puts it on sys.path: tests._support is importable
        capture_output=True,
        text=True,
        check=False,
    )
    failed = sorted(re.findall(r"^FAILED \S+::(\S+)", result.stdout, re.MULTILINE))
    assert len(failed) == 10, result.stdout + result.stderr
    assert all(name.startswith("test_own[") for name in failed), failed
    assert re.search(r"^10 failed, 4 passed", result.stdout, re.MULTILINE), result.stdout


def test_the_classifiers_name_each_tested_python_from_the_lowest_admitted() -> None:
    lowest = re.fullmatch(r">=3\.(\d+)", PROJECT["requires-python"])
    assert lowest, PROJECT["requires-python"]
    prefix = "Programming Language :: Python :: 3."
    minors = [int(c.removeprefix(prefix)) for c in PROJECT["classifiers"] if c.startswith(prefix)]
    assert minors == list(range(int(lowest.group(1)), int(lowest.group(1)) + len(minors)))
    assert len(minors) >= 2, minors
