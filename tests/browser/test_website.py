"""The built website in a real browser: pages load cleanly, images, links, math and widgets work."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import launch_cell  # noqa: E402

pytestmark = pytest.mark.browser


def _page_paths(html_root):
    skip = {"_static", "_sources", "_images"}
    return sorted(
        p.relative_to(html_root).as_posix()
        for p in html_root.rglob("*.html")
        if not skip & set(p.relative_to(html_root).parts)
    )


def _visit(page, url, base):
    """Load ``url`` in ``page`` (a fresh tab); return the problems our own assets and code cause."""
    problems = []

    def ours(location: str) -> bool:
        return location.startswith(base) or location in ("", "about:blank")

    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text} ({m.location.get('url', '')})")
            if m.type == "error" and ours(m.location.get("url", ""))
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}\n{e.stack}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status} for {r.url}")
            if r.status >= 400 and r.url.startswith(base)
            else None
        ),
    )
    page.on(
        "requestfailed",
        lambda r: (
            problems.append(f"request failed: {r.url} ({r.failure})")
            if r.url.startswith(base)
            else None
        ),
    )
    page.goto(url, wait_until="networkidle")
    return problems


def test_every_page_loads_without_errors_and_images_load(site, page, artifacts):
    base, html_root = site
    pages = _page_paths(html_root)
    assert "intro.html" in pages and "chapters/01_convolution.html" in pages
    links = set()
    for path in pages:
        tab = page.context.new_page()
        try:
            problems = _visit(tab, f"{base}/{path}", base)
            # Images below the fold load lazily (loading="lazy"): load them all now.
            tab.evaluate(
                "document.querySelectorAll('img[loading=lazy]')"
                ".forEach(i => { i.loading = 'eager'; })"
            )
            tab.wait_for_load_state("networkidle")
            tab.wait_for_timeout(200)
            broken = tab.evaluate(
                "Array.from(document.images)"
                ".filter(i => i.getClientRects().length > 0)"
                ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            assert tab.evaluate("document.images.length") > 0 or "chapters/" not in path
            hrefs = tab.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        finally:
            tab.close()
        assert not broken, f"{path}: images that did not load: {broken}"
        assert not problems, f"{path}: " + "\n".join(problems)
        links.update(t for t, _ in map(urldefrag, hrefs) if t.startswith(base))
    page.goto(f"{base}/chapters/01_convolution.html", wait_until="networkidle")
    page.screenshot(path=str(artifacts / "website_chapter01.png"), full_page=False)
    # Every internal link resolves (no 404), including links to downloads and sources.
    dead = []
    for link in sorted(links):
        try:
            with urllib.request.urlopen(link, timeout=10) as resp:
                if resp.status >= 400:
                    dead.append(f"{link}: {resp.status}")
        except urllib.error.HTTPError as err:
            dead.append(f"{link}: {err.code}")
    assert not dead, "dead internal links:\n" + "\n".join(dead)
    assert len(links) > len(pages), "expected navigation links between the pages"


def test_math_is_typeset(site, page):
    base, _ = site
    page.goto(f"{base}/chapters/01_convolution.html", wait_until="networkidle")
    page.wait_for_selector("mjx-container", timeout=30_000)
    assert page.locator("mjx-container").count() >= 5
    # No raw TeX delimiters left over in the prose.
    assert "$$" not in page.locator("article").inner_text()


def test_saved_widget_renders(site, page, artifacts):
    base, _ = site
    page.goto(f"{base}/chapters/01_convolution.html", wait_until="networkidle")
    explorer = page.locator(".cnncourse-kernel-explorer").first
    explorer.wait_for(state="visible", timeout=30_000)
    explorer.scroll_into_view_if_needed()
    # The page draws the output from the saved photo and kernel, with the preset drop-down.
    img = page.locator("canvas.cnncourse-kernel-output").first
    img.wait_for(state="visible")
    assert page.evaluate("c => c.width", img.element_handle()) > 0
    assert page.locator("select.cnncourse-kernel-preset").count() >= 1
    explorer.screenshot(path=str(artifacts / "website_kernel_explorer.png"))


def test_download_and_launch_buttons_point_to_the_notebook(site, page):
    """Download always; Binder/Colab/repository links only when jupyter-book.yml names the repo."""
    base, _ = site
    url = launch_cell.repository_url()
    page.goto(f"{base}/chapters/01_convolution.html", wait_until="networkidle")
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert any(h.endswith("01_convolution.ipynb") for h in hrefs), "no download link to the .ipynb"
    launch = [h for h in hrefs if "mybinder.org" in h or "colab.research.google.com" in h]
    if not url:
        # No public repository yet: no button may point at a guessed one.
        assert not launch, launch
        assert not [h for h in hrefs if "github.com" in h], "links to an unset repository"
        return
    owner_name = urlparse(url).path.strip("/")
    assert launch and all("01_convolution.ipynb" in h and owner_name in h for h in launch)
    assert all(urlparse(urljoin(base, h)).scheme in ("http", "https") for h in launch)
    assert any(h.startswith(url) for h in hrefs), "no repository button"
