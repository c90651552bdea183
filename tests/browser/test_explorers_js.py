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

from cnncourse import filters, shapes, tracer
from cnncourse.widgets import _render
from cnncourse.widgets import kernel_explorer as ke
from cnncourse.widgets import nms_explorer as ne
from cnncourse.widgets import pooling_explorer as pe
from cnncourse.widgets import shape_tracer as st
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


# ------------------------------------------------------------------ shared size rules


def size_rule_cases(pool: bool, seed: int, n: int = N_CASES) -> list[list]:
    """Arguments of shapes.conv_output_size (or pool_output_size with ``pool``), ~1/4 invalid."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        stride = None if pool and rng.random() < 0.2 else int(rng.integers(1, 6))
        padding = int(rng.integers(0, 5))
        if not pool and rng.random() < 0.2:
            padding = ["valid", "same"][rng.integers(2)]
        args = [int(rng.integers(1, 17)), int(rng.integers(1, 9)), stride, padding]
        args.append(int(rng.integers(1, 4)))  # dilation
        if pool:
            args.append(bool(rng.random() < 0.5))  # ceil_mode
        if rng.random() < 0.2:
            i = int(rng.integers(len(args)))
            args[i] = {3: "full", 5: "yes"}.get(i, _bad(rng)) if rng.random() < 0.3 else _bad(rng)
        cases.append(args)
    return cases


def effective_kernel_cases(seed: int = 12, n: int = N_CASES) -> list[list]:
    """Arguments of shapes.effective_kernel_size, dilation sometimes left out, ~1/4 invalid."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        args = [int(rng.integers(1, 12)), int(rng.integers(1, 6))][: 1 + (rng.random() < 0.8)]
        if rng.random() < 0.25:
            args[int(rng.integers(len(args)))] = _bad(rng)
        elif len(args) == 2 and rng.random() < 0.1:
            args = [_bad(rng), _bad(rng)]  # both bad: kernel_size is checked first
        cases.append(args)
    return cases


def test_effective_kernel_size_js_equals_shapes(blank):
    """_common.js's effectiveKernelSize (which convOutputSize, poolOutputSize and the stride and
    tracer explorers use for the span d(k-1)+1) gives the value or the exact error of
    shapes.effective_kernel_size."""
    src = (_render.JS_DIR / "_common.js").read_text(encoding="utf-8")
    blank.evaluate(IMPORT_JS, src + "\nexport { effectiveKernelSize };")
    cases = effective_kernel_cases()
    got = blank.evaluate(RUN_JS, ["effectiveKernelSize", cases])
    want = run_python(shapes.effective_kernel_size, cases)
    for args, g, w in zip(cases, got, want, strict=True):
        assert g == w, args
    # values with and without dilation, and both arguments' ValueError and TypeError, all occur
    ok = [args for args, w in zip(cases, want, strict=True) if "ok" in w]
    assert len(ok) >= 150 and sum(len(a) == 1 for a in ok) >= 20, len(ok)
    assert len({w["ok"] for w in want if "ok" in w}) >= 20
    assert sum(all(a in (-1, 0, -3, 2.5, "3", True) for a in args) for args in cases) >= 10
    kinds = {(w["err"], w["msg"].split()[0]) for w in want if "err" in w}
    assert kinds == {
        (e, a) for e in ("ValueError", "TypeError") for a in ("kernel_size", "dilation")
    }


def test_shared_size_rules_js_equal_shapes(blank):
    """_common.js's convOutputSize / poolOutputSize (what all three explorers call) give the value
    or the exact error of shapes.conv_output_size / pool_output_size."""
    src = (_render.JS_DIR / "_common.js").read_text(encoding="utf-8")
    blank.evaluate(IMPORT_JS, src + "\nexport { convOutputSize, poolOutputSize };")
    for js_fn, py_fn, pool, seed in (
        ("convOutputSize", shapes.conv_output_size, False, 10),
        ("poolOutputSize", shapes.pool_output_size, True, 11),
    ):
        cases = size_rule_cases(pool, seed)
        got = blank.evaluate(RUN_JS, [js_fn, cases])
        want = run_python(py_fn, cases)
        for args, g, w in zip(cases, got, want, strict=True):
            assert g == w, (js_fn, args)
        # valid sizes, kernels that do not fit and bad arguments all occur often
        misfit = sum(
            "does not fit" in w.get("msg", "") or "larger than" in w.get("msg", "") for w in want
        )
        ok = sum("ok" in w for w in want)
        assert ok >= 100 and misfit >= 20 and len(cases) - ok - misfit >= 40, (js_fn, ok, misfit)
    # ceil_mode's rule "the last window must start inside the input or its left padding" fires
    dropped = 0
    for (n, k, s, p, d, ceil), w in zip(cases, want, strict=True):
        if "ok" in w and ceil is True:
            dropped += w["ok"] != -((d * (k - 1) + 1 - n - 2 * p) // (s or k)) + 1
    assert dropped >= 3, dropped


# ------------------------------------------------------------------------------ pooling


def pool_state(x, kind, k, s, p, ceil, cip, step):
    """pe.explore as the JS returns it: the dataclass fields plus the derived properties."""
    st = pe.explore(np.asarray(x, dtype=float), kind, k, s, p, ceil, cip, step)
    out = jsonable(st)
    for name in ("n_steps", "position", "window_origin", "window_cells", "window", "value"):
        out[name] = jsonable(getattr(st, name))
    out["winner"] = jsonable(st.winner)
    return out


def finite_only(value):
    """NaN and infinities as strings (JSON has neither; NaN != NaN)."""
    if isinstance(value, dict):
        return {k: finite_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_only(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return repr(value)
    return value


def pooling_cases(seed: int = 1, n: int = N_CASES) -> list[list]:
    rng = np.random.default_rng(seed)
    cases = []
    for t in range(n):
        if t % 4 == 0:  # the explorer's own grids
            x = pe.GRIDS[list(pe.GRIDS)[t // 4 % len(pe.GRIDS)]].tolist()
        else:  # ties (small integers) or fractions, 1..12 rows and columns
            shape = rng.integers(2, 13, size=2)
            x = (
                rng.integers(0, 4, size=shape).astype(float)
                if rng.random() < 0.5
                else np.round(rng.normal(size=shape) * 5, 2)
            ).tolist()
        k = int(rng.integers(1, 5))
        args = [
            x,
            ["max", "avg"][rng.integers(2)],
            k,
            int(rng.integers(1, 6)),
            int(rng.integers(0, k // 2 + 1 + (rng.random() < 0.2))),  # past k // 2 at times
            bool(rng.random() < 0.4),
            bool(rng.random() < 0.6),
            int(rng.integers(0, 8)),
        ]
        if rng.random() < 0.15:
            i = int(rng.integers(1, 8))
            args[i] = {1: "min", 5: 1, 6: "yes"}.get(i, _bad(rng))
        cases.append(args)
    return cases


def test_pooling_js_equals_python(blank):
    cases = pooling_cases()
    blank.evaluate(IMPORT_JS, _render.esm("pooling_explorer"))
    got = finite_only(blank.evaluate(RUN_JS, ["explore", cases]))
    want = finite_only(run_python(pool_state, cases))
    for args, g, w in zip(cases, got, want, strict=True):
        assert g == w, args[1:]
    ok = [(args, w["ok"]) for args, w in zip(cases, want, strict=True) if "ok" in w]
    assert len(ok) >= 100 and len(cases) - len(ok) >= 50, len(ok)
    # the text under the grids: the size formula and the window's arithmetic
    states = [s for _, s in ok]
    for fn_js, fn_py in (("formulaText", pe.formula_text), ("windowText", pe.window_text)):
        got = blank.evaluate(
            "([fn, cases]) => cases.map(a => window.mod[fn](window.mod.explore(...a)))",
            [fn_js, [a for a, _ in ok]],
        )
        want = [fn_py(pe.explore(np.asarray(a[0], float), *a[1:])) for a, _ in ok]
        assert got == want
    assert len(states) == len(ok)


def test_format_g_matches_python(blank):
    """The numbers the page prints are formatted as Python's '.3g' (exact ties included)."""
    rng = np.random.default_rng(2)
    values = [0.8125, 0.8135, 2.5, 1234.5, 0.000123456, -0.00045, 99.95, 1e-7, 123456.0]
    values += (rng.normal(size=300) * 10.0 ** rng.integers(-6, 7, size=300)).tolist()
    values += (rng.integers(-2000, 2000, size=100) / 16).tolist()  # exact binary ties
    blank.evaluate(IMPORT_JS, _render.esm("pooling_explorer"))
    # formatG is module-private: check it through windowText on 1x1 average grids (the value
    # printed is the input itself) -- the path the page uses.
    cases = [[[[v]], "avg", 1, 1, 0, False, True, 0] for v in values]
    got = blank.evaluate(
        "cases => cases.map(a => window.mod.windowText(window.mod.explore(...a)))", cases
    )
    want = [pe.window_text(pe.explore(np.array(a[0]), *a[1:])) for a in cases]
    assert got == want


# ------------------------------------------------------------------------------ kernel


def kernel_cases(seed: int = 3, n: int = N_CASES) -> list[list]:
    rng = np.random.default_rng(seed)
    cases = []
    for t in range(n):
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        image = (rng.integers(0, 256, size=(h, w)) / 255).tolist()  # a photo's levels
        if t % 3 == 0:  # a preset, 3x3 or 5x5, as the explorer offers them
            name = ke.PRESETS[t // 3 % len(ke.PRESETS)]
            kernel = ke._preset_cells(name, int(rng.choice(ke.SIZES)))
        else:
            kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
            k = np.round(rng.normal(size=(kh, kw)) * 3, 2)
            kernel = (k - k.mean() if rng.random() < 0.4 else k).tolist()  # zero-sum: signed
        boundary = str(rng.choice(list(filters.BOUNDARY_MODES)))
        if rng.random() < 0.15:
            boundary = "zeros"
        if rng.random() < 0.1:
            kernel[0][-1] = float(rng.choice([np.nan, np.inf, -np.inf]))
        cases.append([image, kernel, boundary])
    return cases


def test_kernel_js_equals_python(blank):
    """filter2d over every boundary rule (also where the padding is wider than the image),
    the colour scale and the colour binning. Sums may add in another order than numpy's
    BLAS path, so floats agree to 1e-12 and the colour indices exactly where not on a bin
    edge."""
    cases = kernel_cases()
    blank.evaluate(IMPORT_JS, _render.esm("kernel_explorer"))
    got = blank.evaluate(
        """cases => cases.map(([x, k, b]) => {
          try {
            const out = window.mod.filter2d(x, k, b);
            const [lo, hi, cmap] = window.mod.displayRange(k, out);
            return {ok: [out, lo, hi, cmap, window.mod.colourIndices(out, lo, hi)]};
          } catch (e) { return {err: e.name, msg: e.message}; }
        })""",
        cases,
    )
    n_ok = 0
    for (x, k, b), g in zip(cases, got, strict=True):
        try:
            out = filters.filter2d(np.array(x), np.array(k), b)
        except (ValueError, TypeError) as err:
            assert g == {"err": type(err).__name__, "msg": str(err)}, (k, b)
            continue
        n_ok += 1
        assert "ok" in g, (k, b, g)
        js_out, lo, hi, cmap, idx = g["ok"]
        np.testing.assert_allclose(js_out, out, rtol=1e-12, atol=1e-12)
        want = _render.display_range(np.array(k), out)
        assert cmap == want[2]
        if want[2] == _render.SIGNED_CMAP and np.abs(out).max() < 1e-9:
            continue  # an all-zero edge map: Python's scale is rounding noise (or 1 if exact)
        np.testing.assert_allclose([lo, hi], want[:2], rtol=1e-12, atol=1e-12)
        want_idx = _render.colour_indices(out, *want[:2])
        bins = (out - want[0]) * 256 / (want[1] - want[0])
        edge = np.abs(bins - np.round(bins)) < 1e-9  # a sum's last bit decides the bin
        bad = np.array(idx)[~edge] != want_idx[~edge]
        assert not bad.any(), (
            np.array(idx)[~edge][bad],
            want_idx[~edge][bad],
            out[~edge][bad],
            want,
        )
    assert n_ok >= 150 and len(cases) - n_ok >= 30, n_ok


# ------------------------------------------------------------------------------ NMS


def nms_py(boxes, scores, st, it, step):
    r = ne.explore(np.array(boxes, dtype=float).reshape(-1, 4), np.array(scores, float), st, it)
    steps = [
        {"kept": d.kept, "suppressed": list(d.suppressed), "ious": list(d.ious)} for d in r.steps
    ]
    statuses = ne.statuses_at(r, step)
    return {
        "below": r.below.tolist(),
        "steps": steps,
        "keep": r.keep.tolist(),
        "statuses": statuses,
    }


def nms_cases(seed: int = 4, n: int = N_CASES) -> list[list]:
    rng = np.random.default_rng(seed)
    cases = []
    for t in range(n):
        if t % 3 == 0:  # the explorer's own saved scenes
            _, boxes, scores = ne.example_scene(t // 3 % 20)
        else:  # random clusters, with tied scores
            m = int(rng.integers(0, 15))
            xy = rng.uniform(0, 40, size=(m, 2))
            wh = rng.uniform(0, 20, size=(m, 2)) * (rng.random((m, 1)) > 0.05)  # some empty
            boxes = np.round(np.concatenate([xy, xy + wh], 1), 1)
            scores = np.round(rng.uniform(0, 1, m), 1)
        st, it = float(np.round(rng.uniform(0, 1), 2)), float(np.round(rng.uniform(0, 1), 2))
        if rng.random() < 0.1:
            st = [1.5, -0.1, "a", True][rng.integers(4)]
        if rng.random() < 0.1:
            it = [2.0, -1.0, "0.5", False][rng.integers(4)]
        if rng.random() < 0.05 and len(scores):
            scores = scores[:-1]
        cases.append([boxes.tolist(), scores.tolist(), st, it, int(rng.integers(0, 8))])
    return cases


def test_nms_js_equals_python(blank):
    cases = nms_cases()
    blank.evaluate(IMPORT_JS, _render.esm("nms_explorer"))
    got = blank.evaluate(
        """cases => cases.map(([b, s, st, it, step]) => {
          try {
            const r = window.mod.explore(b, s, st, it);
            const statuses = window.mod.statusesAt(r, s.length, step);
            return {ok: {below: r.below, steps: r.steps, keep: r.keep, statuses}};
          } catch (e) { return {err: e.name, msg: e.message}; }
        })""",
        cases,
    )
    want = run_python(nms_py, cases)
    for args, g, w in zip(cases, got, want, strict=True):
        assert g == w, args[2:]
    n_ok = sum("ok" in w for w in want)
    assert n_ok >= 100 and len(cases) - n_ok >= 40, n_ok


# ------------------------------------------------------------------------------ shape tracer


def tracer_cases(seed: int = 5, n: int = N_CASES) -> list[list]:
    """Every built-in stack at random sizes: near the smallest that fit (many too small), over
    the whole slider range, and a few invalid sizes (out of range, not integers, the default)."""
    rng = np.random.default_rng(seed)
    names = list(st.STACKS)
    cases = []
    for t in range(n):
        r = rng.random()
        if r < 0.45:
            size = int(rng.integers(1, 48))
        elif r < 0.92:
            size = int(rng.integers(1, st.MAX_INPUT_SIZE + 1))
        else:
            size = [0, st.MAX_INPUT_SIZE + 1, 1000, -3, 2.5, "32", True, None][rng.integers(8)]
        cases.append([names[t % len(names)], size])
    return [*cases, ["AlexNet-99", 32]]


def test_shape_tracer_js_equals_python(blank):
    """traceStack (the table: every column of every row, the totals) and tableHtml (what the
    page shows) equal trace_stack and ShapeTable._repr_html_; the same error text where the
    input is too small or invalid."""
    stacks = st.page_stacks()
    assert [s["name"] for s in stacks if s["layers"] is None] == []  # every built-in is live
    headers = [[key, label] for key, label in tracer.HEADERS.items()]
    cases = tracer_cases()
    exports = blank.evaluate(IMPORT_JS, _render.esm("shape_tracer"))
    assert {"traceStack", "tableHtml", "default"} <= set(exports), exports
    got = blank.evaluate(
        """([stacks, headers, max, cases]) => cases.map(([name, size]) => {
          try {
            const t = window.mod.traceStack(stacks, name, size, max);
            return {ok: t, html: window.mod.tableHtml(t, headers)};
          } catch (e) { return {err: e.name, msg: e.message}; }
        })""",
        [stacks, headers, st.MAX_INPUT_SIZE, cases],
    )
    too_small = n_ok = 0
    for (name, size), g in zip(cases, got, strict=True):
        try:
            table = st.trace_stack(name, size)
        except (ValueError, TypeError) as err:
            assert g == {"err": type(err).__name__, "msg": str(err)}, (name, size)
            too_small += "too small" in str(err)
            continue
        n_ok += 1
        assert "ok" in g, (name, size, g)
        want = st.table_json(table)
        for g_row, w_row in zip(g["ok"].pop("rows"), want.pop("rows"), strict=True):
            assert g_row == w_row, (name, size)
        assert g["ok"] == want, (name, size)
        assert g["html"] == table._repr_html_(), (name, size)
    assert n_ok >= 150 and too_small >= 40 and len(cases) - n_ok - too_small >= 10, (
        n_ok,
        too_small,
    )
