"""Stride/padding explorer (chapter 3): slide a (dilated) kernel over a padded input grid.

Pure core (tested without a browser):

- :func:`explore` -> :class:`StrideState`: output size (through
  :func:`cnncourse.shapes.conv_output_size`), the input cells that feed one output cell, how
  many windows read each cell (:func:`cnncourse.shapes.pixel_usage`), the formula with the
  numbers plugged in, and a warning when the stride does not tile the padded input.
- :func:`formula_html`, :func:`grid_html` -- the renderers the view uses.

View: :class:`StridePaddingExplorer` (sliders + ``ipywidgets.Play`` animating the window), drawn
with :mod:`cnncourse.widgets._render`'s HTML helpers. Static figure for the website: :func:`figure`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .. import shapes
from .._validate import check_int
from . import _render

__all__ = [
    "LIMITS",
    "StrideState",
    "explore",
    "formula_text",
    "formula_html",
    "grid_html",
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

# cell colours, shared by the HTML grid and the matplotlib figure
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


def formula_html(
    size: int, kernel_size: int, padding: int = 0, stride: int = 1, dilation: int = 1
) -> str:
    """:func:`formula_text` as HTML: the symbolic formula, then the numbers."""
    n, k, p, s, d = _config(size, kernel_size, padding, stride, dilation)
    numerator = shapes.conv_output_terms(n, k, s, p, d)
    out = numerator // s + 1  # shown even when negative (kernel larger than the padded input)
    return (
        '<div style="font-family:serif;font-size:15px;line-height:1.6">'
        "out = &lfloor;(n + 2p &minus; d(k&minus;1) &minus; 1) / s&rfloor; + 1<br>"
        f"&nbsp;&nbsp;&nbsp;&nbsp;= &lfloor;({n} + 2&middot;{p} &minus; {d}&middot;({k}&minus;1) "
        f"&minus; 1) / {s}&rfloor; + 1 = &lfloor;{numerator} / {s}&rfloor; + 1 = <b>{out}</b>"
        "</div>"
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
    k_eff = d * (k - 1) + 1
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


def _table(cells: list[list[tuple[str, str]]], cell_px: int, css_class: str) -> str:
    """An HTML table of (background colour, text) cells."""
    style = (
        f"width:{cell_px}px;height:{cell_px}px;padding:0;border:1px solid #888;"
        f"font-size:{max(cell_px // 2, 8)}px;text-align:center;background:"
    )
    rows = [[_render.td(text, style + color) for color, text in r] for r in cells]
    return _render.html_table(rows, css_class)


def grid_html(state: StrideState, cell_px: int = 18) -> str:
    """Render the padded input (taps highlighted, never-visited cells shaded) and the output.

    Returns
    -------
    str
        HTML with two tables: the padded input (class ``cnncourse-grid-input``) and the output
        grid (class ``cnncourse-grid-output``), the current output cell filled.
    """
    if not isinstance(state, StrideState):
        raise TypeError(f"state must be a StrideState from explore(), got {type(state).__name__}")
    cell_px = check_int("cell_px", cell_px, minimum=4)
    kinds = _cell_kinds(state)
    inp = [[(COLORS[kind], "") for kind in row] for row in kinds]
    for r in state.tap_rows:  # mark the taps with a dot so they read without colour
        for c in state.tap_cols:
            inp[r][c] = (COLORS["tap"], "&bull;")
    o = state.output_size
    current = state.row * o + state.col
    outp = [
        [
            (
                COLORS["current"]
                if i * o + j == current
                else COLORS["done"]
                if i * o + j < current
                else COLORS["output"],
                "",
            )
            for j in range(o)
        ]
        for i in range(o)
    ]
    legend = " ".join(
        f'<span style="display:inline-block;width:12px;height:12px;background:{COLORS[key]};'
        f'border:1px solid #888;vertical-align:middle"></span> {html.escape(label)}'
        for key, label in [
            ("input", "input"),
            ("padding", "padding"),
            ("tap", "kernel taps"),
            ("span", "between dilated taps"),
            ("unused", "never visited"),
            ("current", "current output"),
        ]
    )
    return (
        '<div style="display:flex;gap:24px;align-items:flex-start">'
        f"<div><div>padded input {state.padded_size}&times;{state.padded_size}</div>"
        f"{_table(inp, cell_px, 'cnncourse-grid-input')}</div>"
        f"<div><div>output {o}&times;{o} &mdash; cell ({state.row}, {state.col})</div>"
        f"{_table(outp, cell_px, 'cnncourse-grid-output')}</div></div>"
        f'<div style="font-size:12px;margin-top:4px">{legend}</div>'
    )


class StridePaddingExplorer(_render.FriendlyRepr, widgets.VBox):
    """Sliders for n, k, p, s, d and a Play button that slides the window over the padded input.

    Attributes a test (or a student) can drive: ``size``, ``kernel_size``, ``padding``,
    ``stride``, ``dilation`` (IntSliders), ``play`` (``ipywidgets.Play``; its value is the
    output cell, row-major); read-only: ``formula`` (HTML), ``warning`` (HTML: the tiling
    warning or the error message of an invalid configuration), ``grid`` (HTML),
    ``result`` (last :class:`StrideState`, ``None`` when invalid) and ``error`` (message or
    ``''``).

    Parameters
    ----------
    size, kernel_size, padding, stride, dilation : int
        Initial slider values (within :data:`LIMITS`).
    interval : int
        Milliseconds between animation frames.
    """

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
        self._updating = True  # no updates until every widget exists
        labels = dict(
            size="input n", kernel_size="kernel k", padding="padding p", stride="stride s",
            dilation="dilation d",
        )  # fmt: skip
        sliders = {}
        for name, value in values.items():
            lo, hi = LIMITS[name]
            slider = widgets.IntSlider(
                value=value, min=lo, max=hi, description=labels[name], continuous_update=True
            )
            slider.add_class("cnncourse-stride-slider")
            slider.observe(self._on_config, names="value")
            sliders[name] = slider
        self.size = sliders["size"]
        self.kernel_size = sliders["kernel_size"]
        self.padding = sliders["padding"]
        self.stride = sliders["stride"]
        self.dilation = sliders["dilation"]
        self.play = widgets.Play(value=0, min=0, max=0, interval=interval, description="slide")
        self.play.add_class("cnncourse-stride-play")
        self.step_slider = widgets.IntSlider(description="output cell", min=0, max=0)
        widgets.link((self.play, "value"), (self.step_slider, "value"))
        self.play.observe(lambda _: self.update(), names="value")
        self.formula = widgets.HTML()
        self.formula.add_class("cnncourse-formula")
        self.warning = widgets.HTML()
        self.warning.add_class("cnncourse-warning")
        self.grid = widgets.HTML()
        self.grid.add_class("cnncourse-grid")
        controls = widgets.VBox(
            list(sliders.values()) + [widgets.HBox([self.play, self.step_slider])]
        )
        super().__init__([controls, self.formula, self.warning, self.grid])
        self.add_class("cnncourse-stride-explorer")
        self._updating = False
        self._on_config()

    def _config(self) -> tuple[int, int, int, int, int]:
        return (
            self.size.value,
            self.kernel_size.value,
            self.padding.value,
            self.stride.value,
            self.dilation.value,
        )

    def _on_config(self, change=None) -> None:
        """A slider moved: restart the animation for the new output grid."""
        n, k, p, s, d = self._config()
        try:
            out = shapes.conv_output_size(n, k, stride=s, padding=p, dilation=d)
        except (ValueError, TypeError):
            out = 1
        self._updating = True
        try:
            self.play.value = 0
            self.play.max = out * out - 1
            self.step_slider.max = out * out - 1
        finally:
            self._updating = False
        self.update()

    def update(self) -> None:
        """Recompute the frame for the current sliders and play position."""
        if self._updating:
            return
        n, k, p, s, d = self._config()
        self.formula.value = formula_html(n, k, p, s, d)
        try:
            state = explore(n, k, p, s, d, step=self.play.value)
        except (ValueError, TypeError) as err:
            self.result, self.error = None, str(err)
            self.warning.value = _render.notice_html(
                self.error, "Invalid configuration", error=True
            )
            self.grid.value = ""
            return
        self.result, self.error = state, ""
        self.warning.value = _render.notice_html(state.warning, "Warning")
        self.grid.value = grid_html(state)


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
