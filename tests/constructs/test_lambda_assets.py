"""The Lambda functions' code assets, as synthesized (the folders CDK zips): the toolkit's own
modules only, on the runtime's Python and SDK. No vendored third-party package (boto3 comes from
the python3.14 runtime, docs/snapshots.md "The SDK the functions run on"), no tests, no
``__pycache__`` or other files beside the Python source."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests._support.lambda_assets import RUNTIME_MODULES, function_assets, imported_modules
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
# Each app and stack with the toolkit's functions, and the packages each function's asset holds.
FUNCTIONS = [
    ("snapshot_showcase", "Source", {"snapshot_replicator", "kmskit"}),
    ("snapshot_showcase", "Backup", {"snapshot_replicator", "kmskit"}),
    ("grants_showcase", "GrantsShowcase", {"key_grant"}),
]


@pytest.mark.parametrize(("app", "stack", "packages"), FUNCTIONS, ids=str)
def test_each_function_asset_is_the_toolkits_own_source_on_the_runtimes_sdk(
    synthesized: Synth, app: str, stack: str, packages: set[str]
) -> None:
    synth = synthesized(app)
    assets = function_assets(synth.outdir, synth.template(stack))
    assert assets
    for handler, folder in assets.items():
        assert handler.split(".")[0] in packages, handler
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        assert files, folder
        assert {f.split("/")[0] for f in files} == packages, (handler, files)
        others = [f for f in files if not f.endswith(".py") or "__pycache__" in f]
        assert not others, f"{handler}: not Python source: {others}"
        tests = [f for f in files if {"tests", "test"} & set(f.split("/")) or "/test_" in f"/{f}"]
        assert not tests, f"{handler}: tests in the asset: {tests}"
        foreign = {
            file: sorted(names - RUNTIME_MODULES - packages)
            for file, names in imported_modules(folder).items()
            if names - RUNTIME_MODULES - packages
        }
        assert not foreign, (
            f"{handler}: imports what neither the runtime nor the asset has: {foreign}"
        )
