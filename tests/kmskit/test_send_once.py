"""The calls kmskit sends once (``kmskit.clients.NOT_RESENT``) against a moto server, with the
answer of chosen requests lost on the way back, as a proxy in front of AWS can lose it: the
request reaches moto, which carries it out, and the client gets a 503 (or a read timeout).
botocore would send such a request again; kmskit does not, and finds out what happened."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HeadersDict
from botocore.endpoint import Endpoint
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kmskit.cli import main
from kmskit.clients import ClientSettings, answer_lost, send_once
from kmskit.errors import EXIT_OK, KmskitError
from kmskit.key_deletion import describe_deletion_target, schedule_deletion
from kmskit.key_material import ImportTarget, import_material
from kmskit.key_rotation import ON_DEMAND, list_key_materials, prepare_rotation, rotate
from kmskit.snapshots.engine import SnapshotEngine, client_factory
from kmskit.snapshots.model import TAG_COPY_KEY, Origin, SnapshotRef
from kmskit.snapshots.outcomes import RetryableError

REGION = "eu-west-1"
COPY_REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's


class _Raw:
    """The raw body of a made-up answer, as botocore reads it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _operation(request: AWSPreparedRequest) -> str:
    """The operation of a KMS (JSON) or EC2 (query) request."""
    target = request.headers.get("X-Amz-Target")
    if target:
        return (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
    body = request.body
    if isinstance(body, bytes):
        body = body.decode()
    return str(parse_qs(body or "").get("Action", [""])[0])


def _error(request: AWSPreparedRequest, status: int, code: str) -> AWSResponse:
    """The error answer KMS (JSON) or EC2 (XML) gives with ``status`` and ``code``."""
    if request.headers.get("X-Amz-Target"):
        body = json.dumps({"__type": code, "message": f"made up {code}"}).encode()
        kind = "application/x-amz-json-1.1"
    else:
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>made up {code}</Message>"
            "</Error></Errors><RequestID>r-1</RequestID></Response>"
        ).encode()
        kind = "text/xml"
    return AWSResponse(request.url, status, HeadersDict({"content-type": kind}), _Raw(body))


@dataclass
class Faults:
    """Every request sent (``sent``, operation names) and what happens to the next requests of
    an operation (``plan[operation]``, used up in order): ``lost`` (carried out by moto, answered
    503), ``timeout`` (sent, nothing carried out, no answer: a read timeout), ``unreachable`` (no
    connection made: nothing sent), ``throttled`` (refused with ThrottlingException or EC2's
    RequestLimitExceeded, nothing carried out)."""

    sent: list[str] = field(default_factory=list)
    plan: dict[str, list[str]] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """KMS's JSON answer to an operation moto does not model (``GetParametersForImport``,
    ``ImportKeyMaterial``), given instead of sending it to moto."""

    def count(self, operation: str) -> int:
        return self.sent.count(operation)


@pytest.fixture
def faults(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Faults:
    """The module's moto server, reset, as every client's endpoint; its requests pass through
    :class:`Faults`; botocore's retries do not sleep."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=30
    ).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    made = Faults()
    send = Endpoint._send

    def faulty(endpoint: Endpoint, request: AWSPreparedRequest) -> AWSResponse:
        operation = _operation(request)
        planned = made.plan.get(operation) or []
        fault = planned.pop(0) if planned else None
        if fault == "unreachable":
            raise EndpointConnectionError(endpoint_url=request.url)
        made.sent.append(operation)
        if fault == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault == "throttled":
            kms = bool(request.headers.get("X-Amz-Target"))
            code = "ThrottlingException" if kms else "RequestLimitExceeded"
            return _error(request, 400 if kms else 503, code)
        answer: AWSResponse
        if operation in made.answers:
            body = json.dumps(made.answers[operation]).encode()
            headers = HeadersDict({"content-type": "application/x-amz-json-1.1"})
            answer = AWSResponse(request.url, 200, headers, _Raw(body))
        else:
            answer = send(endpoint, request)
        if fault == "lost":
            kms = bool(request.headers.get("X-Amz-Target"))
            return _error(request, 503, "KMSInternalException" if kms else "Unavailable")
        return answer

    monkeypatch.setattr(Endpoint, "_send", faulty)
    return made


@pytest.fixture
def settings() -> Iterator[ClientSettings]:
    with ClientSettings(region=REGION) as made:
        yield made


def make_key(settings: ClientSettings) -> str:
    """A new symmetric key's ARN, made without faults."""
    return str(settings.client("kms").create_key()["KeyMetadata"]["Arn"])


# ----------------------------------------------------------------------------- rotation
def test_a_rotation_whose_answer_is_lost_is_not_sent_again_and_counts_as_started(
    faults: Faults, settings: ClientSettings
) -> None:
    kms = settings.client("kms")
    before = prepare_rotation(kms, make_key(settings))
    faults.plan["RotateKeyOnDemand"] = ["lost"]
    rotate(kms, before)  # no error: the key shows the rotation this call started
    assert faults.count("RotateKeyOnDemand") == 1
    listed = list_key_materials(kms, before.target)
    assert [m.rotation_type for m in listed] == [ON_DEMAND]


def test_kmskit_key_rotate_with_a_lost_answer_rotates_once_and_succeeds(
    faults: Faults, settings: ClientSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    key = make_key(settings)
    faults.plan["RotateKeyOnDemand"] = ["lost"]
    assert main(["key", "rotate", key]) == EXIT_OK
    assert faults.count("RotateKeyOnDemand") == 1
    assert f"started on-demand rotation of {key}" in capsys.readouterr().out
    kms = settings.client("kms")
    assert len(kms.list_key_rotations(KeyId=key)["Rotations"]) == 1


def test_a_rotation_without_an_answer_and_none_seen_is_reported_not_resent(
    faults: Faults, settings: ClientSettings
) -> None:
    kms = settings.client("kms")
    key = make_key(settings)
    before = prepare_rotation(kms, key)
    faults.plan["RotateKeyOnDemand"] = ["timeout"]
    with pytest.raises(KmskitError) as raised:
        rotate(kms, before)
    assert faults.count("RotateKeyOnDemand") == 1
    assert str(raised.value).startswith(
        f"could not rotate {key} on demand: KMS's answer was lost (Read timeout on endpoint URL"
    )
    assert str(raised.value).endswith(
        "and the request was not sent again; the key shows no new on-demand rotation, so KMS "
        f"most likely did not start one: run the command again (kmskit key rotations {key} "
        "lists the key's rotations)"
    )
    assert raised.value.exit_code == 1


def test_a_throttled_rotation_is_still_retried(faults: Faults, settings: ClientSettings) -> None:
    kms = settings.client("kms")
    before = prepare_rotation(kms, make_key(settings))
    faults.plan["RotateKeyOnDemand"] = ["throttled", "unreachable"]
    rotate(kms, before)
    # Throttled (refused) and unreachable (never sent): both sent again, one rotation made.
    assert faults.count("RotateKeyOnDemand") == 2
    assert len(list_key_materials(kms, before.target)) == 1


def test_other_calls_are_still_retried_after_a_lost_answer(
    faults: Faults, settings: ClientSettings
) -> None:
    key = make_key(settings)
    faults.plan["DescribeKey"] = ["lost", "timeout"]
    assert settings.client("kms").describe_key(KeyId=key)["KeyMetadata"]["Arn"] == key
    assert faults.count("DescribeKey") == 3


# ----------------------------------------------------------------------------- key material
def import_target(faults: Faults, settings: ClientSettings) -> ImportTarget:
    """A key of imported material on the moto server, and the answers moto does not give."""
    kms = settings.client("kms")
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["Arn"]
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    faults.answers["GetParametersForImport"] = {
        "KeyId": key,
        "ImportToken": base64.b64encode(b"token").decode(),
        "PublicKey": base64.b64encode(der).decode(),
    }
    faults.answers["ImportKeyMaterial"] = {"KeyId": key, "KeyMaterialId": "b" * 64}
    return ImportTarget(
        key_arn=key,
        key_spec="SYMMETRIC_DEFAULT",
        key_state="Enabled",
        current_key_material_id="a" * 64,
    )


def test_new_key_material_whose_answer_is_lost_is_not_sent_again_and_reported(
    faults: Faults, settings: ClientSettings
) -> None:
    # Before, it was sent again, and KMS's refusal of the repeat (the material is already
    # associated: the first import took it) was reported as "leave out --new-material".
    target = import_target(faults, settings)
    faults.plan["ImportKeyMaterial"] = ["lost"]
    with pytest.raises(KmskitError) as raised:
        import_material(settings.client("kms"), target, bytes(32), new_material=True)
    assert faults.count("ImportKeyMaterial") == 1
    assert str(raised.value) == (
        f"could not import new key material into {target.key_arn}: KMS's answer was lost "
        "(KMSInternalException: made up KMSInternalException) and the request was not sent "
        f"again; KMS may have imported the material: check with kmskit key rotations "
        f"{target.key_arn} (new material is listed as PENDING_ROTATION) before running the "
        "command again"
    )
    assert raised.value.exit_code == 1


def test_existing_key_material_is_still_sent_again_after_a_lost_answer(
    faults: Faults, settings: ClientSettings
) -> None:
    target = import_target(faults, settings)
    faults.plan["ImportKeyMaterial"] = ["lost", "timeout"]
    result = import_material(settings.client("kms"), target, bytes(32))
    assert faults.count("ImportKeyMaterial") == 3
    assert result.key_material_id == "b" * 64


# ----------------------------------------------------------------------------- deletion
def test_a_deletion_whose_answer_is_lost_is_not_sent_again_and_its_date_is_read(
    faults: Faults, settings: ClientSettings
) -> None:
    kms = settings.client("kms")
    target = describe_deletion_target(kms, make_key(settings))
    faults.plan["ScheduleKeyDeletion"] = ["lost"]
    deletion = schedule_deletion(kms, target, 7)
    assert faults.count("ScheduleKeyDeletion") == 1
    metadata = kms.describe_key(KeyId=target.key_arn)["KeyMetadata"]
    assert metadata["KeyState"] == "PendingDeletion"
    assert deletion == metadata["DeletionDate"]


def test_a_deletion_without_an_answer_on_a_key_still_enabled_is_reported(
    faults: Faults, settings: ClientSettings
) -> None:
    kms = settings.client("kms")
    target = describe_deletion_target(kms, make_key(settings))
    faults.plan["ScheduleKeyDeletion"] = ["timeout"]
    with pytest.raises(KmskitError) as raised:
        schedule_deletion(kms, target, 7)
    assert faults.count("ScheduleKeyDeletion") == 1
    assert str(raised.value).endswith(
        "and the request was not sent again; the key is still in state Enabled, so KMS most "
        "likely did not schedule it: run the command again"
    )


def test_a_deletion_date_this_request_did_not_ask_for_is_not_taken_as_its_own(
    faults: Faults, settings: ClientSettings
) -> None:
    kms = settings.client("kms")
    target = describe_deletion_target(kms, make_key(settings))
    # Someone else schedules the key for 30 days; this request's 7-day one times out.
    kms.schedule_key_deletion(KeyId=target.key_id, PendingWindowInDays=30)
    faults.plan["ScheduleKeyDeletion"] = ["timeout"]
    with pytest.raises(KmskitError) as raised:
        schedule_deletion(kms, target, 7)
    assert faults.count("ScheduleKeyDeletion") == 2  # theirs, then this one, once
    message = str(raised.value)
    assert "; the key is in state PendingDeletion with deletion on " in message
    assert "which this request (7 days, about " in message
    assert message.endswith(
        "did not ask for: someone else may have scheduled it. Check its state (aws kms "
        f"describe-key --key-id {target.key_arn}); to keep the key, cancel the deletion (aws kms "
        "cancel-key-deletion)"
    )


# ----------------------------------------------------------------------------- snapshot copy
@pytest.fixture
def snapshot(faults: Faults) -> dict[str, str]:
    """An EBS snapshot in REGION and a key in COPY_REGION on the moto server."""
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    key = boto3.client("kms", region_name=COPY_REGION).create_key()["KeyMetadata"]["Arn"]
    return {"snapshot": snapshot_id, "key": key}


def copy_once(settings: ClientSettings, snapshot: dict[str, str]) -> Any:
    engine = SnapshotEngine(client_factory(settings), account=ACCOUNT)
    source = SnapshotRef("EBS", snapshot["snapshot"], REGION, ACCOUNT)
    origin = Origin("EBS", snapshot["snapshot"], REGION, ACCOUNT, "2026-12-01T00:00:00Z")
    return engine.copy(
        source, region=COPY_REGION, kms_key_arn=snapshot["key"], role="replica", origin=origin
    )


def copies() -> list[dict[str, Any]]:
    """The copies kmskit made in COPY_REGION (moto lists snapshots of its own AMIs too)."""
    ec2 = boto3.client("ec2", region_name=COPY_REGION)
    tagged = [{"Name": "tag-key", "Values": [TAG_COPY_KEY]}]
    return list(ec2.describe_snapshots(OwnerIds=["self"], Filters=tagged)["Snapshots"])


def test_a_snapshot_copy_whose_answer_is_lost_is_made_once_and_found_by_its_tags(
    faults: Faults, settings: ClientSettings, snapshot: dict[str, str]
) -> None:
    faults.plan["CopySnapshot"] = ["lost"]
    result = copy_once(settings, snapshot)
    assert faults.count("CopySnapshot") == 1
    (made,) = copies()
    assert result.info.ref.id == made["SnapshotId"]
    assert result.created is True


def test_a_snapshot_copy_without_an_answer_and_none_found_is_tried_again_later(
    faults: Faults, settings: ClientSettings, snapshot: dict[str, str]
) -> None:
    faults.plan["CopySnapshot"] = ["timeout"]
    with pytest.raises(RetryableError) as raised:
        copy_once(settings, snapshot)
    assert faults.count("CopySnapshot") == 1
    assert copies() == []
    assert "EC2's answer was lost (Read timeout" in raised.value.reason
    assert "a later attempt looks for it again before copying" in raised.value.reason
    # The later attempt copies.
    assert copy_once(settings, snapshot).created is True
    assert len(copies()) == 1


def test_a_throttled_snapshot_copy_is_still_retried(
    faults: Faults, settings: ClientSettings, snapshot: dict[str, str]
) -> None:
    faults.plan["CopySnapshot"] = ["throttled"]
    assert copy_once(settings, snapshot).created is True
    assert faults.count("CopySnapshot") == 2
    assert len(copies()) == 1


def test_a_snapshot_copy_throttled_until_retries_run_out_is_not_a_lost_answer(
    faults: Faults, snapshot: dict[str, str]
) -> None:
    # EC2 throttles with RequestLimitExceeded in a 503: refused, so nothing was copied.
    with ClientSettings(region=REGION, max_attempts=3) as settings:
        faults.plan["CopySnapshot"] = ["throttled"] * 3
        ec2 = settings.client("ec2", region=COPY_REGION)
        with pytest.raises(ClientError) as raised:
            ec2.copy_snapshot(SourceRegion=REGION, SourceSnapshotId=snapshot["snapshot"])
    assert faults.count("CopySnapshot") == 3
    assert raised.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert not answer_lost(raised.value)


# ----------------------------------------------------------------------------- helpers
def test_send_once_is_for_clients_made_elsewhere_too(faults: Faults) -> None:
    kms = send_once(send_once(boto3.client("kms", region_name=REGION)))  # twice: no harm
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    faults.plan["ScheduleKeyDeletion"] = ["lost"]
    with pytest.raises(ClientError, match="KMSInternalException") as raised:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert faults.count("ScheduleKeyDeletion") == 1
    assert answer_lost(raised.value)
