"""Upgrading the toolkit must not replace what a deployed organisation holds.

CloudFormation knows a resource by its stack and logical ID. A toolkit change that moves a KMS
key, bucket, log group, queue, alias, trail or event bus to another logical ID or stack, or gives
it another name, makes the next ``cdk deploy`` of every organisation already deployed create a
new one and delete or orphan the old one: a new key cannot decrypt what the old one encrypted,
a new bucket is empty, and a fixed name the old one still holds fails the deploy ("already
exists"). The syrupy snapshots show such a change too, but ``--snapshot-update`` rewrites them
with everything else, in a diff where a renamed logical ID is one line among hundreds.

``deployed_identity.txt`` lists every such resource of the example organisation: stack, logical
ID, type and fixed name (``-``: generated). It is edited by hand only, never regenerated: a line
that goes is a replacement or deletion in every deployed organisation (docs/deploy.md,
"Upgrading the toolkit"), a line that is new is a resource that the next deploy creates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support.deploy_changes import DATA_TYPES, fixed_name
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
LEDGER = Path(__file__).with_name("deployed_identity.txt")
IDENTITY_TYPES = DATA_TYPES
# Kept whatever happens to their stack: deleting one destroys data (a key: every ciphertext made
# under it; a bucket or log group: what it holds). docs/keys.md and docs/audit.md: RETAIN is the
# default of every construct, and no organisation of this project overrides it.
RETAINED_TYPES = ("AWS::KMS::Key", "AWS::KMS::ReplicaKey", "AWS::S3::Bucket", "AWS::Logs::LogGroup")
ORGANISATION_APPS = ("example_org", "small_org", "pipeline_chain")


def identity(templates: dict[str, dict[str, Any]]) -> list[str]:
    """``<stack> <logical ID> <type> <fixed name or ->`` for every resource of IDENTITY_TYPES."""
    return sorted(
        f"{stack} {logical_id} {resource['Type']} {fixed_name(resource) or '-'}"
        for stack, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in IDENTITY_TYPES
    )


def ledger() -> list[str]:
    lines = LEDGER.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def identity_drift(pinned: list[str], current: list[str]) -> tuple[list[str], list[str]]:
    """(pinned lines the App no longer has, lines of the App not pinned)."""
    return sorted(set(pinned) - set(current)), sorted(set(current) - set(pinned))


@pytest.fixture(scope="module")
def example(synthesized: Synth) -> SynthResult:
    return synthesized("example_org")


def test_no_resource_of_a_deployed_organisation_changes_identity(example: SynthResult) -> None:
    gone, new = identity_drift(ledger(), identity(example.templates))
    assert gone == [], (
        "The next deploy of every organisation already deployed would replace or delete these "
        "(a changed logical ID, stack or name is a new resource; a new KMS key cannot decrypt "
        "what the old one encrypted). Keep their construct IDs and paths; if the change is "
        "meant, say what an operator must do in docs/deploy.md ('Upgrading the toolkit') and "
        f"then edit {LEDGER.name} by hand:\n" + "\n".join(gone)
    )
    assert new == [], (
        f"New stateful resources: check that nothing deployed held their names, then add these "
        f"lines to {LEDGER.name}:\n" + "\n".join(new)
    )


def test_a_key_that_moves_to_another_logical_id_is_caught(example: SynthResult) -> None:
    templates = copy.deepcopy(example.templates)
    resources = templates["Workload-Keys-eu-west-1"]["Resources"]
    (data_key,) = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::KMS::Key"
        and "Data key" in resource["Properties"]["Description"]
    ]
    resources["DataKeyMoved"] = resources.pop(data_key)
    renamed = next(r for r in resources.values() if fixed_name(r) == "alias/example/signing")
    renamed["Properties"]["AliasName"] = "alias/example/sign"
    gone, new = identity_drift(ledger(), identity(templates))
    assert gone == [
        f"Workload-Keys-eu-west-1 {data_key} AWS::KMS::Key -",
        "Workload-Keys-eu-west-1 SigningKeyAliasFA392759 AWS::KMS::Alias alias/example/signing",
    ]
    assert new == [
        "Workload-Keys-eu-west-1 DataKeyMoved AWS::KMS::Key -",
        "Workload-Keys-eu-west-1 SigningKeyAliasFA392759 AWS::KMS::Alias alias/example/sign",
    ]


@pytest.mark.parametrize("app", ORGANISATION_APPS)
def test_every_key_bucket_and_log_group_outlives_its_stack(synthesized: Synth, app: str) -> None:
    """Deleting a stack (docs/deploy.md: a removed account's or Region's) or replacing one of
    these keeps it: DeletionPolicy and UpdateReplacePolicy Retain."""
    not_retained = [
        f"{stack}/{logical_id} ({resource['Type']}): {resource.get('DeletionPolicy')}, "
        f"{resource.get('UpdateReplacePolicy')}"
        for stack, template in synthesized(app).templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in RETAINED_TYPES
        and (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
        != ("Retain", "Retain")
    ]
    assert not_retained == []
    # Not vacuous: the organisation holds keys, buckets and log groups (replica keys only where
    # it has a second Region).
    kinds = {
        resource["Type"]
        for template in synthesized(app).templates.values()
        for resource in template["Resources"].values()
    }
    assert {"AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup"} <= kinds
