"""No document or message tells anyone to install ``kms-toolkit`` by its bare name from an index.

The package is not published on PyPI, so ``pip install kms-toolkit`` (or
``'kms-toolkit[cdk]'``) would install whatever someone else registered under that name there
(dependency confusion). Every ``pip install`` in README.md, docs/*.md and the shipped Python
sources (their messages) must name the toolkit with a direct reference (``name @ url``) or a
path; and the message ``import constructs_lib`` raises without the ``cdk`` extra is checked as
it is built.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest

import constructs_lib

REPO = Path(__file__).resolve().parents[1]
SCANNED = (
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted(
        path
        for package in ("constructs_lib", "kmskit", "lambda_src", "stacks")
        for path in (REPO / package).rglob("*.py")
    ),
    REPO / "app.py",
    REPO / "Makefile",
)

# A pip install command up to the end of its line, an inline-code backtick or a closing quote
# of a message literal that holds it.
_PIP_INSTALL = re.compile(r"\bpip3?\s+install\s+([^`\n]*)")
_BARE_NAME = re.compile(r"kms[-_.]toolkit(\[[^\]]*\])?(==[^\s]*)?", re.IGNORECASE)


def bare_index_installs(text: str) -> list[str]:
    """Each ``pip install`` in ``text`` that asks an index for the toolkit by name."""
    found = []
    for match in _PIP_INSTALL.finditer(text):
        arguments = match.group(1)
        try:
            words = shlex.split(arguments, comments=True)
        except ValueError:  # an unbalanced quote: a message split across string literals
            words = [word.strip("'\"") for word in arguments.split()]
        for position, word in enumerate(words):
            if word in {"&&", ";", "|"}:
                break
            follows = words[position + 1] if position + 1 < len(words) else ""
            if _BARE_NAME.fullmatch(word.strip("'\",")) and follows != "@":
                found.append(match.group(0).strip())
    return found


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("pip install kms-toolkit", True),
        ("`pip install 'kms-toolkit[cdk]'`", True),
        ('pip install "kms-toolkit[cdk,node]" boto3', True),
        ("pip install --upgrade kms_toolkit==1.2", True),
        ('pip install "kms-toolkit[cdk] @ git+https://example.com/org/kms-toolkit@v1"', False),
        ("pip install kms-toolkit[cdk] @ git+https://example.com/org/kms-toolkit@v1", False),
        ('pip install "/path/to/kms-toolkit[cdk]"', False),
        ('pip install -e ".[cdk]"', False),
        ("pip install --require-hashes -r requirements.lock", False),
    ],
)
def test_the_scan_finds_bare_names_only(text: str, bare: bool) -> None:
    assert bool(bare_index_installs(text)) is bare


@pytest.mark.parametrize("path", SCANNED, ids=lambda path: str(path.relative_to(REPO)))
def test_no_file_suggests_installing_the_toolkit_from_an_index(path: Path) -> None:
    found = bare_index_installs(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(REPO)} suggests an index install: {found}"


def test_the_missing_cdk_message_names_no_index_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError) as raised:
        constructs_lib._require_the_cdk_extra()
    message = str(raised.value)
    assert "'cdk' extra" in message
    assert "not on PyPI" in message
    assert not bare_index_installs(message), message
