"""The grader's submission policy, entry by entry: every denied name, attribute and module and every
swallowing exception is refused by ``grade.scan_source``.

``test_grading.py`` proves the policy by category (one example of each kind of tampering); here
each table entry has its own case, so dropping one entry from a table, or a scanner branch that
stops reading an entry, fails a test. The intended tables are pinned below: an entry may be added
to ``grade``'s tables, never removed without changing this file on purpose. (The sandbox is the
real guarantee; the policy's promises should still hold.)
"""

import pytest

from cnncourse import grade

# The intended tables, copied when they were reviewed. grade's tables may grow, not shrink.
FROZEN_DENIED_NAMES = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "open",
        "exit",
        "quit",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "get_ipython",
        "get_type_hints",
        "singledispatch",
        "attrgetter",
        "methodcaller",
    }
)
FROZEN_DENIED_ATTRIBUTES = frozenset(
    {
        "hub",
        "library",
        "ops",
        "jit",
        "cpp_extension",
        "ctypes",
        "ctypeslib",
        "overrides",
        "multiprocessing",
        "distributed",
        "compile",
        "compiler",
        "backends",
        "fromfile",
        "tofile",
        "memmap",
        "open_memmap",
        "from_file",
        "imsave",
        "imread",
        "DataSource",
        "get_type_hints",
        "singledispatch",
        "set_default_dtype",
        "set_default_tensor_type",
        "set_default_device",
        "seterr",
        "seterrcall",
        "setbufsize",
        "set_flush_denormal",
    }
)
FROZEN_DENIED_MODULES = frozenset(
    {
        "numpy.ctypeslib",
        "numpy.f2py",
        "numpy.distutils",
        "numpy.testing",
        "torch.hub",
        "torch.library",
        "torch.ops",
        "torch.jit",
        "torch.utils.cpp_extension",
        "torch.overrides",
        "torch.multiprocessing",
        "torch.distributed",
        "torch.package",
        "torch.onnx",
        "torch.export",
        "torch.compiler",
        "torch.backends",
        "scipy.io",
        "scipy.weave",
        "cnncourse.grade",
    }
)
FROZEN_SWALLOWING_EXCEPTIONS = frozenset(
    {"BaseException", "KeyboardInterrupt", "SystemExit", "GeneratorExit"}
)
# The other direction for the allow-list: it may shrink, never grow unnoticed.
FROZEN_ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "numpy",
        "math",
        "cmath",
        "fractions",
        "decimal",
        "statistics",
        "collections",
        "itertools",
        "functools",
        "typing",
        "dataclasses",
        "random",
        "heapq",
        "bisect",
        "string",
        "re",
        "copy",
        "time",
        "textwrap",
        "pprint",
        "matplotlib",
        "scipy",
        "torch",
        "cnncourse",
        "tqdm",
    }
)


def messages(source):
    return [v.message for v in grade.scan_source(source)]


def test_the_tables_keep_every_reviewed_entry():
    assert FROZEN_DENIED_NAMES <= grade.DENIED_NAMES
    assert FROZEN_DENIED_ATTRIBUTES <= grade.DENIED_ATTRIBUTES
    assert FROZEN_DENIED_MODULES <= grade.DENIED_MODULES
    assert FROZEN_SWALLOWING_EXCEPTIONS <= grade.SWALLOWING_EXCEPTIONS
    assert grade.ALLOWED_IMPORTS <= FROZEN_ALLOWED_IMPORTS


@pytest.mark.parametrize("name", sorted(FROZEN_DENIED_NAMES))
def test_each_denied_name_is_refused(name):
    wanted = f"uses `{name}`, which the grader does not allow"
    assert wanted in messages(f"x = {name}")
    assert wanted in messages(f"def f():\n    return {name}(1)")  # inside a body too


@pytest.mark.parametrize("attr", sorted(FROZEN_DENIED_ATTRIBUTES))
def test_each_denied_attribute_is_refused(attr):
    wanted = f"uses `{attr}`, which the grader does not allow"
    assert wanted in messages(f"y = torch.{attr}")
    assert wanted in messages(f"y = np.zeros(1).{attr}")


@pytest.mark.parametrize("attr", sorted(FROZEN_DENIED_ATTRIBUTES & FROZEN_DENIED_NAMES))
def test_a_name_denied_both_ways_is_refused_when_imported(attr):
    assert f"imports `{attr}`, which the grader does not allow" in messages(
        f"from functools import {attr}"
    )


@pytest.mark.parametrize("module", sorted(FROZEN_DENIED_MODULES))
def test_each_denied_module_is_refused_in_both_import_forms(module):
    assert f"imports `{module}`, which the grader does not allow" in messages(f"import {module}")
    parent, _, last = module.rpartition(".")
    assert f"imports `{module}`, which the grader does not allow" in messages(
        f"from {parent} import {last}"
    )
    # and everything below it
    assert f"imports from `{module}.sub`, which the grader does not allow" in messages(
        f"from {module}.sub import thing"
    )


@pytest.mark.parametrize("module", sorted(FROZEN_ALLOWED_IMPORTS - {"__future__"}))
def test_allowed_modules_import_cleanly(module):
    assert messages(f"import {module}") == []


@pytest.mark.parametrize("exc", sorted(FROZEN_SWALLOWING_EXCEPTIONS))
def test_each_swallowing_exception_is_refused(exc):
    wanted = f"catches {exc}, which would also swallow the grader's time-limit interrupt"
    assert any(m.startswith(wanted) for m in messages(f"try:\n    pass\nexcept {exc}:\n    pass"))
    tupled = f"try:\n    pass\nexcept (ValueError, {exc}) as e:\n    pass"
    assert any(m.startswith(wanted) for m in messages(tupled))


def test_exception_is_the_catch_that_is_allowed():
    assert messages("try:\n    pass\nexcept (ValueError, Exception):\n    pass") == []


def test_locals_cannot_reach_the_real_builtins():
    # Without `locals` in DENIED_NAMES this cell would get the real builtins.open in IPython.
    exploit = 'b = locals()["_" * 2 + "builtins" + "_" * 2]\nf = b.open'
    found = grade.scan_source(exploit)
    assert [str(v) for v in found] == ["line 1: uses `locals`, which the grader does not allow"]
