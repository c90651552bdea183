"""Separable vs direct Gaussian blur, and the widget compute paths, timed in one process.

    .venv/bin/python benchmarks/filters_separable.py

A (2r+1) x (2r+1) Gaussian costs (2r+1)**2 multiply-adds per pixel applied directly and 2 (2r+1)
as two 1-D passes. For each sigma this prints the direct and separable times of
``cnncourse.filters`` (both through ``conv.corr2d``), their ratio next to the ratio of
multiply-adds, and each as a ratio to ``scipy.ndimage.gaussian_filter`` (compiled C, separable).
Large direct kernels are timed on a crop and scaled by the pixel count.
"""

import time

import numpy as np
import scipy.ndimage as ndi

from cnncourse import data, filters


def best_of(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    image = data.sample_image("camera")  # 512 x 512, float64
    h, w = image.shape
    print(f"numpy {np.__version__}; image {h}x{w} float64; best of 3 (direct: best of 1 if slow)")
    header = (
        f"{'sigma':>5} {'kernel':>7} {'direct ms':>10} {'separable ms':>13} "
        f"{'direct/sep':>10} {'MAC ratio':>9} {'sep/scipy':>9} {'direct/scipy':>12}"
    )
    print(header)
    for sigma in (1.0, 2.0, 3.0, 5.0, 10.0):
        k2 = filters.gaussian_kernel2d(sigma)
        size = k2.shape[0]
        t_scipy = best_of(lambda s=sigma: ndi.gaussian_filter(image, s, mode="reflect"))
        t_sep = best_of(lambda s=sigma: filters.gaussian_blur(image, s))
        # Direct cost grows with size**2: time a crop for big kernels and scale by pixel count.
        crop = image if size <= 13 else image[:128, :128]
        repeat = 3 if size <= 13 else 1
        t_direct = best_of(lambda c=crop, k=k2: filters.filter2d(c, k), repeat) * (
            h * w / crop.size
        )
        print(
            f"{sigma:5.1f} {size:>3}x{size:<3} {t_direct * 1e3:10.1f} {t_sep * 1e3:13.1f} "
            f"{t_direct / t_sep:10.1f} {size / 2:9.1f} {t_sep / t_scipy:9.1f} "
            f"{t_direct / t_scipy:12.1f}"
        )

    # Widget compute paths on the same image (the lead's benchmarks/widget_latency.py times these).
    from cnncourse.widgets import filter_lab, kernel_explorer

    print("\nwidget compute on camera 512x512 (ms, best of 5)")
    calls = {
        "kernel_explorer.apply_kernel 3x3": lambda: kernel_explorer.apply_kernel(
            "camera", filters.SOBEL_X
        ),
        "kernel_explorer.apply_kernel 5x5": lambda: kernel_explorer.apply_kernel(
            "camera", filters.kernel("gaussian", 5)
        ),
        "kernel_explorer.to_png (512x512)": lambda: kernel_explorer.to_png(image),
        "filter_lab gaussian sigma=2": lambda: filter_lab.filter_lab("camera", "gaussian", 2.0),
        "filter_lab gaussian sigma=6": lambda: filter_lab.filter_lab("camera", "gaussian", 6.0),
        "filter_lab sobel x": lambda: filter_lab.filter_lab("camera", "sobel"),
        "filter_lab dog sigma=2": lambda: filter_lab.filter_lab("camera", "dog", 2.0),
    }
    for name, fn in calls.items():
        print(f"  {name:<36} {best_of(fn, 5) * 1e3:8.1f}")


if __name__ == "__main__":
    main()
