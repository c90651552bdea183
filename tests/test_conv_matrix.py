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
