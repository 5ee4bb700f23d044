"""``kmskit cost CDK_OUT``: monthly KMS key cost of a synthesized app."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from kmskit.cli import local_options
from kmskit.cost import CostSummary, summarize
from kmskit.errors import EXIT_OK


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    # No AWS call (the price list is kmskit's own): -q only, not common's AWS options.
    parser = subparsers.add_parser(
        "cost",
        parents=[local_options()],
        help="monthly KMS key cost of a synthesized CDK app",
        description="Sum the KMS price-list cost of every key in a cloud assembly "
        "($1/month per customer managed key or replica; rotated keys add $1/month for each of "
        "their first two rotations). Request charges are not included. The price list is the "
        "commercial (aws) partition's: keys of stacks in other partitions (China, GovCloud, "
        "ISO and European Sovereign Cloud Regions) are counted as not priced, outside the USD "
        "totals.",
    )
    parser.add_argument("assembly", type=Path, help="cdk.out folder (or one template file)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run, report_on_stdout=True)


def run(args: argparse.Namespace) -> int:
    summary = summarize(args.assembly)
    rows = summary.by_template()
    not_priced = summary.not_priced_by_template()
    partitions = summary.not_priced_by_partition()
    # Each template once, in the order the assembly lists them.
    names = list(dict.fromkeys(key.template for key in summary.keys))
    if args.format == "json":
        print(json.dumps(_json(summary, names, rows, not_priced, partitions), indent=2))
        return EXIT_OK
    labels = [*names, *(["NOT PRICED"] if partitions else [])]
    width = max([len("TEMPLATE"), *(len(name) for name in labels)])
    print(f"{'TEMPLATE':<{width}}  KEYS  USD/MONTH  USD/MONTH AFTER ROTATIONS")
    for name in names:
        if name in rows:
            count, now, later = rows[name]
            print(f"{name:<{width}}  {count:>4}  {now:>9.2f}  {later:>25.2f}")
        if name in not_priced:
            count, partition = not_priced[name]
            print(f"{name:<{width}}  {count:>4}  not priced ({partition})")
    print(
        f"{'TOTAL':<{width}}  {len(summary.priced):>4}  {summary.monthly_usd:>9.2f}  "
        f"{summary.max_monthly_usd:>25.2f}"
    )
    for partition, (count, reason) in partitions.items():
        print(f"{'NOT PRICED':<{width}}  {count:>4}  {partition}: {reason}")
    return EXIT_OK


def _json(
    summary: CostSummary,
    names: list[str],
    rows: dict[str, tuple[int, Decimal, Decimal]],
    not_priced: dict[str, tuple[int, str]],
    partitions: dict[str, tuple[int, str]],
) -> dict[str, Any]:
    """The ``--format json`` document. ``keys``, ``monthlyUsd`` and ``maxMonthlyUsd`` cover the
    priced keys; a template of keys that are not priced has null USD figures and a
    ``notPriced`` object, and so has the document (only where there are such keys)."""
    templates: dict[str, dict[str, Any]] = {}
    for name in names:
        if name in rows:
            count, now, later = rows[name]
            templates[name] = {"keys": count, "monthlyUsd": str(now), "maxMonthlyUsd": str(later)}
        else:
            count, partition = not_priced[name]
            templates[name] = {
                "keys": count,
                "monthlyUsd": None,
                "maxMonthlyUsd": None,
                "notPriced": {"partition": partition, "reason": partitions[partition][1]},
            }
    document: dict[str, Any] = {
        "keys": len(summary.priced),
        "monthlyUsd": str(summary.monthly_usd),
        "maxMonthlyUsd": str(summary.max_monthly_usd),
        "templates": templates,
    }
    if partitions:
        document["notPriced"] = {
            "keys": len(summary.not_priced),
            "partitions": {
                partition: {"keys": count, "reason": reason}
                for partition, (count, reason) in partitions.items()
            },
        }
    return document
