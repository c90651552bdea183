"""Architecture explorer: the pure core (and tracer's model analysis) checked, the view driven."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cnncourse import models, shapes, tracer  # noqa: E402
from cnncourse.widgets import architecture_explorer as ae  # noqa: E402


def chain_rf(layers):
    """Receptive field of a chain of (kernel, stride), by the textbook recursion."""
    rf, jump = 1, 1
    for k, s in layers:
        rf += (k - 1) * jump
        jump *= s
    return rf


@pytest.mark.parametrize(
    "name", ["lenet5", "alexnet", "vgg16", "resnet50", "googlenet", "mobilenet_v1"]
)
def test_counts_match_the_models_and_flop_counter(name):
    ctor, shape = models.MODELS[name]
    result = ae.explore(name)
    with torch.device("meta"):
        model = ctor()
    assert result.parameters == shapes.count_parameters(model)
    assert result.mult_adds == models.count_multiply_adds(model, shape)
    assert result.input_shape == (1, *shape)


@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern", "alexnet", "vgg11", "vgg19"])
def test_longest_path_rf_equals_traces_chain_rf(name):
    # for plain chains, tracer.trace tracks the receptive field itself: both must agree
    result = ae.explore(name)
    traced = {row.name: row.receptive_field[0] for row in result.table if row.receptive_field}
    assert result.receptive_field
    for step in result.receptive_field:
        assert traced[step.name] == step.size


def test_known_receptive_fields():
    vgg = {s.name: s.size for s in ae.explore("vgg16").receptive_field}
    assert vgg["conv5_3"] == 196 and vgg["pool5"] == 212
    assert ae.explore("alexnet").receptive_field[-1].size == 195
    basic = [(7, 2), (3, 2)] + [(3, 1)] * 4 + [(3, 2), (3, 1), (3, 1), (3, 1)] * 3
    assert ae.explore("resnet18").receptive_field[-1].size == chain_rf(basic) == 435
    # ResNet-50: per bottleneck 1x1, 3x3 (stride on the 3x3), 1x1
    bottleneck = [(7, 2), (3, 2)]
    for blocks, stride in ((3, 1), (4, 2), (6, 2), (3, 2)):
        for i in range(blocks):
            bottleneck += [(1, 1), (3, stride if i == 0 else 1), (1, 1)]
    assert ae.explore("resnet50").receptive_field[-1].size == chain_rf(bottleneck)
    # GoogLeNet's longest path goes through the 5x5 branch of every Inception module
    names = [s.name for s in ae.explore("googlenet").receptive_field]
    assert "inception3a.branch3.1.0" in names and not any("branch2" in n for n in names)


@pytest.mark.parametrize(
    "name, depth",
    [("lenet5", 5), ("alexnet", 8), ("vgg16", 16), ("vgg19", 19), ("googlenet", 22),
     ("resnet18", 18), ("resnet50", 50), ("resnet152", 152), ("se_resnet50", 50),
     ("mobilenet_v1", 28), ("resnet56", 56)],
)  # fmt: skip
def test_depth_is_the_number_in_the_name(name, depth):
    assert ae.explore(name).depth == depth


def test_tracer_analysis_directly():
    with torch.device("meta"):
        net = models.resnet20()
    net.train()
    table = tracer.trace(net, (1, 3, 32, 32))
    assert tracer.longest_path_depth(net, table) == 20
    steps = tracer.longest_path_receptive_field(net, table)
    assert steps == ae.explore("resnet20").receptive_field
    assert [s.name for s in tracer.stages(net, (1, 3, 32, 32))][-1] == "fc"
    assert net.training and net.layer1[0].training  # modes restored after the hooked run
    with pytest.raises(TypeError, match="table"):
        tracer.longest_path_depth(net, list(table))
    with pytest.raises(TypeError, match="model"):
        tracer.longest_path_receptive_field("resnet20", table)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        tracer.stages(nn.Linear(3, 2), (1, 3))


def test_longest_path_skips_side_branches():
    names = [s.name for s in ae.explore("se_resnet50").receptive_field]
    assert names and not any("shortcut" in n or "attention" in n for n in names)
    assert names == [s.name for s in ae.explore("resnet50").receptive_field]


def test_funnel_stages():
    stages = [(s.size, s.channels) for s in ae.explore("resnet50").stages]
    assert stages == [(224, 3), (112, 64), (56, 256), (28, 512), (14, 1024), (7, 2048), (1, 1000)]
    stages = ae.explore("googlenet").stages
    assert [(s.size, s.channels) for s in stages][3:6] == [(28, 480), (14, 832), (7, 1024)]
    assert [s.name for s in stages][3:6] == ["inception3b", "inception4e", "inception5b"]
    small = [(s.size, s.channels) for s in ae.explore("resnet20", 64).stages]
    assert small == [(64, 3), (64, 16), (32, 32), (16, 64), (1, 10)]


def test_other_input_sizes_change_the_result():
    a, b = ae.explore("resnet18", 224), ae.explore("resnet18", 448)
    assert a.parameters == b.parameters
    assert b.mult_adds == pytest.approx(4 * a.mult_adds, rel=0.01)
    assert b.stages[-2].size == 14


@pytest.mark.parametrize(
    "args, exc, match",
    [
        (("alexnet", 224), ValueError, "native size"),
        (("lenet5", 28), ValueError, "too small"),
        (("resnet1000",), ValueError, "model must be one of"),
        (("resnet18", 4), ValueError, "input_size must be between 8 and 512, got 4"),
        (("resnet18", 1024), ValueError, "input_size"),
        (("resnet18", 22.5), TypeError, "input_size"),
    ],
)
def test_bad_inputs(args, exc, match):
    with pytest.raises(exc, match=match):
        ae.explore(*args)


def test_figure_has_titles_and_labels():
    fig = ae.architecture_figure(ae.explore("vgg16"))
    ax1, ax2 = fig.axes
    assert "212" in ax1.get_title() and ax1.get_ylabel() == "pixels"
    assert ax2.get_title() and ax2.get_xlabel()
    assert "138,357,544" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(TypeError, match="result"):
        ae.architecture_figure("vgg16")


def test_view_driven_by_its_controls():
    view = ae.ArchitectureExplorer("resnet20")
    assert view.result.model == "resnet20" and view.input_size.value == 32
    assert view.plot.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "269,722" in view.summary.value and view.message.value == ""
    first_png = view.plot.value

    view.model.value = "alexnet"  # the slider jumps to the native size
    assert view.input_size.value == 227
    assert view.result.model == "alexnet" and view.result.parameters == 62_378_344
    assert view.plot.value != first_png
    assert "cnncourse-shape-table" in view.table.value

    view.input_size.value = 224  # the 224-vs-227 lesson: shown as a message, not a traceback
    assert view.result is None and "native size" in view.error
    assert "Cannot build" in view.message.value and view.table.value == ""

    view.input_size.value = 227
    assert view.result is not None and view.message.value == ""

    view.model.value = "mobilenet_v1"
    view.input_size.value = 160
    assert view.result.input_shape == (1, 3, 160, 160)
    assert view.result.stages[-2].size == 5
    assert "cnncourse-architecture-explorer" in view._dom_classes


def test_view_rejects_bad_initial_arguments():
    with pytest.raises(ValueError, match="model"):
        ae.ArchitectureExplorer("inception_v9")


def test_explorer_invalid_size_hides_the_plot_and_explains_in_plain_english_first():
    view = ae.ArchitectureExplorer("alexnet")
    view.input_size.value = 224
    assert view.plot.layout.display == "none"  # no broken-image icon under the message
    reason = view.error.split(": ", 1)[1]
    assert reason.startswith("the flattened feature map") and "PyTorch says" in reason
    assert reason.index("native size") < reason.index("PyTorch says")
    view.input_size.value = 227
    assert view.plot.layout.display is None and view.plot.value[:4] == b"\x89PNG"


@pytest.mark.parametrize("text", ["abc", "2.5", "7", "999", ""])
def test_explorer_typed_size_that_is_not_valid_gives_a_message(text):
    view = ae.ArchitectureExplorer("resnet18")
    before = view.input_size.value
    view.size_text.value = text
    assert "must be a whole number between 8 and 512" in view.message.value
    assert repr(text) in view.error and view.input_size.value == before
    view.size_text.value = "64"
    assert view.input_size.value == 64 and view.message.value == "" and view.result is not None
