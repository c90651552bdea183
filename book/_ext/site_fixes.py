"""Sphinx extension with two fixes the website needs.

1. Repeated inline scripts.
sphinx-thebe 0.3.1 and sphinx-togglebutton register their inline configuration scripts once per
`env-before-read-docs`, which Jupyter Book emits more than once per build; browsers then stop
with "Identifier 'THEBE_JS_URL' has already been declared". The copies are added after the
`html-page-context` hooks run, so this removes them from the written HTML instead: within each
page, an inline script line identical to an earlier one is dropped.

2. MathJax 3 vs saved widgets: ``static/mathjax2-shim.js`` (loaded deferred, after MathJax)
gives MathJax 3 the one MathJax 2 call the ipywidgets HTML manager makes.
"""

import re
from pathlib import Path

INLINE_SCRIPT = re.compile(r"^\s*<script>.*</script>\s*$")


def dedupe_file(path: Path) -> bool:
    seen, kept, changed = set(), [], False
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if INLINE_SCRIPT.match(line):
            if line.strip() in seen:
                changed = True
                continue
            seen.add(line.strip())
        kept.append(line)
    if changed:
        path.write_text("".join(kept), encoding="utf-8")
    return changed


def _build_finished(app, exception):
    if exception is None and app.builder.format == "html":
        for page in Path(app.outdir).rglob("*.html"):
            dedupe_file(page)


def _add_static_path(app):
    app.config.html_static_path.append(str(Path(__file__).with_name("static")))


def setup(app):
    app.connect("builder-inited", _add_static_path)
    # Sphinx loads MathJax deferred at priority 500; this must run after it.
    app.add_js_file("mathjax2-shim.js", defer="defer", priority=600)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
