"""Device and profile selection, seeding, and the training loop of chapter 6.

The course runs the same code everywhere; only the *budget* changes with the profile:

- ``quick``: CPU-sized budgets (what CI and a laptop run),
- ``full``: GPU-sized budgets,
- ``auto`` (default): ``full`` when CUDA is available, else ``quick``.

Set the profile with the environment variable ``CNNCOURSE_PROFILE``; the budgets live in
:data:`BUDGETS` (read them with :func:`budget`).

Training
--------
- :func:`fit` trains a model and returns a :class:`History` (per-epoch loss, accuracy, learning
  rate, time, throughput). It shows a ``tqdm.auto`` bar per epoch and, in a notebook, a loss and
  accuracy plot that updates in place. On CUDA it uses automatic mixed precision and the
  ``channels_last`` memory format (see :func:`select_amp`); on CPU/MPS plain float32.
- Callbacks: :class:`EarlyStopping`, :class:`BestCheckpoint`.
- Checkpoints (:func:`save_checkpoint`, :func:`load_checkpoint`) are written atomically with a
  SHA-256 sidecar; ``fit(..., checkpoint=path, resume=True)`` continues an interrupted run and
  ends with the same weights as an uninterrupted one (same seed, CPU).
- :func:`evaluate` and :func:`predict` score a model on a loader.

Command line
------------
``python -m cnncourse.train MODEL --data DATASET --epochs N [--profile P] [--out DIR]`` trains,
prints one line per epoch and ends with ``test_accuracy=<float>``; it writes a checkpoint and a
JSON history into ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_choice, check_int

PROFILES = ("quick", "full", "auto")

# The one place where a profile turns into a training budget (epochs). Chapter 6 and the CLI
# read it through budget(); training cells print the entry they use. 'quick' is sized for CI on
# 2 CPU cores, 'full' for a GPU (and downloaded data).
BUDGETS: dict[str, dict[str, int]] = {
    "quick": {
        "mnist_bundled": 20,  # LeNet-5 on the 8,000 bundled digits: the chapter's real run
        "mnist": 3,
        "fashion_mnist": 3,
        "cifar10": 3,
        "optimizers": 3,  # chapter 6 side experiments, small on purpose
        "overfitting": 40,
        "transfer_pretrain": 3,
        "transfer_finetune": 30,
    },
    "full": {
        "mnist_bundled": 30,
        "mnist": 15,  # full MNIST, 60,000 training digits
        "fashion_mnist": 30,
        "cifar10": 60,  # ResNet-20 on CIFAR-10 with a one-cycle schedule
        "optimizers": 10,
        "overfitting": 100,
        "transfer_pretrain": 10,
        "transfer_finetune": 60,
    },
}


def device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def profile(name: str | None = None) -> str:
    """Resolve the budget profile to ``'quick'`` or ``'full'``.

    Parameters
    ----------
    name : str, optional
        ``'quick'``, ``'full'`` or ``'auto'``. Defaults to ``$CNNCOURSE_PROFILE``, else ``'auto'``.

    Returns
    -------
    str
        ``'quick'`` or ``'full'``; ``'auto'`` resolves to ``'full'`` only when CUDA is available.
    """
    source = "profile"
    if name is None:
        name, source = os.environ.get("CNNCOURSE_PROFILE", "auto"), "CNNCOURSE_PROFILE"
    value = str(name).strip().lower()
    if value not in PROFILES:
        raise ValueError(f"{source} must be one of {', '.join(PROFILES)}; got {name!r}")
    if value == "auto":
        return "full" if torch.cuda.is_available() else "quick"
    return value


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so runs repeat exactly on CPU."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global generator is what we seed
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


_best_device = device  # fit() and evaluate() take a `device` argument that shadows the function


def budget(key: str, profile_name: str | None = None) -> int:
    """Epoch budget ``BUDGETS[profile(profile_name)][key]``.

    Parameters
    ----------
    key : str
        A dataset name (``'mnist_bundled'``, ``'mnist'``, ``'fashion_mnist'``, ``'cifar10'``) or
        a chapter-6 experiment (``'optimizers'``, ``'overfitting'``, ``'transfer_pretrain'``,
        ``'transfer_finetune'``).
    profile_name : str, optional
        As in :func:`profile` (default: the environment's profile).
    """
    budgets = BUDGETS[profile(profile_name)]
    check_choice("key", key, tuple(budgets))
    return budgets[key]


# --------------------------------------------------------------------------- mixed precision


def select_amp(
    device: torch.device | str,
    amp: bool | None = None,
    channels_last: bool | None = None,
    bf16_supported: bool | None = None,
) -> dict[str, Any]:
    """Decide mixed precision and memory format for a device.

    Parameters
    ----------
    device : torch.device or str
    amp : bool, optional
        ``None`` (default): on for CUDA, off elsewhere. ``True`` on a non-CUDA device is an error
        (CPU autocast exists but is slower than float32 for these small models).
    channels_last : bool, optional
        ``None`` (default): on for CUDA (tensor cores want NHWC), off elsewhere; ``True`` or
        ``False`` is honoured on any device.
    bf16_supported : bool, optional
        Whether the GPU has bfloat16 (default: ask ``torch.cuda.is_bf16_supported()``). Only
        consulted when AMP is on; exposed so the choice can be tested without a GPU.

    Returns
    -------
    dict with ``amp`` (bool), ``dtype`` (``torch.bfloat16``, ``torch.float16`` or ``None``),
    ``grad_scaler`` (bool: float16 needs loss scaling, bfloat16 does not) and ``channels_last``.
    """
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    for name, value in (("amp", amp), ("channels_last", channels_last)):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"{name} must be True, False or None, got {value!r}")
    if amp is None:
        amp = cuda
    elif amp and not cuda:
        raise ValueError(f"amp=True needs a CUDA device, got device={dev.type!r}; use amp=None")
    if channels_last is None:
        channels_last = cuda
    dtype = None
    if amp:
        if bf16_supported is None:
            bf16_supported = bool(torch.cuda.is_bf16_supported())
        dtype = torch.bfloat16 if bf16_supported else torch.float16
    return {
        "amp": amp,
        "dtype": dtype,
        "grad_scaler": dtype == torch.float16,
        "channels_last": channels_last,
    }


# --------------------------------------------------------------------------- history


class History:
    """Per-epoch records of a training run.

    Each row is a dict with ``epoch`` (1-based), ``train_loss``, ``train_accuracy``, ``val_loss``,
    ``val_accuracy`` (``None`` without a validation loader), ``lr`` (learning rate of the epoch's
    last step), ``time`` (seconds: training + validation) and ``throughput`` (training samples
    per second). ``history['val_loss']`` gives one column as a list.
    """

    KEYS = (
        "epoch",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
        "lr",
        "time",
        "throughput",
    )

    def __init__(self, rows: Sequence[dict] | None = None, batch_loss: Sequence[float] = ()):
        self.rows: list[dict] = [dict(r) for r in rows] if rows else []
        self.batch_loss: list[float] = list(batch_loss)  # filled by fit(record_batch_loss=True)

    def append(self, row: dict) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> list:
        if not self.rows or key not in self.rows[0]:
            known = list(self.rows[0]) if self.rows else list(self.KEYS)
            raise KeyError(f"history has no column {key!r}; columns: {known}")
        return [r[key] for r in self.rows]

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> dict:
        """The row with the best ``monitor`` value (min for losses, max otherwise)."""
        mode = _resolve_mode(monitor, mode)
        values = [(v, i) for i, v in enumerate(self[monitor]) if v is not None]
        if not values:
            raise ValueError(f"monitor {monitor!r} has no values in this history")
        # Ties go to the earliest epoch.
        best = min(values, key=lambda t: (t[0] if mode == "min" else -t[0], t[1]))
        return self.rows[best[1]]

    def to_dict(self) -> dict:
        return {"rows": self.rows, "batch_loss": self.batch_loss}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the history as JSON (atomically)."""
        text = json.dumps(self.to_dict(), indent=1)
        return _atomic_write(path, lambda f: f.write(text.encode()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        with open(path) as f:
            saved = json.load(f)
        return cls(saved["rows"], saved.get("batch_loss", []))

    def plot(self, axes=None, title: str | None = None):
        """Loss and accuracy curves (train and validation) on two side-by-side axes.

        Parameters
        ----------
        axes : pair of matplotlib Axes, optional
            Default: a new 8 x 3 inch figure.
        title : str, optional
            Figure title.

        Returns
        -------
        the two Axes (loss, accuracy)
        """
        import matplotlib.pyplot as plt

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=80)
        _draw_history(self, axes, title)
        return axes

    def __repr__(self) -> str:
        if not self.rows:
            return "History(0 epochs)"
        last = self.rows[-1]
        parts = [f"{k}={_fmt(last[k])}" for k in self.KEYS[1:5] if last.get(k) is not None]
        return f"History({len(self.rows)} epochs; last: {', '.join(parts)})"


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _draw_history(history: History, axes, title: str | None = None, total_epochs=None) -> None:
    ax_loss, ax_acc = axes
    for ax in axes:
        ax.clear()
    epochs = history["epoch"] if len(history) else []
    for split, style in (("train", "-o"), ("val", "-s")):
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            key = f"{split}_{metric}"
            if len(history) and key in history.rows[0]:
                values = history[key]
                pts = [(e, v) for e, v in zip(epochs, values, strict=True) if v is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style, ms=3, label=split)
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        if total_epochs:
            ax.set_xlim(0.5, total_epochs + 0.5)
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
    ax_loss.set_ylabel("cross-entropy")
    ax_acc.set_ylabel("fraction correct")
    if title:
        ax_loss.figure.suptitle(title)
    ax_loss.figure.tight_layout()


# --------------------------------------------------------------------------- checkpoints


def _atomic_write(path: str | os.PathLike, write: Callable[[Any], Any]) -> Path:
    """Write through ``write(file)`` into a temporary file, then rename it over ``path``.

    ``os.replace`` is atomic on POSIX and Windows: readers see the old file or the new one,
    never half of one, even if the process dies mid-write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Save ``state`` with ``torch.save``, atomically, plus a ``<path>.sha256`` sidecar.

    The sidecar uses the ``sha256sum`` format (``<hex>  <name>``), so ``sha256sum -c`` checks
    it too. :func:`load_checkpoint` refuses a file whose hash does not match.
    """
    from .data import sha256_file

    path = Path(path)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    _atomic_write(path, lambda f: f.write(buffer.getbuffer()))
    digest = sha256_file(path)
    _atomic_write(_sidecar(path), lambda f: f.write(f"{digest}  {path.name}\n".encode()))
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`, verifying its SHA-256 first.

    Raises
    ------
    FileNotFoundError
        If the checkpoint or its ``.sha256`` sidecar is missing.
    cnncourse.data.ChecksumError
        If the file does not match its sidecar (corrupt, truncated or edited).
    """
    from .data import ChecksumError, sha256_file

    path = Path(path)
    side = _sidecar(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if not side.exists():
        raise FileNotFoundError(f"checkpoint {path} has no SHA-256 sidecar {side.name}")
    expected = side.read_text().split()[0]
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"checkpoint {path} has SHA-256 {actual}, but {side.name} says {expected}: the file "
            "is corrupt or was changed (or a save was interrupted between the two files). "
            "Delete both to start over."
        )
    # weights_only: only tensors and plain containers are unpickled (no arbitrary code).
    return torch.load(path, map_location=map_location, weights_only=True)


def _loader_generators(loader) -> list[torch.Generator]:
    """The torch.Generators that decide a DataLoader's shuffling (deduplicated)."""
    found = []
    for owner in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        g = getattr(owner, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not h for h in found):
            found.append(g)
    sampler = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
    g = getattr(sampler, "generator", None)
    if isinstance(g, torch.Generator) and all(g is not h for h in found):
        found.append(g)
    return found


def _rng_state(loader) -> dict:
    np_state = np.random.get_state()  # noqa: NPY002 - the global generator seed_everything seeds
    return {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": [g.get_state() for g in _loader_generators(loader)],
    }


def _set_rng_state(state: dict, loader) -> None:
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            "MT19937",
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generators = _loader_generators(loader)
    if len(generators) != len(state["loader"]):
        raise ValueError(
            f"train_loader has {len(generators)} random generator(s) but the checkpoint saved "
            f"{len(state['loader'])}; resume with a loader built the same way"
        )
    for g, s in zip(generators, state["loader"], strict=True):
        g.set_state(s)


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


# --------------------------------------------------------------------------- callbacks


def _resolve_mode(monitor: str, mode: str) -> str:
    check_choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        return "min" if "loss" in monitor else "max"
    return mode


class Callback:
    """Base class: :func:`fit` calls ``on_epoch_end(state)`` after every epoch and
    ``on_train_end(state)`` once at the end. ``state`` is a :class:`TrainState`; set
    ``state.stop = True`` to end training. Callbacks with a ``state_dict`` are saved in
    checkpoints so that a resumed run continues their bookkeeping."""

    def on_epoch_end(self, state: TrainState) -> None:  # pragma: no cover - interface
        pass

    def on_train_end(self, state: TrainState) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class _Monitor(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float):
        self.monitor = str(monitor)
        self.mode = _resolve_mode(self.monitor, mode)
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None

    def _value(self, state: TrainState) -> float:
        row = state.history.rows[-1]
        value = row.get(self.monitor)
        if value is None:
            raise ValueError(
                f"monitor {self.monitor!r} is not recorded; available: "
                f"{[k for k, v in row.items() if v is not None]} (val_* needs a val_loader)"
            )
        return float(value)

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A history column, e.g. ``'val_loss'`` (default) or ``'val_accuracy'``.
    patience : int
        Epochs without improvement to tolerate (>= 1).
    min_delta : float
        Smallest change that counts as an improvement.
    mode : {'auto', 'min', 'max'}
        ``'auto'``: minimise losses, maximise anything else.
    restore_best : bool
        At the end, load the weights of the best epoch back into the model.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = True,
    ):
        super().__init__(monitor, mode, min_delta)
        self.patience = check_int("patience", patience, minimum=1)
        self.restore_best = bool(restore_best)
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_weights: dict | None = None

    def on_epoch_end(self, state: TrainState) -> None:
        value = self._value(state)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                self._best_weights = copy.deepcopy(state.model.state_dict())
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = state.epoch
                state.stop = True

    def on_train_end(self, state: TrainState) -> None:
        if self.restore_best and self._best_weights is not None:
            state.model.load_state_dict(self._best_weights)

    def state_dict(self) -> dict:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.stopped_epoch = state["wait"], state["stopped_epoch"]
        self._best_weights = state["best_weights"]

    def __repr__(self) -> str:
        return f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, best_epoch={self.best_epoch})"


class BestCheckpoint(_Monitor):
    """Save the model's weights whenever ``monitor`` improves (atomic, with SHA-256 sidecar).

    The file holds ``{'model': state_dict, 'epoch': int, monitor: value}``; read it with
    :func:`load_checkpoint`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        min_delta: float = 0.0,
    ):
        super().__init__(monitor, mode, min_delta)
        self.path = Path(path)

    def on_epoch_end(self, state: TrainState) -> None:
        value = self._value(state)
        if self._improved(value):
            self.best, self.best_epoch = value, state.epoch
            save_checkpoint(
                self.path,
                {"model": state.model.state_dict(), "epoch": state.epoch, self.monitor: value},
            )

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]


class TrainState:
    """What callbacks see: the model, optimizer, scheduler, history, current epoch and ``stop``."""

    def __init__(self, model, optimizer, scheduler, history, epochs):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.history, self.epochs = history, epochs
        self.epoch = 0
        self.stop = False


# --------------------------------------------------------------------------- live plot


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is installed with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LivePlot:
    """A loss/accuracy figure shown once and replaced in place after every epoch.

    It renders a PNG with matplotlib's Agg canvas (no pyplot figure, so nothing else gets
    displayed) and updates an ``IPython.display`` handle with a fixed ``display_id``.
    """

    def __init__(self, title: str | None = None, total_epochs: int | None = None, dpi: int = 72):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(8, 2.8), dpi=dpi)
        FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(1, 2)
        self.title = title
        self.total_epochs = total_epochs
        self.handle = None

    def png(self, history: History) -> bytes:
        _draw_history(history, self.axes, self.title, self.total_epochs)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def update(self, history: History) -> None:
        from IPython.display import Image, display

        image = Image(data=self.png(history), format="png")
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)


# --------------------------------------------------------------------------- the loop


def _to_device(batch, dev: torch.device, channels_last: bool):
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise ValueError(
            "every batch must be a pair (inputs, targets); got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}"
        )
    x, y = batch
    x = x.to(dev, non_blocking=True)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(dev, non_blocking=True)


def _is_classification(out: torch.Tensor, y: torch.Tensor) -> bool:
    return out.ndim == 2 and y.ndim == 1 and not y.is_floating_point()


def _scheduler_interval(scheduler, interval: str) -> str:
    check_choice("scheduler_interval", interval, ("auto", "batch", "epoch"))
    if interval != "auto":
        return interval
    per_batch = (torch.optim.lr_scheduler.OneCycleLR, torch.optim.lr_scheduler.CyclicLR)
    return "batch" if isinstance(scheduler, per_batch) else "epoch"


def _current_lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _check_loader(name: str, loader) -> None:
    if not hasattr(loader, "__iter__") or not hasattr(loader, "__len__"):
        raise TypeError(f"{name} must be an iterable with a length (a DataLoader), got {loader!r}")
    if len(loader) == 0:
        raise ValueError(f"{name} has no batches (empty dataset, or drop_last with a big batch)")


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    loss_fn: Callable | None = None,
    device: torch.device | str | None = None,
    amp: bool | None = None,
) -> dict[str, float]:
    """Average loss and accuracy of ``model`` on every batch of ``loader``, in eval mode.

    Parameters
    ----------
    model : nn.Module
        Maps inputs (N, ...) to logits (N, C). Its train/eval mode is restored afterwards.
    loader : iterable of (inputs, targets)
        E.g. a ``DataLoader``; targets are class indices (N,).
    loss_fn : callable, optional
        Mean-reduced loss ``loss_fn(logits, targets)``; default cross-entropy.
    device : optional
        Default: the device of the model's first parameter.
    amp : bool, optional
        As in :func:`select_amp`.

    Returns
    -------
    dict with ``loss`` (mean per sample), ``accuracy`` (``None`` for non-classification
    outputs) and ``n`` (number of samples).
    """
    _check_loader("loader", loader)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    dev = _model_device(model) if device is None else torch.device(device)
    settings = select_amp(dev, amp, channels_last=False)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    n, classification = 0, True
    try:
        for batch in loader:
            x, y = _to_device(batch, dev, False)
            with torch.autocast(dev.type, dtype=settings["dtype"], enabled=settings["amp"]):
                out = model(x)
                loss = loss_fn(out, y)
            loss_sum += loss.double() * len(y)
            classification = classification and _is_classification(out, y)
            if classification:
                correct += (out.argmax(1) == y).sum()
            n += len(y)
    finally:
        model.train(was_training)
    return {
        "loss": float(loss_sum) / n,
        "accuracy": float(correct) / n if classification else None,
        "n": n,
    }


@torch.no_grad()
def predict(
    model: nn.Module,
    data,
    device: torch.device | str | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Outputs (logits) of ``model`` for every input, in eval mode, on the CPU.

    Parameters
    ----------
    model : nn.Module
    data : DataLoader, Dataset or Tensor
        Batches ``(inputs, targets)`` or ``inputs``; a Dataset of ``(input, target)`` items; or
        one tensor of inputs (N, ...).
    device : optional
        Default: the model's device.
    batch_size : int
        Batch size used for a Dataset or Tensor.

    Returns
    -------
    Tensor of shape (N, C): the model's outputs (apply ``softmax(dim=1)`` for probabilities,
    ``argmax(1)`` for classes).
    """
    from torch.utils.data import DataLoader, Dataset

    batch_size = check_int("batch_size", batch_size, minimum=1)
    dev = _model_device(model) if device is None else torch.device(device)
    if isinstance(data, torch.Tensor):
        batches = (data[i : i + batch_size] for i in range(0, len(data), batch_size))
    elif isinstance(data, Dataset):
        batches = DataLoader(data, batch_size=batch_size)
    elif hasattr(data, "__iter__"):
        batches = data
    else:
        raise TypeError(f"data must be a DataLoader, Dataset or Tensor, got {type(data).__name__}")
    was_training = model.training
    model.eval()
    outputs = []
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            outputs.append(model(x.to(dev)).float().cpu())
    finally:
        model.train(was_training)
    if not outputs:
        raise ValueError("data holds no samples")
    return torch.cat(outputs)


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _epoch_bar(bar, total: int, epoch: int, epochs: int):
    """One tqdm bar, restarted every epoch (a notebook keeps one widget, not one per epoch)."""
    from tqdm.auto import tqdm

    if bar is None:
        bar = tqdm(total=total, unit="batch", dynamic_ncols=True)
    else:
        bar.reset(total=total)
    bar.set_description(f"epoch {epoch}/{epochs}", refresh=False)
    return bar


def _train_one_epoch(
    model,
    loader,
    optimizer,
    batch_scheduler,
    loss_fn,
    dev,
    settings,
    scaler,
    grad_clip,
    bar,
    batch_losses,
) -> dict:
    """One pass over ``loader``; returns train_loss, train_accuracy, lr and samples."""
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    seen, classification, lr = 0, True, _current_lr(optimizer)
    for batch in loader:
        x, y = _to_device(batch, dev, settings["channels_last"])
        with torch.autocast(dev.type, dtype=settings["dtype"], enabled=settings["amp"]):
            out = model(x)
            loss = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        lr = _current_lr(optimizer)  # the rate this step used (before the scheduler moves it)
        if batch_scheduler is not None:
            batch_scheduler.step()
        # Accumulate on the device: no .item() per batch, so a GPU never waits for the CPU.
        n = len(y)
        loss_sum += loss.detach().double() * n
        classification = classification and _is_classification(out, y)
        if classification:
            correct += (out.detach().argmax(1) == y).sum()
        seen += n
        if batch_losses is not None:
            batch_losses.append(float(loss.detach()))
        if bar is not None:
            bar.update()
    return {
        "train_loss": float(loss_sum) / seen,
        "train_accuracy": float(correct) / seen if classification else None,
        "lr": lr,
        "samples": seen,
    }


def fit(
    model: nn.Module,
    train_loader,
    val_loader=None,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler=None,
    loss_fn: Callable | None = None,
    device: torch.device | str | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    scheduler_interval: str = "auto",
    grad_clip: float | None = None,
    progress: bool = True,
    live_plot: bool | None = None,
    verbose: bool = True,
    title: str | None = None,
    record_batch_loss: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    Parameters
    ----------
    model : nn.Module
        Maps a batch of inputs (N, ...) to outputs, e.g. logits (N, C).
    train_loader : DataLoader
        Yields ``(inputs, targets)``. Give it a seeded ``generator`` (see
        :func:`cnncourse.datasets.make_loader`) for repeatable, resumable runs.
    val_loader : DataLoader, optional
        Scored with :func:`evaluate` after every epoch (``val_loss``, ``val_accuracy``).
    epochs : int
        Total number of epochs (>= 1), counting those done before a resume.
    optimizer : torch.optim.Optimizer, optional
        Default ``AdamW(lr=1e-3)``.
    scheduler : LR scheduler, optional
        Stepped after every batch (``OneCycleLR``, ``CyclicLR``) or every epoch (others;
        ``ReduceLROnPlateau`` gets the validation loss, else the training loss); override with
        ``scheduler_interval``.
    loss_fn : callable, optional
        Mean-reduced ``loss_fn(outputs, targets)``; default ``F.cross_entropy`` (takes logits).
    device : optional
        Default :func:`device` (CUDA, MPS, CPU). The model is moved there.
    amp, channels_last : bool, optional
        Mixed precision and NHWC memory format; default on for CUDA only (:func:`select_amp`).
    callbacks : sequence of Callback
        E.g. :class:`EarlyStopping`, :class:`BestCheckpoint`.
    checkpoint : path, optional
        Write the full training state here after every epoch (atomically, SHA-256 sidecar).
    resume : bool
        If ``checkpoint`` exists, restore model, optimizer, scheduler, callbacks, history and all
        random states from it and continue after its last epoch.
    scheduler_interval : {'auto', 'batch', 'epoch'}
    grad_clip : float, optional
        Clip the global gradient norm to this value.
    progress : bool
        Show a ``tqdm.auto`` progress bar per epoch.
    live_plot : bool, optional
        Update a loss/accuracy figure in place after every epoch; default: only in a notebook.
    verbose : bool
        Print one line per epoch.
    title : str, optional
        Title of the live plot.
    record_batch_loss : bool
        Also keep every batch's training loss in ``history.batch_loss`` (costs one
        device-to-host copy per batch).

    Returns
    -------
    History

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or infinite (usually: learning rate too high).
    """
    epochs = check_int("epochs", epochs, minimum=1)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_loader("train_loader", train_loader)
    if val_loader is not None:
        _check_loader("val_loader", val_loader)
    if grad_clip is not None and (
        isinstance(grad_clip, bool) or not isinstance(grad_clip, (int, float)) or grad_clip <= 0
    ):
        raise ValueError(f"grad_clip must be a number > 0 or None, got {grad_clip!r}")
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not hasattr(cb, "on_epoch_end"):
            raise TypeError(f"callbacks[{i}] must have an on_epoch_end method, got {cb!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path")

    dev = _best_device() if device is None else torch.device(device)
    settings = select_amp(dev, amp, channels_last)
    model.to(dev)
    if settings["channels_last"]:
        model.to(memory_format=torch.channels_last)
    if optimizer is None:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    interval = _scheduler_interval(scheduler, scheduler_interval)
    scaler = torch.amp.GradScaler(dev.type) if settings["grad_scaler"] else None
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    history = History()
    state = TrainState(model, optimizer, scheduler, history, epochs)
    start = 1
    if resume and Path(checkpoint).exists():
        saved = load_checkpoint(checkpoint, map_location=dev)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            if saved["scheduler"] is None:
                raise ValueError(
                    "the checkpoint was saved without a scheduler; pass scheduler=None"
                )
            scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        for cb, cb_state in zip(callbacks, saved["callbacks"], strict=False):
            if hasattr(cb, "load_state_dict") and cb_state is not None:
                cb.load_state_dict(cb_state)
        history.rows = [dict(r) for r in saved["history"]]
        history.batch_loss = list(saved.get("batch_loss", []))
        _set_rng_state(saved["rng"], train_loader)
        start = saved["epoch"] + 1
        state.epoch, state.stop = saved["epoch"], saved["stopped"]
        if verbose:
            print(f"resumed from {checkpoint} after epoch {saved['epoch']}")

    show_live = _in_notebook() if live_plot is None else bool(live_plot)
    plot = LivePlot(title, epochs) if show_live else None

    if plot is not None:
        plot.update(history)  # show the (empty or resumed) axes first, above the progress bar

    bar = None
    epoch = start
    try:
        while epoch <= epochs and not state.stop:
            state.epoch = epoch
            if progress:
                bar = _epoch_bar(bar, len(train_loader), epoch, epochs)
            t0 = time.perf_counter()
            stats = _train_one_epoch(
                model,
                train_loader,
                optimizer,
                scheduler if interval == "batch" else None,
                loss_fn,
                dev,
                settings,
                scaler,
                grad_clip,
                bar,
                history.batch_loss if record_batch_loss else None,
            )
            train_time = time.perf_counter() - t0
            if not math.isfinite(stats["train_loss"]):
                raise FloatingPointError(
                    f"the training loss became {stats['train_loss']} in epoch {epoch}; lower the "
                    f"learning rate (now {_current_lr(optimizer):.3g}) or clip gradients "
                    "(grad_clip=1.0)"
                )
            row = {
                "epoch": epoch,
                "train_loss": stats["train_loss"],
                "train_accuracy": stats["train_accuracy"],
                "val_loss": None,
                "val_accuracy": None,
                "lr": stats["lr"],
            }
            if val_loader is not None:
                scores = evaluate(model, val_loader, loss_fn, dev, settings["amp"])
                row["val_loss"], row["val_accuracy"] = scores["loss"], scores["accuracy"]
            if scheduler is not None and interval == "epoch":
                if plateau:
                    metric = row["val_loss"] if row["val_loss"] is not None else row["train_loss"]
                    scheduler.step(metric)
                else:
                    scheduler.step()
            row["time"] = time.perf_counter() - t0
            row["throughput"] = stats["samples"] / train_time
            history.append(row)
            for cb in callbacks:
                cb.on_epoch_end(state)
            if checkpoint is not None:
                save_checkpoint(
                    checkpoint,
                    {
                        "format": 1,
                        "epoch": epoch,
                        "stopped": state.stop,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "scaler": scaler.state_dict() if scaler is not None else None,
                        "callbacks": [
                            cb.state_dict() if hasattr(cb, "state_dict") else None
                            for cb in callbacks
                        ],
                        "history": history.rows,
                        "batch_loss": history.batch_loss,
                        "rng": _rng_state(train_loader),
                    },
                )
            if verbose:
                # tqdm.write keeps a terminal progress bar below the log lines.
                (bar.write if bar is not None else print)(format_epoch(row, epochs))
            if plot is not None:
                plot.update(history)
            epoch += 1
    finally:
        if bar is not None:
            bar.close()
    for cb in callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(state)
    return history


def format_epoch(row: dict, epochs: int | None = None) -> str:
    """One log line for a history row: ``epoch 3/12 train_loss=0.1234 ... time=1.9s``."""
    total = f"/{epochs}" if epochs else ""
    parts = [f"epoch {row['epoch']}{total}"]
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        if row.get(key) is not None:
            parts.append(f"{key}={row[key]:.4f}")
    parts.append(f"lr={row['lr']:.3g}")
    parts.append(f"time={row['time']:.1f}s")
    parts.append(f"throughput={row['throughput']:.0f}/s")
    return " ".join(parts)


# --------------------------------------------------------------------------- command line

# The course recipe's defaults per dataset: batch size and peak learning rate of SGD + one-cycle.
RECIPE_DEFAULTS: dict[str, dict[str, float]] = {
    "mnist_bundled": {"batch_size": 64, "lr": 0.05},
    "mnist": {"batch_size": 64, "lr": 0.05},
    "fashion_mnist": {"batch_size": 64, "lr": 0.05},
    "cifar10": {"batch_size": 128, "lr": 0.1},
}


class _DataUnavailable(RuntimeError):
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
    **fit_kwargs: Any,
) -> tuple[History, dict[str, float]]:
    """The course's recipe: a dataset by name, SGD with Nesterov momentum, one-cycle, test score.

    Steps: load the train/test sets (:func:`cnncourse.datasets.load`, with the dataset's
    :func:`~cnncourse.datasets.default_augmentation`), a shuffling loader seeded with ``seed``,
    ``SGD(lr, momentum=0.9, nesterov=True, weight_decay)``, ``OneCycleLR(max_lr=lr)`` stepped
    per batch, :func:`fit`, then :func:`evaluate` on the test set once. The CLI and chapter 6
    both run this function. Call :func:`seed_everything` before building ``model``.

    Parameters
    ----------
    model : nn.Module
        Takes the dataset's images (N, C, H, W) and returns logits (N, 10).
    data_name : str
        One of :data:`cnncourse.datasets.DATASET_NAMES`.
    epochs : int
    batch_size, lr : optional
        Default :data:`RECIPE_DEFAULTS` for the dataset.
    weight_decay : float
    seed : int
        Seed of the loader's shuffling generator.
    augment : bool
        Use the dataset's default augmentation.
    num_workers : int
        DataLoader worker processes.
    **fit_kwargs
        Passed to :func:`fit` (``device``, ``checkpoint``, ``resume``, ``progress``, ...).

    Returns
    -------
    history : History
    test_scores : dict
        ``loss``, ``accuracy`` and ``n`` on the test set.
    """
    from . import datasets

    check_choice("data_name", data_name, datasets.DATASET_NAMES)
    epochs = check_int("epochs", epochs, minimum=1)
    defaults = RECIPE_DEFAULTS[data_name]
    batch_size = check_int("batch_size", batch_size or defaults["batch_size"], minimum=1)
    lr = float(lr or defaults["lr"])
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a finite number > 0, got {lr}")
    if (
        isinstance(weight_decay, bool)
        or not isinstance(weight_decay, (int, float))
        or weight_decay < 0
    ):
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    augmentation = datasets.default_augmentation(data_name) if augment else None
    try:
        train_set, test_set = datasets.load(data_name, train_transform=augmentation)
    except (OSError, RuntimeError) as exc:
        raise _DataUnavailable(str(exc)) from exc
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
    return history, evaluate(model, test_loader)


# Models the CLI can train: name -> constructor name in cnncourse.models (imported lazily).
CLI_MODELS = ("lenet5", "lenet5_modern", "lenet5_modern_bn", "resnet20", "resnet32", "resnet56")


def build_model(name: str, dataset: str) -> nn.Module:
    """A model from :mod:`cnncourse.models` sized for a dataset's channels and classes.

    ``'lenet5_modern_bn'`` is ``lenet5_modern(batch_norm=True)``. ``'lenet5'`` (the 1998 layout)
    expects 32x32 inputs, so on 28x28 digits the CLI pads them by 2 pixels.
    """
    from . import models
    from .datasets import CLASS_NAMES, STATS

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


def _parser() -> argparse.ArgumentParser:
    from .datasets import DATASET_NAMES

    def positive_int(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
        return value

    def positive_float(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
        return value

    p = argparse.ArgumentParser(
        prog="python -m cnncourse.train",
        description="Train a cnncourse model with SGD + one-cycle and report its test accuracy.",
    )
    p.add_argument("model", choices=CLI_MODELS, help="model from cnncourse.models")
    p.add_argument("--data", required=True, choices=DATASET_NAMES, help="dataset")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="epochs (default: the profile's budget, see cnncourse.train.BUDGETS)",
    )
    p.add_argument("--profile", choices=PROFILES, default=None, help="budget profile")
    p.add_argument("--out", default="runs", help="output folder (default: runs)")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        help="default: 64 for 28x28, 128 for CIFAR-10",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help="peak learning rate of the one-cycle schedule (default: 0.05 for LeNets, 0.1 else)",
    )
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true", help="train without augmentation")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--progress", action="store_true", help="show a progress bar per epoch")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from <out>/<model>_<data>_last.pt if it exists (same arguments)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (see the module docstring); returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"argument --seed: must be >= 0, got {args.seed}")
    if args.workers < 0:
        parser.error(f"argument --workers: must be >= 0, got {args.workers}")
    if args.weight_decay < 0:
        parser.error(f"argument --weight-decay: must be >= 0, got {args.weight_decay}")
    prof = profile(args.profile)
    epochs = args.epochs if args.epochs is not None else budget(args.data, prof)
    recipe = {**RECIPE_DEFAULTS[args.data]}
    recipe.update({k: v for k, v in (("batch_size", args.batch_size), ("lr", args.lr)) if v})
    dev = device()
    print(
        f"model={args.model} data={args.data} device={dev.type} profile={prof} "
        f"budget={epochs} epochs batch_size={recipe['batch_size']} lr={recipe['lr']}",
        flush=True,
    )
    seed_everything(args.seed)
    model = build_model(args.model, args.data)
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
        )
    except _DataUnavailable as exc:  # downloads can fail: one clear line, not a traceback
        print(f"error: could not load dataset {args.data!r}: {exc}", file=sys.stderr)
        return 1
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
