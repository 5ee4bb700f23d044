"""``kmskit audit s3://BUCKET[/PREFIX]``: who used which KMS key, from CloudTrail logs in S3."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime
from typing import Any

from kmskit._io import atomic_output, atomic_text_output
from kmskit.audit import (
    DEFAULT_WORKERS,
    MAX_DAYS,
    MAX_WORKERS,
    AuditReader,
    AuditStats,
    CsvSink,
    DateRange,
    JsonLinesSink,
    LogLocation,
    RecordFilter,
    RecordSink,
    UsageSummary,
    check_workers,
    day_count,
    key_reference,
    principal_reference,
    resolve_key,
    s3_pool_size,
    summary_json,
    summary_table,
    unseen_use,
    warn_on_stderr,
)
from kmskit.audit_integrity import DigestVerifier, cloudtrail_public_keys, integrity_text
from kmskit.aws_names import check_accounts, check_regions
from kmskit.cli import add_force_option, check_new_output, settings_from_args
from kmskit.errors import EXIT_INTEGRITY, EXIT_OK, UsageError

DEFAULT_DAYS = 7
FORMATS = ("table", "json", "jsonl", "csv")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None


# KMS event names are API operation names: ASCII letters (and digits), starting with a capital.
EVENT_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*\Z")


def event_name(value: str) -> str:
    """``value`` if it has the form of a CloudTrail event name; otherwise a UsageError naming
    ``--event``. The ``type`` of ``--event``: ``decrypt`` or ``kms:Decrypt`` would match no
    record and report that no one made the call."""
    if not EVENT_NAME.match(value):
        raise UsageError(
            "'--event' must be an event name as CloudTrail writes it, such as Decrypt or "
            f"GenerateDataKey. Received: {value!r}"
        )
    return value


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "audit",
        parents=[common],
        help="report KMS key usage from CloudTrail log files in S3",
        description="Read the CloudTrail log files a trail delivered to S3 for a range of days "
        "and report who used which KMS key: a summary per key, principal and event name, "
        "failed calls counted apart (--format table or json), or the matching records "
        "themselves (--format jsonl or csv). "
        "Use is attributed by resources[].ARN, never by requestParameters.keyId.",
        epilog="example: kmskit audit s3://audit-bucket/trail --key alias/app-data --days 7",
    )
    parser.add_argument(
        "location", help="s3://BUCKET[/PREFIX]: the trail's bucket and S3 key prefix"
    )
    when = parser.add_argument_group("days (UTC, inclusive)")
    when.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="first day")
    when.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last day (default: today)")
    when.add_argument(
        "--days",
        type=day_count,
        metavar="N",
        help=f"the N days up to --until, 1-{MAX_DAYS} (default: {DEFAULT_DAYS}; not with "
        "--since, which reads any range)",
    )
    what = parser.add_argument_group("filters (repeat an option to allow several values)")
    what.add_argument(
        "--key",
        action="append",
        default=[],
        type=key_reference,
        metavar="KEY",
        help="key ARN, key ID, alias name or alias ARN (key IDs and alias names are resolved "
        "with kms:DescribeKey in --region, alias ARNs in their own Region)",
    )
    what.add_argument(
        "--principal",
        action="append",
        default=[],
        type=principal_reference,
        metavar="ARN",
        help="role, user, root, assumed-role or federated-user ARN, an AWS service name "
        "(s3.amazonaws.com), or AWSAccount:ID: a principal as the report prints it",
    )
    what.add_argument(
        "--event",
        action="append",
        default=[],
        type=event_name,
        metavar="NAME",
        help="event name, exactly as CloudTrail writes it (Decrypt, GenerateDataKey)",
    )
    what.add_argument(
        "--caller-account",
        action="append",
        default=[],
        metavar="ID",
        help="account of the caller (userIdentity.accountId)",
    )
    where = parser.add_argument_group("which log folders (default: every one in the bucket)")
    where.add_argument(
        "--account",
        action="append",
        default=[],
        metavar="ID",
        help="read the logs of this account only",
    )
    where.add_argument(
        "--log-region",
        action="append",
        default=[],
        metavar="REGION",
        help="read the logs of this Region only (--region sets the AWS API Region)",
    )
    proof = parser.add_argument_group("integrity")
    proof.add_argument(
        "--verify",
        action="store_true",
        help="also prove the log files read are complete and unchanged with CloudTrail's "
        "digest files (log file validation): signatures (cloudtrail:ListPublicKeys), the "
        "digest chain, each log file's SHA-256; any problem exits 5 (default: off)",
    )
    out = parser.add_argument_group("output")
    out.add_argument("--format", choices=FORMATS, default="table")
    out.add_argument(
        "-o", "--output", default="-", metavar="PATH", help="output file (default: stdout)"
    )
    add_force_option(out, "--output")
    add_workers_option(out)
    parser.set_defaults(handler=run)


def add_workers_option(parser: Any, what: str = "log files read at once") -> None:
    """``--workers``: how many of ``what`` run at once (default: log files read), checked by
    ``check_workers``."""
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        metavar="N",
        help=f"{what}, 1-{MAX_WORKERS} (default: {DEFAULT_WORKERS})",
    )


def date_range_from_args(args: argparse.Namespace) -> DateRange:
    until = args.until or datetime.now(UTC).date()
    if args.since is not None and args.days is not None:
        raise UsageError(
            f"'--days' must not be given together with '--since'. Received: --days {args.days}"
        )
    if args.since is not None:
        if args.until is None and args.since > until:
            raise UsageError(
                f"'--since' must not be after '--until' (default: today, {until} UTC). "
                f"Received: {args.since} > {until}"
            )
        return DateRange(since=args.since, until=until)
    return DateRange.last_days(DEFAULT_DAYS if args.days is None else args.days, until=until)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_new_output(args.output, "--output", force=args.force)
    workers = check_workers(args.workers)
    location = LogLocation.parse(args.location)
    date_range = date_range_from_args(args)
    check_accounts(args.account, "--account")
    check_accounts(args.caller_account, "--caller-account")
    check_regions(args.log_region, "--log-region")
    key_arns = frozenset(
        resolve_key(reference, lambda region: settings.client("kms", region=region))
        for reference in args.key
    )
    record_filter = RecordFilter(
        key_arns=key_arns,
        principals=frozenset(args.principal),
        event_names=frozenset(args.event),
        caller_accounts=frozenset(args.caller_account),
    )
    reader = AuditReader(
        settings.client("s3", max_pool_connections=s3_pool_size(workers, digests=args.verify)),
        workers=workers,
        progress=False if args.quiet else None,
        warn=warn_on_stderr,
    )
    verifier = (
        DigestVerifier(
            reader,
            location,
            cloudtrail_public_keys(lambda region: settings.client("cloudtrail", region=region)),
        )
        if args.verify
        else None
    )

    def read(sink: RecordSink) -> AuditStats:
        return reader.run(
            location,
            date_range,
            record_filter,
            sink,
            accounts=args.account,
            regions=args.log_region,
            observer=verifier,
        )

    if args.format in ("table", "json"):
        summary = UsageSummary()
        stats = read(summary.add)
        report = verifier.report if verifier is not None else None
        if args.format == "table":
            text = summary_table(summary, stats, unseen_use(stats, date_range, location))
            text += integrity_text(report) if report is not None else ""
        else:
            text = summary_json(summary, stats, report.as_dict() if report else None)
        with atomic_output(args.output, exclusive=not args.force) as handle:
            handle.write(text.encode())
    else:
        with atomic_text_output(args.output, exclusive=not args.force) as stream:
            stats = read(CsvSink(stream) if args.format == "csv" else JsonLinesSink(stream))
    unseen = unseen_use(stats, date_range, location)
    if unseen is not None:
        # "No use" would be a guess: said on stderr whatever the format, also with --quiet.
        warn_on_stderr(unseen.reason)
    report = verifier.report if verifier is not None else None
    if report is not None and args.format in ("jsonl", "csv"):
        # The records went to the output: the verdict goes to stderr, also with --quiet.
        sys.stderr.write(f"kmskit: {integrity_text(report)}")
    if not args.quiet:
        # Each skipped file was named in a warning as it was met (also with --quiet).
        skipped = (
            f"; {len(stats.skipped)} log files skipped (listed, but gone when read)"
            if stats.skipped
            else ""
        )
        print(
            f"kmskit: {date_range.since}..{date_range.until}: read {stats.objects} log files "
            f"({stats.records} records) from {len(stats.prefixes)} day folders; "
            f"{stats.matched} records matched, {stats.duplicates} duplicates skipped{skipped}"
            + (f"; {report.summary()}" if report is not None else ""),
            file=sys.stderr,
        )
    if report is not None and not report.verified:
        return EXIT_INTEGRITY
    return EXIT_OK
