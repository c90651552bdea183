"""Tests for the NMS explorer and the detection explorer: pure cores and the widget objects."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from cnncourse import detect
from cnncourse.widgets import _render
from cnncourse.widgets import detection_explorer as de
from cnncourse.widgets import nms_explorer as ne

# --------------------------------------------------------------------------- NMS explorer


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(0, 25),
    score_t=st.sampled_from([0.0, 0.2, 0.5, 0.9]),
    iou_t=st.floats(0, 1),
)
def test_explore_steps_through_detect_nms(seed, n, score_t, iou_t):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 30, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 15, (n, 2))], axis=1)
    scores = rng.integers(0, 10, n) / 10  # ties included
    result = ne.explore(boxes, scores, score_t, iou_t)
    cand = np.flatnonzero(scores > score_t)
    np.testing.assert_array_equal(result.keep, cand[detect.nms(boxes[cand], scores[cand], iou_t)])
    library = detect.nms_steps(boxes[cand], scores[cand], iou_t)  # the same decisions, renumbered
    assert [s.ious for s in result.steps] == [s.ious for s in library]
    assert [s.suppressed for s in result.steps] == [
        tuple(cand[list(s.suppressed)].tolist()) for s in library
    ]
    np.testing.assert_array_equal(result.below, np.flatnonzero(scores <= score_t))
    decided = [s.kept for s in result.steps] + [i for s in result.steps for i in s.suppressed]
    assert sorted(decided) == cand.tolist()  # every candidate decided exactly once
    assert all(v > iou_t for s in result.steps for v in s.ious)
    final = ne.statuses_at(result, len(result.steps))
    assert final.count("below") == len(result.below)
    assert final.count("kept") + final.count("current") == len(result.keep)
    assert set(ne.statuses_at(result, 0)) <= {"waiting", "below"}


def test_statuses_at_walks_through_the_decisions():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40], [0, 0, 10, 10]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    result = ne.explore(boxes, scores, 0.2, 0.5)
    assert [s.kept for s in result.steps] == [0, 2] and result.steps[0].suppressed == (1,)
    assert ne.statuses_at(result, 0) == ["waiting", "waiting", "waiting", "below"]
    assert ne.statuses_at(result, 1) == ["current", "suppressed", "waiting", "below"]
    assert ne.statuses_at(result, 2) == ["kept", "suppressed", "current", "below"]
    with pytest.raises(ValueError, match=r"step must be in 0\.\.2"):
        ne.statuses_at(result, 3)
    with pytest.raises(ValueError, match=r"scores must have one entry per box \(4\)"):
        ne.explore(boxes, scores[:2])
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\]"):
        ne.explore(boxes, scores, 0.2, -0.1)


def test_example_scene_has_one_survivor_per_digit_at_default_settings():
    for index in (0, 5, 19):
        image, boxes, scores = ne.example_scene(index)
        assert image.shape == (64, 64) and boxes.shape == (len(scores), 4)
        assert len(ne.explore(boxes, scores, 0.3, 0.5).keep) == len(boxes) // 6
    a, b = ne.example_scene(2), ne.example_scene(2)
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match=r"index must be in 0\.\.19"):
        ne.example_scene(20)


def test_png_boxes():
    png = _render.png_boxes(np.zeros((8, 6)), [[1, 1, 4, 5]], ["#ff0000"], ["7"], scale=3)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert img.shape == (24, 18, 3)
    assert tuple(img[3, 6]) == (255, 0, 0) and tuple(img[0, 0]) == (0, 0, 0)  # box edge, outside
    empty = Image.open(io.BytesIO(_render.png_boxes(np.ones((4, 4)), [], [], scale=2)))
    assert empty.size == (8, 8)
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        _render.png_boxes(np.zeros((8, 6)), [[1, 1, 4]], ["#ff0000"])


def test_nms_explorer_view_follows_its_controls():
    w = ne.NMSExplorer()
    assert "cnncourse-nms-explorer" in w._dom_classes
    assert "export default" in w._esm and "function explore(" in w._esm
    # the page gets the 20 saved scenes from Python: boxes, scores and 8-bit pixels
    image, boxes, scores = ne.example_scene(3)
    assert w.scenes[3] == {"boxes": boxes.tolist(), "scores": scores.tolist()}
    assert len(w.images) == 20 * 64 * 64 and w.image_shape == [64, 64] and w.colors == ne.COLORS
    r = w.result
    assert w.step == len(r.steps) and w.error == ""
    n_keep = len(r.keep)
    w.iou_threshold = 1.0  # nothing overlaps by more than 1: every candidate survives
    assert len(w.result.keep) == len(w.result.scores) - len(w.result.below) > n_keep
    w.score_threshold = 0.99
    assert len(w.result.keep) == 0 and w.step == 0
    w.score_threshold = 0.3
    w.iou_threshold = 0.5
    w.step = 1
    assert w.statuses.count("current") == 1
    w.step = 0
    assert "current" not in w.statuses
    w.canvas = 3
    np.testing.assert_array_equal(w.result.boxes, boxes)


def test_nms_explorer_keeps_errors_instead_of_tracebacks():
    image, boxes, scores = ne.example_scene(0)
    w = ne.NMSExplorer(image, boxes, scores[:-1])
    assert w.result is None and "scores must have one entry per box" in w.error
    w = ne.NMSExplorer(image, boxes, scores)
    assert w.result is not None and len(w.scenes) == 1  # one scene: the page hides the slider


def test_nms_figure():
    image, boxes, scores = ne.example_scene(0)
    fig = ne.nms_figure(image, boxes, scores, [(0.0, 1.0), (0.3, 0.5)], [None, 1])
    titles = [ax.get_title() for ax in fig.axes]
    assert "step 1: 1 kept" in titles[1] and f"{len(boxes)} kept" in titles[0]
    plt.close(fig)


# --------------------------------------------------------------------------- detection explorer


def scene():
    gt = {"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), "labels": np.array([1, 2])}
    cand = {
        "boxes": np.array(
            [[0, 0, 10, 10], [0, 0, 10, 11], [20, 20, 30, 30], [40, 40, 50, 50], [0, 0, 10, 10]],
            float,
        ),
        "scores": np.array([0.9, 0.8, 0.3, 0.6, 0.4]),
        "labels": np.array([1, 1, 2, 1, 3]),
    }
    return cand, gt


def test_explore_counts_hand_case():
    cand, gt = scene()
    s = de.explore(cand, gt, score_threshold=0.5, iou_threshold=0.5)
    # kept: 0 (TP), 3 (FP, nothing there); 1 suppressed by 0; 2 and 4 below 0.5
    np.testing.assert_array_equal(s.detections["scores"], [0.9, 0.6])
    np.testing.assert_array_equal(s.matched, [0, -1])
    np.testing.assert_array_equal(s.missed, [1])
    assert (s.tp, s.fp, s.fn) == (1, 1, 1) and s.precision == 0.5 and s.recall == 0.5
    s = de.explore(cand, gt, score_threshold=0.2, iou_threshold=1.0)  # no NMS: a duplicate FP
    assert (s.tp, s.fp, s.fn) == (2, 3, 0) and s.recall == 1.0
    s = de.explore(cand, gt, score_threshold=0.95)
    assert (s.tp, s.fp, s.fn) == (0, 0, 2) and np.isnan(s.precision) and s.recall == 0.0


def test_explore_is_select_then_match():
    rng = np.random.default_rng(0)
    for _ in range(50):
        cand, gt = scene()
        cand = {**cand, "scores": rng.random(5)}
        st_, it = float(rng.random()), float(rng.random())
        s = de.explore(cand, gt, st_, it)
        ref = detect.select_detections(cand["boxes"], cand["scores"], cand["labels"], st_, it)
        np.testing.assert_array_equal(s.detections["boxes"], ref["boxes"])
        np.testing.assert_array_equal(s.matched, detect.match_detections(ref, gt))
    totals = de.set_counts([cand, cand], [gt, gt], 0.0, 1.0)
    one = de.explore(cand, gt, 0.0, 1.0)
    assert totals["tp"] == 2 * one.tp and totals["fp"] == 2 * one.fp
    with pytest.raises(ValueError, match="same canvases"):
        de.set_counts([cand], [gt, gt])


def test_candidates_from_a_detector():
    torch.manual_seed(0)
    model = detect.TinyDetector(width=8)
    cands = de.candidates(model, torch.rand(3, 1, 32, 32), score_threshold=0.0, max_candidates=20)
    assert len(cands) == 3
    for c in cands:
        assert isinstance(c["boxes"], np.ndarray) and c["boxes"].shape == (20, 4)
        assert np.all(np.diff(c["scores"]) <= 0)


def test_detection_explorer_view_follows_its_controls():
    cand, gt = scene()
    other = {"boxes": gt["boxes"], "scores": np.array([0.99, 0.2]), "labels": gt["labels"]}
    images = np.zeros((2, 32, 32))
    w = de.DetectionExplorer(images, [cand, other], [gt, gt], score_threshold=0.5)
    assert (w.result.tp, w.result.fp, w.result.fn) == (1, 1, 1)
    assert w.totals == {"tp": 2, "fp": 1, "fn": 2, "precision": 2 / 3, "recall": 0.5}
    assert "0.67" in w.metrics.value
    png = w.view.value
    w.iou_threshold.value = 1.0
    assert w.result.fp == 2 and w.view.value != png  # the duplicate survives without NMS
    w.score_threshold.value = 0.1
    assert w.result.recall == 1.0 and w.totals["fn"] == 0
    w.canvas.value = 1
    assert (w.result.tp, w.result.fp) == (2, 0) and "canvas 1" in w.metrics.value


def test_detection_explorer_shows_errors_instead_of_tracebacks():
    cand, gt = scene()
    bad = {**cand, "boxes": cand["boxes"][:, [2, 1, 0, 3]]}  # x2 < x1
    w = de.DetectionExplorer(np.zeros((2, 32, 32)), [cand, bad], [gt, gt])
    assert w.result is None and "x2 &lt; x1" in w.message.value
    with pytest.raises(ValueError, match="same canvases"):
        de.DetectionExplorer(np.zeros((1, 8, 8)), [cand, cand], [gt])


def test_explorer_figure():
    cand, gt = scene()
    fig = de.explorer_figure(np.zeros((1, 32, 32)), [cand], [gt], 0, [(0.5, 0.5), (0.2, 1.0)])
    titles = [ax.get_title() for ax in fig.axes]
    assert "TP 1 FP 1 missed 1" in titles[0] and "TP 2 FP 3 missed 0" in titles[1]
    plt.close(fig)
