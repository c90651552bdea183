"""The prose students read: no internal references, and its numbers are the notebooks' numbers.

1. No file ids (``003_...``), "book 004", "source 000", line numbers ("L4096", "lines 2728"), or
   "digest" in anything a student or website reader sees: students do not have the documents the
   course was built from, so citations give title and section (``book/sources.md``).
2. Every number with three or more significant digits in a chapter's markdown appears in that
   chapter's code or outputs (or is on ``ALLOWED`` with a reason), so prose cannot drift from
   what the cells compute.
3. No time claims in chapter prose ("about two minutes"): the machine cannot keep them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))

INTERNAL = [
    (re.compile(r"(?<![\w/])00[0-4]_"), "a source file id"),
    (re.compile(r"\b(book|source|lecture|seed)s?\s+00\d\b", re.I), 'a source number ("book 004")'),
    (re.compile(r"(?<![\w-])L\d{3,}\b"), 'a line number ("L4096")'),
    (re.compile(r"\blines?\s+\d{3,}", re.I), 'a line number ("lines 2728")'),
    (re.compile(r"digest", re.I), 'the authors\' "digest"'),
]

# Numbers in chapter prose that no cell prints, each with the reason it may stand.
ALLOWED: dict[str, dict[str, str]] = {
    "*": {},
    "03": {"3037": "the lecture notes' wrong input count, quoted so the chapter can correct it"},
}
YEAR = re.compile(r"^(19[5-9]\d|20[0-2]\d)$")  # publication years in citations

TIME_CLAIM = re.compile(
    r"\b(?:(?:\d+(?:\.\d+)?|two|three|four|five|six|seven|eight|nine|ten|few|several|couple of)"
    r"\s+(?:seconds|minutes|hours)|(?:a|an|one|half an?)\s+(?:minute|hour)|1\s+second)\b",
    re.I,
)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) for every text a reader sees: markdown files whole, notebook cell sources."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        return [(f"cell {i}", _source(c)) for i, c in enumerate(nb["cells"])]
    return [("", path.read_text(encoding="utf-8"))]


def _student_files() -> list[Path]:
    files = [ROOT / "intro.md", ROOT / "README.md"]
    for folder in ("chapters", "solutions", "exercises", "book"):
        for pattern in ("*.ipynb", "*.md"):
            files += [
                p
                for p in (ROOT / folder).rglob(pattern)
                if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts
            ]
    return sorted(set(files))


def _params(paths):
    return [pytest.param(p, id=p.relative_to(ROOT).as_posix()) for p in paths]


def internal_references(text: str) -> list[str]:
    """Each internal reference in ``text``, as "what: the matched text"."""
    found = []
    for pattern, what in INTERNAL:
        found += [f"{what}: {m.group(0)!r}" for m in pattern.finditer(text)]
    return found


@pytest.mark.parametrize("path", _params(_student_files()))
def test_no_internal_references(path):
    bad = [f"{where}: {hit}" for where, text in _texts(path) for hit in internal_references(text)]
    assert not bad, f"{path.relative_to(ROOT)} refers to material students do not have:\n" + (
        "\n".join(bad)
    )


# --- numbers --------------------------------------------------------------------------------

_URL = re.compile(r"https?://\S+|\]\([^)]*\)|<[^>]+>|arXiv:\s*\S+", re.I)
_LATEX_SEP = re.compile(r"(?<=\d)(\\,|\{,\}|\\ |,|\u2009|\u202f)(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"(?<![\w.§])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
# In code and outputs a number may touch letters ("12.5x faster", "conv5", "1e-12").
_COMPUTED_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _normalise(text: str) -> str:
    """Drop URLs and link targets, join thousands separators (1,792 / 1\\,792 / 1 792)."""
    text = _URL.sub(" ", text)
    previous = None
    while previous != text:  # 150,529,000 needs two passes of the look-ahead
        previous = text
        text = _LATEX_SEP.sub("", text)
    return text


def significant_digits(token: str) -> int:
    """Significant digits of a decimal token: 1,792 -> 4, 0.0853 -> 3, 1000 -> 1, 3.50 -> 3."""
    mantissa = re.split(r"[eE]", token)[0]
    if "." in mantissa:
        digits = mantissa.replace(".", "").lstrip("0")
    else:
        digits = mantissa.lstrip("0").rstrip("0")
    return len(digits)


def numbers(text: str, pattern: re.Pattern = _NUMBER) -> list[str]:
    return pattern.findall(_normalise(text))


_SCALES = (1, 100, 0.01, 1e3, 1e-3, 1e-6, 1e-9)


def appears(token: str, haystack: set[str], values: list[float]) -> bool:
    """``token`` is one of the computed numbers, or one of them rounded to its precision
    (also as a percentage or in thousands/millions/billions)."""
    if token in haystack:
        return True
    mantissa = re.split(r"[eE]", token)[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    target = float(token)
    tol = 0.5 * 10.0**-decimals if "e" not in token.lower() else abs(target) * 5e-3
    return any(abs(v * s - target) <= tol * (1 + 1e-9) for v in values for s in _SCALES)


def _computed(nb: dict) -> tuple[set[str], list[float]]:
    texts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts.append(_source(cell))
        for out in cell.get("outputs", []):
            if "text" in out:
                texts.append(_source({"source": out["text"]}))
            for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
                if mime in out.get("data", {}):
                    texts.append(_source({"source": out["data"][mime]}))
    tokens = set()
    for text in texts:
        tokens.update(numbers(text, _COMPUTED_NUMBER))
    return tokens, [float(t) for t in tokens]


FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.M | re.S)


def prose(markdown: str) -> str:
    """Markdown without its fenced code blocks: a port in a shell command is not a claim."""
    return FENCE.sub("", markdown)


def unexplained_numbers(nb: dict, chapter: str) -> list[str]:
    """Prose numbers (>= 3 significant digits) that no code cell or output of ``nb`` holds."""
    haystack, values = _computed(nb)
    allowed = {**ALLOWED["*"], **ALLOWED.get(chapter, {})}
    bad = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for token in numbers(prose(_source(cell))):
            if significant_digits(token) < 3 or token in allowed or YEAR.match(token):
                continue
            if not appears(token, haystack, values):
                bad.append(f"cell {i}: {token}")
    return bad


@pytest.mark.parametrize("path", _params(CHAPTERS))
def test_prose_numbers_are_computed(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = unexplained_numbers(nb, path.stem[:2])
    assert not bad, (
        f"{path.name}: numbers in the prose that no cell computes or prints "
        "(compute them, or add them to ALLOWED with a reason):\n" + "\n".join(bad)
    )


@pytest.mark.parametrize("path", _params(CHAPTERS))
def test_no_time_claims_in_prose(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = [
        f"cell {i}: {m.group(0)!r}"
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "markdown"
        for m in TIME_CLAIM.finditer(_source(cell))
    ]
    assert not bad, f"{path.name}: time claims the machine may not keep:\n" + "\n".join(bad)


# --- the checkers themselves ------------------------------------------------------------------


def test_internal_reference_patterns():
    for text in [
        "see book 004, lines 2728-2772",
        "(L4096-4161)",
        "source 000's code",
        "the 003_slides.txt file",
        "the book digest's items 4-13",
    ]:
        assert internal_references(text), text
    for text in ["Gellai, §4.2.2", "an L2 penalty", "1000 classes", "conv_004_out", "line 12"]:
        assert not internal_references(text), text


def test_number_extraction_and_matching():
    assert numbers("MobileNets (arXiv:1704.04861)") == []
    assert numbers("from 1,792 to 150\\,529\\,000 and 84{,}001×; float32, 3x3, §4.2.2") == [
        "1792",
        "150529000",
        "84001",
    ]
    assert [significant_digits(t) for t in ["1792", "0.0853", "1000", "3.50", "2.63e-04"]] == [
        4,
        3,
        1,
        3,
        3,
    ]
    haystack, values = {"0.8291", "0.931", "4089000000"}, [0.8291, 0.931, 4.089e9]
    assert appears("0.829", haystack, values)  # rounded
    assert appears("93.1", haystack, values)  # as a percentage
    assert appears("4.09", haystack, values)  # in billions
    assert not appears("0.828", haystack, values)
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "1,792 parameters, not 1,793 (1998); 12.5× fewer."},
            {
                "cell_type": "code",
                "source": "print(n)",
                "outputs": [{"output_type": "stream", "text": "1,792 | 12.5x fewer\n"}],
            },
        ]
    }
    assert unexplained_numbers(nb, "99") == ["cell 0: 1793"]
    # A fenced command is code the reader runs, not a claim; the same number in prose still counts.
    fenced = "Run\n```bash\ntorchrun --master-port 29400 x.py\n```\nthen port 29401."
    assert prose(fenced) == "Run\n\nthen port 29401."
    nb["cells"][0]["source"] = fenced
    assert unexplained_numbers(nb, "99") == ["cell 0: 29401"]


def test_time_claim_pattern():
    assert TIME_CLAIM.search("trains in about two minutes on two cores")
    assert TIME_CLAIM.search("takes 30 seconds")
    assert TIME_CLAIM.search("about a minute")
    assert not TIME_CLAIM.search("the timings vary run to run")
    assert not TIME_CLAIM.search("A second example uses stride 2")
