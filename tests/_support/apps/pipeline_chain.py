"""The small organisation delivered by a chain of two pipelines.

CodePipeline's quota of 500 actions per pipeline is lowered to 20 while the App is built, so
that the three waves of the small organisation (6, 8 and 8 actions, after 5 fixed stages) need a
second pipeline: ``Pipeline`` deploys Security and Workloads, ``Pipeline2`` deploys Backup once
``Pipeline`` succeeds. The 150-environment organisation builds the same chain at the real quota
(tests/stacks/test_scale.py).

It has tags, the pipeline account overriding one (tests/stacks/test_tags.py): the chain's own
resources (its start rule, dead-letter queue and alarm) and the pipeline stacks take the pipeline
account's."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

from tests._support.apps.small_org import SMALL_ORGANISATION

LOWERED_PIPELINE_ACTIONS = 20
CHAIN_ORGANISATION = {
    **SMALL_ORGANISATION,
    "name": "chain",
    "tags": {"CostCenter": "cc-42", "Owner": "platform-team"},
    "accounts": {
        "sec": {"id": "111111111111", "role": "security", "tags": {"Owner": "delivery-team"}},
        "app": {"id": "222222222222", "role": "workload"},
        "vault": {"id": "333333333333", "role": "backup"},
    },
}


def build(outdir: Path) -> Any:
    import stacks.organisation  # noqa: PLC0415
    from stacks.app_builder import build_app  # noqa: PLC0415
    from stacks.config import ORGANISATION_CONTEXT_KEY, cdk_json_context  # noqa: PLC0415

    context = cdk_json_context()
    context[ORGANISATION_CONTEXT_KEY] = CHAIN_ORGANISATION
    with mock.patch.object(stacks.organisation, "MAX_PIPELINE_ACTIONS", LOWERED_PIPELINE_ACTIONS):
        return build_app(context=context, outdir=outdir)
