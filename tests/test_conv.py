"""conv.py proven against numpy, scipy, torch.nn.functional (conv2d, unfold, fold), autograd
and finite differences."""

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse import conv, shapes

# ----------------------------------------------------------------------------- worked examples


def test_convolve1d_worked_example():
    np.testing.assert_array_equal(conv.convolve1d([1, 2, 3, 4], [1, 1, 1]), [1, 3, 6, 9, 7, 4])
    # Convolving again with the same box kernel: [1, 4, 10, 18, 22, 20, 11, 4].
    once = conv.convolve1d([1, 2, 3, 4], [1, 1, 1])
    np.testing.assert_array_equal(conv.convolve1d(once, [1, 1, 1]), [1, 4, 10, 18, 22, 20, 11, 4])


def test_corr2d_worked_example():
    x = np.arange(9).reshape(3, 3)
    k = np.array([[0, 1], [2, 3]])
    expected = [[19, 25], [37, 43]]
    np.testing.assert_array_equal(conv.corr2d(x, k), expected)
    np.testing.assert_array_equal(conv.corr2d_naive(x, k), expected)


def test_multichannel_volume_shape_and_parameters():
    x = np.zeros((1, 3, 6, 6))
    w = np.zeros((10, 3, 3, 3))
    b = np.zeros(10)
    assert conv.conv2d(x, w, b).shape == (1, 10, 4, 4)
    # ten 3x3x3 filters plus ten biases, counted by the library and by torch
    assert shapes.conv_parameters(3, 10, 3) == 280
    assert shapes.count_parameters(torch.nn.Conv2d(3, 10, 3)) == 280
    assert shapes.conv_parameters(3, 10, 3, bias=False) == 270


def test_cross_correlation_is_convolution_with_flipped_kernel():
    rng = np.random.default_rng(1)
    x, k = rng.normal(size=(7, 9)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(
        conv.corr2d(x, k), scipy.signal.convolve2d(x, k[::-1, ::-1], mode="valid"), atol=1e-12
    )


# ----------------------------------------------------------------------------- property tests


@settings(max_examples=200)
@given(
    x=st.lists(st.integers(-50, 50), min_size=1, max_size=30),
    w=st.lists(st.integers(-50, 50), min_size=1, max_size=12),
    mode=st.sampled_from(["full", "same", "valid"]),
)
def test_convolve1d_matches_numpy(x, w, mode):
    np.testing.assert_array_equal(conv.convolve1d(x, w, mode), np.convolve(x, w, mode))


@settings(max_examples=200)
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    seed=st.integers(0, 2**31),
)
def test_corr2d_matches_scipy(h, w, kh, kw, seed):
    kh, kw = min(kh, h), min(kw, w)
    rng = np.random.default_rng(seed)
    x, k = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
    expected = scipy.signal.correlate2d(x, k, mode="valid")
    np.testing.assert_allclose(conv.corr2d(x, k), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.corr2d_naive(x, k), expected, rtol=1e-12, atol=1e-12)


def test_corr2d_naive_keeps_complex_inputs_complex():
    # the loop writes into a preallocated output: its dtype must follow the inputs (a float
    # buffer would drop the imaginary part), like the vectorised corr2d and scipy
    rng = np.random.default_rng(2)
    x, k = rng.normal(size=(5, 6)), rng.normal(size=(2, 3))
    zx, zk = x + 1j * rng.normal(size=x.shape), k + 1j * rng.normal(size=k.shape)
    for a, b in ((zx, k), (x, zk), (zx, zk)):
        got = conv.corr2d_naive(a, b)
        assert got.dtype == np.complex128
        np.testing.assert_allclose(got, scipy.signal.correlate(a, np.conj(b), mode="valid"))
        np.testing.assert_allclose(got, conv.corr2d(a, b))


@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.float64])
def test_corr2d_output_types_as_documented(dtype):
    # corr2d_naive fills a float64 buffer; corr2d's einsum keeps the inputs' type (as scipy)
    x, k = np.arange(12).reshape(3, 4).astype(dtype), np.array([[1, -2], [3, 1]], dtype=dtype)
    expected = scipy.signal.correlate2d(x, k, mode="valid")
    naive, fast = conv.corr2d_naive(x, k), conv.corr2d(x, k)
    assert naive.dtype == np.float64
    assert fast.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(naive, expected)
    np.testing.assert_array_equal(fast, expected)


@st.composite
def conv_configs(draw):
    """Random valid conv2d configurations (shapes, stride, padding, dilation)."""
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    # Input at least as large as the dilated kernel after padding.
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 12))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 12))
    return dict(
        x_shape=(n, c, h, w),
        w_shape=(o, c, kh, kw),
        stride=(sh, sw),
        padding=(ph, pw),
        dilation=(dh, dw),
        bias=draw(st.booleans()),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        seed=draw(st.integers(0, 2**31)),
    )


def _tensors(cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.normal(size=cfg["x_shape"]).astype(cfg["dtype"])
    w = rng.normal(size=cfg["w_shape"]).astype(cfg["dtype"])
    b = rng.normal(size=cfg["w_shape"][0]).astype(cfg["dtype"]) if cfg["bias"] else None
    return x, w, b


def _tolerance(dtype, terms=1):
    """rtol/atol for a sum of ``terms`` products of standard normal numbers in ``dtype``."""
    eps = 1e-12 if dtype == np.float64 else 1e-5
    return dict(rtol=eps, atol=eps * np.sqrt(terms))


def _geometry(cfg):
    return dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])


@settings(max_examples=300)
@given(cfg=conv_configs())
def test_conv2d_matches_torch(cfg):
    x, w, b = _tensors(cfg)
    kw = _geometry(cfg)
    ours = conv.conv2d(x, w, b, **kw)
    ref = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(w), None if b is None else torch.from_numpy(b), **kw
    ).numpy()
    assert ours.shape == ref.shape
    assert ours.dtype == cfg["dtype"]  # float32 stays float32
    np.testing.assert_allclose(ours, ref, **_tolerance(cfg["dtype"], w[0].size))


@settings(max_examples=200)
@given(cfg=conv_configs())
def test_conv2d_backward_matches_autograd(cfg):
    x, w, b = _tensors(cfg)
    b = np.zeros(w.shape[0], dtype=cfg["dtype"]) if b is None else b
    kw = _geometry(cfg)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.conv2d(xt, wt, bt, **kw)
    grad = np.random.default_rng(cfg["seed"] + 1).normal(size=yt.shape).astype(cfg["dtype"])
    yt.backward(torch.from_numpy(grad))
    dx, dw, db = conv.conv2d_backward(grad, x, w, **kw)
    assert dx.dtype == dw.dtype == db.dtype == cfg["dtype"]
    np.testing.assert_allclose(dx, xt.grad.numpy(), **_tolerance(cfg["dtype"], w[:, 0].size))
    n_out = grad[:, 0].size  # dw and db sum over every output position of the batch
    np.testing.assert_allclose(dw, wt.grad.numpy(), **_tolerance(cfg["dtype"], n_out))
    np.testing.assert_allclose(db, bt.grad.numpy(), **_tolerance(cfg["dtype"], n_out))


@settings(max_examples=200)
@given(cfg=conv_configs())
def test_im2col_matches_torch_unfold(cfg):
    x, w, _ = _tensors(cfg)
    kernel_size = w.shape[2:]
    kw = _geometry(cfg)
    cols = conv.im2col(x, kernel_size, **kw)
    ref = F.unfold(torch.from_numpy(x), kernel_size, **kw).numpy()
    assert cols.dtype == x.dtype
    np.testing.assert_array_equal(cols, ref)  # a pure copy: bit for bit


@settings(max_examples=200)
@given(cfg=conv_configs())
def test_col2im_matches_torch_fold_and_is_the_adjoint_of_im2col(cfg):
    x, w, _ = _tensors(cfg)
    kernel_size, image_size = w.shape[2:], x.shape[2:]
    kw = _geometry(cfg)
    shape = conv.im2col(x, kernel_size, **kw).shape
    cols = np.random.default_rng(cfg["seed"] + 2).normal(size=shape).astype(cfg["dtype"])
    image = conv.col2im(cols, image_size, kernel_size, **kw)
    ref = F.fold(torch.from_numpy(cols), image_size, kernel_size, **kw).numpy()
    assert image.shape == x.shape
    np.testing.assert_allclose(image, ref, **_tolerance(cfg["dtype"], w[0, 0].size))
    # <im2col(x), cols> == <x, col2im(cols)>: col2im is the transpose of the linear map im2col.
    left = float((conv.im2col(x, kernel_size, **kw).astype(np.float64) * cols).sum())
    right = float((x.astype(np.float64) * image).sum())
    np.testing.assert_allclose(left, right, **_tolerance(cfg["dtype"], cols.size))


def test_sliding_windows_is_a_view_with_the_documented_indexing():
    x = np.arange(2 * 3 * 9 * 8, dtype=float).reshape(2, 3, 9, 8)
    windows = conv.sliding_windows(x, (2, 3), stride=(2, 1), dilation=(3, 2))
    assert windows.shape == (2, 3, 3, 4, 2, 3)  # floor((9 - 4) / 2) + 1, floor((8 - 5) / 1) + 1
    assert np.shares_memory(windows, x)
    for n, c, i, j, a, b in np.ndindex(windows.shape):
        assert windows[n, c, i, j, a, b] == x[n, c, i * 2 + a * 3, j * 1 + b * 2]


def test_im2col_worked_example_and_conv2d_as_one_matrix_product():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    k = np.array([[0.0, 1.0], [2.0, 3.0]])
    cols = conv.im2col(x, 2)
    # Column (i, j) is the window at (i, j), read row by row.
    np.testing.assert_array_equal(cols[0], [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])
    np.testing.assert_array_equal(k.reshape(1, -1) @ cols[0], [[19, 25, 37, 43]])
    np.testing.assert_array_equal(conv.conv2d(x, k[None, None])[0, 0], [[19, 25], [37, 43]])


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (3, 2, 2), (2, 0, 3)])
def test_conv2d_backward_matches_finite_differences(stride, padding, dilation):
    rng = np.random.default_rng(stride * 10 + padding + dilation)
    x = rng.normal(size=(2, 2, 7, 8))
    w = rng.normal(size=(3, 2, 2, 3))
    b = rng.normal(size=3)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    g = rng.normal(size=conv.conv2d(x, w, b, **kw).shape)

    def loss(x_, w_, b_):
        return float((conv.conv2d(x_, w_, b_, **kw) * g).sum())

    def numeric(arr, f, eps=1e-6):
        out = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = f()
            arr[idx] = old - eps
            down = f()
            arr[idx] = old
            out[idx] = (up - down) / (2 * eps)
        return out

    dx, dw, db = conv.conv2d_backward(g, x, w, **kw)
    np.testing.assert_allclose(dx, numeric(x, lambda: loss(x, w, b)), atol=1e-6)
    np.testing.assert_allclose(dw, numeric(w, lambda: loss(x, w, b)), atol=1e-6)
    np.testing.assert_allclose(db, numeric(b, lambda: loss(x, w, b)), atol=1e-6)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(x=np.zeros((3, 3, 3))), "x must have 4 dimensions"),
        (dict(weight=np.zeros((2, 3, 3))), "weight must have 4 dimensions"),
        (dict(weight=np.zeros((2, 2, 3, 3))), "input channels"),
        (
            dict(weight=np.zeros((2, 1, 7, 3))),
            r"height of x \(shape \(1, 1, 5, 5\)\): kernel_size 7 .* larger than the padded input",
        ),
        (dict(weight=np.zeros((2, 1, 3, 3)), dilation=4), "dilated to 9"),
        (dict(stride=0), "stride must be >= 1, got 0"),
        (dict(stride=(1, -2)), r"stride\[1\] must be >= 1, got -2"),
        (dict(padding=-1), "padding must be >= 0"),
        (dict(dilation=0), "dilation must be >= 1"),
        (dict(bias=np.zeros(3)), r"bias must have shape \(2,\)"),
    ],
)
def test_conv2d_rejects_bad_input(kwargs, match):
    args = dict(x=np.zeros((1, 1, 5, 5)), weight=np.zeros((2, 1, 3, 3)), bias=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        conv.conv2d(**args)


def test_conv2d_rejects_wrong_types():
    with pytest.raises(TypeError, match="stride must be an integer"):
        conv.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=1.5)
    with pytest.raises(TypeError, match="x must be a numeric array"):
        conv.conv2d(np.array([["a"]]), np.zeros((1, 1, 1, 1)))


def test_corr2d_and_convolve1d_reject_bad_input():
    with pytest.raises(ValueError, match="kernel of shape .* larger than input x"):
        conv.corr2d(np.zeros((2, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        conv.corr2d(np.zeros(4), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="mode must be one of"):
        conv.convolve1d([1, 2], [1], mode="circular")
    with pytest.raises(ValueError, match="non-empty"):
        conv.convolve1d([], [1])


def test_im2col_col2im_sliding_windows_reject_bad_input():
    with pytest.raises(ValueError, match=r"width of x .* kernel_size 4 \(dilated to 7\)"):
        conv.sliding_windows(np.zeros((1, 1, 9, 5)), 4, dilation=2)
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        conv.im2col(np.zeros((3, 5, 5)), 3)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        conv.im2col(np.zeros((1, 1, 5, 5)), 3, padding=-1)
    with pytest.raises(ValueError, match=r"cols must have shape \(N, C \* 3 \* 3, 3 \* 3\)"):
        conv.col2im(np.zeros((1, 10, 9)), 5, 3)
    with pytest.raises(ValueError, match=r"cols must have shape"):
        conv.col2im(np.zeros((1, 9, 8)), 5, 3)
    with pytest.raises(ValueError, match="image_size must be >= 1"):
        conv.col2im(np.zeros((1, 9, 9)), 0, 3)
    with pytest.raises(ValueError, match="cols must have 3 dimensions"):
        conv.col2im(np.zeros((9, 9)), 5, 3)


def test_conv2d_keeps_float32_and_promotes_mixed_inputs():
    x = np.ones((1, 2, 4, 4), dtype=np.float32)
    w32, w64 = np.ones((3, 2, 3, 3), dtype=np.float32), np.ones((3, 2, 3, 3))
    assert conv.conv2d(x, w32, np.ones(3, dtype=np.float32)).dtype == np.float32
    assert conv.conv2d(x, w64).dtype == np.float64
    y = conv.conv2d(x, w32, np.ones(3))  # a float64 bias promotes, as numpy would
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, np.full((1, 3, 2, 2), 19.0))


def test_conv2d_backward_rejects_wrong_grad_shape():
    with pytest.raises(ValueError, match="grad_out must have the conv2d output shape"):
        conv.conv2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)))


def test_conv2d_output_dtype_follows_input_weight_and_bias():
    # float64 input and weight with a float32 bias stay float64 (numpy's promotion of all three)
    x, w = np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
    assert conv.conv2d(x, w, np.ones(1, np.float32)).dtype == np.float64
    y32 = conv.conv2d(x.astype(np.float32), w.astype(np.float32), np.ones(1, np.float32))
    assert y32.dtype == np.float32


def test_conv2d_backward_defaults_are_stride_1_no_padding_no_dilation():
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(3, 2, 3, 2))
    grad = rng.normal(size=conv.conv2d(x, w).shape)
    for got, want in zip(
        conv.conv2d_backward(grad, x, w),
        conv.conv2d_backward(grad, x, w, stride=1, padding=0, dilation=1),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError) as info:
        conv.conv2d_backward(grad[0], x, w)
    assert str(info.value) == "grad_out must have 4 dimensions, got shape (3, 4, 4)"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kernel_size": 0}, "kernel_size must be >= 1, got 0"),
        ({"stride": 0}, "stride must be >= 1, got 0"),
        ({"padding": -1}, "padding must be >= 0, got -1"),
        ({"dilation": 0}, "dilation must be >= 1, got 0"),
        (
            # 18 rows of 3x3 taps: 2 channels, which the message shows in the image's shape
            {"cols": np.ones((1, 18, 1)), "image_size": (2, 2)},
            "convolution over the height of the image (shape (1, 2, 2, 2)): kernel_size 3 "
            "(dilated to 3) is larger than the padded input 2 + 2*0 = 2: the window d(k-1)+1 = 3 "
            "must fit in n + 2p",
        ),
    ],
)
def test_col2im_messages_are_exact(kwargs, message):
    args = {"cols": np.ones((1, 9, 9)), "image_size": (5, 5), "kernel_size": 3} | kwargs
    with pytest.raises(ValueError) as info:
        conv.col2im(**args)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: conv.convolve1d(np.ones((2, 2)), [1]),
            "x must have 1 dimensions, got shape (2, 2)",
        ),
        (
            lambda: conv.convolve1d([1, 2], np.ones((2, 2))),
            "w must have 1 dimensions, got shape (2, 2)",
        ),
        (
            lambda: conv.corr2d(np.ones(3), np.ones((2, 2))),
            "x must have 2 dimensions, got shape (3,)",
        ),
        (
            lambda: conv.corr2d(np.ones((3, 3)), np.ones(2)),
            "kernel must have 2 dimensions, got shape (2,)",
        ),
        (
            lambda: conv.corr2d(np.ones((3, 3)), np.ones((0, 2))),
            "kernel must be non-empty, got shape (0, 2)",
        ),
        (
            lambda: conv.corr2d_naive(np.ones((3, 3)), np.ones((4, 2))),
            "kernel of shape (4, 2) is larger than input x of shape (3, 3); pad x first or use a "
            "smaller kernel",
        ),
    ],
)
def test_2d_and_1d_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


X_1255 = np.ones((1, 2, 5, 5))
W_3233 = np.ones((3, 2, 3, 3))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: conv.sliding_windows(np.ones((5, 5)), 3),
            "x must have 4 dimensions, got shape (5, 5)",
        ),
        (lambda: conv.sliding_windows(X_1255, 0), "kernel_size must be >= 1, got 0"),
        (lambda: conv.sliding_windows(X_1255, 3, 0), "stride must be >= 1, got 0"),
        (lambda: conv.sliding_windows(X_1255, 3, 1, 0), "dilation must be >= 1, got 0"),
        (
            lambda: conv.sliding_windows(X_1255, (6, 1)),
            "convolution over the height of x (shape (1, 2, 5, 5)): kernel_size 6 (dilated to 6) is "
            "larger than the padded input 5 + 2*0 = 5: the window d(k-1)+1 = 6 must fit in n + 2p",
        ),
        (
            lambda: conv.conv2d(X_1255, np.ones((3, 1, 3, 3))),
            "weight has 1 input channels (shape (3, 1, 3, 3)) but x has 2 channels (shape (1, 2, 5, 5)); "
            "weight must be (out_channels, 2, kh, kw)",
        ),
        (
            lambda: conv.conv2d(X_1255, np.ones((0, 2, 3, 3))),
            "weight must have non-zero out_channels, kh and kw, got (0, 2, 3, 3)",
        ),
        (  # one empty kernel axis is enough
            lambda: conv.conv2d(X_1255, np.ones((3, 2, 0, 3))),
            "weight must have non-zero out_channels, kh and kw, got (3, 2, 0, 3)",
        ),
        (
            lambda: conv.conv2d(X_1255, np.ones((3, 2, 3, 0))),
            "weight must have non-zero out_channels, kh and kw, got (3, 2, 3, 0)",
        ),
        (
            lambda: conv.conv2d(X_1255, W_3233, np.ones((3, 1))),
            "bias must have 1 dimensions, got shape (3, 1)",
        ),
        (
            lambda: conv.conv2d(X_1255, W_3233, np.ones(2)),
            "bias must have shape (3,) to match weight, got (2,)",
        ),
        (lambda: conv.conv2d(X_1255, W_3233, stride=0), "stride must be >= 1, got 0"),
        (lambda: conv.conv2d(X_1255, W_3233, padding=-1), "padding must be >= 0, got -1"),
        (lambda: conv.conv2d(X_1255, W_3233, dilation=0), "dilation must be >= 1, got 0"),
        (
            lambda: conv.conv2d(np.ones((2, 5, 5)), W_3233),
            "x must have 4 dimensions, got shape (2, 5, 5)",
        ),
        (
            lambda: conv.conv2d(X_1255, np.ones((3, 2, 3))),
            "weight must have 4 dimensions, got shape (3, 2, 3)",
        ),
    ],
)
def test_window_and_conv2d_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_sliding_windows_defaults_and_strided_dilated_views():
    x = np.arange(2 * 5 * 6, dtype=float).reshape(1, 2, 5, 6)
    assert conv.sliding_windows(x, 3).shape == (1, 2, 3, 4, 3, 3)  # stride 1, dilation 1
    w = conv.sliding_windows(x, (3, 2), (2, 1), (1, 2))
    assert w.shape == (1, 2, 2, 4, 3, 2)
    # window (i, j), tap (a, b) reads row i*2 + a, column j + 2b
    for i, j, a, b in [(0, 0, 0, 0), (1, 3, 2, 1), (1, 2, 1, 0)]:
        assert w[0, 1, i, j, a, b] == x[0, 1, i * 2 + a, j + 2 * b]
