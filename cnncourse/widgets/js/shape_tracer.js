// Browser front-end of cnncourse.widgets.shape_tracer: a port of trace_stack() (with the size
// rules of cnncourse.shapes from _common.js and the columns of cnncourse.tracer.trace it uses) for the layer
// lists shape_tracer.page_stacks() derives from the built modules, so the tracer also runs on
// the static website. tests/browser/test_explorers_js.py proves traceStack() and tableHtml()
// equal to trace_stack() and ShapeTable._repr_html_(), errors included. A stack without a layer
// list (layers: null) is traced by Python, which sends its table in the `kernel_view` trait.

// shape_tracer._walk: the output shape (batch 1 included) after each layer, height axis first,
// by the size rules of _common.js (a 'same' convolution with a stride never reaches the page:
// page_stacks() refuses it).
function walk(layers, inChannels, size) {
  let shape = [1, inChannels, size, size];
  return layers.map((layer) => {
    if (layer.op === "conv" || layer.op === "pool") {
      const hw = [0, 1].map((a) => {
        const [k, s, d] = [layer.kernel_size[a], layer.stride[a], layer.dilation[a]];
        const p = typeof layer.padding === "string" ? layer.padding : layer.padding[a];
        return layer.op === "conv"
          ? convOutputSize(shape[2 + a], k, s, p, d)
          : poolOutputSize(shape[2 + a], k, s, p, d, layer.ceil_mode);
      });
      shape = [1, layer.op === "conv" ? layer.out_channels : shape[1], ...hw];
    } else if (layer.op === "flatten") {
      shape = [1, shape[1] * shape[2] * shape[3]];
    } else if (layer.op === "linear") {
      shape = [1, layer.out_features];
    }
    return shape;
  });
}

const product = (values) => values.reduce((a, b) => a * b, 1);

// trace_stack(name, input_size): the rows of tracer.trace for a chain, as table_json() gives
// them. Receptive field per axis (size, jump): a conv/pool layer grows it by (k_eff - 1) * jump
// and multiplies the jump by its stride; element-wise layers pass it on; from a flatten on
// (2-D values) it is undefined (null), as in tracer.trace.
export function traceStack(stacks, name, inputSize = null, maxSize = 512) {
  const names = stacks.map((s) => s.name);
  checkChoice("name", name, names);
  const stack = stacks[names.indexOf(name)];
  const size = checkInt("input_size", inputSize === null ? stack.default_size : inputSize, 1);
  if (size > maxSize) throw new ValueError(`input_size must be <= ${maxSize}, got ${size}`);
  let outs;
  try {
    outs = walk(stack.layers, stack.in_channels, size);
  } catch (err) {
    throw new ValueError(`input_size ${size} is too small for ${name}: ${err.message}`);
  }
  const rows = [];
  let x = [1, stack.in_channels, size, size];
  let rf = [[1, 1], [1, 1]];
  let total = 0, weightMultAdds = 0;
  stack.layers.forEach((layer, i) => {
    const y = outs[i], numel = product(y);
    const parameters = layer.op === "linear"
      ? x[1] * layer.out_features + (layer.bias ? layer.out_features : 0)
      : layer.parameters;
    let multAdds = null;
    if (layer.op === "conv") {
      multAdds = numel * floorDiv(layer.in_channels, layer.groups) * product(layer.kernel_size);
    } else if (layer.op === "linear") {
      multAdds = numel * x[1];
    } else if (layer.op === "pool") {
      multAdds = numel * product(layer.kernel_size);  // window elements read
    }
    if (layer.op === "conv" || layer.op === "linear") weightMultAdds += multAdds;
    let rfOut = null;
    if (rf !== null && y.length === 4) {
      if (layer.op === "conv" || layer.op === "pool") {
        rfOut = [0, 1].map((a) => {
          const kEff = effectiveKernelSize(layer.kernel_size[a], layer.dilation[a]);
          return [rf[a][0] + (kEff - 1) * rf[a][1], rf[a][1] * layer.stride[a]];
        });
      } else if (layer.op === "pointwise") {
        rfOut = rf;
      }
    }
    rf = rfOut;
    rows.push({
      name: layer.name, type: layer.type, input_shape: x, output_shape: y, parameters,
      activations: numel, mult_adds: multAdds,
      receptive_field: rfOut && [rfOut[0][0], rfOut[1][0]], jump: rfOut && [rfOut[0][1], rfOut[1][1]],
    });
    total += parameters;
    x = y;
  });
  return {
    rows, input_shape: [1, stack.in_channels, size, size], total_parameters: total,
    trainable_parameters: total, mult_adds: weightMultAdds,
  };
}

const commas = (v) => String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

// tracer._fmt
function fmt(key, value) {
  if (value === null || value === undefined) return "-";
  if (key === "output_shape" || key === "input_shape") return "[" + value.join(", ") + "]";
  if (key === "receptive_field" || key === "jump") {
    return value[0] === value[1] ? String(value[0]) : `${value[0]}x${value[1]}`;
  }
  if (typeof value === "number") return commas(value);
  return String(value);
}

// ShapeTable._footer
function footer(table) {
  let text = `Input shape: ${fmt("input_shape", table.input_shape)}; `;
  text += `total parameters: ${commas(table.total_parameters)}`;
  if (table.trainable_parameters !== table.total_parameters) {
    text += ` (trainable ${commas(table.trainable_parameters)})`;
  }
  return text;
}

// ShapeTable._repr_html_ of a table (from traceStack or Python's table_json); `headers` are
// tracer.HEADERS as [key, label] pairs.
export function tableHtml(table, headers) {
  const head = headers.map(([, label]) => `<th>${escapeHtml(label)}</th>`).join("");
  const body = table.rows
    .map((row) => "<tr>" + headers.map(([key]) => `<td>${escapeHtml(fmt(key, row[key]))}</td>`).join("") + "</tr>")
    .join("");
  return (
    '<table class="cnncourse-shape-table">' +
    `<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>` +
    `<p>${escapeHtml(footer(table))}</p>`
  );
}

// The line above the table: the stack's design size stated next to the traced one.
export function messageHtml(stack, size) {
  const c = stack.in_channels, d = stack.default_size;
  return (
    `<i>${escapeHtml(stack.description)}</i> &mdash; designed for ${c}&times;${d}&times;${d} ` +
    `input; traced at ${c}&times;${size}&times;${size}`
  );
}

// The table keeps each row on one line and scrolls sideways in its own box (a phone).
const TABLE_CSS =
  ".cnncourse-tracer-table table{border-collapse:collapse;font-size:13px;margin:4px 0}" +
  ".cnncourse-tracer-table th,.cnncourse-tracer-table td{padding:2px 8px;white-space:nowrap;" +
  "text-align:right;border-bottom:1px solid #ddd}" +
  ".cnncourse-tracer-table th:nth-child(-n+2),.cnncourse-tracer-table td:nth-child(-n+2){text-align:left}";

function render({ model, el }) {
  keepKeys(el);
  el.append(h("style", { text: TABLE_CSS }));
  const maxSize = model.get("max_input_size");
  const headers = model.get("headers");
  const inputError = inputErrorBox();
  const set = traitSetter(model, inputError);
  const select = h("select", { "aria-label": "stack", class: "cnncourse-tracer-stack" });
  let optionNames = "";
  const fillOptions = () => {
    const names = model.get("stacks").map((s) => s.name);
    if (names.join("\n") === optionNames) return;
    optionNames = names.join("\n");
    select.replaceChildren(...names.map((name) => h("option", { value: name, text: name })));
  };
  select.addEventListener("change", () => {
    const stack = model.get("stacks").find((s) => s.name === select.value);
    set({ stack: select.value, input_size: Math.min(stack.default_size, maxSize) });
  });
  const size = intControl({
    name: "input_size", label: "input size", lo: 1, hi: maxSize, value: model.get("input_size"),
    cssClass: "cnncourse-tracer-size",
    onInput: (v) => set({ input_size: v }),
    onInvalid: (text) => { inputError.textContent = text; },
  });
  size.row.style.flex = "1 1 320px";  // label, slider and box on one line where there is room
  const message = h("div", { class: "cnncourse-tracer-message", "aria-live": "polite" });
  const table = h("div", { class: "cnncourse-tracer-table", style: "overflow-x:auto;max-width:100%" });
  el.append(
    h("div", { style: "display:flex;align-items:center;gap:12px;flex-wrap:wrap" }, [
      h("label", { style: "display:flex;align-items:center;gap:8px" }, [h("span", { text: "stack" }), select]),
      size.row,
    ]),
    inputError, message, table,
  );

  const show = (result, stack, n) => {
    if (result.error) {
      message.innerHTML = noticeHtml(result.error, "Invalid input size", true);
      table.innerHTML = "";
    } else {
      message.innerHTML = messageHtml(stack, n);
      table.innerHTML = tableHtml(result.table, headers);
    }
  };
  const update = () => {
    fillOptions();
    const name = model.get("stack"), n = model.get("input_size");
    select.value = name;
    size.set(n);
    const stacks = model.get("stacks");
    const stack = stacks.find((s) => s.name === name);
    if (stack && !stack.layers) {  // only Python can trace it: show what the kernel sent
      const view = model.get("kernel_view");
      if (view && view.stack === name && view.input_size === n) {
        show({ table: view.table, error: view.error }, stack, n);
      } else {
        message.innerHTML = noticeHtml(
          `only Python can trace ${name} (${stack.kernel_only}): run the notebook with a kernel ` +
          "to see its table (on the website, the built-in stacks work in the page)",
          "Waiting for the kernel");
        table.innerHTML = "";
      }
      return;
    }
    try {
      show({ table: traceStack(stacks, name, n, maxSize), error: "" }, stack, n);
    } catch (err) {
      show({ table: null, error: err.message }, stack, n);
    }
  };
  model.on("change", update);
  update();
  return () => model.off("change", update);
}

export default { render };
