"""Plotting helpers shared by the chapters and the widgets (matplotlib only)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from ._validate import check_array, check_choice, check_unit_interval

FIGURE_DPI = 72  # one layout size for every chapter's figures (the website's image size)

# Text sizes in points: at FIGURE_DPI one point is one CSS pixel, and a figure wider than the
# page is shown at ~85 %, so nothing smaller than 9.5 pt stays >= 8 pt on screen.
FONT_SIZES = {
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 9.5,
    "legend.fontsize": 9.5,
    "figure.titlesize": 12,
}

# True/false positives and missed objects: Okabe-Ito colours (distinct with every common colour
# vision deficiency) plus a second cue, the line style and a tag written on the box.
BOX_STYLES = {
    "true positive": {"color": "#009E73", "linestyle": "-", "tag": "TP"},
    "false positive": {"color": "#D55E00", "linestyle": "--", "tag": "FP"},
    "missed": {"color": "#56B4E9", "linestyle": ":", "tag": "missed"},
}


def setup() -> None:
    """Set the chapters' matplotlib defaults; call once in a chapter's first cell.

    Figures keep their layout size (``figure.dpi`` = :data:`FIGURE_DPI`) and are sent to the
    notebook at twice the pixels ("retina" PNG), so they stay sharp on high-DPI screens and
    phones; text sizes follow :data:`FONT_SIZES`.
    """
    plt.rcParams["figure.dpi"] = FIGURE_DPI
    plt.rcParams.update(FONT_SIZES)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing is displayed inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


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


def show_kernel(ax: plt.Axes, kernel, title: str = "", fmt: str = "{:.3g}", annotate: bool = True):
    """Draw a kernel (kh, kw) as a heat map centred on 0 with its numbers (legible on dark cells).

    Returns the ``AxesImage``.
    """
    kernel = check_array("kernel", kernel, ndim=2)
    im = show_array(ax, kernel, title, cmap="RdBu_r", symmetric=True)
    if annotate:
        bound = float(np.abs(kernel).max()) or 1.0
        for (r, c), v in np.ndenumerate(kernel):
            ink = "white" if abs(v) > 0.6 * bound else "black"
            ax.text(c, r, fmt.format(v), ha="center", va="center", color=ink, fontsize=9)
    return im


def grad_cam_overlay(image, heat, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a heat map (colour-mapped, scaled to its max) over an image.

    Parameters
    ----------
    image : array or Tensor, shape (H, W) or (H, W, 3)
        Values in [0, 1] (rescale normalised inputs first); gray images are repeated to RGB.
    heat : array or Tensor, shape (H, W)
        Non-negative heat map, e.g. one map of :func:`cnncourse.explain.grad_cam`. Scaled by
        ``1 / heat.max()`` (an all-zero map stays zero).
    alpha : float
        Weight of the heat map, in [0, 1].
    cmap : str
        A matplotlib colour map.

    Returns
    -------
    ndarray of float64, shape (H, W, 3), values in [0, 1]:
    ``(1 - alpha) * image + alpha * cmap(heat / heat.max())``.
    """
    img = check_array("image", image, ndim=(2, 3)).astype(np.float64)
    hm = check_array("heat", heat, ndim=2).astype(np.float64)
    if img.ndim == 3 and img.shape[2] != 3:
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {img.shape}")
    if img.shape[:2] != hm.shape:
        raise ValueError(f"heat must have the image's size {img.shape[:2]}, got {hm.shape}")
    if not (np.isfinite(img).all() and np.isfinite(hm).all()):
        raise ValueError("image and heat must be finite")
    alpha = check_unit_interval("alpha", alpha)
    check_choice("cmap", cmap, tuple(matplotlib.colormaps))
    if hm.min() < 0:
        raise ValueError(f"heat must be non-negative (apply the ReLU), min is {hm.min():.3g}")
    peak = hm.max()
    scaled = hm / peak if peak > 0 else hm
    colour = matplotlib.colormaps[cmap](scaled)[..., :3]
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
    return np.clip((1 - alpha) * np.clip(rgb, 0, 1) + alpha * colour, 0, 1)


# --------------------------------------------------------------------------- training curves


def plot_history(history, axes=None, *, title: str | None = None, total_epochs: int | None = None):
    """Loss and accuracy curves (train and validation) of a training run, on two axes.

    Parameters
    ----------
    history : cnncourse.train.History or sequence of dict
        Per-epoch rows with ``epoch`` and any of ``train_loss``, ``val_loss``,
        ``train_accuracy``, ``val_accuracy`` (``None`` values are skipped).
    axes : pair of matplotlib Axes, optional
        Cleared and redrawn (a live plot reuses them). Default: a new 8 x 3 inch figure.
    title : str, optional
        Figure title.
    total_epochs : int, optional
        Fix the x-axis to ``1 .. total_epochs`` (so a live plot does not rescale every epoch).

    Returns
    -------
    the two Axes (loss, accuracy)
    """
    rows = list(getattr(history, "rows", history))
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=80)
    ax_loss, ax_acc = axes
    for ax in axes:
        ax.clear()
    for split, style in (("train", "-o"), ("val", "-s")):
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "accuracy")):
            key = f"{split}_{metric}"
            points = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points, strict=True), style, ms=3, label=split)
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        if total_epochs:
            ax.set_xlim(0.5, total_epochs + 0.5)
        if ax.lines:
            ax.legend()
        ax.grid(alpha=0.3)
    ax_loss.set_ylabel("cross-entropy")
    ax_acc.set_ylabel("fraction correct")
    if title:
        ax_loss.figure.suptitle(title)
    ax_loss.figure.tight_layout()
    return axes


def offscreen_figure(figsize: tuple[float, float], dpi: int = 72):
    """A matplotlib Figure on an Agg canvas that pyplot does not know about (never auto-shown)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def figure_png(figure) -> bytes:
    """The figure rendered as PNG bytes."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def plot_confusion_matrix(
    cm,
    ax=None,
    class_names: list[str] | None = None,
    normalize: bool = False,
    title: str = "Confusion matrix",
    cmap: str = "Blues",
):
    """Draw a confusion matrix with counts (or row-normalised rates) written in the cells.

    Parameters
    ----------
    cm : array, shape (C, C)
        From :func:`cnncourse.metrics.confusion_matrix` (rows true, columns predicted).
    ax : matplotlib Axes, optional
        Where to draw; a new 4.5 x 4 inch figure if omitted.
    class_names : list of str, optional
        Tick labels; default ``0 .. C-1``.
    normalize : bool
        Divide each row by its total, so cells show recall per true class.
    title, cmap : str

    Returns
    -------
    matplotlib Axes
    """
    m = check_array("cm", cm, ndim=2).astype(np.float64)
    if m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be square, got shape {m.shape}")
    c = m.shape[0]
    names = [str(i) for i in range(c)] if class_names is None else [str(n) for n in class_names]
    if len(names) != c:
        raise ValueError(f"class_names must have {c} entries, got {len(names)}")
    if normalize:
        rows = m.sum(axis=1, keepdims=True)
        m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4), dpi=80)
    image = ax.imshow(m, cmap=cmap, vmin=0)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    threshold = m.max() / 2 if m.max() > 0 else 1
    for i in range(c):
        for j in range(c):
            text = f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=max(8.5, min(11.0, 90 / c)),  # >= 8 pt on screen up to ~12 classes
                color="white" if m[i, j] > threshold else "black",
            )
    ax.set_xticks(range(c), names)
    ax.set_yticks(range(c), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return ax


def draw_boxes(
    ax,
    boxes,
    labels=None,
    scores=None,
    color="tab:red",
    linewidth: float = 1.5,
    linestyle: str = "-",
    fontsize: float = 9,
    kinds=None,
) -> None:
    """Draw xyxy boxes (N, 4) on a matplotlib Axes that shows an image with ``imshow``.

    ``imshow`` puts pixel centres at integer coordinates, so a box's pixel edge ``x1`` is drawn
    at ``x1 - 0.5``. ``labels`` and ``scores`` (optional, one per box) are written above each box;
    ``color`` is one colour or one per box. ``kinds`` (optional, one key of :data:`BOX_STYLES`
    per box: ``'true positive'``, ``'false positive'``, ``'missed'``) overrides colour and line
    style and writes the tag (TP, FP, missed) on the box, so the kinds differ by more than
    colour. Boxes are checked as :mod:`cnncourse.detect` checks them (arrays or tensors;
    ``x2 >= x1``, ``y2 >= y1``).
    """
    from matplotlib.patches import Rectangle

    from .detect import box_convert  # lazy: only the detection chapter needs torch here

    b = np.asarray(box_convert(boxes, "xyxy", "xyxy"), dtype=np.float64).reshape(-1, 4)
    colors = [color] * len(b) if isinstance(color, str) else list(color)
    styles = [linestyle] * len(b)
    tags = [""] * len(b)
    if kinds is not None:
        kinds = [check_choice("kinds", kind, tuple(BOX_STYLES)) for kind in kinds]
        if len(kinds) != len(b):
            raise ValueError(f"kinds must have one entry per box ({len(b)}), got {len(kinds)}")
        colors = [BOX_STYLES[kind]["color"] for kind in kinds]
        styles = [BOX_STYLES[kind]["linestyle"] for kind in kinds]
        tags = [BOX_STYLES[kind]["tag"] for kind in kinds]
    for k, (x1, y1, x2, y2) in enumerate(b):
        ax.add_patch(
            Rectangle(
                (x1 - 0.5, y1 - 0.5),
                x2 - x1,
                y2 - y1,
                fill=False,
                ec=colors[k],
                lw=linewidth,
                ls=styles[k],
            )
        )
        text = [tags[k]] if tags[k] else []
        if labels is not None:
            text.append(str(int(labels[k])))
        if scores is not None:
            text.append(f"{float(scores[k]):.2f}")
        if text:
            ax.text(x1 - 0.5, y1 - 1.5, " ".join(text), color=colors[k], fontsize=fontsize)
