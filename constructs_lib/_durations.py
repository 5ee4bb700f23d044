"""Durations made once per process, and the checks of Duration props.

Each ``Duration.days(n)`` is a round-trip to the jsii runtime, and a Duration is an immutable
value that any number of constructs, stacks and Apps of one process can share.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from aws_cdk import Duration, Token

from constructs_lib._validation import ConstructPropError, check_range, is_token, require


@cache
def _duration(unit: str, amount: int) -> Duration:
    made: Duration = getattr(Duration, unit)(amount)
    return made


days = partial(_duration, "days")
hours = partial(_duration, "hours")
minutes = partial(_duration, "minutes")
seconds = partial(_duration, "seconds")


def check_days(prop: str, value: Any, low: int, high: int, *, reason: str | None = None) -> int:
    """A Duration of a whole number of days between ``low`` and ``high``; returns the days.
    ``reason``: why the range is what it is, added to its error (default: none).

    ``to_human_string`` (a round-trip) is asked for only to word an error, and
    ``is_unresolved`` only for a value that fails a check.
    """
    if not isinstance(value, Duration):  # worded only then: a number token is a round trip
        raise ConstructPropError(
            prop, "must be a Duration such as Duration.days(30)", shown_number(value)
        )
    days = literal_amount(prop, value, "days")
    if not float(days).is_integer():
        raise ConstructPropError(prop, "must be a whole number of days", value.to_human_string())
    return check_range(prop, int(days), low, high, "days", reason=reason)


def literal_amount(prop: str, value: Duration, unit: str) -> float:
    """``value`` in ``unit`` (``"days"``, ``"hours"``, ``"minutes"`` or ``"seconds"``).

    A Duration made from a deploy-time value (``Duration.days(Token.as_number(...))``) is
    refused naming ``prop``: its amount is a token's encoding (a negative number of some 290
    digits), and converting it to another unit is a raw jsii error. A Duration cannot hold a
    negative amount otherwise, so only a failed or negative conversion asks jsii whether the
    value is a token.
    """
    try:
        converted: float | None = getattr(value, f"to_{unit}")(integral=False)
    except RuntimeError:  # jsii: a token's amount cannot be converted to another unit
        converted = None
    if converted is None or converted < 0:
        require(
            not value.is_unresolved(),
            prop,
            "must be a literal duration (not a deploy-time value)",
            _shown_token(value),
        )
    if converted is None:
        raise ConstructPropError(prop, f"must be convertible to {unit}", value.to_human_string())
    return converted


def _shown_token(value: Duration) -> str:
    """A token Duration as the user wrote it: ``Duration.days(${Token[TOKEN.3]})``.

    ``to_string`` gives the amount as the number that encodes the token; ``Token.as_string``
    gives that token's string back.
    """
    text = value.to_string()
    unit, _, number = text.partition("(")
    try:
        return f"{unit}({Token.as_string(float(number.rstrip(')')))})"
    except ValueError:
        return text


def shown_number(value: Any) -> Any:
    """A number token as its string (``${Token[TOKEN.3]}``), not as the number encoding it."""
    return Token.as_string(value) if is_token(value) else value
