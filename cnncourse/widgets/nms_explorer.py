"""NMS explorer (chapter 8): watch non-maximum suppression keep one box per object.

Pure core (tested without a browser):

- :func:`example_scene` -- a test canvas with a cluster of overlapping, scored candidate boxes
  around every digit (what a detector produces before NMS).
- :func:`explore` -- drop the boxes at or below the score threshold, then run the library's
  NMS one decision at a time (:func:`cnncourse.detect.nms_steps`, the loop behind
  :func:`cnncourse.detect.nms`): each step keeps the best remaining box and suppresses the boxes
  that overlap it by more than the IoU threshold.
- :func:`statuses_at` -- the status of every box after ``t`` steps (below the score threshold,
  waiting, kept, suppressed, or the box being kept at this step).

Boxes are drawn with :func:`cnncourse.widgets._render.png_boxes`.

View: :class:`NMSExplorer` (score and IoU sliders, ``Play`` to step through). Static figure for
the website: :func:`nms_figure`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np

from .. import canvases, detect
from .._validate import check_array, check_int, check_unit_interval
from ._render import FriendlyRepr, error_html, png_boxes

__all__ = [
    "COLORS",
    "NMSResult",
    "example_scene",
    "explore",
    "statuses_at",
    "NMSExplorer",
    "nms_figure",
]

#: Colour of each status, shared by the widget and the static figure.
COLORS = {
    "below": "#9e9e9e",  # under the score threshold: never considered
    "waiting": "#ffca28",
    "current": "#00e5ff",
    "kept": "#66bb6a",
    "suppressed": "#ef5350",
}


@dataclass(frozen=True)
class NMSResult:
    """Everything the explorer shows for one (score threshold, IoU threshold).

    Attributes
    ----------
    boxes : ndarray (N, 4) xyxy;  scores : ndarray (N,)
    score_threshold, iou_threshold : float
    below : ndarray of int
        Boxes with score <= ``score_threshold`` (dropped before NMS).
    steps : list of :class:`cnncourse.detect.NMSStep`
        The decisions, best box first, with indices into ``boxes``.
    keep : ndarray of int
        Kept boxes, best first (= ``detect.nms`` on the candidates).
    """

    boxes: np.ndarray
    scores: np.ndarray
    score_threshold: float
    iou_threshold: float
    below: np.ndarray
    steps: list[detect.NMSStep]
    keep: np.ndarray


@lru_cache(maxsize=1)
def _scene_canvases() -> canvases.Canvases:
    return canvases.make_canvases(20, "test", seed=8)


def example_scene(index: int = 0, per_object: int = 6, seed: int = 0):
    """A test canvas and a cluster of noisy, scored candidate boxes around each digit.

    Parameters
    ----------
    index : int
        Which of 20 test canvases (0..19).
    per_object : int
        Candidates per digit: its box jittered by a few pixels, scores higher the closer it is.
    seed : int

    Returns
    -------
    image : ndarray (64, 64); boxes : ndarray (M, 4) xyxy; scores : ndarray (M,)
    """
    index = check_int("index", index, minimum=0)
    if index > 19:
        raise ValueError(f"index must be in 0..19, got {index}")
    per_object = check_int("per_object", per_object, minimum=1)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0) * 1000 + index)
    c = _scene_canvases()
    gt = c.boxes[index].astype(np.float64)
    boxes = np.repeat(gt, per_object, axis=0)
    size = np.repeat(gt[:, 2:] - gt[:, :2], per_object, axis=0)
    boxes = boxes + rng.normal(0, 0.07, boxes.shape) * np.tile(size, 2)
    boxes = detect.clip_boxes(
        np.concatenate([boxes[:, :2], np.maximum(boxes[:, 2:], boxes[:, :2] + 1)], 1), 64
    )
    closeness = detect.box_iou(boxes, gt).max(axis=1)
    scores = np.clip(0.25 + 0.7 * closeness + rng.normal(0, 0.08, len(boxes)), 0.01, 0.99)
    return c.images[index].copy(), boxes, np.round(scores, 2)


def explore(boxes, scores, score_threshold: float = 0.0, iou_threshold: float = 0.5) -> NMSResult:
    """Drop the low scores, then run :func:`cnncourse.detect.nms_steps` on the rest.

    Parameters
    ----------
    boxes : array (N, 4) xyxy;  scores : array (N,)
    score_threshold : float in [0, 1]
        Boxes with score <= this are dropped first (as :func:`cnncourse.detect.select_detections`
        does).
    iou_threshold : float in [0, 1]
        A box is suppressed when its IoU with the kept box is greater than this.

    Returns
    -------
    NMSResult
    """
    b = np.asarray(detect.box_convert(boxes, "xyxy", "xyxy"), dtype=np.float64)
    if b.ndim != 2:
        raise ValueError(f"boxes must have shape (N, 4), got {b.shape}")
    s = check_array("scores", scores, ndim=1).astype(np.float64)
    if len(s) != len(b):
        raise ValueError(f"scores must have one entry per box ({len(b)}), got {len(s)}")
    score_threshold = check_unit_interval("score_threshold", score_threshold)
    iou_threshold = check_unit_interval("iou_threshold", iou_threshold)
    below = np.flatnonzero(s <= score_threshold)
    candidates = np.flatnonzero(s > score_threshold)
    # The library decides; the explorer only maps candidate positions back to box indices.
    steps = [
        detect.NMSStep(
            int(candidates[step.kept]),
            tuple(int(candidates[i]) for i in step.suppressed),
            step.ious,
        )
        for step in detect.nms_steps(b[candidates], s[candidates], iou_threshold)
    ]
    keep = np.array([step.kept for step in steps], dtype=np.int64)
    return NMSResult(b, s, score_threshold, iou_threshold, below, steps, keep)


def statuses_at(result: NMSResult, step: int) -> list[str]:
    """Status of every box after ``step`` decisions (0 = before NMS, ``len(steps)`` = done).

    The box kept by decision ``step`` is ``'current'``; earlier ones ``'kept'``; boxes they
    removed ``'suppressed'``; the rest ``'waiting'``, or ``'below'`` the score threshold.
    """
    step = check_int("step", step, minimum=0)
    if step > len(result.steps):
        raise ValueError(f"step must be in 0..{len(result.steps)}, got {step}")
    status = ["waiting"] * len(result.scores)
    for i in result.below:
        status[i] = "below"
    for t, decision in enumerate(result.steps[:step]):
        status[decision.kept] = "current" if t == step - 1 else "kept"
        for i in decision.suppressed:
            status[i] = "suppressed"
    return status


class NMSExplorer(FriendlyRepr, widgets.VBox):
    """Slide the score and IoU thresholds and step through NMS on a cluster of boxes.

    Attributes a test (or a student) can drive: ``canvas`` (IntSlider, which example scene),
    ``score_threshold`` and ``iou_threshold`` (FloatSliders), ``play`` (``ipywidgets.Play``,
    linked to the ``step`` slider). Read-only: ``result`` (the current :class:`NMSResult`,
    ``None`` if the settings are invalid), ``statuses`` (per box), ``view`` (PNG image),
    ``info`` (HTML: what this step decided) and ``message`` (errors instead of a traceback).
    Colours: :data:`COLORS`.

    Parameters
    ----------
    image, boxes, scores : optional
        A scene of your own; default :func:`example_scene` (the ``canvas`` slider picks it).
    """

    def __init__(
        self,
        image=None,
        boxes=None,
        scores=None,
        score_threshold: float = 0.3,
        iou_threshold: float = 0.5,
        interval: int = 900,
    ):
        self._custom = image is not None
        self.scene = (image, boxes, scores) if self._custom else example_scene(0)
        self.result: NMSResult | None = None
        self.statuses: list[str] = []

        self.canvas = widgets.IntSlider(value=0, min=0, max=19, description="canvas")
        self.canvas.add_class("cnncourse-nms-canvas")
        self.canvas.layout.display = "none" if self._custom else None
        self.score_threshold = widgets.FloatSlider(
            value=score_threshold, min=0.0, max=1.0, step=0.01, description="score >"
        )
        self.score_threshold.add_class("cnncourse-nms-score")
        self.iou_threshold = widgets.FloatSlider(
            value=iou_threshold, min=0.0, max=1.0, step=0.01, description="IoU >"
        )
        self.iou_threshold.add_class("cnncourse-nms-iou")
        self.play = widgets.Play(value=0, min=0, max=0, interval=interval, description="step")
        self.play.add_class("cnncourse-nms-play")
        self.step = widgets.IntSlider(value=0, min=0, max=0, description="step")
        self.step.add_class("cnncourse-nms-step")
        widgets.link((self.play, "value"), (self.step, "value"))
        widgets.link((self.play, "max"), (self.step, "max"))
        self.view = widgets.Image(format="png", layout=widgets.Layout(width="320px"))
        self.view.add_class("cnncourse-nms-view")
        self.info = widgets.HTML()
        self.info.add_class("cnncourse-nms-info")
        self.message = widgets.HTML()
        self.message.add_class("cnncourse-nms-message")
        legend = " ".join(
            f'<span style="color:{c}">&#9632;</span> {name}' for name, c in COLORS.items()
        )
        controls = widgets.VBox(
            [
                self.canvas,
                self.score_threshold,
                self.iou_threshold,
                widgets.HBox([self.play, self.step]),
            ]
        )
        controls.add_class("cnncourse-nms-controls")
        super().__init__(
            [controls, self.message, widgets.HBox([self.view, self.info]), widgets.HTML(legend)]
        )
        self.add_class("cnncourse-nms-explorer")
        self.canvas.observe(self._on_canvas, names="value")
        for w in (self.score_threshold, self.iou_threshold):
            w.observe(self._on_config, names="value")
        self.step.observe(self._on_step, names="value")
        self._on_config()

    def _on_canvas(self, change=None) -> None:
        self.scene = example_scene(self.canvas.value)
        self._on_config()

    def _on_config(self, change=None) -> None:
        """Rerun NMS for the thresholds and jump to its end (all boxes decided)."""
        _, boxes, scores = self.scene
        try:
            result = explore(boxes, scores, self.score_threshold.value, self.iou_threshold.value)
        except (ValueError, TypeError) as err:
            self.result = None
            self.message.value = error_html(str(err))
            return
        self.message.value = ""
        self.result = result
        self.play.playing = False
        self.play.max = len(result.steps)
        if self.step.value == len(result.steps):
            self._on_step()
        else:
            self.step.value = len(result.steps)  # triggers _on_step

    def _on_step(self, change=None) -> None:
        if self.result is None:
            return
        result, t = self.result, min(self.step.value, len(self.result.steps))
        self.statuses = statuses_at(result, t)
        texts = [
            f"{s:.2f}" if st in ("current", "kept") else ""
            for s, st in zip(result.scores, self.statuses, strict=True)
        ]
        widths = [3 if st in ("current", "kept") else 1 for st in self.statuses]
        self.view.value = png_boxes(
            self.scene[0], result.boxes, [COLORS[st] for st in self.statuses], texts, 5, widths
        )
        n_cand = len(result.scores) - len(result.below)
        lines = [
            f"{len(result.scores)} boxes, {len(result.below)} at or below the score threshold, "
            f"{n_cand} candidates; NMS keeps {len(result.keep)}.",
        ]
        if t == 0:
            lines.append("Step 0: nothing decided yet. Press play.")
        else:
            d = result.steps[t - 1]
            gone = ", ".join(
                f"{i} (IoU {v:.2f})" for i, v in zip(d.suppressed, d.ious, strict=True)
            )
            lines.append(
                f"Step {t}/{len(result.steps)}: keep box {d.kept} (score {result.scores[d.kept]:.2f}),"
                f" the best still waiting; suppress {gone or 'nothing'}."
            )
        self.info.value = "<br>".join(html.escape(line) for line in lines)


def nms_figure(image, boxes, scores, settings, steps_to_show=None):
    """Static rendering: one panel per (score threshold, IoU threshold) after NMS (or at a step).

    Parameters
    ----------
    image, boxes, scores : the scene
    settings : list of (score_threshold, iou_threshold)
    steps_to_show : list of int or None, optional
        For each panel, the step to draw (None: the end).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    n = len(settings)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.0), dpi=80, squeeze=False)
    for k, (ax, (st, it)) in enumerate(zip(axes[0], settings, strict=True)):
        result = explore(boxes, scores, st, it)
        step = (
            len(result.steps)
            if steps_to_show is None or steps_to_show[k] is None
            else steps_to_show[k]
        )
        statuses = statuses_at(result, step)
        if step == len(result.steps):  # finished: the last decision is just another kept box
            statuses = ["kept" if s == "current" else s for s in statuses]
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        for box, status in zip(result.boxes, statuses, strict=True):
            bold = status in ("kept", "current")
            ax.add_patch(
                Rectangle(
                    (box[0] - 0.5, box[1] - 0.5),
                    box[2] - box[0],
                    box[3] - box[1],
                    fill=False,
                    ec=COLORS[status],
                    lw=2.0 if bold else 0.8,
                )
            )
        ax.set_title(
            f"score > {st:.2f}, IoU > {it:.2f}\nstep {step}: {len([s for s in statuses if s in ('kept', 'current')])} kept",
            fontsize=9,
        )
        ax.set_xlabel("x (pixels)", fontsize=8)
        ax.set_ylabel("y (pixels)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.legend(
        handles=[Patch(color=c, label=s) for s, c in COLORS.items()],
        loc="lower center",
        ncol=len(COLORS),
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
