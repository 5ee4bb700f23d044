"""Durations made once per process, and the one check of a Duration prop given in days.

Each ``Duration.days(n)`` is a round-trip to the jsii runtime, and a Duration is an immutable
value that any number of constructs, stacks and Apps of one process can share.
"""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from aws_cdk import Duration

from constructs_lib._validation import ConstructPropError, check_range, require


@cache
def _duration(unit: str, amount: int) -> Duration:
    made: Duration = getattr(Duration, unit)(amount)
    return made


days = partial(_duration, "days")
hours = partial(_duration, "hours")
minutes = partial(_duration, "minutes")
seconds = partial(_duration, "seconds")


def check_days(prop: str, value: Any, low: int, high: int) -> int:
    """A Duration of a whole number of days between ``low`` and ``high``; returns the days.

    ``to_human_string`` (a round-trip) is asked for only to word an error.
    """
    require(
        isinstance(value, Duration), prop, "must be a Duration such as Duration.days(30)", value
    )
    days = value.to_days(integral=False)
    if not float(days).is_integer():
        raise ConstructPropError(prop, "must be a whole number of days", value.to_human_string())
    return check_range(prop, int(days), low, high, "days")
