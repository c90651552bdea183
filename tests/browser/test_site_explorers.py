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


def test_shape_tracer_table_scrolls_in_its_own_box_on_a_phone(site, browser):
    """At 390 px the widest table (VGG-16) keeps its rows on one line and scrolls sideways
    inside its box; the explorer and the page stay within the screen."""
    base, _ = site
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        page.goto(f"{base}/chapters/03_padding_stride.html")
        explorer = page.locator(".cnncourse-shape-tracer").first
        explorer.locator(".cnncourse-tracer-table table").wait_for(timeout=60_000)
        explorer.get_by_role("combobox", name="stack").select_option("VGG-16")
        box = explorer.locator(".cnncourse-tracer-table")
        page.wait_for_function("el => el.innerText.includes('fc8')", arg=box.element_handle())
        m = box.evaluate(
            """el => {
              const r = el.getBoundingClientRect(), vw = document.documentElement.clientWidth;
              const lines = td => {  // text lines a cell wraps into
                const range = document.createRange();
                range.selectNodeContents(td);
                return range.getClientRects().length;
              };
              const wrapped = [...el.querySelectorAll('td, th')].filter(c => lines(c) > 1).length;
              el.scrollLeft = 100;
              return {vw, right: r.right, scroll: el.scrollWidth - el.clientWidth,
                      moved: el.scrollLeft, wrapped,
                      page: document.documentElement.scrollWidth - vw};
            }"""
        )
        assert m["right"] <= m["vw"] and m["page"] <= 0, m
        assert m["scroll"] > 0 and m["moved"] == 100 and m["wrapped"] == 0, m
    finally:
        context.close()
