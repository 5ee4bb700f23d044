"""``copy_tags``: the Lambda's check of its configuration, and the tags on copies made through
moto (the stubbed copier tests cover RDS, Aurora, staging and received copies)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmskit.aws_tags import MAX_TAGS_PER_RESOURCE
from kmskit.snapshots import model
from kmskit.snapshots.engine import SnapshotEngine
from kmskit.snapshots.model import (
    MAX_COPY_TAGS,
    MAX_TOOLKIT_TAGS,
    Origin,
    SnapshotError,
    SnapshotRef,
)
from lambda_src.snapshot_replicator.config import ENV_VAR, Config
from tests.lambdas._support import (
    OTHER,
    REGION,
    SOURCE,
    moto_clients,
    record,
    replica_copy_task,
    replicator_config,
    runtime,
)

COPY_TAGS = {"CostCenter": "cc-1234", "Owner": "platform-team"}


def test_copy_tags_are_read_from_the_configuration() -> None:
    assert dict(replicator_config(copy_tags=COPY_TAGS).copy_tags) == COPY_TAGS
    assert replicator_config().copy_tags == ()


@pytest.mark.parametrize(
    ("copy_tags", "message"),
    [
        (
            {"kmskit:role": "replica"},
            "'copy_tags' must not have a tag key starting with 'aws:' (reserved by AWS) or "
            "'kmskit:' (the toolkit's own tags, which find, share and delete its copies). "
            "Received: 'kmskit:role'",
        ),
        ({"AWS:foo": "x"}, "Received: 'AWS:foo'"),
        ({"CostCenter": 1234}, "(tag 'CostCenter'). Received: 1234"),
        ({"Env": "rds:prod"}, "which RDS refuses (tag 'Env'). Received: 'rds:prod'"),
        (
            {"CostCenter": "a", "costcenter": "b"},
            "'copy_tags' must not have the tag key 'costcenter' beside 'CostCenter'",
        ),
        (["CostCenter", "cc-1"], "'copy_tags' must be a mapping of tag keys to tag values"),
        (
            {f"k{i}": "v" for i in range(MAX_COPY_TAGS + 1)},
            f"'copy_tags' must have at most {MAX_COPY_TAGS} tags",
        ),
    ],
)
def test_a_bad_copy_tags_configuration_stops_the_function(copy_tags: object, message: str) -> None:
    """Not dropped: the function fails (its messages wait in the queue) until it is fixed."""
    with pytest.raises(SnapshotError) as raised:
        replicator_config(copy_tags=copy_tags)
    assert message in str(raised.value)


def test_a_bad_copy_tags_environment_fails_at_start() -> None:
    data = json.loads(json.dumps({"copy_tags": {"kmskit:managed-by": "me"}}))
    environ = {ENV_VAR: json.dumps({**_minimal(), **data})}
    with pytest.raises(SnapshotError, match="'copy_tags' must not have a tag key"):
        Config.from_env(environ)


def _minimal() -> dict[str, Any]:
    return {
        "mode": "replicator",
        "replicator_id": "Source-Replicate",
        "account": SOURCE,
        "region": REGION,
        "resource_types": ["EBS"],
        "queue_url": "q",
        "dead_letter_queue_url": "dlq",
        "max_receive_count": 5,
    }


def test_the_toolkit_puts_at_most_max_toolkit_tags_on_a_copy() -> None:
    """The count copy_tags leaves room for: the most kmskit:* tags one copy ever carries."""
    engine = SnapshotEngine(lambda *_: None, account=SOURCE, replicator="r")
    origin = Origin.of(SnapshotRef("EBS", "snap-0123", REGION, SOURCE), None)
    staging = engine.copy_tags(origin, region=REGION, role="staging", destination_account="1" * 12)
    received = engine.copy_tags(origin, region=REGION, role="received", destination_account=None)
    most = max(
        len({**staging, model.TAG_DELIVERED: "now"}),
        len({**received, model.TAG_STAGING_ARN: "arn", model.TAG_REPLY_REGION: REGION}),
    )
    assert most == MAX_TOOLKIT_TAGS
    assert MAX_COPY_TAGS + MAX_TOOLKIT_TAGS == MAX_TAGS_PER_RESOURCE


@pytest.fixture
def ebs_source() -> Iterator[str]:
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
        yield ec2.create_snapshot(VolumeId=volume)["SnapshotId"]


def _copy_tags_in_other() -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=OTHER)
    (copy,) = ec2.describe_snapshots(
        OwnerIds=["self"],
        Filters=[{"Name": f"tag:{model.TAG_MANAGED_BY}", "Values": ["kmskit-snapshots"]}],
    )["Snapshots"]
    return {t["Key"]: t["Value"] for t in copy["Tags"]}


def test_an_ebs_copy_made_by_the_copier_carries_the_copy_tags(ebs_source: str) -> None:
    key = boto3.client("kms", region_name=OTHER).create_key()["KeyMetadata"]["Arn"]
    sqs = boto3.client("sqs", region_name=REGION)
    config = replicator_config(
        account="123456789012",
        queue_url=sqs.create_queue(QueueName="replication")["QueueUrl"],
        dead_letter_queue_url=sqs.create_queue(QueueName="replication-dlq")["QueueUrl"],
        destinations=[{"region": OTHER, "kms_key_arn": key}],
        copy_tags=COPY_TAGS,
    )
    rt = runtime(config, moto_clients())
    source = SnapshotRef("EBS", ebs_source, REGION, "123456789012")
    task = replica_copy_task(source, key, None)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    tags = _copy_tags_in_other()
    assert {k: tags[k] for k in COPY_TAGS} == COPY_TAGS
    assert tags[model.TAG_ROLE] == "replica"
    assert tags[model.TAG_MANAGED_BY] == "kmskit-snapshots"


def test_the_toolkits_tags_win_over_extra_tags_of_the_same_key(ebs_source: str) -> None:
    """The engine's own order, for callers that do not check their tags first."""
    key = boto3.client("kms", region_name=OTHER).create_key()["KeyMetadata"]["Arn"]
    engine = SnapshotEngine(moto_clients(), account="123456789012", replicator="r")
    source = SnapshotRef("EBS", ebs_source, REGION, "123456789012")
    engine.copy(
        source,
        region=OTHER,
        kms_key_arn=key,
        role="replica",
        origin=Origin.of(source, None),
        extra_tags={
            model.TAG_ROLE: "forged",
            model.TAG_MANAGED_BY: "someone",
            "CostCenter": "cc-1",
        },
    )
    tags = _copy_tags_in_other()
    assert tags[model.TAG_ROLE] == "replica"
    assert tags[model.TAG_MANAGED_BY] == "kmskit-snapshots"
    assert tags["CostCenter"] == "cc-1"
