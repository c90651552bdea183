"""A real class on a real JupyterHub, end to end (classroom/README.md, steps 4-9).

One instructor and three students are real accounts with private homes; a real JupyterHub with
configurable-http-proxy runs on 127.0.0.1 and starts each of them a server from the shared
environment (``make classroom-env``). Everything is driven through the hub's REST API and each
user's own server, with that user's token: the nbgrader Assignments API for the students
(what the Assignments tab calls), the contents API to write answers and read files, and a
kernel in the user's own server to run the instructor's commands (the same commands as
classroom/README.md) and the students' attempts to read what they must not.

Runs as root (it creates and removes the accounts); everything it started and created is gone
at the end, which the test checks. Run with ``make classroom-test``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pwd
import re
import secrets
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest
import requests
import websocket

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "classroom"))
sys.path.insert(0, str(ROOT / "tests"))

import classroomctl  # noqa: E402
import grading_cases  # noqa: E402
from grading_cases import ps01_convolution as ps01_cases  # noqa: E402

A = "ps01_convolution"
COURSE = classroomctl.COURSE_ID
PREFIX = Path(os.environ.get("CNNCOURSE_CLASSROOM_PREFIX", ROOT / ".classroom"))
HTTP_TIMEOUT = 60
DUE_IN = (
    30  # seconds from setting the due date to the due date: two students submit before, one after
)

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        os.geteuid() != 0 and os.environ.get("CI") != "true",
        reason="creates OS accounts: run as root (make classroom-test); CI runs it",
    ),
]


# -- clients ------------------------------------------------------------------------------------


def _check(r: requests.Response) -> requests.Response:
    if r.status_code >= 400:
        raise AssertionError(f"{r.request.method} {r.url}: {r.status_code} {r.text[:2000]}")
    return r


class Hub:
    """The hub's REST API with the admin service's token."""

    def __init__(self, url: str, token: str):
        self.api = f"{url}/hub/api"
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"token {token}"

    def post(self, path, **kw):
        return _check(self.s.post(self.api + path, timeout=HTTP_TIMEOUT, **kw))

    def get(self, path, **kw):
        return _check(self.s.get(self.api + path, timeout=HTTP_TIMEOUT, **kw))


class Server:
    """One user's own single-user server, through the proxy, with that user's token."""

    def __init__(self, hub_url: str, name: str, token: str):
        self.name = name
        self.base = f"{hub_url}/user/{name}"
        self.token = token
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"token {token}"
        self.kernel_id = None

    def get(self, path, **kw):
        return self.s.get(self.base + path, timeout=HTTP_TIMEOUT, **kw)

    def read(self, path: str) -> dict:
        return _check(self.get(f"/api/contents/{path}", params={"content": 1})).json()

    def write_notebook(self, path: str, nb) -> None:
        body = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))}
        _check(self.s.put(f"{self.base}/api/contents/{path}", json=body, timeout=HTTP_TIMEOUT))

    def assignments(self, action: str) -> dict:
        """What the Assignments tab does: fetch, submit, fetch_feedback."""
        r = self.s.post(
            f"{self.base}/assignments/{action}",
            json={"course_id": COURSE, "assignment_id": A},
            timeout=HTTP_TIMEOUT,
        )
        return _check(r).json()

    def run(self, code: str, timeout: float = 240) -> str:
        """Run code in a kernel of this user's server; return its stdout, fail on an error."""
        if self.kernel_id is None:
            self.kernel_id = _check(
                self.s.post(f"{self.base}/api/kernels", json={"name": "python3"}, timeout=120)
            ).json()["id"]
        ws_url = self.base.replace("http://", "ws://") + f"/api/kernels/{self.kernel_id}/channels"
        ws = websocket.create_connection(
            ws_url, header=[f"Authorization: token {self.token}"], timeout=timeout
        )
        try:
            msg_id = uuid.uuid4().hex
            ws.send(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "username": self.name,
                            "session": uuid.uuid4().hex,
                            "msg_type": "execute_request",
                            "version": "5.3",
                            "date": datetime.now(timezone.utc).isoformat(),
                        },
                        "parent_header": {},
                        "metadata": {},
                        "content": {
                            "code": code,
                            "silent": False,
                            "store_history": False,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": True,
                        },
                        "channel": "shell",
                        "buffers": [],
                    }
                )
            )
            out, error, idle = [], None, False
            deadline = time.monotonic() + timeout
            while not idle and time.monotonic() < deadline:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    error = "\n".join(msg["content"]["traceback"])
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
            assert idle, f"{self.name}: code did not finish within {timeout} s"
            assert error is None, f"{self.name}: {error}"
            return "".join(out)
        finally:
            ws.close()

    def shell(self, command: str, cwd: str = "~", timeout: float = 240) -> dict:
        """A shell command as this user (in their server's environment): rc, out, err."""
        code = (
            "import json, os, subprocess\n"
            f"r = subprocess.run({command!r}, shell=True, cwd=os.path.expanduser({cwd!r}),"
            f" capture_output=True, text=True, timeout={timeout - 10})\n"
            "print(json.dumps({'rc': r.returncode, 'out': r.stdout, 'err': r.stderr}))\n"
        )
        return json.loads(self.run(code, timeout=timeout).strip().splitlines()[-1])


def _ok(result: dict, what: str) -> str:
    assert result["rc"] == 0, f"{what}: status {result['rc']}\n{result['out']}\n{result['err']}"
    return result["out"] + result["err"]


def _assert_denied(server: Server, targets: dict[str, str]) -> None:
    """As this user, list (folders) or read (files) each target: every one must be refused."""
    probe = server.run(
        "import json, os\n"
        f"targets = {targets!r}\n"
        "res = {}\n"
        "for what, path in targets.items():\n"
        "    try:\n"
        "        os.listdir(path) if os.path.isdir(path) else open(path, 'rb').read(1)\n"
        "        res[what] = 'READ'\n"
        "    except PermissionError:\n"
        "        res[what] = 'denied'\n"
        "    except FileNotFoundError:\n"
        "        res[what] = 'missing'\n"
        "print(json.dumps(res))\n"
    )
    assert json.loads(probe) == dict.fromkeys(targets, "denied"), (server.name, probe)


def _rss_mib(uid: int) -> float:
    out = subprocess.run(["ps", "-o", "rss=", "-u", str(uid)], capture_output=True, text=True)
    return sum(int(x) for x in out.stdout.split()) / 1024


def _page_config(server: Server) -> dict:
    html = _check(server.get("/lab")).text
    m = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert m, f"{server.name}: no page config in /lab"
    return json.loads(m.group(1))


# -- the class ----------------------------------------------------------------------------------


def test_a_class_on_jupyterhub():
    layout = classroomctl.Layout(PREFIX)
    assert (layout.bin / "jupyterhub").exists() and layout.chp.exists(), (
        f"no classroom installation in {PREFIX}: run `make classroom-env` first"
    )
    tag = secrets.token_hex(2)
    teacher = f"cct{tag}-teacher"
    students = [f"cct{tag}-s{i}" for i in (1, 2, 3)]
    partial, blank, late = students  # what each one hands in
    ghost = f"cct{tag}-ghost"  # a student account that is not on the roster
    admin_token = secrets.token_hex(32)
    timings = {}
    t0 = time.monotonic()

    def lap(step):
        timings[step] = time.monotonic() - t0

    room = classroomctl.Classroom(
        layout, instructor=teacher, students=students, admin_token=admin_token
    )
    with room:
        hub = Hub(room.hub.url, admin_token)
        everyone = [teacher, *students]
        hub.post("/users", json={"usernames": everyone})
        for name in everyone:
            hub.post(f"/users/{name}/server")
        tokens = {
            n: hub.post(f"/users/{n}/tokens", json={"note": "e2e", "expires_in": 3600}).json()[
                "token"
            ]
            for n in everyone
        }
        deadline = time.monotonic() + 150
        while not all(
            hub.get(f"/users/{n}").json()["servers"].get("", {}).get("ready") for n in everyone
        ):
            assert time.monotonic() < deadline, f"servers not ready:\n{room.hub.log_tail()}"
            time.sleep(1)
        srv = {n: Server(room.hub.url, n, tokens[n]) for n in everyone}
        lap("hub and 4 servers")

        # Formgrader and Create Assignment exist for the instructor only.
        assert srv[teacher].get("/formgrader").status_code == 200
        assert srv[partial].get("/formgrader").status_code == 404
        instructor_only = set(classroomctl.INSTRUCTOR_LAB_PLUGINS)
        assert not instructor_only & set(_page_config(srv[teacher])["disabledExtensions"])
        assert instructor_only <= set(_page_config(srv[partial])["disabledExtensions"])

        # The instructor: a roster with an unknown student is refused as a whole ...
        t = srv[teacher]
        t.run(
            "import csv, os\n"
            f"rows = [l.split(',') for l in open(os.path.expanduser('~/cnncourse/roster.csv'))]\n"
            f"open(os.path.expanduser('~/cnncourse/roster-typo.csv'), 'w').write("
            f"open(os.path.expanduser('~/cnncourse/roster.csv')).read() + "
            f"'cct{tag}-nobody,No,Body,nobody@example.org\\n')\n"
        )
        r = t.shell("cnncourse-classroom roster roster-typo.csv", cwd="~/cnncourse")
        assert r["rc"] == 2 and f"unknown student 'cct{tag}-nobody'" in r["err"], r
        assert "nothing was changed" in r["err"], r
        # ... the right one is imported; then generate, set the due date, release.
        for cmd in (
            "cnncourse-classroom roster roster.csv",
            f"nbgrader generate_assignment {A} --force",
            f"nbgrader release_assignment {A}",
            "cnncourse-classroom check",
        ):
            _ok(t.shell(cmd, cwd="~/cnncourse"), cmd)
        students_listed = _ok(t.shell("nbgrader db student list", cwd="~/cnncourse"), "list")
        assert (
            all(s in students_listed for s in students)
            and f"cct{tag}-nobody" not in students_listed
        )
        # The due date (this class is quick: DUE_IN seconds from now).
        due = datetime.now(timezone.utc) + timedelta(seconds=DUE_IN)
        cmd = f"nbgrader db assignment add {A} --duedate='{due:%Y-%m-%d %H:%M:%S} UTC'"
        _ok(t.shell(cmd, cwd="~/cnncourse"), cmd)
        lap("roster, generate, release")

        # Three students fetch; two hand in before the due date.
        for s in students:
            srv[s].assignments("fetch")
            assert srv[s].read(f"{A}/{A}.ipynb")["type"] == "notebook"
        wrong = next(c for c in ps01_cases.WRONG if c.student == "wrong_off_by_one")
        srv[partial].write_notebook(f"{A}/{A}.ipynb", wrong.build())
        srv[late].write_notebook(f"{A}/{A}.ipynb", grading_cases.correct_submission(A))
        for s in (partial, blank):  # the blank one hands in the untouched exercise
            assert srv[s].assignments("submit").get("success", True) is not False
        assert datetime.now(timezone.utc) < due, "the on-time submissions came after the due date"
        lap("fetch, 2 submissions")

        # A student cannot read a classmate's work, the submissions or the instructor's files.
        home = {n: pwd.getpwnam(n).pw_dir for n in everyone}
        targets = {
            "classmate's notebook": f"{home[partial]}/{A}/{A}.ipynb",
            "classmate's home": home[partial],
            "exchange inbound (all submissions)": f"{room.exchange}/{COURSE}/inbound",
            "instructor's solutions": f"{home[teacher]}/cnncourse/solutions/{A}/{A}.ipynb",
            "instructor's gradebook": f"{home[teacher]}/cnncourse/gradebook.db",
        }
        _assert_denied(srv[blank], targets)

        # Wrong exchange permissions are named, and the submission is refused, not lost.
        inbound = room.exchange / COURSE / "inbound"
        inbound.chmod(0o755)
        try:
            r = t.shell("cnncourse-classroom check", cwd="~/cnncourse")
            assert r["rc"] == 2 and f"{inbound} has mode 0o755; it must be 0o2733" in r["err"], r
            refused = srv[late].assignments("submit")
            assert refused["success"] is False and "write permissions" in refused["value"], refused
        finally:
            inbound.chmod(0o2733)
        _ok(t.shell("cnncourse-classroom check", cwd="~/cnncourse"), "check after the fix")

        # A student who is not on the roster hands in too (from a terminal, nbgrader's CLI).
        classroomctl.add_user(ghost, layout=layout, home_base=room.base / "home")
        room.created_users.append(ghost)
        gh = pwd.getpwnam(ghost).pw_dir
        room.run_as(ghost, ["nbgrader", "fetch_assignment", A], cwd=gh)
        room.run_as(ghost, ["nbgrader", "submit", A], cwd=gh)

        # The third student hands in after the due date.
        time.sleep(max(0.0, (due - datetime.now(timezone.utc)).total_seconds() + 1))
        assert srv[late].assignments("submit").get("success", True) is not False
        lap("late submission")

        # Collect, close; a submission to the closed assignment is refused with its name.
        _ok(t.shell(f"nbgrader collect {A}", cwd="~/cnncourse"), "collect")
        _ok(t.shell(f"nbgrader list --remove {A}", cwd="~/cnncourse"), "close")
        refused = srv[blank].assignments("submit")
        assert refused["success"] is False, refused
        assert f"Assignment {A} of course {COURSE} is closed" in refused["value"], refused
        assert srv[blank].read(f"{A}/{A}.ipynb")["type"] == "notebook"  # still there

        # Autograde: the ghost is named and not graded; everyone on the roster is.
        r = t.shell(f"nbgrader autograde {A}", cwd="~/cnncourse", timeout=400)
        log = r["out"] + r["err"]
        assert r["rc"] != 0 and f"No student with ID '{ghost}' exists" in log, r
        for s in students:  # each submission ran in the bubblewrap sandbox (cnncourse.sandbox)
            assert f"Ran {s}/{A} in the sandbox" in log, log[-3000:]
        lap("collect, autograde")
        for cmd in (
            f"nbgrader generate_feedback {A}",
            f"nbgrader release_feedback {A}",
            "nbgrader export",
        ):
            _ok(t.shell(cmd, cwd="~/cnncourse", timeout=300), cmd)
        for s in students:
            srv[s].assignments("fetch_feedback")
        feedback = {}
        for s in students:
            (stamp,) = srv[s].read(f"{A}/feedback")["content"]
            feedback[s] = srv[s].read(f"{stamp['path']}/{A}.html")["content"]
        for text in wrong.feedback:
            assert text in feedback[partial], f"feedback of {partial} lacks {text!r}"
        _assert_denied(
            srv[late],
            {
                "classmate's feedback": f"{home[partial]}/{A}/feedback",
                "exchange feedback (everyone's)": f"{room.exchange}/{COURSE}/feedback",
                "instructor's feedback folder": f"{home[teacher]}/cnncourse/feedback",
            },
        )
        lap("feedback")

        # grades.csv: exactly the expected scores and the late flag.
        rows = {
            r["student_id"]: r
            for r in csv.DictReader(io.StringIO(t.read("cnncourse/grades.csv")["content"]))
        }
        points = grading_cases.test_cells(
            nbformat.read(grading_cases.solution_path(A), as_version=4)
        )
        auto = sum(points.values())
        expected = {
            partial: (auto - sum(points[g] for g in wrong.failing), 0.0),
            blank: (0.0, 0.0),
            late: (auto, round(0.1 * auto, 2)),  # 10 % for one started day
        }
        assert set(rows) == set(students), rows
        for s, (raw, penalty) in expected.items():
            row = rows[s]
            got = tuple(float(row[k]) for k in ("raw_score", "late_submission_penalty", "score"))
            assert got == (raw, penalty, raw - penalty), f"{s}: {row}"
            assert float(row["max_score"]) == auto + 2.0  # + the written answer
            assert row["email"] == f"{s}@example.org"
            is_late = datetime.fromisoformat(row["timestamp"]) > datetime.fromisoformat(
                row["duedate"]
            )
            assert is_late == (s == late), f"{s}: timestamp {row['timestamp']} due {row['duedate']}"
        # Resident memory of each account's processes (server, kernels) for the sizing table.
        rss = {n: _rss_mib(pwd.getpwnam(n).pw_uid) for n in everyone}
        hub_process = room.hub.process
        uids = {n: pwd.getpwnam(n).pw_uid for n in [*everyone, ghost]}

    # Everything the test started and created is gone.
    assert hub_process.poll() is not None
    for name, uid in uids.items():
        with pytest.raises(KeyError):
            pwd.getpwnam(name)
        assert not classroomctl.processes_of(str(uid)), f"{name} still has processes"
    assert not room.base.exists()
    lap("stopped and removed")
    print(" ".join(f"{k}: {v:.0f} s;" for k, v in timings.items()))
    print("resident memory (MiB): " + ", ".join(f"{n} {m:.0f}" for n, m in rss.items()))
    print(
        f"classroom: {len(students)} students, release/fetch/submit/collect/autograde/feedback ok"
    )
