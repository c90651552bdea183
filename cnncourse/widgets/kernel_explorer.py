"""Live kernel explorer (chapter 1): edit a 3x3 or 5x5 kernel and watch a photo change.

Pure core (tested without a browser): :func:`apply_kernel` / :func:`explore` -- the filtered
image, through :func:`cnncourse.filters.filter2d`. How outputs are coloured, the PNG and HTML
renderers live in :mod:`cnncourse.widgets._render` (shared with the other widgets).

View: :class:`KernelExplorer`. Static figures for the website: :func:`figure` (several kernels
on one photo: kernels above, outputs below) and :func:`state_figure` (one state, as the widget
shows it).
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import data, filters, viz
from .._validate import check_array, check_choice
from . import _render

__all__ = [
    "PRESETS",
    "SIZES",
    "apply_kernel",
    "explore",
    "KernelExplorer",
    "figure",
    "state_figure",
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


# ------------------------------------------------------------------------------ pure core


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
    return filters.filter2d(_render.load_image(image), kernel, boundary)


def explore(image_name: str = "camera", kernel="identity", size: int = 3) -> np.ndarray:
    """Filter a sample photo with a preset name (at ``size``) or an explicit kernel array."""
    if isinstance(kernel, str):
        kernel = filters.kernel(kernel, size)
    return apply_kernel(image_name, kernel)


# ------------------------------------------------------------------------------------ view


class KernelExplorer(_render.FriendlyRepr, widgets.VBox):
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
        self.input_view = _render.image_widget("cnncourse-kernel-input")
        self.kernel_view = widgets.HTML()
        self.kernel_view.add_class("cnncourse-kernel-heatmap")
        self.output_view = _render.image_widget("cnncourse-kernel-output")
        self.colorbar = widgets.HTML()
        self.colorbar.add_class("cnncourse-kernel-colorbar")
        self.cells: list[list[widgets.FloatText]] = []
        self._build_cells(size)

        controls = widgets.HBox([self.preset, self.image, self.size, self.boundary])
        panels = widgets.HBox(
            [
                _render.labelled("input", self.input_view),
                _render.labelled("kernel (edit the cells)", self.grid, self.kernel_view),
                _render.labelled("output", widgets.HBox([self.output_view, self.colorbar])),
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
        self.input_view.value = _render.png_gray(_render.load_image(self.image.value))
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
            self.message.value = _render.error_html(str(err))
            return
        self.result = out
        vmin, vmax, cmap = _render.display_range(k, out)
        self.output_view.value = _render.png_gray(out, vmin, vmax, cmap)
        self.kernel_view.value = _render.kernel_html(k)
        self.colorbar.value = _render.colorbar_html(vmin, vmax, cmap)
        self.message.value = (
            f"kernel sum {k.sum():.3g}; output range [{out.min():.3g}, {out.max():.3g}]"
        )


# --------------------------------------------------------------------------- static figures


def figure(
    image: str = "camera",
    names=("identity", "box", "gaussian", "sharpen", "sobel_x", "sobel_y", "laplacian", "emboss"),
    size: int = 3,
    ncols: int = 4,
) -> plt.Figure:
    """Several kernels on one photo: a row of kernels (with numbers) above a row of outputs."""
    img = _render.load_image(image)
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
        vmin, vmax, cmap = _render.display_range(k, out)
        fmt = "{:.2g}" if names[i] in ("box", "gaussian") else "{:.3g}"
        viz.show_kernel(kax, k, names[i], fmt=fmt)
        viz.show_array(oax, out, f"[{vmin:.2g}, {vmax:.2g}]", cmap=cmap, vmin=vmin, vmax=vmax)
    fig.suptitle(f"{size}x{size} kernels (top) and what they do to '{image}' (bottom)")
    fig.tight_layout()
    return fig


def state_figure(image: str = "camera", kernel="sobel_x", size: int = 3) -> plt.Figure:
    """One explorer state as a figure: input, kernel heat map with numbers, output + colour bar."""
    k = (
        filters.kernel(kernel, size)
        if isinstance(kernel, str)
        else check_array("kernel", kernel, ndim=2)
    )
    name = kernel if isinstance(kernel, str) else "custom"
    img = _render.load_image(image)
    out = apply_kernel(img, k)
    vmin, vmax, cmap = _render.display_range(k, out)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), width_ratios=[1, 0.8, 1.15])
    viz.show_array(axes[0], img, f"input: {image}")
    viz.show_kernel(axes[1], k, f"kernel: {name}")
    viz.show_array(axes[2], out, "output", cmap=cmap, vmin=vmin, vmax=vmax, colorbar=True)
    fig.suptitle(f"Kernel explorer: {name} ({k.shape[0]}x{k.shape[1]}) on {image}")
    fig.tight_layout()
    return fig
