"""The example organisation as `make synth` builds it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests._support.snapshots import normalized
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]

EXPECTED_STACKS = [
    f"Keys-{account}-{region}"
    for account in ("security", "workload", "backup")
    for region in ("eu-west-1", "eu-central-1")
]


def test_one_key_stack_per_account_and_region(synthesized: Synth) -> None:
    assert sorted(synthesized("example_org").templates) == sorted(EXPECTED_STACKS)


@pytest.mark.parametrize("stack_id", ["Keys-workload-eu-west-1"])
def test_stack_snapshot(synthesized: Synth, snapshot_json, stack_id: str) -> None:  # type: ignore[no-untyped-def]
    assert normalized(synthesized("example_org").template(stack_id)) == snapshot_json
