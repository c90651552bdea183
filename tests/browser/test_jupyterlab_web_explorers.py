"""The anywidget explorers in a real JupyterLab, with a kernel: each widget cell run on its own
in a fresh kernel (it imports what it needs), every control changed once, the output follows,
bad typed values give a message, and the kernel sees what the page set."""

from __future__ import annotations

import pytest
from _explorer_drivers import (
    drive_kernel_explorer,
    drive_nms_explorer,
    drive_pooling_explorer,
    drive_shape_tracer,
    drive_stride_explorer,
    expect_trace,
    press,
    slider,
)
from _lab import run_cell_alone
from torch import nn

from cnncourse.widgets import pooling_explorer as pe
from cnncourse.widgets import shape_tracer as st

pytestmark = pytest.mark.browser


def run_below(page, cell, code: str):
    """Insert a cell below ``cell``, type ``code`` (one line) into it and run it; return it."""
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")  # command mode: b inserts a cell below, Enter edits it
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(code)
    page.keyboard.press("Control+Enter")
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell.jp-mod-active").first


def kernel_says(page, cell, code: str) -> str:
    """Insert a cell below ``cell``, run ``code`` in the kernel, return its printed output."""
    new = run_below(page, cell, code)
    out = new.locator(".jp-OutputArea-output")
    out.first.wait_for(timeout=60_000)
    return out.first.inner_text().strip()


def test_stride_padding_explorer_cell_alone(jupyterlab, page, artifacts):
    cell, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/03_padding_stride.ipynb",
        "StridePaddingExplorer(",
        ".cnncourse-stride-explorer",
    )
    drive_stride_explorer(page, explorer, shots=artifacts / "lab")
    # The page's last state reached Python: n=6, k=1, p=1, s=1, d=2 -> 8x8 output.
    said = kernel_says(
        page,
        cell,
        "print(explorer.size, explorer.kernel_size, explorer.padding, explorer.stride, "
        "explorer.dilation, explorer.result.output_size, repr(explorer.error))",
    )
    assert said == "6 1 1 1 2 8 ''", said


def test_pooling_explorer_cell_alone(jupyterlab, page, artifacts):
    cell, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/04_pooling.ipynb",
        "PoolingExplorer()",
        ".cnncourse-pooling-explorer",
    )
    drive_pooling_explorer(page, explorer, kernel=True, shots=artifacts / "lab")
    said = kernel_says(
        page, cell, "print(explorer.source, explorer.result.output.shape, explorer.result.step)"
    )
    # the page's last settings (avg, window 3, stride 3, padding 1, ceil_mode, padding not
    # counted, the last step) reached Python
    want = pe.explore("camera", "avg", 3, 3, 1, True, False)
    assert said == f"camera {want.output.shape} {want.n_steps - 1}", said


def test_kernel_explorer_cell_alone(jupyterlab, page, artifacts):
    cell, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/01_convolution.ipynb",
        "KernelExplorer(",
        ".cnncourse-kernel-explorer",
    )
    drive_kernel_explorer(page, explorer, kernel=True, shots=artifacts / "lab")
    said = kernel_says(
        page,
        cell,
        "print(explorer.image, explorer.preset, explorer.boundary, explorer.kernel.shape, "
        "explorer.result.shape)",
    )
    assert said == "coins laplacian constant (5, 5) (303, 384)", said


def test_nms_explorer_cell_alone(jupyterlab, page, artifacts):
    cell, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/08_detection.ipynb",
        "NMSExplorer()",
        ".cnncourse-nms-explorer",
    )
    drive_nms_explorer(page, explorer, shots=artifacts / "lab")
    said = kernel_says(
        page, cell, "print(nms_widget.canvas, nms_widget.score_threshold, nms_widget.error == '')"
    )
    assert said == "1 0.0 True", said


def test_shape_tracer_cell_alone(jupyterlab, page, artifacts):
    cell, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/03_padding_stride.ipynb",
        "ShapeTracer(",
        ".cnncourse-shape-tracer",
    )
    drive_shape_tracer(page, explorer, shots=artifacts / "lab")
    said = kernel_says(
        page,
        cell,
        "print(tracer.stack, tracer.input_size, tracer.result.total_parameters, repr(tracer.error))",
    )
    assert said == "LeNet-5 32 61706 ''", said


# A stack the page cannot describe (an Upsample layer): Python traces it and sends the table.
UPSAMPLED = "nn.Sequential(nn.Conv2d(3, 3, 3), nn.Upsample(scale_factor=2), nn.Conv2d(3, 4, 3))"


def test_shape_tracer_kernel_only_stack(jupyterlab, page):
    """A registered stack only Python can trace: the kernel's table is shown, equal to
    trace_stack cell for cell, and follows the slider; the built-in stacks still work."""
    cell, _ = run_cell_alone(
        page,
        jupyterlab,
        "chapters/03_padding_stride.ipynb",
        "ShapeTracer(",
        ".cnncourse-shape-tracer",
    )
    new = run_below(
        page,
        cell,
        "from torch import nn; from cnncourse.widgets import shape_tracer as s; "
        f's.register_stack("upsampled", lambda n: {UPSAMPLED}, 3, 16); '
        's.ShapeTracer(stack="upsampled")',
    )
    explorer = new.locator(".cnncourse-shape-tracer").first
    explorer.wait_for(state="visible", timeout=60_000)
    st.register_stack("upsampled", lambda n: eval(UPSAMPLED, {"nn": nn}), 3, 16)
    try:
        expect_trace(page, explorer, "upsampled", 16)
        press(slider(explorer, "input size"), "ArrowRight")
        expect_trace(page, explorer, "upsampled", 17)
        press(slider(explorer, "input size"), "Home")  # PyTorch rejects 1x1: its message
        expect_trace(page, explorer, "upsampled", 1)
        stacks = explorer.get_by_role("combobox", name="stack")
        stacks.select_option("VGG block")
        expect_trace(page, explorer, "VGG block", 224)
        stacks.select_option("upsampled")
        expect_trace(page, explorer, "upsampled", 16)
    finally:
        del st.STACKS["upsampled"]
