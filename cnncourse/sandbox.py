"""Run a student's notebook inside an OS sandbox (bubblewrap) and take back its outputs as data.

One module over 500 lines on purpose: it is one idea, the isolation boundary. The bubblewrap
command, the read-only package copy and reading the results back as data each decide what crosses
the boundary; they belong together, so that one file shows everything a reviewer must check.
(:mod:`cnncourse.sandbox_runner` is the other side: it runs inside the sandbox.)

Both graders use this one function, :func:`execute_notebook`: ``nbgrader autograde`` (through
:class:`cnncourse.grade.SandboxedExecute`, configured in ``nbgrader_config.py``) and
``python -m cnncourse.grade``. Inside the sandbox (:mod:`cnncourse.sandbox_runner`):

- the system (``/usr``, ``/etc``, ...), the Python installation and the virtual environment are
  read-only; the course package is a read-only, **non-editable** copy of ``cnncourse`` (built
  once per content, keyed by its SHA-256, in the grader's cache) and the editable install's
  ``.pth`` and finder are hidden;
- nothing else exists: not the course directory (gradebook, ``solutions/``, ``source/``,
  ``submitted/``, ``autograded/``, ``feedback/``, ``nbgrader_config.py``, the repository), not the
  grader's home (``~/.ipython``, ``~/.jupyter``, ``~/.local``, caches): ``HOME``, ``/tmp`` and the
  working folder are private, size-limited tmpfs;
- the submission runs in a writable scratch copy of its folder (regular files only; symbolic
  links are dropped); the original is never written; neither the runner nor the kernel looks for
  modules in that folder, so a submitted ``shlex.py`` or ``ipykernel_launcher.py`` never replaces
  grader code;
- no network, new PID/IPC/UTS namespaces, a new session, no root (a root grader's sandbox runs
  as a user of its own, see :func:`sandbox_uid`), limits on address space, processes, file size
  and open files, a per-cell timeout and a per-notebook wall budget; when the notebook ends, or
  the grader dies, every process of the sandbox is killed (``--die-with-parent``, PID namespace).

The executed cells come back over a pipe as JSON lines with a size cap; the trusted side takes
outputs only for the code cells it sent, validates them with nbformat, truncates them, and marks
every code cell that did not run (kernel died, budget used up, sandbox killed) with an error
output saying why, so that a test cell that never ran can never earn points.

Where bubblewrap is missing (or on macOS), :func:`require_sandbox` raises
:class:`SandboxUnavailable` with the fix. :func:`execute_notebook` with ``sandbox=False`` runs
without isolation (``python -m cnncourse.grade --unsafe-no-sandbox``, for a learner grading
their own notebook only).
"""

from __future__ import annotations

import copy
import fcntl
import functools
import hashlib
import itertools
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

__all__ = [
    "ExecutionResult",
    "Limits",
    "SandboxUnavailable",
    "execute_notebook",
    "package_copy",
    "require_sandbox",
]

SKIP_TAG = "skip-execution"
PACKAGE = Path(__file__).resolve().parent
MOUNT_PACKAGE = "/opt/cnncourse-package"
MOUNT_JOB = "/opt/cnncourse-job"
WORK = "/home/student/work"
HOME = "/home/student"
MIB = 1 << 20
# A root grader runs each sandbox as a user id of its own from this range, which no account uses
# (one block of 64 per grader process id; process ids are below 2**22).
SANDBOX_UIDS = range(0x6000_0000, 0x7000_0000)
_uid_lock = threading.Lock()
_uid_count = itertools.count()
INSTALL_HINT = (
    "Grading runs student code only inside a bubblewrap sandbox, and `bwrap` was not found. "
    "Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: `sudo dnf install "
    "bubblewrap`), or grade in a Linux container that has it (the classroom image does). A "
    "learner grading their own notebook may pass --unsafe-no-sandbox instead."
)


class SandboxUnavailable(RuntimeError):
    """No OS sandbox on this machine; the message names the fix."""


def sandbox_uid() -> int:
    """The user id a root grader's next sandbox runs as, unique among running sandboxes.

    The kernel's process limit (``RLIMIT_NPROC``) counts every task of a user id. Were all
    sandboxes one user ("nobody"), a fork bomb in one submission would use up the limit of a
    sandbox graded at the same time, whose kernel would then die at start and score zero. One
    user id per sandbox keeps each limit to its own tasks (and other sandboxes out of reach of
    its signals). Ids are ``SANDBOX_UIDS.start + 64 * pid + n``: 64 at a time per grader process,
    skipping any id that names an account.
    """
    import pwd

    with _uid_lock:
        while True:
            uid = SANDBOX_UIDS.start + 64 * os.getpid() + next(_uid_count) % 64
            try:
                pwd.getpwuid(uid)
            except KeyError:
                return uid


@dataclass(frozen=True)
class Limits:
    """What one notebook may use inside the sandbox."""

    cell_timeout: int = 30  # seconds per cell
    notebook_budget: int = (
        120  # seconds of wall time for the whole notebook (kernel start included)
    )
    memory_bytes: int = 6 << 30  # address space per process (torch alone maps ~1.5 GiB)
    processes: int = 256  # tasks (threads included) beyond what the user already runs
    file_size_bytes: int = 64 * MIB  # largest file a submission may write
    open_files: int = 256
    scratch_bytes: int = 256 * MIB  # the working folder, /tmp and HOME (tmpfs, in memory)
    max_output_chars: int = 20_000  # per output; a cell keeps at most 4x this
    max_result_bytes: int = 32 * MIB  # everything the sandbox sends back
    max_files_bytes: int = 64 * MIB  # the submission's folder copied into the sandbox

    @property
    def hard_deadline(self) -> float:
        """Seconds after which the trusted side kills the sandbox whatever it is doing."""
        return self.notebook_budget + 30


@dataclass
class ExecutionResult:
    """The executed notebook (a new object) and how the run ended."""

    notebook: object
    complete: bool  # every code cell ran
    reason: str = ""  # "", "budget", "kernel", "killed", "protocol"
    message: str = ""  # for feedback and the gradebook: why the notebook stopped
    not_run: list[int] = field(default_factory=list)
    log: str = ""  # the sandbox's stderr (tail), for the instructor's log
    seconds: float = 0.0


# -- availability ---------------------------------------------------------------------------------


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def require_sandbox() -> str:
    """Path of ``bwrap``; :class:`SandboxUnavailable` (naming the fix) where there is none."""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(
            f"Grading needs a Linux sandbox (bubblewrap); this is {sys.platform}. Grade on a "
            "Linux machine or in a Linux container with bubblewrap. A learner grading their own "
            "notebook may pass --unsafe-no-sandbox instead."
        )
    path = bwrap_path()
    if path is None:
        raise SandboxUnavailable(INSTALL_HINT)
    return path


# -- the read-only package copy ----------------------------------------------------------------


def _package_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    )


def tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths and contents of a package tree (no bytecode)."""
    digest = hashlib.sha256()
    for path in _package_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _cache_root() -> Path:
    base = os.environ.get("CNNCOURSE_SANDBOX_CACHE")
    if base:
        return Path(base)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cnncourse")) / "sandbox"


_COPIES: dict[str, Path] = {}


def package_copy(source: Path = PACKAGE) -> Path:
    """A non-editable copy of the ``cnncourse`` package, keyed by the SHA-256 of its files.

    Returns the folder to put on ``PYTHONPATH`` (it contains ``cnncourse/``). Built once per
    content (atomically) in the grader's cache; a copy whose files no longer match its key is
    rebuilt. The sandbox mounts it read-only.
    """
    digest = tree_digest(source)
    if digest in _COPIES:
        return _COPIES[digest]
    target = _cache_root() / digest
    target.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time (parallel graders, pytest-xdist workers): without the lock a second
    # builder could delete a finished copy that another grader's sandbox is using.
    with open(target.parent / f".{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ((target / "cnncourse").is_dir() and tree_digest(target / "cnncourse") == digest):
            _build_copy(source, target, digest)
            _prune(target.parent, keep=target)
    _COPIES[digest] = target
    return target


def _build_copy(source: Path, target: Path, digest: str) -> None:
    """Copy, byte-compile and make read-only the package at ``target`` (through a staging rename)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=target.parent))
    for path in _package_files(source):
        dest = staging / "cnncourse" / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    import compileall

    compileall.compile_dir(staging / "cnncourse", quiet=1, workers=1)
    _matplotlib_cache(staging / "mplconfig")
    for path in staging.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    staging.chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)  # a stale copy whose files no longer match
    staging.rename(target)


def _prune(cache: Path, keep: Path, versions: int = 5, min_age: float = 86_400) -> None:
    """Drop old package copies: all but the newest ``versions``, none used in the last day."""
    copies = sorted(
        (p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".") and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in copies[versions - 1 :]:
        if time.time() - old.stat().st_mtime > min_age:
            shutil.rmtree(old, ignore_errors=True)


def _matplotlib_cache(folder: Path) -> None:
    """Build matplotlib's font list once, so that kernels do not rebuild (and warn) each time."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", "import matplotlib.font_manager"],
        env={**os.environ, "MPLCONFIGDIR": str(folder), "MPLBACKEND": "Agg"},
        capture_output=True,
        timeout=300,
        check=False,
    )


# -- the bwrap command ------------------------------------------------------------------------


def _editable_hooks() -> list[str]:
    """The editable install's ``.pth`` files and finders in this interpreter's site-packages."""
    hooks = []
    dirs = {*site.getsitepackages(), site.getusersitepackages()}
    for folder in sorted(d for d in dirs if d and Path(d).is_dir()):
        for path in sorted(Path(folder).iterdir()):
            name = path.name
            if not path.is_file():
                continue
            if name.startswith("__editable__") or name.endswith(".egg-link"):
                hooks.append(str(path))
            elif name.endswith(".pth"):
                text = path.read_text(errors="replace")
                if str(PACKAGE.parent) in text or "cnncourse" in text:
                    hooks.append(str(path))
    return hooks


def _python_roots() -> list[str]:
    roots = []
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        for path in (prefix, os.path.realpath(prefix)):
            if path not in roots:
                roots.append(path)
    exe = os.path.realpath(sys.executable)
    if not any(exe.startswith(r + os.sep) for r in roots):
        roots.append(os.path.dirname(exe))
    system = ("/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin")
    return [r for r in roots if not any(r == s or r.startswith(s + "/") for s in system)]


@functools.lru_cache(maxsize=4)
def _bwrap_options(bwrap: str) -> frozenset[str]:
    """Options this bubblewrap knows (``--size``, ``--perms`` and ``--disable-userns`` are new)."""
    done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, check=False)
    return frozenset(re.findall(r"(--[a-z][a-z0-9-]*)", done.stdout + done.stderr))


def bwrap_command(
    bwrap: str, job_dir: Path, package: Path, limits: Limits, result_fd: int
) -> list[str]:
    cmd = [
        bwrap,
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    if os.geteuid() == 0:
        # bwrap as root does not need a user namespace; the runner keeps these two capabilities
        # only to switch to the job's own user id before anything of the submission runs.
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user"]
        if "--disable-userns" in _bwrap_options(bwrap):
            cmd += ["--disable-userns"]
    made: set[str] = {"/", "/usr", "/proc", "/dev"}
    options = _bwrap_options(bwrap)
    perms = "--perms" in options

    def parents(path: str) -> list[str]:
        """bwrap makes missing parents of a mount point mode 0700: make them 0755 first."""
        args = []
        for parent in reversed(Path(path).parents):
            if str(parent) not in made:
                made.add(str(parent))
                args += [*(["--perms", "0755"] if perms else []), "--dir", str(parent)]
        made.add(path)
        return args

    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    cmd += ["--ro-bind", "/etc", "/etc"]
    # The private folders first: a Python or venv that lives below one of them (a checkout in
    # /tmp, say) is bound on top of the empty tmpfs below, not hidden by it.
    # Older bubblewrap (< 0.8) has no --size: then only RLIMIT_FSIZE bounds what is written.
    size = ["--size", str(limits.scratch_bytes)] if "--size" in options else []
    for folder, mode in (("/tmp", "1777"), (HOME, "0777"), (WORK, "0777")):
        cmd += [*parents(folder), *(["--perms", mode] if perms else []), *size, "--tmpfs", folder]
    for root in _python_roots():
        if Path(root).exists():
            cmd += [*parents(root), "--ro-bind", root, root]
    for hook in _editable_hooks():
        cmd += ["--ro-bind", "/dev/null", hook]
    cmd += [*parents(MOUNT_PACKAGE), "--ro-bind", str(package), MOUNT_PACKAGE]
    cmd += [*parents(MOUNT_JOB), "--ro-bind", str(job_dir), MOUNT_JOB]
    cmd += [
        "--chdir",
        WORK,
        "--clearenv",
    ]
    env = {
        "HOME": HOME,
        "USER": "student",
        "LANG": "C.UTF-8",
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": MOUNT_PACKAGE,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "IPYTHONDIR": f"{HOME}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{HOME}/.jupyter",
        "JUPYTER_DATA_DIR": f"{HOME}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLCONFIGDIR": f"{HOME}/.config/matplotlib",
        "MPLBACKEND": "Agg",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "CNNCOURSE_IN_SANDBOX": "1",
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "CNNCOURSE_PROFILE", "TZ"):
        if name in os.environ:
            env[name] = os.environ[name]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += [
        "--",
        sys.executable,
        "-s",
        "-m",
        "cnncourse.sandbox_runner",
        MOUNT_JOB,
        WORK,
        f"{MOUNT_PACKAGE}/mplconfig",
        str(result_fd),
    ]
    return cmd


# -- the job folder --------------------------------------------------------------------------------


def _copy_submission_files(
    src: Path | None, dest: Path, exclude: set[str], limit: int
) -> list[str]:
    """Regular files of ``src`` into ``dest`` (no symbolic links, no notebooks in ``exclude``)."""
    dest.mkdir(parents=True)
    skipped = []
    if src is None or not src.is_dir():
        return skipped
    total = 0
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [
            d for d in dirnames if not (here / d).is_symlink() and d != ".ipynb_checkpoints"
        ]
        for d in list(dirnames):
            if (here / d).is_symlink():
                skipped.append(str((here / d).relative_to(src)))
        for name in filenames:
            path = here / name
            rel = path.relative_to(src)
            if str(rel) in exclude:
                continue
            if path.is_symlink() or not path.is_file():
                skipped.append(str(rel))
                continue
            total += path.lstat().st_size
            if total > limit:
                skipped.append(str(rel))
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target, follow_symlinks=False)
    return skipped


def _trusted_cells(nb) -> list[int]:
    """Cells the instructor wrote (tests, locked cells): not student code for the policy."""
    trusted = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution") and (meta.get("grade") or meta.get("locked")):
            trusted.append(i)
    return trusted


def _job_dir(
    nb,
    files: Path | None,
    exclude: set[str],
    limits: Limits,
    kernel_arguments: Sequence[str],
    shortcuts: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    job = Path(tempfile.mkdtemp(prefix="cnncourse-sandbox-"))
    _copy_submission_files(files, job / "files", exclude, limits.max_files_bytes)
    nbformat.write(nb, job / "notebook.ipynb")
    (job / "job.json").write_text(
        json.dumps(
            {
                "limits": asdict(limits),
                "kernel_arguments": list(kernel_arguments),
                "skip_tag": SKIP_TAG,
                "shortcuts": {k: list(v) for k, v in (shortcuts or {}).items()},
                "trusted": _trusted_cells(nb),
                "uid": sandbox_uid() if os.geteuid() == 0 else None,
            }
        )
    )
    for path in [job, *job.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return job


# -- reading the results back ----------------------------------------------------------------------


class _Reader(threading.Thread):
    """Reads a pipe to the end, keeping at most ``limit`` bytes (head or tail)."""

    def __init__(self, stream, limit: int, keep: str = "head"):
        super().__init__(daemon=True)
        self.stream, self.limit, self.keep = stream, limit, keep
        self.data = bytearray()
        self.overflow = False

    def run(self) -> None:
        while True:
            chunk = self.stream.read(65536)
            if not chunk:
                break
            self.data += chunk
            if len(self.data) > self.limit:
                self.overflow = True
                if self.keep == "tail":
                    del self.data[: len(self.data) - self.limit]
                else:
                    del self.data[self.limit :]
        self.stream.close()


def _not_run_error(message: str) -> dict:
    return nbformat.v4.new_output(
        "error", ename="NotRun", evalue=message, traceback=[f"NotRun: {message}"]
    )


def _valid_outputs(outputs) -> list | None:
    if not isinstance(outputs, list):
        return None
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
    try:
        probe.cells[0].outputs = [nbformat.from_dict(o) for o in outputs]
        nbformat.validate(probe)
    except Exception:  # noqa: BLE001 - any malformed result is rejected the same way
        return None
    return probe.cells[0].outputs


def merge_results(nb, lines: Sequence[bytes], limits: Limits, truncated: bool):
    """Apply the runner's JSON lines to a copy of ``nb``; return (notebook, stop info)."""
    from .grade import limit_outputs

    result = copy.deepcopy(nb)
    expected = {
        i
        for i, c in enumerate(result.cells)
        if c.cell_type == "code" and SKIP_TAG not in c.metadata.get("tags", [])
    }
    seen: set[int] = set()
    stop: dict = {}
    done = False
    for raw in lines:
        try:
            event = json.loads(raw)
        except ValueError:
            stop = stop or {"reason": "protocol", "message": "the sandbox sent malformed data"}
            break
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "cell":
            index = event.get("index")
            if not isinstance(index, int) or index not in expected or index in seen:
                continue
            outputs = _valid_outputs(event.get("outputs"))
            cell = result.cells[index]
            if outputs is None:
                cell.outputs = [_not_run_error("the sandbox sent malformed outputs for this cell")]
            else:
                cell.outputs = outputs
            count = event.get("execution_count")
            cell.execution_count = count if isinstance(count, int) else None
            seen.add(index)
        elif kind == "stop" and not stop:
            index = event.get("index")
            stop = {
                "reason": str(event.get("reason", ""))[:20],
                "index": index if isinstance(index, int) else None,
                "message": str(event.get("message", ""))[:500],
            }
        elif kind == "done":
            done = True
    _clean_paths(result)
    if truncated and not stop:
        stop = {"reason": "protocol", "message": "the sandbox sent more than the grader reads"}
    if not done and not stop:
        stop = {"reason": "killed", "message": ""}
    limit_outputs(result, limits.max_output_chars)
    return result, expected, seen, stop, done


def _path_prefixes() -> list[str]:
    prefixes = [MOUNT_PACKAGE + "/", WORK + "/"]
    for folder in [*site.getsitepackages(), *sys.path]:
        if folder and os.path.isabs(folder) and os.path.isdir(folder):
            prefixes += [folder.rstrip("/") + "/", os.path.realpath(folder).rstrip("/") + "/"]
    return sorted(set(prefixes), key=len, reverse=True)


_HIDDEN_FRAMES = re.compile(r"^.*\[\.\.\. skipping hidden \d+ frame\].*\n?", re.MULTILINE)


def _clean_text(text: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        text = text.replace(prefix, "")
    return _HIDDEN_FRAMES.sub("", text)


def _clean_paths(nb) -> None:
    """Tracebacks and stderr without the grader's absolute paths or IPython's frame notes."""
    prefixes = _path_prefixes()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out.traceback = [
                    t for t in (_clean_text(str(t), prefixes) for t in out.traceback) if t.strip()
                ]
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                out.text = _clean_text(out.text, prefixes)


def _cell_label(nb, index) -> str:
    """``cell 13 (after q3_answer)``: 1-based, named by the nearest grade_id at or above it."""
    if not isinstance(index, int) or not 0 <= index < len(nb.cells):
        return "a cell"
    for i in range(index, -1, -1):
        gid = nb.cells[i].get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid:
            return f"cell {index + 1} ({gid})" if i == index else f"cell {index + 1} (after {gid})"
    return f"cell {index + 1}"


def _stop_message(stop: Mapping, limits: Limits, nb) -> str:
    where = _cell_label(nb, stop.get("index"))
    reason = stop.get("reason")
    if reason == "budget":
        return (
            f"the notebook used up its time budget of {limits.notebook_budget} s before {where}; "
            "later cells were not run"
        )
    if reason == "kernel":
        return f"the kernel died while running {where}; later cells were not run"
    if reason in ("protocol", "runner"):
        return f"grading stopped: {stop.get('message')}"
    return (
        "the sandbox was stopped before the notebook finished (time budget of "
        f"{limits.notebook_budget} s, or a resource limit); cells without output were not run"
    )


# -- running ---------------------------------------------------------------------------------------


def execute_notebook(
    nb,
    files: str | os.PathLike | None = None,
    *,
    limits: Limits | None = None,
    kernel_arguments: Sequence[str] = (),
    exclude: Sequence[str] = (),
    sandbox: bool = True,
    shortcuts: Mapping[str, Sequence[str]] | None = None,
) -> ExecutionResult:
    """Run the code cells of ``nb`` (cells tagged ``skip-execution`` excepted) in the sandbox.

    Parameters
    ----------
    nb : NotebookNode
        The notebook to run; not modified.
    files : path, optional
        The submission's folder: its regular files are copied into the scratch working folder.
    limits : Limits
    kernel_arguments : sequence of str
        Extra kernel command-line arguments.
    exclude : sequence of str
        Relative paths in ``files`` not to copy (the submitted notebook itself).
    sandbox : bool
        False runs the runner as a plain subprocess with no isolation (unsafe; self-grading of
        one's own notebook only).
    shortcuts : mapping, optional
        Test cell grade_id -> reference functions (``"module.function"``) that the student's
        code must not call while that test runs (see :func:`cnncourse.grade.shortcut_policy`);
        a call makes the test fail with ``ShortcutError``.

    Returns
    -------
    ExecutionResult
        The executed copy of ``nb``; every code cell that did not run has a ``NotRun`` error.
    """
    limits = limits or Limits()
    bwrap = require_sandbox() if sandbox else None
    start = time.monotonic()
    job = _job_dir(
        nb, Path(files) if files else None, set(exclude), limits, kernel_arguments, shortcuts
    )
    try:
        if bwrap is not None:
            cmd = bwrap_command(bwrap, job, package_copy(), limits, -1)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            cwd = "/"
        else:
            work = job / "work"
            work.mkdir()
            cmd = [sys.executable, "-m", "cnncourse.sandbox_runner", str(job), str(work), "", ""]
            env = {**os.environ, "CNNCOURSE_UNSAFE_NO_SANDBOX": "1"}
            cwd = str(work)
        read_fd, write_fd = os.pipe()
        cmd[-1] = str(write_fd)
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,),
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        results = _Reader(os.fdopen(read_fd, "rb"), limits.max_result_bytes)
        errors = _Reader(proc.stderr, 64 * 1024, keep="tail")
        results.start()
        errors.start()
        try:
            proc.wait(timeout=limits.hard_deadline)
        except subprocess.TimeoutExpired:
            _kill(proc)
        results.join(timeout=30)
        errors.join(timeout=30)
        if results.is_alive() or errors.is_alive():  # a sandbox process kept the pipe open
            _kill(proc)
            results.join(timeout=5)
            errors.join(timeout=5)
        if proc.poll() is None:
            _kill(proc)
    finally:
        shutil.rmtree(job, ignore_errors=True)
    lines = bytes(results.data).splitlines()
    if results.overflow and lines:
        lines = lines[:-1]  # the last line was cut
    if not lines or lines[0] != b'{"event": "started"}':
        # Nothing of the notebook ran: the sandbox itself could not start (a broken install,
        # user namespaces disabled, ...). Never turn that into zero points for the student.
        log = bytes(errors.data).decode("utf-8", "replace")[-2000:]
        raise SandboxUnavailable(
            f"the sandbox did not start (exit status {proc.returncode}): {log.strip()}\n"
            "Check that `bwrap --ro-bind / / true` works for this user (bubblewrap needs "
            "unprivileged user namespaces, or root)."
        )
    executed, expected, seen, stop, done = merge_results(nb, lines, limits, results.overflow)
    not_run = sorted(expected - seen)
    message = "" if done and not not_run else _stop_message(stop, limits, nb)
    for index in not_run:
        executed.cells[index].outputs.append(_not_run_error(message or "this cell was not run"))
    stop_index = stop.get("index")
    if stop.get("reason") == "kernel" and isinstance(stop_index, int) and stop_index in seen:
        executed.cells[stop_index].outputs.append(
            nbformat.v4.new_output(
                "error", ename="KernelDied", evalue=message, traceback=[f"KernelDied: {message}"]
            )
        )
    log = bytes(errors.data).decode("utf-8", "replace")
    return ExecutionResult(
        notebook=executed,
        complete=done and not not_run,
        reason="" if done else str(stop.get("reason", "killed")),
        message=message,
        not_run=not_run,
        log=log,
        seconds=time.monotonic() - start,
    )


def _kill(proc: subprocess.Popen) -> None:
    """Kill the sandbox (bwrap and, through its PID namespace, everything inside)."""
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()
