"""kmskit.policy_conditions: values read as they may be deployed (Fn::If, Fn::Join, Fn::Sub)."""

from __future__ import annotations

from typing import Any

import pytest

from kmskit.policy_conditions import caller_limits, holds_wildcard, limits_source, matched_texts

ORG_ID = "o-abcdefghij"


def choice(first: Any, second: Any) -> dict[str, Any]:
    return {"Fn::If": ["Condition", first, second]}


def test_each_branch_of_an_fn_if_is_a_text_it_may_be_matched_as() -> None:
    joined = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", choice("1", "2"), ":root"]]
    }
    assert matched_texts(joined) == ["arn:aws:iam::1:root", "arn:aws:iam::2:root"]
    template = ["arn:${AWS::Partition}:iam::${A}:role/${!x}", {"A": choice("*", ORG_ID)}]
    assert matched_texts({"Fn::Sub": template}) == [
        "arn:aws:iam::*:role/${x}",
        f"arn:aws:iam::{ORG_ID}:role/${{x}}",
    ]
    assert matched_texts(choice("a", {"Ref": "AWS::NoValue"})) == ["a"]


@pytest.mark.parametrize(
    ("value", "anyone", "pattern"),
    [
        (choice("arn:aws:iam::*:root", "arn:aws:iam::111111111111:root"), True, True),
        (choice("*", "arn:aws:iam::111111111111:root"), True, False),
        (choice("arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"), False, False),
    ],
)
def test_a_wildcard_in_either_branch_is_found(value: Any, anyone: bool, pattern: bool) -> None:
    assert holds_wildcard(value) is anyone
    assert holds_wildcard(value, everyone=False) is pattern


def test_a_condition_limits_the_caller_only_if_every_branch_does() -> None:
    assert caller_limits({"StringLike": {"aws:PrincipalOrgID": choice("o-*", ORG_ID)}}) is None
    assert caller_limits({"StringLike": {"aws:PrincipalOrgID": choice(ORG_ID, ORG_ID)}}) == set()


def test_too_many_choices_read_as_a_value_that_matches_anyone() -> None:
    """Seven Fn::If in one Fn::Join make 128 texts: past 64 the value is read as ``*``, so a
    check refuses it rather than reading only some of them."""
    many = {"Fn::Join": ["", [choice("1", "2")] * 7]}
    assert matched_texts(many) == ["*"]
    assert holds_wildcard(many)
    assert caller_limits({"StringLike": {"aws:PrincipalOrgID": many}}) is None


def test_a_branch_that_is_a_list_is_read_item_by_item() -> None:
    """A list in an Fn::If branch read as one unknown value hid its "*"."""
    assert (
        caller_limits({"StringLike": {"aws:PrincipalAccount": choice(["1" * 12], ["*"])}}) is None
    )
    assert holds_wildcard(choice(["*"], "arn:aws:iam::111111111111:root"))


NO_VALUE = {"Ref": "AWS::NoValue"}


@pytest.mark.parametrize(
    "value", [choice("111111111111", NO_VALUE), choice(NO_VALUE, "111111111111"), []]
)
def test_a_test_that_may_be_removed_at_deploy_time_limits_nobody(value: Any) -> None:
    """Where the condition is false, CloudFormation removes a key whose value is AWS::NoValue,
    and the statement then has no such test."""
    assert caller_limits({"StringEquals": {"aws:PrincipalAccount": value}}) is None
    assert not limits_source({"StringEquals": {"aws:SourceAccount": value}})


def test_a_list_keeps_limiting_while_one_of_its_values_stays() -> None:
    value = ["111111111111", choice("222222222222", NO_VALUE)]
    assert caller_limits({"StringEquals": {"aws:PrincipalAccount": value}}) == {"111111111111"}


ACCOUNT = "111111111111"


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"aws:SourceAccount": "?*"}},
        {"StringLike": {"kms:CallerAccount": "*?"}},
        {"StringLike": {"aws:SourceOrgID": "o-*"}},
        {"StringLike": {"aws:SourceOrgPaths": "o-*/r-ab12/*"}},
        {"StringLike": {"kms:EncryptionContext:aws:sns:topicArn": "arn:*"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:*"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:eu-west-1:*:topic"}},
        {"StringLike": {"aws:SourceArn": f"arn:aws:*:{ACCOUNT}:topic"}},
        {"StringLike": {"kms:ViaService": "*.amazonaws.com"}},
        {"StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::log-*"}},
        {"StringLike": {"kms:EncryptionContext:department": "*a*"}},
        {"StringLike": {"aws:SourceAccount": choice(ACCOUNT, "*")}},
        {"StringLike": {"aws:SourceAccount": {"Fn::Sub": ["${A}", {"A": "*"}]}}},
        {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": ["${A}", {"A": "*"}]}}},
        {"ArnLike": {"aws:SourceArn": [f"arn:aws:sns:eu-west-1:{ACCOUNT}:t", "arn:aws:*"]}},
    ],
    ids=[
        "account-pattern",
        "caller-account-pattern",
        "org-id-pattern",
        "org-path-without-an-org",
        "context-arn-pattern",
        "source-arn-any",
        "bucket-arn-pattern",
        "source-arn-any-account",
        "string-like-wildcard-before-the-account",
        "via-service-pattern",
        "context-bucket-pattern",
        "context-pattern",
        "fn-if-branch",
        "fn-sub-wildcard",
        "fn-sub-star",
        "one-value-of-a-list",
    ],
)
def test_a_source_condition_whose_value_matches_any_source_limits_nothing(
    condition: dict[str, Any],
) -> None:
    assert not limits_source(condition)


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"StringLike": {"aws:SourceOrgPaths": f"{ORG_ID}/r-ab12/ou-ab12-11111111/*"}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:*"}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:*:{ACCOUNT}:alarm:*"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}},
        {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}},
        {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:*:{ACCOUNT}:*"}},
        {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":logs:eu-west-1:",
                            {"Ref": "AWS::AccountId"},
                            ":log-group:*",
                        ],
                    ]
                }
            }
        },
        {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
        {"StringEquals": {"kms:EncryptionContext:department": "audit"}},
        {"StringLike": {"aws:SourceAccount": choice(ACCOUNT, "222222222222")}},
    ],
    ids=[
        "account",
        "org-path",
        "arn-pattern-of-the-account",
        "arn-any-region-of-the-account",
        "bucket-arn",
        "bucket-arn-string-equals",
        "context-arn-of-the-account",
        "context-arn-joined",
        "via-service",
        "context-literal",
        "fn-if-both-branches",
    ],
)
def test_a_source_condition_naming_the_source_limits_it(condition: dict[str, Any]) -> None:
    assert limits_source(condition)


@pytest.mark.parametrize(
    "operator", ["NumericGreaterThan", "NumericLessThan", "DateGreaterThan", "Bool", "IpAddress"]
)
def test_only_string_and_arn_operators_name_a_caller_or_source(operator: str) -> None:
    """``NumericGreaterThan aws:SourceAccount "0"`` names no account: it counted as limiting."""
    assert caller_limits({operator: {"aws:PrincipalAccount": "0"}}) is None
    assert not limits_source({operator: {"aws:SourceAccount": "0"}})
    assert caller_limits({"StringEquals": {"aws:PrincipalAccount": "111111111111"}}) is not None
