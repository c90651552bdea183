"""Tests for cnncourse.segment: metrics against scikit-learn, the Dice/IoU identity, the U-Net."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from cnncourse import metrics, segment


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    shape=st.tuples(st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
    k=st.integers(2, 6),
)
def test_metrics_equal_scikit_learn(seed, shape, k):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, k, shape)
    pred = np.where(rng.random(shape) < 0.6, target, rng.integers(0, k, shape))
    labels = list(range(k))
    c = segment.confusion_matrix(target, pred, k)
    np.testing.assert_array_equal(
        c, skm.confusion_matrix(target.ravel(), pred.ravel(), labels=labels)
    )
    np.testing.assert_array_equal(c, metrics.confusion_matrix(target.ravel(), pred.ravel(), k))
    assert segment.pixel_accuracy(target, pred) == pytest.approx(
        skm.accuracy_score(target.ravel(), pred.ravel())
    )
    kw = {"labels": labels, "average": None, "zero_division": 0}
    present = np.isin(labels, np.concatenate([pred.ravel(), target.ravel()]))
    iou = segment.iou_per_class(target, pred, k)
    np.testing.assert_array_equal(np.isnan(iou), ~present)  # absent classes: NaN
    sk_iou = skm.jaccard_score(target.ravel(), pred.ravel(), **kw)
    np.testing.assert_allclose(iou[present], sk_iou[present])
    dice = segment.dice_per_class(target, pred, k)
    sk_dice = skm.f1_score(target.ravel(), pred.ravel(), **kw)
    np.testing.assert_allclose(dice[present], sk_dice[present])
    # the identity Dice = 2 IoU / (1 + IoU), class by class (NaN for absent classes)
    np.testing.assert_allclose(segment.dice_from_iou(iou), dice)
    assert segment.mean_iou(target, pred, k) == pytest.approx(np.nanmean(iou))
    # the scores are symmetric: swapping the maps transposes C and changes nothing else
    np.testing.assert_array_equal(segment.confusion_matrix(pred, target, k), c.T)
    np.testing.assert_array_equal(segment.iou_per_class(pred, target, k), iou)


def test_hand_case_from_the_digest():
    # |A| = 50, |B| = 40, overlap 30: IoU = 30 / 60 = 0.5, Dice = 60 / 90 = 2/3
    target = np.zeros(100, int)
    pred = np.zeros(100, int)
    target[:50] = 1
    pred[20:60] = 1
    assert segment.iou_per_class(target, pred, 2)[1] == pytest.approx(0.5)
    assert segment.dice_per_class(target, pred, 2)[1] == pytest.approx(2 / 3)
    assert segment.dice_from_iou(0.5) == pytest.approx(2 / 3)
    assert segment.pixel_accuracy(target, pred) == pytest.approx(0.7)
    # rows true, columns predicted: 20 true-1 pixels predicted 0, 10 true-0 pixels predicted 1
    np.testing.assert_array_equal(segment.confusion_matrix(target, pred, 2), [[40, 10], [20, 30]])
    iou = segment.iou_per_class(np.zeros((2, 2), int), np.zeros((2, 2), int), 3)
    assert iou[0] == 1.0 and np.isnan(iou[1:]).all()  # absent classes are NaN, not 0 or 1
    assert (
        segment.mean_iou(
            torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2, dtype=torch.long), 3
        )
        == 1.0
    )


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError, match=r"pred must hold labels in 0\.\.2"):
        segment.confusion_matrix([0, 1], [0, 3], 3)
    with pytest.raises(ValueError, match=r"target must hold labels in 0\.\.2"):
        segment.iou_per_class([0, -1], [0, 1], 3)
    with pytest.raises(ValueError, match="target and pred must have the same shape"):
        segment.dice_per_class([0, 1], [0, 1, 1], 3)
    with pytest.raises(ValueError, match="pred must hold integer class labels"):
        segment.confusion_matrix([0], [0.5], 2)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        segment.confusion_matrix([0], [0], 0)
    with pytest.raises(ValueError, match=r"iou must be in \[0, 1\]"):
        segment.dice_from_iou([0.5, 1.5])
    with pytest.raises(ValueError, match="at least one pixel"):
        segment.pixel_accuracy([], [])
    np.testing.assert_array_equal(segment.confusion_matrix([], [], 2), np.zeros((2, 2)))


def test_unet_shapes_skips_and_learning():
    torch.manual_seed(0)
    net = segment.TinyUNet(in_channels=1, num_classes=3, width=4, depth=2)
    x = torch.rand(2, 1, 16, 24)
    assert net(x).shape == (2, 3, 16, 24)
    assert segment.TinyUNet(width=2, depth=3)(torch.rand(1, 1, 8, 16)).shape == (1, 11, 8, 16)
    with pytest.raises(ValueError, match="H and W divisible by 4"):
        net(torch.rand(1, 1, 10, 12))
    with pytest.raises(ValueError, match="depth must be >= 1"):
        segment.TinyUNet(depth=0)
    # every decoder sees the encoder: its first conv takes 2x its output channels (the skip)
    for decoder in net.decoders:
        assert decoder[0].in_channels == 2 * decoder[0].out_channels
    # overfit one tiny image with two shapes: the loss must fall a lot
    target = torch.zeros(1, 16, 16, dtype=torch.long)
    target[0, 2:8, 2:8] = 1
    target[0, 9:14, 5:15] = 2
    image = target[:, None].float() / 2  # class 1 grey, class 2 white
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        loss = torch.nn.functional.cross_entropy(net(image), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    with torch.no_grad():  # still in training mode: batch statistics, as during the 100 steps
        pred = net(image).argmax(1)
    assert segment.pixel_accuracy(target, pred) > 0.95
