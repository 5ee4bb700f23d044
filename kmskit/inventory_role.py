"""The role ``kmskit key inventory`` assumes in each account, as both sides need it: the
inventory (:mod:`kmskit.key_inventory`) and the construct that deploys the role
(``constructs_lib.KeyInventoryRole``). Kept apart from :mod:`kmskit.key_inventory` so that a synth
reads these without importing boto3.
"""

from __future__ import annotations

import re

INVENTORY_ACTIONS: tuple[str, ...] = (
    "kms:ListKeys",
    "kms:ListAliases",
    "kms:DescribeKey",
    "kms:GetKeyRotationStatus",
    "kms:GetKeyPolicy",
    "kms:ListGrants",
)
"""Every call :func:`kmskit.key_inventory.inventory` makes: what the identity that reads an
account needs (the caller, or the role :func:`kmskit.key_inventory.organization_inventory`
assumes in each account)."""

DEFAULT_ROLE_NAME = "KmskitKeyInventory"
"""The role :func:`kmskit.key_inventory.organization_inventory` assumes in each account unless
told otherwise."""
ROLE_SESSION_NAME = "kmskit-key-inventory"
"""The role session name of :func:`kmskit.key_inventory.organization_inventory`: CloudTrail shows
the inventory's calls in each account as ``assumed-role/<role>/kmskit-key-inventory``."""
# The characters of IAM names (IAM User Guide, "IAM name requirements").
_IAM_NAME_CHARS = r"[\w+=,.@-]"
# IAM's RoleName and STS's ExternalId (API references: CreateRole, AssumeRole), with what an
# error says of each.
ROLE_NAME_PATTERN = re.compile(rf"^{_IAM_NAME_CHARS}{{1,64}}\Z", re.ASCII)
ROLE_NAME_RULE = "must be an IAM role name: 1-64 letters, digits and +=,.@_- (no path)"
# A role's path: "/" or "/segment/.../", at most 512 characters (CreateRole's Path). Its segments
# take the characters of IAM names, not all the printable ASCII CreateRole's pattern lets
# through: "*", "?" or ":" in a role ARN would be a wildcard or a separator in the caller's
# sts:AssumeRole policy.
ROLE_PATH_SEGMENT = rf"{_IAM_NAME_CHARS}+"
MAX_ROLE_PATH = 512
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}\Z", re.ASCII)
EXTERNAL_ID_RULE = "must be 2-1224 letters, digits and +=,.@:/_- (STS's ExternalId)"
