"""Issue #7's scale target: a generated organisation of 150 environments synthesizes, with the
cdk-nag gates on, into templates that cfn-lint passes and that CloudFormation, CodePipeline, IAM,
S3 and KMS would accept.

The synth runs benchmarks/synth.py's program in a child process (as `cdk synth` does), so its
500-odd stacks leave no objects in the session's jsii kernel. About a minute on a CI machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.synth import program_argv, stack_count
from stacks.organisation import MAX_ACTIONS_PER_WAVE, MAX_PIPELINE_ACTIONS, MAX_PIPELINE_STAGES
from tests._support.cfn_lint import cfn_lint_problems, one_template_per_shape
from tests._support.deploy_quotas import TEMPLATE_BYTES, oversized_policies, repeated_sids
from tests._support.synth import SynthResult

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = 150


@pytest.fixture(scope="module")
def large_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk-150-environments")
    done = subprocess.run(
        program_argv("generated", str(outdir), environments=ENVIRONMENTS),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return outdir


@pytest.mark.slow
def test_150_environments_synthesize_with_no_finding(large_assembly: Path) -> None:
    assert stack_count(large_assembly) > 500
    assert SynthResult(name="150 environments", outdir=large_assembly).validation_findings() == []


@pytest.mark.slow
def test_cfn_lint_is_clean_on_every_kind_of_stack(large_assembly: Path) -> None:
    # cfn-lint takes about 0.35 s a template: the 522 would add three minutes to CI. Stacks of
    # one kind differ only in names and IDs, so the largest of each shape stands for its kind:
    # the pipeline with its split grants, the central audit bucket's one-statement form, the
    # receiver naming 73 source accounts, and one of each per-account stack.
    templates = one_template_per_shape(large_assembly.rglob("*.template.json"))
    names = {path.name for path in templates}
    assert {"Pipeline.template.json"} <= names
    assert any(name.startswith("BackupReceiver") for name in names)
    assert any(name.startswith("SecurityAudit") for name in names)
    assert cfn_lint_problems(templates) == []


@pytest.mark.slow
def test_every_template_and_policy_fits_its_deploy_time_quota_and_rules(
    large_assembly: Path,
) -> None:
    problems = []
    for path in sorted(large_assembly.rglob("*.template.json")):
        size = path.stat().st_size
        if size > TEMPLATE_BYTES:
            problems.append(f"{path.name}: {size} bytes")
        template = json.loads(path.read_text())
        problems += [f"{path.name}: {p}" for p in oversized_policies(template)]
        problems += [f"{path.name}: {p}" for p in repeated_sids(template)]
    assert problems == []


@pytest.mark.slow
def test_a_chain_of_pipelines_deploys_every_stack_within_codepipeline_quotas(
    large_assembly: Path,
) -> None:
    deployed: list[str] = []
    chain = []
    sources, last_stages = [], []
    for path in sorted(large_assembly.glob("Pipeline*.template.json")):
        template = json.loads(path.read_text())
        pipelines = [
            r["Properties"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::CodePipeline::Pipeline"
        ]
        if not pipelines:
            continue  # PipelineArtifacts-<region>
        (pipeline,) = pipelines
        chain.append(pipeline["Name"])
        stages = pipeline["Stages"]
        sources.append(stages[0]["Actions"][0]["ActionTypeId"]["Provider"])
        last_stages.append(stages[-1]["Name"])
        assert len(stages) <= MAX_PIPELINE_STAGES
        assert sum(len(stage["Actions"]) for stage in stages) <= MAX_PIPELINE_ACTIONS
        for stage in stages:
            assert len(stage["Actions"]) <= MAX_ACTIONS_PER_WAVE
            deployed += [
                action["Configuration"]["StackName"]
                for action in stage["Actions"]
                if action["ActionTypeId"]["Provider"] == "CloudFormation"
                and action["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE"
            ]
    # 1,036 deploy actions (518 stacks): one pipeline could hold fewer than half of them.
    assert chain == ["example-kms-toolkit", "example-kms-toolkit2", "example-kms-toolkit3"]
    # Each later pipeline deploys the revision the one before it handed off, not the branch.
    assert sources == ["CodeStarSourceConnection", "S3", "S3"]
    assert last_stages[:-1] == ["HandOff", "HandOff"]
    assert last_stages[-1] != "HandOff"
    stacks = stack_count(large_assembly) - len(list(large_assembly.glob("Pipeline*.template.json")))
    assert len(deployed) == len(set(deployed)) == stacks


@pytest.mark.slow
def test_the_pipeline_role_grants_are_split_across_managed_policies(large_assembly: Path) -> None:
    template = json.loads((large_assembly / "Pipeline.template.json").read_text())
    grants = [
        resource
        for logical_id, resource in template["Resources"].items()
        if logical_id.startswith("PipelineRoleGrantsPolicy")
    ]
    # One would hold the sts:AssumeRole grant on the deploy role of all 150 environments.
    assert len(grants) > 1
    role = next(
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and logical_id.startswith("PipelineRole")
    )
    assert all(g["Properties"]["Roles"] == [{"Ref": role}] for g in grants)
