"""Sphinx extension: launch, repository and issue buttons only when the repository is known.

The public repository URL is set in ONE place, ``repository.url`` in jupyter-book.yml; the
launch buttons (Binder, Colab), the repository and issue buttons and the install cell of every
chapter (``scripts/launch_cell.py``) derive from it. While it is empty (no public repository
yet) the buttons are hidden instead of pointing nowhere.
"""

from __future__ import annotations


def repository_url(config) -> str:
    return str((config.html_theme_options or {}).get("repository_url") or "").strip()


def _buttons_follow_repository(app, config):
    options = dict(config.html_theme_options or {})
    known = bool(repository_url(config))
    # jupyter-book refuses these flags without a URL, so they are set here, not in the yml.
    options.update(use_repository_button=known, use_issues_button=known)
    config.html_theme_options = options
    if known:
        return
    # sphinx-book-theme shows no launch menu when no launch service is configured.
    options["launch_buttons"] = {
        key: value
        for key, value in dict(options.get("launch_buttons") or {}).items()
        if not key.endswith("_url")
    }
    options["launch_buttons"]["thebe"] = False
    config.html_theme_options = options


def setup(app):
    app.connect("config-inited", _buttons_follow_repository, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
