"""Fixtures shared by the kmskit tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from kmskit.clients import ClientSettings
from tests.kmskit.envelope_support import REGION, ROOT


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
def server() -> Iterator[dict[str, str]]:
    """A moto server with a KMS key under ``alias/e2e``: the environment a ``python -m kmskit``
    subprocess needs to reach it (one server per test module)."""
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    kms = boto3.client("kms", region_name=REGION, endpoint_url=endpoint)
    key = kms.create_key(Description="cli end to end")["KeyMetadata"]
    kms.create_alias(AliasName="alias/e2e", TargetKeyId=key["KeyId"])
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "PYTHONPATH": str(ROOT),
    }
    yield env
    moto.stop()
