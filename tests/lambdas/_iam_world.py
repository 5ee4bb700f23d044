"""A small in-memory AWS for the IAM cross-check: several accounts and Regions, EBS/RDS/Aurora
snapshots that can be shared, SQS and EventBridge. Every call is checked against botocore's
service model (like Stubber) and recorded with what IAM would see: the caller, the Region, the
parameters, and the tags the addressed snapshot had at that moment (``aws:ResourceTag``).

moto cannot stand in here: it models neither cross-account snapshot sharing nor cross-Region
RDS copies (aws-facts.md, toolchain-facts.md).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import validate_parameters

_SESSION = botocore.session.get_session()
_MODELS: dict[str, Any] = {}


def _operation_model(service: str, operation: str) -> Any:
    if service not in _MODELS:
        _MODELS[service] = _SESSION.get_service_model(service)
    return _MODELS[service].operation_model(operation)


@dataclass
class Call:
    """One API call as IAM sees it."""

    actor: str
    account: str
    service: str
    operation: str
    region: str
    params: dict[str, Any]
    resource_tags: dict[str, str] = field(default_factory=dict)
    """Tags of the snapshot the call addresses, before the call (for aws:ResourceTag)."""
    source_key: str | None = None
    """For a copy: the KMS key of the source snapshot (None when it is unencrypted)."""
    created_id: str | None = None
    """For an EBS copy: the ID of the new snapshot."""


@dataclass
class _Snapshot:
    kind: str
    id: str
    region: str
    owner: str
    created: datetime
    encrypted: bool
    kms_key_id: str | None
    tags: dict[str, str]
    description: str = ""
    shared_with: set[str] = field(default_factory=set)
    automated: bool = False
    copied_from_region: str | None = None
    failed: bool = False

    @property
    def arn(self) -> str:
        if self.kind == "EBS":
            return f"arn:aws:ec2:{self.region}::snapshot/{self.id}"
        resource = "snapshot" if self.kind == "RDS" else "cluster-snapshot"
        return f"arn:aws:rds:{self.region}:{self.owner}:{resource}:{self.id}"


def _error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},  # type: ignore[typeddict-item]
        },
        operation,
    )


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


class World:
    """Accounts, Regions and their snapshots, queues and buses; ``calls`` records every call."""

    def __init__(self) -> None:
        self.snapshots: list[_Snapshot] = []
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.actor = ""
        self._ids = itertools.count(1)
        self.fail_once: dict[tuple[str, str], str] = {}
        """(actor, operation) -> error code the call raises the next time (then forgotten)."""

    # ------------------------------------------------------------------ set-up
    def add_ebs(
        self,
        region: str,
        owner: str,
        kms_key_id: str | None,
        tags: dict[str, str],
        *,
        failed: bool = False,
    ) -> str:
        snapshot_id = f"snap-{next(self._ids):017x}"
        self.add_rds("EBS", region, owner, snapshot_id, kms_key_id, tags, failed=failed)
        return snapshot_id

    def add_rds(
        self,
        kind: str,
        region: str,
        owner: str,
        ident: str,
        kms_key_id: str | None,
        tags: dict[str, str],
        *,
        automated: bool = False,
        failed: bool = False,
    ) -> str:
        """Add a snapshot of ``kind`` (RDS, AURORA, or EBS through :meth:`add_ebs`)."""
        self.snapshots.append(
            _Snapshot(
                kind,
                ident,
                region,
                owner,
                datetime.now(UTC),
                kms_key_id is not None,
                kms_key_id,
                dict(tags),
                automated=automated,
                failed=failed,
            )
        )
        return self.snapshots[-1].arn

    def clients(self, account: str) -> Any:
        """A ``clients(service, region)`` factory acting as ``account``."""
        cache: dict[tuple[str, str], FakeClient] = {}

        def factory(service: str, region: str) -> FakeClient:
            if (service, region) not in cache:
                cache[(service, region)] = FakeClient(self, service, region, account)
            return cache[(service, region)]

        return factory

    # ------------------------------------------------------------------ lookups
    def find(self, kind: str, region: str, ident: str, caller: str) -> _Snapshot | None:
        """``ident`` is an ID/identifier of ``caller``'s own, or an ARN (RDS)."""
        for snapshot in self.snapshots:
            if snapshot.kind != kind or snapshot.region != region:
                continue
            if ident in (snapshot.id, snapshot.arn) and (
                snapshot.owner == caller or caller in snapshot.shared_with
            ):
                if ident == snapshot.id and kind != "EBS" and snapshot.owner != caller:
                    continue  # another account's RDS snapshot is addressed by its ARN only
                return snapshot
        return None

    def by_arn(self, arn: str) -> _Snapshot | None:
        return next((s for s in self.snapshots if s.arn == arn), None)


class FakeClient:
    """The operations the snapshot runtime uses, in one account and Region."""

    def __init__(self, world: World, service: str, region: str, account: str) -> None:
        self.world = world
        self.service = service
        self.region = region
        self.account = account

    def can_paginate(self, operation: str) -> bool:
        return False

    def _call(self, operation: str, params: dict[str, Any], **seen: Any) -> Call:
        model = _operation_model(self.service, operation)
        validate_parameters(params, model.input_shape)  # raises ParamValidationError
        call = Call(
            self.world.actor, self.account, self.service, operation, self.region, params, **seen
        )
        self.world.calls.append(call)
        code = self.world.fail_once.pop((self.world.actor, operation), None)
        if code is not None:
            raise _error(code, f"scripted {code}", operation)
        return call

    # ------------------------------------------------------------------ EC2
    def _ebs_row(self, s: _Snapshot) -> dict[str, Any]:
        row: dict[str, Any] = {
            "SnapshotId": s.id,
            "OwnerId": s.owner,
            "State": "error" if s.failed else "completed",
            "Progress": "100%",
            "Encrypted": s.encrypted,
            "StartTime": s.created,
            "Description": s.description,
            "VolumeId": "vol-ffff",
            "VolumeSize": 8,
        }
        if s.kms_key_id:
            row["KmsKeyId"] = s.kms_key_id
        if s.owner == self.account:
            row["Tags"] = _tag_list(s.tags)  # tags are not shown to other accounts
        return row

    def describe_snapshots(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeSnapshots", params)
        ids = params.get("SnapshotIds")
        owners = {self.account if o == "self" else o for o in params.get("OwnerIds", [])}
        restorable = params.get("RestorableByUserIds")
        rows = []
        for s in self.world.snapshots:
            if s.kind != "EBS" or s.region != self.region:
                continue
            visible = s.owner == self.account or self.account in s.shared_with
            if not visible or (ids and s.id not in ids) or (owners and s.owner not in owners):
                continue
            if restorable and self.account not in s.shared_with:
                continue
            if not all(
                s.tags.get(f["Name"].removeprefix("tag:")) in f["Values"]
                for f in params.get("Filters", [])
            ):
                continue
            rows.append(self._ebs_row(s))
        if ids and not rows:
            raise _error("InvalidSnapshot.NotFound", f"{ids} not found", "DescribeSnapshots")
        return {"Snapshots": rows}

    def copy_snapshot(self, **params: Any) -> dict[str, Any]:
        source = self.world.find(
            "EBS", params["SourceRegion"], params["SourceSnapshotId"], self.account
        )
        assert source is not None, f"no visible source {params['SourceSnapshotId']}"
        tags = {
            t["Key"]: t["Value"]
            for spec in params.get("TagSpecifications", [])
            for t in spec["Tags"]
        }
        copy = _Snapshot(
            "EBS",
            f"snap-{next(self.world._ids):017x}",
            self.region,
            self.account,
            datetime.now(UTC),
            True,
            params["KmsKeyId"],
            tags,
            description=params.get("Description", ""),
        )
        self._call("CopySnapshot", params, source_key=source.kms_key_id, created_id=copy.id)
        self.world.snapshots.append(copy)
        return {"SnapshotId": copy.id}

    def _own_ebs(self, operation: str, snapshot_id: str, params: dict[str, Any]) -> _Snapshot:
        s = self.world.find("EBS", self.region, snapshot_id, self.account)
        assert s is not None, f"{operation}: no {snapshot_id}"
        assert s.owner == self.account, f"{operation}: {snapshot_id} is not the caller's"
        self._call(operation, params, resource_tags=dict(s.tags))
        return s

    def create_tags(self, **params: Any) -> dict[str, Any]:
        (snapshot_id,) = params["Resources"]
        s = self._own_ebs("CreateTags", snapshot_id, params)
        s.tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
        return {}

    def modify_snapshot_attribute(self, **params: Any) -> dict[str, Any]:
        s = self._own_ebs("ModifySnapshotAttribute", params["SnapshotId"], params)
        if params["OperationType"] == "add":
            s.shared_with.update(params["UserIds"])
        else:
            s.shared_with.difference_update(params["UserIds"])
        return {}

    def delete_snapshot(self, **params: Any) -> dict[str, Any]:
        s = self._own_ebs("DeleteSnapshot", params["SnapshotId"], params)
        self.world.snapshots.remove(s)
        return {}

    # ------------------------------------------------------------------ RDS
    def _rds_row(self, s: _Snapshot) -> dict[str, Any]:
        cluster = s.kind == "AURORA"
        row: dict[str, Any] = {
            "DBClusterSnapshotIdentifier" if cluster else "DBSnapshotIdentifier": s.id,
            "DBClusterSnapshotArn" if cluster else "DBSnapshotArn": s.arn,
            "Status": "failed" if s.failed else "available",
            "PercentProgress": 100,
            "StorageEncrypted" if cluster else "Encrypted": s.encrypted,
            "SnapshotCreateTime": s.created,
            "SnapshotType": "automated" if s.automated else "manual",
            "TagList": _tag_list(s.tags) if s.owner == self.account else [],
        }
        if s.kms_key_id:
            row["KmsKeyId"] = s.kms_key_id
        if s.copied_from_region:
            if cluster:
                row["SourceDBClusterSnapshotArn"] = (
                    f"arn:aws:rds:{s.copied_from_region}:{s.owner}:cluster-snapshot:x"
                )
            else:
                row["SourceRegion"] = s.copied_from_region
        return row

    def _describe_rds(
        self, kind: str, operation: str, key: str, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self._call(operation, params)
        ident = params.get(key)
        kind_type = params.get("SnapshotType")
        rows = []
        for s in self.world.snapshots:
            if s.kind != kind or s.region != self.region:
                continue
            shared = self.account in s.shared_with
            if s.owner != self.account and not (shared and params.get("IncludeShared")):
                continue
            if ident is not None and ident not in (s.id, s.arn):
                continue
            if ident is not None and ident == s.id and s.owner != self.account:
                continue
            if kind_type == "shared" and s.owner == self.account:
                continue
            if kind_type in ("manual", "automated") and (
                s.owner != self.account or s.automated != (kind_type == "automated")
            ):
                continue
            if kind_type is None and ident is not None and s.automated:
                continue  # an automated snapshot is found by its identifier only with its type
            rows.append(self._rds_row(s))
        if ident is not None and not rows:
            code = "DBClusterSnapshotNotFoundFault" if kind == "AURORA" else "DBSnapshotNotFound"
            raise _error(code, f"{ident} not found", operation, 404)
        return rows

    def describe_db_snapshots(self, **params: Any) -> dict[str, Any]:
        rows = self._describe_rds("RDS", "DescribeDBSnapshots", "DBSnapshotIdentifier", params)
        return {"DBSnapshots": rows}

    def describe_db_cluster_snapshots(self, **params: Any) -> dict[str, Any]:
        rows = self._describe_rds(
            "AURORA", "DescribeDBClusterSnapshots", "DBClusterSnapshotIdentifier", params
        )
        return {"DBClusterSnapshots": rows}

    def _copy_rds(
        self, kind: str, operation: str, source_id: str, target: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        source_region = source_id.split(":")[3] if source_id.startswith("arn:") else self.region
        source = self.world.find(kind, source_region, source_id, self.account)
        assert source is not None, f"no visible source {source_id}"
        self._call(operation, params, source_key=source.kms_key_id)
        if any(
            s.kind == kind
            and s.region == self.region
            and s.owner == self.account
            and s.id == target
            for s in self.world.snapshots
        ):
            code = (
                "DBClusterSnapshotAlreadyExistsFault"
                if kind == "AURORA"
                else "DBSnapshotAlreadyExists"
            )
            raise _error(code, f"{target} exists", operation)
        copy = _Snapshot(
            kind,
            target,
            self.region,
            self.account,
            source.created,
            True,
            params.get("KmsKeyId") or source.kms_key_id,
            {t["Key"]: t["Value"] for t in params.get("Tags", [])},
            copied_from_region=source.region if source.region != self.region else None,
        )
        self.world.snapshots.append(copy)
        return self._rds_row(copy)

    def copy_db_snapshot(self, **params: Any) -> dict[str, Any]:
        row = self._copy_rds(
            "RDS",
            "CopyDBSnapshot",
            params["SourceDBSnapshotIdentifier"],
            params["TargetDBSnapshotIdentifier"],
            params,
        )
        return {"DBSnapshot": row}

    def copy_db_cluster_snapshot(self, **params: Any) -> dict[str, Any]:
        row = self._copy_rds(
            "AURORA",
            "CopyDBClusterSnapshot",
            params["SourceDBClusterSnapshotIdentifier"],
            params["TargetDBClusterSnapshotIdentifier"],
            params,
        )
        return {"DBClusterSnapshot": row}

    def _own_rds(self, kind: str, operation: str, ident: str, params: dict[str, Any]) -> _Snapshot:
        s = self.world.find(kind, self.region, ident, self.account)
        assert s is not None, f"{operation}: no {ident}"
        assert s.owner == self.account, f"{operation}: {ident} is not the caller's"
        self._call(operation, params, resource_tags=dict(s.tags))
        return s

    def _share_rds(self, s: _Snapshot, params: dict[str, Any]) -> None:
        s.shared_with.update(params.get("ValuesToAdd", []))
        s.shared_with.difference_update(params.get("ValuesToRemove", []))

    def modify_db_snapshot_attribute(self, **params: Any) -> dict[str, Any]:
        s = self._own_rds(
            "RDS", "ModifyDBSnapshotAttribute", params["DBSnapshotIdentifier"], params
        )
        self._share_rds(s, params)
        return {}

    def modify_db_cluster_snapshot_attribute(self, **params: Any) -> dict[str, Any]:
        s = self._own_rds(
            "AURORA",
            "ModifyDBClusterSnapshotAttribute",
            params["DBClusterSnapshotIdentifier"],
            params,
        )
        self._share_rds(s, params)
        return {}

    def add_tags_to_resource(self, **params: Any) -> dict[str, Any]:
        arn = params["ResourceName"]
        kind = "AURORA" if ":cluster-snapshot:" in arn else "RDS"
        s = self._own_rds(kind, "AddTagsToResource", arn, params)
        s.tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
        return {}

    def delete_db_snapshot(self, **params: Any) -> dict[str, Any]:
        s = self._own_rds("RDS", "DeleteDBSnapshot", params["DBSnapshotIdentifier"], params)
        self.world.snapshots.remove(s)
        return {"DBSnapshot": self._rds_row(s)}

    def delete_db_cluster_snapshot(self, **params: Any) -> dict[str, Any]:
        s = self._own_rds(
            "AURORA", "DeleteDBClusterSnapshot", params["DBClusterSnapshotIdentifier"], params
        )
        self.world.snapshots.remove(s)
        return {"DBClusterSnapshot": self._rds_row(s)}

    # ------------------------------------------------------------------ SQS and EventBridge
    def send_message_batch(self, **params: Any) -> dict[str, Any]:
        self._call("SendMessageBatch", params)
        queue = self.world.messages.setdefault(params["QueueUrl"], [])
        queue.extend(params["Entries"])
        return {
            "Successful": [
                {"Id": e["Id"], "MessageId": e["Id"], "MD5OfMessageBody": "x"}
                for e in params["Entries"]
            ],
            "Failed": [],
        }

    def send_message(self, **params: Any) -> dict[str, Any]:
        self._call("SendMessage", params)
        self.world.messages.setdefault(params["QueueUrl"], []).append(params)
        return {"MessageId": "m", "MD5OfMessageBody": "x"}

    def change_message_visibility(self, **params: Any) -> dict[str, Any]:
        self._call("ChangeMessageVisibility", params)
        return {}

    def put_events(self, **params: Any) -> dict[str, Any]:
        self._call("PutEvents", params)
        for entry in params["Entries"]:
            bus = entry["EventBusName"]
            self.world.events.append(
                {
                    "version": "0",
                    "id": f"event-{len(self.world.events)}",
                    "detail-type": entry["DetailType"],
                    "source": entry["Source"],
                    "account": self.account,
                    "time": "2026-11-20T10:00:00Z",
                    "region": bus.split(":")[3],
                    "resources": [],
                    "detail": json.loads(entry["Detail"]),
                    "bus": bus,
                }
            )
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}


__all__ = ["Call", "ClientError", "FakeClient", "ParamValidationError", "World"]
