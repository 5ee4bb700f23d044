"""``kmskit encrypt-small`` / ``kmskit decrypt-small``: KMS Encrypt and Decrypt of at most
4,096 bytes, without envelope encryption."""

from __future__ import annotations

import argparse
from typing import Any

from kmskit._io import check_input
from kmskit.cli import add_force_option, check_new_output, settings_for_key
from kmskit.envelope import looks_like_message
from kmskit.envelope_cli import (
    CONTEXT_EXACT_HELP,
    CONTEXT_EXACT_ON_DECRYPT_HELP,
    add_context_option,
    add_key_option,
    context_from,
    named_as_typed,
    read_limited,
    refuse_empty,
    say,
    warn_key_chosen_by_input,
    write_output,
)
from kmskit.envelope_kms import SMALL_DATA_LIMIT, decrypt_small_with_key, encrypt_small
from kmskit.errors import EXIT_OK, IntegrityError, reworded

_MAX_BLOB = 6144
"""The most KMS Decrypt takes as CiphertextBlob: 6,144 bytes (botocore's KMS service model,
Decrypt CiphertextBlob ``max``; tests/kmskit/test_envelope_kms.py checks it against the installed
botocore)."""
_ENVELOPE_HINT = " Use envelope encryption for larger data: `kmskit encrypt`."
_MESSAGE = "an AWS Encryption SDK message (what `kmskit encrypt` writes)"


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    encrypt = subparsers.add_parser(
        "encrypt-small",
        parents=[common],
        help=f"KMS Encrypt of at most {SMALL_DATA_LIMIT} bytes (no envelope)",
        description=f"Encrypt 1-{SMALL_DATA_LIMIT} bytes directly with KMS Encrypt. Larger "
        "data needs envelope encryption (`kmskit encrypt`). An existing OUTPUT file is "
        "refused unless --force. '-' means stdin / stdout.",
    )
    add_key_option(encrypt, required=True, help_text="KMS key")
    add_context_option(encrypt, required=True, help_text=CONTEXT_EXACT_ON_DECRYPT_HELP)
    encrypt.add_argument("input", metavar="INPUT")
    encrypt.add_argument("output", metavar="OUTPUT")
    add_force_option(encrypt)
    encrypt.set_defaults(handler=run_encrypt)

    decrypt = subparsers.add_parser(
        "decrypt-small",
        parents=[common],
        help="KMS Decrypt of a blob from encrypt-small",
        description="Decrypt a KMS ciphertext blob (exactly the --context given on encrypt). "
        "An existing OUTPUT file is refused unless --force.",
    )
    add_key_option(decrypt, required=False, help_text="expect this KMS key (KMS refuses others)")
    add_context_option(decrypt, required=False, help_text=CONTEXT_EXACT_HELP)
    decrypt.add_argument("input", metavar="INPUT")
    decrypt.add_argument("output", metavar="OUTPUT")
    add_force_option(decrypt)
    decrypt.set_defaults(handler=run_decrypt)


def run_encrypt(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.output, "OUTPUT", force=args.force)
    context = context_from(args)
    data = read_limited(args.input, SMALL_DATA_LIMIT, "KMS Encrypt", _ENVELOPE_HINT)
    refuse_empty(args.input, data, f"KMS Encrypt needs 1-{SMALL_DATA_LIMIT} bytes")
    settings = settings_for_key(args)
    with named_as_typed("plaintext"):
        blob = encrypt_small(args.key, data, context, settings=settings)
    write_output(args.output, blob, exclusive=not args.force)
    say(args, f"encrypted {len(data)} bytes with {args.key}")
    return EXIT_OK


def run_decrypt(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.output, "OUTPUT", force=args.force)
    context = context_from(args)
    blob = read_limited(
        args.input,
        _MAX_BLOB,
        "KMS Decrypt",
        f" Is it {_MESSAGE}? Decrypt that with `kmskit decrypt`.",
    )
    refuse_empty(args.input, blob, "KMS Decrypt needs the ciphertext blob `encrypt-small` wrote")
    try:
        plaintext, key_id = decrypt_small_with_key(
            blob, context, key=args.key, settings=settings_for_key(args)
        )
    except IntegrityError as error:
        if not looks_like_message(blob):
            raise
        raise reworded(
            error,
            f"{error}. '{args.input}' looks like {_MESSAGE}, not a KMS ciphertext blob: "
            "decrypt it with `kmskit decrypt`",
        ) from error
    write_output(args.output, plaintext, exclusive=not args.force)
    say(args, f"decrypted {len(plaintext)} bytes")
    if not args.key:  # as decrypt and get warn, after success only
        warn_key_chosen_by_input("no --key: the blob", [key_id], "Name the key (--key)")
    return EXIT_OK
