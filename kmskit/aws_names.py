"""Patterns of AWS names that the CLI, the constructs and the snapshot Lambda check (the Lambda's
asset holds this module): 12-digit account IDs, organization IDs and Region names of every
partition, the CLI's checks of arguments that hold them, the partition of a Region name (which
``kmskit cost`` and the example app's configuration both need), and whether a Region is an opt-in
Region (disabled until an account enables it)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kmskit.errors import UsageError

# \Z, not $: "$" also matches before a final newline ("111111111111\n" is no account ID); and
# [0-9], not \d, which matches every Unicode digit: either would pass what AWS refuses.
ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
# AWS Organizations' organization ID (API reference, Organization: ^o-[a-z0-9]{10,32}$).
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}\Z")
ORGANIZATION_ID_RULE = (
    "must be an AWS Organizations organization ID, o- and 10-32 lowercase letters and digits"
)
"""What an ID that :data:`ORGANIZATION_ID` matches is, for the errors that refuse one."""
# Every partition's Region names: us-east-1, us-gov-west-1, us-isob-east-1, eusc-de-east-1.
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+){1,2}-[0-9]{1,2}\Z")
# The Regions every account of the aws partition has enabled. "Regions launched before March 20,
# 2019 are enabled by default ... Regions launched after March 20, 2019 are disabled by default
# and referred to as opt-in Regions" (AWS Account Management Reference Guide, "Enable or disable
# AWS Regions in your account"): a closed set, as every new Region is an opt-in Region.
DEFAULT_REGIONS: frozenset[str] = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
        "ap-southeast-1", "ap-southeast-2",
    }
)  # fmt: skip


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


def opt_in(region: str) -> bool:
    """Whether ``region`` (a name :data:`REGION` matches) is an opt-in Region: a Region of the
    ``aws`` partition outside :data:`DEFAULT_REGIONS` (``af-south-1``, ``ap-east-1``,
    ``mx-central-1``, ...), which an account must enable before anything works there. False in
    the other partitions, for which AWS documents no opt-in Regions."""
    return partition(region) == "aws" and region not in DEFAULT_REGIONS


def opt_in_hint(regions: Iterable[str | None]) -> str | None:
    """What to check when AWS refuses the credentials of a call that may have gone to one of
    ``regions`` that is an opt-in Region (:func:`opt_in`); None when none is.

    Two causes AWS documents make credentials fail in an opt-in Region only: the account has not
    enabled it, and session tokens of the global STS endpoint (``sts.amazonaws.com``) of version 1
    "are valid only in AWS Regions that are available by default. These tokens do not work in
    manually enabled Regions" (IAM API reference, SetSecurityTokenServicePreferences). AWS does
    not document the error code either answers; the one reported is that of unknown credentials
    (``InvalidClientTokenId``, ``UnrecognizedClientException``: "The security token included in
    the request is invalid"), so the hint goes with every refusal of credentials."""
    opted = list(
        dict.fromkeys(r for r in regions if isinstance(r, str) and REGION.match(r) and opt_in(r))
    )
    if not opted:
        return None
    names = ", ".join(opted)
    which = f"{names} is an opt-in Region" if len(opted) == 1 else f"{names} are opt-in Regions"
    return (
        f"{which}, disabled until the account enables it: check that the account has enabled "
        f"it (aws account get-region-opt-status --region-name {opted[0]}) and that the "
        "credentials are valid there (session tokens of the global STS endpoint "
        "sts.amazonaws.com are not, unless the account's global endpoint token version is v2: "
        "use a Regional STS endpoint)"
    )
