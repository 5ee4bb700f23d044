"""The one implementation of snapshot copy, share, watch and clean-up (EBS, RDS and Aurora).

Used by the replication Lambda (``lambda_src/snapshot_replicator``) and by ``kmskit snapshot
copy``. Standard library and boto3 only: clients come from a factory, built on demand through
:class:`kmskit.clients.ClientSettings` or injected by tests and benchmarks.

Idempotency: every copy carries the tags of :mod:`kmskit.snapshots.model`. RDS and Aurora copies
also get a deterministic identifier, so RDS itself refuses a second copy
(``DBSnapshotAlreadyExists`` counts as success). EC2 has no client token: the engine looks for
a copy with the same ``kmskit:copy-key`` tag first, and after copying looks again; if a racing
request made a copy too, every racer keeps the same winner (the lowest snapshot ID) and deletes
its own extra copy while it is still pending, which cancels it. ``CopySnapshot`` is sent once
(:data:`kmskit.clients.NOT_RESENT`): after a lost answer the copy is looked for by its tags
(:meth:`SnapshotEngine._copy_after_lost_answer`). That second look is best effort:
if it fails, the copy just made is kept (and remembered for ``RECENT_SECONDS``), and an extra
copy of a lost race is left to the replication sweep, which keeps the lowest ID.

Unencrypted Aurora cluster snapshots cannot be copied with a key (CopyDBClusterSnapshot refuses
``KmsKeyId`` for them) and a copy without one would stay unencrypted, so they are never copied:
:func:`copy_refusal` names the reason for callers that have described the source. A source in a
failed state (EBS ``error``, RDS ``failed`` ...) never becomes available by itself: callers that
describe a source stop at once with the reason :func:`source_failure` gives (code
:data:`~kmskit.snapshots.outcomes.SOURCE_FAILED`), instead of waiting for it as for a source
that is still being created.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from kmskit.clients import ClientSettings, answer_lost, lost_answer_text
from kmskit.snapshots.model import (
    MANAGED_BY,
    TAG_COPY_KEY,
    TAG_DELIVERED,
    TAG_DESTINATION_ACCOUNT,
    TAG_MANAGED_BY,
    TAG_REPLICATOR,
    TAG_ROLE,
    Kind,
    Origin,
    Role,
    SnapshotRef,
    copy_key,
    rds_identifier,
    tag_dict,
    tag_list,
)
from kmskit.snapshots.outcomes import (
    COPY_FAILED,
    COPY_NOT_FOUND,
    DeadLetterError,
    RetryableError,
    classify,
    error_code,
)

ClientFactory = Callable[[str, str], Any]
"""``clients(service, region)`` -> a boto3 client (``ec2`` or ``rds``)."""

State = Literal["pending", "available", "failed", "deleting"]

_EBS_STATES: dict[str, State] = {
    "pending": "pending",
    "completed": "available",
    "error": "failed",
    "recoverable": "failed",
    "recovering": "pending",
}
_RDS_FAILED = {"failed", "incompatible-restore", "incompatible-parameters"}
_ALREADY_EXISTS = {"DBSnapshotAlreadyExists", "DBClusterSnapshotAlreadyExistsFault"}
# How long a copy this process made stands in for the tag search (EC2 Describe* catches up
# within seconds; a copy deleted or failed since then must not be "found" for longer), and how
# long a wait takes a copy not found for one not visible yet (SnapshotEngine.wait).
RECENT_SECONDS = 300.0
_NOT_FOUND = {
    "InvalidSnapshot.NotFound",
    "DBSnapshotNotFound",
    "DBClusterSnapshotNotFoundFault",
}


@dataclass(frozen=True)
class SnapshotInfo:
    """What the engine needs to know about one snapshot."""

    ref: SnapshotRef
    state: State
    progress: float
    encrypted: bool
    kms_key_id: str | None
    created: datetime | None
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    message: str = ""
    copied_from_region: str | None = None
    """For an RDS/Aurora copy: the Region it was copied from (the service reports it)."""
    status: str = ""
    """The service's own word for the state (EBS ``State``, RDS/Aurora ``Status``), which
    ``state`` sums up: ``error`` and ``recoverable`` are both ``failed``, say."""

    @property
    def managed(self) -> bool:
        """Made by this toolkit (never a source for replication, deletable by its replicator)."""
        return self.tags.get(TAG_MANAGED_BY) == MANAGED_BY


@dataclass(frozen=True)
class CopyResult:
    """The copy of one source for one destination; ``created`` is False when it already existed."""

    info: SnapshotInfo
    created: bool


def _named(
    rows: list[dict[str, Any]], ref: SnapshotRef, id_field: str, arn_field: str
) -> list[dict[str, Any]]:
    """The rows of ``ref`` itself, by identifier or ARN (a shared snapshot's is its ARN)."""
    return [
        r
        for r in rows
        if ref.id and (r.get(id_field) in (ref.id, ref.arn) or r.get(arn_field) == ref.arn)
    ]


class SnapshotEngine:
    """Copy, share, watch and delete snapshots in one account.

    Args:
        clients: ``clients(service, region)`` returning boto3 clients.
        account: the account this engine acts in (owner of the copies it makes).
        replicator: value of the ``kmskit:replicator`` tag on every copy made here; retention
            and clean-up only ever delete copies with this tag. Default: ``kmskit-cli``.
        partition: Default: ``aws``.
        clock: monotonic seconds, for the memory of recent copies. Default: ``time.monotonic``.
    """

    def __init__(
        self,
        clients: ClientFactory,
        *,
        account: str,
        replicator: str = "kmskit-cli",
        partition: str = "aws",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._clock = clock
        self.account = account
        self.replicator = replicator
        self.partition = partition
        # copy-key -> (copy, when), for copies this process made: EC2 Describe* is eventually
        # consistent, so a duplicate arriving right after the first copy may not see its tags.
        self._recent: dict[str, tuple[SnapshotInfo, float]] = {}

    # ----------------------------------------------------------------------------- reading
    def describe(self, ref: SnapshotRef) -> SnapshotInfo | None:
        """The snapshot, or None when it does not exist (any more)."""
        try:
            # Only the row of the snapshot asked for: RDS lists every snapshot for an empty
            # identifier, and a copy or share must never fall on another one.
            if ref.kind == "EBS":
                found = self._ec2(ref.region).describe_snapshots(SnapshotIds=[ref.id])["Snapshots"]
                rows = [r for r in found if r.get("SnapshotId") == ref.id]
                return self._ebs_info(rows[0], ref.region) if rows else None
            shared = ref.account != self.account
            # An automated snapshot is found by its identifier only with SnapshotType.
            automated = {"SnapshotType": "automated"} if ref.automated and not shared else {}
            if ref.kind == "RDS":
                response = self._rds(ref.region).describe_db_snapshots(
                    DBSnapshotIdentifier=ref.arn if shared else ref.id,
                    IncludeShared=shared,
                    **automated,
                )
                rows = _named(response["DBSnapshots"], ref, "DBSnapshotIdentifier", "DBSnapshotArn")
                return self._rds_info(rows[0], ref.region) if rows else None
            response = self._rds(ref.region).describe_db_cluster_snapshots(
                DBClusterSnapshotIdentifier=ref.arn if shared else ref.id,
                IncludeShared=shared,
                **automated,
            )
            rows = _named(
                response["DBClusterSnapshots"],
                ref,
                "DBClusterSnapshotIdentifier",
                "DBClusterSnapshotArn",
            )
            return self._aurora_info(rows[0], ref.region) if rows else None
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:
                return None
            raise classify(error, f"describe {ref.arn}", regions=[ref.region]) from error
        except BotoCoreError as error:
            raise classify(error, f"describe {ref.arn}", regions=[ref.region]) from error

    def managed_copies(self, kind: Kind, region: str) -> list[SnapshotInfo]:
        """Every copy in ``region`` that this replicator made (by tag)."""
        if kind == "EBS":
            return [
                self._ebs_info(row, region)
                for row in self._pages(
                    self._ec2(region),
                    "describe_snapshots",
                    "Snapshots",
                    OwnerIds=["self"],
                    Filters=[
                        {"Name": f"tag:{TAG_MANAGED_BY}", "Values": [MANAGED_BY]},
                        {"Name": f"tag:{TAG_REPLICATOR}", "Values": [self.replicator]},
                    ],
                )
            ]
        return [
            info
            for info in self._rds_list(kind, region, SnapshotType="manual")
            if info.managed and info.tags.get(TAG_REPLICATOR) == self.replicator
        ]

    def sources(self, kind: Kind, region: str, tag: tuple[str, str]) -> list[SnapshotInfo]:
        """Snapshots of this account in ``region`` selected by ``tag`` (never tool-made copies)."""
        if kind == "EBS":
            rows = self._pages(
                self._ec2(region),
                "describe_snapshots",
                "Snapshots",
                OwnerIds=["self"],
                Filters=[{"Name": f"tag:{tag[0]}", "Values": [tag[1]]}],
            )
            infos = [self._ebs_info(row, region) for row in rows]
        else:
            infos = [
                info
                for snapshot_type in ("manual", "automated")
                for info in self._rds_list(kind, region, SnapshotType=snapshot_type)
                if info.tags.get(tag[0]) == tag[1]
            ]
        return [i for i in infos if not i.managed and i.state == "available"]

    def shared_with_me(self, kind: Kind, region: str, owners: Iterable[str]) -> list[SnapshotInfo]:
        """Snapshots other accounts (``owners``) shared with this one, made by this toolkit."""
        owner_ids = sorted(set(owners))
        if kind == "EBS":
            rows = self._pages(
                self._ec2(region),
                "describe_snapshots",
                "Snapshots",
                OwnerIds=owner_ids,
                RestorableByUserIds=["self"],
            )
            infos = [self._ebs_info(row, region) for row in rows]
            return [
                i
                for i in infos
                if Origin.from_description(i.description) and i.state == "available"
            ]
        infos = self._rds_list(kind, region, SnapshotType="shared", IncludeShared=True)
        return [
            i
            for i in infos
            if i.ref.account in owner_ids and i.ref.id.startswith("kmskit-s-")
            if i.state == "available"
        ]

    def _rds_list(self, kind: Kind, region: str, **params: Any) -> list[SnapshotInfo]:
        if kind == "RDS":
            return [
                self._rds_info(row, region)
                for row in self._pages(
                    self._rds(region), "describe_db_snapshots", "DBSnapshots", **params
                )
            ]
        return [
            self._aurora_info(row, region)
            for row in self._pages(
                self._rds(region),
                "describe_db_cluster_snapshots",
                "DBClusterSnapshots",
                **params,
            )
        ]

    def other_copy(self, ref: SnapshotRef, key: str) -> SnapshotInfo | None:
        """Another live (not failed) EBS copy in ``ref``'s Region tagged with copy-key ``key``,
        lowest ID first; None for RDS/Aurora, whose copies have one deterministic name."""
        if ref.kind != "EBS":
            return None
        doing = f"look for copies with {TAG_COPY_KEY}={key}"
        try:
            found = self._ebs_by_key(ref.region, key)
        except ClientError as error:
            raise classify(error, doing, regions=[ref.region]) from error
        except BotoCoreError as error:
            raise classify(error, doing, regions=[ref.region]) from error
        live = [c for c in found if c.state != "failed" and c.ref.id != ref.id]
        return min(live, key=lambda c: c.ref.id) if live else None

    def _ebs_by_key(self, region: str, key: str) -> list[SnapshotInfo]:
        rows = self._pages(
            self._ec2(region),
            "describe_snapshots",
            "Snapshots",
            OwnerIds=["self"],
            Filters=[{"Name": f"tag:{TAG_COPY_KEY}", "Values": [key]}],
        )
        return [self._ebs_info(row, region) for row in rows]

    # ----------------------------------------------------------------------------- copying
    def copy_tags(
        self, origin: Origin, *, region: str, role: Role, destination_account: str | None
    ) -> dict[str, str]:
        tags = {
            TAG_MANAGED_BY: MANAGED_BY,
            TAG_REPLICATOR: self.replicator,
            TAG_COPY_KEY: copy_key(
                origin,
                region=region,
                account=self.account,
                role=role,
                destination_account=destination_account,
            ),
            TAG_ROLE: role,
            **origin.tags(),
        }
        if destination_account:
            tags[TAG_DESTINATION_ACCOUNT] = destination_account
        return tags

    def copy(
        self,
        source: SnapshotRef,
        *,
        region: str,
        kms_key_arn: str,
        role: Role,
        origin: Origin,
        destination_account: str | None = None,
        extra_tags: dict[str, str] | None = None,
    ) -> CopyResult:
        """Copy ``source`` into ``region`` of this account, encrypted with ``kms_key_arn``.

        Unencrypted EBS and RDS sources are encrypted on copy; sources under any key (an AWS
        managed key included) are re-encrypted with ``kms_key_arn``; automated RDS snapshots
        become manual copies. Returns the existing copy instead of making a second one (also a
        copy for ``destination_account`` made under the older key, which did not name it); a
        failed earlier copy of this replicator is deleted first and the copy made again.
        ``destination_account``: the account the copy is staged for (part of its identity and
        its ``kmskit:destination-account`` tag; sharing it is a later step); default None, a
        copy for this account. ``extra_tags``: tags put on the copy besides the toolkit's own;
        default None (none).

        Raises:
            RetryableError: a limit (``ResourceLimitExceeded``, ``SnapshotQuotaExceeded``) or
                throttling outlived botocore's retries, or the previous RDS/Aurora copy of the
                same name is still being deleted, or EC2's answer to ``CopySnapshot`` was lost
                and no copy with its tags is listed yet (it is not sent again:
                :data:`~kmskit.clients.NOT_RESENT`); try again later.
            DeadLetterError: the key is unusable (``KMSKeyNotAccessibleFault``), the source is gone,
                access is denied (an unencrypted Aurora source is refused by the service: check
                :func:`copy_refusal` first), or a failed RDS/Aurora copy of the same name was
                made by another replicator (only this replicator's own copies are deleted; a
                failed EBS copy of another is left alone and a copy made beside it), or the
                Region's manual RDS snapshot quota is reached (``MANUAL_SNAPSHOT_QUOTA``).
        """
        tags = {
            **(extra_tags or {}),
            **self.copy_tags(
                origin, region=region, role=role, destination_account=destination_account
            ),
        }
        # A copy made before the copy key named its destination account carries the older key
        # (and RDS/Aurora name): found too, so an upgrade does not make a second copy.
        older = (
            _OlderKey(
                copy_key(origin, region=region, account=self.account, role=role),
                destination_account,
            )
            if destination_account is not None
            else None
        )
        doing = f"copy {source.arn} to {region} with {kms_key_arn}"
        try:
            if source.kind == "EBS":
                return self._copy_ebs(
                    source,
                    region=region,
                    kms_key_arn=kms_key_arn,
                    tags=tags,
                    origin=origin,
                    older=older,
                )
            return self._copy_rds(
                source,
                region=region,
                kms_key_arn=kms_key_arn,
                tags=tags,
                origin=origin,
                role=role,
                older=older,
            )
        except ClientError as error:
            raise classify(error, doing, regions=[source.region, region]) from error
        except BotoCoreError as error:
            raise classify(error, doing, regions=[source.region, region]) from error

    def _copy_ebs(
        self,
        source: SnapshotRef,
        *,
        region: str,
        kms_key_arn: str,
        tags: dict[str, str],
        origin: Origin,
        older: _OlderKey | None,
    ) -> CopyResult:
        key = tags[TAG_COPY_KEY]
        existing = self._ebs_by_key(region, key)
        if not existing and older is not None:
            existing = [c for c in self._ebs_by_key(region, older.key) if older.matches(c)]
        for failed in (c for c in existing if c.state == "failed" and self._ours(c)):
            # A failed copy was reported when it failed; clear it so this request can copy again.
            # Another replicator's (`kmskit snapshot copy`, say) is left alone: not ours to
            # delete (nor does the IAM policy allow it).
            self._delete_ebs(failed)
        live = [c for c in existing if c.state != "failed"]
        if live:
            return CopyResult(min(live, key=lambda c: c.ref.id), created=False)
        if key in self._recent and self._recent[key][0].ref.id in {c.ref.id for c in existing}:
            del self._recent[key]  # the search sees that copy (failed): the memory is stale
        remembered = self._remembered(key)
        if remembered is not None:
            return CopyResult(remembered, created=False)
        ec2 = self._ec2(region)
        try:
            response = ec2.copy_snapshot(
                SourceRegion=source.region,
                SourceSnapshotId=source.id,
                Encrypted=True,
                KmsKeyId=kms_key_arn,
                Description=origin.description(),
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list(tags)}],
            )
        except (ClientError, BotoCoreError) as error:
            if not answer_lost(error):
                raise
            return self._copy_after_lost_answer(region, key, error)
        mine = SnapshotInfo(
            ref=SnapshotRef("EBS", response["SnapshotId"], region, self.account, self.partition),
            state="pending",
            progress=0.0,
            encrypted=True,
            kms_key_id=kms_key_arn,
            created=None,
            tags=tags,
            description=origin.description(),
        )
        # Remembered at once: if settling the race below fails, a retry must find this copy
        # even while the tag search does not see it yet.
        self._recent[key] = (mine, self._clock())
        # Settle a race with a concurrent delivery of the same request. Best effort: the copy
        # exists, so a failed look-up does not fail the request (which would leave the copy
        # unwatched until a retry); an extra copy of a lost race is left to the sweep, which
        # removes all but the lowest ID, and to the watch, which then ends quietly.
        try:
            found = self._ebs_by_key(region, key)
        except (ClientError, BotoCoreError):
            return CopyResult(mine, created=True)
        live = [c for c in found if c.state != "failed"]
        ids = {c.ref.id for c in live} | {mine.ref.id}
        winner = min(ids)
        if winner != mine.ref.id:
            self._delete_ebs(mine)
            chosen = next(c for c in live if c.ref.id == winner)
            self._recent[key] = (chosen, self._clock())
            return CopyResult(chosen, created=False)
        self._recent[key] = (mine, self._clock())
        return CopyResult(mine, created=True)

    def _copy_after_lost_answer(
        self, region: str, key: str, error: ClientError | BotoCoreError
    ) -> CopyResult:
        """After EC2's answer to CopySnapshot was lost (``error``; the request is sent once,
        :data:`~kmskit.clients.NOT_RESENT`): the copy tagged with copy-key ``key`` that the tag
        search finds (the lowest ID, as a race is settled), taken for this call's. None found
        (EC2 did not make it, or lists it only later): :class:`RetryableError`, so a later
        attempt searches again before it copies; a failed search: that error, classified."""
        found = [c for c in self._ebs_by_key(region, key) if c.state != "failed"]
        if not found:
            lost = lost_answer_text(error, "copy the snapshot", "EC2")
            raise RetryableError(
                f"{lost}; no copy tagged {TAG_COPY_KEY}={key} is listed in {region} yet (EC2 did "
                "not make it, or lists it only later): a later attempt looks for it again "
                "before copying"
            ) from error
        chosen = min(found, key=lambda c: c.ref.id)
        self._recent[key] = (chosen, self._clock())
        return CopyResult(chosen, created=True)

    def _remembered(self, key: str) -> SnapshotInfo | None:
        """The copy this process made for ``key`` while the tag search may still miss it.

        Only within ``RECENT_SECONDS``, and only while that copy is not failed: a failed copy is
        deleted and forgotten, so the caller copies again.
        """
        now = self._clock()
        self._recent = {k: v for k, v in self._recent.items() if now - v[1] < RECENT_SECONDS}
        if key not in self._recent:
            return None
        info = self._recent[key][0]
        current = self.describe(info.ref)
        if current is None:
            return info  # not visible yet (the reason for remembering it at all)
        if current.state == "failed":
            self._delete_ebs(current)
            del self._recent[key]
            return None
        return current

    def _copy_rds(
        self,
        source: SnapshotRef,
        *,
        region: str,
        kms_key_arn: str,
        tags: dict[str, str],
        origin: Origin,
        role: Role,
        older: _OlderKey | None,
    ) -> CopyResult:
        if older is not None:
            previous = self._older_rds_copy(source.kind, region, origin, role, older)
            if previous is not None:
                return CopyResult(previous, created=False)
        target = rds_identifier(origin, tags[TAG_COPY_KEY], role)
        target_ref = SnapshotRef(source.kind, target, region, self.account, self.partition)
        rds = self._rds(region)
        params: dict[str, Any] = {"KmsKeyId": kms_key_arn, "Tags": tag_list(tags)}
        if source.region != region:
            params["SourceRegion"] = source.region  # boto3 presigns the URL from it
        try:
            if source.kind == "RDS":
                row = rds.copy_db_snapshot(
                    SourceDBSnapshotIdentifier=source.arn,
                    TargetDBSnapshotIdentifier=target,
                    **params,
                )["DBSnapshot"]
                info = self._rds_info(row, region)
            else:
                row = rds.copy_db_cluster_snapshot(
                    SourceDBClusterSnapshotIdentifier=source.arn,
                    TargetDBClusterSnapshotIdentifier=target,
                    **params,
                )["DBClusterSnapshot"]
                info = self._aurora_info(row, region)
        except ClientError as error:
            if error_code(error) not in _ALREADY_EXISTS:
                raise
            existing = self.describe(target_ref)
            if existing is None:
                raise RetryableError(f"{target} exists but cannot be described yet") from error
            if existing.state == "failed":
                if not self.delete(existing):
                    # Another replicator's (`kmskit snapshot copy`, say): not ours to delete.
                    owner = existing.tags.get(TAG_REPLICATOR) or "another tool"
                    raise DeadLetterError(
                        f"the previous copy {target} failed ({copy_failure(existing)}) and was "
                        f"made by {owner}, not {self.replicator}: delete it, then copy again (a "
                        "replicator's task: redrive it)",
                        "PreviousCopyFailed",
                    ) from error
                raise RetryableError(
                    f"the previous copy {target} failed ({copy_failure(existing)}); it is being "
                    "deleted and the copy will be made again"
                ) from error
            if existing.state == "deleting":
                raise RetryableError(
                    f"the previous copy {target} is being deleted; the copy is made again once "
                    "it is gone"
                ) from error
            return CopyResult(existing, created=False)
        return CopyResult(info, created=True)

    def _older_rds_copy(
        self, kind: Kind, region: str, origin: Origin, role: Role, older: _OlderKey
    ) -> SnapshotInfo | None:
        """The live copy named after ``older`` for the same destination account, if any; a
        failed one is deleted (the copy is then made under the current name)."""
        name = rds_identifier(origin, older.key, role)
        info = self.describe(SnapshotRef(kind, name, region, self.account, self.partition))
        if info is None or not older.matches(info) or info.state == "deleting":
            return None
        if info.state == "failed":
            self.delete(info)
            return None
        return info

    # ----------------------------------------------------------------------------- sharing
    def share(self, ref: SnapshotRef, account: str) -> None:
        """Let ``account`` copy ``ref`` (createVolumePermission / restore attribute)."""
        self._permission(ref, account, add=True)

    def unshare(self, ref: SnapshotRef, account: str) -> None:
        self._permission(ref, account, add=False)

    def _permission(self, ref: SnapshotRef, account: str, *, add: bool) -> None:
        doing = f"{'share' if add else 'unshare'} {ref.arn} with {account}"
        try:
            if ref.kind == "EBS":
                self._ec2(ref.region).modify_snapshot_attribute(
                    SnapshotId=ref.id,
                    Attribute="createVolumePermission",
                    OperationType="add" if add else "remove",
                    UserIds=[account],
                )
            elif ref.kind == "RDS":
                self._rds(ref.region).modify_db_snapshot_attribute(
                    DBSnapshotIdentifier=ref.id,
                    AttributeName="restore",
                    **({"ValuesToAdd": [account]} if add else {"ValuesToRemove": [account]}),
                )
            else:
                self._rds(ref.region).modify_db_cluster_snapshot_attribute(
                    DBClusterSnapshotIdentifier=ref.id,
                    AttributeName="restore",
                    **({"ValuesToAdd": [account]} if add else {"ValuesToRemove": [account]}),
                )
        except ClientError as error:
            if not add and error_code(error) in _NOT_FOUND:
                return
            raise classify(error, doing, regions=[ref.region]) from error
        except BotoCoreError as error:
            raise classify(error, doing, regions=[ref.region]) from error

    def _ours(self, info: SnapshotInfo) -> bool:
        """Made by this replicator: the only copies it tags or deletes (as its IAM policy says)."""
        return info.managed and info.tags.get(TAG_REPLICATOR) == self.replicator

    def mark_delivered(
        self, info: SnapshotInfo, when: str, extra_tags: Mapping[str, str] | None = None
    ) -> None:
        """Tag a staging copy of this replicator as delivered (it is deleted later by the sweep).

        ``extra_tags``: tags sent in the same request (the replicator's ``copy_tags``, which the
        copy already carries: unchanged values), for an SCP that requires request tags on every
        tagging call; default None (none)."""
        if not self._ours(info):
            return
        tags = [
            *({"Key": key, "Value": value} for key, value in (extra_tags or {}).items()),
            {"Key": TAG_DELIVERED, "Value": when},
        ]
        doing = f"tag {info.ref.arn} as delivered"
        try:
            if info.ref.kind == "EBS":
                self._ec2(info.ref.region).create_tags(Resources=[info.ref.id], Tags=tags)
            else:
                self._rds(info.ref.region).add_tags_to_resource(
                    ResourceName=info.ref.arn, Tags=tags
                )
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:
                return  # deleted meanwhile (retention): nothing left to mark
            raise classify(error, doing, regions=[info.ref.region]) from error
        except BotoCoreError as error:
            raise classify(error, doing, regions=[info.ref.region]) from error

    # ----------------------------------------------------------------------------- deleting
    def delete(self, info: SnapshotInfo) -> bool:
        """Delete a copy this replicator made. Anything else is refused (returns False)."""
        if not self._ours(info) or info.ref.account != self.account:
            return False
        try:
            if info.ref.kind == "EBS":
                self._delete_ebs(info)
            elif info.ref.kind == "RDS":
                self._rds(info.ref.region).delete_db_snapshot(DBSnapshotIdentifier=info.ref.id)
            else:
                self._rds(info.ref.region).delete_db_cluster_snapshot(
                    DBClusterSnapshotIdentifier=info.ref.id
                )
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:
                return True
            raise classify(error, f"delete {info.ref.arn}", regions=[info.ref.region]) from error
        except BotoCoreError as error:
            raise classify(error, f"delete {info.ref.arn}", regions=[info.ref.region]) from error
        return True

    def _delete_ebs(self, info: SnapshotInfo) -> None:
        try:
            self._ec2(info.ref.region).delete_snapshot(SnapshotId=info.ref.id)
        except ClientError as error:
            if error_code(error) not in _NOT_FOUND:
                raise

    # ----------------------------------------------------------------------------- waiting
    def wait(
        self,
        ref: SnapshotRef,
        *,
        on_progress: Callable[[SnapshotInfo], None] | None = None,
        poll_seconds: float = 15.0,
        timeout_seconds: float | None = None,
        seen: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> SnapshotInfo:
        """Poll until ``ref`` is available or failed; ``on_progress`` sees every poll that finds
        it (default None). Defaults: ``poll_seconds`` 15, ``timeout_seconds`` None (no limit),
        ``sleep`` ``time.sleep`` and ``clock`` ``time.monotonic`` (for tests).

        A copy just started may not be found yet (EC2 answers ``InvalidSnapshot.NotFound`` for a
        while: the eventual consistency :meth:`_remembered` covers): until it has been found
        once, and for ``RECENT_SECONDS`` after the wait began, not found counts as pending, asked
        again after 1, 2, 4 ... seconds (at most ``poll_seconds``). ``seen``: the copy was found
        already (a copy :meth:`copy` found, not made), so not found means it is gone; default
        False.

        Raises:
            DeadLetterError: the copy failed (code ``COPY_FAILED``, the reason
                :func:`copy_failure` gives) or is not found (code ``COPY_NOT_FOUND``): deleted
                after it was found, or never found for ``RECENT_SECONDS``.
            RetryableError: ``timeout_seconds`` passed first.
        """
        started = clock()
        backoff = 1.0
        while True:
            info = self.describe(ref)
            waited = clock() - started
            if info is None:
                if seen:
                    raise DeadLetterError(
                        f"the copy {ref.arn} no longer exists: it was deleted before it was "
                        "available",
                        COPY_NOT_FOUND,
                    )
                if waited >= RECENT_SECONDS:
                    raise DeadLetterError(
                        f"the copy {ref.arn} was not found for {RECENT_SECONDS:.0f} seconds after "
                        "it was started: it was deleted, or never made",
                        COPY_NOT_FOUND,
                    )
                delay, backoff = min(backoff, poll_seconds), backoff * 2
                status = "not found yet (a copy just started is not visible at once)"
            else:
                seen = True
                if on_progress is not None:
                    on_progress(info)
                if info.state == "available":
                    return info
                if info.state == "failed":
                    raise DeadLetterError(
                        f"copy {ref.arn} failed: {copy_failure(info)}", COPY_FAILED
                    )
                delay = poll_seconds
                status = f"still {info.state} ({info.progress:.0f}%)"
            if timeout_seconds is not None and waited >= timeout_seconds:
                raise RetryableError(f"{ref.arn} is {status}")
            sleep(delay)

    # ----------------------------------------------------------------------------- plumbing
    def _ec2(self, region: str) -> Any:
        return self._clients("ec2", region)

    def _rds(self, region: str) -> Any:
        return self._clients("rds", region)

    @staticmethod
    def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        if client.can_paginate(operation):
            for page in client.get_paginator(operation).paginate(**params):
                yield from page.get(key, [])
        else:
            yield from getattr(client, operation)(**params).get(key, [])

    def _ebs_info(self, row: dict[str, Any], region: str) -> SnapshotInfo:
        progress_text = str(row.get("Progress") or "0%").rstrip("%") or "0"
        return SnapshotInfo(
            ref=SnapshotRef(
                "EBS", row["SnapshotId"], region, row.get("OwnerId", self.account), self.partition
            ),
            state=_EBS_STATES.get(row.get("State", "pending"), "pending"),
            progress=float(progress_text),
            encrypted=bool(row.get("Encrypted")),
            kms_key_id=row.get("KmsKeyId"),
            created=row.get("StartTime"),
            tags=tag_dict(row.get("Tags")),
            description=row.get("Description", ""),
            message=row.get("StateMessage", ""),
            status=str(row.get("State", "")),
        )

    def _rds_state(self, status: str) -> State:
        if status == "available":
            return "available"
        if status in _RDS_FAILED:
            return "failed"
        if status == "deleting":
            return "deleting"
        return "pending"

    def _rds_info(self, row: dict[str, Any], region: str) -> SnapshotInfo:
        ref = SnapshotRef.from_arn(row["DBSnapshotArn"]) if row.get("DBSnapshotArn") else None
        return SnapshotInfo(
            ref=ref
            or SnapshotRef(
                "RDS", row["DBSnapshotIdentifier"], region, self.account, self.partition
            ),
            state=self._rds_state(row.get("Status", "creating")),
            progress=float(row.get("PercentProgress", 0)),
            encrypted=bool(row.get("Encrypted")),
            kms_key_id=row.get("KmsKeyId"),
            created=row.get("OriginalSnapshotCreateTime") or row.get("SnapshotCreateTime"),
            tags=tag_dict(row.get("TagList")),
            message=row.get("Status", ""),
            copied_from_region=row.get("SourceRegion"),
            status=str(row.get("Status", "")),
        )

    def _aurora_info(self, row: dict[str, Any], region: str) -> SnapshotInfo:
        arn = row.get("DBClusterSnapshotArn")
        ref = SnapshotRef.from_arn(arn) if arn else None
        return SnapshotInfo(
            ref=ref
            or SnapshotRef(
                "AURORA", row["DBClusterSnapshotIdentifier"], region, self.account, self.partition
            ),
            state=self._rds_state(row.get("Status", "creating")),
            progress=float(row.get("PercentProgress", 0)),
            encrypted=bool(row.get("StorageEncrypted")),
            kms_key_id=row.get("KmsKeyId"),
            created=row.get("SnapshotCreateTime"),
            tags=tag_dict(row.get("TagList")),
            message=row.get("Status", ""),
            copied_from_region=_region_of(row.get("SourceDBClusterSnapshotArn")),
            status=str(row.get("Status", "")),
        )


@dataclass(frozen=True)
class _OlderKey:
    """The copy key a copy for ``destination_account`` had before the key named that account."""

    key: str
    destination_account: str

    def matches(self, info: SnapshotInfo) -> bool:
        return info.tags.get(TAG_DESTINATION_ACCOUNT) == self.destination_account


def copy_refusal(source: SnapshotInfo) -> str | None:
    """Why ``source`` is never copied, or None. An unencrypted Aurora cluster snapshot cannot be
    encrypted on copy (CopyDBClusterSnapshot refuses ``KmsKeyId`` for it)."""
    if source.ref.kind == "AURORA" and not source.encrypted:
        return (
            f"{source.ref.arn} is an unencrypted Aurora cluster snapshot, which cannot be "
            "encrypted on copy: restore it into an encrypted cluster and snapshot that instead"
        )
    return None


def copy_failure(info: SnapshotInfo) -> str:
    """Why the copy ``info``, in a failed state, failed: the service's message (EBS
    ``StateMessage``, e.g. ``Given key ID is not accessible``, or an event's cause). RDS and
    Aurora report no reason in a snapshot's description, only its status (``failed``): for
    them, the ``aws rds describe-events`` command that tells it (RDS keeps events 14 days and
    by default returns only the last hour's: the command asks for all 14)."""
    if info.message and info.message != info.status:
        return info.message
    if info.ref.kind == "EBS":
        return "EC2 gives no reason"
    source_type = "db-snapshot" if info.ref.kind == "RDS" else "db-cluster-snapshot"
    return (
        f"status '{info.status or info.state}', RDS gives no reason in the snapshot's "
        f"description; its events do: aws rds describe-events --region {info.ref.region} "
        f"--source-type {source_type} --source-identifier {info.ref.id} --duration 20160"
    )


def shared_origin(info: SnapshotInfo) -> Origin | None:
    """The origin the description of ``info``, an EBS snapshot, names, only if that origin is of
    the snapshot's owner (the account EC2 reports, ``OwnerId``); else None (for RDS and Aurora
    too, whose snapshots carry no origin). The owner writes the description: it can say which of
    its own snapshots a staging copy copies, never claim another account's, whose copies (same
    ``kmskit:copy-key``) would then be taken for this one's."""
    if info.ref.kind != "EBS":
        return None
    origin = Origin.from_description(info.description)
    return origin if origin is not None and origin.account == info.ref.account else None


def source_failure(source: SnapshotInfo) -> str | None:
    """Why ``source`` is never copied because of its state, or None.

    A snapshot in a failed state (EBS ``error`` or ``recoverable``, RDS/Aurora ``failed``,
    ``incompatible-restore`` ...) does not become available by itself, so waiting for it as for
    a snapshot still being created (``pending``, ``creating``) would only retry until the retries
    run out. The reason names the snapshot, its state and the service's message, if any.
    """
    if source.state != "failed":
        return None
    status = source.status or source.state
    detail = f" ({source.message})" if source.message and source.message != status else ""
    return (
        f"the source snapshot {source.ref.arn} is in state '{status}'{detail}, a failed state "
        "it does not leave by itself: it is not copied (take a new snapshot)"
    )


def _region_of(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def client_factory(settings: ClientSettings, **client_options: Any) -> ClientFactory:
    """A caching factory over :class:`kmskit.clients.ClientSettings` (one client per service
    and Region); ``client_options`` go to every client's botocore config (e.g. timeouts)."""
    cache: dict[tuple[str, str], Any] = {}

    def clients(service: str, region: str) -> Any:
        if (service, region) not in cache:
            cache[(service, region)] = settings.client(service, region=region, **client_options)
        return cache[(service, region)]

    return clients
