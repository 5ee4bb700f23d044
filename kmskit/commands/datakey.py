"""``kmskit datakey new [--for-later]`` and ``kmskit datakey decrypt``: KMS data keys for
tools that encrypt locally themselves (see kmskit.envelope_kms)."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from typing import Any

from kmskit._io import STDIO, check_input, is_terminal, refuse_shared_file
from kmskit._text import is_utf8
from kmskit.audit import KEY_REFERENCE_FORMS, is_key_reference
from kmskit.cli import add_force_option, check_new_output, settings_for_key
from kmskit.envelope import configured_region, key_for_decrypt_in
from kmskit.envelope_cli import (
    CONTEXT_EXACT_HELP,
    CONTEXT_EXACT_ON_DECRYPT_HELP,
    add_context_option,
    add_key_option,
    context_from,
    format_context,
    read_limited,
    say,
    warn_key_chosen_by_input,
    write_output,
)
from kmskit.envelope_kms import (
    DATA_KEY_SPECS,
    decrypt_data_key,
    new_data_key,
    new_data_key_for_later,
)
from kmskit.errors import EXIT_OK, UsageError

_MAX_DOCUMENT = 64 * 1024


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    datakey = subparsers.add_parser(
        "datakey",
        help="generate or decrypt a KMS data key (for your own local encryption)",
        description="Data keys for tools that encrypt locally. Output is JSON with KMS's field "
        "names: KeyId, CiphertextBlob (base64) and, except with --for-later, Plaintext "
        "(base64). Files are written with mode 0600; an existing OUTPUT file is refused unless "
        "--force (it may hold the only encrypted copy of a data key). A plaintext data key is "
        "never written to a terminal, nor to a file whose mode gives group or others access "
        "(stdout redirected to a file with mode 0644, as umask 022 makes): give OUTPUT, pipe "
        "it, or redirect stdout to a private file.",
    )
    actions = datakey.add_subparsers(dest="datakey_command", metavar="ACTION", required=True)

    new = actions.add_parser(
        "new",
        parents=[common],
        help="GenerateDataKey (use the plaintext now) or, with --for-later, "
        "GenerateDataKeyWithoutPlaintext",
        description="A new data key: the plaintext key to use at once plus its encrypted copy "
        "to store. With --for-later only the encrypted copy (decrypt it with `kmskit datakey "
        "decrypt` when it is needed).",
    )
    add_key_option(new, required=True, help_text="KMS key that encrypts the data key")
    add_context_option(new, required=True, help_text=CONTEXT_EXACT_ON_DECRYPT_HELP)
    new.add_argument(
        "--for-later",
        action="store_true",
        help="only the encrypted copy (GenerateDataKeyWithoutPlaintext)",
    )
    new.add_argument("--key-spec", choices=DATA_KEY_SPECS, default="AES_256")
    new.add_argument("output", nargs="?", default="-", metavar="OUTPUT", help="default: stdout")
    add_force_option(new)
    new.set_defaults(handler=run_new)

    decrypt = actions.add_parser(
        "decrypt",
        parents=[common],
        help="Decrypt a data key written by `kmskit datakey new`",
        description="Decrypt the CiphertextBlob of a JSON document from `kmskit datakey new` "
        "(same --context as when it was made). Writes the same JSON with Plaintext added. "
        "Without --key, KMS is asked for the key the document's KeyId names (a "
        "multi-Region key: its key in the Region called), so it refuses a CiphertextBlob of "
        "another key; but whoever may write INPUT may change both, so name the key you "
        "expect with --key.",
    )
    add_key_option(
        decrypt,
        required=False,
        help_text="expect this KMS key (KMS refuses others; default: the KeyId stored in INPUT, "
        "and a warning that INPUT chose it)",
    )
    add_context_option(
        decrypt,
        required=False,
        help_text=CONTEXT_EXACT_HELP + " (default: the EncryptionContext stored in INPUT)",
    )
    decrypt.add_argument("input", metavar="INPUT", help="JSON document, or - for stdin")
    decrypt.add_argument("output", nargs="?", default="-", metavar="OUTPUT", help="default: stdout")
    add_force_option(decrypt)
    decrypt.set_defaults(handler=run_decrypt)


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(data).decode("ascii")


def _document(key_id: str, encrypted: bytes, context: dict[str, str]) -> dict[str, Any]:
    return {"KeyId": key_id, "CiphertextBlob": _b64(encrypted), "EncryptionContext": context}


def _dump(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode()


def check_plaintext_output(path: str) -> None:
    """Refuse (before any AWS call) to write a plaintext data key to a terminal, where it
    stays on screen, in the scrollback and in session recordings (``datakey new`` without
    ``--for-later`` prints to stdout by default), or into a file whose mode gives group or
    others access to it (``> key.json`` under the usual umask 022 makes one with mode 0644)."""
    if is_terminal(path):
        where = "standard output is a terminal" if path == STDIO else "a terminal"
        raise UsageError(
            "'OUTPUT' would show the plaintext data key on the terminal: give a file "
            "(written with mode 0600), redirect standard output to a file only you may read "
            "or pipe it into the program that uses the key (or use --for-later). "
            f"Received: {path} ({where})"
        )
    refuse_shared_file(
        path,
        "OUTPUT",
        "the plaintext data key",
        "give a file (written with mode 0600), pipe it into the program that uses the key "
        "(or use --for-later)",
    )


def run_new(args: argparse.Namespace) -> int:
    check_new_output(args.output, "OUTPUT", force=args.force)
    if not args.for_later:
        check_plaintext_output(args.output)
    context = context_from(args)
    settings = settings_for_key(args)
    exclusive = not args.force
    if args.for_later:
        later = new_data_key_for_later(args.key, context, key_spec=args.key_spec, settings=settings)
        document = _document(later.key_id, later.encrypted, context)
        write_output(args.output, _dump(document), exclusive=exclusive)
    else:
        with new_data_key(args.key, context, key_spec=args.key_spec, settings=settings) as key:
            document = _document(key.key_id, key.encrypted, context)
            document["Plaintext"] = _b64(key.plaintext)
            write_output(args.output, _dump(document), exclusive=exclusive)
    say(args, f"data key from {args.key} ({args.key_spec}, context {format_context(context)})")
    return EXIT_OK


def _not_a_document(path: str, why: str) -> UsageError:
    return UsageError(
        f"'{path}' is not a JSON document from `kmskit datakey new` with a base64 "
        f"CiphertextBlob: {why}"
    )


def read_document(
    path: str, *, key_id: bool = True
) -> tuple[bytes, dict[str, str] | None, str | None]:
    """The encrypted data key of the document at ``path`` (``-``: stdin), its stored
    encryption context (None: it has none) and its stored KeyId (None: it has none, or
    ``key_id`` is False). A document that is not one ``datakey new`` writes (no JSON object,
    no base64 CiphertextBlob, an empty one, an EncryptionContext that is not an object of
    strings) is refused naming the file, before any KMS call; so is, with ``key_id`` (default
    True), a KeyId that is no key reference KMS's ``Decrypt`` takes (a key ARN, as ``datakey
    new`` writes, a key ID, an alias name or an alias ARN). Give ``key_id`` False when the
    KeyId is not used (``--key`` replaces it): it is then neither read nor checked."""
    raw = read_limited(path, _MAX_DOCUMENT, "`kmskit datakey decrypt`")
    try:
        document = json.loads(raw)
        encrypted = base64.b64decode(document["CiphertextBlob"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise _not_a_document(path, f"{type(error).__name__}: {error}") from None
    if not encrypted:
        raise _not_a_document(path, "its CiphertextBlob is empty")
    stored_key = document.get("KeyId") if key_id else None
    if stored_key is not None and not (
        isinstance(stored_key, str) and is_utf8(stored_key) and is_key_reference(stored_key)
    ):
        # Sent as Decrypt's KeyId: datakey new (as KMS's GenerateDataKey) writes the key ARN;
        # a document written by hand may name the key as KMS takes it anywhere.
        raise _not_a_document(
            path, f"its KeyId must be {KEY_REFERENCE_FORMS}. Received: {stored_key!r}"
        )
    if "EncryptionContext" not in document:
        return encrypted, None, stored_key
    stored = document["EncryptionContext"]
    if not (
        isinstance(stored, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in stored.items())
    ):
        # Sent to KMS as it is (str() of a number, a list or null is no context it was
        # encrypted with): refused instead.
        raise _not_a_document(
            path, f"its EncryptionContext must be an object of strings. Received: {stored!r}"
        )
    return encrypted, stored, stored_key


def run_decrypt(args: argparse.Namespace) -> int:
    check_input(args.input, "INPUT")
    check_new_output(args.output, "OUTPUT", force=args.force)
    check_plaintext_output(args.output)
    context = context_from(args)  # a bad --context first, whatever INPUT holds
    # --key replaces the document's KeyId, which is then not looked at.
    encrypted, stored, stored_key = read_document(args.input, key_id=not args.key)
    if not context and stored is not None:
        context = stored
    key = args.key
    if key or not stored_key:
        settings = settings_for_key(args)
    else:
        # KMS then refuses a CiphertextBlob of another key than the document's KeyId
        # (IncorrectKeyException). The KeyId's ARN names the Region called, as --key's would;
        # a multi-Region key ARN is named by its key in --region, if given (any other
        # reference is sent as it is).
        settings = settings_for_key(
            args, f"KeyId of {args.input}", reference=stored_key, replica_in_region=True
        )
        key = key_for_decrypt_in(stored_key, configured_region(settings))
    with decrypt_data_key(encrypted, context, key=key, settings=settings) as data_key:
        result = _document(data_key.key_id, data_key.encrypted, context)
        result["Plaintext"] = _b64(data_key.plaintext)
        write_output(args.output, _dump(result), exclusive=not args.force)
    say(args, f"decrypted a data key of {data_key.key_id}")
    if not args.key:  # as decrypt-small, after success only: whoever wrote INPUT chose the key
        warn_key_chosen_by_input(
            "no --key: the document", [data_key.key_id], "Name the key (--key)"
        )
    return EXIT_OK
