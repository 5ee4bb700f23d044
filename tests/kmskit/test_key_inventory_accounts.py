"""``kmskit key inventory`` across accounts (``--account``, ``--accounts-from-organization``),
as CSV (``--format csv``) and into a file (``-o``) (kmskit/key_inventory.py,
kmskit/clients.py's ``assume_role``).

moto 5 models STS AssumeRole and keeps each assumed account's KMS apart (it keys its state by the
account of the role's ARN, so the keys made with one account's credentials are that account's
only), and Organizations (accounts, closing one suspends it). What it does not model is
answered by the test through :class:`tests.kmskit.conftest.KmsAnswers` (requests and answers
checked against the API models): AssumeRole refused (moto checks no trust policy), more than
one page of ListAccounts, and an account of ``State`` without ``Status`` (botocore's Stubber).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.credentials import SSOProvider
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from kmskit import key_inventory
from kmskit.aws_names import opt_in_hint
from kmskit.cli import main
from kmskit.clients import CLOCK_HINT, RENEW_CALLER_HINT, ClientSettings
from kmskit.commands import key as key_commands
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_THROTTLED,
    EXIT_USAGE,
    CredentialsRefusedError,
    UsageError,
)
from kmskit.inventory_role import DEFAULT_ROLE_NAME, INVENTORY_ACTIONS, ROLE_SESSION_NAME
from kmskit.key_inventory import (
    CSV_FIELDS,
    check_role_name,
    organization_accounts,
    organization_inventory,
    role_arn,
)
from kmskit.key_inventory import inventory as inventory_of
from tests._support.markdown import fenced_blocks
from tests.kmskit.conftest import KmsAnswers, refuse
from tests.kmskit.envelope_support import one_error_line
from tests.kmskit.test_key_inventory import new_key, run

REGION = "eu-west-1"
CALLER = "123456789012"  # moto's
FIRST = "111111111111"
SECOND = "222222222222"
THIRD = "333333333333"
DOCS = Path(__file__).parents[2] / "docs" / "keys.md"


@pytest.fixture
def aws(kms_answers: KmsAnswers) -> Iterator[None]:
    """moto (with ``kms_answers`` patched in before it)."""
    with mock_aws():
        yield


def kms_of(account: str, region: str = REGION) -> Any:
    """A KMS client acting in ``account`` (moto: the credentials of a role assumed there)."""
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/Setup", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.client(
        "kms",
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def refuse_role_of(kms_answers: KmsAnswers, *accounts: str, code: str = "AccessDenied") -> None:
    """STS refuses AssumeRole for the roles of ``accounts`` with ``code`` (default: access
    denied, as for a role whose trust policy does not name the caller); moto answers the
    others."""

    def answer(params: dict[str, Any], moto: Any) -> Any:
        if params["RoleArn"].split(":")[4] in accounts:
            raise refuse("AssumeRole", code)
        return moto(params)

    kms_answers.answers["AssumeRole"] = answer


def keys_reported(out: str) -> list[str]:
    """The key IDs of the lines of a text report of several accounts, in order."""
    return [line.split()[2] for line in out.splitlines()[1:] if line[:1].isdigit()]


def asked_roles_of(kms_answers: KmsAnswers) -> list[str]:
    """The accounts whose roles were asked for (AssumeRole), in order."""
    asked = kms_answers.requests.get("AssumeRole", [])
    return [request["RoleArn"].split(":")[4] for request in asked]


# --- several accounts ---------------------------------------------------------------------------


def test_each_account_given_is_read_through_its_role_and_each_key_names_its_account(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    first = new_key(kms_of(FIRST), Description="first's")
    second = new_key(kms_of(SECOND))
    new_key(boto3.client("kms", region_name=REGION))  # the caller's own: not read
    kms_answers.answers["AssumeRole"] = lambda params, moto: moto(params)  # to record them
    code, out, err = run(
        capsys, "--region", REGION, "--account", FIRST, "--account", SECOND, "--format", "json"
    )
    assert (code, err) == (EXIT_OK, "")
    found = json.loads(out)
    assert list(found) == ["regions", "keys", "accounts", "summary"]
    assert [(k["account"], k["keyId"]) for k in found["keys"]] == [(FIRST, first), (SECOND, second)]
    assert found["keys"][0]["keyArn"] == f"arn:aws:kms:{REGION}:{FIRST}:key/{first}"
    assert found["keys"][0]["description"] == "first's"
    assert found["accounts"] == [
        {"account": account, "roleArn": f"arn:aws:iam::{account}:role/{DEFAULT_ROLE_NAME}",
         "findings": []}
        for account in (FIRST, SECOND)
    ]  # fmt: skip
    assert found["summary"]["accounts"] == 2
    assert found["summary"]["accountsUnreadable"] == 0
    assert kms_answers.requests["AssumeRole"] == [
        {"RoleArn": f"arn:aws:iam::{account}:role/{DEFAULT_ROLE_NAME}",
         "RoleSessionName": ROLE_SESSION_NAME}
        for account in (FIRST, SECOND)
    ]  # fmt: skip


def test_the_text_report_gains_an_account_column_only_when_other_accounts_are_read(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(kms_of(FIRST))
    code, out, _ = run(capsys, "--region", REGION, "--account", FIRST)
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["ACCOUNT", "REGION", "KEY"]
    assert lines[1].split()[:3] == [FIRST, REGION, key]
    assert lines[-1] == f"1 key(s) in {REGION} of 1 account(s); 1 with findings: ROTATION_OFF 1"


def test_the_role_name_external_id_and_partition_make_the_assume_role_request(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    refuse_role_of(kms_answers, FIRST)
    code, _, err = run(
        capsys,
        "--region", "cn-north-1",
        "--account", FIRST,
        "--role-name", "Audit.Reader",
        "--external-id", "o-abc123:kms",
    )  # fmt: skip
    assert code == EXIT_OK, err
    assert kms_answers.requests["AssumeRole"] == [
        {
            "RoleArn": f"arn:aws-cn:iam::{FIRST}:role/Audit.Reader",
            "RoleSessionName": ROLE_SESSION_NAME,
            "ExternalId": "o-abc123:kms",
        }
    ]


@pytest.mark.parametrize(
    "role_name",
    ["teams/platform/KmskitKeyInventory", "a/Reader", "/".join(["p" * 254, "q" * 255, "R" * 64])],
    ids=["path", "one-segment", "longest-path-and-name"],
)
def test_a_role_name_with_an_iam_path_is_taken_and_its_arn_holds_the_path(
    role_name: str, aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    refuse_role_of(kms_answers, FIRST)
    code, out, err = run(
        capsys, "--region", REGION, "--account", FIRST, "--role-name", role_name, "--format", "json"
    )
    assert code == EXIT_OK, err
    arn = f"arn:aws:iam::{FIRST}:role/{role_name}"
    assert kms_answers.requests["AssumeRole"] == [
        {"RoleArn": arn, "RoleSessionName": ROLE_SESSION_NAME}
    ]
    assert json.loads(out)["accounts"][0]["roleArn"] == arn


def test_the_library_takes_a_role_path_and_refuses_a_bad_one_naming_the_argument(
    no_aws: list[str],
) -> None:
    assert check_role_name("teams/platform/Reader") == "teams/platform/Reader"
    assert role_arn(FIRST, "teams/platform/Reader", "us-gov-west-1") == (
        f"arn:aws-us-gov:iam::{FIRST}:role/teams/platform/Reader"
    )
    for bad in ("teams/platform/", "/teams/Reader", "teams//Reader", "teams/p latform/Reader", ""):
        with pytest.raises(UsageError) as raised:
            check_role_name(bad, "role_name")
        assert str(raised.value).startswith("'role_name' must be an IAM role name")
        assert str(raised.value).endswith(f"Received: {bad!r}")
    assert no_aws == []


def test_a_refused_role_is_account_unreadable_and_the_next_accounts_are_still_read(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    first = new_key(kms_of(FIRST))
    third = new_key(kms_of(THIRD))
    refuse_role_of(kms_answers, SECOND)
    accounts = ["--account", FIRST, "--account", SECOND, "--account", THIRD]
    code, out, err = run(capsys, "--region", REGION, *accounts, "--format", "json")
    assert code == EXIT_OK
    found = json.loads(out)
    assert [k["keyId"] for k in found["keys"]] == [first, third]
    (refused,) = [a for a in found["accounts"] if a["findings"]]
    assert refused["account"] == SECOND
    assert refused["findings"] == [
        {
            "code": "ACCOUNT_UNREADABLE",
            "reason": f"could not assume role arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME}: "
            "AccessDenied: refused: none of its keys is reported",
        }
    ]
    assert found["summary"]["accountsUnreadable"] == 1
    assert found["summary"]["findings"]["ACCOUNT_UNREADABLE"] == 1
    assert found["summary"]["keysWithFindings"] == 2  # an account is not a key
    assert err == f"kmskit: warning: account {SECOND}: {refused['findings'][0]['reason']}\n"
    # In the text report: the account, its finding; and --fail-on takes the code (exit 8).
    code, out, err = run(capsys, "--region", REGION, *accounts, "--fail-on", "ACCOUNT_UNREADABLE")
    assert code == EXIT_FINDINGS
    lines = out.splitlines()
    at = lines.index(SECOND)
    assert lines[at + 1].startswith(
        f"    ACCOUNT_UNREADABLE: could not assume role arn:aws:iam::{SECOND}"
    )
    assert lines[at + 2].split()[:2] == [THIRD, REGION]
    assert lines[-1].startswith(f"2 key(s) in {REGION} of 3 account(s); 2 with findings: ")
    assert lines[-1].endswith("ACCOUNT_UNREADABLE 1")
    assert err.endswith("kmskit: --fail-on: an account has ACCOUNT_UNREADABLE\n")


def test_an_account_with_sts_deactivated_in_the_region_is_account_unreadable(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # RegionDisabledException is the account's own setting: the other accounts are read.
    first = new_key(kms_of(FIRST))
    refuse_role_of(kms_answers, SECOND, code="RegionDisabledException")
    code, out, err = run(
        capsys, "--region", REGION, "--account", FIRST, "--account", SECOND, "--format", "json"
    )
    assert code == EXIT_OK
    found = json.loads(out)
    assert [k["keyId"] for k in found["keys"]] == [first]
    (refused,) = [a for a in found["accounts"] if a["findings"]]
    assert refused["account"] == SECOND
    (finding,) = refused["findings"]
    assert finding["code"] == "ACCOUNT_UNREADABLE"
    assert finding["reason"] == (
        f"could not assume role arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME}: "
        f"RegionDisabledException: refused (activate STS in {REGION} for the role's account: "
        "IAM console, Account settings; or assume the role in another Region): none of its keys "
        "is reported"
    )
    assert err == f"kmskit: warning: account {SECOND}: {finding['reason']}\n"


def test_an_error_other_than_access_denied_on_assume_role_stops_the_run(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # Credentials STS refuses (expired) fail every account alike: not ACCOUNT_UNREADABLE. At
    # the first account nothing was reported and the credentials may never have worked: the
    # plain message, without where the run stopped.
    refuse_role_of(kms_answers, FIRST, code="ExpiredTokenException")
    accounts = ["--account", FIRST, "--account", SECOND]
    assert main(["key", "inventory", "--region", REGION, *accounts]) == EXIT_ACCESS_DENIED
    assert one_error_line(capsys) == (
        f"kmskit: error: could not assume role arn:aws:iam::{FIRST}:role/{DEFAULT_ROLE_NAME}: "
        "ExpiredTokenException: refused (refresh or check the AWS credentials)"
    )
    assert asked_roles_of(kms_answers) == [FIRST]


@pytest.mark.parametrize(
    ("regions", "hinted"), [((REGION, "af-south-1"), False), (("af-south-1",), True)]
)
def test_the_first_accounts_assume_role_refused_gets_the_opt_in_hint_only_for_its_sts_region(
    regions: tuple[str, ...],
    hinted: bool,
    aws: None,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The roles are assumed through STS in the first Region every account has (REGION), so
    # credentials STS refuses there are not an opt-in Region's doing, whatever --region holds;
    # with opt-in Regions only, STS is asked in one of them, and the hint applies.
    refuse_role_of(kms_answers, FIRST, code="ExpiredTokenException")
    arguments = [arg for region in regions for arg in ("--region", region)]
    assert main(["key", "inventory", *arguments, "--account", FIRST]) == EXIT_ACCESS_DENIED
    message = one_error_line(capsys)
    assert message.startswith(f"kmskit: error: could not assume role arn:aws:iam::{FIRST}:")
    hint = opt_in_hint(["af-south-1"])
    assert hint is not None
    assert (hint in message) is hinted


def test_the_library_checks_its_arguments_naming_them_before_any_aws_call(
    no_aws: list[str],
) -> None:
    def refused(**arguments: Any) -> str:
        settings = ClientSettings(region=REGION)
        with pytest.raises(UsageError) as raised:
            list(
                organization_inventory(
                    settings, **{"accounts": [FIRST], "regions": [REGION], **arguments}
                )
            )
        return str(raised.value)

    assert refused(accounts=["12"]) == "'accounts' must be a 12-digit account ID. Received: '12'"
    assert refused(role_name="a b").startswith("'role_name' must be an IAM role name")
    assert refused(external_id="-").startswith("'external_id' must be 2-1224 letters")
    assert refused(regions=[]) == "'regions' must name at least one Region. Received: []"
    assert refused(regions=[REGION, "us-gov-west-1"]).startswith(
        "'regions' must name Regions of one partition"
    )
    assert no_aws == []


def test_an_account_given_twice_is_read_once(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    new_key(kms_of(FIRST))
    code, out, _ = run(
        capsys, "--region", REGION, "--account", FIRST, "--account", FIRST, "--format", "json"
    )
    assert code == EXIT_OK
    assert json.loads(out)["summary"]["keys"] == 1


# --- an opt-in Region an account has not enabled ------------------------------------------------

OPT_IN = "af-south-1"
INVALID_TOKEN = "The security token included in the request is invalid."


def refuse_credentials_in(
    monkeypatch: pytest.MonkeyPatch, refused: set[tuple[str, str]], code: str
) -> list[str | None]:
    """KMS refuses the role's credentials of each (account, Region) of ``refused`` with ``code``
    (what AWS answers in a Region the account has not enabled: moto enables every Region). The
    Regions the roles are assumed in (STS) are returned, as they come."""
    sts_regions: list[str | None] = []
    real_kms_client = key_inventory.inventory_kms_client
    real_assume_role = key_inventory.assume_role

    def kms_client(settings: ClientSettings, region: str | None, workers: int) -> Any:
        client = real_kms_client(settings, region, workers)
        account = settings.client("sts").get_caller_identity()["Account"]
        if (account, region) in refused:
            stubber = Stubber(client)
            stubber.add_client_error("list_aliases", code, INVALID_TOKEN, http_status_code=400)
            stubber.activate()
        return client

    def assume_role(*args: Any, region: str | None = None, **kwargs: Any) -> ClientSettings:
        sts_regions.append(region)
        return real_assume_role(*args, region=region, **kwargs)

    monkeypatch.setattr(key_inventory, "inventory_kms_client", kms_client)
    monkeypatch.setattr(key_inventory, "assume_role", assume_role)
    return sts_regions


@pytest.mark.parametrize("code", ["UnrecognizedClientException", "InvalidClientTokenId"])
def test_an_opt_in_region_an_account_has_not_enabled_is_its_finding_and_the_run_goes_on(
    code: str,
    aws: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first_there, first = new_key(kms_of(FIRST, OPT_IN)), new_key(kms_of(FIRST))
    new_key(kms_of(SECOND, OPT_IN))  # not reachable: SECOND has not enabled OPT_IN
    second, third = new_key(kms_of(SECOND)), new_key(kms_of(THIRD))
    sts_regions = refuse_credentials_in(monkeypatch, {(SECOND, OPT_IN)}, code)
    accounts = ["--account", FIRST, "--account", SECOND, "--account", THIRD]
    regions = ["--region", OPT_IN, "--region", REGION]
    code_, out, err = run(capsys, *regions, *accounts, "--format", "json")
    assert code_ == EXIT_OK, err
    found = json.loads(out)
    assert [(k["account"], k["region"], k["keyId"]) for k in found["keys"]] == [
        (FIRST, OPT_IN, first_there),
        (FIRST, REGION, first),
        (SECOND, REGION, second),
        (THIRD, REGION, third),
    ]
    assert [a["findings"] for a in found["accounts"]][::2] == [[], []]
    (finding,) = found["accounts"][1]["findings"]
    assert finding["code"] == "REGION_UNREADABLE"
    assert finding["reason"].startswith(
        f"{OPT_IN}: could not list the aliases of {OPT_IN}: {code}: {INVALID_TOKEN} "
        f"(refresh or check the AWS credentials): none of its keys in {OPT_IN} is reported "
        f"({OPT_IN} is an opt-in Region, disabled until the account enables it: "
    )
    assert f"get-region-opt-status --region-name {OPT_IN}" in finding["reason"]
    summary = found["summary"]
    assert (summary["accounts"], summary["accountsUnreadable"]) == (3, 0)
    assert summary["findings"]["REGION_UNREADABLE"] == 1
    assert err == f"kmskit: warning: account {SECOND}: {finding['reason']}\n"
    # The roles are assumed in a Region every account has enabled, not in the first one given.
    assert sts_regions == [REGION] * 3
    # The text report: the account and its finding after its keys; --fail-on takes the code.
    code_, out, err = run(capsys, *regions, *accounts, "--fail-on", "REGION_UNREADABLE")
    assert code_ == EXIT_FINDINGS
    lines = out.splitlines()
    at = lines.index(SECOND)
    assert lines[at - 2].split()[:3] == [SECOND, REGION, second]  # then its ROTATION_OFF
    assert lines[at + 1] == f"    REGION_UNREADABLE: {finding['reason']}"
    assert lines[at + 2].split()[:2] == [THIRD, REGION]
    assert lines[-1].endswith("REGION_UNREADABLE 1")
    assert err.endswith("kmskit: --fail-on: an account has REGION_UNREADABLE\n")
    # The CSV: a row of its own, after its keys.
    rows = csv_rows(run(capsys, *regions, *accounts, "--format", "csv")[1])
    assert [(row["account"], row["keyId"]) for row in rows] == [
        (FIRST, first_there), (FIRST, first), (SECOND, second), (SECOND, ""), (THIRD, third)
    ]  # fmt: skip
    assert rows[3]["findings"] == f"REGION_UNREADABLE: {finding['reason']}"


SECOND_THERE = f"arn:aws:kms:{OPT_IN}:{SECOND}:"


@pytest.mark.parametrize(
    ("call", "doing"),
    [
        ("ListKeys", f"list the keys of {OPT_IN}"),
        ("DescribeKey", "describe key {key} in af-south-1"),
    ],
    ids=["second-page-of-list-keys", "describe-key-of-the-third-key"],
)
def test_a_refusal_partway_through_an_opt_in_region_reports_the_keys_read_before_it(
    call: str,
    doing: str,
    aws: None,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # KMS refuses SECOND's credentials in OPT_IN after two of its five keys there were read:
    # those two are reported, the three after are not, and the finding says so.
    there = [new_key(kms_of(SECOND, OPT_IN)) for _ in range(5)]
    second, third = new_key(kms_of(SECOND)), new_key(kms_of(THIRD))

    def list_keys(params: dict[str, Any], moto: Any) -> Any:  # two keys a page
        start = int(params.get("Marker", 0))
        whole = moto({})["Keys"]
        if call == "ListKeys" and start and whole[0]["KeyArn"].startswith(SECOND_THERE):
            raise refuse("ListKeys", "UnrecognizedClientException")
        page = {"Keys": whole[start : start + 2], "Truncated": start + 2 < len(whole)}
        return {**page, "NextMarker": str(start + 2)} if page["Truncated"] else page

    def describe_key(params: dict[str, Any], moto: Any) -> Any:
        if call == "DescribeKey" and params["KeyId"] == there[2]:
            raise refuse("DescribeKey", "UnrecognizedClientException")
        return moto(params)

    kms_answers.answers.update(ListKeys=list_keys, DescribeKey=describe_key)
    accounts = ["--account", SECOND, "--account", THIRD]
    regions = ["--region", OPT_IN, "--region", REGION]
    code, out, err = run(capsys, *regions, *accounts, "--format", "json")
    assert code == EXIT_OK, err
    found = json.loads(out)
    assert [(k["account"], k["region"], k["keyId"]) for k in found["keys"]] == [
        (SECOND, OPT_IN, there[0]),
        (SECOND, OPT_IN, there[1]),
        (SECOND, REGION, second),
        (THIRD, REGION, third),
    ]
    (finding,) = found["accounts"][0]["findings"]
    assert finding["code"] == "REGION_UNREADABLE"
    assert finding["reason"].startswith(
        f"{OPT_IN}: could not {doing.format(key=there[2])}: UnrecognizedClientException: "
        "refused (refresh or check the AWS credentials): 2 key(s) read before the refusal are "
        f"reported; the rest of its keys in {OPT_IN} are not ({OPT_IN} is an opt-in Region, "
    )
    assert found["accounts"][1]["findings"] == []
    summary = found["summary"]
    assert (summary["keys"], summary["keysWithFindings"]) == (4, 4)
    assert summary["findings"] == {"ROTATION_OFF": 4, "REGION_UNREADABLE": 1}
    assert err == f"kmskit: warning: account {SECOND}: {finding['reason']}\n"
    # The text report and the CSV say the same.
    code, out, _ = run(capsys, *regions, *accounts)
    lines = out.splitlines()
    assert [line.split()[2] for line in lines if line.startswith(f"{SECOND} ")] == [
        there[0], there[1], second,
    ]  # fmt: skip
    assert lines[lines.index(SECOND) + 1] == f"    REGION_UNREADABLE: {finding['reason']}"
    assert lines[-1] == (
        f"4 key(s) in {OPT_IN}, {REGION} of 2 account(s); 4 with findings: ROTATION_OFF 4, "
        "REGION_UNREADABLE 1"
    )
    rows = csv_rows(run(capsys, *regions, *accounts, "--format", "csv")[1])
    assert [(row["account"], row["keyId"]) for row in rows] == [
        (SECOND, there[0]), (SECOND, there[1]), (SECOND, second), (SECOND, ""), (THIRD, third)
    ]  # fmt: skip
    assert rows[3]["findings"] == f"REGION_UNREADABLE: {finding['reason']}"


def test_each_account_region_refused_counts_once_in_the_summary(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # SECOND has enabled neither opt-in Region, THIRD not OPT_IN: three account-Regions.
    refused = {(SECOND, OPT_IN), (SECOND, "ap-east-1"), (THIRD, OPT_IN)}
    refuse_credentials_in(monkeypatch, refused, "UnrecognizedClientException")
    accounts = ["--account", FIRST, "--account", SECOND, "--account", THIRD]
    regions = ["--region", OPT_IN, "--region", "ap-east-1", "--region", REGION]
    code, out, err = run(capsys, *regions, *accounts, "--format", "json")
    assert code == EXIT_OK, err
    found = json.loads(out)
    assert [[f["reason"].split(":")[0] for f in a["findings"]] for a in found["accounts"]] == [
        [], [OPT_IN, "ap-east-1"], [OPT_IN]
    ]  # fmt: skip
    assert found["summary"]["findings"] == {"REGION_UNREADABLE": 3}
    assert (found["summary"]["accounts"], found["summary"]["accountsUnreadable"]) == (3, 0)
    assert err.count("kmskit: warning: account ") == 3
    code, out, err = run(capsys, *regions, *accounts, "--fail-on", "REGION_UNREADABLE")
    assert code == EXIT_FINDINGS
    assert out.splitlines()[-1] == (
        f"0 key(s) in {OPT_IN}, ap-east-1, {REGION} of 3 account(s); 0 with findings: "
        "REGION_UNREADABLE 3"
    )
    assert err.endswith("kmskit: --fail-on: an account has REGION_UNREADABLE\n")


def refuse_renewals_from(kms_answers: KmsAnswers, key: str, code: str, *accounts: str) -> None:
    """The roles' credentials come near their expiry at every call (AssumeRole gives 5 minutes),
    so each call renews them; from the DescribeKey of ``key`` on, STS refuses AssumeRole with
    ``code`` for the roles of ``accounts`` (none given: every account's)."""
    refusing = False

    def assume_role(params: dict[str, Any], moto: Any) -> Any:
        if refusing and (not accounts or params["RoleArn"].split(":")[4] in accounts):
            raise refuse("AssumeRole", code)
        found = moto(params)
        found["Credentials"]["Expiration"] = datetime.now(UTC) + timedelta(minutes=5)
        return found

    def describe_key(params: dict[str, Any], moto: Any) -> Any:
        nonlocal refusing
        refusing = refusing or params["KeyId"] == key
        return moto(params)

    kms_answers.answers.update(AssumeRole=assume_role, DescribeKey=describe_key)


@pytest.mark.parametrize("region", [REGION, OPT_IN], ids=["default-region", "opt-in-region"])
def test_a_role_whose_renewal_sts_refuses_partway_is_account_unreadable_with_the_keys_read(
    region: str, aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # STS refuses SECOND's renewal from the DescribeKey of its third key on. In an opt-in
    # Region too: the role's refusal, not the Region's (REGION_UNREADABLE).
    keys = [new_key(kms_of(SECOND, region)) for _ in range(4)]
    third = new_key(kms_of(THIRD, region))
    refuse_renewals_from(kms_answers, keys[2], "AccessDenied", SECOND)
    accounts = ["--account", SECOND, "--account", THIRD]
    code, out, err = run(
        capsys, "--region", region, *accounts, "--workers", "1", "--format", "json"
    )
    assert code == EXIT_OK, err
    found = json.loads(out)
    assert [k["keyId"] for k in found["keys"]] == [keys[0], keys[1], third]
    (finding,) = found["accounts"][0]["findings"]
    assert finding == {
        "code": "ACCOUNT_UNREADABLE",
        "reason": f"could not assume role arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME}: "
        "AccessDenied: refused: 2 key(s) read before the refusal are reported; the rest of its "
        "keys are not",
    }
    assert found["accounts"][1]["findings"] == []
    summary = found["summary"]
    assert (summary["keys"], summary["accounts"], summary["accountsUnreadable"]) == (3, 2, 1)
    assert summary["findings"] == {"ROTATION_OFF": 3, "ACCOUNT_UNREADABLE": 1}
    assert err.endswith(f"kmskit: warning: account {SECOND}: {finding['reason']}\n")


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidClientTokenId"])
def test_the_callers_credentials_refused_at_a_renewal_in_an_opt_in_region_stop_the_run(
    code: str, aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # Partway through SECOND's keys in OPT_IN, STS refuses the caller's own credentials (they
    # expired) for every role: not the Region's refusal of the role's (REGION_UNREADABLE) nor
    # the role's (ACCOUNT_UNREADABLE), but the end of the run, before THIRD's role is asked
    # for, as at a first AssumeRole.
    keys = [new_key(kms_of(SECOND, OPT_IN)) for _ in range(3)]
    new_key(kms_of(THIRD, OPT_IN))
    refuse_renewals_from(kms_answers, keys[1], code)
    accounts = ["--account", SECOND, "--account", THIRD]
    assert main(["key", "inventory", "--region", OPT_IN, *accounts, "--workers", "1"]) == (
        EXIT_ACCESS_DENIED
    )
    assert one_error_line(capsys) == (
        "kmskit: error: could not renew the credentials of role "
        f"arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME} of account {SECOND}: STS refused the "
        f"caller's own credentials: {code}: refused. {RENEW_CALLER_HINT}. The run stopped at "
        f"account {SECOND} (1 of 2): 1 key(s) read before the caller's credentials failed are "
        "reported; the rest of its keys are not; the 1 account(s) after it are not read"
    )  # one line: no REGION_UNREADABLE warning before it, and no opt-in hint
    assert {request["RoleArn"].split(":")[4] for request in kms_answers.requests["AssumeRole"]} == {
        SECOND
    }


@pytest.mark.parametrize(
    ("before", "after", "where"),
    [
        ((), (), "(1 of 1): "),
        ((), (THIRD,), "(1 of 2): "),
        ((FIRST,), (), "(2 of 2): the 1 account(s) before it are reported; "),
        ((FIRST,), (THIRD,), "(2 of 3): the 1 account(s) before it are reported; "),
    ],
    ids=["only", "first", "last", "middle"],
)
def test_where_the_callers_credentials_stopped_the_run_is_told_for_every_position(
    before: tuple[str, ...],
    after: tuple[str, ...],
    where: str,
    aws: None,
    kms_answers: KmsAnswers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The message counts the accounts before and after the one it stopped at only where there
    # are some ("the 0 account(s) before it", "the 0 account(s) after it" for the first or the
    # only one said nothing), and an account before it is reported, not necessarily read:
    # FIRST's role is refused (ACCOUNT_UNREADABLE), and the run went on.
    keys = [new_key(kms_of(SECOND)) for _ in range(3)]
    for account in (*before, *after):
        new_key(kms_of(account))
    refuse_renewals_from(kms_answers, keys[1], "ExpiredToken", SECOND)
    moto_assume_role = kms_answers.answers["AssumeRole"]

    def assume_role(params: dict[str, Any], moto: Any) -> Any:
        if params["RoleArn"].split(":")[4] == FIRST:
            raise refuse("AssumeRole", "AccessDenied")
        return moto_assume_role(params, moto)

    kms_answers.answers["AssumeRole"] = assume_role
    accounts = [option for one in (*before, SECOND, *after) for option in ("--account", one)]
    code, _, err = run(capsys, "--region", REGION, *accounts, "--workers", "1")
    assert code == EXIT_ACCESS_DENIED
    stop = err.splitlines()[-1]
    assert stop == (
        "kmskit: error: could not renew the credentials of role "
        f"arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME} of account {SECOND}: STS refused the "
        f"caller's own credentials: ExpiredToken: refused. {RENEW_CALLER_HINT}. The run stopped "
        f"at account {SECOND} {where}1 key(s) read before the caller's credentials failed are "
        "reported; the rest of its keys are not"
        + ("; the 1 account(s) after it are not read" if after else "")
    )


# A credential_process (what IAM Identity Center helpers and other credential tools plug into
# a profile): credentials with 5 minutes left, so that botocore renews them at every use, until
# the file given exists; from then on it fails, as an expired SSO session does, or, if the file
# holds "stale", hands out credentials that expired a minute ago (a stale cache of its own), or,
# if it holds "prompt", prints a prompt (an expired SAML helper asking for a password).
CREDENTIAL_PROCESS = """\
import json, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
given = Path(sys.argv[1])
said = given.read_text() if given.exists() else None
stale = said == "stale"
if said == "prompt":
    print("Enter your SAML password:")
    sys.exit(0)
if given.exists() and not stale:
    sys.exit("The SSO session has expired: run aws sso login")
left = timedelta(minutes=-1 if stale else 5)
expiry = (datetime.now(UTC) + left).strftime("%Y-%m-%dT%H:%M:%SZ")
print(json.dumps({"Version": 1, "AccessKeyId": "testing", "SecretAccessKey": "testing",
                  "SessionToken": "caller", "Expiration": expiry}))
"""


@pytest.fixture
def caller_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The profile ``caller`` of an AWS config file, whose credentials come from
    :data:`CREDENTIAL_PROCESS`: the file it fails from once it exists (returned, not made)."""
    expired = tmp_path / "expired"
    script = tmp_path / "credentials.py"
    script.write_text(CREDENTIAL_PROCESS)
    config = tmp_path / "config"
    config.write_text(
        f'[profile caller]\ncredential_process = "{sys.executable}" "{script}" "{expired}"\n'
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    return expired


def run_as_caller(capsys: pytest.CaptureFixture[str], *accounts: str) -> tuple[int, str, str]:
    """``kmskit key inventory`` of ``accounts`` in :data:`REGION`, one worker, as the profile
    ``caller`` (:func:`caller_profile`): the exit code, stdout and stderr."""
    given = [option for account in accounts for option in ("--account", account)]
    return run(capsys, "--profile", "caller", "--region", REGION, *given, "--workers", "1")


def fail_caller_while_second_is_read(
    kms_answers: KmsAnswers, given: Path, text: str
) -> tuple[str, list[str]]:
    """A key in FIRST, three in SECOND and one in THIRD, the roles' credentials renewed at every
    call (5 minutes left), and :data:`CREDENTIAL_PROCESS`'s file ``given`` written with ``text``
    while SECOND's second key is described: FIRST's key and SECOND's keys."""
    first = new_key(kms_of(FIRST))
    keys = [new_key(kms_of(SECOND)) for _ in range(3)]
    new_key(kms_of(THIRD))

    def assume_role(params: dict[str, Any], moto: Any) -> Any:  # renewed at every call
        found = moto(params)
        found["Credentials"]["Expiration"] = datetime.now(UTC) + timedelta(minutes=5)
        return found

    def describe_key(params: dict[str, Any], moto: Any) -> Any:
        if params["KeyId"] == keys[1]:
            given.write_text(text)
        return moto(params)

    kms_answers.answers.update(AssumeRole=assume_role, DescribeKey=describe_key)
    return first, keys


def test_the_callers_credentials_failing_before_any_request_at_a_renewal_stop_the_run_saying_so(
    aws: None, kms_answers: KmsAnswers, caller_profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The caller's profile gets its credentials from a credential_process, which starts to fail
    # partway through SECOND's keys: botocore fails to renew the caller's credentials before it
    # sends the AssumeRole that renews SECOND's role (CredentialRetrievalError, botocore's own
    # ProcessProvider). The run stops there (exit 3), saying that it was the renewal of
    # SECOND's role, that the caller's credentials must be renewed, and what was reported.
    # The session expires while SECOND's second key is being described.
    first, keys = fail_caller_while_second_is_read(kms_answers, caller_profile, "")
    code, out, err = run_as_caller(capsys, FIRST, SECOND, THIRD)
    assert code == EXIT_ACCESS_DENIED
    assert err == (
        "kmskit: error: could not renew the credentials of role "
        f"arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME} of account {SECOND}: the caller's own "
        "credentials could not be used (no request was sent): Error when retrieving credentials "
        "from custom-process: The SSO session has expired: run aws sso login. "
        f"{RENEW_CALLER_HINT}. The run stopped at account {SECOND} (2 of 3): the 1 account(s) "
        "before it are reported; 1 key(s) read before the caller's credentials failed are "
        "reported; the rest of its keys are not; the 1 account(s) after it are not read\n"
    )
    # What the message says was reported is what the text report printed before it stopped.
    assert keys_reported(out) == [first, keys[0]]
    assert set(asked_roles_of(kms_answers)) == {FIRST, SECOND}  # THIRD's role was not asked for


def test_a_credential_process_printing_a_prompt_at_a_renewal_stops_the_run_saying_where(
    aws: None, kms_answers: KmsAnswers, caller_profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The caller's credential_process starts printing a prompt (no JSON: botocore raises a
    # plain JSONDecodeError, no BotoCoreError) partway through SECOND's keys: told as the
    # caller's credentials failing at the renewal of SECOND's role, with where the run stopped
    # and what was reported, as for a helper that fails (above); not a bare "not JSON" error
    # that says nothing of the run.
    first, keys = fail_caller_while_second_is_read(kms_answers, caller_profile, "prompt")
    code, out, err = run_as_caller(capsys, FIRST, SECOND, THIRD)
    assert code == EXIT_ACCESS_DENIED
    assert err.startswith(
        "kmskit: error: could not renew the credentials of role "
        f"arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME} of account {SECOND}: the caller's own "
        "credentials could not be loaded: credential_process output is not JSON ("
    )
    assert err.endswith(
        f"{RENEW_CALLER_HINT}. The run stopped at account {SECOND} (2 of 3): the 1 account(s) "
        "before it are reported; 1 key(s) read before the caller's credentials failed are "
        "reported; the rest of its keys are not; the 1 account(s) after it are not read\n"
    )
    assert keys_reported(out) == [first, keys[0]]


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidClientTokenId"])
def test_the_callers_credentials_refused_at_a_later_accounts_assume_role_say_where_the_run_stopped(
    code: str, aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    # FIRST is read; then STS refuses the caller's own credentials (the session expired between
    # two accounts) at SECOND's first AssumeRole: not SECOND's role refused (ACCOUNT_UNREADABLE,
    # the run goes on) but the end of the run, told as at a renewal: where it stopped and what
    # was reported. Without the opt-in hint for OPT_IN: STS took these credentials in REGION
    # for FIRST.
    first = new_key(kms_of(FIRST))
    new_key(kms_of(SECOND))
    new_key(kms_of(THIRD))
    refuse_role_of(kms_answers, SECOND, code=code)
    accounts = ["--account", FIRST, "--account", SECOND, "--account", THIRD]
    code_, out, err = run(capsys, "--region", REGION, "--region", OPT_IN, *accounts)
    assert code_ == EXIT_ACCESS_DENIED
    assert err == (
        f"kmskit: error: could not assume role arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME} of "
        f"account {SECOND}: STS refused the caller's own credentials: {code}: refused. "
        f"{RENEW_CALLER_HINT}. The run stopped at account {SECOND} (2 of 3): the 1 account(s) "
        "before it are reported; none of its keys is reported; the 1 account(s) after it are "
        "not read\n"
    )
    assert keys_reported(out) == [first]  # FIRST's report, printed before the run stopped
    assert asked_roles_of(kms_answers) == [FIRST, SECOND]  # THIRD's role was not asked for


def test_the_callers_credentials_failing_before_a_later_accounts_assume_role_say_where_it_stopped(
    aws: None, kms_answers: KmsAnswers, caller_profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The caller's credential_process starts failing while FIRST's keys are read (the roles'
    # credentials last an hour: FIRST's role is not renewed): botocore cannot renew the
    # caller's credentials for SECOND's first AssumeRole and sends no request
    # (CredentialRetrievalError). The run stops there, saying so, where, and what was reported.
    first = [new_key(kms_of(FIRST)) for _ in range(2)]
    new_key(kms_of(SECOND))
    new_key(kms_of(THIRD))
    expired = caller_profile

    def describe_key(params: dict[str, Any], moto: Any) -> Any:
        if params["KeyId"] == first[1]:
            expired.touch()
        return moto(params)

    kms_answers.answers.update(
        AssumeRole=lambda params, moto: moto(params), DescribeKey=describe_key
    )
    code, out, err = run_as_caller(capsys, FIRST, SECOND, THIRD)
    assert code == EXIT_ACCESS_DENIED
    assert err == (
        f"kmskit: error: could not assume role arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME} of "
        f"account {SECOND}: the caller's own credentials could not be used (no request was "
        "sent): Error when retrieving credentials from custom-process: The SSO session has "
        f"expired: run aws sso login. {RENEW_CALLER_HINT}. The run stopped at account {SECOND} "
        "(2 of 3): the 1 account(s) before it are reported; none of its keys is reported; the 1 "
        "account(s) after it are not read\n"
    )
    assert keys_reported(out) == first
    # SECOND's not sent (the caller's credentials failed before it was asked for), nor THIRD's.
    assert asked_roles_of(kms_answers) == [FIRST]


def test_the_callers_credentials_unusable_at_the_first_account_name_the_role_being_assumed(
    aws: None, kms_answers: KmsAnswers, caller_profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing was read: the message says nothing of where the run stopped, but names the role
    # it was assuming and its account, as at a later account (botocore's bare error did not).
    new_key(kms_of(FIRST))
    caller_profile.touch()  # failing from the start
    kms_answers.answers["AssumeRole"] = lambda params, moto: moto(params)
    code, out, err = run_as_caller(capsys, FIRST, SECOND)
    assert (code, keys_reported(out)) == (EXIT_ACCESS_DENIED, [])
    assert err == (
        f"kmskit: error: could not assume role arn:aws:iam::{FIRST}:role/{DEFAULT_ROLE_NAME} of "
        f"account {FIRST}: the caller's own credentials could not be used (no request was "
        "sent): Error when retrieving credentials from custom-process: The SSO session has "
        f"expired: run aws sso login. {RENEW_CALLER_HINT}\n"
    )
    assert "AssumeRole" not in kms_answers.requests


def assert_stopped_as_caller(
    capsys: pytest.CaptureFixture[str],
    kms_answers: KmsAnswers,
    *,
    later: bool,
    first: str,
    said: str,
) -> None:
    """Run the inventory of FIRST and SECOND as the profile ``caller`` (:func:`run_as_caller`),
    whose credentials fail at FIRST's first ``AssumeRole``, or (``later``) at SECOND's, after
    FIRST's key ``first`` was read: the run stops (exit 3) saying that the role of that
    account could not be assumed, ``said`` (how the credentials failed and what to do) and, at
    SECOND, where the run stopped."""
    code, out, err = run_as_caller(capsys, FIRST, SECOND)
    assert code == EXIT_ACCESS_DENIED
    account = SECOND if later else FIRST
    stopped = (
        f". The run stopped at account {SECOND} (2 of 2): the 1 account(s) before it are "
        "reported; none of its keys is reported"
        if later
        else ""
    )
    assert err == (
        f"kmskit: error: could not assume role arn:aws:iam::{account}:role/{DEFAULT_ROLE_NAME} "
        f"of account {account}: {said}{stopped}\n"
    )
    assert keys_reported(out) == ([first] if later else [])
    assert asked_roles_of(kms_answers) == ([FIRST] if later else [])


STALE = (
    "the caller's own credentials could not be used (no request was sent): botocore renewed "
    "them and got credentials that had already expired by this machine's clock (Credentials "
    "were refreshed, but the refreshed credentials are still expired)"
)


@pytest.mark.parametrize("later", [False, True], ids=["first-account", "later-account"])
def test_the_callers_credentials_renewed_already_expired_stop_the_run_saying_what_to_check(
    later: bool,
    aws: None,
    kms_answers: KmsAnswers,
    caller_profile: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The caller's credential_process hands out credentials that have already expired (its
    # own stale cache; or this machine's clock is ahead): botocore raises a plain RuntimeError,
    # which was a traceback (exit 1). The caller's failure (exit 3), saying to check the clock
    # and the credential source, and, at a later account, where the run stopped.
    first = new_key(kms_of(FIRST))
    new_key(kms_of(SECOND))
    stale = caller_profile

    def describe_key(params: dict[str, Any], moto: Any) -> Any:
        stale.write_text("stale")
        return moto(params)

    if not later:
        stale.write_text("stale")
    kms_answers.answers.update(
        AssumeRole=lambda params, moto: moto(params), DescribeKey=describe_key
    )
    said = f"{STALE}. {CLOCK_HINT}"
    assert_stopped_as_caller(capsys, kms_answers, later=later, first=first, said=said)


SSO_START = "https://example.awsapps.com/start"
SSO_ACCOUNT = "444444444444"


@pytest.fixture
def sso_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The profile ``caller`` of an AWS config file: an IAM Identity Center (legacy) profile,
    permission set ``KmsAuditor`` in account :data:`SSO_ACCOUNT`, whose token (valid) is in the
    SSO token cache that botocore reads (here, a directory of ``tmp_path``)."""
    config = tmp_path / "config"
    config.write_text(
        f"[profile caller]\nsso_start_url = {SSO_START}\nsso_region = us-east-1\n"
        f"sso_account_id = {SSO_ACCOUNT}\nsso_role_name = KmsAuditor\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    cache = tmp_path / "sso-cache"
    cache.mkdir()
    name = hashlib.sha1(SSO_START.encode()).hexdigest()  # botocore's cache key
    token = {"accessToken": "token", "expiresAt": "2099-01-01T00:00:00Z"}
    (cache / f"{name}.json").write_text(json.dumps(token))
    monkeypatch.setattr(SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))


@pytest.mark.parametrize("later", [False, True], ids=["first-account", "later-account"])
def test_identity_center_refusing_the_callers_permission_set_stops_the_run_saying_what_to_check(
    later: bool,
    aws: None,
    kms_answers: KmsAnswers,
    sso_profile: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The permission set of the caller's IAM Identity Center profile is no longer assigned to
    # the user for its account: GetRoleCredentials answers ForbiddenException, which botocore
    # raises as a ClientError while our AssumeRole is signed. It read as STS's answer to it,
    # an unknown code (exit 1); it is the caller's failure (exit 3), naming the permission set
    # and its account, and at a later account where the run stopped.
    first = new_key(kms_of(FIRST))
    new_key(kms_of(SECOND))
    refusing = not later

    def get_role_credentials(params: dict[str, Any], moto: Any) -> Any:
        assert (params["accountId"], params["roleName"]) == (SSO_ACCOUNT, "KmsAuditor")
        if refusing:
            raise ClientError(
                {"Error": {"Code": "ForbiddenException", "Message": "No access"}},
                "GetRoleCredentials",
            )
        expiry = datetime.now(UTC) + timedelta(minutes=5)  # renewed at every use
        credentials = {"accessKeyId": "testing", "secretAccessKey": "testing",
                       "sessionToken": "caller"}  # fmt: skip
        return {"roleCredentials": {**credentials, "expiration": int(expiry.timestamp()) * 1000}}

    def describe_key(params: dict[str, Any], moto: Any) -> Any:
        nonlocal refusing
        refusing = True
        return moto(params)

    kms_answers.answers.update(
        GetRoleCredentials=get_role_credentials,
        AssumeRole=lambda params, moto: moto(params),
        DescribeKey=describe_key,
    )
    said = (
        "IAM Identity Center refused the caller's own credentials: ForbiddenException: No "
        "access. Check that the permission set KmsAuditor is assigned to the caller's user for "
        f"account {SSO_ACCOUNT} (IAM Identity Center's account assignments; aws sso "
        "list-account-roles lists the user's): ask an administrator to assign it again, or set "
        "sso_account_id and sso_role_name of profile caller to an assignment the user has; "
        "then run again"
    )
    assert_stopped_as_caller(capsys, kms_answers, later=later, first=first, said=said)


def test_one_accounts_inventory_with_credentials_renewed_already_expired_says_what_to_check(
    aws: None, caller_profile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Outside a run of assumed roles too (here the caller's own account, no --account), any
    # command: botocore's plain RuntimeError was a traceback (exit 1); it is exit 3, one line
    # saying to check the clock and the credential source.
    caller_profile.write_text("stale")
    code, _, err = run(capsys, "--profile", "caller", "--region", REGION)
    assert code == EXIT_ACCESS_DENIED
    assert err == (
        "kmskit: error: the AWS credentials could not be used (no request was sent): botocore "
        "renewed them and got credentials that had already expired by this machine's clock "
        "(Credentials were refreshed, but the refreshed credentials are still expired). "
        f"{CLOCK_HINT}\n"
    )


def test_another_runtime_error_is_no_credentials_failure(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only botocore's own message is taken for the credentials: any other RuntimeError is a bug,
    # and goes on with its traceback.
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Credentials were refreshed")

    monkeypatch.setattr(key_commands, "inventory", broken)
    with pytest.raises(RuntimeError, match=r"^Credentials were refreshed$"):
        run(capsys, "--region", REGION)


def test_one_accounts_inventory_refused_by_identity_center_says_what_to_check(
    aws: None, kms_answers: KmsAnswers, sso_profile: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Outside a run of assumed roles too, any command: IAM Identity Center's ForbiddenException
    # (the permission set no longer assigned), met as botocore obtains the profile's
    # credentials for the first KMS call, read as that call's unknown error (exit 1). It is
    # exit 3, saying that IAM Identity Center refused the profile and what to check.
    def get_role_credentials(params: dict[str, Any], moto: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ForbiddenException", "Message": "No access"}},
            "GetRoleCredentials",
        )

    kms_answers.answers["GetRoleCredentials"] = get_role_credentials
    code, _, err = run(capsys, "--profile", "caller", "--region", REGION)
    assert code == EXIT_ACCESS_DENIED
    line = err.strip()
    assert "\n" not in line
    assert "IAM Identity Center refused the profile's credentials: ForbiddenException: No " in line
    assert line.endswith(
        "access. Check that the permission set of the profile (sso_role_name) is assigned to "
        "the caller's user for its account (sso_account_id) (IAM Identity Center's account "
        "assignments; aws sso list-account-roles lists the user's): ask an administrator to "
        "assign it again, or set sso_account_id and sso_role_name of the profile to an "
        "assignment the user has; then run again"
    ), line


@pytest.mark.parametrize(
    ("code", "exit_code", "said"),
    [
        (
            "ForbiddenException",
            EXIT_ACCESS_DENIED,
            "IAM Identity Center refused the profile's credentials: ForbiddenException: No access. "
            "Check that the permission set of the profile (sso_role_name) is assigned",
        ),
        (
            "TooManyRequestsException",
            EXIT_THROTTLED,
            "TooManyRequestsException: No access (IAM Identity Center throttled obtaining the "
            "profile's credentials). Raise --max-attempts, use --retry-mode adaptive, or wait "
            "and run again",
        ),
    ],
)
def test_envelope_encryption_refused_by_identity_center_is_the_credentials_failure(
    code: str,
    exit_code: int,
    said: str,
    aws: None,
    kms_answers: KmsAnswers,
    sso_profile: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The Encryption SDK wraps the error of obtaining the credentials for its KMS call as it
    # wraps KMS's: no KMS call failed, and it read as a conflict of keys (exit 7, "unable to
    # generate data key"). It is the credentials' failure, as in every other command.
    key = new_key(kms_of(CALLER))

    def get_role_credentials(params: dict[str, Any], moto: Any) -> Any:
        raise ClientError({"Error": {"Code": code, "Message": "No access"}}, "GetRoleCredentials")

    kms_answers.answers["GetRoleCredentials"] = get_role_credentials
    plain, sealed = tmp_path / "plain.txt", tmp_path / "sealed.bin"
    plain.write_text("payload")
    argv = ["encrypt", "--profile", "caller", "--region", REGION, "--key", key]
    assert main([*argv, "--context", "app=x", str(plain), str(sealed)]) == exit_code
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    assert line.startswith("kmskit: error: could not generate a data key")
    assert said in line
    assert not sealed.exists()


CALLER_ROLE = f"arn:aws:iam::{CALLER}:role/PlatformInventory"


@pytest.fixture
def role_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The profile ``caller`` of an AWS config file: the role :data:`CALLER_ROLE`
    (``role_arn``), assumed with the keys of its ``source_profile``."""
    config = tmp_path / "config"
    config.write_text(
        "[profile source]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
        f"[profile caller]\nrole_arn = {CALLER_ROLE}\nsource_profile = source\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))


@pytest.mark.parametrize("renewal", [False, True], ids=["later-account", "renewal"])
def test_the_callers_own_role_refused_stops_the_run_and_is_no_accounts_refusal(
    renewal: bool,
    aws: None,
    kms_answers: KmsAnswers,
    role_profile: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The caller's profile is a role of its own (role_arn, source_profile), whose credentials
    # botocore renews with an AssumeRole of its own (5 minutes: at every use). From FIRST's
    # last key on, STS refuses that role (its trust policy changed): botocore raises that
    # refusal while our AssumeRole of an inventory role is signed, where it read as the
    # inventory role's refusal (ACCOUNT_UNREADABLE for every account after, exit 0). It is
    # the caller's failure, naming the caller's role: the run stops, at SECOND's first
    # AssumeRole, or (the inventory roles renewed at every use too) at SECOND's renewal.
    first = new_key(kms_of(FIRST))
    second = [new_key(kms_of(SECOND)) for _ in range(2)]
    new_key(kms_of(THIRD))
    refusing = False
    minutes = 5 if renewal else 60

    def assume_role(params: dict[str, Any], moto: Any) -> Any:
        if params["RoleArn"] == CALLER_ROLE:
            if refusing:
                raise refuse("AssumeRole", "AccessDenied")
            minutes_left = 5
        else:
            minutes_left = minutes
        found = moto(params)
        found["Credentials"]["Expiration"] = datetime.now(UTC) + timedelta(minutes=minutes_left)
        return found

    def describe_key(params: dict[str, Any], moto: Any) -> Any:
        nonlocal refusing
        refusing = refusing or params["KeyId"] == (second[1] if renewal else first)
        return moto(params)

    kms_answers.answers.update(AssumeRole=assume_role, DescribeKey=describe_key)
    code, out, err = run_as_caller(capsys, FIRST, SECOND, THIRD)
    assert code == EXIT_ACCESS_DENIED, err
    doing = "renew the credentials of" if renewal else "assume"
    read = (
        "1 key(s) read before the caller's credentials failed are reported; the rest of its "
        "keys are not"
        if renewal
        else "none of its keys is reported"
    )
    assert err == (
        f"kmskit: error: could not {doing} role arn:aws:iam::{SECOND}:role/{DEFAULT_ROLE_NAME} "
        f"of account {SECOND}: STS refused the caller's own role {CALLER_ROLE} (role_arn of "
        "profile caller): AccessDenied: refused. Check that role: its trust policy must trust "
        "the source of profile caller (source_profile, credential_source or "
        "web_identity_token_file), which must be allowed to assume it; then run again. The run "
        "stopped at account "
        f"{SECOND} (2 of 3): the 1 account(s) before it are reported; {read}; the 1 account(s) "
        "after it are not read\n"
    )
    assert keys_reported(out) == ([first, second[0]] if renewal else [first])
    assert THIRD not in asked_roles_of(kms_answers)


def test_credentials_refused_in_a_default_region_still_stop_the_run(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every account has enabled eu-west-1: a refusal there is not the account's opt-in status.
    refuse_credentials_in(monkeypatch, {(SECOND, REGION)}, "UnrecognizedClientException")
    arguments = ["key", "inventory", "--region", REGION, "--account", FIRST, "--account", SECOND]
    assert main(arguments) == EXIT_ACCESS_DENIED
    assert f"could not list the aliases of {REGION}: UnrecognizedClientException" in (
        one_error_line(capsys)
    )


def test_the_library_leaves_the_callers_own_account_as_it_was(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # inventory() (one account: the caller's) still stops on refused credentials, opt-in or not.
    def kms_of_region(region: str) -> Any:
        client = boto3.client("kms", region_name=region)
        stubber = Stubber(client)
        stubber.add_client_error("list_aliases", "UnrecognizedClientException", INVALID_TOKEN)
        stubber.activate()
        return client

    with pytest.raises(CredentialsRefusedError):
        list(inventory_of(kms_of_region, [OPT_IN]))


# --- the organization's accounts ---------------------------------------------------------------


def organization() -> dict[str, str]:
    """An organization of moto's account with three more; the third closed (SUSPENDED)."""
    org = boto3.client("organizations", region_name=REGION)
    org.create_organization(FeatureSet="ALL")
    made = {
        name: org.create_account(Email=f"{name}@example.com", AccountName=name)[
            "CreateAccountStatus"
        ]["AccountId"]
        for name in ("workload", "backup", "closed")
    }
    org.close_account(AccountId=made["closed"])
    return made


def test_the_organizations_active_accounts_are_read_to_the_last_page_suspended_ones_skipped(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    made = organization()
    workload = new_key(kms_of(made["workload"]))
    new_key(kms_of(made["closed"]))

    def one_a_page(params: dict[str, Any], moto: Any) -> Any:
        start = int(params.get("NextToken", 0))
        whole = moto({})
        page = {"Accounts": whole["Accounts"][start : start + 1]}
        if start + 1 < len(whole["Accounts"]):
            page["NextToken"] = str(start + 1)
        return page

    kms_answers.answers["ListAccounts"] = one_a_page
    code, out, err = run(
        capsys, "--region", REGION, "--accounts-from-organization", "--format", "json"
    )
    assert code == EXIT_OK, err
    found = json.loads(out)
    assert [a["account"] for a in found["accounts"]] == [CALLER, made["workload"], made["backup"]]
    assert [k["keyId"] for k in found["keys"]] == [workload]
    assert [r.get("NextToken") for r in kms_answers.requests["ListAccounts"]] == [
        None, "1", "2", "3",
    ]  # fmt: skip


def test_accounts_given_and_the_organizations_are_read_once_each(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    made = organization()
    code, out, _ = run(
        capsys,
        "--region", REGION,
        "--account", made["backup"],
        "--account", FIRST,
        "--accounts-from-organization",
        "--format", "json",
    )  # fmt: skip
    assert code == EXIT_OK
    assert [a["account"] for a in json.loads(out)["accounts"]] == [
        made["backup"], FIRST, CALLER, made["workload"],
    ]  # fmt: skip


def test_the_account_state_is_read_and_status_only_where_there_is_no_state() -> None:
    # AWS retires Status (September 2026): an answer may hold State only.
    org = boto3.client(
        "organizations",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(org) as stub:
        stub.add_response(
            "list_accounts",
            {
                "Accounts": [
                    {"Id": FIRST, "State": "ACTIVE"},
                    {"Id": SECOND, "State": "PENDING_CLOSURE", "Status": "ACTIVE"},
                ],
                "NextToken": "next",
            },
            {},
        )
        stub.add_response(
            "list_accounts",
            {"Accounts": [{"Id": THIRD, "Status": "ACTIVE"}, {"Id": CALLER, "State": "CLOSED"}]},
            {"NextToken": "next"},
        )
        assert organization_accounts(org) == [FIRST, THIRD]
        stub.assert_no_pending_responses()


def test_list_accounts_refused_stops_the_run_before_any_role_is_assumed(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(params: dict[str, Any], moto: Any) -> Any:
        raise refuse("ListAccounts", "AccessDeniedException")

    kms_answers.answers["ListAccounts"] = refused
    kms_answers.answers["AssumeRole"] = lambda params, moto: moto(params)
    code = main(["key", "inventory", "--region", REGION, "--accounts-from-organization"])
    assert code == EXIT_ACCESS_DENIED
    assert "could not list the accounts of the organization: AccessDeniedException" in (
        one_error_line(capsys)
    )
    assert "AssumeRole" not in kms_answers.requests


# --- CSV and the output file -------------------------------------------------------------------


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_is_a_header_and_a_row_per_key_quoted_as_rfc_4180_says(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = boto3.client("kms", region_name=REGION)
    tricky = 'orders, "EU"\r\nsecond line'
    key = new_key(kms, Description=tricky)
    for alias in ("alias/orders", "alias/orders-eu"):
        kms.create_alias(AliasName=alias, TargetKeyId=key)
    kms.disable_key(KeyId=key)
    formula = new_key(kms, Description='=HYPERLINK("https://example.com")')
    code, out, err = run(capsys, "--region", REGION, "--format", "csv")
    assert (code, err) == (EXIT_OK, "")
    assert out.startswith(",".join(CSV_FIELDS) + "\r\n")
    # RFC 4180: CRLF row ends, the field with a comma, quote or line break quoted, quotes doubled.
    assert '"orders, ""EU""\r\nsecond line"' in out
    rows = csv_rows(out)
    assert [row["keyId"] for row in rows] == [key, formula]
    row = rows[0]
    assert row["description"] == tricky
    assert (row["account"], row["region"]) == (CALLER, REGION)
    assert row["aliases"] == "alias/orders;alias/orders-eu"
    assert (row["keyState"], row["rotationEnabled"], row["grantCount"]) == (
        "Disabled",
        "false",
        "0",
    )
    assert row["findings"] == "DISABLED: the key is disabled: every use of it fails"
    assert (row["deletionDate"], row["refused"]) == ("", "")
    # A spreadsheet would run it as a formula: kmskit's CSV reports make such a cell inert.
    assert rows[1]["description"] == '\'=HYPERLINK("https://example.com")'
    # The same fields as the JSON, rotation and policy spread over columns of their own.
    code, out, _ = run(capsys, "--region", REGION, "--format", "json")
    (fields,) = {frozenset(k) for k in json.loads(out)["keys"]}
    spread = {"rotationEnabled", "rotationPeriodDays", "nextRotation", "onDemandRotationStarted",
              "externalAccounts", "publicStatements",
              "unlimitedServiceStatements"}  # fmt: skip
    assert set(CSV_FIELDS) == (fields - {"rotation", "policy"}) | spread


def test_csv_joins_findings_in_one_column_and_has_a_row_for_an_unreadable_account(
    aws: None, kms_answers: KmsAnswers, capsys: pytest.CaptureFixture[str]
) -> None:
    partner = "444444444444"
    shared = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{FIRST}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Partners", "Effect": "Allow",
             "Principal": {"AWS": [f"arn:aws:iam::{partner}:root", f"arn:aws:iam::{THIRD}:root"]},
             "Action": "kms:Decrypt", "Resource": "*"},
        ],
    }  # fmt: skip
    key = new_key(kms_of(FIRST), Policy=json.dumps(shared))
    refuse_role_of(kms_answers, SECOND)
    code, out, _ = run(
        capsys, "--region", REGION, "--account", FIRST, "--account", SECOND, "--format", "csv"
    )
    assert code == EXIT_OK
    keyed, unreadable = csv_rows(out)
    assert keyed["keyId"] == key
    assert keyed["externalAccounts"] == f"{THIRD};{partner}"
    assert keyed["findings"] == (
        "ROTATION_OFF: automatic rotation is off (EnableKeyRotation); "
        f"EXTERNAL_ACCESS: the key policy allows account(s) {THIRD}, {partner}"
    )
    assert f'account(s) {THIRD}, {partner}"\r\n' in out  # the cell holds a comma: quoted
    assert unreadable["account"] == SECOND
    assert unreadable["findings"].startswith("ACCOUNT_UNREADABLE: could not assume role ")
    assert {name for name, value in unreadable.items() if value} == {"account", "findings"}


def test_output_goes_to_the_file_whole_and_an_existing_one_needs_force(
    aws: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = new_key(boto3.client("kms", region_name=REGION))
    report = tmp_path / "keys.csv"
    code, out, err = run(capsys, "--region", REGION, "--format", "csv", "-o", str(report))
    assert (code, out, err) == (EXIT_OK, "", "")
    assert [row["keyId"] for row in csv_rows(report.read_bytes().decode())] == [key]
    assert report.read_bytes().count(b"\r\n") == 2
    code, _, err = run(capsys, "--region", REGION, "-o", str(report))
    assert code == EXIT_USAGE
    assert f"'--output' ('{report}') exists: give --force to replace it" in err
    code, _, _ = run(capsys, "--region", REGION, "--format", "json", "-o", str(report), "--force")
    assert code == EXIT_OK
    assert json.loads(report.read_text())["keys"][0]["keyId"] == key


def test_a_run_that_fails_half_way_leaves_no_output_file(
    aws: None, kms_answers: KmsAnswers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = boto3.client("kms", region_name=REGION)
    keys = [new_key(kms) for _ in range(3)]

    def throttled(params: dict[str, Any], moto: Any) -> Any:
        if params["KeyId"] == keys[2]:
            raise refuse("ListGrants", "ThrottlingException")
        return moto(params)

    kms_answers.answers["ListGrants"] = throttled
    report = tmp_path / "keys.json"
    args = ["--region", REGION, "--format", "json", "-o", str(report), "--workers", "1"]
    assert run(capsys, *args)[0] == EXIT_THROTTLED
    assert list(tmp_path.iterdir()) == []


# --- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "1234"], "'--account' must be a 12-digit account ID. Received: '1234'"),
        (
            ["--account", FIRST, "--account", "11111111111a"],
            "'--account' must be a 12-digit account ID. Received: '11111111111a'",
        ),
        (
            ["--account", FIRST, "--role-name", "/ops/KmskitKeyInventory"],
            "'--role-name' must be an IAM role name: 1-64 letters, digits and +=,.@_-, after "
            "its IAM path if it has one (path/to/NAME: segments of the same characters, at "
            "most 512 characters with the path's first and last '/'; no leading or trailing "
            "'/', no '//'). Received: '/ops/KmskitKeyInventory'",
        ),
        (["--account", FIRST, "--role-name", "R" * 65], f"Received: '{'R' * 65}'"),
        (["--account", FIRST, "--role-name", "ops/" + "R" * 65], f"Received: 'ops/{'R' * 65}'"),
        (["--account", FIRST, "--role-name", "ops/"], "Received: 'ops/'"),
        (["--account", FIRST, "--role-name", "ops//Reader"], "Received: 'ops//Reader'"),
        (["--account", FIRST, "--role-name", "ops*/Reader"], "Received: 'ops*/Reader'"),
        (["--account", FIRST, "--role-name", "ops:x/Reader"], "Received: 'ops:x/Reader'"),
        (["--account", FIRST, "--role-name", "ops/Réader"], "Received: 'ops/Réader'"),
        # The path "/" + 511 characters + "/" is 513 long: one too many.
        (["--account", FIRST, "--role-name", "p" * 511 + "/Reader"], "'--role-name' must be"),
        (
            ["--account", FIRST, "--external-id", "x"],
            "'--external-id' must be 2-1224 letters, digits and +=,.@:/_- (STS's ExternalId). "
            "Received: 'x'",
        ),
        (["--account", FIRST, "--external-id", "a b"], "Received: 'a b'"),
        (
            ["--role-name", "Reader"],
            "'--role-name' is for other accounts: give --account or "
            "--accounts-from-organization too. Received: --role-name Reader",
        ),
        (["--external-id", "abc123"], "'--external-id' is for other accounts"),
        (
            ["--account", FIRST, "--region", "eu-west-1", "--region", "cn-north-1"],
            "'--region' must name Regions of one partition to read other accounts (a role is "
            "assumed in one partition). Received: eu-west-1 (aws), cn-north-1 (aws-cn)",
        ),
        (["--format", "xlsx"], "argument --format: invalid choice: 'xlsx'"),
        (["--account", ""], "'--account' must not be empty."),
    ],
)
def test_bad_arguments_are_refused_naming_them_before_any_aws_call(
    args: list[str],
    message: str,
    no_aws: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    assert main(["key", "inventory", *args]) == EXIT_USAGE
    assert message in one_error_line(capsys)
    assert no_aws == []


# --- the permissions docs/keys.md gives ---------------------------------------------------------


def inventory_policies() -> list[dict[str, Any]]:
    """The JSON blocks of docs/keys.md's inventory section, parsed."""
    text = DOCS.read_text()
    start = text.index("## Key inventory: `kmskit key inventory`")
    end = text.index("\n## ", start + 1)
    first, last = text[:start].count("\n") + 1, text[:end].count("\n") + 1
    return [
        json.loads("\n".join(block.lines))
        for block in fenced_blocks(DOCS, {"json"})
        if first <= block.line <= last
    ]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement", document)
    return found if isinstance(found, list) else [found]


def test_the_documented_role_policy_allows_exactly_the_calls_the_inventory_makes(
    aws: None, kms_answers: KmsAnswers
) -> None:
    # Every KMS call a run makes, over keys of each kind it treats differently.
    kms = boto3.client("kms", region_name=REGION)
    for operation in kms.meta.service_model.operation_names:
        kms_answers.answers[operation] = lambda params, moto: moto(params)
    new_key(kms)
    new_key(kms, Origin="EXTERNAL")
    new_key(kms, KeySpec="RSA_2048")
    list(inventory_of(lambda region: kms, [REGION]))
    made = {f"kms:{operation}" for operation in kms_answers.requests}
    made -= {"kms:CreateKey"}  # the test's own
    assert made == set(INVENTORY_ACTIONS)
    (role_policy,) = [
        s
        for p in inventory_policies()
        for s in statements(p)
        if "kms:ListKeys" in s.get("Action", ())
    ]
    assert (role_policy["Effect"], role_policy["Resource"]) == ("Allow", "*")
    assert sorted(role_policy["Action"]) == sorted(INVENTORY_ACTIONS)


def test_the_documented_caller_and_trust_policies_name_the_role_and_the_calls_made() -> None:
    found = [s for p in inventory_policies() for s in statements(p)]
    caller = [s for s in found if s.get("Action") in ("sts:AssumeRole", ["sts:AssumeRole"])]
    assume = [s for s in caller if "Principal" not in s]
    trust = [s for s in caller if "Principal" in s]
    # The caller assumes the exact roles of the accounts it is given, or (organization mode)
    # the role's name in the accounts of its organization; both as the inventory, under its
    # session name.
    exact, organization = assume
    assert exact["Resource"] == [
        f"arn:aws:iam::{account}:role/{DEFAULT_ROLE_NAME}"
        for account in ("111111111111", "222222222222", "333333333333")
    ]
    assert exact["Condition"] == {"StringEquals": {"sts:RoleSessionName": ROLE_SESSION_NAME}}
    assert organization["Resource"] == f"arn:aws:iam::*:role/{DEFAULT_ROLE_NAME}"
    assert organization["Condition"] == {
        "StringEquals": {
            "sts:RoleSessionName": ROLE_SESSION_NAME,
            "aws:ResourceOrgID": "o-a1b2c3d4e5",
        }
    }
    (list_accounts,) = [s for s in found if s.get("Action") == "organizations:ListAccounts"]
    assert list_accounts["Resource"] == "*"
    (trust_statement,) = trust
    assert trust_statement["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert trust_statement["Condition"]["StringEquals"] == {
        "aws:PrincipalArn": "arn:aws:iam::111111111111:role/platform-inventory",
        "sts:RoleSessionName": ROLE_SESSION_NAME,
    }
