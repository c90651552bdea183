"""Feature-map browser and Grad-CAM explorer: pure cores against cnncourse.explain and torch,
renderers, and the views driven through their controls."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cnncourse import data, explain, models, viz
from cnncourse.widgets import _render
from cnncourse.widgets import feature_maps as fm
from cnncourse.widgets import gradcam_explorer as ge


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return models.lenet5_modern().eval()


@pytest.fixture(scope="module")
def digits():
    x, y = data.mnist_bundled()
    images = torch.tensor(x[:6], dtype=torch.float32)[:, None] / 255.0
    return (images - 0.1307) / 0.3081, y[:6]


def png_pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


# ----------------------------------------------------------------------------- browser core


def test_map_layers_of_lenet(model, digits):
    assert fm.map_layers(model, digits[0]) == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]


def test_browse_is_explain_feature_maps(model, digits):
    x, _ = digits
    for layer, channel in [("conv1", 2), ("relu2", 15), ("pool2", 0)]:
        s = fm.browse(model, x, 3, layer, channel)
        ref = explain.feature_maps(model, x[3:4], layer)[layer][0].double().numpy()
        np.testing.assert_array_equal(s.maps, ref)
        np.testing.assert_array_equal(s.activation, ref[channel])
        assert s.channels == ref.shape[0]
        assert (s.index, s.layer, s.channel) == (3, layer, channel)
    assert fm.browse(model, x, 0, "conv1").cmap == fm.SIGNED_CMAP  # conv output is signed
    relu = fm.browse(model, x, 0, "relu1")
    assert relu.cmap == fm.POSITIVE_CMAP and relu.vmin == 0 and relu.vmax == relu.maps.max()
    assert fm.browse(model, x, 1).layer == "conv1"  # default: the first map layer
    assert "6 maps of 28x28" in fm.browse(model, x, 0, "conv1").summary


def test_display_images_are_min_max_scaled(digits):
    x, _ = digits
    img = _render.display_images(x.numpy())
    assert img.shape == (6, 28, 28)
    np.testing.assert_allclose(img.min((1, 2)), 0)
    np.testing.assert_allclose(img.max((1, 2)), 1)
    raw = data.mnist_bundled()[0][:6] / 255.0
    np.testing.assert_allclose(
        img, (raw - raw.min((1, 2), keepdims=True)) / np.ptp(raw, (1, 2))[:, None, None], atol=1e-6
    )


@settings(max_examples=40)
@given(
    c=st.integers(1, 17),
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    ncols=st.one_of(st.none(), st.integers(1, 6)),
    gap=st.integers(0, 2),
)
def test_tile_places_every_channel(c, h, w, ncols, gap):
    maps = np.arange(c * h * w, dtype=float).reshape(c, h, w)
    out = fm.tile(maps, ncols, gap)
    cols = int(np.ceil(np.sqrt(c))) if ncols is None else ncols
    rows = -(-c // cols)
    assert out.shape == (rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap)
    for k in range(c):
        r, q = divmod(k, cols)
        np.testing.assert_array_equal(
            out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w], maps[k]
        )
    assert np.isnan(out).sum() == out.size - c * h * w


def test_colour_range():
    assert fm.colour_range(np.array([0.0, 2.0])) == (0.0, 2.0, fm.POSITIVE_CMAP)
    assert fm.colour_range(np.array([-3.0, 2.0])) == (-3.0, 3.0, fm.SIGNED_CMAP)
    assert fm.colour_range(np.zeros(4)) == (0.0, 1.0, fm.POSITIVE_CMAP)
    assert fm.colour_range(np.array([np.nan, 1.0])) == (0.0, 1.0, fm.POSITIVE_CMAP)


def test_map_png():
    grid = fm.tile(np.ones((3, 2, 2)), ncols=2)  # 5x5 with a NaN cross and an empty cell
    pixels = png_pixels(fm.map_png(grid, 0.0, 1.0, "viridis", target=10))
    assert pixels.shape == (10, 10, 3)
    np.testing.assert_array_equal(pixels[4, 4], [255, 255, 255])  # gutter: white
    top = _render.to_rgb(np.ones((1, 1)), 0.0, 1.0, "viridis")[0, 0]
    np.testing.assert_array_equal(pixels[0, 0], top)  # a value of 1 = vmax


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(index=6), ValueError, "index"),
        (dict(index=-1), ValueError, "index"),
        (dict(layer="conv1", channel=6), ValueError, "channel"),
        (dict(layer="fc1"), ValueError, "not maps"),
        (dict(layer="conv7"), ValueError, "layers"),
        (dict(channel=1.5), TypeError, "channel"),
    ],
)
def test_browse_bad_input(model, digits, kwargs, error, match):
    with pytest.raises(error, match=match):
        fm.browse(model, digits[0], **kwargs)


def test_tile_bad_input():
    with pytest.raises(ValueError, match="maps"):
        fm.tile(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="ncols"):
        fm.tile(np.zeros((2, 2, 2)), ncols=0)


# ----------------------------------------------------------------------------- browser view


def test_browser_view_follows_its_controls(model, digits):
    x, y = digits
    b = fm.FeatureMapBrowser(model, x, labels=y)
    assert b.result.layer == "conv1" and b.channel.max == 5
    assert "label" in b.caption.value
    first = b.map_view.value
    b.channel.value = 4
    np.testing.assert_array_equal(
        b.result.activation, fm.browse(model, x, 0, "conv1", 4).activation
    )
    assert b.map_view.value != first
    b.layer.value = "relu2"
    assert b.channel.max == 15 and b.result.layer == "relu2" and b.result.channel == 4
    b.channel.value = 15
    b.layer.value = "pool1"  # 6 channels: the channel slider is clamped to 5
    assert b.channel.value == 5 and b.result.channel == 5
    grid = b.grid_view.value
    b.index.value = 2
    assert b.result.index == 2 and b.grid_view.value != grid
    assert "pool1: 6 maps of 14x14" in b.message.value
    assert "cnncourse-feature-map-browser" in b._dom_classes
    assert "cnncourse-fmap-channel" in b.channel._dom_classes


def test_browser_shows_errors_as_messages(model, digits):
    b = fm.FeatureMapBrowser(model, digits[0], layers=["conv2", "fc1"])
    good = b.result
    b.layer.value = "fc1"
    assert "not maps" in b.message.value and "color:#b00" in b.message.value
    assert b.result is good  # last good state kept
    b.layer.value = "conv2"
    assert b.result.layer == "conv2" and "color" not in b.message.value


def test_browser_static_figure(model, digits):
    x, y = digits
    fig = fm.figure(model, x, 1, ["conv1", "relu1", "conv2"], max_channels=6, labels=y)
    assert np.array(fig.axes).size == 3 * 7
    assert "image 1" in fig._suptitle.get_text()


def test_state_figure(model, digits):
    x, _ = digits
    states = [fm.browse(model, x, 0, "conv1", 2), fm.browse(model, x, 5, "relu2", 7)]
    fig = fm.state_figure(states)
    assert len(fig.axes) == 2 * 3 + 2  # three panels per row and a colour bar per grid
    assert fig.axes[1].get_title() == "conv1, channel 2"
    with pytest.raises(TypeError, match="states"):
        fm.state_figure([])


# ----------------------------------------------------------------------------- Grad-CAM core


def test_explore_is_explain_grad_cam(model, digits):
    x, _ = digits
    s = ge.explore(model, x, 2, 7, "conv2", alpha=0.3)
    np.testing.assert_array_equal(
        s.heat, explain.grad_cam(model, x[2:3], 7, "conv2")[0].double().numpy()
    )
    np.testing.assert_allclose(s.overlay, viz.grad_cam_overlay(s.image, s.heat, alpha=0.3))
    with torch.no_grad():
        p = torch.softmax(model(x[2:3]).double(), 1)[0].numpy()
    np.testing.assert_allclose(s.probabilities, p, rtol=1e-6)
    assert s.target == 7 and s.layer == "conv2"
    predicted = ge.explore(model, x, 2)
    assert predicted.target == predicted.predicted == int(np.argmax(p))
    assert predicted.layer == ge.default_layer(model) == "relu2"


def test_default_layer():
    conv_last = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten())
    assert ge.default_layer(conv_last) == "0"
    nested = torch.nn.Sequential(
        torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU()), torch.nn.Conv2d(2, 2, 1)
    )
    assert ge.default_layer(nested) == "1"
    assert ge.default_layer(models.resnet20()) == "layer3.2.conv2"  # followed by a batch norm
    with pytest.raises(ValueError, match="Conv2d"):
        ge.default_layer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)))


def test_class_probabilities_restore_the_mode(model, digits):
    model.train()
    try:
        p = ge.class_probabilities(model, digits[0])
        assert model.training
    finally:
        model.eval()
    assert p.shape == (6, 10)
    np.testing.assert_allclose(p.sum(1), 1)


def test_probabilities_html():
    text = ge.probabilities_html([0.1, 0.7, 0.2], ["a", "b", "c"], target=2)
    assert text.count("cnncourse-gradcam-prob-row") == 3
    assert "font-weight:bold" in text.split("b</td>")[0].rsplit("<tr", 1)[1]
    assert "outline" in text.split("<tr")[3] and "0.700" in text
    with pytest.raises(ValueError, match="class_names"):
        ge.probabilities_html([0.5, 0.5], ["a"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(index=9), ValueError, "index"),
        (dict(target=10), ValueError, "target"),
        (dict(target=-2), ValueError, "target"),
        (dict(layer="fc3"), ValueError, "layer"),
        (dict(alpha=1.5), ValueError, "alpha"),
    ],
)
def test_explore_bad_input(model, digits, kwargs, error, match):
    with pytest.raises(error, match=match):
        ge.explore(model, digits[0], **kwargs)


# ----------------------------------------------------------------------------- Grad-CAM view


def test_gradcam_view_follows_its_controls(model, digits):
    x, y = digits
    e = ge.GradCamExplorer(model, x, labels=y)
    assert e.result.target == e.result.predicted
    e.target.value = 3
    assert e.result.target == 3
    np.testing.assert_array_equal(e.result.heat, ge.explore(model, x, 0, 3).heat)
    assert "explaining 3" in e.message.value
    heat, overlay = e.result.heat, e.overlay_view.value
    e.alpha.value = 0.9
    np.testing.assert_array_equal(e.result.heat, heat)  # same map, drawn more opaque
    assert e.overlay_view.value != overlay
    e.index.value = 4
    assert e.result.index == 4 and f"label {y[4]}" in e.message.value
    e.target.value = ge.PREDICTED
    assert e.result.target == e.result.predicted
    assert e.probabilities.value.count("cnncourse-gradcam-prob-row") == 10
    assert "cnncourse-gradcam-explorer" in e._dom_classes
    assert png_pixels(e.overlay_view.value).shape == (196, 196, 3)


def test_gradcam_view_shows_errors_as_messages(model, digits):
    e = ge.GradCamExplorer(model, digits[0], layer="fc3")
    assert e.result is None and "4-D output" in e.message.value


def test_gradcam_static_figure(model, digits):
    x, y = digits
    fig = ge.figure(model, x, [0, 3], labels=y)
    assert np.array(fig.axes).size == 8
    assert "Grad-CAM" in fig._suptitle.get_text()


def test_a_flat_grad_cam_map_is_shown_as_the_image_with_a_message(digits):
    # a head of zeros gives zero gradients, so the map is exactly 0: min-max scaling it would
    # have turned float noise into a blob; the explorer says there is nothing to show instead
    x, _ = digits
    flat_model = models.lenet5_modern().eval()
    with torch.no_grad():
        for p in flat_model.fc3.parameters():
            p.zero_()
    state = ge.explore(flat_model, x, 0)
    assert state.flat and state.heat.max() <= ge.FLAT_FRACTION * state.strength
    np.testing.assert_array_equal(state.overlay, np.repeat(state.image[..., None], 3, axis=2))
    view = ge.GradCamExplorer(flat_model, x)
    assert "Nothing to show" in view.message.value and "~0 everywhere" in view.message.value
    fig = ge.figure(flat_model, x, [0])
    assert "(map ~0)" in fig.axes[1].get_title()
    plt.close(fig)


def test_a_trained_model_opens_on_a_meaningful_map(digits):
    from cnncourse.train import reference

    x, _ = digits
    trained = reference.load_bundled("lenet5_modern_mnist_bundled")
    view = ge.GradCamExplorer(trained, x)
    assert not view.result.flat and "Nothing to show" not in view.message.value
