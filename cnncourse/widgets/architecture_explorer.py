"""Architecture explorer (chapter 5): pick a model of the zoo and an input size.

Pure core (tested without a browser):

- :func:`explore` builds the model on PyTorch's ``meta`` device (shapes only: no memory, no
  arithmetic, so VGG-19 at 512x512 takes milliseconds) and returns an
  :class:`ArchitectureResult`: the layer table (:func:`cnncourse.tracer.trace`), the depth and
  the receptive-field growth along the network's longest path and the feature-map funnel
  (:func:`cnncourse.tracer.longest_path_depth`, ``longest_path_receptive_field``, ``stages``).
  The analysis lives in :mod:`cnncourse.tracer`; this module only composes and shows it.
- :func:`architecture_figure` draws the receptive-field growth and the funnel (the widget shows
  it as a PNG; the chapter uses it as the static rendering).

View: :class:`ArchitectureExplorer`.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch

from .. import models, tracer
from .._validate import check_choice, check_int
from ..tracer import RFStep, Stage
from ._render import NeedsKernel, notice_html

__all__ = [
    "MAX_INPUT_SIZE",
    "MIN_INPUT_SIZE",
    "ArchitectureResult",
    "explore",
    "architecture_figure",
    "ArchitectureExplorer",
]

MIN_INPUT_SIZE = 8
MAX_INPUT_SIZE = 512


@dataclass(frozen=True)
class ArchitectureResult:
    """Everything the explorer shows for one (model, input size).

    Attributes
    ----------
    model : str
        Key of :data:`cnncourse.models.MODELS`.
    input_shape : tuple of int
        ``(1, C, H, W)``.
    table : tracer.ShapeTable
        The layer-by-layer trace.
    parameters : int
        Parameter count.
    mult_adds : int
        Multiply-adds of the convolutions and linear layers for one image.
    depth : int
        Weight layers along the longest path (:func:`cnncourse.tracer.longest_path_depth`).
    receptive_field : list of tracer.RFStep
        Growth of the receptive field along the longest path.
    stages : list of tracer.Stage
        The funnel, from the input to the logits.
    """

    model: str
    input_shape: tuple[int, ...]
    table: tracer.ShapeTable
    parameters: int
    mult_adds: int
    depth: int
    receptive_field: list[RFStep]
    stages: list[Stage]


def explore(model: str, input_size: int | None = None) -> ArchitectureResult:
    """Trace a model of the zoo at a square input size (on the meta device).

    Parameters
    ----------
    model : str
        A key of :data:`cnncourse.models.MODELS` (e.g. ``'resnet50'``).
    input_size : int, optional
        Input height = width, ``MIN_INPUT_SIZE`` .. ``MAX_INPUT_SIZE`` (default: the model's
        native size). The channels are the model's native ones.

    Returns
    -------
    ArchitectureResult

    Raises
    ------
    ValueError
        Unknown model, size out of range, or a size the model cannot take (the message says
        why: e.g. AlexNet's classifier expects a 6x6 map, or a kernel larger than its input).
    """
    check_choice("model", model, tuple(models.MODELS))
    native = models.MODELS[model][1]
    size = native[1] if input_size is None else check_int("input_size", input_size, minimum=1)
    if not MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE:
        raise ValueError(
            f"input_size must be between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE}, got {size}"
        )
    return _explore(model, size)


@lru_cache(maxsize=64)  # results are pure functions of (model, size); revisits are instant
def _explore(model: str, size: int) -> ArchitectureResult:
    ctor, native = models.MODELS[model]
    input_shape = (1, native[0], size, size)
    with torch.device("meta"):
        net = ctor()
    try:
        table = tracer.trace(net, input_shape)
    except ValueError as err:
        raise ValueError(_explain(model, size, native[1], err)) from err
    return ArchitectureResult(
        model, input_shape, table, table.total_parameters, table.mult_adds,
        tracer.longest_path_depth(net, table),
        tracer.longest_path_receptive_field(net, table),
        tracer.stages(net, input_shape),
    )  # fmt: skip


def _explain(model: str, size: int, native: int, err: Exception) -> str:
    """The reason in plain English first, then torch's own message (shortened) for reference."""
    text = str(err)
    if "mat1 and mat2" in text or "same reduction dim" in text:
        reason = (
            "the flattened feature map does not have the size the first fully connected layer "
            f"was built for: this network only works at its native size, {native}x{native}"
        )
    elif "Kernel size can't be greater" in text or "Output size is too small" in text:
        reason = "the input is too small: the feature maps shrink below a kernel's size"
    else:
        return f"{model} cannot take a {size}x{size} input: {text}"
    detail = text.split(": ", 1)[-1] if text.startswith("the model rejects") else text
    return f"{model} cannot take a {size}x{size} input: {reason}. (PyTorch says: {detail})"


def architecture_figure(result: ArchitectureResult, *, dpi: int = 80) -> plt.Figure:
    """Receptive-field growth (left) and the feature-map funnel (right) of one result.

    Parameters
    ----------
    result : ArchitectureResult
        From :func:`explore`.
    dpi : int
        Figure resolution.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(result, ArchitectureResult):
        raise TypeError(f"result must be an ArchitectureResult, got {type(result).__name__}")
    size = result.input_shape[2]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=dpi)

    steps = result.receptive_field
    x = np.arange(1, len(steps) + 1)
    ax1.step(x, [s.size for s in steps], where="post", color="#e15759", label="receptive field")
    ax1.plot(x, [s.output_size for s in steps], color="#4e79a7", label="output map size")
    ax1.axhline(size, color="gray", ls="--", lw=1, label=f"input size {size}")
    ax1.set_yscale("log")
    ax1.set_xlabel("conv/pool layer along the longest path")
    ax1.set_ylabel("pixels")
    final = steps[-1].size if steps else 1
    ax1.set_title(f"receptive field grows to {final} px")
    ax1.legend(fontsize=8, loc="center right")

    stages = result.stages
    y = np.arange(len(stages))[::-1]
    widths = np.array([s.size for s in stages], dtype=float)
    ax2.barh(y, widths, left=-widths / 2, color="#59a14f", height=0.7)
    for yi, s in zip(y, stages, strict=True):
        ax2.text(
            size / 2 + size * 0.03, yi, f"{s.size}x{s.size}x{s.channels:,}", va="center", fontsize=8
        )
    ax2.set_yticks(y)
    ax2.set_yticklabels([s.name for s in stages], fontsize=7)
    ax2.set_xlim(-size / 2 - 1, size * 1.05)
    ax2.set_xlabel("feature-map width (pixels), centred")
    ax2.set_title("the funnel: maps shrink, channels grow")
    fig.suptitle(
        f"{result.model} at {size}x{size}: {result.parameters:,} parameters, "
        f"{result.mult_adds / 1e6:,.1f} M multiply-adds"
    )
    fig.tight_layout()
    return fig


def _figure_png(result: ArchitectureResult) -> bytes:
    fig = architecture_figure(result)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _error_box(message: str) -> str:
    return notice_html(message, "Cannot build this", error=True)


class ArchitectureExplorer(NeedsKernel, widgets.VBox):
    """Choose a model and an input size; see the summary, the plots and the layer table.

    Attributes a test (or a student) can drive: ``model`` (Dropdown of the zoo), ``input_size``
    (IntSlider; reset to the native size when the model changes), ``size_text`` (Text: a typed
    size; text that is not a size in range shows a message). Read-only: ``summary`` (HTML),
    ``message`` (HTML, empty or the error), ``plot`` (Image, PNG), ``table`` (HTML),
    ``result`` (last :class:`ArchitectureResult`, ``None`` after an error), ``error`` (str).

    Parameters
    ----------
    model : str
        Initial model (a key of :data:`cnncourse.models.MODELS`).
    input_size : int, optional
        Initial input size (default: the model's native size).
    """

    def __init__(self, model: str = "resnet18", input_size: int | None = None) -> None:
        check_choice("model", model, tuple(models.MODELS))
        native = models.MODELS[model][1][1]
        size = native if input_size is None else check_int("input_size", input_size, minimum=1)
        self.result: ArchitectureResult | None = None
        self.error = ""
        self.model = widgets.Dropdown(
            options=tuple(models.MODELS), value=model, description="model"
        )
        self.model.add_class("cnncourse-arch-model")
        self.input_size = widgets.IntSlider(
            value=min(max(size, MIN_INPUT_SIZE), MAX_INPUT_SIZE),
            min=MIN_INPUT_SIZE,
            max=MAX_INPUT_SIZE,
            description="input size",
            continuous_update=False,
        )
        self.input_size.add_class("cnncourse-arch-size")
        # A text box for typing a size: the slider's own readout silently drops text it cannot
        # parse, this one says what is wrong.
        self.size_text = widgets.Text(
            value=str(self.input_size.value),
            description="or type",
            continuous_update=False,
            layout=widgets.Layout(width="150px"),
        )
        self.size_text.add_class("cnncourse-arch-size-text")
        self.summary = widgets.HTML()
        self.summary.add_class("cnncourse-arch-summary")
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-arch-message")
        self.plot = widgets.Image(format="png")
        self.plot.add_class("cnncourse-arch-plot")
        self.table = widgets.HTML()
        self.table.add_class("cnncourse-arch-table")
        table_box = widgets.Box(
            [self.table], layout=widgets.Layout(max_height="320px", overflow="auto")
        )
        super().__init__(
            [widgets.HBox([self.model, self.input_size, self.size_text]), self.summary,
             self.message, self.plot, table_box]
        )  # fmt: skip
        self.add_class("cnncourse-architecture-explorer")
        self.model.observe(self._on_model, names="value")
        self.input_size.observe(lambda _: self.update(), names="value")
        self.size_text.observe(self._on_text, names="value")
        self.update()

    def _on_text(self, change=None) -> None:
        text = self.size_text.value.strip()
        try:
            size = int(text)
        except ValueError:
            size = None
        if size is None or not MIN_INPUT_SIZE <= size <= MAX_INPUT_SIZE:
            self.error = (
                f"input size must be a whole number between {MIN_INPUT_SIZE} and "
                f"{MAX_INPUT_SIZE}, got {text!r}"
            )
            self.message.value = _error_box(self.error)
            return
        if size == self.input_size.value:
            self.update()
        else:
            self.input_size.value = size  # triggers update()

    def _on_model(self, change=None) -> None:
        native = models.MODELS[self.model.value][1][1]
        if self.input_size.value == native:
            self.update()
        else:
            self.input_size.value = native  # triggers update()

    def update(self) -> None:
        """Explore the selected model at the selected size; show the result or the error."""
        try:
            result = explore(self.model.value, self.input_size.value)
        except (ValueError, TypeError) as err:
            self.result, self.error = None, str(err)
            self.message.value = _error_box(self.error)
            self.summary.value = ""
            self.plot.value = b""
            self.plot.layout.display = "none"  # an empty Image would show a broken-image icon
            self.table.value = ""
            return
        self.result, self.error = result, ""
        self.message.value = ""
        self.size_text.value = str(self.input_size.value)
        self.plot.layout.display = None
        rf = result.receptive_field[-1].size if result.receptive_field else 1
        c, h = result.input_shape[1], result.input_shape[2]
        self.summary.value = (
            f"<b>{html.escape(result.model)}</b> (depth {result.depth}), "
            f"input {c}&times;{h}&times;{h}: "
            f"{result.parameters:,} parameters, {result.mult_adds:,} multiply-adds, "
            f"receptive field {rf} px, {len(result.table)} layers traced"
        )
        self.plot.value = _figure_png(result)
        self.table.value = result.table._repr_html_()
