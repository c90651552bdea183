// Helpers shared by the explorers' browser front-ends. cnncourse.widgets._render.esm() puts
// this file in front of each explorer's module, so every saved widget carries one copy.
// Errors mirror cnncourse/_validate.py word for word: the browser tests compare messages.

class ValueError extends Error {
  constructor(message) {
    super(message);
    this.name = "ValueError";
  }
}

function pyTypeName(v) {
  if (typeof v === "string") return "str";
  if (typeof v === "boolean") return "bool";
  if (v === null || v === undefined) return "NoneType";
  return Number.isInteger(v) ? "int" : "float";
}

function pyRepr(v) {
  if (typeof v === "string") return `'${v}'`;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (v === null || v === undefined) return "None";
  return String(v);
}

// repr() of a Python float: "2.0", "0.1", "nan", "inf".
function pyFloatRepr(v) {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

// check_int: an integer (not a bool, not a float) >= minimum. JavaScript has one number type,
// so 3.0 counts as the integer 3 here (Python would reject it; sliders only send integers).
function checkInt(name, value, minimum) {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${pyRepr(value)} (${pyTypeName(value)})`);
  }
  if (minimum !== undefined && minimum !== null && value < minimum) {
    throw new ValueError(`${name} must be >= ${minimum}, got ${value}`);
  }
  return value;
}

// Python's floor division and modulo (the sign follows the divisor).
const floorDiv = (a, b) => Math.floor(a / b);
const pyMod = (a, b) => ((a % b) + b) % b;

// ------------------------------------------------------------------- shapes (one axis)
// cnncourse.shapes.conv_output_size / pool_output_size and their helpers, argument for argument
// and error for error (tests/browser/test_explorers_js.py compares them with Python directly).
// Every explorer that shows an output size calls these.

// shapes.effective_kernel_size: the span d(k-1)+1 of a dilated kernel (k=3, d=2 -> 5).
function effectiveKernelSize(kernelSize, dilation = 1) {
  const k = checkInt("kernel_size", kernelSize, 1), d = checkInt("dilation", dilation, 1);
  return d * (k - 1) + 1;
}

function checkCommon(size, kernelSize, stride, dilation) {  // shapes._check_common
  return [
    checkInt("size", size, 1), checkInt("kernel_size", kernelSize, 1),
    checkInt("stride", stride, 1), checkInt("dilation", dilation, 1),
  ];
}

// shapes.conv_output_terms: the numerator n + 2p - d(k-1) - 1 (never raises on a bad fit).
function convOutputTerms(size, kernelSize, stride = 1, padding = 0, dilation = 1) {
  const [n, k, , d] = checkCommon(size, kernelSize, stride, dilation);
  return n + 2 * checkInt("padding", padding, 0) - effectiveKernelSize(k, d);
}

// shapes.conv_output_size: padding an int, 'valid' or 'same' (which needs stride 1).
function convOutputSize(size, kernelSize, stride = 1, padding = 0, dilation = 1) {
  const [n, k, s, d] = checkCommon(size, kernelSize, stride, dilation);
  if (typeof padding === "string") {
    if (checkChoice("padding", padding, ["valid", "same"]) === "same") {
      if (s !== 1) {
        throw new ValueError(
          "padding='same' needs stride=1 (PyTorch rejects it for strided " +
          "convolutions: no symmetric padding makes the output equal the input), " +
          `got stride=${s}; use same_padding(size, kernel_size, stride) for the ` +
          "TensorFlow-style output ceil(n/s)"
        );
      }
      return n;
    }
    padding = 0;
  }
  const numerator = convOutputTerms(n, k, s, padding, d);
  if (numerator < 0) {
    const p = padding, kEff = effectiveKernelSize(k, d);
    throw new ValueError(
      `kernel_size ${k} (dilated to ${kEff}) is larger than the padded input ` +
      `${n} + 2*${p} = ${n + 2 * p}: the window d(k-1)+1 = ${kEff} must fit in n + 2p`
    );
  }
  return floorDiv(numerator, s) + 1;
}

// shapes.pool_output_size: stride null means kernel_size; with ceilMode the last window is
// dropped again if it would start beyond the input and its left padding, as PyTorch does.
function poolOutputSize(size, kernelSize, stride = null, padding = 0, dilation = 1, ceilMode = false) {
  if (stride === null || stride === undefined) stride = kernelSize;
  const [n, k, s, d] = checkCommon(size, kernelSize, stride, dilation);
  const p = checkInt("padding", padding, 0);
  checkBool("ceil_mode", ceilMode);
  if (p > floorDiv(k, 2)) {
    throw new ValueError(
      `padding ${p} must be at most half the kernel_size: ${k} // 2 = ${floorDiv(k, 2)} ` +
      "(PyTorch's pooling rule, so every window overlaps the input)"
    );
  }
  const numerator = convOutputTerms(n, k, s, p, d) + (ceilMode ? s - 1 : 0);
  let out = floorDiv(numerator, s) + 1;
  if (ceilMode && (out - 1) * s >= n + p) out -= 1;  // the last window would start in the right padding
  if (out < 1) {
    const rounding = ceilMode ? "ceil" : "floor", kEff = effectiveKernelSize(k, d);
    throw new ValueError(
      `kernel_size ${k} (dilated to ${kEff}) does not fit the padded input ` +
      `${n} + 2*${p} = ${n + 2 * p}: ${rounding}((${n} + 2*${p} - ${kEff}) / ${s}) + 1 = ${out} ` +
      "outputs (need >= 1)"
    );
  }
  return out;
}

function escapeHtml(text) {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#x27;");
}

// _render.notice_html: a boxed "label: text" notice, amber or red; "" without text.
function noticeHtml(text, label, error = false) {
  if (!text) return "";
  const [color, bg] = error ? ["#8b0000", "#fde8e8"] : ["#7a4d00", "#fff4d6"];
  return (
    `<div role="${error ? "alert" : "status"}" style="color:${color};background:${bg};` +
    `padding:6px 10px;border-radius:4px"><b>${escapeHtml(label)}:</b> ${escapeHtml(text)}</div>`
  );
}

// A table of [background colour, html text] cells (the widgets' grids).
function cellTable(cells, cellPx, cssClass) {
  const style =
    `width:${cellPx}px;height:${cellPx}px;padding:0;border:1px solid #888;` +
    `font-size:${Math.max(Math.floor(cellPx / 2), 8)}px;text-align:center;background:`;
  const body = cells
    .map((row) => "<tr>" + row.map(([c, t]) => `<td style="${style}${c}">${t}</td>`).join("") + "</tr>")
    .join("");
  return `<table class="${cssClass}" style="border-collapse:collapse">${body}</table>`;
}

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") node.style.cssText = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// Send a change to the kernel when there is one. On the static website the saved widget has no
// comm and save_changes throws: the browser computes alone, so that is fine.
function saveChanges(model) {
  try {
    const result = model.save_changes();
    if (result && typeof result.catch === "function") result.catch(() => {});
  } catch (err) {
    /* no kernel */
  }
}

// The line under an explorer's controls where a refused typed-in value is explained.
function inputErrorBox() {
  return h("div", { class: "cnncourse-input-error", role: "alert", style: "color:#8b0000" });
}

// set(changes): set the model's traits and send them to the kernel; any change clears the
// message of a refused typed-in value (it is about an earlier value).
function traitSetter(model, inputError) {
  return (changes) => {
    inputError.textContent = "";
    for (const [key, v] of Object.entries(changes)) model.set(key, v);
    saveChanges(model);
  };
}

// An integer control: a labelled range slider plus a text box one can type into. Typed text
// that is not a whole number in [lo, hi] leaves the value alone and shows a message.
let _controlId = 0;
function intControl({ name, label, lo, hi, value, cssClass, onInput, onInvalid }) {
  const id = `cnncourse-ctl-${++_controlId}`;
  const slider = h("input", {
    type: "range", id, min: String(lo), max: String(hi), step: "1", value: String(value),
    "aria-label": label, style: "flex:0 1 260px;min-width:80px",
  });
  const box = h("input", {
    type: "text", inputmode: "numeric", value: String(value), "aria-label": `${label} (type a value)`,
    class: "cnncourse-readout", style: "width:3.5em",
  });
  const row = h("div", { class: cssClass, style: "display:flex;align-items:center;gap:8px;flex-wrap:wrap;margin:2px 0" }, [
    h("label", { for: id, text: label, style: "min-width:7em" }), slider, box,
  ]);
  slider.addEventListener("input", () => {
    box.value = slider.value;
    onInput(Number(slider.value));
  });
  box.addEventListener("change", () => {
    const text = box.value.trim();
    if (!/^[+-]?\d+$/.test(text)) {
      onInvalid(`${label}: '${text}' is not a whole number; type an integer from ${lo} to ${hi}.`);
      return;
    }
    const v = Number(text);
    if (v < lo || v > hi) {
      onInvalid(`${name} must be in ${lo}..${hi}, got ${v}.`);
      return;
    }
    slider.value = String(v);
    onInput(v);
  });
  return {
    row, slider, box,
    set(v, max) {
      if (max !== undefined) slider.max = String(max);
      slider.value = String(v);
      if (document.activeElement !== box) box.value = String(v);
    },
  };
}

// A play button that steps through 0..max, one step per interval ms; text, not an icon font.
// Its accessible name holds both visible words ("play", "pause") and what it plays.
function playButton(label, onTick) {
  const button = h("button", { type: "button", class: "cnncourse-play", "aria-label": `play or pause: ${label}` });
  const show = (glyph, word) =>
    button.replaceChildren(h("span", { "aria-hidden": "true", text: glyph }), document.createTextNode(` ${word}`));
  show("\u25B6", "play");
  let timer = null;
  const stop = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
    show("\u25B6", "play");
    button.setAttribute("aria-pressed", "false");
  };
  const start = (interval) => {
    stop();
    timer = setInterval(() => {
      if (!onTick()) stop();
    }, interval);
    show("\u23F8", "pause");
    button.setAttribute("aria-pressed", "true");
  };
  return { button, stop, start, playing: () => timer !== null };
}

// JupyterLab's command-mode shortcuts listen for keys bubbling to the document; keys typed or
// pressed in an explorer's own inputs (arrow keys on a slider, digits in a box) stay here.
function keepKeys(el) {
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  el.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement) event.stopPropagation();
  });
}

function checkBool(name, value) {
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be True or False, got ${pyRepr(value)} (${pyTypeName(value)})`);
  }
  return value;
}

function checkChoice(name, value, choices) {
  if (!choices.includes(value)) {
    throw new ValueError(`${name} must be one of ${choices.map(pyRepr).join(", ")}; got ${pyRepr(value)}`);
  }
  return value;
}

// v.toExponential(d) as [mantissa, exponent], but exact ties round to even digits, as Python's
// formatting does (JavaScript rounds them up: 0.8125 -> "8.13e-1" where Python says 0.812).
function roundedExp(v, d) {
  const [m, e] = v.toExponential(d).split("e");
  const [fm, fe] = Math.abs(v).toExponential(100).split("e");  // exact for the values shown
  const digits = fm.replace(".", "");
  if (/^50*$/.test(digits.slice(d + 1)) && Number(digits[d]) % 2 === 0) {
    const kept = digits[0] + (d ? "." + digits.slice(1, d + 1) : "");
    return [(v < 0 ? "-" : "") + kept, Number(fe)];
  }
  return [m, Number(e)];
}

// Python's format(v, ".<prec>g").
function formatG(v, prec) {
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
  const [mant, exp] = roundedExp(v, prec - 1);
  const strip = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
  if (exp < -4 || exp >= prec) {
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${strip(mant)}e${exp < 0 ? "-" : "+"}${e}`;
  }
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  const text = exp >= 0
    ? digits.slice(0, exp + 1).padEnd(exp + 1, "0") + (digits.length > exp + 1 ? "." + digits.slice(exp + 1) : "")
    : "0." + "0".repeat(-exp - 1) + digits;
  return (neg ? "-" : "") + strip(text);
}
