"""``kmskit key rotate`` and ``kmskit key rotations`` (kmskit/key_rotation.py).

moto 5 holds the keys, their states, multi-Region replicas, RotateKeyOnDemand and a
ListKeyRotations of the rotations it made (ON_DEMAND, a date, no key material ID). What it does
not model is answered by the test through :class:`tests.kmskit.conftest.KmsAnswers` (requests
and answers checked against the KMS API model): IncludeKeyMaterial and imported material's
states, an on-demand rotation in progress (OnDemandRotationStartDate), NextRotationDate, pages of
ListKeyRotations (moto answers in one), AWS managed and custom key store keys, and KMS's
refusals (ConflictException, LimitExceededException, access denied; moto rotates any key).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from kmskit import key_rotation
from kmskit.cli import main
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_OK,
    EXIT_THROTTLED,
    EXIT_USAGE,
    ConflictError,
    from_client_error,
)
from tests.kmskit.conftest import KmsAnswers, refuse
from tests.kmskit.envelope_support import one_error_line

REGION = "eu-west-1"
OTHER_REGION = "eu-central-1"
MATERIAL = "a" * 64  # a key material ID: 64 hex digits
NEW_MATERIAL = "b" * 64
THIRD_MATERIAL = "c" * 64


@pytest.fixture
def kms(kms_answers: KmsAnswers) -> Iterator[Any]:
    """A moto KMS client in ``REGION`` (``kms_answers`` patched in before it); every
    RotateKeyOnDemand, GetKeyRotationStatus and ListKeyRotations request is recorded (and
    passed on to moto unless a test answers it)."""
    for operation in ("RotateKeyOnDemand", "GetKeyRotationStatus", "ListKeyRotations"):
        kms_answers.answers[operation] = lambda params, moto: moto(params)
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def new_key(kms: Any, **params: Any) -> dict[str, Any]:
    """A key's metadata. Symmetric encryption unless told (moto leaves KeyUsage empty)."""
    params.setdefault("KeyUsage", "ENCRYPT_DECRYPT")
    metadata: dict[str, Any] = kms.create_key(**params)["KeyMetadata"]
    return metadata


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["key", *args, "--region", REGION])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys: pytest.CaptureFixture[str], expected_code: int, *args: str) -> str:
    """The one error line of a command that must exit ``expected_code``."""
    assert main(["key", *args, "--region", REGION]) == expected_code
    return one_error_line(capsys)


def rotations_requested(kms_answers: KmsAnswers) -> list[dict[str, Any]]:
    return kms_answers.requests.get("RotateKeyOnDemand", [])


def answer_with(kms_answers: KmsAnswers, operation: str, **fields: Any) -> None:
    """Answer ``operation`` as moto does, with ``fields`` added (or replacing)."""

    def answer(params: dict[str, Any], moto: Any) -> Any:
        response = moto(params)
        response.update(fields)
        return response

    kms_answers.answers[operation] = answer


def describe_with(kms_answers: KmsAnswers, **fields: Any) -> None:
    """DescribeKey as moto answers it, with ``fields`` set in KeyMetadata."""

    def answer(params: dict[str, Any], moto: Any) -> Any:
        response = moto(params)
        response["KeyMetadata"].update(fields)
        return response

    kms_answers.answers["DescribeKey"] = answer


def list_rotations(kms_answers: KmsAnswers, *pages: list[dict[str, Any]]) -> None:
    """ListKeyRotations answered with ``pages`` (NextMarker "page-N" between them)."""

    def answer(params: dict[str, Any], moto: Any) -> Any:
        number = int(params.get("Marker", "page-0").split("-")[1])
        response: dict[str, Any] = {"Rotations": pages[number], "Truncated": False}
        if number + 1 < len(pages):
            response.update(Truncated=True, NextMarker=f"page-{number + 1}")
        return response

    kms_answers.answers["ListKeyRotations"] = answer


def imported(state: str, material: str, **fields: Any) -> dict[str, Any]:
    """A ListKeyRotations entry of imported material."""
    return {
        "KeyMaterialId": material,
        "KeyMaterialState": state,
        "ImportState": "IMPORTED",
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
        **fields,
    }


class FakeTime:
    """``time`` for :mod:`kmskit.key_rotation`: ``sleep`` moves ``monotonic`` on at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        # A wait that would never end fails the test instead of hanging it.
        assert len(self.slept) < 100, f"still waiting after {len(self.slept)} sleeps"
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(
        key_rotation, "time", SimpleNamespace(sleep=fake.sleep, monotonic=fake.monotonic)
    )
    return fake


# --- rotating -----------------------------------------------------------------------------------


def test_a_symmetric_key_is_rotated_and_waited_for(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    key = new_key(kms)
    kms.create_alias(AliasName="alias/app-data", TargetKeyId=key["KeyId"])
    code, out, err = run(capsys, "rotate", "alias/app-data", "--wait")
    assert code == EXIT_OK, err
    assert rotations_requested(kms_answers) == [{"KeyId": key["Arn"]}]
    listed = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [entry["RotationType"] for entry in listed] == ["ON_DEMAND"]
    when = listed[0]["RotationDate"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert out == (
        f"rotated {key['Arn']} on demand on {when}: current key material not reported; the "
        "previous material (not reported) stays for decryption\n"
    )
    assert clock.slept == []  # moto completes it at once


def test_without_wait_the_rotation_is_started_and_how_to_see_it_said(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    describe_with(kms_answers, CurrentKeyMaterialId=MATERIAL)
    code, out, err = run(capsys, "rotate", key["KeyId"])
    assert code == EXIT_OK, err
    assert out == (
        f"started on-demand rotation of {key['Arn']}: KMS makes new key material current; the "
        f"previous material ({MATERIAL}) stays for decryption. See it done with: kmskit key "
        f"rotations {key['Arn']}\n"
    )
    assert len(rotations_requested(kms_answers)) == 1


def test_the_json_document_says_what_was_rotated(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    key = new_key(kms)
    code, out, err = run(capsys, "rotate", key["KeyId"], "--wait", "--format", "json")
    assert code == EXIT_OK, err
    document = json.loads(out)
    assert document["key"]["keyArn"] == key["Arn"]
    assert document["key"]["origin"] == "AWS_KMS"
    assert document["dryRun"] is False
    assert document["onDemandRotations"] == 0  # before the rotation
    assert document["rotationStatus"]["onDemandStarted"] is None
    rotation = document["rotation"]
    assert rotation["started"] is True
    assert rotation["completed"] is True
    assert rotation["rotationDate"].endswith("Z")


def test_a_dry_run_checks_and_rotates_nothing(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    code, out, err = run(capsys, "rotate", key["KeyId"], "--dry-run")
    assert code == EXIT_OK, err
    assert out == f"dry run: {key['Arn']} can be rotated on demand; nothing rotated\n"
    assert rotations_requested(kms_answers) == []
    assert kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"] == []
    code, out, _ = run(capsys, "rotate", key["KeyId"], "--dry-run", "--format", "json")
    assert code == EXIT_OK
    assert json.loads(out)["dryRun"] is True
    assert json.loads(out)["rotation"] is None
    assert rotations_requested(kms_answers) == []


# --- refused before RotateKeyOnDemand ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "spec"),
    [
        ({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}, "RSA_2048"),
        ({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, "ECC_NIST_P256"),
        ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}, "HMAC_256"),
    ],
)
def test_a_key_that_is_not_symmetric_encryption_is_refused(
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
    params: dict[str, str],
    spec: str,
) -> None:
    key = new_key(kms, **params)
    for command in ("rotate", "rotations"):
        assert refused(capsys, EXIT_USAGE, command, key["KeyId"]) == (
            "kmskit: error: 'KEY' must be a symmetric encryption key (SYMMETRIC_DEFAULT): KMS "
            f"rotates no asymmetric or HMAC key. Received: {key['KeyId']} ({key['Arn']}), key "
            f"spec {spec}"
        )
    assert rotations_requested(kms_answers) == []
    assert "ListKeyRotations" not in kms_answers.requests


def test_an_aws_managed_key_is_refused(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    describe_with(kms_answers, KeyManager="AWS")
    assert refused(capsys, EXIT_USAGE, "rotate", key["Arn"]) == (
        "kmskit: error: 'KEY' must be a customer managed key: KMS rotates AWS managed keys "
        "itself, every year, and refuses to rotate them on demand. Received: "
        f"{key['Arn']}, AWS managed"
    )
    assert rotations_requested(kms_answers) == []


def test_a_key_in_a_custom_key_store_is_refused(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    describe_with(kms_answers, Origin="AWS_CLOUDHSM", CustomKeyStoreId="cks-1234567890abcdef0")
    assert refused(capsys, EXIT_USAGE, "rotate", key["KeyId"]) == (
        "kmskit: error: 'KEY' must not be in a custom key store: KMS rotates no key of a "
        "CloudHSM or external key store (rotate the key in the store, or move the data to a new "
        f"key). Received: {key['KeyId']} ({key['Arn']}), origin AWS_CLOUDHSM, in "
        "cks-1234567890abcdef0"
    )
    assert rotations_requested(kms_answers) == []


def test_a_replica_is_refused_naming_its_primary(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    primary = new_key(kms, MultiRegion=True)
    replica = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=OTHER_REGION)
    arn = replica["ReplicaKeyMetadata"]["Arn"]
    assert main(["key", "rotate", arn, "--region", OTHER_REGION]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: 'KEY' must not be a multi-Region replica: KMS rotates a set of "
        f"multi-Region keys through their primary. Received: {arn}, a replica; rotate the "
        f"primary: kmskit key rotate {primary['Arn']} --region {REGION}"
    )
    assert rotations_requested(kms_answers) == []


@pytest.mark.parametrize(
    ("state", "remedy"),
    [
        ("Disabled", "enable it first (aws kms enable-key --key-id {arn})"),
        (
            "PendingDeletion",
            "cancel its deletion first (aws kms cancel-key-deletion --key-id {arn}), then "
            "enable it",
        ),
    ],
)
def test_a_key_that_is_not_enabled_is_refused(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], state: str, remedy: str
) -> None:
    key = new_key(kms)
    if state == "Disabled":
        kms.disable_key(KeyId=key["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert refused(capsys, EXIT_CONFLICT, "rotate", key["KeyId"]) == (
        f"kmskit: error: 'KEY' must be Enabled to be rotated. Received: {key['KeyId']} "
        f"({key['Arn']}), state {state}: {remedy.format(arn=key['Arn'])}"
    )
    assert rotations_requested(kms_answers) == []


def test_an_on_demand_rotation_in_progress_is_refused(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    answer_with(
        kms_answers,
        "GetKeyRotationStatus",
        OnDemandRotationStartDate=datetime(2026, 12, 5, 6, 0, tzinfo=UTC),
    )
    assert refused(capsys, EXIT_CONFLICT, "rotate", key["KeyId"]) == (
        "kmskit: error: 'KEY' has an on-demand rotation in progress: KMS runs one at a time. "
        f"Received: {key['KeyId']} ({key['Arn']}), on-demand rotation started "
        f"2026-12-05T06:00:00Z; wait for it (kmskit key rotations {key['Arn']} lists it once "
        "done)"
    )
    assert rotations_requested(kms_answers) == []


@pytest.mark.parametrize(
    ("minutes", "expected"), [(19, EXIT_CONFLICT), (20, EXIT_CONFLICT), (22, EXIT_OK)]
)
def test_an_automatic_rotation_due_within_20_minutes_is_waited_for(
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
    minutes: int,
    expected: int,
) -> None:
    # RotateKeyOnDemand's ConflictException: automatic rotation in progress or due within 20 min.
    key = new_key(kms)
    kms.enable_key_rotation(KeyId=key["KeyId"])
    due = datetime.now(UTC) + timedelta(minutes=minutes)
    answer_with(kms_answers, "GetKeyRotationStatus", RotationPeriodInDays=365, NextRotationDate=due)
    code, _, err = run(capsys, "rotate", key["KeyId"])
    assert code == expected, err
    if expected == EXIT_CONFLICT:
        assert err == (
            "kmskit: error: 'KEY' has an automatic rotation in progress or due within 20 "
            f"minutes, when KMS refuses an on-demand one. Received: {key['KeyId']} "
            f"({key['Arn']}), next rotation {due.strftime('%Y-%m-%dT%H:%M:%SZ')}; run the "
            "command again after it\n"
        )
        assert rotations_requested(kms_answers) == []
    else:
        assert len(rotations_requested(kms_answers)) == 1


@pytest.mark.parametrize(
    ("ahead", "refused"), [(timedelta(minutes=20), True), (timedelta(minutes=20, seconds=1), False)]
)
def test_the_20_minutes_before_an_automatic_rotation_are_exact(
    kms: Any, kms_answers: KmsAnswers, ahead: timedelta, refused: bool
) -> None:
    key = new_key(kms)
    kms.enable_key_rotation(KeyId=key["KeyId"])
    now = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    answer_with(kms_answers, "GetKeyRotationStatus", NextRotationDate=now + ahead)
    if refused:
        with pytest.raises(ConflictError, match="automatic rotation in progress or due within"):
            key_rotation.prepare_rotation(kms, key["KeyId"], now=now)
    else:
        checked = key_rotation.prepare_rotation(kms, key["KeyId"], now=now)
        assert checked.target.key_arn == key["Arn"]


def test_imported_material_without_new_material_pending_is_refused(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms, Origin="EXTERNAL")  # moto: Enabled at once
    list_rotations(kms_answers, [imported("CURRENT", MATERIAL)])
    assert refused(capsys, EXIT_CONFLICT, "rotate", key["KeyId"]) == (
        "kmskit: error: 'KEY' has imported key material (origin EXTERNAL): KMS rotates it only "
        "to new material imported beforehand, and none is pending rotation. Received: "
        f"{key['KeyId']} ({key['Arn']}), no key material in state PENDING_ROTATION; import it "
        f"first: kmskit key import-material {key['Arn']} --new-material --material FILE (or "
        "--generate --save-material FILE)"
    )
    assert kms_answers.requests["ListKeyRotations"] == [
        {"KeyId": key["Arn"], "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}
    ]
    assert rotations_requested(kms_answers) == []


def test_imported_material_pending_rotation_is_made_current(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    key = new_key(kms, Origin="EXTERNAL")
    describe_with(kms_answers, CurrentKeyMaterialId=MATERIAL)
    rotated = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    before = [imported("CURRENT", MATERIAL), imported("PENDING_ROTATION", NEW_MATERIAL)]
    after = [
        imported("NON_CURRENT", MATERIAL),
        imported("CURRENT", NEW_MATERIAL, RotationType="ON_DEMAND", RotationDate=rotated),
    ]
    answers = iter([before, before, after])  # checks, the first poll, the second poll

    def listing(params: dict[str, Any], moto: Any) -> Any:
        return {"Rotations": next(answers), "Truncated": False}

    kms_answers.answers["ListKeyRotations"] = listing
    code, out, err = run(capsys, "rotate", key["KeyId"], "--wait")
    assert code == EXIT_OK, err
    assert out == (
        f"rotated {key['Arn']} on demand on 2026-12-05T07:00:00Z: current key material "
        f"{NEW_MATERIAL}; the previous material ({MATERIAL}) stays for decryption\n"
    )
    assert err == f"kmskit: rotation of {key['Arn']} in progress (0 s)\n"
    assert clock.slept == [key_rotation.POLL_SECONDS]
    assert len(rotations_requested(kms_answers)) == 1


def test_imported_material_pending_rotation_is_named_without_wait(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms, Origin="EXTERNAL")
    list_rotations(
        kms_answers, [imported("CURRENT", MATERIAL), imported("PENDING_ROTATION", NEW_MATERIAL)]
    )
    code, out, err = run(capsys, "rotate", key["KeyId"], "--format", "json")
    assert code == EXIT_OK, err
    document = json.loads(out)
    assert document["rotation"] == {
        "started": True,
        "completed": None,
        "keyMaterialId": NEW_MATERIAL,
        "rotationDate": None,
    }
    assert [m["keyMaterialState"] for m in document["keyMaterials"]] == [
        "CURRENT",
        "PENDING_ROTATION",
    ]


def test_a_multi_region_primary_whose_replica_lacks_the_new_material_is_refused(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    primary = new_key(kms, MultiRegion=True, Origin="EXTERNAL")
    replica = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=OTHER_REGION)
    replica_arn = replica["ReplicaKeyMetadata"]["Arn"]
    list_rotations(
        kms_answers,
        [
            imported("CURRENT", MATERIAL),
            imported("PENDING_MULTI_REGION_IMPORT_AND_ROTATION", NEW_MATERIAL),
        ],
    )
    assert refused(capsys, EXIT_CONFLICT, "rotate", primary["Arn"]) == (
        "kmskit: error: 'KEY' has new key material that not every replica has yet: KMS rotates "
        "a multi-Region key only once each replica holds the primary's new material. Received: "
        f"{primary['Arn']}, key material {NEW_MATERIAL} in state "
        "PENDING_MULTI_REGION_IMPORT_AND_ROTATION; import the same material into each replica "
        f"({replica_arn}) with kmskit key import-material REPLICA-ARN --region REPLICA-REGION "
        "--material FILE (without --new-material), then run this again"
    )
    assert rotations_requested(kms_answers) == []


# --- KMS's own refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exit_code", "advice"),
    [
        (
            "ConflictException",
            EXIT_CONFLICT,
            ". An automatic rotation of the key is in progress or due within 20 minutes: run the "
            "command again after it",
        ),
        (
            "LimitExceededException",
            EXIT_CONFLICT,
            ". The key has had as many on-demand rotations as KMS allows (developerguide/"
            "resource-limits.html (on-demand rotations, not adjustable)): move the data to a new "
            "key, or enable automatic rotation",
        ),
        ("KMSInvalidStateException", EXIT_CONFLICT, ""),
        ("UnsupportedOperationException", EXIT_CONFLICT, ""),
        ("DisabledException", EXIT_CONFLICT, ""),
        ("AccessDeniedException", EXIT_ACCESS_DENIED, ""),
    ],
)
def test_kms_refusals_name_the_key_and_map_to_exit_codes(
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
    code: str,
    exit_code: int,
    advice: str,
) -> None:
    key = new_key(kms)

    def refuse_rotation(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("RotateKeyOnDemand", code)

    kms_answers.answers["RotateKeyOnDemand"] = refuse_rotation
    line = refused(capsys, exit_code, "rotate", key["KeyId"])
    if advice:
        assert line == (
            f"kmskit: error: could not rotate {key['Arn']} on demand: {code}: refused{advice}"
        )
    else:
        assert line == (
            f"kmskit: error: could not rotate {key['Arn']} on demand (kms:RotateKeyOnDemand): "
            f"{code}: refused"
        )


QUOTA_REACHED = (
    ". The key has had as many on-demand rotations as KMS allows (developerguide/"
    "resource-limits.html (on-demand rotations, not adjustable)): "
)


@pytest.mark.parametrize(
    ("origin", "automatic", "advice"),
    [
        (
            "EXTERNAL",
            False,
            "move the data to a new key (KMS rotates imported material only on demand, never "
            "automatically)",
        ),
        (
            "AWS_KMS",
            True,
            "automatic rotation is on and goes on; for a rotation before its next date, move "
            "the data to a new key",
        ),
    ],
    ids=["imported-material", "automatic-rotation-on"],
)
def test_the_rotation_quota_offers_automatic_rotation_only_where_it_can_be_turned_on(
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
    origin: str,
    automatic: bool,
    advice: str,
) -> None:
    # EnableKeyRotation refuses imported material, and is moot where rotation is on already.
    key = new_key(kms, Origin=origin)
    if automatic:
        kms.enable_key_rotation(KeyId=key["KeyId"])
    if origin == "EXTERNAL":
        list_rotations(
            kms_answers,
            [imported("CURRENT", MATERIAL), imported("PENDING_ROTATION", NEW_MATERIAL)],
        )

    def refuse_rotation(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("RotateKeyOnDemand", "LimitExceededException")

    kms_answers.answers["RotateKeyOnDemand"] = refuse_rotation
    line = refused(capsys, EXIT_CONFLICT, "rotate", key["KeyId"])
    assert line == (
        f"kmskit: error: could not rotate {key['Arn']} on demand: LimitExceededException: "
        f"refused{QUOTA_REACHED}{advice}"
    )


def test_a_library_caller_mapping_kms_conflict_gets_a_conflict_error() -> None:
    # from_client_error is kmskit's public mapping for callers of boto3 of their own: the
    # conflict of a rotation is exit 7 there too, not a plain failure (1).
    mapped = from_client_error(refuse("RotateKeyOnDemand", "ConflictException"), "rotate KEY")
    assert isinstance(mapped, ConflictError)
    assert mapped.exit_code == EXIT_CONFLICT
    assert str(mapped) == "could not rotate KEY: ConflictException: refused"


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("GetKeyRotationStatus", "read the rotation status"),
        ("ListKeyRotations", "list the rotations"),
    ],
)
def test_access_denied_on_a_check_stops_before_rotating(
    kms: Any,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
    operation: str,
    action: str,
) -> None:
    key = new_key(kms)

    def deny(params: dict[str, Any], moto: Any) -> Any:
        raise refuse(operation)

    kms_answers.answers[operation] = deny
    assert refused(capsys, EXIT_ACCESS_DENIED, "rotate", key["KeyId"]) == (
        f"kmskit: error: could not {action} of {key['Arn']} (kms:{operation}): "
        "AccessDeniedException: refused"
    )
    assert rotations_requested(kms_answers) == []


# --- waiting ------------------------------------------------------------------------------------


def test_wait_polls_until_the_on_demand_rotation_is_done(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    key = new_key(kms)
    started = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    running = iter([None, started, started])  # the check, then two polls in progress

    def status(params: dict[str, Any], moto: Any) -> Any:
        response = moto(params)
        moment = next(running, None)
        if moment is not None:
            response["OnDemandRotationStartDate"] = moment
        return response

    kms_answers.answers["GetKeyRotationStatus"] = status
    code, out, err = run(capsys, "rotate", key["KeyId"], "--wait")
    assert code == EXIT_OK, err
    assert out.startswith(f"rotated {key['Arn']} on demand on ")
    assert err.splitlines() == [
        f"kmskit: rotation of {key['Arn']} in progress (0 s)",
        f"kmskit: rotation of {key['Arn']} in progress (10 s)",
    ]
    assert clock.slept == [10.0, 10.0]


def test_wait_is_not_fooled_by_an_earlier_rotation(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    # KMS is eventually consistent: the new rotation may be listed a poll after the start date
    # is gone. A rotation listed before the command must not pass for it.
    key = new_key(kms)
    earlier = {
        "KeyId": key["Arn"],
        "RotationType": "ON_DEMAND",
        "RotationDate": datetime(2026, 11, 1, tzinfo=UTC),
    }
    new = {
        "KeyId": key["Arn"],
        "RotationType": "ON_DEMAND",
        "RotationDate": datetime(2026, 12, 5, 7, 0, tzinfo=UTC),
    }
    pages = iter([[earlier], [earlier], [earlier, new]])  # the checks, then two polls

    def listing(params: dict[str, Any], moto: Any) -> Any:
        return {"Rotations": next(pages), "Truncated": False}

    kms_answers.answers["ListKeyRotations"] = listing
    code, out, err = run(capsys, "rotate", key["KeyId"], "--wait")
    assert code == EXIT_OK, err
    assert out.startswith(f"rotated {key['Arn']} on demand on 2026-12-05T07:00:00Z: ")
    assert clock.slept == [10.0]


def test_wait_gives_up_after_the_timeout_saying_the_rotation_may_still_complete(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    key = new_key(kms)

    def status(params: dict[str, Any], moto: Any) -> Any:
        response = moto(params)
        if kms_answers.requests.get("RotateKeyOnDemand"):
            response["OnDemandRotationStartDate"] = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
        return response

    kms_answers.answers["GetKeyRotationStatus"] = status
    code, out, err = run(capsys, "rotate", key["KeyId"], "--timeout", "25", "--format", "json")
    assert code == EXIT_THROTTLED
    assert err.splitlines()[-1] == (
        f"kmskit: error: the on-demand rotation of {key['Arn']} had not completed after "
        f"--timeout 25 seconds; KMS may still complete it: kmskit key rotations {key['Arn']} "
        "lists it once done"
    )
    assert clock.slept == [10.0, 10.0, 5.0]  # never past the timeout
    assert json.loads(out)["rotation"] == {
        "started": True,
        "completed": False,
        "keyMaterialId": None,
        "rotationDate": None,
    }
    assert len(rotations_requested(kms_answers)) == 1


def test_a_timed_out_wait_names_the_imported_material_that_becomes_current(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    key = new_key(kms, Origin="EXTERNAL")
    list_rotations(
        kms_answers, [imported("CURRENT", MATERIAL), imported("PENDING_ROTATION", NEW_MATERIAL)]
    )
    code, out, err = run(capsys, "rotate", key["KeyId"], "--timeout", "5", "--format", "json")
    assert code == EXIT_THROTTLED, err
    assert json.loads(out)["rotation"] == {
        "started": True,
        "completed": False,
        "keyMaterialId": NEW_MATERIAL,
        "rotationDate": None,
    }


def test_quiet_waits_without_progress_lines(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str], clock: FakeTime
) -> None:
    key = new_key(kms)
    running = iter([None, datetime(2026, 12, 5, 7, 0, tzinfo=UTC)])

    def status(params: dict[str, Any], moto: Any) -> Any:
        response = moto(params)
        moment = next(running, None)
        if moment is not None:
            response["OnDemandRotationStartDate"] = moment
        return response

    kms_answers.answers["GetKeyRotationStatus"] = status
    code, _, err = run(capsys, "rotate", key["KeyId"], "--wait", "--quiet")
    assert code == EXIT_OK
    assert err == ""
    assert clock.slept == [10.0]


# --- listing ------------------------------------------------------------------------------------


def test_rotations_lists_every_page_with_all_key_material_for_imported_keys(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms, Origin="EXTERNAL")
    describe_with(kms_answers, CurrentKeyMaterialId=NEW_MATERIAL)
    expires = datetime(2027, 6, 30, tzinfo=UTC)
    list_rotations(
        kms_answers,
        [imported("NON_CURRENT", MATERIAL)],
        [
            imported(
                "CURRENT",
                NEW_MATERIAL,
                RotationType="ON_DEMAND",
                RotationDate=datetime(2026, 12, 1, tzinfo=UTC),
            )
        ],
        [
            imported(
                "PENDING_ROTATION",
                THIRD_MATERIAL,
                ExpirationModel="KEY_MATERIAL_EXPIRES",
                ValidTo=expires,
            )
        ],
    )
    code, out, err = run(capsys, "rotations", key["KeyId"])
    assert code == EXIT_OK, err
    requests = kms_answers.requests["ListKeyRotations"]
    assert [r.get("Marker") for r in requests] == [None, "page-1", "page-2"]
    assert all(r["IncludeKeyMaterial"] == "ALL_KEY_MATERIAL" for r in requests)
    lines = out.splitlines()
    assert lines[0] == f"key:      {key['Arn']} (Enabled, SYMMETRIC_DEFAULT, origin EXTERNAL)"
    assert lines[1] == f"current key material: {NEW_MATERIAL}"
    assert lines[2] == (
        "rotation: automatic off; no on-demand rotation in progress; 1 on-demand rotation(s) listed"
    )
    assert lines[3].split() == ["ROTATED", "TYPE", "STATE", "IMPORT", "EXPIRES", "KEY", "MATERIAL"]
    assert [line.split() for line in lines[4:]] == [
        ["-", "-", "NON_CURRENT", "IMPORTED", "never", MATERIAL],
        ["2026-12-01T00:00:00Z", "ON_DEMAND", "CURRENT", "IMPORTED", "never", NEW_MATERIAL],
        ["-", "-", "PENDING_ROTATION", "IMPORTED", "2027-06-30T00:00:00Z", THIRD_MATERIAL],
    ]


def test_rotations_of_a_kms_key_as_json(
    kms: Any, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms)
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    answer_with(
        kms_answers,
        "GetKeyRotationStatus",
        RotationPeriodInDays=180,
        NextRotationDate=datetime(2027, 6, 1, tzinfo=UTC),
        OnDemandRotationStartDate=datetime(2026, 12, 5, 7, 0, tzinfo=UTC),
    )
    code, out, err = run(capsys, "rotations", key["KeyId"], "--format", "json")
    assert code == EXIT_OK, err
    document = json.loads(out)
    # AWS_KMS origin: the default listing (rotations only), no IncludeKeyMaterial.
    assert kms_answers.requests["ListKeyRotations"] == [{"KeyId": key["Arn"]}]
    assert document["rotationStatus"] == {
        "enabled": True,
        "periodDays": 180,
        "nextRotation": "2027-06-01T00:00:00Z",
        "onDemandStarted": "2026-12-05T07:00:00Z",
    }
    assert document["onDemandRotations"] == 1
    assert document["key"]["keyArn"] == key["Arn"]
    [entry] = document["keyMaterials"]
    assert entry["rotationType"] == "ON_DEMAND"
    assert set(entry) == {
        "keyMaterialId",
        "rotationDate",
        "rotationType",
        "keyMaterialState",
        "importState",
        "expirationModel",
        "validTo",
        "description",
    }
    code, out, _ = run(capsys, "rotations", key["KeyId"])
    assert (
        "rotation: automatic every 180 days, next 2027-06-01T00:00:00Z; on-demand rotation in "
        "progress since 2026-12-05T07:00:00Z; 1 on-demand rotation(s) listed"
    ) in out.splitlines()


def test_rotations_of_a_key_never_rotated(kms: Any, capsys: pytest.CaptureFixture[str]) -> None:
    key = new_key(kms)
    code, out, _ = run(capsys, "rotations", key["KeyId"])
    assert code == EXIT_OK
    assert out.splitlines()[-1] == "no rotations listed"


# --- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["rotate", "app-data"],
            "'KEY' must be a key ARN, a key ID, an alias name (alias/...) or an alias ARN. "
            "Received: 'app-data'",
        ),
        (
            ["rotations", "bad key"],
            "'KEY' must be a key ARN, a key ID, an alias name (alias/...) or an alias ARN. "
            "Received: 'bad key'",
        ),
        (
            ["rotate", "alias/app-data", "--timeout", "0"],
            "'--timeout' must be a number of seconds, more than 0. Received: '0'",
        ),
        (
            ["rotate", "alias/app-data", "--timeout", "soon"],
            "'--timeout' must be a number of seconds, more than 0. Received: 'soon'",
        ),
    ],
)
def test_bad_arguments_are_refused_before_any_aws_call(
    argv: list[str], message: str, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["key", *argv]) == EXIT_USAGE
    assert one_error_line(capsys) == f"kmskit: error: {message}"
    assert no_aws == []
