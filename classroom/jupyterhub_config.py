"""JupyterHub for a cnncourse class on one machine (classroom/README.md).

``cnncourse-classroom install`` copies this file to ``<prefix>/etc/jupyterhub_config.py``; the
hub runs as root (``cnncourse-classroom hub``, or a systemd unit) and starts each user's server as
that user, from the shared environment ``<prefix>/env``. Settings come from the environment:

- ``CNNCOURSE_CLASSROOM_PREFIX`` -- the installation (default ``/opt/cnncourse``);
- ``CNNCOURSE_CLASSROOM_STATE`` -- the hub's database, cookie secret, pid files
  (default ``/srv/jupyterhub``);
- ``CNNCOURSE_EXCHANGE`` -- the nbgrader exchange root, passed on to every server;
- ``CNNCOURSE_HUB_IP`` / ``CNNCOURSE_HUB_PORT`` -- where the hub listens (default
  127.0.0.1:8000; put a TLS proxy in front of it for a real class); the hub's API uses the
  next port and the proxy's API the one after;
- ``CNNCOURSE_HUB_ADMIN_TOKEN`` -- if set, an admin service ``cnncourse-classroom`` with this
  token (the end-to-end test drives the hub through it);
- ``CNNCOURSE_THREADS_PER_USER`` -- BLAS/OpenMP threads per server (default 1: a class shares
  the machine's cores).

Who is who comes from the system's groups: members of ``cnncourse-instructors`` get the
formgrader and "Create Assignment"; members of ``cnncourse-students`` get the Assignments tab.
"""

import grp
import os
import pwd
from pathlib import Path

PREFIX = Path(os.environ.get("CNNCOURSE_CLASSROOM_PREFIX", "/opt/cnncourse"))
ENV = PREFIX / "env"
STATE = Path(os.environ.get("CNNCOURSE_CLASSROOM_STATE", "/srv/jupyterhub"))
EXCHANGE = os.environ.get("CNNCOURSE_EXCHANGE", "/srv/nbgrader/exchange")
IP = os.environ.get("CNNCOURSE_HUB_IP", "127.0.0.1")
PORT = int(os.environ.get("CNNCOURSE_HUB_PORT", "8000"))
STUDENTS_GROUP = "cnncourse-students"
INSTRUCTORS_GROUP = "cnncourse-instructors"

c = get_config()  # noqa: F821 - provided by traitlets when JupyterHub loads this file

# -- network: the public proxy on IP:PORT; the hub and the proxy's API only on 127.0.0.1 ---------
c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(PREFIX / "node/node_modules/.bin/configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server

# -- who may log in: the system's accounts in the course's groups (PAM passwords) ------------------
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_groups = {STUDENTS_GROUP, INSTRUCTORS_GROUP}

# -- each user's server: their own account, their home, the shared environment -----------------
c.Spawner.cmd = [str(ENV / "bin/jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
THREADS = os.environ.get("CNNCOURSE_THREADS_PER_USER", "1")
c.Spawner.environment = {
    # nbgrader runs `alembic` and kernels run `python`: both from the shared environment.
    "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "CNNCOURSE_EXCHANGE": EXCHANGE,
    "OMP_NUM_THREADS": THREADS,
    "MKL_NUM_THREADS": THREADS,
}


def is_instructor(name: str) -> bool:
    try:
        group = grp.getgrnam(INSTRUCTORS_GROUP)
        user = pwd.getpwnam(name)
    except KeyError:
        return False
    return name in group.gr_mem or user.pw_gid == group.gr_gid


def pre_spawn_hook(spawner):
    """Instructors read <prefix>/etc/instructor first: formgrader, course list, create-assignment.

    Everyone else keeps the site-wide settings of the shared environment, where those are
    disabled. (A student who re-enables them in ~/.jupyter gets an empty formgrader: the
    instructor's course directory and gradebook are in a private home.)
    """
    if is_instructor(spawner.user.name):
        spawner.environment = {
            **spawner.environment,
            "JUPYTER_CONFIG_PATH": str(PREFIX / "etc/instructor"),
        }


c.Spawner.pre_spawn_hook = pre_spawn_hook

# -- an admin service for scripts (the end-to-end test), only when a token is given ------------
ADMIN_TOKEN = os.environ.get("CNNCOURSE_HUB_ADMIN_TOKEN")
if ADMIN_TOKEN:
    c.JupyterHub.services = [{"name": "cnncourse-classroom", "api_token": ADMIN_TOKEN}]
    c.JupyterHub.load_roles = [
        {
            "name": "cnncourse-classroom",
            "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"],
            "services": ["cnncourse-classroom"],
        }
    ]
