"""The role ``kmskit key inventory`` assumes in each account, as both sides need it: the
inventory (:mod:`kmskit.key_inventory`) and the construct that deploys the role
(``constructs_lib.KeyInventoryRole``). Kept apart from :mod:`kmskit.key_inventory` so that a synth
reads these without importing boto3.
"""

from __future__ import annotations

import re
from typing import NamedTuple

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
_ROLE_PATH_PATTERN = re.compile(rf"^/(?:{ROLE_PATH_SEGMENT}/)*\Z", re.ASCII)
ROLE_PATH_RULE = (
    f"must be an IAM path: '/' or '/<segment>/.../', each segment 1 or more letters, digits "
    f"and +=,.@_-, at most {MAX_ROLE_PATH} characters with its slashes"
)
# arn:<partition>:iam::<account>:role/<path/><name> and arn:<partition>:iam::<account>:root,
# the principals a trust policy here names (groups: partition, account).
ROLE_ARN_PATTERN = re.compile(
    rf"^arn:(aws[a-z-]*):iam::([0-9]{{12}}):role/(?:{ROLE_PATH_SEGMENT}/)*{_IAM_NAME_CHARS}{{1,64}}\Z",
    re.ASCII,
)
ROLE_ARN_FORM = "arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>"
ROOT_ARN_PATTERN = re.compile(r"^arn:(aws[a-z-]*):iam::([0-9]{12}):root\Z", re.ASCII)
ROOT_ARN_FORM = "arn:<partition>:iam::<12-digit account>:root"
ROLE_ARN_RULE = f"must be an IAM role ARN, {ROLE_ARN_FORM}"
PRINCIPAL_ARN_RULE = f"{ROLE_ARN_RULE}, or an account root, {ROOT_ARN_FORM}"
EXTERNAL_ID_PATTERN = re.compile(r"^[\w+=,.@:/-]{2,1224}\Z", re.ASCII)
EXTERNAL_ID_RULE = "must be 2-1224 letters, digits and +=,.@:/_- (STS's ExternalId)"


def valid_role_path(value: object) -> bool:
    """True if ``value`` is an IAM path as CreateRole's ``Path`` takes it (``/`` or
    ``/segment/.../``, :data:`ROLE_PATH_SEGMENT` segments, at most :data:`MAX_ROLE_PATH`
    characters)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_ROLE_PATH
        and _ROLE_PATH_PATTERN.match(value) is not None
    )


class PrincipalArn(NamedTuple):
    """A principal that a trust policy here names: an IAM role ARN or an account root."""

    partition: str
    account: str
    is_role: bool
    """True for a role ARN, False for an account root."""

    @property
    def root(self) -> str:
        """The ARN of the root of its account, in its partition."""
        return f"arn:{self.partition}:iam::{self.account}:root"


def principal_arn(value: object, *, roots: bool = True) -> PrincipalArn | None:
    """``value`` as a :class:`PrincipalArn` if it is an IAM role ARN (:data:`ROLE_ARN_FORM`)
    or, if ``roots`` (the default), an account root (:data:`ROOT_ARN_FORM`); else None (not a
    string, a wildcard, a user, an assumed-role session, ...). What an error says of such a
    value: :data:`PRINCIPAL_ARN_RULE`, or :data:`ROLE_ARN_RULE` without ``roots``."""
    if not isinstance(value, str):
        return None
    match = ROLE_ARN_PATTERN.match(value)
    if match is None and roots:
        match = ROOT_ARN_PATTERN.match(value)
    if match is None:
        return None
    partition_name, account = match.groups()
    return PrincipalArn(partition_name, account, match.re is ROLE_ARN_PATTERN)


def role_arn(partition_name: str, account: str, role_name: str, path: str = "/") -> str:
    """The ARN of the role ``role_name`` with the IAM path ``path`` (default ``/``: none) in
    ``account`` of the partition ``partition_name``. The one place where the inventory, the
    inventory role's trust and the caller's policy write a role's ARN."""
    return f"arn:{partition_name}:iam::{account}:role{path}{role_name}"


def cli_role_name(role_name: str, path: str = "/") -> str:
    """What ``--role-name`` takes for the role ``role_name`` with the IAM path ``path`` (default
    ``/``): the path without its first ``/``, then the name (``teams/platform/Reader``)."""
    return f"{path[1:]}{role_name}"
