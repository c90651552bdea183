"""What tests/test_train_distributed.py runs under torchrun (not a test module itself).

``python ddp_worker.py fit --kind plain|rich --out DIR --epochs N [--stop-after K] [--resume]``
    trains a tiny CNN with :func:`cnncourse.train.fit` on this process's shard of 64 tiny images
    (:func:`cnncourse.train.distributed.make_loader`, 8 images per process and batch); rank 0
    saves the final weights to ``DIR/weights.pt``. ``plain``: no batch norm, dropout or
    augmentation (comparable with one process on the global batches); ``rich``: all three (what
    resuming must restore). ``--stop-after K`` simulates a crash after epoch K.

``python ddp_worker.py cli ARGS...``
    runs ``python -m cnncourse.train ARGS...`` while recording every file this process opens
    for writing or renames (a Python audit hook), then prints ``writes rank=R [...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnncourse import datasets, train, transforms
from cnncourse.train import distributed

BATCH = 8  # per process
SAMPLES = 64


def tiny_data(n=SAMPLES, seed=0):
    """Three classes of 8x8 images: a bright bar in the top, middle or bottom rows, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 60, (n, 8, 8))
    for i, c in enumerate(y):
        x[i, 1 + 2 * c : 3 + 2 * c, 1:7] += 180
    return x.astype(np.uint8), y


def tiny_model(kind):
    extra = [nn.BatchNorm2d(4)] if kind == "rich" else []
    drop = [nn.Dropout(0.2)] if kind == "rich" else []
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        *extra,
        nn.ReLU(),
        nn.MaxPool2d(2),
        *drop,
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 3),
    )


def tiny_dataset(kind):
    x, y = tiny_data()
    aug = None
    if kind == "rich":
        aug = transforms.Compose(
            [transforms.RandomAffine(10, (0.1, 0.1)), transforms.RandomErasing(p=0.5)]
        )
    return datasets.ImageDataset(x, y, transform=aug, mean=(0.3,), std=(0.3,))


def optimizer_and_schedule(model, epochs, steps_per_epoch):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.2, total_steps=epochs * steps_per_epoch
    )
    return opt, sched


class StopAfter(train.Callback):
    """Simulate a crash (a lost machine) right after epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state):
        if state.epoch == self.epoch:
            raise KeyboardInterrupt


def run_fit(args) -> int:
    context = distributed.init()
    try:
        train.seed_everything(args.seed)
        model = tiny_model(args.kind)
        train.seed_everything(args.seed + distributed.rank())  # own augmentations per process
        loader = distributed.make_loader(tiny_dataset(args.kind), BATCH, seed=7)
        # Validation on each process's shard of the (unaugmented) training images.
        val = distributed.make_loader(tiny_dataset("plain"), BATCH, seed=3) if args.val else None
        opt, sched = optimizer_and_schedule(model, args.epochs, len(loader))
        out = Path(args.out)
        try:
            history = train.fit(
                model,
                loader,
                val,
                epochs=args.epochs,
                optimizer=opt,
                scheduler=sched,
                device="cpu",
                checkpoint=out / "run.pt" if args.checkpoint or args.resume else None,
                resume=args.resume,
                callbacks=[StopAfter(args.stop_after)] if args.stop_after else [],
                progress=False,
                live_plot=False,
            )
        except KeyboardInterrupt:
            print(f"rank {distributed.rank()} interrupted", flush=True)
            return 0
        if distributed.is_main():
            torch.save(
                {"model": model.state_dict(), "rows": history.rows},
                out / "weights.pt",
            )
        print(f"rank {distributed.rank()} of {context.world_size} done", flush=True)
        return 0
    finally:
        distributed.destroy()


def run_cli(argv) -> int:
    cwd = Path.cwd().resolve()
    writes: list[str] = []

    def record(event, event_args):
        if event == "open":
            path, mode, flags = event_args
            writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
                mode is None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
        elif event == "os.rename":
            path, writing = event_args[1], True
        else:
            return
        if writing and isinstance(path, (str, os.PathLike)):
            full = Path(os.fsdecode(path)).resolve()
            if full.is_relative_to(cwd):
                writes.append(str(full.relative_to(cwd)))

    sys.addaudithook(record)
    status = train.main(argv)
    print(f"writes rank={os.environ.get('RANK', '-')} {json.dumps(sorted(set(writes)))}")
    return status


def main() -> int:
    if sys.argv[1:2] == ["cli"]:
        return run_cli(sys.argv[2:])
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["fit"])
    p.add_argument("--kind", choices=["plain", "rich"], required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stop-after", type=int, default=0)
    p.add_argument("--checkpoint", action="store_true")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--val", action="store_true", help="validate on sharded training images")
    return run_fit(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
