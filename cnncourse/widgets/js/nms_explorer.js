// Browser front-end of cnncourse.widgets.nms_explorer: a port of explore() (the score filter
// and cnncourse.detect.nms_steps, with its IoU) and statuses_at(), so the explorer also runs on
// the static website. The scenes (canvas pixels, candidate boxes and scores) come from Python
// through the widget's traits. tests/browser/test_explorers_js.py proves the functions equal to
// the Python core.

// _validate.check_unit_interval
function checkUnitInterval(name, value) {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a real number, got ${pyRepr(value)} (${pyTypeName(value)})`);
  }
  if (!Number.isFinite(value)) throw new ValueError(`${name} must be a finite number, got ${pyFloatRepr(value)}`);
  if (!(value >= 0 && value <= 1)) throw new ValueError(`${name} must be in [0, 1], got ${pyFloatRepr(value)}`);
  return value;
}

// detect.boxes._iou for one box against many (float64, the same operations in the same order).
function iou(a, b) {
  const area1 = (a[2] - a[0]) * (a[3] - a[1]);
  const area2 = (b[2] - b[0]) * (b[3] - b[1]);
  const w = Math.max(Math.min(a[2], b[2]) - Math.max(a[0], b[0]), 0);
  const h = Math.max(Math.min(a[3], b[3]) - Math.max(a[1], b[1]), 0);
  const inter = w * h;
  const union = area1 + area2 - inter;
  return union > 0 ? inter / union : 0;
}

// explore(): drop scores <= the threshold, then NMS one decision at a time.
export function explore(boxes, scores, scoreThreshold = 0, iouThreshold = 0.5) {
  if (scores.length !== boxes.length) {
    throw new ValueError(`scores must have one entry per box (${boxes.length}), got ${scores.length}`);
  }
  scoreThreshold = checkUnitInterval("score_threshold", scoreThreshold);
  iouThreshold = checkUnitInterval("iou_threshold", iouThreshold);
  const below = [], candidates = [];
  scores.forEach((s, i) => (s <= scoreThreshold ? below : candidates).push(i));
  // best first; equal scores: lower index first (a stable sort)
  let order = candidates.slice().sort((i, j) => scores[j] - scores[i] || i - j);
  const steps = [];
  while (order.length) {
    const best = order[0], rest = order.slice(1);
    const suppressed = [], ious = [], survivors = [];
    for (const i of rest) {
      const v = iou(boxes[best], boxes[i]);
      if (v > iouThreshold) { suppressed.push(i); ious.push(v); } else survivors.push(i);
    }
    steps.push({ kept: best, suppressed, ious });
    order = survivors;
  }
  return {
    score_threshold: scoreThreshold, iou_threshold: iouThreshold, below, steps,
    keep: steps.map((s) => s.kept),
  };
}

// statuses_at(): every box's status after `step` decisions.
export function statusesAt(result, nBoxes, step) {
  step = checkInt("step", step, 0);
  if (step > result.steps.length) throw new ValueError(`step must be in 0..${result.steps.length}, got ${step}`);
  const status = new Array(nBoxes).fill("waiting");
  for (const i of result.below) status[i] = "below";
  result.steps.slice(0, step).forEach((d, t) => {
    status[d.kept] = t === step - 1 ? "current" : "kept";
    for (const i of d.suppressed) status[i] = "suppressed";
  });
  return status;
}

// ------------------------------------------------------------------------------ the view

const SCALE = 5;

function drawScene(canvas, pixels, size, boxes, statuses, labels, colors) {
  canvas.width = size[1] * SCALE;
  canvas.height = size[0] * SCALE;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(size[1], size[0]);
  for (let i = 0; i < size[0] * size[1]; i++) {
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = pixels[i];
    img.data[4 * i + 3] = 255;
  }
  const small = document.createElement("canvas");
  small.width = size[1];
  small.height = size[0];
  small.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  // waiting and below first, decided boxes on top; suppressed boxes dashed (a second cue)
  const rank = { below: 0, waiting: 1, suppressed: 2, kept: 3, current: 4 };
  const order = boxes.map((_, i) => i).sort((i, j) => rank[statuses[i]] - rank[statuses[j]]);
  ctx.font = "bold 11px sans-serif";
  for (const i of order) {
    const [x0, y0, x1, y1] = boxes[i].map((v) => v * SCALE);
    const st = statuses[i];
    ctx.setLineDash(st === "suppressed" ? [5, 3] : st === "below" ? [2, 3] : []);
    ctx.lineWidth = st === "kept" || st === "current" ? 3 : st === "suppressed" ? 2 : 1;
    ctx.strokeStyle = colors[st];
    ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
    if (labels[i]) {
      const w = ctx.measureText(labels[i]).width + 4;
      ctx.setLineDash([]);
      ctx.fillStyle = "rgba(0,0,0,0.75)";
      ctx.fillRect(x0, y0, w, 13);
      ctx.fillStyle = "#ffffff";
      ctx.fillText(labels[i], x0 + 2, y0 + 10);
    }
  }
  ctx.setLineDash([]);
}

const NAMES = { below: "below the score threshold", waiting: "waiting", current: "kept at this step",
  kept: "kept", suppressed: "suppressed (dashed)" };

function render({ model, el }) {
  keepKeys(el);
  const colors = model.get("colors");
  const inputError = inputErrorBox();
  const set = traitSetter(model, inputError);
  const nSteps = () => { const r = compute().result; return r ? r.steps.length : 0; };
  const configure = (changes) => { play.stop(); set(changes); set({ step: nSteps() }); };
  const canvasControl = intControl({
    name: "canvas", label: "canvas", lo: 0, hi: model.get("scenes").length - 1, value: model.get("canvas"),
    cssClass: "cnncourse-nms-canvas", onInput: (v) => configure({ canvas: v }), onInvalid: (t) => { inputError.textContent = t; },
  });
  if (model.get("scenes").length < 2) canvasControl.row.style.display = "none";
  const pct = (name, label, css) => intControl({
    name, label, lo: 0, hi: 100, value: Math.round(model.get(name) * 100), cssClass: css,
    onInput: (v) => configure({ [name]: v / 100 }), onInvalid: (t) => { inputError.textContent = t; },
  });
  const score = pct("score_threshold", "score > (%)", "cnncourse-nms-score");
  const iouControl = pct("iou_threshold", "IoU > (%)", "cnncourse-nms-iou");
  const stepControl = intControl({
    name: "step", label: "step", lo: 0, hi: 0, value: model.get("step"), cssClass: "cnncourse-nms-step",
    onInput: (v) => { play.stop(); set({ step: v }); }, onInvalid: (t) => { inputError.textContent = t; },
  });
  const play = playButton("step through NMS", () => {
    const next = model.get("step") + 1;
    if (next > nSteps()) return false;
    set({ step: next });
    return next < nSteps();
  });
  play.button.addEventListener("click", () => {
    if (play.playing()) return play.stop();
    if (model.get("step") >= nSteps()) set({ step: 0 });
    play.start(model.get("interval"));
  });
  const view = h("canvas", { class: "cnncourse-nms-view", role: "img", style: "width:320px;max-width:90vw;height:auto;image-rendering:pixelated" });
  const info = h("div", { class: "cnncourse-nms-info", style: "min-width:0;flex:1 1 240px" });
  const message = h("div", { class: "cnncourse-nms-message" });
  const legend = h("div", { style: "font-size:13px" });
  legend.innerHTML = Object.entries(NAMES).map(([k, name]) =>
    `<span style="display:inline-block;width:16px;height:10px;border:${k === "kept" || k === "current" ? 3 : 2}px ` +
    `${k === "suppressed" ? "dashed" : k === "below" ? "dotted" : "solid"} ${colors[k]};vertical-align:middle"></span> ${name}`
  ).join(" &nbsp; ");
  el.append(
    h("div", { class: "cnncourse-nms-controls" }, [canvasControl.row, score.row, iouControl.row,
      h("div", { style: "display:flex;align-items:center;gap:8px" }, [play.button, stepControl.row]), inputError]),
    message,
    h("div", { style: "display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start" }, [view, info]),
    legend,
  );
  let cache = { key: null };
  const compute = () => {
    const key = JSON.stringify(["canvas", "score_threshold", "iou_threshold"].map((n) => model.get(n)));
    if (cache.key === key) return cache;
    const scene = model.get("scenes")[model.get("canvas")];
    cache = { key, scene, result: null, error: "" };
    try {
      cache.result = explore(scene.boxes, scene.scores, model.get("score_threshold"), model.get("iou_threshold"));
    } catch (err) {
      cache.error = err.message;
    }
    return cache;
  };
  const update = () => {
    canvasControl.set(model.get("canvas"));
    score.set(Math.round(model.get("score_threshold") * 100));
    iouControl.set(Math.round(model.get("iou_threshold") * 100));
    const { scene, result, error } = compute();
    if (!result) {
      message.innerHTML = noticeHtml(error, "Invalid settings", true);
      info.textContent = "";
      return;
    }
    message.innerHTML = "";
    const n = result.steps.length, t = Math.min(model.get("step"), n);
    stepControl.set(t, n);
    const statuses = statusesAt(result, scene.scores.length, t);
    const labels = statuses.map(() => "");
    if (t > 0) {  // the boxes the text names: the kept box and those it suppressed
      const d = result.steps[t - 1];
      labels[d.kept] = `#${d.kept} ${scene.scores[d.kept].toFixed(2)}`;
      for (const i of d.suppressed) labels[i] = `\u00D7${i}`;
    }
    result.steps.slice(0, Math.max(0, t - 1)).forEach((d) => { labels[d.kept] = `#${d.kept}`; });
    const bytes = model.get("images");
    const size = model.get("image_shape"), per = size[0] * size[1];
    const pixels = new Uint8Array(bytes.buffer, bytes.byteOffset + model.get("canvas") * per, per);
    drawScene(view, pixels, size, scene.boxes, statuses, labels, colors);
    view.setAttribute("aria-label", `canvas ${model.get("canvas")}: ${statuses.filter((s) => s === "kept" || s === "current").length} boxes kept so far`);
    const nCand = scene.scores.length - result.below.length;
    const lines = [`${scene.scores.length} boxes, ${result.below.length} at or below the score threshold, ` +
      `${nCand} candidates; NMS keeps ${result.keep.length}.`];
    if (nCand === 0) lines.push("No candidates: every score is at or below the threshold. Lower the score slider.");
    else if (t === 0) lines.push("Step 0: nothing decided yet. Press play.");
    else {
      const d = result.steps[t - 1];
      const gone = d.suppressed.map((i, k) => `#${i} (IoU ${d.ious[k].toFixed(2)})`).join(", ");
      lines.push(`Step ${t}/${n}: keep box #${d.kept} (score ${scene.scores[d.kept].toFixed(2)}), ` +
        `the best still waiting; suppress ${gone || "nothing"}.`);
    }
    info.innerHTML = lines.map(escapeHtml).join("<br>");
  };
  model.on("change", update);
  update();
  return () => { play.stop(); model.off("change", update); };
}

export default { render };
