"""A first look at semantic segmentation (chapter 8): a tiny U-Net and the segmentation metrics.

Semantic segmentation labels every pixel with a class. The metrics compare the true label map
with a predicted one through the pixel confusion matrix ``C[t, p]`` (pixels of true class ``t``
predicted as ``p``):

- :func:`confusion_matrix` -- :func:`cnncourse.metrics.confusion_matrix` on the flattened maps;
- :func:`pixel_accuracy` ``= trace(C) / sum(C)``;
- :func:`iou_per_class` (Jaccard) ``= TP / (TP + FP + FN)`` and :func:`mean_iou`, its mean over
  classes;
- :func:`dice_per_class` (F1) ``= 2 TP / (2 TP + FP + FN)``; per class, ``Dice = 2 IoU / (1 + IoU)``
  (:func:`dice_from_iou`).

Every metric takes ``(target, pred)``, the ``(y_true, y_pred)`` order of :mod:`cnncourse.metrics`
and scikit-learn (the confusion matrix is the one whose result depends on it).
:class:`TinyUNet` is the model. Proven against scikit-learn (``confusion_matrix``,
``jaccard_score``, ``f1_score``) in ``tests/test_segment.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from . import metrics
from ._validate import check_array, check_int


def _labels(name: str, value: Any, num_classes: int) -> np.ndarray:
    arr = check_array(name, value)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(
            f"{name} must hold labels in 0..{num_classes - 1}, got values in {arr.min()}..{arr.max()}"
        )
    return arr


def _same_shape(t: np.ndarray, p: np.ndarray) -> None:
    if t.shape != p.shape:
        raise ValueError(f"target and pred must have the same shape, got {t.shape} and {p.shape}")


def confusion_matrix(target, pred, num_classes: int) -> np.ndarray:
    """Pixel confusion matrix: :func:`cnncourse.metrics.confusion_matrix` on the flattened maps.

    Parameters
    ----------
    target, pred : int arrays or Tensors of the same shape (any, e.g. (N, H, W))
        True and predicted class of every pixel, in ``0 .. num_classes - 1``.
    num_classes : int

    Returns
    -------
    ndarray of int64, shape (num_classes, num_classes)
        ``C[t, p]`` = number of pixels of true class ``t`` predicted as ``p`` (rows true,
        columns predicted, as in :mod:`cnncourse.metrics`).
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    t = _labels("target", target, num_classes)
    p = _labels("pred", pred, num_classes)
    _same_shape(t, p)
    if t.size == 0:  # no pixels, no counts (metrics.confusion_matrix wants at least one sample)
        return np.zeros((num_classes, num_classes), dtype=np.int64)
    return metrics.confusion_matrix(t.ravel(), p.ravel(), num_classes)


def pixel_accuracy(target, pred) -> float:
    """Fraction of pixels whose predicted class is right (``target``, ``pred``: same shape)."""
    t, p = check_array("target", target), check_array("pred", pred)
    _same_shape(t, p)
    if t.size == 0:
        raise ValueError("target and pred must hold at least one pixel")
    return float(np.mean(t == p))


def iou_per_class(target, pred, num_classes: int) -> np.ndarray:
    """Per-class IoU ``TP / (TP + FP + FN)``; NaN for a class absent from both maps.

    Returns ndarray of float64, shape (num_classes,).
    """
    c = confusion_matrix(target, pred, num_classes).astype(np.float64)
    tp = np.diag(c)
    union = c.sum(axis=0) + c.sum(axis=1) - tp  # predicted + true - both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(target, pred, num_classes: int) -> float:
    """mIoU: the mean of :func:`iou_per_class` over the classes present in either map."""
    return float(np.nanmean(iou_per_class(target, pred, num_classes)))


def dice_per_class(target, pred, num_classes: int) -> np.ndarray:
    """Per-class Dice ``2 TP / (2 TP + FP + FN)`` (the pixel F1); NaN for an absent class.

    Returns ndarray of float64, shape (num_classes,).
    """
    c = confusion_matrix(target, pred, num_classes).astype(np.float64)
    tp = np.diag(c)
    total = c.sum(axis=0) + c.sum(axis=1)  # |predicted| + |true|
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * tp / total, np.nan)


def dice_from_iou(iou):
    """Dice of a region from its IoU: ``2 IoU / (1 + IoU)`` (elementwise, NaN stays NaN).

    With ``I = |A ∩ B|`` and ``U = |A ∪ B| = |A| + |B| - I``: Dice ``= 2I / (|A| + |B|)
    = 2I / (U + I)``; divide by ``U``.
    """
    x = check_array("iou", iou).astype(np.float64)
    if np.any(x[~np.isnan(x)] < 0) or np.any(x[~np.isnan(x)] > 1):
        raise ValueError(f"iou must be in [0, 1], got {iou!r}")
    out = 2 * x / (1 + x)
    return float(out) if out.ndim == 0 else out


def _double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """A small U-Net (Ronneberger et al., 2015): encoder, decoder, skip connections.

    The encoder halves the resolution ``depth`` times (max pooling) while doubling the channels;
    the decoder doubles it back with 2x2 transposed convolutions (stride 2) and concatenates the
    encoder's feature map of the same size (the skip connection) before each double convolution,
    so the fine detail lost by pooling comes back. A 1x1 convolution gives per-pixel logits.

    Parameters
    ----------
    in_channels : int
    num_classes : int
    width : int
        Channels of the first level (then 2x, 4x, ...).
    depth : int
        Number of poolings (>= 1).

    Shapes: (N, in_channels, H, W) -> logits (N, num_classes, H, W); H and W divisible by
    ``2**depth``.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 11, width: int = 8, depth: int = 2):
        super().__init__()
        in_channels = check_int("in_channels", in_channels, minimum=1)
        self.num_classes = check_int("num_classes", num_classes, minimum=2)
        w = check_int("width", width, minimum=1)
        self.depth = check_int("depth", depth, minimum=1)
        channels = [w * 2**i for i in range(self.depth + 1)]  # e.g. 8, 16, 32, 64
        self.encoders = nn.ModuleList(
            [_double_conv(in_channels, channels[0])]
            + [_double_conv(channels[i], channels[i + 1]) for i in range(self.depth)]
        )
        self.pool = nn.MaxPool2d(2)
        self.ups = nn.ModuleList(
            [
                nn.ConvTranspose2d(channels[i + 1], channels[i], 2, stride=2)
                for i in range(self.depth)
            ]
        )
        # each decoder sees the upsampled map and the skip connection: 2x its output channels
        self.decoders = nn.ModuleList(
            [_double_conv(2 * channels[i], channels[i]) for i in range(self.depth)]
        )
        self.head = nn.Conv2d(channels[0], self.num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = 2**self.depth
        if x.ndim != 4 or x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(
                f"x must be (N, C, H, W) with H and W divisible by {m}, got {tuple(x.shape)}"
            )
        skips = []
        for i, encode in enumerate(self.encoders):
            x = encode(x if i == 0 else self.pool(x))
            skips.append(x)
        x = skips.pop()  # the bottom of the U
        for i in reversed(range(self.depth)):
            x = self.decoders[i](torch.cat([self.ups[i](x), skips.pop()], dim=1))
        return self.head(x)
