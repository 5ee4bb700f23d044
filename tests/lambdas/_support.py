"""Helpers for the snapshot replication Lambda tests (no aws_cdk here)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from kmskit.snapshots.model import Origin, Role, SnapshotRef
from lambda_src.snapshot_replicator.config import Config
from lambda_src.snapshot_replicator.handler import Runtime
from lambda_src.snapshot_replicator.logs import JsonLogger
from lambda_src.snapshot_replicator.messages import Task

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE = "111111111111"
BACKUP = "333333333333"
REGION = "eu-west-1"
OTHER = "eu-central-1"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{SOURCE}/replication"
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/{SOURCE}/replication-dlq"
# One attempt per call: the tests script each error once and check what the copier does.
ONE_ATTEMPT = BotoConfig(retries={"mode": "standard", "max_attempts": 1})


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    for key, value in changes.items():
        if key == "detail":
            event["detail"].update(value)
        else:
            event[key] = value
    return event


def replicator_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "mode": "replicator",
        "replicator_id": "Source-Replicate",
        "account": SOURCE,
        "region": REGION,
        "resource_types": ["EBS", "RDS", "AURORA"],
        "queue_url": QUEUE_URL,
        "dead_letter_queue_url": DLQ_URL,
        "max_receive_count": 5,
        "selection_tag": ["backup", "replicate"],
        "destinations": [
            {"region": OTHER, "kms_key_arn": f"arn:aws:kms:{OTHER}:{SOURCE}:key/dest"},
        ],
        "retention_days": 14,
        "sweep_window_days": 1,
        **overrides,
    }
    return Config.from_mapping(data)


def receiver_config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "mode": "receiver",
        "replicator_id": "Backup-Receive",
        "account": BACKUP,
        "region": REGION,
        "resource_types": ["EBS", "RDS", "AURORA"],
        "queue_url": f"https://sqs.{REGION}.amazonaws.com/{BACKUP}/receive",
        "dead_letter_queue_url": f"https://sqs.{REGION}.amazonaws.com/{BACKUP}/receive-dlq",
        "max_receive_count": 5,
        "source_accounts": [SOURCE],
        "kms_key_arn": f"arn:aws:kms:{REGION}:{BACKUP}:key/backup",
        "destinations": [],
        **overrides,
    }
    return Config.from_mapping(data)


def replica_copy_task(
    source: SnapshotRef, kms_key_arn: str, created: datetime | None, role: Role = "replica"
) -> Task:
    """The task that copies ``source`` into OTHER with ``kms_key_arn`` (role default replica)."""
    return Task(
        action="copy",
        role=role,
        source=source,
        origin=Origin.of(source, created),
        region=OTHER,
        kms_key_arn=kms_key_arn,
    )


def moto_clients() -> Callable[[str, str], Any]:
    cache: dict[tuple[str, str], Any] = {}

    def clients(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[(service, region)] = boto3.client(service, region_name=region, config=ONE_ATTEMPT)
        return cache[(service, region)]

    return clients


def runtime(config: Config, clients: Callable[[str, str], Any]) -> Runtime:
    rt = Runtime(config=config, clients=clients, log=JsonLogger(io.StringIO()))
    rt.log.lines = []
    rt.workflow.log = rt.log
    return rt


def record(body: str | dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": f"handle-{uuid.uuid4()}",
        "body": text,
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "eventSource": "aws:sqs",
    }


def metrics(rt: Runtime, name: str) -> int:
    return sum(int(line.get(name, 0)) for line in rt.log.lines or [] if "_aws" in line)
