"""``kmskit key inventory``: every customer managed key of the Regions asked, with its findings
(kmskit/key_inventory.py).

moto 5 holds the keys, aliases, grants, rotation, key policies, disabling, deletion and
multi-Region replicas. What it does not model is answered by the test through
:class:`tests.kmskit.conftest.KmsAnswers` (requests and answers checked against the KMS API
model): more than one page of ListKeys, ListAliases and ListGrants (moto answers everything in
one), RotationPeriodInDays and NextRotationDate, imported material's ValidTo, AWS managed keys
(moto makes every key CUSTOMER), and access denied (moto checks a key policy's explicit Deny on
DescribeKey only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmskit.cli import main
from kmskit.errors import EXIT_ACCESS_DENIED, EXIT_FINDINGS, EXIT_OK, EXIT_THROTTLED, EXIT_USAGE
from kmskit.key_inventory import FINDINGS, analyze_policy, inventory
from tests.kmskit.conftest import KmsAnswers, refuse
from tests.kmskit.envelope_support import one_error_line

REGION = "eu-west-1"
OTHER_REGION = "eu-central-1"
ACCOUNT = "123456789012"  # moto's
OTHER = "222222222222"


@pytest.fixture
def kms(kms_answers: KmsAnswers) -> Iterator[Any]:
    """A moto KMS client in ``REGION`` (and ``kms_answers`` patched in before it)."""
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def new_key(kms: Any, **params: Any) -> str:
    """A key's ID. Symmetric encryption unless told: moto leaves KeyUsage empty if not given."""
    params.setdefault("KeyUsage", "ENCRYPT_DECRYPT")
    return str(kms.create_key(**params)["KeyMetadata"]["KeyId"])


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["key", "inventory", *args])
    out, err = capsys.readouterr()
    return code, out, err


def document(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "--region", REGION, "--format", "json", *args)
    assert code == EXIT_OK, err
    found: dict[str, Any] = json.loads(out)
    return found


def by_id(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, Any]]:
    return {key["keyId"]: key for key in document(capsys, *args)["keys"]}


def codes(key: dict[str, Any]) -> list[str]:
    return [finding["code"] for finding in key["findings"]]


def answer_with(operation: str, kms_answers: KmsAnswers, change: Any) -> None:
    """Answer ``operation`` as moto does, then ``change(params, response)``."""

    def answer(params: dict[str, Any], moto: Any) -> Any:
        response = moto(params)
        change(params, response)
        return response

    kms_answers.answers[operation] = answer


# --- each finding, and not otherwise ----------------------------------------------------------


def test_a_symmetric_key_without_rotation_is_rotation_off_and_a_rotating_one_is_not(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = new_key(kms)
    rotating = new_key(kms)
    kms.enable_key_rotation(KeyId=rotating)
    next_rotation = datetime(2027, 6, 1, tzinfo=UTC)

    started = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)

    def period(params: dict[str, Any], response: dict[str, Any]) -> None:
        if response["KeyRotationEnabled"]:  # moto 5 has none of these fields
            response.update(
                RotationPeriodInDays=180,
                NextRotationDate=next_rotation,
                OnDemandRotationStartDate=started,
            )

    answer_with("GetKeyRotationStatus", kms_answers, period)
    keys = by_id(capsys)
    assert codes(keys[plain]) == ["ROTATION_OFF"]
    assert keys[plain]["rotation"] == {
        "enabled": False,
        "periodDays": None,
        "nextRotation": None,
        "onDemandStarted": None,
    }
    assert codes(keys[rotating]) == []
    assert keys[rotating]["rotation"] == {
        "enabled": True,
        "periodDays": 180,
        "nextRotation": "2027-06-01T00:00:00Z",
        "onDemandStarted": "2026-12-05T06:00:00Z",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
        {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    ],
    ids=["rsa", "ecc", "hmac"],
)
def test_a_key_kms_does_not_rotate_is_not_rotation_off_and_kms_is_not_asked(
    params: dict[str, Any],
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = new_key(kms, **params)
    answer_with("GetKeyRotationStatus", kms_answers, lambda params, response: None)
    found = by_id(capsys)[key]
    assert codes(found) == []
    assert found["rotation"] is None
    # Real KMS refuses it for these keys (UnsupportedOperationException); moto answers False.
    assert kms_answers.requests.get("GetKeyRotationStatus", []) == []


def test_imported_material_shows_an_on_demand_rotation_in_progress_and_is_not_rotation_off(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # KMS rotates imported material on demand only (after `import-material --new-material`):
    # automatic rotation is off and always will be, which is no finding.
    key = new_key(kms, Origin="EXTERNAL")
    started = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    answer_with(
        "GetKeyRotationStatus",
        kms_answers,
        lambda params, response: response.update(OnDemandRotationStartDate=started),
    )
    found = by_id(capsys)[key]
    assert kms_answers.requests["GetKeyRotationStatus"] == [{"KeyId": key}]
    assert codes(found) == []
    assert found["rotation"] == {
        "enabled": False,
        "periodDays": None,
        "nextRotation": None,
        "onDemandStarted": "2026-12-05T06:00:00Z",
    }


def test_a_rotation_status_kms_refuses_for_the_key_leaves_the_rotation_unknown(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)

    def unsupported(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("GetKeyRotationStatus", "UnsupportedOperationException")

    kms_answers.answers["GetKeyRotationStatus"] = unsupported
    found = by_id(capsys)[key]
    assert (found["rotation"], codes(found)) == (None, [])


def test_a_disabled_key_is_disabled_and_not_rotation_off(
    kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    kms.disable_key(KeyId=key)
    found = by_id(capsys)[key]
    assert codes(found) == ["DISABLED"]
    assert found["keyState"] == "Disabled"


def test_a_key_pending_deletion_names_its_date(
    kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    kms.enable_key_rotation(KeyId=key)
    deletion = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)["DeletionDate"]
    when = deletion.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = by_id(capsys)[key]
    assert found["findings"] == [
        {"code": "PENDING_DELETION", "reason": f"PendingDeletion: KMS deletes it on {when}"}
    ]
    assert found["deletionDate"] == when


def test_a_primary_waiting_for_its_replicas_says_when_its_waiting_period_starts(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # KMS gives no DeletionDate then: PendingDeletionWindowInDays starts once the last replica
    # is deleted (DescribeKey, KeyMetadata). moto 5 does not model PendingReplicaDeletion.
    key = new_key(kms, MultiRegion=True)
    kms.enable_key_rotation(KeyId=key)

    def waiting(params: dict[str, Any], response: dict[str, Any]) -> None:
        response["KeyMetadata"].update(
            KeyState="PendingReplicaDeletion", Enabled=False, PendingDeletionWindowInDays=7
        )

    answer_with("DescribeKey", kms_answers, waiting)
    found = by_id(capsys)[key]
    assert found["findings"] == [
        {
            "code": "PENDING_DELETION",
            "reason": "PendingReplicaDeletion: KMS deletes it 7 days after its last replica is "
            "deleted",
        }
    ]
    assert found["deletionDate"] is None


def test_a_replica_without_rotation_names_its_primary_where_rotation_is_set(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # EnableKeyRotation is the primary's alone; the replica shares its rotation. Still
    # ROTATION_OFF (its material is not rotated: --fail-on ROTATION_OFF catches it), but the
    # reason says where to turn it on.
    replica = new_key(kms, MultiRegion=True)
    primary_arn = f"arn:aws:kms:{OTHER_REGION}:{ACCOUNT}:key/{replica}"

    def as_replica(params: dict[str, Any], response: dict[str, Any]) -> None:
        response["KeyMetadata"]["MultiRegionConfiguration"] = {
            "MultiRegionKeyType": "REPLICA",
            "PrimaryKey": {"Arn": primary_arn, "Region": OTHER_REGION},
            "ReplicaKeys": [],
        }

    answer_with("DescribeKey", kms_answers, as_replica)
    found = by_id(capsys)[replica]
    assert found["multiRegion"] == "REPLICA"
    assert found["findings"] == [
        {
            "code": "ROTATION_OFF",
            "reason": f"automatic rotation is off: it is set on the primary, {primary_arn} "
            "(EnableKeyRotation there; KMS refuses it on a replica)",
        }
    ]


@pytest.mark.parametrize(
    ("days_left", "args", "expected"),
    [
        (10, [], ["MATERIAL_EXPIRES"]),
        (1, [], ["MATERIAL_EXPIRES"]),
        (40, [], []),
        (40, ["--expiry-days", "45"], ["MATERIAL_EXPIRES"]),
        (10, ["--expiry-days", "5"], []),
        (None, [], []),
    ],
    ids=["within-30", "tomorrow", "beyond-30", "within-45", "beyond-5", "never"],
)
def test_imported_material_expiring_within_the_days_given_is_material_expires(
    days_left: int | None,
    args: list[str],
    expected: list[str],
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = new_key(kms, Origin="EXTERNAL")
    valid_to = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days_left or 0)

    def expiry(params: dict[str, Any], response: dict[str, Any]) -> None:
        # moto 5 has no key material import, so no ValidTo.
        if days_left is None:
            response["KeyMetadata"]["ExpirationModel"] = "KEY_MATERIAL_DOES_NOT_EXPIRE"
        else:
            response["KeyMetadata"].update(ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)

    answer_with("DescribeKey", kms_answers, expiry)
    found = by_id(capsys, *args)[key]
    assert codes(found) == expected
    if expected:
        assert found["findings"][0]["reason"].startswith(
            f"imported key material expires {valid_to.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )


EXPIRED_OR_DELETED = (
    f"imported key material {'c' * 64} expired or was deleted: every cryptographic use fails "
    "until the same material is imported again (kmskit key import-material --material FILE)"
)
NEVER_IMPORTED = (
    "no key material ID reported (never imported, or KMS reports none for this key): every "
    "cryptographic use fails until material is imported (kmskit key import-material; the same "
    "material again if the key had some)"
)
ANY_OF_THREE = (
    "imported key material missing (expired, deleted, or never imported): every cryptographic "
    "use fails until it is imported (kmskit key import-material; the same material again if "
    "the key had some)"
)


@pytest.mark.parametrize("fail_on", [[], ["--fail-on", "NO_MATERIAL"]])
@pytest.mark.parametrize(
    ("key_spec", "material_id", "reason"),
    [
        # Once its material expires (or DeleteImportedKeyMaterial), KMS puts the key back in
        # PendingImport, with neither ExpirationModel nor ValidTo, but DescribeKey still names
        # the material (CurrentKeyMaterialId): the same material must come back.
        ("SYMMETRIC_DEFAULT", "c" * 64, EXPIRED_OR_DELETED),
        # Before the first import there is no material to name.
        ("SYMMETRIC_DEFAULT", None, NEVER_IMPORTED),
        # KMS names no material of an HMAC or asymmetric key: any of the three.
        ("HMAC_256", None, ANY_OF_THREE),
    ],
)
def test_imported_material_that_is_missing_is_no_material(
    fail_on: list[str],
    key_spec: str,
    material_id: str | None,
    reason: str,
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    usage = "ENCRYPT_DECRYPT" if key_spec == "SYMMETRIC_DEFAULT" else "GENERATE_VERIFY_MAC"
    key = new_key(kms, Origin="EXTERNAL", KeySpec=key_spec, KeyUsage=usage)

    def material_gone(params: dict[str, Any], response: dict[str, Any]) -> None:
        response["KeyMetadata"].update(KeyState="PendingImport", Enabled=False)
        response["KeyMetadata"].pop("ExpirationModel", None)
        response["KeyMetadata"].pop("ValidTo", None)
        response["KeyMetadata"].pop("CurrentKeyMaterialId", None)
        if material_id is not None:
            response["KeyMetadata"]["CurrentKeyMaterialId"] = material_id

    answer_with("DescribeKey", kms_answers, material_gone)
    code, out, err = run(capsys, "--region", REGION, "--format", "json", *fail_on)
    found = {k["keyId"]: k for k in json.loads(out)["keys"]}[key]
    assert found["findings"] == [{"code": "NO_MATERIAL", "reason": reason}]
    assert found["keyState"] == "PendingImport"
    if fail_on:
        assert code == EXIT_FINDINGS
        assert err.endswith("kmskit: --fail-on: a key has NO_MATERIAL\n")
    else:
        assert code == EXIT_OK


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(
    principal: Any, condition: dict[str, Any] | None = None, sid: str = "S"
) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": "kms:*"}
    statement["Resource"] = "*"
    if condition is not None:
        statement["Condition"] = condition
    return statement


PARTITION_ARN_ANY_ROLE = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::*:role/*"]]}
OWN_ACCOUNT_ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/app-*"
OWN_ROOT = allow({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, sid="Root")


@pytest.mark.parametrize(
    ("statement", "external", "public"),
    [
        (OWN_ROOT, [], []),
        (allow({"AWS": ACCOUNT}), [], []),
        (allow({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/Admin"]}), [], []),
        (allow({"AWS": f"arn:aws:iam::{OTHER}:root"}), [OTHER], []),
        (allow({"AWS": OTHER}), [OTHER], []),
        (allow({"AWS": [f"arn:aws:sts::{OTHER}:assumed-role/R/s", ACCOUNT]}), [OTHER], []),
        (allow({"Service": "logs.amazonaws.com"}), [], []),
        (allow("*"), [], ["S"]),
        (allow({"AWS": "*"}), [], ["S"]),
        (allow({"Federated": "*"}), [], ["S"]),
        (allow({"Service": ["logs.amazonaws.com", "*"]}), [], ["S"]),
        (allow({"AWS": ["*"]}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}), [], []),
        (allow("*", {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}), [], ["S"]),
        (allow("*", {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}), [], ["S"]),
        (allow("*", {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}}), [], ["S"]),
        (allow("*", {"Null": {"aws:PrincipalOrgID": "false"}}), [], ["S"]),
        (allow("*", {"StringLike": {"aws:PrincipalArn": "*"}}), [], ["S"]),
        (allow("*", {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:*"}}), [], []),
        # Wildcard values whose part naming the caller is not literal match every caller.
        (allow("*", {"StringLike": {"aws:PrincipalOrgID": "o-*"}}), [], ["S"]),
        (allow("*", {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}), [], ["S"]),
        (allow("*", {"StringLike": {"aws:PrincipalArn": "arn:*:111111111111:*"}}), [], ["S"]),
        (allow("*", {"StringLike": {"kms:CallerAccount": "????????????"}}), [], ["S"]),
        (allow("*", {"StringLike": {"aws:SourceVpce": "vpce-*"}}), [], ["S"]),
        (allow("*", {"StringLike": {"aws:PrincipalOrgPaths": "o-*/r-ab12/*"}}), [], ["S"]),
        (allow("*", {"ArnEquals": {"aws:PrincipalArn": "*"}}), [], ["S"]),
        (allow("*", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::logs-*"}}), [], ["S"]),
        # An ARN with no account field (an S3 bucket's) names no caller, wildcards or not: a
        # bucket of that name can belong to another account, or be created by one.
        (allow("*", {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}}), [], ["S"]),
        (allow("*", {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}}), [], ["S"]),
        (allow("*", {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}}), [], ["S"]),
        (
            allow(
                "*",
                {
                    "StringEquals": {
                        "aws:SourceArn": [
                            f"arn:aws:sns:eu-west-1:{ACCOUNT}:alerts",
                            "arn:aws:s3:::my-bucket",
                        ]
                    }
                },
            ),
            [],
            ["S"],
        ),
        (
            allow("*", {"StringEquals": {"aws:SourceArn": {"Fn::Sub": "arn:aws:s3:::${B}"}}}),
            [],
            ["S"],
        ),
        (
            # With the bucket owner's account next to it (conditions are ANDed), it is limited.
            allow(
                "*",
                {
                    "ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            ),
            [],
            [],
        ),
        (
            allow(
                "*",
                {
                    "ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-bucket"},
                    "StringEquals": {"aws:SourceOrgID": "o-abcdefghij"},
                },
            ),
            [],
            [],
        ),
        (allow("*", {"StringEquals": {"aws:SourceArn": {"Fn::GetAtt": ["B", "Arn"]}}}), [], []),
        # Intrinsics (a policy checked before deployment) are matched as deployed.
        (allow("*", {"ArnLike": {"aws:PrincipalArn": PARTITION_ARN_ANY_ROLE}}), [], ["S"]),
        (
            allow("*", {"StringLike": {"aws:PrincipalOrgID": {"Fn::Sub": "o-*${AWS::NoValue}"}}}),
            [],
            ["S"],
        ),
        (allow("*", {"StringLike": {"aws:PrincipalOrgID": {"Ref": "OrgId"}}}), [], []),
        (
            allow("*", {"ArnLike": {"aws:PrincipalArn": {"Fn::Sub": OWN_ACCOUNT_ROLES}}}),
            [],
            [],
        ),
        (
            allow("*", {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-*"]}}),
            [],
            ["S"],
        ),
        (
            # One value matching every caller opens the statement whatever the others say.
            allow("*", {"StringLike": {"aws:PrincipalOrgID": ["o-abcdefghij", "o-*"]}}),
            [],
            ["S"],
        ),
        (allow("*", {"StringLike": {"aws:PrincipalOrgPaths": "o-abcdefghij/*"}}), [], []),
        (allow("*", {"StringLike": {"aws:PrincipalOrgID": "o-abcdefghij"}}), [], []),
        (
            allow("*", {"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:*:{OTHER}:alerts-*"}}),
            [],
            [],
        ),
        (allow("*", {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), [], []),
        (
            # An AWS managed key's policy: any caller of the account, through one service.
            allow(
                {"AWS": "*"},
                {
                    "StringEquals": {
                        "kms:CallerAccount": ACCOUNT,
                        "kms:ViaService": "ebs.eu-west-1.amazonaws.com",
                    }
                },
            ),
            [],
            [],
        ),
        (allow("*", {"StringEquals": {"kms:CallerAccount": [ACCOUNT, OTHER]}}), [OTHER], []),
        (
            allow("*", {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/*"}}),
            [OTHER],
            [],
        ),
        ({**allow("*"), "Effect": "Deny"}, [], []),
        (
            {"Sid": "N", "Effect": "Allow", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "kms:*"},
            [],
            ["N"],
        ),
    ],
)
def test_the_policy_analysis_names_other_accounts_and_statements_open_to_everyone(
    statement: dict[str, Any], external: list[str], public: list[str]
) -> None:
    analysis = analyze_policy(json.dumps(policy(OWN_ROOT, statement)), ACCOUNT)
    assert list(analysis.external_accounts) == external
    assert list(analysis.public_statements) == public


def test_a_statement_without_sid_is_named_by_its_position() -> None:
    unnamed = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt"}
    assert analyze_policy(policy(OWN_ROOT, unnamed), ACCOUNT).public_statements == ("#2",)


def test_a_key_policy_allowing_another_account_and_everyone_is_external_access_and_public(
    kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = policy(OWN_ROOT, allow({"AWS": f"arn:aws:iam::{OTHER}:root"}, sid="Partner"))
    open_to_all = policy(OWN_ROOT, allow("*", sid="Everyone"))
    in_the_org = policy(
        OWN_ROOT, allow("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, sid="Org")
    )
    keys = {
        name: new_key(kms, Policy=json.dumps(document))
        for name, document in (("shared", shared), ("open", open_to_all), ("org", in_the_org))
    }
    for key in keys.values():
        kms.enable_key_rotation(KeyId=key)
    own = new_key(kms)  # moto's default policy: the account's root
    kms.enable_key_rotation(KeyId=own)
    found = by_id(capsys)
    assert found[keys["shared"]]["findings"] == [
        {"code": "EXTERNAL_ACCESS", "reason": f"the key policy allows account(s) {OTHER}"}
    ]
    assert found[keys["open"]]["findings"] == [
        {
            "code": "PUBLIC",
            "reason": "the key policy allows '*' without a condition on the caller: "
            "statement(s) Everyone",
        }
    ]
    assert codes(found[keys["org"]]) == []
    assert codes(found[own]) == []
    assert found[keys["shared"]]["policy"] == {
        "externalAccounts": [OTHER],
        "publicStatements": [],
        "unlimitedServiceStatements": [],
    }


EVENTS = {"Service": "events.amazonaws.com"}
TOPIC_CONTEXT = {
    "ArnLike": {"kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:*"}
}


def service(
    principal: Any, action: Any, condition: dict[str, Any] | None = None, sid: str = "S"
) -> dict[str, Any]:
    return {**allow(principal, condition, sid), "Action": action}


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (service(EVENTS, "kms:Decrypt"), ["S (events.amazonaws.com)"]),
        (service(EVENTS, "kms:Decrypt", TOPIC_CONTEXT), []),
        (
            service(EVENTS, "kms:Decrypt", {"StringLike": {"aws:SourceAccount": "?*"}}),
            ["S (events.amazonaws.com)"],
        ),
        (
            service({"Service": ["backup.amazonaws.com", "sns.amazonaws.com"]}, "kms:Decrypt"),
            ["S (backup.amazonaws.com)", "S (sns.amazonaws.com)"],
        ),
        ({**service(EVENTS, "kms:Decrypt"), "Effect": "Deny"}, []),
        # The two statements AWS documents without a source condition, as AWS writes them...
        (
            service(
                {"Service": "cloudtrail.amazonaws.com"},
                "kms:Decrypt",
                sid="AllowCloudTrailToDecryptWithS3BucketKey",
            ),
            [],
        ),
        (
            service(
                {"Service": "dnssec-route53.amazonaws.com"},
                "kms:CreateGrant",
                {"Bool": {"kms:GrantIsForAWSResource": "true"}},
                sid="AllowRoute53DnssecToCreateGrant",
            ),
            [],
        ),
        # ...but not their Sid on a statement that allows more.
        (
            service(
                {"Service": "cloudtrail.amazonaws.com"},
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                sid="AllowCloudTrailToDecryptWithS3BucketKey",
            ),
            ["AllowCloudTrailToDecryptWithS3BucketKey (cloudtrail.amazonaws.com)"],
        ),
    ],
    ids=[
        "no-condition",
        "encryption-context",
        "account-pattern",
        "two-services",
        "deny",
        "cloudtrail-bucket-key",
        "route53-create-grant",
        "cloudtrail-sid-allowing-more",
    ],
)
def test_the_policy_analysis_names_services_let_in_without_a_source_condition(
    statement: dict[str, Any], named: list[str]
) -> None:
    analysis = analyze_policy(policy(OWN_ROOT, statement), ACCOUNT)
    assert list(analysis.unlimited_service_statements) == named


def test_a_key_policy_letting_a_service_in_without_a_source_is_service_unlimited(
    kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    unlimited = new_key(kms, Policy=json.dumps(policy(OWN_ROOT, service(EVENTS, "kms:Decrypt"))))
    limited = new_key(
        kms, Policy=json.dumps(policy(OWN_ROOT, service(EVENTS, "kms:Decrypt", TOPIC_CONTEXT)))
    )
    for key in (unlimited, limited):
        kms.enable_key_rotation(KeyId=key)
    found = by_id(capsys)
    assert found[unlimited]["findings"] == [
        {
            "code": "SERVICE_UNLIMITED",
            "reason": "the key policy allows an AWS service without a condition that limits its "
            "source (confused deputy): statement(s) S (events.amazonaws.com)",
        }
    ]
    assert found[unlimited]["policy"]["unlimitedServiceStatements"] == ["S (events.amazonaws.com)"]
    assert codes(found[limited]) == []
    code, _, err = run(capsys, "--region", REGION, "--fail-on", "SERVICE_UNLIMITED")
    assert code == EXIT_FINDINGS
    assert err == "kmskit: --fail-on: a key has SERVICE_UNLIMITED\n"


# --- access denied: UNREADABLE, and the run goes on -------------------------------------------


def test_access_denied_on_the_key_policy_is_unreadable_and_the_run_continues(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    hidden = new_key(kms)
    visible = new_key(kms, Policy=json.dumps(policy(OWN_ROOT, allow("*", sid="Everyone"))))

    def key_policy(params: dict[str, Any], moto: Any) -> Any:
        if params["KeyId"] == hidden:
            raise refuse("GetKeyPolicy")
        return moto(params)

    kms_answers.answers["GetKeyPolicy"] = key_policy
    found = by_id(capsys)
    assert found[hidden]["policy"] is None
    assert found[hidden]["refused"] == ["kms:GetKeyPolicy"]
    assert found[hidden]["findings"][-1] == {
        "code": "UNREADABLE",
        "reason": "access denied to kms:GetKeyPolicy: what they read is missing",
    }
    assert codes(found[hidden]) == ["ROTATION_OFF", "UNREADABLE"]  # the rest was read
    assert found[hidden]["grantCount"] == 0
    assert codes(found[visible]) == ["ROTATION_OFF", "PUBLIC"]
    code, out, _ = run(capsys, "--region", REGION, "--fail-on", "UNREADABLE")
    assert code == EXIT_FINDINGS
    assert "    UNREADABLE: access denied to kms:GetKeyPolicy" in out


def test_access_denied_on_describe_key_and_list_aliases_still_lists_the_key(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    kms.create_alias(AliasName="alias/app-data", TargetKeyId=key)

    def refused(operation: str) -> Any:
        def answer(params: dict[str, Any], moto: Any) -> Any:
            raise refuse(operation)

        return answer

    kms_answers.answers["DescribeKey"] = refused("DescribeKey")
    kms_answers.answers["ListAliases"] = refused("ListAliases")
    found = by_id(capsys)[key]
    assert found["refused"] == ["kms:ListAliases", "kms:DescribeKey"]
    assert (found["aliases"], found["keyState"], found["keySpec"]) == (None, None, None)
    assert found["keyArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"  # ListKeys said
    assert found["grantCount"] == 0  # ListGrants and GetKeyPolicy were still read
    assert found["policy"] == {
        "externalAccounts": [],
        "publicStatements": [],
        "unlimitedServiceStatements": [],
    }
    assert codes(found) == ["UNREADABLE"]
    code, out, _ = run(capsys, "--region", REGION)
    assert code == EXIT_OK
    row = out.splitlines()[1].split()
    assert row[:8] == [REGION, key, "?", "?", "?", "?", "?", "?"]
    assert row[8:] == ["0", "?"]


def test_an_error_other_than_access_denied_stops_the_run(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    new_key(kms)

    def throttled(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("ListGrants", "ThrottlingException")

    kms_answers.answers["ListGrants"] = throttled
    assert main(["key", "inventory", "--region", REGION, "--format", "json"]) == EXIT_THROTTLED
    assert "could not list the grants of arn:aws:kms:" in capsys.readouterr().err


def test_list_keys_refused_stops_the_run_as_access_denied(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("ListKeys")

    kms_answers.answers["ListKeys"] = refused
    assert main(["key", "inventory", "--region", REGION]) == EXIT_ACCESS_DENIED
    assert f"could not list the keys of {REGION}: AccessDeniedException" in one_error_line(capsys)


# --- what is listed ---------------------------------------------------------------------------


def paged(kms_answers: KmsAnswers, operation: str, items: str, size: int = 2) -> None:
    """Answer ``operation`` ``size`` items a page (moto 5 answers every item in one)."""

    def answer(params: dict[str, Any], moto: Any) -> Any:
        start = int(params.get("Marker", 0))
        whole = moto({name: value for name, value in params.items() if name != "Marker"})
        page = dict(whole, **{items: whole[items][start : start + size]})
        more = start + size < len(whole[items])
        page.update(Truncated=more, **({"NextMarker": str(start + size)} if more else {}))
        return page

    kms_answers.answers[operation] = answer


def test_keys_aliases_and_grants_are_read_to_their_last_page(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = [new_key(kms) for _ in range(5)]
    names = [f"alias/app-{n}" for n in range(3)]
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=keys[4])
    for n in range(5):
        kms.create_grant(
            KeyId=keys[4],
            GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/R{n}",
            Operations=["Decrypt"],
        )
    paged(kms_answers, "ListKeys", "Keys")
    paged(kms_answers, "ListAliases", "Aliases")
    paged(kms_answers, "ListGrants", "Grants")
    found = by_id(capsys, "--workers", "3")
    assert list(found) == keys  # ListKeys' order
    assert found[keys[4]]["aliases"] == names
    assert found[keys[4]]["grantCount"] == 5
    assert [r.get("Marker") for r in kms_answers.requests["ListKeys"]] == [None, "2", "4"]
    assert len(kms_answers.requests["ListAliases"]) > 3  # moto adds the alias/aws/ ones
    grant_pages = [r for r in kms_answers.requests["ListGrants"] if r["KeyId"] == keys[4]]
    assert [r.get("Marker") for r in grant_pages] == [None, "2", "4"]


def test_aws_managed_keys_are_left_out_unless_asked_for(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    managed = new_key(kms)
    kms.enable_key_rotation(KeyId=managed)
    customer = new_key(kms)

    def manager(params: dict[str, Any], response: dict[str, Any]) -> None:
        if response["KeyMetadata"]["KeyId"] == managed:  # moto makes every key CUSTOMER
            response["KeyMetadata"]["KeyManager"] = "AWS"

    answer_with("DescribeKey", kms_answers, manager)
    assert list(by_id(capsys)) == [customer]
    found = by_id(capsys, "--include-aws-managed")
    assert list(found) == [managed, customer]
    assert found[managed]["keyManager"] == "AWS"


def test_each_region_given_is_read_and_the_multi_region_role_shown(
    kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    primary = kms.create_key(MultiRegion=True, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=primary["KeyId"])
    # moto 5 turns a primary's own answer into REPLICA once it has replicated: the replica is
    # of another key, and the primary read is one without replicas.
    replicated = kms.create_key(MultiRegion=True, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    replica = kms.replicate_key(KeyId=replicated["KeyId"], ReplicaRegion=OTHER_REGION)
    elsewhere = boto3.client("kms", region_name=OTHER_REGION)
    local = elsewhere.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    out = document(capsys, "--region", OTHER_REGION, "--region", REGION)
    assert out["regions"] == [REGION, OTHER_REGION]  # document()'s --region first, no repeat
    roles = {(key["region"], key["keyId"]): key["multiRegion"] for key in out["keys"]}
    assert roles[(REGION, primary["KeyId"])] == "PRIMARY"
    assert roles[(OTHER_REGION, replica["ReplicaKeyMetadata"]["KeyId"])] == "REPLICA"
    assert roles[(OTHER_REGION, local)] is None
    assert len(roles) == 4


def test_without_region_the_session_region_is_read(
    kms: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", OTHER_REGION)
    key = boto3.client("kms", region_name=OTHER_REGION).create_key()["KeyMetadata"]["KeyId"]
    new_key(kms)  # in REGION: not read
    code, out, err = run(capsys, "--format", "json")
    assert code == EXIT_OK, err
    found = json.loads(out)
    assert found["regions"] == [OTHER_REGION]
    assert [k["keyId"] for k in found["keys"]] == [key]


def test_the_library_yields_the_same_reports_whatever_the_workers(kms: Any) -> None:
    keys = [new_key(kms) for _ in range(6)]
    kms.disable_key(KeyId=keys[2])
    runs = [
        [(r.key_id, r.codes()) for r in inventory(lambda region: kms, [REGION], workers=n)]
        for n in (1, 4)
    ]
    assert runs[0] == runs[1]
    assert [key for key, _ in runs[0]] == keys
    assert runs[0][2][1] == ["DISABLED"]


# --- output and exit codes ---------------------------------------------------------------------


def test_the_json_document_has_every_field_each_key_and_a_summary(
    kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms, Description="orders")
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key)
    found = document(capsys, "--fail-on", "DISABLED")
    assert list(found) == ["regions", "keys", "summary"]
    (entry,) = found["keys"]
    assert set(entry) == {
        "keyId", "keyArn", "region", "account", "aliases", "keyState", "keySpec", "keyUsage",
        "origin", "keyManager", "multiRegion", "created", "description", "rotation",
        "deletionDate", "materialValidTo", "grantCount", "policy", "refused", "findings",
    }  # fmt: skip
    assert entry["keyArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"
    assert (entry["aliases"], entry["description"], entry["account"]) == (
        ["alias/orders"],
        "orders",
        ACCOUNT,
    )
    assert (entry["keySpec"], entry["keyUsage"], entry["origin"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "AWS_KMS",
    )
    assert entry["created"].endswith("Z")
    assert found["summary"] == {
        "keys": 1,
        "keysWithFindings": 1,
        "findings": {"ROTATION_OFF": 1},
        "failOn": ["DISABLED"],
        "failing": [],
    }


def test_no_key_is_still_one_json_document(kms: Any, capsys: pytest.CaptureFixture[str]) -> None:
    found = document(capsys)
    assert found["keys"] == []
    assert found["summary"]["keys"] == 0


def test_the_text_report_is_a_line_per_key_its_findings_and_a_summary(
    kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    kms.create_alias(AliasName="alias/orders", TargetKeyId=key)
    kms.disable_key(KeyId=key)
    code, out, err = run(capsys, "--region", REGION)
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "REGION", "KEY", "STATE", "SPEC", "USAGE", "ORIGIN", "MULTI-REGION", "ROTATION",
        "GRANTS", "ALIASES",
    ]  # fmt: skip
    assert lines[1].split() == [
        REGION, key, "Disabled", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS", "-", "off",
        "0", "alias/orders",
    ]  # fmt: skip
    assert lines[2] == "    DISABLED: the key is disabled: every use of it fails"
    assert lines[3] == f"1 key(s) in {REGION}; 1 with findings: DISABLED 1"


@pytest.mark.parametrize(
    ("origin", "on_demand", "shown"),
    [
        ("AWS_KMS", False, "off"),
        ("AWS_KMS", True, "rotating"),
        # Imported material: KMS never rotates it automatically, so that does not apply.
        ("EXTERNAL", False, "-"),
        ("EXTERNAL", True, "rotating"),
    ],
)
def test_the_text_reports_rotation_column_shows_an_on_demand_rotation_in_progress(
    origin: str,
    on_demand: bool,
    shown: str,
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    new_key(kms, Origin=origin)
    started = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    if on_demand:
        answer_with(
            "GetKeyRotationStatus",
            kms_answers,
            lambda params, response: response.update(OnDemandRotationStartDate=started),
        )
    code, out, err = run(capsys, "--region", REGION)
    assert (code, err) == (EXIT_OK, "")
    header, row = out.splitlines()[:2]
    assert row.split()[header.split().index("ROTATION")] == shown


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [
        (["--fail-on", "DISABLED"], EXIT_FINDINGS),
        (["--fail-on", "PUBLIC,ROTATION_OFF"], EXIT_FINDINGS),
        (["--fail-on", "PUBLIC", "--fail-on", "ROTATION_OFF"], EXIT_FINDINGS),
        (["--fail-on", "PUBLIC,EXTERNAL_ACCESS"], EXIT_OK),
        ([], EXIT_OK),
    ],
)
def test_fail_on_exits_8_when_a_key_has_one_of_the_codes(
    fail_on: list[str], expected: int, kms: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rotating = new_key(kms)
    kms.enable_key_rotation(KeyId=rotating)
    kms.disable_key(KeyId=rotating)
    new_key(kms)  # ROTATION_OFF
    code, out, err = run(capsys, "--region", REGION, *fail_on)
    assert code == expected
    assert "2 key(s)" in out  # the whole report first
    if expected == EXIT_FINDINGS:
        failing = [c for c in ("DISABLED", "ROTATION_OFF") if c in " ".join(fail_on)]
        assert err == f"kmskit: --fail-on: a key has {', '.join(failing)}\n"
        assert run(capsys, "--region", REGION, "--quiet", *fail_on)[::2] == (expected, "")
    else:
        assert err == ""


def test_every_finding_code_is_documented() -> None:
    from pathlib import Path  # noqa: PLC0415

    docs = (Path(__file__).parents[2] / "docs" / "keys.md").read_text()
    section = docs.split("## Key inventory: `kmskit key inventory`", 1)[1].split("\n## ", 1)[0]
    assert [code for code in FINDINGS if f"`{code}`" not in section] == []
    assert "exit 8" in section


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--fail-on", "ROTATION_OFF,BOGUS"],
            "'--fail-on' must be finding codes (" + ", ".join(FINDINGS) + "), separated by "
            "commas. Received: 'BOGUS'",
        ),
        (["--fail-on", "disabled"], "Received: 'disabled'"),
        (["--expiry-days", "0"], "'--expiry-days' must be 1-365 days"),
        (["--expiry-days", "366"], "Received: 366"),
        (["--expiry-days", "soon"], "'--expiry-days' must be a whole number of days."),
        (["--workers", "0"], "'--workers' must be 1-64. Received: 0"),
        (["--region", "eu-west-1", "--region", "EU"], "'--region' must be an AWS Region name."),
        (["--format", "xml"], "argument --format: invalid choice: 'xml'"),
        (["--fail-on", ""], "'--fail-on' must not be empty."),
    ],
)
def test_bad_arguments_are_refused_naming_them_before_any_aws_call(
    args: list[str], message: str, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["key", "inventory", *args]) == EXIT_USAGE
    assert message in one_error_line(capsys)
    assert no_aws == []


def test_the_format_help_names_the_output_file_as_well_as_standard_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["key", "inventory", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--format {text,json,csv} the report to standard output or -o FILE: " in text
    assert "on stdout" not in text
