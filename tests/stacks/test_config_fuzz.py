"""The configuration contract, fuzzed: any configuration either loads or is refused with a
ConstructPropError naming a field under 'kmskit:organisation' and the value received; never a raw
exception (KeyError, TypeError, a jsii error).

Configurations are the default one with a few seeded random changes (fixed seeds: the same
configurations on every run). Loading only: tests/test_gates.py holds synthesized apps to the
cdk-nag packs and cfn-lint. A thousand loads take about two seconds.

Some changes set ``pipeline.enabled`` (which the default configuration leaves out), with the
``pipeline`` section kept, emptied, or reduced to a ``region`` and ``provider``; each such
configuration is also held to what ``enabled`` means, against the same configuration without it.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

from constructs_lib import ConstructPropError
from stacks.config import (
    ORGANISATION_CONTEXT_KEY,
    REPOSITORY_PROVIDERS,
    Organisation,
    load_organisation,
)
from tests.stacks.test_config import DEFAULT

SEEDS = range(1000)

REGIONS = [
    "eu-west-1", "eu-central-1", "us-east-1", "me-south-1", "ap-southeast-7", "mx-central-1",
    "cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1", "eusc-de-east-1",
    "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "EU-WEST-1", "eu-west-9", "eu-west-1 ",
]  # fmt: skip
ALIASES = [
    "workload", "backup", "security", "team-one", "app1", "x" * 30, "x" * 31, "a--b", "a-", "Team",
    "pipeline", "pipeline2", "pipeline1", "hand-off", "handoff", "source", "workloads", "a1-b",
    "a1b", "\u00e9", "",
]  # fmt: skip
# Values of every JSON type, and the strings and numbers that broke the loader or synth.
ODD = [
    None, True, False, 0, 1, -1, 1.5, 365.0, float("nan"), float("inf"), 10**30, "", " ", "x",
    "365", "null", "HEAD", "-1.8881545897087626e+289", "${Token[TOKEN.1]}", "\x00", "\u00e9" * 3,
    "a" * 300, [], {}, [None], {"a": None}, ["eu-west-1"], {"region": "eu-west-1"},
]  # fmt: skip

PROVIDERS = [*REPOSITORY_PROVIDERS, "github", "AzureDevOps", "CodeCommit"]
PIPELINE_FIELD = f"'{ORGANISATION_CONTEXT_KEY}.pipeline"


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaf_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaf_paths(value, (*prefix, index))


def mutate_pipeline(rng: random.Random, config: dict[str, Any]) -> None:
    """``pipeline.enabled`` set, in the ``pipeline`` section as it is, emptied, or holding only a
    ``region`` and a ``provider`` (the keys whose checks ``enabled: false`` skips or refuses)."""
    pipeline = config.get("pipeline")
    if not isinstance(pipeline, dict):
        pipeline = config["pipeline"] = {}
    shape = rng.random()
    if shape < 0.4:
        pipeline.clear()
    elif shape < 0.7:
        for key in list(pipeline):
            if key not in ("region", "provider"):
                del pipeline[key]
        if rng.random() < 0.5:
            pipeline["region"] = rng.choice(REGIONS)
        if rng.random() < 0.5:
            pipeline["provider"] = rng.choice(PROVIDERS)
    # Mostly one of the two booleans, sometimes a value of another type.
    pool = [True, False] if rng.random() < 0.7 else ODD
    pipeline["enabled"] = copy.deepcopy(rng.choice(pool))


def mutate(rng: random.Random, config: dict[str, Any]) -> None:
    """One random change: a value replaced, a key deleted, an account or Region added,
    ``pipeline.enabled`` set."""
    kind = rng.random()
    if kind < 0.1:
        mutate_pipeline(rng, config)
        return
    if kind < 0.22:
        alias = rng.choice(ALIASES)
        role = rng.choice(["security", "workload", "backup", "audit"])
        config["accounts"][alias] = {"id": f"{rng.randrange(10**12):012d}", "role": role}
        return
    if kind < 0.34:
        config["regions"] = rng.sample(REGIONS, rng.randint(1, 4))
        if rng.random() < 0.5:
            config["home_region"] = rng.choice(config["regions"])
        return
    path = rng.choice(list(leaf_paths(config)))
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    if kind < 0.43:
        del node[path[-1]]
    else:
        pool = rng.choices([ODD, REGIONS, ALIASES], weights=[2, 1, 1])[0]
        node[path[-1]] = copy.deepcopy(rng.choice(pool))


def configuration(seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    config = copy.deepcopy(DEFAULT)
    for _ in range(rng.randint(1, 3)):
        try:
            mutate(rng, config)
        except (KeyError, IndexError, TypeError, ValueError):
            break  # an earlier change left no such path: load what there is
    return config


def outcome(config: dict[str, Any]) -> Organisation | ConstructPropError:
    try:
        return load_organisation(config)
    except ConstructPropError as error:
        return error


def described(result: Organisation | ConstructPropError) -> object:
    """What two outcomes must share to be the same: the pipeline built, or the refusal."""
    return result.pipeline if isinstance(result, Organisation) else str(result)


def enabled_problem(config: dict[str, Any], result: Organisation | ConstructPropError) -> str:
    """What is wrong with ``result``, the outcome of ``config``, for its ``pipeline.enabled``
    (set by :func:`mutate_pipeline` or left in by a later change): '' when nothing, or when
    ``config`` has none. Judged against the same configuration without ``enabled``, whose
    default (true) builds the pipeline."""
    pipeline = config.get("pipeline")
    if not isinstance(pipeline, dict) or "enabled" not in pipeline:
        return ""
    enabled = pipeline["enabled"]
    without = copy.deepcopy(config)
    del without["pipeline"]["enabled"]
    base = outcome(without)
    others = sorted(set(pipeline) - {"enabled"})
    if enabled is True:
        if described(result) != described(base):
            return f"enabled true is not the default: {described(result)!r} != {described(base)!r}"
        return ""
    if isinstance(result, Organisation):
        if enabled is not False:
            return f"enabled {enabled!r} (not a boolean) was accepted"
        if others:
            return f"enabled false was accepted next to {others}"
        if result.pipeline is not None:
            return "enabled false built a pipeline"
        return ""
    message = str(result)
    if enabled is not False:
        if isinstance(base, Organisation) and not message.startswith(f"{PIPELINE_FIELD}.enabled'"):
            return f"enabled {enabled!r} was refused for something else: {message}"
        return ""
    if others:
        if isinstance(base, Organisation) and not message.startswith(f"{PIPELINE_FIELD}'"):
            return f"enabled false next to {others} was refused for something else: {message}"
        return ""
    if message.startswith(PIPELINE_FIELD):
        return f"enabled false alone was refused for the pipeline: {message}"
    return ""


def test_every_fuzzed_configuration_loads_or_is_refused_naming_the_field() -> None:
    broken = []
    refused = 0
    enabled_seen: set[object] = set()
    for seed in SEEDS:
        config = configuration(seed)
        try:
            result = outcome(config)
            problem = enabled_problem(config, result)
        except Exception as error:  # the finding: any exception but the refusal
            broken.append(f"seed {seed}: {type(error).__name__}: {error}")
            continue
        if problem:
            broken.append(f"seed {seed}: pipeline.enabled: {problem}")
        pipeline = config.get("pipeline")
        if isinstance(pipeline, dict) and "enabled" in pipeline:
            enabled_seen.add((repr(pipeline["enabled"]), isinstance(result, Organisation)))
        if isinstance(result, ConstructPropError):
            refused += 1
            message = str(result)
            if not message.startswith(f"'{ORGANISATION_CONTEXT_KEY}") or "Received:" not in message:
                broken.append(f"seed {seed}: {message}")
    assert broken == []
    # The seeds exercise both outcomes: a generator that only made bad configurations would
    # pass as well.
    assert 0.5 * len(SEEDS) < refused < 0.97 * len(SEEDS)
    # Both booleans load and are refused (next to other keys, in a broken configuration), and
    # a value of another type is met.
    assert {("True", True), ("False", True), ("True", False), ("False", False)} <= enabled_seen
    assert {e for e, _ in enabled_seen} - {"True", "False"} != set()
