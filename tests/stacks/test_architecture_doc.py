"""docs/architecture.md is generated from the example organisation and kept current."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stacks import config
from stacks.architecture import main, render, render_args, summarize
from stacks.config import (
    ORGANISATION_CONTEXT_KEY,
    ORGANISATION_FILE_CONTEXT_KEY,
    cdk_json_context,
    load_organisation,
)
from tests._support.synth import SynthResult

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_architecture_doc_matches_the_example_app(
    synthesized: Callable[[str], SynthResult],
) -> None:
    organisation = load_organisation(cdk_json_context()[ORGANISATION_CONTEXT_KEY])
    expected = render(summarize(synthesized("example_org").outdir), *render_args(organisation))
    assert DOC.read_text() == expected, (
        "docs/architecture.md is stale: run `make synth && python -m stacks.architecture cdk.out "
        "> docs/architecture.md`"
    )


def test_architecture_doc_shows_the_cross_account_flows() -> None:
    text = DOC.read_text()
    assert "Workload_Audit -->|CloudTrail logs| Security_Audit" in text
    assert "Workload_Replication_eu_west_1 -->|shared snapshots| Backup_Receiver_eu_west_1" in text
    assert "Workload_Keys_eu_west_1 -->|multi-Region replica| Workload_Keys_eu_central_1" in text
    assert (
        "Workload_Replication_eu_west_1 -->|re-encrypted copies| Workload_Keys_eu_central_1" in text
    )
    assert "Workload_Replication_eu_central_1 -->|re-encrypted copies|" not in text


def test_architecture_reads_an_organisation_file_named_by_cdk_json(
    synthesized: Callable[[str], SynthResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    organisation = cdk_json_context()[ORGANISATION_CONTEXT_KEY]
    (tmp_path / "org.json").write_text(json.dumps(organisation))
    # cdk.json naming the file instead of holding the organisation inline, in a project whose
    # root is tmp_path (the file name is a path inside the project's root).
    monkeypatch.setattr(
        config, "cdk_json_context", lambda: {ORGANISATION_FILE_CONTEXT_KEY: "org.json"}
    )
    monkeypatch.setattr(
        config,
        "organisation_from_context",
        functools.partial(config.organisation_from_context, root=tmp_path),
    )
    assert main([str(synthesized("example_org").outdir)]) == 0
    assert capsys.readouterr().out == DOC.read_text()


def write_assembly(directory: Path, templates: dict[str, dict[str, Any]]) -> Path:
    """A cloud assembly of ``templates`` (stack name -> resources), each stack's Region the end
    of its name."""
    artifacts = {}
    for name, resources in templates.items():
        (directory / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://222222222222/{name.split('-', 2)[2]}",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
        }
    (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return directory


def test_multi_region_replicas_point_at_the_primary_in_the_home_region(tmp_path: Path) -> None:
    # Three Regions: the primary's Region (eu-west-1) is not the first of the others by name.
    primary = {"Key": {"Type": "AWS::KMS::Key", "Properties": {"MultiRegion": True}}}
    replica = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Replica": {"Type": "AWS::KMS::ReplicaKey", "Properties": {}},
    }
    assembly = write_assembly(
        tmp_path,
        {
            "Workload-Keys-eu-west-1": primary,
            "Workload-Keys-eu-central-1": replica,
            "Workload-Keys-eu-north-1": replica,
        },
    )
    text = render(summarize(assembly), {"222222222222": "workload"}, set())
    replicas = [line.strip() for line in text.splitlines() if "multi-Region replica" in line]
    assert sorted(replicas) == [
        "Workload_Keys_eu_west_1 -->|multi-Region replica| Workload_Keys_eu_central_1",
        "Workload_Keys_eu_west_1 -->|multi-Region replica| Workload_Keys_eu_north_1",
    ]


def test_each_pipeline_of_a_chain_points_at_the_stages_it_deploys(
    synthesized: Callable[[str], SynthResult],
) -> None:
    # The arrows used to leave Pipeline only, to every stage, Pipeline2's included.
    chain = synthesized("pipeline_chain")
    text = render(summarize(chain.outdir), {}, set())
    deploys = sorted(line.strip() for line in text.splitlines() if "-->|deploys|" in line)
    second = [line for line in deploys if line.startswith("Pipeline2 ")]
    first = [line for line in deploys if line.startswith("Pipeline ")]
    assert second == ["Pipeline2 -->|deploys| Vault_Audit"]
    assert first == ["Pipeline -->|deploys| App_Audit", "Pipeline -->|deploys| Sec_Audit"]
