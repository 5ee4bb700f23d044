"""Envelope encryption benchmark: kmskit against aws-encryption-sdk defaults and raw AES-GCM,
side by side in one run. No network: KMS is moto (in process, or a ThreadedMotoServer on
127.0.0.1 for the child processes, reached through AWS_ENDPOINT_URL).

    python benchmarks/envelope.py [--memory-mib 64] [--file-mib 1024] [--messages 10000]
                                  [--rounds 3] [--skip-file]

1. **In memory** (``--memory-mib``, median of ``--rounds``): encrypt and decrypt throughput of
   kmskit (default suite 0x0478, 1 MiB frames), kmskit ``--signed`` (0x0578), the SDK with its
   defaults (``EncryptionSDKClient.encrypt/decrypt``: 0x0578, 4 KiB frames) and one raw
   ``AESGCM`` call (the ceiling: no framing, no KMS).
2. **A file** (``--file-mib``, streamed, each in a child process whose wall time and peak RSS
   are measured): ``python -m kmskit encrypt/decrypt``, the SDK's documented streaming loop with
   its defaults, and raw AES-GCM over 1 MiB chunks; all three fsync their output, as kmskit's
   atomic output does. Temporary files are removed.
3. **KMS calls** for ``--messages`` messages of 1 KiB, without and with data key caching
   (``CacheLimits()`` defaults), counted with a botocore event hook on every kmskit client.

Targets (exit 1 if one is missed): kmskit >= 4x the SDK defaults on the in-memory data, both
directions; peak RSS <= 150 MiB for the file; with caching, GenerateDataKey calls <=
ceil(messages / max_messages).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import math
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Never reach a real account, whatever the caller's environment holds.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="benchmark",
    AWS_SECRET_ACCESS_KEY="benchmark",
    AWS_DEFAULT_REGION="eu-west-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)

import aws_encryption_sdk  # noqa: E402
import boto3  # noqa: E402
from aws_encryption_sdk.identifiers import CommitmentPolicy  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from benchmarks._measure import run_once  # noqa: E402
from kmskit.clients import ClientSettings  # noqa: E402
from kmskit.envelope import CacheLimits, Envelope, Suite  # noqa: E402

MIB = 2**20
CONTEXT = {"benchmark": "envelope"}
RSS_TARGET_MIB = 150
SPEEDUP_TARGET = 4.0


def mb_per_s(size: int, seconds: float) -> float:
    return size / seconds / 1e6


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# -- 1. in memory -------------------------------------------------------------------------------


def in_memory(size_mib: int, rounds: int) -> dict[str, tuple[float, float]]:
    data = os.urandom(size_mib * MIB)
    with mock_aws():
        arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        sdk = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn])
        fast, signed = Envelope([arn]), Envelope([arn], suite=Suite.SIGNED)
        aes_key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
        aes = AESGCM(aes_key)
        configs: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
            "kmskit default (0x0478, 1 MiB frames)": (
                lambda d: fast.encrypt(d, CONTEXT),
                lambda m: fast.decrypt(m, CONTEXT),
            ),
            "kmskit --signed (0x0578, 1 MiB frames)": (
                lambda d: signed.encrypt(d, CONTEXT),
                lambda m: signed.decrypt(m, CONTEXT),
            ),
            "aws-encryption-sdk defaults (0x0578, 4 KiB)": (
                lambda d: sdk.encrypt(source=d, key_provider=provider, encryption_context=CONTEXT)[
                    0
                ],
                lambda m: sdk.decrypt(source=m, key_provider=provider)[0],
            ),
            "raw AES-GCM, one call (no KMS, no framing)": (
                lambda d: aes.encrypt(nonce, d, None),
                lambda m: aes.decrypt(nonce, m, None),
            ),
        }
        for encrypt, decrypt in configs.values():  # warm up: clients, connections, imports
            decrypt(encrypt(b"warm-up"))
        samples: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in configs}
        for _ in range(rounds):  # interleaved, so that load from elsewhere hits all alike
            for name, (encrypt, decrypt) in configs.items():
                enc_s, message = timed(lambda e=encrypt: e(data))  # type: ignore[misc]
                dec_s, plaintext = timed(lambda d=decrypt, m=message: d(m))  # type: ignore[misc]
                if plaintext != data:
                    sys.exit(f"{name}: the round trip changed the data")
                samples[name][0].append(mb_per_s(len(data), enc_s))
                samples[name][1].append(mb_per_s(len(data), dec_s))
    return {n: (statistics.median(e), statistics.median(d)) for n, (e, d) in samples.items()}


# -- 2. a file, in child processes -----------------------------------------------------------------

SDK_STREAM = textwrap.dedent(
    """
    import os, sys, aws_encryption_sdk
    from aws_encryption_sdk.identifiers import CommitmentPolicy
    mode, key, source, target = sys.argv[1:]
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[key])
    extra = {"encryption_context": {"benchmark": "file"}} if mode == "e" else {}
    # The streaming loop of the SDK's documentation, with every default.
    with open(source, "rb") as src, open(target, "wb") as out:
        with client.stream(mode=mode, source=src, key_provider=provider, **extra) as stream:
            for chunk in stream:
                out.write(chunk)
        out.flush()
        os.fsync(out.fileno())  # as durable as kmskit's output (temporary file, fsync, rename)
    """
)

AES_STREAM = textwrap.dedent(
    """
    import os, sys
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    mode, source, target = sys.argv[1:]
    aes, size = AESGCM(b"k" * 32), 1024 * 1024 + (16 if mode == "d" else 0)
    with open(source, "rb") as src, open(target, "wb") as out:
        counter = 0
        while chunk := src.read(size):
            nonce = counter.to_bytes(12, "big")
            crypt = aes.encrypt if mode == "e" else aes.decrypt
            out.write(crypt(nonce, chunk, None))
            counter += 1
        out.flush()
        os.fsync(out.fileno())
    """
)


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, str]]:
    """A moto server on 127.0.0.1 with one key: (endpoint, key ARN)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        kms = boto3.client("kms", endpoint_url=endpoint)
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        yield endpoint, arn
    finally:
        server.stop()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def file_streaming(size_mib: int) -> dict[str, tuple[float, float, float, float]]:
    """name -> (encrypt MB/s, encrypt peak RSS MiB, decrypt MB/s, decrypt peak RSS MiB)."""
    python = sys.executable
    results: dict[str, tuple[float, float, float, float]] = {}
    with (
        moto_server() as (endpoint, arn),
        tempfile.TemporaryDirectory(prefix="kmskit-bench-") as tmp,
    ):
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": str(ROOT)}
        folder = Path(tmp)
        plain = folder / "plain.bin"
        with plain.open("wb") as handle:
            for _ in range(size_mib):
                handle.write(os.urandom(MIB))
            handle.flush()
            # Flushed now, so that the first child measured does not share the disk with it.
            os.fsync(handle.fileno())
        size = plain.stat().st_size
        expected = sha256(plain)
        runs: dict[str, tuple[list[str], list[str]]] = {
            "kmskit CLI (0x0478, 1 MiB frames)": (
                [python, "-m", "kmskit", "encrypt", "-q", "--key", arn, "--context", "b=file"],
                [python, "-m", "kmskit", "decrypt", "-q", "--context", "b=file"],
            ),
            "aws-encryption-sdk defaults, streamed": (
                [python, "-c", SDK_STREAM, "e", arn],
                [python, "-c", SDK_STREAM, "d", arn],
            ),
            "raw AES-GCM, 1 MiB chunks (no KMS)": (
                [python, "-c", AES_STREAM, "e"],
                [python, "-c", AES_STREAM, "d"],
            ),
        }
        for name, (encrypt, decrypt) in runs.items():
            sealed, opened = folder / "sealed.bin", folder / "opened.bin"
            enc = run_once([*encrypt, str(plain), str(sealed)], env=env)
            dec = run_once([*decrypt, str(sealed), str(opened)], env=env)
            if sha256(opened) != expected:
                sys.exit(f"{name}: the file round trip changed the data")
            sealed.unlink()
            opened.unlink()
            os.sync()  # the next child starts with a quiet disk
            results[name] = (
                mb_per_s(size, enc.seconds),
                enc.peak_rss_mib,
                mb_per_s(size, dec.seconds),
                dec.peak_rss_mib,
            )
    return results


# -- 3. KMS calls ---------------------------------------------------------------------------------


@contextlib.contextmanager
def counted_kms_calls() -> Iterator[Counter[str]]:
    """Count the API calls of every client kmskit makes (a botocore before-call hook)."""
    calls: Counter[str] = Counter()
    original = ClientSettings.client

    def client(self: ClientSettings, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)
        made.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
        return made

    ClientSettings.client = client  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        ClientSettings.client = original  # type: ignore[method-assign]


def kms_calls(messages: int) -> dict[str, tuple[int, float]]:
    """name -> (GenerateDataKey calls, milliseconds per message)."""
    payload = os.urandom(1024)
    results: dict[str, tuple[int, float]] = {}
    with mock_aws():
        arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        limits = CacheLimits()
        cached = (
            f"cache (max_messages={limits.max_messages}, max_age={limits.max_age:g} s, "
            f"max_bytes={limits.max_bytes // MIB} MiB)"
        )
        for name, cache in (("no cache", None), (cached, limits)):
            envelope = Envelope([arn], cache=cache)
            with counted_kms_calls() as calls:
                seconds, _ = timed(
                    lambda e=envelope: [e.encrypt(payload, CONTEXT) for _ in range(messages)]  # type: ignore[misc]
                )
            results[name] = (calls["GenerateDataKey"], seconds / messages * 1000)
    return results


# -- report ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory-mib", type=int, default=64)
    parser.add_argument("--file-mib", type=int, default=1024)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-file", action="store_true", help="skip the file benchmark")
    args = parser.parse_args()
    missed: list[str] = []
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    print(f"\n## In memory, {args.memory_mib} MiB (median of {args.rounds})")
    memory = in_memory(args.memory_mib, args.rounds)
    base_enc, base_dec = memory["aws-encryption-sdk defaults (0x0578, 4 KiB)"]
    print(f"| {'configuration':<46} | encrypt MB/s | decrypt MB/s | vs SDK defaults |")
    print(f"|{'-' * 48}|{'-' * 14}|{'-' * 14}|{'-' * 17}|")
    for name, (enc, dec) in memory.items():
        ratio = f"{enc / base_enc:.1f}x / {dec / base_dec:.1f}x"
        print(f"| {name:<46} | {enc:>12,.0f} | {dec:>12,.0f} | {ratio:>15} |")
    enc, dec = memory["kmskit default (0x0478, 1 MiB frames)"]
    for direction, speedup in (("encrypt", enc / base_enc), ("decrypt", dec / base_dec)):
        if speedup < SPEEDUP_TARGET:
            missed.append(f"in-memory {direction}: {speedup:.2f}x the SDK defaults (< 4x)")

    if not args.skip_file:
        print(f"\n## A {args.file_mib} MiB file, streamed (child processes, one run each)")
        files = file_streaming(args.file_mib)
        base = files["aws-encryption-sdk defaults, streamed"]
        print(
            f"| {'configuration':<38} | encrypt MB/s | peak RSS MiB | decrypt MB/s "
            f"| peak RSS MiB | vs SDK defaults |"
        )
        print(f"|{'-' * 40}|{'-' * 14}|{'-' * 14}|{'-' * 14}|{'-' * 14}|{'-' * 17}|")
        for name, (enc, enc_rss, dec, dec_rss) in files.items():
            ratio = f"{enc / base[0]:.1f}x / {dec / base[2]:.1f}x"
            print(
                f"| {name:<38} | {enc:>12,.0f} | {enc_rss:>12.0f} | {dec:>12,.0f} "
                f"| {dec_rss:>12.0f} | {ratio:>15} |"
            )
        _, enc_rss, _, dec_rss = files["kmskit CLI (0x0478, 1 MiB frames)"]
        for direction, rss in (("encrypt", enc_rss), ("decrypt", dec_rss)):
            if rss > RSS_TARGET_MIB:
                missed.append(f"file {direction}: peak RSS {rss:.0f} MiB (> {RSS_TARGET_MIB})")

    print(f"\n## KMS calls for {args.messages:,} messages of 1 KiB")
    calls = kms_calls(args.messages)
    print(f"| {'kmskit':<62} | GenerateDataKey | ms/message |")
    print(f"|{'-' * 64}|{'-' * 17}|{'-' * 12}|")
    for name, (count, ms) in calls.items():
        print(f"| {name:<62} | {count:>15,} | {ms:>10.2f} |")
    limit = math.ceil(args.messages / CacheLimits().max_messages)
    cached = next(count for name, (count, _) in calls.items() if name.startswith("cache"))
    if cached > limit:
        missed.append(f"cached GenerateDataKey calls {cached} > ceil(N / max_messages) = {limit}")

    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    print("\ntargets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
