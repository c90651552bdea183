"""pooling.py proven against torch.nn.functional (forward, indices, autograd) and finite differences."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncourse import pooling

ARANGE_4X4 = np.arange(1, 17, dtype=float).reshape(1, 1, 4, 4)

# ----------------------------------------------------------------------------- worked examples


def test_book_4x4_example():
    np.testing.assert_array_equal(pooling.max_pool2d(ARANGE_4X4, 2)[0, 0], [[6, 8], [14, 16]])
    np.testing.assert_array_equal(
        pooling.avg_pool2d(ARANGE_4X4, 2)[0, 0], [[3.5, 5.5], [11.5, 13.5]]
    )


def test_book_4x4_backward_routing():
    g = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = pooling.max_pool2d_backward(g, ARANGE_4X4, 2)[0, 0]
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[3, 1], expected[3, 3] = 1, 2, 3, 4
    np.testing.assert_array_equal(dx, expected)
    davg = pooling.avg_pool2d_backward(g, ARANGE_4X4, 2)[0, 0]
    np.testing.assert_array_equal(davg, np.kron(g[0, 0], np.ones((2, 2))) / 4)


def test_sources_3x3_pooling_over_5x5_feature():
    feature = np.array(
        [[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]],
        dtype=float,
    )
    y = pooling.max_pool2d(feature[None, None], 3, stride=1)[0, 0]
    np.testing.assert_array_equal(y, [[3, 3, 3], [3, 3, 3], [3, 2, 3]])


def test_d2l_3x3_example():
    x = np.arange(9, dtype=float).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(pooling.max_pool2d(x, 2, stride=1)[0, 0], [[4, 5], [7, 8]])
    np.testing.assert_array_equal(pooling.avg_pool2d(x, 2, stride=1)[0, 0], [[2, 3], [5, 6]])


def test_adaptive_examples_from_the_sources():
    x = np.array([[[1.0, 2.0, 3.0]]])  # (C=1, H=1, W=3)
    np.testing.assert_array_equal(
        pooling.adaptive_avg_pool2d(x, (1, 8))[0, 0], [1, 1, 1.5, 2, 2, 2.5, 3, 3]
    )
    np.testing.assert_array_equal(
        pooling.adaptive_max_pool2d(x, (1, 10))[0, 0], [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]
    )


def test_adaptive_pool_ranges_rule():
    start, end = pooling.adaptive_pool_ranges(10, 4)
    np.testing.assert_array_equal(start, [0, 2, 5, 7])
    np.testing.assert_array_equal(end, [3, 5, 8, 10])
    start, end = pooling.adaptive_pool_ranges(3, 8)
    np.testing.assert_array_equal(start, [0, 0, 0, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(end, [1, 1, 2, 2, 2, 3, 3, 3])


@settings(max_examples=300)
@given(size=st.integers(1, 200), out=st.integers(1, 200))
def test_adaptive_pool_ranges_matches_float_formula(size, out):
    start, end = pooling.adaptive_pool_ranges(size, out)
    i = np.arange(out)
    np.testing.assert_array_equal(start, np.floor(i * size / out).astype(int))
    np.testing.assert_array_equal(end, np.ceil((i + 1) * size / out).astype(int))
    assert (end > start).all() and start[0] == 0 and end[-1] == size


def test_overlapping_pooling_alexnet_sizes():
    # AlexNet's 3x3 / stride 2 pooling: 55 -> 27 -> 13 -> 6.
    sizes = [55]
    for _ in range(3):
        x = np.zeros((1, 1, sizes[-1], sizes[-1]))
        sizes.append(pooling.max_pool2d(x, 3, stride=2).shape[-1])
    assert sizes == [55, 27, 13, 6]


# ----------------------------------------------------------------------------- ties


def test_ties_go_to_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 5.0, 5.0, 0.0], [5.0, 5.0, 0.0, 5.0]]]])
    y, idx = pooling.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y[0, 0], [[5, 5]])
    np.testing.assert_array_equal(idx[0, 0], [[1, 2]])  # (0, 1) and (0, 2), not (1, 0) or (1, 3)
    dx = pooling.max_pool2d_backward(np.ones_like(y), x, 2)
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 1, 0], [0, 0, 0, 0]])
    xt = torch.tensor(x, requires_grad=True)
    yt, it = F.max_pool2d(xt, 2, return_indices=True)
    yt.sum().backward()
    np.testing.assert_array_equal(idx, it.numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


def test_constant_input_routes_gradient_to_each_window_top_left():
    x = np.full((1, 1, 4, 6), 2.0)
    dx = pooling.max_pool2d_backward(np.ones((1, 1, 2, 3)), x, 2)
    expected = np.zeros((4, 6))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(dx[0, 0], expected)
    da = pooling.adaptive_max_pool2d_backward(np.ones((1, 1, 3, 3)), x)
    xt = torch.tensor(x, requires_grad=True)
    F.adaptive_max_pool2d(xt, 3).sum().backward()
    np.testing.assert_array_equal(da, xt.grad.numpy())


def test_minus_infinity_inputs_match_torch_indices():
    x = np.full((1, 1, 5, 5), -np.inf)
    x[0, 0, 4, 4] = 1.0
    for kwargs in (dict(padding=1), dict(padding=1, dilation=2), dict(ceil_mode=True)):
        y, idx = pooling.max_pool2d(x, 3, 2, return_indices=True, **kwargs)
        yt, it = F.max_pool2d(torch.tensor(x), 3, 2, return_indices=True, **kwargs)
        np.testing.assert_array_equal(y, yt.numpy())
        np.testing.assert_array_equal(idx, it.numpy())


def test_window_entirely_in_padding():
    # kernel 2, dilation 3, padding 1 on a 2x2 input: the only window reads rows/cols -1 and 2.
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    y, idx = pooling.max_pool2d(x, 2, stride=1, padding=1, dilation=3, return_indices=True)
    yt = F.max_pool2d(torch.tensor(x), 2, stride=1, padding=1, dilation=3)
    np.testing.assert_array_equal(y, yt.numpy())  # -inf, like torch
    assert idx.item() == -1  # torch reports an index outside the 2x2 input here
    dx = pooling.max_pool2d_backward(np.ones((1, 1, 1, 1)), x, 2, 1, 1, 3)
    np.testing.assert_array_equal(dx, np.zeros_like(x))


def test_nan_propagates():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    assert np.isnan(pooling.max_pool2d(x, 2)).all()
    assert np.isnan(pooling.max_pool2d_naive(x, 2)).all()
    assert np.isnan(pooling.adaptive_max_pool2d(x, 1)).all()


# ----------------------------------------------------------------------------- property tests


@st.composite
def pool_configs(draw, max_size=10, dilation=True):
    """A random pooling configuration; it may be one torch rejects (too large a kernel)."""
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return dict(
        shape=(
            draw(st.integers(1, 2)),
            draw(st.integers(1, 3)),
            draw(st.integers(1, max_size)),
            draw(st.integers(1, max_size)),
        ),
        kernel_size=(kh, kw),
        stride=draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4)))),
        padding=(draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))),
        dilation=(draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1),
        ceil_mode=draw(st.booleans()),
    )


def _inputs(shape, seed, ties):
    rng = np.random.default_rng(seed)
    # Small integers make ties common; normal values make them impossible.
    return rng.integers(-3, 4, size=shape).astype(float) if ties else rng.normal(size=shape)


def _torch_or_none(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except RuntimeError:
        return None


def _has_empty_window(idx):
    return (np.asarray(idx) < 0).any()


@settings(max_examples=1000)
@given(cfg=pool_configs(max_size=12))
def test_output_sizes_and_rejections_match_torch(cfg):
    shape = cfg.pop("shape")
    x = np.zeros(shape)
    ref = _torch_or_none(F.max_pool2d, torch.zeros(shape), **cfg)
    if ref is None:
        with pytest.raises(ValueError, match="kernel_size"):
            pooling.max_pool2d(x, **cfg)
    else:
        assert pooling.max_pool2d(x, **cfg).shape == tuple(ref.shape)
    cfg.pop("dilation")
    ref = _torch_or_none(F.avg_pool2d, torch.zeros(shape), **cfg)
    if ref is None:
        with pytest.raises(ValueError, match="kernel_size"):
            pooling.avg_pool2d(x, **cfg)
    else:
        assert pooling.avg_pool2d(x, **cfg).shape == tuple(ref.shape)


@settings(max_examples=300)
@given(cfg=pool_configs(), seed=st.integers(0, 2**31), ties=st.booleans())
def test_max_pool2d_matches_torch_forward_indices_and_autograd(cfg, seed, ties):
    x = _inputs(cfg.pop("shape"), seed, ties)
    xt = torch.tensor(x, requires_grad=True)
    ref = _torch_or_none(F.max_pool2d, xt, return_indices=True, **cfg)
    if ref is None:
        with pytest.raises(ValueError):
            pooling.max_pool2d(x, **cfg)
        return
    y, idx = pooling.max_pool2d(x, return_indices=True, **cfg)
    np.testing.assert_array_equal(y, ref[0].detach().numpy())
    np.testing.assert_array_equal(pooling.max_pool2d(x, **cfg), y)
    if _has_empty_window(idx):
        return  # torch's indices point outside the input there and its backward is unsafe
    np.testing.assert_array_equal(idx, ref[1].numpy())
    g = np.random.default_rng(seed + 1).normal(size=y.shape)
    ref[0].backward(torch.tensor(g))
    np.testing.assert_allclose(
        pooling.max_pool2d_backward(g, x, **cfg), xt.grad.numpy(), rtol=1e-12, atol=1e-12
    )


@settings(max_examples=150)
@given(cfg=pool_configs(max_size=7), seed=st.integers(0, 2**31), ties=st.booleans())
def test_naive_max_pool_matches_vectorised(cfg, seed, ties):
    x = _inputs(cfg.pop("shape"), seed, ties)
    try:
        y, idx = pooling.max_pool2d(x, return_indices=True, **cfg)
    except ValueError:
        with pytest.raises(ValueError):
            pooling.max_pool2d_naive(x, **cfg)
        return
    yn, idxn = pooling.max_pool2d_naive(x, return_indices=True, **cfg)
    np.testing.assert_array_equal(yn, y)
    np.testing.assert_array_equal(idxn, idx)


@settings(max_examples=300)
@given(
    cfg=pool_configs(dilation=False),
    seed=st.integers(0, 2**31),
    count_include_pad=st.booleans(),
)
def test_avg_pool2d_matches_torch_forward_and_autograd(cfg, seed, count_include_pad):
    x = _inputs(cfg.pop("shape"), seed, ties=False)
    cfg.pop("dilation")
    cfg["count_include_pad"] = count_include_pad
    xt = torch.tensor(x, requires_grad=True)
    ref = _torch_or_none(F.avg_pool2d, xt, **cfg)
    if ref is None:
        with pytest.raises(ValueError):
            pooling.avg_pool2d(x, **cfg)
        return
    np.testing.assert_allclose(pooling.avg_pool2d(x, **cfg), ref.detach().numpy(), atol=1e-12)
    g = np.random.default_rng(seed + 1).normal(size=ref.shape)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(
        pooling.avg_pool2d_backward(g, x, **cfg), xt.grad.numpy(), rtol=1e-12, atol=1e-12
    )


@settings(max_examples=300)
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 12), st.integers(1, 12)),
    output_size=st.one_of(
        st.integers(1, 14),
        st.tuples(st.integers(1, 14), st.integers(1, 14)),
        st.tuples(st.none(), st.integers(1, 14)),
    ),
    seed=st.integers(0, 2**31),
    ties=st.booleans(),
)
def test_adaptive_pooling_matches_torch_forward_indices_and_autograd(
    shape, output_size, seed, ties
):
    x = _inputs(shape, seed, ties)
    xt = torch.tensor(x, requires_grad=True)
    ref_avg = F.adaptive_avg_pool2d(xt, output_size)
    np.testing.assert_allclose(
        pooling.adaptive_avg_pool2d(x, output_size), ref_avg.detach().numpy(), atol=1e-12
    )
    g = np.random.default_rng(seed + 1).normal(size=ref_avg.shape)
    ref_avg.backward(torch.tensor(g))
    np.testing.assert_allclose(
        pooling.adaptive_avg_pool2d_backward(g, x), xt.grad.numpy(), rtol=1e-12, atol=1e-12
    )

    xt = torch.tensor(x, requires_grad=True)
    ref_max, ref_idx = F.adaptive_max_pool2d(xt, output_size, return_indices=True)
    y, idx = pooling.adaptive_max_pool2d(x, output_size, return_indices=True)
    np.testing.assert_array_equal(y, ref_max.detach().numpy())
    np.testing.assert_array_equal(idx, ref_idx.numpy())
    ref_max.backward(torch.tensor(g))
    np.testing.assert_allclose(
        pooling.adaptive_max_pool2d_backward(g, x), xt.grad.numpy(), rtol=1e-12, atol=1e-12
    )


@settings(max_examples=300)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 40), st.integers(1, 40)),
    output_size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    dtype=st.sampled_from([np.float32, np.float64]),
    special=st.sampled_from([None, np.inf, -np.inf, np.nan]),
    special_in_grad=st.booleans(),
    seed=st.integers(0, 2**31),
)
def test_adaptive_avg_pool2d_matches_torch_for_any_sizes_dtypes_and_special_values(
    shape, output_size, dtype, special, special_in_grad, seed
):
    """Sizes that do or do not divide (windows of two lengths, overlapping, repeated inputs);
    an inf or nan must stay inside the windows that contain it, forward and backward."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape).astype(dtype)
    g = rng.normal(size=shape[:2] + output_size).astype(dtype)
    if special is not None:
        target, where = (g, g.shape) if special_in_grad else (x, shape)
        target[tuple(int(rng.integers(0, n)) for n in where)] = special
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    xt = torch.tensor(x, requires_grad=True)
    ref = F.adaptive_avg_pool2d(xt, output_size)
    y = pooling.adaptive_avg_pool2d(x, output_size)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref.detach().numpy(), **tol)  # nan and inf in the same places
    ref.backward(torch.from_numpy(g))
    dx = pooling.adaptive_avg_pool2d_backward(g, x)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)


@settings(max_examples=200)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 40), st.integers(1, 40)),
    output_size=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31),
    ties=st.booleans(),
)
def test_adaptive_max_pool2d_matches_torch_for_any_sizes_and_dtypes(
    shape, output_size, dtype, seed, ties
):
    x = _inputs(shape, seed, ties).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    ref, ref_idx = F.adaptive_max_pool2d(xt, output_size, return_indices=True)
    y, idx = pooling.adaptive_max_pool2d(x, output_size, return_indices=True)
    assert y.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, ref.detach().numpy())
    np.testing.assert_array_equal(idx, ref_idx.numpy())  # ties: the first in row-major order
    g = np.random.default_rng(seed + 1).normal(size=y.shape).astype(dtype)
    ref.backward(torch.from_numpy(g))
    # Overlapping windows add their gradients; float32 sums in another order differ in the last bit.
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(
        pooling.adaptive_max_pool2d_backward(g, x), xt.grad.numpy(), rtol=rtol, atol=rtol
    )


def test_adaptive_avg_pool2d_is_rows_times_x_times_cols():
    # 5 -> 3 along the height: windows [0, 2), [1, 4), [3, 5) overlap and differ in length.
    x = np.arange(5 * 4, dtype=float).reshape(1, 1, 5, 4)
    rows = np.array([[1 / 2, 1 / 2, 0, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3, 0], [0, 0, 0, 1 / 2, 1 / 2]])
    cols = np.full((1, 4), 1 / 4)
    np.testing.assert_allclose(
        pooling.adaptive_avg_pool2d(x, (3, 1))[0, 0], rows @ x[0, 0] @ cols.T
    )


@settings(max_examples=100)
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
    seed=st.integers(0, 2**31),
)
def test_global_pooling_matches_torch(shape, seed):
    x = _inputs(shape, seed, ties=False)
    xt = torch.tensor(x)
    np.testing.assert_allclose(
        pooling.global_avg_pool2d(x), F.adaptive_avg_pool2d(xt, 1).numpy(), atol=1e-12
    )
    np.testing.assert_array_equal(
        pooling.global_max_pool2d(x), F.adaptive_max_pool2d(xt, 1).numpy()
    )
    np.testing.assert_array_equal(pooling.global_max_pool2d(x), pooling.adaptive_max_pool2d(x, 1))


def test_float32_matches_torch_and_keeps_dtype():
    x = np.random.default_rng(0).normal(size=(2, 3, 17, 13)).astype(np.float32)
    xt = torch.tensor(x)
    cases = [
        (pooling.max_pool2d(x, 3, 2, 1), F.max_pool2d(xt, 3, 2, 1)),
        (pooling.avg_pool2d(x, 3, 2, 1, ceil_mode=True), F.avg_pool2d(xt, 3, 2, 1, True)),
        (pooling.adaptive_avg_pool2d(x, (5, 4)), F.adaptive_avg_pool2d(xt, (5, 4))),
        (pooling.adaptive_max_pool2d(x, (5, 4)), F.adaptive_max_pool2d(xt, (5, 4))),
        (pooling.global_avg_pool2d(x), F.adaptive_avg_pool2d(xt, 1)),
    ]
    for ours, ref in cases:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-6, atol=1e-6)


def test_integer_input_becomes_float64():
    y = pooling.max_pool2d(np.arange(16).reshape(1, 1, 4, 4), 2)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y[0, 0], [[5, 7], [13, 15]])


def test_unbatched_input_like_torch():
    x = np.random.default_rng(1).normal(size=(2, 6, 7))
    xt = torch.tensor(x)
    np.testing.assert_array_equal(pooling.max_pool2d(x, 2), F.max_pool2d(xt, 2).numpy())
    np.testing.assert_allclose(pooling.avg_pool2d(x, 3, 1, 1), F.avg_pool2d(xt, 3, 1, 1).numpy())
    y, idx = pooling.max_pool2d(x, 2, return_indices=True)
    assert y.shape == idx.shape == (2, 3, 3)
    assert pooling.max_pool2d_backward(np.ones((2, 3, 3)), x, 2).shape == x.shape
    assert pooling.adaptive_avg_pool2d_backward(np.ones((2, 4, 4)), x).shape == x.shape


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 2, 6, 6))  # distinct values: max pooling is differentiable here
    g = rng.normal(size=(1, 2, 3, 3))
    eps = 1e-6
    cases = [
        (lambda v: pooling.max_pool2d(v, 3, 2, 1), pooling.max_pool2d_backward(g, x, 3, 2, 1)),
        (
            lambda v: pooling.avg_pool2d(v, 3, 2, 1, count_include_pad=False),
            pooling.avg_pool2d_backward(g, x, 3, 2, 1, count_include_pad=False),
        ),
        (lambda v: pooling.adaptive_avg_pool2d(v, 3), pooling.adaptive_avg_pool2d_backward(g, x)),
        (lambda v: pooling.adaptive_max_pool2d(v, 3), pooling.adaptive_max_pool2d_backward(g, x)),
    ]
    for f, analytic in cases:
        numeric = np.zeros_like(x)
        for pos in np.ndindex(x.shape):
            d = np.zeros_like(x)
            d[pos] = eps
            numeric[pos] = ((f(x + d) - f(x - d)) * g).sum() / (2 * eps)
        np.testing.assert_allclose(analytic, numeric, atol=1e-6)


# ----------------------------------------------------------------------------- bad inputs

X = np.zeros((1, 1, 4, 4))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: pooling.max_pool2d(X, 3, padding=2), ValueError, "padding"),
        (lambda: pooling.avg_pool2d(X, 2, padding=2), ValueError, "padding"),
        (lambda: pooling.max_pool2d(X, 5), ValueError, "kernel_size"),
        (lambda: pooling.max_pool2d(X, 2, dilation=4), ValueError, "kernel_size"),
        (lambda: pooling.max_pool2d(X, 0), ValueError, "kernel_size"),
        (lambda: pooling.max_pool2d(X, (2, 2, 2)), ValueError, "kernel_size"),
        (lambda: pooling.max_pool2d(X, 2, stride=0), ValueError, "stride"),
        (lambda: pooling.avg_pool2d(X, 2, stride=(1, 0)), ValueError, r"stride\[1\]"),
        (lambda: pooling.max_pool2d(X, 2, padding=-1), ValueError, "padding"),
        (lambda: pooling.max_pool2d(X, 2, dilation=0), ValueError, "dilation"),
        (lambda: pooling.max_pool2d(X, 2.0), TypeError, "kernel_size"),
        (lambda: pooling.max_pool2d(X, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
        (lambda: pooling.avg_pool2d(X, 2, count_include_pad=None), TypeError, "count_include_pad"),
        (lambda: pooling.max_pool2d(X, 2, return_indices=1), TypeError, "return_indices"),
        (
            lambda: pooling.max_pool2d(X, 2, ceil_mode=0),
            TypeError,
            "ceil_mode must be True or False",
        ),
        (lambda: pooling.max_pool2d(np.zeros((4, 4)), 2), ValueError, "x"),
        (lambda: pooling.max_pool2d(np.zeros((1, 1, 0, 4)), 1), ValueError, "x"),
        (lambda: pooling.max_pool2d(np.array([["a"]]), 1), TypeError, "x"),
        (lambda: pooling.adaptive_avg_pool2d(X, 0), ValueError, "output_size"),
        (lambda: pooling.adaptive_max_pool2d(X, (2, -1)), ValueError, "output_size"),
        (lambda: pooling.adaptive_pool_ranges(0, 3), ValueError, "size"),
        (lambda: pooling.global_avg_pool2d(np.zeros(3)), ValueError, "x"),
        (
            lambda: pooling.max_pool2d_backward(np.ones((1, 1, 3, 3)), X, 2),
            ValueError,
            "grad_output",
        ),
        (lambda: pooling.avg_pool2d_backward(np.ones((1, 1, 2)), X, 2), ValueError, "grad_output"),
        (
            lambda: pooling.adaptive_avg_pool2d_backward(np.ones((1, 2, 2, 2)), X),
            ValueError,
            "grad_output",
        ),
    ],
)
def test_bad_inputs_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_defaults_and_dtypes_of_every_entry_point_match_torch():
    """Each function called with only its required arguments behaves like torch's defaults
    (ceil_mode=False, count_include_pad=True), keeps float32, gives int64 indices, and takes an
    unbatched (C, H, W) input back to (C, ...)."""
    x = np.random.default_rng(3).normal(size=(2, 5, 5)).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    y_ref, i_ref = F.max_pool2d(xt, 2, return_indices=True)
    for fn in (pooling.max_pool2d_naive, pooling.max_pool2d):
        y, idx = fn(x, 2, return_indices=True)
        assert y.dtype == np.float32 and idx.dtype == np.int64, fn.__name__
        assert y.shape == idx.shape == (2, 2, 2), fn.__name__
        np.testing.assert_array_equal(y, y_ref.detach().numpy())
        np.testing.assert_array_equal(idx, i_ref.numpy())
    assert pooling.max_pool2d_naive(x, 2).shape == (2, 2, 2)
    # avg_pool2d_backward's default count_include_pad=True, with padding where it matters
    F.avg_pool2d(xt, 3, 2, 1).sum().backward()
    np.testing.assert_allclose(
        pooling.avg_pool2d_backward(np.ones((2, 3, 3)), x, 3, 2, 1), xt.grad.numpy(), rtol=1e-6
    )
    for fn, ref in (
        (pooling.global_avg_pool2d, F.adaptive_avg_pool2d(xt, 1)),
        (pooling.global_max_pool2d, F.adaptive_max_pool2d(xt, 1)),
    ):
        out = fn(x)
        assert out.shape == (2, 1, 1) and out.dtype == np.float32, fn.__name__
        np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "x_dtype, g_dtype, expected",
    [
        (np.float32, np.float32, np.float32),
        (np.float64, np.float32, np.float64),
        (np.float32, np.float64, np.float64),
    ],
)
def test_backward_dtype_is_the_promotion_of_input_and_gradient(x_dtype, g_dtype, expected):
    """dx has numpy's promoted dtype of x and grad_output (torch would refuse mixed dtypes)."""
    x = np.random.default_rng(4).normal(size=(1, 2, 6, 6)).astype(x_dtype)
    for name, backward, out_shape, args in (
        ("max", pooling.max_pool2d_backward, (1, 2, 3, 3), (2,)),
        ("avg", pooling.avg_pool2d_backward, (1, 2, 3, 3), (3, 2, 1)),
        ("adaptive avg", pooling.adaptive_avg_pool2d_backward, (1, 2, 4, 4), ()),
        ("adaptive max", pooling.adaptive_max_pool2d_backward, (1, 2, 4, 4), ()),
    ):
        g = np.ones(out_shape, dtype=g_dtype)
        dx = backward(g, x, *args)
        assert dx.shape == x.shape and dx.dtype == expected, (name, dx.dtype)


def test_unbatched_backward_of_every_pooling():
    x = np.random.default_rng(5).normal(size=(2, 6, 6))
    for backward, g_shape, args in (
        (pooling.max_pool2d_backward, (2, 3, 3), (2,)),
        (pooling.avg_pool2d_backward, (2, 3, 3), (3, 2, 1)),
        (pooling.adaptive_avg_pool2d_backward, (2, 4, 4), ()),
        (pooling.adaptive_max_pool2d_backward, (2, 4, 4), ()),
    ):
        g = np.random.default_rng(6).normal(size=g_shape)
        dx = backward(g, x, *args)
        batched = backward(g[None], x[None], *args)
        assert dx.shape == x.shape, backward.__name__
        np.testing.assert_array_equal(dx, batched[0])


@pytest.mark.parametrize("fn", [pooling.max_pool2d, pooling.max_pool2d_naive])
def test_return_indices_must_be_a_bool(fn):
    with pytest.raises(
        TypeError, match=r"^return_indices must be True or False, got .yes. \(str\)$"
    ):
        fn(ARANGE_4X4, 2, return_indices="yes")


def test_adaptive_return_indices_must_be_a_bool():
    with pytest.raises(
        TypeError, match=r"^return_indices must be True or False, got .yes. \(str\)$"
    ):
        pooling.adaptive_max_pool2d(ARANGE_4X4, 2, return_indices="yes")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adaptive_avg_pool2d_with_inf_gives_no_warning(dtype):
    """0 * inf in the matrix form is expected and handled; it must not warn the student."""
    x = np.ones((1, 1, 5, 5), dtype=dtype)
    x[0, 0, 1, 1] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = pooling.adaptive_avg_pool2d(x, 2)
    np.testing.assert_array_equal(y, F.adaptive_avg_pool2d(torch.tensor(x), 2).numpy())


def test_unbatched_adaptive_max_with_indices():
    x = np.random.default_rng(7).normal(size=(2, 7, 5))
    y, idx = pooling.adaptive_max_pool2d(x, (3, 2), return_indices=True)
    y_ref, i_ref = F.adaptive_max_pool2d(torch.tensor(x), (3, 2), return_indices=True)
    assert y.shape == idx.shape == (2, 3, 2)
    np.testing.assert_array_equal(y, y_ref.numpy())
    np.testing.assert_array_equal(idx, i_ref.numpy())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: pooling.adaptive_avg_pool2d(X_1244, 0), "output_size must be >= 1, got 0"),
        (lambda: pooling.adaptive_max_pool2d(X_1244, (2, 0)), "output_size[1] must be >= 1, got 0"),
        (
            lambda: pooling.adaptive_avg_pool2d_backward(np.ones((1, 2, 0, 2)), X_1244),
            "grad_output must have shape (N, C, out_h, out_w) = (1, 2, >=1, >=1) to match x of "
            "shape (1, 2, 4, 4), got (1, 2, 0, 2)",
        ),
        (
            lambda: pooling.adaptive_max_pool2d_backward(np.ones((1, 3, 2, 2)), X_1244),
            "grad_output must have shape (N, C, out_h, out_w) = (1, 2, >=1, >=1) to match x of "
            "shape (1, 2, 4, 4), got (1, 3, 2, 2)",
        ),
        (
            lambda: pooling.adaptive_max_pool2d_backward(np.ones((2, 2)), X_1244),
            "grad_output must have 3 or 4 dimensions, got shape (2, 2)",
        ),
    ],
)
def test_adaptive_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


X_1244 = np.ones((1, 2, 4, 4))


@pytest.mark.parametrize("output_size", [(3, None), (None, 2)])
def test_adaptive_none_keeps_that_input_dimension(output_size):
    x = np.random.default_rng(8).normal(size=(1, 2, 5, 7))
    xt = torch.tensor(x)
    np.testing.assert_allclose(
        pooling.adaptive_avg_pool2d(x, output_size), F.adaptive_avg_pool2d(xt, output_size).numpy()
    )
    y, idx = pooling.adaptive_max_pool2d(x, output_size, return_indices=True)
    y_ref, i_ref = F.adaptive_max_pool2d(xt, output_size, return_indices=True)
    np.testing.assert_array_equal(y, y_ref.numpy())
    np.testing.assert_array_equal(idx, i_ref.numpy())


def _first_nan_index(x, cfg, n, c, i, j):
    """Brute force: flat index of the first NaN of window (i, j) in row-major order, or None."""
    (kh, kw), (ph, pw), (dh, dw) = cfg["kernel_size"], cfg["padding"], cfg["dilation"]
    sh, sw = cfg["stride"] or cfg["kernel_size"]
    h, w = x.shape[2:]
    for a in range(kh):
        for b in range(kw):
            r, q = i * sh - ph + a * dh, j * sw - pw + b * dw
            if 0 <= r < h and 0 <= q < w and np.isnan(x[n, c, r, q]):
                return r * w + q
    return None


@settings(max_examples=60)
@given(cfg=pool_configs(), seed=st.integers(0, 2**31), nan_share=st.sampled_from([0.1, 0.3, 0.7]))
def test_max_pool2d_with_nans_propagates_and_points_at_the_first_nan(cfg, seed, nan_share):
    """A window with a NaN outputs NaN, as in torch; its index is the window's *first* NaN in
    row-major order (the module docstring's rule; torch's CPU kernel reports the last one).
    Windows without a NaN match torch's values and indices."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=cfg["shape"])
    x[rng.random(x.shape) < nan_share] = np.nan
    args = {k: v for k, v in cfg.items() if k != "shape"}
    ref = _torch_or_none(F.max_pool2d, torch.tensor(x), return_indices=True, **args)
    if ref is None:
        return
    y_ref, i_ref = ref[0].numpy(), ref[1].numpy()
    for fn in (pooling.max_pool2d, pooling.max_pool2d_naive):
        y, idx = fn(x, return_indices=True, **args)
        np.testing.assert_array_equal(y, y_ref)  # NaN == NaN for assert_array_equal
        for n, c, i, j in np.ndindex(*y.shape):
            if idx[n, c, i, j] == -1:  # a window entirely in padding (tested elsewhere)
                continue
            first = _first_nan_index(x, cfg, n, c, i, j)
            expected = i_ref[n, c, i, j] if first is None else first
            assert idx[n, c, i, j] == expected, (fn.__name__, (n, c, i, j))


def test_avg_pool2d_accumulates_in_at_least_float64():
    """Window sums are taken in float64 (longdouble stays longdouble), then cast back: a float32
    window 1e8, 1, -1e8 averages to 1/3, where float32 sums (torch's CPU kernel) give 0."""
    x = np.array([1e8, 1, -1e8], dtype=np.float32).reshape(1, 1, 1, 3)
    y = pooling.avg_pool2d(x, (1, 3))
    assert y.dtype == np.float32 and y[0, 0, 0, 0] == np.float32(1 / 3)
    tiny = np.longdouble(2) ** -60  # lost next to 1 in float64, kept in 80-bit longdouble
    xl = np.array([1, tiny, 0], dtype=np.longdouble).reshape(1, 1, 1, 3)
    yl = pooling.avg_pool2d(xl, (1, 3))
    assert yl.dtype == np.longdouble
    if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps:  # platforms with a real longdouble
        assert yl[0, 0, 0, 0] * 3 - 1 == tiny


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: pooling.adaptive_pool_ranges(5, 0), ValueError, "output_size must be >= 1, got 0"),
        (lambda: pooling.adaptive_pool_ranges(0, 2), ValueError, "size must be >= 1, got 0"),
        (
            lambda: pooling.avg_pool2d(ARANGE_4X4, 2, count_include_pad=1),
            TypeError,
            "count_include_pad must be True or False, got 1 (int)",
        ),
        (
            lambda: pooling.avg_pool2d_backward(
                np.ones((1, 1, 2, 2)), ARANGE_4X4, 2, count_include_pad=1
            ),
            TypeError,
            "count_include_pad must be True or False, got 1 (int)",
        ),
    ],
)
def test_more_messages_are_exact(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message


X_1145 = np.ones((1, 1, 4, 5))


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: pooling.max_pool2d(np.ones((4, 4)), 2),
            "x must have 3 or 4 dimensions, got shape (4, 4)",
        ),
        (lambda: pooling.max_pool2d(X_1145, 0), "kernel_size must be >= 1, got 0"),
        (lambda: pooling.avg_pool2d(X_1145, 2, padding=-1), "padding must be >= 0, got -1"),
        (lambda: pooling.max_pool2d(X_1145, 2, dilation=(1, 0)), "dilation[1] must be >= 1, got 0"),
        (
            lambda: pooling.max_pool2d(X_1145, (5, 1)),
            "pooling over the height of x (shape (1, 1, 4, 5)): kernel_size 5 (dilated to 5) does not "
            "fit the padded input 4 + 2*0 = 4: floor((4 + 2*0 - 5) / 5) + 1 = 0 outputs (need >= 1)",
        ),
        (
            lambda: pooling.avg_pool2d(X_1145, (1, 6)),
            "pooling over the width of x (shape (1, 1, 4, 5)): kernel_size 6 (dilated to 6) does not "
            "fit the padded input 5 + 2*0 = 5: floor((5 + 2*0 - 6) / 6) + 1 = 0 outputs (need >= 1)",
        ),
        (
            lambda: pooling.max_pool2d(np.ones((1, 0, 4, 4)), 2),
            "x must have non-zero channels, height and width, got shape (1, 0, 4, 4)",
        ),
    ],
)
def test_pooling_argument_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_an_empty_batch_is_allowed_like_torch():
    x = np.ones((0, 2, 4, 4))
    for ours, ref in (
        (pooling.max_pool2d(x, 2), F.max_pool2d(torch.tensor(x), 2)),
        (pooling.avg_pool2d(x, 2), F.avg_pool2d(torch.tensor(x), 2)),
        (pooling.adaptive_avg_pool2d(x, 3), F.adaptive_avg_pool2d(torch.tensor(x), 3)),
    ):
        assert ours.shape == tuple(ref.shape) == (0, 2) + tuple(ref.shape[2:])


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: pooling.max_pool2d_backward(np.ones((2, 2)), np.ones((1, 2, 4, 4)), 2),
            "grad_output must have 3 or 4 dimensions, got shape (2, 2)",
        ),
        (
            lambda: pooling.avg_pool2d_backward(np.ones((1, 2, 3, 2)), np.ones((1, 2, 4, 4)), 2),
            "grad_output must have the forward output's shape (1, 2, 2, 2), got (1, 2, 3, 2)",
        ),
    ],
)
def test_backward_grad_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_adaptive_avg_backward_weights_are_in_the_promoted_dtype():
    """A float64 gradient through a float32 input is spread with float64 weights (1/3 is not
    rounded to float32): the same numbers as for a float64 input."""
    g = np.random.default_rng(9).normal(size=(1, 1, 3, 3))
    x64 = np.zeros((1, 1, 9, 9))
    dx32 = pooling.adaptive_avg_pool2d_backward(g, x64.astype(np.float32))
    assert dx32.dtype == np.float64
    np.testing.assert_array_equal(dx32, pooling.adaptive_avg_pool2d_backward(g, x64))
