"""What the instructor and the student see of a submission: nothing in it may run in a browser.

- :func:`sanitize_html`, :func:`sanitize_markdown`, :func:`sanitize_notebook`: student markdown
  and HTML outputs through ``nh3`` (code and LaTeX kept readable); active output types dropped
  (only :data:`SAFE_OUTPUT_TYPES` and :data:`SANITIZED_OUTPUT_TYPES` stay);
- :data:`MARK_SCHEME`: the instructor's mark scheme inside a written answer's solution;
- :func:`remove_active_files`: submitted files the formgrader would serve as active content
  (:data:`ACTIVE_SUFFIXES`);
- :func:`hide_hidden_tests`: feedback without the hidden tests (:data:`HIDDEN_TESTS`), a failing
  one shown by its error's name and message only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from .notebooks import _nbgrader

# Output types a browser would run or that can carry script; only these text types are kept.
SAFE_OUTPUT_TYPES = ("text/plain", "text/latex", "image/png", "image/jpeg", "image/gif")
SANITIZED_OUTPUT_TYPES = ("text/html", "text/markdown")


def sanitize_html(text: str) -> str:
    """Student HTML made safe to show: ``nh3`` keeps formatting, drops every script."""
    import nh3

    return nh3.clean(text, link_rel="noopener noreferrer nofollow")


# Code and math in markdown: kept out of nh3 (which would read ``a<b`` as a tag) but with every
# ``<``/``>`` neutralised, so that no raw ``<`` reaches the page except nh3's own output.
_PROTECTED = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)


def sanitize_markdown(text: str) -> str:
    """Student markdown made safe to show, keeping its code and LaTeX readable."""
    import secrets

    kept: list[str] = []
    nonce = secrets.token_hex(8)  # a student cannot forge a placeholder

    def stash(match: re.Match) -> str:
        segment = match.group(0)
        if segment.startswith("$"):
            segment = segment.replace("<", r" \lt ").replace(">", r" \gt ")
        else:
            segment = segment.replace("<", "&lt;").replace(">", "&gt;")
        kept.append(segment)
        return f"KEPT{nonce}N{len(kept) - 1}X"

    cleaned = sanitize_html(_PROTECTED.sub(stash, text))
    return re.sub(rf"KEPT{nonce}N(\d+)X", lambda m: kept[int(m.group(1))], cleaned)


def sanitize_notebook(nb, trusted_markdown: Iterable[int] = ()) -> None:
    """Sanitise, in place, markdown cells not in ``trusted_markdown`` and every output."""
    keep = set(trusted_markdown)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type in ("markdown", "raw") and i not in keep:
            cell.source = sanitize_markdown(cell.source)
            cell.pop("attachments", None)
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            for mime in list(data):
                if mime in SANITIZED_OUTPUT_TYPES:
                    value = data[mime]
                    data[mime] = sanitize_html("".join(value) if isinstance(value, list) else value)
                elif mime not in SAFE_OUTPUT_TYPES:
                    del data[mime]
            if not data:
                data["text/plain"] = "(output removed by the grader)"


MARK_SCHEME = re.compile(r"=== BEGIN MARK SCHEME ===\s*(.*?)\s*=== END MARK SCHEME ===", re.DOTALL)


# Files a browser would run if the formgrader served them from the submission's folder.
ACTIVE_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".js", ".mjs", ".pdf"}
)


def remove_active_files(folder: Path) -> list[str]:
    """Delete files the formgrader would serve as active content; return their names."""
    removed = []
    for path in sorted(Path(folder).rglob("*")):
        if (path.is_file() or path.is_symlink()) and path.suffix.lower() in ACTIVE_SUFFIXES:
            path.unlink()
            removed.append(str(path.relative_to(folder)))
    return removed


HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*$", re.MULTILINE | re.DOTALL
)
HIDDEN_NOTE = "# (hidden tests: not shown)"


def hide_hidden_tests(nb) -> None:
    """In place: cut hidden tests from test cells; their errors keep only name and message."""
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        if not HIDDEN_TESTS.search(cell.source):
            continue
        cell.source = HIDDEN_TESTS.sub(HIDDEN_NOTE, cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out.traceback = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
