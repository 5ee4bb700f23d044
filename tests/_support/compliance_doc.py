"""Read the acknowledgment table of docs/compliance.md."""

from __future__ import annotations

import re
from pathlib import Path

COMPLIANCE_DOC = Path(__file__).resolve().parents[2] / "docs" / "compliance.md"

# Rule IDs such as AwsSolutions-IAM5[Resource::arn:aws:rds:eu-west-1:111111111111:snapshot:*]
# embed the environment and CloudFormation logical IDs; the table writes them once, generically.
_GENERIC = (
    # Without @aws-cdk/core:enablePartitionLiterals (an App without this project's cdk.json),
    # aws-cdk-lib writes the partition of an environment's ARNs as a token; the table writes the
    # commercial partition, as it reads with the flag.
    (re.compile(r"arn:<AWS::Partition>:"), "arn:aws:"),
    (re.compile(r'\{"Fn::GetStackOutput":\{[^{}]*\}\}'), "<cross-region-output>"),
    (re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])"), "<account>"),
    (
        re.compile(r"\b(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}\b"),
        "<region>",
    ),
    (re.compile(r"<[A-Za-z0-9]+\.(Arn|[A-Za-z]+)>"), r"<logical-id.\1>"),
    (re.compile(r"<[A-Za-z][A-Za-z0-9]*[0-9A-F]{8}>"), "<logical-id>"),
    (re.compile(r":log-group:[^:\]]+"), ":log-group:<log-group>"),
    (re.compile(r"(?<![a-z0-9-])o-[a-z0-9]{10,32}(?![a-z0-9])"), "<organization-id>"),
)


def generic_rule(rule: str) -> str:
    """``rule`` with account IDs, Region names and logical-ID tokens replaced by placeholders,
    and a partition token by the table's ``arn:aws:``."""
    for pattern, placeholder in _GENERIC:
        rule = pattern.sub(placeholder, rule)
    return rule


def table_rows(heading: str, columns: int, path: Path = COMPLIANCE_DOC) -> list[list[str]]:
    """The cells of every row of the table under ``## <heading>`` with ``columns`` cells, its
    header row left out."""
    rows: list[list[str]] = []
    in_section = False
    header_seen = False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            in_section = line.strip() == f"## {heading}"
            continue
        if not in_section or not line.startswith("|") or set(line) <= {"|", "-", " ", ":"}:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != columns:
            continue
        if header_seen:
            rows.append(cells)
        header_seen = True
    return rows


def documented_acknowledgments(path: Path = COMPLIANCE_DOC) -> set[tuple[str, str]]:
    """``(rule id, reason)`` for every row of the table under "## Acknowledgments".

    Rows look like ``| `AwsSolutions-IAM5[Resource::*]` | where | reason |``.
    """
    return {
        (generic_rule(rule.strip("`")), " ".join(reason.split()))
        for rule, _, reason in table_rows("Acknowledgments", 3, path)
    }
