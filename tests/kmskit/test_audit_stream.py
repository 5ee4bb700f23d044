"""kmskit audit: a log file is read in memory bounded by a chunk and a record, not by the file.

A log file was decompressed whole (up to 256 MiB), hashed whole for ``--verify`` and decoded
whole with ``json.loads``: Python objects several times the file's size, on each of
``--workers`` threads. Now it is hashed and decoded as it is decompressed, a record at a time,
and only the records the audit keeps are kept. The memory test failed before; the others keep
what did not change: every record counted once (a body that breaks off and is read again
included), the digest ``--verify`` compares, the gzip-bomb limit and the errors (and their
messages) for a file that is not CloudTrail's. The files are read through the S3 stand-in below,
in small chunks (``READ_CHUNK``) so records and characters straddle them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from botocore.exceptions import ResponseStreamingError

from kmskit.audit import (
    AuditReader,
    AuditStats,
    DateRange,
    LogLocation,
    RecordFilter,
    UsageSummary,
)
from kmskit.errors import IntegrityError
from tests.kmskit import test_audit as base

MIB = 1024 * 1024
DAY = "2026-11-03"
LOCATION = LogLocation(bucket=base.BUCKET, prefix=base.PREFIX)
ONE_DAY = DateRange(date(2026, 11, 3), date(2026, 11, 3))
OTHER_KEY = f"arn:aws:kms:eu-west-1:{base.OWNER}:key/99999999-9999-9999-9999-999999999999"


class BreaksOff:
    """A GetObject body that breaks off after ``at`` bytes (a connection reset)."""

    def __init__(self, data: bytes, at: int) -> None:
        self._data = io.BytesIO(data)
        self._left = at

    def read(self, amt: int | None = None) -> bytes:
        if self._left <= 0:
            raise ResponseStreamingError(error="Connection broken: IncompleteRead(0 bytes read)")
        chunk = self._data.read(min(amt, self._left) if amt and amt > 0 else self._left)
        self._left -= len(chunk)
        return chunk

    def close(self) -> None:
        pass


class OneDayS3:
    """An S3 stand-in holding log files (key -> gzip body) of one account, Region and day; the
    first GetObject of a key in ``breaks_off`` breaks off after that many bytes."""

    def __init__(self, objects: dict[str, bytes], breaks_off: dict[str, int] | None = None):
        self.objects = objects
        self.breaks_off = dict(breaks_off or {})
        self.gets: list[str] = []

    def get_paginator(self, name: str) -> OneDayS3:
        return self

    def paginate(self, *, Prefix: str, Delimiter: str | None = None, **_: Any) -> Iterator[Any]:  # noqa: N803
        if Delimiter:
            names = [name for key in self.objects if (name := self._next_part(Prefix, key))]
            yield {"CommonPrefixes": [{"Prefix": f"{Prefix}{n}/"} for n in sorted(set(names))]}
        else:
            yield {
                "Contents": [{"Key": key} for key in sorted(self.objects) if key.startswith(Prefix)]
            }

    @staticmethod
    def _next_part(prefix: str, key: str) -> str | None:
        rest = key[len(prefix) :].split("/")
        return rest[0] if key.startswith(prefix) and len(rest) > 1 else None

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        self.gets.append(Key)
        body = self.objects[Key]
        at = self.breaks_off.pop(Key, None)
        return {"Body": BreaksOff(body, at) if at is not None else io.BytesIO(body)}


class Hashes:
    """A :class:`~kmskit.audit.ReadObserver` that notes each log file's SHA-256."""

    def __init__(self) -> None:
        self.sha256: dict[str, str | None] = {}

    def begin(self, prefixes: Any) -> None:
        pass

    def log_file(self, key: str, last_modified: datetime | None, sha256: str | None, *_: Any):
        self.sha256[key] = sha256

    def end(self) -> None:
        pass


def decrypts(count: int) -> list[dict[str, Any]]:
    """``count`` Decrypt calls of DATA_KEY by Alice, each its own (eventID), with a non-ASCII
    encryption context (characters of two to four bytes across the chunks)."""
    alice = base.iam_user(base.ALICE)
    return [
        base.kms_record(
            "Decrypt",
            f"{DAY}T10:{n % 60:02d}:00Z",
            alice,
            base.DATA_KEY,
            context={"Abteilung": f"Qualität-€-😀-{n}"},
        )
        for n in range(count)
    ]


def log_content(records: list[Any]) -> bytes:
    return json.dumps({"Records": records}, ensure_ascii=False).encode()


def key_of(name: str) -> str:
    return base.log_key(base.OWNER, "eu-west-1", DAY, name)


def run(s3: OneDayS3, record_filter: RecordFilter) -> tuple[UsageSummary, AuditStats, Hashes]:
    summary, hashes = UsageSummary(), Hashes()
    stats = AuditReader(s3, workers=2, progress=False).run(
        LOCATION, ONE_DAY, record_filter, summary.add, observer=hashes
    )
    return summary, stats, hashes


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kmskit.audit.READ_CHUNK", 4099)


# --- memory -------------------------------------------------------------------------------------


def read_peak(records: int) -> tuple[int, AuditStats]:
    """Peak traced memory of an audit (``--verify``'s hashing on) of one log file of
    ``records`` KMS records, none of them of the audited key."""
    s3 = OneDayS3({key_of("f"): gzip.compress(log_content(decrypts(records)), compresslevel=1)})
    tracemalloc.start()
    try:
        _, stats, _ = run(s3, RecordFilter(key_arns=frozenset({OTHER_KEY})))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, stats


def test_memory_for_a_log_file_does_not_grow_with_its_size() -> None:
    """Ten times the records (31 MiB decompressed against 3) took ten times the memory
    (263 MB against 26: the decompressed bytes, then json.loads' text and objects); now the
    peak is that of a read chunk and a record (12 MB for both: text with four-byte characters
    takes four bytes a character), whatever the file's size."""
    small_peak, small = read_peak(3_000)
    large_peak, large = read_peak(30_000)
    assert (small.records, large.records, large.matched) == (3_000, 30_000, 0)
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)


# --- every record once ---------------------------------------------------------------------------


@pytest.mark.usefixtures("small_chunks")
def test_every_record_of_a_file_of_many_chunks_counts_once() -> None:
    records = [*decrypts(2_000), base.s3_record(f"{DAY}T11:00:00Z"), "junk", 7]
    content = log_content(records)
    s3 = OneDayS3({key_of("f"): gzip.compress(content)})
    summary, stats, hashes = run(s3, RecordFilter())
    assert summary.count(base.DATA_KEY, base.ALICE, "Decrypt") == 2_000
    assert (stats.objects, stats.records, stats.matched, stats.duplicates) == (1, 2_001, 2_000, 0)
    assert stats.kms_reads == 2_000
    assert hashes.sha256 == {key_of("f"): hashlib.sha256(content).hexdigest()}


@pytest.mark.usefixtures("small_chunks")
def test_a_body_that_breaks_off_mid_record_is_read_again_from_the_start() -> None:
    """Half the records were decoded (and hashed) when the body broke off: the second reading
    starts afresh, so each record counts once and the digest is of the content once."""
    content = log_content(decrypts(1_000))
    body = gzip.compress(content)
    s3 = OneDayS3({key_of("f"): body}, breaks_off={key_of("f"): len(body) // 2 + 7})
    summary, stats, hashes = run(s3, RecordFilter())
    assert s3.gets == [key_of("f")] * 2
    assert summary.count(base.DATA_KEY, base.ALICE, "Decrypt") == 1_000
    assert (stats.records, stats.matched, stats.duplicates) == (1_000, 1_000, 0)
    assert hashes.sha256 == {key_of("f"): hashlib.sha256(content).hexdigest()}


# --- files that are not CloudTrail's -------------------------------------------------------------


def json_error(content: bytes) -> str:
    try:
        json.loads(content)
    except ValueError as error:
        return str(error)
    raise AssertionError(f"valid JSON: {content!r}")


RECORD = json.dumps(base.s3_record(f"{DAY}T10:00:00Z")).encode()
NOT_JSON = [
    b"not json",
    b"",
    b'{"Records": [' + RECORD + b", " + RECORD[:-40],  # cut off in a record
    b'{"Records": [' + RECORD + b"]}\n  x",  # trailing garbage
    b'{"Records": [' + RECORD + b"]} {}",
    b'{"Records":\n [' + RECORD + b",\n" + RECORD + b" " + RECORD + b"]}",  # a "," missing
    b'{"Records": [' + RECORD + b",\n ]}",  # a trailing ","
    b'{"Records" [' + RECORD + b"]}",
    b'{"Records": [' + RECORD + b"],}",
    b'{"Records": [' + RECORD.replace(b'"eventName"', b"'eventName'") + b"]}",
    b'{"Records": [' + RECORD.replace(b"GetObject", b"Get\xffObject") + b"]}",  # not UTF-8
    b'{"Records": [' + RECORD + b", 1.5e]}",
    b'{"Records": [' + RECORD + b"] ",
]


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("content", NOT_JSON, ids=range(len(NOT_JSON)))
def test_a_file_that_is_not_json_fails_with_the_message_json_loads_gives(content: bytes) -> None:
    """The message names the place as json.loads did for the whole file (position, line and
    column in the whole content, not in the chunk it is found in)."""
    key = key_of("bad")
    s3 = OneDayS3({key: gzip.compress(content)})
    with pytest.raises(IntegrityError) as error:
        AuditReader(s3, progress=False).read_records(LOCATION, key)
    assert str(error.value) == (
        f"s3://{base.BUCKET}/{key} is not a gzip-compressed CloudTrail log file: "
        f"{json_error(content)}"
    )


def test_messages_for_json_that_breaks_off_or_goes_on() -> None:
    """Two of the messages above, as json.loads words them."""
    assert json_error(b'{"Records": []} x') == "Extra data: line 1 column 17 (char 16)"
    assert json_error(b'{"Records": [\n{"a": 1}') == (
        "Expecting ',' delimiter: line 2 column 9 (char 22)"
    )


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize(
    "content",
    [
        b"[" + RECORD + b"]",
        b'"Records"',
        b"{}",
        b'{"Records": {"a": [' + RECORD + b"]}}",
        b'{"Records": [' + RECORD + b'], "Records": 5}',  # the last one counts
    ],
)
def test_json_without_a_records_list_is_not_a_log_file(content: bytes) -> None:
    key = key_of("bad")
    s3 = OneDayS3({key: gzip.compress(content)})
    with pytest.raises(IntegrityError) as error:
        AuditReader(s3, progress=False).read_records(LOCATION, key)
    assert str(error.value) == f"s3://{base.BUCKET}/{key} has no 'Records' list"


@pytest.mark.usefixtures("small_chunks")
def test_records_are_those_of_the_last_records_list_as_json_loads_has_them() -> None:
    first, second = decrypts(2)
    content = log_content([first])[:-1] + b', "Other": [1, {"a": [2]}], "Records": ['
    content += json.dumps(second).encode() + b', "junk"]}'
    s3 = OneDayS3({key_of("f"): gzip.compress(content)})
    assert AuditReader(s3, progress=False).read_records(LOCATION, key_of("f")) == [second]


@pytest.mark.usefixtures("small_chunks")
def test_a_record_of_the_wrong_shape_far_into_a_file_is_named_by_its_number() -> None:
    records: list[Any] = [*decrypts(500), "junk", *decrypts(500)]
    records[900] = {**records[900], "resources": 5}
    key = key_of("misshapen")
    s3 = OneDayS3({key: gzip.compress(log_content(records))})
    with pytest.raises(IntegrityError) as error:
        AuditReader(s3, progress=False).read_records(LOCATION, key)
    assert str(error.value) == (
        f"s3://{base.BUCKET}/{key} is not a CloudTrail log file: in record 901, "
        "'resources' must be a list. Received: 5"
    )


def test_a_json_error_before_the_gzip_bomb_limit_still_reports_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As before, the size is checked before the JSON: a file past the limit is named for
    its size even when its text is not JSON from its first byte."""
    monkeypatch.setattr("kmskit.audit.MAX_LOG_FILE_BYTES", 1 * MIB)
    key = key_of("bomb")
    s3 = OneDayS3({key: gzip.compress(b"x" + b" " * (2 * MIB))})
    with pytest.raises(IntegrityError) as error:
        AuditReader(s3, progress=False).read_records(LOCATION, key)
    assert str(error.value).startswith(
        f"s3://{base.BUCKET}/{key} decompresses to more than 1 MiB, the limit for a CloudTrail "
        "log file: "
    )


def test_a_log_file_of_records_past_the_limit_is_refused_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Valid records up to and past the limit: refused for its size, none counted."""
    monkeypatch.setattr("kmskit.audit.MAX_LOG_FILE_BYTES", 1 * MIB)
    content = log_content(decrypts(2_000))
    assert len(content) > 1 * MIB
    s3 = OneDayS3({key_of("big"): gzip.compress(content)})
    summary = UsageSummary()
    with pytest.raises(IntegrityError, match="decompresses to more than 1 MiB"):
        AuditReader(s3, progress=False).run(LOCATION, ONE_DAY, RecordFilter(), summary.add)
    assert summary.rows == {}
