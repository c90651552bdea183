"""Live kernel explorer (chapter 1): edit a 3x3 or 5x5 kernel and watch a photo change.

Pure core (tested without a browser):

- :func:`apply_kernel` / :func:`explore` -- the filtered image, through :func:`filters.filter2d`.
- :func:`display_range` -- how an output is coloured: images on gray [0, s] (s = kernel sum),
  zero-sum outputs (edges) on a diverging map centred on 0.
- :func:`to_png`, :func:`kernel_html`, :func:`colorbar_html` -- fast renderers (PNG bytes for
  ``ipywidgets.Image``, HTML for the kernel heat map and the colour bar), shared with
  :mod:`cnncourse.widgets.filter_lab`.

View: :class:`KernelExplorer`. Static figures for the website: :func:`explorer_figure` (one
state, as the widget shows it) and :func:`kernel_gallery_figure` (several kernels on one photo;
also available as :func:`static_figure`).
"""

from __future__ import annotations

import html
import io
from functools import lru_cache

import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image as PILImage

from .. import data, filters, viz
from .._validate import check_array, check_choice

__all__ = [
    "PRESETS",
    "SIZES",
    "load_image",
    "apply_kernel",
    "explore",
    "display_range",
    "to_rgb",
    "to_png",
    "kernel_html",
    "colorbar_html",
    "KernelExplorer",
    "show_kernel",
    "explorer_figure",
    "kernel_gallery_figure",
    "static_figure",
]

# Preset names offered in the dropdown (all are keys of filters.KERNELS).
PRESETS = (
    "identity",
    "box",
    "gaussian",
    "sharpen",
    "sobel_x",
    "sobel_y",
    "prewitt_x",
    "prewitt_y",
    "scharr_x",
    "scharr_y",
    "laplacian",
    "emboss",
)
SIZES = (3, 5)
IMAGE_CMAP = "gray"
SIGNED_CMAP = "RdBu_r"  # negative blue, zero white, positive red
SIGNED_PERCENTILE = 99.5


# ------------------------------------------------------------------------------ pure core


@lru_cache(maxsize=16)
def _cached_image(name: str) -> np.ndarray:
    img = data.sample_image(name)
    img.setflags(write=False)
    return img


def load_image(image) -> np.ndarray:
    """A grayscale float image: a name from ``data.SAMPLE_IMAGES`` (cached) or an (H, W) array."""
    if isinstance(image, str):
        check_choice("image", image, data.SAMPLE_IMAGES)
        return _cached_image(image)
    return check_array("image", image, ndim=2).astype(np.float64, copy=False)


def apply_kernel(image, kernel, boundary: str = "reflect") -> np.ndarray:
    """The explorer's output: ``filters.filter2d(image, kernel, boundary)``.

    Parameters
    ----------
    image : str or array_like, shape (H, W)
        A sample-image name or a grayscale image.
    kernel : array_like, shape (kh, kw)

    Returns
    -------
    ndarray of float64, shape (H, W)
    """
    return filters.filter2d(load_image(image), kernel, boundary)


def explore(image_name: str = "camera", kernel="identity", size: int = 3) -> np.ndarray:
    """Filter a sample photo with a preset name (at ``size``) or an explicit kernel array."""
    if isinstance(kernel, str):
        kernel = filters.kernel(kernel, size)
    return apply_kernel(image_name, kernel)


def display_range(kernel, output=None) -> tuple[float, float, str]:
    """Colour scale for an output: ``(vmin, vmax, cmap)``.

    A kernel that sums to s maps a white image to s, so a photo in [0, 1] is shown on gray over
    [min(0, s), max(0, s)] (overshoot, e.g. from sharpening, is clipped as photo editors do).
    A zero-sum kernel (an edge detector) gives signed output: a diverging map symmetric about
    0, scaled to the 99.5th percentile of ``|output|`` (a few very strong edges would otherwise
    wash out all others; the stronger ones get the end colours), or to ``sum |kernel|``
    without an output.
    """
    kernel = check_array("kernel", kernel, ndim=2)
    s = float(kernel.sum())
    if abs(s) > 1e-9 * max(1.0, float(np.abs(kernel).sum())):
        return min(0.0, s), max(0.0, s), IMAGE_CMAP
    if output is None:
        bound = float(np.abs(kernel).sum())
    else:
        bound = float(np.percentile(np.abs(output), SIGNED_PERCENTILE))
    bound = bound if bound > 0 else 1.0
    return -bound, bound, SIGNED_CMAP


@lru_cache(maxsize=8)
def _lut(cmap: str) -> np.ndarray:
    # Integer input indexes matplotlib's 256-entry table directly; bytes=True gives uint8.
    return matplotlib.colormaps[cmap](np.arange(256), bytes=True)[:, :3]


def _indices(values, vmin: float, vmax: float) -> np.ndarray:
    # matplotlib's binning: t = (v - vmin) / (vmax - vmin) in [0, 1] -> floor(256 t), clipped.
    values = check_array("values", values, ndim=2)
    scale = 256.0 / (vmax - vmin) if vmax > vmin else 0.0
    return np.clip((values - vmin) * scale, 0, 255).astype(np.uint8)


def to_rgb(values, vmin: float, vmax: float, cmap: str = IMAGE_CMAP) -> np.ndarray:
    """Map a 2-D array to uint8 RGB (H, W, 3) as ``matplotlib`` does with ``Normalize(vmin, vmax)``
    and a 256-colour map (values outside [vmin, vmax] get the end colours)."""
    return _lut(cmap)[_indices(values, vmin, vmax)]


def to_png(values, vmin: float = 0.0, vmax: float = 1.0, cmap: str = IMAGE_CMAP) -> bytes:
    """PNG bytes of a colour-mapped 2-D array, for ``ipywidgets.Image``.

    Written as a palette image (one byte per pixel plus the 256-colour table) with fast zlib
    level 1: about 3x quicker to encode and smaller than RGB, with the same pixels as
    :func:`to_rgb`.
    """
    im = PILImage.fromarray(_indices(values, vmin, vmax))
    im.putpalette(_lut(cmap).ravel().tolist())
    buf = io.BytesIO()
    im.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def _css_color(cmap: str, t: float) -> str:
    r, g, b = _lut(cmap)[int(np.clip(t, 0, 1) * 255)]
    return f"rgb({r},{g},{b})"


def kernel_html(kernel, fmt: str = "{:.3g}", cell_px: int = 40) -> str:
    """The kernel as an HTML heat map with its numbers (diverging colours centred on 0)."""
    kernel = check_array("kernel", kernel, ndim=2)
    bound = float(np.abs(kernel).max()) or 1.0
    rows = []
    for r in kernel:
        cells = []
        for v in r:
            t = 0.5 + 0.5 * v / bound
            ink = "white" if abs(v) > 0.6 * bound else "black"
            cells.append(
                f'<td style="background:{_css_color(SIGNED_CMAP, t)};color:{ink};'
                f"width:{cell_px}px;height:{cell_px}px;text-align:center;"
                f'font-size:11px;border:1px solid #ccc">{html.escape(fmt.format(v))}</td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return '<table style="border-collapse:collapse">' + "".join(rows) + "</table>"


def colorbar_html(vmin: float, vmax: float, cmap: str, height_px: int = 200) -> str:
    """A vertical colour bar (CSS gradient) labelled with vmax at the top and vmin at the bottom."""
    stops = ", ".join(_css_color(cmap, t) for t in np.linspace(1, 0, 9))
    return (
        '<div style="display:flex;align-items:stretch;gap:4px;font-size:11px">'
        f'<div style="width:14px;height:{height_px}px;border:1px solid #999;'
        f'background:linear-gradient({stops})"></div>'
        f'<div style="display:flex;flex-direction:column;justify-content:space-between;'
        f'height:{height_px}px"><span>{vmax:.3g}</span><span>{(vmin + vmax) / 2:.3g}</span>'
        f"<span>{vmin:.3g}</span></div></div>"
    )


# ------------------------------------------------------------------------------------ view


def _image_widget(css_class: str, width: str = "256px") -> widgets.Image:
    w = widgets.Image(format="png", layout=widgets.Layout(width=width, height="auto"))
    w.add_class(css_class)
    return w


def _labelled(title: str, *children: widgets.Widget) -> widgets.VBox:
    return widgets.VBox(
        [widgets.HTML(f"<b>{html.escape(title)}</b>"), *children],
        layout=widgets.Layout(margin="0 12px 0 0"),
    )


class KernelExplorer(widgets.VBox):
    """Edit a kernel cell by cell (or pick a preset) and see the filtered photo at once.

    Attributes a test (or a student) can drive: ``preset`` (Dropdown, plus ``'custom'`` once a
    cell is edited), ``image`` (Dropdown of ``data.SAMPLE_IMAGES``), ``size`` (ToggleButtons
    3 / 5; rebuilds ``cells``), ``cells`` (list of lists of FloatText), ``boundary``;
    read-only: ``kernel`` (current array), ``result`` (last output array), ``message``
    (HTML; shows errors instead of a traceback).

    Parameters
    ----------
    image : str
        Initial photo name.
    size : {3, 5}
        Initial kernel size.
    preset : str
        Initial preset, one of :data:`PRESETS`.
    """

    def __init__(self, image: str = "camera", size: int = 3, preset: str = "sobel_x"):
        check_choice("image", image, data.SAMPLE_IMAGES)
        check_choice("size", size, SIZES)
        check_choice("preset", preset, PRESETS)
        self._busy = False  # True while we set many cells at once: update once at the end
        self.result: np.ndarray | None = None

        self.preset = widgets.Dropdown(
            options=(*PRESETS, "custom"), value=preset, description="preset"
        )
        self.preset.add_class("cnncourse-kernel-preset")
        self.image = widgets.Dropdown(options=data.SAMPLE_IMAGES, value=image, description="photo")
        self.image.add_class("cnncourse-kernel-image")
        self.size = widgets.ToggleButtons(
            options=[("3x3", 3), ("5x5", 5)], value=size, description="size"
        )
        self.size.add_class("cnncourse-kernel-size")
        self.boundary = widgets.Dropdown(
            options=tuple(filters.BOUNDARY_MODES), value="reflect", description="boundary"
        )
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-kernel-message")
        self.grid = widgets.GridBox(layout=widgets.Layout(grid_gap="2px"))
        self.grid.add_class("cnncourse-kernel-grid")
        self.input_view = _image_widget("cnncourse-kernel-input")
        self.kernel_view = widgets.HTML()
        self.kernel_view.add_class("cnncourse-kernel-heatmap")
        self.output_view = _image_widget("cnncourse-kernel-output")
        self.colorbar = widgets.HTML()
        self.colorbar.add_class("cnncourse-kernel-colorbar")
        self.cells: list[list[widgets.FloatText]] = []
        self._build_cells(size)

        controls = widgets.HBox([self.preset, self.image, self.size, self.boundary])
        panels = widgets.HBox(
            [
                _labelled("input", self.input_view),
                _labelled("kernel (edit the cells)", self.grid, self.kernel_view),
                _labelled("output", widgets.HBox([self.output_view, self.colorbar])),
            ],
            layout=widgets.Layout(align_items="flex-start"),
        )
        super().__init__([controls, panels, self.message])
        self.add_class("cnncourse-kernel-explorer")

        self.preset.observe(self._on_preset, names="value")
        self.image.observe(self._on_image, names="value")
        self.size.observe(self._on_size, names="value")
        self.boundary.observe(lambda _: self.update(), names="value")
        self._on_image()
        self._set_cells(filters.kernel(preset, size))

    # -- kernel cells
    def _build_cells(self, size: int) -> None:
        self.cells = [
            [widgets.FloatText(value=0.0, layout=widgets.Layout(width="62px")) for _ in range(size)]
            for _ in range(size)
        ]
        for row in self.cells:
            for cell in row:
                cell.add_class("cnncourse-kernel-cell")
                cell.observe(self._on_cell, names="value")
        self.grid.layout.grid_template_columns = f"repeat({size}, 64px)"
        self.grid.children = [cell for row in self.cells for cell in row]

    def _set_cells(self, k: np.ndarray) -> None:
        self._busy = True
        try:
            for row, values in zip(self.cells, k, strict=True):
                for cell, v in zip(row, values, strict=True):
                    cell.value = round(float(v), 4)
        finally:
            self._busy = False
        self.update()

    @property
    def kernel(self) -> np.ndarray:
        """The kernel currently in the cells, shape (size, size)."""
        return np.array([[cell.value for cell in row] for row in self.cells], dtype=np.float64)

    # -- events
    def _on_preset(self, change=None) -> None:
        if self.preset.value != "custom":
            self._set_cells(filters.kernel(self.preset.value, self.size.value))

    def _on_size(self, change=None) -> None:
        self._build_cells(self.size.value)
        if self.preset.value == "custom":
            self.preset.value = "identity"  # triggers _set_cells
        else:
            self._on_preset()

    def _on_image(self, change=None) -> None:
        self.input_view.value = to_png(load_image(self.image.value))
        self.update()

    def _on_cell(self, change) -> None:
        if self._busy:
            return
        if self.preset.value != "custom":
            self._busy = True  # switching the label to 'custom' must not reset the cells
            try:
                self.preset.value = "custom"
            finally:
                self._busy = False
        self.update()

    def update(self) -> None:
        """Recompute the output from the current cells and redraw (errors go to ``message``)."""
        if self._busy:
            return
        k = self.kernel
        try:
            out = apply_kernel(self.image.value, k, self.boundary.value)
        except (ValueError, TypeError) as err:
            self.message.value = f'<span style="color:#b00">{html.escape(str(err))}</span>'
            return
        self.result = out
        vmin, vmax, cmap = display_range(k, out)
        self.output_view.value = to_png(out, vmin, vmax, cmap)
        self.kernel_view.value = kernel_html(k)
        self.colorbar.value = colorbar_html(vmin, vmax, cmap)
        self.message.value = (
            f"kernel sum {k.sum():.3g}; output range [{out.min():.3g}, {out.max():.3g}]"
        )


# --------------------------------------------------------------------------- static figures


def show_kernel(ax: plt.Axes, kernel, title: str = "", fmt: str = "{:.3g}", annotate: bool = True):
    """Draw a kernel as a heat map centred on 0 with its numbers (legible on dark cells)."""
    kernel = check_array("kernel", kernel, ndim=2)
    im = viz.show_array(ax, kernel, title, cmap=SIGNED_CMAP, symmetric=True)
    if annotate:
        bound = float(np.abs(kernel).max()) or 1.0
        for (r, c), v in np.ndenumerate(kernel):
            ink = "white" if abs(v) > 0.6 * bound else "black"
            ax.text(c, r, fmt.format(v), ha="center", va="center", color=ink, fontsize=9)
    return im


def explorer_figure(image: str = "camera", kernel="sobel_x", size: int = 3) -> plt.Figure:
    """One explorer state as a figure: input, kernel heat map with numbers, output + colour bar."""
    k = (
        filters.kernel(kernel, size)
        if isinstance(kernel, str)
        else check_array("kernel", kernel, ndim=2)
    )
    name = kernel if isinstance(kernel, str) else "custom"
    img = load_image(image)
    out = apply_kernel(img, k)
    vmin, vmax, cmap = display_range(k, out)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), width_ratios=[1, 0.8, 1.15])
    viz.show_array(axes[0], img, f"input: {image}")
    show_kernel(axes[1], k, f"kernel: {name}")
    viz.show_array(axes[2], out, "output", cmap=cmap, vmin=vmin, vmax=vmax, colorbar=True)
    fig.suptitle(f"Kernel explorer: {name} ({k.shape[0]}x{k.shape[1]}) on {image}")
    fig.tight_layout()
    return fig


def kernel_gallery_figure(
    image: str = "camera",
    names=("identity", "box", "gaussian", "sharpen", "sobel_x", "sobel_y", "laplacian", "emboss"),
    size: int = 3,
    ncols: int = 4,
) -> plt.Figure:
    """Several kernels on one photo: a row of kernels (with numbers) above a row of outputs."""
    img = load_image(image)
    names = list(names)
    for n in names:
        check_choice("names", n, PRESETS)
    nblocks = -(-len(names) // ncols)
    fig, axes = plt.subplots(
        2 * nblocks,
        ncols,
        figsize=(2.4 * ncols, 4.4 * nblocks),
        height_ratios=[0.7, 1] * nblocks,
        squeeze=False,
    )
    for i, ax in enumerate(axes[::2].flat):
        kax, oax = ax, axes[2 * (i // ncols) + 1, i % ncols]
        if i >= len(names):
            kax.axis("off")
            oax.axis("off")
            continue
        k = filters.kernel(names[i], size)
        out = apply_kernel(img, k)
        vmin, vmax, cmap = display_range(k, out)
        fmt = "{:.2g}" if names[i] in ("box", "gaussian") else "{:.3g}"
        show_kernel(kax, k, names[i], fmt=fmt)
        viz.show_array(oax, out, f"[{vmin:.2g}, {vmax:.2g}]", cmap=cmap, vmin=vmin, vmax=vmax)
    fig.suptitle(f"{size}x{size} kernels (top) and what they do to '{image}' (bottom)")
    fig.tight_layout()
    return fig


# The name chapters use for "the widget's static rendering for the website".
static_figure = kernel_gallery_figure
