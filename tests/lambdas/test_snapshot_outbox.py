"""The outbox against botocore Stubber: partial SendMessageBatch failures and error classes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import ANY, Stubber

from kmskit.snapshots.model import Origin, SnapshotRef
from kmskit.snapshots.outcomes import DeadLetterError, RetryableError, StepError, classify
from lambda_src.snapshot_replicator.messages import Task
from lambda_src.snapshot_replicator.outbox import Outbox
from tests.lambdas._support import DLQ_URL, ONE_ATTEMPT, OTHER, QUEUE_URL, REGION, SOURCE


def task(n: int) -> Task:
    ref = SnapshotRef("EBS", f"snap-{n:08x}", REGION, SOURCE)
    origin = Origin(ref.kind, ref.id, ref.region, ref.account, "2026-11-20T10:00:00Z")
    return Task("copy", "replica", ref, origin, OTHER, f"arn:aws:kms:{OTHER}:{SOURCE}:key/k")


def client_to_stub(service: Literal["sqs", "events"]) -> Any:
    """A client for a Stubber: dummy credentials, one attempt per call."""
    return boto3.client(
        service,
        region_name=REGION,
        config=ONE_ATTEMPT,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def outbox_over(client: Any) -> Outbox:
    """An outbox that makes every call with ``client``."""
    return Outbox(
        lambda service, region: client,
        region=REGION,
        queue_url=QUEUE_URL,
        dead_letter_queue_url=DLQ_URL,
    )


@pytest.fixture
def sqs() -> Iterator[tuple[Outbox, Stubber]]:
    client = client_to_stub("sqs")
    stubber = Stubber(client)
    outbox = outbox_over(client)
    with stubber:
        yield outbox, stubber
    stubber.assert_no_pending_responses()


def batch_response(entries: int, failed: set[int]) -> dict[str, Any]:
    return {
        "Successful": [
            {"Id": str(i), "MessageId": f"m{i}", "MD5OfMessageBody": "x"}
            for i in range(entries)
            if i not in failed
        ],
        "Failed": [
            {"Id": str(i), "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for i in sorted(failed)
        ],
    }


def flush_two_records(outbox: Outbox) -> dict[str, StepError]:
    """Records A and B each queue one task, then flush: the records not sent, with why."""
    outbox.begin()
    outbox.for_record("A")
    outbox.send([task(1)])
    outbox.for_record("B")
    outbox.send([task(2)])
    return outbox.flush()


def test_only_the_record_whose_entry_failed_is_delivered_again(
    sqs: tuple[Outbox, Stubber],
) -> None:
    outbox, stubber = sqs
    # Two records share one batch; SQS refuses only record B's entry.
    stubber.add_response(
        "send_message_batch", batch_response(2, failed={1}), {"QueueUrl": QUEUE_URL, "Entries": ANY}
    )
    assert set(flush_two_records(outbox)) == {"B"}


def test_a_failed_call_fails_every_record_of_its_batch(sqs: tuple[Outbox, Stubber]) -> None:
    outbox, stubber = sqs
    stubber.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)
    assert set(flush_two_records(outbox)) == {"A", "B"}


def test_unbuffered_send_tries_every_batch_before_it_raises(sqs: tuple[Outbox, Stubber]) -> None:
    outbox, stubber = sqs
    params = {"QueueUrl": QUEUE_URL, "Entries": ANY}
    stubber.add_response("send_message_batch", batch_response(10, failed={3}), params)
    stubber.add_response("send_message_batch", batch_response(2, failed=set()), params)
    with pytest.raises(RetryableError, match="could not queue 1 of 12"):
        outbox.send([task(n) for n in range(12)])
    # The second batch was sent although the first failed in part (the stubber has no
    # response left over).


def error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Op")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("RequestThrottled", 403),  # SQS
        ("EC2ThrottledException", 400),
        ("PriorRequestNotComplete", 400),
        ("RequestTimeout", 400),
        ("InternalException", 500),  # EventBridge
        ("KMSInternalException", 500),
        ("SomethingNew", 503),
        ("SomethingNew", 429),
        # The source is still being created or copied: copied once it is available.
        ("IncorrectState", 400),  # EC2
        ("InvalidDBSnapshotState", 400),
        ("InvalidDBClusterSnapshotStateFault", 400),
    ],
)
def test_throttling_and_server_errors_are_retried(code: str, status: int) -> None:
    assert type(classify(error(code, status), "x")) is RetryableError


@pytest.mark.parametrize("code", ["AccessDenied", "InvalidParameterValue", "KMSDisabledException"])
def test_client_errors_are_dead_lettered(code: str) -> None:
    assert isinstance(classify(error(code, 400), "x"), DeadLetterError)


def test_connection_errors_that_outlived_botocore_retries_are_retried() -> None:
    problem = classify(EndpointConnectionError(endpoint_url="https://ec2.eu-west-1"), "copy x")
    assert type(problem) is RetryableError
    assert problem.reason.startswith("copy x: EndpointConnectionError")


def entries(count: int, delay: int) -> list[dict[str, Any]]:
    return [{"Id": str(i), "MessageBody": ANY, "DelaySeconds": delay} for i in range(count)]


def test_flush_sends_each_delay_in_batches_of_ten(sqs: tuple[Outbox, Stubber]) -> None:
    outbox, stubber = sqs
    for count, delay in ((10, 0), (2, 0), (1, 900)):
        stubber.add_response(
            "send_message_batch",
            batch_response(count, failed=set()),
            {"QueueUrl": QUEUE_URL, "Entries": entries(count, delay)},
        )
    outbox.begin()
    outbox.for_record("A")
    outbox.send([task(n) for n in range(12)])
    outbox.for_record("B")
    outbox.send([task(99)], delay_seconds=3600)  # SQS allows 900 s at most
    assert outbox.flush() == {}


def test_a_failure_sqs_names_by_an_unknown_id_fails_the_whole_batch(
    sqs: tuple[Outbox, Stubber],
) -> None:
    outbox, stubber = sqs
    response = batch_response(2, failed=set())
    response["Failed"] = [{"Id": "x", "SenderFault": False, "Code": "InternalError"}]
    stubber.add_response("send_message_batch", response, {"QueueUrl": QUEUE_URL, "Entries": ANY})
    assert set(flush_two_records(outbox)) == {"A", "B"}


def test_a_queue_that_refuses_the_sender_is_a_dead_letter(sqs: tuple[Outbox, Stubber]) -> None:
    outbox, stubber = sqs
    stubber.add_client_error("send_message_batch", "AccessDenied", "no", http_status_code=403)
    with pytest.raises(DeadLetterError, match="could not queue 1 of 1 next step"):
        outbox.send([task(1)])


def test_an_event_the_bus_did_not_take_is_retried() -> None:
    events = client_to_stub("events")
    outbox = outbox_over(events)
    bus = f"arn:aws:events:{REGION}:{SOURCE}:event-bus/b"
    with Stubber(events) as stubber:
        stubber.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "later"}],
            },
        )
        with pytest.raises(RetryableError, match=f"notify {bus}: InternalFailure: later"):
            outbox.notify(bus_arn=bus, detail_type="kmskit Snapshot Shared", detail={})


def notify_with_entry_error(code: str) -> None:
    """``Outbox.notify`` with PutEvents answering that its one entry failed with ``code``."""
    events = client_to_stub("events")
    outbox = outbox_over(events)
    bus = f"arn:aws:events:{REGION}:{SOURCE}:event-bus/b"
    with Stubber(events) as stubber:
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": "why"}]},
        )
        outbox.notify(bus_arn=bus, detail_type="kmskit Snapshot Shared", detail={})


@pytest.mark.parametrize(
    "code",
    [
        # PutEventsResultEntry.ErrorCode's non-retryable errors (botocore's events model).
        "AccessDeniedException",
        "InvalidAccountIdException",
        "InvalidArgument",
        "MalformedDetail",
        "RedactionFailure",
        "NotAuthorizedForSourceException",
        "NotAuthorizedForDetailTypeException",
        "SomethingNotDocumentedYet",
    ],
)
def test_an_entry_error_that_fails_again_is_a_dead_letter_with_its_code(code: str) -> None:
    with pytest.raises(DeadLetterError, match=f": {code}: why$") as raised:
        notify_with_entry_error(code)
    assert raised.value.code == code


@pytest.mark.parametrize(
    "code",
    [
        # PutEventsResultEntry.ErrorCode's retryable errors, and transient ones by other names.
        "InternalFailure",
        "ThrottlingException",
        "InternalException",
        "ServiceUnavailable",
        "",
    ],
)
def test_a_transient_entry_error_is_retried(code: str) -> None:
    with pytest.raises(RetryableError) as raised:
        notify_with_entry_error(code)
    assert type(raised.value) is RetryableError
    assert raised.value.code == code


# ------------------------------------------- SQS refusing next steps for good, or for now
def flush_with_entry_error(sqs: tuple[Outbox, Stubber], entry: dict[str, Any]) -> Any:
    """Records A and B each queue one task; SQS takes A's and answers ``entry`` for B's."""
    outbox, stubber = sqs
    response = batch_response(2, failed=set())
    response["Successful"] = response["Successful"][:1]
    response["Failed"] = [{"Id": "1", **entry}]
    stubber.add_response("send_message_batch", response, {"QueueUrl": QUEUE_URL, "Entries": ANY})
    return flush_two_records(outbox)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("InvalidParameterValue", "Message must be shorter than 262144 bytes."),
        ("InvalidMessageContents", "Invalid characters found."),
        ("KMS.AccessDeniedException", "The ciphertext refers to a key that is not accessible."),
        ("SomethingNotDocumentedYet", "why"),
    ],
)
def test_an_entry_refused_for_the_senders_fault_is_a_dead_letter_with_its_code(
    sqs: tuple[Outbox, Stubber], code: str, message: str
) -> None:
    # Sent again, the same entry fails again: it used to be retried until the record's last
    # receive (about 19 hours) before it reached the dead-letter queue.
    unsent = flush_with_entry_error(sqs, {"SenderFault": True, "Code": code, "Message": message})
    assert set(unsent) == {"B"}  # A's entry was taken
    problem = unsent["B"]
    assert isinstance(problem, DeadLetterError)
    assert problem.code == code
    assert problem.reason.endswith(f"{code}: {message}")


@pytest.mark.parametrize(
    "entry",
    [
        {"SenderFault": False, "Code": "InternalError", "Message": "try again"},
        {"SenderFault": True, "Code": "KMS.ThrottlingException", "Message": "slow down"},
        {"SenderFault": True, "Code": "RequestThrottled", "Message": "slow down"},
    ],
)
def test_an_entry_refused_for_now_is_retried(
    sqs: tuple[Outbox, Stubber], entry: dict[str, Any]
) -> None:
    unsent = flush_with_entry_error(sqs, entry)
    assert type(unsent["B"]) is RetryableError
    assert unsent["B"].code == entry["Code"]


def test_one_entry_refused_for_good_decides_its_records_fate(sqs: tuple[Outbox, Stubber]) -> None:
    outbox, stubber = sqs
    response = batch_response(2, failed=set())
    response["Successful"] = []
    response["Failed"] = [
        {"Id": "0", "SenderFault": False, "Code": "InternalError", "Message": "try again"},
        {"Id": "1", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "too big"},
    ]
    stubber.add_response("send_message_batch", response, {"QueueUrl": QUEUE_URL, "Entries": ANY})
    outbox.begin()
    outbox.for_record("A")
    outbox.send([task(1), task(2)])  # one record, two next steps
    unsent = outbox.flush()
    assert isinstance(unsent["A"], DeadLetterError)
    assert unsent["A"].code == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDenied", 403),
        # SQS speaks JSON: with the query-compatible header botocore surfaces the query code,
        # without it the modeled shape name.
        ("AWS.SimpleQueueService.NonExistentQueue", 400),
        ("QueueDoesNotExist", 400),
        ("KMS.AccessDeniedException", 400),
        ("KmsAccessDenied", 400),
        ("KMS.DisabledException", 400),
        ("InvalidSecurity", 403),
    ],
)
def test_a_call_refused_for_good_is_a_dead_letter_for_every_record_of_its_batch(
    sqs: tuple[Outbox, Stubber], code: str, status: int
) -> None:
    outbox, stubber = sqs
    stubber.add_client_error("send_message_batch", code, "refused", http_status_code=status)
    unsent = flush_two_records(outbox)
    assert set(unsent) == {"A", "B"}
    for problem in unsent.values():
        assert isinstance(problem, DeadLetterError)
        assert problem.code == code
        assert f"queue the next steps: {code}: refused" in problem.reason


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("RequestThrottled", 403),
        ("KMS.ThrottlingException", 400),
        ("KmsThrottled", 400),
        ("InternalError", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_a_call_refused_for_now_is_retried_for_every_record_of_its_batch(
    sqs: tuple[Outbox, Stubber], code: str, status: int
) -> None:
    outbox, stubber = sqs
    stubber.add_client_error("send_message_batch", code, "later", http_status_code=status)
    unsent = flush_two_records(outbox)
    assert {name: type(p) for name, p in unsent.items()} == {
        "A": RetryableError,
        "B": RetryableError,
    }


class RawBody:
    """The raw body of a canned HTTP response (what urllib3 hands botocore)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def sqs_answering(status: int, headers: dict[str, str], body: dict[str, Any]) -> Any:
    """An SQS client whose every call gets this HTTP answer, parsed by botocore itself."""
    client = client_to_stub("sqs")

    def answer(**_: Any) -> AWSResponse:
        raw = RawBody(json.dumps(body).encode())
        all_headers = HTTPHeaders()
        for name, value in {"x-amzn-requestid": "r", **headers}.items():
            all_headers[name] = value
        return AWSResponse(QUEUE_URL, status, all_headers, raw)

    client.meta.events.register("before-send.sqs.SendMessageBatch", answer)
    return client


@pytest.mark.parametrize(
    ("headers", "shape", "code", "dead"),
    [
        (
            {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            True,
        ),
        ({}, "QueueDoesNotExist", "QueueDoesNotExist", True),
        (
            {"x-amzn-query-error": "KMS.AccessDeniedException;Sender"},
            "KmsAccessDenied",
            "KMS.AccessDeniedException",
            True,
        ),
        (
            {"x-amzn-query-error": "KMS.ThrottlingException;Sender"},
            "KmsThrottled",
            "KMS.ThrottlingException",
            False,
        ),
    ],
)
def test_the_codes_botocore_surfaces_for_sqs_json_errors(
    headers: dict[str, str], shape: str, code: str, dead: bool
) -> None:
    client = sqs_answering(400, headers, {"__type": f"com.amazonaws.sqs#{shape}", "message": "m"})
    outbox = outbox_over(client)
    unsent = flush_two_records(outbox)
    assert {p.code for p in unsent.values()} == {code}
    assert all(isinstance(p, DeadLetterError) is dead for p in unsent.values())
