"""kmskit used as a library in a caller's service: one ClientSettings (or the caller's boto3
session) serves every call without a new session or client per call, the data key cache is
shared by threads with one GenerateDataKey per ``max_messages`` messages, arguments of the wrong
type are refused as UsageError, and library code prints nothing (warnings go to logging)."""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import math
import threading
import time
import warnings
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header
from aws_encryption_sdk.materials_managers.caching import CachingCryptoMaterialsManager
from moto import mock_aws

from kmskit.audit import AuditReader, LogLocation, RecordFilter, UsageSummary
from kmskit.clients import ClientSettings, kms_client
from kmskit.envelope import CacheLimits, Envelope
from kmskit.envelope_kms import decrypt_small, encrypt_small, new_data_key
from kmskit.errors import KmskitError, UsageError
from tests.kmskit import test_audit as base
from tests.kmskit.envelope_support import (
    ALIAS,
    KmsWorld,
    clients_made_and_closed,
    probe_clients,
)
from tests.kmskit.test_audit_limits import expire_after_listing, expiring_bucket

CONTEXT = {"purpose": "library"}


def count_sessions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many boto3 sessions are made from now on (one element per session)."""
    made: list[int] = []
    init = boto3.session.Session.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "__init__", counting_init)
    return made


# -- clients: one session, one client per service and Region ------------------------------------


def test_one_client_settings_makes_one_session_and_one_client(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ClientSettings()
    sessions = count_sessions(monkeypatch)
    blob = encrypt_small(ALIAS, b"secret", CONTEXT, settings=settings)
    for _ in range(5):
        assert decrypt_small(blob, CONTEXT, settings=settings) == b"secret"
    # Before: a new session (and credential lookup) and a new client for each of the 6 calls.
    assert len(sessions) == 1
    assert settings.client("kms") is settings.client("kms")
    assert settings.client("kms", region="us-east-1") is not settings.client("kms")


def test_close_closes_the_kept_clients_and_the_next_call_makes_new_ones(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    with ClientSettings() as settings:
        kms, s3 = settings.client("kms"), settings.client("s3", region="us-east-1")
        for client in (kms, s3):
            name = client.meta.service_model.service_name
            monkeypatch.setattr(client, "close", lambda name=name: closed.append(name))
        blob = encrypt_small(ALIAS, b"secret", CONTEXT, settings=settings)
    assert sorted(closed) == ["kms", "s3"]
    assert settings.client("kms") is not kms
    assert decrypt_small(blob, CONTEXT, settings=settings) == b"secret"
    settings.close()
    assert sorted(closed) == ["kms", "s3"]  # the new client is botocore's own close, not patched


def test_kms_client_belongs_to_the_settings_given_and_closes_with_them(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    made, closed = clients_made_and_closed(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning with settings: the form to use
        with ClientSettings() as settings:
            kms = kms_client(settings)
            assert kms is settings.client("kms")
            assert kms.list_aliases()["Aliases"]
            assert closed == []
    assert made == [kms]
    assert closed == [kms]  # closed once, by the settings


@pytest.mark.parametrize("call", [kms_client, lambda: kms_client(None)], ids=["()", "(None)"])
def test_kms_client_without_settings_is_deprecated_and_still_works(
    world: KmsWorld, call: Callable[[], Any]
) -> None:
    # Its client belongs to a ClientSettings() nothing else holds: only the caller can close it.
    with pytest.warns(DeprecationWarning, match=r"^kms_client\(\) without settings") as caught:
        kms = call()
    assert len(caught) == 1
    assert caught[0].filename == __file__  # the caller's line, which has to change
    assert "with ClientSettings() as settings: kms = kms_client(settings)" in str(caught[0].message)
    with contextlib.closing(kms):
        assert kms.list_aliases()["Aliases"]


def test_close_leaves_the_callers_session_open(world: KmsWorld) -> None:
    session = boto3.session.Session(region_name="eu-west-1")
    settings = ClientSettings(boto3_session=session)
    settings.client("kms")
    settings.close()
    assert settings.session() is session
    blob = encrypt_small(ALIAS, b"s", CONTEXT, settings=settings)
    assert decrypt_small(blob, CONTEXT, settings=settings) == b"s"


def test_a_callers_boto3_session_is_used_for_every_client(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The key is only in eu-central-1, the caller's session's Region (the default is eu-west-1).
    session = boto3.session.Session(region_name="eu-central-1")
    kms = session.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/central", TargetKeyId=key)
    settings = ClientSettings(boto3_session=session)
    sessions = count_sessions(monkeypatch)

    envelope = Envelope(["alias/central"], settings=settings)
    message = envelope.encrypt(b"data", CONTEXT)
    assert envelope.decrypt(message, CONTEXT) == b"data"
    assert Envelope(settings=settings).decrypt(message, CONTEXT) == b"data"
    with new_data_key("alias/central", CONTEXT, settings=settings) as data_key:
        assert ":eu-central-1:" in data_key.key_id
    blob = encrypt_small("alias/central", b"s", CONTEXT, settings=settings)
    assert decrypt_small(blob, CONTEXT, settings=settings) == b"s"
    assert sessions == []  # no session of kmskit's own, so no default credentials either
    assert settings.client("s3").meta.region_name == "eu-central-1"


def test_envelopes_made_per_request_with_one_settings_are_freed(world: KmsWorld) -> None:
    settings = ClientSettings()
    providers = []
    for n in range(3):
        envelope = Envelope([ALIAS], settings=settings)
        message = envelope.encrypt(b"request %d" % n, CONTEXT)
        assert envelope.decrypt(message, CONTEXT) == b"request %d" % n
        providers.append(weakref.ref(envelope._encrypt_materials.master_key_provider))
        providers.append(weakref.ref(envelope._decrypt_materials[0].master_key_provider))
        del envelope
    gc.collect()
    # The key providers' KMS clients register a handler holding the provider: a client kept
    # by the settings for every Envelope would keep every provider, and run every handler.
    assert [ref() for ref in providers] == [None] * 6


def test_profile_and_boto3_session_exclude_each_other() -> None:
    with pytest.raises(UsageError, match=r"'profile' and 'boto3_session' exclude each other"):
        ClientSettings(profile="ops", boto3_session=boto3.session.Session())


# -- the data key cache, shared by threads ------------------------------------------------------


def test_threads_sharing_a_cache_make_one_data_key_per_max_messages(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = probe_clients(monkeypatch)
    envelope = Envelope([ALIAS], cache=CacheLimits(max_messages=25, max_age=600))
    contexts, count = 4, 200

    def round_trip(n: int) -> tuple[bytes, bytes]:
        context = {"tenant": str(n % contexts)}
        plaintext = b"message %d " % n * (n % 5 + 1)
        message = envelope.encrypt(plaintext, context)
        assert envelope.decrypt(message, context) == plaintext
        return plaintext, message

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(round_trip, range(count)))

    # Before: threads that missed the cache together each made a data key (9-20 calls here).
    assert probe.calls["GenerateDataKey"] == contexts * math.ceil(count / contexts / 25)
    per_data_key = Counter(
        next(iter(deserialize_header(io.BytesIO(m))[0].encrypted_data_keys)).encrypted_data_key
        for _, m in results
    )
    assert sorted(per_data_key.values()) == [25] * 8
    reader = Envelope([world.arn])
    assert all(reader.decrypt(m) == p for p, m in results)


def decrypt_at_once_with_a_slow_kms(
    monkeypatch: pytest.MonkeyPatch, reader: Envelope, messages: list[bytes]
) -> list[int]:
    """Decrypt ``messages`` with ``reader``, one thread each, all started together, while every
    KMS Decrypt takes 0.3 s; how many Decrypt calls were in flight at most (one element)."""
    original = ClientSettings.client
    guard = threading.Lock()
    running = [0, 0]  # Decrypt calls in flight now, most at once

    def slow_decrypt_call(**_: Any) -> None:
        # Long enough for every thread to miss the cache before the first call returns.
        with guard:
            running[0] += 1
            running[1] = max(running)
        time.sleep(0.3)
        with guard:
            running[0] -= 1

    def slow_decrypt(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)  # the probe's, which counts the calls
        made.meta.events.register(
            "before-call.kms.Decrypt", slow_decrypt_call, unique_id="slow-decrypt"
        )
        return made

    monkeypatch.setattr(ClientSettings, "client", slow_decrypt)
    start = threading.Barrier(len(messages))

    def decrypt(message: bytes) -> bytes:
        start.wait(timeout=30)
        return reader.decrypt(message, CONTEXT)

    with ThreadPoolExecutor(len(messages)) as pool:
        assert list(pool.map(decrypt, messages)) == [b"row %d" % n for n in range(len(messages))]
    return running[1:]


def test_threads_decrypting_messages_of_one_data_key_call_decrypt_once(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Envelope([ALIAS], cache=CacheLimits(max_messages=100, max_age=600))
    messages = [writer.encrypt(b"row %d" % n, CONTEXT) for n in range(8)]
    probe = probe_clients(monkeypatch)
    reader = Envelope([world.arn], cache=CacheLimits(max_age=600))
    (most_at_once,) = decrypt_at_once_with_a_slow_kms(monkeypatch, reader, messages)
    # Before: each thread that missed the cache called Decrypt (8 calls here).
    assert (probe.calls["Decrypt"], most_at_once) == (1, 1)


def test_threads_decrypting_messages_of_other_data_keys_call_decrypt_in_parallel(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without a cache on the writer, each message has a data key of its own (one KMS key).
    writer = Envelope([ALIAS])
    messages = [writer.encrypt(b"row %d" % n, CONTEXT) for n in range(8)]
    probe = probe_clients(monkeypatch)
    reader = Envelope([world.arn], cache=CacheLimits(max_age=600))
    (most_at_once,) = decrypt_at_once_with_a_slow_kms(monkeypatch, reader, messages)
    assert probe.calls["Decrypt"] == 8
    # A lock per data key: none waits for another's Decrypt (with 64 striped locks, 8 data keys
    # shared one 36% of the time, and one Decrypt waited behind the other).
    assert most_at_once == 8
    assert reader._decrypt_locks is not None
    assert len(reader._decrypt_locks) == 0  # kept only while held


def test_messages_the_cache_cannot_take_do_not_wait_for_its_lock(world: KmsWorld) -> None:
    envelope = Envelope([ALIAS], cache=CacheLimits(max_bytes=1024))
    lock = envelope._cache_lock
    assert lock is not None
    assert Envelope([ALIAS])._cache_lock is None

    class Pipe:  # no tell/seek: its length is unknown, so the cache cannot take it
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1, /) -> bytes:
            return self._data.read(size)

    def uncached() -> bytes:
        envelope.encrypt_stream(Pipe(b"y"), io.BytesIO(), CONTEXT)
        return envelope.encrypt(b"x" * 2048, CONTEXT)  # at least max_bytes: never cached

    with lock, ThreadPoolExecutor(1) as pool:  # held: only a cached request would wait
        assert pool.submit(uncached).result(timeout=30)


def test_a_message_of_max_bytes_leaves_the_cache_to_the_cached_ones(
    world: KmsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message of at least max_bytes, encrypted by one thread while another's cached message
    is between finding the cache entry over its limits and removing it, neither looks the entry
    up nor removes it. Before: it removed the entry first, and the cached message's own removal
    failed ("could not encrypt: Key not found in cache", UsageError, exit 2)."""
    envelope = Envelope([ALIAS], cache=CacheLimits(max_bytes=1024, max_messages=1))
    envelope.encrypt(b"first", CONTEXT)  # the cache entry, at its limit of one message
    found_over_limit, go_on = threading.Event(), threading.Event()
    check = CachingCryptoMaterialsManager._cache_entry_has_exceeded_limits

    def check_then_wait(self: Any, entry: Any) -> bool:
        exceeded: bool = check(self, entry)
        if threading.current_thread() is not threading.main_thread():
            found_over_limit.set()
            assert go_on.wait(timeout=30)
        return exceeded

    monkeypatch.setattr(
        CachingCryptoMaterialsManager, "_cache_entry_has_exceeded_limits", check_then_wait
    )
    with ThreadPoolExecutor(1) as pool:
        cached = pool.submit(envelope.encrypt, b"small", CONTEXT)
        assert found_over_limit.wait(timeout=30)
        large = envelope.encrypt(b"x" * 1024, CONTEXT)  # while the small one waits
        go_on.set()
        small = cached.result(timeout=30)
    reader = Envelope([world.arn])
    assert (reader.decrypt(small), reader.decrypt(large)) == (b"small", b"x" * 1024)


# -- arguments of the wrong type ----------------------------------------------------------------


@pytest.mark.parametrize(("value", "kind"), [(None, "NoneType"), ("text", "str"), (7, "int")])
def test_encrypt_refuses_what_is_not_bytes(world: KmsWorld, value: Any, kind: str) -> None:
    with pytest.raises(UsageError) as caught:
        Envelope([ALIAS]).encrypt(value, CONTEXT)
    # Before: None encrypted to a valid message of no bytes; text raised a bare TypeError.
    assert str(caught.value) == (
        "'plaintext' must be bytes (bytes, bytearray or memoryview; encode text first). "
        f"Received: {kind}"
    )


@pytest.mark.parametrize(("value", "kind"), [(None, "NoneType"), ("é" * 4096, "str")])
def test_encrypt_small_refuses_what_is_not_bytes(world: KmsWorld, value: Any, kind: str) -> None:
    # Before: None raised a bare TypeError, and text was sent (4,096 characters, 8,192 bytes).
    with pytest.raises(UsageError) as caught:
        encrypt_small(ALIAS, value, CONTEXT)
    assert str(caught.value) == (
        "'plaintext' must be bytes (bytes, bytearray or memoryview; encode text first). "
        f"Received: {kind}"
    )


def test_decrypt_refuses_what_is_not_bytes(world: KmsWorld) -> None:
    with pytest.raises(KmskitError, match=r"^'message' must be bytes .*Received: str$"):
        Envelope().decrypt("AgR4...", CONTEXT)  # type: ignore[arg-type]


@pytest.mark.parametrize("context", ["purpose=library", [("purpose", "library")]])
def test_a_context_that_is_not_a_mapping_is_refused(world: KmsWorld, context: Any) -> None:
    # Before: AttributeError ("'str' object has no attribute 'items'") from inside kmskit.
    expected = r"^the encryption context must be a mapping of strings, such as \{'purpose'"
    with pytest.raises(UsageError, match=expected + rf".*Received: {type(context).__name__} "):
        Envelope([ALIAS]).encrypt(b"data", context)
    with pytest.raises(UsageError, match=expected):
        encrypt_small(ALIAS, b"data", context)
    with pytest.raises(UsageError, match=expected):
        Envelope().decrypt(b"message", context)


def test_bytearray_and_memoryview_are_bytes(world: KmsWorld) -> None:
    envelope = Envelope([ALIAS])
    message = envelope.encrypt(bytearray(b"abc"), CONTEXT)
    assert envelope.decrypt(memoryview(message), CONTEXT) == b"abc"


# -- logging, not printing ----------------------------------------------------------------------


def test_audit_reader_logs_a_skipped_file_and_prints_nothing(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = "audit-logs-library"
    with mock_aws(), caplog.at_level(logging.WARNING, logger="kmskit.audit"):
        s3, expired = expiring_bucket(bucket)
        expire_after_listing(monkeypatch, s3, expired)
        monkeypatch.setattr("sys.stderr.isatty", lambda: True)  # a terminal: still no bar
        stats = AuditReader(s3, workers=2).run(
            LogLocation(bucket, base.PREFIX), base.WEEK, RecordFilter(), UsageSummary().add
        )
    uri = f"s3://{bucket}/{expired}"
    assert stats.skipped == [uri]
    assert capsys.readouterr() == ("", "")
    assert [(r.name, r.levelno) for r in caplog.records] == [("kmskit.audit", logging.WARNING)]
    assert caplog.records[0].getMessage().startswith(f"{uri} was listed but is gone")


# -- botocore's own errors, before any request reaches AWS --------------------------------------


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No credentials, no profile, no configuration file, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


KEY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"


CALLS: dict[str, Any] = {
    "Envelope.encrypt": lambda s: Envelope([KEY_ARN], settings=s).encrypt(b"x", CONTEXT),
    "Envelope.decrypt strict": lambda s: Envelope(["alias/a"], settings=s).decrypt(b"x"),
    "encrypt_small": lambda s: encrypt_small(KEY_ARN, b"x", CONTEXT, settings=s),
    "decrypt_small": lambda s: decrypt_small(b"blob", CONTEXT, settings=s),
    "new_data_key": lambda s: new_data_key(KEY_ARN, CONTEXT, settings=s),
}


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.usefixtures("no_aws_configuration")
def test_configuration_errors_are_kmskit_errors(name: str) -> None:
    # Before: botocore's ProfileNotFound and NoCredentialsError reached the caller (only the
    # CLI mapped them).
    with pytest.raises(UsageError, match=r"^'--profile' \(or AWS_PROFILE\) must name a profile"):
        CALLS[name](ClientSettings(profile="missing"))
    with pytest.raises(UsageError, match=r"^Unable to locate credentials \(configure AWS"):
        CALLS[name](ClientSettings())


@pytest.mark.parametrize(
    "options",
    [
        {},
        # The accounts' partition is read from the profile's Region, or the Region given.
        {"discovery_accounts": ["111111111111"]},
        {"discovery_accounts": ["111111111111"], "region": "eu-west-1"},
        {"discovery_accounts": ["111111111111"], "discovery_region": "eu-west-1"},
    ],
)
@pytest.mark.usefixtures("no_aws_configuration")
def test_discovery_decrypt_with_an_unknown_profile_is_a_kmskit_error(
    options: dict[str, Any],
) -> None:
    region = options.pop("region", None)
    settings = ClientSettings(profile="missing", region=region)
    with pytest.raises(UsageError, match=r"^'--profile' \(or AWS_PROFILE\) must name a profile"):
        Envelope(settings=settings, **options).decrypt(b"x", CONTEXT)
