// Browser front-end of cnncourse.widgets.stride_padding: a port of explore() and formula_text()
// (the size arithmetic of cnncourse.shapes they use is in _common.js), so the explorer also runs
// on the static website. tests/browser/test_explorers_js.py proves explore() equal to the Python core.

const CONFIG = ["size", "kernel_size", "padding", "stride", "dilation"];

function checkConfig(n, k, p, s, d) {
  return [
    checkInt("size", n, 1), checkInt("kernel_size", k, 1), checkInt("padding", p, 0),
    checkInt("stride", s, 1), checkInt("dilation", d, 1),
  ];
}

// shapes.pixel_usage(..., include_padding=True): windows reading each padded cell.
function pixelUsage(n, k, s, p, d) {
  const out = convOutputSize(n, k, s, p, d);
  const counts = new Array(n + 2 * p).fill(0);
  for (let o = 0; o < out; o++) for (let t = 0; t < k; t++) counts[o * s + t * d] += 1;
  return counts;
}

export function formulaText(size, kernelSize, padding = 0, stride = 1, dilation = 1) {
  const [n, k, p, s, d] = checkConfig(size, kernelSize, padding, stride, dilation);
  const numerator = convOutputTerms(n, k, s, p, d);
  const out = floorDiv(numerator, s) + 1;
  return `floor((${n} + 2*${p} - ${d}*(${k}-1) - 1) / ${s}) + 1 = floor(${numerator} / ${s}) + 1 = ${out}`;
}

function formulaHtml(n, k, p, s, d) {
  const numerator = convOutputTerms(n, k, s, p, d);
  const out = floorDiv(numerator, s) + 1;
  return (
    '<div style="font-family:serif;font-size:15px;line-height:1.6">' +
    "out = &lfloor;(n + 2p &minus; d(k&minus;1) &minus; 1) / s&rfloor; + 1<br>" +
    `&nbsp;&nbsp;&nbsp;&nbsp;= &lfloor;(${n} + 2&middot;${p} &minus; ${d}&middot;(${k}&minus;1) ` +
    `&minus; 1) / ${s}&rfloor; + 1 = &lfloor;${numerator} / ${s}&rfloor; + 1 = <b>${out}</b></div>`
  );
}

// explore(): one frame, the fields of the Python StrideState (usage as nested arrays).
export function explore(size, kernelSize, padding = 0, stride = 1, dilation = 1, step = 0) {
  const [n, k, p, s, d] = checkConfig(size, kernelSize, padding, stride, dilation);
  const out = convOutputSize(n, k, s, p, d);
  step = checkInt("step", step, 0);
  if (step >= out * out) throw new ValueError(`step must be < output_size**2 = ${out * out}, got ${step}`);
  const row = floorDiv(step, out), col = step % out;
  const u = pixelUsage(n, k, s, p, d);
  const usage = u.map((a) => u.map((b) => a * b));
  const kEff = effectiveKernelSize(k, d);
  const numerator = convOutputTerms(n, k, s, p, d);
  const leftover = pyMod(numerator, s);
  const usedInner = u.slice(p, p + n).filter((v) => v !== 0).length;
  const unusedPixels = n * n - usedInner * usedInner;
  let warning = "";
  if (leftover) {
    warning =
      `Stride ${s} does not tile the padded input: (n + 2p - d(k-1) - 1) / s = ` +
      `(${n} + 2*${p} - ${kEff - 1} - 1) / ${s} = ${numerator} / ${s} is not a whole ` +
      `number, so the last ${leftover} row(s) and column(s) of the padded input are never ` +
      `visited (shaded).`;
  }
  if (unusedPixels) {
    warning += (warning ? " " : "") + `${unusedPixels} of the ${n * n} input pixels never reach the output.`;
  }
  const taps = Array.from({ length: k }, (_, t) => t * d);
  return {
    size: n, kernel_size: k, padding: p, stride: s, dilation: d, step,
    output_size: out, padded_size: n + 2 * p, row, col,
    tap_rows: taps.map((t) => row * s + t), tap_cols: taps.map((t) => col * s + t),
    usage, leftover, unused_pixels: unusedPixels,
    formula: formulaText(n, k, p, s, d), warning,
  };
}

const LEGEND = [
  ["input", "input"], ["padding", "padding"], ["tap", "kernel taps"],
  ["span", "between dilated taps"], ["unused", "never visited"], ["current", "current output"],
];

// grid_html of the Python view: the padded input (taps dotted, never-visited cells shaded) and
// the output grid with the current cell filled.
function gridHtml(state, colors, cellPx = 18) {
  const m = state.padded_size, p = state.padding, n = state.size;
  const kinds = [];
  for (let r = 0; r < m; r++) {
    const row = [];
    for (let c = 0; c < m; c++) {
      const inside = r >= p && r < p + n && c >= p && c < p + n;
      row.push(state.usage[r][c] === 0 ? "unused" : inside ? "input" : "padding");
    }
    kinds.push(row);
  }
  const [r0, r1] = [state.tap_rows[0], state.tap_rows[state.tap_rows.length - 1]];
  const [c0, c1] = [state.tap_cols[0], state.tap_cols[state.tap_cols.length - 1]];
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) kinds[r][c] = "span";
  const inp = kinds.map((row) => row.map((kind) => [colors[kind], ""]));
  for (const r of state.tap_rows) for (const c of state.tap_cols) inp[r][c] = [colors.tap, "&bull;"];
  const o = state.output_size, current = state.row * o + state.col;
  const outp = Array.from({ length: o }, (_, i) =>
    Array.from({ length: o }, (_, j) => {
      const idx = i * o + j;
      return [idx === current ? colors.current : idx < current ? colors.done : colors.output, ""];
    })
  );
  const legend = LEGEND.map(
    ([key, label]) =>
      `<span style="display:inline-block;width:12px;height:12px;background:${colors[key]};` +
      `border:1px solid #888;vertical-align:middle"></span> ${escapeHtml(label)}`
  ).join(" ");
  return (
    '<div style="display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap">' +
    `<div><div>padded input ${m}&times;${m}</div>${cellTable(inp, cellPx, "cnncourse-grid-input")}</div>` +
    `<div><div>output ${o}&times;${o} &mdash; cell (${state.row}, ${state.col})</div>` +
    `${cellTable(outp, cellPx, "cnncourse-grid-output")}</div></div>` +
    `<div style="font-size:12px;margin-top:4px">${legend}</div>`
  );
}

const LABELS = { size: "input n", kernel_size: "kernel k", padding: "padding p", stride: "stride s", dilation: "dilation d" };

function render({ model, el }) {
  keepKeys(el);
  const limits = model.get("limits");
  const colors = model.get("colors");
  const message = inputErrorBox();
  const set = traitSetter(model, message);
  const controls = {};
  for (const name of CONFIG) {
    const [lo, hi] = limits[name];
    controls[name] = intControl({
      name, label: LABELS[name], lo, hi, value: model.get(name), cssClass: "cnncourse-stride-slider",
      onInput: (v) => { play.stop(); set({ [name]: v, step: 0 }); },
      onInvalid: (text) => { message.textContent = text; },
    });
  }
  const stepControl = intControl({
    name: "step", label: "output cell", lo: 0, hi: 0, value: model.get("step"), cssClass: "cnncourse-stride-step",
    onInput: (v) => set({ step: v }),
    onInvalid: (text) => { message.textContent = text; },
  });
  const lastStep = () => {
    try {
      const out = convOutputSize(model.get("size"), model.get("kernel_size"), model.get("stride"),
        model.get("padding"), model.get("dilation"));
      return out * out - 1;
    } catch (err) {
      return 0;
    }
  };
  const play = playButton("slide the window", () => {
    const next = model.get("step") + 1;
    if (next > lastStep()) return false;
    set({ step: next });
    return next < lastStep();
  });
  play.button.addEventListener("click", () => {
    if (play.playing()) return play.stop();
    if (model.get("step") >= lastStep()) set({ step: 0 });
    play.start(model.get("interval"));
  });
  const formula = h("div", { class: "cnncourse-formula" });
  const warning = h("div", { class: "cnncourse-warning" });
  const grid = h("div", { class: "cnncourse-grid", style: "overflow-x:auto" });
  const playRow = h("div", { style: "display:flex;align-items:center;gap:8px" }, [play.button, stepControl.row]);
  el.append(h("div", {}, [...CONFIG.map((c) => controls[c].row), playRow, message]), formula, warning, grid);

  const update = () => {
    const [n, k, p, s, d] = CONFIG.map((c) => model.get(c));
    for (const c of CONFIG) controls[c].set(model.get(c));
    stepControl.set(model.get("step"), lastStep());
    try {
      formula.innerHTML = formulaHtml(n, k, p, s, d);
    } catch (err) {
      formula.innerHTML = "";
    }
    try {
      const state = explore(n, k, p, s, d, model.get("step"));
      warning.innerHTML = noticeHtml(state.warning, "Warning");
      grid.innerHTML = gridHtml(state, colors);
    } catch (err) {
      warning.innerHTML = noticeHtml(err.message, "Invalid configuration", true);
      grid.innerHTML = "";
    }
  };
  model.on("change", update);
  update();
  return () => {
    play.stop();
    model.off("change", update);
  };
}

export default { render };
