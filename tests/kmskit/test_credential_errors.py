"""Credentials AWS refuses (expired session, unknown key ID, wrong secret) exit 3, as access
denied does, with a hint to refresh them, on a service's own error code as on an unmapped call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.client
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    LoginRefreshRequired,
    RefreshWithMFAUnsupportedError,
    UnauthorizedSSOTokenError,
)
from botocore.retries.standard import ExponentialBackoff

from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.envelope import Envelope
from kmskit.errors import EXIT_ACCESS_DENIED, AccessDeniedError, from_client_error
from tests.kmskit.envelope_support import ALIAS, KmsWorld, probe_clients

CONTEXT = {"purpose": "credentials"}


@pytest.mark.parametrize(
    "code", ["ExpiredTokenException", "UnrecognizedClientException", "InvalidSignatureException"]
)
def test_refused_credentials_are_access_denied(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    probe = probe_clients(monkeypatch)
    probe.fail("GenerateDataKey", code, "The security token included in the request is invalid")
    with pytest.raises(AccessDeniedError) as caught:
        Envelope([ALIAS]).encrypt(b"data", CONTEXT)
    assert caught.value.exit_code == EXIT_ACCESS_DENIED
    assert code in str(caught.value)
    assert "refresh or check the AWS credentials" in str(caught.value)


def test_cli_expired_token_exits_3_in_one_line(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    probe_clients(monkeypatch).fail(
        "GetPublicKey",
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )
    assert main(["pubkey", "export", "--key", ALIAS]) == EXIT_ACCESS_DENIED
    err = capsys.readouterr().err
    assert err.startswith("kmskit: error: ")
    assert "ExpiredTokenException" in err
    assert "refresh or check the AWS credentials" in err
    assert err.count("\n") == 1


def test_not_authorized_is_access_denied_without_the_credentials_hint() -> None:
    # AWS's common error NotAuthorized is "You do not have permission to perform this action":
    # the credentials were accepted, so refreshing them is no advice.
    error = ClientError(
        {"Error": {"Code": "NotAuthorized", "Message": "You do not have permission"}}, "Decrypt"
    )
    mapped = from_client_error(error, "decrypt")
    assert isinstance(mapped, AccessDeniedError)
    assert "refresh or check the AWS credentials" not in str(mapped)


@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (UnauthorizedSSOTokenError(), "run aws sso login"),
        (
            CredentialRetrievalError(provider="custom-process", error_msg="exit status 1"),
            "custom-process",
        ),
        # An `aws login` session to renew; a profile's role assumed with MFA, which botocore
        # cannot renew without a new code.
        (LoginRefreshRequired(), "aws login"),
        (RefreshWithMFAUnsupportedError(), "MFA token required"),
    ],
)
def test_credentials_that_cannot_be_used_exit_3_in_one_line(
    world: KmsWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: Exception,
    says: str,
) -> None:
    # An expired SSO session or a failing credential_process is found by botocore before any
    # request: the credentials exist but cannot be used, as with an expired token (exit 3).
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    assert main(["pubkey", "export", "--key", ALIAS]) == EXIT_ACCESS_DENIED
    err = capsys.readouterr().err
    assert err.startswith("kmskit: error: ")
    assert says in err
    assert "refresh or check the AWS credentials" in err
    assert err.count("\n") == 1


_THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
    b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@pytest.mark.parametrize("attempts", [2, 5])
def test_max_attempts_reach_the_profiles_assume_role_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attempts: int
) -> None:
    """botocore's credential provider makes the STS client of a profile's role from the
    session's configuration. Before: it kept botocore's 3 attempts whatever --max-attempts
    said, while a throttled AssumeRole was told to raise --max-attempts."""
    config = tmp_path / "config"
    config.write_text(
        "[profile source]\nregion = eu-west-1\n"
        "[profile reader]\nregion = eu-west-1\n"
        "role_arn = arn:aws:iam::123456789012:role/Reader\nsource_profile = source\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text("[source]\naws_access_key_id = AKID\naws_secret_access_key = secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda *_: 0)  # no waiting
    sent: list[str] = []

    def throttled(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return AWSResponse(request.url, 400, {}, _Body(_THROTTLED))

    settings = ClientSettings(profile="reader", max_attempts=attempts)
    settings.session()._session.register("before-send", throttled)
    with pytest.raises(ClientError, match="Throttling"):
        settings.client("kms").list_keys()
    assert len(sent) == attempts
    assert all("sts." in url for url in sent)
