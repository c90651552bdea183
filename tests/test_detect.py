"""Tests for cnncourse.detect: boxes, IoU, NMS, anchors, box coding, mAP (the detector and its
losses: tests/test_detector.py).

References: hand-computed cases, pixel counting, a brute-force NMS, pycocotools' COCOeval and
torch.nn.functional.
"""

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cnncourse import detect, viz

# --------------------------------------------------------------------------- helpers


def rand_boxes(rng, n, size=50.0, min_wh=0.0, max_wh=20.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(min_wh, max_wh, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def iou_scalar(a, b):
    """IoU of two boxes with plain Python arithmetic (independent of the library)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms_brute_force(boxes, scores, thr):
    """Visit boxes best first; keep one unless it overlaps an already kept box by more than thr."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(iou_scalar(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


int_box = st.tuples(
    st.integers(0, 12), st.integers(0, 12), st.integers(0, 8), st.integers(0, 8)
).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])


# --------------------------------------------------------------------------- box utilities


def test_box_iou_hand_cases():
    assert detect.box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0] == pytest.approx(1 / 7)
    iou = detect.box_iou(
        np.array([[0, 0, 2, 2], [0, 0, 4, 4]], float),
        np.array([[0, 0, 2, 2], [2, 0, 4, 2], [5, 5, 6, 6], [1, 1, 2, 2]], float),
    )
    expected = [[1, 0, 0, 1 / 4], [4 / 16, 4 / 16, 0, 1 / 16]]
    np.testing.assert_allclose(iou, expected)
    # two zero-area boxes have no union: IoU 0, not NaN
    assert detect.box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1]])[0, 0] == 0.0


def test_box_iou_answers_in_kind_and_handles_empty():
    a = np.array([[0.0, 0, 2, 2]])
    assert isinstance(detect.box_iou(a, a), np.ndarray)
    t = torch.tensor([[0.0, 0, 2, 2]])
    out = detect.box_iou(t, t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert detect.box_iou(np.zeros((0, 4)), a).shape == (0, 1)
    assert detect.box_iou(a, np.zeros((0, 4))).shape == (1, 0)
    assert detect.box_iou(torch.zeros(0, 4), torch.zeros(0, 4)).shape == (0, 0)


@settings(max_examples=300, deadline=None)
@given(a=st.lists(int_box, min_size=1, max_size=4), b=st.lists(int_box, min_size=1, max_size=4))
def test_box_iou_equals_pixel_counting(a, b):
    iou = detect.box_iou(np.array(a, float), np.array(b, float))
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            grid_p = np.zeros((24, 24), bool)
            grid_q = np.zeros((24, 24), bool)
            grid_p[p[1] : p[3], p[0] : p[2]] = True
            grid_q[q[1] : q[3], q[0] : q[2]] = True
            union = (grid_p | grid_q).sum()
            expected = (grid_p & grid_q).sum() / union if union else 0.0
            assert iou[i, j] == pytest.approx(expected)


def test_box_iou_gradient_flows():
    a = torch.tensor([[0.0, 0, 2, 2]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[1.0, 1, 3, 3]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: detect.box_iou(x, b), (a,))


@pytest.mark.parametrize("name", ["boxes1", "boxes2"])
def test_box_iou_rejects_bad_boxes(name):
    good, bad = [[0, 0, 1, 1]], [[2, 0, 1, 1]]
    args = (bad, good) if name == "boxes1" else (good, bad)
    with pytest.raises(ValueError, match=f"{name} has x2 < x1"):
        detect.box_iou(*args)
    with pytest.raises(ValueError, match=rf"{name} must have shape \(N, 4\)"):
        detect.box_iou(*(([[0, 0, 1]], good) if name == "boxes1" else (good, [[0, 0, 1]])))
    nan = [[0, 0, float("nan"), 1]]
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        detect.box_iou(*((nan, good) if name == "boxes1" else (good, nan)))
    with pytest.raises(ValueError, match=f"{name} has x2 < x1 or y2 < y1"):
        detect.box_iou(*(([[0, 3, 1, 1]], good) if name == "boxes1" else (good, [[0, 3, 1, 1]])))
    with pytest.raises(TypeError, match=name):
        detect.box_iou(*((["a"], good) if name == "boxes1" else (good, ["a"])))


def test_conversions_hand_values():
    xyxy = np.array([[1.0, 2, 5, 8]])
    np.testing.assert_allclose(detect.xyxy_to_xywh(xyxy), [[1, 2, 4, 6]])
    np.testing.assert_allclose(detect.xyxy_to_cxcywh(xyxy), [[3, 5, 4, 6]])
    np.testing.assert_allclose(detect.xywh_to_xyxy([[1, 2, 4, 6]]), xyxy)
    np.testing.assert_allclose(detect.cxcywh_to_xyxy([[3, 5, 4, 6]]), xyxy)
    np.testing.assert_allclose(detect.box_convert([[1, 2, 4, 6]], "xywh", "cxcywh"), [[3, 5, 4, 6]])
    np.testing.assert_allclose(detect.box_area(xyxy), [24])
    out = detect.box_convert(xyxy, "xyxy", "xyxy")
    assert out is not xyxy  # a copy, never the caller's array
    assert detect.box_convert(np.zeros((0, 4)), "xyxy", "cxcywh").shape == (0, 4)
    assert detect.box_area(torch.zeros(0, 4)).shape == (0,)


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(0, 6),
    fmts=st.tuples(st.sampled_from(detect.FORMATS), st.sampled_from(detect.FORMATS)),
)
def test_conversions_round_trip_and_keep_area(seed, n, fmts):
    boxes = rand_boxes(np.random.default_rng(seed), n)
    converted = detect.box_convert(boxes, "xyxy", fmts[0])
    again = detect.box_convert(detect.box_convert(converted, fmts[0], fmts[1]), fmts[1], "xyxy")
    np.testing.assert_allclose(again, boxes, atol=1e-9)
    t = detect.box_convert(torch.from_numpy(boxes).reshape(n, 1, 4), "xyxy", fmts[0])
    assert isinstance(t, torch.Tensor) and t.shape == (n, 1, 4)
    wh = detect.box_convert(boxes, "xyxy", "xywh")[:, 2:]
    np.testing.assert_allclose(detect.box_area(boxes), wh[:, 0] * wh[:, 1])


def test_conversions_reject_bad_input():
    with pytest.raises(ValueError, match="in_fmt must be one of"):
        detect.box_convert([[0, 0, 1, 1]], "xyxx", "xyxy")
    with pytest.raises(ValueError, match="out_fmt must be one of"):
        detect.box_convert([[0, 0, 1, 1]], "xyxy", "yolo")
    with pytest.raises(ValueError, match="boxes has a negative width or height"):
        detect.xywh_to_xyxy([[0, 0, -1, 1]])
    with pytest.raises(ValueError, match="boxes has x2 < x1"):
        detect.box_area([[3, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\)"):
        detect.box_area([1, 2, 3])


def test_clip_boxes():
    boxes = np.array([[-5.0, 2, 10, 70], [70, 70, 80, 90], [3, 4, 5, 6]])
    np.testing.assert_allclose(
        detect.clip_boxes(boxes, (64, 32)), [[0, 2, 10, 64], [32, 64, 32, 64], [3, 4, 5, 6]]
    )
    assert detect.clip_boxes(torch.zeros(0, 4), 8).shape == (0, 4)
    with pytest.raises(ValueError, match="size"):
        detect.clip_boxes(boxes, (0, 4))


# --------------------------------------------------------------------------- NMS


def test_nms_hand_case():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    # box 3 (0.95) suppresses box 0 (IoU 0.9) and box 1 (IoU 81/(90+100-81) = 0.74); 2 is far
    np.testing.assert_array_equal(detect.nms(boxes, scores, 0.5), [3, 2])
    # at 0.8 box 1 survives box 3 (0.74 <= 0.8) but box 0 (0.9) does not
    np.testing.assert_array_equal(detect.nms(boxes, scores, 0.8), [3, 1, 2])
    out = detect.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int64
    assert detect.nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)


@settings(max_examples=2000, deadline=None)
@given(
    # up to 40 boxes: torch's CPU argsort is stable by accident up to 16 elements (insertion
    # sort), so only longer inputs can tell a stable sort from an unstable one
    boxes=st.lists(int_box, min_size=0, max_size=40),
    score_levels=st.lists(st.integers(0, 4), min_size=40, max_size=40),
    thr=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 1.0]),
)
def test_nms_equals_brute_force_with_ties_and_duplicates(boxes, score_levels, thr):
    # integer boxes on a small grid and 5 score levels: many duplicates and tied scores
    scores = [s / 4 for s in score_levels[: len(boxes)]]
    got = detect.nms(np.array(boxes, float).reshape(-1, 4), np.array(scores, float), thr)
    assert got.tolist() == nms_brute_force(boxes, scores, thr)


def test_nms_breaks_score_ties_by_index_beyond_16_boxes():
    # 20 disjoint boxes with one score: nothing is suppressed and the documented order is the
    # index order (torch.argsort without stable=True reorders ties from 17 elements up)
    boxes = np.array([[3 * i, 0, 3 * i + 2, 2] for i in range(20)], float)
    np.testing.assert_array_equal(detect.nms(boxes, np.full(20, 0.5), 0.5), np.arange(20))
    labels = np.arange(20) % 2
    got = detect.batched_nms(boxes, np.full(20, 0.5), labels, 0.5)
    np.testing.assert_array_equal(got, np.arange(20))


def test_nms_equals_brute_force_on_random_float_boxes():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(0, 30))
        boxes, scores = rand_boxes(rng, n, size=30), rng.random(n)
        thr = float(rng.uniform(0, 1))
        got = detect.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr)
        assert got.tolist() == nms_brute_force(boxes.tolist(), scores.tolist(), thr)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 40), thr=st.floats(0, 1))
def test_nms_properties(seed, n, thr):
    rng = np.random.default_rng(seed)
    boxes, scores = rand_boxes(rng, n, size=40), rng.random(n)
    keep = detect.nms(boxes, scores, thr)
    assert np.all(np.diff(scores[keep]) <= 0)  # best first
    iou = detect.box_iou(boxes, boxes)
    kept = iou[np.ix_(keep, keep)]
    assert np.all(kept[~np.eye(len(keep), dtype=bool)] <= thr)  # survivors do not overlap
    for i in set(range(n)) - set(keep.tolist()):  # every dropped box has a better suppressor
        assert any(iou[i, k] > thr and scores[k] >= scores[i] for k in keep)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 30), thr=st.floats(0, 1))
def test_nms_steps_are_the_decisions_of_nms(seed, n, thr):
    rng = np.random.default_rng(seed)
    boxes, scores = rand_boxes(rng, n, size=30), rng.integers(0, 5, n) / 4  # ties included
    steps = detect.nms_steps(boxes, scores, thr)
    assert [step.kept for step in steps] == nms_brute_force(boxes.tolist(), scores.tolist(), thr)
    decided = [step.kept for step in steps] + [i for step in steps for i in step.suppressed]
    assert sorted(decided) == list(range(n))  # every box is decided exactly once
    for step in steps:
        for i, v in zip(step.suppressed, step.ious, strict=True):
            assert v > thr and v == pytest.approx(iou_scalar(boxes[step.kept], boxes[i]))
            assert (scores[step.kept], -step.kept) >= (scores[i], -i)  # a better box suppresses


def test_nms_steps_hand_case_and_errors():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40], [0, 0, 10, 9]], float)
    steps = detect.nms_steps(boxes, np.array([0.9, 0.8, 0.7, 0.95]), 0.5)
    assert [(s.kept, s.suppressed) for s in steps] == [(3, (0, 1)), (2, ())]
    assert steps[0].ious == pytest.approx((0.9, 72 / 118))  # 90/100 and 72/(90 + 100 - 72)
    assert detect.nms_steps(np.zeros((0, 4)), np.zeros(0), 0.5) == []
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\]"):
        detect.nms_steps(boxes, np.zeros(4), 1.5)
    with pytest.raises(ValueError, match=r"scores must have shape \(4,\)"):
        detect.nms_steps(boxes, np.zeros(3), 0.5)


def test_batched_nms_is_nms_per_class():
    rng = np.random.default_rng(1)
    for _ in range(300):
        n = int(rng.integers(0, 25))
        boxes, scores = rand_boxes(rng, n, size=20), rng.integers(0, 5, n) / 4.0
        labels = rng.integers(0, 3, n)
        got = detect.batched_nms(boxes, scores, labels, 0.4)
        expected = []
        for c in range(3):
            idx = np.flatnonzero(labels == c)
            expected += [int(idx[k]) for k in nms_brute_force(boxes[idx], scores[idx], 0.4)]
        expected.sort(key=lambda i: (-scores[i], i))
        assert got.tolist() == expected


def test_nms_rejects_bad_input():
    boxes = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], float)
    with pytest.raises(ValueError, match=r"scores must have shape \(2,\)"):
        detect.nms(boxes, [0.5], 0.5)
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\]"):
        detect.nms(boxes, [0.5, 0.4], 1.5)
    with pytest.raises(TypeError, match="iou_threshold must be a real number"):
        detect.nms(boxes, [0.5, 0.4], "0.5")
    with pytest.raises(ValueError, match="scores must be finite"):
        detect.nms(boxes, [0.5, float("nan")], 0.5)
    with pytest.raises(ValueError, match="boxes has x2 < x1"):
        detect.nms([[1, 0, 0, 1]], [0.5], 0.5)
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        detect.batched_nms(boxes, [0.5, 0.4], [0], 0.5)


# --------------------------------------------------------------------------- anchors and coding


def test_make_anchors_layout():
    anchors = detect.make_anchors((2, 3), 8, sizes=(8, 16), ratios=(1, 4))
    assert anchors.shape == (2 * 3 * 4, 4) and anchors.dtype == torch.float32
    a = anchors.reshape(2, 3, 4, 4).double()  # (row, col, anchor, xyxy)
    centres = (a[..., :2] + a[..., 2:]) / 2
    np.testing.assert_allclose(centres[1, 2, 0], [2.5 * 8, 1.5 * 8])  # cell (row 1, col 2)
    np.testing.assert_allclose(centres[..., 0], centres[..., :1, 0].expand(2, 3, 4))
    w, h = a[..., 2] - a[..., 0], a[..., 3] - a[..., 1]
    np.testing.assert_allclose(w[0, 0], [8, 4, 16, 8], atol=1e-5)  # size-major, ratio-minor
    np.testing.assert_allclose(h[0, 0], [8, 16, 16, 32], atol=1e-5)
    np.testing.assert_allclose(w * h, np.broadcast_to([64, 64, 256, 256], (2, 3, 4)), rtol=1e-6)
    rect = detect.make_anchors((1, 2), (4, 8), sizes=2, ratios=1)
    np.testing.assert_allclose(rect, [[3, 1, 5, 3], [11, 1, 13, 3]])


def test_make_anchors_rejects_bad_input():
    for args, message in (
        ((0, 8, (8,), (1,)), "feature_size must be >= 1, got 0"),
        ((4, 0, (8,), (1,)), "stride must be >= 1, got 0"),
        ((4, (8, 0), (8,), (1,)), "stride[1] must be >= 1, got 0"),
    ):
        with pytest.raises(ValueError) as err:
            detect.make_anchors(*args)
        assert str(err.value) == message
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a finite number > 0"):
        detect.make_anchors(4, 8, (8, -1), (1,))
    with pytest.raises(ValueError, match="ratios must be a non-empty sequence"):
        detect.make_anchors(4, 8, (8,), ())


def test_ssd300_has_8732_default_boxes():
    boxes = detect.ssd_default_boxes()
    assert boxes.shape == (8732, 4)
    # the paper's recipe, written out cell by cell (row-major), independent of the library:
    # 38*38*4 + 19*19*6 + 10*10*6 + 5*5*6 + 3*3*4 + 1*1*4 = 8732 boxes
    sizes, ratios = (38, 19, 10, 5, 3, 1), ((2,), (2, 3), (2, 3), (2, 3), (2,), (2,))
    scales = [0.2 + 0.7 * k / 5 for k in range(6)] + [1.0]
    expected = []
    for k, f in enumerate(sizes):
        s, s_next = scales[k], scales[k + 1]
        shapes = [(s, s), (math.sqrt(s * s_next), math.sqrt(s * s_next))]
        for a in ratios[k]:
            shapes += [(s * math.sqrt(a), s / math.sqrt(a)), (s / math.sqrt(a), s * math.sqrt(a))]
        for i in range(f):
            for j in range(f):
                expected += [((j + 0.5) / f, (i + 0.5) / f, w, h) for w, h in shapes]
    np.testing.assert_allclose(boxes, np.array(expected), rtol=1e-6)
    # first map: 4 shapes per cell; the square of side s_min = 0.2 at the first cell's centre
    np.testing.assert_allclose(boxes[0], [0.5 / 38, 0.5 / 38, 0.2, 0.2], rtol=1e-6)
    with pytest.raises(ValueError, match="aspect_ratios must give one tuple per feature map"):
        detect.ssd_default_boxes((4, 2), ((2,),))


def test_match_anchors_rules():
    anchors = np.array([[0, 0, 10, 10], [0, 0, 10, 12], [0, 0, 20, 10], [30, 30, 40, 40]], float)
    gt = np.array([[0, 0, 10, 10], [30, 30, 39, 39]], float)
    # IoUs with gt 0: 1, 0.833, 0.5, 0 ; anchor 3 with gt 1: 81/100 = 0.81
    np.testing.assert_array_equal(detect.match_anchors(anchors, gt), [0, 0, 0, 1])
    np.testing.assert_array_equal(detect.match_anchors(anchors, gt, 0.9, 0.6), [0, -2, -1, 1])
    np.testing.assert_array_equal(
        detect.match_anchors(anchors, gt, 0.9, 0.6, allow_low_quality=False), [0, -2, -1, -2]
    )
    np.testing.assert_array_equal(detect.match_anchors(anchors, np.zeros((0, 4))), [-1] * 4)
    with pytest.raises(ValueError, match="neg_iou must be <= pos_iou"):
        detect.match_anchors(anchors, gt, 0.3, 0.5)


def test_match_anchors_edges():
    box = np.array([[0, 0, 10, 10]], float)
    strict = {"allow_low_quality": False}
    # no anchors, or no boxes: numpy in, numpy out, nothing matched
    for a, g, n in ((np.zeros((0, 4)), box, 0), (box, np.zeros((0, 4)), 1)):
        got = detect.match_anchors(a, g)
        assert isinstance(got, np.ndarray) and got.dtype == np.int64
        np.testing.assert_array_equal(got, [-1] * n)
    # a single anchor is matched like any other (numpy in, numpy out)
    got = detect.match_anchors(box, box, **strict)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, [0])
    # IoU exactly neg_iou (40 / 100 = 0.4): ignored, not background
    np.testing.assert_array_equal(
        detect.match_anchors([[0, 0, 4, 10]], box, 0.5, 0.4, **strict), [-2]
    )
    # a box that overlaps no anchor claims none of them, even with low-quality matches on
    np.testing.assert_array_equal(
        detect.match_anchors(np.array([[0, 0, 4, 4], [5, 5, 9, 9]], float), [[20, 20, 30, 30]]),
        [-1, -1],
    )


@pytest.mark.parametrize("anchor_dtype", [np.float32, np.float64])
def test_match_anchors_computes_iou_in_the_promoted_precision(anchor_dtype):
    # float32 and float64 copies of one box: its IoU with itself must be exactly 1. Areas
    # computed in float32 would round 0.1 * 0.7 up and give 0.99999999 (then "ignored").
    box32 = np.array([[0, 0, 0.1, 0.7]], np.float32)
    box64 = box32.astype(np.float64)
    anchors, gt = (box32, box64) if anchor_dtype == np.float32 else (box64, box32)
    got = detect.match_anchors(anchors, gt, pos_iou=1.0, neg_iou=0.5, allow_low_quality=False)
    np.testing.assert_array_equal(got, [0])


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 10), w=st.sampled_from([1.0, 10.0, 5.0]))
def test_encode_decode_round_trip(seed, n, w):
    rng = np.random.default_rng(seed)
    boxes = rand_boxes(rng, n, min_wh=1, max_wh=30)
    anchors = rand_boxes(rng, n, min_wh=1, max_wh=30)
    weights = (w, w, w / 2, w / 2)
    deltas = detect.encode_boxes(boxes, anchors, weights)
    np.testing.assert_allclose(detect.decode_boxes(deltas, anchors, weights), boxes, atol=1e-9)
    t = detect.decode_boxes(torch.zeros(n, 4), torch.from_numpy(anchors).float())
    np.testing.assert_allclose(t, anchors, rtol=1e-6, atol=1e-4)  # zero deltas: the anchors


def test_encode_hand_values_and_clamp():
    d = detect.encode_boxes([[2.0, 0, 6, 8]], [[0.0, 0, 4, 4]], (10, 10, 5, 5))
    # centres (4, 4) vs (2, 2), sizes (4, 8) vs (4, 4)
    np.testing.assert_allclose(d, [[10 * 2 / 4, 10 * 2 / 4, 0, 5 * math.log(2)]])
    huge = detect.decode_boxes([[0.0, 0, 100, 0]], [[0.0, 0, 2, 2]])
    np.testing.assert_allclose(huge[0, 2] - huge[0, 0], 2 * 1000 / 16)
    with pytest.raises(ValueError, match="boxes must have width and height > 0"):
        detect.encode_boxes([[0, 0, 0, 1]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="weights must be 4 numbers"):
        detect.encode_boxes([[0, 0, 1, 1]], [[0, 0, 1, 1]], (1, 1))
    with pytest.raises(ValueError, match=r"deltas must have shape \(\.\.\., 4\)"):
        detect.decode_boxes([[0, 0]], [[0, 0, 1, 1]])


# --------------------------------------------------------------------------- mAP


def coco_eval(dets, gts, iou_thresholds):
    """pycocotools' COCOeval of the bbox results, evaluated (per image) at the given thresholds."""
    cats = sorted(
        {int(c) for g in gts for c in g["labels"]} | {int(c) for d in dets for c in d["labels"]}
    )
    anns = []
    for i, g in enumerate(gts):
        for b, c in zip(g["boxes"], g["labels"], strict=True):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": int(c) + 1,
                    "bbox": [float(b[0]), float(b[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
    results = [
        {
            "image_id": i + 1,
            "category_id": int(c) + 1,
            "score": float(s),
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
        }
        for i, d in enumerate(dets)
        for b, s, c in zip(d["boxes"], d["scores"], d["labels"], strict=True)
    ]
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i + 1} for i in range(len(gts))],
        "annotations": anns,
        "categories": [{"id": c + 1} for c in cats],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
        evaluator.params.iouThrs = np.asarray(iou_thresholds, dtype=float)
        evaluator.evaluate()
    return evaluator


def coco_map(dets, gts, iou_thresholds):
    """pycocotools' bbox AP (area 'all', maxDets 100) at the given IoU thresholds."""
    evaluator = coco_eval(dets, gts, iou_thresholds)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, :, 0, -1]  # area 'all', maxDets 100
    return float(precision[precision > -1].mean())


def coco_matches(det, gt, iou_threshold):
    """pycocotools' matching of one image with one class (label 0): the ground-truth index each
    detection (input order) matched, -1 for none, like ``detect.match_detections``."""
    evaluator = coco_eval([det], [gt], [iou_threshold])
    (img,) = [e for e in evaluator.evalImgs if e is not None and e["aRng"] == [0, 1e10]]
    matched = np.full(len(det["scores"]), -1)
    # result k (input order) has id k + 1; ground truth j has id j + 1; 0 means unmatched
    for dt_id, gt_id in zip(img["dtIds"], img["dtMatches"][0], strict=True):
        matched[dt_id - 1] = int(gt_id) - 1
    return matched


def generated_detections(rng, n_images, n_classes, noise, max_dets=12, integer=False):
    """Ground truths plus noisy copies, misses, wrong labels and random false positives."""
    dets, gts = [], []
    for _ in range(n_images):
        g = int(rng.integers(0, 6))
        gt_boxes = rand_boxes(rng, g, size=60, min_wh=4, max_wh=25)
        if integer:
            gt_boxes = np.round(gt_boxes)
        gt_labels = rng.integers(0, n_classes, g)
        d = int(rng.integers(0, max_dets))
        src = rng.integers(0, max(g, 1), d)
        if g:
            boxes = gt_boxes[src] + rng.normal(0, noise, (d, 4))
            labels = np.where(rng.random(d) < 0.15, rng.integers(0, n_classes, d), gt_labels[src])
        else:
            boxes, labels = (
                rand_boxes(rng, d, size=60, min_wh=4, max_wh=25),
                rng.integers(0, n_classes, d),
            )
        if integer:
            boxes = np.round(boxes)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        scores = rng.integers(0, 20, d) / 20 if integer else rng.random(d)  # integer: tied scores
        dets.append({"boxes": boxes, "scores": scores, "labels": labels})
        gts.append({"boxes": gt_boxes, "labels": gt_labels})
    return dets, gts


@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize("seed", range(12))
def test_map_equals_pycocotools(seed, integer):
    rng = np.random.default_rng(seed)
    noise = [0.5, 2.0, 4.0][seed % 3]
    max_dets = 150 if seed % 4 == 3 else 12  # some images exceed COCO's maxDets = 100
    dets, gts = generated_detections(rng, 15, 1 + seed % 4, noise, max_dets, integer)
    for thresholds in ([0.5], detect.COCO_IOU_THRESHOLDS):
        ours = detect.mean_average_precision(
            dets, gts, thresholds, method="coco", max_detections=100
        )
        assert ours["map"] == pytest.approx(coco_map(dets, gts, thresholds), abs=1e-6)


def test_map_iou_tie_goes_to_the_later_ground_truth_like_pycocotools():
    # det 0 overlaps both ground truths by exactly 90/110; det 1 reaches only GT 0 (80/120;
    # 60/140 with GT 1). pycocotools gives the tie to the later GT, leaving GT 0 for det 1: AP 1.
    gts = [{"boxes": np.array([[2, 0, 12, 10], [4, 0, 14, 10]], float), "labels": [0, 0]}]
    dets = [
        {
            "boxes": np.array([[3, 0, 13, 10], [0, 0, 10, 10]], float),
            "scores": [0.9, 0.8],
            "labels": [0, 0],
        }
    ]
    np.testing.assert_array_equal(detect.match_detections(dets[0], gts[0]), [1, 0])
    assert coco_map(dets, gts, [0.5]) == pytest.approx(1.0)
    ours = detect.mean_average_precision(dets, gts, [0.5], method="coco")
    assert ours["map"] == pytest.approx(1.0)


def symmetric_pairs(rng, n_images):
    """Images whose ground truths come in mirror pairs around a detection: exact IoU ties.

    Each pair is two integer boxes shifted by 2s along x (or y); the tied detection sits halfway,
    at the same IoU with both. A lower-scored second detection sits on one of the two (chosen at
    random), so the AP depends on which ground truth the tie took.
    """
    dets, gts = [], []
    for _ in range(n_images):
        gt_boxes, det_boxes, scores = [], [], []
        for p in range(int(rng.integers(1, 4))):
            x, y = 40 * p + int(rng.integers(0, 5)), int(rng.integers(0, 20))
            w, h, shift = (
                int(rng.integers(8, 16)),
                int(rng.integers(8, 16)),
                int(rng.integers(1, 3)),
            )
            axis = int(rng.integers(0, 2))
            offset = np.array([shift, 0] * 2 if axis == 0 else [0, shift] * 2)
            base = np.array([x, y, x + w, y + h])
            gt_boxes += [base, base + 2 * offset]
            side = int(rng.integers(0, 2))
            second = base + 2 * side * offset - (1 - 2 * side) * offset // shift
            det_boxes += [base + offset, second]
            top = float(rng.integers(10, 20)) / 20
            scores += [top, top - 0.25]
        dets.append(
            {"boxes": np.array(det_boxes, float), "scores": scores, "labels": [0] * len(scores)}
        )
        gts.append({"boxes": np.array(gt_boxes, float), "labels": [0] * len(gt_boxes)})
    return dets, gts


@pytest.mark.parametrize("seed", range(8))
def test_map_equals_pycocotools_on_exact_iou_ties(seed):
    dets, gts = symmetric_pairs(np.random.default_rng(seed), 6)
    for thresholds in ([0.5], detect.COCO_IOU_THRESHOLDS):
        ours = detect.mean_average_precision(
            dets, gts, thresholds, method="coco", max_detections=100
        )
        assert ours["map"] == pytest.approx(coco_map(dets, gts, thresholds), abs=1e-6)


def test_map_perfect_and_all_false():
    rng = np.random.default_rng(3)
    _, gts = generated_detections(rng, 10, 3, 0.0)
    perfect = [
        {"boxes": g["boxes"], "scores": np.ones(len(g["labels"])), "labels": g["labels"]}
        for g in gts
    ]
    for method in ("all", "coco", "voc11"):
        result = detect.mean_average_precision(perfect, gts, detect.COCO_IOU_THRESHOLDS, method)
        assert result["map"] == pytest.approx(1.0)
        assert all(v == pytest.approx(1.0) for v in result["per_class"].values())
    wrong_class = [{**p, "labels": p["labels"] + 10} for p in perfect]
    shifted = [{**p, "boxes": p["boxes"] + 100} for p in perfect]
    for dets in (wrong_class, shifted):
        assert detect.mean_average_precision(dets, gts)["map"] == 0.0


def test_map_hand_case():
    gts = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 0]}]
    dets = [
        {
            "boxes": [[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 31]],
            "scores": [0.9, 0.8, 0.7],
            "labels": [0, 0, 0],
        }
    ]
    precision, recall, scores = detect.precision_recall_curve(dets, gts, 0)
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3])
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.7])
    # all points: 0.5 * 1 + 0.5 * 2/3; VOC 11-point: 6 points at 1, 5 at 2/3
    assert detect.mean_average_precision(dets, gts)["map"] == pytest.approx(0.5 + 1 / 3)
    assert detect.mean_average_precision(dets, gts, method="voc11")["map"] == pytest.approx(
        (6 + 5 * 2 / 3) / 11
    )
    # COCO: 51 recall points (0..0.50) at 1, 50 at 2/3
    assert detect.mean_average_precision(dets, gts, method="coco")["map"] == pytest.approx(
        (51 + 50 * 2 / 3) / 101
    )
    # the third box has IoU 100/110 = 0.909: a miss at IoU 0.95
    assert detect.mean_average_precision(dets, gts, 0.95)["map"] == pytest.approx(0.5)


def test_map_class_handling_and_duplicates():
    gts = [
        {"boxes": [[0, 0, 10, 10]], "labels": [1]},
        {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int)},
    ]
    # a duplicate of a matched box is a false positive; class 7 has no ground truth: no AP
    dets = [
        {"boxes": [[0, 0, 10, 10], [0, 0, 10, 10]], "scores": [0.6, 0.9], "labels": [1, 1]},
        {"boxes": [[0, 0, 5, 5]], "scores": [0.99], "labels": [7]},
    ]
    result = detect.mean_average_precision(dets, gts)
    assert result["classes"] == [1] and result["map"] == 1.0
    dets[0]["scores"] = [0.6, 0.5]
    dets[1]["labels"] = [1]  # a better-scored false positive in another image
    assert detect.mean_average_precision(dets, gts)["map"] == pytest.approx(0.5)
    empty = detect.mean_average_precision([], [])
    assert math.isnan(empty["map"]) and empty["per_class"] == {}


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 30), npos=st.integers(1, 30))
def test_all_point_ap_is_area_under_the_precision_envelope(seed, n, npos):
    rng = np.random.default_rng(seed)
    tp = rng.random(n) < 0.6
    tp[np.cumsum(tp) > npos] = False  # at most npos true positives
    cum = np.cumsum(tp)
    precision, recall = cum / np.arange(1, n + 1), cum / npos
    # brute force: for every step up in recall, the best precision at that recall or beyond
    expected, previous = 0.0, 0.0
    for k in range(n):
        if recall[k] > previous:
            expected += (recall[k] - previous) * max(precision[k:])
            previous = recall[k]
    assert detect.average_precision(precision, recall, "all") == pytest.approx(expected)
    # the 101-point sum approximates the same area
    assert abs(detect.average_precision(precision, recall, "coco") - expected) <= 0.0101


def test_match_detections_and_map_reject_bad_input():
    gt = {"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "labels": [0, 1]}
    det = {
        "boxes": [[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]],
        "scores": [0.5, 0.9, 0.7],
        "labels": [0, 0, 0],
    }
    np.testing.assert_array_equal(detect.match_detections(det, gt), [-1, -1, 0])
    with pytest.raises(ValueError, match=r"detections\[0\] must be a dict with keys"):
        detect.mean_average_precision([{"boxes": []}], [gt])
    with pytest.raises(ValueError, match="same images"):
        detect.mean_average_precision([det], [gt, gt])
    with pytest.raises(
        ValueError, match=r"detections\[0\]\['scores'\] must have one entry per box"
    ):
        detect.mean_average_precision([{**det, "scores": [1.0]}], [gt])
    with pytest.raises(ValueError, match=r"ground_truths\[0\]\['boxes'\] has x2 < x1"):
        detect.mean_average_precision([det], [{**gt, "boxes": [[5, 0, 0, 1], [0, 0, 1, 1]]}])
    with pytest.raises(ValueError, match="method must be one of"):
        detect.mean_average_precision([det], [gt], method="voc")
    with pytest.raises(ValueError, match=r"iou_threshold must be in \[0, 1\]"):
        detect.mean_average_precision([det], [gt], [0.5, 1.2])
    with pytest.raises(ValueError, match="recall must be non-decreasing"):
        detect.average_precision([1, 1], [0.5, 0.2])


# --------------------------------------------------------------------------- detector


def test_select_detections_filters_and_suppresses():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [30, 30, 40, 40]], float)
    scores = np.array([0.9, 0.8, 0.3, 0.04])
    labels = np.array([0, 0, 1, 0])
    out = detect.select_detections(boxes, scores, labels, 0.05, 0.5)
    np.testing.assert_array_equal(out["index"], [0, 2])  # 1 suppressed, 3 below the threshold
    out = detect.select_detections(boxes, scores, labels, 0.0, 1.0, max_detections=3)
    np.testing.assert_array_equal(out["index"], [0, 1, 2])
    with pytest.raises(ValueError, match="max_detections must be >= 1"):
        detect.select_detections(boxes, scores, labels, max_detections=0)


def test_draw_boxes_puts_rectangles_on_pixel_edges():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.imshow(np.zeros((8, 8)))
    viz.draw_boxes(
        ax, [[1, 2, 4, 7], [0, 0, 1, 1]], labels=[3, 5], scores=[0.9, 0.25], color=["r", "b"]
    )
    rects = ax.patches
    assert len(rects) == 2
    assert (
        rects[0].get_xy() == (0.5, 1.5) and rects[0].get_width() == 3 and rects[0].get_height() == 5
    )
    assert [t.get_text() for t in ax.texts] == ["3 0.90", "5 0.25"]
    plt.close(fig)


# --------------------------------------------------------------------------- exact contracts


def _two_hits():
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    return (
        {"boxes": boxes, "scores": [0.9, 0.8], "labels": [0, 0]},
        {"boxes": boxes, "labels": [0, 0]},
    )


def test_precision_recall_curve_keeps_the_best_max_detections_per_image():
    det, gt = _two_hits()
    precision, recall, scores = detect.precision_recall_curve([det], [gt], 0)
    np.testing.assert_allclose(recall, [0.5, 1.0])
    precision, recall, scores = detect.precision_recall_curve([det], [gt], 0, max_detections=1)
    np.testing.assert_allclose(precision, [1.0])
    np.testing.assert_allclose(recall, [0.5])  # the second hit is cut, its GT still counts
    np.testing.assert_allclose(scores, [0.9])
    # the same cut in mAP: one detection per image finds half of the ground truth
    assert detect.mean_average_precision([det], [gt])["map"] == pytest.approx(1.0)
    assert detect.mean_average_precision([det], [gt], max_detections=1)["map"] == pytest.approx(0.5)
    # an integer threshold is reported as the float it is compared as
    result = detect.mean_average_precision([det], [gt], [1, 0])
    assert result["iou_thresholds"].dtype == np.float64
    assert result["iou_thresholds"].tolist() == [1.0, 0.0]
    np.testing.assert_allclose(result["ap"], [[1.0], [1.0]])  # (thresholds, classes)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda det, gt: detect.precision_recall_curve([det], [gt], "a"),
            TypeError,
            "class_id must be an integer, got 'a' (str)",
        ),
        (
            lambda det, gt: detect.precision_recall_curve([det], [gt], 0, iou_threshold=1.5),
            ValueError,
            "iou_threshold must be in [0, 1], got 1.5",
        ),
        (
            lambda det, gt: detect.precision_recall_curve([det], [gt], 0, max_detections=0),
            ValueError,
            "max_detections must be >= 1, got 0",
        ),
        (
            lambda det, gt: detect.match_detections(det | {"boxes": [[0, 0, 1]]}, gt),
            ValueError,
            "detection[0]['boxes'] must have shape (N, 4), got (1, 3)",
        ),
        (
            lambda det, gt: detect.match_detections(det, gt | {"boxes": [[0, 0, 1]]}),
            ValueError,
            "ground_truth[0]['boxes'] must have shape (N, 4), got (1, 3)",
        ),
        (
            lambda det, gt: detect.match_detections(det, {"boxes": [[0, 0, 1, 1]]}),
            ValueError,
            "ground_truth[0] must be a dict with keys ('boxes', 'labels'), got "
            "{'boxes': [[0, 0, 1, 1]]}",
        ),
        (
            lambda det, gt: detect.mean_average_precision([det], [gt], max_detections=0),
            ValueError,
            "max_detections must be >= 1, got 0",
        ),
        (
            lambda det, gt: detect.mean_average_precision(5, [gt]),
            TypeError,
            "detections must be a list with one dict per image, got int",
        ),
        (
            lambda det, gt: detect.mean_average_precision("ab", [gt]),
            TypeError,
            "detections must be a list with one dict per image, got str",
        ),
        (
            lambda det, gt: detect.mean_average_precision([det | {"scores": [[0.9, 0.8]]}], [gt]),
            ValueError,
            "detections[0]['scores'] must have 1 dimensions, got shape (1, 2)",
        ),
        (
            lambda det, gt: detect.mean_average_precision([det | {"scores": [np.nan, 0.8]}], [gt]),
            ValueError,
            "detections[0]['scores'] must be finite",
        ),
        (
            lambda det, gt: detect.average_precision([1.0], [0.5], method="x"),
            ValueError,
            "method must be one of 'all', 'coco', 'voc11'; got 'x'",
        ),
        (
            lambda det, gt: detect.average_precision([[1.0]], [0.5]),
            ValueError,
            "precision must have 1 dimensions, got shape (1, 1)",
        ),
        (
            lambda det, gt: detect.average_precision([1.0], [[0.5]]),
            ValueError,
            "recall must have 1 dimensions, got shape (1, 1)",
        ),
        (
            lambda det, gt: detect.average_precision([1.0, 1.0], [0.5]),
            ValueError,
            "precision and recall must have the same shape, got (2,) and (1,)",
        ),
        (
            lambda det, gt: detect.average_precision([1.0, 1.0], [0.5, 0.2]),
            ValueError,
            "recall must be non-decreasing (sorted by decreasing score), without NaN",
        ),
        (
            lambda det, gt: detect.batched_nms(det["boxes"], [0.5], [0, 0], 0.5),
            ValueError,
            "scores must have shape (2,) like the boxes, got (1,)",
        ),
        (
            lambda det, gt: detect.batched_nms(det["boxes"], det["scores"], [0, 0], 1.5),
            ValueError,
            "iou_threshold must be in [0, 1], got 1.5",
        ),
        (
            lambda det, gt: detect.mean_average_precision([det], [gt], []),
            ValueError,
            "iou_threshold must be a float or a 1-D list of floats, got []",
        ),
        (
            lambda det, gt: detect.mean_average_precision([det], [gt], [[0.5, 0.6]]),
            ValueError,
            "iou_threshold must be a float or a 1-D list of floats, got [[0.5, 0.6]]",
        ),
        (
            lambda det, gt: detect.match_detections(det, gt, iou_threshold=1.5),
            ValueError,
            "iou_threshold must be in [0, 1], got 1.5",
        ),
        # the NMS functions name the argument and want (N, 4) boxes, not any (..., 4)
        (
            lambda det, gt: detect.nms_steps(np.zeros((1, 2, 4)), [0.5, 0.5], 0.5),
            ValueError,
            "boxes must have shape (N, 4), got (1, 2, 4)",
        ),
        (
            lambda det, gt: detect.batched_nms(np.zeros((1, 2, 4)), [0.5, 0.5], [0, 0], 0.5),
            ValueError,
            "boxes must have shape (N, 4), got (1, 2, 4)",
        ),
        (
            lambda det, gt: detect.select_detections(np.zeros((1, 2, 4)), [0.5, 0.5], [0, 0]),
            ValueError,
            "boxes must have shape (N, 4), got (1, 2, 4)",
        ),
        (
            lambda det, gt: detect.select_detections(det["boxes"], [0.5], [0, 0]),
            ValueError,
            "scores must have shape (2,) like the boxes, got (1,)",
        ),
        (
            lambda det, gt: detect.select_detections(det["boxes"], det["scores"], [0]),
            ValueError,
            "labels must have shape (2,) like the boxes, got (1,)",
        ),
        (
            lambda det, gt: detect.select_detections(
                det["boxes"], det["scores"], [0, 0], score_threshold=2
            ),
            ValueError,
            "score_threshold must be in [0, 1], got 2.0",
        ),
    ],
)
def test_evaluation_messages_are_exact(call, error, message):
    with pytest.raises(error) as info:
        call(*_two_hits())
    assert str(info.value) == message


def test_select_detections_defaults():
    # 120 disjoint boxes plus one that overlaps the first by IoU 0.81: the defaults drop scores
    # <= 0.05, suppress IoU > 0.5 and keep the best 100
    boxes = np.array([[3 * i, 0, 3 * i + 2, 2] for i in range(120)] + [[0, 0, 2, 1.62]], float)
    scores = np.r_[np.linspace(0.99, 0.1, 120), 0.995]
    out = detect.select_detections(boxes, scores, np.zeros(121, int))
    assert len(out["index"]) == 100
    assert out["index"][0] == 120 and 0 not in out["index"].tolist()  # box 0 suppressed
    few = detect.select_detections(boxes[:3], [0.05, 0.5, 0.06], [0, 0, 0])
    np.testing.assert_array_equal(few["index"], [1, 2])  # score 0.05 is not > 0.05


def test_nms_outputs_follow_the_input_kind_and_select_detections_keys():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], float)
    kept = detect.batched_nms(boxes, np.array([0.9, 0.8]), np.array([0, 1]), 0.5)
    assert isinstance(kept, np.ndarray) and kept.tolist() == [0, 1]
    kept = detect.batched_nms(
        torch.from_numpy(boxes), torch.tensor([0.9, 0.8]), torch.tensor([0, 0]), 0.5
    )
    assert isinstance(kept, torch.Tensor) and kept.tolist() == [0]
    out = detect.select_detections(boxes, [0.9, 0.8], [0, 1])
    assert sorted(out) == ["boxes", "index", "labels", "scores"]
    assert all(isinstance(v, np.ndarray) for v in out.values())  # numpy in, numpy out
    np.testing.assert_array_equal(out["labels"], [0, 1])


def test_match_detections_orders_many_score_ties_like_pycocotools():
    # 40 copies of 10 identical ground truths, scores 0.5, 0.4, 0.5, ...: the 20 tied best are
    # matched in index order (pycocotools sorts with a stable mergesort), each taking the last
    # free ground truth (exact IoU ties). numpy's default argsort reorders these ties (from 17
    # elements up it is not an insertion sort), which changes which detection gets which box.
    box = [0.0, 0, 10, 10]
    gt = {"boxes": np.tile(box, (10, 1)), "labels": np.zeros(10, int)}
    det = {"boxes": np.tile(box, (40, 1)), "scores": np.tile([0.5, 0.4], 20), "labels": [0] * 40}
    expected = np.full(40, -1)
    expected[0:20:2] = np.arange(9, -1, -1)
    np.testing.assert_array_equal(coco_matches(det, gt, 0.5), expected)
    np.testing.assert_array_equal(detect.match_detections(det, gt), expected)


def test_match_detections_score_ties_go_to_the_lower_index():
    # 20 copies of the ground truth, scores 0.5, 0.4, 0.5, ...: of the tied best, the first (by
    # index) takes the ground truth
    gt = {"boxes": np.array([[0, 0, 10, 10]], float), "labels": [0]}
    det = {
        "boxes": np.tile([0.0, 0, 10, 10], (20, 1)),
        "scores": np.tile([0.5, 0.4], 10),
        "labels": np.zeros(20, int),
    }
    np.testing.assert_array_equal(detect.match_detections(det, gt), [0] + [-1] * 19)


def test_precision_recall_curve_of_a_class_without_detections_is_empty():
    det, gt = _two_hits()
    precision, recall, scores = detect.precision_recall_curve([det], [gt], 3)
    assert precision.shape == recall.shape == scores.shape == (0,)


def test_map_without_any_ground_truth_is_nan_without_a_warning():
    det, gt = _two_hits()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not the mean of an empty array
        result = detect.mean_average_precision([det], [{"boxes": np.zeros((0, 4)), "labels": []}])
    assert math.isnan(result["map"]) and result["classes"] == [] and result["ap"].shape == (1, 0)


def test_recall_is_nan_without_a_warning_when_the_class_has_no_ground_truth():
    det, gt = _two_hits()
    gt = gt | {"labels": [1, 1]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision, recall, _ = detect.precision_recall_curve([det], [gt], 0)
    np.testing.assert_array_equal(precision, [0.0, 0.0])
    assert np.isnan(recall).all() and recall.shape == (2,)


# --------------------------------------------------------------------------- anchors and boxes: details


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: detect.ssd_default_boxes((0,), ((2,),)), "feature_sizes[0] must be >= 1, got 0"),
        (
            lambda: detect.ssd_default_boxes((2,), ((0,),)),
            "aspect_ratios[0][0] must be a finite number > 0, got 0.0",
        ),
        (
            lambda: detect.ssd_default_boxes((2,), ((2,),), s_min=0),
            "s_min must be a finite number > 0, got 0.0",
        ),
        (
            lambda: detect.ssd_default_boxes((2,), ((2,),), s_max=-1),
            "s_max must be a finite number > 0, got -1.0",
        ),
        (lambda: detect.clip_boxes(torch.zeros(1, 4), (1, 0)), "size[1] must be >= 1, got 0"),
    ],
)
def test_anchor_and_box_messages_are_exact(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_ssd_default_boxes_two_maps_by_hand():
    """Two 1x1 maps, scales 0.2 and 0.9 (s_max - s_min over m - 1 = 1 step), one ratio each."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch.meshgrid without indexing= warns
        boxes = detect.ssd_default_boxes((1, 1), ((4,), (4,)))
    assert boxes.dtype == torch.float32 and boxes.shape == (8, 4)
    r = math.sqrt(0.2 * 0.9)
    expected = [
        (0.2, 0.2), (r, r), (0.4, 0.1), (0.1, 0.4),  # map 1: s, sqrt(s s'), s*2 x s/2, transposed
        (0.9, 0.9), (math.sqrt(0.9), math.sqrt(0.9)), (1.8, 0.45), (0.45, 1.8),  # map 2: s' = 1
    ]  # fmt: skip
    torch.testing.assert_close(boxes[:, :2], torch.full((8, 2), 0.5))
    torch.testing.assert_close(boxes[:, 2:], torch.tensor(expected, dtype=torch.float32))


def test_box_functions_keep_numpy_and_accept_a_one_pixel_image():
    area = detect.box_area(np.array([[0, 0, 2, 3.0]]))
    assert isinstance(area, np.ndarray) and area.tolist() == [6.0]
    clipped = detect.clip_boxes(np.array([[-1, -1, 5, 5.0]]), (1, 2))
    assert isinstance(clipped, np.ndarray) and clipped.tolist() == [[0, 0, 2, 1]]


@pytest.mark.parametrize("fn", [detect.box_area, lambda b: detect.clip_boxes(b, (4, 4))])
def test_box_functions_name_their_boxes_argument(fn):
    with pytest.raises(TypeError) as err:
        fn(np.array([["a", "b", "c", "d"]]))
    assert str(err.value) == "boxes must be a numeric array, got dtype <U1"


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: detect.match_anchors(torch.zeros(2, 2, 4), torch.zeros(1, 4)),
            ValueError,
            "anchors must have shape (N, 4), got (2, 2, 4)",
        ),
        (
            lambda: detect.match_anchors(torch.zeros(2, 4), torch.zeros(1, 1, 4)),
            ValueError,
            "gt_boxes must have shape (N, 4), got (1, 1, 4)",
        ),
        (
            lambda: detect.match_anchors("x", torch.zeros(1, 4)),
            TypeError,
            "anchors must be a numeric array, got dtype <U1",
        ),
        (
            lambda: detect.match_anchors(torch.zeros(2, 4), "x"),
            TypeError,
            "gt_boxes must be a numeric array, got dtype <U1",
        ),
        (
            lambda: detect.box_convert(torch.tensor([[0.0, 0, -1, 2]]), "xywh", "xyxy"),
            ValueError,
            "boxes has a negative width or height in box 0: [0.0, 0.0, -1.0, 2.0] (boxes must be "
            "xywh with non-negative width and height)",
        ),
        (
            lambda: detect.batched_nms(
                torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([1.0]), np.array(["a"]), 0.5
            ),
            TypeError,
            "labels must be a numeric array, got dtype <U1",
        ),
    ],
)
def test_more_detect_messages_are_exact(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message


@pytest.mark.parametrize("in_fmt", ["xyxy", "xywh", "cxcywh"])
def test_box_convert_on_a_batch_of_images_keeps_kind_and_copies(in_fmt):
    """(B, N, 4) boxes convert along the last axis; numpy stays numpy; the result never
    shares memory with the input (even xyxy -> xyxy)."""
    xyxy = torch.tensor([[[0.0, 0, 2, 4], [1, 1, 3, 2]], [[2, 2, 6, 6], [0, 1, 1, 5]]])
    boxes = detect.box_convert(xyxy, "xyxy", in_fmt)
    assert boxes.shape == (2, 2, 4)
    back = detect.box_convert(boxes, in_fmt, "xyxy")
    torch.testing.assert_close(back, xyxy)
    back[0, 0, 0] = 99.0  # writing into the result leaves the input alone
    assert boxes[0, 0, 0] == (0.0 if in_fmt != "cxcywh" else 1.0)
    as_np = detect.box_convert(boxes.numpy(), in_fmt, "xyxy")
    assert isinstance(as_np, np.ndarray)
    np.testing.assert_allclose(as_np, xyxy.numpy())


def test_match_anchors_thresholds_named_and_equal_thresholds_allowed():
    a, g = torch.tensor([[0.0, 0, 2, 2], [1, 1, 3, 3]]), torch.tensor([[0.0, 0, 2, 2]])
    for kwargs, message in (
        ({"pos_iou": 1.5}, "pos_iou must be in [0, 1], got 1.5"),
        ({"neg_iou": -0.1}, "neg_iou must be in [0, 1], got -0.1"),
        ({"pos_iou": 0.3, "neg_iou": 0.4}, "neg_iou must be <= pos_iou (0.3), got 0.4"),
    ):
        with pytest.raises(ValueError) as err:
            detect.match_anchors(a, g, **kwargs)
        assert str(err.value) == message
    # one threshold for both: no "ignore" band (IoUs 1 and 1/7)
    m = detect.match_anchors(a, g, pos_iou=0.5, neg_iou=0.5, allow_low_quality=False)
    assert m.tolist() == [0, -1] and m.dtype == torch.int64


# --------------------------------------------------------------------------- exact input rules

A44 = np.array([[0, 0, 4, 4.0]])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: detect.encode_boxes("x", A44),
            TypeError,
            "boxes must be a numeric array, got dtype <U1",
        ),
        (
            lambda: detect.encode_boxes(A44, "x"),
            TypeError,
            "anchors must be a numeric array, got dtype <U1",
        ),
        (
            lambda: detect.encode_boxes(np.zeros(3), A44),
            ValueError,
            "boxes must have shape (..., 4), got (3,)",
        ),
        (
            lambda: detect.encode_boxes(A44, np.zeros(3)),
            ValueError,
            "anchors must have shape (..., 4), got (3,)",
        ),
        (
            lambda: detect.encode_boxes(np.array([[0, 0, 0, 4.0]]), A44),
            ValueError,
            "boxes must have width and height > 0 to be encoded",
        ),
        (
            lambda: detect.encode_boxes(A44, np.array([[0, 0, 0, 4.0]])),
            ValueError,
            "anchors must have width and height > 0 to be encoded",
        ),
        (
            lambda: detect.encode_boxes(A44, A44, weights=(1, 1, -1, 1)),
            ValueError,
            "weights[2] must be a finite number > 0, got -1.0",
        ),
        (
            lambda: detect.decode_boxes("x", A44),
            TypeError,
            "deltas must be a numeric array, got dtype <U1",
        ),
        (
            lambda: detect.decode_boxes(np.zeros(3), A44),
            ValueError,
            "deltas must have shape (..., 4), got (3,)",
        ),
        (
            lambda: detect.decode_boxes(np.zeros(4), np.zeros(3)),
            ValueError,
            "anchors must have shape (..., 4), got (3,)",
        ),
        (
            lambda: detect.decode_boxes(np.zeros(4), A44[0], max_log_scale=0),
            ValueError,
            "max_log_scale must be a finite number > 0, got 0.0",
        ),
        # a 0-d tensor is not a box (a 0-d numpy array reaches torch as shape (1,))
        (
            lambda: detect.box_area(torch.tensor(1.0)),
            ValueError,
            "boxes must have shape (..., 4), got ()",
        ),
        (
            lambda: detect.box_area(np.array([[0, 0, 2, 3.0], [0, 0, np.nan, 1]])),
            ValueError,
            "boxes must be finite, got box 1: [0.0, 0.0, nan, 1.0]",
        ),
        (
            lambda: detect.nms(A44, ["a"], 0.5),
            TypeError,
            "scores must be a numeric array, got dtype <U1",
        ),
    ],
)
def test_detect_input_messages_are_exact(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message


def test_box_coding_answers_in_kind_and_accepts_single_boxes():
    box, anchor = np.array([1.0, 2.0, 5.0, 4.0]), np.array([0.0, 0.0, 4.0, 4.0])
    deltas = detect.encode_boxes(box[None], anchor[None])
    assert isinstance(deltas, np.ndarray)  # numpy in, numpy out
    decoded = detect.decode_boxes(deltas, anchor[None])
    assert isinstance(decoded, np.ndarray)
    np.testing.assert_allclose(decoded, box[None])
    # a single (4,) delta and anchor, as one (1, 4) row
    np.testing.assert_allclose(detect.decode_boxes(deltas[0], anchor), box)
    np.testing.assert_allclose(detect.encode_boxes(box, anchor), deltas[0])
    # integer tensors become the default float type
    assert detect.box_area(torch.tensor([[0, 0, 2, 3]])).dtype == torch.get_default_dtype()


def test_box_coding_of_small_boxes_at_negative_coordinates_and_batches():
    # widths below 1 and corners below 0 are fine: only width and height must be > 0
    boxes = np.array([[-5.0, -4.0, -3.0, -3.5], [0.1, 0.2, 0.6, 0.9]])
    anchors = np.array([[-6.0, -5.0, -2.0, -3.0], [0.0, 0.0, 0.5, 0.5]])
    deltas = detect.encode_boxes(boxes, anchors)
    np.testing.assert_allclose(detect.decode_boxes(deltas, anchors), boxes, rtol=1e-12)
    # (B, N, 4): the deltas stay on the last axis
    batched = detect.encode_boxes(
        np.stack([boxes, boxes[::-1]]), np.stack([anchors, anchors[::-1]])
    )
    assert batched.shape == (2, 2, 4)
    np.testing.assert_array_equal(batched[0], deltas)
    np.testing.assert_array_equal(batched[1], deltas[::-1])


def test_box_coding_computes_in_the_promoted_precision():
    # float32 corners whose difference float32 arithmetic would round (1000.3 - 0.1)
    b32 = np.array([[0.1, 0.2, 1000.3, 700.7]], np.float32)
    a32 = np.array([[0.3, 0.1, 900.9, 650.3]], np.float32)
    b64, a64 = b32.astype(np.float64), a32.astype(np.float64)
    exact = detect.encode_boxes(b64, a64)
    np.testing.assert_array_equal(detect.encode_boxes(b32, a64), exact)
    np.testing.assert_array_equal(detect.encode_boxes(b64, a32), exact)
    # decoding follows the deltas' type: float32 deltas on float64 anchors give float32 boxes
    d32 = exact.astype(np.float32)
    out = detect.decode_boxes(d32, a64)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, detect.decode_boxes(d32, a32))


def test_make_anchors_in_float64_then_float32_and_without_warnings():
    # sizes that float32 cannot hold (45.3): computed in float64, rounded once at the end
    sizes, ratios, (fh, fw), (sy, sx) = (32.0, 45.3, 64.0), (0.5, 1.0, 2.0, 3.0), (3, 4), (8, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch.meshgrid without indexing= warns
        anchors = detect.make_anchors((fh, fw), (sy, sx), sizes, ratios)
    s, r = np.array(sizes)[:, None], np.array(ratios)[None, :]
    w, h = (s / np.sqrt(r)).ravel(), (s * np.sqrt(r)).ravel()
    cy, cx = np.meshgrid((np.arange(fh) + 0.5) * sy, (np.arange(fw) + 0.5) * sx, indexing="ij")
    cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)
    expected = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1).reshape(-1, 4)
    assert anchors.dtype == torch.float32
    np.testing.assert_array_equal(anchors.numpy(), expected.astype(np.float32))


def test_box_iou_computes_in_the_promoted_precision():
    # the float32 and float64 copies of one box overlap exactly (float32 areas would not)
    box32 = np.array([[0, 0, 0.1, 0.7]], np.float32)
    box64 = box32.astype(np.float64)
    assert detect.box_iou(box32, box64)[0, 0] == 1.0
    assert detect.box_iou(box64, box32)[0, 0] == 1.0


def test_iou_of_empty_boxes_has_zero_gradient():
    # zero-area boxes: IoU 0 and a finite (zero) gradient, not the NaN of 0 / 0
    boxes = torch.tensor([[1.0, 1.0, 1.0, 3.0], [2.0, 2.0, 2.0, 2.0]], requires_grad=True)
    iou = detect.box_iou(boxes, boxes)
    assert torch.equal(iou, torch.zeros(2, 2))
    iou.sum().backward()
    assert torch.equal(boxes.grad, torch.zeros(2, 4))
