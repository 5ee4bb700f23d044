"""CustomerManagedKey and ReplicaKey: what each key type synthesizes to (the showcase App)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match

from constructs_lib import ConstructPropError, CustomerManagedKey, KeyPolicy, ReplicaKey
from kmskit.cli import main
from tests._support.snapshots import normalized
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
STACK = "KeysShowcase"
REPLICA_STACK = "KeysShowcaseReplica"


def key_resource(template: dict[str, Any], description_prefix: str) -> dict[str, Any]:
    (key,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
        and r["Properties"]["Description"].startswith(description_prefix + " ")
    ]
    return key


def test_symmetric_key_defaults(synthesized: Synth) -> None:
    template = synthesized("keys_showcase").assertions(STACK)
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {
                "Description": "KeysShowcase/Data (SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)",
                "KeySpec": "SYMMETRIC_DEFAULT",
                "KeyUsage": "ENCRYPT_DECRYPT",
                "EnableKeyRotation": True,
                "PendingWindowInDays": 30,
                "KeyPolicy": Match.any_value(),
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    template.has_resource_properties(
        "AWS::KMS::Alias",
        {"AliasName": "alias/app-data", "TargetKeyId": Match.any_value()},
    )


@pytest.mark.parametrize(
    ("name", "spec", "usage"),
    [
        ("RsaEncryption", "RSA_3072", "ENCRYPT_DECRYPT"),
        ("Signer", "ECC_NIST_P256", "SIGN_VERIFY"),
        ("Mac", "HMAC_256", "GENERATE_VERIFY_MAC"),
        ("Agreement", "ECC_NIST_P384", "KEY_AGREEMENT"),
    ],
)
def test_non_symmetric_keys_have_their_spec_and_no_rotation(
    synthesized: Synth, name: str, spec: str, usage: str
) -> None:
    properties = key_resource(synthesized("keys_showcase").template(STACK), f"{STACK}/{name}")[
        "Properties"
    ]
    assert (properties["KeySpec"], properties["KeyUsage"]) == (spec, usage)
    assert properties["EnableKeyRotation"] is False
    assert "Origin" not in properties
    assert "MultiRegion" not in properties


def test_imported_material_key_waits_for_material_and_acknowledges_rotation(
    synthesized: Synth,
) -> None:
    result = synthesized("keys_showcase")
    properties = key_resource(result.template(STACK), f"{STACK}/Imported")["Properties"]
    assert properties["Origin"] == "EXTERNAL"
    assert properties["EnableKeyRotation"] is False
    assert properties["PendingWindowInDays"] == 7
    acknowledged = {
        rule
        for path, rule, _ in result.acknowledgments()
        if path == "/KeysShowcase/Imported/Key/Resource"
    }
    assert acknowledged == {
        "AwsSolutions-KMS5",
        "NIST.800.53.R5-KMSBackingKeyRotationEnabled",
        "PCI.DSS.321-KMSBackingKeyRotationEnabled",
    }


def test_no_other_key_is_excused_from_rotation(synthesized: Synth) -> None:
    paths = {path for path, _, _ in synthesized("keys_showcase").acknowledgments()}
    assert paths == {"/KeysShowcase/Imported/Key/Resource"}


def test_multi_region_primary_and_replica_in_another_region(synthesized: Synth) -> None:
    result = synthesized("keys_showcase")
    primary = key_resource(result.template(STACK), f"{STACK}/Global")["Properties"]
    assert primary["MultiRegion"] is True
    assert primary["EnableKeyRotation"] is True
    (output_name,) = result.template(STACK)["Outputs"]
    assert result.template(STACK)["Outputs"][output_name]["Value"] == {
        "Fn::GetAtt": [
            next(n for n in result.template(STACK)["Resources"] if n.startswith("GlobalKey")),
            "Arn",
        ]
    }
    replica = key_resource(result.template(REPLICA_STACK), f"{REPLICA_STACK}/GlobalReplica")
    assert replica["Properties"]["PrimaryKeyArn"] == {
        "Fn::GetStackOutput": {
            "StackName": STACK,
            "Region": "eu-west-1",
            "OutputName": output_name,
        }
    }
    assert replica["DeletionPolicy"] == "Retain"
    result.assertions(REPLICA_STACK).has_resource_properties(
        "AWS::KMS::Alias",
        {
            "AliasName": "alias/global",
            "TargetKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^GlobalReplica"), "KeyId"]},
        },
    )


@pytest.mark.parametrize(
    ("stack", "name", "monthly", "after_rotations"),
    [
        (STACK, "Data", "1.00", "3.00"),
        (STACK, "Signer", "1.00", "1.00"),
        (STACK, "Imported", "1.00", "1.00"),
        (STACK, "Global", "1.00", "3.00"),
        (REPLICA_STACK, "GlobalReplica", "1.00", "3.00"),
    ],
)
def test_every_key_reports_its_monthly_cost(
    synthesized: Synth, stack: str, name: str, monthly: str, after_rotations: str
) -> None:
    key = key_resource(synthesized("keys_showcase").template(stack), f"{stack}/{name}")
    cost = key["Metadata"]["kmskit:cost"]
    assert (cost["monthlyUsd"], cost["maxMonthlyUsd"]) == (monthly, after_rotations)


def test_monthly_cost_attribute_matches_the_price_list() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    rotated = CustomerManagedKey(stack, "Rotated")
    signer = CustomerManagedKey(
        stack, "Signer", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.SIGN_VERIFY
    )
    assert (str(rotated.monthly_cost.monthly_usd), str(rotated.monthly_cost.max_monthly_usd)) == (
        "1.00",
        "3.00",
    )
    assert str(signer.monthly_cost.max_monthly_usd) == "1.00"


def test_custom_rotation_period_is_passed_to_cloudformation() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    CustomerManagedKey(stack, "K", rotation_period=cdk.Duration.days(180))
    template = app.synth().get_stack_by_name("S").template
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert key["Properties"]["RotationPeriodInDays"] == 180


def test_same_alias_in_two_stacks_is_allowed() -> None:
    app = cdk.App()
    for name in ("A", "B"):
        CustomerManagedKey(cdk.Stack(app, name), "K", alias="alias/app-data")
    assert len(app.synth().stacks) == 2


@pytest.mark.parametrize("stack_id", [STACK, REPLICA_STACK])
def test_showcase_snapshot(synthesized: Synth, snapshot_json, stack_id: str) -> None:  # type: ignore[no-untyped-def]
    assert normalized(synthesized("keys_showcase").template(stack_id)) == snapshot_json


def test_kmskit_cost_sums_the_showcase(
    synthesized: Synth, capsys: pytest.CaptureFixture[str]
) -> None:
    # 9 keys at $1; Data, Shared, Global and its replica add up to $2 each after rotations.
    outdir = synthesized("keys_showcase").outdir
    assert main(["cost", str(outdir), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["keys"], report["monthlyUsd"], report["maxMonthlyUsd"]) == (9, "9.00", "17.00")
    assert report["templates"]["KeysShowcaseReplica"] == {
        "keys": 1,
        "monthlyUsd": "1.00",
        "maxMonthlyUsd": "3.00",
    }


def test_replica_of_a_primary_deployed_earlier_takes_its_arn() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "R", env=cdk.Environment(account="111111111111", region="eu-central-1"))
    arn = "arn:aws:kms:eu-west-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    replica = ReplicaKey(stack, "Replica", primary_key_arn=arn, pending_window=cdk.Duration.days(7))
    template = app.synth().get_stack_by_name("R").template
    (resource,) = template["Resources"].values()
    assert resource["Type"] == "AWS::KMS::ReplicaKey"
    assert resource["Properties"]["PrimaryKeyArn"] == arn
    assert resource["Properties"]["PendingWindowInDays"] == 7
    assert replica.primary_key_arn == arn


def test_explicit_deployer_is_named_without_a_condition() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    pipeline = "arn:aws:iam::111111111111:role/pipeline-deploy"
    CustomerManagedKey(
        stack,
        "K",
        policy=KeyPolicy.custom(users=["arn:aws:iam::111111111111:role/App"], deployer=pipeline),
    )
    template = app.synth().get_stack_by_name("S").template
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    deployment = key["Properties"]["KeyPolicy"]["Statement"][0]
    assert deployment["Sid"] == "KeyDeployment"
    assert deployment["Principal"] == {"AWS": pipeline}
    assert "Condition" not in deployment
    assert "kms:PutKeyPolicy" in deployment["Action"]


def test_replica_of_an_imported_material_primary_lets_its_admins_import() -> None:
    """KMS does not copy imported material to replicas: each replica starts in PendingImport
    and its administrators import the primary's material into it."""
    app = cdk.App()
    stack = cdk.Stack(app, "R", env=cdk.Environment(account="111111111111", region="eu-central-1"))
    arn = "arn:aws:kms:eu-west-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    admin = "arn:aws:iam::111111111111:role/Admin"
    replica = ReplicaKey(
        stack,
        "Replica",
        primary_key_arn=arn,
        origin="EXTERNAL",
        policy=KeyPolicy.custom(admins=[admin]),
    )
    template = app.synth().get_stack_by_name("R").template
    resource = key_resource(template, "R/Replica")
    (administration,) = [
        s
        for s in resource["Properties"]["KeyPolicy"]["Statement"]
        if s["Sid"] == "KeyAdministration"
    ]
    assert administration["Principal"] == {"AWS": admin}
    assert {
        "kms:DeleteImportedKeyMaterial",
        "kms:GetParametersForImport",
        "kms:ImportKeyMaterial",
    } <= set(administration["Action"])
    assert replica.origin == "EXTERNAL"
    # KMS never rotates imported material: no rotation surcharge in the price.
    cost = resource["Metadata"]["kmskit:cost"]
    assert cost["maxMonthlyUsd"] == cost["monthlyUsd"]


def primary_and_replica_stacks() -> tuple[cdk.App, cdk.Stack, cdk.Stack]:
    app = cdk.App()
    home = cdk.Stack(app, "Home", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    away = cdk.Stack(
        app,
        "Away",
        env=cdk.Environment(account="111111111111", region="eu-central-1"),
        cross_region_references=True,
    )
    return app, home, away


def key_policy_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    (key,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey")
    ]
    statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
    return statements


def test_replica_of_a_custom_policy_primary_takes_the_primary_policy() -> None:
    # The replica holds the primary's key material: the default key policy would let every
    # principal of the account whom IAM allows kms:Decrypt read what the primary encrypted.
    app, home, away = primary_and_replica_stacks()
    admin, user = "arn:aws:iam::111111111111:role/Admin", "arn:aws:iam::111111111111:role/App"
    primary = CustomerManagedKey(
        home, "P", multi_region=True, policy=KeyPolicy.custom(admins=[admin], users=[user])
    )
    replica = ReplicaKey(away, "R", primary=primary)
    assembly = app.synth()
    replica_statements = key_policy_of(assembly.get_stack_by_name("Away").template)
    assert replica.policy is primary.policy
    assert [s["Sid"] for s in replica_statements] == [
        "KeyDeployment",
        "KeyAdministration",
        "KeyUsage",
    ]
    assert replica_statements == key_policy_of(assembly.get_stack_by_name("Home").template)
    assert not any(s["Sid"] == "EnableIAMUserPermissions" for s in replica_statements)


def primary_naming_a_role_of_its_stack(home: cdk.Stack) -> CustomerManagedKey:
    role = cdk.aws_iam.Role(home, "App", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    return CustomerManagedKey(
        home,
        "P",
        multi_region=True,
        policy=KeyPolicy.custom(admins=["arn:aws:iam::111111111111:role/Admin"], users=[role]),
    )


def test_replica_of_a_custom_policy_primary_naming_its_stack_roles_asks_for_a_policy() -> None:
    _, home, away = primary_and_replica_stacks()
    primary = primary_naming_a_role_of_its_stack(home)
    with pytest.raises(ConstructPropError) as error:
        ReplicaKey(away, "R", primary=primary)
    assert str(error.value) == (
        "'policy' must be given for a replica of a primary with a custom policy that does not "
        "render in the replica's stack (it names constructs of another stack: Home/App). The "
        "replica holds the primary's key material, so it does not fall back to "
        "KeyPolicy.default(): pass policy=KeyPolicy.custom(...) naming the principals by ARN, "
        "or policy=KeyPolicy.default() on purpose. Received: 'Home/P'"
    )


def test_replica_of_a_custom_policy_primary_with_a_reference_in_a_statement_asks_for_a_policy() -> (
    None
):
    _, home, away = primary_and_replica_stacks()
    role = cdk.aws_iam.Role(home, "App", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    by_arn = cdk.aws_iam.PolicyStatement(
        sid="ByArn",
        principals=[cdk.aws_iam.ArnPrincipal(role.role_arn)],
        actions=["kms:Decrypt"],
        resources=["*"],
    )
    primary = CustomerManagedKey(
        home,
        "P",
        multi_region=True,
        policy=KeyPolicy.custom(
            admins=["arn:aws:iam::111111111111:role/Admin"], statements=[by_arn]
        ),
    )
    with pytest.raises(ConstructPropError, match="statement 'ByArn' refers to a resource of"):
        ReplicaKey(away, "R", primary=primary)


def test_replica_takes_the_default_policy_when_chosen_on_purpose_or_given_by_arn() -> None:
    app, home, away = primary_and_replica_stacks()
    primary = primary_naming_a_role_of_its_stack(home)
    ReplicaKey(away, "R", primary=primary, policy=KeyPolicy.default())
    arn = "arn:aws:kms:eu-west-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    ReplicaKey(away, "ByArn", primary_key_arn=arn)
    template = app.synth().get_stack_by_name("Away").template
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::KMS::ReplicaKey":
            (statement,) = resource["Properties"]["KeyPolicy"]["Statement"]
            assert statement["Sid"] == "EnableIAMUserPermissions"


@pytest.mark.parametrize(
    ("context", "reference"),
    [
        ({}, "Fn::GetAtt"),  # strong: Custom::CrossRegionExportReader's attribute
        ({"@aws-cdk/core:defaultCrossStackReferences": "weak"}, "Fn::GetStackOutput"),
    ],
)
def test_a_replica_stack_needs_no_cross_region_references_flag(
    context: dict[str, str], reference: str
) -> None:
    # docs/keys.md, "Multi-Region keys": the same templates with or without the flag; the
    # reference strength alone decides how the primary's ARN reaches the replica's stack.
    templates = []
    for flag in (False, True):
        app = cdk.App(context=context)
        home = cdk.Stack(
            app, "Home", env=cdk.Environment(account="111111111111", region="eu-west-1")
        )
        away = cdk.Stack(
            app,
            "Away",
            env=cdk.Environment(account="111111111111", region="eu-central-1"),
            cross_region_references=flag,
        )
        ReplicaKey(away, "R", primary=CustomerManagedKey(home, "P", multi_region=True))
        assembly = app.synth()
        templates.append([assembly.get_stack_by_name(s).template for s in ("Home", "Away")])
    without_flag, with_flag = templates
    assert without_flag == with_flag
    (replica,) = [
        r for r in without_flag[1]["Resources"].values() if r["Type"] == "AWS::KMS::ReplicaKey"
    ]
    assert list(replica["Properties"]["PrimaryKeyArn"]) == [reference]
