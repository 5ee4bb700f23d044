"""Input and output that never leaves a half-written file.

:func:`atomic_output` writes to a temporary file next to the target and renames it into place
only when the writer finished without an exception and the file is flushed to disk, then
flushes the directory so that the new name is durable too; ``-`` means standard output. On Linux the
temporary file has no name until then (``O_TMPFILE``), so not even SIGKILL leaves it behind.
Elsewhere (macOS, Windows, a Linux without ``/proc``) it is a hidden ``.NAME.<random>.partial``
file next to the target, removed on any failure Python sees; one killed outright leaves it.

:func:`check_input` and :func:`check_output` let a command refuse a bad path (missing, a
directory, not readable or writable) before it calls AWS, with a message naming the argument.
File errors become kmskit errors that name the file (see
:func:`kmskit.errors.from_os_error`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO, cast

from kmskit.errors import (
    AccessDeniedError,
    KmskitError,
    UsageError,
    from_os_error,
    os_error_class,
)

STDIO = "-"


class FolderNotFlushedError(KmskitError):
    """:func:`atomic_output` wrote the file and put it in place (renamed onto the target, or
    linked as a new file), but fsync(2) of its folder failed (an ``EIO``): the file holds the
    whole output, yet its new name may not survive a crash (:func:`_not_flushed` words it).
    Exit code 1, as any other file error."""


def _not_flushed(path: str | os.PathLike[str], error: OSError) -> FolderNotFlushedError:
    return FolderNotFlushedError(
        f"'{path}' was written but its folder could not be flushed "
        f"({error.strerror or error}): the new name may not survive a crash"
    )


def _label(argument: str | None, default: str) -> str:
    return f"'{argument}'" if argument else default


def standard_output() -> TextIO:
    """``sys.stdout``; :class:`~kmskit.errors.UsageError` when standard output is closed
    (``>&-``: Python then has no ``sys.stdout``), to be raised before any AWS call rather than
    with a traceback once the output is due."""
    if sys.stdout is None:
        raise UsageError(
            "standard output is closed (started with >&-): kmskit writes its output or report "
            "there; give it one (>/dev/null discards it) or an OUTPUT file"
        )
    return sys.stdout


def standard_input(argument: str | None = None) -> TextIO:
    """``sys.stdin``, which ``argument`` (default None: the input) names as ``-``;
    :class:`~kmskit.errors.UsageError` when standard input is closed (``<&-``)."""
    if sys.stdin is None:
        raise UsageError(
            f"{_label(argument, 'the input')} is - (standard input), but standard input is "
            "closed (started with <&-): give a file, or open standard input"
        )
    return sys.stdin


def check_input(path: str | os.PathLike[str], argument: str | None = None) -> None:
    """Raise unless ``path`` is ``-`` (with standard input open) or a file this process may
    read.

    ``argument`` (e.g. ``INPUT``, ``--material``) names the option in the message. Missing:
    :class:`~kmskit.errors.NotFoundError`; a directory or a closed standard input:
    ``UsageError``; not readable: ``AccessDeniedError``.
    """
    if str(path) == STDIO:
        standard_input(argument)
        return
    label = _label(argument, "the input")
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise os_error_class(error)(
            f"{label} must be a readable file. Received: '{path}' ({error.strerror or error})"
        ) from error
    if stat.S_ISDIR(mode):
        raise UsageError(f"{label} must be a readable file, not a directory. Received: '{path}'")
    if not os.access(path, os.R_OK):
        raise AccessDeniedError(
            f"{label} must be a readable file. Received: '{path}' (Permission denied)"
        )


def check_output(path: str | os.PathLike[str], argument: str | None = None) -> None:
    """Raise unless ``path`` is ``-`` or a file :func:`atomic_output` can create.

    The path must not be a directory, and its parent must be an existing directory this process
    may write in (the temporary file is made there). ``argument`` names the option in the
    message. A missing directory: :class:`~kmskit.errors.NotFoundError`; a directory as the
    target, a file as the parent or ``-`` with standard output closed: ``UsageError``; not
    writable: ``AccessDeniedError``.
    """
    if str(path) == STDIO:
        standard_output()
        return
    label = _label(argument, "the output")
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{label} must be a file, not a directory. Received: '{path}'")
    if _special_file(target):
        # A device, FIFO or socket (or a link to one) is written in place: no temporary file.
        if not os.access(target, os.W_OK):
            raise AccessDeniedError(
                f"{label} must be writable. Received: '{path}' (Permission denied)"
            )
        return
    # A symbolic link is written at its target (see atomic_output): check that directory.
    parent = _resolved(target).parent
    try:
        mode = os.stat(parent).st_mode
    except OSError as error:
        raise os_error_class(error)(
            f"{label} must be in an existing directory. Received: '{path}' "
            f"('{parent}': {error.strerror or error})"
        ) from error
    if not stat.S_ISDIR(mode):
        raise UsageError(
            f"{label} must be in a directory. Received: '{path}' ('{parent}' is not a directory)"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AccessDeniedError(
            f"{label} must be in a directory you may write to. Received: '{path}' "
            f"('{parent}': Permission denied)"
        )


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str],
    *,
    mode: int = 0o600,
    exclusive: bool = False,
    refuse_special: bool = False,
) -> Iterator[BinaryIO]:
    """Yield a binary file; on success it becomes ``path``, on failure nothing is left behind.

    The new file gets permissions ``mode`` (default owner read/write only: outputs are often
    plaintext or key material). On Windows a mode sets only the read-only flag: the file gets
    the permissions its folder passes on (ACLs), so private output belongs in a folder only
    its user may read, such as one under ``%USERPROFILE%``. The path is checked with
    :func:`check_output` first; a file error while creating, writing, flushing or renaming the
    file becomes a :class:`~kmskit.errors.KmskitError` naming ``path`` (``could not write
    'out.bin': No space left on device``; on Windows also a target another program holds open:
    ``Access is denied``; a ``BrokenPipeError`` is left as it is: the reader went away, see
    :mod:`kmskit.cli`). Only a failure to flush the folder once the file is in place (an I/O
    error) leaves the new file there: a :class:`FolderNotFlushedError` says so (``'out.bin'
    was written but its folder could not be flushed (Input/output error): the new name may
    not survive a crash``). With ``exclusive`` (default False) an existing ``path`` is never
    replaced: one that exists already (a symbolic link too, even a dangling one) is refused
    at once with a :class:`~kmskit.errors.UsageError`, and so is one created while the file
    was being written: the finished file is hard-linked into place, which fails if ``path``
    exists (on a file system without hard links, ``path`` is created exclusively and the file
    renamed onto it).

    A symbolic link (without ``exclusive``) is followed: the temporary file is made next to
    the file it points to and renamed onto that file, so the link stays and its target gets
    the output. An existing ``path`` that is not a regular file (a character device such as
    ``/dev/null``, a FIFO, a socket, or a link to one), and ``/dev/stdout``, ``/dev/fd/N`` or
    ``/proc/self/fd/N``, is opened and written in place as the output is produced (also with
    ``exclusive``: it is written, not replaced): no temporary file, no rename (which would
    replace the device or FIFO with a regular file), and no atomicity. ``refuse_special``
    refuses such a path instead (``UsageError``), for output that must go to a new file
    (generated key material).
    """
    if str(path) == STDIO:
        stdout = standard_output().buffer
        yield _output(stdout, "standard output")
        _flushed(stdout, "standard output")
        return
    check_output(path)
    target = Path(path)
    if _special_file(target):
        if refuse_special:
            raise UsageError(
                f"could not write '{path}': it exists (a device, FIFO or socket); "
                "give the name of a new file"
            )
        with _special_output(path) as special:
            yield special
        return
    if exclusive and existing_output(target):
        raise UsageError(f"could not write '{path}': it exists; it was left as it is")
    if not exclusive:
        target = _resolved(target)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        unnamed = _unnamed_file(folder, mode)
    except OSError as error:
        raise from_os_error(error, f"write '{path}'") from error
    if unnamed is not None:
        with _closing(unnamed, f"'{path}'"):
            yield _output(unnamed, f"'{path}'")
            try:
                unnamed.flush()
                os.fsync(unnamed.fileno())
                _name_unnamed(unnamed, target, path, exclusive=exclusive)
            except OSError as error:
                raise from_os_error(error, f"write '{path}'") from error
        return
    with _named_output(target, path, mode=mode, exclusive=exclusive) as named:
        yield named


@contextlib.contextmanager
def atomic_text_output(
    path: str | os.PathLike[str], *, exclusive: bool = False
) -> Iterator[TextIO]:
    """:func:`atomic_output` as UTF-8 text, line endings written as given (``newline=""``, as
    the csv module wants): ``-`` is standard output's bytes, anything else becomes ``path``
    only when the writer finished without an exception. ``exclusive``: as
    :func:`atomic_output` (default False)."""
    with atomic_output(path, exclusive=exclusive) as handle:
        stream = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        try:
            yield stream
        finally:
            stream.flush()
            stream.detach()


@contextlib.contextmanager
def _named_output(
    target: Path, path: str | os.PathLike[str], *, mode: int, exclusive: bool
) -> Iterator[BinaryIO]:
    """:func:`atomic_output` where there are no unnamed files: a ``.NAME.<random>.partial``
    file next to ``target``, renamed (or, ``exclusive``, linked) onto it when complete."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        handle = _named_temporary_file(folder, target.name)
    except OSError as error:
        raise from_os_error(error, f"write '{path}'") from error
    try:
        os.chmod(handle.name, mode)
        with _closing(handle, f"'{path}'"):  # type: ignore[arg-type]
            yield _output(handle, f"'{path}'")  # type: ignore[arg-type]
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as error:
                raise from_os_error(error, f"write '{path}'") from error
        try:
            _put_in_place(handle.name, target, path, exclusive=exclusive)
        except OSError as error:
            raise from_os_error(error, f"write '{path}'") from error
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


def _named_temporary_file(folder: Path, name: str) -> tempfile._TemporaryFileWrapper[bytes]:
    return tempfile.NamedTemporaryFile(
        dir=folder, prefix=f".{name}.", suffix=".partial", delete=False
    )


def _put_in_place(
    written: str, target: Path, path: str | os.PathLike[str], *, exclusive: bool
) -> None:
    if exclusive:
        _link_new(written, target, path)
    else:
        os.replace(written, target)
    _sync_directory(target.parent, path)


# fsync(2) of a directory: a file system that cannot sync one answers EINVAL (EBADF, ENOTSUP
# on some others); open(2) of a directory one may write in but not read answers EACCES. The
# file's own data is on disk by then (fsynced before its link or rename); only the durability
# of its name is then left to the file system, as before.
_CANNOT_SYNC_DIRECTORY = frozenset(
    {errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES, errno.EPERM}
)


def _sync_directory(folder: Path, path: str | os.PathLike[str]) -> None:
    """fsync(2) ``folder`` after a name was linked or renamed into it: the file's own fsync does
    not cover its directory entry, so without this a crash just after the command reported the
    file written (and went on: imported the key material saved there) could lose the file.
    Skipped where it cannot be done: no ``O_DIRECTORY`` (Windows, where a directory cannot be
    opened as a file), or a file system or directory that refuses
    (:data:`_CANNOT_SYNC_DIRECTORY`). Any other failure of the fsync (an I/O error) is a
    :class:`FolderNotFlushedError` naming ``path``: the file was written and stays."""
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | flag)
    except OSError as error:
        if error.errno in _CANNOT_SYNC_DIRECTORY:
            return
        raise _not_flushed(path, error) from error
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in _CANNOT_SYNC_DIRECTORY:
            raise _not_flushed(path, error) from error
    finally:
        os.close(descriptor)


# link(2) fails with these where the file system has no hard links (FAT, exFAT, some shares).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})
# Linking /proc/self/fd/N fails with these where /proc is not the usual one (some sandboxes):
# the unnamed file is then copied instead.
_CANNOT_LINK_DESCRIPTOR = _NO_HARD_LINKS | {errno.EXDEV, errno.ENOENT}
# open(2): file systems without O_TMPFILE answer with one of these.
_NO_UNNAMED_FILES = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL})


def _unnamed_file(folder: Path, mode: int) -> BinaryIO | None:
    """A file without a name in ``folder`` (Linux's ``O_TMPFILE``), or None where there is none.

    A process killed outright (SIGKILL, the out-of-memory killer) while writing it leaves
    nothing behind; the file gets its name only when it is complete (:func:`_name_unnamed`)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        descriptor = os.open(folder, flag | os.O_RDWR, mode)
    except OSError as error:
        if error.errno in _NO_UNNAMED_FILES:
            return None
        raise
    try:
        os.fchmod(descriptor, mode)  # the mode given to open is reduced by the umask
        return os.fdopen(descriptor, "w+b")
    except BaseException:
        os.close(descriptor)
        raise


def _name_unnamed(
    unnamed: BinaryIO, target: Path, path: str | os.PathLike[str], *, exclusive: bool
) -> None:
    """Give the finished ``unnamed`` file its name: ``target`` (exclusive), or a temporary
    name renamed onto ``target``. Where hard links fail, its bytes are copied to a temporary
    file instead."""
    folder = target.parent if str(target.parent) else Path(".")
    if exclusive:
        try:
            _link_descriptor(unnamed.fileno(), target)
        except FileExistsError as error:
            raise _appeared(path) from error
        except OSError as error:
            if error.errno not in _CANNOT_LINK_DESCRIPTOR:
                raise
        else:
            _sync_directory(folder, path)
            return
    temporary = _named_temporary_file(folder, target.name)
    temporary.close()
    try:
        try:
            os.unlink(temporary.name)  # link(2) never replaces a name
            _link_descriptor(unnamed.fileno(), Path(temporary.name))
        except OSError as error:
            if error.errno not in _CANNOT_LINK_DESCRIPTOR:
                raise
            _copy_to(unnamed, temporary.name)
        _put_in_place(temporary.name, target, path, exclusive=exclusive)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary.name)
        raise


def _link_descriptor(descriptor: int, name: Path) -> None:
    """linkat(2) of ``/proc/self/fd/N`` with AT_SYMLINK_FOLLOW: Python's os.link uses link(2),
    which does not follow the /proc link, unless it is given a directory descriptor."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(str(descriptor), name, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


def _copy_to(unnamed: BinaryIO, name: str) -> None:
    descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as copy:
        os.fchmod(copy.fileno(), stat.S_IMODE(os.fstat(unnamed.fileno()).st_mode))
        unnamed.seek(0)
        while chunk := unnamed.read(1 << 20):
            copy.write(chunk)
        copy.flush()
        os.fsync(copy.fileno())


def is_terminal(path: str) -> bool:
    """Whether ``path`` (``-``: standard output) is a terminal: ``-`` on a terminal,
    ``/dev/tty``, ``/dev/pts/N``, or ``/dev/stdout`` while standard output is one."""
    if path == STDIO:
        try:
            return bool(sys.stdout is not None and sys.stdout.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            return False
    try:
        if not stat.S_ISCHR(os.stat(path).st_mode):
            return False
        # Opened without blocking and without becoming the controlling terminal (flags that
        # Windows does not have, nor need: CON, NUL); nothing is written. A device that cannot
        # be opened is left to the writer to report.
        flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NONBLOCK", 0)
        descriptor = os.open(path, flags)
    except OSError:
        return False
    try:
        return os.isatty(descriptor)
    finally:
        with contextlib.suppress(OSError):
            os.close(descriptor)


def refuse_shared_file(path: str, argument: str, what: str, remedy: str) -> None:
    """Raise :class:`~kmskit.errors.UsageError` (before any AWS call) when ``what`` (plaintext
    key material) would go to a regular file whose mode gives group or others access to it
    (see :func:`_shared_file_mode`): ``> key.json`` under the usual umask 022 makes one with
    mode 0644 before kmskit runs. Only the file's own mode counts: one in a directory that no
    one else may enter is refused too. The message names ``argument``, says ``remedy`` (what
    to give instead), how to make the file private, and the file's mode."""
    mode = _shared_file_mode(path)
    if mode is None:
        return
    where = "standard output is" if path == STDIO else "it is"
    raise UsageError(
        f"'{argument}' would put {what} in a file whose mode gives group or others access to "
        f"it: {remedy}, or make "
        "the file private first (chmod 600 FILE, or umask 077 before redirecting). "
        f"Received: {path} ({where} a file with mode {mode:04o}, "
        f"{stat.filemode(stat.S_IFREG | mode)})"
    )


def _shared_file_mode(path: str) -> int | None:
    """The permission bits of the regular file that ``path`` is written to in place (see
    :func:`writes_in_place`: ``-`` when the shell sent standard output to a file,
    ``/dev/stdout``, ``/dev/fd/N``), when its group or others have any permission on it; else
    None. A new file :func:`atomic_output` makes gets its own mode (0600); a terminal, pipe or
    device is no such file; a file only its owner may use is private. Windows has no such
    bits (None)."""
    if os.name == "nt" or not writes_in_place(path):
        return None
    try:
        if path == STDIO:
            if sys.stdout is None:
                return None
            mode = os.fstat(sys.stdout.fileno()).st_mode
        else:
            mode = os.stat(path).st_mode
    except (OSError, ValueError, AttributeError):  # no fileno (a capture), a closed stream
        return None
    if not stat.S_ISREG(mode) or not mode & 0o077:
        return None
    return stat.S_IMODE(mode)


def existing_output(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`atomic_output` with ``exclusive`` refuses ``path`` because something is
    there: it exists (a symbolic link counts, even a dangling one) and is not written in place
    (see :func:`writes_in_place`: ``-``, a device, FIFO or socket is never refused)."""
    return not writes_in_place(path) and os.path.lexists(path)


def writes_in_place(path: str | os.PathLike[str]) -> bool:
    """Whether :func:`atomic_output` writes ``path`` as the output is produced, with no
    temporary file: ``-`` (stdout), and an existing path that is not a regular file (a device,
    FIFO or socket) or is one of this process's open files (``/dev/stdout``, ``/dev/fd/N``)."""
    return str(path) == STDIO or _special_file(Path(path))


def _special_file(path: Path) -> bool:
    """Whether ``path`` exists (following links) and is neither a regular file nor a directory
    (a device, FIFO or socket, which a rename would replace rather than write), or is one of
    this process's open files (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``, or a link
    to one), which has no directory to put a temporary file in."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    if stat.S_ISDIR(mode):
        return False
    return not stat.S_ISREG(mode) or _open_file_link(path)


_OPEN_FILE_LINKS = ("/proc/", "/dev/fd/")


def _open_file_link(path: Path) -> bool:
    """Whether ``path`` or a link in its chain of symbolic links is under /proc or /dev/fd."""
    return any(step.startswith(_OPEN_FILE_LINKS) for step in _link_chain(path))


def _link_chain(path: str | os.PathLike[str]) -> Iterator[str]:
    """``path`` (absolute), then each path its chain of symbolic links leads to, the last one
    not a link (at most 40 links, the kernel's limit)."""
    current = os.path.abspath(path)
    for _ in range(40):
        yield current
        if not os.path.islink(current):
            return
        current = os.path.abspath(os.path.join(os.path.dirname(current), os.readlink(current)))


def _resolved(path: Path) -> Path:
    """``path`` with symbolic links followed (also a dangling link: the path it names).

    Raises :class:`~kmskit.errors.AccessDeniedError` for a link that Linux's
    ``fs.protected_symlinks`` would not let ``open(2)`` follow (see :func:`may_follow_link`):
    the output is renamed onto the link's target, so the kernel's own check never runs. Where
    there are no user IDs (Windows: no ``os.geteuid``, no sticky directories) there is no such
    rule either: the link is followed."""
    if not os.path.islink(path):
        return path
    for current in _link_chain(path) if hasattr(os, "geteuid") else ():
        if not os.path.islink(current):
            break
        directory = os.path.dirname(current)
        link, folder = os.lstat(current), os.stat(directory)
        if not may_follow_link(link.st_uid, folder.st_mode, folder.st_uid, os.geteuid()):
            raise AccessDeniedError(
                f"'{path}' must not be a symbolic link that another user (uid {link.st_uid}) "
                f"made in the shared directory '{directory}' (world-writable and sticky, as "
                f"/tmp is): it could point the output anywhere you may write, and the kernel "  # noqa: S108
                f"(fs.protected_symlinks) would not follow it either. Received: '{path}' -> "
                f"'{os.readlink(current)}'"
            )
    return Path(os.path.realpath(path))


def may_follow_link(link_owner: int, directory_mode: int, directory_owner: int, user: int) -> bool:
    """Whether ``user`` may follow a link owned by ``link_owner`` in a directory of that mode
    and owner, by Linux's ``fs.protected_symlinks`` rule: always outside a world-writable
    sticky directory; inside one, only a link of the user or of the directory's owner."""
    shared = directory_mode & stat.S_ISVTX and directory_mode & stat.S_IWOTH
    return not shared or link_owner in (user, directory_owner)


@contextlib.contextmanager
def _special_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """``path`` (a device, FIFO or socket, or an open file of this process) opened for writing,
    in place. A FIFO's open waits for its reader, as any writer's does."""
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0)
    with contextlib.suppress(OSError):
        if stat.S_ISREG(os.stat(path).st_mode):
            flags |= os.O_APPEND  # /dev/stdout sent to a file by the shell: `>` and `>>` alike
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise from_os_error(error, f"write '{path}'") from error
    with _closing(open(fd, "wb"), f"'{path}'") as handle:
        yield _output(handle, f"'{path}'")
        _flushed(handle, f"'{path}'")


@contextlib.contextmanager
def _closing(file: BinaryIO, name: str) -> Iterator[BinaryIO]:
    """``file``, closed at the end of the block. When the block fails, the file is closed
    quietly: closing flushes the bytes a failed write left buffered, which fails again (a full
    disk) and would replace the block's error, which names the file, with a bare ``OSError``;
    those bytes are dropped with the output anyway."""
    try:
        yield file
    except BaseException:
        with contextlib.suppress(OSError):
            file.close()
        raise
    try:
        file.close()
    except BrokenPipeError:
        raise  # the reader of a FIFO went away (see kmskit.cli)
    except OSError as error:
        raise from_os_error(error, f"write {name}") from error


class _Output:
    """The file :func:`atomic_output` yields: ``file`` itself, but an ``OSError`` from writing
    to it (``ENOSPC``, ``EDQUOT``, ``EIO``, ``/dev/full``) becomes a
    :class:`~kmskit.errors.KmskitError` naming ``name``. Only what is written is mapped: an
    ``OSError`` of the writer's own (reading its input) is not about the output. A
    ``BrokenPipeError`` (the reader of stdout or a FIFO went away) is left as it is, for
    :mod:`kmskit.cli` to end the command quietly."""

    def __init__(self, file: BinaryIO, name: str) -> None:
        self._file = file
        self._name = name

    def write(self, data: Any) -> int:
        try:
            return self._file.write(data)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise from_os_error(error, f"write {self._name}") from error

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        _flushed(self._file, self._name)

    def __getattr__(self, name: str) -> Any:
        # Everything else (fileno, closed, writable, seekable, ...) is the file's own.
        return getattr(self._file, name)


def _output(file: BinaryIO, name: str) -> BinaryIO:
    return cast(BinaryIO, _Output(file, name))


def _flushed(file: BinaryIO, name: str) -> None:
    """Flush ``file``; a file error (but a broken pipe) names ``name`` (see :class:`_Output`)."""
    try:
        file.flush()
    except BrokenPipeError:
        raise  # the reader of stdout or a FIFO went away (see kmskit.cli)
    except OSError as error:
        raise from_os_error(error, f"write {name}") from error


def _link_new(written: str, target: Path, path: str | os.PathLike[str]) -> None:
    """Put ``written`` at ``target`` unless something is there already, then drop ``written``.

    Without hard links, ``target`` is first created empty with ``O_EXCL`` (which fails if it
    exists) and ``written`` renamed over it."""
    try:
        os.link(written, target)
    except FileExistsError as error:
        raise _appeared(path) from error
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError as exists:
            raise _appeared(path) from exists
        try:
            os.replace(written, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(target)  # the empty file made above
            raise
        return
    os.unlink(written)


def _appeared(path: str | os.PathLike[str]) -> UsageError:
    return UsageError(
        f"could not write '{path}': the file appeared while this command ran; it was left as it is"
    )


@contextlib.contextmanager
def open_input(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``path`` for binary reading; ``-`` means standard input."""
    if str(path) == STDIO:
        yield standard_input().buffer
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise from_os_error(error, f"read '{path}'") from error
    with handle:
        yield handle


def input_size(path: str | os.PathLike[str]) -> int | None:
    """The size of ``path`` in bytes, or None for standard input and pipes."""
    if str(path) == STDIO:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None
