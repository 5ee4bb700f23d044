"""Shared set-up for the envelope tests: a moto KMS with keys, and a probe on every client
kmskit creates (through ``ClientSettings.client``) that counts calls and injects errors."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from kmskit.clients import ClientSettings

REGION = "eu-west-1"
ALIAS = "alias/app-data"


@dataclass
class KmsWorld:
    """A moto KMS with one symmetric key (``arn``, also reachable as ``ALIAS``)."""

    kms: Any
    arn: str
    key_id: str

    def new_key(self, **params: Any) -> str:
        arn: str = self.kms.create_key(**params)["KeyMetadata"]["Arn"]
        return arn


@contextlib.contextmanager
def kms_world() -> Iterator[KmsWorld]:
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        meta = kms.create_key(Description="envelope tests")["KeyMetadata"]
        kms.create_alias(AliasName=ALIAS, TargetKeyId=meta["KeyId"])
        yield KmsWorld(kms=kms, arn=meta["Arn"], key_id=meta["KeyId"])


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class _Injection:
    code: str
    message: str
    status: int
    times: int | None
    sent: int = 0


@dataclass
class ClientProbe:
    """Hooks every client kmskit makes.

    ``calls[op]`` counts API calls (once per call, whatever the retries); ``attempts[op]``
    counts HTTP attempts (retries included). ``fail(op, code)`` makes ``op`` answer with that
    error (every attempt, or the first ``times``), before moto sees the request.
    """

    calls: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    _injections: dict[str, _Injection] = field(default_factory=dict)

    def fail(
        self,
        operation: str,
        code: str,
        message: str = "injected by the test",
        *,
        status: int = 400,
        times: int | None = None,
    ) -> None:
        self._injections[operation] = _Injection(code, message, status, times)

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call", self._count_call)
        client.meta.events.register_first("before-send", self._send)

    def _count_call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.attempts[operation] += 1
        injection = self._injections.get(operation)
        if injection is None or (injection.times is not None and injection.sent >= injection.times):
            return None
        injection.sent += 1
        body = json.dumps({"__type": injection.code, "message": injection.message}).encode()
        return AWSResponse(request.url, injection.status, {}, _Body(body))


def probe_clients(monkeypatch: pytest.MonkeyPatch, *, no_backoff: bool = True) -> ClientProbe:
    """Attach a :class:`ClientProbe` to every client made through ``ClientSettings.client``.

    ``no_backoff`` makes botocore's standard retries wait 0 s (the attempts still happen).
    """
    probe = ClientProbe()
    original = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)
        probe.attach(made)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    if no_backoff:
        monkeypatch.setattr(
            botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0
        )
    return probe
