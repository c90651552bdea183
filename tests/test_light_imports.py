"""The math chapters' modules import no torch, so they also run where torch is not installed.

Each check runs in a fresh interpreter: in this process torch is long imported by other tests.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

LIGHT_MODULES = ["conv", "filters", "shapes", "pooling"]


def _torch_imported_by(*modules: str) -> bool:
    imports = "; ".join(f"import cnncourse.{name}" for name in modules)
    code = f"import sys; {imports}; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr  # an import error must not pass as "no torch"
    return result.stdout.strip() == "True"


@pytest.mark.parametrize("name", LIGHT_MODULES)
def test_math_module_imports_no_torch(name):
    assert not _torch_imported_by(name), f"import cnncourse.{name} imports torch"


def test_all_math_modules_together_import_no_torch():
    assert not _torch_imported_by(*LIGHT_MODULES)


def test_the_check_sees_torch_when_it_is_imported():
    # the tracer needs torch: if this failed, the checks above could not fail either
    assert _torch_imported_by("tracer")
