"""Convolution as a matrix (conv.conv_matrix) and the transposed convolution
(conv.conv_transpose2d), proven against torch.nn.functional and autograd."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse import conv

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@st.composite
def conv_configs(draw):
    """A small random convolution: (x, weight, stride, padding, dilation) that fits."""
    c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, d[0] * (kh - 1) + 1 - 2 * p[0]), 7))
    w = draw(st.integers(max(1, d[1] * (kw - 1) + 1 - 2 * p[1]), 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return rng.normal(size=(2, c, h, w)), rng.normal(size=(o, c, kh, kw)), s, p, d


@settings(max_examples=60)
@given(conv_configs())
def test_conv_matrix_times_image_is_torch_conv2d(cfg):
    x, weight, s, p, d = cfg
    m = conv.conv_matrix(weight, x.shape[2:], s, p, d)
    ref = F.conv2d(torch.from_numpy(x), torch.from_numpy(weight), stride=s, padding=p, dilation=d)
    assert m.shape == (ref[0].numel(), x[0].size)
    np.testing.assert_allclose(x.reshape(2, -1) @ m.T, ref.numpy().reshape(2, -1), atol=1e-12)


@settings(max_examples=60)
@given(conv_configs())
def test_transpose_of_conv_matrix_is_the_input_gradient_and_conv_transpose2d(cfg):
    x, weight, s, p, d = cfg
    y = conv.conv2d(x, weight, stride=s, padding=p, dilation=d)
    g = np.random.default_rng(1).normal(size=y.shape)
    # The input gradient from autograd.
    xt = torch.from_numpy(x).requires_grad_()
    F.conv2d(xt, torch.from_numpy(weight), stride=s, padding=p, dilation=d).backward(
        torch.from_numpy(g)
    )
    dx = xt.grad.numpy()
    m = conv.conv_matrix(weight, x.shape[2:], s, p, d)
    np.testing.assert_allclose(g.reshape(2, -1) @ m, dx.reshape(2, -1), atol=1e-12)
    # Rows/columns the conv never reads (stride leftovers) need output_padding to come back.
    extra = tuple(
        x.shape[2 + i]
        - ((y.shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (weight.shape[2 + i] - 1) + 1)
        for i in range(2)
    )
    if all(e < max(s[i], d[i]) for i, e in enumerate(extra)):
        ours = conv.conv_transpose2d(g, weight, None, s, p, extra, d)
        ref = F.conv_transpose2d(
            torch.from_numpy(g),
            torch.from_numpy(weight),
            stride=s,
            padding=p,
            output_padding=extra,
            dilation=d,
        )
        np.testing.assert_allclose(ours, ref.numpy(), atol=1e-12)
        np.testing.assert_allclose(ours, dx, atol=1e-12)
        np.testing.assert_allclose(ours, conv.conv2d_backward(g, x, weight, s, p, d)[0], atol=1e-12)


@settings(max_examples=40)
@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(1, 2),
    st.integers(0, 2),
)
def test_conv_transpose2d_matches_torch(c_in, c_out, k, h, s, p, d, op):
    op = min(op, max(s, d) - 1)
    if (h - 1) * s - 2 * p + d * (k - 1) + op + 1 < 1:
        return
    rng = np.random.default_rng(c_in * 100 + k * 10 + h)
    x = rng.normal(size=(2, c_in, h, h + 1))
    weight = rng.normal(size=(c_in, c_out, k, k))
    bias = rng.normal(size=c_out)
    ours = conv.conv_transpose2d(x, weight, bias, s, p, op, d)
    ref = F.conv_transpose2d(
        torch.from_numpy(x),
        torch.from_numpy(weight),
        torch.from_numpy(bias),
        stride=s,
        padding=p,
        output_padding=op,
        dilation=d,
    )
    assert ours.shape == tuple(ref.shape)
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-12)


def test_one_channel_stride_one_is_doubly_block_toeplitz():
    kernel = np.arange(1.0, 7.0).reshape(2, 3)
    h, w = 4, 5
    m = conv.conv_matrix(kernel[None, None], (h, w))
    out_h, out_w = h - 1, w - 2
    blocks = m.reshape(out_h, out_w, h, w).transpose(0, 2, 1, 3)  # (i, r) -> (out_w, W) block
    for i in range(out_h):
        for r in range(h):
            block = blocks[i, r]
            if 0 <= r - i < kernel.shape[0]:
                # Toeplitz: constant along diagonals, holding kernel row r - i.
                for j in range(out_w):
                    np.testing.assert_array_equal(block[j, j : j + 3], kernel[r - i])
                assert np.count_nonzero(block) == out_w * 3
                np.testing.assert_array_equal(block, blocks[0, r - i])
            else:
                assert not block.any()


def test_worked_example_matrix():
    # The chapter's 3x3 input and 2x2 kernel: four rows, one per output, giving 19, 25, 37, 43.
    m = conv.conv_matrix(np.array([[[[0, 1], [2, 3]]]]), 3)
    np.testing.assert_array_equal(
        m,
        [
            [0, 1, 0, 2, 3, 0, 0, 0, 0],
            [0, 0, 1, 0, 2, 3, 0, 0, 0],
            [0, 0, 0, 0, 1, 0, 2, 3, 0],
            [0, 0, 0, 0, 0, 1, 0, 2, 3],
        ],
    )
    np.testing.assert_array_equal(m @ np.arange(9), [19, 25, 37, 43])


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="weight"):
        conv.conv_matrix(np.ones((3, 3)), 5)
    with pytest.raises(ValueError, match="image_size"):
        conv.conv_matrix(np.ones((1, 1, 3, 3)), 0)
    with pytest.raises(ValueError, match="larger than|kernel"):
        conv.conv_matrix(np.ones((1, 1, 3, 3)), 2)
    x = np.ones((1, 2, 3, 3))
    with pytest.raises(ValueError, match="output_padding 2 must be smaller than stride 2"):
        conv.conv_transpose2d(x, np.ones((2, 1, 3, 3)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="weight has 1 input channels"):
        conv.conv_transpose2d(x, np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="bias must have shape"):
        conv.conv_transpose2d(x, np.ones((2, 4, 3, 3)), bias=np.ones(3))
    with pytest.raises(TypeError, match="stride"):
        conv.conv_transpose2d(x, np.ones((2, 1, 3, 3)), stride=1.5)


def test_conv_transpose2d_defaults_are_torchs():
    rng = np.random.default_rng(3)
    x, weight = rng.normal(size=(2, 2, 4, 5)), rng.normal(size=(2, 3, 3, 2))
    ref = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(weight))
    np.testing.assert_allclose(conv.conv_transpose2d(x, weight), ref.numpy(), atol=1e-12)


X1 = np.ones((1, 2, 3, 3))
W1 = np.ones((2, 1, 2, 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": np.ones((2, 3, 3))}, "x must have 4 dimensions, got shape (2, 3, 3)"),
        ({"weight": np.ones((2, 1, 2))}, "weight must have 4 dimensions, got shape (2, 1, 2)"),
        ({"bias": np.ones((1, 1))}, "bias must have 1 dimensions, got shape (1, 1)"),
        ({"bias": np.ones(2)}, "bias must have shape (1,) to match weight, got (2,)"),
        (
            {"weight": np.ones((3, 1, 2, 2))},
            "weight has 3 input channels (shape (3, 1, 2, 2)) but x has 2 channels "
            "(shape (1, 2, 3, 3)); weight must be (2, C_out, kh, kw)",
        ),
        (
            {"weight": np.ones((2, 0, 2, 2))},
            "weight must have non-zero C_out, kh and kw, got (2, 0, 2, 2)",
        ),
        ({"stride": 0}, "stride must be >= 1, got 0"),
        # pairs: the check here names the element, before shapes' per-axis size rule runs
        ({"stride": (1, 0)}, "stride[1] must be >= 1, got 0"),
        ({"padding": (0, -1)}, "padding[1] must be >= 0, got -1"),
        ({"dilation": (1, 0)}, "dilation[1] must be >= 1, got 0"),
        ({"output_padding": (0, -1)}, "output_padding[1] must be >= 0, got -1"),
        ({"padding": -1}, "padding must be >= 0, got -1"),
        ({"dilation": 0}, "dilation must be >= 1, got 0"),
        ({"output_padding": -1}, "output_padding must be >= 0, got -1"),
    ],
)
def test_conv_transpose2d_messages_are_exact(kwargs, message):
    args = {"x": X1, "weight": W1} | kwargs
    with pytest.raises(ValueError) as err:
        conv.conv_transpose2d(**args)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight": np.ones((2, 1, 2))}, "weight must have 4 dimensions, got shape (2, 1, 2)"),
        ({"image_size": 0}, "image_size must be >= 1, got 0"),
        ({"image_size": (3, 0)}, "image_size[1] must be >= 1, got 0"),
    ],
)
def test_conv_matrix_messages_are_exact(kwargs, message):
    args = {"weight": W1, "image_size": 4} | kwargs
    with pytest.raises(ValueError) as err:
        conv.conv_matrix(**args)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("weight_dtype", "matrix_dtype"),
    [
        (np.int64, np.float64),
        (np.float32, np.float64),  # float64 entries whatever the weight's precision
        (np.complex64, np.complex128),  # a complex filter keeps its imaginary part
        (np.longdouble, np.longdouble),  # and a wider float its precision
    ],
)
def test_conv_matrix_dtype_is_the_weights_promoted_to_float64(weight_dtype, matrix_dtype):
    rng = np.random.default_rng(4)
    weight = rng.normal(size=(2, 2, 2, 2))
    if np.issubdtype(weight_dtype, np.complexfloating):
        weight = weight + 1j * rng.normal(size=weight.shape)
    weight = (weight * 4).astype(weight_dtype)
    m = conv.conv_matrix(weight, (3, 4), padding=1)
    assert m.dtype == matrix_dtype
    x = rng.normal(size=(2, 3, 4))
    np.testing.assert_allclose(
        m @ x.ravel(), conv.conv2d(x[None], weight.astype(matrix_dtype), padding=1).ravel()
    )


@pytest.mark.parametrize(
    ("x_dtype", "bias_dtype", "out_dtype"),
    [
        (np.float32, np.float32, np.float32),
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
    ],
)
def test_conv_transpose2d_bias_promotes_like_numpy(x_dtype, bias_dtype, out_dtype):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 2, 3, 3)).astype(x_dtype)
    weight = rng.normal(size=(2, 3, 2, 2)).astype(x_dtype)
    bias = rng.normal(size=3).astype(bias_dtype)
    y = conv.conv_transpose2d(x, weight, bias, stride=2)
    assert y.dtype == out_dtype
    ref = F.conv_transpose2d(
        torch.from_numpy(x.astype(np.float64)),
        torch.from_numpy(weight.astype(np.float64)),
        torch.from_numpy(bias.astype(np.float64)),
        stride=2,
    )
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-5, atol=1e-5)
