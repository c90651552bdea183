"""Time each explanation of chapter 7 for one digit on the CPU, ours vs captum in one process.

    .venv/bin/python benchmarks/explain_times.py [--repeat 5]

For LeNet-5 (modern) and ResNet-20 on one 28x28 bundled digit: best-of-N wall time of a forward
pass, saliency, SmoothGrad (25 samples), integrated gradients (50 steps), occlusion (4x4 window,
stride 2) and Grad-CAM, each next to captum's equivalent (torch underneath) timed in alternation,
and their ratio (ours / captum); see ``_timing.py``. The weights are random: the cost of an
explanation does not depend on them.
"""

from __future__ import annotations

import warnings

import torch
from _timing import best_of, best_of_pair, environment, load_average, parse_repeat
from captum.attr import (
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)

from cnncourse import data, explain, models

warnings.filterwarnings("ignore", message="Input Tensor .* did not already require gradients")


def module(model, name):
    return dict(model.named_modules())[name]


def cases(model, x, layer):
    stdev = 0.15 * float(x.max() - x.min())
    return [
        (
            "saliency",
            lambda: explain.saliency(model, x, 3),
            lambda: Saliency(model).attribute(x, 3),
        ),
        (
            "SmoothGrad (25 samples)",
            lambda: explain.saliency(model, x, 3, smoothgrad_samples=25),
            lambda: NoiseTunnel(Saliency(model)).attribute(
                x, nt_type="smoothgrad", nt_samples=25, stdevs=stdev, target=3
            ),
        ),
        (
            "integrated gradients (50)",
            lambda: explain.integrated_gradients(model, x, 3, steps=50),
            lambda: IntegratedGradients(model).attribute(x, target=3, n_steps=50),
        ),
        (
            "occlusion (4x4, stride 2)",
            lambda: explain.occlusion(model, x, 3, 4, 2),
            lambda: Occlusion(model).attribute(
                x,
                sliding_window_shapes=(1, 4, 4),
                strides=(1, 2, 2),
                target=3,
                perturbations_per_eval=256,
            ),
        ),
        (
            f"Grad-CAM ({layer})",
            lambda: explain.grad_cam(model, x, 3, layer),
            lambda: LayerAttribution.interpolate(
                LayerGradCam(model, module(model, layer)).attribute(
                    x, target=3, relu_attributions=True
                ),
                x.shape[2:],
                "bilinear",
            ),
        ),
    ]


def main():
    repeat = parse_repeat(__doc__.splitlines()[0], default=5)
    print(environment())
    digits, _ = data.mnist_bundled()
    x = ((torch.tensor(digits[:1], dtype=torch.float32) / 255 - 0.1307) / 0.3081)[:, None]
    torch.manual_seed(0)
    for name, model, layer in [
        ("LeNet-5 (modern)", models.lenet5_modern().eval(), "conv2"),
        ("ResNet-20", models.resnet20(num_classes=10, in_channels=1).eval(), "layer3"),
    ]:
        with torch.no_grad():
            t_forward = best_of(lambda m=model: m(x), repeat, warmup=1)
        print(f"\n{name}: one forward pass {t_forward * 1e3:.2f} ms")
        print(
            f"  {'explanation':<28} {'ours':>10} {'captum':>10} {'ours/captum':>12} {'forwards':>9}"
        )
        for label, ours, ref in cases(model, x, layer):
            t_ours, t_ref = best_of_pair(ours, ref, repeat, warmup=1)
            print(
                f"  {label:<28} {t_ours * 1e3:8.2f}ms {t_ref * 1e3:8.2f}ms "
                f"{t_ours / t_ref:11.2f}x {t_ours / t_forward:8.0f}x"
            )

    print(f"\nload average after the runs: {load_average()}")


if __name__ == "__main__":
    main()
