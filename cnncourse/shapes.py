"""Shape arithmetic for convolutional networks (chapter 3): integer formulas, no torch.

(Over 500 lines on purpose: this is the one place for every shape formula the course teaches,
each a short function with a full docstring; the torch side lives in :mod:`cnncourse.tracer`.)

Every spatial axis of a convolution or pooling layer follows the same 1-D rule, so the size
functions take one axis at a time (apply them to the height and to the width):

- :func:`conv_output_size`            ``torch.nn.Conv2d``; :func:`conv_output_terms` its numerator
- :func:`pool_output_size`            ``torch.nn.MaxPool2d`` / ``AvgPool2d`` (incl. ``ceil_mode``)
- :func:`conv_transpose_output_size`  ``torch.nn.ConvTranspose2d``
- :func:`same_padding`                TensorFlow-style 'same' padding for any stride
- :func:`pixel_usage`                 how many windows read each input cell
- :func:`receptive_field`             size, jump and start of a stack of layers

They accept and reject exactly the configurations PyTorch accepts and rejects (the tests check
thousands of random ones), and their errors explain *why* in the formula's terms.

Per-layer counts (:func:`conv_parameters`, :func:`linear_parameters`, :func:`conv_mult_adds`,
:func:`linear_mult_adds`, :func:`count_parameters`) complete the toolbox. What a real model does
to shapes, layer by layer, is :func:`cnncourse.tracer.trace` (torch forward hooks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from cnncourse._validate import check_bool, check_choice, check_int, check_module, check_pair

__all__ = [
    "conv_output_size",
    "conv_output_terms",
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
]


# --------------------------------------------------------------------------------------------
# Output sizes
# --------------------------------------------------------------------------------------------


def effective_kernel_size(kernel_size: int, dilation: int = 1) -> int:
    """Span of a dilated kernel: ``d*(k-1) + 1`` input cells (``k=3, d=2 -> 5``).

    Parameters
    ----------
    kernel_size, dilation : int
        Number of taps ``k`` and spacing ``d`` between them (both >= 1; ``d=1`` is dense).

    Returns
    -------
    int
        The number of input cells from the first to the last tap.
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


def conv_output_terms(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """The numerator ``n + 2p - d(k-1) - 1`` of :func:`conv_output_size`, which never raises.

    ``conv_output_size = numerator // s + 1`` when the numerator is >= 0 (a negative numerator
    means the kernel does not fit), and the last ``numerator % s`` cells of the padded input are
    never read. A widget can so show the formula with the numbers of an invalid configuration.

    Parameters
    ----------
    size, kernel_size, stride, padding, dilation : int
        As in :func:`conv_output_size` (``padding`` an int ``p >= 0`` on each side).

    Returns
    -------
    int
        ``n + 2p - d(k-1) - 1`` (negative if the dilated kernel is longer than ``n + 2p``).
    """
    n, k, _, d = _check_common(size, kernel_size, stride, dilation)
    return n + 2 * check_int("padding", padding, minimum=0) - effective_kernel_size(k, d)


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
    size, kernel_size, stride : int
        Input length ``n`` (height or width), kernel length ``k`` and step ``s``, all >= 1.
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
        if check_choice("padding", padding, ("valid", "same")) == "same":
            if s != 1:
                raise ValueError(
                    f"padding='same' needs stride=1 (PyTorch rejects it for strided "
                    f"convolutions: no symmetric padding makes the output equal the input), "
                    f"got stride={s}; use same_padding(size, kernel_size, stride) for the "
                    f"TensorFlow-style output ceil(n/s)"
                )
            return n
        padding = 0
    numerator = conv_output_terms(n, k, s, padding, d)
    if numerator < 0:
        p, k_eff = padding, effective_kernel_size(k, d)
        raise ValueError(
            f"kernel_size {k} (dilated to {k_eff}) is larger than the padded input "
            f"{n} + 2*{p} = {n + 2 * p}: the window d(k-1)+1 = {k_eff} must fit in n + 2p"
        )
    return numerator // s + 1


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
    size, kernel_size : int
        Input length ``n`` and window length ``k``, >= 1.
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
    check_bool("ceil_mode", ceil_mode)
    if p > k // 2:
        raise ValueError(
            f"padding {p} must be at most half the kernel_size: {k} // 2 = {k // 2} "
            f"(PyTorch's pooling rule, so every window overlaps the input)"
        )
    numerator = conv_output_terms(n, k, s, p, d) + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1  # Python's // rounds towards -inf, like torch's div_rtn
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window would start in the right padding: drop it
    if out < 1:
        rounding, k_eff = ("ceil" if ceil_mode else "floor"), effective_kernel_size(k, d)
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
    size, kernel_size, dilation : int
        Input length ``n``, kernel length ``k`` and spacing ``d`` between taps, all >= 1.
    stride : int
        Spacing ``s`` of the input cells in the output, >= 1.
    padding : int
        Cells removed from each side of the full output (``p >= 0``).
    output_padding : int
        Extra cells added on one side; must be smaller than ``stride`` or ``dilation``.

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
    out = (n - 1) * s - 2 * p + effective_kernel_size(k, d) + op
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
    size, kernel_size, stride, dilation : int
        Input length ``n``, kernel length ``k``, step ``s`` and spacing between taps, all >= 1.

    Returns
    -------
    tuple of int
        ``(before, after)`` with ``after - before`` in ``{0, 1}``.
    """
    n, k, s, d = _check_common(size, kernel_size, stride, dilation)
    out = -(-n // s)  # ceil(n / s)
    total = max((out - 1) * s + effective_kernel_size(k, d) - n, 0)
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
    p = check_int("padding", padding, minimum=0)  # an int: conv_output_size took 'valid'/'same'
    taps = (np.arange(out)[:, None] * s + np.arange(k)[None, :] * d).ravel()
    counts = np.bincount(taps, minlength=n + 2 * p).astype(np.int64)
    return counts if check_bool("include_padding", include_padding) else counts[p : p + n]


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
        layer = dict(zip(("kernel_size", "stride", "dilation"), layer, strict=False))
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
        p = 0 if padding == "valid" else (effective_kernel_size(k, d) - 1) // 2
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
        k_eff = effective_kernel_size(k, d)
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
    return c_out * (c_in // g) * kh * kw + (c_out if check_bool("bias", bias) else 0)


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
    return f_in * f_out + (f_out if check_bool("bias", bias) else 0)


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


def _check_groups(groups: Any, c_in: int, c_out: int) -> int:
    g = check_int("groups", groups, minimum=1)
    if c_in % g or c_out % g:
        raise ValueError(f"groups {g} must divide in_channels {c_in} and out_channels {c_out}")
    return g


def count_parameters(module: Any, trainable_only: bool = False) -> int:
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
    check_module("module", module)  # imports torch only now: the rest of this file is torch-free
    check_bool("trainable_only", trainable_only)
    # Module.parameters() already de-duplicates shared (tied) parameters
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
