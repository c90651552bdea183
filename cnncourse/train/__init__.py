"""Device and profile selection, seeding, and the training loop of chapter 6.

The course runs the same code everywhere; only the *budget* changes with the profile:

- ``quick``: CPU-sized budgets (what CI and a laptop run),
- ``full``: GPU-sized budgets,
- ``auto`` (default): ``full`` when CUDA is available, else ``quick``.

Set the profile with the environment variable ``CNNCOURSE_PROFILE``; the budgets live in
:data:`BUDGETS` (read them with :func:`budget`).

Where things are (``from cnncourse import train`` gives every name below)
------------------------------------------------------------------------
- ``profiles.py``: :func:`device` (CUDA, MPS, CPU), :func:`profile`, :data:`BUDGETS`,
  :func:`budget`, :func:`seed_everything`, :func:`select_amp` (mixed precision on CUDA).
- ``loop.py``: :func:`fit` trains a model and returns a :class:`History` (per-epoch loss,
  accuracy, learning rate, time, throughput), with a ``tqdm.auto`` bar per epoch and, in a
  notebook, a live loss/accuracy plot; :func:`evaluate` and :func:`predict` score a model on a
  loader; :func:`format_epoch`.
- ``epoch.py``: :func:`train_one_epoch` (the inner loop: forward, loss, backward, step) and its
  :class:`StepSettings` (device, mixed precision, loss scaling, gradient clipping).
- ``callbacks.py``: :class:`Callback`, :class:`EarlyStopping`, :class:`BestCheckpoint`,
  :class:`TrainState`.
- ``checkpoint.py``: :func:`save_checkpoint`, :func:`load_checkpoint` (atomic, SHA-256
  sidecar); the random states and the ``pack_state``/``restore_state`` pair behind
  ``fit(..., checkpoint=path, resume=True)``, which continues an interrupted run and ends with
  the same weights as an uninterrupted one (same seed, CPU).
- ``history.py``: :class:`History`, :class:`LivePlot` (drawing: :func:`cnncourse.viz.plot_history`).
- ``recipe.py``: :func:`train_classifier` (the course's SGD + one-cycle recipe),
  :data:`RECIPE_DEFAULTS`, :data:`CLI_MODELS`, :func:`build_model`, :func:`load_trained`.
- ``losses.py``: :func:`smoothed_cross_entropy` and :func:`smoothed_targets` (label smoothing).
- ``normalization.py``: :func:`batch_norm2d`, one training-mode step of ``nn.BatchNorm2d`` by hand.
- ``distributed.py``: training in several processes under ``torchrun`` (DistributedDataParallel):
  :func:`~cnncourse.train.distributed.init`, the sharded loader, all-reduced metrics; the
  command lines for one and several machines.
- ``__main__.py``: the command line.

Command line
------------
``python -m cnncourse.train MODEL --data DATASET --epochs N [--profile P] [--out DIR]`` trains,
prints one line per epoch and ends with ``test_accuracy=<float>``; it writes a checkpoint and a
JSON history into ``--out``. ``torchrun --nproc_per_node=N -m cnncourse.train ...`` runs it in N
processes (see :mod:`cnncourse.train.distributed`); ``--smoke`` runs the full profile's recipe for
a few batches on random images (no GPU, no download).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import distributed
from .callbacks import BestCheckpoint, Callback, EarlyStopping, TrainState
from .checkpoint import load_checkpoint, save_checkpoint
from .epoch import StepSettings, train_one_epoch
from .history import History, LivePlot
from .loop import evaluate, fit, format_epoch, predict
from .losses import smoothed_cross_entropy, smoothed_targets
from .normalization import BatchNormResult, batch_norm2d
from .profiles import BUDGETS, PROFILES, budget, device, profile, seed_everything, select_amp
from .recipe import CLI_MODELS, RECIPE_DEFAULTS, build_model, load_trained, train_classifier


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``python -m cnncourse.train``, ``cnncourse-train``); returns its exit
    status. See :mod:`cnncourse.train.__main__`."""
    # Imported here: importing __main__ with the package would make `python -m` warn.
    from .__main__ import main as cli_main

    return cli_main(argv)


__all__ = [
    "BUDGETS",
    "CLI_MODELS",
    "PROFILES",
    "RECIPE_DEFAULTS",
    "BatchNormResult",
    "BestCheckpoint",
    "Callback",
    "EarlyStopping",
    "History",
    "LivePlot",
    "StepSettings",
    "TrainState",
    "batch_norm2d",
    "budget",
    "distributed",
    "build_model",
    "device",
    "evaluate",
    "fit",
    "format_epoch",
    "load_checkpoint",
    "load_trained",
    "main",
    "predict",
    "profile",
    "save_checkpoint",
    "seed_everything",
    "select_amp",
    "smoothed_cross_entropy",
    "smoothed_targets",
    "train_classifier",
    "train_one_epoch",
]
