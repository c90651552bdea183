"""Generate ``book/sources.md`` from the chapters' claim-check boxes.

Usage: python scripts/build_sources.py [--check]

A claim check in a chapter is a markdown cell whose first line starts with
``> **Claim check:** `` (the claim, stated in full) and that has a line ``> *Source:* ...``
(title and section of the source); then one or more code cells that compute; then a markdown
cell whose first line starts with ``> **Verdict:** `` and one of ``Holds.``, ``Does not hold.``,
``Holds in part.``, followed by a plain sentence.

The page lists every claim check of every chapter in notebook order, so it never falls behind
the chapters. ``--check`` writes nothing and exits 1 when the committed page differs from what
the chapters generate (tests/test_sources.py runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
PAGE = ROOT / "book" / "sources.md"

CLAIM_MARK = "> **Claim check:** "
SOURCE_MARK = "> *Source:* "
VERDICT_MARK = "> **Verdict:** "
VERDICTS = ("Holds.", "Does not hold.", "Holds in part.")

HEADER = """\
# Sources and claim checks

The syllabus follows four sets of lecture notes on convolutional neural networks and a book:

- Bios 740 lecture notes, Chapter 3: *Convolutional Neural Networks*;
- lecture notes *Convolutional Neural Networks (CNN)*;
- lecture notes *Convolutional Neural Networks (CNNs / ConvNets)*;
- Chun-Hao Yang, *Convolutional Neural Networks* (lecture slides);
- Istvan Gellai, *Convolutional Neural Networks and their Applications in Computer Vision*.

Where a chapter relies on a statement from these sources (or from a paper), it checks it in a
**claim check**: the claim in full, the source by title and section, a cell that computes, and a
verdict. This page lists every claim check of every chapter; it is generated from the chapters by
`scripts/build_sources.py`, so it is never out of date. Follow the chapter link to see the
computation.

"""


class ClaimCheckError(ValueError):
    """A claim-check box in a notebook does not follow the format."""


@dataclass(frozen=True)
class ClaimCheck:
    """One claim check: where it is, what it claims, its source and its verdict."""

    chapter: str  # notebook file name, e.g. "01_convolution.ipynb"
    section: str  # the last heading above the claim (without the #s), "" if none
    claim: str
    source: str
    verdict: str  # one of VERDICTS
    explanation: str


def _text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _unquote(lines: list[str]) -> str:
    """Join blockquote lines into one paragraph (drops the leading '>' and blank quote lines)."""
    parts = []
    for line in lines:
        line = line.strip()
        if line.startswith(">"):
            line = line[1:].strip()
        if line:
            parts.append(line)
    return " ".join(parts)


def _heading(text: str) -> str | None:
    last = None
    for line in text.splitlines():
        m = re.match(r"^#{1,6}\s+(.*\S)\s*$", line)
        if m:
            last = m.group(1)
    return last


def parse_notebook(nb: dict, name: str) -> list[ClaimCheck]:
    """Every claim check of one notebook (a parsed ``.ipynb`` dict), in order.

    Raises
    ------
    ClaimCheckError
        A claim without a source line or without a verdict, a verdict without a claim, no code
        cell between claim and verdict, or a verdict that is not one of ``VERDICTS``. The
        message names the notebook and the cell index.
    """
    checks: list[ClaimCheck] = []
    section = ""
    pending: tuple[int, str, str, str] | None = None  # (cell index, section, claim, source)
    code_since_claim = 0
    for index, cell in enumerate(nb.get("cells", [])):
        text = _text(cell)
        if cell.get("cell_type") == "code":
            code_since_claim += 1
            continue
        if cell.get("cell_type") != "markdown":
            continue
        first = text.lstrip("\n").split("\n", 1)[0]
        where = f"{name}, cell {index}"
        if first.startswith(CLAIM_MARK):
            if pending is not None:
                raise ClaimCheckError(
                    f"{name}, cell {pending[0]}: claim check has no verdict before the next "
                    f"claim check in cell {index}"
                )
            lines = text.strip("\n").split("\n")
            source_lines = [i for i, line in enumerate(lines) if line.startswith(SOURCE_MARK)]
            if len(source_lines) != 1:
                raise ClaimCheckError(
                    f"{where}: a claim check needs exactly one line starting with "
                    f"{SOURCE_MARK!r}, found {len(source_lines)}"
                )
            s = source_lines[0]
            source = _unquote([lines[s][len(SOURCE_MARK) :]])
            claim = _unquote([lines[0][len(CLAIM_MARK) :], *lines[1:s], *lines[s + 1 :]])
            if not claim or not source:
                raise ClaimCheckError(f"{where}: the claim and its source must not be empty")
            pending = (index, section, claim, source)
            code_since_claim = 0
        elif first.startswith(VERDICT_MARK):
            if pending is None:
                raise ClaimCheckError(f"{where}: verdict without a claim check before it")
            if code_since_claim == 0:
                raise ClaimCheckError(
                    f"{where}: no code cell between the claim check (cell {pending[0]}) and its "
                    "verdict; the verdict must rest on a computation"
                )
            body = _unquote([first[len(VERDICT_MARK) :], *text.strip("\n").split("\n")[1:]])
            verdict = next((v for v in VERDICTS if body.startswith(v)), None)
            if verdict is None:
                raise ClaimCheckError(
                    f"{where}: a verdict must start with one of {VERDICTS}, got {body[:40]!r}"
                )
            checks.append(
                ClaimCheck(
                    chapter=name,
                    section=pending[1],
                    claim=pending[2],
                    source=pending[3],
                    verdict=verdict,
                    explanation=body[len(verdict) :].strip(),
                )
            )
            pending = None
        heading = _heading(text)
        if heading is not None:
            section = heading
    if pending is not None:
        raise ClaimCheckError(f"{name}, cell {pending[0]}: claim check has no verdict")
    return checks


def _chapter_title(nb: dict, name: str) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _text(cell).splitlines():
                m = re.match(r"^#\s+(.*\S)\s*$", line)
                if m:
                    return m.group(1)
    return name


def render(chapters_dir: Path = CHAPTERS) -> str:
    """The full text of ``book/sources.md`` for the notebooks in ``chapters_dir``."""
    out = [HEADER]
    counts = dict.fromkeys(VERDICTS, 0)
    body = []
    for path in sorted(chapters_dir.glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        checks = parse_notebook(nb, path.name)
        if not checks:
            continue
        body.append(f"## [{_chapter_title(nb, path.name)}](../chapters/{path.name})\n\n")
        for number, c in enumerate(checks, start=1):
            counts[c.verdict] += 1
            where = f" (section *{c.section}*)" if c.section else ""
            body.append(
                f"{number}. **Claim:** {c.claim}{where}\n\n"
                f"   *Source:* {c.source}\n\n"
                f"   **Verdict: {c.verdict}** {c.explanation}\n\n"
            )
    total = sum(counts.values())
    out.append(
        f"{total} claim checks: "
        + ", ".join(f"{n} “{v[:-1].lower()}”" for v, n in counts.items())
        + ".\n\n"
    )
    out.extend(body)
    return "".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if book/sources.md is out of date"
    )
    args = parser.parse_args(argv)
    try:
        text = render()
    except ClaimCheckError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(
                f"{PAGE.relative_to(ROOT)} is out of date; run `python scripts/build_sources.py`",
                file=sys.stderr,
            )
            return 1
        print(f"{PAGE.relative_to(ROOT)} is up to date")
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
