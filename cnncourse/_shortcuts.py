"""Kernel side of the shortcut policy: notice answers that call a reference implementation.

The sandbox runner imports this in the grading kernel before any student cell runs
(:func:`install`), arms it around each test cell that the instructor's policy names
(:func:`begin`/:func:`end`), and turns what it saw into a ``ShortcutError`` output of that test
cell, which scores 0 in both graders. A call counts when code from a cell the student wrote is on
the call stack: the test cells themselves may call the reference to compare answers.

This is a policy, not a protection: it runs in the student's own kernel.
"""

from __future__ import annotations

import functools
import json
import sys

_armed: frozenset[str] = frozenset()
_student_counts: frozenset[int] = frozenset()
_seen: list[str] = []


def _student_frame(frame) -> bool:
    try:
        names = get_ipython().compile._filename_map  # noqa: F821 - the kernel's shell
    except Exception:  # noqa: BLE001 - outside IPython nothing is student code
        return False
    while frame is not None:
        number = names.get(frame.f_code.co_filename)
        if number is not None and number in _student_counts:
            return True
        frame = frame.f_back
    return False


def _wrap(name: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if name in _armed and name not in _seen and _student_frame(sys._getframe(1)):
            _seen.append(name)
        return function(*args, **kwargs)

    return wrapper


def _patch(module, name: str) -> None:
    attr = name.rpartition(".")[2]
    function = getattr(module, attr, None)
    if function is not None and not hasattr(function, "__cnncourse_reference__"):
        wrapper = _wrap(name, function)
        wrapper.__cnncourse_reference__ = name
        setattr(module, attr, wrapper)


class _PatchingLoader:
    """Runs a module, then wraps the listed functions before anyone can take them."""

    def __init__(self, loader, names: list[str]):
        self.loader, self.names = loader, names

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        for name in self.names:
            _patch(module, name)

    def __getattr__(self, attr):
        return getattr(self.loader, attr)


class _Finder:
    """Meta path finder: modules of the policy are patched when first imported (no import is
    forced: a kernel that never imports torch never pays for it)."""

    def __init__(self, pending: dict[str, list[str]]):
        self.pending = pending

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader, self.pending.pop(fullname))
        return spec


def install(names: list[str]) -> None:
    """Wrap each ``module.function`` (now, or when its module is first imported)."""
    pending: dict[str, list[str]] = {}
    for name in names:
        module_name = name.rpartition(".")[0]
        module = sys.modules.get(module_name)
        if module is not None:
            _patch(module, name)
        else:
            pending.setdefault(module_name, []).append(name)
    if pending:
        sys.meta_path.insert(0, _Finder(pending))


def begin(names: list[str], student_counts: list[int]) -> None:
    global _armed, _student_counts
    _armed, _student_counts = frozenset(names), frozenset(student_counts)
    _seen.clear()


def end() -> str:
    global _armed
    _armed = frozenset()
    return json.dumps(list(_seen))
