#!/usr/bin/env python3
"""The example organisation (see cdk.json context ``kmskit:organisation``). Run by `make synth`,
as ``python3 -O app.py`` (stacks/optimized_python.py)."""

from stacks.optimized_python import warn_if_recompiling

warn_if_recompiling()

from constructs_lib.jsii_channel import use_direct_channel  # noqa: E402

# Before anything imports aws_cdk: jsii's kernel without its relay process (README, Set-up details).
use_direct_channel()

from stacks.app_builder import build_app  # noqa: E402

build_app().synth()
