"""kmskit.envelope against moto's KMS (real AES-GCM): round trips, the encryption context,
tampering, keys, commitment, and interop with the stock aws_encryption_sdk."""

from __future__ import annotations

import contextlib
import gc
import io
import math
import os
import stat
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import boto3
import pytest
from aws_encryption_sdk.caches import CryptoMaterialsCacheEntry
from aws_encryption_sdk.identifiers import (
    Algorithm,
    CommitmentPolicy,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header
from aws_encryption_sdk.key_providers.base import MasterKeyProvider, MasterKeyProviderConfig
from aws_encryption_sdk.key_providers.kms import KMSMasterKey, KMSMasterKeyConfig
from aws_encryption_sdk.key_providers.raw import RawMasterKey
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from kmskit.clients import ClientSettings
from kmskit.envelope import (
    DEFAULT_FRAME_LENGTH,
    CacheLimits,
    Envelope,
    MessageInfo,
    Suite,
    _DiscoveryProvider,
    _KmsFailures,
    parse_context,
    resolve_key_arn,
)
from kmskit.errors import (
    EXIT_CONFLICT,
    EXIT_INTEGRITY,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    AccessDeniedError,
    ConflictError,
    IntegrityError,
    KmskitError,
    NotFoundError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    ALIAS,
    REGION,
    KmsWorld,
    clients_made_and_closed,
    data_keys_tried_first,
    kms_world,
    probe_clients,
)

CONTEXT = {"purpose": "backup", "team": "payments"}
FRAME = 4096  # small frames so that a few KiB of data make several frames


@pytest.fixture(scope="module")
def world() -> Iterator[KmsWorld]:
    """One moto KMS for the module (tests add keys; none deletes or disables one)."""
    with kms_world() as kms:
        yield kms


def stock_client(policy: object = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT) -> object:
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=policy)


def stock_provider(arn: str) -> object:
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn])


@pytest.mark.parametrize(
    "size", [0, 1, FRAME - 1, FRAME, FRAME + 1, 3 * FRAME + 17], ids=lambda n: f"{n}B"
)
def test_bytes_round_trip_at_frame_boundaries(world: KmsWorld, size: int) -> None:
    data = os.urandom(size)
    envelope = Envelope([world.arn], frame_length=FRAME)
    message = envelope.encrypt(data, CONTEXT)
    assert size < 16 or data not in message  # a 1-byte plaintext may appear by chance
    assert Envelope().decrypt(message, CONTEXT) == data


def test_default_is_committing_unsigned_suite_with_1_mib_frames(world: KmsWorld) -> None:
    sink = io.BytesIO()
    info = Envelope([ALIAS]).encrypt_stream(io.BytesIO(b"x" * 100), sink, CONTEXT)
    header, _ = deserialize_header(io.BytesIO(sink.getvalue()))
    assert header.algorithm is Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY
    assert header.frame_length == DEFAULT_FRAME_LENGTH == 1024 * 1024
    # The alias was resolved by KMS: the message names the key ARN.
    assert info == MessageInfo(
        context=CONTEXT, key_ids=(world.arn,), suite_id=0x0478, signed=False, frame_length=2**20
    )


def test_signed_suite_round_trip_and_require_signed(world: KmsWorld) -> None:
    data = os.urandom(10_000)
    signed = Envelope([world.arn], suite=Suite.SIGNED, frame_length=FRAME).encrypt(data, CONTEXT)
    unsigned = Envelope([world.arn], frame_length=FRAME).encrypt(data, CONTEXT)
    reader = Envelope()
    assert reader.decrypt(signed, CONTEXT, require_signed=True) == data
    assert reader.decrypt(unsigned, CONTEXT) == data
    with pytest.raises(IntegrityError, match=r"not signed \(algorithm suite 0x0478\)"):
        reader.decrypt(unsigned, require_signed=True)
    info = reader.decrypt_stream(io.BytesIO(signed), io.BytesIO())
    assert (info.suite_id, info.signed) == (0x0578, True)
    assert "aws-crypto-public-key" not in info.context


def test_stream_round_trip_reports_progress(world: KmsWorld) -> None:
    data = os.urandom(5 * FRAME + 3)
    read: list[int] = []
    encrypted = io.BytesIO()
    Envelope([world.arn], frame_length=FRAME).encrypt_stream(
        io.BytesIO(data), encrypted, CONTEXT, on_read=read.append
    )
    assert sum(read) == len(data)
    decrypted = io.BytesIO()
    Envelope([world.arn]).decrypt_stream(io.BytesIO(encrypted.getvalue()), decrypted, CONTEXT)
    assert decrypted.getvalue() == data


def test_file_round_trip_writes_owner_only_files(world: KmsWorld, tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(3 * FRAME))
    envelope = Envelope([world.arn], frame_length=FRAME)
    envelope.encrypt_file(source, tmp_path / "data.enc", CONTEXT, show_progress=False)
    envelope.decrypt_file(tmp_path / "data.enc", tmp_path / "out.bin", CONTEXT, show_progress=False)
    assert (tmp_path / "out.bin").read_bytes() == source.read_bytes()
    assert stat.S_IMODE((tmp_path / "out.bin").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin", "data.enc", "out.bin"]


def test_file_progress_bar_on_request(
    world: KmsWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(8 * FRAME))
    envelope = Envelope([world.arn], frame_length=FRAME)
    envelope.encrypt_file(source, tmp_path / "data.enc", CONTEXT, show_progress=True)
    assert "encrypt:" in capsys.readouterr().err
    envelope.encrypt_file(source, tmp_path / "data.enc", CONTEXT, show_progress=False)
    assert capsys.readouterr().err == ""


# -- encryption context ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        ({"purpose": "restore"}, "expected purpose=restore, the message has purpose=backup"),
        ({"tenant": "a"}, "expected tenant=a, but the message has no 'tenant'"),
    ],
)
def test_wrong_context_is_refused_before_any_kms_call(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, expected: dict[str, str], message: str
) -> None:
    encrypted = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    probe = probe_clients(monkeypatch)
    with pytest.raises(IntegrityError, match=message) as caught:
        Envelope().decrypt(encrypted, expected)
    assert caught.value.exit_code == EXIT_INTEGRITY
    assert probe.calls["Decrypt"] == 0


def test_subset_of_the_stored_context_is_enough(world: KmsWorld) -> None:
    encrypted = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    assert Envelope().decrypt(encrypted, {"team": "payments"}) == b"secret"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({}, "an encryption context is required"),
        ({"aws-crypto-public-key": "x"}, "'aws-crypto-public-key' is reserved"),
        ({"": "x"}, "must be non-empty strings"),
        # Bytes that are not UTF-8, as Python decodes them (argv, file names): KMS takes text.
        ({"k": "\udcff"}, r"must be UTF-8 text\. Received: 'k'='\\udcff'"),
        ({"caf\udce9": "v"}, r"must be UTF-8 text\. Received: 'caf\\udce9'='v'"),
    ],
)
def test_encrypt_refuses_missing_or_reserved_context(
    world: KmsWorld, context: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        Envelope([world.arn]).encrypt(b"x", context)


@pytest.mark.parametrize("how", ["encrypt", "encrypt_stream", "encrypt_file"])
def test_encrypt_refuses_an_empty_context_value_before_any_kms_call(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    # The message said "non-empty" while an empty value was encrypted.
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn])
    context = {"purpose": "backup", "tenant": ""}
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(b"x")
    calls = {
        "encrypt": lambda: envelope.encrypt(b"x", context),
        "encrypt_stream": lambda: envelope.encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), context),
        "encrypt_file": lambda: envelope.encrypt_file(source, target, context),
    }
    with pytest.raises(UsageError) as caught:
        calls[how]()
    assert str(caught.value) == (
        "encryption context keys and values must be non-empty strings. Received: 'tenant'=''"
    )
    assert sum(probe.calls.values()) == 0
    assert not target.exists()


def test_decrypt_accepts_an_empty_context_value_of_a_message_written_elsewhere(
    world: KmsWorld,
) -> None:
    # Another SDK (or kmskit before it refused them) may have encrypted with an empty value:
    # refusing it on decrypt would strand the data.
    message, _ = stock_client().encrypt(
        source=b"payload", key_provider=stock_provider(world.arn), encryption_context={"a": ""}
    )
    assert Envelope().decrypt(message, {"a": ""}) == b"payload"
    assert Envelope([world.arn]).decrypt(message) == b"payload"
    with pytest.raises(IntegrityError, match="expected a=x, the message has a="):
        Envelope().decrypt(message, {"a": "x"})
    # Still no empty key, nor a value that is no string.
    with pytest.raises(UsageError) as caught:
        Envelope().decrypt(message, {"": "x"})
    assert str(caught.value) == (
        "encryption context keys must be non-empty strings, and values strings. Received: ''='x'"
    )
    with pytest.raises(UsageError, match=r"values strings\. Received: 'a'=None"):
        Envelope().decrypt(message, {"a": None})  # type: ignore[dict-item]


def _refused_before_kms(
    monkeypatch: pytest.MonkeyPatch, key_arn: str, message: bytes, error: str
) -> None:
    """``message`` is refused as a conflict saying ``error``, in discovery and strict mode
    (``key_arn``), without a KMS call."""
    probe = probe_clients(monkeypatch)
    for envelope in (Envelope(), Envelope([key_arn])):
        with pytest.raises(ConflictError) as caught:
            envelope.decrypt(message, CONTEXT)
        assert str(caught.value) == error
        assert caught.value.exit_code == EXIT_CONFLICT
    assert probe.calls["Decrypt"] == 0


def test_a_message_with_more_than_10_data_keys_is_a_conflict_not_tampering(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A valid message (the stock SDK sets no limit) with 11 encrypted data keys.
    keys = [world.arn, *(world.new_key() for _ in range(10))]
    message, _ = stock_client().encrypt(
        source=b"payload",
        key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=keys),
        encryption_context=CONTEXT,
    )
    assert Envelope([keys[0]]).encrypt(b"x", CONTEXT)  # the keys themselves are fine
    _refused_before_kms(
        monkeypatch,
        world.arn,
        message,
        "could not decrypt: the message has 11 encrypted data keys; kmskit accepts at most "
        "10 (each could cost a KMS call). It is not damaged: decrypt it with an AWS "
        "Encryption SDK configured with a higher max_encrypted_data_keys, or have it "
        "encrypted under fewer keys",
    )
    # Ten keys are accepted.
    ten, _ = stock_client().encrypt(
        source=b"ten",
        key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=keys[:10]),
        encryption_context=CONTEXT,
    )
    assert Envelope().decrypt(ten, CONTEXT) == b"ten"


def test_a_message_with_frames_over_64_mib_is_a_conflict_not_tampering(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A valid message (the stock SDK allows such frames) whose header declares 128 MiB frames:
    # kmskit would hold a frame in memory, so it refuses it, before any KMS call, but it is
    # not damaged.
    message, _ = stock_client().encrypt(
        source=b"payload",
        key_provider=stock_provider(world.arn),
        encryption_context=CONTEXT,
        frame_length=128 * 2**20,
    )
    _refused_before_kms(
        monkeypatch,
        world.arn,
        message,
        "could not decrypt: the message has frames of 134217728 bytes; kmskit accepts at "
        "most 67108864 (64 MiB: a frame is held in memory). A message written that way is "
        "not damaged: decrypt it with an AWS Encryption SDK without that limit, or have it "
        "encrypted with smaller frames",
    )
    # A non-framed message says how long its body is (after the header, its tag and an IV).
    small, _ = stock_client().encrypt(
        source=b"payload",
        key_provider=stock_provider(world.arn),
        encryption_context=CONTEXT,
        frame_length=0,
    )
    at = _header_length(small) + 16 + 12
    large = small[:at] + (2**27).to_bytes(8, "big") + small[at + 8 :]
    with pytest.raises(ConflictError, match="has a non-framed body of 134217728 bytes; kmskit"):
        Envelope().decrypt(large, CONTEXT)
    # 64 MiB frames are accepted.
    at_limit, _ = stock_client().encrypt(
        source=b"payload",
        key_provider=stock_provider(world.arn),
        encryption_context=CONTEXT,
        frame_length=64 * 2**20,
    )
    assert Envelope().decrypt(at_limit, CONTEXT) == b"payload"


def test_encrypt_file_exclusive_never_replaces_an_existing_file(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(b"new")
    target.write_bytes(b"precious")
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn])
    with pytest.raises(UsageError) as caught:
        envelope.encrypt_file(source, target, CONTEXT, exclusive=True)
    assert str(caught.value) == f"could not write '{target}': it exists; it was left as it is"
    assert target.read_bytes() == b"precious"
    assert sum(probe.calls.values()) == 0
    message = envelope.encrypt(b"secret", CONTEXT)
    (tmp_path / "m.enc").write_bytes(message)
    with pytest.raises(UsageError, match="it exists; it was left as it is"):
        envelope.decrypt_file(tmp_path / "m.enc", target, CONTEXT, exclusive=True)
    assert target.read_bytes() == b"precious"
    # The default still replaces (library callers keep what they had).
    envelope.decrypt_file(tmp_path / "m.enc", target, CONTEXT)
    assert target.read_bytes() == b"secret"


def test_parse_context_names_the_bad_pair() -> None:
    assert parse_context(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(UsageError, match=r"must be key=value\. Received: 'novalue'"):
        parse_context(["novalue"])
    with pytest.raises(UsageError, match=r"names the key 'a' twice\. Received: 'a=2'"):
        parse_context(["a=1", "a=2"])


@pytest.mark.parametrize("pair", ["purpose=", "=backup", "="])
def test_parse_context_refuses_an_empty_key_or_value(pair: str) -> None:
    # `--context purpose=$UNSET`: check_context says keys and values must be non-empty.
    with pytest.raises(UsageError) as caught:
        parse_context(["team=x", pair])
    assert str(caught.value) == (
        f"'--context' must be key=value with a non-empty key and value. Received: {pair!r}"
    )


# -- tampering ------------------------------------------------------------------------------------


def _flip(message: bytes, position: int) -> bytes:
    tampered = bytearray(message)
    tampered[position] ^= 0x01
    return bytes(tampered)


def _header_length(message: bytes) -> int:
    _, raw_header = deserialize_header(io.BytesIO(message))
    return len(raw_header)


@pytest.fixture(scope="module")
def messages(world: KmsWorld) -> dict[str, bytes]:
    data = os.urandom(4 * FRAME)
    return {
        "unsigned": Envelope([world.arn], frame_length=FRAME).encrypt(data, CONTEXT),
        "signed": Envelope([world.arn], frame_length=FRAME, suite=Suite.SIGNED).encrypt(
            data, CONTEXT
        ),
    }


@pytest.mark.parametrize("suite", ["unsigned", "signed"])
@pytest.mark.parametrize(
    ("where", "position"),
    [
        ("message id in the header", lambda m: 5),
        ("context value in the header", lambda m: m.index(b"payments") + 2),
        ("header authentication tag", lambda m: _header_length(m) + 3),
        ("first frame", lambda m: _header_length(m) + 16 + 40),
        ("middle frame", lambda m: len(m) // 2),
        ("last frame", lambda m: len(m) - 120),
    ],
)
def test_tampering_anywhere_is_detected(
    messages: dict[str, bytes], suite: str, where: str, position: object
) -> None:
    message = messages[suite]
    tampered = _flip(message, position(message))
    with pytest.raises(IntegrityError) as caught:
        Envelope().decrypt(tampered)
    assert caught.value.exit_code == EXIT_INTEGRITY


def test_tampered_signature_in_the_footer_is_detected(messages: dict[str, bytes]) -> None:
    with pytest.raises(IntegrityError, match="InvalidSignature"):
        Envelope().decrypt(_flip(messages["signed"], len(messages["signed"]) - 2))


def test_tampered_encrypted_data_key_is_refused_by_kms(
    world: KmsWorld, messages: dict[str, bytes]
) -> None:
    message = messages["unsigned"]
    # The encrypted data key follows its key ARN in the header.
    position = message.index(world.arn.encode()) + len(world.arn) + 2 + 40
    with pytest.raises(IntegrityError, match="InvalidCiphertextException"):
        Envelope().decrypt(_flip(message, position))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m[:-100], "truncated"),
        # header, its 16-byte tag, then frames of sequence number + IV + content + tag
        (lambda m: m[: _header_length(m) + 16 + 2 * (4 + 12 + FRAME + 16)], "truncated"),
        (lambda m: m + b"\x00", "unexpected data after the message"),
        (lambda m: b"not a message at all", "not an intact AWS Encryption SDK message"),
    ],
    ids=["cut-mid-frame", "cut-at-frame-boundary", "trailing-byte", "garbage"],
)
def test_truncated_or_extended_messages_are_refused(
    messages: dict[str, bytes], change: object, message: str
) -> None:
    with pytest.raises(IntegrityError, match=message):
        Envelope().decrypt(change(messages["unsigned"]))


def test_every_decryptor_is_closed_also_when_the_message_is_refused(
    messages: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's StreamDecryptor refuses to close before it read the footer; one left open was
    closed again by the garbage collector, which Python 3.13 reports on stderr ("Exception
    ignored in: <...StreamDecryptor...>", SerializationError: Footer not read)."""
    message = messages["signed"]
    envelope = Envelope()
    made: list[object] = []
    stream = envelope._sdk.stream

    def recording(**kwargs: object) -> object:
        made.append(stream(**kwargs))
        return made[-1]

    monkeypatch.setattr(envelope._sdk, "stream", recording)
    refused = {
        "garbage": b"not a message at all",
        "truncated": message[:-100],
        "tampered frame": _flip(message, len(message) // 2),
        "tampered signature": _flip(message, len(message) - 2),
        "trailing byte": message + b"\x00",
    }
    for name, changed in refused.items():
        with pytest.raises(IntegrityError):
            envelope.decrypt(changed)
        assert len(made) == 1, name
        assert getattr(made.pop(), "closed", None) is True, name
    with pytest.raises(IntegrityError, match="context"):
        envelope.decrypt(message, {"purpose": "another"})
    envelope.decrypt(message, CONTEXT)
    assert [getattr(d, "closed", None) for d in made] == [True, True]

    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    made.clear()
    gc.collect()
    assert unraisable == []


# -- keys -----------------------------------------------------------------------------------------


def test_strict_decrypt_resolves_alias_and_refuses_another_key(world: KmsWorld) -> None:
    message = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    assert Envelope([ALIAS]).decrypt(message, CONTEXT) == b"secret"
    assert Envelope([world.key_id]).decrypt(message, CONTEXT) == b"secret"
    other = world.new_key()
    with pytest.raises(ConflictError, match=f"wrong key: .*{world.arn}, not under {other}") as e:
        Envelope([other]).decrypt(message)
    assert e.value.exit_code == EXIT_CONFLICT


def test_message_under_two_keys_decrypts_with_either(world: KmsWorld) -> None:
    second = world.new_key()
    message = Envelope([world.arn, second]).encrypt(b"secret", CONTEXT)
    info = Envelope().decrypt_stream(io.BytesIO(message), io.BytesIO())
    assert info.key_ids == tuple(sorted([world.arn, second]))
    assert Envelope([second]).decrypt(message) == b"secret"


def test_unknown_key_is_not_found(world: KmsWorld) -> None:
    with pytest.raises(NotFoundError, match="alias/missing") as caught:
        Envelope(["alias/missing"]).encrypt(b"x", CONTEXT)
    assert caught.value.exit_code == EXIT_NOT_FOUND


def test_discovery_accounts_limit_which_keys_may_decrypt(world: KmsWorld) -> None:
    message = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    assert Envelope(discovery_accounts=["123456789012"]).decrypt(message) == b"secret"
    with pytest.raises(ConflictError, match="account\\(s\\) 123456789012, not of 999999999999"):
        Envelope(discovery_accounts=["999999999999"]).decrypt(message)


def test_discovery_accounts_are_checked_and_one_may_be_a_string(world: KmsWorld) -> None:
    message = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    # A string is one account, not twelve one-digit ones (which would refuse every key).
    assert Envelope(discovery_accounts="123456789012").decrypt(message) == b"secret"
    with pytest.raises(UsageError) as caught:
        Envelope(discovery_accounts=["123456789012", "12345678901"])
    assert str(caught.value) == (
        "'discovery_accounts' must be a 12-digit account ID. Received: '12345678901'"
    )
    with pytest.raises(UsageError, match=r"Received: 123456789012$"):
        Envelope(discovery_accounts=[123456789012])  # type: ignore[list-item]


def test_alias_arn_in_another_region_is_resolved_there(world: KmsWorld) -> None:
    """DescribeKey for an alias ARN goes to the alias ARN's Region, not the configured one."""
    west = boto3.client("kms", region_name="us-west-2")
    meta = west.create_key()["KeyMetadata"]
    west.create_alias(AliasName="alias/west-app", TargetKeyId=meta["KeyId"])
    alias_arn = meta["Arn"].split(":key/")[0] + ":alias/west-app"
    settings = ClientSettings(region="eu-west-1")
    message = Envelope([alias_arn], settings=settings).encrypt(b"secret", CONTEXT)
    assert Envelope([alias_arn], settings=settings).decrypt(message, CONTEXT) == b"secret"
    assert resolve_key_arn(alias_arn, settings) == meta["Arn"]


@pytest.mark.parametrize("region", ["us-gov-west-1", "cn-north-1"])
def test_discovery_accounts_work_outside_the_aws_partition(region: str) -> None:
    """GovCloud key ARNs are arn:aws-us-gov:..., China ones arn:aws-cn:...: the discovery
    filter takes its partition from the Region."""
    with mock_aws():
        arn = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
        account = arn.split(":")[4]
        settings = ClientSettings(region=region)
        message = Envelope([arn], settings=settings).encrypt(b"secret", CONTEXT)
        envelope = Envelope(settings=settings, discovery_accounts=[account])
        assert envelope.decrypt(message, CONTEXT) == b"secret"


def test_key_outside_the_discovery_partition_is_a_wrong_key(world: KmsWorld) -> None:
    """A message under an arn:aws: key, decrypted with a GovCloud discovery filter for the same
    account number: refused as the wrong key (exit 7), not reported as tampering."""
    message = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    account = world.arn.split(":")[4]
    envelope = Envelope(
        settings=ClientSettings(region="us-gov-west-1"), discovery_accounts=[account]
    )
    with pytest.raises(ConflictError) as caught:
        envelope.decrypt(message, CONTEXT)
    assert str(caught.value) == (
        f"wrong key: the message's data key is encrypted under {world.arn}, not under a key of "
        "partition aws-us-gov (the partition of the configured Region, to which discovery "
        "accounts are limited)"
    )
    assert caught.value.exit_code == EXIT_CONFLICT


OTHER_ACCOUNT = "999999999999"


class _KeysOfTwoAccounts(MasterKeyProvider):  # type: ignore[misc]
    """The SDK's KMS master keys given to it, each with its own client (of its account)."""

    provider_id = "aws-kms"
    _config_class = MasterKeyProviderConfig

    def _new_master_key(self, key_id: bytes) -> Any:
        raise KeyError(key_id)


def _message_under_two_accounts(world: KmsWorld) -> tuple[bytes, str, Any]:
    """A message with a copy of its data key under ``world.arn`` (account 123456789012) and one
    under a key of OTHER_ACCOUNT; that key's ARN; a session of OTHER_ACCOUNT (moto keeps its
    keys apart)."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/r", RoleSessionName="other-account"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    other_kms = session.client("kms")
    other_arn: str = other_kms.create_key()["KeyMetadata"]["Arn"]
    provider = _KeysOfTwoAccounts()
    for arn, client in ((world.arn, world.kms), (other_arn, other_kms)):
        provider.add_master_key_provider(
            KMSMasterKey(config=KMSMasterKeyConfig(key_id=arn, client=client))
        )
    sdk = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    message, _ = sdk.encrypt(
        source=b"secret",
        key_provider=provider,
        encryption_context=CONTEXT,
        algorithm=Suite.COMMITTED.algorithm,
    )
    return message, other_arn, session


@pytest.mark.parametrize("discovery_region", [None, REGION])
@pytest.mark.parametrize("first", ["refused", "allowed"])
def test_discovery_accounts_skip_a_copy_under_another_accounts_key(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, first: str, discovery_region: str | None
) -> None:
    """A message with copies of its data key under keys of two accounts decrypts with the
    allowed account's key whichever copy the SDK takes first: a copy under a key the discovery
    filter refuses is skipped (no KMS call), not the end of decryption, with or without a
    discovery Region (the multi-Region-aware provider)."""
    message, other_arn, session = _message_under_two_accounts(world)
    tried = data_keys_tried_first(monkeypatch, world.arn if first == "refused" else other_arn)
    envelope = Envelope(
        settings=ClientSettings(boto3_session=session),
        discovery_accounts=[OTHER_ACCOUNT],
        discovery_region=discovery_region,
    )
    assert envelope.decrypt(message, CONTEXT) == b"secret"
    assert tried[0] == (world.arn if first == "refused" else other_arn)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frame_length": 1000}, "'frame_length' must be a multiple of 4096"),
        ({"frame_length": 128 * 1024 * 1024}, "from 4 KiB to 64 MiB"),
        ({"keys": [""]}, "'keys' must not contain an empty key name"),
        ({"keys": ["k"] * 11}, "'keys' must name at most 10 keys. Received: 11"),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Envelope(**kwargs)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("keys", ("alias/other",)),
        ("settings", ClientSettings(region="us-east-1")),
        ("suite", Suite.SIGNED),
        ("frame_length", 123),
        ("cache_limits", None),
        ("discovery_accounts", ("111122223333",)),
    ],
)
def test_the_configuration_cannot_change_after_construction(
    world: KmsWorld, name: str, value: object
) -> None:
    # The key providers and the cache are built from it on first use: a change would be ignored
    # (keys: messages kept going to the old key) or apply unchecked (frame_length 123).
    envelope = Envelope([world.arn], cache=CacheLimits())
    first = envelope.encrypt(b"x", CONTEXT)
    before = getattr(envelope, name)
    with pytest.raises(AttributeError) as caught:
        setattr(envelope, name, value)
    assert str(caught.value) == (
        f"'{name}' is read-only: an Envelope keeps the configuration it was made with (its key "
        "providers and data key cache are built from it on first use); make a new Envelope "
        f"instead. Received: {value!r}"
    )
    assert getattr(envelope, name) == before
    assert (envelope.keys, envelope.suite, envelope.frame_length) == (
        (world.arn,),
        Suite.COMMITTED,
        DEFAULT_FRAME_LENGTH,
    )
    assert Envelope().decrypt(first, CONTEXT) == b"x"


def test_encrypt_without_keys_is_a_usage_error(world: KmsWorld) -> None:
    with pytest.raises(UsageError, match="encryption needs at least one KMS key"):
        Envelope().encrypt(b"x", CONTEXT)


# -- commitment policy and interop ----------------------------------------------------------------


def test_non_committing_messages_are_refused(world: KmsWorld) -> None:
    legacy = stock_client(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT)
    message, _ = legacy.encrypt(
        source=b"old", key_provider=stock_provider(world.arn), encryption_context=CONTEXT
    )
    with pytest.raises(IntegrityError, match="commitment policy"):
        Envelope().decrypt(message)


@pytest.mark.parametrize("suite", [Suite.COMMITTED, Suite.SIGNED])
def test_stock_sdk_decrypts_kmskit_messages(world: KmsWorld, suite: Suite) -> None:
    data = os.urandom(3 * DEFAULT_FRAME_LENGTH + 5)
    message = Envelope([ALIAS], suite=suite).encrypt(data, CONTEXT)
    plaintext, header = stock_client().decrypt(
        source=message, key_provider=stock_provider(world.arn)
    )
    assert plaintext == data
    assert {k: header.encryption_context[k] for k in CONTEXT} == CONTEXT


def test_kmskit_decrypts_stock_sdk_messages_with_its_defaults(world: KmsWorld) -> None:
    data = os.urandom(50_000)  # 13 frames of the SDK's default 4 KiB
    message, header = stock_client().encrypt(
        source=data, key_provider=stock_provider(world.arn), encryption_context=CONTEXT
    )
    assert header.algorithm is Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
    out = io.BytesIO()
    info = Envelope([world.arn]).decrypt_stream(
        io.BytesIO(message), out, CONTEXT, require_signed=True
    )
    assert out.getvalue() == data
    assert (info.suite_id, info.frame_length) == (0x0578, 4096)


def raw_aes_key(provider_id: str) -> RawMasterKey:
    """A raw AES wrapping key of the stock SDK: its key info is the key name, then binary (the
    tag and IV lengths and the IV)."""
    return RawMasterKey(
        provider_id=provider_id,
        key_id=b"escrow-key-1",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=os.urandom(32),
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )


@pytest.mark.parametrize("strict", [False, True])
def test_kmskit_decrypts_sdk_messages_that_also_carry_a_raw_key(
    world: KmsWorld, strict: bool
) -> None:
    # An SDK message whose data key is encrypted under a KMS key and a raw (escrow) key: the
    # SDK's KMS providers skip the raw key's data key, and so must kmskit's checks and report.
    provider = stock_provider(world.arn)
    provider.add_master_key_provider(raw_aes_key("escrow"))  # type: ignore[attr-defined]
    message, header = stock_client().encrypt(
        source=b"payload", key_provider=provider, encryption_context=CONTEXT
    )
    assert {edk.key_provider.provider_id for edk in header.encrypted_data_keys} == {
        "aws-kms",
        "escrow",
    }
    out = io.BytesIO()
    info = Envelope([world.arn] if strict else []).decrypt_stream(io.BytesIO(message), out, CONTEXT)
    assert out.getvalue() == b"payload"
    assert info.key_ids == (world.arn,)


def test_a_message_with_no_kms_data_key_is_the_wrong_key_in_every_mode(world: KmsWorld) -> None:
    # Only a raw (escrow) key's data key: nothing for kmskit to decrypt, and the refusal says so.
    message, _ = stock_client().encrypt(
        source=b"payload", key_provider=raw_aes_key("escrow"), encryption_context=CONTEXT
    )
    account = world.arn.split(":")[4]
    expected = {
        "strict": "encrypted under no KMS key, not under " + world.arn,
        "discovery": "message keys: none",
        "accounts": f"encrypted under no KMS key, so of no account(s), not of {account}",
    }
    envelopes = {
        "strict": Envelope([world.arn]),
        "discovery": Envelope(),
        "accounts": Envelope(discovery_accounts=[account]),
    }
    for mode, envelope in envelopes.items():
        with pytest.raises(ConflictError) as caught:
            envelope.decrypt(message, CONTEXT)
        assert expected[mode] in str(caught.value), mode


def test_a_kms_data_key_whose_key_id_is_not_text_is_an_integrity_error(world: KmsWorld) -> None:
    # Binary key info under the provider ID aws-kms, as a corrupted or forged header has it.
    message, _ = stock_client().encrypt(
        source=b"payload", key_provider=raw_aes_key("aws-kms"), encryption_context=CONTEXT
    )
    with pytest.raises(IntegrityError, match="key ID of an encrypted data key is not text"):
        Envelope().decrypt(message, CONTEXT)
    # A provider ID that is no longer text: one corrupted byte of a kmskit message's header.
    message = Envelope([world.arn]).encrypt(b"payload", CONTEXT)
    at = message.index(b"aws-kms")
    corrupted = message[:at] + b"\xff" + message[at + 1 :]
    with pytest.raises(IntegrityError, match="provider or key ID of an encrypted data key"):
        Envelope().decrypt(corrupted, CONTEXT)


MODES = ["discovery", "strict", "accounts"]


def envelope_in(mode: str, world: KmsWorld) -> Envelope:
    if mode == "strict":
        return Envelope([world.arn])
    if mode == "accounts":
        return Envelope(discovery_accounts=[world.arn.split(":")[4]])
    return Envelope()


@pytest.mark.parametrize("mode", MODES)
def test_a_data_key_whose_key_arn_names_an_invalid_region_is_an_integrity_error(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # One flipped bit turns 'eu-west-1' into 'eu,west-1': botocore makes no client there.
    message = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    damaged_arn = world.arn.replace(f":{REGION}:", ":eu,west-1:")
    damaged = message.replace(world.arn.encode(), damaged_arn.encode())
    envelope = envelope_in(mode, world)
    probe = probe_clients(monkeypatch)
    with pytest.raises(IntegrityError) as caught:
        envelope.decrypt(damaged, CONTEXT)
    assert str(caught.value) == (
        f"could not decrypt: the message's encrypted data key names the key ARN '{damaged_arn}', "
        "whose Region 'eu,west-1' is not a valid Region name: the message is corrupt or tampered "
        "with"
    )
    assert caught.value.exit_code == EXIT_INTEGRITY
    assert probe.calls["Decrypt"] == 0


def test_the_sdk_making_a_client_in_an_invalid_region_of_a_message_is_an_integrity_error(
    world: KmsWorld,
) -> None:
    # Where the SDK itself reads the Region of a message's key ARN (discovery mode), behind the
    # check above: botocore's InvalidRegionError is no kmskit error.
    provider = _DiscoveryProvider(
        settings=ClientSettings(), failures=_KmsFailures(), region_names=[REGION]
    )
    damaged_arn = "arn:aws:kms:eu,west-1:111122223333:key/k"
    with pytest.raises(IntegrityError) as caught:
        provider.master_key_for_decrypt(damaged_arn.encode())
    assert str(caught.value) == (
        f"could not decrypt: the message's encrypted data key names the key ARN '{damaged_arn}', "
        "whose Region 'eu,west-1' is not a valid Region name: the message is corrupt or tampered "
        "with"
    )


def test_an_invalid_region_from_the_caller_is_bad_usage_not_tampering(world: KmsWorld) -> None:
    bad_arn = world.arn.replace(f":{REGION}:", ":eu,west-1:")
    with pytest.raises(UsageError) as caught:
        Envelope([bad_arn], settings=ClientSettings(region=REGION)).encrypt(b"x", CONTEXT)
    assert str(caught.value) == (
        "the Region 'eu,west-1' (of a key ARN or the configured Region) is not a valid Region "
        f"name. Received: keys ['{bad_arn}'], Region '{REGION}'"
    )
    message = Envelope([world.arn]).encrypt(b"x", CONTEXT)
    with pytest.raises(UsageError) as caught:
        Envelope(settings=ClientSettings(region="eu,west-1")).decrypt(message, CONTEXT)
    assert str(caught.value) == (
        "the Region 'eu,west-1' (of a key ARN or the configured Region) is not a valid Region "
        "name. Received: keys [], Region 'eu,west-1'"
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_kms_data_key_whose_provider_id_changed_is_an_integrity_error(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # 'aws-kms' -> 'aws-kmt': the data key is no longer a KMS one, but its key info still is a
    # KMS key ARN. Tampering (exit 5), not a message for another kind of key (exit 7).
    message = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    damaged = message.replace(b"aws-kms", b"aws-kmt", 1)
    envelope = envelope_in(mode, world)
    probe = probe_clients(monkeypatch)
    with pytest.raises(IntegrityError) as caught:
        envelope.decrypt(damaged, CONTEXT)
    assert str(caught.value) == (
        "could not decrypt: no encrypted data key in the message is a KMS one kmskit can use: "
        f"the data key of '{world.arn}' has the provider ID 'aws-kmt', not 'aws-kms'; the "
        "message is corrupt or tampered with"
    )
    assert caught.value.exit_code == EXIT_INTEGRITY
    assert probe.calls["Decrypt"] == 0


def test_a_data_key_of_another_kms_keyring_is_still_the_wrong_key(world: KmsWorld) -> None:
    # Provider IDs starting with 'aws-kms-' are other KMS keyrings' (the AWS KMS RSA keyring's
    # key info is a key ARN too): a message kmskit cannot use, not a damaged one.
    message = Envelope([world.arn]).encrypt(b"secret", CONTEXT)
    other = message.replace(b"\x00\x07aws-kms", b"\x00\x0baws-kms-rsa", 1)
    with pytest.raises(ConflictError, match=r"message keys: none") as caught:
        Envelope().decrypt(other, CONTEXT)
    assert caught.value.exit_code == EXIT_CONFLICT


# -- data key caching -----------------------------------------------------------------------------


def test_without_cache_every_message_calls_generate_data_key(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn])
    messages = [envelope.encrypt(b"m" * 1024, CONTEXT) for _ in range(12)]
    assert probe.calls["GenerateDataKey"] == 12
    reader = Envelope()
    assert all(reader.decrypt(m) == b"m" * 1024 for m in messages)
    assert probe.calls["Decrypt"] == 12


@pytest.mark.parametrize(("messages", "max_messages"), [(25, 10), (30, 10), (7, 1), (5, 100)])
def test_cache_reuses_a_data_key_up_to_max_messages(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, messages: int, max_messages: int
) -> None:
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn], cache=CacheLimits(max_messages=max_messages))
    encrypted = [envelope.encrypt(os.urandom(1024), CONTEXT) for _ in range(messages)]
    assert probe.calls["GenerateDataKey"] == math.ceil(messages / max_messages)
    data_keys = {deserialize_header(io.BytesIO(m))[0].encrypted_data_keys.pop() for m in encrypted}
    assert len(data_keys) == math.ceil(messages / max_messages)
    # The decrypting side caches too: one Decrypt per distinct data key.
    reader = Envelope(cache=CacheLimits())
    for message in encrypted:
        reader.decrypt(message, CONTEXT)
    assert probe.calls["Decrypt"] == len(data_keys)


def test_cache_limits_bytes_and_separates_contexts(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn], cache=CacheLimits(max_bytes=3000))
    for _ in range(4):
        envelope.encrypt(b"b" * 1000, CONTEXT)  # a new key after 3000 bytes
    assert probe.calls["GenerateDataKey"] == 2
    envelope.encrypt(b"b" * 1000, {"purpose": "other"})  # another context, another key
    assert probe.calls["GenerateDataKey"] == 3


def test_cache_entries_expire_after_max_age(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn], cache=CacheLimits(max_age=0.05))
    envelope.encrypt(b"x", CONTEXT)
    envelope.encrypt(b"x", CONTEXT)
    assert probe.calls["GenerateDataKey"] == 1
    time.sleep(0.1)
    envelope.encrypt(b"x", CONTEXT)
    assert probe.calls["GenerateDataKey"] == 2


def _data_key_ids(message: bytes) -> tuple[bytes, ...]:
    """The encrypted data keys of ``message``: the same bytes only for the same cached data key."""
    header = deserialize_header(io.BytesIO(message))[0]
    return tuple(sorted(edk.encrypted_data_key for edk in header.encrypted_data_keys))


def test_decrypting_does_not_evict_the_data_keys_that_encrypt(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``capacity`` counts data keys for encrypting (one per context) and, apart, decrypted
    ones. Before: one cache held both, so decrypting other messages evicted the data key that
    encrypts, and the next message cost a GenerateDataKey."""
    others = [Envelope([world.arn]).encrypt(b"other %d" % n, CONTEXT) for n in range(3)]
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn], cache=CacheLimits(capacity=2))
    first = envelope.encrypt(b"a", CONTEXT)
    second_context = envelope.encrypt(b"b", {"purpose": "other"})
    for message in others:
        assert envelope.decrypt(message, CONTEXT).startswith(b"other")
    assert _data_key_ids(envelope.encrypt(b"c", CONTEXT)) == _data_key_ids(first)
    assert _data_key_ids(envelope.encrypt(b"d", {"purpose": "other"})) == _data_key_ids(
        second_context
    )
    assert (probe.calls["GenerateDataKey"], probe.calls["Decrypt"]) == (2, 3)


def test_envelopes_never_share_a_cached_data_key(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK's cache entries are keyed by the encryption context and suite, not by the KMS
    # keys: Envelopes sharing one cache (and partition) would hand one key's data key to an
    # Envelope of another key, whose messages then name the first key. Each has its own.
    other_key = world.new_key()
    probe = probe_clients(monkeypatch)
    first = Envelope([world.arn], cache=CacheLimits())
    second = Envelope([other_key], cache=CacheLimits())
    twin = Envelope([world.arn], cache=CacheLimits())  # same key and context, own data key
    one, again = first.encrypt(b"a", CONTEXT), first.encrypt(b"b", CONTEXT)
    assert _data_key_ids(one) == _data_key_ids(again)  # the cache works within one Envelope
    theirs, twins = second.encrypt(b"c", CONTEXT), twin.encrypt(b"d", CONTEXT)
    assert probe.calls["GenerateDataKey"] == 3
    assert MessageInfo.from_header(deserialize_header(io.BytesIO(theirs))[0]).key_ids == (
        other_key,
    )
    assert len({_data_key_ids(one), _data_key_ids(theirs), _data_key_ids(twins)}) == 3
    assert Envelope([other_key]).decrypt(theirs, CONTEXT) == b"c"
    with pytest.raises(ConflictError, match="wrong key"):
        Envelope([world.arn]).decrypt(theirs, CONTEXT)
    # Another context in the same Envelope: another data key.
    assert _data_key_ids(first.encrypt(b"e", {"purpose": "other"})) != _data_key_ids(one)
    assert probe.calls["GenerateDataKey"] == 4


def test_a_cached_data_key_still_gets_the_context_and_key_checks(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A decrypted data key in the cache must not let a message past the caller's checks: they
    # run on every message, before the cache is consulted.
    message = Envelope([world.arn]).encrypt(b"payload", CONTEXT)
    probe = probe_clients(monkeypatch)
    reader = Envelope([world.arn], cache=CacheLimits())
    assert reader.decrypt(message, CONTEXT) == b"payload"
    with pytest.raises(IntegrityError, match="wrong encryption context: expected purpose=x"):
        reader.decrypt(message, {"purpose": "x"})
    with pytest.raises(IntegrityError, match="not signed"):
        reader.decrypt(message, CONTEXT, require_signed=True)
    assert reader.decrypt(message, CONTEXT) == b"payload"
    assert probe.calls["Decrypt"] == 1


@pytest.mark.parametrize("as_context_manager", [False, True], ids=["close", "with"])
def test_close_drops_the_cached_data_keys(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, as_context_manager: bool
) -> None:
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn], cache=CacheLimits())
    with envelope if as_context_manager else contextlib.nullcontext(envelope):
        message = envelope.encrypt(b"payload", CONTEXT)
        assert envelope.decrypt(message, CONTEXT) == b"payload"
        assert envelope.decrypt(message, CONTEXT) == b"payload"
        assert (probe.calls["GenerateDataKey"], probe.calls["Decrypt"]) == (1, 1)
        caches = (envelope._cache, envelope._decrypt_cache)
        assert [len(cache._cache) for cache in caches] == [1, 1]
        if not as_context_manager:
            envelope.close()
    # The plaintext data keys (the one that encrypts and the decrypted one) are gone ...
    assert [len(cache._cache) for cache in caches] == [0, 0]
    assert [len(envelope._cache._cache), len(envelope._decrypt_cache._cache)] == [0, 0]
    # ... so nothing can reuse them: the Envelope still works, with a new data key from KMS.
    assert _data_key_ids(envelope.encrypt(b"again", CONTEXT)) != _data_key_ids(message)
    assert envelope.decrypt(message, CONTEXT) == b"payload"
    assert (probe.calls["GenerateDataKey"], probe.calls["Decrypt"]) == (2, 2)
    envelope.close()
    envelope.close()  # more than once is fine
    with Envelope([world.arn]) as uncached:  # nothing cached: close() is harmless
        assert uncached.decrypt(uncached.encrypt(b"x", CONTEXT), CONTEXT) == b"x"


@pytest.mark.parametrize("meanwhile", ["another message", "close"])
def test_a_too_old_decrypted_data_key_gone_meanwhile_sends_the_message_to_kms(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    """The SDK's caching manager looks a decrypted data key up, lets the cache go, and
    removes the entry if it is too old. Before: another thread's message (another data key,
    the cache full) evicted it, or close() cleared the cache, between the two, and the
    removal's CacheKeyError failed the message as not intact (exit 5)."""
    writer = Envelope([world.arn])
    mine, other = writer.encrypt(b"mine", CONTEXT), writer.encrypt(b"other", CONTEXT)
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn], cache=CacheLimits(max_age=60, capacity=1))
    assert envelope.decrypt(mine, CONTEXT) == b"mine"
    cache = envelope._decrypt_cache
    monkeypatch.setattr(CryptoMaterialsCacheEntry, "age", property(lambda entry: 61.0))
    looked_up = cache.get_decryption_materials
    done = []

    def look_up_then_the_other_thread_runs(cache_key: bytes) -> Any:
        entry = looked_up(cache_key)
        if not done:
            done.append(True)
            if meanwhile == "close":
                other_thread = threading.Thread(target=envelope.close)
            else:
                other_thread = threading.Thread(target=envelope.decrypt, args=(other, CONTEXT))
            other_thread.start()
            other_thread.join()
            assert entry not in cache._cache.values()  # evicted, or cleared
        return entry

    monkeypatch.setattr(cache, "get_decryption_materials", look_up_then_the_other_thread_runs)
    assert envelope.decrypt(mine, CONTEXT) == b"mine"  # its data key again from KMS
    assert done
    assert probe.calls["Decrypt"] == (3 if meanwhile == "another message" else 2)


@pytest.mark.parametrize("as_context_manager", [False, True], ids=["close", "with"])
def test_close_closes_the_clients_the_envelope_made_once_and_not_the_callers(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, as_context_manager: bool
) -> None:
    # The providers' KMS clients (one per Region, made for the Envelope alone) held their
    # connection pools until the garbage collector took them. The caller's settings, and the
    # client they keep (here the one that resolves the alias), stay open.
    made, closed = clients_made_and_closed(monkeypatch)
    settings = ClientSettings(region=REGION)
    callers = settings.client("kms")
    envelope = Envelope([ALIAS], settings=settings)
    with envelope if as_context_manager else contextlib.nullcontext(envelope):
        message = envelope.encrypt(b"payload", CONTEXT)
        assert envelope.decrypt(message, CONTEXT) == b"payload"
        own = [client for client in made if client is not callers]
        assert len(own) == 2  # the encrypting provider's and the decrypting one's
        assert closed == []
        if not as_context_manager:
            envelope.close()
    envelope.close()  # again: nothing more is closed
    assert sorted(map(id, closed)) == sorted(map(id, own))  # each once
    assert all(client is not callers for client in closed)
    # Still usable, with new clients, closed at the next close().
    assert envelope.decrypt(message, CONTEXT) == b"payload"
    assert len(made) == 4
    envelope.close()
    assert closed[-1] is made[-1]
    assert len(closed) == 3


def test_close_closes_the_clients_of_the_settings_the_envelope_made_itself(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without settings the Envelope makes its own: the clients they keep (the one that resolves
    # the alias on decrypt) are the Envelope's to close too.
    made, closed = clients_made_and_closed(monkeypatch)
    envelope = Envelope([ALIAS])
    message = envelope.encrypt(b"payload", CONTEXT)
    assert envelope.decrypt(message, CONTEXT) == b"payload"
    assert len(made) == 3  # two providers' clients and the settings' kept one
    envelope.close()
    envelope.close()
    assert sorted(map(id, closed)) == sorted(map(id, made))  # each once


@pytest.mark.parametrize("fails", [False, True], ids=["returns", "raises"])
def test_a_client_an_in_flight_decrypt_makes_after_close_is_closed_when_it_ends(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    # Discovery makes the client of the Region of the message's key (eu-central-1) when it meets
    # the key, after the configured Region's; close() comes in between here, as it may from
    # another thread. That client was left to the garbage collector, and the other one closed
    # under the message.
    key = boto3.client("kms", region_name="eu-central-1").create_key()["KeyMetadata"]["Arn"]
    with Envelope([key]) as writer:
        message = writer.encrypt(b"payload", CONTEXT)
    probe = probe_clients(monkeypatch)
    if fails:
        probe.fail("Decrypt", "AccessDeniedException", "not allowed")
    made, closed = clients_made_and_closed(monkeypatch)
    envelope = Envelope(settings=ClientSettings(region=REGION))
    closed_by_close: list[int] = []
    recorded = ClientSettings.client

    def close_first(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        if kwargs.get("region") == "eu-central-1" and not closed_by_close:
            envelope.close()
            closed_by_close.append(len(closed))
        return recorded(self, service, **kwargs)

    monkeypatch.setattr(ClientSettings, "client", close_first)
    with pytest.raises(AccessDeniedError) if fails else contextlib.nullcontext():
        assert envelope.decrypt(message, CONTEXT) == b"payload"
    assert [client.meta.region_name for client in made] == [REGION, "eu-central-1"]
    # Both closed, each once, when the decrypt returned or raised ...
    assert sorted(map(id, closed)) == sorted(map(id, made))
    assert closed_by_close == [0]  # ... not by close(), while the message was in flight
    envelope.close()
    assert len(closed) == 2


def test_the_clients_a_key_provider_made_before_failing_are_closed(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK makes the configured Region's client, then fails at a key ARN whose Region
    # botocore refuses: the provider is never handed out, so nothing else could close it.
    made, closed = clients_made_and_closed(monkeypatch)
    bad = world.arn.replace(f":{REGION}:", ":eu,west-1:")
    envelope = Envelope([world.arn, bad], settings=ClientSettings(region=REGION))
    with pytest.raises(UsageError, match=r"^the Region 'eu,west-1' \(of a key ARN"):
        envelope.encrypt(b"payload", CONTEXT)
    assert len(made) == 1
    assert closed == made


def test_a_client_the_sdk_dropped_after_a_connection_error_is_closed_too(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a connection error the SDK drops the client from its clients by Region, while the
    # message's master key keeps it (and uses it again): close() closes it all the same.
    with Envelope([world.arn]) as writer:
        message = writer.encrypt(b"payload", CONTEXT)
    made, closed = clients_made_and_closed(monkeypatch)
    recorded = ClientSettings.client
    dropped: list[str] = []

    def unreachable_once(request: Any, **_: Any) -> None:
        if not dropped:
            dropped.append(request.url)
            raise EndpointConnectionError(endpoint_url=request.url)

    def with_a_dropped_connection(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        client = recorded(self, service, **kwargs)
        client.meta.events.register_first("before-send.kms.Decrypt", unreachable_once)
        return client

    monkeypatch.setattr(ClientSettings, "client", with_a_dropped_connection)
    envelope = Envelope(settings=ClientSettings(region=REGION, max_attempts=1))
    with pytest.raises(KmskitError, match="Could not connect to the endpoint URL"):
        envelope.decrypt(message, CONTEXT)
    assert envelope.decrypt(message, CONTEXT) == b"payload"
    assert len(made) == 1
    assert closed == []
    envelope.close()
    assert closed == made


def unreachable(client: Any) -> Any:
    """A method of ``client`` (as the SDK wraps each) that fails as a connection error does."""

    def call(self: Any) -> None:
        raise EndpointConnectionError(endpoint_url=f"https://kms.{REGION}.amazonaws.com")

    return types.MethodType(call, client)


def test_threads_failing_with_one_client_drop_it_once_and_each_gets_its_error(
    world: KmsWorld,
) -> None:
    # Two messages (threads) using the same client both fail with a connection error: the
    # SDK's bare pop made the second raise KeyError instead of its error. And one failing with
    # a client already replaced dropped the new client. Only that client goes, once.
    provider = _DiscoveryProvider(
        settings=ClientSettings(), failures=_KmsFailures(), region_names=[REGION]
    )
    try:
        first = provider._client(world.arn)
        for _ in range(2):
            with pytest.raises(EndpointConnectionError):
                provider._wrap_client(REGION, unreachable(first))
        second = provider._client(world.arn)
        assert second is not first
        with pytest.raises(EndpointConnectionError):
            provider._wrap_client(REGION, unreachable(first))  # a late failure of the first
        assert provider._client(world.arn) is second
    finally:
        provider.close_clients()


def test_a_client_dropped_by_another_thread_as_it_is_added_is_added_again(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK adds the Region's client, then reads it back: another thread's connection error
    # dropping it in between raised KeyError. It is added again.
    provider = _DiscoveryProvider(
        settings=ClientSettings(), failures=_KmsFailures(), region_names=[REGION]
    )
    add = provider.add_regional_client
    dropped: list[str] = []

    def added_then_dropped(region_name: str) -> None:
        add(region_name)
        if not dropped:  # the other thread's _wrap_client, just after
            dropped.append(region_name)
            del provider._regional_clients[region_name]

    monkeypatch.setattr(provider, "add_regional_client", added_then_dropped)
    try:
        assert provider._client(world.arn) is provider._regional_clients[REGION]
        assert dropped == [REGION]
    finally:
        provider.close_clients()


def test_cache_refuses_an_input_that_grows_while_it_is_encrypted(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The cache counts a message's size against max_bytes before encrypting it: a file that
    # grows meanwhile must not have more bytes encrypted under the cached data key than counted.
    probe = probe_clients(monkeypatch)
    envelope = Envelope([world.arn], frame_length=FRAME, cache=CacheLimits(max_bytes=64 * 1024))
    path = tmp_path / "growing.log"
    path.write_bytes(b"a" * FRAME)

    def append(_: int) -> None:
        if path.stat().st_size == FRAME:  # grows once, by three frames
            with path.open("ab") as log:
                log.write(b"b" * 3 * FRAME)

    sink = io.BytesIO()
    with path.open("rb") as source, pytest.raises(ConflictError) as caught:
        envelope.encrypt_stream(source, sink, CONTEXT, on_read=append)
    assert "the input grew while it was encrypted (it held 4096 bytes" in str(caught.value)
    assert caught.value.exit_code == EXIT_CONFLICT
    assert len(sink.getvalue()) < 2 * FRAME  # header and at most the one frame counted
    # Encrypting a file that does not change still works (and reuses the cached key).
    with path.open("rb") as source:
        envelope.encrypt_stream(source, io.BytesIO(), CONTEXT)
    assert probe.calls["GenerateDataKey"] == 1


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_age": 0}, "'max_age' must be a finite number of seconds, more than 0. Received: 0"),
        (
            {"max_age": -1.5},
            "'max_age' must be a finite number of seconds, more than 0. Received: -1.5",
        ),
        # Not a number, or one that never runs out: a TypeError (or a key that never expires)
        # once the cache is used, instead of a message naming the field.
        (
            {"max_age": "60"},
            "'max_age' must be a finite number of seconds, more than 0. Received: '60'",
        ),
        (
            {"max_age": math.inf},
            "'max_age' must be a finite number of seconds, more than 0. Received: inf",
        ),
        (
            {"max_age": math.nan},
            "'max_age' must be a finite number of seconds, more than 0. Received: nan",
        ),
        (
            {"max_age": True},
            "'max_age' must be a finite number of seconds, more than 0. Received: True",
        ),
        ({"max_messages": 0}, "'max_messages' must be a whole number, 1-2**32. Received: 0"),
        (
            {"max_messages": 2**32 + 1},
            f"'max_messages' must be a whole number, 1-2**32. Received: {2**32 + 1}",
        ),
        ({"max_messages": 1.5}, "'max_messages' must be a whole number, 1-2**32. Received: 1.5"),
        ({"max_messages": True}, "'max_messages' must be a whole number, 1-2**32. Received: True"),
        ({"max_bytes": -1}, "'max_bytes' must be a whole number, 0-2**63-1. Received: -1"),
        ({"max_bytes": 100.5}, "'max_bytes' must be a whole number, 0-2**63-1. Received: 100.5"),
        ({"max_bytes": "64"}, "'max_bytes' must be a whole number, 0-2**63-1. Received: '64'"),
        ({"capacity": 0}, "'capacity' must be a whole number, at least 1. Received: 0"),
        ({"capacity": 2.5}, "'capacity' must be a whole number, at least 1. Received: 2.5"),
        ({"capacity": False}, "'capacity' must be a whole number, at least 1. Received: False"),
    ],
)
def test_cache_limits_are_validated(limits: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        CacheLimits(**limits)  # type: ignore[arg-type]
    assert str(caught.value) == message
    assert caught.value.exit_code == EXIT_USAGE


def test_cache_limits_take_whole_numbers_and_finite_seconds() -> None:
    limits = CacheLimits(max_age=1, max_messages=1, max_bytes=0, capacity=1)
    assert (limits.max_age, limits.max_messages, limits.max_bytes, limits.capacity) == (1, 1, 0, 1)
    assert CacheLimits(max_age=0.25, max_messages=2**32, max_bytes=2**63 - 1).max_age == 0.25
