"""Clean pages: search ranks the right chapter first, Play buttons work, no test-harness noise,
one output box per cell, and the version and licence in every footer."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import tomllib
from conftest import ROOT
from test_site_layout import _wait_for_widgets
from test_website import _page_paths

pytestmark = pytest.mark.browser

SEARCHES = {
    "Grad-CAM": "chapters/07_visualization.html",
    "stride": "chapters/03_padding_stride.html",
    "IoU": "chapters/08_detection.html",
}


@pytest.mark.parametrize("query", sorted(SEARCHES))
def test_search_ranks_the_right_chapter_first(site, page, query):
    base, _ = site
    page.goto(f"{base}/search.html?q={quote(query)}", wait_until="networkidle")
    first = page.locator("#search-results ul.search li a").first
    first.wait_for(timeout=30_000)
    assert SEARCHES[query] in first.get_attribute("href"), page.locator(
        "#search-results ul.search li"
    ).all_inner_texts()[:3]


def test_play_buttons_run_without_errors(site, browser):
    """Font Awesome used to swap the Play icon for an SVG, and the widget's code then threw."""
    base, html = site
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    clicked, errors = 0, []
    try:
        for path in (p for p in _page_paths(html) if p.startswith("chapters/")):
            page = context.new_page()
            page.on("pageerror", lambda e, path=path: errors.append(f"{path}: {e}"))
            page.goto(f"{base}/{path}", wait_until="networkidle")
            _wait_for_widgets(page)
            buttons = page.locator(".widget-play button")
            for i in range(buttons.count()):
                if buttons.nth(i).is_visible() and buttons.nth(i).is_enabled():
                    buttons.nth(i).scroll_into_view_if_needed()
                    buttons.nth(i).click()
                    clicked += 1
            page.wait_for_timeout(500)
            page.close()
    finally:
        context.close()
    assert not errors, "\n".join(errors)
    if not clicked:
        pytest.skip("no ipywidgets Play buttons on the site")


def test_no_test_markers_and_one_output_box_per_cell(site):
    _, html = site
    for path in _page_paths(html):
        text = (html / path).read_text(encoding="utf-8")
        assert "NBVAL_" not in text, f"{path}: shows nbval markers"
        for output in text.split('<div class="cell_output docutils container">')[1:]:
            output = output.split('<div class="cell ')[0]
            for kind in ("stream", "stderr"):
                n = len(re.findall(rf'<div class="output {kind}\b', output))
                assert n <= 1, f"{path}: a cell's output split into {n} {kind} boxes"


def test_footer_states_version_and_licence(site):
    _, html = site
    init = (ROOT / "cnncourse" / "__init__.py").read_text()
    version = re.search(r'__version__ = "([^"]+)"', init)[1]
    licence = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    for path in _page_paths(html):
        text = (html / path).read_text(encoding="utf-8")
        if 'http-equiv="Refresh"' in text:
            continue
        footer = re.search(r'<p class="cnncourse-footer">(.*?)</p>', text, re.S)
        assert footer, f"{path}: no version/licence line in the footer"
        assert f"cnncourse {version}" in footer[1] and f"{licence} licence" in footer[1], path
