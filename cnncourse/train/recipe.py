"""The course's training recipe, shared by chapter 6 and the command line.

- :data:`RECIPE_DEFAULTS`: batch size and peak learning rate per dataset.
- :func:`train_classifier`: dataset by name, SGD + Nesterov + one-cycle, :func:`fit`, test score.
- :data:`CLI_MODELS`, :func:`build_model`: the models the CLI trains, sized for a dataset.
- :func:`load_trained`: rebuild a model the CLI saved.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from .._validate import (
    check_bool,
    check_choice,
    check_int,
    check_nonnegative_float,
    check_positive_float,
)
from . import distributed
from .checkpoint import load_checkpoint
from .history import History
from .loop import evaluate, fit

# The course recipe's defaults per dataset: batch size and peak learning rate of SGD + one-cycle.
RECIPE_DEFAULTS: dict[str, dict[str, float]] = {
    "mnist_bundled": {"batch_size": 64, "lr": 0.05},
    "mnist": {"batch_size": 64, "lr": 0.05},
    "fashion_mnist": {"batch_size": 64, "lr": 0.05},
    "cifar10": {"batch_size": 128, "lr": 0.1},
}


class DataUnavailable(RuntimeError):
    """A dataset could not be loaded (e.g. offline); the CLI reports it in one line."""


def train_classifier(
    model: nn.Module,
    data_name: str,
    *,
    epochs: int,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float = 5e-4,
    seed: int = 0,
    augment: bool = True,
    num_workers: int = 0,
    data: tuple | None = None,
    **fit_kwargs: Any,
) -> tuple[History, dict[str, float] | None]:
    """The course's recipe: a dataset by name, SGD with Nesterov momentum, one-cycle, test score.

    Steps: load the train/test sets (:func:`cnncourse.datasets.load`, with the dataset's
    :func:`~cnncourse.datasets.default_augmentation`), a shuffling loader seeded with ``seed``,
    ``SGD(lr, momentum=0.9, nesterov=True, weight_decay)``, ``OneCycleLR(max_lr=lr)`` stepped
    per batch, :func:`~cnncourse.train.fit`, then :func:`~cnncourse.train.evaluate` on the test
    set once. The CLI and chapter 6 both run this function. Call
    :func:`~cnncourse.train.seed_everything` before building ``model``.

    Under ``torchrun`` each process trains on its shard
    (:func:`cnncourse.train.distributed.make_loader`; ``batch_size`` is per process) and rank 0
    alone scores the whole test set; the other processes get ``None`` as test scores.

    Parameters
    ----------
    model : nn.Module
        Takes the dataset's images (N, C, H, W) and returns logits (N, 10).
    data_name : str
        One of :data:`cnncourse.datasets.DATASET_NAMES`.
    epochs : int
        >= 1.
    batch_size : int, optional
        >= 1; ``None`` (only ``None``): :data:`RECIPE_DEFAULTS` for the dataset.
    lr : float, optional
        Peak learning rate, > 0; ``None`` (only ``None``): :data:`RECIPE_DEFAULTS`.
    weight_decay : float
        >= 0.
    seed : int
        Seed of the loader's shuffling generator (>= 0).
    augment : bool
        Use the dataset's default augmentation.
    num_workers : int
        DataLoader worker processes (>= 0).
    data : (Dataset, Dataset), optional
        Train and test sets to use instead of loading ``data_name`` (e.g.
        :func:`cnncourse.datasets.synthetic` for a smoke test); the training set gets
        ``data_name``'s augmentation.
    **fit_kwargs
        Passed to :func:`~cnncourse.train.fit` (``device``, ``checkpoint``, ``resume``,
        ``progress``, ...).

    Returns
    -------
    history : History
    test_scores : dict or None
        ``loss``, ``accuracy`` and ``n`` on the test set (``None`` on ranks other than 0).
    """
    from .. import datasets

    check_choice("data_name", data_name, datasets.DATASET_NAMES)
    epochs = check_int("epochs", epochs, minimum=1)
    defaults = RECIPE_DEFAULTS[data_name]
    # Only None means "the dataset's default": batch_size=0 or lr=0 is an error, not a default.
    batch_size = defaults["batch_size"] if batch_size is None else batch_size
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_positive_float("lr", defaults["lr"] if lr is None else lr)
    weight_decay = check_nonnegative_float("weight_decay", weight_decay)
    seed = check_int("seed", seed, minimum=0)
    augment = check_bool("augment", augment)
    num_workers = check_int("num_workers", num_workers, minimum=0)
    augmentation = datasets.default_augmentation(data_name) if augment else None
    if data is not None:
        train_set, test_set = data
        train_set.transform = augmentation
    else:
        try:
            train_set, test_set = datasets.load(data_name, train_transform=augmentation)
        except (OSError, RuntimeError) as exc:
            raise DataUnavailable(str(exc)) from exc
    if distributed.active():  # under torchrun: this process's shard, reshuffled every epoch
        train_loader = distributed.make_loader(
            train_set, batch_size, seed=seed, num_workers=num_workers
        )
    else:
        train_loader = datasets.make_loader(
            train_set, batch_size, shuffle=True, seed=seed, num_workers=num_workers
        )
    test_loader = datasets.make_loader(test_set, 512, num_workers=num_workers)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(train_loader)
    )
    history = fit(
        model, train_loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, **fit_kwargs
    )
    # The test set is scored once, whole, by one process.
    return history, evaluate(model, test_loader) if distributed.is_main() else None


# Models the CLI can train: name -> constructor name in cnncourse.models (imported lazily).
CLI_MODELS = ("lenet5", "lenet5_modern", "lenet5_modern_bn", "resnet20", "resnet32", "resnet56")


def build_model(name: str, dataset: str) -> nn.Module:
    """A model from :mod:`cnncourse.models` sized for a dataset's channels and classes.

    ``'lenet5_modern_bn'`` is ``lenet5_modern(batch_norm=True)``. ``'lenet5'`` (the 1998 layout)
    expects 32x32 inputs, so on 28x28 digits the CLI pads them by 2 pixels.
    """
    from .. import models
    from ..datasets import CLASS_NAMES, STATS

    check_choice("name", name, CLI_MODELS)
    channels, classes = len(STATS[dataset][0]), len(CLASS_NAMES[dataset])
    if name == "lenet5_modern_bn":
        return models.lenet5_modern(num_classes=classes, in_channels=channels, batch_norm=True)
    if name == "lenet5":
        return nn.Sequential(
            nn.ZeroPad2d(2) if dataset != "cifar10" else nn.Identity(),
            models.lenet5(num_classes=classes, in_channels=channels),
        )
    return getattr(models, name)(num_classes=classes, in_channels=channels)


def load_trained(path: str | os.PathLike, map_location: Any = "cpu") -> nn.Module:
    """Rebuild and load a model saved by the CLI (``<out>/<model>_<dataset>.pt``), in eval mode."""
    saved = load_checkpoint(path, map_location=map_location)
    model = build_model(saved["model_name"], saved["dataset"])
    model.load_state_dict(saved["model"])
    return model.eval()
