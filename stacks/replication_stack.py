"""Snapshot replication: sources in the workload accounts, receivers in the backup account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from constructs_lib import (
    CustomerManagedKey,
    ReplicationDestination,
    SnapshotReceiver,
    SnapshotReplicator,
)
from stacks.config import Organisation


class SnapshotSourceStack(Stack):
    """A workload account's replicator in one Region, copying to
    ``ReplicationConfig.destinations_from(region)`` (the organisation makes none in a Region
    where that is empty).

    Same-account destinations (other Regions) get copies encrypted with that Region's snapshot
    key; backup-account destinations get a staging copy encrypted with the sharing (snapshot) key
    of that Region, which the backup account's receiver re-encrypts with its own key.
    ``copy_tags`` (the account's configured tags, ``Organisation.tags_of``) go on every copy the
    replicator makes, staging copies included. Default: None (none).

    Attributes:
        replicator: the :class:`SnapshotReplicator`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organisation: Organisation,
        region: str,
        snapshot_keys: dict[str, CustomerManagedKey],
        copy_tags: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        # Keys of other Regions of the same account come in as cross-Region references.
        super().__init__(scope, id, cross_region_references=True, **kwargs)
        replication = organisation.replication
        destinations = [
            ReplicationDestination(
                region=destination.region,
                kms_key_arn=snapshot_keys[destination.region].key_arn,
                account=destination.account.id if destination.account is not None else None,
            )
            for destination in replication.destinations_from(region)
        ]
        self.replicator = SnapshotReplicator(
            self,
            "Replicator",
            destinations=destinations,
            resource_types=list(replication.resource_types),
            selection_tag=replication.selection_tag,
            retention=Duration.days(replication.retention_days),
            copy_tags=copy_tags,
        )


class SnapshotReceiverStack(Stack):
    """The backup account's receiver in one Region: copies what the workload accounts share,
    re-encrypted with the backup account's own data key. ``copy_tags`` (the backup account's
    configured tags) go on every copy the receiver makes. Default: None (none).

    Attributes:
        receiver: the :class:`SnapshotReceiver`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        organisation: Organisation,
        backup_key: CustomerManagedKey,
        copy_tags: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.receiver = SnapshotReceiver(
            self,
            "Receiver",
            source_accounts=[a.id for a in organisation.accounts_with_role("workload")],
            kms_key=backup_key.key,
            resource_types=list(organisation.replication.resource_types),
            retention=Duration.days(organisation.replication.retention_days),
            copy_tags=copy_tags,
        )
