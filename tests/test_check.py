"""cnncourse.check: friendly messages, strict comparisons, and no way to make a check pass."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnncourse import check


def test_failure_is_an_assertion_error():
    assert issubclass(check.CheckFailure, AssertionError)


def test_close_passes_and_prints_a_tick(capsys):
    check.close("corr2d(x, k)", [[19, 25], [37, 43]], np.array([[19.0, 25], [37, 43]]))
    assert capsys.readouterr().out == "✅ corr2d(x, k): all 4 values match\n"


def test_close_failure_names_the_test_and_shows_expected_got_hint():
    with pytest.raises(check.CheckFailure) as info:
        check.close("corr2d(x, k)", [[19, 25], [37, 44]], [[19, 25], [37, 43]], hint="no flip")
    text = str(info.value)
    assert text.startswith("❌ corr2d(x, k): 1 of 4 values differ")
    assert "index (1, 1): expected 43, got 44" in text
    assert "expected: [[19., 25.]," in text and "got:      [[19., 25.]," in text
    assert text.endswith("hint: no flip")


def test_close_reports_shape_mismatch_and_none():
    with pytest.raises(check.CheckFailure, match=r"expected shape \(2, 2\), got shape \(1, 1\)"):
        check.close("y", [[1.0]], np.ones((2, 2)))
    with pytest.raises(check.CheckFailure, match="your answer is None"):
        check.close("y", None, 1.0)
    with pytest.raises(check.CheckFailure, match="expected numbers, got the string 'abc'"):
        check.close("y", "abc", 1.0)
    with pytest.raises(check.CheckFailure, match="expected numbers"):
        check.close("y", [object()], [1.0])


def test_close_rejects_nan_and_accepts_tensors():
    with pytest.raises(check.CheckFailure, match="1 of 2 values differ"):
        check.close("y", [1.0, float("nan")], [1.0, 2.0])
    check.close("y", torch.tensor([1.0, 2.0], requires_grad=True) * 1, [1.0, 2.0])


@given(
    hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4), elements=st.floats(-1e6, 1e6)),
    st.floats(1e-3, 1e3),
)
def test_close_agrees_with_numpy_isclose(expected, delta):
    """Property: check.close passes exactly when numpy.isclose holds everywhere (same tolerances)."""
    got = expected + delta
    agree = bool(np.all(np.isclose(got, expected, rtol=1e-6, atol=1e-8)))
    try:
        check.close("x", got, expected)
        passed = True
    except check.CheckFailure:
        passed = False
    assert passed == agree
    check.close("x", expected.copy(), expected)


def test_equal_is_exact_and_type_strict():
    check.equal("n", np.int64(1792), 1792)
    check.equal("shape", torch.Size([1, 32, 16, 16]), (1, 32, 16, 16))
    check.equal("letter", "C", "C")
    check.equal("t", [2, 3], (2, 3))
    with pytest.raises(check.CheckFailure, match="expected True, got 1"):
        check.equal("b", 1, True)
    with pytest.raises(check.CheckFailure, match="expected 'C', got 'c'"):
        check.equal("letter", "c", "C")
    with pytest.raises(check.CheckFailure, match="expected 1792, got 1793"):
        check.equal("n", 1793, 1792, hint="h")
    with pytest.raises(check.CheckFailure, match="your answer is None"):
        check.equal("n", None, 3)


def test_objects_that_claim_equality_are_not_believed():
    class Anything:
        def __eq__(self, other):
            return True

        def __array__(self, dtype=None, copy=None):
            raise TypeError("no")

    class SneakyInt(int):
        def __eq__(self, other):
            return True

        def __int__(self):
            return 1792

    with pytest.raises(check.CheckFailure):
        check.equal("n", Anything(), 1792)
    with pytest.raises(check.CheckFailure, match="got 5"):
        check.equal("n", SneakyInt(5), 1792)
    with pytest.raises(check.CheckFailure):
        check.close("x", Anything(), [1.0])
    with pytest.raises(check.CheckFailure):
        check.that("cond", np.array([True]))  # truthy, but not a bool


def test_format_checks():
    check.number("n", 0.83)
    check.number("n", np.int64(3))
    for bad, message in [
        (None, "is None"),
        (True, "expected a number, got True"),
        ("1", "expected a number, got '1'"),
        (float("nan"), "finite"),
        ([1.0], "expected a number, got a list"),
    ]:
        with pytest.raises(check.CheckFailure, match=message):
            check.number("n", bad)
    check.numbers_list("y", [1, 2.5, -3], 3)
    check.one_of("row", "B", ["A", "B"])
    with pytest.raises(check.CheckFailure, match="expected a list of 6 numbers"):
        check.numbers_list("y", [1, 2], 6)
    with pytest.raises(check.CheckFailure, match="finite"):
        check.numbers_list("y", [1, np.inf], 2)
    with pytest.raises(check.CheckFailure, match=r"expected one of \('A', 'B'\), got 'Z'"):
        check.one_of("row", "Z", ["A", "B"])
    with pytest.raises(check.CheckFailure, match="your answer is None"):
        check.one_of("row", None, ["A"])


def test_shape_and_raises_and_that():
    check.shape("y", np.zeros((2, 3)), (2, 3))
    check.shape("y", [[1, 2, 3]], (1, 3))
    with pytest.raises(check.CheckFailure, match=r"expected shape \(2, 3\), got shape \(3, 2\)"):
        check.shape("y", torch.zeros(3, 2), (2, 3))
    check.raises("int('x')", ValueError, int, "x")
    with pytest.raises(check.CheckFailure, match="expected ValueError, but nothing was raised"):
        check.raises("int('1')", ValueError, int, "1")
    with pytest.raises(check.CheckFailure, match="expected ValueError, got KeyError"):
        check.raises("d['x']", ValueError, {}.__getitem__, "x")

    def stub():
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):  # a stub stays a stub, not a check failure
        check.raises("stub", ValueError, stub)
    check.that("1 < 2", 1 < 2)
    with pytest.raises(check.CheckFailure, match="expected: a\n   got:      b"):
        check.that("c", False, expected="a", got="b")


def test_monkeypatching_numpy_does_not_change_a_check(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "isclose", lambda a, b, **k: np.ones(np.broadcast(a, b).shape, bool))
    monkeypatch.setattr(np, "abs", lambda x: np.zeros_like(x))
    with pytest.raises(check.CheckFailure):
        check.close("x", [1.0, 2.0], [1.0, 3.0])


def test_module_is_read_only_and_survives_reload():
    with pytest.raises(AttributeError, match="read-only"):
        check.close = lambda *a, **k: None
    with pytest.raises(AttributeError, match="read-only"):
        del check.equal
    with pytest.raises(AttributeError, match="read-only"):
        check.__class__ = type(importlib)
    reloaded = importlib.reload(check)
    with pytest.raises(reloaded.CheckFailure):
        reloaded.close("x", 1.0, 2.0)
    with pytest.raises(AttributeError):
        reloaded._abs = None
