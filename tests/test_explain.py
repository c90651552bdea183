"""explain.py proven against captum (same model, same input), plus the methods' own properties:
completeness of integrated gradients, occlusion locality, Grad-CAM = CAM on a GAP network,
hooks that survive in-place ReLUs, and clean-up (modes, hooks, parameter gradients)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import (
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnncourse import explain, viz

# captum warns that it had to set requires_grad on our inputs; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor .* did not already require gradients")


def small_cnn(seed=0, in_channels=1, classes=3, inplace=False, dtype=torch.float64):
    """conv-relu-pool-conv-relu-flatten-linear for 12x12 inputs (conv2 output 6x6)."""
    torch.manual_seed(seed)
    return (
        nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1),
            nn.ReLU(inplace=inplace),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 5, 3, padding=1),
            nn.ReLU(inplace=inplace),
            nn.Flatten(),
            nn.Linear(5 * 6 * 6, classes),
        )
        .to(dtype)
        .eval()
    )


def smooth_cnn(seed=0):
    """A smooth (tanh) network: quadrature errors of integrated gradients shrink fast."""
    torch.manual_seed(seed)
    return (
        nn.Sequential(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.Tanh(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(3 * 4 * 4, 4),
        )
        .double()
        .eval()
    )


def inputs(seed, n=2, c=1, h=12, w=12, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, h, w, generator=g, dtype=dtype)


def max_diff(a, b):
    return float((torch.as_tensor(a) - torch.as_tensor(b)).detach().abs().max())


# ----------------------------------------------------------------------------- captum: saliency


@settings(max_examples=15)
@given(
    seed=st.integers(0, 1000),
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    absolute=st.booleans(),
    target=st.integers(0, 2),
)
def test_saliency_equals_captum(seed, n, c, absolute, target):
    model = small_cnn(seed, in_channels=c)
    x = inputs(seed, n=n, c=c)
    ours = explain.saliency(model, x, target, absolute=absolute)
    ref = Saliency(model).attribute(x.clone(), target=target, abs=absolute)
    assert ours.shape == x.shape
    assert max_diff(ours, ref) < 1e-12


def test_saliency_of_a_linear_model_is_its_weight_row():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double()
    x = inputs(1, n=2, h=4, w=4)
    sal = explain.saliency(model, x, [2, 0], absolute=False)
    w = model[1].weight.detach()
    np.testing.assert_array_equal(sal[0].reshape(-1), w[2])
    np.testing.assert_array_equal(sal[1].reshape(-1), w[0])


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), samples=st.integers(1, 6), noise=st.floats(0.05, 0.3))
def test_smoothgrad_equals_captum_noise_tunnel(seed, samples, noise):
    # float32: captum draws its noise in float32 from the global RNG; with the same seed our
    # private generator draws the same numbers.
    model = small_cnn(seed, dtype=torch.float32)
    x = inputs(seed, n=1, dtype=torch.float32)
    ours = explain.saliency(model, x, 1, smoothgrad_samples=samples, noise=noise, seed=seed)
    torch.manual_seed(seed)
    stdev = noise * float(x.max() - x.min())
    ref = NoiseTunnel(Saliency(model)).attribute(
        x, target=1, nt_type="smoothgrad", nt_samples=samples, stdevs=stdev
    )
    assert max_diff(ours, ref) < 1e-6


def test_smoothgrad_batch_equals_one_image_at_a_time():
    model = small_cnn(3)
    x = inputs(3, n=3)
    together = explain.saliency(model, x, [0, 1, 2], smoothgrad_samples=4, seed=5)
    # Per-image noise levels: image i gets noise * range(x_i), drawn in batch order.
    g = torch.Generator().manual_seed(5)
    eps = torch.randn((12, 1, 12, 12), generator=g, dtype=torch.float64)
    for i in range(3):
        std = 0.15 * float(x[i].max() - x[i].min())
        noisy = x[i : i + 1] + std * eps[4 * i : 4 * i + 4]
        maps = explain.saliency(model, noisy, i)
        assert max_diff(together[i], maps.mean(0)) < 1e-12


def test_smoothgrad_of_a_linear_model_is_plain_saliency():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double()
    x = inputs(1, n=1, h=4, w=4)
    plain = explain.saliency(model, x, 1, absolute=False)
    smooth = explain.saliency(model, x, 1, absolute=False, smoothgrad_samples=7, noise=0.3)
    assert max_diff(plain, smooth) < 1e-12


# ----------------------------------------------------------------------------- captum: IG


@settings(max_examples=15)
@given(
    seed=st.integers(0, 1000),
    steps=st.integers(2, 40),
    method=st.sampled_from(explain.IG_METHODS),
    n=st.integers(1, 3),
    baseline=st.sampled_from([None, 0.5, "tensor"]),
)
def test_integrated_gradients_equal_captum(seed, steps, method, n, baseline):
    model = small_cnn(seed)
    x = inputs(seed, n=n)
    if baseline == "tensor":
        baseline = inputs(seed + 1, n=n) * 0.1
    targets = [i % 3 for i in range(n)]
    ours = explain.integrated_gradients(model, x, targets, baseline, steps, method=method)
    ref = IntegratedGradients(model).attribute(
        x,
        baselines=baseline if baseline is not None else 0.0,
        target=targets,
        n_steps=steps,
        method=method,
    )
    if method == "riemann_trapezoid":
        # captum's trapezoid weights are 1/s (halved at the ends), summing to (s-1)/s; ours
        # are the textbook 1/(s-1) ones. Same nodes, so the results differ by that factor.
        ref = ref * steps / (steps - 1)
    # captum builds its nodes with float32 linspace: agreement to ~1e-9, not 1e-15.
    assert max_diff(ours, ref) < 1e-7 * max(1.0, float(ref.abs().max()))


def test_integrated_gradients_batch_size_does_not_change_the_result():
    model = small_cnn(4)
    x = inputs(4, n=2)
    a = explain.integrated_gradients(model, x, 1, steps=13)
    b = explain.integrated_gradients(model, x, 1, steps=13, batch_size=4)
    assert max_diff(a, b) < 1e-12


@pytest.mark.parametrize("method", explain.IG_METHODS)
def test_ig_weights_sum_to_one_and_integrate_polynomials(method):
    steps = 8
    alphas, weights = explain.ig_weights(steps, method)
    assert alphas.shape == weights.shape == (steps,)
    assert np.all((alphas >= 0) & (alphas <= 1))
    assert weights.sum() == pytest.approx(1.0, abs=1e-14)
    # Exact degree: Gauss-Legendre 2s-1, trapezoid and midpoint 1, left/right 0.
    degree = {"gausslegendre": 2 * steps - 1, "riemann_trapezoid": 1, "riemann_middle": 1}
    for k in range(degree.get(method, 0) + 1):
        assert weights @ alphas**k == pytest.approx(1 / (k + 1), abs=1e-13)


# ----------------------------------------------------------------------------- completeness


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), target=st.integers(0, 3))
def test_integrated_gradients_completeness_smooth_model(seed, target):
    model = smooth_cnn(seed)
    x = inputs(seed, n=2, h=8, w=8)
    baseline = torch.full_like(x, -0.3)
    attr = explain.integrated_gradients(model, x, target, baseline, steps=32)
    with torch.no_grad():
        gap = model(x)[:, target] - model(baseline)[:, target]
    np.testing.assert_allclose(attr.sum((1, 2, 3)), gap, rtol=1e-9, atol=1e-12)


def test_integrated_gradients_completeness_relu_model():
    # A ReLU network makes the path integrand piecewise constant with jumps at the kinks, so the
    # quadrature converges slowly and not monotonically: many steps for 0.2 % accuracy.
    model = small_cnn(7)
    x = inputs(7, n=2)
    with torch.no_grad():
        gap = (model(x) - model(torch.zeros_like(x)))[:, 2]
    for method in ("riemann_trapezoid", "gausslegendre"):
        attr = explain.integrated_gradients(model, x, 2, steps=1600, method=method)
        error = (attr.sum((1, 2, 3)) - gap).abs()
        assert torch.all(error < 2e-3 * gap.abs()), (method, error, gap)


def test_integrated_gradients_of_a_linear_model_are_exact():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).double()
    x = inputs(2, n=1, h=4, w=4)
    for method in explain.IG_METHODS:
        attr = explain.integrated_gradients(model, x, 1, steps=3, method=method)
        expected = x.reshape(-1) * model[1].weight[1].detach()
        assert max_diff(attr.reshape(-1), expected) < 1e-14


# ----------------------------------------------------------------------------- occlusion


@settings(max_examples=10)
@given(
    seed=st.integers(0, 1000),
    kh=st.integers(1, 6),
    kw=st.integers(2, 6),
    data=st.data(),
    baseline=st.sampled_from([0.0, -1.0, 0.25]),
    c=st.integers(1, 2),
)
def test_occlusion_equals_captum(seed, kh, kw, data, baseline, c):
    sh = data.draw(st.integers(1, kh))
    sw = data.draw(st.integers(1, kw))
    model = small_cnn(seed, in_channels=c)
    x = inputs(seed, n=2, c=c)
    ours = explain.occlusion(model, x, [1, 2], (kh, kw), (sh, sw), baseline, batch_size=17)
    ref = Occlusion(model).attribute(
        x,
        sliding_window_shapes=(c, kh, kw),
        strides=(c, sh, sw),
        baselines=baseline,
        target=[1, 2],
    )
    # captum divides in float32 (``total.float() / count``): agreement to float32 precision.
    assert max_diff(ours, ref) < 1e-6 * max(1.0, float(ref.abs().max()))


class QuadrantModel(nn.Module):
    """Class scores that depend only on the top-left 8x8 quadrant of a 16x16 image."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 8 * 8, 2)

    def forward(self, x):
        crop = x[:, :, :8, :8]
        return self.fc(torch.tanh(self.conv(crop)).flatten(1))


@pytest.mark.parametrize(("window", "stride"), [(4, 4), (2, 2), (8, 8)])
def test_occlusion_lights_only_the_quadrant_the_model_sees(window, stride):
    model = QuadrantModel().double()
    x = inputs(5, n=1, h=16, w=16) + 2.0  # far from the zero baseline: every window matters
    attr = explain.occlusion(model, x, 0, window, stride)[0, 0]
    # Windows aligned with the quadrant: nothing leaks out of it (up to float rounding, as
    # f(x) and f(x occluded elsewhere) come from different batches).
    outside = attr.clone()
    outside[:8, :8] = 0
    assert float(outside.abs().max()) < 1e-12
    assert float(attr[:8, :8].abs().min()) > 0


def test_occlusion_leak_is_bounded_by_the_window():
    model = QuadrantModel().double()
    x = inputs(5, n=1, h=16, w=16) + 2.0
    window, stride = 5, 3  # windows straddle the quadrant's edge
    attr = explain.occlusion(model, x, 1, window, stride)[0, 0]
    reach = 8 + window - 1  # a window touching the quadrant ends before this row/column
    assert float(attr[reach:, :].abs().max()) < 1e-12
    assert float(attr[:, reach:].abs().max()) < 1e-12
    assert float(attr[:8, :8].abs().min()) > 0


# ----------------------------------------------------------------------------- Grad-CAM


@settings(max_examples=15)
@given(
    seed=st.integers(0, 1000),
    layer=st.sampled_from(["0", "1", "3", "4"]),
    target=st.integers(0, 2),
    relu=st.booleans(),
    c=st.integers(1, 3),
)
def test_grad_cam_equals_captum(seed, layer, target, relu, c):
    model = small_cnn(seed, in_channels=c)
    x = inputs(seed, n=2, c=c)
    ours = explain.grad_cam(model, x, target, layer, relu=relu)
    cam = LayerGradCam(model, model[int(layer)]).attribute(x, target=target, relu_attributions=relu)
    ref = LayerAttribution.interpolate(cam, (12, 12), interpolate_mode="bilinear")
    assert ours.shape == (2, 12, 12)
    assert max_diff(ours, ref[:, 0]) < 1e-12
    if relu:
        assert float(ours.min()) >= 0


def test_grad_cam_on_a_gap_network_is_cam():
    # conv -> ReLU -> global average pool -> linear: dy_c/dA^k_ij = w_ck / (h w), so Grad-CAM is
    # CAM (Zhou et al. 2016) divided by h w (Selvaraju et al., section 3.1).
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 4),
    ).double()
    x = inputs(2, n=1, h=8, w=8)
    a = explain.feature_maps(model, x, "1")["1"]  # (1, 6, 8, 8)
    cam = torch.einsum("k,nkhw->nhw", model[4].weight[3].detach(), a) / 64
    ours = explain.grad_cam(model, x, 3, "1")  # 8x8 -> 8x8: the upsampling is the identity
    assert max_diff(ours, F.relu(cam)) < 1e-14


def test_grad_cam_survives_inplace_relu_after_the_layer():
    x = inputs(8, n=2)
    plain = explain.grad_cam(small_cnn(8), x, 1, "3")
    inplace = explain.grad_cam(small_cnn(8, inplace=True), x, 1, "3")
    assert max_diff(plain, inplace) < 1e-14
    assert float(plain.max()) > 0


def test_grad_cam_accepts_the_module_itself():
    model = small_cnn(2)
    x = inputs(2)
    assert (
        max_diff(explain.grad_cam(model, x, 0, model[3]), explain.grad_cam(model, x, 0, "3")) == 0
    )


def test_grad_cam_overlay():
    img = np.linspace(0, 1, 12 * 10).reshape(12, 10)
    heat = np.zeros((12, 10))
    heat[3:6, 4:8] = 2.0
    out = viz.grad_cam_overlay(img, heat, alpha=0.4)
    assert out.shape == (12, 10, 3) and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(viz.grad_cam_overlay(img, heat, alpha=0.0), np.stack([img] * 3, 2))
    import matplotlib

    jet = matplotlib.colormaps["jet"]
    full = viz.grad_cam_overlay(img, heat, alpha=1.0)
    np.testing.assert_allclose(full[4, 5], jet(1.0)[:3])
    np.testing.assert_allclose(full[0, 0], jet(0.0)[:3])
    # scale-free: twice the heat, same picture; RGB image input works too
    np.testing.assert_allclose(viz.grad_cam_overlay(img, 2 * heat), viz.grad_cam_overlay(img, heat))
    rgb = np.stack([img, img * 0, img], 2)
    assert viz.grad_cam_overlay(rgb, heat).shape == (12, 10, 3)
    assert np.all(viz.grad_cam_overlay(img, np.zeros((12, 10)), alpha=0.5)[..., 0] <= 1)


# ----------------------------------------------------------------------------- feature maps


class InplaceAfter(nn.Module):
    """Zeroes its input in place: a later in-place op that must not change captured maps."""

    def forward(self, x):
        return x.mul_(0).add_(1)


def test_feature_maps_are_unchanged_by_later_inplace_ops():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(inplace=True), InplaceAfter(), nn.Flatten()
    ).double()
    x = inputs(0, n=2, h=6, w=6)
    maps = explain.feature_maps(model, x, ["0", "1", "2"])
    conv = F.conv2d(x, model[0].weight, model[0].bias, padding=1).detach()
    assert list(maps) == ["0", "1", "2"]
    assert max_diff(maps["0"], conv) < 1e-14  # pre-ReLU: negatives survive the in-place ReLU
    assert float(maps["0"].min()) < 0
    assert max_diff(maps["1"], F.relu(conv)) < 1e-14  # post-ReLU, untouched by mul_(0)
    assert torch.all(maps["2"] == 1)


def test_feature_maps_default_is_every_leaf_in_run_order():
    model = small_cnn(0)
    maps = explain.feature_maps(model, inputs(0))
    assert list(maps) == explain.layer_names(model) == ["0", "1", "2", "3", "4", "5", "6"]
    assert maps["2"].shape == (2, 4, 6, 6)
    assert max_diff(maps["6"], model(inputs(0))) < 1e-14


def test_layer_names_nested():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU()), nn.Flatten())
    assert explain.layer_names(model) == ["0.0", "0.1", "1"]
    assert explain.layer_names(model, leaves_only=False) == ["0", "0.0", "0.1", "1"]


# ----------------------------------------------------------------------------- clean-up


def _hooks(model):
    return sum(len(m._forward_hooks) for m in model.modules())


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: explain.saliency(m, x, 0, smoothgrad_samples=2),
        lambda m, x: explain.integrated_gradients(m, x, 0, steps=4),
        lambda m, x: explain.occlusion(m, x, 0, 4, 4),
        lambda m, x: explain.grad_cam(m, x, 0, "3"),
        lambda m, x: explain.feature_maps(m, x, ["1", "4"]),
        lambda m, x: explain.activation_maximization(m, "3", 0, (1, 12, 12), steps=2),
    ],
)
def test_no_side_effects(call):
    torch.manual_seed(0)
    model = nn.Sequential(*small_cnn(0)[:6], nn.Dropout(0.5), small_cnn(0)[6]).train()
    x = inputs(1)
    rng = torch.get_rng_state()
    call(model, x)
    assert model.training  # mode restored
    assert all(m.training for m in model.modules())
    assert _hooks(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)


def test_explanations_use_eval_mode():
    # With dropout active the gradient would be random; in eval mode it is repeatable.
    model = nn.Sequential(*small_cnn(0)[:6], nn.Dropout(0.9), small_cnn(0)[6]).train()
    x = inputs(1)
    a, b = explain.saliency(model, x, 0), explain.saliency(model, x, 0)
    assert torch.equal(a, b)
    model.eval()
    assert torch.equal(a, explain.saliency(model, x, 0))


def test_hooks_are_removed_after_an_error():
    model = small_cnn(0)
    with pytest.raises(ValueError, match="layer must have a 4-D output"):
        explain.grad_cam(model, inputs(0), 0, "6")
    assert _hooks(model) == 0
    with pytest.raises(ValueError, match="unit"):
        explain.activation_maximization(model, "3", 99, (1, 12, 12), steps=1)
    assert _hooks(model) == 0


def test_numpy_and_float32_inputs_are_accepted():
    model = small_cnn(0)
    x = inputs(0).numpy().astype(np.float32)
    assert max_diff(explain.saliency(model, x, 0), explain.saliency(model, inputs(0), 0)) < 1e-6


# ----------------------------------------------------------------------------- regularisers


def test_total_variation_matches_the_formula():
    g = np.random.default_rng(0)
    x = g.normal(size=(2, 3, 5, 6))
    for beta in (1.0, 2.0, 1.5):
        expected = 0.0
        for n in range(2):
            for c in range(3):
                for i in range(4):
                    for j in range(5):
                        dw = x[n, c, i, j + 1] - x[n, c, i, j]
                        dh = x[n, c, i + 1, j] - x[n, c, i, j]
                        expected += (dw**2 + dh**2 + (0 if beta == 2 else 1e-8)) ** (beta / 2)
        assert float(explain.total_variation(torch.tensor(x), beta)) == pytest.approx(
            expected, rel=1e-12
        )
    assert float(explain.total_variation(torch.ones(4, 4))) == 0.0


def test_total_variation_gradient():
    x = torch.randn(1, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: explain.total_variation(t, 1.0), (x,))
    assert torch.autograd.gradcheck(lambda t: explain.total_variation(t, 2.0), (x,))


def test_activation_maximization_raises_the_unit_and_the_penalties_act():
    model = small_cnn(3)
    g = torch.Generator().manual_seed(0)
    start = torch.randn((1, 1, 12, 12), generator=g, dtype=torch.float64) * 0.01  # its start

    def unit(img):
        return float(explain.feature_maps(model, img[None], "3")["3"][0, 2].mean())

    img = explain.activation_maximization(model, "3", 2, (1, 12, 12), steps=60, l2=1e-4, tv=0.0)
    assert img.shape == (1, 12, 12)
    assert unit(img) > 5 * unit(start[0]) > 0
    smooth = explain.activation_maximization(model, "3", 2, (1, 12, 12), steps=60, l2=1e-4, tv=1.0)
    assert float(explain.total_variation(smooth)) < 0.1 * float(explain.total_variation(img))
    small = explain.activation_maximization(model, "3", 2, (1, 12, 12), steps=60, l2=1e-1, tv=0.0)
    assert float(small.norm()) < 0.5 * float(img.norm())
    bounded = explain.activation_maximization(
        model, "6", 1, (1, 12, 12), steps=30, bounds=(-0.5, 1.0)
    )
    assert float(bounded.min()) >= -0.5 and float(bounded.max()) <= 1.0
    again = explain.activation_maximization(
        model, "6", 1, (1, 12, 12), steps=30, bounds=(-0.5, 1.0)
    )
    assert torch.equal(bounded, again)  # seeded: repeatable


def test_activation_maximization_of_several_units_equals_separate_runs():
    model = small_cnn(5)
    starts = torch.randn((3, 1, 12, 12), generator=torch.Generator().manual_seed(1)).double()
    units = [0, 4, 2]
    kwargs = dict(steps=25, l2=1e-3, tv=1e-2, bounds=(-1.0, 2.0))
    together = explain.activation_maximization(
        model, "3", units, (1, 12, 12), start=starts, **kwargs
    )
    assert together.shape == (3, 1, 12, 12)
    for k, u in enumerate(units):
        alone = explain.activation_maximization(
            model, "3", u, (1, 12, 12), start=starts[k], **kwargs
        )
        assert max_diff(together[k], alone) < 1e-10
    logits = explain.activation_maximization(model, "6", [1, 2], (1, 12, 12), steps=5)
    assert logits.shape == (2, 1, 12, 12)


def test_randomized_copy():
    model = small_cnn(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    top = explain.randomized_copy(model, ["6"], seed=1)
    assert torch.equal(torch.get_rng_state(), rng)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])  # the original is untouched
    assert not torch.equal(top[6].weight, model[6].weight)
    assert torch.equal(top[0].weight, model[0].weight)
    assert torch.equal(explain.randomized_copy(model, ["6"], seed=1)[6].weight, top[6].weight)
    every = explain.randomized_copy(model, seed=1)
    assert not torch.equal(every[0].weight, model[0].weight)
    assert not torch.equal(every[3].weight, model[3].weight)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m, x: explain.saliency("no", x, 0), TypeError, "model"),
        (lambda m, x: explain.saliency(m, x, 3), ValueError, "target"),
        (lambda m, x: explain.saliency(m, x, [0]), ValueError, "target"),
        (lambda m, x: explain.saliency(m, x, 0.5), TypeError, "target"),
        (
            lambda m, x: explain.saliency(m, x, 0, smoothgrad_samples=-1),
            ValueError,
            "smoothgrad_samples",
        ),
        (lambda m, x: explain.saliency(m, x, 0, noise=0), ValueError, "noise"),
        (lambda m, x: explain.saliency(m, x, 0, absolute=1), TypeError, "absolute"),
        (lambda m, x: explain.grad_cam(m, x, 0, "0", relu="yes"), TypeError, "relu"),
        (
            lambda m, x: explain.integrated_gradients(m, x, 0, baseline=float("inf")),
            ValueError,
            "baseline must be a finite number",
        ),
        (lambda m, x: explain.saliency(m, x[0, 0, 0, 0], 0), ValueError, "x"),
        (lambda m, x: explain.saliency(m, x * np.nan, 0), ValueError, "x"),
        (lambda m, x: explain.integrated_gradients(m, x, 0, steps=0), ValueError, "steps"),
        (
            lambda m, x: explain.integrated_gradients(m, x, 0, steps=1, method="riemann_trapezoid"),
            ValueError,
            "steps",
        ),
        (
            lambda m, x: explain.integrated_gradients(m, x, 0, method="simpson"),
            ValueError,
            "method",
        ),
        (
            lambda m, x: explain.integrated_gradients(m, x, 0, baseline=torch.zeros(3, 3)),
            ValueError,
            "baseline",
        ),
        (
            lambda m, x: explain.integrated_gradients(m, x, 0, batch_size=0),
            ValueError,
            "batch_size",
        ),
        (lambda m, x: explain.occlusion(m, x, 0, 13, 1), ValueError, "window"),
        (lambda m, x: explain.occlusion(m, x, 0, 3, 4), ValueError, "stride"),
        (lambda m, x: explain.occlusion(m, x, 0, 0, 1), ValueError, "window"),
        (lambda m, x: explain.occlusion(m, x[0], 0, 3, 1), ValueError, "x"),
        (lambda m, x: explain.grad_cam(m, x, 0, "conv9"), ValueError, "layer"),
        (lambda m, x: explain.grad_cam(m, x, 0, 3), TypeError, "layer"),
        (lambda m, x: explain.grad_cam(m, x, 0, nn.Conv2d(1, 1, 1)), ValueError, "layer"),
        (lambda m, x: explain.feature_maps(m, x, ["0", "nope"]), ValueError, "layers"),
        (lambda m, x: explain.feature_maps(m, x, []), ValueError, "layers"),
        (
            lambda m, x: explain.activation_maximization(m, "3", 0, (1, 12, 12), l2=-1),
            ValueError,
            "l2",
        ),
        (
            lambda m, x: explain.activation_maximization(m, "3", 0, (1, 12, 12), tv=True),
            TypeError,
            "tv",
        ),
        (
            lambda m, x: explain.activation_maximization(m, "3", 0, (1, 12, 12), lr=0),
            ValueError,
            "lr",
        ),
        (lambda m, x: explain.activation_maximization(m, "3", 0, (0, 12, 12)), ValueError, "shape"),
        (
            lambda m, x: explain.activation_maximization(m, "3", 0, (1, 12, 12), bounds=(1, 0)),
            ValueError,
            "bounds",
        ),
        (lambda m, x: explain.randomized_copy(m, ["2"]), ValueError, "layers"),
        (
            lambda m, x: viz.grad_cam_overlay(np.zeros((4, 4)), np.zeros((4, 5))),
            ValueError,
            "heat",
        ),
        (
            lambda m, x: viz.grad_cam_overlay(np.zeros((4, 4)), -np.ones((4, 4))),
            ValueError,
            "heat",
        ),
        (
            lambda m, x: viz.grad_cam_overlay(np.zeros((4, 4)), np.ones((4, 4)), alpha=2),
            ValueError,
            "alpha",
        ),
        (
            lambda m, x: viz.grad_cam_overlay(np.zeros((4, 4)), np.ones((4, 4)), alpha=True),
            TypeError,
            "alpha",
        ),
        (
            lambda m, x: viz.grad_cam_overlay(np.zeros((4, 4, 2)), np.ones((4, 4))),
            ValueError,
            "image",
        ),
        (
            lambda m, x: viz.grad_cam_overlay(np.zeros((4, 4)), np.ones((4, 4)), cmap="nope"),
            ValueError,
            "cmap",
        ),
        (lambda m, x: explain.total_variation(torch.zeros(1, 4)), ValueError, "x"),
        (lambda m, x: explain.total_variation(torch.zeros(4, 4), beta=0), ValueError, "beta"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(small_cnn(0), inputs(0))


# --------------------------------------------------------------------------- exact messages, defaults


class _Pair(nn.Module):
    def forward(self, a):
        return a, 2 * a


class _Reordered(nn.Module):
    """Registered fc, conv, pair, unused; runs conv, pair, fc (unused never runs)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.pair = _Pair()
        self.unused = nn.ReLU()

    def forward(self, x):
        p, q = self.pair(self.conv(x))
        return self.fc(F.adaptive_avg_pool2d(p + q, 2).flatten(1))


X12 = torch.randn(1, 1, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda m: explain.layer_names("net"),
            TypeError,
            "model must be a torch.nn.Module, got str",
        ),
        (
            lambda m: explain.feature_maps("net", X12),
            TypeError,
            "model must be a torch.nn.Module, got str",
        ),
        (
            lambda m: explain.feature_maps(m, X12, []),
            ValueError,
            "layers must name at least one layer, got an empty sequence",
        ),
        (
            lambda m: explain.feature_maps(m, X12, ["nope"]),
            ValueError,
            "layers must be one of the model's layers ('0', '1', '2', '3', '4', '5', '6'); got 'nope'",
        ),
        (
            lambda m: explain.grad_cam("net", X12, 0, "3"),
            TypeError,
            "model must be a torch.nn.Module, got str",
        ),
        (
            lambda m: explain.grad_cam(m, X12, 0, "3", relu=1),
            TypeError,
            "relu must be True or False, got 1 (int)",
        ),
        (
            lambda m: explain.grad_cam(m, X12[0], 0, "3"),
            ValueError,
            "x must have 4 dimensions (N, C, H, W), got shape (1, 12, 12)",
        ),
        (
            lambda m: explain.grad_cam(m, X12, 0, "6"),
            ValueError,
            "layer must have a 4-D output (N, K, h, w), got (1, 3)",
        ),
        (
            lambda m: explain.occlusion("net", X12, 0, 3),
            TypeError,
            "model must be a torch.nn.Module, got str",
        ),
        (
            lambda m: explain.occlusion(m, X12[0], 0, 3),
            ValueError,
            "x must have 4 dimensions (N, C, H, W), got shape (1, 12, 12)",
        ),
        (lambda m: explain.occlusion(m, X12, 0, 0), ValueError, "window must be >= 1, got 0"),
        (lambda m: explain.occlusion(m, X12, 0, 3, 0), ValueError, "stride must be >= 1, got 0"),
        (
            lambda m: explain.occlusion(m, X12, 0, (13, 2)),
            ValueError,
            "window must be at most the image size (12, 12), got (13, 2)",
        ),
        (
            lambda m: explain.occlusion(m, X12, 0, (2, 13)),
            ValueError,
            "window must be at most the image size (12, 12), got (2, 13)",
        ),
        (
            lambda m: explain.occlusion(m, X12, 0, (3, 3), (4, 1)),
            ValueError,
            "stride must be <= window (3, 3) so that every pixel is covered, got (4, 1)",
        ),
        (
            lambda m: explain.occlusion(m, X12, 0, (3, 3), (1, 4)),
            ValueError,
            "stride must be <= window (3, 3) so that every pixel is covered, got (1, 4)",
        ),
        (
            lambda m: explain.occlusion(m, X12, 0, 3, batch_size=0),
            ValueError,
            "batch_size must be >= 1, got 0",
        ),
        (
            lambda m: explain.randomized_copy("net"),
            TypeError,
            "model must be a torch.nn.Module, got str",
        ),
        (lambda m: explain.randomized_copy(m, seed=-1), ValueError, "seed must be >= 0, got -1"),
        (
            lambda m: explain.randomized_copy(m, "nope"),
            ValueError,
            "layers must be one of the model's layers ('0', '1', '2', '3', '4', '5', '6'); got 'nope'",
        ),
        (
            lambda m: explain.randomized_copy(m, "1"),
            ValueError,
            "layers: '1' has no parameters to re-initialise",
        ),
    ],
)
def test_explain_messages_are_exact(call, error, message):
    with pytest.raises(error) as err:
        call(small_cnn())
    assert str(err.value) == message


def test_layers_that_return_a_tuple_or_never_run_are_named():
    m, x = _Reordered().double(), X12
    with pytest.raises(ValueError) as err:
        explain.feature_maps(m, x, "pair")
    assert str(err.value) == "layers: 'pair' returns tuple, not a tensor"
    with pytest.raises(ValueError) as err:
        explain.grad_cam(m, x, 0, "pair")
    assert str(err.value) == "layer must have a 4-D output (N, K, h, w), got <class 'tuple'>"
    with pytest.raises(ValueError) as err:
        explain.feature_maps(m, x, ["conv", "unused"])
    assert str(err.value) == "layers ['unused'] did not run in the forward pass"


def test_feature_maps_order_is_run_order_by_default_and_the_callers_order_when_named():
    m = nn.Sequential()
    m.add_module("late", nn.ReLU())  # registered first
    m.add_module("early", nn.Conv2d(1, 2, 3))
    m.forward = lambda x: m.late(m.early(x))  # runs "early" first
    maps = explain.feature_maps(m, torch.randn(1, 1, 5, 5))
    assert list(maps) == ["early", "late"]
    assert list(explain.feature_maps(m, torch.randn(1, 1, 5, 5), ["late", "early"])) == [
        "late",
        "early",
    ]


def test_occlusion_defaults_and_limits():
    m = small_cnn()
    explicit = explain.occlusion(m, X12, 1, 4, stride=1, baseline=0.0, batch_size=256)
    torch.testing.assert_close(explain.occlusion(m, X12, 1, 4), explicit, rtol=0, atol=0)
    # a window as large as the image is allowed, and then any stride covers every pixel
    whole = explain.occlusion(m, X12, 1, (12, 12), stride=(15, 17))
    assert whole.shape == X12.shape and torch.unique(whole).numel() == 1
    tall = explain.occlusion(m, X12, 1, (12, 3), stride=(13, 3))  # stride > window only where
    assert tall.shape == X12.shape  # the window spans the whole height


def test_randomized_copy_default_seed_and_a_named_layer():
    m = small_cnn()
    torch.testing.assert_close(
        explain.randomized_copy(m).state_dict(), explain.randomized_copy(m, seed=0).state_dict()
    )
    named = nn.Sequential()
    named.add_module("features", nn.Conv2d(1, 2, 3))
    named.add_module("head", nn.Conv2d(2, 2, 1))
    copy = explain.randomized_copy(named, "head")  # one name as a plain string
    assert torch.equal(copy.features.weight, named.features.weight)
    assert not torch.equal(copy.head.weight, named.head.weight)


def test_integrated_gradients_defaults_batching_and_float32():
    m = small_cnn()
    x = X12.repeat(2, 1, 1, 1)
    ig = explain.integrated_gradients(m, x, [0, 2])
    torch.testing.assert_close(
        ig, explain.integrated_gradients(m, x, [0, 2], 0.0, 50), rtol=0, atol=0
    )
    torch.testing.assert_close(explain.integrated_gradients(m, x, [0, 2], batch_size=1), ig)
    m32 = small_cnn(dtype=torch.float32)
    ig32 = explain.integrated_gradients(m32, x.float(), [0, 2], batch_size=7)
    assert ig32.dtype == torch.float32 and ig32.shape == x.shape
    torch.testing.assert_close(ig32, ig.float(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError) as err:
        explain.integrated_gradients(m, x, 0, batch_size=0)
    assert str(err.value) == "batch_size must be >= 1, got 0"
    with pytest.raises(TypeError) as err:
        explain.integrated_gradients("net", x, 0)
    assert str(err.value) == "model must be a torch.nn.Module, got str"


def test_smoothgrad_keeps_the_shape_of_a_colour_batch():
    m = small_cnn(in_channels=3)
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    for absolute in (True, False):
        s = explain.saliency(m, x, [1, 2], smoothgrad_samples=4, absolute=absolute)
        assert s.shape == x.shape


S12 = (1, 12, 12)
X2 = X12.repeat(2, 1, 1, 1)
_LAYERS = "('0', '1', '2', '3', '4', '5', '6')"


@pytest.mark.parametrize(
    "call, error, message",
    [
        # _as_input (through saliency): the argument is named x
        (
            lambda m: explain.saliency(m, X12[0, 0, 0], 0),
            ValueError,
            "x must be a batch (N, ...) with N >= 1, got shape (12,)",
        ),
        (
            lambda m: explain.saliency(m, X12[:0], 0),
            ValueError,
            "x must hold at least one sample, got shape (0, 1, 12, 12)",
        ),
        (
            lambda m: explain.saliency(m, np.array([["a"]]), 0),
            TypeError,
            "x must be a numeric array, got dtype <U1",
        ),
        (
            lambda m: explain.saliency(m, X12 * np.inf, 0),
            ValueError,
            "x must be finite (no NaN or inf)",
        ),
        # targets
        (
            lambda m: explain.saliency(m, X12, 3),
            ValueError,
            "target must be in 0..2 (the model's outputs), got 3",
        ),
        (
            lambda m: explain.saliency(m, X12, [-1]),
            ValueError,
            "target must be in 0..2 (the model's outputs), got -1",
        ),
        (
            lambda m: explain.saliency(m, X12, [0, 1]),
            ValueError,
            "target must give one class per sample (1), got 2",
        ),
        (
            lambda m: explain.saliency(m, X2, [1.5, 0]),
            TypeError,
            "target must hold integers, got 1.5",
        ),
        (
            lambda m: explain.saliency(m, X2, [True, False]),
            TypeError,
            "target must hold integers, got True",
        ),
        (
            lambda m: explain.saliency(m, X12, True),
            TypeError,
            "target must be an int or a sequence of ints, got True",
        ),
        (
            lambda m: explain.saliency(nn.Flatten(0), torch.ones(1, 4), 0),
            ValueError,
            "the model must return logits (N, K), got shape (4,)",
        ),
        # saliency's own arguments
        (
            lambda m: explain.saliency("net", X12, 0),
            TypeError,
            "model must be a torch.nn.Module, got str",
        ),
        (
            lambda m: explain.saliency(m, X12, 0, absolute=1),
            TypeError,
            "absolute must be True or False, got 1 (int)",
        ),
        (
            lambda m: explain.saliency(m, X12, 0, smoothgrad_samples=-1),
            ValueError,
            "smoothgrad_samples must be >= 0, got -1",
        ),
        (
            lambda m: explain.saliency(m, X12, 0, noise=0),
            ValueError,
            "noise must be a finite number > 0, got 0.0",
        ),
        (
            lambda m: explain.saliency(m, X12, 0, seed=-1),
            ValueError,
            "seed must be >= 0, got -1",
        ),
        # baseline (through integrated_gradients)
        (
            lambda m: explain.integrated_gradients(m, X12, 0, np.array(["a"])),
            TypeError,
            "baseline must be a numeric array, got dtype <U1",
        ),
        (
            lambda m: explain.integrated_gradients(m, X12, 0, np.zeros((3, 3))),
            ValueError,
            "baseline must be a number or broadcastable to x's shape (1, 1, 12, 12), "
            "got shape (3, 3)",
        ),
        # ig_weights
        (lambda m: explain.ig_weights(0), ValueError, "steps must be >= 1, got 0"),
        (
            lambda m: explain.ig_weights(1, "riemann_trapezoid"),
            ValueError,
            "steps must be >= 2, got 1",
        ),
        (
            lambda m: explain.ig_weights(4, "simpson"),
            ValueError,
            "method must be one of 'gausslegendre', 'riemann_left', 'riemann_right', "
            "'riemann_middle', 'riemann_trapezoid'; got 'simpson'",
        ),
        # layers (through grad_cam and activation_maximization): the argument is named layer
        (
            lambda m: explain.grad_cam(m, X12, 0, "conv9"),
            ValueError,
            f"layer must be one of the model's layers {_LAYERS}; got 'conv9'",
        ),
        (
            lambda m: explain.activation_maximization(m, "conv9", 0, S12),
            ValueError,
            f"layer must be one of the model's layers {_LAYERS}; got 'conv9'",
        ),
        (
            lambda m: explain.grad_cam(m, X12, 0, 3),
            TypeError,
            "layer must be a layer name (str) or a sub-module, got 3",
        ),
        (
            lambda m: explain.grad_cam(m, X12, 0, nn.Conv2d(1, 1, 1)),
            ValueError,
            "layer must be a sub-module of model; this module is not part of it",
        ),
        # total_variation
        (
            lambda m: explain.total_variation(np.zeros((4, 4))),
            TypeError,
            "x must be a torch.Tensor, got ndarray",
        ),
        (
            lambda m: explain.total_variation(torch.zeros(5)),
            ValueError,
            "x must be (..., H, W) with H, W >= 2, got shape (5,)",
        ),
        (
            lambda m: explain.total_variation(torch.zeros(3, 1)),
            ValueError,
            "x must be (..., H, W) with H, W >= 2, got shape (3, 1)",
        ),
        (
            lambda m: explain.total_variation(torch.zeros(1, 3)),
            ValueError,
            "x must be (..., H, W) with H, W >= 2, got shape (1, 3)",
        ),
        (
            lambda m: explain.total_variation(torch.zeros(4, 4), beta=0),
            ValueError,
            "beta must be a finite number > 0, got 0.0",
        ),
        # activation_maximization
        (
            lambda m: explain.activation_maximization("net", "3", 0, S12),
            TypeError,
            "model must be a torch.nn.Module, got str",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", -1, S12),
            ValueError,
            "unit must be >= 0, got -1",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", np.float32(2.5), S12),
            TypeError,
            "unit must be an integer, got np.float32(2.5) (float32)",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", [], S12),
            ValueError,
            "unit must name at least one unit, got an empty sequence",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", [0, 5], S12, steps=1),
            ValueError,
            "unit must be in 0..4 for this layer, got [0, 5]",
        ),
        (
            lambda m: explain.activation_maximization(nn.Sequential(nn.Flatten(0)), "0", 0, (4,)),
            ValueError,
            "layer must have an output (N, K, ...) with the units on axis 1, got shape (4,)",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, (1, 0, 12)),
            ValueError,
            "shape[1] must be >= 1, got 0",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, steps=0),
            ValueError,
            "steps must be >= 1, got 0",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, lr=0),
            ValueError,
            "lr must be a finite number > 0, got 0.0",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, l2=-1),
            ValueError,
            "l2 must be a finite number >= 0, got -1.0",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, tv=-1),
            ValueError,
            "tv must be a finite number >= 0, got -1.0",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, bounds=(1, 1)),
            ValueError,
            "bounds must be (lo, hi) with lo < hi, got (1, 1)",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, bounds=(0, 1, 2)),
            ValueError,
            "bounds must be (lo, hi) with lo < hi, got (0, 1, 2)",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, seed=-1),
            ValueError,
            "seed must be >= 0, got -1",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, init_std=0),
            ValueError,
            "init_std must be a finite number > 0, got 0.0",
        ),
        (
            lambda m: explain.activation_maximization(m, "3", 0, S12, start=torch.zeros(2, 12, 12)),
            ValueError,
            "start must have shape (1, 12, 12) or (1, 1, 12, 12), got (2, 12, 12)",
        ),
    ],
)
def test_every_argument_is_named_in_an_exact_message(call, error, message):
    with pytest.raises(error) as err:
        call(small_cnn())
    assert str(err.value) == message


@pytest.mark.parametrize("count", [20, 21])
def test_an_unknown_layer_lists_at_most_twenty_names(count):
    m = nn.Sequential(*[nn.ReLU() for _ in range(count)])
    with pytest.raises(ValueError) as err:
        explain.feature_maps(m, X12, "nope")
    shown = ", ".join(f"'{i}'" for i in range(20)) + (" ..." if count > 20 else "")
    assert str(err.value) == f"layers must be one of the model's layers ({shown}); got 'nope'"


def test_a_parameter_free_model_takes_float32_and_two_dimensional_batches():
    # No parameters to take a dtype from: inputs become float32. (N, F) batches are batches too.
    x = torch.tensor([[1.0, -2.0, 3.0, 0.5], [0.0, 1.0, 2.0, -1.0]], dtype=torch.float64)
    sal = explain.saliency(nn.Flatten(), x, [1, 3], absolute=False)
    assert sal.dtype == torch.float32
    assert torch.equal(sal, torch.tensor([[0.0, 1, 0, 0], [0, 0, 0, 1]]))
    img = explain.activation_maximization(nn.Sequential(nn.Flatten()), "0", 2, (1, 2, 2), steps=5)
    assert img.dtype == torch.float32 and img.shape == (1, 2, 2) and int(img.argmax()) == 2


def test_targets_as_tensors_and_column_arrays_equal_a_list():
    m = small_cnn()
    as_list = explain.saliency(m, X2, [0, 2])
    assert torch.equal(explain.saliency(m, X2, torch.tensor([0, 2])), as_list)
    assert torch.equal(explain.saliency(m, X2, np.array([[0], [2]])), as_list)


def test_array_baselines_take_the_models_dtype():
    m32 = small_cnn(dtype=torch.float32)
    x = X12.float()
    half = np.full((1, 12, 12), 0.5)  # float64, broadcast over the batch
    ig = explain.integrated_gradients(m32, x, 1, half, 8)
    assert ig.dtype == torch.float32
    assert torch.equal(ig, explain.integrated_gradients(m32, x, 1, 0.5, 8))
    occ = explain.occlusion(m32, x, 1, 4, 4, baseline=half)
    assert occ.dtype == torch.float32
    assert torch.equal(occ, explain.occlusion(m32, x, 1, 4, 4, baseline=0.5))


def test_ig_weights_default_method_and_one_step_rules():
    for a, b in zip(explain.ig_weights(7), explain.ig_weights(7, "gausslegendre"), strict=True):
        np.testing.assert_array_equal(a, b)
    one = {"gausslegendre": 0.5, "riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}
    for method, node in one.items():
        alphas, weights = explain.ig_weights(1, method)
        np.testing.assert_array_equal(alphas, [node])
        np.testing.assert_array_equal(weights, [1.0])


def test_total_variation_of_the_smallest_images():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]])  # one pixel with both neighbours: 1^2 + 2^2
    assert float(explain.total_variation(x)) == 5.0
    assert float(explain.total_variation(torch.stack([x, 2 * x]))) == 25.0
    wide = torch.tensor([[0.0, 1.0, 3.0], [1.0, 1.0, 1.0]])  # (1 + 1) + (4 + 0)
    assert float(explain.total_variation(wide)) == 6.0
    assert float(explain.total_variation(wide.T.contiguous())) == 6.0


def test_activation_maximization_defaults_start_dtype_and_units_as_arrays():
    m = small_cnn(3)
    explicit = dict(steps=200, lr=0.05, l2=1e-3, tv=1e-2, bounds=None, seed=0, init_std=0.01)
    torch.testing.assert_close(
        explain.activation_maximization(m, "6", 1, S12),
        explain.activation_maximization(m, "6", 1, S12, **explicit),
        rtol=0,
        atol=0,
    )
    start = torch.randn(S12, generator=torch.Generator().manual_seed(2))  # float32
    img = explain.activation_maximization(m, "3", 2, S12, steps=3, start=start)
    assert img.dtype == torch.float64
    assert torch.equal(
        img, explain.activation_maximization(m, "3", 2, S12, steps=3, start=start.double())
    )
    torch.testing.assert_close(
        explain.activation_maximization(m, "3", np.array([[0], [2]]), S12, steps=3),
        explain.activation_maximization(m, "3", [0, 2], S12, steps=3),
        rtol=0,
        atol=0,
    )


def test_activation_maximization_bounds_bind_on_both_sides():
    # A large step drives the logit's pixels to both ends of the box within a few steps.
    img = explain.activation_maximization(
        small_cnn(1), "6", 0, S12, steps=20, lr=1.0, bounds=(-0.1, 0.2)
    )
    assert float(img.min()) == pytest.approx(-0.1) and float(img.max()) == pytest.approx(0.2)
    assert float((img == img.max()).double().mean()) < 0.95


def test_occlusion_batch_size_one_and_saliency_default_seed():
    m = small_cnn()
    torch.testing.assert_close(
        explain.occlusion(m, X2, [0, 1], 5, 3, batch_size=1),
        explain.occlusion(m, X2, [0, 1], 5, 3),
    )
    torch.testing.assert_close(
        explain.saliency(m, X2, 1, smoothgrad_samples=3),
        explain.saliency(m, X2, 1, smoothgrad_samples=3, noise=0.15, seed=0),
        rtol=0,
        atol=0,
    )


@pytest.mark.parametrize(
    "target, flagged", [([True, 0], "True"), ([[0], [False]], "False"), ((0, np.True_), "True")]
)
def test_a_bool_among_integer_targets_is_rejected(target, flagged):
    """numpy would read [True, 0] as [1, 0]; a bool is flagged before that happens."""
    with pytest.raises(TypeError) as err:
        explain.saliency(small_cnn(), X12.repeat(2, 1, 1, 1), target)
    assert str(err.value) == f"target must hold integers, got {flagged}"
