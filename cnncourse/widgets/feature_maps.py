"""Feature-map browser (chapter 7): pick an image, a layer and a channel; see what the layer saw.

Pure core (tested without a browser):

- :func:`map_layers` -- the layers whose output is a stack of maps (N, C, h, w).
- :func:`browse` -- one state: the input, every channel of the layer (through
  :func:`cnncourse.explain.feature_maps`), the chosen channel and a shared colour scale.
- :func:`tile` -- channels side by side in a grid (NaN gutters), :func:`colour_range`.
- :func:`map_png` -- a map or a tiled grid as PNG bytes (gutters white).

View: :class:`FeatureMapBrowser` (index slider, layer dropdown, channel slider; PNG images drawn
with :mod:`cnncourse.widgets._render`). Static figures for the website: :func:`figure` (the
key states, layer by layer) and :func:`state_figure` (given states as the widget shows them).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .. import explain, viz
from .._validate import check_array, check_choice, check_int
from . import _render

__all__ = [
    "FeatureMapState",
    "map_layers",
    "tile",
    "colour_range",
    "browse",
    "map_png",
    "FeatureMapBrowser",
    "figure",
    "state_figure",
]

SIGNED_CMAP = "RdBu_r"  # signed maps (before a ReLU): blue < 0 < red
POSITIVE_CMAP = "viridis"  # non-negative maps (after a ReLU or max pooling)


# ------------------------------------------------------------------------------ pure core


def map_layers(model: nn.Module, example) -> list[str]:
    """Names of the leaf layers that output maps ``(N, C, h, w)`` for this input, in run order.

    Parameters
    ----------
    model : nn.Module
    example : Tensor, shape (N, C, H, W)
        Any input the model accepts (only its first sample is used).
    """
    x = torch.as_tensor(example)[:1]
    maps = explain.feature_maps(model, x)
    return [name for name, a in maps.items() if a.ndim == 4]


def tile(maps, ncols: int | None = None, gap: int = 1) -> np.ndarray:
    """Lay channels (C, h, w) out in a grid, row by row, separated by NaN gutters.

    Parameters
    ----------
    maps : array_like, shape (C, h, w)
    ncols : int, optional
        Columns (default ``ceil(sqrt(C))``).
    gap : int
        Gutter width in pixels (>= 0).

    Returns
    -------
    ndarray of float64, shape (rows h + (rows - 1) gap, ncols w + (ncols - 1) gap); channel
    ``k`` sits at row ``k // ncols``, column ``k % ncols``; gutters and empty cells are NaN.
    """
    maps = check_array("maps", maps, ndim=3).astype(np.float64)
    c, h, w = maps.shape
    ncols = math.ceil(math.sqrt(c)) if ncols is None else check_int("ncols", ncols, minimum=1)
    gap = check_int("gap", gap, minimum=0)
    rows = math.ceil(c / ncols)
    out = np.full((rows * h + (rows - 1) * gap, ncols * w + (ncols - 1) * gap), np.nan)
    for k in range(c):
        r, q = divmod(k, ncols)
        out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = maps[k]
    return out


def colour_range(values) -> tuple[float, float, str]:
    """``(vmin, vmax, cmap)`` for a layer: [0, max] on viridis if nothing is negative, else a
    diverging map symmetric about 0. One range for all channels keeps them comparable."""
    v = check_array("values", values)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0, POSITIVE_CMAP
    if v.min() >= 0:
        return 0.0, float(v.max()) or 1.0, POSITIVE_CMAP
    bound = float(np.abs(v).max()) or 1.0
    return -bound, bound, SIGNED_CMAP


@dataclass(frozen=True)
class FeatureMapState:
    """One browser state. ``maps`` (C, h, w) are all channels of ``layer`` for image ``index``;
    ``activation`` is channel ``channel``; ``vmin``, ``vmax``, ``cmap`` colour every channel."""

    index: int
    layer: str
    channel: int
    image: np.ndarray
    maps: np.ndarray
    vmin: float
    vmax: float
    cmap: str

    @property
    def activation(self) -> np.ndarray:
        return self.maps[self.channel]

    @property
    def channels(self) -> int:
        return self.maps.shape[0]

    @property
    def summary(self) -> str:
        a = self.activation
        c, h, w = self.maps.shape
        active = float((self.maps > 0).mean())
        return (
            f"layer {self.layer}: {c} maps of {h}x{w}; channel {self.channel}: "
            f"min {a.min():.3g}, max {a.max():.3g}, mean {a.mean():.3g}; "
            f"{100 * active:.0f}% of the layer's values are > 0"
        )


def browse(
    model: nn.Module, images, index: int = 0, layer: str | None = None, channel: int = 0
) -> FeatureMapState:
    """The feature maps of one image at one layer.

    Parameters
    ----------
    model : nn.Module
    images : Tensor, shape (N, C, H, W)
        Model inputs (e.g. normalised digits).
    index : int
        Which image (0 .. N-1).
    layer : str, optional
        A layer with map output (see :func:`map_layers`); default the first one.
    channel : int
        Which map of the layer to single out (0 .. C_layer - 1).

    Returns
    -------
    FeatureMapState
    """
    x, index = _render.batch_and_index(images, index)
    if layer is None:
        layer = map_layers(model, x)[0]
    a = explain.feature_maps(model, x[index : index + 1], layer)[layer]
    if a.ndim != 4:
        raise ValueError(
            f"layer {layer!r} outputs shape {tuple(a.shape)}, not maps (N, C, h, w); "
            "pick a convolution, activation or pooling layer"
        )
    channel = check_int("channel", channel, minimum=0)
    if channel >= a.shape[1]:
        raise ValueError(
            f"channel must be in 0..{a.shape[1] - 1} for layer {layer!r}, got {channel}"
        )
    maps = a[0].double().cpu().numpy()
    vmin, vmax, cmap = colour_range(maps)
    image = _render.display_images(x[index : index + 1].detach().cpu().numpy())[0]
    return FeatureMapState(index, layer, channel, image, maps, vmin, vmax, cmap)


def map_png(values, vmin: float, vmax: float, cmap: str, target: int = 168) -> bytes:
    """A map (or a :func:`tile` grid) as PNG bytes, enlarged to about ``target`` pixels;
    NaN gutters are drawn white so they cannot be mistaken for values."""
    big = _render.upscale(check_array("values", values, ndim=2).astype(np.float64), target)
    gaps = ~np.isfinite(big)
    rgb = _render.to_rgb(np.where(gaps, vmin, big), vmin, vmax, cmap)
    rgb[gaps] = 255
    return _render.png_rgb(rgb)


# ------------------------------------------------------------------------------------ view


class FeatureMapBrowser(_render.NeedsKernel, widgets.VBox):
    """Browse the feature maps of a CNN: image, layer, channel.

    Attributes a test can drive: ``index`` (IntSlider), ``layer`` (Dropdown), ``channel``
    (IntSlider; its maximum follows the layer); read-only ``result`` (last
    :class:`FeatureMapState`) and ``message`` (HTML: a summary, or the error).

    Parameters
    ----------
    model : nn.Module
    images : Tensor, shape (N, C, H, W)
        Model inputs.
    labels : sequence of int, optional
        Shown next to the index.
    layers : sequence of str, optional
        Layers offered (default :func:`map_layers`).
    """

    def __init__(self, model: nn.Module, images, labels=None, layers=None, index: int = 0):
        self.model = model
        self.images = torch.as_tensor(images)
        if self.images.ndim != 4 or len(self.images) == 0:
            raise ValueError(
                f"images must be (N, C, H, W) with N >= 1, got {tuple(self.images.shape)}"
            )
        self.labels = None if labels is None else [int(v) for v in labels]
        options = list(layers) if layers is not None else map_layers(model, self.images)
        if not options:
            raise ValueError("layers must name at least one layer")
        self.result: FeatureMapState | None = None

        self.index = widgets.IntSlider(
            value=index, min=0, max=len(self.images) - 1, description="image"
        )
        self.index.add_class("cnncourse-fmap-index")
        self.layer = widgets.Dropdown(options=options, value=options[0], description="layer")
        self.layer.add_class("cnncourse-fmap-layer")
        self.channel = widgets.IntSlider(value=0, min=0, max=0, description="channel")
        self.channel.add_class("cnncourse-fmap-channel")
        self.input_view = _render.image_widget("cnncourse-fmap-input", "168px")
        self.map_view = _render.image_widget("cnncourse-fmap-map", "168px")
        self.grid_view = _render.image_widget("cnncourse-fmap-grid", "336px")
        self.caption = widgets.HTML()
        self.caption.add_class("cnncourse-fmap-caption")
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-fmap-message")

        panels = widgets.HBox(
            [
                _render.labelled("input", self.input_view),
                _render.labelled("selected channel", self.map_view),
                _render.labelled("all channels of the layer", self.grid_view),
            ],
            layout=widgets.Layout(align_items="flex-start"),
        )
        controls = widgets.HBox([self.index, self.layer, self.channel])
        super().__init__([controls, self.caption, panels, self.message])
        self.add_class("cnncourse-feature-map-browser")
        self.index.observe(lambda _: self.update(), names="value")
        self.layer.observe(self._on_layer, names="value")
        self.channel.observe(lambda _: self.update(), names="value")
        self._on_layer()

    def _on_layer(self, change=None) -> None:
        # Resize the channel slider to the new layer (when it has maps), then redraw once.
        try:
            a = explain.feature_maps(self.model, self.images[:1], self.layer.value)[
                self.layer.value
            ]
            channels = a.shape[1] if a.ndim == 4 else 1
        except (ValueError, TypeError):
            channels = 1
        self._hold = True
        try:
            self.channel.max = channels - 1
            self.channel.value = min(self.channel.value, channels - 1)
        finally:
            self._hold = False
        self.update()

    def update(self) -> None:
        """Recompute from the controls and redraw (errors go to ``message``)."""
        if getattr(self, "_hold", False):
            return
        try:
            state = browse(
                self.model, self.images, self.index.value, self.layer.value, self.channel.value
            )
        except (ValueError, TypeError) as err:
            self.message.value = _render.error_html(str(err))
            return
        self.result = state
        label = f", label {self.labels[state.index]}" if self.labels is not None else ""
        self.caption.value = f"image {state.index}{label}"
        self.input_view.value = _render.png_gray(_render.upscale(state.image, 168))
        self.map_view.value = map_png(state.activation, state.vmin, state.vmax, state.cmap, 168)
        self.grid_view.value = map_png(tile(state.maps), state.vmin, state.vmax, state.cmap, 336)
        self.message.value = html.escape(state.summary)


# --------------------------------------------------------------------------- static figure


def figure(
    model: nn.Module,
    images,
    index: int = 0,
    layers=None,
    max_channels: int = 8,
    labels=None,
) -> plt.Figure:
    """The browser's key states on one figure: the input, then one row per layer with its first
    ``max_channels`` maps (shared colour scale per row, as the widget shows them)."""
    x = torch.as_tensor(images)
    layers = list(layers) if layers is not None else map_layers(model, x)
    max_channels = check_int("max_channels", max_channels, minimum=1)
    for name in layers:
        check_choice("layers", name, explain.layer_names(model))
    states = [browse(model, x, index, name, 0) for name in layers]
    ncols = 1 + min(max_channels, max(s.channels for s in states))
    fig, axes = plt.subplots(
        len(states), ncols, figsize=(1.3 * ncols, 1.45 * len(states)), squeeze=False
    )
    label = f" (label {int(labels[index])})" if labels is not None else ""
    for row, state in zip(axes, states, strict=True):
        viz.show_array(row[0], state.image, f"input{label}" if row is axes[0] else "")
        c, h, w = state.maps.shape
        row[0].set_ylabel(f"{state.layer}\n{c}x{h}x{w}", fontsize=8)
        row[0].yaxis.set_visible(True)
        row[0].set_yticks([])
        for k, ax in enumerate(row[1:]):
            if k < c:
                viz.show_array(
                    ax, state.maps[k], f"ch {k}", cmap=state.cmap, vmin=state.vmin, vmax=state.vmax
                )
                ax.title.set_fontsize(8)
            else:
                ax.axis("off")
    fig.suptitle(f"Feature maps of image {index}, layer by layer (first {ncols - 1} channels)")
    fig.tight_layout()
    return fig


def state_figure(states, title: str = "Feature-map browser") -> plt.Figure:
    """Browser states drawn as the widget shows them: one row per state with the input, the
    selected channel and all channels of the layer (shared colour scale, white gutters).

    Parameters
    ----------
    states : sequence of FeatureMapState
        E.g. ``[browse(model, x, 0, 'conv1', 2), browse(model, x, 5, 'relu2', 7)]``.
    title : str
        Figure title.
    """
    states = list(states)
    if not states or not all(isinstance(s, FeatureMapState) for s in states):
        raise TypeError("states must be a non-empty sequence of FeatureMapState")
    fig, axes = plt.subplots(
        len(states), 3, figsize=(7.5, 2.5 * len(states)), squeeze=False, width_ratios=[1, 1, 1.6]
    )
    for row, s in zip(axes, states, strict=True):
        viz.show_array(row[0], s.image, f"image {s.index}")
        viz.show_array(
            row[1],
            s.activation,
            f"{s.layer}, channel {s.channel}",
            cmap=s.cmap,
            vmin=s.vmin,
            vmax=s.vmax,
        )
        grid = tile(s.maps)
        im = row[2].imshow(
            np.ma.masked_invalid(grid),
            cmap=s.cmap,
            vmin=s.vmin,
            vmax=s.vmax,
            interpolation="nearest",
        )
        row[2].set_facecolor("white")
        row[2].set_title(f"all {s.channels} channels of {s.layer}")
        row[2].set_xticks([])
        row[2].set_yticks([])
        fig.colorbar(im, ax=row[2], fraction=0.046, pad=0.04)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
