"""kmskit and lambda_src import without the CDK, and create no AWS client and add no handler to
another library's logger (nor the root logger) at import time: where those libraries' records go
is the importing application's choice (the ``kmskit`` command line makes its own when it runs)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent(
    """
    import importlib, logging, pkgutil, sys
    import botocore.session

    def refuse(*args, **kwargs):
        raise AssertionError("an AWS client was created at import time")

    botocore.session.Session.create_client = refuse
    foreign = []
    add_handler = logging.Logger.addHandler

    def recorded(logger, handler):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        package = caller.split(".")[0]
        if package in ("kmskit", "lambda_src") and logger.name.split(".")[0] != package:
            foreign.append(f"{caller} -> {logger.name}")
        return add_handler(logger, handler)

    logging.Logger.addHandler = recorded
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
    assert not foreign, f"a handler added to another library's logger: {foreign}"
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
