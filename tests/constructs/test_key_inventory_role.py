"""KeyInventoryRole, the role ``kmskit key inventory --account`` assumes in each account, and
KeyInventoryCaller, the role that runs it.

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

from constructs_lib import ConstructPropError, KeyInventoryCaller, KeyInventoryRole
from constructs_lib.key_inventory_role import (
    LIST_ACCOUNTS_REASON,
    ORGANIZATION_ROLES_REASON,
    WILDCARD_REASON,
)
from kmskit.inventory_role import (
    DEFAULT_ROLE_NAME,
    INVENTORY_ACTIONS,
    ROLE_SESSION_NAME,
    cli_role_name,
)
from kmskit.key_inventory import role_arn
from tests._support.apps.key_inventory_showcase import (
    ACCOUNT,
    CALLER_ACCOUNT,
    CALLER_ARN,
    CALLER_STACK,
    EXTERNAL_ID,
    ORGANIZATION_ID,
    PATH_CALLER,
    PATH_INVENTORY,
    REGION,
    SSO_ROLE_ARN,
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
        (f"/{CALLER_STACK}/Caller/Policy", "AwsSolutions-IAM5[Resource::*]", LIST_ACCOUNTS_REASON),
        (
            f"/{CALLER_STACK}/Caller/Policy",
            "AwsSolutions-IAM5[Resource::arn:aws:iam::*:role/KmskitKeyInventory]",
            ORGANIZATION_ROLES_REASON,
        ),
        *(
            (f"/{STACK}/{prefix}/Policy", "AwsSolutions-IAM5[Resource::*]", WILDCARD_REASON)
            for prefix in ("CallerInventory", "Inventory", "PathInventory")
        ),
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
ROLE_PATH_RULE = (
    "must be an IAM path: '/' or '/<segment>/.../', each segment 1 or more letters, digits and "
    "+=,.@_-, at most 512 characters with its slashes"
)


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
        ({"role_path": "kmskit/"}, "role_path", ROLE_PATH_RULE, "kmskit/"),
        ({"role_path": "/kmskit"}, "role_path", ROLE_PATH_RULE, "/kmskit"),
        ({"role_path": "//"}, "role_path", ROLE_PATH_RULE, "//"),
        ({"role_path": "/a*/"}, "role_path", ROLE_PATH_RULE, "/a*/"),
        ({"role_path": ""}, "role_path", ROLE_PATH_RULE, ""),
        ({"role_path": None}, "role_path", ROLE_PATH_RULE, None),
        ({"role_path": f"/{'p' * 511}/"}, "role_path", ROLE_PATH_RULE, f"/{'p' * 511}/"),
    ],
)
def test_a_bad_prop_is_refused_naming_it_and_the_value(
    props: dict[str, Any], prop: str, rule: str, received: Any
) -> None:
    given: dict[str, Any] = {"caller_role_arn": "arn:aws:iam::111111111111:role/ops", **props}
    with pytest.raises(ConstructPropError) as error:
        KeyInventoryRole(new_stack(), "I", **given)
    assert str(error.value) == f"'{prop}' {rule}. Received: {received!r}"


def test_the_longest_role_name_path_and_external_id_are_taken() -> None:
    stack = new_stack()
    KeyInventoryRole(
        stack,
        "I",
        caller_role_arn="arn:aws:iam::111111111111:role/ops",
        role_name="r" * 64,
        role_path=f"/{'p' * 510}/",
        external_id="x" * 1224,
    )
    (role,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    assert role["Properties"]["RoleName"] == "r" * 64
    assert role["Properties"]["Path"] == f"/{'p' * 510}/"
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


# -- KeyInventoryCaller: the role that runs the inventory -----------------------------------------


@pytest.fixture(scope="module")
def caller_resources(synthesized: Synth) -> dict[str, Any]:
    resources: dict[str, Any] = synthesized("key_inventory_showcase").template(CALLER_STACK)[
        "Resources"
    ]
    return resources


def test_the_caller_is_assumed_by_the_principals_given_and_no_one_else(
    caller_resources: dict[str, Any],
) -> None:
    caller = caller_resources[logical(caller_resources, "CallerRole", "AWS::IAM::Role")]
    assert caller["Properties"]["RoleName"] == "platform-inventory"
    assert "Path" not in caller["Properties"]  # "/", IAM's default
    # A role: through its account's root, limited to it by aws:PrincipalArn.
    assert caller["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{CALLER_ACCOUNT}:root"},
            "Condition": {"StringEquals": {"aws:PrincipalArn": SSO_ROLE_ARN}},
        }
    ]
    path_caller = caller_resources[logical(caller_resources, "PathCallerRole", "AWS::IAM::Role")]
    assert path_caller["Properties"]["RoleName"] == PATH_CALLER[0]
    assert path_caller["Properties"]["Path"] == PATH_CALLER[1]
    # An account root: the account's IAM policies decide.
    assert path_caller["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{CALLER_ACCOUNT}:root"},
        }
    ]


def test_the_caller_may_assume_the_exact_inventory_roles_as_the_inventory_and_nothing_else(
    caller_resources: dict[str, Any],
) -> None:
    policy = caller_resources[
        logical(caller_resources, "PathCallerPolicy", "AWS::IAM::ManagedPolicy")
    ]["Properties"]
    assert policy["Roles"] == [
        {"Ref": logical(caller_resources, "PathCallerRole", "AWS::IAM::Role")}
    ]
    # Without organization_id: no wildcard account, no organizations:ListAccounts; without an
    # external ID, no condition on it (neither sts:ExternalId nor a Null test).
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "AssumeInventoryRoles",
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Resource": f"arn:aws:iam::{ACCOUNT}:role/kmskit/PathInventory",
            "Condition": {"StringEquals": {"sts:RoleSessionName": ROLE_SESSION_NAME}},
        }
    ]
    roles = [r for r in caller_resources.values() if r["Type"] == "AWS::IAM::Role"]
    assert all("Policies" not in r["Properties"] for r in roles)
    assert all("ManagedPolicyArns" not in r["Properties"] for r in roles)


def organization_mode_statements(
    role_arns: list[str], any_account_role: str, conditions: dict[str, str], organization_id: str
) -> list[dict[str, Any]]:
    """The statements of a KeyInventoryCaller's policy in organization mode: ``sts:AssumeRole``
    on the exact ``role_arns`` and on ``any_account_role`` (the inventory role's ARN with ``*``
    for the account) where ``aws:ResourceOrgID`` is ``organization_id``, both under
    ``conditions``, and ``organizations:ListAccounts``."""
    return [
        {
            "Sid": "AssumeInventoryRoles",
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Resource": role_arns,
            "Condition": {"StringEquals": conditions},
        },
        {
            "Sid": "AssumeOrganizationInventoryRoles",
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Resource": any_account_role,
            "Condition": {"StringEquals": {**conditions, "aws:ResourceOrgID": organization_id}},
        },
        {
            "Sid": "ListOrganizationAccounts",
            "Action": "organizations:ListAccounts",
            "Effect": "Allow",
            "Resource": "*",
        },
    ]


def test_in_organization_mode_the_caller_may_list_the_accounts_and_assume_their_roles(
    caller_resources: dict[str, Any],
) -> None:
    policy = caller_resources[logical(caller_resources, "CallerPolicy", "AWS::IAM::ManagedPolicy")]
    conditions = {"sts:RoleSessionName": ROLE_SESSION_NAME, "sts:ExternalId": EXTERNAL_ID}
    assert policy["Properties"]["PolicyDocument"]["Statement"] == organization_mode_statements(
        [
            f"arn:aws:iam::{CALLER_ACCOUNT}:role/{DEFAULT_ROLE_NAME}",
            f"arn:aws:iam::{ACCOUNT}:role/{DEFAULT_ROLE_NAME}",
        ],
        f"arn:aws:iam::*:role/{DEFAULT_ROLE_NAME}",
        conditions,
        ORGANIZATION_ID,
    )


def test_the_caller_and_the_inventory_role_name_each_other_as_the_cli_assumes_them(
    resources: dict[str, Any], caller_resources: dict[str, Any]
) -> None:
    # The caller role's ARN (its path included), as the inventory role's trust names it.
    caller = caller_resources[logical(caller_resources, "PathCallerRole", "AWS::IAM::Role")]
    caller_arn = (
        f"arn:aws:iam::{CALLER_ACCOUNT}:role{caller['Properties']['Path']}"
        f"{caller['Properties']['RoleName']}"
    )
    inventory = resources[logical(resources, "PathInventoryRole", "AWS::IAM::Role")]["Properties"]
    (trust,) = inventory["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:PrincipalArn"] == caller_arn
    # The inventory role's ARN, as the caller's policy names it and as `kmskit key inventory
    # --role-name kmskit/PathInventory` assumes it.
    assumed = role_arn(ACCOUNT, cli_role_name(*PATH_INVENTORY), REGION)
    assert assumed == (f"arn:aws:iam::{ACCOUNT}:role{inventory['Path']}{inventory['RoleName']}")
    policy = caller_resources[
        logical(caller_resources, "PathCallerPolicy", "AWS::IAM::ManagedPolicy")
    ]["Properties"]
    assert policy["PolicyDocument"]["Statement"][0]["Resource"] == assumed


def new_caller_stack(**env: Any) -> cdk.Stack:
    return cdk.Stack(
        cdk.App(),
        "C",
        env=cdk.Environment(**(env or {"account": "111111111111", "region": "eu-west-1"})),
    )


CALLER_PROPS: dict[str, Any] = {
    "caller_role_name": "platform-inventory",
    "trusted_principal_arns": ["arn:aws:iam::111111111111:role/ops"],
    "accounts": ["222222222222"],
}


def test_roles_and_roots_are_trusted_each_their_way() -> None:
    stack = new_caller_stack()
    KeyInventoryCaller(
        stack,
        "C",
        **{
            **CALLER_PROPS,
            "trusted_principal_arns": [
                "arn:aws:iam::111111111111:role/ops",
                "arn:aws:iam::333333333333:root",
                "arn:aws:iam::444444444444:role/teams/audit",
                "arn:aws:iam::333333333333:root",
            ],
        },
    )
    (role,) = Template.from_stack(stack).find_resources("AWS::IAM::Role").values()
    limited = {
        "StringEquals": {
            "aws:PrincipalArn": [
                "arn:aws:iam::111111111111:role/ops",
                "arn:aws:iam::444444444444:role/teams/audit",
            ]
        }
    }
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Condition": limited,
        },
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
            "Condition": limited,
        },
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
        },
    ]


def test_the_inventory_roles_are_in_the_partition_of_the_callers_region() -> None:
    stack = new_caller_stack(account="111111111111", region="cn-north-1")
    caller = KeyInventoryCaller(
        stack, "C", **{**CALLER_PROPS, "accounts": ["222222222222", "222222222222"]}
    )
    # A repeated account is named once.
    assert caller.inventory_role_arns == [f"arn:aws-cn:iam::222222222222:role/{DEFAULT_ROLE_NAME}"]
    assert caller.role_arn == "arn:aws-cn:iam::111111111111:role/platform-inventory"


def test_without_a_region_the_partition_is_read_at_deploy_time() -> None:
    stack = cdk.Stack(cdk.App(), "C")
    KeyInventoryCaller(stack, "C", **CALLER_PROPS)
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, f":iam::222222222222:role/{DEFAULT_ROLE_NAME}"],
        ]
    }


def test_the_caller_and_its_policy_are_exposed() -> None:
    stack = new_caller_stack()
    caller = KeyInventoryCaller(stack, "C", **CALLER_PROPS)
    assert isinstance(caller.role, iam.Role)
    assert caller.role.node.path == "C/C/Role"
    assert isinstance(caller.policy, iam.ManagedPolicy)
    assert caller.policy.node.path == "C/C/Policy"


def test_the_callers_props_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        KeyInventoryCaller(new_caller_stack(), "C", "platform-inventory")  # type: ignore[misc]


PRINCIPAL_RULE = (
    "must be an IAM role ARN, arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>, or "
    "an account root, arn:<partition>:iam::<12-digit account>:root"
)
PRINCIPALS_RULE = (
    "must be a non-empty list of IAM role ARNs (arn:<partition>:iam::<12-digit account>:"
    "role/[<path>/]<name>) or account roots (arn:<partition>:iam::<12-digit account>:root)"
)


@pytest.mark.parametrize(
    ("props", "prop", "rule", "received"),
    [
        ({"caller_role_name": "ops/x"}, "caller_role_name", ROLE_NAME_RULE, "ops/x"),
        ({"caller_role_name": None}, "caller_role_name", ROLE_NAME_RULE, None),
        ({"caller_role_path": "ops"}, "caller_role_path", ROLE_PATH_RULE, "ops"),
        ({"inventory_role_name": ""}, "inventory_role_name", ROLE_NAME_RULE, ""),
        ({"inventory_role_path": "/a//"}, "inventory_role_path", ROLE_PATH_RULE, "/a//"),
        ({"external_id": "a"}, "external_id", EXTERNAL_ID_RULE, "a"),
        ({"trusted_principal_arns": []}, "trusted_principal_arns", PRINCIPALS_RULE, []),
        (
            {"trusted_principal_arns": "arn:aws:iam::111111111111:root"},
            "trusted_principal_arns",
            PRINCIPALS_RULE,
            "arn:aws:iam::111111111111:root",
        ),
        # No wildcard principal, in any form.
        ({"trusted_principal_arns": ["*"]}, "trusted_principal_arns", PRINCIPAL_RULE, "*"),
        (
            {"trusted_principal_arns": ["arn:aws:iam::*:root"]},
            "trusted_principal_arns",
            PRINCIPAL_RULE,
            "arn:aws:iam::*:root",
        ),
        (
            {"trusted_principal_arns": ["arn:aws:iam::111111111111:role/*"]},
            "trusted_principal_arns",
            PRINCIPAL_RULE,
            "arn:aws:iam::111111111111:role/*",
        ),
        (
            {"trusted_principal_arns": ["arn:aws:iam::111111111111:user/alice"]},
            "trusted_principal_arns",
            PRINCIPAL_RULE,
            "arn:aws:iam::111111111111:user/alice",
        ),
        (
            {"trusted_principal_arns": ["111111111111"]},
            "trusted_principal_arns",
            PRINCIPAL_RULE,
            "111111111111",
        ),
        (
            {"accounts": []},
            "accounts",
            "must name at least one account unless organization_id is given (the caller could "
            "assume no role)",
            [],
        ),
        (
            {"accounts": "222222222222"},
            "accounts",
            "must be a list of 12-digit AWS account IDs",
            "222222222222",
        ),
        ({"accounts": ["2222"]}, "accounts", "must be a 12-digit AWS account ID", "2222"),
        ({"accounts": ["*"]}, "accounts", "must be a 12-digit AWS account ID", "*"),
        (
            {"organization_id": "o-short"},
            "organization_id",
            "must be an AWS Organizations organization ID, o- and 10-32 lowercase letters and "
            "digits",
            "o-short",
        ),
        (
            {"organization_id": "r-a1b2c3d4e5"},
            "organization_id",
            "must be an AWS Organizations organization ID, o- and 10-32 lowercase letters and "
            "digits",
            "r-a1b2c3d4e5",
        ),
    ],
)
def test_a_bad_caller_prop_is_refused_naming_it_and_the_value(
    props: dict[str, Any], prop: str, rule: str, received: Any
) -> None:
    with pytest.raises(ConstructPropError) as error:
        KeyInventoryCaller(new_caller_stack(), "C", **{**CALLER_PROPS, **props})
    assert str(error.value) == f"'{prop}' {rule}. Received: {received!r}"


# What str(Token.as_number(...)) gives: IAM's name and path rules let it through, and synth
# then failed with jsii's raw UnrecognizedTokenKey.
NUMBER_TOKEN = "-1.8881545897087626e+289"
NUMBER_TOKEN_RULE = (
    "must not hold '-1.<10 to 16 digits>e+289', which aws-cdk-lib takes for a number token and "
    "fails to resolve at synth"
)


@pytest.mark.parametrize(
    ("construct", "prop", "value"),
    [
        (KeyInventoryRole, "role_name", NUMBER_TOKEN),
        (KeyInventoryRole, "role_name", f"inventory{NUMBER_TOKEN}"),
        (KeyInventoryRole, "role_path", f"/{NUMBER_TOKEN}/"),
        (KeyInventoryCaller, "caller_role_name", NUMBER_TOKEN),
        (KeyInventoryCaller, "caller_role_path", f"/teams/{NUMBER_TOKEN}/"),
        (KeyInventoryCaller, "inventory_role_name", NUMBER_TOKEN),
        (KeyInventoryCaller, "inventory_role_path", f"/{NUMBER_TOKEN}/"),
    ],
)
def test_a_name_or_path_shaped_like_a_number_token_is_refused_before_synth(
    construct: type[KeyInventoryRole | KeyInventoryCaller], prop: str, value: str
) -> None:
    if construct is KeyInventoryRole:
        stack = new_stack()
        given: dict[str, Any] = {"caller_role_arn": "arn:aws:iam::111111111111:role/ops"}
    else:
        stack = new_caller_stack()
        given = dict(CALLER_PROPS)

    def synth() -> None:  # where the raw jsii error came from
        construct(stack, "I", **{**given, prop: value})
        Template.from_stack(stack)

    with pytest.raises(ConstructPropError) as error:
        synth()
    assert str(error.value) == f"'{prop}' {NUMBER_TOKEN_RULE}. Received: {value!r}"


def test_organization_mode_alone_needs_no_account() -> None:
    stack = new_caller_stack()
    caller = KeyInventoryCaller(
        stack, "C", **{**CALLER_PROPS, "accounts": [], "organization_id": ORGANIZATION_ID}
    )
    assert caller.inventory_role_arns == []
    (policy,) = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy").values()
    sids = [s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert sids == ["AssumeOrganizationInventoryRoles", "ListOrganizationAccounts"]


# -- one role name per account --------------------------------------------------------------------


def test_two_roles_of_one_name_in_one_account_are_refused_naming_both() -> None:
    app = cdk.App()
    first = cdk.Stack(app, "A", env=cdk.Environment(account="222222222222", region="eu-west-1"))
    # Another Region of the same account: IAM is global.
    second = cdk.Stack(app, "B", env=cdk.Environment(account="222222222222", region="eu-central-1"))
    KeyInventoryRole(first, "I", caller_role_arn="arn:aws:iam::111111111111:role/ops")
    with pytest.raises(ConstructPropError) as error:
        # Another path and case: IAM role names are unique in the account whatever both.
        KeyInventoryRole(
            second,
            "J",
            caller_role_arn="arn:aws:iam::111111111111:role/ops",
            role_name=DEFAULT_ROLE_NAME.lower(),
            role_path="/kmskit/",
        )
    assert str(error.value) == (
        "'role_name' must be unique within account 222222222222 (IAM role names are, whatever "
        "their path and case): A/I already has it, and B/J asks for it too (path /kmskit/). "
        f"Received: {DEFAULT_ROLE_NAME.lower()!r}"
    )


def test_a_caller_and_an_inventory_role_of_one_name_in_one_account_are_refused() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "A", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    KeyInventoryRole(stack, "I", caller_role_arn="arn:aws:iam::111111111111:role/ops")
    with pytest.raises(ConstructPropError, match=r"^'caller_role_name' must be unique within "):
        KeyInventoryCaller(stack, "C", **{**CALLER_PROPS, "caller_role_name": DEFAULT_ROLE_NAME})


def test_one_role_name_in_other_accounts_or_apps_is_taken() -> None:
    app = cdk.App()
    for account in ("222222222222", "333333333333"):
        stack = cdk.Stack(app, f"S{account}", env=cdk.Environment(account=account))
        KeyInventoryRole(stack, "I", caller_role_arn="arn:aws:iam::111111111111:role/ops")
    # Stacks without an account may be deployed to different accounts: not compared.
    for name in ("X", "Y"):
        KeyInventoryRole(
            cdk.Stack(app, name), "I", caller_role_arn="arn:aws:iam::111111111111:role/ops"
        )
    KeyInventoryRole(new_stack(), "I", caller_role_arn="arn:aws:iam::111111111111:role/ops")
    KeyInventoryRole(new_stack(), "I", caller_role_arn="arn:aws:iam::111111111111:role/ops")
