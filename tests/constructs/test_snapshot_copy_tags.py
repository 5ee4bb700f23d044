"""``copy_tags`` of SnapshotReplicator and SnapshotReceiver: checked at synth, handed to the
Lambda in its configuration, and allowed by the copiers' tagging statements by key (aws:TagKeys),
nothing else widened."""

from __future__ import annotations

import json
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
from kmskit.snapshots import model
from tests._support.apps.snapshot_showcase import BACKUP_ACCOUNT, SOURCE_ACCOUNT
from tests._support.deploy_quotas import POLICY_QUOTAS, deployed_size

KEY_CENTRAL = f"arn:aws:kms:eu-central-1:{SOURCE_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GOOD = ReplicationDestination(region="eu-central-1", kms_key_arn=KEY_CENTRAL)
MANAGED_POLICY_QUOTA = POLICY_QUOTAS["AWS::IAM::ManagedPolicy"][1]
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
def test_an_empty_tag_value_is_accepted_as_ec2_and_rds_accept_it(make: Any) -> None:
    # A marker tag ("Backup": ""), as the organisation configuration's tags may hold.
    construct = make({"Backup": ""})
    assert construct.copy_tags == {"Backup": ""}
    for function in _functions(construct):
        assert '"copy_tags":{"Backup":""}' in _config_text(function)


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


def _by_sid(construct: SnapshotReplicator | SnapshotReceiver) -> dict[str, Any]:
    """Every statement of the construct's managed policies, by ``<role>/<Sid>`` (``Copier`` or
    ``Sweeper``; whatever policy of the split it landed in)."""
    template = Template.from_stack(cdk.Stack.of(construct)).to_json()
    found: dict[str, Any] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        role = "Copier" if "CopierPolicy" in logical_id else "Sweeper"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            key = f"{role}/{statement['Sid']}"
            assert key not in found, key
            found[key] = statement
    return found


def _tag_keys(statement: dict[str, Any]) -> list[str] | None:
    return statement.get("Condition", {}).get("ForAllValues:StringEquals", {}).get("aws:TagKeys")


def cross_account_replicator(copy_tags: Any) -> SnapshotReplicator:
    """A replicator with a destination in another account: it also shares and marks copies."""
    stack = _stack(SOURCE_ACCOUNT)
    sharing = CustomerManagedKey(stack, "SharingKey")
    return SnapshotReplicator(
        stack,
        "Replicate",
        destinations=[
            GOOD,
            ReplicationDestination(
                region="eu-west-1", account=BACKUP_ACCOUNT, kms_key_arn=sharing.key_arn
            ),
        ],
        copy_tags=copy_tags,
    )


# The copy actions request the copy's tags too: they are narrowed to the same keys.
ON_CREATE_SIDS = {
    "Copier/CopyEbs",
    "Copier/CopyRdsSnapshots",
    "Copier/TagEbsCopiesOnCreate",
    "Copier/TagRdsCopiesOnCreate",
}
TAGGING_SIDS = {
    replicator: ON_CREATE_SIDS,
    cross_account_replicator: {
        *ON_CREATE_SIDS,
        "Copier/MarkOwnEbsCopiesDelivered",
        "Copier/MarkOwnRdsCopiesDelivered",
    },
    receiver: ON_CREATE_SIDS,
}
COPY_AND_TAG_ACTIONS = {
    "ec2:CopySnapshot",
    "rds:CopyDBSnapshot",
    "rds:CopyDBClusterSnapshot",
    "ec2:CreateTags",
    "rds:AddTagsToResource",
}


@pytest.mark.parametrize("make", list(TAGGING_SIDS))
def test_copy_tags_widen_only_the_tag_keys_of_the_tagging_statements(make: Any) -> None:
    """Every copying and tagging statement lists the tag keys it allows (aws:TagKeys); copy_tags
    add their keys there, and change nothing else of any policy."""
    with_tags, without = _by_sid(make(COPY_TAGS)), _by_sid(make(None))
    assert set(with_tags) == set(without)
    tagging = {sid for sid, s in with_tags.items() if _tag_keys(s) is not None}
    assert tagging == TAGGING_SIDS[make]
    for sid, statement in with_tags.items():
        if sid in tagging:
            assert _tag_keys(statement) == sorted([*_tag_keys(without[sid]), *COPY_TAGS]), sid
            keys = {**statement["Condition"]["ForAllValues:StringEquals"]}
            keys.pop("aws:TagKeys")
            assert keys == {}, sid
        else:
            assert statement == without[sid], sid
    for statement in with_tags.values():
        actions = statement["Action"]
        tags = COPY_AND_TAG_ACTIONS & set(actions if isinstance(actions, list) else [actions])
        assert not tags or f"Copier/{statement['Sid']}" in tagging, statement["Sid"]


@pytest.mark.parametrize(
    ("make", "own"),
    [
        (replicator, []),  # copies within its own account: no staging copy for another
        (cross_account_replicator, [model.TAG_DESTINATION_ACCOUNT]),
        (receiver, [model.TAG_STAGING_ARN, model.TAG_REPLY_REGION]),
    ],
)
def test_copies_are_tagged_on_create_with_the_keys_of_their_kind_only(
    make: Any, own: list[str]
) -> None:
    statements = _by_sid(make(COPY_TAGS))
    expected = sorted([*model.COPY_TAG_KEYS, *own, *COPY_TAGS])
    for sid in sorted(ON_CREATE_SIDS):
        assert _tag_keys(statements[sid]) == expected, sid
    if make is cross_account_replicator:
        for sid in ("Copier/MarkOwnEbsCopiesDelivered", "Copier/MarkOwnRdsCopiesDelivered"):
            condition = statements[sid]["Condition"]
            assert _tag_keys(statements[sid]) == sorted([model.TAG_DELIVERED, *COPY_TAGS]), sid
            assert condition["Null"] == {"aws:RequestTag/kmskit:delivered": "false"}, sid


def test_the_most_and_longest_copy_tags_still_fit_the_policy_quotas() -> None:
    """39 copy tags of 128-character keys, listed in four tagging statements of a replicator
    that shares: each statement still fits a managed policy, and the role stays within IAM's
    default of 10 managed policies."""
    longest = {f"{i:02d}".ljust(128, "k"): "v" for i in range(model.MAX_COPY_TAGS)}
    construct = cross_account_replicator(longest)
    template = Template.from_stack(cdk.Stack.of(construct)).to_json()
    policies = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
    ]
    for policy in policies:
        assert deployed_size(policy["PolicyDocument"]) <= MANAGED_POLICY_QUOTA
    by_role: dict[str, int] = {}
    for policy in policies:
        for role in policy["Roles"]:
            by_role[json.dumps(role)] = by_role.get(json.dumps(role), 0) + 1
    assert max(by_role.values()) <= 10, by_role
    assert _tag_keys(_by_sid(construct)["Copier/MarkOwnEbsCopiesDelivered"]) == sorted(
        [model.TAG_DELIVERED, *longest]
    )
