"""The Lambda functions' code, staged deterministically and without Docker.

Each function's asset is a folder of its handler package (and what it imports), copied into a
per-user folder of the temporary directory and named by the hash of its content, so the CDK
asset hash depends on the code alone (no ``__pycache__``, no file times) and later synths reuse
it. Used by the snapshot replication functions and KeyGrant's provider.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from constructs_lib.jsii_channel import _not_private

ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or installed distribution) root: lambda_src/ and kmskit/ are under it."""
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


def stage(package: str, sources: Sequence[tuple[Path, str]]) -> str:
    """Copy ``sources`` (files, or folders whose ``*.py`` files are copied; each with its path
    in the asset, ``/``-separated) into a folder named ``<package>-<hash of their content>``.

    The files are copied in the order of their names, the ``*.py`` ones with Windows line
    endings (CRLF, as a checkout with git's ``core.autocrlf`` has them) made LF and nothing else
    changed (any other file byte for byte: it may be binary, where CR LF is data), so the
    folder, the code the functions run and the CDK asset hash are the same on every platform
    and depend only on the content. An existing folder of the same hash in :func:`asset_root`
    is reused; a new one is written to a temporary name and renamed into place.
    """
    files: list[tuple[bytes, str]] = []
    for source, target in sources:
        if source.is_dir():
            # By name, not by Path: Windows paths sort without regard to case.
            found = sorted(source.glob("*.py"), key=lambda p: p.name)
            files.extend((_lf(p.read_bytes()), f"{target}/{p.name}") for p in found)
        elif source.suffix == ".py":
            files.append((_lf(source.read_bytes()), target))
        else:  # not Python source: possibly binary, where CR LF may be data
            files.append((source.read_bytes(), target))
    digest = hashlib.sha256()
    for content, target in files:
        digest.update(target.encode() + b"\0" + content + b"\0")
    root = asset_root()
    final = root / f"{package}-{digest.hexdigest()[:24]}"
    if final.is_dir():
        return str(final)
    building = Path(tempfile.mkdtemp(dir=root, prefix=".building-"))
    for content, target in files:
        destination = building / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
    try:
        os.rename(building, final)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)  # another synth staged the same content
    return str(final)


def _lf(content: bytes) -> bytes:
    """``content`` with each CRLF line ending made LF."""
    return content.replace(b"\r\n", b"\n")


ASSET_ROOT_PREFIX = "kmskit-lambda-assets"


def asset_root() -> Path:
    """The folder that keeps staged assets from one synth to the next: this user's own
    ``kmskit-lambda-assets-<uid>`` in the temporary directory (``TMPDIR``), made 0700.

    Whatever a staged folder holds goes into the functions as it is found, so nobody else may
    be able to write to it (and another user's could not be read by this user's synth). One of
    that name that is not a directory, belongs to another user, or that group or others could
    change (it or a parent, sticky ones such as ``/tmp`` excepted), is not used: this synth
    stages into a new private folder of its own instead, with a warning. The asset hash is the
    same either way. On a non-POSIX system (Windows, whose temporary directory is the user's
    own): ``kmskit-lambda-assets`` there, made if missing.
    """
    temporary = Path(tempfile.gettempdir())
    if os.name != "posix":
        folder = temporary / ASSET_ROOT_PREFIX
        folder.mkdir(exist_ok=True)
        return folder
    root = temporary / f"{ASSET_ROOT_PREFIX}-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    status = root.lstat()
    if not stat.S_ISDIR(status.st_mode):
        problem: str | None = f"{root} is not a directory"
    elif status.st_uid != os.getuid():
        problem = f"{root} belongs to user id {status.st_uid}"
    else:
        problem = _not_private(root)
    if problem is None:
        return root
    own = Path(tempfile.mkdtemp(prefix=f"{ASSET_ROOT_PREFIX}-"))
    warnings.warn(
        f"The Lambda functions' code is staged in {own}, not in {root}: {problem}. Remove "
        f"{root} (or make it this user's, not writable by group or others) so that synths "
        "reuse one staged copy again.",
        RuntimeWarning,
        stacklevel=3,
    )
    return own
