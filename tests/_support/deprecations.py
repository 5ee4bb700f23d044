"""pytest plugin: a deprecation warning raised from the toolkit's own code fails the test.

    python -m pytest -p tests._support.deprecations ...      (`make pythons` runs it so)

A DeprecationWarning or PendingDeprecationWarning attributed to a module of ``lambda_src``,
``kmskit``, ``constructs_lib`` or ``stacks`` (the caller of the deprecated API: the code that
has to change) becomes an error; those raised inside other packages stay warnings. The Lambda
functions run on Python 3.14, where APIs deprecated in 3.12 and 3.13 (``datetime.utcnow``,
``ast.Num``, ...) warn or are gone, and the tests run on 3.11 (where they are not deprecated yet)
unless `make pythons` runs them on a newer Python.

A plugin because pytest's ``-W`` (like Python's) matches a module by its exact name, and only
the ``filterwarnings`` ini option takes a pattern of modules.
"""

from __future__ import annotations

import pytest

OWN_MODULES = r"(lambda_src|kmskit|constructs_lib|stacks)(\.|$)"


def pytest_configure(config: pytest.Config) -> None:
    for category in ("DeprecationWarning", "PendingDeprecationWarning"):
        config.addinivalue_line("filterwarnings", f"error::{category}:{OWN_MODULES}")
