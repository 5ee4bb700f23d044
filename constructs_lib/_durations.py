"""Durations made once per process.

Each ``Duration.days(n)`` is a round-trip to the jsii runtime, and a Duration is an immutable
value that any number of constructs, stacks and Apps of one process can share.
"""

from __future__ import annotations

from functools import cache

from aws_cdk import Duration


@cache
def days(amount: int) -> Duration:
    return Duration.days(amount)


@cache
def hours(amount: int) -> Duration:
    return Duration.hours(amount)


@cache
def minutes(amount: int) -> Duration:
    return Duration.minutes(amount)


@cache
def seconds(amount: int) -> Duration:
    return Duration.seconds(amount)
