"""KMS action lists, kept in one place (as aws-cdk-lib keeps them in ``aws-kms/.../perms.ts``).

Every key policy statement and every ``grant_*`` method takes its actions from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from constructs_lib._validation import as_list

# Management: none of these encrypts, decrypts, signs or creates grants. That does not keep an
# administrator from what the key protects: kms:PutKeyPolicy rewrites the key policy (to give
# themselves kms:Decrypt, say), and kms:ReplicateKey makes a replica of a multi-Region key with
# a new policy of the caller's choosing. Both are needed (without kms:PutKeyPolicy the key is
# locked out; replicas need ReplicateKey); keeping administrators from the data takes an SCP or
# a permissions boundary denying them these two (docs/keys.md, "What administrators can do").
# Each acts on the key, so a key policy or a policy naming the key can grant it: not
# kms:ListAliases, which takes no resource ("kms:ListAliases (IAM policy)", KMS API reference).
ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyLastUsage",  # when the key was last used: what deciding to delete it needs
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReplicateKey",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
    "kms:UpdatePrimaryRegion",
)

# Extra administration for keys with imported (EXTERNAL) material.
IMPORT_ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:DeleteImportedKeyMaterial",
    "kms:GetParametersForImport",
    "kms:ImportKeyMaterial",
)

# The action that must stay with somebody, or the key is locked out for good.
PUT_KEY_POLICY = "kms:PutKeyPolicy"

# Use of the key, by key usage.
ENCRYPT_DECRYPT_ACTIONS: tuple[str, ...] = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)
# RSA encryption keys cannot generate data keys; their public key can be used outside AWS.
ASYMMETRIC_ENCRYPT_DECRYPT_ACTIONS: tuple[str, ...] = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GetPublicKey",
    "kms:ReEncrypt*",
)
SIGN_VERIFY_ACTIONS: tuple[str, ...] = (
    "kms:DescribeKey",
    "kms:GetPublicKey",
    "kms:Sign",
    "kms:Verify",
)
GENERATE_VERIFY_MAC_ACTIONS: tuple[str, ...] = ("kms:GenerateMac", "kms:VerifyMac")
KEY_AGREEMENT_ACTIONS: tuple[str, ...] = ("kms:DeriveSharedSecret", "kms:GetPublicKey")

ENCRYPT_ACTIONS: tuple[str, ...] = ("kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
# RSA encryption keys: no data keys; the public key lets callers encrypt outside AWS.
ASYMMETRIC_ENCRYPT_ACTIONS: tuple[str, ...] = ("kms:Encrypt", "kms:GetPublicKey", "kms:ReEncrypt*")
DECRYPT_ACTIONS: tuple[str, ...] = ("kms:Decrypt",)
SIGN_ACTIONS: tuple[str, ...] = ("kms:Sign",)
VERIFY_ACTIONS: tuple[str, ...] = ("kms:Verify",)
GENERATE_MAC_ACTIONS: tuple[str, ...] = ("kms:GenerateMac",)
VERIFY_MAC_ACTIONS: tuple[str, ...] = ("kms:VerifyMac",)

# Grants for AWS services (EBS, RDS, ...) acting for a principal; always paired with
# GRANT_FOR_AWS_RESOURCE_CONDITION.
GRANT_ACTIONS: tuple[str, ...] = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")
GRANT_FOR_AWS_RESOURCE_CONDITION: dict[str, dict[str, str]] = {
    "Bool": {"kms:GrantIsForAWSResource": "true"}
}

# What a KMS grant can allow: CreateGrant's ``Operations`` (botocore's model of the KMS API; a
# test keeps the two in step). Encapsulate and Decapsulate need a KEY_ENCAPSULATION (ML-KEM) key,
# which this toolkit does not make.
GRANT_OPERATIONS: tuple[str, ...] = (
    "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
    "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
    "DeriveSharedSecret", "Encapsulate", "Decapsulate",
)  # fmt: skip
KEY_ENCAPSULATION_OPERATIONS: tuple[str, ...] = ("Encapsulate", "Decapsulate")
# What EC2 Auto Scaling's service-linked role of another account needs in a grant on the key of
# its encrypted EBS volumes (EC2 Auto Scaling user guide, "Required AWS KMS key policy for use
# with encrypted volumes", example 2: the create-grant command run in the group's account).
AUTOSCALING_GRANT_OPERATIONS: tuple[str, ...] = (
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
    "CreateGrant",
)

# Route 53 signing a hosted zone with a key-signing key (Route 53 developer guide, "Route 53
# customer managed key permissions required for DNSSEC signing"); CreateGrant apart, with
# GRANT_FOR_AWS_RESOURCE_CONDITION.
DNSSEC_SIGNING_ACTIONS: tuple[str, ...] = ("kms:DescribeKey", "kms:GetPublicKey", "kms:Sign")
# What a service acting for a principal creates grants with: CreateGrant alone, always paired
# with GRANT_FOR_AWS_RESOURCE_CONDITION (Route 53 DNSSEC; Auto Scaling's service-linked role
# attaching encrypted EBS volumes, "Allow attachment of persistent resources").
CREATE_GRANT_ACTIONS: tuple[str, ...] = ("kms:CreateGrant",)
# What Auto Scaling's service-linked role calls on the key of the EBS volumes it launches
# instances with (EC2 Auto Scaling user guide, "Required AWS KMS key policy for use with
# encrypted volumes"): the symmetric user actions.
AUTOSCALING_KEY_ACTIONS: tuple[str, ...] = ENCRYPT_DECRYPT_ACTIONS

# Service principals writing to encrypted destinations.
CLOUDTRAIL_ENCRYPT_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey*",)
CLOUDTRAIL_DESCRIBE_ACTIONS: tuple[str, ...] = ("kms:DescribeKey",)
# CloudTrail delivering to a bucket with an S3 Bucket Key (CloudTrail user guide).
CLOUDTRAIL_BUCKET_KEY_ACTIONS: tuple[str, ...] = ("kms:Decrypt",)
CLOUDTRAIL_LOG_READER_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:ReEncryptFrom")
# Another account reading log files decrypts them where they are; no re-encryption.
CENTRAL_LOG_READER_ACTIONS: tuple[str, ...] = ("kms:Decrypt",)
# The statement AWS documents also lists kms:Describe*; under its encryption-context condition
# that allows nothing (no Describe request has an encryption context), so it is left out.
CLOUDWATCH_LOGS_ACTIONS: tuple[str, ...] = (
    "kms:Decrypt*",
    "kms:Encrypt*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)
# A service publishing to an encrypted SNS topic or SQS queue.
PUBLISHER_ACTIONS: tuple[str, ...] = ("kms:Decrypt", "kms:GenerateDataKey*")

# What EBS and RDS call on a key for the copier (besides kms:CreateGrant, granted apart with
# kms:GrantIsForAWSResource). EBS: "kms:CreateGrant, kms:Decrypt, kms:DescribeKey,
# kms:GenerateDataKeyWithoutPlainText, kms:ReEncrypt"; RDS: kms:CreateGrant and kms:DescribeKey.
# Neither calls kms:Encrypt.
SNAPSHOT_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)

# What SQS calls on the queues' key for a producer (kms:GenerateDataKey, and kms:Decrypt to reuse
# a cached data key) and a consumer (kms:Decrypt); SQS Developer Guide, Key management.
QUEUE_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")

# What each action wildcard above stands for. Identity policies get the explicit actions
# (the IAM policy wildcard check, AwsSolutions-IAM5, refuses action wildcards); the meaning
# is the same.
WILDCARD_EXPANSIONS: dict[str, tuple[str, ...]] = {
    "kms:GenerateDataKey*": (
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:GenerateDataKeyWithoutPlaintext",
    ),
    "kms:ReEncrypt*": ("kms:ReEncryptFrom", "kms:ReEncryptTo"),
}


def explicit(key_actions: tuple[str, ...] | list[str]) -> list[str]:
    """``key_actions`` with the wildcards of :data:`WILDCARD_EXPANSIONS` spelled out."""
    result: list[str] = []
    for action in key_actions:
        for expanded in WILDCARD_EXPANSIONS.get(action, (action,)):
            if expanded not in result:
                result.append(expanded)
    return result


# The cryptographic actions KMS accepts for each kind of key; any other of them fails on it
# (e.g. kms:Encrypt on a SIGN_VERIFY key, kms:GenerateDataKey on an RSA key).
_SYMMETRIC_ENCRYPTION = frozenset(explicit(ENCRYPT_DECRYPT_ACTIONS)) - {"kms:DescribeKey"}
_ASYMMETRIC_ENCRYPTION = frozenset(explicit(ASYMMETRIC_ENCRYPT_DECRYPT_ACTIONS)) - {
    "kms:DescribeKey"
}
_USABLE_BY_USAGE: dict[str, frozenset[str]] = {
    "SIGN_VERIFY": frozenset(SIGN_VERIFY_ACTIONS) - {"kms:DescribeKey"},
    "GENERATE_VERIFY_MAC": frozenset(GENERATE_VERIFY_MAC_ACTIONS),
    "KEY_AGREEMENT": frozenset(KEY_AGREEMENT_ACTIONS),
}
CRYPTOGRAPHIC_ACTIONS: frozenset[str] = frozenset().union(
    _SYMMETRIC_ENCRYPTION, _ASYMMETRIC_ENCRYPTION, *_USABLE_BY_USAGE.values()
)


def unusable(key_actions: tuple[str, ...], key_usage: str, key_spec: str) -> list[str]:
    """The cryptographic actions of ``key_actions`` (explicit, see :func:`explicit`) that KMS
    refuses on a key of ``key_usage`` and ``key_spec``."""
    if key_usage == "ENCRYPT_DECRYPT":
        usable = (
            _SYMMETRIC_ENCRYPTION if key_spec == "SYMMETRIC_DEFAULT" else _ASYMMETRIC_ENCRYPTION
        )
    else:
        usable = _USABLE_BY_USAGE.get(key_usage, CRYPTOGRAPHIC_ACTIONS)
    return [a for a in key_actions if a in CRYPTOGRAPHIC_ACTIONS and a not in usable]


# Every action KMS defines for IAM: the API's operations, with ReEncrypt as ReEncryptFrom and
# ReEncryptTo, and the permission-only SynchronizeMultiRegionKey. A test keeps the list in step
# with botocore's model of the KMS API.
KNOWN_ACTIONS: frozenset[str] = frozenset(
    f"kms:{name}"
    for name in (
        "CancelKeyDeletion", "ConnectCustomKeyStore", "CreateAlias", "CreateCustomKeyStore",
        "CreateGrant", "CreateKey", "Decapsulate", "Decrypt", "DeleteAlias",
        "DeleteCustomKeyStore", "DeleteImportedKeyMaterial", "DeriveSharedSecret",
        "DescribeCustomKeyStores", "DescribeKey", "DisableKey", "DisableKeyRotation",
        "DisconnectCustomKeyStore", "EnableKey", "EnableKeyRotation", "Encapsulate", "Encrypt",
        "GenerateDataKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom", "GetKeyLastUsage",
        "GetKeyPolicy", "GetKeyRotationStatus", "GetParametersForImport", "GetPublicKey",
        "ImportKeyMaterial", "ListAliases", "ListGrants", "ListKeyPolicies", "ListKeyRotations",
        "ListKeys", "ListResourceTags", "ListRetirableGrants", "PutKeyPolicy", "ReEncryptFrom",
        "ReEncryptTo", "ReplicateKey", "RetireGrant", "RevokeGrant", "RotateKeyOnDemand",
        "ScheduleKeyDeletion", "Sign", "SynchronizeMultiRegionKey", "TagResource",
        "UntagResource", "UpdateAlias", "UpdateCustomKeyStore", "UpdateKeyDescription",
        "UpdatePrimaryRegion", "Verify", "VerifyMac",
    )
)  # fmt: skip
_KNOWN_LOWER = {action.lower(): action for action in KNOWN_ACTIONS}


def unknown(key_actions: Iterable[str]) -> list[str]:
    """The actions of ``key_actions`` that name no KMS action (IAM compares actions without
    regard to case; a wildcard must match at least one), such as a misspelled ``kms:Encyrpt``,
    which IAM would accept and which would allow nothing."""
    return [action for action in key_actions if not _is_known(action)]


@cache  # every grant checks its actions: the same few, again and again
def _is_known(action: str) -> bool:
    lowered = action.lower()
    if lowered in _KNOWN_LOWER:
        return True
    wildcard = "*" in lowered or "?" in lowered
    return wildcard and any(fnmatchcase(known, lowered) for known in _KNOWN_LOWER)


def closest(action: str) -> str | None:
    """The KMS action ``action`` most likely meant (``kms:Encrypt`` for ``kms:Encyrpt``)."""
    match = get_close_matches(action.lower(), list(_KNOWN_LOWER), n=1, cutoff=0.8)
    return _KNOWN_LOWER[match[0]] if match else None


def covers(statement: Mapping[str, Any], action: str) -> bool:
    """Whether a policy statement applies to ``action``: a pattern of its ``Action`` matches it,
    or none of its ``NotAction`` does. Patterns match as IAM matches them: without regard to
    case, ``*`` any run of characters and ``?`` one (``kms:Put*Policy``, ``*``)."""
    if "NotAction" in statement:
        return not _any_matches(statement["NotAction"], action)
    return _any_matches(statement.get("Action", []), action)


def _any_matches(patterns: Any, action: str) -> bool:
    lowered = action.lower()
    return any(isinstance(p, str) and fnmatchcase(lowered, p.lower()) for p in as_list(patterns))
