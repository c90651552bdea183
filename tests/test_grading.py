"""Grading is proven: nbgrader end to end, and the self-grading command.

For each assignment a temporary course directory gets the repository's ``nbgrader_config.py`` and
``solutions/<a>``; ``nbgrader generate_assignment`` creates the SQLite gradebook and the student
version; submissions go to ``submitted/<student>/<a>/``: the solution, the untouched exercise,
the realistic wrong submissions of ``grading_cases/<a>.py`` and, for ps01, the attacks of
``grading_cases/tampering.py``. One ``nbgrader autograde`` run grades them all (so an attack that
broke the run would break the other students' grades too), then ``generate_feedback`` and
``export``. The run is shared by the tests of that assignment, also across pytest-xdist workers
(a lock file and a JSON summary in the session's shared temporary directory).

The self-grading command ``python -m cnncourse.grade`` is checked against the same cases.

Every submission runs in the bubblewrap sandbox (:mod:`cnncourse.sandbox`). The hostile course
(``grading_cases/hostile.py``: one attacker per harm class of the instructor review, with the
policy check switched off so that the attacks really run) is autograded between honest students
graded before and after them; the tests check the gradebook (intact, complete, a manual grade
kept), hashes of the course, package, venv hooks and home start-up files, leftover processes and
files, exact scores, and what the feedback and gradebook say. Without bubblewrap these tests
skip, except with ``CI=true``, where they fail.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import html
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grading_cases
import nbformat
import pytest
from grading_cases import tampering

from cnncourse import grade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import generate_exercises  # noqa: E402

ASSIGNMENTS = generate_exercises.assignments()
TIMEOUT = 20  # seconds per cell in the test course (the repository config says 30)
BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "CNNCOURSE_PROFILE": "quick",
}


def wrong_cases(assignment: str) -> list[grading_cases.Case]:
    return importlib.import_module(f"grading_cases.{assignment}").WRONG


def attack_cases(assignment: str) -> list[tampering.Attack]:
    return tampering.ATTACKS if assignment == tampering.A else []


def submissions(assignment: str) -> dict[str, tuple[object, dict[str, str]]]:
    subs = {
        "solution": (grading_cases.correct_submission(assignment), {}),
        "blank": (grading_cases.blank_submission(assignment), {}),
    }
    for case in wrong_cases(assignment):
        subs[case.student] = (case.build(), {})
    for attack in attack_cases(assignment):
        subs[attack.student] = (attack.build(), attack.files)
    if attack_cases(assignment):  # graded after every attack (nbgrader goes alphabetically)
        subs["zz_solution_after_attacks"] = (grading_cases.correct_submission(assignment), {})
    return subs


def _tree_hashes(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _text(html_source: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_source))


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "nbgrader"), *args],
        cwd=course,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def _errors(nb) -> list[dict]:
    rows = []
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        for out in cell.get("outputs", []):
            if out.output_type == "error" or (out.output_type == "stream" and out.name == "stderr"):
                rows.append(
                    {
                        "cell": i,
                        "grade_id": meta.get("grade_id"),
                        "kind": "test"
                        if meta.get("grade") and not meta.get("solution")
                        else "answer"
                        if meta.get("solution")
                        else "other",
                        "ename": out.get("ename", "stderr"),
                    }
                )
    return rows


def run_course(assignment: str, workdir: Path) -> dict:
    """Run the instructor workflow on every submission; return a JSON-able summary."""
    course = workdir / assignment
    shutil.rmtree(course, ignore_errors=True)
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / assignment, course / "solutions" / assignment)
    config = (ROOT / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(
        config + f"\nc.SandboxedExecute.timeout = {TIMEOUT}\n"
    )
    logs = {}
    done = _nbgrader(course, "generate_assignment", assignment)
    logs["generate_assignment"] = done.stderr
    assert done.returncode == 0, done.stderr[-3000:]
    for student, (nb, files) in submissions(assignment).items():
        target = course / "submitted" / student / assignment
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{assignment}.ipynb")
        for rel, text in files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_text(text)
    before = _tree_hashes(course / "submitted")
    autograde = _nbgrader(course, "autograde", assignment)
    feedback = _nbgrader(course, "generate_feedback", assignment)
    export = _nbgrader(course, "export")
    after = _tree_hashes(course / "submitted")

    from nbgrader.api import Gradebook

    scores, totals = {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        max_scores = {
            c.name: float(c.max_score) for c in gb.find_notebook(assignment, assignment).grade_cells
        }
        for sub in gb.assignment_submissions(assignment):
            nbs = sub.notebooks[0]
            scores[sub.student_id] = {g.name: g.auto_score for g in nbs.grades}
            totals[sub.student_id] = nbs.score
    exported = (
        list(csv.DictReader((course / "grades.csv").open())) if export.returncode == 0 else []
    )
    feedback_text, errors, sizes = {}, {}, {}
    for student in submissions(assignment):
        fb = course / "feedback" / student / assignment / f"{assignment}.html"
        feedback_text[student] = _text(fb.read_text()) if fb.is_file() else None
        graded = course / "autograded" / student / assignment / f"{assignment}.ipynb"
        if graded.is_file():
            sizes[student] = graded.stat().st_size
            errors[student] = _errors(nbformat.read(graded, as_version=4))
    return {
        "assignment": assignment,
        "course": str(course),
        "returncodes": {
            "autograde": autograde.returncode,
            "generate_feedback": feedback.returncode,
            "export": export.returncode,
        },
        "log": autograde.stdout + autograde.stderr,
        "max_scores": max_scores,
        "scores": scores,
        "totals": totals,
        "exported": exported,
        "feedback": feedback_text,
        "errors": errors,
        "sizes": sizes,
        "submitted_before": before,
        "submitted_after": after,
    }


def _shared_dir(tmp_path_factory) -> Path:
    """One folder for the whole session: under xdist the workers' common parent, so a course is
    graded once and the workers share the result."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "grading"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def course_run(tmp_path_factory):
    """``course_run(assignment)`` -> summary, computed once per test session (xdist included)."""
    grading_cases.require_bwrap()
    shared = _shared_dir(tmp_path_factory)
    cache: dict[str, dict] = {}

    def get(assignment: str) -> dict:
        if assignment not in cache:
            summary = shared / f"{assignment}.json"
            with open(shared / f"{assignment}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not summary.is_file():
                    summary.write_text(json.dumps(run_course(assignment, shared)))
            cache[assignment] = json.loads(summary.read_text())
        return cache[assignment]

    return get


def _expected_scores(assignment: str, failing: set[str]) -> dict[str, float]:
    tests = grading_cases.test_cells(
        nbformat.read(grading_cases.solution_path(assignment), as_version=4)
    )
    unknown = failing - set(tests)
    assert not unknown, f"grading case names unknown test cells {unknown}"
    return {gid: (0.0 if gid in failing else pts) for gid, pts in tests.items()}


def _assert_scores(run: dict, student: str, failing: set[str]) -> None:
    expected = _expected_scores(run["assignment"], failing)
    got = {gid: s for gid, s in run["scores"][student].items() if gid in expected}
    assert got == expected, (
        f"{student}: per-test scores differ\nexpected {expected}\ngot      {got}"
    )


# -- every assignment ---------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_workflow_runs_cleanly(course_run, assignment):
    run = course_run(assignment)
    assert run["returncodes"] == {"autograde": 0, "generate_feedback": 0, "export": 0}, run["log"][
        -3000:
    ]
    assert set(run["scores"]) == set(submissions(assignment))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_gets_full_autograded_points(course_run, assignment):
    run = course_run(assignment)
    _assert_scores(run, "solution", set())
    manual = [gid for gid, s in run["scores"]["solution"].items() if s is None]
    assert manual, "every assignment has a written answer graded by a person"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_exercise_gets_zero_and_fails_only_on_stubs(course_run, assignment):
    run = course_run(assignment)
    assert all(s == 0 for s in run["scores"]["blank"].values()), run["scores"]["blank"]
    assert run["totals"]["blank"] == 0
    allowed = {"answer": {"NotImplementedError"}, "test": {"NotImplementedError", "CheckFailure"}}
    unexpected = [
        e for e in run["errors"]["blank"] if e["ename"] not in allowed.get(e["kind"], set())
    ]
    assert not unexpected, (
        f"the untouched exercise fails for other reasons than its stubs: {unexpected}"
    )


@pytest.mark.parametrize(
    ("assignment", "case"),
    [(a, c) for a in ASSIGNMENTS for c in wrong_cases(a)],
    ids=lambda v: getattr(v, "student", v),
)
def test_wrong_submission_gets_partial_score_and_named_feedback(course_run, assignment, case):
    run = course_run(assignment)
    assert case.failing, "a wrong submission must fail something"
    _assert_scores(run, case.student, case.failing)
    text = run["feedback"][case.student]
    for gid in case.failing:
        points = run["max_scores"][gid]
        assert re.search(rf"Grade cell: {gid}\s+Score: 0\.0 / {points}", text), f"{gid} not named"
    assert "❌" in text
    for phrase in case.feedback:
        assert phrase in text, f"feedback of {case.student} lacks {phrase!r}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_export_csv_matches_gradebook(course_run, assignment):
    run = course_run(assignment)
    rows = {r["student_id"]: r for r in run["exported"] if r["assignment"] == assignment}
    assert set(rows) == set(run["totals"])
    total = sum(run["max_scores"].values())
    for student, row in rows.items():
        assert float(row["raw_score"]) == pytest.approx(run["totals"][student])
        assert float(row["max_score"]) == pytest.approx(total)


# -- attacks on the grader (ps01) ---------------------------------------------------------------


@pytest.mark.parametrize("attack", tampering.ATTACKS, ids=lambda a: a.student)
def test_attack_earns_nothing_it_did_not_earn(course_run, attack):
    run = course_run(tampering.A)
    _assert_scores(run, attack.student, attack.failing)
    assert set(run["scores"][attack.student]) == set(run["max_scores"]), "no forged grade cell"
    text = run["feedback"][attack.student]
    for phrase in attack.feedback:
        assert phrase in text, f"feedback of {attack.student} lacks {phrase!r}"
    guarded = [e for e in run["errors"][attack.student] if e["ename"] == grade.GUARD_ENAME]
    assert len(guarded) == attack.quarantined, guarded


def test_attacks_do_not_disturb_other_submissions(course_run):
    run = course_run(tampering.A)
    assert run["returncodes"]["autograde"] == 0, run["log"][-3000:]
    _assert_scores(run, "zz_solution_after_attacks", set())
    _assert_scores(run, "solution", set())
    assert run["submitted_after"] == run["submitted_before"], "a submitted file was changed or lost"
    gradebook = Path(run["course"]) / "gradebook.db"
    assert gradebook.read_bytes()[:16] == b"SQLite format 3\x00"


def test_huge_outputs_are_truncated(course_run):
    run = course_run(tampering.A)
    assert run["sizes"]["tamper_prints_megabytes"] < 1_000_000, run["sizes"]
    assert run["scores"]["tamper_prints_megabytes"] == run["scores"]["solution"]


# -- self-grading ---------------------------------------------------------------------------------


def _self_grade(
    assignment: str, nb, tmp_path: Path, files: dict[str, str] | None = None
) -> grade.GradeReport:
    path = tmp_path / assignment / f"{assignment}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    for rel, text in (files or {}).items():
        (path.parent / rel).parent.mkdir(parents=True, exist_ok=True)
        (path.parent / rel).write_text(text)
    grading_cases.require_bwrap()
    before = path.read_bytes()
    report = grade.grade_notebook(path, grading_cases.solution_path(assignment), timeout=TIMEOUT)
    assert path.read_bytes() == before, "self-grading must not modify the notebook"
    return report


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_self_grade_agrees_with_nbgrader(course_run, assignment, tmp_path):
    run = course_run(assignment)
    cases = {"solution": grading_cases.correct_submission(assignment)}
    if assignment == tampering.A:  # one wrong submission too (each case costs a kernel)
        first_wrong = wrong_cases(assignment)[0]
        cases[first_wrong.student] = first_wrong.build()
    for student, nb in cases.items():
        report = _self_grade(assignment, nb, tmp_path / student)
        mine = {c.grade_id: c.score for c in report.cells}
        assert mine == run["scores"][student], student


@pytest.mark.parametrize(
    "attack",
    # The attacks that exercise the self-grader's own restore code; the others go through the
    # same guard as nbgrader and are covered above (and each costs a kernel).
    [
        a
        for a in tampering.ATTACKS
        if a.student
        in {
            "tamper_edits_tests",
            "tamper_edits_metadata",
            "tamper_monkeypatch",
            "tamper_shadow_modules",
            "tamper_long_print_then_warns",
            "tamper_calls_reference",
        }
    ],
    ids=lambda a: a.student,
)
def test_self_grade_resists_attacks(attack, tmp_path):
    report = _self_grade(tampering.A, attack.build(), tmp_path, attack.files)
    expected = _expected_scores(tampering.A, attack.failing)
    assert {c.grade_id: c.score for c in report.cells if c.score is not None} == expected
    assert len(report.quarantined) == attack.quarantined


def test_self_grade_command_prints_table_and_exit_codes(tmp_path):
    grading_cases.require_bwrap()
    exercise = grading_cases.exercise_path(tampering.A)
    done = subprocess.run(
        [sys.executable, "-m", "cnncourse.grade", str(exercise)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr  # a score of 0 is not a grading failure
    assert "total: 0 / 20 autograded points (+ 2 points for written answers)" in done.stdout
    assert re.search(r"q2\s+q2a_corr2d_example\s+0 / 2\s+NotImplementedError", done.stdout)
    assert "written answer: graded by a person" in done.stdout
    assert (
        exercise.read_bytes()
        == (ROOT / "exercises" / tampering.A / f"{tampering.A}.ipynb").read_bytes()
    )
    unsafe = subprocess.run(
        [sys.executable, "-m", "cnncourse.grade", "--unsafe-no-sandbox", str(exercise)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert unsafe.returncode == 0, unsafe.stderr
    assert "WARNING: --unsafe-no-sandbox" in unsafe.stderr
    assert "total: 0 / 20 autograded points" in unsafe.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "cnncourse.grade", str(tmp_path / "nope.ipynb")],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert "grading failed" in missing.stderr


# -- the submission policy (no kernel) ----------------------------------------------------------

ALLOWED_CODE = """
import math
import numpy as np
import torch
from torch import nn
from numpy.lib.stride_tricks import sliding_window_view
from cnncourse import data

class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.count = 0

    def forward(self, x):
        self.count += 1
        return torch.relu(self.conv(x)) + x

def step(model, lr):
    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
    max = 3  # a local name may shadow a built-in
    return f"{max:_}"

y = np.zeros((3, 3))
y[0, :] = 1
try:
    z = 1 / 0
except Exception:
    z = math.inf
"""


def test_policy_allows_ordinary_answers():
    assert grade.scan_source(ALLOWED_CODE, {"range", "len", "max"}) == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import os", "imports `os`"),
        ("from subprocess import run", "imports from `subprocess`"),
        ("import torch.utils.cpp_extension", "imports `torch.utils.cpp_extension`"),
        ("from cnncourse import grade", "imports `cnncourse.grade`"),
        ("from numpy import *", "import *"),
        ("np.allclose = lambda *a, **k: True", "assigns the attribute `allclose` of `np`"),
        ("del check.close", "deletes the attribute `close`"),
        ("conv.TABLE['x'] = 1", "changes an item inside another module"),
        ("x = eval('1')", "uses `eval`"),
        ("f = open('a', 'w')", "uses `open`"),
        ("setattr(np, 'allclose', print)", "uses `setattr`"),
        ("g = vars(np)", "uses `vars`"),
        ("np.__dict__['allclose'] = 1", "interpreter attribute `__dict__`"),
        ("x = ().__class__.__base__", "interpreter attribute `__class__`"),
        ("b = __builtins__", "interpreter name `__builtins__`"),
        ("check._abs(1)", "private attribute `_abs`"),
        ("k = 'allclose' if 0 else '__eq__'", "the string '__eq__'"),
        ("class A:\n    def __eq__(self, o):\n        return True", "defines `__eq__`"),
        ("class A(metaclass=type):\n    pass", "metaclass"),
        ("A = type('A', (), {})", "type(name, bases, dict)"),
        ("np.save('x.npy', 1)", "calls `save`"),
        ("torch.load('x.pt')", "calls `load`"),
        ("plt.savefig('x.png')", "calls `savefig`"),
        ("try:\n    pass\nexcept:\n    pass", "catches bare except"),
        (
            "try:\n    pass\nexcept (ValueError, KeyboardInterrupt):\n    pass",
            "catches KeyboardInterrupt",
        ),
        ("range = lambda n: []", "rebinds the built-in name `range`"),
        ("def len(x):\n    return 0", "rebinds the built-in name `len`"),
        ("!ls", "uses `get_ipython`"),
        ("%%bash\necho hi", "uses `get_ipython`"),
        ("def f(x: 'os.system(1)'):\n    pass", "string annotation"),
        ("def f(:\n", "cannot be parsed"),
    ],
)
def test_policy_refuses_tampering(source, message):
    found = grade.scan_source(source, {"range", "len"})
    assert any(message in v.message for v in found), found


def test_free_builtins_are_what_tests_load():
    assert grade.free_builtins(["from cnncourse import check\ncheck.equal('n', len(x), 3)"]) == {
        "len"
    }


# -- hostile submissions: the sandbox alone contains them (policy check off) ----------------------

HOSTILE_BUDGET = 60  # seconds per notebook in the hostile course
HONEST = {
    "a_honest_before": set(),
    "a_partial_before": tampering.OFF_BY_ONE_FAILS,
    "zz_honest_after": set(),
    "zz_partial_after": tampering.OFF_BY_ONE_FAILS,
}


def _protected_files(course: Path) -> dict[str, str]:
    """Hashes of everything a submission must not change: course, package, venv hooks, home."""
    hashes = {}
    for name in ("solutions", "source", "exercises", "submitted"):
        for rel, digest in _tree_hashes(course / name).items():
            hashes[f"course/{name}/{rel}"] = digest
    hashes["course/nbgrader_config.py"] = hashlib.sha256(
        (course / "nbgrader_config.py").read_bytes()
    ).hexdigest()
    for rel, digest in _tree_hashes(ROOT / "cnncourse").items():
        if "__pycache__" not in rel:
            hashes[f"package/{rel}"] = digest
    import site

    for folder in site.getsitepackages():
        for path in Path(folder).glob("*.pth"):
            hashes[f"site/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    # What runs code in the grader's later processes: IPython start-up files, Jupyter config,
    # user site-packages (not runtime files, which the grader's own Jupyter keeps changing).
    home = Path.home()
    for folder in (
        home / ".ipython" / "profile_default" / "startup",
        home / ".jupyter",
        home / ".local" / "lib",
    ):
        if folder.is_dir():
            for rel, digest in _tree_hashes(folder).items():
                # jupyter_core (the grader's own nbgrader) stamps the time of its config migration
                if rel != "migrated":
                    hashes[f"home/{folder.relative_to(home)}/{rel}"] = digest
    return hashes


def _leftovers(token: str) -> dict[str, list[str]]:
    """Processes and files that an attack left on the host."""
    from grading_cases import hostile

    procs = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if hostile.SLEEP_SECONDS in cmdline or comm == hostile.DAEMON:
            procs.append(f"{entry.name}: {comm} {cmdline}")
    files = []
    for folder in (
        Path("/tmp"),
        Path.home(),
        ROOT,
        *map(Path, __import__("site").getsitepackages()),
    ):
        files += [str(p) for p in folder.glob(f"*{token}*")]
    return {"processes": procs, "files": files}


def run_hostile_course(workdir: Path) -> dict:
    from grading_cases import hostile
    from nbgrader.api import Gradebook

    course = workdir / "hostile"
    shutil.rmtree(course, ignore_errors=True)
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / tampering.A, course / "solutions" / tampering.A)
    config = (ROOT / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(
        config
        + f"\nc.SandboxedExecute.timeout = {TIMEOUT}\n"
        + f"c.SandboxedExecute.notebook_budget = {HOSTILE_BUDGET}\n"
        + "c.GuardSubmission.enabled = False  # the sandbox alone must contain every attack\n"
    )
    a = tampering.A
    done = _nbgrader(course, "generate_assignment", a)
    assert done.returncode == 0, done.stderr[-3000:]
    token = f"cnncourse-hostile-{os.getpid()}-{os.urandom(4).hex()}"
    subs = {
        "a_honest_before": grading_cases.correct_submission(a),
        "a_partial_before": tampering._base(tampering.OFF_BY_ONE),
        "zz_honest_after": grading_cases.correct_submission(a),
        "zz_partial_after": tampering._base(tampering.OFF_BY_ONE),
    }
    for attack in hostile.HOSTILE:
        subs[attack.student] = attack.build(course, token)
    for student, nb in subs.items():
        target = course / "submitted" / student / a
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{a}.ipynb")
    for attack in hostile.HOSTILE:
        for rel, dest in attack.symlinks(course).items():
            (course / "submitted" / attack.student / a / rel).symlink_to(dest)
    # A manual grade given before the attackers run must survive them.
    first = _nbgrader(course, "autograde", a, "--student=a_honest_before")
    assert first.returncode == 0, first.stderr[-3000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.find_grade("q6_written", a, a, "a_honest_before").manual_score = 2.0
        gb.db.commit()
    before = _protected_files(course)
    autograde = _nbgrader(course, "autograde", a)
    leftovers = _leftovers(token)
    feedback = _nbgrader(course, "generate_feedback", a)
    export = _nbgrader(course, "export")
    after = _protected_files(course)
    import sqlite3

    with sqlite3.connect(course / "gradebook.db") as db:
        integrity = db.execute("pragma integrity_check").fetchone()[0]
    scores, manual, flagged, comments = {}, {}, {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(a):
            nbs = sub.notebooks[0]
            scores[sub.student_id] = {g.name: g.auto_score for g in nbs.grades}
            manual[sub.student_id] = {g.name: g.manual_score for g in nbs.grades}
            flagged[sub.student_id] = nbs.flagged
            comments[sub.student_id] = [c.auto_comment or "" for c in nbs.comments]
    texts, outputs, sizes = {}, {}, {}
    for student in subs:
        fb = course / "feedback" / student / a / f"{a}.html"
        texts[student] = _text(fb.read_text()) if fb.is_file() else None
        sizes[student] = fb.stat().st_size if fb.is_file() else None
        graded = course / "autograded" / student / a / f"{a}.ipynb"
        if graded.is_file():
            nb = nbformat.read(graded, as_version=4)
            outputs[student] = json.dumps([c.get("outputs", []) for c in nb.cells])
    seconds = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r"Ran (\S+)/\S+ in the sandbox in ([\d.]+) s", autograde.stderr)
    }
    return {
        "course": str(course),
        "returncodes": [autograde.returncode, feedback.returncode, export.returncode],
        "log": autograde.stderr[-5000:],
        "scores": scores,
        "manual": manual,
        "flagged": flagged,
        "comments": comments,
        "feedback": texts,
        "feedback_sizes": sizes,
        "outputs": outputs,
        "seconds": seconds,
        "before": before,
        "after": after,
        "leftovers": leftovers,
        "integrity": integrity,
        "solution_marker": "=== BEGIN MARK SCHEME ===",
    }


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory):
    grading_cases.require_bwrap()
    shared = _shared_dir(tmp_path_factory)
    summary = shared / "hostile.json"
    with open(shared / "hostile.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not summary.is_file():
            summary.write_text(json.dumps(run_hostile_course(shared)))
    return json.loads(summary.read_text())


def test_hostile_course_completes_with_every_student_graded(hostile_run):
    from grading_cases import hostile

    assert hostile_run["returncodes"] == [0, 0, 0], hostile_run["log"]
    assert hostile_run["integrity"] == "ok"
    assert set(hostile_run["scores"]) == set(HONEST) | {h.student for h in hostile.HOSTILE}


@pytest.mark.parametrize("student", sorted(HONEST))
def test_honest_students_get_exact_scores_around_attackers(hostile_run, student):
    expected = _expected_scores(tampering.A, HONEST[student])
    got = {g: s for g, s in hostile_run["scores"][student].items() if g in expected}
    assert got == expected, student
    assert not hostile_run["flagged"][student]
    text = hostile_run["feedback"][student]
    if HONEST[student]:  # failing tests show tracebacks: without the grader's paths
        assert "CheckFailure" in text
        for path in (sys.prefix, str(ROOT), "/opt/cnncourse-package", "skipping hidden"):
            assert path not in text, path


def test_manual_grade_survives_the_attackers(hostile_run):
    assert hostile_run["manual"]["a_honest_before"]["q6_written"] == 2.0


def test_course_package_home_and_submissions_unchanged(hostile_run):
    before, after = hostile_run["before"], hostile_run["after"]
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert changed == []


def test_nothing_left_running_or_written_outside_scratch(hostile_run):
    assert hostile_run["leftovers"] == {"processes": [], "files": []}


def _attack_param():
    from grading_cases import hostile

    return pytest.mark.parametrize("attack", hostile.HOSTILE, ids=lambda h: h.student)


@_attack_param()
def test_attacker_scored_as_far_as_it_ran(hostile_run, attack):
    expected = _expected_scores(tampering.A, attack.failing)
    got = {g: s for g, s in hostile_run["scores"][attack.student].items() if g in expected}
    assert got == expected
    text = hostile_run["feedback"][attack.student]
    assert text is not None, "every attacker gets feedback"
    assert hostile_run["feedback_sizes"][attack.student] < 1_000_000
    assert "BEGIN HIDDEN TESTS" not in text
    assert hostile_run["solution_marker"] not in hostile_run["outputs"][attack.student]
    if attack.stopped:
        assert attack.stopped in text, "the feedback says why the notebook stopped"
        assert hostile_run["flagged"][attack.student]
        assert any(attack.stopped in c for c in hostile_run["comments"][attack.student])
    # within its budget, however long it tried to run
    assert hostile_run["seconds"][attack.student] <= HOSTILE_BUDGET + 35


def test_self_grader_agrees_on_a_kernel_killer(hostile_run, tmp_path):
    from grading_cases import hostile

    attack = next(h for h in hostile.HOSTILE if h.student == "hostile_kills_kernel")
    path = tmp_path / tampering.A / f"{tampering.A}.ipynb"
    path.parent.mkdir()
    nbformat.write(attack.build(Path(hostile_run["course"]), "selfgrade"), path)
    report = grade.grade_notebook(
        path, grading_cases.solution_path(tampering.A), timeout=TIMEOUT, guard=False
    )
    mine = {c.grade_id: c.score for c in report.cells}
    assert mine == hostile_run["scores"][attack.student]
    assert hostile.KILLED in report.stopped


# -- sandbox and display helpers (no kernel) -----------------------------------------------------


def test_no_bubblewrap_stops_grading_with_the_fix(monkeypatch, capsys):
    from cnncourse import sandbox

    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.require_sandbox()
    exercise = grading_cases.exercise_path(tampering.A)
    assert grade.main([str(exercise)]) == 1
    err = capsys.readouterr().err
    assert "bubblewrap" in err and "--unsafe-no-sandbox" in err


def test_package_copy_is_a_verified_non_editable_copy(tmp_path, monkeypatch):
    from cnncourse import sandbox

    monkeypatch.setenv("CNNCOURSE_SANDBOX_CACHE", str(tmp_path))
    monkeypatch.setattr(sandbox, "_COPIES", {})
    monkeypatch.setattr(sandbox, "_matplotlib_cache", lambda folder: folder.mkdir())
    copy = sandbox.package_copy()
    digest = sandbox.tree_digest(sandbox.PACKAGE)
    assert copy == tmp_path / digest
    assert sandbox.tree_digest(copy / "cnncourse") == digest
    assert not (copy / "cnncourse").is_symlink()
    (copy / "cnncourse" / "check.py").write_text("tampered")  # a damaged cache is rebuilt
    monkeypatch.setattr(sandbox, "_COPIES", {})
    assert sandbox.tree_digest(sandbox.package_copy() / "cnncourse") == digest


def _two_test_notebook():
    nb = nbformat.v4.new_notebook()
    for gid in ("t1", "t2"):
        cell = nbformat.v4.new_code_cell("pass")
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": gid, "points": 1}
        nb.cells.append(cell)
    return nb


def test_results_from_the_sandbox_are_data_never_trusted():
    from cnncourse import sandbox

    nb = _two_test_notebook()
    ok = nbformat.v4.new_output("stream", name="stdout", text="fine\n")
    lines = [
        json.dumps({"event": "cell", "index": 0, "execution_count": 1, "outputs": [ok]}).encode(),
        json.dumps({"event": "cell", "index": 7, "outputs": []}).encode(),  # no such cell
        json.dumps({"event": "cell", "index": 1, "outputs": [{"output_type": "bogus"}]}).encode(),
    ]
    merged, expected, seen, stop, done = sandbox.merge_results(nb, lines, sandbox.Limits(), False)
    assert (expected, seen, done, stop["reason"]) == ({0, 1}, {0, 1}, False, "killed")
    assert grade._cell_score(merged.cells[0]) == (1.0, "")
    assert grade._cell_score(merged.cells[1])[0] == 0.0  # malformed outputs fail the test
    assert nb.cells[0].outputs == [], "the notebook sent is not modified"
    # a test cell without any result (the sandbox died first) gets an error, never points
    merged, expected, seen, stop, done = sandbox.merge_results(
        nb, lines[:1], sandbox.Limits(), False
    )
    assert expected - seen == {1}


def test_sanitizer_keeps_answers_and_drops_scripts():
    from grading_cases import hostile

    text = f"Flip the kernel: $k<3$ and `a<b` in **bold**.\n\n{hostile.XSS}"
    clean = grade.sanitize_markdown(text)
    assert "**bold**" in clean and r"\lt" in clean and "a&lt;b" in clean
    for bad in ("onerror", "<script", "onload", "javascript:"):
        assert bad not in clean
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(hostile.XSS),
            nbformat.v4.new_code_cell(
                "",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data",
                        data={
                            "text/html": hostile.XSS,
                            "application/javascript": "window.__pwned = 1",
                            "image/svg+xml": "<svg onload='x()'/>",
                            "text/plain": "<HTML object>",
                        },
                    )
                ],
            ),
        ]
    )
    grade.sanitize_notebook(nb)
    data = nb.cells[1].outputs[0].data
    assert set(data) == {"text/html", "text/plain"} and "onerror" not in data["text/html"]
    assert "onerror" not in nb.cells[0].source


def test_feedback_hides_hidden_tests_and_their_traceback():
    cell = nbformat.v4.new_code_cell(
        "check.equal('a', a, 1)\n### BEGIN HIDDEN TESTS\ncheck.equal('b', b, 1792)\n"
        "### END HIDDEN TESTS\n",
        outputs=[
            nbformat.v4.new_output(
                "error",
                ename="CheckFailure",
                evalue="b is wrong",
                traceback=["line 3: check.equal('b', b, 1792)"],
            )
        ],
    )
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "q", "points": 1}
    nb = nbformat.v4.new_notebook(cells=[cell])
    grade.hide_hidden_tests(nb)
    assert "1792" not in json.dumps(nb) and "check.equal('a', a, 1)" in cell.source
    assert cell.outputs[0].traceback == ["CheckFailure: b is wrong"]


def test_a_sandbox_that_cannot_start_is_an_error_not_zero_points(monkeypatch):
    from cnncourse import sandbox

    grading_cases.require_bwrap()
    monkeypatch.setattr(
        sandbox,
        "bwrap_command",
        lambda *args: [sys.executable, "-c", "import sys; sys.exit('no user namespaces')", "fd"],
    )
    with pytest.raises(sandbox.SandboxUnavailable, match="did not start.*no user namespaces"):
        sandbox.execute_notebook(_two_test_notebook())
