"""KeyGrant's provider function (lambda_src/key_grant): CloudFormation's events in, KMS calls out,
one answer per event on its response URL.

KMS is stubbed with ``botocore.stub.Stubber`` (which checks every request against the KMS API
model) where a test needs an error moto does not model (IAM not yet in effect, a key pending
deletion), and moto runs the end-to-end test. The answer goes to a local HTTP server: the
pre-signed URL's rules (PUT, an empty Content-Type) are checked on the wire.
"""

from __future__ import annotations

import ast
import http.server
import json
import shlex
import threading
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jmespath
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.model import ServiceModel
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from moto import mock_aws

from lambda_src.key_grant import handler as provider
from lambda_src.key_grant import response
from lambda_src.key_grant.handler import (
    DELETE_ACTIONS,
    NOT_CREATED,
    OPERATIONS,
    OUTCOME_UNKNOWN,
    handle,
)
from lambda_src.key_grant.response import FAILED, SUCCESS, Answer, send
from tests.lambdas._support import FIXTURES

REGION = "eu-west-1"
KEY_ARN = f"arn:aws:kms:{REGION}:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GRANTEE = "arn:aws:iam::111111111111:role/OrdersReader"
RETIRER = "arn:aws:iam::111111111111:role/S-KmsKitKeyGrantProviderRole-ABC"
GRANT_ID = "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60"
GRANT_TOKEN = "AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc0ZDE1ODkyNGFlNTIzODZhMzgy"
PROPERTIES: dict[str, Any] = {
    "ServiceToken": f"arn:aws:lambda:{REGION}:111111111111:function:S-Provider",
    "KeyId": KEY_ARN,
    "GranteePrincipal": GRANTEE,
    "Operations": ["Decrypt", "DescribeKey"],
    "RetiringPrincipal": RETIRER,
    "Name": "SReaderGrant150D6985",
    "Constraints": {"EncryptionContextSubset": {"app": "orders"}},
    "DeleteBy": "RetireGrant",
}
# CreateGrant's parameters: the properties, but the function's ARN and how to delete the grant.
CREATE_PARAMETERS = {
    name: value for name, value in PROPERTIES.items() if name not in ("ServiceToken", "DeleteBy")
}


def event(request_type: str, physical_id: str | None = None, **properties: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.s3.amazonaws.com/x?sig=y",
        "StackId": f"arn:aws:cloudformation:{REGION}:111111111111:stack/S/1",
        "RequestId": "request-1",
        "LogicalResourceId": "ReaderGrant3FC73BC2",
        "ResourceType": "Custom::KmsGrant",
        "ResourceProperties": {
            name: value for name, value in {**PROPERTIES, **properties}.items() if value is not None
        },
    }
    if physical_id is not None:
        found["PhysicalResourceId"] = physical_id
    return found


@dataclass
class Kms:
    """A stubbed KMS client, the Regions clients were asked for, and the time waited."""

    client: Any
    stubber: Stubber
    regions: list[str | None] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    now: float = 0.0

    def client_for(self, region: str | None) -> Any:
        self.regions.append(region)
        return self.client

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def handle(
        self, received: dict[str, Any], *, deadline: float = 280.0, client: Any = None
    ) -> Answer:
        """The provider's answer to ``received``, its calls going to ``client`` (default: the
        stubbed client)."""
        return handle(
            received,
            deadline=deadline,
            client_for=self.client_for if client is None else lambda region: client,
            sleep=self.sleep,
            clock=self.clock,
        )

    def refuse(self, operation: str, code: str, message: str = "refused") -> None:
        """The next call of ``operation`` (as KMS names it: CreateGrant) fails with ``code``."""
        method = {"CreateGrant": "create_grant", "RetireGrant": "retire_grant"}.get(
            operation, "revoke_grant"
        )
        self.stubber.add_client_error(method, service_error_code=code, service_message=message)


@pytest.fixture
def kms() -> Iterator[Kms]:
    client = boto3.client(
        "kms", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y"
    )
    with Stubber(client) as stubber:
        yield Kms(client, stubber)
        stubber.assert_no_pending_responses()


def created(kms: Kms, grant_id: str = GRANT_ID) -> None:
    kms.stubber.add_response(
        "create_grant", {"GrantId": grant_id, "GrantToken": GRANT_TOKEN}, CREATE_PARAMETERS
    )


# -- create and update ---------------------------------------------------------------------------


def test_create_makes_the_grant_of_the_properties_and_answers_its_id_without_the_token(
    kms: Kms, capsys: pytest.CaptureFixture[str]
) -> None:
    created(kms)
    answer = kms.handle(event("Create"))
    assert answer == Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID})
    assert kms.regions == [None]  # the function's own Region
    assert kms.waits == []
    assert GRANT_TOKEN not in capsys.readouterr().out
    assert GRANT_TOKEN not in answer.body(event("Create"), "stream").decode()


def test_an_update_makes_the_grant_again_and_keeps_the_id_kms_returns(kms: Kms) -> None:
    # Named, with the same parameters: KMS returns the same grant, so the physical ID stays and
    # CloudFormation deletes nothing; a changed parameter gives a new ID and the old is deleted.
    created(kms)
    assert kms.handle(event("Update", GRANT_ID)).physical_resource_id == GRANT_ID


def test_no_constraints_and_another_region(kms: Kms) -> None:
    parameters = {name: v for name, v in CREATE_PARAMETERS.items() if name != "Constraints"}
    kms.stubber.add_response(
        "create_grant", {"GrantId": GRANT_ID, "GrantToken": GRANT_TOKEN}, parameters
    )
    answer = kms.handle(event("Create", Constraints=None, Region="eu-central-1"))
    assert answer.status == SUCCESS
    assert kms.regions == ["eu-central-1"]


def test_a_call_iam_refuses_is_retried_until_the_new_policy_is_in_effect(
    kms: Kms, capsys: pytest.CaptureFixture[str]
) -> None:
    kms.refuse("CreateGrant", "AccessDeniedException")
    kms.refuse("CreateGrant", "AccessDeniedException")
    kms.refuse("CreateGrant", "AccessDeniedException")
    created(kms)
    answer = kms.handle(event("Create"))
    assert answer == Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID})
    assert kms.waits == [1.0, 2.0, 4.0]
    retries = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if json.loads(line)["level"] == "WARNING"
    ]
    assert [(r["operation"], r["code"], r["attempt"]) for r in retries] == [
        ("CreateGrant", "AccessDeniedException", 1),
        ("CreateGrant", "AccessDeniedException", 2),
        ("CreateGrant", "AccessDeniedException", 3),
    ]


def test_waits_grow_to_16_seconds_and_stop_at_the_deadline(kms: Kms) -> None:
    for _ in range(7):
        kms.refuse("CreateGrant", "AccessDeniedException", "not authorized to kms:CreateGrant")
    answer = kms.handle(event("Create"), deadline=60.0)
    # 1+2+4+8+16 = 31 s; the next 16 s wait would end at 47 s: taken; then 63 s: past 60 s.
    assert kms.waits == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0]
    assert answer == Answer(
        FAILED,
        NOT_CREATED,
        reason="CreateGrant failed: AccessDeniedException: not authorized to kms:CreateGrant",
    )


@pytest.mark.parametrize(
    "code", ["NotFoundException", "ValidationException", "KMSInvalidStateException"]
)
def test_other_refusals_fail_at_once_with_kms_code_and_message(kms: Kms, code: str) -> None:
    kms.refuse("CreateGrant", code, "Key is pending deletion")
    answer = kms.handle(event("Create"))
    assert answer == Answer(
        FAILED, NOT_CREATED, reason=f"CreateGrant failed: {code}: Key is pending deletion"
    )
    assert kms.waits == []


def test_a_failed_update_keeps_the_grant_there_was(kms: Kms) -> None:
    kms.refuse("CreateGrant", "DisabledException", "key is disabled")
    answer = kms.handle(event("Update", GRANT_ID))
    assert (answer.status, answer.physical_resource_id) == (FAILED, GRANT_ID)


# -- calls without an answer --------------------------------------------------------------------


class LostAnswers:
    """A client whose next ``lost`` calls raise ``error`` (a timeout, a lost connection) before
    the stubbed KMS answers; the rest go to the stubbed client."""

    def __init__(self, client: Any, lost: int, error: Exception) -> None:
        self.client, self.lost, self.error = client, lost, error

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**parameters: Any) -> Any:
            if self.lost > 0:
                self.lost -= 1
                raise self.error
            return method(**parameters)

        return call


READ_TIMEOUT = ReadTimeoutError(endpoint_url="https://kms.eu-west-1.amazonaws.com/")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (READ_TIMEOUT, "ReadTimeoutError"),
        (EndpointConnectionError(endpoint_url="https://kms"), "EndpointConnectionError"),
    ],
)
def test_a_create_without_an_answer_is_made_again_and_gets_the_grant_by_its_name(
    kms: Kms, error: Exception, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """CreateGrant with a name is idempotent (KMS API reference, CreateGrant, Name): the call
    made again returns the grant the unanswered one made, so the create succeeds with it."""
    created(kms)
    lossy = LostAnswers(kms.client, 2, error)
    answer = kms.handle(event("Create"), deadline=280.0, client=lossy)
    assert answer == Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID})
    assert kms.waits == [1.0, 2.0]
    warnings = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if json.loads(line)["level"] == "WARNING"
    ]
    assert [(w["message"], w["code"]) for w in warnings] == [
        ("no answer, retrying: the call is idempotent", code)
    ] * 2


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("KMSInternalException", 500),
        ("DependencyTimeoutException", 503),
        ("ThrottlingException", 400),
        ("InternalFailure", 500),
    ],
)
def test_kms_errors_that_say_nothing_of_the_outcome_are_made_again(
    kms: Kms, code: str, status: int
) -> None:
    kms.stubber.add_client_error("create_grant", service_error_code=code, http_status_code=status)
    created(kms)
    assert kms.handle(event("Create")).physical_resource_id == GRANT_ID
    assert kms.waits == [1.0]


def test_a_create_without_an_answer_until_the_deadline_fails_with_the_outcome_unknown(
    kms: Kms,
) -> None:
    for _ in range(3):
        kms.stubber.add_client_error(
            "create_grant",
            service_error_code="KMSInternalException",
            service_message="internal",
            http_status_code=500,
        )
    answer = kms.handle(event("Create"), deadline=4.0)
    assert kms.waits == [1.0, 2.0]
    assert answer == Answer(
        FAILED,
        OUTCOME_UNKNOWN,
        reason="CreateGrant got no answer until the deadline (KMSInternalException): the grant "
        f"named 'SReaderGrant150D6985' on {KEY_ARN} may exist; the rollback deletes it",
    )


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "DisabledException", "KMSInvalidStateException"]
)
def test_a_create_refused_after_a_call_without_an_answer_still_has_the_outcome_unknown(
    kms: Kms, code: str
) -> None:
    """The first CreateGrant may have made the grant before its answer was lost: a refusal of
    a later attempt (IAM's policy not yet in effect on every KMS host until the deadline, the
    key disabled meanwhile) says nothing of it. NOT_CREATED would make the rollback's delete
    call nothing and leave that grant behind."""
    lossy = LostAnswers(kms.client, 1, READ_TIMEOUT)
    for _ in range(2 if code in provider.PROPAGATION_ERRORS else 1):  # at 1 s and 3 s
        kms.refuse("CreateGrant", code, "refused")
    answer = kms.handle(event("Create"), deadline=4.0, client=lossy)
    assert (answer.status, answer.physical_resource_id) == (FAILED, OUTCOME_UNKNOWN)
    assert answer.reason is not None
    assert answer.reason == (
        f"CreateGrant got no answer (ReadTimeoutError), then {code}: refused: the grant named "
        f"'SReaderGrant150D6985' on {KEY_ARN} may exist; the rollback deletes it"
    )


def test_a_create_refused_for_its_parameters_after_a_call_without_an_answer_made_nothing(
    kms: Kms,
) -> None:
    """A refusal that every attempt got (a malformed ARN) says the lost one made no grant
    either: OUTCOME_UNKNOWN would only make the rollback fail on the same refusal."""
    lossy = LostAnswers(kms.client, 1, READ_TIMEOUT)
    kms.refuse("CreateGrant", "InvalidArnException", "bad ARN")
    answer = kms.handle(event("Create"), deadline=4.0, client=lossy)
    assert answer == Answer(
        FAILED, NOT_CREATED, reason="CreateGrant failed: InvalidArnException: bad ARN"
    )


# An update that adds an operation: the properties of the update, and CreateGrant's with them.
UPDATED = {**PROPERTIES, "Operations": ["Decrypt", "DescribeKey", "Encrypt"]}
UPDATE_PARAMETERS = {**CREATE_PARAMETERS, "Operations": UPDATED["Operations"]}
STRAY_ID = "5" * 64  # the grant the update's lost CreateGrant made
FIND = (
    f'aws kms list-grants --region {REGION} --key-id {KEY_ARN} --query "Grants[?Name=='
    f"'SReaderGrant150D6985' && GrantId!='{GRANT_ID}'].[GrantId,GranteePrincipal,Operations]\""
)
RETIRE = f"aws kms retire-grant --region {REGION} --key-id {KEY_ARN} --grant-id <GrantId>"
AFTER_UPDATE = (
    f"the grant named 'SReaderGrant150D6985' on {KEY_ARN} may exist; the rollback gets grant "
    f"{GRANT_ID} back and retires that one if it can; else list it: {FIND}; retire each, as a "
    f"principal of this stack's account allowed kms:RetireGrant: {RETIRE}"
)


def update(physical_id: str, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The Update event from the properties ``old`` to ``new`` (a rollback's: from the failed
    update's back to those before)."""
    return {
        **event("Update", physical_id),
        "ResourceProperties": dict(new),
        "OldResourceProperties": dict(old),
    }


def test_an_update_without_an_answer_keeps_the_grant_there_was_and_says_how_to_find_a_new_one(
    kms: Kms,
) -> None:
    """Nothing in the rollback's event tells a lost answer from a refusal, so the rollback
    cannot delete what the update may have made: the failure names the commands that do."""
    lossy = LostAnswers(kms.client, 10, READ_TIMEOUT)
    answer = kms.handle(update(GRANT_ID, UPDATED, PROPERTIES), deadline=2.0, client=lossy)
    assert answer == Answer(
        FAILED,
        GRANT_ID,
        reason=f"CreateGrant got no answer until the deadline (ReadTimeoutError): {AFTER_UPDATE}",
    )


def test_an_update_refused_after_a_call_without_an_answer_says_the_same(kms: Kms) -> None:
    lossy = LostAnswers(kms.client, 1, READ_TIMEOUT)
    kms.refuse("CreateGrant", "DisabledException", "key is disabled")
    answer = kms.handle(update(GRANT_ID, UPDATED, PROPERTIES), deadline=4.0, client=lossy)
    assert answer == Answer(
        FAILED,
        GRANT_ID,
        reason="CreateGrant got no answer (ReadTimeoutError), then DisabledException: key is "
        f"disabled: {AFTER_UPDATE}",
    )


def test_the_commands_after_an_update_without_an_answer_list_the_new_grant_and_retire_it(
    kms: Kms,
) -> None:
    """The listing, run on a ListGrants answer (checked against the KMS model by the stubber),
    shows the grant the update made and neither the one the rollback keeps nor another of
    another name; the retirement's arguments are RetireGrant's."""
    lossy = LostAnswers(kms.client, 10, READ_TIMEOUT)
    reason = kms.handle(update(GRANT_ID, UPDATED, PROPERTIES), deadline=2.0, client=lossy).reason
    find, retire = (shlex.split(command) for command in (FIND, RETIRE))
    assert FIND in reason
    assert RETIRE in reason
    assert find[:3] == ["aws", "kms", "list-grants"]
    options = dict(zip(find[3::2], find[4::2], strict=True))
    assert options.keys() == {"--region", "--key-id", "--query"}

    def entry(grant_id: str, name: str, operations: list[str]) -> dict[str, Any]:
        return {
            "KeyId": KEY_ARN,
            "GrantId": grant_id,
            "Name": name,
            "GranteePrincipal": GRANTEE,
            "RetiringPrincipal": RETIRER,
            "Operations": operations,
        }

    grants = [
        entry(GRANT_ID, "SReaderGrant150D6985", PROPERTIES["Operations"]),
        entry(STRAY_ID, "SReaderGrant150D6985", UPDATED["Operations"]),
        entry("6" * 64, "SOtherGrant", ["Decrypt"]),
    ]
    kms.stubber.add_response("list_grants", {"Grants": grants}, {"KeyId": options["--key-id"]})
    listed = kms.client.list_grants(KeyId=options["--key-id"])
    assert jmespath.search(options["--query"], listed) == [
        [STRAY_ID, GRANTEE, UPDATED["Operations"]]
    ]
    assert retire[:3] == ["aws", "kms", "retire-grant"]
    assert dict(zip(retire[3::2], retire[4::2], strict=True)) == {
        "--region": REGION,
        "--key-id": KEY_ARN,
        "--grant-id": "<GrantId>",
    }
    shape = kms.client.meta.service_model.operation_model("RetireGrant").input_shape
    report = ParamValidator().validate({"KeyId": KEY_ARN, "GrantId": STRAY_ID}, shape)
    assert not report.has_errors(), report.generate_report()


def test_the_commands_name_the_region_of_the_key(kms: Kms) -> None:
    """A key of another Region is called there (Region), and its grants are listed there."""
    key = KEY_ARN.replace(REGION, "us-east-1")
    lossy = LostAnswers(kms.client, 10, READ_TIMEOUT)
    received = update(GRANT_ID, {**UPDATED, "KeyId": key, "Region": "us-east-1"}, PROPERTIES)
    reason = str(kms.handle(received, deadline=2.0, client=lossy).reason)
    assert f"aws kms list-grants --region us-east-1 --key-id {key} --query" in reason
    assert f"aws kms retire-grant --region us-east-1 --key-id {key} --grant-id" in reason


# The longest a grant's reason can be made of: KMS's longest grant name (CreateGrant API
# reference, Name: 256 characters), a multi-Region key's ARN in the longest partition and Region
# names, the longest event fields (a 128-character stack name, a 255-character logical ID).
LONG_NAME = "N" * 250 + "-Grant"
LONG_REGION = "us-isof-south-1"
LONG_KEY = f"arn:aws-iso-f:kms:{LONG_REGION}:111111111111:key/mrk-{'a' * 32}"
LONG_EVENT_FIELDS = {
    "StackId": f"arn:aws-iso-f:cloudformation:{LONG_REGION}:111111111111:stack/{'S' * 128}/"
    "51af3dc0-da77-11e4-872e-1234567db123",
    "LogicalResourceId": "L" * 255,
}
# KMS's messages: long, and ones whose JSON escapes take six or twelve bytes a character.
LONG_MESSAGES = ["m" * 3000 + " end", "é" * 3000, "\U0001f511" * 1500, 'a"\\\n' * 800]


@pytest.mark.parametrize("message", LONG_MESSAGES)
def test_the_commands_reach_cloudformation_whole_whatever_kmss_message(
    kms: Kms, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """CloudFormation takes a reason of at most 1,500 characters: the longest name, key and
    KMS message shorten KMS's message, from its middle, not the commands at the end. The log
    line has the whole reason."""
    lossy = LostAnswers(kms.client, 1, READ_TIMEOUT)
    kms.refuse("CreateGrant", "DisabledException", message)
    properties = {**UPDATED, "KeyId": LONG_KEY, "Name": LONG_NAME, "Region": LONG_REGION}
    received = {**update(GRANT_ID, properties, PROPERTIES), **LONG_EVENT_FIELDS}
    answer = kms.handle(received, deadline=4.0, client=lossy)
    assert message in answer.reason
    sent = json.loads(answer.body(received, "s1"))["Reason"]
    assert len(sent) <= response.MAX_REASON_LENGTH
    where = f"--region {LONG_REGION} --key-id {LONG_KEY}"
    find = (
        f"aws kms list-grants {where} --query \"Grants[?Name=='{LONG_NAME}' && "
        f"GrantId!='{GRANT_ID}'].[GrantId,GranteePrincipal,Operations]\""
    )
    retire = f"aws kms retire-grant {where} --grant-id <GrantId>"
    assert sent.endswith(
        f": the grant named '{LONG_NAME}' on {LONG_KEY} may exist; the rollback gets grant "
        f"{GRANT_ID} back and retires that one if it can; else list it: {find}; retire each, as "
        f"a principal of this stack's account allowed kms:RetireGrant: {retire}"
    )
    before, cut = "CreateGrant got no answer (ReadTimeoutError), then DisabledException: ", "..."
    assert sent.startswith(before + message[:10])
    kept = sent[len(before) : sent.index(f": the grant named '{LONG_NAME}'")]
    head, tail = kept.split(cut)
    assert message.startswith(head)
    assert message.endswith(tail)
    assert len(head) + len(tail) > 100  # as much of KMS's message as fits
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(provider, "handle", lambda event, deadline: answer)
        patch.setattr(provider, "send", lambda url, body: None)
        provider.handler(received, Context())
    (logged,) = capsys.readouterr().out.splitlines()
    assert json.loads(logged)["reason"] == answer.reason


@pytest.mark.parametrize("message", LONG_MESSAGES)
def test_a_create_without_an_answer_keeps_what_the_rollback_does_whatever_kmss_message(
    kms: Kms, message: str
) -> None:
    lossy = LostAnswers(kms.client, 1, READ_TIMEOUT)
    kms.refuse("CreateGrant", "KMSInvalidStateException", message)
    received = {**event("Create", KeyId=LONG_KEY, Name=LONG_NAME), **LONG_EVENT_FIELDS}
    answer = kms.handle(received, deadline=4.0, client=lossy)
    sent = json.loads(answer.body(received, "s1"))["Reason"]
    assert len(sent) <= response.MAX_REASON_LENGTH
    assert sent.startswith("CreateGrant got no answer (ReadTimeoutError), then KMSInvalid")
    assert sent.endswith(
        f"{message[-5:]}: the grant named '{LONG_NAME}' on {LONG_KEY} may exist; the "
        "rollback deletes it"
    )
    assert "..." in sent


def test_a_refusal_with_a_long_message_keeps_the_messages_start_and_end(kms: Kms) -> None:
    kms.refuse("CreateGrant", "KMSInvalidStateException", "s" * 1000 + "e" * 1000)
    answer = kms.handle(event("Create"))
    assert (
        answer.reason == f"CreateGrant failed: KMSInvalidStateException: {'s' * 1000}{'e' * 1000}"
    )
    sent = json.loads(answer.body(event("Create"), "s1"))["Reason"]
    before = "CreateGrant failed: KMSInvalidStateException: "
    room = response.MAX_REASON_LENGTH - len(before) - len("...")
    assert sent == f"{before}{'s' * (room - room // 2)}...{'e' * (room // 2)}"


def test_a_reason_that_fits_is_sent_as_it_is(kms: Kms) -> None:
    lossy = LostAnswers(kms.client, 1, READ_TIMEOUT)
    kms.refuse("CreateGrant", "DisabledException", "key is disabled...")
    answer = kms.handle(update(GRANT_ID, UPDATED, PROPERTIES), deadline=4.0, client=lossy)
    assert json.loads(answer.body(event("Update"), "s1"))["Reason"] == answer.reason


def stray(kms: Kms, grant_id: str = STRAY_ID) -> None:
    """KMS's answer to the CreateGrant with the failed update's parameters (UPDATED)."""
    kms.stubber.add_response(
        "create_grant", {"GrantId": grant_id, "GrantToken": GRANT_TOKEN}, UPDATE_PARAMETERS
    )


def test_the_rollback_of_an_update_without_an_answer_retires_the_grant_the_lost_call_made(
    kms: Kms,
) -> None:
    """The rollback's event (back to the old properties, from the failed update's, with the
    physical ID the failure kept) gets the old grant by name, then asks for the failed
    update's grant again: one the lost CreateGrant made is held by no resource (neither the
    physical ID nor the answer), and is retired by its token. The failed parameters' IAM
    policy is still attached then (CloudFormation deletes it in the rollback's clean-up).
    Delivered again, the rollback answers the same."""
    rollback = update(GRANT_ID, PROPERTIES, UPDATED)
    for _ in range(2):
        created(kms)
        stray(kms)
        kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
        answer = kms.handle(rollback)
        assert answer == Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID})
    assert kms.waits == []


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "DisabledException", "KMSInternalException"]
)
def test_the_rollback_of_a_refused_update_still_gets_the_old_grant(kms: Kms, code: str) -> None:
    """The same event follows an update KMS refused, and the failed parameters are refused
    again (or get no answer): asked once, without waiting, and the rollback goes on."""
    created(kms)
    kms.refuse("CreateGrant", code, "refused again")
    answer = kms.handle(update(GRANT_ID, PROPERTIES, UPDATED))
    assert answer == Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID})
    assert kms.waits == []


def test_a_rollback_without_time_for_the_failed_parameters_only_gets_the_old_grant(
    kms: Kms,
) -> None:
    # A CreateGrant and a retirement must end before the deadline (RESERVE_SECONDS covers one
    # call after it: the answer's).
    created(kms)
    answer = kms.handle(
        update(GRANT_ID, PROPERTIES, UPDATED), deadline=2 * provider.LONGEST_CALL_SECONDS - 1
    )
    assert answer == Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID})


def test_an_ordinary_update_replaces_the_grant_and_leaves_the_old_to_the_clean_up(
    kms: Kms,
) -> None:
    """Forward, the old properties' grant is the physical ID's, which CloudFormation's clean-up
    deletes once the whole stack update has succeeded: one CreateGrant, for the new grant, and
    none for the old properties (which would make that grant anew, for its grantee, had it been
    retired or revoked meanwhile: the Stubber refuses a call not queued)."""
    stray(kms)  # the update's parameters: the new grant
    answer = kms.handle(update(GRANT_ID, UPDATED, PROPERTIES))
    assert answer == Answer(SUCCESS, STRAY_ID, data={"GrantId": STRAY_ID})
    # And the rollback of a successful update (another resource failed): the failed
    # parameters' grant is the physical ID's, deleted in the rollback's clean-up.
    created(kms)
    assert kms.handle(update(STRAY_ID, PROPERTIES, UPDATED)).physical_resource_id == GRANT_ID


def test_an_update_after_a_create_without_an_answer_that_was_not_rolled_back_keeps_the_grant(
    kms: Kms,
) -> None:
    """A create without KMS's answer fails with OUTCOME_UNKNOWN; with rollback disabled nothing
    deletes it, and a later update with the same properties (the create made again) gets the
    grant the lost call made. Answered with the grant's ID, CloudFormation would take it for a
    replacement and delete OUTCOME_UNKNOWN in its clean-up, and that delete finds the grant by
    its name and parameters, this very grant, and retires it: the answer keeps the physical ID
    (CloudFormation deletes nothing) and gives the grant's ID as GrantId."""
    lossy = LostAnswers(kms.client, 10, READ_TIMEOUT)
    failed = kms.handle(event("Create"), deadline=2.0, client=lossy)
    assert (failed.status, failed.physical_resource_id) == (FAILED, OUTCOME_UNKNOWN)
    created(kms)
    answer = kms.handle(update(OUTCOME_UNKNOWN, PROPERTIES, PROPERTIES))
    assert answer == Answer(SUCCESS, OUTCOME_UNKNOWN, data={"GrantId": GRANT_ID})
    # The resource's delete, later, finds that grant by its name and retires it.
    created(kms)
    kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
    assert kms.handle(event("Delete", OUTCOME_UNKNOWN)) == Answer(SUCCESS, OUTCOME_UNKNOWN)


def test_an_update_after_a_create_without_an_answer_to_other_parameters_replaces_it(
    kms: Kms,
) -> None:
    """Other parameters ask for another grant: answered with its ID, so that CloudFormation's
    clean-up deletes OUTCOME_UNKNOWN, which finds the grant of the old parameters by name."""
    kms.stubber.add_response(
        "create_grant", {"GrantId": STRAY_ID, "GrantToken": GRANT_TOKEN}, UPDATE_PARAMETERS
    )
    answer = kms.handle(update(OUTCOME_UNKNOWN, UPDATED, PROPERTIES))
    assert answer == Answer(SUCCESS, STRAY_ID, data={"GrantId": STRAY_ID})
    in_region = {**PROPERTIES, "Region": "eu-central-1"}  # the same parameters, another Region
    created(kms)
    assert kms.handle(update(OUTCOME_UNKNOWN, PROPERTIES, in_region)).physical_resource_id == (
        GRANT_ID
    )


@pytest.mark.parametrize("physical_id", [NOT_CREATED, GRANT_ID])
def test_an_update_from_no_grant_or_a_grant_answers_the_grant_kms_returns(
    kms: Kms, physical_id: str
) -> None:
    # NOT_CREATED names no grant, so its clean-up deletes nothing; a grant ID the same grant.
    created(kms)
    answer = kms.handle(update(physical_id, PROPERTIES, PROPERTIES))
    assert answer == Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID})


@pytest.mark.parametrize("action", ["RetireGrant", "RevokeGrant"])
def test_the_rollback_of_a_create_without_an_answer_finds_the_grant_by_name_and_deletes_it(
    kms: Kms, action: str
) -> None:
    """The delete of OUTCOME_UNKNOWN asks for the grant again (the same name and parameters:
    the one the lost create made, or a new one) and deletes what KMS returns: retired by its
    token, which identifies a grant made a moment ago before it is consistent throughout KMS;
    revoked by its ID (RevokeGrant takes no token)."""
    created(kms, "f" * 64)
    if action == "RetireGrant":
        kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
    else:
        kms.stubber.add_response("revoke_grant", {}, {"KeyId": KEY_ARN, "GrantId": "f" * 64})
    answer = kms.handle(event("Delete", OUTCOME_UNKNOWN, DeleteBy=action))
    assert answer == Answer(SUCCESS, OUTCOME_UNKNOWN)


@pytest.mark.parametrize("code", ["NotFoundException", "InvalidGrantIdException"])
def test_a_grant_just_returned_that_revocation_does_not_find_yet_is_revoked_once_found(
    kms: Kms, code: str
) -> None:
    """CreateGrant has just returned the grant, so "no such grant" from RevokeGrant is KMS's
    eventual consistency, not a grant gone: the revocation is made again until KMS finds it."""
    created(kms, "f" * 64)
    kms.refuse("RevokeGrant", code, "no such grant")
    kms.refuse("RevokeGrant", code, "no such grant")
    kms.stubber.add_response("revoke_grant", {}, {"KeyId": KEY_ARN, "GrantId": "f" * 64})
    answer = kms.handle(event("Delete", OUTCOME_UNKNOWN, DeleteBy="RevokeGrant"))
    assert answer == Answer(SUCCESS, OUTCOME_UNKNOWN)
    assert kms.waits == [1.0, 2.0]


@pytest.mark.parametrize("code", ["NotFoundException", "InvalidGrantIdException"])
def test_a_grant_just_returned_that_revocation_does_not_find_by_the_deadline_fails_the_rollback(
    kms: Kms, code: str
) -> None:
    """Never taken for a grant gone: the rollback fails naming the grant, live, and how to
    delete it (tried again, the delete finds it by name)."""
    created(kms, "f" * 64)
    kms.refuse("RevokeGrant", code, "no such grant")
    answer = kms.handle(event("Delete", OUTCOME_UNKNOWN, DeleteBy="RevokeGrant"), deadline=0.0)
    assert answer == Answer(
        FAILED,
        OUTCOME_UNKNOWN,
        reason=f"RevokeGrant failed: {code}: no such grant: grant {'f' * 64} on {KEY_ARN}, "
        "returned by the look for it by its name 'SReaderGrant150D6985', is live: delete this "
        "resource again (do not skip it: a skipped resource leaves the grant), or delete the "
        "grant as a principal allowed kms:RevokeGrant on the key: aws kms revoke-grant "
        f"--region {REGION} --key-id {KEY_ARN} --grant-id {'f' * 64}",
        free=(len(f"RevokeGrant failed: {code}: "), len(f"RevokeGrant failed: {code}: ") + 14),
    )


class SlowLostAnswers(LostAnswers):
    """LostAnswers whose every call takes the longest a call can (each of botocore's attempts
    hangs until its timeouts), on the test's clock."""

    def __init__(self, kms: Kms, lost: int) -> None:
        super().__init__(kms.client, lost, READ_TIMEOUT)
        self.kms = kms

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)

        def slow(**parameters: Any) -> Any:
            self.kms.now += provider.LONGEST_CALL_SECONDS
            return call(**parameters)

        return slow


@pytest.mark.parametrize("lost", range(7))
def test_the_rollback_of_a_create_without_an_answer_ends_its_two_calls_within_the_reserve(
    kms: Kms, lost: int
) -> None:
    """RESERVE_SECONDS covers one call after the deadline. This delete makes two (CreateGrant,
    then RetireGrant): the second must not start after the deadline when the first ended
    after it, or the function times out without answering."""
    deadline = 280.0
    lossy = SlowLostAnswers(kms, lost)
    created(kms, "f" * 64)
    kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
    answer = kms.handle(event("Delete", OUTCOME_UNKNOWN), deadline=deadline, client=lossy)
    assert kms.now <= deadline + provider.LONGEST_CALL_SECONDS
    if lost <= 3:
        assert answer == Answer(SUCCESS, OUTCOME_UNKNOWN)
    else:
        # Out of time before KMS answered: the rollback fails (and can be continued).
        assert answer == Answer(FAILED, OUTCOME_UNKNOWN, reason=answer.reason)
        assert str(answer.reason).startswith("ReadTimeoutError: ")
        kms.client.create_grant(**CREATE_PARAMETERS)  # the responses KMS did not give
        kms.client.retire_grant(GrantToken=GRANT_TOKEN)


def test_the_rollback_of_a_create_without_an_answer_on_a_key_gone_deletes_nothing(
    kms: Kms,
) -> None:
    kms.refuse("CreateGrant", "NotFoundException", "key gone")
    assert kms.handle(event("Delete", OUTCOME_UNKNOWN)) == Answer(SUCCESS, OUTCOME_UNKNOWN)


def test_the_rollback_of_a_create_without_an_answer_fails_where_kms_refuses_to_look(
    kms: Kms,
) -> None:
    # Not ignored: a grant may be left, and the failure says which call KMS refused.
    kms.refuse("CreateGrant", "DisabledException", "key is disabled")
    assert kms.handle(event("Delete", OUTCOME_UNKNOWN)) == Answer(
        FAILED,
        OUTCOME_UNKNOWN,
        reason="CreateGrant failed: DisabledException: key is disabled",
    )


def test_a_retirement_without_an_answer_is_made_again(kms: Kms) -> None:
    kms.stubber.add_client_error(
        "retire_grant", service_error_code="KMSInternalException", http_status_code=500
    )
    kms.stubber.add_response("retire_grant", {}, {"KeyId": KEY_ARN, "GrantId": GRANT_ID})
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)
    assert kms.waits == [1.0]


# -- delete --------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["RetireGrant", "RevokeGrant"])
def test_delete_retires_or_revokes_the_grant_the_physical_id_names(kms: Kms, action: str) -> None:
    operation = "retire_grant" if action == "RetireGrant" else "revoke_grant"
    kms.stubber.add_response(operation, {}, {"KeyId": KEY_ARN, "GrantId": GRANT_ID})
    assert kms.handle(event("Delete", GRANT_ID, DeleteBy=action)) == Answer(SUCCESS, GRANT_ID)


@pytest.mark.parametrize("code", ["NotFoundException", "InvalidGrantIdException"])
def test_a_grant_just_created_that_kms_does_not_find_by_its_id_is_found_by_name_and_retired(
    kms: Kms, code: str
) -> None:
    """The common rollback: the KeyGrant created, another resource failing seconds later, and
    KMS, not yet consistent, answering the retirement by ID that there is no such grant. Asked
    for by its name and parameters, KMS returns the grant and its token, which it knows at
    once: the grant is retired, not left with its access (helper-192's grant_rollback.py)."""
    kms.refuse("RetireGrant", code, "no such grant")
    created(kms)  # the same grant
    kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)
    kms.stubber.assert_no_pending_responses()  # retired, not taken for gone


def test_a_grant_just_created_that_revocation_does_not_find_is_found_by_name_and_revoked(
    kms: Kms,
) -> None:
    # RevokeGrant takes no token: the grant KMS returns by name exists, so "no such grant" is
    # asked again until KMS finds it.
    kms.refuse("RevokeGrant", "NotFoundException", "no such grant")
    created(kms)
    kms.refuse("RevokeGrant", "NotFoundException", "no such grant")
    kms.stubber.add_response("revoke_grant", {}, {"KeyId": KEY_ARN, "GrantId": GRANT_ID})
    answer = kms.handle(event("Delete", GRANT_ID, DeleteBy="RevokeGrant"))
    assert answer == Answer(SUCCESS, GRANT_ID)
    assert kms.waits == [1.0]


@pytest.mark.parametrize("code", ["NotFoundException", "InvalidGrantIdException"])
def test_a_grant_gone_long_ago_counts_as_deleted_for_a_grant_made_and_retired_at_once(
    kms: Kms, code: str
) -> None:
    """A grant retired by hand: the grant KMS returns by name is a new one (another ID), made
    by the look and retired by its token at once, then the grant to delete is asked for by its
    ID once more (no wait); the delete succeeds."""
    kms.refuse("RetireGrant", code)
    created(kms, "e" * 64)
    kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
    kms.refuse("RetireGrant", code)
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)
    assert kms.waits == []


def test_a_grant_that_the_look_by_name_misses_is_retired_by_its_id_once_more(
    kms: Kms, capsys: pytest.CaptureFixture[str]
) -> None:
    """KMS's answer to a name may lag behind a grant created a moment ago, as its answer to the
    grant's ID does: the look then makes another grant, retired at once, and the grant to
    delete, asked for by its ID once more, is retired too."""
    kms.refuse("RetireGrant", "NotFoundException")
    created(kms, "e" * 64)
    kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
    kms.stubber.add_response("retire_grant", {}, {"KeyId": KEY_ARN, "GrantId": GRANT_ID})
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["message"], line.get("grant_id")) for line in logged][2:5] == [
        ("grant made by the look: the grant to delete was gone already", "e" * 64),
        ("grant deleted", "e" * 64),
        ("grant deleted", GRANT_ID),
    ]


def test_a_revocation_of_a_grant_the_look_made_that_fails_names_it_and_how_to_revoke_it(
    kms: Kms,
) -> None:
    """RevokeGrant mode (a retiring principal of the user's): a grant revoked by hand long ago
    makes the look create a new one, which RevokeGrant by its ID (it takes no token) may not
    find until the deadline. The delete fails naming the new grant, live, and the command that
    revokes it: a resource skipped on a failure naming only the old ID left it."""
    kms.refuse("RevokeGrant", "NotFoundException")
    created(kms, "e" * 64)
    for _ in range(7):  # until the deadline
        kms.refuse("RevokeGrant", "NotFoundException", "no such grant")
    answer = kms.handle(
        event("Delete", GRANT_ID, DeleteBy="RevokeGrant"),
        deadline=provider.LONGEST_CALL_SECONDS + 3.0,
    )
    assert (answer.status, answer.physical_resource_id) == (FAILED, GRANT_ID)
    assert answer.reason == (
        f"RevokeGrant failed: NotFoundException: no such grant: grant {'e' * 64} on {KEY_ARN}, "
        "made by the look for it by its name (grant "
        f"{GRANT_ID} was gone already) 'SReaderGrant150D6985', is live: delete this resource "
        "again (do not skip it: a skipped resource leaves the grant), or delete the grant as a "
        "principal allowed kms:RevokeGrant on the key: aws kms revoke-grant "
        f"--region {REGION} --key-id {KEY_ARN} --grant-id {'e' * 64}"
    )
    assert kms.waits == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0]


def test_a_retirement_of_a_grant_the_look_made_without_an_answer_names_it(kms: Kms) -> None:
    kms.refuse("RetireGrant", "NotFoundException")
    created(kms, "e" * 64)
    for _ in range(7):  # until the deadline
        kms.stubber.add_client_error(
            "retire_grant", service_error_code="KMSInternalException", http_status_code=500
        )
    answer = kms.handle(event("Delete", GRANT_ID), deadline=provider.LONGEST_CALL_SECONDS + 3.0)
    assert (answer.status, answer.physical_resource_id) == (FAILED, GRANT_ID)
    assert str(answer.reason).startswith("RetireGrant failed: KMSInternalException: ")
    assert str(answer.reason).endswith(
        f"is live: delete this resource again (do not skip it: a skipped resource leaves the "
        "grant), or delete the grant as a principal of this stack's account allowed "
        f"kms:RetireGrant: aws kms retire-grant --region {REGION} --key-id {KEY_ARN} "
        f"--grant-id {'e' * 64}"
    )


def test_a_grant_not_found_on_a_key_gone_counts_as_deleted(kms: Kms) -> None:
    kms.refuse("RetireGrant", "NotFoundException")
    kms.refuse("CreateGrant", "NotFoundException", "key gone")
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)


@pytest.mark.parametrize("code", ["DisabledException", "KMSInvalidStateException"])
def test_a_grant_not_found_whose_look_by_name_is_refused_counts_as_deleted_at_once(
    kms: Kms, code: str
) -> None:
    """The look confirms nothing, and KMS said there is no such grant: the grant counts as
    gone."""
    kms.refuse("RetireGrant", "NotFoundException")
    kms.refuse("CreateGrant", code)
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)
    assert kms.waits == []


def test_a_look_by_name_iam_refuses_is_retried_a_short_while(kms: Kms) -> None:
    """In a rollback seconds after the create, the role's IAM policy may not be in effect
    throughout KMS yet: the look is asked again, and the grant it returns retired (taken for
    gone at once, it was left with its access)."""
    kms.refuse("RetireGrant", "NotFoundException")
    kms.refuse("CreateGrant", "AccessDeniedException")
    kms.refuse("CreateGrant", "AccessDeniedException")
    created(kms)
    kms.stubber.add_response("retire_grant", {}, {"GrantToken": GRANT_TOKEN})
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)
    assert kms.waits == [1.0, 2.0]


def test_a_look_by_name_iam_still_refuses_after_a_minute_counts_the_grant_deleted(
    kms: Kms,
) -> None:
    """Not until the deadline: a grant retired by hand on a key whose policy no longer allows
    CreateGrant (a custom-policy key's statements go before the grant) is deleted after
    LOOK_REFUSED_SECONDS (60 s), not held for the function's whole time."""
    kms.refuse("RetireGrant", "NotFoundException")
    for _ in range(7):
        kms.refuse("CreateGrant", "AccessDeniedException")
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(SUCCESS, GRANT_ID)
    # 1+2+4+8+16+16 = 47 s; the next 16 s wait would end at 63 s: past 60 s.
    assert kms.waits == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0]


def test_a_grant_not_found_whose_look_by_name_gets_no_answer_fails_the_delete(kms: Kms) -> None:
    # The grant may exist: not taken for gone.
    kms.refuse("RetireGrant", "NotFoundException")
    for _ in range(2):
        kms.stubber.add_client_error(
            "create_grant", service_error_code="KMSInternalException", http_status_code=500
        )
    answer = kms.handle(event("Delete", GRANT_ID), deadline=provider.LONGEST_CALL_SECONDS + 1)
    assert (answer.status, answer.physical_resource_id) == (FAILED, GRANT_ID)
    assert str(answer.reason).startswith("CreateGrant failed: KMSInternalException")


def test_a_grant_not_found_without_time_left_to_look_fails_the_delete(kms: Kms) -> None:
    kms.refuse("RetireGrant", "NotFoundException")
    answer = kms.handle(event("Delete", GRANT_ID), deadline=provider.LONGEST_CALL_SECONDS - 1)
    assert answer == Answer(
        FAILED,
        GRANT_ID,
        reason=f"RetireGrant answered that there is no grant {GRANT_ID} on {KEY_ARN}, which a "
        "grant created a moment ago can answer, and no time was left to ask for it by its name "
        "'SReaderGrant150D6985': delete it again",
    )


def test_a_revocation_iam_refuses_is_retried(kms: Kms) -> None:
    kms.refuse("RevokeGrant", "AccessDeniedException")
    kms.stubber.add_response("revoke_grant", {}, {"KeyId": KEY_ARN, "GrantId": GRANT_ID})
    assert kms.handle(event("Delete", GRANT_ID, DeleteBy="RevokeGrant")).status == SUCCESS
    assert kms.waits == [1.0]


def test_a_delete_kms_refuses_fails_and_keeps_the_grant(kms: Kms) -> None:
    # Not ignored: a key whose deletion is cancelled would bring the grant back.
    kms.refuse("RetireGrant", "KMSInvalidStateException", "pending deletion")
    assert kms.handle(event("Delete", GRANT_ID)) == Answer(
        FAILED,
        GRANT_ID,
        reason="RetireGrant failed: KMSInvalidStateException: pending deletion",
    )


@pytest.mark.parametrize(
    "physical_id",
    [
        NOT_CREATED,
        # What the first version (an AwsCustomResource) answered for a failed create.
        "2026/12/04/[$LATEST]0123456789abcdef0123456789abcdef",
    ],
)
def test_the_delete_after_a_failed_create_calls_nothing(kms: Kms, physical_id: str) -> None:
    assert kms.handle(event("Delete", physical_id)) == Answer(SUCCESS, physical_id)
    assert kms.regions == []


# -- answers for what cannot be done -------------------------------------------------------------


def test_a_missing_or_wrong_property_is_a_failed_answer_naming_it(kms: Kms) -> None:
    assert kms.handle(event("Create", Name=None)).reason == (
        "ResourceProperties must have Name. Received: ['Constraints', 'DeleteBy', "
        "'GranteePrincipal', 'KeyId', 'Operations', 'RetiringPrincipal', 'ServiceToken']"
    )
    assert kms.handle(event("Create", Operations="Decrypt")).reason == (
        "Operations must be a list of strings. Received: 'Decrypt'"
    )
    assert kms.handle(event("Create", KeyId="")).reason == (
        "KeyId must be a non-empty string. Received: ''"
    )
    assert kms.handle(event("Delete", GRANT_ID, DeleteBy="Forget")) == Answer(
        FAILED, GRANT_ID, reason="DeleteBy must be RetireGrant or RevokeGrant. Received: 'Forget'"
    )
    assert kms.handle(event("Replace")).reason == (
        "RequestType must be Create, Update or Delete. Received: 'Replace'"
    )
    assert kms.regions == []


def test_an_unexpected_error_is_answered_not_raised() -> None:
    def broken(region: str | None) -> Any:
        raise RuntimeError("no credentials")

    answer = handle(event("Create"), deadline=1e9, client_for=broken)
    assert answer == Answer(FAILED, NOT_CREATED, reason="RuntimeError: no credentials")


def test_the_answer_body_cloudformation_reads() -> None:
    body = json.loads(
        Answer(SUCCESS, GRANT_ID, data={"GrantId": GRANT_ID}).body(event("Create"), "s1")
    )
    assert body == {
        "Status": "SUCCESS",
        "Reason": "See CloudWatch log stream s1",
        "PhysicalResourceId": GRANT_ID,
        "StackId": f"arn:aws:cloudformation:{REGION}:111111111111:stack/S/1",
        "RequestId": "request-1",
        "LogicalResourceId": "ReaderGrant3FC73BC2",
        "NoEcho": False,
        "Data": {"GrantId": GRANT_ID},
    }
    long = json.loads(Answer(FAILED, "x", reason="r" * 5000).body(event("Create"), "s1"))
    assert len(long["Reason"]) == response.MAX_REASON_LENGTH
    assert long["Reason"].endswith("...")


# -- the answer on the wire ----------------------------------------------------------------------


@dataclass
class Received:
    method: str
    headers: dict[str, str]
    body: dict[str, Any]


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Received]]]:
    """A local HTTP server standing in for the pre-signed S3 URL, and what it received."""
    received: list[Received] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(
                Received("PUT", dict(self.headers), json.loads(self.rfile.read(length)))
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(response, "ALLOWED_SCHEMES", ("https", "http"))
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/answer?sig=1", received
    finally:
        server.shutdown()
        server.server_close()


class Context:
    log_stream_name = "2026/12/04/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def test_end_to_end_on_moto_create_then_delete_answered_on_the_url(
    cloudformation: tuple[str, list[Received]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = cloudformation
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key()["KeyMetadata"]["Arn"]
        provider.handler({**event("Create", KeyId=key_arn), "ResponseURL": url}, Context())
        (answer,) = received
        assert answer.method == "PUT"
        assert answer.headers["Content-Type"] == ""  # what the pre-signed URL is signed for
        assert answer.body["Status"] == SUCCESS
        grant_id = answer.body["PhysicalResourceId"]
        assert answer.body["Data"] == {"GrantId": grant_id}
        (grant,) = kms.list_grants(KeyId=key_arn)["Grants"]
        assert (grant["GrantId"], grant["Name"], grant["GranteePrincipal"]) == (
            grant_id,
            "SReaderGrant150D6985",
            GRANTEE,
        )
        assert grant["Operations"] == ["Decrypt", "DescribeKey"]
        assert grant["RetiringPrincipal"] == RETIRER

        provider.handler(
            {**event("Delete", grant_id, KeyId=key_arn), "ResponseURL": url}, Context()
        )
        assert received[1].body["Status"] == SUCCESS
        assert kms.list_grants(KeyId=key_arn)["Grants"] == []


def test_the_answer_is_sent_again_after_a_server_error_or_a_lost_connection() -> None:
    calls: list[str] = []
    waits: list[float] = []

    class Reply:
        def __enter__(self) -> Reply:
            return self

        def __exit__(self, *args: object) -> None:
            pass

        def read(self) -> bytes:
            return b""

    def opener(request: Any, timeout: float) -> Reply:
        calls.append(request.get_method())
        if len(calls) == 1:
            raise urllib.error.HTTPError(request.full_url, 503, "Slow Down", {}, None)  # type: ignore[arg-type]
        if len(calls) == 2:
            raise urllib.error.URLError("connection reset")
        return Reply()

    send("https://example.invalid/x", b"{}", sleep=waits.append, opener=opener)
    assert (calls, waits) == (["PUT", "PUT", "PUT"], [1.0, 2.0])


def test_a_refused_answer_is_raised_for_the_lambda_service_to_invoke_again() -> None:
    # CloudFormation invokes the function asynchronously: a raise makes Lambda retry the event,
    # and the provider's calls are idempotent (a named grant, a retire of a grant gone).
    calls: list[int] = []

    def opener(request: Any, timeout: float) -> Any:
        calls.append(1)
        raise urllib.error.HTTPError(request.full_url, 403, "Forbidden", {}, None)  # type: ignore[arg-type]

    with pytest.raises(urllib.error.HTTPError):
        send("https://example.invalid/x", b"{}", sleep=lambda s: None, opener=opener)
    assert calls == [1]  # a 403 does not get better by itself
    with pytest.raises(
        ValueError, match=r"^ResponseURL must be an https URL\. Received scheme: 'file'$"
    ):
        send("file:///etc/passwd", b"{}")


def test_the_answer_body_stays_within_cloudformations_4096_bytes_whatever_the_reason() -> None:
    # The limit is on the body's bytes, and JSON writes a non-ASCII character as a six-byte
    # \uXXXX escape (twelve beyond the BMP): a reason of 1,500 such characters (KMS's message
    # quoting an encryption context, say) made a 10 KB body, which CloudFormation refuses.
    longest = {**event("Delete", "p" * 1024), "LogicalResourceId": "L" * 255}
    for reason in ("r" * 5000, "é" * 5000, "\U0001f511" * 5000, 'ab"\\\n' * 2000):
        body = Answer(FAILED, "p" * 1024, reason=reason).body(longest, "s1")
        assert len(body) <= response.MAX_BODY_BYTES == 4096, (reason[:2], len(body))
        sent = json.loads(body)["Reason"]
        assert sent.endswith("...")
        assert reason.startswith(sent[:-3])
        assert len(body) > 4096 - 12 - len("...") or len(sent) == response.MAX_REASON_LENGTH
    assert json.loads(Answer(FAILED, "p", reason="é").body(event("Create"), "s1"))["Reason"] == "é"


def test_the_time_kept_back_covers_the_last_call_and_the_answer() -> None:
    # A refused call is retried while the wait ends before the deadline; the call after it can
    # then take each of botocore's attempts (its connect and read timeouts, and standard mode's
    # waits between them: at most 2**i s, plus 5 s for a retry-after header), and sending the
    # answer each of its attempts (a connect and a read timeout each, and the waits). All of it
    # must end before the function's timeout, or CloudFormation gets no answer from this run.
    config = provider.CLIENT_CONFIG
    attempts = config.retries["total_max_attempts"]
    longest_call = attempts * (config.connect_timeout + config.read_timeout) + sum(
        min(2**i, 20) + 5 for i in range(attempts - 1)
    )
    longest_send = response.SEND_ATTEMPTS * 2 * response.SEND_TIMEOUT_SECONDS + sum(
        float(attempt) for attempt in range(1, response.SEND_ATTEMPTS)
    )
    assert longest_call + longest_send <= provider.RESERVE_SECONDS
    # And the wait for IAM keeps most of the five minutes.
    assert provider.RESERVE_SECONDS <= 120


def test_a_delete_without_delete_by_retires(kms: Kms) -> None:
    # A template of KeyGrant's always has DeleteBy; without it the provider's role, the
    # default retiring principal, retires the grant (RevokeGrant would need a permission).
    kms.stubber.add_response("retire_grant", {}, {"KeyId": KEY_ARN, "GrantId": GRANT_ID})
    assert kms.handle(event("Delete", GRANT_ID, DeleteBy=None)) == Answer(SUCCESS, GRANT_ID)


def test_operations_that_are_not_all_strings_are_a_failed_answer(kms: Kms) -> None:
    assert kms.handle(event("Create", Operations=["Decrypt", 1])).reason == (
        "Operations must be a list of strings. Received: ['Decrypt', 1]"
    )
    assert kms.regions == []


def test_the_handler_stops_retrying_the_reserve_before_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deadlines: list[float] = []
    sent: list[bytes] = []

    def handle(event: Any, *, deadline: float) -> Answer:
        deadlines.append(deadline)
        return Answer(SUCCESS, GRANT_ID)

    monkeypatch.setattr(provider.time, "monotonic", lambda: 1000.0)
    monkeypatch.setattr(provider, "handle", handle)
    monkeypatch.setattr(provider, "send", lambda url, body: sent.append(body))
    provider.handler(event("Create"), Context())
    assert deadlines == [1000.0 + 300.0 - provider.RESERVE_SECONDS]
    assert json.loads(sent[0])["PhysicalResourceId"] == GRANT_ID


# -- the SDK of the Lambda runtime ---------------------------------------------------------------


def test_the_provider_sends_nothing_the_runtimes_oldest_botocore_lacks() -> None:
    """The function runs on the Lambda runtime's own botocore; fixtures/sdk_floor.json holds the
    KMS model of botocore 1.40.40, older than any the python3.14 runtime bundles
    (test_sdk.py). Every request the provider makes, with every member it sets, is valid
    against it, the GrantId it reads is in CreateGrant's answer, and what the handler imports
    from botocore is there."""
    floor = json.loads((FIXTURES / "sdk_floor.json").read_text())
    assert floor["botocore"] == "1.40.40"
    model = ServiceModel(floor["models"]["kms"], "kms")
    assert sorted(model.operation_names) == sorted(OPERATIONS)
    subset = CREATE_PARAMETERS
    equals = {**CREATE_PARAMETERS, "Constraints": {"EncryptionContextEquals": {"app": "x"}}}
    requests = [
        ("CreateGrant", subset),
        ("CreateGrant", equals),
        ("RetireGrant", {"GrantToken": GRANT_TOKEN}),
    ] + [(action, {"KeyId": KEY_ARN, "GrantId": GRANT_ID}) for action in DELETE_ACTIONS]
    for operation, request in requests:
        report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
        assert not report.has_errors(), (operation, report.generate_report())
    assert "GrantId" in model.operation_model("CreateGrant").output_shape.members
    imported: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(Path(provider.__file__).read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botocore"):
            imported.setdefault(node.module or "", set()).update(a.name for a in node.names)
    assert imported == {
        "botocore": {"xform_name"},
        "botocore.config": {"Config"},
        "botocore.exceptions": {"ClientError", "ConnectionError", "HTTPClientError"},
    }
    for module, names in imported.items():
        assert names <= set(floor["modules"][module]), module
