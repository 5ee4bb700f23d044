"""stacks.startup: the imports of a synth run without cyclic garbage collection, and what they
made is frozen out of the collector's generations afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from stacks.startup import imports_without_gc


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Give the objects the test freezes back to the collector, for the rest of the session."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


@pytest.mark.usefixtures("unfrozen")
def test_nothing_is_collected_inside_and_what_was_made_is_frozen() -> None:
    gc.enable()
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with imports_without_gc():
            assert not gc.isenabled()
            made = [[n] for n in range(20_000)]  # enough to start collections when enabled
        assert collections == []
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(made)
        # Frozen: out of the generations that collections walk.
        assert id(made[0]) not in {id(o) for o in gc.get_objects()}
    finally:
        gc.callbacks.remove(count)


@pytest.mark.usefixtures("unfrozen")
def test_the_collector_is_restored_as_it_was_even_after_an_error() -> None:
    gc.disable()
    with imports_without_gc():
        pass
    assert not gc.isenabled()  # it was off: stays off
    gc.enable()
    with pytest.raises(ImportError), imports_without_gc():
        raise ImportError("a module that cannot be imported")
    assert gc.isenabled()
