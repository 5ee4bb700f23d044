"""``kmskit put`` / ``kmskit get``: envelope-encrypted S3 objects (one AWS Encryption SDK
message per object, bound to its bucket and key)."""

from __future__ import annotations

import argparse
from typing import Any

from kmskit._io import check_input, check_output
from kmskit.envelope import Suite
from kmskit.envelope_cli import (
    add_context_option,
    context_from,
    describe,
    envelope_from,
    say,
    show_progress,
)
from kmskit.envelope_s3 import S3Location, get_file, put_file
from kmskit.errors import EXIT_OK


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    put = subparsers.add_parser(
        "put",
        parents=[common],
        help="envelope-encrypt a file into an S3 object",
        description="Encrypt INPUT ('-' = stdin) into s3://BUCKET/KEY as one AWS Encryption SDK "
        "message (ciphertext and encrypted data key together). The encryption context gets "
        "kmskit:s3-object=s3://BUCKET/KEY, so the object only decrypts at that location.",
    )
    put.add_argument("--key", action="append", required=True, metavar="KEY", help="KMS key")
    add_context_option(put, required=False)
    put.add_argument("--signed", action="store_true", help="sign the message (suite 0x0578)")
    put.add_argument(
        "--sse-kms-key",
        metavar="KEY",
        help="also ask S3 for SSE-KMS with this key (e.g. the bucket's key)",
    )
    put.add_argument("input", metavar="INPUT")
    put.add_argument("location", metavar="s3://BUCKET/KEY")
    put.set_defaults(handler=run_put)

    get = subparsers.add_parser(
        "get",
        parents=[common],
        help="decrypt an S3 object written by `kmskit put`",
        description="Decrypt s3://BUCKET/KEY into OUTPUT ('-' = stdout), which gets plaintext "
        "only once the whole message verified.",
    )
    get.add_argument("--key", action="append", metavar="KEY", help="only this KMS key (strict)")
    add_context_option(get, required=False)
    get.add_argument("--require-signed", action="store_true")
    get.add_argument("location", metavar="s3://BUCKET/KEY")
    get.add_argument("output", metavar="OUTPUT")
    get.set_defaults(handler=run_get)


def run_put(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    location = S3Location.parse(args.location)
    envelope = envelope_from(args, suite=Suite.SIGNED if args.signed else Suite.COMMITTED)
    info = put_file(
        envelope,
        args.input,
        location,
        context_from(args),
        sse_kms_key=args.sse_kms_key,
        show_progress=show_progress(args),
    )
    say(args, f"put {location.uri}: {describe(info)}")
    return EXIT_OK


def run_get(args: argparse.Namespace) -> int:
    check_output(args.output, "OUTPUT")
    location = S3Location.parse(args.location)
    envelope = envelope_from(args)
    info = get_file(
        envelope,
        location,
        args.output,
        context_from(args),
        require_signed=args.require_signed,
        show_progress=show_progress(args),
    )
    say(args, f"got {location.uri} -> {args.output}: {describe(info)}")
    return EXIT_OK
