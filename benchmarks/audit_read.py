"""kmskit audit read benchmark: the bounded thread pool against one worker, in the same run.

    python benchmarks/audit_read.py [--objects 300] [--latency-ms 20] [--records 200]

Reads ``--objects`` gzip CloudTrail log files of ``--records`` KMS records each through
``AuditReader`` from an in-process S3 stand-in that answers every request after
``--latency-ms`` (a network round trip; moto answers in-process, so it would only measure the
GIL). Reports the median of three runs per worker count and the speed-up over ``--workers 1``,
then the time of ``--verify`` (SHA-256 of every log file, the digest folders listed; the stand-in
holds no digest file) over the time without, at ``--verify-workers``, runs interleaved.

    python benchmarks/audit_read.py --memory [--accounts 2] [--days 3 15] [--calls 2880]
        [--files 288]

Peak memory instead (``tracemalloc``: what Python allocates; SQLite's page cache, which
:data:`~kmskit.audit.SPILL_CACHE_KIB` bounds, is not traced): a bucket of ``--accounts``
accounts' organization trail folders in one Region, ``--calls`` calls a day in each (every call
its own eventID, in ``--files`` log files a day) and CloudTrail's hourly digest files signed
with a key of the benchmark's, read with and without ``--verify`` over each of ``--days``
days. Each peak (the least of three runs) is given as a ratio to the peak of the shortest
range read the same way, in the same run: a ratio near 1 means memory does not grow with the
range.

    python benchmarks/audit_read.py --file-records 1000 10000 40000

One log file of each number of records (KMS calls, each its own, none of the audited key),
read as an audit with ``--verify`` reads it (SHA-256 of the content, records of the range
filtered) by the streaming reader and by the reader it replaced (the file decompressed whole,
hashed whole, then ``json.loads``), both through ``AuditReader.read_object`` from an in-process
S3 stand-in without latency. For each file: peak traced memory (``tracemalloc``, the least of
three runs) as a ratio to the smallest file's, and the median time of five runs of the
streaming reader over that of the old one.
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import hashlib
import io
import json
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmskit.audit import (  # noqa: E402
    AuditReader,
    DateRange,
    LogLocation,
    RecordFilter,
    UsageSummary,
    _InRange,
    _LogContent,
    _WholeContent,
    record_shape_problem,
)
from kmskit.audit_integrity import DigestVerifier, PublicKey  # noqa: E402

ACCOUNT = "111122223333"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DAY = f"AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/11/05/"


def log_file(records: int) -> bytes:
    record = {
        "eventVersion": "1.11",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/App/s",
            "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::{ACCOUNT}:role/App"}},
        },
        "eventTime": "2026-11-05T10:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "eu-west-1",
        "requestParameters": {"encryptionContext": {"Department": "Engineering"}},
        "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY}],
        "recipientAccountId": ACCOUNT,
    }
    return gzip.compress(json.dumps({"Records": [record] * records}).encode())


def _listed(keys: list[str], prefix: str, start_after: str) -> list[str]:
    """What ListObjectsV2 lists of the sorted ``keys``: those under ``prefix`` after
    ``start_after`` (the archived-file probe starts at --since's folder)."""
    first = max(bisect.bisect_left(keys, prefix), bisect.bisect_right(keys, start_after))
    return keys[first : bisect.bisect_left(keys, prefix + "\U0010ffff")]


class _Paginator:
    def __init__(self, store: LatencyS3) -> None:
        self._store = store

    def paginate(
        self,
        *,
        Prefix: str,  # noqa: N803
        Delimiter: str | None = None,  # noqa: N803
        StartAfter: str = "",  # noqa: N803
        **_: Any,
    ) -> Any:
        time.sleep(self._store.latency)
        if Delimiter:
            names = sorted({k[len(Prefix) :].split("/", 1)[0] for k in self._store.keys})
            yield {"CommonPrefixes": [{"Prefix": f"{Prefix}{n}/"} for n in names if n]}
            return
        keys = _listed(self._store.keys, Prefix, StartAfter)
        for start in range(0, len(keys), 1000):
            if start:
                time.sleep(self._store.latency)
            yield {"Contents": [{"Key": k} for k in keys[start : start + 1000]]}


class LatencyS3:
    """The two S3 calls AuditReader makes, each answered after ``latency`` seconds."""

    def __init__(self, objects: int, records: int, latency: float) -> None:
        self.latency = latency
        self.records = records
        self.body = log_file(records)
        self.keys = [f"{DAY}{ACCOUNT}_CloudTrail_eu-west-1_{n:05d}.json.gz" for n in range(objects)]

    def get_paginator(self, name: str) -> _Paginator:
        return _Paginator(self)

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        time.sleep(self.latency)
        # A stream like botocore's StreamingBody: read in chunks, then closed.
        return {"Body": io.BytesIO(self.body)}


def run(s3: LatencyS3, workers: int, *, verify: bool = False) -> float:
    summary = UsageSummary()
    start = time.perf_counter()
    reader = AuditReader(s3, workers=workers, progress=False)
    location = LogLocation("bench")
    verifier = DigestVerifier(reader, location, lambda *_: {}) if verify else None
    stats = reader.run(
        location,
        DateRange(date(2026, 11, 5), date(2026, 11, 5)),
        RecordFilter(key_arns=frozenset({KEY})),
        summary.add,
        regions=["eu-west-1"],
        observer=verifier,
    )
    seconds = time.perf_counter() - start
    if stats.objects != len(s3.keys) or stats.matched != len(s3.keys) * s3.records:
        raise RuntimeError(
            f"read {stats.objects} of {len(s3.keys)} files, matched {stats.matched} records"
        )
    return seconds


# --- --memory: an organization trail's folders with signed digest files -----------------------

ORG = "o-a1b2c3d4e5"
FIRST = date(2026, 11, 2)
MEMORY_REGION = "eu-west-1"
LOG_FILES_A_DAY = 288  # one every five minutes, as CloudTrail delivers for a busy account


class DigestBucket:
    """An S3 stand-in holding ``accounts`` x ``days`` days of an organization trail's log files
    (``calls`` a day per account, each its own eventID) and hourly digest files that list them,
    chained and signed SHA256withRSA as CloudTrail signs them. Answers at once."""

    def __init__(self, accounts: int, days: int, calls: int, files: int = LOG_FILES_A_DAY) -> None:
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        self.fingerprint = hashlib.md5(self.public_der).hexdigest()  # a name, as CloudTrail's
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.accounts = [f"1000000000{n:02d}" for n in range(accounts)]
        self.days = days
        self.calls = calls
        self.files = files  # log files a day, in each account
        for account in self.accounts:
            self._account(account, days, calls)
        self.keys = sorted(self.objects)

    def _account(self, account: str, days: int, calls: int) -> None:
        root = f"AWSLogs/{ORG}/{account}/"
        per_file = calls // self.files
        every = timedelta(days=1) / self.files
        key_arn = f"arn:aws:kms:{MEMORY_REGION}:{account}:key/1234abcd-12ab-34cd-56ef-{account}"
        start = datetime.combine(FIRST, datetime.min.time(), tzinfo=UTC)
        delivered = [start + every * (n + 0.5) for n in range(days * self.files)]
        previous: tuple[str, str] | None = None
        for hour in range((days + 1) * 24):  # the day after the last too: its first digests
            end = start + timedelta(hours=hour + 1)
            listed = []
            for when in (t for t in delivered if end - timedelta(hours=1) < t <= end):
                name = f"{account}_CloudTrail_{MEMORY_REGION}_{when:%Y%m%dT%H%M%SZ}_x.json.gz"
                key = f"{root}CloudTrail/{MEMORY_REGION}/{when:%Y/%m/%d}/{name}"
                call_time = f"{when - timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}"
                records = [
                    _memory_record(
                        account, key_arn, call_time, f"{account}-{when.timestamp():.0f}-{n:06d}"
                    )
                    for n in range(per_file)
                ]
                content = json.dumps({"Records": records}).encode()
                self.objects[key] = (gzip.compress(content, compresslevel=1), {})
                listed.append(
                    {
                        "s3Bucket": "bench",
                        "s3Object": key,
                        "hashValue": hashlib.sha256(content).hexdigest(),
                        "hashAlgorithm": "SHA-256",
                        "newestEventTime": call_time,
                        "oldestEventTime": call_time,
                    }
                )
            previous = self._digest(root, account, end, listed, previous)

    def _digest(
        self,
        root: str,
        account: str,
        end: datetime,
        listed: list[dict[str, str]],
        previous: tuple[str, str] | None,
    ) -> tuple[str, str]:
        key = (
            f"{root}CloudTrail-Digest/{MEMORY_REGION}/{end:%Y/%m/%d}/{account}_CloudTrail-Digest_"
            f"{MEMORY_REGION}_org-trail_{MEMORY_REGION}_{end:%Y%m%dT%H%M%SZ}.json.gz"
        )
        end_time = f"{end:%Y-%m-%dT%H:%M:%SZ}"
        document = {
            "awsAccountId": account,
            "digestStartTime": f"{end - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
            "digestEndTime": end_time,
            "digestS3Bucket": "bench",
            "digestS3Object": key,
            "digestPublicKeyFingerprint": self.fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "previousDigestS3Bucket": "bench" if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestSignature": previous[1] if previous else None,
            "logFiles": listed,
        }
        content = json.dumps(document).encode()
        signed = "\n".join(
            (
                end_time,
                f"bench/{key}",
                hashlib.sha256(content).hexdigest(),
                previous[1] if previous else "null",
            )
        ).encode()
        signature = self.private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256()).hex()
        metadata = {"signature": signature, "signature-algorithm": "SHA256withRSA"}
        self.objects[key] = (gzip.compress(content, compresslevel=1), metadata)
        return key, signature

    def public_keys(self, region: str, start: datetime, end: datetime) -> dict[str, PublicKey]:
        return {self.fingerprint: PublicKey(self.public_der)}

    def get_paginator(self, name: str) -> DigestBucket:
        return self

    def paginate(
        self,
        *,
        Prefix: str,  # noqa: N803
        Delimiter: str | None = None,  # noqa: N803
        StartAfter: str = "",  # noqa: N803
        **_: Any,
    ) -> Any:
        keys = _listed(self.keys, Prefix, StartAfter)
        if Delimiter:
            names = sorted({k[len(Prefix) :].split("/", 1)[0] for k in keys})
            yield {"CommonPrefixes": [{"Prefix": f"{Prefix}{n}/"} for n in names]}
            return
        for start in range(0, len(keys), 1000):
            yield {"Contents": [{"Key": k} for k in keys[start : start + 1000]]}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        body, metadata = self.objects[Key]
        return {"Body": io.BytesIO(body), "Metadata": metadata}


def _memory_record(account: str, key_arn: str, call_time: str, event_id: str) -> dict[str, Any]:
    return {
        "eventTime": call_time,
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "eventID": event_id,
        "readOnly": True,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/a"},
        "resources": [{"ARN": key_arn}],
    }


def memory_peak(bucket: DigestBucket, days: int, *, verify: bool, workers: int = 4) -> int:
    """Peak traced memory of a summary of ``days`` days, with or without ``--verify``, on
    ``workers`` threads (default 4); a verification that finds a problem raises."""
    reader = AuditReader(bucket, workers=workers, progress=False)
    location = LogLocation("bench")
    # Far later: no digest is due, so the end of the range is not a note.
    verifier = (
        DigestVerifier(
            reader, location, bucket.public_keys, now=lambda: datetime(2027, 1, 1, tzinfo=UTC)
        )
        if verify
        else None
    )
    summary = UsageSummary()
    tracemalloc.start()
    try:
        stats = reader.run(
            location,
            DateRange(FIRST, FIRST + timedelta(days=days - 1)),
            RecordFilter(),
            summary.add,
            observer=verifier,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    folders = min(days + 1, bucket.days)  # the day after the range is read too
    calls = len(bucket.accounts) * bucket.files * (bucket.calls // bucket.files) * days
    if (stats.objects, stats.matched) != (len(bucket.accounts) * bucket.files * folders, calls):
        raise RuntimeError(f"read {stats.objects} log files, kept {stats.matched} calls")
    if verifier is not None and verifier.report.problems:
        raise RuntimeError(verifier.report.summary())
    return peak


def memory(args: argparse.Namespace) -> None:
    days = sorted(args.days)
    bucket = DigestBucket(args.accounts, days[-1], args.calls, args.files)
    print(
        f"{args.accounts} accounts x 1 Region, {args.calls} calls a day each "
        f"({args.files} log files, 24 digest files a day each); peak traced memory"
    )
    print(f"{'days':>5}  {'without':>12}  {'ratio':>6}  {'--verify':>12}  {'ratio':>6}")
    base: dict[bool, int] = {}
    for count in days:
        # The least of three runs: each log file decompressing takes a 1 MiB buffer for a
        # moment, and how many overlap varies from run to run.
        peaks = {
            verify: min(memory_peak(bucket, count, verify=verify) for _ in range(3))
            for verify in (False, True)
        }
        for verify, peak in peaks.items():
            base.setdefault(verify, peak)
        print(
            f"{count:>5}  {peaks[False] / 2**20:>9.1f} MiB  {peaks[False] / base[False]:>5.2f}x  "
            f"{peaks[True] / 2**20:>9.1f} MiB  {peaks[True] / base[True]:>5.2f}x"
        )


# --- --file-records: one large log file, streamed against decoded whole ------------------------

OTHER_KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/99999999-9999-9999-9999-999999999999"
ONE_DAY = DateRange(date(2026, 11, 5), date(2026, 11, 5))


class OneFileS3:
    """GetObject of one gzip body, answered at once."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"Body": io.BytesIO(self.body)}


def _call_time(n: int) -> str:
    """The ``n``-th second of 2026-11-05, as CloudTrail writes a time."""
    return f"2026-11-05T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z"


def large_log_file(records: int) -> tuple[bytes, int]:
    """A gzip log file of ``records`` KMS calls, each its own, and its decompressed size."""
    calls = [
        {
            **_memory_record(ACCOUNT, KEY, _call_time(n), f"{n:08d}-0000-4000-8000-{n:012d}"),
            "requestID": f"{n:08d}-1111-4000-8000-{n:012d}",
            "sourceIPAddress": "192.0.2.10",
            "userAgent": "aws-sdk-java/2.20.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.6",
            "requestParameters": {
                "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
                "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::data/objects/{n:08d}.parquet"},
            },
            "readOnly": True,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        }
        for n in range(records)
    ]
    content = json.dumps({"Records": calls}).encode()
    return gzip.compress(content, compresslevel=6), len(content)


def streamed_read(reader: AuditReader, record_filter: RecordFilter) -> _InRange:
    """The streaming reader, as the audit reads a log file with --verify."""
    bounds = ONE_DAY.bounds()
    read = reader.read_object(
        LogLocation("bench"),
        "f.json.gz",
        lambda: _LogContent(
            "s3://bench/f.json.gz", lambda: _InRange(bounds, record_filter), hashing=True
        ),
    )
    assert read is not None
    return read[0].selection


def whole_read(reader: AuditReader, record_filter: RecordFilter) -> _InRange:
    """The reader it replaced: decompressed whole, hashed whole, json.loads, then each record
    checked and filtered (the same selection)."""
    read = reader.read_object(LogLocation("bench"), "f.json.gz", _WholeContent)
    assert read is not None
    data = read[0]
    hashlib.sha256(data).hexdigest()
    selection = _InRange(ONE_DAY.bounds(), record_filter)
    for record in json.loads(data)["Records"]:
        if isinstance(record, dict) and record_shape_problem(record) is None:
            selection.add(record)
    return selection


def file_records(args: argparse.Namespace) -> None:
    sizes = sorted(args.file_records)
    record_filter = RecordFilter(key_arns=frozenset({OTHER_KEY}))
    print(
        "one log file, records of the range checked and filtered (none of the audited key), "
        "SHA-256 on; peak traced memory (least of 3), time (median of 5)"
    )
    print(
        f"{'records':>8}  {'MiB':>6}  {'whole: peak':>12}  {'ratio':>6}  {'streamed: peak':>14}  "
        f"{'ratio':>6}  {'whole s':>8}  {'streamed s':>10}  {'time':>6}"
    )
    first: dict[str, int] = {}
    for count in sizes:
        body, size = large_log_file(count)
        reader = AuditReader(OneFileS3(body), progress=False)
        peaks: dict[str, int] = {}
        for name, read in (("whole", whole_read), ("streamed", streamed_read)):
            runs = []
            for _ in range(3):
                tracemalloc.start()
                try:
                    selection = read(reader, record_filter)
                    runs.append(tracemalloc.get_traced_memory()[1])
                finally:
                    tracemalloc.stop()
                if selection.records != count or selection.kept:
                    raise RuntimeError(f"{name}: read {selection.records} of {count} records")
            peaks[name] = min(runs)
            first.setdefault(name, peaks[name])
        # interleaved, so a slow moment of the machine weighs on both alike
        times: dict[str, list[float]] = {"whole": [], "streamed": []}
        for _ in range(5):
            for name, read in (("whole", whole_read), ("streamed", streamed_read)):
                start = time.perf_counter()
                read(reader, record_filter)
                times[name].append(time.perf_counter() - start)
        seconds = {name: statistics.median(values) for name, values in times.items()}
        print(
            f"{count:>8}  {size / 2**20:>6.1f}  {peaks['whole'] / 2**20:>8.1f} MiB  "
            f"{peaks['whole'] / first['whole']:>5.2f}x  {peaks['streamed'] / 2**20:>10.1f} MiB  "
            f"{peaks['streamed'] / first['streamed']:>5.2f}x  {seconds['whole']:>8.3f}  "
            f"{seconds['streamed']:>10.3f}  {seconds['streamed'] / seconds['whole']:>5.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--verify-workers", type=int, default=8)
    parser.add_argument("--memory", action="store_true", help="peak memory instead of time")
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--days", type=int, nargs="+", default=[3, 15])
    parser.add_argument("--calls", type=int, default=2880)
    parser.add_argument("--files", type=int, default=LOG_FILES_A_DAY, help="log files a day")
    parser.add_argument(
        "--file-records",
        type=int,
        nargs="+",
        help="one log file of each number of records: memory and time, streamed against whole",
    )
    args = parser.parse_args()
    if args.file_records:
        file_records(args)
        return
    if args.memory:
        memory(args)
        return
    s3 = LatencyS3(args.objects, args.records, args.latency_ms / 1000)
    print(
        f"{args.objects} log files x {args.records} records "
        f"({len(s3.body) / 1024:.1f} KiB gzip each), {args.latency_ms:g} ms per S3 request"
    )
    # The speed-up is over one worker, whatever order --workers lists them in (one worker is
    # measured first if it is not listed).
    counts = [1, *(w for w in args.workers if w != 1)]
    baseline = 0.0
    print(f"{'workers':>7}  {'seconds':>8}  {'files/s':>8}  {'speed-up':>8}")
    for workers in counts:
        seconds = statistics.median(run(s3, workers) for _ in range(3))
        baseline = baseline or seconds
        print(
            f"{workers:>7}  {seconds:>8.2f}  {args.objects / seconds:>8.0f}  "
            f"{baseline / seconds:>7.1f}x"
        )
    plain: list[float] = []
    verified: list[float] = []
    for _ in range(3):
        plain.append(run(s3, args.verify_workers))
        verified.append(run(s3, args.verify_workers, verify=True))
    without, with_verify = statistics.median(plain), statistics.median(verified)
    print(
        f"--verify, {args.verify_workers} workers: {with_verify:.2f} s against {without:.2f} s "
        f"without ({with_verify / without:.2f}x)"
    )


if __name__ == "__main__":
    main()
