"""Build the example organisation's App from one configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from constructs_lib import add_compliance_checks
from stacks.config import (
    DEPLOYED_CONTEXT_KEY,
    ORGANISATION_CONTEXT_KEY,
    ORGANISATION_FILE_CONTEXT_KEY,
    cdk_json_context,
    organisation_from_context,
)


def new_app(*, context: dict[str, Any] | None = None, outdir: str | Path | None = None) -> cdk.App:
    """An App set up as every App of this project: cdk.json context and the cdk-nag packs.

    CDK's built-in CloudFormation template validation is off: cfn-lint checks every synthesized
    template in `make test` (errors and warnings), and the built-in check would repeat it on
    every synth at about 2 s plus 60 ms per stack (benchmarks/synth.py).

    Args:
        context: App context. Default: cdk.json's ``context`` (the CDK CLI's own context,
            including ``-c`` values, still takes precedence).
        outdir: cloud assembly directory. Default: the CLI's, or ``cdk.out``.
    """
    app = cdk.App(
        context=context if context is not None else cdk_json_context(),
        outdir=str(outdir) if outdir is not None else None,
        builtin_cloud_formation_validation=False,
    )
    add_compliance_checks(app)
    return app


def build_app(
    *, context: dict[str, Any] | None = None, outdir: str | Path | None = None
) -> cdk.App:
    """The example organisation, every stack, with the cdk-nag gates registered (see
    :func:`new_app` for the arguments)."""
    # Imported here so that new_app (and the synth benchmark's floor) loads no construct module.
    from stacks.organisation import add_organisation  # noqa: PLC0415

    app = new_app(context=context, outdir=outdir)
    organisation = organisation_from_context(
        {
            key: app.node.try_get_context(key)
            for key in (
                ORGANISATION_CONTEXT_KEY,
                ORGANISATION_FILE_CONTEXT_KEY,
                DEPLOYED_CONTEXT_KEY,
            )
        }
    )
    add_organisation(app, organisation)
    return app
