"""The widgets in a real JupyterLab: open a chapter, run it, drive the explorer, see it change."""

from __future__ import annotations

import re

import pytest
from _lab import RUN_TIMEOUT_MS, run_cell_alone

pytestmark = pytest.mark.browser


def wait_for_new_src(page, img, old_src: str):
    page.wait_for_function(
        "([i, s]) => i.src !== s && i.complete", arg=[img.element_handle(), old_src]
    )
    return img.get_attribute("src")


# ---------------------------------------------------------------------------------------------
# The explorers of chapters 2, 5, 7 and 8, each from its own cell: open the chapter, run only
# the widget cell (it imports what it needs and loads a bundled model), drive every control.


def loaded_src(page, img) -> str:
    img.wait_for(state="visible")
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=img.element_handle())
    return img.get_attribute("src")


def press_slider(slider, key: str = "ArrowRight"):
    handle = slider.locator(".noUi-handle")
    handle.focus()
    handle.press(key)


def wait_for_new_text(page, element, old: str):
    page.wait_for_function(
        "([e, s]) => e.innerText !== s", arg=[element.element_handle(), old], timeout=30_000
    )
    return element.inner_text()


def test_filter_lab_controls_in_jupyterlab(jupyterlab, page, artifacts):
    _, lab = run_cell_alone(
        page,
        jupyterlab,
        "chapters/02_filters.ipynb",
        "filter_lab.FilterLab(",
        ".cnncourse-filter-lab",
    )
    out = lab.locator("img.cnncourse-filter-output")
    src = loaded_src(page, out)
    press_slider(lab.locator(".cnncourse-filter-sigma"))  # sigma 2.0 -> the next step
    src = wait_for_new_src(page, out, src)
    lab.locator(".cnncourse-filter-image select").select_option("camera")
    src = wait_for_new_src(page, out, src)
    lab.locator(".cnncourse-filter-family select").select_option("sobel")
    src = wait_for_new_src(page, out, src)
    lab.locator(".cnncourse-filter-direction button", has_text="y").click()
    src = wait_for_new_src(page, out, src)
    lab.locator(".cnncourse-filter-family select").select_option("box")
    src = wait_for_new_src(page, out, src)
    press_slider(lab.locator(".cnncourse-filter-size"))
    wait_for_new_src(page, out, src)
    lab.screenshot(path=str(artifacts / "jupyterlab_filter_lab_box.png"))


def test_architecture_explorer_controls_and_invalid_size_in_jupyterlab(jupyterlab, page, artifacts):
    _, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/05_architectures.ipynb",
        "ArchitectureExplorer(",
        ".cnncourse-architecture-explorer",
    )
    summary = explorer.locator(".cnncourse-arch-summary")
    text = summary.inner_text()
    assert "resnet18" in text
    press_slider(explorer.locator(".cnncourse-arch-size"))  # 224 -> 225
    text = wait_for_new_text(page, summary, text)
    assert "225" in text
    explorer.locator(".cnncourse-arch-model select").select_option("vgg16")
    text = wait_for_new_text(page, summary, text)
    assert "vgg16" in text
    # typed text that is not a size: a visible message, no traceback
    box = explorer.locator(".cnncourse-arch-size-text input")
    box.fill("abc")
    box.press("Enter")
    message = explorer.locator(".cnncourse-arch-message")
    page.wait_for_function(
        "e => e.innerText.includes('whole number')", arg=message.element_handle()
    )
    # a size the model cannot take: the plain-English reason first, and no broken image
    explorer.locator(".cnncourse-arch-model select").select_option("alexnet")
    page.wait_for_function("e => e.innerText.includes('alexnet')", arg=summary.element_handle())
    page.wait_for_function("i => i.value === '227'", arg=box.element_handle())
    box.fill("224")
    box.press("Enter")
    page.wait_for_function("e => e.innerText.includes('native size')", arg=message.element_handle())
    reason = message.inner_text()
    assert reason.index("native size") < reason.index("PyTorch says")
    broken = explorer.locator("img").evaluate_all(
        "imgs => imgs.filter(i => i.offsetParent !== null && i.naturalWidth === 0).length"
    )
    assert broken == 0
    explorer.screenshot(path=str(artifacts / "jupyterlab_architecture_invalid.png"))


def test_feature_map_browser_controls_in_jupyterlab(jupyterlab, page, artifacts):
    _, browser = run_cell_alone(
        page,
        jupyterlab,
        "chapters/07_visualization.ipynb",
        "fmaps.FeatureMapBrowser(",
        ".cnncourse-feature-map-browser",
    )
    view = browser.locator("img.cnncourse-fmap-map")
    src = loaded_src(page, view)
    press_slider(browser.locator(".cnncourse-fmap-index"))
    src = wait_for_new_src(page, view, src)
    press_slider(browser.locator(".cnncourse-fmap-channel"))
    src = wait_for_new_src(page, view, src)
    select = browser.locator(".cnncourse-fmap-layer select")
    select.select_option(index=3)
    wait_for_new_src(page, view, src)
    browser.screenshot(path=str(artifacts / "jupyterlab_feature_maps.png"))


def test_gradcam_explorer_controls_in_jupyterlab(jupyterlab, page, artifacts):
    cell, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/07_visualization.ipynb",
        "gradcam_explorer.GradCamExplorer(",
        ".cnncourse-gradcam-explorer",
    )
    # the bundled reference model opens on a real map, not the "nothing to show" notice
    message = explorer.locator(".cnncourse-gradcam-message")
    assert "Nothing to show" not in message.inner_text()
    overlay = explorer.locator("img.cnncourse-gradcam-overlay")
    src = loaded_src(page, overlay)
    press_slider(explorer.locator(".cnncourse-gradcam-index"))
    src = wait_for_new_src(page, overlay, src)
    explorer.locator(".cnncourse-gradcam-target select").select_option(index=4)
    src = wait_for_new_src(page, overlay, src)
    press_slider(explorer.locator(".cnncourse-gradcam-alpha"))
    wait_for_new_src(page, overlay, src)
    explorer.screenshot(path=str(artifacts / "jupyterlab_gradcam.png"))


def test_detection_explorer_controls_in_jupyterlab(jupyterlab, page, artifacts):
    _, explorer = run_cell_alone(
        page,
        jupyterlab,
        "chapters/08_detection.ipynb",
        "detection_explorer.DetectionExplorer(",
        ".cnncourse-detection-explorer",
    )
    view = explorer.locator("img.cnncourse-detection-view")
    metrics = explorer.locator(".cnncourse-detection-metrics")
    src = loaded_src(page, view)
    press_slider(explorer.locator(".cnncourse-detection-canvas"))
    src = wait_for_new_src(page, view, src)
    text = metrics.inner_text()
    press_slider(explorer.locator(".cnncourse-detection-score"), "Home")  # score 0: many boxes
    src = wait_for_new_src(page, view, src)
    text = wait_for_new_text(page, metrics, text)
    press_slider(explorer.locator(".cnncourse-detection-iou"), "End")  # IoU 1: no NMS
    wait_for_new_text(page, metrics, text)
    explorer.screenshot(path=str(artifacts / "jupyterlab_detection.png"))


def test_a_widget_cell_runs_alone_after_a_kernel_restart(jupyterlab, page, artifacts):
    notebook, cell_text = "chapters/07_visualization.ipynb", "gradcam_explorer.GradCamExplorer("
    cell, old = run_cell_alone(page, jupyterlab, notebook, cell_text, ".cnncourse-gradcam-explorer")
    old_handle = old.element_handle()
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.get_by_text(re.compile(r"^Restart Kernel…$")).first.click()
    page.locator(".jp-Dialog").get_by_role("button", name="Confirm Kernel Restart").click()
    page.get_by_text(re.compile(r"\|\s*Idle$")).first.wait_for(timeout=60_000)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    # the explorer of the first run (dead since the restart) is replaced by a new, live one
    page.wait_for_function("e => !e.isConnected", arg=old_handle, timeout=RUN_TIMEOUT_MS)
    explorer = cell.locator(".cnncourse-gradcam-explorer").first
    explorer.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    outputs = cell.locator(".jp-OutputArea").inner_text()
    assert "Error" not in outputs and "Traceback" not in outputs
    overlay = explorer.locator("img.cnncourse-gradcam-overlay")
    src = loaded_src(page, overlay)
    press_slider(explorer.locator(".cnncourse-gradcam-index"))
    wait_for_new_src(page, overlay, src)  # the new widget answers its controls
    explorer.screenshot(path=str(artifacts / "jupyterlab_gradcam_after_restart.png"))
