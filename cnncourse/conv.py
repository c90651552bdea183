"""Convolution and cross-correlation from scratch (chapter 1).

Deep-learning "convolution" layers compute a *cross-correlation*: the kernel slides over the
input without being flipped. True convolution flips the kernel first. Both are here:

- :func:`convolve1d` -- 1-D convolution (kernel flipped), like ``numpy.convolve``.
- :func:`corr2d_naive` -- 2-D valid cross-correlation with explicit loops, written for reading.
- :func:`corr2d` -- the same, vectorised with ``sliding_window_view``.
- :func:`sliding_windows` -- every window of an NCHW array as a strided view (no copy); pooling
  uses it too.
- :func:`im2col` -- every receptive field as one column of a matrix (``F.unfold`` in torch),
  and :func:`col2im`, which adds the columns back into an image (``F.fold``).
- :func:`conv2d` -- batched, multi-channel cross-correlation on NCHW arrays with the
  semantics of ``torch.nn.functional.conv2d`` (stride, padding, dilation, bias): im2col and one
  matrix product.
- :func:`conv2d_backward` -- gradients of :func:`conv2d` for input, weight and bias, with the
  same two steps run backwards.
- :func:`conv_matrix` -- the layer as one explicit matrix acting on the flattened image (for one
  channel and stride 1: the doubly block Toeplitz matrix); its transpose is the backward pass.
- :func:`conv_transpose2d` -- the transposed convolution, as ``F.conv_transpose2d``: multiply by
  the transpose of :func:`conv_matrix`, which is the input gradient of :func:`conv2d`.

Output sizes come from :func:`cnncourse.shapes.conv_output_size`, whose errors explain the rule.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import shapes
from ._validate import check_array, check_choice, check_pair

__all__ = [
    "convolve1d",
    "corr2d_naive",
    "corr2d",
    "sliding_windows",
    "im2col",
    "col2im",
    "conv2d",
    "conv2d_backward",
    "conv_matrix",
    "conv_transpose2d",
]


def convolve1d(x, w, mode: str = "full") -> np.ndarray:
    """1-D convolution ``(x * w)[n] = sum_k x[k] w[n - k]`` (the kernel is flipped).

    Parameters
    ----------
    x : array_like, shape (N,)
    w : array_like, shape (K,)
    mode : {'full', 'same', 'valid'}
        Output length N + K - 1, max(N, K) or max(N, K) - min(N, K) + 1, as ``numpy.convolve``.

    Returns
    -------
    ndarray, shape depends on ``mode``

    Examples
    --------
    >>> convolve1d([1, 2, 3, 4], [1, 1, 1])
    array([1, 3, 6, 9, 7, 4])
    """
    x = check_array("x", x, ndim=1)
    w = check_array("w", w, ndim=1)
    check_choice("mode", mode, ("full", "same", "valid"))
    if x.size == 0 or w.size == 0:
        raise ValueError(f"x and w must be non-empty, got lengths {x.size} and {w.size}")
    if x.size < w.size:  # convolution commutes; slide the shorter one
        x, w = w, x
    n, k = x.size, w.size
    padded = np.pad(x, k - 1)
    # Full convolution = cross-correlation of the zero-padded input with the flipped kernel.
    full = sliding_window_view(padded, k) @ w[::-1]
    if mode == "full":
        return full
    if mode == "valid":
        return full[k - 1 : n]
    start = (k - 1) // 2  # numpy's 'same' centres the output
    return full[start : start + n]


def corr2d_naive(x, kernel) -> np.ndarray:
    """2-D valid cross-correlation with explicit loops (slow; for reading).

    ``y[i, j] = sum_{a, b} x[i + a, j + b] * kernel[a, b]``

    Parameters
    ----------
    x : array_like, shape (H, W)
    kernel : array_like, shape (kh, kw), with kh <= H and kw <= W

    Returns
    -------
    ndarray, shape (H - kh + 1, W - kw + 1)
        float64 (complex128 for complex inputs) whatever the inputs' precision: the loop writes
        into a buffer of that type.
    """
    x, kernel = _check_2d(x, kernel)
    kh, kw = kernel.shape
    out_h, out_w = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    y = np.zeros((out_h, out_w), dtype=np.result_type(x, kernel, np.float64))
    for i in range(out_h):
        for j in range(out_w):
            y[i, j] = (x[i : i + kh, j : j + kw] * kernel).sum()
    return y


def corr2d(x, kernel) -> np.ndarray:
    """2-D valid cross-correlation, vectorised.

    Same contract as :func:`corr2d_naive`: ``x`` (H, W), ``kernel`` (kh, kw) ->
    (H - kh + 1, W - kw + 1), except the type: ``einsum`` keeps the inputs' common type (float32
    stays float32, as in torch; integers stay integers, as in scipy). ``sliding_window_view``
    exposes every kh x kw window as a view (no copy) of shape (out_h, out_w, kh, kw); one
    ``einsum`` multiplies each window by the kernel and sums over the two window axes.
    """
    x, kernel = _check_2d(x, kernel)
    windows = sliding_window_view(x, kernel.shape)
    # numpy's optimised (BLAS) path wins for 2-D kernels but is ~8x slower for the 1-D kernels
    # of separable filters (measured: benchmarks/conv_impls.py, filters_separable.py).
    two_d = kernel.shape[0] > 1 and kernel.shape[1] > 1
    return np.einsum("ijkl,kl->ij", windows, kernel, optimize=two_d)


def _check_2d(x, kernel) -> tuple[np.ndarray, np.ndarray]:
    x = check_array("x", x, ndim=2)
    kernel = check_array("kernel", kernel, ndim=2)
    if kernel.size == 0:
        raise ValueError(f"kernel must be non-empty, got shape {kernel.shape}")
    if kernel.shape[0] > x.shape[0] or kernel.shape[1] > x.shape[1]:
        raise ValueError(
            f"kernel of shape {kernel.shape} is larger than input x of shape {x.shape}; "
            "pad x first or use a smaller kernel"
        )
    return x, kernel


def _output_hw(x_shape, kernel_size, stride, padding, dilation, name="x") -> tuple[int, int]:
    """(out_h, out_w) of a convolution over an NCHW array of shape ``x_shape``, axis by axis."""
    out = []
    for i, axis in enumerate(("height", "width")):
        try:
            out.append(
                shapes.conv_output_size(
                    x_shape[2 + i], kernel_size[i], stride[i], padding[i], dilation[i]
                )
            )
        except ValueError as err:
            raise ValueError(
                f"convolution over the {axis} of {name} (shape {tuple(x_shape)}): {err}"
            ) from None
    return out[0], out[1]


def sliding_windows(x, kernel_size, stride=1, dilation=1) -> np.ndarray:
    """Every window of an NCHW array, as a read-only strided view (no copy).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
        Pad it first if the windows should reach past the border.
    kernel_size, stride, dilation : int or (int, int)
        Window height and width, the step between windows and the spacing of the taps, all >= 1.

    Returns
    -------
    ndarray, shape (N, C, out_h, out_w, kh, kw)
        ``windows[n, c, i, j, a, b] = x[n, c, i stride + a dilation, j stride + b dilation]``;
        ``out_h = floor((H - dilation (kh - 1) - 1) / stride) + 1``, likewise ``out_w``.
    """
    x = check_array("x", x, ndim=4)
    kh, kw = check_pair("kernel_size", kernel_size, minimum=1)
    sh, sw = check_pair("stride", stride, minimum=1)
    dh, dw = check_pair("dilation", dilation, minimum=1)
    _output_hw(x.shape, (kh, kw), (sh, sw), (0, 0), (dh, dw))  # raises if no window fits
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    # Keep every stride-th window and every dilation-th element inside a window.
    return windows[:, :, ::sh, ::sw, ::dh, ::dw]


def im2col(x, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Unfold every receptive field of ``x`` into one column of a matrix ("image to columns").

    The result equals ``torch.nn.functional.unfold`` (pass the arguments by name: torch orders
    them dilation, padding, stride). Its rows are ordered (c, a, b), like the flattened filters
    ``weight.reshape(O, -1)``, so a convolution becomes one matrix product (see :func:`conv2d`).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
    kernel_size, stride, padding, dilation : int or (int, int)
        As in :func:`conv2d`; ``padding`` adds zeros on both sides.

    Returns
    -------
    ndarray, shape (N, C * kh * kw, out_h * out_w)
        ``cols[n, (c, a, b), (i, j)] = x_padded[n, c, i s + a d, j s + b d]`` with stride ``s``
        and dilation ``d``.
    """
    x = check_array("x", x, ndim=4)
    ph, pw = check_pair("padding", padding, minimum=0)
    x_padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    fields = sliding_windows(x_padded, kernel_size, stride, dilation)  # (N, C, oh, ow, kh, kw)
    n, c, out_h, out_w, kh, kw = fields.shape
    # The copy that costs memory: each input pixel lands in up to kh*kw columns.
    return fields.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, out_h * out_w)


def col2im(cols, image_size, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Add every column back onto the image positions it was read from (im2col run backwards).

    This is ``torch.nn.functional.fold``: where receptive fields overlap, their values add up,
    which is exactly what the backward pass of a convolution needs. It loops over the kh*kw
    taps of the kernel; each tap adds one strided slice.

    Parameters
    ----------
    cols : array_like, shape (N, C * kh * kw, out_h * out_w)
        Laid out as :func:`im2col` returns it.
    image_size : int or (int, int)
        Height and width (H, W) of the image, without padding.
    kernel_size, stride, padding, dilation : int or (int, int)
        As given to :func:`im2col`.

    Returns
    -------
    ndarray, shape (N, C, H, W)
        What falls on the padding is dropped.
    """
    cols = check_array("cols", cols, ndim=3)
    h, w = check_pair("image_size", image_size, minimum=1)
    kh, kw = check_pair("kernel_size", kernel_size, minimum=1)
    (sh, sw), (ph, pw), (dh, dw) = (
        check_pair("stride", stride, minimum=1),
        check_pair("padding", padding, minimum=0),
        check_pair("dilation", dilation, minimum=1),
    )
    n, rows, length = cols.shape
    image_shape = (n, rows // (kh * kw), h, w)
    out_h, out_w = _output_hw(image_shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw), "the image")
    if rows % (kh * kw) or length != out_h * out_w:
        raise ValueError(
            f"cols must have shape (N, C * {kh} * {kw}, {out_h} * {out_w}) for a {h}x{w} image, "
            f"got {cols.shape}"
        )
    patches = cols.reshape(n, rows // (kh * kw), kh, kw, out_h, out_w)
    image = np.zeros((n, patches.shape[1], h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            # Tap (a, b) of window (i, j) read row a*dh + i*sh and column b*dw + j*sw.
            rows_ab = slice(a * dh, a * dh + sh * (out_h - 1) + 1, sh)
            cols_ab = slice(b * dw, b * dw + sw * (out_w - 1) + 1, sw)
            image[:, :, rows_ab, cols_ab] += patches[:, :, a, b]
    return np.ascontiguousarray(image[:, :, ph : ph + h, pw : pw + w])


def _conv_args(x, weight, bias, stride, padding, dilation):
    x = check_array("x", x, ndim=4)
    weight = check_array("weight", weight, ndim=4)
    stride = check_pair("stride", stride, minimum=1)
    padding = check_pair("padding", padding, minimum=0)
    dilation = check_pair("dilation", dilation, minimum=1)
    c, (o, ci, kh, kw) = x.shape[1], weight.shape
    if ci != c:
        raise ValueError(
            f"weight has {ci} input channels (shape {weight.shape}) but x has {c} channels "
            f"(shape {x.shape}); weight must be (out_channels, {c}, kh, kw)"
        )
    if kh == 0 or kw == 0 or o == 0:
        raise ValueError(f"weight must have non-zero out_channels, kh and kw, got {weight.shape}")
    if bias is not None:
        bias = check_array("bias", bias, ndim=1)
        if bias.shape != (o,):
            raise ValueError(f"bias must have shape ({o},) to match weight, got {bias.shape}")
    out_size = _output_hw(x.shape, (kh, kw), stride, padding, dilation)
    return x, weight, bias, stride, padding, dilation, out_size


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Batched multi-channel 2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W)
    weight : array_like, shape (O, C, kh, kw)
    bias : array_like, shape (O,), optional
    stride, padding, dilation : int or (int, int)
        stride >= 1, padding >= 0 (zeros on both sides), dilation >= 1.

    Returns
    -------
    ndarray, shape (N, O, out_h, out_w)
        out_h = floor((H + 2 padding - dilation (kh - 1) - 1) / stride) + 1, likewise out_w.
        float32 inputs give float32.

    Notes
    -----
    Each output pixel is the dot product of a flattened filter (a row of
    ``weight.reshape(O, -1)``) with a flattened receptive field (a column of :func:`im2col`),
    so the whole layer is one matrix product: (O, C kh kw) @ (N, C kh kw, out_h out_w).
    """
    x, weight, bias, stride, padding, dilation, (out_h, out_w) = _conv_args(
        x, weight, bias, stride, padding, dilation
    )
    n, o = x.shape[0], weight.shape[0]
    cols = im2col(x, weight.shape[2:], stride, padding, dilation)  # (N, C*kh*kw, out_h*out_w)
    y = weight.reshape(o, -1) @ cols  # (N, O, out_h*out_w)
    if bias is not None:
        y = y.astype(np.result_type(y, bias), copy=False)
        y += bias[:, None]
    return y.reshape(n, o, out_h, out_w)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1):
    """Gradients of :func:`conv2d` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_out : array_like, shape (N, O, out_h, out_w)
        Upstream gradient dL/dy.
    x, weight, stride, padding, dilation
        As passed to :func:`conv2d`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dw : ndarray, shape (O, C, kh, kw)
    db : ndarray, shape (O,)

    Notes
    -----
    The forward pass is ``y = W @ cols + b`` with ``W = weight.reshape(O, -1)`` and
    ``cols = im2col(x)``, per image. The gradients of a matrix product are matrix products:
    ``dW = g @ cols.T`` (summed over the batch), ``dcols = W.T @ g`` and ``db = sum of g``.
    :func:`col2im` then adds each column of ``dcols`` back to the input pixels it was read from
    and drops the padding. Input rows or columns that no window reaches get zero.
    """
    x, weight, _, stride, padding, dilation, (out_h, out_w) = _conv_args(
        x, weight, None, stride, padding, dilation
    )
    n, o = x.shape[0], weight.shape[0]
    grad_out = check_array("grad_out", grad_out, ndim=4)
    if grad_out.shape != (n, o, out_h, out_w):
        raise ValueError(
            f"grad_out must have the conv2d output shape {(n, o, out_h, out_w)}, "
            f"got {grad_out.shape}"
        )
    cols = im2col(x, weight.shape[2:], stride, padding, dilation)  # (N, C*kh*kw, out_h*out_w)
    g = grad_out.reshape(n, o, out_h * out_w)
    dw = (g @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
    db = g.sum(axis=(0, 2))
    dcols = weight.reshape(o, -1).T @ g  # (N, C*kh*kw, out_h*out_w)
    dx = col2im(dcols, x.shape[2:], weight.shape[2:], stride, padding, dilation)
    return dx, dw, db


def conv_matrix(weight, image_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The convolution layer as one matrix ``M`` acting on a flattened image.

    ``conv2d(x, weight, ...)[n].ravel() == M @ x[n].ravel()`` for every image ``x[n]`` of shape
    (C, H, W). Row ``(o, i, j)`` of ``M`` holds the filter ``weight[o]`` at the input positions
    window ``(i, j)`` reads, zeros elsewhere. For one channel, stride 1 and no padding, ``M`` is
    *doubly block Toeplitz*: viewed as (out_h x H) blocks of shape (out_w, W), block ``(i, r)``
    depends only on ``r - i`` (it is the Toeplitz matrix of kernel row ``r - i``).

    Parameters
    ----------
    weight : array_like, shape (O, C, kh, kw)
    image_size : int or (int, int)
        Height and width (H, W) of the input, without padding.
    stride, padding, dilation : int or (int, int)
        As in :func:`conv2d`.

    Returns
    -------
    ndarray, shape (O * out_h * out_w, C * H * W)
        Dense, so only for small images (it has one row per output value and one column per
        input value). ``M.T`` maps an output gradient to the input gradient
        (:func:`conv_transpose2d`).
    """
    weight = check_array("weight", weight, ndim=4)
    h, w = check_pair("image_size", image_size, minimum=1)
    o, c, kh, kw = weight.shape
    x_shape = (1, c, h, w)
    x, weight, _, (sh, sw), (ph, pw), (dh, dw), (out_h, out_w) = _conv_args(
        np.zeros(x_shape, dtype=weight.dtype), weight, None, stride, padding, dilation
    )
    m = np.zeros((o, out_h * out_w, c, h * w), dtype=np.result_type(weight, np.float64))
    ii, jj = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    for a in range(kh):
        for b in range(kw):
            # Tap (a, b) of window (i, j) reads input pixel (i s + a d - p, j s + b d - p).
            r, q = ii * sh + a * dh - ph, jj * sw + b * dw - pw
            inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)  # taps on the padding read 0
            out_pos, in_pos = (ii * out_w + jj)[inside], (r * w + q)[inside]
            m[:, out_pos, :, in_pos] = weight[None, :, :, a, b]
    return m.reshape(o * out_h * out_w, c * h * w)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (``groups=1``).

    Every input pixel spreads ``x[n, c_in, i, j] * weight[c_in]`` over the output window that a
    convolution with the same arguments would have read it from, and overlaps add up. That is
    multiplication by the transpose of :func:`conv_matrix`, and it is exactly the input gradient
    of :func:`conv2d`: ``conv_transpose2d(g, w, ...)`` equals ``conv2d_backward(g, x, w, ...)[0]``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W)
    weight : array_like, shape (C_in, C_out, kh, kw)
        Laid out as torch's ``ConvTranspose2d.weight``: the shape of a ``Conv2d`` weight that maps
        C_out channels to C_in.
    bias : array_like, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
        As the convolution this transposes: stride >= 1, padding >= 0, dilation >= 1.
    output_padding : int or (int, int)
        Extra rows/columns at the bottom/right, >= 0 and smaller than the stride or the dilation.

    Returns
    -------
    ndarray, shape (N, C_out, out_h, out_w)
        ``out_h = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1``
        (:func:`cnncourse.shapes.conv_transpose_output_size`), likewise ``out_w``.
    """
    x = check_array("x", x, ndim=4)
    weight = check_array("weight", weight, ndim=4)
    if weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"weight has {weight.shape[0]} input channels (shape {weight.shape}) but x has "
            f"{x.shape[1]} channels (shape {x.shape}); weight must be ({x.shape[1]}, C_out, kh, kw)"
        )
    if 0 in weight.shape:
        raise ValueError(f"weight must have non-zero C_out, kh and kw, got {weight.shape}")
    stride, padding, dilation, output_padding = (
        check_pair("stride", stride, minimum=1),
        check_pair("padding", padding, minimum=0),
        check_pair("dilation", dilation, minimum=1),
        check_pair("output_padding", output_padding, minimum=0),
    )
    n, c_in, h, w = x.shape
    c_out, kh, kw = weight.shape[1:]
    out_size = tuple(
        shapes.conv_transpose_output_size(
            x.shape[2 + i],
            weight.shape[2 + i],
            stride[i],
            padding[i],
            output_padding[i],
            dilation[i],
        )
        for i in range(2)
    )
    if bias is not None:
        bias = check_array("bias", bias, ndim=1)
        if bias.shape != (c_out,):
            raise ValueError(f"bias must have shape ({c_out},) to match weight, got {bias.shape}")
    # The backward pass of conv2d for the input: dcols = W.T @ g, then col2im (see
    # conv2d_backward); here W is the (C_in, C_out kh kw) matrix of the conv that this transposes.
    cols = weight.reshape(c_in, -1).T @ x.reshape(n, c_in, h * w)  # (N, C_out*kh*kw, H*W)
    # col2im onto the full, uncropped output (the conv over it has exactly H x W windows), then
    # drop `padding` on each side; output_padding keeps that many of the cropped cells at the
    # bottom/right (zeros where no window reaches, as when output_padding >= stride).
    full = [
        (x.shape[2 + i] - 1) * stride[i] + dilation[i] * (weight.shape[2 + i] - 1) + 1
        for i in range(2)
    ]
    y = col2im(cols, full, (kh, kw), stride, 0, dilation)
    y = np.pad(y, ((0, 0), (0, 0), (0, output_padding[0]), (0, output_padding[1])))
    y = np.ascontiguousarray(
        y[:, :, padding[0] : padding[0] + out_size[0], padding[1] : padding[1] + out_size[1]]
    )
    if bias is not None:
        y = y.astype(np.result_type(y, bias), copy=False)
        y += bias[:, None, None]
    return y
