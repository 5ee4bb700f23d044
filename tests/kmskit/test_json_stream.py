"""kmskit._json_stream: the Records of a JSON document decoded as its bytes arrive give what
json.loads gives for the whole document: the same elements, or the same error message (position,
line and column in the whole document), however the bytes are split.

Checked on every prefix of a few documents and on a few hundred of their mutations (a character
deleted, inserted or replaced, seeded), fed in pieces of 1 to 64 bytes and whole."""

from __future__ import annotations

import codecs
import json
import random
from typing import Any

import pytest

from kmskit._json_stream import FIRST_WALK, JsonText, RecordsStream

DOCUMENTS = [
    b'{"Records": [{"a": 1, "b": [1,2,{"c":"x"}]}, 5, "junk", {"e": "kms"}, null, -1.5e3, true]}',
    b'{"x": {"y": [1,2]}, "Records": [], "z": 3}',
    b'{"Records": [1], "Records": [2, 3]}',
    b'{"Records": [1], "Records": 5}',
    b'[1, 2, {"Records": []}]',
    b'  \n {"Records"  :\n [ \n{"k":"\\u00e9\\ud834\\udd1e"} ,\r\n 12345678901234567890 ] } \n ',
    '{"Records": ["é€😀"]}'.encode(),
    b'{"Records": [1,\n   \n  ]}',
    b'{"a": 1 ,\n\n   }',
    b'"str"',
    b"123",
    b"",
    b"\xef\xbb\xbf" + b'{"Records": [1]}',
    b' \xef\xbb\xbf{"Records": [1]}',  # a BOM after whitespace is no BOM: "Expecting value"
    '{"Records": [1]}'.encode("utf-16"),
]
MUTATIONS = b'{}[]:,"\\ \n0123-.eEtrufalsnRecords\xff\xe2\x82'
# For the random documents: a byte of those, a NUL, a byte order mark, half a surrogate pair.
INSERTIONS = [bytes([byte]) for byte in MUTATIONS + b"\x00"] + [
    codecs.BOM_UTF8,
    b"\\ud834",
    b"\\udd1e",
]


def streamed(content: bytes, size: int, first_walk: int = FIRST_WALK) -> tuple[Any, ...]:
    return streamed_in(content, range(0, len(content), size), first_walk)


def streamed_in(content: bytes, starts: Any, first_walk: int = FIRST_WALK) -> tuple[Any, ...]:
    """:func:`streamed`, the pieces starting at ``starts`` (sorted; a repeated one: an empty
    piece)."""
    found: dict[str, Any] = {"list": False, "elements": []}

    def records_value(is_list: bool) -> None:
        found["list"], found["elements"] = is_list, []

    def element(number: int, value: Any) -> None:
        assert number == len(found["elements"]) + 1
        found["elements"].append(value)

    stream = RecordsStream(records_value, element, first_walk=first_walk)
    text = JsonText()
    ends = [*starts, len(content)][1:]
    for start, end in zip(starts, ends, strict=True):
        stream.feed(text.decode(content[start:end]))
    stream.feed(text.decode(b"", final=True))
    stream.close()
    if text.error is not None:
        return ("error", text.error)
    if stream.too_deep:
        return ("too deep",)
    if stream.error is not None:
        return ("error", stream.error)
    if not stream.top_is_object or not found["list"]:
        return ("no Records list",)
    return ("records", found["elements"])


def loaded(content: bytes) -> tuple[Any, ...]:
    try:
        document = json.loads(content)
    except RecursionError:
        return ("too deep",)
    except ValueError as error:
        return ("error", str(error))
    records = document.get("Records") if isinstance(document, dict) else None
    return ("records", records) if isinstance(records, list) else ("no Records list",)


def variants() -> list[bytes]:
    rng = random.Random(20261205)
    out: list[bytes] = []
    for document in DOCUMENTS:
        out += [document[:cut] for cut in range(len(document) + 1)]
        for _ in range(40):
            mutated = bytearray(document)
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(mutated) + 1)
                choice = rng.random()
                if choice < 0.4 and mutated:
                    del mutated[min(at, len(mutated) - 1)]
                elif choice < 0.8:
                    mutated.insert(at, rng.choice(MUTATIONS))
                elif mutated:
                    mutated[min(at, len(mutated) - 1)] = rng.choice(MUTATIONS)
            out.append(bytes(mutated))
    return out


# 0: walked as each piece arrives (a long document); FIRST_WALK: a short one, walked at the end
WALKS = pytest.mark.parametrize("first_walk", [0, FIRST_WALK])


@WALKS
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
def test_streamed_records_and_errors_are_those_of_json_loads(size: int, first_walk: int) -> None:
    differences = [
        (content, streamed(content, size, first_walk), loaded(content))
        for content in variants()
        if streamed(content, size, first_walk) != loaded(content)
    ]
    assert differences == []


def cloudtrail_like(rng: random.Random) -> bytes:
    """A log file's JSON: a few records (some not objects) with strings of one- to four-byte
    characters, escapes (a surrogate pair, a lone surrogate), numbers and literals, in one of
    the ways it can be laid out and encoded."""

    def string() -> str:
        parts = ["a", "é", "€", "😀", "\\", '"', "\n", "\ud834", "x" * rng.randint(0, 30)]
        return "".join(rng.choice(parts) for _ in range(rng.randint(0, 6)))

    def value(depth: int) -> Any:
        choice = rng.random()
        if depth > 3 or choice < 0.5:
            scalars = [None, True, False, rng.randint(-(10**20), 10**20), rng.random() * 1e10]
            return rng.choice([*scalars, -1.5e-7, -0.0, string()])
        if choice < 0.75:
            return {string(): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    def record() -> Any:
        if rng.random() < 0.2:
            return value(1)
        parameters = {"keyId": string(), "encryptionContext": {string(): string()}}
        return {"eventTime": "2026-11-03T10:00:00Z", "requestParameters": parameters, "n": value(2)}

    document: dict[str, Any] = {"Records": [record() for _ in range(rng.randint(0, 6))]}
    if rng.random() < 0.2:
        document = {"a": value(1), **document, "z": value(1)}
    text = json.dumps(
        document,
        ensure_ascii=rng.random() < 0.5,
        indent=rng.choice([None, None, 1, "\t"]),
        separators=rng.choice([None, (",", ":"), (" , ", " : ")]),
    )
    if rng.random() < 0.2:
        text = rng.choice([" ", "\n", "\r\n\t"]) * rng.randint(1, 20) + text + " "
    encodings = ["utf-8"] * 6 + ["utf-8-sig", "utf-16", "utf-16-be", "utf-32", "utf-32-le"]
    return text.encode(rng.choice(encodings), "surrogatepass")


@WALKS
def test_cloudtrail_like_documents_in_random_pieces_give_what_json_loads_gives(
    first_walk: int,
) -> None:
    """Random documents, half of them broken (a byte deleted, inserted or replaced, or the
    rest cut off), split at random places (inside a character, an escape, a number, a
    literal; empty pieces too), in UTF-8, -16 and -32, with and without a byte order mark."""
    rng = random.Random(20261206)
    differences = []
    for _ in range(10_000):
        content = bytearray(cloudtrail_like(rng))
        for _ in range(rng.randint(1, 3) if rng.random() < 0.5 else 0):
            at, choice = rng.randrange(len(content) + 1), rng.random()
            if choice < 0.3 and content:
                del content[min(at, len(content) - 1)]
            elif choice < 0.6:
                content[at:at] = rng.choice(INSERTIONS)
            elif choice < 0.8 and content:
                content[min(at, len(content) - 1)] = rng.choice(MUTATIONS)
            else:
                del content[at:]
        cuts = rng.choices(range(len(content) + 1), k=rng.randint(0, 12))
        result = streamed_in(bytes(content), sorted([0, 0, *cuts]), first_walk)
        if result != loaded(bytes(content)):
            differences.append((bytes(content), sorted(cuts), result))
    assert differences == []


def test_too_deep_is_told_apart() -> None:
    content = b'{"Records": [' + b"[" * 50_000 + b"]" * 50_000 + b"]}"
    assert streamed(content, 4096) == loaded(content) == ("too deep",)


def test_a_long_record_split_into_many_pieces_is_decoded_once() -> None:
    record = {"a": "x" * 100_000, "b": list(range(5_000))}
    content = json.dumps({"Records": [record, record]}).encode()
    assert streamed(content, 1000) == ("records", [record, record])


def test_a_record_of_many_pieces_is_copied_a_few_times_not_once_a_piece() -> None:
    """Each piece was appended to all the text before it (the record's, as it is not yet
    decoded): a 4 MiB record fed 1 KiB at a time was copied 4,096 times, 37 times as long as
    json.loads of the whole. Now the pieces are joined when the record is decoded again, each
    time it has doubled: the text held is rebuilt a few times, so the characters copied stay
    a small multiple of the content (counted, not timed: deterministic)."""
    record = {"a": "x" * (4 << 20), "b": list(range(50_000))}
    content = json.dumps({"Records": [record]}).encode()
    found: list[Any] = []
    stream = RecordsStream(lambda _: None, lambda _, value: found.append(value), first_walk=0)
    text = JsonText()
    copied, held = 0, stream._text
    for start in range(0, len(content), 1024):
        stream.feed(text.decode(content[start : start + 1024]))
        if stream._text is not held:  # the text held was rebuilt: copied whole
            copied, held = copied + len(stream._text), stream._text
    stream.feed(text.decode(b"", final=True))
    stream.close()
    assert found == [record]
    assert copied < 4 * len(content), (copied, len(content))


@WALKS
def test_the_records_of_a_short_document_share_their_field_names(first_walk: int) -> None:
    """A document shorter than the first walk (nearly every log file) is decoded in one call,
    as json.loads decodes it: its records share their field names' strings (less memory for
    the records kept, and as fast as json.loads; a call a record took half as long again).
    A longer one is decoded a record at a time, each with its own."""
    content = json.dumps({"Records": [{"eventSource": "kms"}, {"eventSource": "s3"}]}).encode()
    found = streamed(content, 7, first_walk)
    assert found[0] == "records"
    (first,), (second,) = found[1]
    assert (first is second) is (first_walk == FIRST_WALK)
