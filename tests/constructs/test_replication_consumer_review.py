"""SnapshotReplicator and SnapshotReceiver composed as a consuming team composes them.

Each test is a defect found by composing them the way README.md and docs/snapshots.md describe,
outside the example app: the queue key given as the ``.key`` the documentation hands to "any
CDK construct", destination keys made in other stacks and Regions (``cross_region_references``)
or given by alias or key ID, and a replicator that copies only within its own account.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from constructs_lib import (
    ConstructPropError,
    CustomerManagedKey,
    ReplicaKey,
    ReplicationDestination,
    SnapshotReceiver,
    SnapshotReplicator,
)
from tests._support.keys import custom_policy_key

SOURCE = "111111111111"
BACKUP = "333333333333"
CENTRAL_KEY = f"arn:aws:kms:eu-central-1:{SOURCE}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _stack(
    app: cdk.App, name: str, region: str = "eu-west-1", account: str = SOURCE, **props: Any
) -> cdk.Stack:
    return cdk.Stack(app, name, env=cdk.Environment(account=account, region=region), **props)


def _statements(template: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and logical_id.startswith(prefix)
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


# -- encryption_key: the documented .key ---------------------------------------------------------


def test_queue_key_may_be_the_documented_dot_key() -> None:
    # docs/keys.md hands out `key.key` for "any CDK construct" and AlarmTopic takes it; the
    # replicator refused it with "Received: <constructs_lib.keys._RoutedKey object at 0x...>".
    app = cdk.App()
    stack = _stack(app, "Source")
    key = custom_policy_key(stack, "QueueKey", account=SOURCE)
    replicator = SnapshotReplicator(
        stack,
        "Replicate",
        destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=CENTRAL_KEY)],
        encryption_key=key.key,
    )
    assert replicator.encryption_key is key
    assert replicator.alarm_topic.encryption_key is key
    template = Template.from_stack(stack).to_json()
    key_arn = stack.resolve(key.key_arn)
    queues = [r for r in template["Resources"].values() if r["Type"] == "AWS::SQS::Queue"]
    assert [q["Properties"]["KmsMasterKeyId"] for q in queues] == [key_arn, key_arn]
    # The custom policy names both roles for SQS (what the CustomerManagedKey form does).
    named = {
        str(s["Principal"]["AWS"])
        for s in stack.resolve(key.policy_document)["Statement"]
        if s.get("Condition") == {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}}
    }
    assert named == {
        str(stack.resolve(replicator.copier_role.role_arn)),
        str(stack.resolve(replicator.sweeper_role.role_arn)),
    }


def test_a_queue_key_and_alarm_topic_it_cannot_use_are_named_readably() -> None:
    app = cdk.App()
    stack = _stack(app, "Source")
    destinations = [ReplicationDestination(region="eu-central-1", kms_key_arn=CENTRAL_KEY)]
    with pytest.raises(ConstructPropError) as key_error:
        SnapshotReplicator(
            stack,
            "Replicate",
            destinations=destinations,
            encryption_key=kms.Key(stack, "Plain"),
        )
    assert str(key_error.value) == (
        "'encryption_key' must be a CustomerManagedKey or ReplicaKey, or its .key (the construct "
        "adds the SQS, CloudWatch Logs and EventBridge statements to its key policy). "
        "Received: 'Source/Plain'"
    )
    with pytest.raises(ConstructPropError) as topic_error:
        SnapshotReplicator(
            stack,
            "Again",
            destinations=destinations,
            alarm_topic=sns.Topic(stack, "Topic"),  # type: ignore[arg-type]
        )
    assert str(topic_error.value) == "'alarm_topic' must be an AlarmTopic. Received: 'Source/Topic'"


# -- destination and receiver keys made in the App -----------------------------------------------


def _keys_app() -> tuple[cdk.App, CustomerManagedKey, CustomerManagedKey, cdk.Stack]:
    """A key stack in us-east-1 and one in eu-central-1, and the replicator's stack."""
    app = cdk.App()
    virginia = CustomerManagedKey(_stack(app, "Virginia", "us-east-1"), "CopyKey", alias="alias/c")
    frankfurt = CustomerManagedKey(_stack(app, "Frankfurt", "eu-central-1"), "CopyKey")
    source = _stack(app, "Source", cross_region_references=True)
    return app, virginia, frankfurt, source


def test_a_destination_key_from_a_stack_of_another_region_is_refused() -> None:
    # key.key_arn is a token: the Region check was skipped, and every copy to eu-central-1
    # would have failed at run time ("Given key ID is not accessible").
    _, virginia, frankfurt, source = _keys_app()
    _refused_in_us_east_1_taken_in_eu_central_1(
        source, virginia.key_arn, frankfurt.key_arn, "Virginia/CopyKey/Key/Resource"
    )


def _refused_in_us_east_1_taken_in_eu_central_1(
    source: cdk.Stack, virginia_arn: str, frankfurt_arn: str, virginia_path: str
) -> None:
    """A destination in eu-central-1 refuses the key ARN of a us-east-1 stack, naming that
    key's construct, and takes the key of its own Region's stack."""
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(
            source,
            "Replicate",
            destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=virginia_arn)],
        )
    assert str(error.value) == (
        "'destinations[0].kms_key_arn' must be a key in the destination Region eu-central-1. "
        f"Received: '{virginia_path} (account {SOURCE}, us-east-1)'"
    )
    replicator = SnapshotReplicator(
        source,
        "Replicate2",
        destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=frankfurt_arn)],
    )
    assert replicator.destinations[0].kms_key_arn == frankfurt_arn


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            lambda key: key.alias.key_arn,
            "must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias: an alias's "
            "key_arn is its alias ARN, pass the key's key_arn; <token>: known at deploy time). "
            f"Received: 'arn:<token>:kms:us-east-1:{SOURCE}:<token>'",
        ),
        (
            lambda key: key.key_id,
            "must be a KMS key ARN (key.key_arn), not a key ID (key.key_id). "
            "Received: 'Virginia/CopyKey/Key/Resource'",
        ),
    ],
    ids=["alias", "key_id"],
)
def test_a_destination_key_given_by_alias_or_key_id_is_refused(value: Any, message: str) -> None:
    # Both were accepted as deploy-time values; EC2 and RDS refuse them only when a copy runs.
    _, virginia, _, source = _keys_app()
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(
            source,
            "Replicate",
            destinations=[ReplicationDestination(region="us-east-1", kms_key_arn=value(virginia))],
        )
    assert str(error.value) == f"'destinations[0].kms_key_arn' {message}"


def test_a_receiver_key_given_as_an_alias_is_refused() -> None:
    # kms.Alias is an aws_kms.IKey whose key_arn is the alias ARN: IAM cannot grant a key's use
    # through it, so every received copy would have failed.
    app = cdk.App()
    stack = _stack(app, "Backup", account=BACKUP)
    key = CustomerManagedKey(stack, "BackupKey", alias="alias/snapshot-backup")
    assert key.alias is not None
    with pytest.raises(ConstructPropError) as error:
        SnapshotReceiver(stack, "Receive", source_accounts=[SOURCE], kms_key=key.alias)
    assert str(error.value).startswith(
        "'kms_key' must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias"
    )
    assert str(error.value).endswith(f"Received: 'arn:<token>:kms:eu-west-1:{BACKUP}:<token>'")


# -- a replicator that copies only within its own account ----------------------------------------


def test_a_same_account_replicator_may_not_share_or_mark_its_copies() -> None:
    # It never shares: yet its copier could share (RDS has no condition key on the account, so
    # also publicly) and re-tag every RDS and Aurora copy it made.
    app = cdk.App()
    stack = _stack(app, "Source")
    SnapshotReplicator(
        stack,
        "Replicate",
        destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=CENTRAL_KEY)],
    )
    template = Template.from_stack(stack).to_json()
    for prefix in ("ReplicateCopierPolicy", "ReplicateSweeperPolicy"):
        statements = _statements(template, prefix)
        assert statements, prefix
        actions = {action for s in statements for action in _actions(s)}
        assert not actions & {
            "ec2:ModifySnapshotAttribute",
            "rds:ModifyDBSnapshotAttribute",
            "rds:ModifyDBClusterSnapshotAttribute",
        }, prefix
        assert not [s["Sid"] for s in statements if s["Sid"].startswith(("Share", "Mark"))], prefix


# -- key ARNs known only in part at synth ----------------------------------------------------------


def test_a_destination_key_of_a_stack_of_another_account_is_refused() -> None:
    # A key made in the App in a stack of another account: its ARN is a token, the account that
    # its stack names is the check (every copy under it would fail at run time).
    app = cdk.App()
    other = CustomerManagedKey(_stack(app, "Other", "eu-central-1", account=BACKUP), "CopyKey")
    source = _stack(app, "Source")
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(
            source,
            "Replicate",
            destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=other.key_arn)],
        )
    assert str(error.value) == (
        f"'destinations[0].kms_key_arn' must be a key of this stack's account {SOURCE}. "
        f"Received: 'Other/CopyKey/Key/Resource (account {BACKUP}, eu-central-1)'"
    )


def test_a_destination_key_given_as_an_l1_alias_ref_is_refused() -> None:
    # A CfnAlias's Ref is its alias name: accepted as a deploy-time value, it would have failed
    # every copy at run time.
    app = cdk.App()
    source = _stack(app, "Source")
    key = CustomerManagedKey(source, "CopyKey")
    alias = kms.CfnAlias(source, "CopyAlias", alias_name="alias/copies", target_key_id=key.key_id)
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(
            source,
            "Replicate",
            destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=alias.ref)],
        )
    assert str(error.value) == (
        "'destinations[0].kms_key_arn' must be a KMS key ARN (key.key_arn), not an alias. "
        "Received: 'Source/CopyAlias'"
    )


def test_a_destination_replica_key_of_another_region_is_refused() -> None:
    # A multi-Region key's replica made in the App: its stack's Region is checked as a key's.
    app = cdk.App()
    source = _stack(app, "Source", cross_region_references=True)
    primary = CustomerManagedKey(source, "Global", multi_region=True)
    virginia = ReplicaKey(
        _stack(app, "Virginia", "us-east-1", cross_region_references=True),
        "Replica",
        primary=primary,
    )
    frankfurt = ReplicaKey(
        _stack(app, "Frankfurt", "eu-central-1", cross_region_references=True),
        "Replica",
        primary=primary,
    )
    _refused_in_us_east_1_taken_in_eu_central_1(
        source, virginia.key_arn, frankfurt.key_arn, "Virginia/Replica/Resource"
    )


@pytest.mark.parametrize(
    ("region", "account", "message"),
    [
        ("us-east-1", SOURCE, "must be a key in the destination Region eu-central-1"),
        ("eu-central-1", BACKUP, f"must be a key of this stack's account {SOURCE}"),
    ],
    ids=["region", "account"],
)
def test_a_destination_key_arn_with_a_deploy_time_key_id_keeps_its_place_checked(
    region: str, account: str, message: str
) -> None:
    # An ARN built around a parameter (the key ID known only at deploy time) still names its
    # Region and account: those are checked as for a literal ARN.
    app = cdk.App()
    source = _stack(app, "Source")
    key_id = cdk.CfnParameter(source, "CopyKeyId").value_as_string
    arn = f"arn:{cdk.Aws.PARTITION}:kms:{region}:{account}:key/{key_id}"
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(
            source,
            "Replicate",
            destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=arn)],
        )
    assert str(error.value) == (
        f"'destinations[0].kms_key_arn' {message}. "
        f"Received: 'arn:<token>:kms:{region}:{account}:key/<token>'"
    )
    # The same ARN in the right Region and account is taken.
    right = f"arn:{cdk.Aws.PARTITION}:kms:eu-central-1:{SOURCE}:key/{key_id}"
    replicator = SnapshotReplicator(
        source,
        "Replicate2",
        destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=right)],
    )
    assert replicator.destinations[0].kms_key_arn == right


def test_environment_agnostic_stacks_take_a_literal_key_arn() -> None:
    # Where the stack's Region and account are known only at deploy time, a literal key ARN
    # cannot be compared with them: it is taken, and the copier may use that key.
    app = cdk.App()
    backup = cdk.Stack(app, "Backup")
    key_arn = f"arn:aws:kms:eu-west-1:{BACKUP}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    receiver = SnapshotReceiver(
        backup,
        "Receive",
        source_accounts=[SOURCE],
        kms_key=kms.Key.from_key_arn(backup, "BackupKey", key_arn),
    )
    source = cdk.Stack(app, "Source")
    replicator = SnapshotReplicator(
        source,
        "Replicate",
        destinations=[ReplicationDestination(region="eu-central-1", kms_key_arn=CENTRAL_KEY)],
    )
    for stack, construct, sid, arn in (
        (backup, receiver, "UseOwnKeys", key_arn),
        (source, replicator, "UseDestinationKeys", CENTRAL_KEY),
    ):
        template = dict(Template.from_stack(stack).to_json())
        prefix = construct.node.id  # the copier's and sweeper's policies are named after it
        (use,) = [s for s in _statements(template, prefix) if s["Sid"] == sid]
        resources = use["Resource"]
        assert arn in ([resources] if isinstance(resources, str) else resources), sid
