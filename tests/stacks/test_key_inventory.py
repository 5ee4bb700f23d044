"""The example organisation's ``key_inventory``: the role ``kmskit key inventory`` assumes,
one per account in its AuditStack, trusting the configured caller role, and that caller role in
the AuditStack of ``key_inventory.account`` (with ``caller_trusted_principal_arns``); every bad
value is refused with the field and the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from constructs_lib import ConstructPropError
from kmskit.inventory_role import (
    DEFAULT_ROLE_NAME,
    INVENTORY_ACTIONS,
    ROLE_SESSION_NAME,
    role_arn,
)
from stacks.audit_stack import AuditStack
from stacks.config import Organisation, load_organisation
from tests._support.synth import SynthResult
from tests.stacks.test_config import CHINA, DEFAULT, changed, refusal, with_changes

Synth = Callable[[str], SynthResult]
FIELD = "'kmskit:organisation.key_inventory"
SSO_ROLE_ARN = (
    "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
    "AWSReservedSSO_PlatformInventory_0123456789abcdef"
)


def inventory_roles(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == DEFAULT_ROLE_NAME
    ]


def test_cdk_json_names_the_security_accounts_platform_inventory_role() -> None:
    assert DEFAULT["key_inventory"] == {
        "account": "security",
        "caller_role_name": "platform-inventory",
        "caller_trusted_principal_arns": [SSO_ROLE_ARN],
    }
    inventory = load_organisation(DEFAULT).key_inventory
    assert inventory is not None
    assert inventory.account.alias == "security"
    assert inventory.caller_role_arn("aws") == ("arn:aws:iam::111111111111:role/platform-inventory")


def test_without_key_inventory_there_is_none(synthesized: Synth) -> None:
    assert load_organisation(changed("key_inventory", ...)).key_inventory is None
    small = synthesized("small_org")
    assert small.templates
    assert all(inventory_roles(template) == [] for template in small.templates.values())


def test_every_account_gets_the_role_in_its_audit_stack_trusting_the_caller(
    synthesized: Synth,
) -> None:
    example = synthesized("example_org")
    found = {name: inventory_roles(t) for name, t in example.templates.items()}
    assert {name for name, roles in found.items() if roles} == {
        "Security-Audit",
        "Workload-Audit",
        "Backup-Audit",
    }
    for name in ("Security-Audit", "Workload-Audit", "Backup-Audit"):
        (role,) = found[name]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Condition": {
                    "StringEquals": {
                        "aws:PrincipalArn": "arn:aws:iam::111111111111:role/platform-inventory",
                        "sts:RoleSessionName": ROLE_SESSION_NAME,
                    }
                },
            }
        ]
        (policy,) = [
            r["Properties"]
            for r in example.template(name)["Resources"].values()
            if r["Type"] == "AWS::IAM::ManagedPolicy"
            and "kms:ListKeys" in r["Properties"]["PolicyDocument"]["Statement"][0]["Action"]
        ]
        assert policy["PolicyDocument"]["Statement"][0]["Action"] == sorted(INVENTORY_ACTIONS)


def audit_stack(organisation: Organisation, alias: str, region: str = "eu-west-1") -> AuditStack:
    account = organisation.account(alias)
    return AuditStack(
        cdk.App(),
        "Audit",
        organisation=organisation,
        account=account,
        env=cdk.Environment(account=account.id, region=region),
    )


def test_the_caller_role_is_in_the_partition_of_the_organisation() -> None:
    organisation = load_organisation(with_changes(*CHINA, ("pipeline.connection_arn", ...)))
    stack = audit_stack(organisation, "workload", "cn-north-1")
    (role,) = inventory_roles(Template.from_stack(stack).to_json())
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws-cn:iam::111111111111:root"}
    assert statement["Condition"]["StringEquals"]["aws:PrincipalArn"] == (
        "arn:aws-cn:iam::111111111111:role/platform-inventory"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            changed("key_inventory", None),
            f"{FIELD}' must not be null: leave the key out for no key inventory role. "
            "Received: None",
        ),
        (
            changed("key_inventory", "security"),
            f"{FIELD}' must be an object. Received: 'security'",
        ),
        (
            changed("key_inventory.role_name", "KmskitKeyInventory"),
            f"{FIELD}' may only have the keys ['account', 'caller_role_name', "
            "'caller_trusted_principal_arns']. Received: 'role_name'",
        ),
        (
            changed("key_inventory.caller_trusted_principal_arns", None),
            f"{FIELD}.caller_trusted_principal_arns' must not be null: leave the key out to "
            "deploy no caller role. Received: None",
        ),
        (
            changed("key_inventory.caller_trusted_principal_arns", []),
            f"{FIELD}.caller_trusted_principal_arns' must be a non-empty list of the IAM role "
            "ARNs and account roots that may assume the caller role (leave the key out to deploy "
            "no caller role). Received: []",
        ),
        (
            changed("key_inventory.caller_trusted_principal_arns", SSO_ROLE_ARN),
            f"{FIELD}.caller_trusted_principal_arns' must be a non-empty list of the IAM role "
            "ARNs and account roots that may assume the caller role (leave the key out to deploy "
            f"no caller role). Received: {SSO_ROLE_ARN!r}",
        ),
        *(
            (
                changed("key_inventory.caller_trusted_principal_arns", [SSO_ROLE_ARN, bad]),
                f"{FIELD}.caller_trusted_principal_arns[1]' must be an IAM role ARN, "
                "arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>, or an account "
                "root, arn:<partition>:iam::<12-digit account>:root (no wildcard). "
                f"Received: {bad!r}",
            )
            for bad in (
                "*",
                "arn:aws:iam::*:root",
                "arn:aws:iam::111111111111:role/*",
                "arn:aws:iam::111111111111:user/alice",
                "111111111111",
                7,
            )
        ),
        (
            changed(
                "key_inventory.caller_trusted_principal_arns", ["arn:aws-cn:iam::111111111111:root"]
            ),
            f"{FIELD}.caller_trusted_principal_arns[0]' must be in the partition of the "
            "organisation's Regions ('aws'). Received: 'arn:aws-cn:iam::111111111111:root'",
        ),
        (
            changed("key_inventory.caller_trusted_principal_arns", [SSO_ROLE_ARN, SSO_ROLE_ARN]),
            f"{FIELD}.caller_trusted_principal_arns[1]' must not repeat a principal. "
            f"Received: {SSO_ROLE_ARN!r}",
        ),
        (
            changed("key_inventory.account", "tooling"),
            f"{FIELD}.account' must name an account alias of this organisation "
            "['backup', 'security', 'workload']. Received: 'tooling'",
        ),
        (
            changed("key_inventory.account", ...),
            f"{FIELD}.account' must name the account that runs kmskit key inventory, an account "
            "alias. Received: None",
        ),
        (
            changed("key_inventory.caller_role_name", ...),
            f"{FIELD}.caller_role_name' must be the name of the role that runs kmskit key "
            "inventory in that account. Received: None",
        ),
        (
            changed("key_inventory.caller_role_name", "ops/platform-inventory"),
            f"{FIELD}.caller_role_name' must be an IAM role name: 1-64 letters, digits and "
            "+=,.@_- (no path). Received: 'ops/platform-inventory'",
        ),
        (
            changed("key_inventory.caller_role_name", "r" * 65),
            f"{FIELD}.caller_role_name' must be an IAM role name: 1-64 letters, digits and "
            f"+=,.@_- (no path). Received: '{'r' * 65}'",
        ),
        (
            changed("key_inventory.caller_role_name", 7),
            f"{FIELD}.caller_role_name' must be an IAM role name: 1-64 letters, digits and "
            "+=,.@_- (no path). Received: 7",
        ),
    ],
)
def test_a_bad_key_inventory_is_refused_naming_the_field_and_value(
    config: dict[str, Any], message: str
) -> None:
    assert refusal(config) == message


def caller_roles(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("RoleName") == "platform-inventory"
    ]


def caller_policy(template: dict[str, Any]) -> dict[str, Any]:
    (policy,) = [
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        and r["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == "sts:AssumeRole"
    ]
    return dict(policy)


def test_the_security_account_deploys_the_caller_that_every_inventory_role_trusts(
    synthesized: Synth,
) -> None:
    example = synthesized("example_org")
    organisation = load_organisation(DEFAULT)
    found = {name: caller_roles(t) for name, t in example.templates.items()}
    assert {name for name, roles in found.items() if roles} == {"Security-Audit"}
    (caller,) = found["Security-Audit"]
    assert caller["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Condition": {"StringEquals": {"aws:PrincipalArn": SSO_ROLE_ARN}},
        }
    ]
    # The caller's ARN as deployed (name and path) is the one every inventory role trusts.
    caller_arn = role_arn("aws", "111111111111", caller["RoleName"], caller.get("Path", "/"))
    inventory = organisation.key_inventory
    assert inventory is not None
    assert caller_arn == inventory.caller_role_arn("aws")
    deployed: list[str] = []
    for account in organisation.accounts:
        (role,) = inventory_roles(example.template(f"{account.stage_id}-Audit"))
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Condition"]["StringEquals"]["aws:PrincipalArn"] == caller_arn
        deployed.append(role_arn("aws", account.id, role["RoleName"], role.get("Path", "/")))
    # The caller may assume exactly those roles, as the inventory (and no organization-wide
    # wildcard, no organizations:ListAccounts: the example names its accounts).
    assert caller_policy(example.template("Security-Audit"))["Statement"] == [
        {
            "Sid": "AssumeInventoryRoles",
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Resource": deployed,
            "Condition": {"StringEquals": {"sts:RoleSessionName": ROLE_SESSION_NAME}},
        }
    ]


def test_without_caller_trusted_principal_arns_the_caller_role_is_yours() -> None:
    organisation = load_organisation(changed("key_inventory.caller_trusted_principal_arns", ...))
    stack = audit_stack(organisation, "security")
    assert stack.key_inventory_role is not None
    assert stack.key_inventory_caller is None
    assert caller_roles(Template.from_stack(stack).to_json()) == []


def test_the_caller_reads_the_inventory_roles_in_the_partition_of_the_organisation() -> None:
    organisation = load_organisation(with_changes(*CHINA, ("pipeline.connection_arn", ...)))
    stack = audit_stack(organisation, "security", "cn-north-1")
    (statement,) = caller_policy(Template.from_stack(stack).to_json())["Statement"]
    assert statement["Resource"] == [
        f"arn:aws-cn:iam::{account.id}:role/{DEFAULT_ROLE_NAME}"
        for account in organisation.accounts
    ]


def test_a_caller_named_as_the_inventory_role_is_refused_naming_both() -> None:
    organisation = load_organisation(changed("key_inventory.caller_role_name", DEFAULT_ROLE_NAME))
    with pytest.raises(ConstructPropError) as error:
        audit_stack(organisation, "security")
    assert str(error.value) == (
        "'caller_role_name' must be unique within account 111111111111 (IAM role names are, "
        "whatever their path and case): Audit/KeyInventoryRole already has it, and "
        f"Audit/KeyInventoryCaller asks for it too (path /). Received: {DEFAULT_ROLE_NAME!r}"
    )
