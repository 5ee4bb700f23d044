"""Whether the CloudTrail log files behind ``kmskit audit`` are complete and untampered
(``kmskit audit --verify``), from the digest files CloudTrail writes when log file validation is
on, as ``aws cloudtrail validate-logs`` checks them.

Every hour CloudTrail writes, per account and Region, a digest file under::

    [prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/
        <account>_CloudTrail-Digest_<region>_<trail>_<home region>_<end>[_backfill].json.gz

(``YYYY/MM/DD`` and ``<end>`` = the digest's end, ``YYYYMMDDTHHMMSSZ``). It lists the log files
delivered in ``[digestStartTime, digestEndTime]`` with the SHA-256 of each one's *uncompressed*
content, names the previous digest (``previousDigestS3Object``, ``previousDigestSignature``;
null in the first digest after logging or validation started) and is signed SHA256withRSA with
a per-Region key whose public half ``cloudtrail:ListPublicKeys`` returns by fingerprint. The
signature is hex in the object's ``signature`` metadata, over the string (:func:`data_to_sign`)::

    digestEndTime \\n digestS3Bucket/digestS3Object \\n hex SHA-256 of the uncompressed digest
    \\n previousDigestSignature (or "null")

A ``_backfill`` digest lists log files a regular digest missed; backfill digests chain among
themselves and carry ``backfill-generation-timestamp`` metadata.

Sources: CloudTrail user guide, "CloudTrail digest file structure" and "Custom implementations
of CloudTrail log file integrity validation"; the AWS CLI's ``validate-logs``
(aws/aws-cli, ``awscli/customizations/cloudtrail/validation.py``).

:class:`DigestVerifier` is the :class:`~kmskit.audit.ReadObserver` of one audit run: the audit
lists and reads each log file once and hands over the SHA-256 of what it decompressed. Log
folders come in key order, one account and Region after the other, each day after day. When
the run reaches an account and Region, that group's digest folders (the log folders' days and
one more) are listed with the audit's lister; when it has read every log file of a day, the
digests of that day's folder and the next day's (a digest lists the log files delivered in the
hour before it, and is in the folder of its end's day) are read with its reader on its worker
pool and checked, each is followed in its chain, and the day's log files are compared with what
the valid digests list; then they, and the digests' lists of them, are let go. So memory holds
two days of one group's log file names and hashes and digests, and the names of that group's
digest files, however long the range and however many groups. When a group is done, each of its
chains is followed into the digest folders after the group's (at most
:data:`DIGEST_LOOK_AHEAD`): the chain's next digest must name the last one read, or the ones
between were deleted; a group whose digest folders hold no digest at all is a problem
(CloudTrail delivers one every hour, also without log files).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kmskit.audit import (
    DIGEST_FOLDER,
    AuditReader,
    FetchedObject,
    LogLocation,
    archived_error,
    folder_account_region,
    folder_day,
    folder_spans,
    ordered_map,
    parse_event_time,
)
from kmskit.errors import IntegrityError, from_client_error

SIGNATURE_ALGORITHM = "SHA256withRSA"
HASH_ALGORITHM = "SHA-256"
DIGEST_NAME = re.compile(
    r"^(?P<account>[0-9]{12})_CloudTrail-Digest_(?P<region>[a-z0-9-]+)_(?P<trail>.+)_"
    r"(?P<home>[a-z0-9-]+)_(?P<end>[0-9]{8}T[0-9]{6}Z)(?P<backfill>_backfill)?\.json\.gz\Z"
)
# A digest covers the log files delivered in the hour before it: the last files of a day are in
# a digest of the next day, so the digest folders read run one day past the log folders.
DIGEST_SLACK = timedelta(days=1)
# CloudTrail delivers a digest every hour: a log file delivered after the newest digest is
# "pending" (its digest is still to come) for this long, and not covered after that.
DIGEST_DUE = timedelta(hours=2)
# How far past the digest folders of the range the next digest of each chain is looked for
# (DigestVerifier._look_ahead): the digest after a chain's last one read names it as its
# previous digest. CloudTrail delivers one every hour, so an unbroken chain's next digest is in
# the first folder after; the look stops at the first folder that has one of every chain.
DIGEST_LOOK_AHEAD = timedelta(days=2)
# The AWS CLI looks a backfill digest's key up around its generation time.
BACKFILL_KEY_WINDOW = timedelta(hours=1)
# CloudTrail signs a digest when it delivers it, after its digestEndTime (usually within the
# hour): a key that became valid meanwhile (a rotation) may have signed it. A key valid at some
# time from digestEndTime to this much later verifies it; one that expired before, or became
# valid only later, does not.
DIGEST_SIGNING_WINDOW = timedelta(days=1)
# The fields a digest must have (the AWS CLI's required_digest_keys, and logFiles).
_REQUIRED_STRINGS = (
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
)

# Problem kinds, as --format json names them.
DIGEST_SIGNATURE_INVALID = "digest-signature-invalid"
DIGEST_UNKNOWN_KEY = "digest-unknown-key"
DIGEST_DELETED = "digest-deleted"
DIGEST_CHAIN_BROKEN = "digest-chain-broken"
DIGEST_MALFORMED = "digest-malformed"
LOG_FILE_MODIFIED = "log-file-modified"
LOG_FILE_DELETED = "log-file-deleted"
LOG_FILE_NOT_COVERED = "log-file-not-covered"
LOG_FILE_PENDING = "log-file-pending"
NO_DIGEST = "no-digest"


@dataclass(frozen=True)
class PublicKey:
    """A CloudTrail public key as ListPublicKeys returns it: ``der`` (DER, PKCS #1 or X.509)
    and the time its private key signed digests, ``valid_from`` to ``valid_to``
    (``ValidityStartTime``, ``ValidityEndTime``; None when not given: unbounded that side)."""

    der: bytes
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def valid_during(self, start: datetime, end: datetime) -> bool:
        """Whether the key was valid at some time from ``start`` to ``end`` (both included)."""
        return (self.valid_from is None or self.valid_from <= end) and (
            self.valid_to is None or start <= self.valid_to
        )


# region, start, end -> the public keys valid at some time in [start, end], by fingerprint
# (see cloudtrail_public_keys)
PublicKeySource = Callable[[str, datetime, datetime], Mapping[str, PublicKey]]


def data_to_sign(digest: Mapping[str, Any], digest_sha256: str) -> bytes:
    """The string CloudTrail signs for a digest file, UTF-8: ``digestEndTime``,
    ``digestS3Bucket/digestS3Object``, the hex SHA-256 of the digest file's uncompressed
    content and ``previousDigestSignature`` (``null`` in a first digest), one per line with no
    newline at the end ("Custom implementations of CloudTrail log file integrity validation")."""
    previous = digest.get("previousDigestSignature")
    return "\n".join(
        (
            str(digest["digestEndTime"]),
            f"{digest['digestS3Bucket']}/{digest['digestS3Object']}",
            digest_sha256,
            "null" if previous is None else str(previous),
        )
    ).encode()


def verify_signature(public_key_der: bytes, signature_hex: str, message: bytes) -> bool:
    """Whether ``signature_hex`` is a SHA256withRSA (PKCS #1 v1.5) signature of ``message``
    under the RSA public key ``public_key_der`` (PKCS #1 ``RSAPublicKey`` or X.509
    ``SubjectPublicKeyInfo``, DER: ListPublicKeys has returned both). False for a signature that
    is not hex; :class:`ValueError` for a key that is not an RSA public key."""
    try:
        signature = binascii.unhexlify(signature_hex)
    except (binascii.Error, ValueError):
        return False
    try:
        key = serialization.load_der_public_key(public_key_der)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ValueError(f"not a DER public key: {error}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"not an RSA public key: {type(key).__name__}")
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def cloudtrail_public_keys(cloudtrail_client: Callable[[str], Any]) -> PublicKeySource:
    """A :data:`PublicKeySource` calling ``cloudtrail:ListPublicKeys`` with a client of the
    digest's Region (CloudTrail signs with a key per Region): ``cloudtrail_client(region)``
    returns one. Each key keeps its ``ValidityStartTime`` and ``ValidityEndTime``. An error is
    the matching :class:`~kmskit.errors.KmskitError` naming the call (access denied: exit
    3)."""

    def public_keys(region: str, start: datetime, end: datetime) -> dict[str, PublicKey]:
        client = cloudtrail_client(region)
        found: dict[str, PublicKey] = {}
        arguments: dict[str, Any] = {"StartTime": start, "EndTime": end}
        while True:
            try:
                page = client.list_public_keys(**arguments)
            except ClientError as error:
                raise from_client_error(
                    error, f"list CloudTrail's public keys in {region} (cloudtrail:ListPublicKeys)"
                ) from error
            for entry in page.get("PublicKeyList", []):
                value = entry.get("Value")
                # boto3 decodes the blob; a caller's client that does not gives base64 text.
                der = base64.b64decode(value) if isinstance(value, str) else bytes(value or b"")
                if entry.get("Fingerprint"):
                    found[str(entry["Fingerprint"])] = PublicKey(
                        der,
                        _utc(entry.get("ValidityStartTime")),
                        _utc(entry.get("ValidityEndTime")),
                    )
            token = page.get("NextToken")
            if not token:
                return found
            arguments["NextToken"] = token

    return public_keys


def _utc(moment: Any) -> datetime | None:
    """A ListPublicKeys time (boto3 gives a datetime; a caller's client may give text) in UTC;
    None when absent."""
    found = moment if isinstance(moment, datetime) else parse_event_time(moment)
    if found is None:
        return None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


@dataclass(frozen=True)
class IntegrityProblem:
    """One thing wrong: ``kind`` (``digest-...`` or ``log-file-...``), the ``s3://`` URI of the
    object, and what is wrong with it."""

    kind: str
    uri: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "object": self.uri, "detail": self.detail}


@dataclass
class IntegrityReport:
    """What ``--verify`` found. ``log_files_valid``: read, listed by a valid digest, hash
    equal; ``log_files_invalid``: modified or deleted; ``log_files_not_covered``: read, holding
    records of the audited days, listed by no valid digest (``log_files_pending`` of them only
    because their digest is not delivered yet). ``regions_checked``: the account and Region
    pairs whose folders were checked (with a log file of the range or a digest, or whose
    digest the later ones name deleted); ``regions_empty``: those with nothing of the range
    (a note each). ``verified`` when there is no problem, at least one digest was valid if any
    pair was checked (CloudTrail delivers one every hour, also for an hour without log files:
    none at all proves nothing), and some pair was checked if any was empty (a range of which
    nothing is left anywhere, the digests after it included, proves nothing either). Notes are
    facts that are not problems (a chain that restarts: logging or validation was off)."""

    regions_checked: int = 0
    regions_empty: int = 0
    digests_valid: int = 0
    digests_invalid: int = 0
    log_files_valid: int = 0
    log_files_invalid: int = 0
    log_files_not_covered: int = 0
    log_files_pending: int = 0
    problems: list[IntegrityProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        if self.problems:
            return False
        if self.regions_checked:
            return self.digests_valid > 0
        return not self.regions_empty

    def as_dict(self) -> dict[str, Any]:
        return {
            "verified": self.verified,
            "regionsChecked": self.regions_checked,
            "regionsEmpty": self.regions_empty,
            "digestsValid": self.digests_valid,
            "digestsInvalid": self.digests_invalid,
            "logFilesValid": self.log_files_valid,
            "logFilesInvalid": self.log_files_invalid,
            "logFilesNotCovered": self.log_files_not_covered,
            "logFilesPending": self.log_files_pending,
            "problems": [problem.as_dict() for problem in self.sorted_problems()],
            "notes": self.notes,
        }

    def sorted_problems(self) -> list[IntegrityProblem]:
        return sorted(self.problems, key=lambda p: (p.uri, p.kind))

    def summary(self) -> str:
        """One line: verified, or how many problems, with the counts."""
        counts = (
            f"{self.digests_valid} digest files valid, {self.digests_invalid} invalid; "
            f"{self.log_files_valid} log files valid, {self.log_files_invalid} invalid, "
            f"{self.log_files_not_covered} not covered by a valid digest"
            + (f" ({self.log_files_pending} pending)" if self.log_files_pending else "")
        )
        if self.verified:
            return f"integrity: verified ({counts})"
        if not self.problems:
            return (
                f"integrity: nothing verified: no account and Region read holds a log or digest "
                f"file of the range, nor a later digest naming one ({self.regions_empty} without: "
                f"see the notes) ({counts})"
            )
        return f"integrity: FAILED, {len(self.problems)} problems ({counts})"


def integrity_text(report: IntegrityReport, *, limit: int = 50) -> str:
    """The report as text for the end of ``--format table``: the summary line, then one line
    per problem (``kind  s3://...  detail``; the first ``limit``, default 50, then how many
    more) and per note."""
    lines = [report.summary()]
    problems = report.sorted_problems()
    lines += [f"  {p.kind}  {p.uri}  {p.detail}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more problems (all in --format json)")
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


# A chain of digest files: trail, home Region, backfill.
_ChainName = tuple[str, str, bool]


@dataclass
class _LogFile:
    last_modified: datetime | None
    sha256: str | None  # None: listed, gone when read
    in_range: bool


@dataclass
class _Group:
    """The log folders of one account (folder) and Region, from ``first`` to ``last`` (every
    day between: :meth:`~kmskit.audit.DateRange.folder_days`), and what is held while they are
    checked: the log files of the days not compared yet, the names of the group's digest files,
    the digests not followed yet and the log files the valid digests read so far list."""

    account_root: str  # [prefix/]AWSLogs/[o-ID/]<account>/
    account: str
    region: str
    first: date
    last: date
    # log files read, of the days from compare_from on, by key
    files: dict[str, _LogFile] = field(default_factory=dict)
    # Set by DigestVerifier._start, at the first log day compared:
    window: tuple[datetime, datetime] | None = None
    # the digest files listed and not read yet, in folder order
    digests: deque[_Digest] = field(default_factory=deque)
    # by trail, home Region and backfill, in the order of their first digest listed
    chains: dict[_ChainName, _Chain] = field(default_factory=dict)
    compare_from: date | None = None  # the first log day not compared yet (None: first)
    # log key -> (SHA-256, digest URI): listed by a valid digest read, in this group's folders,
    # not compared yet
    expected: dict[str, tuple[str, str]] = field(default_factory=dict)
    newest: datetime | None = None  # the latest digestEndTime of a valid digest read
    # of the group's digest folders (not those looked ahead in): listed (however named), valid
    digests_listed: int = 0
    digests_valid: int = 0
    # a log file holding records of the range was read in the group's folders
    logs_in_range: bool = False

    def names_deleted(self) -> bool:
        """Whether a digest followed names a digest of the group's time, gone, as its previous."""
        return any(chain.names_deleted for chain in self.chains.values())

    def log_folder(self, day: date) -> str:
        return f"{self.account_root}CloudTrail/{self.region}/{day:%Y/%m/%d}/"

    def folder_day(self, folder: str) -> date | None:
        """The day of ``folder`` if it is one of the group's log folders; None otherwise."""
        try:
            day = folder_day(folder)
        except ValueError:
            return None
        return day if self.first <= day <= self.last and folder == self.log_folder(day) else None

    def digest_folders(self) -> list[tuple[date, str]]:
        """The days of the group's log folders and one more, each with its digest folder."""
        return self._digest_folders(self.first, self.last + DIGEST_SLACK)

    def look_ahead_folders(self, today: date) -> list[tuple[date, str]]:
        """The digest folders after :meth:`digest_folders`, :data:`DIGEST_LOOK_AHEAD` of them,
        up to ``today``."""
        after = self.last + DIGEST_SLACK
        return self._digest_folders(
            after + timedelta(days=1), min(after + DIGEST_LOOK_AHEAD, today)
        )

    def _digest_folders(self, first: date, last: date) -> list[tuple[date, str]]:
        return [
            (day, digest_folder(f"{self.account_root}{DIGEST_FOLDER}/", self.region, day))
            for day in (first + timedelta(days=n) for n in range((last - first).days + 1))
        ]


@dataclass
class _Digest:
    """A digest file as read and checked."""

    key: str
    day: date  # of the digest folder it was listed in
    end: str  # the YYYYMMDDTHHMMSSZ of its name
    chain: _ChainName
    # None: could not be read; once checked, only the fields of _CHAIN_FIELDS
    document: dict[str, Any] | None = None
    signature: str | None = None  # from its metadata
    valid: bool = False
    problem: IntegrityProblem | None = None


@dataclass
class _Chain:
    """One chain of digest files of a group (a trail and home Region; backfill digests form
    their own) while it is followed: the names of all its digest files listed, the one
    followed last, and the notes on it (added to the report when the group is finished)."""

    keys: set[str] = field(default_factory=set)
    last: _Digest | None = None
    notes: list[str] = field(default_factory=list)
    # a digest followed names as its previous one a digest of the group's time that is gone
    names_deleted: bool = False


@dataclass
class _RegionKeys:
    """The public keys of a Region looked up so far: those valid at some time from ``start``
    to ``end``, by fingerprint (replaced, never changed, when the time is widened)."""

    start: datetime
    end: datetime
    keys: dict[str, PublicKey] = field(default_factory=dict)


# What DigestVerifier._follow and the newest digest need of a digest once it is checked: its
# log files (logFiles, the bulk of it) are compared day by day and let go; the digest itself
# once the next one of its chain is followed.
_CHAIN_FIELDS = (
    "digestStartTime",
    "digestEndTime",
    "previousDigestS3Bucket",
    "previousDigestS3Object",
    "previousDigestSignature",
)


def _folder_of(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/"


# --- reading digest files (also kmskit.key_deletion's gaps by the hour) ---------------------


class InvalidDigest(Exception):  # noqa: N818 (not an error of the run: a finding)
    """A digest file that is not as CloudTrail writes it: ``kind`` (a ``digest-...`` problem
    kind) and ``detail`` (what is wrong, to follow its ``s3://`` URI)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def digest_folder(digest_prefix: str, region: str, day: date) -> str:
    """The folder of the digest files of ``region`` that end on ``day``, under an account's
    ``digest_prefix`` (``[prefix/]AWSLogs/[o-ID/]<account>/CloudTrail-Digest/``)."""
    return f"{digest_prefix}{region}/{day:%Y/%m/%d}/"


def list_digest_keys(
    reader: AuditReader, location: LogLocation, folders: Sequence[str]
) -> list[str]:
    """Every ``.json.gz`` key in the digest ``folders``, in folder order: listed with the
    reader's lister, ``reader.workers`` folders at a time. An archived one (GetObject cannot
    read it) is a :class:`~kmskit.errors.ConflictError` naming them, before any is read."""
    listings = [
        entries
        for _, entries in ordered_map(
            lambda folder: reader.list_entries(location, folder), folders, reader.workers
        )
    ]
    if any(entry.archived for entries in listings for entry in entries):
        raise archived_error(location, (), listings, what="digest files")
    return [entry.key for entries in listings for entry in entries]


def match_digest_name(key: str, account: str, region: str) -> re.Match[str]:
    """The parts of the name of the digest file at ``key`` (:data:`DIGEST_NAME`: ``account``,
    ``region``, ``trail``, ``home``, ``end``, ``backfill``); :class:`InvalidDigest` when it is
    not named as CloudTrail names the digest files of ``account`` in ``region``."""
    match = DIGEST_NAME.match(key.rsplit("/", 1)[-1])
    if not match or match["account"] != account or match["region"] != region:
        raise InvalidDigest(
            DIGEST_MALFORMED,
            f"is not named as CloudTrail names digest files of account {account} in {region} "
            "(<account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHMMSSZ>"
            "[_backfill].json.gz)",
        )
    return match


def read_digest(
    reader: AuditReader, location: LogLocation, key: str
) -> tuple[FetchedObject, dict[str, Any]]:
    """The digest file at ``key``, decompressed with its user metadata (the reader's
    :meth:`~kmskit.audit.AuditReader.fetch_object`), and its JSON object.
    :class:`InvalidDigest` when it is gone when read (:data:`DIGEST_DELETED`), not gzip or not
    a JSON object (:data:`DIGEST_MALFORMED`); S3's refusals are raised as the reader raises
    them. :func:`digest_fields_problem` says whether the object has a digest's fields."""
    try:
        fetched = reader.fetch_object(location, key, what="CloudTrail digest file")
    except IntegrityError as error:
        raise InvalidDigest(
            DIGEST_MALFORMED, str(error).removeprefix(location.uri(key) + " ")
        ) from None
    if fetched is None:
        raise InvalidDigest(DIGEST_DELETED, "was listed but is gone when read (deleted meanwhile)")
    try:
        document = json.loads(fetched.data)
    except (ValueError, RecursionError) as error:
        raise InvalidDigest(DIGEST_MALFORMED, f"is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidDigest(DIGEST_MALFORMED, "is not a JSON object")
    return fetched, document


def digest_fields_problem(document: Mapping[str, Any]) -> str | None:
    """What a digest's JSON object lacks of the fields every digest has (the AWS CLI's
    required keys, and ``previousDigestSignature``, null in a first digest); None: nothing."""
    missing = [name for name in _REQUIRED_STRINGS if not isinstance(document.get(name), str)]
    if missing or "previousDigestSignature" not in document:
        return f"lacks {', '.join(missing) or 'previousDigest*'}"
    return None


@dataclass(frozen=True)
class DigestSpan:
    """What a regular digest file covers: the log files delivered from ``start`` to ``end``
    (``digestStartTime``, ``digestEndTime``, in UTC). ``chain_start``: its
    ``previousDigestSignature`` is null, so it is the first digest after logging or log file
    validation was (re)started."""

    key: str
    start: datetime
    end: datetime
    chain_start: bool


@dataclass
class DigestCoverage:
    """The digest files of one account and Region over some days (:func:`read_coverage`):
    ``spans``, one per regular digest read; ``problems``, the digest files that could not be
    read or are not digests (misnamed, not gzip or JSON, lacking a field, no period); and
    ``backfill``, the backfill digest files left out."""

    spans: list[DigestSpan] = field(default_factory=list)
    problems: list[IntegrityProblem] = field(default_factory=list)
    backfill: int = 0

    @property
    def files(self) -> int:
        """The digest files found: read, unreadable or backfill."""
        return len(self.spans) + len(self.problems) + self.backfill


def read_coverage(
    reader: AuditReader,
    location: LogLocation,
    digest_prefixes: Sequence[str],
    *,
    account: str,
    region: str,
    days: Sequence[date],
) -> DigestCoverage:
    """The periods the regular digest files of ``account`` in ``region`` cover, from the
    folders of ``days`` under each of ``digest_prefixes`` (an account's folder, an organization
    trail's member folder: :meth:`~kmskit.audit.AccountPath.digest_prefix`), every trail's.

    Each digest is read (``reader.workers`` at a time): its name alone gives its end, but not
    where it starts, and the first digest after logging restarts starts when it restarted.
    Signatures are not checked (``kmskit audit --verify`` does). Backfill digests are counted
    and not read: they list log files a regular digest missed (delivered late), and say
    nothing of whether the trail was logging in between."""
    folders = [digest_folder(prefix, region, day) for prefix in digest_prefixes for day in days]
    coverage = DigestCoverage()
    regular: list[str] = []
    for key in list_digest_keys(reader, location, folders):
        try:
            backfill = match_digest_name(key, account, region)["backfill"]
        except InvalidDigest as invalid:
            coverage.problems.append(
                IntegrityProblem(invalid.kind, location.uri(key), invalid.detail)
            )
            continue
        if backfill:
            coverage.backfill += 1
        else:
            regular.append(key)
    for _, found in ordered_map(lambda key: _span(reader, location, key), regular, reader.workers):
        if isinstance(found, DigestSpan):
            coverage.spans.append(found)
        else:
            coverage.problems.append(found)
    return coverage


def _span(reader: AuditReader, location: LogLocation, key: str) -> DigestSpan | IntegrityProblem:
    """What the digest at ``key`` covers, or what is wrong with it (runs on a worker)."""
    try:
        _, document = read_digest(reader, location, key)
        problem = digest_fields_problem(document)
        if problem:
            raise InvalidDigest(DIGEST_MALFORMED, problem)
        start = parse_event_time(document["digestStartTime"])
        end = parse_event_time(document["digestEndTime"])
        if start is None or end is None or end < start:
            raise InvalidDigest(
                DIGEST_MALFORMED,
                f"covers no period: digestStartTime {document['digestStartTime']!r}, "
                f"digestEndTime {document['digestEndTime']!r}",
            )
    except InvalidDigest as invalid:
        return IntegrityProblem(invalid.kind, location.uri(key), invalid.detail)
    return DigestSpan(
        key, start.astimezone(UTC), end.astimezone(UTC), document["previousDigestSignature"] is None
    )


def _validity(key: PublicKey) -> str:
    """When ``key`` was valid, as text: ``from ... to ...``."""
    since = "(unbounded)" if key.valid_from is None else f"{key.valid_from:%Y-%m-%dT%H:%M:%SZ}"
    until = "(unbounded)" if key.valid_to is None else f"{key.valid_to:%Y-%m-%dT%H:%M:%SZ}"
    return f"from {since} to {until}"


def _name_time(end: str) -> datetime:
    return datetime.strptime(end, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


class DigestVerifier:
    """Checks the log files of one :meth:`AuditReader.run <kmskit.audit.AuditReader.run>`
    (pass it as ``observer``) against CloudTrail's digest files; the result is :attr:`report`.

    Args:
        reader: the run's reader: its lister, reader and worker pool size are used for the
            digest files too.
        location: the run's location.
        public_keys: the public keys of a Region valid in a time range, by fingerprint
            (:func:`cloudtrail_public_keys`): asked once per Region for the run's range (up
            to when it started), and again only for a digest after that or a backfill
            digest's generation time.
        now: the current time (default: the clock), for log files whose digest is not due
            yet.

    A digest is valid when it is where it says it was delivered, its SHA256withRSA signature
    verifies with the CloudTrail public key of its Region whose fingerprint it names (valid at
    some time from its ``digestEndTime`` to :data:`DIGEST_SIGNING_WINDOW` later, or for a
    backfill digest around its generation time), and it is
    well formed. Chains (per trail and home Region; backfill digests apart) are followed from
    digest to digest: a previous digest that is named but not in the bucket is deleted, one
    whose signature is not the one the next digest recorded was replaced. Every log file a
    valid digest lists in the log folders read must be there with the SHA-256 recorded; every
    log file read that holds a record of the audited days must be listed by a valid digest
    (else not covered, or pending when it was delivered after the newest digest, less than
    :data:`DIGEST_DUE` ago). The last digest read of each chain must be named by the chain's
    next digest, looked for in the digest folders after the range's (up to
    :data:`DIGEST_LOOK_AHEAD`): so a range in the past whose last digests were deleted, or all
    of them, is found. An account and Region read whose digest folders hold no digest is a
    problem (:data:`NO_DIGEST`) when a log file of the range was read there or the digests
    after them name one of them as deleted, else a note (nothing of the range there: an
    account that joined after it or left before it, a Region logged in only before or after
    it); and the report is verified only when a digest was valid."""

    def __init__(
        self,
        reader: AuditReader,
        location: LogLocation,
        public_keys: PublicKeySource,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.reader = reader
        self.location = location
        self.public_keys = public_keys
        self.now = now
        self.report = IntegrityReport()
        # the groups not finished yet, in reading order
        self._groups: deque[_Group] = deque()
        # Region -> the time CloudTrail's public keys are needed for: the run's range in its
        # folders, up to when the run started (set by begin)
        self._key_spans: dict[str, tuple[datetime, datetime]] = {}
        # Region -> the public keys of a time (looked up once, widened when a digest needs it)
        self._keys: dict[str, _RegionKeys] = {}
        # region, start, end -> the public keys around a backfill digest's generation time
        self._backfill_keys: dict[tuple[str, datetime, datetime], Mapping[str, PublicKey]] = {}
        self._keys_lock = threading.Lock()

    # --- ReadObserver ----------------------------------------------------------------------

    def begin(self, prefixes: Sequence[str]) -> None:
        groups: dict[str, _Group] = {}
        for prefix in prefixes:
            # [..]/<account>/CloudTrail/<region>/YYYY/MM/DD/
            parts = prefix.rstrip("/").split("/")
            account_root = "/".join(parts[:-5]) + "/"
            account, region = folder_account_region(prefix)
            day = folder_day(prefix)
            group = groups.get(f"{account_root}{region}")
            if group is None:
                group = _Group(account_root, account, region, day, day)
                groups[f"{account_root}{region}"] = group
                self._groups.append(group)
            group.first, group.last = min(group.first, day), max(group.last, day)
        # Archived digest files too are named before any log file is read: the digest folders
        # of the range of each account and Region are listed for them first.
        self.reader.check_not_archived(
            self.location,
            folder_spans(folder for group in self._groups for _, folder in group.digest_folders()),
            (folder for group in self._groups for _, folder in group.digest_folders()),
            what="digest files",
        )
        started = self.now()
        for group in self._groups:
            start, end = self._window(group, started)
            end = min(end + DIGEST_LOOK_AHEAD, started)  # and the digests looked ahead in
            known = self._key_spans.get(group.region)
            if known is not None:
                start, end = min(start, known[0]), max(end, known[1])
            self._key_spans[group.region] = (start, end)

    def log_file(
        self, key: str, last_modified: datetime | None, sha256: str | None, in_range: bool
    ) -> None:
        folder = _folder_of(key)
        # the run moved on: check the groups passed
        while (day := self._groups[0].folder_day(folder)) is None:
            self._finish(self._groups.popleft())
        group = self._groups[0]
        # Every log file of the days before is read: compare them (their log files and the
        # digests' lists of them are let go).
        self._compare_before(group, day)
        group.files[key] = _LogFile(last_modified, sha256, in_range)
        group.logs_in_range = group.logs_in_range or in_range

    def end(self) -> None:
        while self._groups:
            self._finish(self._groups.popleft())

    # --- one account and Region ------------------------------------------------------------

    def _window(self, group: _Group, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The time the group's digest folders cover, up to ``now`` (default: the clock)."""
        return (
            datetime.combine(group.first, time.min, tzinfo=UTC),
            min(
                datetime.combine(group.last + DIGEST_SLACK * 2, time.min, tzinfo=UTC),
                self.now() if now is None else now,
            ),
        )

    def _start(self, group: _Group) -> None:
        """List the group's digest folders (names only: they are read day by day, as the log
        days are compared) and look CloudTrail's public keys up."""
        group.window = self._window(group)
        folders = group.digest_folders()
        listed = list_digest_keys(self.reader, self.location, [folder for _, folder in folders])
        group.digests_listed = len(listed)
        at = 0  # the keys come folder after folder, each folder's in key order
        for key in listed:
            while not key.startswith(folders[at][1]):
                at += 1
            try:
                match = match_digest_name(key, group.account, group.region)
            except InvalidDigest as invalid:
                self._problem(invalid.kind, key, invalid.detail)
                self.report.digests_invalid += 1
                continue
            chain = (match["trail"], match["home"], bool(match["backfill"]))
            group.digests.append(_Digest(key, folders[at][0], match["end"], chain))
            group.chains.setdefault(chain, _Chain()).keys.add(key)
        if group.digests:
            # once per Region, before the workers need them
            self._public_keys(group.region, *self._key_spans[group.region])

    def _compare_before(self, group: _Group, day: date) -> None:
        """Compare the log files of the group's days before ``day`` with the digests that list
        them: those of the digest folders of their day and the next (a digest lists the log
        files delivered in the hour before it), read and checked first."""
        if group.window is None:
            self._start(group)
        window = group.window or self._window(group)
        current = group.compare_from or group.first
        while current < day:
            self._read_digests(group, window, current + DIGEST_SLACK)
            self._compare_day(group, current)
            current += timedelta(days=1)
        group.compare_from = current

    def _read_digests(
        self, group: _Group, window: tuple[datetime, datetime], through: date
    ) -> None:
        """Read and check the group's digests of the folders up to ``through``, not read yet;
        keep the log files the valid ones list in the group's folders (``expected``) and, of
        each, only its chain fields."""
        batch: list[_Digest] = []
        while group.digests and group.digests[0].day <= through:
            batch.append(group.digests.popleft())
        for _, digest in ordered_map(lambda d: self._check(d, group), batch, self.reader.workers):
            if digest.valid:
                self.report.digests_valid += 1
                group.digests_valid += 1
                document = digest.document or {}
                end = parse_event_time(document.get("digestEndTime"))
                group.newest = max(filter(None, (group.newest, end)), default=None)
                for entry in document.get("logFiles", []):
                    key = entry["s3Object"]
                    if entry["s3Bucket"] == self.location.bucket and group.folder_day(
                        _folder_of(key)
                    ):
                        group.expected.setdefault(
                            key, (entry["hashValue"], self.location.uri(digest.key))
                        )
            else:
                self._invalid(digest)
            if digest.document is not None:
                digest.document = {name: digest.document.get(name) for name in _CHAIN_FIELDS}
        # Each chain's digests of these folders by end time, after the ones before (a digest is
        # in the folder of the day it ends).
        for digest in sorted(batch, key=lambda d: (d.end, d.key)):
            self._follow(group.chains[digest.chain], digest, window)

    def _invalid(self, digest: _Digest) -> None:
        self.report.digests_invalid += 1
        if digest.problem is not None:
            self.report.problems.append(digest.problem)

    def _finish(self, group: _Group) -> None:
        """Compare the group's last log days, follow its chains into the digests after its
        folders, then note where its digest chains restart and end; a group without a digest
        is a problem."""
        self._compare_before(group, group.last + timedelta(days=1))
        # Listed by a valid digest of a day after the next, in a folder compared before: not
        # how CloudTrail lists log files (the hour before the digest), and not found then.
        for key, (_, digest_uri) in group.expected.items():
            self._deleted(key, digest_uri)
        window = self._window(group)  # where the chains end: up to now
        continued = self._look_ahead(group, group.window or window)
        for name, chain in group.chains.items():
            self.report.notes += chain.notes
            last = chain.last
            if (
                name not in continued
                and last is not None
                and not name[2]
                and last.document is not None
            ):
                self._chain_end_note(last, window[1], group)
        if group.digests_listed or group.logs_in_range or group.names_deleted():
            self.report.regions_checked += 1
        if not group.digests_listed:
            # (one that is there and not valid is a problem of its own)
            self._no_digest(group, window)

    def _no_digest(self, group: _Group, window: tuple[datetime, datetime]) -> None:
        """The group's digest folders are empty. A problem (:data:`NO_DIGEST`: nothing read
        there is proven) when a log file of the range was read there, or when the digests after
        them name one of them as deleted; otherwise a note: in an organization's bucket an
        account that joined after the range or left before it, or a Region the trail logged in
        only before or after it, has folders with nothing of the range."""
        folders = group.digest_folders()
        span = f"{folders[0][0]} to {folders[-1][0]}"
        if group.logs_in_range or group.names_deleted():
            uri = self.location.uri(f"{group.account_root}{DIGEST_FOLDER}/{group.region}/")
            detail = self._no_digest_detail(group, window, span)
            self.report.problems.append(IntegrityProblem(NO_DIGEST, uri, detail))
        else:
            self.report.regions_empty += 1
            looked = [day for day, _ in group.look_ahead_folders(self.now().date())]
            through = f" and the digest folders up to {looked[-1]}" if looked else ""
            self.report.notes.append(
                f"no log or digest file of account {group.account} in Region {group.region} "
                f"in the range ({span}){through}: the trail did not log there then, or all of it "
                "was deleted"
            )

    def _look_ahead(self, group: _Group, window: tuple[datetime, datetime]) -> set[_ChainName]:
        """Follow the group's chains into the digest folders after its own (up to
        :data:`DIGEST_LOOK_AHEAD`, and today): the first digest of each chain there must name
        the chain's last digest read as its previous one (:meth:`_follow`), or the digests in
        between were deleted, those of the range included; the first digest of a chain with
        none in the group's folders must not name one of them. Only when a regular chain's
        last digest ended more than :data:`DIGEST_DUE` ago, or there is none: a folder at a
        time, until one has a digest of every such chain. These digests are checked (a
        problem with one is reported) but not counted, and their log files are not compared
        (they are outside the range). Returns the chains whose next digest was found."""
        now = self.now()
        waiting = {
            name
            for name, chain in group.chains.items()
            if not name[2]
            and chain.last is not None
            and now - _name_time(chain.last.end) > DIGEST_DUE
        }
        if not waiting and any(not name[2] for name in group.chains):
            return set()  # every chain's next digest is still to come
        found: set[_ChainName] = set()
        for day, folder in group.look_ahead_folders(now.date()):
            if found and waiting <= found:
                break
            firsts: dict[_ChainName, _Digest] = {}
            for key in list_digest_keys(self.reader, self.location, [folder]):  # by end
                try:
                    match = match_digest_name(key, group.account, group.region)
                except InvalidDigest:
                    continue  # not one of the range's: not read
                name = (match["trail"], match["home"], bool(match["backfill"]))
                if not name[2] and name not in found:
                    firsts.setdefault(name, _Digest(key, day, match["end"], name))
            for _, digest in ordered_map(
                lambda d: self._check(d, group), list(firsts.values()), self.reader.workers
            ):
                if not digest.valid:
                    self._invalid(digest)
                self._follow(group.chains.setdefault(digest.chain, _Chain()), digest, window)
                found.add(digest.chain)
        return found

    @staticmethod
    def _no_digest_detail(group: _Group, window: tuple[datetime, datetime], span: str) -> str:
        """The detail of :data:`NO_DIGEST` for ``group`` (its digest folders: ``span``)."""
        if window[1] - window[0] > DIGEST_DUE:
            return (
                f"unverifiable: no digest file in the digest folders of {span}. "
                "CloudTrail delivers one every hour while the trail logs with log file "
                "validation on, also for an hour without log files: they were deleted, or the "
                f"trail did not log (or validate) in {group.region} then (leave the account "
                "out by naming the others with --account, or the Region with --log-region)"
            )
        return (
            f"unverifiable yet: no digest file in the digest folders of {span}; "
            "CloudTrail delivers the first within the hour: verify again then"
        )

    def _public_keys(self, region: str, start: datetime, end: datetime) -> Mapping[str, PublicKey]:
        """CloudTrail's public keys of ``region`` valid at some time from ``start`` to ``end``,
        and maybe others: one look-up per Region for the whole run (the Region's span, from
        :meth:`begin`), and one more for each side a digest needs beyond what was looked up
        (a digest delivered after the run started). The mapping returned is not changed
        afterwards (a wider look-up makes a new one): workers read it without the lock."""
        with self._keys_lock:
            known = self._keys.get(region)
            if known is None:
                span_start, span_end = self._key_spans.get(region, (start, end))
                known = _RegionKeys(min(start, span_start), max(end, span_end))
                known.keys = dict(self.public_keys(region, known.start, known.end))
                self._keys[region] = known
            if start < known.start:
                known.keys = {**known.keys, **self.public_keys(region, start, known.start)}
                known.start = start
            if end > known.end:
                # up to now: the digests delivered meanwhile need no look-up each
                end = max(end, self.now())
                known.keys = {**known.keys, **self.public_keys(region, known.end, end)}
                known.end = end
            return known.keys

    def _backfill_public_keys(self, region: str, generated: datetime) -> Mapping[str, PublicKey]:
        """CloudTrail's public keys of ``region`` around a backfill digest's generation time
        (:data:`BACKFILL_KEY_WINDOW` either side), as the AWS CLI looks them up."""
        window = (region, generated - BACKFILL_KEY_WINDOW, generated + BACKFILL_KEY_WINDOW)
        with self._keys_lock:
            found = self._backfill_keys.get(window)
            if found is None:
                found = self.public_keys(*window)
                self._backfill_keys[window] = found
            return found

    def _check(self, digest: _Digest, group: _Group) -> _Digest:
        """Read ``digest`` and check it; sets ``valid`` or ``problem`` (runs on a worker)."""
        try:
            fetched, digest_sha256 = self._read_digest(digest)
            self._verify_digest(digest, fetched.metadata, digest_sha256, group)
        except InvalidDigest as invalid:
            digest.problem = IntegrityProblem(
                invalid.kind, self.location.uri(digest.key), invalid.detail
            )
            return digest
        digest.valid = True
        return digest

    def _read_digest(self, digest: _Digest) -> tuple[FetchedObject, str]:
        """The digest file, and the hex SHA-256 of its uncompressed content; sets
        ``document`` (when it has the fields the chain needs) and ``signature``."""
        fetched, document = read_digest(self.reader, self.location, digest.key)
        digest.signature = fetched.metadata.get("signature")
        problem = digest_fields_problem(document)
        if problem:
            raise InvalidDigest(DIGEST_MALFORMED, problem)
        digest.document = document
        return fetched, hashlib.sha256(fetched.data).hexdigest()

    def _verify_digest(
        self,
        digest: _Digest,
        metadata: Mapping[str, str],
        digest_sha256: str,
        group: _Group,
    ) -> None:
        document = digest.document or {}
        if (document["digestS3Bucket"], document["digestS3Object"]) != (
            self.location.bucket,
            digest.key,
        ):
            raise InvalidDigest(
                DIGEST_MALFORMED,
                "was moved: it says it was delivered to "
                f"s3://{document['digestS3Bucket']}/{document['digestS3Object']}",
            )
        algorithm = metadata.get("signature-algorithm")
        if digest.signature is None or algorithm is None:
            raise InvalidDigest(
                DIGEST_SIGNATURE_INVALID,
                "has no signature (object metadata x-amz-meta-signature and "
                "x-amz-meta-signature-algorithm)",
            )
        if algorithm != SIGNATURE_ALGORITHM:
            raise InvalidDigest(
                DIGEST_SIGNATURE_INVALID, f"is signed with {algorithm!r}, not {SIGNATURE_ALGORITHM}"
            )
        fingerprint = document["digestPublicKeyFingerprint"]
        public_key = self._key_for(digest, metadata, fingerprint, group.region)
        try:
            good = verify_signature(
                public_key, digest.signature, data_to_sign(document, digest_sha256)
            )
        except ValueError as error:
            raise InvalidDigest(
                DIGEST_UNKNOWN_KEY, f"public key {fingerprint} cannot be used: {error}"
            ) from None
        if not good:
            raise InvalidDigest(
                DIGEST_SIGNATURE_INVALID,
                f"signature does not verify with CloudTrail's public key {fingerprint}: the "
                "digest file or its signature was changed",
            )
        problem = self._log_entries_problem(document.get("logFiles"))
        if problem:
            raise InvalidDigest(DIGEST_MALFORMED, problem)

    def _key_for(
        self, digest: _Digest, metadata: Mapping[str, str], fingerprint: str, region: str
    ) -> bytes:
        """The DER of the public key ``fingerprint`` names: one of the Region's valid at some
        time from the digest's ``digestEndTime`` to :data:`DIGEST_SIGNING_WINDOW` later (when
        it was signed), or for a backfill digest one around its generation time (as the AWS CLI
        looks them up)."""
        document = digest.document or {}
        ended = parse_event_time(document["digestEndTime"])
        if ended is None:
            raise InvalidDigest(
                DIGEST_MALFORMED, f"'digestEndTime' {document['digestEndTime']!r} is not a time"
            )
        ended = ended.astimezone(UTC)
        # The look-up reaches the time the run started, or now: past the digest's signing.
        key = self._public_keys(region, ended, ended).get(fingerprint)
        if key is not None and key.valid_during(ended, ended + DIGEST_SIGNING_WINDOW):
            return key.der
        if digest.chain[2]:
            generated = parse_event_time(metadata.get("backfill-generation-timestamp"))
            if generated is None:
                raise InvalidDigest(
                    DIGEST_MALFORMED,
                    "is a backfill digest without backfill-generation-timestamp metadata",
                )
            generated = generated.astimezone(UTC)
            backfill = self._backfill_public_keys(region, generated).get(fingerprint)
            if backfill is not None and backfill.valid_during(
                generated - BACKFILL_KEY_WINDOW, generated + BACKFILL_KEY_WINDOW
            ):
                return backfill.der
        if key is None:
            raise InvalidDigest(
                DIGEST_UNKNOWN_KEY,
                f"is signed with key fingerprint {fingerprint}, which is not among the public "
                f"keys CloudTrail lists for {region} (cloudtrail:ListPublicKeys) for its time",
            )
        raise InvalidDigest(
            DIGEST_UNKNOWN_KEY,
            f"is signed with key fingerprint {fingerprint}, which CloudTrail lists for {region} "
            f"(cloudtrail:ListPublicKeys) as valid {_validity(key)}, not from its digestEndTime "
            f"{ended:%Y-%m-%dT%H:%M:%SZ} to a day after, when it was signed",
        )

    @staticmethod
    def _log_entries_problem(entries: Any) -> str | None:
        if not isinstance(entries, list):
            return "'logFiles' must be a list"
        for number, entry in enumerate(entries, start=1):
            fields = ("s3Bucket", "s3Object", "hashValue", "hashAlgorithm")
            if not isinstance(entry, dict) or not all(
                isinstance(entry.get(name), str) for name in fields
            ):
                return f"log file entry {number} lacks one of {', '.join(fields)}"
            if entry["hashAlgorithm"] != HASH_ALGORITHM:
                return f"log file entry {number} is hashed with {entry['hashAlgorithm']!r}"
        return None

    def _follow(self, chain: _Chain, digest: _Digest, window: tuple[datetime, datetime]) -> None:
        """``digest`` against the one before it in its chain in the bucket (``chain.last``: the
        chain's digests come sorted by end time); it is then the chain's last."""
        before, chain.last = chain.last, digest
        document = digest.document
        if document is None:
            return  # could not be read: already a problem
        uri = self.location.uri(digest.key)
        previous = document.get("previousDigestS3Object")
        if previous is None:
            if before is not None:
                chain.notes.append(
                    f"{uri} starts a new chain: no log files were digested between "
                    f"{_name_time(before.end):%Y-%m-%dT%H:%M:%SZ} and "
                    f"{document['digestStartTime']} (logging or log file validation was "
                    "off)"
                )
            return
        if document.get("previousDigestS3Bucket") != self.location.bucket:
            return  # the trail delivered to another bucket before: not audited here
        if not isinstance(previous, str):
            self._problem(DIGEST_MALFORMED, digest.key, "'previousDigestS3Object' not text")
            return
        if previous in chain.keys:
            if before is None or before.key != previous:
                self._problem(
                    DIGEST_CHAIN_BROKEN,
                    before.key if before else digest.key,
                    f"is not in the chain: the next digest, {uri}, names "
                    f"{self.location.uri(previous)} as its previous one",
                )
            elif before.signature is not None and (
                document.get("previousDigestSignature") != before.signature
            ):
                self._problem(
                    DIGEST_CHAIN_BROKEN,
                    previous,
                    f"has another signature than the one {uri} recorded for it "
                    "(previousDigestSignature): it was replaced",
                )
            return
        match = DIGEST_NAME.match(previous.rsplit("/", 1)[-1])
        if match is None:
            self._problem(DIGEST_CHAIN_BROKEN, digest.key, f"names {previous!r} as previous")
        elif _name_time(match["end"]) >= window[0]:
            self.report.digests_invalid += 1
            between = (
                f" (and any digest between it and {self.location.uri(before.key)})"
                if before is not None
                else f" (and any digest of its chain before it from {window[0]:%Y-%m-%d})"
            )
            self._problem(
                DIGEST_DELETED,
                previous,
                f"is gone: {uri} names it as its previous digest{between}; the log files "
                "it listed cannot be checked",
            )
            chain.names_deleted = True

    def _chain_end_note(self, last: _Digest, window_end: datetime, group: _Group) -> None:
        ended = _name_time(last.end)
        if window_end - ended > DIGEST_DUE:
            trail, home, _ = last.chain
            looked = [day for day, _ in group.look_ahead_folders(self.now().date())]
            through = looked[-1] if looked else group.last + DIGEST_SLACK
            self.report.notes.append(
                f"the digests of trail {trail} (home Region {home}) in this folder end at "
                f"{ended:%Y-%m-%dT%H:%M:%SZ} ({self.location.uri(last.key)}), and no digest "
                f"in the digest folders up to {through} names it: log files delivered later "
                "are not covered (the trail stopped or validation was off, or the digests after "
                "it were deleted up to then)"
            )

    def _compare_day(self, group: _Group, day: date) -> None:
        """The log files read in the group's folder of ``day`` against the valid digests read
        so far that list them; what those list in that folder and is not there was deleted."""
        folder = group.log_folder(day)
        for key in [key for key in group.files if _folder_of(key) == folder]:
            log = group.files.pop(key)
            listed = group.expected.pop(key, None)
            if listed is not None:
                self._compare_listed(key, log, *listed)
            elif log.sha256 is not None and log.in_range:
                self._not_covered(key, log, group.newest)
        for key in [key for key in group.expected if _folder_of(key) == folder]:
            self._deleted(key, group.expected.pop(key)[1])

    def _deleted(self, key: str, digest_uri: str) -> None:
        self.report.log_files_invalid += 1
        self._problem(LOG_FILE_DELETED, key, f"is listed in {digest_uri} but not in the bucket")

    def _compare_listed(self, key: str, log: _LogFile, hash_value: str, digest_uri: str) -> None:
        if log.sha256 is None:
            self.report.log_files_invalid += 1
            self._problem(
                LOG_FILE_DELETED, key, f"is listed in {digest_uri} but was gone when read (deleted)"
            )
        elif log.sha256 != hash_value.lower():
            self.report.log_files_invalid += 1
            self._problem(
                LOG_FILE_MODIFIED,
                key,
                f"was modified: the SHA-256 of its uncompressed content is {log.sha256}, "
                f"{digest_uri} recorded {hash_value}",
            )
        else:
            self.report.log_files_valid += 1

    def _not_covered(self, key: str, log: _LogFile, newest: datetime | None) -> None:
        self.report.log_files_not_covered += 1
        delivered = log.last_modified
        if (
            newest is not None
            and delivered is not None
            and delivered > newest
            and self.now() - delivered < DIGEST_DUE
        ):
            self.report.log_files_pending += 1
            self._problem(
                LOG_FILE_PENDING,
                key,
                f"is not covered yet: delivered {delivered:%Y-%m-%dT%H:%M:%SZ}, after the newest "
                f"digest ({newest:%Y-%m-%dT%H:%M:%SZ}); CloudTrail delivers its digest within "
                "the hour: verify again then, or end the range a day earlier",
            )
        else:
            self._problem(
                LOG_FILE_NOT_COVERED,
                key,
                "is listed in no valid digest file: CloudTrail did not deliver it, its digest "
                "is missing or invalid, or log file validation was off",
            )

    def _problem(self, kind: str, key: str, detail: str) -> None:
        self.report.problems.append(IntegrityProblem(kind, self.location.uri(key), detail))
