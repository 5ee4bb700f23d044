"""kmskit and lambda_src import without the CDK and create no AWS client at import time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys
    import botocore.session

    def refuse(*args, **kwargs):
        raise AssertionError("an AWS client was created at import time")

    botocore.session.Session.create_client = refuse
    imported = []
    for package in ("kmskit", "lambda_src"):
        root = importlib.import_module(package)
        imported.append(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
            if info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)
            imported.append(info.name)
    cdk = sorted(m for m in sys.modules if m == "aws_cdk" or m.startswith("aws_cdk."))
    assert not cdk, f"imported the CDK: {cdk[:3]}"
    print("\\n".join(imported))
    """
)


def test_runtime_packages_import_without_cdk_or_clients() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert "kmskit.cli" in imported
    assert "kmskit.cost" in imported
