"""Kernel explorer and filter lab: pure cores against cnncourse.filters/scipy, views driven."""

import io

import numpy as np
import pytest
import scipy.ndimage as ndi
from PIL import Image

from cnncourse import data, filters
from cnncourse.widgets import _render
from cnncourse.widgets import filter_lab as fl
from cnncourse.widgets import kernel_explorer as ke


def decode_png(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# ----------------------------------------------------------------------- explorer: pure core


def test_apply_kernel_is_filter2d_and_scipy():
    img = data.sample_image("coins")
    out = ke.apply_kernel("coins", filters.SOBEL_X)
    np.testing.assert_array_equal(out, filters.filter2d(img, filters.SOBEL_X))
    np.testing.assert_allclose(out, ndi.sobel(img, axis=1), atol=1e-12)
    np.testing.assert_array_equal(ke.explore("coins", "identity"), img)
    np.testing.assert_allclose(
        ke.explore("coins", "box", size=5), ndi.uniform_filter(img, 5), atol=1e-12
    )


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="image must be one of"):
        ke.apply_kernel("lena", filters.SOBEL_X)
    with pytest.raises(ValueError, match="kernel must have 2 dimensions"):
        ke.apply_kernel("camera", np.ones(3))
    with pytest.raises(ValueError, match="size must be one of"):
        ke.KernelExplorer(size=4)
    with pytest.raises(ValueError, match="preset must be one of"):
        ke.KernelExplorer(preset="blur")


# ---------------------------------------------------------------------------- explorer: view


def test_explorer_preset_then_cell_edit_updates_result():
    w = ke.KernelExplorer(image="camera", size=3, preset="identity")
    assert "cnncourse-kernel-explorer" in w._dom_classes
    assert "export default" in w._esm and "function filter2d(" in w._esm
    # the page gets presets, colour maps and the photo's pixels from Python (one copy each)
    assert w.presets["gaussian"]["5"] == ke._preset_cells("gaussian", 5)
    assert w.luts["gray"] == _render.lut("gray").ravel().tolist()
    camera = _render.load_image("camera")
    assert w.photo_dtype == "uint8" and w.photo_shape == [512, 512]
    np.testing.assert_array_equal(np.frombuffer(w.photo, np.uint8).reshape(512, 512) / 255, camera)
    np.testing.assert_array_equal(w.result, camera)

    w.preset = "sobel_x"
    np.testing.assert_array_equal(w.kernel, filters.SOBEL_X)
    np.testing.assert_array_equal(w.result, filters.filter2d(camera, filters.SOBEL_X))
    before = w.result.copy()

    cells = [row[:] for row in w.cells]
    cells[1][2] = 5.0  # edit one cell, as the page does: new cells and preset 'custom'
    w.set_trait("cells", cells)
    w.preset = "custom"
    expected_kernel = np.array(filters.SOBEL_X)
    expected_kernel[1, 2] = 5.0
    np.testing.assert_array_equal(w.kernel, expected_kernel)  # the cells were kept
    assert not np.array_equal(w.result, before)
    np.testing.assert_array_equal(w.result, filters.filter2d(camera, expected_kernel))


def test_explorer_size_photo_and_boundary():
    w = ke.KernelExplorer(preset="gaussian")
    w.size = 5
    assert len(w.cells) == 5 and all(len(r) == 5 for r in w.cells)
    assert w.preset == "gaussian"
    k5 = filters.kernel("gaussian", 5).round(4)  # cells hold 4 decimals
    np.testing.assert_array_equal(w.kernel, k5)
    np.testing.assert_array_equal(w.result, filters.filter2d(_render.load_image("camera"), k5))

    w.image = "coins"
    assert w.result.shape == data.sample_image("coins").shape and w.photo_source == "coins"
    np.testing.assert_array_equal(w.result, filters.filter2d(_render.load_image("coins"), k5))

    w.preset = "laplacian"
    w.boundary = "wrap"
    np.testing.assert_allclose(
        w.result, ndi.laplace(_render.load_image("coins"), mode="wrap"), atol=1e-12
    )
    w.image = "astronaut"  # a colour photo made gray: not k/255, sent as float64
    assert w.photo_dtype == "float64"
    x = np.frombuffer(w.photo, "<f8").reshape(w.photo_shape)
    np.testing.assert_array_equal(x, _render.load_image("astronaut"))


def test_explorer_keeps_the_error_instead_of_raising():
    w = ke.KernelExplorer(preset="box")
    w.cells = [[float("nan"), 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert w.result is None and "finite" in w.error
    w.cells = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert w.error == "" and w.result is not None


def test_static_figures():
    fig = ke.state_figure("camera", "sobel_y")
    assert len(fig.axes) == 4  # input, kernel, output, colour bar
    assert "sobel_y" in fig.axes[1].get_title()
    fig = ke.figure("coins", names=("identity", "box", "sobel_x"), ncols=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert {"identity", "box", "sobel_x"} <= set(titles)


# -------------------------------------------------------------------------------- filter lab


CASES = [
    ("gaussian", {"sigma": 1.3}),
    ("gaussian", {"sigma": 4.0}),
    ("box", {"size": 4}),
    ("box", {"size": 7}),
    ("sobel", {"direction": "x"}),
    ("prewitt", {"direction": "y"}),
    ("scharr", {"direction": "x"}),
    ("laplacian", {}),
    ("sharpen", {}),
    ("unsharp", {"sigma": 1.5}),
    ("dog", {"sigma": 1.0}),
]


@pytest.mark.parametrize("family,params", CASES)
def test_lab_output_equals_direct_filter_with_its_kernel(family, params):
    img = data.sample_image("coins")[:120, :150]
    res = fl.filter_lab(img, family, **params)
    assert res.output.shape == img.shape == res.magnitude.shape
    np.testing.assert_allclose(res.output, filters.filter2d(img, res.kernel), atol=1e-12)
    if family in fl.DIRECTION_FAMILIES:
        gx, gy = filters.sobel_gradients(img, family)
        np.testing.assert_allclose(res.magnitude, np.hypot(gx, gy))
    else:
        mag, _ = filters.gradient_magnitude_direction(res.output)
        np.testing.assert_allclose(res.magnitude, mag)


def test_lab_kernels_against_references():
    np.testing.assert_array_equal(fl.lab_kernel("sobel", direction="y"), filters.SOBEL_Y)
    g = fl.lab_kernel("gaussian", sigma=2.0)
    assert g.shape == (17, 17) and g.sum() == pytest.approx(1.0)
    img = data.sample_image("camera")[:100, :100]
    np.testing.assert_allclose(
        fl.filter_lab(img, "gaussian", sigma=2.0).output, ndi.gaussian_filter(img, 2.0), atol=1e-13
    )
    dog = fl.lab_kernel("dog", sigma=1.0)
    assert dog.sum() == pytest.approx(0.0, abs=1e-12)
    unsharp = fl.lab_kernel("unsharp", sigma=1.0)
    assert unsharp.sum() == pytest.approx(1.0)


def test_lab_bad_inputs():
    with pytest.raises(ValueError, match="family must be one of"):
        fl.filter_lab("camera", "median")
    with pytest.raises(ValueError, match="sigma"):
        fl.filter_lab("camera", "gaussian", sigma=0)
    with pytest.raises(ValueError, match="direction must be one of"):
        fl.filter_lab("camera", "sobel", direction="z")
    with pytest.raises(ValueError, match="size must be >= 1"):
        fl.filter_lab("camera", "box", size=0)


def test_lab_view_driven():
    lab = fl.FilterLab(image="coins", family="gaussian", sigma=1.0)
    assert "cnncourse-filter-lab" in lab._dom_classes
    img = _render.load_image("coins")
    first = lab.result.output.copy()
    assert lab.sigma.layout.display == "" and lab.direction.layout.display == "none"

    lab.sigma.value = 3.0
    assert not np.array_equal(lab.result.output, first)
    np.testing.assert_allclose(lab.result.output, filters.gaussian_blur(img, 3.0))
    assert lab.kernel_image.layout.display == ""  # 25x25 kernel shown as a picture

    lab.family.value = "sobel"
    assert lab.sigma.layout.display == "none" and lab.direction.layout.display == ""
    np.testing.assert_allclose(lab.result.output, filters.filter2d(img, filters.SOBEL_X))
    assert "<td" in lab.kernel_view.value and lab.kernel_image.layout.display == "none"
    lab.direction.value = "y"
    np.testing.assert_allclose(lab.result.output, filters.filter2d(img, filters.SOBEL_Y))

    lab.family.value = "box"
    lab.box_size.value = 9
    np.testing.assert_allclose(lab.result.output, ndi.uniform_filter(img, 9), atol=1e-12)

    lab.image.value = "camera"
    assert lab.result.output.shape == (512, 512)
    out_png = decode_png(lab.output_view.value)
    assert out_png.shape == (512, 512, 3)


def test_lab_figure():
    fig = fl.figure("coins", states=({"family": "gaussian", "sigma": 1.0}, {"family": "sobel"}))
    titles = [ax.get_title() for ax in fig.axes]
    assert "kernel: gaussian, sigma=1" in titles and "kernel: sobel x" in titles
