"""Synth benchmark: whole-process synth time against the empty-App floor, in the same run.

    python benchmarks/synth.py [--rounds 3] [--environments N [N ...]]

Measures, each as the median of ``--rounds`` runs of a fresh Python process (which starts jsii
and its Node child, exactly like ``cdk synth`` does):

* **floor**: an empty App made by ``stacks.app_builder.new_app`` (cdk.json's context, the five
  cdk-nag packs, CDK's built-in template validation off), as every App of this project is. It
  loads ``aws_cdk``, ``cdk_nag`` and no construct module of this toolkit. The Stack holds a single
  ``AWS::CloudFormation::WaitConditionHandle`` (free, does nothing): CloudFormation refuses a
  template with no resource;
* **bare floor**: the same App without cdk-nag, to show what the packs cost;
* **floor + toolkit imports**: the floor after ``import stacks.organisation``, which loads every
  ``aws_cdk`` submodule the toolkit uses (Python modules of several MB each), to show how much of
  the example app's time is importing, before any construct exists;
* **example app**: the default organisation from cdk.json (what `make synth` builds);
* with ``--environments``: a generated organisation of N environments (accounts x Regions).

It prints medians, ratios to the floor, the marginal cost per stack and the peak memory, in wall
time and in CPU time (Python and its Node child together; steadier than wall time on a shared
machine).
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
from stacks.config import ORGANISATION_CONTEXT_KEY, cdk_json_context  # noqa: E402

_FLOOR = """
import aws_cdk as cdk
from stacks.app_builder import new_app
app = new_app(outdir={outdir!r})
cdk.CfnWaitConditionHandle(cdk.Stack(app, "Empty"), "Placeholder")
app.synth()
"""

PROGRAMS = {
    "bare-floor": """
import aws_cdk as cdk
from stacks.config import cdk_json_context
app = cdk.App(
    outdir={outdir!r}, context=cdk_json_context(), builtin_cloud_formation_validation=False
)
cdk.CfnWaitConditionHandle(cdk.Stack(app, "Empty"), "Placeholder")
app.synth()
""",
    "floor": _FLOOR,
    "floor-imports": "import stacks.organisation" + _FLOOR,
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
    """The default organisation grown to about ``environments`` account x Region pairs: two
    Regions, one security and one backup account, the rest workload accounts."""
    organisation = dict(cdk_json_context()[ORGANISATION_CONTEXT_KEY])
    regions = list(organisation["regions"])
    account_count = max(3, -(-environments // len(regions)))
    accounts: dict[str, dict[str, str]] = {
        "security": {"id": "100000000000", "role": "security"},
        "backup": {"id": "100000000001", "role": "backup"},
    }
    for index in range(account_count - 2):
        accounts[f"workload{index:03d}"] = {"id": f"2{index:011d}", "role": "workload"}
    organisation["accounts"] = accounts
    organisation.pop("pipeline", None)
    return organisation


def stack_count(outdir: Path) -> int:
    """Stacks in the cloud assembly, nested stage assemblies included."""
    count = 0
    for manifest_path in outdir.rglob("manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        count += sum(
            1
            for artifact in manifest["artifacts"].values()
            if artifact["type"] == "aws:cloudformation:stack"
        )
    return count


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
    floor_imports, _ = measure("floor-imports", args.rounds)
    example, example_stacks = measure("example", args.rounds)
    print(f"synth benchmark ({args.rounds} rounds each, median wall time of a fresh process)")
    header = ("case", "stacks", "seconds", "x floor", "ms/stack", "CPU s", "x floor", "ms/stack")
    print("{:<26} {:>6} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9}".format(*header, "peak MiB"))

    def row(name: str, run: Run, stacks: int) -> None:
        def marginal(value: float, base: float) -> float:
            return (value - base) / (stacks - 1) * 1000 if stacks > 1 else 0.0

        print(
            f"{name:<26} {stacks:>6} {run.seconds:>8.2f} {run.seconds / floor.seconds:>8.2f} "
            f"{marginal(run.seconds, floor.seconds):>9.1f} {run.cpu_seconds:>8.2f} "
            f"{run.cpu_seconds / floor.cpu_seconds:>8.2f} "
            f"{marginal(run.cpu_seconds, floor.cpu_seconds):>9.1f} {run.peak_rss_mib:>9.0f}"
        )

    row("bare floor (no cdk-nag)", bare, 1)
    row("floor (empty App + nag)", floor, 1)
    row("floor + toolkit imports", floor_imports, 1)
    row("example app (cdk.json)", example, example_stacks)
    previous: tuple[Run, int] | None = None
    for environments in args.environments:
        run, stacks = measure("generated", args.rounds, environments=environments)
        row(f"generated, {environments} envs", run, stacks)
        if previous is not None and stacks > previous[1]:
            added = stacks - previous[1]
            slope = (run.seconds - previous[0].seconds) / added * 1000
            cpu_slope = (run.cpu_seconds - previous[0].cpu_seconds) / added * 1000
            print(
                f"{'':<26} marginal since previous size: {slope:.1f} ms/stack "
                f"({cpu_slope:.1f} ms CPU)"
            )
        previous = (run, stacks)
    print(
        f"example app / floor = {example.seconds / floor.seconds:.2f}x "
        f"({example.cpu_seconds / floor.cpu_seconds:.2f}x in CPU time); "
        f"floor / bare floor = {floor.seconds / bare.seconds:.2f}x "
        "(the cost of registering the nag packs); "
        f"importing the toolkit adds {floor_imports.seconds - floor.seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
