"""The whole book as one PDF, built offline: _build/pdf/cnncourse.pdf.

    python scripts/build_pdf.py      # after scripts/vendor_web_assets.py (make book runs it)

`jupyter-book build --builder pdfhtml` does the same two steps (one single-page HTML book, then
Chromium's print to PDF) but launches Playwright's own downloaded browser; this script prints
with the system Chromium ($CNNCOURSE_CHROMIUM, default /usr/bin/chromium) instead, so nothing is
downloaded. Math is typeset and saved widgets are drawn before printing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "pdf"
CHROMIUM = os.environ.get("CNNCOURSE_CHROMIUM", "/usr/bin/chromium")
# Keep cells whole on a page where they fit (the rule jupyter-book's pdfhtml adds).
PRINT_CSS = """
div.cell_input, div.cell_output { break-inside: avoid; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .header-article, .prev-next-area,
.bd-footer-article { display: none !important; }
"""


def build_single_html() -> Path:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--config", "jupyter-book.yml", "--toc"]
        + ["_toc.yml", "--builder", "singlehtml", "--path-output", str(OUT)],
        cwd=ROOT,
        check=True,
    )
    # The toc's root page holds the whole book (index.html only redirects to it).
    root = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))["root"]
    return OUT / "_build" / "singlehtml" / f"{root}.html"


def print_pdf(html: Path, pdf: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(html.resolve().as_uri(), wait_until="networkidle", timeout=300_000)
            # MathJax finishes typesetting; the widget manager loads after the page's load event.
            page.wait_for_function(
                "() => !window.MathJax || !MathJax.startup || MathJax.startup.promise"
                " .then(() => true)",
                timeout=300_000,
            )
            # The site loads images lazily; a printed book needs them all.
            page.evaluate(
                "document.querySelectorAll('img[loading=lazy]')"
                ".forEach(i => { i.loading = 'eager'; })"
            )
            page.wait_for_load_state("networkidle", timeout=300_000)
            page.wait_for_function(
                "Array.from(document.querySelectorAll('img.cell_output img, .cell_output img'))"
                ".every(i => i.complete)",
                timeout=300_000,
            )
            page.add_style_tag(content=PRINT_CSS)
            page.pdf(
                path=str(pdf),
                format="A4",
                print_background=True,
                margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
            )
        finally:
            browser.close()


def main() -> int:
    html = build_single_html()
    pdf = OUT / "cnncourse.pdf"
    print_pdf(html, pdf)
    print(f"wrote {pdf.relative_to(ROOT)} ({pdf.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
