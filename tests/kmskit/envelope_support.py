"""Shared set-up for the envelope tests: a moto KMS with keys, and a probe on every client
kmskit creates (through ``ClientSettings.client``) that counts calls and injects errors."""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import struct
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from aws_encryption_sdk.key_providers.base import MasterKeyProvider
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, utils
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kms import utils as moto_kms_utils
from moto.kms.models import kms_backends

from kmskit.clients import ClientSettings
from kmskit.errors import AccessDeniedError

ROOT = Path(__file__).resolve().parents[2]
"""The repository (cwd and PYTHONPATH of a ``python -m kmskit`` subprocess)."""

REGION = "eu-west-1"
RSA_OAEP = "RSAES_OAEP_SHA_256"
ALIAS = "alias/app-data"


@dataclass
class KmsWorld:
    """A moto KMS with one symmetric key (``arn``, also reachable as ``ALIAS``)."""

    kms: Any
    arn: str
    key_id: str

    def new_key(self, **params: Any) -> str:
        arn: str = self.kms.create_key(**params)["KeyMetadata"]["Arn"]
        return arn


@contextlib.contextmanager
def kms_world() -> Iterator[KmsWorld]:
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        meta = kms.create_key(Description="envelope tests")["KeyMetadata"]
        kms.create_alias(AliasName=ALIAS, TargetKeyId=meta["KeyId"])
        yield KmsWorld(kms=kms, arn=meta["Arn"], key_id=meta["KeyId"])


# moto 5 writes a key ID into its ciphertext blobs in a 36-byte field (a UUID), but names its
# multi-Region keys "mrk-" + a UUID, 40 characters: a blob of such a key names a key that does not
# exist, so Decrypt fails (AccessDeniedException) in every Region, the primary's own included.
_WIDE_BLOB_HEADER = struct.Struct(">40s12s16s")  # key ID, IV, tag


def _wide_blob(ciphertext: Any) -> bytes:
    header = _WIDE_BLOB_HEADER.pack(ciphertext.key_id.encode(), ciphertext.iv, ciphertext.tag)
    return header + bytes(ciphertext.ciphertext)


def _read_wide_blob(ciphertext_blob: bytes) -> Any:
    key_id, iv, tag = _WIDE_BLOB_HEADER.unpack(ciphertext_blob[: _WIDE_BLOB_HEADER.size])
    return moto_kms_utils.Ciphertext(
        key_id=key_id.rstrip(b"\0").decode(),
        iv=iv,
        ciphertext=ciphertext_blob[_WIDE_BLOB_HEADER.size :],
        tag=tag,
    )


@contextlib.contextmanager
def moto_multi_region_keys() -> Iterator[None]:
    """Let moto decrypt what a multi-Region key encrypted, in the primary's and in each replica's
    Region (moto copies the key material to a replica), by widening the key ID field of moto's
    ciphertext blobs to 40 bytes while the block runs (blobs are made and read inside it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(moto_kms_utils, "_serialize_ciphertext_blob", _wide_blob)
        patch.setattr(moto_kms_utils, "_deserialize_ciphertext_blob", _read_wide_blob)
        yield


def multi_region_key(
    primary_region: str, replica_regions: tuple[str, ...], *, alias: str | None = None
) -> tuple[str, dict[str, str]]:
    """A moto multi-Region key in ``primary_region`` with a replica in each of
    ``replica_regions``: its ARN and the replicas' ARNs by Region. ``alias`` (default None)
    names the primary and each replica in its own Region."""
    primary = boto3.client("kms", region_name=primary_region)
    meta = primary.create_key(MultiRegion=True, Description="multi-Region")["KeyMetadata"]
    key_id, arn = meta["KeyId"], str(meta["Arn"])
    # moto's ReplicateKey takes the key ID only (it looks an ARN up as an ID).
    replicas = {
        region: str(
            primary.replicate_key(KeyId=key_id, ReplicaRegion=region)["ReplicaKeyMetadata"]["Arn"]
        )
        for region in replica_regions
    }
    if alias:
        # A moto replica is a shallow copy of the primary that shares its aliases: one alias
        # made after the replicas names the key in each Region, as one alias per Region would.
        primary.create_alias(AliasName=alias, TargetKeyId=key_id)
    return arn, replicas


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class _Injection:
    code: str
    message: str
    status: int
    times: int | None
    sent: int = 0


Responder = Callable[[dict[str, Any]], "tuple[int, dict[str, Any]] | None"]


@dataclass
class ClientProbe:
    """Hooks every client kmskit makes.

    ``calls[op]`` counts API calls (once per call, whatever the retries); ``attempts[op]``
    counts HTTP attempts (retries included). ``fail(op, code)`` makes ``op`` answer with that
    error (every attempt, or the first ``times``), before moto sees the request.
    ``respond(op, fn)`` lets ``fn(request_body)`` answer ``op`` with ``(status, parsed)``
    (None: let moto answer).
    """

    calls: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _injections: dict[str, _Injection] = field(default_factory=dict)
    _responders: dict[str, Responder] = field(default_factory=dict)

    def respond(self, operation: str, responder: Responder) -> None:
        self._responders[operation] = responder

    def fail(
        self,
        operation: str,
        code: str,
        message: str = "injected by the test",
        *,
        status: int = 400,
        times: int | None = None,
    ) -> None:
        self._injections[operation] = _Injection(code, message, status, times)

    def attach(self, client: Any) -> None:
        # Once per client: ClientSettings hands the same client out again.
        client.meta.events.register(
            "before-call", self._count_call, unique_id=f"kmskit-probe-call-{id(self)}"
        )
        client.meta.events.register_first(
            "before-send", self._send, unique_id=f"kmskit-probe-send-{id(self)}"
        )

    def _count_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        self.calls[model.name] += 1
        json_protocol = model.metadata.get("protocol") == "json"
        request = json.loads(params.get("body") or b"{}") if json_protocol else {}
        self.requests.append((model.name, request))
        responder = self._responders.get(model.name)
        answer = responder(request) if responder else None
        if answer is None:
            return None
        status, parsed = answer
        parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status})
        return AWSResponse(params["url"], status, {}, _Body(b"")), parsed

    def _send(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.attempts[operation] += 1
        injection = self._injections.get(operation)
        if injection is None or (injection.times is not None and injection.sent >= injection.times):
            return None
        injection.sent += 1
        if event_name.split(".")[1] == "s3":  # REST-XML errors
            code, message = injection.code, injection.message
            xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            return AWSResponse(request.url, injection.status, {}, _Body(xml.encode()))
        body = json.dumps({"__type": injection.code, "message": injection.message}).encode()
        return AWSResponse(request.url, injection.status, {}, _Body(body))


def probe_clients(monkeypatch: pytest.MonkeyPatch, *, no_backoff: bool = True) -> ClientProbe:
    """Attach a :class:`ClientProbe` to every client made through ``ClientSettings.client``.

    ``no_backoff`` makes botocore's standard retries wait 0 s (the attempts still happen).
    """
    probe = ClientProbe()
    original = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)
        probe.attach(made)
        return made

    monkeypatch.setattr(ClientSettings, "client", client)
    if no_backoff:
        monkeypatch.setattr(
            botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0
        )
    return probe


def clients_made_and_closed(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    """The clients made through ``ClientSettings.client`` (each once), and every ``close()``
    of a client, in order (the same client twice if closed twice)."""
    made: list[Any] = []
    closed: list[Any] = []
    client, close = ClientSettings.client, BaseClient.close

    def recorded_client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        found = client(self, service, **kwargs)
        if all(found is not seen for seen in made):
            made.append(found)
        return found

    def recorded_close(self: BaseClient) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(ClientSettings, "client", recorded_client)
    monkeypatch.setattr(BaseClient, "close", recorded_close)
    return made, closed


OneCall = Callable[[ClientSettings | None], object]
"""A call of a one-call KMS function (``kmskit.envelope_kms``, ``kmskit.envelope_asymmetric``)
with the settings given."""


def refuse(probe: ClientProbe, operation: str) -> None:
    """KMS refuses ``operation`` with AccessDeniedException. A responder, not
    :meth:`ClientProbe.fail`: the operations :func:`emulate_asymmetric_kms` answers are answered
    before the request is sent, where ``fail`` acts."""
    denied = {"Code": "AccessDeniedException", "Message": "not allowed"}
    probe.respond(operation, lambda request: (400, {"Error": denied}))


def _call_refused_if(
    fails: bool, probe: ClientProbe, operation: str, call: Callable[[], object]
) -> None:
    """``call()``; if ``fails``, with KMS refusing ``operation``, and it must raise
    :class:`AccessDeniedError`."""
    if fails:
        refuse(probe, operation)
    with pytest.raises(AccessDeniedError) if fails else contextlib.nullcontext():
        call()


def check_own_client_closed_once(
    monkeypatch: pytest.MonkeyPatch,
    probe: ClientProbe,
    operations: list[str],
    call: OneCall,
    *,
    fails: bool,
) -> None:
    """``call(None)`` calls each of ``operations`` once (KMS refusing the last if ``fails``)
    with one client, made for the call, and closes that client exactly once."""
    made, closed = clients_made_and_closed(monkeypatch)
    _call_refused_if(fails, probe, operations[-1], lambda: call(None))
    assert [probe.calls[operation] for operation in operations] == [1] * len(operations)
    assert len(made) == 1  # one client for every call KMS gets
    assert closed == made  # that client, once


def check_callers_client_reused_and_open(
    monkeypatch: pytest.MonkeyPatch,
    probe: ClientProbe,
    operations: list[str],
    call: OneCall,
    *,
    fails: bool,
) -> None:
    """``call(settings)`` twice (KMS refusing the second's last operation if ``fails``) uses
    the client the caller's settings keep, makes no other and closes none."""
    settings = ClientSettings()
    kept = settings.client("kms")
    made, closed = clients_made_and_closed(monkeypatch)
    call(settings)
    _call_refused_if(fails, probe, operations[-1], lambda: call(settings))
    assert probe.calls[operations[-1]] == 2
    assert made == [kept]  # no client of the call's own
    assert closed == []
    assert settings.client("kms") is kept


def moto_private_key(key_id: str) -> tuple[str, Any]:
    """The ARN and the cryptography private key of a moto asymmetric key."""

    key = kms_backends[DEFAULT_ACCOUNT_ID][REGION].describe_key(key_id)
    return key.arn, key.private_key.private_key


def _hash(algorithm: str) -> Any:
    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[
        algorithm.rsplit("_", 1)[1]
    ]


def emulate_asymmetric_kms(probe: ClientProbe) -> None:
    """What moto 5.2 lacks of asymmetric KMS, done as the KMS API reference describes it with
    moto's own private keys: Decrypt with RSAES_OAEP_SHA_256 (moto only decrypts its symmetric
    blobs), Sign with MessageType=DIGEST (moto hashes the digest again), and RSASSA_PSS Sign and
    Verify with a salt as long as the digest ("SHA-256 for both the message digest and the MGF1
    mask generation function along with a 256-bit salt", developerguide/symm-asymm-choose.html;
    moto uses the longest salt). Everything else is left to moto."""

    def decrypt(request: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if request.get("EncryptionAlgorithm") != RSA_OAEP:
            return None
        arn, key = moto_private_key(request["KeyId"])
        oaep = padding.OAEP(mgf=padding.MGF1(_hash("_256")), algorithm=_hash("_256"), label=None)
        try:
            plaintext = key.decrypt(base64.b64decode(request["CiphertextBlob"]), oaep)
        except ValueError:
            error = {"Code": "InvalidCiphertextException", "Message": "bad RSA ciphertext"}
            return 400, {"Error": error}
        return 200, {
            "KeyId": arn,
            "Plaintext": plaintext,
            "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
        }

    def digest_of(request: dict[str, Any]) -> bytes:
        message = base64.b64decode(request["Message"])
        if request.get("MessageType") == "DIGEST":
            return message
        hashing = hashes.Hash(_hash(request["SigningAlgorithm"]))
        hashing.update(message)
        return hashing.finalize()

    def rsa_padding(algorithm: str) -> Any:
        if algorithm.startswith("RSASSA_PSS"):
            return padding.PSS(
                mgf=padding.MGF1(_hash(algorithm)), salt_length=padding.PSS.DIGEST_LENGTH
            )
        return padding.PKCS1v15()

    def wrong_usage(key_id: str) -> tuple[int, dict[str, Any]] | None:
        usage = kms_backends[DEFAULT_ACCOUNT_ID][REGION].describe_key(key_id).key_usage
        if usage == "SIGN_VERIFY":
            return None
        error = {"Code": "InvalidKeyUsageException", "Message": f"{usage} key"}
        return 400, {"Error": error}

    def sign(request: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        algorithm = request["SigningAlgorithm"]
        if request.get("MessageType") != "DIGEST" and not algorithm.startswith("RSASSA_PSS"):
            return None
        if refused := wrong_usage(request["KeyId"]):
            return refused
        arn, key = moto_private_key(request["KeyId"])
        prehashed = utils.Prehashed(_hash(algorithm))
        if algorithm.startswith("ECDSA"):
            signature = key.sign(digest_of(request), ec.ECDSA(prehashed))
        else:
            signature = key.sign(digest_of(request), rsa_padding(algorithm), prehashed)
        return 200, {"KeyId": arn, "Signature": signature, "SigningAlgorithm": algorithm}

    def verify(request: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        algorithm = request["SigningAlgorithm"]
        if not algorithm.startswith("RSASSA_PSS"):
            return None
        if refused := wrong_usage(request["KeyId"]):
            return refused
        arn, key = moto_private_key(request["KeyId"])
        try:
            key.public_key().verify(
                base64.b64decode(request["Signature"]),
                digest_of(request),
                rsa_padding(algorithm),
                utils.Prehashed(_hash(algorithm)),
            )
        except InvalidSignature:
            error = {"Code": "KMSInvalidSignatureException", "Message": "invalid signature"}
            return 400, {"Error": error}
        return 200, {"KeyId": arn, "SignatureValid": True, "SigningAlgorithm": algorithm}

    probe.respond("Decrypt", decrypt)
    probe.respond("Sign", sign)
    probe.respond("Verify", verify)


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line a failed command wrote to stderr (``kmskit: error: ...``), no traceback."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kmskit: error: ")
    assert "Traceback" not in err
    return lines[0]


def subparsers_of(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every subcommand's parser under ``parser``, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield child
                yield from subparsers_of(child)


class FakeTerminal(io.TextIOWrapper):
    """Standard output that says it is a terminal, and keeps what was written to it."""

    def __init__(self) -> None:
        self.written = io.BytesIO()
        super().__init__(self.written, encoding="utf-8")

    def isatty(self) -> bool:
        return True


@dataclass
class LocalSigningKeys:
    """KMS keys that moto 5.2 cannot create (ML-DSA, Ed25519), answered by
    :func:`emulate_local_signing_keys` with private keys made here: ``keys`` maps a key ARN
    (and ``aliases`` an alias name) to one."""

    keys: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def add(self, spec: str, alias: str | None = None) -> str:
        arn = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:key/{uuid.uuid4()}"
        self.keys[arn] = LOCAL_SIGNING_SPECS[spec].generate()
        if alias:
            self.aliases[alias] = arn
        return arn

    def private_key(self, key_id: str) -> tuple[str, Any]:
        arn = self.aliases.get(key_id, key_id)
        return arn, self.keys[arn]


LOCAL_SIGNING_SPECS: dict[str, Any] = {
    "ML_DSA_44": mldsa.MLDSA44PrivateKey,
    "ML_DSA_65": mldsa.MLDSA65PrivateKey,
    "ML_DSA_87": mldsa.MLDSA87PrivateKey,
    "ECC_NIST_EDWARDS25519": ed25519.Ed25519PrivateKey,
}
ED25519_PH_STAND_IN = b"stand-in for Ed25519ph over "
"""``cryptography`` has no Ed25519ph: the stand-in KMS answers ED25519_PH_SHA_512 with an
Ed25519 signature over this prefix and the digest it was sent, which tells the tests what
kmskit sent (not whether Ed25519ph would verify: only KMS can check that)."""


def _spec_of(private_key: Any) -> str:
    return next(spec for spec, kind in LOCAL_SIGNING_SPECS.items() if isinstance(private_key, kind))


def emulate_local_signing_keys(probe: ClientProbe, keys: LocalSigningKeys) -> None:
    """``GetPublicKey``, ``Sign`` and ``Verify`` of ``keys`` as the KMS API reference describes
    them (Sign's MessageType): ML_DSA_SHAKE_256 takes RAW (pure ML-DSA, empty context) or
    EXTERNAL_MU (64 bytes); ED25519_SHA_512 only RAW; ED25519_PH_SHA_512 only DIGEST (64
    bytes; answered with :data:`ED25519_PH_STAND_IN`). Anything else is a ValidationException
    (an algorithm of another key family: InvalidKeyUsageException), an invalid signature
    KMSInvalidSignatureException."""

    class RefusedError(Exception):
        def __init__(self, code: str, message: str) -> None:
            self.answer = 400, {"Error": {"Code": code, "Message": message}}

    def get_public_key(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        arn, private_key = keys.private_key(request["KeyId"])
        der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        answer = {"KeyId": arn, "PublicKey": der, "KeySpec": _spec_of(private_key)}
        return 200, {**answer, "KeyUsage": "SIGN_VERIFY"}

    def signed(request: dict[str, Any]) -> tuple[Any, bytes]:
        """(the private key, what it signs) for the request, or :class:`RefusedError` where
        KMS refuses it."""
        _, private_key = keys.private_key(request["KeyId"])
        algorithm, kind = request["SigningAlgorithm"], request.get("MessageType", "RAW")
        message = base64.b64decode(request["Message"])
        ml_dsa = _spec_of(private_key).startswith("ML_DSA")
        if algorithm != ("ML_DSA_SHAKE_256" if ml_dsa else algorithm) or not (
            ml_dsa or algorithm in ("ED25519_SHA_512", "ED25519_PH_SHA_512")
        ):
            raise RefusedError("InvalidKeyUsageException", f"{algorithm} does not fit the key")
        wanted = {"ED25519_SHA_512": "RAW", "ED25519_PH_SHA_512": "DIGEST"}.get(algorithm, kind)
        if kind != wanted or (kind == "DIGEST" and ml_dsa):
            raise RefusedError("ValidationException", f"{algorithm} takes MessageType {wanted}")
        if kind in ("EXTERNAL_MU", "DIGEST") and len(message) != 64:
            raise RefusedError("ValidationException", f"{kind} Message must be 64 bytes")
        if algorithm == "ED25519_PH_SHA_512":
            return private_key, ED25519_PH_STAND_IN + message
        return private_key, message

    def sign(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            private_key, message = signed(request)
        except RefusedError as refused:
            return refused.answer
        if request.get("MessageType") == "EXTERNAL_MU":
            signature = private_key.sign_mu(message)
        else:
            signature = private_key.sign(message)
        arn, _ = keys.private_key(request["KeyId"])
        algorithm = request["SigningAlgorithm"]
        return 200, {"KeyId": arn, "Signature": signature, "SigningAlgorithm": algorithm}

    def verify(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            private_key, message = signed(request)
        except RefusedError as refused:
            return refused.answer
        signature = base64.b64decode(request["Signature"])
        try:
            if request.get("MessageType") == "EXTERNAL_MU":
                private_key.public_key().verify_mu(signature, message)
            else:
                private_key.public_key().verify(signature, message)
        except InvalidSignature:
            return RefusedError("KMSInvalidSignatureException", "invalid signature").answer
        arn, _ = keys.private_key(request["KeyId"])
        algorithm = request["SigningAlgorithm"]
        return 200, {"KeyId": arn, "SignatureValid": True, "SigningAlgorithm": algorithm}

    probe.respond("GetPublicKey", get_public_key)
    probe.respond("Sign", sign)
    probe.respond("Verify", verify)


def data_keys_tried_first(monkeypatch: pytest.MonkeyPatch, key_arn: str) -> list[str]:
    """Make the SDK try the message's copy under ``key_arn`` first (it takes them in a set's
    order, which varies from message to message); the key ARNs it is asked to take, in
    order."""
    tried: list[str] = []
    original = MasterKeyProvider.decrypt_data_key_from_list

    def ordered(self: Any, encrypted_data_keys: Any, **kwargs: Any) -> Any:
        keys = sorted(
            encrypted_data_keys, key=lambda k: k.key_provider.key_info != key_arn.encode()
        )
        tried.extend(k.key_provider.key_info.decode() for k in keys)
        return original(self, keys, **kwargs)

    monkeypatch.setattr(MasterKeyProvider, "decrypt_data_key_from_list", ordered)
    return tried
