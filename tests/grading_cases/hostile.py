"""Hostile submissions of ps01_convolution: one per harm class of the instructor review (§3).

Unlike :mod:`grading_cases.tampering` (which the policy check stops), these are graded with the
policy check switched off (``GuardSubmission.enabled = False``), so that their code really runs:
what they try must be contained by the sandbox alone. Each attack is the correct submission plus
attack cells; the attacks swallow their own errors, so an attack that the sandbox stops costs the
attacker nothing, and an attack that worked would show in the course directory, the gradebook,
the other students' scores, the host's processes or files.

Builders take the course directory and a token: the attack code knows every absolute path of the
course (the strongest attacker), and marks whatever it manages to create with the token.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import cell_by_id, correct_submission, nbgrader

A = "ps01_convolution"
SLEEP_SECONDS = "987654"  # a process with this in its command line must not outlive grading
DAEMON = "hostiledaemon"  # nor a process of this name
ALL_TESTS = {
    "q1a_full_convolution",
    "q1b_valid_correlation",
    "q2a_corr2d_example",
    "q2b_corr2d_general",
    "q3_convolve2d",
    "q4a_conv2d_basic",
    "q4b_conv2d_bias",
    "q4c_conv2d_stride_padding",
    "q5a_conv_params",
    "q5b_lecture_table",
}
AFTER_Q3_ANSWER = {name for name in ALL_TESTS if name >= "q3"}  # tests from question 3 on
XSS = (
    '<img src="x" onerror="window.__pwned = (window.__pwned || 0) + 1; '
    "document.title = 'pwned'\">"
    "<script>window.__pwned = (window.__pwned || 0) + 1</script>"
    '<svg onload="window.__pwned = 1"></svg>'
    '<a href="javascript:window.__pwned=1">click</a>'
)


@dataclass
class Hostile:
    student: str
    build: Callable[[Path, str], object]  # (course, token) -> notebook
    failing: set[str] = field(default_factory=set)
    files: Callable[[Path], dict[str, str]] = lambda course: {}  # noqa: E731
    symlinks: Callable[[Path], dict[str, Path]] = lambda course: {}  # noqa: E731
    stopped: str = ""  # text of the "graded as far as it ran" note, if it must stop early
    description: str = ""


def _insert_after(nb, grade_id: str, source: str) -> None:
    index = next(i for i, c in enumerate(nb.cells) if nbgrader(c).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))


def _quietly(lines: list[str]) -> str:
    """Each line in its own try/except: the attack goes on whatever the sandbox refuses."""
    body = []
    for line in lines:
        body.append(
            "try:\n    " + line.replace("\n", "\n    ") + "\nexcept BaseException:\n    pass"
        )
    return "\n".join(body)


def _attack(course: Path, token: str, lines: list[str], after: str | None = "q1_answer"):
    nb = copy.deepcopy(correct_submission(A))
    prelude = (
        "import os, sys, subprocess, sqlite3, site, signal, time, ctypes\n"
        f"COURSE = {str(course)!r}\nTOKEN = {token!r}\nDAEMON = {DAEMON!r}\n"
    )
    if after is None:  # after every test: what the attack does to itself cannot change its score
        nb.cells.append(nbformat.v4.new_code_cell(prelude + _quietly(lines)))
    else:
        _insert_after(nb, after, prelude + _quietly(lines))
    return nb


def writes_course_files(course: Path, token: str):
    return _attack(
        course,
        token,
        [
            "import cnncourse.check as c\nopen(c.__file__, 'a').write('\\nraise SystemExit')",
            f"open({str(Path(__file__).resolve().parents[2] / 'cnncourse' / 'check.py')!r}, 'a').write('x')",
            "open(os.path.join(site.getsitepackages()[0], TOKEN + '.pth'), 'w').write('import os')",
            "open(os.path.join(COURSE, 'nbgrader_config.py'), 'a').write('\\nc.GuardSubmission.enabled = False')",
            "d = os.path.expanduser('~/.ipython/profile_default/startup')\nos.makedirs(d, exist_ok=True)\n"
            "open(os.path.join(d, '00-' + TOKEN + '.py'), 'w').write('import sys; sys.stderr.write(\"x\")')",
            "d = os.path.join(os.environ.get('IPYTHONDIR', '~/.ipython'), 'profile_default', 'startup')\n"
            "os.makedirs(d, exist_ok=True)\nopen(os.path.join(d, '00-evil.py'), 'w').write('import sys; sys.stderr.write(\"x\")')",
            "open(os.path.join(COURSE, TOKEN), 'w').write('x')",
            "open('/tmp/' + TOKEN, 'w').write('x')",
            "open(os.path.expanduser('~/' + TOKEN), 'w').write('x')",
        ],
    )


def writes_gradebook(course: Path, token: str):
    return _attack(
        course,
        token,
        [
            "db = sqlite3.connect(os.path.join(COURSE, 'gradebook.db'))\n"
            "db.execute('update grade set manual_score = 0, auto_score = 0')\ndb.commit()",
            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
            "plt.savefig(os.path.join(COURSE, 'gradebook.db'), format='png')",
            "open('../../../gradebook.db', 'w').write('not a database')",
            "open('gradebook.db', 'w').write('a file in my own scratch folder: harmless')",
        ],
    )


def writes_other_students(course: Path, token: str):
    victims = [
        f"os.path.join(COURSE, 'submitted', 'zz_honest_after', {A!r}, {A + '.ipynb'!r})",
        f"os.path.join(COURSE, 'autograded', 'a_honest_before', {A!r}, {A + '.ipynb'!r})",
        f"os.path.join(COURSE, 'feedback', 'a_honest_before', {A!r}, {A + '.html'!r})",
    ]
    return _attack(
        course,
        token,
        [f"open({v}, 'w').write('overwritten')" for v in victims]
        + [
            "import matplotlib.pyplot as plt\nplt.plot([1, 2])\n"
            f"plt.savefig({victims[0]}, format='png')"
        ],
    )


def reads_secrets(course: Path, token: str):
    return _attack(
        course,
        token,
        [
            f"print(open(os.path.join(COURSE, 'solutions', {A!r}, {A + '.ipynb'!r})).read()[:3000])",
            f"print(open(os.path.join(COURSE, 'source', {A!r}, {A + '.ipynb'!r})).read()[:3000])",
            "import numpy\nprint(numpy.loadtxt(os.path.join(COURSE, 'nbgrader_config.py'), dtype=str, delimiter='\\n')[:50])",
            "print(open('leak.txt').read()[:3000])",
            "print(os.listdir(COURSE))",
            "print(os.listdir(os.path.expanduser('~')))",
            "print(open('/root/.bash_history').read()[:3000])",
        ],
    )


def runs_programs(course: Path, token: str):
    return _attack(
        course,
        token,
        after=None,
        lines=[
            f"subprocess.Popen(['sleep', '{SLEEP_SECONDS}'], start_new_session=True)",
            f"os.system('nohup sleep {SLEEP_SECONDS} > /dev/null 2>&1 &')",
            # a double-forked daemon that keeps writing files outside its folder
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        open('/proc/self/comm', 'w').write(DAEMON)\n"
            "        for i in range(1200):\n"
            "            for d in ('/tmp', COURSE, os.path.expanduser('~')):\n"
            "                try:\n"
            "                    open(os.path.join(d, TOKEN), 'w').write(str(i))\n"
            "                except OSError:\n"
            "                    pass\n"
            "            time.sleep(0.5)\n"
            "    os._exit(0)",
            "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:1', timeout=2)",
        ],
    )


def exhausts_resources(course: Path, token: str):
    nb = _attack(
        course,
        token,
        [
            "big = bytearray(64 << 30)",  # address space
            "for i in range(5000):\n"  # processes
            "    if os.fork() == 0:\n"
            "        time.sleep(600)\n"
            "        os._exit(0)",
            "with open('big.bin', 'wb') as f:\n"  # file size
            "    for i in range(1024):\n"
            "        f.write(bytes(1 << 20))",
            "fds = [open('/dev/null') for i in range(100000)]",  # open files
            "print('x' * 30_000_000)",  # a huge output
        ],
        after=None,
    )
    _insert_after(nb, "q2_answer", "raise ValueError('y' * 5_000_000)  # a huge error")
    return nb


def loops_everywhere(course: Path, token: str):
    nb = copy.deepcopy(correct_submission(A))
    for cell in nb.cells:
        if nbgrader(cell).get("solution") and cell.cell_type == "code":
            cell.source = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
    return nb


def kills_kernel(course: Path, token: str):
    return _attack(course, token, ["os._exit(3)"], after="q3_answer")


def segfaults(course: Path, token: str):
    return _attack(course, token, ["ctypes.string_at(0)"], after="q3_answer")


def xss(course: Path, token: str):
    nb = copy.deepcopy(correct_submission(A))
    cell_by_id(nb, "q6_written").source += "\n\n" + XSS
    _insert_after(
        nb,
        "q1_answer",
        "from IPython.display import HTML, Javascript, display\n"
        f"display(HTML({XSS!r}))\n"
        "display(Javascript('window.__pwned = 1'))",
    )
    return nb


KILLED = "the kernel died while running"
HOSTILE = [
    Hostile(
        "hostile_writes_course_files",
        writes_course_files,
        description="package, .pth, config, IPython startup",
    ),
    Hostile(
        "hostile_writes_gradebook",
        writes_gradebook,
        description="sqlite3 and savefig over gradebook.db",
    ),
    Hostile(
        "hostile_writes_other_students",
        writes_other_students,
        description="over other submissions and feedback",
    ),
    Hostile(
        "hostile_reads_secrets",
        reads_secrets,
        symlinks=lambda course: {"leak.txt": course / "solutions" / A / f"{A}.ipynb"},
        description="solutions, source, config, home, a submitted symlink",
    ),
    Hostile("hostile_runs_programs", runs_programs, description="subprocesses, a daemon, network"),
    Hostile(
        "hostile_exhausts_resources",
        exhausts_resources,
        description="memory, fork, file size, fds, huge output",
    ),
    Hostile(
        "hostile_loops_everywhere",
        loops_everywhere,
        ALL_TESTS,
        stopped="time budget",
        description="every answer cell ignores SIGINT and loops forever",
    ),
    Hostile(
        "hostile_kills_kernel",
        kills_kernel,
        AFTER_Q3_ANSWER,
        stopped=KILLED,
        description="os._exit",
    ),
    Hostile(
        "hostile_segfaults", segfaults, AFTER_Q3_ANSWER, stopped=KILLED, description="a segfault"
    ),
    Hostile("hostile_xss", xss, description="HTML/JS in the written answer and in outputs"),
]
