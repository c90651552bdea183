"""Network shape tracer (chapter 3): pick a stack of layers and an input size, read the table.

Pure core (tested without a browser):

- :data:`STACKS` / :func:`register_stack` / :func:`build_stack` -- small built-in stacks
  (LeNet-5 and VGG-16 from :mod:`cnncourse.models`, sized for the input; the LeNet-style
  homework network, a VGG block, a ResNet stem); other chapters can register more.
- :func:`trace_stack` -- :func:`cnncourse.tracer.trace` of a stack built on PyTorch's ``meta``
  device: shapes and counts without allocating or computing anything, so even VGG-16 at
  224x224 traces in milliseconds.

View: :class:`ShapeTracer`. Static figure for the website: :func:`shape_tracer_figure`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .. import models, shapes, tracer
from .._validate import check_choice, check_int
from ._render import NeedsKernel

__all__ = [
    "StackSpec",
    "STACKS",
    "register_stack",
    "build_stack",
    "trace_stack",
    "ShapeTracer",
    "shape_tracer_figure",
]

MAX_INPUT_SIZE = 512


@dataclass(frozen=True)
class StackSpec:
    """A named stack: ``builder(input_size) -> nn.Module`` for ``(1, in_channels, s, s)`` input.

    The builder gets the input size so that a classifier head can size its first ``nn.Linear``
    from the flattened feature map (as the original networks were designed for one size).
    """

    builder: Callable[[int], nn.Module]
    in_channels: int
    default_size: int
    description: str = ""


def _flat_features(channels: int, size: int) -> int:
    return channels * size * size


def _lenet5(size: int) -> nn.Module:
    return models.lenet5(input_size=size)


def _lenet_homework(size: int) -> nn.Module:
    # the sources' homework table: 32x32x3, CONV1 f=5 8 filters, POOL, CONV2 16, FC 120/84/10
    s = shapes.pool_output_size(shapes.conv_output_size(size, 5), 2)
    s = shapes.pool_output_size(shapes.conv_output_size(s, 5), 2)
    return nn.Sequential(
        nn.Conv2d(3, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(_flat_features(16, s), 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip


def _vgg_block(size: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2),
    )  # fmt: skip


def _vgg16(size: int) -> nn.Module:
    return models.vgg.vgg_from_config(models.vgg.CONFIGS["vgg16"], input_size=size)


def _resnet_stem(size: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
    )  # fmt: skip


STACKS: dict[str, StackSpec] = {
    "LeNet-5": StackSpec(_lenet5, 1, 32, "tanh, average pooling"),
    "LeNet-style homework": StackSpec(
        _lenet_homework, 3, 32, "the sources' table: CONV 8 and 16 filters (5x5), FC 120/84/10"
    ),
    "VGG block": StackSpec(_vgg_block, 3, 224, "two 3x3 convolutions (64) and a 2x2 max pool"),
    "VGG-16": StackSpec(_vgg16, 3, 224, "13 conv 3x3 + 3 FC (Simonyan & Zisserman 2014)"),
    "ResNet stem": StackSpec(_resnet_stem, 3, 224, "7x7/2 conv, batch norm, ReLU, 3x3/2 pool"),
}


def register_stack(
    name: str,
    builder: Callable[[int], nn.Module],
    in_channels: int,
    default_size: int,
    description: str = "",
) -> None:
    """Add (or replace) a stack offered by :func:`trace_stack` and the :class:`ShapeTracer`.

    Parameters
    ----------
    name : str
        Label in the dropdown.
    builder : callable
        ``builder(input_size) -> nn.Module`` taking ``(1, in_channels, s, s)`` input.
    in_channels : int
        Input channels.
    default_size : int
        Input size the network was designed for.
    description : str
        One line shown under the dropdown.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not callable(builder):
        raise TypeError(f"builder must be callable, got {type(builder).__name__}")
    STACKS[name] = StackSpec(
        builder,
        check_int("in_channels", in_channels, minimum=1),
        check_int("default_size", default_size, minimum=1),
        str(description),
    )


def build_stack(name: str, input_size: int | None = None, device: str = "meta") -> nn.Module:
    """Build a registered stack for ``input_size`` (default: its design size).

    Parameters
    ----------
    name : str
        A key of :data:`STACKS`.
    input_size : int, optional
        Input height = width.
    device : str
        ``'meta'`` (default: shapes only, no memory) or a real device such as ``'cpu'``.

    Returns
    -------
    torch.nn.Module
    """
    check_choice("name", name, tuple(STACKS))
    spec = STACKS[name]
    size = spec.default_size if input_size is None else input_size
    size = check_int("input_size", size, minimum=1)
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'meta', 'cpu', 'cuda', ...; got {device!r}") from err
    try:
        with device:
            return spec.builder(size)
    except ValueError as err:  # a shapes.* size rule failed while sizing the head
        raise ValueError(f"input_size {size} is too small for {name}: {err}") from err


def trace_stack(name: str, input_size: int | None = None) -> tracer.ShapeTable:
    """Per-layer table of a registered stack for a square input (computed on the meta device).

    Parameters
    ----------
    name : str
        A key of :data:`STACKS`.
    input_size : int, optional
        Input height = width (default: the stack's design size), at most 512.

    Returns
    -------
    tracer.ShapeTable

    Raises
    ------
    ValueError
        If the name is unknown or the input is too small or too large for the stack.
    """
    check_choice("name", name, tuple(STACKS))
    size = STACKS[name].default_size if input_size is None else input_size
    size = check_int("input_size", size, minimum=1)
    if size > MAX_INPUT_SIZE:
        raise ValueError(f"input_size must be <= {MAX_INPUT_SIZE}, got {size}")
    model = build_stack(name, size)
    table = tracer.trace(model, (1, STACKS[name].in_channels, size, size))
    return table


class ShapeTracer(NeedsKernel, widgets.VBox):
    """Choose a stack and an input size; the per-layer table updates.

    Attributes a test (or a student) can drive: ``stack`` (Dropdown of :data:`STACKS`),
    ``input_size`` (IntSlider); read-only: ``table`` (HTML), ``message`` (HTML: description
    or error), ``result`` (last :class:`tracer.ShapeTable`, ``None`` on error), ``error``.

    Parameters
    ----------
    stack : str
        Initial stack.
    input_size : int, optional
        Initial input size (default: the stack's design size).
    """

    def __init__(self, stack: str = "LeNet-style homework", input_size: int | None = None):
        check_choice("stack", stack, tuple(STACKS))
        size = STACKS[stack].default_size if input_size is None else input_size
        check_int("input_size", size, minimum=1)
        self.result: tracer.ShapeTable | None = None
        self.error = ""
        self.stack = widgets.Dropdown(options=tuple(STACKS), value=stack, description="stack")
        self.stack.add_class("cnncourse-tracer-stack")
        self.input_size = widgets.IntSlider(
            value=min(size, MAX_INPUT_SIZE), min=1, max=MAX_INPUT_SIZE, description="input size"
        )
        self.input_size.add_class("cnncourse-tracer-size")
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-tracer-message")
        self.table = widgets.HTML()
        self.table.add_class("cnncourse-tracer-table")
        super().__init__([widgets.HBox([self.stack, self.input_size]), self.message, self.table])
        self.add_class("cnncourse-shape-tracer")
        self.stack.observe(self._on_stack, names="value")
        self.input_size.observe(lambda _: self.update(), names="value")
        self.update()

    def _on_stack(self, change=None) -> None:
        options = tuple(STACKS)  # stacks registered after the widget was built
        if self.stack.options != options:
            self.stack.options = options
        default = STACKS[self.stack.value].default_size
        if self.input_size.value == default:
            self.update()
        else:
            self.input_size.value = default  # triggers update()

    def update(self) -> None:
        """Trace the selected stack at the selected size and show the table (or the error)."""
        name, size = self.stack.value, self.input_size.value
        spec = STACKS[name]
        try:
            table = trace_stack(name, size)
        except (ValueError, TypeError) as err:
            self.result, self.error = None, str(err)
            self.message.value = (
                '<div style="color:#8b0000;background:#fde8e8;padding:6px 10px">'
                f"<b>Invalid input size:</b> {html.escape(self.error)}</div>"
            )
            self.table.value = ""
            return
        self.result, self.error = table, ""
        # the stack's size is stated once, next to the traced one, so the two never disagree
        c, d = spec.in_channels, spec.default_size
        self.message.value = (
            f"<i>{html.escape(spec.description)}</i> &mdash; designed for {c}&times;{d}&times;{d} "
            f"input; traced at {c}&times;{size}&times;{size}"
        )
        self.table.value = table._repr_html_()


def shape_tracer_figure(name: str, input_size: int | None = None) -> plt.Figure:
    """Static rendering: activation count and receptive field per layer of one stack.

    Parameters
    ----------
    name : str
        A key of :data:`STACKS`.
    input_size : int, optional
        Input height = width (default: the design size).

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = trace_stack(name, input_size)
    rows = [r for r in table if r.parameters or r.type.endswith(("Pool2d", "Linear"))]
    labels = [f"{r.name} {r.type}" for r in rows]
    x = np.arange(len(rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.bar(x, [r.activations for r in rows], color="#4e79a7")
    ax1.set_yscale("log")
    ax1.set_ylabel("activations (values)")
    ax1.set_title(f"{name}: output values per layer")
    rf = [r.receptive_field[0] if r.receptive_field else np.nan for r in rows]
    ax2.plot(x, rf, "o-", color="#f28e2b")
    ax2.set_ylabel("receptive field (pixels)")
    ax2.set_title(f"{name}: receptive field per layer")
    for ax in (ax1, ax2):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=70, ha="right", fontsize=7)
        ax.set_xlabel("layer")
    fig.suptitle(f"{name}, input {table.input_shape[1:]}: {table.total_parameters:,} parameters")
    fig.tight_layout()
    return fig
