"""Command line: ``python -m cnncourse.train MODEL --data DATASET [--epochs N] [--out DIR] ...``.

Trains with :func:`~cnncourse.train.train_classifier`, prints one line per epoch and ends with
``test_accuracy=<float>``; writes ``<out>/<model>_<data>.pt`` (load it with
:func:`~cnncourse.train.load_trained`), a resumable ``..._last.pt`` and a JSON history.

``torchrun --nproc_per_node=N -m cnncourse.train MODEL --data DATASET`` runs the same command in
N processes with DistributedDataParallel (see :mod:`~cnncourse.train.distributed`, which also
gives the command lines for several machines): ``--batch-size`` is per process, the global
batch (``batch_size x N``) is printed, and only rank 0 prints and writes.

``--smoke`` runs the full profile's recipe (augmentation, SGD + one-cycle, AMP on CUDA) for a few
batches on random images shaped like the dataset's (:func:`cnncourse.datasets.synthetic`): it
proves the code path end to end without a GPU or a download.

- :func:`main`: the entry point (returns the exit status).
- ``_parser``: the arguments; numbers outside their range are rejected with the rule they break.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import distributed
from .checkpoint import save_checkpoint
from .profiles import PROFILES, budget, device, profile, seed_everything
from .recipe import CLI_MODELS, RECIPE_DEFAULTS, DataUnavailable, build_model, train_classifier


def _number(kind: type, minimum: float, strict: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite ``kind`` that is ``> minimum`` (strict) or ``>= minimum``."""
    rule = f"{'an integer' if kind is int else 'a number'} {'>' if strict else '>='} {minimum}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    from ..datasets import DATASET_NAMES

    p = argparse.ArgumentParser(
        prog="python -m cnncourse.train",
        description="Train a cnncourse model with SGD + one-cycle and report its test accuracy.",
    )
    p.add_argument("model", choices=CLI_MODELS, help="model from cnncourse.models")
    p.add_argument("--data", required=True, choices=DATASET_NAMES, help="dataset")
    p.add_argument(
        "--epochs",
        type=_number(int, 1),
        default=None,
        help="epochs (default: the profile's budget, see cnncourse.train.BUDGETS)",
    )
    p.add_argument("--profile", choices=PROFILES, default=None, help="budget profile")
    p.add_argument("--out", default="runs", help="output folder (default: runs)")
    p.add_argument(
        "--batch-size",
        type=_number(int, 1),
        default=None,
        help="default: 64 for 28x28, 128 for CIFAR-10",
    )
    p.add_argument(
        "--lr",
        type=_number(float, 0, strict=True),
        default=None,
        help="peak learning rate of the one-cycle schedule (default: 0.05 for LeNets, 0.1 else)",
    )
    p.add_argument("--weight-decay", type=_number(float, 0), default=5e-4)
    p.add_argument("--seed", type=_number(int, 0), default=0)
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument("--workers", type=_number(int, 0), default=0, help="DataLoader worker processes")
    p.add_argument("--progress", action="store_true", help="show a progress bar per epoch")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from <out>/<model>_<data>_last.pt if it exists (same arguments)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"run the full profile's recipe for {SMOKE_BATCHES} batches per epoch on random "
        f"images shaped like the dataset's (no download; default {SMOKE_EPOCHS} epochs)",
    )
    return p


SMOKE_BATCHES = 3  # --smoke: global batches per epoch
SMOKE_EPOCHS = 2
SMOKE_TEST_IMAGES = 256


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        context = distributed.init()  # None under plain python
    except distributed.LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return _train(args, context)
    except distributed.LaunchError as exc:
        if distributed.is_main():
            print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        distributed.destroy()


def _train(args: argparse.Namespace, context: distributed.Context | None) -> int:
    """Train as the arguments say, in this process (one of several under torchrun)."""
    prof = profile(args.profile if args.profile is not None or not args.smoke else "full")
    if args.epochs is not None:
        epochs = args.epochs
    else:
        epochs = SMOKE_EPOCHS if args.smoke else budget(args.data, prof)
    recipe = {**RECIPE_DEFAULTS[args.data]}
    recipe.update(
        {k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr)) if v is not None}
    )
    dev = device() if context is None else context.device
    main = distributed.is_main()
    say = print if main else (lambda *a, **k: None)  # only rank 0 prints
    say(
        f"model={args.model} data={args.data} device={dev.type} profile={prof} "
        f"budget={epochs} epochs batch_size={recipe['batch_size']} lr={recipe['lr']}",
        flush=True,
    )
    processes = distributed.world_size()
    if context is not None:
        say(
            f"distributed: {processes} processes ({context.backend}), batch_size="
            f"{recipe['batch_size']} per process, global batch={recipe['batch_size'] * processes}",
            flush=True,
        )
    synthetic = None
    if args.smoke:
        from ..datasets import synthetic as make_synthetic

        n_train = SMOKE_BATCHES * recipe["batch_size"] * processes
        synthetic = make_synthetic(args.data, n_train, SMOKE_TEST_IMAGES, seed=args.seed)
        say(
            f"smoke test: random {args.data}-shaped images ({n_train} train, "
            f"{SMOKE_TEST_IMAGES} test), the {prof} profile's recipe, {epochs} epochs",
            flush=True,
        )
    seed_everything(args.seed)
    model = build_model(args.model, args.data)  # the same initial weights in every process
    if context is not None:
        seed_everything(args.seed + context.rank)  # but each process its own augmentations
    out = Path(args.out)
    stem = f"{args.model}_{args.data}"
    try:
        history, scores = train_classifier(
            model,
            args.data,
            epochs=epochs,
            batch_size=recipe["batch_size"],
            lr=recipe["lr"],
            weight_decay=args.weight_decay,
            seed=args.seed,
            augment=not args.no_augment,
            num_workers=args.workers,
            device=dev,
            checkpoint=out / f"{stem}_last.pt",
            resume=args.resume,
            progress=args.progress,
            live_plot=False,
            data=synthetic,
        )
    except DataUnavailable as exc:  # downloads can fail: one clear line, not a traceback
        if main:
            print(f"error: could not load dataset {args.data!r}: {exc}", file=sys.stderr)
        return 1
    if not main:
        return 0  # rank 0 writes the files and scores the test set
    save_checkpoint(
        out / f"{stem}.pt",
        {
            "model": model.state_dict(),
            "model_name": args.model,
            "dataset": args.data,
            "epochs": epochs,
            "test_accuracy": scores["accuracy"],
            "test_loss": scores["loss"],
        },
    )
    history.save(out / f"{stem}_history.json")
    print(f"wrote {out / (stem + '.pt')} and {out / (stem + '_history.json')}")
    print(f"test_accuracy={scores['accuracy']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
