"""Grad-CAM explorer (chapter 7): pick an image and a target class; see where the evidence is.

Pure core (tested without a browser):

- :func:`class_probabilities` -- softmax of the model's logits (eval mode).
- :func:`default_layer` -- the last ``Conv2d`` (after its ReLU): the usual Grad-CAM layer.
- :func:`explore` -- one state: :func:`cnncourse.explain.grad_cam` for the target (default: the
  predicted class), its overlay (:func:`cnncourse.viz.grad_cam_overlay`) and the class
  probabilities.
- :func:`probabilities_html` -- the probabilities as an HTML bar chart.

View: :class:`GradCamExplorer` (drawn with :mod:`cnncourse.widgets._render`). Static figure for
the website: :func:`figure`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .. import explain, viz
from .._validate import check_int, check_module, check_unit_interval
from . import _render

__all__ = [
    "GradCamState",
    "class_probabilities",
    "default_layer",
    "explore",
    "probabilities_html",
    "GradCamExplorer",
    "figure",
]


# ------------------------------------------------------------------------------ pure core


def class_probabilities(model: nn.Module, x) -> np.ndarray:
    """``softmax(model(x))`` in eval mode (the mode is restored), shape (N, K), float64."""
    check_module("model", model)
    x = torch.as_tensor(x)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        model.train(was_training)
    return torch.softmax(logits.double(), dim=1).cpu().numpy()


def default_layer(model: nn.Module) -> str:
    """The usual Grad-CAM layer: the output of the model's last ``nn.Conv2d`` after its ReLU.

    Selvaraju et al. use the rectified maps of the last convolutional layer; when the leaf
    module right after the last ``Conv2d`` (in definition order) is an ``nn.ReLU`` that ReLU is
    returned, otherwise the ``Conv2d`` itself.
    """
    leaves = [(n, m) for n, m in model.named_modules() if n and next(m.children(), None) is None]
    convs = [i for i, (_, m) in enumerate(leaves) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("model has no nn.Conv2d layer; pass layer= explicitly")
    last = convs[-1]
    if last + 1 < len(leaves) and isinstance(leaves[last + 1][1], nn.ReLU):
        return leaves[last + 1][0]
    return leaves[last][0]


# A map is ~0 when its positive part (what Grad-CAM shows) peaks below this fraction of the
# strongest evidence either way (|map| before the ReLU): min-max scaling it would only stretch
# float noise into a confident-looking blob, so the explorer shows the image and says so.
FLAT_FRACTION = 0.01


@dataclass(frozen=True)
class GradCamState:
    """One explorer state: image ``index``, Grad-CAM ``heat`` (H, W) for class ``target`` at
    ``layer``, its ``overlay`` (H, W, 3), and the model's ``probabilities`` (K,)."""

    index: int
    target: int
    layer: str
    image: np.ndarray
    heat: np.ndarray
    overlay: np.ndarray
    probabilities: np.ndarray
    strength: float = 0.0  # max |map| before the ReLU: the scale ``flat`` is measured against

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def flat(self) -> bool:
        """True when the map is ~0: its peak is below :data:`FLAT_FRACTION` of ``strength``."""
        return float(self.heat.max()) <= FLAT_FRACTION * self.strength


def explore(
    model: nn.Module,
    images,
    index: int = 0,
    target: int | None = None,
    layer: str | None = None,
    alpha: float = 0.5,
) -> GradCamState:
    """Grad-CAM of one image for one class.

    Parameters
    ----------
    model : nn.Module
    images : Tensor, shape (N, C, H, W)
        Model inputs.
    index : int
        Which image (0 .. N-1).
    target : int, optional
        Class to explain (default: the predicted class).
    layer : str, optional
        Grad-CAM layer (default :func:`default_layer`).
    alpha : float
        Opacity of the heat map in the overlay, in [0, 1].

    Returns
    -------
    GradCamState
    """
    x, index = _render.batch_and_index(images, index)
    layer = default_layer(model) if layer is None else layer
    one = x[index : index + 1]
    probs = class_probabilities(model, one)[0]
    if target is None:
        target = int(np.argmax(probs))
    target = check_int("target", target, minimum=0)
    if target >= len(probs):
        raise ValueError(f"target must be in 0..{len(probs) - 1}, got {target}")
    heat = explain.grad_cam(model, one, target, layer)[0].double().cpu().numpy()
    image = _render.display_images(one.detach().cpu().numpy())[0]
    raw = explain.grad_cam(model, one, target, layer, relu=False)[0]
    strength = float(raw.abs().max())
    if heat.max() <= FLAT_FRACTION * strength:  # ~0: show the image itself, not stretched noise
        alpha = check_unit_interval("alpha", alpha)
        overlay = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
    else:
        overlay = viz.grad_cam_overlay(image, heat, alpha=alpha)
    return GradCamState(index, target, layer, image, heat, overlay, probs, strength)


def probabilities_html(
    probabilities, class_names: Sequence[str] | None = None, target: int | None = None
) -> str:
    """Class probabilities as horizontal bars (the predicted class bold, the target outlined)."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    names = [str(i) for i in range(len(p))] if class_names is None else list(class_names)
    if len(names) != len(p):
        raise ValueError(f"class_names must have {len(p)} entries, got {len(names)}")
    best = int(np.argmax(p))
    rows = []
    for i, (name, v) in enumerate(zip(names, p, strict=True)):
        weight = "bold" if i == best else "normal"
        outline = "outline:2px solid #d62728;" if i == target else ""
        rows.append(
            f'<tr class="cnncourse-gradcam-prob-row" style="font-weight:{weight}">'
            f'<td style="padding:0 6px;text-align:right">{html.escape(name)}</td>'
            f'<td style="width:160px"><div style="{outline}background:#1f77b4;height:12px;'
            f'width:{160 * v:.1f}px"></div></td>'
            f'<td style="padding:0 6px">{v:.3f}</td></tr>'
        )
    return (
        '<table class="cnncourse-gradcam-probs" style="border-collapse:collapse;font-size:12px">'
        + "".join(rows)
        + "</table>"
    )


# ------------------------------------------------------------------------------------ view

PREDICTED = -1  # dropdown value meaning "explain the predicted class"


class GradCamExplorer(_render.NeedsKernel, widgets.VBox):
    """Pick an image and a target class; see the Grad-CAM overlay and the class probabilities.

    Attributes a test can drive: ``index`` (IntSlider), ``target`` (Dropdown; ``-1`` =
    predicted class), ``alpha`` (FloatSlider); read-only ``result`` (last
    :class:`GradCamState`) and ``message`` (HTML: a summary, or the error).

    Parameters
    ----------
    model : nn.Module
    images : Tensor, shape (N, C, H, W)
    labels : sequence of int, optional
        True labels, shown in the summary.
    class_names : sequence of str, optional
    layer : str, optional
        Grad-CAM layer (default :func:`default_layer`).
    """

    def __init__(
        self,
        model: nn.Module,
        images,
        labels=None,
        class_names: Sequence[str] | None = None,
        layer: str | None = None,
        index: int = 0,
    ):
        self.model = model
        self.images = torch.as_tensor(images)
        if self.images.ndim != 4 or len(self.images) == 0:
            raise ValueError(
                f"images must be (N, C, H, W) with N >= 1, got {tuple(self.images.shape)}"
            )
        self.labels = None if labels is None else [int(v) for v in labels]
        k = class_probabilities(model, self.images[:1]).shape[1]
        self.class_names = [str(i) for i in range(k)] if class_names is None else list(class_names)
        self.layer_name = default_layer(model) if layer is None else layer
        self.result: GradCamState | None = None

        self.index = widgets.IntSlider(
            value=index, min=0, max=len(self.images) - 1, description="image"
        )
        self.index.add_class("cnncourse-gradcam-index")
        options = [("predicted class", PREDICTED)] + [
            (f"{i}: {n}", i) for i, n in enumerate(self.class_names)
        ]
        self.target = widgets.Dropdown(options=options, value=PREDICTED, description="explain")
        self.target.add_class("cnncourse-gradcam-target")
        self.alpha = widgets.FloatSlider(
            value=0.5, min=0.0, max=1.0, step=0.05, description="opacity"
        )
        self.alpha.add_class("cnncourse-gradcam-alpha")
        self.input_view = _render.image_widget("cnncourse-gradcam-input", "196px")
        self.overlay_view = _render.image_widget("cnncourse-gradcam-overlay", "196px")
        self.probabilities = widgets.HTML()
        self.probabilities.add_class("cnncourse-gradcam-probabilities")
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-gradcam-message")

        panels = widgets.HBox(
            [
                _render.labelled("input", self.input_view),
                _render.labelled(f"Grad-CAM at {self.layer_name}", self.overlay_view),
                _render.labelled("class probabilities", self.probabilities),
            ],
            layout=widgets.Layout(align_items="flex-start"),
        )
        super().__init__(
            [widgets.HBox([self.index, self.target, self.alpha]), panels, self.message]
        )
        self.add_class("cnncourse-gradcam-explorer")
        for control in (self.index, self.target, self.alpha):
            control.observe(lambda _: self.update(), names="value")
        self.update()

    def update(self) -> None:
        """Recompute from the controls and redraw (errors go to ``message``)."""
        target = None if self.target.value == PREDICTED else self.target.value
        try:
            state = explore(
                self.model,
                self.images,
                self.index.value,
                target,
                self.layer_name,
                self.alpha.value,
            )
        except (ValueError, TypeError) as err:
            self.message.value = _render.error_html(str(err))
            return
        self.result = state
        self.input_view.value = _render.png_gray(_render.upscale(state.image, 196))
        self.overlay_view.value = _render.png_rgb(_render.upscale(state.overlay, 196))
        self.probabilities.value = probabilities_html(
            state.probabilities, self.class_names, state.target
        )
        names = self.class_names
        label = f"label {names[self.labels[state.index]]}, " if self.labels is not None else ""
        text = html.escape(
            f"image {state.index}: {label}predicted {names[state.predicted]} "
            f"(p = {state.probabilities[state.predicted]:.3f}); explaining {names[state.target]} "
            f"(p = {state.probabilities[state.target]:.3f}); heat-map peak {state.heat.max():.3g}"
        )
        if state.flat:
            text += _render.notice_html(
                f"the Grad-CAM map is ~0 everywhere (peak {state.heat.max():.2g}, under "
                f"{FLAT_FRACTION:.0%} of the strongest evidence {state.strength:.2g}): "
                f"{state.layer} holds no positive evidence for class {names[state.target]}, so "
                "no heat map is drawn (stretching it would only show noise)",
                "Nothing to show",
            )
        self.message.value = text


# --------------------------------------------------------------------------- static figure


def figure(
    model: nn.Module,
    images,
    indices: Sequence[int],
    layer: str | None = None,
    class_names: Sequence[str] | None = None,
    labels=None,
    alpha: float = 0.5,
) -> plt.Figure:
    """The explorer's key states: per image, the input, Grad-CAM for the predicted class and for
    the runner-up class, and the class probabilities."""
    indices = [check_int("indices", i, minimum=0) for i in indices]
    if not indices:
        raise ValueError("indices must name at least one image")
    fig, axes = plt.subplots(
        len(indices),
        4,
        figsize=(8.4, 2.1 * len(indices)),
        squeeze=False,
        width_ratios=[1, 1, 1, 1.4],
    )
    for row, i in zip(axes, indices, strict=True):
        top = explore(model, images, i, None, layer, alpha)
        names = (
            [str(k) for k in range(len(top.probabilities))]
            if class_names is None
            else list(class_names)
        )
        second = int(np.argsort(top.probabilities)[-2])
        other = explore(model, images, i, second, layer, alpha)
        label = f" (label {names[int(labels[i])]})" if labels is not None else ""
        viz.show_array(row[0], top.image, f"image {i}{label}")
        row[1].imshow(top.overlay)
        row[1].set_title(f"Grad-CAM: {names[top.target]}" + (" (map ~0)" if top.flat else ""))
        row[2].imshow(other.overlay)
        row[2].set_title(f"Grad-CAM: {names[second]}" + (" (map ~0)" if other.flat else ""))
        for ax in row[1:3]:
            ax.set_xticks([])
            ax.set_yticks([])
        row[3].barh(range(len(names)), top.probabilities, color="#1f77b4")
        row[3].set_yticks(range(len(names)), names, fontsize=7)
        row[3].invert_yaxis()
        row[3].set_xlim(0, 1)
        row[3].set_xlabel("probability")
        row[3].set_title("class probabilities")
    fig.suptitle(f"Grad-CAM explorer: heat maps at layer {top.layer} (red = strong evidence)")
    fig.tight_layout()
    return fig
