"""kmskit audit --verify: CloudTrail log file integrity validation against digest files written
into moto S3 and signed here as CloudTrail signs them, with a key pair of the tests' own.

The signing below is written from the CloudTrail user guide ("CloudTrail digest file structure",
"Custom implementations of CloudTrail log file integrity validation") and the AWS CLI
(awscli/customizations/cloudtrail/validation.py), not from kmskit: the data to sign is
``digestEndTime\\n bucket/key\\n hex SHA-256 of the uncompressed digest\\n previous signature or
"null"``, signed SHA256withRSA (PKCS #1 v1.5), hex in the ``signature`` metadata; a log file's
``hashValue`` is the hex SHA-256 of its uncompressed content. moto has no ListPublicKeys, so
CloudTrail is a botocore Stubber (which checks each request against the service model)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from moto import mock_aws

from benchmarks.audit_read import DigestBucket, memory_peak
from kmskit.audit import (
    AuditReader,
    DateRange,
    ListedObject,
    LogLocation,
    RecordFilter,
    UsageSummary,
)
from kmskit.audit_integrity import (
    DIGEST_CHAIN_BROKEN,
    DIGEST_DELETED,
    DIGEST_MALFORMED,
    DIGEST_SIGNATURE_INVALID,
    DIGEST_UNKNOWN_KEY,
    LOG_FILE_DELETED,
    LOG_FILE_MODIFIED,
    LOG_FILE_NOT_COVERED,
    LOG_FILE_PENDING,
    NO_DIGEST,
    DigestVerifier,
    IntegrityProblem,
    IntegrityReport,
    PublicKey,
    cloudtrail_public_keys,
    data_to_sign,
    integrity_text,
)
from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_OK,
    ConflictError,
)
from tests.kmskit.test_audit import DATA_KEY, MEMBER, ORG, OWNER, iam_user, kms_record

BUCKET = "audit-logs-verified"
PREFIX = "trail"
REGION = "eu-west-1"
TRAIL = "org_audit-trail"  # an underscore: the digest name's parts are split around it
DAY = date(2026, 11, 5)
RANGE = DateRange(since=DAY, until=DAY)
LOCATION = LogLocation(bucket=BUCKET, prefix=PREFIX)
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
# ListPublicKeys: "The DER encoded public key value in PKCS #1 format".
PUBLIC_DER = PRIVATE_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.PKCS1
)
FINGERPRINT = hashlib.md5(PUBLIC_DER).hexdigest()  # 32 hex digits, like CloudTrail's
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ALICE = f"arn:aws:iam::{OWNER}:user/Alice"


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Trail:
    """Writes log files and digest files into moto S3 (``bucket``) the way CloudTrail does, for
    one account (``org``: of an organization trail) in one Region, as the trail ``name``."""

    def __init__(
        self,
        s3: Any,
        account: str = OWNER,
        org: str | None = None,
        separators: tuple[str, str] = (", ", ": "),
        *,
        bucket: str = BUCKET,
        region: str = REGION,
        name: str = TRAIL,
    ) -> None:
        self.s3 = s3
        self.account = account
        self.bucket = bucket
        self.region = region
        self.name = name  # the trail's
        self.separators = separators  # of the digests' JSON
        self.delivered: dict[str, datetime] = {}  # log file key -> when delivered
        self.root = f"{PREFIX}/AWSLogs/{org + '/' if org else ''}{account}/"
        self.previous: tuple[str, str] | None = None  # key, signature of the last digest
        self.previous_backfill: tuple[str, str] | None = None

    def log(self, delivered: datetime, name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """A log file delivered at ``delivered``; returns its digest entry."""
        key = (
            f"{self.root}CloudTrail/{self.region}/{delivered:%Y/%m/%d}/"
            f"{self.account}_CloudTrail_{self.region}_{delivered:%Y%m%dT%H%MZ}_{name}.json.gz"
        )
        content = json.dumps({"Records": records}).encode()
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=gzip.compress(content))
        self.delivered[key] = delivered
        return {
            "s3Bucket": self.bucket,
            "s3Object": key,
            "hashValue": hashlib.sha256(content).hexdigest(),
            "hashAlgorithm": "SHA-256",
            "newestEventTime": stamp(delivered),
            "oldestEventTime": stamp(delivered),
        }

    def kms_log(self, delivered: datetime, name: str) -> dict[str, Any]:
        when = stamp(delivered - timedelta(minutes=5))
        return self.log(delivered, name, [kms_record("Decrypt", when, iam_user(ALICE), DATA_KEY)])

    def digest(
        self,
        end: datetime,
        log_files: list[dict[str, Any]],
        *,
        backfill: bool = False,
        restart: bool = False,
        signer: rsa.RSAPrivateKey = PRIVATE_KEY,
        fingerprint: str = FINGERPRINT,
        previous_bucket: str | None = None,
        start: datetime | None = None,
    ) -> str:
        """The digest of the hour ending at ``end`` (starting at ``start``, default an hour
        before), chained to the previous one (``restart``: a first digest, its previous fields
        null; ``previous_bucket``: where that one is, default this bucket); returns its key."""
        suffix = "_backfill" if backfill else ""
        key = (
            f"{self.root}CloudTrail-Digest/{self.region}/{end:%Y/%m/%d}/{self.account}_CloudTrail-"
            f"Digest_{self.region}_{self.name}_{self.region}_{end:%Y%m%dT%H%M%SZ}{suffix}.json.gz"
        )
        previous = self.previous_backfill if backfill else self.previous
        if restart:
            previous = None
        document = {
            "awsAccountId": self.account,
            "digestStartTime": stamp(start or end - timedelta(hours=1)),
            "digestEndTime": stamp(end),
            "digestS3Bucket": self.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": None,
            "oldestEventTime": None,
            "previousDigestS3Bucket": (previous_bucket or self.bucket) if previous else None,
            "previousDigestS3Object": previous[0] if previous else None,
            "previousDigestHashValue": None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous[1] if previous else None,
            "logFiles": log_files,
        }
        content = json.dumps(document, separators=self.separators).encode()
        to_sign = "{}\n{}/{}\n{}\n{}".format(
            document["digestEndTime"],
            self.bucket,
            key,
            hashlib.sha256(content).hexdigest(),
            previous[1] if previous else "null",
        ).encode()
        signature = signer.sign(to_sign, padding.PKCS1v15(), hashes.SHA256()).hex()
        metadata = {"signature": signature, "signature-algorithm": "SHA256withRSA"}
        if backfill:
            metadata["backfill-generation-timestamp"] = stamp(end + timedelta(hours=3))
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=gzip.compress(content), Metadata=metadata
        )
        if backfill:
            self.previous_backfill = (key, signature)
        else:
            self.previous = (key, signature)
        return key


def public_keys(region: str, start: datetime, end: datetime) -> dict[str, PublicKey]:
    assert region == REGION
    return {FINGERPRINT: PublicKey(PUBLIC_DER)}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield client


@pytest.fixture
def trail(s3: Any) -> Trail:
    """Three log files delivered on 2026-11-05 and the three hourly digests covering them."""
    trail = Trail(s3)
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True)
    trail.digest(at(2), [trail.kms_log(at(1, 10), "b")])
    trail.digest(at(3), [trail.kms_log(at(2, 10), "c")])
    trail.digest(at(4), [])  # an hour with no log file: an "empty" digest
    return trail


def later(hours: float) -> datetime:
    """The real clock ``hours`` ahead: moto stamps objects with the real time."""
    return datetime.now(UTC) + timedelta(hours=hours)


def verify(s3: Any, *, now: datetime | None = None, keys: Any = public_keys) -> IntegrityReport:
    reader = AuditReader(s3, workers=4, progress=False)
    verifier = DigestVerifier(reader, LOCATION, keys, now=lambda: now or later(3))
    summary = UsageSummary()
    reader.run(LOCATION, RANGE, RecordFilter(), summary.add, observer=verifier)
    return verifier.report


def kinds(report: IntegrityReport) -> set[tuple[str, str]]:
    return {(p.kind, p.uri.rsplit("/", 1)[1]) for p in report.problems}


def log_name(trail: Trail, hour: int, name: str, minute: int = 10) -> str:
    return f"{trail.account}_CloudTrail_{REGION}_{at(hour, minute):%Y%m%dT%H%MZ}_{name}.json.gz"


def digest_name(trail: Trail, end: datetime) -> str:
    return (
        f"{trail.account}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{end:%Y%m%dT%H%M%SZ}.json.gz"
    )


# --- the format, pinned to the AWS CLI ---------------------------------------------------------


def test_data_to_sign_is_the_aws_cli_string() -> None:
    """aws-cli tests/unit/customizations/cloudtrail/test_validation.py,
    test_properly_signs_when_no_previous_signature: a first digest signs "null", and the hash
    is the hex SHA-256 of the digest's uncompressed bytes (here b"abc", FIPS 180-2's vector)."""
    digest = {
        "digestEndTime": "a",
        "digestS3Bucket": "b",
        "digestS3Object": "c",
        "previousDigestSignature": None,
    }
    assert data_to_sign(digest, hashlib.sha256(b"abc").hexdigest()) == (
        b"a\nb/c\nba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\nnull"
    )
    digest["previousDigestSignature"] = "0a1b"
    assert data_to_sign(digest, "00").endswith(b"\n00\n0a1b")


# --- library -----------------------------------------------------------------------------------


def test_untouched_logs_are_verified(trail: Trail) -> None:
    report = verify(trail.s3)
    assert kinds(report) == set()
    assert report.verified
    assert (report.digests_valid, report.digests_invalid) == (4, 0)
    assert (report.log_files_valid, report.log_files_invalid, report.log_files_not_covered) == (
        3,
        0,
        0,
    )


def test_a_modified_log_file_is_named(trail: Trail) -> None:
    key = f"{trail.root}CloudTrail/{REGION}/2026/11/05/{log_name(trail, 1, 'b')}"
    trail.s3.put_object(
        Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": []}).encode())
    )
    report = verify(trail.s3)
    assert kinds(report) == {(LOG_FILE_MODIFIED, log_name(trail, 1, "b"))}
    assert "was modified: the SHA-256 of its uncompressed content is" in report.problems[0].detail
    assert (report.log_files_valid, report.log_files_invalid) == (2, 1)


def test_a_deleted_log_file_is_named(trail: Trail) -> None:
    key = f"{trail.root}CloudTrail/{REGION}/2026/11/05/{log_name(trail, 2, 'c')}"
    trail.s3.delete_object(Bucket=BUCKET, Key=key)
    report = verify(trail.s3)
    assert kinds(report) == {(LOG_FILE_DELETED, log_name(trail, 2, "c"))}
    assert digest_name(trail, at(3)) in report.problems[0].detail


def test_a_deleted_digest_breaks_the_chain(trail: Trail) -> None:
    key = f"{trail.root}CloudTrail-Digest/{REGION}/2026/11/05/{digest_name(trail, at(2))}"
    trail.s3.delete_object(Bucket=BUCKET, Key=key)
    report = verify(trail.s3)
    # The gap, and the log file only that digest listed.
    assert kinds(report) == {
        (LOG_FILE_NOT_COVERED, log_name(trail, 1, "b")),
        (DIGEST_DELETED, digest_name(trail, at(2))),
    }
    assert digest_name(trail, at(3)) in report.sorted_problems()[0].detail


def test_a_changed_digest_signature_is_invalid(trail: Trail) -> None:
    key = f"{trail.root}CloudTrail-Digest/{REGION}/2026/11/05/{digest_name(trail, at(3))}"
    head = trail.s3.head_object(Bucket=BUCKET, Key=key)
    signature = head["Metadata"]["signature"]
    forged = ("1" if signature[0] == "0" else "0") + signature[1:]
    trail.s3.copy_object(
        Bucket=BUCKET,
        Key=key,
        CopySource={"Bucket": BUCKET, "Key": key},
        Metadata={**head["Metadata"], "signature": forged},
        MetadataDirective="REPLACE",
    )
    report = verify(trail.s3)
    # The next digest recorded the original signature: the chain says so too.
    assert kinds(report) == {
        (LOG_FILE_NOT_COVERED, log_name(trail, 2, "c")),
        (DIGEST_SIGNATURE_INVALID, digest_name(trail, at(3))),
        (DIGEST_CHAIN_BROKEN, digest_name(trail, at(3))),
    }


def test_a_digest_rewritten_to_hide_a_log_file_fails_its_signature(trail: Trail) -> None:
    rewrite_digest(trail, at(2), logFiles=[])
    report = verify(trail.s3)
    assert kinds(report) == {
        (LOG_FILE_NOT_COVERED, log_name(trail, 1, "b")),
        (DIGEST_SIGNATURE_INVALID, digest_name(trail, at(2))),
    }


def test_a_digest_whose_end_is_not_a_time_is_malformed(trail: Trail) -> None:
    """Its key is the one valid at its digestEndTime: one that is no time has none."""
    rewrite_digest(trail, at(2), digestEndTime="soon")
    report = verify(trail.s3)
    assert (DIGEST_MALFORMED, digest_name(trail, at(2))) in kinds(report)
    [malformed] = [p for p in report.problems if p.kind == DIGEST_MALFORMED]
    assert malformed.detail == "'digestEndTime' 'soon' is not a time"


def test_a_digest_signed_with_an_unknown_key(s3: Any) -> None:
    trail = Trail(s3)
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True)
    trail.digest(at(2), [trail.kms_log(at(1, 10), "b")], signer=OTHER_KEY, fingerprint="f" * 32)
    report = verify(s3)
    assert kinds(report) == {
        (LOG_FILE_NOT_COVERED, log_name(trail, 1, "b")),
        (DIGEST_UNKNOWN_KEY, digest_name(trail, at(2))),
    }
    assert "fingerprint ffffffff" in report.sorted_problems()[0].detail


def test_a_digest_signed_with_another_key_under_the_right_fingerprint(s3: Any) -> None:
    trail = Trail(s3)
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True, signer=OTHER_KEY)
    assert kinds(verify(s3)) == {
        (LOG_FILE_NOT_COVERED, log_name(trail, 0, "a")),
        (DIGEST_SIGNATURE_INVALID, digest_name(trail, at(1))),
    }


def test_a_log_file_no_digest_lists(trail: Trail) -> None:
    """Not covered, or pending while its digest may still come (within the hour)."""
    trail.kms_log(at(5, 10), "late")
    assert kinds(verify(trail.s3, now=later(3))) == {
        (LOG_FILE_NOT_COVERED, log_name(trail, 5, "late"))
    }
    report = verify(trail.s3, now=later(0.2))
    assert kinds(report) == {(LOG_FILE_PENDING, log_name(trail, 5, "late"))}
    assert (report.log_files_not_covered, report.log_files_pending) == (1, 1)


def test_a_log_file_of_other_days_needs_no_digest(trail: Trail) -> None:
    """Read (the next day's folder is read for late deliveries) but no record of the range."""
    trail.log(at(5, 10, DAY + timedelta(days=1)), "nextday", [])
    assert verify(trail.s3).verified


def test_organization_trail_folders(s3: Any) -> None:
    member = Trail(s3, account=MEMBER, org=ORG)
    member.digest(at(1), [member.kms_log(at(0, 10), "m")], restart=True)
    member.digest(at(2), [member.kms_log(at(1, 10), "n")])
    report = verify(s3)
    assert report.verified, kinds(report)
    assert (report.digests_valid, report.log_files_valid) == (2, 2)
    member.s3.delete_object(
        Bucket=BUCKET,
        Key=f"{member.root}CloudTrail/{REGION}/2026/11/05/{log_name(member, 1, 'n')}",
    )
    assert kinds(verify(s3)) == {(LOG_FILE_DELETED, log_name(member, 1, "n"))}


def test_a_backfill_digest_covers_what_the_hourly_one_missed(trail: Trail) -> None:
    late = trail.kms_log(at(2, 40), "backfilled")
    assert kinds(verify(trail.s3)) == {(LOG_FILE_NOT_COVERED, log_name(trail, 2, "backfilled", 40))}
    trail.digest(at(3), [late], backfill=True, restart=True)
    report = verify(trail.s3)
    assert report.verified, kinds(report)
    assert (report.digests_valid, report.log_files_valid) == (5, 4)


def test_hashes_are_of_the_uncompressed_content(trail: Trail) -> None:
    """Compressed anew (another level, two gzip members): other bytes, the same log file."""
    key = f"{trail.root}CloudTrail/{REGION}/2026/11/05/{log_name(trail, 0, 'a')}"
    content = gzip.decompress(trail.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    half = len(content) // 2
    body = gzip.compress(content[:half], compresslevel=1) + gzip.compress(content[half:])
    trail.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    assert verify(trail.s3).verified


def test_public_keys_come_from_list_public_keys_of_the_region(trail: Trail) -> None:
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    with Stubber(cloudtrail) as stub:
        stub.add_response(
            "list_public_keys",
            {"PublicKeyList": [{"Value": PUBLIC_DER, "Fingerprint": FINGERPRINT}]},
            {"StartTime": datetime(2026, 11, 5, tzinfo=UTC), "EndTime": ANY},
        )
        regions: list[str] = []

        def client(region: str) -> Any:
            regions.append(region)
            return cloudtrail

        report = verify(trail.s3, keys=cloudtrail_public_keys(client))
        stub.assert_no_pending_responses()
    assert report.verified
    assert regions == [REGION]


def test_list_public_keys_gives_each_keys_validity() -> None:
    """ValidityStartTime and ValidityEndTime are kept with each key (a digest is checked
    against them), in UTC."""
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    entry = {
        "Value": PUBLIC_DER,
        "Fingerprint": FINGERPRINT,
        "ValidityStartTime": at(0),
        "ValidityEndTime": datetime(2026, 11, 5, 13, tzinfo=timezone(timedelta(hours=1))),
    }
    with Stubber(cloudtrail) as stub:
        stub.add_response(
            "list_public_keys", {"PublicKeyList": [entry]}, {"StartTime": at(1), "EndTime": at(2)}
        )
        keys = cloudtrail_public_keys(lambda region: cloudtrail)(REGION, at(1), at(2))
    assert keys == {FINGERPRINT: PublicKey(PUBLIC_DER, at(0), at(12))}
    assert keys[FINGERPRINT].valid_to.tzinfo == UTC  # type: ignore[union-attr]


# --- command line ------------------------------------------------------------------------------


def stub_cloudtrail(monkeypatch: pytest.MonkeyPatch, error: str | None = None) -> Stubber:
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    stub = Stubber(cloudtrail)
    if error:
        stub.add_client_error("list_public_keys", error, "User is not authorized")
    else:
        stub.add_response(
            "list_public_keys",
            {"PublicKeyList": [{"Value": PUBLIC_DER, "Fingerprint": FINGERPRINT}]},
            {"StartTime": ANY, "EndTime": ANY},
        )
    stub.activate()
    made = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        if service == "cloudtrail":
            assert kwargs["region"] == REGION  # the digests' Region, not --region
            return cloudtrail
        return made(self, service, **kwargs)

    monkeypatch.setattr(ClientSettings, "client", client)
    return stub


def cli(*args: str) -> int:
    return main(
        ["audit", f"s3://{BUCKET}/{PREFIX}", "--since", "2026-11-05", "--until", "2026-11-05",
         "--region", "us-east-1", "--verify", *args]
    )  # fmt: skip


def test_cli_verified(
    trail: Trail, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub_cloudtrail(monkeypatch)
    assert cli() == EXIT_OK
    out, err = capsys.readouterr()
    assert "integrity: verified (4 digest files valid, 0 invalid; 3 log files valid" in out
    assert out.splitlines()[1].startswith(DATA_KEY)
    assert "integrity: verified" in err


def test_cli_json_names_each_problem_and_exits_5(
    trail: Trail, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stub_cloudtrail(monkeypatch)
    key = f"{trail.root}CloudTrail/{REGION}/2026/11/05/{log_name(trail, 1, 'b')}"
    trail.s3.delete_object(Bucket=BUCKET, Key=key)
    out = tmp_path / "usage.json"
    assert cli("--format", "json", "-o", str(out), "--quiet") == EXIT_INTEGRITY
    document = json.loads(out.read_text())
    assert document["rows"][0]["count"] == 2  # the report is written: it is the evidence
    integrity = document["integrity"]
    assert integrity["verified"] is False
    assert (integrity["digestsValid"], integrity["logFilesValid"]) == (4, 2)
    assert integrity["problems"] == [
        {
            "kind": LOG_FILE_DELETED,
            "object": f"s3://{BUCKET}/{key}",
            "detail": f"is listed in s3://{BUCKET}/{trail.root}CloudTrail-Digest/{REGION}/"
            f"2026/11/05/{digest_name(trail, at(2))} but not in the bucket",
        }
    ]


def test_cli_records_go_out_and_the_verdict_to_stderr(
    trail: Trail, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub_cloudtrail(monkeypatch)
    trail.kms_log(at(5, 10), "late")
    assert cli("--format", "jsonl", "--quiet") == EXIT_INTEGRITY
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 4
    assert "integrity: FAILED, 1 problems" in err
    assert log_name(trail, 5, "late") in err


def test_cli_without_list_public_keys_is_access_denied(
    trail: Trail, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub_cloudtrail(monkeypatch, error="AccessDeniedException")
    assert cli() == EXIT_ACCESS_DENIED
    assert "cloudtrail:ListPublicKeys" in capsys.readouterr().err


# --- what a real bucket holds around the audited days --------------------------------------------

OTHER_DER = OTHER_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.PKCS1
)
OTHER_FINGERPRINT = hashlib.md5(OTHER_DER).hexdigest()
THIRD_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
THIRD_DER = THIRD_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.PKCS1
)
THIRD_FINGERPRINT = hashlib.md5(THIRD_DER).hexdigest()
NEXT = DAY + timedelta(days=1)


class DeliveredReader(AuditReader):
    """moto stamps objects with the real time: here a log file's LastModified is the time the
    Trail delivered it, as in S3."""

    def __init__(self, s3: Any, delivered: dict[str, datetime]) -> None:
        super().__init__(s3, workers=4, progress=False)
        self.delivered = delivered

    def list_entries(self, location: LogLocation, prefix: str) -> list[ListedObject]:
        return [
            ListedObject(entry.key, self.delivered.get(entry.key, entry.last_modified))
            for entry in super().list_entries(location, prefix)
        ]


def verify_delivered(trail: Trail, now: datetime, keys: Any = public_keys) -> IntegrityReport:
    reader = DeliveredReader(trail.s3, trail.delivered)
    verifier = DigestVerifier(reader, LOCATION, keys, now=lambda: now)
    reader.run(LOCATION, RANGE, RecordFilter(), UsageSummary().add, observer=verifier)
    return verifier.report


def keys_valid(*keys: tuple[str, bytes, datetime, datetime]) -> Any:
    """ListPublicKeys: the keys (fingerprint, DER, valid from, valid to) whose validity overlaps
    [start, end]."""

    def source(region: str, start: datetime, end: datetime) -> dict[str, PublicKey]:
        assert start <= end
        return {
            fp: PublicKey(der, since, until)
            for fp, der, since, until in keys
            if since <= end and start <= until
        }

    return source


def digest_key(trail: Trail, end: datetime) -> str:
    return f"{trail.root}CloudTrail-Digest/{REGION}/{end:%Y/%m/%d}/{digest_name(trail, end)}"


def rewrite_digest(trail: Trail, end: datetime, **changes: Any) -> None:
    """The digest ending at ``end`` written again with ``changes`` to its document and its
    metadata (the signature) as it was."""
    key = digest_key(trail, end)
    body = trail.s3.get_object(Bucket=BUCKET, Key=key)
    document = {**json.loads(gzip.decompress(body["Body"].read())), **changes}
    trail.s3.put_object(
        Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps(document).encode()),
        Metadata=body["Metadata"],
    )  # fmt: skip


def set_metadata(s3: Any, key: str, metadata: dict[str, str]) -> None:
    s3.copy_object(
        Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": key},
        Metadata=metadata, MetadataDirective="REPLACE",
    )  # fmt: skip


def test_a_digest_in_cloudtrails_compact_json_verifies(s3: Any) -> None:
    """CloudTrail writes digests without spaces: the hash signed is of the bytes as stored."""
    trail = Trail(s3, separators=(",", ":"))
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True)
    trail.digest(at(2), [trail.kms_log(at(1, 10), "b")])
    report = verify(s3)
    assert report.verified, kinds(report)
    assert (report.digests_valid, report.log_files_valid) == (2, 2)


def test_a_signature_that_is_not_hex_is_invalid(trail: Trail) -> None:
    key = digest_key(trail, at(4))
    set_metadata(trail.s3, key, {"signature": "forged", "signature-algorithm": "SHA256withRSA"})
    assert kinds(verify(trail.s3)) == {(DIGEST_SIGNATURE_INVALID, digest_name(trail, at(4)))}


def test_a_digest_stripped_of_its_signature_is_invalid(trail: Trail) -> None:
    key = digest_key(trail, at(4))
    set_metadata(trail.s3, key, {})
    report = verify(trail.s3)
    assert kinds(report) == {(DIGEST_SIGNATURE_INVALID, digest_name(trail, at(4)))}
    assert report.problems[0].detail.startswith("has no signature")


def test_a_digest_copied_over_another_is_named_moved(trail: Trail) -> None:
    """Signed for the key it was delivered to: a valid digest put in another's place (to hide
    what that one listed) says where it belongs."""
    source, target = digest_key(trail, at(1)), digest_key(trail, at(2))
    trail.s3.copy_object(Bucket=BUCKET, Key=target, CopySource={"Bucket": BUCKET, "Key": source})
    report = verify(trail.s3)
    assert (DIGEST_MALFORMED, digest_name(trail, at(2))) in kinds(report)
    [moved] = [p for p in report.problems if p.kind == DIGEST_MALFORMED]
    assert moved.detail == f"was moved: it says it was delivered to s3://{BUCKET}/{source}"
    assert (LOG_FILE_NOT_COVERED, log_name(trail, 1, "b")) in kinds(report)


def test_a_file_in_the_digest_folder_not_named_as_a_digest_is_invalid(trail: Trail) -> None:
    key = f"{trail.root}CloudTrail-Digest/{REGION}/2026/11/05/extra.json.gz"
    trail.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(b"{}"))
    report = verify(trail.s3)
    assert kinds(report) == {(DIGEST_MALFORMED, "extra.json.gz")}
    assert (report.digests_valid, report.digests_invalid) == (4, 1)


@pytest.mark.parametrize("verifying", [False, True], ids=["read", "verify"])
def test_a_folder_inside_a_day_folder_is_not_read_and_is_named(
    trail: Trail, verifying: bool
) -> None:
    # CloudTrail writes directly in the day folder: objects in a folder inside one are not the
    # trail's, and are neither counted nor (with --verify) a crash.
    for folder in ("CloudTrail", "CloudTrail-Digest"):
        trail.s3.put_object(
            Bucket=BUCKET,
            Key=f"{trail.root}{folder}/{REGION}/2026/11/05/extra/x.json.gz",
            Body=gzip.compress(
                json.dumps(
                    {"Records": [kms_record("Decrypt", stamp(at(1)), iam_user(ALICE), DATA_KEY)]}
                ).encode()
            ),
        )
    warnings: list[str] = []
    reader = AuditReader(trail.s3, workers=4, progress=False, warn=warnings.append)
    verifier = DigestVerifier(reader, LOCATION, public_keys, now=lambda: later(3))
    summary = UsageSummary()
    reader.run(
        LOCATION, RANGE, RecordFilter(), summary.add, observer=verifier if verifying else None
    )
    assert sum(row.count for row in summary.rows.values()) == 3  # a, b and c: not x
    inner = [
        f"s3://{BUCKET}/{trail.root}{folder}/{REGION}/2026/11/05/extra/: a folder inside a "
        "CloudTrail day folder, not read (CloudTrail writes its files directly in the day "
        "folder; nothing it wrote is in there)"
        for folder in ("CloudTrail", "CloudTrail-Digest")
    ]
    assert sorted(warnings) == sorted(inner if verifying else inner[:1])
    if verifying:
        assert verifier.report.verified
        assert kinds(verifier.report) == set()


def test_the_first_digest_names_one_of_the_day_before(s3: Any) -> None:
    """Its previous digest is in a folder the audit does not read: not deleted. One of the
    audited days that is gone is, also at midnight sharp."""
    trail = Trail(s3)
    trail.digest(at(23, day=DAY - timedelta(days=1)), [], restart=True)
    trail.digest(at(0), [])
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")])
    assert verify(s3).verified, kinds(verify(s3))
    s3.delete_object(Bucket=BUCKET, Key=digest_key(trail, at(0)))
    report = verify(s3)
    assert kinds(report) == {(DIGEST_DELETED, digest_name(trail, at(0)))}
    assert report.digests_invalid == 1


def test_digests_of_the_days_after_list_log_files_not_read(s3: Any) -> None:
    """The digest folders read run a day past the log folders (DAY and the next): what those
    digests list in folders not read is not deleted, and what they list in folders read is
    checked."""
    trail = Trail(s3)
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True)
    late = trail.log(at(23, 30, NEXT), "late", [])
    after = DAY + timedelta(days=2)
    trail.digest(at(0, 30, after), [late, trail.log(at(0, 10, after), "after", [])])
    report = verify(s3)
    assert report.verified, kinds(report)
    assert report.log_files_valid == 2
    trail.s3.put_object(Bucket=BUCKET, Key=late["s3Object"], Body=gzip.compress(b'{"Records":[]}'))
    assert kinds(verify(s3)) == {(LOG_FILE_MODIFIED, late["s3Object"].rsplit("/", 1)[1])}


def test_a_range_of_days_is_checked_day_by_day_across_day_folders(s3: Any) -> None:
    """Three days, compared one day after the other: a log file delivered at 23:50 is listed by
    the first digest of the next day's folder, and the chain runs on across the folders; a log
    file deleted on the second day and one rewritten on the first are named, nothing else."""
    trail = Trail(s3)
    first = DAY - timedelta(days=2)
    names: dict[str, str] = {}
    for n in range(3):
        day = first + timedelta(days=n)
        restart = n == 0
        trail.digest(at(11, day=day), [trail.kms_log(at(10, 10, day), f"d{n}")], restart=restart)
        evening = trail.kms_log(at(23, 50, day), f"e{n}")
        names[f"e{n}"] = evening["s3Object"]
        trail.digest(at(0, 55, day + timedelta(days=1)), [evening])
    trail.s3.delete_object(Bucket=BUCKET, Key=names["e1"])
    rewritten = names["e0"]
    trail.s3.put_object(Bucket=BUCKET, Key=rewritten, Body=gzip.compress(b'{"Records":[]}'))
    reader = AuditReader(s3, workers=2, progress=False)
    verifier = DigestVerifier(reader, LOCATION, public_keys, now=lambda: later(3))
    reader.run(
        LOCATION, DateRange(first, DAY), RecordFilter(), UsageSummary().add, observer=verifier
    )
    report = verifier.report
    assert kinds(report) == {
        (LOG_FILE_DELETED, names["e1"].rsplit("/", 1)[1]),
        (LOG_FILE_MODIFIED, rewritten.rsplit("/", 1)[1]),
    }
    assert (report.digests_valid, report.digests_invalid) == (6, 0)
    assert (report.log_files_valid, report.log_files_invalid) == (4, 2)
    assert report.log_files_not_covered == 0


def test_a_log_file_of_the_next_day_with_only_its_records_needs_no_digest(trail: Trail) -> None:
    """A range ending yesterday: today's log files, whose digests are still to come, pass."""
    when = at(5, 10, NEXT)
    record = kms_record("Decrypt", stamp(when), iam_user(ALICE), DATA_KEY)
    trail.log(when, "today", [record])
    assert verify(trail.s3, now=when + timedelta(minutes=5)).verified


def test_pending_until_two_hours_after_delivery_and_only_after_the_newest_digest(
    trail: Trail,
) -> None:
    trail.kms_log(at(5, 10), "late")  # after the newest digest (04:00)
    name = log_name(trail, 5, "late")
    report = verify_delivered(trail, at(6, 40))
    assert kinds(report) == {(LOG_FILE_PENDING, name)}
    assert report.summary().endswith("1 not covered by a valid digest (1 pending))")
    assert kinds(verify_delivered(trail, at(7, 20))) == {(LOG_FILE_NOT_COVERED, name)}
    # Delivered before the newest digest, which does not list it: its digest came without it.
    trail.kms_log(at(3, 30), "unlisted")
    assert (LOG_FILE_NOT_COVERED, log_name(trail, 3, "unlisted", 30)) in kinds(
        verify_delivered(trail, at(4, 10))
    )


def test_a_backfill_digest_signed_with_a_key_of_its_generation_time(trail: Trail) -> None:
    """The AWS CLI looks a backfill digest's key up around backfill-generation-timestamp (a
    week after the audited day here) when the range's keys do not hold it."""
    late = trail.kms_log(at(2, 40), "backfilled")
    key = trail.digest(
        at(3), [late], backfill=True, restart=True,
        signer=OTHER_KEY, fingerprint=OTHER_FINGERPRINT,
    )  # fmt: skip
    week = DAY + timedelta(days=7)
    metadata = trail.s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    set_metadata(
        trail.s3, key, {**metadata, "backfill-generation-timestamp": stamp(at(12, 0, week))}
    )
    keys = keys_valid(
        (FINGERPRINT, PUBLIC_DER, at(0), at(0, day=week)),
        (OTHER_FINGERPRINT, OTHER_DER, at(11, 30, week), at(11, 50, week)),
    )
    report = verify(trail.s3, keys=keys)
    assert report.verified, kinds(report)
    assert (report.digests_valid, report.log_files_valid) == (5, 4)
    del metadata["backfill-generation-timestamp"]
    set_metadata(trail.s3, key, metadata)
    report = verify(trail.s3, keys=keys)
    assert (DIGEST_MALFORMED, key.rsplit("/", 1)[1]) in kinds(report)


def test_a_key_that_signs_only_the_last_digests_read_is_looked_up(s3: Any) -> None:
    """ListPublicKeys is asked for the keys of every digest folder read, to two days after."""
    trail = Trail(s3)
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True)
    after = at(0, 30, DAY + timedelta(days=2))
    trail.digest(after, [], signer=OTHER_KEY, fingerprint=OTHER_FINGERPRINT)
    keys = keys_valid(
        (FINGERPRINT, PUBLIC_DER, at(0), at(0, 10, DAY + timedelta(days=2))),
        (OTHER_FINGERPRINT, OTHER_DER, at(0, 10, DAY + timedelta(days=2)), later(0)),
    )
    report = verify(s3, keys=keys)
    assert report.verified, kinds(report)
    assert report.digests_valid == 2


class CountedKeys:
    """ListPublicKeys as :func:`keys_valid` answers it, each call's Region and time range
    recorded."""

    def __init__(self, *keys: tuple[str, bytes, datetime, datetime]) -> None:
        self.source = keys_valid(*keys)
        self.calls: list[tuple[str, datetime, datetime]] = []

    def __call__(self, region: str, start: datetime, end: datetime) -> dict[str, PublicKey]:
        self.calls.append((region, start, end))
        return dict(self.source(region, start, end))


def ticking(start: datetime) -> Any:
    """A clock a second later at each call, from ``start``."""
    ticks = iter(range(1_000_000))
    return lambda: start + timedelta(seconds=next(ticks))


def org_run(s3: Any, keys: CountedKeys, now: Any, since: date = DAY) -> IntegrityReport:
    reader = AuditReader(s3, workers=4, progress=False)
    verifier = DigestVerifier(reader, LOCATION, keys, now=now)
    reader.run(
        LOCATION, DateRange(since, DAY), RecordFilter(), UsageSummary().add, observer=verifier
    )
    return verifier.report


def test_public_keys_are_looked_up_once_per_region_for_an_organization(s3: Any) -> None:
    """An organization trail's member accounts share their Region's keys: one ListPublicKeys
    call for the run's range up to when it started, also for a range ending now. (The old
    code asked again for every account, its range ending at the clock's time then.)"""
    accounts = [f"{n:012}" for n in range(100000000001, 100000000006)]
    for account in accounts:
        member = Trail(s3, account=account, org=ORG)
        member.digest(at(1), [member.kms_log(at(0, 10), "a")], restart=True)
        member.digest(at(2), [member.kms_log(at(1, 10), "b")])
    keys = CountedKeys((FINGERPRINT, PUBLIC_DER, at(0, day=DAY - timedelta(days=30)), later(0)))
    report = org_run(s3, keys, ticking(at(2, 30)))
    assert report.verified, kinds(report)
    assert (report.digests_valid, report.log_files_valid) == (10, 10)
    assert keys.calls == [(REGION, at(0), at(2, 30))]  # to the time the run started


def test_a_digest_delivered_after_the_run_started_widens_the_look_up_once(s3: Any) -> None:
    """A digest newer than the run's start (delivered while it read) has its key looked up
    from there to now, once for all such digests: here signed with a key rotated in after the
    run started."""
    accounts = [f"{n:012}" for n in range(100000000001, 100000000004)]
    for account in accounts:
        member = Trail(s3, account=account, org=ORG)
        member.digest(at(1), [member.kms_log(at(0, 10), "a")], restart=True)
        member.digest(at(3), [], signer=OTHER_KEY, fingerprint=OTHER_FINGERPRINT)
    keys = CountedKeys(
        (FINGERPRINT, PUBLIC_DER, at(0), at(2, 45)),
        (OTHER_FINGERPRINT, OTHER_DER, at(2, 45), later(0)),
    )
    report = org_run(s3, keys, ticking(at(2, 30)))
    assert report.verified, kinds(report)
    assert report.digests_valid == 6
    assert [call[:2] for call in keys.calls] == [(REGION, at(0)), (REGION, at(2, 30))]
    assert keys.calls[1][2] >= at(3)


def test_a_digest_is_refused_unless_its_key_was_valid_at_its_end(s3: Any) -> None:
    """The Region's keys are looked up once for the whole run, so a key is checked against
    each digest's digestEndTime: a key valid at some other time of the range (until the day
    before, or from more than a day after the digest's end, when it was signed) does not verify
    a digest it did not sign then. (The old code took any key of the account's range: the
    member's two digests were valid.)"""
    before = DAY - timedelta(days=1)
    rotated = at(2, 1, day=NEXT)
    owner, member = Trail(s3, org=ORG), Trail(s3, account=MEMBER, org=ORG)
    # The day before, OTHER_KEY was CloudTrail's key.
    owner.digest(at(22, day=before), [owner.kms_log(at(21, 10, before), "x")], restart=True,
                 signer=OTHER_KEY, fingerprint=OTHER_FINGERPRINT)  # fmt: skip
    owner.digest(at(1), [owner.kms_log(at(0, 10), "a")])
    # The member's digests of DAY's morning: one signed with the key of the day before, one
    # with a key valid only from a day and a minute after its end.
    member.digest(at(1), [member.kms_log(at(0, 10), "a")], restart=True,
                  signer=OTHER_KEY, fingerprint=OTHER_FINGERPRINT)  # fmt: skip
    member.digest(at(2), [member.kms_log(at(1, 10), "b")], signer=THIRD_KEY,
                  fingerprint=THIRD_FINGERPRINT)  # fmt: skip
    keys = CountedKeys(
        (OTHER_FINGERPRINT, OTHER_DER, at(0, day=before), at(23, day=before)),
        (FINGERPRINT, PUBLIC_DER, at(23, day=before), later(0)),
        (THIRD_FINGERPRINT, THIRD_DER, rotated, later(0)),
    )
    report = org_run(s3, keys, lambda: at(3, day=NEXT), since=before)
    assert kinds(report) == {
        (DIGEST_UNKNOWN_KEY, f"{MEMBER}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{end}.json.gz")
        for end in ("20261105T010000Z", "20261105T020000Z")
    } | {
        (LOG_FILE_NOT_COVERED, log_name(member, hour, name)) for hour, name in ((0, "a"), (1, "b"))
    }
    assert report.digests_valid == 2
    old, early = (p.detail for p in report.sorted_problems() if p.kind == DIGEST_UNKNOWN_KEY)
    listed = f"which CloudTrail lists for {REGION} (cloudtrail:ListPublicKeys) as valid from"
    assert old == (
        f"is signed with key fingerprint {OTHER_FINGERPRINT}, {listed} 2026-11-04T00:00:00Z to "
        "2026-11-04T23:00:00Z, not from its digestEndTime 2026-11-05T01:00:00Z to a day after, "
        "when it was signed"
    )
    assert early.startswith(
        f"is signed with key fingerprint {THIRD_FINGERPRINT}, {listed} 2026-11-06T02:01:00Z to "
    )
    assert early.endswith(
        ", not from its digestEndTime 2026-11-05T02:00:00Z to a day after, when it was signed"
    )
    assert len(keys.calls) == 1


def test_a_digest_signed_after_its_end_by_a_key_rotated_in_meanwhile_verifies(
    s3: Any,
) -> None:
    # CloudTrail signs a digest when it delivers it, up to an hour or so after its end: at a
    # rotation, with a key whose validity starts after digestEndTime.
    trail = Trail(s3)
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True,
                 signer=THIRD_KEY, fingerprint=THIRD_FINGERPRINT)  # fmt: skip
    keys = CountedKeys((THIRD_FINGERPRINT, THIRD_DER, at(1, 20), later(0)))
    report = verify(s3, now=at(3, day=NEXT), keys=keys)
    assert kinds(report) == set()
    assert report.digests_valid == 1


def test_list_public_keys_is_read_to_its_last_page(trail: Trail) -> None:
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    with Stubber(cloudtrail) as stub:
        stub.add_response(
            "list_public_keys",
            {"PublicKeyList": [{"Value": OTHER_DER, "Fingerprint": "0" * 32}], "NextToken": "t"},
            {"StartTime": ANY, "EndTime": ANY},
        )
        stub.add_response(
            "list_public_keys",
            {"PublicKeyList": [{"Value": PUBLIC_DER, "Fingerprint": FINGERPRINT}]},
            {"StartTime": ANY, "EndTime": ANY, "NextToken": "t"},
        )
        report = verify(trail.s3, keys=cloudtrail_public_keys(lambda region: cloudtrail))
        stub.assert_no_pending_responses()
    assert report.verified, kinds(report)


def test_a_chain_continued_from_another_bucket(s3: Any) -> None:
    """The trail delivered to another bucket before: its previous digest is not this bucket's
    to find."""
    trail = Trail(s3)
    trail.previous = (digest_key(trail, at(0)), "00ff")
    trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], previous_bucket="old-audit-bucket")
    report = verify(s3)
    assert report.verified, kinds(report)


def test_notes_say_where_a_chain_restarts_and_ends(
    trail: Trail, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail.digest(at(7), [trail.kms_log(at(6, 10), "after-a-gap")], restart=True)
    report = verify(trail.s3)
    assert report.verified
    restart, end = report.notes
    assert restart.startswith(f"s3://{BUCKET}/{digest_key(trail, at(7))} starts a new chain")
    assert "between 2026-11-05T04:00:00Z and 2026-11-05T06:00:00Z" in restart
    assert end.startswith(f"the digests of trail {TRAIL} (home Region {REGION}) in this folder end")
    assert f"note: {restart}" in integrity_text(report)
    # Verified an hour after the last digest: not an end, only the next one to come.
    assert verify(trail.s3, now=at(8)).notes == [restart]


def test_every_log_file_of_the_days_of_the_last_account_deleted(s3: Any) -> None:
    """The account read last, whose log files of the days read were all deleted: its digests
    still list them."""
    first, last = sorted((Trail(s3), Trail(s3, account=MEMBER)), key=lambda t: t.root)
    for trail in (first, last):
        trail.log(at(12, day=DAY - timedelta(days=9)), "older", [])
        trail.digest(at(1), [trail.kms_log(at(0, 10), "a")], restart=True)
    assert verify(s3).verified
    name = log_name(last, 0, "a")
    s3.delete_object(Bucket=BUCKET, Key=f"{last.root}CloudTrail/{REGION}/2026/11/05/{name}")
    assert kinds(verify(s3)) == {(LOG_FILE_DELETED, name)}


def test_cli_csv_writes_the_verdict_to_stderr(
    trail: Trail, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub_cloudtrail(monkeypatch)
    assert cli("--format", "csv", "--quiet") == EXIT_OK
    assert capsys.readouterr().err.startswith("kmskit: integrity: verified (4 digest files valid")


def test_the_text_names_the_first_50_problems_and_counts_the_rest() -> None:
    problems = [IntegrityProblem(LOG_FILE_DELETED, f"s3://b/{n:03}", "gone") for n in range(51)]
    lines = integrity_text(IntegrityReport(problems=problems)).splitlines()
    assert lines[1:] == [
        *(f"  {LOG_FILE_DELETED}  s3://b/{n:03}  gone" for n in range(50)),
        "  ... and 1 more problems (all in --format json)",
    ]
    lines = integrity_text(IntegrityReport(problems=problems[:50])).splitlines()
    assert len(lines) == 51


def test_a_region_whose_every_log_file_was_deleted(s3: Any) -> None:
    """No log file of the Region is left, so no log folder names it: its digest folder does,
    and what the digests list there is deleted."""
    trail, member = Trail(s3), Trail(s3, account=MEMBER)
    for each in (trail, member):
        each.digest(at(1), [each.kms_log(at(0, 10), "a")], restart=True)
    name = log_name(member, 0, "a")
    s3.delete_object(Bucket=BUCKET, Key=f"{member.root}CloudTrail/{REGION}/2026/11/05/{name}")
    report = verify(s3)
    assert kinds(report) == {(LOG_FILE_DELETED, name)}


# --- a range wiped: the digests after it name what was deleted ----------------------------------

LATER = datetime(2026, 11, 10, tzinfo=UTC)  # "now": the range (DAY) is in the past


def hourly(trail: Trail, first: datetime, last: datetime, logs: int = 6) -> None:
    """Hourly digests ending at ``first`` (a chain's first) to ``last``; a log file delivered
    in every ``logs``-th hour, the others empty, as CloudTrail delivers them."""
    end, restart = first, True
    while end <= last:
        hour = int((end - first) / timedelta(hours=1))
        listed = (
            [trail.kms_log(end - timedelta(minutes=50), f"h{hour}")] if hour % logs == 0 else []
        )
        trail.digest(end, listed, restart=restart)
        end, restart = end + timedelta(hours=1), False


def wipe(s3: Any, *days: date) -> None:
    """Delete every log file and digest file of ``days``' folders."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
        for listed in page.get("Contents", []):
            if any(f"/{day:%Y/%m/%d}/" in listed["Key"] for day in days):
                s3.delete_object(Bucket=BUCKET, Key=listed["Key"])


def test_a_range_whose_log_files_and_digests_were_all_deleted_is_not_verified(s3: Any) -> None:
    """The old code read only the digest folders of the range (and a day more): with every log
    file and digest of those days deleted it found nothing to check and said "verified". The
    first digest after them still names the last one deleted, and the Region has no digest
    left in the range: both are problems."""
    trail = Trail(s3)
    hourly(trail, at(1, day=DAY - timedelta(days=1)), at(3, day=DAY + timedelta(days=3)))
    report = verify(s3, now=LATER)
    assert report.verified, kinds(report)
    assert (report.digests_valid, report.log_files_valid, report.notes) == (72, 8, [])
    wipe(s3, DAY, NEXT, NEXT + timedelta(days=1))
    report = verify(s3, now=LATER)
    assert not report.verified
    last = at(23, day=NEXT + timedelta(days=1))
    assert kinds(report) == {(DIGEST_DELETED, digest_name(trail, last)), (NO_DIGEST, "")}
    problems = {p.kind: p for p in report.problems}
    assert problems[DIGEST_DELETED].detail.startswith(
        f"is gone: s3://{BUCKET}/{digest_key(trail, last + timedelta(hours=1))} names it as its "
        "previous digest (and any digest of its chain before it from 2026-11-05)"
    )
    assert problems[NO_DIGEST].uri == f"s3://{BUCKET}/{trail.root}CloudTrail-Digest/{REGION}/"
    assert problems[NO_DIGEST].detail.startswith(
        "unverifiable: no digest file in the digest folders of 2026-11-05 to 2026-11-07"
    )
    assert (report.digests_valid, report.digests_invalid) == (0, 1)


def test_the_digests_after_a_range_name_the_last_ones_deleted_in_it(s3: Any) -> None:
    """Only the later digest folders read were wiped: the old code noted where the chain ended
    (as for a stopped trail) and said "verified"; the next digest names the last deleted."""
    trail = Trail(s3)
    hourly(trail, at(1), at(3, day=DAY + timedelta(days=3)), logs=100)  # one log file, at 00:10
    wipe(s3, NEXT, NEXT + timedelta(days=1))
    report = verify(s3, now=LATER)
    last = at(23, day=NEXT + timedelta(days=1))
    assert kinds(report) == {(DIGEST_DELETED, digest_name(trail, last))}
    assert f"between it and s3://{BUCKET}/{digest_key(trail, at(23))}" in report.problems[0].detail
    assert (report.digests_valid, report.log_files_valid, report.notes) == (23, 1, [])


def test_a_chain_that_restarts_after_the_range_is_a_note(s3: Any) -> None:
    """A trail stopped in the range and started again after it: the next digest starts a new
    chain (its previous fields null), which names nothing deleted."""
    trail = Trail(s3)
    hourly(trail, at(1), at(12))
    hourly(trail, at(5, day=DAY + timedelta(days=3)), at(6, day=DAY + timedelta(days=3)))
    report = verify(s3, now=LATER)
    assert report.verified, kinds(report)
    (note,) = report.notes
    assert note.startswith(f"s3://{BUCKET}/{digest_key(trail, at(5, day=DAY + timedelta(days=3)))}")
    assert "starts a new chain: no log files were digested between 2026-11-05T12:00:00Z" in note


def test_the_look_ahead_reads_two_digest_folders_at_most(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trail stopped in the range, never started again: the digest folders after the
    range's are listed two days ahead, not up to now; the chain's end is a note."""
    trail = Trail(s3)
    hourly(trail, at(1), at(12))
    listed: list[str] = []
    list_entries = AuditReader.list_entries

    def spy(self: AuditReader, location: LogLocation, prefix: str) -> list[ListedObject]:
        listed.append(prefix)
        return list_entries(self, location, prefix)

    monkeypatch.setattr(AuditReader, "list_entries", spy)
    report = verify(s3, now=LATER + timedelta(days=30))
    assert report.verified, kinds(report)
    digest_folders = [p.split("CloudTrail-Digest/")[1] for p in listed if "-Digest/" in p]
    assert digest_folders == [f"{REGION}/2026/11/{day:02}/" for day in range(5, 10)]
    (note,) = report.notes
    assert "no digest in the digest folders up to 2026-11-09 names it" in note


def test_a_range_without_any_digest_is_not_verified(s3: Any) -> None:
    """CloudTrail delivers a digest every hour, also without log files: a Region whose log
    file of the range was read while its digest folders of the range are empty proves nothing
    (the old code: "verified", with 0 digests valid). Digests without log files are
    verified."""
    trail = Trail(s3)
    hourly(trail, at(1, day=DAY - timedelta(days=4)), at(3, day=DAY - timedelta(days=4)))
    trail.kms_log(at(0, 10), "a")  # its digests deleted (or validation off)
    report = verify(s3, now=LATER)
    name = log_name(trail, 0, "a")
    assert kinds(report) == {(NO_DIGEST, ""), (LOG_FILE_NOT_COVERED, name)}
    assert not report.verified
    assert report.as_dict()["regionsChecked"] == 1
    assert {p.kind: p for p in report.problems}[NO_DIGEST].detail.endswith(
        "(leave the account out by naming the others with --account, or the Region with "
        "--log-region)"
    )
    s3.delete_object(Bucket=BUCKET, Key=f"{trail.root}CloudTrail/{REGION}/2026/11/05/{name}")
    hourly(trail, at(1), at(3, day=DAY + timedelta(days=3)), logs=1000)  # no log file but one
    assert verify(s3, now=LATER).verified
    # Before the first digest of the range is due: not verified yet.
    fresh = Trail(s3, account=MEMBER)
    fresh.kms_log(at(0, 10), "a")
    report = verify(s3, now=at(1))
    assert (NO_DIGEST, "") in kinds(report)
    assert any("unverifiable yet" in p.detail for p in report.problems)


# --- an account or Region with nothing in the range (an organization's bucket) -------------

ABSENT = (
    "no log or digest file of account {account} in Region {region} in the range "
    "(2026-11-05 to 2026-11-07) and the digest folders up to 2026-11-09: the trail did not log "
    "there then, or all of it was deleted"
)


def test_a_region_logged_only_before_the_range_is_a_note(s3: Any) -> None:
    """The trail logged in a Region only before the range (the Region disabled, or the trail
    made single-Region): its folders of the range hold nothing, which the old code reported as
    no-digest (exit 5) though nothing was deleted."""
    trail = Trail(s3)
    hourly(trail, at(1, day=DAY - timedelta(days=1)), at(3, day=DAY + timedelta(days=3)))
    dropped = Trail(s3, region="us-west-2")
    hourly(dropped, at(1, day=DAY - timedelta(days=60)), at(5, day=DAY - timedelta(days=60)))
    report = verify(s3, now=LATER)
    assert report.verified, kinds(report)
    assert report.notes == [ABSENT.format(account=OWNER, region="us-west-2")]
    assert report.as_dict()["regionsChecked"] == 1
    # Alone, nothing of the range is read: nothing to prove, nothing deleted.
    only = Trail(s3, account=MEMBER, region="us-west-2")
    hourly(only, at(1, day=DAY - timedelta(days=4)), at(3, day=DAY - timedelta(days=4)))
    report = verify(s3, now=LATER)
    assert ABSENT.format(account=MEMBER, region="us-west-2") in report.notes


def test_a_member_account_that_left_before_the_range_is_a_note(s3: Any) -> None:
    owner = Trail(s3, org=ORG)
    hourly(owner, at(1, day=DAY - timedelta(days=1)), at(3, day=DAY + timedelta(days=3)))
    gone = Trail(s3, account=MEMBER, org=ORG)
    hourly(gone, at(1, day=DAY - timedelta(days=60)), at(5, day=DAY - timedelta(days=60)))
    report = verify(s3, now=LATER)
    assert report.verified, kinds(report)
    assert report.notes == [ABSENT.format(account=MEMBER, region=REGION)]


def test_a_member_account_that_joined_after_the_range_is_a_note(s3: Any) -> None:
    """The member's first digest, found by the look-ahead, starts a new chain (its previous
    fields null): it names nothing deleted."""
    owner = Trail(s3, org=ORG)
    hourly(owner, at(1, day=DAY - timedelta(days=1)), at(3, day=DAY + timedelta(days=3)))
    joined = Trail(s3, account=MEMBER, org=ORG)
    hourly(joined, at(5, day=DAY + timedelta(days=3)), at(8, day=DAY + timedelta(days=3)))
    report = verify(s3, now=LATER)
    assert report.verified, kinds(report)
    assert report.notes == [ABSENT.format(account=MEMBER, region=REGION)]


def test_a_range_wiped_with_the_digests_after_it_is_not_verified(s3: Any) -> None:
    """Everything of the range and of the folders looked ahead in deleted, the trail's only
    account and Region: nothing is left to name what was deleted, and nothing was proven.
    Before: 'integrity: verified (0 digest files valid ...)', exit 0."""
    trail = Trail(s3)
    hourly(trail, at(1, day=DAY - timedelta(days=1)), at(3, day=DAY + timedelta(days=8)))
    wipe(s3, *[DAY + timedelta(days=n) for n in range(5)])
    report = verify(s3, now=LATER + timedelta(days=5))
    assert not report.verified
    assert report.problems == []
    assert report.as_dict()["regionsEmpty"] == 1
    assert report.summary().startswith(
        "integrity: nothing verified: no account and Region read holds a log or digest file of "
        "the range, nor a later digest naming one (1 without: see the notes)"
    )
    assert report.notes[0].endswith("the trail did not log there then, or all of it was deleted")


def test_a_member_account_whose_range_was_wiped_is_still_a_problem(s3: Any) -> None:
    """Log files and digests of the range deleted in the member's folders: the first digest
    after them names the last one deleted, so no-digest stays a problem."""
    owner = Trail(s3, org=ORG)
    hourly(owner, at(1, day=DAY - timedelta(days=1)), at(3, day=DAY + timedelta(days=3)))
    member = Trail(s3, account=MEMBER, org=ORG)
    hourly(member, at(1, day=DAY - timedelta(days=1)), at(3, day=DAY + timedelta(days=3)))
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=member.root):
        for listed in page.get("Contents", []):
            if any(f"/{d:%Y/%m/%d}/" in listed["Key"] for d in (DAY, NEXT, NEXT + timedelta(1))):
                s3.delete_object(Bucket=BUCKET, Key=listed["Key"])
    report = verify(s3, now=LATER)
    assert not report.verified
    last = at(23, day=NEXT + timedelta(days=1))
    assert kinds(report) == {(DIGEST_DELETED, digest_name(member, last)), (NO_DIGEST, "")}
    assert report.notes == []


def test_verified_needs_a_valid_digest_once_a_region_is_checked() -> None:
    assert IntegrityReport().verified
    assert not IntegrityReport(regions_checked=1).verified
    assert IntegrityReport(regions_checked=1, digests_valid=1).verified


def test_cli_a_wiped_range_exits_5(
    s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = Trail(s3)
    hourly(trail, at(1), at(3, day=DAY + timedelta(days=3)))
    wipe(s3, DAY, NEXT, NEXT + timedelta(days=1))
    stub_cloudtrail(monkeypatch)
    assert cli("--quiet") == EXIT_INTEGRITY
    out = capsys.readouterr().out
    assert "integrity: FAILED, 2 problems (0 digest files valid, 1 invalid;" in out
    assert (
        f"{NO_DIGEST}  s3://{BUCKET}/{trail.root}CloudTrail-Digest/{REGION}/  unverifiable" in out
    )


def test_an_archived_digest_is_named_before_it_is_read(trail: Trail) -> None:
    """A digest file in S3 Glacier (not restored) failed when it was read, 'could not read',
    exit 1: its digest folder's listing names it, exit 7, before any digest of the folder is
    read."""
    key = digest_key(trail, at(2))
    trail.s3.copy_object(
        Bucket=BUCKET,
        Key=key,
        CopySource={"Bucket": BUCKET, "Key": key},
        StorageClass="GLACIER",
        MetadataDirective="COPY",
    )
    with pytest.raises(ConflictError) as error:
        verify(trail.s3)
    assert error.value.exit_code == EXIT_CONFLICT
    assert str(error.value).startswith(
        "1 CloudTrail digest files to read are archived (S3 Glacier Flexible Retrieval or Deep "
        f"Archive, not restored): GetObject cannot read them; the first s3://{BUCKET}/{key}. "
        "Restore them"
    )


def test_an_archived_digest_of_another_account_is_named_before_any_file_is_read(s3: Any) -> None:
    """The digest folders of an account and Region were listed when the run reached it: every
    log file and digest of the accounts before it was read first. The first digest folder of
    each is listed before anything is read, and every digest folder of the run then counted."""
    owner, member = Trail(s3), Trail(s3, account=MEMBER)
    for each in (owner, member):
        each.digest(at(1), [each.kms_log(at(0, 10), "a")], restart=True)
        each.digest(at(2), [each.kms_log(at(1, 10), "b")])
    archived = [digest_key(member, at(1)), digest_key(member, at(2))]
    error, read = verify_archived(s3, archived)
    assert error.startswith(
        "2 CloudTrail digest files to read are archived (S3 Glacier Flexible Retrieval or Deep "
        f"Archive, not restored): GetObject cannot read them; the first s3://{BUCKET}/"
        f"{archived[0]}, the last s3://{BUCKET}/{archived[1]}. Restore them"
    )
    assert read == []


def verify_archived(s3: Any, archived: list[str]) -> tuple[str, list[str]]:
    """The digest files ``archived`` moved to S3 Glacier Deep Archive, then :func:`verify`:
    the text of the ConflictError it must raise, and the keys read (GetObject) before."""
    for key in archived:
        s3.copy_object(
            Bucket=BUCKET,
            Key=key,
            CopySource={"Bucket": BUCKET, "Key": key},
            StorageClass="DEEP_ARCHIVE",
            MetadataDirective="COPY",
        )
    read: list[str] = []
    s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: read.append(params["Key"])
    )
    with pytest.raises(ConflictError) as error:
        verify(s3)
    return str(error.value), read


def test_an_archived_digest_after_an_empty_first_digest_folder_is_named_before_any_is_read(
    s3: Any,
) -> None:
    """Only the first digest folder of an account and Region was looked at: the member's is
    empty (its trail delivered from the next day on), so its archived digest was found after
    the owner's files were read. The probe lists the Region's digest folder from the first
    day's on (StartAfter), whatever day the oldest digest is of."""
    owner, member = Trail(s3), Trail(s3, account=MEMBER)
    owner.digest(at(1), [owner.kms_log(at(0, 10), "a")], restart=True)
    owner.digest(at(2), [owner.kms_log(at(1, 10), "b")])
    member.digest(at(1, day=NEXT), [member.kms_log(at(0, 10, day=NEXT), "a")], restart=True)
    archived = digest_key(member, at(1, day=NEXT))
    error, read = verify_archived(s3, [archived])
    assert error.startswith(
        "1 CloudTrail digest files to read are archived (S3 Glacier Flexible Retrieval or Deep "
        f"Archive, not restored): GetObject cannot read them; the first s3://{BUCKET}/"
        f"{archived}. Restore them"
    )
    assert read == []


# --- memory -------------------------------------------------------------------------------------


def test_verify_memory_does_not_grow_with_the_days_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--verify`` held the names and hashes of an account and Region's log files, and its
    digest files whole, until the last day of that account and Region was read: memory grew
    with the range (some 0.3 MiB a day for a log file every five minutes). A day's log files
    are compared once the digests of that day and the next are read, and let go with the
    digests' lists of them; a digest is let go once the next one of its chain is followed. The
    logs are verified (``memory_peak`` raises on any problem). (The old code: +2 MB for 9
    days.)"""
    # gzip takes a buffer of the size asked for: 1 MiB a file (two when a digest is read at
    # the same time) would hide what grows.
    monkeypatch.setattr("kmskit.audit.READ_CHUNK", 16 * 1024)
    bucket = DigestBucket(accounts=1, days=12, calls=144, files=144)
    memory_peak(bucket, 1, verify=True)  # the modules a run imports are not counted
    # One worker: the log files waiting to be counted do not vary from run to run.
    short, long = (memory_peak(bucket, days, verify=True, workers=1) for days in (3, 12))
    # What still grows with the range is the names of the digest files listed (24 a day, some
    # 450 bytes each while held): under 1 KiB a digest file of the days added.
    assert long - short < (12 - 3) * 24 * 1024, (short, long)
