"""cfn-lint over synthesized templates, as the gates run it (``.cfnlintrc.yaml`` applies)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def cfn_lint_problems(paths: Sequence[Path]) -> list[str]:
    """One line per cfn-lint finding (error, warning or informational) in ``paths``.

    Raises AssertionError when cfn-lint itself fails (a non-zero exit with no finding).
    """
    assert paths, "no template to lint"
    lint = subprocess.run(
        [str(CFN_LINT), "--format", "json", "--", *map(str, paths)],
        cwd=ROOT,  # .cfnlintrc.yaml
        capture_output=True,
        text=True,
        check=False,
    )
    matches = json.loads(lint.stdout or "[]")
    problems = [
        f"{m['Rule']['Id']} {m['Location']['Path']} in {m['Filename']}: {m['Message']}"
        for m in matches
    ]
    assert problems or lint.returncode == 0, lint.stderr
    return problems


def template_shape(template: dict[str, Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """What cfn-lint's result depends on beyond names and IDs: each resource's type and the
    properties it sets. Stacks of one kind in different accounts and Regions share a shape."""
    return tuple(
        sorted(
            (resource["Type"], tuple(sorted(resource.get("Properties", {}))))
            for resource in template.get("Resources", {}).values()
        )
    )


def one_template_per_shape(paths: Iterable[Path]) -> list[Path]:
    """The largest template of each :func:`template_shape` (the one with the most statements,
    accounts and actions of its kind), in path order."""
    largest: dict[tuple[tuple[str, tuple[str, ...]], ...], Path] = {}
    for path in paths:
        shape = template_shape(json.loads(path.read_text()))
        if shape not in largest or path.stat().st_size > largest[shape].stat().st_size:
            largest[shape] = path
    return sorted(largest.values())
