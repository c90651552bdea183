"""Pooling from scratch, with backward passes (chapter 4).

(Over 500 lines because it holds every pooling layer of chapter 4 with its backward pass and
torch's corner cases; the ruled sections below are the map.)

Pooling slides a window over each channel separately and summarises it with one number: the
largest value (max pooling) or the mean (average pooling). It has no parameters.

- :func:`max_pool2d_naive` -- max pooling with explicit loops, written for reading.
- :func:`max_pool2d`, :func:`avg_pool2d` -- vectorised over the windows of
  :func:`cnncourse.conv.sliding_windows` (the same view a convolution reads), with the
  semantics of ``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` (stride, padding, dilation,
  ``ceil_mode``, ``count_include_pad``, ``return_indices``).
- :func:`adaptive_avg_pool2d`, :func:`adaptive_max_pool2d` -- you choose the output size; the
  windows follow PyTorch's rule (:func:`adaptive_pool_ranges`). Adaptive averaging is linear and
  separable, so it runs as two small matrix products, ``rows @ x @ cols.T``.
- :func:`global_avg_pool2d`, :func:`global_max_pool2d` -- one number per channel.
- ``*_backward`` -- gradients with respect to the input: max pooling routes each upstream
  gradient to the element that won its window, average pooling spreads it evenly.

Arrays are NCHW (``(N, C, H, W)``); an unbatched ``(C, H, W)`` array is accepted too, like torch.
Float inputs keep their dtype; integer and boolean inputs are converted to float64.

Ties and special values (max pooling)
-------------------------------------
When several elements of a window share the maximum, the *first one in row-major order*
(top row first, left to right) wins: it is the index returned and the only element that
receives the gradient. This is what PyTorch does on the CPU (it scans the window row by row
and replaces the running maximum only when a value is strictly larger). Padding counts as
``-inf`` and never wins against a real element. NaN propagates to the output, as in torch, but the
index then points at the first NaN (torch reports the last one). With dilation a window can
fall entirely into the padding: its output is ``-inf`` as in torch, its index is ``-1`` and it
passes no gradient back (torch 2.x reports an index outside the input there).
"""

from __future__ import annotations

import numpy as np

from . import shapes
from ._validate import check_array, check_bool, check_int, check_pair
from .conv import sliding_windows

__all__ = [
    "max_pool2d_naive",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "adaptive_pool_ranges",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool2d_backward",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_backward",
    "global_avg_pool2d",
    "global_max_pool2d",
]


# ----------------------------------------------------------------------------- argument checks


def _as_batch(x) -> tuple[np.ndarray, bool]:
    """Return ``x`` as a float NCHW array and whether a batch axis was added."""
    x = check_array("x", x, ndim=(3, 4))
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if min(x.shape[-3:]) < 1:
        raise ValueError(f"x must have non-zero channels, height and width, got shape {x.shape}")
    return (x[None], True) if x.ndim == 3 else (x, False)


def _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate the arguments shared by max and average pooling; compute the output size."""
    x, unbatched = _as_batch(x)
    kernel_size = check_pair("kernel_size", kernel_size, minimum=1)
    stride = kernel_size if stride is None else check_pair("stride", stride, minimum=1)
    padding = check_pair("padding", padding, minimum=0)
    dilation = check_pair("dilation", dilation, minimum=1)
    ceil_mode = check_bool("ceil_mode", ceil_mode)
    out = []
    for i, axis in enumerate(("height", "width")):
        # One implementation of torch's size rule (incl. ceil_mode and the padding limit).
        try:
            out.append(
                shapes.pool_output_size(
                    x.shape[2 + i],
                    kernel_size[i],
                    stride[i],
                    padding[i],
                    dilation[i],
                    ceil_mode,
                )
            )
        except ValueError as err:
            raise ValueError(f"pooling over the {axis} of x (shape {x.shape}): {err}") from None
    return x, unbatched, kernel_size, stride, padding, dilation, tuple(out)


def _check_grad(grad_output, expected_shape) -> np.ndarray:
    grad_output = check_array("grad_output", grad_output, ndim=(3, 4))
    if grad_output.ndim == 3:
        grad_output = grad_output[None]
    if grad_output.shape != tuple(expected_shape):
        raise ValueError(
            f"grad_output must have the forward output's shape {tuple(expected_shape)}, "
            f"got {grad_output.shape}"
        )
    return grad_output


def _unbatch(y: np.ndarray, unbatched: bool) -> np.ndarray:
    return y[0] if unbatched else y


# ----------------------------------------------------------------------------- sliding windows


def _windows(x, kernel_size, stride, padding, dilation, out_size, fill):
    """Every pooling window as a strided view of shape (N, C, out_h, out_w, kh, kw).

    The input is padded with ``fill`` (``-inf`` for max, ``0`` for average). With ``ceil_mode`` the
    last window may hang past the padded input; that overhang is padded with ``fill`` as well.
    The windows themselves are :func:`cnncourse.conv.sliding_windows`, as for a convolution.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    (oh, ow), (h, w) = out_size, x.shape[2:]
    extra_h = max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph))
    extra_w = max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw))
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph + extra_h), (pw, pw + extra_w)), constant_values=fill)
    return sliding_windows(xp, kernel_size, stride, dilation)


def _scatter_add(values, flat_index, shape):
    """Sum ``values`` into a zero array of ``shape`` (N, C, H, W) at per-plane flat indices.

    ``flat_index`` holds ``row * W + col`` inside each (H, W) plane; entries < 0 are dropped.
    Several values landing on one element add up (overlapping windows).
    """
    n, c, h, w = shape
    values = np.broadcast_to(values, np.broadcast_shapes(values.shape, flat_index.shape))
    flat_index = np.broadcast_to(flat_index, values.shape)
    plane = np.arange(n * c).reshape(n, c, *([1] * (values.ndim - 2))) * (h * w)
    keep = flat_index >= 0
    total = np.bincount(
        (plane + flat_index)[keep], weights=values[keep].astype(np.float64), minlength=n * c * h * w
    )
    return total.reshape(shape)


# ----------------------------------------------------------------------------- max pooling


def max_pool2d_naive(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """Max pooling with explicit loops (slow; for reading). Same contract as :func:`max_pool2d`.

    For each output pixel ``(i, j)`` the window reads the input rows
    ``i * stride - padding + a * dilation`` for ``a = 0 .. kernel_size - 1`` (columns likewise),
    skips positions in the padding, and keeps the largest value. A value replaces the running
    maximum only when it is strictly larger, so the first maximum in row-major order wins ties.
    """
    x, unbatched, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = _pool_args(
        x, kernel_size, stride, padding, dilation, ceil_mode
    )
    return_indices = check_bool("return_indices", return_indices)
    n, c, h, w = x.shape
    y = np.full((n, c, oh, ow), -np.inf, dtype=x.dtype)
    idx = np.full((n, c, oh, ow), -1, dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    for a in range(kh):
                        r = i * sh - ph + a * dh
                        if not 0 <= r < h:
                            continue  # padding row
                        for q in range(kw):
                            col = j * sw - pw + q * dw
                            if not 0 <= col < w:
                                continue  # padding column
                            v = x[b, ch, r, col]
                            best = y[b, ch, i, j]
                            # NaN beats everything (it propagates); the first NaN stays.
                            bigger = v > best or (np.isnan(v) and not np.isnan(best))
                            if idx[b, ch, i, j] < 0 or bigger:
                                y[b, ch, i, j] = v
                                idx[b, ch, i, j] = r * w + col
    y, idx = _unbatch(y, unbatched), _unbatch(idx, unbatched)
    return (y, idx) if return_indices else y


def max_pool2d(
    x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
        Window height and width, >= 1.
    stride : int or (int, int), optional
        Step between windows, >= 1. Defaults to ``kernel_size`` (non-overlapping windows).
    padding : int or (int, int)
        Implicit ``-inf`` added on both sides, 0 <= padding <= kernel_size // 2.
    dilation : int or (int, int)
        Spacing between the elements of a window, >= 1.
    ceil_mode : bool
        Round the output size up instead of down (the last window may hang past the input,
        but it must start inside the input or the left padding).
    return_indices : bool
        Also return where each maximum came from.

    Returns
    -------
    y : ndarray, shape (N, C, out_h, out_w)
        ``out_h = floor((H + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``
        (``ceil`` with ``ceil_mode``), likewise ``out_w``.
    indices : ndarray of int64, shape (N, C, out_h, out_w), only if ``return_indices``
        Flat position ``row * W + col`` of each maximum inside its (H, W) plane; ties go to the
        first maximum in row-major order (see the module notes).
    """
    x, unbatched, kernel_size, stride, padding, dilation, out_size = _pool_args(
        x, kernel_size, stride, padding, dilation, ceil_mode
    )
    win = _windows(x, kernel_size, stride, padding, dilation, out_size, -np.inf)
    if not check_bool("return_indices", return_indices):
        # One elementwise maximum per tap of the window: k*k passes over the output, much
        # faster than reducing the 6-D strided view directly. np.maximum propagates NaN.
        y = win[..., 0, 0].copy()
        for a, b in np.ndindex(*kernel_size):
            np.maximum(y, win[..., a, b], out=y)
        return _unbatch(y, unbatched)
    y, idx = _max_with_indices(x, win, kernel_size, stride, padding, dilation, out_size)
    return _unbatch(y, unbatched), _unbatch(idx, unbatched)


def _max_with_indices(x, win, kernel_size, stride, padding, dilation, out_size):
    """Maximum and its flat input index for every window of ``win`` (N, C, oh, ow, kh, kw)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    (oh, ow), (h, w) = out_size, x.shape[2:]
    has_nan = bool(np.isnan(x).any())
    # Scan the taps in row-major order and move the winner only on a strictly larger value,
    # as torch's CPU kernel does: ties go to the first maximum. A NaN wins once (the first NaN).
    y = win[..., 0, 0].copy()
    pos = np.zeros(y.shape, dtype=np.int32)  # winning tap t = a * kw + b of each window
    for t in range(1, kh * kw):
        tap = win[..., t // kw, t % kw]
        better = tap > y
        if has_nan:  # rare: keep the common path cheap
            better |= np.isnan(tap) & ~np.isnan(y)
            np.copyto(y, tap, where=better)
        else:
            np.maximum(y, tap, out=y)
        pos += better * (np.int32(t) - pos)  # arithmetic select: faster than a masked write
    rows = np.arange(oh)[:, None] * sh - ph + (pos // kw) * dh
    cols = np.arange(ow)[None, :] * sw - pw + (pos % kw) * dw
    idx = (rows * w + cols).astype(np.int64)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    if not inside.all():
        # The winner is padding only when every real element is -inf (or there is none):
        # torch then reports the window's first real element.
        first_r = np.arange(oh) * sh - ph
        first_r = first_r + dh * np.maximum(0, -(first_r // dh))  # step over the padding
        first_c = np.arange(ow) * sw - pw
        first_c = first_c + dw * np.maximum(0, -(first_c // dw))
        first = np.where(
            (first_r[:, None] < h) & (first_c[None, :] < w),
            first_r[:, None] * w + first_c[None, :],
            -1,  # the window lies entirely in the padding
        )
        idx = np.where(inside, idx, first)
    return y, idx


def max_pool2d_backward(
    grad_output, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False
):
    """Gradient of :func:`max_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : array_like, shape (N, C, out_h, out_w)
        Upstream gradient dL/dy.
    x, kernel_size, stride, padding, dilation, ceil_mode
        As passed to :func:`max_pool2d`.

    Returns
    -------
    dx : ndarray, shape of ``x``
        Each ``grad_output`` value goes to the one input element that won its window (the first
        maximum in row-major order on ties); all other elements get zero. An element that wins
        several overlapping windows collects the sum.
    """
    _, idx = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    x, unbatched = _as_batch(x)
    idx = idx[None] if unbatched else idx
    grad_output = _check_grad(grad_output, idx.shape)
    dx = _scatter_add(grad_output, idx, x.shape)
    return _unbatch(dx.astype(np.result_type(x, grad_output)), unbatched)


# ----------------------------------------------------------------------------- average pooling


def _avg_divisor(size, kernel_size, stride, padding, out, count_include_pad):
    """Per-output window size along one axis, as torch's CPU kernel counts it.

    With ``count_include_pad`` the padding counts but an overhang past it (``ceil_mode``) does not.
    """
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel_size, size + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
        Window height and width, >= 1.
    stride : int or (int, int), optional
        Step between windows, >= 1. Defaults to ``kernel_size``.
    padding : int or (int, int)
        Implicit zeros on both sides, 0 <= padding <= kernel_size // 2.
    ceil_mode : bool
        Round the output size up instead of down (see :func:`max_pool2d`).
    count_include_pad : bool
        Divide by the window size including padded zeros (True, torch's default) or only by the
        number of real input elements in the window (False).

    Returns
    -------
    ndarray, shape (N, C, out_h, out_w)
        ``out_h = floor((H + 2 padding - kernel_size) / stride) + 1`` (``ceil`` with ``ceil_mode``).
    """
    x, unbatched, kernel_size, stride, padding, _, out_size = _pool_args(
        x, kernel_size, stride, padding, 1, ceil_mode
    )
    win = _windows(x, kernel_size, stride, padding, (1, 1), out_size, 0.0)
    divisor = _avg_divisor_2d(x.shape, kernel_size, stride, padding, out_size, count_include_pad)
    total = np.zeros(win.shape[:4], dtype=np.result_type(x, np.float64))
    for a, b in np.ndindex(*kernel_size):  # one pass per tap (faster than reducing the view)
        total += win[..., a, b]
    y = total / divisor
    return _unbatch(y.astype(x.dtype, copy=False), unbatched)


def _avg_divisor_2d(x_shape, kernel_size, stride, padding, out_size, count_include_pad):
    count_include_pad = check_bool("count_include_pad", count_include_pad)
    rows = _avg_divisor(
        x_shape[2], kernel_size[0], stride[0], padding[0], out_size[0], count_include_pad
    )
    cols = _avg_divisor(
        x_shape[3], kernel_size[1], stride[1], padding[1], out_size[1], count_include_pad
    )
    return rows[:, None] * cols[None, :]


def avg_pool2d_backward(
    grad_output, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    """Gradient of :func:`avg_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : array_like, shape (N, C, out_h, out_w)
        Upstream gradient dL/dy.
    x, kernel_size, stride, padding, ceil_mode, count_include_pad
        As passed to :func:`avg_pool2d` (only the shape of ``x`` is used).

    Returns
    -------
    dx : ndarray, shape of ``x``
        Every element of a window receives ``grad_output / divisor`` of that window (1/k^2 of
        it for a k x k window without padding); overlapping windows add up. The share that
        falls on padding is lost.
    """
    x, unbatched, (kh, kw), (sh, sw), (ph, pw), _, (oh, ow) = _pool_args(
        x, kernel_size, stride, padding, 1, ceil_mode
    )
    n, c, h, w = x.shape
    grad_output = _check_grad(grad_output, (n, c, oh, ow))
    divisor = _avg_divisor_2d(x.shape, (kh, kw), (sh, sw), (ph, pw), (oh, ow), count_include_pad)
    share = grad_output / divisor
    # Room for the padding and a ceil_mode overhang; cropped off at the end.
    dxp = np.zeros((n, c, max(h + 2 * ph, (oh - 1) * sh + kh), max(w + 2 * pw, (ow - 1) * sw + kw)))
    for a in range(kh):  # each tap of the window adds the share to one input element
        for b in range(kw):
            dxp[:, :, a : a + sh * (oh - 1) + 1 : sh, b : b + sw * (ow - 1) + 1 : sw] += share
    dx = dxp[:, :, ph : ph + h, pw : pw + w]
    return _unbatch(dx.astype(np.result_type(x, grad_output)), unbatched)


# ----------------------------------------------------------------------------- adaptive pooling


def adaptive_pool_ranges(size: int, output_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Window bounds of adaptive pooling along one axis (PyTorch's rule).

    Output ``i`` pools the input half-open range ``[start_i, end_i)`` with
    ``start_i = floor(i * size / output_size)`` and ``end_i = ceil((i + 1) * size / output_size)``.
    Windows may differ in length by one and may overlap; together they cover the input.

    Parameters
    ----------
    size : int
        Input length, >= 1.
    output_size : int
        Output length, >= 1 (it may be larger than ``size``: then inputs repeat).

    Returns
    -------
    start, end : ndarray of int64, shape (output_size,)

    Examples
    --------
    >>> adaptive_pool_ranges(10, 4)
    (array([0, 2, 5, 7]), array([ 3,  5,  8, 10]))
    """
    size = check_int("size", size, minimum=1)
    output_size = check_int("output_size", output_size, minimum=1)
    i = np.arange(output_size, dtype=np.int64)
    start = (i * size) // output_size
    end = -((-(i + 1) * size) // output_size)  # integer ceil
    return start, end


def _adaptive_args(x, output_size):
    x, unbatched = _as_batch(x)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        # torch allows None in a pair: keep that input dimension.
        output_size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(output_size))
    return x, unbatched, check_pair("output_size", output_size, minimum=1)


def _adaptive_gather_index(h, w, output_size):
    """Flat input index of every window element, (oh, kh, ow, kw); -1 marks unused slots.

    Windows have different lengths, so each is stored in a slot as long as the longest
    window; the unused tail of shorter windows is marked -1.
    """
    axes = []
    for size, out in ((h, output_size[0]), (w, output_size[1])):
        start, end = adaptive_pool_ranges(size, out)
        pos = start[:, None] + np.arange((end - start).max())[None, :]
        axes.append((np.minimum(pos, size - 1), pos < end[:, None]))
    (rows, row_ok), (cols, col_ok) = axes
    index = rows[:, :, None, None] * w + cols[None, None, :, :]
    ok = row_ok[:, :, None, None] & col_ok[None, None, :, :]
    return np.where(ok, index, -1)


def _adaptive_windows(x, output_size, fill):
    """All adaptive windows as (N, C, oh, ow, kh * kw) with unused slots set to ``fill``."""
    n, c, h, w = x.shape
    index = _adaptive_gather_index(h, w, output_size)
    oh, kh, ow, kw = index.shape
    vals = x.reshape(n, c, h * w)[:, :, np.maximum(index, 0)]
    vals = np.where(index >= 0, vals, fill)
    index = index.transpose(0, 2, 1, 3).reshape(oh, ow, kh * kw)
    return vals.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw), index


def _averaging_matrix(size, output_size, dtype) -> np.ndarray:
    """(output_size, size) matrix whose row i averages the input range [start_i, end_i).

    Row i holds ``1 / (end_i - start_i)`` inside the window and 0 elsewhere, so
    ``averaging_matrix @ v`` is the adaptive average pooling of a vector ``v``.
    """
    start, end = adaptive_pool_ranges(size, output_size)
    position = np.arange(size)
    inside = (position >= start[:, None]) & (position < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_window_slices(h, w, output_size):
    """``(i, j, rows, cols)`` for every output pixel: the slices of its window."""
    (r0, r1), (c0, c1) = (
        adaptive_pool_ranges(h, output_size[0]),
        adaptive_pool_ranges(w, output_size[1]),
    )
    for i, j in np.ndindex(*output_size):
        yield i, j, slice(r0[i], r1[i]), slice(c0[j], c1[j])


def adaptive_avg_pool2d(x, output_size):
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int, int)
        Output height and width, >= 1; ``None`` in a pair keeps that input dimension.

    Returns
    -------
    ndarray, shape (N, C, out_h, out_w)
        Output ``(i, j)`` is the mean over the rows and columns given by
        :func:`adaptive_pool_ranges`.

    Notes
    -----
    The mean over a window of rows and columns is the mean over its rows of the mean over its
    columns, and each mean is linear. With ``rows`` (out_h, H) and ``cols`` (out_w, W) holding
    the per-axis averaging weights, the whole layer is ``rows @ x @ cols.T``.
    """
    x, unbatched, output_size = _adaptive_args(x, output_size)
    rows = _averaging_matrix(x.shape[2], output_size[0], x.dtype)  # (out_h, H)
    cols = _averaging_matrix(x.shape[3], output_size[1], x.dtype)  # (out_w, W)
    with np.errstate(invalid="ignore"):  # 0 * inf: handled just below
        y = rows @ x @ cols.T  # (out_h, H) @ (N, C, H, W) @ (W, out_w) -> (N, C, out_h, out_w)
    if not np.isfinite(y).all():
        # An inf or nan in x reaches every output of its plane through 0 * inf = nan. Torch
        # confines it to the windows that contain it: average window by window instead.
        for i, j, r, c in _adaptive_window_slices(*x.shape[2:], output_size):
            y[:, :, i, j] = x[:, :, r, c].mean(axis=(2, 3))
    return _unbatch(y, unbatched)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int, int)
        Output height and width, >= 1; ``None`` in a pair keeps that input dimension.
    return_indices : bool
        Also return the flat input index ``row * W + col`` of each maximum (ties: the first
        maximum in row-major order, as in :func:`max_pool2d`).

    Returns
    -------
    y : ndarray, shape (N, C, out_h, out_w)
    indices : ndarray of int64, same shape, only if ``return_indices``
    """
    x, unbatched, output_size = _adaptive_args(x, output_size)
    vals, index = _adaptive_windows(x, output_size, -np.inf)
    pos = vals.argmax(axis=-1)  # the first maximum in row-major order (a nan counts as one)
    y = np.take_along_axis(vals, pos[..., None], axis=-1)[..., 0]
    if not check_bool("return_indices", return_indices):
        return _unbatch(y, unbatched)
    idx = np.take_along_axis(np.broadcast_to(index, vals.shape), pos[..., None], axis=-1)[..., 0]
    return _unbatch(y, unbatched), _unbatch(idx, unbatched)


def adaptive_avg_pool2d_backward(grad_output, x):
    """Gradient of :func:`adaptive_avg_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : array_like, shape (N, C, out_h, out_w)
        Upstream gradient; its last two dimensions give the ``output_size`` used forward.
    x : array_like, shape (N, C, H, W) or (C, H, W)
        The forward input (only its shape is used).

    Returns
    -------
    dx : ndarray, shape of ``x``
        Each window element gets ``grad_output / (window height * window width)``; overlapping
        windows add up. The forward pass is ``rows @ x @ cols.T``, so this is
        ``rows.T @ grad_output @ cols``.
    """
    x, unbatched = _as_batch(x)
    grad_output = _check_grad_adaptive(grad_output, x.shape)
    h, w = x.shape[2:]
    output_size = grad_output.shape[2:]
    dtype = np.result_type(x, grad_output)
    rows = _averaging_matrix(h, output_size[0], dtype)  # (out_h, H)
    cols = _averaging_matrix(w, output_size[1], dtype)  # (out_w, W)
    if np.isfinite(grad_output).all():
        dx = rows.T @ grad_output @ cols  # (H, out_h) @ (N, C, out_h, out_w) @ (out_w, W)
    else:  # keep an inf or nan inside the windows it belongs to (see adaptive_avg_pool2d)
        dx = np.zeros(x.shape, dtype=dtype)
        for i, j, r, c in _adaptive_window_slices(h, w, output_size):
            area = (r.stop - r.start) * (c.stop - c.start)
            dx[:, :, r, c] += (grad_output[:, :, i, j] / area)[:, :, None, None]
    return _unbatch(dx, unbatched)


def adaptive_max_pool2d_backward(grad_output, x):
    """Gradient of :func:`adaptive_max_pool2d` with respect to its input.

    Parameters
    ----------
    grad_output : array_like, shape (N, C, out_h, out_w)
        Upstream gradient; its last two dimensions give the ``output_size`` used forward.
    x : array_like, shape (N, C, H, W) or (C, H, W)
        The forward input.

    Returns
    -------
    dx : ndarray, shape of ``x``
        Each upstream value goes to the maximum of its window (first in row-major order on ties).
    """
    x, unbatched = _as_batch(x)
    grad_output = _check_grad_adaptive(grad_output, x.shape)
    _, idx = adaptive_max_pool2d(x, grad_output.shape[2:], return_indices=True)
    dx = _scatter_add(grad_output, idx, x.shape)
    return _unbatch(dx.astype(np.result_type(x, grad_output)), unbatched)


def _check_grad_adaptive(grad_output, x_shape):
    grad_output = check_array("grad_output", grad_output, ndim=(3, 4))
    if grad_output.ndim == 3:
        grad_output = grad_output[None]
    if grad_output.shape[:2] != x_shape[:2] or min(grad_output.shape[2:]) < 1:
        raise ValueError(
            f"grad_output must have shape (N, C, out_h, out_w) = ({x_shape[0]}, {x_shape[1]}, "
            f">=1, >=1) to match x of shape {tuple(x_shape)}, got {grad_output.shape}"
        )
    return grad_output


# ----------------------------------------------------------------------------- global pooling


def global_avg_pool2d(x):
    """Mean over each whole channel: (N, C, H, W) -> (N, C, 1, 1).

    The same as ``adaptive_avg_pool2d(x, 1)`` (torch's ``nn.AdaptiveAvgPool2d(1)``); flatten the
    result to (N, C) before a linear layer. Its backward is :func:`adaptive_avg_pool2d_backward`.
    """
    x, unbatched = _as_batch(x)
    return _unbatch(x.mean(axis=(2, 3), keepdims=True), unbatched)


def global_max_pool2d(x):
    """Maximum over each whole channel: (N, C, H, W) -> (N, C, 1, 1).

    The same as ``adaptive_max_pool2d(x, 1)``. Its backward is
    :func:`adaptive_max_pool2d_backward`.
    """
    x, unbatched = _as_batch(x)
    return _unbatch(x.max(axis=(2, 3), keepdims=True), unbatched)
