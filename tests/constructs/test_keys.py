"""CustomerManagedKey: the first slice (a rotated symmetric key with the AWS default policy)."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
import pytest

from constructs_lib import ConstructPropError, CustomerManagedKey
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]


def test_symmetric_key_defaults(synthesized: Synth) -> None:
    template = synthesized("keys_showcase").assertions("KeysShowcase")
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {
                "KeySpec": "SYMMETRIC_DEFAULT",
                "KeyUsage": "ENCRYPT_DECRYPT",
                "EnableKeyRotation": True,
                "PendingWindowInDays": 30,
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/app-data"})


def test_default_policy_is_the_aws_default(synthesized: Synth) -> None:
    template = synthesized("keys_showcase").template("KeysShowcase")
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert key["Properties"]["KeyPolicy"]["Statement"] == [
        {
            "Sid": "EnableIAMUserPermissions",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]


def test_key_reports_its_monthly_cost(synthesized: Synth) -> None:
    template = synthesized("keys_showcase").template("KeysShowcase")
    (key,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    assert key["Metadata"]["kmskit:cost"]["monthlyUsd"] == "1.00"
    assert key["Metadata"]["kmskit:cost"]["maxMonthlyUsd"] == "3.00"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alias": "app-data"}, "'alias' must start with 'alias/'. Received: 'app-data'"),
        ({"alias": "alias/aws/ebs"}, "'alias' must not start with 'alias/aws/'"),
        ({"enable_key_rotation": "maybe"}, None),
    ],
)
def test_bad_props_name_the_prop_and_value(kwargs: dict[str, object], message: str | None) -> None:
    stack = cdk.Stack(cdk.App(), "S")
    if message is None:
        CustomerManagedKey(stack, "K", **kwargs)  # type: ignore[arg-type]
        return
    with pytest.raises(ConstructPropError) as error:
        CustomerManagedKey(stack, "K", **kwargs)  # type: ignore[arg-type]
    assert message in str(error.value)
