"""kmskit put / get under failure: URIs refused before AWS, downloads resumed (pinned to the
object first read) after the connection drops, versions, errors that name the object."""

from __future__ import annotations

import io
import os
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aws_encryption_sdk
import boto3
import pytest
from aws_encryption_sdk.identifiers import CommitmentPolicy
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ProfileNotFound, ResponseStreamingError
from botocore.stub import ANY, Stubber
from moto.core.models import botocore_stubber
from urllib3.exceptions import ProtocolError

from kmskit import envelope_s3
from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.envelope import Envelope
from kmskit.envelope_s3 import (
    PART_SIZE,
    READ_RESUMES,
    ExclusivePutError,
    S3Location,
    _UploadSink,
    get_file,
    get_stream,
    put_stream,
)
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    AccessDeniedError,
    ConflictError,
    IntegrityError,
    KmskitError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    ALIAS,
    REGION,
    KmsWorld,
    _Body,
    kms_world,
    one_error_line,
    probe_clients,
)

BUCKET = "encrypted-bucket"
CONTEXT = {"dataset": "invoices"}


@pytest.fixture
def world() -> Iterator[KmsWorld]:
    with kms_world() as kms:
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield kms


@pytest.fixture
def s3(world: KmsWorld) -> Any:
    return boto3.client("s3", region_name=REGION)


# -- locations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://Bad_Bucket!/k", "must name a bucket S3 accepts"),
        ("s3://bad bucket/k", "must name a bucket S3 accepts"),
        ("s3://bucket/reports/", "must name an object, not a folder"),
        ("s3://bucket/" + "é" * 513, "key must be at most 1024 bytes of UTF-8. Received: 1026"),
        (
            "s3://arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap/k",
            "may not name a Multi-Region Access Point: botocore signs its requests (SigV4A) "
            "only with the awscrt package",
        ),
        ("s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/ap", "a bucket and a key"),
    ],
    ids=["characters", "space", "trailing-slash", "key-too-long", "mrap", "access-point-only"],
)
@pytest.mark.parametrize("command", ["put", "get"])
def test_cli_a_location_s3_would_refuse_is_bad_usage_before_aws(
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
    command: str,
    uri: str,
    message: str,
) -> None:
    # Before: exit 1 with botocore's regex after the file was encrypted (bucket), or an object
    # named "reports/" (a folder marker), or S3's KeyTooLongError after the upload.
    source = tmp_path / "in"
    source.write_bytes(b"x")
    argv = (
        ["put", "--key", ALIAS, str(source), uri]
        if command == "put"
        else ["get", uri, str(tmp_path / "out")]
    )
    assert main(argv) == EXIT_USAGE
    line = one_error_line(capsys)
    assert message in line
    assert repr(uri)[:40] in line
    assert no_aws == []
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("s3://legacy_Bucket.example/a b/c d.txt", "legacy_Bucket.example", "a b/c d.txt"),
        (
            "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint:reports/2026/café.csv",
            "arn:aws:s3:eu-west-1:123456789012:accesspoint:reports",
            "2026/café.csv",
        ),
        # The form AWS prints (before: refused, the bucket ending at the first '/').
        (
            "s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/reports/2026/a.csv",
            "arn:aws:s3:eu-west-1:123456789012:accesspoint/reports",
            "2026/a.csv",
        ),
        (
            "s3://arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01ac5d28a6a232904/"
            "accesspoint/example/a.csv",
            "arn:aws:s3-outposts:us-west-2:123456789012:outpost/op-01ac5d28a6a232904/"
            "accesspoint/example",
            "a.csv",
        ),
        ("s3://bucket//leading-slash", "bucket", "/leading-slash"),
    ],
)
def test_locations_s3_accepts_are_kept(uri: str, bucket: str, key: str) -> None:
    location = S3Location.parse(uri)
    assert (location.bucket, location.key, location.uri) == (bucket, key, uri)


def test_an_access_point_arn_with_a_slash_is_sent_to_the_access_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # botocore takes the ARN as Bucket and sends the request to the access point's endpoint.
    sent: list[str] = []
    real = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = real(self, service, **kwargs)

        def capture(request: Any, **_: Any) -> None:
            sent.append(request.url)
            raise EndpointConnectionError(endpoint_url=request.url)

        made.meta.events.register_first("before-send.s3.GetObject", capture)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    location = S3Location.parse("s3://arn:aws:s3:eu-west-1:123456789012:accesspoint/ap/dir/a.csv")
    settings = ClientSettings(region=REGION, max_attempts=1)
    with pytest.raises(KmskitError, match="could not read s3://arn:aws:s3:eu-west-1:"):
        get_stream(Envelope(settings=settings), location, io.BytesIO())
    assert sent == ["https://ap-123456789012.s3-accesspoint.eu-west-1.amazonaws.com/dir/a.csv"]


# -- downloads: resumed, pinned to the object first read ---------------------------------------


class _DropsOnce:
    """A GetObject body whose connection drops after ``after`` bytes, as urllib3 reports it."""

    def __init__(self, body: Any, after: int) -> None:
        self._body = body
        self._left = after

    def read(self, size: int | None = None) -> bytes:
        if self._left <= 0:
            raise ResponseStreamingError(error=ProtocolError("Connection broken: reset by peer"))
        chunk: bytes = self._body.read(self._left if size is None else min(size, self._left))
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        self._body.close()


def _get_requests(monkeypatch: pytest.MonkeyPatch, drops: list[int]) -> list[dict[str, Any]]:
    """Every GetObject request's parameters; the n-th response drops after ``drops[n]`` bytes
    (while there are entries), and ``before_resume`` runs before the second request."""
    requests: list[dict[str, Any]] = []
    original = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)
        if service == "s3":

            def record(params: dict[str, Any], **_: Any) -> None:
                requests.append(dict(params))

            def drop(parsed: dict[str, Any], **_: Any) -> None:
                if drops and "Body" in parsed:
                    parsed["Body"] = _DropsOnce(parsed["Body"], drops.pop(0))

            made.meta.events.register("provide-client-params.s3.GetObject", record)
            made.meta.events.register("after-call.s3.GetObject", drop)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    return requests


def test_get_resumes_after_the_connection_drops(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * 2**20 + 123)
    location = S3Location(BUCKET, "big.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(data), location, CONTEXT)
    etag = s3.head_object(Bucket=BUCKET, Key=location.key)["ETag"]
    requests = _get_requests(monkeypatch, [1_500_000, 1_000_000])
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == data
    # Later reads start where the last stopped and accept only the object first read.
    assert [(r.get("Range"), r.get("IfMatch")) for r in requests] == [
        (None, None),
        ("bytes=1500000-", etag),
        ("bytes=2500000-", etag),
    ]


def test_get_of_an_object_replaced_during_the_download_fails_and_writes_nothing(
    world: KmsWorld,
    s3: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    location = S3Location(BUCKET, "report.pdf")
    put_stream(Envelope([ALIAS]), io.BytesIO(os.urandom(2 * 2**20)), location, CONTEXT)
    requests = _get_requests(monkeypatch, [1_000_000])

    # The object is replaced between the first read and the resumed one.
    def replace(params: dict[str, Any], **_: Any) -> None:
        if params.get("Range"):
            put_stream(Envelope([ALIAS]), io.BytesIO(os.urandom(2 * 2**20)), location, CONTEXT)

    real = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = real(self, service, **kwargs)
        if service == "s3":
            made.meta.events.register_first("provide-client-params.s3.GetObject", replace)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    out = tmp_path / "report.pdf"
    code = main(["get", "--context", "dataset=invoices", location.uri, str(out)])
    assert code == EXIT_CONFLICT
    assert one_error_line(capsys).startswith(
        f"kmskit: error: could not read {location.uri}: it was replaced while it was read"
    )
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    assert len(requests) == 2


def test_get_version_id_reads_that_version(world: KmsWorld, s3: Any, tmp_path: Path) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    location = S3Location(BUCKET, "config.json")
    put_stream(Envelope([ALIAS]), io.BytesIO(b"version one"), location, CONTEXT)
    first = s3.head_object(Bucket=BUCKET, Key=location.key)["VersionId"]
    put_stream(Envelope([ALIAS]), io.BytesIO(b"version two"), location, CONTEXT)
    out = tmp_path / "config.json"
    assert main(["get", "--version-id", first, location.uri, str(out)]) == 0
    assert out.read_bytes() == b"version one"
    assert main(["get", "--force", location.uri, str(out)]) == 0
    assert out.read_bytes() == b"version two"


def test_cli_get_version_id_of_no_version_exits_4_naming_the_object(
    world: KmsWorld, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: exit 1 (S3's NoSuchVersion was no known not-found code).
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    location = S3Location(BUCKET, "versioned.txt")
    put_stream(Envelope([ALIAS]), io.BytesIO(b"version one"), location, CONTEXT)
    missing = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    argv = ["get", "--version-id", missing, location.uri, str(tmp_path / "out")]
    assert main(argv) == EXIT_NOT_FOUND
    assert one_error_line(capsys).startswith(
        f"kmskit: error: could not read {location.uri}: NoSuchVersion: "
    )
    assert list(tmp_path.iterdir()) == []


def test_cli_get_version_id_may_not_be_empty(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["get", "--version-id", "", f"s3://{BUCKET}/k", str(tmp_path / "out")]
    assert main(argv) == EXIT_USAGE
    assert "--version-id" in one_error_line(capsys)
    assert no_aws == []


def test_resumed_reads_of_a_versioned_object_pin_the_version(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    data = os.urandom(2 * 2**20)
    location = S3Location(BUCKET, "pinned.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(data), location, CONTEXT)
    version = s3.head_object(Bucket=BUCKET, Key=location.key)["VersionId"]
    requests = _get_requests(monkeypatch, [700_000])
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == data
    assert requests[1]["VersionId"] == version


# -- integrity and errors that name the object ---------------------------------------------------


def test_cli_get_of_a_non_kmskit_object_exits_5_naming_it(
    world: KmsWorld, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(Bucket=BUCKET, Key="notes.txt", Body=b"plain text, never encrypted")
    out = tmp_path / "notes.txt"
    assert main(["get", f"s3://{BUCKET}/notes.txt", str(out)]) == EXIT_INTEGRITY
    line = one_error_line(capsys)
    assert line.startswith(f"kmskit: error: could not decrypt s3://{BUCKET}/notes.txt: not an")
    assert not out.exists()


@pytest.mark.parametrize(
    ("expected", "require_signed", "refusal"),
    [
        (
            {"dataset": "invoices", "team": "hr"},
            False,
            "wrong encryption context: expected team=hr, but the message has no 'team' (it has: "
            f"dataset=invoices, kmskit:s3-object=s3://{BUCKET}/own.csv)",
        ),
        (
            {"dataset": "salaries"},
            False,
            "wrong encryption context: expected dataset=salaries, the message has dataset=invoices",
        ),
        (
            CONTEXT,
            True,
            "the message is not signed (algorithm suite 0x0478) but a signed message was "
            "required: anyone able to decrypt it could have written it",
        ),
    ],
    ids=["missing-pair", "other-value", "not-signed"],
)
def test_a_refused_object_at_its_own_location_is_named_without_a_copy_hint(
    world: KmsWorld, expected: dict[str, str], require_signed: bool, refusal: str
) -> None:
    # Before: not named; and a missing pair was told the object may be a copy (of itself).
    location = S3Location(BUCKET, "own.csv")
    put_stream(Envelope([ALIAS]), io.BytesIO(b"data"), location, CONTEXT)
    with pytest.raises(IntegrityError) as caught:
        get_stream(Envelope(), location, io.BytesIO(), expected, require_signed=require_signed)
    assert str(caught.value) == f"could not decrypt {location.uri}: {refusal}"


@pytest.mark.parametrize("more_context", [{}, {"team": "payments"}], ids=["same", "more"])
def test_an_object_another_tool_wrote_is_told_to_be_decrypted_with_kmskit_decrypt(
    world: KmsWorld, s3: Any, more_context: dict[str, str]
) -> None:
    # Before: "give the location the message names", which names none; and with a --context
    # pair the message lacks too, that pair was refused first, without the hint.
    sdk = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    message, _ = sdk.encrypt(
        source=b"data",
        key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[world.arn]),
        encryption_context=CONTEXT,
    )
    s3.put_object(Bucket=BUCKET, Key="by-the-cli.enc", Body=message)
    location = S3Location(BUCKET, "by-the-cli.enc")
    with pytest.raises(IntegrityError) as caught:
        get_stream(Envelope(), location, io.BytesIO(), {**CONTEXT, **more_context})
    assert str(caught.value) == (
        f"could not decrypt {location.uri}: wrong encryption context: expected "
        f"kmskit:s3-object={location.uri}, but the message has no 'kmskit:s3-object' (it has: "
        f"dataset=invoices); {location.uri} was not written by kmskit put (its message is bound "
        "to no location): download it (aws s3 cp) and decrypt it with kmskit decrypt"
    )


@pytest.mark.parametrize("damage", ["truncated", "tampered"])
def test_a_damaged_object_exits_5_and_writes_nothing(
    world: KmsWorld, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    location = S3Location(BUCKET, "ledger.csv")
    put_stream(Envelope([ALIAS]), io.BytesIO(os.urandom(3 * 2**20)), location, CONTEXT)
    stored = bytearray(s3.get_object(Bucket=BUCKET, Key=location.key)["Body"].read())
    if damage == "truncated":
        stored = stored[: len(stored) - 2**20]
    else:
        stored[len(stored) // 2] ^= 1
    s3.put_object(Bucket=BUCKET, Key=location.key, Body=bytes(stored))
    out = tmp_path / "ledger.csv"
    assert main(["get", location.uri, str(out)]) == EXIT_INTEGRITY
    assert f"could not decrypt {location.uri}:" in one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


# -- uploads: retried, aborted -------------------------------------------------------------------


def test_transient_errors_on_parts_are_retried_and_the_object_is_whole(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail(
        "UploadPart", "InternalError", "We encountered an internal error.", status=500, times=2
    )
    data = os.urandom(PART_SIZE + 5000)
    location = S3Location(BUCKET, "retried.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(data), location, CONTEXT)
    assert probe.attempts["UploadPart"] == 2 + 2
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == data


# -- an existing object is not replaced without --force ------------------------------------------


@pytest.mark.parametrize("size", [1000, PART_SIZE + 5000], ids=["PutObject", "multipart"])
def test_cli_put_refuses_an_existing_object_unless_force(
    world: KmsWorld, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], size: int
) -> None:
    # Before: put replaced the object, also one written under another key or by another tool,
    # while every command that writes a file refuses an existing one without --force.
    location = f"s3://{BUCKET}/ledger.csv"
    s3.put_object(Bucket=BUCKET, Key="ledger.csv", Body=b"the only copy")
    source = tmp_path / "ledger.csv"
    source.write_bytes(os.urandom(size))
    argv = ["put", "-q", "--key", ALIAS, "--context", "purpose=test", str(source), location]
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write {location}: an object exists there; it was left as it "
        "is. Give --force to replace it"
    )
    assert s3.get_object(Bucket=BUCKET, Key="ledger.csv")["Body"].read() == b"the only copy"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []  # aborted
    assert main([*argv, "--force"]) == 0
    sink = io.BytesIO()
    get_stream(Envelope(), S3Location(BUCKET, "ledger.csv"), sink, {"purpose": "test"})
    assert sink.getvalue() == source.read_bytes()


def _first_attempt_done_and_answer_lost(
    monkeypatch: pytest.MonkeyPatch, operation: str, before: Callable[[], object] = lambda: None
) -> Counter[str]:
    """Make S3 (moto) carry out the first attempt of ``operation`` by kmskit's S3 clients and
    lose its answer (a 500, which botocore retries), as a timeout after S3 committed the write
    would; ``before`` runs just before that first attempt reaches S3. Returns the attempts."""
    attempts: Counter[str] = Counter()

    def send(request: Any, event_name: str, **_: Any) -> Any:
        attempts[event_name.rsplit(".", 1)[-1]] += 1
        if not event_name.endswith(f".{operation}") or attempts[operation] > 1:
            return None
        before()
        botocore_stubber(event_name=event_name, request=request)  # S3 carries it out
        xml = b"<Error><Code>InternalError</Code><Message>lost</Message></Error>"
        return AWSResponse(request.url, 500, {}, _Body(xml))

    original = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)
        if service == "s3":
            made.meta.events.register_first("before-send.s3", send, unique_id="lost-answer")
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    return attempts


@pytest.mark.parametrize(
    ("size", "operation"),
    [(1000, "PutObject"), (PART_SIZE + 5000, "CompleteMultipartUpload")],
)
def test_a_retry_refused_because_its_own_first_attempt_wrote_the_object_succeeds(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, size: int, operation: str
) -> None:
    # With If-None-Match, botocore's retry of a write S3 carried out gets 412: the object is
    # this put's own (its kmskit-put-id), so the put succeeded and must not be reported failed.
    attempts = _first_attempt_done_and_answer_lost(monkeypatch, operation)
    data = os.urandom(size)
    location = S3Location(BUCKET, "retried.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(data), location, CONTEXT, exclusive=True)
    assert attempts[operation] == 2
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == data


def test_a_retry_refused_because_another_object_appeared_is_refused(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def another_writer() -> None:
        s3.put_object(Bucket=BUCKET, Key="raced.bin", Body=b"theirs")

    # The first attempt then finds that object (412, not carried out), and so does the retry.
    _first_attempt_done_and_answer_lost(monkeypatch, "PutObject", another_writer)
    with pytest.raises(UsageError, match="an object exists there; it was left as it is"):
        put_stream(
            Envelope([ALIAS]),
            io.BytesIO(b"mine"),
            S3Location(BUCKET, "raced.bin"),
            CONTEXT,
            exclusive=True,
        )
    assert s3.get_object(Bucket=BUCKET, Key="raced.bin")["Body"].read() == b"theirs"


# -- S3's other answers to the conditional write (Stubber: moto has no 409 or 501 here) ----------

PUT_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def stubbed_s3(world: KmsWorld, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """Every S3 client kmskit makes is this one client, answered by a Stubber (which checks each
    request against the real S3 API model); KMS is moto's. An exclusive put's ID is PUT_ID."""
    client = boto3.client("s3", region_name=REGION)
    real = ClientSettings.client

    def stubbed(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        return client if service == "s3" else real(self, service, **kwargs)

    monkeypatch.setattr(ClientSettings, "client", stubbed)
    put_ids = SimpleNamespace(uuid4=lambda: SimpleNamespace(hex=PUT_ID))
    monkeypatch.setattr(envelope_s3, "uuid", put_ids)
    with Stubber(client) as stub:
        yield stub
    stub.assert_no_pending_responses()


def _object(key: str, **params: Any) -> dict[str, Any]:
    return {"Bucket": BUCKET, "Key": key, **params}


def _refuse_put_object(stub: Stubber, key: str, code: str, status: int, **meta: Any) -> None:
    """An exclusive put of ``key`` finds no object there at first (its HeadObject before the
    upload), and its PutObject is answered with S3's error ``code``."""
    _head(stub, key, None)
    stub.add_client_error(
        "put_object",
        service_error_code=code,
        service_message=f"S3 says {code}",
        http_status_code=status,
        expected_params=_object(
            key,
            Body=ANY,
            ContentType="application/octet-stream",
            Metadata={"kmskit-put-id": PUT_ID},
            IfNoneMatch="*",
        ),
        response_meta=meta or None,
    )


def _head(stub: Stubber, key: str, put_id: str | None) -> None:
    """HeadObject of ``key`` finds an object of the put ``put_id`` (None: no object, 404)."""
    if put_id is None:
        stub.add_client_error("head_object", "404", "Not Found", 404, expected_params=_object(key))
    else:
        reply = {"Metadata": {"kmskit-put-id": put_id}, "ContentLength": 10}
        stub.add_response("head_object", reply, _object(key))


def _put_argv(tmp_path: Path, key: str) -> list[str]:
    source = tmp_path / "in.bin"
    source.write_bytes(b"plaintext")
    return [
        "put",
        "-q",
        "--key",
        ALIAS,
        "--context",
        "purpose=test",
        str(source),
        f"s3://{BUCKET}/{key}",
    ]


def test_a_conflicting_write_that_was_this_puts_own_first_attempt_succeeds(
    stubbed_s3: Stubber,
) -> None:
    # A first attempt still in progress when botocore's retry arrives: S3 answers the retry
    # 409 ConditionalRequestConflict (botocore does not retry it). Before: exit 1, although
    # the object there is this put's own.
    _refuse_put_object(stubbed_s3, "mine.bin", "ConditionalRequestConflict", 409)
    _head(stubbed_s3, "mine.bin", PUT_ID)
    location = S3Location(BUCKET, "mine.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(b"data"), location, CONTEXT, exclusive=True)


@pytest.mark.parametrize("found", ["another put's object", "no object"])
def test_cli_put_that_raced_another_write_is_a_conflict_to_run_again(
    stubbed_s3: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str], found: str
) -> None:
    # Before: exit 1 ("could not write ...: ConditionalRequestConflict: ..."), saying neither
    # that another write raced this one nor that running again is what to do.
    _refuse_put_object(stubbed_s3, "raced.bin", "ConditionalRequestConflict", 409)
    _head(stubbed_s3, "raced.bin", "f" * 32 if found == "another put's object" else None)
    assert main(_put_argv(tmp_path, "raced.bin")) == EXIT_CONFLICT
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write s3://{BUCKET}/raced.bin: another write to it was in "
        "progress at the same time, so S3 refused this one (ConditionalRequestConflict: S3 says "
        "ConditionalRequestConflict). Try the put again"
    )


def test_a_conflicting_complete_multipart_upload_is_a_conflict_and_the_upload_aborted(
    stubbed_s3: Stubber,
) -> None:
    key = "big.bin"
    _head(stubbed_s3, key, None)
    stubbed_s3.add_response(
        "create_multipart_upload",
        {"UploadId": "u1"},
        _object(key, ContentType="application/octet-stream", Metadata={"kmskit-put-id": PUT_ID}),
    )
    stubbed_s3.add_response(
        "upload_part", {"ETag": '"e1"'}, _object(key, UploadId="u1", PartNumber=1, Body=ANY)
    )
    stubbed_s3.add_response(
        "upload_part", {"ETag": '"e2"'}, _object(key, UploadId="u1", PartNumber=2, Body=ANY)
    )
    parts = [{"PartNumber": 1, "ETag": '"e1"'}, {"PartNumber": 2, "ETag": '"e2"'}]
    stubbed_s3.add_client_error(
        "complete_multipart_upload",
        "ConditionalRequestConflict",
        "conflict",
        409,
        expected_params=_object(
            key, UploadId="u1", MultipartUpload={"Parts": parts}, IfNoneMatch="*"
        ),
    )
    _head(stubbed_s3, key, None)
    stubbed_s3.add_response("abort_multipart_upload", {}, _object(key, UploadId="u1"))
    with pytest.raises(ConflictError, match="another write to it was in progress"):
        put_stream(
            Envelope([ALIAS]),
            io.BytesIO(os.urandom(PART_SIZE + 5000)),
            S3Location(BUCKET, key),
            CONTEXT,
            exclusive=True,
        )


def test_a_store_without_conditional_writes_is_named_with_the_way_past_it(
    stubbed_s3: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An S3-compatible store (AWS_ENDPOINT_URL) that does not implement If-None-Match. Before:
    # every put without --force failed with exit 1, naming neither the header nor --force.
    _refuse_put_object(stubbed_s3, "k", "NotImplemented", 501)
    assert main(_put_argv(tmp_path, "k")) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write s3://{BUCKET}/k: the S3 endpoint does not take "
        "conditional writes ('If-None-Match: *'), with which put never replaces an object there "
        "(NotImplemented: S3 says NotImplemented); nothing was written. Give --force to write "
        "without that check (an object there is then replaced)"
    )
    _refuse_put_object(stubbed_s3, "k", "NotImplemented", 501)
    with pytest.raises(ExclusivePutError) as caught:
        put_stream(
            Envelope([ALIAS]), io.BytesIO(b"x"), S3Location(BUCKET, "k"), CONTEXT, exclusive=True
        )
    assert str(caught.value).endswith(
        "nothing was written. Pass exclusive=False to write without that check (an object there "
        "is then replaced)"
    )


def test_a_refused_retry_whose_object_cannot_be_read_is_refused_saying_it_may_be_its_own(
    stubbed_s3: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 412 at a retried attempt, and no s3:GetObject to read the object's put ID.
    _refuse_put_object(stubbed_s3, "k", "PreconditionFailed", 412, RetryAttempts=1)
    stubbed_s3.add_client_error(
        "head_object", "403", "Forbidden", 403, expected_params=_object("k")
    )
    assert main(_put_argv(tmp_path, "k")) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write s3://{BUCKET}/k: an object exists there; it was left as "
        "it is (S3 refused a retried attempt, so the object may be the one this put wrote at an "
        "earlier attempt; reading its metadata to tell failed: An error occurred (403) when "
        "calling the HeadObject operation: Forbidden). Give --force to replace it"
    )


def test_library_callers_are_told_exclusive_false_and_cli_users_force(
    stubbed_s3: Stubber,
) -> None:
    # Before: both were told "Give --force to replace it (put_stream / put_file: exclusive=False)".
    _refuse_put_object(stubbed_s3, "k", "PreconditionFailed", 412)
    with pytest.raises(ExclusivePutError) as caught:
        put_stream(
            Envelope([ALIAS]), io.BytesIO(b"x"), S3Location(BUCKET, "k"), CONTEXT, exclusive=True
        )
    assert str(caught.value) == (
        f"could not write s3://{BUCKET}/k: an object exists there; it was left as it is. Pass "
        "exclusive=False to replace it"
    )
    assert caught.value.command_line == (
        f"could not write s3://{BUCKET}/k: an object exists there; it was left as it is. Give "
        "--force to replace it"
    )


# -- an existing object is refused before the upload, not only after it ---------------------------


class _Unread(io.RawIOBase):
    """A source that must not be read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the source was read")


def test_an_existing_object_is_refused_before_the_source_is_read_or_kms_called(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: S3 refused it only at the PutObject / CompleteMultipartUpload that ends the upload,
    # after the whole source was read, encrypted and (above 16 MiB) sent.
    s3.put_object(Bucket=BUCKET, Key="there.bin", Body=b"theirs")
    probe = probe_clients(monkeypatch)
    with pytest.raises(ExclusivePutError, match="an object exists there; it was left as it is"):
        put_stream(
            Envelope([ALIAS]), _Unread(), S3Location(BUCKET, "there.bin"), CONTEXT, exclusive=True
        )
    assert probe.calls == Counter({"HeadObject": 1})
    assert s3.get_object(Bucket=BUCKET, Key="there.bin")["Body"].read() == b"theirs"


def test_a_head_object_s3_refuses_leaves_the_check_to_the_conditional_write(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without s3:GetObject the early look is refused (403): the put goes on, and S3's
    # If-None-Match still decides.
    probe = probe_clients(monkeypatch)
    probe.fail("HeadObject", "403", "Forbidden", status=403)
    location = S3Location(BUCKET, "blind.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(b"first"), location, CONTEXT, exclusive=True)
    with pytest.raises(ExclusivePutError, match="an object exists there"):
        put_stream(Envelope([ALIAS]), io.BytesIO(b"second"), location, CONTEXT, exclusive=True)
    assert probe.calls["HeadObject"] == 2
    assert probe.calls["PutObject"] == 2
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == b"first"


class _NullS3:
    """An S3 client that takes each part and keeps nothing (so only the sink's memory counts)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, int]] = []

    def create_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {"UploadId": "u"}

    def upload_part(self, *, Body: Any, PartNumber: int, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.bodies.append(("part", len(Body)))
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def put_object(self, *, Body: Any, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.bodies.append(("object", len(Body)))
        return {}


@pytest.mark.parametrize("parts", [1, 3])
def test_an_upload_holds_one_part_in_memory_not_two(parts: int) -> None:
    # Before: each part was also copied into bytes to be sent, twice the memory the docs state.
    s3 = _NullS3()
    chunk = os.urandom(2**20)
    sink = _UploadSink(s3, S3Location(BUCKET, "big"), {})
    chunks = parts * PART_SIZE // len(chunk) - 1  # the last part (or the object) is smaller
    tracemalloc.start()
    try:
        for _ in range(chunks):
            sink.write(chunk)
        sink.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(size for _, size in s3.bodies) == chunks * len(chunk)
    assert s3.bodies[-1][0] == ("object" if parts == 1 else "part")
    assert peak < 1.3 * PART_SIZE


def test_access_denied_on_a_part_exits_3_naming_the_object_and_aborts(
    world: KmsWorld,
    s3: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail("UploadPart", "AccessDenied", "Access Denied", status=403)
    source = tmp_path / "big"
    source.write_bytes(os.urandom(PART_SIZE + 1))
    uri = f"s3://{BUCKET}/private/big"
    assert main(["put", "--key", ALIAS, str(source), uri]) == EXIT_ACCESS_DENIED
    assert one_error_line(capsys) == (
        f"kmskit: error: could not write {uri}: AccessDenied: Access Denied"
    )
    assert probe.calls["AbortMultipartUpload"] == 1
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_a_failing_abort_does_not_hide_the_error_that_stopped_the_upload(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail("UploadPart", "AccessDenied", "Access Denied", status=403)
    real = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = real(self, service, **kwargs)

        def unreachable(**_: Any) -> None:
            raise EndpointConnectionError(endpoint_url="https://s3.eu-west-1.amazonaws.com")

        made.meta.events.register("before-send.s3.AbortMultipartUpload", unreachable)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    with pytest.raises(AccessDeniedError, match="could not write s3://encrypted-bucket/big"):
        put_stream(
            Envelope([ALIAS]),
            io.BytesIO(os.urandom(PART_SIZE + 1)),
            S3Location(BUCKET, "big"),
            CONTEXT,
        )
    assert probe.calls["AbortMultipartUpload"] == 1


# -- botocore's errors (no answer from S3) name the object ---------------------------------------


def _s3_unreachable(monkeypatch: pytest.MonkeyPatch, operation: str) -> None:
    """``operation`` on S3 fails as an unreachable endpoint does (after botocore's retries)."""
    real = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = real(self, service, **kwargs)

        def unreachable(request: Any, **_: Any) -> None:
            raise EndpointConnectionError(endpoint_url=request.url)

        made.meta.events.register_first(f"before-send.s3.{operation}", unreachable)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)


@pytest.mark.parametrize(
    ("operation", "size"),
    [("PutObject", 10), ("CreateMultipartUpload", PART_SIZE + 1), ("UploadPart", PART_SIZE + 1)],
)
def test_put_with_s3_unreachable_is_a_kmskit_error_naming_the_object(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch, operation: str, size: int
) -> None:
    # Before: botocore's EndpointConnectionError itself, which the docs say never escapes.
    _s3_unreachable(monkeypatch, operation)
    with pytest.raises(KmskitError) as caught:
        put_stream(
            Envelope([ALIAS], settings=ClientSettings(region=REGION, max_attempts=1)),
            io.BytesIO(os.urandom(size)),
            S3Location(BUCKET, "far.bin"),
            CONTEXT,
        )
    assert str(caught.value).startswith(
        f"could not write s3://{BUCKET}/far.bin: Could not connect to the endpoint URL: "
    )
    assert caught.value.exit_code == EXIT_FAILURE
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_get_with_s3_unreachable_is_a_kmskit_error_naming_the_object(
    world: KmsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = S3Location(BUCKET, "far.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(b"data"), location, CONTEXT)
    _s3_unreachable(monkeypatch, "GetObject")
    out = tmp_path / "far.bin"
    with pytest.raises(KmskitError) as caught:
        get_file(
            Envelope(settings=ClientSettings(region=REGION, max_attempts=1)),
            location,
            out,
            CONTEXT,
        )
    assert str(caught.value).startswith(
        f"could not read s3://{BUCKET}/far.bin: Could not connect to the endpoint URL: "
    )
    assert not out.exists()


def test_get_after_the_connection_dropped_too_often_is_a_kmskit_error_naming_the_object(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = S3Location(BUCKET, "flaky.bin")
    put_stream(Envelope([ALIAS]), io.BytesIO(os.urandom(2**20)), location, CONTEXT)
    requests = _get_requests(monkeypatch, [1000] * (READ_RESUMES + 1))
    with pytest.raises(KmskitError) as caught:
        get_stream(Envelope(), location, io.BytesIO(), CONTEXT)
    assert str(caught.value).startswith(
        f"could not read s3://{BUCKET}/flaky.bin (the connection dropped {READ_RESUMES + 1} "
        "times): "
    )
    assert len(requests) == READ_RESUMES + 1


def test_an_unknown_profile_on_put_or_get_is_usage_naming_the_object(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_such_profile(self: ClientSettings, service: str, **_: Any) -> Any:
        raise ProfileNotFound(profile="gone")

    monkeypatch.setattr(ClientSettings, "client", no_such_profile)
    location = S3Location(BUCKET, "k")
    with pytest.raises(UsageError, match=f"^could not write s3://{BUCKET}/k: '--profile'"):
        put_stream(Envelope([ALIAS]), io.BytesIO(b"x"), location, CONTEXT)
    with pytest.raises(UsageError, match=f"^could not read s3://{BUCKET}/k: '--profile'"):
        get_stream(Envelope(), location, io.BytesIO(), CONTEXT)
