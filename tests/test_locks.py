"""requirements.lock and requirements-dev.lock, which `make` installs with --require-hashes,
agree with requirements*.txt (a pin changed or added there without `make lock` fails here), pin
every distribution with hashes, and are what .venv holds; the Makefile installs nothing else.
Offline: the locks, the installed distributions' metadata and `make -n`."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
RUNTIME = ROOT / "requirements.txt"
DEV = ROOT / "requirements-dev.txt"
# A lock entry: `name==version`, maybe `; marker`, then ` \` and one `--hash=...` line per file.
ENTRY = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)"
    r"(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?"
)
HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})\s*\\?")


@dataclass(frozen=True)
class Locked:
    name: NormalizedName
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self) -> bool:
        """Whether pip installs this entry on the Python and platform running the tests."""
        return self.marker is None or self.marker.evaluate()


def parse_lock(path: Path) -> list[Locked]:
    """The entries of a lock that `uv pip compile --generate-hashes` wrote; anything else it
    holds (an option such as --index-url, a URL, an editable) is refused with its line."""
    entries: list[Locked] = []
    current: tuple[str, str, str | None] | None = None
    hashes: list[str] = []

    def close() -> None:
        if current is not None:
            name, version, marker = current
            entries.append(
                Locked(
                    canonicalize_name(name),
                    Version(version),
                    Marker(marker) if marker else None,
                    tuple(hashes),
                )
            )

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if line[0].isspace() and (found := HASH.fullmatch(text)) and current is not None:
            hashes.append(found["digest"])
        elif not line[0].isspace() and (found := ENTRY.fullmatch(text)):
            close()
            current, hashes = (found["name"], found["version"], found["marker"]), []
        else:
            raise AssertionError(f"{path.name}:{number}: not a pinned, hashed entry: {line!r}")
    close()
    return entries


def direct_pins(path: Path) -> dict[NormalizedName, Version]:
    """The `name==version` pins of a requirements file (extras and comments left out)."""
    pins: dict[NormalizedName, Version] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if text := line.split("#", 1)[0].strip():
            requirement = Requirement(text)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{path.name}: {text} is not pinned with =="
            pins[canonicalize_name(requirement.name)] = Version(spec.version)
    return pins


def applicable(entries: list[Locked]) -> dict[NormalizedName, Locked]:
    found: dict[NormalizedName, Locked] = {}
    for entry in entries:
        if entry.applies():
            assert entry.name not in found, f"{entry.name} is locked twice for this Python"
            found[entry.name] = entry
    return found


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [(RUNTIME, LOCK), (RUNTIME, DEV_LOCK), (DEV, DEV_LOCK)],
    ids=[
        "requirements.txt in requirements.lock",
        "requirements.txt in requirements-dev.lock",
        "requirements-dev.txt in requirements-dev.lock",
    ],
)
def test_every_direct_pin_is_locked_at_its_version(requirements: Path, lock: Path) -> None:
    locked: dict[NormalizedName, set[Version]] = {}
    for entry in parse_lock(lock):
        locked.setdefault(entry.name, set()).add(entry.version)
    problems = [
        f"{name}=={version} (the lock has {sorted(map(str, locked.get(name, ()))) or 'nothing'})"
        for name, version in direct_pins(requirements).items()
        if locked.get(name) != {version}
    ]
    assert not problems, (
        f"{requirements.name} pins what {lock.name} does not: {', '.join(problems)}. "
        "Run `make lock` and commit both locks."
    )


@pytest.mark.parametrize("lock", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_entry_is_pinned_with_hashes(lock: Path) -> None:
    entries = parse_lock(lock)
    assert len(entries) >= len(direct_pins(RUNTIME))
    unhashed = [f"{e.name}=={e.version}" for e in entries if not e.hashes]
    assert not unhashed, f"{lock.name}: no --hash for {unhashed}"
    # Several entries of one name only where their markers tell them apart.
    for name in {e.name for e in entries}:
        markers = [e.marker for e in entries if e.name == name]
        assert len(markers) == 1 or None not in markers, f"{lock.name}: {name} {markers}"


def test_the_runtime_lock_is_the_dev_lock_without_the_tools() -> None:
    """`make synth` (the pipeline's synth step) installs requirements.lock, `make setup` both:
    the distributions they share are the same files, so CI tests what the pipeline runs."""
    dev = {(e.name, e.marker): e for e in parse_lock(DEV_LOCK)}
    for entry in parse_lock(LOCK):
        other = dev.get((entry.name, entry.marker))
        assert other is not None, f"requirements.lock: {entry.name} is not in requirements-dev.lock"
        assert (other.version, other.hashes) == (entry.version, entry.hashes), entry.name
    tools = set(direct_pins(DEV)) - set(direct_pins(RUNTIME))
    assert not tools & {e.name for e in parse_lock(LOCK)}, "a test tool in requirements.lock"


def closure(roots: list[Requirement]) -> dict[NormalizedName, Requirement]:
    """What installing ``roots`` needs here, by the installed distributions' metadata (with the
    extras asked for, markers evaluated on this Python): the requirement that asked first."""
    needed: dict[NormalizedName, Requirement] = {}
    pending = [(r, "") for r in roots]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        first = name not in needed
        needed.setdefault(name, requirement)
        extras = requirement.extras if first else requirement.extras - needed[name].extras
        if not first and not extras:
            continue
        requires = importlib.metadata.distribution(name).requires or []
        for chosen in {"", *extras}:
            pending.extend((Requirement(line), chosen) for line in requires)
    return needed


def made_by_make() -> bool:
    """Whether this Python is a virtualenv that `make` built from the dev lock: .venv (make
    setup) or .venv-py<version> (make pythons), not .venv-floor or one made by hand."""
    prefix = Path(sys.prefix).resolve()
    return prefix.parent == ROOT and (
        (prefix.name == ".venv" and (prefix / ".installed-dev").exists())
        or (prefix.name.startswith(".venv-py") and (prefix / ".installed").exists())
    )


needs_make_venv = pytest.mark.skipif(
    not made_by_make(), reason="runs in a virtualenv that make built from requirements-dev.lock"
)


@needs_make_venv
@pytest.mark.parametrize(
    ("requirements", "lock"), [(RUNTIME, LOCK), (DEV, DEV_LOCK)], ids=lambda p: p.name
)
def test_the_lock_holds_every_dependency_of_what_it_pins(requirements: Path, lock: Path) -> None:
    """A dependency the lock left out makes pip refuse the lock (it has no hash for it): found
    here offline, before anyone installs it."""
    roots = [Requirement(f"{n}=={v}") for n, v in direct_pins(RUNTIME).items()]
    if requirements == DEV:
        lines = DEV.read_text(encoding="utf-8").splitlines()
        roots += [Requirement(t) for line in lines if (t := line.split("#", 1)[0].strip())]
    locked = applicable(parse_lock(lock))
    missing = [
        str(requirement)
        for name, requirement in sorted(closure(roots).items())
        if name not in locked or not requirement.specifier.contains(locked[name].version, True)
    ]
    assert not missing, f"{lock.name} lacks (or pins a version outside) {missing}: make lock"


@needs_make_venv
def test_the_virtualenv_holds_the_dev_lock_and_nothing_else() -> None:
    locked = applicable(parse_lock(DEV_LOCK))
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version)
        for d in importlib.metadata.distributions()
    }
    installed.pop(canonicalize_name("kms-toolkit"))  # the checkout, editable
    differ = [
        f"{name} {installed.get(name)} (locked {entry.version})"
        for name, entry in sorted(locked.items())
        if installed.get(name) != entry.version
    ]
    strays = sorted(set(installed) - set(locked))
    rebuild = "rebuild it: rm -r it, then make setup (or make pythons)"
    assert not differ, f"{sys.prefix} differs from requirements-dev.lock: {differ}; {rebuild}"
    assert not strays, (
        f"{sys.prefix} holds what requirements-dev.lock does not: {strays}; {rebuild}"
    )


@needs_make_venv
def test_a_file_two_distributions_ship_is_the_one_of_the_dependent() -> None:
    """aws-cdk-lib and aws-cdk.cloud-assembly-schema (its dependency) both ship
    aws_cdk/cloud_assembly_schema/__init__.py: the one installed last wins, and only aws-cdk-lib's
    names the jsii types its kernel sends (the other's makes Annotations fail with
    `Unknown interface: aws-cdk-lib.cloud_assembly_schema.MetadataEntry`). pip installs
    dependencies first unless told --no-deps, which the Makefile does not use for the locks."""
    owners: dict[str, list[importlib.metadata.Distribution]] = {}
    for distribution in importlib.metadata.distributions():
        for file in distribution.files or ():
            if file.hash is not None and "__pycache__" not in str(file):
                owners.setdefault(str(file), []).append(distribution)
    shared = {path: found for path, found in owners.items() if len(found) > 1}
    assert "aws_cdk/cloud_assembly_schema/__init__.py" in shared  # else: drop this test
    for path, found in sorted(shared.items()):
        names = {canonicalize_name(d.metadata["Name"]) for d in found}
        (dependent,) = [
            d
            for d in found
            if names - {canonicalize_name(d.metadata["Name"])}
            <= set(closure([Requirement(d.metadata["Name"])]))
        ]
        (record,) = [f for f in dependent.files or () if str(f) == path]
        assert record.hash is not None
        installed = (
            base64.urlsafe_b64encode(
                hashlib.new(record.hash.mode, Path(str(record.locate())).read_bytes()).digest()
            )
            .rstrip(b"=")
            .decode()
        )
        assert installed == record.hash.value, (
            f"{path} is not {dependent.metadata['Name']}'s, which needs "
            f"{sorted(names - {canonicalize_name(dependent.metadata['Name'])})}: it was "
            "installed before them (pip --no-deps?); reinstall it"
        )


def make(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``make`` run in ``cwd`` (not inside the make that may be running these tests)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@needs_make
@pytest.mark.parametrize(
    ("target", "locks"),
    [
        ("synth", ["requirements.lock"]),
        ("setup", ["requirements.lock", "requirements-dev.lock"]),
        (".venv-py3.12.1/.installed", ["requirements-dev.lock"]),
    ],
)
def test_make_installs_the_locks_hash_checked_and_nothing_else(
    target: str, locks: list[str]
) -> None:
    dry = make("-n", "-B", target)  # what it would run, all of it; nothing is run
    assert dry.returncode == 0, dry.stderr
    commands = dry.stdout.splitlines()
    installs = [c.split(" pip install ", 1)[1] for c in commands if " pip install " in c]
    assert [i for i in installs if "-r " in i] == [
        f"--quiet --require-hashes -r {lock}" for lock in locks
    ]
    # The rest: the checkout itself, built by the lock's setuptools, without dependencies.
    assert [i for i in installs if "-r " not in i] == [
        "--quiet --no-deps --no-build-isolation -e ."
    ]
    npm = [c for c in commands if re.match(r"\s*npm ", c)]
    expected = "npm ci --no-audit --no-fund --loglevel=error --ignore-scripts"
    assert npm == ([] if target.startswith(".venv-py") else [expected])


@needs_make
@pytest.mark.parametrize(
    ("changed", "stamp"),
    [
        ("requirements.lock", ".venv/.installed"),
        ("requirements-dev.lock", ".venv/.installed-dev"),
        ("requirements-dev.lock", ".venv-py3.12.1/.installed"),
    ],
)
def test_a_changed_lock_reinstalls(changed: str, stamp: str, tmp_path: Path) -> None:
    """The stamps depend on the locks: in a copy whose stamps are newer than everything else,
    the stamp is up to date, and out of date once the lock changes (make's what-if)."""
    for name in ("Makefile", "pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        shutil.copy2(ROOT / name, tmp_path / name)  # their times, older than the stamps
    target = tmp_path / stamp
    target.parent.mkdir()
    (target.parent / ".installed").touch()
    target.touch()
    assert make("-q", stamp, cwd=tmp_path).returncode == 0
    what_if = make("-n", "-W", changed, stamp, cwd=tmp_path)
    assert f"--require-hashes -r {changed}" in what_if.stdout, what_if.stdout
