"""What a real ``torch.nn.Module`` does to shapes (chapters 3 and 5), read with forward hooks.

:mod:`cnncourse.shapes` holds the formulas (integer arithmetic, no torch); this module runs a
model once and reads the same numbers off it.

- :func:`trace` -> :class:`ShapeTable` (text and HTML) of :class:`LayerRow`: per layer the
  shapes, parameters, activations, mult-adds and, along a chain, the receptive field.

Model analysis along the *longest path* (the main branch of a residual block, the deepest branch
of an Inception module; shortcuts, SE blocks and auxiliary heads are side branches):

- :func:`longest_path_depth`             its weight layers: the 16 of VGG-16, the 50 of ResNet-50
- :func:`longest_path_receptive_field`   receptive field after each of its conv/pool layers
- :func:`stages`                         the funnel: spatial size and channels per resolution
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from itertools import groupby
from typing import Any

import torch
from torch import nn

from cnncourse._validate import check_int, check_module
from cnncourse.shapes import count_parameters, receptive_field

__all__ = [
    "LayerRow",
    "ShapeTable",
    "trace",
    "RFStep",
    "Stage",
    "longest_path_depth",
    "longest_path_receptive_field",
    "stages",
]


# --------------------------------------------------------------------------------------------
# Layer-by-layer trace
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRow:
    """One called leaf layer in a :func:`trace` table.

    Attributes
    ----------
    name : str
        Dotted module name (``'features.0'``), as in ``model.named_modules()``.
    type : str
        Class name (``'Conv2d'``).
    input_shape, output_shape : tuple of int or None
        Shapes of the first input and output tensors, batch included.
    parameters : int
        Parameter values owned by the layer.
    activations : int or None
        Number of output values (for the whole batch traced).
    mult_adds : int or None
        Multiply-adds for the batch: conv, transposed conv and linear layers; for pooling the
        number of window elements read (one comparison or addition each, no multiplies);
        ``None`` for layers where it is not counted.
    receptive_field : (int, int) or None
        (height, width) receptive field of one output cell in input pixels, while the network
        is a chain of 2-D conv/pool/element-wise layers; ``None`` where undefined (after a
        flatten, a residual addition, a global pool or a transposed convolution).
    jump : (int, int) or None
        Input pixels between neighbouring output cells (product of strides), same rule.
    """

    name: str
    type: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    parameters: int
    activations: int | None
    mult_adds: int | None
    receptive_field: tuple[int, int] | None
    jump: tuple[int, int] | None


# The table columns, key -> label; widgets.shape_tracer sends them to its page (tableHtml).
HEADERS = {
    "name": "Layer",
    "type": "Type",
    "output_shape": "Output shape",
    "parameters": "Param #",
    "activations": "Activations",
    "mult_adds": "Mult-adds",
    "receptive_field": "RF",
}


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("output_shape", "input_shape"):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if key in ("receptive_field", "jump"):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class ShapeTable(list):
    """The result of :func:`trace`: a list of :class:`LayerRow` with a readable printout.

    ``str(table)`` is a text table, ``_repr_html_`` renders it in Jupyter, ``to_dicts()``
    gives plain dicts and ``to_pandas()`` a DataFrame (if pandas is installed).

    Attributes
    ----------
    input_shape : tuple of int
        Shape of the traced input, batch included.
    total_parameters, trainable_parameters : int
        :func:`cnncourse.shapes.count_parameters` of the whole model (shared parameters once).
    mult_adds : int
        Multiply-adds of the (transposed) convolution and linear rows for the batch traced; as
        in papers and ``FlopCounterMode``, pooling, bias adds and element-wise layers are left out.
    """

    def __init__(
        self,
        rows: Sequence[LayerRow],
        input_shape: tuple[int, ...],
        total_parameters: int,
        trainable_parameters: int,
        mult_adds: int,
    ):
        super().__init__(rows)
        self.input_shape = tuple(input_shape)
        self.total_parameters = total_parameters
        self.trainable_parameters = trainable_parameters
        self.mult_adds = mult_adds

    def to_dicts(self) -> list[dict[str, Any]]:
        """Rows as plain dicts with the :class:`LayerRow` field names as keys."""
        return [asdict(row) for row in self]

    def to_pandas(self):
        """Rows as a ``pandas.DataFrame`` (needs pandas, which cnncourse does not require)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas; use to_dicts() without it") from err
        return pd.DataFrame(self.to_dicts())

    def _cells(self) -> list[list[str]]:
        return [[_fmt(key, getattr(row, key)) for key in HEADERS] for row in self]

    def _footer(self) -> str:
        text = f"Input shape: {_fmt('input_shape', self.input_shape)}; "
        text += f"total parameters: {self.total_parameters:,}"
        if self.trainable_parameters != self.total_parameters:
            text += f" (trainable {self.trainable_parameters:,})"
        return text

    def __str__(self) -> str:
        header = list(HEADERS.values())
        cells = self._cells()
        widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
        numeric = {3, 4, 5, 6}  # right-align numbers

        def line(values):
            parts = [
                v.rjust(w) if i in numeric else v.ljust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            ]
            return "  ".join(parts).rstrip()

        rule = "-" * len(line(header))
        return "\n".join([line(header), rule, *(line(r) for r in cells), rule, self._footer()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS.values())
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self._cells()
        )
        return (
            '<table class="cnncourse-shape-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p>{html.escape(self._footer())}</p>"
        )


# Layers that act on each spatial position independently: the receptive field passes through
# (trace and widgets.shape_tracer, which marks them "pointwise" for the page's tracer).
# fmt: off
POINTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus,
    nn.Identity, nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.BatchNorm2d,
    nn.LocalResponseNorm, nn.Softmax2d,
)
# fmt: on
_POOL2D = (nn.MaxPool2d, nn.AvgPool2d, nn.LPPool2d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_TRANSPOSES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
# The layers whose multiply-adds papers (and FlopCounterMode) count.
_WEIGHT_LAYERS = (*_CONVS, *_CONV_TRANSPOSES, nn.Linear)


def _first_tensor(value: Any) -> torch.Tensor | None:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return next((v for v in values if isinstance(v, torch.Tensor)), None)


def _conv_like_rf(module: nn.Module, rf_in) -> tuple:
    """Receptive-field state (size, jump, start) per axis after a conv/pool layer."""
    out = []
    for axis, (size, jump, start) in enumerate(rf_in):
        # the layer's own field on the previous layer's grid, scaled by that grid's jump
        (own,) = receptive_field([module], axis=axis)
        out.append((size + (own.size - 1) * jump, jump * own.jump, start + own.start * jump))
    return tuple(out)


def _union_rf(states: list[tuple]) -> tuple | None:
    """Receptive field of a value that combines values with these fields (residual add, concat).

    Per axis, the union of the input intervals ``start +- (size - 1) / 2``; None when the
    inputs step through the input at different jumps (the union is then not one grid).
    """
    out = []
    for axis_states in zip(*states, strict=True):
        jumps = {jump for _, jump, _ in axis_states}
        if len(jumps) != 1:
            return None
        left = min(start - (size - 1) / 2 for size, _, start in axis_states)
        right = max(start + (size - 1) / 2 for size, _, start in axis_states)
        out.append((int(round(right - left)) + 1, jumps.pop(), (left + right) / 2))
    return tuple(out)


# Functions that mix neighbouring positions: their output's field is not a union of their inputs'.
_SPATIAL_FUNCTIONS = ("conv", "pool", "fold", "roll", "flip", "rot90", "interpolate", "upsample",
                      "grid_sample", "pad", "transpose", "permute", "shift")  # fmt: skip


class _RFMode(torch.overrides.TorchFunctionMode):
    """Carries receptive fields through the tensor operations between layers (``out + x``,
    ``torch.cat``): a 4-D result the size of its 4-D inputs sees the union of what they see."""

    def __init__(self, rf_of: dict):
        super().__init__()
        self.rf_of = rf_of

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if not (isinstance(result, torch.Tensor) and result.dim() == 4):
            return result
        name = getattr(func, "__name__", "")
        if any(part in name for part in _SPATIAL_FUNCTIONS):
            return result
        flat = [*args, *(kwargs or {}).values()]
        tensors = [t for a in flat for t in (a if isinstance(a, (list, tuple)) else (a,))]
        states = [
            self.rf_of[id(t)][1]
            for t in tensors
            if isinstance(t, torch.Tensor) and t.dim() == 4 and id(t) in self.rf_of
            and t.shape[-2:] == result.shape[-2:]
        ]  # fmt: skip
        if states and all(s is not None for s in states):
            self.rf_of[id(result)] = (result, _union_rf(states))
        return result


def _mult_adds(module: nn.Module, x: torch.Tensor | None, y: torch.Tensor | None) -> int | None:
    if x is None or y is None:
        return None
    if isinstance(module, _CONVS):
        # every output value is a dot product of (C_in/groups) * prod(kernel) terms
        return y.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, _CONV_TRANSPOSES):
        # every input value is scattered into (C_out/groups) * prod(kernel) outputs
        return x.numel() * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return y.numel() * module.in_features
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d,
                           nn.AvgPool3d)):  # fmt: skip
        k = module.kernel_size
        spatial_dims = int(type(module).__name__[-2])  # MaxPool2d -> 2
        k = math.prod(k) if isinstance(k, (tuple, list)) else k**spatial_dims
        return y.numel() * k
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return x.numel()  # each input read once when the windows tile the input
    return None


def _input(input_shape: Sequence[int] | torch.Tensor, module: nn.Module) -> torch.Tensor:
    """The tensor itself, or zeros of the model's dtype and device (``meta`` if built there)."""
    if isinstance(input_shape, torch.Tensor):
        return input_shape
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise TypeError(
            f"input_shape must be a tuple of ints like (1, 3, 32, 32), got {input_shape!r}"
        )
    if len(input_shape) < 1:
        raise ValueError("input_shape must have at least one dimension, got ()")
    shape = tuple(check_int(f"input_shape[{i}]", v, minimum=1) for i, v in enumerate(input_shape))
    param = next(module.parameters(), None)
    floating = param is not None and param.is_floating_point()
    dtype = param.dtype if floating else torch.get_default_dtype()
    return torch.zeros(shape, dtype=dtype, device=param.device if param is not None else None)


def trace(module: nn.Module, input_shape: Sequence[int] | torch.Tensor) -> ShapeTable:
    """Run one input through a model and tabulate every leaf layer it calls.

    Forward hooks on the leaf modules (those without children) record each call in execution
    order, so nested ``nn.Sequential`` / custom ``nn.Module`` models work, and a layer called
    twice appears twice. The model runs in eval mode under ``torch.no_grad()``; its training
    flags are restored afterwards.

    Parameters
    ----------
    module : torch.nn.Module
        The model.
    input_shape : sequence of int or torch.Tensor
        Full input shape *including the batch*, e.g. ``(1, 3, 32, 32)`` (a zero tensor of the
        model's dtype and device is used), or a tensor to run as is.

    Returns
    -------
    ShapeTable
        A list of :class:`LayerRow` (name, type, shapes, parameters, activations, mult-adds,
        receptive field and jump) with ``total_parameters`` and the ``mult_adds`` papers quote.

    Raises
    ------
    ValueError
        If the shape is invalid or the model rejects it (the model's message is included).
    """
    x = _input(input_shape, check_module("module", module))
    names = {m: name for name, m in module.named_modules()}
    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    rows: list[LayerRow] = []
    weight_mult_adds = 0
    # receptive-field state per tensor; keep the tensors alive so their ids stay unique
    rf_of: dict[int, tuple[torch.Tensor, tuple | None]] = {}
    if x.dim() == 4:
        rf_of[id(x)] = (x, ((1, 1, 0.0), (1, 1, 0.0)))  # (size, jump, start) of a pixel

    def hook(mod, inputs, output):
        nonlocal weight_mult_adds
        xin, yout = _first_tensor(inputs), _first_tensor(output)
        rf_in = rf_of.get(id(xin), (None, None))[1] if xin is not None else None
        rf_out = None
        if rf_in is not None and yout is not None and yout.dim() == 4:
            if isinstance(mod, (nn.Conv2d, *_POOL2D)):
                rf_out = _conv_like_rf(mod, rf_in)
            elif isinstance(mod, POINTWISE) and yout.shape[-2:] == xin.shape[-2:]:
                rf_out = rf_in
        if yout is not None:
            rf_of[id(yout)] = (yout, rf_out)
        mult_adds = _mult_adds(mod, xin, yout)
        if isinstance(mod, _WEIGHT_LAYERS):
            weight_mult_adds += mult_adds or 0
        rows.append(
            LayerRow(
                name=names.get(mod, "") or type(mod).__name__,
                type=type(mod).__name__,
                input_shape=tuple(xin.shape) if xin is not None else None,
                output_shape=tuple(yout.shape) if yout is not None else None,
                parameters=sum(p.numel() for p in mod.parameters()),
                activations=yout.numel() if yout is not None else None,
                mult_adds=mult_adds,
                receptive_field=(rf_out[0][0], rf_out[1][0]) if rf_out else None,
                jump=(rf_out[0][1], rf_out[1][1]) if rf_out else None,
            )
        )

    try:
        with _RFMode(rf_of):
            _run_hooked(module, x, [(leaf, hook) for leaf in leaves])
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"the model rejects input_shape {tuple(x.shape)}: {err}") from err
    trainable = count_parameters(module, trainable_only=True)
    return ShapeTable(rows, tuple(x.shape), count_parameters(module), trainable, weight_mult_adds)


def _run_hooked(module: nn.Module, x: torch.Tensor, hooks: list[tuple[nn.Module, Any]]) -> None:
    """One forward pass in eval mode without gradients; hooks removed, training flags restored."""
    modes = {m: m.training for m in module.modules()}
    handles = [m.register_forward_hook(hook) for m, hook in hooks]
    try:
        module.eval()
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.train(training)


# --------------------------------------------------------------------------------------------
# Model analysis along the longest path
# --------------------------------------------------------------------------------------------

# Name parts of side branches that never lengthen the receptive field of the main path.
_SIDE_BRANCHES = ("shortcut", "attention", "aux1", "aux2", "branch1", "branch2", "branch4")
_RF_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


@dataclass(frozen=True)
class RFStep:
    """Receptive field after one conv/pool layer (dotted ``name``) of the longest path.

    ``size``: pixels (height) one output cell sees; ``jump``: input pixels between neighbouring
    output cells (the product of the strides); ``output_size``: height of the output map.
    """

    name: str
    size: int
    jump: int
    output_size: int


@dataclass(frozen=True)
class Stage:
    """One resolution of the funnel: the last module output seen at that spatial size.

    ``name``: the module whose output ends the stage (``'input'`` for the image); ``size``:
    height of its feature map (1 for flattened / FC outputs); ``channels``: its channels.
    """

    name: str
    size: int
    channels: int


def _on_side_branch(name: str) -> bool:
    return any(part in _SIDE_BRANCHES for part in name.split("."))


def _main_path(model: nn.Module, table: ShapeTable) -> list[tuple[str, nn.Module | None]]:
    """(name, module) of the rows of ``table`` that are not on a side branch."""
    modules = dict(check_module("model", model).named_modules())
    if not isinstance(table, ShapeTable):
        raise TypeError(f"table must be a ShapeTable from trace(), got {type(table).__name__}")
    return [(row.name, modules.get(row.name)) for row in table if not _on_side_branch(row.name)]


def _rf_path(model: nn.Module, table: ShapeTable) -> list[tuple[str, nn.Module]]:
    """(name, layer) of the conv/pool layers on the longest path, up to a global pool/flatten."""
    path = []
    for name, module in _main_path(model, table):
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten)):
            break  # from here on every cell sees the whole image
        if isinstance(module, _RF_LAYERS):
            path.append((name, module))
    return path


def longest_path_depth(model: nn.Module, table: ShapeTable) -> int:
    """Weight layers (convolutions and linear layers) along the longest path: the "depth".

    This is the number in a model's name: 16 for VGG-16, 50 for ResNet-50 (projection shortcuts
    and SE blocks are side branches), 22 for GoogLeNet (one convolution per Inception branch it
    passes through, the deepest one), 28 for MobileNet v1 (depthwise and pointwise counted apart).

    Parameters
    ----------
    model, table : torch.nn.Module, ShapeTable
        The model and its :func:`trace`.

    Returns
    -------
    int
    """
    return sum(isinstance(module, (nn.Conv2d, nn.Linear)) for _, module in _main_path(model, table))


def longest_path_receptive_field(model: nn.Module, table: ShapeTable) -> list[RFStep]:
    """Receptive field after each conv/pool layer of the longest path.

    :func:`trace` follows a plain chain and stops at a residual addition or a concatenation.
    This follows the longest path (no shortcuts, SE blocks, auxiliary heads or narrower Inception
    branches) to the first global pool or flatten, through :func:`cnncourse.shapes.receptive_field`.

    Parameters
    ----------
    model, table : torch.nn.Module, ShapeTable
        The model and its :func:`trace` (of an ``(N, C, H, W)`` input).

    Returns
    -------
    list of RFStep
        One per layer of the path; empty if it has none.
    """
    path = _rf_path(model, table)
    fields = receptive_field([module for _, module in path]) if path else []
    heights = {row.name: row.output_shape[2] for row in table if len(row.output_shape or ()) == 4}
    return [
        RFStep(name, rf.size, rf.jump, heights[name])
        for (name, _), rf in zip(path, fields, strict=True)
    ]


def stages(model: nn.Module, input_shape: Sequence[int]) -> list[Stage]:
    """The funnel: one :class:`Stage` per run of module outputs with the same spatial size.

    Every module (not only leaves) is hooked, so a stage ends with the output of the outermost
    module that finished at that resolution (``layer1`` of a ResNet, ``inception3b`` of
    GoogLeNet), not with a layer inside the next block. Side branches are skipped; flattened
    outputs count as size 1.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    input_shape : sequence of int
        ``(N, C, H, W)``, batch included.

    Returns
    -------
    list of Stage
        The input first, then one stage per resolution down to the logits.
    """
    x = _input(input_shape, check_module("model", model))
    if x.dim() != 4:
        raise ValueError(f"input_shape must be (N, C, H, W), got {tuple(x.shape)}")
    outputs: list[tuple[str, int, int]] = []  # (name, height, channels) in call order

    def record(name, mod, inputs, output):
        if isinstance(output, torch.Tensor):
            outputs.append((name, output.shape[2] if output.dim() == 4 else 1, output.shape[1]))

    hooks = [
        (m, partial(record, name))
        for name, m in model.named_modules()
        if name and not _on_side_branch(name)
    ]
    _run_hooked(model, x, hooks)
    result = [Stage("input", x.shape[2], x.shape[1])]
    for _, run in groupby(outputs, key=lambda output: output[1]):
        run = list(run)
        outermost = min(name.count(".") for name, _, _ in run)
        result.append(Stage(*[r for r in run if r[0].count(".") == outermost][-1]))
    return result
