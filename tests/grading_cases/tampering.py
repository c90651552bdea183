"""Submissions that attack the grader, built from ps01_convolution.

Each case is a wrong or partly right submission plus an attack; the attack must not earn a
point, must not disturb the other submissions graded in the same run, and must not change any
submitted file. ``files`` are extra files submitted next to the notebook.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

from . import Case, cell_by_id, correct_submission, nbgrader, replace_in

A = "ps01_convolution"
OFF_BY_ONE = (
    "q2_answer",
    "x.shape[0] - kh + 1, x.shape[1] - kw + 1",
    "x.shape[0] - kh, x.shape[1] - kw",
)
OFF_BY_ONE_FAILS = {"q2a_corr2d_example", "q2b_corr2d_general", "q3_convolve2d"}
ROW = ("q5_answer", 'wrong_row = "C"', 'wrong_row = "D"')
LECTURE = (
    "q5_answer",
    "(kh * kw * in_channels + (1 if bias else 0)) * out_channels",
    "kh * kw * in_channels",
)


@dataclass
class Attack(Case):
    files: dict[str, str] = field(default_factory=dict)
    quarantined: int = 0  # cells the guard must refuse to run


def _base(*edits):
    nb = copy.deepcopy(correct_submission(A))
    for edit in edits:
        replace_in(nb, *edit)
    return nb


def _insert_after(nb, grade_id: str, source: str) -> None:
    index = next(i for i, c in enumerate(nb.cells) if nbgrader(c).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))


def infinite_loop():
    nb = _base()
    cell = cell_by_id(nb, "q2_answer")
    cell.source = (
        "while True:  # an infinite loop before corr2d is defined\n    pass\n\n" + cell.source
    )
    return nb


def raises_at_import():
    nb = _base()
    cell = cell_by_id(nb, "q4_answer")
    cell.source = (
        "from cnncourse import conv2d_fast  # does not exist: ImportError\n\n" + cell.source
    )
    return nb


def prints_megabytes():
    nb = _base()
    replace_in(
        nb,
        "q1_answer",
        "y_conv = [2, -2, 5, 2, -1, 6]",
        'print("x" * 5_000_000)\ny_conv = [2, -2, 5, 2, -1, 6]',
    )
    replace_in(nb, "q2_answer", "    return y\n", '    print("y" * 1_000_000)\n    return y\n')
    _insert_after(nb, "q1_answer", 'for i in range(200_000):\n    print("line", i)')
    return nb


def edits_tests():
    nb = _base(OFF_BY_ONE)
    cell_by_id(nb, "q2a_corr2d_example").source = "pass  # test removed"
    cell_by_id(nb, "q2b_corr2d_general").metadata["nbgrader"]["points"] = 100
    cell_by_id(nb, "q2b_corr2d_general").source = "print('all good')"
    nb.cells = [c for c in nb.cells if nbgrader(c).get("grade_id") != "q3_convolve2d"]
    return nb


def edits_metadata():
    nb = _base(OFF_BY_ONE)
    meta = cell_by_id(nb, "q2a_corr2d_example").metadata["nbgrader"]
    meta.update(grade=False, solution=True, locked=False)  # pretend it is an answer cell
    cell_by_id(nb, "q2a_corr2d_example").source = "pass"
    cell_by_id(nb, "q2b_corr2d_general").metadata["tags"] = ["skip-execution"]
    q3 = cell_by_id(nb, "q3_convolve2d")
    del q3.metadata["nbgrader"]  # make the test an ordinary cell
    q3.source = "pass"
    bonus = nbformat.v4.new_code_cell("pass  # a test cell of my own")
    bonus.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "bonus",
        "locked": True,
        "points": 50.0,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    nb.cells.append(bonus)
    dup = copy.deepcopy(cell_by_id(nb, "q4a_conv2d_basic"))  # a second copy of a test id
    dup.source = "pass"
    dup.id = "my-copy-of-a-test"
    nb.cells.insert(1, dup)
    return nb


MONKEYPATCH = """
import numpy
from cnncourse import check, conv

numpy.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
check.close = lambda *args, **kwargs: None
conv.corr2d = corr2d  # make the reference agree with my answer
"""


def monkeypatch():
    nb = _base(OFF_BY_ONE, LECTURE)
    _insert_after(nb, "q2_answer", MONKEYPATCH)
    nb.cells.insert(
        2,
        nbformat.v4.new_code_cell(
            "class Anything:\n    def __eq__(self, other):\n        return True\n\n"
            "def conv_params(*args, **kwargs):\n    return Anything()\n"
        ),
    )
    return nb


def rebinds_check():
    """Rebinding names (no attribute assignment): the test cells import their own check."""
    nb = _base(OFF_BY_ONE)
    _insert_after(
        nb,
        "q2_answer",
        "class FakeCheck:\n    def close(self, *args, **kwargs):\n        pass\n"
        "    def shape(self, *args, **kwargs):\n        pass\n\n"
        "check = FakeCheck()\n",
    )
    return nb


GRADEBOOK = """
# Corrupt the instructor's gradebook (the kernel runs in autograded/<student>/<assignment>/).
with open("../../../gradebook.db", "w") as f:
    f.write("not a database")
np.save("../../../gradebook.db", np.zeros(3))
"""


def writes_gradebook():
    nb = _base()
    _insert_after(nb, "q1_answer", GRADEBOOK)
    return nb


def shadow_modules():
    return _base(LECTURE, ROW)


SHADOW_CHECK = '''
"""A fake cnncourse.check that passes everything."""
def _ok(*args, **kwargs):
    pass
close = equal = shape = numbers_list = one_of = raises = that = _ok
'''

SHADOW_NUMPY = "raise ImportError('this is the submitted numpy.py, not numpy')\n"


FAKE_KERNEL = '''"""A submitted ipykernel_launcher.py: a kernel that skips every test cell."""
import os
import sys

sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

_run = InteractiveShell.run_cell_async


async def run_cell_async(self, raw_cell, *args, **kwargs):
    if "check." in raw_cell:
        raw_cell, kwargs["transformed_cell"] = "pass", "pass\\n"
    return await _run(self, raw_cell, *args, **kwargs)


InteractiveShell.run_cell_async = run_cell_async
from ipykernel import kernelapp  # noqa: E402

kernelapp.launch_new_instance()
'''

FAKE_RUNNER_MODULE = '''"""A submitted shlex.py: the grader's runner imports it, and then drops every error output."""
import importlib.util
import os
import sysconfig

_spec = importlib.util.spec_from_file_location(
    "shlex", os.path.join(sysconfig.get_path("stdlib"), "shlex.py")
)
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
try:
    from nbclient import NotebookClient
except ImportError:
    pass
else:
    _execute = NotebookClient.execute_cell

    def execute_cell(self, cell, *args, **kwargs):
        cell = _execute(self, cell, *args, **kwargs)
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
        return cell

    NotebookClient.execute_cell = execute_cell
'''


def ipython_escape():
    nb = _base(OFF_BY_ONE)
    _insert_after(
        nb,
        "q2_answer",
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n",
    )
    _insert_after(nb, "q1_answer", "%load_ext autoreload\n!touch ../../../gradebook.db\n")
    return nb


SHORTCUT_CORR2D = """from cnncourse import conv


def corr2d(x, kernel):
    return conv.corr2d(x, kernel)  # the reference the task asks me to write
"""

SHORTCUT_CONV2D = """import torch


def conv2d(x, weight, bias=None, stride=1, padding=0):
    out = torch.nn.functional.conv2d(
        torch.as_tensor(np.asarray(x, dtype=float)),
        torch.as_tensor(np.asarray(weight, dtype=float)),
        None if bias is None else torch.as_tensor(np.asarray(bias, dtype=float)),
        stride=stride,
        padding=padding,
    )
    return out.numpy()
"""


def long_print_then_warns():
    """Review case A22: 300 printed lines, then a warning (stderr) inside the tested function.

    nbgrader's LimitOutput used to drop the warning (stderr after 200 lines) and score the test;
    the self-grader saw it and did not. Now both see it: every test that calls corr2d fails.
    """
    return _base(
        (
            "q2_answer",
            "    return y\n",
            "    for i in range(300):\n        print('debug', i)\n"
            "    np.float64(1.0) / np.float64(0.0)  # RuntimeWarning on stderr\n    return y\n",
        )
    )


def calls_reference():
    nb = _base()
    cell_by_id(nb, "q2_answer").source = SHORTCUT_CORR2D
    cell_by_id(nb, "q4_answer").source = SHORTCUT_CONV2D
    return nb


ATTACKS = [
    Attack(
        "tamper_infinite_loop",
        infinite_loop,
        {"q2a_corr2d_example", "q2b_corr2d_general", "q3_convolve2d"},
        feedback=("CellTimeoutError",),
        description="an infinite loop in an answer cell",
    ),
    Attack(
        "tamper_raises_at_import",
        raises_at_import,
        {"q4a_conv2d_basic", "q4b_conv2d_bias", "q4c_conv2d_stride_padding"},
        feedback=("ImportError",),
        description="an answer cell that raises ImportError when run",
    ),
    Attack("tamper_prints_megabytes", prints_megabytes, set(), description="prints about 11 MB"),
    Attack(
        "tamper_edits_tests",
        edits_tests,
        OFF_BY_ONE_FAILS,
        description="wrong corr2d; test cells replaced, deleted and re-pointed",
    ),
    Attack(
        "tamper_edits_metadata",
        edits_metadata,
        OFF_BY_ONE_FAILS,
        description="wrong corr2d; test cells re-flagged, tagged skip-execution, a forged 50-point cell",
    ),
    Attack(
        "tamper_monkeypatch",
        monkeypatch,
        OFF_BY_ONE_FAILS | {"q5a_conv_params"},
        feedback=("The grader did not run this cell", "monkeypatching is not allowed"),
        quarantined=2,
        description="wrong answers; patches numpy.allclose, check.close, the reference; __eq__ that is always True",
    ),
    Attack(
        "tamper_rebinds_check",
        rebinds_check,
        OFF_BY_ONE_FAILS,
        description="wrong corr2d; replaces the global name `check` by a fake",
    ),
    Attack(
        "tamper_writes_gradebook",
        writes_gradebook,
        set(),
        feedback=("The grader did not run this cell",),
        quarantined=1,
        description="correct answers; a cell that overwrites ../../../gradebook.db",
    ),
    Attack(
        "tamper_shadow_modules",
        shadow_modules,
        {"q5a_conv_params", "q5b_lecture_table"},
        files={
            "numpy.py": SHADOW_NUMPY,
            "cnncourse/__init__.py": "",
            "cnncourse/check.py": SHADOW_CHECK,
        },
        description="wrong q5 answers; submits numpy.py and a cnncourse/check.py that passes everything",
    ),
    Attack(
        "tamper_fake_kernel",
        lambda: _base(OFF_BY_ONE),
        OFF_BY_ONE_FAILS,
        files={"ipykernel_launcher.py": FAKE_KERNEL},
        description="wrong corr2d; submits ipykernel_launcher.py, a kernel that skips test cells",
    ),
    Attack(
        "tamper_fake_runner_module",
        lambda: _base(OFF_BY_ONE),
        OFF_BY_ONE_FAILS,
        files={"shlex.py": FAKE_RUNNER_MODULE},
        description="wrong corr2d; submits shlex.py, which the grader's runner would import",
    ),
    Attack(
        "tamper_long_print_then_warns",
        long_print_then_warns,
        OFF_BY_ONE_FAILS,  # the tests that call corr2d
        feedback=("divide by zero",),
        description="prints 300 lines, then a numpy warning to stderr, inside corr2d",
    ),
    Attack(
        "tamper_calls_reference",
        calls_reference,
        {"q2a_corr2d_example", "q2b_corr2d_general"}
        | {"q4a_conv2d_basic", "q4b_conv2d_bias", "q4c_conv2d_stride_padding"},
        feedback=("ShortcutError", "the reference implementation this task asks you to write"),
        description="corr2d calls cnncourse.conv.corr2d, conv2d calls torch's conv2d (policy)",
    ),
    Attack(
        "tamper_ipython_escape",
        ipython_escape,
        OFF_BY_ONE_FAILS,
        feedback=("uses `get_ipython`",),
        quarantined=2,
        description="wrong corr2d; an input transformer that blanks every later cell, shell escapes",
    ),
]
