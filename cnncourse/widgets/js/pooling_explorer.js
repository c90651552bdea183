// Browser front-end of cnncourse.widgets.pooling_explorer: a port of explore() (with
// cnncourse.pooling's max/avg pooling; shapes.pool_output_size is in _common.js),
// formula_text() and window_text(), so the explorer also runs on the static website. The grids come from Python
// (the `grids` trait); a photo's pixels arrive from the kernel (`photo`) when one is chosen.
// tests/browser/test_explorers_js.py proves the functions equal to the Python core.

const KINDS = ["max", "avg"];
const MAX_GRID = 16;  // sources up to this size are drawn as numbered tables

function checkPair(name, value, minimum) {  // _validate.check_pair for an int
  return checkInt(name, value, minimum);
}

// 0 input, 1 padding, 2 beyond the padding (pooling_explorer._cell_kinds for one cell).
function cellKind(r, c, h, w, p) {
  if (r >= 0 && r < h && c >= 0 && c < w) return 0;
  return r >= -p && r < h + p && c >= -p && c < w + p ? 1 : 2;
}

// Pool x (an array of rows) for one configuration: the part of explore() that does not depend
// on the animation step (the page reuses it while the window slides).
export function pool(x, kind, kernelSize, stride = null, padding = 0, ceilMode = false, countIncludePad = true) {
  checkChoice("kind", kind, KINDS);
  const k = checkInt("kernel_size", kernelSize, 1);
  const s = stride === null ? k : checkInt("stride", stride, 1);
  const h = x.length, w = x[0].length;
  checkPair("kernel_size", k, 1); checkPair("stride", s, 1); checkPair("padding", padding, 0); checkPair("dilation", 1, 1);
  checkBool("ceil_mode", ceilMode);
  const p = padding;
  const out = [];
  for (const [axis, n] of [["height", h], ["width", w]]) {
    try {
      out.push(poolOutputSize(n, k, s, p, 1, ceilMode));
    } catch (err) {
      if (err.name !== "ValueError") throw err;
      throw new ValueError(`pooling over the ${axis} of x (shape (1, 1, ${h}, ${w})): ${err.message}`);
    }
  }
  if (kind === "avg") checkBool("count_include_pad", countIncludePad);
  const [oh, ow] = out;
  const output = [], indices = kind === "max" ? [] : null;
  // avg divisor per axis, as torch's CPU kernel counts it (pooling._avg_divisor)
  const divisor = (size, o) => {
    const start = o * s - p, end = Math.min(start + k, size + p);
    return countIncludePad ? end - start : Math.min(end, size) - Math.max(start, 0);
  };
  for (let i = 0; i < oh; i++) {
    const yRow = [], idxRow = [];
    for (let j = 0; j < ow; j++) {
      const r0 = i * s - p, c0 = j * s - p;
      let best = -Infinity, pos = 0, total = 0;
      for (let t = 0; t < k * k; t++) {
        const r = r0 + floorDiv(t, k), c = c0 + (t % k);
        const inside = r >= 0 && r < h && c >= 0 && c < w;
        const v = inside ? x[r][c] : kind === "max" ? -Infinity : 0;
        if (kind === "max") {
          if (t === 0) best = v;
          else if (v > best) { best = v; pos = t; }
        } else {
          total += v;  // row-major taps from 0.0, as pooling.avg_pool2d sums them
        }
      }
      if (kind === "max") {
        yRow.push(best);
        idxRow.push((r0 + floorDiv(pos, k)) * w + (c0 + (pos % k)));
      } else {
        yRow.push(total / (divisor(h, i) * divisor(w, j)));
      }
    }
    output.push(yRow);
    if (indices) indices.push(idxRow);
  }
  return {
    input: x, output, indices, kind, kernel_size: k, stride: s, padding: p,
    ceil_mode: ceilMode, count_include_pad: countIncludePad,
  };
}

// PoolingState.at(step) with its derived properties.
export function at(base, step) {
  step = checkInt("step", step, 0);
  const [oh, ow] = [base.output.length, base.output[0].length];
  const nSteps = oh * ow;
  if (step >= nSteps) throw new ValueError(`step must be < ${nSteps} (the number of outputs), got ${step}`);
  const i = floorDiv(step, ow), j = step % ow;
  const k = base.kernel_size, p = base.padding, h = base.input.length, w = base.input[0].length;
  const r0 = i * base.stride - p, c0 = j * base.stride - p;
  const windowCells = [], window = [];
  for (let a = 0; a < k; a++) {
    const kinds = [], vals = [];
    for (let b = 0; b < k; b++) {
      const kind = cellKind(r0 + a, c0 + b, h, w, p);
      kinds.push(kind);
      vals.push(kind === 0 ? base.input[r0 + a][c0 + b] : kind === 1 ? (base.kind === "max" ? -Infinity : 0) : NaN);
    }
    windowCells.push(kinds);
    window.push(vals);
  }
  let winner = null;
  if (base.indices && base.indices[i][j] >= 0) winner = [floorDiv(base.indices[i][j], w), base.indices[i][j] % w];
  return {
    ...base, step, n_steps: nSteps, position: [i, j], window_origin: [r0, c0],
    window_cells: windowCells, window, value: base.output[i][j], winner,
  };
}

export function explore(x, kind = "max", kernelSize = 2, stride = null, padding = 0, ceilMode = false, countIncludePad = true, step = 0) {
  return at(pool(x, kind, kernelSize, stride, padding, ceilMode, countIncludePad), step);
}

export function formulaText(state) {
  const k = state.kernel_size, s = state.stride, p = state.padding;
  const rounding = state.ceil_mode ? "ceil" : "floor";
  const shape = [state.input.length, state.input[0].length];
  const outShape = [state.output.length, state.output[0].length];
  return ["height", "width"].map((axis, a) => {
    const n = shape[a], out = outShape[a], span = n + 2 * p - k;
    const raw = (state.ceil_mode ? -floorDiv(-span, s) : floorDiv(span, s)) + 1;
    let line = `out ${axis} = ${rounding}((${n} + 2*${p} - ${k}) / ${s}) + 1 = ${raw}`;
    if (raw !== out) line += ` - 1 = ${out} (the last window would start in the right padding)`;
    return line;
  }).join("\n");
}

function fmt(v) {  // pooling_explorer._fmt
  if (v === -Infinity) return "&minus;&infin;";
  return Number.isInteger(v) ? String(v) : formatG(v, 3);
}

export function windowText(state) {
  if (state.kind === "max") {
    let text = `max = ${fmt(state.value)}`;
    if (state.winner !== null) {
      text += ` (input row ${state.winner[0]}, column ${state.winner[1]}: the first maximum wins ties)`;
    }
    return text;
  }
  let total = 0, count = 0;
  state.window_cells.forEach((row, a) => row.forEach((cell, b) => {
    if (cell === 0 || (cell === 1 && state.count_include_pad)) { total += state.window[a][b]; count += 1; }
  }));
  let text = `sum ${fmt(total)} / ${count} cells = ${fmt(state.value)}`;
  if (state.padding && !state.count_include_pad) text += " (padding not counted)";
  return text;
}

// ------------------------------------------------------------------------------ the view

const CELL = (px) => `width:${px}px;height:${px}px;text-align:center;font-size:12px;border:1px solid #bbb;`;
const WINDOW_BG = "#ffb347", WINNER_BORDER = "3px solid #c00000";

function shade(v, lo, hi) {
  const t = hi <= lo ? 0 : Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
  const [r, g, b] = [107, 174, 214].map((c) => Math.trunc(255 - t * (255 - c)));
  return `rgb(${r},${g},${b})`;
}

function td(text, style, classes) {
  return `<td class="${classes.join(" ")}" style="${style}">${text}</td>`;
}

function gridHtml(state, px = 34) {
  const x = state.input, y = state.output, h = x.length, w = x[0].length;
  const lo = Math.min(...x.flat()), hi = Math.max(...x.flat());
  const p = state.padding, k = state.kernel_size, s = state.stride;
  const [oh, ow] = [y.length, y[0].length];
  const lastR = (oh - 1) * s - p + k, lastC = (ow - 1) * s - p + k;
  const [r0, c0] = state.window_origin;
  const padText = state.kind === "max" ? "&minus;&infin;" : "0";
  let rows = "";
  for (let r = -p; r < Math.max(h + p, lastR); r++) {
    rows += "<tr>";
    for (let c = -p; c < Math.max(w + p, lastC); c++) {
      const classes = ["cnncourse-pooling-cell"];
      let style = CELL(px), text, bg;
      const kind = cellKind(r, c, h, w, p);
      if (kind === 0) [text, bg] = [fmt(x[r][c]), shade(x[r][c], lo, hi)];
      else if (kind === 1) {
        classes.push("cnncourse-pooling-pad");
        [text, bg] = [padText, "#eeeeee"];
        style += "color:#595959;font-style:italic;";
      } else {
        classes.push("cnncourse-pooling-overhang");
        [text, bg] = ["", "#ffffff"];
        style += "border:1px dashed #bbb;";
      }
      if (r >= r0 && r < r0 + k && c >= c0 && c < c0 + k) {
        classes.push("cnncourse-pooling-window");
        bg = WINDOW_BG;
      }
      if (state.winner && state.winner[0] === r && state.winner[1] === c) {
        classes.push("cnncourse-pooling-winner");
        style += `border:${WINNER_BORDER};font-weight:bold;`;
      }
      rows += td(text, `${style}background:${bg}`, classes);
    }
    rows += "</tr>";
  }
  let outRows = "";
  for (let i = 0; i < oh; i++) {
    outRows += "<tr>";
    for (let j = 0; j < ow; j++) {
      const t = i * ow + j, classes = ["cnncourse-pooling-cell"];
      let style = CELL(px), text = "", bg = "#ffffff";
      if (t < state.step) [text, bg] = [fmt(y[i][j]), shade(y[i][j], lo, hi)];
      else if (t === state.step) {
        classes.push("cnncourse-pooling-current");
        [text, bg] = [fmt(y[i][j]), WINDOW_BG];
        style += "font-weight:bold;";
      } else classes.push("cnncourse-pooling-pending");
      outRows += td(text, `${style}background:${bg}`, classes);
    }
    outRows += "</tr>";
  }
  const label = 'style="margin:0 0 4px 0;font-weight:bold"';
  return (
    '<div style="display:flex;gap:28px;align-items:flex-start;flex-wrap:wrap">' +
    `<div><div ${label}>input ${h}x${w}${p ? " + padding " + p : ""}</div>` +
    `<table class="cnncourse-pooling-input-grid" style="border-collapse:collapse">${rows}</table></div>` +
    `<div><div ${label}>output ${oh}x${ow}</div>` +
    `<table class="cnncourse-pooling-output-grid" style="border-collapse:collapse">${outRows}</table></div></div>`
  );
}

function windowHtml(state, px = 34) {
  const k = state.kernel_size, [r0, c0] = state.window_origin;
  let rows = "";
  for (let a = 0; a < k; a++) {
    rows += "<tr>";
    for (let b = 0; b < k; b++) {
      let style = CELL(px), text = "";
      const cell = state.window_cells[a][b];
      if (cell === 2) style += "border:1px dashed #bbb;";
      else {
        text = fmt(state.window[a][b]);
        if (cell === 1) style += "color:#595959;font-style:italic;background:#eeeeee;";
      }
      if (state.winner && state.winner[0] === r0 + a && state.winner[1] === c0 + b) {
        style += `border:${WINNER_BORDER};font-weight:bold;`;
      }
      rows += `<td style="${style}">${text}</td>`;
    }
    rows += "</tr>";
  }
  return (
    '<div class="cnncourse-pooling-window-table" style="display:flex;gap:12px;align-items:center;flex-wrap:wrap">' +
    `<table style="border-collapse:collapse">${rows}</table>` +
    `<span style="font-family:monospace">${windowText(state)}</span></div>`
  );
}

// A photo (or its pooled output) on the input's gray scale, with the current window (or output
// cell) framed: a 3 px yellow-and-black frame at least 9 px wide, plus cross hairs to the edges,
// so it shows on a 512x512 picture.
function drawPhoto(canvas, values, lo, hi, box) {
  const h = values.length, w = values[0].length;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  const scale = hi > lo ? 254 / (hi - lo) : 0;
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const g = Math.min(254, Math.max(0, Math.trunc((values[r][c] - lo) * scale + 0.5)));
    const o = 4 * (r * w + c);
    img.data[o] = img.data[o + 1] = img.data[o + 2] = g;
    img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const [r0, c0, size] = box;
  const pad = Math.max(0, (9 * w / 256 - size) / 2);
  const lw = Math.max(1, Math.round(w / 170));
  ctx.lineWidth = lw;
  ctx.strokeStyle = "rgba(255,215,0,0.7)";
  ctx.beginPath();
  ctx.moveTo(0, r0 + size / 2); ctx.lineTo(w, r0 + size / 2);
  ctx.moveTo(c0 + size / 2, 0); ctx.lineTo(c0 + size / 2, h);
  ctx.stroke();
  for (const [color, grow] of [["#000000", 2 * lw], ["#ffd700", lw]]) {
    ctx.strokeStyle = color;
    ctx.lineWidth = grow;
    ctx.strokeRect(c0 - pad - lw, r0 - pad - lw, size + 2 * pad + 2 * lw, size + 2 * pad + 2 * lw);
  }
}

function render({ model, el }) {
  keepKeys(el);
  const grids = model.get("grids");
  const photos = model.get("photos");
  const message = h("div", { class: "cnncourse-pooling-message" });
  const inputError = inputErrorBox();
  const set = traitSetter(model, inputError);
  const configure = (changes) => { play.stop(); set({ ...changes, step: 0 }); };
  const source = h("select", { "aria-label": "input", class: "cnncourse-pooling-source" });
  for (const name of [...Object.keys(grids), ...photos]) {
    source.append(h("option", { value: name, text: photos.includes(name) ? `${name} (photo)` : name }));
  }
  source.addEventListener("change", () => configure({ source: source.value }));
  const kind = h("select", { "aria-label": "pooling", class: "cnncourse-pooling-kind" }, [
    h("option", { value: "max", text: "max" }), h("option", { value: "avg", text: "average" }),
  ]);
  kind.addEventListener("change", () => configure({ kind: kind.value }));
  const ints = {};
  for (const [name, label, lo, hi] of [["kernel_size", "window", 1, 8], ["stride", "stride", 1, 8], ["padding", "padding", 0, 4]]) {
    ints[name] = intControl({
      name, label, lo, hi, value: model.get(name), cssClass: "cnncourse-pooling-slider",
      onInput: (v) => configure({ [name]: v }), onInvalid: (t) => { inputError.textContent = t; },
    });
  }
  const checks = {};
  for (const name of ["ceil_mode", "count_include_pad"]) {
    const box = h("input", { type: "checkbox", id: `cnncourse-pool-${name}-${++_controlId}` });
    box.addEventListener("change", () => configure({ [name]: box.checked }));
    checks[name] = { box, row: h("label", { style: "margin-right:12px" }, [box, ` ${name}`]) };
  }
  const stepControl = intControl({
    name: "step", label: "step", lo: 1, hi: 1, value: model.get("step") + 1, cssClass: "cnncourse-pooling-step",
    onInput: (v) => { play.stop(); set({ step: Math.min(v, nSteps()) - 1 }); },
    onInvalid: (t) => { inputError.textContent = t; },
  });
  let cache = { key: null, base: null, error: "" };
  const photoPixels = () => {
    const dv = model.get("photo"), shape = model.get("photo_shape");
    if (model.get("photo_source") !== model.get("source") || !dv || !dv.byteLength) return null;
    const f = new Float64Array(dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength));
    return Array.from({ length: shape[0] }, (_, r) => Array.from(f.subarray(r * shape[1], (r + 1) * shape[1])));
  };
  const base = () => {
    const names = ["source", "kind", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "photo_source"];
    const key = JSON.stringify(names.map((n) => model.get(n)));
    if (cache.key === key) return cache;
    const name = model.get("source");
    const x = grids[name] || photoPixels();
    cache = { key, base: null, error: "", waiting: false };
    if (!x) {
      cache.waiting = true;
      return cache;
    }
    try {
      cache.base = pool(x, model.get("kind"), model.get("kernel_size"), model.get("stride"), model.get("padding"),
        model.get("ceil_mode"), model.get("count_include_pad"));
    } catch (err) {
      cache.error = err.message;
    }
    return cache;
  };
  const nSteps = () => { const b = base().base; return b ? b.output.length * b.output[0].length : 1; };
  const isPhoto = () => { const b = base().base; return b && Math.max(b.input.length, b.input[0].length) > MAX_GRID; };
  // On a photo a tick moves a whole output row (65,536 single steps would take hours).
  const stride = () => (isPhoto() ? base().base.output[0].length : 1);
  const play = playButton("slide the window", () => {
    const next = Math.min(model.get("step") + stride(), nSteps() - 1);
    if (next === model.get("step")) return false;
    set({ step: next });
    return next < nSteps() - 1;
  });
  play.button.addEventListener("click", () => {
    if (play.playing()) return play.stop();
    if (model.get("step") >= nSteps() - 1) set({ step: 0 });
    play.start(model.get("interval"));
  });
  const gridView = h("div", { class: "cnncourse-pooling-grid", style: "overflow-x:auto" });
  const inCanvas = h("canvas", { class: "cnncourse-pooling-input", role: "img", style: "width:256px;max-width:45vw;image-rendering:pixelated" });
  const outCanvas = h("canvas", { class: "cnncourse-pooling-output", role: "img", style: "width:256px;max-width:45vw;image-rendering:pixelated" });
  const photoView = h("div", { class: "cnncourse-pooling-photo", style: "display:none;gap:12px;flex-wrap:wrap" }, [
    h("div", {}, [h("b", { text: "input" }), h("br"), inCanvas]), h("div", {}, [h("b", { text: "output" }), h("br"), outCanvas]),
  ]);
  const windowView = h("div", { class: "cnncourse-pooling-window-view" });
  const formula = h("div", { class: "cnncourse-pooling-formula" });
  el.append(
    h("div", { class: "cnncourse-pooling-controls" }, [
      h("div", { style: "display:flex;gap:12px;flex-wrap:wrap;align-items:center" }, [
        h("label", { text: "input" }), source, h("label", { text: "pooling" }), kind]),
      ints.kernel_size.row, ints.stride.row, ints.padding.row,
      h("div", {}, [checks.ceil_mode.row, checks.count_include_pad.row]),
      h("div", { style: "display:flex;align-items:center;gap:8px" }, [play.button, stepControl.row]),
      inputError,
    ]),
    message, gridView, photoView, windowView, formula,
  );

  const update = () => {
    source.value = model.get("source");
    kind.value = model.get("kind");
    for (const name of Object.keys(ints)) ints[name].set(model.get(name));
    for (const name of Object.keys(checks)) checks[name].box.checked = model.get(name);
    const { base: b, error, waiting } = base();
    const clear = () => {
      gridView.innerHTML = windowView.innerHTML = formula.innerHTML = "";
      photoView.style.display = "none";
      stepControl.set(1, 1);
    };
    if (waiting) {
      clear();
      message.innerHTML = noticeHtml(
        "this photo's pixels come from Python: run the notebook with a kernel to pool photos " +
        "(on the website, the grids work in the page)", "Waiting for the kernel");
      return;
    }
    if (!b) {
      clear();  // no stale grid under the message
      message.innerHTML = noticeHtml(error, "Invalid settings", true);
      return;
    }
    const n = nSteps(), step = Math.min(model.get("step"), n - 1);
    const state = at(b, step);
    stepControl.set(step + 1, n);
    const [ih, iw] = [b.input.length, b.input[0].length], [oh, ow] = [b.output.length, b.output[0].length];
    const what = b.kind === "max" ? `max pooling keeps ${oh * ow} of ${ih * iw} numbers`
      : `average pooling turns ${ih * iw} numbers into ${oh * ow} means`;
    const howto = isPhoto()
      ? `press play to slide the window one output row per step (${oh} rows, about ` +
        `${Math.ceil((oh * model.get("interval")) / 1000)} s), or move the step slider`
      : `press play to slide the window (${n} steps)`;
    message.innerHTML = `${what} (${ih}x${iw} &rarr; ${oh}x${ow}, ${formatG((100 * oh * ow) / (ih * iw), 3)}%); ${howto}`;
    if (isPhoto()) {
      gridView.innerHTML = "";
      photoView.style.display = "flex";
      let mm = [Infinity, -Infinity];
      for (const row of b.input) for (const v of row) mm = [Math.min(mm[0], v), Math.max(mm[1], v)];
      drawPhoto(inCanvas, b.input, mm[0], mm[1], [state.window_origin[0], state.window_origin[1], b.kernel_size]);
      drawPhoto(outCanvas, b.output, mm[0], mm[1], [state.position[0], state.position[1], 1]);
      inCanvas.setAttribute("aria-label", `input photo, window at row ${state.window_origin[0]}, column ${state.window_origin[1]}`);
      outCanvas.setAttribute("aria-label", `pooled output, cell ${state.position[0]}, ${state.position[1]}`);
    } else {
      photoView.style.display = "none";
      gridView.innerHTML = gridHtml(state);
    }
    windowView.innerHTML = windowHtml(state);
    const [i, j] = state.position;
    formula.innerHTML =
      '<div class="cnncourse-pooling-formula-text" style="font-family:monospace">' +
      formulaText(state).split("\n").map(escapeHtml).join("<br>") +
      `<br>step ${step + 1} of ${n}: y[${i}, ${j}] = ${b.kind === "max" ? "max" : "mean"} of the window = <b>${formatG(state.value, 4)}</b></div>`;
  };
  model.on("change", update);
  update();
  return () => { play.stop(); model.off("change", update); };
}

export default { render };
