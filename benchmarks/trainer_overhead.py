"""Overhead of cnncourse.train.fit versus a minimal hand-written PyTorch training loop.

Both train the same model (LeNet-5, modern) on the same DataLoader over the 8,000 bundled MNIST
digits with the same optimizer, timed in the same process and interleaved (fit, hand, fit, ...)
so that machine load hits both alike. fit does more per batch (loss and accuracy bookkeeping, a
tqdm bar); the goal is throughput within 5 % of the bare loop (ratio >= 0.95).

Usage: python benchmarks/trainer_overhead.py [--epochs 1] [--repeats 7] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cnncourse import datasets, models, train


def hand_loop(model, optimizer, loader, epochs: int) -> float:
    """The bare minimum: forward, loss, backward, step. Returns samples per second."""
    model.train()
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(y)
    return seen / (time.perf_counter() - start)


def with_fit(model, optimizer, loader, epochs: int, progress: bool) -> float:
    start = time.perf_counter()
    history = train.fit(
        model,
        loader,
        epochs=epochs,
        optimizer=optimizer,
        device="cpu",
        progress=progress,
        verbose=False,
        live_plot=False,
    )
    return len(loader.dataset) * len(history) / (time.perf_counter() - start)


def bookkeeping_seconds(batch_size: int, classes: int = 10, n: int = 2000) -> float:
    """Time per batch of what fit adds to the bare loop: loss/accuracy sums, autocast, lr."""
    out, y = torch.randn(batch_size, classes), torch.randint(0, classes, (batch_size,))
    loss = F.cross_entropy(out, y)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    start = time.perf_counter()
    for _ in range(n):
        with torch.autocast("cpu", enabled=False):
            pass
        loss_sum += loss.detach().double() * batch_size
        if train._is_classification(out, y):
            correct += (out.detach().argmax(1) == y).sum()
        train._current_lr(optimizer)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train_set, _ = datasets.load("mnist_bundled")
    loader = datasets.make_loader(train_set, args.batch_size, shuffle=True, seed=0)

    def fresh():
        train.seed_everything(0)
        model = models.lenet5_modern()
        return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    hand_loop(*fresh(), loader, epochs=1)  # warm-up: allocator, oneDNN kernels
    rates: dict[str, list[float]] = {"hand": [], "fit": [], "fit_bar": []}
    for _ in range(args.repeats):
        rates["hand"].append(hand_loop(*fresh(), loader, epochs=args.epochs))
        rates["fit"].append(with_fit(*fresh(), loader, epochs=args.epochs, progress=False))
        rates["fit_bar"].append(with_fit(*fresh(), loader, epochs=args.epochs, progress=True))
    median = {k: statistics.median(v) for k, v in rates.items()}
    # Load from other processes drifts over time; ratios of back-to-back runs cancel most of it.
    paired = {
        k: statistics.median(f / h for f, h in zip(rates[k], rates["hand"], strict=True))
        for k in ("fit", "fit_bar")
    }
    print(
        f"device=cpu threads={torch.get_num_threads()} batch_size={args.batch_size} "
        f"epochs={args.epochs} repeats={args.repeats}"
    )
    for k, v in median.items():
        runs = ", ".join(f"{r:.0f}" for r in rates[k])
        print(f"{k:8s} median {v:8.0f} samples/s  (runs: {runs})")
    print(f"ratio fit/hand (no bar)   = {paired['fit']:.3f}  (median of back-to-back ratios)")
    print(f"ratio fit/hand (tqdm bar) = {paired['fit_bar']:.3f}  (goal >= 0.95)")
    extra = bookkeeping_seconds(args.batch_size)
    per_batch = args.batch_size / median["hand"]
    print(
        f"fit's per-batch bookkeeping: {extra * 1e6:.0f} us = {100 * extra / per_batch:.2f} % "
        f"of a {per_batch * 1e3:.1f} ms training step"
    )


if __name__ == "__main__":
    main()
