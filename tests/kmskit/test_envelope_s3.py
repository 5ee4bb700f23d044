"""kmskit put / get: envelope-encrypted S3 objects against moto (S3 + KMS)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import boto3
import pytest
from aws_encryption_sdk.identifiers import CommitmentPolicy

from kmskit import envelope_s3
from kmskit.cli import main
from kmskit.envelope import Envelope
from kmskit.envelope_s3 import (
    LOCATION_CONTEXT_KEY,
    PART_SIZE,
    S3Location,
    get_stream,
    put_stream,
)
from kmskit.errors import (
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_THROTTLED,
    EXIT_USAGE,
    IntegrityError,
    NotFoundError,
    ThrottledError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    ALIAS,
    REGION,
    KmsWorld,
    kms_world,
    one_error_line,
    probe_clients,
)

BUCKET = "encrypted-bucket"
CONTEXT = {"dataset": "invoices"}
S3_MAX_PARTS = 10_000  # parts per multipart upload (S3 User Guide, multipart upload limits)


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


@pytest.mark.parametrize("size", [0, 1000, PART_SIZE + 5000], ids=["empty", "1KB", "multipart"])
def test_put_get_round_trip(world: KmsWorld, s3: Any, size: int) -> None:
    data = os.urandom(size)
    location = S3Location(BUCKET, "2026/11/invoices.csv")
    info = put_stream(Envelope([ALIAS]), io.BytesIO(data), location, CONTEXT)
    assert info.context == {
        **CONTEXT,
        LOCATION_CONTEXT_KEY: "s3://encrypted-bucket/2026/11/invoices.csv",
    }
    stored = s3.get_object(Bucket=BUCKET, Key=location.key)["Body"].read()
    assert size < 16 or data[:64] not in stored
    # One standard message: ciphertext and encrypted data key together.
    plaintext, _ = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    ).decrypt(
        source=stored,
        key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[world.arn]),
    )
    assert plaintext == data
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == data


def test_an_object_moved_to_another_key_does_not_decrypt(world: KmsWorld, s3: Any) -> None:
    put_stream(Envelope([ALIAS]), io.BytesIO(b"salary data"), S3Location(BUCKET, "hr/a"), CONTEXT)
    s3.copy_object(Bucket=BUCKET, Key="public/a", CopySource={"Bucket": BUCKET, "Key": "hr/a"})
    with pytest.raises(
        IntegrityError,
        match=r"expected kmskit:s3-object=s3://encrypted-bucket/public/a, the message has "
        r"kmskit:s3-object=s3://encrypted-bucket/hr/a",
    ):
        get_stream(Envelope(), S3Location(BUCKET, "public/a"), io.BytesIO())


REPLICA_BUCKET = "encrypted-bucket-replica"


def test_a_copy_reads_where_it_is_bound_to_the_location_put_wrote(world: KmsWorld, s3: Any) -> None:
    # S3 replication (or a restored backup) copies the message unchanged into another bucket.
    s3.create_bucket(
        Bucket=REPLICA_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    original = S3Location(BUCKET, "hr/payroll.csv")
    put_stream(Envelope([ALIAS]), io.BytesIO(b"salary data"), original, CONTEXT)
    s3.copy_object(
        Bucket=REPLICA_BUCKET, Key=original.key, CopySource={"Bucket": BUCKET, "Key": original.key}
    )
    copy = S3Location(REPLICA_BUCKET, original.key)
    sink = io.BytesIO()
    info = get_stream(Envelope(), copy, sink, CONTEXT, written_to=original)
    assert sink.getvalue() == b"salary data"
    assert info.context[LOCATION_CONTEXT_KEY] == original.uri

    with pytest.raises(IntegrityError) as refused:
        get_stream(Envelope(), copy, io.BytesIO(), CONTEXT)
    assert str(refused.value).endswith(
        f"expected kmskit:s3-object={copy.uri}, the message has kmskit:s3-object={original.uri}"
        f"; if {copy.uri} is a copy of that object (S3 replication, a backup), give the "
        "location the message names ('written_to' / --written-to)"
    )
    # A copy of another object is still refused, and the hint is not repeated.
    elsewhere = S3Location(BUCKET, "public/payroll.csv")
    with pytest.raises(IntegrityError) as wrong:
        get_stream(Envelope(), copy, io.BytesIO(), CONTEXT, written_to=elsewhere)
    assert str(wrong.value).endswith(
        f"expected kmskit:s3-object={elsewhere.uri}, the message has "
        f"kmskit:s3-object={original.uri}"
    )


def test_cli_get_written_to_reads_a_replicated_copy(
    world: KmsWorld, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.create_bucket(
        Bucket=REPLICA_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    source = tmp_path / "report.pdf"
    source.write_bytes(os.urandom(5_000))
    uri = f"s3://{BUCKET}/reports/report.pdf"
    copy = f"s3://{REPLICA_BUCKET}/reports/report.pdf"
    assert main(["put", "-q", "--key", ALIAS, str(source), uri]) == 0
    s3.copy_object(
        Bucket=REPLICA_BUCKET,
        Key="reports/report.pdf",
        CopySource={"Bucket": BUCKET, "Key": "reports/report.pdf"},
    )
    capsys.readouterr()
    refused = tmp_path / "refused.pdf"
    assert main(["get", copy, str(refused)]) == EXIT_INTEGRITY
    assert "give the location the message names ('written_to' / --written-to)" in (
        capsys.readouterr().err
    )
    assert not refused.exists()
    out = tmp_path / "back.pdf"
    assert main(["get", "--written-to", uri, copy, str(out)]) == 0
    assert out.read_bytes() == source.read_bytes()
    assert f"got {copy} (a copy of {uri}) -> {out}:" in capsys.readouterr().err


def test_cli_a_bad_written_to_is_named_before_aws(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["get", "--written-to", "bucket/key", f"s3://{BUCKET}/k", str(out)]) == (EXIT_USAGE)
    assert one_error_line(capsys) == (
        "kmskit: error: '--written-to': an S3 location must look like s3://bucket/key. "
        "Received: 'bucket/key'"
    )
    assert no_aws == []


def test_sse_kms_is_requested_on_top(world: KmsWorld, s3: Any) -> None:
    put_stream(
        Envelope([ALIAS]), io.BytesIO(b"x"), S3Location(BUCKET, "k"), CONTEXT, sse_kms_key=world.arn
    )
    head = s3.head_object(Bucket=BUCKET, Key="k")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == world.arn


def test_failed_multipart_upload_is_aborted_and_leaves_no_object(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail("UploadPart", "SlowDown", "Please reduce your request rate.", status=503)
    with pytest.raises(
        ThrottledError, match=r"could not write s3://encrypted-bucket/big.*per prefix"
    ):
        put_stream(
            Envelope([ALIAS], settings=None),
            io.BytesIO(os.urandom(PART_SIZE + 1)),
            S3Location(BUCKET, "big"),
            CONTEXT,
        )
    assert probe.calls["AbortMultipartUpload"] == 1
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


class _LooksHuge(io.RawIOBase):
    """Reads ``data``, but seek/tell report ``claimed`` bytes: a file too large for 16 MiB parts
    (10,000 of them hold 156 GiB) without writing one."""

    def __init__(self, data: bytes, claimed: int) -> None:
        self._data = io.BytesIO(data)
        self._claimed = claimed
        self._at_end = False

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)

    def tell(self) -> int:
        return self._claimed if self._at_end else self._data.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._at_end = whence == os.SEEK_END
        return self._claimed if self._at_end else self._data.seek(offset, whence)


class _Pipe:
    """A non-seekable source, as stdin from a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def test_parts_of_a_large_file_fit_in_s3s_10000_parts(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # S3 takes at most 10,000 parts: a 200 GiB file needs parts of more than 20 MiB (16 MiB
    # parts would fail at part 10,001, after 156 GiB were uploaded).
    probe = probe_clients(monkeypatch)
    claimed = 200 * 2**30
    data = os.urandom(40 * 2**20)
    location = S3Location(BUCKET, "dump.sql")
    put_stream(Envelope([ALIAS]), _LooksHuge(data, claimed), location, CONTEXT)
    part = 21 * 2**20  # claimed / 10,000 parts, rounded up to whole MiB
    assert part * S3_MAX_PARTS >= claimed
    assert probe.calls["UploadPart"] == -(-len(data) // part)  # 2, not 3 parts of 16 MiB
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == data


def test_parts_of_a_pipe_grow_as_the_upload_does(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The size of a pipe is unknown: parts grow by PART_SIZE every PART_GROWTH_EVERY parts
    # (scaled down here: 5 MiB, S3's smallest part, growing after every part).
    monkeypatch.setattr(envelope_s3, "PART_SIZE", 5 * 2**20)
    monkeypatch.setattr(envelope_s3, "PART_GROWTH_EVERY", 1)
    probe = probe_clients(monkeypatch)
    data = os.urandom(28 * 2**20)
    location = S3Location(BUCKET, "stream.bin")
    put_stream(Envelope([ALIAS]), _Pipe(data), location, CONTEXT)
    assert probe.calls["UploadPart"] == 3  # 5 + 10 + up to 15 MiB, not six parts of 5 MiB
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, CONTEXT)
    assert sink.getvalue() == data


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("bucket/key", "must look like s3://bucket/key"),
        ("s3://bucket", "must name a bucket and a key"),
        ("s3:///key", "must name a bucket and a key"),
        ("s3://bucket/caf\udce9", r"must be UTF-8 text\. Received: 's3://bucket/caf\\udce9'"),
    ],
)
def test_bad_locations_are_named(uri: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        S3Location.parse(uri)


def test_context_may_not_set_the_location_pair() -> None:
    with pytest.raises(UsageError, match="'kmskit:s3-object' is set by kmskit"):
        S3Location(BUCKET, "k").bound({LOCATION_CONTEXT_KEY: "s3://elsewhere/k"})


def test_put_refuses_an_empty_context_value_and_get_accepts_one(
    world: KmsWorld, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = S3Location(BUCKET, "empty-value")
    probe = probe_clients(monkeypatch)
    with pytest.raises(UsageError) as caught:
        put_stream(Envelope([ALIAS]), io.BytesIO(b"x"), location, {"dataset": ""})
    assert str(caught.value) == (
        "encryption context keys and values must be non-empty strings. Received: 'dataset'=''"
    )
    assert sum(probe.calls.values()) == 0
    # An object another SDK wrote with an empty value still decrypts.
    message, _ = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    ).encrypt(
        source=b"payload",
        key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[world.arn]),
        encryption_context=location.bound({"dataset": ""}),
    )
    s3.put_object(Bucket=BUCKET, Key=location.key, Body=message)
    sink = io.BytesIO()
    get_stream(Envelope(), location, sink, {"dataset": ""})
    assert sink.getvalue() == b"payload"


def test_cli_put_get_and_failures(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "report.pdf"
    source.write_bytes(os.urandom(70_000))
    uri = f"s3://{BUCKET}/reports/report.pdf"
    assert main(["put", "--key", ALIAS, "--context", "dataset=invoices", str(source), uri]) == 0
    out = tmp_path / "back.pdf"
    assert main(["get", "--context", "dataset=invoices", uri, str(out)]) == 0
    assert out.read_bytes() == source.read_bytes()

    wrong = tmp_path / "wrong.pdf"
    assert main(["get", "--context", "dataset=payroll", uri, str(wrong)]) == EXIT_INTEGRITY
    assert "wrong encryption context" in capsys.readouterr().err
    missing = f"s3://{BUCKET}/reports/missing.pdf"
    assert main(["get", missing, str(wrong)]) == EXIT_NOT_FOUND
    assert "NoSuchKey" in capsys.readouterr().err
    assert not wrong.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.pdf", "report.pdf"]


def test_cli_get_takes_discovery_accounts_and_warns_without_them(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    uri = f"s3://{BUCKET}/a.txt"
    assert main(["put", "-q", "--key", ALIAS, "--context", "d=x", str(source), uri]) == 0
    assert main(["get", "-q", uri, str(tmp_path / "1")]) == 0
    assert "kmskit: warning: no --key or --discovery-account" in capsys.readouterr().err
    account = world.arn.split(":")[4]
    assert main(["get", "-q", "--discovery-account", account, uri, str(tmp_path / "2")]) == 0
    assert capsys.readouterr().err == ""
    other = ["get", "-q", "--discovery-account", "999999999999", uri, str(tmp_path / "3")]
    assert main(other) == EXIT_CONFLICT
    assert "wrong key" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2", "a.txt"]


def test_get_of_a_missing_object_is_not_found(world: KmsWorld) -> None:
    with pytest.raises(NotFoundError, match="could not read s3://encrypted-bucket/nope"):
        get_stream(Envelope(), S3Location(BUCKET, "nope"), io.BytesIO())


def test_put_throttled_by_kms_exits_6(
    world: KmsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe_clients(monkeypatch).fail("GenerateDataKey", "ThrottlingException", "Rate exceeded")
    source = tmp_path / "a.txt"
    source.write_bytes(b"a")
    argv = ["put", "--max-attempts", "2", "--key", ALIAS, str(source), f"s3://{BUCKET}/a.txt"]
    assert main(argv) == EXIT_THROTTLED
    assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)


ELEVEN_KEYS = [arg for n in range(11) for arg in ("--key", f"alias/k{n}")]


@pytest.mark.parametrize(
    "command",
    [["put", *ELEVEN_KEYS, "IN", f"s3://{BUCKET}/k"], ["get", *ELEVEN_KEYS, f"s3://{BUCKET}/k"]],
    ids=["put", "get"],
)
def test_cli_too_many_keys_are_named_as_typed(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # The library says 'keys' (its parameter); the user typed --key.
    source = tmp_path / "in"
    source.write_bytes(b"x")
    argv = [str(source) if arg == "IN" else arg for arg in command]
    if argv[0] == "get":
        argv.append(str(tmp_path / "out"))
    assert main(argv) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--key' must name at most 10 keys. Received: 11"
    )
    assert no_aws == []


@pytest.mark.parametrize("command", ["put", "get"])
def test_cli_a_location_that_is_not_utf8_is_refused_before_aws(
    tmp_path: Path, no_aws: list[str], capsys: pytest.CaptureFixture[str], command: str
) -> None:
    # The location goes into the encryption context (kmskit:s3-object): bytes that are not
    # UTF-8 (b"caf\xe9", as Python decodes argv) must not reach KMS or S3.
    source = tmp_path / "in"
    source.write_bytes(b"x")
    uri = f"s3://{BUCKET}/caf\udce9"
    paths = [str(source), uri] if command == "put" else [uri, str(tmp_path / "out")]
    extra = ["--key", ALIAS] if command == "put" else []
    assert main([command, *extra, *paths]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        f"kmskit: error: an S3 location must be UTF-8 text. Received: {uri!r}"
    )
    assert no_aws == []
