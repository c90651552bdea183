"""Drive the anywidget explorers as a reader does, in any page that shows them.

Shared by tests/browser/test_site_explorers.py (the built website, no kernel) and
tests/browser/test_jupyterlab_web_explorers.py (JupyterLab with a kernel): the same controls,
the same expected outputs, since the page computes both.
"""

from __future__ import annotations

import re


def wait_text(page, locator, js_predicate: str):
    """Wait until ``js_predicate`` (a function of the element's innerText) is true."""
    page.wait_for_function(
        f"el => ({js_predicate})(el.innerText.trim())", arg=locator.element_handle()
    )


def slider(explorer, label: str):
    return explorer.get_by_role("slider", name=label, exact=True)


def press(control, key: str, times: int = 1):
    control.focus()
    for _ in range(times):
        control.press(key)


def type_into(explorer, label: str, text: str):
    box = explorer.get_by_role("textbox", name=f"{label} (type a value)", exact=True)
    box.fill(text)
    box.press("Enter")


def drive_stride_explorer(page, explorer, shots=None):
    """Every control once; the formula, warning and grids follow; bad text gives a message."""
    formula = explorer.locator(".cnncourse-formula")
    warning = explorer.locator(".cnncourse-warning")
    grid = explorer.locator(".cnncourse-grid")
    wait_text(page, formula, "t => t.endsWith('= 3')")  # the chapter's n=7, k=3, p=0, s=2
    assert warning.inner_text().strip() == ""
    assert grid.locator(".cnncourse-grid-output td").count() == 9
    if shots:
        explorer.screenshot(path=str(shots / "stride_initial.png"))

    press(slider(explorer, "stride s"), "ArrowRight")  # s = 3: floor(4/3) + 1 = 2, no tiling
    wait_text(page, formula, "t => t.endsWith('= 2')")
    assert "/ 3" in formula.inner_text() and "does not tile" in warning.inner_text()
    assert grid.locator(".cnncourse-grid-output td").count() == 4

    press(slider(explorer, "input n"), "ArrowLeft")  # n = 6: floor(3/3) + 1 = 2, tiles
    wait_text(page, formula, "t => t.includes('(6 +')")
    press(slider(explorer, "padding p"), "ArrowRight")  # p = 1: padded 8, (8-3) % 3 = 2 left
    wait_text(page, formula, "t => t.includes('2·1')")
    # the old grid_html test: 9 taps dotted, the last two padded rows/cols never visited
    assert grid.locator(".cnncourse-grid-input tr").count() == 8
    assert grid.locator(".cnncourse-grid-input td", has_text="•").count() == 9
    press(slider(explorer, "dilation d"), "ArrowRight")  # d = 2: window 5 in 8
    wait_text(page, formula, "t => t.includes('2·(3')")
    press(slider(explorer, "kernel k"), "End")  # k = 7, d = 2: 13 > 8, invalid
    wait_text(page, warning, "t => t.includes('Invalid configuration')")
    assert "dilated to 13" in warning.inner_text() and grid.inner_text().strip() == ""
    press(slider(explorer, "kernel k"), "Home")  # k = 1: valid, 3x3 output
    wait_text(page, warning, "t => !t.includes('Invalid')")

    before = grid.inner_text()
    press(slider(explorer, "output cell"), "ArrowRight")
    wait_text(page, grid, "t => t.includes('cell (0, 1)')")
    assert grid.inner_text() != before

    # typed text that is not a value in range: a visible message, nothing else changes
    type_into(explorer, "input n", "abc")
    message = explorer.locator(".cnncourse-input-error")
    wait_text(page, message, "t => t.includes('not a whole number')")
    type_into(explorer, "stride s", "9")
    wait_text(page, message, "t => t.includes('stride must be in 1..4, got 9')")
    type_into(explorer, "stride s", "1")
    wait_text(page, formula, "t => t.includes(') / 1')")
    assert message.inner_text().strip() == ""

    # play: the window slides on its own (and no TypeError from an icon font)
    explorer.get_by_role("button", name="slide the window").click()
    wait_text(page, grid, "t => !t.includes('cell (0, 1)') && !t.includes('cell (0, 0)')")
    explorer.get_by_role("button", name="slide the window").click()  # pause
    if shots:
        explorer.screenshot(path=str(shots / "stride_after.png"))


def drive_pooling_explorer(page, explorer, kernel: bool, shots=None):
    """Every control once on the grids; photos work with a kernel and say why not without."""
    formula = explorer.locator(".cnncourse-pooling-formula")
    message = explorer.locator(".cnncourse-pooling-message")
    grid = explorer.locator(".cnncourse-pooling-grid")
    window = explorer.locator(".cnncourse-pooling-window-view")
    wait_text(page, formula, "t => t.includes('step 1 of 4')")  # 4x4, max, window 2, stride 2
    assert "max = 6" in window.inner_text() and "(4 steps)" in message.inner_text()
    assert grid.locator(".cnncourse-pooling-current").inner_text() == "6"

    press(slider(explorer, "step"), "ArrowRight")  # the slider counts as the text: 2 of 4
    wait_text(page, formula, "t => t.includes('step 2 of 4')")
    assert grid.locator(".cnncourse-pooling-current").inner_text() == "8"

    explorer.get_by_role("combobox", name="pooling").select_option("avg")
    wait_text(page, window, "t => t.includes('sum 14 / 4 cells = 3.5')")
    assert "average pooling turns 16 numbers into 4 means" in message.inner_text()

    press(slider(explorer, "window"), "ArrowRight")  # 3x3 windows: one output
    wait_text(page, formula, "t => t.includes('floor((4 + 2*0 - 3) / 2) + 1 = 1')")
    press(slider(explorer, "padding"), "ArrowRight")  # padding 1: 2x2 output, 20 pad cells
    wait_text(page, formula, "t => t.includes('floor((4 + 2*1 - 3) / 2) + 1 = 2')")
    assert grid.locator(".cnncourse-pooling-pad").count() == 6 * 6 - 16
    assert grid.locator(".cnncourse-pooling-window").count() == 9
    press(slider(explorer, "padding"), "ArrowRight")  # 2 > 3 // 2: PyTorch's rule, no stale grid
    wait_text(page, message, "t => t.includes('padding 2 must be at most half')")
    assert grid.inner_text().strip() == "" and formula.inner_text().strip() == ""
    press(slider(explorer, "padding"), "ArrowLeft")
    wait_text(page, formula, "t => t.includes('+ 2*1 -')")

    explorer.get_by_role("checkbox", name="count_include_pad").uncheck()
    wait_text(page, window, "t => t.includes('(padding not counted)')")
    press(slider(explorer, "stride"), "ArrowRight")  # stride 3
    wait_text(page, formula, "t => t.includes('/ 3) + 1')")
    explorer.get_by_role("checkbox", name="ceil_mode").check()
    wait_text(page, formula, "t => t.includes('ceil((4 + 2*1 - 3) / 3)')")

    explorer.get_by_role("combobox", name="input").select_option("5x5 feature map (lecture)")
    wait_text(page, grid, "t => t.includes('input 5x5')")

    type_into(explorer, "window", "abc")
    errors = explorer.locator(".cnncourse-input-error")
    wait_text(page, errors, "t => t.includes('not a whole number')")

    explorer.get_by_role("button", name="slide the window").click()
    wait_text(page, formula, "t => !t.includes('step 1 of')")
    explorer.get_by_role("button", name="slide the window").click()
    if shots:
        explorer.screenshot(path=str(shots / "pooling_grid.png"))

    explorer.get_by_role("combobox", name="input").select_option("camera")
    if not kernel:  # the page cannot load a photo: it says so, no stale grid
        wait_text(page, message, "t => t.includes('run the notebook with a kernel')")
        assert grid.inner_text().strip() == ""
        return
    wait_text(page, message, "t => t.includes('one output row per step')")
    canvas = explorer.locator("canvas.cnncourse-pooling-input")
    canvas.wait_for(state="visible")
    label0 = canvas.get_attribute("aria-label")
    press(slider(explorer, "step"), "End")
    page.wait_for_function(
        "([c, l]) => c.getAttribute('aria-label') !== l", arg=[canvas.element_handle(), label0]
    )
    if shots:
        explorer.screenshot(path=str(shots / "pooling_photo.png"))


CANVAS_HASH_JS = "c => c.toDataURL()"


def drive_kernel_explorer(page, explorer, kernel: bool, shots=None):
    """Preset, cell edit, bad text, size, boundary and photo: the output canvas follows."""
    message = explorer.locator(".cnncourse-kernel-message")
    out = explorer.locator("canvas.cnncourse-kernel-output")
    wait_text(page, message, "t => t.startsWith('kernel sum 1; output range [0, 1]')")
    pic0 = out.evaluate(CANVAS_HASH_JS)

    explorer.get_by_role("combobox", name="preset").select_option("sobel_x")
    wait_text(page, message, "t => t.startsWith('kernel sum 0;')")
    cells = explorer.locator("input.cnncourse-kernel-cell")
    assert [cells.nth(i).input_value() for i in (0, 1, 2)] == ["-1", "0", "1"]
    pic1 = out.evaluate(CANVAS_HASH_JS)
    assert pic1 != pic0
    # the colour bar's end labels and the printed range agree (clipping is said in both)
    text, bar = message.inner_text(), explorer.locator(".cnncourse-kernel-colorbar").inner_text()
    if "end colours" in text:
        assert "≥" in bar and "≤" in bar
    if shots:
        explorer.screenshot(path=str(shots / "kernel_sobel.png"))

    cells.nth(4).fill("4")
    cells.nth(4).press("Enter")
    wait_text(page, message, "t => t.startsWith('kernel sum 4;')")
    assert explorer.get_by_role("combobox", name="preset").input_value() == "custom"
    assert out.evaluate(CANVAS_HASH_JS) != pic1

    cells.nth(0).fill("abc")
    cells.nth(0).press("Enter")
    errors = explorer.locator(".cnncourse-input-error")
    wait_text(page, errors, "t => t.includes(\"'abc' is not a finite number\")")

    explorer.get_by_role("combobox", name="size").select_option("5")
    page.wait_for_function(
        "el => el.querySelectorAll('input.cnncourse-kernel-cell').length === 25",
        arg=explorer.element_handle(),
    )
    pic2 = out.evaluate(CANVAS_HASH_JS)
    explorer.get_by_role("combobox", name="preset").select_option("laplacian")
    wait_text(page, message, "t => t.startsWith('kernel sum 0;')")
    pic3 = out.evaluate(CANVAS_HASH_JS)
    assert pic3 != pic2
    explorer.get_by_role("combobox", name="boundary").select_option("constant")
    page.wait_for_function("([c, p]) => c.toDataURL() !== p", arg=[out.element_handle(), pic3])

    explorer.get_by_role("combobox", name="photo").select_option("coins")
    if not kernel:
        wait_text(page, message, "t => t.includes('run the notebook with a kernel')")
        return
    page.wait_for_function(
        "c => c.width === 384",
        arg=explorer.locator("canvas.cnncourse-kernel-input").element_handle(),
    )
    wait_text(page, message, "t => t.startsWith('kernel sum 0;')")
    if shots:
        explorer.screenshot(path=str(shots / "kernel_coins.png"))


def drive_nms_explorer(page, explorer, shots=None):
    """Thresholds, steps, canvas and bad text: the boxes and the text follow (no kernel needed:
    every saved scene travels with the page)."""
    info = explorer.locator(".cnncourse-nms-info")
    view = explorer.locator("canvas.cnncourse-nms-view")
    wait_text(page, info, "t => t.includes('NMS keeps')")
    assert "Step " in info.inner_text()  # opens at the end: every box decided
    pic0 = view.evaluate(CANVAS_HASH_JS)

    press(slider(explorer, "step"), "Home")
    wait_text(page, info, "t => t.includes('Step 0: nothing decided yet. Press play.')")
    press(slider(explorer, "step"), "ArrowRight")
    wait_text(page, info, "t => t.includes('Step 1/')")
    # the text names boxes by the labels drawn on them: "keep box #13 ... suppress #17 ..."
    assert "keep box #" in info.inner_text()
    assert view.evaluate(CANVAS_HASH_JS) != pic0
    if shots:
        explorer.screenshot(path=str(shots / "nms_step1.png"))

    press(slider(explorer, "IoU > (%)"), "End")  # 1.0: nothing is suppressed
    wait_text(page, info, "t => /candidates; NMS keeps (\\d+)/.test(t)")
    text = info.inner_text()
    n_cand, n_keep = re.search(r"(\d+) candidates; NMS keeps (\d+)", text).groups()
    assert n_cand == n_keep, text
    press(slider(explorer, "score > (%)"), "End")  # 1.0: no candidates, no "press play"
    wait_text(page, info, "t => t.includes('No candidates')")
    assert "Press play" not in info.inner_text()
    press(slider(explorer, "score > (%)"), "Home")
    wait_text(page, info, "t => !t.includes('No candidates')")

    before = view.evaluate(CANVAS_HASH_JS)
    press(slider(explorer, "canvas"), "ArrowRight")
    page.wait_for_function("([c, p]) => c.toDataURL() !== p", arg=[view.element_handle(), before])

    type_into(explorer, "IoU > (%)", "abc")
    errors = explorer.locator(".cnncourse-input-error")
    wait_text(page, errors, "t => t.includes('not a whole number')")

    press(slider(explorer, "step"), "Home")
    explorer.get_by_role("button", name="step through NMS").click()
    wait_text(page, info, "t => t.includes('Step 1/') || t.includes('Step 2/')")
    explorer.get_by_role("button", name="step through NMS").click()


def tracer_table(explorer):
    """The shape tracer's table as shown: body rows of cell texts, and the footer line."""
    return explorer.locator(".cnncourse-tracer-table").evaluate(
        """el => {
          const t = el.querySelector('table');
          const p = el.querySelector('p');
          return [t ? [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent)) : null,
                  p ? p.textContent : ''];
        }"""
    )


def expect_trace(page, explorer, name: str, size: int):
    """The page shows trace_stack(name, size) cell for cell (or its error, word for word)."""
    from cnncourse.widgets import shape_tracer as st

    message = explorer.locator(".cnncourse-tracer-message")
    try:
        table = st.trace_stack(name, size)
    except ValueError as err:
        wait_text(page, message, "t => t.startsWith('Invalid input size:')")
        assert message.inner_text().strip() == f"Invalid input size: {err}"
        assert tracer_table(explorer) == [None, ""]
        return
    footer = table._footer()
    page.wait_for_function(
        "([el, f]) => (el.querySelector('p') || {}).textContent === f",
        arg=[explorer.locator(".cnncourse-tracer-table").element_handle(), footer],
    )
    assert tracer_table(explorer) == [table._cells(), footer]
    spec = st.STACKS[name]
    c, d = spec.in_channels, spec.default_size
    assert (
        message.inner_text()
        .strip()
        .endswith(f"designed for {c}×{d}×{d} input; traced at {c}×{size}×{size}")
    )


def drive_shape_tracer(page, explorer, shots=None):
    """Slider, typed sizes (too small, invalid text) and the stack menu: the table follows and
    equals trace_stack row by row; a new stack starts at its design size."""
    size = slider(explorer, "input size")
    expect_trace(page, explorer, "LeNet-style homework", 32)
    assert explorer.locator(".cnncourse-snapshot-badge").count() == 0
    if shots:
        explorer.screenshot(path=str(shots / "tracer_initial.png"))
    press(size, "ArrowRight")
    expect_trace(page, explorer, "LeNet-style homework", 33)
    type_into(explorer, "input size", "64")  # the head is re-sized for the bigger map
    expect_trace(page, explorer, "LeNet-style homework", 64)
    type_into(explorer, "input size", "15")  # the second pooling no longer fits
    expect_trace(page, explorer, "LeNet-style homework", 15)
    press(size, "ArrowRight")  # 16: the smallest input that still runs
    expect_trace(page, explorer, "LeNet-style homework", 16)

    stacks = explorer.get_by_role("combobox", name="stack")
    stacks.select_option("ResNet stem")
    expect_trace(page, explorer, "ResNet stem", 224)
    press(size, "End")
    expect_trace(page, explorer, "ResNet stem", 512)
    stacks.select_option("VGG-16")
    expect_trace(page, explorer, "VGG-16", 224)
    press(size, "ArrowLeft")
    expect_trace(page, explorer, "VGG-16", 223)
    type_into(explorer, "input size", "31")  # too small: the fifth pooling has a 1x1 map
    expect_trace(page, explorer, "VGG-16", 31)
    if shots:
        explorer.screenshot(path=str(shots / "tracer_error.png"))
    stacks.select_option("VGG block")
    expect_trace(page, explorer, "VGG block", 224)
    press(size, "Home")
    expect_trace(page, explorer, "VGG block", 1)

    errors = explorer.locator(".cnncourse-input-error")
    type_into(explorer, "input size", "abc")
    wait_text(page, errors, "t => t.includes('not a whole number')")
    type_into(explorer, "input size", "600")
    wait_text(page, errors, "t => t.includes('input_size must be in 1..512, got 600')")
    expect_trace(page, explorer, "VGG block", 1)  # unchanged
    stacks.select_option("LeNet-5")
    expect_trace(page, explorer, "LeNet-5", 32)
    assert errors.inner_text().strip() == ""
    if shots:
        explorer.screenshot(path=str(shots / "tracer_after.png"))
