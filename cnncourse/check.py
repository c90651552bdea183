"""Friendly self-checks for the exercise notebooks (``exercises/``, ``solutions/``).

Every check prints one line starting with ✅ when it passes. When it fails it raises
:class:`CheckFailure`, an ``AssertionError`` (so nbgrader scores the test cell 0), whose message
starts with ❌ and says what was checked, what was expected, what the notebook produced and, when
the test has one, a hint::

    >>> check.close("corr2d(x, k)", corr2d(x, k), [[19, 25], [37, 43]])
    ✅ corr2d(x, k): all 4 values match

The checks cannot be talked into passing by the notebook they check:

- comparisons use numpy functions captured when this module is imported, so redefining
  ``numpy.allclose`` (or ``numpy.isclose``, ``numpy.abs``) later in a notebook changes nothing;
- values are converted to plain numbers first (``float``, ``int``, ``str``, numpy arrays of
  float64), so an object that claims to equal everything is rejected, not believed;
- the module itself is read-only: ``check.close = ...`` raises ``AttributeError``.

The grader (:mod:`cnncourse.grade`) adds a second, outside line of defence: it does not run
cells that reassign attributes of modules or reach for the interpreter's internals.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "CheckFailure",
    "close",
    "equal",
    "shape",
    "number",
    "numbers_list",
    "one_of",
    "raises",
    "that",
    "predict",
]

# Captured at import time: later monkeypatching of numpy in the notebook does not reach these.
_array = np.array
_asarray = np.asarray
_abs = np.abs
_isfinite = np.isfinite
_logical_not = np.logical_not
_argmax = np.argmax
_unravel_index = np.unravel_index
_array2string = np.array2string
_count_nonzero = np.count_nonzero
_float64 = np.float64
_ndarray = np.ndarray
_bool_types = (bool, np.bool_)
_print = print


class CheckFailure(AssertionError):
    """A self-check failed. The message says what was expected, what was found, and a hint."""


def _fail(name: str, lines: Sequence[str], hint: str | None) -> None:
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    text = [f"❌ {name}: {lines[0]}", *(f"   {line}" for line in lines[1:])]
    if hint:
        text.append(f"   hint: {hint}")
    raise CheckFailure("\n".join(text))


def _ok(name: str, detail: str) -> None:
    _print(f"✅ {name}: {detail}")


def _describe(value: Any) -> str:
    """A short, safe description of a value (never calls the value's own ``__repr__``)."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return repr(value.item() if isinstance(value, np.generic) else value)
    kind = type(value).__name__
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return f"a {kind} of shape {tuple(int(s) for s in shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {kind} of length {len(value)}"
    return f"a {kind}"


def _to_float_array(name: str, value: Any, hint: str | None, what: str) -> np.ndarray:
    """``value`` as a fresh float64 ndarray (not a subclass), or a CheckFailure."""
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    if value is None:
        _fail(name, [f"{what} is None", "write your answer in the cell above"], hint)
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        _fail(name, [f"expected numbers, got the string {value!r}"], hint)
    try:
        arr = _array(value, dtype=_float64)
    except (TypeError, ValueError) as err:
        _fail(name, [f"expected numbers, got {_describe(value)} ({err})"], hint)
    if type(arr) is not _ndarray:  # pragma: no cover - np.array never returns a subclass here
        arr = _asarray(arr).view(_ndarray)
    return arr


def _format_array(a: np.ndarray) -> str:
    text = _array2string(a, precision=4, suppress_small=True, separator=", ", threshold=40)
    return text.replace("\n", "\n             ")


def close(
    name: str,
    got: Any,
    expected: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    hint: str | None = None,
) -> None:
    """Check that ``got`` has the shape of ``expected`` and every value is within tolerance.

    ``|got - expected| <= atol + rtol * |expected|`` element-wise; NaN never matches. Accepts
    numbers, nested lists, numpy arrays and torch tensors.
    """
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    g = _to_float_array(name, got, hint, "your answer")
    e = _to_float_array(name, expected, None, "the expected value")
    if g.shape != e.shape:
        _fail(name, [f"expected shape {e.shape}, got shape {g.shape}"], hint)
    diff = _abs(g - e)
    bad = _logical_not(diff <= atol + rtol * _abs(e))  # NaN compares False -> counted as bad
    n_bad = int(_count_nonzero(bad))
    if n_bad == 0:
        _ok(name, "matches" if g.size == 1 else f"all {g.size} values match")
        return
    if g.ndim == 0:
        _fail(name, [f"expected {float(e):.6g}, got {float(g):.6g}"], hint)
    score = diff.copy()
    score[_logical_not(_isfinite(score))] = math.inf
    worst = _unravel_index(int(_argmax(score)), g.shape)
    lines = [
        f"{n_bad} of {g.size} values differ; first look at index {tuple(int(i) for i in worst)}: "
        f"expected {e[worst]:.6g}, got {g[worst]:.6g}"
    ]
    if g.size <= 64:
        lines += [f"expected: {_format_array(e)}", f"got:      {_format_array(g)}"]
    _fail(name, lines, hint)


def _plain(value: Any) -> Any:
    """Convert to plain Python values (int, float, str, bool, tuple) or raise TypeError.

    Dispatches on ``type(value)`` (which an object cannot fake, unlike ``isinstance``) and uses
    the base types' own conversions, so a subclass cannot pick the value it compares as.
    """
    t = type(value)
    if value is None:
        return None
    if t is bool or t is np.bool_:
        return bool(value)
    if issubclass(t, str):
        return str.__str__(value)
    if issubclass(t, int):
        return int.__int__(value)
    if issubclass(t, float):
        return float.__float__(value)
    if issubclass(t, (np.integer, np.floating)):
        return _plain(_array(value).tolist())
    if t.__module__.split(".")[0] == "torch" and hasattr(value, "tolist"):
        return _plain(value.tolist() if hasattr(value, "dim") else tuple(value))  # tensor, Size
    if issubclass(t, np.ndarray):
        return _plain(_array(value).tolist())
    if issubclass(t, (list, tuple)):
        return tuple(_plain(v) for v in list(value))
    raise TypeError(f"cannot compare {_describe(value)}")


def equal(name: str, got: Any, expected: Any, *, hint: str | None = None) -> None:
    """Check exact equality of integers, strings, booleans and tuples/lists of them.

    Lists and tuples compare equal to each other (``[2, 3] == (2, 3)``); ``True`` is not ``1``.
    """
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    want = _plain(expected)
    if got is None and want is not None:
        _fail(name, ["your answer is None", "write your answer in the cell above"], hint)
    try:
        have = _plain(got)
    except TypeError as err:
        _fail(name, [f"expected {want!r}, got {_describe(got)} ({err})"], hint)
    if not _same(have, want):
        _fail(name, [f"expected {want!r}, got {have!r}"], hint)
    _ok(name, f"{have!r}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (
            isinstance(a, tuple)
            and isinstance(b, tuple)
            and len(a) == len(b)
            and all(_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        return False
    return a == b


def shape(name: str, got: Any, expected_shape: Sequence[int], *, hint: str | None = None) -> None:
    """Check the ``.shape`` of an array or tensor (or ``len`` of a list)."""
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    want = tuple(int(s) for s in expected_shape)
    if got is None:
        _fail(name, ["your answer is None", "write your answer in the cell above"], hint)
    raw = getattr(got, "shape", None)
    if raw is None and isinstance(got, (list, tuple)):
        raw = _asarray(got).shape
    try:
        have = tuple(int(s) for s in raw)
    except TypeError:
        _fail(name, [f"expected something with a shape {want}, got {_describe(got)}"], hint)
    if have != want:
        _fail(name, [f"expected shape {want}, got shape {have}"], hint)
    _ok(name, f"shape {have}")


def number(name: str, got: Any, *, hint: str | None = None) -> None:
    """Format check for a hand-computed answer: one finite real number (not a bool)."""
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    if got is None:
        _fail(name, ["your answer is None", "write your answer in the cell above"], hint)
    t = type(got)
    if t is bool or t is np.bool_ or not issubclass(t, (int, float, np.integer, np.floating)):
        _fail(name, [f"expected a number, got {_describe(got)}"], hint)
    if not math.isfinite(float(_array(got, dtype=_float64))):
        _fail(name, [f"expected a finite number, got {_describe(got)}"], hint)
    _ok(name, "a number (the value is checked when the notebook is graded)")


def numbers_list(name: str, got: Any, length: int, *, hint: str | None = None) -> None:
    """Format check for a hand-computed answer: a list/tuple/array of ``length`` real numbers."""
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    if got is None:
        _fail(name, ["your answer is None", "write your answer in the cell above"], hint)
    arr = _to_float_array(name, got, hint, "your answer")
    if arr.ndim != 1 or arr.shape[0] != length:
        _fail(name, [f"expected a list of {length} numbers, got {_describe(got)}"], hint)
    if not bool(_isfinite(arr).all()):
        _fail(name, ["every value must be a finite number"], hint)
    _ok(name, f"{length} numbers (the values are checked when the notebook is graded)")


def one_of(name: str, got: Any, options: Sequence[Any], *, hint: str | None = None) -> None:
    """Format check for a multiple-choice answer: ``got`` must be one of ``options``."""
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    opts = tuple(_plain(o) for o in options)
    if got is None:
        _fail(name, [f"your answer is None; choose one of {opts}"], hint)
    try:
        have = _plain(got)
    except TypeError:
        _fail(name, [f"expected one of {opts}, got {_describe(got)}"], hint)
    if not any(_same(have, o) for o in opts):
        _fail(name, [f"expected one of {opts}, got {have!r}"], hint)
    _ok(name, f"{have!r} is a valid choice (whether it is right is checked when graded)")


def raises(
    name: str,
    exception: type[BaseException] | tuple[type[BaseException], ...],
    func: Callable[..., Any],
    *args: Any,
    hint: str | None = None,
    **kwargs: Any,
) -> None:
    """Check that ``func(*args, **kwargs)`` raises ``exception`` (a stub's NotImplementedError passes through)."""
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    wanted = exception if isinstance(exception, tuple) else (exception,)
    label = " or ".join(e.__name__ for e in wanted)
    try:
        func(*args, **kwargs)
    except NotImplementedError:
        raise
    except wanted as err:
        _ok(name, f"raised {type(err).__name__}")
        return
    except Exception as err:
        _fail(name, [f"expected {label}, got {type(err).__name__}: {err}"], hint)
    _fail(name, [f"expected {label}, but nothing was raised"], hint)


def that(
    name: str,
    condition: Any,
    *,
    expected: str | None = None,
    got: str | None = None,
    hint: str | None = None,
) -> None:
    """Check a condition that must be exactly ``True`` (a bool, not a truthy object)."""
    __tracebackhide__ = True  # IPython: show the failing test line, not these internals
    if not (isinstance(condition, _bool_types) and bool(condition)):
        lines = ["the condition does not hold"]
        if expected is not None:
            lines.append(f"expected: {expected}")
        if got is not None:
            lines.append(f"got:      {got}")
        _fail(name, lines, hint)
    _ok(name, "holds")


def predict(
    name: str,
    guess: Any,
    actual: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    hint: str | None = None,
) -> None:
    """Feedback on a prediction in a chapter's "predict, then run" exercise (never raises).

    ``guess`` is the reader's prediction (``None`` until they write one), ``actual`` what the
    cell computed. Numbers and arrays compare as :func:`close` does, anything else as
    :func:`equal`. Prints one line: ✍️ (no prediction yet: write it, run again), ✅ (right, with
    the computed value) or 🔁 (the prediction, the computed value and the hint). Unlike the other
    checks it does not raise: a wrong prediction followed by the right value is the point of the
    exercise.
    """
    if guess is None:
        _print(f"✍️ {name}: write your prediction first (replace None), then run this cell again")
        return
    try:
        numeric = not isinstance(_plain(actual), (str, bool)) and not isinstance(guess, str)
        if numeric:
            g = _to_float_array(name, guess, hint, "your prediction")
            e = _to_float_array(name, actual, None, "the computed value")
            right = g.shape == e.shape and bool((_abs(g - e) <= atol + rtol * _abs(e)).all())
        else:
            right = _same(_plain(guess), _plain(actual))
    except (TypeError, CheckFailure):
        right = False
    shown = _shown(actual)
    if right:
        _ok(name, f"right, the cell computed {shown}")
        return
    lines = [f"🔁 {name}: you predicted {_shown(guess)}; the cell computed {shown}"]
    if hint:
        lines.append(f"   why: {hint}")
    _print("\n".join(lines))


def _shown(value: Any) -> str:
    """A value as the reader should see it: small arrays in full, else a safe description."""
    try:
        plain = _plain(value)
    except TypeError:
        return _describe(value)
    if isinstance(plain, tuple) and len(plain) > 16:
        return _describe(value)
    if isinstance(plain, tuple) and type(value).__name__ in ("ndarray", "Tensor"):
        return _format_array(_to_float_array("value", value, None, "value"))
    if isinstance(plain, float):
        return f"{plain:.6g}"
    return repr(plain)


_IMPORT_ATTRS = frozenset(
    {"__spec__", "__loader__", "__file__", "__cached__", "__package__", "__name__", "__path__"}
)


class _ReadOnlyModule(types.ModuleType):
    """Module type that refuses attribute assignment, so a notebook cannot swap a check out."""

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr in _IMPORT_ATTRS:  # importlib.reload sets these
            types.ModuleType.__setattr__(self, attr, value)
            return
        raise AttributeError(f"cnncourse.check is read-only; cannot set {attr!r}")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"cnncourse.check is read-only; cannot delete {attr!r}")


if type(sys.modules[__name__]).__name__ != "_ReadOnlyModule":  # not again on importlib.reload
    sys.modules[__name__].__class__ = _ReadOnlyModule
