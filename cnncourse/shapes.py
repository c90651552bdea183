"""Shape arithmetic for convolutional networks (chapter 3).

Every spatial axis of a convolution or pooling layer follows the same 1-D rule, so the size
functions here take one axis at a time (apply them to the height and to the width):

- :func:`conv_output_size`            ``torch.nn.Conv2d``
- :func:`pool_output_size`            ``torch.nn.MaxPool2d`` / ``AvgPool2d`` (incl. ``ceil_mode``)
- :func:`conv_transpose_output_size`  ``torch.nn.ConvTranspose2d``
- :func:`same_padding`                TensorFlow-style 'same' padding for any stride
- :func:`pixel_usage`                 how many windows read each input cell
- :func:`receptive_field`             size, jump and start of a stack of layers

They accept and reject exactly the configurations PyTorch accepts and rejects (the tests check
thousands of random ones), and their errors explain *why* in the formula's terms.

Per-layer arithmetic (:func:`conv_parameters`, :func:`linear_parameters`, :func:`conv_mult_adds`,
:func:`linear_mult_adds`), :func:`count_parameters` and :func:`trace` (a layer-by-layer table of a
real ``torch.nn.Module``) complete the toolbox.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from cnncourse._validate import check_choice, check_int, check_pair

__all__ = [
    "conv_output_size",
    "pool_output_size",
    "conv_transpose_output_size",
    "same_padding",
    "pixel_usage",
    "effective_kernel_size",
    "ReceptiveField",
    "receptive_field",
    "conv_parameters",
    "linear_parameters",
    "conv_mult_adds",
    "linear_mult_adds",
    "count_parameters",
    "LayerRow",
    "ShapeTable",
    "trace",
]


# --------------------------------------------------------------------------------------------
# Output sizes
# --------------------------------------------------------------------------------------------


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``d*(k-1) + 1`` input cells.

    Parameters
    ----------
    kernel_size : int
        Number of taps ``k`` (>= 1).
    dilation : int
        Spacing ``d`` between taps (>= 1); 1 means a dense kernel.

    Returns
    -------
    int
        The number of input cells from the first to the last tap, e.g. ``k=3, d=2 -> 5``.
    """
    k = check_int("kernel_size", kernel_size, minimum=1)
    d = check_int("dilation", dilation, minimum=1)
    return d * (k - 1) + 1


def _check_common(size, kernel_size, stride, dilation) -> tuple[int, int, int, int]:
    n = check_int("size", size, minimum=1)
    k = check_int("kernel_size", kernel_size, minimum=1)
    s = check_int("stride", stride, minimum=1)
    d = check_int("dilation", dilation, minimum=1)
    return n, k, s, d


def conv_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | str = 0,
    dilation: int = 1,
) -> int:
    """Output length of a convolution along one axis, as ``torch.nn.Conv2d`` computes it.

    ``out = floor((n + 2p - d(k-1) - 1) / s) + 1``

    Parameters
    ----------
    size : int
        Input length ``n`` (height or width), >= 1.
    kernel_size : int
        Kernel length ``k``, >= 1.
    stride : int
        Step ``s`` between windows, >= 1.
    padding : int or {'valid', 'same'}
        Zeros added on *each* side (``p >= 0``); ``'valid'`` means 0; ``'same'`` keeps the
        output length equal to ``n`` and, as in PyTorch, needs ``stride == 1`` (for an even
        effective kernel the extra zero goes after the input).
    dilation : int
        Spacing ``d`` between kernel taps, >= 1.

    Returns
    -------
    int
        The output length (>= 1).

    Raises
    ------
    ValueError
        If an argument is out of range, ``padding='same'`` is combined with ``stride > 1``, or
        the (dilated) kernel is longer than the padded input.
    """
    n, k, s, d = _check_common(size, kernel_size, stride, dilation)
    if isinstance(padding, str):
        check_choice("padding", padding, ("valid", "same"))
        if padding == "valid":
            padding = 0
        else:
            if s != 1:
                raise ValueError(
                    f"padding='same' needs stride=1 (PyTorch rejects it for strided "
                    f"convolutions: no symmetric padding makes the output equal the input), "
                    f"got stride={s}; use same_padding(size, kernel_size, stride) for the "
                    f"TensorFlow-style output ceil(n/s)"
                )
            return n
    p = check_int("padding", padding, minimum=0)
    k_eff = d * (k - 1) + 1
    if k_eff > n + 2 * p:
        raise ValueError(
            f"kernel_size {k} (dilated to {k_eff}) is larger than the padded input "
            f"{n} + 2*{p} = {n + 2 * p}: the window d(k-1)+1 = {k_eff} must fit in n + 2p"
        )
    return (n + 2 * p - k_eff) // s + 1


def pool_output_size(
    size: int,
    kernel_size: int,
    stride: int | None = None,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Output length of max/average pooling along one axis, as ``torch.nn.MaxPool2d`` computes it.

    ``out = floor_or_ceil((n + 2p - d(k-1) - 1) / s) + 1``; with ``ceil_mode`` the last window
    is dropped again if it would start beyond the input and its left padding
    (``(out-1)*s >= n + p``), exactly as PyTorch does.

    Parameters
    ----------
    size : int
        Input length ``n``, >= 1.
    kernel_size : int
        Window length ``k``, >= 1.
    stride : int, optional
        Step ``s`` (>= 1); ``None`` means ``kernel_size`` (non-overlapping windows), like torch.
    padding : int
        Implicit padding on each side (``-inf`` for max, zeros for average); PyTorch allows at
        most ``kernel_size // 2``.
    dilation : int
        Spacing between window taps (``MaxPool2d`` only), >= 1.
    ceil_mode : bool
        Round up instead of down, so a partial window at the end still produces an output.

    Returns
    -------
    int
        The output length (>= 1).

    Raises
    ------
    ValueError
        If an argument is out of range, the padding exceeds half the kernel, or no window fits.
    """
    if stride is None:
        stride = kernel_size
    n, k, s, d = _check_common(size, kernel_size, stride, dilation)
    p = check_int("padding", padding, minimum=0)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be True or False, got {ceil_mode!r}")
    if p > k // 2:
        raise ValueError(
            f"padding {p} must be at most half the kernel_size: {k} // 2 = {k // 2} "
            f"(PyTorch's pooling rule, so every window overlaps the input)"
        )
    k_eff = d * (k - 1) + 1
    numerator = n + 2 * p - k_eff + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1  # Python's // rounds towards -inf, like torch's div_rtn
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window would start in the right padding: drop it
    if out < 1:
        rounding = "ceil" if ceil_mode else "floor"
        raise ValueError(
            f"kernel_size {k} (dilated to {k_eff}) does not fit the padded input "
            f"{n} + 2*{p} = {n + 2 * p}: {rounding}(({n} + 2*{p} - {k_eff}) / {s}) + 1 = {out} "
            f"outputs (need >= 1)"
        )
    return out


def conv_transpose_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Output length of a transposed convolution, as ``torch.nn.ConvTranspose2d`` computes it.

    ``out = (n - 1)s - 2p + d(k-1) + output_padding + 1``: the inverse of the convolution size
    rule. Several ``n`` map to one conv output when ``s > 1``; ``output_padding`` picks which.

    Parameters
    ----------
    size : int
        Input length ``n``, >= 1.
    kernel_size : int
        Kernel length ``k``, >= 1.
    stride : int
        Spacing ``s`` of the input cells in the output, >= 1.
    padding : int
        Cells removed from each side of the full output (``p >= 0``).
    output_padding : int
        Extra cells added on one side; must be smaller than ``stride`` or ``dilation``.
    dilation : int
        Spacing between kernel taps, >= 1.

    Returns
    -------
    int
        The output length (>= 1).

    Raises
    ------
    ValueError
        If an argument is out of range, ``output_padding`` is too large, or the padding removes
        the whole output.
    """
    n, k, s, d = _check_common(size, kernel_size, stride, dilation)
    p = check_int("padding", padding, minimum=0)
    op = check_int("output_padding", output_padding, minimum=0)
    if op >= s and op >= d:
        raise ValueError(
            f"output_padding {op} must be smaller than stride {s} or dilation {d} "
            f"(larger values would add cells no input reaches)"
        )
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    if out < 1:
        raise ValueError(
            f"padding {p} removes the whole output: (n-1)s - 2p + d(k-1) + output_padding + 1 = "
            f"({n}-1)*{s} - 2*{p} + {d}*({k}-1) + {op} + 1 = {out} (need >= 1)"
        )
    return out


def same_padding(
    size: int, kernel_size: int, stride: int = 1, dilation: int = 1
) -> tuple[int, int]:
    """Padding (before, after) that makes a convolution's output ``ceil(n / s)`` long.

    This is TensorFlow/Keras ``padding='same'`` for any stride: the total padding is the least
    that lets ``ceil(n/s)`` windows fit, ``max((ceil(n/s) - 1)s + d(k-1) + 1 - n, 0)``, split
    with the extra cell *after* the input. For ``stride=1`` it equals what PyTorch's
    ``padding='same'`` adds.

    Parameters
    ----------
    size : int
        Input length ``n``, >= 1.
    kernel_size : int
        Kernel length ``k``, >= 1.
    stride : int
        Step ``s``, >= 1.
    dilation : int
        Spacing between kernel taps, >= 1.

    Returns
    -------
    tuple of int
        ``(before, after)`` with ``after - before`` in ``{0, 1}``.
    """
    n, k, s, d = _check_common(size, kernel_size, stride, dilation)
    out = -(-n // s)  # ceil(n / s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def pixel_usage(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    include_padding: bool = False,
) -> np.ndarray:
    """How many convolution windows read each cell along one axis.

    Corner pixels are read by few windows, central ones by ``k`` (the "pixel utilisation"
    tables): ``pixel_usage(3, 2) = [1, 2, 1]``, ``pixel_usage(5, 3) = [1, 2, 3, 2, 1]``; the
    2-D table is the outer product ``np.outer(u, u)``. Cells with count 0 never influence the
    output (a stride that does not tile the padded input, or taps skipped by stride/dilation).

    Parameters
    ----------
    size, kernel_size, stride, padding, dilation : int
        As in :func:`conv_output_size` (``padding`` an int on each side).
    include_padding : bool
        Return counts for the padded axis (length ``n + 2p``) instead of the ``n`` input cells.

    Returns
    -------
    numpy.ndarray of int64, shape (n,) or (n + 2p,)
    """
    out = conv_output_size(size, kernel_size, stride, padding, dilation)
    n, k, s, d = _check_common(size, kernel_size, stride, dilation)
    p = int(padding)
    taps = (np.arange(out)[:, None] * s + np.arange(k)[None, :] * d).ravel()
    counts = np.bincount(taps, minlength=n + 2 * p).astype(np.int64)
    return counts if _check_bool("include_padding", include_padding) else counts[p : p + n]


# --------------------------------------------------------------------------------------------
# Receptive field
# --------------------------------------------------------------------------------------------


class ReceptiveField(NamedTuple):
    """Receptive field of one layer's output cells along one axis.

    ``size``: input cells that can affect one output cell; ``jump``: distance in input cells
    between neighbouring output cells (the product of the strides so far); ``start``: input
    coordinate of the centre of output cell 0 (cell ``i`` is centred at ``start + i*jump``;
    negative means the window is centred in the padding; ``.5`` comes from even kernels).
    """

    size: int
    jump: int
    start: float


def _axis_value(name: str, value: Any, axis: int) -> Any:
    if isinstance(value, (tuple, list)):
        if len(value) <= axis:
            raise ValueError(f"{name} {value!r} has no axis {axis}")
        return value[axis]
    return value


def _layer_geometry(layer: Any, axis: int, index: int) -> tuple[int, int, int, int]:
    """(kernel_size, stride, padding_before, dilation) of one layer spec."""
    where = f"layers[{index}]"
    if isinstance(layer, (tuple, list)):
        if len(layer) not in (2, 3):
            raise ValueError(
                f"{where} must be (kernel_size, stride) or (kernel_size, stride, dilation), "
                f"got {layer!r}"
            )
        k = check_int(f"{where} kernel_size", layer[0], minimum=1)
        s = check_int(f"{where} stride", layer[1], minimum=1)
        d = check_int(f"{where} dilation", layer[2], minimum=1) if len(layer) == 3 else 1
        return k, s, 0, d
    if isinstance(layer, Mapping):
        get = layer.get
    elif hasattr(layer, "kernel_size"):

        def get(key, default=None):
            return getattr(layer, key, default)

    else:
        raise TypeError(
            f"{where} must be a (kernel_size, stride[, dilation]) tuple, a mapping with "
            f"kernel_size/stride/padding/dilation, or a layer with those attributes "
            f"(e.g. nn.Conv2d), got {type(layer).__name__}"
        )
    if get("kernel_size") is None:
        raise ValueError(f"{where} needs a kernel_size, got {layer!r}")
    k = _axis_value("kernel_size", get("kernel_size"), axis)
    k = check_int(f"{where} kernel_size", k, minimum=1)
    stride = get("stride", 1)
    # torch pooling layers store stride=kernel_size when built with stride=None
    s = k if stride is None else _axis_value("stride", stride, axis)
    s = check_int(f"{where} stride", s, minimum=1)
    d = get("dilation", 1)
    d = 1 if d is None else _axis_value("dilation", d, axis)
    d = check_int(f"{where} dilation", d, minimum=1)
    padding = get("padding", 0)
    if isinstance(padding, str):
        check_choice(f"{where} padding", padding, ("valid", "same"))
        # torch's 'same' puts the odd extra cell after the input
        p = 0 if padding == "valid" else (d * (k - 1)) // 2
    else:
        p = check_int(f"{where} padding", _axis_value("padding", padding, axis), minimum=0)
    return k, s, p, d


def receptive_field(layers: Sequence[Any], *, axis: int = 0) -> list[ReceptiveField]:
    """Receptive field (size, jump, start) after each layer of a chain.

    The recursion, with ``k_eff = d(k-1)+1``::

        size_l  = size_{l-1} + (k_eff - 1) * jump_{l-1}
        jump_l  = jump_{l-1} * s
        start_l = start_{l-1} + ((k_eff - 1)/2 - p) * jump_{l-1}

    starting from the input (size 1, jump 1, start 0: output cell ``i`` is input pixel ``i``).
    Element-wise layers (ReLU, batch norm) do not change it and are left out.

    Parameters
    ----------
    layers : sequence
        Each layer is a ``(kernel_size, stride)`` or ``(kernel_size, stride, dilation)`` tuple
        (no padding), a mapping with keys ``kernel_size``, ``stride`` (default 1; ``None`` means
        ``kernel_size`` as for pooling), ``padding`` (int, 'valid' or 'same'; default 0) and
        ``dilation`` (default 1), or an object with those attributes (``nn.Conv2d``,
        ``nn.MaxPool2d``, ...).
    axis : int
        Which entry to use when a layer's attributes are (height, width) pairs.

    Returns
    -------
    list of ReceptiveField
        One ``(size, jump, start)`` per layer, for that layer's output.
    """
    axis = check_int("axis", axis, minimum=0)
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of layer specs, got {type(layers).__name__}")
    size, jump, start = 1, 1, 0.0
    out = []
    for i, layer in enumerate(layers):
        k, s, p, d = _layer_geometry(layer, axis, i)
        k_eff = d * (k - 1) + 1
        start = start + ((k_eff - 1) / 2 - p) * jump
        size = size + (k_eff - 1) * jump
        jump = jump * s
        out.append(ReceptiveField(size, jump, start))
    return out


# --------------------------------------------------------------------------------------------
# Parameters and multiply-adds
# --------------------------------------------------------------------------------------------


def conv_parameters(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Number of learnable values in a 2-D convolution layer.

    ``out_channels * (in_channels / groups) * kh * kw`` weights plus ``out_channels`` biases.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts ``C_in`` and ``C_out`` (both divisible by ``groups``).
    kernel_size : int or (int, int)
        ``k`` or ``(kh, kw)``.
    groups : int
        Channel groups (``groups == in_channels`` is a depthwise convolution).
    bias : bool
        Whether the layer has a bias per output channel.

    Returns
    -------
    int
    """
    c_in = check_int("in_channels", in_channels, minimum=1)
    c_out = check_int("out_channels", out_channels, minimum=1)
    kh, kw = check_pair("kernel_size", kernel_size, minimum=1)
    g = _check_groups(groups, c_in, c_out)
    return c_out * (c_in // g) * kh * kw + (c_out if _check_bool("bias", bias) else 0)


def linear_parameters(in_features: int, out_features: int, bias: bool = True) -> int:
    """Number of learnable values in a fully connected layer: ``in*out`` weights + ``out`` biases.

    Parameters
    ----------
    in_features, out_features : int
        Input and output vector lengths.
    bias : bool
        Whether the layer has a bias.

    Returns
    -------
    int
    """
    f_in = check_int("in_features", in_features, minimum=1)
    f_out = check_int("out_features", out_features, minimum=1)
    return f_in * f_out + (f_out if _check_bool("bias", bias) else 0)


def conv_mult_adds(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    output_size: int | tuple[int, int],
    groups: int = 1,
) -> int:
    """Multiply-adds of a 2-D convolution for one image (biases not counted).

    Each of the ``C_out * H_out * W_out`` outputs is a dot product of length
    ``(C_in / groups) * kh * kw``.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    kernel_size : int or (int, int)
        ``k`` or ``(kh, kw)``.
    output_size : int or (int, int)
        ``H_out`` (= ``W_out``) or ``(H_out, W_out)``.
    groups : int
        Channel groups.

    Returns
    -------
    int
    """
    c_in = check_int("in_channels", in_channels, minimum=1)
    c_out = check_int("out_channels", out_channels, minimum=1)
    kh, kw = check_pair("kernel_size", kernel_size, minimum=1)
    h, w = check_pair("output_size", output_size, minimum=1)
    g = _check_groups(groups, c_in, c_out)
    return c_out * h * w * (c_in // g) * kh * kw


def linear_mult_adds(in_features: int, out_features: int) -> int:
    """Multiply-adds of a fully connected layer for one input vector: ``in * out``."""
    return check_int("in_features", in_features, minimum=1) * check_int(
        "out_features", out_features, minimum=1
    )


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _check_groups(groups: Any, c_in: int, c_out: int) -> int:
    g = check_int("groups", groups, minimum=1)
    if c_in % g or c_out % g:
        raise ValueError(f"groups {g} must divide in_channels {c_in} and out_channels {c_out}")
    return g


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values in a module (shared parameters counted once).

    Parameters
    ----------
    module : torch.nn.Module
        Any model or layer.
    trainable_only : bool
        Count only parameters with ``requires_grad=True`` (e.g. after freezing a backbone).

    Returns
    -------
    int
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    _check_bool("trainable_only", trainable_only)
    # Module.parameters() already de-duplicates shared (tied) parameters
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


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


_HEADERS = {
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
        :func:`count_parameters` of the whole model (shared parameters once).
    """

    def __init__(
        self,
        rows: Sequence[LayerRow],
        input_shape: tuple[int, ...],
        total_parameters: int,
        trainable_parameters: int,
    ):
        super().__init__(rows)
        self.input_shape = tuple(input_shape)
        self.total_parameters = total_parameters
        self.trainable_parameters = trainable_parameters

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
        return [[_fmt(key, getattr(row, key)) for key in _HEADERS] for row in self]

    def _footer(self) -> str:
        text = f"Input shape: {_fmt('input_shape', self.input_shape)}; "
        text += f"total parameters: {self.total_parameters:,}"
        if self.trainable_parameters != self.total_parameters:
            text += f" (trainable {self.trainable_parameters:,})"
        return text

    def __str__(self) -> str:
        header = list(_HEADERS.values())
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
        head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADERS.values())
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self._cells()
        )
        return (
            '<table class="cnncourse-shape-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p>{html.escape(self._footer())}</p>"
        )


# Layers that act on each spatial position independently: the receptive field passes through.
_POINTWISE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Softplus,
    nn.Identity,
    nn.Dropout,
    nn.Dropout2d,
    nn.AlphaDropout,
    nn.BatchNorm2d,
    nn.LocalResponseNorm,
    nn.Softmax2d,
)
_POOL2D = (nn.MaxPool2d, nn.AvgPool2d, nn.LPPool2d)


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            if isinstance(v, torch.Tensor):
                return v
    return None


def _pair_attr(module: nn.Module, name: str, default: int) -> tuple[int, int]:
    value = getattr(module, name, default)
    if value is None:
        value = default
    if isinstance(value, str):
        return value, value  # type: ignore[return-value]
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[-1])
    return int(value), int(value)


def _conv_like_rf(module: nn.Module, rf_in) -> tuple | None:
    """Receptive-field state (size, jump, start) per axis after a conv/pool layer."""
    kernel = _pair_attr(module, "kernel_size", 1)
    stride = getattr(module, "stride", None)
    stride = kernel if stride is None or stride == () else _pair_attr(module, "stride", 1)
    dilation = _pair_attr(module, "dilation", 1)
    padding = _pair_attr(module, "padding", 0)
    out = []
    for axis in range(2):
        size, jump, start = rf_in[axis]
        k, s, d, p = kernel[axis], stride[axis], dilation[axis], padding[axis]
        if isinstance(p, str):
            p = 0 if p == "valid" else (d * (k - 1)) // 2
        (res,) = receptive_field([{"kernel_size": k, "stride": s, "padding": p, "dilation": d}])
        # compose: a layer with (size, jump, start) relative to the previous layer's grid
        out.append((size + (res.size - 1) * jump, jump * res.jump, start + res.start * jump))
    return tuple(out)


def _mult_adds(module: nn.Module, x: torch.Tensor | None, y: torch.Tensor | None) -> int | None:
    if x is None or y is None:
        return None
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # every output value is a dot product of (C_in/groups) * prod(kernel) terms
        return y.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
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
        A list of :class:`LayerRow` (layer name, type, input/output shape, parameters,
        activations, mult-adds, receptive field and jump where defined).

    Raises
    ------
    ValueError
        If the shape is invalid or the model rejects it (the model's message is included).
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if isinstance(input_shape, torch.Tensor):
        x = input_shape
    else:
        if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
            raise TypeError(
                f"input_shape must be a tuple of ints like (1, 3, 32, 32), got {input_shape!r}"
            )
        if len(input_shape) < 1:
            raise ValueError("input_shape must have at least one dimension, got ()")
        shape = tuple(
            check_int(f"input_shape[{i}]", v, minimum=1) for i, v in enumerate(input_shape)
        )
        param = next(module.parameters(), None)
        dtype = param.dtype if param is not None and param.is_floating_point() else None
        x = torch.zeros(
            shape,
            dtype=dtype or torch.get_default_dtype(),
            device=param.device if param is not None else None,
        )

    names = {m: name for name, m in module.named_modules()}
    leaves = [m for m in module.modules() if not any(True for _ in m.children())]
    rows: list[LayerRow] = []
    # receptive-field state per tensor; keep the tensors alive so their ids stay unique
    rf_of: dict[int, tuple[torch.Tensor, tuple | None]] = {}
    unit = ((1, 1, 0.0), (1, 1, 0.0))
    if x.dim() == 4:
        rf_of[id(x)] = (x, unit)

    def hook(mod, inputs, output):
        xin, yout = _first_tensor(inputs), _first_tensor(output)
        rf_in = rf_of.get(id(xin), (None, None))[1] if xin is not None else None
        rf_out = None
        if rf_in is not None and yout is not None and yout.dim() == 4:
            if isinstance(mod, (nn.Conv2d, *_POOL2D)):
                rf_out = _conv_like_rf(mod, rf_in)
            elif isinstance(mod, _POINTWISE) and yout.shape[-2:] == xin.shape[-2:]:
                rf_out = rf_in
        if yout is not None:
            rf_of[id(yout)] = (yout, rf_out)
        rows.append(
            LayerRow(
                name=names.get(mod, "") or type(mod).__name__,
                type=type(mod).__name__,
                input_shape=tuple(xin.shape) if xin is not None else None,
                output_shape=tuple(yout.shape) if yout is not None else None,
                parameters=sum(p.numel() for p in mod.parameters()),
                activations=yout.numel() if yout is not None else None,
                mult_adds=_mult_adds(mod, xin, yout),
                receptive_field=(rf_out[0][0], rf_out[1][0]) if rf_out else None,
                jump=(rf_out[0][1], rf_out[1][1]) if rf_out else None,
            )
        )

    modes = {m: m.training for m in module.modules()}
    handles = [leaf.register_forward_hook(hook) for leaf in leaves]
    try:
        module.eval()
        with torch.no_grad():
            module(x)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"the model rejects input_shape {tuple(x.shape)}: {err}") from err
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.train(training)
    return ShapeTable(rows, tuple(x.shape), count_parameters(module),
                      count_parameters(module, trainable_only=True))  # fmt: skip
