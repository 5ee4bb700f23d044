#!/usr/bin/env python3
"""The example organisation (see cdk.json context ``kmskit:organisation``). Run by `make synth`,
as ``python3 -O app.py`` (stacks/optimized_python.py)."""

import importlib.util
import sys

# cdk.json runs the first `python3` on PATH: outside make (`npx cdk deploy ...` in a new shell)
# that is the machine's, without this project's dependencies.
if importlib.util.find_spec("aws_cdk") is None:
    sys.exit(
        f"app.py: {sys.executable} cannot import aws_cdk. Run `make setup` once, then put the "
        "project's virtualenv first on PATH (`source .venv/bin/activate`) before any "
        "`npx cdk ...` command (`make synth` does this itself)."
    )

from stacks.optimized_python import warn_if_recompiling

warn_if_recompiling()

from constructs_lib.jsii_channel import use_direct_channel  # noqa: E402
from stacks.startup import imports_without_gc  # noqa: E402

# Before anything imports aws_cdk: jsii's kernel without its relay process (README, Set-up details).
use_direct_channel()

with imports_without_gc():  # about 0.1 s of garbage collection saved (stacks/startup.py)
    from stacks.app_builder import build_app

build_app().synth()
