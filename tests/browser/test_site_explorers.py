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
