"""Options and helpers shared by the envelope commands (``kmskit/commands/{envelope, datakey,
small, pubkey, signing, s3object}.py``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

from kmskit._io import atomic_output, input_size, open_input
from kmskit.cli import settings_from_args
from kmskit.envelope import MessageInfo, parse_context
from kmskit.envelope_asymmetric import PublicKey, get_public_key, load_public_key
from kmskit.errors import UsageError

CONTEXT_HELP = (
    "encryption context pair (repeat for more); it is authenticated, needed to decrypt and "
    "shown in CloudTrail, so never put secrets in it"
)


def add_key_option(parser: argparse.ArgumentParser, *, required: bool, help_text: str) -> None:
    parser.add_argument(
        "--key",
        required=required,
        metavar="KEY",
        help=f"{help_text} (key ARN, key ID, alias name or alias ARN)",
    )


def add_context_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--context",
        action="append",
        required=required,
        metavar="KEY=VALUE",
        help=CONTEXT_HELP + ("" if required else "; each pair given must be in the message"),
    )


def context_from(args: argparse.Namespace) -> dict[str, str]:
    return parse_context(args.context)


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
        shown = f"{size} bytes" if size is not None else f"more than {limit} bytes"
        raise UsageError(f"{what} takes at most {limit} bytes; '{path}' holds {shown}.{hint}")
    return data


def write_output(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` (``-`` = stdout) all at once, or not at all."""
    with atomic_output(path) as writer:
        writer.write(data)


def public_key_from(args: argparse.Namespace) -> PublicKey:
    """The public key named by --key (GetPublicKey) or --public-key (a file)."""
    if args.public_key:
        return load_public_key(args.public_key)
    if not args.key:
        raise UsageError("give --key KEY or --public-key FILE")
    return get_public_key(args.key, settings=settings_from_args(args))
