"""acknowledge() and acknowledge_all(): one construct, specific reasons, rules in one call."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aws_cdk as cdk
import pytest

from constructs_lib import ConstructPropError, acknowledge, acknowledge_all
from constructs_lib.compliance import add_compliance_checks
from tests._support.compliance_doc import table_rows
from tests._support.synth import (
    COMPLIANCE_PLUGIN_NAMES,
    SynthResult,
    registered_validation_plugins,
)

REASON = "this placeholder resource exists only to carry the acknowledgments under test"


def test_rules_that_share_a_reason_are_each_recorded_on_the_one_construct(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Acks")
    handle = cdk.CfnWaitConditionHandle(stack, "Handle")
    bystander = cdk.CfnWaitConditionHandle(stack, "Bystander")
    acknowledge(handle, ("AwsSolutions-IAM4", "NIST.800.53.R5-IAMNoInlinePolicy"), REASON)
    acknowledge(handle, "Serverless-LambdaTracing", REASON + " (single rule)")
    result = SynthResult(name="acks", outdir=Path(app.synth().directory))

    recorded = {(path, rule, reason) for path, rule, reason in result.acknowledgments()}

    assert recorded == {
        ("/Acks/Handle", "AwsSolutions-IAM4", REASON),
        ("/Acks/Handle", "NIST.800.53.R5-IAMNoInlinePolicy", REASON),
        ("/Acks/Handle", "Serverless-LambdaTracing", REASON + " (single rule)"),
    }
    assert all(path != bystander.node.path for path, _, _ in recorded)


@pytest.mark.parametrize("rule_ids", ["", "  ", [], ["AwsSolutions-IAM4", ""], None, 5])
def test_a_missing_rule_is_refused_naming_rule_ids(rule_ids: object) -> None:
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(cdk.App(), "Acks"), "Handle")
    with pytest.raises(
        ConstructPropError,
        match=r"'rule_ids' must name one or more cdk-nag rules\. Received: "
        + re.escape(repr(rule_ids)),
    ):
        acknowledge(handle, rule_ids, REASON)  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", ["false positive", "n/a", "too short to say anything", None, 42])
def test_a_vague_or_short_reason_is_refused_naming_reason(reason: object) -> None:
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(cdk.App(), "Acks"), "Handle")
    with pytest.raises(
        ConstructPropError,
        match=r"'reason' must explain in at least 40 characters .* Received: "
        + re.escape(repr(reason)),
    ):
        acknowledge(handle, "AwsSolutions-IAM4", reason)  # type: ignore[arg-type]


def _recorded(app: cdk.App) -> set[tuple[str, str, str]]:
    result = SynthResult(name="acks", outdir=Path(app.synth().directory))
    return set(result.acknowledgments())


def test_acknowledge_all_records_each_rule_with_the_reason_it_came_with(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(app, "Acks"), "Handle")
    acknowledge_all(
        handle,
        [
            (("AwsSolutions-IAM4", "AwsSolutions-IAM5[Resource::*]"), REASON),
            ("Serverless-LambdaTracing", REASON + " (second reason)"),
        ],
    )

    assert _recorded(app) == {
        ("/Acks/Handle", "AwsSolutions-IAM4", REASON),
        ("/Acks/Handle", "AwsSolutions-IAM5[Resource::*]", REASON),
        ("/Acks/Handle", "Serverless-LambdaTracing", REASON + " (second reason)"),
    }


def test_acknowledge_all_records_nothing_when_one_pair_is_refused(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(app, "Acks"), "Handle")
    with pytest.raises(ConstructPropError, match=r"'reason' must explain .* Received: 'n/a'"):
        acknowledge_all(handle, [("AwsSolutions-IAM4", REASON), ("AwsSolutions-S1", "n/a")])

    assert _recorded(app) == set()


def test_acknowledge_all_without_findings_is_refused_naming_findings() -> None:
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(cdk.App(), "Acks"), "Handle")
    with pytest.raises(ConstructPropError, match=r"'findings' must hold at least one"):
        acknowledge_all(handle, [])


@pytest.mark.parametrize(
    ("findings", "message"),
    [
        # One pair, not in a list, and a pair without its reason: were ValueErrors.
        (
            ("AwsSolutions-IAM4", REASON),
            "'findings' must hold (rule_ids, reason) pairs. Received: 'AwsSolutions-IAM4'",
        ),
        (
            [("AwsSolutions-IAM4",)],
            "'findings' must hold (rule_ids, reason) pairs. Received: ('AwsSolutions-IAM4',)",
        ),
        (None, "'findings' must be a list of (rule_ids, reason) pairs. Received: None"),
    ],
)
def test_findings_that_are_not_pairs_are_refused_naming_findings(
    findings: object, message: str
) -> None:
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(cdk.App(), "Acks"), "Handle")
    with pytest.raises(ConstructPropError) as error:
        acknowledge_all(handle, findings)  # type: ignore[arg-type]
    assert str(error.value) == message


def test_acknowledging_on_something_other_than_a_construct_is_refused() -> None:
    # A string reached Node, which answered with a jsii SerializationError.
    with pytest.raises(ConstructPropError) as error:
        acknowledge("Handle", "AwsSolutions-IAM4", REASON)  # type: ignore[arg-type]
    assert str(error.value) == (
        "'construct' must be a construct (the one the findings are on). Received: 'Handle'"
    )


def test_a_construct_that_reaches_python_as_an_interface_is_acknowledged(tmp_path: Path) -> None:
    # A role given as Role.without_policy_updates() (as the snapshot functions' are) comes back
    # from jsii as an IRole proxy of a class Python does not know, with no `node` attribute.
    from aws_cdk import aws_iam as iam  # noqa: PLC0415
    from aws_cdk import aws_lambda as lambda_  # noqa: PLC0415

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Acks")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    function = lambda_.Function(
        stack,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        role=role.without_policy_updates(),
    )
    assert function.role is not None
    assert not hasattr(type(function.role), "node")
    acknowledge(function.role, "AwsSolutions-IAM4", REASON)
    path = f"/{function.role.node.path}"
    assert (path, "AwsSolutions-IAM4", REASON) in _recorded(app)


def test_add_compliance_checks_registers_the_five_packs_and_the_unchecked_check() -> None:
    # Every synth test relies on this through tests/_support/synth.py; here it is stated once.
    app = cdk.App()
    assert registered_validation_plugins(app) == []
    add_compliance_checks(app)
    assert registered_validation_plugins(app) == COMPLIANCE_PLUGIN_NAMES


def _cdk_warnings_acknowledged() -> set[tuple[str, str]]:
    """``(warning id, reason)`` of every ``acknowledge_warning(...)`` call in constructs_lib/
    (each must give both as string literals)."""
    found: set[tuple[str, str]] = set()
    for source in sorted((Path(__file__).parents[2] / "constructs_lib").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "acknowledge_warning"
            ):
                warning, reason = (ast.literal_eval(arg) for arg in node.args)
                found.add((warning, reason))
    return found


def test_every_cdk_warning_acknowledged_is_in_the_compliance_doc() -> None:
    """EncryptedBucket acknowledged @aws-cdk/aws-s3:accessLogsPolicyNotAdded while
    docs/compliance.md, which lists every acknowledgment with its reason, did not name it."""
    acknowledged = _cdk_warnings_acknowledged()
    documented = {
        (warning.strip("`"), " ".join(reason.split()))
        for warning, _, reason in table_rows("CDK warnings acknowledged", 3)
    }
    assert acknowledged
    assert documented == acknowledged


@pytest.mark.parametrize(
    "rule",
    [
        "hello world",
        "AwsSolutions-IAM5 ",
        " AwsSolutions-IAM5",
        "awssolutions-iam5",
        "AwsSolutions-",
        "AwsSolutions-IAM_5",
        "AwsSolution-IAM5",
        "NIST.800.53.R4-IAMNoInlinePolicy",
        "AwsSolutions-IAM5[]",
        "AwsSolutions-IAM5[Resource::*",
        "Serverless::AwsSolutions-IAM5",
        "annotation AwsSolutions-IAM5",
    ],
)
def test_a_rule_id_of_no_pack_is_refused_naming_rule_ids_and_the_value(rule: str) -> None:
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(cdk.App(), "Acks"), "Handle")
    expected = r"'rule_ids' must name cdk-nag rules as the validation report does: .* Received: "
    with pytest.raises(ConstructPropError, match=expected + re.escape(repr(rule))):
        acknowledge(handle, rule, REASON)
    with pytest.raises(ConstructPropError, match=expected + re.escape(repr(rule))):
        acknowledge(handle, ["AwsSolutions-IAM4", rule], REASON)


def test_rule_ids_in_every_form_the_report_prints_are_recorded(tmp_path: Path) -> None:
    # aws-cdk-lib's report says "Acknowledge with 'AwsSolutions::AwsSolutions-SQS3'"; it matches
    # that form itself. The unchecked-resource rule is matched only in its namespaced form.
    app = cdk.App(outdir=str(tmp_path))
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(app, "Acks"), "Handle")
    rules = [
        "AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/*]",
        "AwsSolutions::AwsSolutions-SQS3",
        "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
        "PCI.DSS.321-S3BucketLoggingEnabled",
        "Serverless-LambdaTracing",
        "KmsToolkit-NotCheckedByCdkNag",
        "KmsToolkit-NotCheckedByCdkNag[AWS::IAM::Role::ProviderRole1234ABCD]",
        "KmsToolkit::KmsToolkit-NotCheckedByCdkNag[AWS::Lambda::Function::Handler]",
    ]
    acknowledge(handle, rules, REASON)
    app.synth()
    recorded = [
        rule
        for entry in handle.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule in entry.data
    ]
    assert sorted(recorded) == sorted(
        [
            "Annotation::AwsSolutions-IAM5[Resource::arn:aws:s3:::bucket/*]",
            "AwsSolutions::AwsSolutions-SQS3",
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "Annotation::HIPAA.Security-IAMNoInlinePolicy",
            "Annotation::PCI.DSS.321-S3BucketLoggingEnabled",
            "Annotation::Serverless-LambdaTracing",
            "KmsToolkit::KmsToolkit-NotCheckedByCdkNag",
            "KmsToolkit::KmsToolkit-NotCheckedByCdkNag[AWS::IAM::Role::ProviderRole1234ABCD]",
            "KmsToolkit::KmsToolkit-NotCheckedByCdkNag[AWS::Lambda::Function::Handler]",
        ]
    )


@pytest.mark.parametrize(
    "rule",
    [
        "KmsToolkit-NotCheckedByCdkNagg",
        "KmsToolkit-IAM5",
        "KmsToolkit::KmsToolkit-Unchecked[AWS::IAM::Role::Role]",
    ],
)
def test_a_rule_the_kmstoolkit_plugin_does_not_report_is_refused(rule: str) -> None:
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(cdk.App(), "Acks"), "Handle")
    with pytest.raises(ConstructPropError) as error:
        acknowledge(handle, rule, REASON)
    assert str(error.value) == (
        "'rule_ids' must name a rule of the KmsToolkit plugin as its report does: one of "
        "['KmsToolkit-NotCheckedByCdkNag'], bare or with the resource in brackets "
        f"('KmsToolkit-NotCheckedByCdkNag[<type>::<logical ID>]'). Received: {rule!r}"
    )
