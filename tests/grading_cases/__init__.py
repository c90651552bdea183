"""Submissions for the grading tests, built from the solution and exercise notebooks.

A *case* is a student's submission (a notebook) plus the score it must get: which test cells
fail. Cases are written as small edits of the correct submission, the way students get things
wrong ("the output size is off by one"), so that they stay valid when a solution changes.

- :func:`correct_submission` -- the exercise with every answer cell filled from the solution;
- :class:`Case` -- a named submission with the grade_ids of the test cells that must fail;
- ``grading_cases.<assignment>.WRONG`` -- at least two realistic wrong submissions each;
- :mod:`grading_cases.tampering` -- submissions that attack the grader;
- :func:`require_bwrap` -- skip a sandbox test without bubblewrap (fail under ``CI=true``).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]


def require_bwrap() -> None:
    """Grading runs only in the bubblewrap sandbox: without it these tests skip, in CI they fail."""
    if shutil.which("bwrap"):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("bubblewrap is missing; CI must install it (apt-get install -y bubblewrap)")
    pytest.skip("bubblewrap is missing: `sudo apt-get install bubblewrap` enables these tests")


SOLUTION_REGION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
MARK_SCHEME = re.compile(r"=== BEGIN MARK SCHEME ===.*?=== END MARK SCHEME ===\n?", re.DOTALL)
STUB = re.compile(
    r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)[ \t]*$", re.MULTILINE
)


def solution_path(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def exercise_path(assignment: str) -> Path:
    return ROOT / "exercises" / assignment / f"{assignment}.ipynb"


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def test_cells(nb) -> dict[str, float]:
    """grade_id -> points of the autograded test cells."""
    return {
        nbgrader(c)["grade_id"]: float(nbgrader(c)["points"])
        for c in nb.cells
        if nbgrader(c).get("grade") and not nbgrader(c).get("solution")
    }


def answer_text(cell) -> str:
    """What a student who knows the solution types into an answer cell."""
    if cell.cell_type == "markdown":
        return MARK_SCHEME.sub("", cell.source).strip()
    return SOLUTION_REGION.sub("", cell.source)


def correct_submission(assignment: str):
    """The exercise notebook with every answer cell filled in from the solution."""
    solution = nbformat.read(solution_path(assignment), as_version=4)
    answers = {
        nbgrader(c)["grade_id"]: answer_text(c)
        for c in solution.cells
        if nbgrader(c).get("solution")
    }
    nb = nbformat.read(exercise_path(assignment), as_version=4)
    for cell in nb.cells:
        gid = nbgrader(cell).get("grade_id")
        if nbgrader(cell).get("solution"):
            cell.source = answers[gid]
    return nb


def blank_submission(assignment: str):
    return nbformat.read(exercise_path(assignment), as_version=4)


def cell_by_id(nb, grade_id: str):
    for cell in nb.cells:
        if nbgrader(cell).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def replace_in(nb, grade_id: str, old: str, new: str, count: int = 1):
    """Edit one cell's source (the text must be there exactly ``count`` times)."""
    cell = cell_by_id(nb, grade_id)
    found = cell.source.count(old)
    if found != count:
        raise AssertionError(f"{grade_id}: expected {old!r} {count} time(s), found {found}")
    cell.source = cell.source.replace(old, new)
    return nb


@dataclass
class Case:
    """A submission and the test cells it must fail (all others must pass)."""

    student: str
    build: Callable[[], object]
    failing: set[str] = field(default_factory=set)
    feedback: tuple[str, ...] = ()  # texts the feedback must contain (beyond failing grade_ids)
    description: str = ""


def edited(assignment: str, *edits: tuple[str, str, str]):
    """A builder: the correct submission with (grade_id, old, new) edits applied."""

    def build():
        nb = copy.deepcopy(correct_submission(assignment))
        for grade_id, old, new in edits:
            replace_in(nb, grade_id, old, new)
        return nb

    return build


def replaced(assignment: str, grade_id: str, source: str):
    """A builder: the correct submission with one answer cell replaced by ``source``."""

    def build():
        nb = copy.deepcopy(correct_submission(assignment))
        cell_by_id(nb, grade_id).source = source
        return nb

    return build
