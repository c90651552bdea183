"""Sandboxes graded at the same time stay out of each other's way.

The process limit (``RLIMIT_NPROC``) counts every task of a user id. A root grader used to run
every sandbox as "nobody": a fork bomb in one submission then used up the limit of another
sandbox graded at the same time, whose kernel died at start ("Kernel died before replying to
kernel_info"), and that student scored zero. Each sandbox now has a user id of its own
(:func:`cnncourse.sandbox.sandbox_uid`); a non-root grader's sandbox has its own user namespace,
where the kernel counts the limit per namespace.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import grading_cases
import nbformat
import pytest

from cnncourse import sandbox

MARK = "61.7"  # the fork bomb's children run `sleep 61.7`, which the host can count


def _notebook(*sources: str):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def _text(result, index: int) -> str:
    return "".join(o.get("text", "") for o in result.notebook.cells[index].outputs)


def _bomb_children() -> list[int]:
    """Process ids (as this machine sees them) of the fork bomb's ``sleep 61.7`` children."""
    pids = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == f"sleep\0{MARK}\0".encode():
                    pids.append(int(pid))
        except OSError:
            continue
    return pids


FORK_BOMB = f"""
import os
children = 0
while children < 10_000:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "{MARK}"])
    children += 1
print(children, flush=True)
os.wait()  # holds its processes until the test ends one of them
"""


def test_a_fork_bomb_does_not_stop_another_sandbox_from_starting():
    grading_cases.require_bwrap()
    limits = sandbox.Limits(cell_timeout=100, notebook_budget=110)
    bomb = _notebook(FORK_BOMB)
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.update(bomb=sandbox.execute_notebook(bomb, limits=limits))
    )
    thread.start()
    try:
        deadline = time.monotonic() + 100
        while len(_bomb_children()) < 200:  # the bomb is at its process limit
            assert thread.is_alive() and time.monotonic() < deadline, "the fork bomb never ran"
            time.sleep(0.2)
        # A kernel starts a few threads; each needs room under its own user's process limit.
        honest = sandbox.execute_notebook(
            _notebook("import threading, os\nprint(threading.active_count() > 1, os.getpid())"),
            limits=sandbox.Limits(cell_timeout=60),
        )
        children = _bomb_children()
    finally:
        for pid in _bomb_children()[:1]:
            os.kill(pid, signal.SIGKILL)  # the bomb's os.wait() returns: its notebook ends
        thread.join()
    assert honest.complete, honest.message
    assert _text(honest, 0).split()[0] == "True"
    assert len(children) >= 200, "the bomb had ended before the other sandbox ran: nothing shown"
    # The bomb itself stopped at its own limit, and its notebook ran to the end.
    assert outcome["bomb"].complete, outcome["bomb"].message
    assert 200 <= int(_text(outcome["bomb"], 0)) <= sandbox.Limits().processes
    deadline = time.monotonic() + 30
    while _bomb_children():  # its processes go with its PID namespace
        assert time.monotonic() < deadline, "the fork bomb's processes outlived its sandbox"
        time.sleep(0.2)


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader chooses the sandbox's user id")
def test_a_root_grader_runs_each_sandbox_as_a_user_of_its_own():
    grading_cases.require_bwrap()
    nb = _notebook("import os\nprint(os.getuid(), os.getgid(), os.getgroups())")
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(sandbox.execute_notebook(nb)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [_text(r, 0).split(maxsplit=2) for r in results]
    uids = {int(uid) for uid, _, _ in ids}
    assert len(uids) == 2, f"two sandboxes at once share a user: {ids}"
    for uid, gid, groups in ids:
        assert int(uid) in sandbox.SANDBOX_UIDS and gid == uid and groups.strip() == "[]"


def test_sandbox_uids_are_distinct_in_range_and_never_an_account(monkeypatch):
    import pwd

    base = sandbox.SANDBOX_UIDS.start + 64 * os.getpid()
    first = sandbox.sandbox_uid()
    assert base <= first < base + 64
    # 64 sandboxes of one grader process at a time get the 64 ids of its block.
    assert {first, *(sandbox.sandbox_uid() for _ in range(63))} == set(range(base, base + 64))
    # Process ids are below 2**22 (the kernel's PID_MAX_LIMIT): every block is in the range.
    assert sandbox.SANDBOX_UIDS.start + 64 * ((1 << 22) - 1) + 63 in sandbox.SANDBOX_UIDS
    assert sandbox.SANDBOX_UIDS.stop <= 2**31  # some tools read ids as signed 32-bit numbers
    guide = (grading_cases.ROOT / "solutions" / "README.md").read_text()
    assert f"from {sandbox.SANDBOX_UIDS.start} up" in " ".join(guide.split())
    # An id that names an account is skipped.
    last = sandbox.sandbox_uid()
    taken = base + (last - base + 1) % 64
    real = pwd.getpwuid
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: real(0) if uid == taken else real(uid))
    assert sandbox.sandbox_uid() == base + (last - base + 2) % 64
