"""Interactive explorers (ipywidgets), one module per widget.

Each module pairs a pure compute function, tested without a browser, with a thin view class.
Import the module you need, e.g. ``from cnncourse.widgets import kernel_explorer``.
"""
