"""The example organisation's ``key_inventory``: the role ``kmskit key inventory`` assumes,
one per account in its AuditStack, trusting the configured caller role, and that caller role in
the AuditStack of ``key_inventory.account`` (with ``caller_trusted_principal_arns``); every bad
value is refused with the field and the value."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from constructs_lib import ConstructPropError
from kmskit.cli import build_parser
from kmskit.inventory_role import (
    DEFAULT_ROLE_NAME,
    INVENTORY_ACTIONS,
    ROLE_PATH_RULE,
    ROLE_SESSION_NAME,
    cli_role_name,
    role_arn,
)
from stacks.audit_stack import AuditStack
from stacks.config import Organisation, load_organisation
from tests._support.apps.key_inventory_org import (
    CALLER_ROLE_PATH,
    INVENTORY_ROLE_PATH,
    KEY_INVENTORY,
    ORGANIZATION_ID,
)
from tests._support.deploy_changes import stateful_changes
from tests._support.synth import SynthResult
from tests.constructs.test_key_inventory_role import organization_mode_statements
from tests.stacks.test_config import CHINA, DEFAULT, changed, refusal, with_changes

Synth = Callable[[str], SynthResult]
FIELD = "'kmskit:organisation.key_inventory"
DEPLOY_MD = Path(__file__).parents[2] / "docs" / "deploy.md"
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
    organisation = load_organisation(with_changes(*CHINA))
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
            "'caller_role_path', 'caller_trusted_principal_arns', 'inventory_role_path', "
            "'organization_id']. Received: 'role_name'",
        ),
        *(
            (
                changed(f"key_inventory.{key}", None),
                f"{FIELD}.{key}' must not be null: leave the key out to take its default. "
                "Received: None",
            )
            for key in ("caller_role_path", "inventory_role_path")
        ),
        *(
            (
                changed(f"key_inventory.{key}", bad),
                f"{FIELD}.{key}' {ROLE_PATH_RULE}. Received: {bad!r}",
            )
            for key in ("caller_role_path", "inventory_role_path")
            for bad in (
                "",
                "platform/",
                "/platform",
                "//",
                "/platform//kms/",
                "/plat*form/",
                "/arn:aws/",
                "/plätform/",
                "/" + "p" * 511 + "/",
                7,
                ["/platform/"],
            )
        ),
        *(
            (
                changed(f"key_inventory.{key}", value),
                f"{FIELD}.{key}' must not hold '-1.<10 to 16 digits>e+289', which aws-cdk-lib "
                f"takes for a number token and fails to resolve at synth. Received: {value!r}",
            )
            for key, value in (
                ("caller_role_name", "-1.8881545897087626e+289"),
                ("caller_role_path", "/-1.8881545897087626e+289/"),
                ("inventory_role_path", "/platform/-1.888154589708e+289/"),
            )
        ),
        (
            changed("key_inventory.organization_id", None),
            f"{FIELD}.organization_id' must not be null: leave the key out for no organization "
            "mode. Received: None",
        ),
        *(
            (
                changed("key_inventory.organization_id", bad),
                f"{FIELD}.organization_id' must be an AWS Organizations organization ID, o- and "
                f"10-32 lowercase letters and digits. Received: {bad!r}",
            )
            for bad in ("o-a1b2c3", "O-A1B2C3D4E5", "a1b2c3d4e5", "o-a1b2c3d4e5\n", "", 7)
        ),
        (
            with_changes(
                ("key_inventory.organization_id", ORGANIZATION_ID),
                ("key_inventory.caller_trusted_principal_arns", ...),
            ),
            f"{FIELD}.organization_id' needs key_inventory.caller_trusted_principal_arns: "
            "organization mode is a policy of the caller role, which this app deploys only with "
            "them (where the caller role is yours, give it organization mode yourself, "
            f"docs/keys.md). Received: {ORGANIZATION_ID!r}",
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
    organisation = load_organisation(with_changes(*CHINA))
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


def test_the_paths_and_organization_mode_default_to_none() -> None:
    inventory = load_organisation(DEFAULT).key_inventory
    assert inventory is not None
    assert (inventory.caller_role_path, inventory.inventory_role_path) == ("/", "/")
    assert inventory.organization_id is None


def test_the_configuration_takes_the_paths_and_the_organization() -> None:
    inventory = load_organisation(changed("key_inventory", KEY_INVENTORY)).key_inventory
    assert inventory is not None
    assert inventory.caller_role_path == CALLER_ROLE_PATH
    assert inventory.inventory_role_path == INVENTORY_ROLE_PATH
    assert inventory.organization_id == ORGANIZATION_ID
    assert inventory.caller_role_arn("aws-cn") == (
        "arn:aws-cn:iam::111111111111:role/platform/platform-inventory"
    )


def test_every_inventory_role_has_its_path_and_trusts_the_caller_by_its_path(
    synthesized: Synth,
) -> None:
    result = synthesized("key_inventory_org")
    caller_arn = "arn:aws:iam::111111111111:role/platform/platform-inventory"
    for name in ("Security-Audit", "Workload-Audit", "Backup-Audit"):
        (role,) = inventory_roles(result.template(name))
        assert role["Path"] == INVENTORY_ROLE_PATH
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
        assert trust["Condition"]["StringEquals"]["aws:PrincipalArn"] == caller_arn
    (caller,) = caller_roles(result.template("Security-Audit"))
    assert caller["Path"] == CALLER_ROLE_PATH
    assert role_arn("aws", "111111111111", caller["RoleName"], caller["Path"]) == caller_arn
    assert caller["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Condition": {"StringEquals": {"aws:PrincipalArn": SSO_ROLE_ARN}},
        }
    ]


def test_in_organization_mode_the_caller_assumes_the_roles_by_their_path(
    synthesized: Synth,
) -> None:
    result = synthesized("key_inventory_org")
    organisation = load_organisation(changed("key_inventory", KEY_INVENTORY))
    deployed = []
    for account in organisation.accounts:
        (role,) = inventory_roles(result.template(f"{account.stage_id}-Audit"))
        deployed.append(role_arn("aws", account.id, role["RoleName"], role["Path"]))
    assert deployed == [
        f"arn:aws:iam::{account.id}:role/platform/kms/{DEFAULT_ROLE_NAME}"
        for account in organisation.accounts
    ]
    statements = caller_policy(result.template("Security-Audit"))["Statement"]
    assert statements == organization_mode_statements(
        deployed,
        f"arn:aws:iam::*:role/platform/kms/{DEFAULT_ROLE_NAME}",
        {"sts:RoleSessionName": ROLE_SESSION_NAME},
        ORGANIZATION_ID,
    )
    # Only the account that runs the report has the caller.
    assert [name for name, t in result.templates.items() if caller_roles(t)] == ["Security-Audit"]


def test_a_caller_of_yours_with_a_path_is_trusted_by_its_path() -> None:
    organisation = load_organisation(
        with_changes(
            ("key_inventory.caller_trusted_principal_arns", ...),
            ("key_inventory.caller_role_path", CALLER_ROLE_PATH),
        )
    )
    stack = audit_stack(organisation, "workload")
    assert stack.key_inventory_caller is None
    (role,) = inventory_roles(Template.from_stack(stack).to_json())
    assert "Path" not in role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:PrincipalArn"] == (
        "arn:aws:iam::111111111111:role/platform/platform-inventory"
    )


def test_the_command_deploy_md_prints_for_each_configuration_matches_it() -> None:
    """docs/deploy.md, "Key inventory": the configuration examples, each followed by the
    ``kmskit key inventory`` command that reads every account it deploys a role to: the
    organisation's Regions, ``--role-name`` as cli_role_name gives it for the inventory roles'
    path, and ``--accounts-from-organization`` with organization mode only (else every account
    by ``--account``)."""
    text = DEPLOY_MD.read_text()
    section = text[text.index("### Key inventory\n") :]
    section = section[: section.index("\n### ", 1)]
    examples = [
        json.loads(block if block.startswith("{") else "{" + block + "}")["key_inventory"]
        for block in _fenced(section, "json")
    ]
    commands = [
        shlex.split(line.strip())
        for block in _fenced(section, "sh")
        for line in block.splitlines()
        if line.strip().startswith("kmskit key inventory")
    ]
    assert examples[0] == DEFAULT["key_inventory"]
    assert len(examples) == len(commands) == 2
    parser = build_parser()
    for example, command in zip(examples, commands, strict=True):
        organisation = load_organisation(changed("key_inventory", example))
        inventory = organisation.key_inventory
        assert inventory is not None
        args = parser.parse_args(command[1:])
        assert args.regions == list(organisation.regions)
        assert (args.role_name or DEFAULT_ROLE_NAME) == cli_role_name(
            DEFAULT_ROLE_NAME, inventory.inventory_role_path
        )
        assert args.accounts_from_organization == (inventory.organization_id is not None)
        if inventory.organization_id is None:
            assert args.accounts == [account.id for account in organisation.accounts]


def _fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^ *```{language}\n(.*?)^ *```$", text, re.MULTILINE | re.DOTALL)


def test_moving_a_deployed_role_to_another_path_replaces_it(tmp_path: Path) -> None:
    """docs/deploy.md, "Key inventory": a role's path is fixed at creation, so CloudFormation
    would replace both roles (and refuses to, as they have names of their own)."""

    def security_audit(config: dict[str, Any]) -> SynthResult:
        stack = audit_stack(load_organisation(config), "security")
        return SynthResult(
            name="audit",
            outdir=tmp_path,
            templates={"Audit": Template.from_stack(stack).to_json()},
            environments={"Audit": "aws://111111111111/eu-west-1"},
        )

    before = security_audit(DEFAULT)
    after = security_audit(
        with_changes(
            ("key_inventory.caller_role_path", CALLER_ROLE_PATH),
            ("key_inventory.inventory_role_path", INVENTORY_ROLE_PATH),
        )
    )
    roles = {
        logical_id
        for logical_id, resource in before.templates["Audit"]["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
        and resource["Properties"].get("RoleName") in (DEFAULT_ROLE_NAME, "platform-inventory")
    }
    assert len(roles) == 2
    assert sorted(stateful_changes(before, after)) == sorted(
        f"Audit/{logical_id}.Path: replaced" for logical_id in roles
    )
