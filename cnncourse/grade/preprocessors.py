"""The nbgrader preprocessors, in the order ``nbgrader_config.py`` uses them.

Autograde: :class:`RestoreGradingMetadata` and :class:`GuardSubmission` (sanitize steps),
:class:`SandboxedExecute` (replaces nbgrader's ``Execute``: runs the notebook inside the sandbox
of :mod:`cnncourse.sandbox`), :class:`LimitOutputSize`, :class:`RecordGradingNotes` (after
``SaveAutoGrades``). Display: :class:`HideHiddenTests` (feedback), :class:`SanitizeForDisplay`
(feedback and formgrader), :class:`ShowMarkScheme` (formgrader). Each is a thin wrapper over a
function of :mod:`~cnncourse.grade.notebooks` or :mod:`~cnncourse.grade.display`, with the
gradebook and course folders that nbgrader provides.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Integer, List, Unicode

from .. import sandbox
from .display import MARK_SCHEME, hide_hidden_tests, remove_active_files, sanitize_notebook
from .notebooks import (
    KERNEL_ARGUMENTS,
    _is_trusted_kind,
    _nbgrader,
    guard_notebook,
    limit_outputs,
    normalize_metadata,
    shortcut_policy,
    source_cells,
)


def _gradebook_cells(resources) -> tuple[dict[str, dict], dict[str, str]]:
    """Trusted nbgrader metadata and sources per grade_id, from the gradebook."""
    from nbgrader.api import Gradebook

    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gb:
        notebook = gb.find_notebook(info["notebook"], info["assignment"])
        grades = {c.name: float(c.max_score) for c in notebook.grade_cells}
        solutions = {c.name for c in notebook.solution_cells}
        known, sources = {}, {}
        for cell in notebook.source_cells:
            meta = {
                "cell_type": cell.cell_type,
                "grade": cell.name in grades,
                "grade_id": cell.name,
                "locked": bool(cell.locked),
                "schema_version": 3,
                "solution": cell.name in solutions,
                "task": False,
            }
            if cell.name in grades:
                meta["points"] = grades[cell.name]
            known[cell.name] = meta
            sources[cell.name] = cell.source
    return known, sources


class RestoreGradingMetadata(Preprocessor):
    """nbgrader sanitize step (first): nbgrader metadata and tags from the gradebook.

    nbgrader restores the source of locked cells but trusts the submitted ``grade``/``solution``
    flags and ignores tags: a test cell re-flagged as a solution, or tagged ``skip-execution``,
    would not be graded or not run. This puts the instructor's metadata back first.
    """

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        known, _ = _gradebook_cells(resources)
        normalize_metadata(nb, known)
        return nb, resources


class GuardSubmission(Preprocessor):
    """nbgrader sanitize step (after OverwriteCells): do not run cells that tamper with grading."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        known, sources = _gradebook_cells(resources)
        trusted = []
        for cell in nb.cells:
            meta = _nbgrader(cell)
            grade_id = meta.get("grade_id")
            trusted.append(
                grade_id in known
                and _is_trusted_kind(known[grade_id])
                and cell.source == sources[grade_id]
            )
        for index, violations in guard_notebook(nb, trusted):
            self.log.warning(
                "Not running cell %d of %s/%s: %s",
                index,
                resources["nbgrader"]["student"],
                resources["nbgrader"]["notebook"],
                "; ".join(map(str, violations)),
            )
        return nb, resources


class LimitOutputSize(Preprocessor):
    """nbgrader autograde step: truncate outputs longer than ``max_chars`` characters."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    max_chars = Integer(20_000, help="Longest text kept per output.").tag(config=True)

    def preprocess(self, nb, resources):
        limit_outputs(nb, self.max_chars)
        return nb, resources


class SandboxedExecute(Preprocessor):
    """nbgrader autograde step replacing ``Execute``: run the notebook inside the OS sandbox.

    The submission's folder (``submitted/<student>/<assignment>/``, regular files only, no
    notebooks of the instructor) is copied into the sandbox's scratch folder; the notebook runs
    there (see :mod:`cnncourse.sandbox`) and its outputs come back as data. A notebook that
    stopped early (kernel died, budget used up, a limit hit) is graded as far as it ran: every
    cell that did not run gets an error output saying why, and :class:`RecordGradingNotes`
    writes the reason into the gradebook. Without bubblewrap, grading stops with the fix.
    """

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)
    timeout = Integer(30, help="Seconds each cell may run.").tag(config=True)
    notebook_budget = Integer(120, help="Seconds of wall time for one notebook.").tag(config=True)
    memory_bytes = Integer(sandbox.Limits.memory_bytes, help="Address space limit.").tag(
        config=True
    )
    processes = Integer(sandbox.Limits.processes, help="Tasks a notebook may add.").tag(config=True)
    max_output_chars = Integer(20_000, help="Longest text kept per output.").tag(config=True)
    extra_arguments = List(Unicode(), KERNEL_ARGUMENTS, help="Kernel arguments.").tag(config=True)

    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(
            cell_timeout=self.timeout,
            notebook_budget=self.notebook_budget,
            memory_bytes=self.memory_bytes,
            processes=self.processes,
            max_output_chars=self.max_output_chars,
        )

    def _folders(self, resources) -> list[tuple[Path, set[str]]]:
        from nbgrader.coursedir import CourseDirectory

        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        submitted = Path(
            coursedir.format_path(
                coursedir.submitted_directory, info["student"], info["assignment"]
            )
        )
        return [(submitted, {f"{info['notebook']}.ipynb"})]

    def _shortcuts(self, resources) -> dict[str, list[str]]:
        from nbgrader.coursedir import CourseDirectory

        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        source = Path(
            coursedir.format_path(coursedir.source_directory, ".", info["assignment"])
        ) / (info["notebook"] + ".ipynb")
        if not source.is_file():
            return {}
        return shortcut_policy(nbformat.read(source, as_version=4))

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        folders = self._folders(resources)
        result = sandbox.execute_notebook(
            nb,
            folders[0][0],
            limits=self.limits(),
            kernel_arguments=self.extra_arguments,
            exclude=folders[0][1],
            shortcuts=self._shortcuts(resources),
        )
        nb.cells = result.notebook.cells
        # The formgrader serves the files of autograded/<student>/<assignment>/ from its own
        # origin: a submitted HTML/SVG file would run script in the grader's browser.
        folder = resources.get("metadata", {}).get("path")
        if folder and Path(folder).is_dir():
            for name in remove_active_files(Path(folder)):
                self.log.warning("%s: removed the submitted file %s", info["student"], name)
        resources.setdefault("cnncourse", {})["sandbox"] = {
            "complete": result.complete,
            "message": result.message,
            "not_run": result.not_run,
        }
        self.log.info(
            "Ran %s/%s in the sandbox in %.1f s",
            info["student"],
            info["notebook"],
            result.seconds,
        )
        if not result.complete:
            self.log.warning("%s/%s: %s", info["student"], info["notebook"], result.message)
        return nb, resources


class RecordGradingNotes(Preprocessor):
    """nbgrader autograde step after ``SaveAutoGrades``: record in the gradebook why a notebook
    was graded only as far as it ran.

    The submitted notebook is flagged, and the written-answer/answer cells that did not run get
    the reason as their automatic comment (shown in the formgrader and in the feedback).
    """

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        outcome = resources.get("cnncourse", {}).get("sandbox")
        if not outcome or outcome["complete"]:
            return nb, resources
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        note = f"Graded as far as it ran: {outcome['message']}"
        not_run = set(outcome["not_run"])
        solutions = [
            (i, _nbgrader(c)["grade_id"])
            for i, c in enumerate(nb.cells)
            if _nbgrader(c).get("solution")
        ]
        chosen = [gid for i, gid in solutions if i in not_run] or [gid for _, gid in solutions[-1:]]
        with Gradebook(info["db_url"]) as gb:
            submitted = gb.find_submission_notebook(
                info["notebook"], info["assignment"], info["student"]
            )
            submitted.flagged = True
            for grade_id in chosen:
                comment = gb.find_comment(
                    grade_id, info["notebook"], info["assignment"], info["student"]
                )
                comment.auto_comment = note
            gb.db.commit()
        return nb, resources


class SanitizeForDisplay(Preprocessor):
    """Before the formgrader or feedback shows a notebook: sanitise what a student wrote.

    Markdown written by students (every markdown cell except the instructor's locked ones) and
    HTML/markdown outputs go through ``nh3``; JavaScript, SVG and other active outputs are
    dropped. Used in nbgrader's feedback and formgrader HTML export (``nbgrader_config.py``).
    """

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        trusted = [
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and _is_trusted_kind(_nbgrader(c))
        ]
        sanitize_notebook(nb, trusted)
        return nb, resources


class ShowMarkScheme(Preprocessor):
    """Formgrader view (``HTMLExporter.preprocessors``): the instructor's mark scheme of each
    written answer, from ``solutions/``, shown right after the student's answer.

    Acts only on the formgrader's rendering (its resources name a ``submission_id``), never on
    feedback, which nbgrader renders with its own preprocessor list.
    """

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        if "submission_id" not in resources or "assignment_id" not in resources:
            return nb, resources
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        source = Path(
            coursedir.format_path(coursedir.source_directory, ".", resources["assignment_id"])
        ) / (resources["notebook_id"] + ".ipynb")
        if not source.is_file():
            return nb, resources
        schemes = {}
        for gid, cell in source_cells(nbformat.read(source, as_version=4)).items():
            match = MARK_SCHEME.search(cell.source)
            if match:
                schemes[gid] = match.group(1)
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            gid = _nbgrader(cell).get("grade_id")
            if gid in schemes:
                quoted = "\n".join(f"> {line}" for line in schemes[gid].splitlines())
                cells.append(
                    nbformat.v4.new_markdown_cell(
                        f"> **Mark scheme for `{gid}` (graders only)**\n>\n{quoted}",
                        metadata={"cnncourse": {"mark_scheme": gid}},
                    )
                )
        nb.cells = cells
        return nb, resources


class HideHiddenTests(Preprocessor):
    """``generate_feedback`` step: a test cell's hidden tests are not shown to the student;
    a failing hidden test appears by the cell's name and its error's message only."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        hide_hidden_tests(nb)
        return nb, resources
