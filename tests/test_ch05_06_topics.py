"""Topics added to chapters 5 and 6, proven against torch.

- ``models.as_resnet_v1``: the paper's ResNet (stride on the first 1x1) vs the v1.5 the zoo builds;
  the multiply-add difference is checked against the closed-form conv formula of ``shapes``.
- ``train.smoothed_cross_entropy``: against ``F.cross_entropy(label_smoothing=eps)``.
- ``train.batch_norm2d``: against ``nn.BatchNorm2d`` in training mode (output and running stats).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnncourse import models, shapes, train


def on_meta(ctor):
    with torch.device("meta"):
        return ctor()


# ---------------------------------------------------------------------------------------------
# ResNet v1 vs v1.5


@pytest.mark.parametrize("name", ["resnet50", "resnet101", "resnet152"])
def test_resnet_v1_moves_the_stride_and_saves_the_formula_amount(name):
    v15 = on_meta(getattr(models, name))
    v1 = models.as_resnet_v1(v15)
    assert shapes.count_parameters(v1) == shapes.count_parameters(v15)
    # only the first block of stages 2-4 downsamples: its first 1x1 now runs at the output size
    saved, size = 0, 56
    for stage in (v15.layer2, v15.layer3, v15.layer4):
        first = stage[0]
        c_in, c = first.conv1.in_channels, first.conv1.out_channels
        full = shapes.conv_mult_adds(c_in, c, 1, (size, size))
        size //= 2
        saved += full - shapes.conv_mult_adds(c_in, c, 1, (size, size))
    macs15 = models.count_multiply_adds(v15, (3, 224, 224))
    macs1 = models.count_multiply_adds(v1, (3, 224, 224))
    assert macs15 - macs1 == saved > 0


def test_resnet_v1_is_a_copy_with_the_same_outputs_shape():
    torch.manual_seed(0)
    v15 = models.resnet50(num_classes=7)
    v1 = models.as_resnet_v1(v15)
    first = v15.layer2[0]
    assert first.conv2.stride == (2, 2) and first.conv1.stride == (1, 1)  # original untouched
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    x = torch.randn(2, 3, 64, 64)
    assert v1.eval()(x).shape == v15.eval()(x).shape == (2, 7)
    assert not torch.allclose(v1(x), v15(x))  # same weights, different network


def test_resnet_v1_rejects_models_without_bottlenecks():
    with pytest.raises(ValueError, match="Bottleneck"):
        models.as_resnet_v1(on_meta(models.resnet18))
    with pytest.raises(TypeError, match="model"):
        models.as_resnet_v1("resnet50")


# ---------------------------------------------------------------------------------------------
# label smoothing


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 6),
    k=st.integers(2, 9),
    eps=st.floats(0.0, 1.0),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_smoothed_cross_entropy_matches_torch(n, k, eps, scale, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(n, k, generator=gen, dtype=torch.float64)).requires_grad_()
    target = torch.randint(0, k, (n,), generator=gen)
    ours = train.smoothed_cross_entropy(logits, target, eps)
    ref = F.cross_entropy(logits, target, label_smoothing=eps)
    torch.testing.assert_close(ours, ref)
    (g_ours,) = torch.autograd.grad(ours, logits)
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(g_ours, g_ref)


def test_smoothed_targets_rows_sum_to_one_and_eps_zero_is_cross_entropy():
    q = train.smoothed_targets(torch.tensor([2, 0]), 4, 0.2)
    torch.testing.assert_close(q.sum(1), torch.ones(2))
    torch.testing.assert_close(q[0], torch.tensor([0.05, 0.05, 0.85, 0.05]))
    logits = torch.tensor([[2.0, 1.0, 0.1]])
    torch.testing.assert_close(
        train.smoothed_cross_entropy(logits, torch.tensor([0]), 0.0),
        F.cross_entropy(logits, torch.tensor([0])),
    )


def test_smoothed_cross_entropy_is_not_the_shortcut_formula():
    # (1 - eps) CE + eps / K is a different function of the logits
    logits, y, eps = torch.tensor([[4.0, -3.0, 0.0]]), torch.tensor([0]), 0.1
    shortcut = (1 - eps) * F.cross_entropy(logits, y) + eps / 3
    assert abs(train.smoothed_cross_entropy(logits, y, eps).item() - shortcut.item()) > 0.1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": 1.5}, ValueError, "eps"),
        ({"eps": "0.1"}, TypeError, "eps"),
        ({"target": torch.tensor([0, 3])}, ValueError, "target"),
        ({"target": torch.tensor([0])}, ValueError, "target"),
        ({"logits": torch.zeros(2, 3, 1)}, ValueError, "logits"),
    ],
)
def test_smoothed_cross_entropy_rejects_bad_input(kwargs, error, match):
    args = {"logits": torch.zeros(2, 3), "target": torch.tensor([0, 2]), "eps": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        train.smoothed_cross_entropy(**args)


# ---------------------------------------------------------------------------------------------
# batch normalisation of feature maps


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 4),
    c=st.integers(1, 5),
    h=st.integers(1, 5),
    w=st.integers(2, 5),
    momentum=st.floats(0.0, 1.0),
    affine=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_batch_norm2d_matches_torch_in_training_mode(n, c, h, w, momentum, affine, seed):
    gen = torch.Generator().manual_seed(seed)
    x = 3 + 2 * torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    bn = nn.BatchNorm2d(c, momentum=momentum).double()
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
        bn.running_var.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
        if affine:
            bn.weight.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
            bn.bias.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
    before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
    ours = train.batch_norm2d(
        x,
        before_mean,
        before_var,
        weight=bn.weight.detach(),
        bias=bn.bias.detach(),
        momentum=momentum,
    )
    ref = bn.train()(x)
    torch.testing.assert_close(ours.output, ref.detach())
    torch.testing.assert_close(ours.running_mean, bn.running_mean)
    torch.testing.assert_close(ours.running_var, bn.running_var)
    torch.testing.assert_close(ours.mean, x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(
        ours.var, x.permute(1, 0, 2, 3).reshape(c, -1).var(1, unbiased=False)
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": torch.zeros(4, 3)}, ValueError, "x"),
        ({"x": torch.zeros(1, 3, 1, 1)}, ValueError, "N\\*H\\*W"),
        ({"momentum": 2.0}, ValueError, "momentum"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"running_mean": torch.zeros(4)}, ValueError, "running_mean"),
        ({"weight": torch.zeros(3, 1)}, ValueError, "weight"),
    ],
)
def test_batch_norm2d_rejects_bad_input(kwargs, error, match):
    args = {"x": torch.zeros(2, 3, 2, 2), **kwargs}
    x = args.pop("x")
    with pytest.raises(error, match=match):
        train.batch_norm2d(x, **args)
