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

With ``--template-floor`` it also measures, for the example app and each ``--environments`` size,
the **template floor**: the floor's App rebuilding those synthesized templates (made once,
unmeasured) as raw ``CfnResource`` objects from their JSON, one Stack per template, with the same
logical IDs.
That is what the same resources cost through jsii with no construct logic at all: the lower bound
of the marginal cost that any way of writing the constructs could reach in this process model.
It is optimistic: the cdk-nag rules look for typed L1 classes (``CfnBucket``), so they examine
none of these resources, and a template's outputs, conditions and dependencies are left out.

With ``--phases`` it also splits each generated organisation's synth into phases, timed inside
the process (median of the rounds): imports; building the account stages' constructs; CDK
Pipelines' stage synthesis (``Wave.add_stage``); ``build_pipeline``; the rest of construction
(the pipeline and artifact stacks); and ``app.synth()`` (templates of the top-level stacks, the
tree, and the five cdk-nag packs over every stack), with each phase's marginal cost per stack
between consecutive sizes. That is where to look first when the marginal cost moves.

Every program runs as ``python -O``, as cdk.json runs app.py (stacks/optimized_python.py: jsii's
runtime type checks off; ``make setup`` writes the optimized bytecode), and first calls
``constructs_lib.jsii_channel.use_direct_channel()``, as app.py does
(jsii's kernel without its relay process, with its compile cache), so the floor and the app run
on the same channel. The cache is the user's (as for `make synth`), warmed by one unmeasured run
of the example app first, so every row measures a repeated synth. Two more variants of the floor
and the example app run interleaved round by round with those: without the compile cache
(``KMS_TOOLKIT_NODE_COMPILE_CACHE=off``) and on jsii's relay (``KMS_TOOLKIT_JSII_CHANNEL=relay``,
which has no cache either), for the ratios between them; ``--compare-relay`` runs the relay for
each ``--environments`` size too.

It prints medians, ratios to the floor, the marginal cost per stack and the peak memory, in wall
time and in CPU time (Python and its Node child together; steadier than wall time on a shared
machine).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import Run, median_runs_interleaved, run_once  # noqa: E402
from constructs_lib.jsii_channel import (  # noqa: E402
    CHANNEL_ENVIRONMENT_VARIABLE,
    COMPILE_CACHE_ENVIRONMENT_VARIABLE,
    COMPILE_CACHE_OFF,
)
from stacks.config import ORGANISATION_CONTEXT_KEY, cdk_json_context  # noqa: E402

# Before any program imports aws_cdk: the channel app.py uses (the environment decides, VARIANTS),
# and its imports without garbage collection (stacks/startup.py), which every program ends with
# _imports.__exit__ after its own imports, the floors too.
_CHANNEL = """
from constructs_lib.jsii_channel import use_direct_channel
from stacks.startup import imports_without_gc
use_direct_channel()
_imports = imports_without_gc()
_imports.__enter__()
"""

_FLOOR = """
import aws_cdk as cdk
from stacks.app_builder import new_app
_imports.__exit__(None, None, None)
app = new_app(outdir={outdir!r})
cdk.CfnWaitConditionHandle(cdk.Stack(app, "Empty"), "Placeholder")
app.synth()
"""

PHASES = (
    "imports",
    "account stages' constructs",
    "stage synthesis (add_stage)",
    "build_pipeline",
    "other construction",
    "app.synth + cdk-nag",
)
# Timed inside build_app; "other construction" is the rest of build_app's time.
TIMED_IN_BUILD = PHASES[1:4]

_GENERATED_CONTEXT = """
from stacks.config import cdk_json_context, ORGANISATION_CONTEXT_KEY
from benchmarks.synth import generated_organisation
context = cdk_json_context()
context[ORGANISATION_CONTEXT_KEY] = generated_organisation({environments})
"""

PROGRAMS = {
    "bare-floor": """
import aws_cdk as cdk
from stacks.config import cdk_json_context
_imports.__exit__(None, None, None)
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
_imports.__exit__(None, None, None)
build_app(outdir={outdir!r}).synth()
""",
    "phases": """
import functools, json, time
started = time.perf_counter()
from aws_cdk import pipelines
import stacks.organisation as organisation
from stacks.app_builder import build_app
_imports.__exit__(None, None, None)
phases = {{{phases[0]!r}: time.perf_counter() - started}}
def timed(owner, name, phase):
    original = getattr(owner, name)
    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - start
    setattr(owner, name, wrapper)
timed(organisation.AccountStage, "__init__", {phases[1]!r})
timed(pipelines.Wave, "add_stage", {phases[2]!r})
timed(pipelines.CodePipeline, "build_pipeline", {phases[3]!r})
"""
    + _GENERATED_CONTEXT
    + """
start = time.perf_counter()
app = build_app(context=context, outdir={outdir!r})
phases["construction"] = time.perf_counter() - start
start = time.perf_counter()
app.synth()
phases[{phases[5]!r}] = time.perf_counter() - start
print(json.dumps(phases))
""",
    "template-floor": """
from benchmarks.synth import rebuild_templates
from stacks.app_builder import new_app
_imports.__exit__(None, None, None)
app = new_app(outdir={outdir!r})
rebuild_templates(app, {templates!r})
app.synth()
""",
    "generated": _GENERATED_CONTEXT
    + """
from stacks.app_builder import build_app
_imports.__exit__(None, None, None)
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


def rebuild_templates(app: Any, directory: str) -> int:
    """Add to ``app`` one Stack per ``*.template.json`` under ``directory`` (nested assemblies
    included), holding that template's resources as raw ``CfnResource`` objects with their
    logical IDs and properties: the template floor. Returns the number of stacks added."""
    import aws_cdk as cdk  # noqa: PLC0415 - starts jsii: only in the program that rebuilds

    paths = sorted(Path(directory).rglob("*.template.json"))
    for index, path in enumerate(paths):
        stack = cdk.Stack(app, f"Template{index}")
        for logical_id, resource in json.loads(path.read_text()).get("Resources", {}).items():
            cdk.CfnResource(
                stack, logical_id, type=resource["Type"], properties=resource.get("Properties")
            ).override_logical_id(logical_id)
    return len(paths)


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


def program_argv(kind: str, outdir: str, **values: object) -> list[str]:
    """The Python command that runs PROGRAMS[kind], optimized as cdk.json runs app.py, on the
    channel its environment selects."""
    program = _CHANNEL + PROGRAMS[kind].format(outdir=outdir, **values)
    return [sys.executable, "-O", "-c", program]


# How each variant starts jsii's kernel (the environment of its process).
VARIANTS = {
    "direct": {CHANNEL_ENVIRONMENT_VARIABLE: "direct"},
    "uncached": {
        CHANNEL_ENVIRONMENT_VARIABLE: "direct",
        COMPILE_CACHE_ENVIRONMENT_VARIABLE: COMPILE_CACHE_OFF,
    },
    "relay": {CHANNEL_ENVIRONMENT_VARIABLE: "relay"},
}


def measure(kind: str, rounds: int, **values: object) -> tuple[Run, int]:
    (run,), stacks = measure_on(("direct",), kind, rounds, **values)
    return run, stacks


def measure_on(
    variants: tuple[str, ...], kind: str, rounds: int, **values: object
) -> tuple[list[Run], int]:
    """Median run of ``kind`` in each of VARIANTS (rounds interleaved), and the stack count."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as outdir:
        argv = program_argv(kind, outdir, **values)
        runs = median_runs_interleaved([(argv, _child_env(v)) for v in variants], rounds)
        return runs, stack_count(Path(outdir))


def warm_compile_cache() -> None:
    """One unmeasured synth of the example app: the kernel's compile cache then holds every
    module the measured programs load."""
    with tempfile.TemporaryDirectory(prefix="bench-warm-up-") as outdir:
        run_once(program_argv("example", outdir), env=_child_env())


def measure_phases(environments: int, rounds: int) -> tuple[dict[str, float], int]:
    """Median seconds of each of PHASES over ``rounds`` fresh processes, and the stack count."""
    samples: dict[str, list[float]] = {phase: [] for phase in PHASES}
    stacks = 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-phases-") as outdir:
            done = subprocess.run(
                program_argv("phases", outdir, environments=environments, phases=PHASES),
                env=_child_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                sys.exit(f"phases of {environments} environments failed:\n{done.stderr[-4000:]}")
            phases = json.loads(done.stdout.strip().splitlines()[-1])
            stacks = stack_count(Path(outdir))
        phases["other construction"] = phases.pop("construction") - sum(
            phases.get(phase, 0.0) for phase in TIMED_IN_BUILD
        )
        for phase in PHASES:
            samples[phase].append(phases.get(phase, 0.0))
    return {phase: statistics.median(values) for phase, values in samples.items()}, stacks


def print_phases(sizes: list[int], rounds: int) -> None:
    measured = [(environments, *measure_phases(environments, rounds)) for environments in sizes]
    steps = [
        (earlier, later)
        for earlier, later in itertools.pairwise(measured)
        if later[2] > earlier[2]  # more stacks
    ]
    print(f"\nsynth phases (median of {rounds} rounds, seconds inside one process)")
    header = "".join(f"{f'{n} envs ({stacks})':>16}" for n, _, stacks in measured)
    header += "".join(f"{f'ms/stack {a[0]}->{b[0]}':>18}" for a, b in steps)
    print(f"{'phase':<30}{header}")
    for phase in PHASES:
        cells = "".join(f"{phases[phase]:>16.2f}" for _, phases, _ in measured)
        cells += "".join(
            f"{(later[1][phase] - earlier[1][phase]) / (later[2] - earlier[2]) * 1000:>18.1f}"
            for earlier, later in steps
        )
        print(f"{phase:<30}{cells}")


def measure_template_floor(kind: str, rounds: int, **values: object) -> tuple[Run, int]:
    """The template floor of program ``kind`` (the example app, or a generated organisation):
    its templates, synthesized once unmeasured, rebuilt as raw resources (``rebuild_templates``)."""
    with tempfile.TemporaryDirectory(prefix="bench-templates-") as templates:
        run_once(program_argv(kind, templates, **values), env=_child_env())
        return measure("template-floor", rounds, templates=templates)


def print_marginal(earlier: tuple[Run, int], later: tuple[Run, int]) -> None:
    """The cost per stack added between two sizes, wall (CPU)."""
    added = later[1] - earlier[1]
    slope = (later[0].seconds - earlier[0].seconds) / added * 1000
    cpu_slope = (later[0].cpu_seconds - earlier[0].cpu_seconds) / added * 1000
    print(f"{'':<26} marginal since previous size: {slope:.1f} ms/stack ({cpu_slope:.1f} ms CPU)")


def print_ratios(title: str, pairs: list[tuple[str, Run, Run]]) -> None:
    """One line: each ``(name, run, baseline)`` pair's run / baseline, wall time (CPU time)."""
    print(
        f"{title} (rounds interleaved), wall (CPU): "
        + "; ".join(
            f"{name} {run.seconds / baseline.seconds:.2f}x "
            f"({run.cpu_seconds / baseline.cpu_seconds:.2f}x)"
            for name, run, baseline in pairs
        )
    )


def _child_env(variant: str = "direct") -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        **VARIANTS[variant],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--environments", type=int, nargs="*", default=[])
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also time the phases of each --environments size inside the process",
    )
    parser.add_argument(
        "--template-floor",
        action="store_true",
        help="also rebuild each --environments size's templates as raw CfnResource objects "
        "and the example app's (the lower bound any construct code could reach through jsii)",
    )
    parser.add_argument(
        "--compare-relay",
        action="store_true",
        help="also synthesize each --environments size on jsii's relay",
    )
    args = parser.parse_args()
    if args.phases and not args.environments:
        parser.error("--phases needs --environments N [N ...]")

    warm_compile_cache()
    bare, _ = measure("bare-floor", args.rounds)
    compared = ("direct", "uncached", "relay")
    (floor, floor_uncached, floor_relay), _ = measure_on(compared, "floor", args.rounds)
    floor_imports, _ = measure("floor-imports", args.rounds)
    (example, example_uncached, example_relay), example_stacks = measure_on(
        compared, "example", args.rounds
    )
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
    if args.template_floor:
        example_floor, example_floor_stacks = measure_template_floor("example", args.rounds)
        row("template floor, example", example_floor, example_floor_stacks)
    row("floor, no compile cache", floor_uncached, 1)
    row("example app, no cache", example_uncached, example_stacks)
    row("floor, jsii relay", floor_relay, 1)
    row("example app, jsii relay", example_relay, example_stacks)
    previous: tuple[Run, int] | None = None
    previous_floor: tuple[Run, int] | None = None
    relays: list[tuple[str, Run, Run]] = [
        ("floor", floor_relay, floor),
        ("example app", example_relay, example),
    ]
    for environments in args.environments:
        if args.compare_relay:
            (run, relay), stacks = measure_on(
                ("direct", "relay"), "generated", args.rounds, environments=environments
            )
        else:
            run, stacks = measure("generated", args.rounds, environments=environments)
        row(f"generated, {environments} envs", run, stacks)
        if previous is not None and stacks > previous[1]:
            print_marginal(previous, (run, stacks))
        previous = (run, stacks)
        if args.template_floor:
            floor_run, floor_stacks = measure_template_floor(
                "generated", args.rounds, environments=environments
            )
            row(f"template floor, {environments}", floor_run, floor_stacks)
            if previous_floor is not None and floor_stacks > previous_floor[1]:
                print_marginal(previous_floor, (floor_run, floor_stacks))
            previous_floor = (floor_run, floor_stacks)
        if args.compare_relay:
            row(f"generated, {environments}, relay", relay, stacks)
            relays.append((f"{environments} envs", relay, run))
    print(
        f"example app / floor = {example.seconds / floor.seconds:.2f}x "
        f"({example.cpu_seconds / floor.cpu_seconds:.2f}x in CPU time); "
        f"floor / bare floor = {floor.seconds / bare.seconds:.2f}x "
        "(the cost of registering the nag packs); "
        f"importing the toolkit adds {floor_imports.seconds - floor.seconds:.2f} s"
    )
    print_ratios(
        "no compile cache / with it",
        [("floor", floor_uncached, floor), ("example app", example_uncached, example)],
    )
    print_ratios("jsii relay (no cache) / direct channel", relays)
    if args.phases:
        print_phases(args.environments, args.rounds)


if __name__ == "__main__":
    main()
