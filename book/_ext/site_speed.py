"""Sphinx extension: a fast first paint on slow connections.

The review of the site (3.6 MB of widget manager blocking the first paint; 38-43 s of blank page
on slow 4G) asked for three things, done here:

1. The widget manager (the scripts listed in ``nb_ipywidgets_js``, e.g. RequireJS and the
   ipywidgets HTML manager) is never a ``<script src>`` in ``<head>``. myst-nb adds the entry only
   to pages that carry widget state; this extension replaces the list by one small deferred
   loader (``static/widget-loader.js``) that fetches the listed scripts, in order, once the page
   has loaded. Add scripts for the widget manager (anywidget's AMD build, say) to
   ``nb_ipywidgets_js`` in jupyter-book.yml as before: the loader loads them all.
2. The saved widget state (up to 0.5 MB of JSON) moves from ``<head>`` to the end of ``<body>``:
   the browser can paint the text before it has downloaded it. The manager reads it from there.
3. MathJax only on pages whose HTML has math; Sphinx adds it to every page whose toctree
   includes a page with math (the landing page, say). Images below the fold load lazily.
4. The theme's ``scripts/fontawesome.js`` (1.45 MB, 0.54 MB gzipped, on every page) is dropped:
   the theme's CSS already draws every Font Awesome icon from the web font. The script only
   turned the icons into SVG, and in doing so replaced the Play button's ``<i>`` inside saved
   widgets, whose code then failed ("Cannot set properties of undefined (setting 'className')").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

LOADER = "widget-loader.js"
WIDGET_STATE = re.compile(
    r'[ \t]*<script type="application/vnd\.jupyter\.widget-state\+json">.*?</script>\n?', re.S
)
FONTAWESOME_JS = re.compile(
    r'[ \t]*<script defer src="[^"]*scripts/fontawesome\.js[^"]*"></script>\n?'
)
IMG_TAG = re.compile(r"<img\b(?![^>]*\bloading=)")
# What MathJax typesets on this site (Sphinx's mathjax3 config): elements of class "math" and
# notebook outputs (class "output_area") containing TeX delimiters.
MATH = re.compile(r'class="[^"]*\bmath\b|\\\(|\\\[|\$\$')


def _widget_loader(app, config):
    scripts = list(config.nb_ipywidgets_js or {})
    if not scripts or scripts == [LOADER]:
        return
    config.nb_ipywidgets_js = {
        LOADER: {"defer": "defer", "data-scripts": json.dumps(scripts)},
    }


def _mathjax_only_with_math(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    if MATH.search(body):
        return
    mathjax = app.config.mathjax_path
    context["script_files"] = [
        js
        for js in context.get("script_files", [])
        if mathjax not in str(getattr(js, "filename", js))
        and "window.MathJax" not in getattr(js, "attributes", {}).get("body", "")
    ]


def move_widget_state(html: str) -> str:
    """Move the widget-state ``<script>`` blocks from ``<head>`` to the end of ``<body>``."""
    head_end = html.find("</head>")
    if head_end < 0:
        return html
    head, rest = html[:head_end], html[head_end:]
    states = WIDGET_STATE.findall(head)
    if not states:
        return html
    head = WIDGET_STATE.sub("", head)
    body_end = rest.rfind("</body>")
    return head + rest[:body_end] + "".join(states) + rest[body_end:]


def lazy_images(html: str) -> str:
    """Give every ``<img>`` without a ``loading`` attribute ``loading="lazy"``."""
    return IMG_TAG.sub('<img loading="lazy" decoding="async"', html)


def _build_finished(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        if "_static" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        new = FONTAWESOME_JS.sub("", lazy_images(move_widget_state(text)))
        if new != text:
            page.write_text(new, encoding="utf-8")


def setup(app):
    # After jupyter-book's and myst-nb's own config handling (priority 800 > default 500).
    app.connect("config-inited", _widget_loader, priority=800)
    # After sphinx.ext.mathjax (priority 500) has added its scripts.
    app.connect("html-page-context", _mathjax_only_with_math, priority=900)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
