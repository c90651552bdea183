"""Detection explorer (chapter 8): a trained detector's boxes as the thresholds move.

Pure core (tested without a browser):

- :func:`candidates` -- every (box, class) a detector proposes above a low score, before NMS
  (computed once; the sliders only filter them).
- :func:`explore` -- for one canvas, apply the score threshold and per-class NMS
  (:func:`cnncourse.detect.select_detections`), match the survivors to the ground truth
  (:func:`cnncourse.detect.match_detections`, IoU >= 0.5) and count true positives, false
  positives and missed objects: precision and recall of that canvas and of the whole set.
- :func:`set_counts` -- the same counts summed over many canvases.

View: :class:`DetectionExplorer` (canvas, score threshold and NMS IoU sliders; boxes drawn with
:func:`cnncourse.widgets._render.png_boxes`). Static figure for the website:
:func:`explorer_figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch

from .. import detect, viz
from .._validate import check_int
from ._render import NeedsKernel, error_html, html_table, png_boxes, td

__all__ = [
    "COLORS",
    "DetectionState",
    "candidates",
    "explore",
    "set_counts",
    "DetectionExplorer",
    "explorer_figure",
]

# Colour-blind-safe colours, with the tag (TP, FP, missed) written on each box as a second cue.
COLORS = {kind: style["color"] for kind, style in viz.BOX_STYLES.items()}


@dataclass(frozen=True)
class DetectionState:
    """What the explorer shows for one canvas and one pair of thresholds.

    Attributes
    ----------
    detections : dict
        ``'boxes'`` (D, 4), ``'scores'`` (D,), ``'labels'`` (D,) after the score threshold and NMS.
    matched : ndarray (D,)
        Ground-truth index matched by each detection, -1 for a false positive.
    missed : ndarray of int
        Ground-truth boxes no detection matched.
    tp, fp, fn : int
    precision, recall : float
        ``tp / (tp + fp)`` (NaN with no detections) and ``tp / (tp + fn)``.
    """

    detections: dict
    matched: np.ndarray
    missed: np.ndarray
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float


def candidates(model, images, score_threshold: float = 0.05, max_candidates: int = 300) -> list:
    """Pre-NMS candidates of a :class:`cnncourse.detect.TinyDetector` for each image.

    Returns a list (one per image) of dicts of numpy arrays ``'boxes'``, ``'scores'``,
    ``'labels'``: every (anchor, class) with score above ``score_threshold``, best first.
    """
    preds = model.predict(
        torch.as_tensor(images), score_threshold, iou_threshold=1.0, max_detections=max_candidates
    )
    return [{k: v.numpy() for k, v in p.items()} for p in preds]


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def explore(
    candidate: dict,
    ground_truth: dict,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    match_iou: float = 0.5,
) -> DetectionState:
    """Filter one canvas's candidates and score them against its ground truth.

    Parameters
    ----------
    candidate : dict with ``'boxes'`` (M, 4), ``'scores'`` (M,), ``'labels'`` (M,)
    ground_truth : dict with ``'boxes'`` (G, 4), ``'labels'`` (G,)
    score_threshold : float in [0, 1]
        Keep candidates scoring above this.
    iou_threshold : float in [0, 1]
        NMS threshold (1: no suppression).
    match_iou : float in [0, 1]
        A detection is a true positive if it matches a free ground truth of its class with at
        least this IoU (the mAP@0.5 rule).

    Returns
    -------
    DetectionState
    """
    det = detect.select_detections(
        candidate["boxes"],
        candidate["scores"],
        candidate["labels"],
        score_threshold,
        iou_threshold,
        max_detections=100,
    )
    det.pop("index")
    matched = detect.match_detections(det, ground_truth, match_iou)
    tp = int((matched >= 0).sum())
    n_gt = len(np.asarray(ground_truth["labels"]))
    missed = np.setdiff1d(np.arange(n_gt), matched[matched >= 0])
    fp = len(matched) - tp
    return DetectionState(
        det, matched, missed, tp, fp, n_gt - tp, _ratio(tp, tp + fp), _ratio(tp, n_gt)
    )


def set_counts(
    candidates_list: list,
    ground_truths: list,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    match_iou: float = 0.5,
) -> dict:
    """True positives, false positives and misses summed over canvases, with precision/recall.

    Returns dict with ``tp``, ``fp``, ``fn``, ``precision``, ``recall``.
    """
    if len(candidates_list) != len(ground_truths):
        raise ValueError(
            "candidates_list and ground_truths must list the same canvases, got "
            f"{len(candidates_list)} and {len(ground_truths)}"
        )
    tp = fp = fn = 0
    for cand, gt in zip(candidates_list, ground_truths, strict=True):
        s = explore(cand, gt, score_threshold, iou_threshold, match_iou)
        tp, fp, fn = tp + s.tp, fp + s.fp, fn + s.fn
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
    }


def _draw(image, state: DetectionState, ground_truth: dict, scale: int = 5) -> bytes:
    det = state.detections
    gt_boxes = np.asarray(ground_truth["boxes"], dtype=np.float64).reshape(-1, 4)
    boxes = np.concatenate([gt_boxes[state.missed], np.asarray(det["boxes"]).reshape(-1, 4)])
    colors = [COLORS["missed"]] * len(state.missed) + [
        COLORS["true positive"] if m >= 0 else COLORS["false positive"] for m in state.matched
    ]
    tags = ["TP" if m >= 0 else "FP" for m in state.matched]
    texts = [f"missed {int(ground_truth['labels'][g])}" for g in state.missed] + [
        f"{tag} {int(lab)} {s:.2f}"
        for tag, lab, s in zip(tags, det["labels"], det["scores"], strict=True)
    ]
    return png_boxes(image, boxes, colors, texts, scale)


def _fmt(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{x:.2f}"


class DetectionExplorer(NeedsKernel, widgets.VBox):
    """Pick a test canvas, slide the score threshold and the NMS IoU threshold.

    Attributes a test (or a student) can drive: ``canvas`` (IntSlider), ``score_threshold`` and
    ``iou_threshold`` (FloatSliders). Read-only: ``result`` (:class:`DetectionState` of the
    canvas, ``None`` if invalid), ``totals`` (:func:`set_counts` over all canvases given),
    ``view`` (PNG: true positives green, false positives red, missed objects yellow),
    ``metrics`` (HTML) and ``message`` (errors instead of a traceback).

    Parameters
    ----------
    images : array (N, H, W) in [0, 1]
    candidates_list : list of N dicts, from :func:`candidates`
    ground_truths : list of N dicts with ``'boxes'``, ``'labels'``
    """

    def __init__(
        self,
        images,
        candidates_list,
        ground_truths,
        score_threshold: float = 0.5,
        iou_threshold: float = 0.5,
    ):
        if not (len(images) == len(candidates_list) == len(ground_truths)) or len(images) == 0:
            raise ValueError(
                "images, candidates_list and ground_truths must describe the same canvases (>= 1)"
            )
        self.images = np.asarray(images)
        self.candidates_list = candidates_list
        self.ground_truths = ground_truths
        self.result: DetectionState | None = None
        self.totals: dict | None = None

        self.canvas = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="canvas")
        self.canvas.add_class("cnncourse-detection-canvas")
        self.score_threshold = widgets.FloatSlider(
            value=score_threshold,
            min=0.0,
            max=1.0,
            step=0.01,
            description="score >",
            continuous_update=False,  # rescoring the whole set takes a moment: on release only
        )
        self.score_threshold.add_class("cnncourse-detection-score")
        self.iou_threshold = widgets.FloatSlider(
            value=iou_threshold,
            min=0.0,
            max=1.0,
            step=0.01,
            description="NMS IoU >",
            continuous_update=False,
        )
        self.iou_threshold.add_class("cnncourse-detection-iou")
        self.view = widgets.Image(format="png", layout=widgets.Layout(width="320px"))
        self.view.add_class("cnncourse-detection-view")
        self.metrics = widgets.HTML()
        self.metrics.add_class("cnncourse-detection-metrics")
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-detection-message")
        legend = " ".join(
            f'<span style="color:{c}">&#9632;</span> {name}' for name, c in COLORS.items()
        )
        controls = widgets.VBox([self.canvas, self.score_threshold, self.iou_threshold])
        controls.add_class("cnncourse-detection-controls")
        super().__init__(
            [controls, self.message, widgets.HBox([self.view, self.metrics]), widgets.HTML(legend)]
        )
        self.add_class("cnncourse-detection-explorer")
        self.canvas.observe(self._update_canvas, names="value")
        for w in (self.score_threshold, self.iou_threshold):
            w.observe(self._update, names="value")
        self._update()

    def _update(self, change=None) -> None:
        """Thresholds changed: recount the whole set, then redraw the canvas."""
        try:
            self.totals = set_counts(
                self.candidates_list,
                self.ground_truths,
                self.score_threshold.value,
                self.iou_threshold.value,
            )
        except (ValueError, TypeError) as err:
            self._error(err)
            return
        self._update_canvas()

    def _error(self, err: Exception) -> None:
        self.result = None
        self.message.value = error_html(str(err))

    def _update_canvas(self, change=None) -> None:
        i = self.canvas.value
        try:
            state = explore(
                self.candidates_list[i],
                self.ground_truths[i],
                self.score_threshold.value,
                self.iou_threshold.value,
            )
        except (ValueError, TypeError) as err:
            self._error(err)
            return
        self.message.value = ""
        self.result = state
        self.view.value = _draw(self.images[i], state, self.ground_truths[i])
        t = self.totals
        rows = [
            ("", f"canvas {i}", f"all {len(self.images)} canvases"),
            ("true positives", state.tp, t["tp"]),
            ("false positives", state.fp, t["fp"]),
            ("missed", state.fn, t["fn"]),
            ("precision", _fmt(state.precision), _fmt(t["precision"])),
            ("recall", _fmt(state.recall), _fmt(t["recall"])),
        ]
        self.metrics.value = html_table(
            ([td(str(c), "padding:2px 8px") for c in row] for row in rows),
            "cnncourse-detection-table",
        )


def explorer_figure(images, candidates_list, ground_truths, index: int, settings):
    """Static rendering: canvas ``index`` under several (score threshold, NMS IoU) settings.

    Each panel's title gives the canvas's TP/FP/missed and the whole set's precision and recall.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    index = check_int("index", index, minimum=0)
    n = len(settings)
    fig, axes = plt.subplots(1, n, figsize=(2.7 * n, 3.3), squeeze=False)
    gt = ground_truths[index]
    for ax, (st, it) in zip(axes[0], settings, strict=True):
        s = explore(candidates_list[index], gt, st, it)
        t = set_counts(candidates_list, ground_truths, st, it)
        ax.imshow(images[index], cmap="gray", vmin=0, vmax=1)
        boxes = list(np.asarray(gt["boxes"])[s.missed]) + list(s.detections["boxes"])
        kinds = ["missed"] * len(s.missed) + [
            "true positive" if m >= 0 else "false positive" for m in s.matched
        ]
        labels = list(np.asarray(gt["labels"])[s.missed]) + list(s.detections["labels"])
        if boxes:
            viz.draw_boxes(ax, np.asarray(boxes), labels, kinds=kinds, fontsize=8.5)
        ax.set_title(
            f"score > {st:.2f}, NMS IoU > {it:.2f}\nTP {s.tp} FP {s.fp} missed {s.fn}\n"
            f"all: P {_fmt(t['precision'])} R {_fmt(t['recall'])}",
            fontsize=9,
        )
        ax.set_xlabel("x (pixels)", fontsize=9)
        ax.set_ylabel("y (pixels)", fontsize=9)
        ax.tick_params(labelsize=8.5)
    fig.legend(
        handles=[
            Line2D([], [], color=st["color"], ls=st["linestyle"], lw=2, label=f"{k} ({st['tag']})")
            for k, st in viz.BOX_STYLES.items()
        ],
        loc="lower center",
        ncol=3,
        fontsize=9,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
