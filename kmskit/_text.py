"""Checks of text that reaches AWS."""

from __future__ import annotations


def is_utf8(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8: False for lone surrogates, which is how Python hands
    over bytes that are not UTF-8 (in command-line arguments, file names, or a JSON
    ``"\\udcff"``). AWS takes UTF-8 only."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
