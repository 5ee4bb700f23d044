"""Options and helpers shared by the envelope commands (``kmskit/commands/{envelope, datakey,
small, pubkey, signing, s3object}.py``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from kmskit._io import atomic_output, input_size, open_input
from kmskit.audit import key_reference, warn_on_stderr
from kmskit.cli import settings_for_key, settings_from_args
from kmskit.envelope import (
    DEFAULT_FRAME_LENGTH,
    Envelope,
    MessageInfo,
    Readable,
    Suite,
    parse_context,
)
from kmskit.envelope_asymmetric import PublicKey, get_public_key, load_public_key
from kmskit.errors import KmskitError, UsageError, os_error_class, reworded

_NO_SECRETS = "shown in CloudTrail, so never put secrets in it"
CONTEXT_STORED_HELP = (
    "encryption context pair (repeat for more); stored in the message, authenticated and "
    + _NO_SECRETS
)
"""``--context`` of ``encrypt`` (and, with the location pair added, ``put``)."""
CONTEXT_EXACT_ON_DECRYPT_HELP = (
    "encryption context pair (repeat for more); decrypting needs exactly these pairs again; "
    + _NO_SECRETS
)
"""``--context`` of the commands whose output KMS decrypts directly (``encrypt-small``,
``datakey new``)."""
CONTEXT_SUBSET_HELP = (
    "expected encryption context pair (repeat for more); each pair given must be in the "
    "message with that value (it may hold more pairs)"
)
"""``--context`` of ``decrypt`` and ``get``: the pairs are checked against the message's."""
CONTEXT_EXACT_HELP = (
    "encryption context pair (repeat for more); exactly the pairs used to encrypt: KMS refuses "
    "a subset, more pairs or another value"
)
"""``--context`` of ``decrypt-small`` and ``datakey decrypt``: KMS Decrypt needs the whole
context the data was encrypted with."""


def add_key_option(parser: argparse.ArgumentParser, *, required: bool, help_text: str) -> None:
    parser.add_argument(
        "--key",
        required=required,
        type=key_reference,
        metavar="KEY",
        help=f"{help_text} (key ARN, key ID, alias name or alias ARN)",
    )


def add_discovery_region_option(parser: argparse.ArgumentParser) -> None:
    """``--discovery-region REGION`` of the decrypting commands (``decrypt``, ``get``): see
    :attr:`kmskit.envelope.Envelope.discovery_region`."""
    parser.add_argument(
        "--discovery-region",
        metavar="REGION",
        help="discovery mode only (no --key): call a multi-Region key the message names in "
        "REGION, with its replica there (e.g. when the Region the message was encrypted in is "
        "unavailable); a single-Region key is then used only if it is in REGION. Default: each "
        "key in its own Region",
    )


def add_discovery_account_option(parser: argparse.ArgumentParser) -> None:
    """``--discovery-account ACCOUNT`` (repeatable) of the decrypting commands (``decrypt``,
    ``get``): see :attr:`kmskit.envelope.Envelope.discovery_accounts`."""
    parser.add_argument(
        "--discovery-account",
        action="append",
        metavar="ACCOUNT",
        help="discovery mode only (no --key): decrypt only with keys of this AWS account "
        "(12-digit ID; repeat for more), in the partition of --discovery-region or else of "
        "--region; a message under another account's key is refused before any KMS call. "
        "Default: any account, and a warning on stderr after decrypting",
    )


def warn_if_unfiltered(envelope: Envelope, info: MessageInfo) -> None:
    """After ``decrypt`` or ``get`` succeeded in discovery mode without a discovery filter (no
    ``--key``, no ``--discovery-account``), say on stderr that the message chose the key (also
    with ``--quiet``, as every warning). Only on success: a failed command's one error line
    stays alone."""
    if envelope.keys or envelope.discovery_accounts:
        return
    warn_key_chosen_by_input(
        "no --key or --discovery-account: the message",
        info.key_ids,
        "Name the key (--key) or the accounts whose keys you trust (--discovery-account)",
    )


def warn_key_chosen_by_input(chose: str, key_ids: Sequence[str], advice: str) -> None:
    """The warning of a decryption that let its input choose the KMS key (``chose``: what was
    not given, and which input: "no --key: the blob"), naming the keys used and ``advice``."""
    warn_on_stderr(
        f"{chose} chose its KMS key ({', '.join(key_ids) or 'none'}), and any key you may use "
        "is accepted, also one of another account whose key policy lets you decrypt, so anyone "
        f"who may write the input could have written it. {advice}"
    )


def add_context_option(parser: argparse.ArgumentParser, *, required: bool, help_text: str) -> None:
    """``--context KEY=VALUE`` (repeatable): every command that takes an encryption context
    takes it with this option (the parser refuses a value that is not UTF-8 text).
    ``help_text`` says what the pairs do for this command: one of the ``CONTEXT_*_HELP``."""
    parser.add_argument(
        "--context",
        action="append",
        required=required,
        metavar="KEY=VALUE",
        help=help_text,
    )


def context_from(args: argparse.Namespace) -> dict[str, str]:
    return parse_context(args.context)


LIBRARY_PARAMETERS: Mapping[str, str] = {
    "keys": "--key",
    "frame_length": "--frame-length",
    "discovery_region": "--discovery-region",
    "discovery_accounts": "--discovery-account",
    "plaintext": "INPUT",
    "public_key": "--public-key",
}
"""The option (or argument) of the command line that gives each parameter of the library (see
:func:`named_as_typed`)."""


@contextlib.contextmanager
def named_as_typed(
    *parameters: str, kinds: tuple[type[KmskitError], ...] = (UsageError,)
) -> Iterator[None]:
    """Run a library call whose ``parameters`` (keys of :data:`LIBRARY_PARAMETERS`) come from
    the command line, and name the option the user typed in its errors.

    The library names its Python parameters, which is right for code that calls it (its
    messages start with the parameter: ``'frame_length' must be ...``); a
    :class:`~kmskit.errors.UsageError` (or, given ``kinds``, an error of one of those classes:
    ``sign``'s ``ConflictError`` ``'public_key' is not the public key of ...``) about one of
    ``parameters`` is raised again, same class and exit code, with the option in its place
    (``'--frame-length' must be ...``). Any other error passes unchanged. Wrap the library
    call only, so that no other message that happens to start with a quoted word (a file name)
    is rewritten."""
    try:
        yield
    except kinds as error:
        text = str(error)
        for parameter in parameters:
            quoted = f"'{parameter}'"
            if text.startswith(quoted):
                option = LIBRARY_PARAMETERS[parameter]
                raise reworded(error, f"'{option}'{text[len(quoted) :]}") from error
        raise


def envelope_from(
    args: argparse.Namespace,
    *,
    suite: Suite = Suite.COMMITTED,
    frame_length: int = DEFAULT_FRAME_LENGTH,
) -> Envelope:
    """The :class:`~kmskit.envelope.Envelope` of a command's ``--key`` options (none:
    discovery mode), ``--discovery-region`` and ``--discovery-account`` (decrypting commands)
    and common options; its errors name ``--key``, ``--frame-length``, ``--discovery-region``
    and ``--discovery-account``."""
    settings = settings_from_args(args)
    with named_as_typed("keys", "frame_length", "discovery_region", "discovery_accounts"):
        return Envelope(
            args.key or (),
            settings=settings,
            suite=suite,
            frame_length=frame_length,
            discovery_accounts=getattr(args, "discovery_account", None) or (),
            discovery_region=getattr(args, "discovery_region", None),
        )


def show_progress(args: argparse.Namespace) -> bool | None:
    """``--quiet`` hides progress bars; otherwise they show on a terminal only."""
    return False if args.quiet else None


def say(args: argparse.Namespace, message: str) -> None:
    """A one-line report on stderr (stdout may carry the data), unless ``--quiet``."""
    if not args.quiet:
        print(f"kmskit: {message}", file=sys.stderr)


def describe(info: MessageInfo) -> str:
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(info.context.items()))
    signed = "signed" if info.signed else "not signed"
    return f"suite 0x{info.suite_id:04x} ({signed}), key {', '.join(info.key_ids)}, context {pairs}"


def format_context(context: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(context.items()))


def read_limited(path: str, limit: int, what: str, hint: str = "") -> bytes:
    """All of ``path`` (``-`` = stdin), refusing more than ``limit`` bytes without reading on."""
    with open_input(path) as reader:
        data = reader.read(limit + 1)
    if len(data) > limit:
        size = input_size(path)
        # A device's size is 0 (/dev/zero) and a pipe has none: only say it is too long.
        shown = f"{size} bytes" if size is not None and size > limit else f"more than {limit} bytes"
        raise UsageError(f"{what} takes at most {limit} bytes; '{path}' holds {shown}.{hint}")
    return data


def write_output(path: str | os.PathLike[str], data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` to ``path`` (``-`` = stdout) all at once, or not at all; with
    ``exclusive`` (no ``--force``) an existing file is never replaced (see
    :func:`~kmskit._io.atomic_output`)."""
    with atomic_output(path, exclusive=exclusive) as writer:
        writer.write(data)


def refuse_empty(path: str, data: bytes, needs: str) -> bytes:
    """``data`` (all of INPUT ``path``), unless it is empty: then a
    :class:`~kmskit.errors.UsageError` naming INPUT and the path, saying what ``needs`` it."""
    if not data:
        raise _empty_input(path, needs)
    return data


def _empty_input(path: str, needs: str) -> UsageError:
    return UsageError(f"'INPUT' is empty; {needs}. Received: '{path}' (0 bytes)")


class NonEmptyInput:
    """INPUT ``path`` read as a stream (``reader``), refused at once if it is empty (see
    :func:`refuse_empty`): its first byte is read when this is made, before any AWS call, and
    handed out first."""

    def __init__(self, reader: Readable, path: str, needs: str) -> None:
        self._first = reader.read(1)
        if not self._first:
            raise _empty_input(path, needs)
        self._reader = reader

    def read(self, size: int = -1, /) -> bytes:
        if not self._first:
            return self._reader.read(size)
        if size == 0:
            return b""
        first, self._first = self._first, b""
        if size == 1:
            return first
        return first + self._reader.read(size - 1 if size > 0 else -1)


MAX_PUBLIC_KEY = 16 * 1024
"""The most ``--public-key`` holds: an RSA 4096 public key in PEM is about 800 bytes."""


def public_key_from(args: argparse.Namespace) -> PublicKey:
    """The public key named by --key (GetPublicKey) or --public-key (a file)."""
    if args.public_key:
        return load_public_key_file(args.public_key)
    if not args.key:
        raise UsageError("give --key KEY or --public-key FILE")
    return get_public_key(args.key, settings=settings_for_key(args))


def load_public_key_file(path: str) -> PublicKey:
    """:func:`~kmskit.envelope_asymmetric.load_public_key` that refuses a file of more than
    :data:`MAX_PUBLIC_KEY` bytes (``/dev/zero`` or a disk image given by mistake) without
    reading it whole: a regular file by its size; a device or pipe (``<(...)``) is read once,
    at most one byte over the limit, and a private copy of what it gave is loaded."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return load_public_key(path)  # its message: not found, permission denied
    if stat.S_ISDIR(mode):
        return load_public_key(path)
    if stat.S_ISREG(mode):
        size = os.stat(path).st_size
        if size > MAX_PUBLIC_KEY:
            raise _too_large(path, f"{size} bytes")
        return load_public_key(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PUBLIC_KEY + 1)
    except OSError as error:
        raise os_error_class(error)(
            f"'--public-key' must be a readable file. Received: '{path}' "
            f"({error.strerror or error})"
        ) from None
    if len(data) > MAX_PUBLIC_KEY:
        raise _too_large(path, f"more than {MAX_PUBLIC_KEY} bytes")
    with tempfile.TemporaryDirectory(prefix="kmskit-") as folder:
        copy = Path(folder) / "public-key"
        copy.write_bytes(data)
        try:
            return load_public_key(copy)
        except KmskitError as error:
            # Name the file the user gave, not the copy.
            raise reworded(error, str(error).replace(str(copy), path)) from None


def _too_large(path: str, size: str) -> UsageError:
    return UsageError(
        f"'--public-key' must be a public key file (PEM or DER) of at most {MAX_PUBLIC_KEY} "
        f"bytes. Received: '{path}' ({size})"
    )
