"""The gates every App configuration under test must pass (tests/_support/apps/).

* all five cdk-nag packs: no error (synth would raise) and no warning left unacknowledged;
* cfn-lint: no error and no warning on any synthesized template;
* every acknowledgment is listed, with the same reason, in docs/compliance.md;
* no policy repeats a statement Sid (IAM, S3 and KMS refuse it at deploy time).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests._support.apps import app_names, builder
from tests._support.cfn_lint import cfn_lint_problems
from tests._support.compliance_doc import (
    COMPLIANCE_DOC,
    documented_acknowledgments,
    generic_rule,
)
from tests._support.deploy_quotas import repeated_sids
from tests._support.synth import SynthResult, synthesize

Synth = Callable[[str], SynthResult]


@pytest.mark.parametrize("app_name", app_names())
def test_cdk_nag_packs_report_no_findings(synthesized: Synth, app_name: str) -> None:
    findings = synthesized(app_name).validation_findings()
    assert findings == []


@pytest.mark.parametrize("app_name", app_names())
def test_cfn_lint_is_clean(synthesized: Synth, app_name: str) -> None:
    assert cfn_lint_problems(synthesized(app_name).template_paths()) == []


@pytest.mark.parametrize("app_name", app_names())
def test_no_policy_repeats_a_statement_sid(synthesized: Synth, app_name: str) -> None:
    result = synthesized(app_name)
    problems = [
        f"{stack}: {problem}"
        for stack, template in result.templates.items()
        for problem in repeated_sids(template)
    ]
    assert result.templates
    assert problems == []


def test_the_sid_check_finds_a_sid_repeated_in_a_nested_policy() -> None:
    statement = {"Sid": "Use", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {"Policies": [{"PolicyDocument": {"Statement": [statement, statement]}}]},
    }
    assert repeated_sids({"Resources": {"Role": role}}) == ["Role: Sid 'Use' x2"]


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


def test_an_app_without_the_cdk_nag_packs_is_not_taken_for_a_clean_one(tmp_path: Path) -> None:
    # Without the packs a synth writes an empty report, as it does when every pack passes.
    import aws_cdk as cdk  # noqa: PLC0415

    app = cdk.App(outdir=str(tmp_path))
    with pytest.raises(AssertionError, match="not the five cdk-nag packs"):
        synthesize("bare", app)


# The construct showcases, whose acknowledgments (and their rule IDs) the project's context
# shapes; the organisation apps read their configuration from that context and are left out.
SHOWCASES = [name for name in app_names() if name.endswith("_showcase")]


def test_the_partition_token_reads_as_the_tables_partition() -> None:
    rule = "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:eu-west-1:111111111111:key/*]"
    assert generic_rule(rule) == "AwsSolutions-IAM5[Resource::arn:aws:kms:<region>:<account>:key/*]"


@pytest.mark.parametrize("app_name", SHOWCASES)
def test_acknowledgments_are_documented_in_an_app_without_the_projects_flags(
    app_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user's App has none of cdk.json's feature flags (no enablePartitionLiterals: rule IDs
    # read arn:<AWS::Partition>:...); its acknowledgments must still each find their row.
    from stacks import app_builder  # noqa: PLC0415

    project_context = app_builder.cdk_json_context()
    without_flags = {k: v for k, v in project_context.items() if not k.startswith("@aws-cdk/")}
    monkeypatch.setattr(app_builder, "cdk_json_context", lambda: without_flags)
    app = builder(app_name)(tmp_path)
    # Synth must succeed: an acknowledgment whose rule ID reads differently without the flags
    # would leave its finding unacknowledged and fail it. (KmsToolkit findings, such as the
    # providers of strong cross-Region references, are warnings and do not fail synth.)
    app.synth()
    acknowledged = list(SynthResult(name=app_name, outdir=tmp_path).acknowledgments())
    documented = documented_acknowledgments()
    missing = [
        f"{path}: {rule} ({reason})"
        for path, rule, reason in acknowledged
        if (rule, reason) not in documented
    ]
    assert list(tmp_path.glob("*.metadata.json"))
    assert missing == [], f"add these rows to {COMPLIANCE_DOC.name}"
