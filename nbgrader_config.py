"""nbgrader configuration for the cnncourse exercises (instructor workflow: solutions/README.md).

The instructor notebooks live in ``solutions/`` (nbgrader's "source" directory) and the student
notebooks are generated into ``exercises/`` (nbgrader's "release" directory):

    nbgrader generate_assignment ps01_convolution --force      # or: make exercises
    nbgrader autograde ps01_convolution                          # submitted/<student>/ps01_convolution/
    nbgrader generate_feedback ps01_convolution
    nbgrader export                                              # grades.csv

Run nbgrader from this directory with the virtual environment's ``bin`` on PATH (nbgrader calls
``alembic`` to create the gradebook): ``PATH=$PWD/.venv/bin:$PATH nbgrader ...``.

Autograding adds three guards from :mod:`cnncourse.grade` to nbgrader's own pipeline: the
gradebook's metadata is restored before anything else (points, grade/locked flags, no
``skip-execution`` tags), cells that tamper with grading are not run, and huge outputs are
truncated. Each cell may run 30 s; a cell that runs longer is interrupted and fails.
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

# Running submissions: same kernel settings as `python -m cnncourse.grade`.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
# Kernel flags shared with `python -m cnncourse.grade`: the working directory stays off sys.path
# (a submitted numpy.py must not shadow numpy) and kernel warnings stay out of the cells (a test
# cell with any stderr output scores 0).
c.Execute.extra_arguments = list(KERNEL_ARGUMENTS)
c.OverwriteCells.add_missing_cells = True  # a deleted test cell is put back, not skipped
c.LimitOutput.max_lines = 200
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
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "cnncourse.grade.LimitOutputSize",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
