"""Every AWS client kmskit uses is made here, on demand (never at import time).

Clients use botocore's ``standard`` retry mode (jittered exponential backoff that retries
``ThrottlingException``) unless told otherwise, and the endpoint boto3 is configured with, so
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_KMS``) points every command at a local stand-in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config

from kmskit.errors import UsageError

RetryMode = Literal["standard", "adaptive", "legacy"]
DEFAULT_MAX_ATTEMPTS = 8
RETRY_MODES: tuple[RetryMode, ...] = ("standard", "adaptive", "legacy")


def _env_max_attempts() -> int:
    """``KMSKIT_MAX_ATTEMPTS`` (a whole number, at least 1), or the default when it is unset."""
    value = os.environ.get("KMSKIT_MAX_ATTEMPTS")
    if value is None or not value.strip():
        return DEFAULT_MAX_ATTEMPTS
    try:
        attempts = int(value)
    except ValueError:
        attempts = 0
    if attempts < 1:
        raise UsageError(
            f"'KMSKIT_MAX_ATTEMPTS' must be a whole number of at least 1. Received: {value!r}"
        )
    return attempts


def _env_retry_mode() -> RetryMode:
    value = os.environ.get("AWS_RETRY_MODE", "standard")
    for mode in RETRY_MODES:
        if value == mode:
            return mode
    return "standard"


@dataclass(frozen=True)
class ClientSettings:
    """How clients are built.

    Args:
        region: Default: boto3's own resolution (``AWS_REGION``, profile, ...).
        profile: Default: boto3's own resolution.
        max_attempts: total attempts per call, first one included. Default: ``KMSKIT_MAX_ATTEMPTS``
            or 8.
        retry_mode: ``standard`` or ``adaptive`` (adds client-side rate limiting). Default:
            ``AWS_RETRY_MODE`` or ``standard``.
    """

    region: str | None = None
    profile: str | None = None
    max_attempts: int | None = None
    retry_mode: RetryMode | None = None

    def botocore_config(self, **extra: Any) -> Config:
        attempts = self.max_attempts or _env_max_attempts()
        mode: RetryMode = self.retry_mode or _env_retry_mode()
        # botocore's "max_attempts" counts retries only; "total_max_attempts" counts every call.
        return Config(retries={"mode": mode, "total_max_attempts": attempts}, **extra)

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str, *, region: str | None = None, **config: Any) -> Any:
        """A client for ``service`` (in ``region`` if given) with these retry settings."""
        return self.session().client(  # type: ignore[call-overload]
            service,
            region_name=region or self.region,
            config=self.botocore_config(**config),
        )


def kms_client(settings: ClientSettings | None = None) -> Any:
    """A KMS client with ``settings``, or with the defaults (environment, standard retries)."""
    return (settings or ClientSettings()).client("kms")
