"""Repository hygiene: committed notebooks, the public API they use, and the environment files."""

import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
EXECUTED = CHAPTERS + SOLUTIONS
WIDGET_STATE_KEY = "application/vnd.jupyter.widget-state+json"


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_chapters():
    assert CHAPTERS, "no notebooks in chapters/"
    assert CHAPTERS[0].name == "01_convolution.ipynb"


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_notebook_is_executed_in_order_without_errors(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    counts = [c.execution_count for c in _code(nb) if c.source.strip()]
    assert None not in counts, f"{path.name}: unexecuted code cells"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: execution counts {counts}"
    for cell in _code(nb):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: error output in cell:\n{cell.source[:200]}"


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_notebook_style(path):
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        assert not re.search(r"^\s*from\s+\S+\s+import\s+\*", cell.source, re.M), (
            f"{path.name}: import * in\n{cell.source[:200]}"
        )
        assert ".cuda()" not in cell.source, f"{path.name}: hard-coded .cuda()"


@pytest.mark.parametrize("path", EXECUTED, ids=_ids(EXECUTED))
def test_widget_state_is_valid(path):
    """GitHub and the website render saved widgets only from a valid widget-state entry."""
    nb = nbformat.read(path, as_version=4)
    widgets = nb.metadata.get("widgets")
    if widgets is None:
        return
    assert set(widgets) == {WIDGET_STATE_KEY}, f"{path.name}: unexpected keys {set(widgets)}"
    state = widgets[WIDGET_STATE_KEY]
    assert state.get("version_major") == 2 and isinstance(state.get("version_minor"), int)
    models = state["state"]
    for model_id, model in models.items():
        for key in ("model_name", "model_module", "model_module_version", "state"):
            assert key in model, f"{path.name}: widget {model_id} lacks {key}"
    # Every widget view displayed in an output must have its model saved.
    for cell in _code(nb):
        for out in cell.outputs:
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view:
                assert view["model_id"] in models, f"{path.name}: view of unsaved model"


def _used_cnncourse_names(source: str):
    """Yield (module, attribute) for every ``alias.attr`` where alias is a cnncourse module."""
    tree = ast.parse(source)
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnncourse"):
            for name in node.names:
                target = f"{node.module}.{name.name}"
                try:
                    importlib.import_module(target)
                    aliases[name.asname or name.name] = target
                except ModuleNotFoundError:
                    yield node.module, name.name  # a function imported directly
        elif isinstance(node, ast.Import):
            for name in node.names:
                if name.name.startswith("cnncourse"):
                    aliases[name.asname or name.name.split(".")[0]] = (
                        name.name if name.asname else "cnncourse"
                    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in aliases:
                yield aliases[node.value.id], node.attr


NOTEBOOKS_USING_LIBRARY = CHAPTERS + SOLUTIONS


@pytest.mark.parametrize("path", NOTEBOOKS_USING_LIBRARY, ids=_ids(NOTEBOOKS_USING_LIBRARY))
def test_every_cnncourse_name_used_in_a_notebook_exists(path):
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(
        "\n".join(
            line for line in c.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        for c in _code(nb)
    )
    missing = []
    for module, attr in _used_cnncourse_names(source):
        if not hasattr(importlib.import_module(module), attr):
            try:
                importlib.import_module(f"{module}.{attr}")
            except ModuleNotFoundError:
                missing.append(f"{module}.{attr}")
    assert not missing, f"{path.name} uses names cnncourse does not have: {missing}"


def _requirement_name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["lab"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += [d for d in dep["pip"] if not d.startswith("-e")]
        elif not dep.startswith(("python", "pip")):
            conda.append(dep)
    got = {_requirement_name(d): d.replace(" ", "") for d in conda + pip}
    want = {_requirement_name(d): d.replace(" ", "") for d in wanted}
    assert got == want, "environment.yml and pyproject.toml list different packages or versions"


def test_torch_is_pinned_everywhere_it_is_installed():
    assert '"torch==2.13.0"' in (ROOT / "pyproject.toml").read_text()
    assert "TORCH  := torch==2.13.0" in (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in (ROOT / "environment.yml").read_text()
