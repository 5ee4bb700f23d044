"""``kmskit snapshot copy``: copy an EBS, RDS or Aurora snapshot to another Region or account.

The copy is made by :class:`kmskit.snapshots.SnapshotEngine`, the same code the replication
Lambda runs: the copy is tagged with its source, a second run finds the first copy instead of
making another, and limits or throttling come back as a clear error.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from kmskit.audit import KEY_ARN
from kmskit.aws_names import check_accounts, check_regions
from kmskit.cli import settings_from_args
from kmskit.errors import (
    CREDENTIALS_HINT,
    EXIT_OK,
    AccessDeniedError,
    ConflictError,
    CredentialsRefusedError,
    KmskitError,
    NotFoundError,
    ThrottledError,
    UsageError,
    from_client_error,
    is_credentials_refused,
    reworded,
)
from kmskit.progress import progress_bar
from kmskit.snapshots.engine import (
    ClientFactory,
    CopyResult,
    SnapshotEngine,
    SnapshotInfo,
    client_factory,
    copy_refusal,
    shared_origin,
    source_failure,
)
from kmskit.snapshots.model import (
    MAX_COPY_TAGS,
    Kind,
    Origin,
    Role,
    SnapshotError,
    SnapshotRef,
    copy_tags_problem,
    valid_snapshot_id,
)
from kmskit.snapshots.outcomes import (
    COPY_FAILED,
    COPY_NOT_FOUND,
    KEY_CODES,
    KEY_HINT,
    MANUAL_SNAPSHOT_QUOTA,
    SOURCE_FAILED,
    DeadLetterError,
    RetryableError,
    StepError,
)

# KEY_CODES is one class for the Lambda, which dead-letters the copy whatever the key's problem.
# The CLI tells the key's state apart as every kmskit command does (kmskit.errors): a key that is
# disabled, pending deletion or import, or unavailable (its custom key store disconnected) is a
# conflict, exit 7, as DisabledException and KMSInvalidStateException are for encrypt or sign;
# a key refused, or not accessible for a reason the service does not tell
# (KMSKeyNotAccessibleFault), stays access denied, exit 3. (The SQS codes in KEY_CODES are the
# Lambda's: the CLI calls no SQS.)
KEY_STATE_CODES = frozenset(
    {
        "KMSDisabledException",
        "KMSInvalidStateException",
        "InvalidKMSKey.InvalidState",  # EC2
        "DisabledException",
        "KeyUnavailableException",
    }
)
# A key that does not exist (in that Region and account): not found, exit 4, as for encrypt.
KEY_NOT_FOUND_CODES = frozenset({"KMSNotFoundException", "InvalidKmsKey.NotFound"})
_KEY_NOT_FOUND_HINT = (
    "(a KMS key does not exist: check its ARN, Region and account; `aws kms describe-key` finds it)"
)
_KEY_STATE_HINT = (
    "(a KMS key is not in a state to be used: disabled, pending deletion or import, or "
    "unavailable; `aws kms describe-key` shows its KeyState)"
)
_ACCESS_CODES = {
    "AccessDenied",
    "UnauthorizedOperation",
    "AccessDeniedException",
    *(KEY_CODES - KEY_STATE_CODES - KEY_NOT_FOUND_CODES),
}
# An EBS copy that failed for its key: its state message says no more (access or key state).
_EBS_KEY_FAILURE = "Given key ID is not accessible"
_NOT_FOUND_CODES = {
    "InvalidSnapshot.NotFound",
    "DBSnapshotNotFound",
    "DBClusterSnapshotNotFoundFault",
    COPY_NOT_FOUND,  # the copy waited for is gone
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


def timeout_seconds(value: str) -> float:
    """``--timeout``: a finite number of seconds, more than 0, refused while the arguments are
    parsed."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(
            f"'--timeout' must be a number of seconds, more than 0. Received: {value!r}"
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
    copy.add_argument(
        "--tag",
        action="append",
        metavar="KEY=VALUE",
        help="put this tag on the copy, in the copy request itself (repeatable; for cost "
        "allocation, or an SCP that requires request tags on the copy call); never a key "
        f"starting with aws: or kmskit:, at most {MAX_COPY_TAGS} (default: only kmskit's own tags)",
    )
    copy.add_argument("--wait", action="store_true", help="wait until the copy is available")
    copy.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=None,
        metavar="SECONDS",
        help="wait at most this long (implies --wait; the copy goes on in AWS): exit 6 if it "
        "is not available by then (default: no limit)",
    )
    copy.add_argument(
        "--poll-seconds",
        type=poll_seconds,
        default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help="seconds between progress checks, more than 0 and at most "
        f"{MAX_POLL_SECONDS:.0f} (default: {DEFAULT_POLL_SECONDS:.0f})",
    )
    copy.set_defaults(handler=run_copy, report_on_stdout=True)


def _fail(problem: StepError) -> KmskitError:
    """The CLI error (and exit code) for an engine problem."""
    if isinstance(problem, RetryableError):
        return ThrottledError(f"{problem.reason}. Try again later")
    key_problem = _key_problem(problem)
    if key_problem is not None:
        return key_problem
    refused = _refused(problem)
    if refused is not None:
        return refused
    if problem.code in _NOT_FOUND_CODES:
        return NotFoundError(problem.reason)
    if problem.code in ("PreviousCopyFailed", SOURCE_FAILED, MANUAL_SNAPSHOT_QUOTA, COPY_FAILED):
        # A failed copy of another replicator holds the name, the source itself failed, the
        # Region holds as many manual snapshots as its quota allows, or the copy failed while it
        # was waited for (a second run deletes that copy and copies again): the state forbids
        # the copy.
        return ConflictError(problem.reason)
    return KmskitError(problem.reason)


def _refused(problem: StepError) -> AccessDeniedError | None:
    """Exit 3 for a refusal: of the credentials (as in every other command; the CLI adds what to
    check in an opt-in Region, where a copy call in a --to-region the account has not enabled
    is refused so), by IAM or a key policy; None for any other problem."""
    if is_credentials_refused(problem.code):
        return CredentialsRefusedError(f"{problem.reason} {CREDENTIALS_HINT}")
    if problem.code in _ACCESS_CODES or _EBS_KEY_FAILURE in problem.reason:
        return AccessDeniedError(problem.reason)
    return None


def _key_problem(problem: StepError, keys: str = "") -> KmskitError | None:
    """The CLI error for a KMS key in a state that cannot be used (exit 7) or that does not
    exist (exit 4), with its hint in place of the key-policy hint of
    :func:`~kmskit.snapshots.outcomes.classify`, and ``keys`` named; None for any other
    problem."""
    named = f"; the keys it uses: {keys}" if keys else ""
    reason = _without_policy_hint(problem)
    if problem.code in KEY_STATE_CODES:
        return ConflictError(f"{reason} {_KEY_STATE_HINT}{named}")
    if problem.code in KEY_NOT_FOUND_CODES:
        return NotFoundError(f"{reason} {_KEY_NOT_FOUND_HINT}{named}")
    return None


def _without_policy_hint(problem: StepError) -> str:
    """``problem``'s reason without the key-policy hint that
    :func:`~kmskit.snapshots.outcomes.classify` adds to every key error (the Lambda's)."""
    return problem.reason.removesuffix(f" {KEY_HINT}")


# What RDS (KMSKeyNotAccessibleFault) and a failed EBS copy say of a key they cannot use, which
# does not tell a key refused from one disabled or pending deletion: the CLI asks KMS.
_AMBIGUOUS_KEY_CODES = frozenset({"KMSKeyNotAccessibleFault"})


def _says_not_why(problem: StepError, source: SnapshotInfo) -> bool:
    """Whether ``problem``, of a copy of ``source``, may be a key's fault without telling a key
    refused from one disabled or pending deletion: RDS's ``KMSKeyNotAccessibleFault``, an EBS
    copy that failed with "Given key ID is not accessible", or an RDS/Aurora copy that failed
    (RDS says why only in its events; an unusable key is the cause the command can check)."""
    return (
        problem.code in _AMBIGUOUS_KEY_CODES
        or _EBS_KEY_FAILURE in problem.reason
        or (problem.code == COPY_FAILED and source.ref.kind != "EBS")
    )


def _about_keys(problem: StepError, source: SnapshotInfo) -> bool:
    """Whether ``problem``, of a copy of ``source``, is (or may be) about its KMS keys: a key
    error (:data:`KEY_CODES`) or one of :func:`_says_not_why`."""
    return problem.code in KEY_CODES or _says_not_why(problem, source)


# What makes a key of each KeyState usable again (KMS developer guide, "Key states of AWS KMS
# keys"); Creating and Updating pass by themselves.
_KEY_STATE_REMEDIES = {
    "Disabled": "enable it (aws kms enable-key)",
    "PendingDeletion": "cancel its deletion (aws kms cancel-key-deletion), then enable it",
    "PendingReplicaDeletion": "cancel its deletion (aws kms cancel-key-deletion), then enable it",
    "PendingImport": "import its key material (kmskit key import-material)",
    "Unavailable": "connect its custom key store (aws kms connect-custom-key-store)",
}


def _key_state_error(
    problem: StepError, clients: ClientFactory, keys: list[str]
) -> KmskitError | None:
    """A conflict (exit 7) naming each of ``keys`` that KMS describes as not Enabled (Disabled,
    PendingDeletion ...), else None (the error stays as it is). Best effort: a key KMS will not
    describe to the caller is left out."""
    states = []
    for key in keys:
        arn = KEY_ARN.match(key)
        if arn is None:  # a key ID or alias: its Region is not known here
            continue
        try:
            metadata = clients("kms", arn.group(1)).describe_key(KeyId=key)["KeyMetadata"]
        except (ClientError, BotoCoreError):
            continue
        state = metadata.get("KeyState", "Enabled")
        if state != "Enabled":
            remedy = _KEY_STATE_REMEDIES.get(state, "wait until it is Enabled")
            states.append(f"{key} is {state}: {remedy}")
    if not states:
        return None
    return ConflictError(
        f"{_without_policy_hint(problem)} ({'; '.join(states)}; then run the command again)"
    )


def _key_error(
    problem: StepError, clients: ClientFactory, kms_key: str, source: SnapshotInfo
) -> KmskitError:
    """The CLI error for a copy of ``source`` refused or failed for its KMS keys
    (:func:`_about_keys`), naming both keys (the source's reads it, --kms-key writes the copy).
    For an error that does not say why (:func:`_says_not_why`) KMS is asked for both keys'
    states first: exit 7 naming a key that is not Enabled (:func:`_key_state_error`). Else exit 7
    or 4 for a key error that says so (:func:`_key_problem`), or the exit of :func:`_fail` (3 for
    a refusal, 7 for a failed copy)."""
    if _says_not_why(problem, source):
        keys = [kms_key, *([source.kms_key_id] if source.kms_key_id else [])]
        state_error = _key_state_error(problem, clients, keys)
        if state_error is not None:
            return state_error
    named = f"--kms-key {kms_key} (encrypts the copy)" + (
        f" and the source's key {source.kms_key_id} (decrypts it)" if source.kms_key_id else ""
    )
    return _key_problem(problem, named) or reworded(
        _fail(problem), f"{problem.reason}; the keys it uses: {named}"
    )


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


def _check_snapshot_argument(text: str) -> SnapshotRef | None:
    """Refuse a SNAPSHOT that cannot name one, before any AWS call; an ARN's snapshot (whose
    Region is the one to read it in), else None."""
    if not text.startswith("arn:"):
        _kinds(text)
        return None
    try:
        return SnapshotRef.from_arn(text)
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


def _say(args: argparse.Namespace, text: str) -> None:
    """A status line on stderr (not with --quiet): stdout holds only the copy's ARN."""
    if not args.quiet:
        print(f"kmskit: {text}", file=sys.stderr, flush=True)


def _kms_key_problem(value: str, to_region: str) -> str | None:
    """Why ``--kms-key`` cannot be taken, or None."""
    key_arn = KEY_ARN.match(value)
    if key_arn is None:
        problem = (
            "'--kms-key' must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID). "
            f"Received: {value!r}"
        )
        if value.startswith("alias/") or ":alias/" in value:
            # EC2 checks the key only once the copy runs: a wrong alias fails it later.
            problem += (
                "; an alias is not taken, look up its key in the destination Region: aws kms "
                f"describe-key --key-id {value.rsplit(':', 1)[-1]} --region {to_region} "
                "--query KeyMetadata.Arn"
            )
        return problem
    if key_arn.group(1) != to_region:
        return f"'--kms-key' must be a key in --to-region {to_region}. Received: {value}"
    return None


def tags_from(pairs: list[str] | None) -> dict[str, str]:
    """``--tag KEY=VALUE`` options as the copy's tags, checked as the replicators check their
    ``copy_tags`` (:func:`kmskit.snapshots.model.copy_tags_problem`); every key once."""
    tags: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"'--tag' must be KEY=VALUE. Received: {pair!r}")
        if key in tags:
            raise UsageError(f"'--tag' names the key {key!r} twice. Received: {pair!r}")
        tags[key] = value
    problem = copy_tags_problem(tags)
    if problem is not None:
        requirement, received = problem
        raise UsageError(f"'--tag' {requirement}. Received: {received!r}")
    return tags


def run_copy(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    named = _check_snapshot_argument(args.snapshot)
    tags = tags_from(args.tag)  # refused before any AWS call
    if args.to_account is not None:
        check_accounts([args.to_account], "--to-account")
    check_regions([args.to_region], "--to-region")
    key_problem = _kms_key_problem(args.kms_key, args.to_region)
    if key_problem is not None:
        raise UsageError(key_problem)
    if named is not None:
        # The ARN names the snapshot's Region: --region may only repeat it.
        if settings.region is not None and settings.region != named.region:
            raise UsageError(
                f"'--region' {settings.region} is not the Region of SNAPSHOT {args.snapshot} "
                f"({named.region}): leave --region out or give {named.region}"
            )
        region = named.region
    else:
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
    if args.to_account == engine.account:
        raise UsageError(
            f"'--to-account' {args.to_account} is this account: leave --to-account out to "
            "copy within it"
        )
    try:
        return _copy(engine, clients, args, region, tags)
    except StepError as problem:
        raise _fail(problem) from problem


def _copy(
    engine: SnapshotEngine,
    clients: ClientFactory,
    args: argparse.Namespace,
    region: str,
    tags: dict[str, str],
) -> int:
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
    if (
        args.to_region == source.ref.region
        and source.ref.account == engine.account
        and not args.to_account
        and not source.ref.automated
        and source.encrypted
        and source.kms_key_id == args.kms_key
    ):
        raise UsageError(
            f"'SNAPSHOT' {source.ref.arn} is already in {args.to_region} and encrypted with "
            f"--kms-key {args.kms_key}: a copy would change nothing (give another "
            "--to-region, --kms-key or a --to-account)"
        )
    role: Role = "staging" if args.to_account else "replica"
    origin = Origin.of(source.ref, source.created)
    if source.ref.account != engine.account:
        role = "received"
        # A staging copy's origin, as the receiver takes it: never one of another account than
        # the owner's, which would tag the copy as that account's backup.
        origin = shared_origin(source) or origin
    try:
        result = engine.copy(
            source.ref,
            region=args.to_region,
            kms_key_arn=args.kms_key,
            role=role,
            origin=origin,
            destination_account=args.to_account,
            extra_tags=tags,
        )
    except DeadLetterError as problem:
        if _about_keys(problem, source):
            raise _key_error(problem, clients, args.kms_key, source) from problem
        raise
    copy = result.info
    if not result.created and copy.kms_key_id and copy.kms_key_id != args.kms_key:
        # The copy key names no KMS key: the copy found is the one to use, but not as asked.
        raise ConflictError(
            f"a copy of {source.ref.arn} in {args.to_region} exists already, {copy.ref.arn}, "
            f"encrypted with {copy.kms_key_id}, not with --kms-key {args.kms_key}: no second "
            "copy is made (use that one, or delete it and run the command again)"
        )
    # stdout: the copy's ARN alone, as soon as it is known (ARN=$(kmskit snapshot copy ...)).
    print(copy.ref.arn, flush=True)
    if result.created:
        _say(args, f"started copy {copy.ref.arn} of {source.ref.arn}")
    else:
        _say(args, f"found existing copy {copy.ref.arn} of {source.ref.arn} (no second copy)")
    if args.wait or args.timeout is not None or args.to_account:
        copy = _wait(engine, clients, source, result, args)
        _say(args, f"copy {copy.ref.arn} is available")
    if args.to_account:
        engine.share(copy.ref, args.to_account)
        _say(
            args,
            f"shared {copy.ref.arn} with {args.to_account}; in that account run: kmskit "
            f"snapshot copy {copy.ref.arn} --region {copy.ref.region} --to-region <Region> "
            "--kms-key <its own key ARN>",
        )
        # Nothing unshares it later (the replicator acts only on its own staging copies).
        _say(
            args,
            f"{copy.ref.arn} stays shared with {args.to_account} until you unshare it; once that "
            f"account has its copy, run: {_unshare_command(copy.ref, args.to_account)}",
        )
    return EXIT_OK


def _unshare_command(ref: SnapshotRef, account: str) -> str:
    """The AWS CLI command that takes ``account``'s permission to copy ``ref`` away."""
    if ref.kind == "EBS":
        return (
            f"aws ec2 modify-snapshot-attribute --region {ref.region} --snapshot-id {ref.id} "
            f"--attribute createVolumePermission --operation-type remove --user-ids {account}"
        )
    if ref.kind == "RDS":
        return (
            f"aws rds modify-db-snapshot-attribute --region {ref.region} "
            f"--db-snapshot-identifier {ref.id} --attribute-name restore "
            f"--values-to-remove {account}"
        )
    return (
        f"aws rds modify-db-cluster-snapshot-attribute --region {ref.region} "
        f"--db-cluster-snapshot-identifier {ref.id} --attribute-name restore "
        f"--values-to-remove {account}"
    )


def _wait(
    engine: SnapshotEngine,
    clients: ClientFactory,
    source: SnapshotInfo,
    result: CopyResult,
    args: argparse.Namespace,
) -> SnapshotInfo:
    """Wait for the copy of ``source`` that ``result`` made or found; the CLI error of a copy
    that failed meanwhile names both keys when it may be theirs (:func:`_key_error`)."""
    copy = result.info
    # What to do after an interruption or a timeout: the copy goes on in AWS either way.
    again = (
        f"the copy {copy.ref.arn} goes on in AWS: run the same command again to find it and "
        + (f"wait for it, then share it with {args.to_account}" if args.to_account else "wait")
    )
    with progress_bar(
        total=100, description=copy.ref.id, unit="%", enabled=False if args.quiet else None
    ) as bar:

        def show(info: SnapshotInfo) -> None:
            bar.update(max(0.0, info.progress - bar.n))

        try:
            return engine.wait(
                copy.ref,
                on_progress=show,
                poll_seconds=args.poll_seconds,
                timeout_seconds=args.timeout,
                seen=not result.created,  # a copy found was seen: not found is final
            )
        except DeadLetterError as problem:
            if _about_keys(problem, source):
                raise _key_error(problem, clients, args.kms_key, source) from problem
            error = _fail(problem)
            if problem.code == COPY_NOT_FOUND:
                error = reworded(error, f"{error}; run the same command again to copy again")
            raise error from problem
        except RetryableError as problem:
            # The engine's timeout has no code; throttling that outlived the retries has one.
            why = (
                ". Try again later"
                if problem.code or args.timeout is None
                else f" after --timeout {args.timeout:g} seconds"
            )
            raise ThrottledError(f"{problem.reason}{why}; {again}") from problem
        except KeyboardInterrupt:
            # Ctrl-C (exit 130) or SIGTERM (143): only the wait stops.
            bar.close()
            print(f"kmskit: stopped waiting; {again}", file=sys.stderr, flush=True)
            raise
