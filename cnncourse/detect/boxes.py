"""Box formats, areas, IoU and clipping (chapter 8, sections 2-3).

- :data:`FORMATS`, :func:`box_convert` and its aliases :func:`xyxy_to_xywh`,
  :func:`xywh_to_xyxy`, :func:`xyxy_to_cxcywh`, :func:`cxcywh_to_xyxy`.
- :func:`box_area`, :func:`box_iou` (and ``_iou``, the same formula on validated tensors, which
  NMS, anchor matching and mAP call in their loops), :func:`clip_boxes`.
"""

from __future__ import annotations

import torch

from .._validate import check_choice, check_pair
from ._inputs import _boxes, _out

FORMATS = ("xyxy", "xywh", "cxcywh")


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
