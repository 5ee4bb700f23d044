"""kmskit cost: the KMS price list applied to synthesized templates."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kmskit.cli import main
from kmskit.cost import summarize
from kmskit.errors import EXIT_ACCESS_DENIED, EXIT_NOT_FOUND, EXIT_USAGE


def write_template(folder: Path, name: str, resources: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))


def key(rotation: bool) -> dict[str, object]:
    return {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": rotation}}


def test_prices_plain_keys_replicas_and_nested_stage_templates(tmp_path: Path) -> None:
    write_template(
        tmp_path, "A", {"K1": key(True), "K2": key(False), "Bucket": {"Type": "AWS::S3::Bucket"}}
    )
    write_template(
        tmp_path / "assembly-Prod",
        "B",
        {"R": {"Type": "AWS::KMS::ReplicaKey", "Properties": {}}},
    )
    summary = summarize(tmp_path)
    assert len(summary.keys) == 3
    assert summary.monthly_usd == Decimal("3.00")
    # The rotated key adds $1 for each of its first two rotations; so may the replica, whose
    # primary's rotation the template does not show.
    assert summary.max_monthly_usd == Decimal("7.00")
    assert summary.by_template()["B"] == (1, Decimal("1.00"), Decimal("3.00"))


def test_metadata_written_by_the_constructs_wins(tmp_path: Path) -> None:
    priced = {
        "Type": "AWS::KMS::Key",
        "Properties": {},
        "Metadata": {"kmskit:cost": {"monthlyUsd": "1.00", "maxMonthlyUsd": "3.00"}},
    }
    write_template(tmp_path, "A", {"K": priced})
    assert summarize(tmp_path).max_monthly_usd == Decimal("3.00")


def test_cli_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_template(tmp_path, "A", {"K1": key(True), "K2": key(True)})
    assert main(["cost", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["keys"] == 2
    assert out["monthlyUsd"] == "2.00"
    assert out["templates"]["A"]["maxMonthlyUsd"] == "6.00"


@pytest.mark.parametrize(
    ("make_path", "code", "message"),
    [
        (lambda p: p / "missing", EXIT_NOT_FOUND, "no cloud assembly"),
        (lambda p: p, EXIT_USAGE, "holds no *.template.json"),
    ],
)
def test_cli_errors_name_the_folder(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_path: Callable[[Path], Path],
    code: int,
    message: str,
) -> None:
    path = make_path(tmp_path)
    assert main(["cost", str(path)]) == code
    err = capsys.readouterr().err
    assert message in err
    assert str(path) in err


def test_stage_templates_are_reported_by_stack_name(tmp_path: Path) -> None:
    stage = tmp_path / "assembly-Prod"
    write_template(stage, "ProdKeys1A2B3C4D", {"K": key(True)})
    (stage / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "ProdKeys1A2B3C4D": {
                        "type": "aws:cloudformation:stack",
                        "properties": {
                            "templateFile": "ProdKeys1A2B3C4D.template.json",
                            "stackName": "Prod-Keys",
                        },
                    }
                }
            }
        )
    )
    assert list(summarize(tmp_path).by_template()) == ["Prod-Keys"]


def test_a_template_that_is_not_json_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_template(tmp_path, "Good", {"K": key(False)})
    broken = tmp_path / "Broken.template.json"
    broken.write_text("<html>not a template</html>")
    assert main(["cost", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"kmskit: error: the template '{broken}' is not valid JSON: Expecting")
    assert len(err.splitlines()) == 1


def test_a_manifest_that_is_not_a_json_object_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_template(tmp_path, "App", {"K": key(False)})
    (tmp_path / "manifest.json").write_text("[1, 2]")
    assert main(["cost", str(tmp_path)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"kmskit: error: the manifest '{tmp_path / 'manifest.json'}' must hold a JSON object. "
        "Received: list\n"
    )


def write_manifest(folder: Path, artifacts: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": artifacts}))


def stack_artifact(template: str, stack_name: str, **extra: object) -> dict[str, object]:
    return {
        "type": "aws:cloudformation:stack",
        "properties": {"templateFile": template, "stackName": stack_name},
        **extra,
    }


def test_templates_an_earlier_synth_left_in_cdk_out_are_not_counted(tmp_path: Path) -> None:
    # The CDK never cleans cdk.out: after renaming stage Old to New and dropping stack Gone, the
    # old templates are still there; only what manifest.json lists is deployed.
    write_template(tmp_path, "App", {"K": key(True)})
    write_template(tmp_path, "AppInnerABCD1234.nested", {"NK": key(False)})
    write_template(tmp_path, "Gone", {"K": key(True)})
    write_template(tmp_path / "assembly-Old", "OldKeys1A2B", {"K": key(True)})
    write_template(tmp_path / "assembly-New", "NewKeys3C4D", {"K": key(False)})
    (tmp_path / "App.assets.json").write_text(
        json.dumps(
            {
                "files": {
                    "a1": {"source": {"path": "App.template.json", "packaging": "file"}},
                    "b2": {
                        "source": {"path": "AppInnerABCD1234.nested.template.json"},
                    },
                    "c3": {"source": {"path": "asset.c3", "packaging": "zip"}},
                }
            }
        )
    )
    write_manifest(
        tmp_path,
        {
            "assembly-New": {
                "type": "cdk:cloud-assembly",
                "properties": {"directoryName": "assembly-New", "displayName": "New"},
            },
            "App.assets": {"type": "cdk:asset-manifest", "properties": {"file": "App.assets.json"}},
            "App": stack_artifact("App.template.json", "App"),
        },
    )
    write_manifest(
        tmp_path / "assembly-Old",
        {"OldKeys1A2B": stack_artifact("OldKeys1A2B.template.json", "Old-Keys")},
    )
    write_manifest(
        tmp_path / "assembly-New",
        {"NewKeys3C4D": stack_artifact("NewKeys3C4D.template.json", "New-Keys")},
    )
    summary = summarize(tmp_path)
    assert summary.by_template() == {
        "New-Keys": (1, Decimal("1.00"), Decimal("1.00")),
        "App": (1, Decimal("1.00"), Decimal("3.00")),
        "AppInnerABCD1234.nested": (1, Decimal("1.00"), Decimal("1.00")),
    }
    assert summary.monthly_usd == Decimal("3.00")


def test_nested_stacks_of_the_legacy_synthesizer_are_counted(tmp_path: Path) -> None:
    write_template(tmp_path, "App", {"K": key(False)})
    write_template(tmp_path, "AppInner99.nested", {"NK": key(False)})
    asset = {"type": "aws:cdk:asset", "data": {"path": "AppInner99.nested.template.json"}}
    write_manifest(
        tmp_path, {"App": stack_artifact("App.template.json", "App", metadata={"/App": [asset]})}
    )
    assert summarize(tmp_path).monthly_usd == Decimal("2.00")


def test_a_manifest_listing_no_stack_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_template(tmp_path, "Stale", {"K": key(False)})
    write_manifest(tmp_path, {"Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}})
    assert main(["cost", str(tmp_path)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"kmskit: error: the manifest '{tmp_path / 'manifest.json'}' lists no stack templates: "
        "is it a cdk.out folder?\n"
    )


def test_one_stack_name_in_two_stages_is_reported_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same stack_name deployed to two accounts: two stacks, two rows, not one of two keys.
    stages: dict[str, object] = {}
    for stage, rotation in (("Dev", False), ("Prod", True)):
        folder = tmp_path / f"assembly-{stage}"
        write_template(folder, f"{stage}Keys1A2B", {"K": key(rotation)})
        artifact = stack_artifact(f"{stage}Keys1A2B.template.json", "kms-keys")
        write_manifest(folder, {f"{stage}Keys1A2B": {**artifact, "displayName": f"{stage}/Keys"}})
        stages[f"assembly-{stage}"] = {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": f"assembly-{stage}"},
        }
    write_manifest(tmp_path, stages)
    assert main(["cost", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["templates"] == {
        "kms-keys (Dev/Keys)": {"keys": 1, "monthlyUsd": "1.00", "maxMonthlyUsd": "1.00"},
        "kms-keys (Prod/Keys)": {"keys": 1, "monthlyUsd": "1.00", "maxMonthlyUsd": "3.00"},
    }


@pytest.mark.parametrize(
    "setting",
    ["true", "True", {"Fn::If": ["IsProd", True, False]}, {"Ref": "RotateKeys"}],
)
def test_rotation_given_as_a_string_or_decided_at_deploy_time_counts_as_rotation(
    tmp_path: Path, setting: object
) -> None:
    # CloudFormation takes "true" for a Boolean; a Ref or Fn::If may turn rotation on, and the
    # figure after rotations is an upper bound.
    write_template(
        tmp_path,
        "A",
        {"K": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": setting}}},
    )
    summary = summarize(tmp_path)
    assert (summary.monthly_usd, summary.max_monthly_usd) == (Decimal("1.00"), Decimal("3.00"))


def test_rotation_set_to_false_as_a_string_adds_nothing(tmp_path: Path) -> None:
    write_template(
        tmp_path,
        "A",
        {"K": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": "false"}}},
    )
    assert summarize(tmp_path).max_monthly_usd == Decimal("1.00")


def write_stacks(folder: Path, regions: dict[str, str]) -> None:
    """One stack per Region (``aws://111111111111/<region>``), each of one key that rotates;
    ``unknown-region`` makes an environment-agnostic stack."""
    artifacts: dict[str, object] = {}
    for name, region in regions.items():
        write_template(folder, name, {"K": key(True)})
        environment = f"aws://{'unknown-account' if region == 'unknown-region' else '111111111111'}"
        artifacts[name] = stack_artifact(
            f"{name}.template.json", name, environment=f"{environment}/{region}"
        )
    write_manifest(folder, artifacts)


def test_keys_in_china_are_counted_but_not_priced_in_usd(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_stacks(tmp_path, {"Ireland": "eu-west-1", "Beijing": "cn-north-1"})
    write_template(tmp_path, "Ireland", {"K1": key(True), "K2": key(False)})
    assert main(["cost", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        "TEMPLATE    KEYS  USD/MONTH  USD/MONTH AFTER ROTATIONS\n"
        "Ireland        2       2.00                       4.00\n"
        "Beijing        1  not priced (aws-cn)\n"
        "TOTAL          2       2.00                       4.00\n"
        "NOT PRICED     1  aws-cn: billed in CNY on its own price list, which kmskit does not "
        "hold\n"
    )


def test_json_leaves_keys_in_china_out_of_the_usd_totals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_stacks(tmp_path, {"Ireland": "eu-west-1", "Beijing": "cn-north-1"})
    assert main(["cost", str(tmp_path), "--format", "json"]) == 0
    reason = "billed in CNY on its own price list, which kmskit does not hold"
    assert json.loads(capsys.readouterr().out) == {
        "keys": 1,
        "monthlyUsd": "1.00",
        "maxMonthlyUsd": "3.00",
        "templates": {
            "Ireland": {"keys": 1, "monthlyUsd": "1.00", "maxMonthlyUsd": "3.00"},
            "Beijing": {
                "keys": 1,
                "monthlyUsd": None,
                "maxMonthlyUsd": None,
                "notPriced": {"partition": "aws-cn", "reason": reason},
            },
        },
        "notPriced": {"keys": 1, "partitions": {"aws-cn": {"keys": 1, "reason": reason}}},
    }


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("eusc-de-east-1", "aws-eusc"),
        # No reference says a GovCloud (US) key costs what a commercial one does.
        ("us-gov-west-1", "aws-us-gov"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_keys_in_other_partitions_are_not_priced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], region: str, partition: str
) -> None:
    write_stacks(tmp_path, {"Commercial": "eu-central-1", "Other": region})
    assert main(["cost", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == f"Other          1  not priced ({partition})"
    assert lines[3] == "TOTAL          1       1.00                       3.00"
    assert lines[4] == (
        f"NOT PRICED     1  {partition}: kmskit holds only the commercial (aws) partition's KMS "
        "price list"
    )


def test_an_environment_agnostic_stack_is_priced_as_commercial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_stacks(tmp_path, {"Anywhere": "unknown-region", "Frankfurt": "eu-central-1"})
    assert main(["cost", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["keys"], out["monthlyUsd"], out["maxMonthlyUsd"]) == (2, "2.00", "6.00")
    assert "notPriced" not in out


def test_a_nested_stack_is_in_the_partition_of_its_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # cdk synth lists a nested stack's template in the asset manifest its parent depends on.
    write_template(tmp_path, "Beijing", {"K": key(False)})
    write_template(tmp_path, "BeijingInner1A2B.nested", {"NK": key(False)})
    (tmp_path / "Beijing.assets.json").write_text(
        json.dumps({"files": {"a1": {"source": {"path": "BeijingInner1A2B.nested.template.json"}}}})
    )
    write_manifest(
        tmp_path,
        {
            "Beijing.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": "Beijing.assets.json"},
            },
            "Beijing": stack_artifact(
                "Beijing.template.json",
                "Beijing",
                environment="aws://111111111111/cn-north-1",
                dependencies=["Beijing.assets"],
            ),
        },
    )
    assert main(["cost", str(tmp_path)]) == 0
    assert "BeijingInner1A2B.nested     1  not priced (aws-cn)" in capsys.readouterr().out


def test_a_stack_environment_that_is_not_an_aws_environment_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_template(tmp_path, "App", {"K": key(False)})
    write_manifest(
        tmp_path, {"App": stack_artifact("App.template.json", "App", environment="eu-west-1")}
    )
    assert main(["cost", str(tmp_path)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"kmskit: error: the manifest '{tmp_path / 'manifest.json'}' gives the stack 'App' an "
        "environment that is not 'aws://ACCOUNT/REGION'. Received: 'eu-west-1'\n"
    )


# --- malformed assemblies (the inputs of the CLI probe in /tmp/cliprobe/b5.py) -----------------

ROTATED = {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}}
ASSET_MANIFEST = {"type": "cdk:asset-manifest", "properties": {"file": "S.assets.json"}}


def probe_stack(**extra: object) -> dict[str, object]:
    artifact: dict[str, object] = {
        "type": "aws:cloudformation:stack",
        "environment": "aws://111111111111/eu-west-1",
        "properties": {"templateFile": "S.template.json"},
    }
    return {**artifact, **extra}


def write_files(folder: Path, files: dict[str, object]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


def with_stack(
    manifest: object, template: object = None, assets: object = None
) -> dict[str, object]:
    files = {
        "manifest.json": manifest,
        "S.template.json": template or {"Resources": {"K": ROTATED}},
    }
    return files if assets is None else {**files, "S.assets.json": assets}


def one_key(resource: object) -> dict[str, object]:
    return with_stack({"artifacts": {"S": probe_stack()}}, {"Resources": {"K": resource}})


def cost_metadata(value: object) -> dict[str, object]:
    return one_key({"Type": "AWS::KMS::Key", "Metadata": {"kmskit:cost": {"monthlyUsd": value}}})


MANIFEST_ERROR = "the manifest '{root}/manifest.json'"
STACK_ERROR = "the manifest '{root}/manifest.json', artifact 'S'"
TEMPLATE_ERROR = "the template '{root}/S.template.json'"
KEY_ERROR = "the template '{root}/S.template.json', resource 'K'"
ASSETS_ERROR = "the asset manifest '{root}/S.assets.json'"
USD = "'kmskit:cost' 'monthlyUsd' must be an amount of USD from 0 to 1000. Received:"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"manifest.json": {"artifacts": [1, 2]}},
            f"{MANIFEST_ERROR}: 'artifacts' must be a JSON object. Received: [1, 2]",
        ),
        (
            {"manifest.json": {"artifacts": "x"}},
            f"{MANIFEST_ERROR}: 'artifacts' must be a JSON object. Received: 'x'",
        ),
        (
            {"manifest.json": {"artifacts": None}},
            f"{MANIFEST_ERROR}: 'artifacts' must be a JSON object. Received: null",
        ),
        (
            {"manifest.json": {"artifacts": {"S": "stack"}}},
            f"{MANIFEST_ERROR}: the artifact 'S' must be a JSON object. Received: 'stack'",
        ),
        (
            {"manifest.json": {"artifacts": {"S": None}}},
            f"{MANIFEST_ERROR}: the artifact 'S' must be a JSON object. Received: null",
        ),
        (
            {"manifest.json": {"artifacts": {"S": probe_stack(properties=None)}}},
            f"{STACK_ERROR}: 'properties' must be a JSON object. Received: null",
        ),
        (
            {"manifest.json": {"artifacts": {"S": probe_stack(properties=[1])}}},
            f"{STACK_ERROR}: 'properties' must be a JSON object. Received: [1]",
        ),
        (
            {"manifest.json": {"artifacts": {"S": probe_stack(properties={"templateFile": 5})}}},
            f"{STACK_ERROR}: 'templateFile' must be a string. Received: 5",
        ),
        (
            {"manifest.json": {"artifacts": {"S": probe_stack(properties={"templateFile": None})}}},
            f"{STACK_ERROR}: 'templateFile' must be a string. Received: null",
        ),
        (
            with_stack(
                {
                    "artifacts": {
                        "S": probe_stack(
                            properties={"templateFile": "S.template.json", "stackName": 5}
                        )
                    }
                }
            ),
            f"{STACK_ERROR}: 'stackName' must be a string. Received: 5",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack(metadata=[1])}}),
            f"{STACK_ERROR}: 'metadata' must be a JSON object. Received: [1]",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack(metadata={"/S": {"type": "x"}})}}),
            f"{STACK_ERROR}: 'metadata' '/S' must be a list of JSON objects. "
            "Received: {'type': 'x'}",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack(metadata={"/S": ["x"]})}}),
            f"{STACK_ERROR}: 'metadata' '/S' must be a list of JSON objects. Received: ['x']",
        ),
        (
            with_stack(
                {
                    "artifacts": {
                        "S": probe_stack(
                            metadata={"/S": [{"type": "aws:cdk:asset", "data": {"path": 5}}]}
                        )
                    }
                }
            ),
            f"{STACK_ERROR}, asset of '/S': 'path' must be a string. Received: 5",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack(dependencies=5)}}),
            f"{STACK_ERROR}: 'dependencies' must be a JSON list. Received: 5",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack(dependencies="abc")}}),
            f"{STACK_ERROR}: 'dependencies' must be a JSON list. Received: 'abc'",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack(dependencies=[["S.assets"]])}}),
            f"{STACK_ERROR}: 'dependencies' must list artifact IDs. Received: ['S.assets']",
        ),
        (
            {
                "manifest.json": {
                    "artifacts": {
                        "A": {"type": "cdk:cloud-assembly", "properties": {"directoryName": 5}}
                    }
                }
            },
            "the manifest '{root}/manifest.json', artifact 'A': 'directoryName' must be a "
            "string. Received: 5",
        ),
        (
            with_stack(
                {"artifacts": {"S": probe_stack(), "S.assets": ASSET_MANIFEST}},
                assets={"files": [1]},
            ),
            f"{ASSETS_ERROR}: 'files' must be a JSON object. Received: [1]",
        ),
        (
            with_stack(
                {"artifacts": {"S": probe_stack(), "S.assets": ASSET_MANIFEST}},
                assets={"files": {"h": {"source": "x"}}},
            ),
            f"{ASSETS_ERROR}, file asset 'h': 'source' must be a JSON object. Received: 'x'",
        ),
        (
            with_stack(
                {"artifacts": {"S": probe_stack(), "S.assets": ASSET_MANIFEST}},
                assets={"files": {"h": {"source": {"path": 5}}}},
            ),
            f"{ASSETS_ERROR}, file asset 'h': 'path' must be a string. Received: 5",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack()}}, {"Resources": [ROTATED]}),
            f"{TEMPLATE_ERROR}: 'Resources' must be a JSON object. Received: [{{'Type': ",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack()}}, {"Resources": None}),
            f"{TEMPLATE_ERROR}: 'Resources' must be a JSON object. Received: null",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack()}}, {"Resources": "x"}),
            f"{TEMPLATE_ERROR}: 'Resources' must be a JSON object. Received: 'x'",
        ),
        (one_key("x"), f"{KEY_ERROR} must be a JSON object. Received: 'x'"),
        (one_key(None), f"{KEY_ERROR} must be a JSON object. Received: null"),
        (
            one_key({"Type": "AWS::KMS::Key", "Properties": [1]}),
            f"{KEY_ERROR}: 'Properties' must be a JSON object. Received: [1]",
        ),
        (
            one_key({"Type": "AWS::KMS::Key", "Properties": None}),
            f"{KEY_ERROR}: 'Properties' must be a JSON object. Received: null",
        ),
        (
            one_key({"Type": "AWS::KMS::Key", "Metadata": [1]}),
            f"{KEY_ERROR}: 'Metadata' must be a JSON object. Received: [1]",
        ),
        (
            one_key({"Type": "AWS::KMS::Key", "Metadata": None}),
            f"{KEY_ERROR}: 'Metadata' must be a JSON object. Received: null",
        ),
        (cost_metadata("abc"), f"{KEY_ERROR}: {USD} 'abc'"),
        (cost_metadata(None), f"{KEY_ERROR}: {USD} null"),
        (cost_metadata([1]), f"{KEY_ERROR}: {USD} [1]"),
        (cost_metadata(-5), f"{KEY_ERROR}: {USD} -5"),
        (cost_metadata("NaN"), f"{KEY_ERROR}: {USD} 'NaN'"),
        (cost_metadata(True), f"{KEY_ERROR}: {USD} True"),
        (cost_metadata("1e999999999"), f"{KEY_ERROR}: {USD} '1e999999999'"),
        (
            one_key(
                {
                    "Type": "AWS::KMS::Key",
                    "Metadata": {"kmskit:cost": {"monthlyUsd": "1.00", "maxMonthlyUsd": "-3"}},
                }
            ),
            f"{KEY_ERROR}: 'kmskit:cost' 'maxMonthlyUsd' must be an amount of USD from 0 to "
            "1000. Received: '-3'",
        ),
        (
            with_stack(
                {"artifacts": {"S": probe_stack()}},
                b'{"Resources": {"K": {"Type": "AWS::KMS::Key", '
                b'"Metadata": {"kmskit:cost": {"monthlyUsd": NaN}}}}}',
            ),
            f"{KEY_ERROR}: {USD} nan",
        ),
        (
            with_stack(
                {"artifacts": {"S": probe_stack()}},
                b'{"Resources": {"K": {"Type": "AWS::KMS::Key", '
                b'"Metadata": {"kmskit:cost": {"monthlyUsd": Infinity}}}}}',
            ),
            f"{KEY_ERROR}: {USD} inf",
        ),
        (
            with_stack({"artifacts": {"S": probe_stack()}}, b"[" * 50_000 + b"]" * 50_000),
            f"{TEMPLATE_ERROR} is not valid JSON: nested too deep",
        ),
    ],
)
def test_a_malformed_assembly_is_bad_usage_naming_the_file_field_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, object], message: str
) -> None:
    write_files(tmp_path, files)
    assert main(["cost", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("kmskit: error: " + message.replace("{root}", str(tmp_path)))
    assert len(err.splitlines()) == 1


def test_kmskit_cost_metadata_may_be_a_number_or_a_decimal_string(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        with_stack(
            {"artifacts": {"S": probe_stack()}},
            {
                "Resources": {
                    "A": {"Type": "AWS::KMS::Key", "Metadata": {"kmskit:cost": {"monthlyUsd": 1}}},
                    "B": {
                        "Type": "AWS::KMS::Key",
                        "Metadata": {"kmskit:cost": {"monthlyUsd": "1.00", "maxMonthlyUsd": 3.0}},
                    },
                }
            },
        ),
    )
    summary = summarize(tmp_path)
    assert (summary.monthly_usd, summary.max_monthly_usd) == (Decimal("2.00"), Decimal("4.0"))


def test_an_unreadable_folder_under_an_assembly_without_manifest_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Path.rglob skipped a folder it may not list and priced the rest without a word. The
    # folder is made unlistable by a stub: chmod does not stop root, which CI may run as.
    write_template(tmp_path, "A", {"K": key(False)})
    write_template(tmp_path / "locked", "B", {"K": key(False)})
    locked = tmp_path / "locked"
    scandir = os.scandir

    def refusing_scandir(path: Any) -> Any:
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing_scandir)
    assert main(["cost", str(tmp_path)]) == EXIT_ACCESS_DENIED
    assert capsys.readouterr().err == (
        f"kmskit: error: could not read the folder '{locked}': Permission denied\n"
    )


def test_templates_of_an_assembly_without_manifest_are_found_in_every_folder(
    tmp_path: Path,
) -> None:
    write_template(tmp_path, "B", {"K": key(False)})
    write_template(tmp_path / "assembly-Prod" / "deeper", "A", {"K": key(True)})
    (tmp_path / "notes.json").write_text("{}")
    summary = summarize(tmp_path)
    assert [k.template for k in summary.keys] == ["B", "A"]  # sorted by path, as before


# --- paths a manifest names must stay inside the assembly ------------------------------------

OUTSIDE_KEY = {"Resources": {"Stolen": ROTATED}}


def assembly_with_outside(tmp_path: Path) -> tuple[Path, Path]:
    """``cdk.out`` (empty) and, next to it, a folder holding a template and an asset manifest
    that a manifest must not make kmskit read."""
    root, outside = tmp_path / "cdk.out", tmp_path / "outside"
    write_files(
        outside,
        {
            "S.template.json": OUTSIDE_KEY,
            "S.assets.json": {"files": {}},
            "assembly-X/manifest.json": {"artifacts": {"S": probe_stack()}},
            "assembly-X/S.template.json": OUTSIDE_KEY,
        },
    )
    root.mkdir()
    return root, outside


def stack_reading(template_file: str) -> dict[str, object]:
    return {"artifacts": {"S": probe_stack(properties={"templateFile": template_file})}}


@pytest.mark.parametrize(
    ("template_file", "received"),
    [
        ("../outside/S.template.json", "'../outside/S.template.json'"),
        ("../../outside/S.template.json", "'../../outside/S.template.json'"),
        ("{outside}/S.template.json", "'{outside}/S.template.json'"),
        ("sub/../../outside/S.template.json", "'sub/../../outside/S.template.json'"),
        (".", "'.'"),
        ("", "''"),
    ],
    ids=["parent", "grandparent", "absolute", "dot-dot inside", "the folder", "empty"],
)
def test_a_template_file_outside_the_assembly_is_refused_naming_the_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], template_file: str, received: str
) -> None:
    root, outside = assembly_with_outside(tmp_path)
    value = template_file.replace("{outside}", str(outside))
    write_files(root, {"manifest.json": stack_reading(value)})
    assert main(["cost", str(root)]) == EXIT_USAGE
    assert capsys.readouterr().err == (
        f"kmskit: error: the manifest '{root}/manifest.json', artifact 'S': 'templateFile' must "
        f"be a path inside the assembly folder '{root}', as the CDK writes it. "
        f"Received: {received.replace('{outside}', str(outside))}\n"
    )


def test_a_template_file_that_links_out_of_the_assembly_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, outside = assembly_with_outside(tmp_path)
    write_files(root, {"manifest.json": stack_reading("S.template.json")})
    (root / "S.template.json").symlink_to(outside / "S.template.json")
    assert main(["cost", str(root)]) == EXIT_USAGE
    target = os.path.realpath(outside / "S.template.json")
    assert capsys.readouterr().err == (
        f"kmskit: error: the manifest '{root}/manifest.json', artifact 'S': 'templateFile' must "
        f"be a path inside the assembly folder '{root}', as the CDK writes it. "
        f"Received: 'S.template.json', which leads to '{target}'\n"
    )
    # A link to a template elsewhere in the assembly is still read.
    write_files(root, {"real/S.template.json": {"Resources": {"K": ROTATED}}})
    (root / "S.template.json").unlink()
    (root / "S.template.json").symlink_to(root / "real" / "S.template.json")
    assert summarize(root).by_template() == {"S": (1, Decimal("1.00"), Decimal("3.00"))}


NESTED_ASSEMBLY = "the manifest '{root}/manifest.json', artifact 'Stage'"
ASSET_MANIFEST_ARTIFACT = "the manifest '{root}/manifest.json', artifact 'S.assets'"
INSIDE = "must be a path inside the assembly folder '{root}', as the CDK writes it. Received:"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {
                "manifest.json": {
                    "artifacts": {
                        "Stage": {
                            "type": "cdk:cloud-assembly",
                            "properties": {"directoryName": "../outside/assembly-X"},
                        }
                    }
                }
            },
            f"{NESTED_ASSEMBLY}: 'directoryName' {INSIDE} '../outside/assembly-X'",
        ),
        (
            # A nested assembly that is the assembly itself: read again and again before.
            {
                "manifest.json": {
                    "artifacts": {
                        "S": probe_stack(),
                        "Stage": {
                            "type": "cdk:cloud-assembly",
                            "properties": {"directoryName": "."},
                        },
                    }
                },
                "S.template.json": {"Resources": {"K": ROTATED}},
            },
            f"{NESTED_ASSEMBLY}: 'directoryName' {INSIDE} '.'",
        ),
        (
            with_stack(
                {
                    "artifacts": {
                        "S": probe_stack(),
                        "S.assets": {
                            "type": "cdk:asset-manifest",
                            "properties": {"file": "../outside/S.assets.json"},
                        },
                    }
                }
            ),
            f"{ASSET_MANIFEST_ARTIFACT}: 'file' {INSIDE} '../outside/S.assets.json'",
        ),
        (
            with_stack(
                {"artifacts": {"S": probe_stack(), "S.assets": ASSET_MANIFEST}},
                assets={"files": {"h": {"source": {"path": "../outside/S.template.json"}}}},
            ),
            "the asset manifest '{root}/S.assets.json', file asset 'h': 'path' "
            f"{INSIDE} '../outside/S.template.json'",
        ),
        (
            with_stack(
                {
                    "artifacts": {
                        "S": probe_stack(
                            metadata={
                                "/S": [
                                    {
                                        "type": "aws:cdk:asset",
                                        "data": {"path": "../outside/S.template.json"},
                                    }
                                ]
                            }
                        )
                    }
                }
            ),
            f"{STACK_ERROR}, asset of '/S': 'path' {INSIDE} '../outside/S.template.json'",
        ),
    ],
    ids=[
        "nested assembly",
        "nested assembly is itself",
        "asset manifest",
        "nested stack",
        "legacy",
    ],
)
def test_other_paths_a_manifest_names_must_stay_inside_the_assembly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, object], message: str
) -> None:
    root, _ = assembly_with_outside(tmp_path)
    write_files(root, files)
    assert main(["cost", str(root)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "kmskit: error: " + message.replace("{root}", str(root)) + "\n"


# --- a folder without manifest that holds cloud assemblies -----------------------------------


def test_a_stage_assembly_read_without_the_top_manifest_counts_only_what_its_manifest_lists(
    tmp_path: Path,
) -> None:
    # cdk.out without its top manifest.json (or its parent folder given) fell back to every
    # *.template.json under it, counting a template an earlier synth left in a stage assembly
    # although that assembly's own manifest no longer lists it.
    stage = tmp_path / "assembly-Prod"
    write_template(stage, "ProdKeys1A2B3C4D", {"K": key(True)})
    write_template(stage, "ProdOldKeys9F8E7D6C", {"Old": key(True), "Older": key(False)})
    write_manifest(
        stage,
        {"ProdKeys1A2B3C4D": stack_artifact("ProdKeys1A2B3C4D.template.json", "Prod-Keys")},
    )
    summary = summarize(tmp_path)
    assert [(k.template, k.logical_id) for k in summary.keys] == [("Prod-Keys", "K")]
    assert (summary.monthly_usd, summary.max_monthly_usd) == (Decimal("1.00"), Decimal("3.00"))


def test_one_stack_name_in_two_stages_read_without_manifest_is_reported_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without a top manifest the rows of two stages' "kms-keys" stacks were summed into one.
    stages: dict[str, dict[str, object]] = {
        "Prod": {"K": key(True)},
        "Dev": {"K": key(False), "L": key(False)},
    }
    for stage, keys in stages.items():
        folder = tmp_path / f"assembly-{stage}"
        write_template(folder, f"{stage}Keys", keys)
        write_manifest(
            folder,
            {
                f"{stage}Keys": stack_artifact(
                    f"{stage}Keys.template.json", "kms-keys", displayName=f"{stage}/Keys"
                )
            },
        )
    write_template(tmp_path / "a", "loose", {"K": key(False)})
    write_template(tmp_path / "b", "loose", {"K": key(False)})
    assert main(["cost", str(tmp_path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["monthlyUsd"] == "5.00"
    assert {name: row["keys"] for name, row in document["templates"].items()} == {
        "loose (a/loose.template.json)": 1,
        "kms-keys (Dev/Keys)": 2,
        "kms-keys (Prod/Keys)": 1,
        "loose (b/loose.template.json)": 1,
    }
