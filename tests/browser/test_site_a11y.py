"""Accessibility of every page: axe-core finds no serious or critical violation; images have alt.

axe-core comes from npm through scripts/vendor_web_assets.py into `_web/test/axe.min.js` (the
site does not serve it); each test injects it into the page after the saved widgets render.
"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT
from test_site_layout import _wait_for_widgets
from test_website import _page_paths

pytestmark = pytest.mark.browser

AXE = ROOT / "_web" / "test" / "axe.min.js"
IMG = re.compile(r"<img\b[^>]*>", re.S)
ALT = re.compile(r'\balt="([^"]*)"')


def _axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run scripts/vendor_web_assets.py (make book does)")
    return AXE.read_text(encoding="utf-8")


def test_every_image_in_the_built_pages_has_alt_text(site):
    """Every <img> written into the pages says what it shows (not a file name, not empty)."""
    _, html = site
    missing = []
    for path in _page_paths(html):
        for tag in IMG.findall((html / path).read_text(encoding="utf-8")):
            alt = ALT.search(tag)
            text = alt[1].strip() if alt else ""
            if not text or re.search(r"\.(png|jpe?g|svg|gif)$", text) or "_images/" in text:
                missing.append(f"{path}: {tag[:160]}")
    assert not missing, f"{len(missing)} images without real alt text:\n" + "\n".join(missing)


def test_axe_finds_no_serious_or_critical_violation(site, browser):
    base, html = site
    axe = _axe_source()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    found, checked = [], 0
    try:
        for path in _page_paths(html):
            if 'http-equiv="Refresh"' in (html / path).read_text(encoding="utf-8"):
                continue
            page = context.new_page()
            page.goto(f"{base}/{path}", wait_until="networkidle")
            _wait_for_widgets(page)
            # Let site-a11y.js name the freshly rendered widget controls (next animation frame).
            page.wait_for_timeout(300)
            page.add_script_tag(content=axe)
            result = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
                " nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: '"
                " + n.failureSummary.replace(/\\s+/g, ' ').slice(0, 200)), count: v.nodes.length}))"
            )
            checked += 1
            for v in result:
                found.append(
                    f"{path}: {v['impact']} {v['id']} ({v['help']}), {v['count']} nodes:\n    "
                    + "\n    ".join(v["nodes"])
                )
            page.close()
    finally:
        context.close()
    assert checked >= 10
    assert not found, "\n".join(found)
