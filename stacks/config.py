"""The organisation the example app deploys: accounts, roles and Regions, from cdk.json context.

``load_organisation`` validates the configuration and names the field and value of any error,
e.g. ``'kmskit:organisation.accounts.workload.id' must be a 12-digit AWS account ID.
Received: '12'``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs_lib._validation import (
    ConstructPropError,
    check_account_id,
    check_region,
    check_unique,
    require,
)

ORGANISATION_CONTEXT_KEY = "kmskit:organisation"
ROLES = ("security", "workload", "backup")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Account:
    alias: str
    id: str
    role: str


@dataclass(frozen=True)
class Environment:
    account: Account
    region: str

    @property
    def name(self) -> str:
        """``<account alias>-<region>``: the root of stack names and IDs."""
        return f"{self.account.alias}-{self.region}"


@dataclass(frozen=True)
class Organisation:
    home_region: str
    regions: tuple[str, ...]
    accounts: tuple[Account, ...]

    def environments(self) -> list[Environment]:
        """Every account in every Region, home Region first."""
        ordered = (self.home_region, *(r for r in self.regions if r != self.home_region))
        return [Environment(a, r) for a in self.accounts for r in ordered]

    def accounts_with_role(self, role: str) -> list[Account]:
        return [a for a in self.accounts if a.role == role]


def _field(path: str) -> str:
    return f"{ORGANISATION_CONTEXT_KEY}.{path}"


def load_organisation(raw: Any) -> Organisation:
    """Parse and validate the ``kmskit:organisation`` context value."""
    require(isinstance(raw, Mapping), ORGANISATION_CONTEXT_KEY, "must be an object", raw)
    regions = raw.get("regions")
    require(
        isinstance(regions, list) and len(regions) > 0,
        _field("regions"),
        "must be a non-empty list of Regions",
        regions,
    )
    for index, region in enumerate(regions):
        check_region(_field(f"regions[{index}]"), region)
    check_unique(_field("regions"), regions)
    home = raw.get("home_region", regions[0])
    check_region(_field("home_region"), home)
    require(home in regions, _field("home_region"), f"must be one of regions {regions}", home)

    accounts_raw = raw.get("accounts")
    require(
        isinstance(accounts_raw, Mapping) and len(accounts_raw) > 0,
        _field("accounts"),
        "must map account aliases to {id, role}",
        accounts_raw,
    )
    accounts = []
    for alias, spec in accounts_raw.items():
        require(
            isinstance(alias, str) and alias.replace("-", "").isalnum(),
            _field("accounts"),
            "must use aliases of letters, digits and '-'",
            alias,
        )
        require(isinstance(spec, Mapping), _field(f"accounts.{alias}"), "must be an object", spec)
        account_id = check_account_id(_field(f"accounts.{alias}.id"), spec.get("id"))
        role = spec.get("role")
        require(role in ROLES, _field(f"accounts.{alias}.role"), f"must be one of {ROLES}", role)
        accounts.append(Account(alias=alias, id=account_id, role=str(role)))
    check_unique(_field("accounts.*.id"), [a.id for a in accounts])
    return Organisation(home_region=str(home), regions=tuple(regions), accounts=tuple(accounts))


def cdk_json_context(path: Path = PROJECT_ROOT / "cdk.json") -> dict[str, Any]:
    """The ``context`` block of cdk.json: feature flags and the organisation."""
    try:
        context: dict[str, Any] = json.loads(path.read_text())["context"]
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise ConstructPropError(
            "cdk.json", "must be readable JSON with a 'context' object", str(error)
        ) from error
    return context
