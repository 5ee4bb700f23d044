"""Checks of text that reaches AWS, and how kmskit writes a time."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(moment: datetime) -> str:
    """``moment`` in UTC to the second, as kmskit prints and takes it: 2027-01-31T00:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_utf8(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8: False for lone surrogates, which is how Python hands
    over bytes that are not UTF-8 (in command-line arguments, file names, or a JSON
    ``"\\udcff"``). AWS takes UTF-8 only."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
