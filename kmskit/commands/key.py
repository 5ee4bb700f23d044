"""``kmskit key import-material KEY``: import key material into an EXTERNAL-origin key.
``kmskit key schedule-deletion KEY``: schedule a key's deletion once nothing has used it.
``kmskit key inventory``: a posture report of the keys of the account's Regions.
``kmskit key rotate KEY``: rotate a key's material on demand, after checking KMS would.
``kmskit key rotations KEY``: a key's materials and rotations, and its rotation status."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError

from kmskit._io import (
    STDIO,
    FolderNotFlushedError,
    atomic_output,
    atomic_text_output,
    check_input,
    check_output,
    input_size,
    is_terminal,
    open_input,
    refuse_shared_file,
)
from kmskit._text import utc_text
from kmskit.audit import (
    AuditReader,
    DateRange,
    LogLocation,
    check_workers,
    csv_report_writer,
    day_count,
    key_reference,
    no_kms_read_events,
    s3_pool_size,
    warn_on_stderr,
)
from kmskit.aws_names import check_accounts
from kmskit.cli import (
    add_force_option,
    as_kmskit_error,
    check_new_output,
    common_options,
    settings_for_key,
    settings_from_args,
)
from kmskit.commands.audit import add_workers_option
from kmskit.commands.snapshot import timeout_seconds
from kmskit.errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    ConflictError,
    KmskitError,
    UsageError,
    reworded,
)
from kmskit.inventory_role import DEFAULT_ROLE_NAME, INVENTORY_ACTIONS
from kmskit.key_deletion import (
    DEFAULT_CHECK_DAYS,
    DEFAULT_WAITING_DAYS,
    MAX_WAITING_DAYS,
    MIN_WAITING_DAYS,
    USE_EVENTS,
    DeletionCheck,
    check_deletion,
    check_waiting_days,
    deletion_when,
    describe_deletion_target,
    schedule_deletion,
)
from kmskit.key_inventory import (
    ACCOUNT_FINDINGS,
    CSV_FIELDS,
    DEFAULT_EXPIRY_DAYS,
    FINDINGS,
    MAX_WINDOW_DAYS,
    MIN_WINDOW_DAYS,
    AccountReport,
    Finding,
    InventorySummary,
    KeyReport,
    check_expiry_days,
    check_external_id,
    check_finding_codes,
    check_one_partition,
    check_role_name,
    csv_row,
    inventory,
    inventory_kms_client,
    organization_accounts,
    organization_inventory,
)
from kmskit.key_material import (
    KEY_STATES_WITH_MATERIAL,
    MAX_VALIDITY,
    SUPPORTED_SPECS,
    UNCONFIRMED_COPY,
    WRAPPING_KEY_SPEC,
    ImportTarget,
    IncorrectMaterialError,
    check_generate,
    check_material,
    check_new_material,
    check_valid_to,
    describe_target,
    generate_material,
    import_material,
    prepare_material,
)
from kmskit.key_rotation import (
    DEFAULT_WAIT_SECONDS,
    KeyRotations,
    RotationDone,
    prepare_rotation,
    read_rotations,
    rotate,
    wait_for_rotation,
)


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "key",
        help="operate on KMS keys (import key material, rotate, schedule deletion, inventory)",
        description="Operations on KMS keys.",
    )
    actions = parser.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    imported = actions.add_parser(
        "import-material",
        parents=[common],
        help="import key material into a key created with origin EXTERNAL",
        description="Import key material into a KMS key created with origin EXTERNAL: "
        "DescribeKey, GetParametersForImport (RSA_4096 wrapping key; RSAES_OAEP_SHA_256 for "
        "symmetric and HMAC material, RSA_AES_KEY_WRAP_SHA_256 for RSA and ECC private keys), "
        "wrap locally, ImportKeyMaterial. Key specs: " + ", ".join(SUPPORTED_SPECS) + ".",
    )
    imported.add_argument("key", metavar="KEY", help="key ID, key ARN, alias name or alias ARN")
    source = imported.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--material",
        metavar="FILE",
        help="material to import ('-' reads stdin): 32 raw bytes for SYMMETRIC_DEFAULT (16 "
        "in the China Regions, where it is SM4), "
        "digest-size to block-size bytes for HMAC, an unencrypted PKCS#8 private key (DER or "
        "PEM) for RSA and ECC keys",
    )
    source.add_argument(
        "--generate",
        action="store_true",
        help="generate the material here (random bytes, or an RSA/EC private key); without "
        "--save-material no copy exists outside KMS. Refused for a key that already has "
        "material unless --new-material, for a multi-Region replica (it needs its primary's "
        "material) and, without --save-material, for a multi-Region primary",
    )
    imported.add_argument(
        "--save-material",
        metavar="FILE",
        help="with --generate: also write the plaintext material to FILE (a new file, never "
        "replaced; mode 0600; complete or not at all; written before the import) so it can be "
        "re-imported later; '-' writes it to stdout, which must not be a terminal, and is "
        "refused where a copy is required (--expires, a multi-Region primary): a copy on "
        "stdout cannot be confirmed kept",
    )
    imported.add_argument(
        "--new-material",
        action="store_true",
        help="the material is new to this key (ImportType NEW_KEY_MATERIAL: a SYMMETRIC_DEFAULT "
        "key that has material gets a further one, then RotateKeyOnDemand makes it current; "
        "into a key that never had material it is current at once; refused for a key whose "
        "material expired or was deleted (re-import that material); a multi-Region "
        "key takes it in its primary, and each replica then gets the same material without "
        "this option); default: KMS decides (new for the first import, the same material "
        "afterwards)",
    )
    imported.add_argument(
        "--expires",
        metavar="WHEN",
        help="material expires then and KMS deletes it: a number of days from now (1d-365d) "
        "or an ISO 8601 date and time with a timezone (2027-01-31T00:00:00Z), in the future "
        "and at most 365 days away; default: it does not expire",
    )
    imported.set_defaults(handler=run, report_on_stdout=True)
    _register_rotate(actions, common)
    _register_rotations(actions, common)
    _register_schedule_deletion(actions, common)
    _register_inventory(actions)


def days_option(check: Callable[[Any], int]) -> Callable[[str], int]:
    """The ``type`` of an option taking a number of days: ``check`` (a library check, which
    names the option) of the whole number given, or of the text when it is none, so that it is
    refused, naming the option, while the arguments are parsed."""

    def parse(value: str) -> int:
        try:
            days: Any = int(value)
        except ValueError:
            days = value  # check refuses it, showing the text received
        return check(days)

    return parse


waiting_days = days_option(check_waiting_days)
"""``--waiting-days``: 7-30."""
expiry_days = days_option(check_expiry_days)
"""``--expiry-days``: 1-365."""


def _register_schedule_deletion(actions: Any, common: argparse.ArgumentParser) -> None:
    deletion = actions.add_parser(
        "schedule-deletion",
        parents=[common],
        help="schedule a key's deletion after checking the trail's logs and its grants",
        description="Check that nothing used the key (its cryptographic calls in the "
        "CloudTrail log files of its account and Region for the last --days days, failed calls "
        "included; gaps: a period of a day with digest files that no digest file covers, up to "
        "2 hours ago (log file validation on: CloudTrail delivers one every hour), or a day "
        "before today without a log or digest file; a log file gone when read, a digest file "
        "that cannot be read, or no KMS read event at all in the log files; its grants; a last "
        "use KMS records in those days, GetKeyLastUsage), then ScheduleKeyDeletion. Anything "
        "found is reported and nothing is scheduled (exit 7) unless --force. Calls counted: "
        + ", ".join(sorted(USE_EVENTS))
        + ".",
    )
    add_key_argument(deletion)
    deletion.add_argument(
        "--logs",
        required=True,
        metavar="s3://BUCKET[/PREFIX]",
        help="the trail's bucket and S3 key prefix (as for kmskit audit); the trail must log "
        "the key's Region with read events (AuditTrail does)",
    )
    deletion.add_argument(
        "--days",
        type=day_count,
        default=DEFAULT_CHECK_DAYS,
        metavar="N",
        help=f"the days checked, up to today (UTC) (default: {DEFAULT_CHECK_DAYS})",
    )
    deletion.add_argument(
        "--waiting-days",
        type=waiting_days,
        default=DEFAULT_WAITING_DAYS,
        metavar="N",
        help=f"KMS's waiting period before it deletes the key, {MIN_WAITING_DAYS}-"
        f"{MAX_WAITING_DAYS} (default: {DEFAULT_WAITING_DAYS}); the deletion can be cancelled "
        "until then",
    )
    deletion.add_argument(
        "--dry-run",
        action="store_true",
        help="check and report, but schedule nothing",
    )
    deletion.add_argument(
        "--force",
        action="store_true",
        help="schedule even if the check found use, gaps in the logs or grants",
    )
    add_report_format_option(
        deletion,
        text="lines to read",
        document="what was found, the blockers and what was scheduled",
    )
    add_workers_option(deletion, "log and digest files read at once")
    deletion.set_defaults(handler=run_schedule_deletion, report_on_stdout=True)


def add_report_format_option(
    parser: Any, *, text: str, document: str, csv: str | None = None, output: bool = False
) -> None:
    """``--format text|json`` (default text): the report on stdout as ``text`` says, or one
    JSON document with what ``document`` says; and ``csv`` too if given (default None: no
    CSV), rows of what ``csv`` says. ``output``: the command has ``-o FILE`` too, which the
    help then names (default False)."""
    where = "to standard output or -o FILE" if output else "on stdout"
    parser.add_argument(
        "--format",
        choices=("text", "json", "csv") if csv else ("text", "json"),
        default="text",
        help=f"the report {where}: {text} (default), or one JSON document with {document}"
        + (f", or CSV: {csv}" if csv else ""),
    )


MAX_DAYS_SHOWN = 10


def deletion_report(check: DeletionCheck, location: LogLocation) -> str:
    """What the check found, as the command prints it."""
    target, dates = check.target, check.date_range
    lines = [
        f"key:    {target.key_arn} ({target.key_state})",
        f"logs:   {location.trail_uri}: {check.stats.objects} log file(s) of account "
        f"{target.account}, Region {target.region}, {dates.since}..{dates.until}",
    ]
    until = check.hours_checked_until
    lines.append(
        f"digests: {check.digest_files} digest file(s); gaps by the hour up to {utc_text(until)} "
        "where they cover a day, by day elsewhere"
        if check.digest_files and until
        else "digests: none (log file validation off?); gaps by day only"
    )
    rows = check.usage.sorted_rows()
    lines.append(f"use:    {sum(row.count for row in rows) or 'none'}")
    lines += [
        f"  {row.event_name} by {row.principal}: {row.count} ({row.failed} failed)"
        + (f", last {utc_text(row.last_seen)}" if row.last_seen else "")
        for row in rows
    ]
    missing = check.days_without_logs
    periods = check.periods_without_digests
    gaps = []
    if missing:
        shown = ", ".join(str(day) for day in missing[:MAX_DAYS_SHOWN])
        gaps.append(
            f"{len(missing)} day(s) without log or digest files: {shown}{_more(len(missing))}"
        )
    if periods:
        shown = ", ".join(f"{utc_text(a)}..{utc_text(b)}" for a, b in periods[:MAX_DAYS_SHOWN])
        gaps.append(f"{len(periods)} period(s) no digest file covers: {shown}{_more(len(periods))}")
    lines.append(f"gaps:   {gaps[0] if gaps else 'none'}")
    lines += [f"        {more}" for more in gaps[1:]]
    unreadable = check.unreadable_digests
    if unreadable:
        shown = "; ".join(f"{p.uri} {p.detail}" for p in unreadable[:MAX_DAYS_SHOWN])
        lines.append(
            f"unreadable: {len(unreadable)} digest file(s): {shown}{_more(len(unreadable))}"
        )
    if check.stats.skipped:
        lines.append(
            f"skipped: {len(check.stats.skipped)} log file(s) listed but gone when read: "
            + ", ".join(check.stats.skipped)
        )
    if not check.stats.kms_reads:
        stats = check.stats
        unseen = no_kms_read_events(
            "the log files", check.date_range, stats.regions, stats.accounts
        )
        lines.append(f"kms:    {unseen}")
    lines.append(f"kms last use: {check.last_usage.text()}")
    lines.append(f"grants: {len(check.grants) or 'none'}")
    lines += [
        f"  {grant.get('GrantId')} to {grant.get('GranteePrincipal')}: "
        f"{', '.join(grant.get('Operations', []))}"
        + (f" (name {grant['Name']})" if grant.get("Name") else "")
        for grant in check.grants
    ]
    if target.replica_arns:
        lines.append(
            f"replicas: {', '.join(target.replica_arns)} (each is deleted on its own; the "
            "primary waits until the last one is)"
        )
    return "\n".join(lines) + "\n"


def _more(count: int) -> str:
    return f" and {count - MAX_DAYS_SHOWN} more" if count > MAX_DAYS_SHOWN else ""


def run_schedule_deletion(args: argparse.Namespace) -> int:
    settings = settings_for_key(args, "KEY")
    workers = check_workers(args.workers)
    location = LogLocation.parse(args.logs, "--logs")
    date_range = DateRange.last_days(args.days)
    kms = settings.client("kms")
    target = describe_deletion_target(kms, args.key)
    reader = AuditReader(
        settings.client("s3", max_pool_connections=s3_pool_size(workers)),
        workers=workers,
        progress=False if args.quiet else None,
        warn=warn_on_stderr,
    )
    check = check_deletion(kms, reader, location, target, date_range)
    as_json = args.format == "json"

    def print_json(scheduled: dict[str, Any] | None) -> None:
        document = {**check.as_dict(), "logs": location.trail_uri, "scheduled": scheduled}
        print(json.dumps(document, indent=2))

    if not as_json:
        sys.stdout.write(deletion_report(check, location))
    blockers = check.blockers
    if blockers and not args.force:
        if as_json:
            print_json(None)
        raise ConflictError(
            f"not scheduled: {'; '.join(blockers)}. Find out who depends on the key (kmskit "
            f"audit {location.trail_uri} --key {target.key_arn}), or give --force to schedule "
            "anyway"
        )
    if args.dry_run:
        if as_json:
            print_json(None)
        else:
            print(f"dry run: nothing scheduled (would wait {args.waiting_days} days)")
        return EXIT_OK
    deletion = schedule_deletion(kms, target, args.waiting_days)
    if as_json:
        date_text = utc_text(deletion) if deletion else None
        print_json({"deletionDate": date_text, "waitingDays": args.waiting_days})
        return EXIT_OK
    when = deletion_when(deletion, args.waiting_days)
    print(
        f"scheduled {target.key_arn} for deletion {when}; until then, cancel with: aws kms "
        f"cancel-key-deletion --key-id {target.key_arn} --region {target.region} (then aws "
        "kms enable-key: a cancelled deletion leaves the key disabled). AuditTrail's "
        "KmsKeyPendingDeletionUsed alarm fires if anything uses the key meanwhile"
    )
    return EXIT_OK


def _register_inventory(actions: Any) -> None:
    codes = ", ".join(FINDINGS)
    listed = actions.add_parser(
        "inventory",
        # --region may be repeated here: a common parser of its own.
        parents=[common_options(repeatable_region=True)],
        help="report every customer managed key of the account's Regions, with findings",
        description="Report every customer managed key of each --region (default: the "
        "session's Region): ID, aliases, state, spec and usage, origin, multi-Region role, "
        "rotation, deletion date, imported material expiry, grant count and what its key "
        "policy allows beyond the account; then its findings: "
        + "; ".join(f"{code}: {meaning}" for code, meaning in FINDINGS.items())
        + ". Calls: "
        + ", ".join(action.removeprefix("kms:") for action in INVENTORY_ACTIONS)
        + f". Exit {EXIT_FINDINGS} when a key has a finding given to --fail-on. With --account "
        "or --accounts-from-organization, each account is read through a role assumed there "
        "(sts:AssumeRole; organizations:ListAccounts for the organization's accounts).",
    )
    listed.add_argument(
        "--include-aws-managed",
        action="store_true",
        help="report the AWS managed keys (alias/aws/...) too (default: customer managed only)",
    )
    listed.add_argument(
        "--expiry-days",
        type=expiry_days,
        default=DEFAULT_EXPIRY_DAYS,
        metavar="N",
        help="MATERIAL_EXPIRES for imported material expiring within N days, "
        f"{MIN_WINDOW_DAYS}-{MAX_WINDOW_DAYS} (default: {DEFAULT_EXPIRY_DAYS})",
    )
    listed.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="CODE[,CODE]",
        help=f"exit {EXIT_FINDINGS} (after the report) when a key has one of these findings; "
        f"repeatable. Codes: {codes} (default: exit 0 whatever is found)",
    )
    add_report_format_option(
        listed,
        text="a line per key with its findings below it",
        document="every key's fields and findings and a summary",
        csv="a header, then a row per key with the JSON's fields (and one per account, or "
        "Region of an account, that could not be read)",
        output=True,
    )
    listed.add_argument(
        "-o",
        "--output",
        default=STDIO,
        metavar="PATH",
        help="write the report to PATH, complete or not at all (default: stdout)",
    )
    add_force_option(listed, "--output")
    add_workers_option(listed, "keys described at once")
    accounts = listed.add_argument_group(
        "other accounts",
        "read the keys of other accounts through a role assumed in each (in the partition of "
        "--region); an account whose role cannot be assumed (or its credentials renewed) is "
        "reported as ACCOUNT_UNREADABLE, an opt-in Region that refuses an account's credentials "
        "(not enabled there) as that account's REGION_UNREADABLE, with the keys read before a "
        "refusal, and the run goes on",
    )
    accounts.add_argument(
        "--account",
        dest="accounts",
        action="append",
        default=[],
        metavar="ID",
        help="read this account (12 digits); repeatable (default: the caller's account only)",
    )
    accounts.add_argument(
        "--accounts-from-organization",
        action="store_true",
        help="read every ACTIVE account of the caller's organization (Organizations "
        "ListAccounts: the management account or a delegated administrator); with --account, "
        "both (default: off)",
    )
    accounts.add_argument(
        "--role-name",
        metavar="NAME",
        help=f"the role assumed in each account, arn:<partition>:iam::<account>:role/NAME; "
        "NAME starts with the role's IAM path if it has one, as in the ARN "
        f"(teams/platform/{DEFAULT_ROLE_NAME}) (default: {DEFAULT_ROLE_NAME})",
    )
    accounts.add_argument(
        "--external-id",
        metavar="ID",
        help="the external ID the role's trust policy asks for (default: none sent)",
    )
    listed.set_defaults(handler=run_inventory)


# The columns of the text report: (heading, width). A key ID is 36 characters, a multi-Region
# key's (mrk-...) 40.
INVENTORY_COLUMNS = (
    ("REGION", 14),
    ("KEY", 40),
    ("STATE", 15),
    ("SPEC", 17),
    ("USAGE", 19),
    ("ORIGIN", 12),
    ("MULTI-REGION", 12),
    ("ROTATION", 8),
    ("GRANTS", 6),
    ("ALIASES", 0),
)


ACCOUNT_COLUMN = ("ACCOUNT", 12)
"""The text report's first column when other accounts are read."""


def _columns(accounts: bool) -> tuple[tuple[str, int], ...]:
    """The text report's columns: :data:`INVENTORY_COLUMNS`, after :data:`ACCOUNT_COLUMN` if
    ``accounts``."""
    return (ACCOUNT_COLUMN, *INVENTORY_COLUMNS) if accounts else INVENTORY_COLUMNS


def _row(values: list[str], *, accounts: bool = False) -> str:
    cells = [
        value.ljust(width) for value, (_, width) in zip(values, _columns(accounts), strict=True)
    ]
    return "  ".join(cells).rstrip()


def _findings_lines(findings: list[Finding]) -> list[str]:
    return [f"    {f.code}: {f.reason}" for f in findings]


def inventory_line(report: KeyReport, *, accounts: bool = False) -> str:
    """One key in the text report: a row of :data:`INVENTORY_COLUMNS` (after
    :data:`ACCOUNT_COLUMN` if ``accounts``; default False), then a line per finding.
    ``?``: KMS refused the call that reads it; ``-``: it does not apply."""

    def shown(value: object | None, refused: str) -> str:
        if value is not None:
            return str(value)
        return "?" if refused in report.refused else "-"

    if report.rotation is not None and report.origin == "EXTERNAL":
        # KMS rotates imported material on demand only: automatic rotation does not apply.
        rotation = report.rotation.text() if report.rotation.on_demand_started else "-"
    elif report.rotation is not None:
        rotation = report.rotation.text()
    elif report.key_state is None:  # DescribeKey refused: whether KMS rotates it is unknown
        rotation = "?"
    else:
        rotation = shown(None, "kms:GetKeyRotationStatus")
    aliases = ", ".join(report.aliases) if report.aliases is not None else "?"
    row = _row(
        [
            *([report.account] if accounts else []),
            report.region,
            report.key_id,
            shown(report.key_state, "kms:DescribeKey"),
            shown(report.key_spec, "kms:DescribeKey"),
            shown(report.key_usage, "kms:DescribeKey"),
            shown(report.origin, "kms:DescribeKey"),
            shown(report.multi_region, "kms:DescribeKey"),
            rotation,
            shown(report.grant_count, "kms:ListGrants"),
            aliases or "-",
        ],
        accounts=accounts,
    )
    return "\n".join([row, *_findings_lines(report.findings)]) + "\n"


def account_line(report: AccountReport) -> str:
    """An account with findings in the text report (not read, or a Region of it not read): its
    ID, then its findings. (An account read shows in its keys' rows.)"""
    return "\n".join([report.account, *_findings_lines(report.findings)]) + "\n"


def run_inventory(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    workers = check_workers(args.workers)
    fail_on = check_finding_codes(args.fail_on)
    check_accounts(args.accounts, "--account")
    other_accounts = bool(args.accounts or args.accounts_from_organization)
    for option, value in (("--role-name", args.role_name), ("--external-id", args.external_id)):
        if value is not None and not other_accounts:
            raise UsageError(
                f"'{option}' is for other accounts: give --account or "
                f"--accounts-from-organization too. Received: {option} {value}"
            )
    role_name = check_role_name(args.role_name if args.role_name is not None else DEFAULT_ROLE_NAME)
    external_id = None if args.external_id is None else check_external_id(args.external_id)
    check_new_output(args.output, "--output", force=args.force)
    # No --region: the session's own (a client fails as bad usage when none is configured).
    regions = list(
        dict.fromkeys(
            args.regions or [inventory_kms_client(settings, None, workers).meta.region_name]
        )
    )
    reports: Iterable[KeyReport | AccountReport]
    if other_accounts:
        check_one_partition(regions)
        accounts = list(args.accounts)
        if args.accounts_from_organization:
            accounts += organization_accounts(settings.client("organizations", region=regions[0]))
        reports = _warn_unreadable(
            organization_inventory(
                settings,
                accounts,
                regions,
                role_name=role_name,
                external_id=external_id,
                include_aws_managed=args.include_aws_managed,
                expiry_days=args.expiry_days,
                workers=workers,
            )
        )
    else:
        reports = inventory(
            lambda region: inventory_kms_client(settings, region, workers),
            regions,
            include_aws_managed=args.include_aws_managed,
            expiry_days=args.expiry_days,
            workers=workers,
        )
    summary = InventorySummary()
    write = {"json": _inventory_json, "csv": _inventory_csv}.get(args.format, _inventory_text)
    with _report_output(args) as out:
        write(out, reports, _InventoryRun(regions, summary, fail_on, accounts=other_accounts))
    failing = summary.failing(fail_on)
    if not failing:
        return EXIT_OK
    if not args.quiet:
        who = "a key"
        if ACCOUNT_FINDINGS.intersection(failing):
            who = "an account" if ACCOUNT_FINDINGS.issuperset(failing) else "a key or an account"
        print(f"kmskit: --fail-on: {who} has {', '.join(failing)}", file=sys.stderr)
    return EXIT_FINDINGS


def _warn_unreadable(
    reports: Iterable[KeyReport | AccountReport],
) -> Iterator[KeyReport | AccountReport]:
    """``reports``, with a warning on stderr (also with --quiet) for each account, or Region of
    an account, that could not be read: the report may be going to a file or a pipe."""
    for report in reports:
        if isinstance(report, AccountReport):
            for finding in report.findings:
                warn_on_stderr(f"account {report.account}: {finding.reason}")
        yield report


@contextmanager
def _report_output(args: argparse.Namespace) -> Iterator[TextIO]:
    """Where the report goes: ``--output``, written atomically; stdout as it always was for
    text and JSON without it (CSV, whose rows end in CRLF, goes to stdout's bytes)."""
    if args.output == STDIO and args.format != "csv":
        yield sys.stdout
        return
    with atomic_text_output(args.output, exclusive=not args.force) as out:
        yield out


@dataclass(frozen=True)
class _InventoryRun:
    """What a report writer of ``kmskit key inventory`` needs besides the reports: the
    Regions read, the summary it adds each report to, the codes of --fail-on, and whether
    other accounts are read (``accounts``)."""

    regions: list[str]
    summary: InventorySummary
    fail_on: list[str]
    accounts: bool


def _inventory_text(
    out: TextIO, reports: Iterable[KeyReport | AccountReport], run: _InventoryRun
) -> None:
    regions, summary, accounts = run.regions, run.summary, run.accounts
    out.write(_row([heading for heading, _ in _columns(accounts)], accounts=accounts) + "\n")
    for report in reports:
        summary.add(report)
        if isinstance(report, KeyReport):
            out.write(inventory_line(report, accounts=accounts))
        elif report.findings:
            out.write(account_line(report))
    counts = ", ".join(f"{code} {count}" for code, count in summary.as_dict()["findings"].items())
    where = ", ".join(regions) + (f" of {summary.accounts} account(s)" if accounts else "")
    out.write(
        f"{summary.keys} key(s) in {where}; "
        + (f"{summary.keys_with_findings} with findings: {counts}" if counts else "no findings")
        + "\n"
    )


def _inventory_json(
    out: TextIO, reports: Iterable[KeyReport | AccountReport], run: _InventoryRun
) -> None:
    """One JSON document, the keys written as they come; with ``accounts``, the accounts
    (each small) after the keys."""
    regions, summary = run.regions, run.summary
    out.write('{\n  "regions": ' + json.dumps(regions) + ',\n  "keys": [')
    read: list[dict[str, Any]] = []
    for report in reports:
        summary.add(report)
        if isinstance(report, AccountReport):
            read.append(report.as_dict())
            continue
        document = json.dumps(report.as_dict(), indent=2).replace("\n", "\n    ")
        out.write(("," if summary.keys > 1 else "") + "\n    " + document)
    out.write(("\n  " if summary.keys else "") + "],")
    if run.accounts:
        out.write('\n  "accounts": ' + json.dumps(read, indent=2).replace("\n", "\n  ") + ",")
    tail = {**summary.as_dict(), "failOn": run.fail_on, "failing": summary.failing(run.fail_on)}
    out.write('\n  "summary": ' + json.dumps(tail, indent=2).replace("\n", "\n  ") + "\n}\n")


def _inventory_csv(
    out: TextIO, reports: Iterable[KeyReport | AccountReport], run: _InventoryRun
) -> None:
    """A header, then a row per key, and one per account with findings (RFC 4180: CRLF row
    ends, fields quoted where needed)."""
    writer = csv_report_writer(out, CSV_FIELDS)
    for report in reports:
        run.summary.add(report)
        if isinstance(report, KeyReport) or report.findings:
            writer.writerow(csv_row(report))


def add_key_argument(parser: argparse.ArgumentParser) -> None:
    """The positional ``KEY`` of a command on one key, checked as a key reference."""
    parser.add_argument(
        "key",
        metavar="KEY",
        type=lambda value: key_reference(value, "KEY"),
        help="key ARN or alias ARN (KMS is called in its Region), or key ID or alias name (in "
        "--region)",
    )


def _register_rotate(actions: Any, common: argparse.ArgumentParser) -> None:
    rotated = actions.add_parser(
        "rotate",
        parents=[common],
        help="rotate a key's material on demand, after checking that KMS would",
        description="Rotate a symmetric encryption key's material now (RotateKeyOnDemand): "
        "new material becomes current, the old stays for decryption. Checked first "
        "(DescribeKey, GetKeyRotationStatus, ListKeyRotations), each refusal naming KEY and "
        "what to do, with nothing rotated: a key that is not SYMMETRIC_DEFAULT, AWS managed "
        "or in a custom key store (exit 2), a multi-Region replica (exit 2: rotate its "
        "primary), a key that is not Enabled, an on-demand rotation in progress or an "
        "automatic one due within 20 minutes, imported material (origin EXTERNAL) without "
        "new material pending rotation, or new material of a multi-Region primary that a "
        "replica lacks (exit 7).",
    )
    add_key_argument(rotated)
    rotated.add_argument(
        "--wait",
        action="store_true",
        help="wait until the rotation has completed (progress on stderr), then name the new "
        "current key material",
    )
    rotated.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=None,
        metavar="SECONDS",
        help="wait at most this long (implies --wait; the rotation goes on in KMS): exit 6 if "
        f"it has not completed by then (default: {DEFAULT_WAIT_SECONDS:g})",
    )
    rotated.add_argument(
        "--dry-run",
        action="store_true",
        help="check and report, but rotate nothing",
    )
    add_report_format_option(
        rotated,
        text="a line saying what was rotated",
        document="the key, its rotation status, its key materials before the rotation and "
        "what was rotated",
    )
    rotated.set_defaults(handler=run_rotate, report_on_stdout=True)


def _register_rotations(actions: Any, common: argparse.ArgumentParser) -> None:
    listed = actions.add_parser(
        "rotations",
        parents=[common],
        help="list a key's rotations and key materials, with its rotation status",
        description="List a symmetric encryption key's rotations (ListKeyRotations, every "
        "page; for imported material, origin EXTERNAL, IncludeKeyMaterial=ALL_KEY_MATERIAL: "
        "its first material and material pending rotation too): date, type (AUTOMATIC or "
        "ON_DEMAND), key material ID, state, import state and expiry; and its rotation status "
        "(GetKeyRotationStatus: automatic rotation, period, next date, an on-demand rotation "
        "in progress).",
    )
    add_key_argument(listed)
    add_report_format_option(
        listed,
        text="the status, then a line per key material",
        document="the key, its rotation status and its key materials",
    )
    listed.set_defaults(handler=run_rotations, report_on_stdout=True)


def rotation_status_text(rotations: KeyRotations) -> str:
    """The ``rotation:`` line: automatic rotation, an on-demand one in progress, the count."""
    status = rotations.status
    if status is None:
        automatic = "status not reported by KMS"
    elif not status.enabled:
        automatic = "automatic off"
    else:
        period = f" every {status.period_days} days" if status.period_days else ""
        due = f", next {utc_text(status.next_rotation)}" if status.next_rotation else ""
        automatic = f"automatic{period}{due}"
    running = (
        f"on-demand rotation in progress since {utc_text(status.on_demand_started)}"
        if status is not None and status.on_demand_started is not None
        else "no on-demand rotation in progress"
    )
    return f"{automatic}; {running}; {rotations.on_demand_count} on-demand rotation(s) listed"


def key_line(rotations: KeyRotations) -> str:
    target = rotations.target
    parts = [target.key_state, target.key_spec, f"origin {target.origin}"]
    if target.multi_region_key_type:
        parts.append(f"multi-Region {target.multi_region_key_type}")
    return f"key:      {target.key_arn} ({', '.join(parts)})"


# The columns of `kmskit key rotations`: (heading, width). A key material ID is 64 characters.
ROTATION_COLUMNS = (
    ("ROTATED", 20),
    ("TYPE", 9),
    ("STATE", 40),
    ("IMPORT", 14),
    ("EXPIRES", 20),
    ("KEY MATERIAL", 0),
)


def _rotation_row(values: list[str]) -> str:
    cells = [value.ljust(width) for value, (_, width) in zip(values, ROTATION_COLUMNS, strict=True)]
    return "  ".join(cells).rstrip()


def rotations_report(rotations: KeyRotations) -> str:
    """``kmskit key rotations``' text: the key, its current material and rotation status, then
    a row per key material (``-``: KMS gives none)."""
    lines = [
        key_line(rotations),
        f"current key material: {rotations.target.current_key_material_id or 'not reported'}",
        f"rotation: {rotation_status_text(rotations)}",
    ]
    if not rotations.materials:
        lines.append("no rotations listed")
        return "\n".join(lines) + "\n"
    lines.append(_rotation_row([heading for heading, _ in ROTATION_COLUMNS]))
    for material in rotations.materials:
        lines.append(
            _rotation_row(
                [
                    utc_text(material.rotation_date) if material.rotation_date else "-",
                    material.rotation_type or "-",
                    material.state or "-",
                    material.import_state or "-",
                    material.expiry_text(),
                    material.key_material_id or "-",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def run_rotations(args: argparse.Namespace) -> int:
    kms = settings_for_key(args, "KEY").client("kms")
    rotations = read_rotations(kms, args.key)
    if args.format == "json":
        print(json.dumps(rotations.as_dict(), indent=2))
    else:
        sys.stdout.write(rotations_report(rotations))
    return EXIT_OK


def run_rotate(args: argparse.Namespace) -> int:
    kms = settings_for_key(args, "KEY").client("kms")
    before = prepare_rotation(kms, args.key)
    target = before.target
    arn = target.key_arn
    next_material = before.next_material_id
    as_json = args.format == "json"

    def print_json(rotation: dict[str, Any] | None) -> None:
        print(
            json.dumps({**before.as_dict(), "dryRun": args.dry_run, "rotation": rotation}, indent=2)
        )

    if args.dry_run:
        if as_json:
            print_json(None)
        else:
            becomes = (
                f" (key material {next_material} would become current)" if next_material else ""
            )
            print(f"dry run: {arn} can be rotated on demand{becomes}; nothing rotated")
        return EXIT_OK
    rotate(kms, before)
    if not (args.wait or args.timeout is not None):
        if as_json:
            print_json(
                {
                    "started": True,
                    "completed": None,
                    "keyMaterialId": next_material,
                    "rotationDate": None,
                }
            )
        else:
            becomes = (
                f"key material {next_material} becomes current"
                if next_material
                else "KMS makes new key material current"
            )
            print(
                f"started on-demand rotation of {arn}: {becomes}; the previous material "
                f"({target.current_key_material_id or 'not reported'}) stays for decryption. "
                f"See it done with: kmskit key rotations {arn}"
            )
        return EXIT_OK
    done = _wait_for_rotation(kms, before, args, print_json if as_json else None)
    if as_json:
        print_json(
            {
                "started": True,
                "completed": True,
                "keyMaterialId": done.key_material_id or next_material,
                "rotationDate": utc_text(done.rotation_date) if done.rotation_date else None,
            }
        )
        return EXIT_OK
    when = f" on {utc_text(done.rotation_date)}" if done.rotation_date else ""
    print(
        f"rotated {arn} on demand{when}: current key material "
        f"{done.key_material_id or next_material or 'not reported'}; the previous material "
        f"({target.current_key_material_id or 'not reported'}) stays for decryption"
    )
    return EXIT_OK


def _wait_for_rotation(
    kms: Any,
    before: KeyRotations,
    args: argparse.Namespace,
    print_json: Callable[[dict[str, Any] | None], None] | None,
) -> RotationDone:
    """Wait (``--timeout``, default :data:`DEFAULT_WAIT_SECONDS`), with a progress line on
    stderr at each check unless ``--quiet``; after a timeout or an interruption, say that the
    rotation goes on in KMS (and print the JSON document of a started, uncompleted rotation)."""
    arn = before.target.key_arn
    timeout = args.timeout if args.timeout is not None else DEFAULT_WAIT_SECONDS

    def progress(elapsed: float) -> None:
        if not args.quiet:
            print(
                f"kmskit: rotation of {arn} in progress ({elapsed:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    def started_only() -> None:
        if print_json is not None:
            print_json(
                {
                    "started": True,
                    "completed": False,
                    "keyMaterialId": before.next_material_id,
                    "rotationDate": None,
                }
            )

    try:
        return wait_for_rotation(kms, before, timeout=timeout, on_poll=progress)
    except KmskitError:
        started_only()
        raise
    except KeyboardInterrupt:
        # Ctrl-C (exit 130) or SIGTERM (143): only the wait stops.
        started_only()
        print(
            f"kmskit: stopped waiting; the rotation of {arn} goes on in KMS: kmskit key "
            f"rotations {arn} lists it once done",
            file=sys.stderr,
            flush=True,
        )
        raise


RELATIVE_EXPIRY = re.compile(r"(\d+)d")
"""``--expires 90d``: that many days from now (a script's expiry that no calendar outdates)."""
MAX_EXPIRY_DAYS = MAX_VALIDITY.days


def parse_expiry(value: str, *, now: datetime | None = None) -> datetime:
    """``--expires``: days from ``now`` (``90d``, 1d-365d; default now: the current time) or an
    ISO 8601 date and time. The range of the latter is :func:`check_valid_to`'s."""
    relative = RELATIVE_EXPIRY.fullmatch(value)
    if relative:
        digits = relative.group(1).lstrip("0") or "0"
        # Length first: int() of thousands of digits fails, and timedelta overflows far sooner.
        if len(digits) > len(str(MAX_EXPIRY_DAYS)) or not 1 <= int(digits) <= MAX_EXPIRY_DAYS:
            raise UsageError(
                f"'--expires' in days must be 1d to {MAX_EXPIRY_DAYS}d ({MAX_EXPIRY_DAYS} "
                f"days is KMS's limit for ValidTo). Received: {value}"
            )
        return (now or datetime.now(UTC)) + timedelta(days=int(digits))
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise UsageError(
            "'--expires' must be a number of days from now such as 90d, or an ISO 8601 date "
            f"and time such as 2027-01-31T00:00:00Z. Received: {value!r}"
        ) from error


def check_save_material(path: str | None, *, generate: bool, expires: str | None = None) -> None:
    """``--save-material`` (before any AWS call): only with ``--generate``; ``-`` only when
    standard output is not a terminal; otherwise a new file in a directory one may write in.
    Generated material that ``expires`` (``--expires``; default None: it does not) needs a FILE:
    expired material comes back only from a copy, and one on standard output cannot be
    confirmed kept (:data:`~kmskit.key_material.UNCONFIRMED_COPY`)."""
    if generate and expires and not path:
        raise UsageError(
            "'--expires' with --generate needs --save-material FILE: expired material can only "
            f"be re-imported from a copy, and none would exist. Received: {expires}"
        )
    if generate and expires and path == STDIO:
        raise UsageError(
            "'--expires' with --generate needs --save-material FILE, not standard output: "
            f"expired material can only be re-imported from a copy, and {UNCONFIRMED_COPY}. "
            f"Received: --save-material - with --expires {expires}"
        )
    if not path:
        return
    if not generate:
        raise UsageError(
            "'--save-material' only goes with --generate (with --material you hold the "
            f"material already). Received: {path}"
        )
    if path == STDIO:
        if is_terminal(STDIO):
            raise UsageError(
                "'--save-material -' would print the plaintext key material on the terminal: "
                "redirect standard output to a file only you may read or a program, or give a "
                "FILE. Received: - (standard output is a terminal)"
            )
        refuse_shared_file(
            STDIO,
            "--save-material -",
            "the plaintext key material",
            "give a FILE (written with mode 0600) or send standard output to a program",
        )
        return
    check_output(path, "--save-material")
    # lexists: a dangling symbolic link is something there too (atomic_output refuses it as well).
    if os.path.lexists(path):
        raise UsageError(
            "'--save-material' must name a new file: an existing one may hold the only copy of "
            "other key material, so it is never replaced (there is no --force here; move it "
            f"away or choose another name). Received: {path}"
        )


def _not_this_keys_material(saved: str, target: ImportTarget) -> str:
    """What the generated copy is worth when KMS refused it as not the key's own material (a
    key back in PendingImport after its material expired or was deleted takes only that
    material again): not a way to finish this import. Only for a key DescribeKey reports no
    ``CurrentKeyMaterialId`` for (such as an HMAC or asymmetric key): one that reports it is
    refused ``--generate`` before any material is generated
    (:func:`~kmskit.key_material.check_generate`)."""
    copy = (
        "The generated material written to standard output"
        if saved == STDIO
        else f"The generated material saved to '{saved}'"
    )
    if target.key_spec == "SYMMETRIC_DEFAULT":
        later = (
            "KMS takes it for this key only as further material (--material FILE "
            "--new-material), never in place of the key's own"
        )
    else:
        later = (
            f"KMS will never take it for this {target.key_spec} key, whose material cannot "
            "change after the first import"
        )
    return (
        f"{copy} is not this key's material and was not imported: {later}. To make the key "
        "usable again, import the material it had (the copy kept from its first import) with "
        "--material FILE"
    )


def save_material(path: str, material: bytes, *, new_material: bool) -> None:
    """``--save-material PATH``: ``material`` written to a new file (or stdout), before the
    import. A file written whose folder could not be flushed
    (:class:`~kmskit._io.FolderNotFlushedError`) stops the command before the import: the file
    may not survive a crash, and the key could be left with material of which no copy is left;
    the error says how to finish (``new_material``: with ``--new-material``)."""
    try:
        with atomic_output(path, exclusive=True, refuse_special=True) as out:
            out.write(material)
    except FolderNotFlushedError as error:
        again = " --new-material" if new_material else ""
        raise reworded(
            error,
            f"{error}. Nothing was imported: check the disk, copy '{path}' somewhere safe, "
            f"then import it with --material {path}{again}",
        ) from error


def run(args: argparse.Namespace) -> int:
    valid_to = (
        check_valid_to(parse_expiry(args.expires), given=args.expires) if args.expires else None
    )
    check_save_material(args.save_material, generate=args.generate, expires=args.expires)
    given = None if args.generate else read_material(args.material)
    kms = settings_for_key(args, "KEY").client("kms")
    target = describe_target(kms, args.key)
    if args.new_material:
        check_new_material(target)
    if args.generate:
        check_generate(target, saved=args.save_material, new_material=args.new_material)
    if given is None:
        material = generate_material(target.key_spec, partition=target.partition)
        if args.save_material:
            save_material(args.save_material, material, new_material=args.new_material)
    else:
        material = prepare_material(
            target.key_spec, given, partition=target.partition, source=args.material
        )
    try:
        result = import_material(
            kms, target, material, valid_to=valid_to, new_material=args.new_material
        )
    except (KmskitError, BotoCoreError) as error:
        if given is None and args.save_material:
            # A re-run with the same --save-material is refused (the file exists): say what
            # the file holds and how to finish, so that no second material gets generated.
            failure = as_kmskit_error(error)  # also a lost connection (BotoCoreError)
            # Further material (--new-material, an Enabled or Disabled key) is new to the key:
            # only a key back in PendingImport refuses the generated copy for good.
            again = " --new-material" if args.new_material else ""
            if (
                isinstance(failure, IncorrectMaterialError)
                and not args.new_material
                and target.key_state == "PendingImport"
            ):
                finish = _not_this_keys_material(args.save_material, target)
            elif args.save_material == STDIO:
                finish = (
                    "The generated material was written to standard output but not imported: "
                    f"once fixed, import that copy with --material FILE{again}"
                )
            else:
                finish = (
                    f"The generated material was saved to '{args.save_material}' but not "
                    f"imported: once fixed, import it with --material {args.save_material}{again}"
                )
            raise reworded(failure, f"{str(failure).rstrip('.')}. {finish}") from error
        raise
    expiry = f"expires {result.valid_to.isoformat()}" if result.valid_to else "does not expire"
    related = (
        "; multi-Region key: import the same material into its primary and every replica"
        if target.multi_region
        else ""
    )
    if args.new_material and target.key_state in KEY_STATES_WITH_MATERIAL:
        # Further material is pending rotation until RotateKeyOnDemand makes it current.
        once = " once every replica has it" if target.multi_region else ""
        related += f"; make it current{once} with: kmskit key rotate {result.key_arn}"
    elif args.new_material:
        # A key that never had material (PendingImport, no CurrentKeyMaterialId: one whose
        # material expired or was deleted was refused by check_new_material) takes new material
        # as its current one: a rotation would find nothing pending.
        related += (
            "; the key never had material (PendingImport), so this material is current at once"
        )
    print(
        f"imported {result.key_spec} key material into {result.key_arn} "
        f"(wrapping key {WRAPPING_KEY_SPEC}, {result.wrapping_algorithm}; {expiry}){related}",
        # The material itself went to stdout: keep the report out of it.
        file=sys.stderr if args.save_material == STDIO else sys.stdout,
    )
    return EXIT_OK


MAX_MATERIAL = 64 * 1024
"""The most ``--material`` holds: an RSA 4096 private key in PEM is about 3.3 KB, so anything
near this is a wrong file (``/dev/zero``, a disk image), refused without being read whole."""


def read_material(path: str) -> bytes:
    """``--material``: the file's bytes, refused (before any AWS call) if missing or unreadable,
    too large, empty, or a PEM file that is not one unencrypted private key
    (:func:`~kmskit.key_material.check_material`)."""
    check_input(path, "--material")
    with open_input(path) as handle:
        material = handle.read(MAX_MATERIAL + 1)
    if len(material) > MAX_MATERIAL:
        size = input_size(path)
        shown = f"{size} bytes" if size is not None and size > MAX_MATERIAL else "more than that"
        raise UsageError(
            f"'--material' must hold at most {MAX_MATERIAL} bytes of key material. "
            f"Received: '{path}' ({shown})"
        )
    check_material(material, source=path)
    return material
