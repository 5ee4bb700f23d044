"""On-demand rotation of a KMS key's material (``kmskit key rotate``) and the list of a key's
materials and rotations (``kmskit key rotations``).

``RotateKeyOnDemand`` makes new key material current at once; the old material stays, for
decryption only. KMS refuses it, or does something the caller did not mean, in cases that
:func:`prepare_rotation` finds first, from ``DescribeKey``, ``GetKeyRotationStatus`` and
``ListKeyRotations`` (KMS API reference, ``RotateKeyOnDemand``; KMS developer guide, *Perform
on-demand key rotation*), so that nothing is called that would fail halfway:

* only symmetric encryption keys (``SYMMETRIC_DEFAULT``) rotate; not asymmetric or HMAC keys,
  nor keys in a custom key store (CloudHSM or external), nor AWS managed keys (KMS rotates
  those every year itself);
* a multi-Region key is rotated through its primary: a replica is refused, naming the primary;
* the key must be ``Enabled``;
* one on-demand rotation at a time: ``GetKeyRotationStatus`` gives the start of one in progress
  (``OnDemandRotationStartDate``); and KMS refuses an on-demand rotation while an automatic one
  runs or is due within 20 minutes (``ConflictException``), which ``NextRotationDate`` tells;
* a key with imported material (origin ``EXTERNAL``) rotates to material imported beforehand
  with ``ImportType=NEW_KEY_MATERIAL``, which ``ListKeyRotations`` with
  ``IncludeKeyMaterial=ALL_KEY_MATERIAL`` lists in state ``PENDING_ROTATION``; for a
  multi-Region primary, material imported into the primary but not yet into every replica is in
  state ``PENDING_MULTI_REGION_IMPORT_AND_ROTATION`` (botocore's KMS model, ``KeyMaterialState``)
  and cannot be rotated to yet.

KMS's own refusals (and access denied) become :class:`~kmskit.errors.KmskitError` classes
naming the key. KMS caps the on-demand rotations of a key (``LimitExceededException``); the
number is KMS's to enforce and is not counted here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmskit._text import utc_text
from kmskit.clients import answer_lost, key_metadata, lost_answer_text
from kmskit.errors import (
    ConflictError,
    KmskitError,
    ThrottledError,
    UsageError,
    from_client_error,
)
from kmskit.key_inventory import Rotation

ROTATABLE_SPEC = "SYMMETRIC_DEFAULT"
CUSTOM_KEY_STORE_ORIGINS = ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")
PENDING_ROTATION = "PENDING_ROTATION"
PENDING_MULTI_REGION = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"
ALL_KEY_MATERIAL = "ALL_KEY_MATERIAL"
ON_DEMAND = "ON_DEMAND"
AUTOMATIC_ROTATION_MARGIN = timedelta(minutes=20)
"""RotateKeyOnDemand's ``ConflictException``: "an automatic rotation of this key is currently in
progress or scheduled to begin within the next 20 minutes" (KMS API reference,
APIReference/API_RotateKeyOnDemand.html, Errors; the same text in botocore's KMS model)."""
DEFAULT_WAIT_SECONDS = 600.0
"""``--wait``'s default bound: kmskit's choice (AWS documents no duration for a rotation)."""
POLL_SECONDS = 10.0
"""Between two checks of a rotation waited for."""
ROTATION_QUOTA_PAGE = "developerguide/resource-limits.html (on-demand rotations, not adjustable)"

_STATE_REMEDIES = {
    "Disabled": "enable it first (aws kms enable-key --key-id {arn})",
    "PendingImport": "import its material first (kmskit key import-material {arn} --material FILE)",
    "PendingDeletion": "cancel its deletion first (aws kms cancel-key-deletion --key-id {arn}), "
    "then enable it",
    "PendingReplicaDeletion": "cancel its deletion first (aws kms cancel-key-deletion --key-id "
    "{arn}), then enable it",
}


@dataclass(frozen=True)
class RotationTarget:
    """The key as DescribeKey shows it."""

    key_arn: str
    key_id: str
    region: str
    key_state: str
    key_spec: str
    origin: str
    key_manager: str | None = None
    custom_key_store_id: str | None = None
    multi_region_key_type: str | None = None  # PRIMARY or REPLICA
    primary_arn: str | None = None
    replica_arns: tuple[str, ...] = ()
    current_key_material_id: str | None = None

    @property
    def imported(self) -> bool:
        """Whether the key's material is imported (origin EXTERNAL)."""
        return self.origin == "EXTERNAL"

    def as_dict(self) -> dict[str, Any]:
        return {
            "keyArn": self.key_arn,
            "keyId": self.key_id,
            "region": self.region,
            "keyState": self.key_state,
            "keySpec": self.key_spec,
            "origin": self.origin,
            "keyManager": self.key_manager,
            "customKeyStoreId": self.custom_key_store_id,
            "multiRegion": self.multi_region_key_type,
            "primaryArn": self.primary_arn,
            "replicaArns": list(self.replica_arns),
            "currentKeyMaterialId": self.current_key_material_id,
        }


@dataclass(frozen=True)
class KeyMaterial:
    """One entry of ListKeyRotations: a rotation, or (with ALL_KEY_MATERIAL) the first material
    or imported material pending rotation, which have no rotation date or type."""

    key_material_id: str | None = None
    rotation_date: datetime | None = None
    rotation_type: str | None = None  # AUTOMATIC or ON_DEMAND
    state: str | None = None  # CURRENT, NON_CURRENT, PENDING_ROTATION, ...
    import_state: str | None = None  # IMPORTED or PENDING_IMPORT (EXTERNAL keys)
    expiration_model: str | None = None
    valid_to: datetime | None = None
    description: str | None = None

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> KeyMaterial:
        return cls(
            key_material_id=entry.get("KeyMaterialId"),
            rotation_date=entry.get("RotationDate"),
            rotation_type=entry.get("RotationType"),
            state=entry.get("KeyMaterialState"),
            import_state=entry.get("ImportState"),
            expiration_model=entry.get("ExpirationModel"),
            valid_to=entry.get("ValidTo"),
            description=entry.get("KeyMaterialDescription"),
        )

    @property
    def identity(self) -> tuple[str | None, datetime | None]:
        """What tells one rotation from another (material ID, rotation date)."""
        return self.key_material_id, self.rotation_date

    def expiry_text(self) -> str:
        if self.valid_to is not None:
            return utc_text(self.valid_to)
        return "never" if self.expiration_model == "KEY_MATERIAL_DOES_NOT_EXPIRE" else "-"

    def as_dict(self) -> dict[str, Any]:
        return {
            "keyMaterialId": self.key_material_id,
            "rotationDate": utc_text(self.rotation_date) if self.rotation_date else None,
            "rotationType": self.rotation_type,
            "keyMaterialState": self.state,
            "importState": self.import_state,
            "expirationModel": self.expiration_model,
            "validTo": utc_text(self.valid_to) if self.valid_to else None,
            "description": self.description,
        }


@dataclass(frozen=True)
class KeyRotations:
    """What KMS says of a key's rotation: the key, its rotation status (None where KMS does
    not report one) and its key materials, in ListKeyRotations' order."""

    target: RotationTarget
    status: Rotation | None
    materials: tuple[KeyMaterial, ...]

    @property
    def on_demand_count(self) -> int:
        """The on-demand rotations listed."""
        return sum(1 for m in self.materials if m.rotation_type == ON_DEMAND)

    def pending(self, state: str = PENDING_ROTATION) -> list[KeyMaterial]:
        """The imported materials in ``state``."""
        return [m for m in self.materials if m.state == state]

    @property
    def next_material_id(self) -> str | None:
        """The imported material an on-demand rotation makes current (the first in
        PENDING_ROTATION); None for KMS's own material, which KMS makes at the rotation."""
        pending = self.pending()
        return pending[0].key_material_id if pending else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.target.as_dict(),
            "rotationStatus": self.status.as_dict() if self.status else None,
            "onDemandRotations": self.on_demand_count,
            "keyMaterials": [m.as_dict() for m in self.materials],
        }


@dataclass(frozen=True)
class RotationDone:
    """A completed on-demand rotation: the material it made current (None where KMS did not
    say) and when."""

    key_material_id: str | None
    rotation_date: datetime | None


def describe_rotation_target(kms: Any, key: str) -> RotationTarget:
    """DescribeKey. ``key``: as the user gave it (``KEY``), named in the errors."""
    metadata = key_metadata(kms, key)
    arn = str(metadata["Arn"])
    multi = metadata.get("MultiRegionConfiguration") or {}
    primary = (multi.get("PrimaryKey") or {}).get("Arn")
    return RotationTarget(
        key_arn=arn,
        key_id=str(metadata["KeyId"]),
        region=arn.split(":")[3],
        key_state=str(metadata.get("KeyState", "")),
        key_spec=str(
            metadata.get("KeySpec") or metadata.get("CustomerMasterKeySpec") or ROTATABLE_SPEC
        ),
        origin=str(metadata.get("Origin", "AWS_KMS")),
        key_manager=metadata.get("KeyManager"),
        custom_key_store_id=metadata.get("CustomKeyStoreId"),
        multi_region_key_type=multi.get("MultiRegionKeyType")
        if metadata.get("MultiRegion")
        else None,
        primary_arn=str(primary) if primary else None,
        replica_arns=tuple(str(r["Arn"]) for r in multi.get("ReplicaKeys", ())),
        current_key_material_id=metadata.get("CurrentKeyMaterialId"),
    )


def _received(key: str, target: RotationTarget, what: str) -> str:
    shown = key if key == target.key_arn else f"{key} ({target.key_arn})"
    return f"Received: {shown}, {what}"


def check_has_rotations(target: RotationTarget, key: str) -> None:
    """Refuse (:class:`UsageError`) a key KMS never rotates: not SYMMETRIC_DEFAULT, or in a
    custom key store. ``key``: as given."""
    if target.key_spec != ROTATABLE_SPEC:
        raise UsageError(
            "'KEY' must be a symmetric encryption key (SYMMETRIC_DEFAULT): KMS rotates no "
            f"asymmetric or HMAC key. {_received(key, target, f'key spec {target.key_spec}')}"
        )
    if target.custom_key_store_id or target.origin in CUSTOM_KEY_STORE_ORIGINS:
        store = target.custom_key_store_id or "a custom key store"
        raise UsageError(
            "'KEY' must not be in a custom key store: KMS rotates no key of a CloudHSM or "
            "external key store (rotate the key in the store, or move the data to a new key). "
            + _received(key, target, f"origin {target.origin}, in {store}")
        )


def check_rotatable(target: RotationTarget, key: str) -> None:
    """What DescribeKey shows KMS would refuse, before any other call: a key KMS never
    rotates (:func:`check_has_rotations`), an AWS managed key and a multi-Region replica
    (:class:`UsageError`), a key that is not Enabled (:class:`ConflictError`)."""
    if target.key_manager == "AWS":
        raise UsageError(
            "'KEY' must be a customer managed key: KMS rotates AWS managed keys itself, every "
            f"year, and refuses to rotate them on demand. {_received(key, target, 'AWS managed')}"
        )
    check_has_rotations(target, key)
    if target.multi_region_key_type == "REPLICA":
        primary = target.primary_arn or "its primary"
        region = f" --region {primary.split(':')[3]}" if target.primary_arn else ""
        raise UsageError(
            "'KEY' must not be a multi-Region replica: KMS rotates a set of multi-Region keys "
            f"through their primary. {_received(key, target, 'a replica')}; rotate the "
            f"primary: kmskit key rotate {primary}{region}"
        )
    if target.key_state != "Enabled":
        remedy = _STATE_REMEDIES.get(target.key_state, "wait until it is Enabled").format(
            arn=target.key_arn
        )
        raise ConflictError(
            "'KEY' must be Enabled to be rotated. "
            f"{_received(key, target, f'state {target.key_state}')}: {remedy}"
        )


def read_rotation_status(kms: Any, target: RotationTarget) -> Rotation | None:
    """GetKeyRotationStatus; None when KMS does not report one for this key
    (``UnsupportedOperationException``)."""
    try:
        answer = kms.get_key_rotation_status(KeyId=target.key_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "UnsupportedOperationException":
            return None
        raise from_client_error(
            error, f"read the rotation status of {target.key_arn} (kms:GetKeyRotationStatus)"
        ) from error
    return Rotation.from_answer(answer)


def list_key_materials(kms: Any, target: RotationTarget) -> tuple[KeyMaterial, ...]:
    """ListKeyRotations, every page; with ``IncludeKeyMaterial=ALL_KEY_MATERIAL`` for imported
    material (origin EXTERNAL), so that the first material and material pending rotation are
    listed too."""
    params: dict[str, Any] = {"KeyId": target.key_arn}
    if target.imported:
        params["IncludeKeyMaterial"] = ALL_KEY_MATERIAL
    found: list[KeyMaterial] = []
    try:
        for page in kms.get_paginator("list_key_rotations").paginate(**params):
            found.extend(KeyMaterial.from_entry(entry) for entry in page.get("Rotations", []))
    except ClientError as error:
        raise from_client_error(
            error, f"list the rotations of {target.key_arn} (kms:ListKeyRotations)"
        ) from error
    return tuple(found)


def read_rotations(kms: Any, key: str) -> KeyRotations:
    """``kmskit key rotations``: the key (refused, before any other call, if KMS never rotates
    it: :func:`check_has_rotations`), its rotation status and every key material listed."""
    target = describe_rotation_target(kms, key)
    check_has_rotations(target, key)
    return KeyRotations(target, read_rotation_status(kms, target), list_key_materials(kms, target))


def check_rotation_status(
    target: RotationTarget, status: Rotation | None, key: str, now: datetime
) -> None:
    """Refuse (:class:`ConflictError`) while an on-demand rotation is in progress, or an
    automatic one is due within :data:`AUTOMATIC_ROTATION_MARGIN` of ``now`` (or overdue: in
    progress)."""
    if status is None:
        return
    if status.on_demand_started is not None:
        raise ConflictError(
            "'KEY' has an on-demand rotation in progress: KMS runs one at a time. "
            + _received(
                key, target, f"on-demand rotation started {utc_text(status.on_demand_started)}"
            )
            + f"; wait for it (kmskit key rotations {target.key_arn} lists it once done)"
        )
    due = status.next_rotation
    if status.enabled and due is not None and due - now <= AUTOMATIC_ROTATION_MARGIN:
        raise ConflictError(
            "'KEY' has an automatic rotation in progress or due within 20 minutes, when KMS "
            f"refuses an on-demand one. {_received(key, target, f'next rotation {utc_text(due)}')}"
            "; run the command again after it"
        )


def check_pending_material(rotations: KeyRotations, key: str) -> None:
    """For imported material (origin EXTERNAL): refuse (:class:`ConflictError`) unless new
    material waits in PENDING_ROTATION, and while a multi-Region primary's new material is
    missing from a replica (PENDING_MULTI_REGION_IMPORT_AND_ROTATION)."""
    target = rotations.target
    if not target.imported:
        return
    waiting = rotations.pending(PENDING_MULTI_REGION)
    if waiting:
        replicas = ", ".join(target.replica_arns) or "its replicas"
        ids = ", ".join(str(m.key_material_id) for m in waiting)
        raise ConflictError(
            "'KEY' has new key material that not every replica has yet: KMS rotates a "
            "multi-Region key only once each replica holds the primary's new material. "
            + _received(key, target, f"key material {ids} in state {PENDING_MULTI_REGION}")
            + f"; import the same material into each replica ({replicas}) with kmskit key "
            "import-material REPLICA-ARN --region REPLICA-REGION --material FILE (without "
            "--new-material), then run this again"
        )
    if not rotations.pending(PENDING_ROTATION):
        raise ConflictError(
            "'KEY' has imported key material (origin EXTERNAL): KMS rotates it only to new "
            "material imported beforehand, and none is pending rotation. "
            + _received(key, target, f"no key material in state {PENDING_ROTATION}")
            + f"; import it first: kmskit key import-material {target.key_arn} --new-material "
            "--material FILE (or --generate --save-material FILE)"
        )


def prepare_rotation(kms: Any, key: str, *, now: datetime | None = None) -> KeyRotations:
    """Every check before RotateKeyOnDemand (the module docstring lists them), each refusal
    raised as soon as the call that shows it answers: DescribeKey, GetKeyRotationStatus, then
    ListKeyRotations. ``now`` (default: the current time) decides whether an automatic rotation
    is near."""
    target = describe_rotation_target(kms, key)
    check_rotatable(target, key)
    status = read_rotation_status(kms, target)
    check_rotation_status(target, status, key, now or datetime.now(UTC))
    rotations = KeyRotations(target, status, list_key_materials(kms, target))
    check_pending_material(rotations, key)
    return rotations


def rotate(kms: Any, rotations: KeyRotations) -> None:
    """RotateKeyOnDemand, KMS's refusals named for the key. The request is sent once
    (:data:`~kmskit.clients.NOT_RESENT`: a second would be a second rotation). When its answer
    is lost (:func:`~kmskit.clients.answer_lost`: a 5xx, a connection dropped), the key's
    rotation status and rotations are read: an on-demand rotation in progress, or one listed
    that ``rotations`` did not list, is this call's, and it returns as for KMS's answer;
    otherwise :class:`~kmskit.errors.KmskitError` saying whether KMS most likely did not start
    one (nothing seen: run the command again) or reading the key failed too (check first)."""
    target = rotations.target
    try:
        kms.rotate_key_on_demand(KeyId=target.key_arn)
    except (ClientError, BotoCoreError) as error:
        if answer_lost(error):
            if _rotation_seen(kms, rotations, error):
                return
            raise KmskitError(
                f"{_lost(error, target)}; the key shows no new on-demand rotation, so KMS most "
                f"likely did not start one: run the command again (kmskit key rotations "
                f"{target.key_arn} lists the key's rotations)"
            ) from error
        if isinstance(error, ClientError):
            raise _rotate_error(error, rotations) from error
        raise


def _lost(error: ClientError | BotoCoreError, target: RotationTarget) -> str:
    """What the rotation request met when its answer was lost."""
    return lost_answer_text(error, f"rotate {target.key_arn} on demand", "KMS")


def _rotation_seen(kms: Any, before: KeyRotations, error: ClientError | BotoCoreError) -> bool:
    """After the answer to RotateKeyOnDemand was lost (``error``): whether the key shows an
    on-demand rotation ``before`` did not (in progress, or listed); a failure to read it is
    :class:`~kmskit.errors.KmskitError` saying the rotation's fate is unknown."""
    try:
        status = read_rotation_status(kms, before.target)
        return (status is not None and status.on_demand_started is not None) or bool(
            _new_on_demand(kms, before)
        )
    except (KmskitError, BotoCoreError) as unread:
        arn = before.target.key_arn
        raise KmskitError(
            f"{_lost(error, before.target)}; whether KMS started the rotation is unknown, as "
            f"reading the key's rotations failed too ({unread}): check with kmskit key "
            f"rotations {arn} before running kmskit key rotate again"
        ) from error


def _rotate_error(error: ClientError, rotations: KeyRotations) -> KmskitError:
    target = rotations.target
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", "")
    text = f"could not rotate {target.key_arn} on demand: {code}: {message}".rstrip(" .:")
    if code == "ConflictException":
        return ConflictError(
            f"{text}. An automatic rotation of the key is in progress or due within 20 "
            "minutes: run the command again after it"
        )
    if code == "LimitExceededException":
        # KMS caps on-demand rotations per key; the cap is not adjustable (KMS developer
        # guide, resource-limits.html, "On-demand rotations").
        return ConflictError(
            f"{text}. The key has had as many on-demand rotations as KMS allows ("
            f"{ROTATION_QUOTA_PAGE}): {_after_the_rotation_quota(rotations)}"
        )
    return from_client_error(error, f"rotate {target.key_arn} on demand (kms:RotateKeyOnDemand)")


def _after_the_rotation_quota(rotations: KeyRotations) -> str:
    """What is left once a key's on-demand rotations are used up: automatic rotation only for a
    key KMS rotates automatically (origin AWS_KMS; :func:`check_rotatable` let only symmetric
    encryption keys through) where it is not known to be on; moving the data always."""
    target = rotations.target
    if target.origin != "AWS_KMS":
        return (
            "move the data to a new key (KMS rotates imported material only on demand, never "
            "automatically)"
        )
    if rotations.status is not None and rotations.status.enabled:
        return (
            "automatic rotation is on and goes on; for a rotation before its next date, move "
            "the data to a new key"
        )
    return "move the data to a new key, or enable automatic rotation"


def completed_rotation(kms: Any, before: KeyRotations) -> RotationDone | None:
    """The on-demand rotation started after ``before`` was read, once it has completed: no
    on-demand rotation in progress (GetKeyRotationStatus) and a new ON_DEMAND entry listed
    (ListKeyRotations); None until then."""
    status = read_rotation_status(kms, before.target)
    if status is not None and status.on_demand_started is not None:
        return None
    new = _new_on_demand(kms, before)
    if not new:
        return None
    latest = max(new, key=lambda m: m.rotation_date or datetime.min.replace(tzinfo=UTC))
    return RotationDone(latest.key_material_id, latest.rotation_date)


def _new_on_demand(kms: Any, before: KeyRotations) -> list[KeyMaterial]:
    """The on-demand rotations ListKeyRotations lists now that ``before`` did not."""
    seen = {m.identity for m in before.materials if m.rotation_type == ON_DEMAND}
    return [
        m
        for m in list_key_materials(kms, before.target)
        if m.rotation_type == ON_DEMAND and m.identity not in seen
    ]


def wait_for_rotation(
    kms: Any,
    before: KeyRotations,
    *,
    timeout: float = DEFAULT_WAIT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    on_poll: Callable[[float], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> RotationDone:
    """Poll :func:`completed_rotation` every ``poll_seconds`` until the rotation completes, at
    most ``timeout`` seconds; ``on_poll(elapsed seconds)`` after each check that found it still
    running. On timeout, :class:`~kmskit.errors.ThrottledError` (exit 6, as ``kmskit snapshot
    copy --timeout``): the rotation may still complete in KMS. ``sleep`` and ``clock``
    (default: :func:`time.sleep`, :func:`time.monotonic`) are for tests."""
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    start = clock()
    while True:
        done = completed_rotation(kms, before)
        if done is not None:
            return done
        elapsed = clock() - start
        if elapsed >= timeout:
            arn = before.target.key_arn
            raise ThrottledError(
                f"the on-demand rotation of {arn} had not completed after --timeout "
                f"{timeout:g} seconds; KMS may still complete it: kmskit key rotations {arn} "
                "lists it once done"
            )
        if on_poll is not None:
            on_poll(elapsed)
        sleep(min(poll_seconds, timeout - elapsed))
