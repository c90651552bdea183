"""cnncourse.filters against scipy.ndimage, scipy.signal and scikit-image."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal
import skimage.filters
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cnncourse import conv, filters

BOUNDARIES = tuple(filters.BOUNDARY_MODES)
finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def rand(shape, seed=0):
    return np.random.default_rng(seed).random(shape)


# ------------------------------------------------------------------------ the step example


def step_image():
    """The lecture's 6x6 image: three columns of 0, three of 255, normalised to [0, 1]."""
    img = np.zeros((6, 6), dtype=np.uint8)
    img[:, 3:] = 255
    return img / 255.0


def test_step_example_lecture_vertical_filter_gives_minus_four():
    # The slide's "vertical edge filter" [[1,0,-1],[2,0,-2],[1,0,-1]] is -SOBEL_X.
    slide = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    np.testing.assert_array_equal(slide, -filters.SOBEL_X)
    out = conv.corr2d(step_image(), slide)
    np.testing.assert_array_equal(out, np.tile([0.0, -4.0, -4.0, 0.0], (4, 1)))
    # Sobel-x in our convention is positive on a dark-to-bright step ...
    np.testing.assert_array_equal(conv.corr2d(step_image(), filters.SOBEL_X), -out)
    # ... and a true convolution (kernel flipped) with SOBEL_X gives the negative.
    flipped = scipy.signal.convolve2d(step_image(), filters.SOBEL_X, mode="valid")
    np.testing.assert_array_equal(flipped, out)
    # The horizontal filter sees no change down the columns: all zeros.
    horizontal = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(conv.corr2d(step_image(), horizontal), np.zeros((4, 4)))


def test_sobel_sign_matches_scipy_and_skimage_on_step():
    img = step_image()
    gx = filters.filter2d(img, filters.SOBEL_X)
    assert gx[2, 2] == 4.0 and gx[2, 3] == 4.0
    # scipy.ndimage.sobel correlates with [-1, 0, 1]: same sign, same values.
    np.testing.assert_array_equal(ndi.sobel(img, axis=1), gx)
    # skimage's sobel_v convolves with [1, 0, -1] (a correlation with [-1, 0, 1]), scaled by 1/4.
    np.testing.assert_allclose(skimage.filters.sobel_v(img), gx / 4)
    gy = filters.filter2d(img.T, filters.SOBEL_Y)
    np.testing.assert_array_equal(gy, gx.T)


# ------------------------------------------------------------------------- named kernels


def test_kernels_are_outer_products_of_smoothing_and_difference():
    for name, (smooth, diff) in filters.GRADIENT_FACTORS.items():
        kx, ky = filters.GRADIENT_OPERATORS[name]
        np.testing.assert_array_equal(np.outer(smooth, diff), kx)
        np.testing.assert_array_equal(np.outer(diff, smooth), ky)
        np.testing.assert_array_equal(ky, kx.T)
    np.testing.assert_array_equal(filters.SCHARR_X, [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]])
    np.testing.assert_array_equal(filters.PREWITT_X, [[-1, 0, 1]] * 3)


def test_kernel_constants_are_read_only():
    with pytest.raises(ValueError):
        filters.SOBEL_X[0, 0] = 5


@pytest.mark.parametrize("name", sorted(filters.KERNELS))
@pytest.mark.parametrize("size", [3, 5, 7])
def test_registry_shapes_sums_and_copies(name, size):
    k = filters.kernel(name, size)
    assert k.shape == (size, size)
    assert k.dtype == np.float64
    k[0, 0] += 1  # a fresh, writable copy: the next call is unaffected
    again = filters.kernel(name, size)
    assert not np.array_equal(k, again)
    expected_sum = {"identity": 1, "box": 1, "gaussian": 1, "sharpen": 1, "emboss": 1}.get(name, 0)
    assert again.sum() == pytest.approx(expected_sum, abs=1e-12)


@pytest.mark.parametrize("name", ["sharpen", "laplacian", "emboss", "prewitt_x", "scharr_y"])
def test_registry_embeds_3x3_kernels_with_the_same_response(name):
    img = rand((20, 17))
    np.testing.assert_allclose(
        filters.filter2d(img, filters.kernel(name, 5)),
        filters.filter2d(img, filters.kernel(name, 3)),
        atol=1e-12,
    )


def test_registry_gaussian_and_sobel_sizes():
    np.testing.assert_array_equal(filters.kernel("sobel_x", 3), filters.SOBEL_X)
    np.testing.assert_array_equal(filters.kernel("sobel_y", 3), filters.SOBEL_Y)
    kx5 = filters.kernel("sobel_x", 5)
    np.testing.assert_array_equal(kx5[2], [-6, -12, 0, 12, 6])  # OpenCV's 5x5 Sobel
    np.testing.assert_array_equal(kx5, np.outer([1, 4, 6, 4, 1], [-1, -2, 0, 2, 1]))
    # On a ramp of slope 1 along x, a Sobel kernel responds with a constant.
    ramp = np.tile(np.arange(30.0), (30, 1))
    inner = filters.filter2d(ramp, kx5)[5:-5, 5:-5]
    np.testing.assert_allclose(inner, inner[0, 0])
    assert inner[0, 0] == pytest.approx(128.0)  # sum(smooth) * sum(j * diff[j]) = 16 * 8
    assert filters.default_sigma(3) == pytest.approx(0.8)
    assert filters.default_sigma(5) == pytest.approx(1.1)
    g = filters.kernel("gaussian", 5)
    expected = filters.gaussian_kernel2d(1.1, radius=2)
    np.testing.assert_allclose(g, expected)
    np.testing.assert_allclose(
        filters.kernel("gaussian", 7, sigma=2.0), filters.gaussian_kernel2d(2.0, 3)
    )


def test_laplacian_matches_scipy_laplace():
    img = rand((25, 31))
    for mode in BOUNDARIES:
        np.testing.assert_allclose(
            filters.filter2d(img, filters.LAPLACIAN_4, mode),
            ndi.laplace(img, mode=mode),
            atol=1e-12,
        )
    # 8-neighbour Laplacian = 9 x (box mean - identity).
    np.testing.assert_allclose(filters.LAPLACIAN_8, 9 * (filters.box(3) - filters.identity(3)))


def test_sharpen_is_identity_minus_laplacian():
    np.testing.assert_array_equal(filters.SHARPEN, filters.IDENTITY - filters.LAPLACIAN_4)


def test_constant_image_edge_kernels_give_zero_and_blurs_keep_it():
    img = np.full((12, 9), 0.37)
    for mode in ("reflect", "mirror", "nearest", "wrap"):
        for name in ("sobel_x", "sobel_y", "prewitt_x", "scharr_y", "laplacian", "laplacian_8"):
            np.testing.assert_allclose(
                filters.filter2d(img, filters.kernel(name), mode), 0, atol=1e-12
            )
        for name in ("box", "gaussian", "sharpen", "emboss", "identity"):
            np.testing.assert_allclose(filters.filter2d(img, filters.kernel(name), mode), 0.37)


# ------------------------------------------------------------------------------ gaussian


@pytest.mark.parametrize("sigma", [0.3, 0.8, 1.0, 2.5, 10.0])
def test_gaussian_kernel_normalised_symmetric_and_like_scipy(sigma):
    g = filters.gaussian_kernel(sigma)
    radius = int(4 * sigma + 0.5)
    assert g.shape == (2 * radius + 1,)
    assert g.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_array_equal(g, g[::-1])
    assert np.argmax(g) == radius
    # scipy's gaussian_filter1d of a unit impulse is its kernel (truncate=4.0).
    impulse = np.zeros(4 * radius + 3)
    impulse[impulse.size // 2] = 1.0
    response = ndi.gaussian_filter1d(impulse, sigma, mode="constant")
    mid = impulse.size // 2
    np.testing.assert_allclose(response[mid - radius : mid + radius + 1], g, atol=1e-16)


@given(sigma=st.floats(0.1, 6.0), radius=st.integers(0, 20))
def test_gaussian_kernel_radius_like_scipy(sigma, radius):
    g = filters.gaussian_kernel(sigma, radius)
    assert g.shape == (2 * radius + 1,)
    assert g.sum() == pytest.approx(1.0)
    x = rand((2 * radius + 5, 9), seed=radius)
    np.testing.assert_allclose(
        filters.separable_filter(x, g, np.array([1.0])),
        ndi.gaussian_filter1d(x, sigma, axis=0, radius=radius, mode="reflect"),
        atol=1e-12,
    )


def test_gaussian_kernel2d_outer_product():
    g2 = filters.gaussian_kernel2d(1.5)
    g = filters.gaussian_kernel(1.5)
    np.testing.assert_array_equal(g2, np.outer(g, g))
    assert g2.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(g2, g2.T)
    # Rank 1: one non-zero singular value -- the reason it is separable.
    s = np.linalg.svd(g2, compute_uv=False)
    assert s[1] < 1e-15 * s[0]


@pytest.mark.parametrize("mode", BOUNDARIES)
@pytest.mark.parametrize("sigma", [0.7, 1.0, 3.0])
def test_gaussian_blur_matches_scipy(mode, sigma):
    img = rand((40, 33))
    np.testing.assert_allclose(
        filters.gaussian_blur(img, sigma, boundary=mode),
        ndi.gaussian_filter(img, sigma, mode=mode, truncate=4.0),
        atol=1e-13,
    )


def test_gaussian_blur_colour_per_channel_and_skimage():
    img = rand((30, 20, 3))
    out = filters.gaussian_blur(img, 2.0, boundary="nearest")
    np.testing.assert_allclose(out, skimage.filters.gaussian(img, 2.0, channel_axis=-1), atol=1e-13)
    np.testing.assert_allclose(
        out[..., 1], filters.gaussian_blur(img[..., 1], 2.0, boundary="nearest")
    )


def test_gaussian_blur_on_big_sigma_is_direct_filter():
    img = rand((45, 50))
    np.testing.assert_allclose(
        filters.gaussian_blur(img, 10.0),
        filters.filter2d(img, filters.gaussian_kernel2d(10.0)),
        atol=1e-12,
    )


# ------------------------------------------------------------------------------ filter2d


@settings(max_examples=150)
@given(
    img=arrays(np.float64, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=finite),
    kernel=arrays(np.float64, st.tuples(st.integers(1, 7), st.integers(1, 7)), elements=finite),
    boundary=st.sampled_from(BOUNDARIES),
)
def test_filter2d_equals_scipy_correlate(img, kernel, boundary):
    # Includes even kernels (scipy's anchor k // 2) and kernels larger than the image.
    np.testing.assert_allclose(
        filters.filter2d(img, kernel, boundary),
        ndi.correlate(img, kernel, mode=boundary),
        rtol=1e-10,
        atol=1e-9,
    )


@settings(max_examples=50)
@given(
    img=arrays(np.float64, st.tuples(st.integers(3, 20), st.integers(3, 20)), elements=finite),
    kernel=arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 3)), elements=finite),
)
def test_filter2d_constant_interior_equals_corr2d(img, kernel):
    out = filters.filter2d(img, kernel, "constant")
    kh, kw = kernel.shape
    valid = conv.corr2d(img, kernel)
    top, left = kh // 2, kw // 2
    np.testing.assert_allclose(out[top : top + valid.shape[0], left : left + valid.shape[1]], valid)


def test_filter2d_matches_scipy_signal_fill_for_odd_kernels():
    img, k = rand((16, 19)), rand((5, 3), seed=1)
    np.testing.assert_allclose(
        filters.filter2d(img, k, "constant"),
        scipy.signal.correlate2d(img, k, mode="same"),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        filters.filter2d(img, k, "wrap"),
        scipy.signal.correlate2d(img, k, mode="same", boundary="wrap"),
        atol=1e-12,
    )


def test_filter2d_colour_and_integer_input():
    img = (rand((10, 12, 3)) * 255).astype(np.uint8)
    out = filters.filter2d(img, filters.SOBEL_X)
    assert out.shape == img.shape and out.dtype == np.float64
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], ndi.sobel(img[..., c].astype(float), axis=1))


@pytest.mark.parametrize("mode", BOUNDARIES)
def test_sobel_prewitt_match_scipy(mode):
    img = rand((23, 29))
    gx, gy = filters.sobel_gradients(img, "sobel", mode)
    np.testing.assert_allclose(gx, ndi.sobel(img, axis=1, mode=mode), atol=1e-12)
    np.testing.assert_allclose(gy, ndi.sobel(img, axis=0, mode=mode), atol=1e-12)
    px, py = filters.sobel_gradients(img, "prewitt", mode)
    np.testing.assert_allclose(px, ndi.prewitt(img, axis=1, mode=mode), atol=1e-12)
    np.testing.assert_allclose(py, ndi.prewitt(img, axis=0, mode=mode), atol=1e-12)


@pytest.mark.parametrize("operator,scale", [("sobel", 4), ("prewitt", 3), ("scharr", 16)])
def test_gradient_magnitude_matches_skimage_up_to_documented_scaling(operator, scale):
    # skimage normalises the smoothing weights (1/4, 1/3, 1/16) and returns
    # sqrt((gx**2 + gy**2) / 2) ("square root of the average square magnitude").
    img = rand((31, 27))
    mag, _ = filters.gradient_magnitude_direction(img, operator)
    np.testing.assert_allclose(
        getattr(skimage.filters, operator)(img), mag / scale / np.sqrt(2), atol=1e-13
    )
    gx, gy = filters.sobel_gradients(img, operator)
    np.testing.assert_allclose(
        getattr(skimage.filters, f"{operator}_v")(img), gx / scale, atol=1e-13
    )
    np.testing.assert_allclose(
        getattr(skimage.filters, f"{operator}_h")(img), gy / scale, atol=1e-13
    )


def test_gradient_direction_points_from_dark_to_bright():
    yy, xx = np.mgrid[0:20, 0:20].astype(float)
    for ramp, angle in [(xx, 0.0), (yy, np.pi / 2), (-xx, np.pi), (xx + yy, np.pi / 4)]:
        mag, direction = filters.gradient_magnitude_direction(ramp, boundary="nearest")
        np.testing.assert_allclose(direction[5:-5, 5:-5], angle, atol=1e-12)
    mag, _ = filters.gradient_magnitude_direction(3 * xx + 4 * yy, boundary="nearest")
    np.testing.assert_allclose(mag[5:-5, 5:-5], 8 * 5)  # Sobel slope factor 8 times |(3, 4)|


# ---------------------------------------------------------------- separable, FFT, composites


@settings(max_examples=100)
@given(
    img=arrays(np.float64, st.tuples(st.integers(1, 15), st.integers(1, 15)), elements=finite),
    col=arrays(np.float64, st.integers(1, 9), elements=finite),
    row=arrays(np.float64, st.integers(1, 9), elements=finite),
    boundary=st.sampled_from(BOUNDARIES),
)
def test_separable_equals_direct(img, col, row, boundary):
    np.testing.assert_allclose(
        filters.separable_filter(img, col, row, boundary),
        filters.filter2d(img, np.outer(col, row), boundary),
        rtol=1e-9,
        atol=1e-8,
    )


@settings(max_examples=60)
@given(
    img=arrays(np.float64, st.tuples(st.integers(4, 16), st.integers(4, 16)), elements=finite),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    seed=st.integers(0, 100),
)
def test_fft_filter_is_circular_correlation(img, kh, kw, seed):
    kernel = np.random.default_rng(seed).standard_normal((kh, kw))
    np.testing.assert_allclose(
        filters.fft_filter2d(img, kernel), filters.filter2d(img, kernel, "wrap"), atol=1e-9
    )


def test_unsharp_mask_matches_skimage():
    img = rand((40, 35))
    for sigma, amount in [(1.0, 1.0), (2.5, 0.5), (0.7, 3.0)]:
        np.testing.assert_allclose(
            filters.unsharp_mask(img, sigma, amount),
            skimage.filters.unsharp_mask(img, radius=sigma, amount=amount, preserve_range=True),
            atol=1e-13,
        )
    np.testing.assert_allclose(filters.unsharp_mask(img, 1.0, 0.0), img)


def test_difference_of_gaussians_matches_skimage():
    img = rand((40, 35))
    for low, high in [(1.0, None), (1.0, 3.0), (2.0, 2.5)]:
        np.testing.assert_allclose(
            filters.difference_of_gaussians(img, low, high, boundary="nearest"),
            skimage.filters.difference_of_gaussians(img, low, high),
            atol=1e-13,
        )


@pytest.mark.parametrize("boundary", ["reflect", "nearest", "wrap", "constant"])
@pytest.mark.parametrize(("sigma", "amount"), [(1.0, 1.0), (2.5, 0.5), (0.7, -0.5)])
def test_unsharp_kernel_is_unsharp_mask_in_one_correlation(sigma, amount, boundary):
    img = rand((40, 35))
    k = filters.unsharp_kernel(sigma, amount)
    r = int(4 * sigma + 0.5)
    assert k.shape == (2 * r + 1, 2 * r + 1) and k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        filters.filter2d(img, k, boundary),
        filters.unsharp_mask(img, sigma, amount, boundary),
        atol=1e-12,
    )


@pytest.mark.parametrize("boundary", ["reflect", "nearest", "wrap", "constant"])
@pytest.mark.parametrize(("low", "high"), [(1.0, None), (1.0, 3.0), (2.0, 2.5)])
def test_dog_kernel_is_difference_of_gaussians_in_one_correlation(low, high, boundary):
    img = rand((40, 35))
    k = filters.dog_kernel(low, high)
    r = int(4 * (1.6 * low if high is None else high) + 0.5)
    assert k.shape == (2 * r + 1, 2 * r + 1) and k.sum() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(
        filters.filter2d(img, k, boundary),
        filters.difference_of_gaussians(img, low, high, boundary),
        atol=1e-12,
    )


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("sigma", [0, -1.0, float("nan"), float("inf")])
def test_bad_sigma_raises(sigma):
    with pytest.raises(ValueError, match="sigma"):
        filters.gaussian_kernel(sigma)
    with pytest.raises(ValueError, match="sigma"):
        filters.gaussian_blur(rand((5, 5)), sigma)


def test_bad_arguments_raise():
    img = rand((8, 8))
    with pytest.raises(TypeError, match="sigma"):
        filters.gaussian_kernel("1")
    with pytest.raises(ValueError, match="radius"):
        filters.gaussian_kernel(1.0, radius=-1)
    with pytest.raises(TypeError, match="radius"):
        filters.gaussian_kernel(1.0, radius=1.5)
    with pytest.raises(ValueError, match="kernel must have 2 dimensions"):
        filters.filter2d(img, np.ones((3, 3, 3)))
    with pytest.raises(ValueError, match="kernel must be non-empty"):
        filters.filter2d(img, np.ones((0, 3)))
    with pytest.raises(ValueError, match=r"kernel must contain only finite numbers.*\(1, 2\)"):
        filters.filter2d(img, [[0, 0, 0], [0, 1, np.nan]])
    with pytest.raises(TypeError, match="kernel must be a numeric array"):
        filters.filter2d(img, [["a"]])
    with pytest.raises(ValueError, match="boundary must be one of"):
        filters.filter2d(img, filters.SOBEL_X, boundary="zeros")
    with pytest.raises(ValueError, match="image must have 2 or 3 dimensions"):
        filters.filter2d(np.ones(5), filters.SOBEL_X)
    with pytest.raises(ValueError, match="image must be non-empty"):
        filters.filter2d(np.ones((0, 4)), filters.SOBEL_X)
    with pytest.raises(ValueError, match="col must have 1 dimensions"):
        filters.separable_filter(img, np.ones((3, 1)), np.ones(3))
    with pytest.raises(ValueError, match="name must be one of"):
        filters.kernel("sobel")
    with pytest.raises(ValueError, match="size must be odd"):
        filters.kernel("gaussian", 4)
    with pytest.raises(ValueError, match="size must be >= 3"):
        filters.kernel("sobel_x", 1)
    with pytest.raises(ValueError, match="size must be >= 1"):
        filters.box(0)
    with pytest.raises(ValueError, match="sigma"):
        filters.kernel("gaussian", 3, sigma=-2)
    with pytest.raises(ValueError, match="operator must be one of"):
        filters.sobel_gradients(img, "canny")
    with pytest.raises(ValueError, match="high_sigma must be larger than low_sigma"):
        filters.difference_of_gaussians(img, 2.0, 1.0)
    with pytest.raises(TypeError, match="amount"):
        filters.unsharp_mask(img, 1.0, amount="lots")
    with pytest.raises(ValueError, match="amount must be a finite number"):
        filters.unsharp_kernel(1.0, amount=float("inf"))
    with pytest.raises(TypeError, match="amount"):
        filters.unsharp_kernel(1.0, amount=True)
    with pytest.raises(ValueError, match="high_sigma must be larger than low_sigma"):
        filters.dog_kernel(2.0, 1.0)
    with pytest.raises(ValueError, match="low_sigma"):
        filters.dog_kernel(0.0)
    with pytest.raises(ValueError, match="larger than image"):
        filters.fft_filter2d(rand((3, 3)), np.ones((4, 1)))
