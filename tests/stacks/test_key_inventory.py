"""The example organisation's ``key_inventory``: the role ``kmskit key inventory`` assumes,
one per account in its AuditStack, trusting the configured caller role; every bad value is
refused with the field and the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from kmskit.inventory_role import DEFAULT_ROLE_NAME, INVENTORY_ACTIONS, ROLE_SESSION_NAME
from stacks.audit_stack import AuditStack
from stacks.config import load_organisation
from tests._support.synth import SynthResult
from tests.stacks.test_config import CHINA, DEFAULT, changed, refusal, with_changes

Synth = Callable[[str], SynthResult]
FIELD = "'kmskit:organisation.key_inventory"


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


def test_the_caller_role_is_in_the_partition_of_the_organisation() -> None:
    organisation = load_organisation(with_changes(*CHINA, ("pipeline.connection_arn", ...)))
    app = cdk.App()
    stack = AuditStack(
        app,
        "Audit",
        organisation=organisation,
        account=organisation.account("workload"),
        env=cdk.Environment(account="222222222222", region="cn-north-1"),
    )
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
            f"{FIELD}' may only have the keys ['account', 'caller_role_name']. "
            "Received: 'role_name'",
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
