"""``copy_tags`` of SnapshotReplicator and SnapshotReceiver: checked at synth, handed to the
Lambda in its configuration, and allowed by the copier's policies without widening them."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from constructs_lib import (
    ConstructPropError,
    CustomerManagedKey,
    ReplicationDestination,
    SnapshotReceiver,
    SnapshotReplicator,
)
from tests._support.apps.snapshot_showcase import BACKUP_ACCOUNT, SOURCE_ACCOUNT

KEY_CENTRAL = f"arn:aws:kms:eu-central-1:{SOURCE_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GOOD = ReplicationDestination(region="eu-central-1", kms_key_arn=KEY_CENTRAL)
COPY_TAGS = {"CostCenter": "cc-1234", "Owner": "platform-team"}


def _stack(account: str) -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=account, region="eu-west-1"))


def replicator(copy_tags: Any) -> SnapshotReplicator:
    return SnapshotReplicator(
        _stack(SOURCE_ACCOUNT), "Replicate", destinations=[GOOD], copy_tags=copy_tags
    )


def receiver(copy_tags: Any) -> SnapshotReceiver:
    stack = _stack(BACKUP_ACCOUNT)
    return SnapshotReceiver(
        stack,
        "Receive",
        source_accounts=[SOURCE_ACCOUNT],
        kms_key=CustomerManagedKey(stack, "BackupKey").key,
        copy_tags=copy_tags,
    )


BAD = [
    (
        {"kmskit:replicator": "mine"},
        "'copy_tags' must not have a tag key starting with 'aws:' (reserved by AWS) or 'kmskit:' "
        "(the toolkit's own tags, which find, share and delete its copies). "
        "Received: 'kmskit:replicator'",
    ),
    ({"Aws:Owner": "me"}, "'copy_tags' must not have a tag key starting with 'aws:'"),
    (
        {"CostCenter": "a", "COSTCENTER": "b"},
        "'copy_tags' must not have the tag key 'COSTCENTER' beside 'CostCenter', which differs "
        "only in case",
    ),
    (
        {"Cost#Center": "a"},
        "'copy_tags' must have tag keys of 1-128 letters, digits, spaces and _ . : / = + - @. "
        "Received: 'Cost#Center'",
    ),
    ({"CostCenter": 1234}, "(tag 'CostCenter'). Received: 1234"),
    ({"CostCenter": "cc\n"}, "(tag 'CostCenter'). Received: 'cc\\n'"),
    ({"Env": "aws:prod"}, "which RDS refuses (tag 'Env'). Received: 'aws:prod'"),
    (
        {f"Tag{i:02}": "v" for i in range(40)},
        "'copy_tags' must have at most 39 tags: a copy also carries up to 11 of the toolkit's "
        "own, and AWS allows 50 per snapshot, not 40",
    ),
    (
        [("CostCenter", "cc-1234")],
        "'copy_tags' must be a mapping of tag keys to tag values. "
        "Received: [('CostCenter', 'cc-1234')]",
    ),
    (
        {"CostCenter": cdk.Aws.ACCOUNT_ID},
        "'copy_tags' must have literal tag keys and values, not deploy-time values. "
        "Received: '${Token[AWS.AccountId",
    ),
]


@pytest.mark.parametrize("make", [replicator, receiver])
@pytest.mark.parametrize(("copy_tags", "message"), BAD)
def test_bad_copy_tags_name_the_prop_and_value(make: Any, copy_tags: Any, message: str) -> None:
    with pytest.raises(ConstructPropError) as error:
        make(copy_tags)
    assert message in str(error.value)
    assert error.value.prop == "copy_tags"


def test_39_copy_tags_are_accepted() -> None:
    tags = {f"Tag{i:02}": "v" for i in range(39)}
    assert replicator(tags).copy_tags == tags


def _config_text(function: dict[str, Any]) -> str:
    """The function's KMSKIT_SNAPSHOT_CONFIG with each deploy-time part as <token>."""
    value = function["Properties"]["Environment"]["Variables"]["KMSKIT_SNAPSHOT_CONFIG"]
    if isinstance(value, str):
        return value
    return "".join(p if isinstance(p, str) else "<token>" for p in value["Fn::Join"][1])


def _functions(construct: SnapshotReplicator | SnapshotReceiver) -> list[dict[str, Any]]:
    template = Template.from_stack(cdk.Stack.of(construct)).to_json()
    return [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]


@pytest.mark.parametrize("make", [replicator, receiver])
def test_copy_tags_reach_the_copier_and_the_sweeper(make: Any) -> None:
    functions = _functions(make(COPY_TAGS))
    assert len(functions) == 2
    for function in functions:
        assert '"copy_tags":{"CostCenter":"cc-1234","Owner":"platform-team"}' in _config_text(
            function
        )


@pytest.mark.parametrize("make", [replicator, receiver])
@pytest.mark.parametrize("empty", [None, {}])
def test_without_copy_tags_the_configuration_is_unchanged(make: Any, empty: Any) -> None:
    construct = make(empty)
    assert construct.copy_tags == {}
    for function in _functions(construct):
        assert "copy_tags" not in _config_text(function)


def _policies(construct: SnapshotReplicator | SnapshotReceiver) -> list[Any]:
    template = Template.from_stack(cdk.Stack.of(construct)).to_json()
    return [
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    ]


@pytest.mark.parametrize("make", [replicator, receiver])
def test_copy_tags_need_no_wider_policy(make: Any) -> None:
    """Tag-on-create is allowed for any keys as long as the request carries this replicator's
    kmskit:replicator value (TagEbsCopiesOnCreate, TagRdsCopiesOnCreate): no aws:TagKeys list
    to extend, so copy tags change no policy. If one is ever added, it must name them."""
    with_tags, without = _policies(make(COPY_TAGS)), _policies(make(None))
    assert with_tags == without
    for document in with_tags:
        for statement in document["Statement"]:
            assert "aws:TagKeys" not in str(statement.get("Condition", {})), statement["Sid"]
