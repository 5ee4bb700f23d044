"""kmskit audit against moto S3 filled with CloudTrail log files shaped like the AWS KMS examples
(docs.aws.amazon.com/kms/latest/developerguide/ct-decrypt.html, ct-encrypt.html,
ct-generatedatakey.html)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.loaders
import pytest
from botocore.config import Config
from botocore.exceptions import ResponseStreamingError
from moto import mock_aws

from kmskit.audit import (
    AuditReader,
    CsvSink,
    DateRange,
    LogLocation,
    RecordFilter,
    UsageSummary,
    csv_row,
    ordered_map,
    principal_of,
    record_keys,
    resolve_key,
)
from kmskit.cli import main
from kmskit.errors import (
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    IntegrityError,
    KmskitError,
    UsageError,
)
from kmskit.progress import progress_bar

BUCKET = "audit-logs-111122223333"
PREFIX = "trail"
OWNER = "111122223333"  # owns the keys and the trail
PARTNER = "444455556666"  # calls the data key from another account
MEMBER = "555566667777"  # member account of an organization trail
ORG = "o-a1b2c3d4e5"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
DATA_KEY = f"arn:aws:kms:eu-west-1:{OWNER}:key/{KEY_ID}"
TRAIL_KEY = f"arn:aws:kms:us-east-1:{OWNER}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
MEMBER_KEY = f"arn:aws:kms:eu-west-1:{MEMBER}:key/11112222-3333-4444-5555-666677778888"
ALICE = f"arn:aws:iam::{OWNER}:user/Alice"
APP_ROLE = f"arn:aws:iam::{OWNER}:role/AppRole"
BATCH_ROLE = f"arn:aws:iam::{OWNER}:role/BatchRole"
PARTNER_ROLE = f"arn:aws:iam::{PARTNER}:role/PartnerReader"
MEMBER_ROLE = f"arn:aws:iam::{MEMBER}:role/MemberApp"
PAGE_OBJECTS = 1005  # more than one ListObjectsV2 page (1,000 keys)


# --- CloudTrail records -------------------------------------------------------------------------


def iam_user(arn: str) -> dict[str, Any]:
    account = arn.split(":")[4]
    return {
        "type": "IAMUser",
        "principalId": "EX_PRINCIPAL_ID",
        "arn": arn,
        "accountId": account,
        "accessKeyId": "EXAMPLE_KEY_ID",
        "userName": arn.rsplit("/", 1)[1],
    }


def assumed_role(role_arn: str, session: str) -> dict[str, Any]:
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": role_arn,
                "accountId": account,
                "userName": name,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-11-01T08:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def aws_service(name: str) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": name}


def kms_record(
    event_name: str,
    when: str,
    identity: dict[str, Any],
    key_arn: str | None,
    *,
    request_key_id: str | None = None,
    context: dict[str, str] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A KMS CloudTrail record as in the AWS KMS developer guide examples."""
    key_region, key_account = (
        (key_arn.split(":")[3], key_arn.split(":")[4]) if key_arn else ("", "")
    )
    request: dict[str, Any] = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    if event_name.startswith("GenerateDataKey"):
        request = {"keySpec": "AES_256"}
    if request_key_id is not None:
        request["keyId"] = request_key_id
    if context is not None:
        request["encryptionContext"] = context
    record: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": "kms.amazonaws.com",
        "eventName": event_name,
        "awsRegion": key_region or "eu-west-1",
        "sourceIPAddress": identity.get("invokedBy", "192.0.2.0"),
        "userAgent": "AWS Internal",
        "requestParameters": request,
        "responseElements": None,
        "additionalEventData": {"keyMaterialId": "1" * 64},
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": True,
        "resources": (
            [{"accountId": key_account, "type": "AWS::KMS::Key", "ARN": key_arn}] if key_arn else []
        ),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": key_account or OWNER,
        "eventCategory": "Management",
    }
    if error:
        record["errorCode"] = error
        record["errorMessage"] = "User is not authorized to perform: kms:Decrypt"
    return record


def s3_record(when: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": iam_user(ALICE),
        "eventTime": when,
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "eu-west-1",
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::data/report.csv"}],
        "recipientAccountId": OWNER,
    }


# --- the bucket ---------------------------------------------------------------------------------


def log_key(account: str, region: str, day: str, name: str, org: str | None = None) -> str:
    year, month, dd = day.split("-")
    org_part = f"{org}/" if org else ""
    return (
        f"{PREFIX}/AWSLogs/{org_part}{account}/CloudTrail/{region}/{year}/{month}/{dd}/"
        f"{account}_CloudTrail_{region}_{year}{month}{dd}T0000Z_{name}.json.gz"
    )


def new_audit_bucket(bucket: str) -> Any:
    """Inside ``mock_aws``: ``bucket`` made in eu-west-1, and an S3 client there."""
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return s3


def put_log(s3: Any, key: str, records: list[dict[str, Any]], bucket: str = BUCKET) -> None:
    body = gzip.compress(json.dumps({"Records": records}).encode())
    s3.put_object(Bucket=bucket, Key=key, Body=body)


# Expected counts over 2026-11-02..2026-11-08 (the "last week" of the tests).
EXPECTED_WEEK = {
    (DATA_KEY, ALICE, "Decrypt"): 3,  # two days, one failed attempt included
    (DATA_KEY, APP_ROLE, "Encrypt"): 2,  # keyId sent as alias name
    (DATA_KEY, APP_ROLE, "GenerateDataKey"): 3,  # keyId sent as bare key ID and as key ARN
    (DATA_KEY, PARTNER_ROLE, "Decrypt"): 2,  # cross-account caller, logged in both accounts
    (DATA_KEY, BATCH_ROLE, "Decrypt"): 1,  # in the next day's folder (late delivery)
    (TRAIL_KEY, "cloudtrail.amazonaws.com", "GenerateDataKey"): 2,
    (MEMBER_KEY, MEMBER_ROLE, "Decrypt"): 1,  # organization trail layout
}


def caller_copy(record: dict[str, Any]) -> dict[str, Any]:
    """The caller account's record of a cross-account call: KMS logs the call in both accounts,
    with one sharedEventID and a different eventID (AWS KMS developer guide, "Logging AWS KMS
    API calls with AWS CloudTrail"). ``record`` (the key owner's copy) gets the sharedEventID."""
    record["sharedEventID"] = str(uuid.uuid4())
    copy: dict[str, Any] = json.loads(json.dumps(record))
    copy["eventID"] = str(uuid.uuid4())
    copy["recipientAccountId"] = record["userIdentity"]["accountId"]
    return copy


def fill_bucket(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    app = assumed_role(APP_ROLE, "session-a")
    app_b = assumed_role(APP_ROLE, "session-b")
    partner = assumed_role(PARTNER_ROLE, "partner-etl")
    context = {"Department": "Engineering", "Project": "Alpha"}
    partner_wednesday = kms_record(
        "Decrypt", "2026-11-04T11:00:00Z", partner, DATA_KEY, request_key_id=DATA_KEY
    )
    partner_friday = kms_record(
        "Decrypt", "2026-11-06T08:00:00Z", partner, DATA_KEY, request_key_id=DATA_KEY
    )
    # The partner's own trail delivers to the same bucket: each call is there twice.
    put_log(
        s3,
        log_key(PARTNER, "eu-west-1", "2026-11-04", "caller"),
        [caller_copy(partner_wednesday)],
    )
    put_log(
        s3,
        log_key(PARTNER, "eu-west-1", "2026-11-06", "caller"),
        [caller_copy(partner_friday)],
    )
    put_log(
        s3,
        log_key(OWNER, "eu-west-1", "2026-11-01", "before"),
        [kms_record("Decrypt", "2026-11-01T12:00:00Z", iam_user(ALICE), DATA_KEY)],
    )
    put_log(
        s3,
        log_key(OWNER, "eu-west-1", "2026-11-02", "monday"),
        [
            kms_record(
                "Decrypt", "2026-11-02T09:15:00Z", iam_user(ALICE), DATA_KEY, context=context
            ),
            kms_record(
                "Encrypt", "2026-11-02T09:16:00Z", app, DATA_KEY, request_key_id="alias/app-data"
            ),
            kms_record(
                "GenerateDataKey", "2026-11-02T09:17:00Z", app, DATA_KEY, request_key_id=KEY_ID
            ),
            kms_record("ListAliases", "2026-11-02T09:18:00Z", iam_user(ALICE), None),
            s3_record("2026-11-02T09:19:00Z"),
        ],
    )
    put_log(
        s3,
        log_key(OWNER, "eu-west-1", "2026-11-04", "wednesday"),
        [
            kms_record("Decrypt", "2026-11-04T10:00:00Z", iam_user(ALICE), DATA_KEY),
            kms_record(
                "Decrypt",
                "2026-11-04T10:01:00Z",
                iam_user(ALICE),
                DATA_KEY,
                error="AccessDeniedException",
            ),
            kms_record(
                "Encrypt", "2026-11-04T10:02:00Z", app_b, DATA_KEY, request_key_id="alias/app-data"
            ),
            kms_record(
                "GenerateDataKey", "2026-11-04T10:03:00Z", app_b, DATA_KEY, request_key_id=DATA_KEY
            ),
            kms_record(
                "GenerateDataKey", "2026-11-04T10:04:00Z", app, DATA_KEY, request_key_id=DATA_KEY
            ),
            partner_wednesday,
        ],
    )
    put_log(
        s3,
        log_key(OWNER, "us-east-1", "2026-11-06", "trail"),
        [
            kms_record(
                "GenerateDataKey",
                "2026-11-06T00:05:00Z",
                aws_service("cloudtrail.amazonaws.com"),
                TRAIL_KEY,
                context={"aws:cloudtrail:arn": f"arn:aws:cloudtrail:us-east-1:{OWNER}:trail/t"},
            ),
            kms_record(
                "GenerateDataKey",
                "2026-11-06T00:10:00Z",
                aws_service("cloudtrail.amazonaws.com"),
                TRAIL_KEY,
            ),
            partner_friday,
        ],
    )
    batch = assumed_role(BATCH_ROLE, "nightly")
    # Delivered after midnight: one call from the last day of the range, one from the day after.
    put_log(
        s3,
        log_key(OWNER, "eu-west-1", "2026-11-09", "late"),
        [
            kms_record("Decrypt", "2026-11-08T23:58:00Z", batch, DATA_KEY),
            kms_record("Decrypt", "2026-11-09T00:03:00Z", batch, DATA_KEY),
        ],
    )
    put_log(
        s3,
        log_key(MEMBER, "eu-west-1", "2026-11-03", "member", org=ORG),
        [kms_record("Decrypt", "2026-11-03T13:00:00Z", assumed_role(MEMBER_ROLE, "m"), MEMBER_KEY)],
    )
    # Digest files sit next to the logs and are never read as logs.
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{PREFIX}/AWSLogs/{OWNER}/CloudTrail-Digest/eu-west-1/2026/11/02/digest.json.gz",
        Body=gzip.compress(b'{"awsAccountId": "111122223333"}'),
    )
    # So do Insights files (CloudTrail-Insight/): a KMS record there would change the counts.
    put_log(
        s3,
        f"{PREFIX}/AWSLogs/{OWNER}/CloudTrail-Insight/eu-west-1/2026/11/02/"
        f"{OWNER}_CloudTrail-Insight_eu-west-1_20261102T0000Z_insight.json.gz",
        [kms_record("Decrypt", "2026-11-02T10:00:00Z", iam_user(ALICE), DATA_KEY)],
    )


@pytest.fixture(scope="module")
def aws() -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        fill_bucket(s3)
        yield s3


PAGE_BUCKET = "audit-logs-busy-day"
PAGE_DAY = f"{PREFIX}/AWSLogs/{OWNER}/CloudTrail/eu-west-1/2026/11/05/"


@pytest.fixture(scope="module")
def busy_day(aws: Any) -> str:
    """A day with more log files than one ListObjectsV2 page holds."""
    aws.create_bucket(
        Bucket=PAGE_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    batch = assumed_role(BATCH_ROLE, "nightly")
    for n in range(PAGE_OBJECTS):
        put_log(
            aws,
            log_key(OWNER, "eu-west-1", "2026-11-05", f"batch{n:05d}"),
            [kms_record("Decrypt", f"2026-11-05T03:{n % 60:02d}:00Z", batch, DATA_KEY)],
            bucket=PAGE_BUCKET,
        )
    return PAGE_BUCKET


LOCATION = LogLocation(bucket=BUCKET, prefix=PREFIX)
WEEK = DateRange(since=date(2026, 11, 2), until=date(2026, 11, 8))


def listed_prefixes(s3: Any) -> list[dict[str, Any]]:
    """Record the parameters of every ListObjectsV2 call made with ``s3``."""
    calls: list[dict[str, Any]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", remember)
    return calls


def summarize(s3: Any, record_filter: RecordFilter | None = None, **kwargs: Any) -> UsageSummary:
    summary = UsageSummary()
    AuditReader(s3, workers=4, progress=False).run(
        LOCATION,
        kwargs.pop("date_range", WEEK),
        record_filter or RecordFilter(),
        summary.add,
        **kwargs,
    )
    return summary


# --- library ------------------------------------------------------------------------------------


def test_counts_per_key_principal_and_event(aws: Any) -> None:
    summary = summarize(aws)
    counts = {key: row.count for key, row in summary.rows.items()}
    assert counts == EXPECTED_WEEK


def test_cross_account_call_logged_in_both_accounts_counts_once(aws: Any) -> None:
    """The owner's and the caller's copy share a sharedEventID: one call, counted once."""
    sink = KeptRecords()
    stats = AuditReader(aws, workers=8, progress=False).run(
        LOCATION, WEEK, RecordFilter(caller_accounts=frozenset({PARTNER})), sink
    )
    assert sink.summary.count(DATA_KEY, PARTNER_ROLE, "Decrypt") == 2
    assert (stats.matched, stats.duplicates) == (2, 2)
    # The first copy in key order is kept: the key owner's account folder sorts first.
    assert [r["recipientAccountId"] for r in sink.records] == [OWNER, OWNER]


class KeptRecords:
    """A record sink that sums the records (``summary``) and keeps them in order (``records``)."""

    def __init__(self) -> None:
        self.summary = UsageSummary()
        self.records: list[dict[str, Any]] = []

    def __call__(self, record: dict[str, Any], keys: list[str]) -> None:
        self.summary.add(record, keys)
        self.records.append(record)


def aws_account(account: str, principal_id: str) -> dict[str, Any]:
    """A ``userIdentity`` of type AWSAccount: "The request was made by another AWS account"
    (CloudTrail user guide, "CloudTrail userIdentity element"). It names the account and the
    principal's unique ID only, no ARN (Amazon Macie API, ``AwsAccount``: "The action was
    performed using the credentials for an Amazon Web Services account other than your own
    account", members ``accountId`` and ``principalId``). The key owner's copy of a
    cross-account call can carry this instead of the caller's ARN."""
    return {"type": "AWSAccount", "principalId": principal_id, "accountId": account}


def cross_account_bucket(s3: Any, bucket: str, *, caller: str, caller_copy_too: bool) -> str:
    """One cross-account Decrypt by ``caller``'s PartnerReader role on the owner's DATA_KEY
    (2026-11-04): the owner's copy names only the caller's account; the caller's copy (in the
    caller's account folder, when ``caller_copy_too``) names the role. Both share a
    sharedEventID ("the account that used the KMS key and the account that owns the KMS key
    receive separate CloudTrail events for the same action. Each CloudTrail event delivered for
    this AWS action shares the same sharedEventID, but also has a unique eventID and
    recipientAccountID": CloudTrail user guide, record contents, sharedEventID)."""
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    role = f"arn:aws:iam::{caller}:role/PartnerReader"
    named = kms_record(
        "Decrypt", "2026-11-04T11:00:00Z", assumed_role(role, "etl"), DATA_KEY,
        request_key_id=DATA_KEY,
    )  # fmt: skip
    named["sharedEventID"] = str(uuid.uuid4())
    named["recipientAccountId"] = caller
    owner_copy = json.loads(json.dumps(named))
    owner_copy["eventID"] = str(uuid.uuid4())
    owner_copy["recipientAccountId"] = OWNER
    owner_copy["userIdentity"] = aws_account(caller, "AROAEXAMPLE:etl")
    put_log(s3, log_key(OWNER, "eu-west-1", "2026-11-04", "owner"), [owner_copy], bucket=bucket)
    if caller_copy_too:
        put_log(s3, log_key(caller, "eu-west-1", "2026-11-04", "caller"), [named], bucket=bucket)
    return role


@pytest.mark.parametrize(
    "caller",
    [
        PARTNER,  # sorts after the owner: the owner's anonymous copy is read first
        "000011112222",  # sorts before the owner: the caller's named copy is read first
    ],
)
def test_cross_account_call_is_attributed_to_the_caller_not_its_account(caller: str) -> None:
    """Whichever copy comes first in key order, the summary and the records name the role
    that made the call, not ``AWSAccount:<id>``; the call still counts once."""
    bucket = f"audit-logs-cross-account-{caller}"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        role = cross_account_bucket(s3, bucket, caller=caller, caller_copy_too=True)
        sink = KeptRecords()
        stats = AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, PREFIX), WEEK, RecordFilter(), sink
        )
    assert {key: row.count for key, row in sink.summary.rows.items()} == {
        (DATA_KEY, role, "Decrypt"): 1
    }
    assert [r["recipientAccountId"] for r in sink.records] == [caller]
    assert (stats.matched, stats.duplicates) == (1, 1)


def test_cross_account_call_known_only_by_account_is_still_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the caller's copy in the bucket, the owner's copy is the only record of the
    call: it is reported (as ``AWSAccount:<id>``), once, in every format, also when the held
    copies no longer fit in memory and go to a temporary file."""
    monkeypatch.setattr("kmskit.audit.HOLD_IN_MEMORY", 1)
    bucket = "audit-logs-owner-only"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        cross_account_bucket(s3, bucket, caller=PARTNER, caller_copy_too=False)
        summary = UsageSummary()
        stats = AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, PREFIX), WEEK, RecordFilter(), summary.add
        )
        out = tmp_path / "calls.csv"
        code = main(
            [
                "audit", f"s3://{bucket}/{PREFIX}", "--quiet", "--since", "2026-11-02",
                "--until", "2026-11-08", "--format", "csv", "-o", str(out),
            ]
        )  # fmt: skip
    assert {key: row.count for key, row in summary.rows.items()} == {
        (DATA_KEY, f"AWSAccount:{PARTNER}", "Decrypt"): 1
    }
    assert (stats.matched, stats.duplicates) == (1, 0)
    assert code == EXIT_OK
    (row,) = csv.DictReader(io.StringIO(out.read_text()))
    assert (row["principal"], row["userIdentityType"]) == (f"AWSAccount:{PARTNER}", "AWSAccount")


def test_calls_by_aws_services_logged_in_two_accounts_keep_their_order() -> None:
    """An AWS service is named by ``invokedBy`` in every copy: its records are not held back
    for a better copy and come in key order."""
    bucket = "audit-logs-service-cross-account"
    with mock_aws():
        s3 = new_audit_bucket(bucket)
        service = kms_record(
            "GenerateDataKey", "2026-11-03T10:00:00Z", aws_service("s3.amazonaws.com"), DATA_KEY
        )
        service["sharedEventID"] = str(uuid.uuid4())
        later = kms_record("Decrypt", "2026-11-04T10:00:00Z", iam_user(ALICE), DATA_KEY)
        put_log(s3, log_key(OWNER, "eu-west-1", "2026-11-03", "a"), [service], bucket=bucket)
        put_log(s3, log_key(OWNER, "eu-west-1", "2026-11-04", "b"), [later], bucket=bucket)
        names: list[str] = []
        AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, PREFIX),
            WEEK,
            RecordFilter(),
            lambda r, k: names.append(r["eventName"]),
        )
    assert names == ["GenerateDataKey", "Decrypt"]


def test_cli_records_of_a_cross_account_call_name_the_caller(tmp_path: Path) -> None:
    """``--format jsonl`` writes the caller's copy (with the role's ARN), once."""
    bucket = "audit-logs-cross-account-jsonl"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        role = cross_account_bucket(s3, bucket, caller=PARTNER, caller_copy_too=True)
        out = tmp_path / "calls.jsonl"
        code = main(
            [
                "audit", f"s3://{bucket}/{PREFIX}", "--quiet", "--since", "2026-11-02",
                "--until", "2026-11-08", "--format", "jsonl", "-o", str(out),
            ]
        )  # fmt: skip
    assert code == EXIT_OK
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] for r in records] == [role]


def test_record_delivered_by_two_trails_counts_once() -> None:
    """An organization trail and an account trail into one bucket: same eventID twice."""
    bucket = "audit-logs-two-trails"
    with mock_aws():
        s3 = new_audit_bucket(bucket)
        call = kms_record("Decrypt", "2026-11-03T13:00:00Z", iam_user(ALICE), DATA_KEY)
        other = kms_record("Decrypt", "2026-11-03T13:01:00Z", iam_user(ALICE), DATA_KEY)
        account_trail = log_key(OWNER, "eu-west-1", "2026-11-03", "account")
        put_log(s3, account_trail, [call, other], bucket=bucket)
        org_trail = log_key(OWNER, "eu-west-1", "2026-11-03", "org", org=ORG)
        put_log(s3, org_trail, [call], bucket=bucket)
        summary = UsageSummary()
        stats = AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, PREFIX), WEEK, RecordFilter(), summary.add
        )
    assert stats.objects == 2
    assert summary.count(DATA_KEY, ALICE, "Decrypt") == 2
    assert (stats.matched, stats.duplicates) == (2, 1)


# Records as the AWS documentation prints them (eventTime moved into the test week, fields that
# the audit does not read left out).
EBS_KEY = "arn:aws:kms:us-east-1:123456789012:key/e29ddfd4-1bf6-4e1b-8ecb-08216bd70d07"
DOC_ALICE = "arn:aws:iam::123456789012:user/Alice"
DOC_KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DOC_DESTINATION = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
DOC_S3_KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-123456SAMPLE"
DOCUMENTED_RECORDS: list[dict[str, Any]] = [
    # AWS KMS developer guide, "Amazon EC2 example two": an IAM user launches an instance with
    # an encrypted volume; EC2 calls KMS on her behalf ("invokedBy": "AWS Internal", keyId the
    # alias aws/ebs), then the instance's aws:ec2-infrastructure session decrypts.
    {
        "userIdentity": {"type": "IAMUser", "arn": DOC_ALICE, "accountId": "123456789012",
                         "invokedBy": "signin.amazonaws.com"},
        "eventTime": "2026-11-05T21:35:27Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances", "eventID": "cd75a605-2fee-4fda-b847-9c3d330ebaae",
    },
    {
        "userIdentity": {"type": "IAMUser", "arn": DOC_ALICE, "accountId": "123456789012",
                         "invokedBy": "AWS Internal"},
        "eventTime": "2026-11-05T21:35:35Z", "eventSource": "kms.amazonaws.com",
        "eventName": "CreateGrant",
        "requestParameters": {"granteePrincipal": "123456789012:aws:ec2-infrastructure:i-81e2f56c",
                              "keyId": EBS_KEY},
        "eventID": "c1ad79e3-0d3f-402a-b119-d5c31d7c6a6c",
        "resources": [{"ARN": EBS_KEY, "accountId": "123456789012"}],
    },
    {
        "userIdentity": {"type": "IAMUser", "arn": DOC_ALICE, "accountId": "123456789012",
                         "invokedBy": "AWS Internal"},
        "eventTime": "2026-11-05T21:35:32Z", "eventSource": "kms.amazonaws.com",
        "eventName": "GenerateDataKeyWithoutPlaintext",
        "requestParameters": {"encryptionContext": {"aws:ebs:id": "vol-f67bafb2"},
                              "numberOfBytes": 64, "keyId": "alias/aws/ebs"},
        "eventID": "ac3cab10-ce93-4953-9d62-0b6e5cba651d",
        "resources": [{"ARN": EBS_KEY, "accountId": "123456789012"}],
    },
    {
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "123456789012:aws:ec2-infrastructure:i-81e2f56c",
            "arn": "arn:aws:sts::123456789012:assumed-role/aws:ec2-infrastructure/i-81e2f56c",
            "accountId": "123456789012",
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": "123456789012:aws:ec2-infrastructure",
                "arn": "arn:aws:iam::123456789012:role/aws:ec2-infrastructure",
                "accountId": "123456789012", "userName": "aws:ec2-infrastructure"}},
        },
        "eventTime": "2026-11-05T21:35:47Z", "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "requestParameters": {"encryptionContext": {"aws:ebs:id": "vol-f67bafb2"}},
        "eventID": "edb65380-0a3e-4123-bbc8-3d1b7cff49b0",
        "resources": [{"ARN": EBS_KEY, "accountId": "123456789012"}],
    },
    # ct-reencrypt: "The resources field in this log entry specifies two AWS KMS keys, the
    # source KMS key and the destination KMS key, in that order."
    {
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/Alice",
                         "accountId": "111122223333"},
        "eventTime": "2026-11-05T23:09:13Z", "eventSource": "kms.amazonaws.com",
        "eventName": "ReEncrypt",
        "requestParameters": {"destinationKeyId": "0987dcba-09fe-87dc-65ba-ab0987654321"},
        "eventID": "542d9e04-0e8d-4e05-bf4b-4bdeb032e6ec",
        "resources": [
            {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": DOC_KEY},
            {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": DOC_DESTINATION},
        ],
    },
    # AWS Entity Resolution user guide: GenerateDataKey sent "through Amazon S3".
    {
        "userIdentity": {"type": "AWSService", "invokedBy": "s3.amazonaws.com"},
        "eventTime": "2026-11-05T17:07:02Z", "eventSource": "kms.amazonaws.com",
        "eventName": "GenerateDataKey",
        "requestParameters": {"keySpec": "AES_256", "keyId": DOC_S3_KEY},
        "eventID": "ff000af-00eb-00ce-0e00-ea000fb0fba0SAMPLE",
        "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": DOC_S3_KEY}],
    },
    # ct-rotatekey: an AwsServiceEvent with no identity type and no requestParameters.
    {
        "userIdentity": {"accountId": "111122223333", "invokedBy": "AWS Internal"},
        "eventTime": "2026-11-05T01:41:59Z", "eventSource": "kms.amazonaws.com",
        "eventName": "RotateKey", "requestParameters": None, "eventType": "AwsServiceEvent",
        "eventID": "a24b3967-ddad-417f-9b22-2332b918db06",
        "resources": [{"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": DOC_KEY}],
    },
]  # fmt: skip


def test_documented_records_are_attributed_to_their_key_and_caller(tmp_path: Path) -> None:
    bucket = "audit-logs-documented"
    with mock_aws():
        s3 = new_audit_bucket(bucket)
        put_log(s3, log_key(OWNER, "us-east-1", "2026-11-05", "doc"), DOCUMENTED_RECORDS, bucket)
        summary = UsageSummary()
        AuditReader(s3, workers=2, progress=False).run(
            LogLocation(bucket, PREFIX), WEEK, RecordFilter(), summary.add
        )
        out = tmp_path / "calls.csv"
        argv = ["audit", f"s3://{bucket}/{PREFIX}", "--quiet", "--since", "2026-11-05",
                "--until", "2026-11-05", "--format", "csv", "-o", str(out)]  # fmt: skip
        assert main(argv) == EXIT_OK
    assert {key: row.count for key, row in summary.rows.items()} == {
        (EBS_KEY, DOC_ALICE, "CreateGrant"): 1,
        (EBS_KEY, DOC_ALICE, "GenerateDataKeyWithoutPlaintext"): 1,
        (EBS_KEY, "arn:aws:iam::123456789012:role/aws:ec2-infrastructure", "Decrypt"): 1,
        (DOC_KEY, "arn:aws:iam::111122223333:user/Alice", "ReEncrypt"): 1,
        (DOC_DESTINATION, "arn:aws:iam::111122223333:user/Alice", "ReEncrypt"): 1,
        (DOC_S3_KEY, "s3.amazonaws.com", "GenerateDataKey"): 1,
        (DOC_KEY, "AWS Internal", "RotateKey"): 1,
    }
    rows = {r["eventName"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert rows["ReEncrypt"]["keyArn"] == f"{DOC_KEY};{DOC_DESTINATION}"
    assert rows["GenerateDataKeyWithoutPlaintext"]["requestKeyId"] == "alias/aws/ebs"
    assert "RunInstances" not in rows


def test_first_and_last_seen(aws: Any) -> None:
    summary = summarize(aws)
    alice = summary.rows[(DATA_KEY, ALICE, "Decrypt")]
    assert alice.first_seen == datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
    assert alice.last_seen == datetime(2026, 11, 4, 10, 1, tzinfo=UTC)
    batch = summary.rows[(DATA_KEY, BATCH_ROLE, "Decrypt")]
    assert batch.last_seen == datetime(2026, 11, 8, 23, 58, tzinfo=UTC)


def test_alias_key_id_and_arn_in_the_request_all_count_for_the_key(aws: Any) -> None:
    """requestParameters.keyId differs per call; resources[].ARN names the one key."""
    summary = summarize(aws, RecordFilter(key_arns=frozenset({DATA_KEY})))
    assert summary.count(DATA_KEY, APP_ROLE, "Encrypt") == 2
    assert summary.count(DATA_KEY, APP_ROLE, "GenerateDataKey") == 3
    assert {key for key, _, _ in summary.rows} == {DATA_KEY}


def test_request_key_id_is_never_used_for_attribution() -> None:
    record = kms_record(
        "Decrypt", "2026-11-02T00:00:00Z", iam_user(ALICE), DATA_KEY, request_key_id=TRAIL_KEY
    )
    assert record_keys(record) == [DATA_KEY]
    del record["resources"]
    assert record_keys(record) == []


def test_filters_by_principal_event_and_caller_account(aws: Any) -> None:
    partner = summarize(aws, RecordFilter(caller_accounts=frozenset({PARTNER})))
    assert {key: row.count for key, row in partner.rows.items()} == {
        (DATA_KEY, PARTNER_ROLE, "Decrypt"): 2
    }
    # A role ARN matches all of its sessions; an event filter narrows further.
    app = summarize(
        aws,
        RecordFilter(principals=frozenset({APP_ROLE}), event_names=frozenset({"Encrypt"})),
    )
    assert {key: row.count for key, row in app.rows.items()} == {(DATA_KEY, APP_ROLE, "Encrypt"): 2}
    session = f"arn:aws:sts::{OWNER}:assumed-role/AppRole/session-b"
    one_session = summarize(aws, RecordFilter(principals=frozenset({session})))
    assert sum(row.count for row in one_session.rows.values()) == 2
    service = summarize(aws, RecordFilter(principals=frozenset({"cloudtrail.amazonaws.com"})))
    assert {key: row.count for key, row in service.rows.items()} == {
        (TRAIL_KEY, "cloudtrail.amazonaws.com", "GenerateDataKey"): 2
    }


def test_principal_grouping() -> None:
    assert principal_of(kms_record("Decrypt", "t", assumed_role(APP_ROLE, "x"), None)) == APP_ROLE
    assert principal_of(kms_record("Decrypt", "t", iam_user(ALICE), None)) == ALICE
    assert principal_of({"userIdentity": aws_service("s3.amazonaws.com")}) == "s3.amazonaws.com"
    assert principal_of({"userIdentity": {"type": "AWSAccount", "accountId": PARTNER}}) == (
        f"AWSAccount:{PARTNER}"
    )


def federated_user(name: str, issuer: str) -> dict[str, Any]:
    """``FederatedUser``: "temporary security credentials that were obtained via a call to the
    AWS STS GetFederationToken API. The sessionIssuer element indicates if the API was called
    with root or IAM user credentials" (CloudTrail user guide, "CloudTrail userIdentity
    element")."""
    account = issuer.split(":")[4]
    return {
        "type": "FederatedUser",
        "principalId": f"AIDAEXAMPLE:{name}",
        "arn": f"arn:aws:sts::{account}:federated-user/{name}",
        "accountId": account,
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": issuer,
                "accountId": account,
                "userName": issuer.rsplit("/", 1)[1],
            },
            "attributes": {"creationDate": "2026-11-02T08:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def test_federated_user_is_not_counted_as_the_iam_user_that_issued_its_token() -> None:
    """A broker IAM user hands out GetFederationToken credentials: each federated user is its
    own principal, and the broker's own calls stay its own (``--principal`` included)."""
    bob = federated_user("Bob", ALICE)
    record = kms_record("Decrypt", "2026-11-02T09:00:00Z", bob, DATA_KEY)
    assert principal_of(record) == f"arn:aws:sts::{OWNER}:federated-user/Bob"
    assert RecordFilter(principals=frozenset({ALICE})).keys_matched(record) == []
    assert RecordFilter(principals=frozenset({bob["arn"]})).keys_matched(record) == [DATA_KEY]


def test_date_range_lists_only_its_day_prefixes(aws: Any) -> None:
    calls = listed_prefixes(aws)
    since, until = date(2026, 11, 3), date(2026, 11, 4)
    summarize(aws, date_range=DateRange(since=since, until=until))
    day_listings = {c["Prefix"] for c in calls if "Delimiter" not in c and "StartAfter" not in c}
    root = f"{PREFIX}/AWSLogs/"
    expected = {
        f"{root}{account}/CloudTrail/{region}/2026/11/{day:02d}/"
        for account, regions in (
            (OWNER, ("eu-west-1", "us-east-1")),
            (PARTNER, ("eu-west-1",)),
            (f"{ORG}/{MEMBER}", ("eu-west-1",)),
        )
        for region in regions
        for day in (3, 4, 5)  # until + 1 day for files delivered after midnight
    }
    assert day_listings == expected
    # Looked at for archived log files first: each Region folder from the --since folder on.
    probes = {(c["Prefix"], c["StartAfter"]) for c in calls if "StartAfter" in c}
    assert probes == {
        (folder.removesuffix("2026/11/03/"), folder)
        for folder in expected
        if folder.endswith("/2026/11/03/")
    }


def test_accounts_and_regions_can_be_given(aws: Any) -> None:
    calls = listed_prefixes(aws)
    summary = summarize(aws, accounts=[PARTNER, OWNER], regions=["us-east-1"])
    day_listings = {c["Prefix"] for c in calls if "Delimiter" not in c}
    assert all("/CloudTrail/us-east-1/" in p for p in day_listings)
    assert not any("CloudTrail/eu-west-1" in c["Prefix"] for c in calls)
    assert {key: row.count for key, row in summary.rows.items()} == {
        (TRAIL_KEY, "cloudtrail.amazonaws.com", "GenerateDataKey"): 2,
        (DATA_KEY, PARTNER_ROLE, "Decrypt"): 1,
    }


@pytest.mark.parametrize(
    ("location", "accounts"),
    [
        (f"s3://{BUCKET}/no-such-prefix", [OWNER]),  # the trail's prefix mistyped
        (f"s3://{BUCKET}/{PREFIX}", ["999988887777"]),  # an account with no logs here
    ],
)
def test_cli_accounts_with_no_logs_are_not_found(
    aws: Any, location: str, accounts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """As without --account: no logs to read is an error, not an empty report of no use."""
    argv = ["audit", location, "--quiet", "--since", "2026-11-02", "--until", "2026-11-08"]
    for account in accounts:
        argv += ["--account", account]
    assert main(argv) == EXIT_NOT_FOUND
    err = capsys.readouterr().err
    assert f"no CloudTrail logs of account {accounts[0]} under {location}/AWSLogs/" in err


def test_late_delivery_counts_for_its_event_day(aws: Any) -> None:
    last_day = summarize(aws, date_range=DateRange(date(2026, 11, 8), date(2026, 11, 8)))
    assert {key: row.count for key, row in last_day.rows.items()} == {
        (DATA_KEY, BATCH_ROLE, "Decrypt"): 1
    }
    next_day = summarize(aws, date_range=DateRange(date(2026, 11, 9), date(2026, 11, 9)))
    assert next_day.count(DATA_KEY, BATCH_ROLE, "Decrypt") == 1
    assert next_day.rows[(DATA_KEY, BATCH_ROLE, "Decrypt")].first_seen == datetime(
        2026, 11, 9, 0, 3, tzinfo=UTC
    )


def test_more_objects_than_one_list_page(aws: Any, busy_day: str) -> None:
    calls = listed_prefixes(aws)
    summary = UsageSummary()
    stats = AuditReader(aws, workers=8, progress=False).run(
        LogLocation(busy_day, PREFIX),
        DateRange(date(2026, 11, 5), date(2026, 11, 5)),
        RecordFilter(),
        summary.add,
    )
    pages = [c for c in calls if c.get("Prefix") == PAGE_DAY]
    # Both pages (the Region's folder from this day on was listed for archived log files
    # before anything was read, both pages of it too: the range is more than one page).
    assert len(pages) == 2
    assert ["ContinuationToken" in page for page in pages] == [False, True]
    probes = [c for c in calls if "StartAfter" in c]
    assert [(c["Prefix"], c["StartAfter"]) for c in probes] == [
        (PAGE_DAY.rsplit("/", 4)[0] + "/", PAGE_DAY)
    ] * 2
    assert ["ContinuationToken" in probe for probe in probes] == [False, True]
    assert stats.objects == PAGE_OBJECTS
    assert summary.count(DATA_KEY, BATCH_ROLE, "Decrypt") == PAGE_OBJECTS


def test_reads_with_a_bounded_pool_in_key_order() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.002 * (n % 3))
        with lock:
            running -= 1
        return n * n

    results = list(ordered_map(work, list(range(60)), 3))
    assert results == [(n, n * n) for n in range(60)]
    assert 1 < peak <= 3


class CutOffBodies:
    """An S3 client whose GetObject bodies break off while being read, ``cuts`` times per key
    (a connection reset: botocore retries the request, not the reading of its body)."""

    def __init__(self, s3: Any, cuts: int) -> None:
        self.s3 = s3
        self.meta = s3.meta
        self.cuts = cuts
        self.gets: dict[str, int] = {}
        self.lock = threading.Lock()

    def get_paginator(self, name: str) -> Any:
        return self.s3.get_paginator(name)

    def get_object(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.s3.get_object(**params)
        with self.lock:
            self.gets[params["Key"]] = self.gets.get(params["Key"], 0) + 1
            cut = self.gets[params["Key"]] <= self.cuts
        if cut:
            response["Body"] = io.BytesIO(b"")
            response["Body"].read = self.reset
        return response

    @staticmethod
    def reset(amt: int | None = None) -> bytes:
        raise ResponseStreamingError(error="Connection broken: IncompleteRead(0 bytes read)")


def test_a_log_file_cut_off_while_read_is_fetched_again(aws: Any) -> None:
    s3 = CutOffBodies(aws, cuts=1)
    summary = UsageSummary()
    stats = AuditReader(s3, workers=4, progress=False).run(
        LOCATION, WEEK, RecordFilter(), summary.add
    )
    assert {key: row.count for key, row in summary.rows.items()} == EXPECTED_WEEK
    assert stats.objects == len(s3.gets)
    assert set(s3.gets.values()) == {2}


def test_a_log_file_that_keeps_breaking_off_fails_the_run_naming_it(aws: Any) -> None:
    s3 = CutOffBodies(ThreeAttempts(aws), cuts=99)
    with pytest.raises(KmskitError) as error:
        AuditReader(s3, workers=2, progress=False).run(
            LOCATION, DateRange(date(2026, 11, 2), date(2026, 11, 2)), RecordFilter(), print
        )
    (first, *_) = sorted(s3.gets)
    assert str(error.value).startswith(f"could not read s3://{BUCKET}/{first}: ")
    assert "Connection broken" in str(error.value)
    assert s3.gets[first] == 3


class ThreeAttempts:
    """``s3`` configured like ``--max-attempts 3``."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.meta = SimpleNamespace(config=Config(retries={"total_max_attempts": 3}))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def test_logs_of_every_botocore_region_are_found() -> None:
    """Region folders are recognized for every Region botocore knows, European Sovereign
    Cloud (eusc-de-east-1) and GovCloud included, both found and given with --log-region."""
    loader = botocore.loaders.Loader()
    names = [
        region
        for partition in loader.load_data("endpoints")["partitions"]
        for region in partition["regions"]
    ]
    assert "eusc-de-east-1" in names
    bucket = "audit-logs-every-region"
    eusc_key = f"arn:aws-eusc:kms:eusc-de-east-1:{OWNER}:key/{KEY_ID}"
    with mock_aws():
        s3 = new_audit_bucket(bucket)
        for region in names:
            key = kms_record("Decrypt", "2026-11-03T13:00:00Z", iam_user(ALICE), eusc_key)
            put_log(s3, log_key(OWNER, region, "2026-11-03", "r"), [key], bucket=bucket)
        reader = AuditReader(s3, workers=8, progress=False)
        day = DateRange(date(2026, 11, 3), date(2026, 11, 3))
        found = UsageSummary()
        reader.run(LogLocation(bucket, PREFIX), day, RecordFilter(), found.add)
        given = UsageSummary()
        reader.run(
            LogLocation(bucket, PREFIX), day, RecordFilter(), given.add, regions=["eusc-de-east-1"]
        )
    assert found.count(eusc_key, ALICE, "Decrypt") == len(names)
    assert given.count(eusc_key, ALICE, "Decrypt") == 1


def test_progress_bar_counts_day_folders(
    aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folders are listed as the files are read (the number of log files is not known
    beforehand): the bar counts day folders, each done once its last file is read."""
    bars: list[Any] = []

    def remembered(**options: Any) -> Any:
        bars.append(progress_bar(**options))
        return bars[-1]

    monkeypatch.setattr("kmskit.audit.progress_bar", remembered)
    AuditReader(aws, workers=2, progress=True).run(
        LOCATION, DateRange(date(2026, 11, 2), date(2026, 11, 2)), RecordFilter(), lambda r, k: None
    )
    err = capsys.readouterr().err
    # 11-02 and 11-03 of the owner's two Regions, the partner's and the member's: 8 folders.
    assert "CloudTrail day folders" in err
    assert "0/8" in err
    assert (bars[0].n, bars[0].total) == (8, 8)


@pytest.mark.parametrize(
    ("workers", "message"),
    [
        (0, "'--workers' must be 1-64. Received: 0"),
        (65, "'--workers' must be 1-64. Received: 65"),
        (True, "'--workers' must be 1-64. Received: True"),
    ],
)
def test_workers_are_validated(workers: Any, message: str) -> None:
    with pytest.raises(UsageError) as error:
        AuditReader(object(), workers=workers)
    assert str(error.value) == message


def test_date_range_checks() -> None:
    with pytest.raises(UsageError, match="'--since' must not be after '--until'"):
        DateRange(date(2026, 11, 5), date(2026, 11, 4))
    with pytest.raises(UsageError, match=r"'--days' must be 1-3660 \(ten .*\. Received: 0\Z"):
        DateRange.last_days(0)
    with pytest.raises(UsageError) as error:
        DateRange(date(2026, 11, 5), date.max)
    assert str(error.value) == "'--until' must be before 9999-12-31. Received: 9999-12-31"
    with pytest.raises(UsageError) as error:
        DateRange.last_days(10, until=date(1, 1, 5))
    assert str(error.value) == "'--days' reaches back before 0001-01-01. Received: 10"
    week = DateRange.last_days(7, until=date(2026, 11, 8))
    assert week == WEEK
    assert week.folder_days()[0] == date(2026, 11, 2)
    assert week.folder_days()[-1] == date(2026, 11, 9)


def test_location_parsing() -> None:
    assert LogLocation.parse("s3://bucket/a/b/") == LogLocation("bucket", "a/b")
    assert LogLocation.parse("bucket") == LogLocation("bucket", "")
    assert LogLocation("bucket").logs_root == "AWSLogs/"
    with pytest.raises(UsageError, match="'location' must be s3://BUCKET"):
        LogLocation.parse("s3://")


@pytest.mark.parametrize(
    "location", ["s3://bad:bucket/trail", "arn:aws:s3:::audit-logs", "https://b.s3.amazonaws.com/t"]
)
def test_cli_location_that_is_no_bucket_is_bad_usage(
    location: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused with the argument and the value, before any AWS client is made (botocore's own
    check came after the key lookups, as a multi-line message and exit 1)."""

    def no_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS client was made before 'location' was checked")

    monkeypatch.setattr("kmskit.clients.ClientSettings.client", no_client)
    assert main(["audit", location, "--quiet", "--key", "alias/app-data"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == (
        f"kmskit: error: 'location' must be s3://BUCKET[/PREFIX]. Received: {location!r}\n"
    )


def test_corrupt_log_file_is_an_integrity_error(aws: Any) -> None:
    key = f"{PREFIX}/AWSLogs/{OWNER}/CloudTrail/eu-west-1/2026/10/01/broken.json.gz"
    aws.put_object(Bucket=BUCKET, Key=key, Body=b"not gzip")
    try:
        with pytest.raises(IntegrityError) as error:
            AuditReader(aws, progress=False).read_records(LOCATION, key)
        assert f"s3://{BUCKET}/{key} is not a gzip-compressed CloudTrail log file" in str(
            error.value
        )
    finally:
        aws.delete_object(Bucket=BUCKET, Key=key)


# --- key references -----------------------------------------------------------------------------


def test_resolve_key_by_arn_id_alias_and_alias_arn() -> None:
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName="alias/app-data", TargetKeyId=arn)
        key_id = arn.rsplit("/", 1)[1]
        regions: list[str | None] = []

        def client(region: str | None) -> Any:
            regions.append(region)
            return boto3.client("kms", region_name=region or "eu-west-1")

        assert resolve_key(DATA_KEY, client) == DATA_KEY
        assert regions == []  # a key ARN needs no call
        assert resolve_key(key_id, client) == arn
        assert resolve_key("alias/app-data", client) == arn
        alias_arn = arn.split(":key/")[0] + ":alias/app-data"
        assert resolve_key(alias_arn, client) == arn
        assert regions == [None, None, "eu-west-1"]


def test_help_says_where_an_alias_arn_is_resolved(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "alias ARNs in their own Region" in text


def test_resolve_key_refuses_what_is_not_a_key_reference() -> None:
    with pytest.raises(UsageError) as error:
        resolve_key("app-data", lambda region: None)
    assert "'--key' must be a key ARN, a key ID, an alias name" in str(error.value)
    assert "Received: 'app-data'" in str(error.value)


# --- command line -------------------------------------------------------------------------------


def cli(*args: str) -> int:
    return main(["audit", f"s3://{BUCKET}/{PREFIX}", "--quiet", *args])


def test_cli_who_used_this_key_last_week(aws: Any, tmp_path: Path) -> None:
    kms = boto3.client("kms", region_name="eu-west-1")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/week-key", TargetKeyId=arn)
    # Usage of that key, as it would be recorded.
    key = log_key(OWNER, "eu-west-1", "2026-11-07", "weekkey")
    put_log(
        aws,
        key,
        [
            kms_record("Decrypt", "2026-11-07T10:00:00Z", iam_user(ALICE), arn),
            kms_record("Decrypt", "2026-11-07T11:00:00Z", iam_user(ALICE), arn),
            kms_record("Decrypt", "2026-11-07T12:00:00Z", assumed_role(APP_ROLE, "s"), DATA_KEY),
        ],
    )
    out = tmp_path / "usage.json"
    try:
        code = cli(
            "--key", "alias/week-key", "--since", "2026-11-02", "--until", "2026-11-08",
            "--format", "json", "--output", str(out), "--region", "eu-west-1",
        )  # fmt: skip
    finally:
        aws.delete_object(Bucket=BUCKET, Key=key)
    assert code == EXIT_OK
    report = json.loads(out.read_text())
    assert report["rows"] == [
        {
            "keyArn": arn,
            "principal": ALICE,
            "eventName": "Decrypt",
            "count": 2,
            "failed": 0,
            "firstSeen": "2026-11-07T10:00:00Z",
            "lastSeen": "2026-11-07T11:00:00Z",
        }
    ]
    assert report["recordsMatched"] == 2
    assert report["duplicatesSkipped"] == 0


def test_cli_reports_duplicates_skipped(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "partner.json"
    code = main(
        [
            "audit", f"s3://{BUCKET}/{PREFIX}", "--caller-account", PARTNER,
            "--since", "2026-11-02", "--until", "2026-11-08", "--format", "json", "-o", str(out),
        ]
    )  # fmt: skip
    assert code == EXIT_OK
    report = json.loads(out.read_text())
    assert [row["count"] for row in report["rows"]] == [2]
    assert (report["recordsMatched"], report["duplicatesSkipped"]) == (2, 2)
    assert capsys.readouterr().err.strip().endswith("2 records matched, 2 duplicates skipped")


def test_cli_json_ends_with_a_newline(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Like the table, the JSON summary is whole lines: on a terminal the stderr summary line
    that follows must not start after the closing brace."""
    assert cli("--since", "2026-11-02", "--until", "2026-11-02", "--format", "json") == EXIT_OK
    out = capsys.readouterr().out
    assert out.endswith("}\n")
    assert json.loads(out)["recordsMatched"] == 3


def test_failed_calls_are_reported_apart_from_use(tmp_path: Path) -> None:
    """KMS: "CloudTrail logs successful operations and attempted calls that failed, such as when
    the caller is denied access to a resource" (AWS KMS developer guide, "Logging AWS KMS API
    calls with AWS CloudTrail"), and a failed Decrypt still names the key in resources[]
    (ct-decrypt, "Decrypt failure with a standard symmetric encryption key": errorCode
    IncorrectKeyException). A principal that was only ever refused must not look like a user
    of the key: the summary counts failed calls in their own column."""
    bucket = "audit-logs-failed-calls"
    mallory = f"arn:aws:iam::{OWNER}:user/Mallory"
    with mock_aws():
        s3 = new_audit_bucket(bucket)
        refused = [
            kms_record("Decrypt", f"2026-11-03T1{n}:00:00Z", iam_user(mallory), DATA_KEY,
                       error="AccessDeniedException")
            for n in range(3)
        ]  # fmt: skip
        wrong_key = kms_record(
            "Decrypt", "2026-11-03T09:00:00Z", iam_user(ALICE), DATA_KEY,
            request_key_id=DATA_KEY, error="IncorrectKeyException",
        )  # fmt: skip
        used = kms_record("Decrypt", "2026-11-03T09:01:00Z", iam_user(ALICE), DATA_KEY)
        put_log(
            s3, log_key(OWNER, "eu-west-1", "2026-11-03", "f"), [*refused, wrong_key, used],
            bucket=bucket,
        )  # fmt: skip
        out = tmp_path / "usage.json"
        argv = ["audit", f"s3://{bucket}/{PREFIX}", "--quiet", "--since", "2026-11-03",
                "--until", "2026-11-03"]  # fmt: skip
        assert main([*argv, "--format", "json", "-o", str(out)]) == EXIT_OK
        table = tmp_path / "usage.txt"
        assert main([*argv, "-o", str(table)]) == EXIT_OK
    rows = {row["principal"]: row for row in json.loads(out.read_text())["rows"]}
    assert (rows[mallory]["count"], rows[mallory]["failed"]) == (3, 3)
    assert (rows[ALICE]["count"], rows[ALICE]["failed"]) == (2, 1)
    lines = [line.split() for line in table.read_text().splitlines()]
    assert lines[0][3:5] == ["COUNT", "FAILED"]
    assert {row[1]: row[3:5] for row in lines[1:]} == {mallory: ["3", "3"], ALICE: ["2", "1"]}


def test_cli_table(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--key", DATA_KEY, "--since", "2026-11-02", "--until", "2026-11-08") == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "KEY",
        "PRINCIPAL",
        "EVENT",
        "COUNT",
        "FAILED",
        "FIRST",
        "SEEN",
        "LAST",
        "SEEN",
    ]
    rows = [line.split() for line in lines[1:]]
    assert rows[0] == [
        DATA_KEY, APP_ROLE, "GenerateDataKey", "3", "0", "2026-11-02T09:17:00Z",
        "2026-11-04T10:04:00Z",
    ]  # fmt: skip
    # Most-used first within a key.
    assert [int(row[3]) for row in rows] == [3, 3, 2, 2, 1]
    assert {row[1] for row in rows} == {ALICE, APP_ROLE, PARTNER_ROLE, BATCH_ROLE}
    # Alice's three Decrypt calls include the one refused with AccessDeniedException.
    assert [row[4] for row in rows if row[1] == ALICE] == ["1"]


def test_cli_jsonl_records(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    code = cli(
        "--caller-account", PARTNER, "--since", "2026-11-02", "--until", "2026-11-08",
        "--format", "jsonl", "-o", str(out),
    )  # fmt: skip
    assert code == EXIT_OK
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["eventTime"] for r in records] == ["2026-11-04T11:00:00Z", "2026-11-06T08:00:00Z"]
    assert all(r["userIdentity"]["accountId"] == PARTNER for r in records)
    assert records[0]["recipientAccountId"] == OWNER


def test_cli_csv_records(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    code = cli(
        "--event", "Encrypt", "--since", "2026-11-02", "--until", "2026-11-08",
        "--format", "csv", "-o", str(out),
    )  # fmt: skip
    assert code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["keyArn"], r["principal"], r["requestKeyId"]) for r in rows] == [
        (DATA_KEY, APP_ROLE, "alias/app-data"),
        (DATA_KEY, APP_ROLE, "alias/app-data"),
    ]
    assert rows[0]["userIdentityArn"] == f"arn:aws:sts::{OWNER}:assumed-role/AppRole/session-a"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_inert(start: str) -> None:
    # A caller chooses its user agent, and a denied call is logged too.
    formula = f'{start}HYPERLINK("https://example.com/?x="&A1,"report")'
    record = {
        "eventTime": "2026-11-03T10:00:00Z",
        "eventName": "Decrypt",
        "userAgent": formula,
        "userIdentity": {"type": "AWSAccount", "accountId": PARTNER},
        "requestParameters": {"keyId": formula},
        "errorCode": "AccessDeniedException",
    }
    row = csv_row(record, [DATA_KEY])
    assert row["userAgent"] == "'" + formula
    assert row["requestKeyId"] == "'" + formula
    assert row["eventName"] == "Decrypt"
    assert row["keyArn"] == DATA_KEY


def test_csv_rows_end_with_crlf_and_a_carriage_return_stays_in_its_cell() -> None:
    """RFC 4180 row ends, as ``key inventory --format csv``: a caller-chosen user agent with
    a bare CR inside is quoted, so a reader does not split the row there."""
    stream = io.StringIO(newline="")
    sink = CsvSink(stream)
    record = {
        "eventTime": "2026-11-03T10:00:00Z",
        "eventName": "Decrypt",
        "userAgent": "aws-cli/2.15\rinjected",
        "userIdentity": {"type": "AWSAccount", "accountId": PARTNER},
    }
    sink(record, [DATA_KEY])
    text = stream.getvalue()
    assert text.endswith("\r\n")
    assert text.count("\r\n") == 2  # header and one row
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["userAgent"] == "aws-cli/2.15\rinjected"
    assert row["principal"] == f"AWSAccount:{PARTNER}"


def test_cli_csv_keeps_the_encryption_context(aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "alice.csv"
    code = cli(
        "--principal", ALICE, "--since", "2026-11-02", "--until", "2026-11-02",
        "--format", "csv", "-o", str(out),
    )  # fmt: skip
    assert code == EXIT_OK
    (row,) = csv.DictReader(io.StringIO(out.read_text()))
    assert json.loads(row["encryptionContext"]) == {"Department": "Engineering", "Project": "Alpha"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "'--workers' must be 1-64. Received: 0"),
        (["--since", "2026-11-05", "--until", "2026-11-01"], "'--since' must not be after"),
        (["--since", "2026-11-01", "--days", "3"], "'--days' must not be given together"),
        (["--days", "0"], "'--days' must be 1-3660 (ten years; give --since for a longer"),
        (["--account", "12345"], "'--account' must be a 12-digit account ID"),
        (["--log-region", "europe"], "'--log-region' must be an AWS Region name"),
        (["--key", "app-data"], "'--key' must be a key ARN, a key ID, an alias name"),
        (["--days", "10000000"], "'--days' must be 1-3660 (ten years; give --since for a longer"),
        (["--until", "0001-01-05", "--days", "10"], "'--days' reaches back before 0001-01-01."),
        (["--until", "9999-12-31"], "'--until' must be before 9999-12-31. Received: 9999-12-31"),
    ],
)
def test_cli_bad_arguments(
    aws: Any, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(*args) == EXIT_USAGE
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "12345"], "'--account' must be a 12-digit account ID. Received: '12345'"),
        (["--log-region", "europe"], "'--log-region' must be an AWS Region name"),
        (
            ["--caller-account", "4444-5555-6666"],
            "'--caller-account' must be a 12-digit account ID. Received: '4444-5555-6666'",
        ),
    ],
)
def test_cli_log_folders_and_caller_accounts_are_checked_before_any_aws_call(
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad value is refused before the key lookup (kms:DescribeKey) and any listing; a
    --caller-account that is no account ID would match no record and report no use."""

    def no_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS client was made before the options were checked")

    monkeypatch.setattr("kmskit.clients.ClientSettings.client", no_client)
    assert cli("--key", "alias/app-data", *args) == EXIT_USAGE
    assert message in capsys.readouterr().err


def test_cli_missing_bucket_is_not_found(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "s3://no-such-bucket-here", "--quiet"]) == EXIT_NOT_FOUND
    assert "NoSuchBucket" in capsys.readouterr().err


def test_cli_leaves_no_partial_output_file(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = log_key(OWNER, "eu-west-1", "2026-10-20", "broken")
    aws.put_object(Bucket=BUCKET, Key=key, Body=b"\x1f\x8b truncated")
    out = tmp_path / "records.jsonl"
    try:
        code = cli(
            "--since", "2026-10-19", "--until", "2026-10-20", "--format", "jsonl", "-o", str(out)
        )
    finally:
        aws.delete_object(Bucket=BUCKET, Key=key)
    assert code == EXIT_INTEGRITY
    assert key in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- malformed log files (the inputs of the CLI probe in /tmp/cliprobe/b6.py) -------------------


def probe_record(**fields: Any) -> dict[str, Any]:
    record = kms_record(
        "Decrypt", "2026-10-20T10:00:00Z", assumed_role(APP_ROLE, "probe"), DATA_KEY
    )
    return {**record, **fields}


@pytest.mark.parametrize(
    ("records", "filters", "problem"),
    [
        ([probe_record(resources=5)], [], "'resources' must be a list. Received: 5"),
        ([probe_record(resources="arn")], [], "'resources' must be a list. Received: 'arn'"),
        (
            [probe_record(userIdentity={"arn": ["a"], "type": "IAMUser"})],
            ["--principal", APP_ROLE],
            "'userIdentity.arn' must be a string. Received: ['a']",
        ),
        (
            [probe_record(userIdentity={"arn": {"a": 1}, "invokedBy": {"b": 1}})],
            ["--principal", APP_ROLE],
            "'userIdentity.arn' must be a string. Received: {'a': 1}",
        ),
        (
            [probe_record(userIdentity={"type": "AWSService", "invokedBy": {"b": 1}})],
            ["--principal", "s3.amazonaws.com"],
            "'userIdentity.invokedBy' must be a string. Received: {'b': 1}",
        ),
        (
            [probe_record(eventName=["Decrypt"])],
            ["--event", "Decrypt"],
            "'eventName' must be a string. Received: ['Decrypt']",
        ),
        (
            [probe_record(eventName={"a": 1})],
            [],
            "'eventName' must be a string. Received: {'a': 1}",
        ),
        (
            [probe_record(userIdentity="x")],
            [],
            "'userIdentity' must be an object. Received: 'x'",
        ),
        (
            [probe_record(userIdentity={"sessionContext": {"sessionIssuer": ["r"]}})],
            [],
            "'userIdentity.sessionContext.sessionIssuer' must be an object. Received: ['r']",
        ),
        (
            [probe_record(), probe_record(sharedEventID=5)],
            [],
            "in record 2, 'sharedEventID' must be a string. Received: 5",
        ),
    ],
)
def test_a_record_of_the_wrong_shape_is_a_bad_log_file_named_in_the_error(
    aws: Any,
    capsys: pytest.CaptureFixture[str],
    records: list[dict[str, Any]],
    filters: list[str],
    problem: str,
) -> None:
    key = log_key(OWNER, "eu-west-1", "2026-10-20", "misshapen")
    put_log(aws, key, records)
    try:
        code = cli("--since", "2026-10-19", "--until", "2026-10-20", *filters)
    finally:
        aws.delete_object(Bucket=BUCKET, Key=key)
    assert code == EXIT_INTEGRITY
    err = capsys.readouterr().err
    assert err.startswith(f"kmskit: error: s3://{BUCKET}/{key} is not a CloudTrail log file: ")
    assert problem in err
    assert len(err.splitlines()) == 1


def test_records_of_other_services_and_null_fields_are_read_as_before(aws: Any) -> None:
    # Only the fields the audit reads are checked, and only in KMS records; CloudTrail writes
    # null for a field it has no value for (responseElements, sometimes resources).
    key = log_key(OWNER, "eu-west-1", "2026-10-20", "unusual")
    other = {**s3_record("2026-10-20T10:00:00Z"), "resources": 5, "userIdentity": "x"}
    records = [other, probe_record(resources=None), probe_record(errorCode=None), "junk"]
    put_log(aws, key, records)
    try:
        kept = AuditReader(aws, progress=False).read_records(LOCATION, key)
    finally:
        aws.delete_object(Bucket=BUCKET, Key=key)
    assert kept == records[:3]


def test_json_nested_too_deep_is_a_bad_log_file(aws: Any) -> None:
    key = f"{PREFIX}/AWSLogs/{OWNER}/CloudTrail/eu-west-1/2026/10/01/deep.json.gz"
    body = b'{"Records": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}"
    aws.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body))
    try:
        with pytest.raises(IntegrityError) as error:
            AuditReader(aws, progress=False).read_records(LOCATION, key)
    finally:
        aws.delete_object(Bucket=BUCKET, Key=key)
    assert str(error.value) == (
        f"s3://{BUCKET}/{key} is not a gzip-compressed CloudTrail log file: its JSON is nested "
        "too deep"
    )


@pytest.mark.parametrize(
    "reference",
    [
        f"{DATA_KEY}\n",
        f"arn:aws:kms:eu-west-1:{OWNER}:alias/app-data\n",
        f"{KEY_ID}\n",
    ],
)
def test_a_key_reference_ending_in_a_newline_is_refused(
    aws: Any, capsys: pytest.CaptureFixture[str], reference: str
) -> None:
    # "$" also matched before a final newline: the ARN passed, and matched no record.
    assert cli("--key", reference, "--days", "1") == EXIT_USAGE
    assert capsys.readouterr().err == (
        "kmskit: error: '--key' must be a key ARN, a key ID, an alias name (alias/...) or an "
        f"alias ARN. Received: {reference!r}\n"
    )


def test_a_location_ending_in_a_newline_is_refused() -> None:
    with pytest.raises(UsageError, match="'location' must be s3://BUCKET"):
        LogLocation.parse(f"s3://{BUCKET}\n")


# The AWS KMS developer guide's records (ct-reencrypt, ct-creategrant, ct-retire-grant; times
# moved into the test week), and a call of a role session with a source identity made through
# a service (IAM user guide, "Monitor and control actions taken with assumed roles").
DOC_REENCRYPT: dict[str, Any] = {
    "userIdentity": {"type": "IAMUser", "arn": DOC_ALICE, "accountId": "111122223333"},
    "eventTime": "2026-11-05T19:34:55Z", "eventSource": "kms.amazonaws.com",
    "eventName": "ReEncrypt",
    "requestParameters": {
        "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "sourceEncryptionContext": {"Project": "Alpha", "Department": "Engineering"},
        "destinationKeyId": "0987dcba-09fe-87dc-65ba-ab0987654321",
        "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "destinationEncryptionContext": {"Level": "3A"},
    },
    "responseElements": None, "eventID": "542d9e04-0e8d-4e05-bf4b-4bdeb032e6ec",
    "readOnly": True,
    "resources": [
        {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": DOC_KEY},
        {"accountId": "111122223333", "type": "AWS::KMS::Key", "ARN": DOC_DESTINATION},
    ],
}  # fmt: skip
DOC_GRANT_ID = "f020fe75197b93991dc8491d6f19dd3cebb24ee62277a05914386724f3d48758"
DOC_CREATE_GRANT: dict[str, Any] = {
    "userIdentity": {"type": "IAMUser", "arn": DOC_ALICE, "accountId": "111122223333"},
    "eventTime": "2026-11-05T00:53:12Z", "eventSource": "kms.amazonaws.com",
    "eventName": "CreateGrant",
    "requestParameters": {
        "keyId": DOC_KEY,
        "constraints": {"encryptionContextSubset": {"ContextKey1": "Value1"}},
        "operations": ["Encrypt", "RetireGrant"],
        "granteePrincipal": "EX_PRINCIPAL_ID",
        "retiringPrincipal": DOC_ALICE,
    },
    "responseElements": {"grantId": DOC_GRANT_ID, "keyId": DOC_KEY},
    "eventID": "5d529779-2d27-42b5-92da-91aaea1fc4b5", "readOnly": False,
    "resources": [{"ARN": DOC_KEY, "accountId": "111122223333"}],
}  # fmt: skip
DOC_RETIRE_GRANT: dict[str, Any] = {
    "userIdentity": {"type": "IAMUser", "arn": DOC_ALICE, "accountId": "111122223333"},
    "eventTime": "2026-11-05T19:39:33Z", "eventSource": "kms.amazonaws.com",
    "eventName": "RetireGrant", "requestParameters": None, "responseElements": None,
    "additionalEventData": {"grantId": "abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075db"},
    "eventID": "0771bcfb-3e24-4332-9ac8-e1c06563eecf", "readOnly": False,
    "resources": [{"ARN": DOC_KEY, "accountId": "111122223333"}],
}  # fmt: skip


def session_with_source_identity() -> dict[str, Any]:
    identity = assumed_role(APP_ROLE, "dev-session")
    identity["invokedBy"] = "s3.amazonaws.com"
    identity["sessionContext"]["sourceIdentity"] = "DevUser1"
    return identity


def test_csv_has_the_fields_of_reencrypt_grants_and_sessions(tmp_path: Path) -> None:
    """The CSV kept requestParameters.keyId and .encryptionContext only: ReEncrypt's source and
    destination contexts and key, CreateGrant's grantee, operations, grant ID and constraints,
    and who the call was made through (invokedBy, sourceIdentity) were left out. Each is a
    column of its own, after the old ones (kept in their order); the JSON lines carry the
    records whole, so the same values."""
    bucket = "audit-logs-csv-columns"
    session = kms_record(
        "Decrypt", "2026-11-05T08:00:00Z", session_with_source_identity(), DATA_KEY
    )
    with mock_aws():
        s3 = new_audit_bucket(bucket)
        records = [DOC_REENCRYPT, DOC_CREATE_GRANT, DOC_RETIRE_GRANT, session]
        put_log(s3, log_key(OWNER, "us-west-2", "2026-11-05", "doc"), records, bucket)
        argv = ["audit", f"s3://{bucket}/{PREFIX}", "--quiet", "--since", "2026-11-05",
                "--until", "2026-11-05"]  # fmt: skip
        out = tmp_path / "calls.csv"
        assert main([*argv, "--format", "csv", "-o", str(out)]) == EXIT_OK
        lines = tmp_path / "calls.jsonl"
        assert main([*argv, "--format", "jsonl", "-o", str(lines)]) == EXIT_OK
    header = out.read_text().splitlines()[0].split(",")
    assert header[:15] == [
        "eventTime", "eventName", "keyArn", "principal", "userIdentityType", "userIdentityArn",
        "callerAccount", "recipientAccountId", "awsRegion", "sourceIPAddress", "userAgent",
        "requestKeyId", "encryptionContext", "errorCode", "eventID",
    ]  # fmt: skip
    rows = {r["eventName"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    reencrypt = rows["ReEncrypt"]
    # encryptionContext is requestParameters.encryptionContext as logged: a ReEncrypt has none.
    assert (reencrypt["requestKeyId"], reencrypt["encryptionContext"]) == ("", "")
    assert (reencrypt["sourceKeyId"], reencrypt["destinationKeyId"]) == (
        "", "0987dcba-09fe-87dc-65ba-ab0987654321"
    )  # fmt: skip
    assert json.loads(reencrypt["sourceEncryptionContext"]) == {
        "Project": "Alpha", "Department": "Engineering"
    }  # fmt: skip
    assert json.loads(reencrypt["destinationEncryptionContext"]) == {"Level": "3A"}
    grant = rows["CreateGrant"]
    assert (grant["granteePrincipal"], grant["retiringPrincipal"]) == ("EX_PRINCIPAL_ID", DOC_ALICE)
    assert (grant["operations"], grant["grantId"]) == ("Encrypt;RetireGrant", DOC_GRANT_ID)
    assert json.loads(grant["constraints"]) == {
        "encryptionContextSubset": {"ContextKey1": "Value1"}
    }
    assert rows["RetireGrant"]["grantId"] == DOC_RETIRE_GRANT["additionalEventData"]["grantId"]
    decrypt = rows["Decrypt"]
    assert (decrypt["invokedBy"], decrypt["sourceIdentity"]) == ("s3.amazonaws.com", "DevUser1")
    assert decrypt["grantId"] == decrypt["sourceEncryptionContext"] == ""
    by_name = {
        r["eventName"]: r for r in (json.loads(line) for line in lines.read_text().splitlines())
    }
    assert by_name["ReEncrypt"]["requestParameters"] == DOC_REENCRYPT["requestParameters"]
    assert by_name["CreateGrant"]["responseElements"]["grantId"] == DOC_GRANT_ID
    assert by_name["Decrypt"]["userIdentity"]["sessionContext"]["sourceIdentity"] == "DevUser1"
