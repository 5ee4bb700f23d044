"""Multi-Region keys and disaster recovery: a message encrypted under a primary in us-east-1 is
decrypted in eu-west-1 with its replica (named, or found with a discovery Region) while
us-east-1 is unavailable, calling KMS in eu-west-1 only; keys that are no replica of the
message's key are refused before any KMS call; errors point to the replica.

moto decrypts what a multi-Region key encrypted only with the key ID field of its ciphertext
blobs widened (:func:`tests.kmskit.envelope_support.moto_multi_region_keys`): moto 5 cuts its
40-character multi-Region key IDs to 36 there, so Decrypt of any such blob fails in moto.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header
from aws_encryption_sdk.key_providers.kms import _check_mrk_arns_equal
from botocore.exceptions import (
    EndpointConnectionError,
    HTTPClientError,
    ProxyConnectionError,
    ReadTimeoutError,
)
from moto import mock_aws
from moto.kms.models import kms_backends

from kmskit.cli import main
from kmskit.clients import ClientSettings
from kmskit.envelope import (
    CacheLimits,
    Envelope,
    MessageInfo,
    same_key_for_decrypt,
)
from kmskit.errors import (
    EXIT_ACCESS_DENIED,
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    AccessDeniedError,
    ConflictError,
    KmskitError,
    NotFoundError,
    UsageError,
)
from tests.kmskit.envelope_support import (
    data_keys_tried_first,
    moto_multi_region_keys,
    multi_region_key,
    one_error_line,
    probe_clients,
)

HOME = "us-east-1"  # where the data was encrypted, and the Region that goes down
DR = "eu-west-1"  # the recovery Region: the tests' configured Region (tests/conftest.py)
ALIAS = "alias/orders"  # the multi-Region key, in each Region
CONTEXT = {"purpose": "orders-backup"}
BUCKET = "dr-bucket"
ACCOUNT = "123456789012"  # moto's


@dataclass
class Keys:
    primary: str  # in HOME
    replica: str  # in DR


@dataclass
class Calls:
    """Every KMS call kmskit's clients make, as (Region, operation, KeyId); Regions in ``down``
    cannot be reached (EndpointConnectionError before the request leaves)."""

    kms: list[tuple[str, str, str | None]] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    # Regions whose KMS is reached but does not answer (ReadTimeoutError).
    slow: set[str] = field(default_factory=set)
    # The profile's credentials cannot be fetched (its STS endpoint cannot be reached while
    # the request is signed), by an error naming STS's endpoint or, through a proxy, none.
    credentials_down: bool = False
    credentials_behind_proxy: bool = False
    # Regions whose KMS requests fail with an error that names no endpoint: a proxy refusing
    # the tunnel ("proxy"), botocore's catch-all for the HTTP client ("reset").
    unnamed_failure: dict[str, str] = field(default_factory=dict)

    def regions(self) -> set[str]:
        return {region for region, _, _ in self.kms}


@pytest.fixture
def keys() -> Iterator[Keys]:
    with mock_aws(), moto_multi_region_keys():
        primary, replicas = multi_region_key(HOME, (DR,), alias=ALIAS)
        boto3.client("s3", region_name=DR).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": DR}
        )
        yield Keys(primary=primary, replica=replicas[DR])


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    record = Calls()
    original = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)
        region = made.meta.region_name

        def before_call(model: Any, params: dict[str, Any], **_: Any) -> None:
            if service == "kms":
                body = json.loads(params.get("body") or b"{}")
                record.kms.append((region, model.name, body.get("KeyId")))

        def before_send(request: Any, **_: Any) -> None:
            if region in record.down:
                raise EndpointConnectionError(endpoint_url=request.url)
            if record.unnamed_failure.get(region) == "proxy":
                raise ProxyConnectionError(
                    proxy_url="http://proxy.example:3128/", error="Tunnel connection failed: 503"
                )
            if record.unnamed_failure.get(region) == "reset":
                raise HTTPClientError(error=ConnectionResetError(104, "Connection reset by peer"))
            if region in record.slow:
                raise ReadTimeoutError(endpoint_url=request.url, error="read timed out")

        def before_sign(**_: Any) -> None:
            if record.credentials_down:
                raise EndpointConnectionError(endpoint_url=f"https://sts.{region}.amazonaws.com/")
            if record.credentials_behind_proxy:
                raise ProxyConnectionError(
                    proxy_url="http://proxy.example:3128/", error="Tunnel connection failed: 503"
                )

        made.meta.events.register("before-call", before_call, unique_id="mrk-test-call")
        made.meta.events.register_first("before-sign", before_sign, unique_id="mrk-test-sign")
        made.meta.events.register_first("before-send", before_send, unique_id="mrk-test-send")
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    return record


def encrypt(keys: list[str], calls: Calls, data: bytes = b"orders of the day") -> bytes:
    """A message under ``keys``; then HOME goes down and the record starts afresh."""
    message = Envelope(keys).encrypt(data, CONTEXT)
    calls.kms.clear()
    calls.down.add(HOME)
    return message


def info_of(message: bytes) -> MessageInfo:
    header, _ = deserialize_header(io.BytesIO(message))
    return MessageInfo.from_header(header)


# --- strict mode: naming the replica ------------------------------------------------------------


def test_the_replica_decrypts_what_the_primary_encrypted_calling_only_its_region(
    keys: Keys, calls: Calls
) -> None:
    message = encrypt([keys.primary], calls)
    assert info_of(message).key_ids == (keys.primary,)
    assert Envelope([keys.replica]).decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(DR, "Decrypt", keys.replica)]


def test_the_alias_in_the_recovery_region_names_the_replica(keys: Keys, calls: Calls) -> None:
    message = encrypt([keys.primary], calls)
    envelope = Envelope([ALIAS], settings=ClientSettings(region=DR))
    assert envelope.decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(DR, "DescribeKey", ALIAS), (DR, "Decrypt", keys.replica)]


def test_the_replica_first_decrypts_a_message_under_both_and_the_envelope_reads_its_own(
    keys: Keys, calls: Calls
) -> None:
    # Encrypting under the primary and its replica (as `kmskit encrypt --help` suggests) is
    # allowed, and the same Envelope decrypts it (the SDK's MRK-aware provider refuses
    # related keys; kmskit's keys also encrypt).
    both = Envelope([keys.primary, keys.replica])
    message = both.encrypt(b"twice", CONTEXT)
    assert info_of(message).key_ids == tuple(sorted([keys.primary, keys.replica]))
    assert both.decrypt(message, CONTEXT) == b"twice"
    calls.kms.clear()
    calls.down.add(HOME)
    # Keys are tried in the order given: the replica first, so HOME is never called.
    assert Envelope([keys.replica, keys.primary]).decrypt(message, CONTEXT) == b"twice"
    assert calls.regions() == {DR}


def test_the_data_key_cache_serves_the_replica_too(keys: Keys, calls: Calls) -> None:
    message = encrypt([keys.primary], calls)
    envelope = Envelope([keys.replica], cache=CacheLimits())
    for _ in range(3):
        assert envelope.decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(DR, "Decrypt", keys.replica)]


def test_encrypting_with_the_replica_names_the_replica_and_the_primary_reads_it(
    keys: Keys, calls: Calls
) -> None:
    # Data written in the recovery Region during the outage reads back at home afterwards.
    message = Envelope([keys.replica]).encrypt(b"written in DR", CONTEXT)
    assert info_of(message).key_ids == (keys.replica,)
    assert calls.regions() == {DR}
    calls.kms.clear()
    assert Envelope([keys.primary]).decrypt(message, CONTEXT) == b"written in DR"
    assert calls.kms == [(HOME, "Decrypt", keys.primary)]


# --- strict mode: what is still refused ---------------------------------------------------------


def _other_account(arn: str) -> str:
    return arn.replace(f":{ACCOUNT}:", ":999999999999:")


@pytest.mark.parametrize(
    "named",
    [
        pytest.param(lambda keys: _other_account(keys.replica), id="other-account"),
        pytest.param(
            lambda keys: keys.replica.replace("arn:aws:", "arn:aws-us-gov:").replace(
                DR, "us-gov-west-1"
            ),
            id="other-partition",
        ),
        pytest.param(
            lambda keys: multi_region_key(HOME, (DR,))[1][DR],
            id="other-mrk-id",
        ),
    ],
)
def test_a_multi_region_key_that_is_no_replica_is_refused_before_kms(
    keys: Keys, calls: Calls, named: Any
) -> None:
    other = named(keys)
    message = encrypt([keys.primary], calls)
    with pytest.raises(ConflictError) as caught:
        Envelope([other]).decrypt(message, CONTEXT)
    mrk_id = keys.primary.rsplit("/", 1)[1]
    assert str(caught.value) == (
        f"wrong key: the message's data key is encrypted under {keys.primary}, not under "
        f"{other}. The message's key {keys.primary} is a multi-Region key of {HOME}: a "
        f"replica of it in another Region (account {ACCOUNT}, key ID {mrk_id}), if there is "
        "one, can decrypt it. "
        "Name the replica ('keys' / --key), or name no key and give the Region to call "
        "('discovery_region' / --discovery-region)"
    )
    assert caught.value.exit_code == EXIT_CONFLICT
    assert calls.kms == []


def test_a_single_region_key_matches_only_itself(keys: Keys, calls: Calls) -> None:
    single = boto3.client("kms", region_name=HOME).create_key()["KeyMetadata"]["Arn"]
    same_id_in_dr = single.replace(HOME, DR)
    message = encrypt([single], calls)
    with pytest.raises(ConflictError) as caught:
        Envelope([same_id_in_dr]).decrypt(message, CONTEXT)
    # No hint: no replica can decrypt it.
    assert str(caught.value) == (
        f"wrong key: the message's data key is encrypted under {single}, not under {same_id_in_dr}"
    )
    assert calls.kms == []


def test_the_match_is_the_encryption_sdks(keys: Keys) -> None:
    """kmskit refuses before KMS exactly what the SDK's MRK-aware keys would refuse after."""
    single = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    pairs = [
        (keys.primary, keys.replica),
        (keys.primary, keys.primary),
        (keys.primary, _other_account(keys.replica)),
        (keys.primary, keys.replica.replace("mrk-", "mrk-0")),
        (keys.primary, keys.replica.replace("arn:aws:", "arn:aws-cn:")),
        (single, single),
        (single, single.replace(HOME, DR)),
        (single, keys.replica),
    ]
    for first, second in pairs:
        assert same_key_for_decrypt(first, second) == _check_mrk_arns_equal(first, second), (
            first,
            second,
        )


# --- discovery ----------------------------------------------------------------------------------


@pytest.mark.parametrize("configured", [DR, "ap-southeast-2"])
def test_a_discovery_region_calls_the_replica_there(
    keys: Keys, calls: Calls, configured: str
) -> None:
    message = encrypt([keys.primary], calls)
    envelope = Envelope(settings=ClientSettings(region=configured), discovery_region=DR)
    assert envelope.discovery_region == DR
    assert envelope.decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(DR, "Decrypt", keys.replica)]


def test_discovery_without_a_discovery_region_still_calls_the_messages_region(
    keys: Keys, calls: Calls
) -> None:
    message = encrypt([keys.primary], calls)
    calls.down.clear()
    assert Envelope().decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(HOME, "Decrypt", keys.primary)]


def test_discovery_with_the_home_region_down_says_to_name_the_replica(
    keys: Keys, calls: Calls
) -> None:
    message = encrypt([keys.primary], calls)
    with pytest.raises(KmskitError) as caught:
        Envelope().decrypt(message, CONTEXT)
    mrk_id = keys.primary.rsplit("/", 1)[1]
    assert str(caught.value) == (
        f'Could not connect to the endpoint URL: "https://kms.{HOME}.amazonaws.com/". '
        f"The message's key {keys.primary} is a multi-Region key of {HOME}: a replica of it in "
        f"another Region (account {ACCOUNT}, key ID {mrk_id}), if there is one, can decrypt it. "
        "Name the replica ('keys' / --key), or name no key and give the Region to call "
        "('discovery_region' / --discovery-region)"
    )
    assert caught.value.exit_code == EXIT_FAILURE


def test_discovery_refused_by_kms_says_to_name_the_replica(
    keys: Keys, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = encrypt([keys.primary], calls)
    calls.down.clear()
    probe = probe_clients(monkeypatch)
    probe.fail("Decrypt", "AccessDeniedException", "not allowed by the key policy")
    with pytest.raises(AccessDeniedError) as caught:
        Envelope().decrypt(message, CONTEXT)
    assert str(caught.value).startswith(
        f"could not decrypt the data key (message keys: {keys.primary}): AccessDeniedException: "
        f"not allowed by the key policy. The message's key {keys.primary} is a multi-Region key "
        f"of {HOME}: a replica of it in another Region"
    )
    assert caught.value.exit_code == EXIT_ACCESS_DENIED


def test_a_discovery_region_without_a_replica_is_not_found(keys: Keys, calls: Calls) -> None:
    message = encrypt([keys.primary], calls)
    with pytest.raises(NotFoundError) as caught:
        Envelope(discovery_region="ap-southeast-2").decrypt(message, CONTEXT)
    assert "NotFoundException" in str(caught.value)
    assert "multi-Region key of" not in str(caught.value)  # a discovery Region was given
    assert calls.kms == [("ap-southeast-2", "Decrypt", keys.replica.replace(DR, "ap-southeast-2"))]


def test_a_single_region_key_failing_gets_no_replica_hint(keys: Keys, calls: Calls) -> None:
    single = boto3.client("kms", region_name=HOME).create_key()["KeyMetadata"]["Arn"]
    message = encrypt([single], calls)
    with pytest.raises(KmskitError) as caught:
        Envelope().decrypt(message, CONTEXT)
    assert str(caught.value) == (
        f'Could not connect to the endpoint URL: "https://kms.{HOME}.amazonaws.com/"'
    )


def test_a_discovery_region_refuses_a_single_region_key_of_another_region(
    keys: Keys, calls: Calls
) -> None:
    single = boto3.client("kms", region_name=HOME).create_key()["KeyMetadata"]["Arn"]
    message = encrypt([single], calls)
    with pytest.raises(ConflictError) as caught:
        Envelope(discovery_region=DR).decrypt(message, CONTEXT)
    assert str(caught.value) == (
        f"wrong key: the message's data key is encrypted under {single}, not under a "
        f"multi-Region key: with the discovery Region {DR} only a multi-Region key (called in "
        f"{DR}, where its replica must be) or a key of {DR} is used. Name the key to use "
        "('keys' / --key), or decrypt without a discovery Region"
    )
    assert calls.kms == []


def test_a_discovery_region_uses_a_single_region_key_of_its_own_region(
    keys: Keys, calls: Calls
) -> None:
    local = boto3.client("kms", region_name=DR).create_key()["KeyMetadata"]["Arn"]
    message = encrypt([local], calls)
    assert Envelope(discovery_region=DR).decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(DR, "Decrypt", local)]


def _single_region_keys() -> tuple[str, str]:
    """A single-Region key in HOME and one in DR, as docs/envelope.md's disaster recovery
    without multi-Region keys has them."""
    home: str = boto3.client("kms", region_name=HOME).create_key()["KeyMetadata"]["Arn"]
    dr: str = boto3.client("kms", region_name=DR).create_key()["KeyMetadata"]["Arn"]
    return home, dr


@pytest.mark.parametrize("mode", ["discovery", "discovery-accounts", "strict"])
def test_a_region_down_fails_its_copy_of_the_data_key_not_the_message(
    keys: Keys, calls: Calls, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """A message under a single-Region key of HOME and one of DR decrypts with HOME down, also
    when the SDK tries HOME's copy first: the connection error fails that copy (as a KMS error
    would) and the SDK goes on to DR's, in discovery mode and with both keys named."""
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    tried = data_keys_tried_first(monkeypatch, home)
    kwargs: dict[str, Any] = {
        "discovery": {},
        "discovery-accounts": {"discovery_accounts": [ACCOUNT]},
        "strict": {"keys": [home, dr]},
    }[mode]
    assert Envelope(**kwargs).decrypt(message, CONTEXT) == b"orders of the day"
    assert tried[0] == home
    assert (HOME, "Decrypt", home) in calls.kms
    assert calls.kms[-1] == (DR, "Decrypt", dr)


def test_every_region_down_names_the_keys_and_what_to_do(
    keys: Keys, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    calls.down.add(DR)
    data_keys_tried_first(monkeypatch, home)
    with pytest.raises(KmskitError) as caught:
        Envelope().decrypt(message, CONTEXT)
    named = str(caught.value).split("(message keys: ", 1)[1].split(")", 1)[0]
    assert sorted(named.split(", ")) == sorted([home, dr])  # in the message's order
    assert str(caught.value) == (
        f"could not decrypt the data key (message keys: {named}): KMS "
        f"in {HOME}, {DR} could not be reached (Could not connect to the endpoint URL: "
        f'"https://kms.{DR}.amazonaws.com/"), and no copy of the data key was decrypted. Every '
        "key of the message is a single-Region key of those Regions, which nothing else can "
        "decrypt: run again when KMS there answers"
    )
    assert caught.value.exit_code == EXIT_FAILURE


def test_a_region_down_with_a_key_elsewhere_advises_naming_it(keys: Keys, calls: Calls) -> None:
    """Only HOME tried (its key named) and down: DR's copy can decrypt, name its key."""
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    with pytest.raises(KmskitError) as caught:
        Envelope([home]).decrypt(message, CONTEXT)
    assert str(caught.value).endswith(
        "and no copy of the data key was decrypted. Name a key of a Region that can be reached "
        "('keys' / --key)"
    )


def test_the_discovery_region_given_down_advises_another_one(keys: Keys, calls: Calls) -> None:
    """Before: 'give the Region to call', which was given."""
    single = boto3.client("kms", region_name=HOME).create_key()["KeyMetadata"]["Arn"]
    message = encrypt([single, keys.primary], calls)
    with pytest.raises(KmskitError) as caught:
        Envelope(discovery_region=HOME).decrypt(message, CONTEXT)
    assert str(caught.value).endswith(
        "and no copy of the data key was decrypted. Name a key of a Region that can be reached "
        "('keys' / --key), or give another Region to call ('discovery_region' / "
        f"--discovery-region; {HOME}, the one given, could not be reached)"
    )


def test_credentials_that_cannot_be_fetched_are_not_a_region_down(keys: Keys, calls: Calls) -> None:
    """A role profile's credentials are fetched (STS AssumeRole) while KMS's request is signed:
    STS not reached is that error itself. Before: every Region of the message was reported as
    'could not be reached', advising to name a key of another Region."""
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    calls.down.clear()
    calls.credentials_down = True
    for kwargs in ({}, {"keys": [home, dr]}):
        with pytest.raises(KmskitError) as caught:
            Envelope(**kwargs).decrypt(message, CONTEXT)  # type: ignore[arg-type]
        assert "could not be reached" not in str(caught.value)
        assert 'Could not connect to the endpoint URL: "https://sts.' in str(caught.value)


@pytest.mark.parametrize("failure", ["proxy", "reset"])
def test_a_region_behind_a_proxy_that_cannot_reach_it_fails_its_copy_only(
    keys: Keys, calls: Calls, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    """A proxy refusing the tunnel to HOME's KMS (ProxyConnectionError), or botocore's
    catch-all HTTPClientError, names no endpoint: after the KMS request was signed it is that
    request's, so HOME's copy is skipped for DR's. Before: the whole message failed."""
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    calls.down.clear()
    calls.unnamed_failure[HOME] = failure
    tried = data_keys_tried_first(monkeypatch, home)
    for kwargs in ({}, {"keys": [home, dr]}):
        assert Envelope(**kwargs).decrypt(message, CONTEXT) == b"orders of the day"  # type: ignore[arg-type]
    assert tried[0] == home
    assert calls.kms[-1] == (DR, "Decrypt", dr)


def test_credentials_behind_a_proxy_that_fails_are_not_a_region_down(
    keys: Keys, calls: Calls
) -> None:
    """The proxy failing while the profile's credentials are fetched (before the KMS request
    is signed) is that error, not KMS's Regions unreachable."""
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    calls.down.clear()
    calls.credentials_behind_proxy = True
    with pytest.raises(KmskitError) as caught:
        Envelope(keys=[home, dr]).decrypt(message, CONTEXT)
    assert "could not be reached" not in str(caught.value)
    assert "proxy" in str(caught.value).lower()


def test_a_region_that_does_not_answer_in_time_is_worded_so(
    keys: Keys, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read timeout: KMS was reached but slow, not 'could not be reached'."""
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    calls.down.clear()
    calls.slow.update({HOME, DR})
    data_keys_tried_first(monkeypatch, home)
    with pytest.raises(KmskitError) as caught:
        Envelope([home, dr]).decrypt(message, CONTEXT)
    assert f"): KMS in {HOME}, {DR} did not answer in time (Read timeout" in str(caught.value)
    assert "could not be reached" not in str(caught.value)
    calls.slow.discard(HOME)
    calls.down.add(HOME)
    with pytest.raises(KmskitError) as caught:
        Envelope([home, dr]).decrypt(message, CONTEXT)
    assert (
        f"): KMS in {HOME} could not be reached and KMS in {DR} did not answer in time (Read "
        in str(caught.value)
    )


def test_a_region_down_and_a_refusal_report_both(
    keys: Keys, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HOME down and DR's KMS refusing: the refusal is the error (its exit code), saying that
    HOME could not be reached."""
    home, dr = _single_region_keys()
    message = encrypt([home, dr], calls)
    probe_clients(monkeypatch).fail("Decrypt", "AccessDeniedException")  # after HOME's failure
    data_keys_tried_first(monkeypatch, home)
    with pytest.raises(AccessDeniedError) as caught:
        Envelope([home, dr]).decrypt(message, CONTEXT)
    assert str(caught.value).startswith("could not decrypt the data key (message keys: ")
    assert "AccessDeniedException: injected by the test" in str(caught.value)
    assert str(caught.value).endswith(
        f"; KMS in {HOME} could not be reached (Could not connect to the endpoint URL: "
        f'"https://kms.{HOME}.amazonaws.com/")'
    )
    assert caught.value.exit_code == EXIT_ACCESS_DENIED


def test_a_discovery_region_skips_single_region_data_keys_of_other_regions(
    keys: Keys, calls: Calls
) -> None:
    single = boto3.client("kms", region_name=HOME).create_key()["KeyMetadata"]["Arn"]
    message = encrypt([single, keys.primary], calls)
    calls.down.clear()  # HOME would answer: it must not be asked
    assert Envelope(discovery_region=DR).decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(DR, "Decrypt", keys.replica)]


def test_discovery_accounts_still_filter_with_a_discovery_region(keys: Keys, calls: Calls) -> None:
    message = encrypt([keys.primary], calls)
    with pytest.raises(ConflictError, match=f"account\\(s\\) {ACCOUNT}, not of 999999999999"):
        Envelope(discovery_accounts=["999999999999"], discovery_region=DR).decrypt(message)
    assert calls.kms == []
    allowed = Envelope(discovery_accounts=[ACCOUNT], discovery_region=DR)
    assert allowed.decrypt(message, CONTEXT) == b"orders of the day"
    assert calls.kms == [(DR, "Decrypt", keys.replica)]


def test_discovery_accounts_take_the_discovery_regions_partition(keys: Keys, calls: Calls) -> None:
    message = encrypt([keys.primary], calls)
    envelope = Envelope(
        settings=ClientSettings(region="us-gov-west-1"),
        discovery_accounts=[ACCOUNT],
        discovery_region=DR,
    )
    assert envelope.decrypt(message, CONTEXT) == b"orders of the day"
    gov = Envelope(discovery_accounts=[ACCOUNT], discovery_region="us-gov-west-1")
    with pytest.raises(ConflictError, match=r"partition aws-us-gov \(the partition of the disc"):
        gov.decrypt(message, CONTEXT)


def test_a_discovery_region_of_another_partition_is_refused_before_kms(
    keys: Keys, calls: Calls
) -> None:
    """A replica is in its primary's partition: a discovery Region of another partition has
    none, and calling the key there (its ARN, partition aws, with Region us-gov-west-1) is a call
    to the wrong Region. Refused before any KMS call, as a single-Region key of another Region."""
    message = encrypt([keys.primary], calls)
    with pytest.raises(ConflictError) as caught:
        Envelope(discovery_region="us-gov-west-1").decrypt(message, CONTEXT)
    assert str(caught.value) == (
        f"wrong key: the message's data key is encrypted under {keys.primary}, a multi-Region "
        "key of partition aws, not of aws-us-gov, the partition of the discovery Region "
        "us-gov-west-1: a multi-Region key has replicas in its own partition only. Name the "
        "key to use ('keys' / --key), or give a discovery Region of partition aws"
    )
    assert calls.kms == []


def test_a_discovery_region_skips_multi_region_data_keys_of_another_partition(
    keys: Keys, calls: Calls
) -> None:
    """A message under a key of the discovery Region passes the check before KMS; its
    multi-Region key of another partition is still called nowhere when that key fails."""
    gov = "us-gov-west-1"
    local_kms = boto3.client("kms", region_name=gov)
    local = local_kms.create_key()["KeyMetadata"]["Arn"]
    assert local.startswith("arn:aws-us-gov:kms:us-gov-west-1:")
    message = encrypt([keys.primary, local], calls)
    del kms_backends[ACCOUNT][gov].keys[local.split("/")[-1]]  # it fails (moto: no such key)
    with pytest.raises(KmskitError):
        Envelope(discovery_region=gov).decrypt(message, CONTEXT)
    assert calls.kms == [(gov, "Decrypt", local)]


@pytest.mark.parametrize(
    ("region", "shown"),
    [("eu-west", "'eu-west'"), ("", "''"), ("EU-WEST-1", "'EU-WEST-1'"), (42, "42")],
)
def test_the_discovery_region_must_be_a_region_name(region: Any, shown: str) -> None:
    with pytest.raises(UsageError) as caught:
        Envelope(discovery_region=region)
    assert str(caught.value) == (
        f"'discovery_region' must be an AWS Region name. Received: {shown}"
    )


def test_the_discovery_region_is_for_discovery_mode_and_read_only() -> None:
    with pytest.raises(UsageError) as caught:
        Envelope([ALIAS], discovery_region=DR)
    assert str(caught.value) == (
        "'discovery_region' applies only in discovery mode, when no key is named. "
        f"Received keys ['{ALIAS}'] and Region '{DR}'"
    )
    envelope = Envelope(discovery_region=DR)
    with pytest.raises(AttributeError, match="'discovery_region' is read-only"):
        envelope.discovery_region = HOME  # type: ignore[misc]
    assert Envelope().discovery_region is None


# --- the command line ---------------------------------------------------------------------------


def _sealed(tmp_path: Path, keys: Keys, calls: Calls) -> Path:
    sealed = tmp_path / "orders.enc"
    sealed.write_bytes(encrypt([keys.primary], calls))
    return sealed


@pytest.mark.parametrize(
    "how",
    [["--key", "REPLICA"], ["--key", ALIAS], ["--discovery-region", DR]],
    ids=["replica-arn", "alias", "discovery-region"],
)
def test_kmskit_decrypt_in_the_recovery_region(
    keys: Keys, calls: Calls, tmp_path: Path, how: list[str]
) -> None:
    sealed = _sealed(tmp_path, keys, calls)
    out = tmp_path / "orders.txt"
    options = [keys.replica if word == "REPLICA" else word for word in how]
    argv = ["decrypt", "-q", "--region", DR, *options, "--context", "purpose=orders-backup"]
    assert main([*argv, str(sealed), str(out)]) == EXIT_OK
    assert out.read_bytes() == b"orders of the day"
    assert calls.regions() == {DR}
    assert calls.kms[-1] == (DR, "Decrypt", keys.replica)


def test_kmskit_decrypt_with_the_home_region_down_points_to_the_replica(
    keys: Keys, calls: Calls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sealed = _sealed(tmp_path, keys, calls)
    out = tmp_path / "orders.txt"
    assert main(["decrypt", "--region", DR, str(sealed), str(out)]) == EXIT_FAILURE
    line = one_error_line(capsys)
    assert line.startswith(
        f'kmskit: error: Could not connect to the endpoint URL: "https://kms.{HOME}'
    )
    assert line.endswith(
        "can decrypt it. Name the replica ('keys' / --key), or name no key and give the Region "
        "to call ('discovery_region' / --discovery-region)"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "how",
    [["--key", "REPLICA"], ["--discovery-region", DR]],
    ids=["replica-arn", "discovery-region"],
)
def test_kmskit_get_in_the_recovery_region(
    keys: Keys, calls: Calls, tmp_path: Path, how: list[str]
) -> None:
    source = tmp_path / "orders.csv"
    source.write_bytes(b"id,total\n1,12.50\n")
    uri = f"s3://{BUCKET}/2026/12/orders.csv"
    put = ["put", "-q", "--region", DR, "--key", keys.primary, "--context", "purpose=backup"]
    assert main([*put, str(source), uri]) == EXIT_OK
    calls.kms.clear()
    calls.down.add(HOME)
    out = tmp_path / "restored.csv"
    options = [keys.replica if word == "REPLICA" else word for word in how]
    assert main(["get", "-q", "--region", DR, *options, uri, str(out)]) == EXIT_OK
    assert out.read_bytes() == source.read_bytes()
    assert calls.kms == [(DR, "Decrypt", keys.replica)]


@pytest.mark.parametrize("command", ["decrypt", "get"])
@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            ["--discovery-region", "eu-west"],
            "'--discovery-region' must be an AWS Region name. Received: 'eu-west'",
        ),
        (
            ["--discovery-region", "eu-west-1\n"],
            "'--discovery-region' must be an AWS Region name. Received: 'eu-west-1\\n'",
        ),
        (["--discovery-region", ""], "'--discovery-region' must not be empty. Received: ''"),
        (
            ["--key", ALIAS, "--discovery-region", DR],
            "'--discovery-region' applies only in discovery mode, when no key is named. "
            f"Received keys ['{ALIAS}'] and Region '{DR}'",
        ),
    ],
    ids=["not-a-region", "newline", "empty", "with-key"],
)
def test_kmskit_checks_the_discovery_region_before_any_aws_call(
    command: str,
    options: list[str],
    error: str,
    tmp_path: Path,
    no_aws: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "in.enc"
    source.write_bytes(b"x")
    out = tmp_path / "out"
    paths = [str(source), str(out)] if command == "decrypt" else [f"s3://{BUCKET}/k", str(out)]
    assert main([command, *options, *paths]) == EXIT_USAGE
    assert one_error_line(capsys) == f"kmskit: error: {error}"
    assert no_aws == []
    assert not out.exists()
