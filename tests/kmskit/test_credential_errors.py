"""Credentials AWS refuses (expired session, unknown key ID, wrong secret) exit 3, as access
denied does, with a hint to refresh them, on a service's own error code as on an unmapped call."""

from __future__ import annotations

from typing import Any

import botocore.client
import pytest
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    LoginRefreshRequired,
    RefreshWithMFAUnsupportedError,
    UnauthorizedSSOTokenError,
)

from kmskit.cli import main
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
