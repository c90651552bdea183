"""Scoring a detector (chapter 8, sections 9-10): matching, precision-recall curves and mAP.

- :data:`COCO_IOU_THRESHOLDS`, :data:`COCO_RECALL_THRESHOLDS` -- COCO's grids.
- ``_image_records`` / ``_image_lists`` -- validate the per-image dicts of detections and ground truth.
- ``_greedy_match`` and :func:`match_detections` -- which detections are true positives.
- :func:`precision_recall_curve`, :func:`average_precision`, :func:`mean_average_precision`;
  ``_pr_from_flags`` turns ranked true-positive flags into precision and recall for both.

Proven against pycocotools' ``COCOeval`` in ``tests/test_detect.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._validate import check_array, check_choice, check_int, check_unit_interval
from ._inputs import _boxes
from .boxes import _iou

#: COCO's ten IoU thresholds 0.50:0.05:0.95, built exactly as pycocotools builds them.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
#: COCO's 101 recall points 0.00:0.01:1.00 for its interpolated average precision.
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1)


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


def _image_lists(detections: Any, ground_truths: Any) -> tuple[list[dict], list[dict]]:
    """Validate the detections and ground truths of the same images, one dict per image."""
    dets = _image_records("detections", detections, ("boxes", "scores", "labels"))
    gts = _image_records("ground_truths", ground_truths, ("boxes", "labels"))
    if len(dets) != len(gts):
        raise ValueError(
            f"detections and ground_truths must list the same images, got {len(dets)} and {len(gts)}"
        )
    return dets, gts


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
    iou_threshold = check_unit_interval("iou_threshold", iou_threshold)
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
        check_unit_interval("iou_threshold", float(v))
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


def _pr_from_flags(tps: np.ndarray, npos: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each of the ranked detections (D,) flagged true positive.

    ``precision[k-1] = TP_k / k``, ``recall[k-1] = TP_k / npos`` (NaN when ``npos`` is 0).
    """
    tp = np.cumsum(tps).astype(np.float64)
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / npos if npos else np.full_like(tp, np.nan)
    return precision, recall


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
    dets, gts = _image_lists(detections, ground_truths)
    check_int("class_id", class_id)
    thresholds = _thresholds(check_unit_interval("iou_threshold", iou_threshold))
    if max_detections is not None:
        max_detections = check_int("max_detections", max_detections, minimum=1)
    scores, tps, npos = _class_matches(dets, gts, class_id, thresholds, max_detections)
    precision, recall = _pr_from_flags(tps[0], npos)
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
    dets, gts = _image_lists(detections, ground_truths)
    thresholds = _thresholds(iou_threshold)
    check_choice("method", method, ("all", "coco", "voc11"))
    if max_detections is not None:
        max_detections = check_int("max_detections", max_detections, minimum=1)
    classes = sorted({int(c) for gt in gts for c in gt["labels"]})
    ap = np.zeros((len(thresholds), len(classes)))
    for k, c in enumerate(classes):
        _, tps, npos = _class_matches(dets, gts, c, thresholds, max_detections)
        for t in range(len(thresholds)):
            ap[t, k] = average_precision(*_pr_from_flags(tps[t], npos), method)
    per_class = {c: float(ap[:, k].mean()) for k, c in enumerate(classes)}
    return {
        "map": float(ap.mean()) if classes else float("nan"),
        "per_class": per_class,
        "ap": ap,
        "classes": classes,
        "iou_thresholds": thresholds,
    }
