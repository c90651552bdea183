"""Separable vs direct Gaussian blur, and the widget compute paths, timed in one process.

    .venv/bin/python benchmarks/filters_separable.py [--repeat 5]

A (2r+1) x (2r+1) Gaussian costs (2r+1)**2 multiply-adds per pixel applied directly and 2 (2r+1)
as two 1-D passes. For each sigma this prints the direct and separable times of
``cnncourse.filters`` (both through ``conv.corr2d``), their ratio next to the ratio of
multiply-adds, and the separable time as a ratio to two references timed in the same process:
``scipy.ndimage.gaussian_filter`` (compiled C, separable) and torch (two 1-D ``F.conv2d`` passes
on the reflect-padded float64 image). Large direct kernels are timed on a crop and scaled by the
pixel count. Best-of-N timing: see ``_timing.py``.
"""

from __future__ import annotations

import scipy.ndimage as ndi
import torch
import torch.nn.functional as F
from _timing import best_of, environment, load_average, parse_repeat

from cnncourse import data, filters


def torch_separable(image_t, kernel_1d):
    """Two 1-D passes with torch: the reference for ``filters.gaussian_blur``."""
    r = kernel_1d.numel() // 2
    padded = F.pad(image_t, (r, r, r, r), mode="reflect")
    vertical = F.conv2d(padded, kernel_1d.view(1, 1, -1, 1))
    return F.conv2d(vertical, kernel_1d.view(1, 1, 1, -1))


def main():
    repeat = parse_repeat(__doc__.splitlines()[0], default=5)
    torch.set_grad_enabled(False)
    print(environment())
    image = data.sample_image("camera")  # 512 x 512, float64
    image_t = torch.from_numpy(image)[None, None]
    h, w = image.shape
    print(f"image {h}x{w} float64; best of {repeat} (direct with a kernel over 13x13: best of 1)")
    header = (
        f"{'sigma':>5} {'kernel':>7} {'direct ms':>10} {'separable ms':>13} "
        f"{'direct/sep':>10} {'MAC ratio':>9} {'sep/scipy':>9} {'sep/torch':>9}"
    )
    print(header)
    for sigma in (1.0, 2.0, 3.0, 5.0, 10.0):
        k2 = filters.gaussian_kernel2d(sigma)
        size = k2.shape[0]
        k1_t = torch.from_numpy(filters.gaussian_kernel(sigma))
        t_scipy = best_of(lambda s=sigma: ndi.gaussian_filter(image, s, mode="reflect"), repeat)
        t_torch = best_of(lambda k=k1_t: torch_separable(image_t, k), repeat)
        t_sep = best_of(lambda s=sigma: filters.gaussian_blur(image, s), repeat)
        # Direct cost grows with size**2: time a crop for big kernels and scale by pixel count.
        crop = image if size <= 13 else image[:128, :128]
        direct_repeat = repeat if size <= 13 else 1
        t_direct = best_of(lambda c=crop, k=k2: filters.filter2d(c, k), direct_repeat) * (
            h * w / crop.size
        )
        print(
            f"{sigma:5.1f} {size:>3}x{size:<3} {t_direct * 1e3:10.1f} {t_sep * 1e3:13.1f} "
            f"{t_direct / t_sep:10.1f} {size / 2:9.1f} {t_sep / t_scipy:9.2f} "
            f"{t_sep / t_torch:9.2f}"
        )

    # Widget compute paths on the same image (the lead's benchmarks/widget_latency.py times these).
    from cnncourse.widgets import _render, filter_lab, kernel_explorer

    print(f"\nwidget compute on camera 512x512 (ms, best of {repeat})")
    calls = {
        "kernel_explorer.apply_kernel 3x3": lambda: kernel_explorer.apply_kernel(
            "camera", filters.SOBEL_X
        ),
        "kernel_explorer.apply_kernel 5x5": lambda: kernel_explorer.apply_kernel(
            "camera", filters.kernel("gaussian", 5)
        ),
        "_render.png_gray (512x512)": lambda: _render.png_gray(image),
        "filter_lab gaussian sigma=2": lambda: filter_lab.filter_lab("camera", "gaussian", 2.0),
        "filter_lab gaussian sigma=6": lambda: filter_lab.filter_lab("camera", "gaussian", 6.0),
        "filter_lab sobel x": lambda: filter_lab.filter_lab("camera", "sobel"),
        "filter_lab dog sigma=2": lambda: filter_lab.filter_lab("camera", "dog", 2.0),
    }
    for name, fn in calls.items():
        print(f"  {name:<36} {best_of(fn, repeat) * 1e3:8.1f}")
    print(f"\nload average after the runs: {load_average()}")


if __name__ == "__main__":
    main()
