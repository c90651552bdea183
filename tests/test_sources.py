"""book/sources.md is generated from the chapters' claim-check boxes (scripts/build_sources.py)."""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import build_sources  # noqa: E402


def _nb(*cells):
    """A synthetic notebook from ("md"|"code", text) pairs."""
    nb = nbformat.v4.new_notebook()
    for kind, text in cells:
        maker = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(maker(text))
    return nbformat.from_dict(nb)


CLAIM = (
    "md",
    '> **Claim check:** "Same" padding keeps the size for any stride.\n'
    "> It is stated for every layer.\n"
    "> *Source:* Istvan Gellai, *Convolutional Neural Networks and their Applications in "
    "Computer Vision*, §4.2",
)
CODE = ("code", "print(1)")
VERDICT = ("md", "> **Verdict:** Does not hold. With stride 2 the size halves.")


def test_parser_reads_claim_source_section_and_verdict():
    nb = _nb(("md", "# Chapter X\n\n## 3. Padding"), CLAIM, CODE, ("md", "more prose"), VERDICT)
    (check,) = build_sources.parse_notebook(nb, "03_x.ipynb")
    assert check.chapter == "03_x.ipynb"
    assert check.section == "3. Padding"
    assert (
        check.claim == '"Same" padding keeps the size for any stride. It is stated for every layer.'
    )
    assert check.source.startswith("Istvan Gellai")
    assert check.source.endswith("§4.2")
    assert check.verdict == "Does not hold."
    assert check.explanation == "With stride 2 the size halves."


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([CLAIM, CODE], "has no verdict"),
        ([CLAIM, CODE, CLAIM, CODE, VERDICT], "no verdict before the next"),
        ([CODE, VERDICT], "verdict without a claim"),
        ([CLAIM, VERDICT], "no code cell"),
        ([("md", "> **Claim check:** x is y."), CODE, VERDICT], "exactly one line"),
        ([CLAIM, CODE, ("md", "> **Verdict:** Mostly fine.")], "must start with one of"),
    ],
)
def test_parser_rejects_malformed_claim_checks(cells, message):
    with pytest.raises(build_sources.ClaimCheckError, match=message):
        build_sources.parse_notebook(_nb(*cells), "bad.ipynb")


def test_render_lists_every_check_and_links_the_chapter(tmp_path):
    two = _nb(("md", "# Chapter 9 — Test"), CLAIM, CODE, VERDICT, CLAIM, CODE, VERDICT)
    nbformat.write(two, tmp_path / "09_test.ipynb")
    nbformat.write(_nb(("md", "# no checks")), tmp_path / "10_none.ipynb")
    text = build_sources.render(tmp_path)
    assert "## [Chapter 9 — Test](../chapters/09_test.ipynb)" in text
    assert text.count("**Claim:**") == 2
    assert "10_none" not in text
    assert "2 claim checks" in text
    assert build_sources.render(tmp_path) == text  # deterministic


def test_committed_sources_page_is_up_to_date():
    assert build_sources.render() == build_sources.PAGE.read_text(encoding="utf-8"), (
        "book/sources.md is out of date; run `python scripts/build_sources.py`"
    )


def test_check_mode_fails_on_a_stale_page(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "sources.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(build_sources, "PAGE", stale)
    monkeypatch.setattr(build_sources, "ROOT", tmp_path)
    assert build_sources.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert build_sources.main([]) == 0
    assert build_sources.main(["--check"]) == 0
