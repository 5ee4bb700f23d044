"""Whole-process timing, CPU time and peak memory of a child process tree (Python + its Node/jsii
child).

CPU time is reported next to wall time because these machines are shared: a neighbour can stretch
a wall time by a third while the CPU seconds the run needed stay within a few per cent.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float
    """User + system CPU of the process and every descendant it waited for (the jsii Node child)."""


def run_once(argv: Sequence[str], *, env: dict[str, str] | None = None) -> Run:
    """Run ``argv``; wall time, CPU time, and the peak of the summed RSS of the process and its
    children."""
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # stderr goes to a file, not a pipe: nobody reads a pipe while the child runs, so a child
    # writing more than the pipe holds (64 KiB: synth warnings, say) would block forever.
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errors)
        parent = psutil.Process(process.pid)
        peak = 0
        while process.poll() is None:
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - start
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    cpu_seconds = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    if process.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({process.returncode}):\n{stderr[-4000:]}")
    return Run(seconds=seconds, peak_rss_mib=peak / 2**20, cpu_seconds=cpu_seconds)


def median_runs_interleaved(
    variants: Sequence[tuple[Sequence[str], dict[str, str] | None]], rounds: int
) -> list[Run]:
    """The median run of each ``(argv, env)`` variant, running them in turn in every round
    (A B A B ...), so that a machine getting slower or faster mid-benchmark shifts them alike."""
    runs: list[list[Run]] = [[] for _ in variants]
    for _ in range(rounds):
        for samples, (argv, env) in zip(runs, variants, strict=True):
            samples.append(run_once(argv, env=env))
    return [
        Run(
            seconds=statistics.median(r.seconds for r in samples),
            peak_rss_mib=max(r.peak_rss_mib for r in samples),
            cpu_seconds=statistics.median(r.cpu_seconds for r in samples),
        )
        for samples in runs
    ]
