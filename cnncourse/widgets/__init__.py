"""Interactive explorers (ipywidgets), one module per widget.

Each module pairs a pure compute function, tested without a browser, with a thin view class and
``figure(...)``, its static rendering for the website. Shared view helpers (PNG encoders, HTML
tables and messages, image panels, the cached photo loader) live in :mod:`._render`; a widget
imports only ``_render``, :mod:`cnncourse.viz` and the library, never another widget.
Import the module you need, e.g. ``from cnncourse.widgets import kernel_explorer``.
"""
