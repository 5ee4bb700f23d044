"""The check of the Lambda runtime's SDK (lambda_src/snapshot_replicator/sdk.py): what it finds
missing, what the copier and the sweep do then, and that the functions use nothing newer than
the botocore the Lambda Python runtime can have (fixtures/sdk_floor.json, see sdk_floor.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import boto3
import botocore
import pytest
from botocore import xform_name
from botocore.exceptions import InvalidRetryModeError
from botocore.model import ServiceModel
from botocore.stub import ANY, Stubber

from kmskit.snapshots.model import SnapshotRef
from lambda_src.snapshot_replicator import handler as handler_module
from lambda_src.snapshot_replicator import sweep as sweep_module
from lambda_src.snapshot_replicator.config import ENV_VAR
from lambda_src.snapshot_replicator.handler import Runtime
from lambda_src.snapshot_replicator.sdk import (
    MINIMUM_BOTOCORE,
    REQUIRED,
    SDK_TOO_OLD,
    SERVICES,
    Call,
    SdkTooOldError,
    check,
    missing,
    services_for,
    too_old,
)
from tests.lambdas._support import (
    DLQ_URL,
    FIXTURES,
    ONE_ATTEMPT,
    REGION,
    SOURCE,
    metrics,
    record,
    replica_copy_task,
    replicator_config,
    runtime,
)

FLOOR = json.loads((FIXTURES / "sdk_floor.json").read_text())


def floor_model(service: str) -> tuple[ServiceModel, Callable[[str], bool]]:
    pages = {xform_name(name) for name in FLOOR["paginators"][service]}
    return ServiceModel(FLOOR["models"][service], service), pages.__contains__


@pytest.mark.parametrize("service", SERVICES)
def test_the_functions_use_nothing_newer_than_the_runtimes_botocore(service: str) -> None:
    """fixtures/sdk_floor.json holds botocore 1.40.40 (2025-09-26), older than any the python3.14
    runtime can bundle (Python 3.14.0 came out on 2025-10-07): a call, parameter, paginator or
    response member added to sdk.REQUIRED that this botocore lacks fails here, not in AWS. An
    operation the file does not hold at all: regenerate it (sdk_floor.py)."""
    model, can_paginate = floor_model(service)
    assert FLOOR["botocore"] == "1.40.40"
    assert missing(model, can_paginate) == []


def test_a_parameter_newer_than_the_runtimes_botocore_is_found() -> None:
    """RDS CopyDBSnapshot took TagSpecifications after botocore 1.40.40: the pinned botocore of
    the tests has it, the runtime's may not."""
    model, can_paginate = floor_model("rds")
    newer = Call("rds", "CopyDBSnapshot", ("TagSpecifications[].Tags[].Key",))
    assert missing(model, can_paginate, [newer]) == [
        "rds CopyDBSnapshot: request parameter TagSpecifications[].Tags[].Key"
    ]
    current = boto3.client("rds", region_name=REGION).meta.service_model
    assert missing(current, lambda _: True, [newer]) == []


def without(service: str, shape: str, member: str) -> ServiceModel:
    """The pinned botocore's model of ``service`` without ``member`` of ``shape``."""
    loader = botocore.session.get_session().get_component("data_loader")
    data = copy.deepcopy(loader.load_service_model(service, "service-2"))
    del data["shapes"][shape]["members"][member]
    return ServiceModel(data, service)


def all_paginate(_: str) -> bool:
    return True


@pytest.mark.parametrize(
    ("service", "shape", "member", "problem"),
    [
        (
            "ec2",
            "CopySnapshotRequest",
            "TagSpecifications",
            "ec2 CopySnapshot: request parameter TagSpecifications[].ResourceType",
        ),
        (
            "rds",
            "DBSnapshot",
            "OriginalSnapshotCreateTime",
            "rds DescribeDBSnapshots: response member DBSnapshots[].OriginalSnapshotCreateTime",
        ),
        (
            "sqs",
            "MessageAttributeValue",
            "DataType",
            "sqs SendMessage: request parameter MessageAttributes{}.DataType",
        ),
    ],
)
def test_the_check_names_what_a_model_lacks(
    service: str, shape: str, member: str, problem: str
) -> None:
    assert problem in missing(without(service, shape, member), all_paginate)


def test_the_check_names_a_missing_operation_and_paginator() -> None:
    model = boto3.client("ec2", region_name=REGION).meta.service_model
    calls = [Call("ec2", "CopySnapshotV9", ()), Call("ec2", "DescribeSnapshots", (), (), True)]
    assert missing(model, lambda _: False, calls) == [
        "ec2 CopySnapshotV9: no such operation",
        "ec2 DescribeSnapshots: no paginator",
    ]


def test_every_service_of_the_functions_passes_with_the_pinned_botocore() -> None:
    clients = handler_module.lambda_clients(REGION)
    assert check(clients, REGION) == []
    assert services_for(["EBS"]) == ("ec2", "sqs", "events")
    assert services_for(["RDS", "AURORA"]) == ("rds", "sqs", "events")
    assert set(SERVICES) == {c.service for c in REQUIRED} == {"ec2", "rds", "sqs", "events"}


def test_a_client_the_config_cannot_make_is_a_problem_and_the_reason_says_the_fix() -> None:
    def clients(service: str, region: str) -> Any:
        if service == "sqs":
            raise InvalidRetryModeError(provided_retry_mode="standard", valid_modes="legacy")
        return boto3.client(service, region_name=region)

    problems = check(clients, REGION, ["ec2", "sqs"])
    assert len(problems) == 1
    assert problems[0].startswith("sqs client: InvalidRetryModeError")
    reason = too_old(problems)
    assert reason is not None
    assert f"botocore {botocore.__version__}" in reason
    assert problems[0] in reason
    assert MINIMUM_BOTOCORE in reason
    assert "redrive" in reason
    assert too_old([]) is None


def stripped_clients(service: str, shape: str, member: str) -> Callable[[str, str], Any]:
    """The functions' own clients, but ``service``'s model lacks ``member`` of ``shape``."""
    real = handler_module.lambda_clients(REGION)
    model = without(service, shape, member)

    def clients(name: str, region: str) -> Any:
        client = real(name, region)
        if name == service:
            client.meta._service_model = model
        return client

    return clients


def test_a_cold_start_on_an_old_sdk_finds_what_it_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "mode": "replicator",
        "replicator_id": "Source-Replicate",
        "account": "111111111111",
        "region": REGION,
        "resource_types": ["EBS"],
        "queue_url": "https://sqs.eu-west-1.amazonaws.com/111111111111/q",
        "dead_letter_queue_url": DLQ_URL,
        "max_receive_count": 5,
    }
    monkeypatch.setenv(ENV_VAR, json.dumps(config))
    assert Runtime.from_env().sdk_problem is None
    old = stripped_clients("ec2", "CopySnapshotRequest", "TagSpecifications")
    monkeypatch.setattr(handler_module, "lambda_clients", lambda region, attempts: old)
    problem = Runtime.from_env().sdk_problem
    assert problem is not None
    assert "ec2 CopySnapshot: request parameter TagSpecifications[].ResourceType" in problem
    # RDS is not replicated here: its model is not checked (nor loaded).
    config["resource_types"] = ["RDS"]
    monkeypatch.setenv(ENV_VAR, json.dumps(config))
    assert Runtime.from_env().sdk_problem is None


class Sqs:
    """A stubbed SQS client (the only calls a refused batch makes)."""

    def __init__(self) -> None:
        self.client = boto3.client("sqs", region_name=REGION, config=ONE_ATTEMPT)
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def __call__(self, service: str, region: str) -> Any:
        assert service == "sqs", f"no {service} call may be made"
        return self.client


REASON = too_old(["ec2 CopySnapshot: request parameter TagSpecifications[].ResourceType"])


def test_on_an_old_sdk_the_copier_dead_letters_every_record_with_the_reason() -> None:
    sqs = Sqs()
    rt = runtime(replicator_config(), sqs)
    rt.sdk_problem = REASON
    first, second = record({"some": "task"}, receive_count=2), record("not even json")
    for message, count in ((first, "2"), (second, "1")):
        sqs.stubber.add_response(
            "send_message",
            {"MessageId": "m"},
            {
                "QueueUrl": DLQ_URL,
                "MessageBody": message["body"],
                "MessageAttributes": {
                    "reason": {"DataType": "String", "StringValue": REASON},
                    "error_code": {"DataType": "String", "StringValue": SDK_TOO_OLD},
                    "receive_count": {"DataType": "Number", "StringValue": count},
                },
            },
        )
    assert rt.process([first, second]) == {"batchItemFailures": []}
    sqs.stubber.assert_no_pending_responses()
    assert metrics(rt, "DeadLettered") == 2


def test_on_an_old_sdk_a_record_the_dead_letter_queue_refuses_goes_back() -> None:
    sqs = Sqs()
    rt = runtime(replicator_config(), sqs)
    rt.sdk_problem = REASON
    message = record({"some": "task"})
    sqs.stubber.add_client_error("send_message", "AccessDenied", "no")
    assert rt.process([message]) == {
        "batchItemFailures": [{"itemIdentifier": message["messageId"]}]
    }


def test_on_an_old_sdk_the_sweep_fails_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    rt = runtime(replicator_config(), Sqs())
    rt.sdk_problem = REASON
    monkeypatch.setattr(sweep_module, "_runtime", rt)
    with pytest.raises(SdkTooOldError, match="TagSpecifications"):
        sweep_module.handler({}, None)


def test_a_parameter_the_runtimes_botocore_refuses_is_dead_lettered_at_once() -> None:
    """Past the check (a call it does not list): botocore's ParamValidationError is refused the
    same way on every retry, so the copy task goes to the dead-letter queue with it at once."""
    ec2 = boto3.client("ec2", region_name="eu-central-1", config=ONE_ATTEMPT)
    ec2.meta._service_model = without("ec2", "CopySnapshotRequest", "TagSpecifications")
    ec2_stubs = Stubber(ec2)
    ec2_stubs.add_response("describe_snapshots", {"Snapshots": []})
    ec2_stubs.add_response("copy_snapshot", {"SnapshotId": "snap-never"})  # refused before it
    ec2_stubs.activate()
    sqs = Sqs()
    task = replica_copy_task(SnapshotRef("EBS", "snap-01234567", REGION, SOURCE), "k", None)
    sqs.stubber.add_response(
        "send_message",
        {"MessageId": "m"},
        {
            "QueueUrl": DLQ_URL,
            "MessageBody": task.to_json(),
            "MessageAttributes": {
                "reason": {"DataType": "String", "StringValue": ANY},
                "error_code": {"DataType": "String", "StringValue": "ParamValidationError"},
                "receive_count": {"DataType": "Number", "StringValue": "1"},
            },
        },
    )
    rt = runtime(replicator_config(), lambda s, r: ec2 if s == "ec2" else sqs(s, r))
    assert rt.process([record(task.to_json())]) == {"batchItemFailures": []}
    sqs.stubber.assert_no_pending_responses()
    [line] = [x for x in rt.log.lines or [] if x.get("message") == "dead-lettered"]
    assert 'Unknown parameter in input: "TagSpecifications"' in line["reason"]


def test_a_config_option_the_runtimes_botocore_does_not_know_is_a_problem() -> None:
    """botocore's Config refuses an option newer than itself with TypeError: the cold start
    reports it as the SDK's age instead of failing every invocation with it."""

    def clients(service: str, region: str) -> Any:
        if service == "events":
            raise TypeError("Got unexpected keyword argument 'request_min_compression_size_bytes'")
        return boto3.client(service, region_name=region)

    assert check(clients, REGION, ["sqs", "events"]) == [
        "events client: TypeError: Got unexpected keyword argument "
        "'request_min_compression_size_bytes'"
    ]
