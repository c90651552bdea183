"""Plotting helpers shared by the chapters and the widgets (matplotlib only)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np


def show_array(
    ax: plt.Axes,
    values: np.ndarray,
    title: str = "",
    *,
    cmap: str = "gray",
    colorbar: bool = False,
    annotate: bool = False,
    fmt: str = "{:.3g}",
    vmin: float | None = None,
    vmax: float | None = None,
    symmetric: bool = False,
):
    """Draw a 2-D array as an image on ``ax``.

    ``annotate`` writes each value in its cell (for small kernels and worked examples);
    ``symmetric`` centres the colour scale on zero (for signed outputs such as edge maps).
    Returns the ``AxesImage``.
    """
    values = np.asarray(values, dtype=float)
    if symmetric:
        bound = float(np.abs(values).max()) or 1.0
        vmin, vmax = -bound, bound
    im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if annotate:
        for (r, c), v in np.ndenumerate(values):
            # Black text on light cells, white on dark ones (by the cell colour's luminance).
            red, green, blue, _ = im.cmap(im.norm(v))
            light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
            ax.text(
                c,
                r,
                fmt.format(v),
                ha="center",
                va="center",
                fontsize=9,
                color="black" if light else "white",
            )
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def show_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    cmap: str = "gray",
    size: float = 2.5,
    suptitle: str = "",
    **kwargs,
) -> plt.Figure:
    """A grid of images with titles; returns the figure (unused axes are hidden)."""
    n = len(images)
    ncols = ncols or min(n, 6)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            show_array(ax, images[i], titles[i] if titles else "", cmap=cmap, **kwargs)
        else:
            ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
