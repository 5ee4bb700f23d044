"""kmskit audit read benchmark: the bounded thread pool against one worker, in the same run.

    python benchmarks/audit_read.py [--objects 300] [--latency-ms 20] [--records 200]

Reads ``--objects`` gzip CloudTrail log files of ``--records`` KMS records each through
``AuditReader`` from an in-process S3 stand-in that answers every request after
``--latency-ms`` (a network round trip; moto answers in-process, so it would only measure the
GIL). Reports the median of three runs per worker count and the speed-up over ``--workers 1``,
then the time of ``--verify`` (SHA-256 of every log file, the digest folders listed; the stand-in
holds no digest file) over the time without, at ``--verify-workers``, runs interleaved.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kmskit.audit import (  # noqa: E402
    AuditReader,
    DateRange,
    LogLocation,
    RecordFilter,
    UsageSummary,
)
from kmskit.audit_integrity import DigestVerifier  # noqa: E402

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


class _Paginator:
    def __init__(self, store: LatencyS3) -> None:
        self._store = store

    def paginate(self, *, Prefix: str, Delimiter: str | None = None, **_: Any) -> Any:  # noqa: N803
        time.sleep(self._store.latency)
        if Delimiter:
            names = sorted({k[len(Prefix) :].split("/", 1)[0] for k in self._store.keys})
            yield {"CommonPrefixes": [{"Prefix": f"{Prefix}{n}/"} for n in names if n]}
            return
        keys = [k for k in self._store.keys if k.startswith(Prefix)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--verify-workers", type=int, default=8)
    args = parser.parse_args()
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
