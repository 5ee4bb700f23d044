"""DataStack: the encrypted buckets of a workload account in one Region."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from constructs_lib import CustomerManagedKey, EncryptedBucket


class DataStack(Stack):
    """An :class:`EncryptedBucket` encrypted with the account's data key (from its KeyStack).

    Attributes:
        bucket: the :class:`EncryptedBucket`.
    """

    def __init__(
        self, scope: Construct, id: str, *, data_key: CustomerManagedKey, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.bucket = EncryptedBucket(self, "Data", encryption_key=data_key)
