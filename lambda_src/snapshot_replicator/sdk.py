"""The AWS SDK the functions run on, checked once per cold start.

The asset holds only kmskit's code: boto3 and botocore are the Lambda Python runtime's own, whose
version "depends on the runtime version and your AWS Region" and changes when AWS updates the
runtime, not when this project does (docs/snapshots.md, "The SDK the functions run on"). The
tests run on the project's pinned botocore, so a parameter, operation or paginator newer than the
runtime's would pass every test and fail in AWS: botocore refuses an unknown parameter before
sending (``ParamValidationError``), a missing operation is an ``AttributeError``, a missing
paginator would read only the first page, and a response member missing from an old model is
dropped from the parsed response (EC2, RDS: query protocols), so a copy's tags would look absent.

:data:`REQUIRED` is the one list of every operation, request parameter, paginator and response
member the functions use; tests/lambdas/test_snapshot_copier_stubbed.py checks it against the
requests the code sends (neither more nor less), and tests/lambdas/test_sdk.py checks it against
the oldest botocore the runtime can have. :func:`check` looks it up in the models of the botocore
the function runs on, through the clients the function uses anyway (no extra model is loaded).

Paths: ``Tags[].Key`` is member ``Key`` of the elements of list ``Tags``; ``A{}.B`` is member
``B`` of the values of map ``A``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore
from botocore import xform_name
from botocore.exceptions import (
    DataNotFoundError,
    InvalidMaxRetryAttemptsError,
    InvalidRetryConfigurationError,
    InvalidRetryModeError,
    UnknownServiceError,
)
from botocore.model import OperationNotFoundError, ServiceModel, Shape

if TYPE_CHECKING:
    from kmskit.snapshots.engine import ClientFactory

SDK_TOO_OLD = "SdkTooOld"
# The oldest botocore whose models hold all of REQUIRED, found with real wheels (docs/snapshots.md);
# every Python runtime Lambda offers today bundles a newer one.
MINIMUM_BOTOCORE = "1.27.60"


@dataclass(frozen=True)
class Call:
    """One operation: the request parameters it is sent with, the response members read from
    it (default none), and whether it is read through its paginator (default False)."""

    service: str
    operation: str
    request: tuple[str, ...]
    response: tuple[str, ...] = ()
    paginated: bool = False


_EBS_ROW = (
    "SnapshotId",
    "OwnerId",
    "State",
    "Progress",
    "Encrypted",
    "KmsKeyId",
    "StartTime",
    "Tags[].Key",
    "Tags[].Value",
    "Description",
    "StateMessage",
)
_RDS_ROW = (
    "DBSnapshotIdentifier",
    "DBSnapshotArn",
    "Status",
    "PercentProgress",
    "Encrypted",
    "KmsKeyId",
    "OriginalSnapshotCreateTime",
    "SnapshotCreateTime",
    "TagList[].Key",
    "TagList[].Value",
    "SourceRegion",
)
_AURORA_ROW = (
    "DBClusterSnapshotIdentifier",
    "DBClusterSnapshotArn",
    "Status",
    "PercentProgress",
    "StorageEncrypted",
    "KmsKeyId",
    "SnapshotCreateTime",
    "TagList[].Key",
    "TagList[].Value",
    "SourceDBClusterSnapshotArn",
)


def _rows(field: str, row: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{field}.{path}" for path in row)


_TAGS = ("Tags[].Key", "Tags[].Value")
_PERMISSION = ("AttributeName", "ValuesToAdd", "ValuesToRemove")

REQUIRED: tuple[Call, ...] = (
    Call(
        "ec2",
        "DescribeSnapshots",
        (
            "SnapshotIds",
            "OwnerIds",
            "RestorableByUserIds",
            "Filters[].Name",
            "Filters[].Values",
        ),
        _rows("Snapshots[]", _EBS_ROW),
        paginated=True,
    ),
    Call(
        "ec2",
        "CopySnapshot",
        (
            "SourceRegion",
            "SourceSnapshotId",
            "Encrypted",
            "KmsKeyId",
            "Description",
            "TagSpecifications[].ResourceType",
            "TagSpecifications[].Tags[].Key",
            "TagSpecifications[].Tags[].Value",
        ),
        ("SnapshotId",),
    ),
    Call("ec2", "ModifySnapshotAttribute", ("SnapshotId", "Attribute", "OperationType", "UserIds")),
    Call("ec2", "CreateTags", ("Resources", *_TAGS)),
    Call("ec2", "DeleteSnapshot", ("SnapshotId",)),
    Call(
        "rds",
        "DescribeDBSnapshots",
        ("DBSnapshotIdentifier", "IncludeShared", "SnapshotType"),
        _rows("DBSnapshots[]", _RDS_ROW),
        paginated=True,
    ),
    Call(
        "rds",
        "DescribeDBClusterSnapshots",
        ("DBClusterSnapshotIdentifier", "IncludeShared", "SnapshotType"),
        _rows("DBClusterSnapshots[]", _AURORA_ROW),
        paginated=True,
    ),
    Call(
        "rds",
        "CopyDBSnapshot",
        (
            "SourceDBSnapshotIdentifier",
            "TargetDBSnapshotIdentifier",
            "KmsKeyId",
            *_TAGS,
            "SourceRegion",
        ),
        _rows("DBSnapshot", _RDS_ROW),
    ),
    Call(
        "rds",
        "CopyDBClusterSnapshot",
        (
            "SourceDBClusterSnapshotIdentifier",
            "TargetDBClusterSnapshotIdentifier",
            "KmsKeyId",
            *_TAGS,
            "SourceRegion",
        ),
        _rows("DBClusterSnapshot", _AURORA_ROW),
    ),
    Call("rds", "ModifyDBSnapshotAttribute", ("DBSnapshotIdentifier", *_PERMISSION)),
    Call("rds", "ModifyDBClusterSnapshotAttribute", ("DBClusterSnapshotIdentifier", *_PERMISSION)),
    Call("rds", "AddTagsToResource", ("ResourceName", *_TAGS)),
    Call("rds", "DeleteDBSnapshot", ("DBSnapshotIdentifier",)),
    Call("rds", "DeleteDBClusterSnapshot", ("DBClusterSnapshotIdentifier",)),
    Call(
        "sqs",
        "SendMessageBatch",
        ("QueueUrl", "Entries[].Id", "Entries[].MessageBody", "Entries[].DelaySeconds"),
        ("Failed[].Id", "Failed[].Code", "Failed[].Message", "Failed[].SenderFault"),
    ),
    Call(
        "sqs",
        "SendMessage",
        (
            "QueueUrl",
            "MessageBody",
            "MessageAttributes{}.DataType",
            "MessageAttributes{}.StringValue",
        ),
    ),
    Call("sqs", "ChangeMessageVisibility", ("QueueUrl", "ReceiptHandle", "VisibilityTimeout")),
    Call(
        "events",
        "PutEvents",
        (
            "Entries[].Source",
            "Entries[].DetailType",
            "Entries[].Detail",
            "Entries[].EventBusName",
        ),
        ("FailedEntryCount", "Entries[].ErrorCode", "Entries[].ErrorMessage"),
    ),
)
SERVICES: tuple[str, ...] = tuple(dict.fromkeys(call.service for call in REQUIRED))
# The service of each kind of snapshot; SQS and EventBridge are used whatever the kinds.
_KIND_SERVICES = {"EBS": "ec2", "RDS": "rds", "AURORA": "rds"}
# What a client that cannot be made with the functions' config raises (an unknown retry mode or
# Config option, a service this botocore does not know); anything else is not the SDK's age.
_CLIENT_ERRORS: tuple[type[Exception], ...] = (
    TypeError,
    UnknownServiceError,
    DataNotFoundError,
    InvalidRetryConfigurationError,
    InvalidRetryModeError,
    InvalidMaxRetryAttemptsError,
)


class SdkTooOldError(Exception):
    """The runtime's botocore lacks something :data:`REQUIRED` lists."""


def _step(shape: Shape | None, segment: str) -> Shape | None:
    """The shape one path segment (``Name``, ``Name[]`` or ``Name{}``) leads to, or None."""
    name = segment.removesuffix("[]").removesuffix("{}")
    members: dict[str, Shape] = getattr(shape, "members", {})
    child = members.get(name)
    if child is None:
        return None
    if segment.endswith("[]"):
        return getattr(child, "member", None) if child.type_name == "list" else None
    if segment.endswith("{}"):
        return getattr(child, "value", None) if child.type_name == "map" else None
    return child


def resolves(shape: Shape | None, path: str) -> bool:
    """``path`` (module docstring) names a member of ``shape``."""
    for segment in path.split("."):
        shape = _step(shape, segment)
        if shape is None:
            return False
    return True


def paths(shape: Shape | None, value: Any, prefix: str = "") -> set[str]:
    """The paths of the leaves of ``value`` (request parameters) read along ``shape``: what a
    call sends, in the form :data:`REQUIRED` lists it. A list or map of plain values is one
    leaf; a member the model does not know is a leaf too (botocore refuses it)."""
    kind = shape.type_name if shape is not None else ""
    if kind == "structure" and isinstance(value, dict):
        members: dict[str, Shape] = getattr(shape, "members", {})
        found: set[str] = set()
        for name, item in value.items():
            found |= paths(members.get(name), item, f"{prefix}.{name}" if prefix else name)
        return found
    inner, mark = (getattr(shape, "member", None), "[]") if kind == "list" else (None, "")
    if kind == "map":
        inner, mark = getattr(shape, "value", None), "{}"
    items = value if isinstance(value, list) else list(value.values()) if mark == "{}" else []
    if inner is not None and inner.type_name == "structure" and items:
        return set().union(*(paths(inner, item, prefix + mark) for item in items))
    return {prefix}


def missing(
    model: ServiceModel,
    can_paginate: Callable[[str], bool],
    calls: Iterable[Call] = REQUIRED,
) -> list[str]:
    """What ``model`` (one service's) lacks of ``calls`` (default :data:`REQUIRED`, the calls
    of its service are read), one line each; ``can_paginate`` takes the method name."""
    problems: list[str] = []
    for call in calls:
        if call.service != model.service_name:
            continue
        where = f"{call.service} {call.operation}"
        try:
            operation = model.operation_model(call.operation)
        except OperationNotFoundError:
            problems.append(f"{where}: no such operation")
            continue
        problems.extend(
            f"{where}: request parameter {path}"
            for path in call.request
            if not resolves(operation.input_shape, path)
        )
        problems.extend(
            f"{where}: response member {path}"
            for path in call.response
            if not resolves(operation.output_shape, path)
        )
        if call.paginated and not can_paginate(xform_name(call.operation)):
            problems.append(f"{where}: no paginator")
    return problems


def services_for(kinds: Iterable[str]) -> tuple[str, ...]:
    """The services a function replicating ``kinds`` (EBS, RDS, AURORA) calls."""
    return tuple(dict.fromkeys([*(_KIND_SERVICES[kind] for kind in kinds), "sqs", "events"]))


def check(clients: ClientFactory, region: str, services: Iterable[str] = SERVICES) -> list[str]:
    """What the runtime's botocore lacks of :data:`REQUIRED` for ``services`` (default all),
    through the clients the function uses: ``clients(service, region)`` (kept by the factory,
    so checking costs no extra client). A client that cannot be made with the functions' config
    (an unknown retry mode or option) is a problem too."""
    problems: list[str] = []
    for service in services:
        try:
            client = clients(service, region)
        except _CLIENT_ERRORS as error:
            problems.append(f"{service} client: {type(error).__name__}: {error}")
            continue
        problems.extend(missing(client.meta.service_model, client.can_paginate))
    return problems


def too_old(problems: list[str]) -> str | None:
    """The reason that names the botocore found, what it lacks and the fix; None if nothing."""
    if not problems:
        return None
    return (
        f"the AWS SDK of this Lambda runtime (botocore {botocore.__version__}) lacks what the "
        f"snapshot functions use: {'; '.join(problems)}. Fix: run the functions on a runtime "
        f"whose botocore is {MINIMUM_BOTOCORE} or newer (docs/snapshots.md, 'The SDK the "
        "functions run on'), then redrive the dead-letter queue"
    )
