"""Fixtures shared by the kmskit tests."""

from __future__ import annotations

from typing import Any

import pytest

from kmskit.clients import ClientSettings


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
