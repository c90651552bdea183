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

View: :class:`NMSExplorer`, an anywidget whose page front-end (``js/nms_explorer.js``) ports
:func:`explore` and :func:`statuses_at` and draws the boxes (labelled with the numbers its text
names), so it runs without a kernel. Static figure: :func:`nms_figure`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import anywidget
import numpy as np
import traitlets

from .. import canvases, detect
from .._validate import check_array, check_int, check_unit_interval
from ._render import FriendlyRepr
from ._render import esm as _render_esm

__all__ = [
    "COLORS",
    "NMSResult",
    "example_scene",
    "explore",
    "statuses_at",
    "NMSExplorer",
    "nms_figure",
]

#: Colour of each status, shared by the widget and the static figure: Okabe-Ito colours that
#: stay apart under colour blindness (kept blue, suppressed vermillion), plus a second cue:
#: kept boxes are thick, suppressed ones dashed, boxes below the threshold dotted.
COLORS = {
    "below": "#999999",  # under the score threshold: never considered
    "waiting": "#e69f00",
    "current": "#56b4e9",
    "kept": "#0072b2",
    "suppressed": "#d55e00",
}
LINESTYLES = {"below": ":", "waiting": "-", "current": "-", "kept": "-", "suppressed": "--"}


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


def _display_pixels(image) -> np.ndarray:
    """A scene's image in [0, 1] as the 8-bit gray levels the page draws."""
    return np.clip(np.asarray(image, dtype=np.float64) * 255, 0, 255).astype(np.uint8)


class NMSExplorer(FriendlyRepr, anywidget.AnyWidget):
    """Slide the score and IoU thresholds and step through NMS on a cluster of boxes.

    An anywidget: the page runs NMS with ``js/nms_explorer.js`` (a port of :func:`explore` and
    :func:`statuses_at`, proven equal by ``tests/browser/test_explorers_js.py``), so it works
    on the static website for every saved scene (the ``scenes`` and ``images`` traits).

    Traits a test (or a student) can set: ``canvas`` (which example scene), ``score_threshold``,
    ``iou_threshold`` and ``step`` (decisions shown; a new setting jumps to the end). Read-only:
    ``result`` (the current :class:`NMSResult`, ``None`` if the settings are invalid),
    ``statuses`` (per box), ``error`` (the message the page shows, or ``''``). Colours:
    :data:`COLORS` (suppressed boxes are also dashed, kept ones thick).

    Parameters
    ----------
    image, boxes, scores : optional
        A scene of your own; default: the 20 :func:`example_scene` canvases.
    """

    _esm = _render_esm("nms_explorer")
    canvas = traitlets.Int(0).tag(sync=True)
    score_threshold = traitlets.Float(0.3).tag(sync=True)
    iou_threshold = traitlets.Float(0.5).tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    interval = traitlets.Int(900).tag(sync=True)
    colors = traitlets.Dict().tag(sync=True)
    scenes = traitlets.List().tag(sync=True)
    images = traitlets.Bytes(b"").tag(sync=True)
    image_shape = traitlets.List().tag(sync=True)

    def __init__(
        self,
        image=None,
        boxes=None,
        scores=None,
        score_threshold: float = 0.3,
        iou_threshold: float = 0.5,
        interval: int = 900,
    ):
        scenes = [(image, boxes, scores)] if image is not None else [
            example_scene(i) for i in range(20)
        ]  # fmt: skip
        self._scenes = scenes
        self.result: NMSResult | None = None
        self.statuses: list[str] = []
        self.error = ""
        super().__init__(
            score_threshold=check_unit_interval("score_threshold", score_threshold),
            iou_threshold=check_unit_interval("iou_threshold", iou_threshold),
            interval=check_int("interval", interval, minimum=10),
            colors=dict(COLORS),
            scenes=[
                {
                    "boxes": np.asarray(b, dtype=np.float64).tolist(),
                    "scores": np.asarray(s).tolist(),
                }
                for _, b, s in scenes
            ],
            images=b"".join(_display_pixels(im).tobytes() for im, _, _ in scenes),
            image_shape=list(np.shape(scenes[0][0])),
        )
        self.add_class("cnncourse-nms-explorer")
        self.observe(self._on_config, names=["canvas", "score_threshold", "iou_threshold"])
        self.observe(self._on_step, names="step")
        self._on_config()

    @property
    def scene(self):
        """The current ``(image, boxes, scores)``."""
        return self._scenes[self.canvas]

    def _on_config(self, change=None) -> None:
        """Rerun NMS for the thresholds and jump to its end (all boxes decided)."""
        _, boxes, scores = self.scene
        try:
            self.result = explore(boxes, scores, self.score_threshold, self.iou_threshold)
        except (ValueError, TypeError) as err:
            self.result, self.error, self.statuses = None, str(err), []
            return
        self.error = ""
        if self.step == len(self.result.steps):
            self._on_step()
        else:
            self.step = len(self.result.steps)  # observed: _on_step

    def _on_step(self, change=None) -> None:
        if self.result is None:
            return
        self.statuses = statuses_at(self.result, min(self.step, len(self.result.steps)))


def nms_figure(image, boxes, scores, settings, steps_to_show=None, title=None):
    """Static rendering: one panel per (score threshold, IoU threshold) after NMS (or at a step).

    Parameters
    ----------
    image, boxes, scores : the scene
    settings : list of (score_threshold, iou_threshold)
    steps_to_show : list of int or None, optional
        For each panel, the step to draw (None: the end).
    title : str, optional
        A title over all panels.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    n = len(settings)
    # constrained layout gives the title and the legend below the panels their own room
    fig, axes = plt.subplots(
        1, n, figsize=(2.6 * n, 3.3), dpi=80, squeeze=False, layout="constrained"
    )
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
                    ls=LINESTYLES[status],
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
        handles=[
            Patch(fill=False, ec=c, ls=LINESTYLES[s], lw=1.5, label=s) for s, c in COLORS.items()
        ],
        loc="outside lower center",
        ncol=len(COLORS),
        fontsize=8,
        frameon=False,
    )
    if title is not None:
        fig.suptitle(title)
    return fig
