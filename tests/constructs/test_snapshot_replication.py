"""SnapshotReplicator and SnapshotReceiver: the synthesized showcase, the asset, bad props."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from constructs import Construct

from constructs_lib import (
    AlarmTopic,
    ConstructPropError,
    CustomerManagedKey,
    KeyPolicy,
    KmsRequestQuotaAlarm,
    ReplicaKey,
    ReplicationDestination,
    SnapshotReceiver,
    SnapshotReplicator,
)
from constructs_lib.snapshot_replication import EBS_PATTERN, RDS_PATTERN, _stage_asset
from tests._support.apps.snapshot_showcase import (
    BACKUP_ACCOUNT,
    BACKUP_KEY_CENTRAL,
    RECEIVER_COPY_TAGS,
    REPLICATOR_COPY_TAGS,
    SOURCE_ACCOUNT,
)
from tests._support.deploy_quotas import POLICY_QUOTAS, deployed, deployed_size
from tests._support.keys import custom_policy_key
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
APP = "snapshot_showcase"
MANAGED_POLICY_QUOTA = POLICY_QUOTAS["AWS::IAM::ManagedPolicy"][1]
KEY_CENTRAL = f"arn:aws:kms:eu-central-1:{SOURCE_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_WEST = f"arn:aws:kms:eu-west-1:{SOURCE_ACCOUNT}:key/abcd1234-12ab-34cd-56ef-1234567890ab"


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _backup_stack() -> cdk.Stack:
    return cdk.Stack(
        cdk.App(), "B", env=cdk.Environment(account=BACKUP_ACCOUNT, region="eu-west-1")
    )


def event_patterns(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The EventPattern of every rule of ``template`` that has one."""
    return [
        r["Properties"]["EventPattern"]
        for r in resources(template, "AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]
    ]


def statements(template: dict[str, Any], policy_prefix: str) -> list[dict[str, Any]]:
    """The statements of the role's managed policies (``CopierPolicy``, ``CopierPolicy2``...)."""
    policies = [
        v
        for k, v in resources(template, "AWS::IAM::ManagedPolicy").items()
        if k.startswith(policy_prefix)
    ]
    assert policies, policy_prefix
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def by_sid(template: dict[str, Any], policy_prefix: str, sid: str) -> dict[str, Any]:
    (statement,) = [s for s in statements(template, policy_prefix) if s.get("Sid") == sid]
    return statement


def test_rules_use_the_exact_documented_patterns(synthesized: Synth) -> None:
    for stack in ("Source", "Backup"):
        patterns = event_patterns(synthesized(APP).template(stack))
        assert EBS_PATTERN in patterns
        assert RDS_PATTERN in patterns
        assert EBS_PATTERN == {
            "source": ["aws.ec2"],
            # Multi-volume sets (CreateSnapshots, DLM instance policies) raise createSnapshots
            # under their own detail type: without it they wait for the sweep.
            "detail-type": [
                "EBS Snapshot Notification",
                "EBS Multi-Volume Snapshots Completion Status",
            ],
            "detail": {
                "event": ["createSnapshot", "createSnapshots", "copySnapshot", "shareSnapshot"],
                "result": ["succeeded", "failed"],
            },
        }


def test_events_go_to_an_encrypted_queue_with_a_dead_letter_queue(synthesized: Synth) -> None:
    template = synthesized(APP).assertions("Source")
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "KmsMasterKeyId": {"Fn::GetAtt": ["ReplicateKeyE9DE6358", "Arn"]},
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["ReplicateDeadLetterQueue1F677048", "Arn"]},
                "maxReceiveCount": 24,
            },
        },
    )
    for rule in resources(synthesized(APP).template("Source"), "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert target["DeadLetterConfig"] == {
            "Arn": {"Fn::GetAtt": ["ReplicateDeadLetterQueue1F677048", "Arn"]}
        }


def test_copier_reports_partial_batch_failures(synthesized: Synth) -> None:
    template = synthesized(APP).assertions("Source")
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Handler": "snapshot_replicator.handler.handler",
            "ReservedConcurrentExecutions": 2,
            "TracingConfig": {"Mode": "Active"},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "snapshot_replicator.sweep.handler", "ReservedConcurrentExecutions": 1},
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"KmsKeyId": {"Fn::GetAtt": ["ReplicateKeyE9DE6358", "Arn"]}, "RetentionInDays": 365},
    )


def test_copy_permissions_are_scoped(synthesized: Synth) -> None:
    template = synthesized(APP).template("Source")
    use = by_sid(template, "ReplicateCopierPolicy", "UseDestinationKeys")
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "ec2.eu-central-1.amazonaws.com",
        "ec2.eu-west-1.amazonaws.com",
        "rds.eu-central-1.amazonaws.com",
        "rds.eu-west-1.amazonaws.com",
    ]
    assert KEY_CENTRAL.split(":key/", maxsplit=1)[0] in json.dumps(use["Resource"])
    grant = by_sid(template, "ReplicateCopierPolicy", "GrantDestinationKeys")
    assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    copy = by_sid(template, "ReplicateCopierPolicy", "CopyEbs")
    # The copy itself may request only the tag keys its copies are tagged with on create.
    tag_keys = by_sid(template, "ReplicateCopierPolicy", "TagEbsCopiesOnCreate")["Condition"][
        "ForAllValues:StringEquals"
    ]
    assert "kmskit:replicator" in tag_keys["aws:TagKeys"]
    assert copy["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]},
        "ForAllValues:StringEquals": tag_keys,
    }
    copy_rds = by_sid(template, "ReplicateCopierPolicy", "CopyRdsSnapshots")
    assert copy_rds["Condition"]["ForAllValues:StringEquals"] == tag_keys
    delete = by_sid(template, "ReplicateSweeperPolicy", "DeleteOwnCopies")
    assert delete["Action"] == "ec2:DeleteSnapshot"
    assert delete["Condition"]["StringEquals"]["aws:ResourceTag/kmskit:replicator"]
    announce = by_sid(template, "ReplicateCopierPolicy", "AnnounceSharedSnapshots")
    assert announce["Resource"] == (
        f"arn:aws:events:eu-west-1:{BACKUP_ACCOUNT}:event-bus/kmskit-snapshot-receiver"
    )
    # No inline policies: the roles only carry the managed policies.
    assert resources(template, "AWS::IAM::Policy") == {}


def test_sharing_key_names_the_copier_through_ec2_and_rds_only(synthesized: Synth) -> None:
    template = synthesized(APP).template("Source")
    (key,) = [
        v for k, v in resources(template, "AWS::KMS::Key").items() if k.startswith("SharingKey")
    ]
    copier = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"AWS": {"Fn::GetAtt": ["ReplicateCopierRoleD7106B71", "Arn"]}}
    ]
    assert len(copier) == 2
    for statement in copier:
        assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [
            "ec2.eu-west-1.amazonaws.com",
            "rds.eu-west-1.amazonaws.com",
        ]
    policy = key["Properties"]["KeyPolicy"]["Statement"]
    # The backup account uses the shared copies, and lets EBS and RDS make grants for them,
    # only through those two services in this Region.
    external = {s["Sid"]: s for s in policy if BACKUP_ACCOUNT in json.dumps(s)}
    assert sorted(external) == [f"ExternalGrants{BACKUP_ACCOUNT}", f"ExternalUse{BACKUP_ACCOUNT}"]
    for statement in external.values():
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{BACKUP_ACCOUNT}:root"}
        assert statement["Condition"]["StringEquals"] == {
            "kms:ViaService": ["ec2.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"]
        }
    assert external[f"ExternalGrants{BACKUP_ACCOUNT}"]["Condition"]["Bool"] == {
        "kms:GrantIsForAWSResource": "true"
    }


def test_sweeper_cannot_copy_or_share(synthesized: Synth) -> None:
    actions = {
        action
        for s in statements(synthesized(APP).template("Source"), "ReplicateSweeperPolicy")
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if "Copy" in a or "Modify" in a or a.startswith("kms:Create")}


def _policy_actions(template: dict[str, Any], policy_prefix: str) -> dict[str, set[str]]:
    """Sid -> actions of every managed policy whose logical ID starts with ``policy_prefix``."""
    found: dict[str, set[str]] = {}
    for key, policy in resources(template, "AWS::IAM::ManagedPolicy").items():
        if key.startswith(policy_prefix):
            for s in policy["Properties"]["PolicyDocument"]["Statement"]:
                action = s["Action"]
                found[s["Sid"]] = {action} if isinstance(action, str) else set(action)
    return found


SHARE_ACTIONS = {
    "ec2:ModifySnapshotAttribute",
    "rds:ModifyDBSnapshotAttribute",
    "rds:ModifyDBClusterSnapshotAttribute",
}


def test_only_the_replicator_may_share_or_retag_its_copies(synthesized: Synth) -> None:
    result = synthesized(APP)
    source = _policy_actions(result.template("Source"), "ReplicateCopierPolicy")
    assert set().union(*source.values()) >= SHARE_ACTIONS
    receiver = _policy_actions(result.template("Backup"), "ReceiveCopierPolicy")
    assert receiver, "the receiver's copier policy was not found"
    assert not SHARE_ACTIONS & set().union(*receiver.values())
    # Tags only as copies are made (ec2:CreateAction / kmskit-* names), never on existing ones.
    tagging = {sid for sid, actions in receiver.items() if actions & {"ec2:CreateTags"}}
    assert tagging == {"TagEbsCopiesOnCreate"}
    rds_tagging = {sid for sid, actions in receiver.items() if "rds:AddTagsToResource" in actions}
    assert rds_tagging <= {"TagRdsCopiesOnCreate"}


def test_receiver_bus_accepts_only_source_accounts(synthesized: Synth) -> None:
    template = synthesized(APP).template("Backup")
    (policy,) = resources(template, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SOURCE_ACCOUNT}:root"}
    assert statement["Action"] == "events:PutEvents"
    (bus,) = resources(template, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == "kmskit-snapshot-receiver"
    rules = resources(template, "AWS::Events::Rule").values()
    shared = [r for r in rules if "kmskit.snapshots" in json.dumps(r["Properties"])]
    assert shared[0]["Properties"]["EventPattern"]["account"] == [SOURCE_ACCOUNT]


def test_only_the_rules_that_target_the_queues_may_send_to_them(synthesized: Synth) -> None:
    for stack in ("Source", "Backup"):
        template = synthesized(APP).template(stack)
        rules = resources(template, "AWS::Events::Rule")
        # The sweep schedule targets the sweeper, with the dead-letter queue as its DLQ.
        queue_rules = sorted(k for k, r in rules.items() if "EventPattern" in r["Properties"])
        assert len(queue_rules) >= 3, stack
        policies = resources(template, "AWS::SQS::QueuePolicy").values()
        for queue_id in resources(template, "AWS::SQS::Queue"):
            from_events = [
                s
                for policy in policies
                if policy["Properties"]["Queues"] == [{"Ref": queue_id}]
                for s in policy["Properties"]["PolicyDocument"]["Statement"]
                if s.get("Principal") == {"Service": "events.amazonaws.com"}
            ]
            sources = []
            for statement in from_events:
                assert statement["Action"] == "sqs:SendMessage"
                assert statement["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
                arns = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
                sources.append(sorted(a["Fn::GetAtt"][0] for a in _as_list(arns)))
            assert queue_rules in sources, (stack, queue_id)
            assert all(set(s) <= set(rules) for s in sources), (stack, queue_id)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_rds_and_aurora_rules_use_the_documented_event_ids(synthesized: Synth) -> None:
    # Created (manual 0042, automated 0091), cross-Region (0060) and local (0197) copy finished;
    # Aurora: manual (0075) and automated (0169) cluster snapshot created.
    for stack in ("Source", "Backup"):
        patterns = [
            p
            for p in event_patterns(synthesized(APP).template(stack))
            if p.get("source") == ["aws.rds"]
        ]
        assert sorted(patterns, key=json.dumps) == [
            {
                "source": ["aws.rds"],
                "detail-type": ["RDS DB Snapshot Event"],
                "detail": {
                    "EventID": [
                        "RDS-EVENT-0042",
                        "RDS-EVENT-0091",
                        "RDS-EVENT-0060",
                        "RDS-EVENT-0197",
                    ]
                },
            },
            {
                "source": ["aws.rds"],
                "detail-type": ["RDS DB Cluster Snapshot Event"],
                "detail": {"EventID": ["RDS-EVENT-0075", "RDS-EVENT-0169"]},
            },
        ], stack


def test_queue_visibility_timeout_is_six_times_the_copier_timeout(synthesized: Synth) -> None:
    # Lambda's SQS guide: at least six times the function timeout, so a throttled batch is retried
    # before the message becomes visible again.
    for stack in ("Source", "Backup"):
        template = synthesized(APP).template(stack)
        (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
        function = template["Resources"][mapping["Properties"]["FunctionName"]["Ref"]]
        queue = template["Resources"][mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]
        timeout = function["Properties"]["Timeout"]
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout, stack


def test_both_queues_are_encrypted_with_the_constructs_key(synthesized: Synth) -> None:
    for stack, key_prefix in (("Source", "ReplicateKey"), ("Backup", "ReceiveKey")):
        template = synthesized(APP).template(stack)
        (key,) = [k for k in resources(template, "AWS::KMS::Key") if k.startswith(key_prefix)]
        queues = resources(template, "AWS::SQS::Queue")
        assert len(queues) == 2, stack
        for queue in queues.values():
            assert queue["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}, stack


CENTRAL_SOURCE_KEY = "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_source_keys_of_another_account_are_used_as_the_own_accounts_are() -> None:
    # Sources under a key of another account (a central key account's) always failed: the
    # copier could use only its own account's keys, and nothing said so.
    stack = source_stack()
    SnapshotReplicator(
        stack, "Replicate", destinations=[GOOD], source_key_arns=[CENTRAL_SOURCE_KEY]
    )
    template = dict(Template.from_stack(stack).to_json())
    # This account's keys (the partition is a deploy-time value in this stack), then the other's.
    own = f":kms:eu-west-1:{SOURCE_ACCOUNT}:key/*"
    via = {"kms:ViaService": ["ec2.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"]}
    use = by_sid(template, "ReplicateCopierPolicy", "UseSourceKeys")
    assert own in json.dumps(use["Resource"][0])
    assert use["Resource"][1:] == [CENTRAL_SOURCE_KEY]
    assert use["Condition"] == {"StringEquals": via}
    grant = by_sid(template, "ReplicateCopierPolicy", "GrantSourceKeys")
    assert grant["Resource"] == use["Resource"]
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {
        "StringEquals": via,
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }


def test_key_use_goes_through_the_named_services_only(synthesized: Synth) -> None:
    template = synthesized(APP).template("Source")
    queue_key = by_sid(template, "ReplicateCopierPolicy", "QueueKey")
    assert queue_key["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert queue_key["Condition"] == {
        "StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}
    }
    source_keys = f"arn:aws:kms:eu-west-1:{SOURCE_ACCOUNT}:key/*"
    in_source_region = {
        "kms:ViaService": ["ec2.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"]
    }
    use = by_sid(template, "ReplicateCopierPolicy", "UseSourceKeys")
    assert use["Resource"] == source_keys
    assert use["Condition"] == {"StringEquals": in_source_region}
    # What EC2 and RDS call on the copier's behalf to copy an encrypted snapshot: no more
    # (kms:CreateGrant has its own statement, kms:Encrypt is never needed).
    snapshot_key_use = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ]
    assert use["Action"] == snapshot_key_use
    assert by_sid(template, "ReplicateCopierPolicy", "UseDestinationKeys")["Action"] == (
        snapshot_key_use
    )
    for sid in ("GrantSourceKeys", "GrantDestinationKeys"):
        grant = by_sid(template, "ReplicateCopierPolicy", sid)
        assert grant["Action"] == "kms:CreateGrant"
        assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}, sid
        assert grant["Condition"]["StringEquals"]["kms:ViaService"], sid
    assert by_sid(template, "ReplicateCopierPolicy", "GrantSourceKeys")["Condition"] == {
        "StringEquals": in_source_region,
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }


def test_sharing_key_lets_the_copier_create_grants_for_aws_resources_only(
    synthesized: Synth,
) -> None:
    template = synthesized(APP).template("Source")
    (key,) = [
        v for k, v in resources(template, "AWS::KMS::Key").items() if k.startswith("SharingKey")
    ]
    copier = {"AWS": {"Fn::GetAtt": ["ReplicateCopierRoleD7106B71", "Arn"]}}
    grants = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == copier and "kms:CreateGrant" in _as_list(s["Action"])
    ]
    assert grants == [
        {
            "Action": "kms:CreateGrant",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": ["ec2.eu-west-1.amazonaws.com", "rds.eu-west-1.amazonaws.com"]
                },
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
            "Effect": "Allow",
            "Principal": copier,
            "Resource": "*",
            "Sid": grants[0]["Sid"],
        }
    ]


def test_replicator_bus_accepts_receipts_from_destination_accounts_only(
    synthesized: Synth,
) -> None:
    template = synthesized(APP).template("Source")
    (policy,) = resources(template, "AWS::Events::EventBusPolicy").values()
    statement = policy["Properties"]["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{BACKUP_ACCOUNT}:root"}
    assert statement["Action"] == "events:PutEvents"
    (bus,) = resources(template, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == "kmskit-snapshot-replicator"
    (received,) = [
        r
        for r in resources(template, "AWS::Events::Rule").values()
        if "kmskit.snapshots" in json.dumps(r["Properties"])
    ]
    assert received["Properties"]["EventPattern"] == {
        "source": ["kmskit.snapshots"],
        "detail-type": ["kmskit Snapshot Received"],
        "account": [BACKUP_ACCOUNT],
    }


def test_tags_go_only_on_new_copies_or_on_this_constructs_own(synthesized: Synth) -> None:
    # Untagged snapshots may only be tagged as CopySnapshot creates them: a copier that could
    # tag any snapshot kmskit:replicator=<its id> could then delete it.
    regions = ["eu-central-1", "eu-west-1"]
    toolkit = [
        "kmskit:copy-key",
        "kmskit:managed-by",
        "kmskit:replicator",
        "kmskit:role",
        "kmskit:source-account",
        "kmskit:source-id",
        "kmskit:source-kind",
        "kmskit:source-region",
        "kmskit:source-time",
    ]
    for stack, prefix, replicator_id, own_keys in (
        (
            "Source",
            "Replicate",
            "SourceReplicate73F8E356",
            ["kmskit:destination-account", *REPLICATOR_COPY_TAGS],
        ),
        (
            "Backup",
            "Receive",
            "BackupReceive97D2AE2B",
            ["kmskit:staging-arn", "kmskit:reply-region", *RECEIVER_COPY_TAGS],
        ),
    ):
        creation_keys = sorted([*toolkit, *own_keys])
        template = synthesized(APP).template(stack)
        on_create = by_sid(template, f"{prefix}CopierPolicy", "TagEbsCopiesOnCreate")
        # ... and only with its own replicator value: a copy tagged with another replicator's
        # would be that one's to share, mark and delete.
        # ... with the keys its copies are made with only: the toolkit's, those of its kind of
        # copy (staging for another account, received) and its copy_tags.
        keys = {"ForAllValues:StringEquals": {"aws:TagKeys": creation_keys}}
        assert on_create["Condition"] == {
            "StringEquals": {
                "ec2:CreateAction": "CopySnapshot",
                "aws:RequestedRegion": regions,
                "aws:RequestTag/kmskit:replicator": replicator_id,
            },
            **keys,
        }, stack
        # RDS has no ec2:CreateAction: its copies are tagged as AddTagsToResource on a snapshot
        # with no kmskit:replicator tag yet, and with this replicator's own value only.
        rds_on_create = by_sid(template, f"{prefix}CopierPolicy", "TagRdsCopiesOnCreate")
        assert rds_on_create["Condition"] == {
            "StringEquals": {
                "aws:RequestedRegion": regions,
                "aws:RequestTag/kmskit:replicator": replicator_id,
            },
            **keys,
            "Null": {"aws:ResourceTag/kmskit:replicator": "true"},
        }, stack
        ours = {
            "StringEquals": {
                "aws:ResourceTag/kmskit:replicator": replicator_id,
                "aws:RequestedRegion": regions,
            }
        }
        expected = {"DeleteOwnCopies": ours, "DeleteOwnRdsCopies": ours}
        if stack == "Source":
            # Marking a delivered staging copy: kmskit:delivered (required) and copy_tags only.
            mark = {
                **ours,
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": sorted(["kmskit:delivered", *REPLICATOR_COPY_TAGS])
                },
                "Null": {"aws:RequestTag/kmskit:delivered": "false"},
            }
            expected |= {
                "ShareOwnEbsCopies": {
                    **ours,
                    "ForAllValues:StringEquals": {"ec2:Add/userId": [BACKUP_ACCOUNT]},
                    "Null": {"ec2:Add/group": "true"},
                },
                "ShareOwnRdsCopies": ours,
                "MarkOwnEbsCopiesDelivered": mark,
                "MarkOwnRdsCopiesDelivered": mark,
            }
        for sid, condition in expected.items():
            assert by_sid(template, f"{prefix}CopierPolicy", sid)["Condition"] == condition, sid
        for sid in ("DeleteOwnCopies", "DeleteOwnRdsCopies"):
            assert by_sid(template, f"{prefix}SweeperPolicy", sid)["Condition"] == ours, sid


def test_every_alarm_notifies_the_alarm_topic(synthesized: Synth) -> None:
    for stack in ("Source", "Backup"):
        alarms = resources(synthesized(APP).template(stack), "AWS::CloudWatch::Alarm")
        names = {a["Properties"].get("MetricName") for a in alarms.values()}
        assert names == {
            "ApproximateNumberOfMessagesVisible",
            "CopyFailed",
            "ApproximateAgeOfOldestMessage",
            "WaitingForCopySlot",
        }
        for alarm in alarms.values():
            assert len(alarm["Properties"]["AlarmActions"]) == 1


@pytest.mark.parametrize(
    ("max_message_age", "hours"),
    [
        (None, 6),  # the default, 6 hours
        (cdk.Duration.minutes(5), 1),  # at least one hourly period
        (cdk.Duration.minutes(90), 2),  # rounded up to whole hours
        (cdk.Duration.days(14), 168),  # CloudWatch evaluates hourly periods over 7 days at most
    ],
)
def test_copies_waiting_for_a_copy_slot_alarm_after_max_message_age(
    max_message_age: cdk.Duration | None, hours: int
) -> None:
    # A wait for a copy slot is queued again as a new message every 15 minutes, so the oldest
    # message is never older than that: OldestMessageAlarm never saw copies that wait on a limit.
    stack = source_stack()
    kwargs: dict[str, Any] = {"max_message_age": max_message_age} if max_message_age else {}
    replicator = SnapshotReplicator(stack, "Replicate", destinations=[GOOD], **kwargs)
    assert replicator.waiting_for_copy_slot_alarm in replicator.alarms
    template = Template.from_stack(stack)
    (alarm,) = [
        a["Properties"]
        for a in resources(template.to_json(), "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "WaitingForCopySlot"
    ]
    assert {k: alarm[k] for k in ("Namespace", "Period", "Statistic", "Threshold")} == {
        "Namespace": "kmskit/Snapshots",
        "Period": 3600,
        "Statistic": "Sum",
        "Threshold": 1,
    }
    assert alarm["EvaluationPeriods"] == hours
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["Dimensions"] == [{"Name": "Replicator", "Value": replicator.replicator_id}]
    assert len(alarm["AlarmActions"]) == 1  # the alarm topic, as every other alarm
    oldest = next(
        a["Properties"]
        for a in resources(template.to_json(), "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
    )
    assert "WaitingForCopySlotAlarm watches those" in oldest["AlarmDescription"]


def test_asset_holds_the_handler_and_the_engine_and_imports_on_its_own() -> None:
    root = Path(_stage_asset())
    assert _stage_asset() == str(root)  # same content, same folder, same asset hash
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.py"))
    assert "snapshot_replicator/handler.py" in files
    assert "kmskit/snapshots/engine.py" in files
    assert "kmskit/clients.py" in files
    assert not [f for f in files if f.startswith(("kmskit/commands", "lambda_src"))]
    probe = (
        "import sys, snapshot_replicator.handler, snapshot_replicator.sweep\n"
        "mods = [m for m in sys.modules.values() if getattr(m, '__file__', None)]\n"
        "ours = [m.__file__ for m in mods if m.__name__.split('.')[0] in "
        "('kmskit', 'snapshot_replicator', 'lambda_src', 'aws_cdk')]\n"
        f"assert all(f.startswith({str(root)!r}) for f in ours), ours\n"
        "print(len(ours))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 8


def test_the_asset_imports_only_botocore_names_the_runtimes_botocore_has() -> None:
    """The asset runs on the Lambda runtime's botocore: a name it imports that that botocore
    lacks fails every cold start (Runtime.ImportModuleError) before the SDK check can run.
    tests/lambdas/fixtures/sdk_floor.json lists the names of botocore 1.40.40, older than any
    the python3.14 runtime bundles (kmskit.errors' TokenRetrievalError, the newest import, came in
    botocore 1.27.60)."""
    floor = Path(__file__).parent.parent / "lambdas" / "fixtures" / "sdk_floor.json"
    names: dict[str, list[str]] = json.loads(floor.read_text())["modules"]
    imported: set[tuple[str, str]] = set()
    for path in Path(_stage_asset()).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botocore"):
                imported |= {(str(node.module), alias.name) for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {(a.name, "") for a in node.names if a.name.startswith("botocore.")}
            elif isinstance(node, ast.Attribute) and ast.unparse(node.value) in names:
                # botocore.exceptions.X after `import botocore.exceptions`, read as it runs (a
                # submodule, botocore.exceptions itself, is checked as a module)
                module = ast.unparse(node.value)
                if not inspect.ismodule(getattr(importlib.import_module(module), node.attr, None)):
                    imported.add((module, node.attr))
    assert ("botocore.exceptions", "TokenRetrievalError") in imported
    unknown = sorted(f"{m} {n}" for m, n in imported if m not in names or (n and n not in names[m]))
    assert not unknown, f"not in botocore 1.40.40 (or not in sdk_floor.py's MODULES): {unknown}"


def test_both_stacks_share_one_asset(synthesized: Synth) -> None:
    keys = {
        f["Properties"]["Code"]["S3Key"]
        for stack in ("Source", "Backup")
        for f in resources(synthesized(APP).template(stack), "AWS::Lambda::Function").values()
    }
    assert len(keys) == 1


# ---------------------------------------------------------------------- bad props
def source_stack() -> cdk.Stack:
    return cdk.Stack(
        cdk.App(), "S", env=cdk.Environment(account=SOURCE_ACCOUNT, region="eu-west-1")
    )


GOOD = ReplicationDestination(region="eu-central-1", kms_key_arn=KEY_CENTRAL)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"destinations": [ReplicationDestination(region="eu-central-1")]},
            "'destinations[0].kms_key_arn' must be given (the key copies are encrypted with). "
            "Received: None",
        ),
        (
            {"destinations": [ReplicationDestination(region="moon-1", kms_key_arn=KEY_CENTRAL)]},
            "'destinations[0].region' must be an AWS Region name such as 'eu-west-1'. "
            "Received: 'moon-1'",
        ),
        (
            {
                "destinations": [
                    ReplicationDestination(region="eu-west-1", account="3333", kms_key_arn=KEY_WEST)
                ]
            },
            "'destinations[0].account' must be a 12-digit AWS account ID. Received: '3333'",
        ),
        (
            {"destinations": [ReplicationDestination(region="us-east-1", kms_key_arn=KEY_CENTRAL)]},
            "'destinations[0].kms_key_arn' must be a key in the destination Region us-east-1. "
            f"Received: '{KEY_CENTRAL}'",
        ),
        (
            {
                "destinations": [
                    ReplicationDestination(region="eu-central-1", kms_key_arn="alias/backup")
                ]
            },
            "'destinations[0].kms_key_arn' must be a KMS key ARN",
        ),
        # A trailing newline (a value read from a file) passed "$"; EC2 and RDS refuse it.
        (
            {
                "destinations": [
                    ReplicationDestination(region="eu-central-1", kms_key_arn=f"{KEY_CENTRAL}\n")
                ]
            },
            "'destinations[0].kms_key_arn' must be a KMS key ARN",
        ),
        (
            {
                "destinations": [
                    ReplicationDestination(
                        region="eu-central-1",
                        kms_key_arn=KEY_CENTRAL.replace(SOURCE_ACCOUNT, "444444444444"),
                    )
                ]
            },
            "'destinations[0].kms_key_arn' must be a key of this stack's account 111111111111",
        ),
        (
            {
                "destinations": [
                    ReplicationDestination(
                        region="eu-central-1",
                        kms_key_arn=KEY_CENTRAL.replace("arn:aws:", "arn:aws-us-gov:"),
                    )
                ]
            },
            # eu-central-1 is in aws: that ARN names no key that can exist.
            "'destinations[0].kms_key_arn' must be a key ARN of the partition of its Region "
            "(eu-central-1 is in aws): no such key can exist",
        ),
        (
            {
                "destinations": [
                    ReplicationDestination(
                        region="cn-north-1",
                        kms_key_arn=KEY_CENTRAL.replace("eu-central-1", "cn-north-1"),
                    )
                ]
            },
            "'destinations[0].region' must be in this stack's partition aws (Region eu-west-1): "
            "snapshots are not copied across partitions. Received: 'cn-north-1'",
        ),
        (
            {"destinations": [ReplicationDestination(region="eu-west-1", kms_key_arn=KEY_WEST)]},
            "'destinations[0].region' must differ from this stack's Region eu-west-1 for a "
            "same-account copy. Received: 'eu-west-1'",
        ),
        (
            {
                "destinations": [
                    ReplicationDestination(
                        region="eu-west-1", account=SOURCE_ACCOUNT, kms_key_arn=KEY_WEST
                    )
                ]
            },
            "'destinations[0].account' must be another account (leave it out for this stack's "
            "account). Received: '111111111111'",
        ),
        (
            {"destinations": [GOOD, GOOD]},
            "'destinations' must not repeat a value. Received: ('eu-central-1', None)",
        ),
        ({"destinations": []}, "'destinations' must name at least one. Received: []"),
        (
            {"resource_types": ["EBS", "S3"]},
            "'resource_types' must hold only 'EBS', 'RDS' and 'AURORA'. Received: 'S3'",
        ),
        ({"resource_types": []}, "'resource_types' must be a non-empty list"),
        ({"resource_types": ["EBS", "EBS"]}, "'resource_types' must not repeat a value"),
        (
            {"selection_tag": ("aws:backup", "yes")},
            "'selection_tag' must have a tag key of 1-128 letters",
        ),
        (
            {"selection_tag": ("backup\n", "yes")},
            "'selection_tag' must have a tag key of 1-128 letters",
        ),
        (
            {"selection_tag": ("backup", "yes\n")},
            "'selection_tag' must have a value of at most 256 letters, digits, spaces or _.:/=+-@",
        ),
        ({"selection_tag": ("backup",)}, "'selection_tag' must be a (key, value) pair of strings"),
        (
            {"retention": cdk.Duration.days(1)},
            "'retention' must be 2-3650 days. Received: 1",
        ),
        (
            {"retention": cdk.Duration.days(5000)},
            "'retention' must be 2-3650 days. Received: 5000",
        ),
        (
            {"retention": cdk.Duration.days(3), "sweep_window": cdk.Duration.days(3)},
            "'retention' must be longer than sweep_window (3 days)",
        ),
        ({"retention": cdk.Duration.hours(36)}, "'retention' must be a whole number of days"),
        (
            {"source_key_arns": CENTRAL_SOURCE_KEY},
            "'source_key_arns' must be a list or tuple of KMS key ARNs. Received: "
            f"{CENTRAL_SOURCE_KEY!r}",
        ),
        (
            {"source_key_arns": ["arn:aws:kms:eu-west-1:444455556666:alias/central"]},
            "'source_key_arns[0]' must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not "
            "an alias). Received: 'arn:aws:kms:eu-west-1:444455556666:alias/central'",
        ),
        (
            {"source_key_arns": [CENTRAL_SOURCE_KEY.replace("eu-west-1", "eu-central-1")]},
            "'source_key_arns[0]' must be a key in this stack's Region eu-west-1. Received: "
            "'arn:aws:kms:eu-central-1:444455556666:key/",
        ),
        (
            # A China Regions key in an aws stack: no copy could ever use it.
            {
                "source_key_arns": [
                    CENTRAL_SOURCE_KEY,
                    CENTRAL_SOURCE_KEY.replace("arn:aws:", "arn:aws-cn:").replace(
                        "eu-west-1", "cn-north-1"
                    ),
                ]
            },
            "'source_key_arns[1]' must be a key ARN of this stack's partition aws (a key of "
            "another partition cannot be used from here). Received: 'arn:aws-cn:kms:cn-north-1:",
        ),
        (
            # An aws-cn ARN naming an aws Region: no such key exists, in any stack.
            {"source_key_arns": [CENTRAL_SOURCE_KEY.replace("arn:aws:", "arn:aws-cn:")]},
            "'source_key_arns[0]' must be a key ARN of the partition of its Region (eu-west-1 is "
            "in aws): no such key can exist. Received: 'arn:aws-cn:kms:eu-west-1:",
        ),
        (
            {"source_key_arns": [CENTRAL_SOURCE_KEY, CENTRAL_SOURCE_KEY]},
            "'source_key_arns' must not repeat a value",
        ),
        ({"max_receive_count": 1}, "'max_receive_count' must be 5-100 receives. Received: 1"),
        (
            {"sweep_interval": cdk.Duration.minutes(1)},
            "'sweep_interval' must be 5-1440 minutes. Received: 1",
        ),
        # A number where a Duration belongs was an AttributeError; a part minute a jsii error.
        (
            {"sweep_interval": 60},
            "'sweep_interval' must be a Duration such as Duration.hours(1). Received: 60",
        ),
        (
            {"sweep_interval": cdk.Duration.seconds(330)},
            "'sweep_interval' must be a whole number of minutes. Received: '5 minutes 30 seconds'",
        ),
        (
            {"max_message_age": 3600},
            "'max_message_age' must be a Duration such as Duration.hours(1). Received: 3600",
        ),
        (
            {"max_message_age": cdk.Duration.millis(600_500)},
            "'max_message_age' must be a whole number of seconds. Received: '10 minutes 500 millis",
        ),
    ],
)
def test_bad_replicator_props_name_the_prop_and_value(props: dict[str, Any], message: str) -> None:
    kwargs: dict[str, Any] = {"destinations": [GOOD], **props}
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(source_stack(), "Replicate", **kwargs)
    assert message in str(error.value)


def backup_key(stack: cdk.Stack) -> kms.IKey:
    return CustomerManagedKey(stack, "BackupKey").key


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"source_accounts": []}, "'source_accounts' must be a non-empty list of account IDs"),
        (
            {"source_accounts": ["12345"]},
            "'source_accounts' must be a 12-digit AWS account ID. Received: '12345'",
        ),
        (
            {"source_accounts": [SOURCE_ACCOUNT, SOURCE_ACCOUNT]},
            "'source_accounts' must not repeat a value",
        ),
        (
            {"source_accounts": [BACKUP_ACCOUNT]},
            "'source_accounts' must not include this stack's own account",
        ),
        (
            {
                "destinations": [
                    ReplicationDestination(
                        region="eu-central-1",
                        account=SOURCE_ACCOUNT,
                        kms_key_arn=KEY_CENTRAL.replace(SOURCE_ACCOUNT, BACKUP_ACCOUNT),
                    )
                ]
            },
            "'destinations[0].account' must be left out",
        ),
        # A source reaches the receiver up to a week (the replicator's sweep window) plus
        # copy-slot waits and copy time after it was taken: a shorter retention deletes the
        # received copy at the first sweep after it is made, leaving no copy. One range,
        # 14-3650, whatever the value below it (0 said 1-3650, 13 at least 14).
        *[
            (
                {"retention": cdk.Duration.days(days)},
                "'retention' must be 14-3650 days: a source reaches the receiver up to the "
                "replicator's sweep_window (at most 7 days) plus copy-slot waits (up to 2 days "
                "on each side), retries of throttled steps (about 18 hours on each side with the "
                "default max_receive_count of 24, up to about 4 days with 100: choose a longer "
                "retention then) and copy time after it was taken, and a received copy older "
                "than the retention is deleted at the receiver's next sweep, leaving no copy. "
                f"Received: {days}",
            )
            for days in (0, 13)
        ],
        ({"retention": cdk.Duration.days(3651)}, "'retention' must be 14-3650 days: a source"),
        # One destination, not in a list: was a TypeError (a string was read one character at
        # a time: "'destinations[0]' ... Received: 'e'").
        (
            {"destinations": ReplicationDestination(region="eu-central-1")},
            "'destinations' must be a list of ReplicationDestination. "
            "Received: ReplicationDestination(region='eu-central-1'",
        ),
        (
            {"destinations": "eu-central-1"},
            "'destinations' must be a list of ReplicationDestination. Received: 'eu-central-1'",
        ),
        (
            {"sweep_interval": 60},
            "'sweep_interval' must be a Duration such as Duration.hours(1). Received: 60",
        ),
    ],
)
def test_bad_receiver_props_name_the_prop_and_value(props: dict[str, Any], message: str) -> None:
    stack = _backup_stack()
    kwargs: dict[str, Any] = {
        "source_accounts": [SOURCE_ACCOUNT],
        "kms_key": backup_key(stack),
        **props,
    }
    with pytest.raises(ConstructPropError) as error:
        SnapshotReceiver(stack, "Receive", **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("make_key", "message"),
    [
        (
            lambda stack: kms.Key.from_key_arn(
                stack, "Other", KEY_CENTRAL.replace(SOURCE_ACCOUNT, BACKUP_ACCOUNT)
            ),
            "'kms_key' must be a key in the receiver's Region eu-west-1. Received: "
            f"'{KEY_CENTRAL.replace(SOURCE_ACCOUNT, BACKUP_ACCOUNT)}'",
        ),
        (
            lambda stack: kms.Key.from_key_arn(
                stack, "Alias", f"arn:aws:kms:eu-west-1:{BACKUP_ACCOUNT}:alias/backup"
            ),
            "'kms_key' must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias). "
            f"Received: 'arn:aws:kms:eu-west-1:{BACKUP_ACCOUNT}:alias/backup'",
        ),
        (
            lambda stack: kms.Key.from_key_arn(stack, "Foreign", KEY_WEST),
            f"'kms_key' must be a key of this stack's account {BACKUP_ACCOUNT}. "
            f"Received: '{KEY_WEST}'",
        ),
        (
            lambda stack: (
                CustomerManagedKey(
                    cdk.Stack(
                        stack.node.root,
                        "Frankfurt",
                        env=cdk.Environment(account=BACKUP_ACCOUNT, region="eu-central-1"),
                    ),
                    "BackupKey",
                ).key
            ),
            "'kms_key' must be a key in this stack's Region eu-west-1. "
            "Received: 'Frankfurt/BackupKey/Key in eu-central-1'",
        ),
    ],
)
def test_receiver_key_must_be_a_key_of_its_own_region_and_account(
    make_key: Callable[[cdk.Stack], kms.IKey], message: str
) -> None:
    # Every received copy is made in the receiver's Region under this key; IAM cannot grant a
    # key's use through its alias ARN.
    stack = _backup_stack()
    with pytest.raises(ConstructPropError) as error:
        SnapshotReceiver(
            stack, "Receive", source_accounts=[SOURCE_ACCOUNT], kms_key=make_key(stack)
        )
    assert str(error.value) == message


def _key_in(region: str, stack: cdk.Stack, **props: Any) -> CustomerManagedKey:
    other = cdk.Stack(
        stack.node.root, region, env=cdk.Environment(account=SOURCE_ACCOUNT, region=region)
    )
    return CustomerManagedKey(other, "Key", **props)


def test_queues_and_topic_take_a_key_of_their_own_region_only() -> None:
    # SQS and SNS encrypt with a key of their own Region: the template named the us-east-1 key.
    stack = source_stack()
    key = _key_in("us-east-1", stack)
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(stack, "Replicate", destinations=[GOOD], encryption_key=key)
    assert str(error.value) == (
        "'encryption_key' must be a key in the Region of its SQS queues (eu-west-1): SNS and "
        "SQS encrypt only with a key of their own Region (use a ReplicaKey of a multi-Region "
        "key there). Received: 'us-east-1/Key in us-east-1'"
    )
    with pytest.raises(ConstructPropError) as error:
        AlarmTopic(stack, "Alarms", encryption_key=key)
    assert str(error.value).startswith(
        "'encryption_key' must be a key in the Region of its SNS topic (eu-west-1)"
    )


def test_a_deploy_time_sweep_interval_is_refused() -> None:
    stack = source_stack()
    interval = cdk.Duration.minutes(cdk.Token.as_number(cdk.Fn.import_value("Minutes")))
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(stack, "Replicate", destinations=[GOOD], sweep_interval=interval)
    assert str(error.value).startswith(
        "'sweep_interval' must be a literal duration (not a deploy-time value). Received: "
        "'Duration.minutes(${Token["
    )


def test_alarms_publish_to_a_topic_of_their_own_region_only() -> None:
    # CloudWatch alarm actions cannot target a topic in another Region.
    stack = source_stack()
    other = _key_in("us-east-1", stack)
    topic = AlarmTopic(Stack.of(other), "Alarms", encryption_key=other)
    expected = (
        "'alarm_topic' must be an AlarmTopic in the Region of its alarms (eu-west-1): CloudWatch "
        "alarm actions publish only to a topic of their own Region. "
        "Received: 'us-east-1/Alarms in us-east-1'"
    )
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(stack, "Replicate", destinations=[GOOD], alarm_topic=topic)
    assert str(error.value) == expected
    with pytest.raises(ConstructPropError) as error:
        KmsRequestQuotaAlarm(stack, "Quota", alarm_topic=topic)
    assert str(error.value) == expected


def test_replicator_key_must_encrypt() -> None:
    # An HMAC key failed inside jsii, naming a prop the user never passed.
    stack = source_stack()
    hmac = CustomerManagedKey(stack, "Mac", key_spec="HMAC_256", key_usage="GENERATE_VERIFY_MAC")
    with pytest.raises(ConstructPropError) as error:
        SnapshotReplicator(stack, "Replicate", destinations=[GOOD], encryption_key=hmac)
    assert str(error.value) == (
        "'encryption_key' must be a symmetric encryption key (SQS and SNS encrypt with "
        "SYMMETRIC_DEFAULT keys only). Received: 'HMAC_256'"
    )


def test_receiver_source_accounts_are_literal() -> None:
    # A token failed at synth with jsii's raw KeyMustResolveToString.
    stack = _backup_stack()
    with pytest.raises(ConstructPropError) as error:
        SnapshotReceiver(
            stack,
            "Receive",
            source_accounts=[cdk.Fn.import_value("SourceAccount")],
            kms_key=kms.Key(stack, "K"),
        )
    assert str(error.value).startswith(
        "'source_accounts' must be literal account IDs, not deploy-time values. Received: '${Token["
    )


def test_receiver_wants_the_key_itself_not_the_wrapper() -> None:
    stack = _backup_stack()
    with pytest.raises(ConstructPropError, match=r"'kms_key' must be an aws_kms\.IKey"):
        SnapshotReceiver(
            stack,
            "Receive",
            source_accounts=[SOURCE_ACCOUNT],
            kms_key=CustomerManagedKey(stack, "K"),  # type: ignore[arg-type]
        )


def test_constructs_expose_what_they_create() -> None:
    replicator = SnapshotReplicator(source_stack(), "Replicate", destinations=[GOOD])
    for name in (
        "queue",
        "dead_letter_queue",
        "copier",
        "sweeper",
        "copier_role",
        "sweeper_role",
        "ebs_rule",
        "rds_rule",
        "aurora_rule",
        "schedule",
        "dead_letter_alarm",
        "copy_failed_alarm",
        "oldest_message_alarm",
        "waiting_for_copy_slot_alarm",
        "encryption_key",
        "alarm_topic",
    ):
        assert getattr(replicator, name) is not None, name
    assert replicator.event_bus is None  # no cross-account destination
    assert len(replicator.rules) == 3
    assert len(replicator.alarms) == 4


def test_a_receiver_of_many_accounts_splits_its_copier_policy_within_iam_quota() -> None:
    # Each source account adds its staging-copy ARNs, key ARNs and event bus to the copier's
    # statements: 80 accounts need about 24,000 characters, four times one policy's quota.
    stack = _backup_stack()
    sources = [f"2{index:011d}" for index in range(80)]
    receiver = SnapshotReceiver(
        stack, "Receive", source_accounts=sources, kms_key=backup_key(stack)
    )
    template = dict(Template.from_stack(stack).to_json())
    policies = {
        logical_id: policy
        for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy").items()
        if logical_id.startswith("ReceiveCopierPolicy")
    }
    assert len(policies) == len(receiver.copier_policies) > 1
    assert receiver.copier_policy is receiver.copier_policies[0]
    role = stack.resolve(receiver.copier_role.role_name)
    sids: list[str] = []
    copy_rds_resources: list[str] = []
    for policy in policies.values():
        assert policy["Properties"]["Roles"] == [role]
        assert deployed_size(policy["Properties"]["PolicyDocument"]) <= MANAGED_POLICY_QUOTA
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            sids.append(statement["Sid"])
            if statement["Sid"].startswith("CopyRdsSnapshots"):
                copy_rds_resources += _as_list(deployed(statement["Resource"]))
    assert len(sids) == len(set(sids))  # cut statements get numbered Sids
    for account in sources:  # every source account's staging copies are still copyable
        assert f"arn:aws:rds:eu-west-1:{account}:snapshot:kmskit-s-*" in copy_rds_resources
    (copier,) = [
        f
        for k, f in resources(template, "AWS::Lambda::Function").items()
        if k.startswith("ReceiveCopier")
    ]
    assert sorted(copier["DependsOn"]) == sorted(policies)


# ---------------------------------------------------------------------- custom key policies
def _make_replicator(stack: cdk.Stack, key: CustomerManagedKey) -> SnapshotReplicator:
    return SnapshotReplicator(stack, "Replicate", destinations=[GOOD], encryption_key=key)


def _make_receiver(stack: cdk.Stack, key: CustomerManagedKey) -> SnapshotReceiver:
    return SnapshotReceiver(
        stack,
        "Receive",
        source_accounts=[SOURCE_ACCOUNT],
        kms_key=backup_key(stack),
        encryption_key=key,
    )


@pytest.mark.parametrize(
    ("make_stack", "make"),
    [(source_stack, _make_replicator), (_backup_stack, _make_receiver)],
    ids=["replicator", "receiver"],
)
def test_a_custom_queue_key_policy_names_every_role_that_uses_the_queues(
    make_stack: Callable[[], cdk.Stack], make: Callable[..., Any]
) -> None:
    # A custom policy has no root statement delegating to IAM: the sweeper queues tasks, the
    # copier re-queues and dead-letters, Lambda dead-letters failed invocations with either
    # role; SQS needs kms:GenerateDataKey and kms:Decrypt of the key for each of them.
    stack = make_stack()
    key = custom_policy_key(stack, "QueueKey", account=stack.account)
    construct = make(stack, key)
    policy = stack.resolve(key.policy_document)["Statement"]
    for role in (construct.copier_role, construct.sweeper_role):
        arn = stack.resolve(role.role_arn)
        through_sqs = {
            action
            for s in policy
            if arn in _as_list(s.get("Principal", {}).get("AWS"))
            and s.get("Condition")
            == {"StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}}
            for action in _as_list(s["Action"])
        }
        assert through_sqs == {"kms:Decrypt", "kms:GenerateDataKey"}, role.node.path
    # The roles' permissions stay in their managed policies: no inline policy is added.
    assert resources(Template.from_stack(stack).to_json(), "AWS::IAM::Policy") == {}


def test_a_custom_queue_key_of_another_stack_is_refused() -> None:
    app = cdk.App()
    env = cdk.Environment(account=SOURCE_ACCOUNT, region="eu-west-1")
    keys = cdk.Stack(app, "Keys", env=env)
    key = custom_policy_key(keys, "QueueKey", account=SOURCE_ACCOUNT)
    with pytest.raises(ConstructPropError) as error:
        _make_replicator(cdk.Stack(app, "Repl", env=env), key)
    message = str(error.value)
    assert message.startswith(
        "'encryption_key' must be in this construct's stack (Repl) when it has a custom KeyPolicy"
    )
    assert message.endswith("Received: 'Keys/QueueKey'")


def test_allow_in_key_policy_refuses_a_key_of_another_stack() -> None:
    # Its key policy would name the copier role of the replicator's stack, whose policy names
    # the key: CDK would fail with a dependency cycle between the stacks.
    app = cdk.App()
    env = cdk.Environment(account=SOURCE_ACCOUNT, region="eu-west-1")
    keys = cdk.Stack(app, "Keys", env=env)
    sharing = custom_policy_key(keys, "SharingKey", account=SOURCE_ACCOUNT)
    replicator = SnapshotReplicator(
        cdk.Stack(app, "Repl", env=env),
        "Replicate",
        destinations=[
            ReplicationDestination(
                region="eu-west-1", account=BACKUP_ACCOUNT, kms_key_arn=sharing.key_arn
            )
        ],
    )
    with pytest.raises(ConstructPropError) as error:
        replicator.allow_in_key_policy(sharing)
    message = str(error.value)
    assert message.startswith(
        "'key' must be in the replicator's stack (Repl): Keys/SharingKey is in stack Keys"
    )
    assert "use the default policy" in message
    assert "grant_to_account" in message
    assert message.endswith("Received: 'Keys/SharingKey'")
    app.synth()  # nothing was added: no dependency cycle


def test_allow_in_key_policy_names_the_copier_in_a_replica_keys_policy() -> None:
    app = cdk.App()
    primary_stack = cdk.Stack(
        app, "Primary", env=cdk.Environment(account=SOURCE_ACCOUNT, region="eu-central-1")
    )
    primary = CustomerManagedKey(primary_stack, "Primary", multi_region=True)
    stack = cdk.Stack(
        app,
        "Repl",
        env=cdk.Environment(account=SOURCE_ACCOUNT, region="eu-west-1"),
        cross_region_references=True,
    )
    replica = ReplicaKey(
        stack,
        "SharingKey",
        primary=primary,
        policy=KeyPolicy.custom(admins=[f"arn:aws:iam::{SOURCE_ACCOUNT}:role/Admin"]),
    )
    replicator = SnapshotReplicator(
        stack,
        "Replicate",
        destinations=[
            ReplicationDestination(
                region="eu-west-1", account=BACKUP_ACCOUNT, kms_key_arn=replica.key_arn
            )
        ],
    )
    replicator.allow_in_key_policy(replica)
    copier = stack.resolve(replicator.copier_role.role_arn)
    named = [
        s
        for s in stack.resolve(replica.policy_document)["Statement"]
        if s.get("Principal") == {"AWS": copier}
    ]
    sid = f"SnapshotCopier{replicator.node.addr[:8]}"
    assert [s["Sid"] for s in named] == [f"{sid}Use", f"{sid}Grants"]
    for statement in named:
        assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [
            "ec2.eu-west-1.amazonaws.com",
            "rds.eu-west-1.amazonaws.com",
        ]
    app.synth()


@pytest.mark.parametrize(
    ("make_key", "received"),
    [
        (lambda stack: CustomerManagedKey(stack, "Plain").key, "S/Plain/Key"),
        (lambda stack: KEY_WEST, KEY_WEST),
    ],
    ids=["aws_kms.Key", "ARN"],
)
def test_allow_in_key_policy_names_what_it_refuses_readably(
    make_key: Callable[[cdk.Stack], Any], received: str
) -> None:
    stack = source_stack()
    replicator = SnapshotReplicator(stack, "Replicate", destinations=[GOOD])
    with pytest.raises(ConstructPropError) as error:
        replicator.allow_in_key_policy(make_key(stack))
    assert str(error.value) == (
        f"'key' must be a CustomerManagedKey or a ReplicaKey. Received: {received!r}"
    )


def test_one_receiver_and_one_cross_account_replicator_per_account_and_region() -> None:
    # Their event buses have fixed names: a second bus of the name fails at deploy time.
    stack = _backup_stack()
    other = cdk.Stack(
        stack.node.scope,  # type: ignore[arg-type]
        "B2",
        env=cdk.Environment(account=BACKUP_ACCOUNT, region="eu-west-1"),
    )
    SnapshotReceiver(stack, "Receive", source_accounts=[SOURCE_ACCOUNT], kms_key=backup_key(stack))
    with pytest.raises(ConstructPropError) as receiver_error:
        SnapshotReceiver(
            other, "Receive", source_accounts=[SOURCE_ACCOUNT], kms_key=backup_key(other)
        )
    assert str(receiver_error.value) == (
        "'scope' may hold one SnapshotReceiver per account and Region (its event bus has a fixed "
        "name): B/Receive already holds kmskit-snapshot-receiver within account "
        f"{BACKUP_ACCOUNT} in eu-west-1. Received: 'B2/Receive'"
    )

    source = source_stack()
    cross_account = ReplicationDestination(
        region="eu-central-1", account=BACKUP_ACCOUNT, kms_key_arn=KEY_CENTRAL
    )
    SnapshotReplicator(source, "Replicate", destinations=[cross_account])
    SnapshotReplicator(source, "SameAccount", destinations=[GOOD])  # no bus, no clash
    with pytest.raises(ConstructPropError) as replicator_error:
        SnapshotReplicator(source, "Again", destinations=[cross_account])
    assert str(replicator_error.value) == (
        "'destinations' in another account need the event bus that only one SnapshotReplicator "
        "per account and Region may hold: S/Replicate already holds kmskit-snapshot-replicator "
        f"within account {SOURCE_ACCOUNT} in eu-west-1. Received: ['{BACKUP_ACCOUNT}']"
    )


# ---------------------------------------------------------------------- resource_types subsets
EC2_SNAPSHOTS = "arn:aws:ec2:*::snapshot/*"
OWN_DB = f"arn:aws:rds:*:{SOURCE_ACCOUNT}:snapshot:kmskit-*"
OWN_CLUSTER = f"arn:aws:rds:*:{SOURCE_ACCOUNT}:cluster-snapshot:kmskit-*"
RECEIVED_DB = f"arn:aws:rds:*:{BACKUP_ACCOUNT}:snapshot:kmskit-*"
RECEIVED_CLUSTER = f"arn:aws:rds:*:{BACKUP_ACCOUNT}:cluster-snapshot:kmskit-*"
# The statements every copier or sweeper has, whatever it copies (queues, logs, traces).
REPLICATOR_COPIER_BASE = {"WriteLogs", "Tracing", "ConsumeQueue", "DeadLetter", "QueueKey"}
SWEEPER_BASE = {"WriteLogs", "Tracing", "QueueTasks", "QueueKey"}
REPLICATOR_KEYS = ("UseDestinationKeys", "GrantDestinationKeys", "UseSourceKeys", "GrantSourceKeys")
RECEIVER_KEYS = ("UseOwnKeys", "GrantOwnKeys", "UseSharingKeys", "GrantSharingKeys")


def _subset_templates(kinds: list[str]) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """A replicator (same-account and cross-account destination, a sharing key whose policy
    names its copier) and a receiver (one onward destination) of ``kinds`` only: their
    templates and the sharing key's statements naming the replicator's copier."""
    app = cdk.App()
    source = cdk.Stack(app, "S", env=cdk.Environment(account=SOURCE_ACCOUNT, region="eu-west-1"))
    sharing = custom_policy_key(source, "SharingKey", account=SOURCE_ACCOUNT)
    replicator = SnapshotReplicator(
        source,
        "Replicate",
        resource_types=kinds,
        destinations=[
            GOOD,
            ReplicationDestination(
                region="eu-west-1", account=BACKUP_ACCOUNT, kms_key_arn=sharing.key_arn
            ),
        ],
    )
    replicator.allow_in_key_policy(sharing)
    backup = cdk.Stack(app, "B", env=cdk.Environment(account=BACKUP_ACCOUNT, region="eu-west-1"))
    SnapshotReceiver(
        backup,
        "Receive",
        resource_types=kinds,
        source_accounts=[SOURCE_ACCOUNT],
        kms_key=backup_key(backup),
        destinations=[
            ReplicationDestination(region="eu-central-1", kms_key_arn=BACKUP_KEY_CENTRAL)
        ],
    )
    copier = source.resolve(replicator.copier_role.role_arn)
    named = [
        s
        for s in source.resolve(sharing.policy_document)["Statement"]
        if s.get("Principal") == {"AWS": copier}
    ]
    return (
        dict(Template.from_stack(source).to_json()),
        dict(Template.from_stack(backup).to_json()),
        named,
    )


def _grants(template: dict[str, Any], policy_prefix: str) -> dict[str, dict[str, Any]]:
    """Sid -> the actions, the literal resources and the kms:ViaService values (if any) of
    the role's managed policies, as deployed."""
    found: dict[str, dict[str, Any]] = {}
    for statement in statements(template, policy_prefix):
        via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        found[statement["Sid"]] = {
            "Action": _as_list(statement["Action"]),
            "Resource": [
                r for r in _as_list(deployed(statement["Resource"])) if "xxxxxxxx" not in r
            ],
            "ViaService": None if via is None else _as_list(via),
        }
    return found


def _snapshot_grants(grants: dict[str, dict[str, Any]], base: set[str]) -> dict[str, Any]:
    """The statements of ``grants`` that are about snapshots (not queues, logs or keys)."""
    keys = {*REPLICATOR_KEYS, *RECEIVER_KEYS}
    return {
        sid: (g["Action"], g["Resource"])
        for sid, g in grants.items()
        if sid not in base and sid not in keys and not g["Action"][0].startswith("events:")
    }


def _via(grants: dict[str, dict[str, Any]], sids: tuple[str, ...]) -> dict[str, Any]:
    return {sid: grants[sid]["ViaService"] for sid in sids}


def _services(services: tuple[str, ...], *regions: str) -> list[str]:
    return sorted(f"{s}.{r}.amazonaws.com" for s in services for r in regions)


def test_an_ebs_only_replicator_and_receiver_get_no_rds_permissions() -> None:
    source, backup, sharing = _subset_templates(["EBS"])
    ebs = ("ec2",)
    copier = _grants(source, "ReplicateCopierPolicy")
    assert set(copier) == {
        *REPLICATOR_COPIER_BASE,
        *REPLICATOR_KEYS,
        "AnnounceSharedSnapshots",
        "DescribeSnapshots",
        "CopyEbs",
        "TagEbsCopiesOnCreate",
        "ShareOwnEbsCopies",
        "MarkOwnEbsCopiesDelivered",
        "DeleteOwnCopies",
    }
    assert _snapshot_grants(copier, REPLICATOR_COPIER_BASE) == {
        "DescribeSnapshots": (["ec2:DescribeSnapshots"], ["*"]),
        "CopyEbs": (["ec2:CopySnapshot"], [EC2_SNAPSHOTS]),
        "TagEbsCopiesOnCreate": (["ec2:CreateTags"], [EC2_SNAPSHOTS]),
        "ShareOwnEbsCopies": (["ec2:ModifySnapshotAttribute"], [EC2_SNAPSHOTS]),
        "MarkOwnEbsCopiesDelivered": (["ec2:CreateTags"], [EC2_SNAPSHOTS]),
        "DeleteOwnCopies": (["ec2:DeleteSnapshot"], [EC2_SNAPSHOTS]),
    }
    assert _via(copier, REPLICATOR_KEYS) == {
        "UseDestinationKeys": _services(ebs, "eu-central-1", "eu-west-1"),
        "GrantDestinationKeys": _services(ebs, "eu-central-1", "eu-west-1"),
        "UseSourceKeys": _services(ebs, "eu-west-1"),
        "GrantSourceKeys": _services(ebs, "eu-west-1"),
    }
    sweeper = _grants(source, "ReplicateSweeperPolicy")
    assert set(sweeper) == {*SWEEPER_BASE, "DescribeSnapshots", "DeleteOwnCopies"}
    assert _snapshot_grants(sweeper, SWEEPER_BASE) == {
        "DescribeSnapshots": (["ec2:DescribeSnapshots"], ["*"]),
        "DeleteOwnCopies": (["ec2:DeleteSnapshot"], [EC2_SNAPSHOTS]),
    }
    assert [s["Condition"]["StringEquals"]["kms:ViaService"] for s in sharing] == [
        _services(ebs, "eu-west-1")
    ] * 2

    receiver = _grants(backup, "ReceiveCopierPolicy")
    assert set(receiver) == {
        *REPLICATOR_COPIER_BASE,
        *RECEIVER_KEYS,
        "ReportReceipt",
        "DescribeSnapshots",
        "CopyEbs",
        "TagEbsCopiesOnCreate",
        "DeleteOwnCopies",
    }
    assert _snapshot_grants(receiver, REPLICATOR_COPIER_BASE) == {
        "DescribeSnapshots": (["ec2:DescribeSnapshots"], ["*"]),
        "CopyEbs": (["ec2:CopySnapshot"], [EC2_SNAPSHOTS]),
        "TagEbsCopiesOnCreate": (["ec2:CreateTags"], [EC2_SNAPSHOTS]),
        "DeleteOwnCopies": (["ec2:DeleteSnapshot"], [EC2_SNAPSHOTS]),
    }
    assert _via(receiver, RECEIVER_KEYS) == {
        "UseOwnKeys": _services(ebs, "eu-central-1", "eu-west-1"),
        "GrantOwnKeys": _services(ebs, "eu-central-1", "eu-west-1"),
        "UseSharingKeys": _services(ebs, "eu-west-1"),
        "GrantSharingKeys": _services(ebs, "eu-west-1"),
    }
    receiver_sweeper = _grants(backup, "ReceiveSweeperPolicy")
    assert _snapshot_grants(receiver_sweeper, SWEEPER_BASE) == {
        "DescribeSnapshots": (["ec2:DescribeSnapshots"], ["*"]),
        "DeleteOwnCopies": (["ec2:DeleteSnapshot"], [EC2_SNAPSHOTS]),
    }
    for template in (source, backup):
        every = statements(template, "")  # every managed policy of the stack
        assert not [a for s in every for a in _as_list(s["Action"]) if a.startswith("rds:")]
        assert "rds." not in json.dumps([s.get("Condition", {}) for s in every])


def test_an_rds_and_aurora_replicator_and_receiver_get_no_ebs_permissions() -> None:
    source, backup, sharing = _subset_templates(["RDS", "AURORA"])
    rds = ("rds",)
    describe = (["rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"], ["*"])
    copier = _grants(source, "ReplicateCopierPolicy")
    assert set(copier) == {
        *REPLICATOR_COPIER_BASE,
        *REPLICATOR_KEYS,
        "AnnounceSharedSnapshots",
        "DescribeSnapshots",
        "ShareOwnRdsCopies",
        "MarkOwnRdsCopiesDelivered",
        "DeleteOwnRdsCopies",
        "CopyRdsSnapshots",
        "TagRdsCopiesOnCreate",
    }
    delete = (["rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot"], [OWN_DB, OWN_CLUSTER])
    assert _snapshot_grants(copier, REPLICATOR_COPIER_BASE) == {
        "DescribeSnapshots": describe,
        "ShareOwnRdsCopies": (
            ["rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute"],
            [OWN_DB, OWN_CLUSTER],
        ),
        "MarkOwnRdsCopiesDelivered": (["rds:AddTagsToResource"], [OWN_DB, OWN_CLUSTER]),
        "DeleteOwnRdsCopies": delete,
        "CopyRdsSnapshots": (
            ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"],
            [
                f"arn:aws:rds:eu-west-1:{SOURCE_ACCOUNT}:snapshot:*",
                f"arn:aws:rds:eu-west-1:{SOURCE_ACCOUNT}:cluster-snapshot:*",
                OWN_DB,
                OWN_CLUSTER,
            ],
        ),
        "TagRdsCopiesOnCreate": (["rds:AddTagsToResource"], [OWN_DB, OWN_CLUSTER]),
    }
    assert _via(copier, REPLICATOR_KEYS) == {
        "UseDestinationKeys": _services(rds, "eu-central-1", "eu-west-1"),
        "GrantDestinationKeys": _services(rds, "eu-central-1", "eu-west-1"),
        "UseSourceKeys": _services(rds, "eu-west-1"),
        "GrantSourceKeys": _services(rds, "eu-west-1"),
    }
    sweeper = _grants(source, "ReplicateSweeperPolicy")
    assert set(sweeper) == {*SWEEPER_BASE, "DescribeSnapshots", "DeleteOwnRdsCopies"}
    assert _snapshot_grants(sweeper, SWEEPER_BASE) == {
        "DescribeSnapshots": describe,
        "DeleteOwnRdsCopies": delete,
    }
    assert [s["Condition"]["StringEquals"]["kms:ViaService"] for s in sharing] == [
        _services(rds, "eu-west-1")
    ] * 2

    receiver = _grants(backup, "ReceiveCopierPolicy")
    assert set(receiver) == {
        *REPLICATOR_COPIER_BASE,
        *RECEIVER_KEYS,
        "ReportReceipt",
        "DescribeSnapshots",
        "DeleteOwnRdsCopies",
        "CopyRdsSnapshots",
        "TagRdsCopiesOnCreate",
    }
    received_delete = (delete[0], [RECEIVED_DB, RECEIVED_CLUSTER])
    assert _snapshot_grants(receiver, REPLICATOR_COPIER_BASE) == {
        "DescribeSnapshots": describe,
        "DeleteOwnRdsCopies": received_delete,
        "CopyRdsSnapshots": (
            ["rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"],
            [
                f"arn:aws:rds:eu-west-1:{SOURCE_ACCOUNT}:snapshot:kmskit-s-*",
                f"arn:aws:rds:eu-west-1:{SOURCE_ACCOUNT}:cluster-snapshot:kmskit-s-*",
                RECEIVED_DB,
                RECEIVED_CLUSTER,
            ],
        ),
        "TagRdsCopiesOnCreate": (["rds:AddTagsToResource"], [RECEIVED_DB, RECEIVED_CLUSTER]),
    }
    assert _via(receiver, RECEIVER_KEYS) == {
        "UseOwnKeys": _services(rds, "eu-central-1", "eu-west-1"),
        "GrantOwnKeys": _services(rds, "eu-central-1", "eu-west-1"),
        "UseSharingKeys": _services(rds, "eu-west-1"),
        "GrantSharingKeys": _services(rds, "eu-west-1"),
    }
    receiver_sweeper = _grants(backup, "ReceiveSweeperPolicy")
    assert _snapshot_grants(receiver_sweeper, SWEEPER_BASE) == {
        "DescribeSnapshots": describe,
        "DeleteOwnRdsCopies": received_delete,
    }
    for template in (source, backup):
        every = statements(template, "")  # every managed policy of the stack
        assert not [a for s in every for a in _as_list(s["Action"]) if a.startswith("ec2:")]
        assert "ec2." not in json.dumps([s.get("Condition", {}) for s in every])


@pytest.mark.parametrize(
    ("kind", "resource"), [("RDS", ":snapshot:"), ("AURORA", ":cluster-snapshot:")]
)
def test_one_database_kind_gets_only_its_own_actions_and_snapshots(
    kind: str, resource: str
) -> None:
    """RDS: DB snapshot actions on ``snapshot:`` ARNs; Aurora: cluster snapshot actions on
    ``cluster-snapshot:`` ARNs; neither gets the other's, nor any EC2 snapshot action."""
    source, backup, _ = _subset_templates([kind])
    cluster = "DBCluster" if kind == "AURORA" else "DB"
    for template in (source, backup):
        every = statements(template, "")
        actions = {a for s in every for a in _as_list(s["Action"])}
        snapshot_actions = {a for a in actions if a.startswith(("rds:", "ec2:"))}
        assert snapshot_actions == {
            f"rds:Describe{cluster}Snapshots",
            f"rds:Copy{cluster}Snapshot",
            f"rds:Delete{cluster}Snapshot",
            "rds:AddTagsToResource",
            *([f"rds:Modify{cluster}SnapshotAttribute"] if template is source else []),
        }
        rds_arns = {
            r
            for s in every
            for r in _as_list(deployed(s["Resource"]))
            if isinstance(r, str) and r.startswith("arn:aws:rds:")
        }
        assert rds_arns, kind
        # ":snapshot:" is not part of ":cluster-snapshot:": no ARN of the other kind is left.
        assert all(resource in r for r in rds_arns), rds_arns


def _wildcard_reasons(construct: Construct, policy: str) -> dict[str, str]:
    """The AwsSolutions-IAM5 resource acknowledged on ``construct``'s ``policy`` (and the
    policies it was split into: ``policy2``, ...) -> its reason."""
    found = {}
    for child in construct.node.children:
        if child.node.id.removeprefix(policy) not in ("", *map(str, range(2, 10))):
            continue
        for entry in child.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                for rule, reason in entry.data.items():
                    found[rule.split("[Resource::", 1)[1].rstrip("]")] = reason
    return found


@pytest.mark.parametrize(
    ("kinds", "services", "describe", "managed_keys"),
    [
        (["EBS"], "EC2", "ec2:DescribeSnapshots", "aws/ebs"),
        (["RDS"], "RDS", "rds:DescribeDBSnapshots", "aws/rds"),
        (["AURORA"], "RDS", "rds:DescribeDBClusterSnapshots", "aws/rds"),
        (
            ["AURORA", "EBS", "RDS"],
            "EC2 and RDS",
            "ec2:DescribeSnapshots, rds:DescribeDBSnapshots/DescribeDBClusterSnapshots",
            "aws/ebs and aws/rds",
        ),
    ],
)
def test_wildcard_acknowledgments_name_only_the_services_of_the_resource_types(
    kinds: list[str], services: str, describe: str, managed_keys: str
) -> None:
    """The reasons docs/compliance.md lists describe the replicator that was built: an
    EBS-only replicator's acknowledgment does not claim RDS actions or keys, and the reverse."""
    app = cdk.App()
    source = cdk.Stack(app, "S", env=cdk.Environment(account=SOURCE_ACCOUNT, region="eu-west-1"))
    replicator = SnapshotReplicator(source, "Replicate", resource_types=kinds, destinations=[GOOD])
    backup = cdk.Stack(app, "B", env=cdk.Environment(account=BACKUP_ACCOUNT, region="eu-west-1"))
    receiver = SnapshotReceiver(
        backup,
        "Receive",
        resource_types=kinds,
        source_accounts=[SOURCE_ACCOUNT],
        kms_key=backup_key(backup),
    )
    # The replicator's own account's keys; for the receiver, the source accounts' sharing keys.
    source_keys = f"arn:<AWS::Partition>:kms:eu-west-1:{SOURCE_ACCOUNT}:key/*"
    for construct, policy in ((replicator, "CopierPolicy"), (replicator, "SweeperPolicy")):
        assert _wildcard_reasons(construct, policy)["*"].startswith(
            f"{describe} and X-Ray trace writes have no resource-level permissions;"
        ), policy
    assert _wildcard_reasons(replicator, "CopierPolicy")[source_keys] == (
        "a selected snapshot may be encrypted with any key of this account in its Region "
        f"({managed_keys} included); use is limited to {services} in that Region by "
        "kms:ViaService"
    )
    assert _wildcard_reasons(receiver, "CopierPolicy")[source_keys].startswith(
        f"the source accounts' sharing keys are chosen in their accounts; use is limited to "
        f"{services} in this Region by kms:ViaService"
    )
