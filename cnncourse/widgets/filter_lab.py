"""Filter lab (chapter 2): pick a photo and a filter family, move sigma, flip the direction.

Pure core: :func:`lab_kernel` (the 2-D kernel a family and its parameters stand for) and
:func:`filter_lab` (kernel, output and gradient magnitude, computed with the fast separable
routines of :mod:`cnncourse.filters`). The view, :class:`FilterLab`, draws with the shared
renderers of :mod:`cnncourse.widgets._render` (PNG images, kernel heat map, colour bars).
Static rendering for the website: :func:`figure`.
"""

from __future__ import annotations

from typing import NamedTuple

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import data, filters, viz
from .._validate import check_choice, check_int, check_positive_float
from . import _render

__all__ = [
    "FAMILIES",
    "DIRECTIONS",
    "LabResult",
    "magnitude_max",
    "lab_kernel",
    "filter_lab",
    "FilterLab",
    "figure",
]

FAMILIES = (
    "gaussian",
    "box",
    "sobel",
    "prewitt",
    "scharr",
    "laplacian",
    "sharpen",
    "unsharp",
    "dog",
)
DIRECTIONS = ("x", "y")
SIGMA_FAMILIES = ("gaussian", "unsharp", "dog")
DIRECTION_FAMILIES = ("sobel", "prewitt", "scharr")
DOG_RATIO = 1.6  # high_sigma = 1.6 low_sigma, as skimage.filters.difference_of_gaussians
UNSHARP_AMOUNT = 1.0
MAX_ANNOTATED = 7  # kernels up to 7x7 are shown with their numbers, larger ones as a picture


MAGNITUDE_CMAP = "magma"


def magnitude_max(magnitude) -> float:
    """Top of the magnitude colour scale: the 99.5th percentile (so a few strong edges do not
    wash out the rest), or 1 for a flat image."""
    return float(np.percentile(magnitude, _render.SIGNED_PERCENTILE)) or 1.0


class LabResult(NamedTuple):
    """What the filter lab shows: ``kernel`` (kh, kw); ``output`` and ``magnitude`` (H, W)."""

    kernel: np.ndarray
    output: np.ndarray
    magnitude: np.ndarray


def _check_params(family, sigma, direction, size):
    check_choice("family", family, FAMILIES)
    sigma = check_positive_float("sigma", sigma)
    check_choice("direction", direction, DIRECTIONS)
    size = check_int("size", size, minimum=1)
    return sigma, size


def lab_kernel(family: str, sigma: float = 2.0, direction: str = "x", size: int = 3) -> np.ndarray:
    """The 2-D kernel equivalent to a family and its parameters.

    Parameters
    ----------
    family : {'gaussian', 'box', 'sobel', 'prewitt', 'scharr', 'laplacian', 'sharpen',
        'unsharp', 'dog'}
    sigma : float > 0
        Gaussian, unsharp mask (blur sigma; amount 1) and difference of Gaussians (low sigma;
        high = 1.6 sigma).
    direction : {'x', 'y'}
        Derivative direction for Sobel, Prewitt and Scharr.
    size : int >= 1
        Box width.

    Returns
    -------
    ndarray, shape (k, k)
        Unsharp masking and DoG are linear: their kernels are :func:`filters.unsharp_kernel`
        ``(1 + a) identity - a G`` and :func:`filters.dog_kernel` ``G(sigma) - G(1.6 sigma)``.
    """
    sigma, size = _check_params(family, sigma, direction, size)
    if family == "gaussian":
        return filters.gaussian_kernel2d(sigma)
    if family == "box":
        return filters.box(size)
    if family in DIRECTION_FAMILIES:
        return np.array(filters.GRADIENT_OPERATORS[family][DIRECTIONS.index(direction)])
    if family == "laplacian":
        return np.array(filters.LAPLACIAN_4)
    if family == "sharpen":
        return np.array(filters.SHARPEN)
    if family == "unsharp":
        return filters.unsharp_kernel(sigma, UNSHARP_AMOUNT)
    return filters.dog_kernel(sigma, DOG_RATIO * sigma)  # family == "dog"


def filter_lab(
    image="camera",
    family: str = "gaussian",
    sigma: float = 2.0,
    direction: str = "x",
    size: int = 3,
    boundary: str = "reflect",
) -> LabResult:
    """Apply a filter family to a photo; also return its kernel and a gradient magnitude.

    Parameters
    ----------
    image : str or array_like, shape (H, W)
        A name from ``data.SAMPLE_IMAGES`` or a grayscale image.
    family, sigma, direction, size
        As in :func:`lab_kernel`.
    boundary : str
        As in :func:`filters.filter2d`.

    Returns
    -------
    LabResult
        ``output`` equals ``filters.filter2d(image, kernel, boundary)`` but is computed the fast
        way (separable passes for Gaussians and boxes). ``magnitude``: for Sobel/Prewitt/Scharr,
        ``hypot(gx, gy)`` of the input with that operator (the output is one of the two); for the
        other families, the Sobel gradient magnitude of the output (how edgy the result is).
    """
    sigma, size = _check_params(family, sigma, direction, size)
    img = _render.load_image(image)
    k = lab_kernel(family, sigma, direction, size)
    magnitude = None
    if family == "gaussian":
        out = filters.gaussian_blur(img, sigma, boundary=boundary)
    elif family == "box":
        ones = np.full(size, 1.0 / size)
        out = filters.separable_filter(img, ones, ones, boundary)
    elif family in DIRECTION_FAMILIES:
        gx, gy = filters.sobel_gradients(img, family, boundary)
        out = gx if direction == "x" else gy
        magnitude = np.hypot(gx, gy)
    elif family == "unsharp":
        out = filters.unsharp_mask(img, sigma, UNSHARP_AMOUNT, boundary)
    elif family == "dog":
        out = filters.difference_of_gaussians(img, sigma, DOG_RATIO * sigma, boundary)
    else:
        out = filters.filter2d(img, k, boundary)
    if magnitude is None:
        magnitude = filters.gradient_magnitude_direction(out, "sobel", boundary)[0]
    return LabResult(k, out, magnitude)


class FilterLab(_render.NeedsKernel, widgets.VBox):
    """Filter families on real photos: input, kernel (heat map), output and gradient magnitude.

    Drivable attributes: ``image`` (Dropdown), ``family`` (Dropdown of :data:`FAMILIES`),
    ``sigma`` (FloatSlider; shown for gaussian/unsharp/dog), ``direction`` (ToggleButtons x/y;
    shown for sobel/prewitt/scharr), ``box_size`` (IntSlider; shown for box). Read-only:
    ``result`` (the last :class:`LabResult`), ``message`` (HTML; errors appear here).
    """

    def __init__(self, image: str = "camera", family: str = "gaussian", sigma: float = 2.0):
        check_choice("image", image, data.SAMPLE_IMAGES)
        check_choice("family", family, FAMILIES)
        self.result: LabResult | None = None
        self.image = widgets.Dropdown(options=data.SAMPLE_IMAGES, value=image, description="photo")
        self.image.add_class("cnncourse-filter-image")
        self.family = widgets.Dropdown(options=FAMILIES, value=family, description="filter")
        self.family.add_class("cnncourse-filter-family")
        self.sigma = widgets.FloatSlider(
            value=sigma, min=0.5, max=6.0, step=0.1, description="sigma", continuous_update=False
        )
        self.sigma.add_class("cnncourse-filter-sigma")
        self.direction = widgets.ToggleButtons(
            options=DIRECTIONS, value="x", description="direction"
        )
        self.direction.add_class("cnncourse-filter-direction")
        self.box_size = widgets.IntSlider(
            value=5, min=1, max=15, step=2, description="box size", continuous_update=False
        )
        self.box_size.add_class("cnncourse-filter-size")
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-filter-message")
        self.input_view = _render.image_widget("cnncourse-filter-input", "240px")
        self.kernel_view = widgets.HTML()
        self.kernel_view.add_class("cnncourse-filter-kernel")
        self.kernel_image = _render.image_widget("cnncourse-filter-kernel-image", "160px")
        self.kernel_colorbar = widgets.HTML()
        self.output_view = _render.image_widget("cnncourse-filter-output", "240px")
        self.output_colorbar = widgets.HTML()
        self.magnitude_view = _render.image_widget("cnncourse-filter-magnitude", "240px")
        self.magnitude_colorbar = widgets.HTML()

        controls = widgets.HBox(
            [self.image, self.family, self.sigma, self.direction, self.box_size]
        )
        controls.layout.flex_flow = "row wrap"
        panels = widgets.HBox(
            [
                _render.labelled("input", self.input_view),
                _render.labelled(
                    "kernel",
                    widgets.HBox(
                        [widgets.VBox([self.kernel_view, self.kernel_image]), self.kernel_colorbar]
                    ),
                ),
                _render.labelled("output", widgets.HBox([self.output_view, self.output_colorbar])),
                _render.labelled(
                    "gradient magnitude",
                    widgets.HBox([self.magnitude_view, self.magnitude_colorbar]),
                ),
            ],
            layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap"),
        )
        super().__init__([controls, panels, self.message])
        self.add_class("cnncourse-filter-lab")
        self.image.observe(self._on_image, names="value")
        for control in (self.family, self.sigma, self.direction, self.box_size):
            control.observe(lambda _: self.update(), names="value")
        self._on_image()

    def _on_image(self, change=None) -> None:
        self.input_view.value = _render.png_gray(_render.load_image(self.image.value))
        self.update()

    def _show_controls(self) -> None:
        fam = self.family.value
        for control, shown in (
            (self.sigma, fam in SIGMA_FAMILIES),
            (self.direction, fam in DIRECTION_FAMILIES),
            (self.box_size, fam == "box"),
        ):
            control.layout.display = "" if shown else "none"

    def update(self) -> None:
        """Recompute from the controls and redraw (errors go to ``message``)."""
        self._show_controls()
        try:
            res = filter_lab(
                self.image.value,
                self.family.value,
                self.sigma.value,
                self.direction.value,
                self.box_size.value,
            )
        except (ValueError, TypeError) as err:
            self.message.value = _render.error_html(str(err))
            return
        self.result = res
        k = res.kernel
        bound = float(np.abs(k).max()) or 1.0
        if k.shape[0] <= MAX_ANNOTATED:
            self.kernel_view.value = _render.kernel_html(k)
            self.kernel_image.layout.display = "none"
        else:
            self.kernel_view.value = ""
            # Repeat pixels so the browser shows crisp squares instead of a smeared blob.
            big = _render.upscale(k, 160)
            self.kernel_image.value = _render.png_gray(big, -bound, bound, _render.SIGNED_CMAP)
            self.kernel_image.layout.display = ""
        self.kernel_colorbar.value = _render.colorbar_html(
            -bound, bound, _render.SIGNED_CMAP, height_px=140
        )
        vmin, vmax, cmap = _render.display_range(k, res.output)
        self.output_view.value = _render.png_gray(res.output, vmin, vmax, cmap)
        self.output_colorbar.value = _render.colorbar_html(vmin, vmax, cmap)
        mmax = magnitude_max(res.magnitude)
        self.magnitude_view.value = _render.png_gray(res.magnitude, 0.0, mmax, MAGNITUDE_CMAP)
        self.magnitude_colorbar.value = _render.colorbar_html(0.0, mmax, MAGNITUDE_CMAP)
        self.message.value = (
            f"{self.family.value}: kernel {k.shape[0]}x{k.shape[1]}, sum {k.sum():.3g}; "
            f"output range [{res.output.min():.3g}, {res.output.max():.3g}]"
        )


DEFAULT_STATES = (
    {"family": "gaussian", "sigma": 1.0},
    {"family": "gaussian", "sigma": 4.0},
    {"family": "sobel", "direction": "x"},
    {"family": "sobel", "direction": "y"},
    {"family": "unsharp", "sigma": 2.0},
    {"family": "dog", "sigma": 1.5},
)


def _state_title(state: dict) -> str:
    fam = state["family"]
    if fam in SIGMA_FAMILIES:
        return f"{fam}, sigma={state.get('sigma', 2.0):g}"
    if fam in DIRECTION_FAMILIES:
        return f"{fam} {state.get('direction', 'x')}"
    if fam == "box":
        return f"box {state.get('size', 3)}x{state.get('size', 3)}"
    return fam


def figure(image: str = "camera", states=DEFAULT_STATES) -> plt.Figure:
    """Static rendering of several lab states: one row each with kernel, output and magnitude."""
    states = list(states)
    fig, axes = plt.subplots(len(states), 3, figsize=(8, 2.6 * len(states)), squeeze=False)
    for row, state in zip(axes, states, strict=True):
        res = filter_lab(image, **state)
        title = _state_title(state)
        k = res.kernel
        viz.show_kernel(row[0], k, f"kernel: {title}", fmt="{:.2g}", annotate=k.shape[0] <= 5)
        vmin, vmax, cmap = _render.display_range(k, res.output)
        viz.show_array(row[1], res.output, "output", cmap=cmap, vmin=vmin, vmax=vmax, colorbar=True)
        viz.show_array(
            row[2],
            res.magnitude,
            "gradient magnitude",
            cmap=MAGNITUDE_CMAP,
            vmin=0.0,
            vmax=magnitude_max(res.magnitude),
            colorbar=True,
        )
    fig.suptitle(f"Filter lab on '{image}': kernel, output, gradient magnitude")
    fig.tight_layout()
    return fig
