"""Convolution and cross-correlation from scratch (chapter 1).

Deep-learning "convolution" layers compute a *cross-correlation*: the kernel slides over the
input without being flipped. True convolution flips the kernel first. Both are here:

- :func:`convolve1d` -- 1-D convolution (kernel flipped), like ``numpy.convolve``.
- :func:`corr2d_naive` -- 2-D valid cross-correlation with explicit loops, written for reading.
- :func:`corr2d` -- the same, vectorised with ``sliding_window_view``.
- :func:`conv2d` -- batched, multi-channel cross-correlation on NCHW arrays with the
  semantics of ``torch.nn.functional.conv2d`` (stride, padding, dilation, bias).
- :func:`conv2d_backward` -- gradients of :func:`conv2d` for input, weight and bias.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validate import check_array, check_choice, check_pair

__all__ = ["convolve1d", "corr2d_naive", "corr2d", "conv2d", "conv2d_backward", "output_size"]


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
    (H - kh + 1, W - kw + 1). ``sliding_window_view`` exposes every kh x kw window as a view
    (no copy) of shape (out_h, out_w, kh, kw); one ``einsum`` multiplies each window by the
    kernel and sums over the two window axes.
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


def output_size(size: int, kernel_size: int, stride: int, padding: int, dilation: int) -> int:
    """``floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def _conv_args(x, weight, bias, stride, padding, dilation):
    x = check_array("x", x, ndim=4)
    weight = check_array("weight", weight, ndim=4)
    stride = check_pair("stride", stride, minimum=1)
    padding = check_pair("padding", padding, minimum=0)
    dilation = check_pair("dilation", dilation, minimum=1)
    n, c, h, w = x.shape
    o, ci, kh, kw = weight.shape
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
    for axis, size, k in (("height", h, kh), ("width", w, kw)):
        i = 0 if axis == "height" else 1
        effective = dilation[i] * (k - 1) + 1
        padded = size + 2 * padding[i]
        if effective > padded:
            raise ValueError(
                f"kernel {axis} {k} (dilated to {effective}) is larger than the padded input "
                f"{axis} {size} + 2*{padding[i]} = {padded}"
            )
    return x, weight, bias, stride, padding, dilation


def _windows(x_padded, kh, kw, stride, dilation, out_h, out_w):
    """All receptive fields as a strided view of shape (N, C, out_h, out_w, kh, kw)."""
    (sh, sw), (dh, dw) = stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    win = sliding_window_view(x_padded, (span_h, span_w), axis=(2, 3))
    # Keep every stride-th window and every dilation-th element inside a window.
    return win[:, :, : sh * (out_h - 1) + 1 : sh, : sw * (out_w - 1) + 1 : sw, ::dh, ::dw]


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
    """
    x, weight, bias, stride, padding, dilation = _conv_args(
        x, weight, bias, stride, padding, dilation
    )
    _, _, kh, kw = weight.shape
    out_h = output_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
    out_w = output_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    win = _windows(xp, kh, kw, stride, dilation, out_h, out_w)
    # (N, C, oh, ow, kh, kw) x (O, C, kh, kw) -> (N, oh, ow, O): one big matrix product.
    y = np.tensordot(win, weight, axes=((1, 4, 5), (1, 2, 3))).transpose(0, 3, 1, 2)
    if bias is not None:
        y = y + bias[None, :, None, None]
    return np.ascontiguousarray(y)


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
    ``y[n,o,i,j] = sum_{c,a,b} xp[n, c, i s + a d, j s + b d] w[o,c,a,b] + bias[o]``, so
    ``dw`` correlates the input windows with ``grad_out``, and ``dx`` scatters
    ``grad_out * w`` back to every input position each window read from (then drops the padding).
    Input rows or columns that no window reaches (when the stride does not tile) get zero.
    """
    x, weight, _, stride, padding, dilation = _conv_args(x, weight, None, stride, padding, dilation)
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    out_h = output_size(h, kh, stride[0], padding[0], dilation[0])
    out_w = output_size(w, kw, stride[1], padding[1], dilation[1])
    grad_out = check_array("grad_out", grad_out, ndim=4)
    if grad_out.shape != (n, o, out_h, out_w):
        raise ValueError(
            f"grad_out must have the conv2d output shape {(n, o, out_h, out_w)}, "
            f"got {grad_out.shape}"
        )
    (sh, sw), (ph, pw), (dh, dw_) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = _windows(xp, kh, kw, stride, dilation, out_h, out_w)
    dw = np.tensordot(grad_out, win, axes=((0, 2, 3), (0, 2, 3)))  # (O, C, kh, kw)
    db = grad_out.sum(axis=(0, 2, 3))
    # For each kernel tap (a, b), every output pixel adds grad_out . w[:, :, a, b] into one input
    # pixel. Working channels-last turns each tap into one (N*oh*ow, O) @ (O, C) matrix product.
    g_last = np.moveaxis(grad_out, 1, -1)  # (N, oh, ow, O)
    dxp = np.zeros((n, xp.shape[2], xp.shape[3], c), dtype=np.result_type(grad_out, weight))
    for a in range(kh):
        for b in range(kw):
            rows = slice(a * dh, a * dh + sh * (out_h - 1) + 1, sh)
            cols = slice(b * dw_, b * dw_ + sw * (out_w - 1) + 1, sw)
            dxp[:, rows, cols, :] += g_last @ weight[:, :, a, b]
    dxp = np.moveaxis(dxp, -1, 1)
    dx = dxp[:, :, ph : ph + h, pw : pw + w]
    return np.ascontiguousarray(dx), dw, db
