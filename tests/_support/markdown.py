"""The fenced code blocks of a Markdown document, for the tests that run the docs' examples."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_OPENING_FENCE = re.compile(r"^\s*```([\w-]+)\s*$")
_CLOSING_FENCE = re.compile(r"^\s*```\s*$")


@dataclass(frozen=True)
class FencedBlock:
    """One fenced block: its language, the 1-based line of its opening fence, and its lines."""

    language: str
    line: int
    lines: list[str]


def fenced_blocks(path: Path, languages: set[str]) -> list[FencedBlock]:
    """The blocks of ``path`` in one of ``languages``, in order; an unclosed one fails naming
    its line."""
    lines = path.read_text().splitlines()
    blocks: list[FencedBlock] = []
    index = 0
    while index < len(lines):
        fence = _OPENING_FENCE.match(lines[index])
        index += 1
        if fence is None or fence.group(1) not in languages:
            continue
        opening = index
        while index < len(lines) and not _CLOSING_FENCE.match(lines[index]):
            index += 1
        assert index < len(lines), f"{path.name}:{opening}: unclosed block"
        blocks.append(FencedBlock(fence.group(1), opening, lines[opening:index]))
        index += 1
    return blocks
