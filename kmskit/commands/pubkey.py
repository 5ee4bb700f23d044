"""``kmskit pubkey export|encrypt|decrypt``: encrypt outside AWS with the public key of an
asymmetric KMS key (RSAES_OAEP_SHA_256); only KMS can decrypt."""

from __future__ import annotations

import argparse
from typing import Any

from kmskit._io import check_input
from kmskit.audit import key_reference
from kmskit.cli import add_force_option, check_new_output, settings_for_key
from kmskit.envelope_asymmetric import RSA_OAEP, get_public_key, private_decrypt, public_encrypt
from kmskit.envelope_cli import (
    add_key_option,
    public_key_from,
    read_limited,
    refuse_empty,
    say,
    write_output,
)
from kmskit.errors import EXIT_OK

# RSA 4096 is the largest KMS RSA key: 512 bytes of ciphertext.
_MAX_CIPHERTEXT = 512
_ENVELOPE_HINT = " Use envelope encryption for larger data: `kmskit encrypt` with a symmetric key."


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    pubkey = subparsers.add_parser(
        "pubkey",
        help="encrypt with an asymmetric KMS key's public key, outside AWS",
        description="RSAES_OAEP_SHA_256 with the public key of an ENCRYPT_DECRYPT RSA KMS key: "
        "export the public key once, encrypt anywhere without AWS credentials, decrypt only "
        "through KMS. At most 190 / 318 / 446 bytes for RSA 2048 / 3072 / 4096.",
    )
    actions = pubkey.add_subparsers(dest="pubkey_command", metavar="ACTION", required=True)

    export = actions.add_parser(
        "export", parents=[common], help="write the key's public key (PEM, GetPublicKey)"
    )
    add_key_option(export, required=True, help_text="asymmetric KMS key")
    export.add_argument("output", nargs="?", default="-", metavar="OUTPUT", help="default: stdout")
    add_force_option(export)
    export.set_defaults(handler=run_export)

    encrypt = actions.add_parser(
        "encrypt",
        parents=[common],
        help="encrypt locally with the public key",
        description="Encrypt INPUT with RSAES_OAEP_SHA_256. Give --key (fetches the public key "
        "with GetPublicKey) or --public-key (a PEM/DER file: no AWS call at all).",
    )
    source = encrypt.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--key",
        type=key_reference,
        metavar="KEY",
        help="asymmetric KMS key (key ARN, key ID, alias name or alias ARN)",
    )
    source.add_argument(
        "--public-key",
        metavar="FILE",
        help="public key file (PEM or DER); it carries no key usage, so kmskit cannot check "
        "that the KMS key is ENCRYPT_DECRYPT (a SIGN_VERIFY key's result can never be "
        "decrypted): prefer --key",
    )
    encrypt.add_argument("input", metavar="INPUT")
    encrypt.add_argument("output", metavar="OUTPUT")
    add_force_option(encrypt)
    encrypt.set_defaults(handler=run_encrypt)

    decrypt = actions.add_parser(
        "decrypt", parents=[common], help="decrypt through KMS (Decrypt, RSAES_OAEP_SHA_256)"
    )
    add_key_option(decrypt, required=True, help_text="the asymmetric KMS key")
    decrypt.add_argument("input", metavar="INPUT")
    decrypt.add_argument("output", metavar="OUTPUT")
    add_force_option(decrypt)
    decrypt.set_defaults(handler=run_decrypt)


def run_export(args: argparse.Namespace) -> int:
    check_new_output(args.output, "OUTPUT", force=args.force)
    public = get_public_key(args.key, settings=settings_for_key(args))
    write_output(args.output, public.pem, exclusive=not args.force)
    say(args, f"public key of {public.key_id} ({public.key_spec}, {public.key_usage})")
    return EXIT_OK


def run_encrypt(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.output, "OUTPUT", force=args.force)
    public = public_key_from(args)
    # The limit of this key (190 bytes for RSA 2048), not of the largest one.
    what = f"{RSA_OAEP} with a {public.key_spec} key"
    limit = public.max_plaintext
    data = read_limited(args.input, limit, what, _ENVELOPE_HINT)
    # An empty INPUT (`printf %s "$UNSET"`) would give a ciphertext of nothing that decrypts.
    refuse_empty(args.input, data, f"{what} needs 1-{limit} bytes")
    write_output(args.output, public_encrypt(public, data), exclusive=not args.force)
    say(args, f"encrypted {len(data)} bytes for {public.key_id or args.public_key}")
    return EXIT_OK


def run_decrypt(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.output, "OUTPUT", force=args.force)
    blob = read_limited(args.input, _MAX_CIPHERTEXT, "an RSA ciphertext")
    refuse_empty(args.input, blob, "KMS Decrypt needs the RSA ciphertext `pubkey encrypt` wrote")
    plaintext = private_decrypt(args.key, blob, settings=settings_for_key(args))
    write_output(args.output, plaintext, exclusive=not args.force)
    say(args, f"decrypted {len(plaintext)} bytes with {args.key}")
    return EXIT_OK
