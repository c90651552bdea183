"""The classroom's parts that need neither root nor a hub (the class itself: tests/classroom/).

Exchange permission checks, roster checks, the late policy, the hub and nbgrader site
configuration as the hub and nbgrader load them, and the Kubernetes YAML (linted).
"""

import sys
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config
from yamllint import linter
from yamllint.config import YamlLintConfig

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "classroom"
sys.path.insert(0, str(CLASSROOM))

import classroomctl  # noqa: E402
import cnncourse_classroom  # noqa: E402

# -- the exchange -------------------------------------------------------------------------------


def _exchange(tmp_path, **modes):
    root = tmp_path / "exchange"
    course = root / "cnncourse"
    for name in ("outbound", "inbound", "feedback"):
        (course / name).mkdir(parents=True)
    root.chmod(0o1777)
    course.chmod(0o755)
    for name, (mode, _) in classroomctl.EXCHANGE_MODES.items():
        (course / name).chmod(modes.get(name, mode))
    return root


def test_exchange_as_nbgrader_makes_it_is_accepted(tmp_path):
    assert classroomctl.check_exchange(_exchange(tmp_path)) == []


@pytest.mark.parametrize(
    "folder, mode, message",
    [
        ("inbound", 0o755, "must be 0o2733: students write submissions but cannot list"),
        ("inbound", 0o2737, "must be 0o2733: students write submissions but cannot list"),
        ("outbound", 0o777, "must be 0o755: students read released assignments but cannot change"),
        ("feedback", 0o755, "must be 0o711: students open their own feedback but cannot list"),
    ],
)
def test_wrong_exchange_permissions_are_named(tmp_path, folder, mode, message):
    root = _exchange(tmp_path, **{folder: mode})
    (problem,) = classroomctl.check_exchange(root)
    assert problem.startswith(f"{root / 'cnncourse' / folder} has mode {oct(mode)}")
    assert message in problem


def test_exchange_root_that_instructors_cannot_write_is_named(tmp_path):
    root = tmp_path / "exchange"
    root.mkdir()
    root.chmod(0o755)
    assert classroomctl.check_exchange(root) == [
        f"exchange root {root} has mode 0o755; it must be 1777 (or 777): "
        "instructors create their course folder in it"
    ]
    assert "does not exist" in classroomctl.check_exchange(tmp_path / "nowhere")[0]


# -- the roster ---------------------------------------------------------------------------------


def test_roster_with_unknown_students_is_refused_whole(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email\n"
        "cnc-nobody-1,A,B,a@example.org\n"
        ",No,Id,x@example.org\n"
        "cnc-nobody-1,A,B,a@example.org\n"
        "root,Super,User,root@example.org\n"
    )
    with pytest.raises(classroomctl.ClassroomError) as err:
        classroomctl.read_roster(roster)
    message = str(err.value)
    assert message.startswith("roster not imported, nothing was changed:")
    assert f"{roster}, line 2: unknown student 'cnc-nobody-1': there is no such account" in message
    assert f"{roster}, line 3: empty id" in message
    assert f"{roster}, line 4: 'cnc-nobody-1' is already on line 2" in message
    assert f"{roster}, line 5: 'root' is not in the group cnncourse-students" in message


def test_roster_without_id_column_is_refused(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nalice,a@example.org\n")
    with pytest.raises(classroomctl.ClassroomError, match="no 'id' column"):
        classroomctl.read_roster(roster)


# -- the late policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds_late, penalty",
    [(0, None), (1, 2.0), (86400, 2.0), (86401, 4.0), (30 * 86400, 20.0)],
)
def test_late_penalty_is_ten_percent_per_started_day(seconds_late, penalty):
    plugin = cnncourse_classroom.PenaltyPerStartedDay()
    assert plugin.late_submission_penalty("s1", 20.0, seconds_late) == penalty


# -- configuration as JupyterHub and nbgrader load it -------------------------------------------


def _load(path: Path, source: str | None = None) -> Config:
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(path)}
    exec(compile(source or path.read_text(), str(path), "exec"), namespace)
    return config, namespace


def test_hub_listens_on_localhost_and_has_no_admin_service_by_default(monkeypatch):
    for var in ("CNNCOURSE_HUB_IP", "CNNCOURSE_HUB_PORT", "CNNCOURSE_HUB_ADMIN_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    c, _ = _load(CLASSROOM / "jupyterhub_config.py")
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000"
    assert c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:8002"
    assert "services" not in c.JupyterHub and "load_roles" not in c.JupyterHub
    assert c.Authenticator.allowed_groups == {"cnncourse-students", "cnncourse-instructors"}
    assert c.Spawner.cmd == ["/opt/cnncourse/env/bin/jupyterhub-singleuser"]


def test_only_instructors_get_the_instructor_configuration(monkeypatch):
    c, ns = _load(CLASSROOM / "jupyterhub_config.py")

    class Spawner:
        environment = {"PATH": "/x"}

        class user:
            name = "student"

    monkeypatch.setitem(ns, "is_instructor", lambda name: name == "teacher")
    c.Spawner.pre_spawn_hook(Spawner)
    assert "JUPYTER_CONFIG_PATH" not in Spawner.environment
    Spawner.user.name = "teacher"
    c.Spawner.pre_spawn_hook(Spawner)
    assert Spawner.environment["JUPYTER_CONFIG_PATH"] == "/opt/cnncourse/etc/instructor"


def test_site_nbgrader_config_has_exchange_course_and_policies(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNCOURSE_EXCHANGE", raising=False)
    monkeypatch.delenv("CNNCOURSE_NGSHARE_URL", raising=False)
    source = classroomctl.site_nbgrader_config(tmp_path / "ex")
    c, _ = _load(tmp_path / "nbgrader_config.py", source)
    assert c.Exchange.root == str(tmp_path / "ex")
    assert c.CourseDirectory.course_id == "cnncourse"
    assert c.Autograde.create_student is False
    for dotted in (c.ExchangeFactory.submit, c.AssignLatePenalties.plugin_class):
        module, name = dotted.rsplit(".", 1)
        assert module == "cnncourse_classroom" and hasattr(cnncourse_classroom, name)
    monkeypatch.setenv("CNNCOURSE_EXCHANGE", "/elsewhere")
    c, _ = _load(tmp_path / "nbgrader_config.py", source)
    assert c.Exchange.root == "/elsewhere"


# -- Kubernetes ---------------------------------------------------------------------------------

YAML = sorted((CLASSROOM / "helm").glob("*.yaml"))
LINT = YamlLintConfig(
    "extends: default\nrules:\n  line-length: {max: 100}\n  document-start: disable\n"
)


@pytest.mark.parametrize("path", YAML, ids=[p.name for p in YAML])
def test_yaml_is_lint_free(path):
    problems = list(linter.run(path.read_text(), LINT, str(path)))
    assert not problems, "\n".join(
        f"{path.name}:{p.line}:{p.column}: {p.message}" for p in problems
    )


def test_helm_values_limit_every_student_and_cull_idle_servers():
    values = yaml.safe_load((CLASSROOM / "helm" / "values.yaml").read_text())
    user = values["singleuser"]
    assert user["memory"]["limit"] and user["cpu"]["limit"]
    gpu = [p for p in user["profileList"] if "nvidia.com/gpu" in str(p)]
    assert gpu and gpu[0]["kubespawner_override"]["environment"]["CNNCOURSE_PROFILE"] == "full"
    assert values["cull"]["enabled"] is True
    assert "ngshare" in values["hub"]["extraConfig"]["20-ngshare.py"]
    assert user["extraEnv"]["CNNCOURSE_NGSHARE_URL"].endswith("/services/ngshare")


def test_containerfile_installs_the_course_as_the_one_machine_hub_does():
    text = (CLASSROOM / "Containerfile").read_text()
    assert "classroomctl.py --prefix /opt/cnncourse install" in text
    assert "--without-proxy" in text and "USER 1000" in text
