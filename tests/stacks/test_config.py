"""The organisation configuration: every bad value is refused with the field and the value."""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from constructs_lib import ConstructPropError
from stacks.config import (
    ORGANISATION_CONTEXT_KEY,
    ORGANISATION_FILE_CONTEXT_KEY,
    cdk_json_context,
    load_organisation,
    organisation_from_context,
)
from stacks.organisation import (
    FIXED_PIPELINE_STAGES,
    MAX_ACTIONS_PER_WAVE,
    MAX_PIPELINE_ACTIONS,
    MAX_PIPELINE_STAGES,
    AccountStage,
    plan_pipelines,
    plan_waves,
)

DEFAULT = cdk_json_context()[ORGANISATION_CONTEXT_KEY]


def changed(path: str, value: Any) -> dict[str, Any]:
    """The default organisation with ``path`` (dots; list indexes as numbers) set to ``value``;
    ``value=...`` deletes it."""
    config = copy.deepcopy(DEFAULT)
    *parents, last = path.split(".")
    node: Any = config
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return cast(dict[str, Any], config)


def test_default_organisation_is_the_example_of_the_foundation_issue() -> None:
    organisation = load_organisation(DEFAULT)
    assert [a.role for a in organisation.accounts] == ["security", "workload", "backup"]
    assert organisation.regions == ("eu-west-1", "eu-central-1")
    assert len(organisation.environments()) == 6
    assert organisation.environments()[0].name == "security-eu-west-1"
    assert [
        (d.region, d.account.alias if d.account else None)
        for d in organisation.replication.destinations
    ] == [
        ("eu-central-1", None),
        ("eu-west-1", "backup"),
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            changed("accounts.workload.id", "12"),
            "'kmskit:organisation.accounts.workload.id' must be a 12-digit AWS account ID. "
            "Received: '12'",
        ),
        (
            changed("regions", ["eu-west-1", "eu-westt-1"]),
            "'kmskit:organisation.regions[1]' must be an AWS Region name such as 'eu-west-1'. "
            "Received: 'eu-westt-1'",
        ),
        (
            changed("regions", ["eu-west-1", "eu-west-1"]),
            "'kmskit:organisation.regions[1]' must not repeat a Region (each account x Region is "
            "one environment). Received: 'eu-west-1'",
        ),
        (
            changed("accounts.backup.id", "222222222222"),
            "'kmskit:organisation.accounts.backup.id' must not repeat the ID of account "
            "'workload'. Received: '222222222222'",
        ),
        (
            changed("replication.destinations.1.account", "archive"),
            "'kmskit:organisation.replication.destinations[1].account' must name an account alias "
            "of this organisation ['backup', 'security', 'workload']. Received: 'archive'",
        ),
        (
            changed("pipeline.account", "tooling"),
            "'kmskit:organisation.pipeline.account' must name an account alias of this "
            "organisation",
        ),
        (
            changed("replication.destinations.0.region", "us-east-1"),
            "'kmskit:organisation.replication.destinations[0].region' must be one of regions "
            "['eu-west-1', 'eu-central-1']: a destination Region needs the key of the "
            "organisation's KeyStack there. Received: 'us-east-1'",
        ),
        (
            changed(
                "replication.destinations", [{"region": "eu-central-1"}, {"region": "eu-central-1"}]
            ),
            "'kmskit:organisation.replication.destinations[1]' must not repeat a destination",
        ),
        (
            changed("replication.destinations.1.account", "workload"),
            "'kmskit:organisation.replication.destinations[1].account' must name an account with "
            "role 'backup'. Received: 'workload'",
        ),
        (
            changed("replication.destinations.0.kms_key_arn", "arn:aws:kms:eu-central-1:1:key/x"),
            "'kmskit:organisation.replication.destinations[0]' may only have the keys "
            "['region', 'account']. Received: 'kms_key_arn'",
        ),
        (
            changed("replication.resource_types", ["EBS", "EFS"]),
            "'kmskit:organisation.replication.resource_types' must be a non-empty list of "
            "('EBS', 'RDS', 'AURORA'). Received: ['EBS', 'EFS']",
        ),
        (
            changed("replication.retention_days", 0),
            "'kmskit:organisation.replication.retention_days' must be 1-3650 days. Received: 0",
        ),
        (
            changed("audit.log_retention_days", 100),
            "'kmskit:organisation.audit.log_retention_days' must be a CloudWatch Logs retention "
            "period",
        ),
        (
            changed("accounts.security.role", "workload"),
            "'kmskit:organisation.accounts' must have exactly one account with role 'security'",
        ),
        (
            changed("accounts.backup.role", "archive"),
            "'kmskit:organisation.accounts.backup.role' must be one of ('security', 'workload', "
            "'backup'). Received: 'archive'",
        ),
        (
            changed("home_region", "eu-north-1"),
            "'kmskit:organisation.home_region' must be one of regions",
        ),
        (
            changed("name", "Example Org"),
            "'kmskit:organisation.name' must be 1-20 lowercase letters",
        ),
        (
            changed("regions", []),
            "'kmskit:organisation.regions' must be a non-empty list of Regions",
        ),
        (
            changed("accounts", ...),
            "'kmskit:organisation.accounts' must map account aliases to {id, role}",
        ),
        (
            changed("pipeline.connection_arn", "github"),
            "'kmskit:organisation.pipeline.connection_arn' must be",
        ),
        (
            changed("pipeline.repository", "kms-toolkit"),
            "'kmskit:organisation.pipeline.repository' must be",
        ),
        (changed("colour", "blue"), "'kmskit:organisation.' may only have the keys"),
        ("not an object", "'kmskit:organisation.' must be an object. Received: 'not an object'"),
    ],
)
def test_bad_configuration_names_the_field_and_value(config: Any, message: str) -> None:
    with pytest.raises(ConstructPropError) as error:
        load_organisation(config)
    assert message in str(error.value)


def test_configuration_can_live_in_a_file_named_by_cdk_json(tmp_path: Path) -> None:
    (tmp_path / "org.json").write_text(json.dumps(changed("name", "fromfile")))
    organisation = organisation_from_context(
        {ORGANISATION_FILE_CONTEXT_KEY: "org.json"}, root=tmp_path
    )
    assert organisation.name == "fromfile"
    with pytest.raises(
        ConstructPropError, match="'kmskit:organisation-file' must name a readable JSON"
    ):
        organisation_from_context({ORGANISATION_FILE_CONTEXT_KEY: "missing.json"}, root=tmp_path)


@dataclass
class FakeStage:
    stage_name: str
    stack_count: int


def test_waves_are_split_to_stay_within_codepipeline_action_quota() -> None:
    workloads = [FakeStage(f"W{i}", 7) for i in range(8)]  # 14 actions each: 3 per wave
    waves = plan_waves(
        [
            ("Security", [FakeStage("S", 3)]),
            ("Workloads", workloads),
            ("Backup", [FakeStage("B", 4)]),
        ]  # type: ignore[list-item]
    )
    assert [name for name, _ in waves] == [
        "Security",
        "Workloads-1",
        "Workloads-2",
        "Workloads-3",
        "Backup",
    ]
    assert [len(stages) for _, stages in waves] == [1, 3, 3, 2, 1]
    for _, stages in waves:
        assert sum(2 * s.stack_count for s in stages) <= MAX_ACTIONS_PER_WAVE  # type: ignore[attr-defined]


def pipeline_actions(pipeline: list[tuple[str, list[FakeStage]]]) -> int:
    return FIXED_PIPELINE_STAGES + sum(2 * s.stack_count for _, stages in pipeline for s in stages)


def test_waves_past_codepipeline_action_quota_go_to_further_pipelines_in_order() -> None:
    # 150 environments' worth: 73 workload accounts of 7 stacks, 1,040 actions with the others.
    workloads = [FakeStage(f"W{i}", 7) for i in range(73)]
    waves = plan_waves(
        [
            ("Security", [FakeStage("S", 3)]),
            ("Workloads", workloads),
            ("Backup", [FakeStage("B", 4)]),
        ]  # type: ignore[list-item]
    )
    pipelines = plan_pipelines(waves)
    assert len(pipelines) == 3
    assert [wave for pipeline in pipelines for wave in pipeline] == waves
    assert pipelines[0][0][0] == "Security"
    assert pipelines[-1][-1][0] == "Backup"
    for pipeline in pipelines:
        assert pipeline_actions(pipeline) <= MAX_PIPELINE_ACTIONS  # type: ignore[arg-type]
    # Each pipeline but the last is full: a further wave would not have fitted.
    for pipeline, following in itertools.pairwise(pipelines):
        next_wave = 2 * sum(s.stack_count for s in following[0][1])  # type: ignore[attr-defined]
        assert pipeline_actions(pipeline) + next_wave > MAX_PIPELINE_ACTIONS  # type: ignore[arg-type]


def test_a_pipeline_holds_at_most_codepipeline_stage_quota() -> None:
    waves = [(f"W{i}", [FakeStage(f"W{i}", 1)]) for i in range(60)]  # 2 actions each
    pipelines = plan_pipelines(waves)  # type: ignore[arg-type]
    first = MAX_PIPELINE_STAGES - FIXED_PIPELINE_STAGES
    assert [len(p) for p in pipelines] == [first, len(waves) - first]


def test_a_small_organisation_needs_one_pipeline() -> None:
    waves = [("Security", [FakeStage("S", 3)]), ("Workloads", [FakeStage("W", 7)])]
    assert plan_pipelines(waves) == [waves]  # type: ignore[arg-type]
    assert AccountStage  # the real stages expose stage_name and stack_count the same way
