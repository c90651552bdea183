"""A graded submission with HTML/JS in its written answer and outputs runs no script in a browser.

One student (``grading_cases.hostile.xss``: ``<img onerror>``, ``<script>``, ``<svg onload>``,
a ``javascript:`` link in the written answer, and HTML/JavaScript display outputs) is autograded
in a temporary course (policy check off, so the outputs really are produced), then:

- the feedback HTML is opened in Chromium;
- a Jupyter server with nbgrader's formgrader extension serves the course, and the formgrader's
  page for grading that submission is opened (it also shows the mark scheme), and so is the
  student's submitted ``evil.html`` (removed at autograding: 404).

Each attack payload sets ``window.__pwned`` or the page title; neither may happen, while the
student's answer text is on the page.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, _require_chromium, free_port, wait_for_http

sys.path.insert(0, str(ROOT / "tests"))
from grading_cases import hostile  # noqa: E402

A = hostile.A
BIN = Path(sys.executable).parent
ANSWER_TEXT = "A dense layer connects"  # the model answer, kept by the sanitiser


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [str(BIN / "nbgrader"), *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    _require_chromium()
    if not shutil.which("bwrap"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("bubblewrap is missing; CI must install it")
        pytest.skip("bubblewrap is missing: `sudo apt-get install bubblewrap`")
    course = tmp_path_factory.mktemp("xss-course")
    (course / "solutions").mkdir()
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    (course / "nbgrader_config.py").write_text(
        (ROOT / "nbgrader_config.py").read_text() + "\nc.GuardSubmission.enabled = False\n"
    )
    assert _nbgrader(course, "generate_assignment", A).returncode == 0
    target = course / "submitted" / "mallory" / A
    target.mkdir(parents=True)
    nbformat.write(hostile.xss(course, "xss"), target / f"{A}.ipynb")
    # a file that the formgrader would serve from its own origin, linked from the answer
    (target / "evil.html").write_text(f"<html><body>{hostile.XSS}</body></html>")
    for step in (("autograde", A), ("generate_feedback", A)):
        done = _nbgrader(course, *step)
        assert done.returncode == 0, done.stderr[-3000:]
    return course


def _assert_no_script_ran(page) -> None:
    page.wait_for_timeout(1500)  # give onerror/onload handlers time to fire
    assert page.evaluate("window.__pwned === undefined"), "a student's script ran"
    assert page.title() != "pwned"


def test_feedback_runs_no_student_script(graded_course, page):
    feedback = graded_course / "feedback" / "mallory" / A / f"{A}.html"
    html = feedback.read_text()
    assert ANSWER_TEXT in html
    # (the payload's text may appear escaped, in the code cell that displays it; never as tags)
    assert not re.search(r"<(img|svg)[^>]*on(error|load)", html)
    assert "<script>window.__pwned" not in html
    assert "graders only" not in html, "the mark scheme is for graders, not for feedback"
    page.goto(feedback.as_uri())
    page.wait_for_load_state("load")
    assert ANSWER_TEXT in page.inner_text("body")
    _assert_no_script_ran(page)


@pytest.fixture()
def formgrader(graded_course, tmp_path):
    port = free_port()
    env = dict(
        os.environ,
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    cmd = [
        str(BIN / "jupyter"),
        "server",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={graded_course}",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cmd,
        cwd=graded_course,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/status", timeout=90, proc=proc)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_formgrader_view_of_the_submission_runs_no_student_script(graded_course, formgrader, page):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded_course / 'gradebook.db'}") as gb:
        submission_id = gb.find_submission_notebook(A, A, "mallory").id
    deadline = time.monotonic() + 60
    while True:
        response = page.goto(f"{formgrader}/formgrader/submissions/{submission_id}/")
        if response is not None and response.ok or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert response is not None and response.ok, response and response.status
    page.wait_for_load_state("load")
    body = page.inner_text("body")
    assert ANSWER_TEXT in body
    assert "graders only" in body and "equivariance stated correctly" in body, "mark scheme shown"
    _assert_no_script_ran(page)
    served = page.goto(f"{formgrader}/formgrader/submissions/{submission_id}/evil.html")
    assert served is not None and served.status == 404, "a submitted HTML file is served"
    _assert_no_script_ran(page)
