"""``kmskit snapshot copy``: copy an EBS, RDS or Aurora snapshot to another Region or account.

The copy is made by :class:`kmskit.snapshots.SnapshotEngine`, the same code the replication
Lambda runs: the copy is tagged with its source, a second run finds the first copy instead of
making another, and limits or throttling come back as a clear error.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from botocore.exceptions import ClientError

from kmskit.audit import KEY_ARN
from kmskit.aws_names import check_accounts, check_regions
from kmskit.cli import settings_from_args
from kmskit.errors import (
    EXIT_OK,
    AccessDeniedError,
    ConflictError,
    KmskitError,
    NotFoundError,
    ThrottledError,
    UsageError,
    from_client_error,
)
from kmskit.progress import progress_bar
from kmskit.snapshots.engine import (
    SnapshotEngine,
    SnapshotInfo,
    client_factory,
    copy_refusal,
    source_failure,
)
from kmskit.snapshots.model import (
    Kind,
    Origin,
    Role,
    SnapshotError,
    SnapshotRef,
    valid_snapshot_id,
)
from kmskit.snapshots.outcomes import (
    KEY_CODES,
    SOURCE_FAILED,
    DeadLetterError,
    RetryableError,
    StepError,
)

_ACCESS_CODES = {"AccessDenied", "UnauthorizedOperation", "AccessDeniedException", *KEY_CODES}
_NOT_FOUND_CODES = {
    "InvalidSnapshot.NotFound",
    "DBSnapshotNotFound",
    "DBClusterSnapshotNotFoundFault",
}
DEFAULT_POLL_SECONDS = 15.0
MAX_POLL_SECONDS = 3600.0
"""The longest wait between two progress checks (an hour: a copy takes minutes to hours)."""


def poll_seconds(value: str) -> float:
    """``--poll-seconds``: a finite number of seconds, more than 0 and at most
    :data:`MAX_POLL_SECONDS`, refused while the arguments are parsed (not once a copy is
    pending, when ``time.sleep`` would fail on it)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_POLL_SECONDS):
        raise UsageError(
            "'--poll-seconds' must be a number of seconds, more than 0 and at most "
            f"{MAX_POLL_SECONDS:.0f}. Received: {value!r}"
        )
    return seconds


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "snapshot",
        help="copy EBS, RDS and Aurora snapshots between Regions and accounts",
        description="Snapshot copies with re-encryption (the engine of the replication Lambda).",
    )
    commands = parser.add_subparsers(dest="snapshot_command", metavar="COMMAND", required=True)
    copy = commands.add_parser(
        "copy",
        parents=[common],
        help="copy a snapshot to a Region (and share it with an account), re-encrypted",
        description="Copy SNAPSHOT into --to-region, encrypted with --kms-key (a key of this "
        "account in that Region). With --to-account the copy is a staging copy: the command "
        "waits for it, then shares it with that account, whose own key policy and copy finish "
        "the move. Running the same command again finds the first copy instead of making a "
        "second one.",
    )
    copy.add_argument(
        "snapshot",
        metavar="SNAPSHOT",
        help="snap-... (EBS, in --region), an RDS/Aurora snapshot ARN, or a DB (cluster) "
        "snapshot identifier in --region",
    )
    copy.add_argument("--to-region", required=True, help="destination Region")
    copy.add_argument(
        "--kms-key",
        required=True,
        help="ARN of the key that encrypts the copy (this account, destination Region)",
    )
    copy.add_argument("--to-account", help="share the copy with this account (12 digits)")
    copy.add_argument("--wait", action="store_true", help="wait until the copy is available")
    copy.add_argument(
        "--poll-seconds",
        type=poll_seconds,
        default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help="seconds between progress checks, more than 0 and at most "
        f"{MAX_POLL_SECONDS:.0f} (default: {DEFAULT_POLL_SECONDS:.0f})",
    )
    copy.set_defaults(handler=run_copy)


def _fail(problem: StepError) -> KmskitError:
    """The CLI error (and exit code) for an engine problem."""
    if isinstance(problem, RetryableError):
        return ThrottledError(f"{problem.reason}. Try again later")
    if problem.code in _ACCESS_CODES or "Given key ID is not accessible" in problem.reason:
        return AccessDeniedError(problem.reason)
    if problem.code in _NOT_FOUND_CODES:
        return NotFoundError(problem.reason)
    if problem.code in ("PreviousCopyFailed", SOURCE_FAILED):
        # A failed copy of another replicator holds the name, or the source itself failed: the
        # state forbids the copy.
        return ConflictError(problem.reason)
    return KmskitError(problem.reason)


def _kinds(text: str) -> tuple[Kind, ...]:
    """The kinds of snapshot ``text`` (an ID or identifier, not an ARN) can name."""
    if valid_snapshot_id("EBS", text):
        return ("EBS",)
    if valid_snapshot_id("RDS", text) and not text.startswith("snap-"):
        return ("RDS", "AURORA")
    raise UsageError(
        "'SNAPSHOT' must be an EBS snapshot ID (snap-0123456789abcdef0), an RDS or "
        f"Aurora snapshot identifier, or a snapshot ARN. Received: {text!r}"
    )


def _check_snapshot_argument(text: str) -> None:
    """Refuse a SNAPSHOT that cannot name one, before any AWS call."""
    if not text.startswith("arn:"):
        _kinds(text)
        return
    try:
        SnapshotRef.from_arn(text)
    except SnapshotError as error:
        raise UsageError(f"'SNAPSHOT' {error}") from error


def _resolve(engine: SnapshotEngine, text: str, region: str) -> SnapshotInfo:
    candidates = (
        [SnapshotRef.from_arn(text, account=engine.account)]
        if text.startswith("arn:")
        else [
            SnapshotRef(kind, text, region, engine.account, engine.partition)
            for kind in _kinds(text)
        ]
    )
    for ref in candidates:
        info = engine.describe(ref)
        if info is not None:
            return info
    raise NotFoundError(f"no snapshot {text!r} in {candidates[0].region}")


def run_copy(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    _check_snapshot_argument(args.snapshot)
    if args.to_account is not None:
        check_accounts([args.to_account], "--to-account")
    check_regions([args.to_region], "--to-region")
    key_arn = KEY_ARN.match(args.kms_key)
    if key_arn is None:
        raise UsageError(
            "'--kms-key' must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID). "
            f"Received: {args.kms_key!r}"
        )
    if key_arn.group(1) != args.to_region:
        raise UsageError(
            f"'--kms-key' must be a key in --to-region {args.to_region}. Received: {args.kms_key}"
        )
    region = settings.region or settings.session().region_name
    if not region:
        raise UsageError("'--region' is needed (no Region is configured)")
    clients = client_factory(settings)
    try:
        identity = clients("sts", region).get_caller_identity()
    except ClientError as error:
        raise from_client_error(error, "look up this account (sts:GetCallerIdentity)") from error
    # The partition of the caller's own ARN: aws, aws-cn or aws-us-gov.
    partition = str(identity["Arn"]).split(":")[1]
    engine = SnapshotEngine(clients, account=str(identity["Account"]), partition=partition)
    try:
        return _copy(engine, args, region)
    except StepError as problem:
        raise _fail(problem) from problem


def _copy(engine: SnapshotEngine, args: argparse.Namespace, region: str) -> int:
    source = _resolve(engine, args.snapshot, region)
    failure = source_failure(source)
    if failure is not None:
        # Never becomes available: not "try again later" (exit 6) as for a pending snapshot.
        raise _fail(DeadLetterError(failure, SOURCE_FAILED))
    if source.state != "available":
        raise ThrottledError(f"{source.ref.arn} is {source.state}; copy it once it is available")
    refusal = copy_refusal(source)
    if refusal is not None:
        raise UsageError(f"'SNAPSHOT' {refusal}")
    role: Role = "staging" if args.to_account else "replica"
    origin = Origin.of(source.ref, source.created)
    if source.ref.account != engine.account:
        role = "received"
        origin = (
            Origin.from_description(source.description) if source.ref.kind == "EBS" else None
        ) or origin
    result = engine.copy(
        source.ref,
        region=args.to_region,
        kms_key_arn=args.kms_key,
        role=role,
        origin=origin,
        destination_account=args.to_account,
    )
    copy = result.info
    print(f"{'started' if result.created else 'found existing'} copy {copy.ref.arn}")
    if args.wait or args.to_account:
        copy = _wait(engine, copy, quiet=args.quiet, poll_seconds=args.poll_seconds)
        print(f"copy {copy.ref.arn} is available")
    if args.to_account:
        engine.share(copy.ref, args.to_account)
        print(
            f"shared {copy.ref.arn} with {args.to_account}; in that account run: kmskit snapshot "
            f"copy {copy.ref.arn} --region {copy.ref.region} --to-region <Region> "
            "--kms-key <its own key ARN>"
        )
    return EXIT_OK


def _wait(
    engine: SnapshotEngine, copy: SnapshotInfo, *, quiet: bool, poll_seconds: float
) -> SnapshotInfo:
    with progress_bar(
        total=100, description=copy.ref.id, unit="%", enabled=False if quiet else None
    ) as bar:

        def show(info: SnapshotInfo) -> None:
            bar.update(max(0.0, info.progress - bar.n))

        try:
            return engine.wait(copy.ref, on_progress=show, poll_seconds=poll_seconds)
        except DeadLetterError as problem:
            raise _fail(problem) from problem
