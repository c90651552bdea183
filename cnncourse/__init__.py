"""cnncourse: the helper library of an interactive course on convolutional neural networks.

Small modules mirror the chapters (``conv`` for chapter 1, ``filters`` for chapter 2, ...).
Import them explicitly, e.g. ``from cnncourse import conv``.
"""

__version__ = "0.1.0"
