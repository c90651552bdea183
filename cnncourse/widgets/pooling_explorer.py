"""Pooling explorer (chapter 4): slide a max or average pooling window over a grid or a photo.

One module per explorer (core, view, static figures); everything generic is in
:mod:`cnncourse.widgets._render`, the page's drawing in ``js/pooling_explorer.js``.

Pure core (tested without a browser):

- :func:`load_source` -- a small numeric grid from :data:`GRIDS` or a photo from
  ``data.SAMPLE_IMAGES``, as a 2-D float array.
- :func:`explore` -- pool it with :func:`cnncourse.pooling.max_pool2d` or
  :func:`~cnncourse.pooling.avg_pool2d` and return a :class:`PoolingState`: the output, the
  winners' indices (max), and for animation step ``t`` the output cell ``(t // out_w, t % out_w)``,
  its window (with the padding and ``ceil_mode`` overhang) and the value it produces.
- :func:`formula_text`, :func:`window_text` -- the size formula and the window's arithmetic.
- :func:`photo_pngs` -- PNG bytes of a photo state (window framed), for pictures outside the
  explorer.

View: :class:`PoolingExplorer`, an anywidget whose page front-end (``js/pooling_explorer.js``)
ports the core and draws grids and photos, so it runs without a kernel on the grids. Static
figures for the website: :func:`figure`
(animation steps on a grid) and :func:`photo_figure` (max vs average on a photo for several
window sizes).
"""

from __future__ import annotations

import dataclasses

import anywidget
import matplotlib.pyplot as plt
import numpy as np
import traitlets
from matplotlib.patches import Rectangle

from .. import data, pooling, viz
from .._validate import check_choice, check_int
from . import _render

__all__ = [
    "GRIDS",
    "SOURCES",
    "KINDS",
    "PoolingState",
    "load_source",
    "explore",
    "formula_text",
    "window_text",
    "photo_pngs",
    "PoolingExplorer",
    "figure",
    "photo_figure",
]

# Small numeric grids shown cell by cell (with their numbers); photos are shown as images.
GRIDS = {
    "4x4 arange(1, 17)": np.arange(1, 17, dtype=float).reshape(4, 4),
    "5x5 feature map (lecture)": np.array(
        [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]],
        dtype=float,
    ),
    "8x8 random digits": np.random.default_rng(4).integers(0, 10, size=(8, 8)).astype(float),
    "7x7 vertical edge": np.repeat([[0, 0, 0, 1, 1, 1, 1]], 7, axis=0).astype(float),
}
SOURCES = (*GRIDS, *data.SAMPLE_IMAGES)
KINDS = ("max", "avg")


# ------------------------------------------------------------------------------ pure core


def _cell_kinds(rows, cols, shape, padding) -> np.ndarray:
    """0 for input cells, 1 for padding, 2 beyond the padding, on the grid rows x cols."""
    (h, w), p = shape, padding
    rows, cols = np.asarray(rows)[:, None], np.asarray(cols)[None, :]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    padded = (rows >= -p) & (rows < h + p) & (cols >= -p) & (cols < w + p)
    return np.where(inside, 0, np.where(padded, 1, 2))


def load_source(source) -> np.ndarray:
    """A 2-D float array: a name from :data:`SOURCES` (grids and photos) or an (H, W) array."""
    if isinstance(source, str):
        check_choice("source", source, SOURCES)
        if source in GRIDS:
            return GRIDS[source]
    return _render.load_image(source, "source")


@dataclasses.dataclass(frozen=True)
class PoolingState:
    """Everything the explorer shows for one configuration and one animation step.

    ``input`` (H, W) and ``output`` (out_h, out_w) are 2-D; ``indices`` holds the flat input
    index of each window's maximum (max pooling, ties to the first in row-major order) or is
    ``None`` (average).
    """

    input: np.ndarray
    output: np.ndarray
    indices: np.ndarray | None
    kind: str
    kernel_size: int
    stride: int
    padding: int
    ceil_mode: bool
    count_include_pad: bool
    step: int

    @property
    def n_steps(self) -> int:
        """Number of output cells (one animation step each)."""
        return int(self.output.size)

    @property
    def position(self) -> tuple[int, int]:
        """The output cell ``(i, j)`` computed at this step (row-major order)."""
        return divmod(self.step, self.output.shape[1])

    @property
    def window_origin(self) -> tuple[int, int]:
        """Top-left input coordinate of the current window (negative inside the padding)."""
        i, j = self.position
        return i * self.stride - self.padding, j * self.stride - self.padding

    @property
    def window_cells(self) -> np.ndarray:
        """Where each of the k x k window taps falls: 0 input, 1 padding, 2 ``ceil_mode``
        overhang past the padding (average pooling counts padding with ``count_include_pad``
        but never the overhang)."""
        k, (r0, c0), p = self.kernel_size, self.window_origin, self.padding
        return _cell_kinds(np.arange(r0, r0 + k), np.arange(c0, c0 + k), self.input.shape, p)

    @property
    def window(self) -> np.ndarray:
        """The k x k values the current window reads: ``-inf`` (max) or ``0`` (avg) in the
        padding, NaN in a ``ceil_mode`` overhang."""
        k, (r0, c0) = self.kernel_size, self.window_origin
        h, w = self.input.shape
        rows = np.clip(np.arange(r0, r0 + k), 0, h - 1)
        cols = np.clip(np.arange(c0, c0 + k), 0, w - 1)
        cells = self.window_cells
        fill = -np.inf if self.kind == "max" else 0.0
        values = self.input[rows[:, None], cols[None, :]]
        return np.where(cells == 0, values, np.where(cells == 1, fill, np.nan))

    @property
    def value(self) -> float:
        """The output value at the current step."""
        return float(self.output[self.position])

    @property
    def winner(self) -> tuple[int, int] | None:
        """Input (row, col) of the current window's maximum (max pooling), else ``None``."""
        if self.indices is None or self.indices[self.position] < 0:
            return None
        return divmod(int(self.indices[self.position]), self.input.shape[1])

    def at(self, step: int) -> PoolingState:
        """The same configuration at another animation step (no recomputation)."""
        step = check_int("step", step, minimum=0)
        if step >= self.n_steps:
            raise ValueError(f"step must be < {self.n_steps} (the number of outputs), got {step}")
        return dataclasses.replace(self, step=step)


def explore(
    source="4x4 arange(1, 17)",
    kind: str = "max",
    kernel_size: int = 2,
    stride: int | None = None,
    padding: int = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    step: int = 0,
) -> PoolingState:
    """Pool a grid or photo and describe animation step ``step``.

    Parameters
    ----------
    source : str or array_like, shape (H, W)
        A name from :data:`SOURCES` or a 2-D array.
    kind : {'max', 'avg'}
    kernel_size, stride, padding, ceil_mode, count_include_pad
        As in :func:`cnncourse.pooling.max_pool2d` / :func:`~cnncourse.pooling.avg_pool2d`
        (square windows; ``stride=None`` means ``kernel_size``; ``count_include_pad`` only
        matters for 'avg').
    step : int
        Which output cell the animation is at, 0 <= step < out_h * out_w.

    Returns
    -------
    PoolingState
        ``output`` is exactly what the library computes for ``source[None, None]``.
    """
    x = load_source(source)
    check_choice("kind", kind, KINDS)
    kernel_size = check_int("kernel_size", kernel_size, minimum=1)
    stride = kernel_size if stride is None else check_int("stride", stride, minimum=1)
    if kind == "max":
        y, idx = pooling.max_pool2d(
            x[None, None], kernel_size, stride, padding, ceil_mode=ceil_mode, return_indices=True
        )
        idx = idx[0, 0]
    else:
        y = pooling.avg_pool2d(
            x[None, None], kernel_size, stride, padding, ceil_mode, count_include_pad
        )
        idx = None
    state = PoolingState(
        x, y[0, 0], idx, kind, kernel_size, stride, padding, ceil_mode, count_include_pad, 0
    )
    return state.at(step)


def _visible_extent(state: PoolingState) -> tuple[np.ndarray, np.ndarray]:
    """Input rows and columns to draw: the padded input plus any ``ceil_mode`` overhang."""
    (h, w), p, k, s = state.input.shape, state.padding, state.kernel_size, state.stride
    (oh, ow) = state.output.shape
    last_r, last_c = (oh - 1) * s - p + k, (ow - 1) * s - p + k
    return np.arange(-p, max(h + p, last_r)), np.arange(-p, max(w + p, last_c))


def formula_text(state: PoolingState) -> str:
    """The output-size formula with the numbers plugged in (both axes), as torch computes it."""
    k, s, p = state.kernel_size, state.stride, state.padding
    rounding = "ceil" if state.ceil_mode else "floor"
    lines = []
    for axis, n, out in zip(
        ("height", "width"), state.input.shape, state.output.shape, strict=True
    ):
        span = n + 2 * p - k
        raw = (-(-span // s) if state.ceil_mode else span // s) + 1
        line = f"out {axis} = {rounding}(({n} + 2*{p} - {k}) / {s}) + 1 = {raw}"
        if raw != out:
            line += f" - 1 = {out} (the last window would start in the right padding)"
        lines.append(line)
    return "\n".join(lines)


def _fmt(v: float) -> str:
    if np.isneginf(v):
        return "&minus;&infin;"
    return f"{v:.3g}" if v != int(v) else f"{int(v)}"


def window_text(state: PoolingState) -> str:
    """The arithmetic that produces the current output value (the line under the window)."""
    vals, cells, winner = state.window, state.window_cells, state.winner
    if state.kind == "max":
        text = f"max = {_fmt(state.value)}"
        if winner is not None:
            text += f" (input row {winner[0]}, column {winner[1]}: the first maximum wins ties)"
        return text
    counted = (cells == 0) | ((cells == 1) & state.count_include_pad)
    total = 0.0
    for v in vals[counted]:  # row-major, one by one: the page sums in the same order
        total += float(v)
    text = f"sum {_fmt(total)} / {int(counted.sum())} cells = {_fmt(state.value)}"
    if state.padding and not state.count_include_pad:
        text += " (padding not counted)"
    return text


_RED = 255  # palette index of the outline colour; 0..254 are gray levels
_PALETTE = [*(v for g in np.linspace(0, 255, 255).astype(int) for v in (g, g, g)), 220, 0, 0]


def _outline(img: np.ndarray, r0: int, c0: int, r1: int, c1: int, width: int) -> None:
    """Draw a red frame just outside rows [r0, r1) and columns [c0, c1) of a palette image."""
    h, w = img.shape
    top, bottom = max(r0 - width, 0), min(r1 + width, h)
    left, right = max(c0 - width, 0), min(c1 + width, w)
    img[top : max(r0, 0), left:right] = _RED
    img[min(r1, h) : bottom, left:right] = _RED
    img[top:bottom, left : max(c0, 0)] = _RED
    img[top:bottom, min(c1, w) : right] = _RED


def _gray_indices(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    # 255 gray levels (rounded); palette index 255 is kept for the red outline.
    scale = 254.0 / (hi - lo) if hi > lo else 0.0
    return np.clip((values - lo) * scale + 0.5, 0, 254).astype(np.uint8)


def photo_pngs(state: PoolingState, target: int = 256) -> tuple[bytes, bytes]:
    """PNG bytes of the input (current window framed in red) and of the output (current cell
    framed), both on the input's gray scale, for ``ipywidgets.Image``.

    Arrays smaller than ``target`` pixels are enlarged (nearest neighbour) so the frame shows.
    """
    lo, hi = float(state.input.min()), float(state.input.max())
    big = _render.upscale(state.input, target)
    f = big.shape[0] // state.input.shape[0]
    img = _gray_indices(big, lo, hi)
    (r0, c0), k = state.window_origin, state.kernel_size
    _outline(img, r0 * f, c0 * f, (r0 + k) * f, (c0 + k) * f, max(1, max(img.shape) // 256))
    out_big = _render.upscale(state.output, target)
    g = out_big.shape[0] // state.output.shape[0]
    out = _gray_indices(out_big, lo, hi)
    i, j = state.position
    _outline(out, i * g, j * g, (i + 1) * g, (j + 1) * g, max(1, max(out.shape) // 256))
    return _render.palette_png(img, _PALETTE), _render.palette_png(out, _PALETTE)


# ------------------------------------------------------------------------------------ view


class PoolingExplorer(_render.FriendlyRepr, anywidget.AnyWidget):
    """Choose a grid or photo, max or average pooling, window size, stride and padding; press
    play to watch the window slide and the output fill in.

    An anywidget: the page pools with ``js/pooling_explorer.js`` (a port of :func:`explore`,
    :func:`formula_text` and :func:`window_text`, proven equal by
    ``tests/browser/test_explorers_js.py``), so it works on the static website for the grids;
    a photo's pixels come from Python (the ``photo`` trait), so photos need a kernel.

    Traits a test (or a student) can set: ``source`` (one of :data:`SOURCES`), ``kind``
    ('max' / 'avg'), ``kernel_size``, ``stride``, ``padding``, ``ceil_mode``,
    ``count_include_pad`` and ``step`` (0-based; the page shows "step t+1 of N"). Read-only:
    ``result`` (the current :class:`PoolingState`, ``None`` while the settings are invalid)
    and ``error`` (the message the page shows, or ``''``).
    """

    _esm = _render.esm("pooling_explorer")
    source = traitlets.Unicode("4x4 arange(1, 17)").tag(sync=True)
    kind = traitlets.Unicode("max").tag(sync=True)
    kernel_size = traitlets.Int(2).tag(sync=True)
    stride = traitlets.Int(2).tag(sync=True)
    padding = traitlets.Int(0).tag(sync=True)
    ceil_mode = traitlets.Bool(False).tag(sync=True)
    count_include_pad = traitlets.Bool(True).tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    interval = traitlets.Int(700).tag(sync=True)
    grids = traitlets.Dict().tag(sync=True)
    photos = traitlets.List().tag(sync=True)
    photo = traitlets.Bytes(b"").tag(sync=True)
    photo_source = traitlets.Unicode("").tag(sync=True)
    photo_shape = traitlets.List().tag(sync=True)

    _CONFIG = ("source", "kind", "kernel_size", "stride", "padding", "ceil_mode")

    def __init__(
        self,
        source="4x4 arange(1, 17)",
        kind: str = "max",
        kernel_size: int = 2,
        stride: int = 2,
        padding: int = 0,
        ceil_mode: bool = False,
        interval: int = 700,
    ):
        check_choice("source", source, SOURCES)
        check_choice("kind", kind, KINDS)
        self.result: PoolingState | None = None
        self.error = ""
        super().__init__(
            source=source,
            kind=kind,
            kernel_size=check_int("kernel_size", kernel_size, minimum=1),
            stride=check_int("stride", stride, minimum=1),
            padding=check_int("padding", padding, minimum=0),
            ceil_mode=ceil_mode,
            interval=check_int("interval", interval, minimum=10),
            grids={name: grid.tolist() for name, grid in GRIDS.items()},
            photos=list(data.SAMPLE_IMAGES),
        )
        self.add_class("cnncourse-pooling-explorer")
        self.observe(self._on_config, names=[*self._CONFIG, "count_include_pad"])
        self.observe(self._on_step, names="step")
        self._on_config()

    def _send_photo(self) -> None:
        """Give the page the pixels of a photo source (grids travel in ``grids``)."""
        if self.source in GRIDS or self.photo_source == self.source:
            return
        x = np.ascontiguousarray(load_source(self.source), dtype="<f8")
        with self.hold_sync():
            self.photo, self.photo_shape = x.tobytes(), list(x.shape)
            self.photo_source = self.source

    def _on_config(self, change=None) -> None:
        """Recompute the pooled output for the current settings and restart the animation."""
        self._send_photo()
        try:
            state = explore(
                self.source,
                self.kind,
                self.kernel_size,
                self.stride,
                self.padding,
                self.ceil_mode,
                self.count_include_pad,
            )
        except (ValueError, TypeError) as err:
            self.result, self.error = None, str(err)
            return
        self.result, self.error = state, ""
        if self.step:
            self.step = 0  # observed: _on_step

    def _on_step(self, change=None) -> None:
        if self.result is None:
            return
        try:
            self.result = self.result.at(self.step)
        except ValueError as err:  # a step past the end, set from Python
            self.result, self.error = None, str(err)


# --------------------------------------------------------------------------- static figures


def _draw_state(ax_in: plt.Axes, ax_out: plt.Axes, state: PoolingState) -> None:
    x, y = state.input, state.output
    lo, hi = float(x.min()), float(x.max())
    viz.show_array(ax_in, x, "", cmap="Blues", annotate=True, fmt="{:g}", vmin=lo, vmax=hi)
    rows, cols = _visible_extent(state)
    ax_in.set_xlim(cols[0] - 0.5, cols[-1] + 0.5)
    ax_in.set_ylim(rows[-1] + 0.5, rows[0] - 0.5)
    if state.padding:
        ax_in.add_patch(
            Rectangle((-0.5, -0.5), x.shape[1], x.shape[0], fill=False, lw=1, ls=":", ec="gray")
        )
    r0, c0 = state.window_origin
    k = state.kernel_size
    ax_in.add_patch(
        Rectangle(
            (c0 - 0.5, r0 - 0.5), k, k, fill=True, alpha=0.35, fc="orange", ec="darkorange", lw=2
        )
    )
    if state.winner is not None:
        r, c = state.winner
        ax_in.add_patch(Rectangle((c - 0.45, r - 0.45), 0.9, 0.9, fill=False, ec="red", lw=2))
    shown = np.full(y.shape, np.nan)
    shown.flat[: state.step + 1] = y.flat[: state.step + 1]
    viz.show_array(ax_out, shown, "", cmap="Blues", vmin=lo, vmax=hi)
    for (i, j), v in np.ndenumerate(shown):
        if not np.isnan(v):  # light text on dark cells, as viz.show_array does for the input
            ink = "white" if v > (lo + hi) / 2 else "black"
            ax_out.text(j, i, f"{v:g}", ha="center", va="center", fontsize=9, color=ink)
    i, j = state.position
    ax_out.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="darkorange", lw=2.5))


def figure(
    source="4x4 arange(1, 17)",
    kind: str = "max",
    kernel_size: int = 2,
    stride: int | None = None,
    padding: int = 0,
    ceil_mode: bool = False,
    steps=None,
) -> plt.Figure:
    """Static rendering of the explorer on a numeric grid: for each animation step, the input
    with the window (orange) and its maximum (red), above the output filled so far."""
    state = explore(source, kind, kernel_size, stride, padding, ceil_mode)
    steps = list(range(state.n_steps)) if steps is None else list(steps)
    n = len(steps)
    fig, axes = plt.subplots(2, n, figsize=(2.3 * n, 4.2), squeeze=False, height_ratios=[1.3, 1])
    for col, t in enumerate(steps):
        st = state.at(t)
        _draw_state(axes[0, col], axes[1, col], st)
        i, j = st.position
        axes[0, col].set_title(f"step {t + 1}: window {i},{j}", fontsize=10)
        axes[1, col].set_title(f"y[{i},{j}] = {st.value:g}", fontsize=10)
    name = source if isinstance(source, str) else "input"
    fig.suptitle(
        f"{kind} pooling on {name}: window {state.kernel_size}, stride {state.stride}, "
        f"padding {state.padding} -> output {state.output.shape[0]}x{state.output.shape[1]}"
    )
    fig.tight_layout()
    return fig


def photo_figure(image: str = "camera", sizes=(2, 4, 8)) -> plt.Figure:
    """Max vs average pooling of a photo with k x k windows, stride k, for each k in ``sizes``."""
    x = load_source(image)
    sizes = [check_int("sizes", k, minimum=1) for k in sizes]
    # constrained layout keeps the second row's titles off the first row's square images
    fig, axes = plt.subplots(
        2, len(sizes) + 1, figsize=(2.6 * (len(sizes) + 1), 6.0), layout="constrained"
    )
    for row, kind in enumerate(KINDS):
        viz.show_array(axes[row, 0], x, f"input {x.shape[0]}x{x.shape[1]}")
        for col, k in enumerate(sizes, start=1):
            y = explore(x, kind, k).output
            viz.show_array(
                axes[row, col], y, f"{kind} {k}x{k} -> {y.shape[0]}x{y.shape[1]}", vmin=0, vmax=1
            )
    fig.suptitle(f"Max (top) vs average (bottom) pooling of '{image}', stride = window")
    return fig
