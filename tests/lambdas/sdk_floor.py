"""Writes tests/lambdas/fixtures/sdk_floor.json: what an old botocore holds of what the snapshot
functions and KeyGrant's provider use, so that tests/lambdas/test_sdk.py and
test_key_grant_provider.py can check the Lambda code against the SDK of the Lambda runtime
without the network.

The file holds, for that botocore: the service models trimmed to the operations of
``sdk.REQUIRED`` (and KMS to the provider's ``OPERATIONS``) and the shapes they reach (no
documentation), the names of the paginators of those services, and the top-level names of the
botocore modules the assets import from.

Regenerate it (after adding a call to ``sdk.REQUIRED`` that the file does not hold, or to move
the floor) from an unpacked wheel, with the network of a developer's machine::

    pip download --no-deps botocore==1.40.40 -d /tmp/wheels
    python -m zipfile -e /tmp/wheels/botocore-1.40.40-py3-none-any.whl /tmp/botocore-floor
    python -m tests.lambdas.sdk_floor /tmp/botocore-floor
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

from botocore.loaders import Loader

from lambda_src.key_grant.handler import OPERATIONS as KEY_GRANT_OPERATIONS
from lambda_src.snapshot_replicator.sdk import REQUIRED, SERVICES

FIXTURE = Path(__file__).parent / "fixtures" / "sdk_floor.json"
# The botocore modules the assets import names from (test_snapshot_replication.py checks that
# they import no other); kmskit.clients' assume_role brings in credentials and session,
# kmskit.errors' throttling advice the loaders, and its credential-loading errors the
# web identity token loader of utils and the SSO token provider of tokens.
MODULES = (
    "botocore",
    "botocore.config",
    "botocore.credentials",
    "botocore.exceptions",
    "botocore.loaders",
    "botocore.model",
    "botocore.session",
    "botocore.tokens",
    "botocore.utils",
)
# Operations of the other Lambda functions, by service: KeyGrant's provider.
OTHER_OPERATIONS: dict[str, tuple[str, ...]] = {"kms": KEY_GRANT_OPERATIONS}
FLOOR_SERVICES = (*SERVICES, *OTHER_OPERATIONS)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _reach(shapes: dict[str, Any], name: str, seen: set[str]) -> None:
    if name in seen:
        return
    seen.add(name)
    shape = shapes[name]
    refs = [m["shape"] for m in shape.get("members", {}).values()]
    refs += [shape[k]["shape"] for k in ("member", "key", "value") if k in shape]
    for ref in refs:
        _reach(shapes, ref, seen)


def trimmed(loader: Loader, service: str) -> dict[str, Any]:
    """``service``'s model with only the operations of REQUIRED (and OTHER_OPERATIONS) and the
    shapes they reach."""
    model = loader.load_service_model(service, "service-2")
    wanted = {c.operation for c in REQUIRED if c.service == service}
    wanted |= set(OTHER_OPERATIONS.get(service, ()))
    operations = {k: v for k, v in model["operations"].items() if k in wanted}
    seen: set[str] = set()
    for operation in operations.values():
        for end in ("input", "output"):
            if end in operation:
                _reach(model["shapes"], operation[end]["shape"], seen)
    return _strip(
        {
            "version": model.get("version", "2.0"),
            "metadata": model["metadata"],
            "operations": {k: {**v, "errors": []} for k, v in sorted(operations.items())},
            "shapes": {k: model["shapes"][k] for k in sorted(seen)},
        }
    )


def names(path: Path) -> list[str]:
    """The top-level names a module defines or imports (read, not imported)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.Assign):
            found |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return sorted(found)


def build(root: Path) -> dict[str, Any]:
    """The fixture for the botocore unpacked in ``root`` (its ``botocore`` folder inside)."""
    package = root / "botocore"
    init = (package / "__init__.py").read_text()
    version = init.split("__version__ = ")[1].split("\n")[0].strip("'\"")
    loader = Loader(extra_search_paths=[str(package / "data")], include_default_search_paths=False)
    paginators = {}
    for service in FLOOR_SERVICES:
        pages = loader.load_service_model(service, "paginators-1")["pagination"]
        paginators[service] = sorted(pages)
    modules = {}
    for module in MODULES:
        parts = module.split(".")[1:]
        path = package.joinpath(*parts).with_suffix(".py") if parts else package / "__init__.py"
        modules[module] = names(path)
    return {
        "botocore": version,
        "models": {service: trimmed(loader, service) for service in FLOOR_SERVICES},
        "paginators": paginators,
        "modules": modules,
    }


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(build(Path(sys.argv[1])), indent=1, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}")
