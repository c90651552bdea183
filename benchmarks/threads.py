"""Training speed with torch's default thread count vs cnncourse.train.configure_threads.

The workload is the quick profile's real step: LeNet-5 (modern), batches of 64 bundled MNIST
digits, SGD, forward + backward + step. Two situations in one run:

1. idle: nothing else runs (on a shared machine, "idle" is whatever the others leave free: the
   load average is printed). Goal: the chosen setting is at most 1.2x the best setting's time.
2. busy: this script starts two CPU-bound competitor processes (a Python busy loop each, same
   niceness as this script), measures, then stops them. Goal: torch's default is at least 3x
   the chosen setting's time.

Per situation it times 1 thread, every count up to the core count (the default is one per core)
and the count configure_threads chooses in that situation, in alternation; each figure is the
median of --repeat runs (not the best: the slowdown measured here *is* the disturbance, and a
best-of would hide it).

Usage: python benchmarks/threads.py [--repeat 5] [--batches 30]
(do not set OMP_NUM_THREADS: configure_threads leaves an explicit setting alone)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from _timing import environment, load_average

from cnncourse import datasets, models
from cnncourse.train import threads

DEFAULT = torch.get_num_threads()  # what torch chose at import: one per core


def workload(batches: int):
    train_set, _ = datasets.load("mnist_bundled")
    x, y = train_set.tensors()
    x, y = x[: 64 * batches], y[: 64 * batches]
    torch.manual_seed(0)
    model = models.lenet5_modern()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def run():
        for i in range(0, len(x), 64):
            loss = F.cross_entropy(model(x[i : i + 64]), y[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def measure(run, settings: list[int], repeat: int) -> dict[int, float]:
    """Median seconds of ``run`` per thread count, the counts timed in alternation."""
    times: dict[int, list[float]] = {n: [] for n in settings}
    for n in settings:  # warm-up: oneDNN kernels and thread pools for each count
        torch.set_num_threads(n)
        run()
    for _ in range(repeat):
        for n in settings:
            torch.set_num_threads(n)
            start = time.perf_counter()
            run()
            times[n].append(time.perf_counter() - start)
    return {n: statistics.median(t) for n, t in times.items()}


def situation(name: str, run, repeat: int) -> tuple[dict[int, float], int]:
    chosen = threads.configure_threads("cpu", "quick")
    settings = sorted({1, *range(1, DEFAULT + 1), chosen})
    print(f"\n{name}: load average {load_average()}; configure_threads chose {chosen}")
    result = measure(run, settings, repeat)
    for n, t in result.items():
        tags = [tag for tag, m in (("default", DEFAULT), ("chosen", chosen)) if m == n]
        print(f"  {n} thread(s) {t * 1e3:9.1f} ms  {'(' + ', '.join(tags) + ')' if tags else ''}")
    return result, chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    if "OMP_NUM_THREADS" in os.environ or "CNNCOURSE_THREADS" in os.environ:
        parser.error("unset OMP_NUM_THREADS and CNNCOURSE_THREADS: the benchmark chooses threads")
    print(environment())
    run = workload(args.batches)
    idle, idle_chosen = situation("idle", run, args.repeat)
    competitors = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(1.0)  # let them take their cores
        busy, busy_chosen = situation("busy (2 competitor processes)", run, args.repeat)
    finally:
        for p in competitors:
            p.terminate()
        for p in competitors:
            p.wait()
    idle_ratio = idle[idle_chosen] / min(idle.values())
    busy_ratio = busy[DEFAULT] / busy[busy_chosen]
    print(f"\n{'situation':<32} {'ratio':>7}  goal")
    print(f"{'idle: chosen / best setting':<32} {idle_ratio:7.2f}  <= 1.20")
    print(f"{'busy: default / chosen':<32} {busy_ratio:7.2f}  >= 3.00")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
