"""The student's own copies (scripts/my_work.py) and the kernel the notebooks ask for."""

import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import my_work  # noqa: E402


def _chapters(tmp_path, names=("01_a", "02_b")):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    for name in names:
        (chapters / f"{name}.ipynb").write_text(json.dumps({"course": name}))
    return chapters


def test_sync_copies_every_chapter_on_first_use(tmp_path):
    chapters = _chapters(tmp_path)
    work = tmp_path / "my-work"
    created = my_work.sync(chapters, work)
    assert [p.name for p in created] == ["01_a.ipynb", "02_b.ipynb"]
    for name in ("01_a", "02_b"):
        assert (work / f"{name}.ipynb").read_text() == (chapters / f"{name}.ipynb").read_text()


def test_sync_never_overwrites_work_and_adds_new_chapters(tmp_path):
    chapters = _chapters(tmp_path)
    work = tmp_path / "my-work"
    my_work.sync(chapters, work)
    (work / "01_a.ipynb").write_text("my answers")
    (chapters / "01_a.ipynb").write_text("an updated chapter from git pull")
    (chapters / "03_c.ipynb").write_text("a new chapter")
    created = my_work.sync(chapters, work)
    assert [p.name for p in created] == ["03_c.ipynb"]
    assert (work / "01_a.ipynb").read_text() == "my answers"
    assert (work / "03_c.ipynb").read_text() == "a new chapter"


@pytest.mark.parametrize("chapter", ["02", "2", "02_b", "02_b.ipynb"])
def test_reset_backs_up_then_copies(tmp_path, chapter):
    chapters = _chapters(tmp_path)
    work = tmp_path / "my-work"
    my_work.sync(chapters, work)
    (work / "02_b.ipynb").write_text("my answers")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    backup = my_work.reset(chapters, work, chapter, now=now)
    assert backup == work / "backups" / "02_b.20260102-030405.ipynb"
    assert backup.read_text() == "my answers"
    assert (work / "02_b.ipynb").read_text() == (chapters / "02_b.ipynb").read_text()
    # a second reset in the same second keeps the first backup
    (work / "02_b.ipynb").write_text("second try")
    second = my_work.reset(chapters, work, chapter, now=now)
    assert second != backup and second.read_text() == "second try"
    assert backup.read_text() == "my answers"


def test_reset_without_a_copy_just_copies(tmp_path):
    chapters = _chapters(tmp_path)
    work = tmp_path / "my-work"
    assert my_work.reset(chapters, work, "1") is None
    assert (work / "01_a.ipynb").exists()


@pytest.mark.parametrize("chapter", ["9", "xyz", ""])
def test_reset_of_an_unknown_chapter_names_the_chapters(tmp_path, chapter):
    chapters = _chapters(tmp_path)
    with pytest.raises(ValueError, match=r"chapter must name exactly one.*01_a, 02_b"):
        my_work.reset(chapters, tmp_path / "my-work", chapter)


def test_command_line_reports_an_error_without_a_traceback(tmp_path):
    chapters = _chapters(tmp_path)
    args = ["--chapters", str(chapters), "--work", str(tmp_path / "w")]
    script = str(ROOT / "scripts" / "my_work.py")
    ok = subprocess.run([sys.executable, script, *args, "sync"], capture_output=True, text=True)
    assert ok.returncode == 0 and "01_a.ipynb" in ok.stdout
    bad = subprocess.run(
        [sys.executable, script, *args, "reset", "42"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "'42'" in bad.stderr


def test_my_work_is_ignored_by_git_and_opened_by_make_lab():
    assert "/my-work/" in (ROOT / ".gitignore").read_text().splitlines()
    makefile = (ROOT / "Makefile").read_text()
    assert "scripts/my_work.py sync" in makefile
    assert "default_url=/lab/tree/my-work" in makefile
    assert re.search(r"^reset:", makefile, re.M)


def _installed_kernel():
    makefile = (ROOT / "Makefile").read_text()
    m = re.search(r'ipykernel install .*--name (\S+) --display-name "([^"]+)"', makefile)
    assert m, "the Makefile no longer installs a named kernel"
    return m.group(1), m.group(2)


NOTEBOOKS = sorted(
    [
        *ROOT.glob("chapters/*.ipynb"),
        *ROOT.glob("solutions/*/*.ipynb"),
        *ROOT.glob("exercises/*/*.ipynb"),
    ]
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_asks_for_the_kernel_make_lab_installs(path):
    # JupyterLab rewrites a differing display name on open, which marks the notebook modified
    name, display_name = _installed_kernel()
    spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
    assert (spec.get("name"), spec.get("display_name")) == (name, display_name)
