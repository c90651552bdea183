"""Time the chapter-1 convolutions against torch.nn.functional.conv2d in the same process.

    .venv/bin/python benchmarks/conv_impls.py

Prints each implementation's best-of-N time and its ratio to torch (goal: vectorised corr2d and
conv2d within 5x of torch on the CPU). The naive loop version is timed once, on a smaller crop,
and scaled by the number of output pixels.
"""

import time

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

from cnncourse import conv, data


def best_of(fn, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def report(title, rows, reference):
    print(f"\n{title}")
    for name, seconds in rows:
        print(f"  {name:<28} {seconds * 1e3:10.2f} ms   {seconds / reference:8.2f}x torch")


def main():
    torch.set_grad_enabled(False)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, numpy {np.__version__}")

    image = data.sample_image("camera")  # 512 x 512, float64
    kernel = np.random.default_rng(0).normal(size=(3, 3))
    image32, kernel32 = image.astype(np.float32), kernel.astype(np.float32)
    t_torch = best_of(
        lambda: F.conv2d(
            torch.from_numpy(image32)[None, None], torch.from_numpy(kernel32)[None, None]
        )
    )
    crop = image[:128, :128]
    t_naive = best_of(lambda: conv.corr2d_naive(crop, kernel), repeat=1) * (510 * 510) / (126 * 126)
    rows = [
        ("corr2d_naive (scaled)", t_naive),
        ("corr2d float64", best_of(lambda: conv.corr2d(image, kernel))),
        ("corr2d float32", best_of(lambda: conv.corr2d(image32, kernel32))),
        ("conv2d float32", best_of(lambda: conv.conv2d(image32[None, None], kernel32[None, None]))),
        (
            "scipy.signal.correlate2d",
            best_of(lambda: scipy.signal.correlate2d(image, kernel, mode="valid")),
        ),
        ("torch conv2d float32", t_torch),
    ]
    report("512x512 image, one 3x3 kernel", rows, t_torch)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3, 64, 64)).astype(np.float32)
    w = rng.normal(size=(16, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=16).astype(np.float32)
    xt, wt, bt = map(torch.from_numpy, (x, w, b))
    t_torch = best_of(lambda: F.conv2d(xt, wt, bt, padding=1))
    rows = [
        ("conv2d float32", best_of(lambda: conv.conv2d(x, w, b, padding=1))),
        ("conv2d float32, stride 2", best_of(lambda: conv.conv2d(x, w, b, stride=2, padding=1))),
        ("torch conv2d float32", t_torch),
    ]
    report("batch 8x3x64x64, 16 filters 3x3, padding 1", rows, t_torch)

    g = rng.normal(size=(8, 16, 64, 64)).astype(np.float32)
    xg, wg = xt.clone().requires_grad_(), wt.clone().requires_grad_()

    def torch_backward():
        with torch.enable_grad():
            F.conv2d(xg, wg, padding=1).backward(torch.from_numpy(g))

    t_torch = best_of(torch_backward)
    rows = [
        ("conv2d_backward float32", best_of(lambda: conv.conv2d_backward(g, x, w, padding=1))),
        ("torch autograd backward", t_torch),
    ]
    report("backward of the batch above", rows, t_torch)


if __name__ == "__main__":
    main()
