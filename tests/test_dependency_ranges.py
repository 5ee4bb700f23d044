"""pyproject.toml's ranges and requirements.txt's pins agree, and every range has a floor that
`make floors` can test (tests/_support/floors.py; it needs the package index, this does not)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests._support.floors import declared_requirements, lowest_admitted

ROOT = Path(__file__).resolve().parent.parent
DECLARED = declared_requirements(ROOT / "pyproject.toml")


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if text := line.split("#", 1)[0].strip():
            requirement = Requirement(text)
            (spec,) = requirement.specifier
            found[canonicalize_name(requirement.name)] = Version(spec.version)
    return found


@pytest.mark.parametrize("requirement", DECLARED, ids=str)
def test_ci_pins_a_version_the_range_admits(requirement: Requirement) -> None:
    pinned = pins().get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{requirement.name} is not pinned in requirements.txt"
    assert requirement.specifier.contains(pinned), f"{requirement.name}=={pinned}: {requirement}"
    # ... and has a lower bound, which `make floors` installs.
    assert lowest_admitted(requirement, [pinned]) == pinned


def test_the_floor_is_the_lowest_release_a_range_admits() -> None:
    releases = [Version(v) for v in ("22.20.0", "24.19.0", "24.11.1", "25.0.0rc1", "23.0.0")]
    assert lowest_admitted(Requirement("x>=24"), releases) == Version("24.11.1")
    assert lowest_admitted(Requirement("x>=24,<24.12"), releases) == Version("24.11.1")


def test_a_range_without_a_lower_bound_is_refused() -> None:
    with pytest.raises(SystemExit, match="lower bound"):
        lowest_admitted(Requirement("x<25"), [Version("24.11.1")])
    with pytest.raises(SystemExit, match="no release"):
        lowest_admitted(Requirement("x>=26"), [Version("24.11.1")])
