"""Anchors and box coding (chapter 8, section 6): what a single-shot detector regresses.

- :func:`make_anchors` -- anchor boxes tiled over a feature map (Faster R-CNN, RetinaNet).
- :func:`ssd_default_boxes` -- SSD300's 8,732 default boxes.
- :func:`match_anchors` -- each anchor: a ground-truth box, the background, or "ignore".
- :func:`encode_boxes` / :func:`decode_boxes` -- the Faster R-CNN deltas and back;
  :data:`MAX_LOG_SCALE` bounds the decoded growth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._validate import (
    check_int,
    check_pair,
    check_positive_float,
    check_positive_floats,
    check_unit_interval,
)
from ._inputs import _boxes, _out, _to_tensor
from .boxes import _iou

#: Largest log-scale a decoded box may grow by (torchvision's ``log(1000 / 16)``).
MAX_LOG_SCALE = math.log(1000 / 16)


def make_anchors(feature_size, stride, sizes, ratios) -> torch.Tensor:
    """Anchor (default) boxes tiled over a feature map, as in Faster R-CNN, SSD and RetinaNet.

    Every cell ``(i, j)`` of an ``H x W`` feature map gets ``len(sizes) * len(ratios)`` boxes
    centred on the cell's centre in the image, ``((j + 0.5) * stride, (i + 0.5) * stride)``.
    An anchor of size ``s`` and ratio ``r = h / w`` has area ``s**2``:
    ``w = s / sqrt(r)``, ``h = s * sqrt(r)``.

    Parameters
    ----------
    feature_size : int or (H, W)
        Feature-map size (cells).
    stride : int or (stride_y, stride_x)
        Image pixels per feature-map cell.
    sizes : sequence of float > 0
        Square-root areas in pixels.
    ratios : sequence of float > 0
        Aspect ratios height / width (2 = twice as tall as wide).

    Returns
    -------
    Tensor of float32, shape (H * W * len(sizes) * len(ratios), 4)
        xyxy anchors ordered cell by cell (row-major), then size, then ratio: the order in which
        a convolutional head with ``A = len(sizes) * len(ratios)`` boxes per cell lays them out.
    """
    fh, fw = check_pair("feature_size", feature_size, minimum=1)
    sy, sx = check_pair("stride", stride, minimum=1)
    sizes = check_positive_floats("sizes", sizes)
    ratios = check_positive_floats("ratios", ratios)
    s = torch.tensor(sizes, dtype=torch.float64)[:, None]
    r = torch.tensor(ratios, dtype=torch.float64)[None, :]
    w = (s / r.sqrt()).flatten()  # (A,): size-major, ratio-minor
    h = (s * r.sqrt()).flatten()
    cy = (torch.arange(fh, dtype=torch.float64) + 0.5) * sy
    cx = (torch.arange(fw, dtype=torch.float64) + 0.5) * sx
    cy, cx = torch.meshgrid(cy, cx, indexing="ij")
    cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)  # (H*W, 1) against (A,) -> (H*W, A)
    anchors = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
    return anchors.reshape(-1, 4).to(torch.float32)


def ssd_default_boxes(
    feature_sizes: Sequence[int] = (38, 19, 10, 5, 3, 1),
    aspect_ratios: Sequence[Sequence[float]] = ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,)),
    s_min: float = 0.2,
    s_max: float = 0.9,
) -> torch.Tensor:
    """SSD's default boxes (Liu et al., 2016), in image-relative cxcywh units.

    Feature map ``k`` (of ``m``) has scale ``s_k = s_min + (s_max - s_min) (k - 1) / (m - 1)``.
    Each cell gets a square of side ``s_k``, a square of side ``sqrt(s_k s_{k+1})`` and, for
    every aspect ratio ``a``, the boxes ``(s_k sqrt(a), s_k / sqrt(a))`` and their transposes:
    ``2 + 2 len(aspect_ratios[k])`` boxes per cell. The defaults are SSD300's six maps, giving
    8,732 boxes. (The released SSD300 uses a smaller first scale, 0.1; the count is the same.)

    Returns
    -------
    Tensor of float32, shape (sum_k f_k^2 (2 + 2 len(a_k)), 4)
        cxcywh boxes with the image side = 1.
    """
    sizes = [check_int(f"feature_sizes[{i}]", f, minimum=1) for i, f in enumerate(feature_sizes)]
    if len(aspect_ratios) != len(sizes):
        raise ValueError(
            f"aspect_ratios must give one tuple per feature map ({len(sizes)}), "
            f"got {len(aspect_ratios)}"
        )
    s_min, s_max = check_positive_float("s_min", s_min), check_positive_float("s_max", s_max)
    m = len(sizes)
    scales = [s_min + (s_max - s_min) * k / max(m - 1, 1) for k in range(m)] + [1.0]
    out = []
    for k, (f, ratios) in enumerate(zip(sizes, aspect_ratios, strict=True)):
        ratios = check_positive_floats(f"aspect_ratios[{k}]", ratios)
        s, s_next = scales[k], scales[k + 1]
        shapes = [(s, s), (math.sqrt(s * s_next),) * 2]
        for a in ratios:
            shapes += [(s * math.sqrt(a), s / math.sqrt(a)), (s / math.sqrt(a), s * math.sqrt(a))]
        centres = (torch.arange(f, dtype=torch.float64) + 0.5) / f
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)  # (f*f, 1) against (K,) -> (f*f, K)
        w = torch.tensor([wh[0] for wh in shapes], dtype=torch.float64)
        h = torch.tensor([wh[1] for wh in shapes], dtype=torch.float64)
        boxes = torch.stack(torch.broadcast_tensors(cx, cy, w, h), dim=-1)  # (f*f, K, 4)
        out.append(boxes.reshape(-1, 4))
    return torch.cat(out).to(torch.float32)


def match_anchors(
    anchors, gt_boxes, pos_iou: float = 0.5, neg_iou: float = 0.4, allow_low_quality: bool = True
):
    """Assign each anchor a ground-truth box, the background, or "ignore", by IoU.

    Rules (Faster R-CNN / RetinaNet): an anchor whose best IoU is ``>= pos_iou`` is positive and
    takes that box; below ``neg_iou`` it is background; in between it is ignored (no loss). With
    ``allow_low_quality``, each ground-truth box also claims its best anchor(s) so that no object
    is left without a positive anchor (SSD's first matching step).

    Parameters
    ----------
    anchors : array or Tensor, shape (A, 4), xyxy
    gt_boxes : array or Tensor, shape (G, 4), xyxy
    pos_iou, neg_iou : float in [0, 1], ``neg_iou <= pos_iou``
    allow_low_quality : bool

    Returns
    -------
    array or Tensor of int64, shape (A,)
        ``>= 0``: index of the matched ground-truth box; ``-1``: background; ``-2``: ignore.
    """
    a, as_numpy = _boxes("anchors", anchors, ndim=2)
    g, _ = _boxes("gt_boxes", gt_boxes, ndim=2)
    pos_iou, neg_iou = (
        check_unit_interval("pos_iou", pos_iou),
        check_unit_interval("neg_iou", neg_iou),
    )
    if neg_iou > pos_iou:
        raise ValueError(f"neg_iou must be <= pos_iou ({pos_iou}), got {neg_iou}")
    matches = torch.full((len(a),), -1, dtype=torch.int64)
    if len(g) == 0 or len(a) == 0:
        return _out(matches, as_numpy)
    dtype = torch.promote_types(a.dtype, g.dtype)
    iou = _iou(g.detach().to(dtype), a.detach().to(dtype))  # (G, A)
    best_iou, best_gt = iou.max(dim=0)  # per anchor
    matches[best_iou >= neg_iou] = -2
    matches[best_iou >= pos_iou] = best_gt[best_iou >= pos_iou]
    if allow_low_quality:
        for j in range(len(g)):  # later boxes win a contested anchor
            top = iou[j].max()
            if top > 0:
                matches[iou[j] == top] = j
    return _out(matches, as_numpy)


def _weights(weights: Any) -> tuple[float, float, float, float]:
    if not isinstance(weights, (Sequence, np.ndarray)) or len(weights) != 4:
        raise ValueError(f"weights must be 4 numbers (wx, wy, ww, wh), got {weights!r}")
    return tuple(check_positive_float(f"weights[{i}]", w) for i, w in enumerate(weights))


def encode_boxes(boxes, anchors, weights=(1.0, 1.0, 1.0, 1.0)):
    """Regression targets (Faster R-CNN deltas) that move ``anchors`` onto ``boxes``.

    With centres, widths and heights ``(x, y, w, h)`` of the box and ``(x_a, y_a, w_a, h_a)``
    of the anchor:

    .. math:: t_x = w_x \\frac{x - x_a}{w_a},\\quad t_y = w_y \\frac{y - y_a}{h_a},\\quad
              t_w = w_w \\log\\frac{w}{w_a},\\quad t_h = w_h \\log\\frac{h}{h_a}

    Parameters
    ----------
    boxes, anchors : array or Tensor, shape (..., 4), xyxy (broadcastable), widths/heights > 0
    weights : 4 floats > 0
        ``(w_x, w_y, w_w, w_h)``; Faster R-CNN's second stage uses (10, 10, 5, 5) so the targets
        have roughly unit variance; 1s give the plain formulas.

    Returns
    -------
    array or Tensor, shape (..., 4): ``(t_x, t_y, t_w, t_h)``.
    """
    b, as_numpy = _boxes("boxes", boxes)
    a, _ = _boxes("anchors", anchors)
    wx, wy, ww, wh = _weights(weights)
    for name, t in (("boxes", b), ("anchors", a)):
        if t.numel() and not ((t[..., 2:] - t[..., :2]) > 0).all():
            raise ValueError(f"{name} must have width and height > 0 to be encoded")
    b, a = b.to(torch.promote_types(b.dtype, a.dtype)), a.to(torch.promote_types(b.dtype, a.dtype))
    bw, bh = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    bx, by = b[..., 0] + bw / 2, b[..., 1] + bh / 2
    ax, ay = a[..., 0] + aw / 2, a[..., 1] + ah / 2
    deltas = torch.stack(
        [
            wx * (bx - ax) / aw,
            wy * (by - ay) / ah,
            ww * torch.log(bw / aw),
            wh * torch.log(bh / ah),
        ],
        dim=-1,
    )
    return _out(deltas, as_numpy)


def decode_boxes(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0), max_log_scale=MAX_LOG_SCALE):
    """Apply regression deltas to anchors: the inverse of :func:`encode_boxes`.

    .. math:: x = x_a + w_a t_x / w_x,\\quad y = y_a + h_a t_y / w_y,\\quad
              w = w_a e^{t_w / w_w},\\quad h = h_a e^{t_h / w_h}

    Parameters
    ----------
    deltas : array or Tensor, shape (..., 4)
    anchors : array or Tensor, shape (..., 4), xyxy (broadcastable with ``deltas``)
    weights : 4 floats > 0, as in :func:`encode_boxes`
    max_log_scale : float
        ``t_w / w_w`` and ``t_h / w_h`` are clamped to this before ``exp`` so an untrained
        network cannot overflow (torchvision's ``log(1000 / 16)``).

    Returns
    -------
    array or Tensor, shape (..., 4), xyxy boxes.
    """
    d, as_numpy = _to_tensor("deltas", deltas)
    if d.ndim == 0 or d.shape[-1] != 4:
        raise ValueError(f"deltas must have shape (..., 4), got {tuple(d.shape)}")
    a, _ = _boxes("anchors", anchors)
    wx, wy, ww, wh = _weights(weights)
    max_log_scale = check_positive_float("max_log_scale", max_log_scale)
    a = a.to(d.dtype)
    aw, ah = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    ax, ay = a[..., 0] + aw / 2, a[..., 1] + ah / 2
    x = ax + aw * d[..., 0] / wx
    y = ay + ah * d[..., 1] / wy
    w = aw * torch.exp((d[..., 2] / ww).clamp(max=max_log_scale))
    h = ah * torch.exp((d[..., 3] / wh).clamp(max=max_log_scale))
    return _out(torch.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], dim=-1), as_numpy)
