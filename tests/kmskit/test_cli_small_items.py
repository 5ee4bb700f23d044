"""Small defects of the kmskit CLI, each test failing before its fix:

- ``verify --signature -`` read standard input as a file named ``-`` ("no signature file",
  exit 4); it now reads the signature from stdin, and refuses INPUT ``-`` with it (exit 2);
- ``audit``'s table output did not say that log files were skipped (listed, but gone when
  read): only stderr and ``--format json`` did;
- ``snapshot copy`` exited 3 (access denied) for a disabled or pending-deletion KMS key, where
  every other kmskit command exits 7 (conflict) for a key in the wrong state; the Lambda's
  classification of the same errors is unchanged.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from kmskit.cli import main
from kmskit.commands import snapshot as snapshot_command
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    ConflictError,
)
from kmskit.snapshots.engine import SnapshotEngine, SnapshotInfo
from kmskit.snapshots.model import SnapshotRef
from kmskit.snapshots.outcomes import KEY_CODES, DeadLetterError, classify
from tests.kmskit import test_audit as audit_base
from tests.kmskit import test_audit_limits as audit_limits
from tests.kmskit.conftest import COPY_REGION as TARGET_REGION
from tests.kmskit.conftest import SNAPSHOT_REGION as SOURCE_REGION
from tests.kmskit.envelope_support import (
    ClientProbe,
    KmsWorld,
    emulate_asymmetric_kms,
    one_error_line,
    probe_clients,
)

# --- verify --signature - -------------------------------------------------------------------------


@pytest.fixture
def probe(world: KmsWorld, monkeypatch: pytest.MonkeyPatch) -> ClientProbe:
    """KMS clients whose asymmetric calls are emulated (moto signs but does not verify)."""
    probe = probe_clients(monkeypatch)
    emulate_asymmetric_kms(probe)
    return probe


@pytest.fixture
def signed(world: KmsWorld, probe: ClientProbe, tmp_path: Path) -> dict[str, Any]:
    """A P-256 signing key, a signed file, its signature and the key's exported public key."""
    arn = world.new_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    data = tmp_path / "release.tar"
    data.write_bytes(b"release 1.2.3\n" * 500)
    signature = tmp_path / "release.sig"
    pem = tmp_path / "signer.pem"
    assert main(["sign", "--key", arn, "-q", str(data), str(signature)]) == EXIT_OK
    assert main(["pubkey", "export", "--key", arn, "-q", str(pem)]) == EXIT_OK
    return {"arn": arn, "data": data, "signature": signature.read_bytes(), "pem": pem}


def stdin_holding(monkeypatch: pytest.MonkeyPatch, data: bytes) -> io.BytesIO:
    raw = io.BytesIO(data)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw))
    return raw


@pytest.mark.parametrize("source", ["--public-key", "--key"])
def test_verify_reads_the_signature_from_stdin(
    signed: dict[str, Any],
    source: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # It opened a file named '-': "no signature file at '-'", exit 4.
    stdin_holding(monkeypatch, signed["signature"])
    key = str(signed["pem"]) if source == "--public-key" else signed["arn"]
    argv = ["verify", source, key, "--signature", "-", str(signed["data"])]
    assert main(argv) == EXIT_OK
    assert capsys.readouterr().err == "kmskit: signature valid (ECDSA_SHA_256, verified locally)\n"


def test_verify_from_stdin_still_finds_a_bad_signature(
    signed: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The bytes on stdin are what is checked: another data's signature does not verify.
    other = signed["data"].with_name("other.tar")
    other.write_bytes(b"release 1.2.4\n" * 500)
    stdin_holding(monkeypatch, signed["signature"])
    argv = ["verify", "--public-key", str(signed["pem"]), "--signature", "-", str(other)]
    assert main(argv) == EXIT_INTEGRITY
    assert "the signature does not match the data (ECDSA_SHA_256" in one_error_line(capsys)


def test_verify_refuses_stdin_for_both_the_signature_and_the_data(
    no_aws: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = stdin_holding(monkeypatch, b"signature then data")
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert main(["verify", "--key", key, "--signature", "-", "-"]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--signature' and 'INPUT' cannot both be - (standard input holds only "
        "one of them): give the other as a file. Received: --signature - and INPUT -"
    )
    assert raw.tell() == 0  # stdin was not read
    assert no_aws == []  # refused before any AWS client


def test_verify_refuses_an_empty_signature_on_stdin(
    no_aws: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"x")
    stdin_holding(monkeypatch, b"")
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert main(["verify", "--key", key, "--signature", "-", str(data)]) == EXIT_USAGE
    assert one_error_line(capsys) == (
        "kmskit: error: '--signature' must hold 1-4627 bytes. Received: 0 bytes"
    )
    assert no_aws == []


def test_only_a_bare_dash_means_stdin_for_the_signature(
    no_aws: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only '-' itself means stdin.
    data = tmp_path / "data"
    data.write_bytes(b"x")
    missing = tmp_path / "-sig"
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert main(["verify", "--key", key, "--signature", str(missing), str(data)]) == (
        EXIT_NOT_FOUND
    )
    assert one_error_line(capsys) == f"kmskit: error: no signature file at '{missing}'"


# --- audit: the table says how many log files were skipped --------------------------------------


def audit_table(
    bucket: str, out: Path, monkeypatch: pytest.MonkeyPatch, *, expire: bool
) -> list[str]:
    """The lines of ``--format table -o out`` over two days of Alice's calls in ``bucket``,
    the first day's log file deleted after its folder was listed when ``expire``."""
    with mock_aws():
        s3, expired = audit_limits.expiring_bucket(bucket)
        if expire:
            audit_limits.expire_after_listing(monkeypatch, s3, expired)
        argv = ["audit", f"s3://{bucket}/{audit_base.PREFIX}", "--quiet", "--since",
                "2026-11-02", "--until", "2026-11-08", "-o", str(out)]  # fmt: skip
        assert main(argv) == EXIT_OK
    return out.read_text().splitlines()


def test_audit_table_counts_the_log_files_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The table (here a file, stderr elsewhere) showed one Decrypt and nothing else: a reader
    # of the file could not tell that a day's calls were missing.
    lines = audit_table("audit-table-expiring", tmp_path / "usage.txt", monkeypatch, expire=True)
    assert lines[0].split() == ["KEY", "PRINCIPAL", "EVENT", "COUNT", "FAILED", "FIRST", "SEEN",
                                "LAST", "SEEN"]  # fmt: skip
    assert lines[1].split()[:5] == [audit_base.DATA_KEY, audit_base.ALICE, "Decrypt", "1", "0"]
    assert lines[2:] == [
        "objectsSkipped: 1 log file listed but gone when read (deleted meanwhile): their "
        "records are not in this table"
    ]
    assert "was listed but is gone" in capsys.readouterr().err  # the warning still names it


def test_audit_table_without_skipped_files_has_no_such_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = audit_table("audit-table-complete", tmp_path / "usage.txt", monkeypatch, expire=False)
    assert len(lines) == 2  # the header and Alice's Decrypt row (count 2)
    assert lines[1].split()[:5] == [audit_base.DATA_KEY, audit_base.ALICE, "Decrypt", "2", "0"]


# --- snapshot copy: a key in the wrong state is a conflict (7), as for every kmskit command -------

POLICY_HINT = "(the KMS key cannot be used: check its key policy)"  # the Lambda's, unchanged
STATE_HINT = (
    "(a KMS key is not in a state to be used: disabled, pending deletion or import, or "
    "unavailable; `aws kms describe-key` shows its KeyState)"
)


def refuse_copy(monkeypatch: pytest.MonkeyPatch, code: str, message: str) -> ClientProbe:
    """EC2 CopySnapshot answers ``code`` (moto does not check the key's state)."""
    probe = probe_clients(monkeypatch)
    probe.respond("CopySnapshot", lambda _: (400, {"Error": {"Code": code, "Message": message}}))
    return probe


def copy_argv(aws: dict[str, str]) -> list[str]:
    return ["snapshot", "copy", aws["snapshot"], "--region", SOURCE_REGION, "--to-region",
            TARGET_REGION, "--kms-key", aws["key"], "-q"]  # fmt: skip


def copies_in_target() -> list[dict[str, Any]]:
    ec2 = boto3.client("ec2", region_name=TARGET_REGION)
    only_kmskit = [{"Name": "tag:kmskit:managed-by", "Values": ["kmskit-snapshots"]}]
    return list(ec2.describe_snapshots(OwnerIds=["self"], Filters=only_kmskit)["Snapshots"])


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # EC2's answer for a disabled key or one pending deletion.
        ("InvalidKMSKey.InvalidState", "The KMS key provided is in an incorrect state"),
        # KMS's own codes, as encrypt, sign ... report them (exit 7 there too).
        ("DisabledException", "arn:aws:kms:... is disabled."),
        ("KMSInvalidStateException", "arn:aws:kms:... is pending deletion."),
        ("KeyUnavailableException", "the custom key store is disconnected"),
    ],
)
def test_snapshot_copy_with_a_key_in_the_wrong_state_exits_7(
    aws: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
    message: str,
) -> None:
    # It exited 3 (access denied) and said "check its key policy": a script retried with other
    # credentials, and an operator looked at the policy of a key that was only disabled.
    probe = refuse_copy(monkeypatch, code, message)
    assert main(copy_argv(aws)) == EXIT_CONFLICT
    line = one_error_line(capsys)
    source = f"arn:aws:ec2:{SOURCE_REGION}::snapshot/{aws['snapshot']}"
    assert line == (
        f"kmskit: error: copy {source} to {TARGET_REGION} with {aws['key']}: {code}: {message} "
        f"{STATE_HINT}; the keys it uses: --kms-key {aws['key']} (encrypts the copy)"
    )
    assert probe.calls["CopySnapshot"] == 1
    assert copies_in_target() == []


def test_snapshot_copy_with_a_key_refused_still_exits_3(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refuse_copy(monkeypatch, "KMSAccessDeniedException", "not allowed")
    assert main(copy_argv(aws)) == EXIT_ACCESS_DENIED
    line = one_error_line(capsys)
    assert f"KMSAccessDeniedException: not allowed {POLICY_HINT}; the keys it uses:" in line


@pytest.mark.parametrize("code", ["InvalidKmsKey.NotFound", "KMSNotFoundException"])
def test_snapshot_copy_with_a_key_that_does_not_exist_exits_4(
    aws: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
) -> None:
    # It exited 3 (access denied), where every other kmskit command exits 4 for an unknown key.
    refuse_copy(monkeypatch, code, "The key ID does not exist")
    assert main(copy_argv(aws)) == EXIT_NOT_FOUND
    line = one_error_line(capsys)
    assert line.endswith(
        f"{code}: The key ID does not exist (a KMS key does not exist: check its ARN, Region "
        "and account; `aws kms describe-key` finds it); the keys it uses: "
        f"--kms-key {aws['key']} (encrypts the copy)"
    )
    assert POLICY_HINT not in line
    assert copies_in_target() == []


def test_a_key_state_error_after_the_copy_started_exits_7_too() -> None:
    # Any engine step (not only the copy call) maps a key's state the same way.
    problem = DeadLetterError(
        f"share x: DisabledException: disabled {POLICY_HINT}", "DisabledException"
    )
    error = snapshot_command._fail(problem)
    assert isinstance(error, ConflictError)
    assert str(error) == f"share x: DisabledException: disabled {STATE_HINT}"


def test_the_lambda_still_dead_letters_every_key_code_with_its_hint() -> None:
    # KEY_CODES keeps its meaning for the Lambda: one class, dead-lettered with the same reason.
    assert snapshot_command.KEY_STATE_CODES <= KEY_CODES
    for code in sorted(KEY_CODES):
        error = ClientError({"Error": {"Code": code, "Message": "m"}}, "CopySnapshot")
        problem = classify(error, "copy x")
        assert type(problem) is DeadLetterError, code
        assert (
            problem.reason
            == f"copy x: {code}: m (the KMS key cannot be used: check its key policy)"
        )
        assert problem.code == code


def fail_the_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The EBS copy starts, then fails as EC2 reports a key it could not use (moto's copies
    never fail)."""

    def wait(self: SnapshotEngine, ref: SnapshotRef, **_: Any) -> SnapshotInfo:
        raise DeadLetterError(f"copy {ref.arn} failed: Given key ID is not accessible")

    monkeypatch.setattr(SnapshotEngine, "wait", wait)


def test_an_ebs_copy_failed_for_a_disabled_key_says_so_exit_7(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # EC2's message does not say why; it exited 3 (access denied) for a key that was disabled.
    key_id = aws["key"].rsplit("/", 1)[1]  # moto disables by key ID only
    boto3.client("kms", region_name=TARGET_REGION).disable_key(KeyId=key_id)
    fail_the_wait(monkeypatch)
    assert main([*copy_argv(aws), "--wait"]) == EXIT_CONFLICT
    assert one_error_line(capsys).endswith(
        f"failed: Given key ID is not accessible ({aws['key']} is Disabled: enable it (aws kms "
        "enable-key); then run the command again)"
    )


def test_an_ebs_copy_failed_for_an_enabled_key_is_still_access_denied_exit_3(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_the_wait(monkeypatch)
    assert main([*copy_argv(aws), "--wait"]) == EXIT_ACCESS_DENIED
    # Named as for a refused copy call (the source here is unencrypted: --kms-key alone).
    assert one_error_line(capsys).endswith(
        f"failed: Given key ID is not accessible; the keys it uses: --kms-key {aws['key']} "
        "(encrypts the copy)"
    )
