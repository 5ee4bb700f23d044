"""``kmskit encrypt`` and ``kmskit decrypt``: envelope encryption of files and streams in the
AWS Encryption SDK message format (see docs/envelope.md). Other teams script against these
two commands: their flags do not change."""

from __future__ import annotations

import argparse
from typing import Any

from kmskit._io import check_input
from kmskit.audit import key_reference
from kmskit.cli import add_force_option, check_new_output
from kmskit.envelope import DEFAULT_FRAME_LENGTH, Suite
from kmskit.envelope_cli import (
    CONTEXT_STORED_HELP,
    CONTEXT_SUBSET_HELP,
    add_context_option,
    add_discovery_account_option,
    add_discovery_region_option,
    context_from,
    describe,
    envelope_from,
    say,
    show_progress,
    warn_if_unfiltered,
)
from kmskit.errors import EXIT_OK


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    encrypt = subparsers.add_parser(
        "encrypt",
        parents=[common],
        help="envelope-encrypt a file or stream with a KMS key",
        description="Encrypt INPUT into OUTPUT as one AWS Encryption SDK message: a fresh data "
        "key from KMS encrypts the data locally; the message carries the data key encrypted "
        "under KEY. aws-encryption-cli and the AWS Encryption SDKs can decrypt it. OUTPUT "
        "appears only once complete; an existing OUTPUT file is refused unless --force. "
        "'-' means stdin / stdout.",
    )
    encrypt.add_argument(
        "--key",
        action="append",
        required=True,
        type=key_reference,
        metavar="KEY",
        help="KMS key (key ARN, key ID, alias name or alias ARN); repeat to add a copy of the "
        "data key under more keys (e.g. a key in another Region; a multi-Region key's replicas "
        "decrypt its copy without one of their own)",
    )
    add_context_option(encrypt, required=True, help_text=CONTEXT_STORED_HELP)
    encrypt.add_argument(
        "--signed",
        action="store_true",
        help="also sign the message (suite 0x0578, ECDSA P-384): use it when the people who "
        "decrypt must not be able to forge messages. Default: suite 0x0478, not signed, "
        "several times faster",
    )
    encrypt.add_argument(
        "--frame-length",
        type=int,
        default=DEFAULT_FRAME_LENGTH,
        metavar="BYTES",
        help="plaintext bytes per frame, a multiple of 4096 up to 64 MiB "
        f"(default: {DEFAULT_FRAME_LENGTH})",
    )
    encrypt.add_argument("input", metavar="INPUT", help="file to encrypt, or - for stdin")
    encrypt.add_argument("output", metavar="OUTPUT", help="message file, or - for stdout")
    add_force_option(encrypt)
    encrypt.set_defaults(handler=run_encrypt)

    decrypt = subparsers.add_parser(
        "decrypt",
        parents=[common],
        help="decrypt an AWS Encryption SDK message (kmskit, aws-encryption-cli, SDKs)",
        description="Decrypt the message in INPUT into OUTPUT. Each --context pair must be in "
        "the message with that value. OUTPUT gets plaintext only once the whole message is "
        "verified (for stdout, a FIFO or a device, it is held in a temporary file until then, "
        "unless --unbuffered); an existing OUTPUT file is refused unless --force. "
        "'-' means stdin / stdout.",
    )
    add_context_option(decrypt, required=False, help_text=CONTEXT_SUBSET_HELP)
    decrypt.add_argument(
        "--key",
        action="append",
        type=key_reference,
        metavar="KEY",
        help="only decrypt with this KMS key (repeatable; strict mode; a multi-Region key "
        "also decrypts what its related keys in other Regions encrypted, called in its own "
        "Region). Default: the key the message names, if you may use it (discovery mode)",
    )
    add_discovery_region_option(decrypt)
    add_discovery_account_option(decrypt)
    decrypt.add_argument(
        "--require-signed",
        action="store_true",
        help="refuse messages without an ECDSA signature (suite 0x0578)",
    )
    decrypt.add_argument(
        "--unbuffered",
        action="store_true",
        help="stream plaintext to stdout (or a FIFO or device OUTPUT) as frames are "
        "authenticated, before the end of the message and its signature are verified; on a "
        "non-zero exit discard everything received",
    )
    decrypt.add_argument("input", metavar="INPUT", help="message file, or - for stdin")
    decrypt.add_argument("output", metavar="OUTPUT", help="plaintext file, or - for stdout")
    add_force_option(decrypt)
    decrypt.set_defaults(handler=run_decrypt)


def run_encrypt(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.output, "OUTPUT", force=args.force)
    envelope = envelope_from(
        args,
        suite=Suite.SIGNED if args.signed else Suite.COMMITTED,
        frame_length=args.frame_length,
    )
    info = envelope.encrypt_file(
        args.input,
        args.output,
        context_from(args),
        show_progress=show_progress(args),
        exclusive=not args.force,
    )
    say(args, f"encrypted {args.input} -> {args.output}: {describe(info)}")
    return EXIT_OK


def run_decrypt(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.output, "OUTPUT", force=args.force)
    envelope = envelope_from(args)
    info = envelope.decrypt_file(
        args.input,
        args.output,
        context_from(args),
        require_signed=args.require_signed,
        show_progress=show_progress(args),
        buffer_streams=not args.unbuffered,
        exclusive=not args.force,
    )
    say(args, f"decrypted {args.input} -> {args.output}: {describe(info)}")
    warn_if_unfiltered(envelope, info)
    return EXIT_OK
