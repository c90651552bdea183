"""Notebook helpers both graders share: restore the instructor's cells and metadata, guard, limit.

- :func:`normalize_metadata` resets nbgrader metadata from trusted values and drops
  ``skip-execution`` tags; :func:`source_cells` and :func:`restore_from_source` put the
  instructor's test and locked cells (with hidden tests) back into a submission;
- :func:`guard_notebook` tags the student cells that break the policy
  (:func:`cnncourse.grade.policy.scan_source`) so that they are not run, with an error output
  that says why;
- :func:`limit_outputs` truncates huge outputs;
- :func:`shortcut_policy` reads which reference functions an answer must not call;
- :data:`KERNEL_ARGUMENTS`, :data:`SKIP_TAG`, :data:`GUARD_ENAME`: how the grading kernel runs
  and how a quarantined cell is marked.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import nbformat

from .policy import Violation, free_builtins, scan_source

SKIP_TAG = "skip-execution"  # nbclient does not run cells with this tag
GUARD_ENAME = "SubmissionGuard"
KERNEL_ARGUMENTS = [
    "--HistoryManager.hist_file=:memory:",
    # Files submitted next to the notebook (numpy.py, cnncourse/check.py) must not shadow the
    # real modules: keep the working directory off sys.path.
    "--InteractiveShellApp.ignore_cwd=True",
    # The kernel's own start-up warnings (and C-level writes to fd 2) must not land in whatever
    # cell is running: nbgrader scores a test cell with any stderr output 0.
    "--IPKernelApp.log_level=ERROR",
    "--IPKernelApp.capture_fd_output=False",
]


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _is_trusted_kind(meta: Mapping) -> bool:
    """Cells whose source the instructor wrote: tests and locked (read-only) cells."""
    return not meta.get("solution") and (bool(meta.get("grade")) or bool(meta.get("locked")))


def normalize_metadata(nb, known: Mapping[str, Mapping]) -> None:
    """Reset nbgrader metadata from trusted values, in place.

    ``known`` maps grade_id -> trusted nbgrader metadata. A cell with a known grade_id gets the
    trusted metadata (the last cell wins when a grade_id repeats, as nbgrader's
    DeduplicateIds); any other nbgrader metadata is dropped; ``skip-execution`` tags go.
    """
    last: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        grade_id = _nbgrader(cell).get("grade_id")
        if isinstance(grade_id, str) and grade_id in known:
            last[grade_id] = i
    for i, cell in enumerate(nb.cells):
        meta = cell.setdefault("metadata", {})
        tags = meta.get("tags")
        if isinstance(tags, list) and SKIP_TAG in tags:
            meta["tags"] = [t for t in tags if t != SKIP_TAG]
        elif tags is not None and not isinstance(tags, list):
            del meta["tags"]
        grade_id = _nbgrader(cell).get("grade_id")
        if isinstance(grade_id, str) and last.get(grade_id) == i:
            trusted = copy.deepcopy(dict(known[grade_id]))
            checksum = _nbgrader(cell).get("checksum")
            if checksum is not None and "checksum" not in trusted:
                trusted["checksum"] = checksum
            meta["nbgrader"] = trusted
        else:
            meta.pop("nbgrader", None)


def guard_notebook(nb, trusted: Sequence[bool]) -> list[tuple[int, list[Violation]]]:
    """Mark untrusted code cells that break the policy so that they are not run.

    ``trusted[i]`` says whether cell ``i`` was written by the instructor (restored test or
    locked cell). Untrusted code cells are scanned with :func:`scan_source`; a violating cell
    gets the ``skip-execution`` tag and an error output naming the lines. Returns the
    quarantined cells as (index, violations).
    """
    protected = free_builtins(
        c.source for c, t in zip(nb.cells, trusted, strict=True) if t and c.cell_type == "code"
    )
    quarantined = []
    for i, (cell, is_trusted) in enumerate(zip(nb.cells, trusted, strict=True)):
        if is_trusted or cell.cell_type != "code":
            continue
        violations = scan_source(cell.source, protected)
        if not violations:
            continue
        quarantined.append((i, violations))
        tags = cell.metadata.setdefault("tags", [])
        tags.append(SKIP_TAG)
        lines = [
            "The grader did not run this cell:",
            *(f"  {v}" for v in violations),
            "Answers that use these are not graded (see cnncourse/grade/policy.py for the rules).",
        ]
        cell.outputs = [
            nbformat.v4.new_output(
                "error", ename=GUARD_ENAME, evalue=str(violations[0]), traceback=lines
            )
        ]
        cell.execution_count = None
    return quarantined


def limit_outputs(nb, max_chars: int) -> None:
    """Truncate every text output of every cell to ``max_chars`` characters, in place."""
    marker = "\n... output truncated by the grader ...\n"

    def cut(text):
        if isinstance(text, list):
            text = "".join(text)
        if isinstance(text, str) and len(text) > max_chars:
            return text[:max_chars] + marker
        return text

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        total = 0
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                out.text = cut(out.text)
                total += len(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                data = out.get("data", {})
                for key in list(data):
                    value = data[key]
                    size = len(value) if isinstance(value, str) else len(str(value))
                    if size > max_chars:
                        data[key] = (
                            cut(value) if key.startswith("text/") else "(removed: too large)"
                        )
                    total += min(size, max_chars)
            elif out.output_type == "error":
                out.evalue = cut(out.evalue)
                out.traceback = [cut(t) for t in out.traceback][:200]
            # Keep errors and stderr whatever the volume: they decide the score.
            if total > 4 * max_chars and out.output_type != "error" and out.get("name") != "stderr":
                continue
            kept.append(out)
        cell.outputs = kept


def source_cells(source_nb) -> dict[str, Any]:
    """grade_id -> cell of the instructor's notebook."""
    return {
        _nbgrader(c)["grade_id"]: c
        for c in source_nb.cells
        if isinstance(_nbgrader(c).get("grade_id"), str)
    }


def restore_from_source(nb, source_nb) -> list[bool]:
    """Put the instructor's test and locked cells (with hidden tests) back into ``nb``, in place.

    Known cells get the instructor's metadata; test and locked cells get the instructor's
    source; test cells deleted from the submission are re-inserted after the cell before them
    in the instructor's notebook. Returns, per cell of the result, whether it is trusted.
    """
    known_cells = source_cells(source_nb)
    known = {gid: _nbgrader(c) for gid, c in known_cells.items()}
    normalize_metadata(nb, known)
    present = {}
    for i, cell in enumerate(nb.cells):
        gid = _nbgrader(cell).get("grade_id")
        if gid is not None:
            present[gid] = i
    order = list(known_cells)
    cells = list(nb.cells)
    inserted = 0
    for pos, gid in enumerate(order):
        meta = known[gid]
        if gid in present or not _is_trusted_kind(meta):
            continue
        previous = [present[g] for g in order[:pos] if g in present]
        at = (max(previous) + 1) if previous else 0
        cells.insert(at, copy.deepcopy(known_cells[gid]))
        present = {g: (i + 1 if i >= at else i) for g, i in present.items()}
        present[gid] = at
        inserted += 1
    nb.cells = cells
    trusted = []
    for cell in nb.cells:
        gid = _nbgrader(cell).get("grade_id")
        if gid in known and _is_trusted_kind(known[gid]):
            src = known_cells[gid]
            cell.source = src.source
            if cell.cell_type != src.cell_type:
                cell.cell_type = src.cell_type
            trusted.append(True)
        else:
            trusted.append(False)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    return trusted


def shortcut_policy(source_nb) -> dict[str, list[str]]:
    """Test grade_id -> reference functions its answer must not call, from the instructor
    notebook's metadata::

        "cnncourse": {"shortcuts": [{"tests": ["q2a_corr2d_example", ...],
                                     "functions": ["cnncourse.conv.corr2d", ...]}]}
    """
    policy: dict[str, list[str]] = {}
    entries = source_nb.metadata.get("cnncourse", {}).get("shortcuts", [])
    for entry in entries if isinstance(entries, list) else []:
        for test in entry.get("tests", []):
            policy.setdefault(str(test), []).extend(str(f) for f in entry.get("functions", []))
    return policy
