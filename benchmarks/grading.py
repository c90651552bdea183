"""Grading speed with and without the sandbox.

Prints, side by side:

1. the sandbox's overhead per notebook: a one-cell notebook and the ps01 solution, each run
   ``--repeat`` times through :func:`cnncourse.sandbox.execute_notebook` in the sandbox and
   without it (same runner, same kernel settings), medians (goal: overhead <= 1.5 s);
2. ``nbgrader autograde ps01_convolution`` of ``--students`` copies of the solution (default 60;
   goal <= 5 min on 2 cores) with the project's configuration (sandboxed), and with nbgrader's own
   ``Execute`` instead (unsandboxed, as before the sandbox).

    .venv/bin/python benchmarks/grading.py [--students 60] [--repeat 5]

The machine may be shared: run it on an idle machine for figures to quote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
A = "ps01_convolution"
UNSANDBOXED = """
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute" if p == "cnncourse.grade.SandboxedExecute" else p
    for p in c.Autograde.autograde_preprocessors
    if p != "cnncourse.grade.RecordGradingNotes"
]
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
c.Execute.extra_arguments = list(KERNEL_ARGUMENTS)
"""


def time_notebook(nb, sandbox: bool, repeat: int) -> list[float]:
    from cnncourse import grade
    from cnncourse import sandbox as sb

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = sb.execute_notebook(nb, kernel_arguments=grade.KERNEL_ARGUMENTS, sandbox=sandbox)
        times.append(time.perf_counter() - start)
        assert result.complete, result.message
    return times


def graded_solution():
    import grading_cases

    from cnncourse import grade

    nb = grading_cases.correct_submission(A)
    source = nbformat.read(grading_cases.solution_path(A), as_version=4)
    grade.restore_from_source(nb, source)
    return nb


def autograde_class(students: int, sandboxed: bool) -> tuple[float, int]:
    import grading_cases

    course = Path(tempfile.mkdtemp(prefix="cnncourse-bench-"))
    try:
        (course / "solutions").mkdir()
        shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
        config = (ROOT / "nbgrader_config.py").read_text()
        (course / "nbgrader_config.py").write_text(config + ("" if sandboxed else UNSANDBOXED))
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        nbgrader = str(Path(sys.executable).parent / "nbgrader")
        subprocess.run(
            [nbgrader, "generate_assignment", A],
            cwd=course,
            env=env,
            check=True,
            capture_output=True,
        )
        nb = grading_cases.correct_submission(A)
        for i in range(students):
            target = course / "submitted" / f"s{i:03d}" / A
            target.mkdir(parents=True)
            nbformat.write(nb, target / f"{A}.ipynb")
        start = time.perf_counter()
        done = subprocess.run(
            [nbgrader, "autograde", A], cwd=course, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-3000:])
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            full = sum(1 for s in gb.assignment_submissions(A) if s.score == 20.0)
        return seconds, full
    finally:
        shutil.rmtree(course, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    one_cell = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    time_notebook(one_cell, True, 1)  # builds the package copy once
    print(f"\n{'notebook':<22}{'sandboxed':>12}{'unsandboxed':>14}{'overhead':>11}")
    for name, nb in (("one cell", one_cell), (f"{A} solution", graded_solution())):
        boxed = statistics.median(time_notebook(nb, True, args.repeat))
        plain = statistics.median(time_notebook(nb, False, args.repeat))
        print(f"{name:<22}{boxed:>11.2f}s{plain:>13.2f}s{boxed - plain:>10.2f}s")
    print(f"\nnbgrader autograde of {args.students} x {A} (solution):")
    for label, sandboxed in (("sandboxed", True), ("unsandboxed", False)):
        seconds, full = autograde_class(args.students, sandboxed)
        print(
            f"  {label:<12}{seconds:>8.1f} s  ({seconds / args.students:.2f} s per student, "
            f"{full}/{args.students} graded 20/20)"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
