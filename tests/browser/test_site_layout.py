"""The chapters on a phone (390 px wide): explorers fit, their text is not squeezed, code scrolls.

Each chapter is loaded at 390x844 (mobile, touch) and left to render its saved widgets; then:
- the page itself never scrolls sideways;
- every explorer (saved-widget root) stays within the viewport;
- every text panel inside an explorer is at least MIN_TEXT_WIDTH wide (the review found one
  squeezed to ~35 px, one word per line);
- every code cell fits the viewport, scrolling its own long lines sideways.
"""

from __future__ import annotations

import pytest
from test_website import _page_paths

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
MIN_TEXT_WIDTH = 150

MEASURE = """
() => {
  const vw = document.documentElement.clientWidth;
  const out = {vw, pageScroll: document.documentElement.scrollWidth - vw, widgets: [],
               squeezed: [], code: []};
  const name = el => (el.className && el.className.baseVal === undefined ? el.className : '')
    .split(' ').filter(c => c.startsWith('cnncourse-')).join(' ') || el.tagName;
  for (const root of document.querySelectorAll('.cell_output .jupyter-widgets.widget-subarea,'
      + ' .cell_output .widget-subarea > .jupyter-widgets')) {
    const r = root.getBoundingClientRect();
    if (r.width === 0) continue;
    if (r.left < -1 || r.right > vw + 1) out.widgets.push(`${name(root)}: ${r.left}..${r.right}`);
  }
  for (const el of document.querySelectorAll('.cell_output .widget-html, .cell_output .widget-htmlmath')) {
    const r = el.getBoundingClientRect();
    const text = (el.innerText || '').trim();
    if (r.width === 0 || text.length < 20) continue;
    if (r.width < MIN_TEXT_WIDTH) out.squeezed.push(`${name(el.closest('[class*=cnncourse-]') || el)}: ${Math.round(r.width)} px: ${text.slice(0, 40)}`);
  }
  for (const pre of document.querySelectorAll('div.cell_input pre, div.cell_output pre')) {
    const r = pre.getBoundingClientRect();
    if (r.width === 0) continue;
    const scrolls = getComputedStyle(pre).overflowX;
    if (r.right > vw + 1 || (pre.scrollWidth > pre.clientWidth && scrolls === 'visible'))
      out.code.push(`${Math.round(r.left)}..${Math.round(r.right)} ${scrolls}: ${pre.innerText.slice(0, 40)}`);
  }
  return out;
}
""".replace("MIN_TEXT_WIDTH", str(MIN_TEXT_WIDTH))


def _wait_for_widgets(page):
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        page.wait_for_function(
            "n => document.querySelectorAll('.widget-subarea > *').length >= n",
            arg=views,
            timeout=60_000,
        )


def test_explorers_and_code_fit_a_phone(site, browser, artifacts):
    base, html = site
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    problems = []
    try:
        for path in (p for p in _page_paths(html) if p.startswith("chapters/")):
            page = context.new_page()
            page.goto(f"{base}/{path}", wait_until="networkidle")
            _wait_for_widgets(page)
            found = page.evaluate(MEASURE)
            if found["pageScroll"] > 0:
                problems.append(f"{path}: the page scrolls sideways by {found['pageScroll']} px")
            problems += [f"{path}: explorer overflows: {w}" for w in found["widgets"]]
            problems += [f"{path}: squeezed text: {w}" for w in found["squeezed"]]
            problems += [f"{path}: code cell breaks the layout: {w}" for w in found["code"]]
            if path.endswith("08_detection.html"):
                page.locator(".widget-subarea").first.scroll_into_view_if_needed()
                page.screenshot(path=str(artifacts / "phone_08_detection.png"))
            page.close()
    finally:
        context.close()
    assert not problems, "\n".join(problems)
