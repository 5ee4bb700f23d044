"""The package's public API: every name resolves, and importing one construct stays light."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import constructs_lib

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", constructs_lib.__all__)
def test_every_public_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(constructs_lib, name)
    module = importlib.import_module(f"constructs_lib.{constructs_lib._EXPORTS[name]}")
    assert getattr(module, name) is value
    # A class or function is defined there; a constant (SNAPSHOT_KEY_ACTIONS) has no module.
    assert inspect.getmodule(value) in (module, None)
    assert name in dir(constructs_lib)


def test_the_lazy_exports_and_all_name_the_same_api() -> None:
    assert sorted(constructs_lib.__all__) == sorted(constructs_lib._EXPORTS)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'CustomerManagedKeys'"):
        constructs_lib.CustomerManagedKeys  # noqa: B018


def test_importing_the_key_constructs_does_not_load_lambda_or_cloudtrail() -> None:
    probe = (
        "import sys\n"
        "from constructs_lib import CustomerManagedKey, KeyPolicy\n"
        "heavy = ['aws_cdk.aws_lambda', 'aws_cdk.aws_cloudtrail', 'aws_cdk.aws_events_targets']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
