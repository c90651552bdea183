"""Classical image filters (chapter 2): edge, blur and sharpen kernels, and how to apply them.

One file of about 500 lines on purpose: the kernels and the ways to apply them are one idea,
read top to bottom with chapter 2 (like scikit-image's ``filters/edges.py``).

Every filter here is a *cross-correlation* (the kernel is not flipped), the operation a CNN
layer computes, and all of them run through one implementation, :func:`cnncourse.conv.corr2d`.
:func:`filter2d` adds what an image filter needs on top of that valid correlation: a padded
border so that the output has the size of the input.

Sign convention (x = column index, increasing to the right; y = row index, increasing *down*):

- ``SOBEL_X = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` gives a **positive** response on a
  dark-to-bright step from left to right (+4 on a 0 -> 1 step), ``SOBEL_Y = SOBEL_X.T`` a
  positive response on a dark-to-bright step from top to bottom.
- ``scipy.ndimage.sobel(image, axis=1)`` is exactly ``filter2d(image, SOBEL_X)``: scipy applies
  ``correlate1d`` with ``[-1, 0, 1]`` (it does not flip), so the signs agree.
  ``skimage.filters.sobel_v``/``sobel_h`` convolve with ``[1, 0, -1]``, which is the same thing
  again, scaled by 1/4.
- A true *convolution* with ``SOBEL_X`` flips the kernel and gives -4 on the same step. Lecture
  slides often print the flipped kernel ``[[1, 0, -1], [2, 0, -2], [1, 0, -1]]`` as "the vertical
  edge filter" and correlate with it: that is ``-SOBEL_X`` and also gives -4.

Boundary modes use scipy.ndimage's names; :data:`BOUNDARY_MODES` maps them to ``numpy.pad``:

=============  =====================  ==============
``boundary``   extends ``a b c d`` as  ``numpy.pad``
=============  =====================  ==============
``reflect``    ``b a | a b c d | d c``  ``symmetric``
``mirror``     ``c b | a b c d | c b``  ``reflect``
``nearest``    ``a a | a b c d | d d``  ``edge``
``wrap``       ``c d | a b c d | a b``  ``wrap``
``constant``   ``0 0 | a b c d | 0 0``  ``constant``
=============  =====================  ==============
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import conv
from ._validate import check_array, check_choice, check_int, check_positive_float, check_real

__all__ = [
    "BOUNDARY_MODES",
    "IDENTITY",
    "PREWITT_X",
    "PREWITT_Y",
    "SOBEL_X",
    "SOBEL_Y",
    "SCHARR_X",
    "SCHARR_Y",
    "LAPLACIAN_4",
    "LAPLACIAN_8",
    "SHARPEN",
    "EMBOSS",
    "KERNELS",
    "GRADIENT_OPERATORS",
    "GRADIENT_FACTORS",
    "identity",
    "box",
    "gaussian_kernel",
    "gaussian_kernel2d",
    "default_sigma",
    "sobel_kernels",
    "kernel",
    "filter2d",
    "separable_filter",
    "fft_filter2d",
    "gaussian_blur",
    "sobel_gradients",
    "gradient_magnitude_direction",
    "unsharp_mask",
    "unsharp_kernel",
    "difference_of_gaussians",
    "dog_kernel",
]

BOUNDARY_MODES = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


def _frozen(rows) -> np.ndarray:
    arr = np.array(rows, dtype=np.float64)
    arr.setflags(write=False)  # module constants: copy before editing
    return arr


# ------------------------------------------------------------------------------- named kernels

IDENTITY = _frozen([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
# Derivative along x (columns) = smoothing column [1, s, 1]^T times difference row [-1, 0, 1].
PREWITT_X = _frozen(np.outer([1, 1, 1], [-1, 0, 1]))
SOBEL_X = _frozen(np.outer([1, 2, 1], [-1, 0, 1]))
SCHARR_X = _frozen(np.outer([3, 10, 3], [-1, 0, 1]))
PREWITT_Y = _frozen(PREWITT_X.T)
SOBEL_Y = _frozen(SOBEL_X.T)
SCHARR_Y = _frozen(SCHARR_X.T)
# Discrete Laplacian d2/dx2 + d2/dy2: 4-neighbour (= scipy.ndimage.laplace) and 8-neighbour.
LAPLACIAN_4 = _frozen([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
LAPLACIAN_8 = _frozen([[1, 1, 1], [1, -8, 1], [1, 1, 1]])
# identity + (identity - 4-neighbour mean) * 4: the image plus its negative Laplacian.
SHARPEN = _frozen([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
# A diagonal derivative plus the identity (sums to 1): looks like a relief lit from the top left.
EMBOSS = _frozen([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])

GRADIENT_OPERATORS = {
    "prewitt": (PREWITT_X, PREWITT_Y),
    "sobel": (SOBEL_X, SOBEL_Y),
    "scharr": (SCHARR_X, SCHARR_Y),
}
# Their 1-D factors (smoothing, difference): X = outer(smooth, diff), Y = outer(diff, smooth).
GRADIENT_FACTORS = {
    "prewitt": (np.array([1.0, 1.0, 1.0]), np.array([-1.0, 0.0, 1.0])),
    "sobel": (np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0])),
    "scharr": (np.array([3.0, 10.0, 3.0]), np.array([-1.0, 0.0, 1.0])),
}


def identity(size: int = 3) -> np.ndarray:
    """The identity kernel: 1 in the centre of a ``size`` x ``size`` grid of zeros (odd size)."""
    size = _check_odd_size(size)
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def box(size: int = 3) -> np.ndarray:
    """Box (mean) filter ``ones((size, size)) / size**2``; sums to 1.

    Even sizes are allowed; :func:`filter2d` then anchors the kernel like scipy.ndimage
    (index ``size // 2`` sits on the output pixel).
    """
    size = check_int("size", size, minimum=1)
    return np.full((size, size), 1.0 / size**2)


def gaussian_kernel(sigma: float, radius: int | None = None) -> np.ndarray:
    """Sampled, normalised 1-D Gaussian ``g[i] ~ exp(-i**2 / (2 sigma**2))``, i = -radius..radius.

    Parameters
    ----------
    sigma : float > 0
        Standard deviation in pixels.
    radius : int >= 0, optional
        Half-width; default ``int(4 * sigma + 0.5)``, which is ``scipy.ndimage.gaussian_filter``'s
        ``truncate=4.0`` (the tails beyond 4 sigma hold less than 1e-4 of the mass).

    Returns
    -------
    ndarray, shape (2 * radius + 1,)
        Symmetric weights summing to 1 (the continuous formula's ``1 / sqrt(2 pi) sigma``
        does not make a *sampled, truncated* kernel sum to 1, so we divide by the sum instead).
    """
    sigma = check_positive_float("sigma", sigma)
    radius = int(4.0 * sigma + 0.5) if radius is None else check_int("radius", radius, minimum=0)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    return g / g.sum()


def gaussian_kernel2d(sigma: float, radius: int | None = None) -> np.ndarray:
    """2-D Gaussian as the outer product of two 1-D ones; shape (2 r + 1, 2 r + 1), sums to 1."""
    g = gaussian_kernel(sigma, radius)
    return np.outer(g, g)


def default_sigma(size: int) -> float:
    """The sigma OpenCV picks for a Gaussian of odd ``size``: 0.3 ((size - 1) / 2 - 1) + 0.8."""
    size = _check_odd_size(size)
    return 0.3 * ((size - 1) * 0.5 - 1) + 0.8


def sobel_kernels(size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Sobel (x, y) kernels of odd ``size`` >= 3, built as OpenCV does.

    Smoothing = binomial row ``[1, 2, 1]``, ``[1, 4, 6, 4, 1]``, ...; derivative = the binomial row
    of length ``size - 2`` convolved with ``[-1, 0, 1]``. ``size=3`` gives :data:`SOBEL_X`.
    Returns arrays of shape (size, size): x = outer(smooth, deriv), y = its transpose.
    """
    size = _check_odd_size(size, minimum=3)
    smooth = _binomial(size)
    deriv = np.convolve(_binomial(size - 2), [-1.0, 0.0, 1.0])
    kx = np.outer(smooth, deriv)
    return kx, kx.T.copy()


def _binomial(n: int) -> np.ndarray:
    row = np.array([1.0])
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def _check_odd_size(size, minimum: int = 1) -> int:
    size = check_int("size", size, minimum=minimum)
    if size % 2 == 0:
        raise ValueError(f"size must be odd (the kernel needs a centre pixel), got {size}")
    return size


def _embed(k: np.ndarray, size: int) -> np.ndarray:
    """Centre an odd square kernel in a size x size grid of zeros (same response, larger
    footprint); ``size`` is at least the kernel's."""
    size = _check_odd_size(size, minimum=k.shape[0])
    out = np.zeros((size, size))
    m = (size - k.shape[0]) // 2
    out[m : m + k.shape[0], m : m + k.shape[1]] = k
    return out


def _sobel(axis: int) -> Callable[[int, float | None], np.ndarray]:
    return lambda size, sigma: sobel_kernels(size)[axis]


# The registry the widgets use for presets: name -> f(size, sigma) returning a fresh array.
# Kernels only defined at 3x3 are centred in zeros at larger sizes.
KERNELS: dict[str, Callable[[int, float | None], np.ndarray]] = {
    "identity": lambda size, sigma: identity(size),
    "box": lambda size, sigma: box(_check_odd_size(size)),
    "gaussian": lambda size, sigma: gaussian_kernel2d(
        default_sigma(size) if sigma is None else sigma, _check_odd_size(size) // 2
    ),
    "sharpen": lambda size, sigma: _embed(SHARPEN, size),
    "sobel_x": _sobel(0),
    "sobel_y": _sobel(1),
    "prewitt_x": lambda size, sigma: _embed(PREWITT_X, size),
    "prewitt_y": lambda size, sigma: _embed(PREWITT_Y, size),
    "scharr_x": lambda size, sigma: _embed(SCHARR_X, size),
    "scharr_y": lambda size, sigma: _embed(SCHARR_Y, size),
    "laplacian": lambda size, sigma: _embed(LAPLACIAN_4, size),
    "laplacian_8": lambda size, sigma: _embed(LAPLACIAN_8, size),
    "emboss": lambda size, sigma: _embed(EMBOSS, size),
}


def kernel(name: str, size: int = 3, sigma: float | None = None) -> np.ndarray:
    """A named kernel from :data:`KERNELS` as a new float64 array of shape (size, size).

    Parameters
    ----------
    name : str
        One of ``KERNELS`` (identity, box, gaussian, sharpen, sobel_x, sobel_y, prewitt_x,
        prewitt_y, scharr_x, scharr_y, laplacian, laplacian_8, emboss).
    size : odd int
        3 or more for everything except identity/box/gaussian, which also accept 1.
        Sobel has true 5x5, 7x7, ... versions; the other 3x3-only kernels are zero-padded.
    sigma : float > 0, optional
        Gaussian only; default :func:`default_sigma` (0.8 for 3x3, 1.1 for 5x5). The kernel is
        truncated to ``size`` and renormalised.
    """
    check_choice("name", name, tuple(KERNELS))
    if sigma is not None:
        sigma = check_positive_float("sigma", sigma)
    return KERNELS[name](size, sigma)


# ----------------------------------------------------------------------------- applying them


def _check_boundary(boundary: str) -> str:
    return BOUNDARY_MODES[check_choice("boundary", boundary, tuple(BOUNDARY_MODES))]


def _check_image(image) -> np.ndarray:
    image = check_array("image", image, ndim=(2, 3)).astype(np.float64, copy=False)
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must be non-empty, got shape {image.shape}")
    return image


def _check_kernel(k, name: str = "kernel", ndim: int = 2) -> np.ndarray:
    k = check_array(name, k, ndim=ndim).astype(np.float64, copy=False)
    if k.size == 0:
        raise ValueError(f"{name} must be non-empty, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(k))[0])
        raise ValueError(
            f"{name} must contain only finite numbers, got {k[bad]} at index {bad} "
            f"({np.count_nonzero(~np.isfinite(k))} non-finite of {k.size})"
        )
    return k


def _per_channel(fn, image: np.ndarray) -> np.ndarray:
    """Apply a 2-D filter to an (H, W) image or to each channel of an (H, W, C) image."""
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(image[..., c]) for c in range(image.shape[2])], axis=-1)


def _pad_widths(kh: int, kw: int) -> tuple[tuple[int, int], tuple[int, int]]:
    # scipy.ndimage's anchor: kernel index k // 2 sits on the output pixel (also for even k).
    return (kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)


def filter2d(image, kernel, boundary: str = "reflect") -> np.ndarray:
    """Cross-correlate an image with a kernel; the output has the size of the input.

    ``out[i, j] = sum_{a, b} padded[i + a, j + b] * kernel[a, b]``: the image is padded by
    ``kernel.shape // 2`` before and the rest after (scipy.ndimage's anchor, so this equals
    ``scipy.ndimage.correlate(image, kernel, mode=boundary)``), then :func:`conv.corr2d` does
    the valid correlation.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
        Colour images are filtered channel by channel.
    kernel : array_like, shape (kh, kw)
        Finite numbers; any size (the padding repeats the boundary rule if it is larger).
    boundary : {'reflect', 'mirror', 'nearest', 'wrap', 'constant'}
        How pixels outside the image are made up (see the module docstring).

    Returns
    -------
    ndarray of float64, same shape as ``image``
    """
    image = _check_image(image)
    kernel = _check_kernel(kernel)
    mode = _check_boundary(boundary)
    pad = _pad_widths(*kernel.shape)

    def one(channel):
        return conv.corr2d(np.pad(channel, pad, mode=mode), kernel)

    return _per_channel(one, image)


def separable_filter(image, col, row, boundary: str = "reflect") -> np.ndarray:
    """Filter with the separable kernel ``outer(col, row)`` as two 1-D passes.

    A k x k kernel costs k**2 multiply-adds per pixel; the two passes cost 2 k. The result equals
    ``filter2d(image, np.outer(col, row), boundary)`` (the padding is done once, for both).

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C)
    col : array_like, shape (kh,)
        Weights along the rows axis (down the image).
    row : array_like, shape (kw,)
        Weights along the columns axis (across the image).
    boundary : str
        As in :func:`filter2d`.

    Returns
    -------
    ndarray of float64, same shape as ``image``
    """
    image = _check_image(image)
    col = _check_kernel(col, "col", ndim=1)
    row = _check_kernel(row, "row", ndim=1)
    mode = _check_boundary(boundary)
    pad = _pad_widths(col.size, row.size)

    def one(channel):
        padded = np.pad(channel, pad, mode=mode)
        vertical = conv.corr2d(padded, col[:, None])  # (H, W + kw - 1)
        return conv.corr2d(vertical, row[None, :])  # (H, W)

    return _per_channel(one, image)


def fft_filter2d(image, kernel) -> np.ndarray:
    """Cross-correlation through the FFT (convolution theorem); equals ``filter2d(.., 'wrap')``.

    Correlating with k is convolving with k flipped, and circular convolution is a product of
    spectra: ``ifft2(fft2(image) * fft2(k_flipped placed at the origin))``. The kernel's anchor
    (index ``k // 2``) is rolled to pixel (0, 0) so that nothing shifts.

    Parameters
    ----------
    image : array_like, shape (H, W)
    kernel : array_like, shape (kh, kw) with kh <= H and kw <= W

    Returns
    -------
    ndarray of float64, shape (H, W)
    """
    image = check_array("image", image, ndim=2).astype(np.float64, copy=False)
    kernel = _check_kernel(kernel)
    kh, kw = kernel.shape
    if kh > image.shape[0] or kw > image.shape[1]:
        raise ValueError(f"kernel of shape {kernel.shape} is larger than image {image.shape}")
    flipped = np.zeros(image.shape)
    flipped[:kh, :kw] = kernel[::-1, ::-1]
    # After the flip the anchor sits at (kh - 1 - kh // 2, kw - 1 - kw // 2); move it to (0, 0).
    flipped = np.roll(flipped, (-(kh - 1 - kh // 2), -(kw - 1 - kw // 2)), axis=(0, 1))
    return np.real(np.fft.ifft2(np.fft.fft2(image) * np.fft.fft2(flipped)))


def gaussian_blur(
    image, sigma: float, radius: int | None = None, boundary: str = "reflect"
) -> np.ndarray:
    """Gaussian blur as two 1-D passes (the 2-D Gaussian is separable).

    Equals ``scipy.ndimage.gaussian_filter(image, sigma, mode=boundary, truncate=4.0)``
    (per channel for colour images). Shapes: (H, W) or (H, W, C) -> same.
    """
    g = gaussian_kernel(sigma, radius)
    return separable_filter(image, g, g, boundary)


def sobel_gradients(
    image, operator: str = "sobel", boundary: str = "reflect"
) -> tuple[np.ndarray, np.ndarray]:
    """Image derivatives (gx, gy) with a Prewitt, Sobel or Scharr pair.

    ``gx`` is positive where brightness increases to the right, ``gy`` where it increases
    downwards (row index). Neither is normalised: on a 0 -> 1 step Sobel gives 4, Prewitt 3,
    Scharr 16; divide by that to get the per-pixel slope.

    Parameters
    ----------
    image : array_like, shape (H, W)
    operator : {'prewitt', 'sobel', 'scharr'}
    boundary : str, as in :func:`filter2d`

    Returns
    -------
    gx, gy : ndarray of float64, shape (H, W)
    """
    check_choice("operator", operator, tuple(GRADIENT_OPERATORS))
    image = check_array("image", image, ndim=2)
    kx, ky = GRADIENT_OPERATORS[operator]
    gx = filter2d(image, kx, boundary)
    gy = filter2d(image, ky, boundary)
    return gx, gy


def gradient_magnitude_direction(
    image, operator: str = "sobel", boundary: str = "reflect"
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude ``hypot(gx, gy)`` and direction ``arctan2(gy, gx)`` in radians.

    The direction is measured from the +x axis (right) towards +y (down, the row index), so
    0 points right and +pi/2 points down. Shapes: (H, W) -> two arrays of (H, W).
    """
    gx, gy = sobel_gradients(image, operator, boundary)
    return np.hypot(gx, gy), np.arctan2(gy, gx)


def unsharp_mask(
    image, sigma: float = 1.0, amount: float = 1.0, boundary: str = "reflect"
) -> np.ndarray:
    """Sharpen by adding back the detail a blur removes: ``image + amount (image - blur)``.

    ``image - gaussian_blur(image)`` is a high-pass image (edges and texture). The result is
    not clipped (values may leave [0, 1]); equals ``skimage.filters.unsharp_mask(image,
    radius=sigma, amount=amount, preserve_range=True)``. Shapes: (H, W) or (H, W, C) -> same.
    """
    amount = check_real("amount", amount)
    image = _check_image(image)
    return image + amount * (image - gaussian_blur(image, sigma, boundary=boundary))


def unsharp_kernel(sigma: float = 1.0, amount: float = 1.0) -> np.ndarray:
    """The 2-D kernel of :func:`unsharp_mask`: ``(1 + amount) identity - amount G(sigma)``.

    Unsharp masking ``image + amount (image - blur)`` is linear, so it is one correlation;
    ``filter2d(image, unsharp_kernel(s, a))`` equals ``unsharp_mask(image, s, a)``.
    Shape (2 r + 1, 2 r + 1) with r the Gaussian's radius ``int(4 sigma + 0.5)``; sums to 1.
    """
    amount = check_real("amount", amount)
    g = gaussian_kernel2d(sigma)
    return (1 + amount) * _embed(np.ones((1, 1)), g.shape[0]) - amount * g


def difference_of_gaussians(
    image, low_sigma: float, high_sigma: float | None = None, boundary: str = "reflect"
) -> np.ndarray:
    """Band-pass filter ``blur(low_sigma) - blur(high_sigma)``, with ``high_sigma > low_sigma``.

    Keeps detail between the two scales; approximates the Laplacian of Gaussian (scaled, with
    the opposite sign) and is what SIFT uses for blob detection. ``high_sigma`` defaults to
    ``1.6 low_sigma`` like ``skimage.filters.difference_of_gaussians``.
    Shapes: (H, W) or (H, W, C) -> same.
    """
    low_sigma, high_sigma = _dog_sigmas(low_sigma, high_sigma)
    image = _check_image(image)
    return gaussian_blur(image, low_sigma, boundary=boundary) - gaussian_blur(
        image, high_sigma, boundary=boundary
    )


def dog_kernel(low_sigma: float, high_sigma: float | None = None) -> np.ndarray:
    """The 2-D kernel of :func:`difference_of_gaussians`: ``G(low_sigma) - G(high_sigma)``.

    The smaller Gaussian is centred in the larger one's footprint, so the shape is
    (2 r + 1, 2 r + 1) with r the radius of ``G(high_sigma)``; it sums to 0 (a band-pass).
    ``high_sigma`` defaults to ``1.6 low_sigma``.
    """
    low_sigma, high_sigma = _dog_sigmas(low_sigma, high_sigma)
    high = gaussian_kernel2d(high_sigma)
    return _embed(gaussian_kernel2d(low_sigma), high.shape[0]) - high


def _dog_sigmas(low_sigma, high_sigma) -> tuple[float, float]:
    low_sigma = check_positive_float("low_sigma", low_sigma)
    high_sigma = 1.6 * low_sigma if high_sigma is None else high_sigma
    high_sigma = check_positive_float("high_sigma", high_sigma)
    if high_sigma <= low_sigma:
        raise ValueError(
            f"high_sigma must be larger than low_sigma, got high_sigma={high_sigma} "
            f"and low_sigma={low_sigma}"
        )
    return low_sigma, high_sigma
