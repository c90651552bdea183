"""Timing helpers shared by the benchmarks (import it as ``from _timing import ...``).

- :func:`best_of` -- the fastest of ``repeat`` timed calls after ``warmup`` untimed ones.
- :func:`best_of_pair` -- the same for two functions, timed in alternation.
- :func:`environment` -- one line with versions, thread counts and the load average.
- :func:`report` -- rows of (name, seconds) with their ratio to a reference time.
- :func:`compare` -- (name, ours, reference) cases timed in alternation, printed with the ratio.
- :func:`parse_repeat` -- the benchmarks' one command-line option, ``--repeat N`` (N >= 1).

Why best-of and alternation: the machine may be shared with other work. The fastest run is the
one least disturbed by it, and timing "ours" and the reference turn about makes both see the
same load, so their ratio stays meaningful when the absolute times do not. Every benchmark prints
the load average before and after its runs; report the figures with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Iterable


def best_of(fn: Callable[[], object], repeat: int = 20, warmup: int = 2) -> float:
    """Fastest wall time of ``fn()`` in seconds over ``repeat`` calls, after ``warmup`` calls.

    The warm-up calls fill caches and trigger lazy initialisation (oneDNN kernels, BLAS
    threads, memory pools) that would otherwise be charged to the first timed call.
    """
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_of_pair(
    ours: Callable[[], object],
    reference: Callable[[], object],
    repeat: int = 20,
    warmup: int = 2,
) -> tuple[float, float]:
    """Best-of times of two functions timed in alternation, in seconds: ``(ours, reference)``."""
    for _ in range(warmup):
        ours()
        reference()
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, fn in enumerate((ours, reference)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages and the CPU count: ``2.10 1.80 1.20 on 2 CPUs``."""
    try:
        loads = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # not available on this platform
        loads = "n/a"
    return f"{loads} on {os.cpu_count()} CPUs"


def environment() -> str:
    """Versions, thread counts and load average, for the first line of a benchmark's output."""
    import numpy as np

    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    try:
        import torch

        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()]
        if blas:
            parts.append("thread pools: " + ", ".join(blas))
    except ImportError:
        pass
    parts.append(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    return "; ".join(parts) + f"\nload average {load_average()}"


def report(
    title: str, rows: Iterable[tuple[str, float]], reference: float, label: str = "torch"
) -> None:
    """Print ``rows`` of (name, seconds) with milliseconds and the ratio to ``reference`` seconds."""
    print(f"\n{title}")
    for name, seconds in rows:
        print(f"  {name:<34} {seconds * 1e3:10.3f} ms   {seconds / reference:8.2f}x {label}")


def compare(
    title: str,
    cases: Iterable[tuple[str, Callable[[], object], Callable[[], object]]],
    repeat: int = 20,
    warmup: int = 2,
    label: str = "torch",
):
    """Time each (name, ours, reference) case with :func:`best_of_pair` and print the ratio."""
    print(f"\n{title}")
    for name, ours, reference in cases:
        t_ours, t_ref = best_of_pair(ours, reference, repeat, warmup)
        print(
            f"  {name:<34} ours {t_ours * 1e3:9.3f} ms   {label} {t_ref * 1e3:9.3f} ms"
            f"   {t_ours / t_ref:7.2f}x {label}"
        )


def parse_repeat(description: str, default: int) -> int:
    """Parse ``--repeat N`` (timed runs per case, best of; N >= 1) from the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, default=default, help="timed runs per case (best of)")
    repeat = parser.parse_args().repeat
    if repeat < 1:
        parser.error(f"--repeat must be >= 1, got {repeat}")
    return repeat
