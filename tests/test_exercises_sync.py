"""exercises/ is generated from solutions/ and in sync; every assignment has the required shape."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import generate_exercises  # noqa: E402

ASSIGNMENTS = generate_exercises.assignments()
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.DOTALL)


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _solution(assignment: str):
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def test_there_are_assignments():
    assert ASSIGNMENTS, "no solutions/<a>/<a>.ipynb found"
    assert all(re.fullmatch(r"ps0\d_[a-z]+", a) for a in ASSIGNMENTS), ASSIGNMENTS


def test_exercises_are_generated_from_solutions(tmp_path):
    """Fails when someone edits exercises/ by hand or forgets `make exercises`."""
    generate_exercises.generate(ASSIGNMENTS, tmp_path)
    stale = generate_exercises.differences(ASSIGNMENTS, tmp_path, ROOT / "exercises")
    assert not stale, (
        f"exercises/ is out of date for {stale}; run `python scripts/generate_exercises.py`"
    )
    extra = sorted(
        p.name for p in (ROOT / "exercises").iterdir() if p.is_dir() and p.name not in ASSIGNMENTS
    )
    assert not extra, f"exercises/ has assignments without a solution: {extra}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_assignment_structure(assignment):
    nb = _solution(assignment)
    metas = [_meta(c) for c in nb.cells]
    ids = [m["grade_id"] for m in metas if "grade_id" in m]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    tests = [c for c in nb.cells if _meta(c).get("grade") and not _meta(c).get("solution")]
    answers = [c for c in nb.cells if _meta(c).get("solution") and not _meta(c).get("grade")]
    written = [c for c in nb.cells if _meta(c).get("grade") and _meta(c).get("solution")]
    questions = {re.match(r"q(\d+)", _meta(c)["grade_id"]).group(1) for c in tests + written}
    assert 4 <= len(questions) <= 8, f"{len(questions)} questions"
    assert 1 <= len(written) <= 2 and all(c.cell_type == "markdown" for c in written)
    assert answers and tests
    assert all(_meta(c)["points"] > 0 for c in tests + written)
    assert any(HIDDEN.search(c.source) for c in tests), "hidden tests"
    for c in tests:
        assert c.cell_type == "code" and _meta(c)["locked"]
        assert re.match(r"q\d+[a-z]?_\w+$", _meta(c)["grade_id"]), _meta(c)["grade_id"]
        visible = HIDDEN.sub("", c.source)
        assert "check." in visible, f"{_meta(c)['grade_id']}: visible part gives no feedback"
        # Test cells bind what they use: a student cannot swap their inputs or checker.
        assert "from cnncourse import check" in visible, _meta(c)["grade_id"]
    for c in nb.cells:
        if c.cell_type == "markdown" and not _meta(c).get("solution"):
            assert _meta(c).get("locked"), f"instruction cell {c.get('id')} is not locked"
        if c.cell_type == "code":
            assert _meta(c), f"code cell {c.get('id')} has no nbgrader role"
            assert not any(o.output_type == "error" for o in c.get("outputs", []))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_is_executed_and_exercise_is_clean(assignment):
    nb = _solution(assignment)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "solutions/ is committed executed"
    stderr = [c.id for c in code for o in c.outputs if o.get("name") == "stderr"]
    assert not stderr, f"stderr output in {stderr} (a test cell with stderr scores 0)"
    ex = nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
    text = "\n".join(c.source for c in ex.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert "MARK SCHEME" not in text
    assert all(not c.get("outputs") for c in ex.cells if c.cell_type == "code")
