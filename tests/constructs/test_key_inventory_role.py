"""KeyInventoryRole: the role ``kmskit key inventory --account`` assumes in each account.

The roles are read from the synthesized ``key_inventory_showcase`` (held to the gates in
tests/test_gates.py and tests/test_iam_policies.py); the refusals build a throwaway App and
never synthesize.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from constructs_lib import ConstructPropError, KeyInventoryRole
from constructs_lib.key_inventory_role import WILDCARD_REASON
from kmskit.inventory_role import DEFAULT_ROLE_NAME, INVENTORY_ACTIONS, ROLE_SESSION_NAME
from tests._support.apps.key_inventory_showcase import (
    CALLER_ACCOUNT,
    CALLER_ARN,
    EXTERNAL_ID,
    STACK,
)
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]


def logical(resources: dict[str, Any], path: str, resource_type: str) -> str:
    """The logical ID of the one ``resource_type`` whose construct path (under the stack, its
    parts run together) is ``path``."""
    (name,) = [
        n
        for n, r in resources.items()
        if re.fullmatch(f"{path}[0-9A-F]{{8}}", n) and r["Type"] == resource_type
    ]
    return name


@pytest.fixture(scope="module")
def resources(synthesized: Synth) -> dict[str, Any]:
    resources: dict[str, Any] = synthesized("key_inventory_showcase").template(STACK)["Resources"]
    return resources


def test_the_trust_policy_lets_the_caller_role_assume_it_under_the_inventory_session_name(
    resources: dict[str, Any],
) -> None:
    role = resources[logical(resources, "InventoryRole", "AWS::IAM::Role")]["Properties"]
    assert role["RoleName"] == DEFAULT_ROLE_NAME
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{CALLER_ACCOUNT}:root"},
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalArn": CALLER_ARN,
                    "sts:RoleSessionName": ROLE_SESSION_NAME,
                    "sts:ExternalId": EXTERNAL_ID,
                }
            },
        }
    ]


def test_the_permission_policy_allows_exactly_the_calls_the_inventory_makes(
    resources: dict[str, Any],
) -> None:
    for prefix in ("Inventory", "CallerInventory"):
        role = logical(resources, f"{prefix}Role", "AWS::IAM::Role")
        policy = resources[logical(resources, f"{prefix}Policy", "AWS::IAM::ManagedPolicy")]
        assert policy["Properties"]["Roles"] == [{"Ref": role}]
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement == {
            "Sid": "KeyInventory",
            "Effect": "Allow",
            "Action": sorted(INVENTORY_ACTIONS),
            "Resource": "*",
        }
    # The role has no other policy.
    roles = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    assert all("Policies" not in r["Properties"] for r in roles)
    assert all("ManagedPolicyArns" not in r["Properties"] for r in roles)


def test_a_caller_role_given_as_a_token_is_trusted_through_its_account_at_deploy_time(
    resources: dict[str, Any],
) -> None:
    caller = {"Fn::GetAtt": [logical(resources, "Caller", "AWS::IAM::Role"), "Arn"]}
    parts = {"Fn::Split": [":", caller]}
    role = resources[logical(resources, "CallerInventoryRole", "AWS::IAM::Role")]["Properties"]
    assert role["RoleName"] == "LocalInventory"
    # No external ID given: none asked for.
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {
                "AWS": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Fn::Select": [1, parts]},
                            ":iam::",
                            {"Fn::Select": [4, parts]},
                            ":root",
                        ],
                    ]
                }
            },
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalArn": caller,
                    "sts:RoleSessionName": ROLE_SESSION_NAME,
                }
            },
        }
    ]


def test_the_gates_are_clean_with_the_wildcard_acknowledged_on_each_policy(
    synthesized: Synth,
) -> None:
    result = synthesized("key_inventory_showcase")
    assert result.validation_findings() == []
    assert sorted(result.acknowledgments()) == [
        (f"/{STACK}/{prefix}/Policy", "AwsSolutions-IAM5[Resource::*]", WILDCARD_REASON)
        for prefix in ("CallerInventory", "Inventory")
    ]


# -- props: what is taken and what is refused ----------------------------------------------------


def new_stack() -> cdk.Stack:
    return cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account="222222222222", region="eu-west-1")
    )


def trust_statement(stack: cdk.Stack) -> dict[str, Any]:
    (role,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    return dict(statement)


@pytest.mark.parametrize(
    ("arn", "root"),
    [
        # A role with a path: the trust names the role's full ARN.
        (
            "arn:aws:iam::111111111111:role/ops/platform-inventory",
            "arn:aws:iam::111111111111:root",
        ),
        # Another partition: the root of the caller's account there.
        ("arn:aws-cn:iam::111111111111:role/inventory", "arn:aws-cn:iam::111111111111:root"),
    ],
)
def test_the_principal_is_the_root_of_the_caller_roles_account_in_its_partition(
    arn: str, root: str
) -> None:
    stack = new_stack()
    KeyInventoryRole(stack, "I", caller_role_arn=arn)
    statement = trust_statement(stack)
    assert statement["Principal"] == {"AWS": root}
    assert statement["Condition"]["StringEquals"]["aws:PrincipalArn"] == arn


ROLE_ARN_RULE = (
    "must be an IAM role ARN, arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>"
)
ROLE_NAME_RULE = "must be an IAM role name: 1-64 letters, digits and +=,.@_- (no path)"
EXTERNAL_ID_RULE = "must be 2-1224 letters, digits and +=,.@:/_- (STS's ExternalId)"


@pytest.mark.parametrize(
    ("props", "prop", "rule", "received"),
    [
        ({"caller_role_arn": "x"}, "caller_role_arn", ROLE_ARN_RULE, "x"),
        (
            {"caller_role_arn": "arn:aws:iam::111111111111:user/alice"},
            "caller_role_arn",
            ROLE_ARN_RULE,
            "arn:aws:iam::111111111111:user/alice",
        ),
        (
            {"caller_role_arn": "arn:aws:sts::111111111111:assumed-role/ops/alice"},
            "caller_role_arn",
            ROLE_ARN_RULE,
            "arn:aws:sts::111111111111:assumed-role/ops/alice",
        ),
        (
            {"caller_role_arn": "arn:aws:iam::11111111111:role/ops"},
            "caller_role_arn",
            ROLE_ARN_RULE,
            "arn:aws:iam::11111111111:role/ops",
        ),
        # StringEquals on aws:PrincipalArn matches no wildcard: such a trust lets nobody in.
        (
            {"caller_role_arn": "arn:aws:iam::111111111111:role/*"},
            "caller_role_arn",
            ROLE_ARN_RULE,
            "arn:aws:iam::111111111111:role/*",
        ),
        (
            {"caller_role_arn": "arn:aws:iam::111111111111:role/ops\n"},
            "caller_role_arn",
            ROLE_ARN_RULE,
            "arn:aws:iam::111111111111:role/ops\n",
        ),
        ({"caller_role_arn": None}, "caller_role_arn", ROLE_ARN_RULE, None),
        ({"role_name": "ops/Inventory"}, "role_name", ROLE_NAME_RULE, "ops/Inventory"),
        ({"role_name": "r" * 65}, "role_name", ROLE_NAME_RULE, "r" * 65),
        ({"role_name": ""}, "role_name", ROLE_NAME_RULE, ""),
        ({"external_id": "a"}, "external_id", EXTERNAL_ID_RULE, "a"),
        ({"external_id": "with space"}, "external_id", EXTERNAL_ID_RULE, "with space"),
        ({"external_id": "x" * 1225}, "external_id", EXTERNAL_ID_RULE, "x" * 1225),
        ({"external_id": 1234}, "external_id", EXTERNAL_ID_RULE, 1234),
    ],
)
def test_a_bad_prop_is_refused_naming_it_and_the_value(
    props: dict[str, Any], prop: str, rule: str, received: Any
) -> None:
    given: dict[str, Any] = {"caller_role_arn": "arn:aws:iam::111111111111:role/ops", **props}
    with pytest.raises(ConstructPropError) as error:
        KeyInventoryRole(new_stack(), "I", **given)
    assert str(error.value) == f"'{prop}' {rule}. Received: {received!r}"


def test_the_longest_role_name_and_external_id_are_taken() -> None:
    stack = new_stack()
    KeyInventoryRole(
        stack,
        "I",
        caller_role_arn="arn:aws:iam::111111111111:role/ops",
        role_name="r" * 64,
        external_id="x" * 1224,
    )
    (role,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    assert role["Properties"]["RoleName"] == "r" * 64
    conditions = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert conditions["StringEquals"]["sts:ExternalId"] == "x" * 1224


def test_the_role_and_its_policy_are_exposed() -> None:
    stack = new_stack()
    inventory = KeyInventoryRole(stack, "I", caller_role_arn="arn:aws:iam::111111111111:role/ops")
    assert isinstance(inventory.role, iam.Role)
    assert inventory.role.node.path == "S/I/Role"
    assert isinstance(inventory.policy, iam.ManagedPolicy)
    assert inventory.policy.node.path == "S/I/Policy"


def test_the_props_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        KeyInventoryRole(new_stack(), "I", "arn:aws:iam::111111111111:role/ops")  # type: ignore[misc]
