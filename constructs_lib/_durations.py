"""Durations made once per process.

Each ``Duration.days(n)`` is a round-trip to the jsii runtime, and a Duration is an immutable
value that any number of constructs, stacks and Apps of one process can share.
"""

from __future__ import annotations

from functools import cache, partial

from aws_cdk import Duration


@cache
def _duration(unit: str, amount: int) -> Duration:
    made: Duration = getattr(Duration, unit)(amount)
    return made


days = partial(_duration, "days")
hours = partial(_duration, "hours")
minutes = partial(_duration, "minutes")
seconds = partial(_duration, "seconds")
