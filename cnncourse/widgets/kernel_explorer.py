"""Live kernel explorer (chapter 1): edit a 3x3 or 5x5 kernel and watch a photo change.

Pure core (tested without a browser): :func:`apply_kernel` / :func:`explore` -- the filtered
image, through :func:`cnncourse.filters.filter2d`. How outputs are coloured, the PNG and HTML
renderers live in :mod:`cnncourse.widgets._render` (shared with the other widgets).

View: :class:`KernelExplorer`, an anywidget whose page front-end (``js/kernel_explorer.js``)
ports the filtering and the colour scale, so it runs without a kernel. Static figures for the website: :func:`figure` (several kernels
on one photo: kernels above, outputs below) and :func:`state_figure` (one state, as the widget
shows it).
"""

from __future__ import annotations

import anywidget
import matplotlib.pyplot as plt
import numpy as np
import traitlets

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


def _preset_cells(name: str, size: int) -> list[list[float]]:
    """A preset kernel as the cells show it (rounded to 4 decimals)."""
    return [[round(float(v), 4) for v in row] for row in filters.kernel(name, size)]


class KernelExplorer(_render.FriendlyRepr, anywidget.AnyWidget):
    """Edit a kernel cell by cell (or pick a preset) and see the filtered photo at once.

    An anywidget: the page filters with ``js/kernel_explorer.js`` (a port of
    :func:`apply_kernel` and of the colour scale, proven equal by
    ``tests/browser/test_explorers_js.py``), so it works on the static website on the photo
    saved with the page; other photos' pixels come from Python (the ``photo`` trait).

    Traits a test (or a student) can set: ``preset`` (one of :data:`PRESETS`, or ``'custom'``
    once a cell is edited), ``image`` (one of ``data.SAMPLE_IMAGES``), ``size`` (3 or 5),
    ``boundary`` and ``cells`` (the kernel, a list of rows). Read-only: ``kernel`` (the cells as
    an array), ``result`` (the last output array) and ``error`` (the message the page shows
    for an invalid kernel, or ``''``).

    Parameters
    ----------
    image : str
        Initial photo name.
    size : {3, 5}
        Initial kernel size.
    preset : str
        Initial preset, one of :data:`PRESETS`.
    """

    _esm = _render.esm("kernel_explorer")
    image = traitlets.Unicode("camera").tag(sync=True)
    size = traitlets.Int(3).tag(sync=True)
    preset = traitlets.Unicode("sobel_x").tag(sync=True)
    boundary = traitlets.Unicode("reflect").tag(sync=True)
    cells = traitlets.List().tag(sync=True)
    presets = traitlets.Dict().tag(sync=True)
    images = traitlets.List().tag(sync=True)
    boundaries = traitlets.List().tag(sync=True)
    luts = traitlets.Dict().tag(sync=True)
    photo = traitlets.Bytes(b"").tag(sync=True)
    photo_source = traitlets.Unicode("").tag(sync=True)
    photo_shape = traitlets.List().tag(sync=True)
    photo_dtype = traitlets.Unicode("float64").tag(sync=True)

    def __init__(self, image: str = "camera", size: int = 3, preset: str = "sobel_x"):
        check_choice("image", image, data.SAMPLE_IMAGES)
        check_choice("size", size, SIZES)
        check_choice("preset", preset, PRESETS)
        self.result: np.ndarray | None = None
        self.error = ""
        super().__init__(
            image=image,
            size=size,
            preset=preset,
            cells=_preset_cells(preset, size),
            presets={n: {str(k): _preset_cells(n, k) for k in SIZES} for n in PRESETS},
            images=list(data.SAMPLE_IMAGES),
            boundaries=list(filters.BOUNDARY_MODES),
            luts={c: _render.lut(c).ravel().tolist() for c in ("gray", _render.SIGNED_CMAP)},
        )
        self.add_class("cnncourse-kernel-explorer")
        self.observe(self._on_preset, names="preset")
        self.observe(self._on_size, names="size")
        self.observe(lambda _: self.update(), names=["image", "boundary", "cells"])
        self.update()

    @property
    def kernel(self) -> np.ndarray:
        """The kernel currently in the cells, shape (size, size)."""
        return np.array(self.cells, dtype=np.float64)

    def _on_preset(self, change=None) -> None:
        if self.preset != "custom":
            self.cells = _preset_cells(self.preset, self.size)

    def _on_size(self, change=None) -> None:
        if self.preset == "custom":
            self.preset = "identity"  # observed: new cells
        else:
            self._on_preset()

    def _send_photo(self) -> None:
        """Give the page the current photo's pixels: one byte each when they are k/255."""
        if self.photo_source == self.image:
            return
        x = _render.load_image(self.image)
        levels = np.round(x * 255)
        exact = bool(np.all(levels / 255 == x))
        with self.hold_sync():
            if exact:
                self.photo, self.photo_dtype = levels.astype(np.uint8).tobytes(), "uint8"
            else:
                self.photo, self.photo_dtype = x.astype("<f8").tobytes(), "float64"
            self.photo_shape = list(x.shape)
            self.photo_source = self.image

    def update(self) -> None:
        """Recompute ``result`` (or ``error``) for the current photo, cells and boundary."""
        self._send_photo()
        try:
            self.result, self.error = apply_kernel(self.image, self.kernel, self.boundary), ""
        except (ValueError, TypeError) as err:
            self.result, self.error = None, str(err)


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
