"""Start-up of a synth process: no cyclic garbage collection while the CDK's modules import.

Importing the aws-cdk-lib modules a synth of the example organisation needs makes over 100,000
long-lived objects and next to no garbage, yet every burst of allocations starts a collection
that walks the objects made so far: 0.11-0.15 s of collections in the imports of a
default-app synth (of about 1 s of imports), against 0.01-0.02 s while building and
synthesizing it (docs/synth-performance.md). :func:`imports_without_gc` turns the collector off
for the imports, then moves what they made out of its generations (``gc.freeze()``), so that the
collections that follow do not walk it either.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def imports_without_gc() -> Iterator[None]:
    """Collect nothing inside the block; afterwards, freeze every object alive (never collected,
    as imported modules never are) and turn the collector back on if it was on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
