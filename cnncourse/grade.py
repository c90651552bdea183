"""Grade an exercise notebook: a self-grading command, and the guards the nbgrader set-up uses.

Self-grading (no instructor, no database)::

    python -m cnncourse.grade exercises/ps01_convolution/ps01_convolution.ipynb

restores the test cells (with their hidden tests) from ``solutions/<assignment>/`` by their
nbgrader ``grade_id``, runs the notebook top to bottom on a fresh kernel inside the sandbox of
:mod:`cnncourse.sandbox` (the same function as ``nbgrader autograde``), and prints one row per
test cell and the total. A notebook whose kernel died or that used up its time budget is graded as
far as it ran, and says so. The exit status is 0 whenever grading ran, whatever the score, and 1
when it could not grade (missing or unreadable notebook, no solution to take the tests from, no
sandbox: bubblewrap missing; ``--unsafe-no-sandbox`` runs without it, for one's own notebook only).

Grading rules (the same as ``nbgrader autograde``, :func:`_cell_score`): a test cell earns its
points when it runs without an error and writes nothing to stderr (a numeric result gives
partial credit, as in nbgrader); a test whose answer calls a reference implementation listed in
the instructor notebook's shortcut policy (:func:`shortcut_policy`) fails with ``ShortcutError``;
written answers are left for a person.

Guards (used here and, through ``nbgrader_config.py``, by ``nbgrader autograde``):

- :class:`RestoreGradingMetadata` resets every cell's nbgrader metadata (points, grade/locked
  flags) from the gradebook, drops forged metadata and ``skip-execution`` tags;
- :class:`GuardSubmission` scans every cell the student could have written with
  :func:`scan_source` and does not run a cell that tampers with the grader (see below); the
  cell keeps its source and gets an error output that says why;
- :class:`LimitOutputSize` truncates huge outputs (nbgrader's own limit counts lines only).

What :func:`scan_source` refuses, with the reason shown to the student:

- imports outside :data:`ALLOWED_IMPORTS` (numpy, torch, matplotlib, scipy, cnncourse, a few
  standard modules) and the file, process and interpreter escape hatches inside them;
- ``exec``/``eval``/``compile``/``open``/``getattr``/``setattr``/``globals``/``vars``/``exit``,
  IPython magics and shell commands (``get_ipython``);
- assigning or deleting attributes of anything but ``self`` (``np.allclose = ...``,
  ``check.close = ...``), private (``_x``) and most dunder attributes, dunder strings;
- defining comparison/conversion/array-protocol dunders (an object that "equals" everything);
- ``except:``/``except BaseException`` (they would swallow the timeout interrupt);
- calls that save or load files (``np.save``, ``torch.load``, ``savefig``, ...);
- rebinding at top level a built-in that the test cells use (``range = ...``).

This is a friendly policy check, not the protection: every submission runs only inside the OS
sandbox of :mod:`cnncourse.sandbox` (:class:`SandboxedExecute` replaces nbgrader's ``Execute``),
which sees no course file, gradebook, other submission or home directory. No guarantee depends on
the policy check.

Display (:class:`SanitizeForDisplay`, used by ``generate_feedback`` and the formgrader): student
markdown and HTML/JS outputs are sanitised with ``nh3``; in feedback (:class:`HideHiddenTests`)
hidden tests are cut from test cells and a failing test shows its error's name and message only.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import copy
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Integer, List, Unicode

from . import sandbox

__all__ = [
    "ALLOWED_IMPORTS",
    "CellResult",
    "GradeReport",
    "GuardSubmission",
    "HideHiddenTests",
    "LimitOutputSize",
    "RecordGradingNotes",
    "SandboxedExecute",
    "SanitizeForDisplay",
    "ShowMarkScheme",
    "RestoreGradingMetadata",
    "Violation",
    "grade_notebook",
    "guard_notebook",
    "main",
    "scan_source",
]

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

# Modules a student cell may import (the module or any submodule), minus DENIED_MODULES.
ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "numpy",
        "math",
        "cmath",
        "fractions",
        "decimal",
        "statistics",
        "collections",
        "itertools",
        "functools",
        "typing",
        "dataclasses",
        "random",
        "heapq",
        "bisect",
        "string",
        "re",
        "copy",
        "time",
        "textwrap",
        "pprint",
        "matplotlib",
        "scipy",
        "torch",
        "cnncourse",
        "tqdm",
    }
)
DENIED_MODULES = frozenset(
    {
        "numpy.ctypeslib",
        "numpy.f2py",
        "numpy.distutils",
        "numpy.testing",
        "torch.hub",
        "torch.library",
        "torch.ops",
        "torch.jit",
        "torch.utils.cpp_extension",
        "torch.overrides",
        "torch.multiprocessing",
        "torch.distributed",
        "torch.package",
        "torch.onnx",
        "torch.export",
        "torch.compiler",
        "torch.backends",
        "scipy.io",
        "scipy.weave",
        "cnncourse.grade",
    }
)
# Built-ins that run code from strings, reach the interpreter, or touch files.
DENIED_NAMES = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "open",
        "exit",
        "quit",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "get_ipython",
        "get_type_hints",
        "singledispatch",
        "attrgetter",
        "methodcaller",
    }
)
# Attributes that lead to files, processes, compiled code or operator overrides.
DENIED_ATTRIBUTES = frozenset(
    {
        "hub",
        "library",
        "ops",
        "jit",
        "cpp_extension",
        "ctypes",
        "ctypeslib",
        "overrides",
        "multiprocessing",
        "distributed",
        "compile",
        "compiler",
        "backends",
        "fromfile",
        "tofile",
        "memmap",
        "open_memmap",
        "from_file",
        "imsave",
        "imread",
        "DataSource",
        "get_type_hints",
        "singledispatch",
        "set_default_dtype",
        "set_default_tensor_type",
        "set_default_device",
        "seterr",
        "seterrcall",
        "setbufsize",
        "set_flush_denormal",
    }
)
# save*, load*, dump*, write*, read_*: numpy/torch/matplotlib file I/O (not "loader", "saved_...").
_IO_NAME = re.compile(r"^(save(?!d)|load(?!er|_state_dict)|dump|write|read_)")
ALLOWED_DUNDER_ATTRIBUTES = frozenset({"__init__", "__name__", "__doc__"})
ALLOWED_DUNDER_DEFS = frozenset(
    {"__init__", "__call__", "__repr__", "__str__", "__len__", "__getitem__"}
)
ALLOWED_DUNDER_NAMES = frozenset({"__name__"})
SWALLOWING_EXCEPTIONS = frozenset(
    {"BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit"}
)
_DUNDER = re.compile(r"^__\w+__$")
_PRIVATE_STRING = re.compile(r"^_[A-Za-z]\w*$")


@dataclass(frozen=True)
class Violation:
    """Why a cell is not run: the line (1-based, in the cell) and a message for the student."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _module_allowed(name: str) -> bool:
    parts = name.split(".")
    if parts[0] not in ALLOWED_IMPORTS:
        return False
    return not any(".".join(parts[: i + 1]) in DENIED_MODULES for i in range(len(parts)))


def _root_name(node: ast.AST) -> str | None:
    """``a`` for ``a.b.c``, ``a[0].b``, ``a().b``; None if the chain does not start at a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _has_foreign_attribute(node: ast.AST) -> bool:
    """True if an attribute chain inside ``node`` starts anywhere but at ``self``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and _root_name(sub) != "self":
            return True
    return False


def _io_name(attr: str) -> bool:
    return _IO_NAME.match(attr) is not None


class _Scanner(ast.NodeVisitor):
    def __init__(self, protected: frozenset[str]):
        self.protected = protected
        self.found: list[Violation] = []
        self.depth = 0  # > 0 inside a function or class body

    def flag(self, node: ast.AST, message: str) -> None:
        self.found.append(Violation(getattr(node, "lineno", 0), message))

    def _bind(self, node: ast.AST, name: str) -> None:
        if self.depth == 0 and name in self.protected:
            self.flag(
                node,
                f"rebinds the built-in name `{name}`, which the tests use; choose another name",
            )

    # imports -----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _module_allowed(alias.name):
                self.flag(node, f"imports `{alias.name}`, which the grader does not allow")
            self._bind(node, (alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.flag(node, "uses a relative import")
        elif not _module_allowed(module):
            self.flag(node, f"imports from `{module}`, which the grader does not allow")
        elif module == "__future__":
            if any(a.name != "annotations" for a in node.names):
                self.flag(node, "uses a __future__ import other than `annotations`")
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, f"uses `from {module} import *`; import the names you need")
                continue
            if module and not _module_allowed(f"{module}.{alias.name}"):
                self.flag(node, f"imports `{module}.{alias.name}`, which the grader does not allow")
            if alias.name in DENIED_NAMES or alias.name in DENIED_ATTRIBUTES:
                self.flag(node, f"imports `{alias.name}`, which the grader does not allow")
            if _DUNDER.match(alias.name) or alias.name.startswith("_"):
                self.flag(node, f"imports the private name `{alias.name}`")
            if _io_name(alias.name):
                self.flag(node, f"imports `{alias.name}`: exercises do not read or write files")
            self._bind(node, alias.asname or alias.name)

    # names and attributes ----------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DENIED_NAMES:
            self.flag(node, f"uses `{node.id}`, which the grader does not allow")
        elif _DUNDER.match(node.id) and node.id not in ALLOWED_DUNDER_NAMES:
            self.flag(node, f"uses the interpreter name `{node.id}`")
        if isinstance(node.ctx, ast.Store):
            self._bind(node, node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        root = _root_name(node)
        if isinstance(node.ctx, (ast.Store, ast.Del)) and not (
            isinstance(node.value, ast.Name) and node.value.id == "self"
        ):
            verb = "assigns" if isinstance(node.ctx, ast.Store) else "deletes"
            self.flag(
                node,
                f"{verb} the attribute `{attr}` of `{root or 'an expression'}`; answer cells "
                "may only set attributes of `self` (monkeypatching is not allowed)",
            )
        if _DUNDER.match(attr):
            if attr not in ALLOWED_DUNDER_ATTRIBUTES:
                self.flag(node, f"uses the interpreter attribute `{attr}`")
        elif attr.startswith("_") and root != "self":
            self.flag(node, f"uses the private attribute `{attr}` of `{root or 'an object'}`")
        if attr in DENIED_ATTRIBUTES:
            self.flag(node, f"uses `{attr}`, which the grader does not allow")
        elif _io_name(attr):
            self.flag(node, f"calls `{attr}`: exercises do not read or write files")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)) and _has_foreign_attribute(node.value):
            self.flag(
                node,
                "changes an item inside another module or object's attribute; "
                "only change your own variables",
            )
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "type" and len(node.args) != 1:
            self.flag(node, "creates a class with type(name, bases, dict)")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and (
            _DUNDER.match(node.value) or _PRIVATE_STRING.match(node.value)
        ):
            self.flag(node, f"uses the string {node.value!r}, which names interpreter internals")

    # definitions ---------------------------------------------------------------------------
    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if _DUNDER.match(node.name) and node.name not in ALLOWED_DUNDER_DEFS:
            self.flag(node, f"defines `{node.name}`, which could change how answers compare")
        self._bind(node, node.name)
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            self._check_annotation(arg.annotation)
        self._check_annotation(node.returns)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node, node.name)
        for kw in node.keywords:
            if kw.arg == "metaclass":
                self.flag(node, "uses a metaclass")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_annotation(node.annotation)
        self.generic_visit(node)

    def _check_annotation(self, annotation: ast.AST | None) -> None:
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            self.flag(annotation, "uses a string annotation (it could be evaluated as code)")

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.protected:
                self.flag(node, f"declares the built-in name `{name}` global")

    visit_Nonlocal = visit_Global

    # control flow ------------------------------------------------------------------------
    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        names = []
        if node.type is None:
            names = ["bare except"]
        else:
            for sub in ast.walk(node.type):
                if isinstance(sub, ast.Name) and sub.id in SWALLOWING_EXCEPTIONS:
                    names.append(sub.id)
        if names:
            self.flag(
                node,
                f"catches {names[0]}, which would also swallow the grader's time-limit "
                "interrupt; catch `Exception` instead",
            )
        self.generic_visit(node)


def _python_source(source: str) -> str:
    """Translate IPython syntax (``%magic``, ``!shell``) to the Python the kernel will run."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return source
    return TransformerManager().transform_cell(source)


def scan_source(source: str, protected: Iterable[str] = ()) -> list[Violation]:
    """Policy check of one code cell written by a student.

    Parameters
    ----------
    source : str
        The cell's source (IPython syntax allowed; it is translated first).
    protected : iterable of str
        Built-in names the test cells use; rebinding them at top level is a violation.

    Returns
    -------
    list of Violation
        Empty when the cell may run.
    """
    try:
        tree = compile(
            _python_source(source),
            "<cell>",
            "exec",
            flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None) or 0
        return [Violation(line, f"cannot be parsed ({type(err).__name__}: {err.msg})")]
    scanner = _Scanner(frozenset(protected))
    scanner.visit(tree)
    unique = {(v.line, v.message): v for v in scanner.found}
    return sorted(unique.values(), key=lambda v: v.line)


def free_builtins(sources: Iterable[str]) -> frozenset[str]:
    """Built-in names that the given (trusted) cells load: the names students must not rebind."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(_python_source(source))
        except SyntaxError:
            continue
        names.update(
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        )
    return frozenset(n for n in names if hasattr(builtins, n))


# -- notebook helpers ----------------------------------------------------------------------------


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
            "Answers that use these are not graded (see cnncourse/grade.py for the rules).",
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


# -- nbgrader preprocessors ------------------------------------------------------------------------


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


# Output types a browser would run or that can carry script; only these text types are kept.
SAFE_OUTPUT_TYPES = ("text/plain", "text/latex", "image/png", "image/jpeg", "image/gif")
SANITIZED_OUTPUT_TYPES = ("text/html", "text/markdown")


def sanitize_html(text: str) -> str:
    """Student HTML made safe to show: ``nh3`` keeps formatting, drops every script."""
    import nh3

    return nh3.clean(text, link_rel="noopener noreferrer nofollow")


# Code and math in markdown: kept out of nh3 (which would read ``a<b`` as a tag) but with every
# ``<``/``>`` neutralised, so that no raw ``<`` reaches the page except nh3's own output.
_PROTECTED = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)


def sanitize_markdown(text: str) -> str:
    """Student markdown made safe to show, keeping its code and LaTeX readable."""
    import secrets

    kept: list[str] = []
    nonce = secrets.token_hex(8)  # a student cannot forge a placeholder

    def stash(match: re.Match) -> str:
        segment = match.group(0)
        if segment.startswith("$"):
            segment = segment.replace("<", r" \lt ").replace(">", r" \gt ")
        else:
            segment = segment.replace("<", "&lt;").replace(">", "&gt;")
        kept.append(segment)
        return f"KEPT{nonce}N{len(kept) - 1}X"

    cleaned = sanitize_html(_PROTECTED.sub(stash, text))
    return re.sub(rf"KEPT{nonce}N(\d+)X", lambda m: kept[int(m.group(1))], cleaned)


def sanitize_notebook(nb, trusted_markdown: Iterable[int] = ()) -> None:
    """Sanitise, in place, markdown cells not in ``trusted_markdown`` and every output."""
    keep = set(trusted_markdown)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type in ("markdown", "raw") and i not in keep:
            cell.source = sanitize_markdown(cell.source)
            cell.pop("attachments", None)
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not isinstance(data, dict):
                continue
            for mime in list(data):
                if mime in SANITIZED_OUTPUT_TYPES:
                    value = data[mime]
                    data[mime] = sanitize_html("".join(value) if isinstance(value, list) else value)
                elif mime not in SAFE_OUTPUT_TYPES:
                    del data[mime]
            if not data:
                data["text/plain"] = "(output removed by the grader)"


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


MARK_SCHEME = re.compile(r"=== BEGIN MARK SCHEME ===\s*(.*?)\s*=== END MARK SCHEME ===", re.DOTALL)


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


# Files a browser would run if the formgrader served them from the submission's folder.
ACTIVE_SUFFIXES = frozenset(
    {".html", ".htm", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".js", ".mjs", ".pdf"}
)


def remove_active_files(folder: Path) -> list[str]:
    """Delete files the formgrader would serve as active content; return their names."""
    removed = []
    for path in sorted(Path(folder).rglob("*")):
        if (path.is_file() or path.is_symlink()) and path.suffix.lower() in ACTIVE_SUFFIXES:
            path.unlink()
            removed.append(str(path.relative_to(folder)))
    return removed


HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*$", re.MULTILINE | re.DOTALL
)
HIDDEN_NOTE = "# (hidden tests: not shown)"


def hide_hidden_tests(nb) -> None:
    """In place: cut hidden tests from test cells; their errors keep only name and message."""
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        if not HIDDEN_TESTS.search(cell.source):
            continue
        cell.source = HIDDEN_TESTS.sub(HIDDEN_NOTE, cell.source)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out.traceback = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]


class HideHiddenTests(Preprocessor):
    """``generate_feedback`` step: a test cell's hidden tests are not shown to the student;
    a failing hidden test appears by the cell's name and its error's message only."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when enabled").tag(config=True)

    def preprocess(self, nb, resources):
        hide_hidden_tests(nb)
        return nb, resources


# -- self-grading ---------------------------------------------------------------------------------


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


def find_source_notebook(path: Path) -> Path:
    """``solutions/<a>/<a>.ipynb`` for ``exercises/<a>/<a>.ipynb`` (or any copy next to a repo)."""
    assignment = path.stem
    candidates = []
    for parent in [path.resolve().parent, *path.resolve().parents]:
        candidates.append(parent / "solutions" / assignment / path.name)
    candidates.append(Path(__file__).resolve().parent.parent / "solutions" / assignment / path.name)
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


if __name__ == "__main__":
    sys.exit(main())
