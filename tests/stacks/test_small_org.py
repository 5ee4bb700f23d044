"""A small configuration (one Region, three accounts): every stack pinned by a snapshot."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests._support.snapshots import normalized
from tests._support.synth import SynthResult, replication_config

Synth = Callable[[str], SynthResult]
STACKS = [
    "App-Audit",
    "App-Data-eu-west-1",
    "App-Keys-eu-west-1",
    "App-Replication-eu-west-1",
    "Pipeline",
    "Sec-Audit",
    "Sec-Keys-eu-west-1",
    "Vault-Audit",
    "Vault-Keys-eu-west-1",
    "Vault-Receiver-eu-west-1",
]


def test_stacks(synthesized: Synth) -> None:
    assert sorted(synthesized("small_org").templates) == STACKS


@pytest.mark.parametrize("stack_name", STACKS)
def test_snapshot(synthesized: Synth, snapshot_json, stack_name: str) -> None:  # type: ignore[no-untyped-def]
    assert normalized(synthesized("small_org").template(stack_name)) == snapshot_json


def test_single_region_replication_only_shares_with_the_backup_account(synthesized: Synth) -> None:
    template = synthesized("small_org").template("App-Replication-eu-west-1")
    assert replication_config(template)["destinations"] == [
        {"region": "eu-west-1", "kms_key_arn": "App-Keys-eu-west-1", "account": "333333333333"}
    ]
    assert "PipelineArtifacts" not in " ".join(synthesized("small_org").templates)


def test_audit_object_lock_locks_the_central_audit_bucket_only(synthesized: Synth) -> None:
    """audit.object_lock (GOVERNANCE, 365 days): the central bucket's log files and digests are
    locked and its noncurrent versions kept as long; its access-log bucket has no Object Lock."""
    buckets = {
        name: resource["Properties"]
        for name, resource in synthesized("small_org").template("Sec-Audit")["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket"
    }
    (central,) = [b for name, b in buckets.items() if name.startswith("CentralBucketStorageBucket")]
    assert central["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
    }
    rules = central["LifecycleConfiguration"]["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 365}
    others = [b for name, b in buckets.items() if not name.startswith("CentralBucketStorageBucket")]
    assert others
    assert all("ObjectLockEnabled" not in b for b in others)
