"""Self-grading: ``python -m cnncourse.grade NOTEBOOK`` (no instructor, no database).

:func:`grade_notebook` restores the tests from the instructor's notebook
(:func:`find_source_notebook`), runs the notebook in the sandbox and scores each test cell by
nbgrader's rule (``_cell_score``, partial credit ``_partial_grade``) into a :class:`GradeReport`
of :class:`CellResult` s; :func:`main` is the command line.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from .. import sandbox
from .notebooks import (
    KERNEL_ARGUMENTS,
    _nbgrader,
    guard_notebook,
    restore_from_source,
    shortcut_policy,
)
from .policy import Violation


@dataclass
class CellResult:
    """Score of one graded cell."""

    grade_id: str
    points: float
    score: float | None  # None: graded by a person
    message: str = ""

    @property
    def question(self) -> str:
        """``q2`` for ``q2a_corr2d_example``: grade_ids start with the question number."""
        match = re.match(r"q\d+", self.grade_id)
        return match.group(0) if match else self.grade_id


@dataclass
class GradeReport:
    """All graded cells of one notebook, in notebook order."""

    cells: list[CellResult]
    quarantined: list[tuple[int, list[Violation]]]
    notebook: Any = None
    stopped: str = ""  # why the notebook was graded only as far as it ran

    @property
    def score(self) -> float:
        return sum(c.score or 0.0 for c in self.cells if c.score is not None)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.cells if c.score is not None)

    @property
    def manual_points(self) -> float:
        return sum(c.points for c in self.cells if c.score is None)

    def table(self) -> str:
        rows = [f"{'question':<9}{'test':<34}{'score':>12}  result"]
        for c in self.cells:
            if c.score is None:
                score, result = f"- / {c.points:g}", "written answer: graded by a person"
            else:
                score = f"{c.score:g} / {c.points:g}"
                result = "✅" if c.score == c.points else c.message or "❌"
            rows.append(f"{c.question:<9}{c.grade_id:<34}{score:>12}  {result}")
        rows.append(
            f"total: {self.score:g} / {self.max_score:g} autograded points"
            + (
                f" (+ {self.manual_points:g} points for written answers)"
                if self.manual_points
                else ""
            )
        )
        for index, violations in self.quarantined:
            rows.append(f"cell {index} was not run: " + "; ".join(map(str, violations)))
        if self.stopped:
            rows.append(f"graded as far as it ran: {self.stopped}")
        return "\n".join(rows)


def _short(text: str, limit: int = 300) -> str:
    """``text`` cut at a word boundary (never mid-number)."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def _partial_grade(out, points: float) -> float:
    """nbgrader's partial credit: a test cell whose result is a number in [0, points]."""
    value = out.get("data", {}).get("text/plain", "")
    if isinstance(value, list):
        if len(value) > 1:
            return points
        value = value[0] if value else ""
    try:
        grade = float(value)
    except ValueError:
        return points
    return grade if 0 <= grade <= points else points


def _cell_score(cell) -> tuple[float, str]:
    """nbgrader's rule (``nbgrader.utils.determine_grade``): 0 on an error or stderr output,
    partial credit from a numeric result, else full points."""
    points = float(_nbgrader(cell)["points"])
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            evalue = str(out.get("evalue", "")).strip().splitlines()
            ename = out.get("ename", "Error")
            first = evalue[0] if evalue else ""
            if ename == "NotImplementedError" and not first:
                first = "not answered yet"
            return 0.0, _short(f"{ename}: {first}")
        if out.output_type == "stream" and out.get("name") == "stderr":
            lines = "".join(out.text).strip().splitlines() or [""]
            return 0.0, _short("wrote to stderr: " + lines[0])
        if out.output_type == "execute_result":
            return _partial_grade(out, points), ""
    return points, ""


def find_source_notebook(path: Path) -> Path:
    """``solutions/<a>/<a>.ipynb`` for ``exercises/<a>/<a>.ipynb`` (or any copy next to a repo)."""
    assignment = path.stem
    candidates = []
    for parent in [path.resolve().parent, *path.resolve().parents]:
        candidates.append(parent / "solutions" / assignment / path.name)
    # The repository: cnncourse/grade/selfgrade.py -> parents[2].
    candidates.append(Path(__file__).resolve().parents[2] / "solutions" / assignment / path.name)
    for candidate in candidates:
        if candidate.is_file() and candidate.resolve() != path.resolve():
            return candidate
    raise FileNotFoundError(
        f"no instructor notebook solutions/{assignment}/{path.name} found above {path}; "
        "pass --source"
    )


def grade_notebook(
    path: str | Path,
    source: str | Path | None = None,
    timeout: int = 30,
    max_output_chars: int = 20_000,
    *,
    notebook_budget: int = 120,
    unsafe_no_sandbox: bool = False,
    guard: bool = True,
) -> GradeReport:
    """Grade one notebook with the hidden tests restored from ``source``.

    The notebook runs inside the sandbox of :mod:`cnncourse.sandbox` (the same function as
    ``nbgrader autograde``), with a scratch copy of its folder as the working directory.

    Parameters
    ----------
    path : path of the student's notebook (not modified).
    source : path of the instructor's notebook; found from ``path`` when omitted.
    timeout : seconds each cell may run before it is interrupted (that cell then fails).
    max_output_chars : outputs longer than this are truncated.
    notebook_budget : seconds of wall time for the whole notebook.
    unsafe_no_sandbox : run without the sandbox (only for one's own notebook).
    guard : apply the policy check (as ``GuardSubmission`` does for nbgrader); the sandbox, not
        the policy check, is what protects the grader.

    Returns
    -------
    GradeReport
        ``stopped`` says why a notebook was graded only as far as it ran.

    Raises
    ------
    FileNotFoundError, nbformat.reader.NotJSONError, sandbox.SandboxUnavailable
    """
    path = Path(path)
    source = Path(source) if source is not None else find_source_notebook(path)
    nb = nbformat.read(path, as_version=4)
    source_nb = nbformat.read(source, as_version=4)
    trusted = restore_from_source(nb, source_nb)
    quarantined = guard_notebook(nb, trusted) if guard else []
    result = sandbox.execute_notebook(
        nb,
        path.parent,
        limits=sandbox.Limits(
            cell_timeout=timeout,
            notebook_budget=notebook_budget,
            max_output_chars=max_output_chars,
        ),
        kernel_arguments=KERNEL_ARGUMENTS,
        exclude=[path.name],
        sandbox=not unsafe_no_sandbox,
        shortcuts=shortcut_policy(source_nb),
    )
    nb = result.notebook
    results = []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if not meta.get("grade"):
            continue
        if meta.get("solution") or cell.cell_type != "code":
            results.append(CellResult(meta["grade_id"], float(meta["points"]), None))
            continue
        score, message = _cell_score(cell)
        results.append(CellResult(meta["grade_id"], float(meta["points"]), score, message))
    return GradeReport(results, quarantined, nb, stopped=result.message)


UNSAFE_WARNING = """\
WARNING: --unsafe-no-sandbox runs the notebook with YOUR permissions, outside the sandbox.
Only use it for a notebook that you wrote yourself. Never grade anybody else's work this way:
their code could read, change or delete any of your files.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnncourse.grade",
        description="Grade an exercise notebook with the hidden tests restored.",
    )
    parser.add_argument("notebook", type=Path, help="exercises/<assignment>/<assignment>.ipynb")
    parser.add_argument("--source", type=Path, help="instructor notebook with the hidden tests")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per cell (default 30)")
    parser.add_argument(
        "--budget", type=int, default=120, help="seconds for the whole notebook (default 120)"
    )
    parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run without the sandbox (your own notebook only; needed where bubblewrap is missing)",
    )
    args = parser.parse_args(argv)
    if args.unsafe_no_sandbox:
        print(UNSAFE_WARNING, file=sys.stderr)
    try:
        report = grade_notebook(
            args.notebook,
            args.source,
            args.timeout,
            notebook_budget=args.budget,
            unsafe_no_sandbox=args.unsafe_no_sandbox,
        )
    except sandbox.SandboxUnavailable as err:
        print(f"grading failed: {err}", file=sys.stderr)
        return 1
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        print(f"grading failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(f"Graded {args.notebook} (tests restored from the instructor notebook)\n")
    print(report.table())
    return 0
