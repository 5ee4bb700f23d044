"""A small configuration (one Region, three accounts): every stack pinned by a snapshot."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests._support.snapshots import normalized
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
STACKS = [
    "App-Audit",
    "App-Data-eu-west-1",
    "App-Keys-eu-west-1",
    "App-Replication-eu-west-1",
    "Pipeline",
    "Sec-Audit",
    "Sec-Keys-eu-west-1",
    "Vault-Audit",
    "Vault-Keys-eu-west-1",
    "Vault-Receiver-eu-west-1",
]


def test_stacks(synthesized: Synth) -> None:
    assert sorted(synthesized("small_org").templates) == STACKS


@pytest.mark.parametrize("stack_name", STACKS)
def test_snapshot(synthesized: Synth, snapshot_json, stack_name: str) -> None:  # type: ignore[no-untyped-def]
    assert normalized(synthesized("small_org").template(stack_name)) == snapshot_json


def _reference_name(part: dict[str, Any]) -> str:
    if "Fn::GetStackOutput" in part:
        return str(part["Fn::GetStackOutput"]["StackName"])
    return f"<{next(iter(part))}>"


def copier_destinations(template: dict[str, Any]) -> list[dict[str, str]]:
    """The copier's destinations, each cross-stack key reference shown as its stack name."""
    (copier,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and '"mode' in json.dumps(r["Properties"]["Environment"])
        and "Copier" in json.dumps(r)
    ]
    value = copier["Properties"]["Environment"]["Variables"]["KMSKIT_SNAPSHOT_CONFIG"]
    parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
    text = "".join(part if isinstance(part, str) else _reference_name(part) for part in parts)
    destinations: list[dict[str, str]] = json.loads(text)["destinations"]
    return destinations


def test_single_region_replication_only_shares_with_the_backup_account(synthesized: Synth) -> None:
    template = synthesized("small_org").template("App-Replication-eu-west-1")
    assert copier_destinations(template) == [
        {"region": "eu-west-1", "kms_key_arn": "App-Keys-eu-west-1", "account": "333333333333"}
    ]
    assert "PipelineArtifacts" not in " ".join(synthesized("small_org").templates)
