"""The explorers' browser front-ends (cnncourse/widgets/js/) compute what the Python cores compute.

Each JS module is the exact text the widget ships (``_render.esm``), imported in headless
Chromium; its pure functions run over hundreds of seeded random configurations, invalid ones
included, and must give the same result, or raise the same error type with the same message,
as the Python function they port.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cnncourse.widgets import _render
from cnncourse.widgets import stride_padding as sp

pytestmark = pytest.mark.browser

N_CASES = 300

IMPORT_JS = """async (src) => {
  const url = URL.createObjectURL(new Blob([src], {type: 'text/javascript'}));
  window.mod = await import(url);
  return Object.keys(window.mod).sort();
}"""

# Call window.mod[fn](...args) for every case; report a result or the error's type and message.
RUN_JS = """([fn, cases]) => cases.map(args => {
  try { return {ok: window.mod[fn](...args)}; }
  catch (e) { return {err: e.name, msg: e.message}; }
})"""


def jsonable(value):
    if dataclasses.is_dataclass(value):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def run_python(fn, cases):
    out = []
    for args in cases:
        try:
            out.append({"ok": jsonable(fn(*args))})
        except (ValueError, TypeError) as err:
            out.append({"err": type(err).__name__, "msg": str(err)})
    return out


def compare(page, module: str, js_fn: str, py_fn, cases) -> dict:
    """Run both sides; assert equal case by case; return how many were ok / errors."""
    exports = page.evaluate(IMPORT_JS, _render.esm(module))
    assert js_fn in exports and "default" in exports, exports
    got = page.evaluate(RUN_JS, [js_fn, cases])
    want = run_python(py_fn, cases)
    for args, g, w in zip(cases, got, want, strict=True):
        assert g == w, (module, js_fn, args)
    return {"ok": sum("ok" in w for w in want), "error": sum("err" in w for w in want)}


@pytest.fixture()
def blank(page):
    page.goto("about:blank")
    return page


def _bad(rng):
    """An invalid argument: negative, zero, a fraction, a string or a bool."""
    return [-1, 0, -3, 2.5, "3", True][rng.integers(6)]


def stride_cases(seed: int = 0, n: int = N_CASES) -> list[list]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        args = [
            int(rng.integers(1, 17)),  # size
            int(rng.integers(1, 8)),  # kernel_size
            int(rng.integers(0, 5)),  # padding
            int(rng.integers(1, 5)),  # stride
            int(rng.integers(1, 4)),  # dilation
            int(rng.integers(0, 12)),  # step (sometimes past the last output cell)
        ]
        if rng.random() < 0.2:
            args[int(rng.integers(6))] = _bad(rng)
        cases.append(args)
    return cases


def test_stride_padding_js_equals_python(blank):
    cases = stride_cases()
    counts = compare(blank, "stride_padding", "explore", sp.explore, cases)
    # Both decisions are exercised often (a test that only saw errors would prove little).
    assert counts["ok"] >= 100 and counts["error"] >= 50, counts
    compare(blank, "stride_padding", "formulaText", sp.formula_text, [c[:5] for c in cases])
