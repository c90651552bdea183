"""CPU forward time (batch 1, eval mode, no grad) of every model in the zoo, at native size.

    .venv/bin/python benchmarks/models_forward.py [--repeat N] [--threads T] [name ...]

For each model: parameters, multiply-adds (FlopCounterMode, cross-checked against the forward-hook
count), best-of-N forward time, achieved GMAC/s, and the time relative to ResNet-18 timed in the
same process (the reference, so the ratios hold across machines of different speed).
"""

from __future__ import annotations

import argparse

import torch
from _timing import best_of, environment, load_average

from cnncourse import models, shapes

REFERENCE = "resnet18"


def measure(name: str, repeat: int) -> tuple[int, int, float]:
    ctor, shape = models.MODELS[name]
    model = ctor().eval()
    x = torch.randn(1, *shape)
    macs = models.count_multiply_adds(model, shape)
    hooks = models.count_multiply_adds_hooks(model, shape)
    if macs != hooks:
        raise AssertionError(f"{name}: FlopCounterMode {macs:,} != hooks {hooks:,}")
    with torch.no_grad():
        seconds = best_of(lambda: model(x), repeat)
    return shapes.count_parameters(model), macs, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(models.MODELS), help="models to time")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(models.MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(models.MODELS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(environment())
    print("batch 1, eval, no grad")

    names = [REFERENCE] + [n for n in args.names if n != REFERENCE]
    rows = {n: measure(n, args.repeat) for n in names}
    ref = rows[REFERENCE][2]
    header = f"{'model':<14} {'input':>11} {'parameters':>13} {'mult-adds':>16} {'ms':>9} {'GMAC/s':>7} {'vs r18':>7}"
    print(header)
    print("-" * len(header))
    for name in args.names:
        params, macs, seconds = rows[name]
        c, h, w = models.MODELS[name][1]
        print(
            f"{name:<14} {f'{c}x{h}x{w}':>11} {params:>13,} {macs:>16,} {seconds * 1e3:>9.2f} "
            f"{macs / seconds / 1e9:>7.1f} {seconds / ref:>6.2f}x"
        )
    print(f"\nload average after the runs: {load_average()}")


if __name__ == "__main__":
    main()
