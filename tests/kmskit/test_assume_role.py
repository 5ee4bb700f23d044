"""``kmskit.clients.assume_role``: client settings acting as a role of another account, whose
credentials are renewed before they expire, and a refusal told apart from other errors.

moto 5 models STS AssumeRole (each role's account gets a state of its own) but neither refuses
it nor lets credentials expire: :class:`tests.kmskit.conftest.KmsAnswers` answers for it
(requests and answers checked against the STS API model).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    LoginRefreshRequired,
    RefreshWithMFAUnsupportedError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from moto import mock_aws

from kmskit.cli import main
from kmskit.clients import (
    CLOCK_HINT,
    RENEW_CALLER_HINT,
    CallerCredentialsFailedError,
    ClientSettings,
    RenewalCredentialsRefusedError,
    RoleRefusedError,
    assume_role,
)
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_OK,
    AccessDeniedError,
    CredentialsRefusedError,
    ThrottledError,
)
from tests.kmskit.conftest import KmsAnswers, refuse

REGION = "eu-west-1"
ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Reader"


@pytest.fixture
def aws(kms_answers: KmsAnswers) -> Iterator[None]:
    with mock_aws():
        yield


def expiring_in(minutes: int) -> Any:
    def answer(params: dict[str, Any], moto: Any) -> Any:
        found = moto(params)
        found["Credentials"]["Expiration"] = datetime.now(UTC) + timedelta(minutes=minutes)
        return found

    return answer


def refusing(code: str) -> Any:
    """An AssumeRole answer: STS refuses the call with ``code``."""

    def answer(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("AssumeRole", code)

    return answer


def test_the_clients_act_in_the_roles_account_and_the_request_names_the_session(
    aws: None, kms_answers: KmsAnswers
) -> None:
    kms_answers.answers["AssumeRole"] = expiring_in(60)
    with assume_role(
        ClientSettings(region=REGION), ROLE, session_name="kmskit-test", external_id="abc123"
    ) as settings:
        assert settings.client("sts").get_caller_identity()["Account"] == ACCOUNT
        assert settings.client("kms").list_keys()["Keys"] == []
    assert kms_answers.requests["AssumeRole"] == [
        {"RoleArn": ROLE, "RoleSessionName": "kmskit-test", "ExternalId": "abc123"}
    ]


def test_credentials_near_their_expiry_are_renewed_on_their_next_use(
    aws: None, kms_answers: KmsAnswers
) -> None:
    # AssumeRole gives an hour by default: a long run must not fail with ExpiredToken. botocore
    # renews credentials within 10 minutes of their expiry before it signs a request.
    kms_answers.answers["AssumeRole"] = expiring_in(5)
    with assume_role(ClientSettings(region=REGION), ROLE, session_name="kmskit-test") as settings:
        assert len(kms_answers.requests["AssumeRole"]) == 1  # at once, to tell a refusal
        settings.client("kms").list_keys()
        settings.client("kms").list_keys()
    assert len(kms_answers.requests["AssumeRole"]) == 3


def test_credentials_far_from_expiry_are_not_renewed(aws: None, kms_answers: KmsAnswers) -> None:
    kms_answers.answers["AssumeRole"] = expiring_in(60)
    with assume_role(ClientSettings(region=REGION), ROLE, session_name="kmskit-test") as settings:
        settings.client("kms").list_keys()
        settings.client("kms").list_keys()
    assert len(kms_answers.requests["AssumeRole"]) == 1


@pytest.mark.parametrize(
    ("code", "refused"),
    [("AccessDenied", True), ("RegionDisabledException", True), ("ExpiredTokenException", False)],
    ids=["refused", "sts-deactivated-in-the-region", "caller-credentials-expired"],
)
def test_access_denied_is_role_refused_and_refused_credentials_are_not(
    code: str, refused: bool, aws: None, kms_answers: KmsAnswers
) -> None:
    kms_answers.answers["AssumeRole"] = refusing(code)
    with pytest.raises(AccessDeniedError) as raised:
        assume_role(ClientSettings(region=REGION), ROLE, session_name="kmskit-test")
    assert isinstance(raised.value, RoleRefusedError) is refused
    # Not a renewal, nor a later account's: the credentials may never have worked.
    assert not isinstance(raised.value, CallerCredentialsFailedError)
    assert str(raised.value).startswith(f"could not assume role {ROLE}: {code}: refused")


def test_sts_deactivated_in_the_region_says_where_to_activate_it(
    aws: None, kms_answers: KmsAnswers
) -> None:
    # STS answers so when the role's account has deactivated STS in the Region called.
    kms_answers.answers["AssumeRole"] = refusing("RegionDisabledException")
    with pytest.raises(RoleRefusedError) as raised:
        assume_role(
            ClientSettings(region=REGION), ROLE, session_name="kmskit-test", region="eu-south-1"
        )
    assert str(raised.value) == (
        f"could not assume role {ROLE}: RegionDisabledException: refused (activate STS in "
        "eu-south-1 for the role's account: IAM console, Account settings; or assume the role "
        "in another Region)"
    )


def test_the_roles_clients_are_made_with_the_callers_session_configuration(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # What a library caller sets on the session it hands to ClientSettings (its configuration
    # file and profile, so its endpoint; its Region; a default botocore Config; its user agent)
    # shapes the role's clients too; the retry settings are kmskit's. The endpoint is a moto
    # server: only a client that keeps it reaches it (there is no other AWS here).
    config_file = tmp_path / "config"
    config_file.write_text(
        f"[profile team]\nendpoint_url = {moto_endpoint}\n"
        "aws_access_key_id = testing\naws_secret_access_key = testing\n",
        encoding="utf-8",
    )
    caller = botocore.session.Session()
    caller.set_config_variable("config_file", str(config_file))
    caller.set_default_client_config(
        Config(connect_timeout=7, read_timeout=11, tcp_keepalive=True, user_agent_extra="team/1")
    )
    caller.user_agent_extra = "caller-app/2"
    settings = ClientSettings(
        boto3_session=boto3.session.Session(
            botocore_session=caller, profile_name="team", region_name="us-east-2"
        ),
        max_attempts=1,
        retry_mode="adaptive",
    )
    with assume_role(settings, ROLE, session_name="kmskit-test") as assumed:
        kms = assumed.client("kms")
        assert (kms.meta.region_name, kms.meta.endpoint_url) == ("us-east-2", moto_endpoint)
        config = kms.meta.config
        assert (config.connect_timeout, config.read_timeout) == (7, 11)
        assert (config.tcp_keepalive, config.user_agent_extra) == (True, "team/1")
        assert config.retries == {"mode": "adaptive", "total_max_attempts": 1}
        assert "caller-app/2" in config.user_agent  # the session's user agent
        assert assumed.client("sts").get_caller_identity()["Account"] == ACCOUNT
        assert kms.list_keys()["Keys"] == []


@pytest.mark.parametrize(
    "caller",
    [
        lambda: ClientSettings(region=REGION),
        lambda: ClientSettings(boto3_session=boto3.session.Session(region_name=REGION)),
    ],
    ids=["kmskit's session", "boto3_session"],
)
def test_the_roles_s3_clients_work_whichever_session_the_caller_gave(
    aws: None, kms_answers: KmsAnswers, caller: Any
) -> None:
    # boto3 registers its handlers (S3's upload_file, ...) on each botocore session it wraps;
    # registered twice on one (had the role's session copied the caller's handlers, boto3's
    # among them), every S3 client fails ("Cannot inject class attribute"), and with it
    # kmskit.envelope_s3 and kmskit.audit on a role's settings. Also for a role of a role.
    kms_answers.answers["AssumeRole"] = expiring_in(60)
    with (
        assume_role(caller(), ROLE, session_name="kmskit-test") as assumed,
        assume_role(assumed, ROLE, session_name="kmskit-again") as again,
    ):
        for settings in (assumed, again):
            s3 = settings.client("s3")
            assert s3.list_buckets()["Buckets"] == []
            assert callable(s3.upload_file)  # boto3's handlers are there, once
            settings.close()
            assert settings.client("s3").list_buckets()["Buckets"] == []


def refused_renewal(kms_answers: KmsAnswers, code: str = "AccessDenied") -> None:
    """STS gives the role credentials with 5 minutes left (renewed at once, on their first
    use), then refuses the renewal with ``code`` (default: access denied)."""
    answers = iter([expiring_in(5), refusing(code)])

    def answer(params: dict[str, Any], moto: Any) -> Any:
        return next(answers)(params, moto)

    kms_answers.answers["AssumeRole"] = answer


def test_a_refused_renewal_is_raised_by_the_call_that_needed_it_and_logged_as_the_app_says(
    aws: None, kms_answers: KmsAnswers, caplog: pytest.LogCaptureFixture
) -> None:
    # botocore logs the failed renewal with its traceback, to the application's handlers; kmskit
    # adds none of its own to botocore's loggers (it would be there for every import of it).
    refused_renewal(kms_answers)
    settings = assume_role(ClientSettings(region=REGION), ROLE, session_name="kmskit-test")
    with settings, pytest.raises(RoleRefusedError, match=f"could not assume role {ROLE}: Access"):
        settings.client("kms").list_keys()
    assert "Refreshing temporary credentials failed" in caplog.text
    assert logging.getLogger("botocore.credentials").handlers == []


def test_the_command_line_reports_a_refused_renewal_itself_not_botocores_traceback(
    aws: None,
    kms_answers: KmsAnswers,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # With no logging configured (as in a shell: pytest's capture handlers taken off the root
    # logger), the account's ACCOUNT_UNREADABLE warning is the only line on stderr. botocore's
    # own NullHandler on its "botocore" logger keeps its warning from Python's last-resort
    # handler (which would print it, traceback and all): a botocore release without it fails
    # here.
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("botocore").handlers)
    refused_renewal(kms_answers)
    code = main(["key", "inventory", "--region", REGION, "--account", ACCOUNT, "--format", "json"])
    assert code == EXIT_OK
    err = capsys.readouterr().err
    assert err.startswith(f"kmskit: warning: account {ACCOUNT}: could not assume role ")
    assert "AccessDenied: refused: none of its keys is reported" in err
    assert err.count("\n") == 1, err


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidClientTokenId"])
def test_a_renewal_refusing_the_callers_own_credentials_is_told_from_the_calls_credentials(
    code: str, aws: None, kms_answers: KmsAnswers
) -> None:
    # The KMS call that needed the renewal raises it: not KMS refusing the credentials of that
    # call (in an opt-in Region, say) but STS refusing the caller's, which fail every renewal.
    refused_renewal(kms_answers, code)
    settings = assume_role(ClientSettings(region=REGION), ROLE, session_name="kmskit-test")
    with settings, pytest.raises(RenewalCredentialsRefusedError) as raised:
        settings.client("kms").list_keys()
    assert isinstance(raised.value, CredentialsRefusedError)
    assert raised.value.exit_code == EXIT_ACCESS_DENIED
    assert str(raised.value) == (
        f"could not renew the credentials of role {ROLE} of account {ACCOUNT}: STS refused the "
        f"caller's own credentials: {code}: refused. {RENEW_CALLER_HINT}"
    )
    assert "aws sso login" in RENEW_CALLER_HINT


def renewing_caller() -> tuple[ClientSettings, Callable[[BaseException | datetime], None]]:
    """Settings of a caller whose own credentials (an IAM Identity Center session's, say) have
    5 minutes left whenever botocore renews them, so that every use renews them, and
    ``fail(failure)``: from then on every renewal raises ``failure`` as botocore's provider
    raises it, before any request is sent, or (a ``datetime``) hands out credentials that
    expire then (a credential_process handing out stale ones)."""
    failing: list[BaseException | datetime] = []

    def renew() -> dict[str, Any]:
        expiry = datetime.now(UTC) + timedelta(minutes=5)
        if failing and isinstance(failing[0], BaseException):
            raise failing[0]
        if failing and isinstance(failing[0], datetime):
            expiry = failing[0]
        return {
            "access_key": "testing",
            "secret_key": "testing",
            "token": "caller",
            "expiry_time": expiry.isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=renew(), refresh_using=renew, method="test-caller"
    )
    caller = CredentialProvider()
    caller.load = lambda: credentials  # type: ignore[method-assign]
    session = botocore.session.Session()
    session.register_component("credential_provider", CredentialResolver([caller]))
    settings = ClientSettings(region=REGION, boto3_session=boto3.Session(botocore_session=session))
    return settings, failing.append


# What botocore's providers raise, before any request, when they cannot renew the caller's
# credentials (botocore/credentials.py, tokens.py, utils.py), as they raise it.
UNUSABLE = [
    # An sso-session profile whose token expired and could not be refreshed (tokens.py).
    TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed"),
    # A legacy SSO profile's expired token, or GetRoleCredentials refusing it.
    UnauthorizedSSOTokenError(),
    # The token's cache file gone (aws sso logout).
    SSOTokenLoadError(error_msg="Token for corp does not exist"),
    # A credential_process (or a container's credentials endpoint) failing.
    CredentialRetrievalError(provider="custom-process", error_msg="session expired\n"),
    # An aws login session to renew.
    LoginRefreshRequired(),
    # A profile's role assumed with MFA: botocore cannot ask for a code again.
    RefreshWithMFAUnsupportedError(),
]


@pytest.mark.parametrize("failure", UNUSABLE, ids=lambda failure: type(failure).__name__)
def test_the_callers_credentials_failing_before_any_request_at_a_renewal_say_so(
    failure: Exception, aws: None, kms_answers: KmsAnswers
) -> None:
    # The caller's own credentials expire during the run: botocore fails to renew them before
    # it sends the AssumeRole that would renew the role's. The call that needed the role's
    # renewal raises it as the caller's credentials failing at the renewal of this role (its
    # account named), not as botocore's bare error.
    kms_answers.answers["AssumeRole"] = expiring_in(5)
    caller, fail = renewing_caller()
    settings = assume_role(caller, ROLE, session_name="kmskit-test")
    fail(failure)
    with settings, pytest.raises(RenewalCredentialsRefusedError) as raised:
        settings.client("kms").list_keys()
    assert raised.value.exit_code == EXIT_ACCESS_DENIED
    assert raised.value.__cause__ is failure
    said = " ".join(str(failure).split()).rstrip(".")
    assert str(raised.value) == (
        f"could not renew the credentials of role {ROLE} of account {ACCOUNT}: the caller's own "
        f"credentials could not be used (no request was sent): {said}. {RENEW_CALLER_HINT}"
    )


def test_the_callers_credentials_unusable_at_the_first_assume_role_name_the_role(
    aws: None, kms_answers: KmsAnswers
) -> None:
    # The first AssumeRole with credentials that cannot be used (no request sent): the
    # caller's failure (exit 3) naming the role being assumed and its account, not a renewal's,
    # and not botocore's bare error, which says nothing of the role.
    settings, fail = renewing_caller()
    fail(UnauthorizedSSOTokenError())
    with pytest.raises(CallerCredentialsFailedError) as raised:
        assume_role(settings, ROLE, session_name="kmskit-test")
    assert not isinstance(raised.value, RenewalCredentialsRefusedError)
    assert raised.value.exit_code == EXIT_ACCESS_DENIED
    assert str(raised.value) == (
        f"could not assume role {ROLE} of account {ACCOUNT}: the caller's own credentials could "
        "not be used (no request was sent): The SSO session associated with this profile has "
        f"expired or is otherwise invalid. To refresh this SSO session run aws sso login with "
        f"the corresponding profile. {RENEW_CALLER_HINT}"
    )
    assert "AssumeRole" not in kms_answers.requests


def assume_and_use(
    caller: ClientSettings,
    fail: Callable[[BaseException | datetime], None],
    failure: BaseException | datetime,
) -> None:
    """Assume :data:`ROLE` as ``caller`` (STS's answer gives 5 minutes), then ``fail(failure)``
    and list keys as the role: its renewal needs the caller's credentials renewed."""
    with assume_role(caller, ROLE, session_name="kmskit-test") as settings:
        fail(failure)
        settings.client("kms").list_keys()


def failed_as_caller(
    kms_answers: KmsAnswers, failure: BaseException | datetime, *, renewal: bool
) -> tuple[CallerCredentialsFailedError, str]:
    """The caller's renewals fail with ``failure`` (see :func:`renewing_caller`) from the first
    ``AssumeRole`` of :data:`ROLE` on, or (``renewal``) from the renewal of the role's
    credentials (:func:`assume_and_use`): what is raised, once checked to be the caller's
    failure there (exit 3), and how its message starts."""
    kms_answers.answers["AssumeRole"] = expiring_in(5)
    caller, fail = renewing_caller()
    if not renewal:
        fail(failure)
    with pytest.raises(CallerCredentialsFailedError) as raised:
        assume_and_use(caller, fail, failure)
    assert isinstance(raised.value, RenewalCredentialsRefusedError) is renewal
    assert raised.value.exit_code == EXIT_ACCESS_DENIED
    assert len(kms_answers.requests.get("AssumeRole", [])) == int(renewal)
    doing = "renew the credentials of" if renewal else "assume"
    return raised.value, f"could not {doing} role {ROLE} of account {ACCOUNT}: "


EXPIRED = "botocore renewed them and got credentials that had already expired by this machine's"


@pytest.mark.parametrize("renewal", [False, True], ids=["first-assume-role", "renewal"])
def test_the_callers_credentials_renewed_already_expired_are_the_callers_failure(
    renewal: bool, aws: None, kms_answers: KmsAnswers
) -> None:
    # A credential_process (or cache) handing out stale credentials, or a clock set ahead:
    # botocore raises a plain RuntimeError. The caller's failure (exit 3), with what to check.
    stale = datetime.now(UTC) - timedelta(minutes=1)
    failed, start = failed_as_caller(kms_answers, stale, renewal=renewal)
    assert isinstance(failed.__cause__, RuntimeError)
    assert str(failed) == (
        f"{start}the caller's own credentials could not be used (no request was sent): "
        f"{EXPIRED} clock (Credentials were refreshed, but the refreshed credentials are still "
        f"expired). {CLOCK_HINT}"
    )
    assert "clock" in CLOCK_HINT
    assert "credential_process" in CLOCK_HINT


def test_another_runtime_error_of_the_callers_credential_provider_is_not_taken_for_theirs(
    aws: None, kms_answers: KmsAnswers
) -> None:
    # Only botocore's own message is the credentials' failure: a bug elsewhere stays a bug.
    kms_answers.answers["AssumeRole"] = expiring_in(5)
    caller, fail = renewing_caller()
    bug = RuntimeError("Credentials were refreshed, but something else broke.")
    with assume_role(caller, ROLE, session_name="kmskit-test") as settings:
        fail(bug)
        with pytest.raises(RuntimeError) as raised:
            settings.client("kms").list_keys()
    assert raised.value is bug


FORBIDDEN = ClientError(
    {"Error": {"Code": "ForbiddenException", "Message": "No access"}}, "GetRoleCredentials"
)


@pytest.mark.parametrize("renewal", [False, True], ids=["first-assume-role", "renewal"])
def test_identity_center_refusing_the_permission_set_is_the_callers_failure(
    renewal: bool, aws: None, kms_answers: KmsAnswers
) -> None:
    # botocore's SSO provider turns only UnauthorizedException into its own error: the
    # permission set no longer assigned (ForbiddenException) comes out of GetRoleCredentials
    # as a ClientError, raised while the AssumeRole is signed. Not STS's answer (exit 1 as
    # an unknown code), but the caller's failure (exit 3), with what to check.
    failed, start = failed_as_caller(kms_answers, FORBIDDEN, renewal=renewal)
    assert failed.__cause__ is FORBIDDEN
    assert str(failed) == (
        f"{start}IAM Identity Center refused the "
        "caller's own credentials: ForbiddenException: No access. Check that the permission "
        "set of profile default (sso_role_name) is assigned to the caller's user for its "
        "account (sso_account_id) (IAM Identity Center's account assignments; aws sso "
        "list-account-roles lists the user's): ask an administrator to assign it again, or set "
        "sso_account_id and sso_role_name of profile default to an assignment the user has; "
        "then run again"
    )


def test_throttling_of_the_callers_credential_provider_is_not_taken_for_a_failure(
    aws: None, kms_answers: KmsAnswers
) -> None:
    # IAM Identity Center throttling GetRoleCredentials: not the credentials' failure (exit 3,
    # renew them), nor STS's answer to the AssumeRole (as it read), but throttling (exit 6).
    kms_answers.answers["AssumeRole"] = expiring_in(5)
    caller, fail = renewing_caller()
    throttled = ClientError(
        {"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}},
        "GetRoleCredentials",
    )
    with pytest.raises(ThrottledError) as raised:
        assume_and_use(caller, fail, throttled)
    assert raised.value.__cause__ is throttled
    assert str(raised.value).startswith(
        "could not obtain the caller's own credentials: TooManyRequestsException: slow down"
    )
