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
import importlib
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


def install(names: list[str]) -> None:
    """Replace each ``module.function`` by a wrapper that notices student calls."""
    for name in names:
        module_name, _, attr = name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
            setattr(module, attr, _wrap(name, getattr(module, attr)))
        except (ImportError, AttributeError):
            continue


def begin(names: list[str], student_counts: list[int]) -> None:
    global _armed, _student_counts
    _armed, _student_counts = frozenset(names), frozenset(student_counts)
    _seen.clear()


def end() -> str:
    global _armed
    _armed = frozenset()
    return json.dumps(list(_seen))
