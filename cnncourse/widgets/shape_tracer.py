"""Network shape tracer (chapter 3): pick a stack of layers and an input size, read the table.

Pure core (tested without a browser):

- :data:`STACKS` / :func:`register_stack` / :func:`build_stack` -- small built-in stacks
  (LeNet-5 and VGG-16 from :mod:`cnncourse.models`, sized for the input; the LeNet-style
  homework network, a VGG block, a ResNet stem); other chapters can register more.
- :func:`trace_stack` -- :func:`cnncourse.tracer.trace` of a stack built on PyTorch's ``meta``
  device: shapes and counts without allocating or computing anything, so even VGG-16 at
  224x224 traces in milliseconds.

- :func:`page_stacks` -- each stack's layer list as the page needs it, derived from the module
  :func:`build_stack` builds (``None`` for a stack only Python can trace: a layer type or a
  ``forward`` the page cannot follow); :func:`table_json` -- a table as the page computes it.

View: :class:`ShapeTracer`, an anywidget whose page front-end (``js/shape_tracer.js``) is a port
of :func:`trace_stack` for those layer lists, so it runs without a kernel. Static figure:
:func:`shape_tracer_figure`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import anywidget
import matplotlib.pyplot as plt
import numpy as np
import torch
import traitlets
from torch import nn

from .. import models, shapes, tracer
from .._validate import check_choice, check_int
from . import _render

__all__ = [
    "StackSpec",
    "STACKS",
    "register_stack",
    "build_stack",
    "trace_stack",
    "page_stacks",
    "table_json",
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


# ------------------------------------------------------------------ the page's description

# What the page's tracer (js/shape_tracer.js) computes, by what a leaf layer does to a shape.
# A stack with any other leaf (or a container other than nn.Sequential) is traced by Python only.
_PAGE_OPS = {
    nn.Conv2d: "conv",
    nn.MaxPool2d: "pool",
    nn.AvgPool2d: "pool",
    nn.Flatten: "flatten",
    nn.Linear: "linear",
    **{t: "pointwise" for t in tracer.POINTWISE},
}


def _pair(value) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * 2


def _chain(module: nn.Module, prefix: str = ""):
    """(dotted name, leaf) in the order ``nn.Sequential`` calls them (each once)."""
    if not any(True for _ in module.children()):
        yield prefix, module
        return
    if not isinstance(module, nn.Sequential):
        raise TypeError(
            f"{prefix or 'the stack'} is a {type(module).__name__} with its own forward(); "
            "the page follows nn.Sequential chains only"
        )
    seen = set()
    for name, child in module._modules.items():
        if child is None or id(child) in seen:
            raise TypeError(f"{prefix}.{name} is reused or None: the page needs distinct layers")
        seen.add(id(child))
        yield from _chain(child, f"{prefix}.{name}" if prefix else name)


def _describe(module: nn.Module) -> tuple[list[dict], list[int]]:
    """The page's layer list of a built stack, and the in_features of its Linear layers."""
    layers, in_features = [], []
    for name, leaf in _chain(module):
        kind = type(leaf)
        op = _PAGE_OPS.get(kind)
        if op is None:
            raise TypeError(f"layer {name or kind.__name__} is a {kind.__name__}")
        layer = {"name": name or kind.__name__, "type": kind.__name__, "op": op}
        if any(not p.requires_grad for p in leaf.parameters()):
            raise TypeError(f"layer {layer['name']} has frozen parameters")
        if op in ("conv", "pool"):
            if getattr(leaf, "return_indices", False) or getattr(leaf, "divisor_override", None):
                raise TypeError(f"layer {layer['name']} returns indices or overrides its divisor")
            padding = leaf.padding
            layer.update(
                kernel_size=_pair(leaf.kernel_size),
                stride=_pair(leaf.stride),
                padding=padding if isinstance(padding, str) else _pair(padding),
                dilation=_pair(getattr(leaf, "dilation", 1)),
            )
        if op == "conv":
            layer.update(
                in_channels=leaf.in_channels, out_channels=leaf.out_channels, groups=leaf.groups
            )
        elif op == "pool":
            layer["ceil_mode"] = bool(leaf.ceil_mode)
        elif op == "flatten" and (leaf.start_dim, leaf.end_dim) != (1, -1):
            raise TypeError(f"layer {layer['name']} flattens dims {leaf.start_dim}..{leaf.end_dim}")
        elif op == "linear":
            layer.update(out_features=leaf.out_features, bias=leaf.bias is not None)
            in_features.append(leaf.in_features)
        if op != "linear":  # a Linear's count follows its input (the head sized for the input)
            layer["parameters"] = sum(p.numel() for p in leaf.parameters())
        layers.append(layer)
    return layers, in_features


def _walk(layers: list[dict], in_channels: int, size: int) -> list[tuple[int, ...]]:
    """Output shape (batch of 1 included) after each layer of a page description.

    The one size rule of the page: :func:`shapes.conv_output_size` and
    :func:`shapes.pool_output_size` per axis (height first); their ``ValueError`` says which
    kernel no longer fits.
    """
    shape: tuple[int, ...] = (1, in_channels, size, size)
    out = []
    for layer in layers:
        op = layer["op"]
        if op in ("conv", "pool"):
            if len(shape) != 4:
                raise TypeError(f"layer {layer['name']} needs an (N, C, H, W) input")
            hw = []
            for axis in (0, 1):
                n, k = shape[2 + axis], layer["kernel_size"][axis]
                s, d = layer["stride"][axis], layer["dilation"][axis]
                p = layer["padding"]
                p = p if isinstance(p, str) else p[axis]
                if op == "conv":
                    hw.append(shapes.conv_output_size(n, k, s, p, d))
                else:
                    hw.append(shapes.pool_output_size(n, k, s, p, d, layer["ceil_mode"]))
            if op == "conv" and shape[1] != layer["in_channels"]:
                raise TypeError(f"layer {layer['name']} expects {layer['in_channels']} channels")
            shape = (1, layer["out_channels"] if op == "conv" else shape[1], *hw)
        elif op == "flatten":
            if len(shape) != 4:
                raise TypeError(f"layer {layer['name']} needs an (N, C, H, W) input")
            shape = (1, shape[1] * shape[2] * shape[3])
        elif op == "linear":
            if len(shape) != 2:
                raise TypeError(f"layer {layer['name']} needs a flattened input")
            shape = (1, layer["out_features"])
        out.append(shape)
    return out


def _linear_inputs(layers: list[dict], shapes_out: list[tuple[int, ...]], in_channels, size):
    before = [(1, in_channels, size, size), *shapes_out[:-1]]
    return [x[1] for layer, x in zip(layers, before, strict=True) if layer["op"] == "linear"]


def _check_head_follows_size(spec: StackSpec, layers: list[dict], in_features: list[int]) -> None:
    """A Linear must follow the input size (the builder sizes the head): rebuild the stack at
    the first other size where the flattened map differs and check that only the Linear
    layers' inputs changed."""
    c, d = spec.in_channels, spec.default_size
    for other in [*range(d + 1, MAX_INPUT_SIZE + 1), *range(d - 1, 0, -1)]:
        try:
            walked = _walk(layers, c, other)
        except ValueError:
            continue  # too small for the stack: no table at this size
        wanted = _linear_inputs(layers, walked, c, other)
        if wanted == in_features:
            continue
        with torch.device("meta"):
            layers2, in_features2 = _describe(spec.builder(other))
        if layers2 != layers or in_features2 != wanted:
            raise TypeError(f"its layers at input size {other} are not those at {d}")
        return


@lru_cache(maxsize=64)
def _page_description(spec: StackSpec) -> tuple[tuple[dict, ...] | None, str]:
    """(layers, '') if the page can trace this stack at every input size, else (None, why)."""
    c, d = spec.in_channels, spec.default_size
    try:
        with torch.device("meta"):
            model = spec.builder(d)
        layers, in_features = _describe(model)
        walked = _walk(layers, c, d)
        # the description must be what the model does: the real trace at the design size
        table = tracer.trace(model, (1, c, d, d))
        if [(r.name, r.type, r.output_shape) for r in table] != [
            (layer["name"], layer["type"], s) for layer, s in zip(layers, walked, strict=True)
        ]:
            raise TypeError("its forward pass is not the chain of its layers")
        if in_features != _linear_inputs(layers, walked, c, d):
            raise TypeError("its Linear layers do not fit its design size")
        if sum(r.parameters for r in table) != table.total_parameters:
            raise TypeError("it shares parameters between layers or keeps some outside them")
        if in_features:
            _check_head_follows_size(spec, layers, in_features)
    except (TypeError, ValueError, RuntimeError) as err:
        return None, str(err)
    return tuple(layers), ""


def page_stacks() -> list[dict]:
    """What the page's tracer needs, one entry per registered stack (in dropdown order).

    Returns
    -------
    list of dict
        ``name``, ``in_channels``, ``default_size``, ``description`` and ``layers`` (the layer
        list :func:`_describe` derives from the built module; ``None`` for a stack only Python
        can trace, with the reason in ``kernel_only``).
    """
    out = []
    for name, spec in STACKS.items():
        layers, why = _page_description(spec)
        out.append(
            {
                "name": name,
                "in_channels": spec.in_channels,
                "default_size": spec.default_size,
                "description": spec.description,
                "layers": None if layers is None else [dict(layer) for layer in layers],
                "kernel_only": why,
            }
        )
    return out


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
        If the name is unknown or the input is too small or too large for the stack. A stack
        the page can trace says, in the size formula's terms, which kernel no longer fits.
    """
    check_choice("name", name, tuple(STACKS))
    size = STACKS[name].default_size if input_size is None else input_size
    size = check_int("input_size", size, minimum=1)
    if size > MAX_INPUT_SIZE:
        raise ValueError(f"input_size must be <= {MAX_INPUT_SIZE}, got {size}")
    layers, _ = _page_description(STACKS[name])
    if layers is not None:
        try:
            _walk(list(layers), STACKS[name].in_channels, size)
        except ValueError as err:
            raise ValueError(f"input_size {size} is too small for {name}: {err}") from err
    model = build_stack(name, size)
    table = tracer.trace(model, (1, STACKS[name].in_channels, size, size))
    return table


def table_json(table: tracer.ShapeTable) -> dict:
    """A :class:`tracer.ShapeTable` as plain JSON (what the page's tracer returns)."""
    return {
        "rows": [
            {k: list(v) if isinstance(v, tuple) else v for k, v in row.items()}
            for row in table.to_dicts()
        ],
        "input_shape": list(table.input_shape),
        "total_parameters": table.total_parameters,
        "trainable_parameters": table.trainable_parameters,
        "mult_adds": table.mult_adds,
    }


class ShapeTracer(_render.FriendlyRepr, anywidget.AnyWidget):
    """Choose a stack and an input size; the per-layer table updates.

    An anywidget: the page traces the stacks it can describe with ``js/shape_tracer.js`` (a
    port of :func:`trace_stack` for ``nn.Sequential`` chains of the layers in ``_PAGE_OPS``,
    proven equal by ``tests/browser/test_explorers_js.py``), so the built-in stacks work on the
    static website. A stack only Python can trace (a residual block, say) is traced here and
    sent to the page (``kernel_view``); without a kernel the page says so.

    Traits a test (or a student) can set: ``stack`` (a key of :data:`STACKS`; a new stack
    resets ``input_size`` to its design size) and ``input_size`` (1..512). Read-only:
    ``result`` (the last :class:`tracer.ShapeTable`, ``None`` on error) and ``error`` (the
    message the page shows, or ``''``).

    Parameters
    ----------
    stack : str
        Initial stack.
    input_size : int, optional
        Initial input size (default: the stack's design size).
    """

    _esm = _render.esm("shape_tracer")
    stack = traitlets.Unicode("LeNet-style homework").tag(sync=True)
    input_size = traitlets.Int(32).tag(sync=True)
    max_input_size = traitlets.Int(MAX_INPUT_SIZE).tag(sync=True)
    stacks = traitlets.List().tag(sync=True)
    headers = traitlets.List().tag(sync=True)
    kernel_view = traitlets.Dict().tag(sync=True)

    def __init__(self, stack: str = "LeNet-style homework", input_size: int | None = None):
        check_choice("stack", stack, tuple(STACKS))
        size = STACKS[stack].default_size if input_size is None else input_size
        check_int("input_size", size, minimum=1)
        self.result: tracer.ShapeTable | None = None
        self.error = ""
        super().__init__(
            stack=stack,
            input_size=min(size, MAX_INPUT_SIZE),
            stacks=page_stacks(),
            headers=[[key, label] for key, label in tracer.HEADERS.items()],
        )
        self.add_class("cnncourse-shape-tracer")
        self.observe(self._on_stack, names="stack")
        self.observe(lambda _: self.update(), names="input_size")
        self.update()

    def _on_stack(self, change=None) -> None:
        if [s["name"] for s in self.stacks] != list(STACKS):  # registered after the widget
            self.stacks = page_stacks()
        spec = STACKS.get(self.stack)
        if spec is None or self.input_size == spec.default_size:
            self.update()
        else:
            self.input_size = spec.default_size  # observed: update()

    def update(self) -> None:
        """Trace the selected stack at the selected size (``result`` / ``error``); send the
        table to the page when only Python can trace the stack."""
        name, size = self.stack, self.input_size
        try:
            table = trace_stack(name, size)
        except (ValueError, TypeError) as err:
            self.result, self.error = None, str(err)
        else:
            self.result, self.error = table, ""
        if name in STACKS and _page_description(STACKS[name])[0] is None:
            self.kernel_view = {
                "stack": name,
                "input_size": size,
                "table": None if self.result is None else table_json(self.result),
                "error": self.error,
            }


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
