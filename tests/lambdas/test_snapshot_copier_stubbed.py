"""The copier against botocore Stubber: what moto does not model (cross-account copies, RDS
cross-Region ARN sources, limits, throttling, unusable keys). Every request is checked against
the real service model and the exact parameters below, and against ``sdk.REQUIRED``, the list
the functions check the Lambda runtime's SDK with: each test checks that what it sent is listed,
and the last test that everything listed was sent by some test (neither list can drift)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from kmskit.snapshots.engine import SnapshotInfo
from kmskit.snapshots.model import (
    TAG_COPY_KEY,
    TAG_DESTINATION_ACCOUNT,
    TAG_MANAGED_BY,
    TAG_REPLICATOR,
    TAG_REPLY_REGION,
    TAG_ROLE,
    TAG_STAGING_ARN,
    Origin,
    SnapshotRef,
    copy_key,
    rds_identifier,
    tag_list,
)
from lambda_src.snapshot_replicator import handler as handler_module
from lambda_src.snapshot_replicator.handler import (
    ACCESS_DENIED_RECEIVES,
    RESERVE_MILLIS,
    lambda_clients,
    retry_delay,
)
from lambda_src.snapshot_replicator.messages import Task
from lambda_src.snapshot_replicator.sdk import REQUIRED, paths
from lambda_src.snapshot_replicator.sweep import sweep
from tests.lambdas._support import (
    BACKUP,
    DLQ_URL,
    ONE_ATTEMPT,
    OTHER,
    QUEUE_URL,
    REGION,
    SOURCE,
    fixture,
    metrics,
    receiver_config,
    record,
    replica_copy_task,
    replicator_config,
    runtime,
)

DEST_KEY = f"arn:aws:kms:{OTHER}:{SOURCE}:key/dest"
SHARING_KEY = f"arn:aws:kms:{REGION}:{SOURCE}:key/sharing"
BACKUP_KEY = f"arn:aws:kms:{REGION}:{BACKUP}:key/backup"
WHEN = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
COPY_TAGS = {"CostCenter": "cc-1234", "Owner": "platform-team"}
RECEIVER_BUS = f"arn:aws:events:{REGION}:{BACKUP}:event-bus/kmskit-snapshot-receiver"
REPLICATOR_BUS = f"arn:aws:events:{REGION}:{SOURCE}:event-bus/kmskit-snapshot-replicator"


# What the copier sent in this module's tests: (service, operation) -> request paths, and the
# (service, operation) read through a paginator; the tests that ran.
SENT: dict[tuple[str, str], set[str]] = {}
PAGINATED: set[tuple[str, str]] = set()
RAN: set[str] = set()
LISTED = {(c.service, c.operation): c for c in REQUIRED}


class Stubs:
    """One stubbed client per (service, Region), created on first use, recording the requests
    the copier sends (as ``sdk.paths``) and the paginators it uses."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], Any] = {}
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.sent: dict[tuple[str, str], set[str]] = {}
        self.paginated: set[tuple[str, str]] = set()

    def __call__(self, service: str, region: str) -> Any:
        return self.client(service, region)

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self.clients:
            client = boto3.client(service, region_name=region, config=ONE_ATTEMPT)
            stubber = Stubber(client)
            stubber.activate()
            client.meta.events.register("before-parameter-build", self._record)
            get_paginator = client.get_paginator

            def paginator(name: str, service: str = service) -> Any:
                found = get_paginator(name)
                self.paginated.add((service, found._model.name))
                return found

            client.get_paginator = paginator
            self.clients[(service, region)] = client
            self.stubbers[(service, region)] = stubber
        return self.clients[(service, region)]

    def on(self, service: str, region: str) -> Stubber:
        self.client(service, region)
        return self.stubbers[(service, region)]

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        key = (model.service_model.service_name, model.name)
        self.sent.setdefault(key, set()).update(paths(model.input_shape, params))

    def verify(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()
        unlisted = {
            f"{service} {operation}: {sorted(sent - set(LISTED[(service, operation)].request))}"
            if (service, operation) in LISTED
            else f"{service} {operation}"
            for (service, operation), sent in self.sent.items()
            if (service, operation) not in LISTED
            or not sent <= set(LISTED[(service, operation)].request)
        }
        # A call the runtime's SDK is not checked for: add it to sdk.REQUIRED.
        assert not unlisted, f"sent but not in sdk.REQUIRED: {sorted(unlisted)}"
        unpaged = {p for p in self.paginated if not LISTED[p].paginated}
        assert not unpaged, f"paginated but not so in sdk.REQUIRED: {sorted(unpaged)}"
        for key, sent in self.sent.items():
            SENT.setdefault(key, set()).update(sent)
        PAGINATED.update(self.paginated)


@pytest.fixture(autouse=True)
def _ran(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    RAN.add(request.node.nodeid)


def _required_but_unsent() -> list[str]:
    unsent = [
        f"{c.service} {c.operation}: {path}"
        for c in REQUIRED
        for path in c.request
        if path not in SENT.get((c.service, c.operation), set())
    ]
    return unsent + [
        f"{c.service} {c.operation}: paginator"
        for c in REQUIRED
        if c.paginated and (c.service, c.operation) not in PAGINATED
    ]


@pytest.fixture(autouse=True, scope="module")
def _required_lists_no_more_than_the_copier_sends(
    request: pytest.FixtureRequest,
) -> Iterator[None]:
    """After the module's last test, whatever the order: every call, parameter and paginator
    sdk.REQUIRED lists was sent by one of its tests (so the SDK check demands nothing the
    functions do not use). A run of part of the module (``-k``) sends less, so it is checked
    only when every test of the module ran; CI runs them all. A miss fails the last test's
    teardown."""
    # Every test the module holds, not only those selected (a -k run deselects the rest).
    module = {item.nodeid for item in request.node.collect()}
    yield
    if module <= RAN:
        unsent = _required_but_unsent()
        assert not unsent, f"in sdk.REQUIRED but sent by no test: {unsent}"


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    stubs = Stubs()
    yield stubs
    stubs.verify()


def rds_task(kind: str = "RDS", ident: str = "orders-before-upgrade") -> Task:
    source = SnapshotRef(kind, ident, REGION, SOURCE)  # type: ignore[arg-type]
    return replica_copy_task(source, DEST_KEY, WHEN)


def replica_name(task: Task) -> str:
    """The RDS identifier of the replica copy of ``task`` made in OTHER."""
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    return rds_identifier(task.origin, key, "replica")


def expect_sent(stubs: Stubs, body: Any, delay: int, queue_url: str = QUEUE_URL) -> None:
    """One message with ``body`` queued with ``delay`` seconds in a batch SQS takes whole."""
    stubs.on("sqs", REGION).add_response(
        "send_message_batch",
        {"Successful": [], "Failed": []},
        {
            "QueueUrl": queue_url,
            "Entries": [{"Id": "0", "MessageBody": body, "DelaySeconds": delay}],
        },
    )


class Captured:
    """A Stubber parameter that matches anything and keeps what it was compared with."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __eq__(self, other: object) -> bool:
        self.values.append(other)
        return True

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]


def expect_watch(stubs: Stubs, queue_url: str = QUEUE_URL) -> None:
    expect_sent(stubs, ANY, 900, queue_url)


def by_copy_key(key: str) -> dict[str, Any]:
    """The describe_snapshots parameters that find this account's EBS copies by copy key."""
    return {"OwnerIds": ["self"], "Filters": [{"Name": f"tag:{TAG_COPY_KEY}", "Values": [key]}]}


def rds_row(
    ident: str, region: str, status: str, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "DBSnapshotIdentifier": ident,
        "DBSnapshotArn": f"arn:aws:rds:{region}:{SOURCE}:snapshot:{ident}",
        "Status": status,
        "PercentProgress": 100 if status == "available" else 40,
        "Encrypted": True,
        "KmsKeyId": DEST_KEY,
        "SnapshotCreateTime": WHEN,
        "TagList": tag_list(tags or {}),
    }


def test_rds_cross_region_copy_names_the_source_by_arn(stubs: Stubs) -> None:
    task = rds_task()
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    target = rds_identifier(task.origin, key, "replica")
    stubs.on("rds", OTHER).add_response(
        "copy_db_snapshot",
        {"DBSnapshot": rds_row(target, OTHER, "creating")},
        {
            "SourceDBSnapshotIdentifier": (
                f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:orders-before-upgrade"
            ),
            "TargetDBSnapshotIdentifier": target,
            "KmsKeyId": DEST_KEY,
            "Tags": ANY,
            "SourceRegion": REGION,
        },
    )
    expect_watch(stubs)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert target.startswith("kmskit-r-orders-before-upgrade-")
    assert metrics(rt, "CopiesStarted") == 1


def test_aurora_cluster_snapshot_copy(stubs: Stubs) -> None:
    task = rds_task("AURORA", "ledger-nightly")
    target = replica_name(task)
    stubs.on("rds", OTHER).add_response(
        "copy_db_cluster_snapshot",
        {
            "DBClusterSnapshot": {
                "DBClusterSnapshotIdentifier": target,
                "DBClusterSnapshotArn": f"arn:aws:rds:{OTHER}:{SOURCE}:cluster-snapshot:{target}",
                "Status": "copying",
            }
        },
        {
            "SourceDBClusterSnapshotIdentifier": (
                f"arn:aws:rds:{REGION}:{SOURCE}:cluster-snapshot:ledger-nightly"
            ),
            "TargetDBClusterSnapshotIdentifier": target,
            "KmsKeyId": DEST_KEY,
            "Tags": ANY,
            "SourceRegion": REGION,
        },
    )
    expect_watch(stubs)
    assert runtime(replicator_config(), stubs).process([record(task.to_json())]) == {
        "batchItemFailures": []
    }


def test_automated_rds_snapshot_is_selected_and_queued(stubs: Stubs) -> None:
    ident = "rds:orders-db-2026-11-20-12-24"
    stubs.on("rds", REGION).add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [rds_row(ident, REGION, "available", {"backup": "replicate"})]},
        # RDS finds an automated snapshot by its identifier only with SnapshotType.
        {"DBSnapshotIdentifier": ident, "IncludeShared": False, "SnapshotType": "automated"},
    )
    expect_sent(stubs, ANY, 0)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(fixture("rds_automated_snapshot_created"))]) == {
        "batchItemFailures": []
    }
    # The manual copy gets a valid RDS identifier: no "rds:" prefix, letters/digits/hyphens.
    source = SnapshotRef("RDS", ident, REGION, SOURCE)
    origin = Origin.of(source, WHEN)
    key = copy_key(origin, region=OTHER, account=SOURCE, role="replica")
    name = rds_identifier(origin, key, "replica")
    assert name.startswith("kmskit-r-orders-db-2026-11-20-12-24-")
    assert len(name) <= 63
    assert "--" not in name
    assert ":" not in name


def test_db_snapshot_already_exists_counts_as_success(stubs: Stubs) -> None:
    task = rds_task()
    target = replica_name(task)
    stubs.on("rds", OTHER).add_client_error(
        "copy_db_snapshot", "DBSnapshotAlreadyExists", "Cannot create the snapshot"
    )
    stubs.on("rds", OTHER).add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [rds_row(target, OTHER, "available")]},
        {"DBSnapshotIdentifier": target, "IncludeShared": False},
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    # Found, not made: the request that made the copy counted it (started and completed).
    assert metrics(rt, "CopiesStarted") == 0
    assert metrics(rt, "CopiesCompleted") == 0


def ebs_task(role: str = "replica") -> Task:
    source = SnapshotRef("EBS", "snap-01234567", REGION, SOURCE)
    return replica_copy_task(source, DEST_KEY, WHEN, role)  # type: ignore[arg-type]


def expect_no_ebs_copy_yet(stubs: Stubs, task: Task) -> None:
    key = copy_key(task.origin, region=task.region, account=SOURCE, role=task.role)
    stubs.on("ec2", task.region).add_response(
        "describe_snapshots", {"Snapshots": []}, by_copy_key(key)
    )


@pytest.mark.parametrize(
    ("service", "operation", "code", "task"),
    [
        ("ec2", "copy_snapshot", "ResourceLimitExceeded", ebs_task()),
        ("rds", "copy_db_snapshot", "SnapshotQuotaExceeded", rds_task()),
        ("rds", "copy_db_cluster_snapshot", "SnapshotQuotaExceeded", rds_task("AURORA", "c1")),
    ],
)
def test_a_copy_limit_queues_the_copy_again_to_wait_for_a_slot(
    stubs: Stubs, service: str, operation: str, code: str, task: Task
) -> None:
    if service == "ec2":
        expect_no_ebs_copy_yet(stubs, task)
    stubs.on(service, OTHER).add_client_error(operation, code, "too many copies in progress")
    waiting = replace(task, waits=1).to_json()
    stubs.on("sqs", REGION).add_response(
        "send_message_batch",
        {"Successful": [{"Id": "0", "MessageId": "m", "MD5OfMessageBody": "x"}], "Failed": []},
        {
            "QueueUrl": QUEUE_URL,
            "Entries": [{"Id": "0", "MessageBody": waiting, "DelaySeconds": 900}],
        },
    )
    rt = runtime(replicator_config(), stubs)
    # Waiting for a slot is not a failure: the record is deleted, the copy is queued again.
    assert rt.process([record(task.to_json(), receive_count=7)]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 0


def test_copies_into_a_full_region_wait_without_asking_again(stubs: Stubs) -> None:
    first, second = rds_task(ident="db-one"), rds_task(ident="db-two")
    stubs.on("rds", OTHER).add_client_error("copy_db_snapshot", "SnapshotQuotaExceeded", "full")
    stubs.on("sqs", REGION).add_response(
        "send_message_batch",
        {"Successful": [], "Failed": []},
        {
            "QueueUrl": QUEUE_URL,
            "Entries": [
                {"Id": "0", "MessageBody": replace(first, waits=1).to_json(), "DelaySeconds": 900},
                {"Id": "1", "MessageBody": replace(second, waits=1).to_json(), "DelaySeconds": 900},
            ],
        },
    )
    rt = runtime(replicator_config(), stubs)
    batch = [record(first.to_json()), record(second.to_json())]
    assert rt.process(batch) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("operation", "task"),
    [("copy_db_snapshot", rds_task()), ("copy_db_cluster_snapshot", rds_task("AURORA", "c1"))],
)
def test_the_manual_snapshot_quota_is_dead_lettered_at_once_naming_the_quota(
    stubs: Stubs, operation: str, task: Task
) -> None:
    # RDS answers SnapshotQuotaExceeded for its copies in progress and for the Region's manual
    # snapshot quota alike. The quota was taken as a copy limit: the task waited 192 times (two
    # days) for a slot that no completed copy frees, then was dead-lettered as "waited for a
    # copy slot".
    stubs.on("rds", OTHER).add_client_error(
        operation, "SnapshotQuotaExceeded", "Cannot create more than 100 manual snapshots"
    )
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains(
            "SnapshotQuotaExceeded: Cannot create more than 100 manual snapshots",
            "the Region's quota of manual RDS snapshots, 100 by default",
            "delete manual snapshots no longer needed or ask for a higher quota",
        ),
        "ManualSnapshotQuotaExceeded",
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "WaitingForCopySlot") == 0


def test_a_copy_that_waited_two_days_is_dead_lettered(stubs: Stubs) -> None:
    task = replace(rds_task(), waits=192)
    stubs.on("rds", OTHER).add_client_error("copy_db_snapshot", "SnapshotQuotaExceeded", "full")
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains("waited 192 times for a copy slot", "SnapshotQuotaExceeded"),
        "SnapshotQuotaExceeded",
    )
    assert runtime(replicator_config(), stubs).process([record(task.to_json())]) == {
        "batchItemFailures": []
    }


@pytest.mark.parametrize(
    ("service", "operation", "code", "task"),
    [
        ("ec2", "copy_snapshot", "RequestLimitExceeded", ebs_task()),
        ("rds", "copy_db_snapshot", "ThrottlingException", rds_task()),
        ("rds", "copy_db_cluster_snapshot", "Throttling", rds_task("AURORA", "c1")),
    ],
)
@pytest.mark.parametrize("receive_count", [1, 3])
def test_throttling_comes_back_later(
    stubs: Stubs, service: str, operation: str, code: str, task: Task, receive_count: int
) -> None:
    assert_comes_back_later(stubs, service, operation, code, task, receive_count, status=400)
    assert retry_delay(receive_count) == 60 * 2 ** (receive_count - 1)


def assert_comes_back_later(
    stubs: Stubs,
    service: str,
    operation: str,
    code: str,
    task: Task,
    receive_count: int,
    *,
    status: int,
) -> None:
    """The copy call of ``task`` refused with ``code``: the record is hidden for a while and
    reported as a batch item failure, not dead-lettered."""
    if service == "ec2":
        expect_no_ebs_copy_yet(stubs, task)
    stubs.on(service, OTHER).add_client_error(operation, code, "refused", http_status_code=status)
    message = record(task.to_json(), receive_count=receive_count)
    expect_retry(stubs, message, receive_count)
    rt = runtime(replicator_config(), stubs)
    failed = {"batchItemFailures": [{"itemIdentifier": message["messageId"]}]}
    assert rt.process([message]) == failed
    assert metrics(rt, "DeadLettered") == 0


def expect_dead_letter(
    stubs: Stubs, body: Any, reason: Any, code: str, count: int = 1, queue_url: str = DLQ_URL
) -> None:
    stubs.on("sqs", REGION).add_response(
        "send_message",
        {"MessageId": "dlq-1"},
        {
            "QueueUrl": queue_url,
            "MessageBody": body,
            "MessageAttributes": {
                "reason": {"DataType": "String", "StringValue": reason},
                "error_code": {"DataType": "String", "StringValue": code},
                "receive_count": {"DataType": "Number", "StringValue": str(count)},
            },
        },
    )


class Contains:
    """Matches a string containing every fragment."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, *fragments: str) -> None:
        self.fragments = fragments

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and all(f in other for f in self.fragments)

    def __repr__(self) -> str:
        return f"Contains{self.fragments}"


def test_last_allowed_receive_goes_to_the_dead_letter_queue_with_the_reason(stubs: Stubs) -> None:
    task = ebs_task()
    expect_no_ebs_copy_yet(stubs, task)
    stubs.on("ec2", OTHER).add_client_error("copy_snapshot", "RequestLimitExceeded", "slow down")
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains("gave up after 5 attempts", "RequestLimitExceeded"),
        "RequestLimitExceeded",
        count=5,
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json(), receive_count=5)]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1


def test_kms_key_not_accessible_goes_to_the_dead_letter_queue_on_the_third_receive(
    stubs: Stubs,
) -> None:
    task = rds_task()
    stubs.on("rds", OTHER).add_client_error(
        "copy_db_snapshot", "KMSKeyNotAccessibleFault", "The specified KMS key is not accessible"
    )
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains(
            "refused on receive 3 (a refusal is retried until receive 3",
            "KMSKeyNotAccessibleFault",
            "check its key policy",
            DEST_KEY,
        ),
        "KMSKeyNotAccessibleFault",
        count=3,
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json(), receive_count=3)]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1


@pytest.mark.parametrize(
    ("service", "operation", "code", "task"),
    [
        ("ec2", "copy_snapshot", "UnauthorizedOperation", ebs_task()),
        ("rds", "copy_db_snapshot", "AccessDenied", rds_task()),
        ("rds", "copy_db_snapshot", "KMSKeyNotAccessibleFault", rds_task()),
    ],
)
@pytest.mark.parametrize("receive_count", [1, 2])
def test_a_refusal_by_iam_or_a_key_policy_is_retried_for_a_few_minutes(
    stubs: Stubs, service: str, operation: str, code: str, task: Task, receive_count: int
) -> None:
    # A deployment that adds a destination adds its permissions too, and IAM and KMS apply a
    # new permission everywhere only after a while: an event right after it must not go to the
    # dead-letter queue for that.
    assert_comes_back_later(stubs, service, operation, code, task, receive_count, status=403)


OPT_IN = "ap-east-1"  # an opt-in Region (kmskit.aws_names.opt_in)
OPT_IN_KEY = f"arn:aws:kms:{OPT_IN}:{SOURCE}:key/dest"


class Lacks:
    """Matches a string holding none of the fragments."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, *fragments: str) -> None:
        self.fragments = fragments

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and not any(f in other for f in self.fragments)

    def __repr__(self) -> str:
        return f"Lacks{self.fragments}"


@pytest.mark.parametrize(
    ("service", "operation", "code", "task"),
    [
        # EBS looks for an earlier copy in the destination Region first: that call is refused.
        ("ec2", "describe_snapshots", "AuthFailure", ebs_task()),
        ("rds", "copy_db_snapshot", "InvalidClientTokenId", rds_task()),
        ("rds", "copy_db_cluster_snapshot", "UnrecognizedClientException", rds_task("AURORA")),
    ],
)
def test_a_copy_into_an_opt_in_region_refusing_the_credentials_is_dead_lettered_with_the_hint(
    stubs: Stubs, service: str, operation: str, code: str, task: Task
) -> None:
    # A Region the account has not enabled refuses the credentials as if they were bad: the
    # dead letter says what to check there, as `kmskit snapshot copy` does (opt_in_hint).
    task = replace(task, region=OPT_IN, kms_key_arn=OPT_IN_KEY)
    config = replicator_config(destinations=[{"region": OPT_IN, "kms_key_arn": OPT_IN_KEY}])
    stubs.on(service, OPT_IN).add_client_error(
        operation, code, "The security token included in the request is invalid", 403
    )
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains(
            code,
            f"({OPT_IN} is an opt-in Region, disabled until the account enables it: check that "
            f"the account has enabled it (aws account get-region-opt-status --region-name "
            f"{OPT_IN})",
            "use a Regional STS endpoint)",
        ),
        code,
    )
    rt = runtime(config, stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1


@pytest.mark.parametrize(
    ("code", "region"),
    [("InvalidClientTokenId", OTHER), ("AccessDenied", OPT_IN)],
)
def test_no_opt_in_hint_for_a_default_region_or_another_refusal(
    stubs: Stubs, code: str, region: str
) -> None:
    # OTHER is enabled in every account; AccessDenied means the credentials were accepted.
    key = f"arn:aws:kms:{region}:{SOURCE}:key/dest"
    task = replace(rds_task(), region=region, kms_key_arn=key)
    config = replicator_config(destinations=[{"region": region, "kms_key_arn": key}])
    stubs.on("rds", region).add_client_error("copy_db_snapshot", code, "refused", 403)
    expect_dead_letter(
        stubs,
        task.to_json(),
        Lacks("opt-in"),
        code,
        count=ACCESS_DENIED_RECEIVES,
    )
    rt = runtime(config, stubs)
    processed = rt.process([record(task.to_json(), receive_count=ACCESS_DENIED_RECEIVES)])
    assert processed == {"batchItemFailures": []}


def test_given_key_id_is_not_accessible_dead_letters_the_copy_task(stubs: Stubs) -> None:
    event = fixture("ebs_copy_snapshot_failed")
    task = ebs_task()
    copy_id = "snap-0aaaa1111bbbb2222"
    tags = {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: "Source-Replicate",
        TAG_ROLE: "replica",
        **task.origin.tags(),
    }
    stubs.on("ec2", OTHER).add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": copy_id,
                    "OwnerId": SOURCE,
                    "State": "error",
                    "StateMessage": "Given key ID is not accessible",
                    "Encrypted": True,
                    "KmsKeyId": DEST_KEY,
                    "Tags": tag_list(tags),
                }
            ]
        },
        {"SnapshotIds": [copy_id]},
    )
    redrive = task.with_action("copy", SnapshotRef("EBS", copy_id, OTHER, SOURCE)).to_json()
    expect_dead_letter(
        stubs, redrive, Contains("Given key ID is not accessible", copy_id), "KeyNotAccessible"
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "CopyFailed") == 1
    redriven = json.loads(redrive)
    assert redriven["action"] == "copy"
    assert redriven["source"]["id"] == "snap-01234567"


def test_a_failed_rds_copy_is_dead_lettered_saying_where_rds_tells_why(stubs: Stubs) -> None:
    # RDS reports no reason in the describe, only the status: the dead letter said
    # "copy ... failed: failed" though the docs promise the service's reason.
    task = rds_task()
    target = replica_name(task)
    stubs.on("rds", OTHER).add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [rds_row(target, OTHER, "failed")]},
        {"DBSnapshotIdentifier": target, "IncludeShared": False},
    )
    watch = task.with_action("watch", SnapshotRef("RDS", target, OTHER, SOURCE))
    expect_dead_letter(
        stubs,
        watch.with_action("copy").to_json(),
        Contains(
            f"arn:aws:rds:{OTHER}:{SOURCE}:snapshot:{target} of {task.source.arn} failed: "
            f"{rds_copy_failure(target)}"
        ),
        "CopyFailed",
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(watch.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "CopyFailed") == 1


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps({"hello": "world"}),
        json.dumps(
            {
                "version": "0",
                "detail-type": "EC2 Instance State-change Notification",
                "source": "aws.ec2",
                "account": SOURCE,
                "region": REGION,
                "detail": {"instance-id": "i-0123", "state": "running"},
            }
        ),
        json.dumps(fixture("ebs_create_snapshot", detail={"snapshot_id": "not-an-arn"})),
    ],
)
def test_unknown_shapes_are_logged_and_dropped(stubs: Stubs, body: str) -> None:
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(body)]) == {"batchItemFailures": []}
    messages = [line.get("message") for line in rt.log.lines or []]
    assert "unknown message shape: dropped" in messages
    assert stubs.clients == {}  # no AWS call at all


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            json.dumps({"kmskit": "kmskit-snapshot-task/3", "action": "copy", "role": "replica"}),
            "task of another version (kmskit-snapshot-task/3; this copier reads "
            "kmskit-snapshot-task/1 and kmskit-snapshot-task/2)",
        ),
        (
            json.dumps(
                {"kmskit": "kmskit-snapshot-task/1", "action": "explode", "role": "replica"}
            ),
            "task this copier cannot read (kmskit-snapshot-task/1)",
        ),
    ],
)
def test_kmskit_messages_it_cannot_read_are_dead_lettered_not_dropped(
    stubs: Stubs, body: str, reason: str
) -> None:
    expect_dead_letter(stubs, body, reason, "UnreadableMessage")
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(body)]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1
    messages = [line.get("message") for line in rt.log.lines or []]
    assert "unknown message shape: dropped" not in messages


# ---------------------------------------------------------------------- cross-account
def cross_account_config() -> Any:
    return replicator_config(
        destinations=[{"region": REGION, "account": BACKUP, "kms_key_arn": SHARING_KEY}]
    )


def staging_tags(task: Task) -> dict[str, str]:
    return {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: "Source-Replicate",
        TAG_ROLE: "staging",
        TAG_DESTINATION_ACCOUNT: BACKUP,
        **task.origin.tags(),
    }


def test_staging_copy_is_shared_with_the_target_and_announced(stubs: Stubs) -> None:
    source = SnapshotRef("EBS", "snap-01234567", REGION, SOURCE)
    task = Task(
        action="watch",
        role="staging",
        source=source,
        origin=Origin.of(source, WHEN),
        region=REGION,
        kms_key_arn=SHARING_KEY,
        destination_account=BACKUP,
        copy=SnapshotRef("EBS", "snap-0staging", REGION, SOURCE),
    )
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0staging",
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Progress": "100%",
                    "Encrypted": True,
                    "KmsKeyId": SHARING_KEY,
                    "Tags": tag_list(staging_tags(task)),
                }
            ]
        },
        {"SnapshotIds": ["snap-0staging"]},
    )
    ec2.add_response(
        "modify_snapshot_attribute",
        {},
        {
            "SnapshotId": "snap-0staging",
            "Attribute": "createVolumePermission",
            "OperationType": "add",
            "UserIds": [BACKUP],
        },
    )
    stubs.on("events", REGION).add_response(
        "put_events",
        {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]},
        {
            "Entries": [
                {
                    "Source": "kmskit.snapshots",
                    "DetailType": "kmskit Snapshot Shared",
                    "Detail": Contains(
                        '"snapshot_arn": "arn:aws:ec2:eu-west-1::snapshot/snap-0staging"'
                    ),
                    "EventBusName": RECEIVER_BUS,
                }
            ]
        },
    )
    rt = runtime(cross_account_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}


def expect_a_shared_ebs_snapshot_not_copied_yet(stubs: Stubs) -> tuple[Origin, str, str]:
    """The receiver finds the staging copy of ``ebs_share_snapshot`` and no copy of its own.

    Returns the origin, the shared snapshot ID and the copy key of the received copy."""
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    shared = "snap-0cccc3333dddd4444"
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": shared,
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Encrypted": True,
                    "KmsKeyId": SHARING_KEY,
                    "Description": origin.description(),
                }
            ]
        },
        {"SnapshotIds": [shared]},
    )
    key = copy_key(origin, region=REGION, account=BACKUP, role="received")
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(key))
    return origin, shared, key


@pytest.mark.parametrize("copy_tags", [None, COPY_TAGS])
def test_receiver_copies_a_shared_ebs_snapshot_with_its_own_key(
    stubs: Stubs, copy_tags: dict[str, str] | None
) -> None:
    origin, shared, key = expect_a_shared_ebs_snapshot_not_copied_yet(stubs)
    ec2 = stubs.on("ec2", REGION)
    specs = Capture()
    ec2.add_response(
        "copy_snapshot",
        {"SnapshotId": "snap-0received"},
        {
            "SourceRegion": REGION,
            "SourceSnapshotId": shared,
            "Encrypted": True,
            "KmsKeyId": BACKUP_KEY,
            "Description": origin.description(),
            "TagSpecifications": specs,
        },
    )
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(key))
    config = receiver_config(**({"copy_tags": copy_tags} if copy_tags else {}))
    expect_watch(stubs, config.queue_url)
    rt = runtime(config, stubs)
    assert rt.process([record(fixture("ebs_share_snapshot"))]) == {"batchItemFailures": []}
    # The received copy names the staging copy it came from: its copySnapshot event alone must
    # lead back to the replicator that waits for the Received notice.
    tags = tags_of_request(specs)
    assert tags[TAG_STAGING_ARN] == f"arn:aws:ec2:{REGION}::snapshot/{shared}"
    assert tags[TAG_REPLY_REGION] == REGION
    assert tags[TAG_ROLE] == "received"
    assert tags[TAG_COPY_KEY] == key
    # Configured copy tags go on it too, beside (never instead of) the toolkit's own.
    assert {k: v for k, v in tags.items() if not k.startswith("kmskit:")} == (copy_tags or {})


def shared_notice(snapshot_arn: str, event_id: str) -> dict[str, Any]:
    """The Shared notice the source account puts on the receiver's bus."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "kmskit Snapshot Shared",
        "source": "kmskit.snapshots",
        "account": SOURCE,
        "time": "2026-11-20T13:40:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"snapshot_arn": snapshot_arn, "reply_region": REGION},
    }


@pytest.mark.parametrize("copy_tags", [None, COPY_TAGS])
def test_receiver_copies_a_shared_rds_snapshot_by_its_arn(
    stubs: Stubs, copy_tags: dict[str, str] | None
) -> None:
    staging = "kmskit-s-orders-before-upgrade-0123456789abcdef"
    arn = f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:{staging}"
    event = shared_notice(arn, "6a7e8feb-b491-4cf7-a9f1-bf3703467718")
    rds = stubs.on("rds", REGION)
    rds.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [{**rds_row(staging, REGION, "available"), "KmsKeyId": SHARING_KEY}]},
        {"DBSnapshotIdentifier": arn, "IncludeShared": True},
    )
    origin = Origin("RDS", staging, REGION, SOURCE, "2026-11-20T10:00:00Z")
    target = rds_identifier(
        origin, copy_key(origin, region=REGION, account=BACKUP, role="received"), "received"
    )
    tags = Capture()
    rds.add_response(
        "copy_db_snapshot",
        {"DBSnapshot": rds_row(target, REGION, "creating")},
        {
            "SourceDBSnapshotIdentifier": arn,
            "TargetDBSnapshotIdentifier": target,
            "KmsKeyId": BACKUP_KEY,
            "Tags": tags,
        },
    )
    config = receiver_config(**({"copy_tags": copy_tags} if copy_tags else {}))
    expect_watch(stubs, config.queue_url)
    rt = runtime(config, stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    received = tags_of_request(tags)
    assert received[TAG_STAGING_ARN] == arn
    assert received[TAG_ROLE] == "received"
    assert {k: v for k, v in received.items() if not k.startswith("kmskit:")} == (copy_tags or {})


def test_receiver_ignores_snapshots_shared_by_other_accounts(stubs: Stubs) -> None:
    event = fixture("ebs_share_snapshot", detail={"source": "999999999999"})
    rt = runtime(receiver_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert stubs.clients == {}


def expect_received_notice(stubs: Stubs, staging: SnapshotRef, event_id: str) -> None:
    """The receiver tells the replicator's bus that it has its copy of ``staging``."""
    stubs.on("events", REGION).add_response(
        "put_events",
        {"FailedEntryCount": 0, "Entries": [{"EventId": event_id}]},
        {
            "Entries": [
                {
                    "Source": "kmskit.snapshots",
                    "DetailType": "kmskit Snapshot Received",
                    "Detail": Contains(staging.arn),
                    "EventBusName": REPLICATOR_BUS,
                }
            ]
        },
    )


def test_received_copy_goes_on_and_reports_back(stubs: Stubs) -> None:
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    staging = SnapshotRef("EBS", "snap-0staging", REGION, SOURCE)
    task = Task(
        action="watch",
        role="received",
        source=staging,
        origin=origin,
        region=REGION,
        kms_key_arn=BACKUP_KEY,
        copy=SnapshotRef("EBS", "snap-0received", REGION, BACKUP),
        reply_region=REGION,
    )
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0received",
                    "OwnerId": BACKUP,
                    "State": "completed",
                    "Encrypted": True,
                    "KmsKeyId": BACKUP_KEY,
                    "Tags": tag_list(
                        {
                            TAG_MANAGED_BY: "kmskit-snapshots",
                            TAG_REPLICATOR: "Backup-Receive",
                            TAG_ROLE: "received",
                            TAG_STAGING_ARN: staging.arn,
                            TAG_REPLY_REGION: REGION,
                            **origin.tags(),
                        }
                    ),
                }
            ]
        },
        {"SnapshotIds": ["snap-0received"]},
    )
    onward_key = f"arn:aws:kms:{OTHER}:{BACKUP}:key/b2"
    config = receiver_config(destinations=[{"region": OTHER, "kms_key_arn": onward_key}])
    sent = Captured()
    expect_sent(stubs, sent, 0, config.queue_url)
    expect_received_notice(stubs, staging, "e-2")
    rt = runtime(config, stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    # One onward copy per destination, of the received copy, under that destination's key.
    (body,) = sent.values
    onward = Task.from_dict(json.loads(body))
    assert (onward.action, onward.role, onward.region, onward.kms_key_arn) == (
        "copy",
        "replica",
        OTHER,
        onward_key,
    )
    assert onward.source == SnapshotRef("EBS", "snap-0received", REGION, BACKUP)


@pytest.mark.parametrize("copy_tags", [None, COPY_TAGS])
def test_received_notice_unshares_the_staging_copy(
    stubs: Stubs, copy_tags: dict[str, str] | None
) -> None:
    # With copy_tags, the delivered mark's tagging call carries them too: an SCP that requires
    # request tags on every ec2:CreateTags would refuse it otherwise.
    source = SnapshotRef("EBS", "snap-01234567", REGION, SOURCE)
    task = Task("copy", "staging", source, Origin.of(source, WHEN), REGION, SHARING_KEY, BACKUP)
    event = received_notice(
        BACKUP, "snap-0staging", event_id="0c1d2e3f-0000-1111-2222-333344445555"
    )
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0staging",
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Tags": tag_list(staging_tags(task)),
                }
            ]
        },
        {"SnapshotIds": ["snap-0staging"]},
    )
    ec2.add_response(
        "modify_snapshot_attribute",
        {},
        {
            "SnapshotId": "snap-0staging",
            "Attribute": "createVolumePermission",
            "OperationType": "remove",
            "UserIds": [BACKUP],
        },
    )
    ec2.add_response(
        "create_tags",
        {},
        {
            "Resources": ["snap-0staging"],
            "Tags": [*tag_list(copy_tags or {}), {"Key": "kmskit:delivered", "Value": ANY}],
        },
    )
    config = replicator_config(
        destinations=[{"region": REGION, "account": BACKUP, "kms_key_arn": SHARING_KEY}],
        **({"copy_tags": copy_tags} if copy_tags else {}),
    )
    rt = runtime(config, stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "Delivered") == 1


def test_received_notice_from_an_unknown_account_changes_nothing(stubs: Stubs) -> None:
    event = received_notice(
        "999999999999", "snap-0staging", event_id="0c1d2e3f-0000-1111-2222-333344445556"
    )
    rt = runtime(cross_account_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert stubs.clients == {}


def test_a_second_task_for_a_waiting_copy_is_dropped(stubs: Stubs) -> None:
    task = rds_task()
    stubs.on("rds", OTHER).add_client_error("copy_db_snapshot", "SnapshotQuotaExceeded", "full")
    expect_sent(stubs, replace(task, waits=1).to_json(), 900)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    # The sweep queues the same copy again a minute later: one waiting task is enough.
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    lines = [line.get("message") for line in rt.log.lines or []]
    assert "already waiting for a copy slot" in lines


def test_a_wait_that_could_not_be_queued_is_retried_not_dropped(stubs: Stubs) -> None:
    task = rds_task()
    rds = stubs.on("rds", OTHER)
    rds.add_client_error("copy_db_snapshot", "SnapshotQuotaExceeded", "full")
    sqs = stubs.on("sqs", REGION)
    sqs.add_client_error("send_message_batch", "InternalError", "try again", http_status_code=500)
    first = record(task.to_json())
    rt = runtime(replicator_config(), stubs)
    assert rt.process([first]) == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    # Delivered again: the wait was never queued, so it is queued now (not dropped).
    expect_sent(stubs, replace(task, waits=1).to_json(), 900)
    assert rt.process([record(task.to_json(), receive_count=2)]) == {"batchItemFailures": []}


def test_next_steps_not_queued_on_the_last_receive_are_dead_lettered_with_the_reason(
    stubs: Stubs,
) -> None:
    task = rds_task()
    stubs.on("rds", OTHER).add_client_error("copy_db_snapshot", "SnapshotQuotaExceeded", "full")
    sqs = stubs.on("sqs", REGION)
    sqs.add_client_error("send_message_batch", "InternalError", "try again", http_status_code=500)
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains("last allowed receive (5)", "next steps could not be queued"),
        "NextStepsNotQueued",
        count=5,
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json(), receive_count=5)]) == {"batchItemFailures": []}


def test_a_duplicate_of_a_failed_record_on_its_last_receive_is_dead_lettered(
    stubs: Stubs,
) -> None:
    task = ebs_task()
    expect_no_ebs_copy_yet(stubs, task)
    stubs.on("ec2", OTHER).add_client_error("copy_snapshot", "RequestLimitExceeded", "slow down")
    first = record(task.to_json())
    duplicate = record(task.to_json(), receive_count=5)
    expect_retry(stubs, first, 1)
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains("last allowed receive (5)", f"a duplicate of record {first['messageId']}"),
        "FailedDuplicate",
        count=5,
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([first, duplicate]) == {
        "batchItemFailures": [{"itemIdentifier": first["messageId"]}]
    }


def test_a_task_rebuilt_from_a_copys_tags_keeps_the_partition() -> None:
    # In aws-cn the rebuilt source was named arn:aws:rds:cn-north-1:..., which no copy can use.
    config = replicator_config(
        partition="aws-cn",
        region="cn-north-1",
        destinations=[
            {
                "region": "cn-northwest-1",
                "kms_key_arn": f"arn:aws-cn:kms:cn-northwest-1:{SOURCE}:key/k",
            }
        ],
    )
    rt = runtime(config, lambda service, region: None)
    source = SnapshotRef("RDS", "orders", "cn-north-1", SOURCE, "aws-cn")
    origin = Origin.of(source, WHEN)
    tags = rt.engine.copy_tags(
        origin, region="cn-northwest-1", role="replica", destination_account=None
    )
    copy = SnapshotInfo(
        ref=SnapshotRef("RDS", "kmskit-r-orders-x", "cn-northwest-1", SOURCE, "aws-cn"),
        state="failed",
        progress=0,
        encrypted=True,
        kms_key_id=f"arn:aws-cn:kms:cn-northwest-1:{SOURCE}:key/k",
        created=None,
        tags=tags,
        message="failed",
    )
    task = rt.workflow.task_from_copy(copy)
    assert task is not None
    assert task.source.arn == source.arn


# ------------------------------------------------------------- redrives and vanished copies
def test_a_retry_while_the_failed_rds_copy_is_deleting_comes_back_later(stubs: Stubs) -> None:
    task = rds_task()
    target = replica_name(task)
    rds = stubs.on("rds", OTHER)
    # The failed copy was deleted on the previous try; its name is taken until it is gone.
    rds.add_client_error("copy_db_snapshot", "DBSnapshotAlreadyExists", "exists")
    rds.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [rds_row(target, OTHER, "deleting")]},
        {"DBSnapshotIdentifier": target, "IncludeShared": False},
    )
    # Retried, not taken for the copy (no watch queued) and not dead-lettered.
    assert_retried_later(stubs, task, receive_count=2)


def vanished_rds_watch(stubs: Stubs) -> Task:
    """A watch task for the RDS copy of ``rds_task()``, which RDS no longer finds."""
    task = rds_task()
    target = replica_name(task)
    stubs.on("rds", OTHER).add_client_error(
        "describe_db_snapshots", "DBSnapshotNotFound", f"{target} not found"
    )
    return task.with_action("watch", SnapshotRef("RDS", target, OTHER, SOURCE))


def test_a_watched_rds_copy_that_vanished_is_copied_again(stubs: Stubs) -> None:
    watch = vanished_rds_watch(stubs)
    expect_sent(stubs, watch.with_action("copy").to_json(), 0)
    rt = runtime(replicator_config(retention_days=None), stubs)
    assert rt.process([record(watch.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 0


def test_a_watched_copy_that_vanished_past_the_retention_is_not_copied_again(stubs: Stubs) -> None:
    # WHEN is days in the past: a new copy would be past a 1-day retention, and the sweep would
    # delete it again.
    watch = vanished_rds_watch(stubs)
    rt = runtime(replicator_config(retention_days=1), stubs)
    assert rt.process([record(watch.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 0
    messages = [line.get("message") for line in rt.log.lines or []]
    assert "copy disappeared past its retention: not copied again" in messages
    assert "sqs" not in {service for service, _ in stubs.clients}  # nothing queued


def test_a_watched_ebs_copy_replaced_by_another_copy_finishes_quietly(stubs: Stubs) -> None:
    task = ebs_task()
    watch = task.with_action("watch", SnapshotRef("EBS", "snap-0bbbbbbbbbbbbbbbb", OTHER, SOURCE))
    ec2 = stubs.on("ec2", OTHER)
    # The sweep removed this copy as the extra one of a race: the other copy stays.
    ec2.add_client_error("describe_snapshots", "InvalidSnapshot.NotFound", "gone")
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0aaaaaaaaaaaaaaaa",
                    "OwnerId": SOURCE,
                    "State": "pending",
                    "Encrypted": True,
                    "KmsKeyId": DEST_KEY,
                    "Tags": tag_list({TAG_COPY_KEY: key}),
                }
            ]
        },
        by_copy_key(key),
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(watch.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 0
    assert ("sqs", REGION) not in stubs.clients  # nothing queued, nothing dead-lettered


# ---------------------------------------------------------------------- unencrypted Aurora
def aurora_source(encrypted: bool) -> dict[str, Any]:
    return {
        "DBClusterSnapshotIdentifier": "ledger-nightly",
        "DBClusterSnapshotArn": f"arn:aws:rds:{REGION}:{SOURCE}:cluster-snapshot:ledger-nightly",
        "Status": "available",
        "StorageEncrypted": encrypted,
        "SnapshotCreateTime": WHEN,
        "TagList": tag_list({"backup": "replicate"}),
    }


def test_an_unencrypted_aurora_snapshot_is_dead_lettered_not_copied(stubs: Stubs) -> None:
    event = fixture("aurora_manual_snapshot_created")
    stubs.on("rds", REGION).add_response(
        "describe_db_cluster_snapshots",
        {"DBClusterSnapshots": [aurora_source(encrypted=False)]},
        {"DBClusterSnapshotIdentifier": "ledger-nightly", "IncludeShared": False},
    )
    expect_dead_letter(
        stubs,
        json.dumps(event),
        Contains("ledger-nightly", "unencrypted Aurora", "restore it into an encrypted cluster"),
        "UnencryptedAuroraSnapshot",
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert ("rds", OTHER) not in stubs.clients  # no copy was attempted


def test_an_encrypted_aurora_snapshot_is_queued_for_copy(stubs: Stubs) -> None:
    stubs.on("rds", REGION).add_response(
        "describe_db_cluster_snapshots",
        {"DBClusterSnapshots": [aurora_source(encrypted=True)]},
        {"DBClusterSnapshotIdentifier": "ledger-nightly", "IncludeShared": False},
    )
    expect_sent(stubs, ANY, 0)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(fixture("aurora_manual_snapshot_created"))]) == {
        "batchItemFailures": []
    }


# ---------------------------------------------------------------------- the time budget
class Context:
    """A Lambda context whose remaining time drops by ``step`` milliseconds per question."""

    def __init__(self, start: int, step: int) -> None:
        self.left = start
        self.step = step

    def get_remaining_time_in_millis(self) -> int:
        left = self.left
        self.left -= self.step
        return left


def test_records_not_started_in_time_are_handed_back(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unknown shapes are dropped without an AWS call: each started record succeeds.
    batch = [record(f"not a message {n}") for n in range(4)]
    rt = runtime(replicator_config(), stubs)
    monkeypatch.setattr(handler_module, "_runtime", rt)
    plenty = Context(start=RESERVE_MILLIS + 60_000, step=0)
    assert handler_module.handler({"Records": batch}, plenty) == {"batchItemFailures": []}
    # Two records fit before the reserve is reached; the other two go back to the queue.
    running_out = Context(start=RESERVE_MILLIS + 1_000, step=600)
    response = handler_module.handler({"Records": batch}, running_out)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in batch[2:]]
    }
    lines = [line.get("message") for line in rt.log.lines or []]
    assert "too little time left: records handed back to the queue" in lines


def test_a_late_duplicate_of_a_handled_record_is_not_handed_back(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, late_duplicate, late = (
        record("not a message 0"),
        record("not a message 1"),
        record("not a message 0"),
        record("not a message 2"),
    )
    rt = runtime(replicator_config(), stubs)
    monkeypatch.setattr(handler_module, "_runtime", rt)
    running_out = Context(start=RESERVE_MILLIS + 1_000, step=600)
    response = handler_module.handler(
        {"Records": [first, second, late_duplicate, late]}, running_out
    )
    # The duplicate shares the handled record's outcome; only the unhandled body goes back.
    assert response == {"batchItemFailures": [{"itemIdentifier": late["messageId"]}]}


def test_a_record_not_started_on_its_last_receive_is_dead_lettered_with_the_reason(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Handed back on its fifth receive, the redrive policy would move it without a reason.
    last, early = ebs_task(), rds_task()
    batch = [
        record("not a message 0"),
        record("not a message 1"),
        record(last.to_json(), receive_count=5),
        record(early.to_json(), receive_count=2),
    ]
    expect_dead_letter(
        stubs,
        last.to_json(),
        Contains("handed back on its last allowed receive (5)", "running out of time"),
        "OutOfTime",
        count=5,
    )
    rt = runtime(replicator_config(), stubs)
    monkeypatch.setattr(handler_module, "_runtime", rt)
    running_out = Context(start=RESERVE_MILLIS + 1_000, step=600)
    response = handler_module.handler({"Records": batch}, running_out)
    assert response == {"batchItemFailures": [{"itemIdentifier": batch[3]["messageId"]}]}
    assert metrics(rt, "DeadLettered") == 1


def test_the_function_clients_fit_their_retries_in_the_time_budget() -> None:
    client = lambda_clients(REGION)("sqs", REGION)
    config = client.meta.config
    assert config.retries["total_max_attempts"] == 3
    assert config.connect_timeout == 3
    assert config.read_timeout == 10
    worst_call_seconds = 3 * (config.connect_timeout + config.read_timeout)
    assert worst_call_seconds * 1000 < RESERVE_MILLIS


# ---------------------------------------------------------------- two accounts, one Region
THIRD = "444444444444"


class Capture:
    """Matches anything and keeps what it matched (to compare two requests afterwards)."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __eq__(self, other: object) -> bool:
        self.seen.append(other)
        return True


def test_two_accounts_in_one_region_get_a_staging_copy_each(stubs: Stubs) -> None:
    # Both destinations are in the replicator's Region: one staging copy shared with both would
    # be unshared from one account only (the Received notice of the other is ignored).
    source = SnapshotRef("RDS", "orders-before-upgrade", REGION, SOURCE)
    origin = Origin.of(source, WHEN)
    tasks = [
        Task("copy", "staging", source, origin, REGION, SHARING_KEY, account)
        for account in (BACKUP, THIRD)
    ]
    names, tags = Capture(), Capture()
    rds = stubs.on("rds", REGION)
    older = rds_identifier(
        origin, copy_key(origin, region=REGION, account=SOURCE, role="staging"), "staging"
    )
    for task in tasks:
        rds.add_client_error(
            "describe_db_snapshots",
            "DBSnapshotNotFound",
            "no copy under the older name",
            expected_params={"DBSnapshotIdentifier": older, "IncludeShared": False},
        )
        rds.add_response(
            "copy_db_snapshot",
            {"DBSnapshot": rds_row(f"kmskit-s-{task.destination_account}", REGION, "creating")},
            {
                "SourceDBSnapshotIdentifier": source.arn,
                "TargetDBSnapshotIdentifier": names,
                "KmsKeyId": SHARING_KEY,
                "Tags": tags,
            },
        )
    stubs.on("sqs", REGION).add_response(
        "send_message_batch",
        {"Successful": [], "Failed": []},
        {"QueueUrl": QUEUE_URL, "Entries": ANY},
    )
    config = replicator_config(
        destinations=[
            {"region": REGION, "account": account, "kms_key_arn": SHARING_KEY}
            for account in (BACKUP, THIRD)
        ]
    )
    rt = runtime(config, stubs)
    assert rt.process([record(t.to_json()) for t in tasks]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 2
    first, second = names.seen
    assert first != second
    assert all(name.startswith("kmskit-s-orders-before-upgrade-") for name in names.seen)
    by_copy = [{t["Key"]: t["Value"] for t in copy_tags} for copy_tags in tags.seen]
    assert [t[TAG_DESTINATION_ACCOUNT] for t in by_copy] == [BACKUP, THIRD]
    assert by_copy[0][TAG_COPY_KEY] != by_copy[1][TAG_COPY_KEY]


def staging_task(kind: str) -> Task:
    source = SnapshotRef(kind, "orders-before-upgrade", REGION, SOURCE)  # type: ignore[arg-type]
    return Task("copy", "staging", source, Origin.of(source, WHEN), REGION, SHARING_KEY, BACKUP)


def older_staging_key(task: Task) -> str:
    """The copy key of a staging copy before the key named its destination account."""
    return copy_key(task.origin, region=task.region, account=SOURCE, role="staging")


def test_an_ebs_staging_copy_made_under_the_older_copy_key_is_used_not_made_again(
    stubs: Stubs,
) -> None:
    # After an upgrade, a copy task delivered again (a timed-out batch, a redrive) finds the
    # copy the previous version made; its tags name the account it is for.
    task = staging_task("EBS")
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(task.copy_key(SOURCE)))
    older = older_staging_key(task)
    rows = [
        {**ebs_row(ident, "pending", older), "Tags": tag_list({**tags, TAG_COPY_KEY: older})}
        for ident, tags in (
            ("snap-0aaaaaaaaaaaaaaaa", {**staging_tags(task), TAG_DESTINATION_ACCOUNT: THIRD}),
            ("snap-0bbbbbbbbbbbbbbbb", staging_tags(task)),
        )
    ]
    ec2.add_response("describe_snapshots", {"Snapshots": rows}, by_copy_key(older))
    bodies = queued_watch(stubs)
    rt = runtime(cross_account_config(), stubs)
    # No copy_snapshot: the stubber would refuse an unexpected call.
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    (body,) = bodies.seen
    assert json.loads(body)["copy"]["id"] == "snap-0bbbbbbbbbbbbbbbb"  # not the other account's
    assert metrics(rt, "CopiesStarted") == 0


@pytest.mark.parametrize("kind", ["RDS", "AURORA"])
def test_an_rds_staging_copy_made_under_the_older_name_is_used_not_made_again(
    stubs: Stubs, kind: str
) -> None:
    task = staging_task(kind)
    older = rds_identifier(task.origin, older_staging_key(task), "staging")
    tags = tag_list(staging_tags(task))
    rds = stubs.on("rds", REGION)
    if kind == "RDS":
        row = {**rds_row(older, REGION, "creating"), "TagList": tags}
        rds.add_response(
            "describe_db_snapshots",
            {"DBSnapshots": [row]},
            {"DBSnapshotIdentifier": older, "IncludeShared": False},
        )
    else:
        cluster = {
            "DBClusterSnapshotIdentifier": older,
            "DBClusterSnapshotArn": f"arn:aws:rds:{REGION}:{SOURCE}:cluster-snapshot:{older}",
            "Status": "creating",
            "StorageEncrypted": True,
            "KmsKeyId": SHARING_KEY,
            "TagList": tags,
        }
        rds.add_response(
            "describe_db_cluster_snapshots",
            {"DBClusterSnapshots": [cluster]},
            {"DBClusterSnapshotIdentifier": older, "IncludeShared": False},
        )
    bodies = queued_watch(stubs)
    rt = runtime(cross_account_config(), stubs)
    # No copy_db_(cluster_)snapshot under the current name: the stubber would refuse it.
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    (body,) = bodies.seen
    assert json.loads(body)["copy"]["id"] == older
    assert metrics(rt, "CopiesStarted") == 0


def test_an_rds_copy_under_the_older_name_for_another_account_is_not_used(stubs: Stubs) -> None:
    # Before the copy key named the account, one staging copy could be made for two accounts:
    # it is tagged for the first one only, so the second gets its own copy now.
    task = staging_task("RDS")
    older = rds_identifier(task.origin, older_staging_key(task), "staging")
    tags = tag_list({**staging_tags(task), TAG_DESTINATION_ACCOUNT: THIRD})
    rds = stubs.on("rds", REGION)
    rds.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [{**rds_row(older, REGION, "available"), "TagList": tags}]},
        {"DBSnapshotIdentifier": older, "IncludeShared": False},
    )
    target = rds_identifier(task.origin, task.copy_key(SOURCE), "staging")
    rds.add_response(
        "copy_db_snapshot",
        {"DBSnapshot": rds_row(target, REGION, "creating")},
        {
            "SourceDBSnapshotIdentifier": task.source.arn,
            "TargetDBSnapshotIdentifier": target,
            "KmsKeyId": SHARING_KEY,
            "Tags": ANY,
        },
    )
    bodies = queued_watch(stubs)
    rt = runtime(cross_account_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    (body,) = bodies.seen
    assert json.loads(body)["copy"]["id"] == target
    assert metrics(rt, "CopiesStarted") == 1


# ------------------------------------------------------------- EBS races and leftover copies
def ebs_row(snapshot_id: str, state: str, key: str) -> dict[str, Any]:
    return {
        "SnapshotId": snapshot_id,
        "OwnerId": SOURCE,
        "State": state,
        "Encrypted": True,
        "KmsKeyId": DEST_KEY,
        "Tags": tag_list(
            {
                TAG_COPY_KEY: key,
                TAG_MANAGED_BY: "kmskit-snapshots",
                TAG_REPLICATOR: "Source-Replicate",
            }
        ),
    }


def queued_watch(stubs: Stubs) -> Capture:
    bodies = Capture()
    expect_sent(stubs, bodies, 900)
    return bodies


def test_an_ebs_copy_that_lost_a_race_is_deleted_and_the_winner_watched(stubs: Stubs) -> None:
    task = ebs_task()
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    by_key = by_copy_key(key)
    ec2 = stubs.on("ec2", OTHER)
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_key)
    ec2.add_response("copy_snapshot", {"SnapshotId": "snap-0bbbbbbbbbbbbbbbb"})
    # A concurrent delivery of the same task copied too, and got the lower ID.
    racing = [
        ebs_row("snap-0bbbbbbbbbbbbbbbb", "pending", key),
        ebs_row("snap-0aaaaaaaaaaaaaaaa", "pending", key),
    ]
    ec2.add_response("describe_snapshots", {"Snapshots": racing}, by_key)
    ec2.add_response("delete_snapshot", {}, {"SnapshotId": "snap-0bbbbbbbbbbbbbbbb"})
    bodies = queued_watch(stubs)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    (body,) = bodies.seen
    assert json.loads(body)["copy"]["id"] == "snap-0aaaaaaaaaaaaaaaa"
    assert metrics(rt, "CopiesStarted") == 0  # the copy that stays is the other delivery's


def test_an_existing_ebs_copy_is_used_and_a_failed_one_cleared(stubs: Stubs) -> None:
    task = ebs_task()
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    by_key = by_copy_key(key)
    ec2 = stubs.on("ec2", OTHER)
    found = [
        ebs_row("snap-0ccccccccccccccccc", "error", key),
        ebs_row("snap-0bbbbbbbbbbbbbbbb", "pending", key),
        ebs_row("snap-0aaaaaaaaaaaaaaaa", "pending", key),
    ]
    ec2.add_response("describe_snapshots", {"Snapshots": found}, by_key)
    ec2.add_response("delete_snapshot", {}, {"SnapshotId": "snap-0ccccccccccccccccc"})
    bodies = queued_watch(stubs)
    rt = runtime(replicator_config(), stubs)
    # No copy_snapshot: the stubber would refuse an unexpected call.
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    (body,) = bodies.seen
    assert json.loads(body)["copy"]["id"] == "snap-0aaaaaaaaaaaaaaaa"  # the sweep keeps it too
    assert metrics(rt, "CopiesStarted") == 0


def expect_retry(
    stubs: Stubs, message: dict[str, Any], receive_count: int, queue_url: str = QUEUE_URL
) -> None:
    stubs.on("sqs", REGION).add_response(
        "change_message_visibility",
        {},
        {
            "QueueUrl": queue_url,
            "ReceiptHandle": message["receiptHandle"],
            "VisibilityTimeout": retry_delay(receive_count),
        },
    )


def assert_retried_later(stubs: Stubs, task: Task, *, receive_count: int) -> None:
    """The copier, given ``task`` on its ``receive_count``-th receive, leaves it on the queue for
    a later try (a batch item failure with a longer visibility timeout), not dead-lettered."""
    message = record(task.to_json(), receive_count=receive_count)
    expect_retry(stubs, message, receive_count)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    assert metrics(rt, "DeadLettered") == 0


def rds_copy_failure(target: str) -> str:
    """Why an RDS copy ``target`` in OTHER failed, as copy_failure says it."""
    return (
        "status 'failed', RDS gives no reason in the snapshot's description; its events do: "
        f"aws rds describe-events --region {OTHER} --source-type db-snapshot "
        f"--source-identifier {target} --duration 20160"
    )


def failed_rds_copy_of_the_same_name(stubs: Stubs, replicator: str) -> tuple[Task, Stubber]:
    """An RDS copy task whose copy name is taken by a failed copy that ``replicator`` made."""
    task = rds_task()
    target = replica_name(task)
    rds = stubs.on("rds", OTHER)
    rds.add_client_error("copy_db_snapshot", "DBSnapshotAlreadyExists", "exists")
    rds.add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                rds_row(
                    target,
                    OTHER,
                    "failed",
                    {TAG_MANAGED_BY: "kmskit-snapshots", TAG_REPLICATOR: replicator},
                )
            ]
        },
        {"DBSnapshotIdentifier": target, "IncludeShared": False},
    )
    return task, rds


def test_a_failed_rds_copy_of_the_same_name_is_deleted_and_the_copy_retried(
    stubs: Stubs,
) -> None:
    task, rds = failed_rds_copy_of_the_same_name(stubs, "Source-Replicate")
    rds.add_response("delete_db_snapshot", {}, {"DBSnapshotIdentifier": replica_name(task)})
    # A redrive after a failed copy: the name is freed, and the copy is made on a later try.
    message = record(task.to_json(), receive_count=1)
    expect_retry(stubs, message, 1)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    # The reason says where RDS tells why the copy failed; it said "failed (failed)".
    [retry] = [line for line in rt.log.lines or [] if line.get("message") == "retry later"]
    assert retry["reason"] == (
        f"the previous copy {replica_name(task)} failed ({rds_copy_failure(replica_name(task))}); "
        "it is being deleted and the copy will be made again"
    )


def test_a_failed_rds_copy_of_another_replicator_is_dead_lettered_with_its_owner(
    stubs: Stubs,
) -> None:
    # `kmskit snapshot copy` made the same copy (same name) and it failed: this replicator may
    # not delete it (its IAM policy allows deleting only its own copies), so waiting for it to
    # go away would only retry for a day with a false reason.
    task, _ = failed_rds_copy_of_the_same_name(stubs, "kmskit-cli")
    message = record(task.to_json(), receive_count=1)
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains(
            f"the previous copy {replica_name(task)} failed "
            f"({rds_copy_failure(replica_name(task))}) and was made by kmskit-cli",
            "delete it",
        ),
        "PreviousCopyFailed",
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([message]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1


def test_an_rds_copy_that_exists_but_is_not_described_yet_is_retried(stubs: Stubs) -> None:
    task = rds_task()
    rds = stubs.on("rds", OTHER)
    rds.add_client_error("copy_db_snapshot", "DBSnapshotAlreadyExists", "exists")
    rds.add_client_error("describe_db_snapshots", "DBSnapshotNotFound", "not yet")
    assert_retried_later(stubs, task, receive_count=2)


# ------------------------------------------------------------- notices that must change nothing
def test_a_received_copy_in_another_region_reports_to_the_replicator_region(
    stubs: Stubs,
) -> None:
    # The staging copy (and so the receiver) is in OTHER; the replicator and its bus in REGION.
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    staging = SnapshotRef("EBS", "snap-0staging", OTHER, SOURCE)
    copy = SnapshotRef("EBS", "snap-0received", OTHER, BACKUP)
    task = Task("watch", "received", staging, origin, OTHER, BACKUP_KEY, copy=copy)
    task = replace(task, reply_region=REGION)
    stubs.on("ec2", OTHER).add_response(
        "describe_snapshots",
        {"Snapshots": [{"SnapshotId": copy.id, "OwnerId": BACKUP, "State": "completed"}]},
        {"SnapshotIds": [copy.id]},
    )
    expect_received_notice(stubs, staging, "e-3")
    rt = runtime(receiver_config(region=OTHER), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}


def received_notice(
    sender: str, staging_id: str, event_id: str = "0c1d2e3f-0000-1111-2222-333344445557"
) -> dict[str, Any]:
    """The Received notice ``sender`` puts on the replicator's bus for a staging copy."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "kmskit Snapshot Received",
        "source": "kmskit.snapshots",
        "account": sender,
        "time": "2026-11-20T15:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {"staging_arn": f"arn:aws:ec2:{REGION}::snapshot/{staging_id}", "owner": SOURCE},
    }


@pytest.mark.parametrize(
    ("role", "destination"),
    [
        ("staging", THIRD),  # meant for the other destination account
        ("replica", BACKUP),  # not a staging copy at all
    ],
)
def test_a_received_notice_changes_only_the_senders_own_staging_copy(
    stubs: Stubs, role: str, destination: str | None
) -> None:
    source = SnapshotRef("EBS", "snap-01234567", REGION, SOURCE)
    tags = {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: "Source-Replicate",
        TAG_ROLE: role,
        **Origin.of(source, WHEN).tags(),
    }
    if destination:
        tags[TAG_DESTINATION_ACCOUNT] = destination
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots",
        {"Snapshots": [{"SnapshotId": "snap-0other", "OwnerId": SOURCE, "Tags": tag_list(tags)}]},
        {"SnapshotIds": ["snap-0other"]},
    )
    config = replicator_config(
        destinations=[
            {"region": REGION, "account": account, "kms_key_arn": SHARING_KEY}
            for account in (BACKUP, THIRD)
        ]
    )
    rt = runtime(config, stubs)
    # No unshare, no delivered tag: the stubber refuses any further call.
    assert rt.process([record(received_notice(BACKUP, "snap-0other"))]) == {"batchItemFailures": []}
    assert metrics(rt, "Delivered") == 0


def test_a_shared_notice_naming_another_accounts_snapshot_is_ignored(stubs: Stubs) -> None:
    foreign = f"arn:aws:rds:{REGION}:999999999999:snapshot:kmskit-s-x-0123456789abcdef"
    event = shared_notice(foreign, "6a7e8feb-b491-4cf7-a9f1-bf3703467719")
    rt = runtime(receiver_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert stubs.clients == {}


def test_a_shared_ebs_snapshot_claiming_another_accounts_origin_is_not_copied(
    stubs: Stubs,
) -> None:
    claimed = Origin.of(SnapshotRef("EBS", "snap-0999", REGION, "999999999999"), WHEN)
    shared = "snap-0cccc3333dddd4444"
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": shared,
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Description": claimed.description(),
                }
            ]
        },
        {"SnapshotIds": [shared]},
    )
    rt = runtime(receiver_config(), stubs)
    assert rt.process([record(fixture("ebs_share_snapshot"))]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 0


def test_a_shared_ebs_snapshot_owned_by_another_account_than_the_sender_is_not_copied(
    stubs: Stubs,
) -> None:
    # EC2 describes by ID a public snapshot, or one any account shared with the receiver: a
    # principal of a source account could name a third party's snapshot in a Shared notice, its
    # description claiming the sender's origin. Only OwnerId, which EC2 reports, is trusted.
    stranger = "444444444444"
    claimed = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    theirs = "snap-0bbbbbbbbbbbbbbbb"
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": theirs,
                    "OwnerId": stranger,
                    "State": "completed",
                    "Description": claimed.description(),
                }
            ]
        },
        {"SnapshotIds": [theirs]},
    )
    event = shared_notice(f"arn:aws:ec2:{REGION}::snapshot/{theirs}", "b7c1e2f0-0000-4000-8000-1")
    rt = runtime(receiver_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 0
    warnings = [line for line in rt.log.lines or [] if line.get("level") == "WARNING"]
    assert [(w["message"], w["owner"], w["sender"]) for w in warnings] == [
        ("shared snapshot not owned by its sender: not copied", stranger, SOURCE)
    ]


def test_a_shared_rds_snapshot_that_is_not_a_staging_copy_is_not_copied(stubs: Stubs) -> None:
    arn = f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:orders-prod"
    event = shared_notice(arn, "6a7e8feb-b491-4cf7-a9f1-bf3703467720")
    stubs.on("rds", REGION).add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [rds_row("orders-prod", REGION, "available")]},
        {"DBSnapshotIdentifier": arn, "IncludeShared": True},
    )
    rt = runtime(receiver_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 0


def test_a_created_event_of_another_region_is_ignored(stubs: Stubs) -> None:
    event = fixture("rds_manual_snapshot_created", region=OTHER)
    event["detail"]["SourceArn"] = event["detail"]["SourceArn"].replace(REGION, OTHER)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert stubs.clients == {}


def test_a_source_not_yet_available_is_retried(stubs: Stubs) -> None:
    event = fixture("aurora_manual_snapshot_created")
    stubs.on("rds", REGION).add_response(
        "describe_db_cluster_snapshots",
        {"DBClusterSnapshots": [{**aurora_source(encrypted=True), "Status": "creating"}]},
        {"DBClusterSnapshotIdentifier": "ledger-nightly", "IncludeShared": False},
    )
    message = record(event)
    expect_retry(stubs, message, 1)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }


@pytest.mark.parametrize(
    ("fixture_name", "operation", "rows", "source_arn", "state"),
    [
        (
            "ebs_create_snapshot",
            "describe_snapshots",
            {
                "Snapshots": [
                    {
                        "SnapshotId": "snap-01234567",
                        "OwnerId": SOURCE,
                        "State": "error",
                        "StateMessage": "Snapshot creation failed",
                        "Tags": tag_list({"backup": "replicate"}),
                    }
                ]
            },
            f"arn:aws:ec2:{REGION}::snapshot/snap-01234567",
            "'error' (Snapshot creation failed)",
        ),
        (
            "rds_manual_snapshot_created",
            "describe_db_snapshots",
            {
                "DBSnapshots": [
                    rds_row("orders-before-upgrade", REGION, "failed", {"backup": "replicate"})
                ]
            },
            f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:orders-before-upgrade",
            "'failed'",
        ),
        (
            "aurora_manual_snapshot_created",
            "describe_db_cluster_snapshots",
            {"DBClusterSnapshots": [{**aurora_source(encrypted=True), "Status": "failed"}]},
            f"arn:aws:rds:{REGION}:{SOURCE}:cluster-snapshot:ledger-nightly",
            "'failed'",
        ),
    ],
)
def test_a_source_in_a_failed_state_is_dead_lettered_at_once(
    stubs: Stubs,
    fixture_name: str,
    operation: str,
    rows: dict[str, Any],
    source_arn: str,
    state: str,
) -> None:
    # A failed snapshot never becomes available: retried like a pending one, it came back for
    # about 19 hours before it reached the dead-letter queue.
    event = fixture(fixture_name)
    stubs.on("ec2" if operation == "describe_snapshots" else "rds", REGION).add_response(
        operation, rows
    )
    expect_dead_letter(
        stubs,
        json.dumps(event),
        Contains(f"the source snapshot {source_arn} is in state {state}", "it is not copied"),
        "SourceSnapshotFailed",
    )
    rt = runtime(replicator_config(), stubs)
    # First receive: no change_message_visibility (a retry) and nothing queued; the stubber
    # refuses any call not listed above.
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1
    assert ("ec2", OTHER) not in stubs.clients
    assert ("rds", OTHER) not in stubs.clients


def test_a_shared_snapshot_in_a_failed_state_is_dead_lettered_at_once(stubs: Stubs) -> None:
    staging = "kmskit-s-orders-before-upgrade-0123456789abcdef"
    arn = f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:{staging}"
    event = shared_notice(arn, "6a7e8feb-b491-4cf7-a9f1-bf3703467721")
    stubs.on("rds", REGION).add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [rds_row(staging, REGION, "failed")]},
        {"DBSnapshotIdentifier": arn, "IncludeShared": True},
    )
    config = receiver_config()
    expect_dead_letter(
        stubs,
        json.dumps(event),
        Contains(f"the source snapshot {arn} is in state 'failed'"),
        "SourceSnapshotFailed",
        queue_url=config.dead_letter_queue_url,
    )
    rt = runtime(config, stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 0


# ------------------------------------------------------- CopiesCompleted: once per copy
def received_copy_started(stubs: Stubs, rt: Any) -> str:
    """The receiver copies the staging copy of ``ebs_share_snapshot`` (as snap-0received):
    returns the body of the watch task that copy queued."""
    _, _, key = expect_a_shared_ebs_snapshot_not_copied_yet(stubs)
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response("copy_snapshot", {"SnapshotId": "snap-0received"})
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(key))
    watch = Captured()
    expect_sent(stubs, watch, 900, rt.config.queue_url)
    assert rt.process([record(fixture("ebs_share_snapshot"))]) == {"batchItemFailures": []}
    (body,) = watch.values
    return str(body)


def expect_received_copy_completed(stubs: Stubs) -> None:
    """snap-0received, the received copy of ``ebs_share_snapshot``'s staging copy, is done."""
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    staging = SnapshotRef("EBS", "snap-0cccc3333dddd4444", REGION, SOURCE)
    tags = {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: "Backup-Receive",
        TAG_ROLE: "received",
        TAG_STAGING_ARN: staging.arn,
        TAG_REPLY_REGION: REGION,
        **origin.tags(),
    }
    row = {
        "SnapshotId": "snap-0received",
        "OwnerId": BACKUP,
        "State": "completed",
        "KmsKeyId": BACKUP_KEY,
        "Tags": tag_list(tags),
    }
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots", {"Snapshots": [row]}, {"SnapshotIds": ["snap-0received"]}
    )
    expect_received_notice(stubs, staging, "e-4")


def test_a_copy_its_completion_event_and_its_watch_see_done_is_counted_once(
    stubs: Stubs,
) -> None:
    # A copy in the copier's own Region is reported done twice: by its copySnapshot event and
    # by its watch task. Both do the next step (idempotent); the copy completed once.
    rt = runtime(receiver_config(), stubs)
    watch = received_copy_started(stubs, rt)
    assert metrics(rt, "CopiesStarted") == 1
    event = fixture(
        "ebs_copy_snapshot_succeeded",
        account=BACKUP,
        detail={"snapshot_id": f"arn:aws:ec2::{REGION}:snapshot/snap-0received"},
    )
    expect_received_copy_completed(stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    expect_received_copy_completed(stubs)
    assert rt.process([record(watch)]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesCompleted") == 1


def test_a_completion_delivered_again_after_its_steps_were_not_queued_is_counted_once(
    stubs: Stubs,
) -> None:
    # The watch sees the received copy done, but SQS does not take its onward copy: the record
    # is delivered again and does it all again. The copy completed once.
    onward_key = f"arn:aws:kms:{OTHER}:{BACKUP}:key/b2"
    config = receiver_config(destinations=[{"region": OTHER, "kms_key_arn": onward_key}])
    rt = runtime(config, stubs)
    watch = received_copy_started(stubs, rt)
    sqs = stubs.on("sqs", REGION)
    expect_received_copy_completed(stubs)
    sqs.add_response(
        "send_message_batch",
        {
            "Successful": [],
            "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError"}],
        },
    )
    first = record(watch)
    assert rt.process([first]) == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    assert metrics(rt, "CopiesCompleted") == 0
    expect_received_copy_completed(stubs)
    expect_sent(stubs, ANY, 0, config.queue_url)
    again = {**first, "attributes": {"ApproximateReceiveCount": "2"}}
    assert rt.process([again]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesCompleted") == 1


def test_a_copy_two_deliveries_of_its_task_watch_is_counted_once(stubs: Stubs) -> None:
    # The copy task was delivered twice (in two batches): one delivery made the copy, the
    # other found it; each queued a watch, and both watches see the copy available.
    task = rds_task()
    target = replica_name(task)
    rds = stubs.on("rds", OTHER)
    rds.add_response("copy_db_snapshot", {"DBSnapshot": rds_row(target, OTHER, "creating")})
    watches = Captured()
    expect_sent(stubs, watches, 900)
    rds.add_client_error("copy_db_snapshot", "DBSnapshotAlreadyExists", "exists")
    rds.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [rds_row(target, OTHER, "creating")]},
        {"DBSnapshotIdentifier": target, "IncludeShared": False},
    )
    expect_sent(stubs, watches, 900)
    rt = runtime(replicator_config(), stubs)
    for _ in range(2):
        assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert len(watches.values) == 2
    for body in watches.values:
        rds.add_response(
            "describe_db_snapshots",
            {"DBSnapshots": [rds_row(target, OTHER, "available")]},
            {"DBSnapshotIdentifier": target, "IncludeShared": False},
        )
        assert rt.process([record(str(body))]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 1
    assert metrics(rt, "CopiesCompleted") == 1


# ------------------------------------------------------------------ the batch response
def test_the_same_body_twice_in_a_batch_is_handled_once(stubs: Stubs) -> None:
    task = rds_task()
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    target = rds_identifier(task.origin, key, "replica")
    # One copy call and one queued watch: a second copy call would find no stubbed answer.
    stubs.on("rds", OTHER).add_response(
        "copy_db_snapshot", {"DBSnapshot": rds_row(target, OTHER, "creating")}
    )
    expect_watch(stubs)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json()), record(task.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 1


def test_steps_of_a_record_that_failed_are_not_sent(stubs: Stubs) -> None:
    # The received copy queues its onward copies, then the Received notice fails: the record is
    # delivered again, so the onward copies it queued must not be sent this time.
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    staging = SnapshotRef("EBS", "snap-0staging", REGION, SOURCE)
    copy = SnapshotRef("EBS", "snap-0received", REGION, BACKUP)
    task = Task("watch", "received", staging, origin, REGION, BACKUP_KEY, copy=copy)
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots",
        {"Snapshots": [{"SnapshotId": copy.id, "OwnerId": BACKUP, "State": "completed"}]},
        {"SnapshotIds": [copy.id]},
    )
    stubs.on("events", REGION).add_client_error(
        "put_events", "InternalException", "try again", http_status_code=500
    )
    config = receiver_config(
        destinations=[{"region": OTHER, "kms_key_arn": f"arn:aws:kms:{OTHER}:{BACKUP}:key/b2"}]
    )
    message = record(task.to_json())
    expect_retry(stubs, message, 1, config.queue_url)
    sent: list[str] = []
    stubs.client("sqs", REGION).meta.events.register_first(
        "provide-client-params.sqs.SendMessageBatch", lambda **kwargs: sent.append("batch")
    )
    rt = runtime(config, stubs)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    assert sent == []


def test_a_dead_letter_that_cannot_be_sent_keeps_the_record(stubs: Stubs) -> None:
    task = rds_task()
    stubs.on("rds", OTHER).add_client_error(
        "copy_db_snapshot", "KMSKeyNotAccessibleFault", "The specified KMS key is not accessible"
    )
    stubs.on("sqs", REGION).add_client_error("send_message", "AccessDenied", "no", 403)
    message = record(task.to_json(), receive_count=3)  # the receive that dead-letters it
    rt = runtime(replicator_config(), stubs)
    # Not deleted: SQS delivers it again (and its redrive policy is the last resort).
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    assert metrics(rt, "DeadLettered") == 0


def test_an_unexpected_error_is_retried_not_lost(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(replicator_config(), stubs)

    def broken(message: Any) -> str:
        raise KeyError("SnapshotId")

    monkeypatch.setattr(rt.workflow, "handle", broken)
    message = record(rds_task().to_json(), receive_count=3)
    expect_retry(stubs, message, 3)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    errors = [line for line in rt.log.lines or [] if line.get("message") == "unexpected error"]
    assert errors[0]["kind"] == "KeyError"


def test_the_retry_delay_grows_to_an_hour_at_most() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 7, 8, 30)] == [60, 120, 240, 3600, 3600, 3600]


def test_a_shared_snapshot_that_meets_a_copy_limit_waits_without_using_up_receives(
    stubs: Stubs,
) -> None:
    _, shared, _ = expect_a_shared_ebs_snapshot_not_copied_yet(stubs)
    ec2 = stubs.on("ec2", REGION)
    ec2.add_client_error("copy_snapshot", "ResourceLimitExceeded", "too many copies in progress")
    bodies = Capture()
    config = receiver_config()
    expect_sent(stubs, bodies, 900, config.queue_url)
    rt = runtime(config, stubs)
    # The event's last allowed receive: a copy limit is waited out, not counted as a failure.
    message = record(fixture("ebs_share_snapshot"), receive_count=config.max_receive_count)
    assert rt.process([message]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 0
    (body,) = bodies.seen
    waiting = json.loads(body)
    assert (waiting["action"], waiting["role"], waiting["waits"]) == ("copy", "received", 1)
    assert waiting["source"]["id"] == shared


def test_a_vanished_ebs_copy_whose_only_other_copy_failed_is_copied_again(stubs: Stubs) -> None:
    task = ebs_task()
    watch = task.with_action("watch", SnapshotRef("EBS", "snap-0bbbbbbbbbbbbbbbb", OTHER, SOURCE))
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    ec2 = stubs.on("ec2", OTHER)
    ec2.add_client_error("describe_snapshots", "InvalidSnapshot.NotFound", "gone")
    ec2.add_response(
        "describe_snapshots",
        {"Snapshots": [ebs_row("snap-0aaaaaaaaaaaaaaaa", "error", key)]},
        by_copy_key(key),
    )
    expect_sent(stubs, watch.with_action("copy").to_json(), 0)
    rt = runtime(replicator_config(retention_days=None), stubs)
    assert rt.process([record(watch.to_json())]) == {"batchItemFailures": []}


def test_the_receiver_sweep_queues_a_copy_of_each_staging_copy_shared_with_it(
    stubs: Stubs,
) -> None:
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response(
        "describe_snapshots",
        {"Snapshots": []},
        {
            "OwnerIds": ["self"],
            "Filters": [
                {"Name": f"tag:{TAG_MANAGED_BY}", "Values": ["kmskit-snapshots"]},
                {"Name": f"tag:{TAG_REPLICATOR}", "Values": ["Backup-Receive"]},
            ],
        },
    )
    shared = {"SnapshotId": "snap-0shared", "OwnerId": SOURCE, "State": "completed"}
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {**shared, "Description": origin.description()},
                # Shared by the source account, but not by kmskit: not ours to copy.
                {**shared, "SnapshotId": "snap-0manual", "Description": "by hand"},
            ]
        },
        {"OwnerIds": [SOURCE], "RestorableByUserIds": ["self"]},
    )
    bodies = Capture()
    config = receiver_config(resource_types=["EBS"])
    expect_sent(stubs, bodies, 0, config.queue_url)
    report = sweep(runtime(config, stubs), now=lambda: WHEN)
    assert report.queued == 1
    (body,) = bodies.seen
    task = json.loads(body)
    assert (task["action"], task["role"], task["source"]["id"]) == (
        "copy",
        "received",
        "snap-0shared",
    )
    assert task["kms_key_arn"] == BACKUP_KEY


def expect_staging_copy_shared_with_the_receiver(stubs: Stubs, origin: Origin) -> None:
    """The receiver's sweep lists one kmskit staging copy of ``origin`` shared with it."""
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0shared",
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Description": origin.description(),
                }
            ]
        },
        {"OwnerIds": [SOURCE], "RestorableByUserIds": ["self"]},
    )


def test_the_receiver_sweep_does_not_copy_again_a_staging_copy_past_its_retention(
    stubs: Stubs,
) -> None:
    # The staging copy stays shared (its Received notice was dead-lettered, or
    # `kmskit snapshot copy --to-account` made it); its source is 8 days old, past the receiver's
    # 7 days. The sweep deletes the received copy and must not queue a new one, which the next
    # run would delete again, and so on forever.
    now = WHEN + timedelta(days=8)
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    config = receiver_config(resource_types=["EBS"], retention_days=7)
    received_tags = {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: config.replicator_id,
        TAG_ROLE: "received",
        TAG_COPY_KEY: copy_key(origin, region=REGION, account=BACKUP, role="received"),
        TAG_STAGING_ARN: f"arn:aws:ec2:{REGION}::snapshot/snap-0shared",
        **origin.tags(),
    }
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0received",
                    "OwnerId": BACKUP,
                    "State": "completed",
                    "Tags": tag_list(received_tags),
                }
            ]
        },
        {
            "OwnerIds": ["self"],
            "Filters": [
                {"Name": f"tag:{TAG_MANAGED_BY}", "Values": ["kmskit-snapshots"]},
                {"Name": f"tag:{TAG_REPLICATOR}", "Values": ["Backup-Receive"]},
            ],
        },
    )
    ec2.add_response("delete_snapshot", {}, {"SnapshotId": "snap-0received"})
    expect_staging_copy_shared_with_the_receiver(stubs, origin)
    rt = runtime(config, stubs)
    report = sweep(rt, now=lambda: now)
    assert (report.deleted, report.queued) == (1, 0)
    assert "sqs" not in {service for service, _ in stubs.clients}  # nothing queued
    messages = [line.get("message") for line in rt.log.lines or []]
    assert "past the retention: not copied" in messages


def test_a_shared_notice_of_a_staging_copy_past_the_receivers_retention_is_dead_lettered(
    stubs: Stubs,
) -> None:
    # A notice that reaches the receiver after the source's age passed its retention (a late
    # sweep at the replicator, a long copy, a redrive): the copy would be deleted by the next run
    # of the receiver's sweep, and copied again by the notice's redelivery or the sweep. Not
    # copied, and not dropped with only a log line (the old code): dead-lettered with the code
    # PastRetention, so the dead-letter queue's alarm says the backup account has no copy.
    origin = Origin.of(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), WHEN)
    stubs.on("ec2", REGION).add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0cccc3333dddd4444",
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Description": origin.description(),
                }
            ]
        },
        {"SnapshotIds": ["snap-0cccc3333dddd4444"]},
    )
    event = fixture("ebs_share_snapshot")
    config = receiver_config(retention_days=7)
    expect_dead_letter(
        stubs,
        ANY,
        Contains(
            "snap-0cccc3333dddd4444 is not copied",
            f"snap-01234567 of account {SOURCE} in {REGION}",
            "past this receiver's retention of 7 days",
        ),
        "PastRetention",
        queue_url=config.dead_letter_queue_url,
    )
    rt = runtime(config, stubs)
    rt.workflow.now = lambda: WHEN + timedelta(days=7, minutes=1)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 0


# ----------------------------------------------------------------------- failure injection
# One test per failure that broke the rule "a failure is retried, or lands in the dead-letter
# queue with its reason; a copy is made once" (docs/snapshots.md, "Limits, retries ...").


@pytest.mark.parametrize(
    "poison",
    [
        # JSON as Python reads it: an out-of-range number is float('inf'), which int() refuses
        # with OverflowError; a deeply nested document exhausts the decoder's recursion.
        rds_task().to_json().replace('"waits": 0', '"waits": 1e999'),
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_a_poison_message_does_not_fail_the_batch_or_drop_a_waiting_copy(
    stubs: Stubs, poison: str
) -> None:
    # A copy meets its limit and is queued to wait; a poison message in the same batch must
    # not fail the whole invocation: the wait would never be sent, yet remembered as queued,
    # and the redelivered copy task dropped as "already waiting".
    task = rds_task()
    stubs.on("rds", OTHER).add_client_error("copy_db_snapshot", "SnapshotQuotaExceeded", "full")
    if poison.startswith("{"):
        # A kmskit task this copier cannot read: dead-lettered with the reason, never dropped.
        expect_dead_letter(stubs, poison, Contains("cannot read"), "UnreadableMessage")
    expect_sent(stubs, replace(task, waits=1).to_json(), 900)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json()), record(poison)]) == {"batchItemFailures": []}


def test_an_error_escaping_a_record_fails_that_record_only(
    stubs: Stubs, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = runtime(replicator_config(), stubs)

    def broken(body: str) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(handler_module, "parse", broken)
    first, second = record("{}", receive_count=2), record('{"a": 1}', receive_count=2)
    expect_retry(stubs, first, 2)
    expect_retry(stubs, second, 2)
    assert rt.process([first, second]) == {
        "batchItemFailures": [
            {"itemIdentifier": first["messageId"]},
            {"itemIdentifier": second["messageId"]},
        ]
    }


def test_an_ebs_copy_whose_race_check_failed_is_kept_and_watched_not_made_again(
    stubs: Stubs,
) -> None:
    # CopySnapshot succeeded, then the lookup that settles a race was throttled: the copy
    # exists, so it is counted and watched now; a redelivery (the tag search does not see the
    # copy yet: EC2 is eventually consistent) must not make a second one.
    task = ebs_task()
    key = copy_key(task.origin, region=OTHER, account=SOURCE, role="replica")
    ec2 = stubs.on("ec2", OTHER)
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(key))
    ec2.add_response("copy_snapshot", {"SnapshotId": "snap-0mine"})
    ec2.add_client_error("describe_snapshots", "RequestLimitExceeded", "slow down")
    expect_watch(stubs)
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 1
    # The same task again (a duplicate delivery): the copy is found, not made again.
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(key))
    ec2.add_response(
        "describe_snapshots",
        {"Snapshots": [{"SnapshotId": "snap-0mine", "OwnerId": SOURCE, "State": "pending"}]},
        {"SnapshotIds": ["snap-0mine"]},
    )
    expect_watch(stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "CopiesStarted") == 1


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "NotAuthorizedForSourceException", "InvalidArgument"]
)
def test_an_announcement_the_bus_refuses_for_good_is_dead_lettered_at_once(
    stubs: Stubs, code: str
) -> None:
    # PutEvents documents these entry errors as not retryable: retrying for 19 hours cannot help.
    # (AccessDeniedException, a refusal by the bus policy, gets the few minutes a policy just
    # deployed may need: dead-lettered on the third receive.)
    receive_count = 3 if code == "AccessDeniedException" else 1
    source = SnapshotRef("EBS", "snap-01234567", REGION, SOURCE)
    copy = SnapshotRef("EBS", "snap-0staging", REGION, SOURCE)
    task = Task(
        "watch", "staging", source, Origin.of(source, WHEN), REGION, SHARING_KEY, BACKUP, copy
    )
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": copy.id,
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Tags": tag_list(staging_tags(task)),
                }
            ]
        },
        {"SnapshotIds": [copy.id]},
    )
    ec2.add_response("modify_snapshot_attribute", {})
    stubs.on("events", REGION).add_response(
        "put_events",
        {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "refused"}]},
    )
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains(RECEIVER_BUS, code, "refused"),
        code,
        count=receive_count,
    )
    rt = runtime(cross_account_config(), stubs)
    message = record(task.to_json(), receive_count=receive_count)
    assert rt.process([message]) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("kind", "operation", "code"),
    [
        ("EBS", "create_tags", "InvalidSnapshot.NotFound"),
        ("RDS", "add_tags_to_resource", "DBSnapshotNotFound"),
    ],
)
def test_a_staging_copy_deleted_while_it_is_marked_delivered_is_done(
    stubs: Stubs, kind: str, operation: str, code: str
) -> None:
    # The Received notice finds the staging copy; the retention sweep deletes it before it is
    # tagged delivered. Nothing is left to do: not a dead letter.
    staging_id = "snap-0staging" if kind == "EBS" else "kmskit-s-orders-0123456789abcdef"
    source = SnapshotRef(kind, "snap-01234567" if kind == "EBS" else "orders", REGION, SOURCE)  # type: ignore[arg-type]
    task = Task("copy", "staging", source, Origin.of(source, WHEN), REGION, SHARING_KEY, BACKUP)
    if kind == "EBS":
        ec2 = stubs.on("ec2", REGION)
        ec2.add_response(
            "describe_snapshots",
            {
                "Snapshots": [
                    {
                        "SnapshotId": staging_id,
                        "OwnerId": SOURCE,
                        "State": "completed",
                        "Tags": tag_list(staging_tags(task)),
                    }
                ]
            },
            {"SnapshotIds": [staging_id]},
        )
        ec2.add_response("modify_snapshot_attribute", {})
        ec2.add_client_error(operation, code, "gone", http_status_code=400)
        arn = f"arn:aws:ec2:{REGION}::snapshot/{staging_id}"
    else:
        rds = stubs.on("rds", REGION)
        rds.add_response(
            "describe_db_snapshots",
            {"DBSnapshots": [rds_row(staging_id, REGION, "available", staging_tags(task))]},
        )
        rds.add_response("modify_db_snapshot_attribute", {})
        rds.add_client_error(operation, code, "gone", http_status_code=404)
        arn = f"arn:aws:rds:{REGION}:{SOURCE}:snapshot:{staging_id}"
    event = received_notice(BACKUP, staging_id)
    event["detail"]["staging_arn"] = arn
    rt = runtime(cross_account_config(), stubs)
    assert rt.process([record(event)]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 0


def test_copy_failed_is_counted_once_the_copy_task_is_dead_lettered(stubs: Stubs) -> None:
    # The dead-letter send fails: the record comes back, and CopyFailed (whose alarm says the
    # copy task is in the dead-letter queue) is counted when it is, once.
    event = fixture("ebs_copy_snapshot_failed")
    task = ebs_task()
    copy_id = "snap-0aaaa1111bbbb2222"
    tags = {
        TAG_MANAGED_BY: "kmskit-snapshots",
        TAG_REPLICATOR: "Source-Replicate",
        TAG_ROLE: "replica",
        **task.origin.tags(),
    }
    row = {
        "SnapshotId": copy_id,
        "OwnerId": SOURCE,
        "State": "error",
        "StateMessage": "Given key ID is not accessible",
        "KmsKeyId": DEST_KEY,
        "Tags": tag_list(tags),
    }
    ec2 = stubs.on("ec2", OTHER)
    ec2.add_response("describe_snapshots", {"Snapshots": [row]}, {"SnapshotIds": [copy_id]})
    stubs.on("sqs", REGION).add_client_error("send_message", "InternalError", "later", 500)
    rt = runtime(replicator_config(), stubs)
    message = record(event)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    assert metrics(rt, "CopyFailed") == 0
    ec2.add_response("describe_snapshots", {"Snapshots": [row]}, {"SnapshotIds": [copy_id]})
    redrive = task.with_action("copy", SnapshotRef("EBS", copy_id, OTHER, SOURCE)).to_json()
    expect_dead_letter(stubs, redrive, Contains("Given key ID"), "KeyNotAccessible", count=2)
    assert rt.process([record(event, receive_count=2)]) == {"batchItemFailures": []}
    assert metrics(rt, "CopyFailed") == 1


# ------------------------------------------- next steps SQS refuses for good: dead letter now
def rds_copy_started(stubs: Stubs, task: Task) -> None:
    """``task`` (rds_task) makes its copy in OTHER; its watch is to be queued next."""
    stubs.on("rds", OTHER).add_response(
        "copy_db_snapshot", {"DBSnapshot": rds_row(replica_name(task), OTHER, "creating")}
    )


def test_a_watch_sqs_refuses_for_the_senders_fault_dead_letters_the_task_at_once(
    stubs: Stubs,
) -> None:
    task = rds_task()
    rds_copy_started(stubs, task)
    stubs.on("sqs", REGION).add_response(
        "send_message_batch",
        {
            "Successful": [],
            "Failed": [
                {
                    "Id": "0",
                    "SenderFault": True,
                    "Code": "InvalidParameterValue",
                    "Message": "Message must be shorter than 262144 bytes.",
                }
            ],
        },
    )
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains(
            "next steps could not be queued",
            "InvalidParameterValue: Message must be shorter than 262144 bytes.",
        ),
        "InvalidParameterValue",
    )
    rt = runtime(replicator_config(), stubs)
    # First receive: not handed back to be retried for about 19 hours, not lost either.
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDenied", 403),
        ("KMS.AccessDeniedException", 400),
        ("AWS.SimpleQueueService.NonExistentQueue", 400),
    ],
)
def test_a_wait_sqs_refuses_for_good_dead_letters_the_task_and_its_duplicate_once(
    stubs: Stubs, code: str, status: int
) -> None:
    task = rds_task()
    stubs.on("rds", OTHER).add_client_error("copy_db_snapshot", "SnapshotQuotaExceeded", "full")
    stubs.on("sqs", REGION).add_client_error(
        "send_message_batch", code, "refused", http_status_code=status
    )
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains("next steps could not be queued", f"{code}: refused"),
        code,
    )
    rt = runtime(replicator_config(), stubs)
    batch = [record(task.to_json()), record(task.to_json())]  # a duplicate delivery
    # One dead letter (the stubber has one send_message), nothing handed back.
    assert rt.process(batch) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1


def test_a_watch_sqs_refuses_for_now_is_still_retried(stubs: Stubs) -> None:
    task = rds_task()
    rds_copy_started(stubs, task)
    stubs.on("sqs", REGION).add_response(
        "send_message_batch",
        {
            "Successful": [],
            "Failed": [
                {"Id": "0", "SenderFault": False, "Code": "InternalError", "Message": "later"}
            ],
        },
    )
    message = record(task.to_json())
    rt = runtime(replicator_config(), stubs)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    assert metrics(rt, "DeadLettered") == 0


def test_a_dead_letter_for_refused_steps_that_cannot_be_sent_keeps_the_record(
    stubs: Stubs,
) -> None:
    task = rds_task()
    rds_copy_started(stubs, task)
    sqs = stubs.on("sqs", REGION)
    sqs.add_client_error("send_message_batch", "AccessDenied", "no", http_status_code=403)
    sqs.add_client_error("send_message", "InternalError", "later", http_status_code=500)
    message = record(task.to_json())
    rt = runtime(replicator_config(), stubs)
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }
    assert metrics(rt, "DeadLettered") == 0


# ------------------------------------------------------------- Delivered: once per staging
def expect_staging_described(stubs: Stubs, task: Task, *, delivered: bool) -> Stubber:
    tags = staging_tags(task)
    if delivered:
        tags["kmskit:delivered"] = "2026-11-20T15:00:01Z"
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0staging",
                    "OwnerId": SOURCE,
                    "State": "completed",
                    "Tags": tag_list(tags),
                }
            ]
        },
        {"SnapshotIds": ["snap-0staging"]},
    )
    ec2.add_response("modify_snapshot_attribute", {})
    return ec2


def test_a_received_notice_delivered_again_counts_delivered_once(stubs: Stubs) -> None:
    # The receiver reports a copy done from its watch and from the copy's completion event, and
    # SQS delivers at least once: the staging copy was delivered once.
    source = SnapshotRef("EBS", "snap-01234567", REGION, SOURCE)
    task = Task("copy", "staging", source, Origin.of(source, WHEN), REGION, SHARING_KEY, BACKUP)
    rt = runtime(cross_account_config(), stubs)
    ec2 = expect_staging_described(stubs, task, delivered=False)
    ec2.add_response("create_tags", {})
    first = received_notice(BACKUP, "snap-0staging", "0c1d2e3f-0000-1111-2222-333344440001")
    assert rt.process([record(first)]) == {"batchItemFailures": []}
    # Again, as another event (its own ID) and as the same message redelivered: unshared again
    # (idempotent), not tagged again (the stubber has no create_tags), not counted again.
    expect_staging_described(stubs, task, delivered=True)
    second = received_notice(BACKUP, "snap-0staging", "0c1d2e3f-0000-1111-2222-333344440002")
    assert rt.process([record(second)]) == {"batchItemFailures": []}
    expect_staging_described(stubs, task, delivered=True)
    assert rt.process([record(first, receive_count=2)]) == {"batchItemFailures": []}
    assert metrics(rt, "Delivered") == 1
    assert metrics(rt, "DeadLettered") == 0


# ----------------------------------- a source that failed after its copy task was queued
@pytest.mark.parametrize(
    ("task", "service", "copy_operation", "code", "describe", "row", "state"),
    [
        (
            ebs_task(),
            "ec2",
            "copy_snapshot",
            "IncorrectState",
            ("describe_snapshots", {"SnapshotIds": ["snap-01234567"]}),
            {
                "Snapshots": [
                    {
                        "SnapshotId": "snap-01234567",
                        "OwnerId": SOURCE,
                        "State": "error",
                        "StateMessage": "Snapshot creation failed",
                    }
                ]
            },
            "'error' (Snapshot creation failed)",
        ),
        (
            rds_task(),
            "rds",
            "copy_db_snapshot",
            "InvalidDBSnapshotState",
            (
                "describe_db_snapshots",
                {"DBSnapshotIdentifier": "orders-before-upgrade", "IncludeShared": False},
            ),
            {"DBSnapshots": [rds_row("orders-before-upgrade", REGION, "failed")]},
            "'failed'",
        ),
        (
            rds_task("AURORA", "ledger-nightly"),
            "rds",
            "copy_db_cluster_snapshot",
            "InvalidDBClusterSnapshotStateFault",
            (
                "describe_db_cluster_snapshots",
                {"DBClusterSnapshotIdentifier": "ledger-nightly", "IncludeShared": False},
            ),
            {"DBClusterSnapshots": [{**aurora_source(encrypted=True), "Status": "failed"}]},
            "'failed'",
        ),
    ],
)
def test_a_redriven_copy_of_a_source_that_failed_since_is_dead_lettered_at_once(
    stubs: Stubs,
    task: Task,
    service: str,
    copy_operation: str,
    code: str,
    describe: tuple[str, dict[str, Any]],
    row: dict[str, Any],
    state: str,
) -> None:
    # It used to be retried as "retry later" until its receives ran out.
    if service == "ec2":
        expect_no_ebs_copy_yet(stubs, task)
    stubs.on(service, OTHER).add_client_error(copy_operation, code, "not available")
    stubs.on(service, REGION).add_response(describe[0], row, describe[1])
    expect_dead_letter(
        stubs,
        task.to_json(),
        Contains(
            f"the source snapshot {task.source.arn} is in state {state}",
            f"{code}: not available",
        ),
        "SourceSnapshotFailed",
    )
    rt = runtime(replicator_config(), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert metrics(rt, "DeadLettered") == 1


@pytest.mark.parametrize("source_state", ["creating", None])
def test_a_copy_refused_while_its_source_is_not_failed_is_retried(
    stubs: Stubs, source_state: str | None
) -> None:
    task = rds_task()
    stubs.on("rds", OTHER).add_client_error("copy_db_snapshot", "InvalidDBSnapshotState", "busy")
    rds = stubs.on("rds", REGION)
    if source_state is None:  # the describe fails: not known to have failed, so retried
        rds.add_client_error("describe_db_snapshots", "Throttling", "slow", http_status_code=400)
    else:
        rds.add_response(
            "describe_db_snapshots",
            {"DBSnapshots": [rds_row("orders-before-upgrade", REGION, source_state)]},
        )
    assert_retried_later(stubs, task, receive_count=1)


@pytest.mark.parametrize("kind", ["RDS", "AURORA"])
def test_rds_and_aurora_share_list_unshare_and_delete(stubs: Stubs, kind: str) -> None:
    """The engine's RDS and Aurora calls the copier tests above do not reach: sharing a staging
    copy, listing this replicator's copies (through the paginator), unsharing and deleting."""
    cluster = kind == "AURORA"
    prefix = "DBClusterSnapshot" if cluster else "DBSnapshot"
    ident = "kmskit-s-ledger-nightly-0123abcd"
    arn = f"arn:aws:rds:{REGION}:{SOURCE}:{'cluster-snapshot' if cluster else 'snapshot'}:{ident}"
    tags = tag_list({TAG_MANAGED_BY: "kmskit-snapshots", TAG_REPLICATOR: "Source-Replicate"})
    row = {f"{prefix}Identifier": ident, f"{prefix}Arn": arn, "Status": "available"}
    rds = stubs.on("rds", REGION)
    noun = "db_cluster" if cluster else "db"
    permission = {f"{prefix}Identifier": ident, "AttributeName": "restore"}
    # In call order: share, list (paginated), unshare, delete.
    rds.add_response(
        f"modify_{noun}_snapshot_attribute", {}, {**permission, "ValuesToAdd": [BACKUP]}
    )
    rds.add_response(
        f"describe_{noun}_snapshots",
        {f"{prefix}s": [{**row, "TagList": tags}]},
        {"SnapshotType": "manual"},
    )
    rds.add_response(
        f"modify_{noun}_snapshot_attribute", {}, {**permission, "ValuesToRemove": [BACKUP]}
    )
    rds.add_response(f"delete_{noun}_snapshot", {}, {f"{prefix}Identifier": ident})
    engine = runtime(replicator_config(), stubs).engine
    ref = SnapshotRef(kind, ident, REGION, SOURCE)  # type: ignore[arg-type]
    engine.share(ref, BACKUP)
    [copy] = engine.managed_copies(kind, REGION)  # type: ignore[arg-type]
    assert copy.ref.arn == arn
    engine.unshare(ref, BACKUP)
    assert engine.delete(copy)


# ---------------------------------------------------------------------- copy tags


def tags_of_request(captured: Capture) -> dict[str, str]:
    """The tags of the one create request ``captured`` saw (RDS ``Tags`` or EC2 ``Tags`` of
    its one ``TagSpecifications`` entry)."""
    (sent,) = captured.seen
    if isinstance(sent, list) and sent and "ResourceType" in sent[0]:
        (spec,) = sent
        assert spec["ResourceType"] == "snapshot"
        sent = spec["Tags"]
    return {t["Key"]: t["Value"] for t in sent}


def assert_copy_tags_with_the_toolkits(tags: dict[str, str], role: str) -> None:
    assert {k: tags[k] for k in COPY_TAGS} == COPY_TAGS
    assert tags[TAG_MANAGED_BY] == "kmskit-snapshots"
    assert tags[TAG_ROLE] == role
    assert TAG_COPY_KEY in tags


@pytest.mark.parametrize("kind", ["RDS", "AURORA"])
def test_replica_rds_and_aurora_copies_are_created_with_the_copy_tags(
    stubs: Stubs, kind: str
) -> None:
    task = rds_task(kind, "orders-before-upgrade")
    target = replica_name(task)
    tags = Capture()
    if kind == "RDS":
        operation, row = "copy_db_snapshot", {"DBSnapshot": rds_row(target, OTHER, "creating")}
        names = {
            "SourceDBSnapshotIdentifier": task.source.arn,
            "TargetDBSnapshotIdentifier": target,
        }
    else:
        arn = f"arn:aws:rds:{OTHER}:{SOURCE}:cluster-snapshot:{target}"
        operation = "copy_db_cluster_snapshot"
        row = {
            "DBClusterSnapshot": {
                "DBClusterSnapshotIdentifier": target,
                "DBClusterSnapshotArn": arn,
                "Status": "copying",
            }
        }
        names = {
            "SourceDBClusterSnapshotIdentifier": task.source.arn,
            "TargetDBClusterSnapshotIdentifier": target,
        }
    stubs.on("rds", OTHER).add_response(
        operation,
        row,
        {**names, "KmsKeyId": DEST_KEY, "Tags": tags, "SourceRegion": REGION},
    )
    expect_watch(stubs)
    rt = runtime(replicator_config(copy_tags=COPY_TAGS), stubs)
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    assert_copy_tags_with_the_toolkits(tags_of_request(tags), "replica")


def test_a_staging_ebs_copy_is_created_with_the_copy_tags(stubs: Stubs) -> None:
    source = SnapshotRef("EBS", "snap-01234567", REGION, SOURCE)
    origin = Origin.of(source, WHEN)
    task = Task("copy", "staging", source, origin, REGION, SHARING_KEY, BACKUP)
    key = copy_key(
        origin, region=REGION, account=SOURCE, role="staging", destination_account=BACKUP
    )
    older = copy_key(origin, region=REGION, account=SOURCE, role="staging")
    ec2 = stubs.on("ec2", REGION)
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(key))
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(older))
    specs = Capture()
    ec2.add_response(
        "copy_snapshot",
        {"SnapshotId": "snap-0staging"},
        {
            "SourceRegion": REGION,
            "SourceSnapshotId": source.id,
            "Encrypted": True,
            "KmsKeyId": SHARING_KEY,
            "Description": origin.description(),
            "TagSpecifications": specs,
        },
    )
    ec2.add_response("describe_snapshots", {"Snapshots": []}, by_copy_key(key))
    expect_watch(stubs)
    config = replicator_config(
        destinations=[{"region": REGION, "account": BACKUP, "kms_key_arn": SHARING_KEY}],
        copy_tags=COPY_TAGS,
    )
    assert runtime(config, stubs).process([record(task.to_json())]) == {"batchItemFailures": []}
    tags = tags_of_request(specs)
    assert_copy_tags_with_the_toolkits(tags, "staging")
    assert tags[TAG_DESTINATION_ACCOUNT] == BACKUP
