// Browser front-end of cnncourse.widgets.kernel_explorer: a port of filters.filter2d (the
// explorer's apply_kernel) and of _render.display_range / colour_indices, so the explorer also
// runs on the static website. Presets, colour maps, boundary modes and the photo's pixels come
// from Python through the widget's traits. tests/browser/test_explorers_js.py proves the
// functions equal to the Python core.

const BOUNDARIES = ["reflect", "mirror", "nearest", "wrap", "constant"];
const SIGNED_PERCENTILE = 99.5;

function pyTuple(items) {
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
}

// filters._check_kernel for an array of rows.
function checkKernel(k) {
  const shape = [k.length, k.length ? k[0].length : 0];
  if (!shape[0] || !shape[1]) throw new ValueError(`kernel must be non-empty, got shape ${pyTuple(shape)}`);
  let first = null, bad = 0;
  k.forEach((row, a) => row.forEach((v, b) => {
    if (!Number.isFinite(v)) { bad += 1; if (first === null) first = [a, b, v]; }
  }));
  if (first !== null) {
    throw new ValueError(
      `kernel must contain only finite numbers, got ${pyFloatRepr(first[2])} at index (${first[0]}, ${first[1]}) ` +
      `(${bad} non-finite of ${shape[0] * shape[1]})`
    );
  }
  return k;
}

// Where padded index i (may be < 0 or >= n) reads from, as numpy.pad extends an axis.
function source(i, n, boundary) {
  if (i >= 0 && i < n) return i;
  if (boundary === "constant") return -1;
  if (boundary === "nearest") return i < 0 ? 0 : n - 1;
  if (boundary === "wrap") return pyMod(i, n);
  if (boundary === "reflect") {  // symmetric: b a | a b c d | d c
    const m = pyMod(i, 2 * n);
    return m < n ? m : 2 * n - 1 - m;
  }
  if (n === 1) return 0;  // mirror: c b | a b c d | c b
  const m = pyMod(i, 2 * n - 2);
  return m < n ? m : 2 * n - 2 - m;
}

// filters.filter2d for a 2-D image: correlation with scipy.ndimage's anchor.
export function filter2d(image, kernel, boundary = "reflect") {
  checkKernel(kernel);
  checkChoice("boundary", boundary, BOUNDARIES);
  const h = image.length, w = image[0].length, kh = kernel.length, kw = kernel[0].length;
  const ph = floorDiv(kh, 2), pw = floorDiv(kw, 2);
  const rows = Array.from({ length: h + kh - 1 }, (_, i) => source(i - ph, h, boundary));
  const cols = Array.from({ length: w + kw - 1 }, (_, j) => source(j - pw, w, boundary));
  const out = [];
  for (let i = 0; i < h; i++) {
    const line = new Array(w);
    for (let j = 0; j < w; j++) {
      let s = 0;
      for (let a = 0; a < kh; a++) {
        const r = rows[i + a];
        if (r < 0) continue;
        const src = image[r], kr = kernel[a];
        for (let b = 0; b < kw; b++) {
          const c = cols[j + b];
          if (c >= 0) s += src[c] * kr[b];
        }
      }
      line[j] = s;
    }
    out.push(line);
  }
  return out;
}

// numpy.percentile(values, q) with linear interpolation.
function percentile(values, q) {
  const v = Float64Array.from(values).sort();
  const pos = (q / 100) * (v.length - 1), lo = Math.floor(pos), hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

// _render.display_range: (vmin, vmax, cmap) for a filter's output.
export function displayRange(kernel, output = null) {
  let s = 0, abs = 0;
  for (const row of kernel) for (const v of row) { s += v; abs += Math.abs(v); }
  if (Math.abs(s) > 1e-9 * Math.max(1, abs)) return [Math.min(0, s), Math.max(0, s), "gray"];
  let bound;
  if (output === null) bound = abs;
  else bound = percentile(output.flat().map(Math.abs), SIGNED_PERCENTILE);
  bound = bound > 0 ? bound : 1;
  return [-bound, bound, "RdBu_r"];
}

// _render.colour_indices: matplotlib's binning of values into a 256-colour table.
export function colourIndices(values, vmin, vmax) {
  const scale = vmax > vmin ? 256 / (vmax - vmin) : 0;
  return values.map((row) => row.map((v) => Math.trunc(Math.min(255, Math.max(0, (v - vmin) * scale)))));
}

// ------------------------------------------------------------------------------ the view

const cssColor = (lut, t) => {
  const i = Math.trunc(Math.min(1, Math.max(0, t)) * 255) * 3;
  return `rgb(${lut[i]},${lut[i + 1]},${lut[i + 2]})`;
};

function kernelHtml(kernel, lut, cellPx = 40) {
  let bound = 0;
  for (const row of kernel) for (const v of row) bound = Math.max(bound, Math.abs(v));
  bound = bound || 1;
  const size = `width:${cellPx}px;height:${cellPx}px;text-align:center;font-size:11px;`;
  const rows = kernel.map((row) => "<tr>" + row.map((v) => {
    const ink = Math.abs(v) > 0.6 * bound ? "white" : "black";
    return `<td style="background:${cssColor(lut, 0.5 + 0.5 * v / bound)};color:${ink};${size}border:1px solid #ccc">${escapeHtml(formatG(v, 3))}</td>`;
  }).join("") + "</tr>").join("");
  return `<table style="border-collapse:collapse">${rows}</table>`;
}

// A vertical colour bar; its end labels say when the output goes past them (clipped colours).
function colorbarHtml(vmin, vmax, lut, lo, hi, heightPx = 200) {
  const stops = Array.from({ length: 9 }, (_, i) => cssColor(lut, 1 - i / 8)).join(", ");
  const top = (hi > vmax ? "&ge; " : "") + formatG(vmax, 3);
  const bottom = (lo < vmin ? "&le; " : "") + formatG(vmin, 3);
  return (
    '<div style="display:flex;align-items:stretch;gap:4px;font-size:11px">' +
    `<div style="width:14px;height:${heightPx}px;border:1px solid #999;background:linear-gradient(${stops})"></div>` +
    `<div style="display:flex;flex-direction:column;justify-content:space-between;height:${heightPx}px">` +
    `<span>${top}</span><span>${formatG((vmin + vmax) / 2, 3)}</span><span>${bottom}</span></div></div>`
  );
}

function drawIndexed(canvas, indices, lut) {
  const h = indices.length, w = indices[0].length;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const o = 4 * (r * w + c), i = 3 * indices[r][c];
    img.data[o] = lut[i]; img.data[o + 1] = lut[i + 1]; img.data[o + 2] = lut[i + 2]; img.data[o + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function render({ model, el }) {
  keepKeys(el);
  const presets = model.get("presets"), luts = model.get("luts");
  const message = h("div", { class: "cnncourse-kernel-message" });
  const inputError = inputErrorBox();
  const set = traitSetter(model, inputError);
  const select = (label, css, options, onChange) => {
    const node = h("select", { "aria-label": label, class: css });
    for (const [value, text] of options) node.append(h("option", { value: String(value), text }));
    node.addEventListener("change", () => onChange(node.value));
    return node;
  };
  const preset = select("preset", "cnncourse-kernel-preset", [...Object.keys(presets), "custom"].map((n) => [n, n]),
    (v) => { if (v !== "custom") set({ preset: v, cells: presets[v][String(model.get("size"))] }); else set({ preset: v }); });
  const image = select("photo", "cnncourse-kernel-image", model.get("images").map((n) => [n, n]), (v) => set({ image: v }));
  const size = select("size", "cnncourse-kernel-size", [[3, "3x3"], [5, "5x5"]], (v) => {
    const name = model.get("preset") === "custom" ? "identity" : model.get("preset");
    set({ size: Number(v), preset: name, cells: presets[name][v] });
  });
  const boundary = select("boundary", "cnncourse-kernel-boundary", model.get("boundaries").map((n) => [n, n]), (v) => set({ boundary: v }));
  const grid = h("div", { class: "cnncourse-kernel-grid", style: "display:grid;gap:2px" });
  const heat = h("div", { class: "cnncourse-kernel-heatmap" });
  const inCanvas = h("canvas", { class: "cnncourse-kernel-input", role: "img", "aria-label": "input photo", style: "width:256px;max-width:40vw" });
  const outCanvas = h("canvas", { class: "cnncourse-kernel-output", role: "img", "aria-label": "filtered output", style: "width:256px;max-width:40vw" });
  const colorbar = h("div", { class: "cnncourse-kernel-colorbar" });
  const panel = (title, ...children) => h("div", { style: "margin:0 12px 0 0" }, [h("b", { text: title }), ...children]);
  el.append(
    h("div", { style: "display:flex;gap:10px;flex-wrap:wrap;align-items:center" }, [
      h("span", { text: "preset" }), preset, h("span", { text: "photo" }), image,
      h("span", { text: "size" }), size, h("span", { text: "boundary" }), boundary]),
    h("div", { style: "display:flex;flex-wrap:wrap;align-items:flex-start;margin-top:6px" }, [
      panel("input", h("br"), inCanvas), panel("kernel (edit the cells)", grid, inputError, heat),
      panel("output", h("div", { style: "display:flex;gap:4px" }, [outCanvas, colorbar]))]),
    message,
  );
  let cellInputs = [];
  const buildCells = (n) => {
    grid.style.gridTemplateColumns = `repeat(${n}, 58px)`;
    grid.replaceChildren();
    cellInputs = [];
    for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) {
      const box = h("input", { type: "text", inputmode: "decimal", class: "cnncourse-kernel-cell", "aria-label": `kernel row ${r + 1}, column ${c + 1}`, style: "width:52px" });
      box.addEventListener("change", () => {
        const text = box.value.trim();
        const v = Number(text);
        if (text === "" || !Number.isFinite(v)) {
          inputError.textContent = `kernel row ${r + 1}, column ${c + 1}: '${text}' is not a finite number; the cell keeps ${formatG(model.get("cells")[r][c], 4)}.`;
          return;
        }
        const cells = model.get("cells").map((row) => row.slice());
        cells[r][c] = v;
        set({ cells, preset: "custom" });
      });
      grid.append(box);
      cellInputs.push(box);
    }
  };
  let photoKey = null, photo = null;
  const pixels = () => {
    const dv = model.get("photo"), shape = model.get("photo_shape");
    if (model.get("photo_source") !== model.get("image") || !dv || !dv.byteLength) return null;
    if (photoKey === model.get("photo_source") && photo) return photo;
    const buffer = dv.buffer.slice(dv.byteOffset, dv.byteOffset + dv.byteLength);
    // uint8 pixels are k/255 exactly (the photo's own levels); others travel as float64
    const flat = model.get("photo_dtype") === "uint8" ? Array.from(new Uint8Array(buffer), (v) => v / 255) : Array.from(new Float64Array(buffer));
    photo = Array.from({ length: shape[0] }, (_, r) => flat.slice(r * shape[1], (r + 1) * shape[1]));
    photoKey = model.get("photo_source");
    return photo;
  };
  const update = () => {
    preset.value = model.get("preset");
    image.value = model.get("image");
    size.value = String(model.get("size"));
    boundary.value = model.get("boundary");
    const k = model.get("cells");
    if (cellInputs.length !== k.length * k.length) buildCells(k.length);
    k.flat().forEach((v, i) => { if (document.activeElement !== cellInputs[i]) cellInputs[i].value = String(v); });
    heat.innerHTML = kernelHtml(k, luts.RdBu_r);
    const x = pixels();
    if (!x) {
      message.innerHTML = noticeHtml("this photo's pixels come from Python: run the notebook with a kernel to see it " +
        "(on the website, the photo saved with the page works)", "Waiting for the kernel");
      return;
    }
    let out;
    try {
      out = filter2d(x, k, model.get("boundary"));
    } catch (err) {
      message.innerHTML = noticeHtml(err.message, "Invalid kernel", true);
      return;
    }
    const [vmin, vmax, cmap] = displayRange(k, out);
    let lo = Infinity, hi = -Infinity, s = 0;
    for (const row of out) for (const v of row) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (const row of k) for (const v of row) s += v;
    drawIndexed(inCanvas, colourIndices(x, 0, 1), luts.gray);
    drawIndexed(outCanvas, colourIndices(out, vmin, vmax), luts[cmap]);
    colorbar.innerHTML = colorbarHtml(vmin, vmax, luts[cmap], lo, hi);
    const clipped = lo < vmin || hi > vmax;
    message.textContent =
      `kernel sum ${formatG(s, 3)}; output range [${formatG(lo, 3)}, ${formatG(hi, 3)}]; ` +
      `colours span [${formatG(vmin, 3)}, ${formatG(vmax, 3)}]` +
      (clipped ? (cmap === "gray"
        ? " (values past the kernel sum, e.g. sharpening overshoot, get the end colours)"
        : ` (the 99.5th percentile of |output|: the strongest 0.5% of edges get the end colours)`) : "");
  };
  model.on("change", update);
  update();
  return () => model.off("change", update);
}

export default { render };
