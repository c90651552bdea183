"""Pooling explorer: pure core against cnncourse.pooling and torch, renderers, the view driven."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cnncourse import data, pooling
from cnncourse.widgets import pooling_explorer as pe

# ----------------------------------------------------------------------------- pure core


def test_default_state_is_the_book_example():
    s = pe.explore()
    np.testing.assert_array_equal(s.output, [[6, 8], [14, 16]])
    assert (s.n_steps, s.position, s.value, s.winner) == (4, (0, 0), 6.0, (1, 1))
    np.testing.assert_array_equal(s.window, [[1, 2], [5, 6]])
    avg = pe.explore(kind="avg")
    np.testing.assert_array_equal(avg.output, [[3.5, 5.5], [11.5, 13.5]])
    assert avg.indices is None and avg.winner is None


def test_lecture_5x5_grid():
    s = pe.explore("5x5 feature map (lecture)", "max", 3, 1)
    np.testing.assert_array_equal(s.output, [[3, 3, 3], [3, 3, 3], [3, 2, 3]])
    assert s.at(7).value == 2.0


def test_photo_output_is_the_library_output():
    img = data.sample_image("camera")
    s = pe.explore("camera", "max", 4, 3, 1)
    np.testing.assert_array_equal(s.output, pooling.max_pool2d(img[None, None], 4, 3, 1)[0, 0])
    ref = F.max_pool2d(torch.tensor(img)[None, None], 4, 3, 1)[0, 0].numpy()
    np.testing.assert_array_equal(s.output, ref)
    s = pe.explore("camera", "avg", 2)
    np.testing.assert_allclose(s.output, F.avg_pool2d(torch.tensor(img)[None, None], 2)[0, 0])


@st.composite
def configs(draw):
    k = draw(st.integers(1, 4))
    return dict(
        kernel_size=k,
        stride=draw(st.integers(1, 4)),
        padding=draw(st.integers(0, k // 2)),
        ceil_mode=draw(st.booleans()),
        count_include_pad=draw(st.booleans()),
        kind=draw(st.sampled_from(pe.KINDS)),
    )


@settings(max_examples=150)
@given(
    cfg=configs(),
    h=st.integers(4, 9),
    w=st.integers(4, 9),
    seed=st.integers(0, 2**31),
    step_frac=st.floats(0, 1, exclude_max=True),
)
def test_window_geometry_reproduces_every_output(cfg, h, w, seed, step_frac):
    x = np.random.default_rng(seed).integers(0, 5, size=(h, w)).astype(float)  # ties likely
    s = pe.explore(x, **cfg)
    ref = (
        F.max_pool2d(
            torch.tensor(x)[None, None],
            cfg["kernel_size"],
            cfg["stride"],
            cfg["padding"],
            ceil_mode=cfg["ceil_mode"],
        )
        if cfg["kind"] == "max"
        else F.avg_pool2d(
            torch.tensor(x)[None, None],
            cfg["kernel_size"],
            cfg["stride"],
            cfg["padding"],
            cfg["ceil_mode"],
            cfg["count_include_pad"],
        )
    )
    np.testing.assert_allclose(s.output, ref[0, 0].numpy(), atol=1e-12)
    s = s.at(int(step_frac * s.n_steps))
    vals, cells = s.window, s.window_cells
    assert vals.shape == cells.shape == (cfg["kernel_size"],) * 2
    assert (cells == 0).any()  # every window touches the input (torch's padding rule)
    if s.kind == "max":
        assert np.nanmax(vals) == s.value
        r, c = s.winner
        r0, c0 = s.window_origin
        assert x[r, c] == s.value
        # The winner is the first maximum of the window in row-major order.
        flat = np.where(cells == 0, vals, -np.inf).ravel()
        assert (r - r0) * s.kernel_size + (c - c0) == int(np.argmax(flat))
    else:
        counted = (cells == 0) | ((cells == 1) & s.count_include_pad)
        np.testing.assert_allclose(vals[counted].sum() / counted.sum(), s.value, atol=1e-12)


def test_steps_walk_the_output_in_row_major_order():
    s = pe.explore("8x8 random digits", "max", 3, 2, 1)
    positions = [s.at(t).position for t in range(s.n_steps)]
    assert positions == [(i, j) for i in range(4) for j in range(4)]


def test_ceil_mode_overhang_cells():
    s = pe.explore("5x5 feature map (lecture)", "avg", 2, 2, 0, ceil_mode=True, step=8)
    assert s.output.shape == (3, 3)
    np.testing.assert_array_equal(s.window_cells, [[0, 2], [2, 2]])
    assert s.value == 1.0  # the corner alone: the overhang is never counted
    assert np.isnan(s.window[1, 1])


def test_formula_text():
    s = pe.explore("4x4 arange(1, 17)", "max", 2, 2)
    assert pe.formula_text(s).splitlines()[0] == "out height = floor((4 + 2*0 - 2) / 2) + 1 = 2"
    # ceil mode drops the last window when it would start in the right padding.
    x = np.zeros((5, 5))
    s = pe.explore(x, "max", 3, 3, 1, ceil_mode=True)
    assert s.output.shape == (2, 2)
    assert "ceil((5 + 2*1 - 3) / 3) + 1 = 3 - 1 = 2" in pe.formula_text(s)
    assert pe.window_text(s) == "max = 0 (input row 0, column 0: the first maximum wins ties)"


def test_bad_arguments_raise_naming_them():
    with pytest.raises(ValueError, match="source"):
        pe.explore("nope")
    with pytest.raises(ValueError, match="kind"):
        pe.explore(kind="min")
    with pytest.raises(ValueError, match="padding"):
        pe.explore(kernel_size=2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        pe.explore(kernel_size=5)
    with pytest.raises(TypeError, match="stride"):
        pe.explore(stride=1.5)
    with pytest.raises(ValueError, match="step"):
        pe.explore(step=4)
    with pytest.raises(ValueError, match="source"):
        pe.load_source(np.zeros((2, 2, 2)))


# ----------------------------------------------------------------------------- renderers


def test_window_text_shows_the_arithmetic():
    assert pe.window_text(pe.explore()).startswith("max = 6 (input row 1, column 1")
    assert pe.window_text(pe.explore(kind="avg")) == "sum 14 / 4 cells = 3.5"
    s = pe.explore("4x4 arange(1, 17)", "avg", 3, 2, 1, count_include_pad=False)
    assert pe.window_text(s) == "sum 14 / 4 cells = 3.5 (padding not counted)"
    s = pe.explore("4x4 arange(1, 17)", "max", 3, 2, 1)
    assert pe.window_text(s).startswith("max = 6 ")


def _decode(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_photo_pngs_frame_the_window_and_the_output_cell():
    s = pe.explore("camera", "max", 8, 8, step=3 * 64 + 5)  # window rows 24..31, cols 40..47
    inp, out = map(_decode, pe.photo_pngs(s))
    assert inp.shape == (512, 512, 3) and out.shape == (256, 256, 3)  # 64x64 output enlarged
    red = (inp[..., 0] == 220) & (inp[..., 1] == 0)
    rows, cols = np.nonzero(red)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (22, 33, 38, 49)
    assert not red[24:32, 40:48].any()  # the window itself is not covered
    gray = inp[~red]
    assert (gray[:, 0] == gray[:, 1]).all()
    red_out = (out[..., 0] == 220) & (out[..., 1] == 0)
    rows, cols = np.nonzero(red_out)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (11, 16, 19, 24)  # cell (3, 5)


# ----------------------------------------------------------------------------- the view


def test_view_default_and_steps():
    w = pe.PoolingExplorer()
    assert "cnncourse-pooling-explorer" in w._dom_classes
    assert "export default" in w._esm and "function pool(" in w._esm
    # the page gets the grids from Python (one copy) and the photo names
    assert w.grids["4x4 arange(1, 17)"] == pe.GRIDS["4x4 arange(1, 17)"].tolist()
    assert w.photos == list(data.SAMPLE_IMAGES) and w.photo == b""
    np.testing.assert_array_equal(w.result.output, [[6, 8], [14, 16]])
    w.step = 3
    assert w.result.position == (1, 1) and w.result.value == 16
    w.kind = "avg"
    np.testing.assert_array_equal(w.result.output, [[3.5, 5.5], [11.5, 13.5]])
    assert w.step == 0 and w.result.step == 0


def test_view_controls_change_the_result():
    w = pe.PoolingExplorer(source="5x5 feature map (lecture)", kernel_size=3, stride=1)
    np.testing.assert_array_equal(w.result.output, [[3, 3, 3], [3, 3, 3], [3, 2, 3]])
    w.stride = 2
    np.testing.assert_array_equal(w.result.output, [[3, 3], [3, 3]])
    w.padding = 1
    assert w.result.output.shape == (3, 3)
    w.kind = "avg"
    w.count_include_pad = False
    assert w.result.at(0).value == pytest.approx((3 + 3 + 0 + 0) / 4)
    w.ceil_mode = True
    assert w.result.ceil_mode


def test_view_keeps_errors_instead_of_raising():
    w = pe.PoolingExplorer()
    w.padding = 2  # > kernel_size // 2
    assert w.result is None and "padding 2 must be at most half" in w.error
    w.padding = 1
    assert w.result is not None and w.result.output.shape == (3, 3) and w.error == ""
    w.padding = 0
    w.kernel_size = 8  # larger than the 4x4 grid
    assert w.result is None and "kernel_size" in w.error
    w.kernel_size = 2
    w.step = 99  # past the end, set from Python: a message
    assert w.result is None and "step must be < 4" in w.error


def test_view_photo_mode_sends_the_pixels():
    w = pe.PoolingExplorer()
    w.source = "camera"
    assert w.result.output.shape == (256, 256)
    x = np.frombuffer(w.photo, dtype="<f8").reshape(w.photo_shape)
    np.testing.assert_array_equal(x, pe.load_source("camera"))
    assert w.photo_source == "camera"
    w.step = 1000
    assert w.result.position == (3, 232)
    w.source = "4x4 arange(1, 17)"  # back to a grid: the photo stays cached, unused
    assert w.result.output.shape == (2, 2) and w.photo_source == "camera"


def test_static_figures():
    fig = pe.figure(steps=[0, 3])
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "step 1: window 0,0"
    assert fig.axes[3].get_title() == "y[1,1] = 16"
    assert "max pooling" in fig._suptitle.get_text()
    fig = pe.figure("5x5 feature map (lecture)", "avg", 3, 2, 1, ceil_mode=True)
    assert len(fig.axes) == 2 * 9
    fig = pe.photo_figure("coins", sizes=(2, 4))
    assert len(fig.axes) == 6
    assert fig.axes[1].get_title().startswith("max 2x2")
    plt.close("all")
