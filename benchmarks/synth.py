"""Synth benchmark: whole-process synth time against the empty-App floor, in the same run.

    python benchmarks/synth.py [--rounds 3] [--environments N [N ...]]

Measures, each as the median of ``--rounds`` runs of a fresh Python process (which starts jsii
and its Node child, exactly like ``cdk synth`` does):

* **floor**: an empty App with one empty Stack and the five cdk-nag packs registered, as every
  App of this project has them;
* **bare floor**: the same App without cdk-nag, to show what the packs cost;
* **example app**: the default organisation from cdk.json (what `make synth` builds);
* with ``--environments``: a generated organisation of N environments (accounts x Regions).

It prints medians, ratios to the floor, the marginal cost per stack and the peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import Run, median_run  # noqa: E402

PROGRAMS = {
    "bare-floor": """
import aws_cdk as cdk
app = cdk.App(outdir={outdir!r})
cdk.Stack(app, "Empty")
app.synth()
""",
    "floor": """
import aws_cdk as cdk
from constructs_lib import add_compliance_checks
app = cdk.App(outdir={outdir!r})
cdk.Stack(app, "Empty")
add_compliance_checks(app)
app.synth()
""",
    "example": """
from stacks.app_builder import build_app
build_app(outdir={outdir!r}).synth()
""",
    "generated": """
import json
from stacks.app_builder import build_app
from stacks.config import cdk_json_context, ORGANISATION_CONTEXT_KEY
from benchmarks.synth import generated_organisation
context = cdk_json_context()
context[ORGANISATION_CONTEXT_KEY] = generated_organisation({environments})
build_app(context=context, outdir={outdir!r}).synth()
""",
}


def generated_organisation(environments: int) -> dict[str, object]:
    """An organisation with about ``environments`` account x Region pairs (2 Regions each)."""
    regions = ["eu-west-1", "eu-central-1"] if environments > 1 else ["eu-west-1"]
    account_count = max(3, -(-environments // len(regions)))
    accounts: dict[str, dict[str, str]] = {
        "security": {"id": "100000000000", "role": "security"},
        "backup": {"id": "100000000001", "role": "backup"},
    }
    for index in range(account_count - 2):
        accounts[f"workload{index:03d}"] = {"id": f"2{index:011d}", "role": "workload"}
    return {"home_region": regions[0], "regions": regions, "accounts": accounts}


def stack_count(outdir: Path) -> int:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return sum(
        1
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    )


def measure(kind: str, rounds: int, **values: object) -> tuple[Run, int]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as outdir:
        program = PROGRAMS[kind].format(outdir=outdir, **values)
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
        }
        run = median_run([sys.executable, "-c", program], rounds, env=env)
        return run, stack_count(Path(outdir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--environments", type=int, nargs="*", default=[])
    args = parser.parse_args()

    bare, _ = measure("bare-floor", args.rounds)
    floor, _ = measure("floor", args.rounds)
    example, example_stacks = measure("example", args.rounds)
    print(f"synth benchmark ({args.rounds} rounds each, median wall time of a fresh process)")
    header = ("case", "stacks", "seconds", "x floor", "ms/stack", "peak MiB")
    print("{:<26} {:>6} {:>8} {:>8} {:>9} {:>9}".format(*header))

    def row(name: str, run: Run, stacks: int) -> None:
        marginal = (run.seconds - floor.seconds) / max(stacks - 1, 1) * 1000 if stacks > 1 else 0.0
        print(
            f"{name:<26} {stacks:>6} {run.seconds:>8.2f} {run.seconds / floor.seconds:>8.2f} "
            f"{marginal:>9.1f} {run.peak_rss_mib:>9.0f}"
        )

    row("bare floor (no cdk-nag)", bare, 1)
    row("floor (empty App + nag)", floor, 1)
    row("example app (cdk.json)", example, example_stacks)
    previous: tuple[Run, int] | None = None
    for environments in args.environments:
        run, stacks = measure("generated", args.rounds, environments=environments)
        row(f"generated, {environments} envs", run, stacks)
        if previous is not None and stacks > previous[1]:
            slope = (run.seconds - previous[0].seconds) / (stacks - previous[1]) * 1000
            print(f"{'':<26} marginal since previous size: {slope:.1f} ms/stack")
        previous = (run, stacks)
    print(
        f"example app / floor = {example.seconds / floor.seconds:.2f}x; "
        f"floor / bare floor = {floor.seconds / bare.seconds:.2f}x "
        "(the cost of registering the nag packs)"
    )


if __name__ == "__main__":
    main()
