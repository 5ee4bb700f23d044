"""The Lambda functions' staged code on macOS and Windows (simulated: these tests run on Linux).

A platform engineer's ``cdk synth`` on a laptop must stage the same code, under the same name,
as Linux CI: a Windows checkout with git's ``core.autocrlf`` has CRLF line endings, and Windows
sorts paths without regard to case.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path, PosixPath

import pytest

from constructs_lib import _lambda_assets
from constructs_lib._lambda_assets import ASSET_ROOT_PREFIX, stage
from constructs_lib.snapshot_replication import ASSET_SOURCES, PACKAGE, _stage_asset
from tests._support.platforms import WINDOWS_OS, os_module


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile.gettempdir() for the test: a private folder of its own."""
    folder = tmp_path / "Temp"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _contents(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_windows_stages_into_a_folder_it_makes_in_the_temporary_directory(
    temporary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    linux = Path(_stage_asset())
    expected = (linux.name, _contents(linux))
    monkeypatch.setattr(_lambda_assets, "os", os_module(**WINDOWS_OS))
    # The first synth on the machine: the folder does not exist yet.
    staged = Path(_stage_asset())
    assert staged.parent == temporary / ASSET_ROOT_PREFIX
    assert (staged.name, _contents(staged)) == expected
    assert _stage_asset() == str(staged)  # reused by the next synth


def _crlf_copy(sources: tuple[tuple[Path, str], ...], into: Path) -> list[tuple[Path, str]]:
    """``sources`` as a Windows checkout with core.autocrlf has them: every LF made CRLF."""
    copies: list[tuple[Path, str]] = []
    for index, (source, target) in enumerate(sources):
        copy = into / str(index) / source.name
        copy.parent.mkdir(parents=True)
        files = sorted(source.glob("*.py")) if source.is_dir() else [source]
        for file in files:
            destination = copy / file.name if source.is_dir() else copy
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(file.read_bytes().replace(b"\n", b"\r\n"))
        copies.append((copy, target))
    return copies


def test_a_checkout_with_crlf_line_endings_stages_the_same_code_under_the_same_name(
    temporary: Path, tmp_path: Path
) -> None:
    linux = Path(stage(PACKAGE, ASSET_SOURCES))
    expected = (linux.name, _contents(linux))
    shutil.rmtree(linux)
    windows_checkout = _crlf_copy(ASSET_SOURCES, tmp_path / "checkout")
    assert b"\r\n" in (windows_checkout[0][0] / "handler.py").read_bytes()
    staged = Path(stage(PACKAGE, windows_checkout))
    assert (staged.name, _contents(staged)) == expected
    assert b"\r" not in (staged / PACKAGE / "handler.py").read_bytes()


def test_a_lone_carriage_return_is_code_and_kept(temporary: Path, tmp_path: Path) -> None:
    source = tmp_path / "demo.py"
    source.write_bytes(b'TEXT = "a\rb"\r\nOTHER = 1\n')
    staged = Path(stage("demo", [(source, "demo.py")]))
    assert (staged / "demo.py").read_bytes() == b'TEXT = "a\rb"\nOTHER = 1\n'


def test_a_file_that_is_not_python_is_staged_byte_for_byte(temporary: Path, tmp_path: Path) -> None:
    # Binary content (a compiled module, a certificate bundle, a zip): CR LF there is data.
    data = b"\x00\xff\r\n\x89PNG\r\n\x1a\n"
    source = tmp_path / "blob.bin"
    source.write_bytes(data)
    staged = Path(stage("demo", [(source, "demo/blob.bin")]))
    assert (staged / "demo" / "blob.bin").read_bytes() == data


class _WindowsOrderPath(PosixPath):
    """A path that sorts as a WindowsPath does: without regard to case."""

    def __lt__(self, other: object) -> bool:
        return str(self).lower() < str(other).lower()


def test_files_are_staged_in_the_order_of_their_names_whatever_the_platform_sorts(
    temporary: Path, tmp_path: Path
) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "B.py").write_bytes(b"B = 1\n")
    (package / "a.py").write_bytes(b"A = 1\n")
    linux = stage("demo", [(package, "demo")])
    windows = stage("demo", [(_WindowsOrderPath(package), "demo")])
    assert windows == linux


@pytest.mark.skipif(
    shutil.which("git") is None or not (_lambda_assets.ROOT / ".git").exists(),
    reason="needs git and a checkout of the project",
)
def test_every_checkout_has_lf_line_endings_whatever_core_autocrlf_says() -> None:
    # .gitattributes: Windows checkouts get the bytes Linux CI tests (snapshots, docs) too.
    files = ["lambda_src/snapshot_replicator/handler.py", "docs/snapshots.md", "cdk.json"]
    result = subprocess.run(
        ["git", "check-attr", "text", "eol", "--", *files],
        cwd=_lambda_assets.ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    expected = [f"{name}: {attribute}" for name in files for attribute in ("text: auto", "eol: lf")]
    assert result.stdout.splitlines() == expected
