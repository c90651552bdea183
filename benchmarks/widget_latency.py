"""How long each explorer takes to respond, on a 512x512 photo (goal: under 50 ms).

    .venv/bin/python benchmarks/widget_latency.py

Times (a) each widget's pure compute function and (b) a full view update driven through the
widget object, as a user's change of a control would trigger it (compute + PNG/HTML encoding;
the browser's drawing is not included). Best of N runs after one warm-up. The reference line
times torch's conv2d on the same photo, so the numbers can be compared across machines.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from _timing import best_of, environment

from cnncourse import data, filters
from cnncourse.widgets import (
    filter_lab,
    kernel_explorer,
    pooling_explorer,
    shape_tracer,
    stride_padding,
)

GOAL_MS = 50.0


def best_ms(fn, repeat: int = 7) -> float:
    return best_of(fn, repeat, warmup=1) * 1e3


def cycle(widget_value_setter, values):
    """A callable that moves a control to the next of ``values`` on each call."""
    state = {"i": 0}

    def step():
        state["i"] = (state["i"] + 1) % len(values)
        widget_value_setter(values[state["i"]])

    return step


def main() -> None:
    torch.set_grad_enabled(False)
    img = data.sample_image("camera")
    assert img.shape == (512, 512)
    ref = best_ms(
        lambda: F.conv2d(
            torch.from_numpy(img.astype(np.float32))[None, None], torch.ones(1, 1, 3, 3)
        )
    )

    ke = kernel_explorer.KernelExplorer(image="camera", preset="identity")
    fl = filter_lab.FilterLab(image="camera")
    pe = pooling_explorer.PoolingExplorer(source="camera")
    sp = stride_padding.StridePaddingExplorer()
    st = shape_tracer.ShapeTracer()

    def set_cell(v):
        ke.cells[1][1].value = v

    rows = [
        ("kernel explorer: apply_kernel 3x3 Sobel", lambda: kernel_explorer.apply_kernel(img, filters.SOBEL_X)),
        ("kernel explorer: view, preset change", cycle(lambda v: setattr(ke.preset, "value", v), ["sobel_x", "gaussian", "sharpen"])),
        ("kernel explorer: view, one cell edited", cycle(set_cell, [2.0, 3.0, 4.0])),
        ("filter lab: filter_lab gaussian sigma=2", lambda: filter_lab.filter_lab(img, "gaussian", sigma=2.0)),
        ("filter lab: filter_lab gaussian sigma=6", lambda: filter_lab.filter_lab(img, "gaussian", sigma=6.0)),
        ("filter lab: filter_lab sobel", lambda: filter_lab.filter_lab(img, "sobel")),
        ("filter lab: view, sigma slider", cycle(lambda v: setattr(fl.sigma, "value", v), [1.0, 2.0, 3.0])),
        ("pooling: explore max 2x2/2", lambda: pooling_explorer.explore("camera", "max", 2, 2)),
        ("pooling: explore max 3x3/1 pad 1", lambda: pooling_explorer.explore("camera", "max", 3, 1, 1)),
        ("pooling: view, kernel size", cycle(lambda v: setattr(pe.kernel_size, "value", v), [2, 3, 4])),
        ("pooling: view, animation step", lambda: setattr(pe.play, "value", (pe.play.value + 1) % max(pe.play.max, 1))),
        ("stride/padding: explore + grid_html", lambda: stride_padding.grid_html(stride_padding.explore(16, 7, 4, 4, 3, step=0))),
        ("stride/padding: view, stride slider", cycle(lambda v: setattr(sp.stride, "value", v), [1, 2, 3])),
        ("shape tracer: VGG-16 at 224", lambda: shape_tracer.trace_stack("VGG-16", 224)),
        ("shape tracer: view, input size", cycle(lambda v: setattr(st, "input_size", v), [64, 96, 128])),
    ]  # fmt: skip
    print(environment())
    print(f"reference: torch conv2d 3x3 on the 512x512 photo: {ref:.2f} ms\n")
    print(f"{'widget operation':<44} {'ms':>8} {'x ref':>8}  goal {GOAL_MS:.0f} ms")
    for name, fn in rows:
        ms = best_ms(fn)
        flag = "ok" if ms <= GOAL_MS else "SLOW"
        print(f"{name:<44} {ms:8.2f} {ms / ref:8.1f}  {flag}")


if __name__ == "__main__":
    main()
