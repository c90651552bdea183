"""Run one notebook inside the grading sandbox (started by :mod:`cnncourse.sandbox`, never by hand).

``python -m cnncourse.sandbox_runner IN WORK`` runs inside bubblewrap. ``IN`` is the read-only job
folder the trusted side prepared (``notebook.ipynb``, ``job.json``, ``files/``); ``WORK`` is the
private writable scratch folder (a size-limited tmpfs), where the submission's files are copied
and the kernel runs. The runner

1. drops root (when the grader runs as root) to an unprivileged user, then sets the resource
   limits (address space, processes, file size, open files), which the kernel inherits;
2. starts a kernel and runs the code cells one by one, each with the per-cell timeout cut to
   what is left of the notebook's wall budget; outputs of a cell are capped while they arrive.
   Neither this runner nor the kernel imports anything from the working folder
   (:func:`_forget_working_folder`, :data:`LAUNCH_KERNEL`);
3. first writes ``{"event": "started"}``; after each code cell writes one JSON line ``{"event": "cell", "index", "execution_count",
   "outputs"}`` to the result pipe (a descriptor that no child inherits), and at the end
   ``{"event": "stop", "index", "reason", "message"}`` when it stopped early, then
   ``{"event": "done"}``.

Arguments: ``IN WORK MPLCONFIG RESULT_FD`` (the pipe's descriptor number, inherited).

Nothing here is trusted by the grader: a submission could replace this process's output, so the
trusted side only takes outputs for the cells it sent, checks sizes, validates them, and treats
every cell without a result as not run.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

UNPRIVILEGED = 65534  # "nobody", for a job that names no user id: never root
MARKER = "\n... output truncated by the grader ...\n"
KERNEL_NAME = "cnncourse-grader"
# The kernel's start: `python -m ipykernel_launcher` would look for ipykernel_launcher (and every
# module the kernel imports before its first cell) in the working folder first, where the
# submission's files are. `python -c` puts "" (that folder) first on sys.path too; this drops it
# before anything is imported.
LAUNCH_KERNEL = (
    "import sys; sys.path[:] = [p for p in sys.path if p]; "
    "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()"
)


def _drop_root(uid: int | None) -> None:
    """As root, become the job's own user (and group) id: see ``cnncourse.sandbox.sandbox_uid``."""
    if os.getuid() != 0:
        return
    uid = UNPRIVILEGED if uid is None else int(uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:  # pragma: no cover - setuid cannot fail silently
        raise SystemExit("could not drop root")


def _set_limits(limits: dict) -> None:
    for name, key in (
        ("RLIMIT_AS", "memory_bytes"),
        ("RLIMIT_NPROC", "processes"),
        ("RLIMIT_FSIZE", "file_size_bytes"),
        ("RLIMIT_NOFILE", "open_files"),
        ("RLIMIT_CORE", None),
    ):
        value = 0 if key is None else int(limits[key])
        if key == "processes":
            value += _tasks_of_user()  # the limit counts every task of this user
        resource.setrlimit(getattr(resource, name), (value, value))


def _tasks_of_user() -> int:
    """Tasks (threads included) of this user now: RLIMIT_NPROC counts them all."""
    uid, count = os.getuid(), 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


def _forget_working_folder(work: Path) -> None:
    """Drop the working folder from this runner's sys.path (`python -m` put it first).

    The submission's files are copied there, and the runner imports more modules after that
    (``shlex``, ``IPython``, ...): a submitted ``shlex.py`` would run in the process that writes
    the results.
    """
    here = {Path.cwd().resolve(), work.resolve()}
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() not in here]


def _install_kernel_spec() -> Path:
    """A kernel spec that starts the kernel with :data:`LAUNCH_KERNEL`, found first (JUPYTER_PATH)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cnncourse-kernel-"))
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", LAUNCH_KERNEL, "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Python 3 (grader)", "language": "python"})
    )
    os.environ["JUPYTER_PATH"] = str(folder)
    return folder


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + MARKER


def _make_client(nb, job: dict, work: Path):
    import nbformat
    from nbclient import NotebookClient

    cap = int(job["limits"]["max_output_chars"])

    class CappedClient(NotebookClient):
        """Keeps at most ``4 * cap`` characters of output per cell while it arrives.

        Errors are always kept (cut to ``cap``), and so is the first stderr output: both decide
        the score, so a long print can never hide them.
        """

        def output(self, outs, msg, display_id, cell_index):
            out = super().output(outs, msg, display_id, cell_index)
            if out is None or not outs or outs[-1] is not out:
                return out
            outs.pop()
            kind = out.get("output_type")
            used = sum(_size(o) for o in outs)
            if kind == "stream":
                text = _cut(out.text, cap)
                last = outs[-1] if outs else None
                if last is not None and last.get("output_type") == "stream":
                    if last.get("name") == out.name:
                        if len(last.text) < cap:
                            last.text = _cut(last.text + text, cap)
                        return out
                has_stderr = any(o.get("name") == "stderr" for o in outs)
                if used > 4 * cap and not (out.name == "stderr" and not has_stderr):
                    return out
                out.text = text
            elif kind == "error":
                out.evalue = _cut(str(out.evalue), cap)
                out.traceback = [_cut(str(t), cap) for t in out.traceback][:100]
            elif used > 4 * cap:
                return out
            else:
                data = out.get("data", {})
                for key in list(data):
                    if _size_value(data[key]) > cap:
                        data[key] = (
                            _cut(str(data[key]), cap)
                            if key.startswith("text/")
                            else "(removed by the grader: too large)"
                        )
            outs.append(out)
            return out

    def record_reply_error(cell, cell_index, execute_reply) -> None:
        """An error reply without an error output (a timeout) becomes one, as in nbgrader."""
        content = (execute_reply or {}).get("content", {})
        if content.get("status") != "error":
            return
        ename = content.get("ename", "Error")
        if any(o.get("output_type") == "error" and o.get("ename") == ename for o in cell.outputs):
            return
        cell.outputs.append(
            nbformat.v4.new_output(
                "error",
                ename=ename,
                evalue=_cut(str(content.get("evalue", "")), cap),
                traceback=[_cut(str(t), cap) for t in content.get("traceback", [])][:100]
                or [f"{ename}: {content.get('evalue', '')}"],
            )
        )

    return CappedClient(
        nb,
        on_cell_executed=record_reply_error,
        timeout=int(job["limits"]["cell_timeout"]),
        kernel_name=KERNEL_NAME,
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than {job['limits']['cell_timeout']} s",
            "traceback": ["CellTimeoutError: the cell ran longer than the grader's time limit"],
        },
        extra_arguments=list(job["kernel_arguments"]),
        resources={"metadata": {"path": str(work)}},
        iopub_timeout=5,
        shutdown_kernel="immediate",
    )


def _size_value(value) -> int:
    return len(value) if isinstance(value, str) else len(json.dumps(value))


def _size(out) -> int:
    if out.get("output_type") == "stream":
        return len(out.get("text", ""))
    if out.get("output_type") == "error":
        return sum(len(t) for t in out.get("traceback", []))
    return sum(_size_value(v) for v in out.get("data", {}).values())


def _copy_files(src: Path, dest: Path) -> None:
    """The submission's files into the scratch folder (contents only: no metadata)."""
    for path in sorted(src.rglob("*")):
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def run(inbox: Path, work: Path, result) -> None:
    job = json.loads((inbox / "job.json").read_text())
    deadline = time.monotonic() + float(job["limits"]["notebook_budget"])

    def emit(event: dict) -> None:
        result.write(json.dumps(event) + "\n")
        result.flush()

    emit({"event": "started"})
    spec = _install_kernel_spec()
    try:
        _run_cells(inbox, work, job, deadline, emit)
    finally:
        shutil.rmtree(spec, ignore_errors=True)


def _run_cells(inbox: Path, work: Path, job: dict, deadline: float, emit) -> None:
    import nbformat
    from nbclient.exceptions import DeadKernelError

    skip = job["skip_tag"]
    _copy_files(inbox / "files", work)
    nb = nbformat.read(inbox / "notebook.ipynb", as_version=4)
    client = _make_client(nb, job, work)
    shortcuts: dict[str, list[str]] = job.get("shortcuts", {})
    trusted = set(job.get("trusted", []))
    student_counts: list[int] = []
    with client.setup_kernel():
        if shortcuts:
            names = sorted({n for names in shortcuts.values() for n in names})
            _silent(client, f"__import__('cnncourse._shortcuts')._shortcuts.install({names!r})")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or skip in cell.metadata.get("tags", []):
                continue
            left = deadline - time.monotonic()
            if left < 1:
                emit({"event": "stop", "index": index, "reason": "budget", "message": ""})
                break
            client.timeout = max(1, int(min(float(job["limits"]["cell_timeout"]), left)))
            forbidden = shortcuts.get(cell.metadata.get("nbgrader", {}).get("grade_id"), [])
            try:
                if forbidden:
                    _silent(
                        client,
                        f"__import__('cnncourse._shortcuts')._shortcuts.begin({forbidden!r}, "
                        f"{student_counts!r})",
                    )
                client.execute_cell(cell, index, store_history=True)
                if forbidden:
                    _shortcut_errors(client, cell)
            except DeadKernelError as err:
                emit({"event": "cell", "index": index, "execution_count": None, "outputs": []})
                emit({"event": "stop", "index": index, "reason": "kernel", "message": str(err)})
                break
            if index not in trusted and isinstance(cell.get("execution_count"), int):
                student_counts.append(cell.execution_count)
            emit(
                {
                    "event": "cell",
                    "index": index,
                    "execution_count": cell.get("execution_count"),
                    "outputs": cell.get("outputs", []),
                }
            )
        else:
            emit({"event": "done"})


def _silent(client, code: str, expression: str | None = None):
    """Run code in the kernel without output or history; return the expression's text."""
    msg_id = client.kc.execute(
        code,
        silent=True,
        store_history=False,
        user_expressions={"r": expression} if expression else None,
    )
    reply = client.wait_for_reply(msg_id)
    if not reply or not expression:
        return None
    value = reply["content"].get("user_expressions", {}).get("r", {})
    return value.get("data", {}).get("text/plain")


def _shortcut_errors(client, cell) -> None:
    """A test cell whose answer called a reference implementation fails with ShortcutError."""
    import ast

    import nbformat

    text = _silent(client, "", "__import__('cnncourse._shortcuts')._shortcuts.end()")
    try:
        called = json.loads(ast.literal_eval(text)) if text else []
    except (ValueError, SyntaxError):
        called = []
    if not called:
        return
    names = ", ".join(f"`{n}`" for n in called)
    message = (
        f"❌ your answer calls {names}, the reference implementation this task asks you to "
        "write yourself; this test scores 0"
    )
    cell.outputs.append(
        nbformat.v4.new_output(
            "error", ename="ShortcutError", evalue=message, traceback=[f"ShortcutError: {message}"]
        )
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    inbox, work, mplconfig, result_fd = Path(argv[0]), Path(argv[1]), argv[2], int(argv[3])
    _forget_working_folder(work)
    job = json.loads((inbox / "job.json").read_text())
    result = os.fdopen(os.dup(result_fd), "w", encoding="utf-8")  # not inherited by the kernel
    os.close(result_fd)
    if not os.environ.get("CNNCOURSE_UNSAFE_NO_SANDBOX"):
        _drop_root(job.get("uid"))
    _set_limits(job["limits"])
    if mplconfig and Path(mplconfig).is_dir() and os.environ.get("MPLCONFIGDIR"):
        Path(os.environ["MPLCONFIGDIR"]).mkdir(parents=True, exist_ok=True)
        _copy_files(Path(mplconfig), Path(os.environ["MPLCONFIGDIR"]))
    os.dup2(2, 1)  # the kernel inherits stdout: keep it away from the result pipe
    os.chdir(work)
    try:
        run(inbox, work, result)
    except Exception as err:  # noqa: BLE001 - reported to the grader, which marks cells not run
        message = f"the grader's runner failed: {type(err).__name__}: {err}"[:500]
        result.write(json.dumps({"event": "stop", "reason": "runner", "message": message}) + "\n")
        raise
    finally:
        result.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
