"""nbgrader configuration for the cnncourse exercises (instructor workflow: solutions/README.md).

The instructor notebooks live in ``solutions/`` (nbgrader's "source" directory) and the student
notebooks are generated into ``exercises/`` (nbgrader's "release" directory):

    nbgrader generate_assignment ps01_convolution --force      # or: make exercises
    nbgrader autograde ps01_convolution                          # submitted/<student>/ps01_convolution/
    nbgrader generate_feedback ps01_convolution
    nbgrader export                                              # grades.csv

Run nbgrader from this directory with the virtual environment's ``bin`` on PATH (nbgrader calls
``alembic`` to create the gradebook): ``PATH=$PWD/.venv/bin:$PATH nbgrader ...``.

Every submission runs only inside an OS sandbox (bubblewrap; :mod:`cnncourse.sandbox`):
``cnncourse.grade.SandboxedExecute`` replaces nbgrader's ``Execute``. The sandbox sees no course
file, gradebook, other submission or home directory, has no network, and is killed with every
process in it when the notebook ends. Each cell may run 30 s and each notebook 120 s in all; a
notebook that stops early (kernel died, budget used up) is graded as far as it ran, flagged, and
the reason is written into the gradebook and the feedback. Without bubblewrap, autograde stops
with a message that names the fix.

Around it, :mod:`cnncourse.grade` adds: the gradebook's metadata is restored before anything
else (points, grade/locked flags, no ``skip-execution`` tags); a friendly policy check does not
run cells that tamper with grading; outputs are truncated (errors and stderr always kept, so the
score never depends on the output length); in feedback hidden tests are not shown; student
HTML/markdown is sanitised (nh3) before the formgrader or feedback shows it.
"""

from cnncourse.grade import KERNEL_ARGUMENTS

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.course_id = "cnncourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "README.md"]

# Student notebooks: a stub that fails loudly until the student writes the answer.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Running submissions, in the sandbox: the same function and kernel settings as
# `python -m cnncourse.grade`. Kernel flags: the working directory stays off sys.path (a submitted
# numpy.py must not shadow numpy) and kernel warnings stay out of the cells (a test cell with any
# stderr output scores 0).
c.SandboxedExecute.timeout = 30  # seconds per cell
c.SandboxedExecute.notebook_budget = 120  # seconds per notebook, kernel start included
c.SandboxedExecute.extra_arguments = list(KERNEL_ARGUMENTS)
c.OverwriteCells.add_missing_cells = True  # a deleted test cell is put back, not skipped
c.LimitOutputSize.max_chars = 20_000

c.Autograde.sanitize_preprocessors = [
    "cnncourse.grade.RestoreGradingMetadata",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
    "cnncourse.grade.GuardSubmission",
]
# nbgrader's LimitOutput is left out on purpose: it drops stream output after N lines, stderr
# included, so a long print could hide a failure from nbgrader only (the self-grader would see it).
c.Autograde.autograde_preprocessors = [
    "cnncourse.grade.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "cnncourse.grade.LimitOutputSize",
    "nbgrader.preprocessors.SaveAutoGrades",
    "cnncourse.grade.RecordGradingNotes",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# What the instructor and students look at: feedback without hidden tests, and everything a
# student wrote (markdown answers, HTML/JS outputs) sanitised. HTMLExporter.preprocessors is what
# the formgrader's view of a submission uses (nbgrader's own commands replace the list): there
# the mark scheme from solutions/ is shown under each written answer.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "cnncourse.grade.HideHiddenTests",
    "cnncourse.grade.SanitizeForDisplay",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.HTMLExporter.preprocessors = [
    "cnncourse.grade.SanitizeForDisplay",
    "cnncourse.grade.ShowMarkScheme",
]
