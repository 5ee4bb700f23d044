"""Keys the construct tests share."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constructs import Construct

    from constructs_lib import CustomerManagedKey


def custom_policy_key(scope: Construct, construct_id: str, *, account: str) -> CustomerManagedKey:
    """A key with ``KeyPolicy.custom(...)`` whose one admin is the role Admin of ``account``:
    its policy does not delegate to IAM, so it must name each principal itself."""
    from constructs_lib import CustomerManagedKey, KeyPolicy  # noqa: PLC0415

    return CustomerManagedKey(
        scope, construct_id, policy=KeyPolicy.custom(admins=[f"arn:aws:iam::{account}:role/Admin"])
    )
