"""A CloudWatch Logs JSON filter pattern matcher, for the patterns the audit alarms use.

It reads ``{ ... }`` patterns of ``$.a.b = value`` / ``!=`` comparisons joined by ``&&`` and
``||`` (``&&`` binding tighter) and grouped in parentheses, with values quoted or bare and ``*``
matching any characters, as CloudWatch Logs' "Using filter patterns to match terms in JSON log
events" describes them. A comparison on a field the record lacks matches neither ``=`` nor
``!=``. Anything else in a pattern (numbers compared with ``<``, ``IS NULL``, regular
expressions) raises ValueError, so a test cannot pass on a pattern this does not read.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r'\s*(?:(?P<op>&&|\|\||!=|=|\(|\)|\{|\})|"(?P<quoted>(?:[^"\\]|\\.)*)"|'
    r"(?P<bare>[^\s=!&|(){}\"]+))"
)
_MISSING = object()


def _tokens(pattern: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(pattern.rstrip()):
        found = _TOKEN.match(pattern, position)
        if found is None:
            raise ValueError(f"unreadable filter pattern at {position}: {pattern!r}")
        kind = found.lastgroup
        assert kind is not None
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


def _field(record: dict[str, Any], selector: str) -> Any:
    if not selector.startswith("$."):
        raise ValueError(f"not a JSON selector: {selector!r}")
    value: Any = record
    for part in selector[2:].split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


class _Matcher:
    def __init__(self, pattern: str, record: dict[str, Any]) -> None:
        self.tokens = _tokens(pattern)
        self.at = 0
        self.record = record

    def take(self, *kinds: str) -> tuple[str, str]:
        if self.at >= len(self.tokens) or self.tokens[self.at][0] not in kinds:
            raise ValueError(f"expected {kinds} at token {self.at}: {self.tokens}")
        token = self.tokens[self.at]
        self.at += 1
        return token

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def whole(self) -> bool:
        if self.take("op")[1] != "{":
            raise ValueError("a JSON filter pattern starts with {")
        result = self.any_of()
        if self.take("op")[1] != "}" or self.at != len(self.tokens):
            raise ValueError("a JSON filter pattern ends with }")
        return result

    def any_of(self) -> bool:
        result = self.all_of()
        while self.peek() == "||":
            self.at += 1
            result = self.all_of() or result
        return result

    def all_of(self) -> bool:
        result = self.term()
        while self.peek() == "&&":
            self.at += 1
            result = self.term() and result
        return result

    def term(self) -> bool:
        if self.peek() == "(":
            self.at += 1
            result = self.any_of()
            if self.take("op")[1] != ")":
                raise ValueError("unbalanced parentheses")
            return result
        _, selector = self.take("bare")
        _, operator = self.take("op")
        if operator not in ("=", "!="):
            raise ValueError(f"unsupported operator {operator!r}")
        _, expected = self.take("quoted", "bare")
        actual = _field(self.record, selector)
        if actual is _MISSING or isinstance(actual, dict | list):
            return False
        # Only "*" is a wildcard in CloudWatch Logs' values (not fnmatch's "?" or "[...]").
        wildcard = ".*".join(re.escape(part) for part in expected.split("*"))
        equal = re.fullmatch(wildcard, str(actual), re.DOTALL) is not None
        return equal if operator == "=" else not equal


def matches(pattern: str, record: dict[str, Any]) -> bool:
    """Whether CloudWatch Logs' JSON ``pattern`` matches the log event ``record``."""
    return _Matcher(pattern, record).whole()
