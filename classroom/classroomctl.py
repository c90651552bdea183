#!/usr/bin/env python3
"""cnncourse-classroom: a JupyterHub class of the cnncourse exercises on one machine.

Standard library only: ``install`` runs before the classroom environment exists. Every command
but ``roster`` and ``check`` runs as root (it creates accounts and the shared environment);
``roster`` and ``check`` are run by the instructor in the course directory. classroom/README.md
walks through them in order:

    sudo python3 classroom/classroomctl.py install --prefix /opt/cnncourse
    sudo cnncourse-classroom add-user teacher --instructor
    sudo cnncourse-classroom add-user s001 s002 s003
    cnncourse-classroom roster roster.csv          # the instructor, in ~/cnncourse
    cnncourse-classroom check                      # the instructor: exchange permissions
    sudo cnncourse-classroom hub                   # JupyterHub in the foreground
    sudo cnncourse-classroom demo --students 3     # a throw-away class on 127.0.0.1 (make classroom)

Errors are :class:`ClassroomError` with a message that names what is wrong; the command line
prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import csv
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

COURSE_ID = "cnncourse"
STUDENTS_GROUP = "cnncourse-students"
INSTRUCTORS_GROUP = "cnncourse-instructors"
COURSE_DIR_NAME = "cnncourse"  # the instructor's course directory, in their home
COURSE_FILES = ("nbgrader_config.py", "solutions", "exercises")
CHP_PACKAGE = "configurable-http-proxy@5"
TORCH = "torch==2.13.0"  # as in the Makefile: installed first, alone, so pip keeps the CPU wheel
HERE = Path(__file__).resolve().parent
# nbgrader's exchange modes (nbgrader/exchange/default/release_assignment.py): what students
# may do in each folder of <exchange>/<course>/.
EXCHANGE_MODES = {
    "outbound": (0o755, "students read released assignments but cannot change them"),
    "inbound": (0o2733, "students write submissions but cannot list or read each other's"),
    "feedback": (0o711, "students open their own feedback but cannot list anyone's"),
}
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
ROSTER_COLUMNS = ("id", "first_name", "last_name", "email")


class ClassroomError(Exception):
    """A problem the person running the command can fix; the message says what and where."""


# -- layout of an installation ------------------------------------------------------------------


@dataclass
class Layout:
    """Where an installation lives: ``<prefix>/env`` (the shared environment), ``<prefix>/node``
    (configurable-http-proxy), ``<prefix>/course`` (the course files instructors start from) and
    ``<prefix>/etc`` (the hub configuration and the instructors' extra Jupyter configuration)."""

    prefix: Path

    @property
    def env(self) -> Path:
        return self.prefix / "env"

    @property
    def bin(self) -> Path:
        return self.env / "bin"

    @property
    def chp(self) -> Path:
        return self.prefix / "node" / "node_modules" / ".bin" / "configurable-http-proxy"

    @property
    def course(self) -> Path:
        return self.prefix / "course"

    @property
    def etc(self) -> Path:
        return self.prefix / "etc"

    @property
    def instructor_config(self) -> Path:
        return self.etc / "instructor"

    @property
    def hub_config(self) -> Path:
        return self.etc / "jupyterhub_config.py"

    @property
    def settings(self) -> Path:
        return self.etc / "classroom.json"

    def read_settings(self) -> dict:
        if not self.settings.is_file():
            raise ClassroomError(
                f"{self.prefix} is not a classroom installation (no {self.settings}); "
                "run `classroomctl.py install --prefix ...` first"
            )
        return json.loads(self.settings.read_text())


def default_prefix() -> Path:
    """The installation this script belongs to (``<prefix>/env/bin/cnncourse-classroom``)."""
    if HERE.name == "bin" and (HERE.parent / "pyvenv.cfg").is_file():
        return HERE.parents[1]
    return Path("/opt/cnncourse")


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure raise ClassroomError with its output."""
    result = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs
    )
    if result.returncode != 0:
        raise ClassroomError(
            f"`{' '.join(str(c) for c in cmd)}` failed with status {result.returncode}:\n"
            f"{(result.stdout + result.stderr).strip()[-3000:]}"
        )
    return result


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise ClassroomError(f"{what} needs root (it creates accounts or system folders)")


def check_readable_by_everyone(path: Path) -> None:
    """Every student account runs ``path``: each folder above it must be world-searchable."""
    path = Path(path).resolve()
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        if not mode & stat.S_IXOTH or (part == path and not mode & stat.S_IROTH):
            raise ClassroomError(
                f"{part} has mode {stat.filemode(mode)}: students cannot reach {path}. "
                "Choose an interpreter and a prefix outside private homes (e.g. /usr/bin/python3 "
                "and /opt/cnncourse)."
            )


# -- install ------------------------------------------------------------------------------------


def install(
    layout: Layout, *, repo: Path, python: Path, exchange: Path, proxy: bool = True
) -> None:
    """Create the shared environment with the course installed (not editable) and configure it."""
    require_root("install")
    check_readable_by_everyone(python)
    layout.prefix.mkdir(parents=True, exist_ok=True)
    layout.prefix.chmod(0o755)
    check_readable_by_everyone(layout.prefix)  # not under a private home such as /root
    if not (layout.bin / "python").exists():
        _run([python, "-m", "venv", layout.env])
    pip = [layout.bin / "python", "-m", "pip", "install", "--quiet"]
    _run([*pip, "--upgrade", "pip"])
    _run([*pip, TORCH])
    # A copy of the sources, so that building the wheel leaves nothing in the checkout.
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "cnncourse"
        shutil.copytree(
            repo,
            src,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", ".classroom", "_build", "*.egg-info", "__pycache__", "node_modules"
            ),
        )
        _run([*pip, f"{src}[lab,classroom]"])
    site = Path(
        _run(
            [
                layout.bin / "python",
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ]
        ).stdout.strip()
    )
    shutil.copy2(HERE / "cnncourse_classroom.py", site / "cnncourse_classroom.py")
    if proxy and not layout.chp.exists():
        (layout.prefix / "node").mkdir(exist_ok=True)
        _run(["npm", "install", "--silent", "--prefix", layout.prefix / "node", CHP_PACKAGE])
    configure(layout, exchange=exchange)
    # The course files each instructor's course directory starts from.
    if layout.course.exists():
        shutil.rmtree(layout.course)
    layout.course.mkdir()
    for name in COURSE_FILES:
        if (repo / name).is_dir():
            shutil.copytree(repo / name, layout.course / name)
        else:
            shutil.copy2(repo / name, layout.course / name)
    tool = layout.bin / "cnncourse-classroom"
    tool.write_text(f"#!{layout.bin / 'python'}\n" + Path(__file__).read_text())
    tool.chmod(0o755)
    ensure_exchange_root(exchange)
    _run(["chmod", "-R", "a+rX", layout.prefix])


def configure(layout: Layout, *, exchange: Path) -> None:
    """Site-wide settings: nbgrader (exchange, course, policies), extensions students get."""
    jupyter = layout.bin / "jupyter"
    etc_jupyter = layout.env / "etc" / "jupyter"
    etc_jupyter.mkdir(parents=True, exist_ok=True)
    (etc_jupyter / "nbgrader_config.py").write_text(site_nbgrader_config(exchange))
    # Everyone gets the student side; instructors add the instructor side through
    # JUPYTER_CONFIG_PATH (set by the hub for members of the instructors group).
    for ext in ("formgrader", "course_list"):
        _run(
            [
                jupyter,
                "server",
                "extension",
                "disable",
                "--sys-prefix",
                f"nbgrader.server_extensions.{ext}",
            ]
        )
    for ext in INSTRUCTOR_LAB_PLUGINS:
        _run([jupyter, "labextension", "disable", "--level=sys_prefix", ext])
    server_d = layout.instructor_config / "jupyter_server_config.d"
    server_d.mkdir(parents=True, exist_ok=True)
    enabled = {f"nbgrader.server_extensions.{e}": True for e in ("formgrader", "course_list")}
    (server_d / "cnncourse-instructor.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": enabled}}, indent=2)
    )
    labconfig = layout.instructor_config / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": dict.fromkeys(INSTRUCTOR_LAB_PLUGINS, False)}, indent=2)
    )
    shutil.copy2(HERE / "jupyterhub_config.py", layout.hub_config)
    layout.settings.write_text(json.dumps({"exchange": str(exchange)}, indent=2))


def site_nbgrader_config(exchange: Path) -> str:
    """classroom/site_nbgrader_config.py with the installation's exchange root."""
    template = (HERE / "site_nbgrader_config.py").read_text()
    line = 'EXCHANGE_ROOT = "/srv/nbgrader/exchange"  # written by cnncourse-classroom install'
    if line not in template:
        raise ClassroomError(f"{HERE / 'site_nbgrader_config.py'} lost its EXCHANGE_ROOT line")
    return template.replace(line, f"EXCHANGE_ROOT = {str(exchange)!r}")


INSTRUCTOR_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)


def ensure_exchange_root(exchange: Path) -> None:
    """The exchange root: owned by root, everyone may create (their course folder) in it, and
    the sticky bit keeps anyone from deleting what another account created there."""
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o1777)
    os.chown(exchange, 0, 0)


# -- the exchange's permissions -----------------------------------------------------------------


def check_exchange(root: Path, course_id: str = COURSE_ID) -> list[str]:
    """Every permission problem of an exchange, each naming the folder, its mode and the risk."""
    problems = []
    if not root.is_dir():
        return [
            f"exchange root {root} does not exist (sudo cnncourse-classroom install creates it)"
        ]
    mode = root.stat().st_mode
    if mode & 0o777 != 0o777:
        problems.append(
            f"exchange root {root} has mode {oct(mode & 0o7777)}; it must be 1777 (or 777): "
            "instructors create their course folder in it"
        )
    course = root / course_id
    if not course.is_dir():
        return problems  # nothing released yet: nbgrader creates the course folder
    if course.stat().st_mode & 0o022:
        problems.append(
            f"{course} has mode {oct(course.stat().st_mode & 0o7777)}; it must be 755: "
            "students must not create or remove folders in it"
        )
    owner = course.stat().st_uid
    for name, (want, meaning) in EXCHANGE_MODES.items():
        path = course / name
        if not path.is_dir():
            if name != "feedback":  # created by the first `nbgrader release_feedback`
                problems.append(f"{path} is missing (`nbgrader release_assignment` creates it)")
            continue
        st = path.stat()
        if st.st_mode & 0o7777 != want:
            problems.append(
                f"{path} has mode {oct(st.st_mode & 0o7777)}; it must be {oct(want)}: {meaning}"
            )
        if st.st_uid != owner:
            problems.append(
                f"{path} is owned by uid {st.st_uid}, not by the course folder's owner {owner}"
            )
    return problems


# -- accounts -----------------------------------------------------------------------------------


def ensure_group(name: str) -> bool:
    """Create the group if it does not exist; True if this call created it."""
    try:
        grp.getgrnam(name)
        return False
    except KeyError:
        _run(["groupadd", name])
        return True


def add_user(
    name: str,
    *,
    instructor: bool = False,
    layout: Layout | None = None,
    home_base: Path | None = None,
    password: str | None = None,
) -> None:
    """A new account with a private home; an instructor also gets the course directory."""
    require_root("add-user")
    if not USERNAME.match(name):
        raise ClassroomError(
            f"{name!r} is not a usable account name: lower-case letters, digits, '-' and '_', "
            "at most 32 characters, starting with a letter"
        )
    try:
        pwd.getpwnam(name)
        raise ClassroomError(f"account {name!r} already exists; choose another name")
    except KeyError:
        pass
    group = INSTRUCTORS_GROUP if instructor else STUDENTS_GROUP
    ensure_group(group)
    cmd = [
        "useradd",
        "--create-home",
        "--shell",
        "/bin/bash",
        "--groups",
        group,
        "--key",
        "UMASK=077",
    ]
    if home_base is not None:
        cmd += ["--home-dir", home_base / name]
    _run([*cmd, name])
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)  # private: no other student (nor the instructor) can read it
    if password is not None:
        _run(["chpasswd"], input=f"{name}:{password}\n")
    if instructor:
        setup_course_directory(name, layout or Layout(default_prefix()))


def setup_course_directory(name: str, layout: Layout) -> Path:
    """``~/cnncourse`` (nbgrader_config.py, solutions/, exercises/) and ``~/.jupyter`` for the
    formgrader, which reads its configuration from there (not from the course directory)."""
    user = pwd.getpwnam(name)
    home = Path(user.pw_dir)
    course = home / COURSE_DIR_NAME
    if not layout.course.is_dir():
        raise ClassroomError(f"{layout.course} is missing; run install first")
    shutil.copytree(layout.course, course)
    jupyter = home / ".jupyter"
    jupyter.mkdir(exist_ok=True)
    (jupyter / "nbgrader_config.py").write_text(
        "# The formgrader (and nbgrader run from any folder) use the course directory:\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"load_subconfig({str(course / 'nbgrader_config.py')!r})  # noqa: F821\n"
    )
    _run(["chown", "-R", f"{name}:{user.pw_gid}", course, jupyter])
    _run(["chmod", "-R", "go-rwx", course, jupyter])
    return course


def processes_of(name: str) -> list[int]:
    result = subprocess.run(
        ["ps", "-o", "pid=", "-u", name], capture_output=True, text=True, check=False
    )
    return [int(p) for p in result.stdout.split()]


def stop_processes_of(name: str, timeout: float = 10.0) -> None:
    """End every process of an account this tool created (by process id)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_of(name)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while processes_of(name) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not processes_of(name):
            return


def remove_user(name: str) -> None:
    require_root("remove-user")
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    stop_processes_of(name)
    _run(["userdel", "--remove", name])


# -- roster -------------------------------------------------------------------------------------


def read_roster(path: Path) -> list[dict[str, str]]:
    """The roster's rows, after checking every one; a ClassroomError lists all problems.

    A row is a student the hub knows: an existing account in the students group. A student
    without an account could never log in or submit, so the roster is refused as a whole rather
    than imported with gaps.
    """
    problems = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("id",) if c not in (reader.fieldnames or [])]
        if missing:
            raise ClassroomError(
                f"{path}: no 'id' column; the header must be {','.join(ROSTER_COLUMNS)}"
            )
        unknown_columns = set(reader.fieldnames) - set(ROSTER_COLUMNS)
        if unknown_columns:
            problems.append(
                f"{path}: unknown column(s) {sorted(unknown_columns)}; "
                f"allowed: {','.join(ROSTER_COLUMNS)}"
            )
        rows, seen = [], {}
        for line, row in enumerate(reader, start=2):
            sid = (row.get("id") or "").strip()
            where = f"{path}, line {line}"
            if not sid:
                problems.append(f"{where}: empty id")
                continue
            if sid in seen:
                problems.append(f"{where}: {sid!r} is already on line {seen[sid]}")
                continue
            seen[sid] = line
            try:
                pwd.getpwnam(sid)
            except KeyError:
                problems.append(
                    f"{where}: unknown student {sid!r}: there is no such account "
                    f"(sudo cnncourse-classroom add-user {sid})"
                )
                continue
            if sid not in _group_members(STUDENTS_GROUP):
                problems.append(
                    f"{where}: {sid!r} is not in the group {STUDENTS_GROUP} "
                    f"(sudo usermod -aG {STUDENTS_GROUP} {sid})"
                )
                continue
            rows.append({k: (row.get(k) or "").strip() for k in ROSTER_COLUMNS})
    if problems:
        raise ClassroomError(
            "roster not imported, nothing was changed:\n  " + "\n  ".join(problems)
        )
    if not rows:
        raise ClassroomError(f"{path}: no students")
    return rows


def _group_members(name: str) -> set[str]:
    try:
        group = grp.getgrnam(name)
    except KeyError:
        return set()
    members = set(group.gr_mem)
    members |= {p.pw_name for p in pwd.getpwall() if p.pw_gid == group.gr_gid}
    return members


def import_roster(path: Path, course: Path) -> int:
    """Check the roster, then ``nbgrader db student import`` it in the course directory."""
    rows = read_roster(path)
    _run(["nbgrader", "db", "student", "import", Path(path).resolve()], cwd=course)
    return len(rows)


# -- the hub ------------------------------------------------------------------------------------


def free_port_block(n: int = 3) -> int:
    """A port p with p, p+1, ..., p+n-1 free on 127.0.0.1 (hub, hub API, proxy API)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65535:
            continue
        try:
            socks = []
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise ClassroomError("no block of free ports on 127.0.0.1")


@dataclass
class Hub:
    """A running JupyterHub (its proxy and the single-user servers are its children)."""

    layout: Layout
    state: Path
    port: int
    exchange: Path
    admin_token: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": f"{self.layout.bin}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "CNNCOURSE_CLASSROOM_PREFIX": str(self.layout.prefix),
            "CNNCOURSE_CLASSROOM_STATE": str(self.state),
            "CNNCOURSE_EXCHANGE": str(self.exchange),
            "CNNCOURSE_HUB_PORT": str(self.port),
        }
        if self.admin_token:
            env["CNNCOURSE_HUB_ADMIN_TOKEN"] = self.admin_token
        return env

    def start(self, timeout: float = 90.0) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.state.chmod(0o700)
        log = open(self.state / "jupyterhub.log", "ab")
        self.process = subprocess.Popen(
            [self.layout.bin / "jupyterhub", "-f", self.layout.hub_config],
            cwd=self.state,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ClassroomError(f"JupyterHub exited at start-up:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise ClassroomError(
            f"JupyterHub did not answer within {timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        path = self.state / "jupyterhub.log"
        if not path.is_file():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: the hub stops the single-user servers and the proxy, then exits."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the hub's session (the proxy, if the hub was killed) goes too.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(10)
        pid_file = self.state / "proxy.pid"
        if pid_file.is_file():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass


class Classroom:
    """A throw-away class: accounts, an exchange, a roster and a running hub, all removed on exit.

    Used by ``demo`` (and ``make classroom``) and by the end-to-end test. Only what this object
    created is removed: the accounts, the groups it had to create and its base folder.
    """

    def __init__(
        self,
        layout: Layout,
        *,
        instructor: str,
        students: list[str],
        port: int | None = None,
        passwords: bool = False,
        admin_token: str | None = None,
    ):
        self.layout = layout
        self.instructor = instructor
        self.students = list(students)
        self.port = port or free_port_block()
        self.passwords = (
            {n: secrets.token_urlsafe(9) for n in [instructor, *students]} if passwords else {}
        )
        self.admin_token = admin_token
        self.created_users: list[str] = []
        self.created_groups: list[str] = []
        self.base: Path | None = None
        self.hub: Hub | None = None

    @property
    def exchange(self) -> Path:
        return self.base / "exchange"

    @property
    def course(self) -> Path:
        return Path(pwd.getpwnam(self.instructor).pw_dir) / COURSE_DIR_NAME

    def __enter__(self) -> Classroom:
        require_root("a classroom")
        self.layout.read_settings()
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create(self) -> None:
        for name in [self.instructor, *self.students]:
            try:
                pwd.getpwnam(name)
                raise ClassroomError(f"account {name!r} already exists; refusing to touch it")
            except KeyError:
                pass
        self.base = Path(tempfile.mkdtemp(prefix="cnncourse-classroom-"))
        self.base.chmod(0o755)
        (self.base / "home").mkdir(mode=0o755)
        ensure_exchange_root(self.exchange)
        for group in (STUDENTS_GROUP, INSTRUCTORS_GROUP):
            if ensure_group(group):
                self.created_groups.append(group)
        for name in [self.instructor, *self.students]:
            self.created_users.append(name)
            add_user(
                name,
                instructor=name == self.instructor,
                layout=self.layout,
                home_base=self.base / "home",
                password=self.passwords.get(name),
            )
        roster = self.course / "roster.csv"
        with open(roster, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(ROSTER_COLUMNS)
            for i, name in enumerate(self.students, start=1):
                writer.writerow([name, f"Student{i}", "Demo", f"{name}@example.org"])
        shutil.chown(roster, self.instructor)
        self.hub = Hub(
            self.layout, self.base / "hub", self.port, self.exchange, admin_token=self.admin_token
        )
        self.hub.start()

    def run_as(self, name: str, cmd: list, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """A command as one of the class's accounts, with the hub's environment."""
        env = {**self.hub.environment(), "HOME": pwd.getpwnam(name).pw_dir, "USER": name}
        runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin") or "runuser"
        return _run([runuser, "-u", name, "--", *cmd], cwd=cwd, env=env)

    def close(self) -> None:
        errors = []
        if self.hub is not None:
            try:
                self.hub.stop()
            except Exception as err:  # noqa: BLE001 - keep cleaning up, report at the end
                errors.append(f"stopping the hub: {err}")
        for name in reversed(self.created_users):
            try:
                remove_user(name)
            except ClassroomError as err:
                errors.append(str(err))
        self.created_users.clear()
        for group in self.created_groups:
            subprocess.run(["groupdel", group], capture_output=True, check=False)
        self.created_groups.clear()
        if self.base is not None and self.base.exists():
            shutil.rmtree(self.base, ignore_errors=True)
        if errors:
            raise ClassroomError("clean-up incomplete:\n  " + "\n  ".join(errors))


def demo(layout: Layout, *, students: int, port: int) -> None:
    """``make classroom``: one instructor and N students on 127.0.0.1 until Ctrl-C."""
    names = [f"cnc-student{i}" for i in range(1, students + 1)]
    with Classroom(
        layout, instructor="cnc-teacher", students=names, port=port, passwords=True
    ) as room:
        print("Preparing ps01_convolution (roster, generate, release) ...", flush=True)
        room.run_as(
            room.instructor, ["cnncourse-classroom", "roster", "roster.csv"], cwd=room.course
        )
        for cmd in (
            ["nbgrader", "generate_assignment", "ps01_convolution", "--force"],
            ["nbgrader", "release_assignment", "ps01_convolution", "--force"],
        ):
            room.run_as(room.instructor, cmd, cwd=room.course)
        print(f"\nJupyterHub demo class running at {room.hub.url}/  (only on this machine)\n")
        print(f"  {'account':<16} {'password':<14} role")
        for name in [room.instructor, *room.students]:
            role = (
                "instructor (Formgrader, Create Assignment)"
                if name == room.instructor
                else "student (Assignments tab)"
            )
            print(f"  {name:<16} {room.passwords[name]:<14} {role}")
        print(f"\nExchange: {room.exchange}   hub log: {room.hub.state / 'jupyterhub.log'}")
        print("Press Ctrl-C to stop; the accounts and their files are removed.", flush=True)
        # Ctrl-C or SIGTERM ends the demo (and a second Ctrl-C does not cut the clean-up short).
        # Set explicitly: a shell that starts this in the background leaves SIGINT ignored.
        stop = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.append(1))
        while not stop:
            if room.hub.process.poll() is not None:
                raise ClassroomError(f"JupyterHub stopped:\n{room.hub.log_tail()}")
            time.sleep(0.5)
        print("\nStopping the hub and removing the demo accounts ...", flush=True)
    print("Demo class removed.")


# -- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cnncourse-classroom", description=__doc__.split("\n")[0])
    parser.add_argument("--prefix", type=Path, default=default_prefix(), help="installation folder")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("install", help="shared environment, proxy, site configuration (root)")
    p.add_argument("--python", type=Path, default=Path("/usr/bin/python3"))
    p.add_argument("--exchange", type=Path, default=Path("/srv/nbgrader/exchange"))
    p.add_argument("--repo", type=Path, default=HERE.parent)
    p.add_argument(
        "--without-proxy",
        action="store_true",
        help="no configurable-http-proxy (a single-user image: classroom/Containerfile)",
    )
    p = sub.add_parser("add-user", help="accounts with private homes (root)")
    p.add_argument("names", nargs="+")
    p.add_argument("--instructor", action="store_true")
    p = sub.add_parser("remove-user", help="end an account's processes, delete it and its home")
    p.add_argument("names", nargs="+")
    p = sub.add_parser("roster", help="check a roster, then nbgrader db student import it")
    p.add_argument("csv", type=Path)
    p.add_argument("--course", type=Path, default=Path.cwd())
    p = sub.add_parser("check", help="report wrong permissions in the nbgrader exchange")
    p.add_argument("--exchange", type=Path, default=None)
    sub.add_parser("hub", help="run JupyterHub in the foreground (root)")
    p = sub.add_parser("demo", help="a throw-away class on 127.0.0.1 until Ctrl-C (root)")
    p.add_argument("--students", type=int, default=3)
    p.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    layout = Layout(args.prefix.resolve())
    try:
        if args.command == "install":
            install(
                layout,
                repo=args.repo.resolve(),
                python=args.python,
                exchange=args.exchange,
                proxy=not args.without_proxy,
            )
            print(f"installed in {layout.prefix}; exchange {args.exchange}")
        elif args.command == "add-user":
            for name in args.names:
                add_user(name, instructor=args.instructor, layout=layout)
                print(f"{name}: {'instructor' if args.instructor else 'student'} account created")
        elif args.command == "remove-user":
            for name in args.names:
                remove_user(name)
        elif args.command == "roster":
            n = import_roster(args.csv, args.course)
            print(f"{n} students imported from {args.csv}")
        elif args.command == "check":
            exchange = args.exchange or Path(
                os.environ.get("CNNCOURSE_EXCHANGE") or layout.read_settings()["exchange"]
            )
            problems = check_exchange(exchange)
            for problem in problems:
                print(f"error: {problem}", file=sys.stderr)
            if problems:
                return 2
            print(f"exchange {exchange}: permissions ok")
        elif args.command == "hub":
            require_root("hub")
            settings = layout.read_settings()
            os.execve(
                layout.bin / "jupyterhub",
                [str(layout.bin / "jupyterhub"), "-f", str(layout.hub_config)],
                {
                    **os.environ,
                    "CNNCOURSE_EXCHANGE": settings["exchange"],
                    "CNNCOURSE_CLASSROOM_PREFIX": str(layout.prefix),
                },
            )
        elif args.command == "demo":
            demo(layout, students=args.students, port=args.port)
    except ClassroomError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
