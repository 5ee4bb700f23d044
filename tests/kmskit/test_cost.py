"""kmskit cost: the KMS price list applied to synthesized templates."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from kmskit.cli import main
from kmskit.cost import summarize
from kmskit.errors import EXIT_NOT_FOUND, EXIT_USAGE


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
