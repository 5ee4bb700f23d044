"""Opt-in Regions (af-south-1, ap-east-1, ... mx-central-1): Regions an account must enable before
anything works there, and where session tokens of the global STS endpoint of version 1 do not work
("Version 1 tokens are valid only in AWS Regions that are available by default", IAM API
reference, SetSecurityTokenServicePreferences). AWS refuses such calls as it refuses unknown
credentials, so a refusal of credentials in one names the Region and what to check there."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from kmskit.aws_names import DEFAULT_REGIONS, opt_in, opt_in_hint, partition
from kmskit.cli import command_regions, main
from kmskit.clients import ClientSettings
from kmskit.envelope import Envelope, partition_of
from kmskit.errors import EXIT_ACCESS_DENIED, CredentialsRefusedError
from kmskit.snapshots.engine import SnapshotEngine
from kmskit.snapshots.outcomes import DeadLetterError, classify
from tests._support.regions import OPT_IN
from tests.kmskit.envelope_support import (
    moto_multi_region_keys,
    multi_region_key,
    one_error_line,
    probe_clients,
)

INVALID_TOKEN = "The security token included in the request is invalid."


def botocore_commercial_regions() -> set[str]:
    return set(boto3.session.Session().get_available_regions("kms", partition_name="aws"))


def test_default_regions_are_regions_botocore_knows() -> None:
    # A typo in the closed set would make a default Region read as an opt-in Region.
    assert botocore_commercial_regions() >= DEFAULT_REGIONS
    assert len(DEFAULT_REGIONS) == 17


@pytest.mark.parametrize("region", OPT_IN)
def test_opt_in_regions_are_told_apart_and_are_in_the_aws_partition(region: str) -> None:
    assert opt_in(region)
    assert partition(region) == "aws"
    assert partition_of(region, ClientSettings()) == "aws"


def test_every_other_commercial_region_botocore_knows_is_opt_in() -> None:
    # Every Region launched after March 20, 2019 is an opt-in Region: a new one needs no update.
    assert {r for r in botocore_commercial_regions() if opt_in(r)} >= set(OPT_IN)
    assert {r for r in botocore_commercial_regions() if not opt_in(r)} == DEFAULT_REGIONS


@pytest.mark.parametrize(
    "region", ["eu-west-1", "us-east-1", "ap-northeast-3", "cn-north-1", "us-gov-west-1"]
)
def test_default_regions_and_other_partitions_are_not_opt_in(region: str) -> None:
    assert not opt_in(region)
    assert opt_in_hint([region]) is None


def test_the_hint_names_each_opt_in_region_once_and_what_to_check() -> None:
    hint = opt_in_hint(["eu-west-1", "ap-east-1", None, "ap-east-1", "me-south-1", "not a region"])
    assert hint is not None
    assert hint.startswith("ap-east-1, me-south-1 are opt-in Regions, disabled until")
    assert "aws account get-region-opt-status --region-name ap-east-1" in hint
    assert "global STS endpoint sts.amazonaws.com" in hint
    assert "token version is v2" in hint


@pytest.fixture
def kms_world() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.mark.parametrize("code", ["UnrecognizedClientException", "InvalidClientTokenId"])
def test_inventory_of_an_opt_in_region_that_refuses_the_credentials_says_what_to_check(
    kms_world: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
) -> None:
    probe_clients(monkeypatch).fail("ListKeys", code, INVALID_TOKEN)
    assert main(["key", "inventory", "--region", "eu-west-1", "--region", "ap-east-1"]) == (
        EXIT_ACCESS_DENIED
    )
    err = capsys.readouterr().err
    assert err.startswith("kmskit: error: could not list the keys of eu-west-1: ")
    assert "(refresh or check the AWS credentials)" in err
    assert "(ap-east-1 is an opt-in Region, disabled until the account enables it" in err
    assert "get-region-opt-status --region-name ap-east-1" in err
    assert err.count("\n") == 1


def test_the_profiles_region_counts_when_no_region_is_given(
    kms_world: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "mx-central-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    probe_clients(monkeypatch).fail("ListKeys", "UnrecognizedClientException", INVALID_TOKEN)
    assert main(["key", "inventory"]) == EXIT_ACCESS_DENIED
    assert "mx-central-1 is an opt-in Region" in capsys.readouterr().err


def test_a_default_region_gets_the_credentials_hint_only(
    kms_world: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    probe_clients(monkeypatch).fail("ListKeys", "UnrecognizedClientException", INVALID_TOKEN)
    assert main(["key", "inventory", "--region", "eu-west-1"]) == EXIT_ACCESS_DENIED
    err = capsys.readouterr().err
    assert "(refresh or check the AWS credentials)" in err
    assert "opt-in" not in err


def test_access_denied_gets_no_opt_in_hint(
    kms_world: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The credentials were accepted: the Region is enabled and the token valid there.
    probe_clients(monkeypatch).fail("ListKeys", "AccessDeniedException", "not allowed")
    assert main(["key", "inventory", "--region", "ap-east-1"]) == EXIT_ACCESS_DENIED
    assert "opt-in" not in capsys.readouterr().err


def _copy_into_ap_east_1(monkeypatch: pytest.MonkeyPatch, problem: DeadLetterError) -> int:
    """``kmskit snapshot copy`` of an EBS snapshot in eu-west-1 to ap-east-1, whose copy the
    engine stops with ``problem``; the exit code."""
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-west-1")
        volume = ec2.create_volume(AvailabilityZone="eu-west-1a", Size=8)["VolumeId"]
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        key = boto3.client("kms", region_name="ap-east-1").create_key()["KeyMetadata"]["Arn"]

        def refuse(self: SnapshotEngine, *args: Any, **kwargs: Any) -> Any:
            raise problem

        monkeypatch.setattr(SnapshotEngine, "copy", refuse)
        arguments = ["snapshot", "copy", snapshot, "--region", "eu-west-1"]
        arguments += ["--to-region", "ap-east-1", "--kms-key", key, "--quiet"]
        return main(arguments)


def test_a_copy_into_an_opt_in_region_that_refuses_the_credentials_exits_3_with_the_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # EC2 answers AuthFailure for credentials it refuses; the copy call goes to --to-region.
    problem = DeadLetterError(
        "copy in ap-east-1: AuthFailure: AWS was not able to validate the provided access "
        "credentials",
        "AuthFailure",
    )
    assert _copy_into_ap_east_1(monkeypatch, problem) == EXIT_ACCESS_DENIED
    err = capsys.readouterr().err
    assert "AuthFailure" in err
    assert "(refresh or check the AWS credentials)" in err
    assert "(ap-east-1 is an opt-in Region" in err


def test_a_copy_whose_reason_carries_the_hint_already_names_it_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The copy engine (shared with the Lambda, whose dead letters carry the hint) adds it to the
    # reason itself (classify): the CLI does not add it a second time.
    error = ClientError(
        {"Error": {"Code": "AuthFailure", "Message": "not validated"}}, "CopySnapshot"
    )
    problem = classify(error, "copy to ap-east-1", regions=["eu-west-1", "ap-east-1"])
    assert isinstance(problem, DeadLetterError)
    assert _copy_into_ap_east_1(monkeypatch, problem) == EXIT_ACCESS_DENIED
    err = capsys.readouterr().err
    assert "(refresh or check the AWS credentials)" in err
    assert err.count("ap-east-1 is an opt-in Region") == 1, err


def test_the_regions_of_a_command_are_its_region_options() -> None:
    # --log-region: `kmskit audit --verify` reads CloudTrail's public keys in each.
    audit = argparse.Namespace(region="eu-west-1", profile=None, log_region=["me-south-1"])
    assert command_regions(audit) == ["eu-west-1", "me-south-1"]
    inventory = argparse.Namespace(region=None, regions=["ap-east-1", "eu-west-1"], profile=None)
    assert command_regions(inventory) == ["ap-east-1", "eu-west-1"]
    copy = argparse.Namespace(region="eu-west-1", profile=None, to_region="il-central-1")
    assert command_regions(copy) == ["eu-west-1", "il-central-1"]
    # A key ARN or alias ARN is called in its own Region, whatever --region says.
    keys = [
        "arn:aws:kms:af-south-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:me-south-1:111111111111:alias/data",
        "alias/data",
    ]
    encrypt = argparse.Namespace(region="eu-west-1", profile=None, key=keys)
    assert command_regions(encrypt) == ["eu-west-1", "af-south-1", "me-south-1"]
    sign = argparse.Namespace(region="eu-west-1", profile=None, key=keys[0])
    assert command_regions(sign) == ["eu-west-1", "af-south-1"]


def _encrypted_under(key: str, tmp_path: Path) -> str:
    """A message file that ``kmskit encrypt`` wrote under ``key`` (a key ARN)."""
    source, message = tmp_path / "plain.txt", tmp_path / "plain.txt.enc"
    source.write_bytes(b"ledger")
    assert (
        main(["encrypt", "-q", "--key", key, "--context", "app=ledger", str(source), str(message)])
        == 0
    )
    return str(message)


@pytest.mark.parametrize("named", [False, True], ids=["discovery", "--key"])
def test_decrypt_refused_in_the_opt_in_region_of_the_messages_key_says_what_to_check(
    kms_world: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    named: bool,
) -> None:
    # Without --key only the message names the key, so only it tells where KMS is called: its
    # key ARN's Region (ap-east-1), not --region (eu-west-1). Named or not, the same hint.
    key = boto3.client("kms", region_name="ap-east-1").create_key()["KeyMetadata"]["Arn"]
    message = _encrypted_under(key, tmp_path)
    probe_clients(monkeypatch).fail("Decrypt", "UnrecognizedClientException", INVALID_TOKEN)
    argv = ["decrypt", "-q", "--region", "eu-west-1", *(["--key", key] if named else [])]
    assert main([*argv, message, str(tmp_path / "out")]) == EXIT_ACCESS_DENIED
    err = one_error_line(capsys)
    assert "UnrecognizedClientException" in err
    assert "(refresh or check the AWS credentials)" in err
    assert "(ap-east-1 is an opt-in Region, disabled until the account enables it" in err
    assert "get-region-opt-status --region-name ap-east-1" in err
    assert not (tmp_path / "out").exists()


def test_discovery_decrypt_hints_at_the_messages_region_not_at_region(
    kms_world: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # The message's key is in eu-west-1, a default Region: KMS was never called in --region's
    # opt-in Region, so that is not what to check.
    key = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    message = _encrypted_under(key, tmp_path)
    probe_clients(monkeypatch).fail("Decrypt", "UnrecognizedClientException", INVALID_TOKEN)
    argv = ["decrypt", "-q", "--region", "me-south-1", message, str(tmp_path / "out")]
    assert main(argv) == EXIT_ACCESS_DENIED
    err = one_error_line(capsys)
    assert "(refresh or check the AWS credentials)" in err
    assert "opt-in" not in err


def test_get_refused_in_the_opt_in_region_of_the_objects_key_says_what_to_check(
    kms_world: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # kmskit get decrypts by discovery too; naming the object keeps the Regions of the refusal.
    key = boto3.client("kms", region_name="me-south-1").create_key()["KeyMetadata"]["Arn"]
    location = {"LocationConstraint": "eu-west-1"}
    boto3.client("s3").create_bucket(Bucket="ledgers", CreateBucketConfiguration=location)
    source = tmp_path / "ledger.csv"
    source.write_bytes(b"a,b")
    uri = "s3://ledgers/2026/ledger.csv"
    assert main(["put", "-q", "--key", key, "--context", "app=ledger", str(source), uri]) == 0
    probe_clients(monkeypatch).fail("Decrypt", "InvalidClientTokenId", INVALID_TOKEN)
    argv = ["get", "-q", "--region", "eu-west-1", uri, str(tmp_path / "out")]
    assert main(argv) == EXIT_ACCESS_DENIED
    err = one_error_line(capsys)
    assert err.startswith(f"kmskit: error: could not decrypt {uri} the data key (message keys: ")
    assert "(me-south-1 is an opt-in Region, disabled until the account enables it" in err


def test_a_discovery_refusal_carries_the_regions_kms_was_called_in(
    kms_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # For a library caller too (CredentialsRefusedError.regions): each key ARN's own Region, or
    # the discovery Region, where the SDK calls a multi-Region key's replica.
    with moto_multi_region_keys():
        primary, replicas = multi_region_key("eu-west-1", ("me-south-1",))
        single = boto3.client("kms", region_name="ap-east-1").create_key()["KeyMetadata"]["Arn"]
        context = {"app": "ledger"}
        with Envelope([primary, single]) as writer:
            message = writer.encrypt(b"ledger", context)
        probe_clients(monkeypatch).fail("Decrypt", "UnrecognizedClientException", INVALID_TOKEN)
        with Envelope() as reader, pytest.raises(CredentialsRefusedError) as caught:
            reader.decrypt(message, context)
        # Each once, in the message's order of its data keys.
        assert sorted(caught.value.regions or ()) == ["ap-east-1", "eu-west-1"]
        with (
            Envelope(discovery_region="me-south-1") as reader,
            pytest.raises(CredentialsRefusedError) as caught,
        ):
            reader.decrypt(message, context)
        assert caught.value.regions == ("me-south-1",)
        assert replicas["me-south-1"].startswith("arn:aws:kms:me-south-1:")
        # With the key named, the caller knows where KMS is called (the CLI: --key).
        with Envelope([single]) as reader, pytest.raises(CredentialsRefusedError) as caught:
            reader.decrypt(message, context)
        assert caught.value.regions is None
