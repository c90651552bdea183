"""Hooks that :func:`~cnncourse.train.fit` calls after every epoch.

- :class:`TrainState`: what a callback sees (model, optimizer, history, epoch, ``stop``).
- :class:`Callback`: the interface (``on_epoch_end``, ``on_train_end``, ``state_dict``).
- :class:`EarlyStopping`: stop when a monitored column stops improving; restore the best weights.
- :class:`BestCheckpoint`: save the weights whenever the monitored column improves.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from .._validate import check_bool, check_int, check_nonnegative_float
from . import distributed
from .checkpoint import save_checkpoint
from .history import History, resolve_mode


class TrainState:
    """What callbacks see: the model, optimizer, scheduler, history, current epoch and ``stop``."""

    def __init__(self, model, optimizer, scheduler, history: History, epochs: int):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.history, self.epochs = history, epochs
        self.epoch = 0
        self.stop = False


class Callback:
    """Base class: :func:`~cnncourse.train.fit` calls ``on_epoch_end(state)`` after every epoch
    and ``on_train_end(state)`` once at the end. ``state`` is a :class:`TrainState`; set
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
    """Watch one history column and tell whether the latest value improved on the best."""

    def __init__(self, monitor: str, mode: str, min_delta: float):
        self.monitor = str(monitor)
        self.mode = resolve_mode(self.monitor, mode)
        self.min_delta = check_nonnegative_float("min_delta", min_delta)
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
        Smallest change that counts as an improvement (>= 0).
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
        self.restore_best = check_bool("restore_best", restore_best)
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
    :func:`~cnncourse.train.load_checkpoint`.
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
            if not distributed.is_main():
                return  # under torchrun only rank 0 writes
            save_checkpoint(
                self.path,
                {"model": state.model.state_dict(), "epoch": state.epoch, self.monitor: value},
            )

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
