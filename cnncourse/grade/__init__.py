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

Where things are (every name below is importable from ``cnncourse.grade``)
--------------------------------------------------------------------------
- ``policy.py``: :func:`scan_source`, :class:`Violation`, :func:`free_builtins` and the rules
  (:data:`ALLOWED_IMPORTS`, :data:`DENIED_MODULES`, :data:`DENIED_NAMES`,
  :data:`DENIED_ATTRIBUTES`, :data:`SWALLOWING_EXCEPTIONS`, ...).
- ``notebooks.py``: :func:`normalize_metadata`, :func:`guard_notebook`, :func:`limit_outputs`,
  :func:`source_cells`, :func:`restore_from_source`, :func:`shortcut_policy`,
  :data:`KERNEL_ARGUMENTS`, :data:`SKIP_TAG`, :data:`GUARD_ENAME`.
- ``preprocessors.py``: the nbgrader preprocessors named in ``nbgrader_config.py``
  (:class:`RestoreGradingMetadata`, :class:`GuardSubmission`, :class:`SandboxedExecute`,
  :class:`LimitOutputSize`, :class:`RecordGradingNotes`, :class:`SanitizeForDisplay`,
  :class:`ShowMarkScheme`, :class:`HideHiddenTests`).
- ``display.py``: :func:`sanitize_html`, :func:`sanitize_markdown`, :func:`sanitize_notebook`,
  :data:`MARK_SCHEME`, :func:`remove_active_files`, :func:`hide_hidden_tests`.
- ``selfgrade.py``: :func:`grade_notebook`, :class:`GradeReport`, :class:`CellResult`,
  :func:`find_source_notebook`, :func:`main`; ``__main__.py`` runs :func:`main`.
"""

from __future__ import annotations

from .display import (
    ACTIVE_SUFFIXES,
    HIDDEN_NOTE,
    HIDDEN_TESTS,
    MARK_SCHEME,
    SAFE_OUTPUT_TYPES,
    SANITIZED_OUTPUT_TYPES,
    hide_hidden_tests,
    remove_active_files,
    sanitize_html,
    sanitize_markdown,
    sanitize_notebook,
)
from .notebooks import (
    GUARD_ENAME,
    KERNEL_ARGUMENTS,
    SKIP_TAG,
    guard_notebook,
    limit_outputs,
    normalize_metadata,
    restore_from_source,
    shortcut_policy,
    source_cells,
)
from .policy import (
    ALLOWED_DUNDER_ATTRIBUTES,
    ALLOWED_DUNDER_DEFS,
    ALLOWED_DUNDER_NAMES,
    ALLOWED_IMPORTS,
    DENIED_ATTRIBUTES,
    DENIED_MODULES,
    DENIED_NAMES,
    SWALLOWING_EXCEPTIONS,
    Violation,
    free_builtins,
    scan_source,
)
from .preprocessors import (
    GuardSubmission,
    HideHiddenTests,
    LimitOutputSize,
    RecordGradingNotes,
    RestoreGradingMetadata,
    SandboxedExecute,
    SanitizeForDisplay,
    ShowMarkScheme,
)
from .selfgrade import (
    UNSAFE_WARNING,
    CellResult,
    GradeReport,
    _cell_score,  # noqa: F401 - tests check nbgrader's scoring rule on it
    find_source_notebook,
    grade_notebook,
    main,
)

__all__ = [
    "ACTIVE_SUFFIXES",
    "ALLOWED_DUNDER_ATTRIBUTES",
    "ALLOWED_DUNDER_DEFS",
    "ALLOWED_DUNDER_NAMES",
    "ALLOWED_IMPORTS",
    "DENIED_ATTRIBUTES",
    "DENIED_MODULES",
    "DENIED_NAMES",
    "GUARD_ENAME",
    "HIDDEN_NOTE",
    "HIDDEN_TESTS",
    "KERNEL_ARGUMENTS",
    "MARK_SCHEME",
    "SAFE_OUTPUT_TYPES",
    "SANITIZED_OUTPUT_TYPES",
    "SKIP_TAG",
    "SWALLOWING_EXCEPTIONS",
    "UNSAFE_WARNING",
    "CellResult",
    "GradeReport",
    "GuardSubmission",
    "HideHiddenTests",
    "LimitOutputSize",
    "RecordGradingNotes",
    "RestoreGradingMetadata",
    "SandboxedExecute",
    "SanitizeForDisplay",
    "ShowMarkScheme",
    "Violation",
    "find_source_notebook",
    "free_builtins",
    "grade_notebook",
    "guard_notebook",
    "hide_hidden_tests",
    "limit_outputs",
    "main",
    "normalize_metadata",
    "remove_active_files",
    "restore_from_source",
    "sanitize_html",
    "sanitize_markdown",
    "sanitize_notebook",
    "scan_source",
    "shortcut_policy",
    "source_cells",
]
