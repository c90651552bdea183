"""Drive the anywidget explorers as a reader does, in any page that shows them.

Shared by tests/browser/test_site_explorers.py (the built website, no kernel) and
tests/browser/test_jupyterlab_web_explorers.py (JupyterLab with a kernel): the same controls,
the same expected outputs, since the page computes both.
"""

from __future__ import annotations


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
