"""The shared input checks: ``is_token`` must give aws-cdk-lib's answer without asking it, and a
Duration prop refuses a deploy-time value by name."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import CustomerManagedKey
from constructs_lib import _durations as durations
from constructs_lib._validation import ConstructPropError, check_account_id, check_region, is_token


def _samples() -> list[tuple[str, Any]]:
    app = cdk.App()
    stack = cdk.Stack(app, "Tokens")
    topic_ref = cdk.CfnResource(stack, "Thing", type="AWS::SNS::Topic").ref
    return [
        ("account pseudo parameter", cdk.Aws.ACCOUNT_ID),
        ("env-agnostic stack region", stack.region),
        ("resource reference", topic_ref),
        ("token inside a string", f"arn:aws:s3:::{topic_ref}/*"),
        ("Fn.join", cdk.Fn.join("-", ["a", cdk.Aws.REGION])),
        ("attribute", cdk.Fn.get_att("Thing", "TopicArn").to_string()),
        ("stringified number token", cdk.Token.as_string(cdk.Token.as_number(cdk.Aws.ACCOUNT_ID))),
        ("number token", cdk.Token.as_number(cdk.Aws.ACCOUNT_ID)),
        ("plain string", "eu-west-1"),
        ("looks like CloudFormation, is not a token", "${AWS::Region}"),
        ("malformed marker", "${Token[has space]}"),
        ("the word Token", "Token[ alone"),
        ("empty string", ""),
        ("plain number", 42),
        ("plain float", 1.5),
        ("boolean", True),
        ("None", None),
    ]


SAMPLES = _samples()


@pytest.mark.parametrize(
    "value", [value for _, value in SAMPLES], ids=[label for label, _ in SAMPLES]
)
def test_is_token_agrees_with_aws_cdk_lib(value: Any) -> None:
    expected = (
        cdk.Token.is_unresolved(value)
        if isinstance(value, str | int | float) and not isinstance(value, bool)
        else False
    )
    assert is_token(value) is expected


def test_is_token_recognises_the_common_deploy_time_values() -> None:
    assert is_token(cdk.Aws.ACCOUNT_ID)
    assert is_token(cdk.Token.as_number(cdk.Aws.ACCOUNT_ID))
    assert not is_token("111111111111")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_is_token_answers_for_nan_and_infinity_without_asking_aws_cdk_lib(value: float) -> None:
    # jsii cannot send them: the kernel exited, and every later CDK call failed.
    assert is_token(value) is False
    assert cdk.Token.is_unresolved(42) is False  # the kernel still answers


def test_tokens_pass_the_account_and_region_checks_but_bad_literals_do_not() -> None:
    assert check_account_id("account", cdk.Aws.ACCOUNT_ID) == cdk.Aws.ACCOUNT_ID
    assert check_region("region", cdk.Aws.REGION) == cdk.Aws.REGION
    with pytest.raises(ConstructPropError, match=r"'account' must be a 12-digit .* Received: '12'"):
        check_account_id("account", "12")
    with pytest.raises(ConstructPropError, match=r"'region' must be an AWS Region .* 'mars-1'"):
        check_region("region", "mars-1")


@pytest.mark.parametrize(
    "region",
    ["eu-west-1", "us-gov-west-1", "cn-northwest-1", "us-isob-east-1", "eusc-de-east-1"],
)
def test_a_region_of_every_partition_is_accepted(region: str) -> None:
    assert check_region("region", region) == region


@pytest.mark.parametrize("region", ["eusc-east-1", "eusc-de-east", "eu-de-east-1", "mars-1"])
def test_a_name_no_partition_uses_is_refused(region: str) -> None:
    with pytest.raises(ConstructPropError, match=r"'region' must be an AWS Region name"):
        check_region("region", region)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_account_id, "111111111111\n"),
        (check_account_id, "\u0661" * 12),  # Arabic-Indic digits: \d matches them
        (check_region, "eu-west-1\n"),
        (check_region, "eu-west-\u0661"),
    ],
    ids=["account-newline", "account-unicode-digits", "region-newline", "region-unicode-digit"],
)
def test_values_cloudformation_refuses_are_refused(check: Any, value: str) -> None:
    with pytest.raises(ConstructPropError) as error:
        check("prop", value)
    assert error.value.prop == "prop"
    assert error.value.received == value


DAYS_TOKEN = cdk.Fn.import_value("PendingDays")


@pytest.mark.parametrize(
    ("value", "received"),
    [
        (cdk.Duration.days(cdk.Token.as_number(DAYS_TOKEN)), f"'Duration.days({DAYS_TOKEN})'"),
        # Another unit cannot even be converted (a raw jsii error before).
        (cdk.Duration.hours(cdk.Token.as_number(DAYS_TOKEN)), f"'Duration.hours({DAYS_TOKEN})'"),
    ],
    ids=["days", "hours"],
)
def test_a_duration_of_a_deploy_time_value_is_refused(value: Any, received: str) -> None:
    # Was "'pending_window' must be 7-30 days. Received: -188815458970875...(290 digits)".
    with pytest.raises(ConstructPropError) as error:
        durations.check_days("pending_window", value, 7, 30)
    assert str(error.value) == (
        "'pending_window' must be a literal duration (not a deploy-time value). "
        f"Received: {received}"
    )


def test_a_number_token_given_for_a_duration_is_shown_as_its_token() -> None:
    with pytest.raises(ConstructPropError) as error:
        durations.check_days("retention", cdk.Token.as_number(DAYS_TOKEN), 1, 3650)
    assert str(error.value) == (
        f"'retention' must be a Duration such as Duration.days(30). Received: '{DAYS_TOKEN}'"
    )


def test_a_key_with_a_deploy_time_rotation_period_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(ConstructPropError) as error:
        CustomerManagedKey(
            stack, "K", rotation_period=cdk.Duration.days(cdk.Token.as_number(DAYS_TOKEN))
        )
    assert str(error.value) == (
        "'rotation_period' must be a literal duration (not a deploy-time value). "
        f"Received: 'Duration.days({DAYS_TOKEN})'"
    )


def test_literal_durations_still_pass() -> None:
    assert durations.check_days("pending_window", cdk.Duration.days(7), 7, 30) == 7
    assert durations.literal_amount("period", cdk.Duration.minutes(2), "seconds") == 120
    with pytest.raises(
        ConstructPropError, match=r"^'pending_window' must be 7-30 days. Received: 3$"
    ):
        durations.check_days("pending_window", cdk.Duration.days(3), 7, 30)
