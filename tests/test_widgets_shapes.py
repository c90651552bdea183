"""Stride/padding explorer and shape tracer: pure cores against PyTorch, views driven."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnncourse import models, shapes
from cnncourse.widgets import shape_tracer
from cnncourse.widgets import stride_padding as sp

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # thousands of tiny torch ops


# ------------------------------------------------------------------ stride/padding: pure core


def torch_footprint(n, k, p, s, d, row, col):
    """Padded-grid cells whose gradient is nonzero for output cell (row, col)."""
    x = torch.zeros(1, 1, n + 2 * p, n + 2 * p, requires_grad=True)
    y = F.conv2d(x, torch.ones(1, 1, k, k), stride=s, dilation=d)
    y[0, 0, row, col].backward()
    return y.shape[-1], x.grad[0, 0].numpy() != 0


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 5),
    p=st.integers(0, 3),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    step=st.integers(0, 200),
)
def test_explore_taps_and_size_match_torch(n, k, p, s, d, step):
    try:
        out = shapes.conv_output_size(n, k, s, p, d)
    except ValueError as err:
        with pytest.raises(ValueError, match="kernel_size"):
            sp.explore(n, k, p, s, d)
        assert "larger than the padded input" in str(err)
        return
    step = step % (out * out)
    state = sp.explore(n, k, p, s, d, step=step)
    torch_out, footprint = torch_footprint(n, k, p, s, d, state.row, state.col)
    assert state.output_size == torch_out == out
    mask = np.zeros_like(footprint)
    mask[np.ix_(state.tap_rows, state.tap_cols)] = True
    np.testing.assert_array_equal(mask, footprint)
    # usage: the outer product of the 1-D counts; zero exactly where no window reads
    u = shapes.pixel_usage(n, k, s, p, d, include_padding=True)
    np.testing.assert_array_equal(state.usage, np.outer(u, u))
    leftover = (n + 2 * p - (d * (k - 1) + 1)) % s
    assert state.leftover == leftover
    if leftover:
        assert not state.usage[-leftover:].any() and not state.usage[:, -leftover:].any()
        assert "does not tile" in state.warning
    inner_zero = int((state.usage[p : p + n, p : p + n] == 0).sum())
    assert state.unused_pixels == inner_zero
    assert (state.warning == "") == (leftover == 0 and inner_zero == 0)
    assert state.formula.endswith(f"= {out}")


def test_explore_examples_and_errors():
    state = sp.explore(7, 3, 0, 2)
    assert (state.output_size, state.leftover, state.warning) == (3, 0, "")
    assert state.formula == "floor((7 + 2*0 - 1*(3-1) - 1) / 2) + 1 = floor(4 / 2) + 1 = 3"
    state = sp.explore(6, 3, 0, 2, step=3)
    assert (state.output_size, state.row, state.col, state.leftover) == (2, 1, 1, 1)
    assert "6 + 2*0 - 2 - 1) / 2 = 3 / 2 is not a whole number" in state.warning
    assert "11 of the 36 input pixels never reach the output" in state.warning
    with pytest.raises(ValueError, match=r"step must be < output_size\*\*2 = 4"):
        sp.explore(6, 3, 0, 2, step=4)
    with pytest.raises(ValueError, match="kernel_size 7"):
        sp.explore(5, 7)
    with pytest.raises(ValueError, match="stride"):
        sp.explore(5, 3, stride=0)
    with pytest.raises(TypeError, match="padding"):
        sp.explore(5, 3, padding=1.5)
    # the formula text is shown for invalid configurations too
    assert sp.formula_text(5, 7).endswith("= floor(-2 / 1) + 1 = -1")


def test_static_figure_has_titles():
    fig = sp.figure(
        [dict(size=7, kernel_size=3, stride=2), dict(size=6, kernel_size=3, stride=2, step=3)]
    )
    titles = [ax.get_title() for ax in fig.axes]
    assert "out = 3" in titles[0] and "does not tile" in titles[1]
    assert fig.axes[0].get_xlabel().startswith("padded input")
    with pytest.raises(ValueError, match="configs"):
        sp.figure([])


# ------------------------------------------------------------------ stride/padding: the view


def test_explorer_view_driven_by_its_controls():
    w = sp.StridePaddingExplorer(size=7, kernel_size=3, padding=0, stride=2)
    assert "cnncourse-stride-explorer" in w._dom_classes
    # the page's front-end gets the JS port, the slider ranges and colours from Python
    assert "export default" in w._esm and "function explore(" in w._esm
    assert w.limits["size"] == list(sp.LIMITS["size"]) and w.colors == sp.COLORS
    assert w.result.output_size == 3 and w.result.warning == "" and w.error == ""
    assert repr(w).startswith("Run this cell")

    w.step = 5
    assert (w.result.row, w.result.col) == (1, 2)
    assert w.result.tap_rows == (2, 3, 4) and w.result.tap_cols == (4, 5, 6)

    w.size = 6  # stride 2 no longer tiles 6: warning, animation restarts
    assert w.step == 0 and w.result.output_size == 2
    assert "does not tile" in w.result.warning

    w.kernel_size = 7  # invalid: the message, no result
    assert w.result is None and "larger than the padded input 6 + 2*0 = 6" in w.error

    w.padding = 1  # 6 + 2 = 8 >= 7: valid again
    assert w.error == "" and w.result.output_size == 1

    w.dilation = 2  # 2*(7-1)+1 = 13 > 8
    assert "dilated to 13" in w.error

    w.dilation, w.kernel_size = 1, 3
    w.step = 1000  # past the last cell (as a kernel user could set it): a message, no crash
    assert w.result is None and "step must be <" in w.error


def test_explorer_rejects_out_of_range_initial_values():
    with pytest.raises(ValueError, match="size must be <= 16"):
        sp.StridePaddingExplorer(size=40)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        sp.StridePaddingExplorer(stride=0)


# ------------------------------------------------------------------ shape tracer


@pytest.mark.parametrize(
    "name, size", [("LeNet-5", 32), ("LeNet-style homework", 32), ("VGG block", 20),
                   ("VGG-16", 32), ("ResNet stem", 64), ("LeNet-5", 40)],
)  # fmt: skip
def test_trace_stack_matches_a_real_forward_pass(name, size):
    table = shape_tracer.trace_stack(name, size)
    torch.manual_seed(0)
    model = shape_tracer.build_stack(name, size, device="cpu").eval()
    outputs = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: outputs.append(tuple(o.shape)))
        for m in model.modules()
        if not list(m.children())
    ]
    with torch.no_grad():
        model(torch.zeros(1, shape_tracer.STACKS[name].in_channels, size, size))
    for h in hooks:
        h.remove()
    assert [r.output_shape for r in table] == outputs
    assert table.total_parameters == shapes.count_parameters(model)


def test_lenet5_and_vgg16_are_the_zoo_models():
    # one LeNet-5 and one VGG-16 in the library: the stacks are the zoo's, sized for the input
    lenet, zoo_lenet = shape_tracer.build_stack("LeNet-5", 32), models.lenet5()
    assert [(n, type(m)) for n, m in lenet.named_modules()] == [
        (n, type(m)) for n, m in zoo_lenet.named_modules()
    ]
    with torch.device("meta"):
        zoo_vgg = models.vgg16()
    vgg = shape_tracer.build_stack("VGG-16", 224)
    assert [(n, type(m)) for n, m in vgg.named_modules()] == [
        (n, type(m)) for n, m in zoo_vgg.named_modules()
    ]
    assert shape_tracer.trace_stack("VGG-16", 64)[-1].output_shape == (1, 1000)


def test_known_parameter_counts():
    assert shape_tracer.trace_stack("LeNet-5").total_parameters == 61_706  # book-004 digest
    assert (
        shape_tracer.trace_stack("VGG-16").total_parameters == 138_357_544
    )  # Simonyan & Zisserman
    table = shape_tracer.trace_stack("LeNet-style homework")
    convs = [r for r in table if r.type == "Conv2d"]
    assert [r.parameters for r in convs] == [(5 * 5 * 3 + 1) * 8, (5 * 5 * 8 + 1) * 16]
    vgg = shape_tracer.trace_stack("VGG-16")
    conv5_3 = [r for r in vgg if r.type == "Conv2d"][-1]
    assert conv5_3.receptive_field == (196, 196) and conv5_3.jump == (16, 16)
    stem = shape_tracer.trace_stack("ResNet stem")
    assert stem[-1].output_shape == (1, 64, 56, 56) and stem[-1].receptive_field == (11, 11)


def test_trace_stack_errors():
    with pytest.raises(ValueError, match="name must be one of"):
        shape_tracer.trace_stack("AlexNet-99")
    with pytest.raises(ValueError, match="input_size 8 is too small for LeNet-5"):
        shape_tracer.trace_stack("LeNet-5", 8)
    with pytest.raises(ValueError, match="input_size must be <= 512"):
        shape_tracer.trace_stack("VGG block", 1000)
    with pytest.raises(TypeError, match="input_size"):
        shape_tracer.trace_stack("VGG block", 3.5)
    with pytest.raises(ValueError, match="device"):
        shape_tracer.build_stack("VGG block", 32, device="gpu7")


def test_register_stack():
    shape_tracer.register_stack(
        "tiny", lambda s: nn.Sequential(nn.Conv2d(2, 4, 3, stride=2)), in_channels=2,
        default_size=9,
    )  # fmt: skip
    try:
        table = shape_tracer.trace_stack("tiny")
        assert table[0].output_shape == (1, 4, 4, 4) and table.total_parameters == 76
        w = shape_tracer.ShapeTracer(stack="tiny")
        assert w.result[0].receptive_field == (3, 3)
        entry = [s for s in w.stacks if s["name"] == "tiny"][0]
        assert entry["layers"][0]["op"] == "conv" and w.kernel_view == {}  # the page traces it
    finally:
        del shape_tracer.STACKS["tiny"]
    with pytest.raises(TypeError, match="builder"):
        shape_tracer.register_stack("x", 3, 1, 1)


def test_page_describes_the_built_in_stacks_from_their_modules():
    stacks = {s["name"]: s for s in shape_tracer.page_stacks()}
    assert list(stacks) == list(shape_tracer.STACKS)
    for name, entry in stacks.items():
        assert entry["kernel_only"] == "" and entry["layers"], name
        model = shape_tracer.build_stack(name)
        leaves = [(n, type(m).__name__) for n, m in model.named_modules() if not list(m.children())]
        assert [(layer["name"], layer["type"]) for layer in entry["layers"]] == leaves
    # the head follows the input: no Linear carries a size-dependent in_features
    vgg = stacks["VGG-16"]["layers"]
    assert [layer["out_features"] for layer in vgg if layer["op"] == "linear"] == [4096, 4096, 1000]
    assert all("in_features" not in layer for layer in vgg)


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return x + self.conv(x)


def _fixed_head(size):  # sized for 8x8 whatever the input: PyTorch rejects other sizes
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 8 * 8, 3))


@pytest.mark.parametrize(
    "builder, in_channels, why, fails_at_1",
    [
        (lambda s: _Residual(), 3, "_Residual with its own forward()", False),
        (lambda s: nn.Sequential(nn.Conv2d(3, 3, 3), _Residual()), 3, "own forward()", True),
        (lambda s: nn.Sequential(nn.Conv2d(3, 3, 3), nn.Upsample(scale_factor=2)), 3, "Upsample", True),
        (lambda s: nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1)), 3, "AdaptiveAvg", True),
        (_fixed_head, 1, "its layers at input size 9 are not those at 8", True),
    ],
)  # fmt: skip
def test_stacks_the_page_cannot_trace_are_traced_by_python(builder, in_channels, why, fails_at_1):
    """A stack the page cannot describe is kernel-only: Python traces it and sends the table."""
    shape_tracer.register_stack("custom", builder, in_channels=in_channels, default_size=8)
    try:
        entry = [s for s in shape_tracer.page_stacks() if s["name"] == "custom"][0]
        assert entry["layers"] is None and why in entry["kernel_only"]
        w = shape_tracer.ShapeTracer(stack="custom")
        assert w.error == "" and w.kernel_view["table"] == shape_tracer.table_json(w.result)
        assert (w.kernel_view["stack"], w.kernel_view["input_size"]) == ("custom", 8)
        w.input_size = 1  # where PyTorch rejects it, its message goes to the page as is
        table = None if w.result is None else shape_tracer.table_json(w.result)
        assert w.kernel_view == {
            "stack": "custom",
            "input_size": 1,
            "table": table,
            "error": w.error,
        }
        assert (w.result is None) == fails_at_1
        assert w.error.startswith("the model rejects input_shape (1, ") or not fails_at_1
    finally:
        del shape_tracer.STACKS["custom"]


def test_shape_tracer_view_driven_by_its_traits():
    w = shape_tracer.ShapeTracer()
    assert "cnncourse-shape-tracer" in w._dom_classes
    assert w.result.total_parameters == 62_958 and w.error == ""
    assert w.kernel_view == {}  # the page traces the built-in stacks itself
    assert repr(w).startswith("Run this cell")
    w.input_size = 64  # the head is re-sized: 64 -> 60 -> 30 -> 26 -> 13
    assert w.result[5].output_shape == (1, 16, 13, 13)
    assert w.result[7].parameters == 16 * 13 * 13 * 120 + 120
    w.input_size = 8
    assert w.result is None and "input_size 8 is too small" in w.error
    w.stack = "ResNet stem"
    assert w.input_size == 224 and w.result[-1].output_shape == (1, 64, 56, 56)
    w.stack = "VGG block"
    w.input_size = 1  # the size rule says which window no longer fits (not PyTorch's text)
    assert w.error == (
        "input_size 1 is too small for VGG block: kernel_size 2 (dilated to 2) does not fit "
        "the padded input 1 + 2*0 = 1: floor((1 + 2*0 - 2) / 2) + 1 = 0 outputs (need >= 1)"
    )


def test_shape_tracer_figure():
    fig = shape_tracer.shape_tracer_figure("VGG block")
    assert "parameters" in fig._suptitle.get_text()
    assert fig.axes[0].get_ylabel() == "activations (values)"
