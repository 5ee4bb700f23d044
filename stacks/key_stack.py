"""KeyStack: the keys of one account in one Region."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from constructs_lib import CustomerManagedKey
from stacks.config import Environment


class KeyStack(Stack):
    """The account's data key (symmetric, rotated, AWS default policy).

    Attributes:
        data_key: the :class:`CustomerManagedKey` other stacks of the account encrypt with.
    """

    def __init__(
        self, scope: Construct, id: str, *, environment: Environment, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.data_key = CustomerManagedKey(
            self,
            "DataKey",
            alias=f"alias/{environment.account.alias}/data",
            description=f"Data key of {environment.account.alias} in {environment.region}",
        )
