"""``kmskit.clients.assume_role``: client settings acting as a role of another account, whose
credentials are renewed before they expire, and a refusal told apart from other errors.

moto 5 models STS AssumeRole (each role's account gets a state of its own) but neither refuses
it nor lets credentials expire: :class:`tests.kmskit.conftest.KmsAnswers` answers for it
(requests and answers checked against the STS API model).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws

from kmskit.clients import ClientSettings, RoleRefusedError, assume_role
from kmskit.errors import AccessDeniedError
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
    [("AccessDenied", True), ("ExpiredTokenException", False)],
    ids=["refused", "caller-credentials-expired"],
)
def test_access_denied_is_role_refused_and_refused_credentials_are_not(
    code: str, refused: bool, aws: None, kms_answers: KmsAnswers
) -> None:
    def answer(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("AssumeRole", code)

    kms_answers.answers["AssumeRole"] = answer
    with pytest.raises(AccessDeniedError) as raised:
        assume_role(ClientSettings(region=REGION), ROLE, session_name="kmskit-test")
    assert isinstance(raised.value, RoleRefusedError) is refused
    assert str(raised.value).startswith(f"could not assume role {ROLE}: {code}: refused")
