"""The ``kmskit`` command line (also ``python -m kmskit``).

Each module in :mod:`kmskit.commands` adds its subcommands through ``register(subparsers,
common)``; ``common`` is a parent parser with the options every command shares. A command's
handler returns an exit code; a :class:`~kmskit.errors.KmskitError` becomes a one-line message on
stderr and its exit code (see :mod:`kmskit.errors`), and so does a file error (``OSError``, mapped
by :func:`kmskit.errors.from_os_error`) or an AWS error the command did not map (``ClientError``,
mapped by :func:`kmskit.errors.from_client_error`). When the reader of stdout goes away
(``| head``) the command stops without a message and exits 141.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from kmskit import __version__, commands
from kmskit.clients import DEFAULT_MAX_ATTEMPTS, RETRY_MODES, ClientSettings
from kmskit.errors import (
    CREDENTIALS_HINT,
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    AccessDeniedError,
    KmskitError,
    UsageError,
    from_client_error,
    from_os_error,
)


def common_options() -> argparse.ArgumentParser:
    """Options shared by every subcommand."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("AWS")
    group.add_argument("--region", help="AWS Region (default: boto3's configuration)")
    group.add_argument("--profile", help="AWS profile (default: boto3's configuration)")
    group.add_argument(
        "--max-attempts",
        type=int,
        default=None,
        metavar="N",
        help=f"attempts per AWS call, retries included (default: {DEFAULT_MAX_ATTEMPTS})",
    )
    group.add_argument(
        "--retry-mode",
        choices=RETRY_MODES,
        default=None,
        help="botocore retry mode (default: standard)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return parser


def settings_from_args(args: argparse.Namespace) -> ClientSettings:
    """Client settings from the common options."""
    if args.max_attempts is not None and args.max_attempts < 1:
        raise UsageError(f"'--max-attempts' must be at least 1. Received: {args.max_attempts}")
    return ClientSettings(
        region=args.region,
        profile=args.profile,
        max_attempts=args.max_attempts,
        retry_mode=args.retry_mode,
    )


class _Parser(argparse.ArgumentParser):
    """No abbreviated options, in any subcommand (subparsers take their parent's class): a
    script's ``--contex`` would otherwise work until an option such as ``--context-file`` made
    it ambiguous, and the flags scripts use are meant not to change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kmskit",
        description="KMS toolkit: envelope encryption, key-usage audit, snapshot copy, "
        "key material import and cost.",
    )
    parser.add_argument("--version", action="version", version=f"kmskit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        # Buffered output (print) reaches a pipe here, inside the handlers below, not at exit.
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("kmskit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`kmskit ... | head`): stop quietly, like other command-line
        # tools, but not with 0: the output was cut short. Point stdout at /dev/null so that
        # flushing it at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (KmskitError, BotoCoreError, ClientError, OSError) as error:
        failure = as_kmskit_error(error)
        print(f"kmskit: error: {failure}", file=sys.stderr)
        return failure.exit_code
    return code


def as_kmskit_error(error: KmskitError | BotoCoreError | ClientError | OSError) -> KmskitError:
    """The message and exit code for what a handler raised."""
    if isinstance(error, KmskitError):
        return error
    if isinstance(error, ClientError):
        # An AWS error no command mapped (e.g. expired credentials on its first call).
        return from_client_error(error, f"call {error.operation_name}")
    if isinstance(error, OSError):
        # A file error no command turned into a KmskitError: name the file, no traceback.
        where = f"'{error.filename}'" if error.filename is not None else "a file"
        return from_os_error(error, f"use {where}")
    return _from_botocore_error(error)


def _from_botocore_error(error: BotoCoreError) -> KmskitError:
    """A botocore error raised before any request reached AWS (configuration, credentials)."""
    # botocore's messages may span lines (parameter validation): keep the error on one.
    text = " ".join(str(error).split())
    if isinstance(error, ProfileNotFound):
        return UsageError(
            "'--profile' (or AWS_PROFILE) must name a profile of the AWS configuration. "
            f"Received: {error.kwargs.get('profile')!r}"
        )
    if isinstance(error, (SSOError, TokenRetrievalError, CredentialRetrievalError)):
        # Credentials found but not usable (an expired SSO session, a failing credential
        # process): as credentials AWS refuses, exit 3.
        return AccessDeniedError(f"{text} {CREDENTIALS_HINT}")
    if isinstance(error, (NoCredentialsError, NoRegionError)):
        return UsageError(f"{text} (configure AWS credentials and a Region)")
    return KmskitError(text)
