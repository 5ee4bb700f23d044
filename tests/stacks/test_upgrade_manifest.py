"""Upgrading the toolkit must not replace a stateful resource of a deployed organisation.

CloudFormation knows a resource by its stack and logical ID, and replaces it when a property it
cannot change in place changes (``deploy_changes.CREATE_ONLY_PROPERTIES``): a toolkit release
that renames a key's construct ID, or gives a bucket or log group another name, makes the next
deploy of every organisation on an earlier release create a new one and delete (or, with
``DeletionPolicy: Retain``, orphan) the old one. A new KMS key cannot decrypt what the old one
encrypted; a new bucket, log group or queue is empty.

``upgrade_manifest_small_org.txt`` pins, for every key, alias, bucket, trail, log group, queue,
topic and bus of the small organisation (``tests/_support/apps/small_org.py``, whose templates
the snapshots of ``test_small_org.py`` also hold): stack, environment, logical ID, type,
``DeletionPolicy``/``UpdateReplacePolicy`` and every replacement-requiring property the template
sets. Unlike the snapshots, which ``--snapshot-update`` rewrites with everything else, it is
edited by hand only (docs/deploy.md, "Upgrading the toolkit"). ``deployed_identity.txt`` pins
the example organisation's identities the same way (test_deployed_identity.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support.deploy_changes import CREATE_ONLY_PROPERTIES, DATA_TYPES, STATEFUL_TYPES
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
# The replacement-requiring properties that are a name unique in an account and Region (or, for
# buckets, everywhere).
NAME_PROPERTIES = {
    "AliasName",
    "BucketName",
    "LogGroupName",
    "Name",
    "QueueName",
    "TableName",
    "TopicName",
    "TrailName",
}
MANIFEST = Path(__file__).with_name("upgrade_manifest_small_org.txt")
APP = "small_org"
HOW_TO_UPDATE = (
    f"If the change is deliberate, say in docs/deploy.md ('Upgrading the toolkit') what an "
    f"operator must do before deploying the release, then edit tests/stacks/{MANIFEST.name} by "
    "hand in the same commit (never regenerate it)."
)


def manifest_line(
    *, stack: str, environment: str, logical_id: str, resource: dict[str, Any]
) -> str:
    """``<stack> <account>/<region> <logical ID> <type> <DeletionPolicy>/<UpdateReplacePolicy>
    <property>=<JSON value> ...``: ``-`` for a policy the template leaves out (CloudFormation's
    default, Delete), and only the replacement-requiring properties that the template sets."""
    properties = resource.get("Properties", {})
    pinned = [
        f"{name}={json.dumps(properties[name], sort_keys=True, separators=(',', ':'))}"
        for name in CREATE_ONLY_PROPERTIES[resource["Type"]]
        if name in properties
    ]
    policies = "/".join(
        resource.get(attribute, "-") for attribute in ("DeletionPolicy", "UpdateReplacePolicy")
    )
    where = environment.removeprefix("aws://")
    return " ".join([stack, where, logical_id, resource["Type"], policies, *pinned])


def manifest_lines(result: SynthResult) -> list[str]:
    """A :func:`manifest_line` for every resource of DATA_TYPES in ``result``, sorted."""
    return sorted(
        manifest_line(
            stack=stack,
            environment=result.environments[stack],
            logical_id=logical_id,
            resource=resource,
        )
        for stack, template in result.templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in DATA_TYPES
    )


def read_manifest(path: Path = MANIFEST) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def _fields(line: str) -> tuple[str, str, str, str, str, list[str]]:
    stack, where, logical_id, kind, policies, *properties = line.split(" ")
    return stack, where, logical_id, kind, policies, properties


def _property_changes(kind: str, pinned: list[str], current: list[str]) -> list[str]:
    before = dict(item.split("=", 1) for item in pinned)
    after = dict(item.split("=", 1) for item in current)
    effect = (
        "the update fails (KeySpec, KeyUsage, MultiRegion and Origin of a KMS key never change)"
        if kind == "AWS::KMS::Key"
        else "replaced on upgrade"
    )
    return [
        f"{name} {before.get(name, '(not set)')} -> {after.get(name, '(not set)')}: {effect}"
        for name in CREATE_ONLY_PROPERTIES.get(kind, ())
        if before.get(name) != after.get(name)
    ]


def upgrade_problems(pinned: list[str], current: list[str]) -> list[str]:
    """One line per pinned resource that an organisation deployed from ``pinned`` would lose,
    have replaced or stop retaining when it deploys ``current``, and per resource of
    ``current`` that the manifest does not pin."""
    pinned_by_id = {_fields(line)[0] + "/" + _fields(line)[2]: line for line in pinned}
    current_by_id = {_fields(line)[0] + "/" + _fields(line)[2]: line for line in current}
    problems: list[str] = []
    for resource_id, line in sorted(pinned_by_id.items()):
        _, where, _, kind, policies, properties = _fields(line)
        now = current_by_id.get(resource_id)
        if now is None:
            kept = "orphaned, still billed" if policies.startswith("Retain") else "deleted"
            names = [item for item in properties if item.split("=", 1)[0] in NAME_PROPERTIES]
            held = (
                f" (its name {names[0].split('=', 1)[1]} is still held by the old one when the new "
                "one is created: the deploy fails with 'already exists')"
                if names
                else ""
            )
            problems.append(
                f"{resource_id} ({kind}) would be replaced on upgrade: its logical ID or stack is "
                f"gone (a changed construct ID or path), so every organisation deployed from an "
                f"earlier release gets a new, empty one and the old one is {kept}{held}"
            )
            continue
        _, now_where, _, now_kind, now_policies, now_properties = _fields(now)
        if now_kind != kind:
            problems.append(
                f"{resource_id} would be replaced on upgrade: its type changes from {kind} to "
                f"{now_kind}"
            )
            continue
        if now_where != where:
            problems.append(
                f"{resource_id} ({kind}) would be replaced on upgrade: its stack moves from "
                f"{where} to {now_where} (a new stack there; the old one stays deployed)"
            )
        problems += [
            f"{resource_id} ({kind}) {change}"
            for change in _property_changes(kind, properties, now_properties)
        ]
        if now_policies != policies:
            problems.append(
                f"{resource_id} ({kind}): DeletionPolicy/UpdateReplacePolicy {policies} -> "
                f"{now_policies} ('-': deleted with its stack or when replaced)"
            )
    problems += [
        f"{resource_id}: new, not in the manifest (check that no deployed resource holds its "
        f"name, then add the line: {line})"
        for resource_id, line in sorted(current_by_id.items())
        if resource_id not in pinned_by_id
    ]
    return problems


@pytest.fixture(scope="module")
def small_org(synthesized: Synth) -> SynthResult:
    return synthesized(APP)


def test_the_small_organisation_matches_its_upgrade_manifest(small_org: SynthResult) -> None:
    problems = upgrade_problems(read_manifest(), manifest_lines(small_org))
    assert problems == [], (
        f"Stateful resources of the small organisation differ from {MANIFEST.name}: the next "
        "deploy of every organisation on an earlier release would do this:\n"
        + "\n".join(problems)
        + "\n"
        + HOW_TO_UPDATE
    )


def test_the_manifest_pins_every_kind_of_stateful_resource(small_org: SynthResult) -> None:
    """Not vacuous: keys (a multi-Region one and an asymmetric one among them), aliases, buckets,
    trails, log groups, queues, topics and buses, retained where they hold data."""
    pinned = [_fields(line) for line in read_manifest()]
    kinds = {kind for _, _, _, kind, _, _ in pinned}
    assert {
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::S3::Bucket",
        "AWS::CloudTrail::Trail",
        "AWS::Logs::LogGroup",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::Events::EventBus",
    } <= kinds
    keys = [properties for _, _, _, kind, _, properties in pinned if kind == "AWS::KMS::Key"]
    assert "MultiRegion=true" in {item for properties in keys for item in properties}
    assert 'KeyUsage="SIGN_VERIFY"' in {item for properties in keys for item in properties}
    assert {
        policies
        for _, _, _, kind, policies, _ in pinned
        if kind in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Logs::LogGroup")
    } == {"Retain/Retain"}
    assert len(pinned) == len(manifest_lines(small_org))


def test_a_key_whose_construct_id_changes_is_reported_as_replaced(small_org: SynthResult) -> None:
    """What the manifest test reports for a renamed key construct (a new logical ID), a key spec
    changed in code, and a bucket that is no longer retained."""
    result = copy.deepcopy(small_org)
    resources = result.templates["App-Keys-eu-west-1"]["Resources"]
    resources["DataKeyRenamed1A2B3C4D"] = resources.pop("DataKey2A0DE9E6")
    resources["SigningKey49B95470"]["Properties"]["KeySpec"] = "ECC_NIST_P384"
    bucket = result.templates["App-Data-eu-west-1"]["Resources"]["DataBucketE6B0FAA8"]
    del bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]
    problems = upgrade_problems(read_manifest(), manifest_lines(result))
    assert problems == [
        "App-Data-eu-west-1/DataBucketE6B0FAA8 (AWS::S3::Bucket): DeletionPolicy/"
        "UpdateReplacePolicy Retain/Retain -> -/- ('-': deleted with its stack or when replaced)",
        "App-Keys-eu-west-1/DataKey2A0DE9E6 (AWS::KMS::Key) would be replaced on upgrade: its "
        "logical ID or stack is gone (a changed construct ID or path), so every organisation "
        "deployed from an earlier release gets a new, empty one and the old one is orphaned, "
        "still billed",
        'App-Keys-eu-west-1/SigningKey49B95470 (AWS::KMS::Key) KeySpec "ECC_NIST_P256" -> '
        '"ECC_NIST_P384": the update fails (KeySpec, KeyUsage, MultiRegion and Origin of a KMS '
        "key never change)",
        "App-Keys-eu-west-1/DataKeyRenamed1A2B3C4D: new, not in the manifest (check that no "
        "deployed resource holds its name, then add the line: App-Keys-eu-west-1 "
        "222222222222/eu-west-1 DataKeyRenamed1A2B3C4D AWS::KMS::Key Retain/Retain "
        'KeySpec="SYMMETRIC_DEFAULT" KeyUsage="ENCRYPT_DECRYPT")',
    ]


def test_a_renamed_queue_or_a_moved_stack_is_reported_as_replaced(small_org: SynthResult) -> None:
    result = copy.deepcopy(small_org)
    receiver = result.templates["Vault-Receiver-eu-west-1"]["Resources"]
    receiver["ReceiverQueue7788F9B1"]["Properties"]["QueueName"] = "kmskit-receiver"
    result.environments["Sec-Audit"] = "aws://111111111111/eu-central-1"
    problems = upgrade_problems(read_manifest(), manifest_lines(result))
    assert problems[-1] == (
        "Vault-Receiver-eu-west-1/ReceiverQueue7788F9B1 (AWS::SQS::Queue) QueueName (not set) "
        '-> "kmskit-receiver": replaced on upgrade'
    )
    moved = [problem for problem in problems if problem.startswith("Sec-Audit/")]
    # Its two keys and aliases, two buckets, trail, log group and topic.
    assert len(moved) == 9
    assert all(
        "would be replaced on upgrade: its stack moves from 111111111111/eu-west-1 to "
        "111111111111/eu-central-1" in problem
        for problem in moved
    )


def test_create_only_properties_cover_the_registry_schemas() -> None:
    """Every createOnlyProperty of each type, as cfn-lint's copy of the CloudFormation registry
    schemas gives it (us-east-1), is pinned: a type that gains one shows here."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # noqa: PLC0415

    missing = {}
    for kind in STATEFUL_TYPES:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
        names = {path.split("/")[2] for path in schema.get("createOnlyProperties", [])}
        if not names <= set(CREATE_ONLY_PROPERTIES[kind]):
            missing[kind] = sorted(names - set(CREATE_ONLY_PROPERTIES[kind]))
    assert missing == {}
    assert set(CREATE_ONLY_PROPERTIES) == set(STATEFUL_TYPES)
