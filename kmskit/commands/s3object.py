"""``kmskit put`` / ``kmskit get``: envelope-encrypted S3 objects (one AWS Encryption SDK
message per object, bound to its bucket and key)."""

from __future__ import annotations

import argparse
from typing import Any

from kmskit._io import check_input
from kmskit.audit import key_reference
from kmskit.cli import add_force_option, check_new_output
from kmskit.envelope import Suite
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
from kmskit.envelope_s3 import ExclusivePutError, S3Location, get_file, put_file
from kmskit.errors import EXIT_OK, UsageError


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    put = subparsers.add_parser(
        "put",
        parents=[common],
        help="envelope-encrypt a file into an S3 object",
        description="Encrypt INPUT ('-' = stdin) into s3://BUCKET/KEY as one AWS Encryption SDK "
        "message (ciphertext and encrypted data key together). The encryption context gets "
        "kmskit:s3-object=s3://BUCKET/KEY, so the object only decrypts at that location. An "
        "existing object there is refused unless --force (S3 If-None-Match; it may be the "
        "only copy of other data).",
    )
    put.add_argument(
        "--key",
        action="append",
        required=True,
        type=key_reference,
        metavar="KEY",
        help="KMS key (key ARN, key ID, alias name or alias ARN)",
    )
    add_context_option(
        put,
        required=False,
        help_text=CONTEXT_STORED_HELP + " (kmskit adds kmskit:s3-object=s3://BUCKET/KEY)",
    )
    put.add_argument("--signed", action="store_true", help="sign the message (suite 0x0578)")
    put.add_argument(
        "--sse-kms-key",
        type=sse_kms_key_reference,
        metavar="KEY",
        help="also ask S3 for SSE-KMS with this key (e.g. the bucket's key; key ARN, key ID, "
        "alias name or alias ARN)",
    )
    put.add_argument("input", metavar="INPUT")
    put.add_argument("location", metavar="s3://BUCKET/KEY")
    put.add_argument(
        "--force",
        action="store_true",
        help="replace an object at s3://BUCKET/KEY (default: one there, or one that appears "
        "while the upload runs, is left as it is and refused, exit 2; S3 If-None-Match, which "
        "a store behind AWS_ENDPOINT_URL may not take: --force then writes without it)",
    )
    put.set_defaults(handler=run_put)

    get = subparsers.add_parser(
        "get",
        parents=[common],
        help="decrypt an S3 object written by `kmskit put`",
        description="Decrypt s3://BUCKET/KEY into OUTPUT ('-' = stdout), which gets plaintext "
        "only once the whole message verified; an existing OUTPUT file is refused unless "
        "--force.",
    )
    get.add_argument(
        "--key",
        action="append",
        type=key_reference,
        metavar="KEY",
        help="only this KMS key (strict; key ARN, key ID, alias name or alias ARN; a "
        "multi-Region key also decrypts what its related keys in other Regions encrypted)",
    )
    add_discovery_region_option(get)
    add_discovery_account_option(get)
    add_context_option(get, required=False, help_text=CONTEXT_SUBSET_HELP)
    get.add_argument("--require-signed", action="store_true")
    get.add_argument(
        "--version-id",
        metavar="ID",
        help="that version of the object (versioned bucket; default: the current one)",
    )
    get.add_argument(
        "--written-to",
        metavar="s3://BUCKET/KEY",
        help="the location `kmskit put` wrote the object to, when s3://BUCKET/KEY is a copy of "
        "it (S3 replication, a backup): the message must be bound to that location instead "
        "(default: s3://BUCKET/KEY itself)",
    )
    get.add_argument("location", metavar="s3://BUCKET/KEY")
    get.add_argument("output", metavar="OUTPUT")
    add_force_option(get)
    get.set_defaults(handler=run_get)


def sse_kms_key_reference(reference: str) -> str:
    """``--sse-kms-key`` checked for form when parsed, like every ``--key``: a malformed one
    would otherwise fail only after the object was encrypted, at S3's PutObject."""
    return key_reference(reference, "--sse-kms-key")


def run_put(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    location = S3Location.parse(args.location)
    envelope = envelope_from(args, suite=Suite.SIGNED if args.signed else Suite.COMMITTED)
    try:
        info = put_file(
            envelope,
            args.input,
            location,
            context_from(args),
            sse_kms_key=args.sse_kms_key,
            show_progress=show_progress(args),
            exclusive=not args.force,
        )
    except ExclusivePutError as error:  # the library's advice (exclusive=False) as --force
        raise UsageError(error.command_line) from error
    say(args, f"put {location.uri}: {describe(info)}")
    return EXIT_OK


def run_get(args: argparse.Namespace) -> int:
    check_new_output(args.output, "OUTPUT", force=args.force)
    location = S3Location.parse(args.location)
    written_to = None
    if args.written_to is not None:
        try:
            written_to = S3Location.parse(args.written_to)
        except UsageError as error:
            raise UsageError(f"'--written-to': {error}") from error
    envelope = envelope_from(args)
    info = get_file(
        envelope,
        location,
        args.output,
        context_from(args),
        require_signed=args.require_signed,
        show_progress=show_progress(args),
        exclusive=not args.force,
        version_id=args.version_id,
        written_to=written_to,
    )
    copy = "" if written_to is None else f" (a copy of {written_to.uri})"
    say(args, f"got {location.uri}{copy} -> {args.output}: {describe(info)}")
    warn_if_unfiltered(envelope, info)
    return EXIT_OK
