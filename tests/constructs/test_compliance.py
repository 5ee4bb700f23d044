"""acknowledge() and acknowledge_all(): one construct, specific reasons, rules in one call."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import aws_cdk as cdk
import pytest

from constructs_lib import ConstructPropError, acknowledge, acknowledge_all
from tests._support.synth import SynthResult

REASON = "this placeholder resource exists only to carry the acknowledgments under test"


def test_rules_that_share_a_reason_are_each_recorded_on_the_one_construct() -> None:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="ack-"))
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


def test_acknowledge_all_records_each_rule_with_the_reason_it_came_with() -> None:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="ack-"))
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


def test_acknowledge_all_records_nothing_when_one_pair_is_refused() -> None:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="ack-"))
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(app, "Acks"), "Handle")
    with pytest.raises(ConstructPropError, match=r"'reason' must explain .* Received: 'n/a'"):
        acknowledge_all(handle, [("AwsSolutions-IAM4", REASON), ("AwsSolutions-S1", "n/a")])

    assert _recorded(app) == set()


def test_acknowledge_all_without_findings_is_refused_naming_findings() -> None:
    handle = cdk.CfnWaitConditionHandle(cdk.Stack(cdk.App(), "Acks"), "Handle")
    with pytest.raises(ConstructPropError, match=r"'findings' must hold at least one"):
        acknowledge_all(handle, [])
