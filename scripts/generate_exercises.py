"""Generate the student notebooks ``exercises/<a>/<a>.ipynb`` from ``solutions/`` with nbgrader.

Usage (from the repository root)::

    python scripts/generate_exercises.py                    # every assignment in solutions/
    python scripts/generate_exercises.py ps01_convolution   # one assignment
    python scripts/generate_exercises.py --check            # exit 1 if exercises/ is stale
    python scripts/generate_exercises.py --output DIR       # write DIR/<a>/<a>.ipynb instead
    python scripts/generate_exercises.py --execute          # first re-execute the solutions

nbgrader's ``generate_assignment`` (with the repository's ``nbgrader_config.py`` and no gradebook)
replaces each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region by a stub, removes the hidden
tests and the mark schemes, clears outputs and locks the read-only cells. ``exercises/`` is never
edited by hand: change the solution notebook and run this script (``make exercises``).

``--execute`` runs each solution notebook in place on a fresh kernel (quick profile, the
grader's kernel flags, no timing metadata) so that its committed outputs are current; it fails
if any cell raises.
"""

from __future__ import annotations

import argparse
import filecmp
import logging
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def assignments(root: Path = ROOT) -> list[str]:
    """Names of the assignments: ``solutions/<a>/<a>.ipynb`` exists."""
    return sorted(
        p.parent.name for p in (root / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name
    )


def _config(root: Path, release: Path):
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.release_directory = str(release)
    config.GenerateAssignment.no_database = True  # what `nbgrader generate_assignment --no-db` sets
    config.SaveCells.enabled = False
    return config


def execute_solution(path: Path, timeout: int = 300) -> None:
    """Execute a solution notebook in place (errors are not allowed)."""
    import os

    import nbformat
    from nbclient import NotebookClient

    from cnncourse.grade import KERNEL_ARGUMENTS

    os.environ["CNNCOURSE_PROFILE"] = "quick"
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        extra_arguments=KERNEL_ARGUMENTS,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(nb, path)


def _strip_execution_metadata(path: Path) -> None:
    """Drop per-cell execution timestamps so the exercises do not change with every run."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def generate(names: list[str], output: Path, root: Path = ROOT) -> list[Path]:
    """Write ``output/<a>/<a>.ipynb`` for each assignment; return the written notebooks."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    output.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        config = _config(root, output)
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = name
        converter = GenerateAssignment(coursedir=coursedir, config=config)
        converter.force = True
        converter.log.setLevel(logging.WARNING)
        converter.start()
        notebook = output / name / f"{name}.ipynb"
        if not notebook.is_file():
            raise RuntimeError(f"nbgrader did not write {notebook}")
        _strip_execution_metadata(notebook)
        written.append(notebook)
    return written


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def differences(names: list[str], generated: Path, committed: Path) -> list[str]:
    """Paths (relative to the exercises directory) that differ between the two trees."""
    diffs = []
    for name in names:
        new, old = generated / name, committed / name
        new_files = _files(new) if new.is_dir() else set()
        old_files = _files(old) if old.is_dir() else set()
        for rel in sorted(new_files | old_files):
            if rel not in new_files or rel not in old_files:
                diffs.append(f"{name}/{rel}")
            elif not filecmp.cmp(new / rel, old / rel, shallow=False):
                diffs.append(f"{name}/{rel}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", nargs="*", help="default: every assignment in solutions/")
    parser.add_argument("--check", action="store_true", help="only report stale exercises")
    parser.add_argument("--output", type=Path, help="write here instead of exercises/")
    parser.add_argument("--execute", action="store_true", help="re-execute the solutions first")
    args = parser.parse_args(argv)
    names = args.assignment or assignments()
    unknown = [n for n in names if not (ROOT / "solutions" / n / f"{n}.ipynb").is_file()]
    if unknown:
        print(f"no solutions/<a>/<a>.ipynb for: {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.execute:
        for name in names:
            path = ROOT / "solutions" / name / f"{name}.ipynb"
            execute_solution(path)
            print(f"executed {path.relative_to(ROOT)}")
    if args.output:
        for path in generate(names, args.output):
            print(f"wrote {path}")
        return 0
    committed = ROOT / "exercises"
    with tempfile.TemporaryDirectory(prefix="cnncourse-exercises-") as tmp:
        generated = Path(tmp) / "exercises"
        generate(names, generated)
        diffs = differences(names, generated, committed)
        if args.check:
            for d in diffs:
                print(f"out of date: exercises/{d}")
            return 1 if diffs else 0
        for name in names:
            shutil.rmtree(committed / name, ignore_errors=True)
            shutil.copytree(generated / name, committed / name)
            print(f"wrote exercises/{name}/{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
