"""constructs_lib.compliance.UncheckedResources: resources no cdk-nag pack checks are named.

cdk-nag's rules look at typed L1 constructs; aws-cdk-lib writes its custom resource providers'
IAM role and Lambda function as plain ``CfnResource``, which all five packs pass unreported.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib import acknowledge, add_compliance_checks
from constructs_lib.compliance import UNCHECKED_PLUGIN, UNCHECKED_RULE, unchecked_rule

REASON = "the provider's role and function were reviewed by hand for this test app"
HOME = cdk.Environment(account="111111111111", region="eu-west-1")
AWAY = cdk.Environment(account="111111111111", region="us-east-1")
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _scratch_bucket(scope: Construct) -> None:
    """A bucket with ``auto_delete_objects`` (the S3AutoDeleteObjects provider)."""
    s3.Bucket(
        scope,
        "Scratch",
        auto_delete_objects=True,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        enforce_ssl=True,
    )


def _app(outdir: Path, **app_props: object) -> tuple[cdk.App, cdk.Stack, cdk.Stack]:
    """A key read by a stack in another Region (CDK's default, strong, reference: an export
    writer and reader) and a bucket with ``auto_delete_objects`` (S3AutoDeleteObjects)."""
    app = cdk.App(outdir=str(outdir), **app_props)  # type: ignore[arg-type]
    home = cdk.Stack(app, "Home", env=HOME)
    away = cdk.Stack(app, "Away", env=AWAY)
    key = kms.Key(home, "Key", enable_key_rotation=True)
    cdk.CfnOutput(away, "KeyArn", value=key.key_arn)
    _scratch_bucket(home)
    add_compliance_checks(app)
    return app, home, away


def _report(app: cdk.App, outdir: Path) -> dict[str, list[dict[str, object]]]:
    """The KmsToolkit plugin's violations and suppressed violations, as the report has them."""
    # The bucket fails the packs (no logging, versioning ...): synth raises after the report.
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == UNCHECKED_PLUGIN]
    return {
        "violations": plugin.get("violations", []),
        "suppressed": plugin.get("suppressedViolations", []),
    }


def _named(violations: list[dict[str, object]]) -> list[tuple[str, str, str]]:
    return sorted(
        (str(v["ruleName"]), str(v["severity"]), str(c["constructPath"]))  # type: ignore[index]
        for v in violations
        for c in v["violatingConstructs"]  # type: ignore[attr-defined]
    )


def _path(violations: list[dict[str, object]]) -> list[str]:
    return sorted(path for _, _, path in _named(violations))


def test_each_provider_role_and_function_is_named_as_a_warning(tmp_path: Path) -> None:
    app, _, _ = _app(tmp_path)
    report = _report(app, tmp_path)

    assert _path(report["violations"]) == [
        f"{stack}/Custom::{provider}CustomResourceProvider/{part}"
        for stack, provider, part in sorted(
            [
                ("Away", "CrossRegionExportReader", "Handler"),
                ("Away", "CrossRegionExportReader", "Role"),
                ("Home", "CrossRegionExportWriter", "Handler"),
                ("Home", "CrossRegionExportWriter", "Role"),
                ("Home", "S3AutoDeleteObjects", "Handler"),
                ("Home", "S3AutoDeleteObjects", "Role"),
            ]
        )
    ]
    # One finding per resource, named by its type and logical ID.
    for violation in report["violations"]:
        assert violation["severity"] == "warning"
        (resource,) = violation["violatingConstructs"]  # type: ignore[misc]
        cfn = resource["cloudFormationResource"]
        kind = cfn["propertyPaths"][0].removeprefix("Type: ")
        assert kind in {"AWS::IAM::Role", "AWS::Lambda::Function"}
        assert violation["ruleName"] == unchecked_rule(kind, cfn["logicalId"])
    # What the packs would have reported on a typed role: the managed policy and an inline one.
    home = json.loads((tmp_path / "Home.template.json").read_text())["Resources"]
    writer_role = next(
        r
        for logical_id, r in home.items()
        if logical_id.startswith("CustomCrossRegionExportWriterCustomResourceProviderRole")
    )
    assert "AWSLambdaBasicExecutionRole" in json.dumps(
        writer_role["Properties"]["ManagedPolicyArns"]
    )
    assert writer_role["Properties"]["Policies"]


def _rules(outdir: Path, template: str, prefix: str) -> list[str]:
    """The finding of each resource of ``template`` whose logical ID starts with ``prefix``."""
    resources = json.loads((outdir / template).read_text())["Resources"]
    return [
        unchecked_rule(resource["Type"], logical_id)
        for logical_id, resource in resources.items()
        if logical_id.startswith(prefix)
    ]


def test_each_resource_is_acknowledged_on_its_own(tmp_path: Path) -> None:
    # A first synth names the findings; the acknowledgments are made in a second App.
    app, _, _ = _app(tmp_path / "first")
    _report(app, tmp_path / "first")
    writer = _rules(tmp_path / "first", "Home.template.json", "CustomCrossRegionExportWriter")
    reader = _rules(tmp_path / "first", "Away.template.json", "CustomCrossRegionExportReader")
    assert len(writer) == len(reader) == 2

    app, home, away = _app(tmp_path)
    acknowledge(home, writer, REASON)
    acknowledge(away, [f"{UNCHECKED_PLUGIN}::{rule}" for rule in reader], REASON)
    # The bare rule matches only its own (no-tree-metadata) finding, not a resource's.
    acknowledge(home, UNCHECKED_RULE, REASON)
    report = _report(app, tmp_path)

    assert _path(report["violations"]) == [
        "Home/Custom::S3AutoDeleteObjectsCustomResourceProvider/Handler",
        "Home/Custom::S3AutoDeleteObjectsCustomResourceProvider/Role",
    ]
    assert len(_named(report["suppressed"])) == 4


def test_a_resource_added_after_an_acknowledgment_is_still_named(tmp_path: Path) -> None:
    app, home, _ = _app(tmp_path / "first")
    _report(app, tmp_path / "first")
    home_rules = _rules(tmp_path / "first", "Home.template.json", "Custom")

    app, home, _ = _app(tmp_path)
    acknowledge(home, home_rules, REASON)
    cdk.CfnResource(home, "Later", type="AWS::IAM::Role", properties={"Path": "/"})
    report = _report(app, tmp_path)

    assert [
        (rule, path) for rule, _, path in _named(report["violations"]) if path.startswith("Home")
    ] == [(f"{UNCHECKED_RULE}[AWS::IAM::Role::Later]", "Home/Later")]


def test_an_app_of_typed_resources_only_gets_no_warning(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Home", env=HOME)
    kms.Key(stack, "Key", enable_key_rotation=True)
    add_compliance_checks(app)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert [p for p in report["pluginReports"] if p.get("violations")] == []


def test_without_tree_metadata_each_stack_is_reported_unchecked(tmp_path: Path) -> None:
    app, _, _ = _app(tmp_path, tree_metadata=False)
    (violation,) = _report(app, tmp_path)["violations"]

    assert "no tree metadata" in str(violation["description"])
    assert sorted(
        c["constructPath"]  # type: ignore[index]
        for c in violation["violatingConstructs"]  # type: ignore[attr-defined]
    ) == ["Away", "Home"]


def test_a_nested_stacks_plain_resources_are_named(tmp_path: Path) -> None:
    # aws-cdk-lib lists top-level templates only: the nested template is found through the
    # parent's AWS::CloudFormation::Stack resource.
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Home", env=HOME)
    inner = cdk.NestedStack(cdk.NestedStack(stack, "Outer"), "Inner")
    _scratch_bucket(inner)
    add_compliance_checks(app)
    report = _report(app, tmp_path)

    provider = "Home/Outer/Inner/Custom::S3AutoDeleteObjectsCustomResourceProvider"
    assert _path(report["violations"]) == [
        f"{provider}/Handler",
        f"{provider}/Role",
    ]


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (
            lambda s: iam.CfnRolePolicy(
                s, "Admin", role_name="r", policy_name="admin", policy_document=ADMIN
            ),
            "AWS::IAM::RolePolicy",
        ),
        (
            lambda s: iam.CfnUserPolicy(
                s, "Admin", user_name="u", policy_name="admin", policy_document=ADMIN
            ),
            "AWS::IAM::UserPolicy",
        ),
        (
            lambda s: iam.CfnGroupPolicy(
                s, "Admin", group_name="g", policy_name="admin", policy_document=ADMIN
            ),
            "AWS::IAM::GroupPolicy",
        ),
    ],
)
def test_a_typed_inline_policy_no_rule_inspects_is_named(
    make: Callable[[cdk.Stack], object], kind: str, tmp_path: Path
) -> None:
    # cdk-nag 3.0.2's rules read iam.CfnPolicy and CfnManagedPolicy, never these: Action "*" on
    # Resource "*" passes all five packs.
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Home", env=HOME)
    make(stack)
    add_compliance_checks(app)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())

    assert [
        (p["pluginName"], v["ruleName"], v["severity"])
        for p in report["pluginReports"]
        for v in p.get("violations", [])
    ] == [(UNCHECKED_PLUGIN, unchecked_rule(kind, "Admin"), "warning")]


def test_a_tree_left_by_an_earlier_synth_is_not_trusted(tmp_path: Path) -> None:
    # The first synth writes tree.json; the second, without tree metadata, writes none, and
    # its manifest names none: the plain resource must not pass as checked by the old tree.
    app = cdk.App(outdir=str(tmp_path))
    cdk.CfnWaitConditionHandle(cdk.Stack(app, "Home", env=HOME), "Plain")
    add_compliance_checks(app)
    app.synth()
    assert (tmp_path / "tree.json").is_file()

    app = cdk.App(outdir=str(tmp_path), tree_metadata=False)
    stack = cdk.Stack(app, "Home", env=HOME)
    cdk.CfnWaitConditionHandle(stack, "Plain")
    cdk.CfnResource(stack, "Topic", type="AWS::SNS::Topic")
    add_compliance_checks(app)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == UNCHECKED_PLUGIN]

    assert _named(plugin["violations"]) == [(UNCHECKED_RULE, "warning", "Home")]
    assert "no tree metadata" in plugin["violations"][0]["description"]


def test_a_split_tree_is_read_through_its_forest_files(tmp_path: Path) -> None:
    # aws-cdk-lib splits a tree of more than maxNodes nodes (500,000 by default) into forest
    # files that the main tree's nodes name; a typed L1 recorded in one is still known.
    app, _, _ = _app(tmp_path, context={"@aws-cdk/core.TreeMetadata:maxNodes": 10})
    report = _report(app, tmp_path)

    assert [p.name for p in tmp_path.glob("tree*.json") if p.name != "tree.json"]
    assert len(_path(report["violations"])) == 6


def _plain_queue(scope: Construct) -> None:
    cdk.CfnResource(scope, "Plain", type="AWS::SQS::Queue")


def test_identical_nested_stacks_are_each_named_and_acknowledged_alone(tmp_path: Path) -> None:
    """Nested stacks with byte-identical templates share one asset hash: found by it, every
    copy was read from one file, reported under one path, and one acknowledgment hid them all."""
    app = cdk.App(outdir=str(tmp_path))
    for name in ("A", "B"):
        stack = cdk.Stack(app, name, env=HOME)
        for nested in ("N1", "N2"):
            _plain_queue(cdk.NestedStack(stack, nested))
    add_compliance_checks(app)
    acknowledge(
        app.node.find_child("A").node.find_child("N1"),
        unchecked_rule("AWS::SQS::Queue", "Plain"),
        reason=REASON,
    )
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == UNCHECKED_PLUGIN]
    assert _path(plugin["violations"]) == ["A/N2/Plain", "B/N1/Plain", "B/N2/Plain"]
    assert _path(plugin["suppressedViolations"]) == ["A/N1/Plain"]


@pytest.mark.parametrize(
    "synthesizer",
    [cdk.LegacyStackSynthesizer(), cdk.CliCredentialsStackSynthesizer()],
    ids=["legacy", "cli-credentials"],
)
def test_a_nested_stack_is_read_whatever_the_synthesizer(
    synthesizer: cdk.IStackSynthesizer, tmp_path: Path
) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Home", env=HOME, synthesizer=synthesizer)
    _plain_queue(cdk.NestedStack(stack, "N"))
    add_compliance_checks(app)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == UNCHECKED_PLUGIN]
    assert _path(plugin["violations"]) == ["Home/N/Plain"]


def test_a_stack_of_an_outside_template_is_named(tmp_path: Path) -> None:
    """What a CfnStack of a template outside the App deploys, nobody reads."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Home", env=HOME)
    cdk.CfnStack(stack, "Outside", template_url="https://example.com/t.json")
    add_compliance_checks(app)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == UNCHECKED_PLUGIN]
    assert [v["ruleName"] for v in plugin["violations"]] == [
        unchecked_rule("AWS::CloudFormation::Stack", "Outside")
    ]
