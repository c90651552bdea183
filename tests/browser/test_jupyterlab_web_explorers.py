"""The anywidget explorers in a real JupyterLab, with a kernel: each widget cell run on its own
in a fresh kernel (it imports what it needs), every control changed once, the output follows,
bad typed values give a message, and the kernel sees what the page set."""

from __future__ import annotations

import re

import pytest
from _explorer_drivers import (
    drive_kernel_explorer,
    drive_nms_explorer,
    drive_pooling_explorer,
    drive_stride_explorer,
)

from cnncourse.widgets import pooling_explorer as pe

pytestmark = pytest.mark.browser


def run_cell_alone(page, base: str, notebook: str, cell_text: str, ready_selector: str):
    """Open ``notebook`` on a fresh kernel and run only the code cell containing ``cell_text``."""
    # ?reset: a fresh workspace, not the tabs an earlier test left open
    page.goto(f"{base}/lab/tree/{notebook}?reset")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
    panel.wait_for(timeout=60_000)
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    page.add_locator_handler(dialog, lambda d: d.get_by_role("button", name="Select").click())
    panel.locator(".jp-Cell").nth(1).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"\|\s*Idle$")).first.wait_for(timeout=60_000)
    cell = panel.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=cell_text))
    cell = cell.first
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    # the first prompt number of this kernel: the cell ran alone, nothing before it
    cell.locator(".jp-InputPrompt", has_text="[1]").wait_for(timeout=90_000)
    explorer = cell.locator(ready_selector).first
    explorer.wait_for(state="visible", timeout=60_000)
    return cell, explorer


def kernel_says(page, cell, code: str) -> str:
    """Insert a cell below ``cell``, run ``code`` in the kernel, return its printed output."""
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Escape")  # command mode: b inserts a cell below, Enter edits it
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(code)
    page.keyboard.press("Control+Enter")
    new = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell.jp-mod-active").first
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
