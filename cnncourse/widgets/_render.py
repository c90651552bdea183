"""View helpers shared by the widgets (one copy each; widgets never import from each other).

Widgets import only from this module, :mod:`cnncourse.viz` (matplotlib figures) and the library.

- Inputs: :func:`load_image` (sample photos, cached and read-only), :func:`display_images`
  and :func:`batch_and_index` (model inputs shown as pictures).
- Colour: :func:`lut`, :func:`colour_indices`, :func:`to_rgb` (matplotlib's binning),
  :func:`display_range` (how a filter output is coloured), :func:`css_color`.
- PNG bytes for ``ipywidgets.Image``: :func:`palette_png` (the one palette encoder),
  :func:`png_gray` (a colour-mapped 2-D array), :func:`png_rgb`, :func:`png_boxes` (an image
  with coloured boxes), :func:`upscale`.
- HTML: :func:`error_html`, :func:`notice_html`, :func:`td` + :func:`html_table`,
  :func:`kernel_html` (heat map with numbers), :func:`colorbar_html`.
- Layout: :func:`image_widget`, :func:`labelled`.
- :class:`FriendlyRepr`: the one-line text a notebook shows where the widget is not live;
  :class:`NeedsKernel`: marks an explorer the website cannot compute (its controls are disabled
  there, under a "static snapshot" badge).
- :func:`esm`: the ES module of an explorer's browser front-end (``js/``), for anywidget.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import ipywidgets as widgets
import matplotlib
import numpy as np
from PIL import Image as PILImage

from .. import data
from .._validate import check_array, check_choice, check_int

IMAGE_CMAP = "gray"
SIGNED_CMAP = "RdBu_r"  # negative blue, zero white, positive red
SIGNED_PERCENTILE = 99.5


class FriendlyRepr:
    """Mixin for explorers: a readable text where the live widget cannot be shown.

    A saved notebook opened before its cells run (or any front-end without widgets) shows a
    widget's ``text/plain`` form, which is its ``repr``: by default a raw
    ``...Explorer(children=(...`` line under prose that says "move the sliders".
    """

    def __repr__(self) -> str:
        return "Run this cell to start the explorer; its controls appear here."


NEEDS_KERNEL_CLASS = "cnncourse-needs-kernel"


class NeedsKernel(FriendlyRepr):
    """Mixin for explorers that compute in Python only (a trained model, torch, a tracer).

    The saved widget carries the CSS class ``cnncourse-needs-kernel``; on the static website
    (``book/_ext/static/site-snapshot.js``) such an explorer shows a "static snapshot" badge and
    its controls are disabled, so no control there moves without its output following. In
    JupyterLab the class changes nothing. The other explorers are anywidgets that compute in the
    page.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_class(NEEDS_KERNEL_CLASS)


JS_DIR = Path(__file__).with_name("js")


def esm(name: str) -> str:
    """The ES module of an explorer's browser front-end: ``js/_common.js`` then ``js/<name>.js``.

    anywidget saves this text in the widget state, so the explorer computes in the page on the
    static website (no kernel) as in JupyterLab; the browser tests load the same text.
    """
    path = JS_DIR / f"{check_choice('name', name, _js_modules())}.js"
    return (
        (JS_DIR / "_common.js").read_text(encoding="utf-8")
        + "\n"
        + path.read_text(encoding="utf-8")
    )


def _js_modules() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in JS_DIR.glob("*.js") if not p.stem.startswith("_")))


# ------------------------------------------------------------------------------------ inputs


@lru_cache(maxsize=16)
def _sample(name: str) -> np.ndarray:
    img = data.sample_image(name)
    img.setflags(write=False)  # shared by every caller of the cache: nobody may edit it
    return img


def load_image(image, name: str = "image") -> np.ndarray:
    """A grayscale float image (H, W): a name from ``data.SAMPLE_IMAGES`` (cached, read-only)
    or a 2-D array (as float64; ``name`` is the argument named in errors)."""
    if isinstance(image, str):
        check_choice(name, image, data.SAMPLE_IMAGES)
        return _sample(image)
    return check_array(name, image, ndim=2).astype(np.float64, copy=False)


def display_images(images) -> np.ndarray:
    """Model inputs (N, C, H, W) as pictures (N, H, W) in [0, 1]: channel mean, min-max per image."""
    x = check_array("images", images, ndim=4).astype(np.float64).mean(1)
    lo = x.min(axis=(1, 2), keepdims=True)
    hi = x.max(axis=(1, 2), keepdims=True)
    return (x - lo) / np.where(hi > lo, hi - lo, 1.0)


def batch_and_index(images, index):
    """Check a model-input batch (N, C, H, W) and an image index into it; return
    ``(tensor, index)``."""
    import torch  # lazy: the filter and pooling widgets do not need torch

    x = torch.as_tensor(images)
    if x.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
    index = check_int("index", index, minimum=0)
    if index >= len(x):
        raise ValueError(f"index must be in 0..{len(x) - 1}, got {index}")
    return x, index


# ------------------------------------------------------------------------------------ colour


@lru_cache(maxsize=8)
def lut(cmap: str) -> np.ndarray:
    """A matplotlib colour map as a (256, 3) uint8 table."""
    # Integer input indexes matplotlib's 256-entry table directly; bytes=True gives uint8.
    return matplotlib.colormaps[cmap](np.arange(256), bytes=True)[:, :3]


def colour_indices(values, vmin: float, vmax: float) -> np.ndarray:
    """uint8 table indices (H, W) as matplotlib bins ``Normalize(vmin, vmax)``:
    ``floor(256 (v - vmin) / (vmax - vmin))`` clipped to 0..255."""
    values = check_array("values", values, ndim=2)
    scale = 256.0 / (vmax - vmin) if vmax > vmin else 0.0
    return np.clip((values - vmin) * scale, 0, 255).astype(np.uint8)


def to_rgb(values, vmin: float, vmax: float, cmap: str = IMAGE_CMAP) -> np.ndarray:
    """Map a 2-D array to uint8 RGB (H, W, 3) as matplotlib does with ``Normalize(vmin, vmax)``
    and a 256-colour map (values outside [vmin, vmax] get the end colours)."""
    return lut(cmap)[colour_indices(values, vmin, vmax)]


def display_range(kernel, output=None) -> tuple[float, float, str]:
    """Colour scale ``(vmin, vmax, cmap)`` for the output of a filter ``kernel``.

    A kernel that sums to s maps a white image to s, so a photo in [0, 1] is shown on gray over
    [min(0, s), max(0, s)] (overshoot, e.g. from sharpening, is clipped as photo editors do).
    A zero-sum kernel (an edge detector) gives signed output: a diverging map symmetric about
    0, scaled to the 99.5th percentile of ``|output|`` (a few very strong edges would otherwise
    wash out all others), or to ``sum |kernel|`` without an output.
    """
    kernel = check_array("kernel", kernel, ndim=2)
    s = float(kernel.sum())
    if abs(s) > 1e-9 * max(1.0, float(np.abs(kernel).sum())):
        return min(0.0, s), max(0.0, s), IMAGE_CMAP
    if output is None:
        bound = float(np.abs(kernel).sum())
    else:
        bound = float(np.percentile(np.abs(output), SIGNED_PERCENTILE))
    bound = bound if bound > 0 else 1.0
    return -bound, bound, SIGNED_CMAP


def css_color(cmap: str, t: float) -> str:
    """The colour at ``t`` in [0, 1] of a colour map, as CSS ``rgb(r,g,b)``."""
    r, g, b = lut(cmap)[int(np.clip(t, 0, 1) * 255)]
    return f"rgb({r},{g},{b})"


# --------------------------------------------------------------------------------------- PNG


def palette_png(indices, palette) -> bytes:
    """PNG bytes of a palette image: ``indices`` (H, W) uint8 into ``palette`` (<= 256, 3).

    One byte per pixel and fast zlib level 1: about 3x quicker to encode than RGB (which keeps
    animations on 512x512 photos responsive) and smaller.
    """
    im = PILImage.fromarray(np.asarray(indices, dtype=np.uint8))  # mode L; putpalette -> P
    im.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    buf = io.BytesIO()
    im.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def png_gray(values, vmin: float = 0.0, vmax: float = 1.0, cmap: str = IMAGE_CMAP) -> bytes:
    """PNG bytes of a colour-mapped 2-D array (H, W), with the pixels of :func:`to_rgb`."""
    return palette_png(colour_indices(values, vmin, vmax), lut(cmap))


def png_rgb(rgb) -> bytes:
    """PNG bytes of an RGB image (H, W, 3): uint8, or floats in [0, 1]."""
    rgb = check_array("rgb", rgb, ndim=3)
    if rgb.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3), got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def png_boxes(image, boxes, colors, texts=None, scale: int = 4, widths=None) -> bytes:
    """PNG bytes of a grayscale image (H, W) in [0, 1], enlarged ``scale`` times, with xyxy
    boxes (N, 4) in image pixels drawn on it (the detection widgets' view).

    ``colors``: one colour string per box; ``texts``: optional label per box (drawn at its
    top-left corner); ``widths``: line widths (default 2).
    """
    from PIL import ImageDraw

    img = check_array("image", image, ndim=2).astype(np.float64)
    scale = check_int("scale", scale, minimum=1)
    b = check_array("boxes", boxes).astype(np.float64)
    if b.size == 0:
        b = b.reshape(0, 4)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {b.shape}")
    pixels = np.clip(img * 255, 0, 255).astype(np.uint8)
    canvas = PILImage.fromarray(pixels).resize(
        (img.shape[1] * scale, img.shape[0] * scale), PILImage.NEAREST
    )
    canvas = canvas.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    widths = [2] * len(b) if widths is None else widths
    for k, (box, color) in enumerate(zip(b * scale, colors, strict=True)):
        draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], outline=color, width=widths[k])
        if texts is not None and texts[k]:
            draw.text((box[0] + 2, box[1] + 1), str(texts[k]), fill=color)
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def upscale(values, target: int) -> np.ndarray:
    """Nearest-neighbour enlargement of (H, W) or (H, W, C) by the whole factor
    ``max(1, target // max(H, W))``, so small maps show as crisp squares, not a blur."""
    values = np.asarray(values)
    f = max(1, target // max(values.shape[:2]))
    return np.repeat(np.repeat(values, f, axis=0), f, axis=1) if f > 1 else values


# -------------------------------------------------------------------------------------- HTML


def error_html(text: str) -> str:
    """An error message as red HTML (escaped): what a view shows instead of a traceback."""
    return f'<span style="color:#b00">{html.escape(text)}</span>'


def notice_html(text: str, label: str, error: bool = False) -> str:
    """A boxed ``label: text`` notice, amber (a warning) or red (``error``); '' without text."""
    if not text:
        return ""
    color, bg = ("#8b0000", "#fde8e8") if error else ("#7a4d00", "#fff4d6")
    return (
        f'<div style="color:{color};background:{bg};padding:6px 10px;border-radius:4px">'
        f"<b>{html.escape(label)}:</b> {html.escape(text)}</div>"
    )


def td(text: str, style: str = "", css_class: str = "") -> str:
    """One table cell; ``text`` is HTML (escape user text first)."""
    cls = f' class="{css_class}"' if css_class else ""
    return f'<td{cls} style="{style}">{text}</td>'


def html_table(rows: Iterable[Iterable[str]], css_class: str = "") -> str:
    """A borderless-collapse HTML table from rows of :func:`td` cells."""
    cls = f' class="{css_class}"' if css_class else ""
    body = "".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    return f'<table{cls} style="border-collapse:collapse">{body}</table>'


def kernel_html(kernel, fmt: str = "{:.3g}", cell_px: int = 40) -> str:
    """A kernel (kh, kw) as an HTML heat map with its numbers (diverging colours centred on 0)."""
    kernel = check_array("kernel", kernel, ndim=2)
    bound = float(np.abs(kernel).max()) or 1.0
    size = f"width:{cell_px}px;height:{cell_px}px;text-align:center;font-size:11px;"
    rows = []
    for r in kernel:
        cells = []
        for v in r:
            ink = "white" if abs(v) > 0.6 * bound else "black"
            bg = css_color(SIGNED_CMAP, 0.5 + 0.5 * v / bound)
            style = f"background:{bg};color:{ink};{size}border:1px solid #ccc"
            cells.append(td(html.escape(fmt.format(v)), style))
        rows.append(cells)
    return html_table(rows)


def colorbar_html(vmin: float, vmax: float, cmap: str, height_px: int = 200) -> str:
    """A vertical colour bar (CSS gradient) labelled with vmax at the top and vmin at the bottom."""
    stops = ", ".join(css_color(cmap, t) for t in np.linspace(1, 0, 9))
    return (
        '<div style="display:flex;align-items:stretch;gap:4px;font-size:11px">'
        f'<div style="width:14px;height:{height_px}px;border:1px solid #999;'
        f'background:linear-gradient({stops})"></div>'
        f'<div style="display:flex;flex-direction:column;justify-content:space-between;'
        f'height:{height_px}px"><span>{vmax:.3g}</span><span>{(vmin + vmax) / 2:.3g}</span>'
        f"<span>{vmin:.3g}</span></div></div>"
    )


# ------------------------------------------------------------------------------------ layout


def image_widget(css_class: str, width: str = "256px") -> widgets.Image:
    """An empty PNG ``ipywidgets.Image`` with a CSS class (the browser tests find it by it)."""
    w = widgets.Image(format="png", layout=widgets.Layout(width=width, height="auto"))
    w.add_class(css_class)
    return w


def labelled(title: str, *children: widgets.Widget) -> widgets.VBox:
    """A panel: the bold (escaped) ``title`` above ``children``."""
    return widgets.VBox(
        [widgets.HTML(f"<b>{html.escape(title)}</b>"), *children],
        layout=widgets.Layout(margin="0 12px 0 0"),
    )
