"""Multi-digit detection canvases: bundled MNIST digits pasted onto a blank image (chapter 8).

Each canvas holds 1-5 real MNIST digits at random sizes and positions, with

- exact boxes: the tight box (xyxy, pixel edges, so ``area = width * height`` pixels) around the
  pixels of the pasted digit that are at least ``ink_threshold`` bright,
- labels: the digit classes 0..9,
- a semantic mask: 0 for background, ``label + 1`` for a digit's ink pixels (the same pixels that
  define its box; where two digits overlap the brighter one wins),
- an instance mask: 0 for background, ``k + 1`` for the k-th digit of the canvas.

Train and test canvases are built from disjoint source digits (:func:`cnncourse.data.mnist_split`),
so a detector scored on test canvases has never seen those handwritten digits. Everything depends
only on the seed.

:class:`CanvasDataset` wraps a set of canvases as a ``torch.utils.data.Dataset`` for detection
(image, boxes and labels) or segmentation (image, mask); :func:`collate_detection` batches
detection items although each canvas has a different number of boxes.

(The design of record puts the canvases in ``data.py``; they live in this module of their own.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import data
from ._validate import check_choice, check_int, check_pair, check_positive_float

SPLITS = ("train", "test")
TASKS = ("detection", "segmentation")


@dataclass(frozen=True)
class Canvases:
    """A set of detection canvases (what :func:`make_canvases` returns).

    Attributes
    ----------
    images : ndarray of float32, shape (N, H, W)
        Pixel values in [0, 1], white digits on black.
    boxes : list of N ndarrays of float32, shape (k_i, 4)
        Tight boxes (x1, y1, x2, y2) in pixels; x2, y2 are exclusive edges.
    labels : list of N ndarrays of int64, shape (k_i,)
        Digit classes 0..9, in the same order as ``boxes``.
    masks : ndarray of int64, shape (N, H, W)
        Semantic masks: 0 background, ``label + 1`` on a digit's ink.
    instances : ndarray of int64, shape (N, H, W)
        Instance masks: 0 background, ``k + 1`` on the ink of the k-th box.
    sources : list of N ndarrays of int64, shape (k_i,)
        Index of each pasted digit in its split of :func:`cnncourse.data.mnist_split`.
    split : str
        ``'train'`` or ``'test'``.
    """

    images: np.ndarray
    boxes: list
    labels: list
    masks: np.ndarray
    instances: np.ndarray
    sources: list
    split: str

    def __len__(self) -> int:
        return len(self.images)

    def ground_truths(self) -> list[dict]:
        """One dict per canvas with ``'boxes'`` and ``'labels'``, as
        :func:`cnncourse.detect.mean_average_precision` takes them."""
        return [{"boxes": b, "labels": lab} for b, lab in zip(self.boxes, self.labels, strict=True)]


def _resize_digit(digit: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 (28, 28) digit to float32 (size, size) in [0, 1] (bilinear, antialiased)."""
    x = torch.from_numpy(np.ascontiguousarray(digit, dtype=np.float32) / 255.0)[None, None]
    y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return y[0, 0].clamp_(0.0, 1.0).numpy()


def _overlap(box: np.ndarray, others: list[np.ndarray]) -> float:
    """Largest intersection / (area of the smaller box) between ``box`` and any of ``others``."""
    worst = 0.0
    for other in others:
        iw = min(box[2], other[2]) - max(box[0], other[0])
        ih = min(box[3], other[3]) - max(box[1], other[1])
        if iw > 0 and ih > 0:
            smaller = min(
                (box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1])
            )
            worst = max(worst, iw * ih / smaller)
    return worst


def make_canvases(
    n: int,
    split: str = "train",
    canvas_size: int | tuple[int, int] = 64,
    num_digits: tuple[int, int] = (1, 5),
    digit_size: tuple[int, int] = (18, 34),
    max_overlap: float = 0.15,
    ink_threshold: float = 0.3,
    seed: int = 0,
) -> Canvases:
    """Build ``n`` deterministic detection canvases from the bundled MNIST digits.

    Parameters
    ----------
    n : int
        Number of canvases (>= 1).
    split : {'train', 'test'}
        Which side of :func:`cnncourse.data.mnist_split` the digits come from (disjoint sources).
    canvas_size : int or (H, W)
        Canvas size in pixels (each side >= the largest digit size).
    num_digits : (min, max)
        Digits per canvas, drawn uniformly from min..max. A digit that cannot be placed within
        ``max_overlap`` after 50 tries is skipped, so a crowded canvas may hold fewer (never 0).
    digit_size : (min, max)
        The 28x28 MNIST square is resized to a side drawn uniformly from min..max pixels; the ink
        (and so the box) is smaller, about 0.7 of that side high.
    max_overlap : float in (0, 1]
        Largest allowed intersection / area of the smaller box between two digits' boxes (this
        also forbids one small digit hidden inside a large one).
    ink_threshold : float in (0, 1)
        A pasted pixel at least this bright belongs to the digit: it defines the box and the masks.
    seed : int
        Seed of the generator; same arguments, same canvases.

    Returns
    -------
    Canvases
        ``images`` (n, H, W) float32, ``boxes``/``labels`` lists, ``masks``/``instances`` (n, H, W).
    """
    n = check_int("n", n, minimum=1)
    check_choice("split", split, SPLITS)
    height, width = check_pair("canvas_size", canvas_size, minimum=1)
    lo_n, hi_n = check_pair("num_digits", num_digits, minimum=1)
    if lo_n > hi_n:
        raise ValueError(f"num_digits must be (min, max) with min <= max, got {num_digits!r}")
    lo_s, hi_s = check_pair("digit_size", digit_size, minimum=4)
    if lo_s > hi_s:
        raise ValueError(f"digit_size must be (min, max) with min <= max, got {digit_size!r}")
    if hi_s > min(height, width):
        raise ValueError(
            f"digit_size max must be <= the canvas side {min(height, width)}, got {digit_size!r}"
        )
    max_overlap = check_positive_float("max_overlap", max_overlap)
    if max_overlap > 1:
        raise ValueError(f"max_overlap must be in (0, 1], got {max_overlap}")
    ink_threshold = check_positive_float("ink_threshold", ink_threshold)
    if ink_threshold >= 1:
        raise ValueError(f"ink_threshold must be in (0, 1), got {ink_threshold}")
    seed = check_int("seed", seed, minimum=0)

    x_train, y_train, x_test, y_test = data.mnist_split()
    digits, digit_labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    rng = np.random.default_rng(seed)

    images = np.zeros((n, height, width), dtype=np.float32)
    masks = np.zeros((n, height, width), dtype=np.int64)
    instances = np.zeros((n, height, width), dtype=np.int64)
    all_boxes, all_labels, all_sources = [], [], []
    for i in range(n):
        brightest = np.zeros((height, width), dtype=np.float32)  # who owns each pixel
        boxes, labels, sources = [], [], []
        for _ in range(rng.integers(lo_n, hi_n + 1)):
            src = rng.integers(len(digits))
            patch = _resize_digit(digits[src], int(rng.integers(lo_s, hi_s + 1)))
            ink = patch >= ink_threshold
            rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
            if rows.size == 0:  # an almost blank source digit: nothing to detect
                continue
            for _try in range(50):
                top = int(rng.integers(0, height - patch.shape[0] + 1))
                left = int(rng.integers(0, width - patch.shape[1] + 1))
                box = np.array(
                    [left + cols[0], top + rows[0], left + cols[-1] + 1, top + rows[-1] + 1],
                    dtype=np.float32,
                )
                if _overlap(box, boxes) <= max_overlap:
                    break
            else:
                continue  # no room: skip this digit
            k = len(boxes)
            region = (slice(top, top + patch.shape[0]), slice(left, left + patch.shape[1]))
            owns = ink & (patch > brightest[region])
            masks[i][region][owns] = digit_labels[src] + 1
            instances[i][region][owns] = k + 1
            brightest[region] = np.maximum(brightest[region], np.where(ink, patch, 0))
            images[i][region] = np.maximum(images[i][region], patch)
            boxes.append(box)
            labels.append(int(digit_labels[src]))
            sources.append(int(src))
        if not boxes:  # guarantee at least one object per canvas
            raise RuntimeError("could not place any digit; use a larger canvas_size")
        all_boxes.append(np.stack(boxes).astype(np.float32))
        all_labels.append(np.array(labels, dtype=np.int64))
        all_sources.append(np.array(sources, dtype=np.int64))
    return Canvases(images, all_boxes, all_labels, masks, instances, all_sources, split)


class CanvasDataset(torch.utils.data.Dataset):
    """Detection canvases as a ``torch.utils.data.Dataset``.

    Parameters
    ----------
    canvases : Canvases
        From :func:`make_canvases`.
    task : {'detection', 'segmentation'}
        What an item's target is.

    Items are ``(image, target)`` with ``image`` a float32 tensor (1, H, W) and ``target``

    - detection: float32 (k, 5), one row ``(x1, y1, x2, y2, label)`` per digit; batch these
      with ``collate_fn=collate_detection`` (canvases hold different numbers of digits);
    - segmentation: the semantic mask, int64 (H, W) (the default collate stacks them).
    """

    def __init__(self, canvases: Canvases, task: str = "detection"):
        if not isinstance(canvases, Canvases):
            raise TypeError(f"canvases must be a Canvases from make_canvases, got {type(canvases)}")
        self.task = check_choice("task", task, TASKS)
        self.canvases = canvases
        self.images = torch.from_numpy(canvases.images).unsqueeze(1)

    def __len__(self) -> int:
        return len(self.canvases)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.canvases
        if self.task == "segmentation":
            return self.images[index], torch.from_numpy(c.masks[index])
        rows = np.concatenate([c.boxes[index], c.labels[index][:, None]], axis=1)
        return self.images[index], torch.from_numpy(rows.astype(np.float32))


def collate_detection(batch: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``(image, boxes_and_labels)`` items whose box counts differ, by padding.

    Parameters
    ----------
    batch : list of (Tensor (C, H, W), Tensor (k_i, 5))
        Items of a detection :class:`CanvasDataset`.

    Returns
    -------
    images : Tensor, shape (N, C, H, W)
    targets : Tensor, shape (N, max k_i, 5)
        Each canvas's rows ``(x1, y1, x2, y2, label)`` followed by padding rows
        ``(0, 0, 0, 0, -1)``: label -1 marks "no object". One tensor (rather than a list) so
        the generic training loop can move it to the device like any target.
    """
    if not batch:
        raise ValueError("batch must hold at least one (image, target) pair, got an empty list")
    images = torch.stack([image for image, _ in batch])
    most = max(len(t) for _, t in batch)
    targets = torch.zeros(len(batch), most, 5)
    targets[..., 4] = -1
    for i, (_, t) in enumerate(batch):
        targets[i, : len(t)] = t
    return images, targets
