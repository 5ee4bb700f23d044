"""``kmskit key import-material KEY``: import key material into an EXTERNAL-origin key."""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError

from kmskit._io import (
    STDIO,
    atomic_output,
    check_input,
    check_output,
    input_size,
    open_input,
)
from kmskit.cli import as_kmskit_error, settings_from_args
from kmskit.errors import EXIT_OK, KmskitError, UsageError
from kmskit.key_material import (
    SUPPORTED_SPECS,
    WRAPPING_KEY_SPEC,
    check_generate,
    check_material,
    check_new_material,
    check_valid_to,
    describe_target,
    generate_material,
    import_material,
    prepare_material,
)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "key",
        help="operate on KMS keys (import key material)",
        description="Operations on KMS keys.",
    )
    actions = parser.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    imported = actions.add_parser(
        "import-material",
        parents=[common],
        help="import key material into a key created with origin EXTERNAL",
        description="Import key material into a KMS key created with origin EXTERNAL: "
        "DescribeKey, GetParametersForImport (RSA_4096 wrapping key; RSAES_OAEP_SHA_256 for "
        "symmetric and HMAC material, RSA_AES_KEY_WRAP_SHA_256 for RSA and ECC private keys), "
        "wrap locally, ImportKeyMaterial. Key specs: " + ", ".join(SUPPORTED_SPECS) + ".",
    )
    imported.add_argument("key", metavar="KEY", help="key ID, key ARN, alias name or alias ARN")
    source = imported.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--material",
        metavar="FILE",
        help="material to import ('-' reads stdin): 32 raw bytes for SYMMETRIC_DEFAULT (16 "
        "in the China Regions, where it is SM4), "
        "digest-size to block-size bytes for HMAC, an unencrypted PKCS#8 private key (DER or "
        "PEM) for RSA and ECC keys",
    )
    source.add_argument(
        "--generate",
        action="store_true",
        help="generate the material here (random bytes, or an RSA/EC private key); without "
        "--save-material no copy exists outside KMS. Refused for a key that already has "
        "material unless --new-material, for a multi-Region replica (it needs its primary's "
        "material) and, without --save-material, for a multi-Region primary",
    )
    imported.add_argument(
        "--save-material",
        metavar="FILE",
        help="with --generate: also write the plaintext material to FILE (mode 0600, written "
        "before the import) so it can be re-imported later",
    )
    imported.add_argument(
        "--new-material",
        action="store_true",
        help="the material is new to this key (ImportType NEW_KEY_MATERIAL: a SYMMETRIC_DEFAULT "
        "key gets a further material, then RotateKeyOnDemand makes it current; a multi-Region "
        "key takes it in its primary, and each replica then gets the same material without "
        "this option); default: KMS decides (new for the first import, the same material "
        "afterwards)",
    )
    imported.add_argument(
        "--expires",
        metavar="WHEN",
        help="material expires then and KMS deletes it: a number of days from now (90d) or an "
        "ISO 8601 date and time (2027-01-31T00:00:00Z), at most 365 days away; default: it "
        "does not expire",
    )
    imported.set_defaults(handler=run)


RELATIVE_EXPIRY = re.compile(r"(\d{1,4})d")
"""``--expires 90d``: that many days from now (a script's expiry that no calendar outdates)."""


def parse_expiry(value: str, *, now: datetime | None = None) -> datetime:
    """``--expires``: days from ``now`` (``90d``; default now: the current time) or an ISO 8601
    date and time. The range is :func:`check_valid_to`'s."""
    relative = RELATIVE_EXPIRY.fullmatch(value)
    if relative:
        return (now or datetime.now(UTC)) + timedelta(days=int(relative.group(1)))
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise UsageError(
            "'--expires' must be a number of days from now such as 90d, or an ISO 8601 date "
            f"and time such as 2027-01-31T00:00:00Z. Received: {value!r}"
        ) from error


def run(args: argparse.Namespace) -> int:
    if args.save_material and not args.generate:
        raise UsageError(
            "'--save-material' only goes with --generate (with --material you hold the "
            f"material already). Received: {args.save_material}"
        )
    if args.save_material:
        check_output(args.save_material, "--save-material")
    # lexists: a dangling symbolic link is something there too (atomic_output refuses it as well).
    if args.save_material and args.save_material != STDIO and os.path.lexists(args.save_material):
        raise UsageError(
            "'--save-material' must name a new file: an existing one may hold the only copy of "
            f"other key material. Received: {args.save_material}"
        )
    valid_to = (
        check_valid_to(parse_expiry(args.expires), given=args.expires) if args.expires else None
    )
    if args.generate and valid_to is not None and not args.save_material:
        raise UsageError(
            "'--expires' with --generate needs --save-material FILE: expired material can only "
            f"be re-imported from a copy, and none would exist. Received: {args.expires}"
        )
    given = None if args.generate else read_material(args.material)
    kms = settings_from_args(args).client("kms")
    target = describe_target(kms, args.key)
    if args.new_material:
        check_new_material(target)
    if args.generate:
        check_generate(target, saved=bool(args.save_material), new_material=args.new_material)
    if given is None:
        material = generate_material(target.key_spec, partition=target.partition)
        if args.save_material:
            with atomic_output(args.save_material, exclusive=True, refuse_special=True) as out:
                out.write(material)
    else:
        material = prepare_material(
            target.key_spec, given, partition=target.partition, source=args.material
        )
    try:
        result = import_material(
            kms, target, material, valid_to=valid_to, new_material=args.new_material
        )
    except (KmskitError, BotoCoreError) as error:
        if given is None and args.save_material and args.save_material != STDIO:
            # A re-run with the same --save-material is refused (the file exists): say what
            # the file holds and how to finish, so that no second material gets generated.
            failure = as_kmskit_error(error)  # also a lost connection (BotoCoreError)
            raise type(failure)(
                f"{str(failure).rstrip('.')}. The generated material was saved to "
                f"'{args.save_material}' but not imported: once fixed, import it with "
                f"--material {args.save_material}"
            ) from error
        raise
    expiry = f"expires {result.valid_to.isoformat()}" if result.valid_to else "does not expire"
    related = (
        "; multi-Region key: import the same material into its primary and every replica"
        if target.multi_region
        else ""
    )
    print(
        f"imported {result.key_spec} key material into {result.key_arn} "
        f"(wrapping key {WRAPPING_KEY_SPEC}, {result.wrapping_algorithm}; {expiry}){related}",
        # The material itself went to stdout: keep the report out of it.
        file=sys.stderr if args.save_material == STDIO else sys.stdout,
    )
    return EXIT_OK


MAX_MATERIAL = 64 * 1024
"""The most ``--material`` holds: an RSA 4096 private key in PEM is about 3.3 KB, so anything
near this is a wrong file (``/dev/zero``, a disk image), refused without being read whole."""


def read_material(path: str) -> bytes:
    """``--material``: the file's bytes, refused (before any AWS call) if missing or unreadable,
    too large, empty, or a PEM file that is not one unencrypted private key
    (:func:`~kmskit.key_material.check_material`)."""
    check_input(path, "--material")
    with open_input(path) as handle:
        material = handle.read(MAX_MATERIAL + 1)
    if len(material) > MAX_MATERIAL:
        size = input_size(path)
        shown = f"{size} bytes" if size is not None and size > MAX_MATERIAL else "more than that"
        raise UsageError(
            f"'--material' must hold at most {MAX_MATERIAL} bytes of key material. "
            f"Received: '{path}' ({shown})"
        )
    check_material(material, source=path)
    return material
