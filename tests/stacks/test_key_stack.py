"""KeyStack: which other accounts a workload account's snapshot key lets in."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stacks.config import ORGANISATION_CONTEXT_KEY, Environment, cdk_json_context, load_organisation

ACCOUNT_IN_ARN = re.compile(r":iam::(\d{12}):")


def snapshot_key_accounts(raw_organisation: dict[str, Any], region: str) -> set[str]:
    """Every account a principal of the workload account's snapshot key policy in ``region``
    belongs to, the key's own excepted."""
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk.assertions import Template  # noqa: PLC0415

    from stacks.key_stack import KeyStack  # noqa: PLC0415

    organisation = load_organisation(raw_organisation)
    workload = organisation.account("workload")
    app = cdk.App(context=cdk_json_context())
    stack = KeyStack(
        app,
        f"Keys-{region}",
        organisation=organisation,
        environment=Environment(workload, region),
        env=cdk.Environment(account=workload.id, region=region),
    )
    (key,) = [
        resource
        for logical_id, resource in Template.from_stack(stack).to_json()["Resources"].items()
        if resource["Type"] == "AWS::KMS::Key" and logical_id.startswith("SnapshotKey")
    ]
    principals = json.dumps([s["Principal"] for s in key["Properties"]["KeyPolicy"]["Statement"]])
    return set(ACCOUNT_IN_ARN.findall(principals)) - {workload.id}


@pytest.mark.parametrize(
    ("region", "expected"),
    [("eu-west-1", {"333333333333"}), ("eu-central-1", set())],
    ids=["backup destination's Region", "no backup destination"],
)
def test_snapshot_key_lets_in_only_backup_accounts_that_receive_in_its_region(
    region: str, expected: set[str]
) -> None:
    # "archive" is a backup account that no destination names: nothing is shared with it. The
    # staging copy shared with "backup" (eu-west-1) is encrypted with the eu-west-1 key only.
    organisation = cdk_json_context()[ORGANISATION_CONTEXT_KEY]
    organisation["accounts"]["archive"] = {"id": "444444444444", "role": "backup"}
    assert organisation["replication"]["destinations"] == [
        {"region": "eu-central-1"},
        {"account": "backup", "region": "eu-west-1"},
    ]
    assert snapshot_key_accounts(organisation, region) == expected
