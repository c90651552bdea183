"""Time the chapter-4 pooling functions against torch.nn.functional in the same process.

    .venv/bin/python benchmarks/pooling_impls.py [--repeat 30]

Prints each implementation's best-of-N time, torch's, and their ratio on the CPU (float32), the
two timed in alternation (see ``_timing.py``). Goal (issue 18): adaptive average pooling within
5x of torch. The naive loop version of max pooling is timed once, on a small crop, and scaled by
the number of output pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from _timing import best_of, compare, environment, load_average, parse_repeat

from cnncourse import data, pooling


def torch_grad(fn, xt, g):
    """Time torch's forward + backward (``fn(x)`` then ``.backward(g)``)."""

    def run():
        x = xt.detach().requires_grad_()
        with torch.enable_grad():
            fn(x).backward(g)

    return run


def main():
    repeat = parse_repeat(__doc__.splitlines()[0], default=30)
    torch.set_grad_enabled(False)
    print(environment())

    image = data.sample_image("camera").astype(np.float32)[None, None]  # (1, 1, 512, 512)
    it = torch.from_numpy(image)
    compare(
        "512x512 image (the widget's workload)",
        [
            ("max_pool2d 2x2", lambda: pooling.max_pool2d(image, 2), lambda: F.max_pool2d(it, 2)),
            (
                "max_pool2d 3x3 stride 2",
                lambda: pooling.max_pool2d(image, 3, 2),
                lambda: F.max_pool2d(it, 3, 2),
            ),
            ("avg_pool2d 2x2", lambda: pooling.avg_pool2d(image, 2), lambda: F.avg_pool2d(it, 2)),
            (
                "avg_pool2d 8x8",
                lambda: pooling.avg_pool2d(image, 8),
                lambda: F.avg_pool2d(it, 8),
            ),
        ],
        repeat,
    )
    crop = image[:, :, :64, :64]
    t_naive = best_of(lambda: pooling.max_pool2d_naive(crop, 2), 1, 0) * (256 * 256) / (32 * 32)
    t_torch = best_of(lambda: F.max_pool2d(it, 2), repeat)
    print(
        f"  {'max_pool2d_naive 2x2 (scaled)':<34} ours {t_naive * 1e3:8.0f} ms   "
        f"torch {t_torch * 1e3:8.2f} ms   {t_naive / t_torch:7.0f}x torch"
    )

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 32, 56, 56)).astype(np.float32)
    xt = torch.from_numpy(x)
    compare(
        "batch 16x32x56x56 (a mid-network feature map)",
        [
            (
                "max_pool2d 3x3 s2 p1",
                lambda: pooling.max_pool2d(x, 3, 2, 1),
                lambda: F.max_pool2d(xt, 3, 2, 1),
            ),
            (
                "max_pool2d + indices",
                lambda: pooling.max_pool2d(x, 3, 2, 1, return_indices=True),
                lambda: F.max_pool2d(xt, 3, 2, 1, return_indices=True),
            ),
            (
                "avg_pool2d 3x3 s2 p1 ceil",
                lambda: pooling.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
                lambda: F.avg_pool2d(xt, 3, 2, 1, ceil_mode=True),
            ),
            (
                "adaptive_avg_pool2d (7, 7)",
                lambda: pooling.adaptive_avg_pool2d(x, 7),
                lambda: F.adaptive_avg_pool2d(xt, 7),
            ),
            (
                "adaptive_max_pool2d (7, 7)",
                lambda: pooling.adaptive_max_pool2d(x, 7),
                lambda: F.adaptive_max_pool2d(xt, 7),
            ),
            (
                "global_avg_pool2d",
                lambda: pooling.global_avg_pool2d(x),
                lambda: F.adaptive_avg_pool2d(xt, 1),
            ),
        ],
        repeat,
    )
    x8 = rng.normal(size=(8, 16, 64, 64)).astype(np.float32)
    x8t = torch.from_numpy(x8)
    compare(
        "batch 8x16x64x64 (adaptive average pooling, goal <= 5x)",
        [
            (
                f"adaptive_avg_pool2d {size}",
                lambda s=size: pooling.adaptive_avg_pool2d(x8, s),
                lambda s=size: F.adaptive_avg_pool2d(x8t, s),
            )
            for size in [(7, 7), (1, 1), (5, 9), (128, 128)]
        ],
        repeat,
    )
    g = rng.normal(size=(16, 32, 28, 28)).astype(np.float32)
    g7 = rng.normal(size=(16, 32, 7, 7)).astype(np.float32)
    gt, g7t = torch.from_numpy(g), torch.from_numpy(g7)
    compare(
        "backward (ours: backward only; torch: forward + backward)",
        [
            (
                "max_pool2d_backward 3x3 s2 p1",
                lambda: pooling.max_pool2d_backward(g, x, 3, 2, 1),
                torch_grad(lambda v: F.max_pool2d(v, 3, 2, 1), xt, gt),
            ),
            (
                "avg_pool2d_backward 3x3 s2 p1",
                lambda: pooling.avg_pool2d_backward(g, x, 3, 2, 1),
                torch_grad(lambda v: F.avg_pool2d(v, 3, 2, 1), xt, gt),
            ),
            (
                "adaptive_avg_pool2d_backward 7",
                lambda: pooling.adaptive_avg_pool2d_backward(g7, x),
                torch_grad(lambda v: F.adaptive_avg_pool2d(v, 7), xt, g7t),
            ),
            (
                "adaptive_max_pool2d_backward 7",
                lambda: pooling.adaptive_max_pool2d_backward(g7, x),
                torch_grad(lambda v: F.adaptive_max_pool2d(v, 7), xt, g7t),
            ),
        ],
        repeat,
    )
    print(f"\nload average after the runs: {load_average()}")


if __name__ == "__main__":
    main()
