"""Mutation testing of the from-scratch modules with mutmut 3, one module at a time.

Usage (``make mutation`` runs it on every module; it is slow, so not part of ``make test``)::

    .venv/bin/python scripts/mutation_report.py [--jobs N] [--max-minutes M] [MODULE ...]
        [--only FILE ...] [--mutants PATTERN ...] [--resume]

``--mutants 'cnncourse.conv.x_corr2d_naive__mutmut_*'`` restricts a run to one function's
mutants (mutmut's own fnmatch filter); the module's other mutants are then reported as not run.

For each module, a scratch copy of the library and the tests goes to ``_build/mutation/<module>/``
with a ``[tool.mutmut]`` section that mutates only that module's files and runs only that
module's own test files. mutmut runs there and the script prints one row per module: mutants,
killed (including timeouts), survived, no tests, and the score killed / (mutants - equivalent),
where the equivalent mutants are the ones listed in ``tests/mutation_equivalents.md``
(lines ``- `<mutant name>`: why``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build" / "mutation"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.md"

# module -> (files to mutate, the module's own test files)
MODULES = {
    "conv": (["cnncourse/conv.py"], ["tests/test_conv.py", "tests/test_conv_matrix.py"]),
    "shapes": (["cnncourse/shapes.py"], ["tests/test_shapes.py"]),
    "pooling": (["cnncourse/pooling.py"], ["tests/test_pooling.py"]),
    "detect": (["cnncourse/detect/*.py"], ["tests/test_detect.py", "tests/test_detector.py"]),
    "metrics": (["cnncourse/metrics.py"], ["tests/test_metrics.py"]),
    "explain": (["cnncourse/explain.py"], ["tests/test_explain.py"]),
    "train": (
        [
            "cnncourse/train/loop.py",
            "cnncourse/train/epoch.py",
            "cnncourse/train/callbacks.py",
            "cnncourse/train/checkpoint.py",
        ],
        ["tests/test_train.py"],
    ),
}
# Tests that cannot run under mutmut: a subprocess imports mutmut's trampolines without its
# configuration (the CLI is also covered in-process by test_cli_main_returns_exit_status...).
DESELECT = {"train": ["tests/test_train.py::test_cli_trains_one_epoch_and_reports_test_accuracy"]}

# mutmut's exit-code verdicts (mutmut/stats.py, status_by_exit_code); a timeout counts as a kill,
# as in mutmut's own score
TIMEOUT = {36, -24, 24, 152, 255}
KILLED = {1, 3} | TIMEOUT
SURVIVED = {0}
NO_TESTS = {5, 33}
NOT_RUN = {None, 2, 34}  # not checked, interrupted, skipped


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def prepare(module: str, only: list[str] | None = None) -> Path:
    """A scratch tree for one module: the library, the tests, and a mutmut configuration."""
    files, tests = MODULES[module]
    files = only or files
    work = BUILD / module
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "artifacts")
    shutil.copytree(ROOT / "cnncourse", work / "cnncourse", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "-x", "-q", "-n", "0"]
    for test in DESELECT.get(module, []):
        args += ["--deselect", test]
    (work / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["cnncourse"]\n'
        f"only_mutate = {_toml_list(files)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        f"pytest_add_cli_args = {_toml_list(args)}\n"
        # torch is not fork-safe after it started its thread pools: fork from a clean server
        'process_isolation = "forkserver"\n'
        "use_git_change_detection = false\n"
        "timeout_multiplier = 5.0\n"
        "timeout_constant = 10.0\n"
    )
    return work


def equivalents() -> dict[str, str]:
    """Mutant name -> one-line reason, from tests/mutation_equivalents.md."""
    if not EQUIVALENTS.exists():
        return {}
    found = re.findall(r"^- `([^`]+)`: (.+)$", EQUIVALENTS.read_text(), flags=re.MULTILINE)
    return dict(found)


def run(
    module: str,
    jobs: int,
    max_minutes: float,
    only: list[str] | None = None,
    mutants: list[str] | None = None,
    resume: bool = False,
) -> Path:
    if resume and (BUILD / module / "mutants").exists():
        work = BUILD / module  # mutmut skips the mutants it already decided
    else:
        work = prepare(module, only)
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(work / "mutants"),
        OMP_NUM_THREADS="1",
        CNNCOURSE_PROFILE="quick",
        IPYTHONDIR=str(ROOT / "tests" / "ipython"),
        HYPOTHESIS_PROFILE="ci",
    )
    # mutmut writes the mutated tree into mutants/; it must exist before Python starts, or the
    # import system caches "no such directory" for that PYTHONPATH entry and imports the
    # unmutated, installed cnncourse instead
    (work / "mutants").mkdir(exist_ok=True)
    mutmut = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)]
    mutmut += mutants or []  # mutant name patterns (fnmatch), e.g. "cnncourse.conv.x_corr2d*"
    log = (BUILD / f"{module}.log").open("w")
    start = time.monotonic()
    proc = subprocess.Popen(mutmut, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        proc.wait(timeout=max_minutes * 60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        print(f"{module}: stopped after {max_minutes} min (partial results)", file=sys.stderr)
    print(f"{module}: mutmut ran {time.monotonic() - start:.0f} s", file=sys.stderr)
    return work


def score(module: str, work: Path, equivalent: dict[str, str]) -> dict:
    """Counts from mutmut's per-file .meta results."""
    counts = {
        "mutants": 0,
        "killed": 0,
        "survived": 0,
        "no_tests": 0,
        "not_run": 0,
        "other": 0,
        "equiv": 0,
    }
    survivors = []
    for meta in sorted((work / "mutants" / "cnncourse").rglob("*.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        for name, code in codes.items():
            counts["mutants"] += 1
            if name in equivalent:
                counts["equiv"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                survivors.append(name)
            elif code in NO_TESTS:
                counts["no_tests"] += 1
                survivors.append(name)
            elif code in NOT_RUN:
                counts["not_run"] += 1
            else:  # suspicious, segfault, caught by a type checker: not decided
                counts["other"] += 1
    decided = counts["killed"] + counts["survived"] + counts["no_tests"]
    counts["score"] = 100.0 * counts["killed"] / decided if decided else float("nan")
    (BUILD / f"{module}.survivors.txt").write_text("".join(f"{s}\n" for s in survivors))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES))
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel")
    parser.add_argument("--max-minutes", type=float, default=120.0, help="per module")
    parser.add_argument(
        "--only", nargs="+", help="mutate only these files of the module (e.g. one file of train)"
    )
    parser.add_argument(
        "--mutants",
        nargs="+",
        help="run only the mutants matching these fnmatch patterns, e.g. 'cnncourse.conv.x_corr2d*'"
        " (one function); the others count as not run",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="re-read the results of earlier runs"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue a capped run: keep _build/mutation/<module> and its results (mutmut runs"
        " the mutants it has not decided yet, fastest first, so a capped run leaves the slowest"
        " functions for the next)",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {sorted(MODULES)}")
    equivalent = equivalents()
    rows = []
    for module in args.modules:
        work = (
            BUILD / module
            if args.report_only
            else run(module, args.jobs, args.max_minutes, args.only, args.mutants, args.resume)
        )
        rows.append((module, score(module, work, equivalent)))
    header = f"{'module':10} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9}"
    header += f" {'equiv.':>7} {'not run':>8} {'other':>6} {'score':>7}"
    print(header)
    for module, c in rows:
        print(
            f"{module:10} {c['mutants']:8d} {c['killed']:7d} {c['survived']:9d} "
            f"{c['no_tests']:9d} {c['equiv']:7d} {c['not_run']:8d} {c['other']:6d} "
            f"{c['score']:6.1f}%"
        )
    print(f"survivors: {BUILD}/<module>.survivors.txt; show one with `mutmut show <name>` there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
