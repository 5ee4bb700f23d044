"""Fixtures shared by the kmskit tests."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from moto import mock_aws
from moto.server import ThreadedMotoServer

from kmskit.clients import ClientSettings
from tests.kmskit.envelope_support import REGION, ROOT, KmsWorld, kms_world

# Where the snapshot tests' EBS snapshot is, and where its copies go.
SNAPSHOT_REGION = "eu-west-1"
COPY_REGION = "eu-central-1"


@pytest.fixture
def world() -> Iterator[KmsWorld]:
    """A moto KMS of its own for each test. Modules that share one per module, or need S3 in
    it, define their own ``world``."""
    with kms_world() as kms:
        yield kms


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    """For ``kmskit snapshot``: a moto EBS snapshot in ``SNAPSHOT_REGION`` (``snapshot``) and a
    KMS key in ``COPY_REGION`` to copy it under (``key``, its ARN)."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=SNAPSHOT_REGION)
        volume = ec2.create_volume(AvailabilityZone=f"{SNAPSHOT_REGION}a", Size=8)["VolumeId"]
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        key = boto3.client("kms", region_name=COPY_REGION).create_key()["KeyMetadata"]["Arn"]
        yield {"snapshot": snapshot, "key": key}


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) every AWS client a command asks for: a bad argument must be refused
    before any AWS call."""
    asked: list[str] = []

    def refuse(self: ClientSettings, service: str, **_: Any) -> Any:
        asked.append(service)
        raise AssertionError(f"an AWS {service} client was made before the arguments were checked")

    monkeypatch.setattr(ClientSettings, "client", refuse)
    return asked


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (one per test module): its URL."""
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    yield f"http://{host}:{port}"
    moto.stop()


@pytest.fixture
def server(moto_endpoint: str) -> dict[str, str]:
    """The environment a ``python -m kmskit`` subprocess needs to reach the module's moto
    server, which holds a KMS key under ``alias/e2e``. The server serves this process's moto
    state, which every ``mock_aws()`` (a ``world``) resets when it starts: the state is reset
    and the key made again for each test, so that a test run before it cannot take the key
    away."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=30
    ).close()
    kms = boto3.client("kms", region_name=REGION, endpoint_url=moto_endpoint)
    key = kms.create_key(Description="cli end to end")["KeyMetadata"]
    kms.create_alias(AliasName="alias/e2e", TargetKeyId=key["KeyId"])
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "PYTHONPATH": str(ROOT),
    }


Answer = Callable[[dict[str, Any], Callable[[dict[str, Any]], Any]], Any]
"""How a test answers an operation: ``answer(params, moto)``, where ``moto(params)`` makes the
call moto would have answered (to pass it on, or to change what it says)."""


@dataclass
class KmsAnswers:
    """Operations (or fields) moto 5 lacks, answered by the test: ``answers[operation]`` (see
    :data:`Answer`). Every request to one of them is checked against the API model and kept in
    ``requests[operation]``, and so is every answer (as botocore's Stubber checks them)."""

    answers: dict[str, Answer] = field(default_factory=dict)
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def refuse(operation: str, code: str = "AccessDeniedException") -> ClientError:
    """The error KMS answers ``operation`` with (``code``; default: access denied)."""
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, operation)


@pytest.fixture
def kms_answers(monkeypatch: pytest.MonkeyPatch) -> KmsAnswers:
    """Answer the operations a test puts in :attr:`KmsAnswers.answers`; moto the others."""
    patched = KmsAnswers()
    real = BaseClient._make_api_call

    def call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        answer = patched.answers.get(operation)
        if answer is None:
            return real(client, operation, params)
        model = client.meta.service_model.operation_model(operation)
        validate_parameters(params, model.input_shape)
        patched.requests.setdefault(operation, []).append(params)
        response = answer(params, lambda given: real(client, operation, given))
        shown = {name: value for name, value in response.items() if name != "ResponseMetadata"}
        validate_parameters(shown, model.output_shape)
        return response

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return patched
