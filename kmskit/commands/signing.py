"""``kmskit sign`` / ``kmskit verify``: signatures with SIGN_VERIFY KMS keys, verified locally
against the public key (or by KMS with --kms)."""

from __future__ import annotations

import argparse
from typing import Any

from kmskit._io import check_input, input_size, open_input
from kmskit.audit import key_reference
from kmskit.cli import add_force_option, check_new_output, settings_from_args
from kmskit.envelope_asymmetric import SIGNING_ALGORITHMS, sign, verify_local, verify_with_kms
from kmskit.envelope_cli import (
    NonEmptyInput,
    add_key_option,
    public_key_from,
    say,
    write_output,
)
from kmskit.errors import EXIT_OK, NotFoundError, UsageError, os_error_class

# The largest KMS signature (RSA 4096) is 512 bytes; DER ECDSA P-521 is at most 139.
_MAX_SIGNATURE = 1024


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    sign_parser = subparsers.add_parser(
        "sign",
        parents=[common],
        help="sign a file with a SIGN_VERIFY KMS key",
        description="Sign INPUT with KMS Sign (the data itself up to 4096 bytes, its digest "
        "above). Writes the raw signature to SIGNATURE. Default algorithm: RSASSA_PSS_SHA_256 "
        "for RSA keys, the curve's ECDSA for ECC keys.",
    )
    add_key_option(sign_parser, required=True, help_text="SIGN_VERIFY KMS key")
    sign_parser.add_argument("--algorithm", choices=SIGNING_ALGORITHMS)
    sign_parser.add_argument("input", metavar="INPUT", help="data to sign, or - for stdin")
    sign_parser.add_argument("signature", metavar="SIGNATURE", help="signature file, or -")
    add_force_option(sign_parser, "SIGNATURE")
    sign_parser.set_defaults(handler=run_sign)

    verify = subparsers.add_parser(
        "verify",
        parents=[common],
        help="verify a signature locally (public key) or with KMS (--kms)",
        description="Exit 0 when SIGNATURE is a valid signature of INPUT, 5 when it is not. "
        "Verification is local against the public key (from --key via GetPublicKey, or from "
        "--public-key with no AWS call); --kms asks KMS Verify instead.",
    )
    source = verify.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--key",
        type=key_reference,
        metavar="KEY",
        help="the KMS key that signed (key ARN, key ID, alias name or alias ARN)",
    )
    source.add_argument("--public-key", metavar="FILE", help="its public key (PEM or DER)")
    verify.add_argument("--signature", required=True, metavar="FILE", help="signature file")
    verify.add_argument("--algorithm", choices=SIGNING_ALGORITHMS)
    verify.add_argument("--kms", action="store_true", help="verify with KMS Verify (needs --key)")
    verify.add_argument("input", metavar="INPUT", help="signed data, or - for stdin")
    verify.set_defaults(handler=run_verify)


def run_sign(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.signature, "SIGNATURE", force=args.force)
    with open_input(args.input) as reader:
        source = NonEmptyInput(reader, args.input, "there is nothing to sign")
        result = sign(args.key, source, algorithm=args.algorithm, settings=settings_from_args(args))
    write_output(args.signature, result.signature, exclusive=not args.force)
    say(args, f"signed {args.input} with {result.key_id} ({result.algorithm})")
    return EXIT_OK


def _read_signature(path: str) -> bytes:
    """The signature file, never more than ``_MAX_SIGNATURE`` + 1 bytes of it (``/dev/zero``
    or a huge file given by mistake is refused, not read whole)."""
    try:
        with open(path, "rb") as handle:
            signature = handle.read(_MAX_SIGNATURE + 1)
    except FileNotFoundError:
        raise NotFoundError(f"no signature file at '{path}'") from None
    except OSError as error:
        raise os_error_class(error)(
            f"'--signature' must be a readable file. Received: '{path}' ({error.strerror or error})"
        ) from None
    if not signature or len(signature) > _MAX_SIGNATURE:
        size = input_size(path) if signature else 0
        # A device or pipe has no size to show (/dev/zero's is 0): only that it is too long.
        if signature and (size is None or size <= _MAX_SIGNATURE):
            size = None
        shown = f"more than {_MAX_SIGNATURE}" if size is None else str(size)
        raise UsageError(
            f"'--signature' must hold 1-{_MAX_SIGNATURE} bytes. Received: {shown} bytes"
        )
    return signature


def run_verify(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    signature = _read_signature(args.signature)
    if args.kms and not args.key:
        raise UsageError("'--kms' needs --key (KMS Verify works with the key, not a file)")
    with open_input(args.input) as reader:
        source = NonEmptyInput(reader, args.input, "there is nothing to verify")
        if args.kms:
            algorithm = verify_with_kms(
                args.key,
                source,
                signature,
                algorithm=args.algorithm,
                settings=settings_from_args(args),
            )
            say(args, f"signature valid (KMS Verify, {algorithm})")
            return EXIT_OK
        public = public_key_from(args)
        algorithm = verify_local(public, source, signature, algorithm=args.algorithm)
    say(args, f"signature valid ({algorithm}, verified locally)")
    return EXIT_OK
