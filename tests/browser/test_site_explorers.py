"""The built website's explorers compute in the page: no kernel, nothing fetched off the site.

Needs `_build/html` (the book build). Each test opens a chapter, drives its explorer with the
controls a reader uses (tests/browser/_explorer_drivers.py) and asserts the output follows.
"""

from __future__ import annotations

import pytest
from _explorer_drivers import (
    drive_kernel_explorer,
    drive_nms_explorer,
    drive_pooling_explorer,
    drive_shape_tracer,
    drive_stride_explorer,
)

pytestmark = pytest.mark.browser


def open_chapter(page, site, chapter: str, selector: str):
    """Open a chapter page; fail on uncaught errors and on any request leaving the site."""
    base, _ = site
    problems = []
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    page.on(
        "request",
        lambda r: (
            problems.append(f"off-site request: {r.url}")
            if not r.url.startswith((base, "data:", "blob:", "about:"))
            else None
        ),
    )
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    page.goto(f"{base}/chapters/{chapter}.html")
    explorer = page.locator(selector).first
    explorer.wait_for(state="attached", timeout=60_000)
    explorer.scroll_into_view_if_needed()
    return explorer, problems


def test_stride_padding_explorer_live_on_the_site(site, page, artifacts):
    explorer, problems = open_chapter(page, site, "03_padding_stride", ".cnncourse-stride-explorer")
    drive_stride_explorer(page, explorer, shots=artifacts / "site")
    assert problems == []


def test_shape_tracer_live_on_the_site(site, page, artifacts):
    explorer, problems = open_chapter(page, site, "03_padding_stride", ".cnncourse-shape-tracer")
    drive_shape_tracer(page, explorer, shots=artifacts / "site")
    assert page.locator(".cnncourse-needs-kernel").count() == 0  # chapter 3 is all live
    assert problems == []


def test_pooling_explorer_live_on_the_site(site, page, artifacts):
    explorer, problems = open_chapter(page, site, "04_pooling", ".cnncourse-pooling-explorer")
    drive_pooling_explorer(page, explorer, kernel=False, shots=artifacts / "site")
    assert problems == []


def test_kernel_explorer_live_on_the_site(site, page, artifacts):
    explorer, problems = open_chapter(page, site, "01_convolution", ".cnncourse-kernel-explorer")
    drive_kernel_explorer(page, explorer, kernel=False, shots=artifacts / "site")
    assert problems == []


def test_nms_explorer_live_on_the_site(site, page, artifacts):
    explorer, problems = open_chapter(page, site, "08_detection", ".cnncourse-nms-explorer")
    drive_nms_explorer(page, explorer, shots=artifacts / "site")
    assert problems == []


@pytest.mark.parametrize(
    "chapter, explorers",
    [
        ("02_filters", 1),  # filter lab
        ("05_architectures", 1),  # architecture explorer
        ("07_visualization", 2),  # feature maps, Grad-CAM
        ("08_detection", 1),  # detection explorer
    ],
)
def test_python_only_explorers_are_static_snapshots_on_the_site(site, page, chapter, explorers):
    # Their controls would move with nothing following (no kernel): a badge says so and every
    # control is disabled (book/_ext/static/site-snapshot.js).
    explorer, problems = open_chapter(page, site, chapter, ".cnncourse-needs-kernel")
    explorer.locator(".cnncourse-snapshot-badge").wait_for(state="visible", timeout=30_000)
    marked = page.locator(".cnncourse-needs-kernel")
    assert marked.count() == explorers
    for i in range(explorers):
        one = marked.nth(i)
        one.scroll_into_view_if_needed()
        assert "Static snapshot" in one.locator(".cnncourse-snapshot-badge").inner_text()
        controls = one.locator("input, select, button, textarea")
        handles = one.locator(".noUi-handle")  # ipywidgets sliders: focusable divs, no <input>
        assert controls.count() + handles.count() > 0
        enabled = [j for j in range(controls.count()) if controls.nth(j).is_enabled()]
        assert enabled == [], f"{chapter}: explorer {i} has enabled controls {enabled}"
        for handle in handles.all():
            assert handle.get_attribute("tabindex") == "-1"
        for readout in one.locator(".widget-readout").all():
            assert readout.get_attribute("contenteditable") == "false"
    assert problems == []
