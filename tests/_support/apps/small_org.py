"""A small organisation: one Region, a security, a workload and a backup account, its central
audit bucket under a GOVERNANCE Object Lock (``audit.object_lock``).

Snapshot tests pin its templates (tests/stacks/test_small_org.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SMALL_ORGANISATION = {
    "name": "small",
    "regions": ["eu-west-1"],
    "accounts": {
        "sec": {"id": "111111111111", "role": "security"},
        "app": {"id": "222222222222", "role": "workload"},
        "vault": {"id": "333333333333", "role": "backup"},
    },
    "audit": {"object_lock": {"mode": "GOVERNANCE", "days": 365}},
    "replication": {"destinations": [{"account": "vault", "region": "eu-west-1"}]},
}


def build(outdir: Path) -> Any:
    from stacks.app_builder import build_app  # noqa: PLC0415
    from stacks.config import ORGANISATION_CONTEXT_KEY, cdk_json_context  # noqa: PLC0415

    context = cdk_json_context()
    context[ORGANISATION_CONTEXT_KEY] = SMALL_ORGANISATION
    return build_app(context=context, outdir=outdir)
