"""The configuration contract, fuzzed: any configuration either loads or is refused with a
ConstructPropError naming a field under 'kmskit:organisation' and the value received; never a raw
exception (KeyError, TypeError, a jsii error).

Configurations are the default one with a few seeded random changes (fixed seeds: the same
configurations on every run). Loading only: tests/test_gates.py holds synthesized apps to the
cdk-nag packs and cfn-lint. A thousand loads take about two seconds.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

from constructs_lib import ConstructPropError
from stacks.config import ORGANISATION_CONTEXT_KEY, Organisation, load_organisation
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


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaf_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaf_paths(value, (*prefix, index))


def mutate(rng: random.Random, config: dict[str, Any]) -> None:
    """One random change: a value replaced, a key deleted, an account or Region added."""
    kind = rng.random()
    if kind < 0.15:
        alias = rng.choice(ALIASES)
        role = rng.choice(["security", "workload", "backup", "audit"])
        config["accounts"][alias] = {"id": f"{rng.randrange(10**12):012d}", "role": role}
        return
    if kind < 0.3:
        config["regions"] = rng.sample(REGIONS, rng.randint(1, 4))
        if rng.random() < 0.5:
            config["home_region"] = rng.choice(config["regions"])
        return
    path = rng.choice(list(leaf_paths(config)))
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    if kind < 0.4:
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


def test_every_fuzzed_configuration_loads_or_is_refused_naming_the_field() -> None:
    broken = []
    refused = 0
    for seed in SEEDS:
        try:
            result = outcome(configuration(seed))
        except Exception as error:  # the finding: any exception but the refusal
            broken.append(f"seed {seed}: {type(error).__name__}: {error}")
            continue
        if isinstance(result, ConstructPropError):
            refused += 1
            message = str(result)
            if not message.startswith(f"'{ORGANISATION_CONTEXT_KEY}") or "Received:" not in message:
                broken.append(f"seed {seed}: {message}")
    assert broken == []
    # The seeds exercise both outcomes: a generator that only made bad configurations would
    # pass as well.
    assert 0.5 * len(SEEDS) < refused < 0.97 * len(SEEDS)
