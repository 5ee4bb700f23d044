"""Throttling and access errors: every KMS client retries in botocore's standard (or adaptive)
mode with the configured attempts; when the retries run out the user gets ThrottledError (exit
6). Errors are injected into the real botocore clients (before moto sees the request), so the
retries really happen; a Stubber-injected ThrottlingException is covered too."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from kmskit.cli import SDK_LOG_SINK, main
from kmskit.clients import ClientSettings
from kmskit.envelope import Envelope
from kmskit.envelope_kms import new_data_key
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_THROTTLED,
    AccessDeniedError,
    ThrottledError,
    WrongContextError,
    from_client_error,
    reworded,
)
from tests.kmskit.envelope_support import ALIAS, KmsWorld, probe_clients

CONTEXT = {"purpose": "retries"}


@pytest.mark.parametrize(
    ("mode", "attempts"), [("standard", 1), ("standard", 3), ("standard", 5), ("adaptive", 3)]
)
def test_throttling_is_retried_then_reported(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, mode: Any, attempts: int
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail("GenerateDataKey", "ThrottlingException", "Rate exceeded")
    envelope = Envelope([ALIAS], settings=ClientSettings(max_attempts=attempts, retry_mode=mode))
    with pytest.raises(ThrottledError) as caught:
        envelope.encrypt(b"data", CONTEXT)
    assert probe.attempts["GenerateDataKey"] == attempts
    assert probe.calls["GenerateDataKey"] == 1
    message = str(caught.value)
    assert message.startswith("could not generate a data key: ThrottlingException: Rate exceeded")
    assert f"(after {attempts - 1} retries)" in message
    assert "Raise --max-attempts, use --retry-mode adaptive" in message
    assert caught.value.exit_code == EXIT_THROTTLED


@pytest.mark.parametrize(
    ("operation", "code", "advice"),
    [
        ("GenerateDataKey", "ThrottlingException", "ask for a higher KMS request quota"),
        # The profile's own role, assumed by botocore's credential provider.
        ("AssumeRole", "Throttling", "ask for a higher STS request quota"),
        ("CopySnapshot", "RequestLimitExceeded", "ask for a higher EC2 API request quota"),
        ("CopyDBClusterSnapshot", "ThrottlingException", "ask for a higher RDS request quota"),
        ("UploadPart", "SlowDown", "spread the requests over more key prefixes"),
        (
            "NoSuchOperation",
            "ThrottlingException",
            "ask for a higher request quota for NoSuchOperation",
        ),
    ],
)
def test_throttling_advice_names_the_quota_of_the_throttled_service(
    operation: str, code: str, advice: str
) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "slow down"}}, operation)
    message = str(from_client_error(error, "do it"))
    assert f"Raise --max-attempts, use --retry-mode adaptive, or {advice}" in message
    assert ("KMS" in message) == (operation == "GenerateDataKey")


def test_throttling_that_stops_within_the_attempts_is_invisible(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail("GenerateDataKey", "ThrottlingException", times=2)
    probe.fail("Decrypt", "ThrottlingException", times=2)
    settings = ClientSettings(max_attempts=3)
    message = Envelope([ALIAS], settings=settings).encrypt(b"data", CONTEXT)
    assert Envelope(settings=settings).decrypt(message, CONTEXT) == b"data"
    assert probe.attempts["GenerateDataKey"] == 3
    assert probe.attempts["Decrypt"] == 3


def test_default_attempts_come_from_client_settings(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KMSKIT_MAX_ATTEMPTS", "4")
    probe = probe_clients(monkeypatch)
    probe.fail("GenerateDataKey", "ThrottlingException")
    with pytest.raises(ThrottledError, match=r"after 3 retries"):
        Envelope([ALIAS]).encrypt(b"data", CONTEXT)
    assert probe.attempts["GenerateDataKey"] == 4


def test_throttled_decrypt_is_reported_with_the_message_keys(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = Envelope([ALIAS]).encrypt(b"data", CONTEXT)
    probe = probe_clients(monkeypatch)
    probe.fail("Decrypt", "ThrottlingException", "Rate exceeded")
    with pytest.raises(
        ThrottledError, match=f"could not decrypt the data key \\(message keys: {world.arn}\\)"
    ):
        Envelope(settings=ClientSettings(max_attempts=2)).decrypt(message)
    assert probe.attempts["Decrypt"] == 2


def test_stubbed_throttling_exception(world: KmsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    stubbers: list[Stubber] = []
    original = ClientSettings.client

    def stubbed(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        client = original(self, service, **kwargs)
        stubber = Stubber(client)
        stubber.add_client_error(
            "generate_data_key",
            service_error_code="ThrottlingException",
            service_message="You have exceeded the rate at which you may call KMS.",
            http_status_code=400,
        )
        stubber.activate()
        stubbers.append(stubber)
        return client

    monkeypatch.setattr(ClientSettings, "client", stubbed)
    with pytest.raises(
        ThrottledError, match="You have exceeded the rate at which you may call KMS"
    ):
        new_data_key(ALIAS, CONTEXT)
    with pytest.raises(ThrottledError, match="could not generate a data key"):
        Envelope([ALIAS]).encrypt(b"x", CONTEXT)
    for stubber in stubbers:
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("operation", ["GenerateDataKey", "Decrypt"])
def test_access_denied_is_exit_3(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, operation: str
) -> None:
    message = Envelope([ALIAS]).encrypt(b"data", CONTEXT)
    probe = probe_clients(monkeypatch)
    denial = (
        f"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: kms:{operation}"
    )
    probe.fail(operation, "AccessDeniedException", denial)

    def call() -> bytes:
        if operation == "Decrypt":
            return Envelope().decrypt(message)
        return Envelope([ALIAS]).encrypt(b"data", CONTEXT)

    with pytest.raises(AccessDeniedError, match="is not authorized to perform") as caught:
        call()
    assert caught.value.exit_code == EXIT_ACCESS_DENIED
    assert probe.attempts[operation] == 1  # access denied is not retried


def test_cli_throttled_encrypt_exits_6_and_leaves_no_file(
    world: KmsWorld,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail("GenerateDataKey", "ThrottlingException", "Rate exceeded")
    source = tmp_path / "in.txt"
    source.write_bytes(b"hello")
    target = tmp_path / "out.enc"
    argv = [
        "encrypt",
        "--key",
        ALIAS,
        "--context",
        "a=b",
        "--max-attempts",
        "2",
        "--retry-mode",
        "adaptive",
    ]
    assert main([*argv, str(source), str(target)]) == EXIT_THROTTLED
    assert probe.attempts["GenerateDataKey"] == 2
    err = capsys.readouterr().err
    assert err.startswith("kmskit: error: could not generate a data key: ThrottlingException")
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_the_command_line_reports_a_kms_failure_itself_not_the_sdks_traceback(
    world: KmsWorld,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # With no logging configured (as in a shell: pytest's handlers taken off the root logger,
    # and none on the SDK's logger, as after `import kmskit`), the Encryption SDK's record of a
    # KMS failure, its traceback with it, reaches Python's last-resort handler, which prints it
    # on stderr: the SDK puts no handler on its loggers. The command line sends it nowhere, so
    # its own line is all stderr shows.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    sdk = logging.getLogger("aws_encryption_sdk")
    monkeypatch.setattr(sdk, "handlers", [])
    last_resort: list[logging.LogRecord] = []
    recorder = logging.Handler(logging.WARNING)
    recorder.emit = last_resort.append  # type: ignore[method-assign]
    monkeypatch.setattr(logging, "lastResort", recorder)
    probe_clients(monkeypatch).fail("GenerateDataKey", "AccessDeniedException", "not authorized")
    with pytest.raises(AccessDeniedError):  # the library: the application's to configure
        Envelope([ALIAS]).encrypt(b"data", CONTEXT)
    assert [r.name for r in last_resort] == ["aws_encryption_sdk.key_providers.kms"]
    assert last_resort[0].exc_info is not None
    last_resort.clear()
    source = tmp_path / "in.txt"
    source.write_bytes(b"hello")
    argv = ["encrypt", "--key", ALIAS, "--context", "a=b", str(source), str(tmp_path / "out")]
    assert main(argv) == EXIT_ACCESS_DENIED
    assert last_resort == []
    assert sdk.handlers == [SDK_LOG_SINK]
    err = capsys.readouterr().err
    assert err.startswith("kmskit: error: could not generate a data key: AccessDenied")
    assert err.count("\n") == 1, err
    assert main(argv) == EXIT_ACCESS_DENIED
    assert sdk.handlers == [SDK_LOG_SINK]  # once, however often main() runs


def test_cli_throttled_datakey_exits_6(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    probe_clients(monkeypatch).fail("GenerateDataKeyWithoutPlaintext", "ThrottlingException")
    argv = [
        "datakey",
        "new",
        "--for-later",
        "--key",
        ALIAS,
        "--context",
        "a=b",
        "--max-attempts",
        "3",
    ]
    assert main(argv) == EXIT_THROTTLED
    assert "(after 2 retries)" in capsys.readouterr().err


def test_public_key_of_a_symmetric_key_is_a_conflict(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # KMS answers GetPublicKey on a symmetric key with UnsupportedOperationException (the
    # operation's documented errors): a key of the wrong type is exit 7, as the docs promise.
    probe = probe_clients(monkeypatch)
    probe.fail("GetPublicKey", "UnsupportedOperationException", "not an asymmetric KMS key")
    assert main(["pubkey", "export", "--key", ALIAS]) == EXIT_CONFLICT
    assert "UnsupportedOperationException: not an asymmetric KMS key" in capsys.readouterr().err


def test_a_reworded_wrong_context_error_keeps_the_refused_pair() -> None:
    # Before: the copy had key '' and found None, so code explaining the refusal (get's
    # hints) lost it once the error was named further.
    error = WrongContextError("wrong encryption context", key="team", found="payments")
    copy = reworded(error, f"could not decrypt s3://bucket/key: {error}")
    assert isinstance(copy, WrongContextError)
    assert (copy.key, copy.found) == ("team", "payments")
    assert str(copy) == "could not decrypt s3://bucket/key: wrong encryption context"
