"""Driving a real JupyterLab: open a notebook and run one of its cells alone on a fresh kernel."""

from __future__ import annotations

import re
from pathlib import Path

ARTIFACTS = Path(__file__).with_name("artifacts")
RUN_TIMEOUT_MS = 90_000


def run_cell_alone(page, base: str, notebook: str, cell_text: str, ready_selector: str):
    """Open ``notebook``, run only the code cell containing ``cell_text``; return (cell, explorer).

    The cell must be the kernel's first execution (prompt ``[1]``): it ran alone, nothing before it.
    """
    # ?reset: a fresh workspace, not the tabs an earlier test left open
    page.goto(f"{base}/lab/tree/{notebook}?reset")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
    panel.wait_for(timeout=60_000)
    # Should JupyterLab still ask which kernel to start, accept the preselected course kernel.
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    page.add_locator_handler(dialog, lambda d: d.get_by_role("button", name="Select").click())
    panel.locator(".jp-Cell").nth(1).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"\|\s*Idle$")).first.wait_for(timeout=60_000)
    # An earlier test may have run this notebook in the same server: restart its kernel, as a
    # student would, so the cell below really runs on a fresh one.
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.get_by_text(re.compile(r"^Restart Kernel…$")).first.click()
    page.locator(".jp-Dialog").get_by_role("button", name="Confirm Kernel Restart").click()
    page.locator(".jp-Dialog").wait_for(state="detached", timeout=30_000)
    page.get_by_text(re.compile(r"\|\s*Idle$")).first.wait_for(timeout=60_000)
    cell = panel.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=cell_text))
    cell = cell.first
    cell.scroll_into_view_if_needed()
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    explorer = cell.locator(ready_selector).first
    try:
        cell.locator(".jp-InputPrompt", has_text="[1]").wait_for(timeout=RUN_TIMEOUT_MS)
        explorer.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"failed_alone_{Path(notebook).stem}.png"))
        raise
    return cell, explorer
