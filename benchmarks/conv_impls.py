"""Time the chapter-1 convolutions against torch.nn.functional.conv2d in the same process.

    .venv/bin/python benchmarks/conv_impls.py [--repeat 50]

Prints each implementation's best-of-N time and its ratio to torch, timed in alternation with
torch (see ``_timing.py``). Goals (issue 18): ``conv2d`` (im2col + one matrix product) within 3x
of torch on the 8x3x64x64 batch with 16 3x3 filters, and ``conv2d_backward`` within 2x of torch's
autograd backward on the same shapes. The backward is compared with torch's backward alone
(``torch.autograd.grad`` on a kept graph) and, for reference, with torch's forward + backward.
The naive loop version is timed on a smaller crop and scaled by the number of output pixels.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F
from _timing import best_of, best_of_pair, environment, load_average, parse_repeat, report

from cnncourse import conv, data


def single_image(repeat):
    image = data.sample_image("camera")  # 512 x 512, float64
    kernel = np.random.default_rng(0).normal(size=(3, 3))
    image32, kernel32 = image.astype(np.float32), kernel.astype(np.float32)
    it, kt = torch.from_numpy(image32)[None, None], torch.from_numpy(kernel32)[None, None]
    t_torch = best_of(lambda: F.conv2d(it, kt), repeat)
    crop = image[:128, :128]
    t_naive = best_of(lambda: conv.corr2d_naive(crop, kernel), 1, 0) * (510 * 510) / (126 * 126)
    rows = [
        ("corr2d_naive (scaled)", t_naive),
        ("corr2d float64", best_of(lambda: conv.corr2d(image, kernel), repeat)),
        ("corr2d float32", best_of(lambda: conv.corr2d(image32, kernel32), repeat)),
        (
            "conv2d float32",
            best_of(lambda: conv.conv2d(image32[None, None], kernel32[None, None]), repeat),
        ),
        (
            "scipy.signal.correlate2d float64",
            best_of(lambda: scipy.signal.correlate2d(image, kernel, mode="valid"), repeat),
        ),
        ("torch conv2d float32", t_torch),
    ]
    report("512x512 image, one 3x3 kernel", rows, t_torch)


def batch(repeat):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3, 64, 64)).astype(np.float32)
    w = rng.normal(size=(16, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=16).astype(np.float32)
    xt, wt, bt = map(torch.from_numpy, (x, w, b))

    print("\nbatch 8x3x64x64 float32, 16 filters 3x3, bias (ours / torch, timed in alternation)")
    cases = [
        ("conv2d, padding 1", lambda: conv.conv2d(x, w, b, padding=1)),
        ("conv2d, stride 2, padding 1", lambda: conv.conv2d(x, w, b, stride=2, padding=1)),
    ]
    refs = [
        lambda: F.conv2d(xt, wt, bt, padding=1),
        lambda: F.conv2d(xt, wt, bt, stride=2, padding=1),
    ]
    for (name, ours), ref in zip(cases, refs, strict=True):
        t_ours, t_ref = best_of_pair(ours, ref, repeat)
        print(
            f"  {name:<40} {t_ours * 1e3:8.3f} ms vs {t_ref * 1e3:8.3f} ms = {t_ours / t_ref:5.2f}x"
        )
    t_im2col = best_of(lambda: conv.im2col(x, 3, padding=1), repeat)
    print(f"  {'of which im2col':<40} {t_im2col * 1e3:8.3f} ms")

    g = rng.normal(size=(8, 16, 64, 64)).astype(np.float32)
    gt = torch.from_numpy(g)
    xg, wg, bg = (t.clone().requires_grad_() for t in (xt, wt, bt))
    with torch.enable_grad():
        y = F.conv2d(xg, wg, bg, padding=1)

    def torch_backward():  # dx, dw, db from the kept graph: the backward alone
        with torch.enable_grad():
            torch.autograd.grad(y, (xg, wg, bg), gt, retain_graph=True)

    def torch_forward_backward():
        with torch.enable_grad():
            torch.autograd.grad(F.conv2d(xg, wg, bg, padding=1), (xg, wg, bg), gt)

    def ours():
        conv.conv2d_backward(g, x, w, padding=1)

    print("\nbackward of the batch above (ours: dx, dw, db from x, w and grad_out)")
    for name, ref in [
        ("vs torch backward alone", torch_backward),
        ("vs torch forward + backward", torch_forward_backward),
    ]:
        t_ours, t_ref = best_of_pair(ours, ref, repeat)
        print(
            f"  {name:<40} {t_ours * 1e3:8.3f} ms vs {t_ref * 1e3:8.3f} ms = {t_ours / t_ref:5.2f}x"
        )


def main():
    repeat = parse_repeat(__doc__.splitlines()[0], default=50)
    torch.set_grad_enabled(False)
    print(environment())
    single_image(repeat)
    batch(repeat)
    print(f"\nload average after the runs: {load_average()}")


if __name__ == "__main__":
    main()
