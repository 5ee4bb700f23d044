"""More than one alias per key (the Terraform KMS module's ``aliases``): ``add_alias`` on
:class:`CustomerManagedKey` and :class:`ReplicaKey`, and ``key.add_alias`` routed to it, each
alias checked and reserved like the ``alias`` prop, with a construct ID from its name."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from constructs_lib import ConstructPropError, CustomerManagedKey, ReplicaKey

ACCOUNT = "111111111111"
HOME = cdk.Environment(account=ACCOUNT, region="eu-west-1")


def aliases_in(app: cdk.App, stack: str = "S") -> dict[str, dict[str, Any]]:
    """Logical ID -> properties of each AWS::KMS::Alias of the stack's template."""
    template = app.synth().get_stack_by_name(stack).template
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::KMS::Alias"
    }


def test_add_alias_points_another_alias_at_the_key() -> None:
    app = cdk.App()
    key = CustomerManagedKey(cdk.Stack(app, "S", env=HOME), "K", alias="alias/app")
    added = key.add_alias("alias/team/data")
    routed = key.key.add_alias("alias/team-data")  # what a CDK user would call

    assert key.aliases == [key.alias, added, routed]
    resolve = cdk.Stack.of(key).resolve
    key_arn = resolve(key.key.key_arn)
    assert {p["AliasName"]: resolve(p["TargetKeyId"]) for p in aliases_in(app).values()} == {
        "alias/app": key_arn,
        "alias/team/data": key_arn,
        "alias/team-data": key_arn,
    }
    assert key_arn == {"Fn::GetAtt": [resolve(key._policy_owner.logical_id), "Arn"]}


def test_an_added_alias_keeps_its_logical_id_when_others_come_and_go() -> None:
    def logical_id_of(alias: str, others: list[str]) -> str:
        app = cdk.App()
        key = CustomerManagedKey(cdk.Stack(app, "S", env=HOME), "K")
        for name in [*others, alias]:
            key.add_alias(name)
        (found,) = [i for i, p in aliases_in(app).items() if p["AliasName"] == alias]
        return found

    alone = logical_id_of("alias/team/data", [])
    assert logical_id_of("alias/team/data", ["alias/other", "alias/team-data"]) == alone


def test_an_added_aliases_construct_id_is_its_name_with_colons() -> None:
    # The ID the docstring promises (a deployed alias keeps its logical ID across versions),
    # and names that differ only in their '/' are two aliases, not one construct ID twice.
    key = CustomerManagedKey(cdk.Stack(cdk.App(), "S", env=HOME), "K")
    made = [
        key.add_alias(name) for name in ("alias/team/data", "alias/teamdata", "alias/team-da/ta")
    ]
    assert [alias.node.id for alias in made] == [
        "Alias:team:data",
        "Alias:teamdata",
        "Alias:team-da:ta",
    ]


@pytest.mark.parametrize(
    ("alias_name", "message"),
    [
        ("team/data", "'alias_name' must start with 'alias/'. Received: 'team/data'"),
        (
            "alias/aws/ebs",
            "'alias_name' must not start with 'alias/aws/', which is reserved for AWS managed "
            "keys. Received: 'alias/aws/ebs'",
        ),
        (
            "alias/app",
            "'alias_name' must be unique within account 111111111111 in eu-west-1. "
            "Received: 'alias/app'",
        ),
        (
            "alias/elsewhere",
            "'alias_name' must be unique within account 111111111111 in eu-west-1. "
            "Received: 'alias/elsewhere'",
        ),
    ],
)
def test_add_alias_refuses_what_the_alias_prop_refuses(alias_name: str, message: str) -> None:
    app = cdk.App()
    key = CustomerManagedKey(cdk.Stack(app, "S", env=HOME), "K", alias="alias/app")
    # Another stack of the same account and Region holds one of the names.
    CustomerManagedKey(cdk.Stack(app, "T", env=HOME), "Other", alias="alias/elsewhere")
    for add in (key.add_alias, key.key.add_alias):
        with pytest.raises(ConstructPropError) as refused:
            add(alias_name)
        assert str(refused.value) == message
    assert key.aliases == [key.alias]


def test_token_aliases_are_numbered() -> None:
    app = cdk.App()
    key = CustomerManagedKey(cdk.Stack(app, "S", env=HOME), "K")
    first = key.add_alias(f"alias/{cdk.Aws.STACK_NAME}-data")
    second = key.add_alias(f"alias/{cdk.Aws.STACK_NAME}-logs")
    assert [first.node.id, second.node.id] == ["Alias1", "Alias2"]
    assert len(aliases_in(app)) == 2


def test_a_replica_takes_added_aliases_too() -> None:
    app = cdk.App()
    primary = CustomerManagedKey(
        cdk.Stack(app, "Home", env=HOME), "K", multi_region=True, alias="alias/app"
    )
    away = cdk.Stack(
        app,
        "S",
        env=cdk.Environment(account=ACCOUNT, region="eu-central-1"),
        cross_region_references=True,
    )
    replica = ReplicaKey(away, "Replica", primary=primary, alias="alias/app")
    added = replica.add_alias("alias/team/data")
    assert replica.aliases == [replica.alias, added]
    resolve = cdk.Stack.of(replica).resolve
    key_id = {"Fn::GetAtt": [resolve(replica.resource.logical_id), "KeyId"]}
    assert {p["AliasName"]: resolve(p["TargetKeyId"]) for p in aliases_in(app).values()} == {
        "alias/app": key_id,
        "alias/team/data": key_id,
    }
    with pytest.raises(ConstructPropError, match=r"^'alias_name' must be unique"):
        replica.add_alias("alias/app")
    # replica.key.add_alias comes to the same method, as docs/keys.md says.
    with pytest.raises(ConstructPropError, match=r"^'alias_name' must be unique"):
        replica.key.add_alias("alias/app")
    with pytest.raises(ConstructPropError, match=r"^'alias_name' must not start with 'alias/aws/'"):
        replica.key.add_alias("alias/aws/ebs")
    routed = replica.key.add_alias("alias/team/logs")
    assert replica.aliases == [replica.alias, added, routed]
    assert routed.node.id == "Alias:team:logs"
