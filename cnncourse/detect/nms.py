"""Non-maximum suppression (chapter 8, section 4) and the last step of every detector.

- :func:`nms_steps` -- greedy NMS one decision at a time (a list of :class:`NMSStep`): the
  algorithm itself, which the chapter prints and the NMS explorer steps through.
- :func:`nms` -- the boxes those decisions keep (``torchvision.ops.nms`` semantics).
- :func:`batched_nms` -- NMS within each class.
- :func:`select_detections` -- drop low scores, per-class NMS, keep the best ``max_detections``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validate import check_int, check_unit_interval
from ._inputs import _boxes, _labels, _out, _scores
from .boxes import _iou


@dataclass(frozen=True)
class NMSStep:
    """One NMS decision: keep box ``kept``; suppress ``suppressed`` (their IoUs with it: ``ious``)."""

    kept: int
    suppressed: tuple[int, ...]
    ious: tuple[float, ...]


def nms_steps(boxes, scores, iou_threshold: float) -> list[NMSStep]:
    """Non-maximum suppression one decision at a time: the loop that :func:`nms` runs.

    Until no candidate is left: keep the best-scoring candidate, and suppress every other
    candidate whose IoU with it is **greater** than ``iou_threshold``.

    Parameters
    ----------
    boxes : array or Tensor, shape (N, 4), xyxy
    scores : array or Tensor, shape (N,)
    iou_threshold : float in [0, 1]

    Returns
    -------
    list of NMSStep
        One step per kept box, in decreasing score order (equal scores: lower index first).
        A step lists the boxes it suppressed in score order, with their IoUs with the kept box.
        Every box is kept or suppressed by exactly one step.
    """
    b, _ = _boxes("boxes", boxes, ndim=2)
    s = _scores("scores", scores, len(b))
    iou_threshold = check_unit_interval("iou_threshold", iou_threshold)
    b = b.detach()
    order = torch.argsort(s.detach(), descending=True, stable=True)  # candidates, best first
    steps = []
    while order.numel() > 0:
        best, rest = order[0], order[1:]
        overlap = _iou(b[best].unsqueeze(0), b[rest])[0]
        drop = overlap > iou_threshold
        steps.append(NMSStep(int(best), tuple(rest[drop].tolist()), tuple(overlap[drop].tolist())))
        order = rest[~drop]  # survivors keep their order
    return steps


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
        the semantics of ``torchvision.ops.nms``: the ``kept`` box of each of :func:`nms_steps`.
    """
    steps = nms_steps(boxes, scores, iou_threshold)
    keep = torch.tensor([step.kept for step in steps], dtype=torch.int64)
    return keep if isinstance(boxes, torch.Tensor) else keep.numpy()


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
    lab = _labels("labels", labels, len(b))
    iou_threshold = check_unit_interval("iou_threshold", iou_threshold)
    keep = [torch.zeros(0, dtype=torch.int64)]
    for c in torch.unique(lab):
        idx = torch.nonzero(lab == c).flatten()
        keep.append(idx[nms(b[idx], s[idx], iou_threshold)])
    keep = torch.cat(keep).sort().values  # by index, so the stable sort breaks ties by index
    keep = keep[torch.argsort(s.detach()[keep], descending=True, stable=True)]
    return keep.numpy() if as_numpy else keep


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
    lab = _labels("labels", labels, len(b)).long()
    score_threshold = check_unit_interval("score_threshold", score_threshold)
    max_detections = check_int("max_detections", max_detections, minimum=1)
    candidates = torch.nonzero(s > score_threshold).flatten()
    keep = candidates[batched_nms(b[candidates], s[candidates], lab[candidates], iou_threshold)]
    keep = keep[:max_detections]
    out = {"boxes": b[keep], "scores": s[keep], "labels": lab[keep], "index": keep}
    return {k: _out(v, as_numpy) for k, v in out.items()}
