"""Sphinx extension: what a reader sees on every page.

- Test-harness markers (``# NBVAL_IGNORE_OUTPUT`` and the other ``NBVAL_*`` comments that
  nbval reads from the first line of a cell) are removed from the displayed code and from the
  search index; the notebooks keep them.
- The footer states the course version (``cnncourse.__version__``) and the licence
  (``project.license`` in pyproject.toml), read from those files, never copied.
- Search: ``cnncourse_search_terms`` (jupyter-book.yml) maps a page to the terms it is *the*
  page for; each becomes a main index entry on the section whose title names it (else the page
  title), which Sphinx's search ranks above every full-text hit.
- ``static/site.css`` (phone layout of explorers and code) and ``static/site-a11y.js``
  (accessible names for saved-widget controls, which the ipywidgets HTML manager leaves
  unlabelled) are added to every page, and ``static/site-snapshot.js``: explorers that compute
  in Python only (class ``cnncourse-needs-kernel``) get a "static snapshot" badge and disabled
  controls.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import tomllib
from docutils import nodes
from sphinx import addnodes

NBVAL_LINE = re.compile(r"^[ \t]*#[ \t]*NBVAL_[A-Z_]+[^\n]*\n?", re.M)


def strip_nbval(text: str) -> str:
    """``text`` without its ``# NBVAL_...`` comment lines."""
    return NBVAL_LINE.sub("", text)


def _strip_nbval_markers(app, doctree):
    for block in list(doctree.findall(nodes.literal_block)):
        text = block.astext()
        if "NBVAL_" not in text:
            continue
        new = strip_nbval(text)
        block.children = []
        block += nodes.Text(new)
        block.rawsource = new


def _add_search_terms(app, doctree):
    terms = (app.config.cnncourse_search_terms or {}).get(app.env.docname, [])
    sections = list(doctree.findall(nodes.section))
    if not terms or not sections:
        return
    for term in terms:
        named = [s for s in sections if term.lower() in s[0].astext().lower()]
        section = named[0] if named else sections[0]
        entry = ("single", term, section["ids"][0], "main", None)
        section.insert(1, addnodes.index(entries=[entry], inline=False))


def footer_html(root: Path, repository_url: str = "") -> str:
    """The footer line: course version and licence, read from the package and pyproject.toml."""
    init = (root / "cnncourse" / "__init__.py").read_text(encoding="utf-8")
    version = re.search(r'^__version__ = "([^"]+)"', init, re.M).group(1)
    licence = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "license"
    ]
    text = f"{html.escape(licence)} licence"
    if repository_url:
        text = f'<a href="{html.escape(repository_url)}/blob/main/LICENSE">{text}</a>'
    return f'<p class="cnncourse-footer">cnncourse {html.escape(version)} · {text}</p>'


def _footer(app, config):
    options = dict(config.html_theme_options or {})
    options["extra_footer"] = footer_html(
        Path(app.srcdir), str(options.get("repository_url") or "").strip()
    )
    config.html_theme_options = options


def _add_static_path(app):
    static = str(Path(__file__).with_name("static"))
    if static not in app.config.html_static_path:
        app.config.html_static_path.append(static)


def setup(app):
    app.add_config_value("cnncourse_search_terms", {}, "env", types=[dict])
    app.connect("config-inited", _footer, priority=900)
    app.connect("builder-inited", _add_static_path)
    app.connect("doctree-read", _strip_nbval_markers)
    app.connect("doctree-read", _add_search_terms)
    app.add_css_file("site.css", priority=900)
    app.add_js_file("site-a11y.js", defer="defer", priority=900)
    app.add_js_file("site-snapshot.js", defer="defer", priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
