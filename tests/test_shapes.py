"""Proofs for cnncourse.shapes (and cnncourse.tracer, which reads the same numbers off a model).

The property tests run a tiny 1-channel tensor through ``torch.nn.functional`` with random
configurations and require the library to give the same size, or to reject exactly the
configurations PyTorch rejects. The tracer's rows are checked against real forward passes and
against the formulas of ``shapes``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnncourse import shapes, tracer

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # thousands of tiny torch ops


# --------------------------------------------------------------------------------------------
# helpers: what PyTorch says (None when PyTorch rejects the configuration)
# --------------------------------------------------------------------------------------------

_WEIGHTS: dict[int, torch.Tensor] = {}


def _weight(k: int) -> torch.Tensor:
    # 1x1xkx1 kernels: the height axis carries the configuration, the width stays 1
    if k not in _WEIGHTS:
        _WEIGHTS[k] = torch.ones(1, 1, k, 1)
    return _WEIGHTS[k]


def _ramp(k: int) -> torch.Tensor:
    # distinct integer taps, so a shifted output cannot match by accident (exact in float32)
    return torch.arange(1.0, k + 1).reshape(1, 1, k, 1) ** 2


def torch_conv_size(n, k, s, p, d):
    x = torch.zeros(1, 1, n, 1)
    pad = p if isinstance(p, str) else (p, 0)
    try:
        return F.conv2d(x, _weight(k), stride=(s, 1), padding=pad, dilation=(d, 1)).shape[2]
    except (RuntimeError, ValueError):
        return None


def torch_pool_size(n, k, s, p, d, ceil_mode):
    x = torch.zeros(1, 1, n, 1)
    try:
        y = F.max_pool2d(
            x, (k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1), ceil_mode=ceil_mode
        )
        return y.shape[2]
    except (RuntimeError, ValueError):
        return None


def torch_avg_pool_size(n, k, s, p, ceil_mode):
    x = torch.zeros(1, 1, n, 1)
    try:
        return F.avg_pool2d(x, (k, 1), stride=(s, 1), padding=(p, 0), ceil_mode=ceil_mode).shape[2]
    except (RuntimeError, ValueError):
        return None


def torch_conv_transpose_size(n, k, s, p, op, d):
    x = torch.zeros(1, 1, n, 1)
    try:
        y = F.conv_transpose2d(
            x, _weight(k), stride=(s, 1), padding=(p, 0), output_padding=(op, 0),
            dilation=(d, 1),
        )  # fmt: skip
        return y.shape[2]
    except (RuntimeError, ValueError):
        return None


def ours(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# size functions vs PyTorch (property tests)
# --------------------------------------------------------------------------------------------

sizes = st.integers(1, 24)
kernels = st.integers(1, 9)
strides = st.integers(1, 5)
dilations = st.integers(1, 4)


@settings(max_examples=1000, deadline=None)
@given(n=sizes, k=kernels, s=strides, p=st.integers(0, 6), d=dilations)
def test_conv_output_size_matches_torch(n, k, s, p, d):
    assert ours(shapes.conv_output_size, n, k, s, p, d) == torch_conv_size(n, k, s, p, d)


@settings(max_examples=500, deadline=None)
@given(n=sizes, k=kernels, s=strides, p=st.integers(0, 6), d=dilations)
def test_conv_output_terms_is_the_numerator_and_never_raises(n, k, s, p, d):
    numerator = shapes.conv_output_terms(n, k, s, p, d)
    assert numerator == n + 2 * p - d * (k - 1) - 1
    size = ours(shapes.conv_output_size, n, k, s, p, d)
    assert size == (numerator // s + 1 if numerator >= 0 else None)
    if size is not None:  # the last numerator % s padded cells are never read
        usage = shapes.pixel_usage(n, k, s, p, d, include_padding=True)
        assert not usage[len(usage) - numerator % s :].any()
        assert usage[len(usage) - numerator % s - 1] > 0


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@settings(max_examples=1000, deadline=None)
@given(n=sizes, k=kernels, s=strides, d=dilations, padding=st.sampled_from(["same", "valid"]))
def test_conv_output_size_string_padding_matches_torch(n, k, s, d, padding):
    assert ours(shapes.conv_output_size, n, k, s, padding, d) == torch_conv_size(
        n, k, s, padding, d
    )


@settings(max_examples=1000, deadline=None)
@given(
    n=st.integers(1, 40),
    k=kernels,
    s=st.one_of(st.none(), strides),
    p=st.integers(0, 3),
    d=dilations,
    ceil_mode=st.booleans(),
)
def test_pool_output_size_matches_torch_max_pool(n, k, s, p, d, ceil_mode):
    want = torch_pool_size(n, k, k if s is None else s, p, d, ceil_mode)
    assert ours(shapes.pool_output_size, n, k, s, p, d, ceil_mode) == want


@settings(max_examples=1000, deadline=None)
@given(n=sizes, k=kernels, s=strides, p=st.integers(0, 3), ceil_mode=st.booleans())
def test_pool_output_size_matches_torch_avg_pool(n, k, s, p, ceil_mode):
    want = torch_avg_pool_size(n, k, s, p, ceil_mode)
    assert ours(shapes.pool_output_size, n, k, s, p, 1, ceil_mode) == want


@settings(max_examples=1000, deadline=None)
@given(n=sizes, k=kernels, s=strides, p=st.integers(0, 8), op=st.integers(0, 3), d=dilations)
def test_conv_transpose_output_size_matches_torch(n, k, s, p, op, d):
    want = torch_conv_transpose_size(n, k, s, p, op, d)
    assert ours(shapes.conv_transpose_output_size, n, k, s, p, op, d) == want


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@settings(max_examples=1000, deadline=None)
@given(n=st.integers(1, 40), k=kernels, s=strides, d=dilations)
def test_same_padding_gives_ceil_n_over_s_with_least_padding(n, k, s, d):
    before, after = shapes.same_padding(n, k, s, d)
    assert after - before in (0, 1)
    x = F.pad(torch.zeros(1, 1, n, 1), (0, 0, before, after))
    out = F.conv2d(x, _weight(k), stride=(s, 1), dilation=(d, 1)).shape[2]
    assert out == math.ceil(n / s)
    if before + after > 0:  # one cell less and the output would be shorter
        assert torch_conv_size(n + before + after - 1, k, s, 0, d) in (None, out - 1)
    if s == 1:  # equals torch's own padding='same' (same split: the output matches exactly)
        signal = torch.arange(1.0, n + 1).reshape(1, 1, n, 1)
        w = _ramp(k)
        ref = F.conv2d(signal, w, padding="same", dilation=(d, 1))
        mine = F.conv2d(F.pad(signal, (0, 0, before, after)), w, dilation=(d, 1))
        assert torch.equal(mine, ref)


@settings(max_examples=500, deadline=None)
@given(n=sizes, k=kernels, s=strides, p=st.integers(0, 4), d=dilations, pad=st.booleans())
def test_pixel_usage_is_the_gradient_of_the_output_sum(n, k, s, p, d, pad):
    """With an all-ones kernel, d(sum of outputs)/d(cell) counts the windows reading the cell."""
    if torch_conv_size(n, k, s, p, d) is None:
        with pytest.raises(ValueError, match="kernel_size"):
            shapes.pixel_usage(n, k, s, p, d)
        return
    x = torch.zeros(1, 1, n, 1, requires_grad=True)
    xp = F.pad(x, (0, 0, p, p)) if pad else x
    xp.retain_grad()
    y = F.conv2d(xp, _weight(k), stride=(s, 1), padding=(0 if pad else p, 0), dilation=(d, 1))
    y.sum().backward()
    want = (xp.grad if pad else x.grad)[0, 0, :, 0].to(torch.int64).numpy()
    got = shapes.pixel_usage(n, k, s, p, d, include_padding=pad)
    assert got.tolist() == want.tolist()


def test_pixel_usage_tables_from_the_sources():
    assert shapes.pixel_usage(3, 2).tolist() == [1, 2, 1]
    assert shapes.pixel_usage(5, 3).tolist() == [1, 2, 3, 2, 1]
    assert shapes.pixel_usage(5, 3, padding=1).tolist() == [2, 3, 3, 3, 2]
    assert shapes.pixel_usage(6, 2, stride=3).tolist() == [1, 1, 0, 1, 1, 0]


# --------------------------------------------------------------------------------------------
# worked examples and error messages
# --------------------------------------------------------------------------------------------


def test_worked_examples_from_the_sources():
    # book-004 L2728-2772 and the stride-2 counterexample to "same keeps H for any stride"
    assert shapes.conv_output_size(32, 3, stride=2) == 15
    assert shapes.conv_output_size(32, 5, stride=1, padding=2) == 32
    assert shapes.conv_output_size(5, 3) == 3
    assert shapes.conv_output_size(5, 3, padding=1) == 5
    assert shapes.conv_output_size(32, 3, stride=2, padding=1) == 16
    assert shapes.same_padding(6, 3, stride=2) == (0, 1)
    assert shapes.pool_output_size(112, 3, 2) == 55
    assert shapes.pool_output_size(112, 3, 2, ceil_mode=True) == 56
    assert shapes.conv_transpose_output_size(16, 3, stride=2, padding=1, output_padding=1) == 32


def test_errors_speak_the_formula():
    with pytest.raises(
        ValueError,
        match=r"kernel_size 7 \(dilated to 7\) is larger than the padded input 5 \+ 2\*0 = 5",
    ):  # noqa: E501
        shapes.conv_output_size(5, 7)
    with pytest.raises(ValueError, match=r"kernel_size 3 \(dilated to 9\)"):
        shapes.conv_output_size(5, 3, dilation=4)
    with pytest.raises(ValueError, match="padding='same' needs stride=1"):
        shapes.conv_output_size(6, 3, stride=2, padding="same")
    with pytest.raises(
        ValueError, match=r"padding 2 must be at most half the kernel_size: 3 // 2 = 1"
    ):  # noqa: E501
        shapes.pool_output_size(5, 3, padding=2)
    with pytest.raises(ValueError, match="output_padding 2 must be smaller than stride 2"):
        shapes.conv_transpose_output_size(3, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding 3 removes the whole output"):
        shapes.conv_transpose_output_size(1, 3, padding=3)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: shapes.conv_output_size(0, 3), "size"),
        (lambda: shapes.conv_output_size(5, 0), "kernel_size"),
        (lambda: shapes.conv_output_size(5, 3, stride=0), "stride"),
        (lambda: shapes.conv_output_size(5, 3, padding=-1), "padding"),
        (lambda: shapes.conv_output_size(5, 3, padding="full"), "padding"),
        (lambda: shapes.conv_output_size(5, 3, dilation=0), "dilation"),
        (lambda: shapes.pool_output_size(5, 2, stride=0), "stride"),
        (lambda: shapes.conv_transpose_output_size(5, 3, output_padding=-1), "output_padding"),
        (lambda: shapes.same_padding(5, 3, stride=0), "stride"),
        (lambda: shapes.receptive_field([(3, 0)]), "stride"),
        (lambda: shapes.receptive_field([(3,)]), r"layers\[0\]"),
        (lambda: shapes.conv_parameters(3, 8, 3, groups=2), "groups"),
        (lambda: tracer.trace(nn.Linear(3, 4), (1, 0)), r"input_shape\[1\]"),
        (lambda: shapes.conv_output_terms(5, 3, padding=-1), "padding"),
    ],
)
def test_bad_values_raise_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: shapes.conv_output_size(5.0, 3), "size"),
        (lambda: shapes.conv_output_size(5, True), "kernel_size"),
        (lambda: shapes.pool_output_size(5, 2, ceil_mode=1), "ceil_mode"),
        (lambda: shapes.count_parameters("model"), "module"),
        (lambda: tracer.trace(nn.Linear(3, 4), "1x3"), "input_shape"),
        (lambda: tracer.trace("model", (1, 3)), "module"),
        (lambda: shapes.conv_output_terms(5, 3, padding="same"), "padding"),
        (lambda: shapes.receptive_field([object()]), r"layers\[0\]"),
    ],
)
def test_bad_types_raise_type_error_naming_the_argument(call, name):
    with pytest.raises(TypeError, match=name):
        call()


# --------------------------------------------------------------------------------------------
# receptive field vs gradients
# --------------------------------------------------------------------------------------------

layer_specs = st.lists(
    st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3)),
    min_size=1,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(layers=layer_specs)
def test_receptive_field_matches_the_gradient_footprint(layers):
    """The input cells with a nonzero gradient for one output cell are exactly its RF."""
    specs = [dict(kernel_size=k, stride=s, padding=p, dilation=d) for k, s, p, d in layers]
    rf = shapes.receptive_field(specs)[-1]
    n = rf.size + 4 * rf.jump + 2 * sum(p for _, _, p, _ in layers) * rf.jump + 8
    x = torch.zeros(1, 1, n, 1, requires_grad=True)
    y = x
    for k, s, p, d in layers:
        y = F.conv2d(y, _weight(k), stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    i = y.shape[2] // 2  # a middle cell: its footprint stays clear of the borders
    y[0, 0, i, 0].backward()
    hit = torch.nonzero(x.grad[0, 0, :, 0]).flatten()
    lo, hi = hit.min().item(), hit.max().item()
    assert 0 < lo and hi < n - 1
    # all-ones kernels: the first and last taps always reach, so the extent is the RF
    centre = rf.start + i * rf.jump
    assert (lo, hi) == (centre - (rf.size - 1) / 2, centre + (rf.size - 1) / 2)
    assert rf.jump == math.prod(s for _, s, _, _ in layers)


def test_receptive_field_dense_footprint_is_exact():
    # dense stack: 3x3 conv, 2x2 pool, 3x3 conv, 2x2 pool -> RF 10, jump 4
    layers = [(3, 1), (2, 2), (3, 1), (2, 2)]
    rf = shapes.receptive_field(layers)
    assert [r.size for r in rf] == [3, 4, 8, 10]
    assert [r.jump for r in rf] == [1, 2, 2, 4]
    x = torch.zeros(1, 1, 40, 1, requires_grad=True)
    y = x
    for k, s in layers:
        y = F.conv2d(y, _weight(k), stride=(s, 1))
    y[0, 0, 3, 0].backward()
    hit = torch.nonzero(x.grad[0, 0, :, 0]).flatten()
    assert hit.max().item() - hit.min().item() + 1 == rf[-1].size
    assert (hit.min().item() + hit.max().item()) / 2 == rf[-1].start + 3 * rf[-1].jump


def test_receptive_field_vgg16_conv5_3_is_196():
    block = [(3, 1)] * 2 + [(2, 2)] + [(3, 1)] * 2 + [(2, 2)]
    block += ([(3, 1)] * 3 + [(2, 2)]) * 2 + [(3, 1)] * 3
    # no padding: the window of output cell 0 starts at pixel 0, so its centre is 195/2
    assert shapes.receptive_field(block)[-1] == shapes.ReceptiveField(196, 16, 97.5)
    # VGG's padding=1 convolutions: only the pools shift the centre, by 0.5 * jump each
    padded = [dict(kernel_size=k, stride=s, padding=1 if k == 3 else 0) for k, s in block]
    assert shapes.receptive_field(padded)[-1] == shapes.ReceptiveField(196, 16, 7.5)


def test_receptive_field_accepts_modules_and_same_padding():
    stem = [nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.MaxPool2d(3, 2, padding=1)]
    assert shapes.receptive_field(stem) == [(7, 2, 0.0), (11, 4, 0.0)]
    # torch's 'same' for k=4 pads 1 before, 2 after: cell 0 covers pixels -1..2, centre 0.5
    assert shapes.receptive_field([dict(kernel_size=4, padding="same")]) == [(4, 1, 0.5)]


# --------------------------------------------------------------------------------------------
# parameters, mult-adds, tracer.trace
# --------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 4),
    groups=st.integers(1, 2),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    bias=st.booleans(),
)
def test_conv_parameters_match_torch(c_in, c_out, groups, kh, kw, bias):
    c_in, c_out = c_in * groups, c_out * groups
    layer = nn.Conv2d(c_in, c_out, (kh, kw), groups=groups, bias=bias)
    want = sum(p.numel() for p in layer.parameters())
    assert shapes.conv_parameters(c_in, c_out, (kh, kw), groups=groups, bias=bias) == want
    assert shapes.count_parameters(layer) == want


def test_linear_parameters_and_mult_adds():
    assert shapes.linear_parameters(400, 120) == nn.Linear(400, 120).weight.numel() + 120
    assert shapes.linear_parameters(400, 120, bias=False) == 48000
    assert shapes.linear_mult_adds(400, 120) == 48000
    assert shapes.conv_mult_adds(3, 8, 5, 28) == 8 * 28 * 28 * 3 * 25


def test_count_parameters_shared_and_frozen():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    assert shapes.count_parameters(model) == 20 + 10
    model[3].weight.requires_grad_(False)
    assert shapes.count_parameters(model, trainable_only=True) == 20 + 2


class _Nested(nn.Module):
    """A custom module with a nested block, a functional flatten and a residual add."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.block(x)
        x = self.pool(x)
        return self.head(torch.flatten(x, 1))


def test_trace_nested_module_rows_shapes_and_rf():
    model = _Nested()
    model.train()
    table = tracer.trace(model, (2, 1, 8, 8))
    assert model.training and model.stem[1].training  # modes restored
    assert [r.name for r in table] == [
        "stem.0", "stem.1", "stem.2", "block.0", "block.1", "pool", "head"
    ]  # fmt: skip
    assert [r.output_shape for r in table] == [
        (2, 4, 8, 8), (2, 4, 8, 8), (2, 4, 8, 8), (2, 4, 8, 8), (2, 4, 8, 8), (2, 4, 4, 4),
        (2, 3),
    ]  # fmt: skip
    assert [r.receptive_field for r in table] == [
        (3, 3),
        (3, 3),
        (3, 3),
        (5, 5),
        (5, 5),
        (6, 6),
        None,
    ]  # fmt: skip  (the residual sum's field is the union of 3 and 5; the 2x2 pool adds 1)
    assert sum(r.parameters for r in table) == shapes.count_parameters(model)
    assert table[0].mult_adds == 2 * shapes.conv_mult_adds(1, 4, 3, 8)
    assert table[-1].mult_adds == 2 * shapes.linear_mult_adds(64, 3)
    assert table[5].mult_adds == 2 * 4 * 4 * 4 * 4
    assert table[5].activations == 2 * 4 * 4 * 4
    # the total papers quote: convolutions and linear layers, not the pooling's window reads
    assert table.mult_adds == 2 * (
        shapes.conv_mult_adds(1, 4, 3, 8) + shapes.conv_mult_adds(4, 4, 3, 8)
        + shapes.linear_mult_adds(64, 3)
    )  # fmt: skip


def test_trace_counts_transposed_convolutions_per_input_value():
    up = nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), nn.MaxPool2d(2))
    table = tracer.trace(up, torch.zeros(1, 4, 5, 5))  # a tensor is traced as is
    assert table[0].output_shape == (1, 6, shapes.conv_transpose_output_size(5, 3, 2), 11)
    assert table[0].mult_adds == 4 * 5 * 5 * (6 // 2) * 3 * 3  # each input scattered k*k times
    assert table.mult_adds == table[0].mult_adds and table[1].mult_adds == 6 * 5 * 5 * 4
    assert table[0].receptive_field is None  # undefined after a transposed convolution


def test_trace_rf_agrees_with_receptive_field_and_torch_shapes():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 7, stride=2, padding=3),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, padding=1),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, dilation=1), nn.ReLU()),
        nn.Conv2d(8, 8, (3, 5), padding="same", dilation=2),
        nn.AvgPool2d(2, ceil_mode=True),
    )
    table = tracer.trace(model, (1, 3, 37, 45))
    y = torch.zeros(1, 3, 37, 45)
    leaves = [m for m in model.modules() if not list(m.children())]
    for row, layer in zip(table, leaves, strict=True):
        y = layer.eval()(y)
        assert row.output_shape == tuple(y.shape)
    spatial = [model[0], model[3], model[4][0], model[5], model[6]]
    rf_h = shapes.receptive_field(spatial, axis=0)
    rf_w = shapes.receptive_field(spatial, axis=1)
    assert table[-1].receptive_field == (rf_h[-1].size, rf_w[-1].size)
    assert table[-1].jump == (rf_h[-1].jump, rf_w[-1].jump)
    # the heights follow the 1-D formulas
    h = shapes.conv_output_size(37, 7, 2, 3)
    h = shapes.pool_output_size(h, 3, 2, 1)
    h = shapes.conv_output_size(h, 3, 1, 1)
    h = shapes.pool_output_size(h, 2, ceil_mode=True)
    assert table[-1].output_shape[2] == h


def test_trace_table_printouts():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    table = tracer.trace(model, (1, 1, 4, 4))
    text = str(table)
    assert "Conv2d" in text and "[1, 2, 2, 2]" in text and "total parameters: 38" in text
    assert "<table" in table._repr_html_() and "Linear" in table._repr_html_()
    dicts = table.to_dicts()
    assert dicts[0]["output_shape"] == (1, 2, 2, 2) and dicts[2]["parameters"] == 18
    assert table.total_parameters == 38


def test_trace_reports_model_errors_as_value_error():
    with pytest.raises(ValueError, match=r"rejects input_shape \(1, 1, 2, 2\)"):
        tracer.trace(nn.Conv2d(1, 1, 5), (1, 1, 2, 2))


# --------------------------------------------------------------------------- exact messages
# (mutation testing: each message names the argument and shows the arithmetic it refused)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: shapes.conv_output_size(3, 7, padding=1),
            ValueError,
            "kernel_size 7 (dilated to 7) is larger than the padded input 3 + 2*1 = 5: the window "
            "d(k-1)+1 = 7 must fit in n + 2p",
        ),
        (
            lambda: shapes.conv_output_size(5, 3, padding="full"),
            ValueError,
            "padding must be one of 'valid', 'same'; got 'full'",
        ),
        (
            lambda: shapes.pool_output_size(5, 3, padding=-1),
            ValueError,
            "padding must be >= 0, got -1",
        ),
        (
            lambda: shapes.pool_output_size(5, 3, ceil_mode=1),
            TypeError,
            "ceil_mode must be True or False, got 1 (int)",
        ),
        (
            lambda: shapes.pool_output_size(7, 5, padding=3),
            ValueError,
            "padding 3 must be at most half the kernel_size: 5 // 2 = 2 (PyTorch's pooling rule, "
            "so every window overlaps the input)",
        ),
        (
            lambda: shapes.pool_output_size(2, 5, padding=1),
            ValueError,
            "kernel_size 5 (dilated to 5) does not fit the padded input 2 + 2*1 = 4: "
            "floor((2 + 2*1 - 5) / 5) + 1 = 0 outputs (need >= 1)",
        ),
        (
            lambda: shapes.pool_output_size(2, 5, stride=1, ceil_mode=True),
            ValueError,
            "kernel_size 5 (dilated to 5) does not fit the padded input 2 + 2*0 = 2: "
            "ceil((2 + 2*0 - 5) / 1) + 1 = -2 outputs (need >= 1)",
        ),
        (
            lambda: shapes.receptive_field([(3, 1)], axis=-1),
            ValueError,
            "axis must be >= 0, got -1",
        ),
        (
            lambda: shapes.receptive_field(5),
            TypeError,
            "layers must be a list of layer specs, got int",
        ),
    ],
)
def test_shape_messages_are_exact(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_receptive_field_default_axis_is_the_height():
    layer = nn.Conv2d(1, 1, (3, 5))  # 3 rows, 5 columns
    assert shapes.receptive_field([layer])[0].size == 3
    assert shapes.receptive_field([layer], axis=1)[0].size == 5


@given(k=st.integers(1, 9), d=st.integers(1, 5), n=st.integers(1, 60))
def test_effective_kernel_size_is_the_span_of_the_taps(k, d, n):
    """d*(k-1) + 1 cells from the first tap to the last; with stride 1 and no padding a
    dilated kernel fits n - span + 1 times, as torch computes."""
    span = shapes.effective_kernel_size(k, d)
    taps = [t * d for t in range(k)]
    assert span == taps[-1] - taps[0] + 1
    if n >= span:
        out = F.conv2d(torch.zeros(1, 1, 1, n), torch.zeros(1, 1, 1, k), dilation=(1, d))
        assert out.shape[-1] == n - span + 1 == shapes.conv_output_size(n, k, 1, 0, d)


def test_effective_kernel_size_default_and_messages():
    assert shapes.effective_kernel_size(3) == 3 and shapes.effective_kernel_size(3, 2) == 5
    for args, message in (
        ((0,), "kernel_size must be >= 1, got 0"),
        ((3, 0), "dilation must be >= 1, got 0"),
    ):
        with pytest.raises(ValueError) as err:
            shapes.effective_kernel_size(*args)
        assert str(err.value) == message


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: shapes.conv_parameters(3, 4, 3, groups=0), "groups must be >= 1, got 0"),
        (lambda: shapes.conv_mult_adds(3, 0, 3, (4, 4)), "out_channels must be >= 1, got 0"),
        (lambda: shapes.conv_mult_adds(3, 4, 0, (4, 4)), "kernel_size must be >= 1, got 0"),
        (lambda: shapes.conv_mult_adds(0, 4, 3, (4, 4)), "in_channels must be >= 1, got 0"),
        (
            lambda: shapes.receptive_field([(3, 1, 1, 1)]),
            "layers[0] must be (kernel_size, stride) or (kernel_size, stride, dilation), got (3, 1, 1, 1)",
        ),
        (lambda: shapes.receptive_field([((3,), 1)], axis=1), "kernel_size (3,) has no axis 1"),
    ],
)
def test_count_and_geometry_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_one_output_channel_and_a_one_element_pair_on_axis_0():
    assert shapes.conv_mult_adds(3, 1, 3, (4, 4)) == 3 * 3 * 3 * 4 * 4
    # a 1-tuple kernel_size still has axis 0
    assert shapes.receptive_field([((3,), 1)], axis=0) == shapes.receptive_field([(3, 1)])


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: shapes.conv_parameters(3, 4, 3, bias=1),
            TypeError,
            "bias must be True or False, got 1 (int)",
        ),
        (
            lambda: shapes.linear_parameters(3, 4, bias=1),
            TypeError,
            "bias must be True or False, got 1 (int)",
        ),
        (
            lambda: shapes.count_parameters(nn.Linear(2, 2), trainable_only=1),
            TypeError,
            "trainable_only must be True or False, got 1 (int)",
        ),
        (
            lambda: shapes.count_parameters("m"),
            TypeError,
            "module must be a torch.nn.Module, got str",
        ),
        (lambda: shapes.linear_mult_adds(0, 3), ValueError, "in_features must be >= 1, got 0"),
        (lambda: shapes.linear_mult_adds(3, 0), ValueError, "out_features must be >= 1, got 0"),
        (lambda: shapes.linear_parameters(0, 3), ValueError, "in_features must be >= 1, got 0"),
        (lambda: shapes.linear_parameters(3, 0), ValueError, "out_features must be >= 1, got 0"),
        (
            lambda: shapes.receptive_field([{"stride": 1}]),
            ValueError,
            "layers[0] needs a kernel_size, got {'stride': 1}",
        ),
    ],
)
def test_parameter_count_messages_are_exact(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message


def test_counts_are_ints_with_torch_defaults():
    conv = nn.Conv2d(6, 4, 3)
    n = shapes.conv_parameters(6, 4, 3)  # groups=1, bias=True by default, like nn.Conv2d
    assert type(n) is int and n == sum(p.numel() for p in conv.parameters())
    grouped = shapes.conv_parameters(6, 4, 3, groups=4 // 2)
    assert type(grouped) is int
    m = shapes.conv_mult_adds(6, 4, 3, (5, 5), groups=2)
    assert type(m) is int and m == 4 * 5 * 5 * 3 * 3 * 3
    frozen = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    frozen[0].requires_grad_(False)
    assert shapes.count_parameters(frozen) == 9 + 4  # all parameters by default
    assert shapes.count_parameters(frozen, trainable_only=True) == 4


def test_receptive_field_reads_dilation_from_a_triple_and_pools_without_dilation():
    assert shapes.receptive_field([(3, 1, 2)])[-1].size == 5
    # nn.AvgPool2d has no dilation attribute: it counts as 1
    rf = shapes.receptive_field([nn.AvgPool2d(2), nn.Conv2d(1, 1, 3)])
    assert [(r.size, r.jump) for r in rf] == [(2, 2), (6, 2)]


def test_receptive_field_of_mapping_layers_by_hand():
    """span = d (k - 1) + 1; jump = stride; start = (span - 1) / 2 - padding (centre of the
    first window); 'same' pads d (k - 1) // 2 in front; stride None means stride = kernel_size
    (torch's pools); dilation None means 1."""
    rf = shapes.receptive_field
    assert rf([{"kernel_size": 3, "stride": 1, "padding": "same", "dilation": 2}]) == [(5, 1, 0.0)]
    assert rf([{"kernel_size": 3, "stride": 1, "padding": "valid", "dilation": 2}]) == [(5, 1, 2.0)]
    assert rf([{"kernel_size": 2, "stride": None}]) == [(2, 2, 0.5)]
    assert rf([{"kernel_size": 3, "dilation": None, "padding": 1}]) == [(3, 1, 0.0)]
    wide = {"kernel_size": (3, 5), "stride": (1, 2), "padding": (0, 2), "dilation": (1, 2)}
    assert rf([wide], axis=1) == [(9, 2, 2.0)] and rf([wide], axis=0) == [(3, 1, 1.0)]


@pytest.mark.parametrize(
    "layer, axis, message",
    [
        ({"kernel_size": 0}, 0, "layers[0] kernel_size must be >= 1, got 0"),
        ({"kernel_size": 3, "stride": 0}, 0, "layers[0] stride must be >= 1, got 0"),
        ({"kernel_size": 3, "dilation": 0}, 0, "layers[0] dilation must be >= 1, got 0"),
        ({"kernel_size": 3, "padding": -1}, 0, "layers[0] padding must be >= 0, got -1"),
        (
            {"kernel_size": 3, "padding": "full"},
            0,
            "layers[0] padding must be one of 'valid', 'same'; got 'full'",
        ),
        ({"kernel_size": 3, "padding": (1,)}, 1, "padding (1,) has no axis 1"),
        ({"kernel_size": 3, "stride": (1,)}, 1, "stride (1,) has no axis 1"),
        ({"kernel_size": 3, "dilation": (1,)}, 1, "dilation (1,) has no axis 1"),
    ],
)
def test_receptive_field_layer_messages_are_exact(layer, axis, message):
    with pytest.raises(ValueError) as err:
        shapes.receptive_field([layer], axis=axis)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: shapes.conv_parameters(0, 4, 3), "in_channels must be >= 1, got 0"),
        (lambda: shapes.conv_parameters(3, 4, 0), "kernel_size must be >= 1, got 0"),
        (lambda: shapes.conv_mult_adds(3, 4, 3, (0, 4)), "output_size[0] must be >= 1, got 0"),
        (lambda: shapes.pixel_usage(5, 3, 1, -1), "padding must be >= 0, got -1"),
        (lambda: shapes.conv_output_terms(5, 3, 1, -1), "padding must be >= 0, got -1"),
        (lambda: shapes.conv_transpose_output_size(5, 3, 1, -1), "padding must be >= 0, got -1"),
        (lambda: shapes.conv_output_size(0, 3), "size must be >= 1, got 0"),
        (lambda: shapes.conv_output_size(5, 0), "kernel_size must be >= 1, got 0"),
        (lambda: shapes.pool_output_size(5, 2, stride=0), "stride must be >= 1, got 0"),
        (lambda: shapes.pool_output_size(5, 2, dilation=0), "dilation must be >= 1, got 0"),
        # kernel_size and dilation are checked first, before the padding
        (lambda: shapes.pool_output_size(5, 0, padding=-1), "kernel_size must be >= 1, got 0"),
        (
            lambda: shapes.pool_output_size(5, 2, padding=-1, dilation=0),
            "dilation must be >= 1, got 0",
        ),
        # a dilated window that does not fit: the message gives its dilated span
        (
            lambda: shapes.pool_output_size(3, 2, dilation=3),
            "kernel_size 2 (dilated to 4) does not fit the padded input 3 + 2*0 = 3: "
            "floor((3 + 2*0 - 4) / 2) + 1 = 0 outputs (need >= 1)",
        ),
        # the padding is checked before ceil_mode
        (
            lambda: shapes.pool_output_size(5, 2, padding=-1, ceil_mode="yes"),
            "padding must be >= 0, got -1",
        ),
        (lambda: shapes.conv_parameters(3, 0, 3), "out_channels must be >= 1, got 0"),
        (
            lambda: shapes.conv_transpose_output_size(5, 3, 2, 0, -1),
            "output_padding must be >= 0, got -1",
        ),
    ],
)
def test_size_helper_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: shapes.pixel_usage(5, 3, include_padding=1),
            "include_padding must be True or False, got 1 (int)",
        ),
        (
            lambda: shapes.receptive_field([3]),
            "layers[0] must be a (kernel_size, stride[, dilation]) tuple, a mapping with "
            "kernel_size/stride/padding/dilation, or a layer with those attributes "
            "(e.g. nn.Conv2d), got int",
        ),
    ],
)
def test_size_helper_type_messages_are_exact(call, message):
    with pytest.raises(TypeError) as err:
        call()
    assert str(err.value) == message


def test_size_helpers_default_to_stride_1_and_integer_counts():
    # conv_output_terms: the numerator n + 2p - d(k-1) - 1 (stride is not in it)
    assert shapes.conv_output_terms(7, 3) == shapes.conv_output_terms(7, 3, 1, 0, 1) == 4
    assert (
        shapes.conv_transpose_output_size(4, 3) == shapes.conv_transpose_output_size(4, 3, 1) == 6
    )
    assert shapes.same_padding(7, 3) == shapes.same_padding(7, 3, 1) == (1, 1)
    assert shapes.same_padding(6, 3) == (1, 1) != shapes.same_padding(6, 3, 2)  # the default is 1
    assert shapes.pixel_usage(5, 3).dtype == np.int64


def test_receptive_field_of_an_object_with_only_a_kernel_size():
    """A layer-like object without stride/dilation/padding attributes: stride 1, dilation 1."""
    from types import SimpleNamespace

    assert shapes.receptive_field([SimpleNamespace(kernel_size=3)]) == [(3, 1, 1.0)]
