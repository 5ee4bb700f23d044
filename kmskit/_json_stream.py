"""The ``Records`` of a CloudTrail log file's JSON, decoded as the text arrives.

:class:`RecordsStream` takes the text of ``{"Records": [...]}`` a piece at a time and passes
each element of the top-level ``Records`` array on as soon as it is decoded, so what it holds is
a piece of text and the element being decoded, never the whole document. It accepts exactly the
documents :func:`json.loads` accepts and, for the others, fails with the message
:func:`json.loads` gives (the same position, line and column), found when the text up to it has
arrived: its own checks are only those of where a value, key, ``:``, ``,`` or closing bracket
may stand at the two outer levels, and the message for a character in the wrong place there is
the standard decoder's, taken from a few characters of stand-in context before it. Values are
decoded by the standard library's decoder (``json.JSONDecoder.raw_decode``): containers at the
two outer levels (the document, and each member of a top-level object or element of a
top-level array) are walked one member at a time, anything deeper is decoded whole. So memory is
bounded by a piece of text plus the largest value two levels deep (a record), whatever the
shape of the document; except that a document shorter than ``first_walk`` (1 Mi characters:
nearly every log file) is walked when it is complete, its ``Records`` array decoded in one call,
as fast as :func:`json.loads`.

:class:`JsonText` turns bytes into that text as :func:`json.loads` decodes bytes (the encoding
detected from the first four bytes, ``surrogatepass``), and names a byte that is not of the
encoding at its position in the whole content, as :func:`json.loads` does.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_DECODER = json.JSONDecoder()
# What raw_decode calls, without its wrapper: called once a record (typeshed leaves it out).
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_NOT_WHITESPACE = re.compile(r"[^ \t\n\r]")  # the decoder skips the others
_COMMA = re.compile(r"[ \t\n\r]*(,)[ \t\n\r]*")
# A value decoded, or a decoding failure, this close to the end of the text received may be the
# text breaking off (an incomplete number, literal or \u escape of four hex digits: at most
# "-Infinity", 9 characters): it is decoded again with more text. So is an "Unterminated
# string", wherever the string started.
_NEAR_END = 16
_UNTERMINATED = "Unterminated string"
# The walk starts once this much text was given, or at the end of a shorter document (nearly
# every log file): then its Records array is decoded in one call (RecordsStream's first_walk).
FIRST_WALK = 1 << 20
RECORDS = "Records"


@dataclass
class _Container:
    """An object or array at one of the two outer levels, being walked."""

    closer: str  # "}" or "]"
    state: str  # what may come next: one of the _STATES
    records: bool = False  # the top-level object's "Records" array
    key: str | None = None  # of the member whose value is next (objects)
    count: int = 0  # elements so far (arrays)


# What may come next in a container, and the text that puts the standard decoder in the same
# place (for its message about a character that may not come there).
_STATES: dict[str, str] = {
    "first key": "{",  # after "{": a key or "}"
    "colon": '{""',
    "value": '{"":',
    "object comma": '{"":""',  # after a member: "," or "}"
    "key": '{"":"",',  # after ",": a key
    "first element": "[",  # after "[": a value or "]"
    "array comma": '[""',  # after an element: "," or "]"
    "element": '["",',  # after ",": a value
}
_OUTER = {"}": '{"":', "]": "["}  # stand-in for a container around the one with the error


class RecordsStream:
    """Walks a JSON document given a piece of text at a time (:meth:`feed`, then :meth:`close`).

    ``records_value(is_list)`` is called for each ``Records`` member of a top-level object
    (whether its value is an array; a later one replaces an earlier one, as :func:`json.loads`
    keeps the last), and ``element(number, value)`` for each element of such an array, counting
    from 1. The walk starts once ``first_walk`` characters were given (default
    :data:`FIRST_WALK`, 1 Mi) or at :meth:`close`: a shorter document's ``Records`` array is
    decoded in one call, as fast as :func:`json.loads`. After :meth:`close`, :attr:`error` is
    None for a document :func:`json.loads` accepts, else its message (``"Expecting value: line
    1 column 1 (char 0)"``), and :attr:`too_deep`
    says the decoder ran out of recursion depth (``RecursionError``); :attr:`top_is_object`
    says the document is an object (else it has no ``Records`` member). The first problem stops
    the walk; the text after it is not read."""

    def __init__(
        self,
        records_value: Callable[[bool], None],
        element: Callable[[int, Any], None],
        *,
        first_walk: int = FIRST_WALK,
    ) -> None:
        self._records_value = records_value
        self._element = element
        self.error: str | None = None
        self.too_deep = False
        self.top_is_object = False
        self._text = ""
        self._at = 0  # in _text: what comes before was walked
        self._base = 0  # position of _text[0] in the document
        # Lines counted up to _line_pos (a position in _text or after): for the messages.
        self._line_pos = 0  # position in the document
        self._lines = 0  # newlines before _line_pos
        self._line_start = 0  # position after the last of them
        self._comma = -1  # position of the last "," walked at an outer level
        self._comma_line: tuple[int, int] = (0, 0)
        self._stack: list[_Container] = []
        self._done = False  # the top-level value was walked
        self._wait_for = first_walk  # len(_text) - _at to wait for before decoding again
        # Pieces fed since the last walk, joined to _text when it walks: a record that takes
        # many pieces is copied a few times (_wait_for doubles), not once a piece.
        self._pending: list[str] = []
        self._pending_size = 0
        self._closed = False

    def feed(self, text: str) -> None:
        """The next piece of the document's text."""
        if self.failed:
            return
        self._pending.append(text)
        self._pending_size += len(text)
        if len(self._text) - self._at + self._pending_size >= self._wait_for:
            self._walk()

    def close(self) -> None:
        """The text ended: sets :attr:`error` if the document is incomplete."""
        self._closed = True
        if not self.failed:
            self._walk()

    @property
    def failed(self) -> bool:
        """Whether :attr:`error` or :attr:`too_deep` is set."""
        return self.error is not None or self.too_deep

    # --- walking ---------------------------------------------------------------------------

    def _walk(self) -> None:
        if self._at:
            self._drop()
        if self._pending:
            self._text = "".join([self._text, *self._pending])
            self._pending, self._pending_size = [], 0
        while self._step():
            pass

    def _step(self) -> bool:
        """Walk what comes next; False when the text ran out or the walk failed."""
        text = self._text
        found = _NOT_WHITESPACE.search(text, self._at)
        if found is None:
            self._at = len(text)
            if self._closed and not self._done:
                self._fail_here()
            return False
        self._at = found.start()
        if self._done:
            return self._fail_here()  # "Extra data"
        top = self._stack[-1] if self._stack else None
        state = top.state if top is not None else "value"
        if state in ("value", "first element", "element"):
            return self._at_value(top, state, found.group())
        if state in ("first key", "key"):
            return self._at_key(top, state, found.group())
        return self._at_delimiter(top, state, found.group())

    def _at_value(self, top: _Container | None, state: str, char: str) -> bool:
        if state == "first element" and char == "]":
            return self._close_container()
        if char in "{[" and len(self._stack) < 2:
            return self._open(char)
        if top is not None and top.records and self._elements(top):
            return True
        return self._value(top)

    def _elements(self, top: _Container) -> bool:
        """Decode the elements of the ``Records`` array from ``_at`` in a tight loop (nearly
        all of a log file): True after one that no "," follows (``_at`` after it), False at
        one that :meth:`_value` must look at (incomplete, or not JSON; ``_at`` at it)."""
        text, at, scan, comma_after = self._text, self._at, _SCAN, _COMMA.match
        last = len(text) if self._closed else len(text) - _NEAR_END
        element, count, comma_at, no_comma = self._element, top.count, -1, False
        while True:
            try:
                value, end = scan(text, at)
            except (StopIteration, ValueError, RecursionError):
                break  # _value tells what it is
            if end > last:
                break
            count += 1
            element(count, value)
            comma = comma_after(text, end)
            if comma is None:
                at, no_comma = end, True
                break
            comma_at, at = comma.start(1), comma.end()
        if count != top.count:
            top.count = count
            top.state = "array comma" if no_comma else "element"
            if comma_at >= 0:
                self._comma = self._base + comma_at
        self._at = at
        return no_comma

    def _at_key(self, top: _Container | None, state: str, char: str) -> bool:
        if state == "first key" and char == "}":
            return self._close_container()
        return self._key(top) if char == '"' else self._fail_here()

    def _at_delimiter(self, top: _Container | None, state: str, char: str) -> bool:
        """A ":" (``state`` "colon"), or a "," or the closing bracket (after a value)."""
        if state == "colon":
            return self._next(top, "value") if char == ":" else self._fail_here()
        if char == ",":
            self._comma = self._base + self._at
            return self._next(top, "key" if state == "object comma" else "element")
        if top is not None and char == top.closer:
            return self._close_container()
        return self._fail_here()

    def _next(self, top: _Container | None, state: str) -> bool:
        """Past a ":" or "," of ``top``, which expects ``state`` next."""
        self._at += 1
        if top is not None:
            top.state = state
        return True

    def _open(self, char: str) -> bool:
        top = self._stack[-1] if self._stack else None
        container = _Container(
            closer="}" if char == "{" else "]",
            state="first key" if char == "{" else "first element",
        )
        if top is None:
            self.top_is_object = char == "{"
        elif self._is_records_member(top):
            container.records = char == "["
            self._records_value(container.records)
            if container.records and self._closed and self._whole_array():
                return True
        self._stack.append(container)
        self._at += 1
        return True

    def _whole_array(self) -> bool:
        """Decode the ``Records`` array at ``_at`` in one call, all of its text being held
        (a document shorter than ``first_walk``), as fast as :func:`json.loads` (a call for each
        element takes half as long again: the decoder shares the keys' strings only within a
        call); False, having done nothing, if it is not JSON (the walk finds where)."""
        try:
            elements, end = _SCAN(self._text, self._at)
        except (StopIteration, ValueError, RecursionError):
            return False
        for number, value in enumerate(elements, start=1):
            self._element(number, value)
        self._at = end
        self._after_value()
        return True

    def _is_records_member(self, top: _Container) -> bool:
        return len(self._stack) == 1 and top.closer == "}" and top.key == RECORDS

    def _close_container(self) -> bool:
        self._stack.pop()
        self._at += 1
        self._after_value()
        return True

    def _after_value(self) -> None:
        if not self._stack:
            self._done = True
            return
        top = self._stack[-1]
        top.state = "object comma" if top.closer == "}" else "array comma"

    def _value(self, top: _Container | None) -> bool:
        """Decode the value at ``_at``; False when it needs more text or failed."""
        decoded = self._decode()
        if decoded is None:
            return False
        value, end = decoded
        self._at = end
        if top is not None and self._is_records_member(top):
            self._records_value(False)
        elif top is not None and top.records:
            top.count += 1
            self._element(top.count, value)
        self._after_value()
        return True

    def _key(self, top: _Container | None) -> bool:
        decoded = self._decode()
        if decoded is None or top is None:
            return False
        top.key, self._at = decoded
        top.state = "colon"
        return True

    def _decode(self) -> tuple[Any, int] | None:
        """The value at ``_at`` and where it ends, when the text holds all of it and a few
        characters after it (a number may go on: "1" of "1.5e3"); None otherwise
        (:attr:`error` set if it is not JSON, else waiting for twice the text it had)."""
        text, at = self._text, self._at
        try:
            value, end = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as error:
            if self._closed or not (
                error.msg.startswith(_UNTERMINATED) or error.pos >= len(text) - _NEAR_END
            ):
                self._fail_here()
                return None
        except RecursionError:
            self.too_deep = True
            return None
        else:
            if end + _NEAR_END <= len(text) or self._closed:
                self._wait_for = 0
                return value, end
        self._wait_for = 2 * (len(text) - at)
        return None

    # --- the message -----------------------------------------------------------------------

    def _fail_here(self) -> bool:
        """Set :attr:`error` to the standard decoder's message for the text at ``_at``, in
        the place the walk is in; False (the walk stops)."""
        prefix = "".join(_OUTER[c.closer] for c in self._stack[:-1])
        if self._done:
            prefix += '""'
        elif self._stack:
            prefix += _STATES[self._stack[-1].state]
        elif self._base + self._at:
            prefix = " "  # whitespace before: a "\ufeff" here is no byte order mark
        try:
            json.loads(prefix + self._text[self._at :])
        except json.JSONDecodeError as error:
            if error.pos >= len(prefix):
                position = self._base + self._at + error.pos - len(prefix)
                lines, line_start = self._line_at(position)
            else:  # the "," before (Python 3.13+: "Illegal trailing comma ...")
                position = self._comma
                lines, line_start = self._comma_line
                if position >= self._line_pos:
                    lines, line_start = self._line_at(position)
            self.error = (
                f"{error.msg}: line {lines + 1} column {position - line_start + 1} "
                f"(char {position})"
            )
        except RecursionError:
            self.too_deep = True
        else:  # not reached: the walk fails only where the decoder does
            self.error = f"Expecting value: char {self._base + self._at}"
        return False

    def _line_at(self, position: int) -> tuple[int, int]:
        """Newlines before ``position`` (at or after those counted, within ``_text``) and
        the position after the last of them."""
        start, end = self._line_pos - self._base, position - self._base
        newlines = self._text.count("\n", start, end)
        if newlines:
            self._lines += newlines
            self._line_start = self._base + self._text.rfind("\n", start, end) + 1
        self._line_pos = position
        return self._lines, self._line_start

    def _drop(self) -> None:
        """Let go of the text walked (its lines counted first; those up to the last ","
        kept for a message about it)."""
        if self._comma >= self._line_pos:
            self._comma_line = self._line_at(self._comma)
        self._line_at(self._base + self._at)
        self._text = self._text[self._at :]
        self._base += self._at
        self._at = 0


class JsonText:
    """Decodes bytes given a piece at a time as :func:`json.loads` decodes bytes: the encoding
    detected from the first four bytes (UTF-8, UTF-16 or UTF-32; a UTF-8 byte order mark left
    out), ``surrogatepass``. :attr:`error` is the message :func:`json.loads` gives for bytes
    that are not of the encoding (the first such byte, at its position in the whole content);
    once it is set, nothing more is decoded."""

    def __init__(self) -> None:
        self.error: str | None = None
        self._head = b""
        self._decoder: codecs.IncrementalDecoder | None = None
        self._fed = 0  # bytes given to the decoder, as json.loads counts them

    def decode(self, data: bytes, *, final: bool = False) -> str:
        """The text of ``data`` that is complete (all of it when ``final``)."""
        if self.error is not None:
            return ""
        if self._decoder is None:
            self._head += data
            if len(self._head) < 4 and not final:
                return ""
            data, self._head = self._head, b""
            encoding = json.detect_encoding(data)
            if encoding == "utf-8-sig":
                data, encoding = data[len(codecs.BOM_UTF8) :], "utf-8"
            self._decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as error:
            start = self._fed - pending + error.start
            if error.end == error.start + 1:
                where = f"byte 0x{error.object[error.start]:02x} in position {start}"
            else:
                where = f"bytes in position {start}-{start + error.end - error.start - 1}"
            self.error = f"'{error.encoding}' codec can't decode {where}: {error.reason}"
            return ""
        self._fed += len(data)
        return text
