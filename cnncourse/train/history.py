"""What a training run leaves behind: one row per epoch, and the live figure of those rows.

- :class:`History`: per-epoch rows (loss, accuracy, learning rate, time, throughput), column
  access, ``best``, JSON save/load, ``plot``.
- :class:`LivePlot`: a notebook figure replaced in place after every epoch.

The drawing itself is :func:`cnncourse.viz.plot_history`; this module keeps the data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._files import atomic_write
from .._validate import check_choice


def resolve_mode(monitor: str, mode: str) -> str:
    """``'min'`` or ``'max'``: ``'auto'`` minimises losses and maximises anything else."""
    check_choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        return "min" if "loss" in monitor else "max"
    return mode


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
        mode = resolve_mode(monitor, mode)
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
        return atomic_write(path, lambda f: f.write(text.encode()))

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
        the two Axes (loss, accuracy); see :func:`cnncourse.viz.plot_history`.
        """
        from .. import viz  # matplotlib only when a figure is asked for

        return viz.plot_history(self, axes, title=title)

    def __repr__(self) -> str:
        if not self.rows:
            return "History(0 epochs)"
        last = self.rows[-1]
        parts = [f"{k}={_fmt(last[k])}" for k in self.KEYS[1:5] if last.get(k) is not None]
        return f"History({len(self.rows)} epochs; last: {', '.join(parts)})"


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where :func:`~cnncourse.train.fit` shows a live plot)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is installed with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LivePlot:
    """A loss/accuracy figure shown once and replaced in place after every epoch.

    It renders a PNG from an off-screen figure (not a pyplot one, so nothing else gets
    displayed) and updates an ``IPython.display`` handle with a fixed ``display_id``.
    """

    def __init__(self, title: str | None = None, total_epochs: int | None = None, dpi: int = 72):
        from .. import viz

        self.figure = viz.offscreen_figure((8, 2.8), dpi=dpi)
        self.axes = self.figure.subplots(1, 2)
        self.title = title
        self.total_epochs = total_epochs
        self.handle = None

    def png(self, history: History) -> bytes:
        from .. import viz

        viz.plot_history(history, self.axes, title=self.title, total_epochs=self.total_epochs)
        return viz.figure_png(self.figure)

    def update(self, history: History) -> None:
        from IPython.display import Image, display

        image = Image(data=self.png(history), format="png")
        if self.handle is None:
            self.handle = display(image, display_id=True)
        else:
            self.handle.update(image)
