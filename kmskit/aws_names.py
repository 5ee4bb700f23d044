"""Patterns of AWS names that the CLI and the snapshot Lambda both check (the Lambda's asset holds
this module): 12-digit account IDs and Region names of every partition, the CLI's checks of
arguments that hold them, and the partition of a Region name (which ``kmskit cost`` and the
example app's configuration both need)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kmskit.errors import UsageError

# \Z, not $: "$" also matches before a final newline ("111111111111\n" is no account ID).
ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
# Every partition's Region names: us-east-1, us-gov-west-1, us-isob-east-1, eusc-de-east-1.
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+){1,2}-[0-9]{1,2}\Z")


def check_accounts(accounts: Iterable[Any], argument: str) -> None:
    """Raise unless every one is a 12-digit account ID; ``argument`` names the option."""
    for account in accounts:
        if not isinstance(account, str) or not ACCOUNT_ID.match(account):
            raise UsageError(f"'{argument}' must be a 12-digit account ID. Received: {account!r}")


def check_regions(regions: Iterable[Any], argument: str) -> None:
    """Raise unless every one is a Region name (a string); ``argument`` names the option."""
    for region in regions:
        if not isinstance(region, str) or not REGION.match(region):
            raise UsageError(f"'{argument}' must be an AWS Region name. Received: {region!r}")


def partition(region: str) -> str:
    """The AWS partition of a Region name that matches :data:`REGION` (``cn-north-1`` ->
    ``aws-cn``, ``us-isob-east-1`` -> ``aws-iso-b``); ``aws`` for every commercial Region."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("eusc-"):
        return "aws-eusc"
    iso = re.match(r"^[a-z]{2}-iso([a-z]?)-", region)
    if iso is not None:
        return f"aws-iso-{iso.group(1)}" if iso.group(1) else "aws-iso"
    return "aws"
