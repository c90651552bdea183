"""Stride/padding explorer (chapter 3): slide a (dilated) kernel over a padded input grid.

Pure core (tested without a browser):

- :func:`explore` -> :class:`StrideState`: output size (through
  :func:`cnncourse.shapes.conv_output_size`), the input cells that feed one output cell, how
  many windows read each cell (:func:`cnncourse.shapes.pixel_usage`), the formula with the
  numbers plugged in, and a warning when the stride does not tile the padded input.

View: :class:`StridePaddingExplorer`, an anywidget whose page front-end
(``js/stride_padding.js``) is a port of :func:`explore` and draws the grids, so it runs
without a kernel. Static figure of key states: :func:`figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import anywidget
import matplotlib.pyplot as plt
import numpy as np
import traitlets
from matplotlib.patches import Rectangle

from .. import shapes
from .._validate import check_int
from . import _render

__all__ = [
    "LIMITS",
    "StrideState",
    "explore",
    "formula_text",
    "StridePaddingExplorer",
    "figure",
]

# slider ranges: (min, max) per control
LIMITS = {
    "size": (1, 16),
    "kernel_size": (1, 7),
    "padding": (0, 4),
    "stride": (1, 4),
    "dilation": (1, 3),
}

# cell colours, shared by the page's grid (sent as the ``colors`` trait) and the figure
COLORS = {
    "input": "#ffffff",
    "padding": "#d9d9d9",
    "tap": "#f28e2b",  # cells multiplied by a kernel tap for the current output cell
    "span": "#fde2c4",  # inside the current window's span but between dilated taps
    "unused": "#e15759",  # never read by any window
    "output": "#e8f1fa",
    "current": "#4e79a7",
    "done": "#a0cbe8",
}


@dataclass(frozen=True)
class StrideState:
    """One frame of the explorer (square input, same settings on both axes).

    Attributes
    ----------
    size, kernel_size, padding, stride, dilation : int
        The configuration.
    step : int
        Index of the current output cell in row-major order (``row * output_size + col``).
    output_size : int
        ``floor((n + 2p - d(k-1) - 1)/s) + 1``.
    padded_size : int
        ``n + 2p``.
    row, col : int
        The current output cell.
    tap_rows, tap_cols : tuple of int
        Padded-grid rows/columns the current window's taps land on.
    usage : numpy.ndarray of int, shape (padded_size, padded_size)
        How many windows read each padded cell (0: never visited).
    leftover : int
        Rows (and columns) at the end of the padded input no window reaches:
        ``(n + 2p - d(k-1) - 1) mod s``.
    unused_pixels : int
        Real input pixels (not padding) that no window reads.
    formula : str
        The size formula with the numbers plugged in (plain text).
    warning : str
        Empty when the stride tiles the padded input and every pixel is used.
    """

    size: int
    kernel_size: int
    padding: int
    stride: int
    dilation: int
    step: int
    output_size: int
    padded_size: int
    row: int
    col: int
    tap_rows: tuple[int, ...]
    tap_cols: tuple[int, ...]
    usage: np.ndarray
    leftover: int
    unused_pixels: int
    formula: str
    warning: str


def _config(size, kernel_size, padding, stride, dilation) -> tuple[int, int, int, int, int]:
    return (
        check_int("size", size, minimum=1),
        check_int("kernel_size", kernel_size, minimum=1),
        check_int("padding", padding, minimum=0),
        check_int("stride", stride, minimum=1),
        check_int("dilation", dilation, minimum=1),
    )


def formula_text(
    size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1
) -> str:
    """The output-size formula with the numbers plugged in (also for invalid configurations).

    Returns
    -------
    str
        e.g. ``'floor((7 + 2*0 - 1*(3-1) - 1) / 2) + 1 = floor(4 / 2) + 1 = 3'``.
    """
    n, k, p, s, d = _config(size, kernel_size, padding, stride, dilation)
    numerator = shapes.conv_output_terms(n, k, s, p, d)
    out = numerator // s + 1  # shown even when negative (kernel larger than the padded input)
    return (
        f"floor(({n} + 2*{p} - {d}*({k}-1) - 1) / {s}) + 1 = floor({numerator} / {s}) + 1 = {out}"
    )


def explore(
    size: int,
    kernel_size: int,
    padding: int = 0,
    stride: int = 1,
    dilation: int = 1,
    step: int = 0,
) -> StrideState:
    """Compute one frame of the explorer.

    Parameters
    ----------
    size : int
        Input height = width ``n``.
    kernel_size : int
        Kernel height = width ``k``.
    padding : int
        Zeros on each side ``p``.
    stride : int
        Step ``s``.
    dilation : int
        Spacing between kernel taps ``d``.
    step : int
        Output cell to show, row-major, in ``[0, output_size**2)``.

    Returns
    -------
    StrideState

    Raises
    ------
    ValueError
        If the configuration is invalid (the message of :func:`shapes.conv_output_size`) or the
        step is out of range.
    """
    n, k, p, s, d = _config(size, kernel_size, padding, stride, dilation)
    out = shapes.conv_output_size(n, k, s, p, d)
    step = check_int("step", step, minimum=0)
    if step >= out * out:
        raise ValueError(f"step must be < output_size**2 = {out * out}, got {step}")
    row, col = divmod(step, out)
    taps = np.arange(k) * d
    u = shapes.pixel_usage(n, k, s, p, d, include_padding=True)
    usage = np.outer(u, u)
    k_eff = shapes.effective_kernel_size(k, d)
    numerator = shapes.conv_output_terms(n, k, s, p, d)
    leftover = numerator % s
    unused_pixels = int(np.count_nonzero(usage[p : p + n, p : p + n] == 0))
    warning = ""
    if leftover:
        warning = (
            f"Stride {s} does not tile the padded input: (n + 2p - d(k-1) - 1) / s = "
            f"({n} + 2*{p} - {k_eff - 1} - 1) / {s} = {numerator} / {s} is not a whole "
            f"number, so the last {leftover} row(s) and column(s) of the padded input are never "
            f"visited (shaded)."
        )
    if unused_pixels:
        warning += (" " if warning else "") + (
            f"{unused_pixels} of the {n * n} input pixels never reach the output."
        )
    return StrideState(
        size=n,
        kernel_size=k,
        padding=p,
        stride=s,
        dilation=d,
        step=step,
        output_size=out,
        padded_size=n + 2 * p,
        row=row,
        col=col,
        tap_rows=tuple(int(v) for v in row * s + taps),
        tap_cols=tuple(int(v) for v in col * s + taps),
        usage=usage,
        leftover=leftover,
        unused_pixels=unused_pixels,
        formula=formula_text(n, k, p, s, d),
        warning=warning,
    )


def _cell_kinds(state: StrideState) -> np.ndarray:
    """Kind of every padded cell: 'input', 'padding', 'unused', 'span' or 'tap'."""
    m, p, n = state.padded_size, state.padding, state.size
    kinds = np.full((m, m), "padding", dtype=object)
    kinds[p : p + n, p : p + n] = "input"
    kinds[state.usage == 0] = "unused"
    r0, c0 = state.tap_rows[0], state.tap_cols[0]
    r1, c1 = state.tap_rows[-1], state.tap_cols[-1]
    kinds[r0 : r1 + 1, c0 : c1 + 1] = "span"
    kinds[np.ix_(state.tap_rows, state.tap_cols)] = "tap"
    return kinds


class StridePaddingExplorer(_render.FriendlyRepr, anywidget.AnyWidget):
    """Sliders for n, k, p, s, d and a play button that slides the window over the padded input.

    An anywidget: the page computes each frame with ``js/stride_padding.js`` (a port of
    :func:`explore`, proven equal by ``tests/browser/test_explorers_js.py``), so the explorer
    also works on the static website; with a kernel, Python follows every change.

    Traits a test (or a student) can set: ``size``, ``kernel_size``, ``padding``, ``stride``,
    ``dilation`` and ``step`` (the output cell, row-major; a new configuration restarts at 0).
    Read-only: ``result`` (the last :class:`StrideState`, ``None`` when invalid) and ``error``
    (the message the page shows, or ``''``).

    Parameters
    ----------
    size, kernel_size, padding, stride, dilation : int
        Initial values (within :data:`LIMITS`).
    interval : int
        Milliseconds between animation frames.
    """

    _esm = _render.esm("stride_padding")
    size = traitlets.Int(7).tag(sync=True)
    kernel_size = traitlets.Int(3).tag(sync=True)
    padding = traitlets.Int(0).tag(sync=True)
    stride = traitlets.Int(2).tag(sync=True)
    dilation = traitlets.Int(1).tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    interval = traitlets.Int(600).tag(sync=True)
    limits = traitlets.Dict().tag(sync=True)
    colors = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        size: int = 7,
        kernel_size: int = 3,
        padding: int = 0,
        stride: int = 2,
        dilation: int = 1,
        interval: int = 600,
    ):
        values = dict(
            size=size, kernel_size=kernel_size, padding=padding, stride=stride, dilation=dilation
        )
        for name, value in values.items():
            lo, hi = LIMITS[name]
            check_int(name, value, minimum=lo)
            if value > hi:
                raise ValueError(f"{name} must be <= {hi}, got {value}")
        interval = check_int("interval", interval, minimum=10)
        self.result: StrideState | None = None
        self.error = ""
        super().__init__(
            **values,
            step=0,
            interval=interval,
            limits={k: list(v) for k, v in LIMITS.items()},
            colors=dict(COLORS),
        )
        self.add_class("cnncourse-stride-explorer")
        self.observe(self._on_config, names=list(LIMITS))
        self.observe(lambda _: self.update(), names="step")
        self.update()

    def _on_config(self, change=None) -> None:
        """A setting changed: restart the animation at output cell 0 (as the page does)."""
        if self.step:
            self.step = 0  # observed: updates
        else:
            self.update()

    def update(self) -> None:
        """Recompute ``result`` / ``error`` for the current traits."""
        try:
            state = explore(
                self.size, self.kernel_size, self.padding, self.stride, self.dilation, self.step
            )
        except (ValueError, TypeError) as err:
            self.result, self.error = None, str(err)
            return
        self.result, self.error = state, ""


def _draw_state(ax: plt.Axes, state: StrideState) -> None:
    kinds = _cell_kinds(state)
    m = state.padded_size
    for r in range(m):
        for c in range(m):
            ax.add_patch(
                Rectangle((c, r), 1, 1, facecolor=COLORS[kinds[r, c]], edgecolor="#888", lw=0.6)
            )
    for r in state.tap_rows:
        for c in state.tap_cols:
            ax.plot(c + 0.5, r + 0.5, "k.", ms=3)
    p, n = state.padding, state.size
    ax.add_patch(Rectangle((p, p), n, n, fill=False, edgecolor="k", lw=1.5))
    ax.set_xlim(0, m)
    ax.set_ylim(m, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"padded input {m}x{m} (column)")
    ax.set_ylabel("row")
    title = f"n={n}, k={state.kernel_size}, p={p}, s={state.stride}, d={state.dilation}"
    title += f"\nout = {state.output_size}, output cell ({state.row}, {state.col})"
    if state.warning:
        title += "\n(stride does not tile)" if state.leftover else "\n(unused pixels)"
    ax.set_title(title, fontsize=9)


def figure(configs: list[dict], ncols: int | None = None, panel_size: float = 2.6) -> plt.Figure:
    """Static rendering of several explorer frames (for the website, which has no kernel).

    Parameters
    ----------
    configs : list of dict
        Keyword arguments of :func:`explore` (``size``, ``kernel_size``, ``padding``,
        ``stride``, ``dilation``, ``step``), one panel each.
    ncols : int, optional
        Panels per row (default: all in one row).
    panel_size : float
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not configs:
        raise ValueError("configs must list at least one configuration, got []")
    states = [explore(**cfg) for cfg in configs]
    ncols = check_int("ncols", ncols if ncols is not None else len(states), minimum=1)
    nrows = -(-len(states) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size * ncols, (panel_size + 0.6) * nrows), squeeze=False
    )
    for ax in axes.ravel()[len(states) :]:
        ax.axis("off")
    for ax, state in zip(axes.ravel(), states, strict=False):
        _draw_state(ax, state)
    fig.suptitle("Sliding window over the padded input (orange: taps, red: never visited)")
    fig.tight_layout()
    return fig
