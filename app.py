#!/usr/bin/env python3
"""The example organisation (see cdk.json context ``kmskit:organisation``). Run by `make synth`."""

from stacks.app_builder import build_app

build_app().synth()
