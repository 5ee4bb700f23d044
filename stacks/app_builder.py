"""Build the example organisation's App from one configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from constructs_lib import add_compliance_checks
from stacks.config import (
    ORGANISATION_CONTEXT_KEY,
    ORGANISATION_FILE_CONTEXT_KEY,
    cdk_json_context,
    organisation_from_context,
)
from stacks.organisation import add_organisation


def build_app(
    *, context: dict[str, Any] | None = None, outdir: str | Path | None = None
) -> cdk.App:
    """The example organisation, every stack, with the cdk-nag gates registered.

    Args:
        context: App context. Default: cdk.json's ``context`` (the CDK CLI's own context,
            including ``-c`` values, still takes precedence).
        outdir: cloud assembly directory. Default: the CLI's, or ``cdk.out``.
    """
    app = cdk.App(
        context=context if context is not None else cdk_json_context(),
        outdir=str(outdir) if outdir is not None else None,
    )
    organisation = organisation_from_context(
        {
            key: app.node.try_get_context(key)
            for key in (ORGANISATION_CONTEXT_KEY, ORGANISATION_FILE_CONTEXT_KEY)
        }
    )
    add_organisation(app, organisation)
    add_compliance_checks(app)
    return app
