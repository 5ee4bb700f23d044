"""What the Lambda functions' code assets hold and import, read from the folders CDK zips."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

# The python3.14 runtime provides the standard library and its own boto3 and botocore (the
# "runtime SDK", docs/snapshots.md): an asset brings nothing else but the toolkit's own code.
RUNTIME_MODULES = frozenset(sys.stdlib_module_names) | {"boto3", "botocore"}


def imported_modules(folder: Path) -> dict[str, set[str]]:
    """The top-level name of every absolute import, by file (relative to ``folder``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add((node.module or "").split(".")[0])
        found[path.relative_to(folder).as_posix()] = names
    return found


def function_assets(outdir: Path, template: dict[str, Any]) -> dict[str, Path]:
    """The folder of every Lambda function's code asset in the cloud assembly ``outdir`` (the
    folder that cdk-assets zips and uploads), by the function's handler setting."""
    sources: dict[str, str] = {}
    for manifest in outdir.glob("*.assets.json"):
        for digest, asset in json.loads(manifest.read_text("utf-8")).get("files", {}).items():
            if asset["source"].get("packaging") == "zip":
                sources[f"{digest}.zip"] = asset["source"]["path"]
    return {
        resource["Properties"]["Handler"]: outdir / sources[resource["Properties"]["Code"]["S3Key"]]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
