"""``kmskit sign`` / ``kmskit verify``: signatures with SIGN_VERIFY KMS keys, verified locally
against the public key (or by KMS with --kms)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from kmskit._io import STDIO, check_input, input_size, open_input, standard_input
from kmskit.audit import key_reference
from kmskit.cli import add_force_option, check_new_output, settings_for_key
from kmskit.envelope_asymmetric import (
    ED25519,
    ED25519_PH,
    SIGNING_ALGORITHMS,
    get_public_key,
    sign,
    verify_local,
    verify_with_kms,
)
from kmskit.envelope_cli import (
    NonEmptyInput,
    add_key_option,
    load_public_key_file,
    named_as_typed,
    public_key_from,
    say,
    write_output,
)
from kmskit.errors import (
    EXIT_OK,
    ConflictError,
    IntegrityError,
    NotFoundError,
    UsageError,
    os_error_class,
)

# The largest KMS signature is ML-DSA-87's, 4,627 bytes (FIPS 204, table 2); RSA 4096 is 512
# bytes, DER ECDSA P-521 at most 139, Ed25519 64.
_MAX_SIGNATURE = 4627
# What is read of a signature file at most: ML-DSA-87's signature as base64 text (6,172
# characters) with line breaks, so that such a file is told apart from a file far too large.
_MAX_SIGNATURE_READ = 8192


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    sign_parser = subparsers.add_parser(
        "sign",
        parents=[common],
        help="sign a file with a SIGN_VERIFY KMS key",
        description="Sign INPUT with KMS Sign (the data itself up to 4096 bytes; above, its "
        "digest, or its mu for ML-DSA). Writes the raw signature to SIGNATURE. Default "
        "algorithm: RSASSA_PSS_SHA_256 for RSA keys, the curve's ECDSA for ECC keys, "
        "ML_DSA_SHAKE_256 for ML-DSA keys, ED25519_SHA_512 (at most 4096 bytes) for Ed25519 "
        "keys; ED25519_PH_SHA_512 signs larger data (verified with --kms only).",
    )
    add_key_option(sign_parser, required=True, help_text="SIGN_VERIFY KMS key")
    sign_parser.add_argument("--algorithm", choices=SIGNING_ALGORITHMS)
    sign_parser.add_argument(
        "--public-key",
        metavar="FILE",
        help="the key's public key (PEM or DER, from kmskit pubkey export): no GetPublicKey, "
        "so no kms:GetPublicKey needed; for ML-DSA data over 4096 bytes KMS's signature is "
        "checked with it (exit 7, nothing written, if it is not the key's)",
    )
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
    verify.add_argument(
        "--signature",
        required=True,
        metavar="FILE",
        help="signature file, or - for stdin (then INPUT must be a file)",
    )
    verify.add_argument("--algorithm", choices=SIGNING_ALGORITHMS)
    verify.add_argument("--kms", action="store_true", help="verify with KMS Verify (needs --key)")
    verify.add_argument("input", metavar="INPUT", help="signed data, or - for stdin")
    verify.set_defaults(handler=run_verify)


def run_sign(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.signature, "SIGNATURE", force=args.force)
    with open_input(args.input) as reader:
        source = NonEmptyInput(reader, args.input, "there is nothing to sign")
        public_key = load_public_key_file(args.public_key) if args.public_key else None
        with named_as_typed("public_key", kinds=(ConflictError,)):
            result = sign(
                args.key,
                source,
                algorithm=args.algorithm,
                public_key=public_key,
                settings=settings_for_key(args),
            )
    write_output(args.signature, result.signature, exclusive=not args.force)
    say(args, f"signed {args.input} with {result.key_id} ({result.algorithm})")
    return EXIT_OK


def _check_stdin_once(signature: str, data: str) -> None:
    """Refuse ``--signature -`` together with INPUT ``-``: standard input holds one of them."""
    if signature == STDIO and data == STDIO:
        raise UsageError(
            "'--signature' and 'INPUT' cannot both be - (standard input holds only one of "
            "them): give the other as a file. Received: --signature - and INPUT -"
        )


def _read_signature(path: str) -> bytes:
    """The signature file (``-``: standard input), never more than ``_MAX_SIGNATURE_READ`` + 1
    bytes of it (``/dev/zero`` or a huge file given by mistake is refused, not read whole).
    Over ``_MAX_SIGNATURE`` bytes of base64 text (an ML-DSA signature as ``aws kms sign
    --output text`` prints it) is refused saying to decode it."""
    try:
        if path == STDIO:
            signature = standard_input("--signature").buffer.read(_MAX_SIGNATURE_READ + 1)
        else:
            with open(path, "rb") as handle:
                signature = handle.read(_MAX_SIGNATURE_READ + 1)
    except FileNotFoundError:
        raise NotFoundError(f"no signature file at '{path}'") from None
    except OSError as error:
        raise os_error_class(error)(
            f"'--signature' must be a readable file. Received: '{path}' ({error.strerror or error})"
        ) from None
    if _MAX_SIGNATURE < len(signature) <= _MAX_SIGNATURE_READ and _looks_like_base64(signature):
        raise UsageError(
            f"'--signature' holds base64 text ({len(signature)} bytes), not the raw signature "
            "that kmskit sign writes and KMS returns (aws kms sign --output text prints base64): "
            f"decode it first (base64 -d). Received: '{path}'"
        )
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
    _check_stdin_once(args.signature, args.input)
    check_input(args.input, "INPUT")
    signature = _read_signature(args.signature)
    if args.kms and not args.key:
        raise UsageError("'--kms' needs --key (KMS Verify works with the key, not a file)")
    with open_input(args.input) as reader:
        source = NonEmptyInput(reader, args.input, "there is nothing to verify")
        settings = settings_for_key(args)
        public = None if args.kms else public_key_from(args)
        # The default algorithm is resolved here (GetPublicKey, as the library would) so that a
        # mismatch can say which one was tried; the public key fetched for it also serves an
        # ML-DSA mu.
        fetched = public
        if args.algorithm:
            algorithm = args.algorithm
        else:
            fetched = fetched or get_public_key(args.key, settings=settings)
            algorithm = fetched.default_signing_algorithm()
        try:
            if public is None:
                verify_with_kms(
                    args.key,
                    source,
                    signature,
                    algorithm=algorithm,
                    public_key=fetched,
                    settings=settings,
                )
                say(args, f"signature valid (KMS Verify, {algorithm})")
                return EXIT_OK
            verify_local(public, source, signature, algorithm=algorithm)
        except IntegrityError as error:
            hints = _mismatch_hints(signature, algorithm, defaulted=args.algorithm is None)
            if not hints:
                raise
            raise IntegrityError(f"{error}{hints}") from error
    say(args, f"signature valid ({algorithm}, verified locally)")
    return EXIT_OK


_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/_-]+={0,2}")


def _looks_like_base64(signature: bytes) -> bool:
    """Whether the signature file holds base64 text (``aws kms sign --output text``) rather
    than the raw bytes: a raw KMS signature (64 bytes or more) made of base64 characters only,
    by chance, is about as likely as guessing a 128-bit key."""
    text = b"".join(signature.split())
    # Standard or URL-safe alphabet, padded or not; no base64 text has 4n+1 characters.
    return (
        len(text) >= 16
        and _BASE64_TEXT.fullmatch(text) is not None
        and len(text.rstrip(b"=")) % 4 != 1
    )


def _mismatch_hints(signature: bytes, algorithm: str, *, defaulted: bool) -> str:
    """What may explain a signature that does not verify, besides changed data or another key:
    a base64 signature file, or an RSA or Ed25519 signature made with another algorithm than
    the default (ECDSA and ML-DSA have one algorithm per key spec)."""
    hints = []
    if _looks_like_base64(signature):
        hints.append(
            "'--signature' holds base64 text, and verify reads the raw signature bytes that "
            "`kmskit sign` writes: decode it first (base64 -d)"
        )
    if defaulted and algorithm.startswith("RSASSA_"):
        hints.append(
            f"{algorithm} is the default for RSA keys: a signature made with another "
            "algorithm verifies only with that --algorithm"
        )
    if defaulted and algorithm == ED25519:
        hints.append(
            f"{ED25519} is the default for Ed25519 keys: a signature made with {ED25519_PH} "
            f"verifies only with --algorithm {ED25519_PH} --kms"
        )
    return "".join(f"; {hint}" for hint in hints)
