"""Tests for cnncourse.canvases: exact boxes and masks, determinism, splits, Dataset and collate."""

import numpy as np
import pytest
import torch

from cnncourse import canvases, data, detect


@pytest.fixture(scope="module")
def train_set():
    return canvases.make_canvases(60, "train", seed=3)


def test_shapes_counts_and_ranges(train_set):
    c = train_set
    assert c.images.shape == (60, 64, 64) and c.images.dtype == np.float32
    assert c.masks.shape == c.instances.shape == (60, 64, 64)
    assert 0.0 <= c.images.min() and c.images.max() <= 1.0
    counts = [len(b) for b in c.boxes]
    assert min(counts) >= 1 and max(counts) <= 5 and len(set(counts)) > 2
    for boxes, labels, sources in zip(c.boxes, c.labels, c.sources, strict=True):
        assert boxes.shape == (len(labels), 4) and boxes.dtype == np.float32
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 64)
        assert np.all(boxes[:, 2:] > boxes[:, :2])
        assert np.all(boxes == np.round(boxes))  # pixel edges
        assert labels.min() >= 0 and labels.max() <= 9 and len(sources) == len(labels)


def test_labels_come_from_the_split_digits(train_set):
    x_train, y_train, x_test, y_test = data.mnist_split()
    for labels, sources in zip(train_set.labels, train_set.sources, strict=True):
        np.testing.assert_array_equal(labels, y_train[sources])
    test = canvases.make_canvases(20, "test", seed=3)
    assert test.split == "test"
    for labels, sources in zip(test.labels, test.sources, strict=True):
        np.testing.assert_array_equal(labels, y_test[sources])
        assert np.all(sources < len(x_test))


def test_boxes_are_tight_around_the_ink_and_masks_agree(train_set):
    c = train_set
    for i in range(len(c)):
        boxes, labels = c.boxes[i], c.labels[i]
        for k, (box, label) in enumerate(zip(boxes, labels, strict=True)):
            ys, xs = np.nonzero(c.instances[i] == k + 1)
            assert len(ys) > 0
            # every pixel of the digit lies in its box, and is labelled with its class
            assert xs.min() >= box[0] and xs.max() < box[2]
            assert ys.min() >= box[1] and ys.max() < box[3]
            assert np.all(c.masks[i][ys, xs] == label + 1)
            others = np.delete(boxes, k, axis=0)
            if len(others) == 0 or detect.box_iou(box[None], others).max() == 0:
                # an isolated digit: the box is exactly the bounding box of its pixels
                np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
                assert np.all(c.images[i][ys, xs] >= 0.3)
        assert np.array_equal(c.masks[i] > 0, c.instances[i] > 0)
        assert np.all(c.images[i][c.masks[i] == 0] < 0.3)  # background: below the ink threshold


def test_overlap_is_limited(train_set):
    for boxes in train_set.boxes:
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                p, q = boxes[a], boxes[b]
                iw = max(0, min(p[2], q[2]) - max(p[0], q[0]))
                ih = max(0, min(p[3], q[3]) - max(p[1], q[1]))
                smaller = min(detect.box_area(p[None])[0], detect.box_area(q[None])[0])
                assert iw * ih / smaller <= 0.15 + 1e-6


def test_deterministic_and_seed_dependent():
    a = canvases.make_canvases(5, "train", seed=11)
    b = canvases.make_canvases(5, "train", seed=11)
    c = canvases.make_canvases(5, "train", seed=12)
    np.testing.assert_array_equal(a.images, b.images)
    assert all(np.array_equal(p, q) for p, q in zip(a.boxes, b.boxes, strict=True))
    assert not np.array_equal(a.images, c.images)


def test_options():
    c = canvases.make_canvases(
        10, "test", canvas_size=(48, 80), num_digits=(2, 2), digit_size=(20, 20), seed=1
    )
    assert c.images.shape == (10, 48, 80)
    assert all(len(b) == 2 for b in c.boxes)  # room for two 20 px digits everywhere


def test_dataset_and_collate(train_set):
    ds = canvases.CanvasDataset(train_set)
    image, target = ds[0]
    assert image.shape == (1, 64, 64) and target.shape == (len(train_set.boxes[0]), 5)
    np.testing.assert_array_equal(target[:, :4], train_set.boxes[0])
    np.testing.assert_array_equal(target[:, 4], train_set.labels[0])
    loader = torch.utils.data.DataLoader(ds, batch_size=8, collate_fn=canvases.collate_detection)
    images, targets = next(iter(loader))
    assert images.shape == (8, 1, 64, 64)
    most = max(len(b) for b in train_set.boxes[:8])
    assert targets.shape == (8, most, 5)
    for i in range(8):
        k = len(train_set.boxes[i])
        np.testing.assert_array_equal(targets[i, :k, :4], train_set.boxes[i])
        assert torch.all(targets[i, k:, 4] == -1) and torch.all(targets[i, k:, :4] == 0)
    seg = canvases.CanvasDataset(train_set, task="segmentation")
    images, masks = next(iter(torch.utils.data.DataLoader(seg, batch_size=4)))
    assert masks.shape == (4, 64, 64) and masks.dtype == torch.int64
    np.testing.assert_array_equal(masks[2], train_set.masks[2])
    gts = train_set.ground_truths()
    assert len(gts) == 60 and np.array_equal(gts[5]["boxes"], train_set.boxes[5])


def test_bad_input():
    with pytest.raises(ValueError, match="split must be one of"):
        canvases.make_canvases(2, "val")
    with pytest.raises(ValueError, match="n must be >= 1"):
        canvases.make_canvases(0)
    with pytest.raises(ValueError, match="num_digits must be"):
        canvases.make_canvases(2, num_digits=(3, 1))
    with pytest.raises(ValueError, match="digit_size max must be <= the canvas side 32"):
        canvases.make_canvases(2, canvas_size=32, digit_size=(18, 40))
    with pytest.raises(ValueError, match=r"max_overlap must be in \(0, 1\]"):
        canvases.make_canvases(2, max_overlap=2)
    with pytest.raises(ValueError, match=r"ink_threshold must be in \(0, 1\)"):
        canvases.make_canvases(2, ink_threshold=1.0)
    with pytest.raises(ValueError, match="task must be one of"):
        canvases.CanvasDataset(canvases.make_canvases(1), task="classification")
    with pytest.raises(TypeError, match="canvases must be a Canvases"):
        canvases.CanvasDataset([1, 2])
    with pytest.raises(ValueError, match="batch must hold at least one"):
        canvases.collate_detection([])
