"""The ``kmskit`` command line (also ``python -m kmskit``).

Each module in :mod:`kmskit.commands` adds its subcommands through ``register(subparsers,
common)``; ``common`` is a parent parser with the options every command shares. A command's
handler returns an exit code; a :class:`~kmskit.errors.KmskitError` becomes a one-line message on
stderr and its exit code (see :mod:`kmskit.errors`), and so does a file error (``OSError``, mapped
by :func:`kmskit.errors.from_os_error`) or an AWS error the command did not map (``ClientError``,
mapped by :func:`kmskit.errors.from_client_error`). When the reader of stdout goes away
(``| head``) the command stops without a message and exits 141.

The command line is an application, so it, not the library, decides where other libraries'
log records go: :func:`main` sends the AWS Encryption SDK's nowhere (:data:`SDK_LOG_SINK`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import logging
import os
import pkgutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn, TextIO, cast

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)
from botocore.parsers import ResponseParserError

from kmskit import __version__, commands
from kmskit._io import check_output, existing_output, standard_output
from kmskit._text import is_utf8
from kmskit.audit import key_reference_region
from kmskit.aws_names import check_regions, opt_in_hint
from kmskit.clients import (
    CLOCK_HINT,
    DEFAULT_MAX_ATTEMPTS,
    RETRY_MODES,
    CallerCredentialsFailedError,
    ClientSettings,
)
from kmskit.envelope import configured_region, key_for_decrypt_in
from kmskit.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    AccessDeniedError,
    CredentialsRefusedError,
    KmskitError,
    Terminated,
    UsageError,
    expired_on_renewal_text,
    from_botocore_error,
    from_client_error,
    from_credentials_loading_error,
    from_os_error,
    is_expired_on_renewal,
)


def common_options(*, repeatable_region: bool = False) -> argparse.ArgumentParser:
    """Options shared by every subcommand. ``repeatable_region`` (default False): ``--region``
    may be given more than once, into ``regions`` (a list, None when not given), for a command
    that reads several Regions; ``region`` is then None (the session's Region)."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("AWS")
    if repeatable_region:
        group.add_argument(
            "--region",
            dest="regions",
            action="append",
            metavar="REGION",
            help="AWS Region; repeat it for several (default: AWS_DEFAULT_REGION or the "
            "profile's region)",
        )
        parser.set_defaults(region=None)
    else:
        group.add_argument(
            "--region",
            action=_GivenOnce,
            help="AWS Region (default: AWS_DEFAULT_REGION or the profile's region)",
        )
    group.add_argument("--profile", help="AWS profile (default: boto3's configuration)")
    group.add_argument(
        "--max-attempts",
        type=int,
        default=None,
        metavar="N",
        help="attempts per AWS call, retries included (default: KMSKIT_MAX_ATTEMPTS, else "
        f"AWS_MAX_ATTEMPTS or the profile's max_attempts, else {DEFAULT_MAX_ATTEMPTS}); "
        "RotateKeyOnDemand, ScheduleKeyDeletion and CopySnapshot are sent again only when "
        "throttled or never sent",
    )
    group.add_argument(
        "--retry-mode",
        choices=RETRY_MODES,
        default=None,
        help="botocore retry mode (default: AWS_RETRY_MODE, else the profile's retry_mode, "
        "else standard)",
    )
    _add_quiet_option(parser)
    return parser


def local_options() -> argparse.ArgumentParser:
    """The options of a command that makes no AWS call (``cost``): ``-q`` only, none of
    :func:`common_options`' AWS options, which it would accept and ignore."""
    parser = argparse.ArgumentParser(add_help=False)
    _add_quiet_option(parser)
    return parser


def _add_quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars and no 'kmskit: ...' summary line on stderr (errors and "
        "warnings, such as a skipped file, are still reported)",
    )


class _GivenOnce(argparse.Action):
    """An option a command takes once (``--region`` of a command that works in one Region):
    given again, it is refused naming both values, where argparse's own ``store`` would keep
    the last one silently."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        given = getattr(namespace, self.dest, None)
        if given is not None:
            raise argparse.ArgumentError(
                self,
                f"given twice ({given!r}, then {values!r}): this command works in one Region; "
                "give it once",
            )
        setattr(namespace, self.dest, values)


def add_force_option(parser: argparse.ArgumentParser, argument: str = "OUTPUT") -> None:
    """``--force``: a command that writes the file ``argument`` refuses an existing one (see
    :func:`check_new_output`) unless it is given."""
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"replace {argument} if it exists (default: an existing file is refused, exit 2; "
        "stdout '-', devices and FIFOs are written to as always)",
    )


def check_new_output(path: str, argument: str, *, force: bool) -> None:
    """:func:`~kmskit._io.check_output`, and unless ``force``, refuse a ``path`` that exists
    (see :func:`~kmskit._io.existing_output`): run it before any AWS call, and write with
    ``atomic_output(path, exclusive=not force)``, which also refuses a file that appears
    meanwhile instead of replacing it."""
    check_output(path, argument)
    if not force and existing_output(path):
        raise UsageError(f"'{argument}' ('{path}') exists: give --force to replace it")


def settings_from_args(args: argparse.Namespace) -> ClientSettings:
    """Client settings from the common options."""
    check_region(args)
    if args.max_attempts is not None and args.max_attempts < 1:
        raise UsageError(f"'--max-attempts' must be at least 1. Received: {args.max_attempts}")
    return ClientSettings(
        region=args.region,
        profile=args.profile,
        max_attempts=args.max_attempts,
        retry_mode=args.retry_mode,
    )


def settings_for_key(
    args: argparse.Namespace,
    argument: str = "--key",
    *,
    reference: str | None = None,
    replica_in_region: bool = False,
) -> ClientSettings:
    """:func:`settings_from_args` for a command that calls KMS for one key: ``reference``
    (default None: ``args.key``, itself None when not given), given as ``argument`` (default
    ``--key``). A key ARN or alias ARN names the Region KMS is called in
    (:func:`~kmskit.audit.key_reference_region`, as envelope encryption does), so the clients are
    made there, whatever the profile's Region (also when none is configured); that Region must
    be a Region name (:class:`~kmskit.errors.UsageError` naming ``argument`` otherwise). A
    ``--region`` that names another Region is refused (:class:`~kmskit.errors.UsageError`),
    before any AWS call: KMS there would not know the key (or the alias). A multi-Region key's
    ARN (``mrk-``) is refused so too, naming its related key in ``--region`` to give instead
    (the key ARN names one key; a command does not act on another), unless
    ``replica_in_region`` (default False: a data key's document, decrypted by any of them):
    the clients are then made in ``--region`` (without it, in the profile's Region, if one is
    configured), where the caller names the related key
    (:func:`~kmskit.envelope.key_for_decrypt_in`)."""
    settings = settings_from_args(args)
    key = reference if reference is not None else getattr(args, "key", None)
    region = key_reference_region(key) if isinstance(key, str) else None
    if region is None or region == settings.region:
        return settings
    check_regions([region], argument)
    # The Region asked for: --region, or for a multi-Region key's document the profile's (a
    # replica's, after the primary's Region failed), where its related key decrypts.
    asked = settings.region or (configured_region(settings) if replica_in_region else None)
    related = key_for_decrypt_in(key, asked) if asked and isinstance(key, str) else key
    if replica_in_region and related != key:
        return settings
    if settings.region is None:
        return dataclasses.replace(settings, region=region)
    replica = f": name the replica there if it has one: {related}" if related != key else ""
    raise UsageError(
        f"'--region' must be the Region of '{argument}' ({region}), or be left out: KMS is "
        f"called in the key's Region{replica}. Received: --region {settings.region!r} and "
        f"{argument} {key!r}"
    )


def check_region(args: argparse.Namespace) -> None:
    """Raise unless each ``--region`` given is a Region name: botocore would otherwise fail
    with its own message (exit 1) on the first call."""
    region = getattr(args, "region", None)
    regions = [*([region] if region is not None else []), *(getattr(args, "regions", None) or [])]
    check_regions(regions, "--region")


FILE_ARGUMENTS: frozenset[str] = frozenset(
    {"input", "output", "signature", "public_key", "material", "save_material", "assembly"}
    | {"location"}  # audit's local folder; put/get's s3:// location checks itself
)
"""Arguments (by ``dest``) that name files: every other argument must be UTF-8 text, while a
file name may hold any bytes but NUL on POSIX (Python hands them over as lone surrogates)."""

EMPTY_ALLOWED: frozenset[str] = frozenset()
"""Options (by ``dest``) that may be given the empty string; none does today. Every other
option's empty (or blank) value is bad usage: it is how an unset shell variable
(``--expires "$EXP"``) arrives, and treating it as "not given" silently drops the option."""


class _Parser(argparse.ArgumentParser):
    """No abbreviated options, in any subcommand (subparsers take their parent's class): a
    script's ``--contex`` would otherwise work until an option such as ``--context-file`` made
    it ambiguous, and the flags scripts use are meant not to change.

    Usage errors are :class:`~kmskit.errors.UsageError` (one line, exit 2). An option given
    an empty or blank value (``--expires ""``) is refused with a
    :class:`~kmskit.errors.UsageError` naming the option (see :data:`EMPTY_ALLOWED`), and so is
    an argument holding bytes that are not UTF-8, unless it names a file
    (:data:`FILE_ARGUMENTS`): such a key ID, encryption context or Region would otherwise reach
    AWS (or fail with a traceback on the way)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """argparse's own usage errors (a missing or unknown argument, an invalid choice) as
        one line, like every other error (:func:`main` reports it), pointing at the help
        instead of printing the usage."""
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        if action.nargs == argparse.PARSER:  # the subcommand's own parser checks the rest
            return super()._get_values(action, arg_strings)
        name = (
            max(action.option_strings, key=len)
            if action.option_strings
            else str(action.metavar or action.dest.upper())
        )
        for value in arg_strings:
            if action.option_strings and action.dest not in EMPTY_ALLOWED and not value.strip():
                raise UsageError(f"'{name}' must not be empty. Received: {value!r}")
            if action.dest not in FILE_ARGUMENTS and not is_utf8(value):
                raise UsageError(
                    f"'{name}' must be UTF-8 text (the argument holds bytes that are not "
                    f"UTF-8). Received: {value!r}"
                )
        return super()._get_values(action, arg_strings)


class _CommandParser(_Parser):
    """The ``kmskit`` parser itself: an unknown option before the command (``kmskit
    --versio``) is named as unrecognized, where argparse would first say that the command is
    missing (the subcommand is optional to argparse for that, and required here). An option
    of the commands given first (``kmskit --region us-east-1 encrypt-small ...``) is refused
    saying where it goes, where argparse would take its value for the command (``invalid
    choice: 'us-east-1'``)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        given = list(sys.argv[1:] if args is None else args)
        option = given[0].split("=", 1)[0] if given else ""
        if option not in self._option_string_actions and option in _command_options(self):
            self.error(f"'{option}' goes after the command: kmskit COMMAND {option} ...")
        parsed, extras = super().parse_known_args(given, namespace)
        if getattr(parsed, "command", None) is None and not extras:
            self.error("the following arguments are required: COMMAND")
        return parsed, extras


def _command_options(parser: argparse.ArgumentParser) -> set[str]:
    """The option strings (``--region``, ``-q``, ...) of every command of ``parser``, at any
    depth (``key rotate``'s too)."""
    options: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                options |= {flag for sub in command._actions for flag in sub.option_strings}
                options |= _command_options(command)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = _CommandParser(
        prog="kmskit",
        description="KMS toolkit: envelope encryption, key-usage audit, snapshot copy, "
        "key material import, key inventory and cost.",
    )
    parser.add_argument("--version", action="version", version=f"kmskit {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=False, parser_class=_Parser
    )
    common = common_options()
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers, common)
    return parser


SDK_LOG_SINK = logging.NullHandler()
"""The handler :func:`main` puts on the ``aws_encryption_sdk`` logger. The SDK logs every KMS
failure with its traceback (``logger.exception``) before it raises it, and puts no handler on
its loggers (botocore puts a ``NullHandler`` on ``botocore``; the SDK does not): with no
logging configured, as in a shell, Python's last-resort handler would print each traceback on
stderr above the one line the command reports the failure with. kmskit, the library, adds no
handler to it (an application importing it decides); the command line, an application, does,
when it runs (one handler, however often :func:`main` is called)."""


def main(argv: Sequence[str] | None = None) -> int:
    logging.getLogger("aws_encryption_sdk").addHandler(SDK_LOG_SINK)
    with _stderr_that_may_go_away():
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
            check_region(args)
        except KmskitError as error:
            report(error)
            return error.exit_code
        return run(args)


class _StderrThatMayGoAway:
    """``sys.stderr`` while :func:`main` runs: written to as it is, until its reader goes away
    (a closed pipe, ``BrokenPipeError``) or when it is closed (``2>&-``, no ``sys.stderr``):
    then messages are dropped and the command goes on, so that its exit code is its own (an
    error's, not 1 from a ``BrokenPipeError`` raised while reporting it; 0, not 141, for a
    success whose summary line could not be written: 141 is for the reader of stdout or of an
    output FIFO only). Without it, ``print(..., file=sys.stderr)`` with no ``sys.stderr``
    would print to stdout, into the command's output."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is not None:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._went_away()
        return len(text)

    def flush(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._went_away()

    def _went_away(self) -> None:
        """Drop what follows; point the descriptor at /dev/null, so that Python's flush of
        stderr at exit (of what the failed write left buffered) does not fail again."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(OSError, ValueError, AttributeError):  # no descriptor
            descriptor = stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, descriptor)
            finally:
                os.close(null)

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        # Everything else (fileno, encoding, ...) is the stream's own.
        return getattr(self._stream, name)


@contextmanager
def _stderr_that_may_go_away() -> Iterator[None]:
    """``sys.stderr`` as :class:`_StderrThatMayGoAway` for the duration of the block."""
    original = sys.stderr
    sys.stderr = cast(TextIO, _StderrThatMayGoAway(original))
    try:
        yield
    finally:
        sys.stderr = original


def run(args: argparse.Namespace) -> int:
    """Run the parsed command's handler: its exit code, or the one of what it raised. A
    closed standard output (``>&-``) is refused before the handler runs for a command that
    prints its report there (``report_on_stdout`` True in its parser's defaults; default
    False): the report would be lost, and a file opened meanwhile would take its place. Any
    other command writes standard output only for an output given as ``-``, which its
    handler refuses so (:func:`~kmskit._io.check_output`), and runs with it closed."""
    try:
        with _sigterm_as_exception():
            if getattr(args, "report_on_stdout", False):
                standard_output()
            code: int = args.handler(args)
            # Buffered output (print) reaches a pipe here, inside the handlers below, not at
            # exit.
            if sys.stdout is not None:
                sys.stdout.flush()
    except Terminated:
        print("kmskit: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("kmskit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`kmskit ... | head`): stop quietly, like other command-line
        # tools, but not with 0: the output was cut short. Point stdout at /dev/null so that
        # flushing it at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (KmskitError, BotoCoreError, ClientError, OSError, ResponseParserError) as error:
        failure = with_opt_in_hint(as_kmskit_error(error), args)
        report(failure)
        return failure.exit_code
    except (RuntimeError, ValueError, AttributeError, TypeError) as error:
        known = _known_failure(error)
        if known is None:
            raise
        report(known)
        return known.exit_code
    return code


def _known_failure(
    error: RuntimeError | ValueError | AttributeError | TypeError,
) -> KmskitError | None:
    """The message and exit code of a plain Python error botocore raises for the credentials
    (see :func:`_expired_on_renewal`, :func:`~kmskit.errors.from_credentials_loading_error`)
    or for a malformed endpoint URL (:func:`_invalid_endpoint`); None for any other (a bug,
    with its traceback)."""
    if isinstance(error, RuntimeError):
        return _expired_on_renewal(error)
    known = from_credentials_loading_error(error)
    if known is None and isinstance(error, ValueError):
        return _invalid_endpoint(error)
    return known


def _expired_on_renewal(error: RuntimeError) -> KmskitError | None:
    """botocore's plain ``RuntimeError`` for credentials renewed already expired, as exit 3;
    None for any other error (a bug, with its traceback)."""
    if not is_expired_on_renewal(error):
        return None
    return AccessDeniedError(
        "the AWS credentials could not be used (no request was sent): "
        f"{expired_on_renewal_text(error)}. {CLOCK_HINT}"
    )


def with_opt_in_hint(failure: KmskitError, args: argparse.Namespace) -> KmskitError:
    """``failure``, and when AWS refused the credentials (:class:`CredentialsRefusedError`) while
    the command works in an opt-in Region, what to check there (:func:`opt_in_hint`): such a
    refusal reads as expired or unknown credentials, while the cause may be the Region. Not
    twice: a snapshot copy's reason carries it already when the engine's call went to the same
    Regions (:func:`kmskit.snapshots.outcomes.classify`). Not for the caller's credentials
    failing in a run of assumed roles, at a renewal or at a later account's ``AssumeRole``, or
    before any ``AssumeRole`` was sent (:class:`~kmskit.clients.CallerCredentialsFailedError`):
    STS took them there before, or was not asked."""
    if not isinstance(failure, CredentialsRefusedError) or isinstance(
        failure, CallerCredentialsFailedError
    ):
        return failure
    regions = failure.regions if failure.regions is not None else command_regions(args)
    hint = opt_in_hint(regions)
    if hint is None or hint in str(failure):
        return failure
    return CredentialsRefusedError(f"{failure} ({hint})")


def command_regions(args: argparse.Namespace) -> list[str]:
    """The Regions a command calls AWS in, as far as its arguments tell: ``--region`` (or, left
    out, the profile's Region), the Region of each key ARN or alias ARN given as ``--key`` or
    ``KEY`` (KMS is called there), ``--to-region`` and ``--log-region`` (whose CloudTrail public
    keys ``--verify`` reads there)."""
    given = [getattr(args, "region", None), *(getattr(args, "regions", None) or [])]
    regions = [region for region in given if isinstance(region, str)]
    if not regions:
        try:
            configured = ClientSettings(profile=getattr(args, "profile", None)).session()
        except BotoCoreError:  # an unknown profile: no Region to name
            configured = None
        if configured is not None and configured.region_name:
            regions.append(configured.region_name)
    keys = getattr(args, "key", None)
    key_regions = [
        region
        for key in (keys if isinstance(keys, list) else [keys])
        if isinstance(key, str) and (region := key_reference_region(key))
    ]
    to_region = getattr(args, "to_region", None)
    log_regions = getattr(args, "log_region", None)
    return [
        *regions,
        *key_regions,
        *([to_region] if isinstance(to_region, str) else []),
        *(log_regions if isinstance(log_regions, list) else []),
    ]


def _terminating_signals() -> list[int]:
    """SIGTERM, and Windows' SIGBREAK (Ctrl-Break in a console; Windows sends no SIGTERM
    between processes), where the platform has them."""
    names = ("SIGTERM", "SIGBREAK")
    return [number for name in names if (number := getattr(signal, name, None)) is not None]


@contextmanager
def _sigterm_as_exception() -> Iterator[None]:
    """While the command runs (in the main thread), SIGTERM (and on Windows Ctrl-Break, see
    :func:`_terminating_signals`) raises :class:`~kmskit.errors.Terminated` there, so the
    clean-up that Ctrl-C gets runs for ``timeout``, ``kill`` and a stopping container too,
    instead of the process dying with its temporary file left behind. A second signal during
    the clean-up ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    numbers = _terminating_signals()

    def terminate(signum: int, frame: FrameType | None) -> None:
        for number in numbers:
            signal.signal(number, signal.SIG_DFL)
        raise Terminated

    previous = {number: signal.signal(number, terminate) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def report(failure: KmskitError) -> None:
    """``kmskit: error: ...`` on stderr, on one line (AWS's messages may hold line breaks)."""
    print(f"kmskit: error: {one_line(str(failure))}", file=sys.stderr)


def one_line(text: str) -> str:
    """``text`` with its line breaks (and the blanks around them) folded into single spaces."""
    lines = [line.strip() for line in text.splitlines()]
    return " ".join(line for line in lines if line) if len(lines) > 1 else text


_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS")


def _invalid_endpoint(error: ValueError) -> UsageError | None:
    """botocore's ``ValueError('Invalid endpoint: ...')`` (a malformed ``AWS_ENDPOINT_URL``) as
    bad usage naming the variable; None for any other ValueError."""
    text = str(error)
    prefix = "Invalid endpoint: "
    if not text.startswith(prefix):
        return None
    url = text[len(prefix) :]
    names = [
        name for name in (*_ENDPOINT_VARIABLES, "AWS_ENDPOINT_URL") if os.environ.get(name) == url
    ]
    where = (
        f"'{names[0]}'"
        if names
        else "'AWS_ENDPOINT_URL' (or AWS_ENDPOINT_URL_<SERVICE>, or endpoint_url in the profile)"
    )
    return UsageError(
        f"{where} must be a URL such as https://kms.eu-west-1.amazonaws.com. Received: {url!r}"
    )


def as_kmskit_error(
    error: KmskitError | BotoCoreError | ClientError | OSError | ResponseParserError,
) -> KmskitError:
    """The message and exit code for what a handler raised."""
    if isinstance(error, KmskitError):
        return error
    if isinstance(error, ResponseParserError):
        # Not an AWS reply (e.g. a proxy's HTML error page): say so, with the start of it.
        text = one_line(str(error))
        shown = text if len(text) <= 300 else text[:300] + "..."
        return KmskitError(
            f"could not read the response to an AWS call (not a response AWS sends; a proxy or "
            f"the endpoint in AWS_ENDPOINT_URL?): {shown}"
        )
    if isinstance(error, ClientError):
        # An AWS error no command mapped (e.g. expired credentials on its first call).
        return from_client_error(error, f"call {error.operation_name}")
    if isinstance(error, OSError):
        credentials = from_credentials_loading_error(error)
        if credentials is not None:  # a web_identity_token_file, a credential_process
            return credentials
        # A file error no command turned into a KmskitError: name the file, no traceback.
        where = f"'{error.filename}'" if error.filename is not None else "a file"
        return from_os_error(error, f"use {where}")
    return from_botocore_error(error)
