"""What KMS keys cost per month, from the KMS price list (aws.amazon.com/kms/pricing, 2026-11).

One implementation, used by the constructs (each key reports its cost in template metadata) and
by ``kmskit cost`` (which sums it over synthesized templates). Request charges are not included:
they depend on traffic, not on the template. The list is the commercial ``aws`` partition's:
:func:`not_priced_reason` says why keys in any other partition are not priced.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

KEY_MONTHLY_USD = Decimal("1.00")
"""Each customer managed key, including imported-material keys and each multi-Region replica."""
ROTATION_MONTHLY_USD = Decimal("1.00")
"""Each of the first two rotations of a rotated key adds this; later rotations are free."""
MAX_BILLED_ROTATIONS = 2
PRICED_PARTITION = "aws"
"""The one partition whose KMS price list is above: the commercial Regions."""
_NOT_PRICED_REASONS = {
    "aws-cn": "billed in CNY on its own price list, which kmskit does not hold",
}


@dataclass(frozen=True)
class KeyCost:
    """Monthly cost of one key: ``monthly_usd`` now, ``max_monthly_usd`` after rotations."""

    monthly_usd: Decimal
    max_monthly_usd: Decimal
    basis: str

    def as_metadata(self) -> dict[str, str]:
        return {
            "monthlyUsd": str(self.monthly_usd),
            "maxMonthlyUsd": str(self.max_monthly_usd),
            "basis": self.basis,
        }


def key_monthly_cost(*, rotation_enabled: bool, replica: bool = False) -> KeyCost:
    """Cost of one customer managed key (AWS managed keys are free and never in a template)."""
    kind = "multi-Region replica key" if replica else "customer managed key"
    if rotation_enabled:
        return KeyCost(
            monthly_usd=KEY_MONTHLY_USD,
            max_monthly_usd=KEY_MONTHLY_USD + ROTATION_MONTHLY_USD * MAX_BILLED_ROTATIONS,
            basis=f"{kind}: $1/month, +$1/month for each of the first two rotations",
        )
    return KeyCost(
        monthly_usd=KEY_MONTHLY_USD, max_monthly_usd=KEY_MONTHLY_USD, basis=f"{kind}: $1/month"
    )


def not_priced_reason(partition: str) -> str | None:
    """Why keys in ``partition`` (``aws-cn``, ``aws-us-gov``, ...) have no USD figure here; None
    for ``aws`` (:data:`PRICED_PARTITION`), whose keys the list above prices.

    ``aws-us-gov`` is not priced either: neither the KMS price list nor the project's reference
    notes (shared/reference/aws-facts.md) say that a key in AWS GovCloud (US) costs what a
    commercial one does, so the commercial figure is not assumed for it. The same holds for the
    European Sovereign Cloud (``aws-eusc``) and the ISO partitions (``aws-iso``, ``aws-iso-b``,
    ...). China (``aws-cn``) is billed in CNY on a price list of its own.
    """
    if partition == PRICED_PARTITION:
        return None
    return _NOT_PRICED_REASONS.get(
        partition, "kmskit holds only the commercial (aws) partition's KMS price list"
    )
