"""Every ``kmskit`` command line in the shell blocks of README.md and docs/*.md matches the CLI.

The ```sh / ```bash / ```shell / ```console blocks (and the ``$`` lines of ```text transcripts)
are read line by line (backslash continuations joined, trailing ``# comments`` dropped, prompts
removed, pipelines split at ``|``); every ``kmskit`` (or ``python -m kmskit``) command is kept
with its document and line, so a failure names it as ``docs/envelope.md:52``.

* **Parsed**: every concrete command is parsed, exactly as written, by the parser that
  ``kmskit.cli.main`` uses (``kmskit.cli.build_parser``), without running it; and each option it
  shows must be spelled out in full (argparse would also take an abbreviation). A synopsis line
  (README's list: placeholders with ``[optional]`` and ``(a | b)`` groups) is not parsed
  literally: its subcommand must exist and be a leaf, each option it shows must be an option of
  that subcommand, and it must show every option the subcommand requires.
* **Run end to end**: each shell block with a runnable command runs, in order, in-process
  (``kmskit.cli.main``) in a temporary working directory against moto (one module-wide mock:
  ``alias/app-data`` symmetric, ``alias/intake`` RSA 2048 ENCRYPT_DECRYPT,
  ``alias/release-signing`` ECC P-256 SIGN_VERIFY, ``alias/orders`` a multi-Region key in
  us-east-1 with its replica in the module's Region, and an S3 bucket for every bucket that
  ``put``/``get`` name), with the input files the documents assume created first (``dump.sql``,
  ``password.txt``, ``secret.txt``, ``app.tar.gz``, ``invoices.csv``, ``release-signing.pem``
  exported from its key, ``data.csv.enc`` written by the stock ``aws_encryption_sdk`` as the
  documented ``aws-encryption-cli --encrypt`` would, and ``cdk.out``: the ``small_org`` app of
  tests/_support/apps synthesized once per session). A command reading a pipe gets a SQL dump on
  stdin (what ``pg_dump app`` would write); ``-`` as output is captured. Each must exit 0, and
  the round trips are checked: whatever a decrypting command (``decrypt``, ``decrypt-small``,
  ``pubkey decrypt``, ``get``) writes equals what the encrypting command that made its input
  (``encrypt``, ``encrypt-small``, ``pubkey encrypt``, ``put``) read; an encrypted output no
  documented command reads back (``pg_dump app | kmskit encrypt ... - - | aws s3 cp``) is
  decrypted here instead; every data key document's ``Plaintext`` is what KMS decrypts its
  ``CiphertextBlob`` to, and ``datakey decrypt`` keeps the blob it read; ``verify`` accepts the
  ``sign`` output and refuses (exit 5) once a byte of the signed file changes; ``cost`` prints a
  total (or JSON).
* **Parse-only** (moto does not model what they need):

  - ``kmskit audit`` (docs/audit.md, README): reads a CloudTrail trail's gzipped log files from
    ``s3://kmskit-audit-111111111111`` for fixed dates; tests/kmskit/test_audit.py covers the
    reading against moto with hand-made log files, which the documented bucket does not hold.
  - ``kmskit key import-material`` (docs/keys.md): moto 5 has no GetParametersForImport or
    ImportKeyMaterial (tests/kmskit/test_key_material.py uses botocore's Stubber instead).
    ``kmskit key inventory`` only reads the keys: it runs against the module's moto.
  - ``kmskit key schedule-deletion`` (docs/keys.md): reads a trail's log files, like
    ``audit``; tests/kmskit/test_key_deletion.py runs it against moto with log files of its own.
  - ``kmskit key rotate`` and ``kmskit key rotations`` (docs/keys.md): rotating would change the
    key the other documented commands use, and moto 5 lacks imported material's states and an
    on-demand rotation in progress; tests/kmskit/test_key_rotation.py runs them against moto,
    answering what it lacks.
  - ``kmskit snapshot copy`` (docs/snapshots.md): snapshots in placeholder accounts, sharing
    with another account and its keys (``$SHARING_KEY_ARN``, ``key/...``), RDS ARNs of an
    account that is not moto's; tests/kmskit/test_snapshot_cli.py covers the command.
  - ``kmskit sign`` and ``kmskit verify`` with ``alias/pq-signing`` (ML-DSA) or
    ``alias/ed25519-signing`` (docs/envelope.md): moto 5 has no ML-DSA or Ed25519 keys;
    tests/kmskit/test_envelope_asymmetric.py runs those commands against a stand-in KMS.
  - ``kmskit --help`` and README's synopsis lines: nothing to run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import boto3
import pytest
from aws_encryption_sdk.identifiers import CommitmentPolicy

from kmskit.cli import build_parser, main
from kmskit.envelope_asymmetric import get_public_key
from kmskit.envelope_s3 import S3Location
from kmskit.errors import EXIT_INTEGRITY, EXIT_OK, KmskitError
from tests._support.markdown import fenced_blocks
from tests._support.synth import SynthResult
from tests.kmskit.envelope_support import (
    REGION,
    KmsWorld,
    emulate_asymmetric_kms,
    kms_world,
    moto_multi_region_keys,
    multi_region_key,
    probe_clients,
)

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))

# ```text blocks may hold a console transcript: their "$ " lines are commands too.
SHELL_LANGUAGES = {"sh", "bash", "shell", "console", "shell-session", "text"}
_CONSOLE_FENCES = {"console", "shell-session", "text"}
_OPTION = re.compile(r"^--?[A-Za-z]")
_SEPARATORS = {"|", "||", "&&", ";", "&"}
_SYNOPSIS_MARKS = "[]()"

# The first subcommand of a command that is only parsed, and why (see the module docstring).
PARSE_ONLY = {
    "audit": "CloudTrail log files of a real trail",
    "key": "moto has no key material import; schedule-deletion reads a real trail's log files; "
    "rotate would rotate the documents' key",
    "snapshot": "snapshots, accounts and keys moto does not hold",
}

# Subcommands of a PARSE_ONLY command that moto can serve all the same.
RUN_UNDER_PARSE_ONLY = {("key", "inventory")}

# Keys a command names that make it parse-only, and why.
PARSE_ONLY_KEYS = {
    "alias/pq-signing": "moto has no ML-DSA keys",
    "alias/ed25519-signing": "moto has no Ed25519 keys",
}

# The keys behind the aliases the documents name.
ASYMMETRIC_ALIASES = {
    "alias/intake": {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    "alias/release-signing": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
}

# The multi-Region key of docs/envelope.md's disaster recovery example: the primary in
# MULTI_REGION_HOME, its replica in REGION, each under the alias in its Region.
MULTI_REGION_ALIAS = "alias/orders"
MULTI_REGION_HOME = "us-east-1"

# Input files the documented commands read, as the documents assume they exist.
DUMP = b"".join(b"INSERT INTO orders VALUES (%d, 'widget', 9.99);\n" % n for n in range(3000))
DATA_CSV = b"id,amount\n1,12.50\n2,7.25\n"
INPUT_FILES = {
    "dump.sql": DUMP,
    "password.txt": b"correct horse battery staple\n",
    "secret.txt": b"db password: hunter2\n",
    "app.tar.gz": bytes(range(256)) * 40,  # above 4,096 bytes: kmskit signs the digest
    "invoices.csv": b"invoice,total\nINV-1,100.00\nINV-2,250.00\n",
}

# Subcommand path -> (argument read, argument written), for the round trips.
ENCRYPTING = {
    ("encrypt",): ("input", "output"),
    ("encrypt-small",): ("input", "output"),
    ("pubkey", "encrypt"): ("input", "output"),
    ("put",): ("input", "location"),
}
DECRYPTING = {
    ("decrypt",): ("input", "output"),
    ("decrypt-small",): ("input", "output"),
    ("pubkey", "decrypt"): ("input", "output"),
    ("get",): ("location", "output"),
}
# How the test reads back an encrypted output no documented command reads.
OPENERS = {("encrypt",): "decrypt", ("encrypt-small",): "decrypt-small", ("put",): "get"}


# -- the commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocCommand:
    """One ``kmskit`` command of a shell block."""

    path: Path
    line: int
    block_line: int
    text: str
    argv: tuple[str, ...]
    stdin_piped: bool

    @property
    def location(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def synopsis(self) -> bool:
        """A line with placeholders (``[--wait]``, ``(--material FILE | --generate)``)."""
        return "|" in self.argv or any(c in t for t in self.argv for c in _SYNOPSIS_MARKS)


def drop_comment(line: str) -> str:
    """``line`` without a trailing shell comment (``#`` starting a word, outside quotes)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def logical_lines(lines: list[str], console: bool) -> Iterator[tuple[int, str]]:
    """``(line number, command)`` of one block's lines: continuations joined, comments dropped."""
    index = 0
    while index < len(lines):
        number, raw = index + 1, lines[index]
        index += 1
        if console:
            if not raw.lstrip().startswith("$ "):
                continue  # output, not a command
            raw = raw.lstrip()[2:]
        while raw.rstrip().endswith("\\") and index < len(lines):
            raw = raw.rstrip()[:-1] + " " + lines[index].strip()
            index += 1
        text = drop_comment(raw).strip()
        if text:
            yield number, text


def segments(text: str) -> Iterator[list[str]]:
    """The simple commands of a pipeline or list (``a | b && c``); ``|`` inside ``( )`` stays."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    current: list[str] = []
    depth = 0
    for token in lexer:
        depth += token.count("(") - token.count(")")
        if token in _SEPARATORS and depth == 0:
            yield current
            current = [token]  # the separator leads the next segment
        else:
            current.append(token)
    yield current


def document_commands(path: Path) -> list[DocCommand]:
    """Every ``kmskit`` command in the shell blocks of one Markdown document."""
    commands: list[DocCommand] = []
    for block in fenced_blocks(path, SHELL_LANGUAGES):
        console = block.language in _CONSOLE_FENCES
        for offset, text in logical_lines(block.lines, console=console):
            try:
                parts = list(segments(text))
            except ValueError as error:  # unbalanced quotes
                raise ValueError(f"{path.name}:{block.line + offset}: {error}") from None
            for part in parts:
                words = part[1:] if part and part[0] in _SEPARATORS else part
                if words[:1] == ["kmskit"]:
                    argv = words[1:]
                elif words[:3] == ["python", "-m", "kmskit"]:
                    argv = words[3:]
                else:
                    continue
                commands.append(
                    DocCommand(
                        path=path,
                        line=block.line + offset,
                        block_line=block.line,
                        text=" ".join(["kmskit", *argv]),
                        argv=tuple(argv),
                        stdin_piped=bool(part) and part[0] == "|",
                    )
                )
    return commands


COMMANDS = [command for path in DOCUMENTS for command in document_commands(path)]


def test_the_documents_show_kmskit_commands() -> None:
    """The extraction finds what the documents show (a broken reader would test nothing)."""
    found = {command.path.name for command in COMMANDS}
    assert {"README.md", "audit.md", "envelope.md", "keys.md", "snapshots.md"} <= found
    assert len(COMMANDS) >= 30
    assert sum(command.synopsis for command in COMMANDS) >= 4


# -- parsing -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


def subparsers_of(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            choices: dict[str, argparse.ArgumentParser] = action.choices
            return choices
    return {}


def subcommand(
    parser: argparse.ArgumentParser, words: tuple[str, ...] | list[str]
) -> tuple[tuple[str, ...], argparse.ArgumentParser]:
    """The subcommand path the words start with (options before it skipped), and its parser."""
    path: list[str] = []
    current = parser
    for word in words:
        choices = subparsers_of(current)
        if not choices:
            break
        if _OPTION.match(word):
            continue
        if word not in choices:
            break
        path.append(word)
        current = choices[word]
    return tuple(path), current


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def shown_options(words: tuple[str, ...] | list[str]) -> list[str]:
    options = []
    for word in words:
        if word == "--":
            break
        if _OPTION.match(word):
            options.append(word.split("=", 1)[0])
    return options


def parse(parser: argparse.ArgumentParser, command: DocCommand) -> argparse.Namespace | None:
    """``command`` parsed as ``kmskit.cli.main`` parses it (None: it printed help and exits 0)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return parser.parse_args(list(command.argv))
    except SystemExit as exit_:
        if exit_.code == 0 and {"-h", "--help", "--version"} & set(command.argv):
            return None
        message = err.getvalue().strip().splitlines()[-1:] or [f"exit {exit_.code}"]
        raise AssertionError(
            f"{command.location}: `{command.text}` is refused by kmskit's parser: {message[0]}"
        ) from None
    except KmskitError as error:  # kmskit's parser raises its usage errors (a --key's form)
        raise AssertionError(
            f"{command.location}: `{command.text}` is refused by kmskit's parser: {error}"
        ) from None


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if not c.synopsis], ids=lambda c: c.location
)
def test_documented_command_parses(parser: argparse.ArgumentParser, command: DocCommand) -> None:
    parse(parser, command)
    path, leaf = subcommand(parser, command.argv)
    known = option_strings(leaf) | option_strings(parser)
    for option in shown_options(command.argv):
        assert option in known, (
            f"{command.location}: `{command.text}`: {option!r} is not spelled as an option of "
            f"`kmskit {' '.join(path)}` (argparse takes abbreviations; the documents must not). "
            f"Its options: {', '.join(sorted(option_strings(leaf)))}"
        )


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.synopsis], ids=lambda c: c.location)
def test_synopsis_names_real_subcommands_and_options(
    parser: argparse.ArgumentParser, command: DocCommand
) -> None:
    words = [w.strip(_SYNOPSIS_MARKS) for w in command.argv]
    words = [w for w in words if w and w not in {"|", "..."}]
    path, leaf = subcommand(parser, words)
    where = f"{command.location}: `{command.text}`"
    assert path, f"{where}: no kmskit subcommand"
    assert not subparsers_of(leaf), (
        f"{where}: `kmskit {' '.join(path)}` needs one of: {', '.join(subparsers_of(leaf))}"
    )
    shown = set(shown_options(words))
    known = option_strings(leaf)
    unknown = sorted(shown - known)
    assert not unknown, (
        f"{where}: {', '.join(unknown)} not options of `kmskit {' '.join(path)}`. "
        f"Its options: {', '.join(sorted(known))}"
    )
    for action in leaf._actions:
        if action.required and action.option_strings:
            assert shown & set(action.option_strings), (
                f"{where}: leaves out the required {'/'.join(action.option_strings)}"
            )
    for group in leaf._mutually_exclusive_groups:
        if group.required:
            names = {o for action in group._group_actions for o in action.option_strings}
            assert shown & names, f"{where}: shows none of {', '.join(sorted(names))}"


# -- end to end ----------------------------------------------------------------------------------


def runnable(command: DocCommand, parser: argparse.ArgumentParser) -> bool:
    if command.synopsis:
        return False
    path, _ = subcommand(parser, command.argv)
    if PARSE_ONLY_KEYS.keys() & set(command.argv):
        return False
    return bool(path) and (path[0] not in PARSE_ONLY or tuple(path) in RUN_UNDER_PARSE_ONLY)


def _blocks() -> dict[str, list[DocCommand]]:
    parser = build_parser()
    blocks: dict[str, list[DocCommand]] = {}
    for command in COMMANDS:
        if runnable(command, parser):
            key = f"{command.path.relative_to(REPO)}:{command.block_line}"
            blocks.setdefault(key, []).append(command)
    return blocks


BLOCKS = _blocks()


def buckets_named() -> set[str]:
    parser = build_parser()
    buckets = set()
    for commands in BLOCKS.values():
        for command in commands:
            try:
                args = parse(parser, command)
            except AssertionError:
                continue  # test_documented_command_parses names it
            location = getattr(args, "location", None)
            if isinstance(location, str) and location.startswith("s3://"):
                buckets.add(S3Location.parse(location).bucket)
    return buckets


@pytest.fixture(scope="module")
def world() -> Iterator[KmsWorld]:
    """One moto KMS and S3 for the module, with every key and bucket the documents name, and
    an organization (of moto's account alone) for ``key inventory --accounts-from-organization``."""
    with kms_world() as kms, moto_multi_region_keys():
        boto3.client("organizations", region_name=REGION).create_organization(FeatureSet="ALL")
        multi_region_key(MULTI_REGION_HOME, (REGION,), alias=MULTI_REGION_ALIAS)
        for alias, params in ASYMMETRIC_ALIASES.items():
            meta = kms.kms.create_key(**params)["KeyMetadata"]
            kms.kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        s3: Any = boto3.client("s3", region_name=REGION)
        for bucket in sorted(buckets_named()):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield kms


def stock_sdk_message(data: bytes, context: dict[str, str]) -> bytes:
    """What ``aws-encryption-cli --encrypt --wrapping-keys key=alias/app-data`` writes (its
    default suite, signed, and frames), made with the library the CLI runs."""
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=["alias/app-data"])
    message, _ = client.encrypt(source=data, key_provider=provider, encryption_context=context)
    result: bytes = message
    return result


# What the producer of a pipe (`pg_dump app | kmskit encrypt ... - -`) writes.
PIPED_INPUT = DUMP


@pytest.fixture
def probe(world: KmsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """What moto lacks of asymmetric KMS (RSA-OAEP Decrypt, Sign of a digest), emulated."""
    emulate_asymmetric_kms(probe_clients(monkeypatch))


@dataclass
class Sealed:
    """An encrypted output of a documented command: what made it and what it holds."""

    made_by: str
    data: bytes
    blob: bytes = b""
    opened: bool = False


@dataclass
class BlockRun:
    """One block's commands, run in order in the working directory."""

    folder: Path
    kms: Any
    capture: pytest.CaptureFixture[bytes]
    monkeypatch: pytest.MonkeyPatch
    sealed: dict[str, Sealed]

    def main(self, argv: list[str], stdin: bytes = b"") -> tuple[int, bytes, str]:
        """Exit code, stdout and stderr of ``kmskit argv`` run in-process."""
        self.capture.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = main(argv)
        out, err = self.capture.readouterr()
        return code, out, err.decode(errors="replace")

    def written(self, target: str, out: bytes) -> bytes:
        return out if target == "-" else (self.folder / target).read_bytes()

    def run(self, command: DocCommand, parser: argparse.ArgumentParser) -> None:
        where = f"{command.location}: `{command.text}`"
        args = parse(parser, command)
        assert args is not None, where
        path, _ = subcommand(parser, command.argv)
        stdin = PIPED_INPUT if command.stdin_piped else b""
        plaintext = b""
        if path in ENCRYPTING:
            source = getattr(args, ENCRYPTING[path][0])
            plaintext = stdin if source == "-" else (self.folder / source).read_bytes()
        code, out, err = self.main(list(command.argv), stdin)
        assert code == EXIT_OK, f"{where} exited {code}: {err.strip()}"
        if path in ENCRYPTING:
            target = getattr(args, ENCRYPTING[path][1])
            name = f"stdout of {command.location}" if target == "-" else target
            blob = out if target == "-" else b""
            self.sealed[name] = Sealed(made_by=command.location, data=plaintext, blob=blob)
        elif path in DECRYPTING:
            source_name, target_name = DECRYPTING[path]
            source = getattr(args, source_name)
            assert source in self.sealed, f"{where}: the test knows no plaintext for {source!r}"
            sealed = self.sealed[source]
            sealed.opened = True
            assert self.written(getattr(args, target_name), out) == sealed.data, (
                f"{where} did not give back what {sealed.made_by} encrypted"
            )
        elif path[0] == "datakey":
            self.check_data_key(where, args, out)
        elif path == ("verify",):
            self.check_verify_refuses_a_change(where, command, args)
        elif path == ("cost",):
            text = out.decode()
            if args.format == "json":
                assert json.loads(text)["keys"] > 0, f"{where} printed {text}"
            else:
                assert "TOTAL" in text, f"{where} printed {text}"

    def check_data_key(self, where: str, args: argparse.Namespace, out: bytes) -> None:
        document = json.loads(self.written(args.output, out))
        blob = base64.b64decode(document["CiphertextBlob"])
        if args.datakey_command == "decrypt":
            read = json.loads((self.folder / args.input).read_bytes())
            assert read["CiphertextBlob"] == document["CiphertextBlob"], where
        if getattr(args, "for_later", False):
            assert "Plaintext" not in document, f"{where} wrote a plaintext key"
            return
        expected = self.kms.decrypt(
            CiphertextBlob=blob, EncryptionContext=document["EncryptionContext"]
        )["Plaintext"]
        assert base64.b64decode(document["Plaintext"]) == expected, where

    def check_verify_refuses_a_change(
        self, where: str, command: DocCommand, args: argparse.Namespace
    ) -> None:
        signed = self.folder / args.input
        original = signed.read_bytes()
        signed.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        try:
            code, _, err = self.main(list(command.argv))
        finally:
            signed.write_bytes(original)
        assert code == EXIT_INTEGRITY, f"{where} accepted a changed {args.input}: {err}"

    def open_the_rest(self) -> None:
        """Decrypt here what the documented commands encrypted and no documented command read."""
        for name, sealed in self.sealed.items():
            if sealed.opened or sealed.made_by == "aws-encryption-cli":
                continue
            made_by = next(c for c in COMMANDS if c.location == sealed.made_by)
            path, _ = subcommand(build_parser(), made_by.argv)
            assert path in OPENERS, f"{sealed.made_by}: nothing reads {name} back"
            source = name
            if sealed.blob:
                source = "unread.bin"
                (self.folder / source).write_bytes(sealed.blob)
            code, _, err = self.main([OPENERS[path], "-q", source, "opened.bin"])
            assert code == EXIT_OK, f"{sealed.made_by}: reading {name} back failed: {err}"
            assert (self.folder / "opened.bin").read_bytes() == sealed.data, (
                f"{sealed.made_by}: {name} does not decrypt to the input"
            )


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_documented_block_runs_against_moto(
    block: str,
    world: KmsWorld,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
    synthesized: Callable[[str], SynthResult],
) -> None:
    commands = BLOCKS[block]
    monkeypatch.chdir(tmp_path)
    for name, data in INPUT_FILES.items():
        (tmp_path / name).write_bytes(data)
    pem = get_public_key("alias/release-signing").pem
    (tmp_path / "release-signing.pem").write_bytes(pem)
    (tmp_path / "data.csv.enc").write_bytes(stock_sdk_message(DATA_CSV, {"purpose": "backup"}))
    if any(command.argv[:1] == ("cost",) for command in commands):
        (tmp_path / "cdk.out").symlink_to(synthesized("small_org").outdir)
    run = BlockRun(
        folder=tmp_path,
        kms=world.kms,
        capture=capsysbinary,
        monkeypatch=monkeypatch,
        sealed={"data.csv.enc": Sealed(made_by="aws-encryption-cli", data=DATA_CSV)},
    )
    parser = build_parser()
    for command in commands:
        run.run(command, parser)
    run.open_the_rest()
