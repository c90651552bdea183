"""Object detection from scratch (chapter 8): boxes, IoU, NMS, anchors, box coding, a small
single-shot detector and mean average precision.

Conventions
-----------
- Boxes are ``(x1, y1, x2, y2)`` ("xyxy", corners) in pixels unless a function says otherwise;
  ``x2, y2`` are edges, so a box's area is ``(x2 - x1) * (y2 - y1)`` (no "+1": the convention of
  torchvision and of current pycocotools). The other formats are ``xywh`` (top-left corner, width,
  height: COCO's json) and ``cxcywh`` (centre, width, height: YOLO's and the box-regression maths).
- Functions accept numpy arrays (or lists) and torch tensors and answer in kind: numpy in,
  numpy out; tensor in, tensor out (keeping autograd where it makes sense). Empty in, empty out.
- Invalid boxes (``x2 < x1`` or ``y2 < y1``, negative widths, NaN/inf) raise ``ValueError``
  naming the argument.

Each from-scratch piece is proven in ``tests/test_detect.py``: ``nms`` against a brute-force
reference on thousands of random box sets, ``mean_average_precision`` against pycocotools.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._validate import check_array, check_choice, check_int, check_pair, check_positive_float

FORMATS = ("xyxy", "xywh", "cxcywh")
#: COCO's ten IoU thresholds 0.50:0.05:0.95, built exactly as pycocotools builds them.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
#: COCO's 101 recall points 0.00:0.01:1.00 for its interpolated average precision.
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1)
#: Largest log-scale a decoded box may grow by (torchvision's ``log(1000 / 16)``).
MAX_LOG_SCALE = math.log(1000 / 16)


# --------------------------------------------------------------------------- input handling


def _to_tensor(name: str, value: Any) -> tuple[torch.Tensor, bool]:
    """``value`` as a floating tensor, and whether the caller gave numpy (answer in numpy)."""
    if isinstance(value, torch.Tensor):
        t = value
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        return t, False
    arr = check_array(name, value)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(arr)), True


def _out(t: torch.Tensor, as_numpy: bool):
    return t.detach().cpu().numpy() if as_numpy else t


def _check_boxes(name: str, boxes: torch.Tensor, fmt: str = "xyxy", ndim: int | None = None):
    """Raise ValueError unless ``boxes`` has shape (..., 4) (or (N, 4)) of valid ``fmt`` boxes."""
    if boxes.ndim == 0 or boxes.shape[-1] != 4 or (ndim is not None and boxes.ndim != ndim):
        want = "(N, 4)" if ndim == 2 else "(..., 4)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(boxes.shape)}")
    if boxes.numel() == 0:
        return
    with torch.no_grad():
        flat = boxes.detach().reshape(-1, 4)
        bad = ~torch.isfinite(flat).all(dim=1)
        if bad.any():
            i = int(bad.nonzero()[0, 0])
            raise ValueError(f"{name} must be finite, got box {i}: {flat[i].tolist()}")
        if fmt == "xyxy":
            sizes, what = flat[:, 2:] - flat[:, :2], "x2 < x1 or y2 < y1"
        else:
            sizes, what = flat[:, 2:], "a negative width or height"
        bad = (sizes < 0).any(dim=1)
        if bad.any():
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"{name} has {what} in box {i}: {flat[i].tolist()} "
                f"(boxes must be {fmt} with non-negative width and height)"
            )


def _boxes(name: str, boxes: Any, fmt: str = "xyxy", ndim: int | None = None):
    t, as_numpy = _to_tensor(name, boxes)
    _check_boxes(name, t, fmt, ndim)
    return t, as_numpy


def _unit_float(name: str, value: Any) -> float:
    """A real number in [0, 1] (IoU and score thresholds)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


# --------------------------------------------------------------------------- box formats


def box_convert(boxes, in_fmt: str, out_fmt: str):
    """Convert boxes between the ``'xyxy'``, ``'xywh'`` and ``'cxcywh'`` formats.

    Parameters
    ----------
    boxes : array or Tensor, shape (..., 4)
    in_fmt, out_fmt : {'xyxy', 'xywh', 'cxcywh'}
        ``xyxy`` = corners (x1, y1, x2, y2); ``xywh`` = top-left corner, width, height (COCO);
        ``cxcywh`` = centre, width, height (YOLO, box regression).

    Returns
    -------
    array or Tensor, shape (..., 4), same kind as ``boxes``.
    """
    check_choice("in_fmt", in_fmt, FORMATS)
    check_choice("out_fmt", out_fmt, FORMATS)
    b, as_numpy = _boxes("boxes", boxes, in_fmt)
    a, c = b[..., :2], b[..., 2:]  # the two halves: (x1, y1)/(x, y)/(cx, cy) and the rest
    if in_fmt == "xywh":
        xyxy = torch.cat([a, a + c], dim=-1)
    elif in_fmt == "cxcywh":
        xyxy = torch.cat([a - c / 2, a + c / 2], dim=-1)
    else:
        xyxy = b
    p, q = xyxy[..., :2], xyxy[..., 2:]
    if out_fmt == "xywh":
        out = torch.cat([p, q - p], dim=-1)
    elif out_fmt == "cxcywh":
        out = torch.cat([(p + q) / 2, q - p], dim=-1)
    else:
        out = xyxy
    return _out(out if out is not b else b.clone(), as_numpy)


def xyxy_to_xywh(boxes):
    """Corners to (top-left x, top-left y, width, height). Shape (..., 4) -> (..., 4)."""
    return box_convert(boxes, "xyxy", "xywh")


def xywh_to_xyxy(boxes):
    """(top-left x, top-left y, width, height) to corners. Shape (..., 4) -> (..., 4)."""
    return box_convert(boxes, "xywh", "xyxy")


def xyxy_to_cxcywh(boxes):
    """Corners to (centre x, centre y, width, height). Shape (..., 4) -> (..., 4)."""
    return box_convert(boxes, "xyxy", "cxcywh")


def cxcywh_to_xyxy(boxes):
    """(centre x, centre y, width, height) to corners. Shape (..., 4) -> (..., 4)."""
    return box_convert(boxes, "cxcywh", "xyxy")


def box_area(boxes):
    """Areas of xyxy boxes: ``(x2 - x1) * (y2 - y1)``. Shape (..., 4) -> (...,)."""
    b, as_numpy = _boxes("boxes", boxes)
    return _out((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]), as_numpy)


def _iou(b1: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU (N, M) of validated xyxy tensors; 0 where the union is empty."""
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    # The intersection is the box between the larger top-left and the smaller bottom-right corner.
    top_left = torch.maximum(b1[:, None, :2], b2[None, :, :2])
    bottom_right = torch.minimum(b1[:, None, 2:], b2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return torch.where(union > 0, inter / torch.where(union > 0, union, 1), 0)


def box_iou(boxes1, boxes2):
    """Intersection over union of every pair of boxes.

    .. math:: \\mathrm{IoU}(A, B) = \\frac{|A \\cap B|}{|A \\cup B|}
              = \\frac{|A \\cap B|}{|A| + |B| - |A \\cap B|}

    Parameters
    ----------
    boxes1 : array or Tensor, shape (N, 4), xyxy
    boxes2 : array or Tensor, shape (M, 4), xyxy

    Returns
    -------
    array or Tensor, shape (N, M)
        ``iou[i, j]`` = IoU(boxes1[i], boxes2[j]) in [0, 1]; 0 when both boxes have zero area.

    Examples
    --------
    >>> float(box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0])  # 1 / (4 + 4 - 1)
    0.14285714285714285
    """
    b1, as_numpy = _boxes("boxes1", boxes1, ndim=2)
    b2, _ = _boxes("boxes2", boxes2, ndim=2)
    dtype = torch.promote_types(b1.dtype, b2.dtype)
    return _out(_iou(b1.to(dtype), b2.to(dtype)), as_numpy)


def clip_boxes(boxes, size):
    """Clip xyxy boxes to an image of ``size = (H, W)`` (x into [0, W], y into [0, H]).

    Shape (..., 4) -> (..., 4). A box wholly outside the image becomes a zero-area box on its edge.
    """
    height, width = check_pair("size", size, minimum=1)
    b, as_numpy = _boxes("boxes", boxes)
    x = b[..., 0::2].clamp(0, width)
    y = b[..., 1::2].clamp(0, height)
    return _out(torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], dim=-1), as_numpy)


# --------------------------------------------------------------------------- NMS


def _scores(name: str, scores: Any, n: int) -> torch.Tensor:
    s, _ = _to_tensor(name, scores)
    if s.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like the boxes, got {tuple(s.shape)}")
    if n and not torch.isfinite(s).all():
        raise ValueError(f"{name} must be finite, got {s.tolist()}")
    return s


def nms(boxes, scores, iou_threshold: float):
    """Non-maximum suppression: keep the best box, drop the boxes that overlap it, repeat.

    Parameters
    ----------
    boxes : array or Tensor, shape (N, 4), xyxy
    scores : array or Tensor, shape (N,)
    iou_threshold : float in [0, 1]
        A box is dropped when its IoU with a kept, higher-scoring box is **greater** than this.

    Returns
    -------
    array or Tensor of int64, shape (K,)
        Indices of the kept boxes in decreasing score order (equal scores: lower index first),
        the semantics of ``torchvision.ops.nms``.
    """
    b, as_numpy = _boxes("boxes", boxes, ndim=2)
    s = _scores("scores", scores, len(b))
    iou_threshold = _unit_float("iou_threshold", iou_threshold)
    b = b.detach()
    order = torch.argsort(s.detach(), descending=True, stable=True)  # candidates, best first
    keep = []
    while order.numel() > 0:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        overlap = _iou(b[best].unsqueeze(0), b[rest])[0]
        order = rest[~(overlap > iou_threshold)]  # survivors keep their order
    result = torch.tensor(keep, dtype=torch.int64)
    return result.numpy() if as_numpy else result


def batched_nms(boxes, scores, labels, iou_threshold: float):
    """NMS within each class: a box only suppresses boxes of its own label.

    Parameters
    ----------
    boxes : array or Tensor, shape (N, 4), xyxy
    scores : array or Tensor, shape (N,)
    labels : array or Tensor of ints, shape (N,)
    iou_threshold : float in [0, 1]

    Returns
    -------
    array or Tensor of int64, shape (K,)
        Kept indices in decreasing score order (equal scores: lower index first), like
        ``torchvision.ops.batched_nms``.
    """
    b, as_numpy = _boxes("boxes", boxes, ndim=2)
    s = _scores("scores", scores, len(b))
    lab = torch.as_tensor(check_array("labels", labels))
    if lab.shape != (len(b),):
        raise ValueError(
            f"labels must have shape ({len(b)},) like the boxes, got {tuple(lab.shape)}"
        )
    iou_threshold = _unit_float("iou_threshold", iou_threshold)
    keep = [torch.zeros(0, dtype=torch.int64)]
    for c in torch.unique(lab):
        idx = torch.nonzero(lab == c).flatten()
        keep.append(idx[nms(b[idx], s[idx], iou_threshold)])
    keep = torch.cat(keep).sort().values  # by index, so the stable sort breaks ties by index
    keep = keep[torch.argsort(s.detach()[keep], descending=True, stable=True)]
    return keep.numpy() if as_numpy else keep


# --------------------------------------------------------------------------- anchors


def _positive_floats(name: str, values: Any) -> list[float]:
    if isinstance(values, numbers.Real):
        values = [values]
    if not isinstance(values, (Sequence, np.ndarray)) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers > 0, got {values!r}")
    return [check_positive_float(f"{name}[{i}]", v) for i, v in enumerate(values)]


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
    sizes = _positive_floats("sizes", sizes)
    ratios = _positive_floats("ratios", ratios)
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
        ratios = _positive_floats(f"aspect_ratios[{k}]", ratios)
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
    pos_iou, neg_iou = _unit_float("pos_iou", pos_iou), _unit_float("neg_iou", neg_iou)
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


# --------------------------------------------------------------------------- mean average precision


def _image_records(name: str, items: Any, keys: tuple[str, ...]) -> list[dict[str, np.ndarray]]:
    """Validate a list of per-image dicts and return them as numpy arrays."""
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise TypeError(
            f"{name} must be a list with one dict per image, got {type(items).__name__}"
        )
    records = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or any(k not in item for k in keys):
            raise ValueError(f"{name}[{i}] must be a dict with keys {keys}, got {item!r:.80}")
        boxes, _ = _boxes(f"{name}[{i}]['boxes']", item["boxes"], ndim=2)
        rec = {"boxes": boxes.detach().cpu().numpy().astype(np.float64)}
        for k in keys[1:]:
            v = check_array(f"{name}[{i}][{k!r}]", item[k], ndim=1)
            if len(v) != len(boxes):
                raise ValueError(
                    f"{name}[{i}][{k!r}] must have one entry per box ({len(boxes)}), got {len(v)}"
                )
            rec[k] = v
        if "scores" in rec and len(rec["scores"]) and not np.isfinite(rec["scores"]).all():
            raise ValueError(f"{name}[{i}]['scores'] must be finite")
        records.append(rec)
    return records


def _greedy_match(iou: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Match detections (rows, best score first) to ground truths (columns), COCO's way.

    Each detection in turn takes the unmatched ground truth it overlaps most, if that IoU is
    ``>= iou_threshold`` (ties: the later ground truth, as pycocotools does). Returns the matched
    column per row, -1 for a false positive.
    """
    taken = np.zeros(iou.shape[1], dtype=bool)
    matched = np.full(iou.shape[0], -1, dtype=np.int64)
    for d in range(iou.shape[0]):
        free = np.flatnonzero(~taken & (iou[d] >= iou_threshold))
        if free.size:
            g = free[::-1][np.argmax(iou[d, free[::-1]])]
            matched[d], taken[g] = g, True
    return matched


def match_detections(detection: dict, ground_truth: dict, iou_threshold: float = 0.5) -> np.ndarray:
    """Which detections of one image are true positives (class-aware greedy matching).

    Parameters
    ----------
    detection : dict
        ``'boxes'`` (D, 4) xyxy, ``'scores'`` (D,), ``'labels'`` (D,).
    ground_truth : dict
        ``'boxes'`` (G, 4) xyxy, ``'labels'`` (G,).
    iou_threshold : float in [0, 1]

    Returns
    -------
    ndarray of int64, shape (D,)
        For each detection (input order) the index of the ground-truth box it matched, or -1
        (false positive). Detections are matched best score first; a ground truth is matched
        once; a match needs the same label and IoU >= ``iou_threshold``.
    """
    (det,) = _image_records("detection", [detection], ("boxes", "scores", "labels"))
    (gt,) = _image_records("ground_truth", [ground_truth], ("boxes", "labels"))
    iou_threshold = _unit_float("iou_threshold", iou_threshold)
    matched = np.full(len(det["scores"]), -1, dtype=np.int64)
    for c in np.unique(det["labels"]):
        d_idx = np.flatnonzero(det["labels"] == c)
        d_idx = d_idx[np.argsort(-det["scores"][d_idx], kind="stable")]
        g_idx = np.flatnonzero(gt["labels"] == c)
        iou = _iou(torch.from_numpy(det["boxes"][d_idx]), torch.from_numpy(gt["boxes"][g_idx]))
        m = _greedy_match(iou.numpy(), iou_threshold)
        matched[d_idx[m >= 0]] = g_idx[m[m >= 0]]
    return matched


def _thresholds(iou_threshold: Any) -> np.ndarray:
    values = np.atleast_1d(np.asarray(iou_threshold, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"iou_threshold must be a float or a 1-D list of floats, got {iou_threshold!r}"
        )
    for v in values:
        _unit_float("iou_threshold", float(v))
    return values


def _class_matches(dets, gts, c, thresholds, max_detections):
    """Scores, true-positive flags (T, D) and number of ground truths of class ``c``."""
    scores, tps, npos = [], [], 0
    for det, gt in zip(dets, gts, strict=True):
        g_idx = np.flatnonzero(gt["labels"] == c)
        d_idx = np.flatnonzero(det["labels"] == c)
        d_idx = d_idx[np.argsort(-det["scores"][d_idx], kind="stable")][:max_detections]
        npos += len(g_idx)
        if len(d_idx) == 0:
            continue
        iou = _iou(torch.from_numpy(det["boxes"][d_idx]), torch.from_numpy(gt["boxes"][g_idx]))
        scores.append(det["scores"][d_idx].astype(np.float64))
        tps.append(np.stack([_greedy_match(iou.numpy(), t) >= 0 for t in thresholds]))
    if not scores:
        return np.zeros(0), np.zeros((len(thresholds), 0), dtype=bool), npos
    scores, tps = np.concatenate(scores), np.concatenate(tps, axis=1)
    order = np.argsort(-scores, kind="stable")  # ties: earlier image first, as pycocotools
    return scores[order], tps[:, order], npos


def precision_recall_curve(
    detections, ground_truths, class_id: int, iou_threshold: float = 0.5, max_detections=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of one class as the score threshold sweeps down the detections.

    Parameters
    ----------
    detections : list of dicts, one per image
        ``'boxes'`` (D_i, 4) xyxy, ``'scores'`` (D_i,), ``'labels'`` (D_i,).
    ground_truths : list of dicts, one per image (same order)
        ``'boxes'`` (G_i, 4) xyxy, ``'labels'`` (G_i,).
    class_id : int
    iou_threshold : float in [0, 1]
        A detection is a true positive if it matches a free ground truth with IoU >= this.
    max_detections : int, optional
        Keep only the best this many detections of the class per image (COCO: 100).

    Returns
    -------
    precision, recall, scores : ndarrays of shape (D,)
        After the k best detections (all images pooled, best score first):
        ``precision[k-1] = TP_k / k`` and ``recall[k-1] = TP_k / (number of ground truths)``
        (recall is NaN when the class has no ground truth).
    """
    dets = _image_records("detections", detections, ("boxes", "scores", "labels"))
    gts = _image_records("ground_truths", ground_truths, ("boxes", "labels"))
    if len(dets) != len(gts):
        raise ValueError(
            f"detections and ground_truths must list the same images, got {len(dets)} and {len(gts)}"
        )
    check_int("class_id", class_id)
    thresholds = _thresholds(_unit_float("iou_threshold", iou_threshold))
    if max_detections is not None:
        max_detections = check_int("max_detections", max_detections, minimum=1)
    scores, tps, npos = _class_matches(dets, gts, class_id, thresholds, max_detections)
    tp = np.cumsum(tps[0]).astype(np.float64)
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / npos if npos else np.full_like(tp, np.nan)
    return precision, recall, scores


def average_precision(precision, recall, method: str = "all") -> float:
    """Area under the interpolated precision-recall curve.

    The interpolated precision at recall ``r`` is the best precision at any recall ``>= r``
    (this removes the curve's zig-zag). Then

    - ``'all'`` (Pascal VOC 2010+, all points): the exact area under that staircase,
      :math:`\\sum_k (r_k - r_{k-1})\\, p_{\\mathrm{interp}}(r_k)`;
    - ``'coco'``: the mean of the interpolated precision at the 101 recalls 0, 0.01, ..., 1
      (0 beyond the largest recall reached), which is what pycocotools reports.
    - ``'voc11'``: the mean over the 11 recalls 0, 0.1, ..., 1 (Pascal VOC 2007).

    Parameters
    ----------
    precision, recall : array, shape (D,)
        From :func:`precision_recall_curve` (recall non-decreasing).
    method : {'all', 'coco', 'voc11'}

    Returns
    -------
    float in [0, 1]
    """
    check_choice("method", method, ("all", "coco", "voc11"))
    p = check_array("precision", precision, ndim=1).astype(np.float64)
    r = check_array("recall", recall, ndim=1).astype(np.float64)
    if p.shape != r.shape:
        raise ValueError(
            f"precision and recall must have the same shape, got {p.shape} and {r.shape}"
        )
    if r.size and (np.any(np.diff(r) < 0) or np.isnan(r).any()):
        raise ValueError("recall must be non-decreasing (sorted by decreasing score), without NaN")
    envelope = np.maximum.accumulate(p[::-1])[::-1] if p.size else p  # best precision to the right
    if method == "all":
        r_all = np.concatenate([[0.0], r])
        return float(np.sum((r_all[1:] - r_all[:-1]) * envelope))
    points = COCO_RECALL_THRESHOLDS if method == "coco" else np.linspace(0.0, 1.0, 11)
    idx = np.searchsorted(r, points, side="left")  # first detection reaching each recall point
    reached = idx < len(r)
    return float(np.sum(envelope[idx[reached]]) / len(points))


def mean_average_precision(
    detections,
    ground_truths,
    iou_threshold=0.5,
    method: str = "all",
    max_detections: int | None = None,
) -> dict:
    """Detection mAP: average precision per class, averaged over classes (and IoU thresholds).

    Parameters
    ----------
    detections : list of dicts, one per image
        ``'boxes'`` (D_i, 4) xyxy, ``'scores'`` (D_i,), ``'labels'`` (D_i,) int.
    ground_truths : list of dicts, one per image (same order)
        ``'boxes'`` (G_i, 4) xyxy, ``'labels'`` (G_i,) int.
    iou_threshold : float or sequence of floats in [0, 1]
        A detection is a true positive when it is the best-scoring detection to claim a ground
        truth of its class with IoU >= the threshold (greedy, best score first). A sequence
        averages AP over thresholds: ``COCO_IOU_THRESHOLDS`` gives COCO's AP@[.50:.05:.95].
    method : {'all', 'coco', 'voc11'}
        How each PR curve becomes a number (see :func:`average_precision`).
        ``method='coco', max_detections=100`` reproduces pycocotools' bbox AP (area 'all').
    max_detections : int, optional
        Best detections kept per image and class before matching (COCO: 100).

    Returns
    -------
    dict
        ``'map'``: the mean over classes of ``'per_class'`` (NaN if there is no ground truth);
        ``'per_class'``: {class: AP averaged over the thresholds}; ``'ap'``: ndarray (T, K) of AP
        per threshold and class; ``'classes'``; ``'iou_thresholds'``. Classes without any ground
        truth have no AP (their detections cannot be right or wrong) and are left out.
    """
    dets = _image_records("detections", detections, ("boxes", "scores", "labels"))
    gts = _image_records("ground_truths", ground_truths, ("boxes", "labels"))
    if len(dets) != len(gts):
        raise ValueError(
            f"detections and ground_truths must list the same images, got {len(dets)} and {len(gts)}"
        )
    thresholds = _thresholds(iou_threshold)
    check_choice("method", method, ("all", "coco", "voc11"))
    if max_detections is not None:
        max_detections = check_int("max_detections", max_detections, minimum=1)
    classes = sorted({int(c) for gt in gts for c in gt["labels"]})
    ap = np.zeros((len(thresholds), len(classes)))
    for k, c in enumerate(classes):
        _, tps, npos = _class_matches(dets, gts, c, thresholds, max_detections)
        for t in range(len(thresholds)):
            tp = np.cumsum(tps[t]).astype(np.float64)
            precision = tp / np.arange(1, len(tp) + 1)
            ap[t, k] = average_precision(precision, tp / npos, method)
    per_class = {c: float(ap[:, k].mean()) for k, c in enumerate(classes)}
    return {
        "map": float(ap.mean()) if classes else float("nan"),
        "per_class": per_class,
        "ap": ap,
        "classes": classes,
        "iou_thresholds": thresholds,
    }


# --------------------------------------------------------------------------- the detector


def sigmoid_focal_loss(
    logits, targets, alpha: float | None = 0.25, gamma: float = 2.0, reduction: str = "sum"
) -> torch.Tensor:
    """Focal loss (Lin et al., 2017): cross-entropy that down-weights easy examples.

    .. math:: \\mathrm{FL}(p_t) = -\\alpha_t (1 - p_t)^\\gamma \\log p_t

    with ``p_t = p`` for a target 1 and ``1 - p`` for a target 0, ``p = sigmoid(logit)``,
    ``alpha_t = alpha`` or ``1 - alpha``. ``gamma = 0, alpha = None`` is binary cross-entropy.

    Parameters
    ----------
    logits, targets : Tensor, same shape (targets in [0, 1])
    alpha : float in [0, 1] or None (no class weighting)
    gamma : float >= 0
    reduction : {'none', 'mean', 'sum'}

    Returns
    -------
    Tensor: the loss (shape of ``logits`` for ``'none'``, else a scalar).
    """
    check_choice("reduction", reduction, ("none", "mean", "sum"))
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("logits and targets must be torch tensors")
    if logits.shape != targets.shape:
        raise ValueError(
            f"targets must have the shape of logits {tuple(logits.shape)}, got {tuple(targets.shape)}"
        )
    if alpha is not None:
        alpha = _unit_float("alpha", alpha)
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or gamma < 0:
        raise ValueError(f"gamma must be a number >= 0, got {gamma!r}")
    targets = targets.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyDetector(nn.Module):
    """A small single-shot detector: a CNN backbone, one feature level, two conv heads.

    The backbone halves the resolution ``log2(stride)`` times; on its final feature map, every
    cell has ``A = len(sizes) * len(ratios)`` anchors (:func:`make_anchors`), and two 3x3
    convolutions predict, for every anchor, ``num_classes`` logits (sigmoid per class, trained
    with focal loss as in RetinaNet: no background class) and 4 box deltas
    (:func:`encode_boxes`). It is SSD/RetinaNet with a single scale, sized for 64x64 canvases.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    width : int
        Channels after the first downsampling (doubled once, then kept).
    stride : int, a power of two >= 4
    sizes, ratios : anchors per cell (see :func:`make_anchors`)
    weights : 4 floats, the box-coding weights (see :func:`encode_boxes`)

    Shapes: ``forward`` maps images (N, in_channels, H, W) to one tensor (N, K, num_classes + 4)
    with ``K = (H / stride) (W / stride) A`` rows in :meth:`anchors` order: per anchor, the class
    logits then the box deltas (one tensor, like YOLO's output, so the generic training loop can
    handle it; :meth:`split` separates the two).
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        width: int = 32,
        stride: int = 8,
        sizes: Sequence[float] = (12.0, 20.0),
        ratios: Sequence[float] = (1.0, 2.0, 4.0),
        weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    ):
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, minimum=1)
        in_channels = check_int("in_channels", in_channels, minimum=1)
        width = check_int("width", width, minimum=2)
        stride = check_int("stride", stride, minimum=4)
        if stride & (stride - 1):
            raise ValueError(f"stride must be a power of two >= 4, got {stride}")
        self.stride = stride
        self.sizes = tuple(_positive_floats("sizes", sizes))
        self.ratios = tuple(_positive_floats("ratios", ratios))
        self.weights = _weights(weights)
        self.num_anchors = len(self.sizes) * len(self.ratios)
        layers = [_conv_block(in_channels, width // 2)]
        c = width // 2
        for i in range(int(math.log2(stride))):
            c_out = width if i == 0 else 2 * width
            layers += [_conv_block(c, c_out, stride=2), _conv_block(c_out, c_out)]
            c = c_out
        self.backbone = nn.Sequential(*layers)
        self.cls_head = nn.Conv2d(c, self.num_anchors * num_classes, 3, padding=1)
        self.box_head = nn.Conv2d(c, self.num_anchors * 4, 3, padding=1)
        # Start every anchor at p = 0.01 (RetinaNet): almost all anchors are background, and a
        # start at p = 0.5 would drown the first steps in the loss of easy negatives.
        nn.init.constant_(self.cls_head.bias, -math.log((1 - 0.01) / 0.01))
        nn.init.normal_(self.cls_head.weight, std=0.01)
        nn.init.normal_(self.box_head.weight, std=0.01)
        nn.init.zeros_(self.box_head.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = images.shape[0]
        features = self.backbone(images)
        # (N, A*C, h, w) -> (N, h, w, A*C) -> (N, h*w*A, C): cell by cell, then anchor
        cls = self.cls_head(features).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes)
        box = self.box_head(features).permute(0, 2, 3, 1).reshape(n, -1, 4)
        return torch.cat([cls, box], dim=-1)

    def split(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cls_logits (N, K, C), box_deltas (N, K, 4))`` from the forward output."""
        return outputs[..., : self.num_classes], outputs[..., self.num_classes :]

    def anchors(self, image_size) -> torch.Tensor:
        """Anchors (K, 4) for images of ``image_size = (H, W)`` (each divisible by the stride)."""
        height, width = check_pair("image_size", image_size, minimum=1)
        if height % self.stride or width % self.stride:
            raise ValueError(
                f"image_size must be divisible by the stride {self.stride}, got {image_size!r}"
            )
        feature = (height // self.stride, width // self.stride)
        return make_anchors(feature, self.stride, self.sizes, self.ratios)

    def loss_fn(self, image_size, **kwargs) -> DetectionLoss:
        """The :class:`DetectionLoss` for this model's anchors on images of ``image_size``."""
        return DetectionLoss(self.anchors(image_size), self.num_classes, self.weights, **kwargs)

    @torch.no_grad()
    def predict(
        self,
        images: torch.Tensor,
        score_threshold: float = 0.05,
        iou_threshold: float = 0.5,
        max_detections: int = 100,
        batch_size: int = 256,
    ) -> list[dict]:
        """Detections for images (N, C, H, W), in eval mode: see :func:`postprocess`.

        Returns a list of N dicts with CPU tensors ``'boxes'`` (D, 4) xyxy, ``'scores'`` (D,)
        and ``'labels'`` (D,), best score first.
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        size = tuple(images.shape[-2:])
        anchors = self.anchors(size).to(device)
        results = []
        try:
            for i in range(0, len(images), batch_size):
                outputs = self(images[i : i + batch_size].to(device)).float().cpu()
                results += postprocess(
                    outputs,
                    anchors.cpu(),
                    size,
                    self.num_classes,
                    self.weights,
                    score_threshold,
                    iou_threshold,
                    max_detections,
                )
        finally:
            self.train(was_training)
        return results


def _target_list(targets) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(boxes, labels) per image from padded targets (N, G, 5) or a list of dicts."""
    if isinstance(targets, torch.Tensor):
        if targets.ndim != 3 or targets.shape[-1] != 5:
            raise ValueError(
                "targets must be a list of dicts or a tensor (N, G, 5) of rows (x1, y1, x2, y2, "
                f"label) padded with label -1, got shape {tuple(targets.shape)}"
            )
        return [(t[t[:, 4] >= 0, :4], t[t[:, 4] >= 0, 4].long()) for t in targets]
    return [(torch.as_tensor(t["boxes"]), torch.as_tensor(t["labels"]).long()) for t in targets]


class DetectionLoss(nn.Module):
    """Focal classification loss + smooth-L1 box loss for :class:`TinyDetector` outputs.

    For each image, anchors are matched to its ground truth (:func:`match_anchors`). Positive
    anchors get a one-hot class target and a box target (:func:`encode_boxes`); background
    anchors get all-zero class targets; ignored anchors get no loss. Both sums are divided by the
    number of positive anchors in the batch (RetinaNet), so the loss does not grow with the
    number of anchors.

    Parameters
    ----------
    anchors : Tensor (K, 4)
        From :meth:`TinyDetector.anchors`.
    num_classes : int
    weights : box-coding weights (as the model's)
    pos_iou, neg_iou : matching thresholds (see :func:`match_anchors`)
    alpha, gamma : focal-loss parameters (see :func:`sigmoid_focal_loss`)
    beta : float > 0
        Smooth-L1 is quadratic below ``|x| = beta`` and linear above (beta = 1: Huber, delta 1).

    Call it with ``(outputs, targets)``: outputs (N, K, C + 4) from the model; targets either
    (N, G, 5) rows ``(x1, y1, x2, y2, label)`` padded with label -1
    (:func:`cnncourse.canvases.collate_detection`) or a list of dicts with ``'boxes'`` and
    ``'labels'``. Returns the total loss; ``.last`` holds its two parts as floats.
    """

    def __init__(
        self,
        anchors: torch.Tensor,
        num_classes: int,
        weights=(1.0, 1.0, 1.0, 1.0),
        pos_iou: float = 0.5,
        neg_iou: float = 0.4,
        alpha: float = 0.25,
        gamma: float = 2.0,
        beta: float = 1.0 / 9,
    ):
        super().__init__()
        a, _ = _boxes("anchors", anchors, ndim=2)
        self.register_buffer("anchors", a.to(torch.float32))
        self.num_classes = check_int("num_classes", num_classes, minimum=1)
        self.weights = _weights(weights)
        self.pos_iou = _unit_float("pos_iou", pos_iou)
        self.neg_iou = _unit_float("neg_iou", neg_iou)
        self.alpha, self.gamma = alpha, gamma
        self.beta = check_positive_float("beta", beta)
        self.last: dict[str, float] = {}

    def targets_for(self, boxes: torch.Tensor, labels: torch.Tensor):
        """Class targets (K, C), box targets (K, 4) and anchor matches (K,) for one image."""
        anchors = self.anchors
        boxes = boxes.to(anchors)
        matches = match_anchors(anchors, boxes, self.pos_iou, self.neg_iou)
        pos = matches >= 0
        cls_t = torch.zeros(len(anchors), self.num_classes, device=anchors.device)
        cls_t[pos, labels.to(anchors.device)[matches[pos]]] = 1.0
        box_t = torch.zeros(len(anchors), 4, device=anchors.device)
        if pos.any():
            box_t[pos] = encode_boxes(boxes[matches[pos]], anchors[pos], self.weights)
        return cls_t, box_t, matches

    def forward(self, outputs: torch.Tensor, targets) -> torch.Tensor:
        if outputs.ndim != 3 or outputs.shape[1:] != (len(self.anchors), self.num_classes + 4):
            raise ValueError(
                f"outputs must have shape (N, {len(self.anchors)}, {self.num_classes + 4}) for "
                f"this loss's anchors, got {tuple(outputs.shape)}; build the loss with "
                "model.loss_fn(image_size)"
            )
        targets = _target_list(targets)
        if len(targets) != len(outputs):
            raise ValueError(f"targets must describe {len(outputs)} images, got {len(targets)}")
        cls_logits, box_deltas = outputs[..., : self.num_classes], outputs[..., self.num_classes :]
        cls_t, box_t, matches = map(
            torch.stack, zip(*(self.targets_for(b, lab) for b, lab in targets), strict=True)
        )
        pos, valid = matches >= 0, matches != -2
        num_pos = max(1, int(pos.sum()))
        cls_loss = sigmoid_focal_loss(
            cls_logits[valid], cls_t[valid].to(outputs), self.alpha, self.gamma
        )
        box_loss = nn.functional.smooth_l1_loss(
            box_deltas[pos], box_t[pos].to(outputs), beta=self.beta, reduction="sum"
        )
        cls_loss, box_loss = cls_loss / num_pos, box_loss / num_pos
        self.last = {"classification": cls_loss.item(), "box": box_loss.item()}
        return cls_loss + box_loss


def select_detections(
    boxes,
    scores,
    labels,
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> dict:
    """The last step of every detector: drop low scores, run per-class NMS, keep the best.

    Parameters
    ----------
    boxes : array or Tensor (D, 4) xyxy; scores (D,); labels (D,) ints
    score_threshold : float in [0, 1]
        Keep candidates with score **greater** than this.
    iou_threshold : float in [0, 1]
        :func:`batched_nms` threshold (1 keeps every candidate).
    max_detections : int
        Keep at most this many, best first.

    Returns
    -------
    dict with ``'boxes'``, ``'scores'``, ``'labels'`` (same kind as the inputs), best score
    first, and ``'index'``: positions of the kept detections in the input.
    """
    b, as_numpy = _boxes("boxes", boxes, ndim=2)
    s = _scores("scores", scores, len(b))
    lab = torch.as_tensor(check_array("labels", labels)).long()
    if lab.shape != (len(b),):
        raise ValueError(
            f"labels must have shape ({len(b)},) like the boxes, got {tuple(lab.shape)}"
        )
    score_threshold = _unit_float("score_threshold", score_threshold)
    max_detections = check_int("max_detections", max_detections, minimum=1)
    candidates = torch.nonzero(s > score_threshold).flatten()
    keep = candidates[batched_nms(b[candidates], s[candidates], lab[candidates], iou_threshold)]
    keep = keep[:max_detections]
    out = {"boxes": b[keep], "scores": s[keep], "labels": lab[keep], "index": keep}
    return {k: _out(v, as_numpy) for k, v in out.items()}


def postprocess(
    outputs: torch.Tensor,
    anchors: torch.Tensor,
    image_size,
    num_classes: int,
    weights=(1.0, 1.0, 1.0, 1.0),
    score_threshold: float = 0.05,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> list[dict]:
    """Turn raw detector outputs into detections, image by image.

    Scores are ``sigmoid(logits)``; each (anchor, class) pair above ``score_threshold`` is a
    candidate with the anchor's decoded box (:func:`decode_boxes`, clipped to the image); then
    per-class NMS and the best ``max_detections`` (:func:`select_detections`).

    Parameters
    ----------
    outputs : Tensor (N, K, num_classes + 4)
    anchors : Tensor (K, 4)
    image_size : (H, W)
    num_classes : int

    Returns
    -------
    list of N dicts with Tensors ``'boxes'`` (D, 4), ``'scores'`` (D,), ``'labels'`` (D,).
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    outputs = outputs.detach()
    scores = torch.sigmoid(outputs[..., :num_classes])
    boxes = clip_boxes(decode_boxes(outputs[..., num_classes:], anchors, weights), image_size)
    score_threshold = _unit_float("score_threshold", score_threshold)
    results = []
    for s, b in zip(scores, boxes, strict=True):
        anchor, label = torch.nonzero(s > score_threshold, as_tuple=True)  # the candidates
        det = select_detections(
            b[anchor], s[anchor, label], label, score_threshold, iou_threshold, max_detections
        )
        det.pop("index")
        results.append(det)
    return results


# --------------------------------------------------------------------------- drawing


def draw_boxes(
    ax,
    boxes,
    labels=None,
    scores=None,
    color="tab:red",
    linewidth: float = 1.5,
    linestyle: str = "-",
    fontsize: float = 7,
) -> None:
    """Draw xyxy boxes on a matplotlib Axes that shows an image with ``imshow``.

    ``imshow`` puts pixel centres at integer coordinates, so a box's pixel edge ``x1`` is drawn
    at ``x1 - 0.5``. ``labels`` and ``scores`` (optional, one per box) are written above each box;
    ``color`` is one colour or one per box.
    """
    from matplotlib.patches import Rectangle

    b = np.asarray(box_convert(boxes, "xyxy", "xyxy"), dtype=np.float64).reshape(-1, 4)
    colors = [color] * len(b) if isinstance(color, str) else list(color)
    for k, (x1, y1, x2, y2) in enumerate(b):
        ax.add_patch(
            Rectangle(
                (x1 - 0.5, y1 - 0.5),
                x2 - x1,
                y2 - y1,
                fill=False,
                ec=colors[k],
                lw=linewidth,
                ls=linestyle,
            )
        )
        text = []
        if labels is not None:
            text.append(str(int(labels[k])))
        if scores is not None:
            text.append(f"{float(scores[k]):.2f}")
        if text:
            ax.text(x1 - 0.5, y1 - 1.5, " ".join(text), color=colors[k], fontsize=fontsize)
