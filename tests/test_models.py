"""The model zoo: parameter counts, shapes, multiply-adds and building blocks, proven.

References: published parameter counts (torchvision's for the ImageNet models, the papers' for
the CIFAR ResNets and MobileNet), closed-form counts, torch.nn.functional re-computations of the
building blocks, and two independent multiply-add counters (FlopCounterMode vs forward hooks).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnncourse import models
from cnncourse.models import vgg as vgg_module
from cnncourse.models.alexnet import native_size as alexnet_native_size
from cnncourse.models.googlenet import INCEPTION_CONFIG
from cnncourse.models.resnet import ZeroPadShortcut


def on_meta(ctor, *args, **kwargs) -> nn.Module:
    """Build a model on the meta device: shapes and counts without memory or compute."""
    with torch.device("meta"):
        return ctor(*args, **kwargs)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def stage_shapes(model: nn.Module, names: list[str], input_shape) -> dict[str, tuple]:
    """Output shapes of the named submodules for one forward pass on zeros."""
    shapes: dict[str, tuple] = {}
    handles = [
        getattr(model, n).register_forward_hook(
            lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape))
        )
        for n in names
    ]
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        model(torch.zeros(1, *input_shape, device=device))
    for h in handles:
        h.remove()
    return shapes


# Published parameter counts at the default num_classes / in_channels (see module docstrings).
PUBLISHED_PARAMETERS = {
    "lenet5": 61_706,  # the textbook LeNet-5 (digest of the course book, L6643)
    "lenet5_modern": 61_706,  # same layer sizes, 'same' first conv on 28x28
    "alexnet": 62_378_344,  # one-tower, 227x227
    "vgg11": 132_863_336,  # torchvision vgg11
    "vgg13": 133_047_848,  # torchvision vgg13
    "vgg16": 138_357_544,  # torchvision vgg16 / Keras VGG16
    "vgg19": 143_667_240,  # torchvision vgg19
    "googlenet": 6_998_552,  # the paper's variant (Keras listing of the course book)
    "resnet18": 11_689_512,  # torchvision
    "resnet34": 21_797_672,  # torchvision
    "resnet50": 25_557_032,  # torchvision
    "resnet101": 44_549_160,  # torchvision
    "resnet152": 60_192_808,  # torchvision
    "mobilenet_v1": 4_231_976,  # paper Table 1: "4.2 million"
}


# Multiply-adds at native size, in G: VGG-16 15.47, ResNet-18 1.81, ResNet-50 4.09 (torchvision's
# documented "GFLOPS", which are multiply-adds), GoogLeNet "1.5 billion" (paper section 5).
PUBLISHED_GMACS = {"vgg16": (15.47, 2), "resnet18": (1.81, 2), "resnet50": (4.09, 2),
                   "googlenet": (1.6, 1)}  # fmt: skip


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_model_forward_parameters_and_multiply_adds(name):
    ctor, shape = models.MODELS[name]
    model = ctor().eval()
    default_classes = 10 if shape[1] <= 32 else 1000
    if name in PUBLISHED_PARAMETERS:
        assert n_params(model) == PUBLISHED_PARAMETERS[name]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(torch.randn(1, *shape))  # the real CPU forward pass at native size
    assert out.shape == (1, default_classes)
    assert torch.isfinite(out).all()
    macs = counter.get_total_flops() // 2
    assert macs > 0
    assert macs == models.count_multiply_adds_hooks(on_meta(ctor), shape)
    if name in PUBLISHED_GMACS:
        value, digits = PUBLISHED_GMACS[name]
        assert round(macs / 1e9, digits) == value


def test_count_multiply_adds_is_flop_counter_over_two():
    model = models.resnet20()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(2, 3, 32, 32))
    assert models.count_multiply_adds(model, (2, 3, 32, 32)) * 2 == counter.get_total_flops()
    assert models.count_multiply_adds(model, (2, 3, 32, 32)) == 2 * 40_551_040


@pytest.mark.parametrize(
    "alpha, params_m, macs_m",
    [(1.0, 4.2, 569), (0.75, 2.6, 325), (0.5, 1.3, 149), (0.25, 0.5, 41)],
)
def test_mobilenet_width_multiplier_matches_paper_table6(alpha, params_m, macs_m):
    model = on_meta(models.mobilenet_v1, width_mult=alpha)
    assert round(n_params(model) / 1e6, 1) == params_m
    assert round(models.count_multiply_adds(model, (3, 224, 224)) / 1e6) == macs_m


def test_alexnet_conv1_multiply_adds_at_227():
    model = on_meta(models.alexnet)
    conv1_only = nn.Sequential(model.conv1)
    assert models.count_multiply_adds(conv1_only, (3, 227, 227)) == 55 * 55 * 96 * 11 * 11 * 3


# --- LeNet -----------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(num_classes=st.integers(1, 50), in_channels=st.integers(1, 5))
def test_lenet5_closed_form_count_and_shapes(num_classes, in_channels):
    model = models.lenet5(num_classes, in_channels)
    assert n_params(model) == models.lenet5_parameters(num_classes, in_channels)
    assert model(torch.zeros(2, in_channels, 32, 32)).shape == (2, num_classes)
    modern = models.lenet5_modern(num_classes, in_channels)
    assert n_params(modern) == n_params(model)
    assert modern(torch.zeros(2, in_channels, 28, 28)).shape == (2, num_classes)


@pytest.mark.parametrize("size", [32, 33, 40, 64])
def test_lenet5_input_size_sizes_f6(size):
    model = models.lenet5(input_size=size)
    c5 = ((size - 4) // 2 - 4) // 2 - 4  # C1, S2, C3, S4, C5 by hand
    assert model.F6.in_features == 120 * c5 * c5
    assert model(torch.zeros(1, 1, size, size)).shape == (1, 10)
    if size == 32:  # the default is the paper's network
        assert n_params(model) == n_params(models.lenet5()) == 61_706


def test_lenet5_input_size_rejects_too_small_inputs():
    with pytest.raises(ValueError, match="kernel_size 5"):
        models.lenet5(input_size=31)
    with pytest.raises(TypeError, match="input_size"):
        models.lenet5(input_size=32.0)


def test_lenet5_layer_shapes_follow_the_paper():
    model = models.lenet5()
    names = ["C1", "S2", "C3", "S4", "C5", "F6"]
    shapes = stage_shapes(model, names, (1, 32, 32))
    assert shapes == {
        "C1": (1, 6, 28, 28),
        "S2": (1, 6, 14, 14),
        "C3": (1, 16, 10, 10),
        "S4": (1, 16, 5, 5),
        "C5": (1, 120, 1, 1),
        "F6": (1, 84),
    }
    assert isinstance(model.S2, nn.AvgPool2d) and isinstance(model.tanh1, nn.Tanh)


def test_lenet5_modern_batch_norm_variant():
    model = models.lenet5_modern(batch_norm=True)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model.conv1.bias is None
    # conv biases (6 + 16) are replaced by BN scale and shift (2 * (6 + 16))
    assert n_params(model) == 61_706 - 22 + 44
    assert not any(isinstance(m, nn.BatchNorm2d) for m in models.lenet5_modern().modules())


# --- AlexNet ---------------------------------------------------------------------------------


def test_alexnet_variants_parameter_counts():
    assert n_params(on_meta(models.alexnet, variant="original")) == 62_378_344
    assert n_params(on_meta(models.alexnet, variant="two_tower")) == 60_965_224
    assert n_params(on_meta(models.alexnet, variant="torchvision")) == 61_100_840  # torchvision
    assert alexnet_native_size("original") == 227
    assert alexnet_native_size("torchvision") == 224


def test_alexnet_227_gives_55_and_224_gives_54():
    model = on_meta(models.alexnet).eval()
    assert stage_shapes(model, ["conv1", "pool5"], (3, 227, 227)) == {
        "conv1": (1, 96, 55, 55),
        "pool5": (1, 256, 6, 6),
    }
    x224 = torch.zeros(1, 3, 224, 224, device="meta")
    assert model.conv1(x224).shape == (1, 96, 54, 54)
    features = model[: list(model._modules).index("pool5") + 1]
    assert features(x224).shape == (1, 256, 5, 5)  # 5x5x256 = 6,400 features
    with pytest.raises(RuntimeError):  # ... which do not fit fc6 (9,216 inputs)
        model(x224)
    tv = on_meta(models.alexnet, variant="torchvision").eval()
    assert tv.conv1(x224).shape == (1, 64, 55, 55)
    assert tv(x224).shape == (1, 1000)


def test_alexnet_two_tower_is_grouped_like_the_paper():
    model = models.alexnet(variant="two_tower")
    assert [model.conv2.groups, model.conv3.groups, model.conv4.groups, model.conv5.groups] == [
        2,
        1,
        2,
        2,
    ]


# --- VGG ---------------------------------------------------------------------------------------


def vgg_closed_form(config, num_classes, in_channels, batch_norm=False):
    total, c = 0, in_channels
    for v in config:
        if v == "M":
            continue
        total += 9 * c * v + v + (2 * v if batch_norm else 0)
        c = v
    return total + (c * 49 + 1) * 4096 + 4097 * 4096 + 4097 * num_classes


@pytest.mark.parametrize("name", ["vgg11", "vgg13", "vgg16", "vgg19"])
def test_vgg_matches_closed_form(name):
    config = vgg_module.CONFIGS[name]
    n_conv = sum(v != "M" for v in config)
    assert n_conv + 3 == int(name[3:])  # VGG-N has N weight layers
    model = on_meta(getattr(models, name), num_classes=7, in_channels=2, batch_norm=True)
    assert n_params(model) == vgg_closed_form(config, 7, 2, batch_norm=True)


@pytest.mark.parametrize("size, final", [(224, 7), (32, 1), (100, 3), (64, 2)])
def test_vgg_input_size_sizes_fc6(size, final):
    model = on_meta(vgg_module.vgg_from_config, vgg_module.CONFIGS["vgg11"], 5, input_size=size)
    assert model.fc6.in_features == 512 * final * final
    assert model(torch.zeros(1, 3, size, size, device="meta")).shape == (1, 5)
    with pytest.raises(ValueError, match="kernel_size 2"):
        vgg_module.vgg_from_config(vgg_module.CONFIGS["vgg11"], input_size=31)


def test_vgg16_stage_shapes_and_fc6_share():
    model = on_meta(models.vgg16)
    names = ["pool1", "pool2", "pool3", "pool4", "pool5"]
    shapes = stage_shapes(model, names, (3, 224, 224))
    assert [s[1:] for s in shapes.values()] == [
        (64, 112, 112),
        (128, 56, 56),
        (256, 28, 28),
        (512, 14, 14),
        (512, 7, 7),
    ]
    assert n_params(model.fc6) == 102_764_544
    assert round(n_params(model.fc6) / n_params(model), 2) == 0.74


def test_vgg_from_config_rejects_bad_config():
    with pytest.raises(ValueError, match="config"):
        models.vgg_from_config(["M"])
    with pytest.raises(ValueError, match="config"):
        models.vgg_from_config([64, -3, "M"])


# --- GoogLeNet ---------------------------------------------------------------------------------


def test_googlenet_module_output_channels_and_sizes():
    model = on_meta(models.googlenet)
    names = [f"inception{k}" for k in INCEPTION_CONFIG]
    shapes = stage_shapes(model, names, (3, 224, 224))
    assert [s[1] for s in shapes.values()] == [256, 480, 512, 512, 512, 528, 832, 832, 1024]
    assert [s[2] for s in shapes.values()] == [28, 28, 14, 14, 14, 14, 14, 7, 7]
    # each module's input is the previous one's output
    ins = [cfg[0] for cfg in INCEPTION_CONFIG.values()]
    assert ins[1:] == [s[1] for s in shapes.values()][:-1]


@settings(max_examples=20, deadline=None)
@given(
    chans=st.lists(st.integers(1, 12), min_size=7, max_size=7),
    size=st.integers(1, 12),
)
def test_inception_concatenates_its_branches(chans, size):
    block = models.Inception(*chans).eval()
    x = torch.randn(2, chans[0], size, size)
    out = block(x)
    assert out.shape == (2, chans[1] + chans[3] + chans[5] + chans[6], size, size)
    expected = torch.cat(
        [block.branch1(x), block.branch2(x), block.branch3(x), block.branch4(x)], 1
    )
    torch.testing.assert_close(out, expected)
    # the pool branch really is max pool 3x3/1 then 1x1 conv + ReLU
    ref = F.relu(
        F.conv2d(F.max_pool2d(x, 3, 1, 1), block.branch4[1][0].weight, block.branch4[1][0].bias)
    )
    torch.testing.assert_close(block.branch4(x), ref)


def test_googlenet_aux_heads_only_in_training():
    model = on_meta(models.googlenet, num_classes=5, aux_logits=True)
    main = 6_998_552 - (1024 * 1000 + 1000) + (1024 * 5 + 5)

    def head(c_in):  # 1x1 conv 128, FC 2048 -> 1024, FC 1024 -> 5
        return (c_in * 128 + 128) + (2048 * 1024 + 1024) + (1024 * 5 + 5)

    assert n_params(model) == main + head(512) + head(528)
    x = torch.zeros(2, 3, 224, 224, device="meta")
    out = model.train()(x)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 5)] * 3
    assert model.eval()(x).shape == (2, 5)


# --- ResNet ------------------------------------------------------------------------------------


def test_resnet50_stage_shapes_and_block_structure():
    model = on_meta(models.resnet50)
    shapes = stage_shapes(model, ["maxpool", "layer1", "layer2", "layer3", "layer4"], (3, 224, 224))
    assert [s[1:] for s in shapes.values()] == [
        (64, 56, 56),
        (256, 56, 56),
        (512, 28, 28),
        (1024, 14, 14),
        (2048, 7, 7),
    ]
    block = model.layer1[0]
    assert isinstance(block, models.Bottleneck)
    kernels = [block.conv1.kernel_size, block.conv2.kernel_size, block.conv3.kernel_size]
    assert kernels == [(1, 1), (3, 3), (1, 1)]
    assert (block.conv1.out_channels, block.conv3.out_channels) == (64, 256)
    assert [len(s) for s in (model.layer1, model.layer2, model.layer3, model.layer4)] == [
        3,
        4,
        6,
        3,
    ]
    # v1.5: the stride of a downsampling block is on the 3x3
    assert model.layer2[0].conv2.stride == (2, 2) and model.layer2[0].conv1.stride == (1, 1)


def test_basic_and_bottleneck_blocks_against_functional():
    torch.manual_seed(0)
    block = models.BasicBlock(8, 16, stride=2).eval()
    x = torch.randn(2, 8, 9, 9)

    def bn(m, t):
        return F.batch_norm(t, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    for m in block.modules():  # non-trivial BN statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 2)
    h = F.relu(bn(block.bn1, F.conv2d(x, block.conv1.weight, stride=2, padding=1)))
    h = bn(block.bn2, F.conv2d(h, block.conv2.weight, padding=1))
    sc = bn(block.shortcut[1], F.conv2d(x, block.shortcut[0].weight, stride=2))
    torch.testing.assert_close(block(x), F.relu(h + sc))

    bott = models.Bottleneck(32, 8).eval()  # 32 == 4 * 8: identity shortcut
    assert isinstance(bott.shortcut, nn.Identity)
    x = torch.randn(1, 32, 5, 5)
    h = F.relu(bn(bott.bn1, F.conv2d(x, bott.conv1.weight)))
    h = F.relu(bn(bott.bn2, F.conv2d(h, bott.conv2.weight, padding=1)))
    h = bn(bott.bn3, F.conv2d(h, bott.conv3.weight))
    torch.testing.assert_close(bott(x), F.relu(h + x))


def the_sources_resnet50() -> nn.Module:
    """Source 000's "ResNet50": 3x3-3x3 basic blocks with 64->256->512->1024->2048 channels."""
    model = models.ResNet(models.BasicBlock, (3, 4, 6, 3))
    c, stages = 64, []
    for channels, blocks, stride in ((256, 3, 1), (512, 4, 2), (1024, 6, 2), (2048, 3, 2)):
        stage = [models.BasicBlock(c, channels, stride)]
        stage += [models.BasicBlock(channels, channels) for _ in range(blocks - 1)]
        stages.append(nn.Sequential(*stage))
        c = channels
    model.layer1, model.layer2, model.layer3, model.layer4 = stages
    model.fc = nn.Linear(2048, 1000)
    return model


def test_the_sources_resnet50_from_basic_blocks_is_not_resnet50():
    fake = on_meta(the_sources_resnet50).eval()
    real = on_meta(models.resnet50).eval()
    x = torch.zeros(1, 3, 224, 224, device="meta")
    assert fake(x).shape == real(x).shape == (1, 1000)  # same outside...
    assert n_params(fake) > 6 * n_params(real)  # ...but six times the parameters
    fake_macs = models.count_multiply_adds_hooks(fake, (3, 224, 224))
    assert fake_macs > 10 * models.count_multiply_adds_hooks(real, (3, 224, 224))
    # 16 blocks x 2 convs + stem + fc = 34 weight layers (+ 4 projections), not 50
    convs = [m for m in fake.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 32


@pytest.mark.parametrize(
    "ctor, depth, params_m", [(models.resnet20, 20, 0.27), (models.resnet32, 32, 0.46),
                              (models.resnet44, 44, 0.66), (models.resnet56, 56, 0.85)]
)  # fmt: skip
def test_cifar_resnets_match_paper_table6(ctor, depth, params_m):
    model = ctor()
    assert round(n_params(model) / 1e6, 2) == params_m
    weight_layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weight_layers) == depth  # option A adds no layers
    shapes = stage_shapes(model, ["layer1", "layer2", "layer3"], (3, 32, 32))
    assert [s[1:] for s in shapes.values()] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


def test_resnet20_exact_counts_for_both_shortcut_options():
    assert n_params(models.resnet20()) == 269_722
    # option B: 1x1 projections 16->32 and 32->64 with batch norm
    assert n_params(models.resnet20(shortcut="B")) == 269_722 + 16 * 32 + 64 + 32 * 64 + 128


@settings(max_examples=25, deadline=None)
@given(
    c_in=st.integers(1, 8),
    extra=st.integers(0, 8),
    stride=st.integers(1, 3),
    size=st.integers(1, 9),
)
def test_zero_pad_shortcut_against_manual(c_in, extra, stride, size):
    x = torch.randn(2, c_in, size, size)
    out = ZeroPadShortcut(c_in, c_in + extra, stride)(x)
    expected = torch.zeros(2, c_in + extra, -(-size // stride), -(-size // stride))
    expected[:, :c_in] = x[:, :, ::stride, ::stride]
    torch.testing.assert_close(out, expected)


def test_cifar_resnet_rejects_bad_depth_and_shortcut():
    with pytest.raises(ValueError, match="depth"):
        models.CifarResNet(21)
    with pytest.raises(ValueError, match="depth"):
        models.CifarResNet(2)
    with pytest.raises(ValueError, match="shortcut"):
        models.resnet20(shortcut="C")


def test_residual_stack_same_parameters_different_function():
    torch.manual_seed(0)
    plain = models.residual_stack(depth=10, width=4, skip=False)
    torch.manual_seed(0)
    res = models.residual_stack(depth=10, width=4, skip=True)
    assert n_params(plain) == n_params(res)
    layers = [m for m in res.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 10
    x = torch.randn(3, 1, 28, 28)
    assert res(x).shape == (3, 10)
    assert not torch.allclose(plain(x), res(x))
    # zero residual branches make a skip pair the identity on non-negative inputs
    pair = res[2]
    for p in pair.parameters():
        nn.init.zeros_(p)
    h = torch.rand(2, 4, 7, 7)
    torch.testing.assert_close(pair(h), h)
    with pytest.raises(ValueError, match="depth"):
        models.residual_stack(depth=9)
    with pytest.raises(ValueError, match="width"):
        models.residual_stack(width=0)


# --- SE ----------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    channels=st.integers(1, 64),
    reduction=st.integers(1, 16),
    size=st.integers(1, 6),
)
def test_se_block_against_functional(channels, reduction, size):
    if reduction > channels:
        with pytest.raises(ValueError, match="reduction"):
            models.SEBlock(channels, reduction)
        return
    block = models.SEBlock(channels, reduction)
    hidden = channels // reduction
    assert n_params(block) == 2 * channels * hidden + hidden + channels
    x = torch.randn(2, channels, size, size)
    z = x.mean(dim=(2, 3))
    s = torch.sigmoid(F.linear(F.relu(F.linear(z, block.fc1.weight, block.fc1.bias)),
                               block.fc2.weight, block.fc2.bias))  # fmt: skip
    torch.testing.assert_close(block(x), x * s[:, :, None, None])
    assert ((s > 0) & (s < 1)).all()


def test_se_resnet50_adds_the_closed_form_se_parameters():
    extra = sum(
        blocks * (2 * c * c // 16 + c // 16 + c)
        for blocks, c in ((3, 256), (4, 512), (6, 1024), (3, 2048))
    )
    model = on_meta(models.se_resnet50)
    assert n_params(model) == 25_557_032 + extra == 28_088_024
    assert isinstance(model.layer3[2].attention, models.SEBlock)
    assert models.se_resnet20(num_classes=3)(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


# --- MobileNet / depthwise-separable -----------------------------------------------------------


def test_depthwise_separable_example_from_the_book():
    # book: DepthwiseSeparableConv(32 -> 64, k=3), input (1, 32, 224, 224) -> (1, 64, 222, 222)
    sep = models.DepthwiseSeparableConv(32, 64, 3, padding=0, batch_norm=False)
    std = nn.Conv2d(32, 64, 3)
    assert sep(torch.zeros(1, 32, 224, 224)).shape == (1, 64, 222, 222)
    assert (n_params(sep), n_params(std)) == (2_432, 18_496)
    shape = (32, 224, 224)
    sep_macs = models.count_multiply_adds(sep, shape)
    std_macs = models.count_multiply_adds(std, shape)
    assert (std_macs, sep_macs) == (908_402_688, 115_127_424)
    assert Fraction(sep_macs, std_macs) == models.separable_cost_ratio(3, 64)
    assert round(float(models.separable_cost_ratio(3, 64)), 4) == 0.1267


@settings(max_examples=40, deadline=None)
@given(
    c=st.integers(1, 12),
    f=st.integers(1, 12),
    k=st.sampled_from([1, 3, 5, 7]),
    stride=st.integers(1, 3),
    size=st.integers(7, 16),
)
def test_separable_cost_ratio_equals_counted_multiply_adds(c, f, k, stride, size):
    sep = models.DepthwiseSeparableConv(c, f, k, stride)
    std = nn.Conv2d(c, f, k, stride=stride, padding=k // 2)
    shape = (c, size, size)
    sep_macs = models.count_multiply_adds(sep, shape)
    assert sep_macs == models.count_multiply_adds_hooks(sep, shape)
    assert Fraction(
        sep_macs, models.count_multiply_adds(std, shape)
    ) == models.separable_cost_ratio(k, f)


@settings(max_examples=25, deadline=None)
@given(
    c=st.integers(1, 6),
    f=st.integers(1, 6),
    k=st.sampled_from([1, 3, 5]),
    stride=st.integers(1, 2),
    padding=st.integers(0, 2),
    size=st.integers(5, 10),
)
def test_depthwise_separable_against_functional(c, f, k, stride, padding, size):
    sep = models.DepthwiseSeparableConv(c, f, k, stride, padding, batch_norm=False)
    x = torch.randn(2, c, size, size)
    d = F.conv2d(x, sep.depthwise.weight, sep.depthwise.bias, stride, padding, groups=c)
    torch.testing.assert_close(sep(x), F.conv2d(d, sep.pointwise.weight, sep.pointwise.bias))
    assert sep.depthwise.weight.shape == (c, 1, k, k)


def test_mobilenet_body_and_width_multiplier():
    model = models.mobilenet_v1(width_mult=0.5, num_classes=3, in_channels=1)
    out_channels = [
        m.pointwise.out_channels for m in model if isinstance(m, models.DepthwiseSeparableConv)
    ]
    assert out_channels == [32, 64, 64, 128, 128, 256, 256, 256, 256, 256, 256, 512, 512]
    assert model(torch.zeros(1, 1, 224, 224)).shape == (1, 3)
    strides = [m.depthwise.stride[0] for m in model if isinstance(m, models.DepthwiseSeparableConv)]
    assert 2 * 2 ** strides.count(2) == 32  # 224 -> 7


def test_separable_cost_ratio_validates():
    assert models.separable_cost_ratio(1, 1) == 2
    with pytest.raises(ValueError, match="kernel_size"):
        models.separable_cost_ratio(0, 4)
    with pytest.raises(ValueError, match="out_channels"):
        models.separable_cost_ratio(3, 0)


# --- argument validation -----------------------------------------------------------------------

SMALL_CTORS = [
    models.lenet5,
    models.lenet5_modern,
    models.alexnet,
    models.vgg11,
    models.googlenet,
    models.resnet18,
    models.resnet50,
    models.resnet20,
    models.se_resnet18,
    models.se_resnet20,
    models.mobilenet_v1,
    models.residual_stack,
]


@pytest.mark.parametrize("ctor", SMALL_CTORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", [0, -1])
def test_bad_num_classes_and_in_channels_raise_value_error(ctor, bad):
    with pytest.raises(ValueError, match=r"num_classes must be >= 1, got " + str(bad)):
        ctor(num_classes=bad)
    with pytest.raises(ValueError, match=r"in_channels must be >= 1, got " + str(bad)):
        ctor(in_channels=bad)


@pytest.mark.parametrize("ctor", [models.lenet5, models.resnet20], ids=lambda c: c.__name__)
def test_non_integer_arguments_raise_type_error(ctor):
    with pytest.raises(TypeError, match="num_classes"):
        ctor(num_classes=2.5)
    with pytest.raises(TypeError, match="in_channels"):
        ctor(in_channels=True)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        models.alexnet(variant="caffe")
    with pytest.raises(ValueError, match="width_mult"):
        models.mobilenet_v1(width_mult=0)
    with pytest.raises(ValueError, match="width_mult"):
        models.mobilenet_v1(width_mult=5)
    with pytest.raises(TypeError, match="width_mult"):
        models.mobilenet_v1(width_mult="wide")
    with pytest.raises(TypeError, match="batch_norm"):
        models.vgg16(batch_norm="yes")
    with pytest.raises(TypeError, match="aux_logits"):
        models.googlenet(aux_logits=1)
    with pytest.raises(ValueError, match="reduction"):
        models.se_resnet20(reduction=0)
    with pytest.raises(ValueError, match="ch5x5"):
        models.Inception(16, 8, 8, 8, 8, 0, 8)
    with pytest.raises(ValueError, match="padding"):
        models.DepthwiseSeparableConv(4, 4, padding=-1)


@pytest.mark.parametrize(
    "shape, exc, match",
    [
        ((3, 32), ValueError, "input_shape"),
        ((1, 3, 0, 32), ValueError, r"input_shape\[2\]"),
        ("3x32x32", TypeError, "input_shape"),
        ((3, 32.0, 32), TypeError, r"input_shape\[1\]"),
    ],
)
def test_multiply_add_counters_validate_input_shape(shape, exc, match):
    for count in (models.count_multiply_adds, models.count_multiply_adds_hooks):
        with pytest.raises(exc, match=match):
            count(models.resnet20(), shape)
    with pytest.raises(TypeError, match="model"):
        models.count_multiply_adds("resnet", (3, 32, 32))


def test_counters_restore_training_mode_and_count_batches():
    model = models.resnet20().train()
    single = models.count_multiply_adds(model, (3, 32, 32))
    assert model.training
    assert models.count_multiply_adds(model, (4, 3, 32, 32)) == 4 * single
    assert models.count_multiply_adds_hooks(model, (4, 3, 32, 32)) == 4 * single
