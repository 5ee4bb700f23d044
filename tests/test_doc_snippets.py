"""Every ```python block of README.md and docs/*.md runs against the current code.

Construct documents run their blocks in order, in one namespace per document that holds the
names the blocks take as context (``stack``, ``admin_role``, ``function`` ...), then synthesize
the document's App once, so the five cdk-nag packs and the key-policy checks run. The blocks of
docs/envelope.md run against a moto KMS with a key behind every alias they name, in a temporary
working directory, and their round trips are checked. A failure names the block by file and line.

Nothing here imports aws_cdk at import time (see tests/conftest.py): the construct contexts
import it when they build the App.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from moto import mock_aws

import kmskit.envelope_kms
from kmskit.envelope import Envelope
from kmskit.envelope_kms import DataKey, decrypt_data_key
from tests._support.markdown import fenced_blocks
from tests._support.synth import SynthResult, synthesize

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))

ACCOUNT = "111111111111"
WORKLOAD_ACCOUNT = "222222222222"
BACKUP_ACCOUNT = "333333333333"
MANAGEMENT_ACCOUNT = "444444444444"
REGION = "eu-west-1"
OTHER_REGION = "eu-central-1"
CENTRAL_KEY_ARN = f"arn:aws:kms:{OTHER_REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BACKUP_CENTRAL_KEY_ARN = (
    f"arn:aws:kms:{OTHER_REGION}:{BACKUP_ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
)

_ALIAS = re.compile(r"""["'](alias/[A-Za-z0-9/_-]+)["']""")


# -- the blocks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocBlock:
    """One ```python block: its document, the line of its opening fence and its code."""

    path: Path
    line: int
    source: str

    @property
    def location(self) -> str:
        """``docs/keys.md:5``: the document (from the repository root) and the fence's line."""
        return f"{document_name(self.path)}:{self.line}"


def python_blocks(path: Path) -> list[DocBlock]:
    """The ```python blocks of one Markdown document, in order."""
    return [
        DocBlock(path=path, line=block.line, source=textwrap.dedent("\n".join(block.lines)) + "\n")
        for block in fenced_blocks(path, {"python", "py"})
    ]


def document_name(path: Path) -> str:
    """``path`` from the repository root (as given when it is elsewhere)."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def run_block(block: DocBlock, namespace: dict[str, Any]) -> None:
    """Execute ``block`` in ``namespace``; any exception fails naming the block."""
    # Leading blank lines keep the document's line numbers in tracebacks.
    code = compile("\n" * block.line + block.source, str(block.path), "exec")
    try:
        exec(code, namespace)
    except Exception as error:
        raise AssertionError(
            f"the ```python block at {block.location} raised {type(error).__name__}: {error}"
        ) from error


# -- construct documents: the names their blocks take as context ---------------------------------


Context = dict[str, Any]


def organisation_app(outdir: Path) -> Context:
    """An App built as the tests build theirs (cdk.json context, the five cdk-nag packs) and a
    ``stack`` of account 111111111111 in eu-west-1."""
    import aws_cdk as cdk  # noqa: PLC0415

    from stacks.app_builder import new_app  # noqa: PLC0415

    app = new_app(outdir=outdir)
    stack = cdk.Stack(app, "Docs", env=cdk.Environment(account=ACCOUNT, region=REGION))
    return {"app": app, "stack": stack}


def standalone_context(outdir: Path) -> Context:
    """Nothing: the document's blocks make their own App."""
    return {}


def keys_context(outdir: Path) -> Context:
    """docs/keys.md: roles to name in key policies, and the home stack of a multi-Region key."""
    from aws_cdk import aws_iam as iam  # noqa: PLC0415

    context = organisation_app(outdir)
    stack = context["stack"]
    context["admin_role"] = iam.Role(stack, "KeyAdmin", assumed_by=iam.AccountRootPrincipal())
    context["app_role"] = iam.Role(stack, "AppRole", assumed_by=iam.AccountRootPrincipal())
    context["home_stack"] = stack
    return context


def audit_context(outdir: Path) -> Context:
    """docs/audit.md: a security (log archive) account, a workload account and an
    organization's management account."""
    import aws_cdk as cdk  # noqa: PLC0415

    context = organisation_app(outdir)
    app = context["app"]
    context["security_stack"] = cdk.Stack(
        app, "Security", env=cdk.Environment(account=ACCOUNT, region=REGION)
    )
    context["workload_stack"] = cdk.Stack(
        app, "Workload", env=cdk.Environment(account=WORKLOAD_ACCOUNT, region=REGION)
    )
    context["management_stack"] = cdk.Stack(
        app, "Management", env=cdk.Environment(account=MANAGEMENT_ACCOUNT, region=REGION)
    )
    return context


def compliance_context(outdir: Path) -> Context:
    """docs/compliance.md: a ``replicator``, its copier ``function`` and an access-log bucket, the
    constructs whose acknowledgments the document quotes, and the rule groups it names."""
    from constructs_lib import (  # noqa: PLC0415
        CustomerManagedKey,
        EncryptedBucket,
        ReplicationDestination,
        SnapshotReplicator,
        encrypted_bucket,
    )

    context = organisation_app(outdir)
    stack = context["stack"]
    replicator = SnapshotReplicator(
        stack,
        "Replicate",
        destinations=[ReplicationDestination(region=OTHER_REGION, kms_key_arn=CENTRAL_KEY_ARN)],
    )
    key = CustomerManagedKey(stack, "DataKey", alias="alias/team/data")
    context["replicator"] = replicator
    context["function"] = replicator.copier
    context["log_bucket"] = EncryptedBucket(stack, "Bucket", encryption_key=key).access_log_bucket
    # The rule groups EncryptedBucket acknowledges on its log bucket.
    context["SSE_KMS_RULES"] = encrypted_bucket._SSE_KMS_RULES
    context["LOGGING_RULES"] = encrypted_bucket._LOGGING_RULES
    return context


def snapshots_context(outdir: Path) -> Context:
    """docs/snapshots.md: the source account's ``stack``, the backup account's ``backup_stack``
    and the ARNs of each account's key in the other Region."""
    import aws_cdk as cdk  # noqa: PLC0415

    context = organisation_app(outdir)
    context["backup_stack"] = cdk.Stack(
        context["app"], "Backup", env=cdk.Environment(account=BACKUP_ACCOUNT, region=REGION)
    )
    context["central_key_arn"] = CENTRAL_KEY_ARN
    context["backup_central_arn"] = BACKUP_CENTRAL_KEY_ARN
    return context


CONSTRUCT_DOCUMENTS: dict[str, Callable[[Path], Context]] = {
    "README.md": standalone_context,
    "docs/audit.md": audit_context,
    "docs/compliance.md": compliance_context,
    "docs/deploy.md": standalone_context,
    "docs/keys.md": keys_context,
    "docs/snapshots.md": snapshots_context,
}
"""Documents of ``constructs_lib`` usage, each with the context its blocks run in."""

KMSKIT_DOCUMENTS = ("docs/envelope.md",)
"""Documents of the kmskit library, run against moto."""


def synthesize_document(document: str, app: Any) -> SynthResult:
    """Synthesize the App a document's blocks built; a synth error fails naming the document."""
    try:
        return synthesize(document, app)
    except Exception as error:
        raise AssertionError(
            f"the App that the ```python blocks of {document} build does not synthesize: "
            f"{type(error).__name__}: {error}"
        ) from error


def test_every_document_with_python_blocks_is_run() -> None:
    with_blocks = {document_name(path) for path in DOCUMENTS if python_blocks(path)}
    assert with_blocks == {*CONSTRUCT_DOCUMENTS, *KMSKIT_DOCUMENTS}


def test_blocks_are_found_with_their_line_numbers(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "text\n\n```python\nx = 1\n```\n\n```sh\nls\n```\n\n  ```python\n  y = 2\n  ```\n"
    )
    assert [(b.line, b.source) for b in python_blocks(doc)] == [(3, "x = 1\n"), (11, "y = 2\n")]


def test_a_failing_block_is_named_by_file_and_line() -> None:
    block = DocBlock(path=REPO / "docs" / "keys.md", line=5, source="x = 1\nundefined_name\n")
    with pytest.raises(AssertionError, match=r"docs/keys\.md:5 raised NameError") as failure:
        run_block(block, {})
    # The traceback points at the document's own line: the fence, then two lines of code.
    assert (str(block.path), 7) in traceback_lines(failure.value.__cause__)


def traceback_lines(error: BaseException | None) -> set[tuple[str, int]]:
    """``(file, line)`` of every frame in ``error``'s traceback."""
    lines = set()
    traceback = error.__traceback__ if error is not None else None
    while traceback is not None:
        lines.add((traceback.tb_frame.f_code.co_filename, traceback.tb_lineno))
        traceback = traceback.tb_next
    return lines


@pytest.mark.parametrize("document", sorted(CONSTRUCT_DOCUMENTS))
def test_construct_snippets_run_and_synthesize(document: str, tmp_path: Path) -> None:
    blocks = python_blocks(REPO / document)
    namespace = CONSTRUCT_DOCUMENTS[document](tmp_path / "cdk.out")
    for block in blocks:
        run_block(block, namespace)
    assert "app" in namespace, f"no block of {document} makes or uses an App named `app`"
    result = synthesize_document(document, namespace["app"])
    findings = result.validation_findings()
    assert result.templates, f"the App of {document} has no stack"
    assert findings == [], f"cdk-nag warnings left unacknowledged in the App of {document}"


# -- kmskit documents ----------------------------------------------------------------------------


ENVELOPE_BLOCKS = [block for doc in KMSKIT_DOCUMENTS for block in python_blocks(REPO / doc)]

DUMP = b"-- PostgreSQL database dump\nCREATE TABLE orders (id int);\n" * 2048
"""What the documents' ``dump.sql`` holds (about 120 KB)."""


@dataclass
class Queue:
    """A stand-in for a message queue: keeps what is sent."""

    sent: list[bytes] = field(default_factory=list)

    def send(self, message: bytes) -> None:
        self.sent.append(message)


@dataclass
class Store:
    """A stand-in for a table: keeps ``(encrypted key, nonce, ciphertext)`` rows."""

    rows: list[tuple[bytes, bytes, bytes]] = field(default_factory=list)

    def __call__(self, encrypted_key: bytes, nonce: bytes, ciphertext: bytes) -> None:
        self.rows.append((encrypted_key, nonce, ciphertext))


@dataclass
class KmskitCalls:
    """What the blocks asked kmskit for: messages with their plaintext and context, data keys
    with their context."""

    messages: dict[bytes, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    data_key_contexts: dict[bytes, dict[str, str]] = field(default_factory=dict)


@pytest.fixture
def kmskit_calls(monkeypatch: pytest.MonkeyPatch) -> KmskitCalls:
    """Record ``Envelope.encrypt`` and ``new_data_key`` calls (the calls still go to KMS)."""
    calls = KmskitCalls()
    encrypt = Envelope.encrypt
    new_data_key = kmskit.envelope_kms.new_data_key

    def recording_encrypt(self: Envelope, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        message = encrypt(self, plaintext, context)
        calls.messages[message] = (plaintext, dict(context))
        return message

    def recording_new_data_key(key: str, context: Mapping[str, str], **kwargs: Any) -> DataKey:
        data_key = new_data_key(key, context, **kwargs)
        calls.data_key_contexts[data_key.encrypted] = dict(context)
        return data_key

    monkeypatch.setattr(Envelope, "encrypt", recording_encrypt)
    monkeypatch.setattr(kmskit.envelope_kms, "new_data_key", recording_new_data_key)
    return calls


@pytest.fixture
def kms_with_aliases() -> Iterator[dict[str, str]]:
    """A moto KMS with a symmetric key behind every alias the kmskit documents name
    (alias -> key ARN)."""
    aliases = sorted({a for block in ENVELOPE_BLOCKS for a in _ALIAS.findall(block.source)})
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        arns = {}
        for alias in aliases:
            metadata = kms.create_key(Description=f"behind {alias}")["KeyMetadata"]
            kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
            arns[alias] = metadata["Arn"]
        yield arns


def envelope_context() -> Context:
    """The names the kmskit blocks take as context: events to encrypt and a queue to send them
    to, a table row with its nonce and a store for it."""
    return {
        "events": [b'{"order": %d, "total": "12.50"}' % n for n in range(5)],
        "queue": Queue(),
        "row": b"4111 1111 1111 1111,12/29",
        "nonce": bytes(range(12)),
        "store": Store(),
    }


def check_round_trips(
    namespace: Context, calls: KmskitCalls, key_arns: list[str], workdir: Path
) -> list[str]:
    """Check every round trip the block made, decrypting only with the keys behind the
    documents' aliases (``key_arns``); returns what was checked."""
    reader = Envelope(key_arns)
    checked = []
    for message, (plaintext, context) in calls.messages.items():
        assert reader.decrypt(message, context) == plaintext
        checked.append("Envelope.encrypt message decrypts to its plaintext")
    if "message" in namespace and "plaintext" in namespace:
        assert namespace["plaintext"] == calls.messages[namespace["message"]][0]
        checked.append("`plaintext` is what `message` was encrypted from")
    queue: Queue = namespace["queue"]
    if queue.sent:
        assert [reader.decrypt(m) for m in queue.sent] == namespace["events"]
        checked.append("the queued messages decrypt to the events")
    store: Store = namespace["store"]
    for encrypted_key, nonce, ciphertext in store.rows:
        context = calls.data_key_contexts[encrypted_key]
        with decrypt_data_key(encrypted_key, context) as key:
            assert key.key_id in key_arns
            row = AESGCM(bytes(key.plaintext)).decrypt(nonce, ciphertext, None)
        assert row == namespace["row"]
        checked.append("the stored row decrypts with the stored data key")
    if isinstance(namespace.get("key"), DataKey):
        assert namespace["key"].plaintext == bytearray(len(namespace["key"].plaintext))
        checked.append("the `with` block wiped the data key")
    for encrypted in sorted(workdir.glob("*.enc")):
        source = encrypted.with_suffix("")
        decrypted = workdir / "round-trip.out"
        reader.decrypt_file(encrypted, decrypted)
        assert decrypted.read_bytes() == DUMP
        assert source.read_bytes() == DUMP
        checked.append(f"{encrypted.name} decrypts to the original {source.name}")
    return checked


def test_kmskit_documents_name_at_least_one_alias() -> None:
    assert {a for block in ENVELOPE_BLOCKS for a in _ALIAS.findall(block.source)}


@pytest.mark.parametrize("block", ENVELOPE_BLOCKS, ids=lambda block: block.location)
def test_envelope_snippet_runs_and_round_trips(
    block: DocBlock,
    kms_with_aliases: dict[str, str],
    kmskit_calls: KmskitCalls,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dump.sql").write_bytes(DUMP)
    namespace = envelope_context()
    run_block(block, namespace)
    checked = check_round_trips(
        namespace, kmskit_calls, sorted(kms_with_aliases.values()), tmp_path
    )
    assert checked, f"the block at {block.location} makes no round trip this test can check"
