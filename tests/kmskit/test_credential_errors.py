"""Credentials AWS refuses (expired session, unknown key ID, wrong secret) exit 3, as access
denied does, with a hint to refresh them, on a service's own error code as on an unmapped call."""

from __future__ import annotations

import json
import shlex
import sys
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
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_USAGE,
    AccessDeniedError,
    from_client_error,
    from_credentials_loading_error,
)
from tests.kmskit.envelope_support import ALIAS, KmsWorld, one_error_line, probe_clients

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


# --- credentials botocore cannot load: a profile configured wrong, a credential helper failing --


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS configuration of only the profiles a test writes (its ``config`` file), and no
    credentials in the environment. Nothing is sent: each failure comes first."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no request
    return tmp_path / "config"


def _run_with_profile(
    config: Path, profile: str | None, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """``pubkey export`` with ``profile`` (None: the default profile), and its error line."""
    out = config.parent / "public.pem"
    chosen = ["--profile", profile] if profile else []
    code = main(["pubkey", "export", "--key", ALIAS, *chosen, str(out)])
    assert not out.exists()
    return code, one_error_line(capsys)


def _python_process(code: str) -> str:
    """A ``credential_process`` line running ``code`` with this Python."""
    return f"{sys.executable} -c {shlex.quote(code)}"


@pytest.mark.parametrize(
    ("printed", "says"),
    [
        ("Enter your SAML password:", "credential_process output is not JSON (Expecting value"),
        ("[]", "credential_process output is not a JSON object of credentials"),
    ],
)
def test_a_credential_process_printing_no_json_exits_3(
    profiles: Path, capsys: pytest.CaptureFixture[str], printed: str, says: str
) -> None:
    """An expired SAML or vault helper prints a prompt; botocore fails on it with a plain
    json.JSONDecodeError. Before: a traceback and exit 1."""
    process = _python_process(f"print({printed!r})")
    profiles.write_text(f"[profile helper]\nregion = eu-west-1\ncredential_process = {process}\n")
    code, line = _run_with_profile(profiles, "helper", capsys)
    assert code == EXIT_ACCESS_DENIED
    assert line.startswith(f"kmskit: error: {says}")
    assert line.endswith("(refresh or check the AWS credentials)")


def test_a_credential_process_whose_quoting_cannot_be_split_is_bad_usage_naming_the_profile(
    profiles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: exit 3, "credential_process output is not JSON (No closing quotation)", though
    # the helper never ran: the configuration is wrong (here reached through source_profile).
    profiles.write_text(
        '[profile quoted]\nregion = eu-west-1\ncredential_process = /bin/echo "unterminated\n'
        "[profile role]\nregion = eu-west-1\nsource_profile = quoted\n"
        "role_arn = arn:aws:iam::123456789012:role/Reader\n"
    )
    for profile in ("quoted", "role"):
        code, line = _run_with_profile(profiles, profile, capsys)
        assert code == EXIT_USAGE
        assert line == (
            "kmskit: error: the credential_process of the AWS profile 'quoted' is not a command "
            "line that can be split into its arguments (No closing quotation): fix its quoting "
            "in the AWS config file, or choose another profile with --profile or AWS_PROFILE"
        )


def test_credential_process_output_that_is_json_but_unusable_is_not_called_not_json(
    profiles: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: "credential_process output is not JSON (Unknown string format: not-a-date)".
    printed = {
        "Version": 1,
        "AccessKeyId": "AKIAEXAMPLE",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
        "Expiration": "not-a-date",
    }
    process = _python_process(f"print({json.dumps(printed)!r})")
    profiles.write_text(f"[profile helper]\nregion = eu-west-1\ncredential_process = {process}\n")
    code, line = _run_with_profile(profiles, "helper", capsys)
    assert code == EXIT_ACCESS_DENIED
    assert line == (
        "kmskit: error: credential_process output could not be used (Unknown string format: "
        'not-a-date): it must print {"Version": 1, "AccessKeyId": ..., "Expiration": '
        '"<ISO 8601 time>"} (refresh or check the AWS credentials)'
    )


def test_an_unreadable_container_authorization_token_file_exits_3_naming_the_variable(
    profiles: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: exit 4, "could not use '.../token'", read as a file of the command's not found.
    token = tmp_path / "missing" / "token"
    profiles.write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token))
    code, line = _run_with_profile(profiles, None, capsys)
    assert code == EXIT_ACCESS_DENIED
    assert line == (
        f"kmskit: error: could not read '{token}', the container credentials' authorization "
        "token file (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE; EKS Pod Identity, ECS): No such "
        "file or directory (refresh or check the AWS credentials)"
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("AWS_CA_BUNDLE", " ", "Invalid CA bundle: the configured value"),
        (
            "AWS_ACCOUNT_ID_ENDPOINT_MODE",
            "bogus",
            "The configured value 'bogus' for 'account_id_endpoint_mode' is invalid",
        ),
        (
            "AWS_REQUEST_MIN_COMPRESSION_SIZE_BYTES",
            "abc",
            'Invalid value "abc" for request_min_compression_size_bytes',
        ),
    ],
)
def test_a_setting_not_of_the_credentials_that_is_not_valid_is_not_called_a_credentials_one(
    variable: str,
    value: str,
    says: str,
    profiles: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: "the AWS credentials are not configured right: ... Fix the AWS profile ...".
    profiles.write_text(
        "[default]\nregion = eu-west-1\naws_access_key_id = AKIAEXAMPLE\n"
        "aws_secret_access_key = secret\n"
    )
    monkeypatch.setenv(variable, value)
    code, line = _run_with_profile(profiles, None, capsys)
    assert code == EXIT_USAGE
    assert line.startswith(f"kmskit: error: the AWS configuration is not valid: {says}")
    assert line.endswith(". Fix the AWS_* environment variables or the profile's settings")


def test_a_credential_process_that_cannot_run_exits_3_naming_it(
    profiles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: exit 4, "could not use '.../helper'", as if a file of the command were missing.
    helper = tmp_path / "no-such-helper"
    profiles.write_text(f"[profile helper]\nregion = eu-west-1\ncredential_process = {helper}\n")
    code, line = _run_with_profile(profiles, "helper", capsys)
    assert code == EXIT_ACCESS_DENIED
    assert line == (
        f"kmskit: error: could not run '{helper}', the profile's credential_process: No such "
        "file or directory (refresh or check the AWS credentials)"
    )


@pytest.mark.parametrize("how", ["profile", "environment"])
def test_a_missing_web_identity_token_file_exits_3_naming_the_setting(
    profiles: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    # Before: exit 4, "could not use '.../token': No such file or directory", read as a key or
    # file of the command's not found.
    token = tmp_path / "missing" / "token"
    role = "role_arn = arn:aws:iam::123456789012:role/Reader\n"
    if how == "profile":
        profiles.write_text(
            f"[profile web]\nregion = eu-west-1\n{role}web_identity_token_file = {token}\n"
        )
        setting = "web_identity_token_file of the profile"
    else:
        # botocore reads these variables for the default profile only (no --profile).
        profiles.write_text("[default]\nregion = eu-west-1\n")
        monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/Reader")
        monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
        setting = "AWS_WEB_IDENTITY_TOKEN_FILE"
    code, line = _run_with_profile(profiles, "web" if how == "profile" else None, capsys)
    assert code == EXIT_ACCESS_DENIED
    assert line == (
        f"kmskit: error: could not read '{token}', the web identity token file ({setting}): "
        "No such file or directory (refresh or check the AWS credentials)"
    )


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        (
            "[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/Reader\n",
            "Partial credentials found in assume-role, missing: source_profile or "
            "credential_source",
        ),
        (
            "[profile broken]\nrole_arn = arn:aws:iam::123456789012:role/Reader\n"
            "source_profile = ghost\n",
            'The source_profile "ghost" referenced in the profile "broken" does not exist',
        ),
        (
            "[profile broken]\naws_access_key_id = AKIAEXAMPLE\n",
            "Partial credentials found in config-file, missing: aws_secret_access_key",
        ),
    ],
    ids=["role without source", "source_profile missing", "key ID without secret"],
)
def test_a_profile_configured_wrong_is_bad_usage_naming_it(
    profiles: Path, capsys: pytest.CaptureFixture[str], profile: str, says: str
) -> None:
    # Before: exit 1 (botocore's InvalidConfigError / PartialCredentialsError, unmapped).
    profiles.write_text(f"{profile}region = eu-west-1\n")
    code, line = _run_with_profile(profiles, "broken", capsys)
    assert code == EXIT_USAGE
    assert line == (
        f"kmskit: error: the AWS credentials are not configured right: {says}. Fix the AWS "
        "profile 'broken' (AWS config and credentials files), or choose another with "
        "--profile or AWS_PROFILE"
    )


def test_a_key_id_without_its_secret_in_the_environment_names_the_variables(
    profiles: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles.write_text("[default]\nregion = eu-west-1\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    code, line = _run_with_profile(profiles, None, capsys)
    assert code == EXIT_USAGE
    assert line == (
        "kmskit: error: the AWS credentials are not configured right: Partial credentials "
        "found in env, missing: AWS_SECRET_ACCESS_KEY. Fix the AWS_* environment variables"
    )


def test_other_errors_are_not_taken_for_the_credentials(tmp_path: Path) -> None:
    """Only what botocore's credential providers raised is theirs: the same errors raised
    elsewhere (a bug, a file of the command's own) are left as they are."""
    with pytest.raises(json.JSONDecodeError, match="Expecting value") as not_json:
        json.loads("Enter your SAML password:")
    assert from_credentials_loading_error(not_json.value) is None
    with pytest.raises(FileNotFoundError, match="No such file") as missing:
        (tmp_path / "token").read_text()
    assert from_credentials_loading_error(missing.value) is None
