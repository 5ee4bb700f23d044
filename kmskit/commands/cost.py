"""``kmskit cost CDK_OUT``: monthly KMS key cost of a synthesized app."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from kmskit.cost import summarize
from kmskit.errors import EXIT_OK


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "cost",
        parents=[common],
        help="monthly KMS key cost of a synthesized CDK app",
        description="Sum the KMS price-list cost of every key in a cloud assembly "
        "($1/month per customer managed key or replica; rotated keys add $1/month for each of "
        "their first two rotations). Request charges are not included.",
    )
    parser.add_argument("assembly", type=Path, help="cdk.out folder (or one template file)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    summary = summarize(args.assembly)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "keys": len(summary.keys),
                    "monthlyUsd": str(summary.monthly_usd),
                    "maxMonthlyUsd": str(summary.max_monthly_usd),
                    "templates": {
                        name: {"keys": n, "monthlyUsd": str(now), "maxMonthlyUsd": str(later)}
                        for name, (n, now, later) in summary.by_template().items()
                    },
                },
                indent=2,
            )
        )
        return EXIT_OK
    rows = summary.by_template()
    width = max([len("TEMPLATE"), *(len(name) for name in rows)])
    print(f"{'TEMPLATE':<{width}}  KEYS  USD/MONTH  USD/MONTH AFTER ROTATIONS")
    for name, (count, now, later) in rows.items():
        print(f"{name:<{width}}  {count:>4}  {now:>9.2f}  {later:>25.2f}")
    print(
        f"{'TOTAL':<{width}}  {len(summary.keys):>4}  {summary.monthly_usd:>9.2f}  "
        f"{summary.max_monthly_usd:>25.2f}"
    )
    return EXIT_OK
