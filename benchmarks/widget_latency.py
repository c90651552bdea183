"""How long each explorer takes to respond, on a 512x512 photo (the design's goal: under 50 ms).

    .venv/bin/python benchmarks/widget_latency.py [--repeat 7]

Times (a) each widget's pure compute function and (b) the kernel's side of a user's change of a
control, driven through the widget object: setting the trait runs the widget's observers
(re-computation of ``result``/``error``, and the photo bytes sent to the page when the photo
changes; the filter lab, an ipywidgets view, also encodes its PNG/HTML). The anywidget explorers
(kernel, pooling, stride/padding, shape tracer, NMS) draw their view in the page, in JavaScript;
the browser's time is not included. Each row is timed in alternation with the reference, torch's
conv2d 3x3 on the same photo, best of ``--repeat`` runs after one warm-up, and printed as a ratio
to it, so the numbers can be compared across machines and under load.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from _timing import best_of_pair, environment, load_average, parse_repeat

from cnncourse import data, filters
from cnncourse.widgets import (
    filter_lab,
    kernel_explorer,
    nms_explorer,
    pooling_explorer,
    shape_tracer,
    stride_padding,
)


def cycle(widget_value_setter, values):
    """A callable that moves a control to the next of ``values`` on each call."""
    state = {"i": 0}

    def step():
        state["i"] = (state["i"] + 1) % len(values)
        widget_value_setter(values[state["i"]])

    return step


def main() -> None:
    repeat = parse_repeat(__doc__.splitlines()[0], default=7)
    torch.set_grad_enabled(False)
    img = data.sample_image("camera")
    assert img.shape == (512, 512)
    photo, ones = torch.from_numpy(img.astype(np.float32))[None, None], torch.ones(1, 1, 3, 3)

    def reference():
        F.conv2d(photo, ones)

    ke = kernel_explorer.KernelExplorer(image="camera", preset="identity")
    fl = filter_lab.FilterLab(image="camera")
    pe = pooling_explorer.PoolingExplorer(source="camera")
    sp = stride_padding.StridePaddingExplorer()
    st = shape_tracer.ShapeTracer()
    ne = nms_explorer.NMSExplorer()

    def set_cell(v):  # the page sends the whole edited grid
        cells = [list(row) for row in ke.cells]
        cells[1][1] = v
        ke.cells = cells

    def next_step(widget, n_steps):
        widget.step = (widget.step + 1) % n_steps()

    rows = [
        ("kernel explorer: apply_kernel 3x3 Sobel", lambda: kernel_explorer.apply_kernel(img, filters.SOBEL_X)),
        ("kernel explorer: view, preset change", cycle(lambda v: setattr(ke, "preset", v), ["sobel_x", "gaussian", "sharpen"])),
        ("kernel explorer: view, one cell edited", cycle(set_cell, [2.0, 3.0, 4.0])),
        ("kernel explorer: view, photo change", cycle(lambda v: setattr(ke, "image", v), list(data.SAMPLE_IMAGES))),
        ("filter lab: filter_lab gaussian sigma=2", lambda: filter_lab.filter_lab(img, "gaussian", sigma=2.0)),
        ("filter lab: filter_lab gaussian sigma=6", lambda: filter_lab.filter_lab(img, "gaussian", sigma=6.0)),
        ("filter lab: filter_lab sobel", lambda: filter_lab.filter_lab(img, "sobel")),
        ("filter lab: view, sigma slider", cycle(lambda v: setattr(fl.sigma, "value", v), [1.0, 2.0, 3.0])),
        ("pooling: explore max 2x2/2", lambda: pooling_explorer.explore("camera", "max", 2, 2)),
        ("pooling: explore max 3x3/1 pad 1", lambda: pooling_explorer.explore("camera", "max", 3, 1, 1)),
        ("pooling: view, kernel size", cycle(lambda v: setattr(pe, "kernel_size", v), [2, 3, 4])),
        ("pooling: view, animation step", lambda: next_step(pe, lambda: pe.result.n_steps)),
        ("stride/padding: explore 16, k7 p4 s4 d3", lambda: stride_padding.explore(16, 7, 4, 4, 3, step=0)),
        ("stride/padding: view, stride slider", cycle(lambda v: setattr(sp, "stride", v), [1, 2, 3])),
        ("shape tracer: VGG-16 at 224", lambda: shape_tracer.trace_stack("VGG-16", 224)),
        ("shape tracer: view, input size", cycle(lambda v: setattr(st, "input_size", v), [64, 96, 128])),
        ("NMS: view, IoU threshold", cycle(lambda v: setattr(ne, "iou_threshold", v), [0.3, 0.5, 0.7])),
        ("NMS: view, animation step", lambda: next_step(ne, lambda: len(ne.result.steps) + 1)),
    ]  # fmt: skip
    print(environment())
    print(
        f"reference: torch conv2d 3x3 on the 512x512 photo, timed in turn with each row; best of {repeat}\n"
    )
    print(f"{'widget operation':<44} {'ms':>8} {'ref ms':>8} {'x ref':>8}")
    for name, fn in rows:
        ours, ref = best_of_pair(fn, reference, repeat, warmup=1)
        print(f"{name:<44} {ours * 1e3:8.2f} {ref * 1e3:8.2f} {ours / ref:8.2f}")
    for widget in (ke, fl, pe, sp, st, ne):  # every view ended on a result, not an error
        assert widget.result is not None, type(widget).__name__
    print(f"\nload average after the runs: {load_average()}")


if __name__ == "__main__":
    main()
