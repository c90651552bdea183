"""cnncourse.widgets._render: the view helpers shared by the widgets.

PNGs are decoded with PIL and compared pixel by pixel with the colour tables (and those with
matplotlib's own colour mapping); HTML is parsed with the standard library's parser.
"""

import importlib
import inspect
import io
import pkgutil
from html.parser import HTMLParser

import anywidget
import ipywidgets as widgets
import matplotlib
import matplotlib.colors
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cnncourse import data, filters
from cnncourse.widgets import _render


def decode(png: bytes, mode: str = "RGB") -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert(mode))


class _Cells(HTMLParser):
    """Collects the tables, rows and cells (attributes and text) of an HTML fragment."""

    def __init__(self):
        super().__init__()
        self.tables, self.rows, self.cells, self.text = [], 0, [], ""

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(dict(attrs))
        elif tag == "tr":
            self.rows += 1
        elif tag == "td":
            self.cells.append([dict(attrs), ""])

    def handle_data(self, data):
        self.text += data
        if self.cells:
            self.cells[-1][1] += data


def parse(fragment: str) -> _Cells:
    parser = _Cells()
    parser.feed(fragment)
    return parser


# ------------------------------------------------------------------------------------ inputs


def test_load_image_is_cached_and_read_only():
    a = _render.load_image("camera")
    assert a is _render.load_image("camera")
    assert not a.flags.writeable
    np.testing.assert_array_equal(a, data.sample_image("camera"))
    arr = _render.load_image(np.arange(6).reshape(2, 3))
    assert arr.dtype == np.float64 and arr.shape == (2, 3)
    with pytest.raises(ValueError, match="image must be one of"):
        _render.load_image("lena")
    with pytest.raises(ValueError, match="source must have 2 dimensions"):
        _render.load_image(np.zeros((2, 2, 2)), "source")


def test_display_images_are_min_max_scaled_per_image():
    x = np.stack([np.full((2, 3, 3), 5.0), np.arange(18.0).reshape(2, 3, 3)])
    pics = _render.display_images(x)
    assert pics.shape == (2, 3, 3)
    np.testing.assert_array_equal(pics[0], 0.0)  # a flat image stays flat (no division by 0)
    assert pics[1].min() == 0.0 and pics[1].max() == 1.0


def test_batch_and_index():
    x, i = _render.batch_and_index(np.zeros((3, 1, 4, 4)), 2)
    assert isinstance(x, torch.Tensor) and i == 2
    with pytest.raises(ValueError, match=r"images must be \(N, C, H, W\)"):
        _render.batch_and_index(np.zeros((3, 4, 4)), 0)
    with pytest.raises(ValueError, match=r"index must be in 0\.\.2, got 3"):
        _render.batch_and_index(np.zeros((3, 1, 4, 4)), 3)
    with pytest.raises(TypeError, match="index must be an integer"):
        _render.batch_and_index(np.zeros((3, 1, 4, 4)), 1.0)


# ------------------------------------------------------------------------------------ colour


def test_display_range():
    gray, signed = _render.IMAGE_CMAP, _render.SIGNED_CMAP
    assert _render.display_range(filters.box(3)) == (0.0, 1.0, gray)
    assert _render.display_range(filters.SHARPEN) == (0.0, 1.0, gray)
    assert _render.display_range(np.ones((3, 3))) == (0.0, 9.0, gray)
    assert _render.display_range(-filters.IDENTITY) == (-1.0, 0.0, gray)
    out = np.linspace(-3.0, 2.0, 1001)[None, :]
    bound = np.percentile(np.abs(out), 99.5)
    assert 2.9 < bound < 3.0
    assert _render.display_range(filters.SOBEL_X, out) == (-bound, bound, signed)
    assert _render.display_range(filters.SOBEL_X) == (-8.0, 8.0, signed)
    assert _render.display_range(filters.SOBEL_X, np.zeros((2, 2))) == (-1.0, 1.0, signed)


def test_to_rgb_extremes_and_clipping():
    rgb = _render.to_rgb(np.array([[-5.0, 0.0, 0.5, 1.0, 7.0]]), 0.0, 1.0, "gray")
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 0, 128, 255, 255])


@pytest.mark.parametrize("cmap", ["gray", "RdBu_r", "magma"])
def test_to_rgb_matches_matplotlib(cmap):
    values = np.random.default_rng(0).normal(size=(30, 40))
    expected = matplotlib.colormaps[cmap](
        matplotlib.colors.Normalize(-1.5, 2.0)(values), bytes=True
    )
    np.testing.assert_array_equal(_render.to_rgb(values, -1.5, 2.0, cmap), expected[..., :3])


def test_css_color_is_the_table_colour():
    assert _render.css_color("gray", 0.0) == "rgb(0,0,0)"
    assert _render.css_color("gray", 1.0) == "rgb(255,255,255)"
    assert _render.css_color("gray", 7.0) == "rgb(255,255,255)"  # clipped to [0, 1]


# --------------------------------------------------------------------------------------- PNG


@settings(max_examples=30, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    cmap=st.sampled_from(["gray", "RdBu_r", "magma"]),
    seed=st.integers(0, 1000),
)
def test_png_gray_roundtrip_equals_colour_table(h, w, cmap, seed):
    values = np.random.default_rng(seed).normal(size=(h, w))
    rgb = decode(_render.png_gray(values, -1.0, 1.0, cmap))
    assert rgb.shape == (h, w, 3)
    np.testing.assert_array_equal(rgb, _render.to_rgb(values, -1.0, 1.0, cmap))


def test_palette_png_uses_the_given_palette():
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[1], palette[255] = (10, 20, 30), (220, 0, 0)
    indices = np.array([[0, 1], [255, 1], [1, 0]], dtype=np.uint8)
    png = _render.palette_png(indices, palette)
    assert Image.open(io.BytesIO(png)).mode == "P"
    np.testing.assert_array_equal(decode(png), palette[indices])


def test_png_rgb_roundtrip():
    rgb = np.zeros((3, 4, 3))
    rgb[1, 2] = (1.0, 0.5, 0.0)
    rgb[0, 0] = (2.0, -1.0, 0.25)  # clipped to [0, 1]
    pixels = decode(_render.png_rgb(rgb))
    assert pixels.shape == (3, 4, 3)
    np.testing.assert_array_equal(pixels[1, 2], [255, 128, 0])
    np.testing.assert_array_equal(pixels[0, 0], [255, 0, 64])
    u8 = np.random.default_rng(1).integers(0, 256, size=(5, 6, 3)).astype(np.uint8)
    np.testing.assert_array_equal(decode(_render.png_rgb(u8)), u8)
    with pytest.raises(ValueError, match=r"rgb must be \(H, W, 3\)"):
        _render.png_rgb(np.zeros((2, 2, 4)))


def test_upscale_repeats_pixels_by_a_whole_factor():
    a = np.arange(6.0).reshape(2, 3)
    big = _render.upscale(a, 10)  # factor 10 // 3 = 3
    assert big.shape == (6, 9)
    np.testing.assert_array_equal(big[::3, ::3], a)
    np.testing.assert_array_equal(big[2, 8], a[0, 2])
    assert _render.upscale(a, 2) is a  # already at least the target
    rgb = np.random.default_rng(0).random((4, 2, 3))
    big = _render.upscale(rgb, 8)
    assert big.shape == (8, 4, 3)
    np.testing.assert_array_equal(big[1::2, 1::2], rgb)


# -------------------------------------------------------------------------------------- HTML


def test_error_html_escapes_the_message():
    out = _render.error_html("x must be < 3, got <script>alert(1)</script> & more")
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp; more" in out
    assert "color:#b00" in out
    assert parse(out).text == "x must be < 3, got <script>alert(1)</script> & more"


def test_notice_html():
    assert _render.notice_html("", "Warning") == ""
    warning = _render.notice_html("stride <2> does not tile", "Warning")
    assert parse(warning).text == "Warning: stride <2> does not tile"
    assert "#7a4d00" in warning
    error = _render.notice_html("bad", "Invalid configuration", error=True)
    assert "#8b0000" in error and parse(error).text == "Invalid configuration: bad"


def test_html_table_builds_rows_of_cells():
    rows = [[_render.td(str(3 * r + c), "width:9px", "cell c" + str(c)) for c in range(3)]
            for r in range(2)]  # fmt: skip
    out = parse(_render.html_table(rows, "my-grid"))
    assert out.tables == [{"class": "my-grid", "style": "border-collapse:collapse"}]
    assert out.rows == 2 and [text for _, text in out.cells] == [str(i) for i in range(6)]
    assert out.cells[4][0] == {"class": "cell c1", "style": "width:9px"}
    plain = parse(_render.html_table([[_render.td("a")]]))
    assert plain.tables == [{"style": "border-collapse:collapse"}] and plain.cells[0][0] == {
        "style": ""
    }


def test_kernel_html_shows_every_number_on_its_colour():
    out = parse(_render.kernel_html(filters.SOBEL_X))
    assert out.rows == 3
    assert [text for _, text in out.cells] == ["-1", "0", "1", "-2", "0", "2", "-1", "0", "1"]
    # zero is the middle of the diverging map, the extremes are its ends
    assert f"background:{_render.css_color('RdBu_r', 0.5)}" in out.cells[1][0]["style"]
    assert f"background:{_render.css_color('RdBu_r', 0.0)}" in out.cells[3][0]["style"]
    assert "color:white" in out.cells[3][0]["style"]  # light ink on the dark end


def test_colorbar_html_labels():
    spans = parse(_render.colorbar_html(-0.2, 0.4, "RdBu_r")).text
    assert spans == "0.40.1-0.2"  # top, middle, bottom


# ------------------------------------------------------------------------------------ layout


def test_image_widget_and_labelled_panel():
    img = _render.image_widget("cnncourse-test-image", "100px")
    assert "cnncourse-test-image" in img._dom_classes and img.layout.width == "100px"
    panel = _render.labelled("a < b", img)
    assert panel.children[0].value == "<b>a &lt; b</b>" and panel.children[1] is img


def test_every_explorer_computes_in_the_page_or_says_it_needs_a_kernel():
    # On the static website an explorer either computes in the page (an anywidget) or is marked
    # cnncourse-needs-kernel (badge, disabled controls): no control may move alone.
    import cnncourse.widgets as package

    explorers = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cnncourse.widgets.{info.name}")
        explorers += [
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module.__name__ and issubclass(cls, widgets.DOMWidget)
        ]
    assert len(explorers) == 10, [c.__name__ for c in explorers]
    live = {c.__name__ for c in explorers if issubclass(c, anywidget.AnyWidget)}
    marked = {c.__name__ for c in explorers if issubclass(c, _render.NeedsKernel)}
    assert live | marked == {c.__name__ for c in explorers} and not live & marked
    assert live == {
        "StridePaddingExplorer",
        "PoolingExplorer",
        "KernelExplorer",
        "NMSExplorer",
        "ShapeTracer",
    }
    assert all(issubclass(c, _render.FriendlyRepr) for c in explorers)


def test_needs_kernel_marks_the_saved_widget():
    class Demo(_render.NeedsKernel, widgets.VBox):
        pass

    demo = Demo(children=[widgets.IntSlider()])
    assert _render.NEEDS_KERNEL_CLASS in demo._dom_classes
    assert repr(demo).startswith("Run this cell")
