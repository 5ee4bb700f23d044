"""Build a virtualenv with the lowest version of every dependency that pyproject.toml admits.

    python tests/_support/floors.py [VENV]          (default .venv-floor; `make floors` runs it)

Reads ``[project].dependencies`` and every extra of ``[project.optional-dependencies]``, asks the
package index (``pip index versions``) which releases exist, and installs the lowest release each
range admits, next to requirements-dev.txt's test tools, in one resolve: a test tool that needs a
newer runtime dependency makes pip fail here rather than quietly test a newer one. Then the
project itself (``--no-deps -e .``), ``pip check``, and the versions installed are printed. Needs
the package index; the tests that `make floors` runs afterwards do not.

The venv gets the Python that runs this (`make floors`: .venv's, made from ``python3``: 3.11 on
this project's machines, the lowest ``requires-python`` admits), which needs ``packaging``
(pytest's dependency, in .venv) and a pip that knows ``index versions --json`` (pip 25 or later).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = ".venv-floor"


def declared_requirements(pyproject: Path) -> list[Requirement]:
    """Every requirement of the base install and of every extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines: list[str] = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def released_versions(name: str, pip: Iterable[str]) -> list[Version]:
    """The releases the index offers (no pre-release: pip lists none without ``--pre``)."""
    result = subprocess.run(
        [*pip, "index", "versions", "--json", name],
        capture_output=True,
        text=True,
        check=True,
    )
    versions: list[Version] = []
    for text in json.loads(result.stdout)["versions"]:
        try:
            versions.append(Version(text))
        except InvalidVersion:  # legacy version strings that pip would never pick either
            continue
    return versions


def lowest_admitted(requirement: Requirement, versions: Iterable[Version]) -> Version:
    if not any(spec.operator in {">=", "==", "~=", "==="} for spec in requirement.specifier):
        # Without a lower bound the "floor" is whatever ancient release the index still has,
        # which is no statement the project makes.
        raise SystemExit(f"{requirement}: give it a lower bound (>=) to test its floor")
    admitted = [v for v in versions if requirement.specifier.contains(v)]
    if not admitted:
        raise SystemExit(f"{requirement}: no release on the index satisfies it")
    return min(admitted)


def floor_pins(requirements: Iterable[Requirement], pip: Iterable[str]) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        floor = lowest_admitted(requirement, released_versions(requirement.name, pip))
        # A package named twice (in two extras, say) gets the higher of its floors.
        pins[name] = max(floor, pins.get(name, floor))
    return pins


def run(*command: str | Path) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], cwd=ROOT, check=True)


# Run by the floor venv's Python: each distribution's version and its requirements (no extra's).
PROBE = """
import json, importlib.metadata as m
print(json.dumps({d.metadata["Name"]: [d.version, d.requires or []] for d in m.distributions()}))
"""


def installed(python: Path) -> dict[str, tuple[str, list[Requirement]]]:
    result = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True, check=True)
    found: dict[str, tuple[str, list[Requirement]]] = {}
    for name, (version, lines) in json.loads(result.stdout).items():
        requirements = [Requirement(line) for line in lines]
        # Markers evaluated by this interpreter: the same Python version as the venv's.
        needed = [r for r in requirements if r.marker is None or r.marker.evaluate({"extra": ""})]
        found[canonicalize_name(name)] = (version, needed)
    return found


def main(argv: list[str]) -> int:
    venv = ROOT / (argv[0] if argv else DEFAULT_VENV)
    requirements = declared_requirements(ROOT / "pyproject.toml")
    # Asked through this interpreter's pip, which must know `index versions --json` (pip 25+).
    pins = floor_pins(requirements, (sys.executable, "-m", "pip"))

    # Always a new venv: a package left from an earlier run could stand in for a missing one.
    run(sys.executable, "-m", "venv", "--clear", venv)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(
        python,
        *("-m", "pip", "install", "--quiet", "-r", "requirements-dev.txt"),
        *(f"{name}=={version}" for name, version in sorted(pins.items())),
    )
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ".")
    run(python, "-m", "pip", "check")

    found = installed(python)
    version = {name: found[name][0] for name in found}
    wrong = {n: version.get(n) for n, v in pins.items() if version.get(n) != str(v)}
    if wrong:
        raise SystemExit(f"not installed at their floors: {wrong}")
    print(f"\n{venv.name}: every declared dependency at the lowest release its range admits")
    for requirement in requirements:
        at = version[canonicalize_name(requirement.name)]
        print(f"  {requirement.name}{requirement.specifier}: {at}")
    # What the floors pulled in, one level down (at whatever pip chose: newest, usually).
    pulled = {canonicalize_name(r.name) for n in pins for r in found[n][1]} - set(pins)
    print("  pulled in by them: " + ", ".join(f"{n} {version[n]}" for n in sorted(pulled)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
