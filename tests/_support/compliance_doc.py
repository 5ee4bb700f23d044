"""Read the acknowledgment table of docs/compliance.md."""

from __future__ import annotations

from pathlib import Path

COMPLIANCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "compliance.md"


def documented_acknowledgments(path: Path = COMPLIANCE_DOC) -> set[tuple[str, str]]:
    """``(rule id, reason)`` for every row of the table under "## Acknowledgments".

    Rows look like ``| `AwsSolutions-IAM5[Resource::*]` | where | reason |``.
    """
    rows: set[tuple[str, str]] = set()
    in_table = False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            in_table = line.strip() == "## Acknowledgments"
            continue
        if not in_table or not line.startswith("|") or set(line) <= {"|", "-", " ", ":"}:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] == "Rule":
            continue
        rows.add((cells[0].strip("`"), " ".join(cells[2].split())))
    return rows
