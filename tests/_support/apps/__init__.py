"""App configurations under test, one module each, discovered by name.

Each module defines ``build(outdir: Path) -> aws_cdk.App`` returning an App with the cdk-nag
packs registered (``stacks.app_builder.new_app`` makes such an App). Every configuration here is
synthesized once per session and held to the gates in ``tests/test_gates.py``: all five cdk-nag
packs clean, cfn-lint clean, and every acknowledgment listed in docs/compliance.md; and to
``tests/test_iam_policies.py``: every policy valid against AWS's IAM definitions.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def app_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def builder(name: str) -> Callable[[Path], Any]:
    module = importlib.import_module(f"{__name__}.{name}")
    build: Callable[[Path], Any] = module.build
    return build
