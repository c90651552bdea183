"""The widgets in a real JupyterLab: open a chapter, run it, drive the explorer, see it change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 90_000
ARTIFACTS = Path(__file__).with_name("artifacts")

# Mean pixel value of an <img>, read back through a canvas: proves the picture itself changed.
IMAGE_MEAN_JS = """img => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let s = 0;
  for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];
  return s / (d.length / 4) / 3;
}"""


def run_all_cells(page, base: str, notebook: str, ready_selector: str):
    """Open ``notebook`` in JupyterLab, run all cells, wait until ``ready_selector`` shows."""
    page.goto(f"{base}/lab/tree/{notebook}")
    page.locator(".jp-NotebookPanel").first.wait_for(timeout=60_000)
    # Should JupyterLab still ask which kernel to start, accept the preselected course kernel
    # whenever the dialog shows up (autoStartDefaultKernel normally prevents it).
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    page.add_locator_handler(dialog, lambda d: d.get_by_role("button", name="Select").click())
    # Loaded (cells rendered) and the kernel started and idle, as the status bar says.
    page.locator(".jp-NotebookPanel .jp-Cell").nth(1).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"\|\s*Idle$")).first.wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.get_by_text("Run All Cells", exact=True).click()
    ready = page.locator(ready_selector).first
    try:
        ready.wait_for(state="attached", timeout=RUN_TIMEOUT_MS)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"failed_{notebook.replace('/', '_')}.png"))
        raise
    ready.scroll_into_view_if_needed()
    ready.wait_for(state="visible")


def wait_for_new_src(page, img, old_src: str):
    page.wait_for_function(
        "([i, s]) => i.src !== s && i.complete", arg=[img.element_handle(), old_src]
    )
    return img.get_attribute("src")
