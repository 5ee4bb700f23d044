"""The gates every App configuration under test must pass (tests/_support/apps/).

* all five cdk-nag packs: no error (synth would raise) and no warning left unacknowledged;
* cfn-lint: no error and no warning on any synthesized template;
* every acknowledgment is listed, with the same reason, in docs/compliance.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests._support.apps import app_names
from tests._support.compliance_doc import COMPLIANCE_DOC, documented_acknowledgments
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
ROOT = Path(__file__).resolve().parent.parent
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.mark.parametrize("app_name", app_names())
def test_cdk_nag_packs_report_no_findings(synthesized: Synth, app_name: str) -> None:
    findings = synthesized(app_name).validation_findings()
    assert findings == []


@pytest.mark.parametrize("app_name", app_names())
def test_cfn_lint_is_clean(synthesized: Synth, app_name: str) -> None:
    result = synthesized(app_name)
    paths = [str(p) for p in result.template_paths()]
    assert paths, f"{app_name} synthesized no templates"
    lint = subprocess.run(
        [str(CFN_LINT), "--format", "json", "--", *paths],
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
    assert problems == [], lint.stderr
    assert lint.returncode == 0, lint.stderr


@pytest.mark.parametrize("app_name", app_names())
def test_every_acknowledgment_is_documented(synthesized: Synth, app_name: str) -> None:
    documented = documented_acknowledgments()
    missing = [
        f"{path}: {rule} ({reason})"
        for path, rule, reason in synthesized(app_name).acknowledgments()
        if (rule, reason) not in documented
    ]
    assert missing == [], f"add these rows to {COMPLIANCE_DOC.name}"


def test_no_documented_acknowledgment_is_stale(synthesized: Synth) -> None:
    used = {
        (rule, reason)
        for name in app_names()
        for _, rule, reason in synthesized(name).acknowledgments()
    }
    stale = documented_acknowledgments() - used
    assert stale == set(), "docs/compliance.md lists acknowledgments no app makes any more"
