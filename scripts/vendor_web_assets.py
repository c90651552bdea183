"""Vendor the website's JavaScript (MathJax, RequireJS, the ipywidgets HTML manager) from npm,
and anywidget's AMD front-end from its installed Python package.

Also axe-core, the accessibility checker the browser tests inject into each page: it goes to
`_web/test/`, which the site does not serve.

    python scripts/vendor_web_assets.py        # called by `make book`

The built site then loads math and saved widgets from its own `_static/vendor/`, so it works
offline and without third-party CDNs. The files are fetched from the npm registry at build
time into `_web/` (ignored by git; served as `_static/vendor/`) and reused while the versions below are unchanged.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Not under _static/: Jupyter Book adds every .js file found there to every page.
# _web/static/vendor/ is served as _static/vendor/; _web/extra/ is copied to the site root.
WEB = ROOT / "_web"
# Bump LAYOUT when the folder layout below changes, so existing _web/ folders are redone.
LAYOUT = 3
PACKAGES = {
    "mathjax": "3.2.2",
    "requirejs": "2.3.8",
    "@jupyter-widgets/html-manager": "1.0.15",
    # For the browser tests only (tests/browser/test_site_a11y.py), never served.
    "axe-core": "4.14.1",
}
STAMP = WEB / "versions.json"
MATHJAX_ENTRY = "tex-chtml.js"


def vendor_anywidget() -> Path:
    """Copy the installed anywidget's AMD build next to the widget pages (chapters/anywidget.js).

    The explorers are anywidgets: their saved state names the module "anywidget", which the
    HTML manager asks RequireJS for. With no RequireJS configuration, "anywidget" resolves to
    ``anywidget.js`` beside the page, so the site serves it at ``chapters/anywidget.js`` (the
    manager's CDN fallback is never used). The explorers' own code travels in the widget state.
    The wheel's ``nbextension/index.js`` is ``define(["@jupyter-widgets/base"], ...)``, the
    module the HTML manager defines; its version is the one that saved the state.
    """
    import anywidget

    source = Path(anywidget.__file__).with_name("nbextension") / "index.js"
    target = WEB / "extra" / "chapters" / "anywidget.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


def main() -> int:
    code = vendor_npm()
    if code == 0:
        target = vendor_anywidget()
        print(f"anywidget front-end copied to {target.relative_to(ROOT)}")
    return code


def vendor_npm() -> int:
    wanted = {"layout": LAYOUT, **PACKAGES}
    if STAMP.exists() and json.loads(STAMP.read_text()) == wanted:
        print(f"web assets already vendored in {WEB.relative_to(ROOT)}")
        return 0
    npm = shutil.which("npm")
    if npm is None:
        print(
            "npm is needed to vendor MathJax and the widget manager (install Node.js)",
            file=sys.stderr,
        )
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
        subprocess.run(
            [npm, "install", "--prefix", tmp, "--no-audit", "--no-fund", "--silent", *specs],
            check=True,
        )
        modules = Path(tmp) / "node_modules"
        staging = WEB.with_name("_web.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "static" / "vendor").mkdir(parents=True)
        # MathJax: the one combined component the site loads (TeX in, CommonHTML out) plus the
        # folders it loads lazily (fonts, TeX extensions, menu, accessibility); not the other
        # ~20 MB of alternative combined components.
        es5 = modules / "mathjax" / "es5"
        shutil.copytree(
            es5,
            staging / "static" / "vendor" / "mathjax",
            ignore=lambda d, names: [
                n for n in names if Path(d) == es5 and n.endswith(".js") and n != MATHJAX_ENTRY
            ],
        )
        shutil.copy(
            modules / "requirejs" / "require.js", staging / "static" / "vendor" / "require.js"
        )
        manager = modules / "@jupyter-widgets" / "html-manager" / "dist"
        shutil.copy(manager / "embed-amd.js", staging / "static" / "vendor" / "embed-amd.js")
        # The manager's icon fonts (Play and icon buttons) load from URLs relative to the page:
        # @jupyter-widgets/html-manager/dist/ (its own CSS) and @jupyter-widgets/ (the controls'
        # CSS). Widget pages live in chapters/, and jupyter-book.yml copies _web/extra/ to the
        # site root (html_extra_path), so the fonts go to both places under extra/chapters/.
        for sub in ("@jupyter-widgets/html-manager/dist", "@jupyter-widgets"):
            fonts = staging / "extra" / "chapters" / sub
            fonts.mkdir(parents=True, exist_ok=True)
            for path in manager.iterdir():
                if path.suffix in (".woff", ".woff2", ".ttf", ".eot", ".svg"):
                    shutil.copy(path, fonts / path.name)
        # axe-core: test-only, in _web/test/ (neither html_static_path nor html_extra_path).
        (staging / "test").mkdir()
        shutil.copy(modules / "axe-core" / "axe.min.js", staging / "test" / "axe.min.js")
        (staging / "versions.json").write_text(json.dumps(wanted))
        shutil.rmtree(WEB, ignore_errors=True)
        staging.rename(WEB)  # swap in whole: never a half-vendored folder
    print(f"vendored {', '.join(specs)} into {WEB.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
